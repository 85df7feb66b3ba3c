//! The views over the board. Each view module turns board data into rows in two steps: first
//! the rows in display order as a [`RowList`] (most views list their few items' keys; the Calls
//! view reads the board's live-call order, so a frame never walks every call), then cells for
//! only the rows in the viewport. This module dispatches on the current screen and holds what
//! the views share (state glyphs, sparklines, the breach rule).
//!
//! | module         | screens                                                   |
//! |----------------|-----------------------------------------------------------|
//! | [`queues`]     | Queues (default), with the roll-up row and sparklines     |
//! | [`campaigns`]  | Campaigns, expandable to their numbers                    |
//! | [`calls`]      | Calls (all, or one queue's / campaign's) and Call detail  |
//! | [`agents`]     | Agents of every queue                                     |
//! | [`numbers`]    | Numbers (labels, campaigns, relabel)                      |
//! | [`recordings`] | Recordings: stored, partial, lookups, download gauges     |
//! | [`audit`]      | the relabel audit                                         |

pub mod agents;
pub mod audit;
pub mod calls;
pub mod campaigns;
pub mod numbers;
pub mod queues;
pub mod recordings;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::board::Board;
use crate::board::Window;
use crate::board::{CallState, Outcome, QueueRow};
use crate::ui::keys::Action;
use crate::ui::state::{MetricWindow, Screen, ScreenKind, SortSpec, UiState};
use crate::ui::table::{
    Column, DrawRow, RowList, SortValue, draw_table, fit_columns, selected_index, viewport,
};
use crate::ui::theme::{Role, Theme};

/// A row counts as just changed for this long after its data moved (`row.changed` style).
pub const CHANGED_SECONDS: i64 = 3;

/// The board's window for the UI's.
pub fn board_window(window: MetricWindow) -> Window {
    match window {
        MetricWindow::Today => Window::Today,
        MetricWindow::Rolling => Window::Rolling,
    }
}

/// Builds the cells of one row in a theme, given its index in display order and its key.
pub type BuildRow<'a> = Box<dyn Fn(usize, &str, &Theme) -> DrawRow<'static> + 'a>;
/// Builds the line shown under a table (the roll-up row) in a theme.
pub type BuildFooter<'a> = Box<dyn Fn(&Theme) -> DrawRow<'static> + 'a>;

/// What a view tells the shared table code about one screen.
pub struct TableData<'a> {
    pub columns: &'static [Column],
    /// The rows in display order (sorted, filtered): a count, and keys asked for by range, so
    /// a frame touches the viewport's rows only.
    pub rows: Box<dyn RowList + 'a>,
    /// Builds the cells of one row; called for visible rows only.
    pub build: BuildRow<'a>,
    /// Builds the line shown under the table (the roll-up row).
    pub footer_row: Option<BuildFooter<'a>>,
    /// Shown instead of an empty table.
    pub empty: &'static str,
}

/// Rows listed as their keys in display order (views with few rows).
pub fn rows_of<'a>(keys: Vec<String>) -> Box<dyn RowList + 'a> {
    Box::new(keys)
}

fn table_data<'a>(board: &'a Board, ui: &'a UiState, now: DateTime<Utc>) -> Option<TableData<'a>> {
    let screen = ui.screen();
    match &screen.kind {
        ScreenKind::Queues => Some(queues::table(board, ui, screen, now)),
        ScreenKind::Campaigns => Some(campaigns::table(board, ui, screen, now)),
        ScreenKind::Calls(scope) => Some(calls::table(board, ui, screen, scope, now)),
        ScreenKind::Agents => Some(agents::table(board, screen, now)),
        ScreenKind::Numbers => Some(numbers::numbers_table(board, ui, screen, now)),
        ScreenKind::Recordings => Some(recordings::recordings_table(board, ui, screen, now)),
        ScreenKind::Audit => Some(audit::table(ui, screen, now)),
        ScreenKind::CallDetail { .. } => None,
    }
}

/// Draws the current screen into `area`.
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    board: &Board,
    ui: &UiState,
    theme: &Theme,
    now: DateTime<Utc>,
) {
    let screen = ui.screen();
    if let ScreenKind::CallDetail { session_id } = &screen.kind {
        calls::draw_detail(frame, area, board, session_id, theme, now);
        return;
    }
    let area = if screen.kind == ScreenKind::Recordings {
        recordings::draw_panel(frame, area, board, ui, theme, now)
    } else if screen.kind == ScreenKind::Numbers {
        // A bulk relabel's gauge sits under the numbers it changes.
        let gauge = crate::ui::relabel::progress_height(ui).min(area.height / 2);
        let [table, panel] = ratatui::layout::Layout::vertical([
            ratatui::layout::Constraint::Min(1),
            ratatui::layout::Constraint::Length(gauge),
        ])
        .areas(area);
        crate::ui::relabel::draw_progress(frame, panel, ui, theme, now);
        table
    } else if screen.kind == ScreenKind::Audit {
        let detail = audit::DETAIL_LINES.min(area.height / 2);
        let [table, panel] = ratatui::layout::Layout::vertical([
            ratatui::layout::Constraint::Min(1),
            ratatui::layout::Constraint::Length(detail),
        ])
        .areas(area);
        audit::draw_detail(frame, panel, ui, theme, now);
        table
    } else {
        area
    };
    let Some(data) = table_data(board, ui, now) else {
        return;
    };
    let fitted = fit_columns(data.columns, area.width);
    let footer_lines = u16::from(data.footer_row.is_some());
    let mut body_rows = usize::from(area.height.saturating_sub(1 + footer_lines));
    // A list longer than the screen gives up its last line to say where the selection is.
    let total = data.rows.len();
    let scrolls = total > body_rows;
    if scrolls {
        body_rows = body_rows.saturating_sub(1);
    }
    if total == 0 {
        let message = if screen.filter.is_active() {
            "no rows match the filter (esc clears it)"
        } else {
            data.empty
        };
        draw_table(
            frame,
            area,
            theme,
            data.columns,
            &fitted,
            sort_marker(screen),
            Vec::new(),
            None,
        );
        if area.height > 2 {
            let rect = Rect {
                y: area.y + 2,
                height: 1,
                ..area
            };
            frame.render_widget(
                Paragraph::new(Line::styled(
                    format!("  {message}"),
                    theme.style(Role::Muted),
                )),
                rect,
            );
        }
        return;
    }
    let selected = selected_index(screen, data.rows.as_ref());
    let range = viewport(total, selected, body_rows);
    let mut rows: Vec<DrawRow> = data
        .rows
        .keys(range.clone())
        .into_iter()
        .zip(range.clone())
        .map(|(key, i)| (data.build)(i, key, theme))
        .collect();
    let selected_in_view = selected.checked_sub(range.start);
    let table_height = rows.len() as u16 + 1;
    if let Some(footer_row) = &data.footer_row {
        rows.push(footer_row(theme));
    }
    let table_area = Rect {
        height: (table_height + footer_lines).min(area.height),
        ..area
    };
    draw_table(
        frame,
        table_area,
        theme,
        data.columns,
        &fitted,
        sort_marker(screen),
        rows,
        selected_in_view,
    );
    if scrolls && area.height > 1 {
        let position = format!("{}/{} ", selected + 1, total);
        let width = (position.chars().count() as u16).min(area.width);
        let rect = Rect {
            x: area.x + area.width - width,
            y: area.y + area.height - 1,
            width,
            height: 1,
        };
        frame.render_widget(Line::styled(position, theme.style(Role::Muted)), rect);
    }
}

fn sort_marker(screen: &Screen) -> Option<(usize, bool)> {
    screen.sort.map(|s| (s.column, s.reverse))
}

/// The keys of every row of the current screen, in display order (bulk actions over what a
/// view lists).
pub fn row_keys(board: &Board, ui: &UiState, now: DateTime<Utc>) -> Vec<String> {
    table_data(board, ui, now)
        .map(|d| {
            let len = d.rows.len();
            d.rows.keys(0..len).into_iter().map(str::to_owned).collect()
        })
        .unwrap_or_default()
}

/// The selected row of the current screen: its index in display order and its key.
pub fn selected_row(board: &Board, ui: &UiState, now: DateTime<Utc>) -> Option<(usize, String)> {
    moved_selection(board, ui, now, 0)
}

/// The row `by` rows from the selection (clamped to the list): its index and key. `None` when
/// the screen has no rows.
pub fn moved_selection(
    board: &Board,
    ui: &UiState,
    now: DateTime<Utc>,
    by: isize,
) -> Option<(usize, String)> {
    let data = table_data(board, ui, now)?;
    let len = data.rows.len();
    if len == 0 {
        return None;
    }
    let current = selected_index(ui.screen(), data.rows.as_ref());
    let next = current.saturating_add_signed(by).min(len - 1);
    let key = data
        .rows
        .keys(next..next + 1)
        .first()
        .map(|k| (*k).to_owned())?;
    Some((next, key))
}

/// The screen Enter opens from row `key`.
pub fn open(board: &Board, ui: &UiState, key: &str) -> Option<ScreenKind> {
    match &ui.screen().kind {
        ScreenKind::Queues => queues::open(board, key),
        ScreenKind::Campaigns => campaigns::open(board, key),
        ScreenKind::Calls(_) => Some(ScreenKind::CallDetail {
            session_id: key.to_string(),
        }),
        ScreenKind::Recordings => recordings::recording_session(board, ui, key)
            .filter(|id| board.call(id).is_some())
            .map(|session_id| ScreenKind::CallDetail { session_id }),
        ScreenKind::Agents => agents::open(board, key),
        ScreenKind::Numbers => numbers::open(board, key),
        ScreenKind::CallDetail { .. } | ScreenKind::Audit => None,
    }
}

/// What `y` copies from row `key`.
pub fn copy_text(board: &Board, ui: &UiState, key: &str) -> Option<String> {
    match &ui.screen().kind {
        ScreenKind::Calls(_) => calls::copy_text(board, key),
        ScreenKind::Recordings => Some(match recordings::recording_session(board, ui, key) {
            Some(session) => format!("{key} {session}"),
            None => key.to_string(),
        }),
        ScreenKind::CallDetail { session_id } => calls::copy_text(board, session_id),
        ScreenKind::Numbers => board.number(key).map(|n| n.number.clone()),
        ScreenKind::Agents => board.agent(key).and_then(|a| a.current_call.clone()),
        ScreenKind::Queues => Some(key.to_string()),
        ScreenKind::Campaigns => campaigns::copy_text(key),
        ScreenKind::Audit => audit::copy_text(ui, key),
    }
}

/// The number `e` relabels from row `key`, if the screen holds numbers.
pub struct RelabelTarget {
    pub number_id: String,
    pub number: String,
    pub label: String,
}

pub fn relabel_target(board: &Board, ui: &UiState, key: &str) -> Option<RelabelTarget> {
    match &ui.screen().kind {
        ScreenKind::Numbers => numbers::relabel_target(board, key),
        ScreenKind::Campaigns => {
            campaigns::number_of_key(key).and_then(|n| numbers::relabel_target(board, n))
        }
        _ => None,
    }
}

pub fn column_count(kind: &ScreenKind) -> usize {
    columns_of(kind).len()
}

pub fn column_title(kind: &ScreenKind, column: usize) -> Option<&'static str> {
    columns_of(kind).get(column).map(|c| c.title)
}

/// Figures read best largest first; names alphabetically.
pub fn sorts_descending_first(kind: &ScreenKind, column: usize) -> bool {
    columns_of(kind)
        .get(column)
        .is_some_and(|c| c.align == ratatui::layout::Alignment::Right)
}

fn columns_of(kind: &ScreenKind) -> &'static [Column] {
    match kind {
        ScreenKind::Queues => &queues::COLUMNS,
        ScreenKind::Campaigns => &campaigns::COLUMNS,
        ScreenKind::Calls(_) => &calls::COLUMNS,
        ScreenKind::Agents => &agents::COLUMNS,
        ScreenKind::Numbers => &numbers::NUMBER_COLUMNS,
        ScreenKind::Recordings => &recordings::RECORDING_COLUMNS,
        ScreenKind::Audit => &audit::COLUMNS,
        ScreenKind::CallDetail { .. } => &[],
    }
}

/// Whether the screen shows figures for a window (so the title says which).
pub fn shows_window(kind: &ScreenKind) -> bool {
    matches!(
        kind,
        ScreenKind::Queues | ScreenKind::Campaigns | ScreenKind::Numbers
    )
}

/// The title of a screen, for the breadcrumb line.
pub fn screen_title(board: &Board, kind: &ScreenKind) -> String {
    match kind {
        ScreenKind::Queues => "Queues".into(),
        ScreenKind::Campaigns => "Campaigns".into(),
        ScreenKind::Calls(crate::ui::state::CallScope::All) => "Calls".into(),
        ScreenKind::Calls(crate::ui::state::CallScope::Queue { name, .. }) => {
            format!("{name} calls")
        }
        ScreenKind::Calls(crate::ui::state::CallScope::Campaign { campaign, .. }) => {
            format!("{campaign} calls")
        }
        ScreenKind::CallDetail { session_id } => match board.call(session_id) {
            Some(call) => format!("call {}", call.caller.as_deref().unwrap_or(session_id)),
            None => "call".into(),
        },
        ScreenKind::Agents => "Agents".into(),
        ScreenKind::Numbers => "Numbers".into(),
        ScreenKind::Recordings => "Recordings".into(),
        ScreenKind::Audit => "Relabel audit (newest first)".into(),
    }
}

/// The hints the footer shows on a screen, most useful first; the footer keeps what fits.
pub fn footer_actions(kind: &ScreenKind, ui: &UiState) -> Vec<Action> {
    let mut actions = vec![Action::Help];
    match kind {
        ScreenKind::Queues | ScreenKind::Agents => actions.push(Action::Open),
        ScreenKind::Campaigns => actions.extend([Action::Open, Action::Expand]),
        ScreenKind::Calls(_) => {
            actions.extend([Action::Open, Action::FetchRecording, Action::Copy])
        }
        ScreenKind::Recordings => actions.extend([
            Action::FetchRecording,
            Action::ExportRecording,
            Action::PlayRecording,
            Action::DeleteRecording,
            Action::Open,
        ]),
        ScreenKind::CallDetail { .. } => actions.push(Action::Copy),
        ScreenKind::Numbers => {
            if ui.relabel_progress.is_some() {
                actions.push(Action::CancelRelabels);
            }
            actions.extend([
                Action::Relabel,
                Action::MarkNumber,
                Action::BulkRelabel,
                Action::UndoRelabel,
                Action::NumberKind,
                Action::RelabelAudit,
                Action::Open,
            ])
        }
        ScreenKind::Audit => actions.extend([Action::UndoRelabel, Action::Copy]),
    }
    if ui.stack.len() > 1 || ui.screen().filter.is_active() {
        actions.push(Action::Back);
    }
    if !matches!(kind, ScreenKind::CallDetail { .. }) {
        actions.extend([Action::Filter, Action::SortNext]);
    }
    if shows_window(kind) {
        actions.push(Action::ToggleWindow);
    }
    if !ui.breached.is_empty()
        && ui
            .breached
            .iter()
            .any(|q| !ui.acknowledged_breaches.contains(q))
    {
        actions.insert(1, Action::AckBell);
    }
    actions.extend([Action::NextView, Action::Command, Action::Quit]);
    actions
}

/// Records a label the platform confirmed, so attribution follows at once.
pub fn apply_relabel(board: &mut Board, number_id: &str, label: &str, now: DateTime<Utc>) {
    if !board.set_number_label(number_id, Some(label), now) {
        tracing::warn!(number_id, "relabelled number is not on the board");
    }
}

/// Queues breaching their service level now: a wait past the threshold, or SL under goal.
pub fn breached_queues(board: &Board, ui: &UiState, now: DateTime<Utc>) -> BTreeSet<String> {
    board
        .queue_rows(board_window(ui.window), now)
        .into_iter()
        .filter(|row| queue_breach(row).any())
        .map(|row| row.id)
        .collect()
}

/// Which of a queue's service-level marks are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breach {
    /// The longest wait is past the queue's SLA threshold.
    pub wait: bool,
    /// The service level is under the queue's goal.
    pub service_level: bool,
}

impl Breach {
    pub fn any(self) -> bool {
        self.wait || self.service_level
    }
}

pub fn queue_breach(row: &QueueRow) -> Breach {
    Breach {
        wait: row
            .longest_wait_seconds
            .is_some_and(|wait| wait > row.sla.threshold_s),
        service_level: row
            .service_level_pct
            .is_some_and(|sl| sl < row.sla.goal_pct),
    }
}

/// Whether anything on screen counts seconds (so the loop ticks at 1 Hz).
pub fn timers_visible(board: &Board, ui: &UiState, now: DateTime<Utc>) -> bool {
    let recent_event = ui
        .last_event_at
        .is_some_and(|at| (now - at).num_seconds() < 60);
    let flash = ui
        .flash
        .as_ref()
        .is_some_and(|f| (now - f.at).num_seconds() <= crate::ui::state::Flash::SECONDS);
    recent_event
        || flash
        || matches!(ui.connection, crate::ui::state::Connection::Offline { .. })
        || !board.live_order().is_empty()
}

/// Glyph and word for a call's state (live) or outcome (ended), and its theme role. Never colour
/// alone: the glyph and the word carry the meaning in mono too.
pub fn call_state_label(state: CallState, outcome: Outcome) -> (&'static str, Role) {
    match (state, outcome) {
        (CallState::Setup, _) => ("◌ setup", Role::CallSetup),
        (CallState::Waiting, _) => ("◷ waiting", Role::CallWaiting),
        (CallState::Talking, _) => ("● talking", Role::CallTalking),
        (CallState::Hold, _) => ("‖ hold", Role::CallHold),
        (CallState::Parked, _) => ("P parked", Role::CallHold),
        (CallState::Voicemail, _) => ("✉ voicemail", Role::CallHold),
        (CallState::Ended, Outcome::Answered) => ("✓ answered", Role::CallEnded),
        (CallState::Ended, Outcome::Abandoned) => ("✗ abandoned", Role::CallAbandoned),
        (CallState::Ended, Outcome::ShortAbandon) => ("✗ short ab.", Role::CallEnded),
        (CallState::Ended, Outcome::Voicemail) => ("✉ voicemail", Role::CallEnded),
        (CallState::Ended, Outcome::Missed) => ("✗ missed", Role::CallAbandoned),
        (CallState::Ended, Outcome::Outbound) => ("→ outbound", Role::CallEnded),
        (CallState::Ended, Outcome::Internal) => ("↔ internal", Role::CallEnded),
        (CallState::Ended, Outcome::Live) => ("· ended", Role::CallEnded),
    }
}

const SPARK_LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of the last `width` values, scaled to their maximum. A zero is the lowest bar,
/// so a quiet minute still shows as a mark.
pub fn sparkline(values: &[u32], width: usize) -> String {
    let tail = &values[values.len().saturating_sub(width)..];
    let max = tail.iter().copied().max().unwrap_or(0);
    tail.iter()
        .map(|&v| {
            if max == 0 || v == 0 {
                SPARK_LEVELS[0]
            } else {
                let level = (u64::from(v) * 7).div_ceil(u64::from(max)) as usize;
                SPARK_LEVELS[level.min(7)]
            }
        })
        .collect()
}

/// Sorts `items` by the screen's sort column, stable over the given order.
pub fn sort_items<T>(
    items: &mut Vec<T>,
    sort: Option<SortSpec>,
    value: impl Fn(&T, usize) -> SortValue,
) {
    let Some(sort) = sort else {
        return;
    };
    let mut decorated: Vec<(SortValue, T)> = items
        .drain(..)
        .map(|item| (value(&item, sort.column), item))
        .collect();
    decorated.sort_by(|a, b| a.0.compare(&b.0, sort.reverse));
    items.extend(decorated.into_iter().map(|(_, item)| item));
}

/// A count as a cell ("0" shows as a quiet "·" so the numbers that matter stand out).
pub fn count_cell(n: i64) -> String {
    if n == 0 { "·".into() } else { n.to_string() }
}

pub fn opt_duration_cell(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "—".into(), crate::ui::render::clock_duration)
}

pub fn is_recent(changed_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    changed_at.is_some_and(|at| (now - at).num_seconds() < CHANGED_SECONDS && at <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_the_maximum() {
        assert_eq!(sparkline(&[0, 1, 2, 4, 8], 5), "▁▂▃▅█");
        assert_eq!(sparkline(&[0, 0], 5), "▁▁");
        assert_eq!(sparkline(&[9, 9, 1, 8], 2), "▂█");
    }

    #[test]
    fn every_state_has_a_glyph_and_a_word() {
        for (state, outcome) in [
            (CallState::Waiting, Outcome::Live),
            (CallState::Ended, Outcome::Abandoned),
            (CallState::Ended, Outcome::Answered),
        ] {
            let (label, _) = call_state_label(state, outcome);
            let (glyph, word) = label.split_once(' ').unwrap();
            assert!(!glyph.is_empty() && word.len() > 2, "{label}");
        }
    }
}
