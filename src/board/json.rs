//! Board JSON, schema 1 (docs/BOARD_JSON.md): the one machine-readable form of the board,
//! which the simulator's `/_sim/truth` also produces, so the two can be compared with `==`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::board::metrics::{Window, round1, round3};
use crate::board::model::{Board, Call};

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-25T14:03:00.000Z`.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A queue setting as the platform states it: an integer when whole (the platform's settings
/// always are), else rounded to 0.1.
fn setting_number(value: f64) -> serde_json::Number {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        serde_json::Number::from(value as i64)
    } else {
        serde_json::Number::from_f64(round1(value)).unwrap_or_else(|| serde_json::Number::from(0))
    }
}

fn seconds(ms: Option<i64>) -> Option<f64> {
    ms.map(|ms| round3(ms as f64 / 1000.0))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BoardJson {
    schema: u32,
    now: String,
    time_zone: String,
    today_start: String,
    calls: Vec<CallJson>,
    queues: Vec<QueueJson>,
    campaigns: Vec<CampaignJson>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CallJson {
    telephony_session_id: String,
    caller: Option<String>,
    caller_name: Option<String>,
    dialed: Option<String>,
    campaign: Option<String>,
    dn: Option<String>,
    queue: Option<String>,
    queue_id: Option<String>,
    agent: Option<String>,
    agent_id: Option<String>,
    state: &'static str,
    outcome: &'static str,
    started_at: String,
    queued_at: Option<String>,
    answered_at: Option<String>,
    ended_at: Option<String>,
    wait_seconds: Option<f64>,
    talk_seconds: Option<f64>,
    hold_seconds: Option<f64>,
    recording: Option<RecordingJson>,
    /// Present (and false) only while a call closed by a resync waits for its call-log record.
    #[serde(skip_serializing_if = "Option::is_none")]
    end_seen: Option<bool>,
}

#[derive(Serialize)]
struct RecordingJson {
    id: String,
    active: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueueJson {
    id: String,
    name: String,
    waiting: usize,
    longest_wait_seconds: Option<f64>,
    offered: i64,
    answered: i64,
    abandoned: i64,
    short_abandoned: i64,
    voicemail: i64,
    service_level_pct: Option<f64>,
    sla_goal_pct: serde_json::Number,
    sla_threshold_seconds: serde_json::Number,
    asa_seconds: Option<f64>,
    aht_seconds: Option<f64>,
    agents_available: usize,
    agents_on_call: usize,
    agents_away: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CampaignJson {
    campaign: String,
    dn: Option<String>,
    numbers: Vec<String>,
    live: i64,
    offered: i64,
    answered: i64,
    missed: i64,
    first_time_callers: i64,
    avg_talk_seconds: Option<f64>,
}

impl Board {
    /// The board as schema-1 JSON at `now` (counts for today).
    pub fn to_json(&self, now: DateTime<Utc>) -> serde_json::Value {
        // Serialising plain structs of strings and numbers cannot fail.
        serde_json::to_value(self.board_json(now)).unwrap_or(serde_json::Value::Null)
    }

    /// [`Board::to_json`] as text: one line, or indented when `pretty`.
    pub fn to_json_string(&self, now: DateTime<Utc>, pretty: bool) -> String {
        let doc = self.board_json(now);
        let text = if pretty {
            serde_json::to_string_pretty(&doc)
        } else {
            serde_json::to_string(&doc)
        };
        text.unwrap_or_default()
    }

    fn board_json(&self, now: DateTime<Utc>) -> BoardJson {
        let today_start = self.today_start(now);
        let calls = self
            .calls()
            .filter(|c| c.is_live() || c.started_at >= today_start)
            .map(|c| self.call_json(c, now))
            .collect();
        let queues = self
            .queue_rows(Window::Today, now)
            .into_iter()
            .map(|q| QueueJson {
                id: q.id,
                name: q.name,
                waiting: q.waiting,
                longest_wait_seconds: q.longest_wait_seconds,
                offered: q.offered,
                answered: q.answered,
                abandoned: q.abandoned,
                short_abandoned: q.short_abandoned,
                voicemail: q.voicemail,
                service_level_pct: q.service_level_pct,
                sla_goal_pct: setting_number(q.sla.goal_pct),
                sla_threshold_seconds: setting_number(q.sla.threshold_s),
                asa_seconds: q.asa_seconds,
                aht_seconds: q.aht_seconds,
                agents_available: q.agents_available,
                agents_on_call: q.agents_on_call,
                agents_away: q.agents_away,
            })
            .collect();
        let campaigns = self
            .campaign_rows(Window::Today, now)
            .into_iter()
            .map(|c| CampaignJson {
                campaign: c.campaign,
                dn: c.dn,
                numbers: c.numbers,
                live: c.live,
                offered: c.offered,
                answered: c.answered,
                missed: c.missed,
                first_time_callers: c.first_time_callers,
                avg_talk_seconds: c.avg_talk_seconds,
            })
            .collect();
        BoardJson {
            schema: 1,
            now: format_time(now),
            time_zone: self.config.time_zone.name().to_owned(),
            today_start: format_time(today_start),
            calls,
            queues,
            campaigns,
        }
    }

    fn call_json(&self, call: &Call, now: DateTime<Utc>) -> CallJson {
        let (campaign, dn) = match self.campaign_of_call(call) {
            Some((c, d)) => (Some(c), d),
            None => (None, None),
        };
        CallJson {
            telephony_session_id: call.id.to_string(),
            caller: call.caller.as_deref().map(str::to_owned),
            caller_name: call.caller_name.as_deref().map(str::to_owned),
            dialed: call.dialed.as_deref().map(str::to_owned),
            campaign,
            dn,
            queue: call.queue_name.as_deref().map(str::to_owned),
            queue_id: call.queue_id.as_deref().map(str::to_owned),
            agent: call.agent_name.as_deref().map(str::to_owned),
            agent_id: call.agent_id.as_deref().map(str::to_owned),
            state: call.state.as_str(),
            outcome: call.outcome.as_str(),
            started_at: format_time(call.started_at),
            queued_at: call.queued_at.map(format_time),
            answered_at: call.answered_at.map(format_time),
            ended_at: call.ended_at.map(format_time),
            wait_seconds: seconds(call.wait_ms(now)),
            talk_seconds: seconds(call.talk_ms(now)),
            hold_seconds: seconds(call.hold_ms(now)),
            recording: call.recording.as_ref().map(|r| RecordingJson {
                id: r.id.clone(),
                active: r.active,
            }),
            end_seen: (!call.end_seen).then_some(false),
        }
    }
}
