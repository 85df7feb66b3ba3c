//! Notification bodies in the platform's wire shape (PROTOCOL.md §8.6, `../shared/samples/`),
//! serialised once, when the world emits the event.
//!
//! A telephony body is a typed struct borrowing from the world's call ([`TelephonyBody`]); the
//! world serialises it straight into a [`NotificationBody`], and the gateway copies those bytes
//! into each matching subscription's frame. No JSON tree is built, cloned or freed per event,
//! and a body is not serialised again per subscriber: at a burst's rate that tree was most of
//! the simulator's CPU.
//!
//! Fields are in the order the platform's captures show them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// One notification body: a JSON object, already serialised.
#[derive(Clone, Debug)]
pub struct NotificationBody(Box<RawValue>);

impl NotificationBody {
    /// Serialises `body`. The bodies here hold only strings, numbers, booleans and structs, for
    /// which serde_json cannot fail; were it ever to, the body is `{}` (the client counts a
    /// notification without parties as malformed) rather than a stalled simulator.
    pub fn new(body: &impl Serialize) -> NotificationBody {
        match serde_json::value::to_raw_value(body) {
            Ok(raw) => NotificationBody(raw),
            Err(error) => {
                tracing::error!(%error, "a notification body failed to serialise; sending {{}}");
                NotificationBody::from_value(&Value::Object(serde_json::Map::new()))
            }
        }
    }

    /// A body from a JSON tree (presence, tests, hand-made frames).
    pub fn from_value(value: &Value) -> NotificationBody {
        // A `Value` always serialises: its map keys are strings.
        NotificationBody(
            serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned()),
        )
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    pub fn raw(&self) -> &RawValue {
        &self.0
    }

    /// `parties[0].id` of a telephony body, read without building a tree.
    pub fn party_id(&self) -> Option<Cow<'_, str>> {
        #[derive(Deserialize)]
        struct OneParty<'a> {
            #[serde(borrow)]
            parties: [PartyId<'a>; 1],
        }
        #[derive(Deserialize)]
        struct PartyId<'a> {
            #[serde(borrow)]
            id: Cow<'a, str>,
        }
        let [party] = serde_json::from_str::<OneParty<'_>>(self.json())
            .ok()?
            .parties;
        Some(party.id)
    }

    /// The body as a JSON tree, for readers that look into it (tests, truth checks).
    pub fn to_value(&self) -> Value {
        // The text was produced by serde_json, so it parses.
        serde_json::from_str(self.json()).unwrap_or(Value::Null)
    }
}

impl PartialEq for NotificationBody {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

impl Serialize for NotificationBody {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// A telephony-session notification body: one party's new state, with the session's next
/// `sequence`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TelephonyBody<'a> {
    pub sequence: u64,
    pub session_id: &'a str,
    pub telephony_session_id: &'a str,
    pub server_id: &'a str,
    pub event_time: &'a str,
    /// Always exactly one party per notification.
    pub parties: [PartyBody<'a>; 1],
    pub origin: Origin,
}

/// `origin {type: "Call"}`.
#[derive(Serialize)]
pub struct Origin {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl Origin {
    pub const CALL: Origin = Origin { kind: "Call" };
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyBody<'a> {
    pub account_id: &'a str,
    /// The party's extension; absent on a PSTN leg.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_id: Option<&'a str>,
    pub id: &'a str,
    pub direction: &'a str,
    pub to: EndpointBody<'a>,
    pub from: EndpointBody<'a>,
    pub status: StatusBody<'a>,
    /// `park: {}`, sent in the 2020 style only (with `muted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub park: Option<Empty>,
    pub missed_call: bool,
    pub stand_alone: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted: Option<bool>,
    /// Present (and true) only on a party reached through a call queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_call: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ui_call_info: Option<UiCallInfo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recordings: Option<[RecordingBody<'a>; 1]>,
}

/// `{}`.
#[derive(Serialize)]
pub struct Empty {}

/// `from` / `to` of a party: each field only when known.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusBody<'a> {
    pub code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    /// On `Gone`: the party that took the call over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<PeerBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub park_data: Option<&'a str>,
    pub rcc: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerBody<'a> {
    pub session_id: &'a str,
    pub telephony_session_id: &'a str,
    pub party_id: &'a str,
}

/// `uiCallInfo` of a queue party: the queue's name, then the campaign (or the caller).
#[derive(Serialize)]
pub struct UiCallInfo<'a> {
    pub primary: TypedText<'a>,
    pub additional: TypedText<'a>,
}

/// `{type, value}`, as in `uiCallInfo`.
#[derive(Serialize)]
pub struct TypedText<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: &'a str,
}

#[derive(Serialize)]
pub struct RecordingBody<'a> {
    pub id: &'a str,
    pub active: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn endpoint(number: &str) -> EndpointBody<'_> {
        EndpointBody {
            phone_number: Some(number),
            name: None,
            extension_id: None,
        }
    }

    #[test]
    fn a_telephony_body_has_the_platform_shape_and_omits_what_is_unknown() {
        let body = TelephonyBody {
            sequence: 3,
            session_id: "425008160016",
            telephony_session_id: "s-a6ab",
            server_id: "10.13.22.28.TAM",
            event_time: "2020-06-14T19:27:18.340Z",
            parties: [PartyBody {
                account_id: "809646016",
                extension_id: Some("809646016"),
                id: "p-a6ab-2",
                direction: "Inbound",
                to: EndpointBody {
                    phone_number: Some("+19043014558"),
                    name: Some("TESTER Babji"),
                    extension_id: Some("809646016"),
                },
                from: endpoint("+14083388064"),
                status: StatusBody {
                    code: "Setup",
                    reason: None,
                    peer_id: None,
                    park_data: None,
                    rcc: false,
                },
                park: Some(Empty {}),
                missed_call: false,
                stand_alone: false,
                muted: Some(false),
                queue_call: None,
                ui_call_info: None,
                recordings: None,
            }],
            origin: Origin::CALL,
        };
        let serialised = NotificationBody::new(&body);
        // The voice guide's 2020 capture (`event-telsess-docs-samples.json`), field for field.
        assert_eq!(
            serialised.to_value(),
            json!({
                "sequence": 3,
                "sessionId": "425008160016",
                "telephonySessionId": "s-a6ab",
                "serverId": "10.13.22.28.TAM",
                "eventTime": "2020-06-14T19:27:18.340Z",
                "parties": [{
                    "accountId": "809646016",
                    "extensionId": "809646016",
                    "id": "p-a6ab-2",
                    "direction": "Inbound",
                    "to": {"phoneNumber": "+19043014558", "name": "TESTER Babji", "extensionId": "809646016"},
                    "from": {"phoneNumber": "+14083388064"},
                    "status": {"code": "Setup", "rcc": false},
                    "park": {},
                    "missedCall": false,
                    "standAlone": false,
                    "muted": false
                }],
                "origin": {"type": "Call"}
            })
        );
        assert!(
            serialised
                .json()
                .starts_with(r#"{"sequence":3,"sessionId":"#),
            "platform field order: {}",
            serialised.json()
        );
    }

    #[test]
    fn the_party_id_is_read_from_the_text() {
        let body = NotificationBody::from_value(
            &json!({"sequence": 2, "parties": [{"status": {"code": "Setup"}, "id": "p-ab-1"}]}),
        );
        assert_eq!(body.party_id().as_deref(), Some("p-ab-1"));
        let presence = NotificationBody::from_value(&json!({"extensionId": "101"}));
        assert_eq!(presence.party_id(), None);
    }

    #[test]
    fn bodies_compare_by_their_text_and_serialise_as_themselves() {
        let a = NotificationBody::from_value(&json!({"x": [1, "two"]}));
        let b = NotificationBody::from_value(&json!({"x": [1, "two"]}));
        assert_eq!(a, b);
        assert_ne!(a, NotificationBody::from_value(&json!({"x": []})));
        assert_eq!(
            serde_json::to_string(&json!({"body": a})).unwrap(),
            r#"{"body":{"x":[1,"two"]}}"#
        );
    }
}
