//! The platform client: everything between RingCentral and the board.
//!
//! | module        | what it holds                                                             |
//! |---------------|---------------------------------------------------------------------------|
//! | [`auth`]      | credentials, OAuth sign-in, refresh, revoke; secrets that never print      |
//! | [`transport`] | sending with rate-limit pacing, `Retry-After`, 5xx backoff; wait notices   |
//! | [`ratelimit`] | per-group pacing state (pure)                                              |
//! | [`rest`]      | the REST client: endpoint groups, 401 retry, paging, typed helpers         |
//! | [`error`]     | errors worded for a supervisor, with the platform's error code             |
//! | [`events`]    | typed, borrowed, tolerant parse of WebSocket frames and notifications      |
//! | [`scan`]      | the validating JSON reader under the board's per-event parse             |
//! | [`records`]   | owned serde types of the REST records                                      |
//! | [`frames`]    | the frames the client writes to the WebSocket gateway                      |
//! | [`ws`]        | the live event session: subscribe, heartbeat, recover, resync; `ConnState` |
//! | [`sync`]      | bootstrap and resync reads over REST (`Snapshot`)                          |
//! | [`apply`]     | applying session events and snapshots to the board (shared by all apps)   |
//! | [`watch`]     | `callboard watch`, the headless monitor                                    |
//!
//! ## Driving it from an app loop
//!
//! The session is a task; the app loop owns the board and applies what the session sends.
//! `callboard watch` ([`watch`]) is the complete example; in short:
//!
//! ```ignore
//! let rest = Arc::new(RestClient::connect(Credentials::from_config(&creds)?, RestConfig::default())?);
//! let (tx, mut events) = tokio::sync::mpsc::channel(4096);
//! let session = ws::spawn(rest.clone(), SessionConfig::default(),
//!                         sync::platform_sync(rest.clone(), zone), tx);
//! while let Some(event) = events.recv().await {
//!     let now = Utc::now();
//!     match event {
//!         SessionEvent::Notification(frame) => { apply::apply_notification(&mut board, frame.as_str(), now); }
//!         SessionEvent::Synced(snapshot) => { apply::apply_snapshot(&mut board, &snapshot, now); }
//!         SessionEvent::LiveCallsWanted(reply) => { let _ = reply.send(apply::live_call_ids(&board)); }
//!         SessionEvent::State(state) => { /* status line */ }
//!         SessionEvent::Warning(text) => { /* status line */ }
//!     }
//! }
//! // On exit: delete the subscription, then sign out.
//! session.shutdown().await;
//! rest.auth().revoke().await;
//! ```
//!
//! `rest.notices()` reports rate-limit and backoff waits for the status line.

pub mod account;
pub mod apply;
pub mod auth;
pub mod error;
pub mod events;
pub mod frames;
pub mod ratelimit;
pub mod records;
pub mod rest;
pub mod scan;
pub mod sync;
pub mod transport;
pub mod unseen_ends;
pub mod watch;
pub mod ws;

pub use auth::{AccessToken, Auth, Credentials, Secret};
pub use error::RcError;
pub use ratelimit::RateGroup;
pub use rest::{RestClient, RestConfig};
pub use transport::{RestNotice, RetryPolicy};
pub use ws::{ConnState, SessionEvent};
