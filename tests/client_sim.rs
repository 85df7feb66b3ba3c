//! The whole client (auth, REST, WebSocket session, bootstrap, recovery, resync) and the board
//! against the embedded simulator over real loopback sockets, one test per fault kind: run,
//! inject the fault, let traffic flow, pause the simulator, let the client catch up, then the
//! client's board must equal the simulator's `/_sim/truth` on the live calls and on every
//! per-queue and per-campaign count. Plus `callboard watch --json --count N` as a real binary.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callboard::board::{Applied, Board, BoardConfig};
use callboard::rc::apply;
use callboard::rc::sync::platform_sync;
use callboard::rc::unseen_ends::LookupSchedule;
use callboard::rc::ws::{self, ConnState, SessionConfig, SessionEvent};
use callboard::rc::{RestClient, RestConfig, RetryPolicy};
use callboard::sim::{SimConfig, SimHandle, Simulator};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The client as the app runs it: a session task and a loop applying its events to a board.
struct Client {
    board: Arc<Mutex<Board>>,
    state: Arc<Mutex<ConnState>>,
    applied: Arc<AtomicU64>,
    syncs: Arc<AtomicU64>,
    /// Calls resyncs closed without seeing their end, and calls the call log corrected since.
    ended_unseen: Arc<AtomicU64>,
    corrected: Arc<AtomicU64>,
    session: ws::SessionHandle,
    rest: Arc<RestClient>,
}

async fn start_client(sim: &SimHandle) -> Client {
    let credentials = sim.client_credentials(sim.base_url()).unwrap();
    let config = RestConfig {
        retry: RetryPolicy {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            ..RetryPolicy::default()
        },
        ..RestConfig::default()
    };
    let rest = Arc::new(RestClient::connect(credentials, config).unwrap());
    let session_config = SessionConfig {
        reconnect_base: Duration::from_millis(100),
        reconnect_max: Duration::from_secs(1),
        // The simulator writes a call's log record a second after it ends.
        unseen_ends: LookupSchedule {
            first_wait: Duration::from_millis(500),
            longest_wait: Duration::from_secs(2),
            give_up_after: Duration::from_secs(60),
        },
        ..SessionConfig::default()
    };
    let (tx, mut events) = mpsc::channel(4096);
    let session = ws::spawn(
        rest.clone(),
        session_config,
        platform_sync(rest.clone(), chrono_tz::UTC),
        tx,
    );
    let board = Arc::new(Mutex::new(Board::new(
        BoardConfig::default(),
        Vec::<String>::new(),
    )));
    let state = Arc::new(Mutex::new(ConnState::Connecting));
    let applied = Arc::new(AtomicU64::new(0));
    let syncs = Arc::new(AtomicU64::new(0));
    let ended_unseen = Arc::new(AtomicU64::new(0));
    let corrected = Arc::new(AtomicU64::new(0));
    {
        let (board, state, applied, syncs) =
            (board.clone(), state.clone(), applied.clone(), syncs.clone());
        let (ended_unseen, corrected) = (ended_unseen.clone(), corrected.clone());
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let now = Utc::now();
                let mut board = board.lock().unwrap();
                match event {
                    SessionEvent::State(s) => *state.lock().unwrap() = s,
                    SessionEvent::Warning(_) => {}
                    SessionEvent::LiveCallsWanted(reply) => {
                        let _ = reply.send(apply::live_call_ids(&board));
                    }
                    SessionEvent::Synced(snapshot) => {
                        let summary = apply::apply_snapshot(&mut board, &snapshot, now);
                        ended_unseen.fetch_add(summary.ended_while_away as u64, Ordering::SeqCst);
                        corrected
                            .fetch_add(summary.corrected_from_call_log as u64, Ordering::SeqCst);
                        syncs.fetch_add(1, Ordering::SeqCst);
                    }
                    SessionEvent::Notification(frame) => {
                        if let Ok(e) = apply::apply_notification(&mut board, frame.as_str(), now)
                            && e.applied == Applied::Changed
                        {
                            applied.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            }
        });
    }
    Client {
        board,
        state,
        applied,
        syncs,
        ended_unseen,
        corrected,
        session,
        rest,
    }
}

impl Client {
    fn is_live(&self) -> bool {
        *self.state.lock().unwrap() == ConnState::Live
    }

    /// Waits (safety net: `limit`) until `done` holds.
    async fn wait_for(&self, what: &str, limit: Duration, done: impl Fn(&Client) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; state {:?}",
                self.state.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the client is live and nothing changed on the board for a while.
    async fn wait_quiet(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut last = (u64::MAX, Instant::now());
        loop {
            assert!(
                Instant::now() < deadline,
                "the client never settled; state {:?}",
                self.state.lock().unwrap()
            );
            let revision = self.board.lock().unwrap().revision();
            if revision != last.0 || !self.is_live() {
                last = (revision, Instant::now());
            } else if last.1.elapsed() > Duration::from_millis(1500) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn control(sim: &SimHandle, path: &str, body: Option<Value>) -> Value {
    let http = reqwest::Client::new();
    let url = format!("{}{path}", sim.base_url());
    let response = match body {
        Some(body) => http.post(url).json(&body).send().await.unwrap(),
        None => http.get(url).send().await.unwrap(),
    };
    assert!(
        response.status().is_success(),
        "{path}: HTTP {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

/// The comparable part of a board JSON: live calls by id with their state, and the counts of
/// every queue and campaign.
fn essentials(board: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for call in board["calls"].as_array().into_iter().flatten() {
        if call["outcome"] == "live" {
            out.insert(
                format!(
                    "call {}",
                    call["telephonySessionId"].as_str().unwrap_or("?")
                ),
                json!({"state": call["state"], "queue": call["queueId"], "dialed": call["dialed"]}),
            );
        }
    }
    for queue in board["queues"].as_array().into_iter().flatten() {
        out.insert(
            format!("queue {}", queue["id"].as_str().unwrap_or("?")),
            json!({
                "waiting": queue["waiting"], "offered": queue["offered"],
                "answered": queue["answered"], "abandoned": queue["abandoned"],
                "shortAbandoned": queue["shortAbandoned"], "voicemail": queue["voicemail"],
            }),
        );
    }
    for campaign in board["campaigns"].as_array().into_iter().flatten() {
        out.insert(
            format!("campaign {} / {}", campaign["campaign"], campaign["dn"]),
            json!({
                "live": campaign["live"], "offered": campaign["offered"],
                "answered": campaign["answered"], "missed": campaign["missed"],
            }),
        );
    }
    out
}

/// Pauses the simulator, lets the client catch up and compares it with the truth.
async fn assert_matches_truth(sim: &SimHandle, client: &Client) {
    control(sim, "/_sim/pause", Some(json!({}))).await;
    client.wait_quiet().await;
    let truth = control(sim, "/_sim/truth", None).await;
    let now: DateTime<Utc> = truth["now"].as_str().unwrap().parse().unwrap();
    let ours = client.board.lock().unwrap().to_json(now);
    let (want, got) = (essentials(&truth), essentials(&ours));
    let mut differences = Vec::new();
    for key in want
        .keys()
        .chain(got.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        if want.get(key) != got.get(key) {
            differences.push(format!(
                "{key}: truth {:?}, client {:?}",
                want.get(key),
                got.get(key)
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "the client's board differs from the truth:\n{}",
        differences.join("\n")
    );
}

/// Starts simulator and client, waits until live and some traffic applied.
async fn running(seed: u64) -> (SimHandle, Client) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Simulator::start(SimConfig::for_tests(seed)).await.unwrap();
    let client = start_client(&sim).await;
    client
        .wait_for("the first sync", Duration::from_secs(30), |c| {
            c.syncs.load(Ordering::SeqCst) >= 1 && c.is_live()
        })
        .await;
    let before = client.applied.load(Ordering::SeqCst);
    client
        .wait_for("traffic", Duration::from_secs(30), |c| {
            c.applied.load(Ordering::SeqCst) >= before + 10
        })
        .await;
    (sim, client)
}

/// Lets traffic flow after a fault until the client applied `events` more.
async fn more_traffic(client: &Client, events: u64) {
    let before = client.applied.load(Ordering::SeqCst);
    client
        .wait_for("traffic after the fault", Duration::from_secs(60), |c| {
            c.applied.load(Ordering::SeqCst) >= before + events && c.is_live()
        })
        .await;
}

async fn fault(sim: &SimHandle, body: Value) {
    control(sim, "/_sim/fault", Some(body)).await;
}

async fn finish(sim: SimHandle, client: Client) {
    client.session.shutdown().await;
    client.rest.auth().revoke().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_faults_the_board_equals_the_truth() {
    let (sim, client) = running(11).await;
    more_traffic(&client, 20).await;
    assert_matches_truth(&sim, &client).await;
    finish(sim, client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_sockets_recover_without_losing_or_doubling_events() {
    let (sim, client) = running(12).await;
    let syncs = client.syncs.load(Ordering::SeqCst);
    fault(&sim, json!({"kind": "drop_sockets"})).await;
    more_traffic(&client, 20).await;
    assert_eq!(ws::SessionStats::get(&client.session.stats().recoveries), 1);
    assert_eq!(
        client.syncs.load(Ordering::SeqCst),
        syncs,
        "a recovery needs no resync"
    );
    assert_matches_truth(&sim, &client).await;
    finish(sim, client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgotten_sessions_resubscribe_and_resync_leaving_no_call_stuck() {
    let (sim, client) = running(13).await;
    let syncs = client.syncs.load(Ordering::SeqCst);
    fault(&sim, json!({"kind": "forget_sessions"})).await;
    more_traffic(&client, 20).await;
    assert!(
        client.syncs.load(Ordering::SeqCst) > syncs,
        "a failed recovery resyncs"
    );
    assert_eq!(
        ws::SessionStats::get(&client.session.stats().failed_recoveries),
        1
    );
    assert_matches_truth(&sim, &client).await;
    finish(sim, client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_that_end_while_offline_are_corrected_from_the_call_log() {
    let (sim, client) = running(20).await;
    // The resync's presence read hangs long enough for the calls live at the drop to end (they
    // last seconds in the test world): the resync then closes them without seeing their end,
    // and their end events, held during the resync, arrive too late to count.
    fault(
        &sim,
        json!({"kind": "stall", "path_prefix": "/restapi/v1.0/account/~/presence", "seconds": 8}),
    )
    .await;
    fault(&sim, json!({"kind": "forget_sessions"})).await;
    more_traffic(&client, 20).await;
    assert!(
        client.ended_unseen.load(Ordering::SeqCst) > 0,
        "no call ended during the outage; the test proves nothing"
    );
    control(&sim, "/_sim/pause", Some(json!({}))).await;
    client
        .wait_for("the call-log corrections", Duration::from_secs(60), |c| {
            c.board
                .lock()
                .unwrap()
                .calls_ended_unseen()
                .next()
                .is_none()
        })
        .await;
    assert!(client.corrected.load(Ordering::SeqCst) > 0);
    assert_matches_truth(&sim, &client).await;
    finish(sim, client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_are_refreshed_unnoticed() {
    let (sim, client) = running(14).await;
    let issued = client.rest.auth().tokens_issued();
    fault(&sim, json!({"kind": "expire_tokens"})).await;
    // The next REST call meets a 401 and refreshes; a drop forces REST calls (wstoken, resync).
    fault(&sim, json!({"kind": "forget_sessions"})).await;
    more_traffic(&client, 20).await;
    assert!(
        client.rest.auth().tokens_issued() > issued,
        "the token was refreshed"
    );
    assert_matches_truth(&sim, &client).await;
    finish(sim, client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_reconnect_waits_out_retry_after_and_still_recovers() {
    let (sim, client) = running(15).await;
    let mut notices = client.rest.notices();
    // The reconnect's wstoken request (Auth group) meets 429s with Retry-After; the wait stays
    // inside the recovery window, so the session still recovers with nothing lost.
    fault(
        &sim,
        json!({"kind": "rate_limit", "group": "auth", "seconds": 2}),
    )
    .await;
    fault(&sim, json!({"kind": "drop_sockets"})).await;
    more_traffic(&client, 20).await;
    let notice = notices.try_recv().expect("the wait was reported");
    assert!(notice.to_string().contains("auth group"), "{notice}");
    assert_eq!(ws::SessionStats::get(&client.session.stats().recoveries), 1);
    assert_matches_truth(&sim, &client).await;
    finish(sim, client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_during_a_resync_are_retried() {
    let (sim, client) = running(16).await;
    fault(
        &sim,
        json!({"kind": "http_error", "path_prefix": "/restapi/v1.0/account/~/presence", "status": 503, "seconds": 2}),
    )
    .await;
    fault(&sim, json!({"kind": "forget_sessions"})).await;
    more_traffic(&client, 20).await;
    assert_matches_truth(&sim, &client).await;
    finish(sim, client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_endpoint_delays_the_resync_but_loses_nothing() {
    let (sim, client) = running(17).await;
    fault(
        &sim,
        json!({"kind": "stall", "path_prefix": "/restapi/v1.0/account/~/telephony", "seconds": 2}),
    )
    .await;
    fault(&sim, json!({"kind": "forget_sessions"})).await;
    more_traffic(&client, 20).await;
    assert_matches_truth(&sim, &client).await;
    finish(sim, client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_counted_and_never_fatal() {
    let (sim, client) = running(18).await;
    fault(&sim, json!({"kind": "malformed_frame"})).await;
    more_traffic(&client, 20).await;
    assert!(client.is_live());
    assert_matches_truth(&sim, &client).await;
    finish(sim, client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_never_reach_the_board_raw() {
    let (sim, client) = running(19).await;
    fault(&sim, json!({"kind": "hostile_strings"})).await;
    // Labels change out of band, as when an admin edits them: a resync re-reads them.
    fault(&sim, json!({"kind": "forget_sessions"})).await;
    more_traffic(&client, 30).await;
    assert_matches_truth(&sim, &client).await;
    let board = client.board.lock().unwrap().to_json(Utc::now()).to_string();
    let parsed: Value = serde_json::from_str(&board).unwrap();
    let mut strings = Vec::new();
    collect_strings(&parsed, &mut strings);
    for s in strings {
        assert!(
            !s.chars().any(callboard::text::is_unsafe_char),
            "unsafe text reached the board: {s:?}"
        );
        assert!(
            s.chars().count() <= callboard::text::MAX_FIELD_CHARS,
            "an uncut string: {} chars",
            s.len()
        );
    }
    finish(sim, client).await;
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// `callboard watch …` with no credentials and no config file: the DEMO simulator.
fn watch_command(home: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_callboard"));
    command
        .arg("watch")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("CALLBOARD_CONFIG")
        .env_remove("RC_CLIENT_ID")
        .env_remove("RC_CLIENT_SECRET")
        .env_remove("RC_JWT");
    command
}

#[test]
fn watch_json_count_prints_n_event_lines_then_the_board() {
    let home = tempfile::tempdir().unwrap();
    let output = watch_command(home.path())
        .args(["--json", "--count", "5", "--duration", "60s"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    for event in &lines[..5] {
        assert!(
            event["time"].is_string() && event["revision"].is_u64(),
            "{event}"
        );
    }
    assert_eq!(lines[5]["board"]["schema"], 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("built-in simulator (DEMO)"), "{stderr}");
}

#[test]
fn watch_journal_keeps_every_frame_for_replay() {
    let data = tempfile::tempdir().unwrap();
    let output = watch_command(data.path())
        .args(["--json", "--count", "3", "--duration", "60s", "--journal"])
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let store = callboard::store::Store::open(data.path(), Default::default()).unwrap();
    let frames: Vec<_> = store.journal_entries().map(Result::unwrap).collect();
    assert!(frames.len() >= 3, "{} frames journaled", frames.len());
    for entry in &frames {
        let frame: Value = serde_json::from_slice(&entry.frame).unwrap();
        assert_eq!(frame[0]["type"], "ServerNotification", "{frame}");
    }
    drop(store);

    // `journal export` writes the same frames as JSON lines, and `replay` reads them back.
    let export = std::process::Command::new(env!("CARGO_BIN_EXE_callboard"))
        .args(["journal", "export", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let lines: Vec<&[u8]> = export
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), frames.len());
    for (line, entry) in lines.iter().zip(&frames) {
        assert_eq!(*line, &entry.frame[..]);
    }
    let shift = data.path().join("shift.jsonl");
    std::fs::write(&shift, &export.stdout).unwrap();
    let replay = std::process::Command::new(env!("CARGO_BIN_EXE_callboard"))
        .args(["replay", "--json"])
        .arg(&shift)
        .output()
        .unwrap();
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let board: Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(board["schema"], 1);
    assert!(!board["calls"].as_array().unwrap().is_empty(), "{board}");
}
