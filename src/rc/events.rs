//! Typed, borrowed, tolerant parsing of what arrives over the WebSocket gateway.
//!
//! One set of types serves the live session, `callboard replay` and the benchmarks, through two
//! entry points: [`parse_frame`] reads a whole frame with serde (the session's control frames,
//! replay), [`parse_notification`] only the notification a frame carries, with the hand-written
//! [`Scanner`] (the board's path, run for every event; tests hold the two readers to each
//! other). Input is a WS text frame (`[meta]` / `[meta, body]`, PROTOCOL.md §2.2) or a bare
//! notification envelope (`{uuid, event, timestamp, subscriptionId, ownerId, body}`); the 2018
//! `pn_apns` wrapper is unwrapped too. Strings borrow from the input unless they carry JSON
//! escapes, no `serde_json::Value` is built, and the body is read once: its fields are the union
//! of the telephony-session and detailed-presence bodies, sorted out afterwards by the event path.
//!
//! Tolerance (PROTOCOL.md §9.8–9.9): ids may be JSON numbers or strings, unknown fields are
//! ignored, unknown status codes are kept as text, booleans sent as `"true"` are accepted, and a
//! missing optional field never fails a frame. A frame that is not JSON of the expected outline
//! returns [`ParseError`]; nothing here panics.
//!
//! Strings here are raw network text: the board sanitises them once, on entry.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};

use crate::rc::scan::{self, Number, Scalar, Scanner};

// ---------------------------------------------------------------------------------------------
// Scalars

/// A string from the wire, borrowed from the frame when it has no escapes. Numbers are accepted
/// and kept as their decimal text, because the platform sends some ids as JSON numbers (v1 phone
/// numbers, extension ids) and others as strings (PROTOCOL.md §7.9).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Text<'a>(pub Cow<'a, str>);

/// Ids are [`Text`]: kept as strings whatever their JSON type.
pub type Id<'a> = Text<'a>;

impl<'a> Text<'a> {
    /// The text as a `&str`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Detaches the text from the frame it was parsed from.
    pub fn into_owned(self) -> Text<'static> {
        Text(Cow::Owned(self.0.into_owned()))
    }
}

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(lenient::text_of_float(v))))
            }
        }
        deserializer.deserialize_any(TextVisitor(PhantomData))
    }
}

/// Serde helpers shared with [`crate::rc::records`]: lenient scalars for owned and borrowed types.
pub(crate) mod lenient {
    use super::*;

    /// An id sent as a float: an integral one (1.7e10) is printed without the exponent.
    pub fn text_of_float(v: f64) -> String {
        if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 {
            format!("{v:.0}")
        } else {
            v.to_string()
        }
    }

    /// A flag sent as a string: the spellings of true and false seen; anything else is unknown.
    pub fn bool_of_word(v: &str) -> Option<bool> {
        match v {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        }
    }

    /// A count sent as a float, if it is one.
    pub fn u64_of_float(v: f64) -> Option<u64> {
        (0.0..1.8e19).contains(&v).then_some(v as u64)
    }

    /// A count sent as a string, if it is one.
    pub fn u64_of_word(v: &str) -> Option<u64> {
        v.trim().parse().ok()
    }

    /// A required id (number or string) as an owned `String`.
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Text::deserialize(d).map(|t| t.0.into_owned())
    }

    /// An optional id (number, string or null) as an owned `String`.
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Option::<Text>::deserialize(d).map(|t| t.map(|t| t.0.into_owned()))
    }

    /// A boolean that may arrive as `true`, `"true"`, `1` or `null`; anything unrecognised is
    /// "unknown" rather than an error, since no flag is worth dropping a frame for.
    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        struct BoolVisitor;
        impl<'de> Visitor<'de> for BoolVisitor {
            type Value = Option<bool>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(bool_of_word(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v != 0))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(v != 0))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(BoolVisitor)
    }

    /// A non-negative integer that may arrive as a number or a numeric string; other values are
    /// "unknown".
    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        struct U64Visitor;
        impl<'de> Visitor<'de> for U64Visitor {
            type Value = Option<u64>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(u64::try_from(v).ok())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(u64_of_float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(u64_of_word(v))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(U64Visitor)
    }

    /// A number of seconds (integer or fractional, or a numeric string).
    pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        struct F64Visitor;
        impl<'de> Visitor<'de> for F64Visitor {
            type Value = Option<f64>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(v.is_finite().then_some(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(v.trim().parse().ok().filter(|f: &f64| f.is_finite()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(F64Visitor)
    }
}

/// Parses a platform timestamp. RFC 3339 is the norm (`2026-11-25T17:03:38.123Z`); older REST
/// replies write the offset without a colon (`2019-09-05T06:13:35.305+0000`), and a time with
/// no zone at all is taken as UTC.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Some(t) = parse_platform_time(s) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

/// The shape every event and envelope time has (`2026-11-25T17:03:38.123Z`), read without
/// chrono's general RFC 3339 parser, which costs several times more and runs for every event.
/// `None` for anything else (other shapes, a leap second, an impossible date), which the
/// general parsers then decide.
fn parse_platform_time(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    let separators_ok = b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z';
    if !separators_ok {
        return None;
    }
    let number = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(number(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(5, 7)?, number(8, 10)?)?;
    let time = NaiveTime::from_hms_milli_opt(
        number(11, 13)?,
        number(14, 16)?,
        number(17, 19)?,
        number(20, 23)?,
    )?;
    Some(date.and_time(time).and_utc())
}

// ---------------------------------------------------------------------------------------------
// Telephony sessions (PROTOCOL.md §3.1)

/// The state of one party, as the platform names it. Unknown codes are kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PartyStatus {
    Setup,
    Proceeding,
    Answered,
    Disconnected,
    Gone,
    Parked,
    Hold,
    /// `VoiceMail` (spec) or `Voicemail` (docs table).
    VoiceMail,
    /// `VoiceMailScreening` (spec) or `VMScreening` (docs table).
    VoiceMailScreening,
    FaxReceive,
    Tds,
    Other(String),
}

impl PartyStatus {
    /// Maps the wire spelling, accepting every spelling PROTOCOL.md §7.6 lists.
    pub fn from_code(code: &str) -> PartyStatus {
        match code {
            "Setup" => PartyStatus::Setup,
            "Proceeding" => PartyStatus::Proceeding,
            "Answered" => PartyStatus::Answered,
            "Disconnected" => PartyStatus::Disconnected,
            "Gone" => PartyStatus::Gone,
            "Parked" => PartyStatus::Parked,
            "Hold" => PartyStatus::Hold,
            "VoiceMail" | "Voicemail" => PartyStatus::VoiceMail,
            "VoiceMailScreening" | "VMScreening" => PartyStatus::VoiceMailScreening,
            "FaxReceive" => PartyStatus::FaxReceive,
            "Tds" => PartyStatus::Tds,
            other => PartyStatus::Other(other.to_owned()),
        }
    }

    /// The party has left the call for good.
    pub fn is_terminal(&self) -> bool {
        matches!(self, PartyStatus::Disconnected | PartyStatus::Gone)
    }

    /// The status as the platform spells it (spec spelling).
    pub fn as_str(&self) -> &str {
        match self {
            PartyStatus::Setup => "Setup",
            PartyStatus::Proceeding => "Proceeding",
            PartyStatus::Answered => "Answered",
            PartyStatus::Disconnected => "Disconnected",
            PartyStatus::Gone => "Gone",
            PartyStatus::Parked => "Parked",
            PartyStatus::Hold => "Hold",
            PartyStatus::VoiceMail => "VoiceMail",
            PartyStatus::VoiceMailScreening => "VoiceMailScreening",
            PartyStatus::FaxReceive => "FaxReceive",
            PartyStatus::Tds => "Tds",
            PartyStatus::Other(s) => s,
        }
    }
}

/// `Inbound` / `Outbound` from the platform's point of view of that party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    /// `None` for anything but the two documented values.
    pub fn from_wire(s: &str) -> Option<Direction> {
        match s {
            "Inbound" => Some(Direction::Inbound),
            "Outbound" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// `from` / `to` of a party (`CallPartyShortInfo`). The 2019 draft shape's `number` and
/// `mailboxId` are read as `phoneNumber` and `extensionId`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint<'a> {
    #[serde(borrow, default, alias = "number")]
    pub phone_number: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub name: Option<Text<'a>>,
    #[serde(borrow, default, alias = "mailboxId")]
    pub extension_id: Option<Id<'a>>,
}

/// `status` of a party (`CallStatusInfo`). The draft shape's `state.name` is read as `code`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusInfo<'a> {
    #[serde(borrow, default, alias = "name")]
    pub code: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub reason: Option<Text<'a>>,
}

impl StatusInfo<'_> {
    /// The typed status code, or `None` when the frame carried none.
    pub fn status(&self) -> Option<PartyStatus> {
        self.code.as_deref().map(PartyStatus::from_code)
    }
}

/// One recording of a party.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyRecording<'a> {
    #[serde(borrow, default)]
    pub id: Option<Id<'a>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub active: Option<bool>,
}

/// One party of a telephony session event (`TelephonySessionsEventPartyInfo`): the fields the
/// board reads. The rest (`accountId`, `park`, `uiCallInfo`, `standAlone`, `muted`,
/// `conferenceRole`, the status's `peerId` and `description`…) is skipped without being built:
/// this parse runs for every frame.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Party<'a> {
    #[serde(borrow, default)]
    pub id: Option<Id<'a>>,
    #[serde(borrow, default)]
    pub extension_id: Option<Id<'a>>,
    #[serde(borrow, default)]
    pub direction: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub from: Option<Endpoint<'a>>,
    #[serde(borrow, default)]
    pub to: Option<Endpoint<'a>>,
    #[serde(borrow, default, alias = "state")]
    pub status: Option<StatusInfo<'a>>,
    #[serde(borrow, default)]
    pub recordings: Option<Vec<PartyRecording<'a>>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub queue_call: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub missed_call: Option<bool>,
}

impl Party<'_> {
    /// The typed status code, if the party carried one.
    pub fn status(&self) -> Option<PartyStatus> {
        self.status.as_ref().and_then(StatusInfo::status)
    }

    /// The typed direction, if the party carried a known one.
    pub fn direction(&self) -> Option<Direction> {
        self.direction.as_deref().and_then(Direction::from_wire)
    }
}

/// The body of a telephony-session notification (`TelephonySessionsEventBody`).
#[derive(Debug, Clone, Default)]
pub struct TelephonyEvent<'a> {
    /// Per-session sequence, increasing over all parties (starts at 2 in real flows).
    pub sequence: Option<u64>,
    pub session_id: Option<Id<'a>>,
    pub telephony_session_id: Option<Id<'a>>,
    /// Time of this state change (not the call start, despite the spec's wording).
    pub event_time: Option<Text<'a>>,
    pub parties: Vec<Party<'a>>,
}

// ---------------------------------------------------------------------------------------------
// Detailed presence (PROTOCOL.md §3.2)

/// One entry of `activeCalls` in a detailed presence body (`ActiveCallInfoWithoutSIP`): the
/// fields the board reads; the rest (numbers, names, SIP data) is skipped without being built.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveCall<'a> {
    #[serde(borrow, default)]
    pub id: Option<Id<'a>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub queue_call: Option<bool>,
    #[serde(borrow, default)]
    pub telephony_session_id: Option<Id<'a>>,
    #[serde(borrow, default)]
    pub telephony_status: Option<Text<'a>>,
}

/// The body of a detailed presence notification (`DetailedExtensionPresenceEventBody`).
#[derive(Debug, Clone, Default)]
pub struct PresenceEvent<'a> {
    pub extension_id: Option<Id<'a>>,
    /// Per-extension counter.
    pub sequence: Option<u64>,
    /// `NoCall`, `CallConnected`, `Ringing`, `OnHold`, `ParkedCall`.
    pub telephony_status: Option<Text<'a>>,
    /// `Offline`, `Busy`, `Available`.
    pub presence_status: Option<Text<'a>>,
    pub user_status: Option<Text<'a>>,
    pub dnd_status: Option<Text<'a>>,
    pub active_calls: Vec<ActiveCall<'a>>,
    pub accept_call_queue_calls: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// Notification envelope

/// What a notification body turned out to be.
#[derive(Debug, Clone)]
pub enum EventBody<'a> {
    Telephony(TelephonyEvent<'a>),
    Presence(PresenceEvent<'a>),
    /// A notification callboard does not use (message store, …) or one with no body.
    Other,
}

/// A notification envelope (the webhook body; the second element of a ServerNotification): the
/// fields callboard reads. `uuid`, `subscriptionId` and `ownerId` are skipped without being
/// built (nothing reads them; the uuid repeats `meta.messageId`, which the session task reads).
#[derive(Debug, Clone)]
pub struct Notification<'a> {
    /// The concrete event path, e.g. `/restapi/v1.0/account/1/telephony/sessions`.
    pub event: Option<Text<'a>>,
    pub timestamp: Option<Text<'a>>,
    pub body: EventBody<'a>,
}

/// The envelope as read: every field optional; `pn_apns` is the 2018 APNS wrapper.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope<'a> {
    #[serde(borrow, default)]
    event: Option<Text<'a>>,
    #[serde(borrow, default)]
    timestamp: Option<Text<'a>>,
    #[serde(borrow, default)]
    body: Option<RawBody<'a>>,
    #[serde(borrow, default, rename = "pn_apns")]
    pn_apns: Option<Box<RawEnvelope<'a>>>,
}

/// The union of the telephony-session and detailed-presence body fields, so the body is read in
/// one pass whatever order the envelope's keys come in.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBody<'a> {
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    sequence: Option<u64>,
    #[serde(borrow, default)]
    session_id: Option<Id<'a>>,
    #[serde(borrow, default)]
    telephony_session_id: Option<Id<'a>>,
    #[serde(borrow, default)]
    event_time: Option<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "parties")]
    parties: Option<Vec<Party<'a>>>,
    #[serde(borrow, default)]
    extension_id: Option<Id<'a>>,
    #[serde(borrow, default)]
    telephony_status: Option<Text<'a>>,
    #[serde(borrow, default)]
    presence_status: Option<Text<'a>>,
    #[serde(borrow, default)]
    user_status: Option<Text<'a>>,
    #[serde(borrow, default)]
    dnd_status: Option<Text<'a>>,
    #[serde(borrow, default)]
    active_calls: Option<Vec<ActiveCall<'a>>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    accept_call_queue_calls: Option<bool>,
}

/// The parties of a telephony body, in a list sized to what arrived. serde's own `Vec` starts
/// at four elements, and four `Party`s are over a kilobyte: too large for the allocator's
/// per-thread cache, so every event paid the slow path to allocate and free them. Events carry
/// one party.
fn parties<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Party<'a>>>, D::Error> {
    struct PartiesVisitor<'a>(PhantomData<&'a ()>);
    impl<'de: 'a, 'a> Visitor<'de> for PartiesVisitor<'a> {
        type Value = Option<Vec<Party<'a>>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of parties")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut parties = Vec::with_capacity(1);
            while let Some(party) = seq.next_element()? {
                parties.reserve_exact(1);
                parties.push(party);
            }
            Ok(Some(parties))
        }
    }
    d.deserialize_option(PartiesVisitor(PhantomData))
}

impl<'a> RawEnvelope<'a> {
    fn into_notification(self) -> Notification<'a> {
        // The 2018 APNS envelope repeats the real envelope inside `pn_apns`.
        if self.body.is_none() {
            if let Some(inner) = self.pn_apns {
                return inner.into_notification();
            }
        }
        let body = match self.body {
            None => EventBody::Other,
            Some(raw) => raw.classify(self.event.as_deref()),
        };
        Notification {
            event: self.event,
            timestamp: self.timestamp,
            body,
        }
    }
}

impl<'a> RawBody<'a> {
    /// Decides by the event path, falling back on the body's own fields when the path is
    /// missing or unfamiliar (a bare body in a test, the legacy draft shape).
    fn classify(self, event_path: Option<&str>) -> EventBody<'a> {
        const TELEPHONY: &str = "/telephony/sessions";
        let by_path = event_path.map(|p| {
            // Telephony paths end with it; the suffix test spares most frames the search.
            if p.ends_with(TELEPHONY) || p.contains(TELEPHONY) {
                Some(true)
            } else if p.contains("/presence") {
                Some(false)
            } else {
                None
            }
        });
        let is_telephony = match by_path.flatten() {
            Some(t) => t,
            None if self.parties.is_some() => true,
            None if self.presence_status.is_some()
                || self.telephony_status.is_some()
                || self.active_calls.is_some() =>
            {
                false
            }
            None => return EventBody::Other,
        };
        if is_telephony {
            EventBody::Telephony(TelephonyEvent {
                sequence: self.sequence,
                session_id: self.session_id,
                telephony_session_id: self.telephony_session_id,
                event_time: self.event_time,
                parties: self.parties.unwrap_or_default(),
            })
        } else {
            EventBody::Presence(PresenceEvent {
                extension_id: self.extension_id,
                sequence: self.sequence,
                telephony_status: self.telephony_status,
                presence_status: self.presence_status,
                user_status: self.user_status,
                dnd_status: self.dnd_status,
                active_calls: self.active_calls.unwrap_or_default(),
                accept_call_queue_calls: self.accept_call_queue_calls,
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// WebSocket frames (PROTOCOL.md §2.2–2.4)

/// `meta.type` of a WS frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageType {
    ClientRequest,
    ServerNotification,
    Error,
    ConnectionDetails,
    Heartbeat,
    /// A type this client does not know, or none.
    #[default]
    Unknown,
}

impl MessageType {
    /// The type a `meta.type` names; `Unknown` for any other.
    pub fn from_wire(name: &str) -> MessageType {
        match name {
            "ClientRequest" => MessageType::ClientRequest,
            "ServerNotification" => MessageType::ServerNotification,
            "Error" => MessageType::Error,
            "ConnectionDetails" => MessageType::ConnectionDetails,
            "Heartbeat" => MessageType::Heartbeat,
            _ => MessageType::Unknown,
        }
    }
}

impl<'de> Deserialize<'de> for MessageType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(MessageType::from_wire(&Text::deserialize(d)?))
    }
}

/// The WS session context token (`meta.wsc`), kept for recovery.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Wsc<'a> {
    #[serde(borrow, default)]
    pub token: Option<Text<'a>>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub sequence: Option<u64>,
}

/// The `meta.headers` callboard reads; others are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Headers<'a> {
    #[serde(borrow, default, rename = "RCRequestId")]
    pub rc_request_id: Option<Text<'a>>,
    #[serde(borrow, default, rename = "WSG-SubscriptionId")]
    pub subscription_id: Option<Text<'a>>,
    #[serde(borrow, default, rename = "X-Rate-Limit-Group")]
    pub rate_limit_group: Option<Text<'a>>,
    #[serde(
        default,
        rename = "X-Rate-Limit-Limit",
        deserialize_with = "lenient::opt_u64"
    )]
    pub rate_limit_limit: Option<u64>,
    #[serde(
        default,
        rename = "X-Rate-Limit-Remaining",
        deserialize_with = "lenient::opt_u64"
    )]
    pub rate_limit_remaining: Option<u64>,
    #[serde(
        default,
        rename = "X-Rate-Limit-Window",
        deserialize_with = "lenient::opt_u64"
    )]
    pub rate_limit_window: Option<u64>,
    #[serde(default, rename = "Retry-After", deserialize_with = "lenient::opt_u64")]
    pub retry_after: Option<u64>,
}

/// The first element of every WS frame.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta<'a> {
    #[serde(default, rename = "type")]
    pub kind: MessageType,
    #[serde(borrow, default)]
    pub message_id: Option<Text<'a>>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub status: Option<u64>,
    #[serde(borrow, default)]
    pub headers: Option<Headers<'a>>,
    #[serde(borrow, default)]
    pub wsc: Option<Wsc<'a>>,
    #[serde(borrow, default)]
    pub method: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub path: Option<Text<'a>>,
}

/// The body of a ConnectionDetails frame.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionDetails<'a> {
    #[serde(borrow, default)]
    pub creation_time: Option<Text<'a>>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub max_connections_per_session: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub recovery_buffer_size: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub recovery_timeout: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub idle_timeout: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub absolute_timeout: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub max_active_requests: Option<u64>,
    /// `Successful` or `Failed`; present only when the connect URL carried `wsc`.
    #[serde(borrow, default)]
    pub recovery_state: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub recovery_error_code: Option<Text<'a>>,
}

/// One item of a platform `errors[]` list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiErrorItem<'a> {
    #[serde(borrow, default)]
    pub error_code: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub message: Option<Text<'a>>,
}

/// The body of a reply to a ClientRequest: a subscription (`SubscriptionInfo`) on success, an
/// error body otherwise. All fields are optional so one type reads both.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientReply<'a> {
    #[serde(borrow, default)]
    pub id: Option<Id<'a>>,
    #[serde(borrow, default)]
    pub uri: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub status: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub event_filters: Option<Vec<Text<'a>>>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub expires_in: Option<u64>,
    #[serde(borrow, default)]
    pub expiration_time: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub creation_time: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub error_code: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub message: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub errors: Option<Vec<ApiErrorItem<'a>>>,
}

/// The body of an `Error` frame (`{errorCode: "WSG-…", message}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WsgError<'a> {
    #[serde(borrow, default)]
    pub error_code: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub message: Option<Text<'a>>,
}

/// The second element of a frame, typed by the frame's `meta.type`.
#[derive(Debug, Clone)]
pub enum FrameBody<'a> {
    /// `[meta]` alone, a `null` body, or a body of a frame type that has none worth reading.
    None,
    Notification(Notification<'a>),
    ConnectionDetails(ConnectionDetails<'a>),
    ClientReply(ClientReply<'a>),
    Error(WsgError<'a>),
}

/// A parsed WS frame, or a bare notification envelope (then `meta` is `None`).
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    pub meta: Option<Meta<'a>>,
    pub body: FrameBody<'a>,
}

impl<'a> Frame<'a> {
    /// The notification this frame carries, if it carries one.
    pub fn notification(&self) -> Option<&Notification<'a>> {
        match &self.body {
            FrameBody::Notification(n) => Some(n),
            _ => None,
        }
    }
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("empty frame")]
    Empty,
    #[error(
        "frame is neither a WebSocket frame array nor a notification object (starts with {0:?})"
    )]
    Shape(char),
    #[error("malformed frame JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("malformed frame JSON: {0}")]
    Syntax(#[from] Box<scan::SyntaxError>),
}

/// Reads one WS text frame or one bare notification envelope.
pub fn parse_frame(text: &str) -> Result<Frame<'_>, ParseError> {
    match first_significant_char(text) {
        None => Err(ParseError::Empty),
        Some('[') => Ok(serde_json::from_str::<FrameSeq>(text)?.0),
        Some('{') => {
            let envelope: RawEnvelope = serde_json::from_str(text)?;
            Ok(Frame {
                meta: None,
                body: FrameBody::Notification(envelope.into_notification()),
            })
        }
        Some(c) => Err(ParseError::Shape(c)),
    }
}

/// Reads the notification a WS text frame or a bare envelope carries, and nothing else: of the
/// meta only `type` is read (the socket task has already read the rest), and the body
/// of any other frame type is skipped without being built. `Ok(None)` for a frame that carries
/// no notification (a heartbeat, a reply, a notification frame with a `null` body). This is the
/// board's path: it runs for every event, so it builds nothing the board does not read.
///
/// It reads with [`Scanner`] rather than serde: the same outline, tolerance and refusals as
/// [`parse_frame`]'s types (tests hold the two to each other), at a fraction of the cost.
pub fn parse_notification(text: &str) -> Result<Option<Notification<'_>>, ParseError> {
    let mut scanner = Scanner::new(text);
    let note = match first_significant_char(text) {
        None => return Err(ParseError::Empty),
        Some('[') => read::notification_frame(&mut scanner)?,
        Some('{') => {
            let mut envelope = RawEnvelope::default();
            read::envelope(&mut scanner, &mut envelope)?;
            Some(envelope.into_notification())
        }
        Some(c) => return Err(ParseError::Shape(c)),
    };
    scanner.finish()?;
    Ok(note)
}

/// Reads only the `meta` of a WS frame (the body is skipped without being built), for control
/// decisions on the socket task. A bare envelope has no meta and is an error here.
pub fn peek_meta(text: &str) -> Result<Meta<'_>, ParseError> {
    match first_significant_char(text) {
        None => Err(ParseError::Empty),
        Some('[') => Ok(serde_json::from_str::<MetaOnly>(text)?.0),
        Some(c) => Err(ParseError::Shape(c)),
    }
}

fn first_significant_char(text: &str) -> Option<char> {
    // Frames start with their bracket: spare them the Unicode-aware trim.
    match text.as_bytes().first() {
        Some(b @ (b'[' | b'{')) => Some(char::from(*b)),
        _ => text
            .trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}')
            .chars()
            .next(),
    }
}

/// Deserialises `[meta, body?, …]`, choosing the body type from `meta.type`.
struct FrameSeq<'a>(Frame<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for FrameSeq<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FrameVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for FrameVisitor<'a> {
            type Value = FrameSeq<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a WebSocket frame [meta, body?]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let meta: Meta<'a> = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let body = match meta.kind {
                    MessageType::ServerNotification => seq
                        .next_element::<Option<RawEnvelope<'a>>>()?
                        .flatten()
                        .map(|e| FrameBody::Notification(e.into_notification())),
                    MessageType::ConnectionDetails => seq
                        .next_element::<Option<ConnectionDetails<'a>>>()?
                        .flatten()
                        .map(FrameBody::ConnectionDetails),
                    MessageType::ClientRequest => seq
                        .next_element::<Option<ClientReply<'a>>>()?
                        .flatten()
                        .map(FrameBody::ClientReply),
                    MessageType::Error => seq
                        .next_element::<Option<WsgError<'a>>>()?
                        .flatten()
                        .map(FrameBody::Error),
                    MessageType::Heartbeat | MessageType::Unknown => {
                        seq.next_element::<IgnoredAny>()?;
                        None
                    }
                };
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FrameSeq(Frame {
                    meta: Some(meta),
                    body: body.unwrap_or(FrameBody::None),
                }))
            }
        }
        d.deserialize_seq(FrameVisitor(PhantomData))
    }
}

/// The board's reader ([`parse_notification`]): the notification outline read with [`Scanner`],
/// field by field into the same types [`parse_frame`] builds with serde, with the same rules:
/// aliases, lenient scalars ([`lenient`]), `null` for any optional field, unknown keys skipped,
/// a field given twice refused, an object or list where a scalar belongs refused.
mod read {
    use super::*;

    type Result<T> = scan::Result<T>;

    /// `[meta, body?, …]`: the notification the body carries if `meta.type` says there is one.
    pub(super) fn notification_frame<'a>(s: &mut Scanner<'a>) -> Result<Option<Notification<'a>>> {
        let mut kind = None;
        let mut note = None;
        s.array(|s| match kind {
            None => {
                kind = Some(meta_type(s)?);
                Ok(true)
            }
            Some(MessageType::ServerNotification) => {
                if !s.null()? {
                    let mut raw = RawEnvelope::default();
                    envelope(s, &mut raw)?;
                    note = Some(raw.into_notification());
                }
                Ok(false)
            }
            Some(_) => {
                s.skip()?;
                Ok(false)
            }
        })?;
        if kind.is_none() {
            return Err(s.error("a WebSocket frame without its meta"));
        }
        Ok(note)
    }

    /// `meta.type` of a frame's meta; the other meta fields are skipped.
    fn meta_type(s: &mut Scanner<'_>) -> Result<MessageType> {
        let mut kind = MessageType::Unknown;
        let mut seen = Seen::default();
        s.object(|s, key| match key {
            "type" => {
                seen.first(s, 0)?;
                match text(s)? {
                    Some(name) => kind = MessageType::from_wire(&name),
                    None => return Err(s.error("a meta type that is null")),
                }
                Ok(())
            }
            _ => s.skip(),
        })?;
        Ok(kind)
    }

    /// A notification envelope (or the 2018 `pn_apns` wrapper inside one).
    pub(super) fn envelope<'a>(s: &mut Scanner<'a>, envelope: &mut RawEnvelope<'a>) -> Result<()> {
        let mut seen = Seen::default();
        s.object(|s, key| {
            match key {
                "event" => {
                    seen.first(s, 0)?;
                    envelope.event = text(s)?;
                }
                "timestamp" => {
                    seen.first(s, 1)?;
                    envelope.timestamp = text(s)?;
                }
                "body" => {
                    seen.first(s, 2)?;
                    if !s.null()? {
                        body(s, envelope.body.insert(RawBody::default()))?;
                    }
                }
                "pn_apns" => {
                    seen.first(s, 3)?;
                    if !s.null()? {
                        let inner = envelope.pn_apns.insert(Box::default());
                        self::envelope(s, inner)?;
                    }
                }
                _ => s.skip()?,
            }
            Ok(())
        })
    }

    /// A notification body: the union of the telephony and presence fields.
    fn body<'a>(s: &mut Scanner<'a>, body: &mut RawBody<'a>) -> Result<()> {
        let mut seen = Seen::default();
        s.object(|s, key| {
            match key {
                "sequence" => {
                    seen.first(s, 0)?;
                    body.sequence = opt_u64(s)?;
                }
                "sessionId" => {
                    seen.first(s, 1)?;
                    body.session_id = text(s)?;
                }
                "telephonySessionId" => {
                    seen.first(s, 2)?;
                    body.telephony_session_id = text(s)?;
                }
                "eventTime" => {
                    seen.first(s, 3)?;
                    body.event_time = text(s)?;
                }
                "parties" => {
                    seen.first(s, 4)?;
                    if !s.null()? {
                        // Sized to what arrived, as the serde path does (see `parties`).
                        let mut parties = Vec::with_capacity(1);
                        s.array(|s| {
                            parties.reserve_exact(1);
                            parties.push(Party::default());
                            let last = parties.len() - 1;
                            party(s, &mut parties[last])?;
                            Ok(true)
                        })?;
                        body.parties = Some(parties);
                    }
                }
                "extensionId" => {
                    seen.first(s, 5)?;
                    body.extension_id = text(s)?;
                }
                "telephonyStatus" => {
                    seen.first(s, 6)?;
                    body.telephony_status = text(s)?;
                }
                "presenceStatus" => {
                    seen.first(s, 7)?;
                    body.presence_status = text(s)?;
                }
                "userStatus" => {
                    seen.first(s, 8)?;
                    body.user_status = text(s)?;
                }
                "dndStatus" => {
                    seen.first(s, 9)?;
                    body.dnd_status = text(s)?;
                }
                "activeCalls" => {
                    seen.first(s, 10)?;
                    body.active_calls = optional_list(s, active_call)?;
                }
                "acceptCallQueueCalls" => {
                    seen.first(s, 11)?;
                    body.accept_call_queue_calls = opt_bool(s)?;
                }
                _ => s.skip()?,
            }
            Ok(())
        })
    }

    fn party<'a>(s: &mut Scanner<'a>, party: &mut Party<'a>) -> Result<()> {
        let mut seen = Seen::default();
        s.object(|s, key| {
            match key {
                "id" => {
                    seen.first(s, 0)?;
                    party.id = text(s)?;
                }
                "extensionId" => {
                    seen.first(s, 1)?;
                    party.extension_id = text(s)?;
                }
                "direction" => {
                    seen.first(s, 2)?;
                    party.direction = text(s)?;
                }
                "from" => {
                    seen.first(s, 3)?;
                    party.from = optional(s, endpoint)?;
                }
                "to" => {
                    seen.first(s, 4)?;
                    party.to = optional(s, endpoint)?;
                }
                "status" | "state" => {
                    seen.first(s, 5)?;
                    party.status = optional(s, status)?;
                }
                "recordings" => {
                    seen.first(s, 6)?;
                    party.recordings = optional_list(s, recording)?;
                }
                "queueCall" => {
                    seen.first(s, 7)?;
                    party.queue_call = opt_bool(s)?;
                }
                "missedCall" => {
                    seen.first(s, 8)?;
                    party.missed_call = opt_bool(s)?;
                }
                _ => s.skip()?,
            }
            Ok(())
        })
    }

    fn endpoint<'a>(s: &mut Scanner<'a>) -> Result<Endpoint<'a>> {
        let mut endpoint = Endpoint::default();
        let mut seen = Seen::default();
        s.object(|s, key| {
            match key {
                "phoneNumber" | "number" => {
                    seen.first(s, 0)?;
                    endpoint.phone_number = text(s)?;
                }
                "name" => {
                    seen.first(s, 1)?;
                    endpoint.name = text(s)?;
                }
                "extensionId" | "mailboxId" => {
                    seen.first(s, 2)?;
                    endpoint.extension_id = text(s)?;
                }
                _ => s.skip()?,
            }
            Ok(())
        })?;
        Ok(endpoint)
    }

    fn status<'a>(s: &mut Scanner<'a>) -> Result<StatusInfo<'a>> {
        let mut status = StatusInfo::default();
        let mut seen = Seen::default();
        s.object(|s, key| {
            match key {
                "code" | "name" => {
                    seen.first(s, 0)?;
                    status.code = text(s)?;
                }
                "reason" => {
                    seen.first(s, 1)?;
                    status.reason = text(s)?;
                }
                _ => s.skip()?,
            }
            Ok(())
        })?;
        Ok(status)
    }

    fn recording<'a>(s: &mut Scanner<'a>) -> Result<PartyRecording<'a>> {
        let mut recording = PartyRecording::default();
        let mut seen = Seen::default();
        s.object(|s, key| {
            match key {
                "id" => {
                    seen.first(s, 0)?;
                    recording.id = text(s)?;
                }
                "active" => {
                    seen.first(s, 1)?;
                    recording.active = opt_bool(s)?;
                }
                _ => s.skip()?,
            }
            Ok(())
        })?;
        Ok(recording)
    }

    fn active_call<'a>(s: &mut Scanner<'a>) -> Result<ActiveCall<'a>> {
        let mut call = ActiveCall::default();
        let mut seen = Seen::default();
        s.object(|s, key| {
            match key {
                "id" => {
                    seen.first(s, 0)?;
                    call.id = text(s)?;
                }
                "queueCall" => {
                    seen.first(s, 1)?;
                    call.queue_call = opt_bool(s)?;
                }
                "telephonySessionId" => {
                    seen.first(s, 2)?;
                    call.telephony_session_id = text(s)?;
                }
                "telephonyStatus" => {
                    seen.first(s, 3)?;
                    call.telephony_status = text(s)?;
                }
                _ => s.skip()?,
            }
            Ok(())
        })?;
        Ok(call)
    }

    /// An object read by `read`, or `null`.
    fn optional<'a, T>(
        s: &mut Scanner<'a>,
        read: impl FnOnce(&mut Scanner<'a>) -> Result<T>,
    ) -> Result<Option<T>> {
        if s.null()? {
            Ok(None)
        } else {
            read(s).map(Some)
        }
    }

    /// A list of objects read by `read`, or `null`.
    fn optional_list<'a, T>(
        s: &mut Scanner<'a>,
        mut read: impl FnMut(&mut Scanner<'a>) -> Result<T>,
    ) -> Result<Option<Vec<T>>> {
        optional(s, |s| {
            let mut list = Vec::new();
            s.array(|s| {
                list.push(read(s)?);
                Ok(true)
            })?;
            Ok(list)
        })
    }

    /// A [`Text`]: a string, or a number kept as its decimal text; `null` is `None`.
    fn text<'a>(s: &mut Scanner<'a>) -> Result<Option<Text<'a>>> {
        // Nearly every text is a string: read it without going through `Scalar`.
        if s.peek() == Some(b'"') {
            return Ok(Some(Text(s.string()?)));
        }
        Ok(
            match s.scalar("an object or list where a string or number belongs")? {
                Scalar::Null => None,
                Scalar::Str(v) => Some(Text(v)),
                Scalar::Number(Number::U64(_, literal) | Number::I64(_, literal)) => {
                    Some(Text(Cow::Borrowed(literal)))
                }
                Scalar::Number(Number::F64(v)) => Some(Text(Cow::Owned(lenient::text_of_float(v)))),
                Scalar::Bool(_) => {
                    return Err(s.error("a boolean where a string or number belongs"));
                }
            },
        )
    }

    /// [`lenient::opt_bool`]'s rules.
    fn opt_bool(s: &mut Scanner<'_>) -> Result<Option<bool>> {
        Ok(
            match s.scalar("an object or list where a boolean belongs")? {
                Scalar::Null | Scalar::Number(Number::F64(_)) => None,
                Scalar::Bool(v) => Some(v),
                Scalar::Str(v) => lenient::bool_of_word(&v),
                Scalar::Number(Number::U64(v, _)) => Some(v != 0),
                Scalar::Number(Number::I64(v, _)) => Some(v != 0),
            },
        )
    }

    /// [`lenient::opt_u64`]'s rules.
    fn opt_u64(s: &mut Scanner<'_>) -> Result<Option<u64>> {
        Ok(
            match s.scalar("an object or list where a number belongs")? {
                Scalar::Null | Scalar::Bool(_) => None,
                Scalar::Str(v) => lenient::u64_of_word(&v),
                Scalar::Number(Number::U64(v, _)) => Some(v),
                Scalar::Number(Number::I64(v, _)) => u64::try_from(v).ok(),
                Scalar::Number(Number::F64(v)) => lenient::u64_of_float(v),
            },
        )
    }

    /// The fields of one object already read, by their index in its reader: a field given
    /// twice (under any of its names) is refused, as serde's derived readers refuse it.
    #[derive(Default)]
    struct Seen(u16);

    impl Seen {
        fn first(&mut self, s: &Scanner<'_>, field: u8) -> Result<()> {
            let bit = 1 << field;
            if self.0 & bit != 0 {
                return Err(s.error("a field given twice"));
            }
            self.0 |= bit;
            Ok(())
        }
    }
}

/// Deserialises `[meta, …]` keeping only the meta.
struct MetaOnly<'a>(Meta<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for MetaOnly<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MetaVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for MetaVisitor<'a> {
            type Value = MetaOnly<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a WebSocket frame [meta, body?]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let meta = seq
                    .next_element::<Meta<'a>>()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MetaOnly(meta))
            }
        }
        d.deserialize_seq(MetaVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The board's parse as it was written with serde, kept as the reference the hand-written
    // reader is held to.

    fn parse_notification_with_serde(text: &str) -> Result<Option<Notification<'_>>, ParseError> {
        match first_significant_char(text) {
            None => Err(ParseError::Empty),
            Some('[') => Ok(serde_json::from_str::<NotificationSeq>(text)?.0),
            Some('{') => {
                let envelope: RawEnvelope = serde_json::from_str(text)?;
                Ok(Some(envelope.into_notification()))
            }
            Some(c) => Err(ParseError::Shape(c)),
        }
    }

    /// `meta.type` alone: the other meta fields are skipped.
    #[derive(Deserialize)]
    struct MetaType {
        #[serde(default, rename = "type")]
        kind: MessageType,
    }

    /// Deserialises `[meta, body?, …]` into the notification the body carries, if the meta says it
    /// is one.
    struct NotificationSeq<'a>(Option<Notification<'a>>);

    impl<'de: 'a, 'a> Deserialize<'de> for NotificationSeq<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct NotificationVisitor<'a>(PhantomData<&'a ()>);
            impl<'de: 'a, 'a> Visitor<'de> for NotificationVisitor<'a> {
                type Value = NotificationSeq<'a>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a WebSocket frame [meta, body?]")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                    let meta: MetaType = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                    let note = if meta.kind == MessageType::ServerNotification {
                        seq.next_element::<Option<RawEnvelope<'a>>>()?
                            .flatten()
                            .map(RawEnvelope::into_notification)
                    } else {
                        None
                    };
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(NotificationSeq(note))
                }
            }
            d.deserialize_seq(NotificationVisitor(PhantomData))
        }
    }

    macro_rules! sample {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/samples/",
                $name
            ))
        };
    }

    /// The value under `key` of a sample file that groups several payloads, as JSON text.
    fn member(doc: &str, key: &str) -> String {
        let all: serde_json::Value = serde_json::from_str(doc).unwrap();
        serde_json::to_string(&all[key]).unwrap()
    }

    fn telephony<'f>(frame: &'f Frame<'_>) -> &'f TelephonyEvent<'f> {
        match &frame.notification().unwrap().body {
            EventBody::Telephony(ev) => ev,
            other => panic!("expected a telephony body, got {other:?}"),
        }
    }

    fn presence<'f>(frame: &'f Frame<'_>) -> &'f PresenceEvent<'f> {
        match &frame.notification().unwrap().body {
            EventBody::Presence(ev) => ev,
            other => panic!("expected a presence body, got {other:?}"),
        }
    }

    #[test]
    fn connection_details_frames() {
        let frame = parse_frame(sample!("ws-01-connection-details.json")).unwrap();
        let meta = frame.meta.as_ref().unwrap();
        assert_eq!(meta.kind, MessageType::ConnectionDetails);
        let wsc = meta.wsc.as_ref().unwrap();
        assert_eq!(wsc.sequence, Some(1));
        assert_eq!(
            wsc.token.as_deref(),
            Some("RTFhRG5nfExxxxxxxxxxxcHE3bXkyRURQVQ")
        );
        let FrameBody::ConnectionDetails(details) = &frame.body else {
            panic!("expected ConnectionDetails, got {:?}", frame.body);
        };
        assert_eq!(details.recovery_timeout, Some(180));
        assert_eq!(details.max_active_requests, Some(10));
        assert!(details.recovery_state.is_none());

        let frame = parse_frame(sample!("ws-02-connection-details-recovery.json")).unwrap();
        let FrameBody::ConnectionDetails(details) = &frame.body else {
            panic!("expected ConnectionDetails, got {:?}", frame.body);
        };
        assert_eq!(details.recovery_state.as_deref(), Some("Successful"));
        assert_eq!(details.recovery_timeout, Some(30));
    }

    #[test]
    fn subscription_replies_and_requests() {
        for key in ["php_sdk_test_2020", "python_sdk_test_2025"] {
            let text = member(sample!("ws-04-subscription-responses.json"), key);
            let frame = parse_frame(&text).unwrap();
            assert_eq!(
                frame.meta.as_ref().unwrap().kind,
                MessageType::ClientRequest
            );
            assert_eq!(frame.meta.as_ref().unwrap().status, Some(200));
            let FrameBody::ClientReply(reply) = &frame.body else {
                panic!("{key}: expected a reply body");
            };
            assert_eq!(reply.status.as_deref(), Some("Active"));
            assert!(reply.id.as_deref().unwrap().len() > 30);
            assert!(reply.expires_in.unwrap() >= 843);
        }
        let request = parse_frame(sample!("ws-03-subscription-request.json")).unwrap();
        let meta = request.meta.unwrap();
        assert_eq!(meta.method.as_deref(), Some("POST"));
        assert_eq!(meta.path.as_deref(), Some("/restapi/v1.0/subscription/"));
    }

    #[test]
    fn misc_frames_heartbeat_rate_limit_error() {
        let doc = sample!("ws-06-misc-frames.json");
        let heartbeat_text = member(doc, "heartbeat_request_and_response_docs");
        let heartbeat = parse_frame(&heartbeat_text).unwrap();
        assert_eq!(heartbeat.meta.unwrap().kind, MessageType::Heartbeat);
        assert!(matches!(heartbeat.body, FrameBody::None));

        let reply_text = member(doc, "clientrequest_response_meta_devtest_2020");
        let meta = peek_meta(&reply_text).unwrap();
        let headers = meta.headers.unwrap();
        assert_eq!(headers.rate_limit_group.as_deref(), Some("medium"));
        assert_eq!(headers.rate_limit_limit, Some(100));
        assert_eq!(headers.rate_limit_remaining, Some(98));
        assert_eq!(headers.rate_limit_window, Some(60));

        let error_body = member(doc, "error_body_fake_wsc_token");
        let error_text = format!(r#"[{{"type":"Error","status":400}},{error_body}]"#);
        let frame = parse_frame(&error_text).unwrap();
        let FrameBody::Error(error) = frame.body else {
            panic!("expected an Error body");
        };
        assert_eq!(error.error_code.as_deref(), Some("WSG-400"));
    }

    #[test]
    fn server_notification_of_an_unused_kind() {
        let frame = parse_frame(sample!("ws-05-server-notification.json")).unwrap();
        let meta = frame.meta.as_ref().unwrap();
        assert_eq!(meta.kind, MessageType::ServerNotification);
        let note = frame.notification().unwrap();
        assert_eq!(
            note.event.as_deref(),
            Some("/restapi/v1.0/account/233676004/extension/233676004/message-store")
        );
        assert!(matches!(note.body, EventBody::Other));
    }

    #[test]
    fn telephony_docs_samples_including_the_apns_envelope() {
        let doc = sample!("event-telsess-docs-samples.json");
        let text = member(doc, "voice_guide_2020_setup");
        let frame = parse_frame(&text).unwrap();
        let ev = telephony(&frame);
        assert_eq!(ev.sequence, Some(3));
        assert_eq!(
            ev.telephony_session_id.as_deref(),
            Some("s-a6abd24ca6774373a8120a3390d3cbe8")
        );
        let party = &ev.parties[0];
        assert_eq!(party.status(), Some(PartyStatus::Setup));
        assert_eq!(party.direction(), Some(Direction::Inbound));
        assert_eq!(
            party.to.as_ref().unwrap().name.as_deref(),
            Some("TESTER Babji")
        );

        for key in [
            "account_telephony_sessions_2018_pn_apns_envelope",
            "extension_telephony_sessions_2018_queueCall",
        ] {
            let text = member(doc, key);
            let frame = parse_frame(&text).unwrap();
            let ev = telephony(&frame);
            assert_eq!(ev.sequence, Some(5), "{key}");
            assert_eq!(ev.parties[0].status(), Some(PartyStatus::Proceeding));
        }
        let queue_text = member(doc, "extension_telephony_sessions_2018_queueCall");
        let frame = parse_frame(&queue_text).unwrap();
        assert_eq!(telephony(&frame).parties[0].queue_call, Some(true));
    }

    #[test]
    fn callcontrol_js_samples() {
        let all: serde_json::Value =
            serde_json::from_str(sample!("event-telsess-callcontrol-js-2019.json")).unwrap();
        let texts: Vec<String> = all
            .as_array()
            .unwrap()
            .iter()
            .map(|v| serde_json::to_string(v).unwrap())
            .collect();
        let first = parse_frame(&texts[0]).unwrap();
        let ev = telephony(&first);
        assert_eq!(ev.parties[0].status(), Some(PartyStatus::Proceeding));
        assert_eq!(ev.parties[0].extension_id, None);
        let second = parse_frame(&texts[1]).unwrap();
        let ev = telephony(&second);
        assert_eq!(ev.parties[0].status(), Some(PartyStatus::Disconnected));
        assert!(ev.parties[0].from.is_some());
    }

    #[test]
    fn detailed_presence_samples() {
        let doc = sample!("event-presence-detailed-docs.json");
        let plain = member(doc, "detailed_extension_presence");
        let frame = parse_frame(&plain).unwrap();
        let ev = presence(&frame);
        assert_eq!(ev.extension_id.as_deref(), Some("6610372004"));
        assert_eq!(ev.sequence, Some(2698));
        assert_eq!(ev.active_calls.len(), 2);
        assert_eq!(ev.active_calls[0].queue_call, Some(true));

        let with_sip = member(doc, "detailed_extension_presence_with_sip");
        let frame = parse_frame(&with_sip).unwrap();
        let ev = presence(&frame);
        assert_eq!(ev.telephony_status.as_deref(), Some("OnHold"));
        assert_eq!(
            ev.active_calls[1].telephony_session_id.as_deref(),
            Some("s-e1e9696d863742758a18654dcc22a2fd")
        );
    }

    #[test]
    fn legacy_draft_shape_is_tolerated() {
        let frame = parse_frame(sample!("event-notify-callsession-v2_4-draft.json")).unwrap();
        let ev = telephony(&frame);
        let party = &ev.parties[0];
        assert_eq!(party.status(), Some(PartyStatus::Disconnected));
        assert_eq!(
            party.to.as_ref().unwrap().phone_number.as_deref(),
            Some("+18774443333")
        );
        assert_eq!(
            party.to.as_ref().unwrap().extension_id.as_deref(),
            Some("400130811008")
        );
        assert!(ev.telephony_session_id.is_none());
    }

    #[test]
    fn ids_as_numbers_spellings_and_unknown_codes() {
        let text = r#"[{"type":"ServerNotification","messageId":"1"},
            {"uuid":"1","event":"/restapi/v1.0/account/1/telephony/sessions","ownerId":809646016,
             "body":{"sequence":"7","telephonySessionId":"s-1","sessionId":425008160016,
               "parties":[
                 {"id":"p-1","extensionId":62242421016,"status":{"code":"Voicemail"},"newField":{"x":[1]}},
                 {"id":"p-2","status":{"code":"VMScreening"}},
                 {"id":"p-3","status":{"code":"SomethingNew","reason":"Mystery"}},
                 {"id":"p-4"}]}}]"#;
        let frame = parse_frame(text).unwrap();
        let ev = telephony(&frame);
        assert_eq!(ev.sequence, Some(7));
        assert_eq!(ev.session_id.as_deref(), Some("425008160016"));
        assert_eq!(ev.parties[0].extension_id.as_deref(), Some("62242421016"));
        assert_eq!(ev.parties[0].status(), Some(PartyStatus::VoiceMail));
        assert_eq!(
            ev.parties[1].status(),
            Some(PartyStatus::VoiceMailScreening)
        );
        assert_eq!(
            ev.parties[2].status(),
            Some(PartyStatus::Other("SomethingNew".into()))
        );
        assert_eq!(ev.parties[3].status(), None);
    }

    #[test]
    fn strings_borrow_from_the_frame_unless_escaped() {
        let text = r#"{"event":"/restapi/v1.0/account/1/telephony/sessions",
            "body":{"telephonySessionId":"s-1","parties":[{"id":"p-1","from":{"name":"Ann \"A\""}}]}}"#;
        let frame = parse_frame(text).unwrap();
        let ev = telephony(&frame);
        assert!(matches!(
            ev.telephony_session_id.as_ref().unwrap().0,
            Cow::Borrowed(_)
        ));
        let name = ev.parties[0].from.as_ref().unwrap().name.as_ref().unwrap();
        assert!(matches!(name.0, Cow::Owned(_)));
        assert_eq!(name.as_str(), "Ann \"A\"");
    }

    #[test]
    fn body_before_event_key_is_still_classified() {
        let text = r#"{"body":{"extensionId":"5","presenceStatus":"Available","sequence":3},
                       "event":"/restapi/v1.0/account/~/extension/5/presence?detailedTelephonyState=true"}"#;
        let frame = parse_frame(text).unwrap();
        assert_eq!(
            presence(&frame).presence_status.as_deref(),
            Some("Available")
        );
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        for text in [
            "",
            "   ",
            "null",
            "42",
            "\"text\"",
            "[",
            "[]",
            "[1,2]",
            "{",
            r#"[{"type":"ServerNotification"},{"body":{"parties":"nope"}}]"#,
            r#"{"body":{"sequence":1,"parties":[{"id":{"deep":true}}]}}"#,
            r#"[{"type":"ConnectionDetails"},{"recoveryTimeout":"x"}] trailing"#,
        ] {
            assert!(parse_frame(text).is_err(), "{text:?} should not parse");
        }
        assert!(peek_meta("{}").is_err());
        assert!(peek_meta("[]").is_err());
    }

    #[test]
    fn meta_only_and_null_bodies() {
        let frame = parse_frame(r#"[{"type":"ServerNotification","messageId":"m"},null]"#).unwrap();
        assert!(matches!(frame.body, FrameBody::None));
        let frame = parse_frame(r#"[{"type":"ClientRequest","status":204}]"#).unwrap();
        assert!(matches!(frame.body, FrameBody::None));
        let frame = parse_frame(r#"[{"type":"Brand-new"},{"anything":[1,{"a":2}]}]"#).unwrap();
        assert_eq!(frame.meta.unwrap().kind, MessageType::Unknown);
    }

    /// Every frame-like text of the samples: whole documents, their members, array elements.
    fn sample_texts() -> Vec<String> {
        let docs = [
            sample!("event-telsess-docs-samples.json"),
            sample!("event-telsess-callcontrol-js-2019.json"),
            sample!("event-presence-detailed-docs.json"),
            sample!("event-notify-callsession-v2_4-draft.json"),
            sample!("ws-01-connection-details.json"),
            sample!("ws-02-connection-details-recovery.json"),
            sample!("ws-03-subscription-request.json"),
            sample!("ws-04-subscription-responses.json"),
            sample!("ws-05-server-notification.json"),
            sample!("ws-06-misc-frames.json"),
        ];
        let mut texts = Vec::new();
        for doc in docs {
            let value: serde_json::Value = serde_json::from_str(doc).unwrap();
            texts.push(value.to_string());
            match &value {
                serde_json::Value::Object(map) => texts.extend(map.values().map(|v| v.to_string())),
                serde_json::Value::Array(items) => {
                    texts.extend(items.iter().map(|v| v.to_string()))
                }
                _ => {}
            }
        }
        texts
    }

    #[test]
    fn the_board_parse_reads_every_sample_as_the_full_parse_does() {
        let mut notifications = 0;
        for text in sample_texts() {
            let full = parse_frame(&text);
            let lean = parse_notification(&text);
            match (&full, &lean) {
                (Ok(frame), Ok(note)) => {
                    let full_note = frame.notification();
                    assert_eq!(
                        full_note.map(|n| format!("{n:?}")),
                        note.as_ref().map(|n| format!("{n:?}")),
                        "{text}"
                    );
                    notifications += usize::from(note.is_some());
                }
                // A body of a control frame that the full parse refuses is skipped by the
                // board's parse, which never reads it; text that is no frame fails both.
                (Err(_), Ok(None)) | (Err(_), Err(_)) => {}
                _ => panic!("{text}: full {full:?}, board {lean:?}"),
            }
        }
        assert!(notifications >= 8, "only {notifications} notifications");
    }

    /// The board's reader and the serde reference agree on `text`: the same notification, or
    /// both refuse it.
    fn readers_agree(text: &str) -> Result<bool, String> {
        let ours = parse_notification(text);
        let reference = parse_notification_with_serde(text);
        match (&ours, &reference) {
            (Ok(a), Ok(b)) if format!("{a:?}") == format!("{b:?}") => Ok(true),
            (Err(_), Err(_)) => Ok(false),
            // serde also reads a struct from a list of its fields in order (`[]` for a meta);
            // the board's reader refuses lists where objects belong, as the platform never
            // sends them.
            (Err(ParseError::Syntax(e)), Ok(_))
                if e.what == "expected an object" && text.as_bytes()[e.at] == b'[' =>
            {
                Ok(false)
            }
            _ => Err(format!(
                "{text}\n  board reader: {ours:?}\n  serde:        {reference:?}"
            )),
        }
    }

    /// Frames of a busy simulated account (holds, transfers, recordings, presence), as a
    /// subscriber receives them.
    fn sim_frames(count: usize) -> Vec<String> {
        let config = crate::sim::WorldConfig {
            calls_per_minute: 120.0,
            history_minutes: 0,
            ..crate::sim::WorldConfig::default()
        };
        let start = DateTime::parse_from_rfc3339("2026-11-25T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        crate::sim::feed::subscribed_frames(&config, start, 3, count)
            .into_iter()
            .map(|f| f.text)
            .collect()
    }

    /// Texts that exercise the rules one at a time: aliases, lenient scalars, nulls, escapes,
    /// numbers for ids, fields given twice, objects where scalars belong, nesting.
    fn rule_texts() -> Vec<String> {
        let frame = |body: &str| {
            format!(
                r#"[{{"type":"ServerNotification","messageId":"m"}},{{"event":"/restapi/v1.0/account/1/telephony/sessions","timestamp":"2026-11-25T09:00:00.000Z","body":{body}}}]"#
            )
        };
        let party = |fields: &str| {
            frame(&format!(
                r#"{{"sequence":3,"telephonySessionId":"s-1","parties":[{{"id":"p-1",{fields}}}]}}"#
            ))
        };
        let mut texts = vec![
            frame("null"),
            frame("{}"),
            frame(r#"{"sequence":"7","telephonySessionId":12345678901,"parties":null}"#),
            frame(r#"{"sequence":-1,"telephonySessionId":-5,"parties":[]}"#),
            frame(r#"{"sequence":1.5e3,"telephonySessionId":1.7e10,"parties":[]}"#),
            frame(r#"{"sequence":1.8e20,"telephonySessionId":0.5,"parties":[]}"#),
            frame(r#"{"sequence":true,"telephonySessionId":"-0","parties":[]}"#),
            frame(r#"{"telephonySessionId":-0,"parties":[]}"#),
            frame(r#"{"telephonySessionId":true}"#),
            frame(r#"{"telephonySessionId":{"a":1}}"#),
            frame(r#"{"sequence":[1]}"#),
            frame(r#"{"sequence":1,"sequence":2}"#),
            frame(r#"{"parties":[null]}"#),
            frame(r#"{"parties":{"id":"p"}}"#),
            frame(r#"{"parties":"nope"}"#),
            frame(r#"{"telephonySessionId":"s\u002d\u0031\ud83d\ude00","eventTime":"t\"q"}"#),
            frame(r#"{"telephonySessionId":"s\ud800"}"#),
            frame(r#"{"te\u006cephonySessionId":"escaped key","parties":[]}"#),
            frame(r#"{"extensionId":5,"presenceStatus":"Busy","activeCalls":[{"id":1,"queueCall":"TRUE","telephonySessionId":"s"}],"acceptCallQueueCalls":"no"}"#),
            frame(r#"{"extensionId":5,"telephonyStatus":"Ringing","activeCalls":null,"userStatus":null,"dndStatus":"TakeAllCalls"}"#),
            frame(r#"{"extensionId":5,"activeCalls":[{"id":1,"id":2}]}"#),
            frame(r#"{"unknown":{"deep":[1,{"x":[{"y":null}]}],"s":"\u00e9"},"parties":[]}"#),
            party(r#""from":{"number":"+1","mailboxId":9,"name":null},"to":null"#),
            party(r#""from":{"number":"+1","phoneNumber":"+2"}"#),
            party(r#""to":{"extensionId":"1","mailboxId":"2"}"#),
            party(r#""state":{"name":"Answered","reason":"r"}"#),
            party(r#""status":{"code":"Answered"},"state":{"name":"Setup"}"#),
            party(r#""status":{"code":"Gone","name":"Setup"}"#),
            party(r#""status":"Answered""#),
            party(r#""from":"+1""#),
            party(r#""recordings":[{"id":"r1","active":1},{"id":2,"active":"false"}]"#),
            party(r#""recordings":[null]"#),
            party(r#""recordings":{"id":"r1"}"#),
            party(r#""queueCall":0,"missedCall":2.5"#),
            party(r#""queueCall":-3,"missedCall":"True""#),
            party(r#""queueCall":{},"missedCall":false"#),
            party(r#""queueCall":true,"queueCall":false"#),
            party(r#""direction":"Inbound","extensionId":62000001,"id":"p-2""#),
            party(r#""id":true"#),
            r#"{"event":"/restapi/v1.0/account/1/presence","body":{"extensionId":"5","presenceStatus":"Available"}}"#.into(),
            r#"{"pn_apns":{"event":"/restapi/v1.0/account/1/telephony/sessions","body":{"parties":[]}},"uuid":"u"}"#.into(),
            r#"{"pn_apns":{"body":{}},"pn_apns":null}"#.into(),
            r#"{"pn_apns":"x"}"#.into(),
            r#"{"event":null,"timestamp":null,"body":null}"#.into(),
            r#"{"event":false}"#.into(),
            r#"[{"type":null},{"body":{}}]"#.into(),
            r#"[{"type":7},{"body":{}}]"#.into(),
            r#"[{"type":"ServerNotification","type":"Heartbeat"}]"#.into(),
            r#"[{"type":"ServerNotification"}]"#.into(),
            r#"[{"type":"ServerNotification"},{"body":{"parties":[]}},{"extra":[1,2]},3]"#.into(),
            r#"[{"type":"ServerNotification"},"not an envelope"]"#.into(),
            r#"[{"type":"Heartbeat"},{"bad json":}]"#.into(),
            r#"[{"type":"Heartbeat"},{"ignored":"but checked \x"}]"#.into(),
            r#"[null,{}]"#.into(),
            r#"[[],{}]"#.into(),
            " \t\r\n[{\"type\":\"ServerNotification\"} , {\"body\" : { } } ]\n ".into(),
            "\u{feff}[{\"type\":\"ServerNotification\"},{}]".into(),
        ];
        for depth in [100, 200] {
            texts.push(format!(
                "{}{{}}{}",
                r#"{"pn_apns":"#.repeat(depth),
                "}".repeat(depth)
            ));
        }
        texts
    }

    #[test]
    fn the_board_reader_reads_every_sample_rule_and_sim_frame_as_serde_does() {
        let mut read = 0;
        let texts = sample_texts()
            .into_iter()
            .chain(rule_texts())
            .chain(sim_frames(3_000));
        for text in texts {
            read += usize::from(readers_agree(&text).unwrap_or_else(|e| panic!("{e}")));
        }
        assert!(read > 3_000, "only {read} texts read");
    }

    /// Thousands of damaged frames (cut short, a byte replaced, dropped or doubled, a stretch
    /// repeated): the board's reader must refuse exactly what serde refuses and read the rest
    /// the same way.
    #[test]
    fn the_board_reader_agrees_with_serde_on_damaged_frames() {
        use rand::{Rng, SeedableRng};
        let bases: Vec<String> = sample_texts()
            .into_iter()
            .chain(rule_texts())
            .chain(sim_frames(400))
            .collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
        const NOISE: &[u8] = b"{}[]\",:\\ 0123456789-+.eEtrufalsn\t\x01u";
        let (mut read, mut refused) = (0, 0);
        for _ in 0..30_000 {
            let base = bases[rng.random_range(0..bases.len())].as_bytes();
            let mut bytes = base.to_vec();
            let at = rng.random_range(0..bytes.len());
            if !base[at].is_ascii() {
                continue;
            }
            match rng.random_range(0..5) {
                0 => bytes.truncate(at),
                1 => bytes[at] = NOISE[rng.random_range(0..NOISE.len())],
                2 => {
                    bytes.remove(at);
                }
                3 => bytes.insert(at, base[at]),
                _ => {
                    let len = rng.random_range(1..40).min(bytes.len() - at);
                    let stretch = bytes[at..at + len].to_vec();
                    let to = rng.random_range(0..bytes.len());
                    bytes.splice(to..to, stretch);
                }
            }
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            match readers_agree(&text) {
                Ok(true) => read += 1,
                Ok(false) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(
            read > 3_000 && refused > 3_000,
            "read {read}, refused {refused}"
        );
    }

    #[test]
    fn the_board_parse_skips_frames_without_a_notification() {
        for text in [
            r#"[{"type":"Heartbeat"}]"#,
            r#"[{"type":"ClientRequest","status":204}]"#,
            r#"[{"type":"ServerNotification","messageId":"m"},null]"#,
            r#"[{"type":"ConnectionDetails","wsc":{"token":"t","sequence":1}},{"recoveryTimeout":180}]"#,
            r#"[{"type":"Brand-new"},{"anything":[1,{"a":2}]}]"#,
        ] {
            assert!(parse_notification(text).unwrap().is_none(), "{text}");
        }
        for text in [
            "",
            "42",
            "[",
            "[]",
            "{",
            r#"[{"type":"Heartbeat"}] trailing"#,
        ] {
            assert!(
                parse_notification(text).is_err(),
                "{text:?} should not parse"
            );
        }
    }

    #[test]
    fn platform_times_read_fast_as_the_general_parser_reads_them() {
        for s in [
            "2026-11-25T17:03:38.123Z",
            "2026-11-25T00:00:00.000Z",
            "2024-02-29T23:59:59.999Z",
            "1970-01-01T00:00:00.001Z",
        ] {
            let general = DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
            assert_eq!(parse_platform_time(s), Some(general), "{s}");
            assert_eq!(parse_timestamp(s), Some(general), "{s}");
        }
        // Not the platform's shape, or not a time: left to the general parsers.
        for s in [
            "2026-11-25T17:03:38Z",
            "2026-11-25T17:03:38.123+00:00",
            "2025-02-29T10:00:00.000Z",
            "2026-13-01T10:00:00.000Z",
            "2026-11-25T24:00:00.000Z",
            "2016-12-31T23:59:60.000Z",
            "2026-11-25T17:03:3a.123Z",
            "+026-11-25T17:03:38.123Z",
        ] {
            assert_eq!(parse_platform_time(s), None, "{s}");
        }
        assert_eq!(parse_timestamp("2025-02-29T10:00:00.000Z"), None);
        assert!(parse_timestamp("2016-12-31T23:59:60.000Z").is_some());
    }

    #[test]
    fn timestamps_in_every_shape_seen() {
        let expected = "2019-09-05T06:13:35.305Z";
        for s in [
            "2019-09-05T06:13:35.305Z",
            "2019-09-05T06:13:35.305+0000",
            "2019-09-05T06:13:35.305+00:00",
            "2019-09-05T08:13:35.305+02:00",
            "2019-09-05T06:13:35.305",
        ] {
            let t = parse_timestamp(s).unwrap();
            assert_eq!(
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                expected,
                "{s}"
            );
        }
        assert!(parse_timestamp("yesterday").is_none());
    }
}
