//! Per-group request pacing (PROTOCOL.md §5), as pure state: every method takes `now`, so the
//! rules are unit-tested without a clock.
//!
//! RingCentral limits requests per (user, app) per group over a sliding window, and punishes a
//! client that keeps asking during a penalty (each request restarts it). So the client must not
//! find the limit by hitting it. Limits are customisable per app, and the server announces the
//! real ones on every response (`X-Rate-Limit-Limit`, `-Remaining`, `-Window`), so:
//!
//! * before the first response of a group, callboard paces by the published default limits,
//!   counting what it sent in its own log;
//! * once the server has spoken, its `Remaining` is the budget: while it says requests are
//!   left (less those callboard sent since), requests go at once, whatever the defaults say;
//! * when it says none are left, callboard waits until its own log frees a slot (the oldest
//!   request leaves the window), or, when the quota went to another program of the same user,
//!   one window/limit before asking again;
//! * `Retry-After` is obeyed exactly.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// Added to "the oldest request leaves the window": the server counted that request when it
/// arrived, a little after callboard sent it, so a request sent exactly a window later could
/// still find it counted and be refused (and a refusal starts a penalty).
pub const WINDOW_SLACK: Duration = Duration::from_millis(250);

/// The platform's rate-limit groups. Every endpoint belongs to one (PROTOCOL.md §4 table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateGroup {
    Light,
    Medium,
    Heavy,
    Auth,
}

impl RateGroup {
    pub const ALL: [RateGroup; 4] = [Self::Light, Self::Medium, Self::Heavy, Self::Auth];

    /// The group's name as the platform spells it in `X-Rate-Limit-Group`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Medium => "medium",
            Self::Heavy => "heavy",
            Self::Auth => "auth",
        }
    }

    /// Reads an `X-Rate-Limit-Group` value; the docs warn the case may vary.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|g| g.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The documented default requests per minute, used until the server tells the real limit.
    pub fn default_limit(self) -> u32 {
        match self {
            Self::Light => 50,
            Self::Medium => 40,
            Self::Heavy => 10,
            Self::Auth => 5,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RateGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a request has to wait before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCause {
    /// The server answered 429 (or 503) with `Retry-After`; the wait is the server's.
    RetryAfter,
    /// callboard's own log says the group's quota for the window is used up.
    QuotaUsed,
    /// The server reports no requests left in the window (possibly used by another program).
    ServerQuotaEmpty,
}

/// What the server last said about a group's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateHeaders {
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    pub window: Option<Duration>,
}

impl RateHeaders {
    /// Reads `X-Rate-Limit-Limit`, `-Remaining` and `-Window` (seconds); absent or unreadable
    /// values are `None`.
    pub fn from_headers(headers: &reqwest::header::HeaderMap) -> Self {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Self {
            limit: number("x-rate-limit-limit").and_then(|n| u32::try_from(n).ok()),
            remaining: number("x-rate-limit-remaining").and_then(|n| u32::try_from(n).ok()),
            window: number("x-rate-limit-window")
                .filter(|&s| s > 0)
                .map(Duration::from_secs),
        }
    }
}

#[derive(Debug, Clone)]
struct GroupBudget {
    limit: u32,
    window: Duration,
    /// When each request of the current window was sent, oldest first.
    sent: VecDeque<Instant>,
    /// What the server last said is left in the window, less the requests sent since;
    /// `None` until a response of this group carried `X-Rate-Limit-Remaining`.
    server_remaining: Option<u32>,
    /// When `server_remaining` last reached zero: the next request waits a spacing after it.
    server_empty_at: Option<Instant>,
    /// Requests sent and not yet answered: a response's `Remaining` does not count them yet.
    in_flight: u32,
    /// Set by `Retry-After`; nothing is sent before it.
    blocked_until: Option<Instant>,
}

impl GroupBudget {
    fn new(group: RateGroup) -> Self {
        Self {
            limit: group.default_limit(),
            window: Duration::from_secs(60),
            sent: VecDeque::new(),
            server_remaining: None,
            server_empty_at: None,
            in_flight: 0,
            blocked_until: None,
        }
    }

    fn forget_before(&mut self, now: Instant) {
        while let Some(&first) = self.sent.front() {
            if now.saturating_duration_since(first) >= self.window {
                self.sent.pop_front();
            } else {
                break;
            }
        }
    }
}

/// Pacing state for all groups. Not thread-safe by itself: the REST client keeps it behind a
/// mutex that is never held across an `.await`.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    groups: [GroupBudget; 4],
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    pub fn new() -> Self {
        Self {
            groups: RateGroup::ALL.map(GroupBudget::new),
        }
    }

    /// How long a request in `group` must wait at `now`, and why; `None` to send at once.
    pub fn wait_needed(&mut self, group: RateGroup, now: Instant) -> Option<(Duration, WaitCause)> {
        let budget = &mut self.groups[group.index()];
        budget.forget_before(now);
        let mut longest: Option<(Instant, WaitCause)> = None;
        let mut consider = |until: Instant, cause: WaitCause| {
            if until > now && longest.is_none_or(|(t, _)| until > t) {
                longest = Some((until, cause));
            }
        };
        if let Some(until) = budget.blocked_until {
            consider(until, WaitCause::RetryAfter);
        }
        match budget.server_remaining {
            // The server's count is the truth once it has spoken: requests are left.
            Some(left) if left > 0 => {}
            Some(_) => {
                // None left. Where callboard's own log explains it, the oldest request leaving
                // the window frees a slot; otherwise (another program used the quota) a slot of
                // a sliding window frees every window/limit on average: asking again after that
                // long never trips the penalty.
                if budget.sent.len() >= budget.limit as usize
                    && let Some(&oldest) = budget.sent.front()
                {
                    consider(oldest + budget.window + WINDOW_SLACK, WaitCause::QuotaUsed);
                }
                let spacing = budget.window / budget.limit.max(1);
                let since = budget.server_empty_at.unwrap_or(now);
                consider(since + spacing, WaitCause::ServerQuotaEmpty);
            }
            // Before the server's first word: the published limit, by callboard's own log.
            None => {
                if budget.sent.len() >= budget.limit as usize
                    && let Some(&oldest) = budget.sent.front()
                {
                    consider(oldest + budget.window + WINDOW_SLACK, WaitCause::QuotaUsed);
                }
            }
        }
        longest.map(|(until, cause)| (until - now, cause))
    }

    /// Records that a request in `group` went out at `now`. Pair it with [`Self::on_answered`].
    pub fn on_sent(&mut self, group: RateGroup, now: Instant) {
        let budget = &mut self.groups[group.index()];
        budget.forget_before(now);
        budget.sent.push_back(now);
        budget.in_flight += 1;
        if let Some(left) = budget.server_remaining.as_mut() {
            // Sending when none was left is the spaced probe; the spacing restarts from it.
            if *left <= 1 {
                budget.server_empty_at = Some(now);
            }
            *left = left.saturating_sub(1);
        }
    }

    /// Records that a request of `group` sent earlier was answered, or failed without an answer.
    pub fn on_answered(&mut self, group: RateGroup) {
        let budget = &mut self.groups[group.index()];
        budget.in_flight = budget.in_flight.saturating_sub(1);
    }

    /// Learns from a response's `X-Rate-Limit-*` headers (call it after [`Self::on_answered`]
    /// for that response). The group named by the server wins over callboard's own table,
    /// because limits are customisable per app.
    pub fn on_headers(&mut self, group: RateGroup, headers: RateHeaders, now: Instant) {
        let budget = &mut self.groups[group.index()];
        if let Some(limit) = headers.limit.filter(|&l| l > 0) {
            budget.limit = limit;
        }
        if let Some(window) = headers.window {
            budget.window = window;
        }
        if let Some(remaining) = headers.remaining {
            // Requests still on their way were not counted by the server when it answered.
            let left = remaining.saturating_sub(budget.in_flight);
            budget.server_remaining = Some(left);
            budget.server_empty_at = (left == 0).then_some(now);
        }
    }

    /// Obeys a `Retry-After` for `group`: nothing in the group is sent for `wait`.
    pub fn on_retry_after(&mut self, group: RateGroup, wait: Duration, now: Instant) {
        let budget = &mut self.groups[group.index()];
        let until = now + wait;
        if budget.blocked_until.is_none_or(|t| t < until) {
            budget.blocked_until = Some(until);
        }
    }

    /// The limit currently believed for `group` (requests per window).
    pub fn limit(&self, group: RateGroup) -> u32 {
        self.groups[group.index()].limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn group_names_parse_in_any_case() {
        assert_eq!(RateGroup::parse("heavy"), Some(RateGroup::Heavy));
        assert_eq!(RateGroup::parse(" Light "), Some(RateGroup::Light));
        assert_eq!(RateGroup::parse("custom"), None);
    }

    #[test]
    fn a_fresh_group_sends_at_once() {
        let mut limiter = RateLimiter::new();
        assert_eq!(limiter.wait_needed(RateGroup::Heavy, Instant::now()), None);
    }

    #[test]
    fn own_log_holds_the_eleventh_heavy_request_until_the_first_leaves_the_window() {
        let mut limiter = RateLimiter::new();
        let t0 = Instant::now();
        for i in 0..10 {
            let at = t0 + secs(i);
            assert_eq!(
                limiter.wait_needed(RateGroup::Heavy, at),
                None,
                "request {i}"
            );
            limiter.on_sent(RateGroup::Heavy, at);
        }
        let at = t0 + secs(10);
        assert_eq!(
            limiter.wait_needed(RateGroup::Heavy, at),
            Some((secs(50) + WINDOW_SLACK, WaitCause::QuotaUsed))
        );
        // Other groups are not affected.
        assert_eq!(limiter.wait_needed(RateGroup::Light, at), None);
        // Once the first request is a window old (and the slack passed), one more may go.
        assert_eq!(
            limiter.wait_needed(RateGroup::Heavy, t0 + secs(60) + WINDOW_SLACK),
            None
        );
    }

    #[test]
    fn server_headers_override_the_default_limit_and_window() {
        let mut limiter = RateLimiter::new();
        let t0 = Instant::now();
        let headers = RateHeaders {
            limit: Some(2),
            remaining: Some(1),
            window: Some(secs(10)),
        };
        limiter.on_sent(RateGroup::Light, t0);
        limiter.on_answered(RateGroup::Light);
        limiter.on_headers(RateGroup::Light, headers, t0);
        limiter.on_sent(RateGroup::Light, t0 + secs(1));
        assert_eq!(limiter.limit(RateGroup::Light), 2);
        assert_eq!(
            limiter.wait_needed(RateGroup::Light, t0 + secs(2)),
            Some((secs(8) + WINDOW_SLACK, WaitCause::QuotaUsed))
        );
    }

    #[test]
    fn an_empty_quota_reported_by_the_server_spaces_the_next_request() {
        let mut limiter = RateLimiter::new();
        let t0 = Instant::now();
        let headers = RateHeaders {
            limit: Some(10),
            remaining: Some(0),
            window: Some(secs(60)),
        };
        limiter.on_headers(RateGroup::Heavy, headers, t0);
        assert_eq!(
            limiter.wait_needed(RateGroup::Heavy, t0),
            Some((secs(6), WaitCause::ServerQuotaEmpty))
        );
        assert_eq!(limiter.wait_needed(RateGroup::Heavy, t0 + secs(6)), None);
    }

    #[test]
    fn requests_the_server_says_are_left_go_at_once_past_the_published_limit() {
        let mut limiter = RateLimiter::new();
        let t0 = Instant::now();
        // An app whose heavy group allows far more than the documented 10 a minute.
        for i in 0..500u32 {
            assert_eq!(
                limiter.wait_needed(RateGroup::Heavy, t0),
                None,
                "request {i}"
            );
            limiter.on_sent(RateGroup::Heavy, t0);
            limiter.on_answered(RateGroup::Heavy);
            let headers = RateHeaders {
                limit: Some(10_000),
                remaining: Some(9_999 - i),
                window: Some(secs(60)),
            };
            limiter.on_headers(RateGroup::Heavy, headers, t0);
        }
    }

    #[test]
    fn before_the_first_answer_the_published_limit_paces() {
        let mut limiter = RateLimiter::new();
        let t0 = Instant::now();
        for _ in 0..10 {
            limiter.on_sent(RateGroup::Heavy, t0);
        }
        assert_eq!(
            limiter.wait_needed(RateGroup::Heavy, t0),
            Some((secs(60) + WINDOW_SLACK, WaitCause::QuotaUsed))
        );
        // The first answer says the app's real limit has room: the rest go at once.
        limiter.on_answered(RateGroup::Heavy);
        let headers = RateHeaders {
            limit: Some(1_000),
            remaining: Some(990),
            window: Some(secs(60)),
        };
        limiter.on_headers(RateGroup::Heavy, headers, t0);
        assert_eq!(limiter.wait_needed(RateGroup::Heavy, t0), None);
    }

    #[test]
    fn remaining_counts_down_with_requests_sent_and_those_still_in_flight() {
        let mut limiter = RateLimiter::new();
        let t0 = Instant::now();
        // Three requests out at once; the first answer says 3 were left when it was counted,
        // but the other two were sent before it came back.
        for _ in 0..3 {
            limiter.on_sent(RateGroup::Light, t0);
        }
        limiter.on_answered(RateGroup::Light);
        let headers = RateHeaders {
            limit: Some(5),
            remaining: Some(3),
            window: Some(secs(60)),
        };
        limiter.on_headers(RateGroup::Light, headers, t0);
        assert_eq!(limiter.wait_needed(RateGroup::Light, t0), None);
        limiter.on_sent(RateGroup::Light, t0);
        // 3 left − 2 in flight − 1 sent: none. The own log (4 of 5) does not explain it, so the
        // next request is spaced by window / limit.
        assert_eq!(
            limiter.wait_needed(RateGroup::Light, t0),
            Some((secs(12), WaitCause::ServerQuotaEmpty))
        );
    }

    #[test]
    fn an_exhausted_server_quota_with_a_full_own_log_waits_for_the_oldest_to_leave() {
        let mut limiter = RateLimiter::new();
        let t0 = Instant::now();
        for i in 0..10u32 {
            let at = t0 + secs(u64::from(i));
            limiter.on_sent(RateGroup::Heavy, at);
            limiter.on_answered(RateGroup::Heavy);
            let headers = RateHeaders {
                limit: Some(10),
                remaining: Some(9 - i),
                window: Some(secs(60)),
            };
            limiter.on_headers(RateGroup::Heavy, headers, at);
        }
        // Asking every window/limit would be refused until t0+60: the log knows better.
        assert_eq!(
            limiter.wait_needed(RateGroup::Heavy, t0 + secs(10)),
            Some((secs(50) + WINDOW_SLACK, WaitCause::QuotaUsed))
        );
    }

    #[test]
    fn retry_after_blocks_the_group_and_the_longest_block_wins() {
        let mut limiter = RateLimiter::new();
        let t0 = Instant::now();
        limiter.on_retry_after(RateGroup::Medium, secs(42), t0);
        limiter.on_retry_after(RateGroup::Medium, secs(5), t0);
        assert_eq!(
            limiter.wait_needed(RateGroup::Medium, t0 + secs(2)),
            Some((secs(40), WaitCause::RetryAfter))
        );
        assert_eq!(limiter.wait_needed(RateGroup::Medium, t0 + secs(42)), None);
    }

    #[test]
    fn rate_headers_are_read_and_garbage_ignored() {
        let mut map = reqwest::header::HeaderMap::new();
        map.insert("X-Rate-Limit-Limit", "10".parse().unwrap());
        map.insert("X-Rate-Limit-Remaining", "nope".parse().unwrap());
        map.insert("X-Rate-Limit-Window", "60".parse().unwrap());
        let h = RateHeaders::from_headers(&map);
        assert_eq!(h.limit, Some(10));
        assert_eq!(h.remaining, None);
        assert_eq!(h.window, Some(secs(60)));
    }
}
