//! Calls: every live call (all, or one queue's or campaign's), then the recently ended ones,
//! dimmed, with their outcome. And Call detail: who, where, the parties, a timeline, the
//! recording and the ids to copy.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use std::cell::RefCell;
use std::ops::Range;
use std::sync::Arc;

use crate::board::{Board, Call, Outcome, live_rank, state_since, state_since_is_lower_bound};
use crate::ui::filter::RowFilter;
use crate::ui::render::{clock_duration, short_duration};
use crate::ui::state::{CallScope, Screen, SortSpec, UiState};
use crate::ui::table::{Column, DrawRow, RowList, SortValue, position_in};
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

fn in_scope(board: &Board, call: &Call, scope: &CallScope) -> bool {
    match scope {
        CallScope::All => true,
        CallScope::Queue { id, .. } => call.queue_id.as_deref() == Some(id),
        CallScope::Campaign { campaign, dn } => board
            .campaign_ref_of_call(call)
            .is_some_and(|(c, d)| c == campaign && d == dn.as_deref()),
    }
}

fn sort_value(board: &Board, call: &Call, column: usize, now: DateTime<Utc>) -> SortValue {
    let text = |s: Option<&str>| s.map_or(SortValue::Missing, SortValue::text);
    match column {
        0 => SortValue::Number(f64::from(live_rank(call.state))),
        1 => SortValue::Number((now - state_since(call)).num_milliseconds() as f64),
        2 => text(call.caller.as_deref()),
        3 => text(call.caller_name.as_deref()),
        4 => text(board.campaign_ref_of_call(call).map(|(c, _)| c)),
        5 => text(call.queue_name.as_deref()),
        6 => text(call.agent_name.as_deref()),
        7 => text(call.dialed.as_deref()),
        _ => SortValue::Number(
            (call.ended_at.unwrap_or(now) - call.started_at).num_milliseconds() as f64,
        ),
    }
}

/// Whether a time column is sorted: its values move with `now`, and not all alike (a live
/// call's total grows, an ended one's does not), so the order can change with no event.
fn sort_follows_clock(sort: Option<SortSpec>) -> bool {
    sort.is_some_and(|s| s.column == 1 || s.column == COLUMNS.len() - 1)
}

/// The filter over a call's searchable fields, borrowed: this runs for every call held.
fn matches_filter(board: &Board, call: &Call, filter: &RowFilter) -> bool {
    if !filter.is_active() {
        return true;
    }
    let (label, _) = row_state_label(call);
    let fields = [
        call.caller.as_deref(),
        call.caller_name.as_deref(),
        call.dialed.as_deref(),
        call.queue_name.as_deref(),
        call.agent_name.as_deref(),
        Some(label),
        Some(&*call.id),
    ];
    // The campaign costs a lookup in the number book: asked for last, only if nothing else hit.
    let campaign = std::iter::once_with(|| board.campaign_ref_of_call(call).map(|(c, _)| c));
    filter.matches_fields(fields.into_iter().chain(campaign).flatten())
}

/// The ids of a scoped, filtered or sorted Calls screen in display order: live calls (in the
/// board's order, or sorted), then ended ones (newest end first, or sorted the same way). This
/// walks every call held; [`RowCache`] keeps the result until the board or the screen changes.
fn listed_ids(
    board: &Board,
    screen: &Screen,
    scope: &CallScope,
    now: DateTime<Utc>,
) -> Vec<String> {
    let keep =
        |call: &&Call| in_scope(board, call, scope) && matches_filter(board, call, &screen.filter);
    let live = board
        .live_order()
        .ids_from(0)
        .filter_map(|id| board.call(id))
        .filter(keep);
    let ended = board.ended_calls_newest_first().filter(keep);
    if screen.sort.is_none() {
        return live.chain(ended).map(|c| c.id.to_string()).collect();
    }
    let mut live: Vec<&Call> = live.collect();
    let mut ended: Vec<&Call> = ended.collect();
    sort_items(&mut live, screen.sort, |c, col| {
        sort_value(board, c, col, now)
    });
    sort_items(&mut ended, screen.sort, |c, col| {
        sort_value(board, c, col, now)
    });
    live.iter()
        .chain(&ended)
        .map(|c| c.id.to_string())
        .collect()
}

/// What a cached list of Calls rows was computed for.
#[derive(Debug, Clone, PartialEq)]
struct ListedFor {
    revision: u64,
    scope: CallScope,
    filter: String,
    sort: Option<SortSpec>,
    /// The second of `now`, when the sort column is a time (else `None`).
    second: Option<i64>,
}

/// The last list of a scoped, filtered or sorted Calls screen. Frames that only move timers or
/// the cursor reuse it; a board change, another filter, sort or scope recomputes it. A cache,
/// not state: cloning the UI state starts it empty.
#[derive(Default)]
pub struct RowCache(RefCell<Option<(ListedFor, Arc<[String]>)>>);

impl Clone for RowCache {
    fn clone(&self) -> Self {
        RowCache::default()
    }
}

impl std::fmt::Debug for RowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.0.borrow().as_ref().map_or(0, |(_, ids)| ids.len());
        write!(f, "RowCache({held} rows)")
    }
}

impl RowCache {
    fn ids(
        &self,
        board: &Board,
        screen: &Screen,
        scope: &CallScope,
        now: DateTime<Utc>,
    ) -> Arc<[String]> {
        let wanted = ListedFor {
            revision: board.revision(),
            scope: scope.clone(),
            filter: screen.filter.text.clone(),
            sort: screen.sort,
            second: sort_follows_clock(screen.sort).then(|| now.timestamp()),
        };
        let mut cache = self.0.borrow_mut();
        if let Some((listed_for, ids)) = cache.as_ref()
            && *listed_for == wanted
        {
            return Arc::clone(ids);
        }
        let ids: Arc<[String]> = listed_ids(board, screen, scope, now).into();
        *cache = Some((wanted, Arc::clone(&ids)));
        ids
    }
}

/// The rows of a Calls screen.
enum CallRows<'a> {
    /// Every call in the default order, read from the board's indexes: the live order, then
    /// finished calls newest end first. A frame reads the viewport's rows only.
    Board(&'a Board),
    /// A scoped, filtered or sorted screen: the ids, listed once per change ([`RowCache`]).
    Listed(Arc<[String]>),
}

impl RowList for CallRows<'_> {
    fn len(&self) -> usize {
        match self {
            CallRows::Board(board) => board.live_order().len() + board.ended_call_count(),
            CallRows::Listed(ids) => ids.len(),
        }
    }

    fn keys(&self, range: Range<usize>) -> Vec<&str> {
        match self {
            CallRows::Board(board) => {
                let live = board.live_order();
                let wanted = range.len();
                let mut keys: Vec<&str> = live.ids_from(range.start).take(wanted).collect();
                if keys.len() < wanted {
                    let skip = range.start.saturating_sub(live.len());
                    keys.extend(
                        board
                            .ended_calls_newest_first()
                            .skip(skip)
                            .take(wanted - keys.len())
                            .map(|c| &*c.id),
                    );
                }
                keys
            }
            CallRows::Listed(ids) => {
                let end = range.end.min(ids.len());
                ids[range.start.min(end)..end]
                    .iter()
                    .map(String::as_str)
                    .collect()
            }
        }
    }

    fn position(&self, key: &str, hint: usize) -> Option<usize> {
        match self {
            CallRows::Board(board) => {
                let call = board.call(key)?;
                let live = board.live_order();
                if call.is_live() {
                    return live.position(call);
                }
                // Finished calls are listed from the board's end index, which has no ranks:
                // check where the selection was last seen, then walk from the newest. The walk
                // grows with how far down the finished calls the selection is, not with the
                // calls held, and runs only after the rows above it changed.
                let mut ended = board.ended_calls_newest_first().map(|c| &*c.id);
                if let Some(offset) = hint.checked_sub(live.len())
                    && board
                        .ended_calls_newest_first()
                        .nth(offset)
                        .is_some_and(|c| &*c.id == key)
                {
                    return Some(hint);
                }
                ended.position(|id| id == key).map(|at| live.len() + at)
            }
            CallRows::Listed(ids) => position_in(ids, key, hint),
        }
    }
}

pub fn table<'a>(
    board: &'a Board,
    ui: &'a UiState,
    screen: &Screen,
    scope: &CallScope,
    now: DateTime<Utc>,
) -> TableData<'a> {
    let everything =
        *scope == CallScope::All && !screen.filter.is_active() && screen.sort.is_none();
    let rows = if everything {
        CallRows::Board(board)
    } else {
        CallRows::Listed(ui.calls_rows.ids(board, screen, scope, now))
    };
    TableData {
        columns: &COLUMNS,
        rows: Box::new(rows),
        footer_row: None,
        empty: match scope {
            CallScope::All => "no calls yet today",
            _ => "no calls here yet today",
        },
        build: Box::new(move |_, key, theme| match board.call(key) {
            Some(call) => call_row(board, call, theme, now),
            None => DrawRow {
                cells: Vec::new(),
                style: Style::new(),
            },
        }),
    }
}

/// The state cell of a row: the live state, the outcome of an ended call, or for a call whose
/// end was not seen (a resync closed it) `?` and the outcome guessed so far.
fn row_state_label(call: &Call) -> (&'static str, Role) {
    if !call.end_seen && !call.is_live() {
        return (unseen_end_label(call.outcome), Role::CallEnded);
    }
    call_state_label(call.state, call.outcome)
}

/// `?` instead of the outcome's glyph: the outcome is a guess until the call log says.
fn unseen_end_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Answered => "? answered",
        Outcome::Abandoned => "? abandoned",
        Outcome::ShortAbandon => "? short ab.",
        Outcome::Voicemail => "? voicemail",
        Outcome::Missed => "? missed",
        Outcome::Outbound => "? outbound",
        Outcome::Internal => "? internal",
        Outcome::Live => "? ended",
    }
}

fn call_row(board: &Board, call: &Call, theme: &Theme, now: DateTime<Utc>) -> DrawRow<'static> {
    let (label, role) = row_state_label(call);
    let live = call.is_live();
    let in_state = (now - state_since(call)).num_milliseconds() as f64 / 1000.0;
    let total = (call.ended_at.unwrap_or(now) - call.started_at).num_milliseconds() as f64 / 1000.0;
    let campaign = board.campaign_ref_of_call(call).map(|(c, _)| c.to_owned());
    let dash = || "—".to_string();
    let cells = vec![
        Line::styled(label, theme.style(role)),
        // For an ended call: how long ago it ended (the row is dimmed, so the two never mix).
        Line::from(if !live {
            ago_cell(in_state)
        } else if state_since_is_lower_bound(call) {
            // Live before callboard saw it: "at least" this long.
            format!("{}+", timer_cell(in_state))
        } else {
            timer_cell(in_state)
        }),
        Line::from(call.caller.as_deref().map_or_else(dash, str::to_owned)),
        Line::from(call.caller_name.as_deref().unwrap_or_default().to_owned()),
        Line::from(campaign.unwrap_or_else(dash)),
        Line::from(call.queue_name.as_deref().map_or_else(dash, str::to_owned)),
        Line::from(call.agent_name.as_deref().map_or_else(dash, str::to_owned)),
        Line::from(call.dialed.as_deref().map_or_else(dash, str::to_owned)),
        Line::from(if live {
            timer_cell(total)
        } else {
            clock_duration(total)
        }),
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

/// From this age on, a running timer in a Calls row counts minutes instead of seconds.
const TIMER_SECONDS_UNTIL: i64 = 10 * 60;

/// A running timer in a Calls row (time in state, total time of a live call). Under ten
/// minutes it counts seconds (waits and fresh calls, where seconds matter against service
/// levels); from ten minutes it counts whole minutes, so long calls do not rewrite their cells
/// every second: on a busy board most rows are long calls, and over SSH every changed cell is
/// bytes on the wire. The unit is always written, so `12m` cannot be read as `0:12`.
fn timer_cell(seconds: f64) -> String {
    let whole = seconds.max(0.0) as i64;
    match whole {
        _ if whole < TIMER_SECONDS_UNTIL => clock_duration(seconds),
        0..3600 => format!("{}m", whole / 60),
        _ => format!("{}h{:02}m", whole / 3600, (whole % 3600) / 60),
    }
}

/// How long ago a call ended: seconds for the first minute, then minutes (the same reasoning
/// as [`timer_cell`]: a list of ended calls would otherwise change every cell every second).
fn ago_cell(seconds: f64) -> String {
    let whole = seconds.max(0.0) as i64;
    match whole {
        0..60 => format!("{whole}s"),
        60..3600 => format!("{}m", whole / 60),
        _ => format!("{}h{:02}m", whole / 3600, (whole % 3600) / 60),
    }
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
    let (state, role) = row_state_label(call);
    let end_unseen = !call.end_seen && !call.is_live();
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
    let mut facts = vec![Line::from(vec![
        Span::styled(format!("{:<10}", "state"), label),
        Span::styled(state, theme.style(role)),
        Span::raw(if state_since_is_lower_bound(call) {
            format!(
                "  for at least {} (in this state before callboard saw it)",
                short_duration((now - state_since(call)).num_seconds())
            )
        } else {
            format!(
                "  for {}",
                short_duration((now - state_since(call)).num_seconds())
            )
        }),
    ])];
    if end_unseen {
        let note = theme.style(Role::StatusDegraded);
        for text in [
            "? end not seen: a resync found the call gone",
            "  end time and outcome are guesses until the call log corrects them",
        ] {
            facts.push(Line::from(vec![
                Span::styled(format!("{:<10}", ""), label),
                Span::styled(text, note),
            ]));
        }
    }
    facts.extend([
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
                time(call.ended_at, tz) + if end_unseen { " (noticed)" } else { "" }
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
    ]);
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
        let what = if end_unseen {
            format!(
                "call found gone (end not seen; {} is a guess)",
                call.outcome.as_str()
            )
        } else {
            format!("call ended: {}", call.outcome.as_str())
        };
        timeline.push((at, what));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_count_seconds_while_short_then_minutes() {
        assert_eq!(timer_cell(45.0), "0:45");
        assert_eq!(timer_cell(599.0), "9:59");
        assert_eq!(timer_cell(600.0), "10m");
        assert_eq!(timer_cell(659.0), "10m");
        assert_eq!(timer_cell(3_725.0), "1h02m");
        assert_eq!(ago_cell(42.0), "42s");
        assert_eq!(ago_cell(500.0), "8m");
        assert_eq!(ago_cell(7_300.0), "2h01m");
        assert_eq!(ago_cell(-1.0), "0s");
    }
}
