//! No frame, however malformed, panics the parser or the board (issue 3 "Done means").
//!
//! Three generators: arbitrary text; real frames (the shared samples and a recorded shift)
//! mutated at the byte and at the JSON-value level; and well-formed but random telephony and
//! presence events (random statuses, sequences, directions, extreme times). After each input
//! the board is also read (JSON, rows, sparklines), and simple invariants are checked.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

use callboard::board::{Board, BoardConfig, Window};
use callboard::rc::events::parse_frame;
use callboard::rc::records::{CallQueue, PhoneNumber};

const SAMPLES: &[&str] = &[
    include_str!("fixtures/samples/event-telsess-docs-samples.json"),
    include_str!("fixtures/samples/event-telsess-callcontrol-js-2019.json"),
    include_str!("fixtures/samples/event-presence-detailed-docs.json"),
    include_str!("fixtures/samples/event-notify-callsession-v2_4-draft.json"),
    include_str!("fixtures/samples/ws-01-connection-details.json"),
    include_str!("fixtures/samples/ws-02-connection-details-recovery.json"),
    include_str!("fixtures/samples/ws-04-subscription-responses.json"),
    include_str!("fixtures/samples/ws-05-server-notification.json"),
    include_str!("fixtures/samples/ws-06-misc-frames.json"),
];
const SHIFT: &str = include_str!("fixtures/replay/shift.jsonl");

/// Every frame-like JSON text in the samples: whole files, their members, array elements.
fn corpus() -> Vec<String> {
    let mut out: Vec<String> = SHIFT.lines().map(str::to_owned).collect();
    for doc in SAMPLES {
        let value: Value = serde_json::from_str(doc).unwrap();
        out.push(value.to_string());
        match &value {
            Value::Object(map) => out.extend(map.values().map(Value::to_string)),
            Value::Array(items) => out.extend(items.iter().map(Value::to_string)),
            _ => {}
        }
    }
    out
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap()
}

fn board() -> Board {
    let mut board = Board::new(BoardConfig::default(), Vec::new());
    let numbers: Vec<PhoneNumber> = serde_json::from_value(json!([
        { "id": 1, "phoneNumber": "+15550100001", "label": "Zillow Spring +15550100000" },
        { "id": 2, "phoneNumber": "+15550100003", "label": "Yelp" },
    ]))
    .unwrap();
    board.set_numbers(&numbers, t0());
    let queues: Vec<CallQueue> =
        serde_json::from_value(json!([{ "id": "62242421016", "name": "Sales" }])).unwrap();
    board.set_queues(&queues, t0());
    board
}

/// Reads everything a UI or script would read, and checks what must always hold.
fn read_all(board: &Board, now: DateTime<Utc>) {
    let doc = board.to_json(now);
    assert_eq!(doc["schema"], 1);
    for window in [Window::Today, Window::Rolling] {
        for row in board.queue_rows(window, now) {
            assert!(
                row.answered + row.abandoned + row.short_abandoned + row.voicemail <= row.offered
            );
            assert!(row.offered >= 0 && row.answered >= 0 && row.abandoned >= 0);
            if let Some(pct) = row.service_level_pct {
                assert!((0.0..=100.0).contains(&pct), "{pct}");
            }
            let _ = board.queue_arrivals_per_minute(&row.id, now);
        }
        for row in board.campaign_rows(window, now) {
            assert!(row.live >= 0 && row.offered >= 0 && row.answered + row.missed <= row.offered);
            let _ = board.campaign_trend(&row.campaign, row.dn.as_deref(), now);
        }
        let _ = board.number_rows(window, now);
    }
    let live = board.live_calls().count();
    let waiting: usize = board
        .queue_rows(Window::Today, now)
        .iter()
        .map(|q| q.waiting)
        .sum();
    assert!(waiting <= live);
    for call in board.calls() {
        let _ = (call.wait_ms(now), call.talk_ms(now), call.hold_ms(now));
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    Duplicate { at: usize, len: usize },
    Truncate { at: usize },
}

fn interesting_token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        Just("{}".to_owned()),
        Just("[]".to_owned()),
        Just("-1".to_owned()),
        Just("1e400".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("\"Disconnected\"".to_owned()),
        Just("\"\\u001b[2J\"".to_owned()),
        Just("\"\\ud800\"".to_owned()),
        Just(",".to_owned()),
        Just("\"".to_owned()),
        "\\PC{0,8}",
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..20).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), interesting_token()).prop_map(|(at, text)| Mutation::Insert { at, text }),
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn boundary(s: &str, at: usize) -> usize {
    let mut at = at % (s.len() + 1);
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut s = text.to_owned();
    for m in mutations {
        match m {
            Mutation::Delete { at, len } => {
                let start = boundary(&s, *at);
                let end = boundary(&s, start.saturating_add(*len).min(s.len()));
                if end > start {
                    s.replace_range(start..end, "");
                }
            }
            Mutation::Insert { at, text } => {
                let at = boundary(&s, *at);
                s.insert_str(at, text);
            }
            Mutation::Duplicate { at, len } => {
                let start = boundary(&s, *at);
                let end = boundary(&s, start.saturating_add(*len).min(s.len()));
                let piece = s[start..end].to_owned();
                s.insert_str(end, &piece);
            }
            Mutation::Truncate { at } => {
                let at = boundary(&s, *at);
                s.truncate(at);
            }
        }
    }
    s
}

/// Replaces the `pick`th value in a JSON tree (depth first) with `replacement`.
fn replace_nth(value: &mut Value, pick: &mut usize, replacement: &Value) -> bool {
    if *pick == 0 {
        *value = replacement.clone();
        return true;
    }
    *pick -= 1;
    match value {
        Value::Array(items) => items.iter_mut().any(|v| replace_nth(v, pick, replacement)),
        Value::Object(map) => map.values_mut().any(|v| replace_nth(v, pick, replacement)),
        _ => false,
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("Answered"),
            Just("Hold"),
            Just("Gone"),
            Just("Parked"),
            Just("VoiceMail"),
            Just("Disconnected"),
            Just("Proceeding"),
            Just("Setup"),
            Just("Inbound"),
            Just("Outbound"),
            Just("2026-11-25T14:00:00.000Z"),
            Just("9999-12-31T23:59:59Z"),
            Just("0000-01-01T00:00:00Z"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn status() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("Setup"),
        Just("Proceeding"),
        Just("Answered"),
        Just("Hold"),
        Just("Parked"),
        Just("Gone"),
        Just("Disconnected"),
        Just("VoiceMail"),
        Just("Voicemail"),
        Just("VMScreening"),
        Just("FaxReceive"),
        Just("Tds"),
        Just("Unheard-of"),
    ]
}

/// Where each random session's hour starts, in seconds from t0 (yesterday, just before and
/// after midnight, today, tomorrow).
const SESSION_STARTS: [i64; 4] = [-90_000, -50_500, 0, 40_000];

/// A well-formed telephony or presence envelope with random content.
fn random_event() -> impl Strategy<Value = (i64, String)> {
    let telephony = (
        0u8..4,             // session
        0u8..4,             // party
        0u64..12,           // sequence
        0i64..3_600,        // seconds into the session's hour
        status(),
        prop::option::of(prop_oneof![Just("62242422016"), Just("62242421016"), Just("800")]),
        prop::option::of(prop_oneof![Just("Inbound"), Just("Outbound")]),
        prop::option::of(prop_oneof![Just("+15550100001"), Just("+15550100003"), Just("+15557777777")]),
        any::<bool>(),
    )
        .prop_map(|(session, party, sequence, offset, code, ext, direction, to, queue_call)| {
            // Sessions spread over two days; one session's events stay within an hour, as a
            // real call's do (a session id is never reused a day later).
            let at = SESSION_STARTS[usize::from(session)] + offset;
            let time = (t0() + Duration::seconds(at)).to_rfc3339();
            let mut p = json!({
                "id": format!("p-{session}-{party}"),
                "status": { "code": code },
                "from": { "phoneNumber": "+15559870001" },
                "to": { "phoneNumber": to, "extensionId": if queue_call { Some("62242421016") } else { None } },
                "queueCall": queue_call,
            });
            if let Some(ext) = ext {
                p["extensionId"] = json!(ext);
            }
            if let Some(direction) = direction {
                p["direction"] = json!(direction);
            }
            let frame = json!({
                "event": "/restapi/v1.0/account/1/telephony/sessions",
                "timestamp": time,
                "body": {
                    "sequence": sequence,
                    "telephonySessionId": format!("s-{session}"),
                    "eventTime": time,
                    "parties": [p],
                },
            });
            (at, frame.to_string())
        });
    let presence = (
        0u64..6,
        -100_000i64..100_000,
        prop_oneof![Just("NoCall"), Just("Ringing"), Just("CallConnected"), Just("OnHold")],
        prop_oneof![Just("Available"), Just("Busy"), Just("Offline")],
    )
        .prop_map(|(sequence, at, telephony, presence)| {
            let time = (t0() + Duration::seconds(at)).to_rfc3339();
            let frame = json!([
                { "type": "ServerNotification", "messageId": "m" },
                {
                    "event": "/restapi/v1.0/account/~/extension/62242422016/presence?detailedTelephonyState=true",
                    "timestamp": time,
                    "body": { "extensionId": 62242422016u64, "sequence": sequence,
                              "telephonyStatus": telephony, "presenceStatus": presence },
                },
            ]);
            (at, frame.to_string())
        });
    prop_oneof![3 => telephony, 1 => presence]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let mut board = board();
        let _ = parse_frame(&text);
        let _ = board.apply_frame(&text, t0());
        read_all(&board, t0());
    }

    #[test]
    fn mutated_real_frames_never_panic(
        picks in prop::collection::vec((any::<prop::sample::Index>(), prop::collection::vec(mutation(), 1..4)), 1..8),
    ) {
        let corpus = corpus();
        let mut board = board();
        for (pick, mutations) in &picks {
            let original = pick.get(&corpus);
            let text = mutate(original, mutations);
            let _ = board.apply_frame(&text, t0());
        }
        read_all(&board, t0());
    }

    #[test]
    fn real_frames_with_a_value_replaced_never_panic(
        picks in prop::collection::vec((any::<prop::sample::Index>(), 0usize..60, json_value()), 1..8),
    ) {
        let corpus = corpus();
        let mut board = board();
        for (pick, nth, replacement) in &picks {
            let Ok(mut value) = serde_json::from_str::<Value>(pick.get(&corpus).as_str()) else { continue };
            let mut nth = *nth;
            replace_nth(&mut value, &mut nth, replacement);
            let _ = board.apply_frame(&value.to_string(), t0());
        }
        read_all(&board, t0());
    }

    #[test]
    fn random_event_sequences_keep_the_board_consistent(
        events in prop::collection::vec(random_event(), 1..60),
        replay_twice in any::<bool>(),
    ) {
        let mut board = board();
        let mut now = t0() - Duration::days(2);
        for (at, frame) in &events {
            now = now.max(t0() + Duration::seconds(*at));
            board.apply_frame(frame, now).unwrap();
        }
        read_all(&board, now);
        if replay_twice {
            let before = board.to_json(now);
            let revision = board.revision();
            for (_, frame) in &events {
                board.apply_frame(frame, now).unwrap();
            }
            // Re-applying everything is a no-op: the board is idempotent.
            prop_assert_eq!(board.revision(), revision);
            prop_assert_eq!(board.to_json(now), before);
        }
        board.tick(now + Duration::hours(30));
        read_all(&board, now + Duration::hours(30));
    }
}
