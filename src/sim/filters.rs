//! Subscription event filters: parsing what a client asks for, expanding `~`, deciding which
//! world events match, the concrete `event` path each notification carries, and trimming bodies
//! to what the filter asked for. Pure logic.
//!
//! Accepted filters (anything else is SUB-508):
//! * `/restapi/v1.0/account/{a}/telephony/sessions[?…]`
//! * `/restapi/v1.0/account/{a}/extension/{e}/telephony/sessions[?…]`
//!   with `direction`, `missedCall`, `phoneNumber`, `statusCode`, `withRecordings`, `sipData`
//! * `/restapi/v1.0/account/{a}/extension/{e}/presence[?detailedTelephonyState=true[&sipData=true]]`
//! * `/restapi/v1.0/account/{a}/presence[?detailedTelephonyState=true[&sipData=true]]`
//!
//! The `/restapi/v1.0` prefix may be left out, as the platform allows.

use super::bodies::NotificationBody;
use serde_json::Value;
use std::borrow::Cow;

const API_PREFIX: &str = "/restapi/v1.0";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterKind {
    AccountTelephony,
    ExtensionTelephony { extension_id: String },
    ExtensionPresence { extension_id: String },
    AccountPresence,
}

/// The optional narrowing of a telephony-sessions filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TelephonyQuery {
    pub direction: Option<String>,
    pub missed_call: Option<bool>,
    pub phone_number: Option<String>,
    pub status_code: Option<String>,
    pub with_recordings: Option<bool>,
}

/// One parsed event filter of a subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventFilter {
    /// The filter with `~` replaced by numeric ids: what the subscription reply lists.
    pub expanded: String,
    /// The filter exactly as the client sent it: presence notifications echo it as `event`.
    pub original: String,
    pub kind: FilterKind,
    pub telephony: TelephonyQuery,
    pub detailed: bool,
    pub sip_data: bool,
}

/// Who "`~`" is, and which extensions exist.
pub struct FilterContext<'a> {
    pub account_id: &'a str,
    pub owner_extension_id: &'a str,
    pub extension_exists: &'a dyn Fn(&str) -> bool,
}

/// Parses one filter; the error says what is wrong with it, for the SUB-508 message.
pub fn parse_filter(filter: &str, ctx: &FilterContext<'_>) -> Result<EventFilter, String> {
    let (path, query) = match filter.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (filter, None),
    };
    let (had_prefix, rest) = match path.strip_prefix(API_PREFIX) {
        Some(rest) => (true, rest),
        None => (false, path),
    };
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let (account_given, tail) = match segments.as_slice() {
        ["", "account", account, tail @ ..] => (*account, tail),
        _ => return Err("the filter must start with /restapi/v1.0/account/".into()),
    };
    if account_given != "~" && account_given != ctx.account_id {
        return Err(format!(
            "account {account_given} is not the session's account"
        ));
    }
    let resolve_extension = |given: &str| -> Result<String, String> {
        let id = if given == "~" {
            ctx.owner_extension_id.to_owned()
        } else {
            given.to_owned()
        };
        if (ctx.extension_exists)(&id) {
            Ok(id)
        } else {
            Err(format!("extension {given} does not exist"))
        }
    };
    let (kind, expanded_tail) = match tail {
        ["telephony", "sessions"] => (
            FilterKind::AccountTelephony,
            "telephony/sessions".to_owned(),
        ),
        ["presence"] => (FilterKind::AccountPresence, "presence".to_owned()),
        ["extension", extension, "telephony", "sessions"] => {
            let extension_id = resolve_extension(extension)?;
            let expanded = format!("extension/{extension_id}/telephony/sessions");
            (FilterKind::ExtensionTelephony { extension_id }, expanded)
        }
        ["extension", extension, "presence"] => {
            let extension_id = resolve_extension(extension)?;
            let expanded = format!("extension/{extension_id}/presence");
            (FilterKind::ExtensionPresence { extension_id }, expanded)
        }
        _ => {
            return Err(
                "this simulator offers telephony/sessions and presence filters only".into(),
            );
        }
    };

    let mut parsed = EventFilter {
        expanded: String::new(),
        original: filter.to_owned(),
        kind,
        telephony: TelephonyQuery::default(),
        detailed: false,
        sip_data: false,
    };
    let is_telephony = matches!(
        parsed.kind,
        FilterKind::AccountTelephony | FilterKind::ExtensionTelephony { .. }
    );
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let flag = || parse_flag(&key, &value);
        match (is_telephony, key.as_ref()) {
            (_, "sipData") => parsed.sip_data = flag()?,
            (false, "detailedTelephonyState") => parsed.detailed = flag()?,
            (true, "direction") if value == "Inbound" || value == "Outbound" => {
                parsed.telephony.direction = Some(value.into_owned())
            }
            (true, "missedCall") => parsed.telephony.missed_call = Some(flag()?),
            (true, "withRecordings") => parsed.telephony.with_recordings = Some(flag()?),
            (true, "phoneNumber") => parsed.telephony.phone_number = Some(value.into_owned()),
            (true, "statusCode") => parsed.telephony.status_code = Some(value.into_owned()),
            _ => return Err(format!("parameter {key}={value} is not supported here")),
        }
    }
    let prefix = if had_prefix { API_PREFIX } else { "" };
    parsed.expanded = format!(
        "{prefix}/account/{}/{expanded_tail}{}",
        ctx.account_id,
        query.map(|q| format!("?{q}")).unwrap_or_default()
    );
    Ok(parsed)
}

fn parse_flag(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!(
            "parameter {key} must be true or false, not {value}"
        )),
    }
}

/// The `event` path of a notification. A telephony path is written straight into the frame
/// (one per event per subscriber at a burst's rate); a presence path is text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventPath<'a> {
    /// `/restapi/v1.0/account/{account}[/extension/{extension}]/telephony/sessions`: the
    /// extension of the party that changed, none for a PSTN leg.
    Telephony {
        account_id: &'a str,
        extension_id: Option<&'a str>,
    },
    Text(String),
}

impl std::fmt::Display for EventPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventPath::Telephony {
                account_id,
                extension_id: Some(ext),
            } => write!(
                f,
                "{API_PREFIX}/account/{account_id}/extension/{ext}/telephony/sessions"
            ),
            EventPath::Telephony {
                account_id,
                extension_id: None,
            } => write!(f, "{API_PREFIX}/account/{account_id}/telephony/sessions"),
            EventPath::Text(text) => f.write_str(text),
        }
    }
}

impl serde::Serialize for EventPath<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl EventFilter {
    /// The `event` path of a telephony notification for this filter, or `None` if the event
    /// does not match. `extension_id` is the changed party's extension (None for a PSTN leg).
    pub fn telephony_event<'a>(
        &self,
        account_id: &'a str,
        extension_id: Option<&'a str>,
        body: &NotificationBody,
    ) -> Option<EventPath<'a>> {
        let matches_kind = match (&self.kind, extension_id) {
            (FilterKind::AccountTelephony, _) => true,
            (
                FilterKind::ExtensionTelephony {
                    extension_id: wanted,
                },
                Some(ext),
            ) => wanted == ext,
            _ => false,
        };
        (matches_kind && self.telephony.matches(body)).then_some(EventPath::Telephony {
            account_id,
            extension_id,
        })
    }

    /// The `event` path of a presence notification for this filter, or `None` if it does not match.
    /// An extension filter echoes itself, query included, as the real platform does; an account
    /// filter names the extension whose presence changed, with the filter's query.
    pub fn presence_event(&self, account_given: &str, extension_id: &str) -> Option<String> {
        match &self.kind {
            FilterKind::ExtensionPresence {
                extension_id: wanted,
            } if wanted == extension_id => Some(self.original.clone()),
            FilterKind::AccountPresence => {
                let query = self.original.split_once('?').map(|(_, q)| q);
                Some(format!(
                    "{API_PREFIX}/account/{account_given}/extension/{extension_id}/presence{}",
                    query.map(|q| format!("?{q}")).unwrap_or_default()
                ))
            }
            _ => None,
        }
    }

    /// The notification body this filter delivers: `sipData` only when asked for, and no
    /// `activeCalls` for a plain (not detailed) presence filter. The world's bodies carry no
    /// `sipData` and callboard asks for detailed presence, so the common case is the body
    /// itself, not re-read.
    pub fn shape_body<'a>(&self, body: &'a NotificationBody) -> Cow<'a, NotificationBody> {
        let is_presence = matches!(
            self.kind,
            FilterKind::AccountPresence | FilterKind::ExtensionPresence { .. }
        );
        let strip_calls = is_presence && !self.detailed;
        let strip_sip = !self.sip_data && body.json().contains("\"sipData\"");
        if !strip_calls && !strip_sip {
            return Cow::Borrowed(body);
        }
        let list_key = if is_presence {
            "activeCalls"
        } else {
            "parties"
        };
        let mut shaped = body.to_value();
        if let Some(object) = shaped.as_object_mut() {
            if strip_calls {
                object.remove("activeCalls");
            } else if let Some(items) = object.get_mut(list_key).and_then(Value::as_array_mut) {
                for item in items {
                    if let Some(item) = item.as_object_mut() {
                        item.remove("sipData");
                    }
                }
            }
        }
        Cow::Owned(NotificationBody::from_value(&shaped))
    }

    /// The account segment as the client wrote it (`~` or the id), for presence event paths.
    pub fn account_given(&self) -> &str {
        let rest = self
            .original
            .strip_prefix(API_PREFIX)
            .unwrap_or(&self.original);
        rest.trim_start_matches("/account/")
            .split(['/', '?'])
            .next()
            .unwrap_or("~")
    }
}

impl TelephonyQuery {
    /// Whether `body` passes the query. A filter without query parameters (the usual case)
    /// matches without reading the body.
    fn matches(&self, body: &NotificationBody) -> bool {
        if *self == TelephonyQuery::default() {
            return true;
        }
        self.matches_value(&body.to_value())
    }

    fn matches_value(&self, body: &Value) -> bool {
        let party = body.pointer("/parties/0").unwrap_or(&Value::Null);
        let text = |pointer: &str| party.pointer(pointer).and_then(Value::as_str);
        if let Some(direction) = &self.direction
            && text("/direction") != Some(direction)
        {
            return false;
        }
        if let Some(code) = &self.status_code
            && text("/status/code") != Some(code)
        {
            return false;
        }
        if let Some(missed) = self.missed_call
            && party
                .get("missedCall")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                != missed
        {
            return false;
        }
        if let Some(number) = &self.phone_number {
            let wanted = number.trim_start_matches('+');
            let same =
                |pointer: &str| text(pointer).is_some_and(|n| n.trim_start_matches('+') == wanted);
            if !same("/from/phoneNumber") && !same("/to/phoneNumber") {
                return false;
            }
        }
        if let Some(with_recordings) = self.with_recordings {
            let recorded = party
                .get("recordings")
                .and_then(Value::as_array)
                .is_some_and(|r| !r.is_empty());
            if recorded != with_recordings {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ACCOUNT: &str = "809646016";
    const OWNER: &str = "62242421016";

    fn parse(filter: &str) -> Result<EventFilter, String> {
        let exists = |id: &str| id == OWNER || id == "101";
        parse_filter(
            filter,
            &FilterContext {
                account_id: ACCOUNT,
                owner_extension_id: OWNER,
                extension_exists: &exists,
            },
        )
    }

    fn party(extension: Option<&str>, code: &str) -> NotificationBody {
        let mut party = json!({"direction": "Inbound", "status": {"code": code},
            "from": {"phoneNumber": "+16505550100"}, "to": {"phoneNumber": "+14155550123"},
            "sipData": {"callId": "x"}});
        if let Some(ext) = extension {
            party["extensionId"] = json!(ext);
        }
        NotificationBody::from_value(&json!({"sequence": 2, "parties": [party]}))
    }

    #[test]
    fn tilde_expands_to_numeric_ids() {
        let f = parse("/restapi/v1.0/account/~/extension/~/presence?detailedTelephonyState=true")
            .unwrap();
        assert_eq!(
            f.expanded,
            format!(
                "/restapi/v1.0/account/{ACCOUNT}/extension/{OWNER}/presence?detailedTelephonyState=true"
            )
        );
        assert!(f.detailed);
        let f = parse("/restapi/v1.0/account/~/telephony/sessions").unwrap();
        assert_eq!(
            f.expanded,
            format!("/restapi/v1.0/account/{ACCOUNT}/telephony/sessions")
        );
        let f = parse("/account/~/extension/101/telephony/sessions/").unwrap();
        assert_eq!(
            f.expanded,
            format!("/account/{ACCOUNT}/extension/101/telephony/sessions")
        );
    }

    #[test]
    fn unknown_filters_are_refused() {
        for bad in [
            "/restapi/v1.0/account/~/extension/~/message-store",
            "/restapi/v1.0/account/123/telephony/sessions",
            "/restapi/v1.0/account/~/extension/999/presence",
            "/restapi/v1.0/account/~/telephony/sessions?detailedTelephonyState=true",
            "/restapi/v1.0/account/~/presence?detailedTelephonyState=yes",
            "/restapi/v1.0/account/~/telephony/sessions?direction=Sideways",
            "",
            "telephony",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn account_telephony_paths_name_the_party_owner() {
        let f = parse("/restapi/v1.0/account/~/telephony/sessions").unwrap();
        assert_eq!(
            f.telephony_event(ACCOUNT, Some("101"), &party(Some("101"), "Answered"))
                .map(|path| path.to_string()),
            Some(format!(
                "/restapi/v1.0/account/{ACCOUNT}/extension/101/telephony/sessions"
            ))
        );
        assert_eq!(
            f.telephony_event(ACCOUNT, None, &party(None, "Setup"))
                .map(|path| path.to_string()),
            Some(format!(
                "/restapi/v1.0/account/{ACCOUNT}/telephony/sessions"
            ))
        );
    }

    #[test]
    fn extension_telephony_matches_only_its_extension() {
        let f = parse("/restapi/v1.0/account/~/extension/101/telephony/sessions").unwrap();
        assert!(
            f.telephony_event(ACCOUNT, Some("101"), &party(Some("101"), "Answered"))
                .is_some()
        );
        assert!(
            f.telephony_event(ACCOUNT, Some("102"), &party(Some("102"), "Answered"))
                .is_none()
        );
        assert!(
            f.telephony_event(ACCOUNT, None, &party(None, "Setup"))
                .is_none()
        );
    }

    #[test]
    fn telephony_query_narrows() {
        let f = parse(
            "/restapi/v1.0/account/~/telephony/sessions?statusCode=Answered&direction=Inbound",
        )
        .unwrap();
        assert!(
            f.telephony_event(ACCOUNT, Some("101"), &party(Some("101"), "Answered"))
                .is_some()
        );
        assert!(
            f.telephony_event(ACCOUNT, Some("101"), &party(Some("101"), "Proceeding"))
                .is_none()
        );
        let f =
            parse("/restapi/v1.0/account/~/telephony/sessions?phoneNumber=%2B14155550123").unwrap();
        assert!(
            f.telephony_event(ACCOUNT, None, &party(None, "Setup"))
                .is_some()
        );
        let f =
            parse("/restapi/v1.0/account/~/telephony/sessions?phoneNumber=+14155550999").unwrap();
        assert!(
            f.telephony_event(ACCOUNT, None, &party(None, "Setup"))
                .is_none()
        );
    }

    #[test]
    fn presence_paths_echo_the_filter() {
        let f = parse("/restapi/v1.0/account/~/extension/101/presence?detailedTelephonyState=true")
            .unwrap();
        assert_eq!(
            f.presence_event("~", "101").as_deref(),
            Some("/restapi/v1.0/account/~/extension/101/presence?detailedTelephonyState=true")
        );
        assert_eq!(f.presence_event("~", "102"), None);
        let f = parse("/restapi/v1.0/account/~/presence?detailedTelephonyState=true").unwrap();
        assert_eq!(f.account_given(), "~");
        assert_eq!(
            f.presence_event(f.account_given(), "102").as_deref(),
            Some("/restapi/v1.0/account/~/extension/102/presence?detailedTelephonyState=true")
        );
    }

    #[test]
    fn bodies_carry_sip_data_and_calls_only_when_asked() {
        let body = party(Some("101"), "Answered");
        let plain = parse("/restapi/v1.0/account/~/telephony/sessions").unwrap();
        assert!(
            plain
                .shape_body(&body)
                .to_value()
                .pointer("/parties/0/sipData")
                .is_none()
        );
        let sip = parse("/restapi/v1.0/account/~/telephony/sessions?sipData=true").unwrap();
        assert!(
            sip.shape_body(&body)
                .to_value()
                .pointer("/parties/0/sipData")
                .is_some()
        );

        let presence = NotificationBody::from_value(
            &json!({"extensionId": "101", "telephonyStatus": "Ringing", "activeCalls": [{"id": "c"}]}),
        );
        let simple = parse("/restapi/v1.0/account/~/extension/101/presence").unwrap();
        let shaped = simple.shape_body(&presence).to_value();
        assert!(shaped.get("activeCalls").is_none());
        assert_eq!(shaped["telephonyStatus"], "Ringing");
        let detailed =
            parse("/restapi/v1.0/account/~/extension/101/presence?detailedTelephonyState=true")
                .unwrap();
        assert!(matches!(detailed.shape_body(&presence), Cow::Borrowed(b) if b == &presence));
    }
}
