//! The world's own board JSON (schema 1, docs/BOARD_JSON.md) for `GET /_sim/truth`.
//!
//! Computed from the world's call records, never through `crate::board`, so a test comparing the
//! client's board with this truth checks the client against an independent implementation of
//! the same definitions (DESIGN.md "Metrics").
//!
//! Where docs/BOARD_JSON.md leaves room, the truth decides as follows (each matches what the
//! events show):
//! * `queuedAt` is the event time of the queue's party (`to.extensionId` = the queue);
//!   `answeredAt` the first agent `Answered`; `endedAt` the caller leg's `Disconnected` (for
//!   outbound and internal calls, the last party's).
//! * Talk is time an agent's party is `Answered`, hold time it is on `Hold`; parked time and
//!   the gap of a blind transfer (first agent `Gone`, next one ringing) count as neither. A call
//!   between the agents of a blind transfer is `talking`.
//! * `caller` of an outbound call is the number dialled; of an internal call, the callee's
//!   extension number, with the callee's name as `callerName`. `agent` of outbound and internal
//!   calls is the agent who placed them.
//! * Campaign rows cover every account number (the main number's label is a campaign too; the
//!   agents' direct numbers are `(unlabelled)`); rows sort by campaign, then DN with null first.
//! * A first-time caller is one whose number the world had not seen in any earlier call it holds.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::{Value, json};

use super::world::{
    Availability, Call, CallKind, Outcome, Phase, World, local_midnight, seconds_between, wire_time,
};
use crate::text::sanitize;

/// The campaign of a number without a label.
pub const UNLABELLED: &str = "(unlabelled)";

/// Splits a label by the default grammar: the last E.164 number in it is the DN, the rest
/// (trimmed, the two sides joined by one space) is the campaign. With no E.164 number the whole
/// label is the campaign. A label that is only a DN names its campaign by that DN.
pub fn parse_label(label: &str) -> (String, Option<String>) {
    static E164: OnceLock<Regex> = OnceLock::new();
    let e164 = E164.get_or_init(|| {
        Regex::new(r"\+[1-9][0-9]{6,14}").expect("the E.164 pattern is a valid regex")
    });
    let Some(dn) = e164.find_iter(label).last() else {
        return (label.trim().to_string(), None);
    };
    let before = label[..dn.start()].trim();
    let after = label[dn.end()..].trim();
    let campaign = match (before.is_empty(), after.is_empty()) {
        (true, true) => dn.as_str().to_string(),
        (false, true) => before.to_string(),
        (true, false) => after.to_string(),
        (false, false) => format!("{before} {after}"),
    };
    (campaign, Some(dn.as_str().to_string()))
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| round1(values.iter().sum::<f64>() / values.len() as f64))
}

/// (campaign, DN) of account number `number`, sanitised, by its current label.
fn campaign_of(world: &World, number: usize) -> (String, Option<String>) {
    match &world.numbers[number].label {
        Some(label) => {
            let (campaign, dn) = parse_label(label);
            (sanitize(&campaign).into_owned(), dn)
        }
        None => (UNLABELLED.to_string(), None),
    }
}

fn state_of(call: &Call) -> &'static str {
    match call.phase {
        Phase::Setup | Phase::Ivr => "setup",
        Phase::Waiting => "waiting",
        // A blind transfer ringing the next agent is still a connected call.
        Phase::Talking | Phase::Transferring => "talking",
        Phase::Hold => "hold",
        Phase::Parked => "parked",
        Phase::Voicemail => "voicemail",
        Phase::Ended => "ended",
    }
}

fn outcome_of(call: &Call) -> &'static str {
    match (call.is_live(), call.outcome) {
        (true, _) | (false, None) => "live",
        (false, Some(Outcome::Answered)) => "answered",
        (false, Some(Outcome::Abandoned)) => "abandoned",
        (false, Some(Outcome::ShortAbandon)) => "short_abandon",
        (false, Some(Outcome::Voicemail)) => "voicemail",
        (false, Some(Outcome::Missed)) => "missed",
        (false, Some(Outcome::Outbound)) => "outbound",
        (false, Some(Outcome::Internal)) => "internal",
    }
}

/// Seconds the call waited in its queue: to the answer, the end, or `now` while waiting.
fn wait_seconds(call: &Call, now: DateTime<Utc>) -> Option<f64> {
    let queued = call.queued_at?;
    let until = call.answered_at.or(call.ended_at).unwrap_or(now);
    Some(seconds_between(queued, until).max(0.0))
}

fn opt_time(t: Option<DateTime<Utc>>) -> Value {
    t.map(|t| json!(wire_time(t))).unwrap_or(Value::Null)
}

fn call_json(world: &World, call: &Call, now: DateTime<Utc>) -> Value {
    let (dialed, campaign, dn) = match call.kind {
        CallKind::Inbound { number } => {
            let (campaign, dn) = campaign_of(world, number);
            (
                json!(world.numbers[number].number),
                json!(campaign),
                json!(dn),
            )
        }
        CallKind::Outbound { .. } | CallKind::Internal { .. } => {
            (Value::Null, Value::Null, Value::Null)
        }
    };
    let agent = call.last_agent().map(|a| &world.agents[a]);
    let (talk, hold) = if call.answered_at.is_some() {
        let (t, h) = call.talk_and_hold(now);
        (json!(round3(t)), json!(round3(h)))
    } else {
        (Value::Null, Value::Null)
    };
    let queue = call.queue.map(|q| &world.queues[q]);
    json!({
        "telephonySessionId": call.telephony_session_id,
        "caller": call.remote_number,
        "callerName": call.remote_name.as_deref().map(|n| sanitize(n).into_owned()),
        "dialed": dialed,
        "campaign": campaign,
        "dn": dn,
        "queue": queue.map(|q| sanitize(&q.name).into_owned()),
        "queueId": queue.map(|q| q.id.clone()),
        "agent": agent.map(|a| sanitize(&a.name()).into_owned()),
        "agentId": agent.map(|a| a.id.clone()),
        "state": state_of(call),
        "outcome": outcome_of(call),
        "startedAt": wire_time(call.started_at),
        "queuedAt": opt_time(call.queued_at),
        "answeredAt": opt_time(call.answered_at),
        "endedAt": opt_time(call.ended_at),
        "waitSeconds": wait_seconds(call, now).map(round3),
        "talkSeconds": talk,
        "holdSeconds": hold,
        "recording": call.recording.as_ref().map(|id| json!({ "id": id, "active": call.is_live() })),
    })
}

fn queue_json(
    world: &World,
    q: usize,
    today_start: DateTime<Utc>,
    live: &[&Call],
    now: DateTime<Utc>,
) -> Value {
    let queue = &world.queues[q];
    let sl = queue.service_level;
    let waiting: Vec<&Call> = live
        .iter()
        .copied()
        .filter(|c| c.queue == Some(q) && c.phase == Phase::Waiting)
        .collect();
    let longest = waiting
        .iter()
        .filter_map(|c| wait_seconds(c, now))
        .fold(None, |m: Option<f64>, w| Some(m.map_or(w, |m| m.max(w))));
    let offered: Vec<&Call> = world
        .calls
        .values()
        .filter(|c| c.queue == Some(q) && c.queued_at.is_some_and(|t| t >= today_start && t <= now))
        .collect();
    let answered: Vec<&Call> = offered
        .iter()
        .copied()
        .filter(|c| c.answered_at.is_some())
        .collect();
    let count = |o: Outcome| {
        offered
            .iter()
            .filter(|c| !c.is_live() && c.outcome == Some(o))
            .count()
    };
    let abandoned = count(Outcome::Abandoned);
    let waits: Vec<f64> = answered
        .iter()
        .filter_map(|c| wait_seconds(c, now))
        .collect();
    let within = waits
        .iter()
        .filter(|&&w| w <= f64::from(sl.threshold_s))
        .count();
    let divisor = answered.len() + if sl.include_abandoned { abandoned } else { 0 };
    let service_level = (divisor > 0).then(|| round1(100.0 * within as f64 / divisor as f64));
    let handle: Vec<f64> = answered
        .iter()
        .filter(|c| !c.is_live())
        .map(|c| {
            let (t, h) = c.talk_and_hold(now);
            t + h
        })
        .collect();
    let (mut available, mut on_call, mut away) = (0, 0, 0);
    for &a in &queue.members {
        let agent = &world.agents[a];
        if agent.line.is_some() {
            on_call += 1;
        } else if agent.availability == Availability::Available {
            available += 1;
        } else {
            away += 1;
        }
    }
    json!({
        "id": queue.id,
        "name": sanitize(&queue.name),
        "waiting": waiting.len(),
        "longestWaitSeconds": longest.map(round1),
        "offered": offered.len(),
        "answered": answered.len(),
        "abandoned": abandoned,
        "shortAbandoned": count(Outcome::ShortAbandon),
        "voicemail": count(Outcome::Voicemail),
        "serviceLevelPct": service_level,
        "slaGoalPct": sl.goal_pct,
        "slaThresholdSeconds": sl.threshold_s,
        "asaSeconds": mean(&waits),
        "ahtSeconds": mean(&handle),
        "agentsAvailable": available,
        "agentsOnCall": on_call,
        "agentsAway": away,
    })
}

#[derive(Default)]
struct CampaignRow {
    numbers: Vec<String>,
    live: usize,
    offered: usize,
    answered: usize,
    missed: usize,
    first_time: usize,
    talk: Vec<f64>,
}

fn campaigns_json(
    world: &World,
    today: &[&Call],
    live: &[&Call],
    now: DateTime<Utc>,
) -> Vec<Value> {
    let mut rows: BTreeMap<(String, Option<String>), CampaignRow> = BTreeMap::new();
    for (i, n) in world.numbers.iter().enumerate() {
        rows.entry(campaign_of(world, i))
            .or_default()
            .numbers
            .push(n.number.clone());
    }
    for call in live {
        if let CallKind::Inbound { number } = call.kind {
            rows.entry(campaign_of(world, number)).or_default().live += 1;
        }
    }
    for call in today {
        let CallKind::Inbound { number } = call.kind else {
            continue;
        };
        let row = rows.entry(campaign_of(world, number)).or_default();
        row.offered += 1;
        if call.first_time_caller {
            row.first_time += 1;
        }
        if call.answered_at.is_some() {
            row.answered += 1;
            if !call.is_live() {
                row.talk.push(call.talk_and_hold(now).0);
            }
        } else if !call.is_live() {
            row.missed += 1;
        }
    }
    rows.into_iter()
        .map(|((campaign, dn), mut row)| {
            row.numbers.sort();
            json!({
                "campaign": campaign,
                "dn": dn,
                "numbers": row.numbers,
                "live": row.live,
                "offered": row.offered,
                "answered": row.answered,
                "missed": row.missed,
                "firstTimeCallers": row.first_time,
                "avgTalkSeconds": mean(&row.talk),
            })
        })
        .collect()
}

/// Board JSON schema 1 of `world` at `now`.
pub fn board_json(world: &World, now: DateTime<Utc>) -> Value {
    let today_start = local_midnight(now, world.cfg.time_zone);
    let today: Vec<&Call> = world
        .calls
        .values()
        .filter(|c| c.started_at >= today_start && c.started_at <= now)
        .collect();
    let live: Vec<&Call> = world.calls.values().filter(|c| c.is_live()).collect();
    let mut board_calls: Vec<&Call> = world
        .calls
        .values()
        .filter(|c| c.is_live() || (c.started_at >= today_start && c.started_at <= now))
        .collect();
    board_calls.sort_by(|a, b| {
        a.started_at
            .cmp(&b.started_at)
            .then_with(|| a.telephony_session_id.cmp(&b.telephony_session_id))
    });
    let mut queue_order: Vec<usize> = (0..world.queues.len()).collect();
    queue_order.sort_by(|&a, &b| {
        world.queues[a]
            .name
            .cmp(&world.queues[b].name)
            .then_with(|| world.queues[a].id.cmp(&world.queues[b].id))
    });
    json!({
        "schema": 1,
        "now": wire_time(now),
        "timeZone": world.cfg.time_zone.name(),
        "todayStart": wire_time(today_start),
        "calls": board_calls.iter().map(|c| call_json(world, c, now)).collect::<Vec<_>>(),
        "queues": queue_order.iter().map(|&q| queue_json(world, q, today_start, &live, now)).collect::<Vec<_>>(),
        "campaigns": campaigns_json(world, &today, &live, now),
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::sim::world::WorldConfig;

    fn t0() -> DateTime<Utc> {
        "2026-11-25T09:00:00Z".parse().unwrap()
    }

    fn seconds(v: &Value) -> Option<f64> {
        v.as_f64()
    }

    fn time(v: &Value) -> Option<DateTime<Utc>> {
        v.as_str().map(|s| s.parse().unwrap())
    }

    /// Checks every invariant the board JSON promises, for one truth.
    fn assert_invariants(world: &World, truth: &Value) {
        let now = time(&truth["now"]).unwrap();
        let today_start = time(&truth["todayStart"]).unwrap();
        let calls = truth["calls"].as_array().unwrap();
        let mut previous: Option<(String, String)> = None;
        for call in calls {
            let key = (
                call["startedAt"].as_str().unwrap().to_string(),
                call["telephonySessionId"].as_str().unwrap().to_string(),
            );
            assert!(previous.as_ref().is_none_or(|p| p <= &key), "calls sorted");
            previous = Some(key);
            let state = call["state"].as_str().unwrap();
            let outcome = call["outcome"].as_str().unwrap();
            assert_eq!(state == "ended", outcome != "live", "{call}");
            assert_eq!(state == "ended", !call["endedAt"].is_null(), "{call}");
            for field in ["waitSeconds", "talkSeconds", "holdSeconds"] {
                assert!(
                    seconds(&call[field]).is_none_or(|s| s >= 0.0),
                    "negative {field}: {call}"
                );
            }
            let started = time(&call["startedAt"]).unwrap();
            let queued = time(&call["queuedAt"]);
            let answered = time(&call["answeredAt"]);
            let ended = time(&call["endedAt"]);
            assert!(queued.is_none_or(|q| q >= started));
            assert!(answered.is_none_or(|a| a >= queued.unwrap_or(started)));
            assert!(ended.is_none_or(|e| e >= answered.or(queued).unwrap_or(started) && e <= now));
            match outcome {
                "answered" => assert!(answered.is_some() && !call["agentId"].is_null(), "{call}"),
                "abandoned" | "short_abandon" | "voicemail" => {
                    assert!(queued.is_some() && answered.is_none(), "{call}");
                }
                "missed" => assert!(queued.is_none() && answered.is_none(), "{call}"),
                "outbound" | "internal" => {
                    assert!(call["campaign"].is_null() && call["queue"].is_null())
                }
                _ => {}
            }
            if matches!(state, "talking" | "hold" | "parked") {
                assert!(answered.is_some(), "{call}");
            }
            if state == "waiting" {
                assert!(queued.is_some() && answered.is_none(), "{call}");
            }
            if outcome != "outbound" && outcome != "internal" && !call["dialed"].is_null() {
                assert!(!call["campaign"].is_null());
            }
        }
        let queues = truth["queues"].as_array().unwrap();
        assert_eq!(queues.len(), world.queues.len());
        for queue in queues {
            let id = queue["id"].as_str().unwrap();
            let count = |f: &str| queue[f].as_u64().unwrap();
            let in_queue_today = |c: &&Value| {
                c["queueId"].as_str() == Some(id)
                    && time(&c["queuedAt"]).is_some_and(|q| q >= today_start)
            };
            let live_in_voicemail = calls
                .iter()
                .filter(in_queue_today)
                .filter(|c| c["state"] == "voicemail")
                .count() as u64;
            let accounted = count("answered")
                + count("abandoned")
                + count("shortAbandoned")
                + count("voicemail")
                + count("waiting")
                + live_in_voicemail;
            assert_eq!(count("offered"), accounted, "queue {id}: {queue}");
            assert_eq!(
                count("offered"),
                calls.iter().filter(in_queue_today).count() as u64
            );
            let members = world.call_queue_members(id).unwrap().len() as u64;
            assert_eq!(
                count("agentsAvailable") + count("agentsOnCall") + count("agentsAway"),
                members
            );
            if let Some(sl) = queue["serviceLevelPct"].as_f64() {
                assert!((0.0..=100.0).contains(&sl));
            }
            let waiting = calls
                .iter()
                .filter(|c| c["queueId"].as_str() == Some(id) && c["state"] == "waiting")
                .count() as u64;
            assert_eq!(count("waiting"), waiting);
            assert_eq!(queue["longestWaitSeconds"].is_null(), waiting == 0);
        }
        let campaigns = truth["campaigns"].as_array().unwrap();
        let numbers: usize = campaigns
            .iter()
            .map(|c| c["numbers"].as_array().unwrap().len())
            .sum();
        assert_eq!(
            numbers,
            world.phone_numbers().len(),
            "every account number in exactly one row"
        );
        let offered: u64 = campaigns
            .iter()
            .map(|c| c["offered"].as_u64().unwrap())
            .sum();
        let inbound_today = calls
            .iter()
            .filter(|c| !c["dialed"].is_null() && time(&c["startedAt"]).unwrap() >= today_start)
            .count() as u64;
        assert_eq!(offered, inbound_today);
        for row in campaigns {
            let count = |f: &str| row[f].as_u64().unwrap();
            assert!(count("answered") + count("missed") <= count("offered"));
            assert!(count("firstTimeCallers") <= count("offered"));
        }
    }

    #[test]
    fn truth_invariants_hold_through_hours_of_busy_traffic() {
        let cfg = WorldConfig {
            seed: 11,
            calls_per_minute: 12.0,
            max_wait_seconds: 120.0,
            transfer_probability: 0.15,
            park_probability: 0.05,
            ..WorldConfig::default()
        };
        let mut world = World::new(&cfg, t0());
        assert_invariants(&world, &world.truth(t0()));
        for minute in 1..=6 * 60 {
            let now = t0() + Duration::minutes(minute);
            world.advance(now);
            if minute % 60 == 0 {
                assert_invariants(&world, &world.truth(now));
            }
        }
        let truth = world.truth(world.now());
        let outcomes: Vec<&str> = truth["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["outcome"].as_str().unwrap())
            .collect();
        for outcome in [
            "answered",
            "abandoned",
            "short_abandon",
            "voicemail",
            "missed",
            "outbound",
            "internal",
        ] {
            assert!(
                outcomes.contains(&outcome),
                "no {outcome} call in six hours"
            );
        }
    }

    /// What a client can know about one party from the events alone.
    #[derive(Default)]
    struct SeenParty {
        extension: Option<String>,
        outbound: bool,
        to_extension: Option<String>,
        code: String,
        since: Option<DateTime<Utc>>,
        first_seen: Option<DateTime<Utc>>,
        first_answered: Option<DateTime<Utc>>,
        talk: f64,
        hold: f64,
    }

    /// Replays telephony events the way a client does and checks that the truth tells the same
    /// story: queue entry, answer, end, state, talk and hold, for every call it lists.
    fn assert_truth_matches_events(
        world: &World,
        sessions: &BTreeMap<String, BTreeMap<String, SeenParty>>,
        now: DateTime<Utc>,
    ) {
        let truth = world.truth(now);
        let agent_ids: Vec<&str> = world.agents.iter().map(|a| a.id.as_str()).collect();
        let queue_ids: Vec<&str> = world.queues.iter().map(|q| q.id.as_str()).collect();
        for call in truth["calls"].as_array().unwrap() {
            let id = call["telephonySessionId"].as_str().unwrap();
            let Some(parties) = sessions.get(id) else {
                continue;
            };
            let caller_leg = parties
                .values()
                .find(|p| p.extension.is_none() && p.outbound);
            // With no PSTN caller leg, an extension placed the call.
            let outbound_call = caller_leg.is_none();
            let agents: Vec<&SeenParty> = parties
                .values()
                .filter(|p| {
                    p.extension
                        .as_deref()
                        .is_some_and(|e| agent_ids.contains(&e))
                        && p.outbound == outbound_call
                })
                .collect();
            let queued = parties
                .values()
                .filter(|p| {
                    p.to_extension
                        .as_deref()
                        .is_some_and(|e| queue_ids.contains(&e))
                })
                .filter_map(|p| p.first_seen)
                .min();
            let answered = agents.iter().filter_map(|p| p.first_answered).min();
            let caller_leg = parties
                .values()
                .find(|p| p.extension.is_none() && p.outbound);
            let ended = match caller_leg {
                Some(leg) => (leg.code == "Disconnected").then_some(leg.since).flatten(),
                None => parties
                    .values()
                    .all(|p| p.code == "Disconnected" || p.code == "Gone")
                    .then(|| parties.values().filter_map(|p| p.since).max())
                    .flatten(),
            };
            assert_eq!(time(&call["queuedAt"]), queued, "queuedAt of {call}");
            assert_eq!(time(&call["answeredAt"]), answered, "answeredAt of {call}");
            assert_eq!(time(&call["endedAt"]), ended, "endedAt of {call}");
            let open = |p: &SeenParty, code: &str| {
                if p.code == code {
                    seconds_between(p.since.unwrap(), ended.unwrap_or(now))
                } else {
                    0.0
                }
            };
            if answered.is_some() {
                let talk: f64 = agents.iter().map(|p| p.talk + open(p, "Answered")).sum();
                let hold: f64 = agents.iter().map(|p| p.hold + open(p, "Hold")).sum();
                assert!(
                    (call["talkSeconds"].as_f64().unwrap() - talk).abs() < 0.002,
                    "talk {talk} of {call}"
                );
                assert!(
                    (call["holdSeconds"].as_f64().unwrap() - hold).abs() < 0.002,
                    "hold {hold} of {call}"
                );
            }
            let has = |code: &str| agents.iter().any(|p| p.code == code);
            let state = if ended.is_some() {
                "ended"
            } else if has("Answered") {
                "talking"
            } else if has("Hold") {
                "hold"
            } else if parties.values().any(|p| p.code == "Parked") {
                "parked"
            } else if parties.values().any(|p| p.code == "VoiceMail") {
                "voicemail"
            } else if answered.is_some() {
                "talking"
            } else if queued.is_some() {
                "waiting"
            } else {
                "setup"
            };
            assert_eq!(call["state"], state, "state of {call}");
        }
    }

    #[test]
    fn truth_tells_the_same_story_as_the_events() {
        let cfg = WorldConfig {
            seed: 21,
            calls_per_minute: 10.0,
            max_wait_seconds: 100.0,
            transfer_probability: 0.25,
            park_probability: 0.1,
            history_minutes: 0,
            outbound_calls_per_minute: 2.0,
            internal_calls_per_minute: 1.0,
            ..WorldConfig::default()
        };
        let mut world = World::new(&cfg, t0());
        let mut sessions: BTreeMap<String, BTreeMap<String, SeenParty>> = BTreeMap::new();
        for s in 1..=3 * 3600 {
            let now = t0() + Duration::seconds(s);
            for event in world.run_until(now) {
                let super::super::world::WorldEvent::Telephony { body, .. } = event else {
                    continue;
                };
                let body = body.to_value();
                let at = time(&body["eventTime"]).unwrap();
                let party = &body["parties"][0];
                let seen = sessions
                    .entry(body["telephonySessionId"].as_str().unwrap().to_string())
                    .or_default()
                    .entry(party["id"].as_str().unwrap().to_string())
                    .or_default();
                if let Some(since) = seen.since {
                    match seen.code.as_str() {
                        "Answered" => seen.talk += seconds_between(since, at),
                        "Hold" => seen.hold += seconds_between(since, at),
                        _ => {}
                    }
                }
                let code = party["status"]["code"].as_str().unwrap().to_string();
                seen.extension = party["extensionId"].as_str().map(str::to_string);
                seen.outbound = party["direction"] == "Outbound";
                seen.to_extension = party["to"]["extensionId"].as_str().map(str::to_string);
                seen.first_seen.get_or_insert(at);
                if code == "Answered" {
                    seen.first_answered.get_or_insert(at);
                }
                seen.code = code;
                seen.since = Some(at);
            }
            if s % 600 == 0 {
                assert_truth_matches_events(&world, &sessions, now);
            }
        }
    }

    #[test]
    fn truth_uses_each_queues_own_service_level_settings() {
        let world = World::new(&WorldConfig::default(), t0());
        let truth = world.truth(t0());
        let thresholds: Vec<u64> = truth["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["slaThresholdSeconds"].as_u64().unwrap())
            .collect();
        assert!(
            thresholds.windows(2).any(|w| w[0] != w[1]),
            "{thresholds:?}"
        );
        for queue in truth["queues"].as_array().unwrap() {
            let detail = world.call_queue(queue["id"].as_str().unwrap()).unwrap();
            assert_eq!(
                queue["slaThresholdSeconds"],
                detail["serviceLevelSettings"]["slaThresholdSeconds"]
            );
            assert_eq!(
                queue["slaGoalPct"],
                detail["serviceLevelSettings"]["slaGoal"]
            );
        }
    }

    #[test]
    fn today_starts_at_local_midnight_of_the_configured_zone() {
        let cfg = WorldConfig {
            time_zone: chrono_tz::America::New_York,
            history_minutes: 0,
            ..WorldConfig::default()
        };
        let world = World::new(&cfg, t0());
        let truth = world.truth(t0());
        assert_eq!(truth["timeZone"], "America/New_York");
        assert_eq!(truth["todayStart"], "2026-11-25T05:00:00.000Z");
        assert_eq!(truth["schema"], 1);
    }

    #[test]
    fn relabelling_a_number_moves_its_calls_to_the_new_campaign() {
        let mut world = World::new(&WorldConfig::default(), t0());
        let truth = world.truth(t0());
        let call = truth["calls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| !c["dialed"].is_null())
            .unwrap()
            .clone();
        let dialed = call["dialed"].as_str().unwrap();
        let calls_to_number = truth["calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["dialed"] == dialed)
            .count() as u64;
        let record = world
            .phone_numbers()
            .into_iter()
            .find(|n| n["phoneNumber"] == dialed)
            .unwrap();
        world
            .relabel(&record["id"].to_string(), "Spring Mailer +14155550199")
            .unwrap();

        let after = world.truth(t0());
        let moved = after["calls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["telephonySessionId"] == call["telephonySessionId"])
            .unwrap();
        assert_eq!(moved["campaign"], "Spring Mailer");
        assert_eq!(moved["dn"], "+14155550199");
        let row = after["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["campaign"] == "Spring Mailer")
            .unwrap();
        assert_eq!(row["numbers"], json!([dialed]));
        assert_eq!(row["offered"].as_u64().unwrap(), calls_to_number);
        assert_invariants(&world, &after);
    }

    #[test]
    fn label_grammar_takes_the_last_e164_number_as_dn() {
        assert_eq!(
            parse_label("Zillow Spring +14155550100"),
            ("Zillow Spring".into(), Some("+14155550100".into()))
        );
        assert_eq!(
            parse_label("A +12125550100 B +14155550100"),
            ("A +12125550100 B".into(), Some("+14155550100".into()))
        );
        assert_eq!(
            parse_label("  Trade Show Booth "),
            ("Trade Show Booth".into(), None)
        );
        assert_eq!(
            parse_label("+14155550100"),
            ("+14155550100".into(), Some("+14155550100".into()))
        );
        assert_eq!(
            parse_label("Call 555-0100 now"),
            ("Call 555-0100 now".into(), None)
        );
    }
}
