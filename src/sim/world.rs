//! The simulated RingCentral account: extensions, call queues, phone numbers, calls, recordings.
//!
//! `World` is pure data. It never does IO and never reads the clock: time comes in as
//! `DateTime<Utc>` and all randomness comes from one `ChaCha8Rng` seeded by
//! [`WorldConfig::seed`], so the same seed and the same sequence of [`World::advance`] times give
//! identical events. The protocol layer (`sim::http`, `sim::ws`) holds it behind a mutex, calls
//! `advance` from a ticker and reads the REST models; see "The simulator's seam" in
//! docs/ARCHITECTURE.md.
//!
//! This file holds the config, the account model and the world's control surface. Traffic
//! (arrivals and call scripts) lives in [`super::traffic`], the REST read models and recordings
//! in [`super::records`], the board JSON of the world's own records in [`super::truth`],
//! recording audio in [`super::audio`].
//!
//! `uri` fields are built from [`World::set_base_url`] (empty by default, giving `/restapi/…`
//! paths); the protocol layer sets it to `http://HOST:PORT` once it has bound its socket.

use std::collections::{BTreeMap, BinaryHeap};

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::bodies::NotificationBody;
use super::names;
use super::traffic::Timer;

/// How the simulated account looks and how busy it is. `Default` is a lively demo;
/// [`WorldConfig::short_calls`] is the preset for tests that need calls to finish in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldConfig {
    /// Seed of the world's only random number generator.
    pub seed: u64,
    /// Number of call queues (1–8, one per name in `names::QUEUE_NAMES`).
    pub queues: usize,
    /// Agents dedicated to each queue (1–[`MAX_AGENTS_PER_QUEUE`]). The first agent of each
    /// queue also serves the next.
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

    /// The same config brought into the ranges the world supports: counts and history within limits,
    /// rates at most [`MAX_CALLS_PER_MINUTE`], probabilities within 0–1, and durations finite and
    /// not negative (a NaN or negative one counts as 0), so no config can stall or panic it.
    pub(crate) fn clamped(&self) -> Self {
        let mut cfg = self.clone();
        cfg.queues = cfg.queues.clamp(1, names::QUEUE_NAMES.len());
        cfg.agents_per_queue = cfg.agents_per_queue.clamp(1, MAX_AGENTS_PER_QUEUE);
        cfg.ctn_numbers = cfg.ctn_numbers.clamp(1, MAX_CTNS);
        // History never reaches past local midnight, so a day is the most it can mean.
        cfg.history_minutes = cfg.history_minutes.min(24 * 60);
        let non_negative = |x: f64| {
            if x.is_finite() {
                x.max(0.0)
            } else if x > 0.0 {
                f64::MAX
            } else {
                0.0
            }
        };
        for rate in [
            &mut cfg.calls_per_minute,
            &mut cfg.outbound_calls_per_minute,
            &mut cfg.internal_calls_per_minute,
        ] {
            *rate = non_negative(*rate).min(MAX_CALLS_PER_MINUTE);
        }
        for probability in [
            &mut cfg.hold_probability,
            &mut cfg.transfer_probability,
            &mut cfg.park_probability,
            &mut cfg.no_answer_probability,
            &mut cfg.recording_probability,
            &mut cfg.repeat_caller_probability,
            &mut cfg.reorder_probability,
        ] {
            *probability = non_negative(*probability).min(1.0);
        }
        for seconds in [
            &mut cfg.mean_talk_seconds,
            &mut cfg.min_talk_seconds,
            &mut cfg.mean_hold_seconds,
            &mut cfg.mean_patience_seconds,
            &mut cfg.max_wait_seconds,
            &mut cfg.mean_ring_seconds,
            &mut cfg.ring_timeout_seconds,
            &mut cfg.mean_ivr_seconds,
            &mut cfg.greeting_seconds,
            &mut cfg.mean_voicemail_seconds,
            &mut cfg.mean_park_seconds,
            &mut cfg.call_log_delay_seconds,
            &mut cfg.recording_delay_seconds,
        ] {
            *seconds = non_negative(*seconds).min(MAX_DURATION_SECONDS);
        }
        // Agents flip between available and away; 0 turns that off, anything else is at
        // least a few seconds so the flipping cannot swamp the timer queue.
        for minutes in [&mut cfg.mean_available_minutes, &mut cfg.mean_away_minutes] {
            let m = non_negative(*minutes).min(MAX_DURATION_SECONDS / 60.0);
            *minutes = if m > 0.0 {
                m.max(MIN_AGENT_TOGGLE_MINUTES)
            } else {
                0.0
            };
        }
        cfg
    }
}

/// Most agents a queue has: 8 queues of 300 agents (a fifth of them away at any time) hold
/// the 2 000 live calls of the terminal budgets (docs/PERFORMANCE.md), each agent with a
/// direct line of their own.
pub const MAX_AGENTS_PER_QUEUE: usize = 300;

/// Busiest traffic the world generates: ten calls a second of each kind.
pub const MAX_CALLS_PER_MINUTE: f64 = 600.0;
/// Longest mean or fixed duration the world accepts: a day.
const MAX_DURATION_SECONDS: f64 = 86_400.0;
/// Shortest mean time between an agent's availability changes.
const MIN_AGENT_TOGGLE_MINUTES: f64 = 0.05;

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
        body: NotificationBody,
    },
    /// One detailed presence body for an extension (`sequence` per extension).
    Presence {
        extension_id: String,
        body: NotificationBody,
    },
}

impl WorldEvent {
    /// The notification body, serialised.
    pub fn body(&self) -> &NotificationBody {
        match self {
            WorldEvent::Telephony { body, .. } | WorldEvent::Presence { body, .. } => body,
        }
    }
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
    /// Blind transfer: the first agent left, the next one rings; still a connected call.
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

    /// Talk and hold seconds up to `now`, counting the interval in progress. Talk is time an
    /// agent's party is `Answered`, hold time it is on `Hold`; time parked or between a blind
    /// transfer's agents is neither, as the events show no agent connected or holding then.
    pub fn talk_and_hold(&self, now: DateTime<Utc>) -> (f64, f64) {
        let mut talk: f64 = self.segments.iter().map(|s| s.talk_s).sum();
        let mut hold: f64 = self.segments.iter().map(|s| s.hold_s).sum();
        let running = seconds_between(self.interval_start, now).max(0.0);
        match self.phase {
            Phase::Talking if !self.segments.is_empty() => talk += running,
            Phase::Hold => hold += running,
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
    /// `eventTime` of the events emitted at `now`, formatted once for all of them.
    pub(crate) event_time: (DateTime<Utc>, String),
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

        let mut queues = build_queues(&cfg, &ext_id);
        let agents = build_agents(&cfg, &mut rng, &ext_id, &mut queues, history_from);
        let numbers = build_numbers(&cfg, &mut rng, &agents);

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
            event_time: (history_from, wire_time(history_from)),
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

    /// The token owner's extension: the supervisor who signed in. They are also the first agent,
    /// taking queue calls like the others, so a client that subscribes to its own extension
    /// (`…/extension/~/presence`, `…/extension/~/telephony/sessions`, as SDK quick starts do)
    /// sees real traffic. An account without agents falls back to the main (admin) extension.
    pub fn owner_extension_id(&self) -> &str {
        self.agents
            .first()
            .map_or(&self.admin_id, |agent| &agent.id)
    }

    /// The instant the world was last moved to.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The config in force (counts clamped to supported ranges).
    pub fn config(&self) -> &WorldConfig {
        &self.cfg
    }

    // -- truth ---------------------------------------------------------------------------------

    /// The world's own board JSON (schema 1, docs/BOARD_JSON.md) at `now`.
    pub fn truth(&self, now: DateTime<Utc>) -> Value {
        super::truth::board_json(self, now)
    }
}

/// The call queues, each with its own service-level settings.
fn build_queues(cfg: &WorldConfig, ext_id: &dyn Fn(u64) -> String) -> Vec<Queue> {
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
    queues
}

/// The agents, each a member of one queue; the first agent of each queue also serves the next.
fn build_agents(
    cfg: &WorldConfig,
    rng: &mut ChaCha8Rng,
    ext_id: &dyn Fn(u64) -> String,
    queues: &mut [Queue],
    history_from: DateTime<Utc>,
) -> Vec<Agent> {
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
            direct_number: names::direct_line(a),
            availability,
            line: None,
            idle_since: history_from,
            presence_sequence: rng.random_range(1_000..3_000),
            presence_dirty: false,
        });
    }
    agents
}

/// The main number, the agents' direct numbers and the CTN pool.
fn build_numbers(cfg: &WorldConfig, rng: &mut ChaCha8Rng, agents: &[Agent]) -> Vec<PhoneNumber> {
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
    numbers
}

/// The IVR menu every IVR-routed tracking number answers with.
pub(crate) const IVR_NAME: &str = "Main Menu";
pub(crate) const IVR_EXTENSION_NUMBER: &str = "700";
