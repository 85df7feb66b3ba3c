//! The simulated RingCentral account: extensions, call queues, phone numbers, calls, recordings.
//!
//! `World` is pure data. It never does IO and never reads the clock: time comes in as
//! `DateTime<Utc>` and all randomness comes from one `ChaCha8Rng` seeded by
//! [`WorldConfig::seed`], so the same seed and the same sequence of [`World::advance`] times give
//! identical events. The protocol layer (`sim::http`, `sim::ws`) holds it behind a mutex, calls
//! `advance` from a ticker and reads the REST models below; see "The simulator's seam" in
//! docs/ARCHITECTURE.md.
//!
//! Traffic (arrivals and call scripts) lives in [`super::traffic`], the board JSON of the world's
//! own records in [`super::truth`], recording audio in [`super::audio`].
//!
//! `uri` fields are built from [`World::set_base_url`] (empty by default, giving `/restapi/…`
//! paths); the protocol layer sets it to `http://HOST:PORT` once it has bound its socket.

use std::collections::{BTreeMap, BinaryHeap};
use std::ops::Range;

use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::audio;
use super::names;
use super::traffic::Timer;

/// How the simulated account looks and how busy it is. `Default` is a lively demo;
/// [`WorldConfig::short_calls`] is the preset for tests that need calls to finish in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldConfig {
    /// Seed of the world's only random number generator.
    pub seed: u64,
    /// Number of call queues (1–8).
    pub queues: usize,
    /// Agents dedicated to each queue (1–50). The first agent of each queue also serves the next.
    pub agents_per_queue: usize,
    /// Call tracking numbers in the CTN pool (1–320).
    pub ctn_numbers: usize,
    /// Mean inbound arrivals per minute (Poisson).
    pub calls_per_minute: f64,
    /// Mean outbound calls agents place per minute, account-wide.
    pub outbound_calls_per_minute: f64,
    /// Mean extension-to-extension calls per minute, account-wide.
    pub internal_calls_per_minute: f64,
    /// Mean talk time of an answered call, seconds (exponential, at least `min_talk_seconds`).
    pub mean_talk_seconds: f64,
    /// Shortest talk time, seconds.
    pub min_talk_seconds: f64,
    /// Mean length of one hold, seconds.
    pub mean_hold_seconds: f64,
    /// Mean time a caller waits in the queue before hanging up, seconds (exponential).
    pub mean_patience_seconds: f64,
    /// Longest wait in a queue before the call goes to voicemail, seconds.
    pub max_wait_seconds: f64,
    /// Mean time an agent's phone rings before it is picked up, seconds.
    pub mean_ring_seconds: f64,
    /// How long an unanswered agent rings before the queue moves on, seconds.
    pub ring_timeout_seconds: f64,
    /// Mean time a caller spends in the IVR menu, seconds.
    pub mean_ivr_seconds: f64,
    /// Time between the platform receiving a call and answering it with the greeting, seconds.
    pub greeting_seconds: f64,
    /// Mean length of a voicemail message, seconds.
    pub mean_voicemail_seconds: f64,
    /// Mean time a parked call stays parked, seconds.
    pub mean_park_seconds: f64,
    /// Probability that an answered call is put on hold once.
    pub hold_probability: f64,
    /// Probability that an answered call is transferred to another agent.
    pub transfer_probability: f64,
    /// Probability that an answered call is parked and picked up again.
    pub park_probability: f64,
    /// Probability that a ringing agent does not pick up.
    pub no_answer_probability: f64,
    /// Probability that an answered queue call is recorded.
    pub recording_probability: f64,
    /// Probability that a caller is someone who called before.
    pub repeat_caller_probability: f64,
    /// Mean minutes an agent stays available before stepping away.
    pub mean_available_minutes: f64,
    /// Mean minutes an agent stays away.
    pub mean_away_minutes: f64,
    /// Minutes of traffic played silently before the start, capped at local midnight.
    pub history_minutes: u32,
    /// Seconds after a call ends before its call-log record appears.
    pub call_log_delay_seconds: f64,
    /// Seconds after a call ends before its recording can be fetched.
    pub recording_delay_seconds: f64,
    /// Probability that an adjacent pair of telephony events is delivered swapped.
    pub reorder_probability: f64,
    /// The zone whose local midnight starts "today".
    pub time_zone: Tz,
}

impl Default for WorldConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            queues: 3,
            agents_per_queue: 5,
            ctn_numbers: 24,
            calls_per_minute: 3.0,
            outbound_calls_per_minute: 0.4,
            internal_calls_per_minute: 0.2,
            mean_talk_seconds: 150.0,
            min_talk_seconds: 15.0,
            mean_hold_seconds: 35.0,
            mean_patience_seconds: 120.0,
            max_wait_seconds: 180.0,
            mean_ring_seconds: 5.0,
            ring_timeout_seconds: 20.0,
            mean_ivr_seconds: 10.0,
            greeting_seconds: 1.0,
            mean_voicemail_seconds: 30.0,
            mean_park_seconds: 45.0,
            hold_probability: 0.25,
            transfer_probability: 0.08,
            park_probability: 0.03,
            no_answer_probability: 0.12,
            recording_probability: 0.7,
            repeat_caller_probability: 0.25,
            mean_available_minutes: 45.0,
            mean_away_minutes: 6.0,
            history_minutes: 120,
            call_log_delay_seconds: 20.0,
            recording_delay_seconds: 8.0,
            reorder_probability: 0.02,
            time_zone: Tz::UTC,
        }
    }
}

impl WorldConfig {
    /// Calls that start, ring, talk and end within a few seconds, with no history, so an
    /// integration test sees whole calls, call-log records and recordings quickly.
    pub fn short_calls(seed: u64) -> Self {
        Self {
            seed,
            queues: 2,
            agents_per_queue: 3,
            ctn_numbers: 8,
            calls_per_minute: 20.0,
            outbound_calls_per_minute: 2.0,
            internal_calls_per_minute: 1.0,
            mean_talk_seconds: 2.0,
            min_talk_seconds: 0.5,
            mean_hold_seconds: 0.5,
            mean_patience_seconds: 4.0,
            max_wait_seconds: 8.0,
            mean_ring_seconds: 0.5,
            ring_timeout_seconds: 1.5,
            mean_ivr_seconds: 0.5,
            greeting_seconds: 0.2,
            mean_voicemail_seconds: 1.0,
            mean_park_seconds: 1.0,
            mean_available_minutes: 5.0,
            mean_away_minutes: 0.2,
            history_minutes: 0,
            call_log_delay_seconds: 1.0,
            recording_delay_seconds: 0.5,
            ..Self::default()
        }
    }

    /// The same config with counts brought into the ranges the world supports.
    fn clamped(&self) -> Self {
        let mut cfg = self.clone();
        cfg.queues = cfg.queues.clamp(1, names::QUEUE_NAMES.len());
        cfg.agents_per_queue = cfg.agents_per_queue.clamp(1, 50);
        cfg.ctn_numbers = cfg.ctn_numbers.clamp(1, MAX_CTNS);
        cfg
    }
}

/// CTNs use `+1 NPA 555 01XX` with XX in 10..=49 across the account's area codes.
const MAX_CTNS: usize = 8 * 40;

/// Longest label [`World::relabel`] accepts, in characters. The public spec sets no limit; 64
/// holds a campaign name plus an E.164 DN (16 characters) with room to spare, and keeps labels
/// readable in the phone-number column of admin tools.
pub const MAX_LABEL_CHARS: usize = 64;

/// What the gateway fans out. The gateway wraps each in the notification envelope per matching
/// subscription and sends them in vector order (the world already did any reordering).
#[derive(Debug, Clone, PartialEq)]
pub enum WorldEvent {
    /// One telephony-session notification body (one party, per-session `sequence` from 2).
    /// `extension_id` is the party's extension (None for a PSTN leg): it selects the concrete
    /// event path and which extension-level filters match.
    Telephony {
        extension_id: Option<String>,
        body: Value,
    },
    /// One detailed presence body for an extension (`sequence` per extension).
    Presence { extension_id: String, body: Value },
}

/// `view` of a call-log request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallLogView {
    #[default]
    Simple,
    Detailed,
}

/// Filters of `GET …/call-log` that the world applies; paging is the protocol layer's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallLogQuery {
    /// Only calls with a party on this extension (the extension-level call log).
    pub extension_id: Option<String>,
    pub telephony_session_id: Option<String>,
    pub session_id: Option<String>,
    /// Inclusive lower bound on `startTime`; default: 24 h before the world's now.
    pub date_from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on `startTime`; default: the world's now.
    pub date_to: Option<DateTime<Utc>>,
    /// `Inbound` / `Outbound`; empty means both.
    pub directions: Vec<String>,
    /// A number on either end, E.164 with or without the `+`.
    pub phone_number: Option<String>,
    pub view: CallLogView,
}

/// Metadata of one recording, for `GET …/recording/{id}` and the content endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingMeta {
    pub id: String,
    pub content_type: &'static str,
    pub duration_s: u64,
    /// Length of the content in bytes.
    pub len: u64,
    /// Before this instant the content is not available yet (404 CMN-102).
    pub available_at: DateTime<Utc>,
}

/// Why a relabel was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelabelError {
    #[error("phone number {id} does not exist in account; list numbers to find its id")]
    UnknownNumber { id: String },
    #[error("label for phone number {id} is {chars} characters long; the limit is {max}")]
    TooLong {
        id: String,
        chars: usize,
        max: usize,
    },
    #[error(
        "label for phone number {id} contains control or bidi character U+{code:04X}; \
         labels must be plain text"
    )]
    ForbiddenCharacter { id: String, code: u32 },
}

// ---------------------------------------------------------------------------------------------
// The account and its calls (crate-internal model shared with traffic.rs and truth.rs)
// ---------------------------------------------------------------------------------------------

/// Whether an agent takes calls right now, independent of being on a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Availability {
    /// Logged in and taking queue calls.
    Available,
    /// Stepped away: user status Busy and not taking queue calls (DND for department calls).
    Away,
    /// Logged out.
    Offline,
}

/// The one party an agent is on: ringing, connected or held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AgentLine {
    pub call: CallKey,
    pub party: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub id: String,
    pub extension_number: String,
    pub first_name: String,
    pub last_name: String,
    pub direct_number: String,
    pub availability: Availability,
    pub line: Option<AgentLine>,
    pub idle_since: DateTime<Utc>,
    pub presence_sequence: u64,
    pub presence_dirty: bool,
}

impl Agent {
    pub fn name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// Free for a queue call: available and on no call.
    pub fn takes_queue_calls(&self) -> bool {
        self.availability == Availability::Available && self.line.is_none()
    }
}

/// `CallQueueServiceLevelSettings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServiceLevel {
    pub goal_pct: u32,
    pub threshold_s: u32,
    pub include_abandoned: bool,
    pub abandoned_threshold_s: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Queue {
    pub id: String,
    pub extension_number: String,
    pub name: String,
    pub members: Vec<usize>,
    pub service_level: ServiceLevel,
    /// Calls waiting in this queue, in the order they entered it.
    pub waiting: Vec<CallKey>,
}

/// Where a call to a tracking number goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Queue(usize),
    Ivr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberUse {
    Main,
    Direct(usize),
    Tracking(Route),
}

#[derive(Debug, Clone)]
pub(crate) struct PhoneNumber {
    pub id: u64,
    pub number: String,
    pub label: Option<String>,
    pub usage: NumberUse,
}

pub(crate) type CallKey = u64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// A caller dialled account number `number` (index into `World::numbers`).
    Inbound { number: usize },
    /// An agent dialled an outside number.
    Outbound { agent: usize },
    /// An agent dialled another agent's extension.
    Internal { from: usize, to: usize },
}

/// Where a call stands; exactly one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Reaching the platform (greeting) or dialling out.
    Setup,
    /// In the IVR menu.
    Ivr,
    /// In a queue, unanswered (an agent may be ringing).
    Waiting,
    Talking,
    Hold,
    /// Blind transfer: the first agent left, the next one rings; the caller hears music.
    Transferring,
    Parked,
    Voicemail,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Answered,
    Abandoned,
    ShortAbandon,
    Voicemail,
    Missed,
    Outbound,
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartyOwner {
    /// A PSTN leg: no extension.
    External,
    Agent(usize),
    Queue(usize),
    Ivr,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub phone_number: Option<String>,
    pub name: Option<String>,
    pub extension_id: Option<String>,
}

impl Endpoint {
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        if let Some(n) = &self.phone_number {
            m.insert("phoneNumber".into(), json!(n));
        }
        if let Some(n) = &self.name {
            m.insert("name".into(), json!(n));
        }
        if let Some(n) = &self.extension_id {
            m.insert("extensionId".into(), json!(n));
        }
        Value::Object(m)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Party {
    pub id: String,
    pub owner: PartyOwner,
    pub direction: &'static str,
    pub from: Endpoint,
    pub to: Endpoint,
    pub code: &'static str,
    pub reason: Option<&'static str>,
    /// For `Gone`: the party that took the call over.
    pub peer: Option<usize>,
    pub park_data: Option<String>,
    pub missed: bool,
    pub queue_call: bool,
    /// Whether this party carries the call's recording while it is active.
    pub records: bool,
}

impl Party {
    pub fn is_active(&self) -> bool {
        !matches!(self.code, "Disconnected" | "Gone")
    }
}

/// One agent's stretch of an answered call.
#[derive(Debug, Clone)]
pub(crate) struct AgentSegment {
    pub agent: usize,
    pub answered_at: DateTime<Utc>,
    pub talk_s: f64,
    pub hold_s: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub key: CallKey,
    pub session_id: String,
    pub telephony_session_id: String,
    pub hex: String,
    pub server_id: &'static str,
    /// Events carry `park {}` and `muted` (2020 style); otherwise they omit them (2026 style).
    pub full_fields: bool,
    pub kind: CallKind,
    /// Inbound: the caller. Outbound: the number dialled. Internal: the callee's extension number.
    pub remote_number: String,
    pub remote_name: Option<String>,
    pub queue: Option<usize>,
    pub parties: Vec<Party>,
    pub next_sequence: u64,
    pub started_at: DateTime<Utc>,
    pub queued_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub phase: Phase,
    /// Bumped at every transition; a timer carrying an older generation is stale.
    pub generation: u64,
    pub segments: Vec<AgentSegment>,
    /// Start of the talk or hold interval not yet added to the current segment.
    pub interval_start: DateTime<Utc>,
    /// The agent being rung for this call and that agent's party.
    pub ringing: Option<(usize, usize)>,
    /// The party of the agent the call is connected to (or held by, or parked from).
    pub agent_party: Option<usize>,
    pub last_missed_agent: Option<usize>,
    pub queue_party: Option<usize>,
    pub caller_party: Option<usize>,
    pub patience_s: f64,
    pub talk_left_s: f64,
    pub hold_planned: bool,
    pub transferred: bool,
    pub outcome: Option<Outcome>,
    pub recording: Option<String>,
    pub call_log_id: String,
    pub first_time_caller: bool,
}

impl Call {
    pub fn is_live(&self) -> bool {
        self.phase != Phase::Ended
    }

    /// Talk and hold seconds up to `now`, counting the interval in progress.
    pub fn talk_and_hold(&self, now: DateTime<Utc>) -> (f64, f64) {
        let mut talk: f64 = self.segments.iter().map(|s| s.talk_s).sum();
        let mut hold: f64 = self.segments.iter().map(|s| s.hold_s).sum();
        let running = seconds_between(self.interval_start, now).max(0.0);
        match self.phase {
            Phase::Talking if !self.segments.is_empty() => talk += running,
            Phase::Hold | Phase::Parked | Phase::Transferring => hold += running,
            _ => {}
        }
        (talk, hold)
    }

    /// The agent who answered last (after transfers).
    pub fn last_agent(&self) -> Option<usize> {
        self.segments.last().map(|s| s.agent)
    }
}

pub(crate) fn seconds_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / 1000.0
}

/// RFC 3339 UTC with milliseconds and `Z`, the platform's timestamp form.
pub(crate) fn wire_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Local midnight of `now`'s day in `tz`, as UTC. When midnight does not exist (a DST jump at
/// 00:00) the day starts at the first instant that does.
pub(crate) fn local_midnight(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let local_date = now.with_timezone(&tz).date_naive();
    let mut at = local_date.and_time(NaiveTime::MIN);
    for _ in 0..24 {
        if let Some(t) = tz.from_local_datetime(&at).earliest() {
            return t.with_timezone(&Utc);
        }
        at += Duration::hours(1);
    }
    now
}

#[derive(Debug, Clone)]
pub(crate) struct StoredRecording {
    pub duration_s: u64,
    pub len: u64,
    pub phase: u64,
    pub available_at: DateTime<Utc>,
}

/// The simulated account and everything happening in it.
#[derive(Debug)]
pub struct World {
    pub(crate) cfg: WorldConfig,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) account_id: String,
    pub(crate) admin_id: String,
    pub(crate) ivr_id: String,
    pub(crate) base_url: String,
    pub(crate) agents: Vec<Agent>,
    pub(crate) queues: Vec<Queue>,
    pub(crate) numbers: Vec<PhoneNumber>,
    pub(crate) calls: BTreeMap<CallKey, Call>,
    pub(crate) next_call_key: CallKey,
    pub(crate) next_session_number: u64,
    pub(crate) next_recording_number: u64,
    pub(crate) recordings: BTreeMap<String, StoredRecording>,
    pub(crate) known_callers: Vec<String>,
    pub(crate) seen_callers: std::collections::BTreeSet<String>,
    pub(crate) timers: BinaryHeap<Timer>,
    pub(crate) timer_order: u64,
    pub(crate) now: DateTime<Utc>,
    pub(crate) paused: bool,
    /// Time spent paused that pending timers have not been shifted by yet.
    pub(crate) paused_span: Duration,
    pub(crate) hostile: bool,
    pub(crate) hostile_huge_name_sent: bool,
    pub(crate) dispatch_needed: bool,
}

impl World {
    /// Builds the account from `cfg` and plays traffic silently from
    /// max(local midnight, start − history) up to `start`, so the call log and the truth already
    /// hold the day's calls when a client connects.
    pub fn new(cfg: &WorldConfig, start: DateTime<Utc>) -> World {
        let cfg = cfg.clamped();
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let history_from = (start - Duration::minutes(i64::from(cfg.history_minutes)))
            .max(local_midnight(start, cfg.time_zone));

        let account_id = format!("{}016", rng.random_range(800_000..1_000_000u32));
        let ext_base: u64 = rng.random_range(62_000_000..63_000_000);
        let ext_id = |i: u64| format!("{}016", ext_base + i * 7);
        let ivr_id = ext_id(1);

        let mut queues = Vec::with_capacity(cfg.queues);
        for q in 0..cfg.queues {
            let service_level = ServiceLevel {
                goal_pct: [80, 90, 75, 85][q % 4],
                threshold_s: [20, 30, 15, 45][q % 4],
                include_abandoned: q % 3 != 1,
                abandoned_threshold_s: [5, 10, 3, 8][q % 4],
            };
            queues.push(Queue {
                id: ext_id(10 + q as u64),
                extension_number: format!("{}", 800 + q),
                name: names::QUEUE_NAMES[q].to_string(),
                members: Vec::new(),
                service_level,
                waiting: Vec::new(),
            });
        }

        let agent_count = cfg.queues * cfg.agents_per_queue;
        let mut agents = Vec::with_capacity(agent_count);
        for a in 0..agent_count {
            let first = names::FIRST_NAMES[a % names::FIRST_NAMES.len()];
            let last =
                names::LAST_NAMES[(a * 7 + a / names::FIRST_NAMES.len()) % names::LAST_NAMES.len()];
            let home = a / cfg.agents_per_queue;
            let mut member_of = vec![home];
            // The first agent of each queue also helps the next queue (a shared member).
            if a % cfg.agents_per_queue == 0 && cfg.queues > 1 {
                member_of.push((home + 1) % cfg.queues);
            }
            for &q in &member_of {
                queues[q].members.push(a);
            }
            let area = names::ACCOUNT_AREA_CODES[a % names::ACCOUNT_AREA_CODES.len()];
            let availability = if rng.random_bool(0.8) {
                Availability::Available
            } else if rng.random_bool(0.7) {
                Availability::Away
            } else {
                Availability::Offline
            };
            agents.push(Agent {
                id: ext_id(100 + a as u64),
                extension_number: format!("{}", 201 + a),
                first_name: first.to_string(),
                last_name: last.to_string(),
                direct_number: names::fictional_number(
                    area,
                    50 + (a / names::ACCOUNT_AREA_CODES.len()) as u8,
                ),
                availability,
                line: None,
                idle_since: history_from,
                presence_sequence: rng.random_range(1_000..3_000),
                presence_dirty: false,
            });
        }

        let mut numbers = Vec::new();
        let mut number_id: u64 = rng.random_range(1_400_000_000..1_500_000_000) * 1000 + 16;
        let mut next_number_id = || {
            number_id += 1000;
            number_id
        };
        numbers.push(PhoneNumber {
            id: next_number_id(),
            number: names::fictional_number(800, 0),
            label: Some("Main Line".to_string()),
            usage: NumberUse::Main,
        });
        for (a, agent) in agents.iter().enumerate() {
            numbers.push(PhoneNumber {
                id: next_number_id(),
                number: agent.direct_number.clone(),
                label: None,
                usage: NumberUse::Direct(a),
            });
        }
        // CTNs: most carry a campaign label, the last sixth stay unlabelled. Each campaign
        // routes to one queue; every third campaign goes through the IVR instead.
        let unlabelled_from = cfg.ctn_numbers - cfg.ctn_numbers / 6;
        for c in 0..cfg.ctn_numbers {
            let area = names::ACCOUNT_AREA_CODES[c % names::ACCOUNT_AREA_CODES.len()];
            let number =
                names::fictional_number(area, 10 + (c / names::ACCOUNT_AREA_CODES.len()) as u8);
            let campaign_index = c % names::CAMPAIGNS.len();
            let campaign = &names::CAMPAIGNS[campaign_index];
            let label = (c < unlabelled_from).then(|| match campaign.dn_slot {
                Some(slot) => format!(
                    "{} {}",
                    campaign.name,
                    names::fictional_number(names::ACCOUNT_AREA_CODES[slot], 0)
                ),
                None => campaign.name.to_string(),
            });
            // Campaigns 2, 5, … answer with the IVR; the others spread over the queues in turn.
            let route = if campaign_index % 3 == 2 {
                Route::Ivr
            } else {
                Route::Queue((campaign_index - campaign_index / 3) % cfg.queues)
            };
            numbers.push(PhoneNumber {
                id: next_number_id(),
                number,
                label,
                usage: NumberUse::Tracking(route),
            });
        }

        let mut world = World {
            account_id: account_id.clone(),
            // As on real accounts, the main (admin) extension's id equals the account id.
            admin_id: account_id,
            ivr_id,
            base_url: String::new(),
            agents,
            queues,
            numbers,
            calls: BTreeMap::new(),
            next_call_key: 1,
            next_session_number: rng.random_range(400_000_000_000..500_000_000_000),
            next_recording_number: rng.random_range(1_600_000_000..1_700_000_000) * 1000 + 4,
            recordings: BTreeMap::new(),
            known_callers: Vec::new(),
            seen_callers: Default::default(),
            timers: BinaryHeap::new(),
            timer_order: 0,
            now: history_from,
            paused: false,
            paused_span: Duration::zero(),
            hostile: false,
            hostile_huge_name_sent: false,
            dispatch_needed: false,
            rng,
            cfg,
        };
        world.schedule_initial_timers();
        // History: the same traffic, played silently.
        let _ = world.run_until(start);
        world.now = start;
        world
    }

    /// Moves the world to `now` and returns what happened, in delivery order. While paused
    /// nothing progresses and nothing is returned; on resume, pending timers shift by the
    /// paused span so no call jumps ahead. A `now` earlier than the last one is ignored.
    pub fn advance(&mut self, now: DateTime<Utc>) -> Vec<WorldEvent> {
        if now < self.now {
            return Vec::new();
        }
        if self.paused {
            self.paused_span += now - self.now;
            self.now = now;
            return Vec::new();
        }
        if self.paused_span > Duration::zero() {
            let span = std::mem::replace(&mut self.paused_span, Duration::zero());
            self.shift_timers(span);
        }
        let mut events = self.run_until(now);
        self.reorder_adjacent(&mut events);
        events
    }

    /// Exactly `count` telephony events from short throwaway calls through the queues (whole
    /// calls, agents free again afterwards), also while paused.
    pub fn burst(&mut self, count: usize, now: DateTime<Utc>) -> Vec<WorldEvent> {
        self.burst_calls(count, now)
    }

    /// Freezes (true) or resumes (false) the world; bursts still work while frozen.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// In hostile mode new callers' names carry terminal escape sequences, bidi overrides and
    /// (once) a 100 KB name; switching it on also relabels a few numbers, once, with hostile
    /// labels.
    pub fn set_hostile(&mut self, hostile: bool) {
        if hostile && !self.hostile {
            self.apply_hostile_labels();
        }
        self.hostile = hostile;
    }

    pub fn is_hostile(&self) -> bool {
        self.hostile
    }

    /// Prefix for every `uri` in REST models, e.g. `http://127.0.0.1:8080`.
    pub fn set_base_url(&mut self, base_url: &str) {
        self.base_url = base_url.trim_end_matches('/').to_string();
    }

    /// The numeric account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The token owner's extension: the account's admin (main) extension.
    pub fn owner_extension_id(&self) -> &str {
        &self.admin_id
    }

    /// The instant the world was last moved to.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The config in force (counts clamped to supported ranges).
    pub fn config(&self) -> &WorldConfig {
        &self.cfg
    }

    // -- phone numbers -------------------------------------------------------------------------

    fn account_uri(&self) -> String {
        format!("{}/restapi/v1.0/account/{}", self.base_url, self.account_id)
    }

    fn extension_uri(&self, id: &str) -> String {
        format!("{}/extension/{id}", self.account_uri())
    }

    fn number_record(&self, n: &PhoneNumber) -> Value {
        let (usage, payment, extension) = match n.usage {
            NumberUse::Main => (
                "MainCompanyNumber",
                "TollFree",
                Some((
                    self.admin_id.clone(),
                    "101".to_string(),
                    "Front Desk".to_string(),
                )),
            ),
            NumberUse::Direct(a) => {
                let agent = &self.agents[a];
                (
                    "DirectNumber",
                    "Local",
                    Some((
                        agent.id.clone(),
                        agent.extension_number.clone(),
                        agent.name(),
                    )),
                )
            }
            NumberUse::Tracking(Route::Queue(q)) => {
                let queue = &self.queues[q];
                (
                    "CompanyNumber",
                    "Local",
                    Some((
                        queue.id.clone(),
                        queue.extension_number.clone(),
                        queue.name.clone(),
                    )),
                )
            }
            NumberUse::Tracking(Route::Ivr) => (
                "CompanyNumber",
                "Local",
                Some((
                    self.ivr_id.clone(),
                    IVR_EXTENSION_NUMBER.to_string(),
                    IVR_NAME.to_string(),
                )),
            ),
        };
        let mut record = json!({
            "uri": format!("{}/phone-number/{}", self.account_uri(), n.id),
            "id": n.id,
            "phoneNumber": n.number,
            "paymentType": payment,
            "type": "VoiceFax",
            "usageType": usage,
            "status": "Normal",
            "primary": matches!(n.usage, NumberUse::Main),
            "features": ["CallerId", "SmsSender"],
        });
        if let Some((id, number, name)) = extension {
            record["extension"] = json!({
                "id": id.parse::<u64>().unwrap_or_default(),
                "uri": self.extension_uri(&id),
                "extensionNumber": number,
                "name": name,
            });
        }
        if let Some(label) = &n.label {
            record["label"] = json!(label);
        }
        record
    }

    /// v1 `CompanyPhoneNumberInfo` records of every account number.
    pub fn phone_numbers(&self) -> Vec<Value> {
        self.numbers.iter().map(|n| self.number_record(n)).collect()
    }

    pub fn phone_number(&self, id: &str) -> Option<Value> {
        let id: u64 = id.parse().ok()?;
        self.numbers
            .iter()
            .find(|n| n.id == id)
            .map(|n| self.number_record(n))
    }

    /// Sets the label of number `id` (an empty label removes it) and returns the updated record.
    /// Labels are plain text up to [`MAX_LABEL_CHARS`] characters: control and bidi characters
    /// are refused, since a label is shown on phones and in every admin and monitoring tool.
    pub fn relabel(&mut self, id: &str, label: &str) -> Result<Value, RelabelError> {
        let unknown = || RelabelError::UnknownNumber { id: id.to_string() };
        let numeric: u64 = id.parse().map_err(|_| unknown())?;
        let index = self
            .numbers
            .iter()
            .position(|n| n.id == numeric)
            .ok_or_else(unknown)?;
        let chars = label.chars().count();
        if chars > MAX_LABEL_CHARS {
            return Err(RelabelError::TooLong {
                id: id.to_string(),
                chars,
                max: MAX_LABEL_CHARS,
            });
        }
        if let Some(bad) = label.chars().find(|&c| crate::text::is_unsafe_char(c)) {
            return Err(RelabelError::ForbiddenCharacter {
                id: id.to_string(),
                code: u32::from(bad),
            });
        }
        let trimmed = label.trim();
        self.numbers[index].label = (!trimmed.is_empty()).then(|| trimmed.to_string());
        Ok(self.number_record(&self.numbers[index]))
    }

    // -- extensions ----------------------------------------------------------------------------

    fn extension_record(
        &self,
        id: &str,
        number: &str,
        name: &str,
        kind: &str,
        contact: Option<(&str, &str)>,
    ) -> Value {
        let mut record = json!({
            "uri": self.extension_uri(id),
            "id": id.parse::<u64>().unwrap_or_default(),
            "extensionNumber": number,
            "name": name,
            "type": kind,
            "status": "Enabled",
            "account": { "id": self.account_id, "uri": self.account_uri() },
        });
        if let Some((first, last)) = contact {
            record["contact"] = json!({
                "firstName": first,
                "lastName": last,
                "email": format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()),
            });
        }
        record
    }

    /// Every extension: the admin, the agents (User), the queues (Department), the IVR menu.
    pub fn extensions(&self) -> Vec<Value> {
        let mut out = vec![self.extension_record(
            &self.admin_id,
            "101",
            "Front Desk",
            "User",
            Some(("Front", "Desk")),
        )];
        for a in &self.agents {
            out.push(self.extension_record(
                &a.id,
                &a.extension_number,
                &a.name(),
                "User",
                Some((&a.first_name, &a.last_name)),
            ));
        }
        for q in &self.queues {
            out.push(self.extension_record(
                &q.id,
                &q.extension_number,
                &q.name,
                "Department",
                None,
            ));
        }
        out.push(self.extension_record(
            &self.ivr_id,
            IVR_EXTENSION_NUMBER,
            IVR_NAME,
            "IvrMenu",
            None,
        ));
        out
    }

    pub fn extension(&self, id: &str) -> Option<Value> {
        let id = self.resolve_extension_id(id);
        self.extensions()
            .into_iter()
            .find(|e| e["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(id))
    }

    /// `~` means the token owner.
    fn resolve_extension_id<'a>(&'a self, id: &'a str) -> &'a str {
        if id == "~" { &self.admin_id } else { id }
    }

    // -- call queues ---------------------------------------------------------------------------

    fn queue_summary(&self, q: &Queue) -> Value {
        json!({
            "uri": format!("{}/call-queues/{}", self.account_uri(), q.id),
            "id": q.id,
            "extensionNumber": q.extension_number,
            "name": q.name,
            "status": "Enabled",
        })
    }

    pub fn call_queues(&self) -> Vec<Value> {
        self.queues.iter().map(|q| self.queue_summary(q)).collect()
    }

    /// `CallQueueDetails`, with the queue's own `serviceLevelSettings`.
    pub fn call_queue(&self, id: &str) -> Option<Value> {
        let q = self.queues.iter().find(|q| q.id == id)?;
        let mut record = self.queue_summary(q);
        record["serviceLevelSettings"] = json!({
            "slaGoal": q.service_level.goal_pct,
            "slaThresholdSeconds": q.service_level.threshold_s,
            "includeAbandonedCalls": q.service_level.include_abandoned,
            "abandonedThresholdSeconds": q.service_level.abandoned_threshold_s,
        });
        record["editableMemberStatus"] = json!(true);
        record["alertTimer"] = json!(5);
        Some(record)
    }

    /// `CallQueueMemberInfo` records (member id as a JSON number, as the platform sends it).
    pub fn call_queue_members(&self, id: &str) -> Option<Vec<Value>> {
        let q = self.queues.iter().find(|q| q.id == id)?;
        Some(
            q.members
                .iter()
                .map(|&a| {
                    let agent = &self.agents[a];
                    json!({
                        "uri": self.extension_uri(&agent.id),
                        "id": agent.id.parse::<u64>().unwrap_or_default(),
                        "extensionNumber": agent.extension_number,
                    })
                })
                .collect(),
        )
    }

    /// The queue's presence view: whether each member takes queue calls now.
    pub fn call_queue_presence(&self, id: &str) -> Option<Vec<Value>> {
        let q = self.queues.iter().find(|q| q.id == id)?;
        Some(
            q.members
                .iter()
                .map(|&a| {
                    let agent = &self.agents[a];
                    let accepts = agent.availability == Availability::Available;
                    json!({
                        "member": {
                            "id": agent.id,
                            "name": agent.name(),
                            "extensionNumber": agent.extension_number,
                        },
                        "acceptQueueCalls": accepts,
                        "acceptCurrentQueueCalls": accepts,
                    })
                })
                .collect(),
        )
    }

    // -- presence ------------------------------------------------------------------------------

    /// `GET …/extension/{id}/presence[?detailedTelephonyState=true]` for a user extension.
    pub fn presence(&self, extension_id: &str, detailed: bool) -> Option<Value> {
        let id = self.resolve_extension_id(extension_id);
        if id == self.admin_id {
            return Some(self.admin_presence_record(detailed));
        }
        let a = self.agents.iter().position(|a| a.id == id)?;
        Some(self.presence_record(a, detailed))
    }

    /// Presence of every user extension, as `GET …/account/~/presence` lists it.
    pub fn account_presence(&self, detailed: bool) -> Vec<Value> {
        let mut out = vec![self.admin_presence_record(detailed)];
        out.extend((0..self.agents.len()).map(|a| self.presence_record(a, detailed)));
        out
    }

    fn admin_presence_record(&self, detailed: bool) -> Value {
        let mut record = json!({
            "uri": format!("{}/presence", self.extension_uri(&self.admin_id)),
            "extension": {
                "uri": self.extension_uri(&self.admin_id),
                "id": self.admin_id.parse::<u64>().unwrap_or_default(),
                "extensionNumber": "101",
            },
            "presenceStatus": "Available",
            "telephonyStatus": "NoCall",
            "userStatus": "Available",
            "dndStatus": "TakeAllCalls",
            "allowSeeMyPresence": true,
            "ringOnMonitoredCall": false,
            "pickUpCallsOnHold": false,
        });
        if detailed {
            record["activeCalls"] = json!([]);
        }
        record
    }

    fn presence_record(&self, a: usize, detailed: bool) -> Value {
        let agent = &self.agents[a];
        let state = self.agent_presence_state(a);
        let mut record = json!({
            "uri": format!("{}/presence", self.extension_uri(&agent.id)),
            "extension": {
                "uri": self.extension_uri(&agent.id),
                "id": agent.id.parse::<u64>().unwrap_or_default(),
                "extensionNumber": agent.extension_number,
            },
            "presenceStatus": state.presence_status,
            "telephonyStatus": state.telephony_status,
            "userStatus": state.user_status,
            "dndStatus": state.dnd_status,
            "allowSeeMyPresence": true,
            "ringOnMonitoredCall": false,
            "pickUpCallsOnHold": false,
        });
        if detailed {
            record["activeCalls"] = Value::Array(self.active_calls_json(a));
        }
        record
    }

    /// The presence facts of agent `a`, derived from availability and the agent's line.
    pub(crate) fn agent_presence_state(&self, a: usize) -> PresenceState {
        let agent = &self.agents[a];
        let telephony_status = agent
            .line
            .and_then(|line| {
                self.calls
                    .get(&line.call)
                    .map(|c| telephony_status_of(c.parties[line.party].code))
            })
            .unwrap_or("NoCall");
        let (user_status, dnd_status) = match agent.availability {
            Availability::Available => ("Available", "TakeAllCalls"),
            Availability::Away => ("Busy", "DoNotAcceptDepartmentCalls"),
            Availability::Offline => ("Offline", "TakeAllCalls"),
        };
        let presence_status = match agent.availability {
            Availability::Offline => "Offline",
            Availability::Away => "Busy",
            Availability::Available if telephony_status != "NoCall" => "Busy",
            Availability::Available => "Available",
        };
        PresenceState {
            telephony_status,
            presence_status,
            user_status,
            dnd_status,
        }
    }

    /// `activeCalls[]` of agent `a`: the one call the agent is on, if any.
    pub(crate) fn active_calls_json(&self, a: usize) -> Vec<Value> {
        let agent = &self.agents[a];
        let Some(line) = agent.line else {
            return Vec::new();
        };
        let Some(call) = self.calls.get(&line.call) else {
            return Vec::new();
        };
        let party = &call.parties[line.party];
        let mut entry = json!({
            "id": format!("{}-{}", call.hex, line.party + 1),
            "direction": party.direction,
            "queueCall": party.queue_call,
            "from": party.from.phone_number.clone().unwrap_or_default(),
            "to": party.to.phone_number.clone().unwrap_or_default(),
            "telephonyStatus": telephony_status_of(party.code),
            "startTime": wire_time(call.started_at),
            "sessionId": call.session_id,
            "partyId": party.id,
            "telephonySessionId": call.telephony_session_id,
        });
        if let Some(name) = &party.from.name {
            entry["fromName"] = json!(name);
        }
        if let Some(name) = &party.to.name {
            entry["toName"] = json!(name);
        }
        if party.queue_call
            && let Some(info) = self.presence_call_info(call)
        {
            entry["callInfo"] = info;
        }
        vec![entry]
    }

    /// `callInfo` of a queue call in presence: the dialled number's label (or the number itself
    /// when unlabelled) and the queue name.
    fn presence_call_info(&self, call: &Call) -> Option<Value> {
        let CallKind::Inbound { number } = call.kind else {
            return None;
        };
        let n = &self.numbers[number];
        let primary = match &n.label {
            Some(label) => json!({"type": "PhoneNumberLabel", "value": label}),
            None => json!({"type": "PhoneNumber", "value": n.number}),
        };
        let mut info = json!({ "primary": primary });
        if let Some(q) = call.queue {
            info["additional"] = json!({"type": "QueueName", "value": self.queues[q].name});
        }
        Some(info)
    }

    // -- telephony sessions --------------------------------------------------------------------

    /// `GET …/telephony/sessions/{id}` of a live call (every party, current status); None once
    /// the call has ended or for an unknown id.
    pub fn telephony_session(&self, telephony_session_id: &str) -> Option<Value> {
        let call = self
            .calls
            .values()
            .rev()
            .find(|c| c.telephony_session_id == telephony_session_id)?;
        if !call.is_live() {
            return None;
        }
        let parties: Vec<Value> = call
            .parties
            .iter()
            .map(|p| {
                let mut party = json!({
                    "id": p.id,
                    "direction": p.direction,
                    "from": p.from.to_json(),
                    "to": p.to.to_json(),
                    "status": { "code": p.code },
                    "muted": false,
                    "standAlone": false,
                    "missedCall": p.missed,
                });
                if let Some(ext) = self.owner_extension(p.owner) {
                    party["owner"] = json!({ "accountId": self.account_id, "extensionId": ext });
                }
                if let Some(reason) = p.reason {
                    party["status"]["reason"] = json!(reason);
                }
                if p.queue_call {
                    party["queueCall"] = json!(true);
                }
                if let (true, Some(id)) = (p.records, &call.recording) {
                    party["recordings"] = json!([{ "id": id, "active": p.is_active() }]);
                }
                party
            })
            .collect();
        Some(json!({
            "id": call.telephony_session_id,
            "sessionId": call.session_id,
            "serverId": call.server_id,
            "creationTime": call.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "origin": { "type": "Call" },
            "parties": parties,
        }))
    }

    /// Telephony session ids of every live call, oldest first (what `active-calls` would list).
    pub fn live_session_ids(&self) -> Vec<String> {
        self.calls
            .values()
            .filter(|c| c.is_live())
            .map(|c| c.telephony_session_id.clone())
            .collect()
    }

    pub(crate) fn owner_extension(&self, owner: PartyOwner) -> Option<&str> {
        match owner {
            PartyOwner::External => None,
            PartyOwner::Agent(a) => Some(&self.agents[a].id),
            PartyOwner::Queue(q) => Some(&self.queues[q].id),
            PartyOwner::Ivr => Some(&self.ivr_id),
        }
    }

    // -- call log ------------------------------------------------------------------------------

    /// Call-log records matching `query`, newest first. A call appears
    /// `call_log_delay_seconds` after it ends.
    pub fn call_log(&self, query: &CallLogQuery) -> Vec<Value> {
        let date_to = query.date_to.unwrap_or(self.now);
        let date_from = query.date_from.unwrap_or(date_to - Duration::hours(24));
        let delay = Duration::milliseconds((self.cfg.call_log_delay_seconds * 1000.0) as i64);
        let wanted_number = query
            .phone_number
            .as_deref()
            .map(|n| n.trim_start_matches('+'));
        let wanted_extension = query
            .extension_id
            .as_deref()
            .map(|id| self.resolve_extension_id(id));
        let mut matching: Vec<&Call> = self
            .calls
            .values()
            .filter(|c| c.ended_at.is_some_and(|end| end + delay <= self.now))
            .filter(|c| c.started_at >= date_from && c.started_at < date_to)
            .filter(|c| {
                query
                    .telephony_session_id
                    .as_deref()
                    .is_none_or(|id| id == c.telephony_session_id)
            })
            .filter(|c| {
                query
                    .session_id
                    .as_deref()
                    .is_none_or(|id| id == c.session_id)
            })
            .filter(|c| {
                query.directions.is_empty()
                    || query
                        .directions
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(call_direction(c)))
            })
            .filter(|c| {
                wanted_number.is_none_or(|n| {
                    c.parties.iter().any(|p| {
                        [&p.from.phone_number, &p.to.phone_number]
                            .into_iter()
                            .flatten()
                            .any(|pn| pn.trim_start_matches('+') == n)
                    })
                })
            })
            .filter(|c| {
                wanted_extension.is_none_or(|ext| {
                    c.parties
                        .iter()
                        .any(|p| self.owner_extension(p.owner) == Some(ext))
                })
            })
            .collect();
        matching.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.key.cmp(&a.key)));
        matching
            .into_iter()
            .map(|c| self.call_log_record(c, query.view))
            .collect()
    }

    fn call_log_record(&self, call: &Call, view: CallLogView) -> Value {
        let ended = call.ended_at.unwrap_or(self.now);
        let duration_ms = (ended - call.started_at).num_milliseconds().max(0);
        let view_name = match view {
            CallLogView::Simple => "Simple",
            CallLogView::Detailed => "Detailed",
        };
        let (from, to) = self.call_log_ends(call);
        let mut record = json!({
            "uri": format!("{}/call-log/{}?view={view_name}", self.account_uri(), call.call_log_id),
            "id": call.call_log_id,
            "sessionId": call.session_id,
            "telephonySessionId": call.telephony_session_id,
            "startTime": wire_time(call.started_at),
            "duration": (duration_ms + 500) / 1000,
            "durationMs": duration_ms,
            "type": "Voice",
            "direction": call_direction(call),
            "action": match call.kind { CallKind::Inbound { .. } => "Phone Call", _ => "VoIP Call" },
            "result": call_log_result(call),
            "from": from,
            "to": to,
            "transport": match call.kind { CallKind::Internal { .. } => "VoIP", _ => "PSTN" },
            "lastModifiedTime": wire_time(ended + Duration::milliseconds((self.cfg.call_log_delay_seconds * 1000.0) as i64)),
        });
        if let Some(recording) = self.call_log_recording(call) {
            record["recording"] = recording;
        }
        if view == CallLogView::Detailed {
            record["legs"] = Value::Array(self.call_log_legs(call, &from, &to, duration_ms));
        }
        record
    }

    fn call_log_ends(&self, call: &Call) -> (Value, Value) {
        match call.kind {
            CallKind::Inbound { number } => {
                let mut from = json!({ "phoneNumber": call.remote_number });
                if let Some(name) = &call.remote_name {
                    from["name"] = json!(name);
                }
                let mut to = json!({ "phoneNumber": self.numbers[number].number });
                if let Some(q) = call.queue {
                    to["name"] = json!(self.queues[q].name);
                    to["extensionId"] = json!(self.queues[q].id);
                }
                (from, to)
            }
            CallKind::Outbound { agent } => {
                let a = &self.agents[agent];
                (
                    json!({ "phoneNumber": a.direct_number, "extensionNumber": a.extension_number, "extensionId": a.id, "name": a.name() }),
                    json!({ "phoneNumber": call.remote_number }),
                )
            }
            CallKind::Internal { from, to } => {
                let (f, t) = (&self.agents[from], &self.agents[to]);
                (
                    json!({ "extensionNumber": f.extension_number, "extensionId": f.id, "name": f.name() }),
                    json!({ "extensionNumber": t.extension_number, "extensionId": t.id, "name": t.name() }),
                )
            }
        }
    }

    /// The call-log `recording` of a recorded call, once its content is available.
    fn call_log_recording(&self, call: &Call) -> Option<Value> {
        let id = call.recording.as_ref()?;
        let stored = self.recordings.get(id)?;
        if stored.available_at > self.now {
            return None;
        }
        Some(json!({
            "id": id,
            "uri": format!("{}/recording/{id}", self.account_uri()),
            "type": "Automatic",
            "contentUri": format!("{}/recording/{id}/content", self.account_uri()),
        }))
    }

    /// Detailed legs, per the convention at the end of docs/ARCHITECTURE.md.
    fn call_log_legs(&self, call: &Call, from: &Value, to: &Value, duration_ms: i64) -> Vec<Value> {
        let result = call_log_result(call);
        let mut legs = vec![json!({
            "startTime": wire_time(call.started_at),
            "duration": (duration_ms + 500) / 1000,
            "durationMs": duration_ms,
            "type": "Voice",
            "direction": call_direction(call),
            "action": match call.kind { CallKind::Inbound { .. } => "Phone Call", _ => "VoIP Call" },
            "result": result,
            "from": from,
            "to": to,
            "legType": match call.kind { CallKind::Inbound { .. } => "Accept", CallKind::Outbound { .. } => "PstnToSip", CallKind::Internal { .. } => "SipToSip" },
            "transport": match call.kind { CallKind::Internal { .. } => "VoIP", _ => "PSTN" },
            "master": true,
        })];
        let ended = call.ended_at.unwrap_or(self.now);
        if let (Some(q), Some(queued_at)) = (call.queue, call.queued_at) {
            let queue = &self.queues[q];
            let ms = (ended - queued_at).num_milliseconds().max(0);
            legs.push(json!({
                "startTime": wire_time(queued_at),
                "duration": (ms + 500) / 1000,
                "durationMs": ms,
                "type": "Voice",
                "direction": "Inbound",
                "action": "Phone Call",
                "result": result,
                "from": from,
                "to": { "phoneNumber": to["phoneNumber"], "name": queue.name, "extensionId": queue.id },
                "legType": "Accept",
                "transport": "PSTN",
                "extension": { "id": queue.id.parse::<u64>().unwrap_or_default(), "uri": self.extension_uri(&queue.id) },
            }));
        }
        if matches!(call.kind, CallKind::Inbound { .. }) {
            for segment in &call.segments {
                let agent = &self.agents[segment.agent];
                let seconds = segment.talk_s + segment.hold_s;
                legs.push(json!({
                    "startTime": wire_time(segment.answered_at),
                    "duration": seconds.round() as i64,
                    "durationMs": (seconds * 1000.0).round() as i64,
                    "type": "Voice",
                    "direction": "Inbound",
                    "action": "Phone Call",
                    "result": "Accepted",
                    "from": from,
                    "to": { "phoneNumber": agent.direct_number, "name": agent.name(), "extensionId": agent.id, "extensionNumber": agent.extension_number },
                    "legType": "Accept",
                    "transport": "VoIP",
                    "extension": { "id": agent.id.parse::<u64>().unwrap_or_default(), "uri": self.extension_uri(&agent.id) },
                }));
            }
        }
        legs
    }

    // -- recordings ----------------------------------------------------------------------------

    pub fn recording(&self, id: &str) -> Option<RecordingMeta> {
        let stored = self.recordings.get(id)?;
        Some(RecordingMeta {
            id: id.to_string(),
            content_type: audio::CONTENT_TYPE,
            duration_s: stored.duration_s,
            len: stored.len,
            available_at: stored.available_at,
        })
    }

    /// Bytes `range` of recording `id`'s WAV content, or None for an unknown id or a range
    /// outside `0..len`.
    pub fn recording_bytes(&self, id: &str, range: Range<u64>) -> Option<Bytes> {
        let stored = self.recordings.get(id)?;
        audio::wav_bytes(stored.len, stored.phase, range).map(Bytes::from)
    }

    /// A standalone recording of about `len_bytes` (rounded down to whole samples, at least the
    /// 44-byte header), available at once; for tests and benchmarks (e.g. 200 MB).
    pub fn add_recording(&mut self, len_bytes: u64) -> String {
        let len = audio::valid_wav_len(len_bytes).unwrap_or(audio::WAV_HEADER_LEN);
        let id = self.new_recording_id();
        let phase = self.rng.random_range(0..u64::from(audio::SAMPLE_RATE));
        self.recordings.insert(
            id.clone(),
            StoredRecording {
                duration_s: (len - audio::WAV_HEADER_LEN) / audio::BYTES_PER_SECOND,
                len,
                phase,
                available_at: self.now,
            },
        );
        id
    }

    pub(crate) fn new_recording_id(&mut self) -> String {
        self.next_recording_number += self.rng.random_range(1..50) * 1000;
        self.next_recording_number.to_string()
    }

    // -- truth ---------------------------------------------------------------------------------

    /// The world's own board JSON (schema 1, docs/BOARD_JSON.md) at `now`.
    pub fn truth(&self, now: DateTime<Utc>) -> Value {
        super::truth::board_json(self, now)
    }
}

pub(crate) const IVR_NAME: &str = "Main Menu";
pub(crate) const IVR_EXTENSION_NUMBER: &str = "700";

/// Presence facts of one agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PresenceState {
    pub telephony_status: &'static str,
    pub presence_status: &'static str,
    pub user_status: &'static str,
    pub dnd_status: &'static str,
}

/// The presence `telephonyStatus` of a party in status `code`.
pub(crate) fn telephony_status_of(code: &str) -> &'static str {
    match code {
        "Setup" | "Proceeding" => "Ringing",
        "Answered" => "CallConnected",
        "Hold" => "OnHold",
        "Parked" => "ParkedCall",
        _ => "NoCall",
    }
}

fn call_direction(call: &Call) -> &'static str {
    match call.kind {
        CallKind::Inbound { .. } => "Inbound",
        _ => "Outbound",
    }
}

fn call_log_result(call: &Call) -> &'static str {
    match call.outcome {
        Some(Outcome::Answered) => "Accepted",
        Some(Outcome::Abandoned | Outcome::ShortAbandon) => "Hang Up",
        Some(Outcome::Voicemail) => "Voicemail",
        Some(Outcome::Missed) => "Missed",
        Some(Outcome::Outbound | Outcome::Internal) if call.answered_at.is_some() => {
            "Call connected"
        }
        Some(Outcome::Outbound | Outcome::Internal) => "No Answer",
        None => "In Progress",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::truth::parse_label;

    fn t0() -> DateTime<Utc> {
        "2026-11-25T14:00:00Z".parse().unwrap()
    }

    fn world() -> World {
        World::new(&WorldConfig::default(), t0())
    }

    /// Advances in 100 ms steps until `done` holds, for at most `limit`.
    fn advance_until(
        world: &mut World,
        limit: Duration,
        mut done: impl FnMut(&World) -> bool,
    ) -> bool {
        let start = world.now();
        let mut t = start;
        while t < start + limit {
            t += Duration::milliseconds(100);
            world.advance(t);
            if done(world) {
                return true;
            }
        }
        false
    }

    #[test]
    fn the_account_has_users_queues_an_ivr_and_the_admin_owns_the_token() {
        let w = world();
        assert!(w.account_id().chars().all(|c| c.is_ascii_digit()));
        assert_eq!(w.owner_extension_id(), w.account_id());
        let extensions = w.extensions();
        let of_type = |t: &str| extensions.iter().filter(|e| e["type"] == t).count();
        assert_eq!(of_type("User"), 1 + 15);
        assert_eq!(of_type("Department"), 3);
        assert_eq!(of_type("IvrMenu"), 1);
        assert!(extensions.iter().all(|e| e["id"].is_u64()));
        let admin = w.extension("~").unwrap();
        assert_eq!(admin["id"].to_string(), w.account_id());
        assert!(w.extension("1").is_none());
    }

    #[test]
    fn ctn_labels_follow_the_grammar_with_shared_names_missing_dns_and_unlabelled_numbers() {
        let w = world();
        let numbers = w.phone_numbers();
        assert!(numbers.iter().all(|n| n["id"].is_u64()));
        for n in &numbers {
            let e164 = n["phoneNumber"].as_str().unwrap();
            assert!(
                e164.starts_with("+1") && e164[5..].starts_with("55501"),
                "{e164}"
            );
        }
        let ctns: Vec<&Value> = numbers
            .iter()
            .filter(|n| n["usageType"] == "CompanyNumber")
            .collect();
        assert_eq!(ctns.len(), 24);
        let parsed: Vec<(String, Option<String>)> = ctns
            .iter()
            .filter_map(|n| n["label"].as_str())
            .map(parse_label)
            .collect();
        assert!(parsed.len() < ctns.len(), "some CTNs are unlabelled");
        assert!(
            parsed.iter().any(|(_, dn)| dn.is_none()),
            "some labels have no DN"
        );
        let google: std::collections::BTreeSet<_> = parsed
            .iter()
            .filter(|(c, _)| c == "Google Ads Brand")
            .map(|(_, dn)| dn.clone())
            .collect();
        assert_eq!(google.len(), 2, "one campaign name, two DNs");
        let zillow = parsed.iter().filter(|(c, _)| c == "Zillow Spring").count();
        assert!(zillow >= 2, "several CTNs per campaign");
        // Every CTN routes to a queue or the IVR.
        let routed: std::collections::BTreeSet<&str> = ctns
            .iter()
            .map(|n| n["extension"]["name"].as_str().unwrap())
            .collect();
        assert!(routed.contains(IVR_NAME));
        assert!(
            ["Sales", "Support", "Billing"]
                .iter()
                .all(|q| routed.contains(q)),
            "{routed:?}"
        );
        let main = numbers
            .iter()
            .find(|n| n["usageType"] == "MainCompanyNumber")
            .unwrap();
        assert_eq!(w.phone_number(&main["id"].to_string()).unwrap(), *main);
    }

    #[test]
    fn queues_have_members_presence_and_their_own_service_levels() {
        let w = world();
        let queues = w.call_queues();
        assert_eq!(queues.len(), 3);
        let mut settings = Vec::new();
        for q in &queues {
            let id = q["id"].as_str().unwrap();
            let detail = w.call_queue(id).unwrap();
            settings.push(detail["serviceLevelSettings"].clone());
            let members = w.call_queue_members(id).unwrap();
            assert!(members.len() >= 5);
            assert!(members.iter().all(|m| m["id"].is_u64()));
            let presence = w.call_queue_presence(id).unwrap();
            assert_eq!(presence.len(), members.len());
            assert!(
                presence
                    .iter()
                    .all(|p| p["member"]["id"].is_string() && p["acceptQueueCalls"].is_boolean())
            );
        }
        assert!(
            settings.windows(2).all(|s| s[0] != s[1]),
            "settings vary per queue"
        );
        assert!(w.call_queue("nope").is_none());
    }

    #[test]
    fn relabel_validates_and_later_reads_and_events_see_the_new_label() {
        let mut w = World::new(&WorldConfig::short_calls(4), t0());
        let ctn = w
            .phone_numbers()
            .into_iter()
            .find(|n| n["usageType"] == "CompanyNumber")
            .unwrap();
        let id = ctn["id"].to_string();
        assert!(matches!(
            w.relabel("999", "x"),
            Err(RelabelError::UnknownNumber { .. })
        ));
        assert!(matches!(
            w.relabel(&id, &"x".repeat(65)),
            Err(RelabelError::TooLong { chars: 65, .. })
        ));
        assert!(matches!(
            w.relabel(&id, "a\u{1b}[2J"),
            Err(RelabelError::ForbiddenCharacter { code: 0x1b, .. })
        ));
        assert!(matches!(
            w.relabel(&id, "a\u{202E}b"),
            Err(RelabelError::ForbiddenCharacter { .. })
        ));
        let label = "Élan Fall Mailer +14155550177";
        let updated = w.relabel(&id, &format!("  {label} ")).unwrap();
        assert_eq!(updated["label"], label);
        assert_eq!(w.phone_number(&id).unwrap()["label"], label);
        // Events for calls to that number carry the new label from now on.
        for n in w.numbers.iter_mut() {
            if n.id.to_string() != id && matches!(n.usage, NumberUse::Tracking(_)) {
                n.usage = NumberUse::Main;
            }
        }
        let mut seen = false;
        let mut t = t0();
        while !seen && t < t0() + Duration::minutes(5) {
            t += Duration::milliseconds(100);
            for event in w.advance(t) {
                if let WorldEvent::Telephony { body, .. } = &event
                    && body["parties"][0]["uiCallInfo"]["additional"]["value"] == label
                {
                    seen = true;
                }
            }
        }
        assert!(seen, "uiCallInfo carries the new label");
        let cleared = w.relabel(&id, "").unwrap();
        assert!(cleared.get("label").is_none());
    }

    #[test]
    fn history_is_in_the_call_log_from_the_start() {
        let w = world();
        let log = w.call_log(&CallLogQuery::default());
        assert!(log.len() > 100, "two hours of history: {}", log.len());
        let starts: Vec<&str> = log
            .iter()
            .map(|r| r["startTime"].as_str().unwrap())
            .collect();
        assert!(starts.windows(2).all(|p| p[0] >= p[1]), "newest first");
        assert!(
            starts
                .iter()
                .all(|s| *s >= "2026-11-25T12:00:00.000Z" && *s < "2026-11-25T14:00:00.000Z")
        );
        let results: std::collections::BTreeSet<&str> =
            log.iter().map(|r| r["result"].as_str().unwrap()).collect();
        for result in ["Accepted", "Hang Up", "Missed"] {
            assert!(results.contains(result), "{results:?}");
        }
        let recorded = log
            .iter()
            .filter(|r| r["recording"]["contentUri"].is_string())
            .count();
        assert!(recorded > 10);
    }

    #[test]
    fn history_stops_at_local_midnight() {
        let early: DateTime<Utc> = "2026-11-25T00:30:00Z".parse().unwrap();
        let w = World::new(&WorldConfig::default(), early);
        let log = w.call_log(&CallLogQuery::default());
        assert!(!log.is_empty());
        assert!(
            log.iter()
                .all(|r| r["startTime"].as_str().unwrap() >= "2026-11-25T00:00:00.000Z")
        );
    }

    #[test]
    fn a_call_reaches_the_call_log_only_after_the_delay_and_filters_apply() {
        let mut w = World::new(&WorldConfig::short_calls(8), t0());
        assert!(advance_until(&mut w, Duration::minutes(5), |w| w
            .calls
            .values()
            .any(
                |c| c.outcome == Some(Outcome::Answered) && c.recording.is_some()
            )));
        let call = w
            .calls
            .values()
            .find(|c| c.outcome == Some(Outcome::Answered) && c.recording.is_some())
            .unwrap();
        let (session, ended) = (call.telephony_session_id.clone(), call.ended_at.unwrap());
        let by_session = CallLogQuery {
            telephony_session_id: Some(session.clone()),
            ..CallLogQuery::default()
        };
        assert!(w.call_log(&by_session).is_empty(), "not before the delay");
        assert!(
            w.telephony_session(&session).is_none(),
            "ended sessions are gone"
        );
        w.advance(ended + Duration::milliseconds(990));
        assert!(
            w.call_log(&by_session).is_empty(),
            "still inside the 1 s delay"
        );
        w.advance(ended + Duration::milliseconds(1000));
        let records = w.call_log(&CallLogQuery {
            view: CallLogView::Detailed,
            ..by_session.clone()
        });
        assert_eq!(records.len(), 1);
        let record = &records[0];
        assert_eq!(record["result"], "Accepted");
        assert_eq!(record["direction"], "Inbound");
        let recording_id = record["recording"]["id"].as_str().unwrap();
        assert_eq!(record["recording"]["type"], "Automatic");
        assert!(
            record["recording"]["contentUri"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/recording/{recording_id}/content"))
        );
        let legs = record["legs"].as_array().unwrap();
        assert_eq!(legs[0]["master"], true);
        assert!(legs[1]["to"]["extensionId"].is_string());
        assert!(
            legs[2..]
                .iter()
                .all(|l| l["result"] == "Accepted" && l["extension"]["id"].is_u64())
        );

        let session_id = record["sessionId"].as_str().unwrap().to_string();
        let by_legacy_id = CallLogQuery {
            session_id: Some(session_id),
            ..CallLogQuery::default()
        };
        assert_eq!(w.call_log(&by_legacy_id).len(), 1);
        let caller = record["from"]["phoneNumber"]
            .as_str()
            .unwrap()
            .trim_start_matches('+')
            .to_string();
        let by_number = w.call_log(&CallLogQuery {
            phone_number: Some(caller.clone()),
            ..CallLogQuery::default()
        });
        assert!(by_number.iter().all(|r| {
            r["from"]["phoneNumber"]
                .as_str()
                .unwrap()
                .ends_with(&caller)
        }));
        let outbound = w.call_log(&CallLogQuery {
            directions: vec!["Outbound".into()],
            ..CallLogQuery::default()
        });
        assert!(outbound.iter().all(|r| r["direction"] == "Outbound"));
        let nothing_later = CallLogQuery {
            date_from: Some(w.now() + Duration::hours(1)),
            ..CallLogQuery::default()
        };
        assert!(w.call_log(&nothing_later).is_empty());
    }

    #[test]
    fn live_sessions_read_back_in_the_rest_shape() {
        let mut w = World::new(&WorldConfig::short_calls(2), t0());
        assert!(advance_until(&mut w, Duration::minutes(2), |w| w
            .calls
            .values()
            .any(
                |c| c.phase == Phase::Talking && matches!(c.kind, CallKind::Inbound { .. })
            )));
        let call = w
            .calls
            .values()
            .find(|c| c.phase == Phase::Talking && matches!(c.kind, CallKind::Inbound { .. }))
            .unwrap();
        let session = w.telephony_session(&call.telephony_session_id).unwrap();
        assert_eq!(session["id"], call.telephony_session_id.as_str());
        let parties = session["parties"].as_array().unwrap();
        assert!(
            parties[0].get("owner").is_none(),
            "the caller's PSTN leg has no owner extension"
        );
        assert_eq!(parties[0]["direction"], "Outbound");
        assert!(parties.iter().any(|p| p["status"]["code"] == "Answered" && p["owner"]["extensionId"].is_string()));
        assert!(w.live_session_ids().contains(&call.telephony_session_id));
    }

    #[test]
    fn presence_reads_match_each_agents_line() {
        let mut w = World::new(
            &WorldConfig {
                calls_per_minute: 12.0,
                ..WorldConfig::default()
            },
            t0(),
        );
        w.advance(t0() + Duration::minutes(20));
        let records = w.account_presence(true);
        assert_eq!(records.len(), 1 + w.agents.len());
        for (a, agent) in w.agents.iter().enumerate() {
            let p = w.presence(&agent.id, true).unwrap();
            assert_eq!(p, records[a + 1]);
            let connected = agent
                .line
                .is_some_and(|l| w.calls[&l.call].parties[l.party].code == "Answered");
            assert_eq!(p["telephonyStatus"] == "CallConnected", connected, "{p}");
            assert_eq!(
                p["activeCalls"].as_array().unwrap().len(),
                usize::from(agent.line.is_some())
            );
            if let Some(active) = p["activeCalls"].as_array().unwrap().first()
                && active["queueCall"] == true
            {
                assert!(active["callInfo"]["primary"]["type"].is_string());
            }
        }
        assert!(w.presence("~", false).unwrap().get("activeCalls").is_none());
    }

    #[test]
    fn recordings_are_wav_files_sized_by_talk_time_readable_in_any_range() {
        let mut w = World::new(&WorldConfig::short_calls(5), t0());
        assert!(advance_until(&mut w, Duration::minutes(5), |w| !w
            .recordings
            .is_empty()));
        let (id, stored) = w
            .recordings
            .iter()
            .next()
            .map(|(id, s)| (id.clone(), s.clone()))
            .unwrap();
        let meta = w.recording(&id).unwrap();
        assert_eq!(meta.content_type, "audio/wav");
        assert_eq!(meta.len, audio::wav_len_for_seconds(meta.duration_s));
        assert_eq!(meta.available_at, stored.available_at);
        let whole = w.recording_bytes(&id, 0..meta.len).unwrap();
        assert_eq!(whole.len() as u64, meta.len);
        assert_eq!(&whole[0..4], b"RIFF");
        assert_eq!(&whole[8..12], b"WAVE");
        let part = w.recording_bytes(&id, 40..1000).unwrap();
        assert_eq!(part, whole.slice(40..1000));
        assert!(w.recording_bytes(&id, 0..meta.len + 1).is_none());
        assert!(w.recording("0").is_none());
    }

    #[test]
    fn a_huge_standalone_recording_costs_no_memory_until_read() {
        let mut w = world();
        let id = w.add_recording(200_000_000);
        let meta = w.recording(&id).unwrap();
        assert_eq!(meta.len, 200_000_000);
        assert!(meta.available_at <= w.now());
        let tail = w.recording_bytes(&id, meta.len - 10..meta.len).unwrap();
        assert_eq!(tail.len(), 10);
        let header = w.recording_bytes(&id, 0..44).unwrap();
        assert_eq!(
            u32::from_le_bytes(header[40..44].try_into().unwrap()),
            200_000_000 - 44
        );
    }

    #[test]
    fn uris_use_the_base_url_once_set() {
        let mut w = world();
        assert!(
            w.call_queues()[0]["uri"]
                .as_str()
                .unwrap()
                .starts_with("/restapi/v1.0/account/")
        );
        w.set_base_url("http://127.0.0.1:4321/");
        let uri = w.call_queues()[0]["uri"].as_str().unwrap().to_string();
        assert!(uri.starts_with(&format!(
            "http://127.0.0.1:4321/restapi/v1.0/account/{}/call-queues/",
            w.account_id()
        )));
    }
}
