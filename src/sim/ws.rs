//! The WebSocket gateway's sockets: `GET /ws?access_token=…[&wsc=…]` (or `Authorization: Bearer`
//! on the upgrade). Each socket is one task that owns the connection and multiplexes:
//! frames queued for it by the gateway, frames from the client (ClientRequest, Heartbeat),
//! server pings, and the idle / absolute timeouts (WSG-902 / WSG-903).
//!
//! Idle means no frame at all from the client, pongs included: a client that answers the
//! server's pings is never idle, so WSG-902 shows only with pings off (`ping_interval: None`) or
//! a client that stopped answering.
//!
//! ClientRequests on `/restapi/v1.0/subscription` are the gateway's own; any other REST path
//! is served through the HTTP router (REST over WebSocket), with the same handlers and limits.

use super::filters::FilterContext;
use super::gateway::{
    Attached, ClientCall, EnvelopeContext, Inlet, MalformedWsc, OUTBOUND_QUEUE, Outbound,
    api_error, outlet, wire_time,
};
use super::http::{
    Caller, Presented, SimState, check_rate, lock, presented_token, rate_header_pairs,
};
use super::ratelimit::{Group, Verdict};
use super::tokens::TokenRejection;
use super::world::WorldEvent;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use chrono::Utc;
use futures_util::SinkExt;
use serde_json::{Map, Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt as _;

/// Close code for a connect without any token (observed on the real gateway).
const CLOSE_NO_AUTH: u16 = 4400;
/// Close code for a connect whose token is unknown, used or expired.
const CLOSE_BAD_AUTH: u16 = 4401;
/// Close code after an Error frame that ends the connection (WSG-400, WSG-902, WSG-903).
const CLOSE_POLICY: u16 = 1008;

/// Largest client frame accepted; subscription requests are a few hundred bytes.
const MAX_CLIENT_FRAME: usize = 1 << 20;

pub(crate) async fn upgrade(
    State(state): State<Arc<SimState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let token = match presented_token(&headers, query.as_deref()) {
        Presented::Token(token) => Some(token),
        _ => None,
    };
    let wsc = url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(key, _)| key == "wsc")
        .map(|(_, value)| value.into_owned());
    upgrade
        .max_message_size(MAX_CLIENT_FRAME)
        .on_upgrade(move |socket| serve(state, peer, socket, token, wsc))
}

/// `[{"type":"Error", messageId, status, headers}, {errorCode, message}]`.
fn error_frame(
    state: &SimState,
    message_id: Option<&str>,
    status: u16,
    code: &str,
    message: &str,
) -> String {
    let request_id = state.uuid();
    let message_id = message_id
        .map(str::to_owned)
        .unwrap_or_else(|| state.uuid());
    json!([
        {"type": "Error", "messageId": message_id, "status": status, "headers": {"RCRequestId": request_id}},
        {"errorCode": code, "message": message},
    ])
    .to_string()
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

async fn serve(
    state: Arc<SimState>,
    peer: SocketAddr,
    mut socket: WebSocket,
    token: Option<String>,
    wsc: Option<String>,
) {
    let Some(token) = token else {
        close(&mut socket, CLOSE_NO_AUTH, "Authorization is required").await;
        return;
    };
    let now = Instant::now();
    let redeemed = lock(&state.tokens).redeem_ws_token(&token, now);
    let oauth_session = match redeemed {
        Ok(session) => session,
        Err(rejection) => {
            let (code, message) = match rejection {
                TokenRejection::Expired => (
                    "OAU-128",
                    "WebSocket access token expired; request a new one",
                ),
                TokenRejection::Unknown => (
                    "OAU-149",
                    "WebSocket access token is invalid or already used; request a new one per connect",
                ),
            };
            let frame = error_frame(&state, None, 401, code, message);
            let _ = socket.send(Message::Text(frame.into())).await;
            close(&mut socket, CLOSE_BAD_AUTH, "Invalid access token").await;
            return;
        }
    };

    let (outlet, mut inlet) = outlet(OUTBOUND_QUEUE);
    // Attach and take the ConnectionDetails wsc under one lock, so no notification can be
    // numbered between them.
    let attached = {
        let mut rng = lock(&state.rng);
        let mut gateway = lock(&state.gateway);
        gateway
            .attach(&mut *rng, &oauth_session, wsc.as_deref(), outlet, now)
            .map(|attached| {
                let id = attached.connection_id();
                let wsc = gateway.next_wsc(id).unwrap_or(Value::Null);
                (attached, wsc)
            })
    };
    let (attached, wsc_meta) = match attached {
        Ok(pair) => pair,
        Err(MalformedWsc) => {
            let frame = error_frame(
                &state,
                None,
                400,
                "WSG-400",
                "Malformed WebSocket session context token",
            );
            let _ = socket.send(Message::Text(frame.into())).await;
            close(
                &mut socket,
                CLOSE_POLICY,
                "Malformed WebSocket session context token",
            )
            .await;
            return;
        }
    };
    let connection_id = attached.connection_id();
    let details = connection_details(&state, &attached, wsc_meta);
    let mut replay = match attached {
        Attached::Recovered { replay, .. } => replay,
        _ => Vec::new(),
    };
    let mut outcome = Ok(());
    for frame in std::iter::once(details).chain(replay.drain(..)) {
        outcome = socket.send(Message::Text(frame.into())).await;
        if outcome.is_err() {
            break;
        }
    }
    if outcome.is_ok() {
        let link = Link {
            connection_id,
            oauth_session: &oauth_session,
            peer,
        };
        run(&state, &mut socket, &mut inlet, &link).await;
    }
    lock(&state.gateway).detach(connection_id, Instant::now());
}

fn connection_details(state: &SimState, attached: &Attached, wsc: Value) -> String {
    let settings = &state.cfg.gateway;
    let request_id = state.uuid();
    let mut body = json!({
        "creationTime": wire_time(Utc::now()),
        "maxConnectionsPerSession": settings.max_connections_per_session,
        "recoveryBufferSize": settings.recovery_buffer_size,
        "recoveryTimeout": settings.recovery_timeout.as_secs(),
        "idleTimeout": settings.idle_timeout.as_secs(),
        "absoluteTimeout": settings.absolute_timeout.as_secs(),
        "maxActiveRequests": settings.max_active_requests,
    });
    match attached {
        Attached::Fresh { .. } => {}
        Attached::Recovered { .. } => body["recoveryState"] = json!("Successful"),
        Attached::Failed { error_code, .. } => {
            body["recoveryState"] = json!("Failed");
            if let Some(code) = error_code {
                body["recoveryErrorCode"] = json!(code);
            }
        }
    }
    json!([
        {"type": "ConnectionDetails", "messageId": request_id, "status": 200, "wsc": wsc,
         "headers": {"RCRequestId": request_id}},
        body,
    ])
    .to_string()
}

/// Why the connection loop ended, for the final frames it owes the client.
enum Ending {
    /// The peer closed or vanished, or the gateway dropped it: nothing more to send.
    Quiet,
    /// Send this close frame.
    Close(u16, String),
    /// Send an Error frame with this code and message, then close.
    Error(&'static str, &'static str),
}

/// Who is on the other end of a socket.
struct Link<'a> {
    connection_id: u64,
    oauth_session: &'a str,
    peer: SocketAddr,
}

/// Frames written to a socket between two flushes at most.
const SEND_BATCH: usize = 256;

/// Writes `first` and whatever else is already queued (up to [`SEND_BATCH`] frames), then
/// flushes once: a burst leaves in large writes instead of one system call per frame, and a
/// lone frame still goes at once. `Some` when the socket is to end.
async fn forward_queued(
    socket: &mut WebSocket,
    inlet: &mut Inlet,
    first: Option<Outbound>,
) -> Option<Ending> {
    let mut next = first;
    let mut written = 0;
    loop {
        let message = match next {
            Some(Outbound::Text(text)) => Message::Text(text.into()),
            Some(Outbound::Binary(bytes)) => Message::Binary(bytes.into()),
            // Closing sends (and so flushes) what was written before the close frame.
            Some(Outbound::Close { code, reason }) => return Some(Ending::Close(code, reason)),
            Some(Outbound::Drop) | None => return Some(Ending::Quiet),
        };
        if socket.feed(message).await.is_err() {
            return Some(Ending::Quiet);
        }
        written += 1;
        if written >= SEND_BATCH {
            break;
        }
        match inlet.frames.try_recv() {
            Ok(queued) => next = Some(queued),
            Err(_) => break,
        }
    }
    socket.flush().await.err().map(|_| Ending::Quiet)
}

async fn run(state: &SimState, socket: &mut WebSocket, inlet: &mut Inlet, link: &Link<'_>) {
    let settings = state.cfg.gateway.clone();
    let started = tokio::time::Instant::now();
    let absolute_deadline = started + settings.absolute_timeout;
    let mut last_activity = started;
    let mut ping = state
        .cfg
        .ping_interval
        .map(|every| tokio::time::interval_at(started + every, every));
    let mut shutdown = state.shutdown.clone();

    let ending = loop {
        let idle_deadline = last_activity + settings.idle_timeout;
        tokio::select! {
            outbound = inlet.frames.recv() => {
                if let Some(ending) = forward_queued(socket, inlet, outbound).await {
                    break ending;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    last_activity = tokio::time::Instant::now();
                    for reply in client_frame(state, link, text.as_str()).await {
                        if socket.send(Message::Text(reply.into())).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    last_activity = tokio::time::Instant::now();
                    let frame = error_frame(state, None, 400, "CMN-104", "Cannot parse request: binary frames are not accepted");
                    let _ = socket.send(Message::Text(frame.into())).await;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => last_activity = tokio::time::Instant::now(),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break Ending::Quiet,
            },
            _ = async {
                match ping.as_mut() {
                    Some(interval) => { interval.tick().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {
                if socket.send(Message::Ping(bytes::Bytes::from_static(b"sim"))).await.is_err() {
                    break Ending::Quiet;
                }
            }
            _ = inlet.kick.notified() => break Ending::Quiet,
            _ = tokio::time::sleep_until(idle_deadline) => break Ending::Error("WSG-902", "Idle timeout expired"),
            _ = tokio::time::sleep_until(absolute_deadline) => break Ending::Error("WSG-903", "Absolute timeout expired"),
            _ = async { let _ = shutdown.wait_for(|stop| *stop).await; } => {
                break Ending::Close(1001, "The simulator is shutting down".into());
            }
        }
    };
    match ending {
        Ending::Quiet => {}
        Ending::Close(code, reason) => close(socket, code, &reason).await,
        Ending::Error(code, message) => {
            let frame = error_frame(state, None, 408, code, message);
            let _ = socket.send(Message::Text(frame.into())).await;
            close(socket, CLOSE_POLICY, message).await;
        }
    }
}

/// Answers one text frame from a client; returns the frames to send back.
async fn client_frame(state: &SimState, link: &Link<'_>, text: &str) -> Vec<String> {
    let parsed: Result<Value, _> = serde_json::from_str(text);
    let frame = match parsed {
        Ok(Value::Array(items)) if matches!(items.first(), Some(Value::Object(_))) => items,
        Ok(_) => {
            return vec![error_frame(
                state,
                None,
                400,
                "CMN-104",
                "Cannot parse request: a frame is a JSON array [meta, body?]",
            )];
        }
        Err(error) => {
            return vec![error_frame(
                state,
                None,
                400,
                "CMN-103",
                &format!("JSON can't be parsed: {error}"),
            )];
        }
    };
    let meta = frame
        .first()
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let message_id = meta.get("messageId").and_then(Value::as_str);
    match meta.get("type").and_then(Value::as_str) {
        // Heartbeats come back as they went out.
        Some("Heartbeat") => vec![text.to_owned()],
        Some("ClientRequest") => {
            let path = meta.get("path").and_then(Value::as_str).unwrap_or("");
            if path.starts_with("/restapi/v1.0/subscription") {
                vec![client_request(
                    state,
                    link.connection_id,
                    link.oauth_session,
                    &meta,
                    frame.get(1),
                )]
            } else {
                vec![rest_over_socket(state, link, &meta, frame.get(1)).await]
            }
        }
        other => vec![error_frame(
            state,
            message_id,
            400,
            "CMN-101",
            &format!(
                "Parameter [type] value is invalid: {}",
                other.unwrap_or("(missing)")
            ),
        )],
    }
}

fn client_request(
    state: &SimState,
    connection_id: u64,
    oauth_session: &str,
    meta: &Map<String, Value>,
    body: Option<&Value>,
) -> String {
    let message_id = meta
        .get("messageId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let method = meta
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_uppercase();
    let path = meta.get("path").and_then(Value::as_str).unwrap_or("");
    let verdict = check_rate(
        state,
        &format!("session:{oauth_session}"),
        Group::Medium,
        Instant::now(),
    );
    // `extra_header`: Retry-After on a 429, WSG-SubscriptionId on a created subscription.
    let (status, reply_body, extra_header) = match verdict {
        Verdict::Limited {
            retry_after_secs, ..
        } => (
            429,
            Some(api_error("CMN-301", "Request rate exceeded")),
            Some(("Retry-After", retry_after_secs.to_string())),
        ),
        Verdict::Allowed { .. } => {
            let (status, reply) = {
                let world = lock(&state.world);
                let exists = |id: &str| world.extension(id).is_some();
                let filter_ctx = FilterContext {
                    account_id: &state.account_id,
                    owner_extension_id: &state.owner_extension_id,
                    extension_exists: &exists,
                };
                let mut rng = lock(&state.rng);
                let call = ClientCall {
                    method: &method,
                    path,
                    body,
                };
                lock(&state.gateway).subscription_request(
                    &mut *rng,
                    connection_id,
                    &call,
                    &filter_ctx,
                    Utc::now(),
                )
            };
            let subscription_id = (method == "POST" && status == 200)
                .then(|| {
                    reply
                        .as_ref()
                        .and_then(|r| r.get("id"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .flatten()
                .map(|id| ("WSG-SubscriptionId", id));
            (status, reply, subscription_id)
        }
    };
    let mut headers = Map::new();
    headers.insert("RCRequestId".into(), json!(state.uuid()));
    if reply_body.is_some() {
        headers.insert("Content-Type".into(), json!("application/json"));
    }
    for (name, value) in rate_header_pairs(&verdict) {
        headers.insert(name.into(), json!(value));
    }
    if let Some((name, value)) = extra_header {
        headers.insert(name.into(), json!(value));
    }
    let meta = json!({"type": "ClientRequest", "messageId": message_id, "status": status, "headers": headers});
    match reply_body {
        Some(body) => json!([meta, body]).to_string(),
        None => json!([meta]).to_string(),
    }
}

/// Serves any other REST ClientRequest through the HTTP router, as the real gateway does for
/// `restOverWebSocket` clients: same handlers, limits and faults, authenticated as the socket's
/// OAuth session. OAuth calls, the socket and the control API stay HTTP-only (404 CMN-120), and
/// binary answers (recording content) are refused as on the platform: fetch them over HTTP.
async fn rest_over_socket(
    state: &SimState,
    link: &Link<'_>,
    meta: &Map<String, Value>,
    body: Option<&Value>,
) -> String {
    let message_id = meta
        .get("messageId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let reply = |status: u16, headers: Map<String, Value>, body: Option<Value>| {
        let meta = json!({"type": "ClientRequest", "messageId": message_id, "status": status, "headers": headers});
        match body {
            Some(body) => json!([meta, body]).to_string(),
            None => json!([meta]).to_string(),
        }
    };
    let refuse = |status: u16, code: &str, message: &str| {
        let mut headers = Map::new();
        headers.insert("RCRequestId".into(), json!(state.uuid()));
        reply(status, headers, Some(api_error(code, message)))
    };
    let path = meta.get("path").and_then(Value::as_str).unwrap_or("");
    if !path.starts_with("/restapi/") || path.starts_with("/restapi/oauth/") {
        return refuse(
            404,
            "CMN-120",
            &format!("Invalid URI: {path} is not served over WebSocket"),
        );
    }
    let method_name = meta.get("method").and_then(Value::as_str).unwrap_or("GET");
    let Ok(method) = Method::from_bytes(method_name.to_ascii_uppercase().as_bytes()) else {
        return refuse(
            400,
            "CMN-101",
            &format!("Parameter [method] value is invalid: {method_name}"),
        );
    };
    let Some(router) = lock(&state.router).clone() else {
        return refuse(
            503,
            "CMN-201",
            "Service temporarily unavailable: the simulator is stopping",
        );
    };
    let uri = with_query(path, meta.get("query"));
    let mut request = axum::http::Request::builder().method(method).uri(&uri);
    if let Some(headers) = meta.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            if let Some(value) = value.as_str()
                && !name.eq_ignore_ascii_case("authorization")
            {
                request = request.header(name.as_str(), value);
            }
        }
    }
    let payload = match body {
        Some(body) => {
            request = request.header("Content-Type", "application/json");
            axum::body::Body::from(body.to_string())
        }
        None => axum::body::Body::empty(),
    };
    let Ok(mut request) = request.body(payload) else {
        return refuse(400, "CMN-104", &format!("Cannot parse request: {uri}"));
    };
    request.extensions_mut().insert(ConnectInfo(link.peer));
    request.extensions_mut().insert(Caller {
        session_id: link.oauth_session.to_owned(),
    });
    let Ok(response) = router.oneshot(request).await;
    let status = response.status().as_u16();
    let mut headers = Map::new();
    let mut is_json = false;
    for (name, value) in response.headers() {
        if let Ok(value) = value.to_str() {
            is_json |= *name == header::CONTENT_TYPE && value.starts_with("application/json");
            headers.insert(wire_header_name(name.as_str()), json!(value));
        }
    }
    let bytes = match axum::body::to_bytes(response.into_body(), MAX_SOCKET_REPLY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return refuse(
                501,
                "CMN-202",
                "Operation not supported over WebSocket: the answer is too large, use HTTP",
            );
        }
    };
    if bytes.is_empty() {
        return reply(status, headers, None);
    }
    if !is_json {
        return refuse(
            501,
            "CMN-202",
            "Operation not supported over WebSocket: binary content, use HTTP",
        );
    }
    match serde_json::from_slice(&bytes) {
        Ok(body) => reply(status, headers, Some(body)),
        Err(_) => refuse(
            500,
            "CMN-203",
            "Internal server error: the REST answer was not JSON",
        ),
    }
}

/// Largest REST answer relayed over a socket; bigger ones (a 1000-record page is well under)
/// belong on HTTP.
const MAX_SOCKET_REPLY: usize = 16 << 20;

/// `path` with the ClientRequest's `query` object appended; array values repeat the parameter.
fn with_query(path: &str, query: Option<&Value>) -> String {
    let Some(query) = query.and_then(Value::as_object).filter(|q| !q.is_empty()) else {
        return path.to_owned();
    };
    let mut encoded = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in query {
        let values = match value {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for value in values {
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            encoded.append_pair(name, &text);
        }
    }
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}{}", encoded.finish())
}

/// The header spelling the platform uses in WS replies (HTTP/1 lower-cases names on the way in).
fn wire_header_name(name: &str) -> String {
    match name {
        "rcrequestid" => "RCRequestId".to_owned(),
        other => other
            .split('-')
            .map(|part| {
                let mut chars = part.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

/// Hands world events to the gateway, which wraps them per subscription and queues them on
/// the sockets (or the recovery buffers). Returns how many frames went to live sockets.
pub(crate) fn fan_out(state: &SimState, events: &[WorldEvent]) -> usize {
    if events.is_empty() {
        return 0;
    }
    let ctx = EnvelopeContext {
        account_id: &state.account_id,
        owner_extension_id: &state.owner_extension_id,
        now: Utc::now(),
        clock: Instant::now(),
    };
    let mut rng = lock(&state.rng);
    lock(&state.gateway).dispatch(&mut *rng, events, &ctx)
}

/// The frames of the `malformed_frame` fault: each is something a careless client would choke
/// on. Every live socket gets all of them.
pub(crate) fn malformed_frames() -> Vec<Outbound> {
    let huge_name = "\u{1b}[2J".repeat(10) + &"A".repeat(2 * 1024 * 1024);
    vec![
        Outbound::Text("this is not JSON".into()),
        Outbound::Text("{\"type\":\"ServerNotification\"}".into()),
        Outbound::Text("[]".into()),
        Outbound::Text("[1,2,3]".into()),
        Outbound::Text("[{\"type\":\"ServerNotification\",\"messageId\":\"x\"}]".into()),
        Outbound::Text(
            "[{\"type\":\"ServerNotification\",\"messageId\":\"m\",\"status\":200},{\"uuid\":\"m\",\"body\":\"not an object\"}]"
                .into(),
        ),
        Outbound::Text(
            json!([
                {"type": "ServerNotification", "messageId": "h", "status": 200},
                {"uuid": "h", "event": "/restapi/v1.0/account/~/telephony/sessions", "subscriptionId": "unknown",
                 "body": {"sequence": "two", "telephonySessionId": 42, "parties": [{"id": null, "status": {"code": 7},
                 "from": {"name": huge_name}}]}},
            ])
            .to_string(),
        ),
        Outbound::Text("[{\"type\":\"Mystery\",\"messageId\":\"?\"},{\"\u{0}\":\"\u{202e}\"}]".into()),
        Outbound::Text("[{\"type\":\"ServerNotification\"".into()),
        Outbound::Binary(vec![0xff, 0xfe, 0x00, 0x1b, b'[', b'2', b'J']),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_request_queries_become_query_strings() {
        assert_eq!(with_query("/a", None), "/a");
        assert_eq!(with_query("/a", Some(&json!({}))), "/a");
        assert_eq!(
            with_query(
                "/a",
                Some(&json!({"perPage": 2, "usageType": ["X", "Y"], "q": "a b"}))
            ),
            "/a?perPage=2&q=a+b&usageType=X&usageType=Y"
        );
        assert_eq!(
            with_query("/a?x=1", Some(&json!({"y": true}))),
            "/a?x=1&y=true"
        );
    }

    #[test]
    fn header_names_get_the_platform_spelling() {
        assert_eq!(wire_header_name("rcrequestid"), "RCRequestId");
        assert_eq!(wire_header_name("x-rate-limit-group"), "X-Rate-Limit-Group");
        assert_eq!(wire_header_name("content-type"), "Content-Type");
    }
}
