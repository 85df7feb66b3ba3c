//! What the store keeps across a restart, through the public API only: pending relabels after a
//! crash, the journal as `callboard replay` input, the number cache, seen callers, and the cap
//! shared by journal and recordings.

use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::json;

use callboard::store::{
    CallInfo, FinishedContent, PendingRelabel, RelabelOutcome, Store, StoreConfig, StoreError,
};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn open(dir: &Path) -> Store {
    Store::open(dir, StoreConfig::default()).unwrap()
}

#[test]
fn the_data_dir_is_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("callboard");
    open(&dir);
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn a_confirmed_relabel_survives_a_crash_and_is_completed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let confirmed = at("2026-11-25T14:00:00Z");
    let (single, bulk_a, bulk_b);
    {
        // The user confirms three writes; the process dies before the platform answers.
        let store = open(tmp.path());
        single = store
            .queue_relabel(PendingRelabel::new(
                "1001",
                "+14155550100",
                Some("Zillow Spring +14155550199".into()),
                "Yelp +14155550199",
                "Ann Supervisor (101)",
                confirmed,
            ))
            .unwrap();
        bulk_a = store
            .queue_relabel(
                PendingRelabel::new(
                    "1002",
                    "+14155550101",
                    None,
                    "Web Q4 +14155550199",
                    "Ann Supervisor (101)",
                    confirmed,
                )
                .in_batch("bulk-7"),
            )
            .unwrap();
        bulk_b = store
            .queue_relabel(
                PendingRelabel::new(
                    "1003",
                    "+14155550102",
                    Some("Old".into()),
                    "Web Q4 +14155550199",
                    "Ann Supervisor (101)",
                    confirmed,
                )
                .in_batch("bulk-7"),
            )
            .unwrap();
        store
            .note_relabel_attempt(&single.idempotency_key, Some("HTTP 429: rate limited"))
            .unwrap();
    }

    // Restart: everything confirmed is still there, in order, with its retry history.
    let store = open(tmp.path());
    let pending = store.pending_relabels().unwrap();
    let keys: Vec<&str> = pending.iter().map(|w| w.idempotency_key.as_str()).collect();
    assert_eq!(
        keys,
        [
            single.idempotency_key.as_str(),
            bulk_a.idempotency_key.as_str(),
            bulk_b.idempotency_key.as_str()
        ]
    );
    assert_eq!(pending[0].attempts, 1);
    assert_eq!(pending[1].batch_id.as_deref(), Some("bulk-7"));

    // The worker finishes them; a duplicate completion (e.g. a late reply) writes nothing.
    let done = at("2026-11-25T14:05:00Z");
    store
        .complete_relabel(&single.idempotency_key, RelabelOutcome::Applied, done)
        .unwrap()
        .unwrap();
    store
        .complete_relabel(
            &bulk_a.idempotency_key,
            RelabelOutcome::AlreadyApplied,
            done,
        )
        .unwrap()
        .unwrap();
    let refused = RelabelOutcome::Failed {
        code: Some("CMN-401".into()),
        message: "this account's API does not allow label changes".into(),
    };
    store
        .complete_relabel(&bulk_b.idempotency_key, refused.clone(), done)
        .unwrap()
        .unwrap();
    assert!(
        store
            .complete_relabel(&single.idempotency_key, RelabelOutcome::Applied, done)
            .unwrap()
            .is_none()
    );
    drop(store);

    let store = open(tmp.path());
    assert!(store.pending_relabels().unwrap().is_empty());
    let audit = store.audit_log().unwrap();
    assert_eq!(audit.len(), 3);
    assert_eq!(audit[0].number_id, "1001");
    assert_eq!(
        audit[0].old_label.as_deref(),
        Some("Zillow Spring +14155550199")
    );
    assert_eq!(audit[0].new_label, "Yelp +14155550199");
    assert_eq!(audit[0].who, "Ann Supervisor (101)");
    assert_eq!(audit[0].confirmed_at, confirmed);
    assert_eq!(audit[0].at, done);
    assert_eq!(audit[0].attempts, 1);
    assert_eq!(audit[2].outcome, refused);
    assert_eq!(store.audit_recent(1).unwrap()[0].number_id, "1003");
}

#[test]
fn the_journal_exports_replayable_json_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let frames = [
        json!([{"type": "ConnectionDetails", "messageId": "m0", "status": 200, "wsc": {"token": "w", "sequence": 1}}, {"recoveryTimeout": 180}]),
        json!([{"type": "ServerNotification", "messageId": "u1", "status": 200},
               {"uuid": "u1", "event": "/restapi/v1.0/account/809646016/telephony/sessions",
                "body": {"sequence": 2, "telephonySessionId": "s-1", "parties": [{"from": {"name": "Bob \"the\" caller"}}]}}]),
        json!([{"type": "Heartbeat", "messageId": "h1"}]),
    ];
    {
        let store = open(tmp.path());
        for (i, frame) in frames.iter().enumerate() {
            let text = serde_json::to_string(frame).unwrap();
            store
                .journal_append(
                    text.as_bytes(),
                    at("2026-11-25T09:00:00Z") + chrono::Duration::seconds(i as i64),
                )
                .unwrap();
        }
    }
    let store = open(tmp.path());
    let path = tmp.path().join("shift.jsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    let export = store.journal_export(&mut file).unwrap();
    assert_eq!(export.frames, 3);

    let lines: Vec<String> = std::io::BufReader::new(std::fs::File::open(&path).unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    assert_eq!(lines.len(), 3);
    for (line, frame) in lines.iter().zip(&frames) {
        assert_eq!(
            line,
            &serde_json::to_string(frame).unwrap(),
            "bytes exactly as received"
        );
        let parsed: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(parsed.is_array(), "each line is a [meta, body] frame");
    }
    let received: Vec<DateTime<Utc>> = store
        .journal_entries()
        .map(|e| e.unwrap().received_at)
        .collect();
    assert_eq!(received[2], at("2026-11-25T09:00:02Z"));
}

#[test]
fn numbers_and_seen_callers_are_there_at_the_next_start() {
    let tmp = tempfile::tempdir().unwrap();
    let fetched = at("2026-11-25T08:00:00Z");
    {
        let store = open(tmp.path());
        store
            .save_numbers(
                &[json!({"id": 5551, "phoneNumber": "+14155550100", "label": "Zillow Spring +14155550199"})],
                fetched,
            )
            .unwrap();
        assert!(store.mark_caller_seen("+16505550000", fetched).unwrap());
    }
    let store = open(tmp.path());
    let numbers = store.cached_numbers().unwrap().unwrap();
    assert_eq!(numbers.fetched_at, fetched);
    assert_eq!(numbers.records[0]["label"], "Zillow Spring +14155550199");
    assert!(store.seen_callers().unwrap().contains("+16505550000"));
    assert!(!store.mark_caller_seen("+16505550000", fetched).unwrap());
}

#[test]
fn journal_and_recordings_share_one_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(
        tmp.path(),
        StoreConfig {
            cap_bytes: 1000,
            chunk_bytes: 256,
            ..StoreConfig::default()
        },
    )
    .unwrap();
    let now = at("2026-11-25T10:00:00Z");
    store.journal_append(&[b'x'; 600], now).unwrap();
    store
        .begin_recording("r", CallInfo::default(), now)
        .unwrap();
    store.write_chunk("r", 0, &[1; 256]).unwrap();
    let err = store.write_chunk("r", 1, &[2; 256]).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::CapReached {
                used: 856,
                cap: 1000,
                wanted: 256
            }
        ),
        "{err:?}"
    );

    // Clearing the journal makes room; the recording completes.
    store.journal_remove_before(u64::MAX).unwrap();
    store.write_chunk("r", 1, &[2; 256]).unwrap();
    let mut expected = vec![1u8; 256];
    expected.extend([2u8; 256]);
    let meta = store
        .finish_recording(
            "r",
            FinishedContent {
                length: 512,
                chunk_count: 2,
                sha256_hex: {
                    use sha2::Digest;
                    hex::encode(sha2::Sha256::digest(&expected))
                },
            },
            now,
        )
        .unwrap();
    assert!(meta.is_complete());
    assert_eq!(store.used_bytes().unwrap(), 512);
    assert_eq!(store.verify_recording("r").unwrap().bytes, 512);
}
