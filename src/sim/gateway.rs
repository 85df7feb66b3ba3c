//! The WebSocket gateway's state: WS sessions (identified by their `wsc` token), the one
//! subscription each may hold, recovery buffers, and the live connections attached to them.
//!
//! Everything here is synchronous and clock-free: the socket tasks in `ws.rs` and the ticker call
//! in with `now`, and frames leave through each connection's unbounded channel, so the gateway
//! lock is never held across an await.
//!
//! Recovery model: while a WS session has no live connection, its notifications go to a buffer
//! that keeps the newest `recoveryBufferSize`; a reconnect with its `wsc` within
//! `recoveryTimeout` replays that buffer once and the subscription carries on.

use super::bodies::NotificationBody;
use super::filters::{EventFilter, EventPath, FilterContext, parse_filter};
use super::tokens::{SessionId, Uuid, new_uuid};
use super::world::WorldEvent;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::sync::mpsc::{self, error::TrySendError};

/// Numbers the gateway announces in ConnectionDetails and lives by.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewaySettings {
    pub recovery_timeout: Duration,
    pub recovery_buffer_size: usize,
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    /// What a subscription's `expiresIn` says, and when it really lapses.
    pub subscription_expires_in: Duration,
    pub max_connections_per_session: u32,
    pub max_active_requests: u32,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            recovery_timeout: Duration::from_secs(180),
            recovery_buffer_size: 100,
            idle_timeout: Duration::from_secs(1800),
            absolute_timeout: Duration::from_secs(86_400),
            subscription_expires_in: Duration::from_secs(86_399),
            max_connections_per_session: 50,
            max_active_requests: 10,
        }
    }
}

/// What a socket task is told to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Outbound {
    /// A text frame.
    Text(String),
    /// A binary frame (only the `malformed_frame` fault sends these).
    Binary(Vec<u8>),
    /// Send a close frame with this code and reason, then end.
    Close { code: u16, reason: String },
    /// End the connection abruptly, with no close frame (the `drop_sockets` fault).
    Drop,
}

/// Frames queued per socket before its client counts as not keeping up. A client that falls
/// this far behind is cut off, as a real gateway would, and may recover its session with `wsc`.
pub const OUTBOUND_QUEUE: usize = 16_384;

/// The gateway's end of one socket: a bounded queue of frames, and a way to cut the socket
/// when its client stops reading.
#[derive(Debug, Clone)]
pub struct Outlet {
    tx: mpsc::Sender<Outbound>,
    kick: Arc<Notify>,
}

/// The socket task's end of an [`Outlet`].
#[derive(Debug)]
pub struct Inlet {
    pub frames: mpsc::Receiver<Outbound>,
    /// Fires when the gateway cuts the socket because its queue is full.
    pub kick: Arc<Notify>,
}

/// A connected outlet and inlet holding up to `capacity` frames.
pub fn outlet(capacity: usize) -> (Outlet, Inlet) {
    let (tx, frames) = mpsc::channel(capacity);
    let kick = Arc::new(Notify::new());
    (
        Outlet {
            tx,
            kick: Arc::clone(&kick),
        },
        Inlet { frames, kick },
    )
}

impl Outlet {
    /// Queues `message`; gives it back when the socket is gone, or when its client is not
    /// keeping up, in which case the socket is told to go.
    fn offer(&self, message: Outbound) -> Result<(), Outbound> {
        match self.tx.try_send(message) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(message)) => {
                self.kick.notify_one();
                Err(message)
            }
            Err(TrySendError::Closed(message)) => Err(message),
        }
    }

    /// Ends the socket now, queue or no queue.
    fn cut(&self) {
        if self.offer(Outbound::Drop).is_err() {
            self.kick.notify_one();
        }
    }
}

/// The world-side facts a notification envelope needs.
pub struct EnvelopeContext<'a> {
    pub account_id: &'a str,
    pub owner_extension_id: &'a str,
    pub now: DateTime<Utc>,
    /// The same instant on the monotonic clock, for recovery windows.
    pub clock: Instant,
}

#[derive(Debug, Clone)]
struct Subscription {
    id: String,
    filters: Vec<EventFilter>,
    creation_time: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl Subscription {
    fn info(&self, now: DateTime<Utc>) -> Value {
        let expires_in = (self.expires_at - now).num_seconds().max(0);
        json!({
            "uri": format!("/restapi/v1.0/subscription/{}", self.id),
            "id": self.id,
            "creationTime": wire_time(self.creation_time),
            "status": "Active",
            "eventFilters": self.filters.iter().map(|f| f.expanded.clone()).collect::<Vec<_>>(),
            "expirationTime": wire_time(self.expires_at),
            "expiresIn": expires_in,
            "deliveryMode": {"transportType": "WebSocket", "encryption": false},
        })
    }
}

#[derive(Debug)]
struct WsSession {
    oauth_session: SessionId,
    next_sequence: u64,
    subscription: Option<Subscription>,
    missed: VecDeque<String>,
    connection: Option<u64>,
    disconnected_at: Option<Instant>,
}

#[derive(Debug)]
struct Connection {
    wsc_token: String,
    oauth_session: SessionId,
    outlet: Outlet,
}

/// A ClientRequest as the gateway needs it: method, path and optional JSON body.
#[derive(Clone, Copy, Debug)]
pub struct ClientCall<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub body: Option<&'a Value>,
}

/// How a new connection was attached to a WS session.
#[derive(Debug, Clone, PartialEq)]
pub enum Attached {
    /// A new WS session (no `wsc` given). No `recoveryState` in ConnectionDetails.
    Fresh { connection_id: u64 },
    /// `wsc` recovered its session: `recoveryState: Successful`, then `replay` in order.
    Recovered {
        connection_id: u64,
        replay: Vec<String>,
    },
    /// `wsc` could not be recovered: `recoveryState: Failed` (with the code if one is known)
    /// and a new WS session.
    Failed {
        connection_id: u64,
        error_code: Option<&'static str>,
    },
}

impl Attached {
    /// The id of the attached connection, whatever the recovery outcome.
    pub fn connection_id(&self) -> u64 {
        match self {
            Attached::Fresh { connection_id }
            | Attached::Recovered { connection_id, .. }
            | Attached::Failed { connection_id, .. } => *connection_id,
        }
    }
}

/// The `wsc` was not one this gateway could have issued: WSG-400, then close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedWsc;

/// The gateway state shared by all sockets.
#[derive(Debug)]
pub struct Gateway {
    settings: GatewaySettings,
    /// Signs wsc tokens, so a made-up one is told apart from an expired one.
    wsc_secret: [u8; 16],
    sessions: HashMap<String, WsSession>,
    connections: HashMap<u64, Connection>,
    next_connection_id: u64,
}

impl Gateway {
    pub fn new(settings: GatewaySettings, rng: &mut impl RngCore) -> Self {
        let mut wsc_secret = [0u8; 16];
        rng.fill_bytes(&mut wsc_secret);
        Gateway {
            settings,
            wsc_secret,
            sessions: HashMap::new(),
            connections: HashMap::new(),
            next_connection_id: 1,
        }
    }

    pub fn settings(&self) -> &GatewaySettings {
        &self.settings
    }

    /// Attaches a new socket of `oauth_session`, recovering `wsc` if given.
    pub fn attach(
        &mut self,
        rng: &mut impl RngCore,
        oauth_session: &str,
        wsc: Option<&str>,
        outlet: Outlet,
        now: Instant,
    ) -> Result<Attached, MalformedWsc> {
        self.expire_sessions(now);
        let Some(wsc) = wsc else {
            let connection_id = self.attach_fresh(rng, oauth_session, outlet);
            return Ok(Attached::Fresh { connection_id });
        };
        if !self.wsc_is_genuine(wsc) {
            return Err(MalformedWsc);
        }
        let failure = match self.sessions.get(wsc) {
            None => Some(None),
            Some(session) if session.oauth_session != oauth_session => Some(Some("WSG-1003")),
            Some(session) if session.subscription.is_none() => Some(Some("WSG-1005")),
            Some(_) => None,
        };
        if let Some(error_code) = failure {
            let connection_id = self.attach_fresh(rng, oauth_session, outlet);
            return Ok(Attached::Failed {
                connection_id,
                error_code,
            });
        }
        // A reconnect may beat the old socket's own teardown (a half-open connection): the new
        // one takes over and the old one is told to go.
        let previous = self.sessions.get(wsc).and_then(|s| s.connection);
        if let Some(previous) = previous
            && let Some(old) = self.connections.remove(&previous)
        {
            old.outlet.cut();
        }
        let connection_id = self.new_connection(wsc, oauth_session, outlet);
        let session = self.sessions.get_mut(wsc).ok_or(MalformedWsc)?;
        session.connection = Some(connection_id);
        session.disconnected_at = None;
        let replay = session.missed.drain(..).collect();
        Ok(Attached::Recovered {
            connection_id,
            replay,
        })
    }

    /// Marks a connection gone; its WS session stays recoverable for `recoveryTimeout`.
    pub fn detach(&mut self, connection_id: u64, now: Instant) {
        let Some(connection) = self.connections.remove(&connection_id) else {
            return;
        };
        if let Some(session) = self.sessions.get_mut(&connection.wsc_token)
            && session.connection == Some(connection_id)
        {
            session.connection = None;
            session.disconnected_at = Some(now);
        }
    }

    /// The wsc `{token, sequence}` for the next frame on `connection_id`.
    pub fn next_wsc(&mut self, connection_id: u64) -> Option<Value> {
        let connection = self.connections.get(&connection_id)?;
        let session = self.sessions.get_mut(&connection.wsc_token)?;
        let sequence = session.next_sequence;
        session.next_sequence += 1;
        Some(json!({"token": connection.wsc_token, "sequence": sequence}))
    }

    /// Answers a ClientRequest on the subscription API, `/restapi/v1.0/subscription[/][{id}]`.
    /// Returns `(status, body)`; a `None` body means a meta-only reply (204).
    pub fn subscription_request(
        &mut self,
        rng: &mut impl RngCore,
        connection_id: u64,
        call: &ClientCall<'_>,
        filter_ctx: &FilterContext<'_>,
        now: DateTime<Utc>,
    ) -> (u16, Option<Value>) {
        let ClientCall { method, path, body } = *call;
        let Some(rest) = path
            .split('?')
            .next()
            .and_then(|p| p.strip_prefix("/restapi/v1.0/subscription"))
        else {
            return (
                404,
                Some(api_error(
                    "CMN-120",
                    &format!("Invalid URI: {path} is not part of the subscription API"),
                )),
            );
        };
        let id = rest.trim_matches('/');
        let Some(wsc_token) = self
            .connections
            .get(&connection_id)
            .map(|c| c.wsc_token.clone())
        else {
            return (404, Some(api_error("CMN-102", "The connection is closed")));
        };
        let expires_in = self.settings.subscription_expires_in;
        let Some(session) = self.sessions.get_mut(&wsc_token) else {
            return (
                404,
                Some(api_error("CMN-102", "The WebSocket session is gone")),
            );
        };
        if session
            .subscription
            .as_ref()
            .is_some_and(|s| s.expires_at <= now)
        {
            session.subscription = None;
        }
        let current_matches =
            |session: &WsSession| session.subscription.as_ref().is_some_and(|s| s.id == id);
        match (method, id.is_empty()) {
            ("POST", true) => {
                let filters = match parse_filters(body, filter_ctx) {
                    Ok(filters) => filters,
                    Err(error) => return (400, Some(error)),
                };
                // One subscription per socket: a second POST replaces the first.
                let subscription = Subscription {
                    id: new_uuid(rng),
                    filters,
                    creation_time: now,
                    expires_at: now + chrono::Duration::from_std(expires_in).unwrap_or_default(),
                };
                let info = subscription.info(now);
                session.subscription = Some(subscription);
                (200, Some(info))
            }
            ("GET", true) => {
                let records: Vec<Value> =
                    session.subscription.iter().map(|s| s.info(now)).collect();
                (
                    200,
                    Some(json!({"uri": "/restapi/v1.0/subscription", "records": records})),
                )
            }
            ("GET", false) if current_matches(session) => {
                (200, session.subscription.as_ref().map(|s| s.info(now)))
            }
            ("PUT", false) if current_matches(session) => {
                let new_filters = match body.and_then(|b| b.get("eventFilters")) {
                    Some(_) => match parse_filters(body, filter_ctx) {
                        Ok(filters) => Some(filters),
                        Err(error) => return (400, Some(error)),
                    },
                    None => None,
                };
                let Some(subscription) = session.subscription.as_mut() else {
                    return (404, Some(expired(id)));
                };
                if let Some(filters) = new_filters {
                    subscription.filters = filters;
                }
                subscription.expires_at =
                    now + chrono::Duration::from_std(expires_in).unwrap_or_default();
                (200, Some(subscription.info(now)))
            }
            ("DELETE", false) if current_matches(session) => {
                session.subscription = None;
                (204, None)
            }
            ("GET" | "PUT" | "DELETE", false) => (404, Some(expired(id))),
            _ => (
                405,
                Some(api_error(
                    "CMN-202",
                    &format!("Method {method} is not supported for {path}"),
                )),
            ),
        }
    }

    /// The subscription id served on `connection_id`, for the WSG-SubscriptionId header.
    pub fn subscription_id(&self, connection_id: u64) -> Option<String> {
        let connection = self.connections.get(&connection_id)?;
        let session = self.sessions.get(&connection.wsc_token)?;
        session.subscription.as_ref().map(|s| s.id.clone())
    }

    /// Wraps each event in a notification for every subscription it matches and sends it, or
    /// buffers it for recovery when the session's socket is down. Returns frames sent live.
    pub fn dispatch(
        &mut self,
        rng: &mut impl RngCore,
        events: &[WorldEvent],
        ctx: &EnvelopeContext<'_>,
    ) -> usize {
        let mut sent = 0;
        let mut lagging = Vec::new();
        let buffer_size = self.settings.recovery_buffer_size;
        let timestamp = wire_time(ctx.now);
        let mut frame_capacity = MIN_FRAME_CAPACITY;
        for (wsc_token, session) in &mut self.sessions {
            if session
                .subscription
                .as_ref()
                .is_some_and(|s| s.expires_at <= ctx.now)
            {
                session.subscription = None;
            }
            let Some(subscription) = &session.subscription else {
                continue;
            };
            let live = session
                .connection
                .and_then(|id| self.connections.get(&id).map(|c| (id, c)));
            for event in events {
                let Some((path, body)) = match_event(subscription, event, ctx.account_id) else {
                    continue;
                };
                let uuid = MessageId(rng.next_u64() >> 1);
                let request_id = Uuid::random(rng);
                let frame = NotificationFrame(
                    NotificationMeta {
                        kind: "ServerNotification",
                        message_id: uuid,
                        status: 200,
                        headers: RequestIdHeader {
                            request_id: request_id.as_str(),
                        },
                        wsc: WscMark {
                            token: wsc_token,
                            sequence: session.next_sequence,
                        },
                    },
                    NotificationEnvelope {
                        uuid,
                        event: path,
                        timestamp: &timestamp,
                        subscription_id: &subscription.id,
                        owner_id: ctx.owner_extension_id,
                        body: body.as_ref(),
                    },
                );
                // Sized like the last frame: growing the buffer step by step cost a tenth of a
                // burst. Serialising strings and already-serialised JSON cannot fail.
                let mut bytes = Vec::with_capacity(frame_capacity);
                let frame = match serde_json::to_writer(&mut bytes, &frame) {
                    Ok(()) => String::from_utf8(bytes).unwrap_or_default(),
                    Err(_) => String::new(),
                };
                frame_capacity = frame.len().max(MIN_FRAME_CAPACITY);
                session.next_sequence += 1;
                let undelivered = match live {
                    Some((_, connection)) => connection.outlet.offer(Outbound::Text(frame)).err(),
                    None => Some(Outbound::Text(frame)),
                };
                match undelivered {
                    None => sent += 1,
                    Some(message) => {
                        // Down, or cut for lagging: keep it for the session's recovery.
                        if let Some((id, _)) = live {
                            lagging.push(id);
                        }
                        if let Outbound::Text(frame) = message {
                            if session.missed.len() >= buffer_size {
                                session.missed.pop_front();
                            }
                            session.missed.push_back(frame);
                        }
                    }
                }
            }
        }
        lagging.dedup();
        for id in lagging {
            self.detach(id, ctx.clock);
        }
        sent
    }

    /// Sends `message` to every live connection (malformed frames).
    pub fn broadcast(&self, message: &Outbound) {
        for connection in self.connections.values() {
            // A socket that cannot take it is gone or being cut already.
            let _ = connection.outlet.offer(message.clone());
        }
    }

    /// The `drop_sockets` fault: every socket ends abruptly; sessions stay recoverable.
    pub fn drop_all(&mut self, now: Instant) {
        let ids: Vec<u64> = self.connections.keys().copied().collect();
        for id in ids {
            if let Some(connection) = self.connections.get(&id) {
                connection.outlet.cut();
            }
            self.detach(id, now);
        }
    }

    /// The `forget_sessions` fault: drop every socket and forget every session.
    pub fn forget_all(&mut self, now: Instant) {
        self.drop_all(now);
        self.sessions.clear();
    }

    /// Closes every socket of an OAuth session (revoke) and forgets its WS sessions.
    pub fn end_oauth_session(&mut self, oauth_session: &str) {
        for connection in self.connections.values() {
            if connection.oauth_session == oauth_session {
                let closing = Outbound::Close {
                    code: 1000,
                    reason: "OAuth session ended".into(),
                };
                if connection.outlet.offer(closing).is_err() {
                    connection.outlet.cut();
                }
            }
        }
        self.connections
            .retain(|_, c| c.oauth_session != oauth_session);
        self.sessions
            .retain(|_, s| s.oauth_session != oauth_session);
    }

    /// Forgets sessions whose recovery window has passed.
    pub fn expire_sessions(&mut self, now: Instant) {
        let timeout = self.settings.recovery_timeout;
        self.sessions.retain(|_, session| {
            session
                .disconnected_at
                .is_none_or(|at| now.saturating_duration_since(at) < timeout)
        });
    }

    pub fn live_connections(&self) -> usize {
        self.connections.len()
    }

    /// The free room in the fullest socket queue, `None` without sockets: bursts wait on it
    /// so they go as fast as the sockets take them.
    pub fn min_room(&self) -> Option<usize> {
        self.connections
            .values()
            .map(|c| c.outlet.tx.capacity())
            .min()
    }

    fn attach_fresh(&mut self, rng: &mut impl RngCore, oauth_session: &str, outlet: Outlet) -> u64 {
        let wsc_token = self.new_wsc(rng);
        let connection_id = self.new_connection(&wsc_token, oauth_session, outlet);
        self.sessions.insert(
            wsc_token,
            WsSession {
                oauth_session: oauth_session.to_owned(),
                next_sequence: 1,
                subscription: None,
                missed: VecDeque::new(),
                connection: Some(connection_id),
                disconnected_at: None,
            },
        );
        connection_id
    }

    fn new_connection(&mut self, wsc_token: &str, oauth_session: &str, outlet: Outlet) -> u64 {
        let connection_id = self.next_connection_id;
        self.next_connection_id += 1;
        self.connections.insert(
            connection_id,
            Connection {
                wsc_token: wsc_token.to_owned(),
                oauth_session: oauth_session.to_owned(),
                outlet,
            },
        );
        connection_id
    }

    fn new_wsc(&self, rng: &mut impl RngCore) -> String {
        let mut nonce = [0u8; 18];
        rng.fill_bytes(&mut nonce);
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&self.wsc_mac(&nonce));
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn wsc_is_genuine(&self, token: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(token) {
            Ok(raw) if raw.len() == 24 => raw[18..] == self.wsc_mac(&raw[..18]),
            _ => false,
        }
    }

    fn wsc_mac(&self, nonce: &[u8]) -> [u8; 6] {
        let digest = Sha256::new()
            .chain_update(self.wsc_secret)
            .chain_update(nonce)
            .finalize();
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&digest[..6]);
        mac
    }
}

fn match_event<'a>(
    subscription: &Subscription,
    event: &'a WorldEvent,
    account_id: &'a str,
) -> Option<(EventPath<'a>, Cow<'a, NotificationBody>)> {
    subscription.filters.iter().find_map(|filter| match event {
        WorldEvent::Telephony { extension_id, body } => filter
            .telephony_event(account_id, extension_id.as_deref(), body)
            .map(|path| (path, filter.shape_body(body))),
        WorldEvent::Presence { extension_id, body } => filter
            .presence_event(filter.account_given(), extension_id)
            .map(|path| (EventPath::Text(path), filter.shape_body(body))),
    })
}

/// The buffer a notification frame starts with; a telephony frame is about 1.5 KB.
const MIN_FRAME_CAPACITY: usize = 2048;

/// A ServerNotification frame, `[meta, envelope]`, serialised straight from borrowed parts:
/// the gateway writes one per event per subscription, and building a `Value` tree for each
/// (a deep copy of the body) cost more than the rest of a burst together. Fields are in the
/// order the platform's captures show them.
#[derive(serde::Serialize)]
struct NotificationFrame<'a>(NotificationMeta<'a>, NotificationEnvelope<'a>);

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationMeta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message_id: MessageId,
    status: u16,
    headers: RequestIdHeader<'a>,
    wsc: WscMark<'a>,
}

#[derive(serde::Serialize)]
struct RequestIdHeader<'a> {
    #[serde(rename = "RCRequestId")]
    request_id: &'a str,
}

#[derive(serde::Serialize)]
struct WscMark<'a> {
    token: &'a str,
    sequence: u64,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationEnvelope<'a> {
    uuid: MessageId,
    event: EventPath<'a>,
    timestamp: &'a str,
    subscription_id: &'a str,
    owner_id: &'a str,
    body: &'a NotificationBody,
}

/// A notification's `uuid` (and the frame's `messageId`): a decimal number, as text, like
/// the platform's.
#[derive(Clone, Copy)]
struct MessageId(u64);

impl serde::Serialize for MessageId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

fn parse_filters(body: Option<&Value>, ctx: &FilterContext<'_>) -> Result<Vec<EventFilter>, Value> {
    let filters = body
        .and_then(|b| b.get("eventFilters"))
        .and_then(Value::as_array)
        .filter(|list| !list.is_empty())
        .ok_or_else(|| {
            api_error(
                "SUB-508",
                "Invalid event filters: eventFilters must be a non-empty list",
            )
        })?;
    filters
        .iter()
        .map(|filter| {
            let text = filter.as_str().ok_or_else(|| {
                api_error(
                    "SUB-508",
                    "Invalid event filters: each filter must be a string",
                )
            })?;
            parse_filter(text, ctx).map_err(|why| {
                api_error("SUB-508", &format!("Invalid event filter [{text}]: {why}"))
            })
        })
        .collect()
}

fn expired(id: &str) -> Value {
    api_error("SUB-507", &format!("Subscription [{id}] was expired"))
}

/// The gateway error body: top-level code and message plus `errors[]`, as the real gateway sends.
pub fn api_error(code: &str, message: &str) -> Value {
    json!({"errorCode": code, "message": message, "errors": [{"errorCode": code, "message": message}]})
}

/// RFC 3339 UTC with milliseconds and `Z`, the platform's timestamp form.
pub fn wire_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const ACCOUNT: &str = "809646016";
    const OWNER: &str = "62242421016";

    fn exists(id: &str) -> bool {
        id == OWNER || id == "101"
    }

    fn filter_ctx() -> FilterContext<'static> {
        FilterContext {
            account_id: ACCOUNT,
            owner_extension_id: OWNER,
            extension_exists: &exists,
        }
    }

    fn setup() -> (Gateway, ChaCha8Rng, Instant, DateTime<Utc>) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let gateway = Gateway::new(
            GatewaySettings {
                recovery_buffer_size: 3,
                recovery_timeout: Duration::from_secs(180),
                ..GatewaySettings::default()
            },
            &mut rng,
        );
        (gateway, rng, Instant::now(), Utc::now())
    }

    fn connect(
        gateway: &mut Gateway,
        rng: &mut ChaCha8Rng,
        oauth: &str,
        wsc: Option<&str>,
        now: Instant,
    ) -> (Result<Attached, MalformedWsc>, Inlet) {
        connect_with_queue(gateway, rng, oauth, wsc, now, OUTBOUND_QUEUE)
    }

    fn connect_with_queue(
        gateway: &mut Gateway,
        rng: &mut ChaCha8Rng,
        oauth: &str,
        wsc: Option<&str>,
        now: Instant,
        capacity: usize,
    ) -> (Result<Attached, MalformedWsc>, Inlet) {
        let (outlet, inlet) = outlet(capacity);
        (gateway.attach(rng, oauth, wsc, outlet, now), inlet)
    }

    fn subscribe(
        gateway: &mut Gateway,
        rng: &mut ChaCha8Rng,
        id: u64,
        now: DateTime<Utc>,
    ) -> Value {
        let body = json!({"eventFilters": ["/restapi/v1.0/account/~/telephony/sessions"],
            "deliveryMode": {"transportType": "WebSocket"}});
        let (status, info) = gateway.subscription_request(
            rng,
            id,
            &ClientCall {
                method: "POST",
                path: "/restapi/v1.0/subscription/",
                body: Some(&body),
            },
            &filter_ctx(),
            now,
        );
        assert_eq!(status, 200);
        info.unwrap()
    }

    fn telephony(seq: u64) -> Value {
        json!({"sequence": seq, "parties": [{"extensionId": "101", "status": {"code": "Answered"}}]})
    }

    fn dispatch(
        gateway: &mut Gateway,
        rng: &mut ChaCha8Rng,
        bodies: &[Value],
        now: DateTime<Utc>,
    ) -> usize {
        let events: Vec<WorldEvent> = bodies
            .iter()
            .map(|body| WorldEvent::Telephony {
                extension_id: Some("101".into()),
                body: NotificationBody::from_value(body),
            })
            .collect();
        gateway.dispatch(
            rng,
            &events,
            &EnvelopeContext {
                account_id: ACCOUNT,
                owner_extension_id: OWNER,
                now,
                clock: Instant::now(),
            },
        )
    }

    fn texts(inlet: &mut Inlet) -> Vec<Value> {
        let mut frames = Vec::new();
        while let Ok(Outbound::Text(text)) = inlet.frames.try_recv() {
            frames.push(serde_json::from_str(&text).unwrap());
        }
        frames
    }

    #[test]
    fn notifications_carry_the_envelope() {
        let (mut gw, mut rng, t0, now) = setup();
        let (attached, mut rx) = connect(&mut gw, &mut rng, "o1", None, t0);
        let id = attached.unwrap().connection_id();
        let info = subscribe(&mut gw, &mut rng, id, now);
        assert_eq!(
            info["eventFilters"],
            json!([format!(
                "/restapi/v1.0/account/{ACCOUNT}/telephony/sessions"
            )])
        );
        assert_eq!(dispatch(&mut gw, &mut rng, &[telephony(2)], now), 1);
        let frames = texts(&mut rx);
        let [meta, body] = frames[0].as_array().unwrap().as_slice() else {
            panic!("a notification is [meta, body]")
        };
        assert_eq!(meta["type"], "ServerNotification");
        assert_eq!(meta["messageId"], body["uuid"]);
        assert_eq!(body["subscriptionId"], info["id"]);
        assert_eq!(body["ownerId"], OWNER);
        assert_eq!(
            body["event"],
            format!("/restapi/v1.0/account/{ACCOUNT}/extension/101/telephony/sessions")
        );
        assert_eq!(body["body"], telephony(2));
    }

    #[test]
    fn recovery_replays_missed_events_once_newest_kept() {
        let (mut gw, mut rng, t0, now) = setup();
        let (attached, _rx) = connect(&mut gw, &mut rng, "o1", None, t0);
        let id = attached.unwrap().connection_id();
        subscribe(&mut gw, &mut rng, id, now);
        let wsc = gw.next_wsc(id).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        gw.detach(id, t0);
        let missed: Vec<Value> = (2..7).map(telephony).collect();
        assert_eq!(dispatch(&mut gw, &mut rng, &missed, now), 0);

        let (attached, _rx2) = connect(
            &mut gw,
            &mut rng,
            "o1",
            Some(&wsc),
            t0 + Duration::from_secs(10),
        );
        let Ok(Attached::Recovered { replay, .. }) = attached else {
            panic!("expected recovery, got {attached:?}")
        };
        let sequences: Vec<u64> = replay
            .iter()
            .map(|f| {
                serde_json::from_str::<Value>(f).unwrap()[1]["body"]["sequence"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            sequences,
            vec![4, 5, 6],
            "the newest buffer-size events, in order"
        );
    }

    #[test]
    fn recovery_failures_name_their_cause() {
        let (mut gw, mut rng, t0, now) = setup();
        let (attached, _rx) = connect(&mut gw, &mut rng, "o1", None, t0);
        let unsubscribed = attached.unwrap().connection_id();
        let wsc_unsubscribed = gw.next_wsc(unsubscribed).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        gw.detach(unsubscribed, t0);
        let (attached, _rx) = connect(&mut gw, &mut rng, "o1", Some(&wsc_unsubscribed), t0);
        assert!(matches!(
            attached,
            Ok(Attached::Failed {
                error_code: Some("WSG-1005"),
                ..
            })
        ));

        let (attached, _rx) = connect(&mut gw, &mut rng, "o1", None, t0);
        let id = attached.unwrap().connection_id();
        subscribe(&mut gw, &mut rng, id, now);
        let wsc = gw.next_wsc(id).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        gw.detach(id, t0);
        let (attached, _rx) = connect(&mut gw, &mut rng, "other-oauth", Some(&wsc), t0);
        assert!(matches!(
            attached,
            Ok(Attached::Failed {
                error_code: Some("WSG-1003"),
                ..
            })
        ));

        let late = t0 + Duration::from_secs(181);
        let (attached, _rx) = connect(&mut gw, &mut rng, "o1", Some(&wsc), late);
        assert!(matches!(
            attached,
            Ok(Attached::Failed {
                error_code: None,
                ..
            })
        ));
    }

    #[test]
    fn a_client_that_stops_reading_is_cut_and_can_recover() {
        let (mut gw, mut rng, t0, now) = setup();
        let (attached, mut inlet) = connect_with_queue(&mut gw, &mut rng, "o1", None, t0, 2);
        let id = attached.unwrap().connection_id();
        subscribe(&mut gw, &mut rng, id, now);
        let wsc = gw.next_wsc(id).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let bodies: Vec<Value> = (2..7).map(telephony).collect();
        assert_eq!(
            dispatch(&mut gw, &mut rng, &bodies, now),
            2,
            "the queue holds two"
        );
        assert!(
            futures_util::FutureExt::now_or_never(inlet.kick.notified()).is_some(),
            "the socket is told to go"
        );
        assert_eq!(gw.live_connections(), 0);
        assert_eq!(texts(&mut inlet).len(), 2);

        let (attached, _inlet) = connect(&mut gw, &mut rng, "o1", Some(&wsc), t0);
        let Ok(Attached::Recovered { replay, .. }) = attached else {
            panic!("expected recovery, got {attached:?}")
        };
        assert_eq!(replay.len(), 3, "what did not fit is replayed");
    }

    #[test]
    fn made_up_wsc_is_malformed() {
        let (mut gw, mut rng, t0, _) = setup();
        for fake in ["nonsense", "", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            let (attached, _rx) = connect(&mut gw, &mut rng, "o1", Some(fake), t0);
            assert_eq!(attached, Err(MalformedWsc), "{fake}");
        }
    }

    #[test]
    fn forgotten_sessions_fail_recovery() {
        let (mut gw, mut rng, t0, now) = setup();
        let (attached, mut rx) = connect(&mut gw, &mut rng, "o1", None, t0);
        let id = attached.unwrap().connection_id();
        subscribe(&mut gw, &mut rng, id, now);
        let wsc = gw.next_wsc(id).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        gw.forget_all(t0);
        assert_eq!(rx.frames.try_recv(), Ok(Outbound::Drop));
        let (attached, _rx) = connect(&mut gw, &mut rng, "o1", Some(&wsc), t0);
        assert!(matches!(attached, Ok(Attached::Failed { .. })));
    }

    #[test]
    fn subscription_lifecycle() {
        let (mut gw, mut rng, t0, now) = setup();
        let (attached, _rx) = connect(&mut gw, &mut rng, "o1", None, t0);
        let id = attached.unwrap().connection_id();
        let first = subscribe(&mut gw, &mut rng, id, now);
        let second = subscribe(&mut gw, &mut rng, id, now);
        assert_ne!(
            first["id"], second["id"],
            "a second POST replaces the first"
        );
        let first_path = format!(
            "/restapi/v1.0/subscription/{}",
            first["id"].as_str().unwrap()
        );
        let second_path = format!(
            "/restapi/v1.0/subscription/{}",
            second["id"].as_str().unwrap()
        );
        let ctx = filter_ctx();
        let (status, body) = gw.subscription_request(
            &mut rng,
            id,
            &ClientCall {
                method: "PUT",
                path: &first_path,
                body: None,
            },
            &ctx,
            now,
        );
        assert_eq!(
            (status, body.unwrap()["errorCode"].clone()),
            (404, json!("SUB-507"))
        );
        let (status, body) = gw.subscription_request(
            &mut rng,
            id,
            &ClientCall {
                method: "PUT",
                path: &second_path,
                body: Some(&json!({})),
            },
            &ctx,
            now,
        );
        assert_eq!(
            (status, body.unwrap()["id"].clone()),
            (200, second["id"].clone())
        );
        let (status, body) = gw.subscription_request(
            &mut rng,
            id,
            &ClientCall {
                method: "DELETE",
                path: &second_path,
                body: None,
            },
            &ctx,
            now,
        );
        assert_eq!((status, body), (204, None));
        let (status, _) = gw.subscription_request(
            &mut rng,
            id,
            &ClientCall {
                method: "DELETE",
                path: &second_path,
                body: None,
            },
            &ctx,
            now,
        );
        assert_eq!(status, 404);
    }

    #[test]
    fn bad_filters_and_other_paths_are_refused() {
        let (mut gw, mut rng, t0, now) = setup();
        let (attached, _rx) = connect(&mut gw, &mut rng, "o1", None, t0);
        let id = attached.unwrap().connection_id();
        let ctx = filter_ctx();
        let body = json!({"eventFilters": ["/restapi/v1.0/account/~/extension/~/message-store"]});
        let (status, error) = gw.subscription_request(
            &mut rng,
            id,
            &ClientCall {
                method: "POST",
                path: "/restapi/v1.0/subscription",
                body: Some(&body),
            },
            &ctx,
            now,
        );
        assert_eq!(
            (status, error.unwrap()["errorCode"].clone()),
            (400, json!("SUB-508"))
        );
        let (status, error) = gw.subscription_request(
            &mut rng,
            id,
            &ClientCall {
                method: "POST",
                path: "/restapi/v1.0/subscription",
                body: None,
            },
            &ctx,
            now,
        );
        assert_eq!(
            (status, error.unwrap()["errorCode"].clone()),
            (400, json!("SUB-508"))
        );
        let (status, error) = gw.subscription_request(
            &mut rng,
            id,
            &ClientCall {
                method: "GET",
                path: "/restapi/v1.0/account/~/extension",
                body: None,
            },
            &ctx,
            now,
        );
        assert_eq!(
            (status, error.unwrap()["errorCode"].clone()),
            (404, json!("CMN-120"))
        );
    }

    #[test]
    fn expired_subscriptions_stop_delivering() {
        let (mut gw, mut rng, t0, now) = setup();
        let (attached, mut rx) = connect(&mut gw, &mut rng, "o1", None, t0);
        let id = attached.unwrap().connection_id();
        subscribe(&mut gw, &mut rng, id, now);
        let later = now + chrono::Duration::seconds(86_400);
        assert_eq!(dispatch(&mut gw, &mut rng, &[telephony(2)], later), 0);
        assert!(texts(&mut rx).is_empty());
    }

    #[test]
    fn wsc_sequence_increases_across_frames() {
        let (mut gw, mut rng, t0, now) = setup();
        let (attached, mut rx) = connect(&mut gw, &mut rng, "o1", None, t0);
        let id = attached.unwrap().connection_id();
        assert_eq!(gw.next_wsc(id).unwrap()["sequence"], 1);
        subscribe(&mut gw, &mut rng, id, now);
        dispatch(&mut gw, &mut rng, &[telephony(2), telephony(3)], now);
        let sequences: Vec<u64> = texts(&mut rx)
            .iter()
            .map(|f| f[0]["wsc"]["sequence"].as_u64().unwrap())
            .collect();
        assert_eq!(sequences, vec![2, 3]);
    }
}
