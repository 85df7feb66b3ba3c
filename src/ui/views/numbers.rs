//! Numbers: the account's phone numbers with their labels, the campaign and DN the label grammar
//! reads from them, and today's figures; `e` relabels (a dangerous action: it changes the
//! account). Recordings: the calls the board knows a recording for.

use chrono::{DateTime, Utc};
use ratatui::style::Style;
use ratatui::text::Line;

use crate::board::Board;
use crate::board::{Call, NumberRow};
use crate::ui::render::clock_duration;
use crate::ui::state::{CallScope, Screen, ScreenKind, UiState};
use crate::ui::table::{Column, DrawRow, SortValue};
use crate::ui::theme::{Role, Theme};
use crate::ui::views::{RelabelTarget, TableData, board_window, count_cell, sort_items};

pub const NUMBER_COLUMNS: [Column; 8] = [
    Column::left("Number", 13, 0),
    Column::left("Label", 20, 0).grow(),
    Column::left("Campaign", 14, 1).grow(),
    Column::left("DN", 13, 2),
    Column::right("Live", 4, 3),
    Column::right("Offer", 5, 1),
    Column::right("Ans", 5, 3),
    Column::right("Missed", 6, 2),
];

pub const RECORDING_COLUMNS: [Column; 7] = [
    Column::left("Started", 8, 0),
    Column::left("Recording", 14, 0),
    Column::left("Status", 11, 0),
    Column::left("Caller", 13, 1),
    Column::left("Campaign", 14, 2).grow(),
    Column::left("Agent", 14, 2),
    Column::right("Length", 7, 1),
];

fn number_sort_value(row: &NumberRow, column: usize) -> SortValue {
    let n = |v: i64| SortValue::Number(v as f64);
    match column {
        0 => SortValue::text(&row.number),
        1 => row
            .label
            .as_deref()
            .map_or(SortValue::Missing, SortValue::text),
        2 => SortValue::text(&row.campaign),
        3 => row
            .dn
            .as_deref()
            .map_or(SortValue::Missing, SortValue::text),
        4 => n(row.live),
        5 => n(row.offered),
        6 => n(row.answered),
        _ => n(row.missed),
    }
}

/// Account numbers only: dialled numbers outside the account have no id and cannot be relabelled.
fn number_rows(board: &Board, ui: &UiState, screen: &Screen, now: DateTime<Utc>) -> Vec<NumberRow> {
    let mut rows: Vec<NumberRow> = board
        .number_rows(board_window(ui.window), now)
        .into_iter()
        .filter(|row| row.id.is_some())
        .filter(|row| {
            let mut fields: Vec<&str> = vec![&row.number, &row.campaign];
            fields.extend(row.label.as_deref());
            fields.extend(row.dn.as_deref());
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
        .map(|r| r.id.clone().unwrap_or_else(|| r.number.clone()))
        .collect();
    TableData {
        columns: &NUMBER_COLUMNS,
        keys,
        footer_row: None,
        empty: "no phone numbers yet (they load from the platform at start)",
        build: Box::new(move |i, theme| number_row(&rows[i], theme)),
    }
}

fn number_row(row: &NumberRow, theme: &Theme) -> DrawRow<'static> {
    let (label, label_style) = match &row.label {
        Some(label) => (label.clone(), Style::new()),
        None => ("(no label)".to_string(), theme.style(Role::Muted)),
    };
    let cells = vec![
        Line::from(row.number.clone()),
        Line::styled(label, label_style),
        Line::from(row.campaign.clone()),
        Line::from(row.dn.clone().unwrap_or_else(|| "—".into())),
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

fn recording_sort_value(
    board: &Board,
    call: &Call,
    column: usize,
    now: DateTime<Utc>,
) -> SortValue {
    let text = |s: Option<&str>| s.map_or(SortValue::Missing, SortValue::text);
    match column {
        0 => SortValue::Number(call.started_at.timestamp_millis() as f64),
        1 => text(call.recording.as_ref().map(|r| r.id.as_str())),
        2 => SortValue::Number(f64::from(u8::from(
            call.recording.as_ref().is_some_and(|r| r.active),
        ))),
        3 => text(call.caller.as_deref()),
        4 => board
            .campaign_of_call(call)
            .map_or(SortValue::Missing, |(c, _)| SortValue::text(&c)),
        5 => text(call.agent_name.as_deref()),
        _ => SortValue::Number(
            (call.ended_at.unwrap_or(now) - call.started_at).num_milliseconds() as f64,
        ),
    }
}

pub fn recordings_table<'a>(
    board: &'a Board,
    screen: &Screen,
    now: DateTime<Utc>,
) -> TableData<'a> {
    let mut calls: Vec<&Call> = board
        .calls()
        .rev()
        .filter(|c| c.recording.is_some())
        .filter(|c| {
            let campaign = board.campaign_of_call(c).map(|(c, _)| c);
            let fields: Vec<&str> = [
                c.caller.as_deref(),
                c.caller_name.as_deref(),
                campaign.as_deref(),
                c.agent_name.as_deref(),
                c.recording.as_ref().map(|r| r.id.as_str()),
            ]
            .into_iter()
            .flatten()
            .collect();
            screen.filter.matches(&fields)
        })
        .collect();
    sort_items(&mut calls, screen.sort, |c, col| {
        recording_sort_value(board, c, col, now)
    });
    let keys = calls.iter().map(|c| c.id.clone()).collect();
    TableData {
        columns: &RECORDING_COLUMNS,
        keys,
        footer_row: None,
        empty: "no recorded calls on the board yet",
        build: Box::new(move |i, theme| recording_row(board, calls[i], theme, now)),
    }
}

fn recording_row(
    board: &Board,
    call: &Call,
    theme: &Theme,
    now: DateTime<Utc>,
) -> DrawRow<'static> {
    let tz = board.config().time_zone;
    let (status, role) = match &call.recording {
        Some(r) if r.active => ("● recording", Role::CallTalking),
        _ if call.is_live() => ("● recording", Role::CallTalking),
        _ => ("✓ finished", Role::Muted),
    };
    let length =
        (call.ended_at.unwrap_or(now) - call.started_at).num_milliseconds() as f64 / 1000.0;
    let cells = vec![
        Line::from(
            call.started_at
                .with_timezone(&tz)
                .format("%H:%M:%S")
                .to_string(),
        ),
        Line::from(
            call.recording
                .as_ref()
                .map(|r| r.id.clone())
                .unwrap_or_default(),
        ),
        Line::styled(status, theme.style(role)),
        Line::from(call.caller.clone().unwrap_or_else(|| "—".into())),
        Line::from(
            board
                .campaign_of_call(call)
                .map(|(c, _)| c)
                .unwrap_or_else(|| "—".into()),
        ),
        Line::from(call.agent_name.clone().unwrap_or_else(|| "—".into())),
        Line::from(clock_duration(length)),
    ];
    DrawRow {
        cells,
        style: Style::new(),
    }
}
