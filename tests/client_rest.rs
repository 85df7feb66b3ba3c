//! The REST client and OAuth against a scripted in-test platform over real loopback sockets:
//! sign-in, proactive and single-flight refresh, the retry after a 401, `Retry-After` on 429 and
//! 503, 5xx backoff, paging, the relabel refusal, revoke.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use callboard::rc::error::RcError;
use callboard::rc::transport::NoticeCause;
use callboard::rc::{Credentials, RestClient, RestConfig, RetryPolicy, Secret};
use serde_json::{Value, json};

#[derive(Default)]
struct Platform {
    /// Grant types of every token request, in order.
    grants: Vec<String>,
    /// The `Authorization` of every token request.
    token_auth: Vec<String>,
    issued: u32,
    /// Lifetime of the tokens the platform issues.
    expires_in: u64,
    /// Only this access token is accepted (the newest); `None` accepts none yet.
    valid_token: Option<String>,
    revoked: Vec<String>,
    /// Scripted replies of the extension list: status, Retry-After, consumed front first.
    script: VecDeque<(u16, Option<&'static str>)>,
    extension_requests: u32,
    /// Every API request is refused with 401, whatever the token.
    reject_all: bool,
    queue_requests: u32,
}

type Shared = Arc<Mutex<Platform>>;

async fn token(State(p): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let grant = form
        .iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    // Let concurrent refreshers pile up, so single flight is really exercised.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut p = p.lock().unwrap();
    p.grants.push(grant);
    p.token_auth.push(
        headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default(),
    );
    p.issued += 1;
    let access = format!("tok-{}", p.issued);
    p.valid_token = Some(access.clone());
    Json(json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": p.expires_in,
        "refresh_token": format!("ref-{}", p.issued),
        "refresh_token_expires_in": 604800,
        "scope": "ReadAccounts",
        "owner_id": "101"
    }))
    .into_response()
}

use axum::Json;

fn authorized(p: &Platform, headers: &HeaderMap) -> bool {
    if p.reject_all {
        return false;
    }
    let given = headers.get("authorization").and_then(|v| v.to_str().ok());
    match (&p.valid_token, given) {
        (Some(valid), Some(given)) => given == format!("Bearer {valid}"),
        _ => false,
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"errorCode":"TokenInvalid","errors":[{"errorCode":"OAU-149","message":"OAuth token is invalid"}]})),
    )
        .into_response()
}

async fn revoke(State(p): State<Shared>, body: String) -> StatusCode {
    p.lock().unwrap().revoked.push(body);
    StatusCode::OK
}

async fn phone_numbers(
    State(p): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if !authorized(&p.lock().unwrap(), &headers) {
        return unauthorized();
    }
    let page: u32 = q
        .iter()
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(1);
    // Five numbers, two per page; the last page has no nextPage.
    let all: Vec<u32> = (1..=5).collect();
    let records: Vec<Value> = all
        .iter()
        .skip(((page - 1) * 2) as usize)
        .take(2)
        .map(|n| json!({"id": n, "phoneNumber": format!("+1415555010{n}")}))
        .collect();
    let mut navigation = json!({"firstPage": {"uri": "x?page=1"}});
    if page < 3 {
        navigation["nextPage"] = json!({"uri": format!("x?page={}", page + 1)});
    }
    (
        [
            ("X-Rate-Limit-Group", "heavy"),
            ("X-Rate-Limit-Limit", "10"),
            ("X-Rate-Limit-Remaining", "9"),
            ("X-Rate-Limit-Window", "60"),
        ],
        Json(json!({
            "uri": "x",
            "records": records,
            "paging": {"page": page, "perPage": 2, "totalPages": 3, "totalElements": 5},
            "navigation": navigation
        })),
    )
        .into_response()
}

async fn extensions(State(p): State<Shared>, headers: HeaderMap) -> Response {
    let mut p = p.lock().unwrap();
    if !authorized(&p, &headers) {
        return unauthorized();
    }
    p.extension_requests += 1;
    if let Some((status, retry_after)) = p.script.pop_front() {
        let mut response = (
            StatusCode::from_u16(status).unwrap(),
            Json(json!({"errorCode":"CMN-301","message":"Request rate exceeded","errors":[{"errorCode":"CMN-301","message":"Request rate exceeded"}]})),
        )
            .into_response();
        if let Some(after) = retry_after {
            response
                .headers_mut()
                .insert("Retry-After", after.parse().unwrap());
        }
        return response;
    }
    Json(json!({"records": [{"id": 7, "name": "Ann"}], "paging": {"page": 1, "totalPages": 1}}))
        .into_response()
}

async fn queue(State(p): State<Shared>, headers: HeaderMap) -> Response {
    p.lock().unwrap().queue_requests += 1;
    if !authorized(&p.lock().unwrap(), &headers) {
        return unauthorized();
    }
    Json(json!({"id": "55", "name": "Sales"})).into_response()
}

/// Ten bytes of "audio"; honours `Range: bytes=N-`; recording 404 is not available yet.
async fn recording_content(
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    if id == "404" {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"errors":[{"errorCode":"CMN-102","message":"Resource for parameter [recordingId] is not found"}]})),
        )
            .into_response();
    }
    let audio = b"0123456789";
    let start: usize = headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.trim_end_matches('-').parse().ok())
        .unwrap_or(0);
    let mut response = audio[start..].to_vec().into_response();
    let h = response.headers_mut();
    h.insert("Content-Type", "audio/mpeg".parse().unwrap());
    if start > 0 {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        response.headers_mut().insert(
            "Content-Range",
            format!("bytes {start}-9/10").parse().unwrap(),
        );
    }
    response
}

async fn relabel() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"errors":[{"errorCode":"CMN-120","message":"Invalid URI"}]})),
    )
        .into_response()
}

async fn start(expires_in: u64) -> (Shared, RestClient) {
    let platform: Shared = Arc::new(Mutex::new(Platform {
        expires_in,
        ..Platform::default()
    }));
    let app = Router::new()
        .route("/restapi/oauth/token", post(token))
        .route("/restapi/oauth/revoke", post(revoke))
        .route("/restapi/v1.0/account/~/phone-number", get(phone_numbers))
        .route("/restapi/v1.0/account/~/phone-number/{id}", put(relabel))
        .route("/restapi/v1.0/account/~/extension", get(extensions))
        .route("/restapi/v1.0/account/~/call-queues/{id}", get(queue))
        .route(
            "/restapi/v1.0/account/~/recording/{id}/content",
            get(recording_content),
        )
        .with_state(platform.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let credentials = Credentials::new(
        &format!("http://{addr}"),
        "app-id",
        Secret::new("app-secret"),
        Secret::new("user-jwt"),
    )
    .unwrap();
    let config = RestConfig {
        page_size: 2,
        retry: RetryPolicy {
            backoff_base: Duration::from_millis(5),
            backoff_max: Duration::from_millis(20),
            default_retry_after: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        ..RestConfig::default()
    };
    (platform, RestClient::connect(credentials, config).unwrap())
}

#[tokio::test]
async fn signs_in_with_the_jwt_grant_and_basic_client_auth() {
    let (platform, client) = start(3600).await;
    let numbers = client.phone_numbers().await.unwrap();
    assert_eq!(numbers.len(), 5, "all three pages are read");
    let p = platform.lock().unwrap();
    assert_eq!(p.grants, ["urn:ietf:params:oauth:grant-type:jwt-bearer"]);
    // base64("app-id:app-secret")
    assert_eq!(p.token_auth, ["Basic YXBwLWlkOmFwcC1zZWNyZXQ="]);
}

#[tokio::test]
async fn a_token_inside_the_renew_handicap_is_refreshed_once_for_all_callers() {
    // 60 s of life is inside the 60 s handicap: the next use must refresh.
    let (platform, client) = start(60).await;
    client.auth().access_token().await.unwrap();
    platform.lock().unwrap().expires_in = 3600;
    let auth = client.auth().clone();
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { auth.access_token().await.unwrap() })
        })
        .collect();
    let mut tokens = Vec::new();
    for caller in callers {
        tokens.push(caller.await.unwrap().authorization().to_owned());
    }
    let grants = platform.lock().unwrap().grants.clone();
    assert_eq!(
        grants,
        [
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "refresh_token"
        ]
    );
    assert!(tokens.iter().all(|t| t == "Bearer tok-2"), "{tokens:?}");
}

#[tokio::test]
async fn concurrent_callers_share_one_sign_in() {
    let (platform, client) = start(3600).await;
    let auth = client.auth().clone();
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { auth.access_token().await.unwrap() })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    assert_eq!(platform.lock().unwrap().grants.len(), 1);
    assert_eq!(client.auth().tokens_issued(), 1);
}

#[tokio::test]
async fn a_401_refreshes_the_token_and_retries_once() {
    let (platform, client) = start(3600).await;
    client.auth().access_token().await.unwrap();
    // The platform forgets the token (as after a password change).
    platform.lock().unwrap().valid_token = Some("something-else".into());
    // The refresh issues a new valid token, so the retried request passes.
    let queue = client.call_queue("55").await.unwrap();
    assert_eq!(queue.name.as_deref(), Some("Sales"));
    let grants = platform.lock().unwrap().grants.clone();
    assert_eq!(grants.len(), 2);
    assert_eq!(grants[1], "refresh_token");
}

#[tokio::test]
async fn retry_after_on_429_is_honoured_and_reported() {
    let (platform, client) = start(3600).await;
    let mut notices = client.notices();
    platform.lock().unwrap().script = VecDeque::from([(429, Some("1"))]);
    let extensions = client.extensions().await.unwrap();
    assert_eq!(extensions.len(), 1);
    assert_eq!(platform.lock().unwrap().extension_requests, 2);
    let notice = notices.recv().await.unwrap();
    assert_eq!(notice.cause, NoticeCause::RateLimited);
    assert_eq!(notice.wait, Duration::from_secs(1));
    assert_eq!(
        notice.to_string(),
        "rate limited by RingCentral (medium group) — retrying in 1 s [CMN-301]"
    );
}

#[tokio::test]
async fn a_503_without_retry_after_waits_the_default_then_succeeds() {
    let (platform, client) = start(3600).await;
    platform.lock().unwrap().script = VecDeque::from([(503, None), (503, None)]);
    let extensions = client.extensions().await.unwrap();
    assert_eq!(extensions.len(), 1);
    assert_eq!(platform.lock().unwrap().extension_requests, 3);
}

#[tokio::test]
async fn server_errors_are_retried_three_times_then_reported() {
    let (platform, client) = start(3600).await;
    platform.lock().unwrap().script = VecDeque::from([(500, None), (502, None)]);
    let extensions = client.extensions().await.unwrap();
    assert_eq!(extensions.len(), 1);

    platform.lock().unwrap().extension_requests = 0;
    platform.lock().unwrap().script = VecDeque::from([(500, None); 10]);
    let err = client.extensions().await.unwrap_err();
    assert_eq!(
        platform.lock().unwrap().extension_requests,
        4,
        "1 try + 3 retries"
    );
    assert!(
        matches!(
            err,
            RcError::ServerTrouble {
                status: 500,
                attempts: 4,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "RingCentral is having trouble (HTTP 500) — could not list the extensions after 4 tries [CMN-301]"
    );
}

#[tokio::test]
async fn endless_rate_limiting_gives_up_with_a_clear_error() {
    let (platform, client) = start(3600).await;
    platform.lock().unwrap().script = VecDeque::from([(429, Some("0")); 10]);
    let err = client.extensions().await.unwrap_err();
    assert!(
        matches!(err, RcError::RateLimited { attempts: 6, .. }),
        "{err}"
    );
    assert_eq!(err.code(), Some("CMN-301"));
}

#[tokio::test]
async fn a_platform_without_the_relabel_operation_says_so() {
    let (_platform, client) = start(3600).await;
    let err = client
        .relabel("12", "Zillow +14155550100")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "this account's API does not allow label changes (HTTP 404) [CMN-120]"
    );
}

#[tokio::test]
async fn revoke_sends_the_access_token_and_forgets_it() {
    let (platform, client) = start(3600).await;
    client.auth().access_token().await.unwrap();
    client.auth().revoke().await;
    assert_eq!(platform.lock().unwrap().revoked, ["token=tok-1"]);
    // A second revoke has nothing to send.
    client.auth().revoke().await;
    assert_eq!(platform.lock().unwrap().revoked.len(), 1);
}

#[tokio::test]
async fn recording_content_streams_and_resumes_with_a_range() {
    use futures_util::StreamExt;
    let (_platform, client) = start(3600).await;
    let range = callboard::rc::rest::ByteRange {
        start: 4,
        end: None,
    };
    let mut stream = client.recording_content("7", Some(range)).await.unwrap();
    assert!(stream.partial);
    assert_eq!(stream.total_length, Some(10));
    assert_eq!(stream.content_type.as_deref(), Some("audio/mpeg"));
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.body.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(bytes, b"456789");

    let whole = client.recording_content("7", None).await.unwrap();
    assert!(!whole.partial);
    assert_eq!(whole.total_length, Some(10));

    let err = client.recording_content("404", None).await.unwrap_err();
    assert!(matches!(err, RcError::NotFound { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "could not download recording 404: RingCentral has no such record [CMN-102]"
    );
}

#[tokio::test]
async fn the_recording_downloader_signs_with_the_session_and_refreshes_on_401() {
    use callboard::store::download::TokenProvider;
    let (platform, client) = start(3600).await;
    let auth = client.auth().clone();
    let token = TokenProvider::token(&auth).await.unwrap();
    assert_eq!(
        <std::sync::Arc<callboard::rc::Auth> as TokenProvider>::authorization(&token),
        "Bearer tok-1"
    );
    TokenProvider::rejected(&auth, &token).await;
    let fresh = TokenProvider::token(&auth).await.unwrap();
    assert_eq!(fresh.authorization(), "Bearer tok-2");
    assert_eq!(platform.lock().unwrap().grants[1], "refresh_token");
}

#[tokio::test]
async fn a_second_401_after_the_refresh_is_reported_not_looped() {
    let (platform, client) = start(3600).await;
    platform.lock().unwrap().reject_all = true;
    let err = client.call_queue("55").await.unwrap_err();
    assert!(matches!(err, RcError::Unauthorized { .. }), "{err}");
    assert_eq!(err.code(), Some("OAU-149"));
    let p = platform.lock().unwrap();
    assert_eq!(p.queue_requests, 2, "one try and one retry");
    assert_eq!(p.grants.len(), 2, "sign-in, then one refresh");
}
