//! The key map seen through the UI: remapped keys drive the views, read-only mode removes the
//! dangerous actions from both the keys and the help, the help and footer are generated from the
//! live map, and the flows behind the keys (quit confirm, copy, relabel, bell) work end to end.

mod ui_support;

use std::collections::BTreeMap;

use chrono::Duration;
use ui_support::{
    SALES, ScriptedCall, ZILLOW_CTN, directory_board, notification, now, press, screen,
    scripted_app,
};

use callboard::app::relabel::{
    PlannedRelabel, RelabelEvent, RelabelRequest, WriteOutcome, WriteReport,
};
use callboard::app::{App, Msg};
use callboard::store::PendingRelabel;
use callboard::ui::keys::KeyMap;
use callboard::ui::state::{Overlay, ScreenKind, Source, Tab, UiState};
use callboard::ui::theme::Theme;
use callboard::ui::update::Effect;

fn remapped(pairs: &[(&str, &[&str])], read_only: bool) -> KeyMap {
    let overrides: BTreeMap<String, Vec<String>> = pairs
        .iter()
        .map(|(a, keys)| (a.to_string(), keys.iter().map(|k| k.to_string()).collect()))
        .collect();
    KeyMap::build(&overrides, read_only).unwrap()
}

#[test]
fn a_remapped_key_drives_the_view_and_the_old_key_is_free() {
    let mut app = scripted_app();
    app.ui.keymap = remapped(&[("view_calls", &["c"]), ("help", &["H"])], false);
    press(&mut app, "3");
    assert_eq!(app.ui.tab, Tab::Queues, "3 no longer opens Calls");
    press(&mut app, "c");
    assert_eq!(app.ui.tab, Tab::Calls);
    let text = screen(&app, 100, 30);
    assert!(
        text.contains(" c Calls "),
        "the tab bar shows the live key:\n{text}"
    );
    assert!(
        text.contains("H help"),
        "the footer shows the live key:\n{text}"
    );
}

#[test]
fn help_lists_the_live_keys() {
    let mut app = scripted_app();
    app.ui.keymap = remapped(&[("filter", &["f", "ctrl-f"])], false);
    press(&mut app, "?");
    let text = screen(&app, 100, 40);
    assert!(text.contains("f ctrl-f"), "{text}");
    assert!(
        !text.contains("  /               filter"),
        "the default key is gone: {text}"
    );
}

#[test]
fn read_only_removes_relabel_from_keys_footer_and_help() {
    let mut app = scripted_app();
    app.ui.keymap = remapped(&[], true);
    press(&mut app, "5");
    let text = screen(&app, 120, 30);
    assert!(!text.contains("relabel"), "{text}");
    press(&mut app, "e");
    assert!(app.ui.input.is_none(), "e does nothing in read-only mode");
    press(&mut app, "?");
    let help = screen(&app, 120, 60);
    assert!(!help.contains("changes the account"), "{help}");
    assert!(help.contains("read-only"), "{help}");
}

#[test]
fn quit_asks_first_while_work_is_in_flight() {
    let mut app = scripted_app();
    app.ui.jobs_in_flight = 1;
    press(&mut app, "q");
    assert!(!app.ui.quit);
    assert!(matches!(app.ui.overlay, Some(Overlay::ConfirmQuit { .. })));
    press(&mut app, "n");
    assert!(!app.ui.quit && app.ui.overlay.is_none());
    press(&mut app, "qy");
    assert!(app.ui.quit);

    let mut idle = scripted_app();
    press(&mut idle, "q");
    assert!(idle.ui.quit, "nothing in flight: q quits at once");
}

#[test]
fn copy_gives_the_session_id_and_the_caller() {
    let mut app = scripted_app();
    let effects = press(&mut app, "3y");
    assert_eq!(effects, vec![Effect::Copy("s-waiting +12125550111".into())]);
}

#[test]
fn drill_down_and_back_out() {
    let mut app = scripted_app();
    press(&mut app, "<enter>");
    assert!(matches!(app.ui.screen().kind, ScreenKind::Calls(_)));
    press(&mut app, "<enter>");
    assert!(
        matches!(&app.ui.screen().kind, ScreenKind::CallDetail { session_id } if session_id == "s-waiting")
    );
    press(&mut app, "<esc><esc>");
    assert_eq!(app.ui.screen().kind, ScreenKind::Queues);
}

#[test]
fn a_filter_narrows_then_esc_clears_it() {
    let mut app = scripted_app();
    press(&mut app, "3/zillow<enter>");
    let text = screen(&app, 160, 48);
    assert!(
        text.contains("Jane Doe") && !text.contains("Lee Nakamura"),
        "{text}"
    );
    press(&mut app, "<esc>");
    assert!(screen(&app, 160, 48).contains("Lee Nakamura"));
}

#[test]
fn a_bad_regex_filter_is_explained_under_the_input() {
    let mut app = scripted_app();
    press(&mut app, "3/re:(");
    let text = screen(&app, 100, 30);
    assert!(text.contains("not a valid regex"), "{text}");
}

/// The write the worker keeps as pending for `number_id`.
fn pending(number_id: &str, number: &str, old: &str, new: &str) -> PendingRelabel {
    PendingRelabel::new(number_id, number, Some(old.into()), new, "Ann", now())
}

fn done(write: PendingRelabel, outcome: WriteOutcome) -> Msg {
    Msg::Relabel(RelabelEvent::Done(Box::new(WriteReport { write, outcome })))
}

#[test]
fn relabel_confirm_then_result_reattributes_the_calls() {
    let mut app = scripted_app();
    press(&mut app, "5e<c-u>Zillow Fall<enter>");
    let effects = press(&mut app, "y");
    assert_eq!(
        effects,
        vec![Effect::Relabel(RelabelRequest::Write(vec![
            PlannedRelabel {
                number_id: "9001".into(),
                phone_number: ZILLOW_CTN.into(),
                old_label: Some("Zillow Spring +14155550100".into()),
                new_label: "Zillow Fall +14155550100".into(),
            }
        ]))]
    );
    let write = pending(
        "9001",
        ZILLOW_CTN,
        "Zillow Spring +14155550100",
        "Zillow Fall +14155550100",
    );
    app.handle(
        Msg::Relabel(RelabelEvent::Pending(vec![write.clone()])),
        now(),
    );
    assert_eq!(app.ui.jobs_in_flight, 1);
    app.handle(
        done(
            write,
            WriteOutcome::Applied {
                label: "Zillow Fall +14155550100".into(),
            },
        ),
        now(),
    );
    assert_eq!(app.ui.jobs_in_flight, 0);
    press(&mut app, "3");
    let text = screen(&app, 160, 48);
    assert!(text.contains("Zillow Fall"), "{text}");
    assert!(!text.contains("Zillow Spring"), "{text}");
}

#[test]
fn a_failed_relabel_is_shown() {
    let mut app = scripted_app();
    let write = pending("9001", ZILLOW_CTN, "Zillow Spring +14155550100", "Nope");
    app.handle(
        Msg::Relabel(RelabelEvent::Pending(vec![write.clone()])),
        now(),
    );
    app.handle(
        done(
            write,
            WriteOutcome::Failed {
                code: Some("CMN-102".into()),
                message: "this account's API does not allow label changes [CMN-102]".into(),
            },
        ),
        now(),
    );
    assert_eq!(app.ui.jobs_in_flight, 0);
    let text = screen(&app, 120, 30);
    assert!(
        text.contains(
            "+14155550101: relabel failed: this account's API does not allow label changes [CMN-102]"
        ),
        "{text}"
    );
}

/// An app with the breach bell on, over the directory board.
fn app_with_bell() -> App {
    let mut ui = UiState::new(KeyMap::defaults(), Source::Demo, 30, true);
    ui.time_zone = chrono_tz::Tz::UTC;
    App::new(
        directory_board(now() - Duration::hours(1)),
        ui,
        Theme::built_in("default").unwrap(),
        None,
    )
}

/// A call waiting in Sales (threshold 20 s) since `waiting_for` before now.
fn waiting_in_sales(session: &'static str, waiting_for: Duration) -> ScriptedCall<'static> {
    ScriptedCall {
        session,
        caller: "+12125550111",
        caller_name: "Jane Doe",
        ctn: ZILLOW_CTN,
        queue: (SALES, "Sales"),
        start: now() - waiting_for,
        agent: None,
        hold_at: None,
        end: None,
        recording: None,
    }
}

#[test]
fn the_bell_rings_once_per_new_breach_until_acknowledged() {
    let mut app = app_with_bell();
    let call = waiting_in_sales("s-wait", Duration::seconds(12));
    for (at, frame) in call.frames() {
        assert!(
            !app.handle(notification(frame), at).contains(&Effect::Bell),
            "no breach yet"
        );
    }
    assert!(app.tick(now()).is_empty(), "10 s waited, threshold 20 s");
    assert_eq!(
        app.tick(now() + Duration::seconds(15)),
        vec![Effect::Bell],
        "the wait crossed 20 s"
    );
    assert!(
        app.tick(now() + Duration::seconds(16)).is_empty(),
        "rings once per breach"
    );
    press(&mut app, "a");
    assert!(app.ui.acknowledged_breaches.contains(SALES));
}

#[test]
fn breaches_from_events_are_checked_once_before_the_next_frame() {
    // Events are applied as they arrive, but checking breaches computes every queue's row, so
    // it waits for the frame: a burst of events costs one check, not one per event.
    let mut app = app_with_bell();
    let call = waiting_in_sales("s-long-wait", Duration::seconds(45));
    for (at, frame) in call.frames() {
        assert!(
            app.handle(notification(frame), at).is_empty(),
            "an event rings nothing by itself"
        );
    }
    assert_eq!(
        app.before_frame(now()),
        vec![Effect::Bell],
        "waiting 45 s against a 20 s threshold"
    );
    assert!(app.ui.breached.contains(SALES));
    assert!(
        app.before_frame(now()).is_empty(),
        "nothing changed since the check"
    );
}

#[test]
fn command_line_switches_views_and_reports_mistakes() {
    let mut app = scripted_app();
    press(&mut app, ":agents<enter>");
    assert_eq!(app.ui.tab, Tab::Agents);
    press(&mut app, ":fly<enter>");
    let text = screen(&app, 120, 30);
    assert!(text.contains("unknown command \"fly\""), "{text}");
    press(&mut app, "<esc>");
    let effects = press(&mut app, ":theme light<enter>");
    assert_eq!(effects, vec![Effect::SetTheme("light".into())]);
}

#[test]
fn tab_and_shift_tab_cycle_the_views() {
    let mut app = scripted_app();
    press(&mut app, "<tab><tab>");
    assert_eq!(app.ui.tab, Tab::Calls);
    press(&mut app, "<backtab><backtab><backtab>");
    assert_eq!(app.ui.tab, Tab::Recordings);
}

#[test]
fn ctrl_c_cancels_the_input_line_instead_of_quitting() {
    let mut app = scripted_app();
    press(&mut app, "3/zill<c-c>");
    assert!(app.ui.input.is_none());
    assert!(!app.ui.quit);
    assert!(
        !app.ui.screen().filter.is_active(),
        "the filter is back as it was"
    );
    press(&mut app, "<c-c>");
    assert!(app.ui.quit, "outside the input line ctrl-c quits");
}

#[test]
fn a_relabel_resumed_from_an_earlier_run_is_pending_until_it_lands() {
    let mut app = scripted_app();
    let write = pending(
        "9002",
        "+14155550102",
        "Google Ads +14155550100",
        "Google Ads Fall +14155550100",
    );
    app.handle(
        Msg::Relabel(RelabelEvent::Pending(vec![write.clone()])),
        now(),
    );
    assert_eq!(
        app.ui.jobs_in_flight, 1,
        "quitting asks while it is pending"
    );
    app.handle(
        done(
            write,
            WriteOutcome::AlreadyApplied {
                label: "Google Ads Fall +14155550100".into(),
            },
        ),
        now(),
    );
    assert_eq!(app.ui.jobs_in_flight, 0);
    let text = screen(&app, 160, 30);
    assert!(
        text.contains(
            "already labelled \"Google Ads Fall +14155550100\" (confirmed after restart)"
        ),
        "{text}"
    );
}
