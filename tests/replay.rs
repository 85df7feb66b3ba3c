//! `callboard replay` end to end: the real binary on a recorded shift.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/replay");

fn replay(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_callboard"))
        .arg("replay")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        pipe.write_all(bytes).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn board_of(output: &Output) -> Value {
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "--json prints one line: {stdout}"
    );
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn replays_a_shift_into_the_board_json() {
    let output = replay(
        &[
            &fixture("shift.jsonl"),
            "--json",
            "--numbers",
            &fixture("numbers.json"),
            "--queues",
            &fixture("queues.json"),
        ],
        None,
    );
    assert!(output.status.success(), "{output:?}");
    let board = board_of(&output);
    assert_eq!(board["schema"], 1);
    // "Now" is the time of the last event (the presence update at 14:04:55).
    assert_eq!(board["now"], "2026-11-25T14:04:55.000Z");

    let calls = board["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 3);
    let outcomes: Vec<&str> = calls
        .iter()
        .map(|c| c["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["answered", "abandoned", "live"]);
    let answered = &calls[0];
    assert_eq!(answered["waitSeconds"], 10.0);
    assert_eq!(answered["talkSeconds"], 80.0);
    assert_eq!(answered["holdSeconds"], 10.0);
    assert_eq!(answered["campaign"], "Zillow Spring");
    assert_eq!(calls[1]["campaign"], "Yelp Local");
    assert_eq!(calls[2]["state"], "waiting");

    let sales = &board["queues"][0];
    assert_eq!(sales["name"], "Sales");
    assert_eq!(sales["offered"], 3);
    assert_eq!(sales["waiting"], 1);
    assert_eq!(sales["longestWaitSeconds"], 5.0);
    // The queue's own settings: 15 s threshold, 10 s short abandon; 1 ÷ (1 + 1).
    assert_eq!(sales["slaThresholdSeconds"], 15.0);
    assert_eq!(sales["serviceLevelPct"], 50.0);

    let campaigns = board["campaigns"].as_array().unwrap();
    let names: Vec<&str> = campaigns
        .iter()
        .map(|c| c["campaign"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["(unlabelled)", "Yelp Local", "Zillow Spring"]);
    assert_eq!(campaigns[2]["live"], 1);
    assert_eq!(campaigns[2]["offered"], 2);
    assert_eq!(campaigns[2]["firstTimeCallers"], 2);

    // The two bad lines are reported with their numbers, and the rest still counted.
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("line 11:"), "{stderr}");
    assert!(stderr.contains("line 18:"), "{stderr}");
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
}

#[test]
fn reads_standard_input_and_attributes_nothing_without_numbers() {
    let shift = std::fs::read(fixture("shift.jsonl")).unwrap();
    let output = replay(&["-", "--json"], Some(&shift));
    assert!(output.status.success(), "{output:?}");
    let board = board_of(&output);
    let campaigns = board["campaigns"].as_array().unwrap();
    assert_eq!(campaigns.len(), 1);
    assert_eq!(campaigns[0]["campaign"], "(unknown)");
    assert_eq!(campaigns[0]["offered"], 3);
    // Without the queue list the queue is learned from events, with default settings.
    assert_eq!(board["queues"][0]["name"], "Sales");
    assert_eq!(board["queues"][0]["slaThresholdSeconds"], 20.0);
}

#[test]
fn text_summary_by_default() {
    let output = replay(&[&fixture("shift.jsonl"), "--tz", "America/New_York"], None);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("QUEUES (today)"), "{text}");
    assert!(text.contains("America/New_York"), "{text}");
    assert!(text.contains("LIVE CALLS (1;"), "{text}");
}

#[test]
fn unreadable_input_fails_with_a_message() {
    let output = replay(&["/nonexistent/shift.jsonl"], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("cannot open /nonexistent/shift.jsonl"),
        "{stderr}"
    );

    let output = replay(&[&fixture("shift.jsonl"), "--tz", "Mars/Olympus"], None);
    assert!(!output.status.success());
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("unknown time zone")
    );

    let output = replay(
        &[
            &fixture("shift.jsonl"),
            "--numbers",
            &fixture("shift.jsonl"),
        ],
        None,
    );
    assert!(!output.status.success());
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("phone-number list")
    );
}
