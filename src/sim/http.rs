//! The simulator's HTTP edge: shared state, the axum router (OAuth, REST, WebSocket upgrade,
//! control API on one port), and the middleware every request passes through, in the order the
//! real platform applies them: request id → injected stall / error faults → authentication →
//! rate limit → handler → `X-Rate-Limit-*` headers.

use super::SimConfig;
use super::control;
use super::faults::FaultRules;
use super::gateway::{Gateway, api_error};
use super::oauth;
use super::pretty::to_jackson_string;
use super::ratelimit::{Group, RateLimiter, Verdict, ceil_secs};
use super::rest;
use super::tokens::{SessionId, TokenRejection, TokenStore, new_uuid};
use super::world::World;
use super::ws;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;
use tokio::sync::watch;

/// Everything the handlers share. Each part has its own lock; none is held across an await,
/// and no code path holds two at once except `world` → `gateway` during fan-out.
pub(crate) struct SimState {
    pub cfg: SimConfig,
    /// `http://HOST:PORT`, the prefix of every `uri` the simulator hands out.
    pub base_url: String,
    pub account_id: String,
    pub owner_extension_id: String,
    pub world: Mutex<World>,
    pub tokens: Mutex<TokenStore>,
    pub limiter: Mutex<RateLimiter>,
    pub faults: Mutex<FaultRules>,
    pub gateway: Mutex<Gateway>,
    /// Tokens, ids and message ids. Seeded from the OS: these must not repeat across runs,
    /// unlike the world, which is deterministic under its seed.
    pub rng: Mutex<ChaCha8Rng>,
    pub shutdown: watch::Receiver<bool>,
    /// The router itself, for REST requests that arrive over a WebSocket. Set at start and
    /// taken again at shutdown: the router holds this state, so keeping it would be a cycle.
    pub router: Mutex<Option<Router>>,
}

impl SimState {
    pub fn new(
        cfg: SimConfig,
        base_url: String,
        world: World,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(rand::random());
        let gateway = Gateway::new(cfg.gateway.clone(), &mut rng);
        SimState {
            base_url,
            account_id: world.account_id().to_owned(),
            owner_extension_id: world.owner_extension_id().to_owned(),
            world: Mutex::new(world),
            tokens: Mutex::new(
                TokenStore::new(cfg.tokens.clone()).with_reusable_ws_tokens(cfg.ws_tokens_reusable),
            ),
            limiter: Mutex::new(RateLimiter::new(cfg.rate_limits.clone())),
            faults: Mutex::new(FaultRules::default()),
            gateway: Mutex::new(gateway),
            rng: Mutex::new(rng),
            shutdown,
            router: Mutex::new(None),
            cfg,
        }
    }

    pub fn uuid(&self) -> String {
        new_uuid(&mut *lock(&self.rng))
    }

    /// `ws://HOST:PORT/ws`, the `uri` of every wstoken answer.
    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.base_url.replacen("http://", "ws://", 1))
    }
}

/// Locks a mutex, carrying on past poisoning: a panicked handler must not take the whole
/// simulator down with it, and every structure here stays consistent between statements.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The caller a bearer token identified, for handlers that need it. A request that already
/// carries one came over an authenticated WebSocket (REST over the socket) and is not
/// authenticated again; requests from the network cannot carry extensions.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub session_id: SessionId,
}

/// A response that ends a request early. Boxed, so `Result<_, Refusal>` stays small.
#[derive(Debug)]
pub(crate) struct Refusal(Box<Response>);

impl From<Response> for Refusal {
    fn from(response: Response) -> Self {
        Refusal(Box::new(response))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// Marks a response body as already in the platform's error shape.
#[derive(Clone, Copy)]
struct PlatformBody;

pub(crate) fn router(state: Arc<SimState>) -> Router {
    let account = "/restapi/v1.0/account/{account_id}";
    let route = |suffix: &str| format!("{account}{suffix}");
    Router::new()
        .route("/restapi/oauth/token", post(oauth::token))
        .route("/restapi/oauth/revoke", post(oauth::revoke))
        .route("/restapi/oauth/wstoken", post(oauth::wstoken))
        .route("/ws", get(ws::upgrade))
        .route(&route("/phone-number"), get(rest::phone_numbers))
        .route(
            &route("/phone-number/{number_id}"),
            get(rest::phone_number).put(rest::relabel),
        )
        .route(&route("/call-queues"), get(rest::call_queues))
        .route(&route("/call-queues/{queue_id}"), get(rest::call_queue))
        .route(
            &route("/call-queues/{queue_id}/members"),
            get(rest::call_queue_members),
        )
        .route(
            &route("/call-queues/{queue_id}/presence"),
            get(rest::call_queue_presence),
        )
        .route(&route("/extension"), get(rest::extensions))
        .route(&route("/extension/{extension_id}"), get(rest::extension))
        .route(
            &route("/extension/{extension_id}/presence"),
            get(rest::extension_presence),
        )
        .route(
            &route("/extension/{extension_id}/call-log"),
            get(rest::extension_call_log),
        )
        .route(&route("/presence"), get(rest::account_presence))
        .route(&route("/call-log"), get(rest::account_call_log))
        .route(&route("/call-log/{record_id}"), get(rest::call_log_record))
        .route(&route("/active-calls"), get(rest::active_calls))
        .route(
            &route("/telephony/sessions/{session_id}"),
            get(rest::telephony_session),
        )
        .route(&route("/recording/{recording_id}"), get(rest::recording))
        .route(
            &route("/recording/{recording_id}/content"),
            get(rest::recording_content),
        )
        .route("/_sim/truth", get(control::truth))
        .route("/_sim/pause", post(control::pause))
        .route("/_sim/resume", post(control::resume))
        .route("/_sim/burst", post(control::burst))
        .route("/_sim/fault", post(control::fault))
        .route("/_sim/recording", post(control::recording))
        .fallback(unknown_path)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .with_state(state)
}

/// Whether the control API may answer `peer`. An IPv4 client of a dual-stack listener shows up
/// as `::ffff:127.0.0.1`, which `is_loopback` alone would refuse.
pub(crate) fn is_loopback_peer(peer: SocketAddr) -> bool {
    peer.ip().to_canonical().is_loopback()
}

/// The throttling group of a request, from PROTOCOL.md §4; `None` for paths outside the API
/// (the socket upgrade, the control API, unknown roots).
pub fn route_group(method: &Method, path: &str) -> Option<Group> {
    if path.starts_with("/restapi/oauth/") {
        return Some(Group::Auth);
    }
    if path.starts_with("/restapi/v1.0/subscription") {
        return Some(Group::Medium);
    }
    let rest = path.strip_prefix("/restapi/")?;
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let tail = match segments.as_slice() {
        ["v1.0", "account", _, tail @ ..] => tail,
        _ => return Some(Group::Light),
    };
    let write = *method != Method::GET && *method != Method::HEAD;
    let group = match tail {
        ["phone-number"] => Group::Heavy,
        ["phone-number", _] if write => Group::Medium,
        ["call-queues"] | ["extension"] => Group::Medium,
        ["call-log", ..] | ["extension", _, "call-log", ..] => Group::Heavy,
        ["recording", ..] | ["presence"] | ["active-calls"] => Group::Heavy,
        _ => Group::Light,
    };
    Some(group)
}

/// Where the bearer token of a request came from, if anywhere.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Presented {
    Token(String),
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    Malformed,
}

/// Finds the access token: `Authorization: Bearer …` (scheme in any case, as the JS SDK sends
/// `bearer`), else the `access_token` query parameter.
pub(crate) fn presented_token(headers: &HeaderMap, query: Option<&str>) -> Presented {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let Ok(value) = value.to_str() else {
            return Presented::Malformed;
        };
        return match value.trim().split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                Presented::Token(token.trim().to_owned())
            }
            _ => Presented::Malformed,
        };
    }
    query
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(key, value)| key == "access_token" && !value.is_empty())
                .map(|(_, value)| Presented::Token(value.into_owned()))
        })
        .unwrap_or(Presented::Missing)
}

/// The 401 for a request whose token is missing, malformed, expired or unknown.
pub(crate) fn unauthorized(presented: &Presented, rejection: Option<TokenRejection>) -> Response {
    let (code, message, inner_code, inner_message) = match (presented, rejection) {
        (Presented::Missing, _) => (
            "AGW-401",
            "Authorization header is not specified",
            "AGW-401",
            "Authorization header is not specified",
        ),
        (Presented::Malformed, _) => (
            "AGW-402",
            "Invalid Authorization header",
            "AGW-402",
            "Invalid Authorization header",
        ),
        (Presented::Token(_), Some(TokenRejection::Expired)) => (
            "TokenExpired",
            "Access token expired",
            "OAU-128",
            "Access token expired",
        ),
        (Presented::Token(_), _) => (
            "TokenInvalid",
            "Access token is invalid",
            "OAU-149",
            "OAuth token is invalid",
        ),
    };
    let body = serde_json::json!({
        "errorCode": code,
        "message": message,
        "errors": [{"errorCode": inner_code, "message": inner_message}],
    });
    json_reply(StatusCode::UNAUTHORIZED, &body)
}

/// A JSON body in the platform's pretty-printed form.
pub(crate) fn json_reply(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, to_jackson_string(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.extensions_mut().insert(PlatformBody);
    response
}

/// `{"errorCode", "message", "errors": [{…}]}` with `status`.
pub(crate) fn error_reply(status: StatusCode, code: &str, message: &str) -> Response {
    json_reply(status, &api_error(code, message))
}

/// An error naming the offending parameter, as the platform does for CMN-101 / CMN-102.
pub(crate) fn parameter_error(
    status: StatusCode,
    code: &str,
    message: &str,
    name: &str,
    value: &str,
) -> Response {
    let body = serde_json::json!({
        "errorCode": code,
        "message": message,
        "errors": [{"errorCode": code, "message": message, "parameterName": name, "parameterValue": value}],
    });
    json_reply(status, &body)
}

fn rate_limited(
    verdict_group: Group,
    limit: u32,
    window_secs: u64,
    retry_after_secs: u64,
) -> Response {
    let mut response = error_reply(
        StatusCode::TOO_MANY_REQUESTS,
        "CMN-301",
        "Request rate exceeded",
    );
    let headers = response.headers_mut();
    put_header(headers, "Retry-After", &retry_after_secs.to_string());
    put_rate_headers(
        headers,
        &Verdict::Limited {
            group: verdict_group,
            limit,
            window_secs,
            retry_after_secs,
        },
    );
    response
}

fn put_rate_headers(headers: &mut HeaderMap, verdict: &Verdict) {
    let (group, limit, remaining, window) = match *verdict {
        Verdict::Allowed {
            group,
            limit,
            remaining,
            window_secs,
        } => (group, limit, remaining, window_secs),
        Verdict::Limited {
            group,
            limit,
            window_secs,
            ..
        } => (group, limit, 0, window_secs),
    };
    put_header(headers, "X-Rate-Limit-Group", group.header_value());
    put_header(headers, "X-Rate-Limit-Limit", &limit.to_string());
    put_header(headers, "X-Rate-Limit-Remaining", &remaining.to_string());
    put_header(headers, "X-Rate-Limit-Window", &window.to_string());
}

pub(crate) fn put_header(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// The `X-Rate-Limit-*` header values of a verdict, for replies that are not HTTP (WS frames).
pub(crate) fn rate_header_pairs(verdict: &Verdict) -> Vec<(&'static str, String)> {
    let mut headers = HeaderMap::new();
    put_rate_headers(&mut headers, verdict);
    [
        "X-Rate-Limit-Group",
        "X-Rate-Limit-Limit",
        "X-Rate-Limit-Remaining",
        "X-Rate-Limit-Window",
    ]
    .into_iter()
    .filter_map(|name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| (name, v.to_owned()))
    })
    .collect()
}

/// Counts a request against the limiter (and any injected rate-limit fault).
pub(crate) fn check_rate(state: &SimState, caller: &str, group: Group, now: Instant) -> Verdict {
    let limiter_limits = lock(&state.limiter).limits().clone();
    if let Some(remaining) = lock(&state.faults).forced_rate_limit(group, now) {
        return Verdict::Limited {
            group,
            limit: limiter_limits.limit(group),
            window_secs: limiter_limits.window.as_secs(),
            retry_after_secs: ceil_secs(remaining),
        };
    }
    lock(&state.limiter).check(caller, group, now)
}

fn status_error(status: StatusCode, retry_after: Option<u64>) -> Response {
    let (code, message) = match status.as_u16() {
        500 => ("CMN-203", "Internal server error"),
        501 => ("CMN-202", "Operation not supported"),
        502..=599 => ("CMN-201", "Service temporarily unavailable"),
        404 => ("CMN-102", "Resource not found"),
        403 => ("CMN-109", "Feature not available"),
        _ => ("CMN-101", "Request refused by an injected fault"),
    };
    let mut response = error_reply(status, code, message);
    if let Some(seconds) = retry_after
        && status == StatusCode::SERVICE_UNAVAILABLE
    {
        put_header(response.headers_mut(), "Retry-After", &seconds.to_string());
    }
    response
}

async fn edge(
    State(state): State<Arc<SimState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_id = state.uuid();
    let path = request.uri().path().to_owned();
    let mut response = if path.starts_with("/_sim/") {
        if is_loopback_peer(peer) {
            next.run(request).await
        } else {
            error_reply(
                StatusCode::FORBIDDEN,
                "CMN-401",
                "The simulator's control API answers loopback peers only",
            )
        }
    } else {
        match guarded(&state, peer, &mut request, &path).await {
            Some(refused) => refused,
            None => next.run(request).await,
        }
    };
    // A rejection from an axum extractor is plain text; the platform always answers JSON.
    if response.status().is_client_error() && response.extensions().get::<PlatformBody>().is_none()
    {
        let status = response.status();
        response = error_reply(status, "CMN-104", "Cannot parse request");
    }
    put_header(response.headers_mut(), "RCRequestId", &request_id);
    response
}

/// Applies faults, authentication and rate limits. `Some(response)` ends the request early;
/// `None` lets it through (with the caller attached for handlers).
async fn guarded(
    state: &SimState,
    peer: SocketAddr,
    request: &mut Request,
    path: &str,
) -> Option<Response> {
    let stall = lock(&state.faults).stall(path, Instant::now());
    if let Some(stall) = stall {
        // A stalled request still lets the simulator shut down promptly.
        let mut shutdown = state.shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(stall) => {}
            _ = shutdown.wait_for(|stop| *stop) => {}
        }
    }
    let now = Instant::now();
    let group = route_group(request.method(), path);
    let injected = lock(&state.faults).http_error(path, now);
    if let Some((status, remaining)) = injected {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut response = status_error(status, Some(ceil_secs(remaining)));
        if let Some(group) = group {
            put_rate_headers(
                response.headers_mut(),
                &lock(&state.limiter).uncounted(group),
            );
        }
        return Some(response);
    }
    let group = group?;
    let over_socket = request.extensions().get::<Caller>().cloned();
    let caller_key = if let Some(caller) = over_socket {
        format!("session:{}", caller.session_id)
    } else if path == "/restapi/oauth/token" || path == "/restapi/oauth/revoke" {
        // Token calls are counted per client (or per peer when the client is anonymous).
        oauth::basic_client_id(request.headers())
            .map(|id| format!("client:{id}"))
            .unwrap_or_else(|| format!("peer:{}", peer.ip()))
    } else {
        let presented = presented_token(request.headers(), request.uri().query());
        let session = match &presented {
            Presented::Token(token) => lock(&state.tokens).authenticate(token, now).map_err(Some),
            _ => Err(None),
        };
        match session {
            Ok(session_id) => {
                request.extensions_mut().insert(Caller {
                    session_id: session_id.clone(),
                });
                format!("session:{session_id}")
            }
            Err(rejection) => {
                let mut response = unauthorized(&presented, rejection);
                put_rate_headers(
                    response.headers_mut(),
                    &lock(&state.limiter).uncounted(group),
                );
                return Some(response);
            }
        }
    };
    match check_rate(state, &caller_key, group, now) {
        Verdict::Limited {
            group,
            limit,
            window_secs,
            retry_after_secs,
        } => Some(rate_limited(group, limit, window_secs, retry_after_secs)),
        allowed => {
            request.extensions_mut().insert(allowed);
            None
        }
    }
}

/// Adds the rate-limit headers the middleware decided on to a handler's response.
pub(crate) fn with_rate_headers(mut response: Response, verdict: Option<&Verdict>) -> Response {
    if let Some(verdict) = verdict {
        put_rate_headers(response.headers_mut(), verdict);
    }
    response
}

async fn unknown_path(request: Request) -> Response {
    let verdict = request.extensions().get::<Verdict>().copied();
    let path = request.uri().path().to_owned();
    with_rate_headers(
        parameter_error(
            StatusCode::NOT_FOUND,
            "CMN-120",
            "Invalid URI",
            "uri",
            &path,
        ),
        verdict.as_ref(),
    )
}

async fn wrong_method(request: Request) -> Response {
    let verdict = request.extensions().get::<Verdict>().copied();
    let message = format!(
        "Method {} is not allowed for {}",
        request.method(),
        request.uri().path()
    );
    with_rate_headers(
        error_reply(StatusCode::METHOD_NOT_ALLOWED, "CMN-202", &message),
        verdict.as_ref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_follow_the_spec_table() {
        let get = Method::GET;
        let cases = [
            ("/restapi/oauth/token", Group::Auth),
            ("/restapi/v1.0/account/~/phone-number", Group::Heavy),
            ("/restapi/v1.0/account/~/phone-number/123", Group::Light),
            ("/restapi/v1.0/account/~/call-queues", Group::Medium),
            (
                "/restapi/v1.0/account/~/call-queues/55/members",
                Group::Light,
            ),
            ("/restapi/v1.0/account/~/extension", Group::Medium),
            ("/restapi/v1.0/account/~/extension/~", Group::Light),
            ("/restapi/v1.0/account/~/extension/~/presence", Group::Light),
            ("/restapi/v1.0/account/~/extension/~/call-log", Group::Heavy),
            ("/restapi/v1.0/account/~/call-log", Group::Heavy),
            ("/restapi/v1.0/account/~/recording/9/content", Group::Heavy),
            ("/restapi/v1.0/account/~/presence", Group::Heavy),
            (
                "/restapi/v1.0/account/~/telephony/sessions/s-1",
                Group::Light,
            ),
            ("/restapi/v1.0/subscription", Group::Medium),
        ];
        for (path, group) in cases {
            assert_eq!(route_group(&get, path), Some(group), "{path}");
        }
        assert_eq!(
            route_group(&Method::PUT, "/restapi/v1.0/account/~/phone-number/123"),
            Some(Group::Medium)
        );
        assert_eq!(route_group(&get, "/ws"), None);
        assert_eq!(route_group(&get, "/_sim/truth"), None);
    }

    #[test]
    fn control_api_peers() {
        let peer = |text: &str| text.parse::<SocketAddr>().unwrap();
        assert!(is_loopback_peer(peer("127.0.0.1:5000")));
        assert!(is_loopback_peer(peer("[::1]:5000")));
        assert!(is_loopback_peer(peer("[::ffff:127.0.0.1]:5000")));
        assert!(!is_loopback_peer(peer("192.168.1.20:5000")));
        assert!(!is_loopback_peer(peer("[::ffff:10.0.0.1]:5000")));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_query_is_a_fallback() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(
            presented_token(&headers, None),
            Presented::Token("abc".into())
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("BEARER  xyz "),
        );
        assert_eq!(
            presented_token(&headers, None),
            Presented::Token("xyz".into())
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic Zm9vOmJhcg=="),
        );
        assert_eq!(presented_token(&headers, None), Presented::Malformed);
        let empty = HeaderMap::new();
        assert_eq!(
            presented_token(&empty, Some("page=1&access_token=q%2Bt")),
            Presented::Token("q+t".into())
        );
        assert_eq!(presented_token(&empty, Some("page=1")), Presented::Missing);
        assert_eq!(presented_token(&empty, None), Presented::Missing);
    }
}
