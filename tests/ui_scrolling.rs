//! The scrolling backend against a real terminal emulator: every frame is drawn through ratatui's
//! `Terminal` into `ScrollingBackend<CrosstermBackend<Vec<u8>>>`, the bytes are fed to a
//! `vt100::Parser` (which implements scroll regions), and the emulated screen must equal the
//! rendered buffer — text, colours, bold and reverse — after every frame. A second terminal
//! without the wrapper draws the same frames so the byte counts can be compared.

use std::cell::RefCell;
use std::io::{self, Write};
use std::num::NonZeroU16;
use std::rc::Rc;

use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::{Position, Rect, Size};
use ratatui::style::{Color, Modifier, Style};

use callboard::ui::scrolling_backend::ScrollingBackend;

/// The bytes a terminal received, shared between the backend writing them and the test.
#[derive(Clone, Default)]
struct Received(Rc<RefCell<Vec<u8>>>);

impl Write for Received {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A pseudo-terminal stand-in: crossterm's escape sequences into memory, with a size the test
/// sets (crossterm would ask the real tty, which tests do not have).
struct MemoryTty {
    crossterm: CrosstermBackend<Received>,
    received: Received,
    size: Size,
}

impl MemoryTty {
    fn new(width: u16, height: u16) -> Self {
        let received = Received::default();
        Self {
            crossterm: CrosstermBackend::new(received.clone()),
            received,
            size: Size::new(width, height),
        }
    }

    fn take_bytes(&mut self) -> Vec<u8> {
        std::mem::take(&mut *self.received.0.borrow_mut())
    }
}

impl Write for MemoryTty {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.crossterm.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        Write::flush(&mut self.crossterm)
    }
}

impl Backend for MemoryTty {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.crossterm.draw(content)
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        self.crossterm.hide_cursor()
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        self.crossterm.show_cursor()
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        Ok(Position::ORIGIN)
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.crossterm.set_cursor_position(position)
    }

    fn clear(&mut self) -> io::Result<()> {
        self.crossterm.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.crossterm.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        Ok(self.size)
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        Ok(WindowSize {
            columns_rows: self.size,
            pixels: Size::default(),
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Backend::flush(&mut self.crossterm)
    }
}

/// The wrapped terminal, the plain one, and the emulator fed by the wrapped one.
struct Rig {
    scrolling: Terminal<ScrollingBackend<MemoryTty>>,
    plain: Terminal<MemoryTty>,
    emulator: vt100::Parser,
    scrolling_bytes: usize,
    plain_bytes: usize,
}

impl Rig {
    fn new(width: u16, height: u16) -> Self {
        let backend = ScrollingBackend::new(MemoryTty::new(width, height)).unwrap();
        Self {
            scrolling: Terminal::new(backend).unwrap(),
            plain: Terminal::new(MemoryTty::new(width, height)).unwrap(),
            emulator: vt100::Parser::new(non_zero(height), non_zero(width), 0),
            scrolling_bytes: 0,
            plain_bytes: 0,
        }
    }

    /// Draws `frame` on both terminals and checks the emulated screen against it.
    fn show(&mut self, frame: &Buffer, label: &str) {
        self.scrolling
            .draw(|f| f.buffer_mut().content.clone_from_slice(&frame.content))
            .unwrap();
        let bytes = self.scrolling.backend_mut().inner_mut().take_bytes();
        self.scrolling_bytes += bytes.len();
        self.emulator.process(&bytes);
        self.plain
            .draw(|f| f.buffer_mut().content.clone_from_slice(&frame.content))
            .unwrap();
        self.plain_bytes += self.plain.backend_mut().take_bytes().len();
        assert_screen_equals(self.emulator.screen(), frame, label);
    }

    /// Both terminals (and the emulator) change size, as a SIGWINCH would make them.
    fn resize(&mut self, width: u16, height: u16) {
        self.scrolling.backend_mut().inner_mut().size = Size::new(width, height);
        self.plain.backend_mut().size = Size::new(width, height);
        self.emulator
            .screen_mut()
            .set_size(non_zero(height), non_zero(width));
    }

    fn scrolls_sent(&self) -> u64 {
        self.scrolling.backend().scrolls_sent()
    }
}

fn non_zero(value: u16) -> NonZeroU16 {
    NonZeroU16::new(value).unwrap()
}

fn assert_screen_equals(screen: &vt100::Screen, frame: &Buffer, label: &str) {
    let area = frame.area;
    for y in area.top()..area.bottom() {
        let mut x = area.left();
        while x < area.right() {
            let want = &frame[(x, y)];
            let got = screen
                .cell(y, x)
                .unwrap_or_else(|| panic!("{label}: the emulator has no cell at ({x}, {y})"));
            let got_text = if got.has_contents() {
                got.contents()
            } else {
                " "
            };
            assert_eq!(
                got_text,
                want.symbol(),
                "{label}: text at ({x}, {y}); emulated row {y}: {:?}\nwanted row: {:?}",
                emulated_row(screen, y, area.width),
                wanted_row(frame, y)
            );
            assert_eq!(
                got.fgcolor(),
                vt_color(want.fg),
                "{label}: fg at ({x}, {y})"
            );
            assert_eq!(
                got.bgcolor(),
                vt_color(want.bg),
                "{label}: bg at ({x}, {y})"
            );
            assert_eq!(
                got.bold(),
                want.modifier.contains(Modifier::BOLD),
                "{label}: bold at ({x}, {y})"
            );
            assert_eq!(
                got.inverse(),
                want.modifier.contains(Modifier::REVERSED),
                "{label}: reverse at ({x}, {y})"
            );
            // The columns a wide character covers belong to it.
            x +=
                u16::try_from(unicode_width::UnicodeWidthStr::width(want.symbol()).max(1)).unwrap();
        }
    }
}

fn emulated_row(screen: &vt100::Screen, y: u16, width: u16) -> String {
    screen
        .rows(0, width)
        .nth(usize::from(y))
        .unwrap_or_default()
}

fn wanted_row(frame: &Buffer, y: u16) -> String {
    let mut row = String::new();
    let mut x = frame.area.left();
    while x < frame.area.right() {
        let symbol = frame[(x, y)].symbol();
        row.push_str(symbol);
        x += u16::try_from(unicode_width::UnicodeWidthStr::width(symbol).max(1)).unwrap();
    }
    row
}

/// How crossterm writes ratatui's colours, as the emulator reads them back.
fn vt_color(color: Color) -> vt100::Color {
    let indexed = |index: u8| vt100::Color::Idx(index);
    match color {
        Color::Reset => vt100::Color::Default,
        Color::Black => indexed(0),
        Color::Red => indexed(1),
        Color::Green => indexed(2),
        Color::Yellow => indexed(3),
        Color::Blue => indexed(4),
        Color::Magenta => indexed(5),
        Color::Cyan => indexed(6),
        Color::Gray => indexed(7),
        Color::DarkGray => indexed(8),
        Color::LightRed => indexed(9),
        Color::LightGreen => indexed(10),
        Color::LightYellow => indexed(11),
        Color::LightBlue => indexed(12),
        Color::LightMagenta => indexed(13),
        Color::LightCyan => indexed(14),
        Color::White => indexed(15),
        Color::Indexed(index) => indexed(index),
        Color::Rgb(r, g, b) => vt100::Color::Rgb(r, g, b),
    }
}

/// A live call as the Calls table shows it.
#[derive(Clone)]
struct Call {
    id: u32,
    state: &'static str,
    caller: String,
    seconds: u32,
}

impl Call {
    fn new(id: u32, state: &'static str) -> Self {
        Self {
            id,
            state,
            caller: format!("Caller {id:04}"),
            seconds: id % 300,
        }
    }
}

/// A Calls-like screen: a title, a bold column header, one row per call (state coloured, the
/// selected row reversed, held calls on a background colour), and a footer.
fn calls_screen(width: u16, height: u16, calls: &[Call], selected: usize) -> Buffer {
    let mut buffer = Buffer::empty(Rect::new(0, 0, width, height));
    buffer.set_string(
        0,
        0,
        format!("callboard — Calls — {} live", calls.len()),
        Style::new().fg(Color::Cyan),
    );
    buffer.set_string(
        0,
        1,
        "    ID  STATE     CALLER                 TIME",
        Style::new().add_modifier(Modifier::BOLD),
    );
    let table_rows = usize::from(height.saturating_sub(3));
    for (row, call) in calls.iter().take(table_rows).enumerate() {
        let style = match call.state {
            "waiting" => Style::new().fg(Color::Yellow),
            "talking" => Style::new().fg(Color::Green),
            "hold" => Style::new().fg(Color::White).bg(Color::Blue),
            _ => Style::new().fg(Color::Rgb(200, 120, 40)),
        };
        let style = if row == selected {
            style.add_modifier(Modifier::REVERSED)
        } else {
            style
        };
        let text = format!(
            "{:>6}  {:<8}  {:<20}  {:>2}:{:02}",
            call.id,
            call.state,
            call.caller,
            call.seconds / 60,
            call.seconds % 60
        );
        buffer.set_stringn(0, row as u16 + 2, text, usize::from(width), style);
    }
    buffer.set_string(
        0,
        height - 1,
        "q quit  / filter  ? help",
        Style::new().fg(Color::DarkGray),
    );
    buffer
}

fn calls(count: u32) -> Vec<Call> {
    (1..=count)
        .map(|id| {
            let state = ["waiting", "talking", "talking", "hold", "parked"][id as usize % 5];
            Call::new(id, state)
        })
        .collect()
}

/// A small deterministic generator, so a failing sequence can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

#[test]
fn rows_shifted_up_and_down_show_exactly_the_rendered_frame() {
    let mut rig = Rig::new(120, 40);
    let mut live = calls(60);
    rig.show(&calls_screen(120, 40, &live, 0), "first frame");
    let mut next_id = 1000;
    let mut random = Lcg(7);
    for step in 0..80 {
        match random.below(5) {
            // Hang-ups near the top: everything below moves up.
            0 | 1 => {
                for _ in 0..=random.below(3) {
                    let at = random.below(12);
                    live.remove(at);
                }
            }
            // Arrivals near the top: everything below moves down.
            2 | 3 => {
                for _ in 0..=random.below(3) {
                    let at = random.below(12);
                    next_id += 1;
                    live.insert(at, Call::new(next_id, "waiting"));
                }
            }
            // A call changes state in place.
            _ => {
                let at = random.below(30);
                live[at].state = "hold";
            }
        }
        // Timers tick on a few rows every frame, wherever they are.
        for call in live.iter_mut().step_by(7) {
            call.seconds += 1;
        }
        while live.len() < 45 {
            next_id += 1;
            live.push(Call::new(next_id, "talking"));
        }
        rig.show(&calls_screen(120, 40, &live, 3), &format!("step {step}"));
    }
    assert!(
        rig.scrolls_sent() > 20,
        "scrolls sent: {}",
        rig.scrolls_sent()
    );
}

#[test]
fn a_shifted_table_costs_a_small_fraction_of_rewriting_it() {
    let mut rig = Rig::new(120, 40);
    let mut live = calls(60);
    rig.show(&calls_screen(120, 40, &live, 0), "first frame");
    let (first_scrolling, first_plain) = (rig.scrolling_bytes, rig.plain_bytes);
    let mut next_id = 1000;
    for step in 0..20 {
        if step % 2 == 0 {
            live.remove(1 + step % 3);
        } else {
            next_id += 1;
            live.insert(step % 4, Call::new(next_id, "waiting"));
        }
        rig.show(&calls_screen(120, 40, &live, 0), &format!("step {step}"));
    }
    let scrolling = rig.scrolling_bytes - first_scrolling;
    let plain = rig.plain_bytes - first_plain;
    assert!(
        scrolling * 4 < plain,
        "shifted tables: {scrolling} bytes with scrolling, {plain} without"
    );
}

#[test]
fn a_changed_row_inside_a_shifted_block_is_rewritten() {
    let mut rig = Rig::new(100, 30);
    let mut live = calls(40);
    rig.show(&calls_screen(100, 30, &live, 0), "first frame");
    live.remove(2);
    live[10].state = "hold";
    live[10].caller = "Changed Mid-Block".to_string();
    rig.show(
        &calls_screen(100, 30, &live, 0),
        "removed one, changed one below it",
    );
    live.insert(0, Call::new(900, "waiting"));
    live.insert(0, Call::new(901, "waiting"));
    live[15].caller = "Changed Again".to_string();
    rig.show(
        &calls_screen(100, 30, &live, 0),
        "two inserted, one changed below",
    );
    assert_eq!(rig.scrolls_sent(), 2);
}

#[test]
fn after_a_resize_frames_are_still_exact() {
    let mut rig = Rig::new(120, 40);
    let mut live = calls(60);
    rig.show(&calls_screen(120, 40, &live, 0), "120×40");
    live.remove(0);
    rig.show(&calls_screen(120, 40, &live, 0), "120×40 shifted");
    rig.resize(90, 24);
    rig.show(&calls_screen(90, 24, &live, 1), "shrunk to 90×24");
    for step in 0..5 {
        live.remove(step);
        rig.show(
            &calls_screen(90, 24, &live, 1),
            &format!("90×24 shift {step}"),
        );
    }
    rig.resize(130, 50);
    rig.show(&calls_screen(130, 50, &live, 1), "grown to 130×50");
    live.insert(0, Call::new(777, "waiting"));
    live.insert(0, Call::new(778, "waiting"));
    rig.show(&calls_screen(130, 50, &live, 1), "130×50 shifted down");
}

#[test]
fn wide_characters_keep_their_columns_through_scrolls() {
    let mut rig = Rig::new(80, 24);
    let mut live = calls(40);
    for (index, call) in live.iter_mut().enumerate() {
        if index % 3 == 0 {
            call.caller = format!("山田太郎 {index}");
        }
    }
    rig.show(&calls_screen(80, 24, &live, 0), "first frame");
    for step in 0..6 {
        if step % 2 == 0 {
            live.remove(0);
        } else {
            let mut call = Call::new(500 + step, "waiting");
            call.caller = "東京コールセンター".to_string();
            live.insert(1, call);
        }
        // A row's wide name turns narrow in place, under the shift.
        live[6].caller = format!("Narrow {step}");
        rig.show(&calls_screen(80, 24, &live, 0), &format!("step {step}"));
    }
    assert!(rig.scrolls_sent() >= 3);
}

#[test]
fn scrolled_in_rows_never_carry_a_background_colour() {
    let mut rig = Rig::new(60, 20);
    // Every call on hold: every table row has a blue background.
    let mut live: Vec<Call> = (1..=12).map(|id| Call::new(id, "hold")).collect();
    rig.show(&calls_screen(60, 20, &live, 99), "all on hold");
    // The table shrinks from the top: the rows below the last call must be default blank.
    for step in 0..4 {
        live.remove(0);
        rig.show(&calls_screen(60, 20, &live, 99), &format!("hang-up {step}"));
    }
    // And grows at the top: rows pushed down keep their background, new ones get theirs.
    for step in 0..4 {
        live.insert(0, Call::new(100 + step, "hold"));
        rig.show(&calls_screen(60, 20, &live, 99), &format!("arrival {step}"));
    }
    assert!(rig.scrolls_sent() >= 4);
}

#[test]
fn an_unchanged_or_scattered_frame_sends_no_scroll() {
    let mut rig = Rig::new(120, 40);
    let mut live = calls(60);
    rig.show(&calls_screen(120, 40, &live, 0), "first frame");
    rig.show(&calls_screen(120, 40, &live, 0), "same frame");
    for call in live.iter_mut().step_by(3) {
        call.seconds += 1;
    }
    rig.show(&calls_screen(120, 40, &live, 0), "timers only");
    assert_eq!(rig.scrolls_sent(), 0);
}

#[test]
fn a_model_smaller_than_the_terminal_grows_instead_of_losing_cells() {
    // The wrapper believes the terminal is 40×10 while it is 80×24 (a resize it was not told
    // of): the cells outside its model must still be written, and later scrolls stay exact.
    let tty = MemoryTty::new(80, 24);
    let backend = ScrollingBackend::with_size(tty, Size::new(40, 10));
    let mut rig = Rig::new(80, 24);
    rig.scrolling = Terminal::new(backend).unwrap();
    let mut live = calls(40);
    rig.show(
        &calls_screen(80, 24, &live, 0),
        "first frame, larger than the model",
    );
    for step in 0..4 {
        live.remove(1);
        rig.show(&calls_screen(80, 24, &live, 0), &format!("shift {step}"));
    }
    assert!(rig.scrolls_sent() >= 3);
}

#[test]
fn rows_that_differ_from_their_neighbours_in_a_few_cells_still_scroll_exactly() {
    // Every call has the same state and a caller name that differs only in its last digits, so
    // when the table moves ratatui sends a few cells a row, not whole rows: the wrapper must
    // still see the rows moved from those cells plus its model, and repaint them exactly.
    let mut rig = Rig::new(120, 40);
    let mut live: Vec<Call> = (1..=60)
        .map(|id| {
            let mut call = Call::new(id, "talking");
            call.seconds = 61;
            call
        })
        .collect();
    rig.show(&calls_screen(120, 40, &live, 99), "first frame");
    for step in 0..6 {
        if step % 2 == 0 {
            live.remove(step);
        } else {
            let mut call = Call::new(900 + step as u32, "talking");
            call.seconds = 61;
            live.insert(step, call);
        }
        rig.show(&calls_screen(120, 40, &live, 99), &format!("step {step}"));
    }
    assert!(rig.scrolls_sent() >= 5, "scrolls: {}", rig.scrolls_sent());
}
