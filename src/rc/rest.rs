//! The REST client: one [`RestClient`] for every HTTP call callboard makes to the platform.
//!
//! It knows each endpoint's rate-limit group ([`rate_group`], PROTOCOL.md §4), signs requests
//! with the session's token and retries once after a 401 with a refreshed one, follows paging to
//! the end, and turns failures into [`RcError`]s a supervisor can read. Pacing, `Retry-After` and
//! 5xx backoff happen below it, in [`crate::rc::transport`].

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::Stream;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;
use url::Url;

use crate::rc::auth::{Auth, Credentials, Secret, check_transport};
use crate::rc::error::{PlatformError, RcError};
use crate::rc::ratelimit::RateGroup;
use crate::rc::records::{
    CallLogRecord, CallQueue, CallQueueMember, CallQueuePresence, Extension, Page, PhoneNumber,
    Presence, RecordingMeta, TelephonySession,
};
use crate::rc::transport::{RestNotice, RetryPolicy, Transport};

/// Where callboard writes a number's label (PROTOCOL.md §9.1); `{id}` is the phone number id.
pub const DEFAULT_RELABEL_PATH: &str = "/restapi/v1.0/account/~/phone-number/{id}";

/// Records per page asked for; the platform caps lists at 1000.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

/// A paging loop stops here even if the platform keeps announcing a next page.
const MAX_PAGES: u32 = 10_000;

/// Settings of the REST client that users or tests change.
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// The relabel endpoint, with `{id}` for the phone number id.
    pub relabel_path: String,
    pub page_size: u32,
    /// Timeout of one JSON request (not of a recording download, which may take long).
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for RestConfig {
    fn default() -> Self {
        Self {
            relabel_path: DEFAULT_RELABEL_PATH.to_owned(),
            page_size: DEFAULT_PAGE_SIZE,
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// Installs the process-wide TLS crypto provider (ring) that reqwest and tokio-tungstenite
/// need. Idempotent.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client callboard uses for the platform.
pub fn http_client() -> Result<reqwest::Client, RcError> {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("callboard/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| RcError::Network {
            action: "set up the HTTPS client".to_owned(),
            detail: e.to_string(),
        })
}

/// The rate-limit group of a request, from the platform's table (PROTOCOL.md §4). `path` is the
/// API path (a query string is ignored). Unknown endpoints count as Heavy: pacing them too
/// slowly costs seconds, too fast costs a 60 s penalty.
pub fn rate_group(method: &Method, path: &str) -> RateGroup {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["restapi", "oauth", ..] => RateGroup::Auth,
        ["restapi", "v1.0", "subscription", ..] => RateGroup::Medium,
        ["restapi", "v1.0", "account", _, rest @ ..] => match rest {
            ["phone-number"] => RateGroup::Heavy,
            ["phone-number", _] if method == Method::GET => RateGroup::Light,
            ["phone-number", _] => RateGroup::Medium,
            ["call-queues"] => RateGroup::Medium,
            ["call-queues", _] | ["call-queues", _, "members" | "presence"] => RateGroup::Light,
            ["extension"] => RateGroup::Medium,
            ["extension", _] | ["extension", _, "presence"] => RateGroup::Light,
            ["extension", _, "call-log", ..] => RateGroup::Heavy,
            ["call-log", ..] | ["recording", ..] | ["presence"] | ["active-calls"] => {
                RateGroup::Heavy
            }
            ["telephony", "sessions", _] => RateGroup::Light,
            _ => RateGroup::Heavy,
        },
        ["restapi", "v2", "accounts", _, "phone-numbers"] => RateGroup::Heavy,
        ["restapi", "v2", "accounts", _, "phone-numbers", _] => RateGroup::Medium,
        _ => RateGroup::Heavy,
    }
}

/// A byte range of a recording, for resuming a download (`Range: bytes=start-[end]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    /// Inclusive; `None` reads to the end.
    pub end: Option<u64>,
}

impl ByteRange {
    fn header_value(self) -> String {
        match self.end {
            Some(end) => format!("bytes={}-{}", self.start, end),
            None => format!("bytes={}-", self.start),
        }
    }
}

/// A recording's content as it arrives, never held whole in memory.
pub struct RecordingStream {
    pub content_type: Option<String>,
    /// Bytes in this reply (`Content-Length`).
    pub content_length: Option<u64>,
    /// The whole recording's size: from `Content-Range` on a 206, else `Content-Length`.
    pub total_length: Option<u64>,
    /// True when the reply is the requested range (206), false when it is the whole file.
    pub partial: bool,
    pub body: Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>,
}

impl std::fmt::Debug for RecordingStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingStream")
            .field("content_type", &self.content_type)
            .field("content_length", &self.content_length)
            .field("total_length", &self.total_length)
            .field("partial", &self.partial)
            .finish_non_exhaustive()
    }
}

/// The reply of `POST /restapi/oauth/wstoken`: where and with what to open the WebSocket.
#[derive(Clone)]
pub struct WsToken {
    /// The gateway URL (`wss://…/ws`), checked for a safe scheme.
    pub uri: Url,
    pub token: Secret,
    pub expires_in: Duration,
}

impl std::fmt::Debug for WsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsToken")
            .field("uri", &self.uri.as_str())
            .field("token", &self.token)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

impl WsToken {
    /// The URL to open: `uri?access_token=…[&wsc=…]`. It carries secrets, so it is returned as
    /// one and never logged.
    pub fn connect_url(&self, wsc: Option<&Secret>) -> Secret {
        let mut url = self.uri.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("access_token", self.token.expose());
            if let Some(wsc) = wsc {
                query.append_pair("wsc", wsc.expose());
            }
        }
        Secret::new(String::from(url))
    }
}

#[derive(Deserialize)]
struct WsTokenReply {
    uri: String,
    ws_access_token: String,
    expires_in: Option<u64>,
}

/// The platform's REST API, signed in. Share it in an `Arc`.
pub struct RestClient {
    auth: Arc<Auth>,
    config: RestConfig,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient")
            .field("auth", &self.auth)
            .field("config", &self.config)
            .finish()
    }
}

impl RestClient {
    /// A client over an existing session.
    pub fn new(auth: Arc<Auth>, config: RestConfig) -> Self {
        Self { auth, config }
    }

    /// Builds the HTTP client, the transport and the (not yet signed-in) session. Nothing is
    /// sent until the first request.
    pub fn connect(credentials: Credentials, config: RestConfig) -> Result<Self, RcError> {
        let transport = Arc::new(Transport::new(http_client()?, config.retry.clone()));
        let auth = Arc::new(Auth::new(credentials, transport));
        Ok(Self::new(auth, config))
    }

    pub fn auth(&self) -> &Arc<Auth> {
        &self.auth
    }

    pub fn config(&self) -> &RestConfig {
        &self.config
    }

    /// Wait notices (rate limits, backoff) of every request this client makes.
    pub fn notices(&self) -> broadcast::Receiver<RestNotice> {
        self.auth.transport().notices()
    }

    fn transport(&self) -> &Transport {
        self.auth.transport()
    }

    /// Sends one request, signed, with one retry after a 401 on a refreshed token. `build`
    /// receives the full URL and the `Authorization` value.
    async fn send(
        &self,
        method: Method,
        path: &str,
        action: &str,
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RcError> {
        let url = self.auth.credentials().endpoint(path);
        let group = rate_group(&method, path);
        let mut retried_unauthorized = false;
        loop {
            let token = self.auth.access_token().await?;
            let response = self
                .transport()
                .send(group, action, || {
                    let request = self
                        .transport()
                        .http()
                        .request(method.clone(), &url)
                        .header(reqwest::header::AUTHORIZATION, token.authorization());
                    build(request)
                })
                .await?;
            if response.status() == StatusCode::UNAUTHORIZED && !retried_unauthorized {
                retried_unauthorized = true;
                tracing::info!(target: "callboard::rc", "HTTP 401 while trying to {action}; refreshing the sign-in");
                self.auth.reject(&token).await;
                continue;
            }
            return Ok(response);
        }
    }

    /// Reads a successful reply as JSON `T`, or maps the error status.
    async fn read_json<T: DeserializeOwned>(
        action: &str,
        response: reqwest::Response,
    ) -> Result<T, RcError> {
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| RcError::network(action, &e))?;
        if !status.is_success() {
            return Err(RcError::from_status(
                action,
                status.as_u16(),
                PlatformError::from_body(&body),
            ));
        }
        serde_json::from_slice(&body).map_err(|e| RcError::Unreadable {
            action: action.to_owned(),
            detail: e.to_string(),
        })
    }

    /// `GET path?query` as JSON.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        action: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, RcError> {
        let timeout = self.config.request_timeout;
        let response = self
            .send(Method::GET, path, action, |r| {
                r.query(query).timeout(timeout)
            })
            .await?;
        Self::read_json(action, response).await
    }

    /// `GET path?query` page after page until the platform says there is no next page; returns
    /// every record.
    pub async fn get_all_pages<T: DeserializeOwned>(
        &self,
        action: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, RcError> {
        let mut records = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut paged: Vec<(&str, String)> = query.to_vec();
            paged.push(("page", page.to_string()));
            paged.push(("perPage", self.config.page_size.to_string()));
            let page_action = if page == 1 {
                action.to_owned()
            } else {
                format!("{action} (page {page})")
            };
            let envelope: Page<T> = self.get_json(&page_action, path, &paged).await?;
            // An empty page ends the loop even if the platform announces another.
            let more = envelope.has_next() && !envelope.records.is_empty();
            records.extend(envelope.records);
            if !more {
                break;
            }
        }
        Ok(records)
    }

    /// Sends `body` as JSON with `method` and reads the JSON reply.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        action: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, RcError> {
        let timeout = self.config.request_timeout;
        let response = self
            .send(method, path, action, |r| r.json(body).timeout(timeout))
            .await?;
        Self::read_json(action, response).await
    }

    /// Every phone number of the account (v1 records), all pages.
    pub async fn phone_numbers(&self) -> Result<Vec<PhoneNumber>, RcError> {
        self.get_all_pages(
            "list the account's phone numbers",
            "/restapi/v1.0/account/~/phone-number",
            &[],
        )
        .await
    }

    /// Writes a number's label; answers the updated v1 record. A platform that has no such
    /// operation (403/404/405) gets [`RcError::LabelChangeNotAllowed`], never a silent failure.
    pub async fn relabel(
        &self,
        phone_number_id: &str,
        label: &str,
    ) -> Result<PhoneNumber, RcError> {
        let path = self.config.relabel_path.replace("{id}", phone_number_id);
        let action = format!("relabel phone number {phone_number_id}");
        let body = serde_json::json!({ "label": label });
        let timeout = self.config.request_timeout;
        let response = self
            .send(Method::PUT, &path, &action, |r| {
                r.json(&body).timeout(timeout)
            })
            .await?;
        let status = response.status();
        if matches!(status.as_u16(), 403..=405) {
            let body = response.bytes().await.unwrap_or_default();
            return Err(RcError::LabelChangeNotAllowed {
                status: status.as_u16(),
                code: PlatformError::from_body(&body).code,
            });
        }
        Self::read_json(&action, response).await
    }

    /// The account's call queues (list items), all pages.
    pub async fn call_queues(&self) -> Result<Vec<CallQueue>, RcError> {
        self.get_all_pages(
            "list the call queues",
            "/restapi/v1.0/account/~/call-queues",
            &[],
        )
        .await
    }

    /// One call queue's detail, with its service-level settings.
    pub async fn call_queue(&self, queue_id: &str) -> Result<CallQueue, RcError> {
        self.get_json(
            &format!("read call queue {queue_id}"),
            &format!("/restapi/v1.0/account/~/call-queues/{queue_id}"),
            &[],
        )
        .await
    }

    /// The members of a call queue, all pages.
    pub async fn call_queue_members(
        &self,
        queue_id: &str,
    ) -> Result<Vec<CallQueueMember>, RcError> {
        self.get_all_pages(
            &format!("list the members of call queue {queue_id}"),
            &format!("/restapi/v1.0/account/~/call-queues/{queue_id}/members"),
            &[],
        )
        .await
    }

    /// Who of a call queue takes its calls now (`acceptCurrentQueueCalls`).
    pub async fn call_queue_presence(
        &self,
        queue_id: &str,
    ) -> Result<Vec<CallQueuePresence>, RcError> {
        let reply: Page<CallQueuePresence> = self
            .get_json(
                &format!("read who takes calls in queue {queue_id}"),
                &format!("/restapi/v1.0/account/~/call-queues/{queue_id}/presence"),
                &[],
            )
            .await?;
        Ok(reply.records)
    }

    /// Every extension of the account, all pages.
    pub async fn extensions(&self) -> Result<Vec<Extension>, RcError> {
        self.get_all_pages(
            "list the extensions",
            "/restapi/v1.0/account/~/extension",
            &[],
        )
        .await
    }

    /// Detailed presence of every extension, with its active calls, all pages.
    pub async fn account_presence(&self) -> Result<Vec<Presence>, RcError> {
        self.get_all_pages(
            "read who is on a call",
            "/restapi/v1.0/account/~/presence",
            &[("detailedTelephonyState", "true".to_owned())],
        )
        .await
    }

    /// A live call's current state; `None` when the platform no longer has it (it ended).
    pub async fn telephony_session(
        &self,
        telephony_session_id: &str,
    ) -> Result<Option<TelephonySession>, RcError> {
        let result = self
            .get_json(
                &format!("read call {telephony_session_id}"),
                &format!("/restapi/v1.0/account/~/telephony/sessions/{telephony_session_id}"),
                &[],
            )
            .await;
        match result {
            Ok(session) => Ok(Some(session)),
            Err(RcError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// The account's voice call log (Detailed view, with legs) from `since` to now, all pages.
    pub async fn call_log_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<CallLogRecord>, RcError> {
        self.get_all_pages(
            "read today's call log",
            "/restapi/v1.0/account/~/call-log",
            &[
                ("view", "Detailed".to_owned()),
                ("type", "Voice".to_owned()),
                (
                    "dateFrom",
                    since.to_rfc3339_opts(SecondsFormat::Millis, true),
                ),
            ],
        )
        .await
    }

    /// The call-log records of one call (Detailed view).
    pub async fn call_log_for_session(
        &self,
        telephony_session_id: &str,
    ) -> Result<Vec<CallLogRecord>, RcError> {
        self.get_all_pages(
            &format!("read the call log of call {telephony_session_id}"),
            "/restapi/v1.0/account/~/call-log",
            &[
                ("view", "Detailed".to_owned()),
                ("telephonySessionId", telephony_session_id.to_owned()),
            ],
        )
        .await
    }

    /// A recording's metadata (content type, duration, content URI).
    pub async fn recording(&self, recording_id: &str) -> Result<RecordingMeta, RcError> {
        self.get_json(
            &format!("read recording {recording_id}"),
            &format!("/restapi/v1.0/account/~/recording/{recording_id}"),
            &[],
        )
        .await
    }

    /// A recording's audio as a byte stream, from `range` when resuming. A recording not yet
    /// available is [`RcError::NotFound`] (the platform publishes it some time after hang-up).
    pub async fn recording_content(
        &self,
        recording_id: &str,
        range: Option<ByteRange>,
    ) -> Result<RecordingStream, RcError> {
        let action = format!("download recording {recording_id}");
        let response = self
            .send(
                Method::GET,
                &format!("/restapi/v1.0/account/~/recording/{recording_id}/content"),
                &action,
                |r| match range {
                    Some(range) => r.header(reqwest::header::RANGE, range.header_value()),
                    None => r,
                },
            )
            .await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            return Err(RcError::from_status(
                &action,
                status.as_u16(),
                PlatformError::from_body(&body),
            ));
        }
        let headers = response.headers();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_length = response.content_length();
        let partial = status == StatusCode::PARTIAL_CONTENT;
        let total_length = if partial {
            headers
                .get(reqwest::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit('/').next())
                .and_then(|total| total.trim().parse().ok())
        } else {
            content_length
        };
        Ok(RecordingStream {
            content_type,
            content_length,
            total_length,
            partial,
            body: Box::pin(response.bytes_stream()),
        })
    }

    /// A fresh single-use WebSocket token (PROTOCOL.md §1.4, §9.2).
    pub async fn ws_token(&self) -> Result<WsToken, RcError> {
        let action = "open the live event connection";
        let timeout = self.config.request_timeout;
        let response = self
            .send(Method::POST, "/restapi/oauth/wstoken", action, |r| {
                r.timeout(timeout)
            })
            .await?;
        let reply: WsTokenReply = Self::read_json(action, response).await?;
        let uri = Url::parse(&reply.uri).map_err(|e| RcError::Unreadable {
            action: action.to_owned(),
            detail: format!("the WebSocket address is not a URL ({e})"),
        })?;
        check_transport(&uri)?;
        Ok(WsToken {
            uri,
            token: Secret::new(reply.ws_access_token),
            expires_in: Duration::from_secs(reply.expires_in.unwrap_or(30)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_map_to_their_documented_groups() {
        let get = Method::GET;
        let cases = [
            (
                &get,
                "/restapi/v1.0/account/~/phone-number",
                RateGroup::Heavy,
            ),
            (
                &get,
                "/restapi/v1.0/account/~/phone-number/123",
                RateGroup::Light,
            ),
            (
                &Method::PUT,
                "/restapi/v1.0/account/~/phone-number/123",
                RateGroup::Medium,
            ),
            (
                &get,
                "/restapi/v1.0/account/~/call-queues?page=2",
                RateGroup::Medium,
            ),
            (
                &get,
                "/restapi/v1.0/account/~/call-queues/55",
                RateGroup::Light,
            ),
            (
                &get,
                "/restapi/v1.0/account/~/call-queues/55/members",
                RateGroup::Light,
            ),
            (
                &get,
                "/restapi/v1.0/account/~/call-queues/55/presence",
                RateGroup::Light,
            ),
            (&get, "/restapi/v1.0/account/~/extension", RateGroup::Medium),
            (
                &get,
                "/restapi/v1.0/account/~/extension/7",
                RateGroup::Light,
            ),
            (
                &get,
                "/restapi/v1.0/account/~/extension/7/presence",
                RateGroup::Light,
            ),
            (
                &get,
                "/restapi/v1.0/account/~/extension/7/call-log",
                RateGroup::Heavy,
            ),
            (&get, "/restapi/v1.0/account/~/call-log", RateGroup::Heavy),
            (
                &get,
                "/restapi/v1.0/account/~/call-log/abc",
                RateGroup::Heavy,
            ),
            (
                &get,
                "/restapi/v1.0/account/~/recording/9/content",
                RateGroup::Heavy,
            ),
            (
                &get,
                "/restapi/v1.0/account/~/telephony/sessions/s-1",
                RateGroup::Light,
            ),
            (
                &get,
                "/restapi/v1.0/account/~/presence?detailedTelephonyState=true",
                RateGroup::Heavy,
            ),
            (
                &get,
                "/restapi/v1.0/account/~/active-calls",
                RateGroup::Heavy,
            ),
            (
                &Method::POST,
                "/restapi/v1.0/subscription",
                RateGroup::Medium,
            ),
            (&Method::POST, "/restapi/oauth/wstoken", RateGroup::Auth),
            (
                &get,
                "/restapi/v2/accounts/~/phone-numbers",
                RateGroup::Heavy,
            ),
            (&get, "/restapi/v1.0/something/new", RateGroup::Heavy),
        ];
        for (method, path, group) in cases {
            assert_eq!(rate_group(method, path), group, "{method} {path}");
        }
    }

    #[test]
    fn ws_connect_url_carries_tokens_encoded_and_is_secret() {
        let token = WsToken {
            uri: Url::parse("wss://ws.example.com/ws").unwrap(),
            token: Secret::new("ab+c=="),
            expires_in: Duration::from_secs(30),
        };
        let url = token.connect_url(Some(&Secret::new("w/1")));
        assert_eq!(
            url.expose(),
            "wss://ws.example.com/ws?access_token=ab%2Bc%3D%3D&wsc=w%2F1"
        );
        assert_eq!(format!("{url:?}"), "***");
        assert!(!format!("{token:?}").contains("ab+c"));
    }

    #[test]
    fn byte_ranges_render_as_range_headers() {
        let open = ByteRange {
            start: 1024,
            end: None,
        };
        assert_eq!(open.header_value(), "bytes=1024-");
        let closed = ByteRange {
            start: 0,
            end: Some(1023),
        };
        assert_eq!(closed.header_value(), "bytes=0-1023");
    }
}
