//! The UI's own state: which view, the drill-down stack, selection, filter and sort per screen,
//! overlays and the input line, and what the status line shows. Only the app loop changes it, and
//! only through [`crate::ui::update`]; rendering reads it.

use std::collections::{BTreeSet, VecDeque};

use chrono::{DateTime, Utc};

use crate::ui::filter::RowFilter;
use crate::ui::keys::KeyMap;

/// The tabs along the top, in order. Each is also a `:` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tab {
    Queues,
    Campaigns,
    Calls,
    Agents,
    Numbers,
    Recordings,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::Queues,
        Tab::Campaigns,
        Tab::Calls,
        Tab::Agents,
        Tab::Numbers,
        Tab::Recordings,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Queues => "Queues",
            Tab::Campaigns => "Campaigns",
            Tab::Calls => "Calls",
            Tab::Agents => "Agents",
            Tab::Numbers => "Numbers",
            Tab::Recordings => "Recordings",
        }
    }

    /// The `:` command that opens it.
    pub fn command(self) -> &'static str {
        match self {
            Tab::Queues => "queues",
            Tab::Campaigns => "campaigns",
            Tab::Calls => "calls",
            Tab::Agents => "agents",
            Tab::Numbers => "numbers",
            Tab::Recordings => "recordings",
        }
    }

    fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    pub fn next(self) -> Tab {
        Tab::ALL[(self.index() + 1) % Tab::ALL.len()]
    }

    pub fn prev(self) -> Tab {
        Tab::ALL[(self.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]
    }

    pub fn root_screen(self) -> ScreenKind {
        match self {
            Tab::Queues => ScreenKind::Queues,
            Tab::Campaigns => ScreenKind::Campaigns,
            Tab::Calls => ScreenKind::Calls(CallScope::All),
            Tab::Agents => ScreenKind::Agents,
            Tab::Numbers => ScreenKind::Numbers,
            Tab::Recordings => ScreenKind::Recordings,
        }
    }
}

/// Which calls a Calls screen lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallScope {
    All,
    /// The calls of one queue (by extension id), reached from the Queues view.
    Queue {
        id: String,
        name: String,
    },
    /// The calls to one campaign's numbers, reached from the Campaigns view.
    Campaign {
        campaign: String,
        dn: Option<String>,
    },
}

/// What one screen of the drill-down stack shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreenKind {
    Queues,
    Campaigns,
    Calls(CallScope),
    CallDetail {
        session_id: String,
    },
    Agents,
    Numbers,
    Recordings,
    /// The relabel audit (pushed over the current view by `A` or `:audit`).
    Audit,
}

/// Sort order of a table: a column index into the view's columns, and the direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SortSpec {
    pub column: usize,
    pub reverse: bool,
}

/// One screen: what it shows, the selected row (by key, so it follows the row when the order
/// changes), its filter and sort.
#[derive(Debug, Clone)]
pub struct Screen {
    pub kind: ScreenKind,
    /// Key of the selected row; `None` selects the first row.
    pub selected: Option<String>,
    /// Index of the selected row when it was last seen, so a row that vanishes leaves the
    /// selection where it was rather than jumping to the top.
    pub selected_index: usize,
    pub filter: RowFilter,
    pub sort: Option<SortSpec>,
}

impl Screen {
    pub fn new(kind: ScreenKind) -> Screen {
        Screen {
            kind,
            selected: None,
            selected_index: 0,
            filter: RowFilter::default(),
            sort: None,
        }
    }
}

/// The figures' time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricWindow {
    Today,
    Rolling,
}

/// Something drawn over the current screen that takes the keys while open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help {
        scroll: u16,
    },
    /// Quit was asked for while work is in flight; `what` says which.
    ConfirmQuit {
        what: String,
    },
    /// Deleting a stored recording, waiting for a yes.
    ConfirmDeleteRecording {
        recording_id: String,
    },
    /// The label editor of one number (campaign + DN fields, or the raw label).
    EditLabel(Box<crate::ui::label_editor::LabelEditor>),
    /// An export's file exists: replace it?
    ConfirmExportOverwrite {
        recording_id: String,
        path: std::path::PathBuf,
    },
    /// A bulk "set campaign" worked out and waiting for a yes.
    ConfirmBulk {
        campaign: String,
        plans: Vec<crate::app::relabel::PlannedRelabel>,
    },
    /// A relabel typed and waiting for a yes; Esc goes back to `editor`.
    ConfirmRelabel {
        editor: Box<crate::ui::label_editor::LabelEditor>,
        new_label: String,
    },
}

/// What the one-line input at the bottom is being used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputPurpose {
    Filter,
    Command,
    /// The campaign for a bulk relabel of these numbers (by id).
    BulkCampaign {
        number_ids: Vec<String>,
    },
    /// Where to export a stored recording: a file, or a directory for its default name.
    ExportRecording {
        recording_id: String,
    },
}

/// The input line: text, cursor (in chars), and an error shown beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputLine {
    pub purpose: InputPurpose,
    pub text: String,
    pub cursor: usize,
    pub error: Option<String>,
    /// The filter text before editing began, restored on Esc.
    pub original: String,
    /// What was typed before the first Tab of a completion: Tab cycles the matches of this, so
    /// the second Tab offers the next match instead of narrowing to the first. An edit clears it.
    pub completion_prefix: Option<String>,
}

impl InputLine {
    pub fn new(purpose: InputPurpose, text: &str) -> InputLine {
        InputLine {
            purpose,
            text: text.to_string(),
            cursor: text.chars().count(),
            error: None,
            original: text.to_string(),
            completion_prefix: None,
        }
    }
}

/// The platform connection as the status line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    /// Reconnecting with the session's `wsc`: events missed meanwhile will be replayed.
    Recovering {
        reason: String,
    },
    /// Recovery failed: subscribed again, reloading live calls over REST.
    Resyncing {
        reason: String,
    },
    Offline {
        since: DateTime<Utc>,
        reason: String,
    },
}

/// Events per second over the last few seconds, for the status line. Counts by whole second in a
/// small ring, so recording an event costs nothing and the figure needs no clock of its own.
#[derive(Debug, Clone, Default)]
pub struct EventRate {
    /// (unix second, events in it), oldest first, at most [`EventRate::SPAN`] entries.
    seconds: VecDeque<(i64, u32)>,
}

impl EventRate {
    const SPAN: i64 = 5;

    pub fn record(&mut self, at: DateTime<Utc>) {
        let second = at.timestamp();
        match self.seconds.back_mut() {
            Some((s, count)) if *s == second => *count += 1,
            _ => self.seconds.push_back((second, 1)),
        }
        while self
            .seconds
            .front()
            .is_some_and(|(s, _)| *s <= second - Self::SPAN)
        {
            self.seconds.pop_front();
        }
    }

    /// Mean events per second over the complete seconds of the last [`Self::SPAN`] before `now`.
    pub fn per_second(&self, now: DateTime<Utc>) -> f64 {
        let current = now.timestamp();
        let total: u32 = self
            .seconds
            .iter()
            .filter(|(s, _)| *s < current && *s >= current - Self::SPAN)
            .map(|(_, n)| n)
            .sum();
        f64::from(total) / Self::SPAN as f64
    }
}

/// A short message in the status area ("copied +14155550100", "relabel failed: …").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub is_error: bool,
    pub at: DateTime<Utc>,
}

impl Flash {
    /// How long a flash stays up.
    pub const SECONDS: i64 = 5;
}

/// Where the board's data comes from, for the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The embedded simulator.
    Demo,
    /// A real account, as the status line names it: "acct 37439510" once the platform said
    /// which, the server's host name until then.
    Account(String),
}

/// All UI state.
#[derive(Debug, Clone)]
pub struct UiState {
    pub tab: Tab,
    /// The drill-down stack; never empty; the last screen is the one shown.
    pub stack: Vec<Screen>,
    pub overlay: Option<Overlay>,
    pub input: Option<InputLine>,
    pub window: MetricWindow,
    pub rolling_minutes: u32,
    pub keymap: KeyMap,
    pub source: Source,
    pub connection: Connection,
    pub last_event_at: Option<DateTime<Utc>>,
    pub event_rate: EventRate,
    pub flash: Option<Flash>,
    /// Campaign rows expanded to show their numbers (by row key).
    pub expanded: BTreeSet<String>,
    /// Queues in breach the user has acknowledged (by queue id); cleared when a queue recovers,
    /// so its next breach rings again.
    pub acknowledged_breaches: BTreeSet<String>,
    /// Queues in breach at the last check, to ring the bell only on a new one.
    pub breached: BTreeSet<String>,
    pub bell_enabled: bool,
    /// Relabels and downloads in flight: quitting asks first while this is not zero.
    pub jobs_in_flight: usize,
    /// Relabels confirmed but not yet confirmed by the platform: number id → the label being
    /// written. The row shows it beside the old label until the outcome arrives.
    pub pending_relabels: std::collections::BTreeMap<String, String>,
    /// The bulk relabel (or undo) being written, for the Numbers view's gauge.
    pub relabel_progress: Option<crate::ui::relabel::RelabelProgress>,
    /// The newest relabel audit entries, newest first, read from the store while the audit
    /// view is shown.
    pub relabel_audit: Vec<crate::store::AuditEntry>,
    /// Numbers marked (by id) for a bulk relabel.
    pub marked_numbers: std::collections::BTreeSet<String>,
    /// Which numbers the Numbers view lists.
    pub number_kind: crate::ui::relabel::NumberKind,
    pub quit: bool,
    /// Rows one page moves (the table's visible height), kept current by the app on resize.
    pub page_rows: usize,
    /// The zone of the clock and of "today".
    pub time_zone: chrono_tz::Tz,
    /// The recordings in the local store, as last read by the app (the Recordings view shows
    /// them beside the board's; rendering never reads the store itself).
    pub stored_recordings: Vec<crate::store::recordings::RecordingMeta>,
    /// Recording downloads started this run, for the Recordings view's gauges.
    pub downloads: crate::ui::downloads::Downloads,
    /// The last row list of a scoped, filtered or sorted Calls screen (a cache; see
    /// `ui::views::calls::RowCache`).
    pub calls_rows: crate::ui::views::calls::RowCache,
    /// Content bytes stored of each partial (interrupted) recording, by id, read with
    /// `stored_recordings`: the view shows how far a resumed fetch will start.
    pub partial_bytes: std::collections::HashMap<String, u64>,
    /// Where the export prompt proposes to write (config `export_dir`, else the directory
    /// callboard was started in).
    pub export_dir: std::path::PathBuf,
}

impl UiState {
    pub fn new(
        keymap: KeyMap,
        source: Source,
        rolling_minutes: u32,
        bell_enabled: bool,
    ) -> UiState {
        UiState {
            tab: Tab::Queues,
            stack: vec![Screen::new(ScreenKind::Queues)],
            overlay: None,
            input: None,
            window: MetricWindow::Today,
            rolling_minutes,
            keymap,
            source,
            connection: Connection::Connecting,
            last_event_at: None,
            event_rate: EventRate::default(),
            flash: None,
            expanded: BTreeSet::new(),
            acknowledged_breaches: BTreeSet::new(),
            breached: BTreeSet::new(),
            bell_enabled,
            jobs_in_flight: 0,
            pending_relabels: std::collections::BTreeMap::new(),
            marked_numbers: std::collections::BTreeSet::new(),
            relabel_audit: Vec::new(),
            relabel_progress: None,
            number_kind: crate::ui::relabel::NumberKind::All,
            quit: false,
            page_rows: 10,
            time_zone: chrono_tz::Tz::UTC,
            stored_recordings: Vec::new(),
            downloads: crate::ui::downloads::Downloads::default(),
            calls_rows: Default::default(),
            partial_bytes: std::collections::HashMap::new(),
            export_dir: std::path::PathBuf::from("."),
        }
    }

    pub fn screen(&self) -> &Screen {
        // The stack is never empty: every pop keeps the root.
        &self.stack[self.stack.len() - 1]
    }

    pub fn screen_mut(&mut self) -> &mut Screen {
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    pub fn switch_tab(&mut self, tab: Tab) {
        self.tab = tab;
        self.stack = vec![Screen::new(tab.root_screen())];
    }

    pub fn push(&mut self, kind: ScreenKind) {
        self.stack.push(Screen::new(kind));
    }

    /// Goes back one screen; false at the root.
    pub fn pop(&mut self) -> bool {
        if self.stack.len() > 1 {
            self.stack.pop();
            true
        } else {
            false
        }
    }

    pub fn flash(&mut self, text: impl Into<String>, is_error: bool, now: DateTime<Utc>) {
        self.flash = Some(Flash {
            text: text.into(),
            is_error,
            at: now,
        });
    }

    pub fn record_event(&mut self, at: DateTime<Utc>) {
        self.last_event_at = Some(at);
        self.event_rate.record(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: i64, milli: u32) -> DateTime<Utc> {
        Utc.timestamp_opt(1_764_000_000 + second, milli * 1_000_000)
            .unwrap()
    }

    #[test]
    fn event_rate_averages_the_last_complete_seconds() {
        let mut rate = EventRate::default();
        for i in 0..10 {
            rate.record(at(0, i * 100));
        }
        rate.record(at(1, 0));
        assert_eq!(rate.per_second(at(1, 500)), 10.0 / 5.0);
        assert_eq!(rate.per_second(at(2, 0)), 11.0 / 5.0);
        assert_eq!(rate.per_second(at(60, 0)), 0.0);
    }

    #[test]
    fn tabs_cycle_both_ways() {
        assert_eq!(Tab::Queues.prev(), Tab::Recordings);
        assert_eq!(Tab::Recordings.next(), Tab::Queues);
    }

    #[test]
    fn the_stack_keeps_its_root() {
        let mut ui = UiState::new(KeyMap::defaults(), Source::Demo, 30, false);
        ui.push(ScreenKind::CallDetail {
            session_id: "s".into(),
        });
        assert!(ui.pop());
        assert!(!ui.pop());
        assert_eq!(ui.screen().kind, ScreenKind::Queues);
    }
}
