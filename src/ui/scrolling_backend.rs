//! A backend that scrolls moved rows on the terminal instead of rewriting them.
//!
//! In the Calls view a call that changes state near the top of the order shifts every row below
//! it by a line, and ratatui's cell diff rewrites every one of those cells. This wrapper keeps a
//! model of what the terminal shows (`screen`), builds the next frame from the cells ratatui
//! hands it, looks for blocks of whole rows that moved up or down by a few lines, moves them with
//! a scroll region (DECSTBM + SU/SD), and then sends the inner backend only the cells that still
//! differ.
//!
//! Why the model is exact: ratatui's `Terminal::flush` passes the cells that differ between its
//! previous and current buffers. Its previous buffer equals `screen` as long as both started
//! equal (blank at construction and after every clear, which is when ratatui resets its own), so
//! `screen` plus those cells is ratatui's whole current frame. The wrapper is meant for the
//! fullscreen viewport the app uses; every clear resets the model to blank, as ratatui does.

use std::hash::{Hash, Hasher};
use std::io::{self, Write};

use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::{Buffer, Cell, CellWidth};
use ratatui::layout::{Position, Rect, Size};

/// The largest shift looked for, in rows. A call moving from one state group to another moves
/// the rows between by one line; a frame carrying a few events moves them by a few.
const MAX_SHIFT: u16 = 10;

/// Each row is fingerprinted in this many runs of cells, so a row that moved and whose timer
/// ticked in the same frame still counts as mostly moved.
pub const ROW_CHUNKS: usize = 8;

/// A scroll is sent only when it spares at least three rows' worth of chunks: it costs about
/// 20 bytes, a row of the Calls table about 60–200.
const MIN_SAVED_CHUNKS: usize = 3 * ROW_CHUNKS;

/// Several blocks can move in one frame (one call leaves a group, another joins one); each pass
/// moves one block.
const MAX_SCROLLS_PER_FRAME: usize = 4;

/// One vertical move of a block of rows, found by [`plan_scroll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowScroll {
    /// First row of the scroll region (0-based).
    pub top: u16,
    /// One past the last row of the scroll region.
    pub bottom: u16,
    /// Lines moved: positive moves the region's content up (SU), negative down (SD).
    pub shift: i16,
    /// Chunks of rows (see [`ROW_CHUNKS`]) that no longer need rewriting once it is scrolled.
    pub saved_chunks: usize,
}

/// Finds the vertical move that spares the most rewriting, given fingerprints of what the
/// terminal shows (`screen`) and of the frame wanted (`next`): `chunks_per_row` hashes per row,
/// each of a run of cells, so a row whose timer ticked still matches in its other chunks. `blank`
/// holds one row's fingerprints of default cells, which is what scrolled-in rows show. Savings
/// are counted in chunks. Pure, so it is tested on its own.
///
/// For each shift `k` every row `r` scores the chunks of `next[r]` that `screen[r + k]` matches
/// minus those `screen[r]` matches; the best run of rows is the maximum-sum run. Its exact saving
/// then counts the rows the scroll blanks as well.
pub fn plan_scroll(
    screen: &[u64],
    next: &[u64],
    chunks_per_row: usize,
    blank: &[u64],
    max_shift: u16,
    min_saved_chunks: usize,
) -> Option<RowScroll> {
    let chunks = chunks_per_row.max(1);
    let height = screen.len().min(next.len()) / chunks;
    let row = |r: usize| r * chunks..(r + 1) * chunks;
    // Chunks of next row `r` that the row fingerprinted by `shown` already shows.
    let matching = |r: usize, shown: &[u64]| -> usize {
        next[row(r)]
            .iter()
            .zip(shown)
            .filter(|(a, b)| a == b)
            .count()
    };
    let mut best: Option<RowScroll> = None;
    let max_shift = usize::from(max_shift).min(height.saturating_sub(1));
    for magnitude in 1..=max_shift {
        for up in [true, false] {
            // The rows r whose wanted content could come from screen row `source(r)`.
            let (first, end) = if up {
                (0, height - magnitude)
            } else {
                (magnitude, height)
            };
            let source = |r: usize| if up { r + magnitude } else { r - magnitude };
            let gain = |r: usize| -> i64 {
                let moved = matching(r, &screen[row(source(r))]);
                let in_place = matching(r, &screen[row(r)]);
                moved as i64 - in_place as i64
            };
            let Some((run_start, run_end)) = best_run(first, end, gain) else {
                continue;
            };
            let (top, bottom) = if up {
                (run_start, run_end + magnitude)
            } else {
                (run_start - magnitude, run_end)
            };
            // What each row of the region shows after the scroll.
            let after = |r: usize| -> &[u64] {
                let moved_in = if up {
                    r + magnitude < bottom
                } else {
                    r >= top + magnitude
                };
                if moved_in {
                    &screen[row(source(r))]
                } else {
                    blank
                }
            };
            let saved: i64 = (top..bottom)
                .map(|r| matching(r, after(r)) as i64 - matching(r, &screen[row(r)]) as i64)
                .sum();
            let saved = usize::try_from(saved).unwrap_or(0);
            if saved >= min_saved_chunks && best.is_none_or(|b| saved > b.saved_chunks) {
                let shift = magnitude as i16;
                best = Some(RowScroll {
                    top: top as u16,
                    bottom: bottom as u16,
                    shift: if up { shift } else { -shift },
                    saved_chunks: saved,
                });
            }
        }
    }
    best
}

/// The maximum-sum run `[start, end)` of `gain` over rows `[first, end)`, if any run gains.
fn best_run(first: usize, end: usize, gain: impl Fn(usize) -> i64) -> Option<(usize, usize)> {
    let mut best: Option<(i64, usize, usize)> = None;
    let mut sum = 0i64;
    let mut start = first;
    for r in first..end {
        if sum <= 0 {
            sum = 0;
            start = r;
        }
        sum += gain(r);
        if sum > 0 && best.is_none_or(|(b, _, _)| sum > b) {
            best = Some((sum, start, r + 1));
        }
    }
    best.map(|(_, start, end)| (start, end))
}

/// Wraps a backend that writes escape sequences (`CrosstermBackend<Stdout>` in the app) and
/// scrolls moved rows instead of rewriting them. Writes through [`Write`] go straight to the
/// inner backend, so the app's synchronized-update markers and OSC 52 still work.
#[derive(Debug)]
pub struct ScrollingBackend<B> {
    inner: B,
    /// What the terminal shows.
    screen: Buffer,
    /// [`ROW_CHUNKS`] fingerprints per row of `screen`.
    screen_prints: Vec<u64>,
    /// The frame being built; kept between draws so its cells are not reallocated each time.
    next: Buffer,
    /// Scrolls sent since construction, for tests and diagnostics.
    scrolls_sent: u64,
}

impl<B: Backend<Error = io::Error> + Write> ScrollingBackend<B> {
    /// Wraps `inner`, modelling a blank terminal of the inner backend's size.
    pub fn new(inner: B) -> io::Result<Self> {
        let size = inner.size()?;
        Ok(Self::with_size(inner, size))
    }

    /// Wraps `inner`, modelling a blank terminal of `size` (for backends that cannot say).
    pub fn with_size(inner: B, size: Size) -> Self {
        let area = Rect::new(0, 0, size.width, size.height);
        let screen = Buffer::empty(area);
        let screen_prints = fingerprints(&screen);
        Self {
            inner,
            next: screen.clone(),
            screen,
            screen_prints,
            scrolls_sent: 0,
        }
    }

    pub fn inner(&self) -> &B {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut B {
        &mut self.inner
    }

    /// How many scroll-region scrolls have been sent.
    pub fn scrolls_sent(&self) -> u64 {
        self.scrolls_sent
    }

    /// The terminal was cleared (or resized, which ratatui follows with a clear): model a blank
    /// screen of the inner backend's current size.
    fn reset_model(&mut self) -> io::Result<()> {
        let size = self.inner.size()?;
        self.reset_model_to(size);
        Ok(())
    }

    fn reset_model_to(&mut self, size: Size) {
        let area = Rect::new(0, 0, size.width, size.height);
        self.screen = Buffer::empty(area);
        self.next = self.screen.clone();
        self.screen_prints = fingerprints(&self.screen);
    }

    /// Makes the model large enough for `updates`, keeping what it showed, and applies them.
    fn grow_model(&mut self, updates: &[(u16, u16, &Cell)]) {
        let (mut width, mut height) = (self.screen.area.width, self.screen.area.height);
        for &(x, y, _) in updates {
            width = width.max(x.saturating_add(1));
            height = height.max(y.saturating_add(1));
        }
        let mut grown = Buffer::empty(Rect::new(0, 0, width, height));
        grown.merge(&self.screen);
        for &(x, y, cell) in updates {
            set_cell(&mut grown, x, y, cell);
        }
        self.screen_prints = fingerprints(&grown);
        self.next = grown.clone();
        self.screen = grown;
    }

    /// Sends one scroll and applies it to the model.
    fn scroll(&mut self, scroll: RowScroll) -> io::Result<()> {
        let (command, lines) = if scroll.shift > 0 {
            ('S', scroll.shift.unsigned_abs())
        } else {
            ('T', scroll.shift.unsigned_abs())
        };
        // SGR 0 first: the terminal fills scrolled-in lines with the current background colour.
        write!(
            self.inner,
            "\x1b[0m\x1b[{};{}r\x1b[{lines}{command}\x1b[r",
            scroll.top + 1,
            scroll.bottom
        )?;
        shift_rows(&mut self.screen, &mut self.screen_prints, scroll);
        self.scrolls_sent += 1;
        Ok(())
    }
}

/// Writes `cell` at (`x`, `y`) the way ratatui's buffer holds it: the columns a wide character
/// covers show nothing of their own, so they are reset (ratatui resets them and never sends them).
fn set_cell(buffer: &mut Buffer, x: u16, y: u16, cell: &Cell) {
    buffer[(x, y)] = cell.clone();
    let right = buffer.area.right();
    for column in
        (x.saturating_add(1)..x.saturating_add(cell.cell_width())).take_while(|&c| c < right)
    {
        buffer[(column, y)].reset();
    }
}

/// Moves rows of `screen` (and their hashes) as the terminal does for `scroll`.
fn shift_rows(screen: &mut Buffer, prints: &mut [u64], scroll: RowScroll) {
    let width = usize::from(screen.area.width);
    let top = usize::from(scroll.top);
    let bottom = usize::from(scroll.bottom);
    let lines = usize::from(scroll.shift.unsigned_abs());
    let region = &mut screen.content[top * width..bottom * width];
    let region_prints = &mut prints[top * ROW_CHUNKS..bottom * ROW_CHUNKS];
    let blank = blank_row_prints(screen.area.width);
    let rows = bottom - top;
    let blanked = if scroll.shift > 0 {
        region.rotate_left(lines * width);
        region_prints.rotate_left(lines * ROW_CHUNKS);
        rows - lines..rows
    } else {
        region.rotate_right(lines * width);
        region_prints.rotate_right(lines * ROW_CHUNKS);
        0..lines
    };
    region[blanked.start * width..blanked.end * width].fill(Cell::EMPTY);
    for row in blanked {
        region_prints[row * ROW_CHUNKS..(row + 1) * ROW_CHUNKS].copy_from_slice(&blank);
    }
}

/// A multiply-rotate hash (the Fx hash rustc uses): rows are hashed on every draw that touches
/// them, and SipHash's resistance to chosen input buys nothing here — a collision only makes a
/// scroll look better than it is, and the cell diff after it still writes what differs.
#[derive(Default)]
struct FxHasher(u64);

impl FxHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(word);
            self.add(u64::from_le_bytes(buf));
        }
        let mut tail = [0u8; 8];
        tail[..words.remainder().len()].copy_from_slice(words.remainder());
        self.add(u64::from_le_bytes(tail));
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u16(&mut self, value: u16) {
        self.add(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn chunk_hash(cells: &[Cell]) -> u64 {
    let mut hasher = FxHasher::default();
    for cell in cells {
        cell.symbol().hash(&mut hasher);
        cell.fg.hash(&mut hasher);
        cell.bg.hash(&mut hasher);
        cell.modifier.hash(&mut hasher);
    }
    hasher.finish()
}

/// Writes the [`ROW_CHUNKS`] fingerprints of one row into `prints`.
fn fingerprint_row(row: &[Cell], prints: &mut [u64]) {
    let chunk_width = row.len().div_ceil(ROW_CHUNKS).max(1);
    let mut chunks = row.chunks(chunk_width);
    for print in prints.iter_mut() {
        *print = chunks.next().map_or(0, chunk_hash);
    }
}

/// [`ROW_CHUNKS`] fingerprints per row of `buffer`.
fn fingerprints(buffer: &Buffer) -> Vec<u64> {
    let width = usize::from(buffer.area.width);
    let mut prints = vec![0; usize::from(buffer.area.height) * ROW_CHUNKS];
    if width > 0 {
        for (row, cells) in buffer.content.chunks(width).enumerate() {
            fingerprint_row(cells, &mut prints[row * ROW_CHUNKS..(row + 1) * ROW_CHUNKS]);
        }
    }
    prints
}

/// The fingerprints of a row of default cells: what a scrolled-in row shows.
fn blank_row_prints(width: u16) -> [u64; ROW_CHUNKS] {
    let mut prints = [0; ROW_CHUNKS];
    fingerprint_row(&vec![Cell::EMPTY; usize::from(width)], &mut prints);
    prints
}

impl<B: Backend<Error = io::Error> + Write> Backend for ScrollingBackend<B> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let updates: Vec<(u16, u16, &Cell)> = content.collect();
        if updates.is_empty() {
            return self.inner.draw(std::iter::empty());
        }
        let area = self.screen.area;
        if updates
            .iter()
            .any(|&(x, y, _)| !area.contains(Position { x, y }))
        {
            // The terminal grew without a clear (ratatui clears on every resize it sees, so
            // this is a safety net): write the cells as given and grow the model to hold them.
            self.inner.draw(updates.iter().copied())?;
            self.grow_model(&updates);
            return Ok(());
        }
        let width = usize::from(area.width);
        self.next.content.clone_from_slice(&self.screen.content);
        let mut touched = vec![false; usize::from(area.height)];
        for &(x, y, cell) in &updates {
            set_cell(&mut self.next, x, y, cell);
            touched[usize::from(y)] = true;
        }

        // Only rows the draw touched need hashing again.
        let mut next_prints = self.screen_prints.clone();
        for row in (0..touched.len()).filter(|&row| touched[row]) {
            fingerprint_row(
                &self.next.content[row * width..(row + 1) * width],
                &mut next_prints[row * ROW_CHUNKS..(row + 1) * ROW_CHUNKS],
            );
        }
        let blank = blank_row_prints(area.width);
        let mut scrolled = false;
        // A scroll must spare three rows' worth of chunks, and only rows the draw touched can
        // gain: with fewer touched rows there is nothing to look for.
        let touched_rows = touched.iter().filter(|&&row| row).count();
        let passes = if touched_rows * ROW_CHUNKS >= MIN_SAVED_CHUNKS {
            MAX_SCROLLS_PER_FRAME
        } else {
            0
        };
        for _ in 0..passes {
            let Some(scroll) = plan_scroll(
                &self.screen_prints,
                &next_prints,
                ROW_CHUNKS,
                &blank,
                MAX_SHIFT,
                MIN_SAVED_CHUNKS,
            ) else {
                break;
            };
            self.scroll(scroll)?;
            scrolled = true;
        }
        if scrolled {
            self.inner.draw(self.screen.diff_iter(&self.next))?;
        } else {
            // Nothing moved on the terminal: ratatui's own updates are exactly the difference.
            self.inner.draw(updates.iter().copied())?;
        }
        std::mem::swap(&mut self.screen, &mut self.next);
        self.screen_prints = next_prints;
        Ok(())
    }

    fn append_lines(&mut self, n: u16) -> io::Result<()> {
        self.inner.append_lines(n)
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.inner.set_cursor_position(position)
    }

    fn clear(&mut self) -> io::Result<()> {
        self.inner.clear()?;
        self.reset_model()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.inner.clear_region(clear_type)?;
        self.reset_model()
    }

    fn size(&self) -> io::Result<Size> {
        self.inner.size()
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> io::Result<()> {
        Backend::flush(&mut self.inner)
    }
}

impl<B: Write> Write for ScrollingBackend<B> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        Write::flush(&mut self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLANK: u64 = 0;

    /// Rows 0–1 a header, then a table of `rows` (ids as hashes), then a footer.
    fn screen_of(rows: &[u64]) -> Vec<u64> {
        let mut screen = vec![901, 902];
        screen.extend_from_slice(rows);
        screen.push(903);
        screen
    }

    #[test]
    fn a_table_moved_up_one_row_scrolls_only_the_table() {
        let screen = screen_of(&[10, 11, 12, 13, 14, 15, 16, 17]);
        let next = screen_of(&[10, 12, 13, 14, 15, 16, 17, 18]);
        let scroll = plan_scroll(&screen, &next, 1, &[BLANK], 10, 3).unwrap();
        // Row 3 receives row 4's content; the region ends with the table (row 9, the one the
        // last moved row came from), leaving the header and footer alone.
        assert_eq!(
            scroll,
            RowScroll {
                top: 3,
                bottom: 10,
                shift: 1,
                saved_chunks: 6
            }
        );
    }

    #[test]
    fn arrivals_at_the_top_scroll_down_by_their_count() {
        let screen = screen_of(&[10, 11, 12, 13, 14, 15, 16, 17]);
        let next = screen_of(&[20, 21, 10, 11, 12, 13, 14, 15]);
        let scroll = plan_scroll(&screen, &next, 1, &[BLANK], 10, 3).unwrap();
        assert_eq!(scroll.shift, -2);
        assert_eq!((scroll.top, scroll.bottom), (2, 10));
        assert_eq!(scroll.saved_chunks, 6);
    }

    #[test]
    fn a_changed_row_inside_the_moved_block_keeps_the_block_together() {
        let screen = screen_of(&[10, 11, 12, 13, 14, 15, 16, 17]);
        let next = screen_of(&[10, 12, 13, 99, 15, 16, 17, 18]);
        let scroll = plan_scroll(&screen, &next, 1, &[BLANK], 10, 3).unwrap();
        assert_eq!((scroll.top, scroll.bottom, scroll.shift), (3, 10, 1));
        assert_eq!(scroll.saved_chunks, 5);
    }

    #[test]
    fn no_scroll_when_nothing_moved_or_too_little_would_be_saved() {
        let screen = screen_of(&[10, 11, 12, 13, 14, 15]);
        assert_eq!(plan_scroll(&screen, &screen, 1, &[BLANK], 10, 3), None);
        let scattered = screen_of(&[10, 40, 12, 41, 14, 42]);
        assert_eq!(plan_scroll(&screen, &scattered, 1, &[BLANK], 10, 3), None);
        // Two moved rows spare two rewrites: below the threshold of three.
        let short_move = screen_of(&[10, 11, 12, 14, 15, 50]);
        assert_eq!(plan_scroll(&screen, &short_move, 1, &[BLANK], 10, 3), None);
        assert_eq!(
            plan_scroll(&screen, &short_move, 1, &[BLANK], 10, 2).map(|s| s.saved_chunks),
            Some(2)
        );
    }

    #[test]
    fn a_row_whose_timer_ticked_while_moving_still_counts_as_moved() {
        // Two chunks a row: (name, timer). Every timer ticked as the rows moved up one.
        let screen = [901, 0, 10, 1, 11, 1, 12, 1, 13, 1, 14, 1, 903, 0];
        let next = [901, 0, 11, 2, 12, 2, 13, 2, 14, 2, 15, 2, 903, 0];
        let scroll = plan_scroll(&screen, &next, 2, &[BLANK, BLANK], 10, 3).unwrap();
        assert_eq!((scroll.top, scroll.bottom, scroll.shift), (1, 6, 1));
        // Rows 1–4 keep their names: four chunks spared; the timers are rewritten either way.
        assert_eq!(scroll.saved_chunks, 4);
    }

    #[test]
    fn shifts_beyond_the_bound_are_not_looked_for() {
        let screen = screen_of(&[10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
        let next = screen_of(&[14, 15, 16, 17, 18, 19, 0, 0, 0, 0]);
        assert_eq!(plan_scroll(&screen, &next, 1, &[BLANK], 3, 3), None);
        assert_eq!(
            plan_scroll(&screen, &next, 1, &[BLANK], 4, 3).map(|s| s.shift),
            Some(4)
        );
    }

    #[test]
    fn shifting_the_model_matches_what_the_terminal_does() {
        let mut screen = Buffer::with_lines(["head", "aaaa", "bbbb", "cccc", "foot"]);
        let mut hashes = fingerprints(&screen);
        let up = RowScroll {
            top: 1,
            bottom: 4,
            shift: 1,
            saved_chunks: 2,
        };
        shift_rows(&mut screen, &mut hashes, up);
        assert_eq!(
            screen,
            Buffer::with_lines(["head", "bbbb", "cccc", "    ", "foot"])
        );
        assert_eq!(hashes, fingerprints(&screen));
        let down = RowScroll { shift: -2, ..up };
        shift_rows(&mut screen, &mut hashes, down);
        assert_eq!(
            screen,
            Buffer::with_lines(["head", "    ", "    ", "bbbb", "foot"])
        );
        assert_eq!(hashes, fingerprints(&screen));
    }
}
