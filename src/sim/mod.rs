//! The embedded RingCentral platform simulator.
pub mod faults;
pub mod pretty;
pub mod ratelimit;
pub mod tokens;
pub mod audio;
pub(crate) mod names;
pub mod traffic;
pub mod truth;
pub mod world;
