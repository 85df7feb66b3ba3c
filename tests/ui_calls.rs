//! The Calls view over many calls: the rows come from the board's live-call order and the end
//! index (not a per-frame sort), the viewport and the selection stay right as calls arrive,
//! change and end, and a call whose end was not seen is marked with a glyph and words.

mod ui_support;

use chrono::{DateTime, Duration, Utc};
use ratatui::style::Modifier;
use ui_support::{
    GOOGLE_CTN, SALES, SUPPORT, ScriptedCall, draw, find, notification, now, press, screen,
    scripted_app,
};

use callboard::app::App;
use callboard::board::{Board, CallState, live_rank, state_since};
use callboard::ui::theme::Role;
use callboard::ui::views;

/// Adds `count` calls (batch `batch`) to the scripted shift: waiting, talking (answered by Ana or Ben) and a
/// few ended, started a second apart so every row is told apart by its caller.
fn add_calls(app: &mut App, batch: u8, count: usize) {
    let callers: Vec<String> = (0..count)
        .map(|i| format!("+1646{batch}55{i:04}"))
        .collect();
    let sessions: Vec<String> = (0..count).map(|i| format!("s-{batch}-{i:04}")).collect();
    let mut frames: Vec<(DateTime<Utc>, String)> = Vec::new();
    for (i, (caller, session)) in callers.iter().zip(&sessions).enumerate() {
        let start = now() - Duration::seconds(30 + i as i64);
        let answered = i % 3 == 1;
        let call = ScriptedCall {
            session,
            caller,
            caller_name: "Many Caller",
            ctn: GOOGLE_CTN,
            queue: if i % 2 == 0 {
                (SUPPORT, "Support")
            } else {
                (SALES, "Sales")
            },
            start,
            agent: answered.then(|| {
                let (id, name) = if i % 2 == 0 {
                    ("102", "Ben Okafor")
                } else {
                    ("101", "Ana Ruiz")
                };
                (id, name, start + Duration::seconds(5))
            }),
            hold_at: None,
            end: (i % 7 == 6).then(|| start + Duration::seconds(20)),
            recording: None,
        };
        frames.extend(call.frames());
    }
    frames.sort_by_key(|(at, _)| *at);
    for (at, frame) in frames {
        app.handle(notification(frame), at);
    }
}

/// The Calls order by its definition, computed from scratch: live calls by state group, time
/// in state, start and creation; then finished calls, newest end first.
fn expected_order(board: &Board) -> Vec<String> {
    let mut live: Vec<_> = board.live_calls().collect();
    live.sort_by_cached_key(|c| {
        (
            live_rank(c.state),
            state_since(c),
            c.started_at,
            board.live_order().position(c),
        )
    });
    let mut ended: Vec<_> = board.calls().filter(|c| !c.is_live()).collect();
    ended.sort_by_key(|c| std::cmp::Reverse((c.ended_at, c.id.clone())));
    live.iter()
        .chain(&ended)
        .map(|c| c.id.to_string())
        .collect()
}

#[test]
fn the_rows_are_the_live_order_then_the_ended_calls() {
    let mut app = scripted_app();
    add_calls(&mut app, 1, 300);
    press(&mut app, "3");
    let keys = views::row_keys(&app.board, &app.ui, now());
    assert_eq!(keys, expected_order(&app.board));
    assert_eq!(keys.len(), app.board.call_count());
    // Waiting calls lead, the longest waiting first.
    let first = app.board.call(&keys[0]).unwrap();
    assert_eq!(first.state, CallState::Waiting);
    assert!(
        app.board
            .live_calls()
            .filter(|c| c.state == CallState::Waiting)
            .all(|c| state_since(first) <= state_since(c))
    );
}

#[test]
fn the_selection_follows_its_call_when_rows_above_it_move() {
    let mut app = scripted_app();
    add_calls(&mut app, 1, 200);
    press(&mut app, "3jjjjj");
    let (index, key) = views::selected_row(&app.board, &app.ui, now()).unwrap();
    assert_eq!(index, 5);
    // A new call starts waiting in front of everyone else's wait: the rows shift down by one.
    let call = ScriptedCall {
        session: "s-newcomer",
        caller: "+19995550000",
        caller_name: "New Caller",
        ctn: GOOGLE_CTN,
        queue: (SALES, "Sales"),
        start: now() - Duration::hours(1),
        agent: None,
        hold_at: None,
        end: None,
        recording: None,
    };
    for (at, frame) in call.frames() {
        app.handle(notification(frame), at);
    }
    let (moved_to, still) = views::selected_row(&app.board, &app.ui, now()).unwrap();
    assert_eq!(still, key, "the selection stays on its call");
    assert_eq!(moved_to, 6);
    // And the screen draws it on the selected row.
    let buffer = draw(&app, 120, 40);
    let caller = app.board.call(&key).unwrap().caller.clone().unwrap();
    let (_, y) = find(&buffer, &caller).unwrap();
    assert!(buffer[(2, y)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn page_down_end_and_home_walk_the_whole_list() {
    let mut app = scripted_app();
    add_calls(&mut app, 1, 150);
    app.ui.page_rows = 20;
    press(&mut app, "3");
    let keys = views::row_keys(&app.board, &app.ui, now());
    let total = keys.len();
    press(&mut app, "<c-f>");
    let (index, key) = views::selected_row(&app.board, &app.ui, now()).unwrap();
    assert_eq!((index, key.as_str()), (20, keys[20].as_str()));
    press(&mut app, "G");
    let (index, key) = views::selected_row(&app.board, &app.ui, now()).unwrap();
    assert_eq!((index, key.as_str()), (total - 1, keys[total - 1].as_str()));
    // The last row is an ended call: it is drawn, selected and counted.
    let text = screen(&app, 120, 30);
    assert!(text.contains(&format!("{total}/{total}")), "{text}");
    let last_caller = app
        .board
        .call(&key)
        .unwrap()
        .caller
        .as_deref()
        .unwrap()
        .to_owned();
    assert!(text.contains(&last_caller), "{text}");
    press(&mut app, "k");
    let (index, _) = views::selected_row(&app.board, &app.ui, now()).unwrap();
    assert_eq!(index, total - 2);
    press(&mut app, "g");
    let (index, key) = views::selected_row(&app.board, &app.ui, now()).unwrap();
    assert_eq!((index, key.as_str()), (0, keys[0].as_str()));
}

#[test]
fn a_filter_and_a_sort_list_the_same_calls_as_a_full_pass() {
    let mut app = scripted_app();
    add_calls(&mut app, 1, 120);
    press(&mut app, "3/Ana<enter>");
    let filtered = views::row_keys(&app.board, &app.ui, now());
    let expected: Vec<String> = expected_order(&app.board)
        .into_iter()
        .filter(|id| app.board.call(id).unwrap().agent_name.as_deref() == Some("Ana Ruiz"))
        .collect();
    assert_eq!(filtered, expected);
    // Moving the cursor reuses the list; a board change recomputes it.
    press(&mut app, "jj");
    let (index, key) = views::selected_row(&app.board, &app.ui, now()).unwrap();
    assert_eq!((index, key.as_str()), (2, filtered[2].as_str()));
    add_calls(&mut app, 2, 121);
    let refreshed = views::row_keys(&app.board, &app.ui, now());
    assert!(refreshed.len() > filtered.len());
    // Sorting by caller, descending first for text is ascending: every row, in caller order.
    press(&mut app, "<esc>s");
    let sorted = views::row_keys(&app.board, &app.ui, now());
    assert_eq!(sorted.len(), app.board.call_count());
}

#[test]
fn a_queues_calls_are_only_that_queues() {
    let mut app = scripted_app();
    add_calls(&mut app, 1, 60);
    press(&mut app, "1<enter>");
    let keys = views::row_keys(&app.board, &app.ui, now());
    let expected: Vec<String> = expected_order(&app.board)
        .into_iter()
        .filter(|id| app.board.call(id).unwrap().queue_id.as_deref() == Some(SALES))
        .collect();
    assert_eq!(keys, expected);
}

/// The scripted shift after a resync that found only the waiting call still on the platform:
/// the talking call is closed with its end unseen.
fn app_after_resync() -> App {
    let mut app = scripted_app();
    let closed = app.board.end_missing_live_calls(["s-waiting"], now());
    assert_eq!(closed, 1);
    app
}

#[test]
fn a_call_whose_end_was_not_seen_is_marked_in_the_calls_view() {
    let mut app = app_after_resync();
    press(&mut app, "3");
    insta::assert_snapshot!("calls_end_unseen_80x24", screen(&app, 80, 24));
    let buffer = draw(&app, 80, 24);
    let (x, y) = find(&buffer, "? answered").expect("glyph and words, not colour alone");
    let (seen_x, seen_y) = find(&buffer, "✓ answered").expect("a call whose end was seen");
    assert_ne!(y, seen_y);
    // Both are finished calls, drawn alike: the mark is the glyph and the word, not a colour.
    assert_eq!(buffer[(x, y)].style(), buffer[(seen_x, seen_y)].style());
}

#[test]
fn call_detail_says_the_end_was_not_seen_and_the_outcome_is_a_guess() {
    let mut app = app_after_resync();
    // The talking call is now the newest ended one: the second row, after the waiting call.
    press(&mut app, "3j<enter>");
    let text = screen(&app, 160, 48);
    insta::assert_snapshot!("call_detail_end_unseen_160x48", text);
    assert!(text.contains("? answered"), "{text}");
    assert!(text.contains("end not seen"), "{text}");
    assert!(text.contains("(noticed)"), "{text}");
    let buffer = draw(&app, 160, 48);
    let (x, y) = find(&buffer, "? end not seen").unwrap();
    assert_eq!(
        buffer[(x, y)].fg,
        app.theme.style(Role::StatusDegraded).fg.unwrap(),
        "the note carries the degraded role"
    );
    // A call whose end was seen says none of this.
    let mut app = scripted_app();
    press(&mut app, "3jj<enter>");
    let text = screen(&app, 160, 48);
    assert!(!text.contains("end not seen"), "{text}");
}

#[test]
fn a_call_live_before_callboard_started_shows_its_time_in_state_as_at_least() {
    let mut app = scripted_app();
    // The start-up read finds a call already talking: REST carries no per-party times.
    let session: callboard::rc::records::TelephonySession =
        serde_json::from_value(serde_json::json!({
            "id": "s-before",
            "creationTime": (now() - Duration::seconds(400)).to_rfc3339(),
            "parties": [
                { "id": "s-before-1", "direction": "Outbound", "status": { "code": "Answered" },
                  "from": { "phoneNumber": "+16465550999" }, "to": { "phoneNumber": GOOGLE_CTN } },
                { "id": "s-before-a1", "direction": "Inbound", "owner": { "extensionId": "103" },
                  "status": { "code": "Answered" }, "queueCall": true,
                  "to": { "phoneNumber": GOOGLE_CTN, "extensionId": SALES, "name": "Sales" } },
            ]
        }))
        .unwrap();
    let read_at = now() - Duration::seconds(42);
    app.board.apply_session_snapshot(&session, read_at);
    press(&mut app, "3/5550999<enter>");
    let text = screen(&app, 120, 24);
    let row = text
        .lines()
        .find(|l| l.contains("+16465550999"))
        .unwrap_or_else(|| panic!("the call is listed:\n{text}"));
    assert!(row.contains("0:42+"), "at least 42 s in state: {row}");
    // Its total runs from the session's creation, which the read does carry.
    assert!(row.contains("6:40"), "{row}");
    press(&mut app, "<enter>");
    let detail = screen(&app, 160, 48);
    assert!(detail.contains("for at least 42s"), "{detail}");
    // Calls seen from their first event are timed exactly: no "+" anywhere else.
    let mut app = scripted_app();
    press(&mut app, "3");
    let text = screen(&app, 120, 24);
    assert!(!text.contains("+ "), "{text}");
}
