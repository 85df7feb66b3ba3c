//! Calls: every live call (all, or one queue's or campaign's), then the recently ended ones,
//! dimmed, with their outcome. And Call detail: who, where, the parties, a timeline, the
//! recording and the ids to copy.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::board::Board;
use crate::board::{Call, CallState};
use crate::ui::render::{clock_duration, short_duration};
use crate::ui::state::{CallScope, Screen, UiState};
use crate::ui::table::{Column, DrawRow, SortValue};
use crate::ui::theme::{Role, Theme};
use crate::ui::views::{TableData, call_state_label, is_recent, sort_items};

pub const COLUMNS: [Column; 9] = [
    Column::left("State", 11, 0),
    Column::right("In st.", 6, 0),
    Column::left("Caller", 13, 0),
    Column::left("Name", 12, 1).grow(),
    Column::left("Campaign", 12, 1).grow(),
    Column::left("Queue", 8, 2),
    Column::left("Agent", 10, 2),
    Column::left("Dialled", 13, 4),
    Column::right("Total", 6, 3),
];

/// When the call entered its current state, as far as the board can tell.
pub fn state_since(call: &Call) -> DateTime<Utc> {
    match call.state {
        CallState::Setup => call.started_at,
        CallState::Waiting => call.queued_at.unwrap_or(call.started_at),
        CallState::Voicemail => call.voicemail_at.unwrap_or(call.started_at),
        CallState::Ended => call.ended_at.unwrap_or(call.started_at),
        CallState::Talking | CallState::Hold | CallState::Parked => call
            .parties()
            .iter()
            .filter(|p| call.agent_id.is_some() && p.extension_id == call.agent_id)
            .map(|p| p.status_since)
            .max()
            .or(call.answered_at)
            .unwrap_or(call.started_at),
    }
}

/// Live calls order: waiting first (longest waiting on top), then the rest by start.
fn live_rank(call: &Call) -> u8 {
    match call.state {
        CallState::Waiting => 0,
        CallState::Setup => 1,
        CallState::Hold => 2,
        CallState::Parked => 3,
        CallState::Talking => 4,
        CallState::Voicemail => 5,
        CallState::Ended => 6,
    }
}

fn in_scope(board: &Board, call: &Call, scope: &CallScope) -> bool {
    match scope {
        CallScope::All => true,
        CallScope::Queue { id, .. } => call.queue_id.as_deref() == Some(id),
        CallScope::Campaign { campaign, dn } => board
            .campaign_of_call(call)
            .is_some_and(|(c, d)| &c == campaign && &d == dn),
    }
}

fn sort_value(board: &Board, call: &Call, column: usize, now: DateTime<Utc>) -> SortValue {
    let text = |s: Option<&str>| s.map_or(SortValue::Missing, SortValue::text);
    match column {
        0 => SortValue::Number(f64::from(live_rank(call))),
        1 => SortValue::Number((now - state_since(call)).num_milliseconds() as f64),
        2 => text(call.caller.as_deref()),
        3 => text(call.caller_name.as_deref()),
        4 => board
            .campaign_of_call(call)
            .map_or(SortValue::Missing, |(c, _)| SortValue::text(&c)),
        5 => text(call.queue_name.as_deref()),
        6 => text(call.agent_name.as_deref()),
        7 => text(call.dialed.as_deref()),
        _ => SortValue::Number(
            (call.ended_at.unwrap_or(now) - call.started_at).num_milliseconds() as f64,
        ),
    }
}

fn matches_filter(board: &Board, call: &Call, screen: &Screen) -> bool {
    if !screen.filter.is_active() {
        return true;
    }
    let campaign = board.campaign_of_call(call).map(|(c, _)| c);
    let (label, _) = call_state_label(call.state, call.outcome);
    let fields: Vec<&str> = [
        call.caller.as_deref(),
        call.caller_name.as_deref(),
        call.dialed.as_deref(),
        campaign.as_deref(),
        call.queue_name.as_deref(),
        call.agent_name.as_deref(),
        Some(label),
        Some(&*call.id),
    ]
    .into_iter()
    .flatten()
    .collect();
    screen.filter.matches(&fields)
}

/// The calls of a Calls screen in display order: live (sorted), then ended (newest first, or
/// sorted the same way).
fn calls<'a>(
    board: &'a Board,
    screen: &Screen,
    scope: &CallScope,
    now: DateTime<Utc>,
) -> Vec<&'a Call> {
    let mut live: Vec<&Call> = board
        .live_calls()
        .filter(|c| in_scope(board, c, scope) && matches_filter(board, c, screen))
        .collect();
    let mut ended: Vec<&Call> = board
        .calls()
        .rev()
        .filter(|c| !c.is_live() && in_scope(board, c, scope) && matches_filter(board, c, screen))
        .collect();
    if screen.sort.is_some() {
        sort_items(&mut live, screen.sort, |c, col| {
            sort_value(board, c, col, now)
        });
        sort_items(&mut ended, screen.sort, |c, col| {
            sort_value(board, c, col, now)
        });
    } else {
        // Cached: `state_since` walks the parties, and a plain `sort_by_key` would call it
        // twice per comparison (most of a frame's cost with 10k live calls).
        live.sort_by_cached_key(|c| (live_rank(c), state_since(c)));
        ended.sort_by_key(|c| std::cmp::Reverse(c.ended_at));
    }
    live.extend(ended);
    live
}

pub fn table<'a>(
    board: &'a Board,
    _ui: &'a UiState,
    screen: &Screen,
    scope: &CallScope,
    now: DateTime<Utc>,
) -> TableData<'a> {
    let calls = calls(board, screen, scope, now);
    let keys = calls.iter().map(|c| c.id.to_string()).collect();
    TableData {
        columns: &COLUMNS,
        keys,
        footer_row: None,
        empty: match scope {
            CallScope::All => "no calls yet today",
            _ => "no calls here yet today",
        },
        build: Box::new(move |i, theme| call_row(board, calls[i], theme, now)),
    }
}

fn call_row(board: &Board, call: &Call, theme: &Theme, now: DateTime<Utc>) -> DrawRow<'static> {
    let (label, role) = call_state_label(call.state, call.outcome);
    let live = call.is_live();
    let in_state = (now - state_since(call)).num_milliseconds() as f64 / 1000.0;
    let total = (call.ended_at.unwrap_or(now) - call.started_at).num_milliseconds() as f64 / 1000.0;
    let campaign = board.campaign_of_call(call).map(|(c, _)| c);
    let dash = || "—".to_string();
    let cells = vec![
        Line::styled(label, theme.style(role)),
        // For an ended call: how long ago it ended (the row is dimmed, so the two never mix).
        Line::from(if live {
            clock_duration(in_state)
        } else {
            short_duration(in_state as i64)
        }),
        Line::from(call.caller.as_deref().map_or_else(dash, str::to_owned)),
        Line::from(call.caller_name.as_deref().unwrap_or_default().to_owned()),
        Line::from(campaign.unwrap_or_else(dash)),
        Line::from(call.queue_name.as_deref().map_or_else(dash, str::to_owned)),
        Line::from(call.agent_name.as_deref().map_or_else(dash, str::to_owned)),
        Line::from(call.dialed.as_deref().map_or_else(dash, str::to_owned)),
        Line::from(clock_duration(total)),
    ];
    let style = if !live {
        theme.style(Role::Muted)
    } else if is_recent(Some(call.changed_at), now) {
        theme.style(Role::RowChanged)
    } else {
        Style::new()
    };
    DrawRow { cells, style }
}

/// `y` on a call: its telephony session id and the caller's number.
pub fn copy_text(board: &Board, session_id: &str) -> Option<String> {
    let call = board.call(session_id)?;
    Some(match &call.caller {
        Some(caller) => format!("{} {caller}", call.id),
        None => call.id.to_string(),
    })
}

fn time(at: Option<DateTime<Utc>>, tz: chrono_tz::Tz) -> String {
    at.map_or_else(
        || "—".into(),
        |t| t.with_timezone(&tz).format("%H:%M:%S").to_string(),
    )
}

/// Call detail: facts on the left, parties and the timeline below.
pub fn draw_detail(
    frame: &mut Frame,
    area: Rect,
    board: &Board,
    session_id: &str,
    theme: &Theme,
    now: DateTime<Utc>,
) {
    let Some(call) = board.call(session_id) else {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "  this call has left the board (finished calls are kept for a while, then only counted)",
                theme.style(Role::Muted),
            )),
            area,
        );
        return;
    };
    let tz = board.config().time_zone;
    let label = theme.style(Role::Header);
    let field = |name: &'static str, value: String| {
        Line::from(vec![
            Span::styled(format!("{name:<10}"), label),
            Span::raw(value),
        ])
    };
    let (state, role) = call_state_label(call.state, call.outcome);
    let campaign = board
        .campaign_of_call(call)
        .map(|(c, dn)| match dn {
            Some(dn) => format!("{c} (DN {dn})"),
            None => c,
        })
        .unwrap_or_else(|| "—".into());
    let dash = || "—".to_string();
    let secs = |ms: Option<i64>| ms.map_or_else(dash, |ms| clock_duration(ms as f64 / 1000.0));
    let recording = match &call.recording {
        Some(r) if r.active => format!("{} (recording now)", r.id),
        Some(r) => format!("{} (finished; fetch it from Recordings)", r.id),
        None => "none seen".into(),
    };
    let mut facts = vec![
        Line::from(vec![
            Span::styled(format!("{:<10}", "state"), label),
            Span::styled(state, theme.style(role)),
            Span::raw(format!(
                "  for {}",
                short_duration((now - state_since(call)).num_seconds())
            )),
        ]),
        field(
            "caller",
            format!(
                "{}  {}",
                call.caller.as_deref().map_or_else(dash, str::to_owned),
                call.caller_name.as_deref().unwrap_or_default().to_owned()
            ) + if call.first_time_caller {
                "  (first-time caller)"
            } else {
                ""
            },
        ),
        field(
            "dialled",
            call.dialed.as_deref().map_or_else(dash, str::to_owned),
        ),
        field("campaign", campaign),
        field(
            "queue",
            call.queue_name.as_deref().map_or_else(dash, str::to_owned),
        ),
        field(
            "agent",
            call.agent_name.as_deref().map_or_else(dash, str::to_owned),
        ),
        field(
            "times",
            format!(
                "started {}  queued {}  answered {}  ended {}",
                time(Some(call.started_at), tz),
                time(call.queued_at, tz),
                time(call.answered_at, tz),
                time(call.ended_at, tz)
            ),
        ),
        field(
            "durations",
            format!(
                "wait {}  talk {}  hold {}",
                secs(call.wait_ms(now)),
                secs(call.talk_ms(now)),
                secs(call.hold_ms(now))
            ),
        ),
        field("recording", recording),
        field(
            "ids",
            format!(
                "telephonySessionId {}  sessionId {}",
                call.id,
                call.session_id.as_deref().map_or_else(dash, str::to_owned)
            ),
        ),
    ];
    facts.push(Line::from(""));

    let mut timeline: Vec<(DateTime<Utc>, String)> = vec![(call.started_at, "call started".into())];
    if let Some(at) = call.queued_at {
        timeline.push((
            at,
            format!(
                "entered queue {}",
                call.queue_name.as_deref().unwrap_or("?")
            ),
        ));
    }
    for party in call.party_summaries() {
        let who = match party.extension_id.as_deref() {
            None => "caller".to_string(),
            Some(ext) => board
                .agent(ext)
                .and_then(|a| a.name.clone())
                .unwrap_or_else(|| format!("ext {ext}")),
        };
        if party.extension_id.is_some() {
            timeline.push((party.first_seen, format!("{who} rung")));
        }
        if let Some(at) = party.first_answered_at {
            timeline.push((at, format!("{who} connected")));
        }
        if let Some(at) = party.voicemail_at {
            timeline.push((at, format!("{who} to voicemail")));
        }
        let status = party.status.as_str();
        match party.ended_at {
            Some(at) => timeline.push((at, format!("{who} {}", status.to_lowercase()))),
            None if party.first_answered_at != Some(party.status_since)
                && party.status_since != party.first_seen =>
            {
                timeline.push((
                    party.status_since,
                    format!("{who} {} (now)", status.to_lowercase()),
                ));
            }
            None => {}
        }
    }
    if let Some(at) = call.ended_at {
        timeline.push((at, format!("call ended: {}", call.outcome.as_str())));
    }
    timeline.sort_by_key(|(at, _)| *at);
    timeline.dedup();
    let mut lines = facts;
    lines.push(Line::styled("Timeline", label));
    let muted = theme.style(Role::Muted);
    for (at, what) in timeline {
        lines.push(Line::from(vec![
            Span::styled(format!("  {}  ", time(Some(at), tz)), muted),
            Span::raw(what),
        ]));
    }
    let [body] = Layout::vertical([Constraint::Min(1)]).areas(area);
    frame.render_widget(Paragraph::new(lines), body);
}
