//! The recording downloads the UI shows: one row per download (or per call-log lookup that
//! precedes one), folded from the engine's [`DownloadEvent`]s, and the words and sizes a download
//! is shown with (the CLI's progress line uses the same). Pure state: the app feeds events in
//! with the time they arrived, the Recordings view draws it.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::store::download::{DownloadEvent, DownloadUpdate, Progress, WaitReason};
use crate::text::sanitize;

/// How long a finished, failed or cancelled download stays on screen.
pub const DONE_SHOWN_SECONDS: i64 = 8;

/// What a row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// A download, under its recording id.
    Download,
    /// An ended call's recording being looked up in the call log, under the call's session id.
    /// Once found, the download shows under the recording id and this row goes.
    Lookup,
}

/// One download as the UI shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadRow {
    /// Recording id, or the call's session id while its recording is looked up.
    pub id: String,
    pub kind: RowKind,
    /// The latest progress, kept while waiting so the gauge does not jump back to empty.
    pub progress: Option<Progress>,
    pub last: DownloadUpdate,
    /// When the current wait ends: the countdown shown is worked out from it at each frame,
    /// so it is true however long ago the wait was announced.
    pub next_try_at: Option<DateTime<Utc>>,
    /// When the download ended, for [`DONE_SHOWN_SECONDS`].
    pub ended_at: Option<DateTime<Utc>>,
}

impl DownloadRow {
    /// Running or waiting (cancellable, and counted as in flight).
    pub fn is_running(&self) -> bool {
        self.ended_at.is_none()
    }

    /// The share done, 0.0–1.0, once the total is known.
    pub fn ratio(&self) -> Option<f64> {
        if let DownloadUpdate::Finished { .. } = self.last {
            return Some(1.0);
        }
        let progress = self.progress?;
        let total = progress.total.filter(|&t| t > 0)?;
        Some((progress.bytes as f64 / total as f64).clamp(0.0, 1.0))
    }

    /// Time left of the current wait at `now` (zero once it is over), or `None` when not waiting.
    pub fn wait_left(&self, now: DateTime<Utc>) -> Option<Duration> {
        let until = self.next_try_at?;
        Some((until - now).to_std().unwrap_or(Duration::ZERO))
    }

    /// One line about where the row stands at `now`, with a true countdown while it waits.
    pub fn describe(&self, now: DateTime<Utc>) -> String {
        match (&self.last, self.kind) {
            (DownloadUpdate::Waiting { reason, .. }, _) => {
                describe_wait(reason, self.wait_left(now).unwrap_or(Duration::ZERO))
            }
            (DownloadUpdate::Requesting { .. } | DownloadUpdate::Queued, RowKind::Lookup) => {
                "looking the call up in the call log".to_owned()
            }
            (update, _) => describe_update(update),
        }
    }
}

/// Every download this run started, by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Downloads {
    rows: BTreeMap<String, DownloadRow>,
}

impl Downloads {
    /// Folds one event in, arrived at `now`. Returns true when the download ended with it (the
    /// app refreshes the store's list then).
    pub fn apply(&mut self, event: DownloadEvent, now: DateTime<Utc>) -> bool {
        let ended = matches!(
            event.update,
            DownloadUpdate::Finished { .. }
                | DownloadUpdate::Failed { .. }
                | DownloadUpdate::Cancelled
        );
        let row = self
            .rows
            .entry(event.recording_id.clone())
            .or_insert_with(|| DownloadRow {
                id: event.recording_id,
                kind: RowKind::Download,
                progress: None,
                last: DownloadUpdate::Queued,
                next_try_at: None,
                ended_at: None,
            });
        if let DownloadUpdate::Progress(progress) = &event.update {
            row.progress = Some(*progress);
        }
        row.next_try_at = match &event.update {
            DownloadUpdate::Waiting { retry_in, .. } => chrono::Duration::from_std(*retry_in)
                .ok()
                .and_then(|wait| now.checked_add_signed(wait)),
            _ => None,
        };
        // A restart after an end (fetching again) clears the old outcome.
        row.ended_at = ended.then_some(now);
        row.last = event.update;
        ended
    }

    /// Starts showing what the user just asked for, before the engine reports.
    pub fn requested(&mut self, id: &str, kind: RowKind, now: DateTime<Utc>) {
        self.apply(
            DownloadEvent {
                recording_id: id.to_owned(),
                update: DownloadUpdate::Requesting { from_byte: 0 },
            },
            now,
        );
        if let Some(row) = self.rows.get_mut(id) {
            row.kind = kind;
            row.progress = None;
        }
    }

    /// Forgets ended downloads shown long enough.
    pub fn expire(&mut self, now: DateTime<Utc>) {
        self.rows.retain(|_, row| {
            row.ended_at
                .is_none_or(|at| (now - at).num_seconds() < DONE_SHOWN_SECONDS)
        });
    }

    /// Stops showing `id` (a call-log lookup whose download now shows under its recording id).
    pub fn forget(&mut self, id: &str) {
        self.rows.remove(id);
    }

    pub fn row(&self, id: &str) -> Option<&DownloadRow> {
        self.rows.get(id)
    }

    pub fn is_running(&self, id: &str) -> bool {
        self.rows.get(id).is_some_and(DownloadRow::is_running)
    }

    pub fn running(&self) -> usize {
        self.rows.values().filter(|r| r.is_running()).count()
    }

    /// Rows to draw: running first, then recently ended, each by id.
    pub fn rows(&self) -> Vec<&DownloadRow> {
        let mut rows: Vec<&DownloadRow> = self.rows.values().collect();
        rows.sort_by_key(|r| (!r.is_running(), r.id.clone()));
        rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// `1.5 MiB`-style sizes for progress lines and the Recordings view.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// One line about a download's state, for the CLI's stderr and the TUI's gauge label.
pub fn describe_update(update: &DownloadUpdate) -> String {
    match update {
        DownloadUpdate::Queued => "queued (other downloads are running)".to_owned(),
        DownloadUpdate::Requesting { from_byte: 0 } => "requesting".to_owned(),
        DownloadUpdate::Requesting { from_byte } => {
            format!("resuming at {}", human_bytes(*from_byte))
        }
        DownloadUpdate::Waiting { reason, retry_in } => describe_wait(reason, *retry_in),
        DownloadUpdate::Progress(progress) => {
            let mut line = match progress.total {
                Some(total) => format!("{} of {}", human_bytes(progress.bytes), human_bytes(total)),
                None => human_bytes(progress.bytes),
            };
            line.push_str(&format!(
                ", {}/s",
                human_bytes(progress.bytes_per_second.max(0.0) as u64)
            ));
            if let Some(eta) = progress.eta {
                line.push_str(&format!(", {} left", short_duration(eta)));
            }
            line
        }
        DownloadUpdate::Finished {
            meta,
            already_stored,
        } => {
            let size = human_bytes(meta.length.unwrap_or_default());
            if *already_stored {
                format!("already stored ({size})")
            } else {
                format!("stored ({size})")
            }
        }
        DownloadUpdate::Failed { error } => format!("failed: {}", sanitize(error)),
        DownloadUpdate::Cancelled => "cancelled".to_owned(),
    }
}

/// Why a download or lookup waits and when it tries again, e.g. "paced by rate limit — next try
/// in 7 s". `left` is what remains of the wait; at zero the next try is under way.
pub fn describe_wait(reason: &WaitReason, left: Duration) -> String {
    let (why, next) = match reason {
        WaitReason::NotYetAvailable => ("waiting for the recording".to_owned(), "next try"),
        WaitReason::RateLimited => ("rate-limited by the platform".to_owned(), "next try"),
        WaitReason::Paced => ("paced by rate limit".to_owned(), "next try"),
        WaitReason::ConnectionLost { detail } => (
            format!("connection lost ({})", sanitize(detail)),
            "resuming",
        ),
    };
    // Whole seconds, rounded up: "next try in 0 s" while time is left would be a lie.
    let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    if seconds == 0 {
        format!("{why} — trying now")
    } else {
        format!(
            "{why} — {next} in {}",
            short_duration(Duration::from_secs(seconds))
        )
    }
}

/// `42 s`, `3 min 5 s`, `1 h 2 min`.
pub fn short_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, update: DownloadUpdate) -> DownloadEvent {
        DownloadEvent {
            recording_id: id.into(),
            update,
        }
    }

    fn progress(bytes: u64, total: u64) -> DownloadUpdate {
        DownloadUpdate::Progress(Progress {
            bytes,
            total: Some(total),
            bytes_per_second: 1000.0,
            eta: Some(Duration::from_secs(1)),
        })
    }

    #[test]
    fn progress_survives_a_wait_and_an_end_is_shown_then_expires() {
        let start = Utc::now();
        let mut downloads = Downloads::default();
        downloads.requested("7", RowKind::Download, start);
        assert!(!downloads.apply(event("7", progress(250, 1000)), start));
        assert!(!downloads.apply(
            event(
                "7",
                DownloadUpdate::Waiting {
                    reason: crate::store::download::WaitReason::RateLimited,
                    retry_in: Duration::from_secs(5),
                }
            ),
            start
        ));
        assert_eq!(downloads.rows()[0].ratio(), Some(0.25));
        assert_eq!(downloads.running(), 1);

        assert!(downloads.apply(event("7", DownloadUpdate::Cancelled), start));
        assert!(!downloads.is_running("7"));
        downloads.expire(start + chrono::Duration::seconds(DONE_SHOWN_SECONDS - 1));
        assert!(!downloads.is_empty());
        downloads.expire(start + chrono::Duration::seconds(DONE_SHOWN_SECONDS));
        assert!(downloads.is_empty());
    }

    #[test]
    fn running_downloads_come_first() {
        let now = Utc::now();
        let mut downloads = Downloads::default();
        downloads.apply(event("1", DownloadUpdate::Cancelled), now);
        downloads.apply(event("2", progress(1, 2)), now);
        let ids: Vec<&str> = downloads.rows().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["2", "1"]);
    }

    #[test]
    fn progress_reads_as_bytes_rate_and_time_left() {
        let line = describe_update(&DownloadUpdate::Progress(Progress {
            bytes: 3 * 1024 * 1024 / 2,
            total: Some(4 * 1024 * 1024),
            bytes_per_second: 512.0 * 1024.0,
            eta: Some(Duration::from_secs(65)),
        }));
        assert_eq!(line, "1.5 MiB of 4.0 MiB, 512 KiB/s, 1 min 5 s left");
        let wait = describe_update(&DownloadUpdate::Waiting {
            reason: WaitReason::NotYetAvailable,
            retry_in: Duration::from_secs(6),
        });
        assert_eq!(wait, "waiting for the recording — next try in 6 s");
        assert_eq!(human_bytes(999), "999 B");
    }

    #[test]
    fn a_wait_counts_down_from_when_it_was_announced() {
        let start = Utc::now();
        let mut downloads = Downloads::default();
        downloads.requested("s-1", RowKind::Lookup, start);
        let row = downloads.row("s-1").unwrap();
        assert_eq!(row.describe(start), "looking the call up in the call log");
        downloads.apply(
            event(
                "s-1",
                DownloadUpdate::Waiting {
                    reason: WaitReason::Paced,
                    retry_in: Duration::from_secs(12),
                },
            ),
            start,
        );
        let row = downloads.row("s-1").unwrap();
        assert_eq!(
            row.kind,
            RowKind::Lookup,
            "an event must not forget the kind"
        );
        assert_eq!(
            row.describe(start),
            "paced by rate limit — next try in 12 s"
        );
        assert_eq!(
            row.describe(start + chrono::Duration::milliseconds(4_500)),
            "paced by rate limit — next try in 8 s"
        );
        assert_eq!(
            row.describe(start + chrono::Duration::seconds(30)),
            "paced by rate limit — trying now"
        );
        // Anything but a wait ends the countdown.
        downloads.apply(event("s-1", progress(10, 100)), start);
        assert_eq!(downloads.row("s-1").unwrap().wait_left(start), None);
    }
}
