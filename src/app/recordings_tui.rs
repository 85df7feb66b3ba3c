//! The board's recording effects carried out: fetch through the shared [`RecordingFetcher`]
//! (its events come back to the loop as [`super::Msg::Download`]), cancel, export to the working
//! directory, play with the configured player, delete. Store work that walks a whole recording
//! runs on the blocking pool and reports back as a notice, so the loop never waits on it.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::Msg;
use super::recordings::RecordingFetcher;
use crate::rc::rest::RestClient;
use crate::store::Store;
use crate::store::download::{CancelToken, DownloadConfig, DownloadEvent, DownloadRequest};
use crate::store::recordings::CallInfo;
use crate::text::sanitize;
use crate::ui::recording_actions::FetchFrom;

/// Everything the recording effects need, built once at start.
pub struct RecordingJobs {
    fetcher: RecordingFetcher,
    store: Store,
    /// The player command from the config (`{file}` is replaced by the path).
    player: Option<String>,
    /// Where exports go: the directory callboard was started in.
    export_dir: PathBuf,
    /// Cancels for call-log lookups (downloads proper are cancelled through the downloader).
    lookups: std::collections::HashMap<String, CancelToken>,
    events: mpsc::Sender<DownloadEvent>,
    tx: mpsc::Sender<Msg>,
}

impl RecordingJobs {
    /// Wires the fetcher's events into the loop's channel.
    pub fn start(
        rest: Arc<RestClient>,
        store: Store,
        concurrency: usize,
        player: Option<String>,
        tx: mpsc::Sender<Msg>,
    ) -> anyhow::Result<RecordingJobs> {
        let (events, mut events_rx) = mpsc::channel::<DownloadEvent>(256);
        let forward = tx.clone();
        tokio::spawn(async move {
            while let Some(event) = events_rx.recv().await {
                if forward.send(Msg::Download(event)).await.is_err() {
                    break;
                }
            }
        });
        let config = DownloadConfig {
            max_concurrent: concurrency,
            ..DownloadConfig::default()
        };
        let fetcher = RecordingFetcher::new(rest, store.clone(), config, events.clone())?;
        Ok(RecordingJobs {
            fetcher,
            store,
            player,
            export_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            lookups: std::collections::HashMap::new(),
            events,
            tx,
        })
    }

    /// Starts fetching; a refusal comes back as a failed download row.
    pub fn fetch(&mut self, from: FetchFrom, call: CallInfo) {
        match from {
            FetchFrom::Recording(recording_id) => {
                let request = DownloadRequest {
                    recording_id: recording_id.clone(),
                    call,
                };
                if let Err(error) = self.fetcher.start(request) {
                    self.report_failure(recording_id, error.to_string());
                }
            }
            FetchFrom::Session(session_id) => {
                let tx = self.tx.clone();
                let cancel = self.fetcher.start_for_session(
                    session_id.clone(),
                    call,
                    self.events.clone(),
                    move |session_id, recording_id| {
                        let _ = tx.try_send(Msg::RecordingFound {
                            session_id,
                            recording_id,
                        });
                    },
                );
                self.lookups.insert(session_id, cancel);
            }
        }
    }

    /// Forgets the call-log lookup under `id` once it handed over or ended.
    pub fn lookup_finished(&mut self, id: &str) {
        self.lookups.remove(id);
    }

    /// Cancels the download or lookup shown under `id`; false when none runs.
    pub fn cancel(&mut self, id: &str) -> bool {
        if let Some(lookup) = self.lookups.remove(id) {
            lookup.cancel();
            return true;
        }
        self.fetcher.downloader().cancel(id)
    }

    fn report_failure(&self, id: String, error: String) {
        let _ = self.events.try_send(DownloadEvent {
            recording_id: id,
            update: crate::store::download::DownloadUpdate::Failed { error },
        });
    }

    /// Exports to `<start dir>/recording-<id>.<ext>`, verified, mode 0600.
    pub fn export(&self, recording_id: String) {
        let store = self.store.clone();
        let dir = self.export_dir.clone();
        self.in_background(move || {
            store
                .export_recording(&recording_id, &dir)
                .map(|report| format!("exported to {}", report.path.display()))
        });
    }

    /// Plays a verified copy with the configured player, detached from the terminal.
    pub fn play(&self, recording_id: String) {
        let Some(player) = self.player.clone() else {
            self.notice(
                "no player configured: set `player` under [recordings] in the config (e.g. \"mpv --no-video {file}\")".to_owned(),
                true,
            );
            return;
        };
        let store = self.store.clone();
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let (text, is_error) = match store.playable_file(&recording_id) {
                Ok(path) => match launch_player(&player, &path) {
                    Ok(program) => (format!("playing {recording_id} with {program}"), false),
                    Err(error) => (error, true),
                },
                Err(error) => (error.to_string(), true),
            };
            let _ = tx.blocking_send(Msg::Notice { text, is_error });
        });
    }

    pub fn delete(&self, recording_id: String) {
        let store = self.store.clone();
        self.in_background(move || {
            store.delete_recording(&recording_id).map(|removed| {
                if removed {
                    format!("deleted recording {recording_id}")
                } else {
                    format!("recording {recording_id} was already gone")
                }
            })
        });
    }

    fn notice(&self, text: String, is_error: bool) {
        let _ = self.tx.try_send(Msg::Notice { text, is_error });
    }

    /// Runs store work on the blocking pool and reports its outcome as a notice.
    fn in_background(
        &self,
        work: impl FnOnce() -> Result<String, crate::store::StoreError> + Send + 'static,
    ) {
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let (text, is_error) = match work() {
                Ok(text) => (text, false),
                Err(error) => (error.to_string(), true),
            };
            let _ = tx.blocking_send(Msg::Notice {
                text: sanitize(&text).into_owned(),
                is_error,
            });
        });
    }
}

/// Splits the player command on whitespace, puts the path in for `{file}` (or appends it), and
/// starts it with no access to the terminal. Returns the program's name.
fn launch_player(command: &str, path: &std::path::Path) -> Result<String, String> {
    let argv = player_argv(command, &path.to_string_lossy());
    let Some((program, args)) = argv.split_first() else {
        return Err("the configured player command is empty".to_owned());
    };
    std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| {
            format!("cannot start the player '{program}': {e}; check `player` under [recordings] in the config")
        })?;
    Ok(program.clone())
}

/// The player's argv: whitespace-separated words, `{file}` replaced by `file` (appended when the
/// command does not mention it).
pub fn player_argv(command: &str, file: &str) -> Vec<String> {
    let mut argv: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
    if argv.iter().any(|word| word.contains("{file}")) {
        for word in &mut argv {
            *word = word.replace("{file}", file);
        }
    } else if !argv.is_empty() {
        argv.push(file.to_owned());
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_player_gets_the_file_where_the_command_says() {
        assert_eq!(
            player_argv("mpv --no-video {file}", "/d/r 1.wav"),
            ["mpv", "--no-video", "/d/r 1.wav"]
        );
        assert_eq!(
            player_argv("ffplay -nodisp", "/d/r.mp3"),
            ["ffplay", "-nodisp", "/d/r.mp3"]
        );
        assert!(player_argv("  ", "/d/r.mp3").is_empty());
    }
}
