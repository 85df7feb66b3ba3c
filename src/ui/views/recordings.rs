//! Recordings: the recordings of the board's calls, what the local store holds of them
//! (complete, partial with how much, or marked for refetch), and the call-log lookups under way;
//! under the table, one gauge line per download (bytes, rate, time left, or why it waits with a
//! true countdown), running ones first, and a line saying what `f` does for a selected partial
//! or damaged recording.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use crate::board::{Board, Call};
use crate::store::download::{DownloadUpdate, WaitReason};
use crate::store::recordings::{RecordingMeta, RecordingStatus};
use crate::text::sanitize;
use crate::ui::downloads::{DownloadRow, Downloads, RowKind, human_bytes};
use crate::ui::render::clock_duration;
use crate::ui::state::{Screen, UiState};
use crate::ui::table::{Column, DrawRow, SortValue};
use crate::ui::theme::{Role, Theme};
use crate::ui::views::{TableData, rows_of, sort_items};

pub const RECORDING_COLUMNS: [Column; 10] = [
    Column::left("Started", 8, 0),
    Column::left("Recording", 14, 0),
    Column::left("Status", 13, 0),
    Column::left("Caller", 13, 1),
    Column::left("Campaign", 14, 2).grow(),
    Column::left("Queue", 12, 3),
    Column::left("Agent", 14, 2),
    Column::right("Length", 7, 1),
    Column::right("Size", 14, 3),
    Column::left("Fetched", 12, 4),
];

/// One row of the Recordings view: a recording the board knows from a call, what the store
/// holds of it, or both; or an ended call whose recording is being looked up in the call log.
struct RecordingItem<'a> {
    /// The recording id; for a lookup, the call's session id (what `x` cancels).
    key: String,
    lookup: bool,
    call: Option<&'a Call>,
    stored: Option<&'a RecordingMeta>,
    /// Content bytes held of a recording not completely stored.
    partial_bytes: Option<u64>,
}

impl RecordingItem<'_> {
    fn started_at(&self) -> Option<DateTime<Utc>> {
        self.call
            .map(|c| c.started_at)
            .or(self.stored.map(|m| m.started_at))
    }

    fn recording_id(&self) -> Option<&str> {
        (!self.lookup).then_some(self.key.as_str())
    }

    fn caller(&self) -> Option<&str> {
        self.call
            .and_then(|c| c.caller.as_deref())
            .or(self.stored.and_then(|m| m.call.caller.as_deref()))
    }

    fn agent(&self) -> Option<&str> {
        self.call
            .and_then(|c| c.agent_name.as_deref())
            .or(self.stored.and_then(|m| m.call.agent.as_deref()))
    }

    fn campaign(&self, board: &Board) -> Option<String> {
        self.call
            .and_then(|c| board.campaign_of_call(c).map(|(c, _)| c))
            .or(self.stored.and_then(|m| m.call.campaign.clone()))
    }

    fn length_seconds(&self, now: DateTime<Utc>) -> Option<f64> {
        match (self.call, self.stored) {
            (Some(call), _) => Some(
                (call.ended_at.unwrap_or(now) - call.started_at).num_milliseconds() as f64 / 1000.0,
            ),
            (None, Some(meta)) => meta.call.duration_seconds.map(f64::from),
            (None, None) => None,
        }
    }

    fn queue(&self) -> Option<&str> {
        self.call
            .and_then(|c| c.queue_name.as_deref())
            .or(self.stored.and_then(|m| m.call.queue.as_deref()))
    }

    /// Bytes in hand and the total when known: received so far while downloading, stored so
    /// far for a partial recording, the length of a complete (or damaged) one.
    fn size(&self, downloads: &Downloads) -> Option<(u64, Option<u64>)> {
        let total = self.stored.and_then(|m| m.length);
        if let Some(progress) = downloads
            .row(&self.key)
            .filter(|row| row.is_running())
            .and_then(|row| row.progress)
        {
            return Some((progress.bytes, progress.total.or(total)));
        }
        match self.stored {
            Some(meta) if meta.status == RecordingStatus::Partial => {
                self.partial_bytes.map(|bytes| (bytes, total))
            }
            // Complete, or complete once and since found damaged: its length.
            Some(meta) => meta.length.map(|length| (length, None)),
            None => None,
        }
    }

    fn size_text(&self, downloads: &Downloads) -> Option<String> {
        self.size(downloads).map(|(bytes, total)| match total {
            Some(total) if total != bytes => bytes_of(bytes, total),
            _ => human_bytes(bytes),
        })
    }

    fn fetched_at(&self) -> Option<DateTime<Utc>> {
        self.stored.and_then(|m| m.fetched_at)
    }

    /// Glyph + word: where the recording is; a running download says how far it got, a
    /// lookup or a wait says what it waits for.
    fn status_text(&self, downloads: &Downloads) -> (String, Role) {
        if let Some(row) = downloads.row(&self.key).filter(|row| row.is_running()) {
            let waiting = |what: &str| (format!("… {what}"), Role::CallWaiting);
            return match (&row.last, row.ratio()) {
                (DownloadUpdate::Waiting { reason, .. }, _) => match reason {
                    WaitReason::NotYetAvailable => waiting("waiting"),
                    WaitReason::Paced | WaitReason::RateLimited => waiting("paced"),
                    WaitReason::ConnectionLost { .. } => waiting("reconnect"),
                },
                (DownloadUpdate::Queued, _) => waiting("queued"),
                _ if self.lookup => waiting("call log"),
                (_, Some(ratio)) => (format!("↓ {:.0}%", ratio * 100.0), Role::CallTalking),
                (_, None) => ("↓ fetching".to_string(), Role::CallTalking),
            };
        }
        if self.lookup {
            return match downloads.row(&self.key).map(|row| &row.last) {
                Some(DownloadUpdate::Failed { .. }) => ("✗ failed".to_string(), Role::Error),
                _ => ("○ cancelled".to_string(), Role::Muted),
            };
        }
        if let Some(meta) = self.stored.filter(|m| m.status == RecordingStatus::Partial) {
            let share = self
                .partial_bytes
                .zip(meta.length.filter(|&l| l > 0))
                .map(|(bytes, length)| bytes as f64 / length as f64 * 100.0);
            return match share {
                Some(percent) => (format!("◐ partial {percent:.0}%"), Role::CallWaiting),
                None => ("◐ partial".to_string(), Role::CallWaiting),
            };
        }
        let (text, role) = self.status();
        (text.to_string(), role)
    }

    /// Glyph + word: where the recording is.
    fn status(&self) -> (&'static str, Role) {
        match (self.stored.map(|m| m.status), self.call) {
            (Some(RecordingStatus::Complete), _) => ("✓ stored", Role::SlaOk),
            (Some(RecordingStatus::Partial), _) => ("◐ partial", Role::CallWaiting),
            (Some(RecordingStatus::NeedsRefetch), _) => ("! refetch", Role::Error),
            _ if self.lookup => ("… call log", Role::CallWaiting),
            (None, Some(call))
                if call.is_live() || call.recording.as_ref().is_some_and(|r| r.active) =>
            {
                ("● recording", Role::CallTalking)
            }
            (None, _) => ("○ on platform", Role::Muted),
        }
    }
}

/// `1.5 of 3.8 MiB` (or `512 KiB of 3.8 MiB` when the units differ).
fn bytes_of(bytes: u64, total: u64) -> String {
    let (done, all) = (human_bytes(bytes), human_bytes(total));
    match (done.split_once(' '), all.split_once(' ')) {
        (Some((number, unit)), Some((_, total_unit))) if unit == total_unit => {
            format!("{number} of {all}")
        }
        _ => format!("{done} of {all}"),
    }
}

fn recording_items<'a>(board: &'a Board, ui: &'a UiState) -> Vec<RecordingItem<'a>> {
    let stored = &ui.stored_recordings;
    let by_id: HashMap<&str, &RecordingMeta> = stored
        .iter()
        .map(|m| (m.recording_id.as_str(), m))
        .collect();
    let partial_bytes = |id: &str| ui.partial_bytes.get(id).copied();
    // Lookups have no recording id yet: they show under their call, first (they are what the
    // user just asked for), until the download takes over; so they can be selected and
    // cancelled like one.
    let mut items: Vec<RecordingItem> = ui
        .downloads
        .rows()
        .into_iter()
        .filter(|row| row.kind == RowKind::Lookup)
        .map(|row| RecordingItem {
            key: row.id.clone(),
            lookup: true,
            call: board.call(&row.id),
            stored: None,
            partial_bytes: None,
        })
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    items.extend(board.calls().rev().filter_map(|call| {
        let id = call.recording.as_ref()?.id.as_str();
        seen.insert(id);
        Some(RecordingItem {
            key: id.to_string(),
            lookup: false,
            call: Some(call),
            stored: by_id.get(id).copied(),
            partial_bytes: partial_bytes(id),
        })
    }));
    let mut stored_only: Vec<&RecordingMeta> = stored
        .iter()
        .filter(|m| !seen.contains(m.recording_id.as_str()))
        .collect();
    stored_only.sort_by_key(|m| std::cmp::Reverse(m.started_at));
    items.extend(stored_only.into_iter().map(|meta| {
        RecordingItem {
            key: meta.recording_id.clone(),
            lookup: false,
            call: meta
                .call
                .telephony_session_id
                .as_deref()
                .and_then(|id| board.call(id)),
            stored: Some(meta),
            partial_bytes: partial_bytes(&meta.recording_id),
        }
    }));
    items
}

fn recording_sort_value(
    board: &Board,
    downloads: &Downloads,
    item: &RecordingItem,
    column: usize,
    now: DateTime<Utc>,
) -> SortValue {
    let text = |s: Option<&str>| s.map_or(SortValue::Missing, SortValue::text);
    match column {
        0 => SortValue::number(item.started_at().map(|t| t.timestamp_millis() as f64)),
        1 => text(item.recording_id()),
        2 => SortValue::text(&item.status_text(downloads).0),
        3 => text(item.caller()),
        4 => item
            .campaign(board)
            .map_or(SortValue::Missing, |c| SortValue::text(&c)),
        5 => text(item.queue()),
        6 => text(item.agent()),
        7 => SortValue::number(item.length_seconds(now)),
        8 => SortValue::number(item.size(downloads).map(|(bytes, _)| bytes as f64)),
        _ => SortValue::number(item.fetched_at().map(|t| t.timestamp_millis() as f64)),
    }
}

/// The items the table shows, filtered and sorted as the screen says.
fn visible_items<'a>(
    board: &'a Board,
    ui: &'a UiState,
    screen: &Screen,
    now: DateTime<Utc>,
) -> Vec<RecordingItem<'a>> {
    let mut items: Vec<RecordingItem> = recording_items(board, ui)
        .into_iter()
        .filter(|item| {
            let campaign = item.campaign(board);
            let fields: Vec<&str> = [
                Some(item.key.as_str()),
                item.caller(),
                item.call.and_then(|c| c.caller_name.as_deref()),
                campaign.as_deref(),
                item.queue(),
                item.agent(),
                Some(item.status().0),
            ]
            .into_iter()
            .flatten()
            .collect();
            screen.filter.matches(&fields)
        })
        .collect();
    sort_items(&mut items, screen.sort, |item, col| {
        recording_sort_value(board, &ui.downloads, item, col, now)
    });
    items
}

pub fn recordings_table<'a>(
    board: &'a Board,
    ui: &'a UiState,
    screen: &Screen,
    now: DateTime<Utc>,
) -> TableData<'a> {
    let items = visible_items(board, ui, screen, now);
    let keys = items.iter().map(|i| i.key.clone()).collect();
    TableData {
        columns: &RECORDING_COLUMNS,
        rows: rows_of(keys),
        footer_row: None,
        empty: "no recordings yet: calls that are recorded appear here, and what you fetch is kept in the local store",
        build: Box::new(move |i, _, theme| {
            recording_row(board, &ui.downloads, &items[i], theme, now)
        }),
    }
}

fn recording_row(
    board: &Board,
    downloads: &Downloads,
    item: &RecordingItem,
    theme: &Theme,
    now: DateTime<Utc>,
) -> DrawRow<'static> {
    let tz = board.config().time_zone;
    let (status, role) = item.status_text(downloads);
    let dash = || "—".to_string();
    // Today's times by the clock; older ones by date, so yesterday's 12:03 is not today's.
    let when = |t: DateTime<Utc>, today_format: &str, older_format: &str| {
        let local = t.with_timezone(&tz);
        if local.date_naive() == now.with_timezone(&tz).date_naive() {
            local.format(today_format).to_string()
        } else {
            local.format(older_format).to_string()
        }
    };
    let cells = vec![
        Line::from(
            item.started_at()
                .map_or_else(dash, |t| when(t, "%H:%M:%S", "%b %d")),
        ),
        Line::from(item.recording_id().map_or_else(dash, str::to_string)),
        Line::styled(status, theme.style(role)),
        Line::from(item.caller().map_or_else(dash, str::to_string)),
        Line::from(item.campaign(board).unwrap_or_else(dash)),
        Line::from(item.queue().map_or_else(dash, str::to_string)),
        Line::from(item.agent().map_or_else(dash, str::to_string)),
        Line::from(item.length_seconds(now).map_or_else(dash, clock_duration)),
        Line::from(item.size_text(downloads).unwrap_or_else(dash)),
        Line::from(
            item.fetched_at()
                .map_or_else(dash, |t| when(t, "%H:%M", "%b %d %H:%M")),
        ),
    ];
    DrawRow {
        cells,
        style: Style::new(),
    }
}

/// The call of a recording row (or of a lookup row), for Enter and `y`.
pub fn recording_session(board: &Board, ui: &UiState, key: &str) -> Option<String> {
    if ui
        .downloads
        .row(key)
        .is_some_and(|row| row.kind == RowKind::Lookup)
    {
        return Some(key.to_string());
    }
    board
        .calls()
        .find(|c| c.recording.as_ref().is_some_and(|r| r.id == key))
        .map(|c| c.id.to_string())
        .or_else(|| {
            ui.stored_recordings
                .iter()
                .find(|m| m.recording_id == key)
                .and_then(|m| m.call.telephony_session_id.clone())
        })
}

/// What `f` would do for the selected row when that needs saying: a partial recording resumes,
/// a damaged one is fetched again. `None` for anything else.
fn selection_note(board: &Board, ui: &UiState, now: DateTime<Utc>) -> Option<(String, Role)> {
    let screen = ui.screen();
    let items = visible_items(board, ui, screen, now);
    let item = match &screen.selected {
        Some(key) => items.iter().find(|item| &item.key == key),
        None => items.first(),
    }?;
    if ui.downloads.is_running(&item.key) {
        return None;
    }
    let meta = item.stored?;
    let id = sanitize(&meta.recording_id);
    match meta.status {
        RecordingStatus::Complete => None,
        RecordingStatus::Partial => {
            let held = match item.size(&ui.downloads) {
                Some((bytes, Some(total))) => format!("{} stored", bytes_of(bytes, total)),
                Some((bytes, None)) => format!("{} stored", human_bytes(bytes)),
                None => "nothing stored yet".to_string(),
            };
            Some((
                format!("{id}: partial, {held} — resumes on fetch (f)"),
                Role::CallWaiting,
            ))
        }
        RecordingStatus::NeedsRefetch => {
            let why = meta
                .refetch_reason
                .as_deref()
                .map(|reason| format!(" ({})", sanitize(reason)))
                .unwrap_or_default();
            // The action first: the reason may be long (two sha256 sums) and is cut first.
            Some((
                format!("{id}: damaged — f fetches it again{why}"),
                Role::Error,
            ))
        }
    }
}

/// Width of the bar in each gauge line; narrow terminals get the short one, so the words
/// (how far, how fast, how long to wait) keep their room.
const BAR_CELLS: usize = 20;
const SHORT_BAR_CELLS: usize = 10;
/// Terminals narrower than this get the short bar.
const WIDE_PANEL: u16 = 100;
/// Width of the id column.
const ID_CELLS: usize = 14;

/// Draws the panel at the bottom of `area` and returns what is left for the table. The panel
/// holds the selection's note, then the downloads' heading and one gauge line per download,
/// never more than half the screen; it takes nothing when it has nothing to say.
pub fn draw_panel(
    frame: &mut Frame,
    area: Rect,
    board: &Board,
    ui: &UiState,
    theme: &Theme,
    now: DateTime<Utc>,
) -> Rect {
    let note = selection_note(board, ui, now);
    let rows = ui.downloads.rows();
    let wanted = usize::from(note.is_some()) + if rows.is_empty() { 0 } else { rows.len() + 1 };
    if wanted == 0 || area.height < 6 {
        return area;
    }
    let panel_height = u16::try_from(wanted)
        .unwrap_or(u16::MAX)
        .min(area.height / 2);
    let table = Rect {
        height: area.height - panel_height,
        ..area
    };
    let panel = Rect {
        y: area.y + table.height,
        height: panel_height,
        ..area
    };

    let mut lines = Vec::new();
    if let Some((note, role)) = note {
        lines.push(Line::styled(
            fit(&note, usize::from(panel.width)),
            theme.style(role),
        ));
    }
    if !rows.is_empty() {
        let running = ui.downloads.running();
        lines.push(Line::styled(
            format!(
                "Downloads: {running} running{}",
                if running > 0 {
                    " (x cancels the selected one)"
                } else {
                    ""
                }
            ),
            theme.style(Role::Header),
        ));
    }
    let room = usize::from(panel.height).saturating_sub(lines.len());
    lines.extend(
        rows.iter()
            .take(room)
            .map(|row| gauge_line(row, panel.width, theme, now)),
    );
    frame.render_widget(Paragraph::new(lines), panel);
    table
}

fn gauge_line<'a>(row: &DownloadRow, width: u16, theme: &Theme, now: DateTime<Utc>) -> Line<'a> {
    let role = match &row.last {
        DownloadUpdate::Finished { .. } => Role::SlaOk,
        DownloadUpdate::Failed { .. } => Role::Error,
        DownloadUpdate::Cancelled => Role::Muted,
        DownloadUpdate::Waiting { .. } | DownloadUpdate::Queued => Role::CallWaiting,
        _ => Role::CallTalking,
    };
    let id = fit(&sanitize(&row.id), ID_CELLS);
    let mut text = row.describe(now);
    // While waiting, the bytes already in hand stay visible beside the reason.
    if !matches!(row.last, DownloadUpdate::Progress(_))
        && row.is_running()
        && let Some(progress) = row.progress
    {
        text = format!("{} · {text}", human_bytes(progress.bytes));
    }
    let bar_cells = if width >= WIDE_PANEL {
        BAR_CELLS
    } else {
        SHORT_BAR_CELLS
    };
    let used = ID_CELLS + 1 + bar_cells + 2 + 5;
    let text = fit(&text, usize::from(width).saturating_sub(used));
    let percent = row
        .ratio()
        .map(|r| format!("{:>3.0}%", r * 100.0))
        .unwrap_or_else(|| "   -".to_owned());
    Line::from(vec![
        Span::raw(format!("{id:<ID_CELLS$} ")),
        Span::styled(gauge_bar(row.ratio(), bar_cells), theme.style(role)),
        Span::raw(format!(" {percent}  ")),
        Span::styled(text, theme.style(role)),
    ])
}

/// A bar of `cells` cells, filled in eighths on a dotted track: `█████▍··············`.
/// Unknown totals draw the empty track.
pub fn gauge_bar(ratio: Option<f64>, cells: usize) -> String {
    const PARTIAL: [char; 8] = ['·', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = ratio.map_or(0, |r| {
        (r.clamp(0.0, 1.0) * (cells * 8) as f64).round() as usize
    });
    let full = eighths / 8;
    let mut bar: String = "█".repeat(full);
    if full < cells {
        bar.push(PARTIAL[eighths % 8]);
        bar.push_str(&"·".repeat(cells - full - 1));
    }
    bar
}

/// `text` cut to `cells` terminal cells, with `…` when cut.
fn fit(text: &str, cells: usize) -> String {
    if text.width() <= cells {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        if out.width() + c.to_string().width() + 1 > cells {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_in_eighths_of_a_cell() {
        assert_eq!(gauge_bar(None, 4), "····");
        assert_eq!(gauge_bar(Some(0.0), 4), "····");
        assert_eq!(gauge_bar(Some(0.5), 4), "██··");
        assert_eq!(gauge_bar(Some(0.5 + 1.0 / 32.0), 4), "██▏·");
        assert_eq!(gauge_bar(Some(1.0), 4), "████");
        assert_eq!(gauge_bar(Some(7.0), 4), "████");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(fit("waiting for the recording", 10), "waiting f…");
        assert_eq!(fit("short", 10), "short");
    }
}
