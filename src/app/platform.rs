//! The platform side of the board: the simulator (DEMO) or the real account, the REST client,
//! the WebSocket session, and the relabel worker — each a task that talks to the app loop only
//! through its [`Msg`] channel.

use std::sync::Arc;

use anyhow::Context as _;
use chrono_tz::Tz;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::Msg;
use crate::app::relabel::{self, RelabelEvent, RelabelRequest};
use crate::config::PlatformCredentials;
use crate::rc::ws::{self, ConnState, SessionConfig, SessionEvent};
use crate::rc::{Credentials, RestClient, RestConfig, sync};
use crate::sim::{SimConfig, SimHandle, Simulator};
use crate::store::Store;
use crate::ui::state::Connection;

/// Relabels waiting for the worker; a supervisor types them one at a time.
const RELABEL_QUEUE: usize = 16;

/// Everything running against the platform. [`Platform::shutdown`] stops it in order.
pub struct Platform {
    rest: Arc<RestClient>,
    session: ws::SessionHandle,
    simulator: Option<SimHandle>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts the session against `credentials`, or against an in-process simulator when there are
/// none. Returns the running platform and the sender the app hands confirmed relabels to.
/// In `read_only` mode nothing is ever written, not even writes left pending by an earlier run.
pub async fn start(
    credentials: Option<&PlatformCredentials>,
    relabel_path: &str,
    zone: Tz,
    store: Option<Store>,
    read_only: bool,
    tx: mpsc::Sender<Msg>,
) -> anyhow::Result<(Platform, mpsc::Sender<RelabelRequest>)> {
    crate::rc::rest::install_crypto_provider();
    let (credentials, simulator) = match credentials {
        Some(c) => (Credentials::from_config(c)?, None),
        None => {
            let simulator = Simulator::start(SimConfig::demo()).await.context(
                "no RingCentral credentials are set and the built-in simulator could not start",
            )?;
            tracing::info!(
                url = simulator.base_url(),
                "DEMO: monitoring the built-in simulator"
            );
            let credentials = simulator.client_credentials(simulator.base_url())?;
            (credentials, Some(simulator))
        }
    };
    let rest = Arc::new(RestClient::connect(
        credentials,
        RestConfig {
            relabel_path: relabel_path.to_string(),
            ..RestConfig::default()
        },
    )?);
    let (events_tx, mut events) = mpsc::channel::<SessionEvent>(4096);
    let session = ws::spawn(
        rest.clone(),
        SessionConfig::default(),
        sync::platform_sync(rest.clone(), zone),
        events_tx,
    );

    let mut tasks = Vec::new();
    let forward = tx.clone();
    tasks.push(tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if forward.send(Msg::Session(event)).await.is_err() {
                break;
            }
        }
    }));

    // Rate-limit waits and retries are worth a line in the status area, never silence.
    let mut notices = rest.notices();
    let forward = tx.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            match notices.recv().await {
                Ok(notice) => {
                    let msg = Msg::Notice {
                        text: notice.to_string(),
                        is_error: false,
                    };
                    if forward.send(msg).await.is_err() {
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    }));

    // The status line names the account once the platform says which it is.
    if simulator.is_none() {
        let rest = rest.clone();
        let forward = tx.clone();
        tasks.push(tokio::spawn(async move {
            match crate::rc::account::SignedInUser::read(&rest).await {
                Ok(user) => {
                    let _ = forward.send(Msg::SignedIn(user)).await;
                }
                Err(err) => tracing::warn!(error = %err, "cannot read the signed-in account"),
            }
        }));
    }

    let (relabel_tx, relabel_rx) = mpsc::channel(RELABEL_QUEUE);
    tasks.push(tokio::spawn(relabel_worker(
        rest.clone(),
        store.filter(|_| !read_only),
        read_only,
        relabel_rx,
        tx,
    )));

    Ok((
        Platform {
            rest,
            session,
            simulator,
            tasks,
        },
        relabel_tx,
    ))
}

/// Runs [`relabel::run_worker`] with the writer for this platform, forwarding its events to the
/// loop in order (through an unbounded hop, so a busy loop delays an event but never drops one:
/// a dropped result would leave a row marked pending for ever). Without a store nothing is
/// written: a write that cannot be kept until the platform confirms it could be lost. In
/// read-only mode nothing is written either.
async fn relabel_worker(
    rest: Arc<RestClient>,
    store: Option<Store>,
    read_only: bool,
    mut requests: mpsc::Receiver<RelabelRequest>,
    tx: mpsc::Sender<Msg>,
) {
    let Some(store) = store else {
        let refusal = if read_only {
            crate::app::numbers::READ_ONLY_REFUSAL
        } else {
            "relabelling is off: the local store is unavailable, and it keeps each write safe until the platform confirms it"
        };
        while requests.recv().await.is_some() {
            let problem = RelabelEvent::Problem(refusal.into());
            if tx.send(Msg::Relabel(problem)).await.is_err() {
                break;
            }
        }
        return;
    };
    let writer = relabel::RelabelWriter::for_token_owner(rest, store).await;
    let (events_tx, mut events_rx) = mpsc::unbounded_channel::<RelabelEvent>();
    let forward = tokio::spawn(async move {
        while let Some(event) = events_rx.recv().await {
            if tx.send(Msg::Relabel(event)).await.is_err() {
                break;
            }
        }
    });
    relabel::run_worker(writer, requests, move |event| events_tx.send(event).is_ok()).await;
    let _ = forward.await;
}

impl Platform {
    /// The REST client of this session (recording downloads sign in through it).
    pub fn rest(&self) -> &Arc<RestClient> {
        &self.rest
    }

    /// Whether this is the in-process simulator.
    pub fn is_demo(&self) -> bool {
        self.simulator.is_some()
    }

    /// Stops the session (deleting its subscription), signs out, and stops the simulator.
    pub async fn shutdown(self) {
        self.session.shutdown().await;
        self.rest.auth().revoke().await;
        for task in self.tasks {
            task.abort();
        }
        if let Some(simulator) = self.simulator {
            simulator.shutdown().await;
        }
    }
}

/// The status line's words for the session's state. Recovery and resync say what they mean
/// for the numbers on screen.
pub fn connection_of(state: &ConnState) -> Connection {
    match state {
        ConnState::Connecting => Connection::Connecting,
        ConnState::Live => Connection::Live,
        ConnState::Recovering => Connection::Recovering {
            reason: "socket lost; missed events will be replayed".into(),
        },
        ConnState::Resyncing => Connection::Resyncing {
            reason: "session lost; reloading live calls".into(),
        },
        ConnState::Offline { since, reason } => Connection::Offline {
            since: *since,
            reason: crate::text::sanitize(reason).into_owned(),
        },
    }
}
