//! OAuth for the platform client (PROTOCOL.md §1): the JWT-bearer grant with HTTP Basic client
//! authentication, proactive refresh 60 s before expiry, one shared refresh for all concurrent
//! callers, a forced refresh after a 401, and revoke on exit.
//!
//! Secrets live in [`Secret`], whose `Debug` prints `***`: tokens, the JWT and the client secret
//! cannot reach a log line or the screen by accident. Credentials are never sent over plain
//! `http://` except to this machine (the embedded simulator).

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use url::Url;

use crate::rc::error::{PlatformError, RcError};
use crate::rc::ratelimit::RateGroup;
use crate::rc::transport::Transport;

/// An access token is renewed this long before it expires (the official SDK's handicap), so a
/// request never leaves with a token that dies on the way.
pub const RENEW_HANDICAP: Duration = Duration::from_secs(60);

const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A string that must never be shown: its `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// True when `url`'s host is this machine, where plain http is acceptable.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Refuses to carry credentials or tokens over an unencrypted scheme to anything but loopback.
/// Accepts `https`/`wss` anywhere and `http`/`ws` to loopback only.
pub fn check_transport(url: &Url) -> Result<(), RcError> {
    match url.scheme() {
        "https" | "wss" => Ok(()),
        "http" | "ws" if is_loopback(url) => Ok(()),
        scheme @ ("http" | "ws") => Err(RcError::InsecureTransport {
            scheme: scheme.to_owned(),
            host: url.host_str().unwrap_or("(no host)").to_owned(),
        }),
        other => Err(RcError::BadServerUrl {
            url: url.to_string(),
            detail: format!("the scheme {other:?} is not http or https"),
        }),
    }
}

/// What callboard needs to sign in: the platform URL, the app's client id and secret, and the
/// user's JWT credential. The config layer resolves them from its file and the environment
/// (`RC_SERVER_URL`, `RC_CLIENT_ID`, `RC_CLIENT_SECRET`, `RC_JWT`); see [`Self::from_config`].
#[derive(Clone)]
pub struct Credentials {
    server_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub jwt: Secret,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("server_url", &self.server_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("jwt", &self.jwt)
            .finish()
    }
}

impl Credentials {
    /// Checks the server URL (parseable, https or loopback http) and builds the credentials.
    pub fn new(
        server_url: &str,
        client_id: impl Into<String>,
        client_secret: Secret,
        jwt: Secret,
    ) -> Result<Self, RcError> {
        let parsed = Url::parse(server_url.trim()).map_err(|e| RcError::BadServerUrl {
            url: server_url.to_owned(),
            detail: e.to_string(),
        })?;
        check_transport(&parsed)?;
        Ok(Self {
            server_url: parsed,
            client_id: client_id.into(),
            client_secret,
            jwt,
        })
    }

    /// The credentials the config layer resolved (file and environment).
    pub fn from_config(platform: &crate::config::PlatformCredentials) -> Result<Self, RcError> {
        Self::new(
            &platform.server_url,
            platform.client_id.clone(),
            Secret::new(platform.client_secret.clone()),
            Secret::new(platform.jwt.clone()),
        )
    }

    pub fn server_url(&self) -> &Url {
        &self.server_url
    }

    /// `server_url` joined with an API path such as `/restapi/oauth/token`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.server_url.as_str().trim_end_matches('/'), path)
    }
}

/// A usable access token, as the value of an `Authorization` header. `Debug` redacts it.
#[derive(Clone)]
pub struct AccessToken {
    authorization: Secret,
    generation: u64,
}

impl AccessToken {
    /// The `Authorization` header value (`Bearer …`).
    pub fn authorization(&self) -> &str {
        self.authorization.expose()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessToken(*** generation {})", self.generation)
    }
}

/// The `TokenInfo` reply of `/restapi/oauth/token`.
#[derive(Deserialize)]
struct TokenInfo {
    access_token: String,
    expires_in: u64,
    refresh_token: Option<String>,
    refresh_token_expires_in: Option<u64>,
}

struct TokenSet {
    access: Secret,
    expires_at: Instant,
    refresh: Option<Secret>,
    refresh_expires_at: Option<Instant>,
    generation: u64,
}

impl TokenSet {
    fn access_is_fresh(&self, now: Instant, handicap: Duration) -> bool {
        now + handicap < self.expires_at
    }

    fn usable_refresh(&self, now: Instant) -> Option<&Secret> {
        let alive = self.refresh_expires_at.is_none_or(|at| now < at);
        self.refresh.as_ref().filter(|_| alive)
    }
}

/// The signed-in session. Cheap to share in an `Arc`; every method takes `&self`.
pub struct Auth {
    transport: Arc<Transport>,
    credentials: Credentials,
    /// Held across the token request on purpose: concurrent callers queue behind one refresh
    /// and then all use its result (single flight).
    token: tokio::sync::Mutex<Option<TokenSet>>,
    generation: AtomicU64,
    renew_handicap: Duration,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("credentials", &self.credentials)
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Auth {
    pub fn new(credentials: Credentials, transport: Arc<Transport>) -> Self {
        Self {
            transport,
            credentials,
            token: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
            renew_handicap: RENEW_HANDICAP,
        }
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub fn transport(&self) -> &Arc<Transport> {
        &self.transport
    }

    /// How many tokens this session has obtained (sign-in and refreshes); for tests and the
    /// status line.
    pub fn tokens_issued(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// A token valid for at least the renew handicap: the current one, or a refreshed one (by
    /// refresh token, falling back to a new JWT sign-in when the refresh is refused).
    pub async fn access_token(&self) -> Result<AccessToken, RcError> {
        let mut slot = self.token.lock().await;
        let now = Instant::now();
        if let Some(current) = slot.as_ref()
            && current.access_is_fresh(now, self.renew_handicap)
        {
            return Ok(self.token_of(current));
        }
        let refresh = slot.as_ref().and_then(|t| t.usable_refresh(now)).cloned();
        let fresh = match refresh {
            Some(refresh) => match self.refresh(&refresh).await {
                Ok(info) => info,
                Err(RcError::LoginRejected { code, .. }) => {
                    tracing::info!(
                        target: "callboard::rc",
                        "refresh token refused{code}; signing in again with the JWT"
                    );
                    self.sign_in().await?
                }
                Err(other) => return Err(other),
            },
            None => self.sign_in().await?,
        };
        let set = self.store(fresh);
        let token = self.token_of(&set);
        *slot = Some(set);
        Ok(token)
    }

    /// Reports that the platform answered 401 to `token`: the next [`Self::access_token`]
    /// refreshes. A token already replaced by a concurrent caller is left alone, so a burst of
    /// 401s costs one refresh.
    pub async fn reject(&self, token: &AccessToken) {
        let mut slot = self.token.lock().await;
        if let Some(current) = slot.as_mut()
            && current.generation == token.generation
        {
            current.expires_at = Instant::now();
        }
    }

    /// Ends the session on the platform (its tokens and its WebSocket subscriptions). Errors are
    /// logged and otherwise ignored, as the docs advise: callboard is exiting anyway.
    pub async fn revoke(&self) {
        let Some(set) = self.token.lock().await.take() else {
            return;
        };
        let result = self
            .transport
            .http()
            .post(self.credentials.endpoint("/restapi/oauth/revoke"))
            .basic_auth(
                &self.credentials.client_id,
                Some(self.credentials.client_secret.expose()),
            )
            .form(&[("token", set.access.expose())])
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => {
                tracing::info!(target: "callboard::rc", "signed out of RingCentral")
            }
            Ok(r) => tracing::warn!(
                target: "callboard::rc",
                "sign-out was refused (HTTP {}); the session ends when its token expires",
                r.status().as_u16()
            ),
            Err(e) => tracing::warn!(
                target: "callboard::rc",
                "could not sign out: {}",
                RcError::network("sign out", &e)
            ),
        }
    }

    fn token_of(&self, set: &TokenSet) -> AccessToken {
        AccessToken {
            authorization: Secret(format!("Bearer {}", set.access.expose())),
            generation: set.generation,
        }
    }

    fn store(&self, info: TokenInfo) -> TokenSet {
        let now = Instant::now();
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        TokenSet {
            access: Secret(info.access_token),
            expires_at: now + Duration::from_secs(info.expires_in),
            refresh: info.refresh_token.map(Secret),
            refresh_expires_at: info
                .refresh_token_expires_in
                .map(|s| now + Duration::from_secs(s)),
            generation,
        }
    }

    async fn sign_in(&self) -> Result<TokenInfo, RcError> {
        self.token_request(
            "sign in to RingCentral",
            &[
                ("grant_type", JWT_GRANT),
                ("assertion", self.credentials.jwt.expose()),
            ],
        )
        .await
    }

    async fn refresh(&self, refresh_token: &Secret) -> Result<TokenInfo, RcError> {
        self.token_request(
            "refresh the RingCentral sign-in",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
            ],
        )
        .await
    }

    async fn token_request(
        &self,
        action: &str,
        form: &[(&str, &str)],
    ) -> Result<TokenInfo, RcError> {
        let url = self.credentials.endpoint("/restapi/oauth/token");
        let response = self
            .transport
            .send(RateGroup::Auth, action, || {
                self.transport
                    .http()
                    .post(&url)
                    .basic_auth(
                        &self.credentials.client_id,
                        Some(self.credentials.client_secret.expose()),
                    )
                    .form(form)
            })
            .await?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| RcError::network(action, &e))?;
        if !status.is_success() {
            let platform = PlatformError::from_body(&body);
            return Err(RcError::LoginRejected {
                status: status.as_u16(),
                message: platform
                    .message
                    .unwrap_or_else(|| "no reason given".to_owned()),
                code: platform.code,
            });
        }
        serde_json::from_slice::<TokenInfo>(&body).map_err(|e| RcError::Unreadable {
            action: action.to_owned(),
            detail: format!("the token reply is not a TokenInfo ({e})"),
        })
    }
}

/// The recording downloader signs its requests with this session, and a 401 it meets forces
/// the same single-flight refresh as any REST call.
impl crate::store::download::TokenProvider for Auth {
    type Token = AccessToken;

    async fn token(&self) -> Result<AccessToken, String> {
        self.access_token().await.map_err(|e| e.to_string())
    }

    fn authorization(token: &AccessToken) -> &str {
        token.authorization()
    }

    async fn rejected(&self, token: &AccessToken) {
        self.reject(token).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_except_to_loopback() {
        let secret = || Secret::new("s");
        for ok in [
            "https://platform.ringcentral.com",
            "http://127.0.0.1:8080",
            "http://localhost:9000",
            "http://[::1]:9000",
        ] {
            assert!(
                Credentials::new(ok, "id", secret(), secret()).is_ok(),
                "{ok}"
            );
        }
        let err =
            Credentials::new("http://platform.example.com", "id", secret(), secret()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refusing to send RingCentral credentials over plain http:// to platform.example.com: use https:// (plain http is allowed only to this machine, e.g. the built-in simulator)"
        );
        let ws = Url::parse("ws://10.0.0.5/ws").unwrap();
        assert!(matches!(
            check_transport(&ws),
            Err(RcError::InsecureTransport { .. })
        ));
        assert!(Credentials::new("ftp://x", "id", secret(), secret()).is_err());
        assert!(Credentials::new("not a url", "id", secret(), secret()).is_err());
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let creds = Credentials::new(
            "https://platform.ringcentral.com",
            "client-id",
            Secret::new("the-client-secret"),
            Secret::new("the-jwt"),
        )
        .unwrap();
        let shown = format!("{creds:?} {} {:?}", creds.jwt, creds.client_secret);
        assert!(shown.contains("client-id"));
        assert!(!shown.contains("the-client-secret"), "{shown}");
        assert!(!shown.contains("the-jwt"), "{shown}");
        let token = AccessToken {
            authorization: Secret::new("Bearer abc123"),
            generation: 1,
        };
        assert!(!format!("{token:?}").contains("abc123"));
    }

    #[test]
    fn tokens_are_renewed_a_handicap_before_expiry() {
        let now = Instant::now();
        let set = TokenSet {
            access: Secret::new("a"),
            expires_at: now + Duration::from_secs(120),
            refresh: Some(Secret::new("r")),
            refresh_expires_at: Some(now + Duration::from_secs(10)),
            generation: 1,
        };
        assert!(set.access_is_fresh(now, RENEW_HANDICAP));
        assert!(!set.access_is_fresh(now + Duration::from_secs(60), RENEW_HANDICAP));
        assert!(set.usable_refresh(now).is_some());
        assert!(set.usable_refresh(now + Duration::from_secs(10)).is_none());
    }
}
