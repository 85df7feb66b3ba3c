//! The pure call-board model: calls by telephony session, queues, agents, the number book and
//! the metrics of DESIGN.md. No IO and no clock reads: every time is a parameter, so each
//! transition is unit-testable and a recorded shift replays to the same board.
//!
//! | file         | what it holds                                                          |
//! |--------------|------------------------------------------------------------------------|
//! | `model.rs`   | the types ([`Board`], [`Call`], [`Queue`], [`Agent`]…) and the read API |
//! | `apply.rs`   | inputs → state: events, REST snapshots, call log, directory, tick      |
//! | `order.rs`   | the Calls view's live-call order, kept incrementally                    |
//! | `metrics.rs` | the metric formulas over counters                                       |
//! | `label.rs`   | the label grammar (campaign + DN), parse and format                     |
//! | `json.rs`    | board JSON schema 1 (docs/BOARD_JSON.md)                                |
//! | `replay.rs`  | `callboard replay`                                                      |

mod apply;
pub mod json;
pub mod label;
pub mod metrics;
mod model;
pub mod order;
pub mod replay;

pub use label::{LabelError, LabelGrammar, ParsedLabel, format_label, parse_label};
pub use metrics::{SlaSettings, Tally, Window};
pub use model::{
    Agent, AgentState, Applied, Board, BoardConfig, Call, CallDirection, CallState, CampaignRow,
    Endpoint, NumberEntry, NumberRow, Outcome, PartyState, PartySummary, Queue, QueueRollup,
    QueueRow, RecordingRef, UNKNOWN, UNLABELLED, normalize_number,
};
pub use order::{LiveOrder, live_rank, state_since, state_since_is_lower_bound};

#[cfg(test)]
mod tests;
