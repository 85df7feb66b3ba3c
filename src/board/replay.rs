//! `callboard replay`: feeds recorded traffic through the same parse and board code as the live
//! monitor and prints the final board.
//!
//! Input is JSON lines, each a WebSocket frame as received (`[meta, body]`) or a bare
//! notification envelope. "Now" follows the traffic: each event is applied at its own time (never
//! earlier than the one before), and the board is printed at the time of the last event. A line
//! that cannot be read is reported on stderr with its number and skipped.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::de::DeserializeOwned;

use crate::board::metrics::Window;
use crate::board::model::{Applied, Board, BoardConfig};
use crate::rc::events::{EventBody, Notification, parse_frame, parse_timestamp};
use crate::rc::records::{CallQueue, Page, PhoneNumber};

/// Replay recorded WebSocket traffic through the board and print the final board.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// JSON-lines file of frames or notification envelopes; `-` reads standard input.
    pub input: String,
    /// Print the board as one line of schema-1 JSON (docs/BOARD_JSON.md).
    #[arg(long, conflicts_with = "pretty")]
    pub json: bool,
    /// Print the board as indented schema-1 JSON.
    #[arg(long)]
    pub pretty: bool,
    /// A phone-number list page (GET …/phone-number) for campaign attribution.
    #[arg(long, value_name = "FILE")]
    pub numbers: Option<PathBuf>,
    /// A call-queue list page (GET …/call-queues), with serviceLevelSettings where known.
    #[arg(long, value_name = "FILE")]
    pub queues: Option<PathBuf>,
    /// Time zone whose midnight starts "today", e.g. America/New_York.
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub tz: String,
}

/// What a replay did, for the summary and for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    pub lines: usize,
    pub applied: usize,
    pub stale: usize,
    pub ignored: usize,
    pub bad_lines: usize,
}

/// Runs `callboard replay`.
pub fn run(args: &ReplayArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("callboard replay: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_inner(args: &ReplayArgs) -> Result<(), String> {
    let time_zone: Tz = args.tz.parse().map_err(|_| {
        format!(
            "unknown time zone {:?}; use an IANA name such as UTC or Europe/London",
            args.tz
        )
    })?;
    let config = BoardConfig {
        time_zone,
        ..BoardConfig::default()
    };
    let mut board = Board::new(config, Vec::new());
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    if let Some(path) = &args.numbers {
        let numbers: Vec<PhoneNumber> = read_records(path, "phone-number list")?;
        board.set_numbers(&numbers, epoch);
    }
    if let Some(path) = &args.queues {
        let queues: Vec<CallQueue> = read_records(path, "call-queue list")?;
        board.set_queues(&queues, epoch);
    }
    let reader: Box<dyn BufRead> = if args.input == "-" {
        Box::new(BufReader::new(io::stdin()))
    } else {
        let file =
            File::open(&args.input).map_err(|e| format!("cannot open {}: {e}", args.input))?;
        Box::new(BufReader::new(file))
    };
    let mut stderr = io::stderr().lock();
    let (stats, now) = replay_lines(&mut board, reader, &mut |line, message| {
        let _ = writeln!(stderr, "line {line}: {message} (skipped)");
    });
    drop(stderr);
    let now = now.unwrap_or(epoch);
    let mut stdout = io::stdout().lock();
    let written = if args.json {
        writeln!(stdout, "{}", board.to_json_string(now, false))
    } else if args.pretty {
        writeln!(stdout, "{}", board.to_json_string(now, true))
    } else {
        stdout.write_all(summary(&board, &stats, now).as_bytes())
    };
    // A closed pipe (`| head`) is not an error worth reporting.
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(format!("cannot write output: {e}")),
        _ => Ok(()),
    }
}

/// Reads a REST list page (`{records: […]}`) or a bare array of records from a file.
fn read_records<T: DeserializeOwned>(path: &Path, what: &str) -> Result<Vec<T>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))?;
    if let Ok(page) = serde_json::from_str::<Page<T>>(&text) {
        return Ok(page.records);
    }
    serde_json::from_str::<Vec<T>>(&text).map_err(|e| {
        format!(
            "{} is not a {what} page ({{\"records\": […]}}) or array: {e}",
            path.display()
        )
    })
}

/// Applies every line of `reader` to `board`. Returns the counts and the time of the last
/// event; `report(line_number, message)` hears about each bad line.
pub fn replay_lines(
    board: &mut Board,
    reader: impl BufRead,
    report: &mut dyn FnMut(usize, &str),
) -> (ReplayStats, Option<DateTime<Utc>>) {
    let mut stats = ReplayStats::default();
    let mut now: Option<DateTime<Utc>> = None;
    for (index, line) in reader.lines().enumerate() {
        let line_number = index + 1;
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                stats.bad_lines += 1;
                report(line_number, &format!("unreadable: {e}"));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        stats.lines += 1;
        let frame = match parse_frame(&line) {
            Ok(frame) => frame,
            Err(e) => {
                stats.bad_lines += 1;
                report(line_number, &e.to_string());
                continue;
            }
        };
        let Some(note) = frame.notification() else {
            stats.ignored += 1;
            continue;
        };
        if let Some(at) = event_time(note) {
            now = Some(now.map_or(at, |n| n.max(at)));
        }
        let Some(at) = now else {
            stats.bad_lines += 1;
            report(
                line_number,
                "notification carries no time (eventTime or timestamp)",
            );
            continue;
        };
        match board.apply_notification(note, at) {
            Applied::Changed => stats.applied += 1,
            Applied::Stale => stats.stale += 1,
            Applied::Ignored => stats.ignored += 1,
        }
    }
    if let Some(now) = now {
        board.tick(now);
    }
    (stats, now)
}

fn event_time(note: &Notification<'_>) -> Option<DateTime<Utc>> {
    let body_time = match &note.body {
        EventBody::Telephony(ev) => ev.event_time.as_deref().and_then(parse_timestamp),
        _ => None,
    };
    body_time.or_else(|| note.timestamp.as_deref().and_then(parse_timestamp))
}

/// A readable summary of the board: queues, campaigns, and the calls still live.
pub fn summary(board: &Board, stats: &ReplayStats, now: DateTime<Utc>) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
    let _ = writeln!(
        out,
        "replayed {} lines: {} applied, {} stale or duplicate, {} ignored, {} bad",
        stats.lines, stats.applied, stats.stale, stats.ignored, stats.bad_lines
    );
    let _ = writeln!(
        out,
        "board at {} ({}), today since {}",
        crate::board::json::format_time(now),
        board.config().time_zone.name(),
        crate::board::json::format_time(board.today_start(now))
    );
    let _ = writeln!(out, "\nQUEUES (today)");
    let _ = writeln!(
        out,
        "{:<24} {:>4} {:>7} {:>5} {:>5} {:>5} {:>5} {:>4} {:>6} {:>6} {:>6}  agents a/c/w",
        "queue", "wait", "longest", "offer", "answ", "aband", "short", "vm", "SL%", "ASA", "AHT"
    );
    for q in board.queue_rows(Window::Today, now) {
        let _ = writeln!(
            out,
            "{:<24} {:>4} {:>7} {:>5} {:>5} {:>5} {:>5} {:>4} {:>6} {:>6} {:>6}  {}/{}/{}",
            truncate(&q.name, 24),
            q.waiting,
            num(q.longest_wait_seconds),
            q.offered,
            q.answered,
            q.abandoned,
            q.short_abandoned,
            q.voicemail,
            num(q.service_level_pct),
            num(q.asa_seconds),
            num(q.aht_seconds),
            q.agents_available,
            q.agents_on_call,
            q.agents_away
        );
    }
    let _ = writeln!(out, "\nCAMPAIGNS (today)");
    let _ = writeln!(
        out,
        "{:<28} {:<16} {:>4} {:>5} {:>5} {:>6} {:>5} {:>6}",
        "campaign", "dn", "live", "offer", "answ", "missed", "first", "talk"
    );
    for c in board.campaign_rows(Window::Today, now) {
        let _ = writeln!(
            out,
            "{:<28} {:<16} {:>4} {:>5} {:>5} {:>6} {:>5} {:>6}",
            truncate(&c.campaign, 28),
            c.dn.as_deref().unwrap_or("-"),
            c.live,
            c.offered,
            c.answered,
            c.missed,
            c.first_time_callers,
            num(c.avg_talk_seconds)
        );
    }
    let live: Vec<_> = board.live_calls().collect();
    let _ = writeln!(
        out,
        "\nLIVE CALLS ({}; {} held in memory)",
        live.len(),
        board.call_count()
    );
    for call in live {
        let _ = writeln!(
            out,
            "{:<40} {:<9} {:<16} {:<20} {}",
            truncate(&call.id, 40),
            call.state.as_str(),
            call.caller.as_deref().unwrap_or("-"),
            truncate(call.queue_name.as_deref().unwrap_or("-"), 20),
            call.agent_name.as_deref().unwrap_or("-")
        );
    }
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
