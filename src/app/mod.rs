//! The app loop: the one writer of board and UI state.
//!
//! Producers (the terminal reader, signal handlers, the platform session, REST and job workers)
//! each own a `Sender<Msg>`; the loop drains every pending message, marks the screen dirty if
//! anything visible changed, and draws only when dirty — at most every [`FRAME_INTERVAL`], or
//! every [`INPUT_FRAME_INTERVAL`] when answering a key — each frame inside synchronized
//! output so SSH and tmux never show a half-drawn screen. A 1 Hz tick runs only while something
//! on screen counts seconds; otherwise the loop sleeps until the next minute for the clock.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use crossterm::event::{Event, EventStream, MouseEventKind};
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub mod numbers;
pub mod platform;
pub mod recordings;
pub mod recordings_cli;
pub mod recordings_tui;
pub mod relabel;

use crate::board::{Applied, Board};
use crate::store::{Store, StoreConfig};
use crate::ui::render::{self, table_rows_for_height};
use crate::ui::state::UiState;
use crate::ui::terminal::TerminalGuard;
use crate::ui::theme::Theme;
use crate::ui::update::{self, Context, Effect};
use crate::ui::views;

/// The frame-rate cap for changes from the platform and the clock: bursts of events coalesce
/// into one frame per interval. Ten frames a second is faster than anyone reads a changing
/// row, and over SSH it bounds the bytes a busy account sends (each frame carries every change
/// since the last, so fewer frames write less in all).
pub const FRAME_INTERVAL: Duration = Duration::from_millis(100);

/// The cap for frames that answer a key, a paste or a resize: typing and moving the cursor
/// show at once (within a 60 Hz frame), whatever the board is doing.
pub const INPUT_FRAME_INTERVAL: Duration = Duration::from_millis(16);

/// Which signal asked us to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM: the system or a supervisor asked.
    Terminate,
    /// SIGHUP: the terminal (an SSH session) went away.
    HangUp,
    /// SIGINT sent by another process.
    Interrupt,
}

/// The one message type into the loop.
#[derive(Debug)]
pub enum Msg {
    /// A key, paste or resize from the terminal.
    Terminal(Event),
    /// The terminal reader failed: there is no way to take input any more.
    TerminalClosed(String),
    Signal(StopSignal),
    /// What the platform session reports: state, notifications, REST snapshots.
    Session(crate::rc::ws::SessionEvent),
    /// The relabel worker: writes kept as pending, a write's outcome, a problem to show.
    Relabel(relabel::RelabelEvent),
    /// Something a worker wants the user to see (a failed bootstrap step, a rate-limit wait).
    Notice {
        text: String,
        is_error: bool,
    },
    /// A recording download moved on.
    Download(crate::store::download::DownloadEvent),
    /// An ended call's recording was found in the call log; its download now reports under
    /// `recording_id`.
    RecordingFound {
        session_id: String,
        recording_id: String,
    },
    /// An export found a file at its target: ask before replacing it.
    ConfirmExportOverwrite {
        recording_id: String,
        path: std::path::PathBuf,
    },
    /// Who the credentials belong to (a real account only): the status line names the account.
    SignedIn(crate::rc::account::SignedInUser),
}

/// Board, UI state and theme, with the logic that turns messages into state. No IO here: the
/// loop in [`run`] does the terminal and the channels, so this can be driven by tests.
pub struct App {
    pub board: Board,
    pub ui: UiState,
    pub theme: Theme,
    /// Where user theme files live, for `:theme NAME`.
    pub themes_dir: Option<PathBuf>,
    /// Names of the user's theme files, for `:theme` completion.
    pub user_themes: Vec<String>,
    /// Where relabel requests go; `None` when nothing can write labels (the effect then fails
    /// with a message instead of vanishing).
    pub relabel_tx: Option<mpsc::Sender<RelabelRequest>>,
    /// The local store, when it could be opened (another callboard may hold it).
    pub store: Option<Store>,
    /// Recording fetch, export, play and delete; `None` without a store.
    pub recordings: Option<recordings_tui::RecordingJobs>,
    /// The board changed since breaches were last checked. Checking computes every queue's
    /// row, so it is done once before a frame ([`App::before_frame`]) rather than once per
    /// event: at 50 events a second it was the largest part of the loop's steady CPU.
    breaches_stale: bool,
}

pub use relabel::RelabelRequest;

impl App {
    pub fn new(board: Board, ui: UiState, theme: Theme, themes_dir: Option<PathBuf>) -> App {
        let user_themes = themes_dir
            .as_deref()
            .map(list_user_themes)
            .unwrap_or_default();
        App {
            board,
            ui,
            theme,
            themes_dir,
            user_themes,
            relabel_tx: None,
            store: None,
            recordings: None,
            breaches_stale: false,
        }
    }

    /// Work put off while a burst of messages is handled, done once before the next frame:
    /// the breach check, when the board changed. Returns the effects the loop must carry out.
    pub fn before_frame(&mut self, now: DateTime<Utc>) -> Vec<Effect> {
        if self.breaches_stale {
            self.check_breaches(now)
        } else {
            Vec::new()
        }
    }

    /// Applies one message. Returns the effects the loop must carry out.
    pub fn handle(&mut self, msg: Msg, now: DateTime<Utc>) -> Vec<Effect> {
        match msg {
            Msg::Terminal(Event::Key(key)) => {
                let ctx = Context {
                    board: &self.board,
                    now,
                    user_themes: &self.user_themes,
                };
                let effects = update::on_key(&mut self.ui, &ctx, key);
                self.refresh_stored_recordings(now);
                self.refresh_relabel_audit(now);
                effects
            }
            Msg::Terminal(Event::Paste(text)) => {
                update::on_paste(&mut self.ui, &text);
                Vec::new()
            }
            Msg::Terminal(Event::Resize(_, height)) => {
                self.ui.page_rows = table_rows_for_height(height).max(1);
                Vec::new()
            }
            Msg::Terminal(Event::Mouse(mouse)) => {
                // Only with --mouse: the wheel moves the selection; clicks stay the terminal's.
                let action = match mouse.kind {
                    MouseEventKind::ScrollDown => Some(crate::ui::keys::Action::Down),
                    MouseEventKind::ScrollUp => Some(crate::ui::keys::Action::Up),
                    _ => None,
                };
                match action {
                    Some(action) if self.ui.overlay.is_none() && self.ui.input.is_none() => {
                        let ctx = Context {
                            board: &self.board,
                            now,
                            user_themes: &self.user_themes,
                        };
                        update::apply(&mut self.ui, &ctx, action)
                    }
                    _ => Vec::new(),
                }
            }
            Msg::Terminal(_) => Vec::new(),
            Msg::TerminalClosed(reason) => {
                tracing::error!(%reason, "terminal input closed; quitting");
                self.ui.quit = true;
                Vec::new()
            }
            Msg::Signal(signal) => {
                tracing::info!(?signal, "stopping on signal");
                self.ui.quit = true;
                Vec::new()
            }
            Msg::Session(event) => self.on_session(event, now),
            Msg::Relabel(event) => {
                self.on_relabel(event, now);
                Vec::new()
            }
            Msg::SignedIn(user) => {
                if matches!(self.ui.source, crate::ui::state::Source::Account(_)) {
                    self.ui.source = crate::ui::state::Source::Account(user.account_label());
                }
                Vec::new()
            }
            Msg::Notice { text, is_error } => {
                self.ui.flash(text, is_error, now);
                self.refresh_stored_recordings(now);
                Vec::new()
            }
            Msg::RecordingFound {
                session_id,
                recording_id,
            } => {
                self.ui.downloads.forget(&session_id);
                if let Some(jobs) = &mut self.recordings {
                    jobs.lookup_handed_over(&session_id, &recording_id);
                }
                tracing::info!(session_id, recording_id, "recording found in the call log");
                Vec::new()
            }
            Msg::Download(event) => {
                let id = event.recording_id.clone();
                if self.ui.downloads.apply(event, now) {
                    // A lookup that failed or was cancelled ends under its session id.
                    if let Some(jobs) = &mut self.recordings {
                        jobs.lookup_finished(&id);
                    }
                    self.refresh_stored_recordings(now);
                }
                Vec::new()
            }
            Msg::ConfirmExportOverwrite { recording_id, path } => {
                self.ui.overlay =
                    Some(crate::ui::state::Overlay::ConfirmExportOverwrite { recording_id, path });
                Vec::new()
            }
        }
    }

    /// While the audit view is shown, keep its copy of the store's audit current.
    fn refresh_relabel_audit(&mut self, now: DateTime<Utc>) {
        if self.ui.screen().kind != crate::ui::state::ScreenKind::Audit {
            return;
        }
        let Some(store) = &self.store else {
            self.ui.flash(
                "no relabel audit: the local store is unavailable",
                true,
                now,
            );
            return;
        };
        match store.audit_recent(crate::ui::relabel::AUDIT_ROWS) {
            Ok(entries) => self.ui.relabel_audit = entries,
            Err(err) => self
                .ui
                .flash(format!("cannot read the relabel audit: {err}"), true, now),
        }
    }

    /// Pending rows, the bulk gauge, live re-attribution on success, the old label back on
    /// failure.
    fn on_relabel(&mut self, event: relabel::RelabelEvent, now: DateTime<Utc>) {
        crate::ui::relabel::on_event(&mut self.board, &mut self.ui, event, now);
        self.refresh_relabel_audit(now);
    }

    fn on_session(
        &mut self,
        event: crate::rc::ws::SessionEvent,
        now: DateTime<Utc>,
    ) -> Vec<Effect> {
        use crate::rc::ws::SessionEvent;
        match event {
            SessionEvent::State(state) => {
                let connection = platform::connection_of(&state);
                tracing::info!(?connection, "connection state");
                self.ui.connection = connection;
                Vec::new()
            }
            SessionEvent::Notification(frame) => {
                match crate::rc::apply::apply_notification(&mut self.board, frame.as_str(), now) {
                    Ok(event) if event.applied == Applied::Changed => {
                        self.ui.record_event(now);
                        self.breaches_stale = true;
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(error = %err, frame = %crate::text::sanitize_max(frame.as_str(), 200), "unreadable notification");
                    }
                }
                Vec::new()
            }
            SessionEvent::Synced(snapshot) => {
                let summary = crate::rc::apply::apply_snapshot(&mut self.board, &snapshot, now);
                tracing::info!(?summary, "synced with the platform");
                if let Some(warning) = snapshot.warnings.first() {
                    self.ui
                        .flash(crate::text::sanitize(warning).into_owned(), true, now);
                }
                self.check_breaches(now)
            }
            SessionEvent::LiveCallsWanted(reply) => {
                let _ = reply.send(crate::rc::apply::live_call_ids(&self.board));
                Vec::new()
            }
            SessionEvent::Warning(text) => {
                tracing::warn!(%text, "session warning");
                self.ui
                    .flash(crate::text::sanitize(&text).into_owned(), true, now);
                Vec::new()
            }
        }
    }

    /// The tick: timers moved on; breaches may have started (a wait crossing its threshold
    /// happens with no event at all).
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<Effect> {
        self.board.tick(now);
        self.persist_new_callers(now);
        self.refresh_stored_recordings(now);
        self.ui.downloads.expire(now);
        self.check_breaches(now)
    }

    /// Callers the board saw for the first time go to the store, batched once a tick, so the
    /// next run still knows them (first-time-caller counts survive a restart).
    fn persist_new_callers(&mut self, now: DateTime<Utc>) {
        let new_callers = self.board.take_new_callers();
        let Some(store) = &self.store else {
            return;
        };
        if new_callers.is_empty() {
            return;
        }
        if let Err(err) = store.mark_callers_seen(new_callers.iter().map(|n| (n.as_str(), now))) {
            tracing::warn!(error = %err, "cannot remember callers");
            self.ui.flash(format!("store: {err}"), true, now);
        }
    }

    /// While the Recordings view is open, keep its copy of the store's list current.
    fn refresh_stored_recordings(&mut self, now: DateTime<Utc>) {
        if self.ui.tab != crate::ui::state::Tab::Recordings {
            return;
        }
        let Some(store) = &self.store else {
            return;
        };
        match crate::app::recordings::stored_recordings(store) {
            Ok((list, partial_bytes)) => {
                self.ui.stored_recordings = list;
                self.ui.partial_bytes = partial_bytes;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot list stored recordings");
                self.ui.flash(format!("store: {err}"), true, now);
            }
        }
    }

    /// Rings the bell once per new breach (if enabled) and forgets acknowledgements of queues
    /// that recovered, so their next breach rings again.
    fn check_breaches(&mut self, now: DateTime<Utc>) -> Vec<Effect> {
        self.breaches_stale = false;
        let breached = views::breached_queues(&self.board, &self.ui, now);
        let fresh = breached.iter().any(|id| {
            !self.ui.breached.contains(id) && !self.ui.acknowledged_breaches.contains(id)
        });
        self.ui
            .acknowledged_breaches
            .retain(|id| breached.contains(id));
        self.ui.breached = breached;
        if fresh && self.ui.bell_enabled {
            vec![Effect::Bell]
        } else {
            Vec::new()
        }
    }

    /// How long until the screen's content changes by itself: one second while a timer is on
    /// screen, else the next minute (the status clock). Idle costs one wake-up a minute.
    pub fn next_tick(&self, now: DateTime<Utc>) -> Duration {
        // Download gauges and the outcomes that linger after them count seconds too.
        if views::timers_visible(&self.board, &self.ui, now) || !self.ui.downloads.is_empty() {
            let into_second = Duration::from_nanos(u64::from(now.nanosecond() % 1_000_000_000));
            Duration::from_secs(1)
                .saturating_sub(into_second)
                .max(Duration::from_millis(5))
        } else {
            Duration::from_secs(u64::from(60 - now.second()))
        }
    }

    /// Switches theme by name (from `:theme`).
    fn set_theme(&mut self, name: &str, now: DateTime<Utc>) {
        match Theme::load(name, self.themes_dir.as_deref()) {
            Ok(theme) => {
                self.theme = theme;
                self.ui.flash(format!("theme {name}"), false, now);
            }
            Err(err) => self.ui.flash(err.to_string(), true, now),
        }
    }
}

/// Read-only mode sends nothing, so relabels an earlier run left pending are reported instead.
fn report_pending_in_read_only(app: &mut App, now: DateTime<Utc>) {
    let Some(store) = &app.store else {
        return;
    };
    match store.pending_relabels() {
        Ok(pending) if !pending.is_empty() => app.ui.flash(
            format!(
                "{} relabel(s) confirmed earlier are still pending; read-only mode does not send them — run callboard without --read-only to finish them",
                pending.len()
            ),
            true,
            now,
        ),
        Ok(_) => {}
        Err(err) => app
            .ui
            .flash(format!("cannot read pending relabels: {err}"), true, now),
    }
}

/// Theme file names (without `.toml`) in the user's themes dir.
fn list_user_themes(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".toml").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

/// Forwards terminal events into the loop's channel.
pub fn spawn_terminal_reader(tx: mpsc::Sender<Msg>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut events = EventStream::new();
        while let Some(event) = events.next().await {
            let msg = match event {
                Ok(event) => Msg::Terminal(event),
                Err(err) => Msg::TerminalClosed(err.to_string()),
            };
            let closed = matches!(msg, Msg::TerminalClosed(_));
            if tx.send(msg).await.is_err() || closed {
                break;
            }
        }
    })
}

/// SIGTERM, SIGHUP and SIGINT quit through the loop, so the terminal is restored and the store flushed.
pub fn spawn_signal_listener(
    tx: mpsc::Sender<Msg>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    // Raw mode turns Ctrl-C into a key; a SIGINT from elsewhere (`kill -INT`) quits like it.
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::spawn(async move {
        let stop = tokio::select! {
            _ = term.recv() => StopSignal::Terminate,
            _ = hup.recv() => StopSignal::HangUp,
            _ = int.recv() => StopSignal::Interrupt,
        };
        let _ = tx.send(Msg::Signal(stop)).await;
    }))
}

/// Runs the loop until the user quits, a signal arrives or every producer is gone.
pub async fn run(
    app: &mut App,
    guard: &mut TerminalGuard,
    mut rx: mpsc::Receiver<Msg>,
) -> anyhow::Result<()> {
    let size = guard.terminal().size()?;
    app.ui.page_rows = table_rows_for_height(size.height).max(1);
    let mut dirty = true;
    // The next frame answers input: it may come sooner than the board's frame cap allows.
    let mut input_waiting = false;
    let mut last_draw: Option<Instant> = None;
    let mut next_tick = Instant::now() + app.next_tick(Utc::now());
    loop {
        let interval = if input_waiting {
            INPUT_FRAME_INTERVAL
        } else {
            FRAME_INTERVAL
        };
        if dirty && last_draw.is_none_or(|at| at.elapsed() >= interval) {
            for effect in app.before_frame(Utc::now()) {
                carry_out(app, guard, effect)?;
            }
            draw(app, guard)?;
            dirty = false;
            input_waiting = false;
            last_draw = Some(Instant::now());
        }
        let frame_due = last_draw.map_or_else(Instant::now, |at| at + interval);
        let mut effects = Vec::new();
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                let now = Utc::now();
                let mut handle = |app: &mut App, msg: Msg| {
                    let visible = changes_screen(&msg);
                    input_waiting |= matches!(msg, Msg::Terminal(_));
                    let revision = app.board.revision();
                    effects.extend(app.handle(msg, now));
                    dirty |= visible || app.board.revision() != revision;
                };
                handle(app, msg);
                // Drain whatever else is already queued before drawing: one frame per burst.
                while let Ok(msg) = rx.try_recv() {
                    handle(app, msg);
                }
            }
            _ = tokio::time::sleep_until(next_tick) => {
                let now = Utc::now();
                effects.extend(app.tick(now));
                next_tick = Instant::now() + app.next_tick(now);
                dirty = true;
            }
            _ = tokio::time::sleep_until(frame_due), if dirty => {}
        }
        for effect in effects {
            carry_out(app, guard, effect)?;
            dirty = true;
        }
        if app.ui.quit {
            break;
        }
        // A key may have made timers visible (e.g. switching to Calls): re-arm the tick.
        let wanted = Instant::now() + app.next_tick(Utc::now());
        if wanted < next_tick {
            next_tick = wanted;
        }
    }
    Ok(())
}

/// Whether handling `msg` can change the screen by itself. A notification the board drops
/// (a duplicate, a stale sequence, presence that changes nothing) shows only through the
/// board's revision, which the loop compares; everything else redraws.
fn changes_screen(msg: &Msg) -> bool {
    !matches!(
        msg,
        Msg::Session(crate::rc::ws::SessionEvent::Notification(_))
            | Msg::Session(crate::rc::ws::SessionEvent::LiveCallsWanted(_))
    )
}

fn draw(app: &App, guard: &mut TerminalGuard) -> anyhow::Result<()> {
    let now = Utc::now();
    let terminal = guard.terminal();
    crossterm::queue!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    terminal.draw(|frame| render::render(frame, &app.board, &app.ui, &app.theme, now))?;
    crossterm::queue!(terminal.backend_mut(), EndSynchronizedUpdate)?;
    terminal.backend_mut().flush()?;
    Ok(())
}

fn carry_out(app: &mut App, guard: &mut TerminalGuard, effect: Effect) -> anyhow::Result<()> {
    let now = Utc::now();
    match effect {
        Effect::Copy(text) => {
            if let Some(sequence) = crate::ui::clipboard::osc52_sequence(&text) {
                let backend = guard.terminal().backend_mut();
                backend.write_all(sequence.as_bytes())?;
                backend.flush()?;
            }
        }
        Effect::Bell => {
            let backend = guard.terminal().backend_mut();
            backend.write_all(b"\x07")?;
            backend.flush()?;
        }
        Effect::SetTheme(name) => app.set_theme(&name, now),
        Effect::Suspend => {
            guard.suspend()?;
        }
        Effect::FetchRecording { .. }
        | Effect::CancelDownload(_)
        | Effect::ExportRecording { .. }
        | Effect::PlayRecording(_)
        | Effect::DeleteRecording(_) => carry_out_recording(app, effect, now),
        Effect::Relabel(request) => {
            let sent = app
                .relabel_tx
                .as_ref()
                .is_some_and(|tx| tx.try_send(request).is_ok());
            if !sent {
                app.ui.flash(
                    "cannot relabel now: the platform connection is not ready; try again in a moment",
                    true,
                    now,
                );
            }
        }
    }
    Ok(())
}

fn carry_out_recording(app: &mut App, effect: Effect, now: DateTime<Utc>) {
    let Some(jobs) = app.recordings.as_mut() else {
        app.ui.flash(
            "recordings need the local store, which could not be opened (see the notice at start)",
            true,
            now,
        );
        return;
    };
    match effect {
        Effect::FetchRecording { from, call } => jobs.fetch(from, call),
        Effect::CancelDownload(id) if !jobs.cancel(&id) => {
            app.ui
                .flash(format!("no download of {id} is running"), true, now);
        }
        Effect::ExportRecording {
            recording_id,
            path,
            replace,
        } => jobs.export(recording_id, path, replace),
        Effect::PlayRecording(id) => jobs.play(id),
        Effect::DeleteRecording(id) => jobs.delete(id),
        _ => {}
    }
}

/// What the command line adds to the config for the live board.
#[derive(Debug, Clone, Default)]
pub struct LaunchOptions {
    /// `--config` / `CALLBOARD_CONFIG`.
    pub config: Option<PathBuf>,
    /// `--theme` / `CALLBOARD_THEME`.
    pub theme: Option<String>,
    pub read_only: bool,
    pub mouse: bool,
    pub bell: bool,
}

/// Starts logging to `<data dir>/callboard.log` (never the terminal: it belongs to the board).
/// `CALLBOARD_LOG` sets the filter (default `info`). Keep the guard until exit so the last lines
/// are written.
pub fn init_logging(
    data_dir: &std::path::Path,
) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    use anyhow::Context as _;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let appender = tracing_appender::rolling::never(data_dir, LOG_FILE_NAME);
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("CALLBOARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .map_err(|err| anyhow::anyhow!("cannot start logging: {err}"))?;
    Ok(guard)
}

/// The log file's name inside the data dir.
pub const LOG_FILE_NAME: &str = "callboard.log";

/// Everything the board needs, resolved from config, environment and flags before the terminal
/// is touched, so every mistake is reported on a normal screen.
pub struct Prepared {
    pub config: crate::config::Config,
    pub theme: Theme,
    pub themes_dir: Option<PathBuf>,
    pub keymap: crate::ui::keys::KeyMap,
    pub data_dir: PathBuf,
    pub read_only: bool,
    pub mouse: bool,
    pub bell: bool,
}

pub fn prepare(options: &LaunchOptions) -> anyhow::Result<Prepared> {
    let config = crate::config::Config::load(options.config.as_deref())?;
    let config_file = crate::config::config_path(options.config.as_deref());
    let themes_dir = config_file.as_deref().map(crate::config::themes_dir);
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme_name = crate::ui::theme::choose_theme_name(
        options.theme.as_deref(),
        None,
        config.theme.as_deref(),
        no_color,
    );
    let theme = Theme::load(theme_name, themes_dir.as_deref())?;
    let read_only = options.read_only || config.read_only;
    let keymap = crate::ui::keys::KeyMap::build(&config.key_overrides, read_only)?;
    let data_dir = crate::config::data_dir()?;
    Ok(Prepared {
        mouse: options.mouse || config.mouse,
        bell: options.bell || config.bell,
        config,
        theme,
        themes_dir,
        keymap,
        data_dir,
        read_only,
    })
}

/// Runs the live board until the user quits. The terminal is restored on every way out.
pub fn launch(options: LaunchOptions) -> anyhow::Result<()> {
    let prepared = prepare(&options)?;
    let _log_guard = init_logging(&prepared.data_dir)?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = ?prepared.config.source,
        theme = %prepared.theme.name,
        read_only = prepared.read_only,
        demo = prepared.config.credentials.is_none(),
        "callboard starting"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(run_board(prepared));
    // Workers (WebSocket session, simulator) are told to stop by their channels closing; do not
    // wait long for stragglers.
    runtime.shutdown_timeout(Duration::from_millis(500));
    if let Err(err) = &result {
        tracing::error!(error = %err, "callboard stopped with an error");
    }
    result
}

async fn run_board(prepared: Prepared) -> anyhow::Result<()> {
    let config = &prepared.config;
    let mut board_config = crate::board::BoardConfig {
        time_zone: config.time_zone,
        rolling_window_minutes: config.rolling_window_minutes,
        finished_call_horizon: chrono::Duration::minutes(i64::from(config.finished_calls_minutes)),
        ..crate::board::BoardConfig::default()
    };
    if let Some(grammar) = &config.label_grammar {
        board_config.label_grammar = grammar.clone();
    }
    // The store gives the board what it knew last time: callers seen before (first-time caller
    // counts) and the number list (attribution before the first REST page). Without it the
    // board still works; the status line says why.
    let mut notices = Vec::new();
    let store = match Store::open(
        &prepared.data_dir,
        StoreConfig {
            cap_bytes: config.store_cap_bytes,
            ..StoreConfig::default()
        },
    ) {
        Ok(store) => Some(store),
        Err(err) => {
            tracing::warn!(error = %err, "store unavailable");
            notices.push(format!("local store unavailable: {err}"));
            None
        }
    };
    let known_callers = match store.as_ref().map(Store::seen_callers).transpose() {
        Ok(callers) => callers.unwrap_or_default(),
        Err(err) => {
            notices.push(format!("cannot read known callers: {err}"));
            Default::default()
        }
    };
    let mut board = Board::new(board_config, known_callers);
    if let Some(cached) = store
        .as_ref()
        .and_then(|s| s.cached_numbers().ok().flatten())
    {
        let numbers: Vec<crate::rc::records::PhoneNumber> = cached
            .records
            .into_iter()
            .filter_map(|record| serde_json::from_value(record).ok())
            .collect();
        board.set_numbers(&numbers, Utc::now());
    }
    let source = if config.credentials.is_some() {
        crate::ui::state::Source::Account(
            config
                .credentials
                .as_ref()
                .and_then(|c| url::Url::parse(&c.server_url).ok())
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "RingCentral".into()),
        )
    } else {
        crate::ui::state::Source::Demo
    };
    let mut ui = UiState::new(
        prepared.keymap.clone(),
        source,
        config.rolling_window_minutes,
        prepared.bell,
    );
    ui.time_zone = config.time_zone;
    ui.export_dir = recordings::export_dir(config.recording_export_dir.as_deref());
    let mut app = App::new(
        board,
        ui,
        prepared.theme.clone(),
        prepared.themes_dir.clone(),
    );
    app.store = store;

    let (tx, rx) = mpsc::channel::<Msg>(4096);
    // The platform starts before the terminal is taken, so a failure prints on a normal screen.
    let (platform, relabel_tx) = platform::start(
        config.credentials.as_ref(),
        &config.relabel_path,
        config.time_zone,
        app.store.clone(),
        prepared.read_only,
        tx.clone(),
    )
    .await?;
    if prepared.read_only {
        report_pending_in_read_only(&mut app, Utc::now());
    }
    app.relabel_tx = Some(relabel_tx);
    if let Some(store) = &app.store {
        match recordings_tui::RecordingJobs::start(
            platform.rest().clone(),
            store.clone(),
            config.download_concurrency,
            config.recording_player.clone(),
            tx.clone(),
        ) {
            Ok(jobs) => app.recordings = Some(jobs),
            Err(err) => tracing::warn!(error = %err, "recording downloads unavailable"),
        }
    }
    let mut guard = TerminalGuard::enter(prepared.mouse)?;
    let reader = spawn_terminal_reader(tx.clone());
    let signals = spawn_signal_listener(tx.clone())?;
    let result = run(&mut app, &mut guard, rx).await;
    reader.abort();
    signals.abort();
    drop(guard);
    platform.shutdown().await;
    // Whatever the tick had not yet written goes now; sled flushes what it holds.
    app.persist_new_callers(Utc::now());
    if let Some(store) = &app.store
        && let Err(err) = store.flush()
    {
        tracing::warn!(error = %err, "store flush failed");
    }
    result
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::board::BoardConfig;
    use crate::ui::keys::KeyMap;
    use crate::ui::state::Source;

    fn idle_app() -> App {
        let ui = UiState::new(KeyMap::defaults(), Source::Demo, 30, false);
        let theme = Theme::built_in("mono").unwrap();
        App::new(
            Board::new(BoardConfig::default(), Vec::<String>::new()),
            ui,
            theme,
            None,
        )
    }

    #[test]
    fn an_idle_board_wakes_once_a_minute_for_the_clock() {
        let app = idle_app();
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 14, 3, 15).unwrap();
        assert_eq!(app.next_tick(now), Duration::from_secs(45));
    }

    #[test]
    fn visible_timers_tick_on_the_second() {
        let mut app = idle_app();
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 14, 3, 15).unwrap()
            + chrono::Duration::milliseconds(250);
        app.ui.record_event(now);
        assert_eq!(app.next_tick(now), Duration::from_millis(750));
    }

    #[test]
    fn signals_and_a_closed_terminal_quit_through_the_loop() {
        let mut app = idle_app();
        let now = Utc::now();
        app.handle(Msg::Signal(StopSignal::HangUp), now);
        assert!(app.ui.quit);
        let mut app = idle_app();
        app.handle(Msg::TerminalClosed("stdin closed".into()), now);
        assert!(app.ui.quit);
    }

    #[test]
    fn the_status_line_names_the_account_once_the_platform_says_which() {
        use crate::rc::account::SignedInUser;
        let user = SignedInUser {
            account_id: Some("37439510".into()),
            extension_id: "63012345".into(),
            name: Some("Jane Smith".into()),
            extension_number: Some("101".into()),
        };
        let mut app = idle_app();
        app.ui.source = Source::Account("platform.ringcentral.com".into());
        app.handle(Msg::SignedIn(user.clone()), Utc::now());
        assert_eq!(app.ui.source, Source::Account("acct 37439510".into()));

        // The demo stays the demo whatever a worker reports.
        let mut demo = idle_app();
        demo.handle(Msg::SignedIn(user), Utc::now());
        assert_eq!(demo.ui.source, Source::Demo);
    }

    #[test]
    fn only_what_the_board_drops_goes_undrawn() {
        use crate::rc::ws::{RawFrame, SessionEvent};
        let notification =
            Msg::Session(SessionEvent::Notification(RawFrame::from("{}".to_string())));
        // A notification shows through the board's revision, which the loop compares.
        assert!(!changes_screen(&notification));
        let key = Msg::Terminal(Event::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char('j'),
        )));
        assert!(changes_screen(&key));
        let warning = Msg::Session(SessionEvent::Warning("renewal failed".into()));
        assert!(changes_screen(&warning));
        assert!(changes_screen(&Msg::Signal(StopSignal::HangUp)));
        assert!(INPUT_FRAME_INTERVAL < FRAME_INTERVAL);
    }

    #[test]
    fn a_resize_sets_the_page_size() {
        let mut app = idle_app();
        app.handle(Msg::Terminal(Event::Resize(80, 24)), Utc::now());
        assert_eq!(app.ui.page_rows, table_rows_for_height(24));
    }
}
