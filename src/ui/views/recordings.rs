//! The downloads panel under the Recordings table: one gauge line per download (bytes, rate,
//! time left, or why it waits), running ones first. The table itself lives in [`super::numbers`].

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use crate::store::download::DownloadUpdate;
use crate::text::sanitize;
use crate::ui::downloads::DownloadRow;
use crate::ui::downloads::{describe_update, human_bytes};
use crate::ui::state::UiState;
use crate::ui::theme::{Role, Theme};

/// Width of the bar in each gauge line.
const BAR_CELLS: usize = 20;
/// Width of the id column.
const ID_CELLS: usize = 14;

/// Splits `area` into the table's part and the panel's (empty when nothing downloads). The
/// panel takes one line per download plus its heading, never more than half the screen.
pub fn split(area: Rect, ui: &UiState) -> (Rect, Rect) {
    let rows = ui.downloads.rows().len() as u16;
    if rows == 0 || area.height < 6 {
        return (area, Rect { height: 0, ..area });
    }
    let panel_height = (rows + 1).min(area.height / 2);
    let table = Rect {
        height: area.height - panel_height,
        ..area
    };
    let panel = Rect {
        y: area.y + table.height,
        height: panel_height,
        ..area
    };
    (table, panel)
}

/// Draws the panel into `area` (from [`split`]).
pub fn draw_downloads(frame: &mut Frame, area: Rect, ui: &UiState, theme: &Theme) {
    if area.height == 0 {
        return;
    }
    let rows = ui.downloads.rows();
    let running = ui.downloads.running();
    let mut lines = vec![Line::styled(
        format!(
            "Downloads: {running} running{}",
            if running > 0 {
                " (x cancels the selected recording's)"
            } else {
                ""
            }
        ),
        theme.style(Role::Header),
    )];
    lines.extend(
        rows.iter()
            .take(usize::from(area.height.saturating_sub(1)))
            .map(|row| gauge_line(row, area.width, theme)),
    );
    frame.render_widget(Paragraph::new(lines), area);
}

fn gauge_line<'a>(row: &DownloadRow, width: u16, theme: &Theme) -> Line<'a> {
    let role = match &row.last {
        DownloadUpdate::Finished { .. } => Role::SlaOk,
        DownloadUpdate::Failed { .. } => Role::Error,
        DownloadUpdate::Cancelled => Role::Muted,
        DownloadUpdate::Waiting { .. } | DownloadUpdate::Queued => Role::CallWaiting,
        _ => Role::CallTalking,
    };
    let id = fit(&sanitize(&row.id), ID_CELLS);
    let mut text = describe_update(&row.last);
    // While waiting, the bytes already in hand stay visible beside the reason.
    if !matches!(row.last, DownloadUpdate::Progress(_))
        && row.is_running()
        && let Some(progress) = row.progress
    {
        text = format!("{} · {text}", human_bytes(progress.bytes));
    }
    let used = ID_CELLS + 1 + BAR_CELLS + 2 + 5;
    let text = fit(&text, usize::from(width).saturating_sub(used));
    let percent = row
        .ratio()
        .map(|r| format!("{:>3.0}%", r * 100.0))
        .unwrap_or_else(|| "   -".to_owned());
    Line::from(vec![
        Span::raw(format!("{id:<ID_CELLS$} ")),
        Span::styled(gauge_bar(row.ratio(), BAR_CELLS), theme.style(role)),
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
