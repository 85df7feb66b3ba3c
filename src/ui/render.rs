//! State → frame. [`render`] is a pure function of the board, the UI state, the theme and `now`,
//! so a `TestBackend` snapshot is the real screen. It lays out the tab bar, the title line, the
//! current view, the status line and the footer (hints from the live key map, or the input line),
//! then any overlay.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

use crate::board::Board;
use crate::ui::keys::Action;
use crate::ui::state::{
    Connection, Flash, InputPurpose, MetricWindow, Overlay, Source, Tab, UiState,
};
use crate::ui::table::fit_text;
use crate::ui::theme::{Role, Theme};
use crate::ui::views;

/// Below this the board cannot be read; it says so instead of drawing a mess.
pub const MIN_WIDTH: u16 = 50;
pub const MIN_HEIGHT: u16 = 12;

/// Lines around the view: tab bar, title, status, footer.
const CHROME_LINES: u16 = 4;

/// Rows a table view shows at terminal height `height` (the header line excluded).
pub fn table_rows_for_height(height: u16) -> usize {
    usize::from(height.saturating_sub(CHROME_LINES + 1))
}

/// Draws one frame.
pub fn render(frame: &mut Frame, board: &Board, ui: &UiState, theme: &Theme, now: DateTime<Utc>) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(frame, area, theme);
        return;
    }
    let [tabs, title, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_tabs(frame, tabs, ui, theme);
    draw_title(frame, title, board, ui, theme);
    views::draw(frame, body, board, ui, theme, now);
    draw_status(frame, status, ui, theme, now);
    match &ui.input {
        Some(_) => draw_input(frame, footer, ui, theme),
        None => draw_footer(frame, footer, ui, theme),
    }
    match &ui.overlay {
        Some(Overlay::Help { scroll }) => draw_help(frame, body, ui, theme, *scroll),
        Some(Overlay::EditLabel(editor)) => {
            crate::ui::label_editor::draw(frame, body, board, editor, theme)
        }
        Some(Overlay::ConfirmQuit { what }) => draw_confirm(
            frame,
            body,
            theme,
            "Quit?",
            &[format!("{what}."), "Quit anyway? y / n".to_string()],
        ),
        Some(Overlay::ConfirmBulk { campaign, plans }) => draw_confirm(
            frame,
            body,
            theme,
            "Bulk relabel — this changes the account",
            &crate::ui::relabel::bulk_confirm_lines(campaign, plans),
        ),
        Some(Overlay::ConfirmRelabel { editor, new_label }) => draw_confirm(
            frame,
            body,
            theme,
            "Relabel — this changes the account",
            &crate::ui::relabel::confirm_lines(board, editor, new_label),
        ),
        Some(Overlay::ConfirmExportOverwrite { recording_id, path }) => draw_confirm(
            frame,
            body,
            theme,
            "Replace file?",
            &[
                format!("recording  {recording_id}"),
                format!("{} already exists.", path.display()),
                "Replace it with this recording? y / n".to_string(),
            ],
        ),
        Some(Overlay::ConfirmDeleteRecording { recording_id }) => draw_confirm(
            frame,
            body,
            theme,
            "Delete recording",
            &[
                format!("recording  {recording_id}"),
                "It is removed from the local store (the platform keeps its copy).".to_string(),
                "Delete it? y / n".to_string(),
            ],
        ),
        None => {}
    }
}

fn draw_too_small(frame: &mut Frame, area: Rect, theme: &Theme) {
    let text = vec![
        Line::from(format!(
            "terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT})"
        )),
        Line::from(format!("now {}×{}", area.width, area.height)).style(theme.style(Role::Muted)),
    ];
    let top = area.height.saturating_sub(2) / 2;
    let rect = Rect {
        y: area.y + top,
        height: area.height.saturating_sub(top).min(2),
        ..area
    };
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .style(theme.style(Role::Error)),
        rect,
    );
}

fn draw_tabs(frame: &mut Frame, area: Rect, ui: &UiState, theme: &Theme) {
    let demo = matches!(ui.source, Source::Demo);
    let marker = if demo { " DEMO " } else { "" };
    let wide = area.width >= 72;
    let mut spans = Vec::new();
    for tab in Tab::ALL {
        let key = ui.keymap.first_key(tab_action(tab)).filter(|_| wide);
        let label = match key {
            Some(key) => format!(" {key} {} ", tab.title()),
            None => format!(" {} ", tab.title()),
        };
        let role = if tab == ui.tab {
            Role::TabActive
        } else {
            Role::TabInactive
        };
        spans.push(Span::styled(label, theme.style(role)));
    }
    let used: usize = spans.iter().map(|s| s.content.width()).sum();
    let pad = usize::from(area.width).saturating_sub(used + marker.width());
    spans.push(Span::raw(" ".repeat(pad)));
    if demo {
        spans.push(Span::styled(marker, theme.style(Role::DemoBanner)));
    }
    frame.render_widget(Line::from(spans), area);
}

fn tab_action(tab: Tab) -> Action {
    match tab {
        Tab::Queues => Action::ViewQueues,
        Tab::Campaigns => Action::ViewCampaigns,
        Tab::Calls => Action::ViewCalls,
        Tab::Agents => Action::ViewAgents,
        Tab::Numbers => Action::ViewNumbers,
        Tab::Recordings => Action::ViewRecordings,
    }
}

fn draw_title(frame: &mut Frame, area: Rect, board: &Board, ui: &UiState, theme: &Theme) {
    let crumbs: Vec<String> = ui
        .stack
        .iter()
        .map(|screen| views::screen_title(board, &screen.kind))
        .collect();
    let mut left = vec![Span::styled(crumbs.join(" › "), theme.style(Role::Title))];
    let screen = ui.screen();
    if screen.filter.is_active() {
        left.push(Span::styled(
            format!("  /{}", screen.filter.text),
            theme.style(Role::Input),
        ));
    }
    let window = match ui.window {
        MetricWindow::Today => "today".to_string(),
        MetricWindow::Rolling => format!("last {} min", ui.rolling_minutes),
    };
    let mut right = String::new();
    if let Some(sort) = screen.sort
        && let Some(title) = views::column_title(&screen.kind, sort.column)
    {
        right.push_str(&format!(
            "sort {title}{}  ",
            if sort.reverse { "▼" } else { "▲" }
        ));
    }
    if views::shows_window(&screen.kind) {
        right.push_str(&format!("figures: {window}"));
    }
    let used: usize = left.iter().map(|s| s.content.width()).sum();
    let room = usize::from(area.width).saturating_sub(used + 1);
    let right = fit_text(&right, room);
    left.push(Span::raw(
        " ".repeat(room.saturating_sub(right.width()) + 1),
    ));
    left.push(Span::styled(right, theme.style(Role::Muted)));
    frame.render_widget(Line::from(left), area);
}

/// The connection word and glyph: never colour alone.
fn connection_span<'a>(
    connection: &Connection,
    theme: &Theme,
    now: DateTime<Utc>,
) -> Vec<Span<'a>> {
    let (glyph, word, reason, role) = match connection {
        Connection::Connecting => ("◌", "connecting".to_string(), None, Role::StatusDegraded),
        Connection::Live => ("●", "live".to_string(), None, Role::StatusLive),
        Connection::Recovering { reason } => (
            "◐",
            "recovering".to_string(),
            Some(reason.clone()),
            Role::StatusDegraded,
        ),
        Connection::Resyncing { reason } => (
            "◐",
            "resyncing".to_string(),
            Some(reason.clone()),
            Role::StatusDegraded,
        ),
        Connection::Offline { since, reason } => (
            "✕",
            format!("offline {}", short_duration((now - *since).num_seconds())),
            Some(reason.clone()),
            Role::StatusOffline,
        ),
    };
    let mut spans = vec![Span::styled(format!("{glyph} {word}"), theme.style(role))];
    if let Some(reason) = reason {
        spans.push(Span::styled(
            format!(" ({reason})"),
            theme.style(Role::Muted),
        ));
    }
    spans
}

fn draw_status(frame: &mut Frame, area: Rect, ui: &UiState, theme: &Theme, now: DateTime<Utc>) {
    let muted = theme.style(Role::Muted);
    let mut left = connection_span(&ui.connection, theme, now);
    // Relabels the platform has not confirmed yet stay in view while a bulk is paced.
    if !ui.pending_relabels.is_empty() {
        let count = ui.pending_relabels.len();
        left.push(Span::styled(
            format!(
                "  ⧗ {count} relabel{} pending",
                if count == 1 { "" } else { "s" }
            ),
            theme.style(Role::RowChanged),
        ));
    }
    let flash = ui
        .flash
        .as_ref()
        .filter(|f| (now - f.at).num_seconds() < Flash::SECONDS);
    match flash {
        Some(flash) => {
            let role = if flash.is_error {
                Role::Error
            } else {
                Role::Input
            };
            left.push(Span::raw("  "));
            left.push(Span::styled(flash.text.clone(), theme.style(role)));
        }
        None => {
            let age = match ui.last_event_at {
                Some(at) => format!(
                    "last event {} ago",
                    short_duration((now - at).num_seconds())
                ),
                None => "no events yet".to_string(),
            };
            left.push(Span::styled(format!("  {age}"), muted));
            left.push(Span::styled(
                format!("  {:.1} ev/s", ui.event_rate.per_second(now)),
                muted,
            ));
        }
    }
    let source = match &ui.source {
        Source::Demo => "DEMO".to_string(),
        Source::Account(label) => label.clone(),
    };
    let local = now.with_timezone(&ui.time_zone);
    let clock = format!("{}  {}", source, local.format("%H:%M:%S %Z"));
    let used: usize = left.iter().map(|s| s.content.width()).sum();
    let width = usize::from(area.width);
    if used + clock.width() < width {
        left.push(Span::raw(" ".repeat(width - used - clock.width())));
        left.push(Span::styled(clock, muted));
    }
    frame.render_widget(Line::from(left), area);
}

fn draw_footer(frame: &mut Frame, area: Rect, ui: &UiState, theme: &Theme) {
    let key_style = theme.style(Role::FooterKey);
    let text_style = theme.style(Role::Footer);
    let mut spans: Vec<Span> = Vec::new();
    let mut used = 0usize;
    let width = usize::from(area.width);
    for action in views::footer_actions(&ui.screen().kind, ui) {
        let Some(key) = ui.keymap.first_key(action) else {
            continue;
        };
        let hint = action.info().hint;
        let cost = key.width() + 1 + hint.width() + 2;
        if used + cost > width {
            break;
        }
        used += cost;
        spans.push(Span::styled(key, key_style));
        spans.push(Span::styled(format!(" {hint}  "), text_style));
    }
    frame.render_widget(Line::from(spans), area);
}

fn draw_input(frame: &mut Frame, area: Rect, ui: &UiState, theme: &Theme) {
    let Some(input) = &ui.input else {
        return;
    };
    let prompt = match &input.purpose {
        InputPurpose::Filter => "/".to_string(),
        InputPurpose::Command => ":".to_string(),
        InputPurpose::BulkCampaign { number_ids } => format!(
            "campaign for {} number{} (tab completes): ",
            number_ids.len(),
            if number_ids.len() == 1 { "" } else { "s" }
        ),
        InputPurpose::ExportRecording { .. } => "export to: ".to_string(),
    };
    let style = theme.style(Role::Input);
    let (before, after) = input
        .text
        .char_indices()
        .nth(input.cursor)
        .map_or((input.text.as_str(), ""), |(i, _)| input.text.split_at(i));
    // A long text (an export path) keeps the cursor on screen by hiding its start.
    let room = usize::from(area.width).saturating_sub(prompt.width() + 2);
    let before = tail_within(before, room);
    let mut after_chars = after.chars();
    let under_cursor = after_chars.next().map_or(" ".to_string(), String::from);
    let mut spans = vec![
        Span::styled(prompt, theme.style(Role::FooterKey)),
        Span::styled(before.to_string(), style),
        Span::styled(
            under_cursor,
            style.add_modifier(ratatui::style::Modifier::REVERSED),
        ),
        Span::styled(after_chars.as_str().to_string(), style),
    ];
    if let Some(error) = &input.error {
        spans.push(Span::styled(format!("  {error}"), theme.style(Role::Error)));
    } else if input.purpose == InputPurpose::Filter {
        spans.push(Span::styled(
            "  text · re:REGEX · !TEXT excludes · enter keeps · esc undoes",
            theme.style(Role::Muted),
        ));
    } else if let InputPurpose::ExportRecording { .. } = input.purpose {
        spans.push(Span::styled(
            "  a file or directory · enter exports · esc cancels",
            theme.style(Role::Muted),
        ));
    }
    frame.render_widget(Line::from(spans), area);
}

/// The end of `text` that fits in `cells` terminal cells, led by `…` when cut.
fn tail_within(text: &str, cells: usize) -> std::borrow::Cow<'_, str> {
    if text.width() <= cells {
        return text.into();
    }
    let mut start = text.len();
    let mut used = 1; // the ellipsis
    for (i, c) in text.char_indices().rev() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > cells {
            break;
        }
        used += w;
        start = i;
    }
    format!("…{}", &text[start..]).into()
}

/// The help overlay, generated from the live key map: what you read is what the keys do. Wide
/// terminals get two columns (moving and views on the left, rows and the rest on the right), so
/// every key shows without scrolling.
fn draw_help(frame: &mut Frame, area: Rect, ui: &UiState, theme: &Theme, scroll: u16) {
    let mut groups: Vec<(&str, Vec<Line>)> = Vec::new();
    for (info, keys) in ui.keymap.entries() {
        if groups.last().is_none_or(|(g, _)| *g != info.group) {
            groups.push((
                info.group,
                vec![Line::styled(
                    info.group.to_string(),
                    theme.style(Role::Header),
                )],
            ));
        }
        let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
        let mut spans = vec![
            Span::styled(
                format!("  {:<16}", keys.join(" ")),
                theme.style(Role::FooterKey),
            ),
            Span::raw(info.description),
        ];
        if info.dangerous {
            spans.push(Span::styled(
                format!("  ({})", info.action.danger_note()),
                theme.style(Role::Error),
            ));
        }
        if let Some((_, lines)) = groups.last_mut() {
            lines.push(Line::from(spans));
        }
    }
    let mut notes = vec![Line::styled(
        "  ctrl-z           suspend (fg resumes)",
        theme.style(Role::Muted),
    )];
    if ui.keymap.read_only() {
        notes.push(Line::styled(
            "  read-only: actions that change the account are off",
            theme.style(Role::Muted),
        ));
    }
    let join = |groups: &[(&str, Vec<Line<'static>>)]| -> Vec<Line<'static>> {
        let mut out = Vec::new();
        for (i, (_, lines)) in groups.iter().enumerate() {
            if i > 0 {
                out.push(Line::from(""));
            }
            out.extend(lines.iter().cloned());
        }
        out
    };
    let two_columns = area.width >= 150;
    let width = if two_columns {
        area.width.min(170)
    } else {
        area.width.min(84)
    };
    let split = groups
        .iter()
        .position(|(g, _)| *g == "Rows")
        .unwrap_or(groups.len() / 2);
    // Lines of a column: each group's lines plus the blank line after it.
    let count = |gs: &[(&str, Vec<Line>)]| gs.iter().map(|(_, l)| l.len() + 1).sum::<usize>();
    let content_lines = if two_columns {
        let (left, right) = groups.split_at(split);
        count(left).max(count(right) + notes.len())
    } else {
        count(&groups) + notes.len()
    };
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y,
        width,
        height: area.height.min(content_lines as u16 + 2),
    };
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Role::Border))
        .title(Span::styled(
            " Keys — from your key map · esc closes ",
            theme.style(Role::Title),
        ));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    if two_columns {
        let (left, right) = groups.split_at(split);
        let mut right = join(right);
        right.push(Line::from(""));
        right.extend(notes);
        let [l, r] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(inner);
        frame.render_widget(Paragraph::new(join(left)).scroll((scroll, 0)), l);
        frame.render_widget(Paragraph::new(right).scroll((scroll, 0)), r);
    } else {
        let mut lines = join(&groups);
        lines.push(Line::from(""));
        lines.extend(notes);
        frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
    }
}

fn draw_confirm(frame: &mut Frame, area: Rect, theme: &Theme, title: &str, lines: &[String]) {
    let width = lines
        .iter()
        .map(|l| l.width() as u16 + 4)
        .max()
        .unwrap_or(20)
        .max(title.width() as u16 + 6);
    let text: Vec<Line> = lines.iter().map(|l| Line::from(l.as_str())).collect();
    draw_warning_box(frame, area, theme, format!(" {title} "), text, width);
}

/// A box centred on `area` for anything that changes or loses something (confirmations, the
/// relabel editor): drawn over the screen in the error colour, `width` columns at most, as tall
/// as its lines.
pub(crate) fn draw_warning_box(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    title: String,
    lines: Vec<Line>,
    width: u16,
) {
    let width = area.width.min(width);
    let height = (lines.len() as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Role::Error))
        .title(Span::styled(title, theme.style(Role::Error)));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

/// `42s`, `3m05s`, `1h02m`: compact, fixed order, for timers and ages.
pub fn short_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `m:ss` / `h:mm:ss` for durations in table cells.
pub fn clock_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as i64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_compactly() {
        assert_eq!(short_duration(-3), "0s");
        assert_eq!(short_duration(42), "42s");
        assert_eq!(short_duration(185), "3m05s");
        assert_eq!(short_duration(3720), "1h02m");
        assert_eq!(clock_duration(65.4), "1:05");
        assert_eq!(clock_duration(3725.0), "1:02:05");
    }
}
