//! The relabel audit as a view (`A` from any view, or `:audit`): every relabel with when, number,
//! old label, new label, result and who (the token's owner), newest first; filtered and sorted
//! like the other views. The app keeps [`UiState::relabel_audit`] current from the store while
//! this screen is shown; drawing never reads the store.

use chrono::{DateTime, Utc};
use ratatui::style::Style;
use ratatui::text::Line;

use crate::store::{AuditEntry, RelabelOutcome};
use crate::text::sanitize;
use crate::ui::state::{Screen, UiState};
use crate::ui::table::{Column, DrawRow, SortValue};
use crate::ui::theme::{Role, Theme};
use crate::ui::views::{TableData, rows_of, sort_items};

/// The result gets the most room: a refusal's words and code are what the supervisor acts on
/// (`y` copies the whole line when even that is cut).
pub const COLUMNS: [Column; 6] = [
    Column::left("When", 14, 0),
    Column::left("Number", 12, 1),
    Column::left("Old label", 14, 2).grow(),
    Column::left("New label", 14, 0).grow(),
    Column::left("Result", 30, 0).grow(),
    Column::left("Who", 10, 3),
];

/// The result column: a glyph and words, with the platform's code for a refusal (never colour
/// alone). The message of a refusal already carries its code when the platform sent one.
pub fn result_text(outcome: &RelabelOutcome) -> String {
    match outcome {
        RelabelOutcome::Applied => "✓ applied".to_owned(),
        RelabelOutcome::AlreadyApplied => "✓ applied (found after restart)".to_owned(),
        RelabelOutcome::Failed { code, message } => match code {
            Some(code) if !message.contains(code.as_str()) => {
                format!("✕ {} ({})", sanitize(message), sanitize(code))
            }
            _ => format!("✕ {}", sanitize(message)),
        },
        RelabelOutcome::Abandoned { reason } => format!("– {}", sanitize(reason)),
    }
}

fn label_cell(label: Option<&str>) -> String {
    match label.map(str::trim).filter(|l| !l.is_empty()) {
        Some(label) => sanitize(label).into_owned(),
        None => "(no label)".to_owned(),
    }
}

fn when_cell(at: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    at.with_timezone(&zone).format("%m-%d %H:%M:%S").to_string()
}

fn sort_value(entry: &AuditEntry, column: usize) -> SortValue {
    match column {
        0 => SortValue::Number(entry.seq as f64),
        1 => SortValue::text(&entry.phone_number),
        2 => SortValue::text(&label_cell(entry.old_label.as_deref())),
        3 => SortValue::text(&label_cell(Some(&entry.new_label))),
        4 => SortValue::text(&result_text(&entry.outcome)),
        _ => SortValue::text(&entry.who),
    }
}

pub fn table<'a>(ui: &'a UiState, screen: &Screen, _now: DateTime<Utc>) -> TableData<'a> {
    let zone = ui.time_zone;
    let mut entries: Vec<&AuditEntry> = ui
        .relabel_audit
        .iter()
        .filter(|entry| {
            let when = when_cell(entry.at, zone);
            let old = label_cell(entry.old_label.as_deref());
            let result = result_text(&entry.outcome);
            screen.filter.matches(&[
                &when,
                &entry.phone_number,
                &old,
                &entry.new_label,
                &result,
                &entry.who,
            ])
        })
        .collect();
    sort_items(&mut entries, screen.sort, |entry, column| {
        sort_value(entry, column)
    });
    let keys = entries.iter().map(|e| e.idempotency_key.clone()).collect();
    TableData {
        columns: &COLUMNS,
        rows: rows_of(keys),
        footer_row: None,
        empty: "no relabels yet: e relabels the selected number in the Numbers view (5)",
        build: Box::new(move |i, _, theme| row(entries[i], zone, theme)),
    }
}

fn row(entry: &AuditEntry, zone: chrono_tz::Tz, theme: &Theme) -> DrawRow<'static> {
    let result_style = match &entry.outcome {
        RelabelOutcome::Applied | RelabelOutcome::AlreadyApplied => theme.style(Role::SlaOk),
        RelabelOutcome::Failed { .. } => theme.style(Role::Error),
        RelabelOutcome::Abandoned { .. } => theme.style(Role::Muted),
    };
    DrawRow {
        cells: vec![
            Line::from(when_cell(entry.at, zone)),
            Line::from(sanitize(&entry.phone_number).into_owned()),
            Line::from(label_cell(entry.old_label.as_deref())),
            Line::from(label_cell(Some(&entry.new_label))),
            Line::styled(result_text(&entry.outcome), result_style),
            Line::from(sanitize(&entry.who).into_owned()),
        ],
        style: Style::new(),
    }
}

/// Lines under the audit table for the selected entry in full: a table cell cuts a refusal's
/// words, and a narrow terminal drops the old label and who first.
pub const DETAIL_LINES: u16 = 3;

/// The selected entry in full, under the table.
pub fn draw_detail(
    frame: &mut ratatui::Frame,
    area: ratatui::layout::Rect,
    ui: &UiState,
    theme: &Theme,
    now: DateTime<Utc>,
) {
    let screen = ui.screen();
    let rows = table(ui, screen, now).rows;
    let index = crate::ui::table::selected_index(screen, rows.as_ref());
    let Some(key) = rows.keys(index..index + 1).first().copied() else {
        return;
    };
    let Some(entry) = ui.relabel_audit.iter().find(|e| e.idempotency_key == key) else {
        return;
    };
    let muted = theme.style(Role::Muted);
    let lines = vec![
        Line::from(vec![
            ratatui::text::Span::styled(format!("{} ", when_cell(entry.at, ui.time_zone)), muted),
            ratatui::text::Span::raw(format!(
                "{}  {} → {}  by {}",
                sanitize(&entry.phone_number),
                crate::ui::label_editor::quoted(entry.old_label.as_deref().unwrap_or("")),
                crate::ui::label_editor::quoted(&entry.new_label),
                sanitize(&entry.who)
            )),
        ]),
        Line::styled(
            result_text(&entry.outcome),
            if entry.outcome.is_success() {
                theme.style(Role::SlaOk)
            } else {
                theme.style(Role::Error)
            },
        ),
    ];
    frame.render_widget(
        ratatui::widgets::Paragraph::new(lines)
            .block(
                ratatui::widgets::Block::default()
                    .borders(ratatui::widgets::Borders::TOP)
                    .border_style(theme.style(Role::Border)),
            )
            .wrap(ratatui::widgets::Wrap { trim: false }),
        area,
    );
}

/// What `y` copies from an audit row: the number and both labels, for a ticket.
pub fn copy_text(ui: &UiState, key: &str) -> Option<String> {
    let entry = ui.relabel_audit.iter().find(|e| e.idempotency_key == key)?;
    Some(format!(
        "{} {} → {} ({})",
        entry.phone_number,
        label_cell(entry.old_label.as_deref()),
        label_cell(Some(&entry.new_label)),
        result_text(&entry.outcome)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_read_in_words_with_the_code_once() {
        assert_eq!(result_text(&RelabelOutcome::Applied), "✓ applied");
        assert_eq!(
            result_text(&RelabelOutcome::Failed {
                code: Some("CMN-109".into()),
                message: "not permitted for this account (HTTP 403, CMN-109)".into(),
            }),
            "✕ not permitted for this account (HTTP 403, CMN-109)"
        );
        assert_eq!(
            result_text(&RelabelOutcome::Failed {
                code: Some("CMN-102".into()),
                message: "number not found".into(),
            }),
            "✕ number not found (CMN-102)"
        );
        assert_eq!(
            result_text(&RelabelOutcome::Abandoned {
                reason: "cancelled before it was sent".into()
            }),
            "– cancelled before it was sent"
        );
    }
}
