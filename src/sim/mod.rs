//! The embedded RingCentral platform simulator: the same wire protocol as the real platform
//! (PROTOCOL.md), on loopback, over a deterministic simulated call centre.
//!
//! | module        | what it holds                                                              |
//! |---------------|----------------------------------------------------------------------------|
//! | [`world`]     | the simulated account and its calls (pure, seeded); [`traffic`], [`truth`], |
//! |               | [`records`], [`audio`] and `names` serve it                                |
//! | [`bodies`]    | typed notification bodies, serialised once when the world emits them       |
//! | [`http`]      | shared state, the axum router, the edge middleware (faults, auth, limits)  |
//! | [`oauth`]     | `/restapi/oauth/token`, `/revoke`, `/wstoken`                                |
//! | [`tokens`]    | OAuth sessions and access / refresh / WebSocket tokens (pure)               |
//! | [`rest`]      | the REST endpoints, paging envelope, recording content with `Range`         |
//! | [`ws`]        | the WebSocket sockets: framing, heartbeat, pings, idle/absolute timeouts    |
//! | [`gateway`]   | WS sessions, subscriptions, recovery buffers, fan-out (pure)                |
//! | [`filters`]   | subscription event filters (pure)                                           |
//! | [`ratelimit`] | per-caller sliding-window limits by throttling group (pure)                 |
//! | [`faults`]    | injected faults and their timed rules (pure)                                |
//! | [`control`]   | the `/_sim/*` control API                                                   |
//! | [`pretty`]    | the platform's Jackson-style pretty JSON                                    |
//! | [`feed`]      | a world's frames as one subscriber receives them, in simulated time (pure)  |
//!
//! [`Simulator::start`] runs it on the current tokio runtime; `callboard sim` ([`SimArgs`]) runs
//! it as a program.

pub mod audio;
pub mod bodies;
pub mod control;
pub mod faults;
pub mod feed;
pub mod filters;
pub mod gateway;
pub mod http;
pub(crate) mod names;
pub mod oauth;
pub mod pretty;
pub mod ratelimit;
pub mod records;
pub mod rest;
pub mod tokens;
pub mod traffic;
pub mod truth;
pub mod world;
pub mod ws;

pub use gateway::GatewaySettings;
pub use oauth::Credentials;
pub use ratelimit::RateLimits;
pub use tokens::TokenLifetimes;
pub use world::WorldConfig;

use anyhow::Context as _;
use http::{SimState, lock};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Everything the simulator can be told. `Default` is the interactive demo.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Where to listen; port 0 picks a free one. Loopback unless told otherwise.
    pub listen: SocketAddr,
    pub credentials: Credentials,
    pub tokens: TokenLifetimes,
    /// WebSocket tokens open one socket each (the documented rule, and the default); `true`
    /// lets one be reused until it expires, as the official JS SDK assumes when it reconnects.
    pub ws_tokens_reusable: bool,
    pub rate_limits: RateLimits,
    /// recoveryTimeout, recoveryBufferSize, idle/absolute timeouts, subscription expiresIn.
    pub gateway: GatewaySettings,
    /// How often the server pings each socket; `None` sends no pings.
    pub ping_interval: Option<Duration>,
    /// How often the world is advanced and its events fanned out.
    pub tick_interval: Duration,
    pub world: WorldConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            credentials: Credentials::default(),
            tokens: TokenLifetimes::default(),
            ws_tokens_reusable: false,
            rate_limits: RateLimits::default(),
            gateway: GatewaySettings::default(),
            ping_interval: Some(Duration::from_secs(30)),
            tick_interval: Duration::from_millis(50),
            world: WorldConfig::default(),
        }
    }
}

impl SimConfig {
    /// The in-process DEMO: the lively default world, with rate limits ten times the platform
    /// defaults so a first start never waits on its own bootstrap.
    pub fn demo() -> Self {
        SimConfig {
            rate_limits: RateLimits::scaled(10.0),
            ..SimConfig::default()
        }
    }

    /// A config for integration tests: short calls, no history, no rate limits, a fixed seed.
    pub fn for_tests(seed: u64) -> Self {
        SimConfig {
            rate_limits: RateLimits::off(),
            world: WorldConfig::short_calls(seed),
            ..SimConfig::default()
        }
    }
}

/// The running simulator. Dropping it stops the server too; [`SimHandle::shutdown`] also
/// waits for it to finish.
pub struct SimHandle {
    addr: SocketAddr,
    base_url: String,
    credentials: Credentials,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    state: Arc<SimState>,
}

impl SimHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`: the `RC_SERVER_URL` a client uses.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The credentials the simulator accepts.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The platform client's sign-in for this simulator, reached at `server_url` (its
    /// [`base_url`](Self::base_url), or a proxy in front of it).
    pub fn client_credentials(
        &self,
        server_url: &str,
    ) -> Result<crate::rc::Credentials, crate::rc::RcError> {
        crate::rc::Credentials::new(
            server_url,
            self.credentials.client_id.clone(),
            crate::rc::Secret::new(self.credentials.client_secret.clone()),
            crate::rc::Secret::new(self.credentials.jwt.clone()),
        )
    }

    /// Stops accepting, closes every socket (close code 1001) and waits for the tasks.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        lock(&self.state.router).take();
    }
}

/// Starts simulators.
pub struct Simulator;

impl Simulator {
    /// Builds the world, binds `cfg.listen`, and serves HTTP + WebSocket on it from the current
    /// tokio runtime, with a ticker that advances the world about every `tick_interval`.
    pub async fn start(cfg: SimConfig) -> anyhow::Result<SimHandle> {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .with_context(|| {
                format!(
                    "binding the simulator to {} (is the port taken?)",
                    cfg.listen
                )
            })?;
        let addr = listener
            .local_addr()
            .context("reading the simulator's bound address")?;
        let base_url = format!("http://{}", advertised(addr));
        let mut world = world::World::new(&cfg.world, chrono::Utc::now());
        world.set_base_url(&base_url);

        let (stop, stopped) = watch::channel(false);
        let credentials = cfg.credentials.clone();
        let tick_interval = cfg.tick_interval;
        let state = Arc::new(SimState::new(cfg, base_url.clone(), world, stopped.clone()));

        let router = http::router(Arc::clone(&state));
        // REST over the socket is served by this same router.
        *lock(&state.router) = Some(router.clone());
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        let mut server_stop = stopped.clone();
        let server = tokio::spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = server_stop.wait_for(|stop| *stop).await;
            });
            if let Err(error) = serving.await {
                tracing::error!(%error, "the simulator's server stopped");
            }
        });
        let ticker = tokio::spawn(tick(Arc::clone(&state), tick_interval, stopped));
        Ok(SimHandle {
            addr,
            base_url,
            credentials,
            stop,
            tasks: vec![server, ticker],
            state,
        })
    }
}

/// The address clients are told to use: a wildcard bind (`0.0.0.0`, `::`) is reached on
/// loopback from this machine, and a `uri` pointing at the wildcard would not work everywhere.
fn advertised(bound: SocketAddr) -> SocketAddr {
    let ip = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bound.port())
}

/// Moves the world to wall-clock now every `every`, fans its events out, and retires
/// WS sessions whose recovery window has passed.
async fn tick(state: Arc<SimState>, every: Duration, mut stopped: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        // A bug in the world must not silence the simulator for good: log it and keep ticking.
        let advanced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            lock(&state.world).advance(chrono::Utc::now())
        }));
        match advanced {
            Ok(events) => {
                ws::fan_out(&state, &events);
            }
            Err(_) => {
                tracing::error!("the simulated world panicked while advancing; skipping this tick")
            }
        }
        lock(&state.gateway).expire_sessions(Instant::now());
    }
}

/// `callboard sim`: run the simulator until Ctrl-C.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Address to listen on; port 0 picks a free port. Use a non-loopback address only on a
    /// network you trust: the control API is loopback-only, the rest is open to anyone.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Seed of the simulated world; the same seed gives the same account and traffic.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Inbound calls per minute (Poisson arrivals).
    #[arg(long)]
    pub calls_per_minute: Option<f64>,
    /// Number of call queues.
    #[arg(long)]
    pub queues: Option<usize>,
    /// Agents per call queue (1–300).
    #[arg(long)]
    pub agents: Option<usize>,
    /// Mean talk time of an answered call, in seconds; longer calls keep more calls live at
    /// the same event rate.
    #[arg(long)]
    pub mean_talk_seconds: Option<f64>,
    /// Call tracking numbers in the campaign pool.
    #[arg(long)]
    pub numbers: Option<usize>,
    /// Minutes of traffic played before the start (capped at local midnight); a shorter
    /// history starts a busy world sooner and keeps today's call log small.
    #[arg(long)]
    pub history_minutes: Option<u32>,
    /// OAuth client id the simulator accepts.
    #[arg(long, env = "RC_CLIENT_ID")]
    pub client_id: Option<String>,
    /// OAuth client secret the simulator accepts.
    #[arg(long, env = "RC_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// JWT assertion the simulator accepts.
    #[arg(long, env = "RC_JWT", hide_env_values = true)]
    pub jwt: Option<String>,
    /// Let a WebSocket token open several sockets until it expires (the documented rule is one
    /// socket per token). The official JS SDK reuses its token when it reconnects.
    #[arg(long)]
    pub reusable_ws_tokens: bool,
    /// Rate limits: a factor applied to the platform defaults (e.g. 10), or `off` (nothing is
    /// refused; the headers announce 1000× the defaults, counted down as requests come).
    #[arg(long, default_value = "1", value_parser = parse_rate_limits)]
    pub rate_limits: RateLimits,
}

fn parse_rate_limits(text: &str) -> Result<RateLimits, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(RateLimits::off());
    }
    match text.parse::<f64>() {
        Ok(factor) if factor > 0.0 && factor.is_finite() => Ok(RateLimits::scaled(factor)),
        _ => Err(format!(
            "expected `off` or a positive factor such as 10, not `{text}`"
        )),
    }
}

impl SimArgs {
    /// The simulator config these arguments describe.
    pub fn config(&self) -> SimConfig {
        let defaults = SimConfig::default();
        let mut world = WorldConfig {
            seed: self.seed,
            ..defaults.world.clone()
        };
        if let Some(rate) = self.calls_per_minute {
            world.calls_per_minute = rate;
        }
        if let Some(queues) = self.queues {
            world.queues = queues;
        }
        if let Some(agents) = self.agents {
            world.agents_per_queue = agents;
        }
        if let Some(seconds) = self.mean_talk_seconds {
            world.mean_talk_seconds = seconds;
        }
        if let Some(numbers) = self.numbers {
            world.ctn_numbers = numbers;
        }
        if let Some(minutes) = self.history_minutes {
            world.history_minutes = minutes;
        }
        let base = Credentials::default();
        SimConfig {
            listen: self.listen,
            credentials: Credentials {
                client_id: self.client_id.clone().unwrap_or(base.client_id),
                client_secret: self.client_secret.clone().unwrap_or(base.client_secret),
                jwt: self.jwt.clone().unwrap_or(base.jwt),
            },
            rate_limits: self.rate_limits.clone(),
            ws_tokens_reusable: self.reusable_ws_tokens,
            world,
            ..defaults
        }
    }

    /// Runs the simulator until Ctrl-C (or SIGTERM), printing where it listens and the
    /// credentials it accepts.
    pub fn run(self) -> ExitCode {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("callboard sim: cannot start the async runtime: {error}");
                return ExitCode::FAILURE;
            }
        };
        match runtime.block_on(self.serve()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("callboard sim: {error:#}");
                ExitCode::FAILURE
            }
        }
    }

    async fn serve(self) -> anyhow::Result<()> {
        let handle = Simulator::start(self.config()).await?;
        print!("{}", banner(handle.base_url(), handle.credentials()));
        wait_for_stop_signal().await?;
        handle.shutdown().await;
        Ok(())
    }
}

/// What `callboard sim` prints on start. Line 1 is the contract scripts read; the rest are
/// environment lines a user can paste into a shell.
pub fn banner(base_url: &str, credentials: &Credentials) -> String {
    format!(
        "listening on {base_url}\nRC_SERVER_URL={base_url}\nRC_CLIENT_ID={}\nRC_CLIENT_SECRET={}\nRC_JWT={}\n",
        credentials.client_id, credentials.client_secret, credentials.jwt
    )
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("listening for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("listening for Ctrl-C")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    fn parse(args: &[&str]) -> Result<SimArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("sim").chain(args.iter().copied())).map(|cli| cli.sim)
    }

    #[test]
    fn arguments_shape_the_config() {
        let args = parse(&[
            "--listen",
            "127.0.0.1:9000",
            "--seed",
            "42",
            "--calls-per-minute",
            "12.5",
            "--queues",
            "4",
            "--agents",
            "6",
            "--numbers",
            "30",
            "--history-minutes",
            "10",
            "--mean-talk-seconds",
            "420",
            "--client-id",
            "id",
            "--client-secret",
            "secret",
            "--jwt",
            "j.w.t",
            "--rate-limits",
            "off",
            "--reusable-ws-tokens",
        ])
        .unwrap();
        let cfg = args.config();
        assert_eq!(cfg.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(
            (
                cfg.world.seed,
                cfg.world.queues,
                cfg.world.agents_per_queue,
                cfg.world.ctn_numbers
            ),
            (42, 4, 6, 30)
        );
        assert_eq!(cfg.world.calls_per_minute, 12.5);
        assert_eq!(cfg.world.history_minutes, 10);
        assert_eq!(cfg.world.mean_talk_seconds, 420.0);
        assert_eq!(
            cfg.credentials,
            Credentials {
                client_id: "id".into(),
                client_secret: "secret".into(),
                jwt: "j.w.t".into()
            }
        );
        assert!(!cfg.rate_limits.enabled);
        assert!(cfg.ws_tokens_reusable);
    }

    #[test]
    fn defaults_are_loopback_and_the_platform_limits() {
        let cfg = parse(&[]).unwrap().config();
        assert!(cfg.listen.ip().is_loopback());
        assert_eq!(cfg.rate_limits, RateLimits::default());
        assert!(!cfg.ws_tokens_reusable);
        assert_eq!(
            parse(&["--rate-limits", "10"])
                .unwrap()
                .config()
                .rate_limits
                .heavy,
            100
        );
        assert!(parse(&["--rate-limits", "lots"]).is_err());
        assert!(parse(&["--rate-limits", "-1"]).is_err());
    }

    #[test]
    fn banner_starts_with_the_listening_line() {
        let text = banner("http://127.0.0.1:5000", &Credentials::default());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "listening on http://127.0.0.1:5000");
        assert_eq!(lines[1], "RC_SERVER_URL=http://127.0.0.1:5000");
        assert!(
            lines[2..]
                .iter()
                .all(|line| line.starts_with("RC_") && line.contains('='))
        );
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn wildcard_binds_are_advertised_on_loopback() {
        assert_eq!(
            advertised("0.0.0.0:80".parse().unwrap()),
            "127.0.0.1:80".parse().unwrap()
        );
        assert_eq!(
            advertised("[::]:80".parse().unwrap()),
            "[::1]:80".parse().unwrap()
        );
        assert_eq!(
            advertised("10.1.2.3:80".parse().unwrap()),
            "10.1.2.3:80".parse().unwrap()
        );
    }
}
