//! The recording download engine: streams a recording from the platform into the store.
//!
//! * [`RecordingSource`] is where bytes come from. [`ReqwestSource`] fetches
//!   `GET {base}/restapi/v1.0/account/~/recording/{id}/content` with a bearer token from a
//!   [`TokenProvider`] (the REST client's auth plugs in there); tests plug in their own.
//! * [`Downloader`] runs downloads: at most [`DownloadConfig::max_concurrent`] at once, each
//!   cancellable through a [`CancelToken`], reporting [`DownloadEvent`]s over an mpsc channel.
//!
//! One download, start to end:
//! 1. a recording already complete in the store is not fetched again;
//! 2. otherwise the store says how many bytes it holds contiguously ([`Store::stored_prefix`],
//!    whole chunks re-hashed so the final sha256 covers the whole content) and the request
//!    asks `Range: bytes=<that>-`;
//! 3. "not there yet" (404) waits with backoff and says "waiting for the recording"; 429 waits
//!    for `Retry-After`; a cut socket, 5xx or a stall resumes from the last byte received;
//! 4. each received piece goes, without a copy, to two threads per response (`ContentSink`):
//!    one hashes it, the other writes it at its offset in the content file; at most two chunks
//!    of content wait for them, so memory stays flat whatever the size and the network side
//!    never waits on the hash or the disk unless they fall behind. Whole chunks are recorded
//!    in sled after their bytes, up to [`RECORD_BATCH_CHUNKS`] in one transaction, and at once
//!    whenever the data pauses; the store checks its size cap before every chunk;
//! 5. content type (must be audio) and length (must match what the platform announced) are
//!    checked; the metadata record marking the recording complete is written last.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;

use super::recordings::{ContentWriter, FinishedContent};
use super::{CallInfo, RecordingMeta, RecordingStatus, Store, StoreError};
use crate::text::sanitize;

// ---------------------------------------------------------------------------------------------
// The source of recording bytes
// ---------------------------------------------------------------------------------------------

/// A stream of content bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, SourceError>> + Send>>;

/// Where recording content comes from.
pub trait RecordingSource: Send + Sync + 'static {
    /// Opens the content of `recording_id` from byte `from_byte` (a `Range: bytes=<from>-`
    /// request when `from_byte > 0`).
    fn open(
        &self,
        recording_id: &str,
        from_byte: u64,
    ) -> impl Future<Output = Result<SourceResponse, SourceError>> + Send;
}

/// A successful answer from a [`RecordingSource`].
pub struct SourceResponse {
    /// The `Content-Type`, as sent.
    pub content_type: String,
    /// The offset of the first body byte: `from_byte` for a 206, 0 when the server ignored the
    /// range and sent everything (the downloader then skips what it has).
    pub starts_at: u64,
    /// The length of the whole recording, if the server said (Content-Range total, or
    /// Content-Length of a 200).
    pub total_length: Option<u64>,
    pub body: ByteStream,
}

/// Why a [`RecordingSource`] could not deliver. The downloader decides what to retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// 404: the platform has no such recording (yet); recordings appear some time after a call.
    #[error("the platform does not have this recording yet ({detail})")]
    NotYetAvailable { detail: String },
    /// 429: wait `retry_after` (or a default) and try again.
    #[error("rate limited by the platform ({detail})")]
    RateLimited {
        retry_after: Option<Duration>,
        detail: String,
    },
    /// 416: the requested start is past the end. `total_length` from `Content-Range: bytes */N`.
    #[error("the requested range starts past the end of the recording")]
    RangeNotSatisfiable { total_length: Option<u64> },
    /// A cut connection, a 5xx, a timeout: worth retrying from where we are.
    #[error("{detail}")]
    Transient {
        detail: String,
        retry_after: Option<Duration>,
    },
    /// Any other refusal (401 after a token refresh, 403, 400…): retrying will not help.
    #[error("HTTP {status}{}: {detail}", code.as_ref().map(|c| format!(" {c}")).unwrap_or_default())]
    Refused {
        status: u16,
        code: Option<String>,
        detail: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Configuration, requests, events, errors
// ---------------------------------------------------------------------------------------------

/// Exponential backoff: `initial`, doubling per attempt, never above `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The delay before retry number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// How downloads behave. [`Default`] suits the real platform; tests shrink the delays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadConfig {
    /// Downloads talking to the platform at once; more wait their turn (reported as
    /// [`DownloadUpdate::Queued`]). A download waiting out a 404 or a 429 frees its slot.
    pub max_concurrent: usize,
    /// Polling while the platform answers 404. The recording content endpoint is in the Heavy
    /// rate-limit group (10 requests a minute), so the default starts at 6 s.
    pub availability_backoff: Backoff,
    /// Give up waiting for a recording to appear after this long.
    pub availability_timeout: Duration,
    /// Retrying after a cut connection, a 5xx or a stall.
    pub transient_backoff: Backoff,
    /// Consecutive transient failures without a byte of progress before giving up.
    pub max_transient_failures: u32,
    /// Wait after a 429 without `Retry-After`.
    pub default_retry_after: Duration,
    /// A `Retry-After` longer than this is cut to it (a broken header must not park a download
    /// for a day).
    pub max_retry_after: Duration,
    /// Consecutive 429s before giving up.
    pub max_rate_limit_waits: u32,
    /// No byte for this long counts as a cut connection.
    pub stall_timeout: Duration,
    /// Progress events at most this often.
    pub progress_interval: Duration,
}

impl Default for DownloadConfig {
    fn default() -> Self {
        DownloadConfig {
            max_concurrent: 2,
            availability_backoff: Backoff {
                initial: Duration::from_secs(6),
                max: Duration::from_secs(60),
            },
            availability_timeout: Duration::from_secs(15 * 60),
            transient_backoff: Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(30),
            },
            max_transient_failures: 6,
            default_retry_after: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(10 * 60),
            max_rate_limit_waits: 10,
            stall_timeout: Duration::from_secs(30),
            progress_interval: Duration::from_millis(250),
        }
    }
}

/// What to download, and what the board knows about its call (shown in the Recordings view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadRequest {
    pub recording_id: String,
    pub call: CallInfo,
}

/// One report about one download.
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadEvent {
    pub recording_id: String,
    pub update: DownloadUpdate,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum DownloadUpdate {
    /// Waiting for a free download slot.
    Queued,
    /// A request is going out; `from_byte` > 0 means it resumes.
    Requesting {
        from_byte: u64,
    },
    /// Not downloading for now; trying again in `retry_in`.
    Waiting {
        reason: WaitReason,
        retry_in: Duration,
    },
    Progress(Progress),
    /// Stored and complete. `already_stored`: nothing was fetched.
    Finished {
        meta: Box<RecordingMeta>,
        already_stored: bool,
    },
    /// Stopped; the text says why and what to do.
    Failed {
        error: String,
    },
    Cancelled,
}

/// Why a download is waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitReason {
    /// The platform has not made the recording available yet ("waiting for the recording").
    NotYetAvailable,
    /// The platform asked us to slow down.
    RateLimited,
    /// The client's own rate limiter holds the request back (the group's quota is used up, or
    /// a 429 paused the whole group); the platform has not refused anything.
    Paced,
    /// The connection broke; the download resumes where it stopped.
    ConnectionLost { detail: String },
}

/// Progress of one download.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Bytes of the recording received so far (including what was stored before a resume).
    pub bytes: u64,
    /// The recording's total length, once known.
    pub total: Option<u64>,
    /// Recent transfer rate.
    pub bytes_per_second: f64,
    /// Time left at the recent rate, when the total is known and data is flowing.
    pub eta: Option<Duration>,
}

/// How a finished download went (for the CLI, benches and tests).
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadReport {
    pub meta: RecordingMeta,
    /// True when the recording was already complete and nothing was fetched.
    pub already_stored: bool,
    /// Bytes found in the store when the download began (a resume).
    pub resumed_from: u64,
    /// Requests sent to the source.
    pub requests: u32,
    /// Times the download restarted from byte 0 because the stored part no longer matched.
    pub restarts: u32,
    /// The most content bytes received and waiting for the writer at once: never more than two
    /// chunks.
    pub peak_buffered_bytes: usize,
}

/// Why a download stopped, each saying what to do next.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("recording {recording_id} is already being downloaded")]
    AlreadyRunning { recording_id: String },

    #[error("download of recording {recording_id} was cancelled; fetch it again to resume")]
    Cancelled { recording_id: String },

    #[error(
        "the platform still has no recording {recording_id} after waiting {waited_seconds} s; recordings can take a few minutes to appear after a call — try again later"
    )]
    NotAvailable {
        recording_id: String,
        waited_seconds: u64,
    },

    #[error(
        "the platform kept rate-limiting the download of recording {recording_id} ({waits} waits in a row); try again in a few minutes"
    )]
    RateLimited { recording_id: String, waits: u32 },

    #[error(
        "download of recording {recording_id} failed {attempts} times in a row without progress (last: {last}); check the network and fetch again — it resumes where it stopped"
    )]
    TooManyFailures {
        recording_id: String,
        attempts: u32,
        last: String,
    },

    #[error(
        "the platform refused recording {recording_id}: {source}; {}",
        refusal_hint(source)
    )]
    Refused {
        recording_id: String,
        source: SourceError,
    },

    #[error(
        "recording {recording_id} came as '{content_type}', not audio; the platform answered with something else — check the server URL in the config"
    )]
    NotAudio {
        recording_id: String,
        content_type: String,
    },

    #[error(
        "recording {recording_id}: the platform announced {announced} bytes but sent {received}; it has been marked for refetch — fetch it again to start over"
    )]
    LengthMismatch {
        recording_id: String,
        announced: u64,
        received: u64,
    },

    #[error("could not store recording {recording_id}: {source}")]
    Store {
        recording_id: String,
        source: StoreError,
    },
}

/// What to do about a refusal, in words.
fn refusal_hint(error: &SourceError) -> &'static str {
    match error {
        SourceError::Refused { status: 401, .. } => {
            "sign-in failed: check the credentials in the config (RC_JWT, RC_CLIENT_ID)"
        }
        SourceError::Refused { status: 403, .. } => {
            "the app or this user may not read call recordings (permission ReadCallRecording)"
        }
        _ => "retrying will not help; check the recording id",
    }
}

// ---------------------------------------------------------------------------------------------
// Cancellation
// ---------------------------------------------------------------------------------------------

/// Cancels one download. Clones share the state; cancelling is permanent.
#[derive(Debug, Clone)]
pub struct CancelToken {
    state: Arc<watch::Sender<bool>>,
}

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken::new()
    }
}

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken {
            state: Arc::new(watch::Sender::new(false)),
        }
    }

    pub fn cancel(&self) {
        self.state.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.state.borrow()
    }

    /// Completes once [`CancelToken::cancel`] has been called.
    pub async fn cancelled(&self) {
        let mut changes = self.state.subscribe();
        // The sender lives in `self`, so `wait_for` can only end by seeing `true`.
        let _ = changes.wait_for(|cancelled| *cancelled).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The downloader
// ---------------------------------------------------------------------------------------------

/// Runs recording downloads into a [`Store`]. Clone it freely; clones share slots and state.
pub struct Downloader<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for Downloader<S> {
    fn clone(&self) -> Self {
        Downloader {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<S> {
    store: Store,
    /// The store's chunk size: one download holds at most two chunks of content in memory.
    chunk_bytes: usize,
    source: S,
    config: DownloadConfig,
    slots: Semaphore,
    events: Option<mpsc::Sender<DownloadEvent>>,
    /// Downloads queued or running, by recording id.
    active: Mutex<HashMap<String, CancelToken>>,
}

/// A download running in its own task.
pub struct DownloadHandle {
    pub recording_id: String,
    pub cancel: CancelToken,
    pub task: tokio::task::JoinHandle<Result<DownloadReport, DownloadError>>,
}

/// Removes a download from the active set when it ends, however it ends.
struct ActiveGuard<'a> {
    active: &'a Mutex<HashMap<String, CancelToken>>,
    recording_id: String,
}

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        lock(self.active).remove(&self.recording_id);
    }
}

/// The active-set lock. Nothing panics while holding it, but a poisoned map is still correct.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<S: RecordingSource> Downloader<S> {
    /// A downloader storing into `store`, fetching from `source`. Events go nowhere until
    /// [`Downloader::with_events`] is called.
    pub fn new(store: Store, source: S, config: DownloadConfig) -> Downloader<S> {
        Downloader::build(store, source, config, None)
    }

    /// The same, reporting [`DownloadEvent`]s to `events`. The receiver must be drained:
    /// progress is dropped when the channel is full, but final events wait for room.
    pub fn with_events(
        store: Store,
        source: S,
        config: DownloadConfig,
        events: mpsc::Sender<DownloadEvent>,
    ) -> Downloader<S> {
        Downloader::build(store, source, config, Some(events))
    }

    fn build(
        store: Store,
        source: S,
        config: DownloadConfig,
        events: Option<mpsc::Sender<DownloadEvent>>,
    ) -> Downloader<S> {
        let config = DownloadConfig {
            max_concurrent: config.max_concurrent.max(1),
            ..config
        };
        Downloader {
            inner: Arc::new(Inner {
                slots: Semaphore::new(config.max_concurrent),
                chunk_bytes: store.config().chunk_bytes,
                store,
                source,
                config,
                events,
                active: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Starts a download in its own task (the TUI's way). Refused if that recording is already
    /// being downloaded.
    pub fn start(&self, request: DownloadRequest) -> Result<DownloadHandle, DownloadError> {
        let cancel = CancelToken::new();
        self.register(&request.recording_id, &cancel)?;
        let downloader = self.clone();
        let recording_id = request.recording_id.clone();
        let task_cancel = cancel.clone();
        let task =
            tokio::spawn(async move { downloader.run_registered(request, task_cancel).await });
        Ok(DownloadHandle {
            recording_id,
            cancel,
            task,
        })
    }

    /// Runs one download to its end in the calling task (the CLI's way).
    pub async fn fetch(
        &self,
        request: DownloadRequest,
        cancel: CancelToken,
    ) -> Result<DownloadReport, DownloadError> {
        self.register(&request.recording_id, &cancel)?;
        self.run_registered(request, cancel).await
    }

    /// Cancels the download of `recording_id`; false if none is running.
    pub fn cancel(&self, recording_id: &str) -> bool {
        match lock(&self.inner.active).get(recording_id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Ids of the downloads queued or running now.
    pub fn active(&self) -> Vec<String> {
        lock(&self.inner.active).keys().cloned().collect()
    }

    fn register(&self, recording_id: &str, cancel: &CancelToken) -> Result<(), DownloadError> {
        // Ids end up in messages and file names: refuse a hostile one before it goes anywhere.
        super::check_recording_id(recording_id).map_err(|source| DownloadError::Store {
            recording_id: sanitize(recording_id).into_owned(),
            source,
        })?;
        let mut active = lock(&self.inner.active);
        if active.contains_key(recording_id) {
            return Err(DownloadError::AlreadyRunning {
                recording_id: recording_id.to_owned(),
            });
        }
        active.insert(recording_id.to_owned(), cancel.clone());
        Ok(())
    }

    async fn run_registered(
        &self,
        request: DownloadRequest,
        cancel: CancelToken,
    ) -> Result<DownloadReport, DownloadError> {
        let _guard = ActiveGuard {
            active: &self.inner.active,
            recording_id: request.recording_id.clone(),
        };
        let recording_id = request.recording_id.clone();
        let result = self.run(request, &cancel).await;
        let update = match &result {
            Ok(report) => DownloadUpdate::Finished {
                meta: Box::new(report.meta.clone()),
                already_stored: report.already_stored,
            },
            Err(DownloadError::Cancelled { .. }) => DownloadUpdate::Cancelled,
            Err(e) => DownloadUpdate::Failed {
                error: e.to_string(),
            },
        };
        if let Some(events) = &self.inner.events {
            // The receiver may be gone (the app is quitting); the result is returned anyway.
            let _ = events
                .send(DownloadEvent {
                    recording_id,
                    update,
                })
                .await;
        }
        result
    }

    async fn run(
        &self,
        request: DownloadRequest,
        cancel: &CancelToken,
    ) -> Result<DownloadReport, DownloadError> {
        let id = request.recording_id.as_str();
        let store_error = |source| DownloadError::Store {
            recording_id: id.to_owned(),
            source,
        };
        let existing = self.inner.store.recording(id).map_err(store_error)?;
        match existing {
            Some(meta) if meta.is_complete() => {
                return Ok(DownloadReport {
                    meta,
                    already_stored: true,
                    resumed_from: 0,
                    requests: 0,
                    restarts: 0,
                    peak_buffered_bytes: 0,
                });
            }
            Some(meta) if meta.status == RecordingStatus::NeedsRefetch => {
                let id = id.to_owned();
                on_store(&self.inner.store, move |store| store.restart_recording(&id))
                    .await
                    .map_err(store_error)?;
            }
            _ => {}
        }
        let meta = self
            .inner
            .store
            .begin_recording(id, request.call, Utc::now())
            .map_err(store_error)?;
        let chunk_bytes = self.inner.chunk_bytes;
        let prefix = on_store(&self.inner.store, {
            let id = id.to_owned();
            move |store| store.stored_prefix(&id, chunk_bytes)
        })
        .await
        .map_err(store_error)?;

        // The stored tail (a short last chunk) is already in the content file at its offset;
        // it only has to join the hash, which then covers exactly the bytes before `position`.
        let mut hasher = prefix.sha256;
        hasher.update(&prefix.tail);
        let mut transfer = Transfer {
            recording_id: id.to_owned(),
            position: prefix.bytes,
            hasher: Some(hasher),
            content_type: meta.content_type.clone(),
            total_length: meta.length,
            peak_buffered: 0,
        };
        let resumed_from = transfer.position;
        let mut report = DownloadReport {
            meta: meta.clone(),
            already_stored: false,
            resumed_from,
            requests: 0,
            restarts: 0,
            peak_buffered_bytes: 0,
        };
        let meta = self.transfer(&mut transfer, &mut report, cancel).await?;
        report.meta = meta;
        report.peak_buffered_bytes = transfer.peak_buffered;
        Ok(report)
    }

    /// The request/retry loop of one download.
    async fn transfer(
        &self,
        transfer: &mut Transfer,
        report: &mut DownloadReport,
        cancel: &CancelToken,
    ) -> Result<RecordingMeta, DownloadError> {
        let config = &self.inner.config;
        let id = transfer.recording_id.clone();
        let started_waiting = Instant::now();
        let mut availability_attempts = 0u32;
        let mut rate_limit_waits = 0u32;
        let mut transient_failures = 0u32;

        loop {
            if cancel.is_cancelled() {
                return Err(cancelled(&id));
            }
            // A slot is held only while talking to the platform: a download waiting for its
            // recording to appear, or for a rate limit, does not keep others from running.
            let slot = self.take_slot(&id, cancel).await?;
            self.notify(
                &id,
                DownloadUpdate::Requesting {
                    from_byte: transfer.position,
                },
            );
            report.requests += 1;
            let opened = tokio::select! {
                _ = cancel.cancelled() => return Err(cancelled(&id)),
                opened = self.inner.source.open(&id, transfer.position) => opened,
            };
            let failure = match opened {
                Ok(response) => {
                    rate_limit_waits = 0;
                    match self.receive(transfer, report, response, cancel).await? {
                        Received::Complete => return self.finish(transfer).await,
                        Received::Restarted => continue,
                        Received::Interrupted {
                            detail,
                            made_progress,
                        } => {
                            if made_progress {
                                transient_failures = 0;
                            }
                            SourceError::Transient {
                                detail,
                                retry_after: None,
                            }
                        }
                    }
                }
                Err(e) => e,
            };
            drop(slot);

            let (reason, retry_in) = match failure {
                SourceError::NotYetAvailable { .. } => {
                    availability_attempts += 1;
                    let waited = started_waiting.elapsed();
                    if waited >= config.availability_timeout {
                        return Err(DownloadError::NotAvailable {
                            recording_id: id,
                            waited_seconds: waited.as_secs(),
                        });
                    }
                    (
                        WaitReason::NotYetAvailable,
                        config.availability_backoff.delay(availability_attempts),
                    )
                }
                SourceError::RateLimited { retry_after, .. } => {
                    rate_limit_waits += 1;
                    if rate_limit_waits > config.max_rate_limit_waits {
                        return Err(DownloadError::RateLimited {
                            recording_id: id,
                            waits: rate_limit_waits - 1,
                        });
                    }
                    let wait = retry_after
                        .unwrap_or(config.default_retry_after)
                        .min(config.max_retry_after);
                    (WaitReason::RateLimited, wait)
                }
                SourceError::RangeNotSatisfiable { total_length } => {
                    if transfer.position == 0 {
                        return Err(DownloadError::Refused {
                            recording_id: id,
                            source: SourceError::RangeNotSatisfiable { total_length },
                        });
                    }
                    let known_total = total_length.or(transfer.total_length);
                    if known_total == Some(transfer.position) {
                        // Everything was already received before the connection dropped.
                        return self.finish(transfer).await;
                    }
                    if let (Some(announced), Some(actual)) = (transfer.total_length, total_length)
                        && announced != actual
                    {
                        return Err(self.length_mismatch(transfer, announced, actual).await);
                    }
                    self.restart(transfer, report).await?;
                    continue;
                }
                SourceError::Transient {
                    detail,
                    retry_after,
                } => {
                    transient_failures += 1;
                    if transient_failures > config.max_transient_failures {
                        return Err(DownloadError::TooManyFailures {
                            recording_id: id,
                            attempts: transient_failures - 1,
                            last: detail,
                        });
                    }
                    let backoff = config.transient_backoff.delay(transient_failures);
                    let wait =
                        retry_after.map_or(backoff, |r| r.min(config.max_retry_after).max(backoff));
                    (WaitReason::ConnectionLost { detail }, wait)
                }
                refused @ SourceError::Refused { .. } => {
                    return Err(DownloadError::Refused {
                        recording_id: id,
                        source: refused,
                    });
                }
            };
            self.notify(&id, DownloadUpdate::Waiting { reason, retry_in });
            tokio::select! {
                _ = cancel.cancelled() => return Err(cancelled(&id)),
                _ = tokio::time::sleep(retry_in) => {}
            }
        }
    }

    /// Waits for a free download slot, saying so when none is free.
    async fn take_slot(
        &self,
        recording_id: &str,
        cancel: &CancelToken,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, DownloadError> {
        if self.inner.slots.available_permits() == 0 {
            self.notify(recording_id, DownloadUpdate::Queued);
        }
        tokio::select! {
            _ = cancel.cancelled() => Err(cancelled(recording_id)),
            // The semaphore is never closed, so an error cannot happen; treat it as a cancel.
            slot = self.inner.slots.acquire() => slot.map_err(|_| cancelled(recording_id)),
        }
    }

    /// Reads one response body into the store.
    async fn receive(
        &self,
        transfer: &mut Transfer,
        report: &mut DownloadReport,
        response: SourceResponse,
        cancel: &CancelToken,
    ) -> Result<Received, DownloadError> {
        let id = transfer.recording_id.clone();
        let content_type = media_type(&response.content_type);
        if !content_type.starts_with("audio/") {
            return Err(DownloadError::NotAudio {
                recording_id: id,
                content_type: sanitize(&response.content_type).into_owned(),
            });
        }
        if response.starts_at > transfer.position {
            return Err(DownloadError::Refused {
                recording_id: id,
                source: SourceError::Refused {
                    status: 206,
                    code: None,
                    detail: format!(
                        "content starts at byte {} but byte {} was asked for",
                        response.starts_at, transfer.position
                    ),
                },
            });
        }
        let changed = transfer
            .content_type
            .as_deref()
            .is_some_and(|known| known != content_type)
            || matches!((transfer.total_length, response.total_length),
                (Some(known), Some(now)) if known != now);
        if changed && transfer.position > 0 {
            // The stored part belongs to other content: start over (at most once).
            self.restart(transfer, report).await?;
            return Ok(Received::Restarted);
        }
        if transfer.content_type.as_deref() != Some(content_type.as_str())
            || transfer.total_length != response.total_length
        {
            transfer.content_type = Some(content_type.clone());
            transfer.total_length = response.total_length.or(transfer.total_length);
            let store = self.inner.store.clone();
            let total = transfer.total_length;
            let id = id.clone();
            on_store(&store, move |store| {
                store.note_recording_source(&id, &content_type, total)
            })
            .await
            .map_err(|source| DownloadError::Store {
                recording_id: transfer.recording_id.clone(),
                source,
            })?;
        }

        let skip = transfer.position - response.starts_at;
        let sink = ContentSink::start(
            self.inner.store.clone(),
            id.clone(),
            self.inner.chunk_bytes,
            transfer.position,
            transfer.total_length,
            self.take_hasher(transfer)?,
        );
        let (pumped, sink) = self.pump(transfer, sink, response.body, skip, cancel).await;
        // The writer is always waited for, so every byte handed to it is written and every
        // whole chunk recorded before anything else happens to this recording. Its failure
        // (the cap, a full disk) is the reason a download stopped, whatever the network did.
        transfer.hasher = Some(sink.close().await.map_err(|source| DownloadError::Store {
            recording_id: id.clone(),
            source,
        })?);
        match pumped? {
            Pumped::Ended(received) => Ok(received),
            Pumped::Overran {
                announced,
                received,
            } => Err(self.length_mismatch(transfer, announced, received).await),
            Pumped::WriterStopped => Err(DownloadError::Store {
                recording_id: id,
                source: StoreError::Other {
                    dir: self.inner.store.dir().to_path_buf(),
                    detail: "the recording writer stopped without an error".to_owned(),
                },
            }),
        }
    }

    /// Moves one response body into `sink`, piece by piece, until it ends, breaks or stalls.
    /// Hands the sink back so the caller can wait for it whatever happened here.
    async fn pump(
        &self,
        transfer: &mut Transfer,
        mut sink: ContentSink,
        mut body: ByteStream,
        mut skip: u64,
        cancel: &CancelToken,
    ) -> (Result<Pumped, DownloadError>, ContentSink) {
        let config = &self.inner.config;
        let id = transfer.recording_id.as_str();
        let chunk_bytes = self.inner.chunk_bytes as u64;
        let mut meter = RateMeter::new(Instant::now(), transfer.position);
        let mut last_progress: Option<Instant> = None;
        let mut made_progress = false;
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => return (Err(cancelled(id)), sink),
                next = tokio::time::timeout(config.stall_timeout, body.next()) => next,
            };
            let mut bytes = match next {
                Ok(Some(Ok(bytes))) => bytes,
                Ok(Some(Err(e))) => {
                    let interrupted = Received::Interrupted {
                        detail: e.to_string(),
                        made_progress,
                    };
                    return (Ok(Pumped::Ended(interrupted)), sink);
                }
                Ok(None) => break,
                Err(_) => {
                    let interrupted = Received::Interrupted {
                        detail: format!(
                            "no data for {} s; the connection looks dead",
                            config.stall_timeout.as_secs()
                        ),
                        made_progress,
                    };
                    return (Ok(Pumped::Ended(interrupted)), sink);
                }
            };
            if skip > 0 {
                let dropped = skip.min(bytes.len() as u64);
                let _ = bytes.split_to(dropped as usize);
                skip -= dropped;
            }
            if bytes.is_empty() {
                continue;
            }
            if let Some(total) = transfer.total_length
                && transfer.position + bytes.len() as u64 > total
            {
                let overran = Pumped::Overran {
                    announced: total,
                    received: transfer.position + bytes.len() as u64,
                };
                return (Ok(overran), sink);
            }
            // Split at chunk boundaries (no copy: `Bytes` slices share the received buffer),
            // so the writer sees each chunk begin and end, and no part is over a chunk.
            while !bytes.is_empty() {
                let room_in_chunk = chunk_bytes - transfer.position % chunk_bytes;
                let part = bytes.split_to(bytes.len().min(room_in_chunk as usize));
                let part_len = part.len() as u64;
                match sink.send(part).await {
                    Some(waiting) => transfer.peak_buffered = transfer.peak_buffered.max(waiting),
                    None => return (Ok(Pumped::WriterStopped), sink),
                }
                transfer.position += part_len;
            }
            made_progress = true;

            let now = Instant::now();
            meter.record(now, transfer.position);
            if last_progress.is_none_or(|at| now.duration_since(at) >= config.progress_interval) {
                last_progress = Some(now);
                self.notify(id, DownloadUpdate::Progress(transfer.progress(&meter)));
            }
        }
        let ended = match transfer.total_length {
            Some(total) if transfer.position < total => Received::Interrupted {
                detail: format!(
                    "the connection closed after {} of {total} bytes",
                    transfer.position
                ),
                made_progress,
            },
            _ => {
                self.notify(id, DownloadUpdate::Progress(transfer.progress(&meter)));
                Received::Complete
            }
        };
        (Ok(Pumped::Ended(ended)), sink)
    }

    /// The hash state of the bytes before `position`. It is missing only after the writer
    /// failed, which ends the download; asking again is a bug reported as a store failure
    /// rather than a wrong sha256.
    fn take_hasher(&self, transfer: &mut Transfer) -> Result<Sha256, DownloadError> {
        transfer.hasher.take().ok_or_else(|| DownloadError::Store {
            recording_id: transfer.recording_id.clone(),
            source: StoreError::Other {
                dir: self.inner.store.dir().to_path_buf(),
                detail: "the content hash was lost with a failed write".to_owned(),
            },
        })
    }

    /// Records the last, short chunk (its bytes are already written) and writes the complete
    /// record (last).
    async fn finish(&self, transfer: &mut Transfer) -> Result<RecordingMeta, DownloadError> {
        if let Some(total) = transfer.total_length
            && total != transfer.position
        {
            return Err(self
                .length_mismatch(transfer, total, transfer.position)
                .await);
        }
        let chunk_bytes = self.inner.chunk_bytes as u64;
        let length = transfer.position;
        let content = FinishedContent {
            length,
            chunk_count: length.div_ceil(chunk_bytes),
            sha256_hex: hex::encode(self.take_hasher(transfer)?.finalize()),
        };
        let tail = (length % chunk_bytes) as usize;
        let id = transfer.recording_id.clone();
        on_store(&self.inner.store, move |store| {
            if tail > 0 {
                let mut writer = store.content_writer(&id)?;
                writer.chunk_written(length / chunk_bytes, tail);
                writer.record()?;
            }
            store.finish_recording(&id, content, Utc::now())
        })
        .await
        .map_err(|source| DownloadError::Store {
            recording_id: transfer.recording_id.clone(),
            source,
        })
    }

    /// Drops everything received and stored, to start again from byte 0 (at most once).
    async fn restart(
        &self,
        transfer: &mut Transfer,
        report: &mut DownloadReport,
    ) -> Result<(), DownloadError> {
        if report.restarts > 0 {
            let announced = transfer.total_length.unwrap_or(0);
            return Err(self
                .length_mismatch(transfer, announced, transfer.position)
                .await);
        }
        report.restarts += 1;
        let id = transfer.recording_id.clone();
        on_store(&self.inner.store, move |store| store.restart_recording(&id))
            .await
            .map_err(|source| DownloadError::Store {
                recording_id: transfer.recording_id.clone(),
                source,
            })?;
        transfer.position = 0;
        transfer.hasher = Some(Sha256::new());
        transfer.content_type = None;
        transfer.total_length = None;
        Ok(())
    }

    /// Marks the recording for refetch and builds the error.
    async fn length_mismatch(
        &self,
        transfer: &Transfer,
        announced: u64,
        received: u64,
    ) -> DownloadError {
        let id = transfer.recording_id.clone();
        let reason = format!("the platform announced {announced} bytes but sent {received}");
        let marked = on_store(&self.inner.store, move |store| {
            store.mark_for_refetch(&id, &reason)
        })
        .await;
        match marked {
            Ok(()) => DownloadError::LengthMismatch {
                recording_id: transfer.recording_id.clone(),
                announced,
                received,
            },
            Err(source) => DownloadError::Store {
                recording_id: transfer.recording_id.clone(),
                source,
            },
        }
    }

    /// Sends a non-final event; dropped when the channel is full (a newer one follows soon).
    fn notify(&self, recording_id: &str, update: DownloadUpdate) {
        if let Some(events) = &self.inner.events {
            let _ = events.try_send(DownloadEvent {
                recording_id: recording_id.to_owned(),
                update,
            });
        }
    }
}

/// How reading one response ended.
enum Received {
    /// Every byte is in (or the total was unknown and the body ended cleanly).
    Complete,
    /// The body stopped early; resume from `Transfer::position`.
    Interrupted { detail: String, made_progress: bool },
    /// The stored part belonged to other content and was dropped; ask again from byte 0.
    Restarted,
}

/// How moving one response body into the writer ended.
enum Pumped {
    Ended(Received),
    /// The platform sent more than it announced.
    Overran {
        announced: u64,
        received: u64,
    },
    /// The writer stopped taking bytes; its own error says why.
    WriterStopped,
}

/// The state of one download between requests.
struct Transfer {
    recording_id: String,
    /// Bytes received so far, all written to the content file once the response's writer is
    /// done; the next request starts here. Chunk `i` is at byte `i × chunk_bytes`, so the
    /// chunk being filled is `position / chunk_bytes`.
    position: u64,
    /// sha256 of the bytes before `position`; lent to the response's writer.
    hasher: Option<Sha256>,
    content_type: Option<String>,
    total_length: Option<u64>,
    peak_buffered: usize,
}

impl Transfer {
    fn progress(&self, meter: &RateMeter) -> Progress {
        let bytes_per_second = meter.bytes_per_second();
        Progress {
            bytes: self.position,
            total: self.total_length,
            bytes_per_second,
            eta: self
                .total_length
                .and_then(|total| eta(total.saturating_sub(self.position), bytes_per_second)),
        }
    }
}

fn cancelled(recording_id: &str) -> DownloadError {
    DownloadError::Cancelled {
        recording_id: recording_id.to_owned(),
    }
}

/// Runs a store call on the blocking pool: sled calls do disk IO and must not stall the runtime.
async fn on_store<T: Send + 'static>(
    store: &Store,
    call: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let handle = store.clone();
    tokio::task::spawn_blocking(move || call(&handle))
        .await
        .map_err(|join_error| StoreError::Other {
            dir: store.dir().to_path_buf(),
            detail: format!("a store task stopped unexpectedly: {join_error}"),
        })?
}

// ---------------------------------------------------------------------------------------------
// The writer: received pieces → sha256 + content file + chunk records
// ---------------------------------------------------------------------------------------------

/// Whole chunks recorded in sled in one transaction while data keeps flowing (4 MiB of 256 KiB
/// chunks). A kill loses at most these records, never bytes that look stored: the resume
/// fetches their bytes again.
pub const RECORD_BATCH_CHUNKS: usize = 16;

/// When no piece arrives for this long, the writer records the whole chunks it has written, so
/// a stalled, cancelled or killed download resumes from everything it wrote.
const RECORD_WHEN_IDLE: Duration = Duration::from_millis(100);

/// Content waiting for the writer, in chunks: the memory bound of one download.
const QUEUED_CHUNKS: usize = 2;

/// One response's writer: two threads on the blocking pool that take the received pieces, in
/// order and each within one chunk. One hashes them; the other writes them at their offset in
/// the content file and records whole chunks ([`ContentWriter`]). The sha256 is sequential and
/// the slowest stage (about 1.7 GB/s on one core here), so it gets a thread to itself and the
/// page-cache copy runs beside it rather than after it. Threads that live for the whole body,
/// rather than a blocking task per chunk: pieces cross by channels, shared, with no copy. At
/// most [`QUEUED_CHUNKS`] chunks of content wait for the slower of the two (a semaphore per
/// thread counts their bytes), so a fast network cannot fill memory.
struct ContentSink {
    hash: Lane<Sha256>,
    write: Lane<Result<(), StoreError>>,
    capacity: usize,
    /// The store's directory, for an error if a thread dies.
    store_dir: PathBuf,
}

/// One of the sink's threads and the way to it.
struct Lane<T> {
    pieces: std::sync::mpsc::Sender<Bytes>,
    /// Byte permits: taken by [`ContentSink::send`], given back by the thread once it is done
    /// with a piece. Closed when the thread stops, so a sender never waits for a dead thread.
    room: Arc<Semaphore>,
    thread: tokio::task::JoinHandle<T>,
}

impl<T: Send + 'static> Lane<T> {
    /// Runs `work` on the blocking pool with the receiving end and the permits to give back.
    fn start(
        capacity: usize,
        work: impl FnOnce(&std::sync::mpsc::Receiver<Bytes>, &Semaphore) -> T + Send + 'static,
    ) -> Lane<T> {
        let room = Arc::new(Semaphore::new(capacity));
        let (pieces, received) = std::sync::mpsc::channel();
        let thread_room = Arc::clone(&room);
        let thread = tokio::task::spawn_blocking(move || {
            // However the thread ends (an error, a panic), waiting senders are released.
            let _close = CloseOnDrop(Arc::clone(&thread_room));
            work(&received, &thread_room)
        });
        Lane {
            pieces,
            room,
            thread,
        }
    }

    /// Takes room for `permits` bytes and queues `part`; `None` if the thread has stopped.
    async fn send(&self, part: Bytes, permits: u32) -> Option<()> {
        self.room.acquire_many(permits).await.ok()?.forget();
        self.pieces.send(part).ok()
    }

    /// Bytes queued and not yet taken care of.
    fn waiting(&self, capacity: usize) -> usize {
        capacity.saturating_sub(self.room.available_permits())
    }
}

impl ContentSink {
    /// Starts the threads for content from byte `position` on, `hasher` holding the sha256 of
    /// the bytes before it.
    fn start(
        store: Store,
        recording_id: String,
        chunk_bytes: usize,
        position: u64,
        total_length: Option<u64>,
        mut hasher: Sha256,
    ) -> ContentSink {
        // Permits are counted in u32 per acquire: keep the capacity (and so every part) below.
        let capacity = chunk_bytes
            .saturating_mul(QUEUED_CHUNKS)
            .min(u32::MAX as usize);
        let store_dir = store.dir().to_path_buf();
        let hash = Lane::start(capacity, move |pieces, room| {
            while let Ok(part) = pieces.recv() {
                hasher.update(&part);
                room.add_permits(permits_for(part.len(), capacity) as usize);
            }
            hasher
        });
        let write = Lane::start(capacity, move |pieces, room| {
            let mut writer = PieceWriter {
                content: store.content_writer(&recording_id)?,
                position,
                chunk_bytes: chunk_bytes as u64,
                total_length,
            };
            writer.run(pieces, room, capacity)
        });
        ContentSink {
            hash,
            write,
            capacity,
            store_dir,
        }
    }

    /// Hands `part` (within one chunk) to both threads, waiting while either queue is full.
    /// Returns the bytes then waiting (for the slower thread), or `None` if the writer has
    /// stopped (its error comes from [`ContentSink::close`]).
    async fn send(&mut self, part: Bytes) -> Option<usize> {
        let permits = permits_for(part.len(), self.capacity);
        // `Bytes` clones share the received buffer: both threads read the same bytes.
        self.hash.send(part.clone(), permits).await?;
        self.write.send(part, permits).await?;
        Some(
            self.hash
                .waiting(self.capacity)
                .max(self.write.waiting(self.capacity)),
        )
    }

    /// Lets both threads finish what they hold (the writer records every whole chunk) and
    /// hands the hash back. A failed write is the error to report.
    async fn close(self) -> Result<Sha256, StoreError> {
        let ContentSink {
            hash,
            write,
            store_dir,
            ..
        } = self;
        drop(hash.pieces);
        drop(write.pieces);
        let (hashed, written) = (hash.thread.await, write.thread.await);
        let stopped = |what: &str, join_error: tokio::task::JoinError| StoreError::Other {
            dir: store_dir.clone(),
            detail: format!("{what} stopped unexpectedly: {join_error}"),
        };
        written.map_err(|e| stopped("the recording writer", e))??;
        hashed.map_err(|e| stopped("the recording hash", e))
    }
}

/// The permits a part of `len` bytes takes; never more than the whole `capacity`, so no
/// acquire can wait forever.
fn permits_for(len: usize, capacity: usize) -> u32 {
    u32::try_from(len.min(capacity)).unwrap_or(u32::MAX)
}

/// Closes a lane's semaphore when its thread ends, however it ends.
struct CloseOnDrop(Arc<Semaphore>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The writing thread's state: where the next byte goes.
struct PieceWriter {
    content: ContentWriter,
    /// The offset of the next byte.
    position: u64,
    chunk_bytes: u64,
    total_length: Option<u64>,
}

impl PieceWriter {
    /// Takes pieces until the sender is dropped, recording whole chunks in batches and
    /// whenever the pieces pause. However it stops, the whole chunks it wrote are recorded
    /// before it returns, so a resume does not fetch them again.
    fn run(
        &mut self,
        pieces: &std::sync::mpsc::Receiver<Bytes>,
        room: &Semaphore,
        capacity: usize,
    ) -> Result<(), StoreError> {
        let taken = self.take_pieces(pieces, room, capacity);
        // After a failure, recording is best effort: the first error is the one to report.
        let recorded = self.content.record();
        taken.and(recorded)
    }

    fn take_pieces(
        &mut self,
        pieces: &std::sync::mpsc::Receiver<Bytes>,
        room: &Semaphore,
        capacity: usize,
    ) -> Result<(), StoreError> {
        use std::sync::mpsc::RecvTimeoutError;
        loop {
            match pieces.recv_timeout(RECORD_WHEN_IDLE) {
                Ok(part) => {
                    self.write(&part)?;
                    room.add_permits(permits_for(part.len(), capacity) as usize);
                    if self.content.unrecorded_chunks() >= RECORD_BATCH_CHUNKS {
                        self.content.record()?;
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.content.record()?,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
    }

    /// Writes one part, which lies within one chunk. The cap is checked as a chunk begins; a
    /// chunk that fills is noted for recording.
    fn write(&mut self, part: &[u8]) -> Result<(), StoreError> {
        let index = self.position / self.chunk_bytes;
        if self.position % self.chunk_bytes == 0 {
            let chunk_len = self.total_length.map_or(self.chunk_bytes, |total| {
                total.saturating_sub(self.position).min(self.chunk_bytes)
            });
            self.content.begin_chunk(index, chunk_len as usize)?;
        }
        self.content.write_at(self.position, part)?;
        self.position += part.len() as u64;
        if self.position % self.chunk_bytes == 0 {
            self.content.chunk_written(index, self.chunk_bytes as usize);
        }
        Ok(())
    }
}

/// `audio/mpeg` from `Audio/MPEG; charset=binary`.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

// ---------------------------------------------------------------------------------------------
// Rate and ETA (pure)
// ---------------------------------------------------------------------------------------------

/// Transfer rate over the last few seconds.
#[derive(Debug, Clone)]
pub struct RateMeter {
    /// (when, total bytes at that time), oldest first, spanning at most `WINDOW`.
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl RateMeter {
    const WINDOW: Duration = Duration::from_secs(5);

    pub fn new(now: Instant, bytes: u64) -> RateMeter {
        RateMeter {
            samples: std::collections::VecDeque::from([(now, bytes)]),
        }
    }

    /// Notes that `bytes` had been received in total at `now`.
    pub fn record(&mut self, now: Instant, bytes: u64) {
        self.samples.push_back((now, bytes));
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|&(at, _)| now.duration_since(at) >= Self::WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// Bytes per second across the window; 0 until time has passed.
    pub fn bytes_per_second(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, b0)), Some(&(t1, b1))) if t1 > t0 => {
                b1.saturating_sub(b0) as f64 / t1.duration_since(t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

/// Time to receive `remaining` bytes at `bytes_per_second`; `None` when the rate is unknown.
pub fn eta(remaining: u64, bytes_per_second: f64) -> Option<Duration> {
    if bytes_per_second <= 0.0 || !bytes_per_second.is_finite() {
        return None;
    }
    Duration::try_from_secs_f64(remaining as f64 / bytes_per_second).ok()
}

// ---------------------------------------------------------------------------------------------
// The HTTP source
// ---------------------------------------------------------------------------------------------

/// Supplies the `Authorization` for platform requests. The platform client's
/// [`crate::rc::auth::Auth`] implements it (in `rc::auth`), so a download shares the monitor's sign-in,
/// refresh and 401 handling; tests plug in their own.
pub trait TokenProvider: Send + Sync + 'static {
    type Token: Send + Sync;

    /// A currently valid token, refreshed by the implementation when near expiry. The error
    /// says, in words, why no token could be had.
    fn token(&self) -> impl Future<Output = Result<Self::Token, String>> + Send;

    /// The `Authorization` header value for `token` (`Bearer …`).
    fn authorization(token: &Self::Token) -> &str;

    /// Called when the platform answered 401 to `token`, before one retry with a fresh
    /// [`TokenProvider::token`]: the place to force a refresh.
    fn rejected(&self, token: &Self::Token) -> impl Future<Output = ()> + Send;
}

/// A fixed token (the simulator's demo sign-in, or tests). `Debug` redacts it.
#[derive(Clone)]
pub struct StaticToken {
    authorization: String,
}

impl StaticToken {
    /// A provider that always answers `Bearer <access_token>`.
    pub fn bearer(access_token: &str) -> StaticToken {
        StaticToken {
            authorization: format!("Bearer {access_token}"),
        }
    }
}

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticToken(***)")
    }
}

impl TokenProvider for StaticToken {
    type Token = String;

    async fn token(&self) -> Result<String, String> {
        Ok(self.authorization.clone())
    }

    fn authorization(token: &String) -> &str {
        token
    }

    /// A fixed token cannot be refreshed; the retry simply fails again.
    async fn rejected(&self, _token: &String) {}
}

impl<T: TokenProvider> TokenProvider for Arc<T> {
    type Token = T::Token;

    fn token(&self) -> impl Future<Output = Result<T::Token, String>> + Send {
        (**self).token()
    }

    fn authorization(token: &T::Token) -> &str {
        T::authorization(token)
    }

    fn rejected(&self, token: &T::Token) -> impl Future<Output = ()> + Send {
        (**self).rejected(token)
    }
}

/// Why a [`ReqwestSource`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SourceSetupError {
    #[error("the recording server URL '{url}' is not valid: {detail}")]
    BadUrl { url: String, detail: String },
    #[error(
        "refusing to send credentials over plain http to {host}; use https (plain http is allowed only for the local simulator on loopback)"
    )]
    InsecureUrl { host: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Fetches recording content over HTTPS from the platform (or http from the loopback simulator).
pub struct ReqwestSource<T> {
    client: reqwest::Client,
    base_url: url::Url,
    tokens: T,
}

/// The most of an error body read to explain a failure.
const ERROR_BODY_LIMIT: usize = 4096;

impl<T: TokenProvider> ReqwestSource<T> {
    /// A source for `base_url` (e.g. `https://media.ringcentral.com`, where the platform serves
    /// recording content, or the simulator's `http://127.0.0.1:PORT`).
    pub fn new(base_url: &str, tokens: T) -> Result<ReqwestSource<T>, SourceSetupError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| SourceSetupError::Client(e.to_string()))?;
        ReqwestSource::with_client(client, base_url, tokens)
    }

    /// The same with a caller-built client (shared connection pool).
    pub fn with_client(
        client: reqwest::Client,
        base_url: &str,
        tokens: T,
    ) -> Result<ReqwestSource<T>, SourceSetupError> {
        let base_url = url::Url::parse(base_url).map_err(|e| SourceSetupError::BadUrl {
            url: base_url.to_owned(),
            detail: e.to_string(),
        })?;
        check_transport(&base_url)?;
        Ok(ReqwestSource {
            client,
            base_url,
            tokens,
        })
    }

    /// `{base}/restapi/v1.0/account/~/recording/{id}/content`, the id as one escaped segment.
    pub fn content_url(&self, recording_id: &str) -> url::Url {
        let mut url = self.base_url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend([
                "restapi",
                "v1.0",
                "account",
                "~",
                "recording",
                recording_id,
                "content",
            ]);
        }
        url
    }

    async fn send(
        &self,
        recording_id: &str,
        from_byte: u64,
        authorization: &str,
    ) -> Result<reqwest::Response, SourceError> {
        let mut authorization =
            reqwest::header::HeaderValue::from_str(authorization).map_err(|_| {
                SourceError::Refused {
                    status: 401,
                    code: None,
                    detail: "the access token holds characters that cannot go in a header"
                        .to_owned(),
                }
            })?;
        // Keeps the token out of reqwest's debug output and HTTP/2 header compression tables.
        authorization.set_sensitive(true);
        let mut request = self
            .client
            .get(self.content_url(recording_id))
            .header(reqwest::header::AUTHORIZATION, authorization);
        if from_byte > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={from_byte}-"));
        }
        request.send().await.map_err(|e| SourceError::Transient {
            detail: format!("cannot reach the recording server: {}", without_url(&e)),
            retry_after: None,
        })
    }
}

impl<T: TokenProvider> RecordingSource for ReqwestSource<T> {
    async fn open(
        &self,
        recording_id: &str,
        from_byte: u64,
    ) -> Result<SourceResponse, SourceError> {
        let token = self.token().await?;
        let mut response = self
            .send(recording_id, from_byte, T::authorization(&token))
            .await?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            self.tokens.rejected(&token).await;
            let token = self.token().await?;
            response = self
                .send(recording_id, from_byte, T::authorization(&token))
                .await?;
        }
        let status = response.status().as_u16();
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        match status {
            200 | 206 => {
                let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
                let (starts_at, total_length) = if status == 206 {
                    let range = header(reqwest::header::CONTENT_RANGE)
                        .as_deref()
                        .and_then(parse_content_range)
                        .ok_or_else(|| SourceError::Refused {
                            status,
                            code: None,
                            detail: "a partial answer without a valid Content-Range".to_owned(),
                        })?;
                    (range.start, range.total)
                } else {
                    (0, response.content_length())
                };
                let body = response.bytes_stream().map(|chunk| {
                    chunk.map_err(|e| SourceError::Transient {
                        detail: format!("the connection broke mid-download: {}", without_url(&e)),
                        retry_after: None,
                    })
                });
                Ok(SourceResponse {
                    content_type,
                    starts_at,
                    total_length,
                    body: Box::pin(body),
                })
            }
            _ => {
                let retry_after = header(reqwest::header::RETRY_AFTER);
                let content_range = header(reqwest::header::CONTENT_RANGE);
                let body = read_limited(response, ERROR_BODY_LIMIT).await;
                Err(classify_failure(
                    status,
                    retry_after.as_deref(),
                    content_range.as_deref(),
                    &body,
                ))
            }
        }
    }
}

impl<T: TokenProvider> ReqwestSource<T> {
    async fn token(&self) -> Result<T::Token, SourceError> {
        self.tokens
            .token()
            .await
            .map_err(|detail| SourceError::Refused {
                status: 401,
                code: None,
                detail: format!("no access token: {}", sanitize(&detail)),
            })
    }
}

/// Plain http carries the bearer token in clear: only to loopback (the simulator).
fn check_transport(url: &url::Url) -> Result<(), SourceSetupError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(SourceSetupError::InsecureUrl {
                    host: url.host_str().unwrap_or_default().to_owned(),
                })
            }
        }
        other => Err(SourceSetupError::BadUrl {
            url: url.to_string(),
            detail: format!("scheme '{other}' is not http or https"),
        }),
    }
}

/// A reqwest error's text without the URL (kept short for the status line).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "the recording URL");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    sanitize(&text).into_owned()
}

/// Up to `limit` bytes of an error body.
async fn read_limited(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(limit - body.len());
                body.extend_from_slice(&chunk[..take]);
            }
            _ => break,
        }
    }
    body
}

/// A parsed `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    pub start: u64,
    pub end: u64,
    pub total: Option<u64>,
}

/// Parses the satisfied form of `Content-Range`.
pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let spec = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = spec.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let end = end.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        n => Some(n.parse().ok()?),
    };
    (start <= end).then_some(ContentRange { start, end, total })
}

/// The total from the unsatisfied form `bytes */TOTAL` sent with a 416.
pub fn parse_unsatisfied_range(value: &str) -> Option<u64> {
    value
        .trim()
        .strip_prefix("bytes")?
        .trim_start()
        .strip_prefix("*/")?
        .trim()
        .parse()
        .ok()
}

/// `Retry-After` in its delay-seconds form. (The platform sends seconds; an HTTP-date is read as
/// absent, so the configured default applies.)
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Turns a non-success answer into a [`SourceError`], reading the platform's error code from
/// `{"errors":[{"errorCode","message"}]}` or the top-level `errorCode`/`message`.
pub fn classify_failure(
    status: u16,
    retry_after: Option<&str>,
    content_range: Option<&str>,
    body: &[u8],
) -> SourceError {
    let (code, message) = platform_error(body);
    let detail = match (&code, &message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (None, Some(message)) => message.clone(),
        (Some(code), None) => code.clone(),
        (None, None) => format!("HTTP {status}"),
    };
    let retry_after = retry_after.and_then(parse_retry_after);
    match status {
        404 => SourceError::NotYetAvailable { detail },
        429 => SourceError::RateLimited {
            retry_after,
            detail,
        },
        416 => SourceError::RangeNotSatisfiable {
            total_length: content_range.and_then(parse_unsatisfied_range),
        },
        408 | 500..=599 => SourceError::Transient {
            detail: format!("the recording server failed (HTTP {status}, {detail})"),
            retry_after,
        },
        _ => SourceError::Refused {
            status,
            code,
            detail: message.unwrap_or(detail),
        },
    }
}

/// The platform's error code and message from an error body, sanitised.
fn platform_error(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None);
    };
    let first = value
        .get("errors")
        .and_then(|errors| errors.get(0))
        .unwrap_or(&value);
    let text = |key: &str| {
        first
            .get(key)
            .or_else(|| value.get(key))
            .and_then(serde_json::Value::as_str)
            .map(|s| sanitize(s).into_owned())
    };
    (text("errorCode"), text("message"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let backoff = Backoff {
            initial: Duration::from_secs(6),
            max: Duration::from_secs(60),
        };
        let delays: Vec<u64> = (1..=6).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, [6, 12, 24, 48, 60, 60]);
        assert_eq!(backoff.delay(200), Duration::from_secs(60));
    }

    #[test]
    fn default_availability_polling_stays_within_the_heavy_group() {
        // Heavy: 10 requests a minute.
        let config = DownloadConfig::default();
        assert!(config.availability_backoff.delay(1) >= Duration::from_secs(6));
    }

    #[test]
    fn content_ranges_parse_and_nonsense_is_rejected() {
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some(ContentRange {
                start: 100,
                end: 199,
                total: Some(1000)
            })
        );
        assert_eq!(
            parse_content_range("bytes 0-9/*").map(|r| r.total),
            Some(None)
        );
        assert_eq!(parse_content_range("bytes 9-0/10"), None);
        assert_eq!(parse_content_range("items 0-9/10"), None);
        assert_eq!(parse_unsatisfied_range("bytes */1500"), Some(1500));
        assert_eq!(parse_unsatisfied_range("bytes 0-1/2"), None);
    }

    #[test]
    fn retry_after_reads_seconds() {
        assert_eq!(parse_retry_after(" 42 "), Some(Duration::from_secs(42)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn failures_are_classified_with_the_platform_code() {
        let body = br#"{"errors":[{"errorCode":"CMN-102","message":"Resource for parameter [recordingId] is not found"}]}"#;
        assert_eq!(
            classify_failure(404, None, None, body),
            SourceError::NotYetAvailable {
                detail: "CMN-102: Resource for parameter [recordingId] is not found".into()
            }
        );
        let limited = classify_failure(
            429,
            Some("7"),
            None,
            br#"{"errorCode":"CMN-301","message":"Request rate exceeded"}"#,
        );
        assert_eq!(
            limited,
            SourceError::RateLimited {
                retry_after: Some(Duration::from_secs(7)),
                detail: "CMN-301: Request rate exceeded".into()
            }
        );
        assert_eq!(
            classify_failure(416, None, Some("bytes */99"), b""),
            SourceError::RangeNotSatisfiable {
                total_length: Some(99)
            }
        );
        assert!(matches!(
            classify_failure(503, Some("3"), None, b"<html>"),
            SourceError::Transient { retry_after: Some(d), .. } if d == Duration::from_secs(3)
        ));
        let refused = classify_failure(
            403,
            None,
            None,
            br#"{"errors":[{"errorCode":"CMN-401","message":"In order to call this API endpoint, application needs to have [ReadCallRecording] permission"}]}"#,
        );
        assert_eq!(
            refused.to_string(),
            "HTTP 403 CMN-401: In order to call this API endpoint, application needs to have [ReadCallRecording] permission"
        );
    }

    #[test]
    fn hostile_error_text_is_sanitised() {
        let body = br#"{"errors":[{"errorCode":"X\u001b[2J","message":"m\u0007"}]}"#;
        let error = classify_failure(400, None, None, body);
        assert_eq!(error.to_string(), "HTTP 400 X[2J: m");
    }

    #[test]
    fn rate_and_eta_follow_the_samples() {
        let t0 = Instant::now();
        let mut meter = RateMeter::new(t0, 1000);
        assert_eq!(meter.bytes_per_second(), 0.0);
        meter.record(t0 + Duration::from_secs(1), 3000);
        meter.record(t0 + Duration::from_secs(2), 5000);
        assert_eq!(meter.bytes_per_second(), 2000.0);
        assert_eq!(eta(10_000, 2000.0), Some(Duration::from_secs(5)));
        assert_eq!(eta(10_000, 0.0), None);
        // Old samples leave the window, so a stall shows as a falling rate.
        meter.record(t0 + Duration::from_secs(10), 5000);
        assert!(meter.bytes_per_second() < 2000.0);
    }

    #[test]
    fn plain_http_is_refused_except_to_loopback() {
        let token = StaticToken::bearer("t");
        assert!(ReqwestSource::new("http://127.0.0.1:9000", token.clone()).is_ok());
        assert!(ReqwestSource::new("http://localhost:9000", token.clone()).is_ok());
        assert!(ReqwestSource::new("https://media.ringcentral.com", token.clone()).is_ok());
        let err = ReqwestSource::new("http://media.ringcentral.com", token.clone())
            .err()
            .unwrap();
        assert!(matches!(err, SourceSetupError::InsecureUrl { .. }), "{err}");
        assert!(ReqwestSource::new("ftp://x", token).is_err());
    }

    #[test]
    fn content_urls_escape_the_id() {
        let source =
            ReqwestSource::new("https://media.ringcentral.com/", StaticToken::bearer("t")).unwrap();
        assert_eq!(
            source.content_url("123").as_str(),
            "https://media.ringcentral.com/restapi/v1.0/account/~/recording/123/content"
        );
        assert_eq!(
            source.content_url("a/../b").as_str(),
            "https://media.ringcentral.com/restapi/v1.0/account/~/recording/a%2F..%2Fb/content"
        );
    }

    fn writer_store(dir: &std::path::Path, chunk_bytes: usize, cap_bytes: u64) -> Store {
        let config = crate::store::StoreConfig {
            chunk_bytes,
            cap_bytes,
            ..crate::store::StoreConfig::default()
        };
        Store::open(dir, config).unwrap()
    }

    /// Safety net for waits that end on their own; never a measure of speed.
    const SAFETY_NET: Duration = Duration::from_secs(20);

    #[tokio::test(flavor = "multi_thread")]
    async fn the_sink_hashes_writes_and_records_what_it_is_given() {
        let tmp = tempfile::tempdir().unwrap();
        let store = writer_store(tmp.path(), 4, u64::MAX);
        let content: Vec<u8> = (0..=40u8).collect();
        let mut sink = ContentSink::start(store.clone(), "s".into(), 4, 0, None, Sha256::new());
        let mut position = 0;
        for part in content.chunks(3) {
            // Parts as the downloader cuts them: never across a chunk boundary.
            let room = 4 - position % 4;
            let (first, second) = part.split_at(part.len().min(room));
            for piece in [first, second] {
                if !piece.is_empty() {
                    let waiting = sink.send(Bytes::copy_from_slice(piece)).await.unwrap();
                    assert!(waiting <= 2 * 4, "{waiting} bytes queued");
                    position += piece.len();
                }
            }
        }
        let hasher = sink.close().await.unwrap();
        assert_eq!(
            hex::encode(hasher.finalize()),
            hex::encode(Sha256::digest(&content))
        );
        // Whole chunks are recorded; the short last one is the downloader's to record.
        assert_eq!(store.stored_bytes("s").unwrap(), 40);
        let written = std::fs::read(
            tmp.path()
                .join("recordings")
                .join(format!("{}.content", hex::encode("s"))),
        )
        .unwrap();
        assert_eq!(written, content);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_sink_records_written_chunks_when_the_data_pauses() {
        let tmp = tempfile::tempdir().unwrap();
        let store = writer_store(tmp.path(), 4, u64::MAX);
        let mut sink = ContentSink::start(store.clone(), "p".into(), 4, 0, None, Sha256::new());
        for part in [&b"abcd"[..], b"efgh", b"ij"] {
            sink.send(Bytes::from_static(part)).await.unwrap();
        }
        // Far fewer chunks than a batch, and the sink stays open: only the pause records them.
        tokio::time::timeout(SAFETY_NET, async {
            while store.stored_bytes("p").unwrap() < 8 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the written chunks were never recorded while the data paused");
        sink.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_writer_that_fails_releases_its_sender_and_says_why() {
        let tmp = tempfile::tempdir().unwrap();
        let store = writer_store(tmp.path(), 4, 6);
        let mut sink =
            ContentSink::start(store.clone(), "full".into(), 4, 0, Some(40), Sha256::new());
        // The second chunk passes the cap; the writer stops, and a sender waiting for room
        // must be let go rather than wait forever.
        let stopped = tokio::time::timeout(SAFETY_NET, async {
            for _ in 0..10 {
                if sink.send(Bytes::from_static(b"abcd")).await.is_none() {
                    return true;
                }
            }
            false
        })
        .await
        .expect("a sender waited forever for a writer that had stopped");
        assert!(stopped, "the writer took every chunk past the cap");
        let err = sink.close().await.unwrap_err();
        assert!(matches!(err, StoreError::CapReached { .. }), "{err:?}");
        assert_eq!(store.used_bytes().unwrap(), 4);
    }

    #[tokio::test]
    async fn a_cancel_token_wakes_its_waiters() {
        let token = CancelToken::new();
        let waiter = {
            let token = token.clone();
            tokio::spawn(async move { token.cancelled().await })
        };
        assert!(!token.is_cancelled());
        token.cancel();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(token.is_cancelled());
    }
}
