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
//! | [`records`]   | owned serde types of the REST records                                      |
//! | [`frames`]    | the frames the client writes to the WebSocket gateway                      |
//! | [`ws`]        | the live event session: subscribe, heartbeat, recover, resync; `ConnState` |
//! | [`sync`]      | bootstrap and resync reads over REST (`Snapshot`)                          |
//! | [`apply`]     | applying session events and snapshots to the board (shared by all apps)   |
//! | [`watch`]     | `callboard watch`, the headless monitor                                    |

pub mod apply;
pub mod auth;
pub mod error;
pub mod events;
pub mod frames;
pub mod ratelimit;
pub mod records;
pub mod rest;
pub mod sync;
pub mod transport;
pub mod watch;
pub mod ws;

pub use auth::{AccessToken, Auth, Credentials, Secret};
pub use error::RcError;
pub use ratelimit::RateGroup;
pub use rest::{RestClient, RestConfig};
pub use transport::{RestNotice, RetryPolicy};
pub use ws::{ConnState, SessionEvent};
