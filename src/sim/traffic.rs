//! Traffic: Poisson arrivals and the scripts calls follow (greeting, IVR, queue, ringing, answer,
//! hold, transfer, park, abandon, voicemail; outbound and internal calls), agents stepping away
//! and back, and the telephony and presence events all of that produces.
//!
//! The world is a discrete-event simulation: a min-heap of timers, each a step of one call or an
//! arrival. [`World::run_until`] pops timers in (time, insertion) order, so the same seed and
//! the same `advance` times always give the same events. Every transition checks that the call
//! is still in the phase the timer was set for, so a timer made stale by an earlier transition
//! (an abandon after the answer, say) does nothing.

use std::cmp::Ordering;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde_json::{Value, json};

use super::audio;
use super::bodies::{
    Empty, EndpointBody, NotificationBody, Origin, PartyBody, PeerBody, RecordingBody, StatusBody,
    TelephonyBody, TypedText, UiCallInfo,
};
use super::names;
use super::world::{
    AgentLine, AgentSegment, Availability, Call, CallKey, CallKind, Endpoint, NumberUse, Outcome,
    Party, PartyOwner, Phase, Route, StoredRecording, World, WorldEvent, seconds_between,
    wire_time,
};

/// A pending step, ordered so that `BinaryHeap` pops the earliest first (ties: first scheduled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timer {
    pub at: DateTime<Utc>,
    pub order: u64,
    pub action: Action,
}

impl Ord for Timer {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .cmp(&self.at)
            .then_with(|| other.order.cmp(&self.order))
    }
}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    InboundArrival,
    OutboundArrival,
    InternalArrival,
    AgentToggle(usize),
    Call { key: CallKey, step: Step },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The platform answers the caller (greeting); the call goes to the IVR or a queue.
    PlatformAnswer,
    IvrDone,
    /// The caller's patience runs out while waiting.
    Abandon,
    /// The maximum wait is reached: the queue sends the caller to voicemail.
    ToVoicemail,
    VoicemailDone,
    RingAnswer {
        agent: usize,
        party: usize,
    },
    RingTimeout {
        agent: usize,
        party: usize,
    },
    /// A step of the answered part of the call; `generation` guards against stale timers.
    HoldStart {
        generation: u64,
    },
    HoldEnd {
        generation: u64,
    },
    TalkEnd {
        generation: u64,
    },
    TransferAnswer {
        generation: u64,
        agent: usize,
        party: usize,
        attended: bool,
    },
    ParkPickup {
        generation: u64,
    },
    DialProceeding,
    DialAnswer,
    DialNoAnswer,
}

/// Telephony servers the platform reports in `serverId`.
const SERVER_IDS: &[&str] = &["10.13.22.27.TAM", "10.13.22.28.TAM", "10.62.25.111.TAM"];

/// Share of callers who give up almost at once (within a few seconds), on top of the
/// exponential patience: the calls that make up "short abandon".
const IMPATIENT_CALLER_SHARE: f64 = 0.05;
/// Share of callers who hang up in the greeting or the IVR menu.
const EARLY_HANGUP_SHARE: f64 = 0.04;
/// Ended calls older than this are forgotten (the call log serves 24 h by default).
const RETENTION_HOURS: i64 = 26;
/// Share of calls whose events carry `park {}` and `muted` (2020 style); the rest omit them as
/// the 2026 sample does, so clients meet both.
const FULL_FIELDS_SHARE: f64 = 0.6;
/// Share of new callers in hostile mode whose names attack the terminal.
const HOSTILE_CALLER_SHARE: f64 = 0.5;
/// Share of transfers that are attended (the first agent stays until the next one answers).
const ATTENDED_TRANSFER_SHARE: f64 = 0.4;
/// Share of outbound calls the far end answers.
const OUTBOUND_ANSWER_SHARE: f64 = 0.8;
/// Share of internal calls the colleague answers.
const INTERNAL_ANSWER_SHARE: f64 = 0.9;
/// Share of agents stepping away who log out rather than set themselves busy.
const LOG_OUT_SHARE: f64 = 0.15;
/// Shortest stretches, as a share of their mean: nobody clears an IVR menu or a hold instantly.
const MIN_IVR_SHARE: f64 = 0.3;
const MIN_HOLD_SHARE: f64 = 0.2;

/// Longest delay a timer is set for: beyond any simulator run, and far from `DateTime`'s limits.
const MAX_DELAY_SECONDS: f64 = 1e9;

/// `s` seconds (clamped to 0..=[`MAX_DELAY_SECONDS`], NaN as 0) with millisecond precision.
fn secs(s: f64) -> Duration {
    let s = if s.is_nan() {
        0.0
    } else {
        s.clamp(0.0, MAX_DELAY_SECONDS)
    };
    Duration::milliseconds((s * 1000.0).round() as i64)
}

impl World {
    // -- the timer loop ------------------------------------------------------------------------

    pub(crate) fn schedule(&mut self, at: DateTime<Utc>, action: Action) {
        self.timer_order += 1;
        self.timers.push(Timer {
            at,
            order: self.timer_order,
            action,
        });
    }

    fn schedule_call(&mut self, key: CallKey, after_s: f64, step: Step) {
        let at = self.now + secs(after_s);
        self.schedule(at, Action::Call { key, step });
    }

    fn exp_sample(&mut self, mean: f64) -> f64 {
        if mean <= 0.0 {
            return 0.0;
        }
        let u: f64 = self.rng.random();
        -mean * (1.0 - u).ln()
    }

    pub(crate) fn schedule_initial_timers(&mut self) {
        let now = self.now;
        if self.cfg.calls_per_minute > 0.0 {
            let gap = self.exp_sample(60.0 / self.cfg.calls_per_minute);
            self.schedule(now + secs(gap), Action::InboundArrival);
        }
        if self.cfg.outbound_calls_per_minute > 0.0 {
            let gap = self.exp_sample(60.0 / self.cfg.outbound_calls_per_minute);
            self.schedule(now + secs(gap), Action::OutboundArrival);
        }
        if self.cfg.internal_calls_per_minute > 0.0 {
            let gap = self.exp_sample(60.0 / self.cfg.internal_calls_per_minute);
            self.schedule(now + secs(gap), Action::InternalArrival);
        }
        for a in 0..self.agents.len() {
            self.schedule_agent_toggle(a);
        }
    }

    fn schedule_agent_toggle(&mut self, a: usize) {
        let mean_minutes = match self.agents[a].availability {
            Availability::Available => self.cfg.mean_available_minutes,
            Availability::Away | Availability::Offline => self.cfg.mean_away_minutes,
        };
        if mean_minutes <= 0.0 {
            return;
        }
        let after = self.exp_sample(mean_minutes * 60.0);
        let at = self.now + secs(after);
        self.schedule(at, Action::AgentToggle(a));
    }

    /// Runs every timer due by `until`, in order, and returns the events in creation order.
    pub(crate) fn run_until(&mut self, until: DateTime<Utc>) -> Vec<WorldEvent> {
        let mut out = Vec::new();
        while self.timers.peek().is_some_and(|t| t.at <= until) {
            let Some(timer) = self.timers.pop() else {
                break;
            };
            self.now = self.now.max(timer.at);
            self.handle(timer.action, &mut out);
            if self.dispatch_needed {
                self.dispatch(&mut out);
            }
            self.flush_presence(&mut out);
        }
        self.now = self.now.max(until);
        self.forget_old_calls();
        out
    }

    /// Moves every pending timer later by `span` (the time spent paused).
    pub(crate) fn shift_timers(&mut self, span: Duration) {
        if span <= Duration::zero() {
            return;
        }
        let timers = std::mem::take(&mut self.timers);
        self.timers = timers
            .into_iter()
            .map(|mut t| {
                t.at += span;
                t
            })
            .collect();
    }

    /// Occasionally swaps two adjacent telephony events of different parties, as the platform
    /// sometimes delivers them out of order.
    pub(crate) fn reorder_adjacent(&mut self, events: &mut [WorldEvent]) {
        let p = self.cfg.reorder_probability;
        if p <= 0.0 || events.len() < 2 {
            return;
        }
        let mut i = 0;
        while i + 1 < events.len() {
            let swappable = match (&events[i], &events[i + 1]) {
                (WorldEvent::Telephony { body: a, .. }, WorldEvent::Telephony { body: b, .. }) => {
                    a.party_id() != b.party_id()
                }
                _ => false,
            };
            if swappable && self.rng.random_bool(p.min(1.0)) {
                events.swap(i, i + 1);
                i += 2;
            } else {
                i += 1;
            }
        }
    }

    fn forget_old_calls(&mut self) {
        let horizon = self.now - Duration::hours(RETENTION_HOURS);
        while let Some(entry) = self.calls.first_entry() {
            if entry.get().ended_at.is_some_and(|end| end < horizon) {
                if let Some(id) = entry.remove().recording {
                    self.recordings.remove(&id);
                }
            } else {
                break;
            }
        }
    }

    fn handle(&mut self, action: Action, out: &mut Vec<WorldEvent>) {
        match action {
            Action::InboundArrival => {
                let gap = self.exp_sample(60.0 / self.cfg.calls_per_minute);
                let at = self.now + secs(gap);
                self.schedule(at, Action::InboundArrival);
                self.start_inbound_call(out);
            }
            Action::OutboundArrival => {
                let gap = self.exp_sample(60.0 / self.cfg.outbound_calls_per_minute);
                let at = self.now + secs(gap);
                self.schedule(at, Action::OutboundArrival);
                self.start_outbound_call(out);
            }
            Action::InternalArrival => {
                let gap = self.exp_sample(60.0 / self.cfg.internal_calls_per_minute);
                let at = self.now + secs(gap);
                self.schedule(at, Action::InternalArrival);
                self.start_internal_call(out);
            }
            Action::AgentToggle(a) => self.toggle_agent(a),
            Action::Call { key, step } => self.call_step(key, step, out),
        }
    }

    // -- events --------------------------------------------------------------------------------

    /// Emits the current state of party `p` of call `key` as one telephony event.
    fn emit(&mut self, key: CallKey, p: usize, out: &mut Vec<WorldEvent>) {
        if self.event_time.0 != self.now {
            self.event_time = (self.now, wire_time(self.now));
        }
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let body = NotificationBody::new(&self.telephony_body(call, p, &self.event_time.1));
        let owner = call.parties[p].owner;
        let extension_id = self.owner_extension(owner).map(str::to_string);
        if let Some(call) = self.calls.get_mut(&key) {
            call.next_sequence += 1;
        }
        if let PartyOwner::Agent(a) = owner {
            self.agents[a].presence_dirty = true;
        }
        out.push(WorldEvent::Telephony { extension_id, body });
    }

    /// The notification body for party `p` of `call`, with the call's next sequence number,
    /// borrowed from the world's records.
    fn telephony_body<'a>(
        &'a self,
        call: &'a Call,
        p: usize,
        event_time: &'a str,
    ) -> TelephonyBody<'a> {
        let party = &call.parties[p];
        let peer_id = party.peer.map(|peer| PeerBody {
            session_id: &call.session_id,
            telephony_session_id: &call.telephony_session_id,
            party_id: &call.parties[peer].id,
        });
        let endpoint = |e: &'a Endpoint| EndpointBody {
            phone_number: e.phone_number.as_deref(),
            name: e.name.as_deref(),
            extension_id: e.extension_id.as_deref(),
        };
        let recordings = match (party.records, &call.recording) {
            (true, Some(id)) => Some([RecordingBody {
                id,
                active: party.is_active(),
            }]),
            _ => None,
        };
        TelephonyBody {
            sequence: call.next_sequence,
            session_id: &call.session_id,
            telephony_session_id: &call.telephony_session_id,
            server_id: call.server_id,
            event_time,
            parties: [PartyBody {
                account_id: &self.account_id,
                extension_id: self.owner_extension(party.owner),
                id: &party.id,
                direction: party.direction,
                to: endpoint(&party.to),
                from: endpoint(&party.from),
                status: StatusBody {
                    code: party.code,
                    reason: party.reason,
                    peer_id,
                    park_data: party.park_data.as_deref(),
                    rcc: false,
                },
                park: call.full_fields.then_some(Empty {}),
                missed_call: party.missed,
                stand_alone: false,
                muted: call.full_fields.then_some(false),
                queue_call: party.queue_call.then_some(true),
                ui_call_info: if party.queue_call {
                    self.ui_call_info(call)
                } else {
                    None
                },
                recordings,
            }],
            origin: Origin::CALL,
        }
    }

    /// `uiCallInfo` of a queue party: the queue name, then the dialled number's label (the
    /// campaign) or, for an unlabelled number, the caller's number.
    fn ui_call_info<'a>(&'a self, call: &'a Call) -> Option<UiCallInfo<'a>> {
        let q = call.queue?;
        let CallKind::Inbound { number } = call.kind else {
            return None;
        };
        let additional = match &self.numbers[number].label {
            Some(label) => TypedText {
                kind: "PhoneNumberLabel",
                value: label,
            },
            None => TypedText {
                kind: "CallerIdNumber",
                value: &call.remote_number,
            },
        };
        Some(UiCallInfo {
            primary: TypedText {
                kind: "QueueName",
                value: &self.queues[q].name,
            },
            additional,
        })
    }

    fn presence_body(&self, a: usize) -> Value {
        let agent = &self.agents[a];
        let state = self.agent_presence_state(a);
        let active = self.active_calls_json(a);
        json!({
            "extensionId": agent.id,
            "telephonyStatus": state.telephony_status,
            "activeCalls": active,
            "sequence": agent.presence_sequence,
            "presenceStatus": state.presence_status,
            "userStatus": state.user_status,
            "meetingStatus": "Disconnected",
            "dndStatus": state.dnd_status,
            "allowSeeMyPresence": true,
            "ringOnMonitoredCall": false,
            "pickUpCallsOnHold": false,
            "acceptCallQueueCalls": agent.availability == Availability::Available,
            "totalActiveCalls": active.len(),
            "ownerId": agent.id,
        })
    }

    fn flush_presence(&mut self, out: &mut Vec<WorldEvent>) {
        for a in 0..self.agents.len() {
            if !self.agents[a].presence_dirty {
                continue;
            }
            self.agents[a].presence_dirty = false;
            self.agents[a].presence_sequence += 1;
            let body = NotificationBody::from_value(&self.presence_body(a));
            out.push(WorldEvent::Presence {
                extension_id: self.agents[a].id.clone(),
                body,
            });
        }
    }

    // -- calls ---------------------------------------------------------------------------------

    fn random_hex(&mut self, len: usize) -> String {
        const HEX: &[u8] = b"0123456789abcdef";
        (0..len)
            .map(|_| HEX[self.rng.random_range(0..16)] as char)
            .collect()
    }

    fn random_call_log_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..15)
            .map(|_| ALPHABET[self.rng.random_range(0..ALPHABET.len())] as char)
            .collect()
    }

    /// A new call record with no parties yet.
    fn new_call(
        &mut self,
        kind: CallKind,
        remote_number: String,
        remote_name: Option<String>,
    ) -> CallKey {
        let key = self.next_call_key;
        self.next_call_key += 1;
        self.next_session_number += self.rng.random_range(1_000..90_000);
        let hex = self.random_hex(32);
        let server_id = SERVER_IDS[self.rng.random_range(0..SERVER_IDS.len())];
        let full_fields = self.rng.random_bool(FULL_FIELDS_SHARE);
        let call_log_id = self.random_call_log_id();
        let first_time_caller = match kind {
            CallKind::Inbound { .. } => self.seen_callers.insert(remote_number.clone()),
            _ => false,
        };
        let call = Call {
            key,
            session_id: self.next_session_number.to_string(),
            telephony_session_id: format!("s-{hex}"),
            hex,
            server_id,
            full_fields,
            kind,
            remote_number,
            remote_name,
            queue: None,
            parties: Vec::new(),
            next_sequence: 2,
            started_at: self.now,
            queued_at: None,
            answered_at: None,
            ended_at: None,
            phase: Phase::Setup,
            generation: 0,
            segments: Vec::new(),
            interval_start: self.now,
            ringing: None,
            agent_party: None,
            last_missed_agent: None,
            queue_party: None,
            caller_party: None,
            patience_s: 0.0,
            talk_left_s: 0.0,
            hold_planned: false,
            transferred: false,
            outcome: None,
            recording: None,
            call_log_id,
            first_time_caller,
        };
        self.calls.insert(key, call);
        key
    }

    /// Adds a party to call `key` (not emitted yet) and puts an agent owner on it. A party
    /// reached through a queue (its `to` is the queue) is a queue call.
    fn add_party(
        &mut self,
        key: CallKey,
        owner: PartyOwner,
        direction: &'static str,
        from: Endpoint,
        to: Endpoint,
        code: &'static str,
    ) -> usize {
        let queue_call = to
            .extension_id
            .as_deref()
            .is_some_and(|id| self.queues.iter().any(|q| q.id == id));
        let Some(call) = self.calls.get_mut(&key) else {
            return 0;
        };
        let index = call.parties.len();
        call.parties.push(Party {
            id: format!("p-{}-{}", call.hex, index + 1),
            owner,
            direction,
            from,
            to,
            code,
            reason: None,
            peer: None,
            park_data: None,
            missed: false,
            queue_call,
            records: false,
        });
        if let PartyOwner::Agent(a) = owner {
            self.agents[a].line = Some(AgentLine {
                call: key,
                party: index,
            });
        }
        index
    }

    /// Sets party `p` to `code` and emits it. A party that ends, or is parked away, frees its
    /// agent.
    fn set_party(&mut self, key: CallKey, p: usize, code: &'static str, out: &mut Vec<WorldEvent>) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let party = &mut call.parties[p];
        party.code = code;
        let ended = !party.is_active() || code == "Parked";
        let owner = party.owner;
        if ended && let PartyOwner::Agent(a) = owner {
            self.free_agent(a, key);
        }
        self.emit(key, p, out);
    }

    fn free_agent(&mut self, a: usize, key: CallKey) {
        let agent = &mut self.agents[a];
        if agent.line.is_some_and(|line| line.call == key) {
            agent.line = None;
            agent.idle_since = self.now;
            agent.presence_dirty = true;
            self.dispatch_needed = true;
        }
    }

    fn caller_endpoint(call: &Call) -> Endpoint {
        Endpoint {
            phone_number: Some(call.remote_number.clone()),
            name: call.remote_name.clone(),
            extension_id: None,
        }
    }

    /// A caller: often someone who called before, otherwise a new fictional number; the name
    /// is what caller id delivers (a place, a person, nothing) or, in hostile mode, an attack.
    fn new_caller(&mut self) -> (String, Option<String>) {
        let number = if !self.known_callers.is_empty()
            && self.rng.random_bool(self.cfg.repeat_caller_probability)
        {
            self.known_callers[self.rng.random_range(0..self.known_callers.len())].clone()
        } else {
            let area =
                names::CALLER_AREA_CODES[self.rng.random_range(0..names::CALLER_AREA_CODES.len())];
            let number = names::fictional_number(area, self.rng.random_range(0..100));
            // Every known caller has called (`new_call` follows at once), so the set of
            // callers seen answers this without walking the list.
            if !self.seen_callers.contains(&number) {
                self.known_callers.push(number.clone());
            }
            number
        };
        if self.hostile && self.rng.random_bool(HOSTILE_CALLER_SHARE) {
            if !self.hostile_huge_name_sent {
                self.hostile_huge_name_sent = true;
                return (
                    number,
                    Some("\u{1b}[2J".to_string() + &"W".repeat(names::HUGE_NAME_BYTES)),
                );
            }
            let name = names::HOSTILE_NAMES[self.rng.random_range(0..names::HOSTILE_NAMES.len())];
            return (number, Some(name.to_string()));
        }
        let roll: f64 = self.rng.random();
        let name = if roll < 0.45 {
            Some(names::CNAM_PLACES[self.rng.random_range(0..names::CNAM_PLACES.len())].to_string())
        } else if roll < 0.8 {
            let first = names::FIRST_NAMES[self.rng.random_range(0..names::FIRST_NAMES.len())];
            let last = names::LAST_NAMES[self.rng.random_range(0..names::LAST_NAMES.len())];
            Some(format!("{} {}", last.to_uppercase(), first.to_uppercase()))
        } else {
            None
        };
        (number, name)
    }

    /// A fresh caller dials tracking number `number`: a new inbound call whose caller leg is
    /// added with status `first` and emitted. Returns the call, the caller's party and the caller
    /// endpoint (later parties of the call are `from` the caller too).
    fn start_caller_leg(
        &mut self,
        number: usize,
        first: &'static str,
        out: &mut Vec<WorldEvent>,
    ) -> Option<(CallKey, usize, Endpoint)> {
        let (caller, name) = self.new_caller();
        let key = self.new_call(CallKind::Inbound { number }, caller, name);
        let from = Self::caller_endpoint(self.calls.get(&key)?);
        let ctn = Endpoint {
            phone_number: Some(self.numbers[number].number.clone()),
            ..Endpoint::default()
        };
        let party = self.add_party(
            key,
            PartyOwner::External,
            "Outbound",
            from.clone(),
            ctn,
            first,
        );
        if let Some(call) = self.calls.get_mut(&key) {
            call.caller_party = Some(party);
        }
        self.emit(key, party, out);
        Some((key, party, from))
    }

    fn start_inbound_call(&mut self, out: &mut Vec<WorldEvent>) {
        let tracking: Vec<usize> = (0..self.numbers.len())
            .filter(|&i| matches!(self.numbers[i].usage, NumberUse::Tracking(_)))
            .collect();
        if tracking.is_empty() {
            return;
        }
        let number = tracking[self.rng.random_range(0..tracking.len())];
        let Some((key, _, _)) = self.start_caller_leg(number, "Setup", out) else {
            return;
        };
        let greeting = self.cfg.greeting_seconds;
        self.schedule_call(key, greeting, Step::PlatformAnswer);
    }

    fn call_step(&mut self, key: CallKey, step: Step, out: &mut Vec<WorldEvent>) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let phase = call.phase;
        let generation = call.generation;
        let ringing = call.ringing;
        match step {
            Step::PlatformAnswer if phase == Phase::Setup => self.platform_answer(key, out),
            Step::IvrDone if phase == Phase::Ivr => self.ivr_done(key, out),
            Step::Abandon if phase == Phase::Waiting => self.abandon(key, out),
            Step::ToVoicemail if phase == Phase::Waiting => self.send_to_voicemail(key, out),
            Step::VoicemailDone if phase == Phase::Voicemail => self.voicemail_done(key, out),
            Step::RingAnswer { agent, party }
                if phase == Phase::Waiting && ringing == Some((agent, party)) =>
            {
                self.ring_answer(key, agent, party, out)
            }
            Step::RingTimeout { agent, party }
                if phase == Phase::Waiting && ringing == Some((agent, party)) =>
            {
                self.ring_timeout(key, agent, party, out)
            }
            Step::HoldStart { generation: g } if g == generation && phase == Phase::Talking => {
                self.hold_start(key, out)
            }
            Step::HoldEnd { generation: g } if g == generation && phase == Phase::Hold => {
                self.hold_end(key, out)
            }
            Step::TalkEnd { generation: g } if g == generation && phase == Phase::Talking => {
                self.talk_end(key, out)
            }
            Step::TransferAnswer {
                generation: g,
                agent,
                party,
                attended,
            } if g == generation => self.transfer_answer(key, agent, party, attended, out),
            Step::ParkPickup { generation: g } if g == generation && phase == Phase::Parked => {
                self.park_pickup(key, out)
            }
            Step::DialProceeding if phase == Phase::Setup => self.dial_proceeding(key, out),
            Step::DialAnswer if phase == Phase::Setup => self.dial_answer(key, out),
            Step::DialNoAnswer if phase == Phase::Setup => self.dial_no_answer(key, out),
            // A timer made stale by an earlier transition.
            _ => {}
        }
    }

    fn platform_answer(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let CallKind::Inbound { number } = call.kind else {
            return;
        };
        let caller = call.caller_party.unwrap_or(0);
        if self.rng.random_bool(EARLY_HANGUP_SHARE) {
            self.set_party(key, caller, "Disconnected", out);
            self.end_call(key, Outcome::Missed);
            return;
        }
        match self.numbers[number].usage {
            NumberUse::Tracking(Route::Ivr) => {
                let from = Self::caller_endpoint(call);
                let to = Endpoint {
                    phone_number: Some(self.numbers[number].number.clone()),
                    name: Some(super::world::IVR_NAME.to_string()),
                    extension_id: Some(self.ivr_id.clone()),
                };
                let ivr = self.add_party(key, PartyOwner::Ivr, "Inbound", from, to, "Setup");
                self.emit(key, ivr, out);
                self.set_party(key, caller, "Answered", out);
                self.set_party(key, ivr, "Answered", out);
                if let Some(call) = self.calls.get_mut(&key) {
                    call.phase = Phase::Ivr;
                }
                let ivr_time = self.exp_sample(self.cfg.mean_ivr_seconds)
                    + self.cfg.mean_ivr_seconds * MIN_IVR_SHARE;
                self.schedule_call(key, ivr_time, Step::IvrDone);
            }
            NumberUse::Tracking(Route::Queue(q)) => {
                self.set_party(key, caller, "Answered", out);
                self.enter_queue(key, q, out);
            }
            // Only tracking numbers receive simulated inbound traffic.
            NumberUse::Main | NumberUse::Direct(_) => {
                self.set_party(key, caller, "Disconnected", out);
                self.end_call(key, Outcome::Missed);
            }
        }
    }

    fn ivr_done(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let caller = call.caller_party.unwrap_or(0);
        let Some(ivr) = call.parties.iter().position(|p| p.owner == PartyOwner::Ivr) else {
            return;
        };
        if self.rng.random_bool(EARLY_HANGUP_SHARE * 2.0) {
            self.set_party(key, caller, "Disconnected", out);
            self.set_party(key, ivr, "Disconnected", out);
            self.end_call(key, Outcome::Missed);
            return;
        }
        self.set_party(key, ivr, "Disconnected", out);
        let q = self.rng.random_range(0..self.queues.len());
        self.enter_queue(key, q, out);
    }

    /// The call enters queue `q`: a queue party appears (the moment a client sees the call
    /// queued), and the caller's patience or the queue's maximum wait starts running.
    fn enter_queue(&mut self, key: CallKey, q: usize, out: &mut Vec<WorldEvent>) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let CallKind::Inbound { number } = call.kind else {
            return;
        };
        call.queue = Some(q);
        call.queued_at = Some(self.now);
        call.phase = Phase::Waiting;
        let from = Self::caller_endpoint(call);
        let to = self.queue_endpoint(number, q);
        let party = self.add_party(key, PartyOwner::Queue(q), "Inbound", from, to, "Proceeding");
        if let Some(call) = self.calls.get_mut(&key) {
            call.queue_party = Some(party);
        }
        self.emit(key, party, out);
        self.queues[q].waiting.push(key);
        self.dispatch_needed = true;

        let patience = if self.rng.random_bool(IMPATIENT_CALLER_SHARE) {
            // Gone before the queue's short-abandon threshold (with a margin).
            let short = f64::from(self.queues[q].service_level.abandoned_threshold_s);
            self.rng.random_range(0.2..=short.max(0.3)) * 0.9
        } else {
            self.exp_sample(self.cfg.mean_patience_seconds)
        };
        if let Some(call) = self.calls.get_mut(&key) {
            call.patience_s = patience;
        }
        if patience < self.cfg.max_wait_seconds {
            self.schedule_call(key, patience, Step::Abandon);
        } else {
            let max_wait = self.cfg.max_wait_seconds;
            self.schedule_call(key, max_wait, Step::ToVoicemail);
        }
    }

    fn queue_endpoint(&self, number: usize, q: usize) -> Endpoint {
        Endpoint {
            phone_number: Some(self.numbers[number].number.clone()),
            name: Some(self.queues[q].name.clone()),
            extension_id: Some(self.queues[q].id.clone()),
        }
    }

    /// Rings the longest-idle free member for each waiting call that is not ringing anyone.
    fn dispatch(&mut self, out: &mut Vec<WorldEvent>) {
        self.dispatch_needed = false;
        for q in 0..self.queues.len() {
            // Free members, longest idle first; each is rung for at most one call.
            let mut free: Vec<usize> = self.queues[q]
                .members
                .iter()
                .copied()
                .filter(|&a| self.agents[a].takes_queue_calls())
                .collect();
            if free.is_empty() {
                continue;
            }
            free.sort_by_key(|&a| (self.agents[a].idle_since, a));
            let waiting = self.queues[q].waiting.clone();
            for key in waiting {
                if free.is_empty() {
                    break;
                }
                let Some(call) = self.calls.get(&key) else {
                    continue;
                };
                if call.ringing.is_some() || call.phase != Phase::Waiting {
                    continue;
                }
                // The agent who just let this call ring out is tried last.
                let last_missed = call.last_missed_agent;
                let slot = free
                    .iter()
                    .position(|&a| Some(a) != last_missed)
                    .unwrap_or(0);
                let agent = free.remove(slot);
                self.ring_agent(key, q, agent, out);
            }
        }
    }

    fn ring_agent(&mut self, key: CallKey, q: usize, agent: usize, out: &mut Vec<WorldEvent>) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let CallKind::Inbound { number } = call.kind else {
            return;
        };
        let from = Self::caller_endpoint(call);
        let to = self.queue_endpoint(number, q);
        let party = self.add_party(
            key,
            PartyOwner::Agent(agent),
            "Inbound",
            from,
            to,
            "Proceeding",
        );
        if let Some(call) = self.calls.get_mut(&key) {
            call.ringing = Some((agent, party));
        }
        self.emit(key, party, out);
        if self
            .rng
            .random_bool(self.cfg.no_answer_probability.clamp(0.0, 1.0))
        {
            let timeout = self.cfg.ring_timeout_seconds;
            self.schedule_call(key, timeout, Step::RingTimeout { agent, party });
        } else {
            let ring = self
                .exp_sample(self.cfg.mean_ring_seconds)
                .min(self.cfg.ring_timeout_seconds * 0.9);
            self.schedule_call(key, ring, Step::RingAnswer { agent, party });
        }
    }

    fn leave_queue(&mut self, key: CallKey) {
        if let Some(q) = self.calls.get(&key).and_then(|c| c.queue) {
            self.queues[q].waiting.retain(|&k| k != key);
        }
    }

    fn ring_answer(&mut self, key: CallKey, agent: usize, party: usize, out: &mut Vec<WorldEvent>) {
        let record = self
            .rng
            .random_bool(self.cfg.recording_probability.clamp(0.0, 1.0));
        let recording_id = record.then(|| self.new_recording_id());
        self.leave_queue(key);
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        call.ringing = None;
        call.answered_at = Some(self.now);
        call.phase = Phase::Talking;
        call.agent_party = Some(party);
        call.interval_start = self.now;
        call.segments.push(AgentSegment {
            agent,
            answered_at: self.now,
            talk_s: 0.0,
            hold_s: 0.0,
        });
        if let Some(id) = recording_id {
            call.recording = Some(id);
            call.parties[party].records = true;
        }
        let queue_party = call.queue_party;
        self.set_party(key, party, "Answered", out);
        if let Some(qp) = queue_party {
            self.set_party(key, qp, "Disconnected", out);
        }
        let talk = self
            .exp_sample(self.cfg.mean_talk_seconds)
            .max(self.cfg.min_talk_seconds);
        let hold = self
            .rng
            .random_bool(self.cfg.hold_probability.clamp(0.0, 1.0));
        self.plan_talk(key, talk, hold);
    }

    /// Schedules the next step of an answered call: a hold part-way through, or its end.
    fn plan_talk(&mut self, key: CallKey, talk_s: f64, hold: bool) {
        let split: f64 = self.rng.random_range(0.2..0.8);
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        call.generation += 1;
        call.hold_planned = hold;
        let generation = call.generation;
        if hold {
            call.talk_left_s = talk_s * (1.0 - split);
            self.schedule_call(key, talk_s * split, Step::HoldStart { generation });
        } else {
            call.talk_left_s = 0.0;
            self.schedule_call(key, talk_s, Step::TalkEnd { generation });
        }
    }

    /// Adds the running talk or hold interval to the current agent segment.
    fn close_interval(&mut self, key: CallKey) {
        let now = self.now;
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let elapsed = seconds_between(call.interval_start, now).max(0.0);
        let phase = call.phase;
        if let Some(segment) = call.segments.last_mut() {
            match phase {
                Phase::Talking => segment.talk_s += elapsed,
                Phase::Hold => segment.hold_s += elapsed,
                _ => {}
            }
        }
        call.interval_start = now;
    }

    fn ring_timeout(
        &mut self,
        key: CallKey,
        agent: usize,
        party: usize,
        out: &mut Vec<WorldEvent>,
    ) {
        if let Some(call) = self.calls.get_mut(&key) {
            call.ringing = None;
            call.last_missed_agent = Some(agent);
            call.parties[party].missed = true;
        }
        self.set_party(key, party, "Disconnected", out);
        self.dispatch_needed = true;
    }

    /// Ends a ringing agent party unanswered (the caller left, or the queue gave up).
    fn stop_ringing(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        if let Some((_, party)) = call.ringing.take() {
            call.parties[party].missed = true;
            self.set_party(key, party, "Disconnected", out);
        }
    }

    fn abandon(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        self.leave_queue(key);
        self.stop_ringing(key, out);
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let (caller, queue_party, queue, queued_at) = (
            call.caller_party,
            call.queue_party,
            call.queue,
            call.queued_at,
        );
        if let Some(qp) = queue_party {
            call.parties[qp].missed = true;
            self.set_party(key, qp, "Disconnected", out);
        }
        if let Some(c) = caller {
            self.set_party(key, c, "Disconnected", out);
        }
        let waited = queued_at
            .map(|t| seconds_between(t, self.now))
            .unwrap_or(0.0);
        let threshold = queue
            .map(|q| f64::from(self.queues[q].service_level.abandoned_threshold_s))
            .unwrap_or(0.0);
        let outcome = if waited > threshold {
            Outcome::Abandoned
        } else {
            Outcome::ShortAbandon
        };
        self.end_call(key, outcome);
    }

    fn send_to_voicemail(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        self.leave_queue(key);
        self.stop_ringing(key, out);
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        call.phase = Phase::Voicemail;
        if let Some(qp) = call.queue_party {
            call.parties[qp].missed = true;
            self.set_party(key, qp, "VoiceMail", out);
        }
        let message = self.exp_sample(self.cfg.mean_voicemail_seconds) + 1.0;
        self.schedule_call(key, message, Step::VoicemailDone);
    }

    fn voicemail_done(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let (caller, queue_party) = (call.caller_party, call.queue_party);
        if let Some(c) = caller {
            self.set_party(key, c, "Disconnected", out);
        }
        if let Some(qp) = queue_party {
            self.set_party(key, qp, "Disconnected", out);
        }
        self.end_call(key, Outcome::Voicemail);
    }

    fn hold_start(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        self.close_interval(key);
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        call.phase = Phase::Hold;
        call.generation += 1;
        let generation = call.generation;
        if let Some(p) = call.agent_party {
            self.set_party(key, p, "Hold", out);
        }
        let hold = self.exp_sample(self.cfg.mean_hold_seconds)
            + self.cfg.mean_hold_seconds * MIN_HOLD_SHARE;
        self.schedule_call(key, hold, Step::HoldEnd { generation });
    }

    fn hold_end(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        self.close_interval(key);
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        call.phase = Phase::Talking;
        call.generation += 1;
        let generation = call.generation;
        let talk_left = call.talk_left_s;
        if let Some(p) = call.agent_party {
            // Unhold is reported as Answered again.
            self.set_party(key, p, "Answered", out);
        }
        self.schedule_call(key, talk_left, Step::TalkEnd { generation });
    }

    /// The end of a stretch of talk: a transfer, a park, or the end of the call.
    fn talk_end(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let inbound = matches!(call.kind, CallKind::Inbound { .. });
        let current = call.last_agent();
        if inbound && !call.transferred {
            if self
                .rng
                .random_bool(self.cfg.transfer_probability.clamp(0.0, 1.0))
                && let Some(target) = self.free_agent_except(current)
            {
                self.start_transfer(key, target, out);
                return;
            }
            if self
                .rng
                .random_bool(self.cfg.park_probability.clamp(0.0, 1.0))
            {
                self.park(key, out);
                return;
            }
        }
        self.hang_up(key, out);
    }

    /// The longest-idle available agent on no call, other than `except`.
    fn free_agent_except(&self, except: Option<usize>) -> Option<usize> {
        (0..self.agents.len())
            .filter(|&a| Some(a) != except && self.agents[a].takes_queue_calls())
            .min_by_key(|&a| (self.agents[a].idle_since, a))
    }

    fn agent_endpoint(&self, a: usize) -> Endpoint {
        let agent = &self.agents[a];
        Endpoint {
            phone_number: Some(agent.direct_number.clone()),
            name: Some(agent.name()),
            extension_id: Some(agent.id.clone()),
        }
    }

    fn start_transfer(&mut self, key: CallKey, target: usize, out: &mut Vec<WorldEvent>) {
        let attended = self.rng.random_bool(ATTENDED_TRANSFER_SHARE);
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let from = Self::caller_endpoint(call);
        let old_party = call.agent_party;
        let to = self.agent_endpoint(target);
        let new_party = self.add_party(
            key,
            PartyOwner::Agent(target),
            "Inbound",
            from,
            to,
            "Proceeding",
        );
        if !attended {
            // Blind: the first agent leaves at once; the caller hears music while the next rings.
            self.close_interval(key);
            if let Some(old) = old_party {
                if let Some(call) = self.calls.get_mut(&key) {
                    call.parties[old].reason = Some("BlindTransfer");
                    call.parties[old].peer = Some(new_party);
                }
                self.set_party(key, old, "Gone", out);
            }
            if let Some(call) = self.calls.get_mut(&key) {
                call.phase = Phase::Transferring;
            }
        }
        self.emit(key, new_party, out);
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        call.transferred = true;
        call.generation += 1;
        let generation = call.generation;
        let ring = self.exp_sample(self.cfg.mean_ring_seconds) + 0.5;
        self.schedule_call(
            key,
            ring,
            Step::TransferAnswer {
                generation,
                agent: target,
                party: new_party,
                attended,
            },
        );
    }

    fn transfer_answer(
        &mut self,
        key: CallKey,
        agent: usize,
        party: usize,
        attended: bool,
        out: &mut Vec<WorldEvent>,
    ) {
        self.close_interval(key);
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let old_party = call.agent_party;
        let recorded = old_party.is_some_and(|p| call.parties[p].records);
        call.parties[party].records = recorded;
        call.agent_party = Some(party);
        call.phase = Phase::Talking;
        call.segments.push(AgentSegment {
            agent,
            answered_at: self.now,
            talk_s: 0.0,
            hold_s: 0.0,
        });
        self.set_party(key, party, "Answered", out);
        if attended && let Some(old) = old_party {
            if let Some(call) = self.calls.get_mut(&key) {
                call.parties[old].reason = Some("AttendedTransfer");
                call.parties[old].peer = Some(party);
            }
            self.set_party(key, old, "Gone", out);
        }
        let talk = self
            .exp_sample(self.cfg.mean_talk_seconds / 2.0)
            .max(self.cfg.min_talk_seconds);
        self.plan_talk(key, talk, false);
    }

    fn park(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        self.close_interval(key);
        let location = format!("*8{:02}", self.rng.random_range(1..20));
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        call.phase = Phase::Parked;
        call.generation += 1;
        let generation = call.generation;
        if let Some(p) = call.agent_party {
            call.parties[p].park_data = Some(location);
            self.set_party(key, p, "Parked", out);
        }
        let parked = self.exp_sample(self.cfg.mean_park_seconds) + 1.0;
        self.schedule_call(key, parked, Step::ParkPickup { generation });
    }

    fn park_pickup(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let parked_by = call.last_agent();
        let parked_party = call.agent_party;
        let picker = parked_by
            .filter(|&a| {
                self.agents[a].line.is_none()
                    && self.agents[a].availability != Availability::Offline
            })
            .or_else(|| self.free_agent_except(None));
        let Some(picker) = picker else {
            // Nobody picks up: the caller gives up in the park.
            self.close_interval(key);
            if let Some(p) = parked_party {
                self.set_party(key, p, "Disconnected", out);
            }
            if let Some(c) = self.calls.get(&key).and_then(|c| c.caller_party) {
                self.set_party(key, c, "Disconnected", out);
            }
            self.end_call(key, Outcome::Answered);
            return;
        };
        let from = Self::caller_endpoint(call);
        let to = self.agent_endpoint(picker);
        self.close_interval(key);
        let new_party = self.add_party(
            key,
            PartyOwner::Agent(picker),
            "Inbound",
            from,
            to,
            "Answered",
        );
        if let Some(old) = parked_party {
            if let Some(call) = self.calls.get_mut(&key) {
                call.parties[old].reason = Some("Pickup");
                call.parties[old].peer = Some(new_party);
            }
            self.set_party(key, old, "Gone", out);
        }
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let recorded = parked_party.is_some_and(|p| call.parties[p].records);
        call.parties[new_party].records = recorded;
        call.agent_party = Some(new_party);
        call.phase = Phase::Talking;
        call.transferred = true;
        call.segments.push(AgentSegment {
            agent: picker,
            answered_at: self.now,
            talk_s: 0.0,
            hold_s: 0.0,
        });
        self.emit(key, new_party, out);
        let talk = self
            .exp_sample(self.cfg.mean_talk_seconds / 2.0)
            .max(self.cfg.min_talk_seconds);
        self.plan_talk(key, talk, false);
    }

    /// The end of an answered call: both sides hang up, in either order.
    fn hang_up(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        self.close_interval(key);
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let outcome = match call.kind {
            CallKind::Inbound { .. } => Outcome::Answered,
            CallKind::Outbound { .. } => Outcome::Outbound,
            CallKind::Internal { .. } => Outcome::Internal,
        };
        let mut order: Vec<usize> = call
            .parties
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_active())
            .map(|(i, _)| i)
            .collect();
        // Either side may hang up first.
        if self.rng.random_bool(0.5) {
            order.reverse();
        }
        for p in order {
            self.set_party(key, p, "Disconnected", out);
        }
        self.end_call(key, outcome);
    }

    fn end_call(&mut self, key: CallKey, outcome: Outcome) {
        self.leave_queue(key);
        let recording_phase = self.rng.random_range(0..u64::from(audio::SAMPLE_RATE));
        let now = self.now;
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        call.phase = Phase::Ended;
        call.generation += 1;
        call.ended_at = Some(now);
        call.outcome = Some(outcome);
        call.ringing = None;
        let parties: Vec<PartyOwner> = call.parties.iter().map(|p| p.owner).collect();
        if let (Some(id), Some(answered)) = (call.recording.clone(), call.answered_at) {
            let duration_s = seconds_between(answered, now).round().max(1.0) as u64;
            self.recordings.insert(
                id,
                StoredRecording {
                    duration_s,
                    len: audio::wav_len_for_seconds(duration_s),
                    phase: recording_phase,
                    available_at: now + secs(self.cfg.recording_delay_seconds),
                },
            );
        }
        for owner in parties {
            if let PartyOwner::Agent(a) = owner {
                self.free_agent(a, key);
            }
        }
    }

    // -- outbound and internal calls ------------------------------------------------------------

    /// A random agent on no call who is logged in, other than `except`.
    fn idle_logged_in_agent(&mut self, except: Option<usize>) -> Option<usize> {
        let idle: Vec<usize> = (0..self.agents.len())
            .filter(|&a| {
                Some(a) != except
                    && self.agents[a].line.is_none()
                    && self.agents[a].availability != Availability::Offline
            })
            .collect();
        if idle.is_empty() {
            return None;
        }
        Some(idle[self.rng.random_range(0..idle.len())])
    }

    fn start_outbound_call(&mut self, out: &mut Vec<WorldEvent>) {
        let Some(agent) = self.idle_logged_in_agent(None) else {
            return;
        };
        let area =
            names::CALLER_AREA_CODES[self.rng.random_range(0..names::CALLER_AREA_CODES.len())];
        let remote = names::fictional_number(area, self.rng.random_range(0..100));
        let key = self.new_call(CallKind::Outbound { agent }, remote.clone(), None);
        let from = self.agent_endpoint(agent);
        let to = Endpoint {
            phone_number: Some(remote),
            ..Endpoint::default()
        };
        let p = self.add_party(key, PartyOwner::Agent(agent), "Outbound", from, to, "Setup");
        if let Some(call) = self.calls.get_mut(&key) {
            call.agent_party = Some(p);
        }
        self.emit(key, p, out);
        // Placing a call takes about as long as the platform takes to greet an inbound one.
        let dial = self.rng.random_range(0.3..1.5) * self.cfg.greeting_seconds.max(0.1);
        self.schedule_call(key, dial, Step::DialProceeding);
    }

    fn start_internal_call(&mut self, out: &mut Vec<WorldEvent>) {
        let Some(from_agent) = self.idle_logged_in_agent(None) else {
            return;
        };
        let Some(to_agent) = self.idle_logged_in_agent(Some(from_agent)) else {
            return;
        };
        let callee = &self.agents[to_agent];
        let (callee_number, callee_name) = (callee.extension_number.clone(), callee.name());
        let key = self.new_call(
            CallKind::Internal {
                from: from_agent,
                to: to_agent,
            },
            callee_number,
            Some(callee_name),
        );
        let caller = &self.agents[from_agent];
        let from = Endpoint {
            phone_number: Some(caller.extension_number.clone()),
            name: Some(caller.name()),
            extension_id: Some(caller.id.clone()),
        };
        let callee = &self.agents[to_agent];
        let to = Endpoint {
            phone_number: Some(callee.extension_number.clone()),
            name: Some(callee.name()),
            extension_id: Some(callee.id.clone()),
        };
        let a = self.add_party(
            key,
            PartyOwner::Agent(from_agent),
            "Outbound",
            from.clone(),
            to.clone(),
            "Setup",
        );
        self.emit(key, a, out);
        let b = self.add_party(
            key,
            PartyOwner::Agent(to_agent),
            "Inbound",
            from,
            to,
            "Proceeding",
        );
        if let Some(call) = self.calls.get_mut(&key) {
            call.agent_party = Some(a);
        }
        self.set_party(key, a, "Proceeding", out);
        self.emit(key, b, out);
        if self.rng.random_bool(INTERNAL_ANSWER_SHARE) {
            let ring = self.exp_sample(self.cfg.mean_ring_seconds);
            self.schedule_call(key, ring, Step::DialAnswer);
        } else {
            let timeout = self.cfg.ring_timeout_seconds;
            self.schedule_call(key, timeout, Step::DialNoAnswer);
        }
    }

    fn dial_proceeding(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        let Some(p) = self.calls.get(&key).and_then(|c| c.agent_party) else {
            return;
        };
        self.set_party(key, p, "Proceeding", out);
        if self.rng.random_bool(OUTBOUND_ANSWER_SHARE) {
            let ring = self.exp_sample(self.cfg.mean_ring_seconds * 2.0);
            self.schedule_call(key, ring, Step::DialAnswer);
        } else {
            let timeout = self.cfg.ring_timeout_seconds;
            self.schedule_call(key, timeout, Step::DialNoAnswer);
        }
    }

    fn dial_answer(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let answering = match call.kind {
            CallKind::Outbound { agent } => agent,
            // Both ends are agents; the call is the placing agent's.
            CallKind::Internal { from, .. } => from,
            CallKind::Inbound { .. } => return,
        };
        call.answered_at = Some(self.now);
        call.phase = Phase::Talking;
        call.interval_start = self.now;
        call.segments.push(AgentSegment {
            agent: answering,
            answered_at: self.now,
            talk_s: 0.0,
            hold_s: 0.0,
        });
        let active: Vec<usize> = call
            .parties
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_active())
            .map(|(i, _)| i)
            .collect();
        let outbound = matches!(call.kind, CallKind::Outbound { .. });
        for p in active {
            self.set_party(key, p, "Answered", out);
        }
        let talk = self
            .exp_sample(self.cfg.mean_talk_seconds * 0.6)
            .max(self.cfg.min_talk_seconds);
        let hold = outbound
            && self
                .rng
                .random_bool((self.cfg.hold_probability / 2.0).clamp(0.0, 1.0));
        self.plan_talk(key, talk, hold);
    }

    fn dial_no_answer(&mut self, key: CallKey, out: &mut Vec<WorldEvent>) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let outcome = match call.kind {
            CallKind::Internal { .. } => Outcome::Internal,
            _ => Outcome::Outbound,
        };
        let active: Vec<usize> = call
            .parties
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_active())
            .map(|(i, _)| i)
            .collect();
        for &p in &active {
            if call.parties[p].direction == "Inbound" {
                call.parties[p].missed = true;
            }
        }
        for p in active {
            self.set_party(key, p, "Disconnected", out);
        }
        self.end_call(key, outcome);
    }

    // -- agents --------------------------------------------------------------------------------

    fn toggle_agent(&mut self, a: usize) {
        if self.agents[a].line.is_some() {
            // Nobody steps away mid-call; try again shortly.
            let at = self.now + Duration::seconds(30);
            self.schedule(at, Action::AgentToggle(a));
            return;
        }
        let next = match self.agents[a].availability {
            Availability::Available if self.rng.random_bool(LOG_OUT_SHARE) => Availability::Offline,
            Availability::Available => Availability::Away,
            Availability::Away | Availability::Offline => Availability::Available,
        };
        self.agents[a].availability = next;
        self.agents[a].presence_dirty = true;
        if next == Availability::Available {
            self.agents[a].idle_since = self.now;
            self.dispatch_needed = true;
        }
        self.schedule_agent_toggle(a);
    }

    // -- hostile mode ----------------------------------------------------------------------------

    /// Gives a few labelled tracking numbers hostile labels that keep their DN.
    pub(crate) fn apply_hostile_labels(&mut self) {
        self.hostile_huge_name_sent = false;
        let labelled: Vec<usize> = (0..self.numbers.len())
            .filter(|&i| {
                matches!(self.numbers[i].usage, NumberUse::Tracking(_))
                    && self.numbers[i].label.is_some()
            })
            .collect();
        if labelled.is_empty() {
            return;
        }
        for (k, prefix) in names::HOSTILE_LABEL_PREFIXES.iter().enumerate() {
            let index = labelled[(k * labelled.len()) / names::HOSTILE_LABEL_PREFIXES.len()];
            let dn = self.numbers[index]
                .label
                .as_deref()
                .and_then(|l| super::truth::parse_label(l).1)
                .map(|dn| format!(" {dn}"))
                .unwrap_or_default();
            self.numbers[index].label = Some(format!("{prefix}{dn}"));
        }
    }

    // -- burst -----------------------------------------------------------------------------------

    /// Exactly `count` telephony events from whole throwaway calls, all at `now`: answered calls
    /// of 8–15 events while an agent is free, short abandons and missed calls otherwise.
    pub(crate) fn burst_calls(&mut self, count: usize, now: DateTime<Utc>) -> Vec<WorldEvent> {
        let saved_now = self.now;
        self.now = now;
        let mut out = Vec::with_capacity(count);
        let mut remaining = count;
        while remaining > 0 {
            let agent_queue = self.free_member_anywhere();
            let before = out.len();
            match agent_queue {
                Some((q, agent)) if remaining >= 8 => {
                    let size = if remaining <= 15 { remaining } else { 8 };
                    self.burst_answered_call(q, agent, size - 8, &mut out);
                }
                _ if remaining >= 5 => {
                    let size = remaining.min(6);
                    self.burst_abandoned_call(size == 6, &mut out);
                }
                _ => self.burst_missed_call(remaining, &mut out),
            }
            remaining -= out.len() - before;
        }
        // The burst's agents end where they started, so their presence did not change.
        for agent in &mut self.agents {
            agent.presence_dirty = false;
        }
        self.now = saved_now;
        out
    }

    fn free_member_anywhere(&self) -> Option<(usize, usize)> {
        (0..self.queues.len()).find_map(|q| {
            self.queues[q]
                .members
                .iter()
                .copied()
                .find(|&a| self.agents[a].takes_queue_calls())
                .map(|a| (q, a))
        })
    }

    fn burst_tracking_number(&mut self, q: Option<usize>) -> usize {
        let direct: Vec<usize> = (0..self.numbers.len())
            .filter(|&i| match self.numbers[i].usage {
                NumberUse::Tracking(Route::Queue(r)) => q.is_none_or(|q| q == r),
                _ => false,
            })
            .collect();
        let any: Vec<usize> = (0..self.numbers.len())
            .filter(|&i| matches!(self.numbers[i].usage, NumberUse::Tracking(_)))
            .collect();
        let pool = if direct.is_empty() { any } else { direct };
        if pool.is_empty() {
            0
        } else {
            pool[self.rng.random_range(0..pool.len())]
        }
    }

    /// Setup → Answered → queue → agent rings and answers → everyone hangs up: 8 events, plus
    /// one for a caller `Proceeding` when `extra` is odd and two per hold/unhold pair.
    fn burst_answered_call(
        &mut self,
        q: usize,
        agent: usize,
        extra: usize,
        out: &mut Vec<WorldEvent>,
    ) {
        let number = self.burst_tracking_number(Some(q));
        let Some((key, c, from)) = self.start_caller_leg(number, "Setup", out) else {
            return;
        };
        if extra % 2 == 1 {
            self.set_party(key, c, "Proceeding", out);
        }
        self.set_party(key, c, "Answered", out);
        if let Some(call) = self.calls.get_mut(&key) {
            call.queue = Some(q);
            call.queued_at = Some(self.now);
            call.phase = Phase::Waiting;
        }
        let qp = self.add_party(
            key,
            PartyOwner::Queue(q),
            "Inbound",
            from.clone(),
            self.queue_endpoint(number, q),
            "Proceeding",
        );
        self.emit(key, qp, out);
        let ap = self.add_party(
            key,
            PartyOwner::Agent(agent),
            "Inbound",
            from,
            self.queue_endpoint(number, q),
            "Proceeding",
        );
        self.emit(key, ap, out);
        if let Some(call) = self.calls.get_mut(&key) {
            call.answered_at = Some(self.now);
            call.phase = Phase::Talking;
            call.agent_party = Some(ap);
            call.queue_party = Some(qp);
            call.segments.push(AgentSegment {
                agent,
                answered_at: self.now,
                talk_s: 0.0,
                hold_s: 0.0,
            });
        }
        self.set_party(key, ap, "Answered", out);
        self.set_party(key, qp, "Disconnected", out);
        for _ in 0..extra / 2 {
            self.set_party(key, ap, "Hold", out);
            self.set_party(key, ap, "Answered", out);
        }
        self.set_party(key, ap, "Disconnected", out);
        self.set_party(key, c, "Disconnected", out);
        self.end_call(key, Outcome::Answered);
    }

    /// Setup → [Proceeding] → Answered → queue → caller hangs up at once: 5 or 6 events.
    fn burst_abandoned_call(&mut self, with_proceeding: bool, out: &mut Vec<WorldEvent>) {
        let q = self.rng.random_range(0..self.queues.len());
        let number = self.burst_tracking_number(Some(q));
        let Some((key, c, from)) = self.start_caller_leg(number, "Setup", out) else {
            return;
        };
        if with_proceeding {
            self.set_party(key, c, "Proceeding", out);
        }
        self.set_party(key, c, "Answered", out);
        if let Some(call) = self.calls.get_mut(&key) {
            call.queue = Some(q);
            call.queued_at = Some(self.now);
            call.phase = Phase::Waiting;
        }
        let qp = self.add_party(
            key,
            PartyOwner::Queue(q),
            "Inbound",
            from,
            self.queue_endpoint(number, q),
            "Proceeding",
        );
        if let Some(call) = self.calls.get_mut(&key) {
            call.queue_party = Some(qp);
            call.parties[qp].missed = true;
        }
        self.emit(key, qp, out);
        self.set_party(key, qp, "Disconnected", out);
        self.set_party(key, c, "Disconnected", out);
        self.end_call(key, Outcome::ShortAbandon);
    }

    /// A caller who hangs up before reaching a queue: 1–4 events (`size`, capped at 4).
    fn burst_missed_call(&mut self, size: usize, out: &mut Vec<WorldEvent>) {
        let number = self.burst_tracking_number(None);
        let first = match size {
            1 => "Disconnected",
            _ => "Setup",
        };
        let Some((key, c, _)) = self.start_caller_leg(number, first, out) else {
            return;
        };
        let steps: &[&'static str] = match size {
            1 => &[],
            2 => &["Disconnected"],
            3 => &["Proceeding", "Disconnected"],
            _ => &["Proceeding", "Answered", "Disconnected"],
        };
        for &code in steps {
            self.set_party(key, c, code, out);
        }
        self.end_call(key, Outcome::Missed);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::sim::world::{CallLogQuery, WorldConfig};

    fn t0() -> DateTime<Utc> {
        "2026-11-25T14:00:00Z".parse().unwrap()
    }

    /// Lively enough that queues fill up, calls get held, transferred, parked and abandoned.
    fn busy(seed: u64) -> WorldConfig {
        WorldConfig {
            seed,
            calls_per_minute: 30.0,
            agents_per_queue: 12,
            outbound_calls_per_minute: 2.0,
            internal_calls_per_minute: 1.0,
            transfer_probability: 0.2,
            park_probability: 0.1,
            history_minutes: 0,
            max_wait_seconds: 90.0,
            ..WorldConfig::default()
        }
    }

    /// Everything a client can check from the event stream alone, fed one event at a time.
    #[derive(Default)]
    struct StreamCheck {
        session_sequence: BTreeMap<String, u64>,
        party_code: BTreeMap<String, String>,
        /// Agent extension → its parties that are ringing, connected or held.
        agent_lines: BTreeMap<String, BTreeSet<String>>,
        /// Agent extension → telephonyStatus of its latest presence event.
        presence: BTreeMap<String, String>,
        telephony_events: usize,
        codes_seen: BTreeSet<String>,
        reasons_seen: BTreeSet<String>,
    }

    impl StreamCheck {
        fn feed(&mut self, world: &World, event: &WorldEvent) {
            match event {
                WorldEvent::Telephony { extension_id, body } => {
                    let body = &body.to_value();
                    self.telephony_events += 1;
                    let parties = body["parties"].as_array().unwrap();
                    assert_eq!(parties.len(), 1, "one party per body: {body}");
                    let party = &parties[0];
                    let session = body["telephonySessionId"].as_str().unwrap().to_string();
                    let hex = session.strip_prefix("s-").unwrap();
                    assert!(
                        hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()),
                        "{session}"
                    );
                    assert!(
                        body["sessionId"]
                            .as_str()
                            .unwrap()
                            .chars()
                            .all(|c| c.is_ascii_digit())
                    );
                    let party_id = party["id"].as_str().unwrap().to_string();
                    assert!(party_id.starts_with(&format!("p-{hex}-")), "{party_id}");
                    assert_eq!(party["extensionId"].as_str(), extension_id.as_deref());
                    assert_eq!(party["accountId"], world.account_id());
                    let sequence = body["sequence"].as_u64().unwrap();
                    let expected = self.session_sequence.get(&session).map_or(2, |s| s + 1);
                    assert_eq!(sequence, expected, "sequence of {session}");
                    self.session_sequence.insert(session, sequence);

                    let code = party["status"]["code"].as_str().unwrap().to_string();
                    if let Some(previous) = self.party_code.get(&party_id) {
                        assert!(
                            previous != "Disconnected" && previous != "Gone",
                            "{party_id} changed to {code} after {previous}"
                        );
                    }
                    if code == "Gone" {
                        assert!(
                            party["status"]["peerId"]["partyId"].is_string(),
                            "Gone carries peerId: {body}"
                        );
                    }
                    self.codes_seen.insert(code.clone());
                    if let Some(reason) = party["status"]["reason"].as_str() {
                        self.reasons_seen.insert(reason.to_string());
                    }
                    self.party_code.insert(party_id.clone(), code.clone());
                    if let Some(ext) = extension_id
                        && world.agents.iter().any(|a| &a.id == ext)
                    {
                        let lines = self.agent_lines.entry(ext.clone()).or_default();
                        if matches!(code.as_str(), "Setup" | "Proceeding" | "Answered" | "Hold") {
                            lines.insert(party_id);
                        } else {
                            lines.remove(&party_id);
                        }
                        assert!(lines.len() <= 1, "agent {ext} on two calls: {lines:?}");
                    }
                }
                WorldEvent::Presence { extension_id, body } => {
                    let body = body.to_value();
                    assert_eq!(body["extensionId"].as_str(), Some(extension_id.as_str()));
                    self.presence.insert(
                        extension_id.clone(),
                        body["telephonyStatus"].as_str().unwrap().to_string(),
                    );
                }
            }
        }

        /// Presence agrees with telephony: an agent whose party is connected reports
        /// CallConnected, one with no party reports NoCall.
        fn assert_presence_matches(&self) {
            for (ext, lines) in &self.agent_lines {
                let Some(status) = self.presence.get(ext) else {
                    continue;
                };
                match lines.iter().next().map(|p| self.party_code[p].as_str()) {
                    Some("Answered") => assert_eq!(status, "CallConnected", "agent {ext}"),
                    Some("Hold") => assert_eq!(status, "OnHold", "agent {ext}"),
                    Some(_) => assert_eq!(status, "Ringing", "agent {ext}"),
                    None => assert_eq!(status, "NoCall", "agent {ext}"),
                }
            }
        }
    }

    /// Runs the world in one-second steps without the delivery reorder, checking every event.
    fn run_checked(world: &mut World, check: &mut StreamCheck, from: DateTime<Utc>, seconds: i64) {
        for s in 1..=seconds {
            for event in world.run_until(from + Duration::seconds(s)) {
                check.feed(world, &event);
            }
            check.assert_presence_matches();
        }
    }

    #[test]
    fn event_stream_is_consistent_over_two_busy_hours() {
        let mut world = World::new(&busy(7), t0());
        let mut check = StreamCheck::default();
        run_checked(&mut world, &mut check, t0(), 2 * 3600);
        assert!(
            check.telephony_events > 20_000,
            "{} events",
            check.telephony_events
        );
        for code in [
            "Setup",
            "Proceeding",
            "Answered",
            "Hold",
            "Parked",
            "Gone",
            "VoiceMail",
            "Disconnected",
        ] {
            assert!(
                check.codes_seen.contains(code),
                "no {code} in two busy hours"
            );
        }
        for reason in ["BlindTransfer", "AttendedTransfer", "Pickup"] {
            assert!(
                check.reasons_seen.contains(reason),
                "no {reason} in two busy hours"
            );
        }
    }

    #[test]
    fn same_seed_and_times_give_identical_events() {
        let run = |seed: u64| {
            let mut world = World::new(&busy(seed), t0());
            let mut events = Vec::new();
            for ms in (50..=600_000).step_by(50) {
                events.extend(world.advance(t0() + Duration::milliseconds(ms)));
            }
            (events, world.truth(t0() + Duration::minutes(10)))
        };
        let (a, truth_a) = run(42);
        let (b, truth_b) = run(42);
        assert!(!a.is_empty());
        assert_eq!(a, b);
        assert_eq!(truth_a, truth_b);
        let (c, _) = run(43);
        assert_ne!(a, c);
    }

    #[test]
    fn delivery_is_occasionally_out_of_order_but_never_loses_events() {
        let mut world = World::new(&busy(3), t0());
        let mut delivered = Vec::new();
        for s in 1..=1800 {
            delivered.extend(world.advance(t0() + Duration::seconds(s)));
        }
        let mut last: BTreeMap<String, u64> = BTreeMap::new();
        let mut behind = 0;
        for event in &delivered {
            if let WorldEvent::Telephony { body, .. } = event {
                let body = body.to_value();
                let session = body["telephonySessionId"].as_str().unwrap().to_string();
                let sequence = body["sequence"].as_u64().unwrap();
                if last.get(&session).is_some_and(|&l| sequence < l) {
                    behind += 1;
                }
                let entry = last.entry(session).or_insert(0);
                *entry = (*entry).max(sequence);
            }
        }
        assert!(
            behind > 0,
            "some events arrive after a later one of their session"
        );
        let telephony = delivered
            .iter()
            .filter(|e| matches!(e, WorldEvent::Telephony { .. }))
            .count();
        assert!(
            behind * 20 < telephony,
            "{behind} of {telephony} out of order is too many"
        );
    }

    #[test]
    fn burst_emits_exactly_the_requested_number_of_whole_calls() {
        let mut world = World::new(&WorldConfig::default(), t0());
        for count in [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 23, 100, 1000] {
            let keys_before = world.next_call_key;
            let events = world.burst(count, t0());
            assert_eq!(events.len(), count, "burst of {count}");
            let mut check = StreamCheck::default();
            for event in &events {
                assert!(matches!(event, WorldEvent::Telephony { .. }));
                check.feed(&world, event);
            }
            for key in keys_before..world.next_call_key {
                let call = &world.calls[&key];
                assert!(!call.is_live(), "burst call {key} ended");
                assert!(call.parties.iter().all(|p| !p.is_active()));
            }
            assert!(
                world
                    .agents
                    .iter()
                    .all(|a| a.line.is_none_or(|l| l.call < keys_before))
            );
        }
    }

    #[test]
    fn burst_works_while_paused_and_with_every_agent_away() {
        let mut world = World::new(&WorldConfig::default(), t0());
        world.set_paused(true);
        for agent in &mut world.agents {
            agent.availability = Availability::Offline;
        }
        assert_eq!(world.burst(37, t0()).len(), 37);
        assert!(world.advance(t0() + Duration::minutes(5)).is_empty());
    }

    #[test]
    fn pausing_delays_the_world_without_changing_what_happens() {
        let strip = |events: Vec<WorldEvent>| -> Vec<Value> {
            events
                .into_iter()
                .map(|e| match e {
                    WorldEvent::Telephony { body, .. } => {
                        let mut body = body.to_value();
                        body["eventTime"] = Value::Null;
                        body
                    }
                    WorldEvent::Presence { body, .. } => {
                        let mut body = body.to_value();
                        for call in body["activeCalls"].as_array_mut().into_iter().flatten() {
                            call["startTime"] = Value::Null;
                        }
                        body
                    }
                })
                .collect()
        };
        let pause_at = t0() + Duration::minutes(3);
        let mut plain = World::new(&busy(9), t0());
        plain.advance(pause_at);
        let expected = strip(plain.advance(pause_at + Duration::minutes(2)));

        let mut paused = World::new(&busy(9), t0());
        paused.advance(pause_at);
        paused.set_paused(true);
        let live_before: Vec<String> = paused.live_session_ids();
        assert!(paused.advance(pause_at + Duration::hours(1)).is_empty());
        assert_eq!(
            paused.live_session_ids(),
            live_before,
            "nothing progresses while paused"
        );
        paused.set_paused(false);
        let resumed = strip(paused.advance(pause_at + Duration::hours(1) + Duration::minutes(2)));
        assert!(!expected.is_empty());
        assert_eq!(resumed.len(), expected.len());
        for (i, (r, e)) in resumed.iter().zip(&expected).enumerate() {
            assert_eq!(r, e, "event {i} differs");
        }
    }

    #[test]
    fn hostile_mode_sends_escape_sequences_bidi_overrides_and_a_huge_name() {
        let mut world = World::new(&busy(5), t0());
        world.set_hostile(true);
        let mut names = Vec::new();
        for s in 1..=600 {
            for event in world.advance(t0() + Duration::seconds(s)) {
                if let WorldEvent::Telephony { body, .. } = event
                    && let Some(name) = body.to_value()["parties"][0]["from"]["name"].as_str()
                {
                    names.push(name.to_string());
                }
            }
        }
        assert!(names.iter().any(|n| n.contains('\u{1b}')));
        assert!(names.iter().any(|n| n.contains('\u{202E}')));
        assert!(names.iter().any(|n| n.contains('\u{9b}')));
        assert!(names.iter().any(|n| n.len() >= 100 * 1024));
        let labels: Vec<String> = world
            .phone_numbers()
            .iter()
            .filter_map(|n| n["label"].as_str().map(str::to_string))
            .collect();
        assert!(
            labels.iter().any(|l| l.contains("\u{1b}]0;")),
            "an OSC title label"
        );
        // The truth sanitises everything it shows.
        let truth = world.truth(world.now()).to_string();
        let parsed: Value = serde_json::from_str(&truth).unwrap();
        for call in parsed["calls"].as_array().unwrap() {
            if let Some(name) = call["callerName"].as_str() {
                assert!(!name.chars().any(crate::text::is_unsafe_char), "{name:?}");
                assert!(name.chars().count() <= crate::text::MAX_FIELD_CHARS);
            }
        }
        for row in parsed["campaigns"].as_array().unwrap() {
            assert!(
                !row["campaign"]
                    .as_str()
                    .unwrap()
                    .chars()
                    .any(crate::text::is_unsafe_char)
            );
        }
    }

    #[test]
    fn calls_older_than_the_retention_are_forgotten_with_their_recordings() {
        let cfg = WorldConfig {
            calls_per_minute: 1.0,
            ..WorldConfig::short_calls(12)
        };
        let mut world = World::new(&cfg, t0());
        let first_recorded = loop {
            let now = world.now() + Duration::minutes(1);
            world.advance(now);
            if let Some(call) = world
                .calls
                .values()
                .find(|c| c.recording.is_some() && !c.is_live())
            {
                break (call.key, call.recording.clone().unwrap());
            }
        };
        assert!(world.recording(&first_recorded.1).is_some());
        for hour in 1..=27 {
            world.advance(t0() + Duration::hours(hour));
        }
        let horizon = world.now() - Duration::hours(RETENTION_HOURS);
        assert!(!world.calls.contains_key(&first_recorded.0));
        assert!(world.recording(&first_recorded.1).is_none());
        assert!(
            world
                .calls
                .values()
                .all(|c| c.ended_at.is_none_or(|e| e >= horizon))
        );
        assert!(!world.call_log(&CallLogQuery::default()).is_empty());
    }

    #[test]
    fn nonsense_configs_neither_stall_nor_panic_the_world() {
        for bad in [f64::NAN, f64::INFINITY, -5.0, 1e-12, 1e12] {
            let cfg = WorldConfig {
                calls_per_minute: bad,
                outbound_calls_per_minute: bad,
                internal_calls_per_minute: bad,
                mean_talk_seconds: bad,
                min_talk_seconds: bad,
                mean_hold_seconds: bad,
                mean_patience_seconds: bad,
                max_wait_seconds: bad,
                mean_ring_seconds: bad,
                ring_timeout_seconds: bad,
                mean_ivr_seconds: bad,
                greeting_seconds: bad,
                mean_voicemail_seconds: bad,
                mean_park_seconds: bad,
                hold_probability: bad,
                transfer_probability: bad,
                park_probability: bad,
                no_answer_probability: bad,
                recording_probability: bad,
                repeat_caller_probability: bad,
                reorder_probability: bad,
                mean_available_minutes: bad,
                mean_away_minutes: bad,
                call_log_delay_seconds: bad,
                recording_delay_seconds: bad,
                history_minutes: if bad > 1.0 { u32::MAX } else { 0 },
                queues: 0,
                agents_per_queue: 0,
                ctn_numbers: 0,
                ..WorldConfig::default()
            };
            // Just after midnight, so even an endless history is 30 s long.
            let start: DateTime<Utc> = "2026-11-25T00:00:30Z".parse().unwrap();
            let mut world = World::new(&cfg, start);
            assert!(
                world
                    .calls
                    .values()
                    .all(|c| c.started_at >= start - Duration::seconds(30))
            );
            let events = world.advance(start + Duration::seconds(2));
            // At most ten calls a second of each kind, each a bounded number of events.
            assert!(
                events.len() < 2_000,
                "{bad}: {} events in 2 s",
                events.len()
            );
            world.truth(world.now());
        }
    }

    #[test]
    fn timers_pop_earliest_first_then_in_scheduling_order() {
        let mut heap = std::collections::BinaryHeap::new();
        heap.push(Timer {
            at: t0() + Duration::seconds(2),
            order: 1,
            action: Action::InboundArrival,
        });
        heap.push(Timer {
            at: t0(),
            order: 3,
            action: Action::OutboundArrival,
        });
        heap.push(Timer {
            at: t0(),
            order: 2,
            action: Action::InternalArrival,
        });
        let popped: Vec<Action> = std::iter::from_fn(|| heap.pop().map(|t| t.action)).collect();
        assert_eq!(
            popped,
            vec![
                Action::InternalArrival,
                Action::OutboundArrival,
                Action::InboundArrival
            ]
        );
    }
}
