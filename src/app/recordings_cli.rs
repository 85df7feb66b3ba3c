//! `callboard recordings fetch|list|export|delete`: the Recordings view's actions for scripts,
//! through the same store and [`RecordingFetcher`] as the TUI.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use tokio::sync::mpsc;

use crate::app::recordings::{
    ExportError, FetchError, FetchTarget, RecordingFetcher, export_dir, export_to,
    stored_recordings,
};
use crate::config::{self, Config};
use crate::rc::auth::Credentials;
use crate::rc::rest::{RestClient, RestConfig};
use crate::store::download::{CancelToken, DownloadConfig, DownloadError, DownloadEvent};
use crate::store::{RecordingMeta, RecordingStatus, Store, StoreConfig};
use crate::text::sanitize;
use crate::ui::downloads::{Downloads, human_bytes};

/// Call recordings in the local store.
#[derive(Debug, Args)]
pub struct RecordingsArgs {
    /// Data dir holding the store (default: CALLBOARD_DATA_DIR, else the XDG data dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: RecordingsCommand,
}

#[derive(Debug, Subcommand)]
pub enum RecordingsCommand {
    /// Download a recording into the store (resumes an interrupted one; a stored one is not
    /// fetched again). ID is a recording id, or a call's telephonySessionId (looked up in the
    /// call log, waiting for the platform to publish it).
    Fetch {
        #[arg(value_name = "TELEPHONY_SESSION_ID|RECORDING_ID")]
        id: String,
    },
    /// List the recordings in the store.
    List {
        /// One JSON array of the metadata records instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write a stored recording to a file (mode 0600), verifying its sha256 on the way. An
    /// existing file is not replaced without --force.
    Export {
        #[arg(value_name = "RECORDING_ID")]
        id: String,
        /// File to write, or a directory (the name is then recording-ID.wav/.mp3). Default:
        /// `export_dir` under [recordings] in the config, else the current directory.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Remove a recording from the store.
    Delete {
        #[arg(value_name = "RECORDING_ID")]
        id: String,
    },
}

/// Runs a `callboard recordings` command.
pub fn run(args: RecordingsArgs, config_file: Option<PathBuf>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("callboard recordings: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(args, config_file)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if was_interrupted(&e) => {
            eprintln!("callboard recordings: {}", error_chain(&e));
            // 128 + SIGINT, as a shell reports a command stopped by Ctrl-C.
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("callboard recordings: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// A fetch stopped by Ctrl-C (its lookup or its download).
fn was_interrupted(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<FetchError>(),
        Some(FetchError::Cancelled { .. } | FetchError::Download(DownloadError::Cancelled { .. }))
    )
}

/// The error and its causes, joined with `: `, leaving out a cause whose text the message
/// already carries (the store and download errors embed their source in their own text).
fn error_chain(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

async fn execute(args: RecordingsArgs, config_file: Option<PathBuf>) -> anyhow::Result<()> {
    let config = Config::load(config_file.as_deref())?;
    let dir = match args.data_dir {
        Some(dir) => dir,
        None => config::data_dir()?,
    };
    let store = Store::open(
        &dir,
        StoreConfig {
            cap_bytes: config.store_cap_bytes,
            ..StoreConfig::default()
        },
    )?;
    match args.command {
        RecordingsCommand::Fetch { id } => fetch(&config, store, &id).await,
        RecordingsCommand::List { json } => list(&store, json),
        RecordingsCommand::Export { id, out, force } => {
            let out = out.unwrap_or_else(|| export_dir(config.recording_export_dir.as_deref()));
            let report = tokio::task::spawn_blocking(move || export_to(&store, &id, &out, force))
                .await
                .context("the export task stopped")?
                .map_err(|error| match error {
                    ExportError::Exists { path } => anyhow::anyhow!(
                        "{} already exists; pass --force to replace it, or choose another --out",
                        path.display()
                    ),
                    other => other.into(),
                })?;
            println!(
                "wrote {} ({} bytes, sha256 {})",
                report.path.display(),
                report.bytes,
                report.sha256_hex
            );
            Ok(())
        }
        RecordingsCommand::Delete { id } => {
            let removed = tokio::task::spawn_blocking(move || {
                store.delete_recording(&id).map(|removed| (removed, id))
            })
            .await
            .context("the delete task stopped")??;
            match removed {
                (true, id) => println!("deleted recording {id}"),
                (false, id) => anyhow::bail!("no recording {} in the store", sanitize(&id)),
            }
            Ok(())
        }
    }
}

async fn fetch(config: &Config, store: Store, id: &str) -> anyhow::Result<()> {
    let platform = config.credentials.as_ref().context(
        "no RingCentral credentials are configured; set RC_SERVER_URL, RC_CLIENT_ID, RC_CLIENT_SECRET and RC_JWT (or the config file) to fetch recordings",
    )?;
    let credentials = Credentials::from_config(platform)?;
    let rest = Arc::new(RestClient::connect(credentials, RestConfig::default())?);
    let download_config = DownloadConfig {
        max_concurrent: config.download_concurrency,
        ..DownloadConfig::default()
    };
    let (events_tx, events) = mpsc::channel(64);
    let fetcher = RecordingFetcher::new(rest, store, download_config, events_tx.clone())?;
    let cancel = CancelToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    let printer = tokio::spawn(print_progress(events));
    let target = FetchTarget::parse(id);
    let result = fetcher.fetch(&target, cancel, &events_tx).await;
    drop(events_tx);
    drop(fetcher);
    let _ = printer.await;
    let report = result?;
    let meta = &report.meta;
    let verb = if report.already_stored {
        "already stored"
    } else if report.resumed_from > 0 {
        "stored (resumed)"
    } else {
        "stored"
    };
    println!(
        "{verb} recording {} ({} bytes, {}, sha256 {})",
        meta.recording_id,
        meta.length.unwrap_or_default(),
        meta.content_type.as_deref().unwrap_or("unknown type"),
        meta.sha256.as_deref().unwrap_or("-")
    );
    Ok(())
}

/// Prints the latest progress to stderr once a fetch has run for a second (a quick fetch stays
/// silent), then once a second: rewritten in place on a terminal, one line each otherwise. A
/// wait counts down each second from when it was announced. Final outcomes are the command's
/// own output (stdout or the error), not progress.
async fn print_progress(mut events: mpsc::Receiver<DownloadEvent>) {
    const EVERY: Duration = Duration::from_secs(1);
    let in_place = std::io::stderr().is_terminal();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
    let mut downloads = Downloads::default();
    // The lookup or download the latest event was about; the line shows it.
    let mut current: Option<String> = None;
    let mut line_open = false;
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                let id = event.recording_id.clone();
                downloads.apply(event, chrono::Utc::now());
                current = Some(id);
            }
            _ = ticks.tick() => {
                let Some(row) = current.as_deref().and_then(|id| downloads.row(id)) else {
                    continue;
                };
                if !row.is_running() {
                    continue;
                }
                let line = format!(
                    "recording {}: {}",
                    sanitize(&row.id),
                    row.describe(chrono::Utc::now())
                );
                let mut err = std::io::stderr().lock();
                let _ = if in_place {
                    write!(err, "\r\x1b[2K{line}")
                } else {
                    writeln!(err, "{line}")
                };
                let _ = err.flush();
                line_open = in_place;
            }
        }
    }
    if line_open {
        eprintln!();
    }
}

/// One entry of `recordings list --json`: the store's record, plus the content bytes it holds
/// (for a partial download, how far a fetch resumes; for a complete one, its length).
#[derive(serde::Serialize)]
struct ListedRecording<'a> {
    #[serde(flatten)]
    meta: &'a RecordingMeta,
    stored_bytes: u64,
}

fn list(store: &Store, json: bool) -> anyhow::Result<()> {
    let (recordings, partial_bytes) = stored_recordings(store)?;
    let stored_bytes = |meta: &RecordingMeta| {
        partial_bytes
            .get(&meta.recording_id)
            .copied()
            .or(meta.length)
            .unwrap_or_default()
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        let listed: Vec<ListedRecording> = recordings
            .iter()
            .map(|meta| ListedRecording {
                meta,
                stored_bytes: stored_bytes(meta),
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &listed)?;
        writeln!(out)?;
        return Ok(());
    }
    if recordings.is_empty() {
        writeln!(
            out,
            "no recordings stored; fetch one with `callboard recordings fetch ID`"
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<14} {:<9} {:>16} {:<20} {:<18} {:<16} AGENT",
        "RECORDING", "STATUS", "SIZE", "FETCHED", "CALLER", "QUEUE"
    )?;
    for meta in &recordings {
        writeln!(out, "{}", list_line(meta, stored_bytes(meta)))?;
    }
    // What the unfinished ones need, said once under the table.
    for meta in &recordings {
        let id = sanitize(&meta.recording_id);
        match meta.status {
            RecordingStatus::Complete => {}
            RecordingStatus::Partial => writeln!(
                out,
                "{id}: partial, {} stored — resumes on fetch: callboard recordings fetch {id}",
                size_text(stored_bytes(meta), meta.length)
            )?,
            RecordingStatus::NeedsRefetch => writeln!(
                out,
                "{id}: damaged ({}) — fetched again from the start by: callboard recordings fetch {id}",
                sanitize(
                    meta.refetch_reason
                        .as_deref()
                        .unwrap_or("no reason recorded")
                )
            )?,
        }
    }
    Ok(())
}

/// `2.3 MiB`, or `1.5 MiB of 3.8 MiB` for a part of a known total.
fn size_text(bytes: u64, total: Option<u64>) -> String {
    match total {
        Some(total) if total != bytes => {
            format!("{} of {}", human_bytes(bytes), human_bytes(total))
        }
        _ => human_bytes(bytes),
    }
}

fn list_line(meta: &RecordingMeta, stored_bytes: u64) -> String {
    let text = |value: &Option<String>| sanitize(value.as_deref().unwrap_or("-")).into_owned();
    let status = match meta.status {
        RecordingStatus::Complete => "complete",
        RecordingStatus::Partial => "partial",
        RecordingStatus::NeedsRefetch => "refetch",
    };
    let fetched = meta
        .fetched_at
        .map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".to_owned());
    format!(
        "{:<14} {:<9} {:>16} {:<20} {:<18} {:<16} {}",
        sanitize(&meta.recording_id),
        status,
        size_text(stored_bytes, meta.length),
        fetched,
        text(&meta.call.caller),
        text(&meta.call.queue),
        text(&meta.call.agent)
    )
}
