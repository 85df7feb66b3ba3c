//! Applying what the session delivers to the board: the one piece of glue `watch` and the TUI
//! share, so both apply notifications, snapshots and resyncs the same way.
//!
//! The app loop owns the board; these functions are pure over it (no IO, `now` passed in).

use chrono::{DateTime, Utc};

use crate::board::{Applied, Board};
use crate::rc::events::{self, EventBody, Notification};
use crate::rc::sync::Snapshot;
use crate::rc::ws::SyncKind;

/// What one notification frame did to the board, in the few fields a log line needs.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedEvent {
    pub applied: Applied,
    /// The event's own time (`eventTime`, else the envelope's `timestamp`), if it reads.
    pub time: Option<DateTime<Utc>>,
    pub detail: EventDetail,
}

/// The identifying part of an applied event.
#[derive(Debug, Clone, PartialEq)]
pub enum EventDetail {
    Telephony {
        telephony_session_id: String,
        party_id: Option<String>,
        status: Option<String>,
    },
    Presence {
        extension_id: Option<String>,
        telephony_status: Option<String>,
    },
    Other,
}

/// The frame could not be read as a notification; the caller counts it and goes on.
#[derive(Debug, thiserror::Error)]
#[error("a notification could not be read: {0}")]
pub struct UnreadableFrame(#[from] events::ParseError);

fn text(value: Option<&events::Text<'_>>) -> Option<String> {
    value.map(|t| crate::text::sanitize(t.as_str()).into_owned())
}

fn detail_of(note: &Notification<'_>) -> (EventDetail, Option<DateTime<Utc>>) {
    let envelope_time = note.timestamp.as_deref().and_then(events::parse_timestamp);
    match &note.body {
        EventBody::Telephony(ev) => {
            let party = ev.parties.first();
            let time = ev
                .event_time
                .as_ref()
                .and_then(|t| events::parse_timestamp(t.as_str()))
                .or(envelope_time);
            let detail = EventDetail::Telephony {
                telephony_session_id: ev
                    .telephony_session_id
                    .as_ref()
                    .map(|id| crate::text::sanitize(id.as_str()).into_owned())
                    .unwrap_or_default(),
                party_id: party
                    .and_then(|p| p.id.as_ref())
                    .map(|id| crate::text::sanitize(id.as_str()).into_owned()),
                status: party
                    .and_then(|p| p.status.as_ref())
                    .and_then(|s| text(s.code.as_ref())),
            };
            (detail, time)
        }
        EventBody::Presence(ev) => (
            EventDetail::Presence {
                extension_id: ev
                    .extension_id
                    .as_ref()
                    .map(|id| crate::text::sanitize(id.as_str()).into_owned()),
                telephony_status: text(ev.telephony_status.as_ref()),
            },
            envelope_time,
        ),
        EventBody::Other => (EventDetail::Other, envelope_time),
    }
}

/// Parses one notification frame (once) and applies it. Frames that are not notifications
/// apply as `Ignored`.
pub fn apply_notification(
    board: &mut Board,
    frame: &str,
    now: DateTime<Utc>,
) -> Result<AppliedEvent, UnreadableFrame> {
    let Some(note) = events::parse_notification(frame)? else {
        return Ok(AppliedEvent {
            applied: Applied::Ignored,
            time: None,
            detail: EventDetail::Other,
        });
    };
    let applied = board.apply_notification(&note, now);
    let (detail, time) = detail_of(&note);
    Ok(AppliedEvent {
        applied,
        time,
        detail,
    })
}

/// What applying a snapshot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotSummary {
    pub live_calls: usize,
    /// Live calls the platform no longer had: they ended while callboard was not listening.
    pub ended_while_away: usize,
    /// Finished calls of today taken from the call log.
    pub from_call_log: usize,
    /// Calls that ended while away, corrected by their call-log record.
    pub corrected_from_call_log: usize,
}

/// Applies a bootstrap or resync snapshot: numbers and queues first (so calls are attributed),
/// then presence, then the live calls, then ends the calls the platform no longer has, then
/// today's call log if the snapshot has one (it skips calls the board already holds). The
/// follow-ups carry only call-log records: `EndedWhileAway` corrects the calls a resync closed,
/// `TodaysCalls` adds today's earlier calls the board does not hold; neither ends anything.
pub fn apply_snapshot(
    board: &mut Board,
    snapshot: &Snapshot,
    now: DateTime<Utc>,
) -> SnapshotSummary {
    let records = snapshot.call_log.as_deref().unwrap_or_default();
    match snapshot.kind {
        SyncKind::EndedWhileAway => {
            return SnapshotSummary {
                corrected_from_call_log: board.correct_from_call_log(records, now),
                ..SnapshotSummary::default()
            };
        }
        SyncKind::TodaysCalls => {
            return SnapshotSummary {
                from_call_log: board.bootstrap_from_call_log(records, now),
                ..SnapshotSummary::default()
            };
        }
        SyncKind::Bootstrap | SyncKind::Resync => {}
    }
    if let Some(numbers) = &snapshot.numbers {
        board.set_numbers(numbers, now);
    }
    if let Some(extensions) = &snapshot.extensions {
        board.set_extensions(extensions, now);
    }
    if let Some(queues) = &snapshot.queues {
        let records: Vec<_> = queues.iter().map(|q| q.queue.clone()).collect();
        board.set_queues(&records, now);
        for queue in queues {
            board.set_queue_members(&queue.queue.id, &queue.members, now);
        }
    }
    board.apply_presence_snapshot(&snapshot.presence, now);
    for session in &snapshot.sessions {
        board.apply_session_snapshot(session, now);
    }
    let live = snapshot.live_session_ids();
    let ended_while_away = board.end_missing_live_calls(live.iter().map(String::as_str), now);
    let from_call_log = match (&snapshot.call_log, snapshot.kind) {
        (Some(log), SyncKind::Bootstrap) => board.bootstrap_from_call_log(log, now),
        _ => 0,
    };
    SnapshotSummary {
        live_calls: live.len(),
        ended_while_away,
        from_call_log,
        corrected_from_call_log: 0,
    }
}

/// The telephony session ids of the calls the board holds as live (the answer to
/// [`crate::rc::ws::SessionEvent::LiveCallsWanted`]).
pub fn live_call_ids(board: &Board) -> Vec<String> {
    board.live_calls().map(|call| call.id.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::BoardConfig;

    fn frame(sequence: u64, status: &str) -> String {
        serde_json::json!([
            {"type": "ServerNotification", "messageId": "m", "status": 200},
            {"uuid": "m", "event": "/restapi/v1.0/account/1/telephony/sessions",
             "timestamp": "2026-11-25T14:00:00.000Z", "subscriptionId": "sub", "ownerId": "1",
             "body": {"sequence": sequence, "telephonySessionId": "s-1", "sessionId": "9",
                      "eventTime": "2026-11-25T14:00:00.000Z",
                      "parties": [{"id": "p-1", "direction": "Outbound",
                                   "from": {"phoneNumber": "+14155550123", "name": "Ann\u{1b}[2J"},
                                   "to": {"phoneNumber": "+18005550100"},
                                   "status": {"code": status}}]}}
        ])
        .to_string()
    }

    fn snapshot(kind: SyncKind) -> Snapshot {
        Snapshot {
            kind,
            taken_at: "2026-11-25T14:05:00Z".parse().unwrap(),
            numbers: None,
            extensions: None,
            queues: None,
            call_log: None,
            call_log_since: None,
            presence: Vec::new(),
            sessions: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn call_log_record(session: &str) -> crate::rc::records::CallLogRecord {
        serde_json::from_value(serde_json::json!({
            "id": format!("r-{session}"), "telephonySessionId": session,
            "startTime": "2026-11-25T13:00:00.000Z", "duration": 42, "direction": "Inbound",
            "result": "Accepted",
            "from": {"phoneNumber": "+14155550123"}, "to": {"phoneNumber": "+18005550100"}
        }))
        .unwrap()
    }

    #[test]
    fn todays_calls_arriving_after_live_events_add_only_the_calls_not_held() {
        let mut board = Board::new(BoardConfig::default(), Vec::<String>::new());
        let now = "2026-11-25T14:00:01Z".parse().unwrap();
        apply_notification(&mut board, &frame(2, "Setup"), now).unwrap();
        let mut todays = snapshot(SyncKind::TodaysCalls);
        todays.call_log = Some(vec![call_log_record("s-1"), call_log_record("s-0")]);
        let later = "2026-11-25T14:05:00Z".parse().unwrap();
        let summary = apply_snapshot(&mut board, &todays, later);
        assert_eq!(
            summary,
            SnapshotSummary {
                from_call_log: 1,
                ..SnapshotSummary::default()
            }
        );
        // The live call is neither ended nor doubled; the earlier call is there, finished.
        assert_eq!(live_call_ids(&board), ["s-1"]);
        assert!(board.call("s-0").is_some_and(|call| !call.is_live()));
    }

    #[test]
    fn a_notification_is_applied_once_and_described() {
        let mut board = Board::new(BoardConfig::default(), Vec::<String>::new());
        let now = "2026-11-25T14:00:01Z".parse().unwrap();
        let applied = apply_notification(&mut board, &frame(2, "Setup"), now).unwrap();
        assert_eq!(applied.applied, Applied::Changed);
        assert_eq!(
            applied.detail,
            EventDetail::Telephony {
                telephony_session_id: "s-1".into(),
                party_id: Some("p-1".into()),
                status: Some("Setup".into()),
            }
        );
        assert_eq!(live_call_ids(&board), ["s-1"]);
        // The same event again changes nothing.
        let again = apply_notification(&mut board, &frame(2, "Setup"), now).unwrap();
        assert_ne!(again.applied, Applied::Changed);
        assert!(apply_notification(&mut board, "not a frame", now).is_err());
    }

    #[test]
    fn a_resync_ends_the_calls_the_platform_no_longer_has() {
        let mut board = Board::new(BoardConfig::default(), Vec::<String>::new());
        let now = "2026-11-25T14:00:01Z".parse().unwrap();
        apply_notification(&mut board, &frame(2, "Setup"), now).unwrap();
        let later = "2026-11-25T14:05:00Z".parse().unwrap();
        let summary = apply_snapshot(&mut board, &snapshot(SyncKind::Resync), later);
        assert_eq!(
            summary,
            SnapshotSummary {
                live_calls: 0,
                ended_while_away: 1,
                from_call_log: 0,
                corrected_from_call_log: 0,
            }
        );
        assert!(live_call_ids(&board).is_empty());
    }

    #[test]
    fn a_call_log_follow_up_corrects_closed_calls_and_ends_nothing_live() {
        let mut board = Board::new(BoardConfig::default(), Vec::<String>::new());
        let now = "2026-11-25T14:00:01Z".parse().unwrap();
        apply_notification(&mut board, &frame(2, "Setup"), now).unwrap();
        let record: crate::rc::records::CallLogRecord = serde_json::from_value(serde_json::json!({
            "id": "r-1", "telephonySessionId": "s-1", "startTime": "2026-11-25T14:00:00.000Z",
            "duration": 42, "direction": "Outbound", "result": "Call connected",
            "from": {"phoneNumber": "+14155550123"}, "to": {"phoneNumber": "+18005550100"}
        }))
        .unwrap();
        let mut follow_up = snapshot(SyncKind::EndedWhileAway);
        follow_up.call_log = Some(vec![record]);
        let later = "2026-11-25T14:05:00Z".parse().unwrap();
        // While the call is live (its end seen or not yet), the follow-up changes nothing and,
        // unlike a resync, ends nothing.
        assert_eq!(
            apply_snapshot(&mut board, &follow_up, later),
            SnapshotSummary::default()
        );
        assert_eq!(live_call_ids(&board), ["s-1"]);
        apply_snapshot(&mut board, &snapshot(SyncKind::Resync), later);
        let summary = apply_snapshot(&mut board, &follow_up, later);
        assert_eq!(summary.corrected_from_call_log, 1);
        let call = board.call("s-1").unwrap();
        assert!(call.end_seen);
        assert_eq!(call.ended_at, Some("2026-11-25T14:00:42Z".parse().unwrap()));
    }
}
