//! The recording downloader end to end: a real HTTP server on loopback (axum) serving recording
//! content with Range support and scripted faults, the reqwest source, and a sled store in a
//! temporary directory.

use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, mpsc};

use callboard::store::download::{
    Backoff, CancelToken, DownloadConfig, DownloadError, DownloadEvent, DownloadRequest,
    DownloadUpdate, Downloader, ReqwestSource, StaticToken, TokenProvider, WaitReason,
};
use callboard::store::{CallInfo, RecordingStatus, Store, StoreConfig, StoreError};

const CHUNK: usize = 4096;
const TOKEN: &str = "test-token";
/// The server sends bodies in pieces this big, so one chunk takes several reads.
const PIECE: usize = 1000;
/// Safety net for waits in tests; never reached when things work.
const PATIENCE: Duration = Duration::from_secs(20);

// ----------------------------------------------------------------------------------------------
// The scripted server
// ----------------------------------------------------------------------------------------------

/// What the server does for one request; when the script is empty it serves normally.
#[derive(Debug, Clone)]
enum Step {
    /// 404 CMN-102, as before the recording exists.
    NotFound,
    /// 429 CMN-301 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// 503.
    ServerError,
    /// 401 (an expired token).
    Unauthorized,
    /// 403 CMN-401 (the app lacks the permission).
    Forbidden,
    /// Sends this many bytes of the answer, then breaks the connection.
    CutAfter(usize),
    /// Sends this many bytes, then waits for `release` before sending the rest.
    PauseAfter(usize),
    /// Answers 206 for the asked range but announces this total length.
    AnnounceTotal(u64),
}

struct ServerState {
    content: Bytes,
    content_type: Mutex<String>,
    script: Mutex<VecDeque<Step>>,
    /// Steps for one recording id, taken before the shared script.
    script_for_id: Mutex<HashMap<String, VecDeque<Step>>>,
    /// The `Range` header of every content request, in order.
    ranges: Mutex<Vec<Option<String>>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    release: Notify,
}

struct TestServer {
    base_url: String,
    state: Arc<ServerState>,
}

impl TestServer {
    async fn start(content: Vec<u8>, script: Vec<Step>) -> TestServer {
        let state = Arc::new(ServerState {
            content: Bytes::from(content),
            content_type: Mutex::new("audio/mpeg".to_owned()),
            script: Mutex::new(script.into()),
            script_for_id: Mutex::new(HashMap::new()),
            ranges: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            release: Notify::new(),
        });
        let app = Router::new()
            .route(
                "/restapi/v1.0/account/{account}/recording/{id}/content",
                get(serve_content),
            )
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestServer {
            base_url: format!("http://{addr}"),
            state,
        }
    }

    fn ranges(&self) -> Vec<Option<String>> {
        self.state.ranges.lock().unwrap().clone()
    }
}

/// Counts a request as in flight until its body is dropped.
struct InFlight(Arc<ServerState>);

impl InFlight {
    fn new(state: &Arc<ServerState>) -> InFlight {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(Arc::clone(state))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn platform_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"errorCode": code, "message": message}]});
    (status, axum::Json(body)).into_response()
}

async fn serve_content(
    State(state): State<Arc<ServerState>>,
    UrlPath((_account, recording_id)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    state.ranges.lock().unwrap().push(range.clone());
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {TOKEN}"))
    {
        return platform_error(StatusCode::UNAUTHORIZED, "OAU-149", "Invalid token");
    }
    let step = state
        .script_for_id
        .lock()
        .unwrap()
        .get_mut(&recording_id)
        .and_then(VecDeque::pop_front)
        .or_else(|| state.script.lock().unwrap().pop_front());
    let len = state.content.len() as u64;
    let start: u64 = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);

    let (cut, pause, announced_total) = match step {
        Some(Step::NotFound) => {
            return platform_error(
                StatusCode::NOT_FOUND,
                "CMN-102",
                "Resource for parameter [recordingId] is not found",
            );
        }
        Some(Step::RateLimited { retry_after_secs }) => {
            let mut response = platform_error(
                StatusCode::TOO_MANY_REQUESTS,
                "CMN-301",
                "Request rate exceeded",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after_secs.into());
            return response;
        }
        Some(Step::ServerError) => {
            return platform_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "CMN-201",
                "Service temporarily unavailable",
            );
        }
        Some(Step::Unauthorized) => {
            return platform_error(StatusCode::UNAUTHORIZED, "OAU-128", "Access token expired");
        }
        Some(Step::Forbidden) => {
            return platform_error(
                StatusCode::FORBIDDEN,
                "CMN-401",
                "In order to call this API endpoint, application needs to have [ReadCallRecording] permission",
            );
        }
        Some(Step::CutAfter(n)) => (Some(n), None, None),
        Some(Step::PauseAfter(n)) => (None, Some(n), None),
        Some(Step::AnnounceTotal(total)) => (None, None, Some(total)),
        None => (None, None, None),
    };

    if start >= len && start > 0 {
        let mut response = platform_error(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "CMN-107",
            "Range not satisfiable",
        );
        response.headers_mut().insert(
            header::CONTENT_RANGE,
            format!("bytes */{len}").parse().unwrap(),
        );
        return response;
    }
    let body = state.content.slice(start as usize..);
    let body_len = body.len();
    let partial = range.is_some() || announced_total.is_some();
    let status = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut builder = Response::builder()
        .status(status)
        .header(
            header::CONTENT_TYPE,
            state.content_type.lock().unwrap().clone(),
        )
        .header(header::CONTENT_LENGTH, body_len);
    if partial {
        builder = builder.header(
            header::CONTENT_RANGE,
            format!(
                "bytes {start}-{}/{}",
                len - 1,
                announced_total.unwrap_or(len)
            ),
        );
    }

    let first_part = cut.or(pause).unwrap_or(body_len).min(body_len);
    let pieces: Vec<Result<Bytes, std::io::Error>> = (0..first_part)
        .step_by(PIECE)
        .map(|at| Ok(body.slice(at..(at + PIECE).min(first_part))))
        .collect();
    let guard = InFlight::new(&state);
    let rest = body.slice(first_part..);
    let release_state = Arc::clone(&state);
    let tail = futures_util::stream::once(async move {
        if cut.is_some() {
            // Give hyper time to flush what was sent, so the client really holds `cut` bytes
            // when the connection breaks (an error drops anything still buffered).
            tokio::time::sleep(Duration::from_millis(100)).await;
            return vec![Err(std::io::Error::other("connection cut by the test"))];
        }
        if pause.is_some() {
            release_state.release.notified().await;
        }
        (0..rest.len())
            .step_by(PIECE)
            .map(|at| Ok(rest.slice(at..(at + PIECE).min(rest.len()))))
            .collect()
    })
    .flat_map(futures_util::stream::iter);
    let stream = futures_util::stream::iter(pieces)
        .chain(tail)
        .map(move |piece| {
            let _counted = &guard;
            piece
        });
    builder.body(Body::from_stream(stream)).unwrap()
}

// ----------------------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------------------

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn fast_config() -> DownloadConfig {
    let quick = Backoff {
        initial: Duration::from_millis(5),
        max: Duration::from_millis(20),
    };
    DownloadConfig {
        max_concurrent: 2,
        availability_backoff: quick,
        availability_timeout: PATIENCE,
        transient_backoff: quick,
        max_transient_failures: 3,
        default_retry_after: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(2),
        max_rate_limit_waits: 3,
        stall_timeout: PATIENCE,
        progress_interval: Duration::ZERO,
    }
}

fn open_store(dir: &Path, cap_bytes: u64) -> Store {
    Store::open(
        dir,
        StoreConfig {
            cap_bytes,
            chunk_bytes: CHUNK,
            ..StoreConfig::default()
        },
    )
    .unwrap()
}

type TestDownloader = Downloader<ReqwestSource<StaticToken>>;

fn downloader(
    store: &Store,
    server: &TestServer,
    config: DownloadConfig,
) -> (TestDownloader, mpsc::Receiver<DownloadEvent>) {
    let (events, receiver) = mpsc::channel(1024);
    let source = ReqwestSource::new(&server.base_url, StaticToken::bearer(TOKEN)).unwrap();
    (
        Downloader::with_events(store.clone(), source, config, events),
        receiver,
    )
}

fn request(id: &str) -> DownloadRequest {
    DownloadRequest {
        recording_id: id.to_owned(),
        call: CallInfo {
            telephony_session_id: Some(format!("s-{id}")),
            caller: Some("+14155550123".to_owned()),
            campaign: Some("Zillow Spring".to_owned()),
            queue: Some("Sales".to_owned()),
            agent: Some("Ann".to_owned()),
            duration_seconds: Some(95),
        },
    }
}

fn drain(receiver: &mut mpsc::Receiver<DownloadEvent>) -> Vec<DownloadUpdate> {
    let mut updates = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        updates.push(event.update);
    }
    updates
}

/// Waits (bounded) for an event matching `wanted` about `id`.
async fn wait_for_event(
    receiver: &mut mpsc::Receiver<DownloadEvent>,
    id: &str,
    wanted: impl Fn(&DownloadUpdate) -> bool,
) {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let event = receiver.recv().await.expect("event channel closed");
            if event.recording_id == id && wanted(&event.update) {
                return;
            }
        }
    })
    .await
    .expect("the expected download event never came");
}

/// Exports `id` and checks the file is byte-identical to `expected`, mode 0600.
fn assert_exports_identical(store: &Store, dir: &Path, id: &str, expected: &[u8]) {
    let out = dir.join(format!("export-{id}.mp3"));
    let report = store.export_recording(id, &out).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), expected);
    assert_eq!(report.sha256_hex, sha256_hex(expected));
    let mode = std::fs::metadata(&out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

// ----------------------------------------------------------------------------------------------
// Tests
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_clean_download_is_chunked_verified_and_exported_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = content(10 * CHUNK + 123);
    let server = TestServer::start(bytes.clone(), vec![]).await;
    let store = open_store(&tmp.path().join("data"), u64::MAX);
    let (downloader, mut events) = downloader(&store, &server, fast_config());

    let report = downloader
        .fetch(request("1001"), CancelToken::new())
        .await
        .unwrap();

    assert!(!report.already_stored);
    assert_eq!(report.requests, 1);
    assert_eq!(
        server.ranges(),
        vec![None],
        "a fresh download asks for no range"
    );
    let meta = &report.meta;
    assert_eq!(meta.status, RecordingStatus::Complete);
    assert_eq!(meta.length, Some(bytes.len() as u64));
    assert_eq!(meta.content_type.as_deref(), Some("audio/mpeg"));
    assert_eq!(meta.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(meta.call.campaign.as_deref(), Some("Zillow Spring"));
    assert!(meta.fetched_at.is_some());

    // Memory stays flat: at most two chunks held (one filling, one being written), content
    // stored in chunk-sized pieces.
    assert!(
        report.peak_buffered_bytes <= 2 * CHUNK,
        "{}",
        report.peak_buffered_bytes
    );
    let layout = store.stored_prefix("1001", CHUNK).unwrap();
    assert_eq!(layout.bytes, bytes.len() as u64);
    assert_eq!(layout.next_chunk, 10);
    assert_eq!(layout.tail.len(), 123);

    assert_exports_identical(&store, tmp.path(), "1001", &bytes);

    let updates = drain(&mut events);
    let last_progress = updates
        .iter()
        .rev()
        .find_map(|u| match u {
            DownloadUpdate::Progress(p) => Some(*p),
            _ => None,
        })
        .expect("progress was reported");
    assert_eq!(last_progress.bytes, bytes.len() as u64);
    assert_eq!(last_progress.total, Some(bytes.len() as u64));
    assert!(matches!(
        updates.last(),
        Some(DownloadUpdate::Finished {
            already_stored: false,
            ..
        })
    ));
}

#[tokio::test]
async fn a_complete_recording_is_not_fetched_again() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = content(3 * CHUNK);
    let server = TestServer::start(bytes, vec![]).await;
    let store = open_store(tmp.path(), u64::MAX);
    let (downloader, _events) = downloader(&store, &server, fast_config());
    downloader
        .fetch(request("5"), CancelToken::new())
        .await
        .unwrap();
    let again = downloader
        .fetch(request("5"), CancelToken::new())
        .await
        .unwrap();
    assert!(again.already_stored);
    assert_eq!(again.requests, 0);
    assert_eq!(server.ranges().len(), 1);
}

#[tokio::test]
async fn a_recording_that_appears_late_is_waited_for_then_fetched() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = content(2 * CHUNK + 7);
    let server = TestServer::start(bytes.clone(), vec![Step::NotFound, Step::NotFound]).await;
    let store = open_store(tmp.path(), u64::MAX);
    let (downloader, mut events) = downloader(&store, &server, fast_config());

    let report = downloader
        .fetch(request("late"), CancelToken::new())
        .await
        .unwrap();

    assert_eq!(report.requests, 3);
    assert_eq!(
        report.meta.sha256.as_deref(),
        Some(sha256_hex(&bytes).as_str())
    );
    let waits: Vec<Duration> = drain(&mut events)
        .into_iter()
        .filter_map(|u| match u {
            DownloadUpdate::Waiting {
                reason: WaitReason::NotYetAvailable,
                retry_in,
            } => Some(retry_in),
            _ => None,
        })
        .collect();
    assert_eq!(
        waits,
        [Duration::from_millis(5), Duration::from_millis(10)],
        "waits back off"
    );
}

#[tokio::test]
async fn waiting_for_a_recording_gives_up_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start(content(10), vec![Step::NotFound; 50]).await;
    let store = open_store(tmp.path(), u64::MAX);
    let config = DownloadConfig {
        availability_timeout: Duration::ZERO,
        ..fast_config()
    };
    let (downloader, _events) = downloader(&store, &server, config);
    let err = downloader
        .fetch(request("never"), CancelToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, DownloadError::NotAvailable { .. }), "{err:?}");
    assert!(err.to_string().contains("try again later"));
}

#[tokio::test]
async fn a_429_waits_for_its_retry_after() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = content(CHUNK + 1);
    let server = TestServer::start(
        bytes.clone(),
        vec![Step::RateLimited {
            retry_after_secs: 1,
        }],
    )
    .await;
    let store = open_store(tmp.path(), u64::MAX);
    let (downloader, mut events) = downloader(&store, &server, fast_config());

    let report = downloader
        .fetch(request("busy"), CancelToken::new())
        .await
        .unwrap();

    assert_eq!(report.requests, 2);
    assert!(drain(&mut events).contains(&DownloadUpdate::Waiting {
        reason: WaitReason::RateLimited,
        retry_in: Duration::from_secs(1),
    }));
    assert_exports_identical(&store, tmp.path(), "busy", &bytes);
}

#[tokio::test]
async fn a_cut_socket_resumes_with_range_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = content(8 * CHUNK + 99);
    let cut_at = 2 * CHUNK + 1500;
    let server = TestServer::start(bytes.clone(), vec![Step::CutAfter(cut_at)]).await;
    let store = open_store(tmp.path(), u64::MAX);
    let (downloader, mut events) = downloader(&store, &server, fast_config());

    let report = downloader
        .fetch(request("cut"), CancelToken::new())
        .await
        .unwrap();

    assert_eq!(
        server.ranges(),
        vec![None, Some(format!("bytes={cut_at}-"))],
        "the resume asks for exactly the missing bytes"
    );
    assert!(report.peak_buffered_bytes <= 2 * CHUNK);
    assert_eq!(
        report.meta.sha256.as_deref(),
        Some(sha256_hex(&bytes).as_str())
    );
    assert!(drain(&mut events).iter().any(|u| matches!(
        u,
        DownloadUpdate::Waiting {
            reason: WaitReason::ConnectionLost { .. },
            ..
        }
    )));
    assert_exports_identical(&store, tmp.path(), "cut", &bytes);
}

#[tokio::test]
async fn a_killed_download_never_looks_complete_and_resumes_after_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let bytes = content(12 * CHUNK + 500);
    // The first answer sends 3.5 chunks, then hangs: the process is "killed" there.
    let server =
        TestServer::start(bytes.clone(), vec![Step::PauseAfter(3 * CHUNK + CHUNK / 2)]).await;
    {
        let store = open_store(&data_dir, u64::MAX);
        let (downloader, _events) = downloader(&store, &server, fast_config());
        let handle = downloader.start(request("kill")).unwrap();
        tokio::time::timeout(PATIENCE, async {
            while store.stored_bytes("kill").unwrap() < 3 * CHUNK as u64 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("three chunks were stored");
        handle.task.abort();
        assert!(handle.task.await.unwrap_err().is_cancelled());
    }

    let store = open_store(&data_dir, u64::MAX);
    let meta = store.recording("kill").unwrap().unwrap();
    assert_eq!(meta.status, RecordingStatus::Partial);
    assert!(meta.sha256.is_none());
    let err = store.export_recording("kill", tmp.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::RecordingIncomplete { .. }),
        "{err:?}"
    );

    let (downloader, _events) = downloader(&store, &server, fast_config());
    let report = downloader
        .fetch(request("kill"), CancelToken::new())
        .await
        .unwrap();
    assert_eq!(report.resumed_from, 3 * CHUNK as u64);
    assert_eq!(
        server.ranges().last().cloned().flatten(),
        Some(format!("bytes={}-", 3 * CHUNK))
    );
    assert_eq!(
        report.meta.sha256.as_deref(),
        Some(sha256_hex(&bytes).as_str())
    );
    assert_eq!(
        report.meta.call.telephony_session_id.as_deref(),
        Some("s-kill")
    );
    assert_exports_identical(&store, tmp.path(), "kill", &bytes);
}

#[tokio::test]
async fn reaching_the_cap_stops_the_download_and_keeps_stored_recordings_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let first = content(2 * CHUNK + 10);
    let store = open_store(tmp.path(), (5 * CHUNK) as u64);
    let server = TestServer::start(first.clone(), vec![]).await;
    let (downloader, _events) = downloader(&store, &server, fast_config());
    downloader
        .fetch(request("kept"), CancelToken::new())
        .await
        .unwrap();

    let big = TestServer::start(content(6 * CHUNK), vec![]).await;
    let (big_downloader, _big_events) = self::downloader(&store, &big, fast_config());
    let err = big_downloader
        .fetch(request("big"), CancelToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            DownloadError::Store {
                source: StoreError::CapReached { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("size cap"), "{err}");
    assert!(store.used_bytes().unwrap() <= (5 * CHUNK) as u64);
    assert_eq!(
        store.recording("big").unwrap().unwrap().status,
        RecordingStatus::Partial
    );
    assert_exports_identical(&store, tmp.path(), "kept", &first);
}

#[tokio::test]
async fn a_recording_marked_for_refetch_is_downloaded_again_from_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = content(4 * CHUNK + 3);
    let server = TestServer::start(bytes.clone(), vec![]).await;
    let store = open_store(tmp.path(), u64::MAX);
    let (downloader, _events) = downloader(&store, &server, fast_config());
    downloader
        .fetch(request("again"), CancelToken::new())
        .await
        .unwrap();
    store
        .mark_for_refetch("again", "sha256 mismatch on export")
        .unwrap();

    let report = downloader
        .fetch(request("again"), CancelToken::new())
        .await
        .unwrap();
    assert!(!report.already_stored);
    assert_eq!(report.resumed_from, 0);
    assert_eq!(server.ranges(), vec![None, None]);
    assert_exports_identical(&store, tmp.path(), "again", &bytes);
}

#[tokio::test]
async fn a_wrong_announced_length_is_an_error_and_marks_for_refetch() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = content(3 * CHUNK);
    let claimed = bytes.len() as u64 + 100;
    let server = TestServer::start(bytes.clone(), vec![Step::AnnounceTotal(claimed)]).await;
    let store = open_store(tmp.path(), u64::MAX);
    let (downloader, _events) = downloader(&store, &server, fast_config());

    let err = downloader
        .fetch(request("short"), CancelToken::new())
        .await
        .unwrap_err();
    match &err {
        DownloadError::LengthMismatch {
            announced,
            received,
            ..
        } => {
            assert_eq!(*announced, claimed);
            assert_eq!(*received, bytes.len() as u64);
        }
        other => panic!("expected a length mismatch, got {other:?}"),
    }
    let meta = store.recording("short").unwrap().unwrap();
    assert_eq!(meta.status, RecordingStatus::NeedsRefetch);
    assert!(!meta.is_complete());
}

#[tokio::test]
async fn content_that_is_not_audio_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start(b"<html>login</html>".to_vec(), vec![]).await;
    *server.state.content_type.lock().unwrap() = "text/html; charset=utf-8".to_owned();
    let store = open_store(tmp.path(), u64::MAX);
    let (downloader, _events) = downloader(&store, &server, fast_config());
    let err = downloader
        .fetch(request("html"), CancelToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, DownloadError::NotAudio { .. }), "{err:?}");
    assert_eq!(store.stored_bytes("html").unwrap(), 0);
}

#[tokio::test]
async fn repeated_server_errors_give_up_after_the_configured_retries() {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start(content(100), vec![Step::ServerError; 10]).await;
    let store = open_store(tmp.path(), u64::MAX);
    let (downloader, _events) = downloader(&store, &server, fast_config());
    let err = downloader
        .fetch(request("down"), CancelToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, DownloadError::TooManyFailures { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(server.ranges().len(), 4);

    // The next fetch of the same recording works once the server recovers.
    server.state.script.lock().unwrap().clear();
    let report = downloader
        .fetch(request("down"), CancelToken::new())
        .await
        .unwrap();
    assert_eq!(report.meta.length, Some(100));
}

#[tokio::test]
async fn a_refusal_is_final_and_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start(content(100), vec![Step::Forbidden]).await;
    let store = open_store(tmp.path(), u64::MAX);
    let (downloader, _events) = downloader(&store, &server, fast_config());
    let err = downloader
        .fetch(request("nope"), CancelToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, DownloadError::Refused { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("HTTP 403 CMN-401"), "{message}");
    assert!(
        message.contains("permission ReadCallRecording"),
        "{message}"
    );
    assert_eq!(server.ranges().len(), 1, "a refusal is not retried");
}

/// Counts how often the platform rejected a token.
#[derive(Default)]
struct CountingToken {
    rejected: AtomicUsize,
}

impl TokenProvider for CountingToken {
    type Token = String;

    async fn token(&self) -> Result<String, String> {
        Ok(format!("Bearer {TOKEN}"))
    }

    fn authorization(token: &String) -> &str {
        token
    }

    async fn rejected(&self, _token: &String) {
        self.rejected.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_401_asks_the_token_provider_to_refresh_and_retries_once() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = content(CHUNK);
    let server = TestServer::start(bytes.clone(), vec![Step::Unauthorized]).await;
    let store = open_store(tmp.path(), u64::MAX);
    let tokens = Arc::new(CountingToken::default());
    let source = ReqwestSource::new(&server.base_url, Arc::clone(&tokens)).unwrap();
    let downloader = Downloader::new(store.clone(), source, fast_config());
    downloader
        .fetch(request("auth"), CancelToken::new())
        .await
        .unwrap();
    assert_eq!(tokens.rejected.load(Ordering::SeqCst), 1);
    assert_exports_identical(&store, tmp.path(), "auth", &bytes);
}

#[tokio::test]
async fn downloads_are_cancellable_and_duplicates_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = content(6 * CHUNK);
    let server = TestServer::start(bytes, vec![Step::PauseAfter(CHUNK + 10)]).await;
    let store = open_store(tmp.path(), u64::MAX);
    let (downloader, mut events) = downloader(&store, &server, fast_config());

    let handle = downloader.start(request("c")).unwrap();
    wait_for_event(
        &mut events,
        "c",
        |u| matches!(u, DownloadUpdate::Progress(p) if p.bytes >= CHUNK as u64),
    )
    .await;
    let duplicate = downloader.start(request("c")).err().unwrap();
    assert!(matches!(duplicate, DownloadError::AlreadyRunning { .. }));
    assert_eq!(downloader.active(), vec!["c".to_owned()]);

    assert!(downloader.cancel("c"));
    let result = tokio::time::timeout(PATIENCE, handle.task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(result, Err(DownloadError::Cancelled { .. })),
        "{result:?}"
    );
    wait_for_event(&mut events, "c", |u| *u == DownloadUpdate::Cancelled).await;
    assert!(downloader.active().is_empty());
    assert!(!downloader.cancel("c"));
    assert_eq!(
        store.recording("c").unwrap().unwrap().status,
        RecordingStatus::Partial
    );
}

#[tokio::test]
async fn concurrent_downloads_are_bounded_by_the_slot_count() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = content(3 * CHUNK);
    let server = TestServer::start(bytes.clone(), vec![Step::PauseAfter(CHUNK)]).await;
    let store = open_store(tmp.path(), u64::MAX);
    let config = DownloadConfig {
        max_concurrent: 1,
        ..fast_config()
    };
    let (downloader, mut events) = downloader(&store, &server, config);

    let first = downloader.start(request("one")).unwrap();
    wait_for_event(&mut events, "one", |u| {
        matches!(u, DownloadUpdate::Progress(_))
    })
    .await;
    let second = downloader.start(request("two")).unwrap();
    wait_for_event(&mut events, "two", |u| *u == DownloadUpdate::Queued).await;
    server.state.release.notify_one();

    for handle in [first, second] {
        let report = tokio::time::timeout(PATIENCE, handle.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(
            report.meta.sha256.as_deref(),
            Some(sha256_hex(&bytes).as_str())
        );
    }
    assert_eq!(server.state.max_in_flight.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_download_waiting_for_its_recording_does_not_hold_a_slot() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = content(2 * CHUNK);
    let server = TestServer::start(bytes.clone(), vec![]).await;
    server
        .state
        .script_for_id
        .lock()
        .unwrap()
        .insert("late".to_owned(), vec![Step::NotFound; 10_000].into());
    let store = open_store(tmp.path(), u64::MAX);
    let config = DownloadConfig {
        max_concurrent: 1,
        // Far longer than PATIENCE: were the slot held while waiting, "ready" would time out.
        availability_backoff: Backoff {
            initial: Duration::from_secs(600),
            max: Duration::from_secs(600),
        },
        ..fast_config()
    };
    let (downloader, mut events) = downloader(&store, &server, config);

    let late = downloader.start(request("late")).unwrap();
    wait_for_event(&mut events, "late", |u| {
        matches!(
            u,
            DownloadUpdate::Waiting {
                reason: WaitReason::NotYetAvailable,
                ..
            }
        )
    })
    .await;
    let report = tokio::time::timeout(
        PATIENCE,
        downloader.fetch(request("ready"), CancelToken::new()),
    )
    .await
    .expect("the ready recording is not blocked by the waiting one")
    .unwrap();
    assert_eq!(
        report.meta.sha256.as_deref(),
        Some(sha256_hex(&bytes).as_str())
    );

    late.cancel.cancel();
    let result = tokio::time::timeout(PATIENCE, late.task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(result, Err(DownloadError::Cancelled { .. })),
        "{result:?}"
    );
}

/// The real pieces together: the embedded simulator's recording endpoint, the platform client's
/// sign-in as the token provider, and the store.
#[tokio::test]
async fn a_recording_from_the_simulator_is_stored_byte_identical() {
    use callboard::rc::auth::{Credentials, Secret};
    use callboard::rc::rest::{RestClient, RestConfig};
    use callboard::sim::{SimConfig, Simulator};

    let mut sim_config = SimConfig::for_tests(7);
    sim_config.world.calls_per_minute = 0.0;
    sim_config.world.outbound_calls_per_minute = 0.0;
    sim_config.world.internal_calls_per_minute = 0.0;
    let sim = Simulator::start(sim_config).await.unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let created: serde_json::Value = http
        .post(format!("{}/_sim/recording", sim.base_url()))
        .json(&serde_json::json!({"bytes": 40 * CHUNK + 321}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let recording_id = created["id"].as_str().unwrap().to_owned();

    let sim_credentials = sim.credentials();
    let credentials = Credentials::new(
        sim.base_url(),
        sim_credentials.client_id.clone(),
        Secret::new(sim_credentials.client_secret.clone()),
        Secret::new(sim_credentials.jwt.clone()),
    )
    .unwrap();
    let rest = RestClient::connect(credentials, RestConfig::default()).unwrap();
    let auth = Arc::clone(rest.auth());

    // What a plain authenticated GET of the same URL returns.
    let token = callboard::rc::auth::Auth::access_token(&auth)
        .await
        .unwrap();
    let expected = http
        .get(format!(
            "{}/restapi/v1.0/account/~/recording/{recording_id}/content",
            sim.base_url()
        ))
        .header("Authorization", token.authorization())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    // The simulator rounds to whole audio frames; what matters is many chunks and a short tail.
    assert!(expected.len() > 40 * CHUNK && expected.len() % CHUNK != 0);

    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path(), u64::MAX);
    let source = ReqwestSource::new(sim.base_url(), auth).unwrap();
    let (events, mut updates) = mpsc::channel(1024);
    let downloader = Downloader::with_events(store.clone(), source, fast_config(), events);

    // The Heavy group (recording content) is over its limit for a second: 429 + Retry-After.
    let fault = http
        .post(format!("{}/_sim/fault", sim.base_url()))
        .json(&serde_json::json!({"kind": "rate_limit", "group": "heavy", "seconds": 1}))
        .send()
        .await
        .unwrap();
    assert!(fault.status().is_success(), "{}", fault.status());

    let report = downloader
        .fetch(request(&recording_id), CancelToken::new())
        .await
        .unwrap();
    assert_eq!(
        report.meta.sha256.as_deref(),
        Some(sha256_hex(&expected).as_str())
    );
    assert!(report.requests >= 2, "the 429 was retried");
    assert!(drain(&mut updates).iter().any(|u| matches!(
        u,
        DownloadUpdate::Waiting {
            reason: WaitReason::RateLimited,
            ..
        }
    )));
    let out = tmp.path().join("sim-recording");
    store.export_recording(&recording_id, &out).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), expected);
    sim.shutdown().await;
}
