//! Reading the platform's state over REST, for the two moments the event stream alone is not
//! enough (PROTOCOL.md §9.5):
//!
//! * **bootstrap**, at start: the phone numbers (attribution), the extensions (names), the call
//!   queues with their service-level settings and members, who is on a call, and every live
//!   call; then, once the board shows those, today's call log since local midnight
//!   ([`todays_calls`]) — so a supervisor who opens callboard at 2 pm sees the whole day, and
//!   sees the live calls first: a busy day's log is many Heavy-group pages, and the board must
//!   not stay empty while they are paced;
//! * **resync**, after a lost session: the phone numbers and the live calls.
//!
//! A live call is found two ways: in the detailed presence of an extension (agents' calls), and
//! in the board's own list of calls it believes live (a caller waiting in a queue is on no
//! extension yet, so presence alone would miss it). Each is read with
//! `GET …/telephony/sessions/{id}`; the ones the platform no longer has are the calls that ended
//! while callboard was not listening.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::{mpsc, watch};

use crate::rc::error::RcError;
use crate::rc::records::{
    CallLogRecord, CallQueue, CallQueueMember, Extension, PhoneNumber, Presence, TelephonySession,
};
use crate::rc::rest::RestClient;
use crate::rc::ws::{SessionEvent, SyncKind};

/// One call queue with what the board needs of it.
#[derive(Debug, Clone)]
pub struct QueueSnapshot {
    /// The detail record (with `serviceLevelSettings`), or the list item if the detail could
    /// not be read.
    pub queue: CallQueue,
    pub members: Vec<CallQueueMember>,
}

/// What a sync read from the platform. Fields a resync does not read are `None`.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub kind: SyncKind,
    /// When the reading started: the snapshot describes the platform no earlier than this.
    pub taken_at: DateTime<Utc>,
    pub numbers: Option<Vec<PhoneNumber>>,
    /// Every extension, for agent and queue names.
    pub extensions: Option<Vec<Extension>>,
    pub queues: Option<Vec<QueueSnapshot>>,
    /// Today's finished calls (Detailed view), newest first as the platform sends them.
    pub call_log: Option<Vec<CallLogRecord>>,
    /// Set by a bootstrap that left today's call log for later: the session reads the log from
    /// this instant with [`todays_calls`] once the snapshot is applied and the board is live.
    pub call_log_since: Option<DateTime<Utc>>,
    pub presence: Vec<Presence>,
    /// Every call the platform confirmed live, as `GET …/telephony/sessions/{id}` returned it.
    pub sessions: Vec<TelephonySession>,
    /// Problems that did not stop the sync (a part that could not be read), in words.
    pub warnings: Vec<String>,
}

impl Snapshot {
    /// The ids of the calls confirmed live: everything else the board holds as live has ended.
    pub fn live_session_ids(&self) -> Vec<String> {
        self.sessions.iter().map(|s| s.id.clone()).collect()
    }
}

/// The telephony session ids of every call in a list of detailed presence records, except
/// calls the record marks as finished.
pub fn presence_call_ids(presence: &[Presence]) -> BTreeSet<String> {
    presence
        .iter()
        .flat_map(|p| p.active_calls.iter())
        .filter(|call| {
            call.termination_type.as_deref() != Some("final")
                && call.telephony_status.as_deref() != Some("NoCall")
        })
        .filter_map(|call| call.telephony_session_id.clone())
        .filter(|id| !id.is_empty())
        .collect()
}

/// Reads every candidate call; keeps the ones the platform still has.
async fn read_live_sessions(
    rest: &RestClient,
    candidates: BTreeSet<String>,
) -> Result<Vec<TelephonySession>, RcError> {
    let mut sessions = Vec::with_capacity(candidates.len());
    for id in candidates {
        if let Some(session) = rest.telephony_session(&id).await? {
            sessions.push(session);
        }
    }
    Ok(sessions)
}

async fn read_queues(
    rest: &RestClient,
    warnings: &mut Vec<String>,
) -> Result<Vec<QueueSnapshot>, RcError> {
    let list = rest.call_queues().await?;
    let mut queues = Vec::with_capacity(list.len());
    for item in list {
        let queue = match rest.call_queue(&item.id).await {
            Ok(detail) => detail,
            Err(e) => {
                warnings.push(format!("using default service levels for a queue: {e}"));
                item
            }
        };
        let members = match rest.call_queue_members(&queue.id).await {
            Ok(members) => members,
            Err(e) => {
                warnings.push(format!("queue agents are unknown: {e}"));
                Vec::new()
            }
        };
        queues.push(QueueSnapshot { queue, members });
    }
    Ok(queues)
}

/// Keeps `Ok` values; turns an error into a warning and `None` (the rest of the sync goes on).
fn keep<T>(result: Result<T, RcError>, warnings: &mut Vec<String>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            tracing::warn!(target: "callboard::rc", "{e}");
            warnings.push(e.to_string());
            None
        }
    }
}

/// The local midnight of `now` in `zone`, in UTC: where "today" starts.
pub fn local_midnight(now: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    let local = now.with_timezone(&zone).date_naive();
    local
        .and_hms_opt(0, 0, 0)
        .and_then(|midnight| midnight.and_local_timezone(zone).earliest())
        .map_or(now, |t| t.with_timezone(&Utc))
}

/// The whole day in one snapshot, for a one-shot reader (`callboard numbers list`): what
/// [`bootstrap_live`] reads, then today's call log. A log that cannot be read is a warning.
pub async fn bootstrap(
    rest: &RestClient,
    zone: Tz,
    board_live: Vec<String>,
) -> Result<Snapshot, RcError> {
    let mut snapshot = bootstrap_live(rest, zone, board_live).await?;
    if let Some(since) = snapshot.call_log_since.take() {
        snapshot.call_log = keep(rest.call_log_since(since).await, &mut snapshot.warnings);
    }
    Ok(snapshot)
}

/// The session's startup read: what the board needs to show the calls live now. A part that
/// cannot be read becomes a warning; only the live calls are required, because without them
/// the board would show a false picture. `board_live` is what the board already believes live
/// (normally nothing at start). Today's call log is not read here: the snapshot's
/// `call_log_since` asks the session to read it next ([`todays_calls`]).
pub async fn bootstrap_live(
    rest: &RestClient,
    zone: Tz,
    board_live: Vec<String>,
) -> Result<Snapshot, RcError> {
    let taken_at = Utc::now();
    let mut warnings = Vec::new();
    let numbers = keep(rest.phone_numbers().await, &mut warnings);
    let extensions = keep(rest.extensions().await, &mut warnings);
    let queues = read_queues(rest, &mut warnings).await;
    let queues = keep(queues, &mut warnings);
    let presence = keep(rest.account_presence().await, &mut warnings).unwrap_or_default();
    let mut candidates = presence_call_ids(&presence);
    candidates.extend(board_live);
    let sessions = read_live_sessions(rest, candidates).await?;
    Ok(Snapshot {
        kind: SyncKind::Bootstrap,
        taken_at,
        numbers,
        extensions,
        queues,
        call_log: None,
        call_log_since: Some(local_midnight(taken_at, zone)),
        presence,
        sessions,
        warnings,
    })
}

/// Reads today's finished calls (from `since`, local midnight) after a bootstrap, and sends
/// them to the app as a [`SyncKind::TodaysCalls`] snapshot (the board skips calls it already
/// holds, so events applied meanwhile are not doubled). A failure is a warning: the live board
/// is right without it, only today's totals miss the earlier calls. Ends early when the app has
/// gone or the session shuts down.
pub async fn todays_calls(
    rest: Arc<RestClient>,
    since: DateTime<Utc>,
    events: mpsc::Sender<SessionEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let taken_at = Utc::now();
    let read = tokio::select! {
        read = rest.call_log_since(since) => read,
        _ = shutdown.wait_for(|stop| *stop) => return,
    };
    let event = match read {
        Ok(records) => SessionEvent::Synced(Box::new(Snapshot {
            kind: SyncKind::TodaysCalls,
            taken_at,
            numbers: None,
            extensions: None,
            queues: None,
            call_log: Some(records),
            call_log_since: None,
            presence: Vec::new(),
            sessions: Vec::new(),
            warnings: Vec::new(),
        })),
        Err(e) => {
            tracing::warn!(target: "callboard::rc", "{e}");
            SessionEvent::Warning(format!(
                "today's earlier calls could not be read, so today's totals count only calls seen live: {e}"
            ))
        }
    };
    // The app gone means nobody is left to tell.
    let _ = events.send(event).await;
}

/// The read after a lost session: the phone numbers (labels may have changed meanwhile, and
/// it is one request), who is on a call, and every live call.
pub async fn resync(rest: &RestClient, board_live: Vec<String>) -> Result<Snapshot, RcError> {
    let taken_at = Utc::now();
    let mut warnings = Vec::new();
    let numbers = keep(rest.phone_numbers().await, &mut warnings);
    let presence = rest.account_presence().await?;
    let mut candidates = presence_call_ids(&presence);
    candidates.extend(board_live);
    let sessions = read_live_sessions(rest, candidates).await?;
    Ok(Snapshot {
        kind: SyncKind::Resync,
        taken_at,
        numbers,
        extensions: None,
        queues: None,
        call_log: None,
        call_log_since: None,
        presence,
        sessions,
        warnings,
    })
}

/// The [`crate::rc::ws::SyncHook`] that reads the real platform through `rest`.
pub fn platform_sync(rest: Arc<RestClient>, zone: Tz) -> crate::rc::ws::SyncHook {
    Arc::new(move |kind, board_live| {
        let rest = rest.clone();
        Box::pin(async move {
            match kind {
                SyncKind::Bootstrap => bootstrap_live(&rest, zone, board_live).await,
                // The session asks only for these two; the call-log follow-ups (`EndedWhileAway`
                // by `rc::unseen_ends`, `TodaysCalls` by `todays_calls`) are read apart, so a
                // request for them is answered like a resync.
                SyncKind::Resync | SyncKind::EndedWhileAway | SyncKind::TodaysCalls => {
                    resync(&rest, board_live).await
                }
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_yields_the_ids_of_unfinished_calls_once() {
        let presence: Vec<Presence> = serde_json::from_value(serde_json::json!([
            {"extension": {"id": 1}, "telephonyStatus": "CallConnected", "activeCalls": [
                {"id": "a", "telephonySessionId": "s-1", "telephonyStatus": "CallConnected"},
                {"id": "b", "telephonySessionId": "s-2", "telephonyStatus": "NoCall", "terminationType": "final"}
            ]},
            {"extension": {"id": 2}, "activeCalls": [
                {"id": "c", "telephonySessionId": "s-1", "telephonyStatus": "Ringing"},
                {"id": "d"}
            ]},
            {"extension": {"id": 3}}
        ]))
        .unwrap();
        let ids: Vec<String> = presence_call_ids(&presence).into_iter().collect();
        assert_eq!(ids, ["s-1"]);
    }

    #[test]
    fn today_starts_at_local_midnight() {
        let now: DateTime<Utc> = "2026-11-25T14:03:00Z".parse().unwrap();
        assert_eq!(
            local_midnight(now, chrono_tz::America::New_York).to_rfc3339(),
            "2026-11-25T05:00:00+00:00"
        );
        assert_eq!(
            local_midnight(now, chrono_tz::UTC).to_rfc3339(),
            "2026-11-25T00:00:00+00:00"
        );
        // 03:00 UTC is still the previous day in New York.
        let early: DateTime<Utc> = "2026-11-25T03:00:00Z".parse().unwrap();
        assert_eq!(
            local_midnight(early, chrono_tz::America::New_York).to_rfc3339(),
            "2026-11-24T05:00:00+00:00"
        );
    }
}
