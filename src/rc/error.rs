//! Errors of the platform client, worded for the supervisor who reads them in the status line.
//!
//! Every variant says what callboard was trying to do (`action`, e.g. "list phone numbers"), what
//! went wrong in plain words, and the platform's own error code in brackets when it sent one
//! (`[CMN-301]`), because that code is what RingCentral support asks for.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::rc::ratelimit::RateGroup;
use crate::text::sanitize;

/// The platform's error code (e.g. `CMN-301`, `OAU-140`), shown as ` [CMN-301]` after a message,
/// or nothing when the platform sent none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorCode(pub Option<String>);

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(code) => write!(f, " [{code}]"),
            None => Ok(()),
        }
    }
}

impl ErrorCode {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// What the platform said in an error body, whichever of its shapes it used: the standard
/// `{"errors":[{"errorCode","message"}]}`, the gateway's top-level `{"errorCode","message"}`, or the
/// OAuth `{"error","error_description"}`. Both strings are sanitised: they reach the screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformError {
    pub code: ErrorCode,
    pub message: Option<String>,
}

impl PlatformError {
    /// Reads an error body; anything unreadable gives an empty `PlatformError` rather than failing,
    /// because the HTTP status alone still says enough to act on.
    pub fn from_body(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Item {
            #[serde(rename = "errorCode")]
            error_code: Option<String>,
            message: Option<String>,
        }
        #[derive(Deserialize)]
        struct Body {
            #[serde(rename = "errorCode")]
            error_code: Option<String>,
            message: Option<String>,
            #[serde(default)]
            errors: Vec<Item>,
            error: Option<String>,
            error_description: Option<String>,
        }
        let Ok(body) = serde_json::from_slice::<Body>(body) else {
            return Self::default();
        };
        let first = body.errors.into_iter().next();
        let (item_code, item_message) = first.map_or((None, None), |i| (i.error_code, i.message));
        // The specific `errors[0]` code (OAU-140) beats the gateway's generic top-level one
        // (`TokenInvalid`), and both beat the OAuth `error` keyword.
        let code = item_code.or(body.error_code).or(body.error);
        let message = item_message.or(body.message).or(body.error_description);
        Self {
            code: ErrorCode(code.map(|c| sanitize(&c).into_owned())),
            message: message.map(|m| sanitize(&m).into_owned()),
        }
    }

    fn message_or<'a>(&'a self, fallback: &'a str) -> &'a str {
        self.message.as_deref().unwrap_or(fallback)
    }
}

/// Every way a call to the platform can fail, after the client's own retries.
#[derive(Debug, thiserror::Error)]
pub enum RcError {
    #[error("the RingCentral server URL {url:?} is not usable: {detail}")]
    BadServerUrl { url: String, detail: String },

    #[error(
        "refusing to send RingCentral credentials over plain {scheme}:// to {host}: use https:// (plain http is allowed only to this machine, e.g. the built-in simulator)"
    )]
    InsecureTransport { scheme: String, host: String },

    #[error(
        "RingCentral did not accept callboard's credentials (HTTP {status}){code}: {message} — check RC_CLIENT_ID, RC_CLIENT_SECRET and RC_JWT"
    )]
    LoginRejected {
        status: u16,
        code: ErrorCode,
        message: String,
    },

    #[error("could not reach RingCentral to {action}: {detail} — check the network connection")]
    Network { action: String, detail: String },

    #[error(
        "rate limited by RingCentral ({group} group) — gave up trying to {action} after {attempts} tries{code}"
    )]
    RateLimited {
        action: String,
        group: RateGroup,
        attempts: u32,
        code: ErrorCode,
    },

    #[error(
        "RingCentral is having trouble (HTTP {status}) — could not {action} after {attempts} tries{code}"
    )]
    ServerTrouble {
        action: String,
        status: u16,
        attempts: u32,
        code: ErrorCode,
    },

    #[error(
        "RingCentral no longer accepts callboard's sign-in (HTTP 401) — could not {action}{code}; restart callboard or check the JWT"
    )]
    Unauthorized { action: String, code: ErrorCode },

    #[error("callboard's RingCentral app is not allowed to {action}{code}: {message}")]
    Forbidden {
        action: String,
        code: ErrorCode,
        message: String,
    },

    #[error("could not {action}: RingCentral has no such record{code}")]
    NotFound { action: String, code: ErrorCode },

    #[error("this account's API does not allow label changes (HTTP {status}){code}")]
    LabelChangeNotAllowed { status: u16, code: ErrorCode },

    #[error("RingCentral refused to {action} (HTTP {status}){code}: {message}")]
    Rejected {
        action: String,
        status: u16,
        code: ErrorCode,
        message: String,
    },

    #[error("RingCentral sent a reply callboard cannot read while trying to {action}: {detail}")]
    Unreadable { action: String, detail: String },
}

impl RcError {
    /// The platform's error code, when it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::LoginRejected { code, .. }
            | Self::RateLimited { code, .. }
            | Self::ServerTrouble { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::NotFound { code, .. }
            | Self::LabelChangeNotAllowed { code, .. }
            | Self::Rejected { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Maps a final (non-retried) error status to the variant a supervisor can act on.
    pub(crate) fn from_status(action: &str, status: u16, platform: PlatformError) -> Self {
        let action = action.to_owned();
        match status {
            401 => Self::Unauthorized {
                action,
                code: platform.code,
            },
            403 => Self::Forbidden {
                action,
                message: platform
                    .message_or("the app or user lacks the permission")
                    .to_owned(),
                code: platform.code,
            },
            404 => Self::NotFound {
                action,
                code: platform.code,
            },
            _ => Self::Rejected {
                action,
                status,
                message: platform.message_or("no reason given").to_owned(),
                code: platform.code,
            },
        }
    }

    pub(crate) fn network(action: &str, error: &reqwest::Error) -> Self {
        // reqwest's Display can include the URL; ours never carry tokens (they travel in headers
        // and form bodies), but the query of a URL is still not worth showing, so only the kind
        // of failure is kept.
        let detail = if error.is_timeout() {
            "the request timed out".to_owned()
        } else if error.is_connect() {
            "the connection failed".to_owned()
        } else if error.is_body() || error.is_decode() {
            "the reply was cut off".to_owned()
        } else {
            "the request failed".to_owned()
        };
        Self::Network {
            action: action.to_owned(),
            detail,
        }
    }
}

/// Formats a wait for the status line: "42 s", "2 min 5 s".
pub fn describe_wait(wait: Duration) -> String {
    let secs = wait.as_secs_f64().ceil() as u64;
    if secs < 60 {
        format!("{secs} s")
    } else if secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{} min {} s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_error_body_gives_code_and_message() {
        let body = br#"{"errors":[{"errorCode":"CMN-102","message":"Resource for parameter [phoneNumberId] is not found"}]}"#;
        let e = PlatformError::from_body(body);
        assert_eq!(e.code.as_deref(), Some("CMN-102"));
        assert_eq!(
            e.message.as_deref(),
            Some("Resource for parameter [phoneNumberId] is not found")
        );
    }

    #[test]
    fn oauth_error_body_prefers_the_specific_code() {
        let body = br#"{"error" : "invalid_grant", "errors" : [ {"errorCode" : "OAU-140", "message" : "Invalid resource owner credentials"} ], "error_description" : "Invalid resource owner credentials"}"#;
        let e = PlatformError::from_body(body);
        assert_eq!(e.code.as_deref(), Some("OAU-140"));
        let old = br#"{"error":"unauthorized_client","error_description":"Unauthorized for this grant type"}"#;
        let e = PlatformError::from_body(old);
        assert_eq!(e.code.as_deref(), Some("unauthorized_client"));
        assert_eq!(
            e.message.as_deref(),
            Some("Unauthorized for this grant type")
        );
    }

    #[test]
    fn gateway_error_body_and_garbage_are_tolerated() {
        let e = PlatformError::from_body(
            br#"{"errorCode":"AGW-401","message":"Authorization header is not specified"}"#,
        );
        assert_eq!(e.code.as_deref(), Some("AGW-401"));
        assert_eq!(
            PlatformError::from_body(b"<html>502</html>"),
            PlatformError::default()
        );
    }

    #[test]
    fn hostile_platform_messages_are_sanitised() {
        let e = PlatformError::from_body(
            br#"{"errorCode":"X\u001b[2J","message":"bad\u001b]0;t\u0007"}"#,
        );
        assert_eq!(e.code.as_deref(), Some("X[2J"));
        assert_eq!(e.message.as_deref(), Some("bad]0;t"));
    }

    #[test]
    fn messages_name_the_action_and_the_code() {
        let e = RcError::RateLimited {
            action: "list phone numbers".into(),
            group: RateGroup::Heavy,
            attempts: 4,
            code: ErrorCode(Some("CMN-301".into())),
        };
        assert_eq!(
            e.to_string(),
            "rate limited by RingCentral (heavy group) — gave up trying to list phone numbers after 4 tries [CMN-301]"
        );
        let e = RcError::LabelChangeNotAllowed {
            status: 404,
            code: ErrorCode(Some("CMN-102".into())),
        };
        assert_eq!(
            e.to_string(),
            "this account's API does not allow label changes (HTTP 404) [CMN-102]"
        );
        assert_eq!(e.code(), Some("CMN-102"));
    }

    #[test]
    fn waits_read_naturally() {
        assert_eq!(describe_wait(Duration::from_millis(41_200)), "42 s");
        assert_eq!(describe_wait(Duration::from_secs(120)), "2 min");
        assert_eq!(describe_wait(Duration::from_secs(125)), "2 min 5 s");
    }
}
