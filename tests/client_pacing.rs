//! Start-up at a busy account against the simulator: the client paces its REST reads by what
//! the server announces in `X-Rate-Limit-*`, shows the live calls before it reads today's call
//! log, and never earns a 429 by guessing.
//!
//! Timeouts here are safety nets, not measurements: each test fails on what the client did
//! (a pacing wait it should not have made, a 429 it should have avoided, the order of the
//! snapshots), never on how long it took.

use std::time::Duration;

use callboard::board::{Board, BoardConfig};
use callboard::rc::apply;
use callboard::rc::sync::platform_sync;
use callboard::rc::transport::{NoticeCause, RestNotice};
use callboard::rc::ws::{self, SessionConfig, SessionEvent, SyncKind};
use callboard::rc::{RestClient, RestConfig};
use callboard::sim::{RateLimits, SimConfig, SimHandle, Simulator, WorldConfig};
use chrono::Utc;
use tokio::sync::{broadcast, mpsc};

/// An account with a few hundred calls live and two hours of calls behind it: hundreds of
/// Light-group session reads and several Heavy-group call-log pages at start-up.
fn busy_account(rate_limits: RateLimits) -> SimConfig {
    SimConfig {
        rate_limits,
        world: WorldConfig {
            seed: 7,
            queues: 6,
            agents_per_queue: 20,
            calls_per_minute: 90.0,
            history_minutes: 120,
            ..WorldConfig::default()
        },
        ..SimConfig::default()
    }
}

/// What start-up looked like from the app's side.
struct StartUp {
    /// Each snapshot applied, in order, with the live calls on the board right after it.
    snapshots: Vec<(SyncKind, usize)>,
    /// Calls today's call log added.
    from_call_log: usize,
    notices: Vec<RestNotice>,
}

/// Runs the client against `sim` until the bootstrap and today's call log are applied.
async fn start_up(sim: &SimHandle) -> StartUp {
    let credentials = sim.client_credentials(sim.base_url()).unwrap();
    let rest =
        std::sync::Arc::new(RestClient::connect(credentials, RestConfig::default()).unwrap());
    let mut notices = rest.notices();
    let (tx, mut events) = mpsc::channel(4096);
    let session = ws::spawn(
        rest.clone(),
        SessionConfig::default(),
        platform_sync(rest.clone(), chrono_tz::UTC),
        tx,
    );
    let mut board = Board::new(BoardConfig::default(), Vec::<String>::new());
    let mut snapshots = Vec::new();
    let mut from_call_log = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !snapshots
        .iter()
        .any(|(kind, _)| *kind == SyncKind::TodaysCalls)
    {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("safety net: start-up finished")
            .expect("the session is running");
        let now = Utc::now();
        match event {
            SessionEvent::LiveCallsWanted(reply) => {
                let _ = reply.send(apply::live_call_ids(&board));
            }
            SessionEvent::Synced(snapshot) => {
                let summary = apply::apply_snapshot(&mut board, &snapshot, now);
                from_call_log += summary.from_call_log;
                snapshots.push((snapshot.kind, board.live_calls().count()));
            }
            SessionEvent::Notification(frame) => {
                let _ = apply::apply_notification(&mut board, frame.as_str(), now);
            }
            SessionEvent::State(_) => {}
            SessionEvent::Warning(warning) => panic!("start-up warned: {warning}"),
        }
    }
    session.shutdown().await;
    rest.auth().revoke().await;
    let mut seen = Vec::new();
    loop {
        match notices.try_recv() {
            Ok(notice) => seen.push(notice),
            Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(_) => break,
        }
    }
    StartUp {
        snapshots,
        from_call_log,
        notices: seen,
    }
}

fn caused(notices: &[RestNotice], cause: &NoticeCause) -> usize {
    notices.iter().filter(|n| &n.cause == cause).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_rate_limits_off_a_busy_start_never_paces() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Simulator::start(busy_account(RateLimits::off()))
        .await
        .unwrap();
    let start = start_up(&sim).await;
    sim.shutdown().await;

    // Far more Light and Heavy reads than the published limits (50 and 10 a minute) allow:
    // a client pacing by those would wait here; the server announced room for them all.
    let (kind, live) = start.snapshots[0];
    assert_eq!(kind, SyncKind::Bootstrap);
    assert!(live > 60, "a busy account has many live calls, got {live}");
    assert!(
        start.notices.is_empty(),
        "no wait was needed: {:?}",
        start.notices
    );
    assert!(start.from_call_log > 0, "today's earlier calls were read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tight_limits_start_up_paces_by_the_headers_and_earns_no_429() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Two-second windows so the test sees many windows: the client learns them from
    // `X-Rate-Limit-Window` (it starts with the published 60 s).
    let limits = RateLimits {
        light: 60,
        medium: 20,
        heavy: 3,
        auth: 5,
        window: Duration::from_secs(2),
        penalty: Duration::from_secs(2),
        enabled: true,
    };
    let sim = Simulator::start(busy_account(limits)).await.unwrap();
    let start = start_up(&sim).await;
    sim.shutdown().await;

    assert!(
        caused(&start.notices, &NoticeCause::Pacing) > 0,
        "the reads exceed the limits, so the client paced: {:?}",
        start.notices
    );
    assert_eq!(
        caused(&start.notices, &NoticeCause::RateLimited),
        0,
        "pacing by the headers avoids every 429: {:?}",
        start.notices
    );
    // The live calls were on the board before the call-log pages (Heavy) were read.
    let kinds: Vec<SyncKind> = start.snapshots.iter().map(|(kind, _)| *kind).collect();
    assert_eq!(kinds, [SyncKind::Bootstrap, SyncKind::TodaysCalls]);
    assert!(start.snapshots[0].1 > 0);
    assert!(start.from_call_log > 0);
}
