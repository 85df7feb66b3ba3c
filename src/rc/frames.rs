//! The frames the client sends to the WebSocket gateway (PROTOCOL.md §2.3, §2.5): subscription
//! requests and the Heartbeat. Frames the gateway sends are read by `rc::events`.

use serde_json::json;

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

    #[test]
    fn client_frames_have_the_documented_shape() {
        let filters = vec!["/restapi/v1.0/account/~/telephony/sessions".to_owned()];
        let body = subscription_body(&filters);
        let frame: serde_json::Value = serde_json::from_str(&client_request(
            "m1",
            "POST",
            "/restapi/v1.0/subscription",
            Some(&body),
        ))
        .unwrap();
        assert_eq!(frame[0]["type"], "ClientRequest");
        assert_eq!(frame[0]["messageId"], "m1");
        assert_eq!(frame[0]["method"], "POST");
        assert_eq!(frame[0]["path"], "/restapi/v1.0/subscription");
        assert_eq!(frame[1]["deliveryMode"]["transportType"], "WebSocket");
        assert_eq!(frame[1]["eventFilters"][0], filters[0]);
        let delete: serde_json::Value =
            serde_json::from_str(&client_request("m2", "DELETE", "/x", None)).unwrap();
        assert_eq!(
            delete.as_array().map(Vec::len),
            Some(1),
            "a DELETE has no body"
        );
    }

    #[test]
    fn heartbeats_are_meta_only_frames() {
        let hb: serde_json::Value = serde_json::from_str(&heartbeat("h")).unwrap();
        assert_eq!(hb, json!([{"type": "Heartbeat", "messageId": "h"}]));
    }
}
