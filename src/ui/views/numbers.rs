//! Numbers: the account's phone numbers with their labels, the campaign and DN the label grammar
//! reads from them, and today's figures; `e` relabels (a dangerous action: it changes the
//! account). The Recordings view lives in [`super::recordings`].

use chrono::{DateTime, Utc};
use ratatui::style::Style;
use ratatui::text::Line;

use crate::board::Board;
use crate::board::NumberRow;
use crate::ui::relabel::NumberKind;
use crate::ui::state::{CallScope, Screen, ScreenKind, UiState};
use crate::ui::table::{Column, DrawRow, SortValue};
use crate::ui::theme::{Role, Theme};
use crate::ui::views::{RelabelTarget, TableData, board_window, count_cell, rows_of, sort_items};

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
        rows: rows_of(keys),
        footer_row: None,
        empty: match ui.number_kind {
            NumberKind::All => "no phone numbers yet (they load from the platform at start)",
            NumberKind::Ctns => "no CTNs (labels with campaign + DN); t shows the others",
            NumberKind::Unlabelled => "no unlabelled numbers; t shows the others",
        },
        build: Box::new(move |i, _, theme| number_row(&rows[i], theme)),
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
