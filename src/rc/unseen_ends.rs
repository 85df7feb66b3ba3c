//! Calls that ended while callboard was not listening (a session recovery failed): the resync
//! closes them as the board last knew them, which is wrong for a call answered and finished
//! during the outage. Their call-log records say how they really ended, but appear only some
//! time after the end (seconds to minutes), so they are looked up after a wait, again with a
//! growing wait until each is found or the schedule gives up. What is found reaches the app
//! loop as a [`SyncKind::EndedWhileAway`] snapshot, so the app stays the board's only writer;
//! a call never found stays ended with its outcome marked unknown (`endSeen: false`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::rc::error::RcError;
use crate::rc::records::CallLogRecord;
use crate::rc::rest::RestClient;
use crate::rc::sync::Snapshot;
use crate::rc::ws::{SessionEvent, SyncKind};

/// With this many calls or fewer left, each is read by its own id (one Heavy request each);
/// with more, one read of the recent call log is cheaper.
pub const PER_CALL_READS_UP_TO: usize = 3;

/// How far before the outage the recent-window read starts: calls live at the outage that
/// started earlier are found by the per-call reads once few calls are left.
pub const WINDOW_BEFORE_OUTAGE: chrono::Duration = chrono::Duration::hours(1);

/// When to look the calls up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupSchedule {
    /// The wait before the first read (the platform writes the log after the call ends).
    pub first_wait: Duration,
    /// The longest wait between reads (the wait doubles up to this).
    pub longest_wait: Duration,
    /// No read starts later than this after the resync; calls not found by then stay unknown.
    pub give_up_after: Duration,
}

impl Default for LookupSchedule {
    fn default() -> Self {
        Self {
            first_wait: Duration::from_secs(20),
            longest_wait: Duration::from_secs(120),
            give_up_after: Duration::from_secs(30 * 60),
        }
    }
}

impl LookupSchedule {
    /// The wait before read number `attempt` (0 is the first).
    pub fn wait_before(&self, attempt: u32) -> Duration {
        self.first_wait
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.longest_wait.max(self.first_wait))
    }
}

/// One round of reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogRead {
    /// `GET …/call-log?telephonySessionId=…` for each of these.
    PerCall(Vec<String>),
    /// `GET …/call-log?dateFrom=…`: every call started since.
    Window { since: DateTime<Utc> },
}

/// How to read the calls still missing.
pub fn plan_read(missing: &BTreeSet<String>, window_since: DateTime<Utc>) -> LogRead {
    if missing.len() <= PER_CALL_READS_UP_TO {
        LogRead::PerCall(missing.iter().cloned().collect())
    } else {
        LogRead::Window {
            since: window_since,
        }
    }
}

/// Keeps the records of missing calls and strikes those calls off `missing`.
pub fn take_found(
    records: Vec<CallLogRecord>,
    missing: &mut BTreeSet<String>,
) -> Vec<CallLogRecord> {
    let found: Vec<CallLogRecord> = records
        .into_iter()
        .filter(|r| {
            r.deleted != Some(true)
                && r.telephony_session_id
                    .as_deref()
                    .is_some_and(|id| missing.contains(id))
        })
        .collect();
    for record in &found {
        if let Some(id) = record.telephony_session_id.as_deref() {
            missing.remove(id);
        }
    }
    found
}

async fn read(rest: &RestClient, plan: LogRead) -> Result<Vec<CallLogRecord>, RcError> {
    match plan {
        LogRead::Window { since } => rest.call_log_since(since).await,
        LogRead::PerCall(ids) => {
            let mut records = Vec::new();
            for id in ids {
                records.extend(rest.call_log_for_session(&id).await?);
            }
            Ok(records)
        }
    }
}

fn correction(records: Vec<CallLogRecord>) -> SessionEvent {
    SessionEvent::Synced(Box::new(Snapshot {
        kind: SyncKind::EndedWhileAway,
        taken_at: Utc::now(),
        numbers: None,
        extensions: None,
        queues: None,
        call_log: Some(records),
        call_log_since: None,
        presence: Vec::new(),
        sessions: Vec::new(),
        warnings: Vec::new(),
    }))
}

/// Looks up `ended` (telephony session ids a resync closed) in the call log on `schedule`, and
/// sends what it finds to `events`. Ends when all are found, the schedule gives up, the app
/// has gone or the session shuts down.
pub async fn look_up(
    rest: Arc<RestClient>,
    ended: Vec<String>,
    outage_started: DateTime<Utc>,
    schedule: LookupSchedule,
    events: mpsc::Sender<SessionEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut missing: BTreeSet<String> = ended.into_iter().collect();
    let window_since = outage_started - WINDOW_BEFORE_OUTAGE;
    let started = Instant::now();
    let mut attempt = 0;
    while !missing.is_empty() {
        let wait = schedule.wait_before(attempt);
        if started.elapsed() + wait > schedule.give_up_after {
            let warning = format!(
                "{} call(s) that ended while callboard was offline are not in the call log after {} \
                 — they stay ended with their outcome unknown",
                missing.len(),
                crate::rc::error::describe_wait(schedule.give_up_after)
            );
            tracing::warn!(target: "callboard::rc", "{warning}");
            let _ = events.send(SessionEvent::Warning(warning)).await;
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        attempt += 1;
        match read(&rest, plan_read(&missing, window_since)).await {
            Ok(records) => {
                let found = take_found(records, &mut missing);
                if !found.is_empty() && events.send(correction(found)).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(
                    target: "callboard::rc",
                    "could not read the call log of calls that ended while offline \
                     (trying again): {error}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn waits_double_from_the_first_up_to_the_longest() {
        let schedule = LookupSchedule {
            first_wait: Duration::from_secs(5),
            longest_wait: Duration::from_secs(30),
            give_up_after: Duration::from_secs(600),
        };
        let waits: Vec<u64> = (0..6).map(|n| schedule.wait_before(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 30, 30, 30]);
        assert_eq!(schedule.wait_before(u32::MAX).as_secs(), 30);
    }

    #[test]
    fn few_calls_are_read_one_by_one_many_in_one_window_read() {
        let since: DateTime<Utc> = "2026-11-25T13:00:00Z".parse().unwrap();
        assert_eq!(
            plan_read(&ids(&["s-1", "s-2", "s-3"]), since),
            LogRead::PerCall(vec!["s-1".into(), "s-2".into(), "s-3".into()])
        );
        assert_eq!(
            plan_read(&ids(&["s-1", "s-2", "s-3", "s-4"]), since),
            LogRead::Window { since }
        );
    }

    #[test]
    fn only_records_of_missing_calls_are_kept_and_struck_off() {
        let records: Vec<CallLogRecord> = serde_json::from_value(serde_json::json!([
            {"id": "r1", "telephonySessionId": "s-1"},
            {"id": "r2", "telephonySessionId": "s-other"},
            {"id": "r3", "telephonySessionId": "s-2", "deleted": true},
            {"id": "r4"}
        ]))
        .unwrap();
        let mut missing = ids(&["s-1", "s-2"]);
        let found = take_found(records, &mut missing);
        let found_ids: Vec<&str> = found.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(found_ids, ["r1"]);
        assert_eq!(missing, ids(&["s-2"]));
    }
}
