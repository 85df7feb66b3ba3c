//! What every table view shares: columns that drop out by priority when the terminal is narrow,
//! sorting by any column, the viewport slice (only visible rows are ever built — ratatui's
//! `Table` would otherwise format every row it is given), and a selection that follows its row.

use std::cmp::Ordering;
use std::ops::Range;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use crate::ui::state::Screen;
use crate::ui::theme::{Role, Theme};

/// One column of a table view.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub title: &'static str,
    /// Width in cells; text longer than this is cut with an ellipsis.
    pub width: u16,
    /// Lower numbers stay longest when space runs out; 0 never drops.
    pub priority: u8,
    pub align: Alignment,
    /// Takes a share of the spare width (names, labels).
    pub grow: bool,
    /// When cut, keep the end rather than the start (a sparkline's newest minutes).
    pub keep_end: bool,
}

impl Column {
    pub const fn left(title: &'static str, width: u16, priority: u8) -> Column {
        Column {
            title,
            width,
            priority,
            align: Alignment::Left,
            grow: false,
            keep_end: false,
        }
    }

    pub const fn right(title: &'static str, width: u16, priority: u8) -> Column {
        Column {
            title,
            width,
            priority,
            align: Alignment::Right,
            grow: false,
            keep_end: false,
        }
    }

    pub const fn grow(self) -> Column {
        Column { grow: true, ..self }
    }

    pub const fn keep_end(self) -> Column {
        Column {
            keep_end: true,
            ..self
        }
    }
}

/// The columns that fit in `width`, as (column index, width), in display order. Columns drop
/// from the highest priority number down; spare width goes to growing columns.
pub fn fit_columns(columns: &[Column], width: u16) -> Vec<(usize, u16)> {
    let mut by_priority: Vec<usize> = (0..columns.len()).collect();
    by_priority.sort_by_key(|&i| (columns[i].priority, i));
    let mut kept: Vec<usize> = Vec::new();
    let mut used: u16 = 0;
    for i in by_priority {
        let gap = u16::from(!kept.is_empty());
        let need = columns[i].width + gap;
        if used + need <= width {
            used += need;
            kept.push(i);
        } else if columns[i].priority == 0 && kept.is_empty() {
            kept.push(i);
            used = width;
        }
    }
    kept.sort_unstable();
    let growers = kept.iter().filter(|&&i| columns[i].grow).count() as u16;
    let spare = width.saturating_sub(used);
    let mut extra_left = spare;
    kept.iter()
        .map(|&i| {
            let mut w = columns[i].width;
            if columns[i].grow && growers > 0 {
                let share = (spare / growers).min(extra_left).min(40);
                w += share;
                extra_left -= share;
            }
            (i, w)
        })
        .collect()
}

/// The rows of a `len`-row list visible in `height` lines, keeping `selected` in view.
pub fn viewport(len: usize, selected: usize, height: usize) -> Range<usize> {
    if height == 0 || len == 0 {
        return 0..0;
    }
    let selected = selected.min(len - 1);
    let start = selected
        .saturating_sub(height - 1)
        .min(len.saturating_sub(height));
    start..(start + height).min(len)
}

/// The rows of a table in display order, as the shared table code asks for them: how many,
/// the keys of a range (the viewport), and where a key is. A view whose order is kept
/// elsewhere (the board's live-call order) answers without listing every row.
pub trait RowList {
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys of the rows in `range`, in display order (fewer past the end).
    fn keys(&self, range: Range<usize>) -> Vec<&str>;

    /// The index of the row keyed `key`; `hint` is where it was last seen, checked first.
    fn position(&self, key: &str, hint: usize) -> Option<usize>;
}

impl RowList for Vec<String> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn keys(&self, range: Range<usize>) -> Vec<&str> {
        let end = range.end.min(self.as_slice().len());
        let start = range.start.min(end);
        self[start..end].iter().map(String::as_str).collect()
    }

    fn position(&self, key: &str, hint: usize) -> Option<usize> {
        position_in(self, key, hint)
    }
}

/// The index of `key` among `keys`, checking `hint` first: after a cursor move the selection
/// is where it was left, so the scan runs only when rows moved.
pub fn position_in<K: AsRef<str>>(keys: &[K], key: &str, hint: usize) -> Option<usize> {
    if keys.get(hint).is_some_and(|k| k.as_ref() == key) {
        return Some(hint);
    }
    keys.iter().position(|k| k.as_ref() == key)
}

/// The index of the screen's selected row among `rows`. A selected row that vanished leaves
/// the selection at its old index, clamped.
pub fn selected_index(screen: &Screen, rows: &dyn RowList) -> usize {
    if rows.is_empty() {
        return 0;
    }
    screen
        .selected
        .as_deref()
        .and_then(|selected| rows.position(selected, screen.selected_index))
        .unwrap_or(screen.selected_index.min(rows.len() - 1))
}

/// A sortable cell value. Unknown values sort after known ones whichever the direction.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum SortValue {
    Number(f64),
    Text(String),
    Missing,
}

impl SortValue {
    pub fn text(s: &str) -> SortValue {
        SortValue::Text(s.to_lowercase())
    }

    pub fn number(n: Option<f64>) -> SortValue {
        n.map_or(SortValue::Missing, SortValue::Number)
    }

    /// Compares for a sort, `reverse` flipping known values only.
    pub fn compare(&self, other: &SortValue, reverse: bool) -> Ordering {
        let ordering = match (self, other) {
            (SortValue::Missing, SortValue::Missing) => return Ordering::Equal,
            (SortValue::Missing, _) => return Ordering::Greater,
            (_, SortValue::Missing) => return Ordering::Less,
            (SortValue::Number(a), SortValue::Number(b)) => a.total_cmp(b),
            (SortValue::Text(a), SortValue::Text(b)) => a.cmp(b),
            (SortValue::Number(_), SortValue::Text(_)) => Ordering::Less,
            (SortValue::Text(_), SortValue::Number(_)) => Ordering::Greater,
        };
        if reverse {
            ordering.reverse()
        } else {
            ordering
        }
    }
}

/// Cuts `text` to `width` cells, marking a cut with `…`.
pub fn fit_text(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let total: usize = text.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// One table row ready to draw: cells by column index and the row's style.
pub struct DrawRow<'a> {
    pub cells: Vec<Line<'a>>,
    pub style: Style,
}

/// Draws a header and the given (already sliced) rows into `area`. The sort column's title
/// carries ▲/▼; `selected` is the index within `rows` of the selected row.
#[allow(clippy::too_many_arguments)]
pub fn draw_table(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    columns: &[Column],
    fitted: &[(usize, u16)],
    sort: Option<(usize, bool)>,
    rows: Vec<DrawRow<'_>>,
    selected: Option<usize>,
) {
    let header = Row::new(fitted.iter().map(|&(i, w)| {
        let column = &columns[i];
        let mark = match sort {
            Some((c, false)) if c == i => "▲",
            Some((c, true)) if c == i => "▼",
            _ => "",
        };
        let title = fit_text(&format!("{}{mark}", column.title), usize::from(w));
        Cell::from(Line::from(title).alignment(column.align))
    }))
    .style(theme.style(Role::Header));
    let selection = theme.style(Role::Selection);
    let body = rows.into_iter().enumerate().map(|(n, row)| {
        let cells = fitted.iter().map(|&(i, w)| {
            let line = row.cells.get(i).cloned().unwrap_or_default();
            let line = if columns[i].keep_end {
                keep_line_end(line, usize::from(w))
            } else {
                fit_line(line, usize::from(w))
            };
            Cell::from(line.alignment(columns[i].align))
        });
        let style = if selected == Some(n) {
            row.style.patch(selection)
        } else {
            row.style
        };
        Row::new(cells).style(style)
    });
    let widths: Vec<Constraint> = fitted.iter().map(|&(_, w)| Constraint::Length(w)).collect();
    let table = Table::new(body, widths).header(header).column_spacing(1);
    frame.render_widget(table, area);
}

/// Cuts a styled line to `width` cells, keeping each span's style.
fn fit_line(line: Line<'_>, width: usize) -> Line<'_> {
    use unicode_width::UnicodeWidthStr;
    if line.width() <= width {
        return line;
    }
    let mut left = width;
    let mut spans: Vec<Span> = Vec::new();
    let alignment = line.alignment;
    for span in line.spans {
        if left == 0 {
            break;
        }
        let w = span.content.width();
        if w < left {
            left -= w;
            spans.push(span);
        } else {
            let cut = fit_text(&span.content, left);
            left = 0;
            spans.push(Span::styled(cut, span.style));
        }
    }
    let mut out = Line::from(spans);
    out.alignment = alignment;
    out
}

/// The last `width` cells of a line, each span keeping its style (for sparklines, whose newest
/// values are at the end).
fn keep_line_end(line: Line<'_>, width: usize) -> Line<'_> {
    use unicode_width::UnicodeWidthChar;
    let mut left = width;
    let mut spans: Vec<Span> = Vec::new();
    for span in line.spans.into_iter().rev() {
        if left == 0 {
            break;
        }
        let mut kept: Vec<char> = Vec::new();
        for c in span.content.chars().rev() {
            let w = c.width().unwrap_or(0);
            if w > left {
                left = 0;
                break;
            }
            left -= w;
            kept.push(c);
        }
        spans.push(Span::styled(
            kept.into_iter().rev().collect::<String>(),
            span.style,
        ));
    }
    spans.reverse();
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::state::ScreenKind;

    const COLUMNS: [Column; 4] = [
        Column::left("Name", 10, 0),
        Column::right("A", 5, 1),
        Column::right("B", 5, 3),
        Column::right("C", 5, 2),
    ];

    #[test]
    fn columns_drop_by_priority_and_keep_their_order() {
        assert_eq!(
            fit_columns(&COLUMNS, 28),
            vec![(0, 10), (1, 5), (2, 5), (3, 5)]
        );
        assert_eq!(fit_columns(&COLUMNS, 22), vec![(0, 10), (1, 5), (3, 5)]);
        assert_eq!(fit_columns(&COLUMNS, 12), vec![(0, 10)]);
        assert_eq!(fit_columns(&COLUMNS, 5), vec![(0, 10)]);
    }

    #[test]
    fn spare_width_goes_to_growing_columns() {
        let columns = [Column::left("Name", 10, 0).grow(), Column::right("A", 5, 1)];
        assert_eq!(fit_columns(&columns, 30), vec![(0, 24), (1, 5)]);
    }

    #[test]
    fn the_viewport_keeps_the_selection_visible() {
        assert_eq!(viewport(100, 0, 10), 0..10);
        assert_eq!(viewport(100, 9, 10), 0..10);
        assert_eq!(viewport(100, 10, 10), 1..11);
        assert_eq!(viewport(100, 99, 10), 90..100);
        assert_eq!(viewport(5, 3, 10), 0..5);
        assert_eq!(viewport(0, 0, 10), 0..0);
    }

    #[test]
    fn selection_follows_its_key_and_survives_its_removal() {
        let mut screen = Screen::new(ScreenKind::Queues);
        screen.selected = Some("b".into());
        screen.selected_index = 1;
        let rows = |keys: &[&str]| -> Vec<String> { keys.iter().map(|k| k.to_string()).collect() };
        assert_eq!(selected_index(&screen, &rows(&["x", "a", "b"])), 2);
        assert_eq!(selected_index(&screen, &rows(&["a", "c", "d"])), 1);
        assert_eq!(selected_index(&screen, &rows(&["a"])), 0);
        assert_eq!(selected_index(&screen, &rows(&[])), 0);
    }

    #[test]
    fn missing_values_sort_last_in_both_directions() {
        let mut values = [
            SortValue::number(None),
            SortValue::number(Some(2.0)),
            SortValue::number(Some(1.0)),
        ];
        values.sort_by(|a, b| a.compare(b, false));
        assert_eq!(values[0], SortValue::Number(1.0));
        values.sort_by(|a, b| a.compare(b, true));
        assert_eq!(values[0], SortValue::Number(2.0));
        assert_eq!(values[2], SortValue::Missing);
    }

    #[test]
    fn keep_end_keeps_the_newest_values() {
        let line = keep_line_end(Line::from("▁▂▃▄▅▆▇█"), 3);
        assert_eq!(line.to_string(), "▆▇█");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis_by_display_width() {
        assert_eq!(fit_text("Zillow Spring", 8), "Zillow …");
        assert_eq!(fit_text("短い名前です", 7), "短い名…");
        assert_eq!(fit_text("short", 8), "short");
    }
}
