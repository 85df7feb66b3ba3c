//! `POST /restapi/oauth/token`, `/revoke` and `/wstoken`: the HTTP side of [`super::tokens`].
//!
//! Grants: JWT bearer and refresh_token. Client authentication: HTTP Basic
//! (`client_secret_basic`), or `client_id` (and optionally `client_secret`) in the form body for
//! clients without a secret. Errors have the real OAuth body shape:
//! `{"error", "error_description", "errors": [{"errorCode": "OAU-…", "message"}]}`.

use super::http::{Caller, SimState, json_reply, lock, with_rate_headers};
use super::ratelimit::Verdict;
use super::tokens::{TokenGrant, TokenRejection};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The credentials the simulator accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
    pub jwt: String,
}

impl Default for Credentials {
    /// Demo credentials, printed by `callboard sim`. The JWT is a syntactically valid token
    /// (`{"alg":"none"}.{"sub":"callboard-demo"}`) so clients that peek into it are satisfied.
    fn default() -> Self {
        Credentials {
            client_id: "callboard-demo-client".into(),
            client_secret: "callboard-demo-secret".into(),
            jwt: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjYWxsYm9hcmQtZGVtbyJ9.c2ltdWxhdG9y".into(),
        }
    }
}

/// The permissions a simulator session has: everything callboard uses.
const SCOPE: &str =
    "CallControl EditAccounts ReadAccounts ReadCallLog ReadCallRecording ReadPresence WebSocket";

const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// An OAuth failure: HTTP status, the `error` enum value, the OAU code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    code: &'static str,
    message: String,
}

impl OAuthError {
    fn new(
        status: StatusCode,
        error: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        OAuthError {
            status,
            error,
            code,
            message: message.into(),
        }
    }

    fn invalid_parameter(name: &str) -> Self {
        OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "OAU-101",
            format!("Parameter [{name}] is invalid"),
        )
    }

    fn into_response(self) -> Response {
        json_reply(
            self.status,
            &json!({
                "error": self.error,
                "error_description": self.message,
                "errors": [{"errorCode": self.code, "message": self.message}],
            }),
        )
    }
}

/// The client id of an `Authorization: Basic` header, if it has one (for per-client limits).
pub(crate) fn basic_client_id(headers: &HeaderMap) -> Option<String> {
    match basic_credentials(headers) {
        Some(Ok((id, _))) => Some(id),
        _ => None,
    }
}

/// `Some(Ok((id, secret)))` for a well-formed Basic header, `Some(Err(()))` for any other
/// `Authorization` header, `None` without one.
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let parsed = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| STANDARD.decode(encoded.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| {
            text.split_once(':')
                .map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        });
    Some(parsed.ok_or(()))
}

/// Checks client authentication for a token or revoke call.
fn authenticate_client(
    expected: &Credentials,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    required: bool,
) -> Result<(), OAuthError> {
    let wrong = || {
        OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "OAU-146",
            "Invalid client credentials",
        )
    };
    match basic_credentials(headers) {
        Some(Ok((id, secret))) => {
            if id == expected.client_id && secret == expected.client_secret {
                Ok(())
            } else {
                Err(wrong())
            }
        }
        Some(Err(())) => Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "OAU-123",
            "Invalid Authorization header value",
        )),
        None => match form.get("client_id") {
            Some(id) if *id == expected.client_id => match form.get("client_secret") {
                Some(secret) if *secret != expected.client_secret => Err(wrong()),
                _ => Ok(()),
            },
            Some(_) => Err(wrong()),
            None if required => Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                "OAU-123",
                "Client authentication is required",
            )),
            None => Ok(()),
        },
    }
}

/// Parses a form body; a parameter given twice is an error, as on the platform (OAU-111).
fn parse_form(body: &[u8], query: Option<&str>) -> Result<HashMap<String, String>, OAuthError> {
    let mut form = HashMap::new();
    let pairs = url::form_urlencoded::parse(body)
        .chain(url::form_urlencoded::parse(query.unwrap_or("").as_bytes()));
    for (key, value) in pairs {
        if form.insert(key.to_string(), value.into_owned()).is_some() {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "OAU-111",
                format!("Parameter [{key}] is duplicated"),
            ));
        }
    }
    Ok(form)
}

fn ttl(form: &HashMap<String, String>, name: &str) -> Result<Option<Duration>, OAuthError> {
    form.get(name)
        .map(|value| {
            value
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| OAuthError::invalid_parameter(name))
        })
        .transpose()
}

/// Decides a token request; pure apart from the token store it is handed.
fn grant(
    state: &SimState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    now: Instant,
) -> Result<TokenGrant, OAuthError> {
    authenticate_client(&state.cfg.credentials, headers, form, true)?;
    let access_ttl = ttl(form, "access_token_ttl")?;
    let refresh_ttl = ttl(form, "refresh_token_ttl")?;
    match form.get("grant_type").map(String::as_str) {
        Some(JWT_GRANT) => {
            let assertion = form
                .get("assertion")
                .ok_or_else(|| OAuthError::invalid_parameter("assertion"))?;
            if *assertion != state.cfg.credentials.jwt {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "OAU-140",
                    "Invalid resource owner credentials",
                ));
            }
            let mut rng = lock(&state.rng);
            Ok(lock(&state.tokens).open_session(&mut *rng, now, access_ttl, refresh_ttl))
        }
        Some("refresh_token") => {
            let refresh_token = form
                .get("refresh_token")
                .ok_or_else(|| OAuthError::invalid_parameter("refresh_token"))?;
            let mut rng = lock(&state.rng);
            lock(&state.tokens)
                .refresh(&mut *rng, refresh_token, now, access_ttl, refresh_ttl)
                .map_err(|rejection| {
                    let message = match rejection {
                        TokenRejection::Expired => "Refresh token has expired; log in again",
                        TokenRejection::Unknown => "Token not found: refresh tokens are single-use",
                    };
                    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", "OAU-213", message)
                })
        }
        Some("password" | "authorization_code" | "client_credentials") => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "OAU-251",
            "Unauthorized for this grant type",
        )),
        Some(_) => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "OAU-101",
            "Parameter [grant_type] is invalid",
        )),
        None => Err(OAuthError::invalid_parameter("grant_type")),
    }
}

/// `POST /restapi/oauth/token`.
pub(crate) async fn token(
    State(state): State<Arc<SimState>>,
    verdict: Option<Extension<Verdict>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let verdict = verdict.map(|Extension(v)| v);
    let result = parse_form(&body, query.as_deref())
        .and_then(|form| grant(&state, &headers, &form, Instant::now()));
    let response = match result {
        Ok(grant) => {
            let endpoint_id = {
                let mut bytes = [0u8; 16];
                lock(&state.rng).fill_bytes(&mut bytes);
                URL_SAFE_NO_PAD.encode(bytes)
            };
            let mut response = json_reply(
                StatusCode::OK,
                &json!({
                    "access_token": grant.access_token,
                    "token_type": "bearer",
                    "expires_in": grant.expires_in.as_secs(),
                    "refresh_token": grant.refresh_token,
                    "refresh_token_expires_in": grant.refresh_token_expires_in.as_secs(),
                    "scope": SCOPE,
                    "owner_id": state.owner_extension_id,
                    "endpoint_id": endpoint_id,
                    "session_id": grant.session_id,
                }),
            );
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            response
                .headers_mut()
                .insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
            response
        }
        Err(error) => error.into_response(),
    };
    with_rate_headers(response, verdict.as_ref())
}

/// `POST /restapi/oauth/revoke`: ends the OAuth session of `token`, its tokens and its sockets.
/// An unknown token is not an error (RFC 7009), so a double logout is harmless.
pub(crate) async fn revoke(
    State(state): State<Arc<SimState>>,
    verdict: Option<Extension<Verdict>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let verdict = verdict.map(|Extension(v)| v);
    let result = parse_form(&body, query.as_deref()).and_then(|form| {
        authenticate_client(&state.cfg.credentials, &headers, &form, false)?;
        form.get("token")
            .cloned()
            .ok_or_else(|| OAuthError::invalid_parameter("token"))
    });
    let response = match result {
        Ok(token) => {
            let ended = lock(&state.tokens).revoke(&token);
            if let Some(session_id) = ended {
                lock(&state.gateway).end_oauth_session(&session_id);
            }
            StatusCode::OK.into_response()
        }
        Err(error) => error.into_response(),
    };
    with_rate_headers(response, verdict.as_ref())
}

/// `POST /restapi/oauth/wstoken`: a single-use token for one WebSocket connect.
pub(crate) async fn wstoken(
    State(state): State<Arc<SimState>>,
    verdict: Option<Extension<Verdict>>,
    caller: Option<Extension<Caller>>,
) -> Response {
    let verdict = verdict.map(|Extension(v)| v);
    // The middleware authenticates every /restapi/oauth/wstoken request before it gets here.
    let Some(Extension(caller)) = caller else {
        return with_rate_headers(
            super::http::unauthorized(&super::http::Presented::Missing, None),
            verdict.as_ref(),
        );
    };
    let (token, lifetime) = {
        let mut rng = lock(&state.rng);
        lock(&state.tokens).issue_ws_token(&mut *rng, &caller.session_id, Instant::now())
    };
    let body = json!({
        "uri": state.ws_url(),
        "ws_access_token": token,
        "expires_in": lifetime.as_secs(),
    });
    with_rate_headers(json_reply(StatusCode::OK, &body), verdict.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn creds() -> Credentials {
        Credentials::default()
    }

    fn basic(id: &str, secret: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&value).unwrap(),
        );
        headers
    }

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn basic_and_body_client_auth() {
        let c = creds();
        assert!(
            authenticate_client(&c, &basic(&c.client_id, &c.client_secret), &form(&[]), true)
                .is_ok()
        );
        let wrong =
            authenticate_client(&c, &basic(&c.client_id, "nope"), &form(&[]), true).unwrap_err();
        assert_eq!(
            (wrong.status, wrong.code),
            (StatusCode::UNAUTHORIZED, "OAU-146")
        );
        assert!(
            authenticate_client(
                &c,
                &HeaderMap::new(),
                &form(&[("client_id", &c.client_id)]),
                true
            )
            .is_ok()
        );
        let missing = authenticate_client(&c, &HeaderMap::new(), &form(&[]), true).unwrap_err();
        assert_eq!(
            (missing.status, missing.error, missing.code),
            (StatusCode::BAD_REQUEST, "invalid_client", "OAU-123")
        );
        let mut garbled = HeaderMap::new();
        garbled.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(
            authenticate_client(&c, &garbled, &form(&[]), true)
                .unwrap_err()
                .code,
            "OAU-123"
        );
    }

    #[test]
    fn duplicated_parameters_are_refused() {
        let error = parse_form(b"grant_type=a&grant_type=b", None).unwrap_err();
        assert_eq!(error.code, "OAU-111");
        let parsed = parse_form(
            b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
            None,
        )
        .unwrap();
        assert_eq!(parsed["grant_type"], JWT_GRANT);
    }

    #[test]
    fn error_body_has_the_real_fields() {
        let response = OAuthError::invalid_parameter("assertion").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}
