//! The WebSocket gateway's sockets: `GET /ws?access_token=…[&wsc=…]` (or `Authorization: Bearer`
//! on the upgrade). Each socket is one task that owns the connection and multiplexes:
//! frames queued for it by the gateway, frames from the client (ClientRequest, Heartbeat),
//! server pings, and the idle / absolute timeouts (WSG-902 / WSG-903).
//!
//! Idle means no frame at all from the client, pongs included: a client that answers the
//! server's pings is never idle, so WSG-902 shows only with pings off (`ping_interval: None`) or
//! a client that stopped answering.
//!
//! Only the subscription API is served over the socket; other ClientRequests get 404 CMN-120
//! (REST over WebSocket is not offered, clients use HTTP).

use super::filters::FilterContext;
use super::gateway::{
    Attached, ClientCall, EnvelopeContext, EventRef, MalformedWsc, Outbound, api_error, wire_time,
};
use super::http::{Presented, SimState, check_rate, lock, presented_token, rate_header_pairs};
use super::ratelimit::{Group, Verdict};
use super::tokens::TokenRejection;
use super::world::WorldEvent;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::unbounded_channel;

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
        .on_upgrade(move |socket| serve(state, socket, token, wsc))
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

    let (tx, mut rx) = unbounded_channel();
    // Attach and take the ConnectionDetails wsc under one lock, so no notification can be
    // numbered between them.
    let attached = {
        let mut rng = lock(&state.rng);
        let mut gateway = lock(&state.gateway);
        gateway
            .attach(&mut *rng, &oauth_session, wsc.as_deref(), tx, now)
            .map(|attached| {
                let id = connection_id(&attached);
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
    let connection_id = connection_id(&attached);
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
        run(&state, &mut socket, &mut rx, connection_id, &oauth_session).await;
    }
    lock(&state.gateway).detach(connection_id, Instant::now());
}

fn connection_id(attached: &Attached) -> u64 {
    match attached {
        Attached::Fresh { connection_id }
        | Attached::Recovered { connection_id, .. }
        | Attached::Failed { connection_id, .. } => *connection_id,
    }
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

async fn run(
    state: &SimState,
    socket: &mut WebSocket,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Outbound>,
    connection_id: u64,
    oauth_session: &str,
) {
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
            outbound = rx.recv() => match outbound {
                Some(Outbound::Text(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break Ending::Quiet;
                    }
                }
                Some(Outbound::Binary(bytes)) => {
                    if socket.send(Message::Binary(bytes.into())).await.is_err() {
                        break Ending::Quiet;
                    }
                }
                Some(Outbound::Close { code, reason }) => break Ending::Close(code, reason),
                Some(Outbound::Drop) | None => break Ending::Quiet,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    last_activity = tokio::time::Instant::now();
                    for reply in client_frame(state, connection_id, oauth_session, text.as_str()) {
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
            _ = tokio::time::sleep_until(idle_deadline) => break Ending::Error("WSG-902", "Idle timeout expired"),
            _ = tokio::time::sleep_until(absolute_deadline) => break Ending::Error("WSG-903", "Absolute timeout expired"),
            _ = shutdown.changed() => break Ending::Close(1001, "The simulator is shutting down".into()),
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
fn client_frame(
    state: &SimState,
    connection_id: u64,
    oauth_session: &str,
    text: &str,
) -> Vec<String> {
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
        Some("ClientRequest") => vec![client_request(
            state,
            connection_id,
            oauth_session,
            &meta,
            frame.get(1),
        )],
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
    let (status, reply_body, created) = match verdict {
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
            let created = (method == "POST" && status == 200)
                .then(|| {
                    reply
                        .as_ref()
                        .and_then(|r| r.get("id"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .flatten()
                .map(|id| ("WSG-SubscriptionId", id));
            (status, reply, created)
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
    if let Some((name, value)) = created {
        headers.insert(name.into(), json!(value));
    }
    let meta = json!({"type": "ClientRequest", "messageId": message_id, "status": status, "headers": headers});
    match reply_body {
        Some(body) => json!([meta, body]).to_string(),
        None => json!([meta]).to_string(),
    }
}

/// Hands world events to the gateway, which wraps them per subscription and queues them on
/// the sockets (or the recovery buffers). Returns how many frames went to live sockets.
pub(crate) fn fan_out(state: &SimState, events: &[WorldEvent]) -> usize {
    if events.is_empty() {
        return 0;
    }
    let refs: Vec<EventRef<'_>> = events
        .iter()
        .map(|event| match event {
            WorldEvent::Telephony { extension_id, body } => EventRef::Telephony {
                extension_id: extension_id.as_deref(),
                body,
            },
            WorldEvent::Presence { extension_id, body } => {
                EventRef::Presence { extension_id, body }
            }
        })
        .collect();
    let ctx = EnvelopeContext {
        account_id: &state.account_id,
        owner_extension_id: &state.owner_extension_id,
        now: Utc::now(),
    };
    let mut rng = lock(&state.rng);
    lock(&state.gateway).dispatch(&mut *rng, &refs, &ctx)
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
