//! Queues: one row per call queue with the supervisor's figures for the chosen window, a roll-up
//! row, and a sparkline of arrivals per minute. Service-level breaches are marked with a glyph
//! as well as the `sla.breach` colour.

use chrono::{DateTime, Utc};
use ratatui::text::{Line, Span};

use crate::board::Board;
use crate::board::QueueRow;
use crate::ui::state::{CallScope, Screen, ScreenKind, UiState};
use crate::ui::table::{Column, DrawRow, SortValue};
use crate::ui::theme::{Role, Theme};
use crate::ui::views::{
    BuildFooter, TableData, board_window, count_cell, is_recent, opt_duration_cell, queue_breach,
    rows_of, sort_items, sparkline,
};

pub const COLUMNS: [Column; 13] = [
    Column::left("Queue", 14, 0).grow(),
    Column::right("Wait", 4, 0),
    Column::right("Longest", 8, 0),
    Column::right("SL%/goal", 9, 0),
    Column::right("Offer", 5, 1),
    Column::right("Ans", 5, 1),
    Column::right("Aband", 5, 1),
    Column::right("Avail", 5, 2),
    Column::right("OnCall", 6, 2),
    Column::right("Away", 4, 3),
    Column::right("ASA", 5, 3),
    Column::right("AHT", 5, 4),
    Column::left("Arrivals/min", 16, 5).grow().keep_end(),
];

/// The glyph beside a queue in breach: ▲ for a wait past threshold, ▼ for SL under goal.
pub const WAIT_BREACH_GLYPH: &str = "▲";
pub const SL_BREACH_GLYPH: &str = "▼";

fn sort_value(row: &QueueRow, column: usize) -> SortValue {
    let n = |v: i64| SortValue::Number(v as f64);
    match column {
        0 => SortValue::text(&row.name),
        1 => n(row.waiting as i64),
        2 => SortValue::number(row.longest_wait_seconds),
        3 => SortValue::number(row.service_level_pct),
        4 => n(row.offered),
        5 => n(row.answered),
        6 => n(row.abandoned),
        7 => n(row.agents_available as i64),
        8 => n(row.agents_on_call as i64),
        9 => n(row.agents_away as i64),
        10 => SortValue::number(row.asa_seconds),
        11 => SortValue::number(row.aht_seconds),
        _ => n(row.offered),
    }
}

fn rows(board: &Board, ui: &UiState, screen: &Screen, now: DateTime<Utc>) -> Vec<QueueRow> {
    let mut rows: Vec<QueueRow> = board
        .queue_rows(board_window(ui.window), now)
        .into_iter()
        .filter(|row| screen.filter.matches(&[&row.name, &row.id]))
        .collect();
    sort_items(&mut rows, screen.sort, sort_value);
    rows
}

pub fn table<'a>(
    board: &'a Board,
    ui: &'a UiState,
    screen: &Screen,
    now: DateTime<Utc>,
) -> TableData<'a> {
    let rows = rows(board, ui, screen, now);
    let keys = rows.iter().map(|r| r.id.clone()).collect();
    let rows = std::rc::Rc::new(rows);
    let footer_row: Option<BuildFooter<'a>> = if rows.len() > 1 {
        let rows = rows.clone();
        Some(Box::new(move |theme| rollup(board, &rows, theme, now)))
    } else {
        None
    };
    TableData {
        columns: &COLUMNS,
        rows: rows_of(keys),
        footer_row,
        empty: "no call queues yet (they appear once the platform lists them)",
        build: Box::new(move |i, _, theme| build_row(board, &rows[i], theme, now)),
    }
}

fn build_row(board: &Board, row: &QueueRow, theme: &Theme, now: DateTime<Utc>) -> DrawRow<'static> {
    let breach = queue_breach(row);
    let breach_style = theme.style(Role::SlaBreach);
    let mut name = Vec::new();
    if breach.any() {
        let glyph = if breach.wait {
            WAIT_BREACH_GLYPH
        } else {
            SL_BREACH_GLYPH
        };
        name.push(Span::styled(format!("{glyph} "), breach_style));
    }
    name.push(Span::raw(row.name.clone()));
    let longest = match row.longest_wait_seconds {
        Some(wait) if breach.wait => Line::from(Span::styled(
            format!(
                "{WAIT_BREACH_GLYPH}{}",
                crate::ui::render::clock_duration(wait)
            ),
            breach_style,
        )),
        Some(wait) => Line::from(Span::styled(
            crate::ui::render::clock_duration(wait),
            theme.style(Role::CallWaiting),
        )),
        None => Line::from("—"),
    };
    let sl = match row.service_level_pct {
        Some(pct) if breach.service_level => Line::from(Span::styled(
            format!("{SL_BREACH_GLYPH}{pct:.0}/{:.0}", row.sla.goal_pct),
            breach_style,
        )),
        Some(pct) => Line::from(Span::styled(
            format!("{pct:.0}/{:.0}", row.sla.goal_pct),
            theme.style(Role::SlaOk),
        )),
        None => Line::from(format!("—/{:.0}", row.sla.goal_pct)),
    };
    let waiting = if row.waiting > 0 {
        Line::styled(row.waiting.to_string(), theme.style(Role::CallWaiting))
    } else {
        Line::from("·")
    };
    let arrivals = board.queue_arrivals_per_minute(&row.id, now);
    let cells = vec![
        Line::from(name),
        waiting,
        longest,
        sl,
        Line::from(count_cell(row.offered)),
        Line::from(count_cell(row.answered)),
        Line::from(count_cell(row.abandoned)),
        Line::from(row.agents_available.to_string()),
        Line::from(row.agents_on_call.to_string()),
        Line::from(row.agents_away.to_string()),
        Line::from(opt_duration_cell(row.asa_seconds)),
        Line::from(opt_duration_cell(row.aht_seconds)),
        Line::styled(sparkline(&arrivals, 40), theme.style(Role::Sparkline)),
    ];
    let style = if is_recent(Some(row.changed_at), now) {
        theme.style(Role::RowChanged)
    } else {
        ratatui::style::Style::new()
    };
    DrawRow { cells, style }
}

/// The "all queues" row for the rows shown: the board combines their counters exactly (service
/// level, ASA and AHT from summed counters; each agent once), and the arrivals are summed.
fn rollup(board: &Board, rows: &[QueueRow], theme: &Theme, now: DateTime<Utc>) -> DrawRow<'static> {
    let total = board.queue_rollup(rows);
    let mut arrivals: Vec<u32> = Vec::new();
    for row in rows {
        let queue_arrivals = board.queue_arrivals_per_minute(&row.id, now);
        arrivals.resize(arrivals.len().max(queue_arrivals.len()), 0);
        for (sum, n) in arrivals.iter_mut().zip(queue_arrivals) {
            *sum = sum.saturating_add(n);
        }
    }
    let cells = vec![
        Line::from(format!("All {} queues", total.queues)),
        Line::from(count_cell(total.waiting as i64)),
        Line::from(
            total
                .longest_wait_seconds
                .map_or_else(|| "—".into(), crate::ui::render::clock_duration),
        ),
        Line::from(
            total
                .service_level_pct
                .map_or_else(|| "—".into(), |pct| format!("{pct:.0}")),
        ),
        Line::from(count_cell(total.offered)),
        Line::from(count_cell(total.answered)),
        Line::from(count_cell(total.abandoned)),
        Line::from(total.agents_available.to_string()),
        Line::from(total.agents_on_call.to_string()),
        Line::from(total.agents_away.to_string()),
        Line::from(opt_duration_cell(total.asa_seconds)),
        Line::from(opt_duration_cell(total.aht_seconds)),
        Line::from(sparkline(&arrivals, 40)),
    ];
    DrawRow {
        cells,
        style: theme.style(Role::Rollup),
    }
}

pub fn open(board: &Board, key: &str) -> Option<ScreenKind> {
    let queue = board.queue(key)?;
    Some(ScreenKind::Calls(CallScope::Queue {
        id: queue.id.clone(),
        name: queue.name.clone(),
    }))
}
