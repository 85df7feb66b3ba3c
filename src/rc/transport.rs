//! The one place HTTP requests to the platform are sent: rate-limit pacing per group,
//! `Retry-After` on 429 and 503, exponential backoff with jitter on 5xx and network failures.
//! Both [`crate::rc::auth`] (token calls, group Auth) and [`crate::rc::rest`] go through it.
//!
//! Waiting is never silent: every wait longer than a moment is published as a [`RestNotice`] so
//! the status line can say "rate limited by RingCentral (heavy group) — retrying in 42 s".

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::sync::broadcast;

use crate::rc::error::{ErrorCode, PlatformError, RcError, describe_wait};
use crate::rc::ratelimit::{RateGroup, RateHeaders, RateLimiter, WaitCause};

/// Waits shorter than this are routine pacing and not worth a notice.
const NOTICE_THRESHOLD: Duration = Duration::from_millis(500);

/// How hard the client tries before it reports a failure.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after a 5xx (other than 503) or a network failure; the docs say "up to 3 times".
    pub server_error_retries: u32,
    /// Retries after 429/503; each waits out `Retry-After`.
    pub rate_limit_retries: u32,
    /// First backoff delay; it doubles per retry up to `backoff_max`, with jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// The wait after a 429/503 that carries no `Retry-After` (the official SDK's default).
    pub default_retry_after: Duration,
    /// The longest `Retry-After` obeyed as given; a longer one is treated as a failure to report
    /// rather than an hour of silence.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            server_error_retries: 3,
            rate_limit_retries: 5,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(30),
            default_retry_after: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(15 * 60),
        }
    }
}

/// Why the client is waiting before its next request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeCause {
    /// The platform answered 429.
    RateLimited,
    /// The platform answered 503.
    Busy,
    /// callboard is pacing itself to stay within the group's limit.
    Pacing,
    /// The platform answered another 5xx; this is retry `retry` of `of`.
    ServerError { status: u16, retry: u32, of: u32 },
    /// The request did not reach the platform; this is retry `retry` of `of`.
    Unreachable { retry: u32, of: u32 },
}

/// A wait the client is doing, published so the UI can show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestNotice {
    pub group: RateGroup,
    pub cause: NoticeCause,
    pub wait: Duration,
    /// What the waiting request is for, e.g. "list phone numbers".
    pub action: String,
    pub code: ErrorCode,
}

impl fmt::Display for RestNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wait = describe_wait(self.wait);
        let group = self.group;
        match &self.cause {
            NoticeCause::RateLimited => write!(
                f,
                "rate limited by RingCentral ({group} group) — retrying in {wait}"
            )?,
            NoticeCause::Busy => write!(f, "RingCentral is busy (HTTP 503) — retrying in {wait}")?,
            NoticeCause::Pacing => write!(
                f,
                "pacing requests to stay within RingCentral's {group}-group limit — next in {wait}"
            )?,
            NoticeCause::ServerError { status, retry, of } => write!(
                f,
                "RingCentral had an error (HTTP {status}) — retry {retry} of {of} in {wait}"
            )?,
            NoticeCause::Unreachable { retry, of } => write!(
                f,
                "could not reach RingCentral — retry {retry} of {of} in {wait}"
            )?,
        }
        write!(f, "{}", self.code)
    }
}

/// The delay before retry number `retry` (1-based): `base · 2^(retry-1)` capped at `max`, then
/// scaled into `[½, 1]` by `jitter` (a number in `[0, 1)`), so clients that failed together do
/// not all come back in the same instant.
pub fn backoff_delay(retry: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exponent = retry.saturating_sub(1).min(16);
    let full = base.saturating_mul(1u32 << exponent).min(max);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// Reads `Retry-After` in seconds; `None` when absent or not a number of seconds.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Sends requests with pacing and retries. Shared (in an `Arc`) by auth and REST.
pub struct Transport {
    http: reqwest::Client,
    limiter: Mutex<RateLimiter>,
    notices: broadcast::Sender<RestNotice>,
    policy: RetryPolicy,
}

impl Transport {
    pub fn new(http: reqwest::Client, policy: RetryPolicy) -> Self {
        let (notices, _) = broadcast::channel(64);
        Self {
            http,
            limiter: Mutex::new(RateLimiter::new()),
            notices,
            policy,
        }
    }

    /// The plain HTTP client, for calls that must not be retried (revoke).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Subscribes to wait notices. A slow receiver misses old notices, never blocks requests.
    pub fn notices(&self) -> broadcast::Receiver<RestNotice> {
        self.notices.subscribe()
    }

    fn publish(&self, notice: RestNotice) {
        tracing::info!(target: "callboard::rc", "{notice}");
        // No receiver is fine: nobody is showing notices.
        let _ = self.notices.send(notice);
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, RateLimiter> {
        // The limiter is plain data; a panic elsewhere cannot leave it inconsistent.
        self.limiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until `group` may send, publishing a notice for a noticeable wait.
    async fn pace(&self, group: RateGroup, action: &str, code: &ErrorCode) {
        loop {
            let wait = self.limiter().wait_needed(group, Instant::now());
            let Some((wait, cause)) = wait else { return };
            if wait >= NOTICE_THRESHOLD {
                let cause = match cause {
                    WaitCause::RetryAfter => NoticeCause::RateLimited,
                    WaitCause::QuotaUsed | WaitCause::ServerQuotaEmpty => NoticeCause::Pacing,
                };
                // A Retry-After notice was already published when the 429 arrived.
                if cause != NoticeCause::RateLimited {
                    self.publish(RestNotice {
                        group,
                        cause,
                        wait,
                        action: action.to_owned(),
                        code: code.clone(),
                    });
                }
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends the request `build` makes (called again for each retry) in `group`. Returns the
    /// response for any status that is not retried (2xx, 3xx, 4xx other than 429); the caller
    /// maps those. `action` names the call in notices and errors.
    pub async fn send(
        &self,
        group: RateGroup,
        action: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RcError> {
        let mut rate_limited_tries = 0u32;
        let mut failed_tries = 0u32;
        let mut last_code = ErrorCode::default();
        loop {
            self.pace(group, action, &last_code).await;
            self.limiter().on_sent(group, Instant::now());
            let sent = build().send().await;
            self.limiter().on_answered(group);
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    failed_tries += 1;
                    let retryable = error.is_timeout() || error.is_connect() || error.is_request();
                    if !retryable || failed_tries > self.policy.server_error_retries {
                        return Err(RcError::network(action, &error));
                    }
                    self.back_off(
                        group,
                        action,
                        failed_tries,
                        NoticeCause::Unreachable {
                            retry: failed_tries,
                            of: self.policy.server_error_retries,
                        },
                        ErrorCode::default(),
                    )
                    .await;
                    continue;
                }
            };
            let headers = response.headers();
            let reported_group = headers
                .get("x-rate-limit-group")
                .and_then(|v| v.to_str().ok())
                .and_then(RateGroup::parse)
                .unwrap_or(group);
            self.limiter().on_headers(
                reported_group,
                RateHeaders::from_headers(headers),
                Instant::now(),
            );
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
            {
                rate_limited_tries += 1;
                let wait =
                    retry_after(response.headers()).unwrap_or(self.policy.default_retry_after);
                let platform =
                    PlatformError::from_body(&response.bytes().await.unwrap_or_default());
                last_code = platform.code.clone();
                if rate_limited_tries > self.policy.rate_limit_retries
                    || wait > self.policy.max_retry_after
                {
                    return Err(if status == StatusCode::TOO_MANY_REQUESTS {
                        RcError::RateLimited {
                            action: action.to_owned(),
                            group: reported_group,
                            attempts: rate_limited_tries,
                            code: platform.code,
                        }
                    } else {
                        RcError::ServerTrouble {
                            action: action.to_owned(),
                            status: status.as_u16(),
                            attempts: rate_limited_tries,
                            code: platform.code,
                        }
                    });
                }
                self.limiter().on_retry_after(group, wait, Instant::now());
                self.publish(RestNotice {
                    group: reported_group,
                    cause: if status == StatusCode::TOO_MANY_REQUESTS {
                        NoticeCause::RateLimited
                    } else {
                        NoticeCause::Busy
                    },
                    wait,
                    action: action.to_owned(),
                    code: platform.code,
                });
                continue;
            }
            if status.is_server_error() {
                failed_tries += 1;
                let platform =
                    PlatformError::from_body(&response.bytes().await.unwrap_or_default());
                if failed_tries > self.policy.server_error_retries {
                    return Err(RcError::ServerTrouble {
                        action: action.to_owned(),
                        status: status.as_u16(),
                        attempts: failed_tries,
                        code: platform.code,
                    });
                }
                self.back_off(
                    group,
                    action,
                    failed_tries,
                    NoticeCause::ServerError {
                        status: status.as_u16(),
                        retry: failed_tries,
                        of: self.policy.server_error_retries,
                    },
                    platform.code,
                )
                .await;
                continue;
            }
            return Ok(response);
        }
    }

    async fn back_off(
        &self,
        group: RateGroup,
        action: &str,
        retry: u32,
        cause: NoticeCause,
        code: ErrorCode,
    ) {
        let wait = backoff_delay(
            retry,
            self.policy.backoff_base,
            self.policy.backoff_max,
            rand::random::<f64>(),
        );
        if wait >= NOTICE_THRESHOLD {
            self.publish(RestNotice {
                group,
                cause,
                wait,
                action: action.to_owned(),
                code,
            });
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered_into_the_upper_half() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(30);
        assert_eq!(backoff_delay(1, base, max, 0.999_999).as_secs(), 1);
        assert_eq!(backoff_delay(1, base, max, 0.0), Duration::from_secs(1));
        assert_eq!(backoff_delay(2, base, max, 1.0), Duration::from_secs(4));
        assert_eq!(backoff_delay(3, base, max, 1.0), Duration::from_secs(8));
        assert_eq!(backoff_delay(10, base, max, 1.0), max);
        assert_eq!(backoff_delay(10, base, max, 0.0), max / 2);
        assert_eq!(backoff_delay(u32::MAX, base, max, 1.0), max);
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("Retry-After", "42".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(42)));
        h.insert(
            "Retry-After",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn notices_read_like_the_status_line() {
        let notice = RestNotice {
            group: RateGroup::Heavy,
            cause: NoticeCause::RateLimited,
            wait: Duration::from_secs(42),
            action: "list phone numbers".into(),
            code: ErrorCode(Some("CMN-301".into())),
        };
        assert_eq!(
            notice.to_string(),
            "rate limited by RingCentral (heavy group) — retrying in 42 s [CMN-301]"
        );
        let notice = RestNotice {
            cause: NoticeCause::ServerError {
                status: 502,
                retry: 2,
                of: 3,
            },
            wait: Duration::from_secs(4),
            code: ErrorCode::default(),
            ..notice
        };
        assert_eq!(
            notice.to_string(),
            "RingCentral had an error (HTTP 502) — retry 2 of 3 in 4 s"
        );
    }
}
