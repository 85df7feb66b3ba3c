//! Campaigns: one row per (campaign, DN) pair of the label grammar, with a trend sparkline;
//! Space expands a campaign to the tracking numbers (CTNs) whose labels name it.

use chrono::{DateTime, Utc};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::board::Board;
use crate::board::{CampaignRow, NumberRow};
use crate::ui::state::{CallScope, Screen, ScreenKind, UiState};
use crate::ui::table::{Column, DrawRow, SortValue};
use crate::ui::theme::{Role, Theme};
use crate::ui::views::{
    TableData, board_window, count_cell, is_recent, opt_duration_cell, rows_of, sort_items,
    sparkline,
};

pub const COLUMNS: [Column; 9] = [
    Column::left("Campaign", 16, 0).grow(),
    Column::left("DN", 13, 2),
    Column::right("Live", 4, 0),
    Column::right("Offer", 5, 0),
    Column::right("Ans", 5, 1),
    Column::right("Missed", 6, 1),
    Column::right("New", 4, 3),
    Column::right("AvgTalk", 7, 3),
    Column::left("Trend/min", 16, 4).grow().keep_end(),
];

const SEP: char = '\u{1f}';

/// Row key of a campaign row.
pub fn campaign_key(campaign: &str, dn: Option<&str>) -> String {
    format!("c{SEP}{campaign}{SEP}{}", dn.unwrap_or(""))
}

fn parse_campaign_key(key: &str) -> Option<(String, Option<String>)> {
    let mut parts = key.strip_prefix('c')?.strip_prefix(SEP)?.splitn(2, SEP);
    let campaign = parts.next()?.to_string();
    let dn = parts.next().filter(|d| !d.is_empty()).map(str::to_string);
    Some((campaign, dn))
}

fn number_key(number: &str) -> String {
    format!("n{SEP}{number}")
}

/// The number of an expanded number row's key.
pub fn number_of_key(key: &str) -> Option<&str> {
    key.strip_prefix('n')?.strip_prefix(SEP)
}

/// A row of the view: a campaign, or one of an expanded campaign's numbers.
enum Item {
    Campaign(CampaignRow),
    Number(NumberRow),
}

fn sort_value(row: &CampaignRow, column: usize) -> SortValue {
    let n = |v: i64| SortValue::Number(v as f64);
    match column {
        0 => SortValue::text(&row.campaign),
        1 => SortValue::text(row.dn.as_deref().unwrap_or("")),
        2 => n(row.live),
        3 => n(row.offered),
        4 => n(row.answered),
        5 => n(row.missed),
        6 => n(row.first_time_callers),
        7 => SortValue::number(row.avg_talk_seconds),
        _ => n(row.offered),
    }
}

fn items(board: &Board, ui: &UiState, screen: &Screen, now: DateTime<Utc>) -> Vec<Item> {
    let window = board_window(ui.window);
    let mut campaigns: Vec<CampaignRow> = board
        .campaign_rows(window, now)
        .into_iter()
        .filter(|row| {
            let mut fields: Vec<&str> = vec![&row.campaign];
            fields.extend(row.dn.as_deref());
            fields.extend(row.numbers.iter().map(String::as_str));
            screen.filter.matches(&fields)
        })
        .collect();
    sort_items(&mut campaigns, screen.sort, sort_value);
    let any_expanded = campaigns.iter().any(|c| {
        ui.expanded
            .contains(&campaign_key(&c.campaign, c.dn.as_deref()))
    });
    let number_rows = if any_expanded {
        board.number_rows(window, now)
    } else {
        Vec::new()
    };
    let mut out = Vec::with_capacity(campaigns.len());
    for campaign in campaigns {
        let expanded = ui
            .expanded
            .contains(&campaign_key(&campaign.campaign, campaign.dn.as_deref()));
        let children: Vec<NumberRow> = if expanded {
            number_rows
                .iter()
                .filter(|n| n.campaign == campaign.campaign && n.dn == campaign.dn)
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        out.push(Item::Campaign(campaign));
        out.extend(children.into_iter().map(Item::Number));
    }
    out
}

fn key_of(item: &Item) -> String {
    match item {
        Item::Campaign(c) => campaign_key(&c.campaign, c.dn.as_deref()),
        Item::Number(n) => number_key(&n.number),
    }
}

pub fn table<'a>(
    board: &'a Board,
    ui: &'a UiState,
    screen: &Screen,
    now: DateTime<Utc>,
) -> TableData<'a> {
    let items = items(board, ui, screen, now);
    let keys = items.iter().map(key_of).collect();
    TableData {
        columns: &COLUMNS,
        rows: rows_of(keys),
        footer_row: None,
        empty: "no campaigns yet (they come from the labels of the account's numbers)",
        build: Box::new(move |i, _, theme| match &items[i] {
            Item::Campaign(row) => {
                let expanded = ui
                    .expanded
                    .contains(&campaign_key(&row.campaign, row.dn.as_deref()));
                campaign_row(board, row, expanded, theme, now)
            }
            Item::Number(row) => number_row(row, theme),
        }),
    }
}

fn campaign_row(
    board: &Board,
    row: &CampaignRow,
    expanded: bool,
    theme: &Theme,
    now: DateTime<Utc>,
) -> DrawRow<'static> {
    let marker = if expanded { "▾ " } else { "▸ " };
    let trend = board.campaign_trend(&row.campaign, row.dn.as_deref(), now);
    let live = if row.live > 0 {
        Line::styled(row.live.to_string(), theme.style(Role::CallTalking))
    } else {
        Line::from("·")
    };
    let cells = vec![
        Line::from(vec![
            Span::styled(marker, theme.style(Role::Muted)),
            Span::raw(row.campaign.clone()),
        ]),
        Line::from(row.dn.clone().unwrap_or_else(|| "—".into())),
        live,
        Line::from(count_cell(row.offered)),
        Line::from(count_cell(row.answered)),
        Line::styled(
            count_cell(row.missed),
            if row.missed > 0 {
                theme.style(Role::CallAbandoned)
            } else {
                Style::new()
            },
        ),
        Line::from(count_cell(row.first_time_callers)),
        Line::from(opt_duration_cell(row.avg_talk_seconds)),
        Line::styled(sparkline(&trend, 40), theme.style(Role::Sparkline)),
    ];
    let style = if is_recent(row.changed_at, now) {
        theme.style(Role::RowChanged)
    } else {
        Style::new()
    };
    DrawRow { cells, style }
}

fn number_row(row: &NumberRow, theme: &Theme) -> DrawRow<'static> {
    let label = row.label.clone().unwrap_or_else(|| "(no label)".into());
    let cells = vec![
        Line::from(vec![
            Span::styled("  └ ", theme.style(Role::Muted)),
            Span::raw(row.number.clone()),
        ]),
        Line::styled(label, theme.style(Role::Muted)),
        Line::from(count_cell(row.live)),
        Line::from(count_cell(row.offered)),
        Line::from(count_cell(row.answered)),
        Line::from(count_cell(row.missed)),
        Line::from(count_cell(row.first_time_callers)),
        Line::from(opt_duration_cell(row.avg_talk_seconds)),
        Line::from(""),
    ];
    DrawRow {
        cells,
        style: Style::new(),
    }
}

/// Enter on a campaign (or one of its numbers) opens the campaign's calls.
pub fn open(board: &Board, key: &str) -> Option<ScreenKind> {
    let (campaign, dn) = match parse_campaign_key(key) {
        Some(pair) => pair,
        None => board.campaign_of_number(number_of_key(key)?),
    };
    Some(ScreenKind::Calls(CallScope::Campaign { campaign, dn }))
}

/// `y` on a campaign copies its numbers, one a line; on a number, the number.
pub fn copy_text(key: &str) -> Option<String> {
    if let Some(number) = number_of_key(key) {
        return Some(number.to_string());
    }
    let (campaign, dn) = parse_campaign_key(key)?;
    Some(match dn {
        Some(dn) => format!("{campaign} {dn}"),
        None => campaign,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let key = campaign_key("Zillow Spring", Some("+14155550100"));
        assert_eq!(
            parse_campaign_key(&key),
            Some(("Zillow Spring".into(), Some("+14155550100".into())))
        );
        assert_eq!(
            parse_campaign_key(&campaign_key("(unlabelled)", None)),
            Some(("(unlabelled)".into(), None))
        );
        assert_eq!(number_of_key(&number_key("+1415")), Some("+1415"));
        assert_eq!(number_of_key(&key), None);
    }
}
