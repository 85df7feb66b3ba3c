//! The phone-number cache: the last account number list fetched from REST, so the board can
//! attribute calls to campaigns from the first frame, before the first REST page returns.
//!
//! Records are kept exactly as the platform returned them (v1 `CompanyPhoneNumberInfo` JSON), so
//! the board reads them with the same code as a fresh REST page and nothing is lost between
//! versions. They are untrusted network data: they are sanitised where they enter the board.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, decode_record, encode_record};

/// The one key of the `numbers` tree: the whole list is replaced at once.
const LIST_KEY: &[u8] = b"account_numbers";

/// The cached number list and when it was fetched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedNumbers {
    #[serde(with = "crate::store::rfc3339")]
    pub fetched_at: DateTime<Utc>,
    /// `CompanyPhoneNumberInfo` records as the REST API returns them.
    pub records: Vec<serde_json::Value>,
}

impl Store {
    /// Replaces the cached list with `records` (every page, as fetched at `fetched_at`).
    pub fn save_numbers(
        &self,
        records: &[serde_json::Value],
        fetched_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        #[derive(Serialize)]
        struct CachedNumbersRef<'a> {
            #[serde(with = "crate::store::rfc3339")]
            fetched_at: DateTime<Utc>,
            records: &'a [serde_json::Value],
        }
        let raw = encode_record(
            "number cache",
            &CachedNumbersRef {
                fetched_at,
                records,
            },
        )?;
        self.numbers
            .insert(LIST_KEY, raw)
            .map_err(|e| self.sled_error(e))?;
        Ok(())
    }

    /// The cached list, if one was ever saved.
    pub fn cached_numbers(&self) -> Result<Option<CachedNumbers>, StoreError> {
        let raw = self.numbers.get(LIST_KEY).map_err(|e| self.sled_error(e))?;
        raw.map(|raw| decode_record("number cache", &raw))
            .transpose()
    }

    /// Sets the `label` of the cached record whose `id` is `number_id` (after a confirmed
    /// relabel), so a restart before the next REST refresh shows the new campaign. Returns false
    /// when the number is not in the cache. Ids match as strings whether the record holds a JSON
    /// number (v1) or string.
    pub fn update_cached_label(&self, number_id: &str, label: &str) -> Result<bool, StoreError> {
        let Some(mut cache) = self.cached_numbers()? else {
            return Ok(false);
        };
        let found = cache
            .records
            .iter_mut()
            .find(|record| match record.get("id") {
                Some(serde_json::Value::String(id)) => id == number_id,
                Some(serde_json::Value::Number(id)) => id.to_string() == number_id,
                _ => false,
            });
        let Some(serde_json::Value::Object(record)) = found else {
            return Ok(false);
        };
        record.insert("label".to_owned(), serde_json::Value::from(label));
        self.save_numbers(&cache.records, cache.fetched_at)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;
    use serde_json::json;

    #[test]
    fn the_number_list_survives_a_reopen_and_labels_update_in_place() {
        let tmp = tempfile::tempdir().unwrap();
        let at: DateTime<Utc> = "2026-11-25T08:00:00Z".parse().unwrap();
        let records = vec![
            json!({"id": 1001, "phoneNumber": "+14155550100", "label": "Zillow Spring +14155550199"}),
            json!({"id": "1002", "phoneNumber": "+14155550101", "usageType": "CompanyNumber"}),
        ];
        {
            let store = Store::open(tmp.path(), StoreConfig::default()).unwrap();
            assert_eq!(store.cached_numbers().unwrap(), None);
            assert!(!store.update_cached_label("1001", "x").unwrap());
            store.save_numbers(&records, at).unwrap();
            assert!(
                store
                    .update_cached_label("1001", "Yelp +14155550199")
                    .unwrap()
            );
            assert!(store.update_cached_label("1002", "Web").unwrap());
            assert!(!store.update_cached_label("9999", "x").unwrap());
        }
        let store = Store::open(tmp.path(), StoreConfig::default()).unwrap();
        let cache = store.cached_numbers().unwrap().unwrap();
        assert_eq!(cache.fetched_at, at);
        assert_eq!(cache.records[0]["label"], "Yelp +14155550199");
        assert_eq!(cache.records[0]["id"], 1001, "ids keep their wire type");
        assert_eq!(cache.records[1]["label"], "Web");
        assert_eq!(cache.records[1]["usageType"], "CompanyNumber");
    }
}
