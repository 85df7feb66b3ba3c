//! The WebSocket gateway's control frames (PROTOCOL.md §2.2–2.5), as the session needs them:
//! reading the `meta` of any frame cheaply (the body is skipped, not parsed), reading the few
//! control bodies (ConnectionDetails, ClientRequest replies, Error), and writing the frames the
//! client sends (subscription requests, Heartbeat).
//!
//! Notification bodies are not read here: the app parses them once, with `rc::events`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::json;

/// What kind of frame `meta.type` says this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    ConnectionDetails,
    ClientRequest,
    ServerNotification,
    Heartbeat,
    Error,
    Other,
}

impl FrameKind {
    fn from_type(name: &str) -> Self {
        match name {
            "ConnectionDetails" => Self::ConnectionDetails,
            "ClientRequest" => Self::ClientRequest,
            "ServerNotification" => Self::ServerNotification,
            "Heartbeat" => Self::Heartbeat,
            "Error" => Self::Error,
            _ => Self::Other,
        }
    }
}

/// The session-context token of the gateway (`meta.wsc`), kept to recover a dropped session.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Wsc {
    pub token: String,
    #[serde(default)]
    pub sequence: i64,
}

impl fmt::Debug for Wsc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Wsc(*** sequence {})", self.sequence)
    }
}

#[derive(Deserialize)]
struct RawMeta<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "messageId", borrow)]
    message_id: Option<Cow<'a, str>>,
    status: Option<u16>,
    wsc: Option<Wsc>,
}

/// A frame's `meta`, read without parsing the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameMeta {
    pub kind: FrameKind,
    pub message_id: Option<String>,
    pub status: Option<u16>,
    pub wsc: Option<Wsc>,
}

/// `[meta, body?]`, with the body read as `B` (or skipped with `IgnoredAny`).
struct Frame<M, B> {
    meta: M,
    body: Option<B>,
}

impl<'de, M: Deserialize<'de>, B: Deserialize<'de>> Deserialize<'de> for Frame<M, B> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FrameVisitor<M, B>(PhantomData<(M, B)>);
        impl<'de, M: Deserialize<'de>, B: Deserialize<'de>> Visitor<'de> for FrameVisitor<M, B> {
            type Value = Frame<M, B>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a gateway frame [meta, body?]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let meta = seq
                    .next_element::<M>()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let body = seq.next_element::<Option<B>>()?.flatten();
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Frame { meta, body })
            }
        }
        deserializer.deserialize_seq(FrameVisitor(PhantomData))
    }
}

/// Reads a frame's meta; the body is scanned but not built. `Err` for anything that is not a
/// gateway frame (the caller counts it and moves on).
pub fn peek_meta(text: &str) -> Result<FrameMeta, serde_json::Error> {
    let frame: Frame<RawMeta<'_>, IgnoredAny> = serde_json::from_str(text)?;
    let meta = frame.meta;
    Ok(FrameMeta {
        kind: meta
            .kind
            .as_deref()
            .map_or(FrameKind::Other, FrameKind::from_type),
        message_id: meta.message_id.map(Cow::into_owned),
        status: meta.status,
        wsc: meta.wsc,
    })
}

/// Reads a control frame's body as `B`; `None` when it has none or it has another shape.
pub fn read_body<B: DeserializeOwned>(text: &str) -> Option<B> {
    serde_json::from_str::<Frame<IgnoredAny, B>>(text)
        .ok()
        .and_then(|f| f.body)
}

/// The body of ConnectionDetails (PROTOCOL.md §2.3). Times are seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionDetails {
    pub recovery_timeout: Option<u64>,
    pub idle_timeout: Option<u64>,
    pub absolute_timeout: Option<u64>,
    pub recovery_state: Option<String>,
    pub recovery_error_code: Option<String>,
}

impl ConnectionDetails {
    /// True when the gateway restored the previous session (and replays what was missed).
    pub fn recovered(&self) -> bool {
        self.recovery_state.as_deref() == Some("Successful")
    }
}

/// The body of an Error frame, or of a failed ClientRequest reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayError {
    pub error_code: Option<String>,
    pub message: Option<String>,
    #[serde(default)]
    pub errors: Vec<GatewayErrorItem>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayErrorItem {
    pub error_code: Option<String>,
    pub message: Option<String>,
}

impl GatewayError {
    /// The most specific code given.
    pub fn code(&self) -> Option<&str> {
        self.errors
            .first()
            .and_then(|e| e.error_code.as_deref())
            .or(self.error_code.as_deref())
    }

    /// Code and message for a log line or the status line, sanitised.
    pub fn describe(&self) -> String {
        let message = self
            .errors
            .first()
            .and_then(|e| e.message.as_deref())
            .or(self.message.as_deref())
            .unwrap_or("no reason given");
        let message = crate::text::sanitize(message);
        match self.code() {
            Some(code) => format!("{message} [{}]", crate::text::sanitize(code)),
            None => message.into_owned(),
        }
    }
}

/// The subscription part of a reply to POST/PUT `/restapi/v1.0/subscription`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionInfo {
    pub id: String,
    pub expires_in: Option<u64>,
    pub status: Option<String>,
    #[serde(default)]
    pub disabled_filters: Vec<DisabledFilter>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisabledFilter {
    pub filter: Option<String>,
    pub reason: Option<String>,
}

/// `[{"type":"ClientRequest","messageId",…,"method","path"}, body?]`.
pub fn client_request(
    message_id: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> String {
    let meta = json!({
        "type": "ClientRequest",
        "messageId": message_id,
        "method": method,
        "path": path,
        "headers": {"X-User-Agent": concat!("callboard/", env!("CARGO_PKG_VERSION"))},
    });
    match body {
        Some(body) => json!([meta, body]).to_string(),
        None => json!([meta]).to_string(),
    }
}

/// The body of a subscription create or renew: the filters and the WebSocket delivery mode.
pub fn subscription_body(event_filters: &[String]) -> serde_json::Value {
    json!({
        "eventFilters": event_filters,
        "deliveryMode": {"transportType": "WebSocket"},
    })
}

/// `[{"type":"Heartbeat","messageId":…}]`.
pub fn heartbeat(message_id: &str) -> String {
    json!([{"type": "Heartbeat", "messageId": message_id}]).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The docs' ConnectionDetails sample (shared/samples/ws-01-connection-details.json).
    const CONNECTION_DETAILS: &str = r#"[{"type": "ConnectionDetails", "messageId": "156eec30-xxxx-xxxx-xxxx-005056bf7145", "status": 200, "wsc": {"token": "RTFhRG5nfExxxxxxxxxxxcHE3bXkyRURQVQ", "sequence": 1}, "headers": {"RCRequestId": "156eec30-xxxx-xxxx-xxxx-005056bf7145"}}, {"creationTime": "2020-09-07T21:50:02.737+0000", "maxConnectionsPerSession": 50, "recoveryBufferSize": 100, "recoveryTimeout": 180, "idleTimeout": 1800, "absoluteTimeout": 86400, "maxActiveRequests": 10}]"#;

    #[test]
    fn the_docs_connection_details_sample_reads() {
        let meta = peek_meta(CONNECTION_DETAILS).unwrap();
        assert_eq!(meta.kind, FrameKind::ConnectionDetails);
        assert_eq!(meta.wsc.as_ref().map(|w| w.sequence), Some(1));
        let details: ConnectionDetails = read_body(CONNECTION_DETAILS).unwrap();
        assert_eq!(details.recovery_timeout, Some(180));
        assert_eq!(details.absolute_timeout, Some(86400));
        assert!(!details.recovered());
    }

    #[test]
    fn a_recovery_reply_says_whether_it_worked() {
        let ok = r#"[{"type":"ConnectionDetails","messageId":"X","status":200,"wsc":{"sequence":1,"token":"G86"}},{"creationTime":"2020-01-15T12:00:01Z","recoveryState":"Successful","recoveryTimeout":30,"recoveryBufferSize":100}]"#;
        assert!(read_body::<ConnectionDetails>(ok).unwrap().recovered());
        let failed = r#"[{"type":"ConnectionDetails","messageId":"X","status":200},{"recoveryState":"Failed","recoveryErrorCode":"WSG-1005"}]"#;
        let details: ConnectionDetails = read_body(failed).unwrap();
        assert!(!details.recovered());
        assert_eq!(details.recovery_error_code.as_deref(), Some("WSG-1005"));
    }

    #[test]
    fn notification_meta_is_read_without_the_body() {
        let frame = r#"[{"type":"ServerNotification","messageId":"266","status":200,"wsc":{"token":"t","sequence":7}},{"uuid":"266","body":{"deep":[1,2,{"x":"y"}]}}]"#;
        let meta = peek_meta(frame).unwrap();
        assert_eq!(meta.kind, FrameKind::ServerNotification);
        assert_eq!(meta.message_id.as_deref(), Some("266"));
        assert_eq!(meta.wsc.unwrap().sequence, 7);
    }

    #[test]
    fn meta_only_frames_and_unknown_types_read() {
        let meta = peek_meta(r#"[{"type":"Heartbeat","messageId":"h1"}]"#).unwrap();
        assert_eq!(meta.kind, FrameKind::Heartbeat);
        let meta = peek_meta(r#"[{"type":"Surprise"},{},3]"#).unwrap();
        assert_eq!(meta.kind, FrameKind::Other);
        assert_eq!(read_body::<ConnectionDetails>(r#"[{"type":"Heartbeat"}]"#), None);
    }

    #[test]
    fn broken_frames_are_errors_not_panics() {
        for bad in ["", "not json", "{}", "[]", "[1,2]", "[{\"type\":", "\"str\"", "[{\"type\":5}]"] {
            assert!(peek_meta(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn gateway_errors_describe_themselves_sanitised() {
        let frame = r#"[{"type":"Error","messageId":"e","status":400},{"errorCode":"WSG-400","message":"Malformed\u001b[2J token"}]"#;
        let err: GatewayError = read_body(frame).unwrap();
        assert_eq!(err.code(), Some("WSG-400"));
        assert_eq!(err.describe(), "Malformed[2J token [WSG-400]");
    }

    #[test]
    fn subscription_replies_read() {
        // The php SDK's recorded reply (shared/samples/ws-04-subscription-responses.json).
        let frame = r#"[{"type":"ClientRequest","messageId":"xxxx","status":200,"headers":{"Server":"nginx"}},{"uri":"/restapi/v1.0/subscription/3ef793d9-34e3-4218-a865-e15856cd1599","id":"3ef793d9-34e3-4218-a865-e15856cd1599","creationTime":"2020-09-07T21:50:28.643Z","status":"Active","eventFilters":["/restapi/v1.0/account/400132871015/extension/400132871015/presence"],"expirationTime":"2020-09-07T22:10:51.113Z","expiresIn":843,"deliveryMode":{"transportType":"WebSocket","encryption":false}}]"#;
        let info: SubscriptionInfo = read_body(frame).unwrap();
        assert_eq!(info.id, "3ef793d9-34e3-4218-a865-e15856cd1599");
        assert_eq!(info.expires_in, Some(843));
    }

    #[test]
    fn client_frames_have_the_documented_shape() {
        let filters = vec!["/restapi/v1.0/account/~/telephony/sessions".to_owned()];
        let body = subscription_body(&filters);
        let frame: serde_json::Value =
            serde_json::from_str(&client_request("m1", "POST", "/restapi/v1.0/subscription", Some(&body))).unwrap();
        assert_eq!(frame[0]["type"], "ClientRequest");
        assert_eq!(frame[0]["messageId"], "m1");
        assert_eq!(frame[0]["method"], "POST");
        assert_eq!(frame[1]["deliveryMode"]["transportType"], "WebSocket");
        assert_eq!(frame[1]["eventFilters"][0], filters[0]);
        let hb: serde_json::Value = serde_json::from_str(&heartbeat("h")).unwrap();
        assert_eq!(hb, json!([{"type": "Heartbeat", "messageId": "h"}]));
    }
}
