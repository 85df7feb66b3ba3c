//! The control API under `/_sim/` (loopback peers only; the edge middleware checks): ground
//! truth, pause/resume, bursts of traffic, fault injection and standalone recordings, for tests,
//! benches and demos. Documented in README.md, section "Simulator".

use super::faults::Fault;
use super::http::{Refusal, SimState, error_reply, json_reply, lock};
use super::ws::{fan_out, malformed_frames};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most events one burst may ask for; beyond this a typo would tie the simulator up for minutes.
const MAX_BURST: usize = 1_000_000;
/// Events generated and queued per step of a burst, between yields to the socket tasks.
const BURST_STEP: usize = 500;
/// Longest a burst waits for a socket to drain before going on; a client that still has not
/// made room is then cut by the gateway as a slow consumer.
const BURST_PATIENCE: Duration = Duration::from_secs(2);

/// Waits until every socket queue has room for the next burst step (or patience runs out), so
/// a burst goes as fast as the sockets take it instead of overflowing them.
async fn wait_for_room(state: &SimState) {
    let deadline = tokio::time::Instant::now() + BURST_PATIENCE;
    loop {
        let room = lock(&state.gateway).min_room();
        if room.is_none_or(|free| free >= 4 * BURST_STEP) || tokio::time::Instant::now() >= deadline
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Largest standalone recording, 4 GiB: bytes are generated on the fly, never held.
const MAX_RECORDING_BYTES: u64 = 4 << 30;

fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|error| {
        error_reply(
            StatusCode::BAD_REQUEST,
            "CMN-103",
            &format!("JSON can't be parsed: {error}"),
        )
        .into()
    })
}

/// `GET /_sim/truth`: the world's own board JSON (docs/BOARD_JSON.md).
pub(crate) async fn truth(State(state): State<Arc<SimState>>) -> Response {
    let truth = lock(&state.world).truth(Utc::now());
    // Compact: the truth of a busy day is large, and scripts do not read it by eye.
    let mut response = truth.to_string().into_response();
    super::http::put_header(response.headers_mut(), "Content-Type", "application/json");
    response
}

/// `POST /_sim/pause`: no new calls, no progress, no events until resume.
pub(crate) async fn pause(State(state): State<Arc<SimState>>) -> Response {
    lock(&state.world).set_paused(true);
    json_reply(StatusCode::OK, &json!({"paused": true}))
}

/// `POST /_sim/resume`.
pub(crate) async fn resume(State(state): State<Arc<SimState>>) -> Response {
    lock(&state.world).set_paused(false);
    json_reply(StatusCode::OK, &json!({"paused": false}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BurstRequest {
    count: usize,
}

/// `POST /_sim/burst {"count": N}`: N telephony events from throwaway calls, queued to every
/// matching subscription as fast as the sockets take them, also while paused. Answers once
/// all N are queued, with how many frames went to live sockets.
pub(crate) async fn burst(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    let request: BurstRequest = match parse_body(&body) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    if request.count > MAX_BURST {
        return error_reply(
            StatusCode::BAD_REQUEST,
            "CMN-101",
            &format!("Parameter [count] value is invalid: at most {MAX_BURST} events per burst"),
        );
    }
    let mut remaining = request.count;
    let mut delivered = 0;
    while remaining > 0 {
        let step = remaining.min(BURST_STEP);
        let events = lock(&state.world).burst(step, Utc::now());
        delivered += fan_out(&state, &events);
        remaining -= step;
        wait_for_room(&state).await;
    }
    json_reply(
        StatusCode::OK,
        &json!({"count": request.count, "framesDelivered": delivered}),
    )
}

/// `POST /_sim/fault {"kind": …}`: see [`Fault`].
pub(crate) async fn fault(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    let fault: Fault = match parse_body(&body) {
        Ok(fault) => fault,
        Err(refusal) => return refusal.into_response(),
    };
    let now = Instant::now();
    match &fault {
        Fault::DropSockets => lock(&state.gateway).drop_all(now),
        Fault::ForgetSessions => lock(&state.gateway).forget_all(now),
        Fault::ExpireTokens => lock(&state.tokens).expire_all_access_tokens(now),
        Fault::RateLimit { group, seconds } => {
            lock(&state.faults).force_rate_limit(*group, *seconds, now)
        }
        Fault::HttpError {
            path_prefix,
            status,
            seconds,
        } => {
            if StatusCode::from_u16(*status).is_err() || *status < 400 {
                return error_reply(
                    StatusCode::BAD_REQUEST,
                    "CMN-101",
                    &format!(
                        "Parameter [status] value is invalid: {status} is not an HTTP error status"
                    ),
                );
            }
            lock(&state.faults).add_http_error(path_prefix.clone(), *status, *seconds, now)
        }
        Fault::Stall {
            path_prefix,
            seconds,
        } => lock(&state.faults).add_stall(path_prefix.clone(), *seconds, now),
        Fault::MalformedFrame => {
            let gateway = lock(&state.gateway);
            for frame in malformed_frames() {
                gateway.broadcast(&frame);
            }
        }
        Fault::HostileStrings { enabled } => lock(&state.world).set_hostile(*enabled),
    }
    let sockets = lock(&state.gateway).live_connections();
    let applied: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    json_reply(
        StatusCode::OK,
        &json!({"applied": applied, "liveSockets": sockets}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordingRequest {
    bytes: u64,
}

/// `POST /_sim/recording {"bytes": N}`: a standalone recording of N bytes, available at once.
pub(crate) async fn recording(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    let request: RecordingRequest = match parse_body(&body) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    if request.bytes == 0 || request.bytes > MAX_RECORDING_BYTES {
        return error_reply(
            StatusCode::BAD_REQUEST,
            "CMN-101",
            &format!("Parameter [bytes] value is invalid: between 1 and {MAX_RECORDING_BYTES}"),
        );
    }
    let id = lock(&state.world).add_recording(request.bytes);
    let content_uri = format!(
        "{}/restapi/v1.0/account/{}/recording/{id}/content",
        state.base_url, state.account_id
    );
    json_reply(
        StatusCode::OK,
        &json!({"id": id, "contentUri": content_uri, "bytes": request.bytes}),
    )
}
