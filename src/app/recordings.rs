//! Fetching a call's recording: from "this call" or "this recording id" to a complete recording in
//! the store. The TUI and `callboard recordings` both go through [`RecordingFetcher`], so a
//! recording fetched from either looks and behaves the same.
//!
//! A live call's recording id is on the board; an ended call's comes from the call log, looked up
//! by `telephonySessionId`. The platform writes the call log some time after hang-up, so a lookup
//! that finds nothing yet waits ("waiting for the recording") with the download engine's
//! availability backoff, which keeps inside the Heavy rate-limit group the call log shares with
//! recording content.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::rc::auth::Auth;
use crate::rc::records::CallLogRecord;
use crate::rc::rest::RestClient;
use crate::store::Store;
use crate::store::download::{
    CancelToken, DownloadConfig, DownloadError, DownloadEvent, DownloadHandle, DownloadReport,
    DownloadRequest, DownloadUpdate, Downloader, ReqwestSource, WaitReason,
};
use crate::store::recordings::CallInfo;
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
    #[error("looking up call {session_id} was cancelled")]
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
    /// platform has not written it yet. `waiting` hears each wait, for "waiting for the recording".
    pub async fn lookup_session(
        &self,
        session_id: &str,
        cancel: &CancelToken,
        mut waiting: impl FnMut(Duration),
    ) -> Result<DownloadRequest, FetchError> {
        let started = tokio::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            let records = self
                .rest
                .call_log_for_session(session_id)
                .await
                .map_err(|source| FetchError::CallLog {
                    session_id: sanitize(session_id).into_owned(),
                    source,
                })?;
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
            waiting(delay);
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cancel.cancelled() => {
                    return Err(FetchError::Cancelled { session_id: sanitize(session_id).into_owned() });
                }
            }
        }
    }

    /// Fetches `target` to its end in the calling task (the CLI's way). Events, including the
    /// call-log waits (as [`WaitReason::NotYetAvailable`] under the session id), go to the
    /// channel given to [`RecordingFetcher::new`].
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
                let report_wait = |retry_in| {
                    let _ = events.try_send(DownloadEvent {
                        recording_id: session_id.clone(),
                        update: DownloadUpdate::Waiting {
                            reason: WaitReason::NotYetAvailable,
                            retry_in,
                        },
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
    /// The lookup's waits and failure are reported under the session id; `found` hears
    /// `(session id, recording id)` when the download proper takes over under the recording id.
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
            let report_wait = |retry_in| {
                let _ = events.try_send(DownloadEvent {
                    recording_id: session_id.clone(),
                    update: DownloadUpdate::Waiting {
                        reason: WaitReason::NotYetAvailable,
                        retry_in,
                    },
                });
            };
            let looked_up = fetcher
                .lookup_session(&session_id, &task_cancel, report_wait)
                .await;
            let update = match looked_up {
                Ok(mut request) => {
                    // What the board knew (queue, campaign, agent as it showed them) wins; the call
                    // log fills the gaps.
                    request.call = call.merged_over(&request.call);
                    let recording_id = request.recording_id.clone();
                    match fetcher.downloader.start(request) {
                        Ok(_) => {
                            found(session_id, recording_id);
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
}
