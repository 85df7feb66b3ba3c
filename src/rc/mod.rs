//! rc
