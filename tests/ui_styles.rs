//! Colour and emphasis, which text snapshots cannot show: threshold marks carry the `sla.breach`
//! style *and* a glyph, the selection follows the cursor, hostile strings reach the screen inert,
//! and the mono theme puts no colour on screen at all.

mod ui_support;

use ratatui::style::{Color, Modifier};
use ui_support::{HOSTILE_NAME, draw, find, press, scripted_app};

use callboard::ui::theme::{Role, Theme};

#[test]
fn a_queue_past_its_wait_threshold_is_marked_with_glyph_and_breach_style() {
    let app = scripted_app();
    let buffer = draw(&app, 80, 24);
    let breach = app.theme.style(Role::SlaBreach);
    let (x, y) = find(&buffer, "▲ Sales").expect("the breach glyph precedes the queue name");
    assert_eq!(buffer[(x, y)].fg, breach.fg.unwrap());
    assert!(
        buffer[(x, y)]
            .modifier
            .contains(Modifier::BOLD | Modifier::REVERSED)
    );
    let (x, y) = find(&buffer, "▲0:45").expect("the longest wait carries the glyph too");
    assert_eq!(buffer[(x, y)].fg, breach.fg.unwrap());
    let (x, y) = find(&buffer, "▼50/80").expect("service level under goal is marked");
    assert_eq!(buffer[(x, y)].fg, breach.fg.unwrap());
}

#[test]
fn a_queue_within_its_service_level_is_not_marked() {
    let app = scripted_app();
    let buffer = draw(&app, 80, 24);
    let (x, y) = find(&buffer, "100/90").unwrap();
    assert_eq!(buffer[(x, y)].fg, app.theme.style(Role::SlaOk).fg.unwrap());
    assert!(find(&buffer, "▲ Support").is_none() && find(&buffer, "▼ Support").is_none());
}

#[test]
fn the_selection_is_drawn_on_the_selected_row_and_follows_the_keys() {
    let mut app = scripted_app();
    let buffer = draw(&app, 80, 24);
    let (_, sales_y) = find(&buffer, "Sales").unwrap();
    let (_, support_y) = find(&buffer, "Support").unwrap();
    let reversed = |buffer: &ratatui::buffer::Buffer, y: u16| {
        buffer[(20, y)].modifier.contains(Modifier::REVERSED)
    };
    assert!(reversed(&buffer, sales_y), "first row selected at start");
    assert!(!reversed(&buffer, support_y));
    press(&mut app, "j");
    let buffer = draw(&app, 80, 24);
    assert!(!reversed(&buffer, sales_y));
    assert!(reversed(&buffer, support_y), "j moves the selection down");
}

#[test]
fn hostile_caller_names_reach_the_screen_as_inert_text() {
    let mut app = scripted_app();
    press(&mut app, "3");
    let buffer = draw(&app, 160, 48);
    for cell in buffer.content() {
        for c in cell.symbol().chars() {
            assert!(
                !callboard::text::is_unsafe_char(c),
                "unsafe char {c:?} on screen"
            );
        }
    }
    assert!(HOSTILE_NAME.contains('\u{1b}'));
    assert!(
        find(&buffer, "[31mEvilCorp").is_some(),
        "the name shows, defanged"
    );
}

#[test]
fn the_mono_theme_puts_no_colour_on_screen() {
    let mut app = scripted_app();
    app.theme = Theme::built_in("mono").unwrap();
    for keys in ["1", "2", "3", "4", "5", "6", "?"] {
        press(&mut app, "<esc>");
        press(&mut app, keys);
        let buffer = draw(&app, 120, 40);
        for cell in buffer.content() {
            assert_eq!(
                (cell.fg, cell.bg),
                (Color::Reset, Color::Reset),
                "view {keys}"
            );
        }
    }
}

#[test]
fn call_states_are_told_by_word_and_glyph_not_colour_alone() {
    let mut app = scripted_app();
    app.theme = Theme::built_in("mono").unwrap();
    press(&mut app, "3");
    let buffer = draw(&app, 80, 24);
    for label in ["◷ waiting", "● talking", "✗ abandoned", "✓ answered"] {
        assert!(find(&buffer, label).is_some(), "{label}");
    }
}
