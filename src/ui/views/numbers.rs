//! Numbers: the account's phone numbers with their labels, the campaign and DN the label grammar
//! reads from them, and today's figures; `e` relabels (a dangerous action: it changes the
//! account). Recordings: the recordings of the board's calls, and what the local store holds.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use ratatui::style::Style;
use ratatui::text::Line;

use crate::board::Board;
use crate::board::{Call, NumberRow};
use crate::store::download::DownloadUpdate;
use crate::store::recordings::{RecordingMeta, RecordingStatus};
use crate::ui::downloads::{Downloads, human_bytes};
use crate::ui::relabel::NumberKind;
use crate::ui::render::clock_duration;
use crate::ui::state::{CallScope, Screen, ScreenKind, UiState};
use crate::ui::table::{Column, DrawRow, SortValue};
use crate::ui::theme::{Role, Theme};
use crate::ui::views::{RelabelTarget, TableData, board_window, count_cell, sort_items};

pub const NUMBER_COLUMNS: [Column; 10] = [
    Column::left("Number", 14, 0),
    Column::left("Label", 20, 0).grow(),
    Column::left("Campaign", 14, 1).grow(),
    Column::left("DN", 13, 2),
    Column::left("Usage", 10, 4),
    Column::left("Rings", 12, 3).grow(),
    Column::right("Live", 4, 2),
    Column::right("Offer", 5, 1),
    Column::right("Ans", 5, 3),
    Column::right("Missed", 6, 2),
];

pub const RECORDING_COLUMNS: [Column; 10] = [
    Column::left("Started", 8, 0),
    Column::left("Recording", 14, 0),
    Column::left("Status", 13, 0),
    Column::left("Caller", 13, 1),
    Column::left("Campaign", 14, 2).grow(),
    Column::left("Queue", 12, 3),
    Column::left("Agent", 14, 2),
    Column::right("Length", 7, 1),
    Column::right("Size", 9, 3),
    Column::left("Fetched", 12, 4),
];

/// One Numbers row: the board's figures plus what the view adds (who it rings, its usage type,
/// a write in flight, a bulk mark).
struct NumberLine {
    row: NumberRow,
    usage_type: Option<String>,
    rings: Option<String>,
    /// The label being written, while the platform has not confirmed it.
    pending: Option<String>,
    marked: bool,
}

fn number_sort_value(line: &NumberLine, column: usize) -> SortValue {
    let n = |v: i64| SortValue::Number(v as f64);
    let text = |v: &Option<String>| v.as_deref().map_or(SortValue::Missing, SortValue::text);
    let row = &line.row;
    match column {
        0 => SortValue::text(&row.number),
        1 => text(&row.label),
        2 => SortValue::text(&row.campaign),
        3 => text(&row.dn),
        4 => text(&line.usage_type),
        5 => text(&line.rings),
        6 => n(row.live),
        7 => n(row.offered),
        8 => n(row.answered),
        _ => n(row.missed),
    }
}

/// Account numbers only: dialled numbers outside the account have no id and cannot be
/// relabelled. The kind toggle (`t`) and the filter narrow them; the filter also matches the
/// usage type and what the number rings.
fn number_rows(
    board: &Board,
    ui: &UiState,
    screen: &Screen,
    now: DateTime<Utc>,
) -> Vec<NumberLine> {
    let mut rows: Vec<NumberLine> = board
        .number_rows(board_window(ui.window), now)
        .into_iter()
        .filter_map(|row| {
            let id = row.id.clone()?;
            let entry = board.number(&id);
            Some(NumberLine {
                usage_type: entry.and_then(|e| e.usage_type.clone()),
                rings: entry.and_then(|e| e.extension_name.clone()),
                pending: ui.pending_relabels.get(&id).cloned(),
                marked: ui.marked_numbers.contains(&id),
                row,
            })
        })
        .filter(|line| {
            ui.number_kind
                .admits(line.row.label.is_some(), line.row.dn.is_some())
        })
        .filter(|line| {
            let row = &line.row;
            let mut fields: Vec<&str> = vec![&row.number, &row.campaign];
            fields.extend(row.label.as_deref());
            fields.extend(row.dn.as_deref());
            fields.extend(line.usage_type.as_deref());
            fields.extend(line.rings.as_deref());
            screen.filter.matches(&fields)
        })
        .collect();
    sort_items(&mut rows, screen.sort, number_sort_value);
    rows
}

pub fn numbers_table<'a>(
    board: &'a Board,
    ui: &'a UiState,
    screen: &Screen,
    now: DateTime<Utc>,
) -> TableData<'a> {
    let rows = number_rows(board, ui, screen, now);
    let keys = rows
        .iter()
        .map(|r| r.row.id.clone().unwrap_or_else(|| r.row.number.clone()))
        .collect();
    TableData {
        columns: &NUMBER_COLUMNS,
        keys,
        footer_row: None,
        empty: match ui.number_kind {
            NumberKind::All => "no phone numbers yet (they load from the platform at start)",
            NumberKind::Ctns => "no CTNs (labels with campaign + DN); t shows the others",
            NumberKind::Unlabelled => "no unlabelled numbers; t shows the others",
        },
        build: Box::new(move |i, theme| number_row(&rows[i], theme)),
    }
}

fn number_row(line: &NumberLine, theme: &Theme) -> DrawRow<'static> {
    let row = &line.row;
    let old = row.label.as_deref().unwrap_or("(no label)");
    // A write in flight shows the label being written first (the column may be narrow), then
    // the one still in place, and says so with a glyph, not by colour alone.
    let (label, label_style) = match (&line.pending, &row.label) {
        (Some(new), _) => (format!("⧗ {new} ← {old}"), theme.style(Role::RowChanged)),
        (None, Some(label)) => (label.clone(), Style::new()),
        (None, None) => ("(no label)".to_string(), theme.style(Role::Muted)),
    };
    let mark = if line.marked { "● " } else { "" };
    let cells = vec![
        Line::from(format!("{mark}{}", row.number)),
        Line::styled(label, label_style),
        Line::from(row.campaign.clone()),
        Line::from(row.dn.clone().unwrap_or_else(|| "—".into())),
        Line::from(line.usage_type.clone().unwrap_or_default()),
        Line::from(line.rings.clone().unwrap_or_default()),
        Line::from(count_cell(row.live)),
        Line::from(count_cell(row.offered)),
        Line::from(count_cell(row.answered)),
        Line::from(count_cell(row.missed)),
    ];
    DrawRow {
        cells,
        style: Style::new(),
    }
}

pub fn relabel_target(board: &Board, key: &str) -> Option<RelabelTarget> {
    let entry = board.number(key)?;
    Some(RelabelTarget {
        number_id: entry.id.clone(),
        number: entry.number.clone(),
        label: entry.label.clone().unwrap_or_default(),
    })
}

/// Enter on a number opens the calls of its campaign.
pub fn open(board: &Board, key: &str) -> Option<ScreenKind> {
    let entry = board.number(key)?;
    let (campaign, dn) = board.campaign_of_number(&entry.number);
    Some(ScreenKind::Calls(CallScope::Campaign { campaign, dn }))
}

/// One row of the Recordings view: a recording the board knows from a call, what the store
/// holds of it, or both.
struct RecordingItem<'a> {
    recording_id: String,
    call: Option<&'a Call>,
    stored: Option<&'a RecordingMeta>,
}

impl RecordingItem<'_> {
    fn started_at(&self) -> Option<DateTime<Utc>> {
        self.call
            .map(|c| c.started_at)
            .or(self.stored.map(|m| m.started_at))
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

    /// Bytes stored (complete), or received so far while downloading; a partial one left from
    /// an interrupted download shows none (its stored prefix is only known by reading it).
    fn size_bytes(&self, downloads: &Downloads) -> Option<u64> {
        downloads
            .row(&self.recording_id)
            .filter(|row| row.is_running())
            .and_then(|row| row.progress.map(|p| p.bytes))
            .or(self
                .stored
                .filter(|m| m.is_complete())
                .and_then(|m| m.length))
    }

    fn fetched_at(&self) -> Option<DateTime<Utc>> {
        self.stored.and_then(|m| m.fetched_at)
    }

    /// Glyph + word: where the recording is; a running download says how far it got.
    fn status_text(&self, downloads: &Downloads) -> (String, Role) {
        if let Some(row) = downloads
            .row(&self.recording_id)
            .filter(|row| row.is_running())
        {
            return match (&row.last, row.ratio()) {
                (DownloadUpdate::Waiting { .. } | DownloadUpdate::Queued, _) => {
                    ("… waiting".to_string(), Role::CallWaiting)
                }
                (_, Some(ratio)) => (format!("↓ {:.0}%", ratio * 100.0), Role::CallTalking),
                (_, None) => ("↓ fetching".to_string(), Role::CallTalking),
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
            (None, Some(call))
                if call.is_live() || call.recording.as_ref().is_some_and(|r| r.active) =>
            {
                ("● recording", Role::CallTalking)
            }
            (None, _) => ("○ on platform", Role::Muted),
        }
    }
}

fn recording_items<'a>(board: &'a Board, stored: &'a [RecordingMeta]) -> Vec<RecordingItem<'a>> {
    let by_id: HashMap<&str, &RecordingMeta> = stored
        .iter()
        .map(|m| (m.recording_id.as_str(), m))
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut items: Vec<RecordingItem> = board
        .calls()
        .rev()
        .filter_map(|call| {
            let id = call.recording.as_ref()?.id.as_str();
            seen.insert(id);
            Some(RecordingItem {
                recording_id: id.to_string(),
                call: Some(call),
                stored: by_id.get(id).copied(),
            })
        })
        .collect();
    let mut stored_only: Vec<&RecordingMeta> = stored
        .iter()
        .filter(|m| !seen.contains(m.recording_id.as_str()))
        .collect();
    stored_only.sort_by_key(|m| std::cmp::Reverse(m.started_at));
    items.extend(stored_only.into_iter().map(|meta| {
        RecordingItem {
            recording_id: meta.recording_id.clone(),
            call: meta
                .call
                .telephony_session_id
                .as_deref()
                .and_then(|id| board.call(id)),
            stored: Some(meta),
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
        1 => SortValue::text(&item.recording_id),
        2 => SortValue::text(&item.status_text(downloads).0),
        3 => text(item.caller()),
        4 => item
            .campaign(board)
            .map_or(SortValue::Missing, |c| SortValue::text(&c)),
        5 => text(item.queue()),
        6 => text(item.agent()),
        7 => SortValue::number(item.length_seconds(now)),
        8 => SortValue::number(item.size_bytes(downloads).map(|b| b as f64)),
        _ => SortValue::number(item.fetched_at().map(|t| t.timestamp_millis() as f64)),
    }
}

pub fn recordings_table<'a>(
    board: &'a Board,
    ui: &'a UiState,
    screen: &Screen,
    now: DateTime<Utc>,
) -> TableData<'a> {
    let mut items: Vec<RecordingItem> = recording_items(board, &ui.stored_recordings)
        .into_iter()
        .filter(|item| {
            let campaign = item.campaign(board);
            let fields: Vec<&str> = [
                Some(item.recording_id.as_str()),
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
    let keys = items.iter().map(|i| i.recording_id.clone()).collect();
    TableData {
        columns: &RECORDING_COLUMNS,
        keys,
        footer_row: None,
        empty: "no recordings yet: calls that are recorded appear here, and what you fetch is kept in the local store",
        build: Box::new(move |i, theme| recording_row(board, &ui.downloads, &items[i], theme, now)),
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
        Line::from(item.recording_id.clone()),
        Line::styled(status, theme.style(role)),
        Line::from(item.caller().map_or_else(dash, str::to_string)),
        Line::from(item.campaign(board).unwrap_or_else(dash)),
        Line::from(item.queue().map_or_else(dash, str::to_string)),
        Line::from(item.agent().map_or_else(dash, str::to_string)),
        Line::from(item.length_seconds(now).map_or_else(dash, clock_duration)),
        Line::from(item.size_bytes(downloads).map_or_else(dash, human_bytes)),
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

/// The call of a recording row, for Enter and `y`.
pub fn recording_session(board: &Board, ui: &UiState, recording_id: &str) -> Option<String> {
    board
        .calls()
        .find(|c| c.recording.as_ref().is_some_and(|r| r.id == recording_id))
        .map(|c| c.id.to_string())
        .or_else(|| {
            ui.stored_recordings
                .iter()
                .find(|m| m.recording_id == recording_id)
                .and_then(|m| m.call.telephony_session_id.clone())
        })
}
