//! The DESIGN.md metrics as pure arithmetic over counters.
//!
//! The board keeps per-day and per-minute [`Tally`]s (see `model.rs`): every call adds its
//! [`Tally`] once, and when the call changes its old tally is taken back and the new one added.
//! So counts survive the call leaving memory, and a re-applied event changes nothing.

use crate::rc::records::ServiceLevelSettings;

/// Which period a figure covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// From local midnight of the board's time zone to now.
    Today,
    /// The last N minutes (the board's rolling window, default 30), in whole-minute buckets
    /// including the current partial minute.
    Rolling,
}

/// Counters one call contributes to one queue or one dialled number. Signed, so a contribution
/// can be taken back; sums are in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Calls that entered the queue / inbound calls to the number.
    pub offered: i64,
    pub answered: i64,
    pub abandoned: i64,
    pub short_abandoned: i64,
    pub voicemail: i64,
    /// Ended without an agent answering (abandoned, short abandon, voicemail, no answer).
    pub missed: i64,
    /// Answered within the queue's SLA threshold.
    pub answered_in_sla: i64,
    pub first_time_callers: i64,
    /// Sum of waits of answered calls.
    pub answered_wait_ms: i64,
    /// Answered calls that have ended (the AHT / average talk divisor).
    pub handled: i64,
    /// Sum of talk of answered, ended calls.
    pub handled_talk_ms: i64,
    /// Sum of hold of answered, ended calls.
    pub handled_hold_ms: i64,
}

impl Tally {
    /// Adds `other` times `sign` (+1 to add a contribution, −1 to take it back).
    pub fn add(&mut self, other: &Tally, sign: i64) {
        self.offered += sign * other.offered;
        self.answered += sign * other.answered;
        self.abandoned += sign * other.abandoned;
        self.short_abandoned += sign * other.short_abandoned;
        self.voicemail += sign * other.voicemail;
        self.missed += sign * other.missed;
        self.answered_in_sla += sign * other.answered_in_sla;
        self.first_time_callers += sign * other.first_time_callers;
        self.answered_wait_ms += sign * other.answered_wait_ms;
        self.handled += sign * other.handled;
        self.handled_talk_ms += sign * other.handled_talk_ms;
        self.handled_hold_ms += sign * other.handled_hold_ms;
    }

    /// True when every counter is zero (the bucket can be dropped).
    pub fn is_zero(&self) -> bool {
        *self == Tally::default()
    }

    /// Service level in percent, rounded to 0.1 (see [`service_level_pct`]).
    pub fn service_level_pct(&self, settings: &SlaSettings) -> Option<f64> {
        service_level_pct(
            self.answered_in_sla,
            self.answered,
            self.abandoned,
            settings.include_abandoned,
        )
    }

    /// Average speed of answer, seconds, rounded to 0.1.
    pub fn asa_seconds(&self) -> Option<f64> {
        mean_seconds(self.answered_wait_ms, self.answered)
    }

    /// Average handle time (talk + hold of answered calls that ended), seconds, rounded to 0.1.
    pub fn aht_seconds(&self) -> Option<f64> {
        mean_seconds(self.handled_talk_ms + self.handled_hold_ms, self.handled)
    }

    /// Average talk time of answered calls that ended, seconds, rounded to 0.1.
    pub fn avg_talk_seconds(&self) -> Option<f64> {
        mean_seconds(self.handled_talk_ms, self.handled)
    }
}

/// A queue's service-level settings with callboard's defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlaSettings {
    /// Target percentage.
    pub goal_pct: f64,
    /// Answered within this many seconds counts as within service level.
    pub threshold_s: f64,
    /// Whether abandoned calls count against the service level.
    pub include_abandoned: bool,
    /// A caller who hangs up within this many seconds of queueing is a short abandon.
    pub short_abandon_s: f64,
}

impl Default for SlaSettings {
    /// DESIGN.md: 80 %, 20 s, include abandoned, 5 s short abandon.
    fn default() -> Self {
        SlaSettings {
            goal_pct: 80.0,
            threshold_s: 20.0,
            include_abandoned: true,
            short_abandon_s: 5.0,
        }
    }
}

impl SlaSettings {
    /// The queue's own settings where it has them; defaults for the rest.
    pub fn from_record(settings: Option<&ServiceLevelSettings>) -> SlaSettings {
        let default = SlaSettings::default();
        let Some(s) = settings else {
            return default;
        };
        SlaSettings {
            goal_pct: s.sla_goal.unwrap_or(default.goal_pct),
            threshold_s: s.sla_threshold_seconds.unwrap_or(default.threshold_s),
            include_abandoned: s
                .include_abandoned_calls
                .unwrap_or(default.include_abandoned),
            short_abandon_s: s
                .abandoned_threshold_seconds
                .unwrap_or(default.short_abandon_s),
        }
    }
}

/// 100 × answered within threshold ÷ (answered + abandoned if included, else answered), rounded
/// to 0.1; `None` when the divisor is 0. Short abandons never count.
pub fn service_level_pct(
    answered_in_sla: i64,
    answered: i64,
    abandoned: i64,
    include_abandoned: bool,
) -> Option<f64> {
    let divisor = answered + if include_abandoned { abandoned } else { 0 };
    (divisor > 0).then(|| round1(100.0 * answered_in_sla as f64 / divisor as f64))
}

/// Mean of a millisecond sum over `count`, in seconds rounded to 0.1; `None` for no samples.
pub fn mean_seconds(sum_ms: i64, count: i64) -> Option<f64> {
    (count > 0).then(|| round1(sum_ms as f64 / 1000.0 / count as f64))
}

/// Rounds to one decimal (aggregates in board JSON).
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Rounds to milliseconds (per-call durations in board JSON).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_level_by_hand() {
        // 8 of 10 answered within threshold, 2 abandoned: 8 / 12 = 66.67 % → 66.7.
        assert_eq!(service_level_pct(8, 10, 2, true), Some(66.7));
        // Abandoned excluded: 8 / 10.
        assert_eq!(service_level_pct(8, 10, 2, false), Some(80.0));
        // Only abandoned calls, included: 0 / 3.
        assert_eq!(service_level_pct(0, 0, 3, true), Some(0.0));
        // Nothing answered and abandoned excluded: no meaning yet.
        assert_eq!(service_level_pct(0, 0, 3, false), None);
        assert_eq!(service_level_pct(0, 0, 0, true), None);
    }

    #[test]
    fn means_by_hand() {
        let tally = Tally {
            answered: 3,
            answered_wait_ms: 10_000 + 20_000 + 4_500,
            handled: 2,
            handled_talk_ms: 60_000 + 90_000,
            handled_hold_ms: 15_000,
            ..Tally::default()
        };
        // (10 + 20 + 4.5) / 3 = 11.5
        assert_eq!(tally.asa_seconds(), Some(11.5));
        // (60 + 90 + 15) / 2 = 82.5
        assert_eq!(tally.aht_seconds(), Some(82.5));
        // (60 + 90) / 2 = 75
        assert_eq!(tally.avg_talk_seconds(), Some(75.0));
        assert_eq!(Tally::default().asa_seconds(), None);
    }

    #[test]
    fn add_and_take_back_is_identity() {
        let mut total = Tally {
            offered: 5,
            answered: 2,
            ..Tally::default()
        };
        let call = Tally {
            offered: 1,
            answered: 1,
            answered_wait_ms: 7_000,
            ..Tally::default()
        };
        let before = total;
        total.add(&call, 1);
        assert_eq!(total.offered, 6);
        total.add(&call, -1);
        assert_eq!(total, before);
    }

    #[test]
    fn settings_fill_defaults_per_field() {
        let partial = ServiceLevelSettings {
            sla_threshold_seconds: Some(30.0),
            include_abandoned_calls: Some(false),
            ..ServiceLevelSettings::default()
        };
        let s = SlaSettings::from_record(Some(&partial));
        assert_eq!(s.threshold_s, 30.0);
        assert!(!s.include_abandoned);
        assert_eq!(s.goal_pct, 80.0);
        assert_eq!(s.short_abandon_s, 5.0);
        assert_eq!(SlaSettings::from_record(None), SlaSettings::default());
    }
}
