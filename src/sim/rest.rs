//! The REST endpoints of PROTOCOL.md §4, served from the world's read models in v1 shapes, with
//! the paging/navigation envelope, `~` and the numeric account id both accepted, and recording
//! content streamed in chunks with `Range` support.

use super::http::{
    Refusal, SimState, error_reply, json_reply, lock, parameter_error, put_header,
    with_rate_headers,
};
use super::ratelimit::Verdict;
use super::world::{CallLogQuery, CallLogView, RelabelError};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

/// Size of each piece of a streamed recording: memory stays flat whatever the recording's size.
const CONTENT_CHUNK_BYTES: u64 = 64 * 1024;

pub(crate) type Params = Vec<(String, String)>;
type Reply = Result<Response, Refusal>;

fn params(query: &Option<String>) -> Params {
    url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn first<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn all<'a>(params: &'a Params, name: &str) -> Vec<&'a str> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn invalid(name: &str, value: &str) -> Refusal {
    Refusal::from(parameter_error(
        StatusCode::BAD_REQUEST,
        "CMN-101",
        &format!("Parameter [{name}] value is invalid"),
        name,
        value,
    ))
}

fn not_found(name: &str, value: &str) -> Refusal {
    Refusal::from(parameter_error(
        StatusCode::NOT_FOUND,
        "CMN-102",
        &format!("Resource for parameter [{name}] is not found"),
        name,
        value,
    ))
}

fn flag(params: &Params, name: &str) -> Result<bool, Refusal> {
    match first(params, name) {
        None => Ok(false),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(invalid(name, other)),
    }
}

/// One record as a 200, or the platform's 404 naming the path parameter that matched nothing.
fn record_reply(record: Option<Value>, name: &str, value: &str) -> Reply {
    record
        .map(|r| json_reply(StatusCode::OK, &r))
        .ok_or_else(|| not_found(name, value))
}

/// `~` or the world's numeric id; anything else is another account.
fn check_account(state: &SimState, account_id: &str) -> Result<(), Refusal> {
    if account_id == "~" || account_id == state.account_id {
        Ok(())
    } else {
        Err(not_found("accountId", account_id))
    }
}

fn resolve_extension<'a>(state: &'a SimState, extension_id: &'a str) -> &'a str {
    if extension_id == "~" {
        &state.owner_extension_id
    } else {
        extension_id
    }
}

fn finish(reply: Reply, verdict: Option<Extension<Verdict>>) -> Response {
    let verdict = verdict.map(|Extension(v)| v);
    with_rate_headers(
        reply.unwrap_or_else(IntoResponse::into_response),
        verdict.as_ref(),
    )
}

/// `page` and `perPage` of a list request, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paging {
    pub page: usize,
    pub per_page: usize,
}

/// Reads `page` (default 1) and `perPage` (default 100, `max` = 1000, at most 1000).
pub(crate) fn paging(params: &Params) -> Result<Paging, Refusal> {
    let page = match first(params, "page") {
        None => 1,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => return Err(invalid("page", text)),
        },
    };
    let per_page = match first(params, "perPage") {
        None => 100,
        Some("max") => 1000,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return Err(invalid("perPage", text)),
        },
    };
    Ok(Paging { page, per_page })
}

/// The list envelope: `uri`, `records`, `paging`, `navigation`. `list_uri` is the absolute uri
/// of the list without query; `params` are the request's other query parameters, kept in links.
pub fn page_envelope(
    records: Vec<Value>,
    paging: Paging,
    list_uri: &str,
    params: &Params,
) -> Value {
    let total = records.len();
    let per_page = paging.per_page;
    let total_pages = total.div_ceil(per_page).max(1);
    let start = (paging.page - 1).saturating_mul(per_page);
    let page_records: Vec<Value> = records.into_iter().skip(start).take(per_page).collect();
    let link = |page: usize| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in params
            .iter()
            .filter(|(k, _)| k != "page" && k != "perPage" && k != "access_token")
        {
            query.append_pair(key, value);
        }
        query.append_pair("page", &page.to_string());
        query.append_pair("perPage", &per_page.to_string());
        format!("{list_uri}?{}", query.finish())
    };
    let mut paging_json = json!({
        "page": paging.page,
        "perPage": per_page,
        "totalPages": total_pages,
        "totalElements": total,
    });
    if !page_records.is_empty() {
        paging_json["pageStart"] = json!(start);
        paging_json["pageEnd"] = json!(start + page_records.len() - 1);
    }
    let mut navigation = json!({
        "firstPage": {"uri": link(1)},
        "lastPage": {"uri": link(total_pages)},
    });
    if paging.page > 1 {
        navigation["previousPage"] = json!({"uri": link((paging.page - 1).min(total_pages))});
    }
    if paging.page < total_pages {
        navigation["nextPage"] = json!({"uri": link(paging.page + 1)});
    }
    json!({
        "uri": link(paging.page),
        "records": page_records,
        "paging": paging_json,
        "navigation": navigation,
    })
}

fn list_reply(state: &SimState, path: &str, records: Vec<Value>, params: &Params) -> Reply {
    let paging = paging(params)?;
    let uri = format!("{}{path}", state.base_url);
    Ok(json_reply(
        StatusCode::OK,
        &page_envelope(records, paging, &uri, params),
    ))
}

/// Keeps records whose `field` is one of `wanted` (all records when `wanted` is empty).
fn filter_in(records: Vec<Value>, field: &str, wanted: &[&str]) -> Vec<Value> {
    if wanted.is_empty() {
        return records;
    }
    records
        .into_iter()
        .filter(|r| {
            r.get(field)
                .and_then(Value::as_str)
                .is_some_and(|v| wanted.contains(&v))
        })
        .collect()
}

fn account_path(state: &SimState, suffix: &str) -> String {
    format!("/restapi/v1.0/account/{}{suffix}", state.account_id)
}

// -- phone numbers ---------------------------------------------------------------------------

pub(crate) async fn phone_numbers(
    State(state): State<Arc<SimState>>,
    Path(account_id): Path<String>,
    RawQuery(query): RawQuery,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = (|| {
        check_account(&state, &account_id)?;
        let params = params(&query);
        let mut records = lock(&state.world).phone_numbers();
        for (param, field) in [
            ("usageType", "usageType"),
            ("paymentType", "paymentType"),
            ("status", "status"),
        ] {
            records = filter_in(records, field, &all(&params, param));
        }
        list_reply(
            &state,
            &account_path(&state, "/phone-number"),
            records,
            &params,
        )
    })();
    finish(reply, verdict)
}

pub(crate) async fn phone_number(
    State(state): State<Arc<SimState>>,
    Path((account_id, number_id)): Path<(String, String)>,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let record = lock(&state.world).phone_number(&number_id);
        record_reply(record, "phoneNumberId", &number_id)
    });
    finish(reply, verdict)
}

/// `PUT …/phone-number/{id}` with `{"label": "…"}` (PROTOCOL.md §9.1): answers the updated record.
pub(crate) async fn relabel(
    State(state): State<Arc<SimState>>,
    Path((account_id, number_id)): Path<(String, String)>,
    verdict: Option<Extension<Verdict>>,
    body: Bytes,
) -> Response {
    let reply = (|| {
        check_account(&state, &account_id)?;
        let body: Value = serde_json::from_slice(&body).map_err(|error| {
            error_reply(
                StatusCode::BAD_REQUEST,
                "CMN-103",
                &format!("JSON can't be parsed: {error}"),
            )
        })?;
        let label = body.get("label").and_then(Value::as_str).ok_or_else(|| {
            invalid(
                "label",
                &body.get("label").map(Value::to_string).unwrap_or_default(),
            )
        })?;
        let updated = lock(&state.world).relabel(&number_id, label);
        match updated {
            Ok(record) => Ok(json_reply(StatusCode::OK, &record)),
            Err(RelabelError::UnknownNumber { .. }) => Err(not_found("phoneNumberId", &number_id)),
            Err(error) => Err(parameter_error(
                StatusCode::BAD_REQUEST,
                "CMN-101",
                &error.to_string(),
                "label",
                &crate::text::sanitize(label),
            )
            .into()),
        }
    })();
    finish(reply, verdict)
}

// -- call queues -----------------------------------------------------------------------------

pub(crate) async fn call_queues(
    State(state): State<Arc<SimState>>,
    Path(account_id): Path<String>,
    RawQuery(query): RawQuery,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let params = params(&query);
        let records = lock(&state.world).call_queues();
        list_reply(
            &state,
            &account_path(&state, "/call-queues"),
            records,
            &params,
        )
    });
    finish(reply, verdict)
}

pub(crate) async fn call_queue(
    State(state): State<Arc<SimState>>,
    Path((account_id, queue_id)): Path<(String, String)>,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let queue = lock(&state.world).call_queue(&queue_id);
        record_reply(queue, "groupId", &queue_id)
    });
    finish(reply, verdict)
}

pub(crate) async fn call_queue_members(
    State(state): State<Arc<SimState>>,
    Path((account_id, queue_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let params = params(&query);
        let members = lock(&state.world).call_queue_members(&queue_id);
        let members = members.ok_or_else(|| not_found("groupId", &queue_id))?;
        let path = account_path(&state, &format!("/call-queues/{queue_id}/members"));
        list_reply(&state, &path, members, &params)
    });
    finish(reply, verdict)
}

pub(crate) async fn call_queue_presence(
    State(state): State<Arc<SimState>>,
    Path((account_id, queue_id)): Path<(String, String)>,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let presence = lock(&state.world).call_queue_presence(&queue_id);
        let records = presence.ok_or_else(|| not_found("groupId", &queue_id))?;
        Ok(json_reply(StatusCode::OK, &json!({ "records": records })))
    });
    finish(reply, verdict)
}

// -- extensions and presence -----------------------------------------------------------------

pub(crate) async fn extensions(
    State(state): State<Arc<SimState>>,
    Path(account_id): Path<String>,
    RawQuery(query): RawQuery,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let params = params(&query);
        let mut records = lock(&state.world).extensions();
        records = filter_in(records, "type", &all(&params, "type"));
        records = filter_in(records, "status", &all(&params, "status"));
        records = filter_in(records, "extensionNumber", &all(&params, "extensionNumber"));
        list_reply(
            &state,
            &account_path(&state, "/extension"),
            records,
            &params,
        )
    });
    finish(reply, verdict)
}

pub(crate) async fn extension(
    State(state): State<Arc<SimState>>,
    Path((account_id, extension_id)): Path<(String, String)>,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let id = resolve_extension(&state, &extension_id);
        let record = lock(&state.world).extension(id);
        record_reply(record, "extensionId", &extension_id)
    });
    finish(reply, verdict)
}

pub(crate) async fn extension_presence(
    State(state): State<Arc<SimState>>,
    Path((account_id, extension_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let params = params(&query);
        let detailed = flag(&params, "detailedTelephonyState")?;
        flag(&params, "sipData")?;
        let id = resolve_extension(&state, &extension_id);
        let presence = lock(&state.world).presence(id, detailed);
        record_reply(presence, "extensionId", &extension_id)
    });
    finish(reply, verdict)
}

pub(crate) async fn account_presence(
    State(state): State<Arc<SimState>>,
    Path(account_id): Path<String>,
    RawQuery(query): RawQuery,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let params = params(&query);
        let detailed = flag(&params, "detailedTelephonyState")?;
        flag(&params, "sipData")?;
        let records = lock(&state.world).account_presence(detailed);
        list_reply(&state, &account_path(&state, "/presence"), records, &params)
    });
    finish(reply, verdict)
}

// -- telephony sessions and call log ----------------------------------------------------------

pub(crate) async fn telephony_session(
    State(state): State<Arc<SimState>>,
    Path((account_id, session_id)): Path<(String, String)>,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let session = lock(&state.world).telephony_session(&session_id);
        record_reply(session, "telephonySessionId", &session_id)
    });
    finish(reply, verdict)
}

/// Accepts the date forms the platform does: RFC 3339, a local-less `YYYY-MM-DDTHH:MM:SS[.fff]`
/// (read as UTC) and a bare date.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    if let Ok(time) =
        NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
    {
        return Some(time.and_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc())
}

/// Builds the world's call-log query from request parameters.
pub(crate) fn call_log_query(
    params: &Params,
    extension_id: Option<String>,
) -> Result<CallLogQuery, Refusal> {
    let date = |name: &str| -> Result<Option<DateTime<Utc>>, Refusal> {
        first(params, name)
            .map(|text| parse_date(text).ok_or_else(|| invalid(name, text)))
            .transpose()
    };
    let view = match first(params, "view") {
        None | Some("Simple") => CallLogView::Simple,
        Some("Detailed") => CallLogView::Detailed,
        Some(other) => return Err(invalid("view", other)),
    };
    let directions = all(params, "direction");
    if let Some(bad) = directions
        .iter()
        .find(|d| **d != "Inbound" && **d != "Outbound")
    {
        return Err(invalid("direction", bad));
    }
    Ok(CallLogQuery {
        extension_id,
        telephony_session_id: first(params, "telephonySessionId").map(str::to_owned),
        session_id: first(params, "sessionId").map(str::to_owned),
        date_from: date("dateFrom")?,
        date_to: date("dateTo")?,
        directions: directions.into_iter().map(str::to_owned).collect(),
        phone_number: first(params, "phoneNumber").map(str::to_owned),
        view,
    })
}

/// The call log's recording filters, applied here rather than in the world: `recordingType`
/// (`Automatic`, `OnDemand`, `All`) and the deprecated `withRecording=true`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordingFilter {
    Any,
    Recorded,
    RecordedAs(&'static str),
}

impl RecordingFilter {
    fn apply(self, records: Vec<Value>) -> Vec<Value> {
        let keep = |record: &Value| {
            let recording = record.get("recording").filter(|r| r.is_object());
            match self {
                RecordingFilter::Any => true,
                RecordingFilter::Recorded => recording.is_some(),
                RecordingFilter::RecordedAs(kind) => {
                    recording
                        .and_then(|r| r.get("type"))
                        .and_then(Value::as_str)
                        == Some(kind)
                }
            }
        };
        records.into_iter().filter(keep).collect()
    }
}

pub(crate) fn recording_filter(params: &Params) -> Result<RecordingFilter, Refusal> {
    let by_type = match first(params, "recordingType") {
        None => None,
        Some("All") => Some(RecordingFilter::Recorded),
        Some("Automatic") => Some(RecordingFilter::RecordedAs("Automatic")),
        Some("OnDemand") => Some(RecordingFilter::RecordedAs("OnDemand")),
        Some(other) => return Err(invalid("recordingType", other)),
    };
    let with_recording = flag(params, "withRecording")?;
    Ok(match (by_type, with_recording) {
        (Some(filter), _) => filter,
        (None, true) => RecordingFilter::Recorded,
        (None, false) => RecordingFilter::Any,
    })
}

pub(crate) async fn account_call_log(
    State(state): State<Arc<SimState>>,
    Path(account_id): Path<String>,
    RawQuery(query): RawQuery,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let params = params(&query);
        let query = call_log_query(&params, None)?;
        let records = lock(&state.world).call_log(&query);
        let records = recording_filter(&params)?.apply(records);
        list_reply(&state, &account_path(&state, "/call-log"), records, &params)
    });
    finish(reply, verdict)
}

pub(crate) async fn extension_call_log(
    State(state): State<Arc<SimState>>,
    Path((account_id, extension_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let params = params(&query);
        let id = resolve_extension(&state, &extension_id).to_owned();
        if lock(&state.world).extension(&id).is_none() {
            return Err(not_found("extensionId", &extension_id));
        }
        let query = call_log_query(&params, Some(id.clone()))?;
        let records = lock(&state.world).call_log(&query);
        let records = recording_filter(&params)?.apply(records);
        let path = account_path(&state, &format!("/extension/{id}/call-log"));
        list_reply(&state, &path, records, &params)
    });
    finish(reply, verdict)
}

/// `GET …/call-log/{id}`: one record, looked up over the whole retained log.
pub(crate) async fn call_log_record(
    State(state): State<Arc<SimState>>,
    Path((account_id, record_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let params = params(&query);
        let mut query = call_log_query(&params, None)?;
        query.date_from = Some(DateTime::<Utc>::UNIX_EPOCH);
        let records = lock(&state.world).call_log(&query);
        let record = records
            .into_iter()
            .find(|r| r.get("id").and_then(Value::as_str) == Some(record_id.as_str()));
        record_reply(record, "callRecordId", &record_id)
    });
    finish(reply, verdict)
}

/// `GET …/active-calls`: the live calls as call-log-shaped records (`result: "In Progress"`),
/// newest first, derived from the live telephony sessions.
pub(crate) async fn active_calls(
    State(state): State<Arc<SimState>>,
    Path(account_id): Path<String>,
    RawQuery(query): RawQuery,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let params = params(&query);
        let directions = all(&params, "direction");
        if let Some(bad) = directions
            .iter()
            .find(|d| **d != "Inbound" && **d != "Outbound")
        {
            return Err(invalid("direction", bad));
        }
        let sessions: Vec<Value> = {
            let world = lock(&state.world);
            world
                .live_session_ids()
                .iter()
                .filter_map(|id| world.telephony_session(id))
                .collect()
        };
        let mut records: Vec<Value> = sessions.iter().filter_map(active_call_record).collect();
        records.reverse();
        let records = filter_in(records, "direction", &directions);
        list_reply(
            &state,
            &account_path(&state, "/active-calls"),
            records,
            &params,
        )
    });
    finish(reply, verdict)
}

/// One active-calls record from a live session (REST shape). The first party is the leg that
/// started the call: an external caller's leg runs `Outbound` from the platform's side, so the
/// call itself is `Inbound`; a leg owned by an extension gives the call its own direction.
pub fn active_call_record(session: &Value) -> Option<Value> {
    let first = session.pointer("/parties/0")?;
    let leg_direction = first.get("direction").and_then(Value::as_str)?;
    let external = first.get("owner").is_none();
    let direction = match (external, leg_direction) {
        (true, "Outbound") => "Inbound",
        (true, _) => "Outbound",
        (false, own) => own,
    };
    let end = |key: &str| {
        let point = first.get(key).cloned().unwrap_or_else(|| json!({}));
        let mut out = serde_json::Map::new();
        for field in ["phoneNumber", "name", "extensionId"] {
            if let Some(value) = point.get(field) {
                out.insert(field.to_owned(), value.clone());
            }
        }
        Value::Object(out)
    };
    Some(json!({
        "id": session.get("sessionId")?,
        "sessionId": session.get("sessionId")?,
        "telephonySessionId": session.get("id")?,
        "startTime": session.get("creationTime")?,
        "type": "Voice",
        "direction": direction,
        "action": "Phone Call",
        "result": "In Progress",
        "from": end("from"),
        "to": end("to"),
    }))
}

// -- recordings --------------------------------------------------------------------------------

pub(crate) async fn recording(
    State(state): State<Arc<SimState>>,
    Path((account_id, recording_id)): Path<(String, String)>,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = check_account(&state, &account_id).and_then(|()| {
        let meta = available_recording(&state, &recording_id)?;
        let content_uri = format!(
            "{}{}",
            state.base_url,
            account_path(&state, &format!("/recording/{}/content", meta.id))
        );
        Ok(json_reply(
            StatusCode::OK,
            &json!({
                "uri": format!("{}{}", state.base_url, account_path(&state, &format!("/recording/{}", meta.id))),
                "id": meta.id,
                "contentUri": content_uri,
                "contentType": meta.content_type,
                "duration": meta.duration_s,
            }),
        ))
    });
    finish(reply, verdict)
}

fn available_recording(
    state: &SimState,
    recording_id: &str,
) -> Result<super::world::RecordingMeta, Refusal> {
    let meta = lock(&state.world).recording(recording_id);
    match meta {
        Some(meta) if meta.available_at <= Utc::now() => Ok(meta),
        Some(_) => Err(parameter_error(
            StatusCode::NOT_FOUND,
            "CMN-102",
            "Resource for parameter [recordingId] is not found: the recording is still being processed, retry shortly",
            "recordingId",
            recording_id,
        )
        .into()),
        None => Err(not_found("recordingId", recording_id)),
    }
}

/// A single byte range resolved against the content length: `start..end` (end exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// Why a `Range` header cannot be served (416).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsatisfiable;

/// Parses `Range: bytes=a-b | a- | -n` against `len`. Multiple ranges are not offered and, like
/// a malformed or out-of-bounds range, are refused with 416 so a client bug shows up at once.
pub fn parse_range(header: &str, len: u64) -> Result<ByteRange, Unsatisfiable> {
    let spec = header.trim().strip_prefix("bytes=").ok_or(Unsatisfiable)?;
    if spec.contains(',') {
        return Err(Unsatisfiable);
    }
    let (first, last) = spec.split_once('-').ok_or(Unsatisfiable)?;
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().map_err(|_| Unsatisfiable);
    let range = match (first.is_empty(), last.is_empty()) {
        (true, true) => return Err(Unsatisfiable),
        (true, false) => {
            let suffix = parse(last)?;
            if suffix == 0 {
                return Err(Unsatisfiable);
            }
            ByteRange {
                start: len.saturating_sub(suffix),
                end: len,
            }
        }
        (false, true) => ByteRange {
            start: parse(first)?,
            end: len,
        },
        (false, false) => {
            let (start, last) = (parse(first)?, parse(last)?);
            if last < start {
                return Err(Unsatisfiable);
            }
            ByteRange {
                start,
                end: last.saturating_add(1).min(len),
            }
        }
    };
    if range.start >= len {
        return Err(Unsatisfiable);
    }
    Ok(range)
}

/// `GET …/recording/{id}/content`: the audio, streamed in chunks; `Range` gives 206.
pub(crate) async fn recording_content(
    State(state): State<Arc<SimState>>,
    Path((account_id, recording_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    verdict: Option<Extension<Verdict>>,
) -> Response {
    let reply = (|| {
        check_account(&state, &account_id)?;
        let meta = available_recording(&state, &recording_id)?;
        let len = meta.len;
        let range = match headers.get(header::RANGE) {
            None => None,
            Some(value) => {
                let parsed = value
                    .to_str()
                    .map_err(|_| Unsatisfiable)
                    .and_then(|text| parse_range(text, len));
                match parsed {
                    Ok(range) => Some(range),
                    Err(Unsatisfiable) => {
                        let mut response = error_reply(
                            StatusCode::RANGE_NOT_SATISFIABLE,
                            "CMN-107",
                            &format!(
                                "Requested Range Not Satisfiable: the recording has {len} bytes"
                            ),
                        );
                        put_header(
                            response.headers_mut(),
                            "Content-Range",
                            &format!("bytes */{len}"),
                        );
                        return Err(response.into());
                    }
                }
            }
        };
        let ByteRange { start, end } = range.unwrap_or(ByteRange { start: 0, end: len });
        let chunks = content_stream(Arc::clone(&state), meta.id.clone(), start, end);
        let status = if range.is_some() {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        };
        let mut response = (status, axum::body::Body::from_stream(chunks)).into_response();
        let out = response.headers_mut();
        put_header(out, "Content-Type", meta.content_type);
        put_header(out, "Content-Length", &(end - start).to_string());
        put_header(out, "Accept-Ranges", "bytes");
        if range.is_some() {
            put_header(
                out,
                "Content-Range",
                &format!("bytes {start}-{}/{len}", end - 1),
            );
        }
        let params = params(&query);
        if let Some(disposition) = first(&params, "contentDisposition") {
            let kind = if disposition.eq_ignore_ascii_case("attachment") {
                "attachment"
            } else {
                "inline"
            };
            let extension = if meta.content_type == "audio/mpeg" {
                "mp3"
            } else {
                "wav"
            };
            let default_name = format!("recording-{}.{extension}", meta.id);
            let name = first(&params, "contentDispositionFilename").unwrap_or(&default_name);
            let safe_name: String = name
                .chars()
                .filter(|c| c.is_ascii_graphic() && *c != '"')
                .collect();
            put_header(
                out,
                "Content-Disposition",
                &format!("{kind}; filename=\"{safe_name}\""),
            );
        }
        Ok(response)
    })();
    finish(reply, verdict)
}

/// Yields `start..end` of a recording in [`CONTENT_CHUNK_BYTES`] pieces, asking the world for
/// each piece only when the socket wants it.
fn content_stream(
    state: Arc<SimState>,
    recording_id: String,
    start: u64,
    end: u64,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::unfold(start, move |position| {
        let state = Arc::clone(&state);
        let recording_id = recording_id.clone();
        async move {
            if position >= end {
                return None;
            }
            let next = (position + CONTENT_CHUNK_BYTES).min(end);
            let chunk = lock(&state.world).recording_bytes(&recording_id, position..next);
            match chunk {
                Some(bytes) => Some((Ok(bytes), next)),
                // The recording vanished mid-stream: abort the body so the client cannot mistake
                // a short download for a complete one.
                None => Some((
                    Err(std::io::Error::other(format!(
                        "recording {recording_id} is no longer available at byte {position}"
                    ))),
                    end,
                )),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ranges() {
        assert_eq!(
            parse_range("bytes=0-99", 1000),
            Ok(ByteRange { start: 0, end: 100 })
        );
        assert_eq!(
            parse_range("bytes=900-", 1000),
            Ok(ByteRange {
                start: 900,
                end: 1000
            })
        );
        assert_eq!(
            parse_range("bytes=-100", 1000),
            Ok(ByteRange {
                start: 900,
                end: 1000
            })
        );
        assert_eq!(
            parse_range("bytes=990-5000", 1000),
            Ok(ByteRange {
                start: 990,
                end: 1000
            })
        );
        assert_eq!(
            parse_range("bytes=-5000", 1000),
            Ok(ByteRange {
                start: 0,
                end: 1000
            })
        );
        for bad in [
            "bytes=1000-",
            "bytes=5-2",
            "bytes=a-b",
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=-",
            "bytes=-0",
        ] {
            assert_eq!(parse_range(bad, 1000), Err(Unsatisfiable), "{bad}");
        }
    }

    #[test]
    fn paging_defaults_and_limits() {
        assert_eq!(
            paging(&p(&[])).unwrap(),
            Paging {
                page: 1,
                per_page: 100
            }
        );
        assert_eq!(paging(&p(&[("perPage", "max")])).unwrap().per_page, 1000);
        assert!(paging(&p(&[("page", "0")])).is_err());
        assert!(paging(&p(&[("perPage", "1001")])).is_err());
        assert!(paging(&p(&[("page", "x")])).is_err());
    }

    #[test]
    fn envelope_pages_and_links() {
        let records: Vec<Value> = (0..5).map(|i| json!({"id": i})).collect();
        let params = p(&[
            ("usageType", "CompanyNumber"),
            ("page", "2"),
            ("perPage", "2"),
        ]);
        let page = page_envelope(
            records.clone(),
            Paging {
                page: 2,
                per_page: 2,
            },
            "http://h/list",
            &params,
        );
        assert_eq!(page["records"], json!([{"id": 2}, {"id": 3}]));
        assert_eq!(
            page["paging"],
            json!({"page": 2, "perPage": 2, "totalPages": 3, "totalElements": 5, "pageStart": 2, "pageEnd": 3})
        );
        assert_eq!(
            page["uri"],
            "http://h/list?usageType=CompanyNumber&page=2&perPage=2"
        );
        assert_eq!(
            page["navigation"]["nextPage"]["uri"],
            "http://h/list?usageType=CompanyNumber&page=3&perPage=2"
        );
        assert_eq!(
            page["navigation"]["previousPage"]["uri"],
            "http://h/list?usageType=CompanyNumber&page=1&perPage=2"
        );
        assert_eq!(
            page["navigation"]["lastPage"]["uri"],
            "http://h/list?usageType=CompanyNumber&page=3&perPage=2"
        );

        let beyond = page_envelope(
            records,
            Paging {
                page: 9,
                per_page: 2,
            },
            "http://h/list",
            &p(&[]),
        );
        assert_eq!(beyond["records"], json!([]));
        assert!(beyond["paging"].get("pageStart").is_none());
        assert!(beyond["navigation"].get("nextPage").is_none());
    }

    #[test]
    fn dates_in_the_forms_clients_send() {
        let expected = "2026-11-25T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(parse_date("2026-11-25T10:00:00Z"), Some(expected));
        assert_eq!(parse_date("2026-11-25T10:00:00.000Z"), Some(expected));
        assert_eq!(parse_date("2026-11-25T12:00:00+02:00"), Some(expected));
        assert_eq!(parse_date("2026-11-25T10:00:00"), Some(expected));
        assert_eq!(
            parse_date("2026-11-25"),
            Some("2026-11-25T00:00:00Z".parse::<DateTime<Utc>>().unwrap())
        );
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn active_call_records_take_the_first_leg() {
        let session = json!({"id": "s-1", "sessionId": "42", "creationTime": "2026-11-25T10:00:00Z",
        "parties": [
            {"id": "p-1", "direction": "Outbound", "from": {"phoneNumber": "+16505550100", "name": "Caller"},
             "to": {"phoneNumber": "+14155550123"}, "status": {"code": "Answered"}},
            {"id": "p-2", "direction": "Inbound", "owner": {"extensionId": "7"}, "status": {"code": "Answered"}}
        ]});
        let record = active_call_record(&session).unwrap();
        assert_eq!(record["direction"], "Inbound");
        assert_eq!(record["telephonySessionId"], "s-1");
        assert_eq!(record["result"], "In Progress");
        assert_eq!(
            record["from"],
            json!({"phoneNumber": "+16505550100", "name": "Caller"})
        );
        assert_eq!(record["to"], json!({"phoneNumber": "+14155550123"}));

        let outbound = json!({"id": "s-2", "sessionId": "43", "creationTime": "2026-11-25T10:00:00Z",
            "parties": [{"id": "p-1", "direction": "Outbound", "owner": {"extensionId": "7"}}]});
        assert_eq!(
            active_call_record(&outbound).unwrap()["direction"],
            "Outbound"
        );
        assert!(active_call_record(&json!({"id": "s-3", "parties": []})).is_none());
    }

    #[test]
    fn recording_filters() {
        let records = vec![
            json!({"id": "a"}),
            json!({"id": "b", "recording": {"id": "1", "type": "Automatic"}}),
            json!({"id": "c", "recording": {"id": "2", "type": "OnDemand"}}),
        ];
        let ids = |params: &[(&str, &str)]| -> Vec<String> {
            recording_filter(&p(params))
                .unwrap()
                .apply(records.clone())
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(ids(&[]), vec!["a", "b", "c"]);
        assert_eq!(ids(&[("withRecording", "true")]), vec!["b", "c"]);
        assert_eq!(ids(&[("recordingType", "All")]), vec!["b", "c"]);
        assert_eq!(ids(&[("recordingType", "OnDemand")]), vec!["c"]);
        assert!(recording_filter(&p(&[("recordingType", "Sometimes")])).is_err());
    }

    #[test]
    fn call_log_parameters() {
        let q = call_log_query(
            &p(&[
                ("view", "Detailed"),
                ("telephonySessionId", "s-1"),
                ("direction", "Inbound"),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(q.view, CallLogView::Detailed);
        assert_eq!(q.telephony_session_id.as_deref(), Some("s-1"));
        assert_eq!(q.directions, vec!["Inbound".to_string()]);
        assert!(call_log_query(&p(&[("view", "Fancy")]), None).is_err());
        assert!(call_log_query(&p(&[("dateFrom", "soon")]), None).is_err());
        assert!(call_log_query(&p(&[("direction", "Up")]), None).is_err());
    }
}
