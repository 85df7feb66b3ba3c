//! Seen callers: every caller number callboard has seen, so the board can count first-time
//! callers ("a caller number never seen before in the store's call history", DESIGN.md).
//!
//! Key = the normalised number (UTF-8); value = first-seen time as i64 BE Unix milliseconds.
//! The app loads the whole set at start ([`Store::seen_callers`]) and records new numbers as
//! calls arrive; the board decides "first time" against the set it was given.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{Store, StoreError};

/// The form a caller number is stored in: trimmed, with spaces, dashes, dots and brackets
/// removed (so `+1 (415) 555-0100` and `+14155550100` are one caller). `None` for numbers that
/// identify nobody: empty, `anonymous`, or without a single digit.
pub fn normalize_caller(number: &str) -> Option<String> {
    let compact: String = number
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    if compact.is_empty() || !compact.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(compact)
}

impl Store {
    /// Every caller number seen before, normalised.
    pub fn seen_callers(&self) -> Result<HashSet<String>, StoreError> {
        let mut seen = HashSet::new();
        for key in self.seen_callers.iter().keys() {
            let key = key.map_err(|e| self.sled_error(e))?;
            seen.insert(String::from_utf8_lossy(&key).into_owned());
        }
        Ok(seen)
    }

    /// Records that `number` called at `at`. Returns true if it had never been seen (a
    /// first-time caller); false if it was known or identifies nobody.
    pub fn mark_caller_seen(&self, number: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let Some(key) = normalize_caller(number) else {
            return Ok(false);
        };
        let first = self
            .seen_callers
            .compare_and_swap(
                key.as_bytes(),
                None as Option<&[u8]>,
                Some(&at.timestamp_millis().to_be_bytes()[..]),
            )
            .map_err(|e| self.sled_error(e))?;
        Ok(first.is_ok())
    }

    /// Records many callers at once (e.g. from the call-log bootstrap); returns how many were new.
    pub fn mark_callers_seen<'a>(
        &self,
        numbers: impl IntoIterator<Item = (&'a str, DateTime<Utc>)>,
    ) -> Result<usize, StoreError> {
        let mut new = 0;
        for (number, at) in numbers {
            if self.mark_caller_seen(number, at)? {
                new += 1;
            }
        }
        Ok(new)
    }

    /// When `number` was first seen, if ever.
    pub fn caller_first_seen(&self, number: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let Some(key) = normalize_caller(number) else {
            return Ok(None);
        };
        let raw = self
            .seen_callers
            .get(key.as_bytes())
            .map_err(|e| self.sled_error(e))?;
        Ok(raw.and_then(|raw| {
            let millis = i64::from_be_bytes(raw.as_ref().try_into().ok()?);
            DateTime::from_timestamp_millis(millis)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    #[test]
    fn numbers_normalise_to_one_form() {
        assert_eq!(
            normalize_caller(" +1 (415) 555-0100 ").as_deref(),
            Some("+14155550100")
        );
        assert_eq!(normalize_caller("anonymous"), None);
        assert_eq!(normalize_caller("   "), None);
    }

    #[test]
    fn a_caller_is_first_time_once_and_the_set_survives_a_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let at: DateTime<Utc> = "2026-11-25T09:30:00Z".parse().unwrap();
        let later: DateTime<Utc> = "2026-11-25T10:30:00Z".parse().unwrap();
        {
            let store = Store::open(tmp.path(), StoreConfig::default()).unwrap();
            assert!(store.mark_caller_seen("+14155550100", at).unwrap());
            assert!(!store.mark_caller_seen("+1 415 555 0100", later).unwrap());
            assert!(!store.mark_caller_seen("Anonymous", at).unwrap());
            let new = store
                .mark_callers_seen([("+14155550101", at), ("+14155550100", at)])
                .unwrap();
            assert_eq!(new, 1);
        }
        let store = Store::open(tmp.path(), StoreConfig::default()).unwrap();
        let seen = store.seen_callers().unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen.contains("+14155550101"));
        assert_eq!(store.caller_first_seen("+14155550100").unwrap(), Some(at));
        assert_eq!(store.caller_first_seen("+19999999999").unwrap(), None);
    }
}
