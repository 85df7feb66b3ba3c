//! The world's REST read models: each method returns records in the platform's v1 wire shape
//! (`serde_json::Value`), ready for the protocol layer to wrap in its paging envelope. Also the
//! recordings' metadata and content. Ids are JSON numbers where the platform sends numbers
//! (phone numbers, extensions, queue members) and strings elsewhere (PROTOCOL.md §7.9).

use std::ops::Range;

use bytes::Bytes;
use chrono::Duration;
use rand::Rng;
use serde_json::{Value, json};

use super::audio;
use super::world::{
    Availability, Call, CallKind, CallLogQuery, CallLogView, IVR_EXTENSION_NUMBER, IVR_NAME,
    MAX_LABEL_CHARS, NumberUse, Outcome, PartyOwner, PhoneNumber, Queue, RecordingMeta,
    RelabelError, Route, StoredRecording, World, wire_time,
};

impl World {
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
        if id == "~" {
            self.owner_extension_id()
        } else {
            id
        }
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
}

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
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::sim::truth::parse_label;
    use crate::sim::world::{Phase, WorldConfig, WorldEvent};

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
    fn the_token_owner_has_telephony_and_presence_events_of_their_own() {
        let mut w = world();
        let owner = w.owner_extension_id().to_string();
        let (mut telephony, mut presence) = (0, 0);
        let start = w.now();
        let mut t = start;
        while t < start + Duration::hours(2) && (telephony == 0 || presence == 0) {
            t += Duration::seconds(1);
            for event in w.advance(t) {
                match event {
                    WorldEvent::Telephony {
                        extension_id: Some(ext),
                        ..
                    } if ext == owner => telephony += 1,
                    WorldEvent::Presence { extension_id, .. } if extension_id == owner => {
                        presence += 1
                    }
                    _ => {}
                }
            }
        }
        assert!(
            telephony > 0,
            "no telephony event for the owner's extension"
        );
        assert!(presence > 0, "no presence event for the owner's extension");
    }

    #[test]
    fn the_account_has_users_queues_an_ivr_and_a_supervising_agent_owns_the_token() {
        let w = world();
        assert!(w.account_id().chars().all(|c| c.is_ascii_digit()));
        // The token owner is an agent who takes queue calls, so `~` filters see traffic.
        let owner = w.owner_extension_id().to_string();
        assert!(w.agents.iter().any(|a| a.id == owner));
        assert!(w.queues.iter().any(|q| q.members.contains(&0)));
        let extensions = w.extensions();
        let of_type = |t: &str| extensions.iter().filter(|e| e["type"] == t).count();
        assert_eq!(of_type("User"), 1 + 15);
        assert_eq!(of_type("Department"), 3);
        assert_eq!(of_type("IvrMenu"), 1);
        assert!(extensions.iter().all(|e| e["id"].is_u64()));
        let me = w.extension("~").unwrap();
        assert_eq!(me["id"].to_string(), owner);
        assert_eq!(me["type"], "User");
        assert!(
            w.extension(w.account_id()).is_some(),
            "the main extension still exists"
        );
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
                    && body.to_value()["parties"][0]["uiCallInfo"]["additional"]["value"] == label
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
