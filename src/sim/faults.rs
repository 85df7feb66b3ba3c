//! Faults injected through `POST /_sim/fault`. Socket-level faults (drop, forget, malformed
//! frames) act once, at once, in the gateway; the timed HTTP faults live here as rules with a
//! deadline that the request middleware consults. Pure logic: time is a parameter.

use super::ratelimit::Group;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The body of `POST /_sim/fault`: `{"kind": "…", …}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Cut every WebSocket without a close frame; sessions stay recoverable with `wsc`.
    DropSockets,
    /// Cut every WebSocket and forget the sessions, so recovery answers `Failed`.
    ForgetSessions,
    /// Every access token issued so far is expired now (refresh tokens keep working).
    ExpireTokens,
    /// Every request in `group` gets 429 for `seconds`.
    RateLimit { group: Group, seconds: u64 },
    /// Every request whose path starts with `path_prefix` gets `status` for `seconds`.
    HttpError {
        path_prefix: String,
        status: u16,
        seconds: u64,
    },
    /// Requests whose path starts with `path_prefix` hang until `seconds` have passed.
    Stall { path_prefix: String, seconds: u64 },
    /// Send each live socket a few broken and hostile frames.
    MalformedFrame,
    /// Caller names and number labels turn hostile (escape sequences, bidi overrides, huge text).
    HostileStrings {
        #[serde(default = "enabled_by_default")]
        enabled: bool,
    },
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq)]
struct PathRule {
    path_prefix: String,
    until: Instant,
    status: u16,
}

/// The timed faults in force.
#[derive(Debug, Default)]
pub struct FaultRules {
    forced_rate_limits: HashMap<Group, Instant>,
    http_errors: Vec<PathRule>,
    stalls: Vec<PathRule>,
}

impl FaultRules {
    pub fn force_rate_limit(&mut self, group: Group, seconds: u64, now: Instant) {
        self.forced_rate_limits
            .insert(group, now + Duration::from_secs(seconds));
    }

    pub fn add_http_error(&mut self, path_prefix: String, status: u16, seconds: u64, now: Instant) {
        self.http_errors.retain(|rule| rule.until > now);
        self.http_errors.push(PathRule {
            path_prefix,
            until: now + Duration::from_secs(seconds),
            status,
        });
    }

    pub fn add_stall(&mut self, path_prefix: String, seconds: u64, now: Instant) {
        self.stalls.retain(|rule| rule.until > now);
        self.stalls.push(PathRule {
            path_prefix,
            until: now + Duration::from_secs(seconds),
            status: 0,
        });
    }

    /// How long `group` stays forced into 429, if it is.
    pub fn forced_rate_limit(&self, group: Group, now: Instant) -> Option<Duration> {
        self.forced_rate_limits
            .get(&group)
            .filter(|&&until| until > now)
            .map(|&until| until - now)
    }

    /// The status a request to `path` must get, and for how much longer, if a rule applies.
    /// The newest matching rule wins.
    pub fn http_error(&self, path: &str, now: Instant) -> Option<(u16, Duration)> {
        self.http_errors
            .iter()
            .rev()
            .find(|rule| rule.until > now && path.starts_with(&rule.path_prefix))
            .map(|rule| (rule.status, rule.until - now))
    }

    /// How long a request to `path` must hang before it is served, if a stall applies.
    pub fn stall(&self, path: &str, now: Instant) -> Option<Duration> {
        self.stalls
            .iter()
            .filter(|rule| rule.until > now && path.starts_with(&rule.path_prefix))
            .map(|rule| rule.until - now)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_kind() {
        let parse = |v: serde_json::Value| serde_json::from_value::<Fault>(v).unwrap();
        assert_eq!(parse(json!({"kind": "drop_sockets"})), Fault::DropSockets);
        assert_eq!(
            parse(json!({"kind": "forget_sessions"})),
            Fault::ForgetSessions
        );
        assert_eq!(parse(json!({"kind": "expire_tokens"})), Fault::ExpireTokens);
        assert_eq!(
            parse(json!({"kind": "rate_limit", "group": "heavy", "seconds": 5})),
            Fault::RateLimit {
                group: Group::Heavy,
                seconds: 5
            }
        );
        assert_eq!(
            parse(
                json!({"kind": "http_error", "path_prefix": "/restapi/v1.0/account/~/call-log", "status": 503, "seconds": 2})
            ),
            Fault::HttpError {
                path_prefix: "/restapi/v1.0/account/~/call-log".into(),
                status: 503,
                seconds: 2
            }
        );
        assert_eq!(
            parse(json!({"kind": "stall", "path_prefix": "/restapi", "seconds": 1})),
            Fault::Stall {
                path_prefix: "/restapi".into(),
                seconds: 1
            }
        );
        assert_eq!(
            parse(json!({"kind": "malformed_frame"})),
            Fault::MalformedFrame
        );
        assert_eq!(
            parse(json!({"kind": "hostile_strings"})),
            Fault::HostileStrings { enabled: true }
        );
    }

    #[test]
    fn rejects_unknown_kinds_and_missing_fields() {
        assert!(serde_json::from_value::<Fault>(json!({"kind": "meteor"})).is_err());
        assert!(
            serde_json::from_value::<Fault>(json!({"kind": "rate_limit", "group": "heavy"}))
                .is_err()
        );
        assert!(
            serde_json::from_value::<Fault>(
                json!({"kind": "rate_limit", "group": "huge", "seconds": 1})
            )
            .is_err()
        );
    }

    #[test]
    fn timed_rules_expire() {
        let mut rules = FaultRules::default();
        let t0 = Instant::now();
        rules.force_rate_limit(Group::Medium, 10, t0);
        rules.add_http_error("/restapi/v1.0/account/~/call-log".into(), 503, 5, t0);
        rules.add_stall("/restapi/v1.0/account/~/phone-number".into(), 3, t0);

        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            rules.forced_rate_limit(Group::Medium, t1),
            Some(Duration::from_secs(9))
        );
        assert_eq!(rules.forced_rate_limit(Group::Heavy, t1), None);
        assert_eq!(
            rules.http_error("/restapi/v1.0/account/~/call-log?view=Detailed", t1),
            Some((503, Duration::from_secs(4)))
        );
        assert_eq!(
            rules.http_error("/restapi/v1.0/account/~/extension", t1),
            None
        );
        assert_eq!(
            rules.stall("/restapi/v1.0/account/~/phone-number/12", t1),
            Some(Duration::from_secs(2))
        );

        let late = t0 + Duration::from_secs(11);
        assert_eq!(rules.forced_rate_limit(Group::Medium, late), None);
        assert_eq!(
            rules.http_error("/restapi/v1.0/account/~/call-log", late),
            None
        );
        assert_eq!(
            rules.stall("/restapi/v1.0/account/~/phone-number", late),
            None
        );
    }

    #[test]
    fn the_newest_http_error_wins() {
        let mut rules = FaultRules::default();
        let t0 = Instant::now();
        rules.add_http_error("/restapi".into(), 500, 10, t0);
        rules.add_http_error("/restapi".into(), 503, 10, t0);
        assert_eq!(
            rules.http_error("/restapi/x", t0).map(|(s, _)| s),
            Some(503)
        );
    }
}
