//! The embedded RingCentral platform simulator.
pub mod faults;
pub mod pretty;
pub mod ratelimit;
pub mod tokens;
