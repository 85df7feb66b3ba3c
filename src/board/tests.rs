//! Board unit tests: every status path as a scripted call, ordering and duplicates, day
//! rollover and ageing, relabelling, the metric formulas by hand, and the real samples.
//!
//! Scripts go through the real parser (`Board::apply_frame`), so these also test that the
//! parse and the board agree on field names.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};

use super::*;
use crate::rc::records::{
    CallLogRecord, CallQueue, CallQueueMember, CallQueuePresence, Extension, PhoneNumber, Presence,
    ServiceLevelSettings, TelephonySession,
};

const QUEUE: &str = "900";
const IVR: &str = "800";
const ANN: &str = "501";
const BOB: &str = "502";
const CALLER: &str = "+15559870001";
const CTN_ZILLOW_1: &str = "+15550100001";
const CTN_ZILLOW_2: &str = "+15550100002";
const CTN_YELP: &str = "+15550100003";
const CTN_BARE: &str = "+15550100004";
const ZILLOW_DN: &str = "+15550100000";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap()
}

fn t(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

fn time_text(at: DateTime<Utc>) -> String {
    json::format_time(at)
}

fn numbers() -> Vec<PhoneNumber> {
    let record = |id: &str, number: &str, label: Option<&str>| PhoneNumber {
        id: id.into(),
        phone_number: number.into(),
        label: label.map(Into::into),
        usage_type: Some("CompanyNumber".into()),
        ..PhoneNumber::default()
    };
    vec![
        record("1", CTN_ZILLOW_1, Some("Zillow Spring +15550100000")),
        record("2", CTN_ZILLOW_2, Some("Zillow Spring +15550100000")),
        record("3", CTN_YELP, Some("Yelp")),
        record("4", CTN_BARE, None),
    ]
}

fn sales_queue(settings: Option<ServiceLevelSettings>) -> CallQueue {
    CallQueue {
        id: QUEUE.into(),
        name: Some("Sales".into()),
        service_level_settings: settings,
        ..CallQueue::default()
    }
}

/// A board with the account's numbers, the Sales queue (default SLA), two agents and an IVR.
fn board() -> Board {
    board_with(BoardConfig::default())
}

fn board_with(config: BoardConfig) -> Board {
    let mut board = Board::new(config, vec!["+15559870999".to_owned()]);
    let at = t(-3600);
    board.set_numbers(&numbers(), at);
    board.set_queues(&[sales_queue(None)], at);
    board.set_extensions(
        &[
            extension(ANN, "Ann Agent", "User"),
            extension(BOB, "Bob Agent", "User"),
            extension(IVR, "Main IVR", "IvrMenu"),
            extension(QUEUE, "Sales", "Department"),
        ],
        at,
    );
    board.set_queue_members(QUEUE, &[member(ANN), member(BOB)], at);
    board
}

fn extension(id: &str, name: &str, kind: &str) -> Extension {
    Extension {
        id: id.into(),
        name: Some(name.into()),
        kind: Some(kind.into()),
        ..Extension::default()
    }
}

fn member(id: &str) -> CallQueueMember {
    CallQueueMember {
        id: id.into(),
        ..CallQueueMember::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Parties, as the platform sends them (PROTOCOL.md §9.10)

fn with_status(mut party: Value, code: &str) -> Value {
    party["status"] = json!({ "code": code });
    party
}

fn caller_leg(session: &str, code: &str) -> Value {
    caller_leg_to(session, CTN_ZILLOW_1, code)
}

fn caller_leg_to(session: &str, dialed: &str, code: &str) -> Value {
    with_status(
        json!({
            "id": format!("{session}-1"),
            "direction": "Outbound",
            "from": { "phoneNumber": CALLER, "name": "Pat Caller" },
            "to": { "phoneNumber": dialed },
            "missedCall": false,
        }),
        code,
    )
}

fn ivr_leg(session: &str, code: &str) -> Value {
    with_status(
        json!({
            "id": format!("{session}-ivr"),
            "extensionId": IVR,
            "direction": "Inbound",
            "from": { "phoneNumber": CALLER },
            "to": { "phoneNumber": CTN_ZILLOW_1, "name": "Main IVR", "extensionId": IVR },
        }),
        code,
    )
}

/// The `n`th agent party of a queue call.
fn agent_leg(session: &str, n: u32, agent: &str, code: &str) -> Value {
    with_status(
        json!({
            "id": format!("{session}-a{n}"),
            "extensionId": agent,
            "direction": "Inbound",
            "from": { "phoneNumber": CALLER, "name": "Pat Caller" },
            "to": { "phoneNumber": CTN_ZILLOW_1, "name": "Sales", "extensionId": QUEUE },
            "queueCall": true,
            "uiCallInfo": { "primary": { "type": "QueueName", "value": "Sales" } },
        }),
        code,
    )
}

/// One scripted step: at `seconds` after t0, this party state.
type Step = (i64, Value);

/// Bare notification envelopes for a script, with per-session sequence numbers from 2.
fn frames(session: &str, steps: &[Step]) -> Vec<(DateTime<Utc>, String)> {
    steps
        .iter()
        .enumerate()
        .map(|(i, (at, party))| {
            let at = t(*at);
            let frame = json!({
                "uuid": format!("{session}-{i}"),
                "event": "/restapi/v1.0/account/1/telephony/sessions",
                "timestamp": time_text(at),
                "subscriptionId": "sub",
                "ownerId": "1",
                "body": {
                    "sequence": i as u64 + 2,
                    "sessionId": "42",
                    "telephonySessionId": session,
                    "eventTime": time_text(at),
                    "origin": { "type": "Call" },
                    "parties": [party],
                },
            });
            (at, frame.to_string())
        })
        .collect()
}

fn play(board: &mut Board, session: &str, steps: &[Step]) {
    for (at, frame) in frames(session, steps) {
        board.apply_frame(&frame, at).unwrap();
    }
}

fn call_json(board: &Board, session: &str, now: DateTime<Utc>) -> Value {
    board.to_json(now)["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["telephonySessionId"] == session)
        .cloned()
        .unwrap_or_else(|| panic!("call {session} not on the board"))
}

fn queue_json(board: &Board, now: DateTime<Utc>) -> Value {
    board.to_json(now)["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == QUEUE)
        .cloned()
        .unwrap()
}

fn campaign_json(board: &Board, campaign: &str, now: DateTime<Utc>) -> Value {
    board.to_json(now)["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["campaign"] == campaign)
        .cloned()
        .unwrap_or_else(|| panic!("no campaign row {campaign}"))
}

// ---------------------------------------------------------------------------------------------
// Status paths

/// PSTN → IVR → queue → agent; the IVR answering first is not the agent's answer.
fn ivr_queue_agent(session: &str) -> Vec<Step> {
    vec![
        (0, caller_leg(session, "Setup")),
        (1, caller_leg(session, "Answered")),
        (1, ivr_leg(session, "Setup")),
        (2, ivr_leg(session, "Answered")),
        (10, ivr_leg(session, "Disconnected")),
        (10, agent_leg(session, 1, ANN, "Proceeding")),
        (25, agent_leg(session, 1, ANN, "Answered")),
        (85, agent_leg(session, 1, ANN, "Disconnected")),
        (85, caller_leg(session, "Disconnected")),
    ]
}

#[test]
fn pstn_ivr_queue_agent() {
    let mut board = board();
    let steps = ivr_queue_agent("s-1");
    play(&mut board, "s-1", &steps[..3]);
    let call = board.call("s-1").unwrap();
    assert_eq!(call.state, CallState::Setup);
    assert_eq!(call.outcome, Outcome::Live);
    assert_eq!(call.direction, CallDirection::Inbound);

    play(&mut board, "s-1", &steps[..6]);
    assert_eq!(board.call("s-1").unwrap().state, CallState::Waiting);
    let queue = queue_json(&board, t(15));
    assert_eq!(queue["waiting"], 1);
    assert_eq!(queue["longestWaitSeconds"], 5.0);
    assert_eq!(call_json(&board, "s-1", t(15))["waitSeconds"], 5.0);

    play(&mut board, "s-1", &steps[..7]);
    assert_eq!(board.call("s-1").unwrap().state, CallState::Talking);
    assert_eq!(queue_json(&board, t(30))["waiting"], 0);
    assert_eq!(call_json(&board, "s-1", t(30))["talkSeconds"], 5.0);

    play(&mut board, "s-1", &steps);
    let now = t(100);
    let call = call_json(&board, "s-1", now);
    assert_eq!(call["state"], "ended");
    assert_eq!(call["outcome"], "answered");
    assert_eq!(call["caller"], CALLER);
    assert_eq!(call["callerName"], "Pat Caller");
    assert_eq!(call["dialed"], CTN_ZILLOW_1);
    assert_eq!(call["campaign"], "Zillow Spring");
    assert_eq!(call["dn"], ZILLOW_DN);
    assert_eq!(call["queue"], "Sales");
    assert_eq!(call["queueId"], QUEUE);
    assert_eq!(call["agent"], "Ann Agent");
    assert_eq!(call["agentId"], ANN);
    assert_eq!(call["startedAt"], time_text(t(0)));
    assert_eq!(call["queuedAt"], time_text(t(10)));
    assert_eq!(call["answeredAt"], time_text(t(25)));
    assert_eq!(call["endedAt"], time_text(t(85)));
    assert_eq!(call["waitSeconds"], 15.0);
    assert_eq!(call["talkSeconds"], 60.0);
    assert_eq!(call["holdSeconds"], 0.0);
    assert!(board.call("s-1").unwrap().first_time_caller);

    let queue = queue_json(&board, now);
    assert_eq!(queue["offered"], 1);
    assert_eq!(queue["answered"], 1);
    assert_eq!(queue["serviceLevelPct"], 100.0);
    assert_eq!(queue["asaSeconds"], 15.0);
    assert_eq!(queue["ahtSeconds"], 60.0);
    let campaign = campaign_json(&board, "Zillow Spring", now);
    assert_eq!(campaign["offered"], 1);
    assert_eq!(campaign["answered"], 1);
    assert_eq!(campaign["missed"], 0);
    assert_eq!(campaign["live"], 0);
    assert_eq!(campaign["avgTalkSeconds"], 60.0);
    assert_eq!(campaign["numbers"], json!([CTN_ZILLOW_1, CTN_ZILLOW_2]));
}

/// Expected end state of one scripted call.
struct Expect {
    outcome: &'static str,
    agent: Option<&'static str>,
    wait: Option<f64>,
    talk: Option<f64>,
    hold: Option<f64>,
}

/// One row per status path: a script, then what the finished call must look like.
#[test]
fn every_status_path_ends_as_expected() {
    let s = "s-x";
    let queued = |extra: Vec<Step>| {
        let mut steps = vec![
            (0, caller_leg(s, "Setup")),
            (0, caller_leg(s, "Answered")),
            (0, agent_leg(s, 1, ANN, "Proceeding")),
        ];
        steps.extend(extra);
        steps
    };
    let mut gone = agent_leg(s, 1, ANN, "Gone");
    gone["status"]["reason"] = json!("BlindTransfer");
    gone["status"]["peerId"] = json!({ "telephonySessionId": s, "partyId": format!("{s}-a2") });
    let mut missed = agent_leg(s, 1, ANN, "Disconnected");
    missed["missedCall"] = json!(true);
    let outbound = |code: &str| {
        with_status(
            json!({
                "id": "s-x-out", "extensionId": ANN, "direction": "Outbound",
                "from": { "phoneNumber": "+15550100999", "extensionId": ANN, "name": "Ann Agent" },
                "to": { "phoneNumber": "+15557654321" },
            }),
            code,
        )
    };
    let internal_a = |code: &str| {
        with_status(
            json!({
                "id": "s-x-ia", "extensionId": ANN, "direction": "Outbound",
                "from": { "phoneNumber": "101", "extensionId": ANN },
                "to": { "phoneNumber": "102", "extensionId": BOB, "name": "Bob Agent" },
            }),
            code,
        )
    };
    let internal_b = |code: &str| {
        with_status(
            json!({
                "id": "s-x-ib", "extensionId": BOB, "direction": "Inbound",
                "from": { "phoneNumber": "101", "extensionId": ANN },
                "to": { "phoneNumber": "102", "extensionId": BOB, "name": "Bob Agent" },
            }),
            code,
        )
    };
    let cases: Vec<(&str, Vec<Step>, Expect)> = vec![
        (
            "hold and unhold",
            queued(vec![
                (10, agent_leg(s, 1, ANN, "Answered")),
                (30, agent_leg(s, 1, ANN, "Hold")),
                (50, agent_leg(s, 1, ANN, "Answered")),
                (70, agent_leg(s, 1, ANN, "Disconnected")),
                (70, caller_leg(s, "Disconnected")),
            ]),
            Expect {
                outcome: "answered",
                agent: Some("Ann Agent"),
                wait: Some(10.0),
                talk: Some(40.0),
                hold: Some(20.0),
            },
        ),
        (
            "transfer with Gone",
            queued(vec![
                (10, agent_leg(s, 1, ANN, "Answered")),
                (40, gone.clone()),
                (41, agent_leg(s, 2, BOB, "Proceeding")),
                (45, agent_leg(s, 2, BOB, "Answered")),
                (100, agent_leg(s, 2, BOB, "Disconnected")),
                (100, caller_leg(s, "Disconnected")),
            ]),
            Expect {
                outcome: "answered",
                agent: Some("Bob Agent"),
                wait: Some(10.0),
                talk: Some(85.0),
                hold: Some(0.0),
            },
        ),
        (
            "abandon in queue after the threshold",
            queued(vec![
                (30, caller_leg(s, "Disconnected")),
                (30, missed.clone()),
            ]),
            Expect {
                outcome: "abandoned",
                agent: None,
                wait: Some(30.0),
                talk: None,
                hold: None,
            },
        ),
        (
            "abandon in queue within the threshold",
            queued(vec![(3, caller_leg(s, "Disconnected"))]),
            Expect {
                outcome: "short_abandon",
                agent: None,
                wait: Some(3.0),
                talk: None,
                hold: None,
            },
        ),
        (
            "abandon exactly at the threshold is short",
            queued(vec![(5, caller_leg(s, "Disconnected"))]),
            Expect {
                outcome: "short_abandon",
                agent: None,
                wait: Some(5.0),
                talk: None,
                hold: None,
            },
        ),
        (
            "voicemail after waiting",
            queued(vec![
                (20, missed.clone()),
                (60, caller_leg(s, "Voicemail")),
                (90, caller_leg(s, "Disconnected")),
            ]),
            Expect {
                outcome: "voicemail",
                agent: None,
                wait: Some(90.0),
                talk: None,
                hold: None,
            },
        ),
        (
            "agent missed, next agent answers",
            queued(vec![
                (15, missed.clone()),
                (15, agent_leg(s, 2, BOB, "Proceeding")),
                (18, agent_leg(s, 2, BOB, "Answered")),
                (50, agent_leg(s, 2, BOB, "Disconnected")),
                (50, caller_leg(s, "Disconnected")),
            ]),
            Expect {
                outcome: "answered",
                agent: Some("Bob Agent"),
                wait: Some(18.0),
                talk: Some(32.0),
                hold: Some(0.0),
            },
        ),
        (
            "park and pick up",
            queued(vec![
                (5, agent_leg(s, 1, ANN, "Answered")),
                (20, agent_leg(s, 1, ANN, "Parked")),
                (40, gone.clone()),
                (40, agent_leg(s, 2, BOB, "Answered")),
                (60, agent_leg(s, 2, BOB, "Disconnected")),
                (60, caller_leg(s, "Disconnected")),
            ]),
            Expect {
                outcome: "answered",
                agent: Some("Bob Agent"),
                wait: Some(5.0),
                talk: Some(35.0),
                hold: Some(0.0),
            },
        ),
        (
            "inbound never queued and never answered",
            vec![
                (0, caller_leg(s, "Setup")),
                (0, caller_leg(s, "Answered")),
                (0, ivr_leg(s, "Answered")),
                (20, ivr_leg(s, "Disconnected")),
                (20, caller_leg(s, "Disconnected")),
            ],
            Expect {
                outcome: "missed",
                agent: None,
                wait: None,
                talk: None,
                hold: None,
            },
        ),
        (
            "outbound",
            vec![
                (0, outbound("Setup")),
                (1, outbound("Proceeding")),
                (5, outbound("Answered")),
                (65, outbound("Disconnected")),
            ],
            Expect {
                outcome: "outbound",
                agent: Some("Ann Agent"),
                wait: None,
                talk: Some(60.0),
                hold: Some(0.0),
            },
        ),
        (
            "internal",
            vec![
                (0, internal_a("Setup")),
                (1, internal_b("Proceeding")),
                (5, internal_b("Answered")),
                (5, internal_a("Answered")),
                (35, internal_a("Disconnected")),
                (35, internal_b("Disconnected")),
            ],
            Expect {
                outcome: "internal",
                agent: Some("Ann Agent"),
                wait: None,
                talk: Some(30.0),
                hold: Some(0.0),
            },
        ),
    ];
    for (name, steps, expect) in cases {
        let mut board = board();
        play(&mut board, s, &steps);
        let call = call_json(&board, s, t(200));
        assert_eq!(call["state"], "ended", "{name}");
        assert_eq!(call["outcome"], expect.outcome, "{name}");
        assert_eq!(call["agent"], json!(expect.agent), "{name}");
        assert_eq!(call["waitSeconds"], json!(expect.wait), "{name}");
        assert_eq!(call["talkSeconds"], json!(expect.talk), "{name}");
        assert_eq!(call["holdSeconds"], json!(expect.hold), "{name}");
        let outbound_like = matches!(expect.outcome, "outbound" | "internal");
        if outbound_like {
            assert_eq!(call["campaign"], Value::Null, "{name}");
            assert_eq!(call["dialed"], Value::Null, "{name}");
        } else {
            assert_eq!(call["campaign"], "Zillow Spring", "{name}");
        }
    }
}

#[test]
fn live_states_along_the_way() {
    let s = "s-live";
    let mut board = board();
    let steps = [
        (0, caller_leg(s, "Setup")),
        (0, caller_leg(s, "Answered")),
        (0, agent_leg(s, 1, ANN, "Proceeding")),
        (10, agent_leg(s, 1, ANN, "Answered")),
        (30, agent_leg(s, 1, ANN, "Hold")),
        (50, agent_leg(s, 1, ANN, "Answered")),
        (60, agent_leg(s, 1, ANN, "Parked")),
        (70, caller_leg(s, "Voicemail")),
    ];
    let expected = [
        "setup", "setup", "waiting", "talking", "hold", "talking", "parked", "parked",
    ];
    for (i, want) in expected.iter().enumerate() {
        play(&mut board, s, &steps[..=i]);
        assert_eq!(
            board.call(s).unwrap().state.as_str(),
            *want,
            "after step {i}"
        );
    }
    // Hold time runs while on hold, talk stops.
    let mut board = self::board();
    play(&mut board, s, &steps[..5]);
    let call = call_json(&board, s, t(40));
    assert_eq!(call["talkSeconds"], 20.0);
    assert_eq!(call["holdSeconds"], 10.0);
    assert_eq!(call["outcome"], "live");
}

#[test]
fn a_transfer_ringing_keeps_the_call_talking() {
    let s = "s-tr";
    let mut board = board();
    let mut gone = agent_leg(s, 1, ANN, "Gone");
    gone["status"]["reason"] = json!("AttendedTransfer");
    play(
        &mut board,
        s,
        &[
            (0, caller_leg(s, "Answered")),
            (0, agent_leg(s, 1, ANN, "Proceeding")),
            (5, agent_leg(s, 1, ANN, "Answered")),
            (20, gone),
            (21, agent_leg(s, 2, BOB, "Proceeding")),
        ],
    );
    let call = board.call(s).unwrap();
    assert_eq!(call.state, CallState::Talking);
    assert!(call.is_live());
    assert_eq!(queue_json(&board, t(22))["waiting"], 0);
}

// ---------------------------------------------------------------------------------------------
// Ordering, duplicates, finished sessions

#[test]
fn duplicates_change_nothing() {
    let mut board = board();
    let all = frames("s-dup", &ivr_queue_agent("s-dup"));
    for (at, frame) in &all {
        assert_eq!(board.apply_frame(frame, *at).unwrap(), Applied::Changed);
    }
    let revision = board.revision();
    let before = board.to_json(t(100));
    for (at, frame) in &all {
        assert_eq!(board.apply_frame(frame, *at).unwrap(), Applied::Stale);
    }
    assert_eq!(board.revision(), revision);
    assert_eq!(board.to_json(t(100)), before);
    assert_eq!(board.stale_events(), all.len() as u64);
}

#[test]
fn out_of_order_delivery_across_parties_gives_the_same_board() {
    let steps = ivr_queue_agent("s-ooo");
    let in_order = frames("s-ooo", &steps);
    let mut expected = board();
    for (at, frame) in &in_order {
        expected.apply_frame(frame, *at).unwrap();
    }
    // Swap every adjacent pair that belongs to different parties (what the simulator does).
    let mut swapped = in_order.clone();
    let party_of = |frame: &str| -> String {
        let v: Value = serde_json::from_str(frame).unwrap();
        v["body"]["parties"][0]["id"].as_str().unwrap().to_owned()
    };
    let mut i = 0;
    while i + 1 < swapped.len() {
        if party_of(&swapped[i].1) != party_of(&swapped[i + 1].1) {
            swapped.swap(i, i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    assert_ne!(
        swapped.iter().map(|f| &f.1).collect::<Vec<_>>(),
        in_order.iter().map(|f| &f.1).collect::<Vec<_>>()
    );
    let mut actual = board();
    let mut now = t(0);
    for (at, frame) in &swapped {
        now = now.max(*at);
        actual.apply_frame(frame, now).unwrap();
    }
    assert_eq!(actual.to_json(t(100)), expected.to_json(t(100)));
}

#[test]
fn a_stale_event_for_a_party_is_dropped() {
    let s = "s-stale";
    let mut board = board();
    let all = frames(
        s,
        &[
            (0, caller_leg(s, "Answered")),
            (0, agent_leg(s, 1, ANN, "Proceeding")),
            (10, agent_leg(s, 1, ANN, "Answered")),
        ],
    );
    board.apply_frame(&all[0].1, t(0)).unwrap();
    board.apply_frame(&all[2].1, t(10)).unwrap();
    // Proceeding (sequence 3) arrives after Answered (sequence 4): dropped.
    assert_eq!(board.apply_frame(&all[1].1, t(11)).unwrap(), Applied::Stale);
    assert_eq!(board.call(s).unwrap().state, CallState::Talking);
}

#[test]
fn sessions_that_arrive_already_finished_are_not_live() {
    let mut board = board();
    play(
        &mut board,
        "s-done",
        &[(0, caller_leg("s-done", "Disconnected"))],
    );
    let call = board.call("s-done").unwrap();
    assert!(!call.is_live());
    assert_eq!(call.outcome, Outcome::Missed);
    let mut missed = agent_leg("s-done2", 1, ANN, "Disconnected");
    missed["missedCall"] = json!(true);
    play(&mut board, "s-done2", &[(0, missed)]);
    let call = board.call("s-done2").unwrap();
    assert!(!call.is_live());
    assert_eq!(board.live_calls().count(), 0);
    assert_eq!(queue_json(&board, t(1))["waiting"], 0);
}

// ---------------------------------------------------------------------------------------------
// Time: day rollover and ageing out

#[test]
fn day_rollover_resets_today() {
    let config = BoardConfig {
        time_zone: "Europe/Berlin".parse().unwrap(),
        ..BoardConfig::default()
    };
    let mut board = board_with(config);
    // 22:50 UTC = 23:50 in Berlin.
    let late = Utc.with_ymd_and_hms(2026, 11, 25, 22, 50, 0).unwrap();
    let offset = (late - t0()).num_seconds();
    let s = "s-late";
    play(
        &mut board,
        s,
        &[
            (offset, caller_leg(s, "Answered")),
            (offset, agent_leg(s, 1, ANN, "Proceeding")),
            (offset + 5, agent_leg(s, 1, ANN, "Answered")),
            (offset + 65, caller_leg(s, "Disconnected")),
        ],
    );
    let before_midnight = late + Duration::minutes(5);
    assert_eq!(queue_json(&board, before_midnight)["offered"], 1);
    let doc = board.to_json(before_midnight);
    assert_eq!(doc["todayStart"], "2026-11-24T23:00:00.000Z");
    assert_eq!(doc["timeZone"], "Europe/Berlin");

    let after_midnight = Utc.with_ymd_and_hms(2026, 11, 25, 23, 30, 0).unwrap();
    board.tick(after_midnight);
    let doc = board.to_json(after_midnight);
    assert_eq!(doc["todayStart"], "2026-11-25T23:00:00.000Z");
    assert_eq!(queue_json(&board, after_midnight)["offered"], 0);
    assert_eq!(
        campaign_json(&board, "Zillow Spring", after_midnight)["offered"],
        0
    );
    // Yesterday's finished call is no longer one of today's calls.
    assert!(doc["calls"].as_array().unwrap().is_empty());
}

#[test]
fn finished_calls_age_out_without_changing_counts() {
    let mut board = board();
    play(&mut board, "s-old", &ivr_queue_agent("s-old"));
    let ended = t(85);
    let just_before = ended + Duration::hours(2) - Duration::seconds(1);
    board.tick(just_before);
    assert!(board.call("s-old").is_some());
    let queue_before = queue_json(&board, just_before);

    let after = ended + Duration::hours(2) + Duration::seconds(1);
    board.tick(after);
    assert!(board.call("s-old").is_none());
    assert_eq!(board.call_count(), 0);
    let queue_after = queue_json(&board, after);
    for key in [
        "offered",
        "answered",
        "serviceLevelPct",
        "asaSeconds",
        "ahtSeconds",
    ] {
        assert_eq!(queue_after[key], queue_before[key], "{key}");
    }
    // A late replay of the forgotten call counts nothing twice.
    for (_, frame) in frames("s-old", &ivr_queue_agent("s-old")) {
        assert_eq!(board.apply_frame(&frame, after).unwrap(), Applied::Stale);
    }
    assert_eq!(queue_json(&board, after)["offered"], 1);
    assert!(board.call("s-old").is_none());
}

/// A board that never compacts within a test's time span, to compare against.
fn uncompacted_board() -> Board {
    board_with(BoardConfig {
        compact_finished_after: Duration::hours(24),
        ..BoardConfig::default()
    })
}

/// The memory budget (docs/PERFORMANCE.md, "Memory") rests on every held call costing one
/// `Call` box plus a few small allocations: a field that makes `Call` larger shows here first.
/// 296 bytes is what fits the allocator's 304-byte chunk (8 bytes of it are its header).
#[cfg(target_pointer_width = "64")]
#[test]
fn a_held_call_stays_within_its_byte_budget() {
    let call = std::mem::size_of::<Call>();
    assert!(
        call <= 296,
        "Call is {call} bytes; the memory budget assumes at most 296"
    );
    // A call without a recording (most of them) pays a pointer for it, not the whole ref.
    assert_eq!(std::mem::size_of::<Option<Box<RecordingRef>>>(), 8);
    // Each party of a compacted call: 64 bytes (an 80-byte chunk), not a 104-byte summary.
    assert!(std::mem::size_of::<super::model::PackedSummary>() <= 64);
}

#[test]
fn a_packed_party_summary_unpacks_to_the_same_times() {
    use super::model::PackedSummary;
    let first_seen = t0() + Duration::milliseconds(123);
    let summary = PartySummary {
        extension_id: Some("501".into()),
        status: crate::rc::events::PartyStatus::Disconnected,
        status_since: first_seen + Duration::milliseconds(95_250),
        first_seen,
        first_answered_at: Some(first_seen + Duration::milliseconds(4_004)),
        voicemail_at: None,
        ended_at: Some(first_seen + Duration::milliseconds(95_250)),
    };
    let packed = PackedSummary::pack(&summary).unwrap();
    assert_eq!(packed.unpack(), summary);
    // Times weeks apart do not fit the packed form: the caller keeps the full one.
    let far = PartySummary {
        ended_at: Some(first_seen + Duration::days(30)),
        ..summary.clone()
    };
    assert_eq!(PackedSummary::pack(&far), None);
    let before = PartySummary {
        status_since: first_seen - Duration::days(30),
        ..summary
    };
    assert_eq!(PackedSummary::pack(&before), None);
}

#[test]
fn the_caller_set_tells_every_caller_text_apart() {
    use super::model::CallerSet;
    let mut callers: CallerSet = ["+16505550100", "anonymous"].into_iter().collect();
    assert!(callers.contains("+16505550100"));
    assert!(callers.contains("anonymous"));
    // Held as integers, E.164 numbers must not meet texts that spell the same digits.
    for other in [
        "16505550100",
        "+016505550100",
        "+1650555010",
        "+165055501000",
        "+1650555O100",
        "",
        "+",
    ] {
        assert!(!callers.contains(other), "{other:?}");
    }
    assert!(!callers.insert("+16505550100"));
    assert!(callers.insert("+016505550100"));
    assert!(callers.contains("+016505550100"));
    assert!(callers.insert("+999999999999999"));
    assert!(callers.contains("+999999999999999"));
    assert!(callers.insert("+9999999999999999"));
    assert!(callers.contains("+9999999999999999"));
}

#[test]
fn a_compacted_call_shows_what_it_showed_before() {
    let (mut compacting, mut full) = (board(), uncompacted_board());
    for board in [&mut compacting, &mut full] {
        play(board, "s-1", &ivr_queue_agent("s-1"));
        four_calls(board);
    }
    // "s-d" ended at t(403), less than the 5 minutes of grace before `after`; the rest earlier.
    let after = t(403) + Duration::minutes(4);
    compacting.tick(after);
    full.tick(after);
    assert!(!compacting.call("s-d").unwrap().is_compacted());
    assert!(compacting.call("s-c").unwrap().is_compacted());
    let compacted = compacting.call("s-1").unwrap();
    let kept = full.call("s-1").unwrap();
    assert!(compacted.is_compacted());
    assert!(!kept.is_compacted());
    assert!(compacted.parties().is_empty(), "the wire detail is dropped");
    // The Call detail's timeline, the Calls view, the JSON and every figure are unchanged.
    assert_eq!(compacted.party_summaries(), kept.party_summaries());
    assert_eq!(compacted.party_summaries().len(), 3);
    assert_eq!(compacted.talk_ms(after), kept.talk_ms(after));
    assert_eq!(compacted.hold_ms(after), kept.hold_ms(after));
    assert_eq!(compacting.to_json(after), full.to_json(after));
    assert_eq!(
        compacting.queue_rows(Window::Rolling, after),
        full.queue_rows(Window::Rolling, after)
    );
}

#[test]
fn a_compacted_call_is_re_derived_when_queue_settings_change() {
    let (mut compacting, mut full) = (board(), uncompacted_board());
    let later = t(3600);
    for board in [&mut compacting, &mut full] {
        four_calls(board);
        board.tick(later);
    }
    assert!(compacting.calls().all(Call::is_compacted));
    let stricter = ServiceLevelSettings {
        sla_goal: Some(80.0),
        sla_threshold_seconds: Some(5.0),
        include_abandoned_calls: Some(true),
        abandoned_threshold_seconds: Some(30.0),
    };
    for board in [&mut compacting, &mut full] {
        board.set_queues(&[sales_queue(Some(stricter.clone()))], later);
    }
    let queue = queue_json(&compacting, later);
    assert_eq!(queue, queue_json(&full, later));
    // The stricter thresholds reached the compacted calls: short abandons and SLA moved.
    assert_eq!(queue["shortAbandoned"], 2);
    assert_eq!(queue["serviceLevelPct"], 0.0);
    assert_eq!(compacting.to_json(later), full.to_json(later));
}

#[test]
fn events_for_a_compacted_call_are_stale() {
    let mut board = board();
    let steps = ivr_queue_agent("s-1");
    let script = frames("s-1", &steps);
    let (last_at, last_frame) = script.last().cloned().unwrap();
    for (at, frame) in &script[..script.len() - 1] {
        board.apply_frame(frame, *at).unwrap();
    }
    // The caller's hang-up ends the call; the agent's late one still applies within the grace.
    board.apply_frame(&last_frame, last_at).unwrap();
    assert!(!board.call("s-1").unwrap().is_compacted());

    let late = t(85) + Duration::minutes(6);
    board.tick(late);
    let revision = board.revision();
    let stale_before = board.stale_events();
    let mut replayed = agent_leg("s-1", 1, ANN, "Answered");
    replayed["status"]["code"] = json!("Hold");
    let replay = frames("s-1", &[(400, replayed)]);
    let (_, frame) = &replay[0];
    let frame = frame.replace("\"sequence\":2", "\"sequence\":99");
    assert_eq!(board.apply_frame(&frame, late).unwrap(), Applied::Stale);
    assert_eq!(board.stale_events(), stale_before + 1);
    assert_eq!(board.revision(), revision);
    assert_eq!(board.call("s-1").unwrap().state, CallState::Ended);
}

#[test]
fn shared_texts_leave_with_the_calls_that_held_them() {
    let mut board = board();
    for i in 0..3_000 {
        let session = format!("s-{i}");
        let mut leg = caller_leg(&session, "Disconnected");
        leg["from"] =
            json!({ "phoneNumber": format!("+1555{i:07}"), "name": format!("Caller {i}") });
        play(&mut board, &session, &[(0, leg)]);
    }
    let held = board.texts.len();
    assert!(
        held >= 6_000,
        "each caller's number and name are held: {held}"
    );
    board.tick(t(0) + Duration::hours(3));
    assert_eq!(board.call_count(), 0);
    // The callers stay known (first-time callers), so their numbers stay; names go.
    assert!(board.texts.len() <= held - 3_000, "{}", board.texts.len());
}

#[test]
fn rolling_window_counts_only_recent_minutes_and_sparkline() {
    let mut board = board();
    for (i, start) in [0i64, 700, 1500, 1700].into_iter().enumerate() {
        let s = format!("s-w{i}");
        play(
            &mut board,
            &s,
            &[
                (start, caller_leg(&s, "Answered")),
                (start, agent_leg(&s, 1, ANN, "Proceeding")),
                (start + 2, caller_leg(&s, "Disconnected")),
            ],
        );
    }
    // At t0 + 40 min the window is the 30 minute buckets 11..=40 (the current one included):
    // it holds the calls queued in minutes 11, 25 and 28, not the one in minute 0.
    let now = t(2400);
    let rolling = board.queue_rows(Window::Rolling, now);
    assert_eq!(rolling[0].offered, 3);
    let today = board.queue_rows(Window::Today, now);
    assert_eq!(today[0].offered, 4);
    assert_eq!(today[0].short_abandoned, 4);
    let sparkline = board.queue_arrivals_per_minute(QUEUE, now);
    assert_eq!(sparkline.len(), 30);
    // Minute 40 is last: 11 → index 0, 25 → index 14, 28 → index 17.
    assert_eq!(sparkline[0], 1);
    assert_eq!(sparkline[14], 1);
    assert_eq!(sparkline[17], 1);
    assert_eq!(sparkline[29], 0);
    assert_eq!(sparkline.iter().sum::<u32>(), 3);
    let trend = board.campaign_trend("Zillow Spring", Some(ZILLOW_DN), now);
    assert_eq!(trend.iter().sum::<u32>(), 3);
}

// ---------------------------------------------------------------------------------------------
// Attribution and relabelling

#[test]
fn relabel_re_attributes_todays_and_live_calls_at_once() {
    let mut board = board();
    play(&mut board, "s-done", &ivr_queue_agent("s-done"));
    let s = "s-live";
    play(
        &mut board,
        s,
        &[
            (100, caller_leg(s, "Answered")),
            (100, agent_leg(s, 1, ANN, "Proceeding")),
        ],
    );
    let now = t(110);
    let zillow = campaign_json(&board, "Zillow Spring", now);
    assert_eq!(zillow["offered"], 2);
    assert_eq!(zillow["live"], 1);
    let revision = board.revision();

    assert!(board.set_number_label("1", Some("Yelp Summer +15550109999"), now));
    assert!(board.revision() > revision);
    let doc = board.to_json(now);
    let rows = doc["campaigns"].as_array().unwrap();
    let yelp_summer = rows
        .iter()
        .find(|r| r["campaign"] == "Yelp Summer")
        .unwrap();
    assert_eq!(yelp_summer["dn"], "+15550109999");
    assert_eq!(yelp_summer["offered"], 2);
    assert_eq!(yelp_summer["live"], 1);
    assert_eq!(yelp_summer["numbers"], json!([CTN_ZILLOW_1]));
    let zillow = campaign_json(&board, "Zillow Spring", now);
    assert_eq!(zillow["offered"], 0);
    assert_eq!(zillow["numbers"], json!([CTN_ZILLOW_2]));
    assert_eq!(call_json(&board, s, now)["campaign"], "Yelp Summer");

    // By number, and back to no label.
    assert!(board.set_number_label(CTN_ZILLOW_1, None, now));
    assert_eq!(call_json(&board, s, now)["campaign"], UNLABELLED);
    assert!(!board.set_number_label("+19999999999", Some("x"), now));
}

#[test]
fn unknown_and_unlabelled_numbers_have_their_own_rows() {
    let mut board = board();
    for (s, dialed) in [("s-u1", "+15558880000"), ("s-u2", CTN_BARE)] {
        play(
            &mut board,
            s,
            &[
                (0, caller_leg_to(s, dialed, "Answered")),
                (3, caller_leg_to(s, dialed, "Disconnected")),
            ],
        );
    }
    let now = t(10);
    let unknown = campaign_json(&board, UNKNOWN, now);
    assert_eq!(unknown["offered"], 1);
    assert_eq!(unknown["missed"], 1);
    assert_eq!(unknown["numbers"], json!(["+15558880000"]));
    assert_eq!(unknown["dn"], Value::Null);
    let unlabelled = campaign_json(&board, UNLABELLED, now);
    assert_eq!(unlabelled["offered"], 1);
    assert_eq!(unlabelled["numbers"], json!([CTN_BARE]));
    // A labelled pair with no calls still has a row.
    assert_eq!(campaign_json(&board, "Yelp", now)["offered"], 0);
    let campaigns: Vec<String> = board.to_json(now)["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["campaign"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = campaigns.clone();
    sorted.sort();
    assert_eq!(campaigns, sorted);
}

// ---------------------------------------------------------------------------------------------
// Metrics by hand

/// Four calls into Sales, dialled to Zillow CTN 1, callers distinct, one known before:
/// * A: waits 10 s, talks 60 s with 10 s hold     → answered within 20 s
/// * B: waits 30 s, talks 90 s                    → answered outside 20 s
/// * C: hangs up after 12 s                       → abandoned (> 5 s)
/// * D: hangs up after 3 s                        → short abandon
fn four_calls(board: &mut Board) {
    let script = |s: &str, caller: &str, start: i64, plan: &[(i64, &str)]| {
        let with_caller = |mut v: Value| {
            v["from"]["phoneNumber"] = json!(caller);
            v
        };
        let mut steps = vec![
            (start, with_caller(caller_leg(s, "Answered"))),
            (start, with_caller(agent_leg(s, 1, ANN, "Proceeding"))),
        ];
        for (at, what) in plan {
            let party = match *what {
                "caller-gone" => caller_leg(s, "Disconnected"),
                code => agent_leg(s, 1, ANN, code),
            };
            steps.push((start + at, with_caller(party)));
        }
        steps
    };
    let calls = [
        (
            "s-a",
            "+15551110001",
            0,
            vec![
                (10, "Answered"),
                (40, "Hold"),
                (50, "Answered"),
                (80, "Disconnected"),
                (80, "caller-gone"),
            ],
        ),
        (
            "s-b",
            "+15551110002",
            100,
            vec![
                (30, "Answered"),
                (120, "Disconnected"),
                (120, "caller-gone"),
            ],
        ),
        ("s-c", "+15551110003", 300, vec![(12, "caller-gone")]),
        ("s-d", "+15559870999", 400, vec![(3, "caller-gone")]),
    ];
    for (s, caller, start, plan) in calls {
        let steps = script(s, caller, start, &plan);
        play(board, s, &steps);
    }
}

#[test]
fn queue_metrics_by_hand() {
    let mut board = board();
    four_calls(&mut board);
    let queue = queue_json(&board, t(1000));
    assert_eq!(queue["offered"], 4);
    assert_eq!(queue["answered"], 2);
    assert_eq!(queue["abandoned"], 1);
    assert_eq!(queue["shortAbandoned"], 1);
    assert_eq!(queue["voicemail"], 0);
    // 1 within threshold ÷ (2 answered + 1 abandoned) = 33.3 %
    assert_eq!(queue["serviceLevelPct"], 33.3);
    // (10 + 30) / 2
    assert_eq!(queue["asaSeconds"], 20.0);
    // ((60 + 10) + 90) / 2
    assert_eq!(queue["ahtSeconds"], 80.0);
    // The queue's settings are integers, as the platform states them.
    assert_eq!(queue["slaGoalPct"], json!(80));
    assert_eq!(queue["slaThresholdSeconds"], json!(20));

    let campaign = campaign_json(&board, "Zillow Spring", t(1000));
    assert_eq!(campaign["offered"], 4);
    assert_eq!(campaign["answered"], 2);
    assert_eq!(campaign["missed"], 2);
    // Callers of A, B and C were never seen; D's was known at start.
    assert_eq!(campaign["firstTimeCallers"], 3);
    // (60 + 90) / 2
    assert_eq!(campaign["avgTalkSeconds"], 75.0);
}

#[test]
fn the_roll_up_combines_counters_exactly_and_counts_each_agent_once() {
    let mut board = board();
    four_calls(&mut board);
    // A second, quiet queue with a stricter goal, sharing Ann and adding Cat.
    const SUPPORT: &str = "901";
    const CAT: &str = "503";
    let support = CallQueue {
        id: SUPPORT.into(),
        name: Some("Support".into()),
        ..CallQueue::default()
    };
    board.set_queues(&[sales_queue(None), support], t(900));
    board.set_extensions(
        &[
            extension(ANN, "Ann Agent", "User"),
            extension(BOB, "Bob Agent", "User"),
            extension(CAT, "Cat Agent", "User"),
            extension(IVR, "Main IVR", "IvrMenu"),
            extension(QUEUE, "Sales", "Department"),
            extension(SUPPORT, "Support", "Department"),
        ],
        t(900),
    );
    board.set_queue_members(SUPPORT, &[member(ANN), member(CAT)], t(900));
    board
        .apply_frame(&presence_frame(ANN, 950, "NoCall", "Available"), t(950))
        .unwrap();

    let rows = board.queue_rows(Window::Today, t(1000));
    assert_eq!(rows.len(), 2);
    let per_row_agents: usize = rows
        .iter()
        .map(|r| r.agents_available + r.agents_on_call + r.agents_away)
        .sum();
    assert_eq!(per_row_agents, 4, "Ann is listed in both queues");

    let total = board.queue_rollup(&rows);
    assert_eq!(total.queues, 2);
    assert_eq!(total.offered, 4);
    assert_eq!(total.answered, 2);
    assert_eq!(total.abandoned, 1);
    // The quiet queue adds nothing to the divisor: still 1 ÷ (2 + 1).
    assert_eq!(total.service_level_pct, Some(33.3));
    assert_eq!(total.asa_seconds, Some(20.0));
    assert_eq!(total.aht_seconds, Some(80.0));
    assert_eq!(
        (
            total.agents_available,
            total.agents_on_call,
            total.agents_away
        ),
        (1, 0, 2),
        "Ann, Bob and Cat, each once; Ann available"
    );
    // Only the rows given are combined (a filter's rows).
    let support_only: Vec<QueueRow> = rows.into_iter().filter(|r| r.id == SUPPORT).collect();
    let support_total = board.queue_rollup(&support_only);
    assert_eq!(support_total.offered, 0);
    assert_eq!(support_total.aht_seconds, None);
    assert_eq!(
        support_total.agents_available + support_total.agents_away,
        2
    );
}

#[test]
fn the_queues_own_settings_win_and_rederive() {
    let mut board = board();
    four_calls(&mut board);
    board.set_queues(
        &[sales_queue(Some(ServiceLevelSettings {
            sla_goal: Some(90.0),
            sla_threshold_seconds: Some(30.0),
            include_abandoned_calls: Some(false),
            abandoned_threshold_seconds: Some(15.0),
        }))],
        t(1000),
    );
    let queue = queue_json(&board, t(1000));
    // Both answered within 30 s; abandoned excluded: 2 / 2.
    assert_eq!(queue["serviceLevelPct"], 100.0);
    assert_eq!(queue["slaGoalPct"], 90.0);
    // C waited 12 s, now within the 15 s short-abandon threshold.
    assert_eq!(queue["abandoned"], 0);
    assert_eq!(queue["shortAbandoned"], 2);
}

#[test]
fn first_time_callers_are_remembered() {
    let mut board = board();
    for (s, start) in [("s-f1", 0), ("s-f2", 100)] {
        play(
            &mut board,
            s,
            &[
                (start, caller_leg(s, "Answered")),
                (start + 1, caller_leg(s, "Disconnected")),
            ],
        );
    }
    assert!(board.call("s-f1").unwrap().first_time_caller);
    assert!(!board.call("s-f2").unwrap().first_time_caller);
    assert_eq!(board.take_new_callers(), vec![CALLER.to_owned()]);
    assert!(board.take_new_callers().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Agents and presence

fn presence_frame(extension: &str, sequence: u64, telephony: &str, presence: &str) -> String {
    json!({
        "uuid": format!("p-{sequence}"),
        "event": format!("/restapi/v1.0/account/~/extension/{extension}/presence?detailedTelephonyState=true"),
        "timestamp": time_text(t(sequence as i64)),
        "body": {
            "extensionId": extension,
            "sequence": sequence,
            "telephonyStatus": telephony,
            "presenceStatus": presence,
            "dndStatus": "TakeAllCalls",
            "activeCalls": if telephony == "NoCall" { json!([]) } else {
                json!([{ "telephonySessionId": "s-1", "partyId": "s-1-a1", "telephonyStatus": telephony }])
            },
        }
    })
    .to_string()
}

#[test]
fn agents_from_presence_with_time_in_state() {
    let mut board = board();
    let apply =
        |board: &mut Board, frame: String, at: i64| board.apply_frame(&frame, t(at)).unwrap();
    assert_eq!(
        apply(
            &mut board,
            presence_frame(ANN, 10, "NoCall", "Available"),
            10
        ),
        Applied::Changed
    );
    assert_eq!(
        apply(&mut board, presence_frame(BOB, 11, "NoCall", "Busy"), 11),
        Applied::Changed
    );
    let queue = queue_json(&board, t(12));
    assert_eq!(
        (
            queue["agentsAvailable"].clone(),
            queue["agentsOnCall"].clone(),
            queue["agentsAway"].clone()
        ),
        (json!(1), json!(0), json!(1))
    );

    assert_eq!(
        apply(
            &mut board,
            presence_frame(ANN, 20, "Ringing", "Available"),
            20
        ),
        Applied::Changed
    );
    // Ringing → connected: same state, so time in state keeps counting from 20.
    assert_eq!(
        apply(
            &mut board,
            presence_frame(ANN, 25, "CallConnected", "Busy"),
            25
        ),
        Applied::Changed
    );
    let ann = board.agent(ANN).unwrap();
    assert_eq!(ann.state, AgentState::OnCall);
    assert_eq!(ann.state_since, t(20));
    assert_eq!(ann.current_call.as_deref(), Some("s-1"));
    // An older presence event is dropped.
    assert_eq!(
        apply(
            &mut board,
            presence_frame(ANN, 15, "NoCall", "Available"),
            30
        ),
        Applied::Stale
    );
    let queue = queue_json(&board, t(30));
    assert_eq!(
        (
            queue["agentsAvailable"].clone(),
            queue["agentsOnCall"].clone(),
            queue["agentsAway"].clone()
        ),
        (json!(0), json!(1), json!(1))
    );
    let names: Vec<_> = board
        .queue_agents(QUEUE)
        .iter()
        .map(|a| a.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["Ann Agent", "Bob Agent"]);
}

#[test]
fn queue_presence_switches_queue_calls_off_per_member() {
    let mut board = board();
    board
        .apply_frame(&presence_frame(ANN, 10, "NoCall", "Available"), t(10))
        .unwrap();
    let record = |accept: bool| CallQueuePresence {
        member: crate::rc::records::ExtensionRef {
            id: Some(ANN.into()),
            name: Some("Ann A.".into()),
            ..Default::default()
        },
        accept_queue_calls: Some(accept),
        accept_current_queue_calls: None,
    };
    board.set_queue_presence(QUEUE, &[record(false)], t(11));
    assert_eq!(queue_json(&board, t(11))["agentsAvailable"], 0);
    board.set_queue_presence(QUEUE, &[record(true)], t(12));
    assert_eq!(queue_json(&board, t(12))["agentsAvailable"], 1);
    assert_eq!(board.agent(ANN).unwrap().name.as_deref(), Some("Ann A."));
}

#[test]
fn presence_snapshot_from_rest() {
    let mut board = board();
    let records: Vec<Presence> = serde_json::from_value(json!([
        { "extension": { "id": 501 }, "presenceStatus": "Available", "telephonyStatus": "NoCall", "dndStatus": "TakeAllCalls" },
        { "extension": { "id": 502 }, "presenceStatus": "Available", "telephonyStatus": "NoCall", "dndStatus": "DoNotAcceptDepartmentCalls" },
    ]))
    .unwrap();
    assert_eq!(
        board.apply_presence_snapshot(&records, t(0)),
        Applied::Changed
    );
    assert_eq!(board.agent(ANN).unwrap().state, AgentState::Available);
    assert_eq!(board.agent(BOB).unwrap().state, AgentState::Away);
}

// ---------------------------------------------------------------------------------------------
// Resync and bootstrap

#[test]
fn time_in_state_read_from_rest_is_a_lower_bound_until_an_event_moves_it() {
    let mut board = board();
    let s = "s-read";
    let session: TelephonySession = serde_json::from_value(json!({
        "id": s,
        "creationTime": time_text(t(-300)),
        "parties": [
            { "id": "s-read-1", "direction": "Outbound", "status": { "code": "Answered" },
              "from": { "phoneNumber": CALLER }, "to": { "phoneNumber": CTN_ZILLOW_1 } },
            { "id": "s-read-a1", "direction": "Inbound", "owner": { "extensionId": ANN },
              "status": { "code": "Answered" }, "queueCall": true,
              "to": { "phoneNumber": CTN_ZILLOW_1, "extensionId": QUEUE, "name": "Sales" } },
        ]
    }))
    .unwrap();
    board.apply_session_snapshot(&session, t(0));
    let call = board.call(s).unwrap();
    assert_eq!(call.state, CallState::Talking);
    assert!(
        crate::board::state_since_is_lower_bound(call),
        "talking since before callboard's read"
    );
    // The agent puts the caller on hold: an event, with its own time.
    play(&mut board, s, &[(20, agent_leg(s, 1, ANN, "Hold"))]);
    let call = board.call(s).unwrap();
    assert_eq!(call.state, CallState::Hold);
    assert_eq!(crate::board::state_since(call), t(20));
    assert!(!crate::board::state_since_is_lower_bound(call));
    // A call seen from its first event on is timed exactly.
    let fresh = "s-fresh";
    play(&mut board, fresh, &[(30, caller_leg(fresh, "Answered"))]);
    assert!(!crate::board::state_since_is_lower_bound(
        board.call(fresh).unwrap()
    ));
}

#[test]
fn session_snapshot_and_ending_missing_calls() {
    let mut board = board();
    let s = "s-rs";
    play(
        &mut board,
        s,
        &[
            (0, caller_leg(s, "Answered")),
            (0, agent_leg(s, 1, ANN, "Proceeding")),
        ],
    );
    // While the socket was down the agent answered; REST says so.
    let session: TelephonySession = serde_json::from_value(json!({
        "id": s,
        "parties": [
            { "id": "s-rs-1", "direction": "Outbound", "status": { "code": "Answered" },
              "from": { "phoneNumber": CALLER }, "to": { "phoneNumber": CTN_ZILLOW_1 } },
            { "id": "s-rs-a1", "direction": "Inbound", "owner": { "extensionId": ANN },
              "status": { "code": "Answered" }, "queueCall": true,
              "to": { "phoneNumber": CTN_ZILLOW_1, "extensionId": QUEUE, "name": "Sales" } },
        ]
    }))
    .unwrap();
    assert_eq!(
        board.apply_session_snapshot(&session, t(40)),
        Applied::Changed
    );
    assert_eq!(board.call(s).unwrap().state, CallState::Talking);
    assert_eq!(board.call(s).unwrap().answered_at, Some(t(40)));
    // The answer happened while the socket was down: t(40) is only when callboard read it.
    assert!(crate::board::state_since_is_lower_bound(
        board.call(s).unwrap()
    ));
    // The same read again says nothing new.
    assert_eq!(
        board.apply_session_snapshot(&session, t(41)),
        Applied::Stale
    );

    // A second live call the platform no longer has.
    let gone = "s-gone";
    play(
        &mut board,
        gone,
        &[
            (10, caller_leg(gone, "Answered")),
            (10, agent_leg(gone, 1, BOB, "Proceeding")),
        ],
    );
    assert_eq!(board.end_missing_live_calls([s], t(60)), 1);
    let call = board.call(gone).unwrap();
    assert_eq!(call.ended_at, Some(t(60)));
    assert_eq!(call.outcome, Outcome::Abandoned);
    assert!(board.call(s).unwrap().is_live());
    assert_eq!(queue_json(&board, t(60))["waiting"], 0);
}

fn call_log_record(
    id: &str,
    session: &str,
    start: i64,
    result: &str,
    answered: bool,
) -> CallLogRecord {
    let start_text = time_text(t(start));
    let mut legs = vec![
        json!({ "master": true, "startTime": start_text, "duration": 100,
                "from": { "phoneNumber": "+15552220001" }, "to": { "phoneNumber": CTN_YELP } }),
        json!({ "startTime": time_text(t(start + 10)), "duration": 90,
                "to": { "extensionId": QUEUE, "name": "Sales" } }),
    ];
    if answered {
        legs.push(
            json!({ "startTime": time_text(t(start + 25)), "duration": 75, "result": "Accepted",
                          "extension": { "id": 502, "name": "Bob Agent" } }),
        );
    }
    serde_json::from_value(json!({
        "id": id,
        "telephonySessionId": session,
        "startTime": start_text,
        "duration": 100,
        "direction": "Inbound",
        "result": result,
        "from": { "phoneNumber": "+15552220001", "name": "Log Caller" },
        "to": { "phoneNumber": CTN_YELP },
        "legs": legs,
        "recording": { "id": "rec-1", "uri": "u", "type": "Automatic", "contentUri": "c" },
    }))
    .unwrap()
}

#[test]
fn bootstrap_from_the_call_log_deduplicates_against_live_calls() {
    let mut board = board();
    let s = "s-both";
    play(&mut board, s, &[(500, caller_leg(s, "Answered"))]);
    let records = vec![
        call_log_record("r1", "s-log1", -2000, "Accepted", true),
        call_log_record("r2", "s-log2", -1000, "Hang Up", false),
        call_log_record("r3", s, 500, "Accepted", true),
        call_log_record("r1-again", "s-log1", -2000, "Accepted", true),
    ];
    assert_eq!(board.bootstrap_from_call_log(&records, t(600)), 2);
    let answered = call_json(&board, "s-log1", t(600));
    assert_eq!(answered["outcome"], "answered");
    assert_eq!(answered["agent"], "Bob Agent");
    assert_eq!(answered["queue"], "Sales");
    assert_eq!(answered["waitSeconds"], 15.0);
    assert_eq!(answered["talkSeconds"], 75.0);
    assert_eq!(answered["holdSeconds"], Value::Null);
    assert_eq!(answered["campaign"], "Yelp");
    assert_eq!(
        answered["recording"],
        json!({ "id": "rec-1", "active": false })
    );
    let abandoned = call_json(&board, "s-log2", t(600));
    assert_eq!(abandoned["outcome"], "abandoned");
    assert_eq!(abandoned["waitSeconds"], 90.0);
    // The live call stays as the events built it.
    assert_eq!(board.call(s).unwrap().outcome, Outcome::Live);
    let queue = queue_json(&board, t(600));
    assert_eq!(queue["offered"], 2);
    assert_eq!(queue["answered"], 1);
    assert_eq!(queue["abandoned"], 1);
    // Only the first log call's caller was new; the second has the same number.
    assert_eq!(campaign_json(&board, "Yelp", t(600))["firstTimeCallers"], 1);
}

/// The call-log record of a Sales queue call from CALLER to Zillow 1 that Bob answered 25 s
/// in and that lasted 100 s.
fn answered_queue_call_record(session: &str) -> CallLogRecord {
    serde_json::from_value(json!({
        "id": format!("log-{session}"),
        "telephonySessionId": session,
        "startTime": time_text(t(0)),
        "duration": 100,
        "direction": "Inbound",
        "result": "Accepted",
        "from": { "phoneNumber": CALLER, "name": "Pat Caller" },
        "to": { "phoneNumber": CTN_ZILLOW_1 },
        "legs": [
            { "master": true, "startTime": time_text(t(0)), "duration": 100,
              "from": { "phoneNumber": CALLER }, "to": { "phoneNumber": CTN_ZILLOW_1 } },
            { "startTime": time_text(t(0)), "duration": 100,
              "to": { "extensionId": QUEUE, "name": "Sales" } },
            { "startTime": time_text(t(25)), "duration": 75, "result": "Accepted",
              "extension": { "id": BOB, "name": "Bob Agent" } },
        ],
    }))
    .unwrap()
}

#[test]
fn the_call_log_corrects_a_call_a_resync_closed_exactly_once() {
    let mut board = board();
    let s = "s-away";
    // Waiting in Sales, Bob's phone ringing, when the session is lost.
    play(
        &mut board,
        s,
        &[
            (0, caller_leg(s, "Answered")),
            (0, agent_leg(s, 1, BOB, "Proceeding")),
        ],
    );
    // A finished call whose end was seen: its record must change nothing.
    let seen = "s-seen";
    play(&mut board, seen, &ivr_queue_agent(seen));

    // The resync at 300 s finds neither; the waiting call is closed as the board last knew it.
    assert_eq!(
        board.end_missing_live_calls(Vec::<String>::new(), t(300)),
        1
    );
    let closed = call_json(&board, s, t(300));
    assert_eq!(closed["endSeen"], false);
    assert_eq!(closed["outcome"], "abandoned");
    assert_eq!(closed["endedAt"], time_text(t(300)));
    assert_eq!(board.calls_ended_unseen().count(), 1);
    let queue = queue_json(&board, t(300));
    assert_eq!(
        (queue["offered"].clone(), queue["answered"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(queue["abandoned"], 1);
    let seen_before = call_json(&board, seen, t(300));

    // The call log says Bob answered at 25 s and the call ended at 100 s.
    let records = vec![
        answered_queue_call_record(s),
        answered_queue_call_record(seen),
    ];
    let revision = board.revision();
    assert_eq!(board.correct_from_call_log(&records, t(320)), 1);
    assert!(board.revision() > revision);
    let corrected = call_json(&board, s, t(320));
    assert_eq!(corrected.get("endSeen"), None);
    assert_eq!(corrected["outcome"], "answered");
    assert_eq!(corrected["state"], "ended");
    assert_eq!(corrected["agent"], "Bob Agent");
    assert_eq!(corrected["answeredAt"], time_text(t(25)));
    assert_eq!(corrected["endedAt"], time_text(t(100)));
    assert_eq!(corrected["waitSeconds"], 25.0);
    assert_eq!(corrected["talkSeconds"], 75.0);
    assert_eq!(board.calls_ended_unseen().count(), 0);
    assert_eq!(call_json(&board, seen, t(320)), seen_before);

    // Both calls answered now; nothing abandoned, nothing waiting, no call counted twice.
    let queue = queue_json(&board, t(320));
    assert_eq!(queue["offered"], 2);
    assert_eq!(queue["answered"], 2);
    assert_eq!(queue["abandoned"], 0);
    assert_eq!(queue["waiting"], 0);
    let zillow = campaign_json(&board, "Zillow Spring", t(320));
    assert_eq!(zillow["offered"], 2);
    assert_eq!(zillow["answered"], 2);
    assert_eq!(zillow["missed"], 0);
    assert_eq!(zillow["live"], 0);

    // The same records again: already corrected, nothing moves.
    let before = board.to_json(t(330));
    let revision = board.revision();
    assert_eq!(board.correct_from_call_log(&records, t(330)), 0);
    assert_eq!(board.revision(), revision);
    assert_eq!(board.to_json(t(330)), before);
}

// ---------------------------------------------------------------------------------------------
// Hostile strings, revision, JSON shape

#[test]
fn network_strings_are_sanitised_on_entry() {
    let mut board = board();
    let s = "s-evil";
    let mut leg = caller_leg(s, "Answered");
    leg["from"]["name"] = json!(format!(
        "\u{1b}[2J\u{1b}]0;pwned\u{7}Eve\u{202e}{}",
        "x".repeat(100_000)
    ));
    play(&mut board, s, &[(0, leg)]);
    let name = board.call(s).unwrap().caller_name.clone().unwrap();
    assert!(!name.chars().any(crate::text::is_unsafe_char));
    assert!(name.starts_with("[2J]0;pwnedEve"));
    assert!(name.chars().count() <= crate::text::MAX_FIELD_CHARS);
}

#[test]
fn revision_moves_only_on_visible_change_and_rows_carry_changed_at() {
    let mut board = board();
    let r0 = board.revision();
    play(&mut board, "s-r", &ivr_queue_agent("s-r")[..1]);
    let r1 = board.revision();
    assert!(r1 > r0);
    assert_eq!(board.call("s-r").unwrap().changed_at, t(0));
    board.tick(t(5));
    assert_eq!(board.revision(), r1);
    assert_eq!(
        board
            .apply_frame("[{\"type\":\"Heartbeat\"}]", t(6))
            .unwrap(),
        Applied::Ignored
    );
    assert_eq!(board.revision(), r1);
}

#[test]
fn json_has_the_schema_1_shape_and_order() {
    let mut board = board();
    play(&mut board, "s-b", &ivr_queue_agent("s-b"));
    play(
        &mut board,
        "s-a",
        &[
            (0, caller_leg("s-a", "Answered")),
            (0, agent_leg("s-a", 1, ANN, "Proceeding")),
        ],
    );
    let doc = board.to_json(t(100));
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["now"], "2026-11-25T14:01:40.000Z");
    assert_eq!(doc["timeZone"], "UTC");
    assert_eq!(doc["todayStart"], "2026-11-25T00:00:00.000Z");
    let calls = doc["calls"].as_array().unwrap();
    // Same start time: ordered by id.
    let ids: Vec<_> = calls
        .iter()
        .map(|c| c["telephonySessionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["s-a", "s-b"]);
    let keys: Vec<&str> = calls[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "telephonySessionId",
        "caller",
        "callerName",
        "dialed",
        "campaign",
        "dn",
        "queue",
        "queueId",
        "agent",
        "agentId",
        "state",
        "outcome",
        "startedAt",
        "queuedAt",
        "answeredAt",
        "endedAt",
        "waitSeconds",
        "talkSeconds",
        "holdSeconds",
        "recording",
    ] {
        assert!(keys.contains(&key), "calls[] lacks {key}");
    }
    assert_eq!(calls[0]["answeredAt"], Value::Null);
    assert_eq!(calls[0]["talkSeconds"], Value::Null);
    // Whole seconds are still floats.
    assert!(calls[0]["waitSeconds"].is_f64());
    let queue = &doc["queues"][0];
    for key in [
        "id",
        "name",
        "waiting",
        "longestWaitSeconds",
        "offered",
        "answered",
        "abandoned",
        "shortAbandoned",
        "voicemail",
        "serviceLevelPct",
        "slaGoalPct",
        "slaThresholdSeconds",
        "asaSeconds",
        "ahtSeconds",
        "agentsAvailable",
        "agentsOnCall",
        "agentsAway",
    ] {
        assert!(queue.get(key).is_some(), "queues[] lacks {key}");
    }
    assert_eq!(queue["longestWaitSeconds"], 100.0);
}

// ---------------------------------------------------------------------------------------------
// The real samples

macro_rules! sample {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/samples/",
            $name
        ))
    };
}

fn sample_member(doc: &str, key: &str) -> String {
    let all: Value = serde_json::from_str(doc).unwrap();
    serde_json::to_string(&all[key]).unwrap()
}

#[test]
fn sample_voice_guide_setup_is_a_live_inbound_call() {
    let mut board = Board::new(BoardConfig::default(), Vec::new());
    let frame = sample_member(
        sample!("event-telsess-docs-samples.json"),
        "voice_guide_2020_setup",
    );
    let now = Utc.with_ymd_and_hms(2020, 6, 14, 19, 27, 20).unwrap();
    assert_eq!(board.apply_frame(&frame, now).unwrap(), Applied::Changed);
    let call = board.call("s-a6abd24ca6774373a8120a3390d3cbe8").unwrap();
    assert_eq!(call.direction, CallDirection::Inbound);
    assert_eq!(call.state, CallState::Setup);
    assert_eq!(call.caller.as_deref(), Some("+14083388064"));
    assert_eq!(call.dialed.as_deref(), Some("+19043014558"));
    assert_eq!(call.session_id.as_deref(), Some("425008160016"));
    assert_eq!(
        call.started_at,
        Utc.with_ymd_and_hms(2020, 6, 14, 19, 27, 18).unwrap() + Duration::milliseconds(340)
    );
    assert_eq!(
        board.campaign_of_call(call),
        Some((UNKNOWN.to_owned(), None))
    );
}

#[test]
fn sample_apns_envelopes_are_one_event_delivered_twice() {
    let doc = sample!("event-telsess-docs-samples.json");
    let mut board = Board::new(BoardConfig::default(), Vec::new());
    let now = Utc.with_ymd_and_hms(2018, 6, 5, 0, 14, 51).unwrap();
    let first = sample_member(doc, "account_telephony_sessions_2018_pn_apns_envelope");
    let second = sample_member(doc, "extension_telephony_sessions_2018_queueCall");
    assert_eq!(board.apply_frame(&first, now).unwrap(), Applied::Changed);
    // Same session, party and sequence 5: a duplicate.
    assert_eq!(board.apply_frame(&second, now).unwrap(), Applied::Stale);
    let call = board
        .call("Y3MxNzE4NDE5MDM0MzQwMTgzODRAMTAuNjIuMjUuMTEx")
        .unwrap();
    assert_eq!(call.direction, CallDirection::Internal);
    assert!(call.is_live());
    assert_eq!(call.state, CallState::Setup);
}

#[test]
fn sample_callcontrol_outbound_call() {
    let all: Value =
        serde_json::from_str(sample!("event-telsess-callcontrol-js-2019.json")).unwrap();
    let mut board = Board::new(BoardConfig::default(), Vec::new());
    let now = Utc.with_ymd_and_hms(2019, 9, 5, 7, 46, 6).unwrap();
    for frame in all.as_array().unwrap() {
        assert_eq!(
            board.apply_frame(&frame.to_string(), now).unwrap(),
            Applied::Changed
        );
    }
    let call = board.call("s-bb843f9bc3bd4366a83f9e953f2c9c58").unwrap();
    assert_eq!(call.direction, CallDirection::Outbound);
    assert_eq!(call.caller.as_deref(), Some("+16579991394"));
    assert_eq!(call.dialed, None);
    assert_eq!(call.parties().len(), 2);
    // The callee leg is still ringing, so the call is live.
    assert!(call.is_live());
    assert_eq!(board.campaign_of_call(call), None);
}

#[test]
fn sample_presence_events_make_agents_on_call() {
    let doc = sample!("event-presence-detailed-docs.json");
    let mut board = Board::new(BoardConfig::default(), Vec::new());
    let now = Utc.with_ymd_and_hms(2019, 7, 9, 16, 17, 40).unwrap();
    for key in [
        "detailed_extension_presence",
        "detailed_extension_presence_with_sip",
    ] {
        assert_eq!(
            board.apply_frame(&sample_member(doc, key), now).unwrap(),
            Applied::Changed
        );
    }
    let first = board.agent("6610372004").unwrap();
    assert_eq!(first.state, AgentState::OnCall);
    assert_eq!(
        first.current_call.as_deref(),
        Some("Y3MxNjk4ODA5MTYxMzUyOTU5OUAxMC4zMi40NS44NA")
    );
    assert_eq!(
        first.state_since,
        Utc.with_ymd_and_hms(2016, 2, 18, 9, 37, 24).unwrap() + Duration::milliseconds(597)
    );
    let second = board.agent("297277020").unwrap();
    assert_eq!(second.telephony_status.as_deref(), Some("OnHold"));
    assert_eq!(second.state, AgentState::OnCall);
}

#[test]
fn sample_draft_and_message_store_notifications_are_ignored() {
    let mut board = Board::new(BoardConfig::default(), Vec::new());
    let now = t(0);
    assert_eq!(
        board
            .apply_frame(sample!("event-notify-callsession-v2_4-draft.json"), now)
            .unwrap(),
        Applied::Ignored
    );
    assert_eq!(
        board
            .apply_frame(sample!("ws-05-server-notification.json"), now)
            .unwrap(),
        Applied::Ignored
    );
    assert_eq!(board.revision(), 0);
}

#[test]
fn sample_rest_session_read_creates_the_call() {
    let all: Value = serde_json::from_str(sample!("rest-callcontrol-js-mocks-2019.json")).unwrap();
    let session: TelephonySession =
        serde_json::from_value(all["GET_telephony_sessions_id"].clone()).unwrap();
    let mut board = Board::new(BoardConfig::default(), Vec::new());
    let now = Utc.with_ymd_and_hms(2019, 9, 10, 2, 50, 30).unwrap();
    assert_eq!(
        board.apply_session_snapshot(&session, now),
        Applied::Changed
    );
    let call = board.call("s-279e175539444bdc96d16c1e2fe4dbe9").unwrap();
    assert_eq!(call.direction, CallDirection::Inbound);
    assert_eq!(call.caller.as_deref(), Some("+16579991394"));
    assert_eq!(
        call.started_at,
        Utc.with_ymd_and_hms(2019, 9, 10, 2, 50, 14).unwrap()
    );
    assert_eq!(call.state, CallState::Setup);
    let presence: crate::rc::records::Page<Presence> =
        serde_json::from_value(all["GET_account_presence_detailed_sip"].clone()).unwrap();
    board.apply_presence_snapshot(&presence.records, now);
    assert_eq!(board.agent("170848004").unwrap().state, AgentState::OnCall);
    assert_eq!(
        board.agent("170853004").unwrap().state,
        AgentState::Available
    );
}

#[test]
fn sample_phone_numbers_without_plus_are_normalised() {
    let all: Value =
        serde_json::from_str(sample!("rest-call-log-and-phone-numbers-docs.json")).unwrap();
    let key = all
        .as_object()
        .unwrap()
        .keys()
        .find(|k| k.starts_with("GET_phone_number_list"))
        .unwrap()
        .clone();
    let page: crate::rc::records::Page<PhoneNumber> =
        serde_json::from_value(all[&key].clone()).unwrap();
    let mut board = Board::new(BoardConfig::default(), Vec::new());
    board.set_numbers(&page.records, t(0));
    assert_eq!(board.number("+18555551264").unwrap().id, "246715008");
    assert_eq!(board.number("246715008").unwrap().number, "+18555551264");
    let rows = board.campaign_rows(Window::Today, t(0));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].campaign, UNLABELLED);
    assert_eq!(rows[0].numbers.len(), 3);
}

#[test]
fn contributions_compare_their_queue_and_number_by_text_whatever_the_allocation() {
    use std::sync::Arc;

    use super::model::{Bucket, Contribution};
    let bucket = board().bucket(t0());
    let later = Bucket {
        minute: bucket.minute + 1,
        ..bucket
    };
    let with = |queue: &str, number: &str, at: Bucket| Contribution {
        queue: Some((Arc::from(queue), at)),
        number: Some((Arc::from(number), at)),
        ..Contribution::default()
    };
    let counted = with("Q1", "+14155550100", bucket);
    // The same Arc on both sides (the usual case) and equal texts in other allocations.
    assert_eq!(counted, counted.clone());
    assert_eq!(counted, with("Q1", "+14155550100", bucket));
    assert_ne!(counted, with("Q2", "+14155550100", bucket));
    assert_ne!(counted, with("Q1", "+14155550199", bucket));
    assert_ne!(counted, with("Q1", "+14155550100", later));
    assert_ne!(
        counted,
        Contribution {
            queue: None,
            ..counted.clone()
        }
    );
    assert_ne!(
        counted,
        Contribution {
            live_at_number: true,
            ..counted.clone()
        }
    );
}
