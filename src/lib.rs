//! callboard — a terminal live call monitor for call-centre supervisors on RingCentral.
//!
//! Module map (one folder per layer; data flows top to bottom, actions flow back up):
//!
//! | module     | what it holds                                                                  |
//! |------------|--------------------------------------------------------------------------------|
//! | [`rc`]     | the platform client: OAuth, REST with rate-limit groups, the WebSocket session, |
//! |            | typed event parsing                                                            |
//! | [`board`]  | the pure call-board model: calls, queues, campaigns, metrics (no IO, no clock)  |
//! | [`store`]  | the sled store: recordings, number cache, relabel audit, event journal          |
//! | [`ui`]     | the ratatui views, themes and key map                                          |
//! | [`sim`]    | the embedded RingCentral platform simulator (loopback, same wire protocol)      |
//! | [`app`]    | the app loop: the only writer of board and UI state                            |
//! | [`config`] | config file, environment, label grammar, theme choice                          |
//! | [`text`]   | sanitising strings from the network before they reach the terminal              |

pub mod app;
pub mod board;
pub mod config;
pub mod rc;
pub mod sim;
pub mod store;
pub mod text;
pub mod ui;
