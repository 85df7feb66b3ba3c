//! Per-(caller, group) sliding-window rate limits with RingCentral's penalty interval.
//!
//! The platform counts requests per user and app in four throttling groups over a 60 s sliding
//! window. Once a caller goes over, every request during the penalty interval is refused *and*
//! restarts the penalty (the "429 trap"), which is exactly the behaviour a client must survive.
//! Pure logic: time is a parameter.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// A RingCentral throttling group (`x-throttling-group` in the spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    Light,
    Medium,
    Heavy,
    Auth,
}

impl Group {
    /// The value of `X-Rate-Limit-Group`: lower case, as real traffic sends it.
    pub fn header_value(self) -> &'static str {
        match self {
            Group::Light => "light",
            Group::Medium => "medium",
            Group::Heavy => "heavy",
            Group::Auth => "auth",
        }
    }
}

/// The limit table. Defaults are the documented per-user defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimits {
    pub light: u32,
    pub medium: u32,
    pub heavy: u32,
    pub auth: u32,
    /// The sliding window (`X-Rate-Limit-Window`).
    pub window: Duration,
    /// How long a caller who went over is refused; every refused request restarts it.
    pub penalty: Duration,
    /// `false` turns refusing off: requests are still counted and the headers still say what
    /// is left, as a platform with a generous custom limit would, but nothing is ever refused.
    pub enabled: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            light: 50,
            medium: 40,
            heavy: 10,
            auth: 5,
            window: Duration::from_secs(60),
            penalty: Duration::from_secs(60),
            enabled: true,
        }
    }
}

impl RateLimits {
    /// The documented defaults multiplied by `factor` (at least 1 request each), for a demo that
    /// should not trip over its own bootstrap.
    pub fn scaled(factor: f64) -> Self {
        let base = RateLimits::default();
        let scale = |n: u32| ((f64::from(n) * factor).round() as u32).max(1);
        RateLimits {
            light: scale(base.light),
            medium: scale(base.medium),
            heavy: scale(base.heavy),
            auth: scale(base.auth),
            ..base
        }
    }

    /// The limit [`RateLimits::off`] announces, as a multiple of the documented defaults.
    pub const OFF_FACTOR: f64 = 1000.0;

    /// Limits switched off: nothing is refused, and the headers announce limits a thousand
    /// times the defaults (a client pacing by the headers never waits), counted down honestly.
    pub fn off() -> Self {
        RateLimits {
            enabled: false,
            ..RateLimits::scaled(Self::OFF_FACTOR)
        }
    }

    pub fn limit(&self, group: Group) -> u32 {
        match group {
            Group::Light => self.light,
            Group::Medium => self.medium,
            Group::Heavy => self.heavy,
            Group::Auth => self.auth,
        }
    }
}

/// The outcome of one request against the limiter; both variants carry what the
/// `X-Rate-Limit-*` headers need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed {
        group: Group,
        limit: u32,
        remaining: u32,
        window_secs: u64,
    },
    Limited {
        group: Group,
        limit: u32,
        window_secs: u64,
        retry_after_secs: u64,
    },
}

#[derive(Debug, Default)]
struct CallerWindow {
    hits: VecDeque<Instant>,
    penalty_until: Option<Instant>,
}

impl CallerWindow {
    /// Drops the hits a whole window old.
    fn forget_before(&mut self, now: Instant, window: Duration) {
        while self
            .hits
            .front()
            .is_some_and(|&hit| now.saturating_duration_since(hit) >= window)
        {
            self.hits.pop_front();
        }
    }
}

/// Sliding-window counters keyed by caller (an OAuth session, or a client id for token calls).
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    windows: HashMap<(String, Group), CallerWindow>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        RateLimiter {
            limits,
            windows: HashMap::new(),
        }
    }

    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// Counts one request by `caller` in `group` at `now` and says whether it may proceed.
    pub fn check(&mut self, caller: &str, group: Group, now: Instant) -> Verdict {
        let limit = self.limits.limit(group);
        let window = self.limits.window;
        let window_secs = window.as_secs();
        let penalty = self.limits.penalty;
        let enabled = self.limits.enabled;
        let entry = self.windows.entry((caller.to_owned(), group)).or_default();
        if !enabled {
            entry.forget_before(now, window);
            // Past the limit nothing is refused: the window stops growing and reports none left.
            if entry.hits.len() < limit as usize {
                entry.hits.push_back(now);
            }
            return Verdict::Allowed {
                group,
                limit,
                remaining: limit - entry.hits.len() as u32,
                window_secs,
            };
        }
        if entry.penalty_until.is_some_and(|until| now < until) {
            // The 429 trap: knocking during the penalty restarts it.
            entry.penalty_until = Some(now + penalty);
            return Verdict::Limited {
                group,
                limit,
                window_secs,
                retry_after_secs: ceil_secs(penalty),
            };
        }
        entry.penalty_until = None;
        entry.forget_before(now, window);
        if entry.hits.len() >= limit as usize {
            entry.penalty_until = Some(now + penalty);
            return Verdict::Limited {
                group,
                limit,
                window_secs,
                retry_after_secs: ceil_secs(penalty),
            };
        }
        entry.hits.push_back(now);
        Verdict::Allowed {
            group,
            limit,
            remaining: limit - entry.hits.len() as u32,
            window_secs,
        }
    }

    /// The headers' view of a group for a response that was not counted (for example a 401).
    pub fn uncounted(&self, group: Group) -> Verdict {
        let limit = self.limits.limit(group);
        Verdict::Allowed {
            group,
            limit,
            remaining: limit,
            window_secs: self.limits.window.as_secs(),
        }
    }
}

/// Whole seconds, rounded up, at least 1: `Retry-After: 0` would invite a busy loop.
pub fn ceil_secs(duration: Duration) -> u64 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(heavy: u32) -> RateLimits {
        RateLimits {
            heavy,
            window: Duration::from_secs(60),
            penalty: Duration::from_secs(60),
            ..RateLimits::default()
        }
    }

    #[test]
    fn counts_down_then_refuses_with_retry_after() {
        let mut limiter = RateLimiter::new(limits(3));
        let t0 = Instant::now();
        let remaining: Vec<u32> = (0..3)
            .map(|_| match limiter.check("s1", Group::Heavy, t0) {
                Verdict::Allowed { remaining, .. } => remaining,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(remaining, vec![2, 1, 0]);
        assert_eq!(
            limiter.check("s1", Group::Heavy, t0),
            Verdict::Limited {
                group: Group::Heavy,
                limit: 3,
                window_secs: 60,
                retry_after_secs: 60
            }
        );
    }

    #[test]
    fn callers_and_groups_are_counted_apart() {
        let mut limiter = RateLimiter::new(limits(1));
        let t0 = Instant::now();
        assert!(matches!(
            limiter.check("a", Group::Heavy, t0),
            Verdict::Allowed { .. }
        ));
        assert!(matches!(
            limiter.check("b", Group::Heavy, t0),
            Verdict::Allowed { .. }
        ));
        assert!(matches!(
            limiter.check("a", Group::Light, t0),
            Verdict::Allowed { .. }
        ));
        assert!(matches!(
            limiter.check("a", Group::Heavy, t0),
            Verdict::Limited { .. }
        ));
    }

    #[test]
    fn knocking_during_the_penalty_restarts_it() {
        let mut limiter = RateLimiter::new(limits(1));
        let t0 = Instant::now();
        limiter.check("a", Group::Heavy, t0);
        assert!(matches!(
            limiter.check("a", Group::Heavy, t0),
            Verdict::Limited { .. }
        ));
        let t1 = t0 + Duration::from_secs(50);
        assert!(matches!(
            limiter.check("a", Group::Heavy, t1),
            Verdict::Limited { .. }
        ));
        // 61 s after the first refusal, but only 11 s after the second: still refused.
        let t2 = t0 + Duration::from_secs(61);
        assert!(matches!(
            limiter.check("a", Group::Heavy, t2),
            Verdict::Limited { .. }
        ));
        // A quiet caller is let back in once a whole penalty has passed.
        let t3 = t2 + Duration::from_secs(61);
        assert!(matches!(
            limiter.check("a", Group::Heavy, t3),
            Verdict::Allowed { .. }
        ));
    }

    #[test]
    fn the_window_slides() {
        let mut limiter = RateLimiter::new(RateLimits {
            penalty: Duration::from_secs(1),
            ..limits(2)
        });
        let t0 = Instant::now();
        limiter.check("a", Group::Heavy, t0);
        limiter.check("a", Group::Heavy, t0 + Duration::from_secs(30));
        // The first hit leaves the window at t0+60; the second still counts.
        match limiter.check("a", Group::Heavy, t0 + Duration::from_secs(60)) {
            Verdict::Allowed { remaining, .. } => assert_eq!(remaining, 0),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn disabled_limits_never_refuse() {
        let mut limiter = RateLimiter::new(RateLimits::off());
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert!(matches!(
                limiter.check("a", Group::Auth, t0),
                Verdict::Allowed { .. }
            ));
        }
    }

    #[test]
    fn disabled_limits_announce_a_large_limit_and_count_down_honestly() {
        let mut limiter = RateLimiter::new(RateLimits::off());
        let t0 = Instant::now();
        let remaining = |verdict: Verdict| match verdict {
            Verdict::Allowed {
                limit, remaining, ..
            } => (limit, remaining),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(
            remaining(limiter.check("a", Group::Heavy, t0)),
            (10_000, 9_999)
        );
        assert_eq!(
            remaining(limiter.check("a", Group::Heavy, t0)),
            (10_000, 9_998)
        );
        // A window later the count starts again.
        let later = t0 + Duration::from_secs(60);
        assert_eq!(
            remaining(limiter.check("a", Group::Heavy, later)),
            (10_000, 9_999)
        );
    }

    #[test]
    fn scaling_keeps_at_least_one_request() {
        let tiny = RateLimits::scaled(0.01);
        assert_eq!((tiny.light, tiny.heavy, tiny.auth), (1, 1, 1));
        let big = RateLimits::scaled(10.0);
        assert_eq!(
            (big.light, big.medium, big.heavy, big.auth),
            (500, 400, 100, 50)
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(ceil_secs(Duration::from_millis(1500)), 2);
        assert_eq!(ceil_secs(Duration::from_millis(10)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(60)), 60);
    }
}
