//! rc
pub mod events;
pub mod records;
