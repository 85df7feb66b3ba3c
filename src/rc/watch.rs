//! `callboard watch`: the headless monitor. Same connection logic as the live board (session,
//! bootstrap, recovery, resync), no terminal UI: one line per applied event on stdout, for
//! scripts, cron and pipes, and a final board when it stops.
//!
//! stdout carries only the event lines and the final board; connection state, waits and
//! warnings go to stderr, so `callboard watch --json | jq` always reads clean JSON.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::json;
use tokio::sync::mpsc;

use crate::board::{Applied, Board, BoardConfig, Window};
use crate::config::{self, Config};
use crate::rc::apply::{self, AppliedEvent, EventDetail};
use crate::rc::auth::{Credentials, Secret};
use crate::rc::rest::{RestClient, RestConfig};
use crate::rc::sync;
use crate::rc::ws::{self, ConnState, SessionConfig, SessionEvent, SyncKind};
use crate::store::{Store, StoreConfig};

/// Arguments of `callboard watch`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:\n  \
    callboard watch                         follow the built-in simulator (no credentials set)\n  \
    callboard watch --json --count 100      100 events as JSON lines, then the board\n  \
    callboard watch --json --duration 5m | jq -c 'select(.board) | .board.queues'\n\n\
    With RC_CLIENT_ID, RC_CLIENT_SECRET and RC_JWT set (RC_SERVER_URL optional) it watches\n\
    your RingCentral account instead.")]
pub struct WatchArgs {
    /// Print one JSON line per applied event, then a final {"board": …} line.
    #[arg(long)]
    pub json: bool,
    /// Stop after this long: 90s, 5m, 1h30m (a bare number is seconds).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many applied events.
    #[arg(long)]
    pub count: Option<u64>,
    /// Time zone whose midnight starts "today" (IANA name, e.g. America/New_York); default:
    /// the config file's, else $TZ, else UTC.
    #[arg(long)]
    pub tz: Option<String>,
    /// Append every received notification frame to the event journal in the data dir, for
    /// `callboard replay` later.
    #[arg(long)]
    pub journal: bool,
    /// Where the store (and so the journal) lives; default: $CALLBOARD_DATA_DIR, else the
    /// user's data dir.
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
}

/// Reads `90`, `90s`, `5m`, `1h30m`, `250ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err("a duration is needed, e.g. 90s, 5m or 1h30m".to_owned());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("{text:?} is not a duration (try 90s, 5m or 1h30m)"));
        }
        let value: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value * 60),
            "h" => Duration::from_secs(value * 3600),
            other => {
                return Err(format!(
                    "unknown unit {other:?} in {text:?} (use ms, s, m or h)"
                ));
            }
        };
        total += unit;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Reads an IANA zone name given on the command line.
fn parse_zone(name: &str) -> anyhow::Result<Tz> {
    name.parse::<Tz>().map_err(|_| {
        anyhow::anyhow!("unknown time zone {name:?} (use an IANA name such as Europe/London)")
    })
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Events handled between two flushes of stdout at most (a flush also happens whenever no
/// event is waiting, so a quiet stream is never held back).
const MAX_BATCH: usize = 1024;

/// stdout's buffer: a batch of event lines leaves in a few large writes.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// The JSON line of one applied event, serialised straight from the event's fields: no map is
/// built per line (`watch` writes up to 100 000 lines a second). Keys are in the order the
/// lines have always had.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum EventLine<'a> {
    #[serde(rename_all = "camelCase")]
    Telephony {
        party: Option<&'a str>,
        revision: u64,
        status: Option<&'a str>,
        telephony_session_id: &'a str,
        time: String,
    },
    #[serde(rename_all = "camelCase")]
    Presence {
        extension_id: Option<&'a str>,
        revision: u64,
        telephony_status: Option<&'a str>,
        time: String,
    },
    Other {
        revision: u64,
        time: String,
    },
}

impl<'a> EventLine<'a> {
    fn new(event: &'a AppliedEvent, revision: u64, now: DateTime<Utc>) -> Self {
        let time = time(event.time.unwrap_or(now));
        match &event.detail {
            EventDetail::Telephony {
                telephony_session_id,
                party_id,
                status,
            } => Self::Telephony {
                party: party_id.as_deref(),
                revision,
                status: status.as_deref(),
                telephony_session_id,
                time,
            },
            EventDetail::Presence {
                extension_id,
                telephony_status,
            } => Self::Presence {
                extension_id: extension_id.as_deref(),
                revision,
                telephony_status: telephony_status.as_deref(),
                time,
            },
            EventDetail::Other => Self::Other { revision, time },
        }
    }
}

/// The JSON line of one applied event, as a value.
pub fn event_json(event: &AppliedEvent, revision: u64, now: DateTime<Utc>) -> serde_json::Value {
    // Serialising borrowed strings and numbers into a value cannot fail.
    serde_json::to_value(EventLine::new(event, revision, now)).unwrap_or_default()
}

/// Writes the JSON line of one applied event, newline included.
pub fn write_event_json(
    out: &mut impl Write,
    event: &AppliedEvent,
    revision: u64,
    now: DateTime<Utc>,
) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &EventLine::new(event, revision, now))?;
    out.write_all(b"\n")
}

/// The human line of one applied event, with what the board now says about the call.
pub fn event_line(event: &AppliedEvent, board: &Board, now: DateTime<Utc>) -> String {
    let at = event
        .time
        .unwrap_or(now)
        .with_timezone(&board.config().time_zone)
        .format("%H:%M:%S");
    match &event.detail {
        EventDetail::Telephony {
            telephony_session_id,
            party_id,
            status,
        } => {
            let status = status.as_deref().unwrap_or("?");
            let party = party_id.as_deref().unwrap_or("?");
            let call = board
                .call(telephony_session_id)
                .map_or_else(String::new, |call| {
                    let caller = call.caller.as_deref().unwrap_or("unknown caller");
                    let campaign = board
                        .campaign_of_call(call)
                        .map_or_else(String::new, |(campaign, _)| format!(" via {campaign}"));
                    let queue = call
                        .queue_name
                        .as_deref()
                        .map_or_else(String::new, |q| format!(" in {q}"));
                    let state = if call.is_live() {
                        call.state.as_str().to_owned()
                    } else {
                        format!("ended ({})", call.outcome.as_str())
                    };
                    format!("  — {state} {caller}{campaign}{queue}")
                });
            format!("{at}  {telephony_session_id}  {party} {status}{call}")
        }
        EventDetail::Presence {
            extension_id,
            telephony_status,
        } => format!(
            "{at}  extension {}  {}",
            extension_id.as_deref().unwrap_or("?"),
            telephony_status.as_deref().unwrap_or("?")
        ),
        EventDetail::Other => format!("{at}  (other event)"),
    }
}

fn state_line(state: &ConnState) -> String {
    match state {
        ConnState::Connecting => "connecting to RingCentral…".to_owned(),
        ConnState::Live => "live".to_owned(),
        ConnState::Recovering => "connection lost; recovering the session…".to_owned(),
        ConnState::Resyncing => "session could not be recovered; resyncing live calls…".to_owned(),
        ConnState::Offline { since, reason } => {
            format!("offline since {} — {reason}; retrying", time(*since))
        }
    }
}

/// The closing summary without `--json`.
fn summary(board: &Board, applied: u64, unreadable: u64, now: DateTime<Utc>) -> String {
    let mut out = format!(
        "{applied} events applied, {unreadable} unreadable; {} live calls\n",
        board.live_calls().count()
    );
    for row in board.queue_rows(Window::Today, now) {
        let sl = row
            .service_level_pct
            .map_or_else(|| "—".to_owned(), |p| format!("{p:.0} %"));
        out.push_str(&format!(
            "  {:<24} waiting {:>3}  offered {:>4}  answered {:>4}  abandoned {:>3}  SL {sl}\n",
            crate::text::sanitize_max(&row.name, 24),
            row.waiting,
            row.offered,
            row.answered,
            row.abandoned,
        ));
    }
    out
}

/// Runs `callboard watch`; `config_file` is the global `--config`.
pub fn run(args: WatchArgs, config_file: Option<std::path::PathBuf>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("callboard watch: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(watch(args, config_file)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("callboard watch: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C, SIGTERM or the end of `duration`.
async fn stop_requested(duration: Option<Duration>) {
    let until = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = until => {}
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

async fn watch(args: WatchArgs, config_file: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let config = Config::load(config_file.as_deref())?;
    let zone = match args.tz.as_deref() {
        Some(name) => parse_zone(name)?,
        None => config.time_zone,
    };
    let mut journal = if args.journal {
        let dir = match &args.data_dir {
            Some(dir) => dir.clone(),
            None => config::data_dir()?,
        };
        let store_config = StoreConfig {
            cap_bytes: config.store_cap_bytes,
            ..StoreConfig::default()
        };
        let store = Store::open(&dir, store_config)
            .with_context(|| format!("cannot open the journal in {}", dir.display()))?;
        eprintln!("callboard watch: journaling frames to {}", dir.display());
        Some(store)
    } else {
        None
    };
    let (credentials, demo) = match &config.credentials {
        Some(platform) => (Credentials::from_config(platform)?, None),
        None => {
            let simulator = crate::sim::Simulator::start(crate::sim::SimConfig::demo())
                .await
                .context(
                    "no RingCentral credentials are set and the built-in simulator could not start",
                )?;
            eprintln!(
                "callboard watch: no RingCentral credentials configured — watching the built-in simulator (DEMO) at {}",
                simulator.base_url()
            );
            let sim_credentials = simulator.credentials();
            let credentials = Credentials::new(
                simulator.base_url(),
                sim_credentials.client_id.clone(),
                Secret::new(sim_credentials.client_secret.clone()),
                Secret::new(sim_credentials.jwt.clone()),
            )?;
            (credentials, Some(simulator))
        }
    };
    let rest_config = RestConfig {
        relabel_path: config.relabel_path.clone(),
        ..RestConfig::default()
    };
    let rest = Arc::new(RestClient::connect(credentials, rest_config)?);
    let (events_tx, mut events) = mpsc::channel(4096);
    let session = ws::spawn(
        rest.clone(),
        SessionConfig::default(),
        sync::platform_sync(rest.clone(), zone),
        events_tx,
    );
    let board_config = BoardConfig {
        time_zone: zone,
        rolling_window_minutes: config.rolling_window_minutes,
        finished_call_horizon: chrono::Duration::minutes(i64::from(config.finished_calls_minutes)),
        label_grammar: config.label_grammar.clone().unwrap_or_default(),
        ..BoardConfig::default()
    };
    let mut board = Board::new(board_config, Vec::<String>::new());
    let mut notices = rest.notices();
    let stop = stop_requested(args.duration);
    tokio::pin!(stop);

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(OUTPUT_BUFFER, stdout.lock());
    let mut applied = 0u64;
    let mut unreadable = 0u64;
    let mut stdout_closed = false;
    let log = |line: String| eprintln!("callboard watch: {line}");

    'watching: loop {
        tokio::select! {
            _ = &mut stop => break,
            notice = notices.recv() => {
                if let Ok(notice) = notice {
                    log(notice.to_string());
                }
            }
            event = events.recv() => {
                let Some(mut event) = event else { break };
                // Everything already queued is handled before the output is flushed once: a
                // burst costs one write per batch, not one per line. The batch is bounded so a
                // stop request is still seen during an endless stream.
                let mut batch = 0;
                loop {
                    batch += 1;
                    let now = Utc::now();
                    match event {
                        SessionEvent::State(state) => log(state_line(&state)),
                        SessionEvent::Warning(warning) => log(warning),
                        SessionEvent::LiveCallsWanted(reply) => {
                            let _ = reply.send(apply::live_call_ids(&board));
                        }
                        SessionEvent::Synced(snapshot) => {
                            let result = apply::apply_snapshot(&mut board, &snapshot, now);
                            for warning in &snapshot.warnings {
                                log(warning.clone());
                            }
                            match snapshot.kind {
                                SyncKind::EndedWhileAway => log(format!(
                                    "call log: {} call(s) that ended while away corrected",
                                    result.corrected_from_call_log
                                )),
                                SyncKind::TodaysCalls => log(format!(
                                    "call log: {} earlier calls today",
                                    result.from_call_log
                                )),
                                SyncKind::Bootstrap | SyncKind::Resync => log(format!(
                                    "synced: {} live calls, {} ended while away",
                                    result.live_calls, result.ended_while_away
                                )),
                            }
                        }
                        SessionEvent::Notification(frame) => {
                            if let Some(store) = &journal
                                && let Err(e) = store.journal_append(frame.as_bytes(), now)
                            {
                                log(format!("journaling stopped: {e}"));
                                journal = None;
                            }
                            match apply::apply_notification(&mut board, frame.as_str(), now) {
                                Ok(event) if event.applied == Applied::Changed => {
                                    applied += 1;
                                    let written = if args.json {
                                        write_event_json(&mut out, &event, board.revision(), now)
                                    } else {
                                        writeln!(out, "{}", event_line(&event, &board, now))
                                    };
                                    if written.is_err() {
                                        // The reader went away (`| head`): nothing left to do.
                                        stdout_closed = true;
                                        break 'watching;
                                    }
                                    if args.count.is_some_and(|n| applied >= n) {
                                        break 'watching;
                                    }
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    unreadable += 1;
                                    tracing::warn!(target: "callboard::watch", "{e}");
                                }
                            }
                        }
                    }
                    if batch >= MAX_BATCH {
                        break;
                    }
                    match events.try_recv() {
                        Ok(next) => event = next,
                        Err(_) => break,
                    }
                }
                if out.flush().is_err() {
                    stdout_closed = true;
                    break 'watching;
                }
            }
        }
    }

    let now = Utc::now();
    if !stdout_closed {
        let closing = if args.json {
            json!({ "board": board.to_json(now) }).to_string()
        } else {
            summary(&board, applied, unreadable, now)
        };
        // A closed stdout at the very end leaves nothing to report to.
        let _ = writeln!(out, "{closing}").and_then(|()| out.flush());
    }
    drop(out);
    if let Some(store) = &journal
        && let Err(e) = store.flush()
    {
        log(format!("the journal's last frames may be lost: {e}"));
    }
    session.shutdown().await;
    rest.auth().revoke().await;
    if let Some(simulator) = demo {
        simulator.shutdown().await;
    }
    tracing::info!(
        target: "callboard::watch",
        "watch stopped after {applied} applied events ({unreadable} unreadable)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_usual_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("3d").is_err());
    }

    #[test]
    fn zones_are_iana_names() {
        assert_eq!(
            parse_zone("Europe/London").unwrap(),
            chrono_tz::Europe::London
        );
        assert!(parse_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn event_lines_are_small_json() {
        let event = AppliedEvent {
            applied: Applied::Changed,
            time: Some("2026-11-25T14:03:38.123Z".parse().unwrap()),
            detail: EventDetail::Telephony {
                telephony_session_id: "s-1".into(),
                party_id: Some("p-1-2".into()),
                status: Some("Answered".into()),
            },
        };
        let now = Utc::now();
        assert_eq!(
            event_json(&event, 42, now),
            json!({"time": "2026-11-25T14:03:38.123Z", "telephonySessionId": "s-1",
                   "party": "p-1-2", "status": "Answered", "revision": 42})
        );
        let mut line = Vec::new();
        write_event_json(&mut line, &event, 42, now).unwrap();
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"party\":\"p-1-2\",\"revision\":42,\"status\":\"Answered\",\
             \"telephonySessionId\":\"s-1\",\"time\":\"2026-11-25T14:03:38.123Z\"}\n"
        );
    }

    #[test]
    fn presence_and_other_lines_keep_their_shape() {
        let now: DateTime<Utc> = "2026-11-25T14:03:00Z".parse().unwrap();
        let presence = AppliedEvent {
            applied: Applied::Changed,
            time: None,
            detail: EventDetail::Presence {
                extension_id: Some("101".into()),
                telephony_status: None,
            },
        };
        assert_eq!(
            event_json(&presence, 7, now),
            json!({"time": "2026-11-25T14:03:00.000Z", "extensionId": "101",
                   "telephonyStatus": null, "revision": 7})
        );
        let other = AppliedEvent {
            detail: EventDetail::Other,
            ..presence
        };
        assert_eq!(
            event_json(&other, 8, now),
            json!({"time": "2026-11-25T14:03:00.000Z", "revision": 8})
        );
    }
}
