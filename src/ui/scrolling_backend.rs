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
use std::ops::Range;

use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::{Buffer, Cell, CellDiffOption, CellWidth};
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
            if possible_savings(screen, next, chunks, blank, magnitude, up) < min_saved_chunks {
                continue;
            }
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

/// An upper bound on what shifting by `magnitude` rows (`up` or down) can spare, cheap enough to
/// rule most shifts out before they are scored: only a chunk that differs from what the screen
/// shows in place can be spared, and only if the row the shift brings there (or the blank a
/// scroll brings in) shows it. Rows the frame leaves as they are cost one comparison each.
fn possible_savings(
    screen: &[u64],
    next: &[u64],
    chunks: usize,
    blank: &[u64],
    magnitude: usize,
    up: bool,
) -> usize {
    let height = screen.len().min(next.len()) / chunks;
    let mut possible = 0;
    for r in 0..height {
        let row = r * chunks..(r + 1) * chunks;
        let (wanted, shown) = (&next[row.clone()], &screen[row]);
        if wanted == shown {
            continue;
        }
        let source = if up {
            Some(r + magnitude).filter(|&s| s < height)
        } else {
            r.checked_sub(magnitude)
        };
        let moved_in = source.map(|s| &screen[s * chunks..(s + 1) * chunks]);
        for (chunk, (want, now)) in wanted.iter().zip(shown).enumerate() {
            if want != now
                && (moved_in.is_some_and(|row| row[chunk] == *want)
                    || blank.get(chunk) == Some(want))
            {
                possible += 1;
            }
        }
    }
    possible
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
///
/// Between draws `next` equals `screen` (and `next_prints` equals `screen_prints`), so a draw
/// writes only the cells ratatui hands it into `next`, hashes only the chunks those cells fall
/// in, and afterwards copies only what changed back into `screen`: its cost follows the cells
/// that changed, not the size of the screen.
#[derive(Debug)]
pub struct ScrollingBackend<B> {
    inner: B,
    /// What the terminal shows.
    screen: Buffer,
    /// [`ROW_CHUNKS`] fingerprints per row of `screen`.
    screen_prints: Vec<u64>,
    /// The frame being drawn: `screen` plus this draw's updates.
    next: Buffer,
    /// [`ROW_CHUNKS`] fingerprints per row of `next`.
    next_prints: Vec<u64>,
    /// Per row, one bit for each chunk this draw updated (bit `c` for chunk `c`); all clear
    /// between draws.
    dirty_chunks: Vec<ChunkMask>,
    /// Where this draw's updates went, in ratatui's order (after a scroll: the cells still
    /// different). Kept so its allocation is reused.
    updated: Vec<(u16, u16)>,
    /// One row of `screen` and of `next`, for diffing a row at a time after a scroll.
    shown_row: Buffer,
    wanted_row: Buffer,
    /// Columns per chunk at the model's width.
    chunk_width: usize,
    /// One row's fingerprints of default cells, which is what scrolled-in rows show.
    blank_prints: [u64; ROW_CHUNKS],
    /// Scrolls sent since construction, for tests and diagnostics.
    scrolls_sent: u64,
}

/// One bit per chunk of a row.
type ChunkMask = u8;
const _: () = assert!(ROW_CHUNKS <= ChunkMask::BITS as usize);

impl<B: Backend<Error = io::Error> + Write> ScrollingBackend<B> {
    /// Wraps `inner`, modelling a blank terminal of the inner backend's size.
    pub fn new(inner: B) -> io::Result<Self> {
        let size = inner.size()?;
        Ok(Self::with_size(inner, size))
    }

    /// Wraps `inner`, modelling a blank terminal of `size` (for backends that cannot say).
    pub fn with_size(inner: B, size: Size) -> Self {
        let mut backend = Self {
            inner,
            screen: Buffer::default(),
            screen_prints: Vec::new(),
            next: Buffer::default(),
            next_prints: Vec::new(),
            dirty_chunks: Vec::new(),
            updated: Vec::new(),
            shown_row: Buffer::default(),
            wanted_row: Buffer::default(),
            chunk_width: 1,
            blank_prints: [0; ROW_CHUNKS],
            scrolls_sent: 0,
        };
        backend.reset_model_to(size);
        backend
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
        self.set_model(Buffer::empty(Rect::new(0, 0, size.width, size.height)));
    }

    /// Makes `screen` the model (and `next` a copy of it), with its fingerprints.
    fn set_model(&mut self, screen: Buffer) {
        self.chunk_width = chunk_width(usize::from(screen.area.width));
        self.blank_prints = blank_row_prints(screen.area.width);
        self.screen_prints = fingerprints(&screen);
        self.next_prints.clone_from(&self.screen_prints);
        self.next.clone_from(&screen);
        self.screen = screen;
        self.dirty_chunks.clear();
        self.dirty_chunks
            .resize(usize::from(self.screen.area.height), 0);
        self.shown_row = Buffer::empty(Rect::new(0, 0, self.screen.area.width, 1));
        self.wanted_row = self.shown_row.clone();
    }

    /// The terminal grew without a clear (ratatui clears on every resize it sees, so this is a
    /// safety net): makes the model hold (`x`, `y`), keeping what it showed and this draw's
    /// updates so far. Fingerprints are left stale; the draw recomputes them all.
    fn grow_model_to_hold(&mut self, x: u16, y: u16) {
        let area = Rect::new(
            0,
            0,
            self.next.area.width.max(x.saturating_add(1)),
            self.next.area.height.max(y.saturating_add(1)),
        );
        for buffer in [&mut self.screen, &mut self.next] {
            let mut grown = Buffer::empty(area);
            grown.merge(buffer);
            *buffer = grown;
        }
        self.chunk_width = chunk_width(usize::from(area.width));
        self.dirty_chunks.resize(usize::from(area.height), 0);
    }

    /// Writes one of ratatui's updates into `next` and marks the chunks it covers.
    fn apply_update(&mut self, x: u16, y: u16, cell: &Cell) {
        let columns = set_cell(&mut self.next, x, y, cell).max(1);
        let last_column = usize::from(x) + usize::from(columns) - 1;
        let last_column = last_column.min(usize::from(self.next.area.width) - 1);
        let first_chunk = usize::from(x) / self.chunk_width;
        let last_chunk = last_column / self.chunk_width;
        for chunk in first_chunk..=last_chunk {
            self.dirty_chunks[usize::from(y)] |= 1 << chunk;
        }
        self.updated.push((x, y));
    }

    /// Hashes the chunks of `next` this draw updated; returns how many now differ from what
    /// the terminal shows (the most any scroll could spare).
    fn rehash_dirty_chunks(&mut self) -> usize {
        let width = usize::from(self.next.area.width);
        let mut changed = 0;
        for (row, &mask) in self.dirty_chunks.iter().enumerate() {
            for chunk in chunks_in(mask) {
                let cells = chunk_cells(width, self.chunk_width, chunk);
                let print = &mut self.next_prints[row * ROW_CHUNKS + chunk];
                *print = chunk_hash(&self.next.content[row * width..][cells]);
                if *print != self.screen_prints[row * ROW_CHUNKS + chunk] {
                    changed += 1;
                }
            }
        }
        changed
    }

    /// Sends the inner backend what differs between `screen` (already scrolled) and `next`.
    /// Only rows a scroll moved (`scrolled_rows`) or this draw updated can differ; each of those
    /// that does is diffed by ratatui's own `Buffer::diff` through one-row copies, which yields
    /// what the whole-screen diff yields for that row (its wide-character rules never reach
    /// past a row's end: no wide character starts in a row's last column), at the cost of the
    /// rows that changed instead of the whole screen.
    fn draw_after_scrolling(&mut self, scrolled_rows: Range<usize>) -> io::Result<()> {
        let width = usize::from(self.next.area.width);
        self.updated.clear();
        for (row, &mask) in (0..self.next.area.height).zip(&self.dirty_chunks) {
            let y = usize::from(row);
            if mask == 0 && !scrolled_rows.contains(&y) {
                continue;
            }
            let cells = y * width..(y + 1) * width;
            let (shown, wanted) = (
                &self.screen.content[cells.clone()],
                &self.next.content[cells],
            );
            // Equal cells are still sent when marked to always update, as the diff does.
            let always = |cell: &Cell| cell.diff_option == CellDiffOption::AlwaysUpdate;
            if shown == wanted && !wanted.iter().any(always) {
                continue;
            }
            self.shown_row.content.clone_from_slice(shown);
            self.wanted_row.content.clone_from_slice(wanted);
            self.updated.extend(
                self.shown_row
                    .diff_iter(&self.wanted_row)
                    .map(|(x, _, _)| (x, row)),
            );
        }
        self.send_updated()
    }

    /// Sends the inner backend the cells of `next` at the positions in `updated`.
    fn send_updated(&mut self) -> io::Result<()> {
        let next = &self.next;
        self.inner
            .draw(self.updated.iter().map(|&(x, y)| (x, y, &next[(x, y)])))
    }

    /// After the inner backend was sent the frame: makes `screen` equal `next` again, copying
    /// whole only the rows a scroll moved (`scrolled_rows`) and elsewhere only the chunks this
    /// draw updated (their cells hold every column an update covered, a wide character's too).
    fn settle_model(&mut self, scrolled_rows: Range<usize>) {
        let width = usize::from(self.next.area.width);
        let copy_cells = |screen: &mut Buffer, next: &Buffer, cells: Range<usize>| {
            screen.content[cells.clone()].clone_from_slice(&next.content[cells]);
        };
        for (row, mask) in self.dirty_chunks.iter_mut().enumerate() {
            let (cells, prints) = (row * width, row * ROW_CHUNKS);
            if scrolled_rows.contains(&row) {
                copy_cells(&mut self.screen, &self.next, cells..cells + width);
                self.screen_prints[prints..prints + ROW_CHUNKS]
                    .copy_from_slice(&self.next_prints[prints..prints + ROW_CHUNKS]);
            } else {
                for chunk in chunks_in(*mask) {
                    let columns = chunk_cells(width, self.chunk_width, chunk);
                    copy_cells(
                        &mut self.screen,
                        &self.next,
                        cells + columns.start..cells + columns.end,
                    );
                    self.screen_prints[prints + chunk] = self.next_prints[prints + chunk];
                }
            }
            *mask = 0;
        }
        self.updated.clear();
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
        shift_rows(
            &mut self.screen,
            &mut self.screen_prints,
            scroll,
            &self.blank_prints,
        );
        self.scrolls_sent += 1;
        Ok(())
    }
}

/// Writes `cell` at (`x`, `y`) the way ratatui's buffer holds it: the columns a wide character
/// covers show nothing of their own, so they are reset (ratatui resets them and never sends them).
/// Returns how many columns the cell covers.
fn set_cell(buffer: &mut Buffer, x: u16, y: u16, cell: &Cell) -> u16 {
    buffer[(x, y)] = cell.clone();
    let width = cell.cell_width();
    let right = buffer.area.right();
    for column in (x.saturating_add(1)..x.saturating_add(width)).take_while(|&c| c < right) {
        buffer[(column, y)].reset();
    }
    width
}

/// Moves rows of `screen` (and their fingerprints) as the terminal does for `scroll`; rows
/// scrolled in are default cells, fingerprinted `blank`.
fn shift_rows(screen: &mut Buffer, prints: &mut [u64], scroll: RowScroll, blank: &[u64]) {
    let width = usize::from(screen.area.width);
    let top = usize::from(scroll.top);
    let bottom = usize::from(scroll.bottom);
    let lines = usize::from(scroll.shift.unsigned_abs());
    let region = &mut screen.content[top * width..bottom * width];
    let region_prints = &mut prints[top * ROW_CHUNKS..bottom * ROW_CHUNKS];
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
        region_prints[row * ROW_CHUNKS..(row + 1) * ROW_CHUNKS].copy_from_slice(blank);
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

/// Columns per chunk of a row `width` columns wide (the last chunk may be shorter, or empty).
fn chunk_width(width: usize) -> usize {
    width.div_ceil(ROW_CHUNKS).max(1)
}

/// The columns of chunk `chunk` in a row `width` columns wide; empty past the row's end.
fn chunk_cells(width: usize, chunk_width: usize, chunk: usize) -> Range<usize> {
    (chunk * chunk_width).min(width)..((chunk + 1) * chunk_width).min(width)
}

/// The chunks whose bits are set in `mask`, lowest first.
fn chunks_in(mask: ChunkMask) -> impl Iterator<Item = usize> {
    (0..ROW_CHUNKS).filter(move |chunk| mask & (1 << chunk) != 0)
}

/// Writes the [`ROW_CHUNKS`] fingerprints of one row into `prints`. An empty chunk (a row
/// narrower than [`ROW_CHUNKS`] columns) hashes as nothing.
fn fingerprint_row(row: &[Cell], prints: &mut [u64]) {
    let chunk_width = chunk_width(row.len());
    for (chunk, print) in prints.iter_mut().enumerate() {
        *print = chunk_hash(&row[chunk_cells(row.len(), chunk_width, chunk)]);
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
        let mut grew = false;
        for (x, y, cell) in content {
            if !self.next.area.contains(Position { x, y }) {
                self.grow_model_to_hold(x, y);
                grew = true;
            }
            self.apply_update(x, y, cell);
        }
        if self.updated.is_empty() {
            return self.inner.draw(std::iter::empty());
        }
        if grew {
            // The cells go out as given; the grown model is fingerprinted afresh.
            self.send_updated()?;
            let grown = self.next.clone();
            self.set_model(grown);
            self.updated.clear();
            return Ok(());
        }
        // Only a chunk that now differs from the terminal can be spared by a scroll (every
        // other one is already right where it is): with fewer than a scroll must spare, there
        // is nothing to look for.
        let passes = if self.rehash_dirty_chunks() >= MIN_SAVED_CHUNKS {
            MAX_SCROLLS_PER_FRAME
        } else {
            0
        };
        // The rows the scrolls moved, from the first region's top to the last one's bottom.
        let mut scrolled_rows: Option<Range<usize>> = None;
        for _ in 0..passes {
            let Some(scroll) = plan_scroll(
                &self.screen_prints,
                &self.next_prints,
                ROW_CHUNKS,
                &self.blank_prints,
                MAX_SHIFT,
                MIN_SAVED_CHUNKS,
            ) else {
                break;
            };
            self.scroll(scroll)?;
            let region = usize::from(scroll.top)..usize::from(scroll.bottom);
            scrolled_rows = Some(match scrolled_rows {
                Some(rows) => rows.start.min(region.start)..rows.end.max(region.end),
                None => region,
            });
        }
        if let Some(rows) = scrolled_rows {
            self.draw_after_scrolling(rows.clone())?;
            self.settle_model(rows);
        } else {
            // Nothing moved on the terminal: ratatui's own updates are exactly the difference.
            self.send_updated()?;
            self.settle_model(0..0);
        }
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
    use std::cell::RefCell;
    use std::rc::Rc;

    use ratatui::backend::CrosstermBackend;
    use ratatui::style::{Color, Style};

    use super::*;

    /// Bytes written, readable while a backend owns the writer.
    #[derive(Clone, Default)]
    struct Written(Rc<RefCell<Vec<u8>>>);

    impl Write for Written {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Written {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.borrow()).into_owned()
        }
    }

    type Wrapped = ScrollingBackend<CrosstermBackend<Written>>;

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
        shift_rows(&mut screen, &mut hashes, up, &blank_row_prints(4));
        assert_eq!(
            screen,
            Buffer::with_lines(["head", "bbbb", "cccc", "    ", "foot"])
        );
        assert_eq!(hashes, fingerprints(&screen));
        let down = RowScroll { shift: -2, ..up };
        shift_rows(&mut screen, &mut hashes, down, &blank_row_prints(4));
        assert_eq!(
            screen,
            Buffer::with_lines(["head", "    ", "    ", "bbbb", "foot"])
        );
        assert_eq!(hashes, fingerprints(&screen));
    }

    /// A 30×12 screen: a header, then one row per name with a timer, then a footer.
    fn table(names: &[&str], seconds: u32) -> Buffer {
        let mut buffer = Buffer::empty(Rect::new(0, 0, 30, 12));
        buffer.set_string(0, 0, "Calls", Style::new().fg(Color::Cyan));
        for (row, name) in names.iter().take(10).enumerate() {
            // The name repeated across the first five chunks, so a moved row is worth a scroll.
            let line = format!(
                "{:<20.20}{:>6}",
                name.repeat(7),
                format!("0:{:02}", seconds % 60)
            );
            buffer.set_string(0, row as u16 + 1, line, Style::new());
        }
        buffer.set_string(0, 11, "q quit", Style::new());
        buffer
    }

    /// Draws `frame` as ratatui would after `shown`: only the cells that differ.
    fn draw_as_ratatui(backend: &mut Wrapped, shown: &Buffer, frame: &Buffer) {
        backend.draw(shown.diff(frame).into_iter()).unwrap();
    }

    /// The model must equal the frame after every draw, whether the draw scrolled or not, and
    /// nothing of one draw's bookkeeping may leak into the next.
    fn assert_model_is(backend: &Wrapped, frame: &Buffer) {
        assert_eq!(&backend.screen, frame);
        assert_eq!(&backend.next, frame);
        assert_eq!(backend.screen_prints, fingerprints(frame));
        assert_eq!(backend.next_prints, backend.screen_prints);
        assert!(backend.dirty_chunks.iter().all(|&mask| mask == 0));
        assert!(backend.updated.is_empty());
    }

    #[test]
    fn the_model_follows_scrolled_and_partly_updated_frames() {
        let mut backend = ScrollingBackend::with_size(
            CrosstermBackend::new(Written::default()),
            Size::new(30, 12),
        );
        let names = [
            "ada", "bo", "cy", "di", "ed", "flo", "gus", "hal", "ivy", "jo", "kim",
        ];
        let mut shown = Buffer::empty(Rect::new(0, 0, 30, 12));
        let frames = [
            table(&names, 1),
            // Only timers change: one chunk a row, no scroll.
            table(&names, 2),
            // The first call hangs up: every row below moves up, and the timers tick.
            table(&names[1..], 3),
            // Only timers again, on rows that were just scrolled.
            table(&names[1..], 4),
            // Two arrivals at the top: rows move down.
            table(
                &[
                    "new", "newer", "bo", "cy", "di", "ed", "flo", "gus", "hal", "ivy",
                ],
                5,
            ),
        ];
        for (step, frame) in frames.iter().enumerate() {
            draw_as_ratatui(&mut backend, &shown, frame);
            assert_model_is(&backend, frame);
            let expected_scrolls = match step {
                0 | 1 => 0,
                2 | 3 => 1,
                _ => 2,
            };
            assert_eq!(
                backend.scrolls_sent(),
                expected_scrolls,
                "after frame {step}"
            );
            shown = frame.clone();
        }
    }

    #[test]
    fn a_cell_past_the_model_grows_it_and_keeps_what_it_showed() {
        let mut backend = ScrollingBackend::with_size(
            CrosstermBackend::new(Written::default()),
            Size::new(10, 3),
        );
        let small = Buffer::with_lines(["abc", "def", "ghi"]);
        let mut wide = Buffer::empty(Rect::new(0, 0, 14, 5));
        wide.set_string(0, 0, "abc", Style::new());
        wide.set_string(0, 1, "def", Style::new());
        wide.set_string(0, 2, "ghi", Style::new());
        wide.set_string(12, 4, "zz", Style::new());
        backend
            .draw(Buffer::empty(small.area).diff(&small).into_iter())
            .unwrap();
        // Only the new corner cells are sent, as ratatui sends what changed.
        let corner = [(12, 4, &wide[(12, 4)]), (13, 4, &wide[(13, 4)])];
        backend.draw(corner.into_iter()).unwrap();
        assert_model_is(&backend, &wide);
    }

    #[test]
    fn diffing_row_by_row_sends_what_the_whole_screen_diff_sends() {
        let plain = Style::new();
        let on_blue = Style::new().bg(Color::Blue);
        let mut shown = Buffer::empty(Rect::new(0, 0, 12, 6));
        let mut wanted = shown.clone();
        // Text changes.
        shown.set_string(0, 0, "abc", plain);
        wanted.set_string(0, 0, "abd", plain);
        // Only the colour changes.
        shown.set_string(0, 1, "same", plain);
        wanted.set_string(0, 1, "same", Style::new().fg(Color::Red));
        // A wide character appears (its second column is not sent).
        shown.set_string(0, 2, "ab  x", plain);
        wanted.set_string(0, 2, "a山 x", plain);
        // Wide characters on a background give way to narrow text: the diff forces the
        // columns they covered.
        shown.set_string(0, 3, "山山", on_blue);
        wanted.set_string(0, 3, "abcd", plain);
        // Unchanged rows send nothing.
        shown.set_string(0, 4, "kept", on_blue);
        wanted.set_string(0, 4, "kept", on_blue);

        let row_by_row = Written::default();
        let mut backend = ScrollingBackend::with_size(
            CrosstermBackend::new(row_by_row.clone()),
            shown.area.as_size(),
        );
        backend.screen = shown.clone();
        backend.next = wanted.clone();
        backend.draw_after_scrolling(0..6).unwrap();

        let whole_screen = Written::default();
        CrosstermBackend::new(whole_screen.clone())
            .draw(shown.diff(&wanted).into_iter())
            .unwrap();
        assert!(whole_screen.text().contains('山'));
        assert_eq!(row_by_row.text(), whole_screen.text());
    }
}
