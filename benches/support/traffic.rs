//! The inputs of the in-process budgets: WebSocket frames exactly as the simulator's gateway
//! sends them (for ingest), and boards holding a chosen number of live and finished calls (for
//! render, key latency, memory and the per-event cost curve).

use callboard::board::{Board, BoardConfig};
use callboard::sim::WorldConfig;
use callboard::sim::feed::subscribed_frames;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

pub use callboard::sim::feed::FeedFrame as TimedFrame;

/// A fixed wall-clock start, so every run builds the same frames.
pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
        .single()
        .expect("valid fixed date")
}

/// At least `count` frames of a busy account's traffic (telephony and detailed presence), from
/// the simulator's world, wrapped by its gateway for one subscription to the same filters the
/// client uses. The world runs in simulated time, so this takes no wall time to play.
pub fn world_frames(count: usize) -> Vec<TimedFrame> {
    let cfg = WorldConfig {
        seed: 7,
        queues: 8,
        agents_per_queue: 25,
        ctn_numbers: 60,
        calls_per_minute: 240.0,
        history_minutes: 0,
        ..WorldConfig::default()
    };
    subscribed_frames(&cfg, epoch(), 11, count)
}

/// A telephony notification frame in the gateway's shape for one party of synthetic call
/// `index`, with the given status, at `event_time`.
fn call_frame(index: usize, sequence: u64, code: &str, event_time: DateTime<Utc>) -> String {
    let agent = index % 2_000;
    let queue = index % 40;
    let body = json!({
        "sequence": sequence,
        "sessionId": format!("S{index}"),
        "telephonySessionId": format!("s-bench-{index}"),
        "serverId": "10.13.121.23.TAM",
        "eventTime": event_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "origin": {"type": "Call"},
        "parties": [{
            "accountId": "809646016",
            "id": format!("p-{index}-2"),
            "direction": "Inbound",
            "to": {"phoneNumber": format!("+1415555{:04}", index % 60), "name": format!("Queue {queue}"),
                   "extensionId": format!("71{queue:05}")},
            "from": {"phoneNumber": format!("+1650{:07}", index % 10_000_000), "name": format!("Caller {index}")},
            "status": {"code": code, "rcc": false},
            "missedCall": false,
            "standAlone": false,
            "extensionId": format!("62{agent:06}"),
            "queueCall": true,
            "uiCallInfo": {
                "primary": {"type": "QueueName", "value": format!("Queue {queue}")},
                "additional": {"type": "PhoneNumberLabel", "value": format!("Campaign {} +14155550100", index % 12)},
            },
        }],
    });
    json!([
        {"type": "ServerNotification", "messageId": format!("{index}"), "status": 200},
        {"uuid": format!("{index}-{sequence}"),
         "event": format!("/restapi/v1.0/account/809646016/extension/62{agent:06}/telephony/sessions"),
         "timestamp": event_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
         "subscriptionId": "bench-subscription", "ownerId": "809646016", "body": body},
    ])
    .to_string()
}

/// A board holding `live` live calls and `finished` calls that ended within the 90 minutes
/// before `now` (inside the default 2-hour memory horizon); returns it with `now`.
pub fn populated_board(live: usize, finished: usize, now: DateTime<Utc>) -> (Board, DateTime<Utc>) {
    let mut board = Board::new(BoardConfig::default(), Vec::<String>::new());
    for i in 0..finished {
        // Spread over 90 minutes, oldest first, as they would have arrived.
        let ended = now
            - Duration::milliseconds(5_400_000 - (i as i64 * 5_400_000) / finished.max(1) as i64);
        let answered = ended - Duration::seconds(90);
        board
            .apply_frame(&call_frame(i, 2, "Answered", answered), answered)
            .expect("synthetic frame parses");
        board
            .apply_frame(&call_frame(i, 3, "Disconnected", ended), ended)
            .expect("synthetic frame parses");
    }
    for i in finished..finished + live {
        // Live calls started over the last 30 minutes; a quarter still ringing in a queue.
        let started = now
            - Duration::milliseconds(
                1_800_000 - ((i - finished) as i64 * 1_800_000) / live.max(1) as i64,
            );
        let code = if i % 4 == 0 { "Proceeding" } else { "Answered" };
        board
            .apply_frame(&call_frame(i, 2, code, started), started)
            .expect("synthetic frame parses");
    }
    board.tick(now);
    (board, now)
}
