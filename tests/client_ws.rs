//! The WebSocket session against a scripted in-test gateway over real loopback sockets:
//! bootstrap, notifications passed through untouched, recovery with `wsc` (successful and
//! failed), events held back during a resync, the heartbeat verdict, planned reconnects, and
//! frames that cannot be read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use callboard::rc::sync::Snapshot;
use callboard::rc::ws::{self, ConnState, SessionConfig, SessionEvent, SyncHook, SyncKind};
use callboard::rc::{Credentials, RestClient, RestConfig, Secret};
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast, mpsc};
use tokio::time::timeout;

/// What the test tells the gateway to do on the open socket.
#[derive(Clone, Debug)]
enum Command {
    Send(String),
    Drop,
}

#[derive(Default)]
struct Gateway {
    /// The `wsc` query of each connect (None for a fresh connect).
    connects: Vec<Option<String>>,
    /// Whether a connect with `wsc` recovers.
    recover: bool,
    /// Whether heartbeats are answered.
    silent: bool,
    subscriptions: u32,
    /// `expiresIn` of the subscriptions it grants (0: the real 24 h default).
    expires_in: u64,
    /// When set, renewals (PUT) are refused with 404 SUB-507.
    forget_subscriptions: bool,
    /// Methods of the subscription requests, in order.
    requests: Vec<String>,
    ws_tokens: u32,
}

struct Platform {
    gateway: Mutex<Gateway>,
    commands: broadcast::Sender<Command>,
    addr: Mutex<String>,
}

type Shared = Arc<Platform>;

async fn token() -> Json<Value> {
    Json(
        json!({"access_token": "tok", "token_type": "bearer", "expires_in": 3600,
                "refresh_token": "ref", "refresh_token_expires_in": 604800}),
    )
}

async fn ws_token(State(p): State<Shared>) -> Json<Value> {
    let n = {
        let mut g = p.gateway.lock().unwrap();
        g.ws_tokens += 1;
        g.ws_tokens
    };
    let addr = p.addr.lock().unwrap().clone();
    Json(
        json!({"uri": format!("ws://{addr}/ws"), "ws_access_token": format!("wst-{n}"), "expires_in": 30}),
    )
}

async fn gateway(
    State(p): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let wsc = q.get("wsc").cloned();
    upgrade
        .on_upgrade(move |socket| serve(socket, p, wsc))
        .into_response()
}

async fn serve(mut socket: WebSocket, p: Shared, wsc: Option<String>) {
    let mut commands = p.commands.subscribe();
    let recovered = {
        let mut g = p.gateway.lock().unwrap();
        g.connects.push(wsc.clone());
        wsc.is_some() && g.recover
    };
    let mut body = json!({"creationTime": "2026-11-25T14:00:00.000Z", "recoveryTimeout": 180,
                          "absoluteTimeout": 86400, "idleTimeout": 1800});
    if wsc.is_some() {
        body["recoveryState"] = json!(if recovered { "Successful" } else { "Failed" });
        if !recovered {
            body["recoveryErrorCode"] = json!("WSG-1005");
        }
    }
    let details = json!([{"type": "ConnectionDetails", "messageId": "cd", "status": 200,
                          "wsc": {"token": "wsc-token", "sequence": 1}}, body]);
    if socket
        .send(Message::Text(details.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(Message::Text(text))) = incoming else { return };
                let frame: Value = serde_json::from_str(&text).unwrap();
                let meta = &frame[0];
                match meta["type"].as_str() {
                    Some("Heartbeat") if !p.gateway.lock().unwrap().silent => {
                        let _ = socket.send(Message::Text(text)).await;
                    }
                    Some("ClientRequest") => {
                        let method = meta["method"].as_str().unwrap().to_owned();
                        let (id, expires_in, refuse) = {
                            let mut g = p.gateway.lock().unwrap();
                            g.requests.push(method.clone());
                            if method == "POST" { g.subscriptions += 1; }
                            let expires_in = if g.expires_in == 0 { 86399 } else { g.expires_in };
                            (g.subscriptions, expires_in, method == "PUT" && g.forget_subscriptions)
                        };
                        if refuse {
                            let reply = json!([
                                {"type": "ClientRequest", "messageId": meta["messageId"], "status": 404, "headers": {}},
                                {"errorCode": "SUB-507", "message": "Subscription is expired", "errors": [{"errorCode": "SUB-507", "message": "Subscription is expired"}]}
                            ]);
                            let _ = socket.send(Message::Text(reply.to_string().into())).await;
                            continue;
                        }
                        let reply = json!([
                            {"type": "ClientRequest", "messageId": meta["messageId"], "status": 200, "headers": {}},
                            {"id": format!("sub-{id}"), "status": "Active", "expiresIn": expires_in,
                             "eventFilters": frame[1]["eventFilters"]}
                        ]);
                        let _ = socket.send(Message::Text(reply.to_string().into())).await;
                    }
                    _ => {}
                }
            }
            command = commands.recv() => match command {
                Ok(Command::Send(text)) => { let _ = socket.send(Message::Text(text.into())).await; }
                Ok(Command::Drop) | Err(_) => return,
            }
        }
    }
}

fn notification(n: u32) -> String {
    json!([{"type": "ServerNotification", "messageId": format!("m{n}"), "status": 200,
            "wsc": {"token": "wsc-token", "sequence": n + 1}},
           {"uuid": format!("m{n}"), "event": "/restapi/v1.0/account/1/telephony/sessions",
            "body": {"sequence": n, "telephonySessionId": "s-1", "parties": []}}])
    .to_string()
}

/// Each sync's kind and the board's live ids it was given.
type SyncLog = Arc<Mutex<Vec<(SyncKind, Vec<String>)>>>;

struct Harness {
    platform: Shared,
    events: mpsc::Receiver<SessionEvent>,
    handle: ws::SessionHandle,
    /// The board ids each sync was given, by kind.
    syncs: SyncLog,
    /// While set, a sync waits for `release` before it returns.
    hold_sync: Arc<AtomicU32>,
    release: Arc<Notify>,
}

async fn start(config: SessionConfig, recover: bool) -> Harness {
    let (commands, _) = broadcast::channel(64);
    let platform = Arc::new(Platform {
        gateway: Mutex::new(Gateway {
            recover,
            ..Gateway::default()
        }),
        commands,
        addr: Mutex::new(String::new()),
    });
    let app = Router::new()
        .route("/restapi/oauth/token", post(token))
        .route("/restapi/oauth/wstoken", post(ws_token))
        .route("/ws", any(gateway))
        .with_state(platform.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    *platform.addr.lock().unwrap() = addr.to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let credentials = Credentials::new(
        &format!("http://{addr}"),
        "id",
        Secret::new("s"),
        Secret::new("jwt"),
    )
    .unwrap();
    let rest = Arc::new(RestClient::connect(credentials, RestConfig::default()).unwrap());
    let syncs = Arc::new(Mutex::new(Vec::new()));
    let hold_sync = Arc::new(AtomicU32::new(0));
    let release = Arc::new(Notify::new());
    let hook: SyncHook = {
        let syncs = syncs.clone();
        let hold_sync = hold_sync.clone();
        let release = release.clone();
        Arc::new(move |kind, board_live| {
            let syncs = syncs.clone();
            let hold_sync = hold_sync.clone();
            let release = release.clone();
            Box::pin(async move {
                syncs.lock().unwrap().push((kind, board_live));
                if hold_sync.load(Ordering::SeqCst) > 0 {
                    release.notified().await;
                }
                Ok(Snapshot {
                    kind,
                    taken_at: chrono::Utc::now(),
                    numbers: None,
                    extensions: None,
                    queues: None,
                    call_log: None,
                    call_log_since: None,
                    presence: Vec::new(),
                    sessions: Vec::new(),
                    warnings: Vec::new(),
                })
            })
        })
    };
    let (tx, events) = mpsc::channel(256);
    let handle = ws::spawn(rest, config, hook, tx);
    Harness {
        platform,
        events,
        handle,
        syncs,
        hold_sync,
        release,
    }
}

impl Harness {
    /// The next event, answering LiveCallsWanted with `board_live`.
    async fn next(&mut self, board_live: &[&str]) -> SessionEvent {
        loop {
            let event = timeout(Duration::from_secs(10), self.events.recv())
                .await
                .expect("the session went quiet")
                .expect("the session ended");
            match event {
                SessionEvent::LiveCallsWanted(reply) => {
                    let _ = reply.send(board_live.iter().map(|s| s.to_string()).collect());
                }
                other => return other,
            }
        }
    }

    async fn expect_state(&mut self, want: &str) -> ConnState {
        match self.next(&[]).await {
            SessionEvent::State(state) => {
                assert!(
                    format!("{state:?}").starts_with(want),
                    "{state:?} is not {want}"
                );
                state
            }
            other => panic!("expected state {want}, got {other:?}"),
        }
    }

    async fn until_live(&mut self, board_live: &[&str]) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.next(board_live).await {
                SessionEvent::State(ConnState::Live) => return seen,
                SessionEvent::State(s) => seen.push(format!("{s:?}")),
                SessionEvent::Synced(s) => seen.push(format!("Synced({:?})", s.kind)),
                SessionEvent::Notification(f) => seen.push(f.as_str().to_owned()),
                SessionEvent::Warning(w) => seen.push(format!("Warning({w})")),
                SessionEvent::LiveCallsWanted(_) => unreachable!(),
            }
        }
    }

    fn command(&self, command: Command) {
        self.platform.commands.send(command).unwrap();
    }

    async fn notification(&mut self) -> String {
        match self.next(&[]).await {
            SessionEvent::Notification(frame) => frame.as_str().to_owned(),
            other => panic!("expected a notification, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn bootstraps_then_passes_notifications_through_untouched() {
    let mut h = start(SessionConfig::default(), true).await;
    h.expect_state("Connecting").await;
    let seen = h.until_live(&[]).await;
    assert_eq!(seen, ["Synced(Bootstrap)"]);
    let requests = h.platform.gateway.lock().unwrap().requests.clone();
    assert_eq!(requests, ["POST"]);
    h.command(Command::Send(notification(1)));
    assert_eq!(h.notification().await, notification(1));
    assert_eq!(h.syncs.lock().unwrap().len(), 1);
    h.handle.shutdown().await;
    let requests = h.platform.gateway.lock().unwrap().requests.clone();
    assert_eq!(
        requests,
        ["POST", "DELETE"],
        "the subscription is deleted on shutdown"
    );
}

#[tokio::test]
async fn a_drop_inside_the_window_recovers_with_wsc_and_does_not_resync() {
    let mut h = start(SessionConfig::default(), true).await;
    h.expect_state("Connecting").await;
    h.until_live(&[]).await;
    h.command(Command::Send(notification(5)));
    h.notification().await;
    h.command(Command::Drop);
    h.expect_state("Offline").await;
    h.expect_state("Recovering").await;
    h.expect_state("Live").await;
    h.command(Command::Send(notification(6)));
    assert_eq!(h.notification().await, notification(6));
    let g = h.platform.gateway.lock().unwrap();
    assert_eq!(g.connects, [None, Some("wsc-token".to_owned())]);
    assert_eq!(g.ws_tokens, 2, "a fresh wstoken for every connect");
    assert_eq!(g.subscriptions, 1, "the recovered subscription is kept");
    assert_eq!(
        g.requests,
        ["POST", "PUT"],
        "the restored subscription is confirmed"
    );
    drop(g);
    assert_eq!(
        h.syncs.lock().unwrap().len(),
        1,
        "no resync after a recovery"
    );
    assert_eq!(ws::SessionStats::get(&h.handle.stats().recoveries), 1);
}

#[tokio::test]
async fn a_failed_recovery_resubscribes_and_resyncs_holding_events_until_the_snapshot() {
    let mut h = start(SessionConfig::default(), false).await;
    h.expect_state("Connecting").await;
    h.until_live(&[]).await;
    h.hold_sync.store(1, Ordering::SeqCst);
    h.command(Command::Drop);
    h.expect_state("Offline").await;
    h.expect_state("Recovering").await;
    h.expect_state("Resyncing").await;
    // The board reports one live call; the resync must check it.
    match h.events.recv().await.unwrap() {
        SessionEvent::LiveCallsWanted(reply) => reply.send(vec!["s-1".to_owned()]).unwrap(),
        other => panic!("expected LiveCallsWanted, got {other:?}"),
    }
    // Events during the resync are held back...
    h.command(Command::Send(notification(9)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        h.events.try_recv().is_err(),
        "nothing may pass before the snapshot"
    );
    h.release.notify_one();
    // ...and released right after it.
    let seen = h.until_live(&[]).await;
    assert_eq!(seen, ["Synced(Resync)".to_owned(), notification(9)]);
    let syncs = h.syncs.lock().unwrap().clone();
    assert_eq!(syncs[1], (SyncKind::Resync, vec!["s-1".to_owned()]));
    assert_eq!(h.platform.gateway.lock().unwrap().subscriptions, 2);
    assert_eq!(
        ws::SessionStats::get(&h.handle.stats().failed_recoveries),
        1
    );
}

#[tokio::test]
async fn an_unanswered_heartbeat_is_a_dead_socket() {
    let config = SessionConfig {
        heartbeat_after: Duration::from_millis(150),
        heartbeat_timeout: Duration::from_millis(150),
        ..SessionConfig::default()
    };
    let mut h = start(config, true).await;
    h.platform.gateway.lock().unwrap().silent = true;
    h.expect_state("Connecting").await;
    h.until_live(&[]).await;
    match h.expect_state("Offline").await {
        ConnState::Offline { reason, .. } => assert!(reason.contains("heartbeat"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unreadable_frames_are_counted_and_skipped() {
    let mut h = start(SessionConfig::default(), true).await;
    h.expect_state("Connecting").await;
    h.until_live(&[]).await;
    for bad in [
        "not json",
        "[]",
        "{\"type\":1}",
        "[{\"type\":\"ServerNotification\"",
    ] {
        h.command(Command::Send(bad.to_owned()));
    }
    h.command(Command::Send(notification(2)));
    assert_eq!(h.notification().await, notification(2));
    assert_eq!(ws::SessionStats::get(&h.handle.stats().unparseable), 4);
}

#[tokio::test]
async fn wsg_903_is_a_planned_reconnect_without_an_offline_state() {
    let mut h = start(SessionConfig::default(), true).await;
    h.expect_state("Connecting").await;
    h.until_live(&[]).await;
    let error = json!([{"type": "Error", "messageId": "e", "status": 400},
                       {"errorCode": "WSG-903", "message": "Absolute timeout expired"}]);
    h.command(Command::Send(error.to_string()));
    h.expect_state("Recovering").await;
    h.expect_state("Live").await;
}

#[tokio::test]
async fn a_drop_during_the_bootstrap_redoes_it_after_recovery_still_holding_events() {
    let mut h = start(SessionConfig::default(), true).await;
    h.hold_sync.store(1, Ordering::SeqCst);
    h.expect_state("Connecting").await;
    // The bootstrap is now in flight and held; an event arrives, then the socket drops.
    match h.events.recv().await.unwrap() {
        SessionEvent::LiveCallsWanted(reply) => reply.send(Vec::new()).unwrap(),
        other => panic!("expected LiveCallsWanted, got {other:?}"),
    }
    h.command(Command::Send(notification(3)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    h.command(Command::Drop);
    h.expect_state("Offline").await;
    h.expect_state("Recovering").await;
    match h.events.recv().await.unwrap() {
        SessionEvent::LiveCallsWanted(reply) => reply.send(Vec::new()).unwrap(),
        other => panic!("expected the bootstrap to be redone, got {other:?}"),
    }
    h.command(Command::Send(notification(4)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        h.events.try_recv().is_err(),
        "events stay held until the snapshot"
    );
    h.release.notify_one();
    let seen = h.until_live(&[]).await;
    assert_eq!(
        seen,
        [
            "Synced(Bootstrap)".to_owned(),
            notification(3),
            notification(4)
        ]
    );
    let kinds: Vec<SyncKind> = h.syncs.lock().unwrap().iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [SyncKind::Bootstrap, SyncKind::Bootstrap]);
}

#[tokio::test]
async fn a_short_lived_subscription_is_renewed_and_a_lost_one_replaced_with_a_resync() {
    let mut h = start(SessionConfig::default(), true).await;
    // Renewed at 80 % of its 1 s life, well before the socket's 24 h.
    h.platform.gateway.lock().unwrap().expires_in = 1;
    h.expect_state("Connecting").await;
    h.until_live(&[]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !h
        .platform
        .gateway
        .lock()
        .unwrap()
        .requests
        .contains(&"PUT".to_owned())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no renewal was sent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Now the platform has forgotten it: the next renewal gets 404 SUB-507.
    {
        let mut g = h.platform.gateway.lock().unwrap();
        g.forget_subscriptions = true;
        g.expires_in = 86399;
    }
    h.expect_state("Resyncing").await;
    let seen = h.until_live(&[]).await;
    assert_eq!(seen, ["Synced(Resync)"]);
    let g = h.platform.gateway.lock().unwrap();
    assert_eq!(
        g.subscriptions, 2,
        "a new subscription replaced the lost one"
    );
    assert_eq!(g.connects.len(), 1, "on the same socket");
}
