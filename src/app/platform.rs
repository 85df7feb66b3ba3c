//! The platform side of the board: the simulator (DEMO) or the real account, the REST client,
//! the WebSocket session, and the relabel worker — each a task that talks to the app loop only
//! through its [`Msg`] channel.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use chrono_tz::Tz;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::{Msg, RelabelRequest};
use crate::config::PlatformCredentials;
use crate::rc::records::PhoneNumber;
use crate::rc::ws::{self, ConnState, SessionConfig, SessionEvent};
use crate::rc::{Credentials, RestClient, RestConfig, Secret, sync};
use crate::sim::{SimConfig, SimHandle, Simulator};
use crate::store::Store;
use crate::store::audit::{PendingRelabel, RelabelOutcome};
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
pub async fn start(
    credentials: Option<&PlatformCredentials>,
    relabel_path: &str,
    zone: Tz,
    store: Option<Store>,
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
            let sim = simulator.credentials();
            let credentials = Credentials::new(
                simulator.base_url(),
                sim.client_id.clone(),
                Secret::new(sim.client_secret.clone()),
                Secret::new(sim.jwt.clone()),
            )?;
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

    let (relabel_tx, relabel_rx) = mpsc::channel(RELABEL_QUEUE);
    tasks.push(tokio::spawn(relabel_worker(
        rest.clone(),
        store,
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

/// Writes confirmed relabels one at a time and reports each result to the loop. With a store,
/// each write is kept as pending from the moment it is confirmed until the platform answers,
/// then moved to the audit (when, number, old and new label, result, who). Writes left pending
/// by a previous run (a crash, a lost connection) are sent first, in the order they were
/// confirmed: setting a label is idempotent, so a write that had in fact landed lands again
/// harmlessly, and none the user confirmed is lost.
async fn relabel_worker(
    rest: Arc<RestClient>,
    store: Option<Store>,
    mut requests: mpsc::Receiver<RelabelRequest>,
    tx: mpsc::Sender<Msg>,
) {
    let left_over = match store.as_ref().map(Store::pending_relabels).transpose() {
        Ok(pending) => pending.unwrap_or_default(),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read pending relabels");
            Vec::new()
        }
    };
    for write in left_over {
        tracing::info!(number = %write.phone_number, "resuming a relabel confirmed earlier");
        let request = RelabelRequest {
            number_id: write.number_id.clone(),
            number: write.phone_number.clone(),
            old_label: write.old_label.clone().unwrap_or_default(),
            new_label: write.new_label.clone(),
        };
        if !write_label(&rest, store.as_ref(), Some(write), request, true, &tx).await {
            return;
        }
    }
    // Who asked: the supervisor's login on this machine (often a shared jump host).
    let who = std::env::var("USER").unwrap_or_else(|_| "unknown user".into());
    while let Some(request) = requests.recv().await {
        tracing::info!(number = %request.number, "relabel requested");
        let pending = store.as_ref().and_then(|store| {
            let write = PendingRelabel::new(
                request.number_id.clone(),
                request.number.clone(),
                Some(request.old_label.clone()).filter(|l| !l.is_empty()),
                request.new_label.clone(),
                who.clone(),
                Utc::now(),
            );
            let queued = store.queue_relabel(write);
            if let Err(err) = &queued {
                tracing::warn!(error = %err, "relabel not recorded as pending");
            }
            queued.ok()
        });
        if !write_label(&rest, store.as_ref(), pending, request, false, &tx).await {
            break;
        }
    }
}

/// Sends one label write, records its outcome, and tells the loop. False once the loop is gone.
async fn write_label(
    rest: &RestClient,
    store: Option<&Store>,
    pending: Option<PendingRelabel>,
    request: RelabelRequest,
    resumed: bool,
    tx: &mpsc::Sender<Msg>,
) -> bool {
    let result = rest
        .relabel(&request.number_id, &request.new_label)
        .await
        .map(|record: PhoneNumber| record.label.unwrap_or_default())
        .map_err(|err| err.to_string());
    if let (Some(store), Some(pending)) = (store, &pending) {
        let outcome = match &result {
            Ok(_) => RelabelOutcome::Applied,
            Err(message) => RelabelOutcome::Failed {
                code: None,
                message: message.clone(),
            },
        };
        if let Err(err) = store.complete_relabel(&pending.idempotency_key, outcome, Utc::now()) {
            tracing::warn!(error = %err, "relabel result not audited");
        }
        if let Ok(label) = &result
            && let Err(err) = store.update_cached_label(&request.number_id, label)
        {
            tracing::warn!(error = %err, "cached number list not updated");
        }
    }
    if let Err(reason) = &result {
        tracing::warn!(number = %request.number, %reason, "relabel failed");
    }
    let done = Msg::RelabelDone {
        number_id: request.number_id,
        number: request.number,
        result,
        resumed,
    };
    tx.send(done).await.is_ok()
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
