//! Small and odd terminal sizes degrade, never crash: every view renders at every size from
//! 1×1 up, columns drop by priority, and below the floor the board says how much room it needs.

mod ui_support;

use chrono::Duration;
use ui_support::{
    GOOGLE_CTN, SUPPORT, ScriptedCall, notification, now, press, screen, scripted_app,
};

use callboard::ui::render::{MIN_HEIGHT, MIN_WIDTH};

#[test]
fn every_view_renders_at_every_size_without_panicking() {
    for keys in [
        "1",
        "2<space>",
        "3",
        "1<enter><enter>",
        "4",
        "5",
        "6",
        "?",
        ":th<tab>",
    ] {
        let mut app = scripted_app();
        press(&mut app, keys);
        for width in (1..=200).step_by(13) {
            for height in (1..=60).step_by(7) {
                let text = screen(&app, width, height);
                assert_eq!(text.split('\n').count(), usize::from(height));
            }
        }
    }
}

#[test]
fn below_the_floor_the_board_says_what_it_needs() {
    let app = scripted_app();
    let text = screen(&app, MIN_WIDTH - 1, MIN_HEIGHT + 5);
    assert!(
        text.contains(&format!(
            "terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT})"
        )),
        "{text}"
    );
    let text = screen(&app, MIN_WIDTH, MIN_HEIGHT);
    assert!(!text.contains("too small"), "{text}");
    assert!(text.contains("Sales"), "{text}");
}

#[test]
fn narrow_terminals_keep_the_columns_that_matter() {
    let mut app = scripted_app();
    press(&mut app, "3");
    let narrow = screen(&app, 60, 20);
    for must in ["waiting", "+12125550111", "0:45"] {
        assert!(
            narrow.contains(must),
            "{must} missing at 60 columns:\n{narrow}"
        );
    }
    assert!(
        !narrow.contains("Dialled"),
        "low-priority columns drop first:\n{narrow}"
    );
    let wide = screen(&app, 160, 20);
    assert!(wide.contains("Dialled"), "{wide}");
}

#[test]
fn a_long_list_scrolls_with_the_selection() {
    let mut app = scripted_app();
    let callers: Vec<String> = (0..20).map(|i| format!("+1646555{i:04}")).collect();
    let sessions: Vec<String> = (0..20).map(|i| format!("s-extra-{i:02}")).collect();
    for (i, (caller, session)) in callers.iter().zip(&sessions).enumerate() {
        let call = ScriptedCall {
            session,
            caller,
            caller_name: "Extra Caller",
            ctn: GOOGLE_CTN,
            queue: (SUPPORT, "Support"),
            start: now() - Duration::seconds(100 + i as i64),
            agent: None,
            hold_at: None,
            end: None,
            recording: None,
        };
        for (at, frame) in call.frames() {
            app.handle(notification(frame), at);
        }
    }
    press(&mut app, "3G");
    // 24 calls in an 8-row body: the last (oldest ended) call must be visible and selected.
    let text = screen(&app, 100, 14);
    assert!(text.contains("+16175550133"), "{text}");
    assert!(text.contains("24/24"), "the position shows: {text}");
    assert!(
        !text.contains("+16465550019"),
        "the top scrolled away: {text}"
    );
    press(&mut app, "g");
    let text = screen(&app, 100, 14);
    assert!(text.contains("1/24"), "{text}");
}
