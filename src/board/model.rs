//! The board's state: calls, parties, queues, agents, the number book and the running tallies,
//! plus the read API the TUI and `board::json` use. Mutations live in `apply.rs`.
//!
//! Cost model: an event touches one call (a handful of parties) and O(log n) indexes, so its
//! cost does not grow with the calls held. Counts for "today" and the rolling window live in
//! per-day and per-minute [`Tally`] buckets beside the calls, so a finished call can leave memory
//! (after the configured horizon) without changing any figure.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// The board's hash maps are looked up several times per event, with short string keys:
/// foldhash (randomly seeded, already in the tree through ratatui's hashbrown) hashes them at
/// a fraction of SipHash's cost.
pub(crate) type FastHash = foldhash::fast::RandomState;
pub(crate) type FastMap<K, V> = HashMap<K, V, FastHash>;
pub(crate) type FastSet<T> = HashSet<T, FastHash>;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use compact_str::CompactString;

use crate::board::label::{LabelGrammar, ParsedLabel};
use crate::board::metrics::{SlaSettings, Tally, Window};
use crate::board::order::RankedSet;
use crate::rc::events::{Direction, PartyStatus};

/// Campaign name of account numbers that carry no label.
pub const UNLABELLED: &str = "(unlabelled)";
/// Campaign name of dialled numbers that are not in the account's number list.
pub const UNKNOWN: &str = "(unknown)";

/// How the board is set up. `Default` is UTC, a 30-minute window, a 2-hour memory horizon and
/// compaction of finished calls after 5 minutes.
#[derive(Debug, Clone)]
pub struct BoardConfig {
    /// "Today" starts at local midnight of this zone.
    pub time_zone: Tz,
    /// The rolling window of [`Window::Rolling`], in minutes.
    pub rolling_window_minutes: u32,
    /// Length of the per-minute arrival histories (sparklines), in minutes.
    pub history_minutes: u32,
    /// How long a finished call stays in memory after it ended. Its counts stay in the
    /// figures after that; the call itself is gone from the board (the event journal in the
    /// store keeps its frames, for `callboard replay`).
    pub finished_call_horizon: Duration,
    /// How long a finished call keeps every party's wire detail before it is compacted to what
    /// the Calls view and the Call detail show. A compacted call's figures are fixed: later
    /// events for it are stale, as they are for a call read from the call log.
    pub compact_finished_after: Duration,
    /// How labels name campaigns and DNs.
    pub label_grammar: LabelGrammar,
}

impl Default for BoardConfig {
    fn default() -> Self {
        BoardConfig {
            time_zone: Tz::UTC,
            rolling_window_minutes: 30,
            history_minutes: 30,
            finished_call_horizon: Duration::hours(2),
            compact_finished_after: Duration::minutes(5),
            label_grammar: LabelGrammar::default(),
        }
    }
}

/// Where a call is now (board JSON `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    /// Not yet in a queue and not answered: greeting, IVR, ringing an extension directly.
    Setup,
    /// In a queue, not yet answered.
    Waiting,
    Talking,
    Hold,
    Parked,
    Voicemail,
    Ended,
}

impl CallState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Setup => "setup",
            CallState::Waiting => "waiting",
            CallState::Talking => "talking",
            CallState::Hold => "hold",
            CallState::Parked => "parked",
            CallState::Voicemail => "voicemail",
            CallState::Ended => "ended",
        }
    }
}

/// How a call turned out (board JSON `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Live,
    Answered,
    Abandoned,
    ShortAbandon,
    Voicemail,
    Missed,
    Outbound,
    Internal,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Live => "live",
            Outcome::Answered => "answered",
            Outcome::Abandoned => "abandoned",
            Outcome::ShortAbandon => "short_abandon",
            Outcome::Voicemail => "voicemail",
            Outcome::Missed => "missed",
            Outcome::Outbound => "outbound",
            Outcome::Internal => "internal",
        }
    }
}

/// Which way a call goes, seen from the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallDirection {
    /// An outside caller into the account.
    Inbound,
    /// An extension calling an outside number.
    Outbound,
    /// Extension to extension.
    Internal,
    /// Not enough seen yet to tell.
    Unknown,
}

/// A call recording the board knows of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRef {
    pub id: String,
    /// Still being recorded.
    pub active: bool,
}

/// One end of a party (`from` / `to`), sanitised. The texts are shared with the board's other
/// copies of the same value (see [`Interner`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    pub phone_number: Option<Arc<str>>,
    pub name: Option<Arc<str>>,
    pub extension_id: Option<Arc<str>>,
}

/// One leg of a call as the board tracks it.
#[derive(Debug, Clone)]
pub struct PartyState {
    pub id: Box<str>,
    /// Highest sequence applied to this party (0 for REST snapshots, which carry none).
    pub sequence: u64,
    pub extension_id: Option<Arc<str>>,
    pub direction: Option<Direction>,
    pub status: PartyStatus,
    /// When the party entered `status`.
    pub status_since: DateTime<Utc>,
    pub reason: Option<Box<str>>,
    pub from: Endpoint,
    pub to: Endpoint,
    pub queue_call: bool,
    pub missed_call: bool,
    /// Time of the first event seen for this party.
    pub first_seen: DateTime<Utc>,
    pub first_answered_at: Option<DateTime<Utc>>,
    pub voicemail_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Closed talk segments, milliseconds.
    pub(crate) talk_ms: i64,
    /// Closed hold segments, milliseconds.
    pub(crate) hold_ms: i64,
    /// Set by derivation: this party is an agent (or the extension placing an outbound call)
    /// whose connected time counts as talk.
    pub(crate) is_agent: bool,
    /// The last recording this party reported: (id, when).
    pub(crate) recording_hint: Option<(Box<str>, DateTime<Utc>)>,
    /// `status` was learned from a REST read (start-up, resync), not an event: `status_since`
    /// is when callboard read it, so the time in that status is only a lower bound.
    pub(crate) status_from_read: bool,
}

impl PartyState {
    /// What the Call detail's timeline shows of this party.
    pub fn summary(&self) -> PartySummary {
        PartySummary {
            extension_id: self.extension_id.clone(),
            status: self.status.clone(),
            status_since: self.status_since,
            first_seen: self.first_seen,
            first_answered_at: self.first_answered_at,
            voicemail_at: self.voicemail_at,
            ended_at: self.ended_at,
        }
    }
}

/// What the Call detail's timeline shows of one party; all a compacted call keeps of it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartySummary {
    /// `None` for a party outside the account (the caller's leg).
    pub extension_id: Option<Arc<str>>,
    pub status: PartyStatus,
    pub status_since: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
    pub first_answered_at: Option<DateTime<Utc>>,
    pub voicemail_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// A [`PartySummary`] as a compacted call holds it: its times as millisecond offsets from the
/// party's first event, which makes it 64 bytes instead of 104 (one is held per party of every
/// finished call). The platform's times carry milliseconds, so nothing shown changes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PackedSummary {
    extension_id: Option<Arc<str>>,
    status: PartyStatus,
    /// `first_seen` as Unix milliseconds.
    first_seen: i64,
    /// `status_since`, `first_answered_at`, `voicemail_at`, `ended_at` as milliseconds after
    /// `first_seen` ([`PackedSummary::ABSENT`] for a time not set).
    offsets: [i32; 4],
}

impl PackedSummary {
    const ABSENT: i32 = i32::MIN;

    /// The packed form; `None` when a time lies more than 24 days from the party's first event
    /// (only broken or hostile data does), so the caller keeps the full form instead.
    pub fn pack(summary: &PartySummary) -> Option<PackedSummary> {
        let first_seen = index_time(summary.first_seen);
        let offset = |at: Option<DateTime<Utc>>| match at {
            None => Some(Self::ABSENT),
            Some(at) => i32::try_from(index_time(at) - first_seen)
                .ok()
                .filter(|offset| *offset != Self::ABSENT),
        };
        Some(PackedSummary {
            extension_id: summary.extension_id.clone(),
            status: summary.status.clone(),
            first_seen,
            offsets: [
                offset(Some(summary.status_since))?,
                offset(summary.first_answered_at)?,
                offset(summary.voicemail_at)?,
                offset(summary.ended_at)?,
            ],
        })
    }

    pub fn unpack(&self) -> PartySummary {
        let at = |offset: i32| {
            (offset != Self::ABSENT).then(|| from_index_time(self.first_seen + i64::from(offset)))
        };
        let [status_since, first_answered_at, voicemail_at, ended_at] = self.offsets.map(at);
        let first_seen = from_index_time(self.first_seen);
        PartySummary {
            extension_id: self.extension_id.clone(),
            status: self.status.clone(),
            status_since: status_since.unwrap_or(first_seen),
            first_seen,
            first_answered_at,
            voicemail_at,
            ended_at,
        }
    }
}

/// A call's parties: with their wire detail while the call can still change, packed to what
/// the Call detail shows once it is compacted. One field for both keeps `Call` in a smaller
/// allocation. Reads as a slice of full parties, empty once packed.
#[derive(Debug, Clone)]
pub(crate) enum PartyList {
    Full(Vec<PartyState>),
    Packed(Box<[PackedSummary]>),
}

impl Default for PartyList {
    fn default() -> Self {
        PartyList::Full(Vec::new())
    }
}

impl PartyList {
    /// Adds a party, growing by one (calls have a handful). A compacted call takes no party
    /// updates (they are stale, see `Board::apply_party_updates`); were one added, the wire
    /// detail would replace the packed summaries.
    pub fn push(&mut self, party: PartyState) {
        match self {
            PartyList::Full(parties) => {
                parties.reserve_exact(1);
                parties.push(party);
            }
            PartyList::Packed(_) => *self = PartyList::Full(vec![party]),
        }
    }
}

impl std::ops::Deref for PartyList {
    type Target = [PartyState];

    fn deref(&self) -> &[PartyState] {
        match self {
            PartyList::Full(parties) => parties,
            PartyList::Packed(_) => &[],
        }
    }
}

impl std::ops::DerefMut for PartyList {
    fn deref_mut(&mut self) -> &mut [PartyState] {
        match self {
            PartyList::Full(parties) => parties,
            PartyList::Packed(_) => &mut [],
        }
    }
}

/// Where a call's figures come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum CallSource {
    /// Telephony events and REST session reads; figures derive from the parties.
    Live,
    /// A finished call read from the call log at start: figures are fixed. The log gives talk
    /// plus hold as one number, so hold is unknown (`None`).
    CallLog { talk_ms: FixedMs },
    /// A finished live call, compacted: its parties are reduced to [`PartySummary`]s and its
    /// talk and hold are fixed at what they were when it ended.
    Compacted { talk_ms: FixedMs, hold_ms: FixedMs },
}

/// A finished call's fixed talk or hold time in milliseconds. 32 bits hold 49 days, far beyond
/// any call, at half the bytes of an `i64` in every call held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FixedMs(u32);

impl FixedMs {
    /// `millis` clamped to what a call can last (negative spans count as none).
    pub fn new(millis: i64) -> FixedMs {
        FixedMs(u32::try_from(millis.max(0)).unwrap_or(u32::MAX))
    }

    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
}

/// The counters a call adds to the tallies, computed before and after each change so the
/// difference can be applied exactly. The keys are the call's own shared texts, and the
/// counts (0 or 1 per call) are flags in [`CallCounts`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Contribution {
    /// The queue the call is counted in, and when it entered it.
    pub queue: Option<(Arc<str>, Bucket)>,
    /// The dialled number the call is counted for, and when the call started.
    pub number: Option<(Arc<str>, Bucket)>,
    pub counts: CallCounts,
    /// Waiting in `queue` since this time.
    pub waiting_since: Option<DateTime<Utc>>,
    /// A live inbound call to `number`.
    pub live_at_number: bool,
}

/// Compared on every call update (before against after): the queue and number are nearly always
/// the same `Arc` on both sides, so pointers are compared before the texts.
impl PartialEq for Contribution {
    fn eq(&self, other: &Self) -> bool {
        fn same(a: &Option<(Arc<str>, Bucket)>, b: &Option<(Arc<str>, Bucket)>) -> bool {
            match (a, b) {
                (Some((a, at)), Some((b, bt))) => at == bt && (Arc::ptr_eq(a, b) || a == b),
                (None, None) => true,
                _ => false,
            }
        }
        same(&self.queue, &other.queue)
            && same(&self.number, &other.number)
            && self.counts == other.counts
            && self.waiting_since == other.waiting_since
            && self.live_at_number == other.live_at_number
    }
}

/// One call's share of a [`Tally`]: each count is 0 or 1, so they are bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CallCounts {
    flags: u16,
    pub answered_wait_ms: i64,
    pub handled_talk_ms: i64,
    pub handled_hold_ms: i64,
}

impl CallCounts {
    pub const ANSWERED: u16 = 1;
    pub const ABANDONED: u16 = 1 << 1;
    pub const SHORT_ABANDONED: u16 = 1 << 2;
    pub const VOICEMAIL: u16 = 1 << 3;
    pub const MISSED: u16 = 1 << 4;
    pub const ANSWERED_IN_SLA: u16 = 1 << 5;
    pub const FIRST_TIME_CALLER: u16 = 1 << 6;
    pub const HANDLED: u16 = 1 << 7;

    pub fn set(&mut self, flag: u16, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }

    fn count(&self, flag: u16) -> i64 {
        i64::from(self.flags & flag != 0)
    }

    fn outcome_tally(&self) -> Tally {
        let handled = self.count(Self::HANDLED);
        Tally {
            offered: 1,
            answered: self.count(Self::ANSWERED),
            abandoned: self.count(Self::ABANDONED),
            short_abandoned: self.count(Self::SHORT_ABANDONED),
            voicemail: self.count(Self::VOICEMAIL),
            missed: self.count(Self::MISSED),
            handled,
            handled_talk_ms: if handled == 1 {
                self.handled_talk_ms
            } else {
                0
            },
            handled_hold_ms: if handled == 1 {
                self.handled_hold_ms
            } else {
                0
            },
            ..Tally::default()
        }
    }

    /// What the call adds to its queue's tally.
    pub fn queue_tally(&self) -> Tally {
        Tally {
            answered_in_sla: self.count(Self::ANSWERED_IN_SLA),
            answered_wait_ms: self.answered_wait_ms,
            ..self.outcome_tally()
        }
    }

    /// What the call adds to its dialled number's tally.
    pub fn number_tally(&self) -> Tally {
        Tally {
            first_time_callers: self.count(Self::FIRST_TIME_CALLER),
            ..self.outcome_tally()
        }
    }
}

/// One allocation per distinct text the board holds in many places (queue and agent ids and
/// names, dialled and caller numbers): calls, parties and the caller set keep clones of the
/// `Arc`. Texts nothing else holds any more are dropped by [`Interner::sweep_if_grown`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Interner {
    texts: FastSet<Arc<str>>,
    /// Size after the last sweep; the next one runs when the set has doubled since.
    swept_len: usize,
}

impl Interner {
    /// The shared copy of `text`, made on first sight.
    pub fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.texts.get(text) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(text);
        self.texts.insert(Arc::clone(&shared));
        shared
    }

    /// Drops texts only the interner still holds, once the set has doubled since the last
    /// sweep (so the cost is constant per text interned).
    pub fn sweep_if_grown(&mut self) {
        const MIN_SWEEP_LEN: usize = 4_096;
        if self.texts.len() < MIN_SWEEP_LEN.max(self.swept_len * 2) {
            return;
        }
        self.texts.retain(|text| Arc::strong_count(text) > 1);
        self.swept_len = self.texts.len();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.texts.len()
    }
}

/// Caller numbers seen before, for the first-time-caller count. An E.164 number (`+` and 1–15
/// digits, the first not zero: every caller number the platform sends) is held as the integer
/// its digits spell, 8 bytes and exact, since no two such texts spell the same integer;
/// anything else (extension numbers, `anonymous`) as text.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallerSet {
    numbers: FastSet<u64>,
    others: FastSet<CompactString>,
}

impl CallerSet {
    /// Adds `caller`; false if it was already there.
    pub fn insert(&mut self, caller: &str) -> bool {
        match e164_digits(caller) {
            Some(number) => self.numbers.insert(number),
            None if self.others.contains(caller) => false,
            None => self.others.insert(CompactString::from(caller)),
        }
    }

    #[cfg(test)]
    pub fn contains(&self, caller: &str) -> bool {
        match e164_digits(caller) {
            Some(number) => self.numbers.contains(&number),
            None => self.others.contains(caller),
        }
    }
}

impl<S: AsRef<str>> FromIterator<S> for CallerSet {
    fn from_iter<I: IntoIterator<Item = S>>(callers: I) -> CallerSet {
        let mut set = CallerSet::default();
        for caller in callers {
            set.insert(caller.as_ref());
        }
        set
    }
}

/// The integer an E.164 number's digits spell: `+`, then 1–15 digits, the first not zero.
fn e164_digits(text: &str) -> Option<u64> {
    let digits = text.strip_prefix('+')?;
    let well_formed = (1..=15).contains(&digits.len())
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit());
    well_formed.then(|| digits.parse().ok()).flatten()
}

/// The day and minute a contribution is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bucket {
    pub day: NaiveDate,
    pub minute: i64,
}

/// One call (one telephony session). Texts that many calls repeat (queue, agent, dialled
/// number) are shared (`Arc<str>`) with the board's other copies of the same value; the texts
/// of the call's own (session id, caller number and name) are held inline up to 24 bytes
/// ([`CompactString`]), so a finished call keeps no allocation for them. `as_deref()` reads
/// either as `&str`.
#[derive(Debug, Clone)]
pub struct Call {
    /// The platform's `telephonySessionId`.
    pub id: Arc<str>,
    pub session_id: Option<CompactString>,
    pub direction: CallDirection,
    /// The caller's number for inbound; the dialled party for outbound.
    pub caller: Option<CompactString>,
    pub caller_name: Option<CompactString>,
    /// The account number an inbound caller dialled (the CTN).
    pub dialed: Option<Arc<str>>,
    /// The first queue the call entered.
    pub queue_id: Option<Arc<str>>,
    pub queue_name: Option<Arc<str>>,
    /// The agent who answered last (after transfers).
    pub agent_id: Option<Arc<str>>,
    pub agent_name: Option<Arc<str>>,
    pub state: CallState,
    pub outcome: Outcome,
    pub started_at: DateTime<Utc>,
    pub queued_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    /// When the call went to voicemail (this ends a queue wait).
    pub voicemail_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// False for a call a resync closed because the platform no longer had it: its end was not
    /// seen, so `ended_at` is when callboard noticed and the outcome is a guess until the call
    /// log says how it really ended (`Board::correct_from_call_log`).
    pub end_seen: bool,
    /// Boxed: most calls have none, and `None` then costs 8 bytes, not 32.
    pub recording: Option<Box<RecordingRef>>,
    /// The caller's number had never been seen before this call.
    pub first_time_caller: bool,
    /// `now` of the last change to this call, for marking changed rows.
    pub changed_at: DateTime<Utc>,
    /// The parties with their wire detail, or what a compacted call keeps of them.
    pub(crate) parties: PartyList,
    /// The first-time-caller check ran (it runs once, when the caller number is first known).
    pub(crate) caller_checked: bool,
    pub(crate) source: CallSource,
    /// Unique per call held; orders waiting calls with equal queue times. 32 bits are four
    /// billion calls in one process, and keep `Call` within its byte budget.
    pub(crate) serial: u32,
}

impl Call {
    /// Still in progress.
    pub fn is_live(&self) -> bool {
        self.ended_at.is_none()
    }

    /// The parties with their wire detail. Empty for a compacted finished call and for one
    /// read from the call log: [`Call::party_summaries`] serves both.
    pub fn parties(&self) -> &[PartyState] {
        &self.parties
    }

    /// What the Call detail's timeline shows of each party, for live and finished calls alike.
    pub fn party_summaries(&self) -> Vec<PartySummary> {
        match &self.parties {
            PartyList::Full(parties) => parties.iter().map(PartyState::summary).collect(),
            PartyList::Packed(summaries) => summaries.iter().map(PackedSummary::unpack).collect(),
        }
    }

    /// Whether the call was compacted (finished long enough ago that only what the views show
    /// is kept).
    pub fn is_compacted(&self) -> bool {
        matches!(self.source, CallSource::Compacted { .. })
    }

    /// Time in the queue: until answered or the end, else until `now`. `None` if the call never
    /// entered a queue.
    pub fn wait_ms(&self, now: DateTime<Utc>) -> Option<i64> {
        let queued = self.queued_at?;
        let until = self.answered_at.or(self.ended_at).unwrap_or(now);
        Some((until - queued).num_milliseconds().max(0))
    }

    /// Talk time (connected to agents, hold excluded) up to `now` for a live call. `None` until
    /// an agent answered.
    pub fn talk_ms(&self, now: DateTime<Utc>) -> Option<i64> {
        self.answered_at?;
        match self.source {
            CallSource::CallLog { talk_ms } | CallSource::Compacted { talk_ms, .. } => {
                Some(talk_ms.get())
            }
            CallSource::Live => Some(self.segment_sum(now, PartyStatus::Answered)),
        }
    }

    /// Hold time up to `now` for a live call. `None` until an agent answered, and for calls
    /// read from the call log (which does not say).
    pub fn hold_ms(&self, now: DateTime<Utc>) -> Option<i64> {
        self.answered_at?;
        match self.source {
            CallSource::CallLog { .. } => None,
            CallSource::Compacted { hold_ms, .. } => Some(hold_ms.get()),
            CallSource::Live => Some(self.segment_sum(now, PartyStatus::Hold)),
        }
    }

    fn segment_sum(&self, now: DateTime<Utc>, open_status: PartyStatus) -> i64 {
        let cap = self.ended_at.unwrap_or(now);
        self.parties
            .iter()
            .filter(|p| p.is_agent)
            .map(|p| {
                let closed = if open_status == PartyStatus::Answered {
                    p.talk_ms
                } else {
                    p.hold_ms
                };
                let open = if p.status == open_status && cap > p.status_since {
                    (cap - p.status_since).num_milliseconds()
                } else {
                    0
                };
                closed + open
            })
            .sum()
    }
}

/// A call queue and its running figures.
#[derive(Debug, Clone)]
pub struct Queue {
    pub id: String,
    pub name: String,
    pub extension_number: Option<String>,
    pub sla: SlaSettings,
    /// Member extension id → whether the member takes this queue's calls now (`None`: unknown).
    pub members: BTreeMap<String, Option<bool>>,
    /// Learned from events only (not in the REST queue list).
    pub discovered: bool,
    pub changed_at: DateTime<Utc>,
    pub(crate) series: Series,
    /// Waiting calls: (queued at, call serial).
    pub(crate) waiting: BTreeSet<(DateTime<Utc>, u32)>,
}

/// An agent's state for the queue figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentState {
    /// No call, presence Available, taking queue calls.
    Available,
    /// Ringing, connected, on hold or parked.
    OnCall,
    /// Everything else (busy, offline, do-not-disturb, not taking queue calls, unknown).
    Away,
}

impl AgentState {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Available => "available",
            AgentState::OnCall => "on_call",
            AgentState::Away => "away",
        }
    }
}

/// An extension as the board knows it from presence and the directory.
#[derive(Debug, Clone)]
pub struct Agent {
    pub id: String,
    pub name: Option<String>,
    pub extension_number: Option<String>,
    /// `Available`, `Busy`, `Offline`. The statuses are a handful of words shared with the
    /// board's other texts ([`Interner`]), so a presence event allocates none.
    pub presence_status: Option<Arc<str>>,
    pub user_status: Option<Arc<str>>,
    pub dnd_status: Option<Arc<str>>,
    /// `NoCall`, `Ringing`, `CallConnected`, `OnHold`, `ParkedCall`.
    pub telephony_status: Option<Arc<str>>,
    pub accept_queue_calls: Option<bool>,
    pub state: AgentState,
    /// When `state` last changed: the agent's time in state is `now − state_since`.
    pub state_since: DateTime<Utc>,
    /// The telephony session of the agent's current call.
    pub current_call: Option<String>,
    pub changed_at: DateTime<Utc>,
    pub(crate) presence_sequence: Option<u64>,
    pub(crate) has_presence: bool,
}

/// One account phone number.
#[derive(Debug, Clone)]
pub struct NumberEntry {
    /// The platform's phone-number id (the relabel target).
    pub id: String,
    /// E.164.
    pub number: String,
    pub label: Option<String>,
    /// The label read by the grammar; `None` when unlabelled.
    pub parsed: Option<ParsedLabel>,
    pub usage_type: Option<String>,
    /// Name of the extension or queue the number rings, when the platform says.
    pub extension_name: Option<String>,
    pub changed_at: DateTime<Utc>,
}

/// Running figures per dialled number.
#[derive(Debug, Clone, Default)]
pub(crate) struct NumberStats {
    pub series: Series,
    pub live: i64,
    pub changed_at: Option<DateTime<Utc>>,
}

/// Per-day and per-minute tallies.
#[derive(Debug, Clone, Default)]
pub(crate) struct Series {
    pub days: BTreeMap<NaiveDate, Tally>,
    pub minutes: BTreeMap<i64, Tally>,
}

impl Series {
    pub fn add(&mut self, bucket: Bucket, tally: &Tally, sign: i64) {
        if sign > 0 {
            self.days.entry(bucket.day).or_default().add(tally, sign);
            self.minutes
                .entry(bucket.minute)
                .or_default()
                .add(tally, sign);
        } else {
            // A bucket already pruned (an old day, an old minute) has nothing to take back.
            if let Some(t) = self.days.get_mut(&bucket.day) {
                t.add(tally, sign);
            }
            if let Some(t) = self.minutes.get_mut(&bucket.minute) {
                t.add(tally, sign);
            }
        }
    }

    pub fn total(&self, window: Window, today: NaiveDate, first_minute: i64) -> Tally {
        match window {
            Window::Today => self.days.get(&today).copied().unwrap_or_default(),
            Window::Rolling => {
                let mut sum = Tally::default();
                for t in self.minutes.range(first_minute..).map(|(_, t)| t) {
                    sum.add(t, 1);
                }
                sum
            }
        }
    }

    pub fn prune(&mut self, today: NaiveDate, first_minute: i64) {
        self.days.retain(|day, _| *day >= today);
        self.minutes.retain(|minute, _| *minute >= first_minute);
    }
}

/// What applying an input did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Something visible changed; `revision()` moved.
    Changed,
    /// Already applied, or older than what the board holds (stale / duplicate sequence).
    Stale,
    /// Not something the board tracks (no session id, no party, unknown notification).
    Ignored,
}

/// One queue row (board JSON `queues[]`, or a rolling-window view of it).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub id: String,
    pub name: String,
    pub waiting: usize,
    pub longest_wait_seconds: Option<f64>,
    pub offered: i64,
    pub answered: i64,
    pub abandoned: i64,
    pub short_abandoned: i64,
    pub voicemail: i64,
    pub service_level_pct: Option<f64>,
    pub sla: SlaSettings,
    pub asa_seconds: Option<f64>,
    pub aht_seconds: Option<f64>,
    pub agents_available: usize,
    pub agents_on_call: usize,
    pub agents_away: usize,
    pub changed_at: DateTime<Utc>,
    /// The counters behind the figures, so several rows can be combined exactly.
    pub tally: Tally,
}

/// Several queues taken together (the Queues view's roll-up row): counters summed, means
/// recomputed from the summed counters, agents counted once however many of the queues they
/// belong to.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRollup {
    pub queues: usize,
    pub waiting: usize,
    pub longest_wait_seconds: Option<f64>,
    pub offered: i64,
    pub answered: i64,
    pub abandoned: i64,
    /// Each queue's calls judged by that queue's own threshold and abandon rule.
    pub service_level_pct: Option<f64>,
    pub asa_seconds: Option<f64>,
    pub aht_seconds: Option<f64>,
    pub agents_available: usize,
    pub agents_on_call: usize,
    pub agents_away: usize,
}

/// Which state wins when one agent is counted for several queues: on a call, then available.
fn rollup_rank(state: AgentState) -> u8 {
    match state {
        AgentState::OnCall => 0,
        AgentState::Available => 1,
        _ => 2,
    }
}

/// One campaign row: a (campaign, DN) pair of the label grammar.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRow {
    pub campaign: String,
    pub dn: Option<String>,
    /// Sorted E.164 numbers whose label gives this pair.
    pub numbers: Vec<String>,
    pub live: i64,
    pub offered: i64,
    pub answered: i64,
    pub missed: i64,
    pub first_time_callers: i64,
    pub avg_talk_seconds: Option<f64>,
    pub changed_at: Option<DateTime<Utc>>,
}

/// Figures for one number (CTN).
#[derive(Debug, Clone, PartialEq)]
pub struct NumberRow {
    pub number: String,
    pub id: Option<String>,
    pub label: Option<String>,
    pub campaign: String,
    pub dn: Option<String>,
    pub live: i64,
    pub offered: i64,
    pub answered: i64,
    pub missed: i64,
    pub first_time_callers: i64,
    pub avg_talk_seconds: Option<f64>,
}

/// Calls ordered by a time, then id: (time as [`index_time`], id). The time is kept as Unix
/// milliseconds because an `i64` beside the id makes an entry 24 bytes where a `DateTime`
/// (12 bytes, padded) makes it 32, and every call held has one or two entries.
///
/// Held in sorted blocks ([`RankedSet`]) rather than a `BTreeSet`: calls start and end in time
/// order, so entries are appended, which leaves a B-tree's leaves a little over half full (about
/// 47 bytes an entry) and these blocks full (24 bytes an entry).
#[derive(Debug, Clone, Default)]
pub(crate) struct TimeIndex {
    entries: RankedSet<(i64, Arc<str>)>,
}

impl TimeIndex {
    pub fn new() -> TimeIndex {
        TimeIndex::default()
    }

    /// Adds the entry; false if it was already there.
    pub fn insert(&mut self, entry: (i64, Arc<str>)) -> bool {
        self.entries.insert_unique(entry)
    }

    /// Removes the entry; false if it was not there.
    pub fn remove(&mut self, entry: &(i64, Arc<str>)) -> bool {
        self.entries.remove_by(|held| held.cmp(entry)).is_some()
    }

    pub fn first(&self) -> Option<&(i64, Arc<str>)> {
        self.entries.first()
    }

    /// Removes the earliest entry if its time is before `limit` (index milliseconds) and
    /// returns its id: the step of every "drop what is older than" sweep.
    pub fn pop_before(&mut self, limit: i64) -> Option<Arc<str>> {
        if self.entries.first()?.0 >= limit {
            return None;
        }
        self.entries.pop_first().map(|(_, id)| id)
    }

    /// The entries, earliest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &(i64, Arc<str>)> + '_ {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

/// A time as a [`TimeIndex`] key: Unix milliseconds (the platform's times have no finer part).
pub(crate) fn index_time(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// The time an [`index_time`] key stands for.
pub(crate) fn from_index_time(millis: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(millis).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The call board. No IO and no clock: every time comes in as a parameter.
#[derive(Debug, Clone)]
pub struct Board {
    pub(crate) config: BoardConfig,
    /// Calls by telephony session id. Boxed, so the table stays small (and cheap to grow)
    /// however large a call is; the key is the call's own `id`, shared.
    pub(crate) calls: FastMap<Arc<str>, Box<Call>>,
    /// (started at, id) of every call held, for sorted iteration.
    pub(crate) by_start: TimeIndex,
    /// (ended at, id) of finished calls held, oldest first, for ageing out.
    pub(crate) by_end: TimeIndex,
    /// (ended at, id) of finished calls not yet compacted, oldest first.
    pub(crate) to_compact: TimeIndex,
    /// Calls aged out of memory, so a late or replayed event cannot count them twice.
    pub(crate) forgotten: FastSet<Arc<str>>,
    pub(crate) forgotten_order: VecDeque<(DateTime<Utc>, Arc<str>)>,
    pub(crate) queues: FastMap<String, Queue>,
    pub(crate) agents: FastMap<String, Agent>,
    /// Extension id → type (`User`, `IvrMenu`, …), from the directory.
    pub(crate) extension_types: FastMap<String, String>,
    pub(crate) book: HashMap<String, NumberEntry>,
    /// Phone-number id → E.164 number.
    pub(crate) book_ids: HashMap<String, String>,
    pub(crate) number_stats: FastMap<String, NumberStats>,
    pub(crate) known_callers: CallerSet,
    pub(crate) new_callers: Vec<CompactString>,
    /// The shared copies of texts held in many places.
    pub(crate) texts: Interner,
    pub(crate) today: Option<NaiveDate>,
    /// [local midnight, next local midnight) of `today`, in UTC: most times fall in it, and
    /// testing that is far cheaper than a time-zone conversion.
    pub(crate) today_span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The minute of the last pruning of per-minute buckets.
    pub(crate) pruned_minute: i64,
    /// Nothing is due to be compacted, aged out or forgotten before this (see `age_out`).
    pub(crate) next_housekeeping: DateTime<Utc>,
    pub(crate) revision: u64,
    pub(crate) next_serial: u32,
    pub(crate) stale_events: u64,
    /// Live calls in the Calls view's order, kept by `finish_call_update` (`board::order`).
    pub(crate) live_order: crate::board::order::LiveOrder,
}

impl Board {
    /// An empty board. `known_callers` are caller numbers seen before (from the store), so
    /// first-time callers are told apart from the first call on.
    pub fn new(config: BoardConfig, known_callers: impl IntoIterator<Item = String>) -> Board {
        Board {
            config,
            calls: Default::default(),
            by_start: TimeIndex::new(),
            by_end: TimeIndex::new(),
            to_compact: TimeIndex::new(),
            forgotten: Default::default(),
            forgotten_order: VecDeque::new(),
            queues: Default::default(),
            agents: Default::default(),
            extension_types: Default::default(),
            book: HashMap::new(),
            book_ids: HashMap::new(),
            number_stats: Default::default(),
            known_callers: known_callers.into_iter().collect(),
            new_callers: Vec::new(),
            texts: Interner::default(),
            today: None,
            today_span: None,
            pruned_minute: i64::MIN,
            next_housekeeping: DateTime::<Utc>::MIN_UTC,
            revision: 0,
            next_serial: 0,
            stale_events: 0,
            live_order: Default::default(),
        }
    }

    /// The configuration the board was built with.
    pub fn config(&self) -> &BoardConfig {
        &self.config
    }

    /// Increases whenever anything visible changes; equal revisions mean an identical board
    /// (apart from timers that run with `now`).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Events dropped as stale or duplicate since the board was built.
    pub fn stale_events(&self) -> u64 {
        self.stale_events
    }

    /// The call with this telephony session id.
    pub fn call(&self, telephony_session_id: &str) -> Option<&Call> {
        self.calls.get(telephony_session_id).map(|call| &**call)
    }

    /// Number of calls held (live and finished within the horizon).
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Every call held, sorted by start time, then id.
    pub fn calls(&self) -> impl DoubleEndedIterator<Item = &Call> + '_ {
        self.by_start
            .iter()
            .filter_map(|(_, id)| self.calls.get(id).map(|call| &**call))
    }

    /// Live calls, sorted by start time, then id.
    pub fn live_calls(&self) -> impl DoubleEndedIterator<Item = &Call> + '_ {
        self.calls().filter(|c| c.is_live())
    }

    /// The queue with this extension id.
    pub fn queue(&self, id: &str) -> Option<&Queue> {
        self.queues.get(id)
    }

    /// Queues sorted by name, then id.
    pub fn queues(&self) -> Vec<&Queue> {
        let mut queues: Vec<&Queue> = self.queues.values().collect();
        queues.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        queues
    }

    /// The agent (extension) with this id.
    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.agents.get(id)
    }

    /// Members of a queue that the board knows, sorted by name then id.
    pub fn queue_agents(&self, queue_id: &str) -> Vec<&Agent> {
        let Some(queue) = self.queues.get(queue_id) else {
            return Vec::new();
        };
        let mut agents: Vec<&Agent> = queue
            .members
            .keys()
            .filter_map(|id| self.agents.get(id))
            .collect();
        agents.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        agents
    }

    /// Account numbers sorted by number.
    pub fn numbers(&self) -> Vec<&NumberEntry> {
        let mut numbers: Vec<&NumberEntry> = self.book.values().collect();
        numbers.sort_by(|a, b| a.number.cmp(&b.number));
        numbers
    }

    /// The account number with this E.164 number or phone-number id.
    pub fn number(&self, number_or_id: &str) -> Option<&NumberEntry> {
        self.book.get(number_or_id).or_else(|| {
            self.book_ids
                .get(number_or_id)
                .and_then(|n| self.book.get(n))
        })
    }

    /// Caller numbers first seen since the last call of this method (to persist in the store).
    pub fn take_new_callers(&mut self) -> Vec<String> {
        std::mem::take(&mut self.new_callers)
            .iter()
            .map(|caller| caller.to_string())
            .collect()
    }

    /// The (campaign, DN) a dialled number is attributed to now, by its current label.
    pub fn campaign_of_number(&self, number: &str) -> (String, Option<String>) {
        match self.book.get(number) {
            None => (UNKNOWN.to_owned(), None),
            Some(NumberEntry { parsed: None, .. }) => (UNLABELLED.to_owned(), None),
            Some(NumberEntry {
                parsed: Some(p), ..
            }) => (p.campaign.clone(), p.dn.clone()),
        }
    }

    /// The (campaign, DN) of a call: of its dialled number for inbound calls; `None` for
    /// outbound and internal calls, or while the dialled number is not known.
    pub fn campaign_of_call(&self, call: &Call) -> Option<(String, Option<String>)> {
        if matches!(
            call.direction,
            CallDirection::Outbound | CallDirection::Internal
        ) {
            return None;
        }
        call.dialed.as_deref().map(|n| self.campaign_of_number(n))
    }

    /// [`Board::campaign_of_call`] borrowed from the number book, for per-call work on every
    /// call (filtering) that must not allocate.
    pub fn campaign_ref_of_call(&self, call: &Call) -> Option<(&str, Option<&str>)> {
        if matches!(
            call.direction,
            CallDirection::Outbound | CallDirection::Internal
        ) {
            return None;
        }
        let number = call.dialed.as_deref()?;
        Some(match self.book.get(number) {
            None => (UNKNOWN, None),
            Some(NumberEntry { parsed: None, .. }) => (UNLABELLED, None),
            Some(NumberEntry {
                parsed: Some(p), ..
            }) => (p.campaign.as_str(), p.dn.as_deref()),
        })
    }

    /// Local midnight (of the board's zone) of the day `now` falls in, as UTC.
    pub fn today_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        local_midnight(self.config.time_zone, self.local_day(now))
    }

    pub(crate) fn local_day(&self, t: DateTime<Utc>) -> NaiveDate {
        match (self.today, self.today_span) {
            (Some(today), Some((start, end))) if t >= start && t < end => today,
            _ => t.with_timezone(&self.config.time_zone).date_naive(),
        }
    }

    pub(crate) fn bucket(&self, t: DateTime<Utc>) -> Bucket {
        Bucket {
            day: self.local_day(t),
            minute: minute_index(t),
        }
    }

    fn first_minute(&self, window_minutes: u32, now: DateTime<Utc>) -> i64 {
        minute_index(now) - i64::from(window_minutes.max(1)) + 1
    }

    fn window_total(&self, series: &Series, window: Window, now: DateTime<Utc>) -> Tally {
        series.total(
            window,
            self.local_day(now),
            self.first_minute(self.config.rolling_window_minutes, now),
        )
    }

    /// Queue rows sorted by name then id, for `window`.
    pub fn queue_rows(&self, window: Window, now: DateTime<Utc>) -> Vec<QueueRow> {
        self.queues()
            .into_iter()
            .map(|q| self.queue_row(q, window, now))
            .collect()
    }

    fn queue_row(&self, queue: &Queue, window: Window, now: DateTime<Utc>) -> QueueRow {
        let tally = self.window_total(&queue.series, window, now);
        let (mut available, mut on_call, mut away) = (0, 0, 0);
        for (member, accepts_this_queue) in &queue.members {
            let state = self.agents.get(member).map(|a| a.state);
            match state {
                Some(AgentState::OnCall) => on_call += 1,
                Some(AgentState::Available) if *accepts_this_queue != Some(false) => available += 1,
                _ => away += 1,
            }
        }
        QueueRow {
            id: queue.id.clone(),
            name: queue.name.clone(),
            waiting: queue.waiting.len(),
            longest_wait_seconds: queue
                .waiting
                .first()
                .map(|(since, _)| ((now - *since).num_milliseconds().max(0)) as f64 / 1000.0)
                .map(crate::board::metrics::round1),
            offered: tally.offered,
            answered: tally.answered,
            abandoned: tally.abandoned,
            short_abandoned: tally.short_abandoned,
            voicemail: tally.voicemail,
            service_level_pct: tally.service_level_pct(&queue.sla),
            sla: queue.sla,
            asa_seconds: tally.asa_seconds(),
            aht_seconds: tally.aht_seconds(),
            agents_available: available,
            agents_on_call: on_call,
            agents_away: away,
            changed_at: queue.changed_at,
            tally,
        }
    }

    /// The roll-up of `rows` (queue rows of one window, e.g. the ones a filter left).
    pub fn queue_rollup(&self, rows: &[QueueRow]) -> QueueRollup {
        let mut total = Tally::default();
        let (mut in_sla, mut sla_divisor) = (0i64, 0i64);
        for row in rows {
            total.add(&row.tally, 1);
            in_sla += row.tally.answered_in_sla;
            sla_divisor += row.tally.answered
                + if row.sla.include_abandoned {
                    row.tally.abandoned
                } else {
                    0
                };
        }
        // An agent is available to the group if available for any of its queues, on a call
        // if on a call at all; everyone else listed is away.
        let mut agents: HashMap<&str, AgentState> = HashMap::new();
        for row in rows {
            let Some(queue) = self.queues.get(&row.id) else {
                continue;
            };
            for (member, accepts_this_queue) in &queue.members {
                let state = match self.agents.get(member).map(|a| a.state) {
                    Some(AgentState::OnCall) => AgentState::OnCall,
                    Some(AgentState::Available) if *accepts_this_queue != Some(false) => {
                        AgentState::Available
                    }
                    _ => AgentState::Away,
                };
                let held = agents.entry(member.as_str()).or_insert(state);
                if rollup_rank(state) < rollup_rank(*held) {
                    *held = state;
                }
            }
        }
        let count = |wanted: AgentState| agents.values().filter(|s| **s == wanted).count();
        QueueRollup {
            queues: rows.len(),
            waiting: rows.iter().map(|r| r.waiting).sum(),
            longest_wait_seconds: rows
                .iter()
                .filter_map(|r| r.longest_wait_seconds)
                .reduce(f64::max),
            offered: total.offered,
            answered: total.answered,
            abandoned: total.abandoned,
            service_level_pct: (sla_divisor > 0)
                .then(|| crate::board::metrics::round1(100.0 * in_sla as f64 / sla_divisor as f64)),
            asa_seconds: total.asa_seconds(),
            aht_seconds: total.aht_seconds(),
            agents_available: count(AgentState::Available),
            agents_on_call: count(AgentState::OnCall),
            agents_away: count(AgentState::Away),
        }
    }

    /// Campaign rows sorted by campaign then DN, for `window`: one per (campaign, DN) pair in
    /// the number book, plus `(unknown)` when calls dialled numbers outside it.
    pub fn campaign_rows(&self, window: Window, now: DateTime<Utc>) -> Vec<CampaignRow> {
        let mut rows: BTreeMap<(String, Option<String>), CampaignRow> = BTreeMap::new();
        let new_row = |campaign: &str, dn: &Option<String>| CampaignRow {
            campaign: campaign.to_owned(),
            dn: dn.clone(),
            numbers: Vec::new(),
            live: 0,
            offered: 0,
            answered: 0,
            missed: 0,
            first_time_callers: 0,
            avg_talk_seconds: None,
            changed_at: None,
        };
        for entry in self.book.values() {
            let (campaign, dn) = self.campaign_of_number(&entry.number);
            rows.entry((campaign.clone(), dn.clone()))
                .or_insert_with(|| new_row(&campaign, &dn))
                .numbers
                .push(entry.number.clone());
        }
        let mut talk: HashMap<(String, Option<String>), Tally> = HashMap::new();
        for (number, stats) in &self.number_stats {
            let tally = self.window_total(&stats.series, window, now);
            if tally.is_zero() && stats.live == 0 {
                continue;
            }
            let key = self.campaign_of_number(number);
            let row = rows
                .entry(key.clone())
                .or_insert_with(|| new_row(&key.0, &key.1));
            if !self.book.contains_key(number) && !row.numbers.contains(number) {
                row.numbers.push(number.clone());
            }
            row.live += stats.live;
            row.offered += tally.offered;
            row.answered += tally.answered;
            row.missed += tally.missed;
            row.first_time_callers += tally.first_time_callers;
            row.changed_at = row.changed_at.max(stats.changed_at);
            talk.entry(key).or_default().add(&tally, 1);
        }
        rows.into_iter()
            .map(|(key, mut row)| {
                row.numbers.sort();
                row.avg_talk_seconds = talk.get(&key).and_then(Tally::avg_talk_seconds);
                row
            })
            .collect()
    }

    /// Figures per account number (and per dialled number outside the account), sorted by
    /// number.
    pub fn number_rows(&self, window: Window, now: DateTime<Utc>) -> Vec<NumberRow> {
        let mut numbers: BTreeSet<&String> = self.book.keys().collect();
        numbers.extend(self.number_stats.keys());
        numbers
            .into_iter()
            .map(|number| {
                let entry = self.book.get(number);
                let stats = self.number_stats.get(number);
                let tally = stats
                    .map(|s| self.window_total(&s.series, window, now))
                    .unwrap_or_default();
                let (campaign, dn) = self.campaign_of_number(number);
                NumberRow {
                    number: number.clone(),
                    id: entry.map(|e| e.id.clone()),
                    label: entry.and_then(|e| e.label.clone()),
                    campaign,
                    dn,
                    live: stats.map_or(0, |s| s.live),
                    offered: tally.offered,
                    answered: tally.answered,
                    missed: tally.missed,
                    first_time_callers: tally.first_time_callers,
                    avg_talk_seconds: tally.avg_talk_seconds(),
                }
            })
            .collect()
    }

    /// Calls that entered the queue in each of the last `history_minutes` minutes, oldest
    /// first, the current minute last (a sparkline).
    pub fn queue_arrivals_per_minute(&self, queue_id: &str, now: DateTime<Utc>) -> Vec<u32> {
        let minutes = self.config.history_minutes.max(1);
        let first = self.first_minute(minutes, now);
        let mut out = vec![0u32; minutes as usize];
        if let Some(queue) = self.queues.get(queue_id) {
            for (minute, tally) in queue.series.minutes.range(first..) {
                if let Some(slot) = out.get_mut((minute - first) as usize) {
                    *slot = u32::try_from(tally.offered.max(0)).unwrap_or(u32::MAX);
                }
            }
        }
        out
    }

    /// Inbound calls per minute to the numbers of one (campaign, DN) pair over the last
    /// `history_minutes` minutes, oldest first.
    pub fn campaign_trend(&self, campaign: &str, dn: Option<&str>, now: DateTime<Utc>) -> Vec<u32> {
        let minutes = self.config.history_minutes.max(1);
        let first = self.first_minute(minutes, now);
        let mut out = vec![0u32; minutes as usize];
        for (number, stats) in &self.number_stats {
            let (c, d) = self.campaign_of_number(number);
            if c != campaign || d.as_deref() != dn {
                continue;
            }
            for (minute, tally) in stats.series.minutes.range(first..) {
                if let Some(slot) = out.get_mut((minute - first) as usize) {
                    *slot = slot.saturating_add(u32::try_from(tally.offered.max(0)).unwrap_or(0));
                }
            }
        }
        out
    }
}

/// Minutes since the Unix epoch.
pub(crate) fn minute_index(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

/// Local midnight of `day` in `tz`, as UTC. Where midnight does not exist (a DST gap at
/// midnight) the day starts at the first instant that does.
pub(crate) fn local_midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    for minutes in 0..=180 {
        if let Some(t) = tz
            .from_local_datetime(&(midnight + Duration::minutes(minutes)))
            .earliest()
        {
            return t.with_timezone(&Utc);
        }
    }
    midnight.and_utc()
}

/// Writes a phone number the way events do: E.164 with `+`. The docs' old phone-number sample
/// writes `18555551264`; digits-only strings of 11–15 digits get the `+`. Extension numbers
/// (short) are left alone.
pub fn normalize_number(raw: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = raw.trim();
    if (11..=15).contains(&trimmed.len()) && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        std::borrow::Cow::Owned(format!("+{trimmed}"))
    } else {
        std::borrow::Cow::Borrowed(trimmed)
    }
}
