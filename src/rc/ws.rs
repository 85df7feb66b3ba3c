//! The live event session over the WebSocket gateway (PROTOCOL.md §2, §9.2–9.5), as one tokio
//! task.
//!
//! For every connect it fetches a fresh wstoken, opens the socket, waits for ConnectionDetails
//! and holds one subscription with every filter callboard needs. It keeps the newest `wsc`, and
//! after a drop reconnects with it while inside `recoveryTimeout`: on `Successful` the replayed
//! events simply flow on (the board drops duplicates by sequence). When recovery fails, or the
//! window has passed, it subscribes again and resyncs from REST. Reconnects back off
//! exponentially with jitter; WSG-902/903 are planned reconnects, not failures.
//!
//! While a sync (bootstrap or resync) is in flight, notifications are held back and released
//! right after its snapshot: the board then sees the snapshot first and every later change after
//! it, so a call that ended during the resync is not revived and a call that began during it is
//! not ended as missing.
//!
//! A sync interrupted by a drop is redone on the next connection. If that connection recovered
//! the session, the held events stay held (the stream is continuous); if it did not, they are
//! released first, so they can never land on top of the newer snapshot.
//!
//! Notification frames go to the app as raw text ([`RawFrame`]); the app parses them once with
//! `rc::events`. The session only peeks at each frame's meta.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::rc::auth::Secret;
use crate::rc::error::RcError;
use crate::rc::events::{self, FrameBody, MessageType, Meta};
use crate::rc::frames;
use crate::rc::rest::RestClient;
use crate::rc::sync::Snapshot;
use crate::rc::transport::backoff_delay;

/// Every telephony session of the account: one filter for all calls, however many agents.
pub const ACCOUNT_TELEPHONY_FILTER: &str = "/restapi/v1.0/account/~/telephony/sessions";

/// Detailed presence of every extension of the account. One account-level filter scales to any
/// number of agents and needs no resubscribe when queue membership changes; per-extension
/// filters would need one filter per agent and a new subscription on every roster change.
pub const ACCOUNT_PRESENCE_FILTER: &str =
    "/restapi/v1.0/account/~/presence?detailedTelephonyState=true";

const SUBSCRIPTION_PATH: &str = "/restapi/v1.0/subscription";

/// A notification frame exactly as received (`[meta, body]`), shared without copying.
#[derive(Clone, PartialEq, Eq)]
pub struct RawFrame(Utf8Bytes);

impl RawFrame {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }
}

impl From<String> for RawFrame {
    fn from(text: String) -> Self {
        Self(Utf8Bytes::from(text))
    }
}

impl std::fmt::Debug for RawFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawFrame({} bytes)", self.0.len())
    }
}

/// The connection state the UI shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    /// Opening a new connection (no session to recover).
    Connecting,
    /// Subscribed, synced, events flowing.
    Live,
    /// Reconnecting with the previous session's `wsc`.
    Recovering,
    /// Subscribed again after a failed recovery; reading the live calls from REST.
    Resyncing,
    /// Not connected; retrying. `since` is when the connection was lost.
    Offline {
        since: DateTime<Utc>,
        reason: String,
    },
}

/// What a sync is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// The first sync after start: numbers, queues and the live calls; the hook may leave
    /// today's call log for a [`SyncKind::TodaysCalls`] follow-up (`Snapshot::call_log_since`).
    Bootstrap,
    /// After a lost session: the live calls only.
    Resync,
    /// Not a read the session asks the hook for: the call-log records of calls a resync
    /// closed without seeing their end, delivered later by [`crate::rc::unseen_ends`].
    EndedWhileAway,
    /// Not a read the session asks the hook for: today's call log, read by
    /// [`crate::rc::sync::todays_calls`] after a bootstrap that asked for it (`call_log_since`),
    /// once the live calls are on the board.
    TodaysCalls,
}

/// What the session sends into the app loop.
#[derive(Debug)]
pub enum SessionEvent {
    State(ConnState),
    /// A ServerNotification frame, to parse with `rc::events` and apply to the board.
    Notification(RawFrame),
    /// A REST snapshot to apply before any later notification (see the module docs).
    Synced(Box<Snapshot>),
    /// Before a sync: the app answers with the telephony session ids of the calls the board
    /// holds as live, so the sync can check each of them (`Board::live_calls`).
    LiveCallsWanted(oneshot::Sender<Vec<String>>),
    /// Something the supervisor should know that does not stop the session.
    Warning(String),
}

/// Reads the platform state for a sync; the session calls it after every fresh subscription
/// with the ids of the calls the board holds as live.
/// [`crate::rc::sync::platform_sync`] is the real one; tests pass their own.
pub type SyncHook = Arc<
    dyn Fn(SyncKind, Vec<String>) -> Pin<Box<dyn Future<Output = Result<Snapshot, RcError>> + Send>>
        + Send
        + Sync,
>;

/// Timings and filters of the session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub event_filters: Vec<String>,
    /// A Heartbeat goes out after this much inbound silence.
    pub heartbeat_after: Duration,
    /// No frame this long after a Heartbeat means the socket is dead.
    pub heartbeat_timeout: Duration,
    /// Longest wait for the socket to open and ConnectionDetails to arrive.
    pub handshake_timeout: Duration,
    /// Longest wait for the reply to a subscription request.
    pub request_timeout: Duration,
    /// Reconnect backoff: first delay and cap (jittered, doubling).
    pub reconnect_base: Duration,
    pub reconnect_max: Duration,
    /// Notifications held during a sync; past this they are released unsynced rather than
    /// growing without bound.
    pub sync_buffer_limit: usize,
    /// When to look up in the call log the calls a resync closed.
    pub unseen_ends: crate::rc::unseen_ends::LookupSchedule,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            event_filters: vec![
                ACCOUNT_TELEPHONY_FILTER.to_owned(),
                ACCOUNT_PRESENCE_FILTER.to_owned(),
            ],
            heartbeat_after: Duration::from_secs(60),
            heartbeat_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            reconnect_base: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(30),
            sync_buffer_limit: 50_000,
            unseen_ends: crate::rc::unseen_ends::LookupSchedule::default(),
        }
    }
}

/// Counters of the session, readable at any time (status line, `watch` summary, tests).
#[derive(Debug, Default)]
pub struct SessionStats {
    pub frames: AtomicU64,
    pub notifications: AtomicU64,
    pub unparseable: AtomicU64,
    pub connects: AtomicU64,
    pub recoveries: AtomicU64,
    pub failed_recoveries: AtomicU64,
    pub syncs: AtomicU64,
}

impl SessionStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The running session. Dropping it leaves the task running; call [`Self::shutdown`].
pub struct SessionHandle {
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    stats: Arc<SessionStats>,
}

impl SessionHandle {
    pub fn stats(&self) -> &Arc<SessionStats> {
        &self.stats
    }

    /// Deletes the subscription, closes the socket and waits for the task (at most a few
    /// seconds). Revoking the sign-in is the caller's (`Auth::revoke`).
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let mut task = self.task;
        if timeout(Duration::from_secs(5), &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// Starts the session task. Events go to `events`; the task ends when the handle shuts it down
/// or `events` is closed.
pub fn spawn(
    rest: Arc<RestClient>,
    config: SessionConfig,
    sync: SyncHook,
    events: mpsc::Sender<SessionEvent>,
) -> SessionHandle {
    let (shutdown, shutdown_rx) = watch::channel(false);
    let stats = Arc::new(SessionStats::default());
    let session = Session {
        rest,
        config,
        sync,
        events,
        stats: stats.clone(),
        shutdown: shutdown_rx,
        wsc: None,
        subscription: None,
        last_alive: None,
        recovery_timeout: Duration::from_secs(180),
        bootstrapped: false,
        sync_pending: None,
        held: Vec::new(),
        failures: 0,
        offline_since: None,
        resync_candidates: Vec::new(),
    };
    let task = tokio::spawn(session.run());
    SessionHandle {
        shutdown,
        task,
        stats,
    }
}

/// When to renew a subscription that lives `expires_in`, on a socket with `socket_life_left`:
/// at 80 % of `expires_in`, and only when the subscription would die before the socket does
/// (PROTOCOL.md §9.3).
pub fn renew_after(expires_in: Duration, socket_life_left: Option<Duration>) -> Option<Duration> {
    match socket_life_left {
        Some(left) if expires_in >= left => None,
        _ => Some(expires_in.mul_f64(0.8)),
    }
}

/// Whether a dropped session may still be recovered with its `wsc`: only inside the gateway's
/// `recoveryTimeout` since the socket was last heard, less a margin for the reconnect itself.
pub fn can_recover(last_alive: Option<Instant>, recovery_timeout: Duration, now: Instant) -> bool {
    const MARGIN: Duration = Duration::from_secs(5);
    last_alive.is_some_and(|at| now.saturating_duration_since(at) + MARGIN < recovery_timeout)
}

/// A tungstenite error in words, without the URL (it carries the token).
/// The `meta` of a `[meta, body?]` frame, read without scanning the body. Every notification
/// passes here on the socket task, and skipping its kilobyte-plus body (as
/// [`events::peek_meta`] does, to check the whole frame) cost half as much as the board's
/// full parse of it later. A frame whose meta reads but whose body does not is counted as
/// unreadable where the board parses it.
fn read_meta(text: &str) -> Option<Meta<'_>> {
    let elements = text
        .trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}')
        .strip_prefix('[')?;
    // A stream reads one value and stops, with no check of what follows it.
    serde_json::Deserializer::from_str(elements)
        .into_iter::<Meta<'_>>()
        .next()?
        .ok()
}

fn describe_ws_error(error: &tungstenite::Error) -> String {
    use tungstenite::Error as E;
    match error {
        E::ConnectionClosed | E::AlreadyClosed => "the connection was closed".to_owned(),
        E::Io(e) => format!("network error ({})", e.kind()),
        E::Tls(_) => "the secure connection failed (TLS)".to_owned(),
        E::Http(response) => format!(
            "the gateway refused the connection (HTTP {})",
            response.status().as_u16()
        ),
        E::Url(_) => "the gateway address is not usable".to_owned(),
        E::Capacity(_) => "a frame was too large".to_owned(),
        _ => "the WebSocket protocol failed".to_owned(),
    }
}

fn message_id() -> String {
    let n: u128 = rand::random();
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The gateway's session-context token (`meta.wsc`), kept to recover a dropped session.
struct WscToken {
    token: Secret,
    sequence: u64,
}

/// What the session keeps of ConnectionDetails (times in seconds).
#[derive(Debug, Default, PartialEq, Eq)]
struct Details {
    recovery_timeout: Option<u64>,
    absolute_timeout: Option<u64>,
    /// True when the gateway restored the previous session (and replays what was missed).
    recovered: bool,
    recovery_error_code: Option<String>,
}

impl Details {
    /// Reads a ConnectionDetails frame; a frame without a readable body gives the defaults
    /// (PROTOCOL.md §2.3: the PHP SDK meets meta-only ones).
    fn read(text: &str) -> Self {
        match events::parse_frame(text).map(|f| f.body) {
            Ok(FrameBody::ConnectionDetails(details)) => Self {
                recovery_timeout: details.recovery_timeout,
                absolute_timeout: details.absolute_timeout,
                recovered: details.recovery_state.as_deref() == Some("Successful"),
                recovery_error_code: details.recovery_error_code.map(|c| c.as_str().to_owned()),
            },
            _ => Self::default(),
        }
    }
}

/// An error the gateway reported (an Error frame or a refused ClientRequest), sanitised.
#[derive(Debug, Default, PartialEq, Eq)]
struct Problem {
    code: Option<String>,
    message: Option<String>,
}

impl Problem {
    fn read(text: &str) -> Self {
        let clean = |t: &events::Text<'_>| crate::text::sanitize(t.as_str()).into_owned();
        match events::parse_frame(text).map(|f| f.body) {
            Ok(FrameBody::Error(error)) => Self {
                code: error.error_code.as_ref().map(clean),
                message: error.message.as_ref().map(clean),
            },
            Ok(FrameBody::ClientReply(reply)) => {
                let first = reply.errors.as_ref().and_then(|e| e.first());
                Self {
                    code: first
                        .and_then(|e| e.error_code.as_ref())
                        .or(reply.error_code.as_ref())
                        .map(clean),
                    message: first
                        .and_then(|e| e.message.as_ref())
                        .or(reply.message.as_ref())
                        .map(clean),
                }
            }
            _ => Self::default(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message.as_deref().unwrap_or("no reason given"))?;
        match &self.code {
            Some(code) => write!(f, " [{code}]"),
            None => Ok(()),
        }
    }
}

/// The part of a subscription create/renew reply the session uses.
struct SubscriptionReply {
    id: String,
    expires_in: Option<u64>,
}

impl SubscriptionReply {
    fn read(text: &str) -> Option<Self> {
        match events::parse_frame(text).ok()?.body {
            FrameBody::ClientReply(reply) => Some(Self {
                id: reply.id.filter(|id| !id.is_empty())?.as_str().to_owned(),
                expires_in: reply.expires_in,
            }),
            _ => None,
        }
    }
}

/// Why one connection ended.
enum Ended {
    Shutdown,
    /// The app stopped listening.
    EventsClosed,
    /// A reconnect the gateway asked for (WSG-902/903): no backoff.
    Planned(String),
    /// A failure: back off, then reconnect.
    Dropped(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Subscribe,
    Renew,
}

struct PendingRequest {
    message_id: String,
    purpose: Purpose,
    deadline: Instant,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type SyncFuture = Pin<Box<dyn Future<Output = Result<Snapshot, RcError>> + Send>>;

/// The state of one open socket.
struct Connection {
    socket: Socket,
    opened_at: Instant,
    absolute_life: Option<Duration>,
    last_inbound: Instant,
    heartbeat_sent: Option<Instant>,
    pending: Option<PendingRequest>,
    renew_at: Option<Instant>,
    sync: Option<(SyncKind, SyncFuture)>,
    sync_retry: Option<(SyncKind, Instant)>,
    sync_failures: u32,
}

impl Connection {
    fn life_left(&self, now: Instant) -> Option<Duration> {
        self.absolute_life
            .map(|life| life.saturating_sub(now.saturating_duration_since(self.opened_at)))
    }
}

struct Session {
    rest: Arc<RestClient>,
    config: SessionConfig,
    sync: SyncHook,
    events: mpsc::Sender<SessionEvent>,
    stats: Arc<SessionStats>,
    shutdown: watch::Receiver<bool>,
    wsc: Option<WscToken>,
    /// The id of the subscription this session holds.
    subscription: Option<String>,
    /// When a subscribed socket last received a frame: the start of the recovery window.
    last_alive: Option<Instant>,
    recovery_timeout: Duration,
    bootstrapped: bool,
    /// The sync not yet delivered; while set, notifications are held in `held`.
    sync_pending: Option<SyncKind>,
    held: Vec<RawFrame>,
    failures: u32,
    offline_since: Option<DateTime<Utc>>,
    /// The calls the board held as live when the running resync started: those the platform
    /// no longer has are closed by it, to be looked up in the call log.
    resync_candidates: Vec<String>,
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn poll_sync(
    sync: &mut Option<(SyncKind, SyncFuture)>,
) -> (SyncKind, Result<Snapshot, RcError>) {
    match sync {
        Some((kind, future)) => (*kind, future.as_mut().await),
        None => std::future::pending().await,
    }
}

impl Session {
    async fn run(mut self) {
        loop {
            if *self.shutdown.borrow() {
                return;
            }
            let recovering = self.wsc.is_some()
                && self.subscription.is_some()
                && can_recover(self.last_alive, self.recovery_timeout, Instant::now());
            let state = if recovering {
                ConnState::Recovering
            } else {
                ConnState::Connecting
            };
            if !self.emit(SessionEvent::State(state)).await {
                return;
            }
            let ended = self.connection(recovering).await;
            match ended {
                Ended::Shutdown | Ended::EventsClosed => return,
                Ended::Planned(reason) => {
                    tracing::info!(target: "callboard::rc", "reconnecting as the gateway asked: {reason}");
                    // A short pause keeps a gateway that repeats the request from spinning us.
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.reconnect_base) => {}
                        _ = self.shutdown.changed() => return,
                    }
                }
                Ended::Dropped(reason) => {
                    tracing::warn!(target: "callboard::rc", "live connection lost: {reason}");
                    self.failures += 1;
                    let since = *self.offline_since.get_or_insert_with(Utc::now);
                    if !self
                        .emit(SessionEvent::State(ConnState::Offline { since, reason }))
                        .await
                    {
                        return;
                    }
                    let delay = backoff_delay(
                        self.failures,
                        self.config.reconnect_base,
                        self.config.reconnect_max,
                        rand::random::<f64>(),
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.shutdown.changed() => return,
                    }
                }
            }
        }
    }

    /// Sends an event to the app; false when the app has gone.
    async fn emit(&self, event: SessionEvent) -> bool {
        self.events.send(event).await.is_ok()
    }

    /// Keeps the newest `wsc`: the one of a ConnectionDetails (it describes this connection),
    /// else any with a higher sequence.
    fn take_wsc(&mut self, meta: &Meta<'_>) {
        let Some(new) = &meta.wsc else { return };
        let Some(token) = new.token.as_ref().filter(|t| !t.is_empty()) else {
            return;
        };
        let sequence = new.sequence.unwrap_or(0);
        let newer = match &self.wsc {
            None => true,
            Some(old) => meta.kind == MessageType::ConnectionDetails || sequence > old.sequence,
        };
        if !newer {
            return;
        }
        match &mut self.wsc {
            // Every notification repeats the session's token with the next sequence: keep the
            // token, move the sequence, allocate nothing.
            Some(old) if old.token.expose() == token.as_str() => old.sequence = sequence,
            _ => {
                self.wsc = Some(WscToken {
                    token: Secret::new(token.as_str()),
                    sequence,
                });
            }
        }
    }

    async fn open(&mut self, recovering: bool) -> Result<Socket, String> {
        let token = self.rest.ws_token().await.map_err(|e| e.to_string())?;
        let wsc = recovering
            .then(|| self.wsc.as_ref().map(|w| &w.token))
            .flatten();
        let url = token.connect_url(wsc);
        crate::rc::rest::install_crypto_provider();
        match timeout(
            self.config.handshake_timeout,
            tokio_tungstenite::connect_async(url.expose()),
        )
        .await
        {
            Err(_) => Err("the live event gateway did not answer in time".to_owned()),
            Ok(Err(e)) => Err(format!(
                "could not open the live event connection: {}",
                describe_ws_error(&e)
            )),
            Ok(Ok((socket, _response))) => Ok(socket),
        }
    }

    async fn open_and_handshake(&mut self, recovering: bool) -> Result<(Socket, Details), String> {
        let mut socket = self.open(recovering).await?;
        SessionStats::bump(&self.stats.connects);
        let details = self.handshake(&mut socket).await?;
        Ok((socket, details))
    }

    /// Waits for ConnectionDetails (or an Error) on a fresh socket.
    async fn handshake(&mut self, socket: &mut Socket) -> Result<Details, String> {
        let deadline = Instant::now() + self.config.handshake_timeout;
        loop {
            let message = match timeout_at(deadline, socket.next()).await {
                Err(_) => return Err("the gateway sent no ConnectionDetails in time".to_owned()),
                Ok(None) => return Err("the gateway closed the connection at once".to_owned()),
                Ok(Some(Err(e))) => return Err(describe_ws_error(&e)),
                Ok(Some(Ok(message))) => message,
            };
            let text = match message {
                Message::Text(text) => text,
                Message::Close(frame) => {
                    let reason = frame.map_or_else(String::new, |f| {
                        format!(
                            " (code {}: {})",
                            u16::from(f.code),
                            crate::text::sanitize(&f.reason)
                        )
                    });
                    return Err(format!("the gateway closed the connection{reason}"));
                }
                _ => continue,
            };
            SessionStats::bump(&self.stats.frames);
            let Ok(meta) = events::peek_meta(&text) else {
                self.count_unparseable(&text, "before ConnectionDetails");
                continue;
            };
            self.take_wsc(&meta);
            match meta.kind {
                MessageType::ConnectionDetails => return Ok(Details::read(&text)),
                MessageType::Error => {
                    let problem = Problem::read(&text);
                    if problem.code.as_deref() == Some("WSG-400") {
                        // The gateway does not know our wsc: never offer it again.
                        self.wsc = None;
                    }
                    return Err(format!(
                        "RingCentral refused the live event connection: {problem}"
                    ));
                }
                _ => {}
            }
        }
    }

    fn count_unparseable(&self, text: &str, when: &str) {
        SessionStats::bump(&self.stats.unparseable);
        tracing::warn!(
            target: "callboard::rc",
            "ignored a frame callboard cannot read ({when}): {}",
            crate::text::sanitize_max(text, 160)
        );
    }

    async fn send_text(conn: &mut Connection, text: String) -> Result<(), String> {
        conn.socket
            .send(Message::text(text))
            .await
            .map_err(|e| format!("could not send to the gateway: {}", describe_ws_error(&e)))
    }

    async fn request_subscription(
        &mut self,
        conn: &mut Connection,
        purpose: Purpose,
    ) -> Result<(), String> {
        let id = message_id();
        let body = frames::subscription_body(&self.config.event_filters);
        let frame = match (purpose, &self.subscription) {
            (Purpose::Renew, Some(subscription_id)) => frames::client_request(
                &id,
                "PUT",
                &format!("{SUBSCRIPTION_PATH}/{subscription_id}"),
                Some(&body),
            ),
            _ => frames::client_request(&id, "POST", SUBSCRIPTION_PATH, Some(&body)),
        };
        Self::send_text(conn, frame).await?;
        conn.pending = Some(PendingRequest {
            message_id: id,
            purpose,
            deadline: Instant::now() + self.config.request_timeout,
        });
        Ok(())
    }

    /// Asks the app which calls the board holds as live, then starts the sync. False when the
    /// app has gone.
    async fn start_sync(&mut self, conn: &mut Connection, kind: SyncKind) -> bool {
        SessionStats::bump(&self.stats.syncs);
        self.sync_pending = Some(kind);
        conn.sync_retry = None;
        let (reply, answer) = oneshot::channel();
        if !self.emit(SessionEvent::LiveCallsWanted(reply)).await {
            return false;
        }
        // An app that does not answer only costs the check of the board's own live calls.
        let board_live = timeout(Duration::from_secs(5), answer)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        if kind == SyncKind::Resync {
            self.resync_candidates.clone_from(&board_live);
        }
        conn.sync = Some((kind, (self.sync)(kind, board_live)));
        true
    }

    /// The board closes the calls it held live that the resync did not find (their end unseen):
    /// starts looking them up in the call log, to correct how they ended.
    fn look_up_unseen_ends(&mut self, snapshot: &Snapshot) {
        let live: std::collections::HashSet<&str> =
            snapshot.sessions.iter().map(|s| s.id.as_str()).collect();
        let ended: Vec<String> = std::mem::take(&mut self.resync_candidates)
            .into_iter()
            .filter(|id| !live.contains(id.as_str()))
            .collect();
        if ended.is_empty() {
            return;
        }
        tracing::info!(
            target: "callboard::rc",
            "{} call(s) ended while offline; looking them up in the call log",
            ended.len()
        );
        tokio::spawn(crate::rc::unseen_ends::look_up(
            self.rest.clone(),
            ended,
            self.offline_since.unwrap_or(snapshot.taken_at),
            self.config.unseen_ends,
            self.events.clone(),
            self.shutdown.clone(),
        ));
    }

    /// Sends the held notifications on, oldest first. False when the app has gone.
    async fn release_held(&mut self) -> bool {
        for frame in std::mem::take(&mut self.held) {
            if !self.emit(SessionEvent::Notification(frame)).await {
                return false;
            }
        }
        true
    }

    async fn go_live(&mut self) -> bool {
        self.failures = 0;
        self.offline_since = None;
        self.emit(SessionEvent::State(ConnState::Live)).await
    }

    /// Opens one connection and serves it until it ends.
    async fn connection(&mut self, recovering: bool) -> Ended {
        // Opening can take up to the handshake timeout: a shutdown must not wait for it.
        let mut shutdown = self.shutdown.clone();
        let opened = tokio::select! {
            opened = self.open_and_handshake(recovering) => opened,
            _ = shutdown.changed() => return Ended::Shutdown,
        };
        let (socket, details) = match opened {
            Ok(opened) => opened,
            Err(reason) => return Ended::Dropped(reason),
        };
        if let Some(secs) = details.recovery_timeout.filter(|&s| s > 0) {
            self.recovery_timeout = Duration::from_secs(secs);
        }
        let now = Instant::now();
        let mut conn = Connection {
            socket,
            opened_at: now,
            absolute_life: details.absolute_timeout.map(Duration::from_secs),
            last_inbound: now,
            heartbeat_sent: None,
            pending: None,
            renew_at: None,
            sync: None,
            sync_retry: None,
            sync_failures: 0,
        };
        let recovered = recovering && details.recovered;
        let step = if recovered {
            SessionStats::bump(&self.stats.recoveries);
            tracing::info!(target: "callboard::rc", "live session recovered; missed events follow");
            self.last_alive = Some(now);
            // A sync the drop interrupted is redone; events stay held until it is delivered.
            let ready = match self.sync_pending {
                Some(kind) => {
                    (kind == SyncKind::Bootstrap
                        || self.emit(SessionEvent::State(ConnState::Resyncing)).await)
                        && self.start_sync(&mut conn, kind).await
                }
                None => self.go_live().await,
            };
            if !ready {
                return Ended::EventsClosed;
            }
            // Confirms the restored subscription at once: a 404 means it is gone after all,
            // and leads to a fresh subscription and a resync.
            self.request_subscription(&mut conn, Purpose::Renew).await
        } else {
            if recovering {
                SessionStats::bump(&self.stats.failed_recoveries);
                let code = details.recovery_error_code.as_deref().unwrap_or("no code");
                tracing::info!(
                    target: "callboard::rc",
                    "session recovery failed ({}); subscribing again and resyncing",
                    crate::text::sanitize(code)
                );
            }
            // Events held for an interrupted sync predate everything the new subscription
            // and its sync will bring: they go first.
            self.sync_pending = None;
            if !self.release_held().await {
                return Ended::EventsClosed;
            }
            self.subscription = None;
            self.request_subscription(&mut conn, Purpose::Subscribe)
                .await
        };
        if let Err(reason) = step {
            return Ended::Dropped(reason);
        }
        self.serve(&mut conn).await
    }

    async fn serve(&mut self, conn: &mut Connection) -> Ended {
        loop {
            let heartbeat_due = match conn.heartbeat_sent {
                None => conn.last_inbound + self.config.heartbeat_after,
                Some(sent) => sent + self.config.heartbeat_timeout,
            };
            let request_due = conn.pending.as_ref().map(|p| p.deadline);
            let retry_due = conn.sync_retry.map(|(_, at)| at);
            tokio::select! {
                _ = self.shutdown.changed() => {
                    self.close(conn).await;
                    return Ended::Shutdown;
                }
                message = conn.socket.next() => {
                    let now = Instant::now();
                    conn.last_inbound = now;
                    conn.heartbeat_sent = None;
                    if self.subscription.is_some() {
                        self.last_alive = Some(now);
                    }
                    match message {
                        None => return Ended::Dropped("the gateway closed the live connection".to_owned()),
                        Some(Err(e)) => return Ended::Dropped(describe_ws_error(&e)),
                        Some(Ok(Message::Text(text))) => {
                            if let Some(ended) = self.on_text(conn, text).await {
                                return ended;
                            }
                        }
                        Some(Ok(Message::Close(frame))) => {
                            let reason = frame.map_or_else(String::new, |f| {
                                format!(" (code {}: {})", u16::from(f.code), crate::text::sanitize(&f.reason))
                            });
                            return Ended::Dropped(format!("the gateway closed the live connection{reason}"));
                        }
                        Some(Ok(Message::Binary(bytes))) => {
                            self.count_unparseable(&String::from_utf8_lossy(&bytes), "binary frame");
                        }
                        // tungstenite answers pings itself.
                        Some(Ok(_)) => {}
                    }
                }
                _ = sleep_until(heartbeat_due) => {
                    if conn.heartbeat_sent.is_some() {
                        return Ended::Dropped(format!(
                            "RingCentral stopped answering (no reply to a heartbeat within {} s)",
                            self.config.heartbeat_timeout.as_secs()
                        ));
                    }
                    if let Err(reason) = Self::send_text(conn, frames::heartbeat(&message_id())).await {
                        return Ended::Dropped(reason);
                    }
                    conn.heartbeat_sent = Some(Instant::now());
                }
                _ = sleep_until_some(request_due) => {
                    return Ended::Dropped("RingCentral did not answer the event subscription request in time".to_owned());
                }
                _ = sleep_until_some(conn.renew_at) => {
                    conn.renew_at = None;
                    if let Err(reason) = self.request_subscription(conn, Purpose::Renew).await {
                        return Ended::Dropped(reason);
                    }
                }
                _ = sleep_until_some(retry_due) => {
                    if let Some((kind, _)) = conn.sync_retry.take()
                        && !self.start_sync(conn, kind).await
                    {
                        return Ended::EventsClosed;
                    }
                }
                (kind, result) = poll_sync(&mut conn.sync) => {
                    conn.sync = None;
                    if let Some(ended) = self.on_synced(conn, kind, result).await {
                        return ended;
                    }
                }
            }
        }
    }

    async fn on_synced(
        &mut self,
        conn: &mut Connection,
        kind: SyncKind,
        result: Result<Snapshot, RcError>,
    ) -> Option<Ended> {
        match result {
            Ok(snapshot) => {
                conn.sync_failures = 0;
                let call_log_since = snapshot.call_log_since;
                if kind == SyncKind::Resync {
                    self.look_up_unseen_ends(&snapshot);
                }
                if !self.emit(SessionEvent::Synced(Box::new(snapshot))).await {
                    return Some(Ended::EventsClosed);
                }
                if kind == SyncKind::Bootstrap {
                    self.bootstrapped = true;
                }
                self.sync_pending = None;
                if !self.release_held().await || !self.go_live().await {
                    return Some(Ended::EventsClosed);
                }
                if let Some(since) = call_log_since {
                    tokio::spawn(crate::rc::sync::todays_calls(
                        self.rest.clone(),
                        since,
                        self.events.clone(),
                        self.shutdown.clone(),
                    ));
                }
                None
            }
            Err(error) => {
                conn.sync_failures += 1;
                let wait = backoff_delay(
                    conn.sync_failures,
                    self.config.reconnect_base,
                    self.config.reconnect_max,
                    rand::random::<f64>(),
                );
                let what = match kind {
                    SyncKind::Bootstrap => "load today's calls",
                    SyncKind::Resync => "resync the live calls",
                    SyncKind::EndedWhileAway => "read how calls ended while offline",
                    SyncKind::TodaysCalls => "read today's earlier calls",
                };
                let warning = format!(
                    "could not {what}: {error} — trying again in {}",
                    crate::rc::error::describe_wait(wait)
                );
                tracing::warn!(target: "callboard::rc", "{warning}");
                conn.sync_retry = Some((kind, Instant::now() + wait));
                if !self.emit(SessionEvent::Warning(warning)).await {
                    return Some(Ended::EventsClosed);
                }
                None
            }
        }
    }

    async fn on_text(&mut self, conn: &mut Connection, text: Utf8Bytes) -> Option<Ended> {
        SessionStats::bump(&self.stats.frames);
        let (kind, message_id, status) = match read_meta(&text) {
            Some(meta) => {
                self.take_wsc(&meta);
                // Only replies need their id; notifications are not worth an allocation.
                let message_id = (meta.kind == MessageType::ClientRequest)
                    .then(|| meta.message_id.as_ref().map(|id| id.as_str().to_owned()))
                    .flatten();
                (meta.kind, message_id, meta.status)
            }
            None => {
                self.count_unparseable(&text, "not a gateway frame");
                return None;
            }
        };
        match kind {
            MessageType::ServerNotification => {
                SessionStats::bump(&self.stats.notifications);
                let frame = RawFrame(text);
                if self.sync_pending.is_some() {
                    self.held.push(frame);
                    if self.held.len() >= self.config.sync_buffer_limit {
                        tracing::warn!(
                            target: "callboard::rc",
                            "{} events arrived during a sync; releasing them before it ends",
                            self.held.len()
                        );
                        if !self.release_held().await {
                            return Some(Ended::EventsClosed);
                        }
                    }
                } else if !self.emit(SessionEvent::Notification(frame)).await {
                    return Some(Ended::EventsClosed);
                }
                None
            }
            MessageType::ClientRequest => {
                self.on_reply(conn, message_id.as_deref(), status, &text)
                    .await
            }
            MessageType::Error => {
                let problem = Problem::read(&text);
                match problem.code.as_deref() {
                    Some(code @ ("WSG-902" | "WSG-903")) => Some(Ended::Planned(format!(
                        "{} ({code})",
                        if code == "WSG-902" {
                            "idle timeout"
                        } else {
                            "the daily connection limit"
                        }
                    ))),
                    _ => {
                        let warning = format!("the live event gateway reported: {problem}");
                        tracing::warn!(target: "callboard::rc", "{warning}");
                        (!self.emit(SessionEvent::Warning(warning)).await)
                            .then_some(Ended::EventsClosed)
                    }
                }
            }
            MessageType::Heartbeat | MessageType::ConnectionDetails | MessageType::Unknown => None,
        }
    }

    async fn on_reply(
        &mut self,
        conn: &mut Connection,
        message_id: Option<&str>,
        status: Option<u64>,
        text: &str,
    ) -> Option<Ended> {
        let matches = conn
            .pending
            .as_ref()
            .is_some_and(|p| message_id == Some(p.message_id.as_str()));
        if !matches {
            return None;
        }
        let purpose = conn.pending.take().map(|p| p.purpose)?;
        let status = status.unwrap_or(0);
        if (200..300).contains(&status) {
            let Some(info) = SubscriptionReply::read(text) else {
                return Some(Ended::Dropped(
                    "RingCentral's reply to the event subscription is unreadable".to_owned(),
                ));
            };
            let expires_in = info.expires_in.map(Duration::from_secs);
            let now = Instant::now();
            conn.renew_at = expires_in
                .and_then(|e| renew_after(e, conn.life_left(now)))
                .map(|after| now + after);
            self.subscription = Some(info.id);
            self.last_alive = Some(now);
            if purpose == Purpose::Subscribe {
                let kind = if self.bootstrapped {
                    SyncKind::Resync
                } else {
                    SyncKind::Bootstrap
                };
                if kind == SyncKind::Resync
                    && !self.emit(SessionEvent::State(ConnState::Resyncing)).await
                {
                    return Some(Ended::EventsClosed);
                }
                if !self.start_sync(conn, kind).await {
                    return Some(Ended::EventsClosed);
                }
            }
            return None;
        }
        let problem = Problem::read(text);
        match purpose {
            Purpose::Renew => {
                // SUB-507 (404) is the documented "expired"; any other refusal gets the same
                // cure: a new subscription, and a resync for what was missed meanwhile.
                tracing::info!(
                    target: "callboard::rc",
                    "subscription renewal refused (HTTP {status}): {problem}; subscribing again"
                );
                self.subscription = None;
                if let Err(reason) = self.request_subscription(conn, Purpose::Subscribe).await {
                    return Some(Ended::Dropped(reason));
                }
                None
            }
            Purpose::Subscribe => Some(Ended::Dropped(format!(
                "RingCentral refused the event subscription (HTTP {status}): {problem}"
            ))),
        }
    }

    /// Deletes the subscription (briefly waiting for the reply) and closes the socket.
    async fn close(&mut self, conn: &mut Connection) {
        if let Some(subscription_id) = self.subscription.take() {
            let id = message_id();
            let frame = frames::client_request(
                &id,
                "DELETE",
                &format!("{SUBSCRIPTION_PATH}/{subscription_id}"),
                None,
            );
            if Self::send_text(conn, frame).await.is_ok() {
                let deadline = Instant::now() + Duration::from_secs(2);
                while let Ok(Some(Ok(Message::Text(text)))) =
                    timeout_at(deadline, conn.socket.next()).await
                {
                    if events::peek_meta(&text)
                        .is_ok_and(|m| m.message_id.as_deref() == Some(id.as_str()))
                    {
                        break;
                    }
                }
            }
        }
        let _ = conn.socket.close(None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn subscriptions_are_renewed_only_when_they_die_before_the_socket() {
        assert_eq!(renew_after(secs(100), Some(secs(86_400))), Some(secs(80)));
        assert_eq!(
            renew_after(secs(86_399), Some(secs(86_400))),
            Some(Duration::from_secs_f64(69_119.2))
        );
        assert_eq!(renew_after(secs(86_400), Some(secs(86_400))), None);
        assert_eq!(renew_after(secs(900), Some(secs(600))), None);
        assert_eq!(renew_after(secs(900), None), Some(secs(720)));
    }

    #[test]
    fn recovery_is_tried_only_inside_the_window() {
        let t0 = Instant::now();
        let window = secs(180);
        assert!(!can_recover(None, window, t0));
        assert!(can_recover(Some(t0), window, t0 + secs(100)));
        assert!(can_recover(Some(t0), window, t0 + secs(174)));
        assert!(!can_recover(Some(t0), window, t0 + secs(175)));
        assert!(!can_recover(Some(t0), secs(30), t0 + secs(26)));
    }

    #[test]
    fn message_ids_look_like_uuids_and_differ() {
        let a = message_id();
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        assert_ne!(a, message_id());
    }

    /// The docs' ConnectionDetails sample (shared/samples/ws-01-connection-details.json).
    const CONNECTION_DETAILS: &str = r#"[{"type": "ConnectionDetails", "messageId": "156eec30-xxxx-xxxx-xxxx-005056bf7145", "status": 200, "wsc": {"token": "RTFhRG5nfExxxxxxxxxxxcHE3bXkyRURQVQ", "sequence": 1}, "headers": {"RCRequestId": "156eec30-xxxx-xxxx-xxxx-005056bf7145"}}, {"creationTime": "2020-09-07T21:50:02.737+0000", "maxConnectionsPerSession": 50, "recoveryBufferSize": 100, "recoveryTimeout": 180, "idleTimeout": 1800, "absoluteTimeout": 86400, "maxActiveRequests": 10}]"#;

    #[test]
    fn connection_details_say_the_windows_and_whether_recovery_worked() {
        let details = Details::read(CONNECTION_DETAILS);
        assert_eq!(details.recovery_timeout, Some(180));
        assert_eq!(details.absolute_timeout, Some(86400));
        assert!(!details.recovered);
        let ok = r#"[{"type":"ConnectionDetails","messageId":"X","status":200,"wsc":{"sequence":1,"token":"G86"}},{"creationTime":"2020-01-15T12:00:01Z","recoveryState":"Successful","recoveryTimeout":30,"recoveryBufferSize":100}]"#;
        assert!(Details::read(ok).recovered);
        let failed = r#"[{"type":"ConnectionDetails","messageId":"X","status":200},{"recoveryState":"Failed","recoveryErrorCode":"WSG-1005"}]"#;
        let details = Details::read(failed);
        assert!(!details.recovered);
        assert_eq!(details.recovery_error_code.as_deref(), Some("WSG-1005"));
        assert_eq!(
            Details::read(r#"[{"type":"ConnectionDetails"}]"#),
            Details::default()
        );
    }

    #[test]
    fn gateway_problems_are_described_sanitised() {
        let frame = r#"[{"type":"Error","messageId":"e","status":400},{"errorCode":"WSG-400","message":"Malformed\u001b[2J token"}]"#;
        let problem = Problem::read(frame);
        assert_eq!(problem.code.as_deref(), Some("WSG-400"));
        assert_eq!(problem.to_string(), "Malformed[2J token [WSG-400]");
        let refused = r#"[{"type":"ClientRequest","messageId":"m","status":400},{"errors":[{"errorCode":"SUB-508","message":"Invalid event filters"}]}]"#;
        assert_eq!(
            Problem::read(refused).to_string(),
            "Invalid event filters [SUB-508]"
        );
        assert_eq!(Problem::read("garbage").to_string(), "no reason given");
    }

    #[test]
    fn subscription_replies_give_id_and_expiry() {
        // The php SDK's recorded reply (shared/samples/ws-04-subscription-responses.json).
        let frame = r#"[{"type":"ClientRequest","messageId":"xxxx","status":200,"headers":{"Server":"nginx"}},{"uri":"/restapi/v1.0/subscription/3ef793d9-34e3-4218-a865-e15856cd1599","id":"3ef793d9-34e3-4218-a865-e15856cd1599","creationTime":"2020-09-07T21:50:28.643Z","status":"Active","eventFilters":["/restapi/v1.0/account/400132871015/extension/400132871015/presence"],"expirationTime":"2020-09-07T22:10:51.113Z","expiresIn":843,"deliveryMode":{"transportType":"WebSocket","encryption":false}}]"#;
        let reply = SubscriptionReply::read(frame).unwrap();
        assert_eq!(reply.id, "3ef793d9-34e3-4218-a865-e15856cd1599");
        assert_eq!(reply.expires_in, Some(843));
        assert!(SubscriptionReply::read(r#"[{"type":"ClientRequest","status":200},{}]"#).is_none());
    }

    #[test]
    fn the_meta_is_read_without_the_body() {
        let frame = "\u{FEFF} [{\"type\":\"ServerNotification\",\"messageId\":\"42\",\"status\":200,\
                     \"wsc\":{\"token\":\"t\",\"sequence\":7}},{\"uuid\":\"42\",\"body\":{}}]";
        let meta = read_meta(frame).unwrap();
        let peeked = events::peek_meta(frame.trim_start_matches(['\u{FEFF}', ' '])).unwrap();
        assert_eq!(meta.kind, MessageType::ServerNotification);
        assert_eq!(meta.kind, peeked.kind);
        assert_eq!(meta.message_id.as_deref(), Some("42"));
        assert_eq!(meta.status, Some(200));
        assert_eq!(meta.wsc.map(|w| w.sequence), peeked.wsc.map(|w| w.sequence));
        // The body is the board's to judge.
        let broken_body = "[{\"type\":\"ServerNotification\"},{\"uuid\":";
        assert_eq!(
            read_meta(broken_body).map(|m| m.kind),
            Some(MessageType::ServerNotification)
        );
        for not_a_frame in [
            "",
            "not json",
            "[]",
            "[1,2]",
            "{\"type\":1}",
            "[{\"type\":\"Server",
        ] {
            assert!(read_meta(not_a_frame).is_none(), "{not_a_frame:?}");
        }
    }

    #[test]
    fn raw_frames_do_not_print_their_content() {
        let frame = RawFrame::from("[{\"type\":\"ServerNotification\"},{\"secret\":1}]".to_owned());
        assert_eq!(format!("{frame:?}"), "RawFrame(44 bytes)");
    }
}
