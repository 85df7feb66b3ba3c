//! The board's recording effects carried out: fetch through the shared [`RecordingFetcher`]
//! (its events come back to the loop as [`super::Msg::Download`]), cancel a download or a
//! call-log lookup, export where the user chose, play with the configured player, delete. Store
//! work that walks a whole recording runs on the blocking pool and reports back as a notice, so
//! the loop never waits on it.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::Msg;
use super::recordings::{ExportError, RecordingFetcher, expand_home, export_to};
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
    /// The user's home, for `~` in an export path.
    home: Option<PathBuf>,
    /// Cancels for call-log lookups, by session id, then by recording id once the lookup
    /// handed over to the download it started (the same token cancels both).
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
            home: std::env::var_os("HOME").map(PathBuf::from),
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

    /// The lookup of `session_id` found `recording_id` and its download runs: `x` on that
    /// download's row must still reach the lookup's token.
    pub fn lookup_handed_over(&mut self, session_id: &str, recording_id: &str) {
        if let Some(cancel) = self.lookups.remove(session_id) {
            self.lookups.insert(recording_id.to_owned(), cancel);
        }
    }

    /// Forgets the lookup token under `id` once its lookup or download ended.
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

    /// Exports to `path` (a file, or a directory for `recording-<id>.<ext>`), verified, mode
    /// 0600. An existing file is kept unless `replace`: the user is asked, and a yes comes back
    /// as an export with `replace` set.
    pub fn export(&self, recording_id: String, path: PathBuf, replace: bool) {
        let store = self.store.clone();
        let tx = self.tx.clone();
        let path = expand_home(&path.to_string_lossy(), self.home.as_deref());
        tokio::task::spawn_blocking(move || {
            let msg = match export_to(&store, &recording_id, &path, replace) {
                Ok(report) => Msg::Notice {
                    text: format!("exported to {}", report.path.display()),
                    is_error: false,
                },
                Err(ExportError::Exists { path }) => {
                    Msg::ConfirmExportOverwrite { recording_id, path }
                }
                Err(error) => Msg::Notice {
                    text: sanitize(&error.to_string()).into_owned(),
                    is_error: true,
                },
            };
            let _ = tx.blocking_send(msg);
        });
    }

    /// Plays a verified copy with the configured player, detached from the terminal. Nothing is
    /// exported when no player is set, or when the one set is not found.
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
            let path_var = std::env::var_os("PATH");
            let (text, is_error) = match find_player(&player, path_var.as_deref()) {
                Err(error) => (error, true),
                Ok(program) => match store.playable_file(&recording_id) {
                    Ok(path) => match launch_player(&program, &player, &path) {
                        Ok(()) => (
                            format!("playing {recording_id} with {}", program.display()),
                            false,
                        ),
                        Err(error) => (error, true),
                    },
                    Err(error) => (error.to_string(), true),
                },
            };
            let _ = tx.blocking_send(Msg::Notice {
                text: sanitize(&text).into_owned(),
                is_error,
            });
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

/// The program of the player command, found as a shell would: a name with a `/` as that path,
/// any other through `path_var` (`$PATH`). The error says what to do.
fn find_player(command: &str, path_var: Option<&std::ffi::OsStr>) -> Result<PathBuf, String> {
    let Some(program) = command.split_whitespace().next() else {
        return Err(
            "the configured player command is empty; set `player` under [recordings] in the config"
                .to_owned(),
        );
    };
    let runnable = |path: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let found = if program.contains('/') {
        Some(PathBuf::from(program)).filter(|path| runnable(path))
    } else {
        path_var.and_then(|paths| {
            std::env::split_paths(paths)
                .map(|dir| dir.join(program))
                .find(|path| runnable(path))
        })
    };
    found.ok_or_else(|| {
        format!(
            "the player '{program}' was not found (PATH searched); install it, or set `player` under [recordings] in the config to one that is installed"
        )
    })
}

/// Starts `program` with the player command's arguments, the path put in for `{file}` (or
/// appended), with no access to the terminal.
fn launch_player(
    program: &std::path::Path,
    command: &str,
    path: &std::path::Path,
) -> Result<(), String> {
    let argv = player_argv(command, &path.to_string_lossy());
    let mut player = std::process::Command::new(program)
        .args(argv.iter().skip(1))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start the player '{}': {e}; check `player` under [recordings] in the config",
                program.display()
            )
        })?;
    // Reaped when it exits, so a shift of listening leaves no zombies behind.
    std::thread::spawn(move || player.wait());
    Ok(())
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

    #[test]
    fn the_player_is_looked_up_like_a_shell_would() {
        let dir = tempfile::tempdir().unwrap();
        let player = dir.path().join("fakeplay");
        std::fs::write(&player, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&player, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path_var =
            std::env::join_paths(["/nonexistent-dir", dir.path().to_str().unwrap()]).unwrap();

        assert_eq!(
            find_player("fakeplay --no-video {file}", Some(&path_var)),
            Ok(player.clone())
        );
        assert_eq!(
            find_player(&format!("{} {{file}}", player.display()), None),
            Ok(player.clone())
        );
        let missing = find_player("mpv {file}", Some(&path_var)).unwrap_err();
        assert!(missing.contains("'mpv' was not found"), "{missing}");
        assert!(missing.contains("`player` under [recordings]"), "{missing}");
        // A file that cannot be run is no player.
        std::fs::set_permissions(&player, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(find_player("fakeplay", Some(&path_var)).is_err());
        assert!(find_player("   ", Some(&path_var)).is_err());
    }
}
