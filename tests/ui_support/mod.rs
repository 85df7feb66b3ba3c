//! Shared by the UI tests: a board built from scripted platform input (REST records and
//! WebSocket notification frames, through the board's public API), an app driven by real key
//! events through the same handling the terminal uses, and rendering through `TestBackend`.

#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use serde_json::{Value, json};

use callboard::app::{App, Msg};
use callboard::board::{Board, BoardConfig};
use callboard::rc::records::{
    CallQueue, CallQueueMember, CallQueuePresence, Extension, PhoneNumber,
};
use callboard::ui::keys::KeyMap;
use callboard::ui::render::render;
use callboard::ui::state::{Connection, Source, UiState};
use callboard::ui::theme::Theme;
use callboard::ui::update::Effect;

/// A notification frame as the WebSocket session hands it to the loop.
pub fn notification(frame: String) -> Msg {
    Msg::Session(callboard::rc::ws::SessionEvent::Notification(frame.into()))
}

/// The fixed "now" of every UI test: 14:03:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 14, 3, 0).unwrap()
}

pub const SALES: &str = "2001";
pub const SUPPORT: &str = "2002";
pub const ANA: &str = "101";
pub const BEN: &str = "102";
pub const CHLOE: &str = "103";
pub const ZILLOW_CTN: &str = "+14155550101";
pub const GOOGLE_CTN: &str = "+14155550102";
pub const BLANK_CTN: &str = "+14155550103";
pub const BILLBOARD_CTN: &str = "+18005550199";
/// A caller name with an escape sequence, a bidi override and a bell: must render inert.
pub const HOSTILE_NAME: &str = "\u{1b}[31mEvil\u{202e}Corp\u{7}";

fn records<T: serde::de::DeserializeOwned>(value: Value) -> Vec<T> {
    serde_json::from_value(value).unwrap()
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// One account-level telephony notification frame for one party.
#[allow(clippy::too_many_arguments)]
fn party_frame(
    session: &str,
    sequence: u64,
    at: DateTime<Utc>,
    party_id: &str,
    extension_id: Option<&str>,
    direction: &str,
    from: Value,
    to: Value,
    status: &str,
    extra: Value,
) -> String {
    let mut party = json!({
        "accountId": "809646016",
        "id": party_id,
        "direction": direction,
        "from": from,
        "to": to,
        "status": {"code": status, "rcc": false},
        "missedCall": false,
        "standAlone": false,
        "muted": false,
    });
    if let Some(ext) = extension_id {
        party["extensionId"] = json!(ext);
    }
    if let (Some(party_obj), Some(extra_obj)) = (party.as_object_mut(), extra.as_object()) {
        for (k, v) in extra_obj {
            party_obj.insert(k.clone(), v.clone());
        }
    }
    let body = json!({
        "sequence": sequence,
        "sessionId": format!("{session}-sid"),
        "telephonySessionId": session,
        "serverId": "10.13.22.28.TAM",
        "eventTime": ts(at),
        "parties": [party],
        "origin": {"type": "Call"},
    });
    json!([
        {"type": "ServerNotification", "messageId": format!("m-{session}-{sequence}"), "status": 200},
        {
            "uuid": format!("m-{session}-{sequence}"),
            "event": "/restapi/v1.0/account/809646016/telephony/sessions",
            "timestamp": ts(at),
            "subscriptionId": "sub-1",
            "ownerId": "809646016",
            "body": body,
        }
    ])
    .to_string()
}

/// A scripted inbound queue call: the caller's leg from `start`, the queue from `queued`, and
/// optionally an agent answering and the call ending.
pub struct ScriptedCall<'a> {
    pub session: &'a str,
    pub caller: &'a str,
    pub caller_name: &'a str,
    pub ctn: &'a str,
    pub queue: (&'a str, &'a str),
    pub start: DateTime<Utc>,
    pub agent: Option<(&'a str, &'a str, DateTime<Utc>)>,
    pub hold_at: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub recording: Option<&'a str>,
}

impl ScriptedCall<'_> {
    pub fn frames(&self) -> Vec<(DateTime<Utc>, String)> {
        let caller_party = format!("p-{}-1", self.session);
        let from = json!({"phoneNumber": self.caller, "name": self.caller_name});
        let to = json!({"phoneNumber": self.ctn});
        let mut seq = 2;
        let mut out = Vec::new();
        let mut push = |at,
                        party: &str,
                        ext: Option<&str>,
                        dir: &str,
                        to: Value,
                        status: &str,
                        extra: Value,
                        out: &mut Vec<_>| {
            out.push((
                at,
                party_frame(
                    self.session,
                    seq,
                    at,
                    party,
                    ext,
                    dir,
                    from.clone(),
                    to,
                    status,
                    extra,
                ),
            ));
            seq += 1;
        };
        push(
            self.start,
            &caller_party,
            None,
            "Outbound",
            to.clone(),
            "Setup",
            json!({}),
            &mut out,
        );
        let queued = self.start + Duration::seconds(2);
        push(
            queued,
            &caller_party,
            None,
            "Outbound",
            to.clone(),
            "Answered",
            json!({}),
            &mut out,
        );
        let agent_party = format!("p-{}-2", self.session);
        let queue_to =
            json!({"phoneNumber": self.ctn, "name": self.queue.1, "extensionId": self.queue.0});
        let queue_extra = json!({"queueCall": true, "uiCallInfo": {"primary": {"type": "QueueName", "value": self.queue.1}}});
        if let Some((agent_id, _name, answered)) = self.agent {
            push(
                queued,
                &agent_party,
                Some(agent_id),
                "Inbound",
                queue_to.clone(),
                "Proceeding",
                queue_extra.clone(),
                &mut out,
            );
            let mut extra = queue_extra.clone();
            if let Some(rec) = self.recording {
                extra["recordings"] = json!([{"id": rec, "active": self.end.is_none()}]);
            }
            push(
                answered,
                &agent_party,
                Some(agent_id),
                "Inbound",
                queue_to.clone(),
                "Answered",
                extra.clone(),
                &mut out,
            );
            if let Some(hold) = self.hold_at {
                push(
                    hold,
                    &agent_party,
                    Some(agent_id),
                    "Inbound",
                    queue_to.clone(),
                    "Hold",
                    extra.clone(),
                    &mut out,
                );
            }
            if let Some(end) = self.end {
                let mut done = extra.clone();
                if let Some(rec) = self.recording {
                    done["recordings"] = json!([{"id": rec, "active": false}]);
                }
                push(
                    end,
                    &agent_party,
                    Some(agent_id),
                    "Inbound",
                    queue_to.clone(),
                    "Disconnected",
                    done,
                    &mut out,
                );
            }
        } else {
            // Waiting: the queue rings an agent who has not picked up yet.
            push(
                queued,
                &agent_party,
                Some(CHLOE),
                "Inbound",
                queue_to.clone(),
                "Proceeding",
                queue_extra.clone(),
                &mut out,
            );
            if let Some(end) = self.end {
                let mut missed = queue_extra.clone();
                missed["missedCall"] = json!(true);
                push(
                    end,
                    &agent_party,
                    Some(CHLOE),
                    "Inbound",
                    queue_to.clone(),
                    "Disconnected",
                    missed,
                    &mut out,
                );
            }
        }
        if let Some(end) = self.end {
            push(
                end,
                &caller_party,
                None,
                "Outbound",
                to,
                "Disconnected",
                json!({}),
                &mut out,
            );
        }
        out
    }
}

fn presence_frame(
    extension_id: &str,
    sequence: u64,
    at: DateTime<Utc>,
    telephony: &str,
    status: &str,
) -> String {
    json!({
        "uuid": format!("pres-{extension_id}-{sequence}"),
        "event": format!("/restapi/v1.0/account/809646016/extension/{extension_id}/presence?detailedTelephonyState=true"),
        "timestamp": ts(at),
        "subscriptionId": "sub-1",
        "ownerId": "809646016",
        "body": {
            "extensionId": extension_id,
            "sequence": sequence,
            "presenceStatus": status,
            "telephonyStatus": telephony,
            "userStatus": status,
            "dndStatus": "TakeAllCalls",
            "allowSeeMyPresence": true,
            "ringOnMonitoredCall": false,
            "pickUpCallsOnHold": false,
            "activeCalls": [],
        }
    })
    .to_string()
}

/// The account: two queues with their own service levels, three agents, four numbers.
pub fn directory_board(start: DateTime<Utc>) -> Board {
    let mut board = Board::new(BoardConfig::default(), vec!["+13105550122".to_string()]);
    board.set_extensions(
        &records::<Extension>(json!([
            {"id": 101, "extensionNumber": "101", "name": "Ana Ruiz", "type": "User"},
            {"id": 102, "extensionNumber": "102", "name": "Ben Okafor", "type": "User"},
            {"id": 103, "extensionNumber": "103", "name": "Chloe Park", "type": "User"},
            {"id": 2001, "extensionNumber": "2001", "name": "Sales", "type": "Department"},
            {"id": 2002, "extensionNumber": "2002", "name": "Support", "type": "Department"},
        ])),
        start,
    );
    board.set_queues(
        &records::<CallQueue>(json!([
            {"id": 2001, "name": "Sales", "extensionNumber": "2001",
             "serviceLevelSettings": {"slaGoal": 80, "slaThresholdSeconds": 20, "includeAbandonedCalls": true, "abandonedThresholdSeconds": 5}},
            {"id": 2002, "name": "Support", "extensionNumber": "2002",
             "serviceLevelSettings": {"slaGoal": 90, "slaThresholdSeconds": 30, "includeAbandonedCalls": true, "abandonedThresholdSeconds": 5}},
        ])),
        start,
    );
    board.set_queue_members(
        SALES,
        &records::<CallQueueMember>(json!([{"id": 101}, {"id": 103}])),
        start,
    );
    board.set_queue_members(
        SUPPORT,
        &records::<CallQueueMember>(json!([{"id": 102}, {"id": 103}])),
        start,
    );
    for queue in [SALES, SUPPORT] {
        board.set_queue_presence(
            queue,
            &records::<CallQueuePresence>(json!([
                {"member": {"id": "101", "name": "Ana Ruiz", "extensionNumber": "101"}, "acceptQueueCalls": true},
                {"member": {"id": "102", "name": "Ben Okafor", "extensionNumber": "102"}, "acceptQueueCalls": true},
                {"member": {"id": "103", "name": "Chloe Park", "extensionNumber": "103"}, "acceptQueueCalls": true},
            ])),
            start,
        );
    }
    board.set_numbers(
        &records::<PhoneNumber>(json!([
            {"id": 9001, "phoneNumber": ZILLOW_CTN, "label": "Zillow Spring +14155550100", "usageType": "CompanyNumber"},
            {"id": 9002, "phoneNumber": GOOGLE_CTN, "label": "Google Ads +14155550100", "usageType": "CompanyNumber"},
            {"id": 9003, "phoneNumber": BLANK_CTN, "usageType": "CompanyNumber"},
            {"id": 9004, "phoneNumber": BILLBOARD_CTN, "label": "Billboard I-80", "usageType": "CompanyNumber"},
        ])),
        start,
    );
    board
}

/// The scripted shift: a long wait in Sales (a breach), a talk and a hold in Support, an
/// answered recorded call and an abandon by a hostile-named caller earlier on.
pub fn scripted_calls() -> Vec<ScriptedCall<'static>> {
    let now = now();
    vec![
        ScriptedCall {
            session: "s-answered",
            caller: "+16175550133",
            caller_name: "Dana Whitfield",
            ctn: ZILLOW_CTN,
            queue: (SALES, "Sales"),
            start: now - Duration::minutes(20),
            agent: Some((
                ANA,
                "Ana Ruiz",
                now - Duration::minutes(20) + Duration::seconds(12),
            )),
            hold_at: None,
            end: Some(now - Duration::minutes(14)),
            recording: Some("rec-7001"),
        },
        ScriptedCall {
            session: "s-abandoned",
            caller: "+17185550144",
            caller_name: HOSTILE_NAME,
            ctn: BLANK_CTN,
            queue: (SALES, "Sales"),
            start: now - Duration::minutes(9),
            agent: None,
            hold_at: None,
            end: Some(now - Duration::minutes(9) + Duration::seconds(40)),
            recording: None,
        },
        ScriptedCall {
            session: "s-talking",
            caller: "+13105550122",
            caller_name: "Lee Nakamura",
            ctn: GOOGLE_CTN,
            queue: (SUPPORT, "Support"),
            start: now - Duration::minutes(4),
            agent: Some((
                BEN,
                "Ben Okafor",
                now - Duration::minutes(4) + Duration::seconds(8),
            )),
            hold_at: None,
            end: None,
            recording: Some("rec-7002"),
        },
        ScriptedCall {
            session: "s-waiting",
            caller: "+12125550111",
            caller_name: "Jane Doe",
            ctn: ZILLOW_CTN,
            queue: (SALES, "Sales"),
            start: now - Duration::seconds(47),
            agent: None,
            hold_at: None,
            end: None,
            recording: None,
        },
    ]
}

/// The board after the scripted shift, every frame applied at its own time.
pub fn scripted_app() -> App {
    let start = now() - Duration::hours(1);
    let board = directory_board(start);
    let mut ui = UiState::new(KeyMap::defaults(), Source::Demo, 30, true);
    ui.connection = Connection::Live;
    let mut app = App::new(board, ui, Theme::built_in("default").unwrap(), None);
    let mut frames: Vec<(DateTime<Utc>, String)> =
        scripted_calls().iter().flat_map(|c| c.frames()).collect();
    frames.push((start, presence_frame(ANA, 1, start, "NoCall", "Available")));
    frames.push((start, presence_frame(CHLOE, 1, start, "NoCall", "Busy")));
    frames.push((
        now() - Duration::minutes(4),
        presence_frame(
            BEN,
            1,
            now() - Duration::minutes(4),
            "CallConnected",
            "Busy",
        ),
    ));
    frames.sort_by_key(|(at, _)| *at);
    for (at, frame) in frames {
        app.handle(notification(frame), at);
    }
    app.tick(now());
    app
}

/// Presses keys given as text: plain characters, or `<enter>`, `<esc>`, `<tab>`, `<backtab>`,
/// `<down>`, `<up>`, `<space>`, `<bs>`, `<c-x>`.
pub fn press(app: &mut App, keys: &str) -> Vec<Effect> {
    let mut effects = Vec::new();
    let mut rest = keys;
    while !rest.is_empty() {
        let (event, len) = if let Some(end) = rest.strip_prefix('<').and_then(|r| r.find('>')) {
            let name = &rest[1..=end];
            let event = match name {
                "enter" => KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
                "esc" => KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE),
                "tab" => KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE),
                "backtab" => KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT),
                "down" => KeyEvent::new(KeyCode::Down, KeyModifiers::NONE),
                "up" => KeyEvent::new(KeyCode::Up, KeyModifiers::NONE),
                "space" => KeyEvent::new(KeyCode::Char(' '), KeyModifiers::NONE),
                "bs" => KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE),
                other => match other.strip_prefix("c-").and_then(|c| c.chars().next()) {
                    Some(c) => KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL),
                    None => panic!("unknown key <{other}>"),
                },
            };
            (event, end + 2)
        } else {
            let c = rest.chars().next().unwrap();
            let modifiers = if c.is_ascii_uppercase() {
                KeyModifiers::SHIFT
            } else {
                KeyModifiers::NONE
            };
            (KeyEvent::new(KeyCode::Char(c), modifiers), c.len_utf8())
        };
        effects.extend(app.handle(Msg::Terminal(Event::Key(event)), now()));
        rest = &rest[len..];
    }
    effects
}

pub fn draw(app: &App, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| render(frame, &app.board, &app.ui, &app.theme, now()))
        .unwrap();
    terminal.backend().buffer().clone()
}

/// The screen as text, one line per row, trailing spaces trimmed, clock redacted.
pub fn screen(app: &App, width: u16, height: u16) -> String {
    let buffer = draw(app, width, height);
    let clock = regex::Regex::new(r"\d\d:\d\d:\d\d UTC").unwrap();
    (0..height)
        .map(|y| {
            let line: String = (0..width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            clock.replace_all(line.trim_end(), "[clock]").into_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where `text` starts on screen, as (x, y).
pub fn find(buffer: &Buffer, text: &str) -> Option<(u16, u16)> {
    let width = buffer.area.width;
    for y in 0..buffer.area.height {
        let cells: Vec<String> = (0..width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        let line = cells.concat();
        if let Some(byte) = line.find(text) {
            // Map the byte offset back to a column (symbols may be multi-byte).
            let mut offset = 0;
            for (x, cell) in cells.iter().enumerate() {
                if offset == byte {
                    return Some((x as u16, y));
                }
                offset += cell.len();
            }
        }
    }
    None
}
