//! Agents: every member of every queue, with presence, time in state and the current call.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ratatui::style::Style;
use ratatui::text::Line;

use crate::board::Board;
use crate::board::{Agent, AgentState};
use crate::ui::render::clock_duration;
use crate::ui::state::{Screen, ScreenKind};
use crate::ui::table::{Column, DrawRow, SortValue};
use crate::ui::theme::{Role, Theme};
use crate::ui::views::{TableData, is_recent, rows_of, sort_items};

pub const COLUMNS: [Column; 7] = [
    Column::left("Agent", 16, 0).grow(),
    Column::left("State", 12, 0),
    Column::right("In st.", 7, 0),
    Column::left("Presence", 16, 2),
    Column::left("Current call", 16, 1),
    Column::left("Queues", 16, 3).grow(),
    Column::left("Ext", 5, 4),
];

/// Glyph + word for an agent's state (never colour alone).
pub fn agent_state_label(state: AgentState) -> (&'static str, Role) {
    match state {
        AgentState::Available => ("○ available", Role::SlaOk),
        AgentState::OnCall => ("● on call", Role::CallTalking),
        AgentState::Away => ("– away", Role::Muted),
    }
}

struct Item<'a> {
    agent: &'a Agent,
    queues: Vec<&'a str>,
}

fn items<'a>(board: &'a Board, screen: &Screen) -> Vec<Item<'a>> {
    let mut by_id: BTreeMap<&str, Item<'a>> = BTreeMap::new();
    for queue in board.queues() {
        for agent in board.queue_agents(&queue.id) {
            by_id
                .entry(agent.id.as_str())
                .or_insert_with(|| Item {
                    agent,
                    queues: Vec::new(),
                })
                .queues
                .push(queue.name.as_str());
        }
    }
    let mut items: Vec<Item> = by_id
        .into_values()
        .filter(|item| {
            let (state, _) = agent_state_label(item.agent.state);
            let mut fields: Vec<&str> = vec![state, &item.agent.id];
            fields.extend(item.agent.name.as_deref());
            fields.extend(item.agent.extension_number.as_deref());
            fields.extend(item.queues.iter().copied());
            screen.filter.matches(&fields)
        })
        .collect();
    if screen.sort.is_none() {
        items.sort_by(|a, b| {
            let name = |i: &Item| i.agent.name.clone().unwrap_or_default().to_lowercase();
            name(a)
                .cmp(&name(b))
                .then_with(|| a.agent.id.cmp(&b.agent.id))
        });
    }
    items
}

fn sort_value(item: &Item, column: usize) -> SortValue {
    let agent = item.agent;
    match column {
        0 => SortValue::text(agent.name.as_deref().unwrap_or(&agent.id)),
        1 => SortValue::text(agent.state.as_str()),
        2 => SortValue::Number(-(agent.state_since.timestamp_millis() as f64)),
        3 => SortValue::text(agent.presence_status.as_deref().unwrap_or("")),
        4 => agent
            .current_call
            .as_deref()
            .map_or(SortValue::Missing, SortValue::text),
        5 => SortValue::text(&item.queues.join(", ")),
        _ => SortValue::text(agent.extension_number.as_deref().unwrap_or("")),
    }
}

pub fn table<'a>(board: &'a Board, screen: &Screen, now: DateTime<Utc>) -> TableData<'a> {
    let mut items = items(board, screen);
    sort_items(&mut items, screen.sort, sort_value);
    let keys = items.iter().map(|i| i.agent.id.clone()).collect();
    TableData {
        columns: &COLUMNS,
        rows: rows_of(keys),
        footer_row: None,
        empty: "no queue members yet (they appear with the call queues and their presence)",
        build: Box::new(move |i, _, theme| agent_row(board, &items[i], theme, now)),
    }
}

fn agent_row(board: &Board, item: &Item, theme: &Theme, now: DateTime<Utc>) -> DrawRow<'static> {
    let agent = item.agent;
    let (label, role) = agent_state_label(agent.state);
    let presence = [
        agent.presence_status.as_deref(),
        agent.dnd_status.as_deref().filter(|d| *d != "TakeAllCalls"),
        agent.telephony_status.as_deref().filter(|t| *t != "NoCall"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let current = agent
        .current_call
        .as_deref()
        .map(|id| match board.call(id) {
            Some(call) => call
                .caller
                .as_deref()
                .map_or_else(|| id.to_string(), str::to_owned),
            None => id.to_string(),
        })
        .unwrap_or_else(|| "—".into());
    let cells = vec![
        Line::from(
            agent
                .name
                .clone()
                .unwrap_or_else(|| format!("ext {}", agent.id)),
        ),
        Line::styled(label, theme.style(role)),
        Line::from(clock_duration(
            (now - agent.state_since).num_milliseconds() as f64 / 1000.0,
        )),
        Line::from(if presence.is_empty() {
            "—".to_string()
        } else {
            presence
        }),
        Line::from(current),
        Line::from(item.queues.join(", ")),
        Line::from(agent.extension_number.clone().unwrap_or_default()),
    ];
    let style = if is_recent(Some(agent.changed_at), now) {
        theme.style(Role::RowChanged)
    } else {
        Style::new()
    };
    DrawRow { cells, style }
}

/// Enter on an agent opens their current call.
pub fn open(board: &Board, key: &str) -> Option<ScreenKind> {
    let session_id = board.agent(key)?.current_call.clone()?;
    Some(ScreenKind::CallDetail { session_id })
}
