//! The simulator's wire protocol over real loopback sockets: OAuth, REST, the WebSocket gateway
//! (subscribe, notify, heartbeat, recovery, timeouts), rate limits, recordings, every fault kind,
//! and error bodies for bad input. reqwest and tokio-tungstenite play the client.
//!
//! Timeouts here are safety nets only: nothing asserts how fast anything happens.

use callboard::sim::{SimConfig, SimHandle, Simulator};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Upper bound on any single wait; only reached when something is broken.
const PATIENCE: Duration = Duration::from_secs(20);

const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A world with no spontaneous calls: only `/_sim/burst` makes telephony events, so tests can
/// count exactly.
fn quiet_config() -> SimConfig {
    let mut cfg = SimConfig::for_tests(11);
    cfg.world.calls_per_minute = 0.0;
    cfg.world.outbound_calls_per_minute = 0.0;
    cfg.world.internal_calls_per_minute = 0.0;
    cfg
}

async fn start(cfg: SimConfig) -> SimHandle {
    Simulator::start(cfg).await.unwrap()
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

async fn login(sim: &SimHandle) -> Value {
    let creds = sim.credentials();
    let response = http()
        .post(format!("{}/restapi/oauth/token", sim.base_url()))
        .basic_auth(&creds.client_id, Some(&creds.client_secret))
        .form(&[("grant_type", JWT_GRANT), ("assertion", creds.jwt.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn access(token: &Value) -> String {
    token["access_token"].as_str().unwrap().to_owned()
}

async fn get(sim: &SimHandle, token: &str, path: &str) -> reqwest::Response {
    http()
        .get(format!("{}{path}", sim.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn control(sim: &SimHandle, path: &str, body: Value) -> Value {
    let response = http()
        .post(format!("{}/_sim/{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "/_sim/{path}");
    response.json().await.unwrap()
}

async fn ws_token(sim: &SimHandle, token: &str) -> Value {
    let response = http()
        .post(format!("{}/restapi/oauth/wstoken", sim.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn open(sim: &SimHandle, token: &str, wsc: Option<&str>) -> Socket {
    let grant = ws_token(sim, token).await;
    let mut url = format!(
        "{}?access_token={}",
        grant["uri"].as_str().unwrap(),
        grant["ws_access_token"].as_str().unwrap()
    );
    if let Some(wsc) = wsc {
        url.push_str(&format!("&wsc={wsc}"));
    }
    let (socket, _) = connect_async(url).await.unwrap();
    socket
}

/// The next text frame, parsed (pings are answered by tungstenite and skipped here).
async fn next_frame(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("a frame within the safety timeout")
            .expect("the socket is open")
            .expect("a well-formed WebSocket message");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => panic!("closed unexpectedly: {frame:?}"),
            _ => continue,
        }
    }
}

/// Reads until the socket closes; returns the text frames seen and the close code.
async fn until_closed(socket: &mut Socket) -> (Vec<String>, Option<u16>) {
    let mut texts = Vec::new();
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("the socket closes within the safety timeout");
        match message {
            Some(Ok(Message::Text(text))) => texts.push(text.to_string()),
            Some(Ok(Message::Close(frame))) => return (texts, frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return (texts, None),
        }
    }
}

async fn send(socket: &mut Socket, frame: Value) {
    socket
        .send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// Sends a ClientRequest and returns the reply with the same messageId.
async fn request(
    socket: &mut Socket,
    id: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Value {
    let meta = json!({"type": "ClientRequest", "messageId": id, "method": method, "path": path});
    send(
        socket,
        body.map_or_else(|| json!([meta.clone()]), |b| json!([meta.clone(), b])),
    )
    .await;
    loop {
        let frame = next_frame(socket).await;
        if frame[0]["type"] == "ClientRequest" && frame[0]["messageId"] == id {
            return frame;
        }
    }
}

async fn subscribe(socket: &mut Socket, filters: &[&str]) -> Value {
    let body = json!({"eventFilters": filters, "deliveryMode": {"transportType": "WebSocket"}});
    let reply = request(
        socket,
        "sub-1",
        "POST",
        "/restapi/v1.0/subscription/",
        Some(body),
    )
    .await;
    assert_eq!(reply[0]["status"], 200, "{reply}");
    reply
}

async fn next_notification(socket: &mut Socket) -> Value {
    loop {
        let frame = next_frame(socket).await;
        if frame[0]["type"] == "ServerNotification" {
            return frame;
        }
    }
}

const ACCOUNT_TELEPHONY: &str = "/restapi/v1.0/account/~/telephony/sessions";

// -- OAuth -------------------------------------------------------------------------------------

#[tokio::test]
async fn token_grant_refresh_revoke_and_their_errors() {
    let sim = start(quiet_config()).await;
    let creds = sim.credentials().clone();
    let token_url = format!("{}/restapi/oauth/token", sim.base_url());

    let first = login(&sim).await;
    assert_eq!(first["token_type"], "bearer");
    assert_eq!(first["expires_in"], 3600);
    assert_eq!(first["refresh_token_expires_in"], 604_800);
    for field in ["owner_id", "scope", "session_id", "refresh_token"] {
        assert!(first[field].is_string(), "TokenInfo.{field}");
    }

    // client_id in the body instead of Basic.
    let by_body = http()
        .post(&token_url)
        .form(&[
            ("grant_type", JWT_GRANT),
            ("assertion", &creds.jwt),
            ("client_id", &creds.client_id),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(by_body.status(), StatusCode::OK);

    let wrong_secret = http()
        .post(&token_url)
        .basic_auth(&creds.client_id, Some("wrong"))
        .form(&[("grant_type", JWT_GRANT), ("assertion", &creds.jwt)])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), StatusCode::UNAUTHORIZED);
    let text = wrong_secret.text().await.unwrap();
    assert!(
        text.contains("\"error\" : \"invalid_client\""),
        "pretty-printed like the platform: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["errors"][0]["errorCode"], "OAU-146");

    let wrong_jwt = http()
        .post(&token_url)
        .basic_auth(&creds.client_id, Some(&creds.client_secret))
        .form(&[("grant_type", JWT_GRANT), ("assertion", "eyJ.bad.jwt")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_jwt.status(), StatusCode::BAD_REQUEST);
    let body: Value = wrong_jwt.json().await.unwrap();
    assert_eq!(
        (
            body["error"].as_str(),
            body["errors"][0]["errorCode"].as_str()
        ),
        (Some("invalid_grant"), Some("OAU-140"))
    );

    let anonymous = http()
        .post(&token_url)
        .form(&[("grant_type", JWT_GRANT), ("assertion", &creds.jwt)])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::BAD_REQUEST);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["errors"][0]["errorCode"], "OAU-123");

    // Refresh: new pair, old access token dead, old refresh token spent.
    let refresh = |rt: String| {
        let creds = creds.clone();
        let url = token_url.clone();
        async move {
            http()
                .post(url)
                .basic_auth(&creds.client_id, Some(&creds.client_secret))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let refreshed = refresh(first["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let second: Value = refreshed.json().await.unwrap();
    assert_eq!(second["session_id"], first["session_id"]);
    let old = get(&sim, &access(&first), "/restapi/v1.0/account/~/extension/~").await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let body: Value = old.json().await.unwrap();
    assert_eq!(body["errors"][0]["errorCode"], "OAU-149");
    let again = refresh(first["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        get(
            &sim,
            &access(&second),
            "/restapi/v1.0/account/~/extension/~"
        )
        .await
        .status(),
        StatusCode::OK
    );

    // Revoke ends the session.
    let revoked = http()
        .post(format!("{}/restapi/oauth/revoke", sim.base_url()))
        .basic_auth(&creds.client_id, Some(&creds.client_secret))
        .form(&[("token", access(&second).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        get(
            &sim,
            &access(&second),
            "/restapi/v1.0/account/~/extension/~"
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    let refresh_after_revoke = refresh(second["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(refresh_after_revoke.status(), StatusCode::BAD_REQUEST);
    sim.shutdown().await;
}

#[tokio::test]
async fn api_authentication_forms_and_failures() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);
    let url = format!("{}/restapi/v1.0/account/~/extension/~", sim.base_url());

    let missing = http().get(&url).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert!(missing.headers().contains_key("RCRequestId"));
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["errorCode"], "AGW-401");

    let lower = http()
        .get(&url)
        .header("Authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), StatusCode::OK);
    let by_query = http()
        .get(format!("{url}?access_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), StatusCode::OK);
    let basic = http()
        .get(&url)
        .header("Authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);

    control(&sim, "fault", json!({"kind": "expire_tokens"})).await;
    let expired = get(&sim, &token, "/restapi/v1.0/account/~/extension/~").await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    let body: Value = expired.json().await.unwrap();
    assert_eq!(body["errors"][0]["errorCode"], "OAU-128");
    assert_eq!(body["errors"][0]["message"], "Access token expired");
    sim.shutdown().await;
}

#[tokio::test]
async fn access_tokens_expire_by_their_lifetime() {
    let mut cfg = quiet_config();
    cfg.tokens.access = Duration::from_secs(1);
    let sim = start(cfg).await;
    let grant = login(&sim).await;
    assert_eq!(grant["expires_in"], 1);
    let token = access(&grant);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = get(&sim, &token, "/restapi/v1.0/account/~/extension/~").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["errorCode"], "OAU-128");
    sim.shutdown().await;
}

// -- WebSocket gateway ---------------------------------------------------------------------------

#[tokio::test]
async fn connect_subscribe_and_receive_notifications() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);
    let grant = ws_token(&sim, &token).await;
    assert!(
        grant["uri"]
            .as_str()
            .unwrap()
            .starts_with("ws://127.0.0.1:")
    );
    assert!(grant["uri"].as_str().unwrap().ends_with("/ws"));

    let mut socket = open(&sim, &token, None).await;
    let details = next_frame(&mut socket).await;
    assert_eq!(details[0]["type"], "ConnectionDetails");
    assert_eq!(details[0]["wsc"]["sequence"], 1);
    assert!(details[0]["wsc"]["token"].is_string());
    assert_eq!(details[1]["recoveryTimeout"], 180);
    assert_eq!(details[1]["recoveryBufferSize"], 100);
    assert!(
        details[1].get("recoveryState").is_none(),
        "no recoveryState without wsc"
    );

    let reply = subscribe(
        &mut socket,
        &[
            ACCOUNT_TELEPHONY,
            "/restapi/v1.0/account/~/presence?detailedTelephonyState=true",
        ],
    )
    .await;
    let subscription = &reply[1];
    let headers = &reply[0]["headers"];
    assert_eq!(headers["WSG-SubscriptionId"], subscription["id"]);
    assert_eq!(headers["X-Rate-Limit-Group"], "medium");
    assert!(headers["RCRequestId"].is_string());
    assert_eq!(subscription["status"], "Active");
    assert_eq!(
        subscription["deliveryMode"],
        json!({"transportType": "WebSocket", "encryption": false})
    );
    let expanded = subscription["eventFilters"][0].as_str().unwrap();
    assert!(
        !expanded.contains('~') && expanded.ends_with("/telephony/sessions"),
        "{expanded}"
    );

    let burst = control(&sim, "burst", json!({"count": 12})).await;
    assert_eq!(burst["count"], 12);
    let mut telephony = 0;
    let mut last_wsc_sequence = 1;
    while telephony < 12 {
        let frame = next_notification(&mut socket).await;
        let (meta, envelope) = (&frame[0], &frame[1]);
        assert_eq!(meta["messageId"], envelope["uuid"]);
        assert_eq!(envelope["subscriptionId"], subscription["id"]);
        assert!(envelope["ownerId"].is_string());
        assert!(envelope["timestamp"].as_str().unwrap().ends_with('Z'));
        let sequence = meta["wsc"]["sequence"].as_u64().unwrap();
        assert!(sequence > last_wsc_sequence, "wsc sequence increases");
        last_wsc_sequence = sequence;
        let event = envelope["event"].as_str().unwrap();
        if event.ends_with("/telephony/sessions") {
            telephony += 1;
            let body = &envelope["body"];
            assert_eq!(
                body["parties"].as_array().unwrap().len(),
                1,
                "one party per event"
            );
            let party = &body["parties"][0];
            match party.get("extensionId").and_then(Value::as_str) {
                Some(ext) => assert!(
                    event.ends_with(&format!("/extension/{ext}/telephony/sessions")),
                    "{event}"
                ),
                None => assert!(!event.contains("/extension/"), "{event}"),
            }
        } else {
            assert!(event.contains("/presence"), "{event}");
        }
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_larger_than_a_socket_queue_arrives_whole() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);
    let mut socket = open(&sim, &token, None).await;
    next_frame(&mut socket).await;
    subscribe(&mut socket, &[ACCOUNT_TELEPHONY]).await;
    let count = 20_000;
    let reader = tokio::spawn(async move {
        let mut uuids = HashSet::new();
        while uuids.len() < count {
            let frame = next_notification(&mut socket).await;
            uuids.insert(frame[1]["uuid"].as_str().unwrap().to_owned());
        }
        uuids.len()
    });
    let burst = control(&sim, "burst", json!({"count": count})).await;
    assert_eq!(
        burst["framesDelivered"], count,
        "every frame went to the live socket"
    );
    assert_eq!(reader.await.unwrap(), count);
    sim.shutdown().await;
}

#[tokio::test]
async fn heartbeat_is_echoed_and_bad_frames_get_error_frames() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);
    let mut socket = open(&sim, &token, None).await;
    next_frame(&mut socket).await;
    send(
        &mut socket,
        json!([{"type": "Heartbeat", "messageId": "hb-1"}]),
    )
    .await;
    let echo = next_frame(&mut socket).await;
    assert_eq!(echo, json!([{"type": "Heartbeat", "messageId": "hb-1"}]));

    socket
        .send(Message::Text("{not json".into()))
        .await
        .unwrap();
    let error = next_frame(&mut socket).await;
    assert_eq!(
        (error[0]["type"].as_str(), error[1]["errorCode"].as_str()),
        (Some("Error"), Some("CMN-103"))
    );

    let bad_filter = json!({"eventFilters": ["/restapi/v1.0/account/~/extension/~/message-store"]});
    let reply = request(
        &mut socket,
        "m-2",
        "POST",
        "/restapi/v1.0/subscription",
        Some(bad_filter),
    )
    .await;
    assert_eq!(
        (reply[0]["status"].as_u64(), reply[1]["errorCode"].as_str()),
        (Some(400), Some("SUB-508"))
    );
    let reply = request(
        &mut socket,
        "m-3",
        "PUT",
        "/restapi/v1.0/subscription/nope",
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (reply[0]["status"].as_u64(), reply[1]["errorCode"].as_str()),
        (Some(404), Some("SUB-507"))
    );
    let reply = request(
        &mut socket,
        "m-4",
        "GET",
        "/restapi/v1.0/subscription/x/y",
        None,
    )
    .await;
    assert_eq!(reply[0]["status"], 404);

    let created = subscribe(&mut socket, &[ACCOUNT_TELEPHONY]).await;
    let path = format!(
        "/restapi/v1.0/subscription/{}",
        created[1]["id"].as_str().unwrap()
    );
    let renewed = request(
        &mut socket,
        "m-5",
        "PUT",
        &path,
        Some(json!({"eventFilters": [ACCOUNT_TELEPHONY]})),
    )
    .await;
    assert_eq!(renewed[0]["status"], 200);
    let deleted = request(&mut socket, "m-6", "DELETE", &path, None).await;
    assert_eq!(deleted[0]["status"], 204);
    assert_eq!(deleted.as_array().unwrap().len(), 1, "204 is meta only");
    sim.shutdown().await;
}

#[tokio::test]
async fn rest_over_the_socket_is_served_by_the_same_handlers() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);
    let mut socket = open(&sim, &token, None).await;
    next_frame(&mut socket).await;

    let meta = json!({"type": "ClientRequest", "messageId": "r-1", "method": "GET",
        "path": "/restapi/v1.0/account/~/extension", "query": {"perPage": 2, "type": ["User", "Department"]}});
    send(&mut socket, json!([meta])).await;
    let reply = next_frame(&mut socket).await;
    assert_eq!(reply[0]["messageId"], "r-1");
    assert_eq!(reply[0]["status"], 200);
    assert_eq!(reply[0]["headers"]["X-Rate-Limit-Group"], "medium");
    assert!(reply[0]["headers"]["RCRequestId"].is_string());
    assert_eq!(reply[1]["records"].as_array().unwrap().len(), 2);
    assert_eq!(reply[1]["paging"]["perPage"], 2);

    let missing = request(
        &mut socket,
        "r-2",
        "GET",
        "/restapi/v1.0/account/~/phone-number/999",
        None,
    )
    .await;
    assert_eq!(
        (
            missing[0]["status"].as_u64(),
            missing[1]["errorCode"].as_str()
        ),
        (Some(404), Some("CMN-102"))
    );
    let oauth = request(&mut socket, "r-3", "POST", "/restapi/oauth/wstoken", None).await;
    assert_eq!(
        (oauth[0]["status"].as_u64(), oauth[1]["errorCode"].as_str()),
        (Some(404), Some("CMN-120"))
    );
    let control_api = request(&mut socket, "r-4", "GET", "/_sim/truth", None).await;
    assert_eq!(control_api[0]["status"], 404);

    let made = control(&sim, "recording", json!({"bytes": 1000})).await;
    let path = format!(
        "/restapi/v1.0/account/~/recording/{}/content",
        made["id"].as_str().unwrap()
    );
    let binary = request(&mut socket, "r-5", "GET", &path, None).await;
    assert_eq!(
        (
            binary[0]["status"].as_u64(),
            binary[1]["errorCode"].as_str()
        ),
        (Some(501), Some("CMN-202"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn ws_tokens_are_single_use_and_required() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);
    let grant = ws_token(&sim, &token).await;
    let url = format!(
        "{}?access_token={}",
        grant["uri"].as_str().unwrap(),
        grant["ws_access_token"].as_str().unwrap()
    );
    let (mut first, _) = connect_async(&url).await.unwrap();
    assert_eq!(next_frame(&mut first).await[0]["type"], "ConnectionDetails");

    let (mut reused, _) = connect_async(&url).await.unwrap();
    let (texts, code) = until_closed(&mut reused).await;
    let error: Value = serde_json::from_str(&texts[0]).unwrap();
    assert_eq!(error[0]["type"], "Error");
    assert_eq!(error[1]["errorCode"], "OAU-149");
    assert_eq!(code, Some(4401));

    let (mut bare, _) = connect_async(grant["uri"].as_str().unwrap()).await.unwrap();
    let (texts, code) = until_closed(&mut bare).await;
    assert!(texts.is_empty());
    assert_eq!(code, Some(4400));

    // The token may also come as a Bearer header on the upgrade.
    let header_grant = ws_token(&sim, &token).await;
    let mut request = header_grant["uri"]
        .as_str()
        .unwrap()
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Authorization",
        format!(
            "Bearer {}",
            header_grant["ws_access_token"].as_str().unwrap()
        )
        .parse()
        .unwrap(),
    );
    let (mut by_header, _) = connect_async(request).await.unwrap();
    assert_eq!(
        next_frame(&mut by_header).await[0]["type"],
        "ConnectionDetails"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn recovery_replays_missed_events_exactly_once() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);
    let mut socket = open(&sim, &token, None).await;
    let details = next_frame(&mut socket).await;
    let wsc = details[0]["wsc"]["token"].as_str().unwrap().to_owned();
    let subscription = subscribe(&mut socket, &[ACCOUNT_TELEPHONY]).await[1]["id"].clone();

    let mut seen = HashSet::new();
    control(&sim, "burst", json!({"count": 5})).await;
    for _ in 0..5 {
        let frame = next_notification(&mut socket).await;
        assert!(seen.insert(frame[1]["uuid"].as_str().unwrap().to_owned()));
    }

    control(&sim, "fault", json!({"kind": "drop_sockets"})).await;
    let (_, code) = until_closed(&mut socket).await;
    assert_eq!(code, None, "a dropped socket has no close frame");
    let missed = control(&sim, "burst", json!({"count": 30})).await;
    assert_eq!(missed["framesDelivered"], 0, "no live socket while dropped");

    let mut recovered = open(&sim, &token, Some(&wsc)).await;
    let details = next_frame(&mut recovered).await;
    assert_eq!(details[1]["recoveryState"], "Successful");
    for _ in 0..30 {
        let frame = next_notification(&mut recovered).await;
        assert_eq!(
            frame[1]["subscriptionId"], subscription,
            "the subscription carries on"
        );
        assert!(
            seen.insert(frame[1]["uuid"].as_str().unwrap().to_owned()),
            "replayed once"
        );
    }
    control(&sim, "burst", json!({"count": 3})).await;
    for _ in 0..3 {
        let frame = next_notification(&mut recovered).await;
        assert!(
            seen.insert(frame[1]["uuid"].as_str().unwrap().to_owned()),
            "no replay repeats after it"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn recovery_failures_and_malformed_wsc() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);

    // No subscription: WSG-1005.
    let mut socket = open(&sim, &token, None).await;
    let wsc = next_frame(&mut socket).await[0]["wsc"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(socket);
    control(&sim, "fault", json!({"kind": "drop_sockets"})).await;
    let mut again = open(&sim, &token, Some(&wsc)).await;
    let details = next_frame(&mut again).await;
    assert_eq!(details[1]["recoveryState"], "Failed");
    assert_eq!(details[1]["recoveryErrorCode"], "WSG-1005");

    // Another OAuth session: WSG-1003.
    let mut subscribed = open(&sim, &token, None).await;
    let wsc = next_frame(&mut subscribed).await[0]["wsc"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    subscribe(&mut subscribed, &[ACCOUNT_TELEPHONY]).await;
    control(&sim, "fault", json!({"kind": "drop_sockets"})).await;
    let stranger = access(&login(&sim).await);
    let mut foreign = open(&sim, &stranger, Some(&wsc)).await;
    let details = next_frame(&mut foreign).await;
    assert_eq!(details[1]["recoveryState"], "Failed");
    assert_eq!(details[1]["recoveryErrorCode"], "WSG-1003");

    // Forgotten sessions: recovery fails.
    let mut kept = open(&sim, &token, None).await;
    let wsc = next_frame(&mut kept).await[0]["wsc"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    subscribe(&mut kept, &[ACCOUNT_TELEPHONY]).await;
    control(&sim, "fault", json!({"kind": "forget_sessions"})).await;
    let mut after_forget = open(&sim, &token, Some(&wsc)).await;
    let details = next_frame(&mut after_forget).await;
    assert_eq!(details[1]["recoveryState"], "Failed");
    assert_ne!(
        details[0]["wsc"]["token"].as_str(),
        Some(wsc.as_str()),
        "a new WS session"
    );

    // A made-up wsc: WSG-400, then close.
    let mut fake = open(&sim, &token, Some("not-a-real-wsc-token")).await;
    let (texts, code) = until_closed(&mut fake).await;
    let error: Value = serde_json::from_str(&texts[0]).unwrap();
    assert_eq!(error[0]["type"], "Error");
    assert_eq!(error[1]["errorCode"], "WSG-400");
    assert!(code.is_some());
    sim.shutdown().await;
}

#[tokio::test]
async fn recovery_after_the_timeout_fails() {
    let mut cfg = quiet_config();
    cfg.gateway.recovery_timeout = Duration::from_millis(200);
    let sim = start(cfg).await;
    let token = access(&login(&sim).await);
    let mut socket = open(&sim, &token, None).await;
    let wsc = next_frame(&mut socket).await[0]["wsc"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    subscribe(&mut socket, &[ACCOUNT_TELEPHONY]).await;
    control(&sim, "fault", json!({"kind": "drop_sockets"})).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut late = open(&sim, &token, Some(&wsc)).await;
    assert_eq!(next_frame(&mut late).await[1]["recoveryState"], "Failed");
    sim.shutdown().await;
}

#[tokio::test]
async fn idle_timeout_sends_wsg_902_then_closes() {
    let mut cfg = quiet_config();
    cfg.gateway.idle_timeout = Duration::from_millis(300);
    cfg.ping_interval = None;
    let sim = start(cfg).await;
    let token = access(&login(&sim).await);
    let mut socket = open(&sim, &token, None).await;
    next_frame(&mut socket).await;
    let (texts, code) = until_closed(&mut socket).await;
    let error: Value = serde_json::from_str(texts.last().unwrap()).unwrap();
    assert_eq!(error[0]["type"], "Error");
    assert_eq!(error[1]["errorCode"], "WSG-902");
    assert!(code.is_some());
    sim.shutdown().await;
}

#[tokio::test]
async fn absolute_timeout_sends_wsg_903_then_closes() {
    let mut cfg = quiet_config();
    cfg.gateway.absolute_timeout = Duration::from_millis(300);
    let sim = start(cfg).await;
    let token = access(&login(&sim).await);
    let mut socket = open(&sim, &token, None).await;
    next_frame(&mut socket).await;
    let (texts, _) = until_closed(&mut socket).await;
    let error: Value = serde_json::from_str(texts.last().unwrap()).unwrap();
    assert_eq!(error[1]["errorCode"], "WSG-903");
    sim.shutdown().await;
}

#[tokio::test]
async fn revoke_closes_the_sessions_sockets() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);
    let mut socket = open(&sim, &token, None).await;
    next_frame(&mut socket).await;
    let creds = sim.credentials().clone();
    let revoked = http()
        .post(format!("{}/restapi/oauth/revoke", sim.base_url()))
        .basic_auth(&creds.client_id, Some(&creds.client_secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let (_, code) = until_closed(&mut socket).await;
    assert_eq!(code, Some(1000));
    sim.shutdown().await;
}

// -- REST ----------------------------------------------------------------------------------------

#[tokio::test]
async fn rest_reads_paging_and_relabel() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);

    let response = get(
        &sim,
        &token,
        "/restapi/v1.0/account/~/phone-number?perPage=3&page=2",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["X-Rate-Limit-Group"], "heavy");
    for name in [
        "X-Rate-Limit-Limit",
        "X-Rate-Limit-Remaining",
        "X-Rate-Limit-Window",
        "RCRequestId",
    ] {
        assert!(headers.contains_key(name), "{name}");
    }
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["records"].as_array().unwrap().len(), 3);
    assert_eq!(page["paging"]["page"], 2);
    assert_eq!(page["paging"]["pageStart"], 3);
    assert!(page["navigation"]["previousPage"]["uri"].is_string());
    let number = page["records"][0].clone();
    assert!(number["id"].is_u64(), "v1 phone-number ids are numbers");

    // Relabel, then read it back, by `~` and by the numeric account id.
    let id = number["id"].as_u64().unwrap();
    let account_id = number["uri"]
        .as_str()
        .unwrap()
        .split("/account/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let relabelled = http()
        .put(format!(
            "{}/restapi/v1.0/account/~/phone-number/{id}",
            sim.base_url()
        ))
        .bearer_auth(&token)
        .json(&json!({"label": "Spring Promo +14155550100"}))
        .send()
        .await
        .unwrap();
    assert_eq!(relabelled.status(), StatusCode::OK);
    assert_eq!(relabelled.headers()["X-Rate-Limit-Group"], "medium");
    let record: Value = relabelled.json().await.unwrap();
    assert_eq!(record["label"], "Spring Promo +14155550100");
    let read: Value = get(
        &sim,
        &token,
        &format!("/restapi/v1.0/account/{account_id}/phone-number/{id}"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(read["label"], "Spring Promo +14155550100");

    let bad_json = http()
        .put(format!(
            "{}/restapi/v1.0/account/~/phone-number/{id}",
            sim.base_url()
        ))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body("{\"label\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_json.json::<Value>().await.unwrap()["errorCode"],
        "CMN-103"
    );
    let control_chars = http()
        .put(format!(
            "{}/restapi/v1.0/account/~/phone-number/{id}",
            sim.base_url()
        ))
        .bearer_auth(&token)
        .json(&json!({"label": "evil \u{1b}[2J"}))
        .send()
        .await
        .unwrap();
    assert_eq!(control_chars.status(), StatusCode::BAD_REQUEST);
    let missing = get(&sim, &token, "/restapi/v1.0/account/~/phone-number/999").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["errorCode"],
        "CMN-102"
    );

    // Queues, members, presence, extensions.
    let queues: Value = get(&sim, &token, "/restapi/v1.0/account/~/call-queues")
        .await
        .json()
        .await
        .unwrap();
    let queue_id = queues["records"][0]["id"].as_str().unwrap().to_owned();
    let detail: Value = get(
        &sim,
        &token,
        &format!("/restapi/v1.0/account/~/call-queues/{queue_id}"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(detail["serviceLevelSettings"].is_object());
    let members: Value = get(
        &sim,
        &token,
        &format!("/restapi/v1.0/account/~/call-queues/{queue_id}/members"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(!members["records"].as_array().unwrap().is_empty());
    let presence = get(
        &sim,
        &token,
        &format!("/restapi/v1.0/account/~/call-queues/{queue_id}/presence"),
    )
    .await;
    assert_eq!(presence.status(), StatusCode::OK);
    let me: Value = get(&sim, &token, "/restapi/v1.0/account/~/extension/~")
        .await
        .json()
        .await
        .unwrap();
    assert!(me["id"].is_u64());
    let extensions: Value = get(
        &sim,
        &token,
        "/restapi/v1.0/account/~/extension?type=Department",
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(
        extensions["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] == "Department")
    );
    let detailed: Value = get(
        &sim,
        &token,
        "/restapi/v1.0/account/~/presence?detailedTelephonyState=true",
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(detailed["paging"].is_object());
    let own = get(
        &sim,
        &token,
        "/restapi/v1.0/account/~/extension/~/presence?detailedTelephonyState=true",
    )
    .await;
    assert_eq!(own.status(), StatusCode::OK);
    let ended = get(
        &sim,
        &token,
        "/restapi/v1.0/account/~/telephony/sessions/s-unknown",
    )
    .await;
    assert_eq!(ended.status(), StatusCode::NOT_FOUND);
    let log = get(
        &sim,
        &token,
        "/restapi/v1.0/account/~/call-log?view=Detailed&perPage=5",
    )
    .await;
    assert_eq!(log.status(), StatusCode::OK);
    assert_eq!(log.headers()["X-Rate-Limit-Group"], "heavy");
    let bad_view = get(&sim, &token, "/restapi/v1.0/account/~/call-log?view=Fancy").await;
    assert_eq!(bad_view.status(), StatusCode::BAD_REQUEST);
    let active = get(&sim, &token, "/restapi/v1.0/account/~/active-calls").await;
    assert_eq!(active.status(), StatusCode::OK);
    assert_eq!(active.headers()["X-Rate-Limit-Group"], "heavy");
    assert!(active.json::<Value>().await.unwrap()["records"].is_array());
    let other_account = get(&sim, &token, "/restapi/v1.0/account/12345/extension").await;
    assert_eq!(other_account.status(), StatusCode::NOT_FOUND);
    sim.shutdown().await;
}

#[tokio::test]
async fn calls_show_up_in_the_call_log_and_as_live_sessions() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);
    let mut socket = open(&sim, &token, None).await;
    next_frame(&mut socket).await;
    subscribe(&mut socket, &[ACCOUNT_TELEPHONY]).await;
    control(&sim, "burst", json!({"count": 40})).await;
    let first = next_notification(&mut socket).await;
    let session_id = first[1]["body"]["telephonySessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    // Burst calls are complete calls: the session has ended, so its REST view is gone and the
    // call log has it once the log delay passes.
    let mut found = false;
    for _ in 0..100 {
        let page: Value = get(
            &sim,
            &token,
            &format!(
                "/restapi/v1.0/account/~/call-log?telephonySessionId={session_id}&view=Detailed"
            ),
        )
        .await
        .json()
        .await
        .unwrap();
        if let Some(record) = page["records"].as_array().and_then(|r| r.first()) {
            assert_eq!(record["telephonySessionId"], session_id.as_str());
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "the burst call reached the call log");
    sim.shutdown().await;
}

#[tokio::test]
async fn active_calls_are_the_live_sessions() {
    let cfg = SimConfig {
        rate_limits: callboard::sim::RateLimits::off(),
        world: callboard::sim::WorldConfig {
            calls_per_minute: 30.0,
            history_minutes: 10,
            ..callboard::sim::WorldConfig::default()
        },
        ..SimConfig::default()
    };
    let sim = start(cfg).await;
    control(&sim, "pause", json!({})).await;
    let token = access(&login(&sim).await);
    let page: Value = get(
        &sim,
        &token,
        "/restapi/v1.0/account/~/active-calls?perPage=max",
    )
    .await
    .json()
    .await
    .unwrap();
    let records = page["records"].as_array().unwrap();
    assert!(
        !records.is_empty(),
        "a busy call centre has calls in progress"
    );
    for record in records {
        assert_eq!(record["result"], "In Progress");
        let id = record["telephonySessionId"].as_str().unwrap();
        let session = get(
            &sim,
            &token,
            &format!("/restapi/v1.0/account/~/telephony/sessions/{id}"),
        )
        .await;
        assert_eq!(
            session.status(),
            StatusCode::OK,
            "paused, so every listed call is still live"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn recordings_stream_with_ranges() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);
    let made = control(&sim, "recording", json!({"bytes": 200_000})).await;
    let id = made["id"].as_str().unwrap();
    let meta: Value = get(
        &sim,
        &token,
        &format!("/restapi/v1.0/account/~/recording/{id}"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(meta["id"], id);
    let content_uri = meta["contentUri"].as_str().unwrap().to_owned();

    let full = http()
        .get(&content_uri)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(full.headers()["Content-Length"], "200000");
    assert_eq!(full.headers()["Accept-Ranges"], "bytes");
    assert!(
        full.headers()["Content-Type"]
            .to_str()
            .unwrap()
            .starts_with("audio/")
    );
    let whole = full.bytes().await.unwrap();
    assert_eq!(whole.len(), 200_000);
    assert_eq!(&whole[..4], b"RIFF");

    let part = http()
        .get(&content_uri)
        .bearer_auth(&token)
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["Content-Range"], "bytes 100-199/200000");
    assert_eq!(part.bytes().await.unwrap(), whole.slice(100..200));

    let tail = http()
        .get(format!("{content_uri}?access_token={token}"))
        .header("Range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail.bytes().await.unwrap(), whole.slice(199_990..));

    let beyond = http()
        .get(&content_uri)
        .bearer_auth(&token)
        .header("Range", "bytes=300000-")
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(beyond.headers()["Content-Range"], "bytes */200000");
    assert_eq!(
        beyond.json::<Value>().await.unwrap()["errorCode"],
        "CMN-107"
    );

    let unknown = get(
        &sim,
        &token,
        "/restapi/v1.0/account/~/recording/424242/content",
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["errorCode"],
        "CMN-102"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let mut cfg = quiet_config();
    cfg.rate_limits = callboard::sim::RateLimits {
        heavy: 2,
        ..callboard::sim::RateLimits::default()
    };
    let sim = start(cfg).await;
    let token = access(&login(&sim).await);
    let path = "/restapi/v1.0/account/~/phone-number";
    let remaining: Vec<String> = {
        let mut seen = Vec::new();
        for _ in 0..2 {
            let response = get(&sim, &token, path).await;
            assert_eq!(response.status(), StatusCode::OK);
            seen.push(
                response.headers()["X-Rate-Limit-Remaining"]
                    .to_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        seen
    };
    assert_eq!(remaining, vec!["1", "0"]);
    let limited = get(&sim, &token, path).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["Retry-After"], "60");
    assert_eq!(limited.headers()["X-Rate-Limit-Group"], "heavy");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["errorCode"], "CMN-301");
    assert_eq!(body["errors"][0]["errorCode"], "CMN-301");
    // Other groups are counted apart.
    assert_eq!(
        get(&sim, &token, "/restapi/v1.0/account/~/extension/~")
            .await
            .status(),
        StatusCode::OK
    );

    control(
        &sim,
        "fault",
        json!({"kind": "rate_limit", "group": "light", "seconds": 30}),
    )
    .await;
    let forced = get(&sim, &token, "/restapi/v1.0/account/~/extension/~").await;
    assert_eq!(forced.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = forced.headers()["Retry-After"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry));
    sim.shutdown().await;
}

// -- bad input and faults ------------------------------------------------------------------------

#[tokio::test]
async fn bad_requests_get_platform_error_bodies() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);
    let unknown = get(&sim, &token, "/restapi/v1.0/account/~/nonsense").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["errorCode"],
        "CMN-120"
    );
    let outside = http()
        .get(format!("{}/favicon.ico", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);
    let wrong_method = http()
        .delete(format!(
            "{}/restapi/v1.0/account/~/call-queues",
            sim.base_url()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong_method.json::<Value>().await.unwrap()["errorCode"].is_string());
    let bad_page = get(
        &sim,
        &token,
        "/restapi/v1.0/account/~/extension?perPage=lots",
    )
    .await;
    assert_eq!(bad_page.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_page.json::<Value>().await.unwrap()["errorCode"],
        "CMN-101"
    );
    let bad_fault = http()
        .post(format!("{}/_sim/fault", sim.base_url()))
        .body("{\"kind\": \"meteor\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_fault.status(), StatusCode::BAD_REQUEST);
    sim.shutdown().await;
}

#[tokio::test]
async fn http_error_and_stall_faults() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);
    control(
        &sim,
        "fault",
        json!({"kind": "http_error", "path_prefix": "/restapi/v1.0/account/~/call-queues", "status": 503, "seconds": 30}),
    )
    .await;
    let failed = get(&sim, &token, "/restapi/v1.0/account/~/call-queues").await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(failed.headers().contains_key("Retry-After"));
    assert_eq!(
        failed.json::<Value>().await.unwrap()["errorCode"],
        "CMN-201"
    );
    assert_eq!(
        get(&sim, &token, "/restapi/v1.0/account/~/extension/~")
            .await
            .status(),
        StatusCode::OK
    );

    // The socket upgrade can be failed too.
    control(
        &sim,
        "fault",
        json!({"kind": "http_error", "path_prefix": "/ws", "status": 502, "seconds": 30}),
    )
    .await;
    let grant = ws_token(&sim, &token).await;
    let url = format!(
        "{}?access_token={}",
        grant["uri"].as_str().unwrap(),
        grant["ws_access_token"].as_str().unwrap()
    );
    match connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 502)
        }
        other => panic!(
            "expected an HTTP 502 on the upgrade, got {:?}",
            other.map(|(_, r)| r.status())
        ),
    }

    control(
        &sim,
        "fault",
        json!({"kind": "stall", "path_prefix": "/restapi/v1.0/account/~/extension", "seconds": 30}),
    )
    .await;
    let stalled = http()
        .get(format!(
            "{}/restapi/v1.0/account/~/extension/~",
            sim.base_url()
        ))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(
        stalled.unwrap_err().is_timeout(),
        "a stalled path does not answer"
    );
    assert_eq!(
        get(&sim, &token, "/restapi/v1.0/account/~/phone-number/1")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_frames_and_hostile_strings() {
    let sim = start(quiet_config()).await;
    let token = access(&login(&sim).await);
    let mut socket = open(&sim, &token, None).await;
    next_frame(&mut socket).await;
    control(&sim, "fault", json!({"kind": "malformed_frame"})).await;
    let mut texts = Vec::new();
    let mut binary = false;
    while !binary {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match message {
            Message::Text(text) => texts.push(text.to_string()),
            Message::Binary(_) => binary = true,
            _ => {}
        }
    }
    assert!(
        texts
            .iter()
            .any(|t| serde_json::from_str::<Value>(t).is_err()),
        "some frames are not JSON"
    );
    assert!(
        texts.iter().any(|t| t.len() > 1_000_000),
        "one frame is huge"
    );
    // The socket still works afterwards.
    send(
        &mut socket,
        json!([{"type": "Heartbeat", "messageId": "after"}]),
    )
    .await;
    assert_eq!(next_frame(&mut socket).await[0]["messageId"], "after");

    control(&sim, "fault", json!({"kind": "hostile_strings"})).await;
    let numbers: Value = get(
        &sim,
        &token,
        "/restapi/v1.0/account/~/phone-number?perPage=1000",
    )
    .await
    .json()
    .await
    .unwrap();
    let hostile = numbers["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["label"].as_str())
        .any(|label| label.chars().any(callboard::text::is_unsafe_char));
    assert!(hostile, "some label carries control or bidi characters");
    sim.shutdown().await;
}

#[tokio::test]
async fn pause_resume_and_truth() {
    let sim = start(SimConfig::for_tests(5)).await;
    assert_eq!(control(&sim, "pause", json!({})).await["paused"], true);
    let truth: Value = http()
        .get(format!("{}/_sim/truth", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(truth["schema"], 1);
    assert!(truth["queues"].is_array());
    assert_eq!(control(&sim, "resume", json!({})).await["paused"], false);
    sim.shutdown().await;
}
