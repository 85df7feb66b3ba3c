//! Inputs → state: telephony and presence events, REST snapshots, the call log, the directory,
//! the number book, and the clock tick that rolls the day and ages finished calls out.
//!
//! Every telephony input becomes a [`PartyUpdate`]; a party takes an update only if its
//! sequence is newer than the one it holds (PROTOCOL.md §9.6), so a replayed event is a no-op.
//! After a call's parties change, everything about the call is derived again from its parties
//! (state, queue, agent, times, outcome), then the call's tally contribution is swapped for the
//! new one. Strings are sanitised here, once, as they enter the board.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use compact_str::CompactString;

use crate::board::metrics::SlaSettings;
use crate::board::model::{
    Agent, AgentState, Applied, Board, Call, CallCounts, CallDirection, CallSource, CallState,
    Contribution, Endpoint, FastMap, FixedMs, Interner, NumberEntry, NumberStats, Outcome,
    PackedSummary, PartyList, PartyState, Queue, RecordingRef, from_index_time, index_time,
    local_midnight, minute_index, normalize_number,
};
use crate::rc::events::{
    self, Direction, EventBody, Notification, PartyStatus, PresenceEvent, TelephonyEvent,
    parse_timestamp,
};
use crate::rc::records::{
    CallLogRecord, CallQueue, CallQueueMember, CallQueuePresence, Extension, PhoneNumber, Presence,
    TelephonySession,
};
use crate::text::sanitize;

/// Extension types whose parties are never agents (their answer is not an agent's answer).
const NON_AGENT_TYPES: &[&str] = &[
    "Department",
    "IvrMenu",
    "Announcement",
    "Voicemail",
    "ParkLocation",
    "PagingOnly",
    "ApplicationExtension",
];

fn clean(s: &str) -> String {
    sanitize(s).into_owned()
}

fn clean_opt(s: Option<&str>) -> Option<String> {
    s.map(clean).filter(|s| !s.is_empty())
}

/// Stores the shared copy of `value` (already sanitised) in `slot` if it is non-empty and
/// differs; looks it up in the interner only then. Returns whether the slot changed.
fn set_shared(slot: &mut Option<Arc<str>>, value: Option<&str>, texts: &mut Interner) -> bool {
    match value {
        Some(v) if !v.is_empty() && slot.as_deref() != Some(v) => {
            *slot = Some(texts.intern(v));
            true
        }
        _ => false,
    }
}

/// Copies `value` into `slot` when it differs (an `Arc` clone: no allocation).
fn copy_text(slot: &mut Option<Arc<str>>, value: Option<&Arc<str>>) {
    if slot.as_deref() != value.map(|v| &**v) {
        *slot = value.cloned();
    }
}

/// Like [`copy_text`], but a missing value keeps what the slot holds.
fn update_text(slot: &mut Option<Arc<str>>, value: Option<&Arc<str>>) {
    if value.is_some() {
        copy_text(slot, value);
    }
}

/// Like [`update_text`] for a text the call holds inline (its caller's number and name):
/// copies `value` only when it differs.
fn update_inline(slot: &mut Option<CompactString>, value: Option<&Arc<str>>) {
    if let Some(value) = value
        && slot.as_deref() != Some(&**value)
    {
        *slot = Some(CompactString::from(&**value));
    }
}

/// Sets `slot` to the shared copy of `value` (a name the board holds as a `String`) when it
/// differs.
fn copy_name(slot: &mut Option<Arc<str>>, value: Option<&str>, texts: &mut Interner) {
    if slot.as_deref() != value {
        *slot = value.map(|v| texts.intern(v));
    }
}

/// Like [`set_shared`] for raw network text, which is sanitised (and put in shape by `shape`)
/// only when it differs from what the slot holds: what a slot holds is already clean, so raw
/// text equal to it is too, and most events repeat what the board has.
fn merge_raw(
    slot: &mut Option<Arc<str>>,
    raw: Option<&str>,
    texts: &mut Interner,
    shape: impl Fn(&str) -> std::borrow::Cow<'_, str>,
) -> bool {
    let Some(raw) = raw else {
        return false;
    };
    if slot.as_deref() == Some(raw) {
        return false;
    }
    let clean = sanitize(raw);
    set_shared(slot, Some(&shape(&clean)), texts)
}

/// The shared copy of an owned text, if any.
fn shared(value: Option<String>, texts: &mut Interner) -> Option<Arc<str>> {
    value.map(|v| texts.intern(&v))
}

/// One party's change, from an event or a REST read, with borrowed strings.
struct PartyUpdate<'x> {
    id: &'x str,
    /// `None` for REST reads, which carry no sequence.
    sequence: Option<u64>,
    extension_id: Option<&'x str>,
    direction: Option<Direction>,
    status: Option<PartyStatus>,
    reason: Option<&'x str>,
    from: EndpointRef<'x>,
    to: EndpointRef<'x>,
    queue_call: Option<bool>,
    missed_call: Option<bool>,
    recording: Option<&'x str>,
}

#[derive(Default)]
struct EndpointRef<'x> {
    phone_number: Option<&'x str>,
    name: Option<&'x str>,
    extension_id: Option<&'x str>,
}

impl<'x> EndpointRef<'x> {
    fn from_event(e: Option<&'x events::Endpoint<'_>>) -> EndpointRef<'x> {
        e.map(|e| EndpointRef {
            phone_number: e.phone_number.as_deref(),
            name: e.name.as_deref(),
            extension_id: e.extension_id.as_deref(),
        })
        .unwrap_or_default()
    }

    fn from_record(e: Option<&'x crate::rc::records::SessionEndpoint>) -> EndpointRef<'x> {
        e.map(|e| EndpointRef {
            phone_number: e.phone_number.as_deref(),
            name: e.name.as_deref(),
            extension_id: e.extension_id.as_deref(),
        })
        .unwrap_or_default()
    }

    /// Fills what the party does not know yet, and takes newer values; allocates only for a
    /// value that differs from the one held.
    fn merge_into(&self, target: &mut Endpoint, texts: &mut Interner) -> bool {
        fn as_is(text: &str) -> std::borrow::Cow<'_, str> {
            std::borrow::Cow::Borrowed(text)
        }
        let changed_number = merge_raw(
            &mut target.phone_number,
            self.phone_number,
            texts,
            normalize_number,
        );
        let changed_name = merge_raw(&mut target.name, self.name, texts, as_is);
        let changed_extension =
            merge_raw(&mut target.extension_id, self.extension_id, texts, as_is);
        changed_number || changed_name || changed_extension
    }
}

impl Board {
    // -----------------------------------------------------------------------------------------
    // Events

    /// Applies one parsed notification (telephony or presence). The envelope `timestamp`
    /// stands in for a missing `eventTime`, and `now` for both.
    pub fn apply_notification(&mut self, note: &Notification<'_>, now: DateTime<Utc>) -> Applied {
        // Each branch moves the board to `now` once (`apply_presence` does so itself).
        let envelope_time = note.timestamp.as_deref();
        match &note.body {
            EventBody::Telephony(ev) => {
                self.tick(now);
                self.apply_telephony_at(ev, envelope_time, now)
            }
            EventBody::Presence(ev) => {
                let at = envelope_time.and_then(parse_timestamp).unwrap_or(now);
                self.apply_presence(ev, at, now)
            }
            EventBody::Other => {
                self.tick(now);
                Applied::Ignored
            }
        }
    }

    /// Parses a WS frame or bare envelope and applies the notification it carries (the same
    /// parse as the live path, [`crate::rc::apply::apply_notification`]). Frames that carry no
    /// notification apply as `Ignored`.
    pub fn apply_frame(
        &mut self,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<Applied, events::ParseError> {
        Ok(match events::parse_notification(text)? {
            Some(note) => self.apply_notification(&note, now),
            None => Applied::Ignored,
        })
    }

    /// Applies one telephony-session event body.
    pub fn apply_telephony(&mut self, ev: &TelephonyEvent<'_>, now: DateTime<Utc>) -> Applied {
        self.tick(now);
        self.apply_telephony_at(ev, None, now)
    }

    /// Applies a telephony body to a board its caller has already moved to `now` (`tick`).
    fn apply_telephony_at<'e>(
        &mut self,
        ev: &'e TelephonyEvent<'_>,
        envelope_time: Option<&str>,
        now: DateTime<Utc>,
    ) -> Applied {
        let Some(session) = ev.telephony_session_id.as_deref().filter(|s| !s.is_empty()) else {
            return Applied::Ignored;
        };
        let at = ev
            .event_time
            .as_deref()
            .and_then(parse_timestamp)
            .or_else(|| envelope_time.and_then(parse_timestamp))
            .unwrap_or(now);
        let to_update = |p: &'e events::Party<'_>| {
            Some(PartyUpdate {
                id: p.id.as_deref().filter(|id| !id.is_empty())?,
                sequence: ev.sequence,
                extension_id: p.extension_id.as_deref(),
                direction: p.direction(),
                status: p.status(),
                reason: p.status.as_ref().and_then(|s| s.reason.as_deref()),
                from: EndpointRef::from_event(p.from.as_ref()),
                to: EndpointRef::from_event(p.to.as_ref()),
                queue_call: p.queue_call,
                missed_call: p.missed_call,
                recording: p
                    .recordings
                    .as_ref()
                    .and_then(|r| r.iter().rev().find_map(|r| r.id.as_deref())),
            })
        };
        let session_id = ev.session_id.as_deref();
        // Events carry one party: no list is built for them.
        let applied = match ev.parties.as_slice() {
            [party] => match to_update(party) {
                Some(update) => {
                    let updates = std::slice::from_ref(&update);
                    self.apply_party_updates(session, session_id, updates, at, at, now)
                }
                None => return Applied::Ignored,
            },
            parties => {
                let updates: Vec<PartyUpdate<'_>> = parties.iter().filter_map(to_update).collect();
                if updates.is_empty() {
                    return Applied::Ignored;
                }
                self.apply_party_updates(session, session_id, &updates, at, at, now)
            }
        };
        self.age_out(now);
        applied
    }

    /// Applies one detailed presence body. `at` is when it happened (the envelope time).
    pub fn apply_presence(
        &mut self,
        ev: &PresenceEvent<'_>,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Applied {
        self.tick(now);
        let Some(extension_id) = ev.extension_id.as_deref().filter(|s| !s.is_empty()) else {
            return Applied::Ignored;
        };
        let current_call = ev
            .active_calls
            .iter()
            .filter(|c| c.telephony_status.as_deref() != Some("NoCall"))
            .find_map(|c| c.telephony_session_id.as_deref());
        let input = PresenceInput {
            sequence: ev.sequence,
            presence_status: ev.presence_status.as_deref(),
            user_status: ev.user_status.as_deref(),
            dnd_status: ev.dnd_status.as_deref(),
            telephony_status: ev.telephony_status.as_deref(),
            accept_queue_calls: ev.accept_call_queue_calls,
            current_call,
        };
        self.apply_presence_input(extension_id, &input, at, now)
    }

    /// Applies a REST read of presence (`…/presence?detailedTelephonyState=true`, account or
    /// extension), e.g. at start or after a resync.
    pub fn apply_presence_snapshot(&mut self, records: &[Presence], now: DateTime<Utc>) -> Applied {
        let mut any = Applied::Ignored;
        for record in records {
            let Some(extension_id) = record.extension_id() else {
                continue;
            };
            let current_call = record
                .active_calls
                .iter()
                .filter(|c| c.telephony_status.as_deref() != Some("NoCall"))
                .find_map(|c| c.telephony_session_id.as_deref());
            let input = PresenceInput {
                // A snapshot is the truth now, whatever sequence the last event had.
                sequence: None,
                presence_status: record.presence_status.as_deref(),
                user_status: record.user_status.as_deref(),
                dnd_status: record.dnd_status.as_deref(),
                telephony_status: record.telephony_status.as_deref(),
                accept_queue_calls: record.accept_call_queue_calls,
                current_call,
            };
            if self.apply_presence_input(extension_id, &input, now, now) == Applied::Changed {
                any = Applied::Changed;
            }
            if let (Some(seq), Some(agent)) = (record.sequence, self.agents.get_mut(extension_id)) {
                agent.presence_sequence = Some(seq);
            }
        }
        any
    }

    fn apply_presence_input(
        &mut self,
        extension_id: &str,
        input: &PresenceInput<'_>,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Applied {
        let extension_id = sanitize(extension_id);
        let extension_id = extension_id.as_ref();
        if !self.agents.contains_key(extension_id) {
            self.agents
                .insert(extension_id.to_owned(), new_agent(extension_id, now));
        }
        let Some(agent) = self.agents.get_mut(extension_id) else {
            return Applied::Ignored;
        };
        if let (Some(seq), Some(held)) = (input.sequence, agent.presence_sequence) {
            if seq <= held {
                self.stale_events += 1;
                return Applied::Stale;
            }
        }
        if let Some(seq) = input.sequence {
            agent.presence_sequence = Some(seq);
        }
        let mut changed = !agent.has_presence;
        agent.has_presence = true;
        for (slot, value) in [
            (&mut agent.presence_status, input.presence_status),
            (&mut agent.user_status, input.user_status),
            (&mut agent.dnd_status, input.dnd_status),
            (&mut agent.telephony_status, input.telephony_status),
        ] {
            if let Some(value) = value.filter(|v| slot.as_deref() != Some(*v)) {
                changed |= set_shared(slot, Some(&sanitize(value)), &mut self.texts);
            }
        }
        if input.accept_queue_calls.is_some()
            && agent.accept_queue_calls != input.accept_queue_calls
        {
            agent.accept_queue_calls = input.accept_queue_calls;
            changed = true;
        }
        let current_call = input.current_call.map(sanitize);
        if agent.current_call.as_deref() != current_call.as_deref() {
            agent.current_call = current_call.map(|c| c.into_owned());
            changed = true;
        }
        let state = agent_state(agent);
        if state != agent.state {
            agent.state = state;
            agent.state_since = at;
        }
        if changed {
            agent.changed_at = now;
        }
        let dnd_reported = input.dnd_status.is_some();
        for queue in self.queues.values_mut() {
            if let Some(accepts) = queue.members.get_mut(extension_id) {
                // The queue-presence read is a snapshot; a newer presence that states the
                // agent's do-not-disturb mode is what decides queue calls from now on.
                if dnd_reported && accepts.is_some() {
                    *accepts = None;
                    changed = true;
                }
                if changed {
                    queue.changed_at = now;
                }
            }
        }
        if !changed {
            return Applied::Stale;
        }
        self.revision += 1;
        Applied::Changed
    }

    // -----------------------------------------------------------------------------------------
    // REST reads

    /// Applies a REST read of one live session (a resync). Parties move to the status the
    /// platform reports now; their sequences are kept, so later events still apply in order.
    pub fn apply_session_snapshot(
        &mut self,
        session: &TelephonySession,
        now: DateTime<Utc>,
    ) -> Applied {
        self.roll_day(now);
        if session.id.is_empty() {
            return Applied::Ignored;
        }
        let updates: Vec<PartyUpdate<'_>> = session
            .parties
            .iter()
            .filter_map(|p| {
                Some(PartyUpdate {
                    id: p.id.as_deref().filter(|id| !id.is_empty())?,
                    sequence: None,
                    extension_id: p.extension_id(),
                    direction: p.direction.as_deref().and_then(Direction::from_wire),
                    status: p
                        .status
                        .as_ref()
                        .and_then(|s| s.code.as_deref())
                        .map(PartyStatus::from_code),
                    reason: p.status.as_ref().and_then(|s| s.reason.as_deref()),
                    from: EndpointRef::from_record(p.from.as_ref()),
                    to: EndpointRef::from_record(p.to.as_ref()),
                    queue_call: p.queue_call,
                    missed_call: p.missed_call,
                    recording: p
                        .recordings
                        .as_ref()
                        .and_then(|r| r.iter().rev().find_map(|r| r.id.as_deref())),
                })
            })
            .collect();
        if updates.is_empty() {
            return Applied::Ignored;
        }
        let started = session.created_at().unwrap_or(now);
        self.apply_party_updates(&session.id, None, &updates, now, started, now)
    }

    /// After a resync: every live call whose id is not in `active_ids` ended while the board
    /// was not listening. It is closed at `now` (its open parties disconnected), never left
    /// stuck as live.
    pub fn end_missing_live_calls<I, S>(&mut self, active_ids: I, now: DateTime<Utc>) -> usize
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let active: HashSet<String> = active_ids
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .collect();
        let missing: Vec<Arc<str>> = self
            .calls
            .values()
            .filter(|c| c.is_live() && !active.contains(&*c.id))
            .map(|c| Arc::clone(&c.id))
            .collect();
        for id in &missing {
            let Some((key, mut call)) = self.calls.remove_entry(id) else {
                continue;
            };
            let old_start = call.started_at;
            let old_end = call.ended_at;
            let counted = self.contribution_of(&call);
            for party in call.parties.iter_mut() {
                if !party.status.is_terminal() {
                    transition(
                        party,
                        PartyStatus::Disconnected,
                        now.max(party.status_since),
                    );
                }
            }
            if call.parties.is_empty() {
                call.ended_at = Some(now);
            }
            call.end_seen = false;
            self.finish_call_update(key, call, old_start, old_end, counted, now);
        }
        if !missing.is_empty() {
            self.revision += 1;
        }
        missing.len()
    }

    /// The calls a resync closed whose real end is not yet known: the ones to look up in the
    /// call log.
    pub fn calls_ended_unseen(&self) -> impl Iterator<Item = &Call> {
        self.calls.values().map(|c| &**c).filter(|c| !c.end_seen)
    }

    /// Replaces each call a resync closed (its end unseen) by what its call-log record says:
    /// when it really ended, whether and when it was answered, by whom, and its outcome. Its
    /// old tally contribution is swapped for the record's, so every count is corrected exactly
    /// once. Records of other calls, or of calls already corrected, change nothing. Returns the
    /// number of calls corrected.
    pub fn correct_from_call_log(
        &mut self,
        records: &[CallLogRecord],
        now: DateTime<Utc>,
    ) -> usize {
        self.roll_day(now);
        let mut corrected = 0;
        for record in records {
            let id = clean(record.telephony_session_id.as_deref().unwrap_or(&record.id));
            if self.calls.get(id.as_str()).is_none_or(|c| c.end_seen) {
                continue;
            }
            let Some((key, old)) = self.calls.remove_entry(id.as_str()) else {
                continue;
            };
            let Some(mut call) = self.call_from_log(record, now) else {
                // An unreadable record leaves the call as the resync closed it.
                self.calls.insert(key, old);
                continue;
            };
            // The same call, corrected: it keeps its place among waiting calls, what the
            // caller check found when it was first seen, and the counts it added so far (which
            // the update below takes back).
            let old = *old;
            call.id = Arc::clone(&key);
            call.serial = old.serial;
            call.first_time_caller = old.first_time_caller;
            call.caller_checked = old.caller_checked;
            let counted = self.contribution_of(&old);
            if call.recording.is_none() {
                call.recording = old.recording.map(|mut r| {
                    r.active = false;
                    r
                });
            }
            let (start, end) = (old.started_at, old.ended_at);
            self.finish_call_update(key, Box::new(call), start, end, counted, now);
            corrected += 1;
        }
        if corrected > 0 {
            self.revision += 1;
        }
        corrected
    }

    /// Loads today's finished calls from the call log (Detailed view, any order), skipping
    /// calls the board already holds or has aged out. Legs follow the convention at the end of
    /// docs/ARCHITECTURE.md: caller leg, queue leg (`to.extensionId` = queue), answering agent
    /// legs (`result: Accepted`).
    pub fn bootstrap_from_call_log(
        &mut self,
        records: &[CallLogRecord],
        now: DateTime<Utc>,
    ) -> usize {
        self.roll_day(now);
        let mut ordered: Vec<&CallLogRecord> = records.iter().collect();
        ordered.sort_by_key(|r| r.started_at());
        let mut added = 0;
        for record in ordered {
            if let Some(call) = self.call_from_log(record, now) {
                let id = Arc::clone(&call.id);
                let started = call.started_at;
                self.by_start.insert((index_time(started), Arc::clone(&id)));
                let counted = Contribution::default();
                self.finish_call_update(id, Box::new(call), started, None, counted, now);
                added += 1;
            }
        }
        if added > 0 {
            self.revision += 1;
        }
        self.age_out(now);
        added
    }

    fn call_from_log(&mut self, record: &CallLogRecord, now: DateTime<Utc>) -> Option<Call> {
        if record.deleted == Some(true) {
            return None;
        }
        let id = clean(record.telephony_session_id.as_deref().unwrap_or(&record.id));
        if id.is_empty()
            || self.calls.contains_key(id.as_str())
            || self.forgotten.contains(id.as_str())
        {
            return None;
        }
        let started_at = record.started_at()?;
        let duration_ms = (record.duration_seconds().unwrap_or(0.0) * 1000.0).round() as i64;
        // A nonsensical duration (beyond chrono's range) drops the record rather than the board.
        let ended_at = Duration::try_milliseconds(duration_ms.max(0))
            .and_then(|d| started_at.checked_add_signed(d))?;
        let from = record.from.as_ref();
        let to = record.to.as_ref();
        let from_ext = from.and_then(|p| p.extension_id.as_deref()).is_some();
        let to_ext = to.and_then(|p| p.extension_id.as_deref()).is_some();
        let direction = match record.direction.as_deref() {
            Some("Inbound") if from_ext => CallDirection::Internal,
            Some("Inbound") => CallDirection::Inbound,
            Some("Outbound") if to_ext || to.and_then(|p| p.phone_number.as_deref()).is_none() => {
                CallDirection::Internal
            }
            Some("Outbound") => CallDirection::Outbound,
            _ => CallDirection::Unknown,
        };
        let number = |p: Option<&crate::rc::records::CallLogParty>| {
            p.and_then(|p| p.phone_number.as_deref().or(p.extension_number.as_deref()))
                .map(|n| normalize_number(&clean(n)).into_owned())
                .filter(|n| !n.is_empty())
        };
        let (caller, caller_name, dialed) = match direction {
            CallDirection::Outbound | CallDirection::Internal => (
                number(to),
                clean_opt(to.and_then(|p| p.name.as_deref())),
                None,
            ),
            _ => (
                number(from),
                clean_opt(from.and_then(|p| p.name.as_deref())),
                number(to),
            ),
        };
        // The caller's (master) leg may name the queue as its destination too; the queue leg is
        // the one that starts when the call enters the queue.
        let queue_leg = record.legs.iter().find(|leg| {
            leg.master != Some(true)
                && leg
                    .to
                    .as_ref()
                    .and_then(|t| t.extension_id.as_deref())
                    .is_some_and(|ext| self.queues.contains_key(ext))
        });
        let queue_leg = queue_leg.or_else(|| {
            // Without the queue list, the convention's second leg is the queue leg.
            (self.queues.is_empty() && record.legs.len() >= 2)
                .then(|| &record.legs[1])
                .filter(|leg| {
                    leg.to
                        .as_ref()
                        .and_then(|t| t.extension_id.as_deref())
                        .is_some()
                })
        });
        let agent_legs: Vec<_> = record
            .legs
            .iter()
            .filter(|leg| {
                let extension = leg.extension.as_ref().and_then(|e| e.id.as_deref());
                let to_extension = leg.to.as_ref().and_then(|t| t.extension_id.as_deref());
                // The queue leg carries the call's overall result too; it is not an agent.
                let is_queue_leg = queue_leg.is_some_and(|q| std::ptr::eq(q, *leg))
                    || extension.is_some_and(|e| self.is_non_agent_extension(e))
                    || to_extension.is_some_and(|e| self.is_non_agent_extension(e));
                leg.result.as_deref() == Some("Accepted")
                    && leg.master != Some(true)
                    && extension.is_some()
                    && !is_queue_leg
            })
            .collect();
        let answered_at = agent_legs.iter().filter_map(|l| l.started_at()).min();
        let last_agent = agent_legs.iter().max_by_key(|l| l.started_at());
        let talk_ms: i64 = agent_legs
            .iter()
            .filter_map(|l| l.duration_seconds())
            .map(|s| (s * 1000.0).round() as i64)
            .sum();
        let voicemail = record.result.as_deref() == Some("Voicemail");
        let connected = matches!(
            record.result.as_deref(),
            Some("Accepted" | "Call connected")
        );
        let placed_by_agent =
            matches!(direction, CallDirection::Outbound | CallDirection::Internal);
        // The log has no answer time for a call placed by an agent, nor for a direct call the
        // extension took itself: the call's start stands in, and its whole length is talk.
        let answered_at = answered_at.or_else(|| {
            (connected && (placed_by_agent || queue_leg.is_none())).then_some(started_at)
        });
        let talk_ms = if agent_legs.is_empty() && answered_at.is_some() {
            duration_ms.max(0)
        } else {
            talk_ms
        };
        // As with events, a call names its agent once someone answered.
        let (agent_id, agent_name) = if answered_at.is_none() {
            (None, None)
        } else if placed_by_agent {
            (
                from.and_then(|p| p.extension_id.as_deref()),
                clean_opt(from.and_then(|p| p.name.as_deref())),
            )
        } else {
            let id = last_agent.and_then(|l| l.extension.as_ref().and_then(|e| e.id.as_deref()));
            let name = last_agent
                .and_then(|l| l.extension.as_ref().and_then(|e| e.name.as_deref()))
                .map(clean);
            (id, name)
        };
        let agent_name = agent_name.or_else(|| {
            agent_id
                .and_then(|id| self.agents.get(id))
                .and_then(|a| a.name.clone())
        });
        let queue_id =
            queue_leg.and_then(|l| l.to.as_ref().and_then(|t| t.extension_id.as_deref()));
        let queue_name = queue_id
            .and_then(|q| self.queues.get(q).map(|q| q.name.clone()))
            .or_else(|| {
                clean_opt(queue_leg.and_then(|l| l.to.as_ref().and_then(|t| t.name.as_deref())))
            });
        let queued_at = queue_leg.and_then(|l| l.started_at());
        let queue_id = queue_id.map(clean);
        let agent_id = agent_id.map(clean);
        let texts = &mut self.texts;
        let caller = caller.map(CompactString::from);
        let caller_name = caller_name.map(CompactString::from);
        let dialed = shared(dialed, texts);
        let queue_id = shared(queue_id, texts);
        let queue_name = shared(queue_name, texts);
        let agent_id = shared(agent_id, texts);
        let agent_name = shared(agent_name, texts);
        let first_time_caller = self.note_caller(direction, caller.as_deref());
        let serial = self.next_serial();
        let mut call = Call {
            id: Arc::from(id),
            session_id: clean_opt(record.session_id.as_deref()).map(CompactString::from),
            direction,
            caller,
            caller_name,
            dialed,
            queue_id,
            queue_name,
            agent_id,
            agent_name,
            state: CallState::Ended,
            outcome: Outcome::Live,
            started_at,
            queued_at,
            answered_at,
            voicemail_at: voicemail.then_some(ended_at),
            ended_at: Some(ended_at),
            end_seen: true,
            recording: record.recording.as_ref().map(|r| {
                Box::new(RecordingRef {
                    id: clean(&r.id),
                    active: false,
                })
            }),
            first_time_caller,
            changed_at: now,
            parties: PartyList::default(),
            caller_checked: true,
            source: CallSource::CallLog {
                talk_ms: FixedMs::new(talk_ms),
            },
            serial,
        };
        call.outcome = self.outcome_of(&call);
        Some(call)
    }

    // -----------------------------------------------------------------------------------------
    // Directory and number book

    /// Sets the account's phone numbers (all pages). Labels are read with the board's grammar;
    /// calls are attributed by these labels from now on, today's included.
    pub fn set_numbers(&mut self, numbers: &[PhoneNumber], now: DateTime<Utc>) {
        self.book.clear();
        self.book_ids.clear();
        for record in numbers {
            let number = normalize_number(&clean(&record.phone_number)).into_owned();
            if number.is_empty() {
                continue;
            }
            let label = clean_opt(record.label.as_deref());
            let entry = NumberEntry {
                id: clean(&record.id),
                number: number.clone(),
                parsed: self.config.label_grammar.parse(label.as_deref()),
                label,
                usage_type: clean_opt(record.usage_type.as_deref()),
                extension_name: clean_opt(
                    record.extension.as_ref().and_then(|e| e.name.as_deref()),
                ),
                changed_at: now,
            };
            self.book_ids.insert(entry.id.clone(), number.clone());
            self.book.insert(number, entry);
        }
        self.revision += 1;
    }

    /// Changes one number's label (after a relabel the platform confirmed, or to roll one
    /// back). Today's and live calls to it move to the new campaign at once. Returns false if
    /// the board does not know the number.
    pub fn set_number_label(
        &mut self,
        number_or_id: &str,
        label: Option<&str>,
        now: DateTime<Utc>,
    ) -> bool {
        let key = if self.book.contains_key(number_or_id) {
            number_or_id.to_owned()
        } else if let Some(number) = self.book_ids.get(number_or_id) {
            number.clone()
        } else {
            let normalized = normalize_number(number_or_id).into_owned();
            if !self.book.contains_key(&normalized) {
                return false;
            }
            normalized
        };
        let label = clean_opt(label);
        let parsed = self.config.label_grammar.parse(label.as_deref());
        let Some(entry) = self.book.get_mut(&key) else {
            return false;
        };
        entry.label = label;
        entry.parsed = parsed;
        entry.changed_at = now;
        if let Some(stats) = self.number_stats.get_mut(&key) {
            stats.changed_at = Some(now);
        }
        self.revision += 1;
        true
    }

    /// Sets the call queues (list items or details). A queue's own service-level settings
    /// replace the defaults when the record carries them; held calls are re-derived so their
    /// thresholds follow.
    pub fn set_queues(&mut self, queues: &[CallQueue], now: DateTime<Utc>) {
        // What a call counts depends on its queue's thresholds: the calls of queues whose
        // settings change are taken back as they were counted, under the old settings.
        let changing: HashSet<String> = queues
            .iter()
            .filter(|record| record.service_level_settings.is_some())
            .filter(|record| {
                let new = SlaSettings::from_record(record.service_level_settings.as_ref());
                let old = self.queues.get(&clean(&record.id)).map(|q| q.sla);
                old.unwrap_or_default() != new
            })
            .map(|record| clean(&record.id))
            .collect();
        let counted_before: HashMap<Arc<str>, Contribution> = if changing.is_empty() {
            HashMap::new()
        } else {
            self.calls
                .values()
                .filter(|c| c.queue_id.as_deref().is_some_and(|q| changing.contains(q)))
                .map(|c| (Arc::clone(&c.id), self.contribution_of(c)))
                .collect()
        };
        for record in queues {
            let id = clean(&record.id);
            if id.is_empty() {
                continue;
            }
            let name = clean_opt(record.name.as_deref());
            let queue = self
                .queues
                .entry(id.clone())
                .or_insert_with(|| new_queue(&id, name.as_deref(), now));
            if let Some(name) = name {
                queue.name = name;
            }
            if let Some(number) = clean_opt(record.extension_number.as_deref()) {
                queue.extension_number = Some(number);
            }
            if record.service_level_settings.is_some() {
                queue.sla = SlaSettings::from_record(record.service_level_settings.as_ref());
            }
            queue.discovered = false;
            queue.changed_at = now;
        }
        self.rederive_all(&counted_before, now);
        self.revision += 1;
    }

    /// Sets the members of one queue (`…/call-queues/{id}/members`).
    pub fn set_queue_members(
        &mut self,
        queue_id: &str,
        members: &[CallQueueMember],
        now: DateTime<Utc>,
    ) {
        let queue_id = clean(queue_id);
        let queue = self
            .queues
            .entry(queue_id.clone())
            .or_insert_with(|| new_queue(&queue_id, None, now));
        let previous = std::mem::take(&mut queue.members);
        for member in members {
            let id = clean(&member.id);
            let accepts = previous.get(&id).copied().flatten();
            queue.members.insert(id.clone(), accepts);
            let agent = self
                .agents
                .entry(id.clone())
                .or_insert_with(|| new_agent(&id, now));
            if agent.extension_number.is_none() {
                agent.extension_number = clean_opt(member.extension_number.as_deref());
            }
        }
        queue.changed_at = now;
        self.revision += 1;
    }

    /// Sets one queue's member presence (`…/call-queues/{id}/presence`): members with names and
    /// whether each takes this queue's calls now.
    pub fn set_queue_presence(
        &mut self,
        queue_id: &str,
        records: &[CallQueuePresence],
        now: DateTime<Utc>,
    ) {
        let queue_id = clean(queue_id);
        let queue = self
            .queues
            .entry(queue_id.clone())
            .or_insert_with(|| new_queue(&queue_id, None, now));
        for record in records {
            let Some(id) = clean_opt(record.member.id.as_deref()) else {
                continue;
            };
            let accepts = match (record.accept_queue_calls, record.accept_current_queue_calls) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), _) | (_, Some(true)) => Some(true),
                (None, None) => None,
            };
            queue.members.insert(id.clone(), accepts);
            let agent = self
                .agents
                .entry(id.clone())
                .or_insert_with(|| new_agent(&id, now));
            if let Some(name) = clean_opt(record.member.name.as_deref()) {
                agent.name = Some(name);
            }
            if let Some(number) = clean_opt(record.member.extension_number.as_deref()) {
                agent.extension_number = Some(number);
            }
        }
        queue.changed_at = now;
        self.revision += 1;
    }

    /// Sets the extension directory: names for agents, and types so IVR menus and queues are
    /// never taken for agents.
    pub fn set_extensions(&mut self, extensions: &[Extension], now: DateTime<Utc>) {
        for record in extensions {
            let id = clean(&record.id);
            if id.is_empty() {
                continue;
            }
            if let Some(kind) = clean_opt(record.kind.as_deref()) {
                self.extension_types.insert(id.clone(), kind);
            }
            let name = clean_opt(record.display_name().as_deref());
            if let Some(agent) = self.agents.get_mut(&id) {
                if name.is_some() {
                    agent.name = name;
                }
                if agent.extension_number.is_none() {
                    agent.extension_number = clean_opt(record.extension_number.as_deref());
                }
            } else if record
                .kind
                .as_deref()
                .is_none_or(|k| !NON_AGENT_TYPES.contains(&k))
            {
                let mut agent = new_agent(&id, now);
                agent.name = name;
                agent.extension_number = clean_opt(record.extension_number.as_deref());
                self.agents.insert(id, agent);
            }
        }
        self.rederive_all(&HashMap::new(), now);
        self.revision += 1;
    }

    // -----------------------------------------------------------------------------------------
    // Time

    /// Moves the board to `now` without input: rolls "today" over at local midnight and ages
    /// finished calls out of memory. The app calls it on its timer; every apply does it too.
    pub fn tick(&mut self, now: DateTime<Utc>) {
        self.roll_day(now);
        self.age_out(now);
    }

    fn roll_day(&mut self, now: DateTime<Utc>) {
        if let Some((start, end)) = self.today_span {
            if now >= start && now < end {
                return;
            }
        }
        let today = self.local_day(now);
        if self.today == Some(today) {
            return;
        }
        let rolled_over = self.today.is_some_and(|d| d < today);
        if self.today.is_some_and(|d| d > today) {
            // Time went backwards (a replayed journal); keep what is there.
            return;
        }
        self.today = Some(today);
        let zone = self.config.time_zone;
        self.today_span = today
            .succ_opt()
            .map(|next| (local_midnight(zone, today), local_midnight(zone, next)));
        if rolled_over {
            let keep_minutes = i64::from(
                self.config
                    .rolling_window_minutes
                    .max(self.config.history_minutes),
            );
            let first_minute = minute_index(now) - keep_minutes;
            for queue in self.queues.values_mut() {
                queue.series.prune(today, first_minute);
            }
            for stats in self.number_stats.values_mut() {
                stats.series.prune(today, first_minute);
            }
            self.number_stats.retain(|_, s| {
                s.live > 0 || !s.series.days.is_empty() || !s.series.minutes.is_empty()
            });
            self.revision += 1;
        }
    }

    fn age_out(&mut self, now: DateTime<Utc>) {
        // Runs on every input: costs two comparisons when nothing is due.
        if now < self.next_housekeeping && minute_index(now) == self.pruned_minute {
            return;
        }
        let horizon = index_time(self.horizon_start(now));
        let mut removed = false;
        while let Some(id) = self.by_end.pop_before(horizon) {
            if let Some(call) = self.calls.remove(&id) {
                self.live_order.remove(&call);
                self.by_start
                    .remove(&(index_time(call.started_at), Arc::clone(&id)));
                if let Some(end) = call.ended_at {
                    self.to_compact.remove(&(index_time(end), Arc::clone(&id)));
                }
                self.forgotten.insert(Arc::clone(&id));
                self.forgotten_order.push_back((now, id));
                removed = true;
            }
        }
        if removed {
            self.texts.sweep_if_grown();
        }
        self.compact_finished(now);
        self.next_housekeeping = self.housekeeping_due();
        let keep_after = self.forget_before(now);
        while self
            .forgotten_order
            .front()
            .is_some_and(|(forgotten_at, _)| *forgotten_at < keep_after)
        {
            if let Some((_, id)) = self.forgotten_order.pop_front() {
                self.forgotten.remove(&id);
            }
        }
        self.prune_minutes(now);
        if removed {
            self.revision += 1;
        }
    }

    /// Drops per-minute buckets older than the longest window, once per minute at most.
    fn prune_minutes(&mut self, now: DateTime<Utc>) {
        let minute = minute_index(now);
        if self.pruned_minute == minute {
            return;
        }
        self.pruned_minute = minute;
        let keep_minutes = i64::from(
            self.config
                .rolling_window_minutes
                .max(self.config.history_minutes),
        );
        let first_minute = minute - keep_minutes;
        let series = self
            .queues
            .values_mut()
            .map(|q| &mut q.series)
            .chain(self.number_stats.values_mut().map(|n| &mut n.series));
        for series in series {
            series.minutes.retain(|m, _| *m >= first_minute);
        }
    }

    /// The earliest time at which a finished call can be due to be compacted or aged out, or
    /// a forgotten id due to be dropped (a forgotten id is kept at least a day).
    fn housekeeping_due(&self) -> DateTime<Utc> {
        let after = |t: Option<DateTime<Utc>>, span: Duration| {
            t.and_then(|t| t.checked_add_signed(span))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        };
        let age = after(
            self.by_end
                .first()
                .map(|(ended, _)| from_index_time(*ended)),
            self.config.finished_call_horizon,
        );
        let compact = after(
            self.to_compact
                .first()
                .map(|(ended, _)| from_index_time(*ended)),
            self.config.compact_finished_after,
        );
        let forget = after(
            self.forgotten_order.front().map(|(at, _)| *at),
            Duration::hours(24),
        );
        age.min(compact).min(forget)
    }

    /// Notes that a call ended at `end`, so housekeeping looks at it in time.
    fn note_end_for_housekeeping(&mut self, end: DateTime<Utc>) {
        let after = |span: Duration| end.checked_add_signed(span).unwrap_or(end);
        let due =
            after(self.config.finished_call_horizon).min(after(self.config.compact_finished_after));
        self.next_housekeeping = self.next_housekeeping.min(due);
    }

    /// Compacts the finished calls that ended more than `compact_finished_after` ago: their
    /// parties shrink to what the Call detail shows, their talk and hold are fixed. Costs
    /// nothing per event when none is due.
    fn compact_finished(&mut self, now: DateTime<Utc>) {
        let due_before = index_time(
            now.checked_sub_signed(self.config.compact_finished_after)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        );
        let mut compacted = false;
        while let Some(id) = self.to_compact.pop_before(due_before) {
            if let Some(call) = self.calls.get_mut(&id) {
                compact(call);
                compacted = true;
            }
        }
        if compacted {
            // The parties held the only other copies of the call's own texts (its caller's
            // number and name): let the interner drop them.
            self.texts.sweep_if_grown();
        }
    }

    /// Finished calls that ended before this leave memory.
    fn horizon_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_sub_signed(self.config.finished_call_horizon)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Forgotten call ids are kept for a day past the horizon (and past midnight). An event
    /// older than this is stale whatever call it is for, so replaying an old journal twice
    /// cannot bring a long-gone call back, and the verdict does not depend on arrival order.
    fn forget_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let today_start = match self.today_span {
            Some((start, end)) if now >= start && now < end => start,
            _ => local_midnight(self.config.time_zone, self.local_day(now)),
        };
        self.horizon_start(now)
            .min(today_start)
            .checked_sub_signed(Duration::hours(24))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    // -----------------------------------------------------------------------------------------
    // The call update pipeline

    fn next_serial(&mut self) -> u32 {
        self.next_serial += 1;
        self.next_serial
    }

    /// Applies party updates to one call and re-derives it.
    fn apply_party_updates(
        &mut self,
        session: &str,
        session_id: Option<&str>,
        updates: &[PartyUpdate<'_>],
        at: DateTime<Utc>,
        started_if_new: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Applied {
        let session = sanitize(session);
        if self.forgotten.contains(session.as_ref()) {
            self.stale_events += 1;
            return Applied::Stale;
        }
        // Cheap test first: `forget_before` is at least a day before `now`.
        if at.timestamp() <= now.timestamp() - 86_400 && at < self.forget_before(now) {
            self.stale_events += 1;
            return Applied::Stale;
        }
        let (key, mut call, old_start, old_end) = match self.calls.remove_entry(session.as_ref()) {
            Some((key, call)) => {
                let start = call.started_at;
                let end = call.ended_at;
                (key, call, start, end)
            }
            None => {
                let serial = self.next_serial();
                let id: Arc<str> = Arc::from(session.as_ref());
                let call = Box::new(new_call(Arc::clone(&id), started_if_new, serial, now));
                let start = call.started_at;
                self.by_start.insert((index_time(start), Arc::clone(&id)));
                (id, call, start, None)
            }
        };
        if call.source != CallSource::Live {
            // The call log already holds this finished call, or it was compacted (its figures
            // are fixed); events cannot improve on it.
            self.calls.insert(key, call);
            self.stale_events += 1;
            return Applied::Stale;
        }
        // What the call counts now, to take back after the update.
        let counted = self.contribution_of(&call);
        let mut changed = false;
        for update in updates {
            changed |= update_party(&mut call, update, at, &mut self.texts);
        }
        if call.session_id.is_none() {
            call.session_id = clean_opt(session_id).map(CompactString::from);
        }
        if !changed {
            let is_new = call.parties.is_empty();
            if is_new {
                self.by_start.remove(&(index_time(call.started_at), key));
            } else {
                self.calls.insert(key, call);
            }
            self.stale_events += 1;
            return Applied::Stale;
        }
        if at < call.started_at {
            call.started_at = at;
        }
        self.finish_call_update(key, call, old_start, old_end, counted, now);
        self.revision += 1;
        Applied::Changed
    }

    /// Derives the call again, swaps its tally contribution (`counted`: what it added before
    /// the change) for the new one, fixes the indexes and stores it.
    ///
    /// No contribution is stored per call: at rest, what a call adds to the tallies is always
    /// `contribution_of(call)` under the board's current settings, since everything it reads
    /// changes only through this function (or, for queue thresholds, `set_queues`, which
    /// passes what the calls counted under the old ones).
    fn finish_call_update(
        &mut self,
        key: Arc<str>,
        mut call: Box<Call>,
        old_start: DateTime<Utc>,
        old_end: Option<DateTime<Utc>>,
        counted: Contribution,
        now: DateTime<Utc>,
    ) {
        if call.source == CallSource::Live {
            self.derive(&mut call);
        } else {
            call.outcome = self.outcome_of(&call);
        }
        call.changed_at = now;
        if old_start != call.started_at {
            self.by_start
                .remove(&(index_time(old_start), Arc::clone(&key)));
            self.by_start
                .insert((index_time(call.started_at), Arc::clone(&key)));
        }
        if old_end != call.ended_at {
            if let Some(end) = old_end {
                self.by_end.remove(&(index_time(end), Arc::clone(&key)));
                self.to_compact.remove(&(index_time(end), Arc::clone(&key)));
            }
            if let Some(end) = call.ended_at {
                self.by_end.insert((index_time(end), Arc::clone(&key)));
                if call.source == CallSource::Live {
                    self.to_compact.insert((index_time(end), Arc::clone(&key)));
                }
                self.note_end_for_housekeeping(end);
            }
        }
        let fresh = self.contribution_of(&call);
        if fresh != counted {
            self.swap_contribution(&counted, &fresh, call.serial, now);
        }
        if let (Some(id), Some(name)) = (&call.queue_id, &call.queue_name) {
            // A queue learned from events takes the name its first call carried.
            if let Some(queue) = self.queues.get_mut(&**id).filter(|q| q.name.is_empty()) {
                queue.name = name.to_string();
            }
        }
        self.live_order.place(&call);
        self.calls.insert(key, call);
    }

    /// Re-derives every held call (after the directory or queue settings changed).
    /// `counted_before` holds what calls counted under settings that have changed since.
    fn rederive_all(
        &mut self,
        counted_before: &HashMap<Arc<str>, Contribution>,
        now: DateTime<Utc>,
    ) {
        let ids: Vec<Arc<str>> = self.calls.keys().cloned().collect();
        for id in ids {
            if let Some((key, call)) = self.calls.remove_entry(&id) {
                let (start, end) = (call.started_at, call.ended_at);
                let changed_at = call.changed_at;
                let counted = match counted_before.get(&id) {
                    Some(counted) => counted.clone(),
                    None => self.contribution_of(&call),
                };
                self.finish_call_update(key, call, start, end, counted, now);
                // Re-deriving is not a change the user made happen on this row.
                if let Some(call) = self.calls.get_mut(&id) {
                    call.changed_at = changed_at;
                }
            }
        }
    }

    fn is_non_agent_extension(&self, extension_id: &str) -> bool {
        self.queues.contains_key(extension_id)
            || self
                .extension_types
                .get(extension_id)
                .is_some_and(|k| NON_AGENT_TYPES.contains(&k.as_str()))
    }

    /// Everything about a call that follows from its parties (PROTOCOL.md §9.10).
    fn derive(&mut self, call: &mut Call) {
        let caller_leg = call
            .parties
            .iter()
            .position(|p| p.extension_id.is_none() && p.direction == Some(Direction::Outbound));
        call.direction = self.direction_of(call, caller_leg);

        // Who called whom.
        let inbound = matches!(
            call.direction,
            CallDirection::Inbound | CallDirection::Unknown
        );
        if inbound {
            let source = caller_leg.map(|i| &call.parties[i]).or_else(|| {
                call.parties
                    .iter()
                    .find(|p| p.extension_id.is_some() && p.direction == Some(Direction::Inbound))
            });
            if let Some(p) = source {
                update_inline(&mut call.caller, p.from.phone_number.as_ref());
                update_inline(&mut call.caller_name, p.from.name.as_ref());
                update_text(&mut call.dialed, p.to.phone_number.as_ref());
            }
        } else {
            let placing = call
                .parties
                .iter()
                .find(|p| p.extension_id.is_some() && p.direction == Some(Direction::Outbound));
            let callee = call
                .parties
                .iter()
                .find(|p| p.extension_id.is_none() && p.direction == Some(Direction::Inbound));
            let callee_number = placing
                .and_then(|p| p.to.phone_number.as_ref())
                .or_else(|| callee.and_then(|p| p.to.phone_number.as_ref()));
            update_inline(&mut call.caller, callee_number);
            update_inline(
                &mut call.caller_name,
                placing.and_then(|p| p.to.name.as_ref()),
            );
            call.dialed = None;
        }

        // The queue: the first party addressed to a queue.
        if inbound {
            let queue_party = call
                .parties
                .iter()
                .filter(|p| {
                    p.to.extension_id.as_deref().is_some_and(|ext| {
                        self.queues.contains_key(ext)
                            || (p.queue_call && p.extension_id.as_deref() != Some(ext))
                    })
                })
                .min_by_key(|p| p.first_seen);
            if let Some(p) = queue_party {
                copy_text(&mut call.queue_id, p.to.extension_id.as_ref());
                let known_name =
                    p.to.extension_id
                        .as_deref()
                        .and_then(|q| self.queues.get(q))
                        .map(|q| q.name.as_str())
                        .filter(|name| !name.is_empty());
                copy_name(
                    &mut call.queue_name,
                    known_name.or(p.to.name.as_deref()),
                    &mut self.texts,
                );
                call.queued_at = Some(p.first_seen);
            }
        }

        // Agents: extension parties that are people, answering after the call was queued (an
        // IVR that answered before the queue is not an agent).
        let queued_at = call.queued_at;
        for i in 0..call.parties.len() {
            let p = &call.parties[i];
            let is_agent = match p.extension_id.as_deref() {
                None => false,
                Some(ext) if self.is_non_agent_extension(ext) => false,
                Some(_) => {
                    let right_direction = if inbound {
                        p.direction != Some(Direction::Outbound)
                    } else {
                        p.direction != Some(Direction::Inbound)
                            || call.direction == CallDirection::Internal
                    };
                    let after_queue = match (queued_at, p.first_answered_at) {
                        (Some(q), Some(a)) => a >= q,
                        _ => true,
                    };
                    right_direction && after_queue
                }
            };
            call.parties[i].is_agent = is_agent;
        }
        if call.direction == CallDirection::Internal {
            // Both ends are extensions; talk is counted once, on the placing side when known.
            let has_placing = call
                .parties
                .iter()
                .any(|p| p.is_agent && p.direction == Some(Direction::Outbound));
            if has_placing {
                for p in call.parties.iter_mut() {
                    if p.direction == Some(Direction::Inbound) {
                        p.is_agent = false;
                    }
                }
            }
        }
        call.answered_at = call
            .parties
            .iter()
            .filter(|p| p.is_agent)
            .filter_map(|p| p.first_answered_at)
            .min();
        let last_agent = call
            .parties
            .iter()
            .filter(|p| p.is_agent && p.first_answered_at.is_some())
            .max_by_key(|p| (p.first_answered_at, p.first_seen));
        if let Some(agent) = last_agent {
            copy_text(&mut call.agent_id, agent.extension_id.as_ref());
            let name = agent
                .extension_id
                .as_deref()
                .and_then(|id| self.agents.get(id))
                .and_then(|a| a.name.as_deref())
                .or_else(|| {
                    // A call straight to an extension names it in `to`.
                    (agent.to.extension_id == agent.extension_id)
                        .then_some(agent.to.name.as_deref())
                        .flatten()
                })
                .or_else(|| {
                    (agent.direction == Some(Direction::Outbound)
                        && agent.from.extension_id == agent.extension_id)
                        .then_some(agent.from.name.as_deref())
                        .flatten()
                });
            copy_name(&mut call.agent_name, name, &mut self.texts);
        } else {
            call.agent_id = None;
            call.agent_name = None;
        }
        call.voicemail_at = call.parties.iter().filter_map(|p| p.voicemail_at).min();

        // The end: the caller hanging up, or every party gone.
        call.ended_at = match caller_leg {
            Some(i) if call.parties[i].status.is_terminal() => call.parties[i].ended_at,
            Some(_) => None,
            None if !call.parties.is_empty()
                && call.parties.iter().all(|p| p.status.is_terminal()) =>
            {
                call.parties.iter().filter_map(|p| p.ended_at).max()
            }
            None => None,
        };

        call.state = if call.ended_at.is_some() {
            CallState::Ended
        } else {
            let agent_status =
                |s: PartyStatus| call.parties.iter().any(|p| p.is_agent && p.status == s);
            if agent_status(PartyStatus::Answered) {
                CallState::Talking
            } else if agent_status(PartyStatus::Hold) {
                CallState::Hold
            } else if call.parties.iter().any(|p| p.status == PartyStatus::Parked) {
                CallState::Parked
            } else if call.parties.iter().any(|p| {
                matches!(
                    p.status,
                    PartyStatus::VoiceMail | PartyStatus::VoiceMailScreening
                )
            }) {
                CallState::Voicemail
            } else if call.answered_at.is_some() {
                // Between agents (a transfer ringing): still a connected call.
                CallState::Talking
            } else if call.queued_at.is_some() {
                CallState::Waiting
            } else {
                CallState::Setup
            }
        };
        call.outcome = self.outcome_of(call);

        if let Some(rec) = call
            .parties
            .iter()
            .filter_map(|p| p.recording_hint.as_ref())
            .max_by_key(|(_, at)| *at)
        {
            // A call's recording runs until the call ends, whichever party carried it (after a
            // transfer the first agent's party reports it inactive while the call goes on).
            let active = call.ended_at.is_none();
            let held = call.recording.as_ref();
            if held.is_none_or(|r| *r.id != *rec.0 || r.active != active) {
                call.recording = Some(Box::new(RecordingRef {
                    id: rec.0.to_string(),
                    active,
                }));
            }
        }

        if call.caller.is_some() && !call.caller_checked {
            call.caller_checked = true;
            call.first_time_caller = self.note_caller(call.direction, call.caller.as_deref());
        }
    }

    fn direction_of(&self, call: &Call, caller_leg: Option<usize>) -> CallDirection {
        if caller_leg.is_some() {
            return CallDirection::Inbound;
        }
        let parties = &call.parties;
        if parties
            .iter()
            .any(|p| p.extension_id.is_none() && p.direction == Some(Direction::Inbound))
        {
            return CallDirection::Outbound;
        }
        for p in parties.iter().filter(|p| p.extension_id.is_some()) {
            match p.direction {
                Some(Direction::Inbound) if p.from.extension_id.is_none() => {
                    return CallDirection::Inbound;
                }
                Some(Direction::Outbound) if p.to.extension_id.is_none() => {
                    return if p.to.phone_number.is_some() {
                        CallDirection::Outbound
                    } else {
                        CallDirection::Unknown
                    };
                }
                _ => {}
            }
        }
        if parties
            .iter()
            .any(|p| p.extension_id.is_some() && p.direction.is_some())
        {
            CallDirection::Internal
        } else {
            CallDirection::Unknown
        }
    }

    /// The outcome rules of docs/BOARD_JSON.md.
    fn outcome_of(&self, call: &Call) -> Outcome {
        let Some(ended) = call.ended_at else {
            return Outcome::Live;
        };
        match call.direction {
            CallDirection::Outbound => Outcome::Outbound,
            CallDirection::Internal => Outcome::Internal,
            CallDirection::Inbound | CallDirection::Unknown => {
                if call.answered_at.is_some() {
                    Outcome::Answered
                } else if call.voicemail_at.is_some() {
                    Outcome::Voicemail
                } else if let Some(queued) = call.queued_at {
                    let threshold_ms = (self.sla_of(call).short_abandon_s * 1000.0).round() as i64;
                    if (ended - queued).num_milliseconds() > threshold_ms {
                        Outcome::Abandoned
                    } else {
                        Outcome::ShortAbandon
                    }
                } else {
                    Outcome::Missed
                }
            }
        }
    }

    fn sla_of(&self, call: &Call) -> SlaSettings {
        call.queue_id
            .as_deref()
            .and_then(|q| self.queues.get(q))
            .map(|q| q.sla)
            .unwrap_or_default()
    }

    /// Records that a caller number was seen; true if it never was before.
    fn note_caller(&mut self, direction: CallDirection, caller: Option<&str>) -> bool {
        if !matches!(direction, CallDirection::Inbound | CallDirection::Unknown) {
            return false;
        }
        let Some(caller) = caller else {
            return false;
        };
        if !self.known_callers.insert(caller) {
            return false;
        }
        self.new_callers.push(CompactString::from(caller));
        true
    }

    /// What the call adds to the tallies now. Cheap to build and compare: the texts are `Arc`
    /// clones of the call's own.
    fn contribution_of(&self, call: &Call) -> Contribution {
        let ended = call.ended_at.is_some();
        let answered = call.answered_at.is_some();
        let mut counts = CallCounts::default();
        counts.set(CallCounts::ANSWERED, answered);
        counts.set(CallCounts::ABANDONED, call.outcome == Outcome::Abandoned);
        counts.set(
            CallCounts::SHORT_ABANDONED,
            call.outcome == Outcome::ShortAbandon,
        );
        counts.set(CallCounts::VOICEMAIL, call.outcome == Outcome::Voicemail);
        counts.set(CallCounts::MISSED, ended && !answered);
        if let (true, Some(end)) = (answered, call.ended_at) {
            counts.set(CallCounts::HANDLED, true);
            counts.handled_talk_ms = call.talk_ms(end).unwrap_or(0);
            counts.handled_hold_ms = call.hold_ms(end).unwrap_or(0);
        }
        let mut contribution = Contribution::default();
        let inbound = matches!(
            call.direction,
            CallDirection::Inbound | CallDirection::Unknown
        );
        if let (Some(queue_id), Some(queued_at), true) = (&call.queue_id, call.queued_at, inbound) {
            if let Some(answered_at) = call.answered_at {
                let wait_ms = (answered_at - queued_at).num_milliseconds().max(0);
                counts.answered_wait_ms = wait_ms;
                let threshold_ms = (self.sla_of(call).threshold_s * 1000.0).round() as i64;
                counts.set(CallCounts::ANSWERED_IN_SLA, wait_ms <= threshold_ms);
            }
            contribution.queue = Some((Arc::clone(queue_id), self.bucket(queued_at)));
            if !ended && !answered && call.voicemail_at.is_none() {
                contribution.waiting_since = Some(queued_at);
            }
        }
        if let (Some(dialed), true) = (&call.dialed, inbound) {
            counts.set(CallCounts::FIRST_TIME_CALLER, call.first_time_caller);
            contribution.number = Some((Arc::clone(dialed), self.bucket(call.started_at)));
            contribution.live_at_number = !ended;
        }
        contribution.counts = counts;
        contribution
    }

    fn swap_contribution(
        &mut self,
        old: &Contribution,
        new: &Contribution,
        serial: u32,
        now: DateTime<Utc>,
    ) {
        if let Some((queue_id, bucket)) = &old.queue {
            if let Some(queue) = self.queues.get_mut(&**queue_id) {
                queue.series.add(*bucket, &old.counts.queue_tally(), -1);
                if let Some(since) = old.waiting_since {
                    queue.waiting.remove(&(since, serial));
                }
                queue.changed_at = now;
            }
        }
        if let Some((number, bucket)) = &old.number {
            if let Some(stats) = self.number_stats.get_mut(&**number) {
                stats.series.add(*bucket, &old.counts.number_tally(), -1);
                if old.live_at_number {
                    stats.live -= 1;
                }
                stats.changed_at = Some(now);
            }
        }
        if let Some((queue_id, bucket)) = &new.queue {
            let queue = ensure_queue(&mut self.queues, queue_id, now);
            queue.series.add(*bucket, &new.counts.queue_tally(), 1);
            if let Some(since) = new.waiting_since {
                queue.waiting.insert((since, serial));
            }
            queue.changed_at = now;
        }
        if let Some((number, bucket)) = &new.number {
            let stats = number_stats_entry(&mut self.number_stats, number);
            stats.series.add(*bucket, &new.counts.number_tally(), 1);
            if new.live_at_number {
                stats.live += 1;
            }
            stats.changed_at = Some(now);
        }
    }
}

/// The queue with this id, created (as discovered from events) if the board has not seen it.
/// Looks up before inserting, so the common case allocates no key.
fn ensure_queue<'q>(
    queues: &'q mut FastMap<String, Queue>,
    id: &str,
    now: DateTime<Utc>,
) -> &'q mut Queue {
    if !queues.contains_key(id) {
        let mut queue = new_queue(id, None, now);
        queue.discovered = true;
        queues.insert(id.to_owned(), queue);
    }
    queues
        .get_mut(id)
        .unwrap_or_else(|| unreachable!("the queue was inserted above"))
}

/// The running figures of a dialled number, created empty if new; allocates no key otherwise.
fn number_stats_entry<'n>(
    stats: &'n mut FastMap<String, NumberStats>,
    number: &str,
) -> &'n mut NumberStats {
    if !stats.contains_key(number) {
        stats.insert(number.to_owned(), NumberStats::default());
    }
    stats
        .get_mut(number)
        .unwrap_or_else(|| unreachable!("the entry was inserted above"))
}

struct PresenceInput<'x> {
    sequence: Option<u64>,
    presence_status: Option<&'x str>,
    user_status: Option<&'x str>,
    dnd_status: Option<&'x str>,
    telephony_status: Option<&'x str>,
    accept_queue_calls: Option<bool>,
    current_call: Option<&'x str>,
}

fn agent_state(agent: &Agent) -> AgentState {
    let on_call = matches!(
        agent.telephony_status.as_deref(),
        Some("Ringing" | "CallConnected" | "OnHold" | "ParkedCall")
    ) || agent.current_call.is_some();
    if on_call {
        return AgentState::OnCall;
    }
    let available = agent.presence_status.as_deref() == Some("Available")
        && !matches!(
            agent.dnd_status.as_deref(),
            Some("DoNotAcceptAnyCalls" | "DoNotAcceptDepartmentCalls")
        )
        && agent.accept_queue_calls != Some(false);
    if available {
        AgentState::Available
    } else {
        AgentState::Away
    }
}

fn new_agent(id: &str, now: DateTime<Utc>) -> Agent {
    Agent {
        id: id.to_owned(),
        name: None,
        extension_number: None,
        presence_status: None,
        user_status: None,
        dnd_status: None,
        telephony_status: None,
        accept_queue_calls: None,
        state: AgentState::Away,
        state_since: now,
        current_call: None,
        changed_at: now,
        presence_sequence: None,
        has_presence: false,
    }
}

fn new_queue(id: &str, name: Option<&str>, now: DateTime<Utc>) -> Queue {
    Queue {
        id: id.to_owned(),
        name: name.unwrap_or_default().to_owned(),
        extension_number: None,
        sla: SlaSettings::default(),
        members: Default::default(),
        discovered: false,
        changed_at: now,
        series: Default::default(),
        waiting: Default::default(),
    }
}

fn new_call(id: Arc<str>, started_at: DateTime<Utc>, serial: u32, now: DateTime<Utc>) -> Call {
    Call {
        id,
        session_id: None,
        direction: CallDirection::Unknown,
        caller: None,
        caller_name: None,
        dialed: None,
        queue_id: None,
        queue_name: None,
        agent_id: None,
        agent_name: None,
        state: CallState::Setup,
        outcome: Outcome::Live,
        started_at,
        queued_at: None,
        answered_at: None,
        voicemail_at: None,
        ended_at: None,
        end_seen: true,
        recording: None,
        first_time_caller: false,
        caller_checked: false,
        changed_at: now,
        parties: PartyList::default(),
        source: CallSource::Live,
        serial,
    }
}

/// Reduces a finished live call to what the views show: each party to its [`PartySummary`],
/// talk and hold to fixed figures. Anything else is left as it was.
fn compact(call: &mut Call) {
    let Some(end) = call.ended_at else {
        return;
    };
    if call.source != CallSource::Live {
        return;
    }
    // Sized exactly: collecting through `Option` would reserve room for four and shrink in
    // place, leaving a hole beside every compacted call that only small allocations can fill.
    let mut summaries = Vec::with_capacity(call.parties.len());
    for party in call.parties.iter() {
        let Some(packed) = PackedSummary::pack(&party.summary()) else {
            // A party's times lie weeks apart (broken or hostile data): the call keeps its
            // full form until it ages out.
            return;
        };
        summaries.push(packed);
    }
    let talk_ms = call.talk_ms(end).unwrap_or(0);
    let hold_ms = call.hold_ms(end).unwrap_or(0);
    call.parties = PartyList::Packed(summaries.into_boxed_slice());
    call.source = CallSource::Compacted {
        talk_ms: FixedMs::new(talk_ms),
        hold_ms: FixedMs::new(hold_ms),
    };
}

/// Moves a party to `status` at `at`, closing the talk or hold segment it was in.
fn transition(party: &mut PartyState, status: PartyStatus, at: DateTime<Utc>) {
    let elapsed = (at - party.status_since).num_milliseconds().max(0);
    match party.status {
        PartyStatus::Answered => party.talk_ms += elapsed,
        PartyStatus::Hold => party.hold_ms += elapsed,
        _ => {}
    }
    match status {
        PartyStatus::Answered => {
            party.first_answered_at = Some(party.first_answered_at.map_or(at, |t| t.min(at)));
        }
        PartyStatus::VoiceMail | PartyStatus::VoiceMailScreening => {
            party.voicemail_at = Some(party.voicemail_at.map_or(at, |t| t.min(at)));
        }
        PartyStatus::Disconnected | PartyStatus::Gone => {
            party.ended_at = Some(at);
        }
        _ => {}
    }
    if !status.is_terminal() {
        party.ended_at = None;
    }
    party.status = status;
    party.status_since = at;
}

/// Applies one update to its party. Returns whether anything changed.
fn update_party(
    call: &mut Call,
    update: &PartyUpdate<'_>,
    at: DateTime<Utc>,
    texts: &mut Interner,
) -> bool {
    let index = match call.parties.iter().position(|p| *p.id == *update.id) {
        Some(i) => {
            let party = &call.parties[i];
            if let Some(seq) = update.sequence {
                if seq <= party.sequence {
                    return false;
                }
            } else if update.status.as_ref().is_none_or(|s| *s == party.status) {
                // A REST read that says nothing new.
                return false;
            }
            i
        }
        None => {
            call.parties.push(PartyState {
                id: sanitize(update.id).into(),
                sequence: 0,
                extension_id: None,
                direction: None,
                status: PartyStatus::Setup,
                status_since: at,
                reason: None,
                from: Endpoint::default(),
                to: Endpoint::default(),
                queue_call: false,
                missed_call: false,
                first_seen: at,
                first_answered_at: None,
                voicemail_at: None,
                ended_at: None,
                talk_ms: 0,
                hold_ms: 0,
                is_agent: false,
                recording_hint: None,
                status_from_read: false,
            });
            call.parties.len() - 1
        }
    };
    let party = &mut call.parties[index];
    if let Some(seq) = update.sequence {
        party.sequence = seq;
    }
    if at < party.first_seen {
        party.first_seen = at;
    }
    if party.extension_id.is_none() {
        set_shared(
            &mut party.extension_id,
            update.extension_id.map(sanitize).as_deref(),
            texts,
        );
    }
    if update.direction.is_some() {
        party.direction = update.direction;
    }
    update.from.merge_into(&mut party.from, texts);
    update.to.merge_into(&mut party.to, texts);
    if let Some(q) = update.queue_call {
        party.queue_call = q;
    }
    if let Some(m) = update.missed_call {
        party.missed_call = m;
    }
    if let Some(reason) = update
        .reason
        .filter(|r| party.reason.as_deref() != Some(*r))
    {
        let reason = sanitize(reason);
        if !reason.is_empty() && party.reason.as_deref() != Some(&*reason) {
            party.reason = Some(reason.into());
        }
    }
    if let Some(raw) = update.recording {
        match &mut party.recording_hint {
            // Held ids are clean, so raw text equal to one is too.
            Some((held, when)) if **held == *raw => *when = at,
            hint => {
                let id = sanitize(raw);
                match hint {
                    Some((held, when)) if **held == *id => *when = at,
                    _ => *hint = Some((id.into(), at)),
                }
            }
        }
    }
    if let Some(status) = &update.status {
        let at = at.max(party.status_since);
        if *status != party.status || party.sequence == 0 {
            let changed = *status != party.status;
            transition(party, status.clone(), at);
            if changed {
                party.status_from_read = update.sequence.is_none();
            }
        }
    }
    true
}
