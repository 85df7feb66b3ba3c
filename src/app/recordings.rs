//! Fetching a call's recording: from "this call" or "this recording id" to a complete recording in
//! the store, and exporting it. The TUI and `callboard recordings` both go through
//! [`RecordingFetcher`] and [`export_to`], so a recording fetched or exported from either looks
//! and behaves the same.
//!
//! A live call's recording id is on the board; an ended call's comes from the call log, looked up
//! by `telephonySessionId`. The platform writes the call log some time after hang-up, so a lookup
//! that finds nothing yet waits ("waiting for the recording") with the download engine's
//! availability backoff, which keeps inside the Heavy rate-limit group the call log shares with
//! recording content. When the REST client's own limiter holds the call-log request back, the
//! lookup says so ("paced by rate limit") with the limiter's wait. A lookup is cancellable at
//! every point, its request included, and stores nothing until its download begins.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};

use crate::rc::auth::Auth;
use crate::rc::ratelimit::RateGroup;
use crate::rc::records::CallLogRecord;
use crate::rc::rest::RestClient;
use crate::rc::transport::{NoticeCause, RestNotice};
use crate::store::download::{
    CancelToken, DownloadConfig, DownloadError, DownloadEvent, DownloadHandle, DownloadReport,
    DownloadRequest, DownloadUpdate, Downloader, ReqwestSource, WaitReason,
};
use crate::store::recordings::CallInfo;
use crate::store::recordings::{ExistingFile, ExportReport, RecordingMeta};
use crate::store::{Store, StoreError};
use crate::text::sanitize;

/// The download engine as the app runs it: content over HTTP, signed by the monitor's session.
pub type PlatformDownloader = Downloader<ReqwestSource<Arc<Auth>>>;

/// The host that serves recording content for a platform server URL. RingCentral serves content
/// only from its media entry point (`platform.X` → `media.X`, PROTOCOL.md §4.6); any other
/// server (the simulator, a proxy) serves it itself.
pub fn content_base_url(server_url: &url::Url) -> String {
    let mut base = server_url.clone();
    if let Some(host) = server_url.host_str()
        && let Some(rest) = host.strip_prefix("platform.")
        && (rest == "ringcentral.com" || rest.ends_with(".ringcentral.com"))
        && base.set_host(Some(&format!("media.{rest}"))).is_err()
    {
        return server_url.origin().ascii_serialization();
    }
    base.set_path("");
    base.set_query(None);
    base.origin().ascii_serialization()
}

/// What the user asked to fetch, told apart by shape: platform recording ids are decimal, and
/// telephony session ids (`s-…`) never are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchTarget {
    Recording(String),
    Session(String),
}

impl FetchTarget {
    pub fn parse(id: &str) -> FetchTarget {
        let id = id.trim();
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            FetchTarget::Recording(id.to_owned())
        } else {
            FetchTarget::Session(id.to_owned())
        }
    }
}

/// The recording of a call-log record, with what the record says about the call (sanitised:
/// these strings come from the network and end up on a terminal).
pub fn request_from_call_log(
    telephony_session_id: &str,
    records: &[CallLogRecord],
) -> Option<DownloadRequest> {
    let record = records.iter().find(|r| r.recording.is_some())?;
    let recording = record.recording.as_ref()?;
    let party_text = |party: Option<&crate::rc::records::CallLogParty>| {
        party.and_then(|p| p.name.clone().or_else(|| p.phone_number.clone()))
    };
    let clean = |text: Option<String>| text.map(|t| sanitize(&t).into_owned());
    Some(DownloadRequest {
        recording_id: recording.id.clone(),
        call: CallInfo {
            telephony_session_id: Some(sanitize(telephony_session_id).into_owned()),
            caller: clean(party_text(record.from.as_ref())),
            campaign: None,
            queue: None,
            agent: clean(party_text(record.to.as_ref())),
            duration_seconds: record
                .duration_seconds()
                .map(|s| s.round().clamp(0.0, f64::from(u32::MAX)) as u32),
        },
    })
}

/// Why a recording could not be found or fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "the call log has no recording for call {session_id} after waiting {waited_seconds} s; the call may not have been recorded, or the platform is still writing its log — try again in a few minutes"
    )]
    NoRecording {
        session_id: String,
        waited_seconds: u64,
    },
    #[error("cannot read the call log of call {session_id}: {source}")]
    CallLog {
        session_id: String,
        source: crate::rc::RcError,
    },
    #[error("looking up the recording of call {session_id} was cancelled; nothing was stored")]
    Cancelled { session_id: String },
    #[error(transparent)]
    Download(#[from] DownloadError),
}

/// Fetches recordings for the TUI and the CLI: looks calls up in the call log, then hands the
/// recording to the download engine. Clone it freely.
#[derive(Clone)]
pub struct RecordingFetcher {
    rest: Arc<RestClient>,
    downloader: PlatformDownloader,
    config: DownloadConfig,
}

impl RecordingFetcher {
    /// A fetcher storing into `store`, reporting every download's events to `events`.
    pub fn new(
        rest: Arc<RestClient>,
        store: Store,
        config: DownloadConfig,
        events: mpsc::Sender<DownloadEvent>,
    ) -> anyhow::Result<RecordingFetcher> {
        let base = content_base_url(rest.auth().credentials().server_url());
        let source = ReqwestSource::new(&base, Arc::clone(rest.auth()))?;
        let downloader = Downloader::with_events(store, source, config.clone(), events);
        Ok(RecordingFetcher {
            rest,
            downloader,
            config,
        })
    }

    pub fn downloader(&self) -> &PlatformDownloader {
        &self.downloader
    }

    /// Looks an ended call's recording up in the call log, waiting with backoff while the
    /// platform has not written it yet. `waiting` hears each wait and why: the recording is not
    /// there yet ([`WaitReason::NotYetAvailable`]), or the client's rate limiter holds the call-log
    /// request back ([`WaitReason::Paced`]). `cancel` stops it at any point, the request included.
    pub async fn lookup_session(
        &self,
        session_id: &str,
        cancel: &CancelToken,
        mut waiting: impl FnMut(WaitReason, Duration),
    ) -> Result<DownloadRequest, FetchError> {
        let started = tokio::time::Instant::now();
        let mut attempt = 0u32;
        let cancelled = || FetchError::Cancelled {
            session_id: sanitize(session_id).into_owned(),
        };
        loop {
            let records = self.read_call_log(session_id, cancel, &mut waiting).await?;
            if let Some(request) = request_from_call_log(session_id, &records) {
                return Ok(request);
            }
            attempt += 1;
            let delay = self.config.availability_backoff.delay(attempt);
            if started.elapsed() + delay > self.config.availability_timeout {
                return Err(FetchError::NoRecording {
                    session_id: sanitize(session_id).into_owned(),
                    waited_seconds: started.elapsed().as_secs(),
                });
            }
            waiting(WaitReason::NotYetAvailable, delay);
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cancel.cancelled() => return Err(cancelled()),
            }
        }
    }

    /// One call-log read for `session_id`, cancellable, passing on the waits the REST client's
    /// rate limiter imposes on it (it publishes them as notices while the request is held).
    async fn read_call_log(
        &self,
        session_id: &str,
        cancel: &CancelToken,
        waiting: &mut impl FnMut(WaitReason, Duration),
    ) -> Result<Vec<CallLogRecord>, FetchError> {
        let mut notices = self.rest.notices();
        let mut listening = true;
        let request = self.rest.call_log_for_session(session_id);
        tokio::pin!(request);
        loop {
            tokio::select! {
                records = &mut request => {
                    return records.map_err(|source| FetchError::CallLog {
                        session_id: sanitize(session_id).into_owned(),
                        source,
                    });
                }
                () = cancel.cancelled() => {
                    return Err(FetchError::Cancelled {
                        session_id: sanitize(session_id).into_owned(),
                    });
                }
                notice = notices.recv(), if listening => match notice {
                    Ok(notice) if holds_lookup(&notice, session_id) => {
                        waiting(WaitReason::Paced, notice.wait);
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => listening = false,
                },
            }
        }
    }

    /// Fetches `target` to its end in the calling task (the CLI's way). Events, including the
    /// call-log waits (under the session id), go to `events`.
    pub async fn fetch(
        &self,
        target: &FetchTarget,
        cancel: CancelToken,
        events: &mpsc::Sender<DownloadEvent>,
    ) -> Result<DownloadReport, FetchError> {
        let request = match target {
            FetchTarget::Recording(id) => DownloadRequest {
                recording_id: id.clone(),
                call: CallInfo::default(),
            },
            FetchTarget::Session(session_id) => {
                let report_wait = |reason, retry_in| {
                    let _ = events.try_send(DownloadEvent {
                        recording_id: session_id.clone(),
                        update: DownloadUpdate::Waiting { reason, retry_in },
                    });
                };
                self.lookup_session(session_id, &cancel, report_wait)
                    .await?
            }
        };
        Ok(self.downloader.fetch(request, cancel).await?)
    }

    /// Starts a download in its own task (the TUI's way), for a call whose recording id is known.
    pub fn start(&self, request: DownloadRequest) -> Result<DownloadHandle, DownloadError> {
        self.downloader.start(request)
    }

    /// Starts, in its own task, the lookup of an ended call's recording followed by its download.
    /// The lookup's waits and its failure or cancellation are reported under the session id;
    /// `found` hears `(session id, recording id)` when the download proper takes over under the
    /// recording id. The token returned cancels the lookup and, after the hand-over, the
    /// download it started.
    pub fn start_for_session(
        &self,
        session_id: String,
        call: CallInfo,
        events: mpsc::Sender<DownloadEvent>,
        found: impl FnOnce(String, String) + Send + 'static,
    ) -> CancelToken {
        let cancel = CancelToken::new();
        let fetcher = self.clone();
        let task_cancel = cancel.clone();
        tokio::spawn(async move {
            let report_wait = |reason, retry_in| {
                let _ = events.try_send(DownloadEvent {
                    recording_id: session_id.clone(),
                    update: DownloadUpdate::Waiting { reason, retry_in },
                });
            };
            let looked_up = fetcher
                .lookup_session(&session_id, &task_cancel, report_wait)
                .await;
            let update = match looked_up {
                Ok(_) if task_cancel.is_cancelled() => DownloadUpdate::Cancelled,
                Ok(mut request) => {
                    // What the board knew (queue, campaign, agent as it showed them) wins; the call
                    // log fills the gaps.
                    request.call = call.merged_over(&request.call);
                    let recording_id = request.recording_id.clone();
                    match fetcher.downloader.start(request) {
                        Ok(download) => {
                            found(session_id, recording_id);
                            tokio::select! {
                                () = task_cancel.cancelled() => download.cancel.cancel(),
                                // The download reports its own end under the recording id.
                                _ = download.task => {}
                            }
                            return;
                        }
                        Err(error) => DownloadUpdate::Failed {
                            error: error.to_string(),
                        },
                    }
                }
                Err(FetchError::Cancelled { .. }) => DownloadUpdate::Cancelled,
                Err(error) => DownloadUpdate::Failed {
                    error: error.to_string(),
                },
            };
            let _ = events
                .send(DownloadEvent {
                    recording_id: session_id,
                    update,
                })
                .await;
        });
        cancel
    }
}

/// Whether a REST wait notice holds back the call-log lookup of `session_id`: its own request
/// being paced or retried, or a 429 that paused the Heavy group the call log belongs to (the
/// limiter then holds every request of the group without a notice of its own).
fn holds_lookup(notice: &RestNotice, session_id: &str) -> bool {
    let own = notice.action.contains(session_id);
    let group_paused = notice.group == RateGroup::Heavy
        && matches!(notice.cause, NoticeCause::RateLimited | NoticeCause::Busy);
    own || group_paused
}

/// Every recording in the store (newest first) and, for each one not complete, the content
/// bytes it holds: a partial download's size, shown as how far a fetch will resume.
pub fn stored_recordings(
    store: &Store,
) -> Result<(Vec<RecordingMeta>, HashMap<String, u64>), StoreError> {
    let recordings = store.recordings()?;
    let mut partial_bytes = HashMap::new();
    for meta in recordings.iter().filter(|m| !m.is_complete()) {
        partial_bytes.insert(
            meta.recording_id.clone(),
            store.stored_bytes(&meta.recording_id)?,
        );
    }
    Ok((recordings, partial_bytes))
}

/// Where exports go by default: the configured `export_dir` (`~` expanded), else the current
/// directory.
pub fn export_dir(configured: Option<&Path>) -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match configured {
        Some(dir) => expand_home(&dir.to_string_lossy(), home.as_deref()),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    }
}

/// Why an export did not write its file.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{} already exists; choose another name, or confirm to replace it", path.display())]
    Exists { path: PathBuf },
    #[error(
        "cannot export to {}: {} is not a directory; create it or choose another place",
        path.display(),
        dir.display()
    )]
    NoSuchDirectory { path: PathBuf, dir: PathBuf },
    #[error(
        "cannot write {}: {source}; choose a place you can write to",
        path.display()
    )]
    Unwritable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(StoreError),
}

/// The file an export to `out` writes: `out` itself, or the recording's default name inside
/// `out` when that is a directory.
pub fn export_target(out: &Path, meta: &RecordingMeta) -> PathBuf {
    if out.is_dir() {
        out.join(meta.default_file_name())
    } else {
        out.to_path_buf()
    }
}

/// `~/x` as `$HOME/x`, as a shell would (the TUI's prompt has no shell to do it).
pub fn expand_home(text: &str, home: Option<&Path>) -> PathBuf {
    match (
        text.strip_prefix("~/").or((text == "~").then_some("")),
        home,
    ) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(text),
    }
}

/// Exports a complete recording to `out` (a file, or a directory for the default name), mode
/// 0600, verified on the way. An existing file is replaced only with `replace`; the check is
/// atomic with the write, so a file appearing meanwhile is not replaced either. Blocking: run
/// it off the async runtime.
pub fn export_to(
    store: &Store,
    recording_id: &str,
    out: &Path,
    replace: bool,
) -> Result<ExportReport, ExportError> {
    let meta = store
        .recording(recording_id)
        .map_err(ExportError::Store)?
        .ok_or_else(|| {
            ExportError::Store(StoreError::RecordingNotFound {
                recording_id: sanitize(recording_id).into_owned(),
            })
        })?;
    let target = export_target(out, &meta);
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(ExportError::NoSuchDirectory {
            path: target.clone(),
            dir: dir.to_path_buf(),
        });
    }
    if !replace && std::fs::symlink_metadata(&target).is_ok() {
        return Err(ExportError::Exists { path: target });
    }
    let existing = if replace {
        ExistingFile::Replace
    } else {
        ExistingFile::Keep
    };
    store
        .export_recording_as(recording_id, &target, existing)
        .map_err(|error| match error {
            StoreError::ExportFile { source, .. }
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                ExportError::Exists {
                    path: target.clone(),
                }
            }
            // The store names its hidden temporary file; the user chose `target`.
            StoreError::ExportFile { source, .. } => ExportError::Unwritable {
                path: target.clone(),
                source,
            },
            other => ExportError::Store(other),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rc::records::{CallLogParty, CallLogRecording};

    #[test]
    fn content_comes_from_the_media_host_of_ringcentral_servers_only() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            content_base_url(&url("https://platform.ringcentral.com")),
            "https://media.ringcentral.com"
        );
        assert_eq!(
            content_base_url(&url("https://platform.devtest.ringcentral.com/")),
            "https://media.devtest.ringcentral.com"
        );
        assert_eq!(
            content_base_url(&url("http://127.0.0.1:4567/")),
            "http://127.0.0.1:4567"
        );
        // A look-alike host is not RingCentral's and keeps its own name.
        assert_eq!(
            content_base_url(&url("https://platform.ringcentral.com.evil.example")),
            "https://platform.ringcentral.com.evil.example"
        );
    }

    #[test]
    fn decimal_ids_are_recordings_and_anything_else_is_a_call() {
        assert_eq!(
            FetchTarget::parse(" 1234567004 "),
            FetchTarget::Recording("1234567004".into())
        );
        assert_eq!(
            FetchTarget::parse("s-a0d7b8c9e1f2"),
            FetchTarget::Session("s-a0d7b8c9e1f2".into())
        );
    }

    fn party(name: Option<&str>, number: &str) -> CallLogParty {
        CallLogParty {
            name: name.map(str::to_owned),
            phone_number: Some(number.to_owned()),
            ..CallLogParty::default()
        }
    }

    #[test]
    fn the_call_log_record_with_a_recording_gives_the_request() {
        let without = CallLogRecord {
            id: "1".into(),
            ..CallLogRecord::default()
        };
        let with = CallLogRecord {
            id: "2".into(),
            duration: Some(61.6),
            from: Some(party(Some("Ann \u{1b}[31mRed"), "+15550001111")),
            to: Some(party(None, "+15550002222")),
            recording: Some(CallLogRecording {
                id: "99".into(),
                ..CallLogRecording::default()
            }),
            ..CallLogRecord::default()
        };
        assert_eq!(
            request_from_call_log("s-1", std::slice::from_ref(&without)),
            None
        );
        let request = request_from_call_log("s-1", &[without, with]).unwrap();
        assert_eq!(request.recording_id, "99");
        assert_eq!(request.call.telephony_session_id.as_deref(), Some("s-1"));
        let caller = request.call.caller.unwrap();
        assert!(
            caller.starts_with("Ann") && !caller.contains('\u{1b}'),
            "{caller}"
        );
        assert_eq!(request.call.agent.as_deref(), Some("+15550002222"));
        assert_eq!(request.call.duration_seconds, Some(62));
    }

    #[test]
    fn only_waits_that_hold_this_lookup_are_its_pacing() {
        use crate::rc::error::ErrorCode;
        let notice = |action: &str, group, cause| RestNotice {
            group,
            cause,
            wait: Duration::from_secs(7),
            action: action.to_owned(),
            code: ErrorCode::default(),
        };
        let own = "read the call log of call s-42";
        assert!(holds_lookup(
            &notice(own, RateGroup::Heavy, NoticeCause::Pacing),
            "s-42"
        ));
        // A 429 on another Heavy request pauses the group, this lookup included.
        assert!(holds_lookup(
            &notice(
                "list phone numbers",
                RateGroup::Heavy,
                NoticeCause::RateLimited
            ),
            "s-42"
        ));
        // Another group's pacing, or another request's own pacing, does not hold it.
        assert!(!holds_lookup(
            &notice("read presence", RateGroup::Light, NoticeCause::RateLimited),
            "s-42"
        ));
        assert!(!holds_lookup(
            &notice(
                "read the call log of call s-7",
                RateGroup::Heavy,
                NoticeCause::Pacing
            ),
            "s-42"
        ));
    }

    #[test]
    fn a_tilde_means_home_only_at_the_start() {
        let home = Path::new("/home/sup");
        assert_eq!(
            expand_home("~/calls/x.wav", Some(home)),
            PathBuf::from("/home/sup/calls/x.wav")
        );
        assert_eq!(expand_home("~", Some(home)), PathBuf::from("/home/sup"));
        assert_eq!(expand_home("a/~/b", Some(home)), PathBuf::from("a/~/b"));
        assert_eq!(expand_home("~/x", None), PathBuf::from("~/x"));
    }

    /// A complete recording of `content` in a fresh store, stored as the downloader does.
    fn store_with(dir: &Path, id: &str, content: &[u8]) -> Store {
        use crate::store::recordings::FinishedContent;
        use sha2::{Digest, Sha256};
        let store = Store::open(dir, crate::store::StoreConfig::default()).unwrap();
        let now = chrono::Utc::now();
        store.begin_recording(id, CallInfo::default(), now).unwrap();
        store
            .note_recording_source(id, "audio/wav", Some(content.len() as u64))
            .unwrap();
        store.write_chunk(id, 0, content).unwrap();
        let finished = FinishedContent {
            length: content.len() as u64,
            chunk_count: 1,
            sha256_hex: hex::encode(Sha256::digest(content)),
        };
        store.finish_recording(id, finished, now).unwrap();
        store
    }

    #[test]
    fn export_names_the_file_in_a_directory_and_replaces_only_when_told() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(&dir.path().join("data"), "77", b"RIFF....WAVE");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();

        let report = export_to(&store, "77", &out, false).unwrap();
        assert_eq!(report.path, out.join("recording-77.wav"));
        assert_eq!(std::fs::read(&report.path).unwrap(), b"RIFF....WAVE");

        std::fs::write(&report.path, b"edited since").unwrap();
        match export_to(&store, "77", &out, false) {
            Err(ExportError::Exists { path }) => assert_eq!(path, report.path),
            other => panic!("expected Exists, got {other:?}"),
        }
        assert_eq!(std::fs::read(&report.path).unwrap(), b"edited since");
        export_to(&store, "77", &report.path, true).unwrap();
        assert_eq!(std::fs::read(&report.path).unwrap(), b"RIFF....WAVE");

        let inside_a_file = report.path.join("x.wav");
        let error = export_to(&store, "77", &inside_a_file, false).unwrap_err();
        assert!(
            matches!(error, ExportError::NoSuchDirectory { ref dir, .. } if *dir == report.path),
            "{error:?}"
        );
        // Nothing of the refused exports is left beside the target.
        let names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["recording-77.wav"]);
    }
}
