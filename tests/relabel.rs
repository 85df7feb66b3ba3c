//! Relabelling against the embedded simulator over real loopback sockets (issue 5 "Done means"):
//! single and bulk writes, a 429 in the middle of a bulk, a 5xx then success, refusals (403,
//! 404), callboard and the simulator each killed mid-bulk, undo, the audit, and the
//! `callboard numbers` CLI (dry run, real run, read-only) as a real binary.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use callboard::app::relabel::{
    DrainSummary, PlannedRelabel, RelabelWriter, WriteOutcome, plan_undo, with_campaign,
};
use callboard::board::label::LabelGrammar;
use callboard::rc::records::PhoneNumber;
use callboard::rc::transport::NoticeCause;
use callboard::rc::{RestClient, RestConfig, RetryPolicy};
use callboard::sim::{SimConfig, SimHandle, Simulator};
use callboard::store::{RelabelOutcome, Store, StoreConfig};
use chrono::Utc;
use serde_json::{Value, json};

const SEED: u64 = 505;

fn rest_for(sim: &SimHandle) -> Arc<RestClient> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let credentials = sim.client_credentials(sim.base_url()).unwrap();
    // Quick retries so a fault outlasts them in a test's time, not a shift's.
    let config = RestConfig {
        retry: RetryPolicy {
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(100),
            ..RetryPolicy::default()
        },
        ..RestConfig::default()
    };
    Arc::new(RestClient::connect(credentials, config).unwrap())
}

async fn start_sim(listen: Option<SocketAddr>) -> SimHandle {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = SimConfig::for_tests(SEED);
    if let Some(addr) = listen {
        config.listen = addr;
    }
    Simulator::start(config).await.unwrap()
}

fn open_store(dir: &Path) -> Store {
    Store::open(dir, StoreConfig::default()).unwrap()
}

/// A simulator, a client signed in to it, and a relabel writer over a fresh store (kept alive
/// by `_dir`).
struct Setup {
    sim: SimHandle,
    rest: Arc<RestClient>,
    writer: RelabelWriter,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let sim = start_sim(None).await;
    let rest = rest_for(&sim);
    let dir = tempfile::tempdir().unwrap();
    let writer = RelabelWriter::for_token_owner(rest.clone(), open_store(dir.path())).await;
    Setup {
        sim,
        rest,
        writer,
        _dir: dir,
    }
}

/// The write ended for good: the platform's `code`, and a message that starts with `words`.
fn assert_refused(outcome: &WriteOutcome, code: &str, words: &str) {
    match outcome {
        WriteOutcome::Failed { code: got, message } => {
            assert_eq!(got.as_deref(), Some(code));
            assert!(message.starts_with(words), "{message}");
        }
        other => panic!("a refusal ({code}) is final, got {other:?}"),
    }
}

async fn fault(sim: &SimHandle, body: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/_sim/fault", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "fault {body} refused");
}

/// The account's CTNs (labels with a DN), sorted by number for stable choices.
async fn ctns(rest: &RestClient) -> Vec<PhoneNumber> {
    let grammar = LabelGrammar::default();
    let mut numbers: Vec<PhoneNumber> = rest
        .phone_numbers()
        .await
        .unwrap()
        .into_iter()
        .filter(|n| {
            grammar
                .parse(n.label.as_deref())
                .is_some_and(|p| p.dn.is_some())
        })
        .collect();
    numbers.sort_by(|a, b| a.phone_number.cmp(&b.phone_number));
    assert!(numbers.len() >= 6, "the test world needs CTNs");
    numbers
}

async fn label_of(rest: &RestClient, number_id: &str) -> Option<String> {
    let record: PhoneNumber = rest
        .get_json(
            "read a number",
            &format!("/restapi/v1.0/account/~/phone-number/{number_id}"),
            &[],
        )
        .await
        .unwrap();
    record.label
}

/// "Set campaign" for each number, keeping its DN, as the bulk editor plans it.
fn move_to(campaign: &str, numbers: &[PhoneNumber]) -> Vec<PlannedRelabel> {
    let grammar = LabelGrammar::default();
    numbers
        .iter()
        .map(|n| PlannedRelabel {
            number_id: n.id.clone(),
            phone_number: n.phone_number.clone(),
            old_label: n.label.clone(),
            new_label: with_campaign(&grammar, n.label.as_deref(), campaign).unwrap(),
        })
        .collect()
}

/// Drains until nothing is pending (the platform may refuse for a while), with a safety net.
async fn drain_until_done(writer: &RelabelWriter) -> DrainSummary {
    let mut total = DrainSummary::default();
    for _ in 0..100 {
        let summary = writer.drain(|_| {}).await.unwrap();
        total.landed += summary.landed;
        total.failed += summary.failed;
        if summary.still_pending == 0 {
            return total;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("writes still pending after many tries: {total:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_relabel_lands_and_the_audit_says_who_what_and_when() {
    let Setup {
        sim,
        rest,
        writer,
        _dir,
    } = setup().await;
    assert!(
        !writer.who().contains("unknown"),
        "the audit names the token's owner, got {:?}",
        writer.who()
    );
    let number = ctns(&rest).await.remove(0);
    let plan = move_to("Billboard North", std::slice::from_ref(&number));
    let before = Utc::now();
    let confirmed = writer.confirm(&plan, Utc::now()).unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].batch_id, None, "one write is not a batch");
    assert_eq!(writer.store().pending_relabels().unwrap().len(), 1);

    let report = writer.write(&confirmed[0]).await.unwrap();
    assert_eq!(
        report.outcome,
        WriteOutcome::Applied {
            label: plan[0].new_label.clone()
        }
    );
    assert_eq!(
        label_of(&rest, &number.id).await.as_deref(),
        Some(plan[0].new_label.as_str())
    );
    assert!(writer.store().pending_relabels().unwrap().is_empty());

    let audit = writer.store().audit_log().unwrap();
    assert_eq!(audit.len(), 1);
    let entry = &audit[0];
    assert_eq!(entry.phone_number, number.phone_number);
    assert_eq!(entry.old_label, number.label);
    assert_eq!(entry.new_label, plan[0].new_label);
    assert_eq!(entry.outcome, RelabelOutcome::Applied);
    assert_eq!(entry.who, writer.who());
    assert!(entry.at >= before && entry.confirmed_at <= entry.at);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_relabel_under_a_429_is_paced_and_every_write_lands() {
    let sim = start_sim(None).await;
    let rest = rest_for(&sim);
    let mut notices = rest.notices();
    let dir = tempfile::tempdir().unwrap();
    let writer = RelabelWriter::for_token_owner(rest.clone(), open_store(dir.path())).await;
    let numbers: Vec<PhoneNumber> = ctns(&rest).await.into_iter().take(5).collect();
    let plans = move_to("Spring Radio", &numbers);
    let confirmed = writer.confirm(&plans, Utc::now()).unwrap();
    let batch = confirmed[0].batch_id.clone().expect("a bulk is one batch");
    assert!(
        confirmed
            .iter()
            .all(|w| w.batch_id.as_ref() == Some(&batch))
    );

    // Two writes go through, then the platform rate-limits the writes' group for a moment.
    for write in &confirmed[..2] {
        assert!(writer.write(write).await.unwrap().outcome.landed());
    }
    fault(
        &sim,
        json!({"kind": "rate_limit", "group": "medium", "seconds": 2}),
    )
    .await;
    let summary = drain_until_done(&writer).await;
    assert_eq!(summary.landed, 3);
    assert_eq!(summary.failed, 0);

    for (number, plan) in numbers.iter().zip(&plans) {
        assert_eq!(
            label_of(&rest, &number.id).await.as_deref(),
            Some(plan.new_label.as_str())
        );
    }
    let audit = writer.store().audit_log().unwrap();
    assert_eq!(audit.len(), 5, "one audit line per write, none doubled");
    assert!(audit.iter().all(|e| e.outcome.is_success()));
    let mut paced = false;
    while let Ok(notice) = notices.try_recv() {
        paced |= matches!(notice.cause, NoticeCause::RateLimited);
    }
    assert!(paced, "the wait on the rate limit was announced");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_keep_the_write_pending_until_it_lands() {
    let Setup {
        sim,
        rest,
        writer,
        _dir,
    } = setup().await;
    let number = ctns(&rest).await.remove(1);
    let plan = move_to("Mailer Q4", std::slice::from_ref(&number));
    fault(
        &sim,
        json!({"kind": "http_error", "path_prefix": "/restapi/v1.0/account/~/phone-number/", "status": 500, "seconds": 3}),
    )
    .await;
    let confirmed = writer.confirm(&plan, Utc::now()).unwrap();
    let report = writer.write(&confirmed[0]).await.unwrap();
    match &report.outcome {
        WriteOutcome::Deferred { reason, .. } => {
            assert!(reason.contains("HTTP 500"), "{reason}");
            assert!(
                report
                    .outcome
                    .words()
                    .starts_with("RingCentral is having trouble (HTTP 500) — will retry in 30 s"),
                "{}",
                report.outcome.words()
            );
        }
        other => panic!("a 5xx keeps the write pending, got {other:?}"),
    }
    let pending = writer.store().pending_relabels().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].attempts, 1, "one try so far");

    drain_until_done(&writer).await;
    assert_eq!(
        label_of(&rest, &number.id).await.as_deref(),
        Some(plan[0].new_label.as_str())
    );
    let audit = writer.store().audit_log().unwrap();
    assert_eq!(audit.len(), 1);
    assert!(audit[0].outcome.is_success());
    assert!(
        audit[0].attempts >= 2,
        "the retry is counted: {}",
        audit[0].attempts
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_is_final_says_not_permitted_with_the_code_and_keeps_the_label() {
    let Setup {
        sim,
        rest,
        writer,
        _dir,
    } = setup().await;
    let number = ctns(&rest).await.remove(2);
    fault(
        &sim,
        json!({"kind": "http_error", "path_prefix": format!("/restapi/v1.0/account/~/phone-number/{}", number.id), "status": 403, "seconds": 30}),
    )
    .await;
    let forbidden = writer
        .confirm(
            &move_to("Not Allowed", std::slice::from_ref(&number)),
            Utc::now(),
        )
        .unwrap();
    let report = writer.write(&forbidden[0]).await.unwrap();
    assert_refused(
        &report.outcome,
        "CMN-109",
        "not permitted for this account (HTTP 403, CMN-109)",
    );
    assert!(writer.store().pending_relabels().unwrap().is_empty());
    let audit = writer.store().audit_log().unwrap();
    assert_eq!(audit.len(), 1);
    assert!(matches!(audit[0].outcome, RelabelOutcome::Failed { .. }));
    // Undo has nothing to put back: nothing landed.
    assert_eq!(plan_undo(&audit), None);
    // Other numbers still answer: only the faulted one is refused.
    let other = ctns(&rest).await.remove(3);
    let still_works = writer
        .confirm(
            &move_to("Still Works", std::slice::from_ref(&other)),
            Utc::now(),
        )
        .unwrap();
    assert!(
        writer
            .write(&still_works[0])
            .await
            .unwrap()
            .outcome
            .landed()
    );
    // The refused number kept its label (read from the list: its own path is still faulted).
    let listed = rest.phone_numbers().await.unwrap();
    let refused = listed.iter().find(|n| n.id == number.id).unwrap();
    assert_eq!(refused.label, number.label);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_is_final_and_says_the_number_is_not_on_the_account() {
    let Setup {
        sim,
        rest,
        writer,
        _dir,
    } = setup().await;
    let before = rest.phone_numbers().await.unwrap();
    let ghost = PlannedRelabel {
        number_id: "999999999".into(),
        phone_number: "+19995550100".into(),
        old_label: None,
        new_label: "Ghost".into(),
    };
    let missing = writer.confirm(&[ghost], Utc::now()).unwrap();
    let report = writer.write(&missing[0]).await.unwrap();
    assert_refused(
        &report.outcome,
        "CMN-102",
        "number not found on the account (HTTP 404, CMN-102)",
    );
    assert!(writer.store().pending_relabels().unwrap().is_empty());
    let audit = writer.store().audit_log().unwrap();
    assert_eq!(audit.len(), 1);
    assert!(matches!(
        &audit[0].outcome,
        RelabelOutcome::Failed { code: Some(code), .. } if code == "CMN-102"
    ));
    // Nothing on the account changed.
    let after = rest.phone_numbers().await.unwrap();
    let labels = |numbers: &[PhoneNumber]| -> Vec<Option<String>> {
        numbers.iter().map(|n| n.label.clone()).collect()
    };
    assert_eq!(labels(&before), labels(&after));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callboard_killed_mid_bulk_resumes_and_never_writes_twice() {
    let sim = start_sim(None).await;
    let rest = rest_for(&sim);
    let dir = tempfile::tempdir().unwrap();
    let numbers: Vec<PhoneNumber> = ctns(&rest).await.into_iter().take(4).collect();
    let plans = move_to("Crash Test", &numbers);
    {
        let writer = RelabelWriter::new(rest.clone(), open_store(dir.path()), "Ann");
        let confirmed = writer.confirm(&plans, Utc::now()).unwrap();
        assert!(writer.write(&confirmed[0]).await.unwrap().outcome.landed());
        // The third write reaches the platform, then callboard dies before recording the answer.
        let store = writer.store();
        store
            .note_relabel_attempt(&confirmed[1].idempotency_key, None)
            .unwrap();
        rest.relabel(&confirmed[1].number_id, &confirmed[1].new_label)
            .await
            .unwrap();
    }
    // Restart: the same data dir.
    let writer = RelabelWriter::new(rest.clone(), open_store(dir.path()), "Ann");
    let pending = writer.store().pending_relabels().unwrap();
    assert_eq!(pending.len(), 3);
    let mut outcomes = Vec::new();
    let summary = writer
        .drain(|report| outcomes.push((report.write.number_id.clone(), report.outcome.clone())))
        .await
        .unwrap();
    assert_eq!(summary.landed, 3);
    assert_eq!(
        outcomes[0],
        (
            numbers[1].id.clone(),
            WriteOutcome::AlreadyApplied {
                label: plans[1].new_label.clone()
            }
        ),
        "the write that landed before the crash is not sent again"
    );
    for (number, plan) in numbers.iter().zip(&plans) {
        assert_eq!(
            label_of(&rest, &number.id).await.as_deref(),
            Some(plan.new_label.as_str())
        );
    }
    let audit = writer.store().audit_log().unwrap();
    assert_eq!(audit.len(), 4);
    let mut keys: Vec<_> = audit.iter().map(|e| e.idempotency_key.clone()).collect();
    keys.dedup();
    assert_eq!(keys.len(), 4, "each write is audited once");
    assert_eq!(audit[1].outcome, RelabelOutcome::AlreadyApplied);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_killed_mid_bulk_then_callboard_restarted_finishes_the_rest() {
    let sim = start_sim(None).await;
    let addr = sim.addr();
    let rest = rest_for(&sim);
    let dir = tempfile::tempdir().unwrap();
    let numbers: Vec<PhoneNumber> = ctns(&rest).await.into_iter().take(3).collect();
    let plans = move_to("Outage Week", &numbers);
    {
        let writer = RelabelWriter::new(rest.clone(), open_store(dir.path()), "Ann");
        let confirmed = writer.confirm(&plans, Utc::now()).unwrap();
        assert!(writer.write(&confirmed[0]).await.unwrap().outcome.landed());
        sim.shutdown().await;
        let summary = writer.drain(|_| {}).await.unwrap();
        assert_eq!(summary.landed, 0);
        assert_eq!(summary.still_pending, 2, "nothing confirmed is lost");
    }
    // The platform is back (same address, same account) and callboard starts again.
    let sim = start_sim(Some(addr)).await;
    let rest = rest_for(&sim);
    let writer = RelabelWriter::new(rest.clone(), open_store(dir.path()), "Ann");
    assert_eq!(writer.store().pending_relabels().unwrap().len(), 2);
    let summary = drain_until_done(&writer).await;
    assert_eq!(summary.landed, 2);
    for (number, plan) in numbers.iter().zip(&plans).skip(1) {
        assert_eq!(
            label_of(&rest, &number.id).await.as_deref(),
            Some(plan.new_label.as_str())
        );
    }
    let audit = writer.store().audit_log().unwrap();
    assert_eq!(audit.len(), 3, "three writes, three audit lines");
    assert!(audit.iter().all(|e| e.outcome.is_success()));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_puts_back_every_label_of_the_last_bulk() {
    let sim = start_sim(None).await;
    let rest = rest_for(&sim);
    let dir = tempfile::tempdir().unwrap();
    let writer = RelabelWriter::new(rest.clone(), open_store(dir.path()), "Ann");
    let numbers: Vec<PhoneNumber> = ctns(&rest).await.into_iter().take(3).collect();
    writer
        .confirm(&move_to("Oops", &numbers), Utc::now())
        .unwrap();
    assert_eq!(drain_until_done(&writer).await.landed, 3);

    let audit = writer.store().audit_recent(100).unwrap();
    let undo = plan_undo(&audit).expect("the bulk can be undone");
    assert_eq!(undo.len(), 3);
    writer.confirm(&undo, Utc::now()).unwrap();
    assert_eq!(drain_until_done(&writer).await.landed, 3);
    for number in &numbers {
        assert_eq!(label_of(&rest, &number.id).await, number.label);
    }
    let audit = writer.store().audit_log().unwrap();
    assert_eq!(audit.len(), 6);
    assert_eq!(
        audit[3].old_label.as_deref(),
        Some(audit[0].new_label.as_str())
    );
    assert_eq!(audit[3].new_label, audit[0].old_label.clone().unwrap());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_worker_resumes_writes_then_writes_and_undoes_on_request() {
    use callboard::app::relabel::{RelabelEvent, RelabelRequest, run_worker};
    let sim = start_sim(None).await;
    let rest = rest_for(&sim);
    let dir = tempfile::tempdir().unwrap();
    let numbers: Vec<PhoneNumber> = ctns(&rest).await.into_iter().take(3).collect();
    // An earlier run confirmed a write and stopped before sending it.
    let earlier = RelabelWriter::new(rest.clone(), open_store(dir.path()), "Ann");
    earlier
        .confirm(&move_to("Left Over", &numbers[..1]), Utc::now())
        .unwrap();
    drop(earlier);

    let writer = RelabelWriter::new(rest.clone(), open_store(dir.path()), "Ann");
    let (requests, requests_rx) = tokio::sync::mpsc::channel(4);
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let worker = tokio::spawn(run_worker(writer, requests_rx, move |event| {
        events_tx.send(event).is_ok()
    }));
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("the worker answers")
            .expect("the worker is running")
    };
    match next().await {
        RelabelEvent::Pending(resumed) => assert_eq!(resumed.len(), 1),
        other => panic!("resumed writes are announced first, got {other:?}"),
    }
    match next().await {
        RelabelEvent::Done(report) => assert!(report.outcome.landed(), "{report:?}"),
        other => panic!("the resumed write is sent, got {other:?}"),
    }

    requests
        .send(RelabelRequest::Write(move_to("Board Bulk", &numbers[1..])))
        .await
        .unwrap();
    match next().await {
        RelabelEvent::Pending(writes) => {
            assert_eq!(writes.len(), 2);
            assert!(writes[0].batch_id.is_some() && writes[0].batch_id == writes[1].batch_id);
        }
        other => panic!("the bulk is kept as pending first, got {other:?}"),
    }
    for _ in 0..2 {
        let RelabelEvent::Done(report) = next().await else {
            panic!("each write reports")
        };
        assert!(report.outcome.landed());
    }

    requests.send(RelabelRequest::UndoLast).await.unwrap();
    let RelabelEvent::Pending(undo) = next().await else {
        panic!("the undo is kept as pending first")
    };
    assert_eq!(undo.len(), 2, "undo puts back the whole last bulk");
    for _ in 0..2 {
        let RelabelEvent::Done(report) = next().await else {
            panic!("each undo write reports")
        };
        assert!(report.outcome.landed());
    }
    for number in &numbers[1..] {
        assert_eq!(label_of(&rest, &number.id).await, number.label);
    }
    assert_eq!(
        label_of(&rest, &numbers[0].id).await.as_deref(),
        Some(
            with_campaign(
                &LabelGrammar::default(),
                numbers[0].label.as_deref(),
                "Left Over"
            )
            .unwrap()
            .as_str()
        ),
        "the resumed write is not part of the undone bulk"
    );
    drop(requests);
    worker.await.unwrap();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_reports_rate_limit_pacing_and_cancel_drops_only_writes_never_sent() {
    use callboard::app::relabel::{RelabelEvent, RelabelRequest, run_worker};
    let sim = start_sim(None).await;
    let rest = rest_for(&sim);
    let dir = tempfile::tempdir().unwrap();
    let numbers: Vec<PhoneNumber> = ctns(&rest).await.into_iter().take(5).collect();
    let writer = RelabelWriter::new(rest.clone(), open_store(dir.path()), "Ann");
    let (requests, requests_rx) = tokio::sync::mpsc::channel(4);
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let worker = tokio::spawn(run_worker(writer, requests_rx, move |event| {
        events_tx.send(event).is_ok()
    }));
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("the worker answers")
            .expect("the worker is running")
    };

    // The writes' group is rate-limited before the bulk starts: the first write waits.
    fault(
        &sim,
        json!({"kind": "rate_limit", "group": "medium", "seconds": 2}),
    )
    .await;
    requests
        .send(RelabelRequest::Write(move_to("Paced Bulk", &numbers)))
        .await
        .unwrap();
    let RelabelEvent::Pending(confirmed) = next().await else {
        panic!("the bulk is kept as pending first")
    };
    assert_eq!(confirmed.len(), 5);
    match next().await {
        RelabelEvent::Paced { wait, reason } => {
            assert!(wait > Duration::ZERO);
            assert!(reason.contains("rate limited"), "{reason}");
        }
        other => panic!("the wait on the rate limit is reported, got {other:?}"),
    }
    // Cancel while the first write is being sent: it is never cut, the other four never go.
    requests.send(RelabelRequest::CancelUnsent).await.unwrap();
    let mut landed = Vec::new();
    let cancelled = loop {
        match next().await {
            RelabelEvent::Paced { .. } => {}
            RelabelEvent::Done(report) => {
                assert!(report.outcome.landed(), "{report:?}");
                landed.push(report.write.number_id.clone());
            }
            RelabelEvent::Cancelled(writes) => break writes,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(landed, [numbers[0].id.clone()], "the write in flight lands");
    let cancelled_ids: Vec<&str> = cancelled.iter().map(|w| w.number_id.as_str()).collect();
    let rest_ids: Vec<&str> = numbers[1..].iter().map(|n| n.id.as_str()).collect();
    assert_eq!(cancelled_ids, rest_ids);

    assert_eq!(
        label_of(&rest, &numbers[0].id).await.as_deref(),
        Some(confirmed[0].new_label.as_str())
    );
    for number in &numbers[1..] {
        assert_eq!(
            label_of(&rest, &number.id).await,
            number.label,
            "never sent"
        );
    }
    drop(requests);
    worker.await.unwrap();
    let store = open_store(dir.path());
    assert!(store.pending_relabels().unwrap().is_empty());
    let audit = store.audit_log().unwrap();
    assert_eq!(audit.len(), 5, "every write is audited once");
    assert!(audit[0].outcome.is_success());
    assert!(audit[1..].iter().all(|e| matches!(
        &e.outcome,
        RelabelOutcome::Abandoned { reason } if reason == "cancelled before it was sent"
    )));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_list_counts_live_and_todays_calls_as_the_simulator_has_them() {
    let sim = start_sim(None).await;
    let home = tempfile::tempdir().unwrap();
    // Let some calls arrive, then hold the world still so the list and the truth agree.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let http = reqwest::Client::new();
    let paused = http
        .post(format!("{}/_sim/pause", sim.base_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(paused.status().is_success());
    // A finished call reaches the call log a moment after it ends, as on the platform.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut list = cli(&sim, home.path());
    list.args(["numbers", "list", "--json"]);
    let listed = run(list).await;
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let truth: Value = http
        .get(format!("{}/_sim/truth", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // Per campaign row of the truth: its numbers' live and today's calls add up to its own.
    let count = |number: &str, field: &str| -> i64 {
        rows.iter()
            .find(|r| r["phone_number"] == number)
            .map_or(0, |r| r[field].as_i64().unwrap())
    };
    let mut total_today = 0;
    for campaign in truth["campaigns"].as_array().unwrap() {
        if campaign["campaign"] == "(unknown)" {
            continue;
        }
        let numbers: Vec<&str> = campaign["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        let live: i64 = numbers.iter().map(|n| count(n, "live_now")).sum();
        let today: i64 = numbers.iter().map(|n| count(n, "calls_today")).sum();
        assert_eq!(live, campaign["live"].as_i64().unwrap(), "{campaign}");
        assert_eq!(today, campaign["offered"].as_i64().unwrap(), "{campaign}");
        total_today += today;
    }
    assert!(total_today > 0, "the test world has calls today");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_changed_elsewhere_reaches_the_board_with_the_next_refresh() {
    use callboard::app::relabel::{RelabelEvent, run_worker_refreshing};
    let sim = start_sim(None).await;
    let rest = rest_for(&sim);
    let dir = tempfile::tempdir().unwrap();
    let number = ctns(&rest).await.remove(0);
    let writer = RelabelWriter::new(rest.clone(), open_store(dir.path()), "Ann");
    let (requests, requests_rx) = tokio::sync::mpsc::channel(4);
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let worker = tokio::spawn(run_worker_refreshing(
        writer,
        requests_rx,
        move |event| events_tx.send(event).is_ok(),
        Duration::from_millis(300),
    ));
    // Another supervisor relabels the number with their own client.
    let elsewhere = rest_for(&sim);
    elsewhere
        .relabel(&number.id, "Changed Elsewhere +14155550100")
        .await
        .unwrap();
    let refreshed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await.expect("the worker is running") {
                RelabelEvent::NumbersRefreshed(numbers) => {
                    let seen = numbers.into_iter().find(|n| n.id == number.id).unwrap();
                    if seen.label.as_deref() == Some("Changed Elsewhere +14155550100") {
                        break seen;
                    }
                }
                other => panic!("only refreshes expected, got {other:?}"),
            }
        }
    })
    .await
    .expect("a refresh carries the new label");
    assert_eq!(refreshed.phone_number, number.phone_number);
    drop(requests);
    worker.await.unwrap();
    sim.shutdown().await;
}

/// The `callboard` binary pointed at `sim`, with its own home and data dir.
fn cli(sim: &SimHandle, home: &Path) -> std::process::Command {
    let creds = sim.credentials();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_callboard"));
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("CALLBOARD_DATA_DIR", home.join("data"))
        .env_remove("CALLBOARD_CONFIG")
        .env("RC_SERVER_URL", sim.base_url())
        .env("RC_CLIENT_ID", &creds.client_id)
        .env("RC_CLIENT_SECRET", &creds.client_secret)
        .env("RC_JWT", &creds.jwt);
    command
}

async fn run(mut command: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_dry_runs_relabels_and_respects_read_only() {
    let sim = start_sim(None).await;
    let rest = rest_for(&sim);
    let home = tempfile::tempdir().unwrap();
    let number = ctns(&rest).await.remove(4);
    let old = number.label.clone().unwrap();
    let dn = LabelGrammar::default()
        .parse(Some(&old))
        .and_then(|p| p.dn)
        .unwrap();

    let mut list = cli(&sim, home.path());
    list.args(["numbers", "list", "--csv"]);
    let listed = run(list).await;
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let csv = String::from_utf8(listed.stdout).unwrap();
    assert!(
        csv.starts_with(
            "id,phone_number,label,campaign,dn,usage_type,rings,live_now,calls_today\n"
        )
    );
    assert!(
        csv.contains(&format!("{},{},", number.id, number.phone_number)),
        "{csv}"
    );

    let mut json_list = cli(&sim, home.path());
    json_list.args(["numbers", "list", "--json"]);
    let listed = run(json_list).await;
    let rows: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .any(|r| r["phone_number"] == number.phone_number.as_str())
    );

    let mut dry = cli(&sim, home.path());
    dry.args([
        "numbers",
        "relabel",
        &number.phone_number,
        "--campaign",
        "Podcast Ads",
        "--dry-run",
    ]);
    let dry = run(dry).await;
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let said = String::from_utf8(dry.stdout).unwrap();
    assert!(
        said.contains(&format!("\"{old}\" → \"Podcast Ads {dn}\"")),
        "{said}"
    );
    assert_eq!(
        label_of(&rest, &number.id).await.as_deref(),
        Some(old.as_str()),
        "a dry run writes nothing"
    );

    let mut refused = cli(&sim, home.path());
    refused.args([
        "--read-only",
        "numbers",
        "relabel",
        &number.phone_number,
        "--campaign",
        "Podcast Ads",
    ]);
    let refused = run(refused).await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("read-only"));
    assert_eq!(
        label_of(&rest, &number.id).await.as_deref(),
        Some(old.as_str())
    );

    let mut invalid = cli(&sim, home.path());
    invalid.args([
        "numbers",
        "relabel",
        &number.phone_number,
        "--campaign",
        "Podcast",
        "--dn",
        "12345",
    ]);
    let invalid = run(invalid).await;
    assert!(!invalid.status.success());
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("E.164"));

    let mut real = cli(&sim, home.path());
    real.args([
        "numbers",
        "relabel",
        &number.phone_number,
        "--campaign",
        "Podcast Ads",
    ]);
    let real = run(real).await;
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let expected = format!("Podcast Ads {dn}");
    assert_eq!(
        label_of(&rest, &number.id).await.as_deref(),
        Some(expected.as_str())
    );

    let mut audit = cli(&sim, home.path());
    audit.args(["numbers", "audit"]);
    let audit = run(audit).await;
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stderr)
    );
    let printed = String::from_utf8(audit.stdout).unwrap();
    assert!(
        printed.contains(&format!(
            "{}  \"{old}\" → \"{expected}\"  applied  by ",
            number.phone_number
        )),
        "{printed}"
    );

    let store = open_store(&home.path().join("data"));
    let audit = store.audit_log().unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].old_label.as_deref(), Some(old.as_str()));
    assert_eq!(audit[0].new_label, expected);
    assert!(store.pending_relabels().unwrap().is_empty());
    sim.shutdown().await;
}

// -- the TUI: whole-screen snapshots driven by real keys (see tests/ui_support) ---------------

mod ui_support;

mod tui {
    use callboard::app::Msg;
    use callboard::app::relabel::{
        PlannedRelabel, RelabelEvent, RelabelRequest, WriteOutcome, WriteReport,
    };
    use callboard::board::Window;
    use callboard::store::{PendingRelabel, RelabelOutcome, Store, StoreConfig};
    use callboard::ui::keys::KeyMap;
    use callboard::ui::label_editor::EditorMode;
    use callboard::ui::state::{Overlay, ScreenKind};
    use callboard::ui::update::Effect;
    use chrono::Duration;

    use super::ui_support::{GOOGLE_CTN, ZILLOW_CTN, now, press, screen, scripted_app};

    fn pending_write(number_id: &str, number: &str, old: &str, new: &str) -> PendingRelabel {
        PendingRelabel::new(number_id, number, Some(old.into()), new, "Ann", now())
    }

    fn done(write: &PendingRelabel, outcome: WriteOutcome) -> Msg {
        Msg::Relabel(RelabelEvent::Done(Box::new(WriteReport {
            write: write.clone(),
            outcome,
        })))
    }

    /// Both sizes the snapshots are reviewed at.
    fn snapshots(app: &callboard::app::App, name: &str) {
        insta::assert_snapshot!(format!("{name}_80x24"), screen(app, 80, 24));
        insta::assert_snapshot!(format!("{name}_160x48"), screen(app, 160, 48));
    }

    #[test]
    fn numbers_view_shows_a_pending_write_and_marked_rows() {
        let mut app = scripted_app();
        press(&mut app, "5m");
        let write = pending_write(
            "9002",
            GOOGLE_CTN,
            "Google Ads +14155550100",
            "Yelp +14155550100",
        );
        app.handle(
            Msg::Relabel(RelabelEvent::Pending(vec![write.clone()])),
            now(),
        );
        let text = screen(&app, 160, 30);
        assert!(text.contains("⧗ Yelp +14155550100 ← Google Ads"), "{text}");
        assert!(text.contains("● +14155550101"), "{text}");
        assert!(text.contains("⧗ 1 relabel pending"), "{text}");
        insta::assert_snapshot!("numbers_pending_and_marked_160x30", text);
        snapshots(&app, "numbers_pending_and_marked");
    }

    /// A refusal puts the row back to its old label and says why in words, with the code.
    fn refused_row_is_restored(outcome: WriteOutcome, expected: &str) {
        let mut app = scripted_app();
        press(&mut app, "5");
        let write = pending_write(
            "9002",
            GOOGLE_CTN,
            "Google Ads +14155550100",
            "Yelp +14155550100",
        );
        app.handle(
            Msg::Relabel(RelabelEvent::Pending(vec![write.clone()])),
            now(),
        );
        assert!(screen(&app, 160, 30).contains("⧗ Yelp"));
        app.handle(done(&write, outcome), now());
        let text = screen(&app, 200, 30);
        assert!(!text.contains('⧗'), "{text}");
        assert!(text.contains("Google Ads +14155550100"), "{text}");
        assert!(!text.contains("Yelp"), "{text}");
        assert!(
            text.contains(&format!("+14155550102: relabel failed: {expected}")),
            "{text}"
        );
        assert_eq!(app.ui.jobs_in_flight, 0);
        assert!(app.ui.pending_relabels.is_empty());
    }

    #[test]
    fn a_403_restores_the_row_and_says_not_permitted_with_the_code() {
        refused_row_is_restored(
            WriteOutcome::Failed {
                code: Some("CMN-109".into()),
                message: "not permitted for this account (HTTP 403, CMN-109)".into(),
            },
            "not permitted for this account (HTTP 403, CMN-109)",
        );
    }

    #[test]
    fn a_404_restores_the_row_and_says_the_number_is_not_on_the_account() {
        refused_row_is_restored(
            WriteOutcome::Failed {
                code: Some("CMN-102".into()),
                message: "number not found on the account (HTTP 404, CMN-102)".into(),
            },
            "number not found on the account (HTTP 404, CMN-102)",
        );
    }

    #[test]
    fn a_landed_relabel_moves_live_and_todays_calls_to_the_new_campaign_at_once() {
        let mut app = scripted_app();
        let campaign_of = |app: &callboard::app::App, session: &str| {
            let call = app.board.call(session).unwrap();
            app.board.campaign_of_call(call).map(|(c, _)| c)
        };
        assert_eq!(
            campaign_of(&app, "s-waiting").as_deref(),
            Some("Zillow Spring")
        );
        let write = pending_write(
            "9001",
            ZILLOW_CTN,
            "Zillow Spring +14155550100",
            "Radio Spring +14155550100",
        );
        app.handle(
            Msg::Relabel(RelabelEvent::Pending(vec![write.clone()])),
            now(),
        );
        // Until the platform confirms, calls count under the label in place.
        assert_eq!(
            campaign_of(&app, "s-waiting").as_deref(),
            Some("Zillow Spring")
        );
        app.handle(
            done(
                &write,
                WriteOutcome::Applied {
                    label: "Radio Spring +14155550100".into(),
                },
            ),
            now(),
        );
        // The live call and the one that ended earlier today both move.
        assert_eq!(
            campaign_of(&app, "s-waiting").as_deref(),
            Some("Radio Spring")
        );
        assert_eq!(
            campaign_of(&app, "s-answered").as_deref(),
            Some("Radio Spring")
        );
        let rows = app.board.campaign_rows(Window::Today, now());
        let radio = rows.iter().find(|r| r.campaign == "Radio Spring").unwrap();
        assert_eq!((radio.live, radio.offered), (1, 2));
        assert!(
            rows.iter()
                .filter(|r| r.campaign == "Zillow Spring")
                .all(|r| r.offered == 0 && r.live == 0),
            "{rows:?}"
        );
    }

    #[test]
    fn a_refreshed_number_list_moves_calls_to_labels_changed_elsewhere() {
        let mut app = scripted_app();
        let numbers: Vec<callboard::rc::records::PhoneNumber> =
            serde_json::from_value(serde_json::json!([
                {"id": 9001, "phoneNumber": ZILLOW_CTN, "label": "Yelp +14155550100", "usageType": "CompanyNumber"},
                {"id": 9002, "phoneNumber": GOOGLE_CTN, "label": "Google Ads +14155550100", "usageType": "CompanyNumber"},
            ]))
            .unwrap();
        app.handle(Msg::Relabel(RelabelEvent::NumbersRefreshed(numbers)), now());
        let call = app.board.call("s-waiting").unwrap();
        assert_eq!(
            app.board.campaign_of_call(call).map(|(c, _)| c).as_deref(),
            Some("Yelp")
        );
        press(&mut app, "5");
        let text = screen(&app, 160, 30);
        assert!(text.contains("Yelp +14155550100"), "{text}");
        assert!(!text.contains("Zillow Spring"), "{text}");
    }

    #[test]
    fn the_kind_toggle_shows_ctns_then_unlabelled_then_all() {
        let mut app = scripted_app();
        press(&mut app, "5t");
        let ctns = screen(&app, 120, 30);
        assert!(
            ctns.contains("+14155550101") && !ctns.contains("+18005550199"),
            "{ctns}"
        );
        insta::assert_snapshot!("numbers_ctns_only_120x30", ctns);
        press(&mut app, "t");
        let unlabelled = screen(&app, 120, 30);
        assert!(
            unlabelled.contains("+14155550103") && !unlabelled.contains("+14155550101"),
            "{unlabelled}"
        );
        press(&mut app, "t");
        assert!(screen(&app, 120, 30).contains("+18005550199"));
    }

    #[test]
    fn the_editor_has_campaign_and_dn_fields_with_visible_completion() {
        let mut app = scripted_app();
        press(&mut app, "5e");
        let Some(Overlay::EditLabel(editor)) = &app.ui.overlay else {
            panic!("e opens the editor: {:?}", app.ui.overlay);
        };
        assert_eq!(editor.mode, EditorMode::Fields);
        assert_eq!(editor.campaign.text, "Zillow Spring");
        assert_eq!(editor.dn.text, "+14155550100");

        // Typing a prefix lists the matching campaigns; Tab takes the first, then the next.
        press(&mut app, "<c-u>");
        let text = screen(&app, 80, 24);
        assert!(
            text.contains("tab: Billboard I-80 · Google Ads · Zillow Spring"),
            "{text}"
        );
        press(&mut app, "Goo<tab>");
        let text = screen(&app, 160, 48);
        assert!(text.contains("campaign  Google Ads"), "{text}");
        assert!(text.contains("tab: Google Ads"), "{text}");
        assert!(
            text.contains("now     \"Zillow Spring +14155550100\""),
            "{text}"
        );
        assert!(
            text.contains("writes  \"Google Ads +14155550100\""),
            "{text}"
        );
        assert!(
            text.contains("reads   campaign \"Google Ads\", DN +14155550100"),
            "{text}"
        );
        snapshots(&app, "editor_fields_completed");

        // ↓ moves to the DN, whose completions are the known DNs.
        press(&mut app, "<down><c-u>+1");
        let text = screen(&app, 80, 24);
        assert!(text.contains("tab: +14155550100"), "{text}");
        press(&mut app, "<tab>");
        let Some(Overlay::EditLabel(editor)) = &app.ui.overlay else {
            panic!("still editing");
        };
        assert_eq!(editor.dn.text, "+14155550100");
        // With nothing to complete, Tab moves to the other field.
        press(&mut app, "<up><c-u>Brand New<tab>");
        let Some(Overlay::EditLabel(editor)) = &app.ui.overlay else {
            panic!("still editing");
        };
        assert_eq!(editor.campaign.text, "Brand New");
        assert_eq!(editor.focus, callboard::ui::label_editor::Field::Dn);
    }

    #[test]
    fn the_editor_shows_validation_errors_in_words_before_any_write() {
        let mut app = scripted_app();
        press(&mut app, "5e<down><c-u>4155550100");
        let text = screen(&app, 80, 24);
        assert!(
            text.contains("writes  nothing until this is fixed:"),
            "{text}"
        );
        assert!(text.contains("✗ a DN must be an E.164 number"), "{text}");
        snapshots(&app, "editor_invalid_dn");
        // Enter does not move on while the label breaks a rule.
        assert!(press(&mut app, "<enter>").is_empty());
        assert!(matches!(app.ui.overlay, Some(Overlay::EditLabel(_))));

        press(
            &mut app,
            &format!("<c-u>+14155550100<up><c-u>{}", "x".repeat(60)),
        );
        let text = screen(&app, 160, 48);
        assert!(text.contains("at most 64"), "{text}");
        press(&mut app, "<enter>");
        assert!(matches!(app.ui.overlay, Some(Overlay::EditLabel(_))));
        // Small terminals cut the editor, never crash; below the floor they say so.
        let small = screen(&app, 50, 12);
        assert!(small.contains("Relabel +14155550101"), "{small}");
        assert!(screen(&app, 40, 10).contains("terminal too small"));
    }

    #[test]
    fn the_raw_mode_writes_the_label_as_typed_and_the_confirm_is_one_key() {
        let mut app = scripted_app();
        press(&mut app, "5e<c-r>");
        let Some(Overlay::EditLabel(editor)) = &app.ui.overlay else {
            panic!("still editing");
        };
        assert_eq!(editor.mode, EditorMode::Raw);
        assert_eq!(editor.raw.text, "Zillow Spring +14155550100");
        press(&mut app, "<c-u>Billboard I-80 +14155550199");
        let text = screen(&app, 80, 24);
        assert!(text.contains("▸ raw label"), "{text}");
        assert!(
            text.contains("writes  \"Billboard I-80 +14155550199\""),
            "{text}"
        );
        snapshots(&app, "editor_raw");

        press(&mut app, "<enter>");
        assert!(matches!(
            app.ui.overlay,
            Some(Overlay::ConfirmRelabel { .. })
        ));
        let text = screen(&app, 80, 24);
        assert!(
            text.contains("from    \"Zillow Spring +14155550100\""),
            "{text}"
        );
        assert!(
            text.contains("to      \"Billboard I-80 +14155550199\""),
            "{text}"
        );
        snapshots(&app, "confirm_single");
        // Esc goes back to the editor with everything typed kept.
        press(&mut app, "<esc>");
        let Some(Overlay::EditLabel(editor)) = &app.ui.overlay else {
            panic!("esc returns to the editor");
        };
        assert_eq!(editor.raw.text, "Billboard I-80 +14155550199");
        press(&mut app, "<enter>");
        let effects = press(&mut app, "y");
        assert_eq!(
            effects,
            vec![Effect::Relabel(RelabelRequest::Write(vec![
                PlannedRelabel {
                    number_id: "9001".into(),
                    phone_number: ZILLOW_CTN.into(),
                    old_label: Some("Zillow Spring +14155550100".into()),
                    new_label: "Billboard I-80 +14155550199".into(),
                }
            ]))]
        );
        assert!(app.ui.overlay.is_none());
    }

    #[test]
    fn bulk_sets_the_campaign_of_marked_numbers_after_a_confirm_with_examples() {
        let mut app = scripted_app();
        press(&mut app, "5mmmE");
        assert!(screen(&app, 120, 30).contains("campaign for 3 numbers"));
        // Tab cycles the known campaigns; typing starts a new completion.
        let typed = |app: &callboard::app::App| app.ui.input.as_ref().unwrap().text.clone();
        press(&mut app, "<tab>");
        assert_eq!(typed(&app), "Billboard I-80");
        press(&mut app, "<tab><tab>");
        assert_eq!(typed(&app), "Zillow Spring");
        press(&mut app, "<tab>");
        assert_eq!(typed(&app), "Billboard I-80");
        press(&mut app, "<c-u>Go<tab>");
        assert_eq!(typed(&app), "Google Ads");
        press(&mut app, "<c-u>Radio Spring<enter>");
        assert!(matches!(app.ui.overlay, Some(Overlay::ConfirmBulk { .. })));
        let confirm = screen(&app, 80, 24);
        assert!(
            confirm.contains("3 numbers → campaign \"Radio Spring\""),
            "{confirm}"
        );
        snapshots(&app, "confirm_bulk");
        let effects = press(&mut app, "y");
        let [Effect::Relabel(RelabelRequest::Write(plans))] = effects.as_slice() else {
            panic!("one bulk write expected, got {effects:?}");
        };
        let labels: Vec<&str> = plans.iter().map(|p| p.new_label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Radio Spring +14155550100",
                "Radio Spring +14155550100",
                "Radio Spring"
            ],
            "each number keeps its own DN"
        );
        assert!(app.ui.marked_numbers.is_empty());
    }

    #[test]
    fn the_bulk_gauge_counts_says_when_paced_and_cancels_what_is_unsent() {
        let mut app = scripted_app();
        press(&mut app, "5");
        let writes: Vec<PendingRelabel> = [
            ("9001", ZILLOW_CTN, "Zillow Spring +14155550100"),
            ("9002", GOOGLE_CTN, "Google Ads +14155550100"),
            ("9003", "+14155550103", ""),
            ("9004", "+18005550199", "Billboard I-80"),
        ]
        .iter()
        .map(|(id, number, old)| {
            let new = if old.ends_with("0100") {
                "Radio +14155550100"
            } else {
                "Radio"
            };
            pending_write(id, number, old, new).in_batch("bulk-1")
        })
        .collect();
        app.handle(Msg::Relabel(RelabelEvent::Pending(writes.clone())), now());
        app.handle(
            done(
                &writes[0],
                WriteOutcome::Applied {
                    label: "Radio +14155550100".into(),
                },
            ),
            now(),
        );
        app.handle(
            done(
                &writes[1],
                WriteOutcome::Failed {
                    code: Some("CMN-109".into()),
                    message: "not permitted for this account (HTTP 403, CMN-109)".into(),
                },
            ),
            now(),
        );
        app.handle(
            Msg::Relabel(RelabelEvent::Paced {
                wait: std::time::Duration::from_secs(42),
                reason: "rate limited by RingCentral (medium group) — retrying in 42 s [CMN-301]"
                    .into(),
            }),
            now() - Duration::milliseconds(10),
        );
        let text = screen(&app, 80, 24);
        assert!(text.contains("2 / 4 written · 1 failed"), "{text}");
        assert!(
            text.contains("paced by rate limit — next write in 42 s"),
            "{text}"
        );
        assert!(
            text.contains("last failure: +14155550102: not permitted for this account"),
            "{text}"
        );
        snapshots(&app, "bulk_gauge_paced");

        // X cancels the writes not yet sent; the worker says which it dropped.
        assert_eq!(
            press(&mut app, "X"),
            vec![Effect::Relabel(RelabelRequest::CancelUnsent)]
        );
        app.handle(
            Msg::Relabel(RelabelEvent::Cancelled(writes[2..].to_vec())),
            now(),
        );
        assert!(app.ui.relabel_progress.is_none(), "every write has ended");
        assert!(app.ui.pending_relabels.is_empty());
        assert_eq!(app.ui.jobs_in_flight, 0);
        let text = screen(&app, 160, 48);
        assert!(
            text.contains(
                "bulk relabel done: 1 of 4 relabelled, 1 failed (see the audit, A), 2 cancelled"
            ),
            "{text}"
        );
    }

    #[test]
    fn undo_is_one_key_and_read_only_mode_offers_no_relabel_at_all() {
        let mut app = scripted_app();
        assert_eq!(
            press(&mut app, "5u"),
            vec![Effect::Relabel(RelabelRequest::UndoLast)]
        );
        let mut app = scripted_app();
        app.ui.keymap = KeyMap::build(&Default::default(), true).unwrap();
        assert!(press(&mut app, "5e").is_empty());
        assert!(app.ui.overlay.is_none());
        assert!(press(&mut app, "mE").is_empty());
        assert!(app.ui.input.is_none());
        assert!(
            app.ui.marked_numbers.is_empty(),
            "marking is for relabelling"
        );
        assert!(press(&mut app, "uX").is_empty());
        let text = screen(&app, 160, 30);
        assert!(
            !text.contains("relabel") && !text.contains("undo") && !text.contains("mark"),
            "{text}"
        );
    }

    fn audit_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
        let ok = store
            .queue_relabel(pending_write(
                "9001",
                ZILLOW_CTN,
                "Zillow Spring +14155550100",
                "Zillow Fall +14155550100",
            ))
            .unwrap();
        store
            .complete_relabel(&ok.idempotency_key, RelabelOutcome::Applied, now())
            .unwrap();
        let refused = store
            .queue_relabel(pending_write(
                "9002",
                GOOGLE_CTN,
                "Google Ads +14155550100",
                "Nope",
            ))
            .unwrap();
        store
            .complete_relabel(
                &refused.idempotency_key,
                RelabelOutcome::Failed {
                    code: Some("CMN-109".into()),
                    message: "not permitted for this account (HTTP 403, CMN-109)".into(),
                },
                now() + Duration::seconds(5),
            )
            .unwrap();
        (dir, store)
    }

    #[test]
    fn the_audit_view_lists_every_relabel_and_filters_and_sorts_like_the_others() {
        let (_dir, store) = audit_store();
        let mut app = scripted_app();
        app.ui.time_zone = chrono_tz::UTC;
        app.store = Some(store);
        press(&mut app, "2A");
        assert_eq!(app.ui.screen().kind, ScreenKind::Audit);
        let text = screen(&app, 160, 48);
        for heading in ["When", "Number", "Old label", "New label", "Result", "Who"] {
            assert!(text.contains(heading), "{heading}: {text}");
        }
        assert!(text.contains("✓ applied"), "{text}");
        assert!(
            text.contains("✕ not permitted for this account (HTTP 403"),
            "{text}"
        );
        let newest = text.find("+14155550102").unwrap();
        assert!(newest < text.find("+14155550101").unwrap(), "newest first");
        snapshots(&app, "audit_view");

        // Filter like the other views.
        press(&mut app, "/CMN-109<enter>");
        let text = screen(&app, 160, 48);
        assert!(
            text.contains("+14155550102") && !text.contains("+14155550101"),
            "{text}"
        );
        // Sort by number (column 2, s twice from none).
        press(&mut app, "<esc>ss");
        let text = screen(&app, 160, 48);
        assert!(
            text.find("+14155550101").unwrap() < text.find("+14155550102").unwrap(),
            "{text}"
        );
        // Esc goes back to the view it was opened from; :audit opens it too.
        press(&mut app, "<esc>");
        assert_eq!(app.ui.screen().kind, ScreenKind::Campaigns);
        press(&mut app, ":audit<enter>");
        assert_eq!(app.ui.screen().kind, ScreenKind::Audit);
    }

    #[test]
    fn a_deferred_write_stays_pending_and_says_when_it_retries() {
        let mut app = scripted_app();
        press(&mut app, "5");
        let write = pending_write(
            "9001",
            ZILLOW_CTN,
            "Zillow Spring +14155550100",
            "Zillow Fall +14155550100",
        );
        app.handle(
            Msg::Relabel(RelabelEvent::Pending(vec![write.clone()])),
            now(),
        );
        app.handle(
            done(
                &write,
                WriteOutcome::Deferred {
                    reason: "rate limited".into(),
                    code: Some("CMN-301".into()),
                },
            ),
            now(),
        );
        assert_eq!(app.ui.jobs_in_flight, 1, "still in flight: quitting asks");
        let text = screen(&app, 200, 30);
        assert!(text.contains("⧗ Zillow Fall +14155550100 ←"), "{text}");
        assert!(
            text.contains("relabel still pending: rate limited — will retry in 30 s (CMN-301)"),
            "{text}"
        );
        // The table still counts the calls under the label in place until the platform agrees.
        assert!(text.contains("Zillow Spring"), "{text}");
    }
}
