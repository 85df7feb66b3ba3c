//! Whole-screen snapshots of every view, driven by real key events through the app's own key
//! handling, over a board built from scripted platform input. Clocks are redacted; colours are
//! checked separately in `ui_styles.rs` (text snapshots carry none).

mod ui_support;

use ui_support::{press, screen, scripted_app};

/// Snapshots one screen at the standard sizes.
fn snap(name: &str, keys: &str) {
    for (width, height) in [(80, 24), (160, 48)] {
        let mut app = scripted_app();
        press(&mut app, keys);
        insta::assert_snapshot!(
            format!("{name}_{width}x{height}"),
            screen(&app, width, height)
        );
    }
}

#[test]
fn queues_is_the_default_view() {
    snap("queues", "");
}

#[test]
fn queues_in_the_rolling_window() {
    snap("queues_rolling", "w");
}

#[test]
fn campaigns_with_one_expanded() {
    snap("campaigns", "2j<space>");
}

#[test]
fn calls_live_then_ended() {
    snap("calls", "3");
}

#[test]
fn calls_of_a_queue_by_drilling_down() {
    snap("queue_calls", "1<enter>");
}

#[test]
fn call_detail_by_drilling_down_twice() {
    snap("call_detail", "1<enter><enter>");
}

#[test]
fn agents() {
    snap("agents", "4");
}

#[test]
fn numbers() {
    snap("numbers", "5");
}

#[test]
fn recordings() {
    snap("recordings", "6");
}

#[test]
fn help_overlay() {
    snap("help", "?");
}

#[test]
fn filter_typed_and_kept() {
    snap("calls_filtered", "3/jane<enter>");
}

#[test]
fn inverse_regex_filter() {
    snap("calls_filtered_inverse", "3/!re:^\\+1(212|617)<enter>");
}

#[test]
fn command_line_with_completion() {
    snap("command_line", ":th<tab>");
}

#[test]
fn sorted_by_a_column_reversed() {
    snap("calls_sorted", "3ssS");
}

#[test]
fn confirm_relabel() {
    snap("relabel_confirm", "5e<c-u>Zillow Fall<enter>");
}

#[test]
fn too_small_says_so() {
    let app = scripted_app();
    insta::assert_snapshot!("too_small_40x10", screen(&app, 40, 10));
}

#[test]
fn recordings_beside_what_the_store_holds() {
    use callboard::store::recordings::{CallInfo, RecordingMeta, RecordingStatus};
    let stored = |id: &str, session: Option<&str>, status| RecordingMeta {
        recording_id: id.to_string(),
        call: CallInfo {
            telephony_session_id: session.map(str::to_string),
            caller: Some("+19175550177".into()),
            campaign: Some("Billboard I-80".into()),
            queue: Some("Sales".into()),
            agent: Some("Chloe Park".into()),
            duration_seconds: Some(95),
        },
        content_type: Some("audio/wav".into()),
        length: Some(1_520_044),
        sha256: None,
        started_at: ui_support::now() - chrono::Duration::hours(26),
        fetched_at: None,
        status,
        refetch_reason: None,
    };
    for (width, height) in [(80, 24), (160, 48)] {
        let mut app = scripted_app();
        app.ui.stored_recordings = vec![
            stored("rec-7001", Some("s-answered"), RecordingStatus::Complete),
            stored("rec-6900", Some("s-yesterday"), RecordingStatus::Partial),
        ];
        press(&mut app, "6");
        insta::assert_snapshot!(
            format!("recordings_stored_{width}x{height}"),
            screen(&app, width, height)
        );
    }
}
