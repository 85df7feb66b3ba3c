//! Owned serde types for the REST records callboard reads (PROTOCOL.md §4).
//!
//! As tolerant as the events: ids are accepted as JSON numbers or strings and kept as strings,
//! unknown fields are ignored, and every field a real reply may omit is optional. Timestamps
//! stay as the platform wrote them; [`crate::rc::events::parse_timestamp`] reads them (the
//! helpers on each record call it). Strings are raw network text; the board sanitises them.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::rc::events::{lenient, parse_timestamp};

/// The paging envelope of every list endpoint: `{uri, records, paging, navigation}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(default = "Vec::new")]
    pub records: Vec<T>,
    #[serde(default)]
    pub paging: Option<Paging>,
    #[serde(default)]
    pub navigation: Option<Navigation>,
}

impl<T> Page<T> {
    /// True when the platform says another page follows (a `nextPage` link, or a page number
    /// below `totalPages`).
    pub fn has_next(&self) -> bool {
        if let Some(nav) = &self.navigation {
            if nav.next_page.is_some() {
                return true;
            }
        }
        match &self.paging {
            Some(Paging {
                page: Some(page),
                total_pages: Some(total),
                ..
            }) => page < total,
            _ => false,
        }
    }
}

/// `paging` (`EnumeratedPagingModel`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Paging {
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub page: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub total_pages: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub per_page: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub total_elements: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub page_start: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub page_end: Option<u64>,
}

/// `navigation` (`PageNavigationModel`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Navigation {
    #[serde(default)]
    pub first_page: Option<NavigationLink>,
    #[serde(default)]
    pub next_page: Option<NavigationLink>,
    #[serde(default)]
    pub previous_page: Option<NavigationLink>,
    #[serde(default)]
    pub last_page: Option<NavigationLink>,
}

/// One `{uri}` link of `navigation`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NavigationLink {
    #[serde(default)]
    pub uri: Option<String>,
}

/// A short reference to an extension inside another record.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionRef {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub extension_number: Option<String>,
}

/// A v1 account phone number (`CompanyPhoneNumberInfo`); `id` is a JSON number on the wire.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumber {
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub phone_number: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub usage_type: Option<String>,
    #[serde(default)]
    pub payment_type: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub extension: Option<ExtensionRef>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub primary: Option<bool>,
    #[serde(default)]
    pub caller_id_name: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
}

/// A call queue's own service-level settings (`CallQueueServiceLevelSettings`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceLevelSettings {
    /// Target percentage of calls answered within the threshold.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub sla_goal: Option<f64>,
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub sla_threshold_seconds: Option<f64>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub include_abandoned_calls: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub abandoned_threshold_seconds: Option<f64>,
}

/// A call queue: the list item (`CallQueueInfo`) or the detail (`CallQueueDetails`, which adds
/// `serviceLevelSettings`); one type reads both.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallQueue {
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub extension_number: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub sub_type: Option<String>,
    #[serde(default)]
    pub service_level_settings: Option<ServiceLevelSettings>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub alert_timer: Option<u64>,
    #[serde(default)]
    pub uri: Option<String>,
}

/// One member of a call queue (`CallQueueMemberInfo`; `id` is an integer on the wire).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallQueueMember {
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub extension_number: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
}

/// One record of `…/call-queues/{id}/presence`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallQueuePresence {
    #[serde(default)]
    pub member: ExtensionRef,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub accept_queue_calls: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub accept_current_queue_calls: Option<bool>,
}

/// `contact` of an extension.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
}

/// An extension (`GetExtensionInfoResponse` / list item).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub extension_number: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// `User`, `Department` (a call queue), `IvrMenu`, …
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub sub_type: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub contact: Option<Contact>,
    #[serde(default)]
    pub uri: Option<String>,
}

impl Extension {
    /// The name to show: `name`, else the contact's first and last name.
    pub fn display_name(&self) -> Option<String> {
        if let Some(name) = self.name.as_ref().filter(|n| !n.trim().is_empty()) {
            return Some(name.clone());
        }
        let contact = self.contact.as_ref()?;
        let full = [contact.first_name.as_deref(), contact.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!full.trim().is_empty()).then_some(full)
    }
}

/// `callInfo` item of a presence active call.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallInfoItem {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

/// `callInfo` / `uiCallInfo`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallInfo {
    #[serde(default)]
    pub primary: Option<CallInfoItem>,
    #[serde(default)]
    pub additional: Option<CallInfoItem>,
}

/// One active call of a detailed presence record.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveCallRecord {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub queue_call: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub from: Option<String>,
    #[serde(default)]
    pub from_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub to: Option<String>,
    #[serde(default)]
    pub to_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub party_id: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub session_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub telephony_session_id: Option<String>,
    #[serde(default)]
    pub telephony_status: Option<String>,
    #[serde(default)]
    pub termination_type: Option<String>,
    #[serde(default)]
    pub call_info: Option<CallInfo>,
}

/// Detailed presence of one extension, as REST returns it (`…/presence?detailedTelephonyState=true`,
/// one record of the account presence list).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    #[serde(default)]
    pub extension: Option<ExtensionRef>,
    /// Present in event-shaped records; REST records carry `extension.id` instead.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub extension_id: Option<String>,
    #[serde(default)]
    pub presence_status: Option<String>,
    #[serde(default)]
    pub telephony_status: Option<String>,
    #[serde(default)]
    pub user_status: Option<String>,
    #[serde(default)]
    pub dnd_status: Option<String>,
    #[serde(default)]
    pub meeting_status: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub accept_call_queue_calls: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub sequence: Option<u64>,
    #[serde(default = "Vec::new")]
    pub active_calls: Vec<ActiveCallRecord>,
    #[serde(default)]
    pub uri: Option<String>,
}

impl Presence {
    /// The extension this presence belongs to.
    pub fn extension_id(&self) -> Option<&str> {
        self.extension_id
            .as_deref()
            .or_else(|| self.extension.as_ref().and_then(|e| e.id.as_deref()))
    }
}

/// `from` / `to` of a session party.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionEndpoint {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub extension_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub device_id: Option<String>,
}

/// `status.peerId` of a session party.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionPeer {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub session_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub telephony_session_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub party_id: Option<String>,
}

/// `status` of a session party.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionStatus {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub peer_id: Option<SessionPeer>,
}

/// `owner` of a session party (REST shape).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionOwner {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub extension_id: Option<String>,
}

/// A recording of a session party.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SessionRecording {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub active: Option<bool>,
}

/// One party of a session read over REST.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionParty {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    /// Event-shaped parties carry `extensionId`; REST parties carry `owner.extensionId`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub extension_id: Option<String>,
    #[serde(default)]
    pub owner: Option<SessionOwner>,
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub from: Option<SessionEndpoint>,
    #[serde(default)]
    pub to: Option<SessionEndpoint>,
    #[serde(default)]
    pub status: Option<SessionStatus>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub queue_call: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub missed_call: Option<bool>,
    #[serde(default)]
    pub recordings: Option<Vec<SessionRecording>>,
    #[serde(default)]
    pub ui_call_info: Option<CallInfo>,
}

impl SessionParty {
    /// The extension that owns this party, whichever shape carried it.
    pub fn extension_id(&self) -> Option<&str> {
        self.extension_id
            .as_deref()
            .or_else(|| self.owner.as_ref().and_then(|o| o.extension_id.as_deref()))
    }
}

/// `GET …/telephony/sessions/{telephonySessionId}` (`CallSessionObject`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelephonySession {
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(default)]
    pub creation_time: Option<String>,
    #[serde(default)]
    pub origin: Option<CallInfoItem>,
    #[serde(default = "Vec::new")]
    pub parties: Vec<SessionParty>,
}

impl TelephonySession {
    /// When the session was created, if the record says and the time reads.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.creation_time.as_deref().and_then(parse_timestamp)
    }
}

/// `from` / `to` of a call-log record or leg (`CallLogCallerInfo`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLogParty {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub phone_number: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub extension_number: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub extension_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
}

/// `recording` of a call-log record.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLogRecording {
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(default)]
    pub uri: Option<String>,
    /// `Automatic` or `OnDemand`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub content_uri: Option<String>,
}

/// One leg of a Detailed call-log record.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLogLeg {
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub duration: Option<f64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub duration_ms: Option<u64>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub from: Option<CallLogParty>,
    #[serde(default)]
    pub to: Option<CallLogParty>,
    #[serde(default)]
    pub extension: Option<ExtensionRef>,
    #[serde(default)]
    pub leg_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub master: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub telephony_session_id: Option<String>,
    #[serde(default)]
    pub recording: Option<CallLogRecording>,
}

impl CallLogLeg {
    /// When the leg started.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.start_time.as_deref().and_then(parse_timestamp)
    }

    /// The leg's length in seconds, preferring the millisecond field.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.duration_ms
            .map(|ms| ms as f64 / 1000.0)
            .or(self.duration)
    }
}

/// A call-log record (`CallLogRecord`), Simple or Detailed view.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLogRecord {
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub session_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub telephony_session_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub party_id: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub duration: Option<f64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub duration_ms: Option<u64>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub internal_type: Option<String>,
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    /// `Accepted`, `Missed`, `Voicemail`, `Hang Up`, `Call connected`, …
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub from: Option<CallLogParty>,
    #[serde(default)]
    pub to: Option<CallLogParty>,
    #[serde(default)]
    pub extension: Option<ExtensionRef>,
    #[serde(default)]
    pub transport: Option<String>,
    #[serde(default)]
    pub recording: Option<CallLogRecording>,
    #[serde(default = "Vec::new")]
    pub legs: Vec<CallLogLeg>,
    #[serde(default)]
    pub last_modified_time: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub deleted: Option<bool>,
}

impl CallLogRecord {
    /// When the call started.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.start_time.as_deref().and_then(parse_timestamp)
    }

    /// The call's length in seconds, preferring the millisecond field.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.duration_ms
            .map(|ms| ms as f64 / 1000.0)
            .or(self.duration)
    }
}

/// `GET …/recording/{id}` (`GetCallRecordingResponse`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingMeta {
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(default)]
    pub content_uri: Option<String>,
    /// `audio/wav` or `audio/mpeg`.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Seconds.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub duration: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALL_LOG_AND_NUMBERS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/samples/rest-call-log-and-phone-numbers-docs.json"
    ));
    const CALLCONTROL_MOCKS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/samples/rest-callcontrol-js-mocks-2019.json"
    ));

    fn sample(doc: &str, key: &str) -> serde_json::Value {
        let all: serde_json::Value = serde_json::from_str(doc).unwrap();
        all.as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.starts_with(key))
            .map(|(_, v)| v.clone())
            .unwrap()
    }

    #[test]
    fn phone_number_page_reads_numeric_ids() {
        let page: Page<PhoneNumber> =
            serde_json::from_value(sample(CALL_LOG_AND_NUMBERS, "GET_phone_number_list_docs"))
                .unwrap();
        assert_eq!(page.records.len(), 3);
        assert_eq!(page.records[0].id, "246715008");
        assert_eq!(page.records[0].phone_number, "18555551264");
        assert_eq!(page.records[0].usage_type.as_deref(), Some("CompanyNumber"));
        assert!(!page.has_next());
    }

    #[test]
    fn call_log_page_reads_recording_and_session() {
        let page: Page<CallLogRecord> = serde_json::from_value(sample(
            CALL_LOG_AND_NUMBERS,
            "GET_extension_call_log_simple_docs",
        ))
        .unwrap();
        let first = &page.records[0];
        assert_eq!(
            first.telephony_session_id.as_deref(),
            Some("s-a0d178729c49dz1876d9b9d11z19269ec0000")
        );
        assert_eq!(first.recording.as_ref().unwrap().id, "1662272004");
        assert_eq!(first.duration_seconds(), Some(194.06));
        assert_eq!(page.records[1].duration_seconds(), Some(55.0));
        assert!(first.started_at().is_some());
    }

    #[test]
    fn telephony_session_rest_shape() {
        let session: TelephonySession =
            serde_json::from_value(sample(CALLCONTROL_MOCKS, "GET_telephony_sessions_id")).unwrap();
        assert_eq!(session.id, "s-279e175539444bdc96d16c1e2fe4dbe9");
        assert_eq!(session.parties.len(), 2);
        assert_eq!(session.parties[1].extension_id(), Some("170848004"));
        assert_eq!(session.parties[0].extension_id(), None);
        assert!(session.created_at().is_some());
    }

    #[test]
    fn presence_records_with_offset_without_colon() {
        let page: Page<Presence> =
            serde_json::from_value(sample(CALLCONTROL_MOCKS, "GET_account_presence")).unwrap();
        assert_eq!(page.records.len(), 2);
        assert_eq!(page.records[0].extension_id(), Some("170848004"));
        let call = &page.records[0].active_calls[0];
        let started = parse_timestamp(call.start_time.as_deref().unwrap()).unwrap();
        assert_eq!(started.to_rfc3339(), "2019-09-05T06:13:35.305+00:00");
        assert!(page.records[1].active_calls.is_empty());
    }

    #[test]
    fn queue_detail_with_service_level_settings() {
        let queue: CallQueue = serde_json::from_str(
            r#"{"id":"1001","name":"Sales","extensionNumber":"201","serviceLevelSettings":
                {"slaGoal":85,"slaThresholdSeconds":15,"includeAbandonedCalls":false,
                 "abandonedThresholdSeconds":10},"somethingNew":[1,2]}"#,
        )
        .unwrap();
        let sla = queue.service_level_settings.unwrap();
        assert_eq!(sla.sla_goal, Some(85.0));
        assert_eq!(sla.include_abandoned_calls, Some(false));
        assert_eq!(sla.abandoned_threshold_seconds, Some(10.0));
    }

    #[test]
    fn queue_members_and_presence_id_types_differ() {
        let members: Page<CallQueueMember> =
            serde_json::from_str(r#"{"records":[{"id":62242421016,"extensionNumber":"101"}]}"#)
                .unwrap();
        assert_eq!(members.records[0].id, "62242421016");
        let presence: Page<CallQueuePresence> = serde_json::from_str(
            r#"{"records":[{"member":{"id":"62242421016","name":"Ann"},"acceptQueueCalls":true}]}"#,
        )
        .unwrap();
        assert_eq!(
            presence.records[0].member.id.as_deref(),
            Some("62242421016")
        );
        assert_eq!(presence.records[0].accept_queue_calls, Some(true));
    }

    #[test]
    fn detailed_call_log_legs() {
        let record: CallLogRecord = serde_json::from_str(
            r#"{"id":"a1","telephonySessionId":"s-1","startTime":"2026-11-25T10:00:00.000Z",
                "duration":120,"direction":"Inbound","result":"Accepted",
                "to":{"phoneNumber":"+15550100"},"from":{"phoneNumber":"+15559999"},
                "legs":[{"master":true,"startTime":"2026-11-25T10:00:00.000Z","duration":120},
                        {"startTime":"2026-11-25T10:00:05.000Z","to":{"extensionId":900,"name":"Sales"}},
                        {"startTime":"2026-11-25T10:00:20.000Z","duration":100,"result":"Accepted",
                         "extension":{"id":501}}]}"#,
        )
        .unwrap();
        assert_eq!(record.legs.len(), 3);
        assert_eq!(
            record.legs[1].to.as_ref().unwrap().extension_id.as_deref(),
            Some("900")
        );
        assert_eq!(
            record.legs[2].extension.as_ref().unwrap().id.as_deref(),
            Some("501")
        );
    }
}
