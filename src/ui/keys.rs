//! Keys as data. Every [`Action`] has default keys, a description for the help overlay, a short
//! word for the footer and a *dangerous* flag (it changes the account). The footer hints and the
//! `?` overlay are generated from the live [`KeyMap`], so help never lies; the config file
//! overrides only the actions it names; read-only mode drops every dangerous action.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for. The narrow waist between input and state: key handling maps keys to
/// actions, and only actions change the UI state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    Help,
    NextView,
    PrevView,
    ViewQueues,
    ViewCampaigns,
    ViewCalls,
    ViewAgents,
    ViewNumbers,
    ViewRecordings,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Back,
    Expand,
    Filter,
    SortNext,
    SortReverse,
    Command,
    Copy,
    ToggleWindow,
    AckBell,
    Relabel,
    MarkNumber,
    BulkRelabel,
    UndoRelabel,
    NumberKind,
    RelabelAudit,
    CancelRelabels,
    FetchRecording,
    CancelDownload,
    ExportRecording,
    PlayRecording,
    DeleteRecording,
}

impl Action {
    /// What makes a dangerous action dangerous, for the help overlay.
    pub fn danger_note(self) -> &'static str {
        match self {
            Action::DeleteRecording => "removes stored data",
            _ => "changes the account",
        }
    }
}

/// The static facts about one action.
#[derive(Debug)]
pub struct ActionInfo {
    pub action: Action,
    /// The name used in the `[keys]` section of the config file.
    pub name: &'static str,
    /// One line for the help overlay.
    pub description: &'static str,
    /// One word for the footer.
    pub hint: &'static str,
    /// Changes the account; removed in read-only mode.
    pub dangerous: bool,
    pub defaults: &'static [&'static str],
    /// Heading the help overlay groups it under.
    pub group: &'static str,
}

const fn info(
    action: Action,
    name: &'static str,
    hint: &'static str,
    description: &'static str,
    defaults: &'static [&'static str],
    group: &'static str,
) -> ActionInfo {
    ActionInfo {
        action,
        name,
        description,
        hint,
        dangerous: false,
        defaults,
        group,
    }
}

/// Every action, in the order the help overlay lists them.
pub const ACTIONS: &[ActionInfo] = &[
    info(
        Action::Up,
        "up",
        "up",
        "select the row above",
        &["k", "up"],
        "Move",
    ),
    info(
        Action::Down,
        "down",
        "down",
        "select the row below",
        &["j", "down"],
        "Move",
    ),
    info(
        Action::PageUp,
        "page_up",
        "page up",
        "one screen up",
        &["pgup", "ctrl-b"],
        "Move",
    ),
    info(
        Action::PageDown,
        "page_down",
        "page down",
        "one screen down",
        &["pgdn", "ctrl-f"],
        "Move",
    ),
    info(
        Action::Top,
        "top",
        "top",
        "first row",
        &["g", "home"],
        "Move",
    ),
    info(
        Action::Bottom,
        "bottom",
        "bottom",
        "last row",
        &["G", "end"],
        "Move",
    ),
    info(
        Action::Open,
        "open",
        "open",
        "drill down: queue or campaign → its calls → call detail",
        &["enter", "l", "right"],
        "Move",
    ),
    info(
        Action::Back,
        "back",
        "back",
        "clear the filter, or go back up",
        &["esc", "h", "left"],
        "Move",
    ),
    info(
        Action::Expand,
        "expand",
        "expand",
        "show or hide a campaign's numbers",
        &["space"],
        "Move",
    ),
    info(
        Action::NextView,
        "next_view",
        "next view",
        "next view",
        &["tab"],
        "Views",
    ),
    info(
        Action::PrevView,
        "prev_view",
        "prev view",
        "previous view",
        &["backtab"],
        "Views",
    ),
    info(
        Action::ViewQueues,
        "view_queues",
        "queues",
        "queues: waiting, service level, agents",
        &["1"],
        "Views",
    ),
    info(
        Action::ViewCampaigns,
        "view_campaigns",
        "campaigns",
        "campaigns: calls by tracking-number label",
        &["2"],
        "Views",
    ),
    info(
        Action::ViewCalls,
        "view_calls",
        "calls",
        "live calls, then recently ended ones",
        &["3"],
        "Views",
    ),
    info(
        Action::ViewAgents,
        "view_agents",
        "agents",
        "agents: presence and current call",
        &["4"],
        "Views",
    ),
    info(
        Action::ViewNumbers,
        "view_numbers",
        "numbers",
        "the account's numbers, labels and campaigns",
        &["5"],
        "Views",
    ),
    info(
        Action::ViewRecordings,
        "view_recordings",
        "recordings",
        "recordings: on the platform and in the local store",
        &["6"],
        "Views",
    ),
    info(
        Action::Filter,
        "filter",
        "filter",
        "filter rows: text, re:REGEX, !TEXT to exclude",
        &["/"],
        "Rows",
    ),
    info(
        Action::SortNext,
        "sort",
        "sort",
        "sort by the next column",
        &["s"],
        "Rows",
    ),
    info(
        Action::SortReverse,
        "sort_reverse",
        "reverse",
        "reverse the sort order",
        &["S"],
        "Rows",
    ),
    info(
        Action::ToggleWindow,
        "toggle_window",
        "window",
        "figures for today / the rolling window",
        &["w"],
        "Rows",
    ),
    info(
        Action::Copy,
        "copy",
        "copy",
        "copy the selected call's ids and number (OSC 52)",
        &["y"],
        "Rows",
    ),
    ActionInfo {
        dangerous: true,
        ..info(
            Action::Relabel,
            "relabel",
            "relabel",
            "change the selected number's label",
            &["e"],
            "Rows",
        )
    },
    ActionInfo {
        dangerous: true,
        ..info(
            Action::MarkNumber,
            "mark_number",
            "mark",
            "mark a number for a bulk relabel",
            &["m"],
            "Rows",
        )
    },
    ActionInfo {
        dangerous: true,
        ..info(
            Action::BulkRelabel,
            "bulk_relabel",
            "bulk",
            "set campaign of marked/shown numbers",
            &["E"],
            "Rows",
        )
    },
    ActionInfo {
        dangerous: true,
        ..info(
            Action::UndoRelabel,
            "undo_relabel",
            "undo",
            "undo the last relabel or bulk relabel",
            &["u"],
            "Rows",
        )
    },
    info(
        Action::NumberKind,
        "number_kind",
        "kind",
        "Numbers: show CTNs only, unlabelled only, or all",
        &["t"],
        "Rows",
    ),
    info(
        Action::RelabelAudit,
        "relabel_audit",
        "audit",
        "relabel audit: when, number, old and new label, result, who",
        &["A"],
        "Rows",
    ),
    ActionInfo {
        dangerous: true,
        ..info(
            Action::CancelRelabels,
            "cancel_relabels",
            "cancel writes",
            "cancel bulk writes not yet sent",
            &["X"],
            "Rows",
        )
    },
    info(
        Action::FetchRecording,
        "fetch_recording",
        "fetch",
        "fetch the selected call's recording into the local store",
        &["f"],
        "Recordings",
    ),
    info(
        Action::CancelDownload,
        "cancel_download",
        "cancel",
        "cancel the selected download or call-log lookup",
        &["x"],
        "Recordings",
    ),
    info(
        Action::ExportRecording,
        "export_recording",
        "export",
        "export the stored recording (asks where; .wav/.mp3, 0600)",
        &["o"],
        "Recordings",
    ),
    info(
        Action::PlayRecording,
        "play_recording",
        "play",
        "play the stored recording with the configured player",
        &["p"],
        "Recordings",
    ),
    ActionInfo {
        dangerous: true,
        ..info(
            Action::DeleteRecording,
            "delete_recording",
            "delete",
            "delete the stored recording (asks)",
            &["D"],
            "Recordings",
        )
    },
    info(
        Action::AckBell,
        "ack_bell",
        "ack",
        "acknowledge service-level breaches (silence the bell)",
        &["a"],
        "General",
    ),
    info(
        Action::Command,
        "command",
        "command",
        "command line (:queues, :theme NAME, :window rolling, :quit)",
        &[":"],
        "General",
    ),
    info(
        Action::Help,
        "help",
        "help",
        "show or hide this help",
        &["?", "f1"],
        "General",
    ),
    info(
        Action::Quit,
        "quit",
        "quit",
        "quit (asks first while a change or download is in flight)",
        &["q", "ctrl-c"],
        "General",
    ),
];

impl Action {
    pub fn info(self) -> &'static ActionInfo {
        ACTIONS
            .iter()
            .find(|info| info.action == self)
            .unwrap_or(&ACTIONS[0])
    }

    pub fn from_name(name: &str) -> Option<Action> {
        ACTIONS
            .iter()
            .find(|info| info.name == name)
            .map(|info| info.action)
    }
}

/// One key chord. Shift is folded into the character (`G`, not `shift-g`), so a binding matches
/// whatever the terminal reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyBinding {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl KeyBinding {
    pub fn new(code: KeyCode, modifiers: KeyModifiers) -> KeyBinding {
        let mut modifiers =
            modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match code {
            KeyCode::Char(c) if modifiers.contains(KeyModifiers::SHIFT) => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::Char(c.to_uppercase().next().unwrap_or(c))
            }
            KeyCode::BackTab => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            // Terminals report ctrl-letters in either case; keep one form.
            KeyCode::Char(c) if modifiers.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            other => other,
        };
        KeyBinding { code, modifiers }
    }

    pub fn from_event(event: &KeyEvent) -> KeyBinding {
        KeyBinding::new(event.code, event.modifiers)
    }

    /// Parses `q`, `G`, `?`, `enter`, `ctrl-c`, `alt-x`, `shift-tab`, `f5`, `pgdn`…
    pub fn parse(spec: &str) -> Result<KeyBinding, String> {
        if spec.is_empty() {
            return Err("an empty key name".into());
        }
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = spec;
        // A single character is always the key itself, so "-" binds the minus key.
        while rest.chars().count() > 1 {
            let Some((prefix, tail)) = rest.split_once('-') else {
                break;
            };
            if tail.is_empty() {
                break;
            }
            match prefix.to_ascii_lowercase().as_str() {
                "ctrl" | "c" => modifiers |= KeyModifiers::CONTROL,
                "alt" | "a" | "meta" | "m" => modifiers |= KeyModifiers::ALT,
                "shift" | "s" => modifiers |= KeyModifiers::SHIFT,
                other => {
                    return Err(format!(
                        "unknown modifier {other:?} in {spec:?} (use ctrl-, alt- or shift-)"
                    ));
                }
            }
            rest = tail;
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(c),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "backspace" | "bs" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" | "ins" => KeyCode::Insert,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pgup" | "pageup" => KeyCode::PageUp,
                "pgdn" | "pagedown" => KeyCode::PageDown,
                name => match name.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    Some(n @ 1..=12) => KeyCode::F(n),
                    _ => return Err(format!("unknown key {spec:?}")),
                },
            },
        };
        if code == KeyCode::Tab && modifiers.contains(KeyModifiers::SHIFT) {
            return Ok(KeyBinding::new(KeyCode::BackTab, KeyModifiers::NONE));
        }
        Ok(KeyBinding::new(code, modifiers))
    }
}

impl fmt::Display for KeyBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.modifiers.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("del"),
            KeyCode::Insert => f.write_str("ins"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Why a `[keys]` entry was refused. [`KeyMapError::action`] names the entry so the config layer
/// can point at its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyMapError {
    #[error("unknown action {action:?}; the actions are: {}", action_names())]
    UnknownAction { action: String },
    #[error("{action}: {reason}")]
    BadKey { action: String, reason: String },
    #[error("{action}: key {key} is also given to {other}; one key, one action")]
    Conflict {
        action: String,
        key: String,
        other: String,
    },
    #[error("{action}: needs at least one key, or you could not leave callboard")]
    Unbound { action: String },
}

impl KeyMapError {
    pub fn action(&self) -> &str {
        match self {
            KeyMapError::UnknownAction { action }
            | KeyMapError::BadKey { action, .. }
            | KeyMapError::Conflict { action, .. }
            | KeyMapError::Unbound { action } => action,
        }
    }
}

fn action_names() -> String {
    ACTIONS
        .iter()
        .map(|info| info.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The live key map: defaults, with the user's overrides applied, minus dangerous actions in
/// read-only mode.
#[derive(Debug, Clone)]
pub struct KeyMap {
    bindings: Vec<(Action, Vec<KeyBinding>)>,
    by_key: HashMap<KeyBinding, Action>,
    read_only: bool,
}

impl KeyMap {
    /// The default map.
    pub fn defaults() -> KeyMap {
        // The defaults are constants checked by a test, so this cannot fail.
        KeyMap::build(&BTreeMap::new(), false).unwrap_or_else(|_| KeyMap {
            bindings: Vec::new(),
            by_key: HashMap::new(),
            read_only: false,
        })
    }

    /// Applies `overrides` (action name → key names) to the defaults. A key the user gives to one
    /// action is taken away from the action it belonged to by default; two user entries naming
    /// the same key are a conflict.
    pub fn build(
        overrides: &BTreeMap<String, Vec<String>>,
        read_only: bool,
    ) -> Result<KeyMap, KeyMapError> {
        let mut user: HashMap<Action, Vec<KeyBinding>> = HashMap::new();
        let mut claimed: HashMap<KeyBinding, Action> = HashMap::new();
        for (name, specs) in overrides {
            let action = Action::from_name(name).ok_or_else(|| KeyMapError::UnknownAction {
                action: name.clone(),
            })?;
            if action == Action::Quit && specs.is_empty() {
                return Err(KeyMapError::Unbound {
                    action: name.clone(),
                });
            }
            let mut keys = Vec::with_capacity(specs.len());
            for spec in specs {
                let key = KeyBinding::parse(spec).map_err(|reason| KeyMapError::BadKey {
                    action: name.clone(),
                    reason,
                })?;
                if let Some(other) = claimed.insert(key, action).filter(|other| *other != action) {
                    return Err(KeyMapError::Conflict {
                        action: name.clone(),
                        key: key.to_string(),
                        other: other.info().name.to_string(),
                    });
                }
                keys.push(key);
            }
            user.insert(action, keys);
        }

        let mut bindings = Vec::with_capacity(ACTIONS.len());
        let mut by_key = HashMap::new();
        for info in ACTIONS {
            if read_only && info.dangerous {
                continue;
            }
            let keys: Vec<KeyBinding> = match user.get(&info.action) {
                Some(keys) => keys.clone(),
                None => info
                    .defaults
                    .iter()
                    .filter_map(|spec| KeyBinding::parse(spec).ok())
                    .filter(|key| !claimed.contains_key(key))
                    .collect(),
            };
            for key in &keys {
                by_key.insert(*key, info.action);
            }
            bindings.push((info.action, keys));
        }
        Ok(KeyMap {
            bindings,
            by_key,
            read_only,
        })
    }

    pub fn action_for(&self, event: &KeyEvent) -> Option<Action> {
        self.by_key.get(&KeyBinding::from_event(event)).copied()
    }

    /// Whether the action is in the map at all (read-only removes some).
    pub fn has(&self, action: Action) -> bool {
        self.bindings.iter().any(|(a, _)| *a == action)
    }

    pub fn keys_for(&self, action: Action) -> &[KeyBinding] {
        self.bindings
            .iter()
            .find(|(a, _)| *a == action)
            .map_or(&[], |(_, keys)| keys.as_slice())
    }

    /// The first key of an action as shown in hints, e.g. `?`; `None` when unbound or removed.
    pub fn first_key(&self, action: Action) -> Option<String> {
        self.keys_for(action).first().map(ToString::to_string)
    }

    /// Every bound action with its keys, in help order.
    pub fn entries(&self) -> impl Iterator<Item = (&'static ActionInfo, &[KeyBinding])> {
        self.bindings
            .iter()
            .filter(|(_, keys)| !keys.is_empty())
            .map(|(action, keys)| (action.info(), keys.as_slice()))
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    fn overrides(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(a, keys)| (a.to_string(), keys.iter().map(|k| k.to_string()).collect()))
            .collect()
    }

    #[test]
    fn defaults_parse_and_no_two_actions_share_a_key() {
        let mut seen = HashMap::new();
        for info in ACTIONS {
            for spec in info.defaults {
                let key = KeyBinding::parse(spec).unwrap_or_else(|e| panic!("{}: {e}", info.name));
                if let Some(other) = seen.insert(key, info.name) {
                    panic!("{spec} is bound to both {other} and {}", info.name);
                }
            }
        }
        assert_eq!(KeyMap::defaults().entries().count(), ACTIONS.len());
    }

    #[test]
    fn vim_and_arrow_keys_both_move() {
        let map = KeyMap::defaults();
        assert_eq!(
            map.action_for(&press(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Down, KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::PrevView)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Char('C'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
    }

    #[test]
    fn a_remap_changes_only_the_named_action_and_steals_the_key() {
        let map =
            KeyMap::build(&overrides(&[("quit", &["x"]), ("filter", &["j"])]), false).unwrap();
        assert_eq!(
            map.action_for(&press(KeyCode::Char('x'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Char('q'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Action::Filter)
        );
        // `down` keeps its other default key but loses the stolen one.
        assert_eq!(map.keys_for(Action::Down).len(), 1);
        assert_eq!(
            map.action_for(&press(KeyCode::Down, KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(map.first_key(Action::Help).as_deref(), Some("?"));
    }

    #[test]
    fn read_only_removes_every_dangerous_action() {
        let map = KeyMap::build(&BTreeMap::new(), true).unwrap();
        assert!(!map.has(Action::Relabel));
        assert_eq!(
            map.action_for(&press(KeyCode::Char('e'), KeyModifiers::NONE)),
            None
        );
        assert!(map.entries().all(|(info, _)| !info.dangerous));
        assert!(KeyMap::defaults().has(Action::Relabel));
    }

    #[test]
    fn bad_overrides_are_explained() {
        let err = KeyMap::build(&overrides(&[("fly", &["f"])]), false).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown action \"fly\"; the actions are: up, down")
        );
        let err = KeyMap::build(&overrides(&[("quit", &["hyper-q"])]), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "quit: unknown modifier \"hyper\" in \"hyper-q\" (use ctrl-, alt- or shift-)"
        );
        let err =
            KeyMap::build(&overrides(&[("help", &["x"]), ("quit", &["x"])]), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "quit: key x is also given to help; one key, one action"
        );
        let err = KeyMap::build(&overrides(&[("quit", &[])]), false).unwrap_err();
        assert_eq!(err.action(), "quit");
    }

    #[test]
    fn key_names_round_trip_through_display() {
        for spec in [
            "q",
            "G",
            "?",
            "-",
            "enter",
            "ctrl-c",
            "alt-x",
            "f5",
            "pgdn",
            "space",
            "shift-tab",
        ] {
            let key = KeyBinding::parse(spec).unwrap();
            assert_eq!(
                KeyBinding::parse(&key.to_string().replace('↑', "up")).unwrap(),
                key,
                "{spec}"
            );
        }
        assert_eq!(
            KeyBinding::parse("shift-g").unwrap(),
            KeyBinding::parse("G").unwrap()
        );
    }
}
