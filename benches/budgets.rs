//! `cargo bench --bench budgets [NAME…]`: every performance budget of issue 7, each measured
//! against a baseline taken in the same run (these machines are shared and noisy), ending in one
//! summary table. NAME selects budgets whose name contains it (`ingest`, `render`, `key`,
//! `memory`, `recording`, `e2e`, `terminal`, `start`). docs/PERFORMANCE.md explains each figure.
//!
//! In-process budgets time the library with warm-up and several samples and report medians;
//! the terminal budgets drive the real binary in a pseudo-terminal (support/pty.rs). Memory and
//! recording budgets run in child processes of this binary, so each peak RSS starts fresh.

#[path = "support/pty.rs"]
mod pty;
#[path = "support/traffic.rs"]
mod traffic;

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use callboard::board::{Board, BoardConfig};
use callboard::ui::keys::KeyMap;
use callboard::ui::render::render;
use callboard::ui::scrolling_backend::ScrollingBackend;
use callboard::ui::state::{Connection, Source, Tab, UiState};
use callboard::ui::theme::Theme;
use callboard::ui::update::{Context, on_key};
use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::{Backend, CrosstermBackend, TestBackend};
use ratatui::layout::{Rect, Size};
use ratatui::{Terminal, TerminalOptions, Viewport};

/// Set in a child process of this binary to the one measurement it is to make.
const CHILD_ENV: &str = "CALLBOARD_BENCH_CHILD";
const BINARY: &str = env!("CARGO_BIN_EXE_callboard");
/// Terminal size of every screen budget (issue 7).
const COLS: u16 = 120;
const ROWS: u16 = 40;
/// Begin / end synchronized update: the app wraps every frame in these, so they count frames.
const FRAME_END: &[u8] = b"\x1b[?2026l";
/// The status line's word once the session is up (the frame diff writes it in one run; the
/// glyph before it may be sent apart, after a cursor move).
const LIVE_MARK: &str = "live";
const RECORDING_BYTES: u64 = 200 * 1000 * 1000;

/// One line of the summary table.
struct Row {
    what: String,
    figure: String,
    baseline: String,
    ratio: String,
    budget: String,
    /// None for figures shown for the growth curves, which carry no budget of their own.
    pass: Option<bool>,
}

impl Row {
    fn info(
        what: impl Into<String>,
        figure: impl Into<String>,
        baseline: impl Into<String>,
    ) -> Row {
        Row {
            what: what.into(),
            figure: figure.into(),
            baseline: baseline.into(),
            ratio: String::new(),
            budget: String::new(),
            pass: None,
        }
    }
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Ok(child) = std::env::var(CHILD_ENV) {
        child_main(&child);
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs bench targets without it,
    // in a debug build, where the figures would mean nothing and take minutes: skip there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("budgets: measured only by `cargo bench --bench budgets` (release build)");
        return;
    }
    // Any other word selects budgets by name.
    let selectors: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected =
        |name: &str| selectors.is_empty() || selectors.iter().any(|s| name.contains(s.as_str()));
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut board_ingest_rate = None;
    if selected("ingest") {
        board_ingest_rate = Some(ingest(&mut rows));
        board_cost_vs_calls_held(&mut rows);
    }
    if selected("render") {
        render_cost(&mut rows);
    }
    if selected("key") {
        key_latency(&mut rows);
    }
    if selected("memory") {
        memory(&mut rows);
    }
    if selected("recording") {
        recording(&mut rows);
    }
    if selected("e2e") {
        end_to_end_ingest(&mut rows, board_ingest_rate);
    }
    if selected("terminal") {
        terminal_steady_and_idle(&mut rows);
    }
    if selected("start") {
        start(&mut rows);
    }
    print_summary(&rows, started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// Timing

/// Median of `samples` runs of `f` after `warmup` unmeasured ones.
fn median_time(warmup: usize, samples: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..warmup {
        f();
    }
    let mut times: Vec<Duration> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(mut values: Vec<f64>, p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let index = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[index]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn check(pass: bool) -> Option<bool> {
    Some(pass)
}

// ---------------------------------------------------------------------------------------------
// Ingest

/// Frames → board, events/s, against `serde_json::from_slice::<Value>` of the same frames.
/// Returns the board's rate for the end-to-end budget's baseline.
fn ingest(rows: &mut Vec<Row>) -> f64 {
    let frames = traffic::world_frames(40_000);
    let count = frames.len() as f64;
    let bytes: usize = frames.iter().map(|f| f.text.len()).sum();
    eprintln!(
        "ingest: {} frames, {:.0} bytes each on average",
        frames.len(),
        bytes as f64 / count
    );
    let value_parse = || {
        for frame in &frames {
            black_box(serde_json::from_slice::<serde_json::Value>(frame.text.as_bytes()).ok());
        }
    };
    let typed_parse = || {
        for frame in &frames {
            black_box(callboard::rc::events::parse_frame(&frame.text).ok());
        }
    };
    // What the board's path parses: the notification alone (of the meta only `type`).
    let notification_parse = || {
        for frame in &frames {
            black_box(callboard::rc::events::parse_notification(&frame.text).ok());
        }
    };
    let board_ingest = || {
        let mut board = Board::new(BoardConfig::default(), Vec::<String>::new());
        for frame in &frames {
            black_box(board.apply_frame(&frame.text, frame.at).ok());
        }
        black_box(board.call_count());
    };
    // Interleaved rounds, so a burst of load from other processes hits all four alike.
    let (mut value_times, mut typed_times, mut board_times) = (Vec::new(), Vec::new(), Vec::new());
    let mut notification_times = Vec::new();
    for round in 0..7 {
        let warm = usize::from(round == 0);
        value_times.push(median_time(warm, 1, value_parse).as_secs_f64());
        typed_times.push(median_time(warm, 1, typed_parse).as_secs_f64());
        notification_times.push(median_time(warm, 1, notification_parse).as_secs_f64());
        board_times.push(median_time(warm, 1, board_ingest).as_secs_f64());
    }
    let value_rate = count / median(value_times);
    let typed_rate = count / median(typed_times);
    let notification_rate = count / median(notification_times);
    let board_rate = count / median(board_times);
    let ratio = board_rate / value_rate;
    rows.push(Row {
        what: "ingest: frames → board".into(),
        figure: format!("{:.0}k ev/s", board_rate / 1000.0),
        baseline: format!("{:.0}k ev/s Value parse", value_rate / 1000.0),
        ratio: format!("{ratio:.2}×"),
        budget: "≥ 2.0×".into(),
        pass: check(ratio >= 2.0),
    });
    rows.push(Row {
        ratio: format!("{:.2}×", typed_rate / value_rate),
        ..Row::info(
            "  typed parse alone (rc::events)",
            format!("{:.0}k ev/s", typed_rate / 1000.0),
            format!("{:.0}k ev/s Value parse", value_rate / 1000.0),
        )
    });
    rows.push(Row {
        ratio: format!("{:.2}×", notification_rate / value_rate),
        ..Row::info(
            "  the board's parse alone (parse_notification)",
            format!("{:.0}k ev/s", notification_rate / 1000.0),
            format!("{:.0}k ev/s Value parse", value_rate / 1000.0),
        )
    });
    board_rate
}

/// The board's per-event cost with more and more calls held: the same 20 000 frames applied to
/// boards already holding live and finished calls.
fn board_cost_vs_calls_held(rows: &mut Vec<Row>) {
    let frames = traffic::world_frames(20_000);
    let mut base_ns = None;
    for (live, finished) in [(1_000, 0), (10_000, 10_000), (10_000, 100_000)] {
        let mut times = Vec::new();
        for _ in 0..3 {
            let (mut board, _) = traffic::populated_board(live, finished, traffic::epoch());
            let start = Instant::now();
            for frame in &frames {
                black_box(board.apply_frame(&frame.text, frame.at).ok());
            }
            times.push(start.elapsed().as_secs_f64());
        }
        let ns = median(times) * 1e9 / frames.len() as f64;
        let base = *base_ns.get_or_insert(ns);
        rows.push(Row {
            ratio: format!("{:.2}×", ns / base),
            ..Row::info(
                format!(
                    "  board per event, {}k live + {}k ended held",
                    live / 1000,
                    finished / 1000
                ),
                format!("{ns:.0} ns/ev"),
                format!("{base:.0} ns/ev at 1k held"),
            )
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Screen budgets (in-process, ratatui's TestBackend: build the frame and diff it)

fn calls_view_ui() -> UiState {
    let mut ui = UiState::new(KeyMap::defaults(), Source::Demo, 30, false);
    ui.switch_tab(Tab::Calls);
    ui.connection = Connection::Live;
    ui
}

fn theme() -> Theme {
    Theme::built_in("default").expect("the default theme is built in")
}

/// Median time to build and diff one frame of the Calls view; `now` moves one second per frame
/// so the timers change as they do live.
fn frame_time(board: &Board, now: DateTime<Utc>, cols: u16, rows: u16, samples: usize) -> Duration {
    let ui = calls_view_ui();
    let theme = theme();
    let mut terminal = Terminal::new(TestBackend::new(cols, rows)).expect("test terminal");
    let mut at = now;
    median_time(3, samples, || {
        at += chrono::Duration::seconds(1);
        terminal
            .draw(|frame| render(frame, board, &ui, &theme, at))
            .expect("draw on the test backend");
    })
}

fn render_cost(rows: &mut Vec<Row>) {
    let mut by_calls = Vec::new();
    for live in [1_000, 10_000, 100_000] {
        let (board, now) = traffic::populated_board(live, 0, traffic::epoch());
        let samples = if live >= 100_000 { 15 } else { 41 };
        by_calls.push((live, frame_time(&board, now, COLS, ROWS, samples)));
    }
    let at = |n: usize| {
        by_calls
            .iter()
            .find(|(live, _)| *live == n)
            .map(|(_, t)| *t)
            .expect("measured")
    };
    let (t1k, t10k, t100k) = (at(1_000), at(10_000), at(100_000));
    rows.push(Row {
        what: "render: Calls 120×40, 10k live".into(),
        figure: format!("{:.3} ms", ms(t10k)),
        baseline: format!("{:.3} ms at 1k", ms(t1k)),
        ratio: format!("{:.2}×", ms(t10k) / ms(t1k)),
        budget: "< 1 ms".into(),
        pass: check(t10k < Duration::from_millis(1)),
    });
    let growth = ms(t100k) / ms(t1k);
    rows.push(Row {
        what: "render: 100k ÷ 1k live calls".into(),
        figure: format!("{:.3} ms at 100k", ms(t100k)),
        baseline: format!("{:.3} ms at 1k", ms(t1k)),
        ratio: format!("{growth:.2}×"),
        budget: "≤ 2×".into(),
        pass: check(growth <= 2.0),
    });
    // The same 10k calls on taller terminals: the cost should follow the rows on screen.
    let (board, now) = traffic::populated_board(10_000, 0, traffic::epoch());
    let base = frame_time(&board, now, COLS, 20, 41);
    for height in [20u16, 40, 80] {
        let t = if height == 20 {
            base
        } else {
            frame_time(&board, now, COLS, height, 41)
        };
        rows.push(Row {
            ratio: format!("{:.2}×", ms(t) / ms(base)),
            ..Row::info(
                format!("  render 10k live at 120×{height}"),
                format!("{:.3} ms", ms(t)),
                format!("{:.3} ms at 120×20", ms(base)),
            )
        });
    }
}

/// A filter keystroke → frame done, with 10k live calls: the key handled by the UI's pure
/// update, then one frame built and diffed.
fn key_latency(rows: &mut Vec<Row>) {
    let (board, now) = traffic::populated_board(10_000, 0, traffic::epoch());
    let mut ui = calls_view_ui();
    let theme = theme();
    let mut terminal = Terminal::new(TestBackend::new(COLS, ROWS)).expect("test terminal");
    let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
    let context = Context {
        board: &board,
        now,
        user_themes: &[],
    };
    let mut draw = |ui: &UiState| {
        terminal
            .draw(|frame| render(frame, &board, ui, &theme, now))
            .expect("draw on the test backend");
    };
    draw(&ui);
    let unfiltered = {
        let mut times = Vec::new();
        for _ in 0..21 {
            let start = Instant::now();
            draw(&ui);
            times.push(ms(start.elapsed()));
        }
        median(times)
    };
    on_key(&mut ui, &context, key(KeyCode::Char('/')));
    // Typing "12" narrows to callers whose number holds it; backspacing widens again.
    let keys = [
        KeyCode::Char('1'),
        KeyCode::Char('2'),
        KeyCode::Backspace,
        KeyCode::Backspace,
    ];
    let mut times = Vec::new();
    for round in 0..12 {
        for code in keys {
            let start = Instant::now();
            on_key(&mut ui, &context, key(code));
            draw(&ui);
            if round > 0 {
                times.push(ms(start.elapsed()));
            }
        }
    }
    let p95 = percentile(times.clone(), 0.95);
    let med = median(times);
    rows.push(Row {
        what: "key: filter keystroke → frame, 10k".into(),
        figure: format!("{p95:.2} ms p95 ({med:.2} median)"),
        baseline: format!("{unfiltered:.2} ms frame alone"),
        ratio: format!("{:.2}×", med / unfiltered),
        budget: "≤ 16 ms".into(),
        pass: check(p95 <= 16.0),
    });
}

// ---------------------------------------------------------------------------------------------
// Child processes: memory and recording, each with its own peak RSS

fn proc_status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Runs this bench binary as a child making measurement `what`; returns its `key=value` lines.
fn run_child(what: &str) -> std::collections::HashMap<String, String> {
    let exe = std::env::current_exe().expect("path of the bench binary");
    let output = Command::new(exe)
        .env(CHILD_ENV, what)
        .stderr(Stdio::inherit())
        .output()
        .expect("run the bench child");
    assert!(output.status.success(), "bench child `{what}` failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn child_main(what: &str) {
    match what {
        "memory" => child_memory(),
        "recording-plain" => child_recording(false),
        "recording-store" => child_recording(true),
        "profile-render" => profile_render(),
        "profile-ingest" => profile_ingest(),
        "profile-scrolling-calls" => profile_scrolling(Tab::Calls, true),
        "profile-scrolling-calls-plain" => profile_scrolling(Tab::Calls, false),
        "profile-scrolling-queues" => profile_scrolling(Tab::Queues, true),
        "profile-scrolling-queues-plain" => profile_scrolling(Tab::Queues, false),
        other => panic!("unknown bench child {other}"),
    }
}

/// For callgrind (docs/PERFORMANCE.md): a 10k-call board, then three frames of the Calls view.
fn profile_render() {
    let (board, now) = traffic::populated_board(10_000, 0, traffic::epoch());
    println!("frame_ms={:.3}", ms(frame_time(&board, now, COLS, ROWS, 3)));
}

/// For callgrind: 5 000 frames of world traffic into an empty board.
fn profile_ingest() {
    let frames = traffic::world_frames(5_000);
    let mut board = Board::new(BoardConfig::default(), Vec::<String>::new());
    for frame in &frames {
        black_box(board.apply_frame(&frame.text, frame.at).ok());
    }
    println!("calls={}", board.call_count());
}

/// For callgrind (docs/PERFORMANCE.md, "Steady CPU: the scrolling backend's model"): the
/// replay below through `ScrollingBackend` (`wrapped`) or straight into crossterm's backend.
/// Both runs draw the same frames, so the difference in their instruction counts is what the
/// wrapper costs.
fn profile_scrolling(tab: Tab, wrapped: bool) {
    let (board, frames) = replay_input();
    let run = replay(board, &frames, tab, wrapped);
    println!("draws={} scrolls={}", run.draws, run.scrolls);
}

/// World frames before the replay's first draw: the board fills with calls.
const REPLAY_WARM_UP: usize = 3_000;
/// Draws in the replay.
const REPLAY_DRAWS: usize = 300;
/// Events between two draws: the app draws about ten frames a second at the 50 ev/s.
const REPLAY_EVENTS_PER_DRAW: usize = 5;

/// A board warmed up by world traffic, and the frames of traffic the replay plays on it.
fn replay_input() -> (Board, Vec<traffic::TimedFrame>) {
    let mut frames = traffic::world_frames(REPLAY_WARM_UP + REPLAY_DRAWS * REPLAY_EVENTS_PER_DRAW);
    let measured = frames.split_off(REPLAY_WARM_UP);
    let mut board = Board::new(BoardConfig::default(), Vec::<String>::new());
    for frame in &frames {
        black_box(board.apply_frame(&frame.text, frame.at).ok());
    }
    (board, measured)
}

/// What one replay did.
struct ReplayRun {
    draws: usize,
    /// Time spent in `Terminal::draw` (render, ratatui's diff, the backends), not in ingest.
    drawing: Duration,
    scrolls: u64,
}

/// Applies `frames` to `board`, drawing `tab` at 120×40 after every
/// [`REPLAY_EVENTS_PER_DRAW`] of them into a sink, through `ScrollingBackend` or not.
fn replay(mut board: Board, frames: &[traffic::TimedFrame], tab: Tab, wrapped: bool) -> ReplayRun {
    let viewport = TerminalOptions {
        viewport: Viewport::Fixed(Rect::new(0, 0, COLS, ROWS)),
    };
    let crossterm = CrosstermBackend::new(std::io::sink());
    if wrapped {
        let backend = ScrollingBackend::with_size(crossterm, Size::new(COLS, ROWS));
        let mut terminal = Terminal::with_options(backend, viewport).expect("terminal");
        let (draws, drawing) = replay_draws(&mut terminal, &mut board, frames, tab);
        let scrolls = terminal.backend().scrolls_sent();
        ReplayRun {
            draws,
            drawing,
            scrolls,
        }
    } else {
        let mut terminal = Terminal::with_options(crossterm, viewport).expect("terminal");
        let (draws, drawing) = replay_draws(&mut terminal, &mut board, frames, tab);
        ReplayRun {
            draws,
            drawing,
            scrolls: 0,
        }
    }
}

/// The replay's loop: returns the number of draws and the time spent drawing.
fn replay_draws<B: Backend>(
    terminal: &mut Terminal<B>,
    board: &mut Board,
    frames: &[traffic::TimedFrame],
    tab: Tab,
) -> (usize, Duration)
where
    B::Error: std::fmt::Debug,
{
    let mut ui = calls_view_ui();
    ui.switch_tab(tab);
    let theme = theme();
    let (mut draws, mut drawing) = (0, Duration::ZERO);
    for batch in frames.chunks(REPLAY_EVENTS_PER_DRAW) {
        for frame in batch {
            black_box(board.apply_frame(&frame.text, frame.at).ok());
        }
        let now = batch.last().map_or_else(traffic::epoch, |frame| frame.at);
        let started = Instant::now();
        terminal
            .draw(|frame| render(frame, board, &ui, &theme, now))
            .expect("draw into a sink");
        drawing += started.elapsed();
        draws += 1;
    }
    (draws, drawing)
}

/// The scrolling backend's share of a frame, in process: the replay drawn with and without it,
/// alternating, five times each; medians of the time per draw.
fn scrolling_backend_cost(rows: &mut Vec<Row>) {
    let (board, frames) = replay_input();
    for (tab, name) in [(Tab::Queues, "Queues"), (Tab::Calls, "Calls")] {
        let (mut wrapped, mut plain, mut scrolls) = (Vec::new(), Vec::new(), 0);
        for _ in 0..5 {
            for with_wrapper in [true, false] {
                let run = replay(board.clone(), &frames, tab, with_wrapper);
                let per_draw = run.drawing.as_secs_f64() * 1e6 / run.draws.max(1) as f64;
                if with_wrapper {
                    wrapped.push(per_draw);
                    scrolls = run.scrolls;
                } else {
                    plain.push(per_draw);
                }
            }
        }
        let (wrapped, plain) = (median(wrapped), median(plain));
        rows.push(Row {
            ratio: format!("{:+.1}%", (wrapped / plain - 1.0) * 100.0),
            ..Row::info(
                format!("  {name}: a frame through the scrolling backend"),
                format!("{wrapped:.0} µs ({scrolls} scrolls in {REPLAY_DRAWS})"),
                format!("{plain:.0} µs without it"),
            )
        });
    }
}

/// The board with 10 000 live and 100 000 finished calls, shown in the Calls view: peak RSS.
fn child_memory() {
    let before = proc_status_kb("VmHWM:");
    let (board, now) = traffic::populated_board(10_000, 100_000, traffic::epoch());
    let ui = calls_view_ui();
    let theme = theme();
    let mut terminal = Terminal::new(TestBackend::new(COLS, ROWS)).expect("test terminal");
    terminal
        .draw(|frame| render(frame, &board, &ui, &theme, now))
        .expect("draw on the test backend");
    println!("live={}", board.live_calls().count());
    println!("held={}", board.call_count());
    println!("before_kb={before}");
    println!("peak_kb={}", proc_status_kb("VmHWM:"));
}

fn memory(rows: &mut Vec<Row>) {
    let out = run_child("memory");
    let kb = |k: &str| {
        out.get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let peak_mb = kb("peak_kb") / 1024.0;
    let before_mb = kb("before_kb") / 1024.0;
    rows.push(Row {
        what: format!(
            "memory: {} live + {} ended",
            out.get("live").map_or("?", String::as_str),
            kb("held") as u64 - kb("live") as u64
        ),
        figure: format!("{peak_mb:.1} MB peak RSS"),
        baseline: format!("{before_mb:.1} MB empty process"),
        ratio: format!("{:.1}×", peak_mb / before_mb),
        budget: "≤ 80 MB".into(),
        pass: check(peak_mb <= 80.0),
    });
}

/// Name of the simulator's runtime threads in a recording child, so their CPU is counted apart
/// from the fetching side's (`/proc/self/task/*/comm`, at most 15 bytes).
const SIM_THREAD: &str = "bench-sim";
/// Name of the fetching runtime's threads (workers and blocking pool).
const FETCH_THREAD: &str = "bench-fetch";

/// One 200 MB recording from an in-process simulator: streamed to nowhere, or into the store
/// by the downloader. The simulator runs on a runtime of its own so the CPU each side spends
/// can be told apart. The timed part is the fetch alone: the store is opened before and its
/// directory removed after, as in the TUI, where the store is open before any fetch. Prints
/// bytes, seconds, RSS before and peak after, and CPU seconds by side over the fetch.
fn child_recording(into_store: bool) {
    use callboard::sim::{SimConfig, Simulator};
    use callboard::store::download::{
        CancelToken, DownloadConfig, DownloadRequest, Downloader, ReqwestSource, StaticToken,
    };
    use callboard::store::{Store, StoreConfig};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = |name: &str| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name(name)
            .enable_all()
            .build()
            .expect("tokio runtime")
    };
    let sim_runtime = runtime(SIM_THREAD);
    let sim = sim_runtime
        .block_on(Simulator::start(SimConfig::for_tests(1)))
        .expect("start the simulator");
    let base = sim.base_url().to_owned();
    let credentials = sim.credentials().clone();
    let fetch_runtime = runtime(FETCH_THREAD);
    fetch_runtime.block_on(async {
        let client = reqwest::Client::new();
        let created: serde_json::Value = client
            .post(format!("{base}/_sim/recording"))
            .json(&serde_json::json!({"bytes": RECORDING_BYTES}))
            .send()
            .await
            .expect("ask for a recording")
            .json()
            .await
            .expect("recording reply");
        let id = created["id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| created["id"].to_string());
        let content_uri = created["contentUri"]
            .as_str()
            .expect("contentUri")
            .to_owned();
        let token = access_token(&client, &base, &credentials).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), StoreConfig::default()).expect("open the store");
        let before = proc_status_kb("VmRSS:");
        let cpu_before = CpuSnapshot::take();
        let start = Instant::now();
        let bytes = if into_store {
            let source = ReqwestSource::new(&base, StaticToken::bearer(&token)).expect("source");
            let downloader = Downloader::new(store.clone(), source, DownloadConfig::default());
            let request = DownloadRequest {
                recording_id: id,
                call: Default::default(),
            };
            let report = downloader
                .fetch(request, CancelToken::new())
                .await
                .expect("download into the store");
            report.meta.length.unwrap_or(0)
        } else {
            let mut response = client
                .get(&content_uri)
                .bearer_auth(&token)
                .send()
                .await
                .expect("GET the content");
            assert!(
                response.status().is_success(),
                "content GET: {}",
                response.status()
            );
            let mut bytes = 0u64;
            while let Some(chunk) = response.chunk().await.expect("read the body") {
                bytes += chunk.len() as u64;
            }
            bytes
        };
        let seconds = start.elapsed().as_secs_f64();
        let cpu = CpuSnapshot::take().since(&cpu_before);
        println!("bytes={bytes}");
        println!("seconds={seconds}");
        println!("before_kb={before}");
        println!("peak_kb={}", proc_status_kb("VmHWM:"));
        println!("cpu_sim={}", cpu.sim);
        println!("cpu_sled={}", cpu.sled);
        println!("cpu_fetch={}", cpu.fetch);
        println!("cpu_user={}", cpu.user);
        println!("cpu_system={}", cpu.system);
        drop(store);
        drop(dir);
    });
    sim_runtime.block_on(sim.shutdown());
}

/// On-CPU seconds of this process's threads, by side: the simulator's runtime, sled's own
/// threads, and everything else (the fetching runtime, its blocking pool, the main thread).
/// Per-thread figures come from `/proc/self/task/*/schedstat` (nanoseconds); the user/system
/// split of the whole process from `/proc/self/stat` (clock ticks, so coarser).
#[derive(Debug, Default, Clone, Copy)]
struct CpuSnapshot {
    sim: f64,
    sled: f64,
    fetch: f64,
    user: f64,
    system: f64,
}

impl CpuSnapshot {
    fn take() -> CpuSnapshot {
        let mut snapshot = CpuSnapshot::default();
        let tasks = std::fs::read_dir("/proc/self/task").expect("list /proc/self/task");
        for task in tasks.flatten() {
            let path = task.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            let on_cpu_ns: f64 = std::fs::read_to_string(path.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok())
                .unwrap_or(0.0);
            let seconds = on_cpu_ns / 1e9;
            let comm = comm.trim();
            if comm.starts_with(SIM_THREAD) {
                snapshot.sim += seconds;
            } else if comm.starts_with("sled") || comm == "log flusher" {
                snapshot.sled += seconds;
            } else {
                snapshot.fetch += seconds;
            }
        }
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // Fields after the parenthesised command: utime and stime are the 12th and 13th.
        let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 100.0
        };
        snapshot.user = ticks(11);
        snapshot.system = ticks(12);
        snapshot
    }

    fn since(&self, earlier: &CpuSnapshot) -> CpuSnapshot {
        CpuSnapshot {
            sim: self.sim - earlier.sim,
            sled: self.sled - earlier.sled,
            fetch: self.fetch - earlier.fetch,
            user: self.user - earlier.user,
            system: self.system - earlier.system,
        }
    }
}

async fn access_token(
    client: &reqwest::Client,
    base: &str,
    credentials: &callboard::sim::Credentials,
) -> String {
    let reply: serde_json::Value = client
        .post(format!("{base}/restapi/oauth/token"))
        .basic_auth(&credentials.client_id, Some(&credentials.client_secret))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", credentials.jwt.as_str()),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token reply");
    reply["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

fn recording(rows: &mut Vec<Row>) {
    let mut plain = Vec::new();
    let mut stored = Vec::new();
    for _ in 0..3 {
        plain.push(run_child("recording-plain"));
        stored.push(run_child("recording-store"));
    }
    let num = |m: &std::collections::HashMap<String, String>, k: &str| {
        m.get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let rate = |runs: &[std::collections::HashMap<String, String>]| {
        median(
            runs.iter()
                .map(|m| num(m, "bytes") / num(m, "seconds") / 1e6)
                .collect(),
        )
    };
    let growth = |runs: &[std::collections::HashMap<String, String>]| {
        runs.iter()
            .map(|m| (num(m, "peak_kb") - num(m, "before_kb")) / 1024.0)
            .fold(0.0, f64::max)
    };
    let (plain_rate, store_rate) = (rate(&plain), rate(&stored));
    let (plain_growth, store_growth) = (growth(&plain), growth(&stored));
    rows.push(Row {
        what: "recording 200 MB: RSS growth".into(),
        figure: format!("{store_growth:.1} MB into store"),
        baseline: format!("{plain_growth:.1} MB plain GET"),
        ratio: String::new(),
        budget: "≤ 16 MB".into(),
        pass: check(store_growth <= 16.0),
    });
    let ratio = store_rate / plain_rate;
    rows.push(Row {
        what: "recording 200 MB: throughput".into(),
        figure: format!("{store_rate:.0} MB/s into store"),
        baseline: format!("{plain_rate:.0} MB/s plain GET"),
        ratio: format!("{ratio:.2}×"),
        budget: "≥ 0.8×".into(),
        pass: check(ratio >= 0.8),
    });
    // Where the time goes: CPU seconds of each side over the fetch (medians of the runs).
    let cpu = |runs: &[std::collections::HashMap<String, String>], k: &str| {
        median(runs.iter().map(|m| num(m, k)).collect())
    };
    let total = |runs: &[std::collections::HashMap<String, String>]| {
        cpu(runs, "cpu_fetch") + cpu(runs, "cpu_sled") + cpu(runs, "cpu_sim")
    };
    let side = |runs: &[std::collections::HashMap<String, String>]| {
        format!(
            "fetch {:.3} s + sled {:.3} s",
            cpu(runs, "cpu_fetch"),
            cpu(runs, "cpu_sled")
        )
    };
    rows.push(Row::info(
        "  recording CPU: plain GET (user+system)",
        side(&plain),
        format!(
            "sim {:.3} s; process user {:.2} s, system {:.2} s",
            cpu(&plain, "cpu_sim"),
            cpu(&plain, "cpu_user"),
            cpu(&plain, "cpu_system")
        ),
    ));
    rows.push(Row {
        ratio: format!("{:.2}×", total(&stored) / total(&plain)),
        ..Row::info(
            "  recording CPU: into store (user+system)",
            side(&stored),
            format!(
                "sim {:.3} s; process user {:.2} s, system {:.2} s",
                cpu(&stored, "cpu_sim"),
                cpu(&stored, "cpu_user"),
                cpu(&stored, "cpu_system")
            ),
        )
    });
    // Two cores: the fetch cannot take less wall time than all its CPU seconds spread over
    // both (the simulator included, since it shares them).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let ceiling = RECORDING_BYTES as f64 / (total(&stored) / cores) / 1e6;
    rows.push(Row {
        ratio: format!("{:.2}×", ceiling / plain_rate),
        ..Row::info(
            format!("  recording: store ceiling at this CPU on {cores} cores"),
            format!("{ceiling:.0} MB/s"),
            format!("{plain_rate:.0} MB/s plain GET"),
        )
    });
    // The store's sha256 (issue 6) is one sequential pass over the recording: no fetch into
    // the store can finish faster than this CPU hashes 200 MB on one core.
    let hash_rate = sha256_rate();
    rows.push(Row {
        ratio: format!("{:.2}×", hash_rate / plain_rate),
        ..Row::info(
            "  recording: sha256 alone, one core, no IO",
            format!("{hash_rate:.0} MB/s"),
            format!("{plain_rate:.0} MB/s plain GET"),
        )
    });
}

/// MB/s of sha256 over [`RECORDING_BYTES`] in 256 KiB pieces of one buffer (best of three).
fn sha256_rate() -> f64 {
    use sha2::Digest;
    let piece = vec![0x5a_u8; 256 * 1024];
    let pieces = RECORDING_BYTES / piece.len() as u64;
    let best = (0..3)
        .map(|_| {
            let start = Instant::now();
            let mut hasher = sha2::Sha256::new();
            for _ in 0..pieces {
                hasher.update(&piece);
            }
            black_box(hasher.finalize());
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    (pieces * piece.len() as u64) as f64 / best / 1e6
}

// ---------------------------------------------------------------------------------------------
// The real binary: `callboard sim`, `callboard watch`, `callboard` in a pty

/// A `callboard sim` process and what its banner said.
struct SimProcess {
    child: Child,
    base_url: String,
    env: Vec<(String, String)>,
}

impl SimProcess {
    fn start(args: &[&str]) -> SimProcess {
        let mut child = Command::new(BINARY)
            .arg("sim")
            .args(["--listen", "127.0.0.1:0", "--rate-limits", "off"])
            .args(args)
            .env_remove("RC_CLIENT_ID")
            .env_remove("RC_CLIENT_SECRET")
            .env_remove("RC_JWT")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start callboard sim");
        let mut lines = BufReader::new(child.stdout.take().expect("sim stdout")).lines();
        let mut base_url = String::new();
        let mut env = Vec::new();
        for line in lines.by_ref().take(5) {
            let line = line.expect("sim banner");
            if let Some(url) = line.strip_prefix("listening on ") {
                base_url = url.to_owned();
            } else if let Some((k, v)) = line.split_once('=') {
                env.push((k.to_owned(), v.to_owned()));
            }
        }
        assert!(!base_url.is_empty(), "callboard sim printed no address");
        // Keep reading (nothing more is printed) so the pipe never fills.
        std::thread::spawn(move || lines.for_each(drop));
        SimProcess {
            child,
            base_url,
            env,
        }
    }

    fn control(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            reqwest::Client::new()
                .post(format!("{}{path}", self.base_url))
                .json(&body)
                .send()
                .await
                .expect("control request")
                .json()
                .await
                .unwrap_or(serde_json::Value::Null)
        })
    }

    fn live_calls(&self) -> usize {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let truth: serde_json::Value = runtime.block_on(async {
            reqwest::Client::new()
                .get(format!("{}/_sim/truth", self.base_url))
                .send()
                .await
                .expect("truth request")
                .json()
                .await
                .expect("truth JSON")
        });
        truth["calls"].as_array().map_or(0, |calls| {
            calls.iter().filter(|c| c["state"] != "ended").count()
        })
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        // SIGTERM: the simulator's own clean stop.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// A `callboard watch --json` against `sim`, its event lines counted; `ready` fires once it has
/// synced (subscribed and read the live calls).
struct Watcher {
    child: Child,
    lines: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Watcher {
    fn start(sim: &SimProcess, extra: &[&str], home: &std::path::Path) -> Watcher {
        let mut child = Command::new(BINARY)
            .args(["watch", "--json"])
            .args(extra)
            .envs(sim.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(tui_env(home))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start callboard watch");
        let lines = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut stdout = child.stdout.take().expect("watch stdout");
        let counter = lines.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let newlines = buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
                counter.fetch_add(newlines, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let stderr = BufReader::new(child.stderr.take().expect("watch stderr"));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if line.contains("synced:") {
                    let _ = ready_tx.send(());
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("callboard watch synced with the simulator");
        Watcher { child, lines }
    }

    fn lines(&self) -> u64 {
        self.lines.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits for the process to end by itself; kills it after `timeout`. True if it ended.
    fn wait(self, timeout: Duration) -> bool {
        self.wait_with_cpu(timeout).0
    }

    /// [`Self::wait`], and the CPU seconds the process had used when last seen alive.
    fn wait_with_cpu(mut self, timeout: Duration) -> (bool, f64) {
        let deadline = Instant::now() + timeout;
        let mut cpu = 0.0;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return (true, cpu);
            }
            cpu = process_cpu_seconds(self.child.id()).unwrap_or(cpu);
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        (false, cpu)
    }
}

/// User + system CPU seconds process `pid` has used (/proc/PID/stat); `None` once it is gone.
fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')';
    // utime and stime are the 12th and 13th of those.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((ticks(11)? + ticks(12)?) / hz)
}

fn end_to_end_ingest(rows: &mut Vec<Row>, board_ingest_rate: Option<f64>) {
    const BURST: u64 = 100_000;
    let home = tempfile::tempdir().expect("temp home");
    let sim = SimProcess::start(&["--calls-per-minute", "1"]);
    sim.control("/_sim/pause", serde_json::json!({}));
    let count = BURST.to_string();
    let watcher = Watcher::start(&sim, &["--count", &count], home.path());
    let sim_cpu_before = process_cpu_seconds(sim.child.id()).unwrap_or(f64::NAN);
    let watch_cpu_before = process_cpu_seconds(watcher.child.id()).unwrap_or(f64::NAN);
    let start = Instant::now();
    let lines_before = watcher.lines();
    let burst = sim.control("/_sim/burst", serde_json::json!({"count": BURST}));
    let lines_at = std::sync::Arc::clone(&watcher.lines);
    let (finished, watch_cpu_after) = watcher.wait_with_cpu(Duration::from_secs(120));
    let seconds = start.elapsed().as_secs_f64();
    let sim_cpu_after = process_cpu_seconds(sim.child.id()).unwrap_or(f64::NAN);
    // Every event line and the closing board line.
    let events = lines_at
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(lines_before + 1);
    let rate = events as f64 / seconds;
    eprintln!("e2e: burst reply {burst}; {events} events in {seconds:.2} s (finished: {finished})");
    rows.push(Row {
        what: format!("e2e: watch --count {BURST}, burst {BURST}"),
        figure: format!("{:.0}k ev/s", rate / 1000.0),
        baseline: board_ingest_rate.map_or_else(
            || "—".into(),
            |r| format!("{:.0}k ev/s in-process", r / 1000.0),
        ),
        ratio: board_ingest_rate.map_or_else(String::new, |r| format!("{:.2}×", rate / r)),
        budget: "≥ 100k ev/s".into(),
        pass: check(finished && rate >= 100_000.0),
    });
    // Each side's CPU per event: unlike the rate, these do not depend on how busy the machine
    // is, and they say which side limits the rate on two free cores.
    let micros_per_event = |cpu: f64| cpu * 1e6 / BURST as f64;
    let sim_cost = micros_per_event(sim_cpu_after - sim_cpu_before);
    let watch_cost = micros_per_event(watch_cpu_after - watch_cpu_before);
    rows.push(Row {
        what: "  e2e CPU: sim (world + gateway + socket)".into(),
        figure: format!("{sim_cost:.1} µs/ev"),
        baseline: format!("{watch_cost:.1} µs/ev watch"),
        ratio: format!("{:.2}×", sim_cost / watch_cost),
        budget: String::new(),
        pass: None,
    });
    rows.push(Row {
        what: "  e2e CPU: watch (WS + board + JSON lines)".into(),
        figure: format!("{watch_cost:.1} µs/ev"),
        baseline: format!("{:.1} µs/ev at 100k ev/s", 1e6 / 100_000.0),
        ratio: format!("{:.2}×", watch_cost / 10.0),
        budget: String::new(),
        pass: None,
    });
}

fn tui_env(home: &std::path::Path) -> Vec<(String, String)> {
    vec![
        ("HOME".into(), home.display().to_string()),
        // No config file there: every setting at its default.
        (
            "XDG_CONFIG_HOME".into(),
            home.join("config").display().to_string(),
        ),
        (
            "CALLBOARD_DATA_DIR".into(),
            home.join("data").display().to_string(),
        ),
        ("TZ".into(), "UTC".into()),
    ]
}

fn spawn_tui(env: &[(String, String)]) -> pty::PtyProcess {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pty::PtyProcess::spawn(BINARY, std::iter::empty::<&str>(), &env, COLS, ROWS)
}

/// Bytes of one frame that writes every cell of `tab` at 120×40 over a board of `live` calls:
/// what a program that redraws the whole screen would send per frame.
fn full_redraw_bytes(live: usize, tab: Tab) -> u64 {
    let (board, now) = traffic::populated_board(live, 0, traffic::epoch());
    let mut ui = calls_view_ui();
    ui.switch_tab(tab);
    let theme = theme();
    let mut terminal = Terminal::new(TestBackend::new(COLS, ROWS)).expect("test terminal");
    let completed = terminal
        .draw(|frame| render(frame, &board, &ui, &theme, now))
        .expect("draw on the test backend");
    let buffer = completed.buffer.clone();
    let mut written = Vec::<u8>::new();
    let mut backend = CrosstermBackend::new(&mut written);
    let cells = buffer.content.iter().enumerate().map(|(i, cell)| {
        let (x, y) = buffer.pos_of(i);
        (x, y, cell)
    });
    backend.draw(cells).expect("draw into memory");
    Backend::flush(&mut backend).expect("flush into memory");
    written.len() as u64
}

/// The steady load of the terminal budgets: the 50 events/s with 2 000 live calls.
/// The simulator's knobs give arrivals, not live calls: live calls are arrivals × call length,
/// so 250 calls a minute of 10-minute talk on 8 queues of 300 agents (the most it has) hold
/// about 2 000 calls live at about 50 events/s (the bench counts both). A 40-minute history puts
/// the world near its steady state at the start (in about 2 s) and keeps today's call log,
/// which the client reads in the background after it went live, to some thousands of records.
const TERMINAL_LOAD: &[&str] = &[
    "--calls-per-minute",
    "250",
    "--mean-talk-seconds",
    "600",
    "--queues",
    "8",
    "--agents",
    "300",
    "--history-minutes",
    "40",
];

/// Seconds between the board going live and the measured window: the view switch and the
/// background call-log read are over by then.
const TERMINAL_SETTLE: Duration = Duration::from_secs(8);

/// Steady traffic, then the simulator paused with timers still on screen: bytes at the pty,
/// frames drawn, and CPU over wall time, for the real binary at 120×40 — on the Queues view
/// (the default, what a supervisor keeps open) and on the Calls view, each in a fresh process.
fn terminal_steady_and_idle(rows: &mut Vec<Row>) {
    scrolling_backend_cost(rows);
    let sim = SimProcess::start(TERMINAL_LOAD);
    for (tab, key, name) in [(Tab::Queues, b"1", "Queues"), (Tab::Calls, b"3", "Calls")] {
        terminal_on_view(rows, &sim, tab, key, name);
    }
}

fn terminal_on_view(rows: &mut Vec<Row>, sim: &SimProcess, tab: Tab, key: &[u8], name: &str) {
    const STEADY: Duration = Duration::from_secs(20);
    const IDLE: Duration = Duration::from_secs(15);
    sim.control("/_sim/resume", serde_json::json!({}));
    let home = tempfile::tempdir().expect("temp home");
    let mut env = tui_env(home.path());
    env.extend(sim.env.iter().cloned());
    let mut tui = spawn_tui(&env);
    tui.wait_for(LIVE_MARK.as_bytes(), Duration::from_secs(90))
        .expect("the board went live");
    tui.send(key);
    std::thread::sleep(TERMINAL_SETTLE);
    let live_calls = sim.live_calls();
    let event_home = tempfile::tempdir().expect("temp home");
    let watcher = Watcher::start(sim, &[], event_home.path());
    // The counter subscribes and syncs before its count means anything.
    std::thread::sleep(Duration::from_secs(2));

    let (bytes0, cpu0, events0, t0) = (
        tui.bytes_written(),
        tui.cpu_seconds(),
        watcher.lines(),
        Instant::now(),
    );
    std::thread::sleep(STEADY);
    let (bytes1, cpu1, events1, wall) = (
        tui.bytes_written(),
        tui.cpu_seconds(),
        watcher.lines(),
        t0.elapsed().as_secs_f64(),
    );
    let frames = tui.count_after(FRAME_END, bytes0) as f64;
    // The event counter has done its job; it is not waited for.
    watcher.wait(Duration::ZERO);
    let steady_bps = (bytes1 - bytes0) as f64 / wall;
    let steady_cpu = (cpu1 - cpu0) / wall * 100.0;
    let events_per_second = (events1 - events0) as f64 / wall;

    sim.control("/_sim/pause", serde_json::json!({}));
    std::thread::sleep(Duration::from_secs(2));
    let (bytes2, cpu2, t2) = (tui.bytes_written(), tui.cpu_seconds(), Instant::now());
    std::thread::sleep(IDLE);
    let (bytes3, cpu3, idle_wall) = (
        tui.bytes_written(),
        tui.cpu_seconds(),
        t2.elapsed().as_secs_f64(),
    );
    let idle_frames = tui.count_after(FRAME_END, bytes2) as f64;
    let idle_bps = (bytes3 - bytes2) as f64 / idle_wall;
    let idle_cpu = (cpu3 - cpu2) / idle_wall * 100.0;
    let tui_peak_mb = tui.peak_rss_bytes() as f64 / (1024.0 * 1024.0);
    tui.quit(b"q");

    let full_frame = full_redraw_bytes(live_calls.max(1), tab);
    let full_bps = full_frame as f64 * frames / wall;
    let share = steady_bps / full_bps * 100.0;
    let full_per_second = full_frame as f64;
    rows.push(Row {
        what: format!("terminal {name}: {events_per_second:.0} ev/s, {live_calls} live"),
        figure: format!(
            "{:.0} B/s ({:.2} MB/60 s)",
            steady_bps,
            steady_bps * 60.0 / 1e6
        ),
        baseline: format!("{full_bps:.0} B/s full redraw ({frames:.0} frames × {full_frame} B)"),
        ratio: format!("{share:.1}%"),
        budget: "≤ 5 %".into(),
        pass: check(share <= 5.0),
    });
    rows.push(Row {
        ratio: format!("{:.1}%", steady_bps / full_per_second * 100.0),
        ..Row::info(
            format!("  {name}: same bytes against one full redraw a second"),
            format!("{steady_bps:.0} B/s"),
            format!("{full_per_second:.0} B/s"),
        )
    });
    rows.push(Row {
        what: format!("terminal {name}: idle, timers visible"),
        figure: format!("{idle_bps:.0} B/s ({idle_frames:.0} frames)"),
        baseline: format!("{steady_bps:.0} B/s steady"),
        ratio: format!("{:.2}×", idle_bps / steady_bps),
        budget: "≤ 2 KB/s".into(),
        pass: check(idle_bps <= 2048.0),
    });
    rows.push(Row {
        what: format!("CPU {name}: steady traffic"),
        figure: format!("{steady_cpu:.2}% of a core"),
        baseline: format!("{:.2} s CPU in {wall:.0} s", cpu1 - cpu0),
        ratio: String::new(),
        budget: "≤ 2 %".into(),
        pass: check(steady_cpu <= 2.0),
    });
    rows.push(Row {
        what: format!("CPU {name}: idle, timers visible"),
        figure: format!("{idle_cpu:.2}% of a core"),
        baseline: format!("{:.2} s CPU in {idle_wall:.0} s", cpu3 - cpu2),
        ratio: String::new(),
        budget: "≤ 0.5 %".into(),
        pass: check(idle_cpu <= 0.5),
    });
    rows.push(Row::info(
        format!("  TUI peak RSS, {name}, {live_calls} live"),
        format!("{tui_peak_mb:.1} MB"),
        "",
    ));
}

/// `callboard` (DEMO) launch → the first frame completed after the session went live.
fn start(rows: &mut Vec<Row>) {
    let mut first_frames = Vec::new();
    let mut live_frames = Vec::new();
    for _ in 0..3 {
        let home = tempfile::tempdir().expect("temp home");
        let env = tui_env(home.path());
        let launched = Instant::now();
        let tui = spawn_tui(&env);
        let first = tui
            .wait_for(FRAME_END, Duration::from_secs(30))
            .map(|_| launched.elapsed());
        let live = tui
            .wait_for_after(LIVE_MARK.as_bytes(), 0, Duration::from_secs(30))
            .and_then(|(_, at)| tui.wait_for_after(FRAME_END, at, Duration::from_secs(30)))
            .map(|_| launched.elapsed());
        tui.quit(b"q");
        first_frames.push(first.map_or(f64::NAN, ms));
        live_frames.push(live.map_or(f64::NAN, ms));
    }
    let live = median(live_frames);
    let first = median(first_frames);
    rows.push(Row {
        what: "start: DEMO launch → live frame".into(),
        figure: format!("{live:.0} ms"),
        baseline: format!("{first:.0} ms first frame"),
        ratio: format!("{:.2}×", live / first),
        budget: "≤ 300 ms".into(),
        pass: check(live <= 300.0),
    });
}

// ---------------------------------------------------------------------------------------------
// Summary

/// Reads one column's text out of a row.
type Cell = fn(&Row) -> &str;

fn print_summary(rows: &[Row], elapsed: Duration) {
    let width = |f: fn(&Row) -> &str, title: &str| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .chain([title.chars().count()])
            .max()
            .unwrap_or(0)
    };
    let columns: [(&str, Cell); 5] = [
        ("budget", |r| &r.what),
        ("figure", |r| &r.figure),
        ("baseline (same run)", |r| &r.baseline),
        ("ratio", |r| &r.ratio),
        ("limit", |r| &r.budget),
    ];
    let widths: Vec<usize> = columns.iter().map(|(title, f)| width(*f, title)).collect();
    let pad = |text: &str, w: usize| {
        format!(
            "{text}{}",
            " ".repeat(w.saturating_sub(text.chars().count()))
        )
    };
    println!();
    let header: Vec<String> = columns
        .iter()
        .zip(&widths)
        .map(|((t, _), w)| pad(t, *w))
        .collect();
    println!("{}  result", header.join("  "));
    println!(
        "{}",
        "-".repeat(widths.iter().sum::<usize>() + 2 * widths.len() + 6)
    );
    for row in rows {
        let cells: Vec<String> = columns
            .iter()
            .zip(&widths)
            .map(|((_, f), w)| pad(f(row), *w))
            .collect();
        let result = match row.pass {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "",
        };
        println!("{}  {result}", cells.join("  "));
    }
    let failed = rows.iter().filter(|r| r.pass == Some(false)).count();
    let passed = rows.iter().filter(|r| r.pass == Some(true)).count();
    println!(
        "\n{passed} budgets met, {failed} not met, in {:.0} s (shared 2-core machine; figures are medians of the same run)",
        elapsed.as_secs_f64()
    );
}
