//! Relabel audit and pending writes (issue 5: "nothing the user confirmed is lost; nothing is
//! written twice").
//!
//! * `relabel_pending`: key = idempotency key; value = versioned JSON [`PendingRelabel`]. A write
//!   enters here the moment the user confirms it, before anything is sent, and leaves only when
//!   its outcome is known.
//! * `relabel_audit`: key = u64 BE sequence (append order); value = versioned JSON [`AuditEntry`].
//!
//! Leaving `pending` and entering the audit happen in one transaction ([`Store::complete_relabel`]),
//! so after a crash a write is either still pending or audited, never both and never neither.
//!
//! How the relabel worker uses this:
//! 1. user confirms → [`PendingRelabel::new`] → [`Store::queue_relabel`];
//! 2. before each try → [`Store::note_relabel_attempt`]; send the PUT;
//! 3. on a final answer → [`Store::complete_relabel`]. It returns `None` if that key was already
//!    completed: the caller must then not act on it again;
//! 4. at start → [`Store::pending_relabels`], in confirmation order. For each, read the number's
//!    current label first: if it already equals `new_label` the write landed before the crash —
//!    complete it with [`RelabelOutcome::AlreadyApplied`] instead of sending it again.

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::{Store, StoreError, decode_record, encode_record};

/// A relabel the user confirmed that the platform has not yet confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRelabel {
    /// Unique per confirmed write; the key that makes completing it happen once.
    pub idempotency_key: String,
    /// Confirmation order, assigned by [`Store::queue_relabel`]; writes are applied in this order.
    pub seq: u64,
    /// The platform's phone-number id.
    pub number_id: String,
    /// The number in E.164.
    pub phone_number: String,
    pub old_label: Option<String>,
    pub new_label: String,
    /// Who asked: the token owner's name or extension.
    pub who: String,
    #[serde(with = "crate::store::rfc3339")]
    pub confirmed_at: DateTime<Utc>,
    /// Shared by the writes of one bulk relabel (and its undo), so they can be shown and undone
    /// together.
    pub batch_id: Option<String>,
    pub attempts: u32,
    /// The last failure, in words, while the write is still being retried.
    pub last_error: Option<String>,
}

impl PendingRelabel {
    /// A new write with a fresh idempotency key.
    pub fn new(
        number_id: impl Into<String>,
        phone_number: impl Into<String>,
        old_label: Option<String>,
        new_label: impl Into<String>,
        who: impl Into<String>,
        confirmed_at: DateTime<Utc>,
    ) -> PendingRelabel {
        PendingRelabel {
            idempotency_key: new_idempotency_key(),
            seq: 0,
            number_id: number_id.into(),
            phone_number: phone_number.into(),
            old_label,
            new_label: new_label.into(),
            who: who.into(),
            confirmed_at,
            batch_id: None,
            attempts: 0,
            last_error: None,
        }
    }

    /// The same write, tagged with the bulk operation it belongs to.
    pub fn in_batch(mut self, batch_id: impl Into<String>) -> PendingRelabel {
        self.batch_id = Some(batch_id.into());
        self
    }
}

/// 128 random bits as 32 hex digits; also usable as a batch id.
pub fn new_idempotency_key() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}

/// How a relabel ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RelabelOutcome {
    /// The platform confirmed the new label.
    Applied,
    /// Found already in place when resuming after a crash; not sent again.
    AlreadyApplied,
    /// The platform refused it; `code` is its error code (e.g. `CMN-102`), `message` in words.
    Failed {
        code: Option<String>,
        message: String,
    },
    /// Dropped before it was applied (the user cancelled it, or read-only mode was turned on).
    Abandoned { reason: String },
}

impl RelabelOutcome {
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            RelabelOutcome::Applied | RelabelOutcome::AlreadyApplied
        )
    }
}

/// One line of the relabel audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Append order; newest is highest.
    pub seq: u64,
    /// When the outcome was known.
    #[serde(with = "crate::store::rfc3339")]
    pub at: DateTime<Utc>,
    #[serde(with = "crate::store::rfc3339")]
    pub confirmed_at: DateTime<Utc>,
    pub number_id: String,
    pub phone_number: String,
    pub old_label: Option<String>,
    pub new_label: String,
    pub who: String,
    pub outcome: RelabelOutcome,
    pub idempotency_key: String,
    pub batch_id: Option<String>,
    pub attempts: u32,
}

impl Store {
    /// Keeps a confirmed write until its outcome is known, assigning its confirmation order.
    /// Queuing the same idempotency key twice keeps the first and returns it unchanged.
    pub fn queue_relabel(&self, write: PendingRelabel) -> Result<PendingRelabel, StoreError> {
        let key = write.idempotency_key.clone();
        if let Some(existing) = self.pending_relabel(&key)? {
            return Ok(existing);
        }
        let write = PendingRelabel {
            seq: self.db.generate_id().map_err(|e| self.sled_error(e))?,
            ..write
        };
        let raw = encode_record("pending relabel", &write)?;
        let inserted = self
            .pending
            .compare_and_swap(key.as_bytes(), None as Option<&[u8]>, Some(raw))
            .map_err(|e| self.sled_error(e))?;
        match inserted {
            Ok(()) => {
                self.flush()?;
                Ok(write)
            }
            // Queued concurrently under the same key: the first one stands.
            Err(_) => self
                .pending_relabel(&key)?
                .ok_or_else(|| StoreError::BadRecord {
                    what: "pending relabel",
                    detail: format!("write {key} vanished while being queued"),
                }),
        }
    }

    /// The pending write with this key, if it is still pending.
    pub fn pending_relabel(&self, key: &str) -> Result<Option<PendingRelabel>, StoreError> {
        let raw = self
            .pending
            .get(key.as_bytes())
            .map_err(|e| self.sled_error(e))?;
        raw.map(|raw| decode_record("pending relabel", &raw))
            .transpose()
    }

    /// Every pending write, in the order the user confirmed them.
    pub fn pending_relabels(&self) -> Result<Vec<PendingRelabel>, StoreError> {
        let mut all = Vec::new();
        for item in self.pending.iter() {
            let (_, raw) = item.map_err(|e| self.sled_error(e))?;
            all.push(decode_record::<PendingRelabel>("pending relabel", &raw)?);
        }
        all.sort_by_key(|w| w.seq);
        Ok(all)
    }

    /// Counts one more try of a pending write, with the failure that ended the previous one.
    /// Returns the updated write, or `None` if it is no longer pending.
    pub fn note_relabel_attempt(
        &self,
        key: &str,
        last_error: Option<&str>,
    ) -> Result<Option<PendingRelabel>, StoreError> {
        let updated = self
            .pending
            .fetch_and_update(key.as_bytes(), |old| {
                let mut write: PendingRelabel = decode_record("pending relabel", old?).ok()?;
                write.attempts = write.attempts.saturating_add(1);
                write.last_error = last_error.map(str::to_owned);
                encode_record("pending relabel", &write).ok()
            })
            .map_err(|e| self.sled_error(e))?;
        if updated.is_none() {
            return Ok(None);
        }
        self.pending_relabel(key)
    }

    /// Ends a pending write: removes it and appends its audit entry, atomically. Returns `None`
    /// if the key was not pending (already completed), in which case nothing is written.
    pub fn complete_relabel(
        &self,
        key: &str,
        outcome: RelabelOutcome,
        at: DateTime<Utc>,
    ) -> Result<Option<AuditEntry>, StoreError> {
        let seq = self.db.generate_id().map_err(|e| self.sled_error(e))?;
        let entry = (&self.pending, &self.audit)
            .transaction(|(pending, audit)| {
                let Some(raw) = pending.remove(key.as_bytes())? else {
                    return Ok(None);
                };
                let write: PendingRelabel = decode_record("pending relabel", &raw)
                    .map_err(ConflictableTransactionError::Abort)?;
                let entry = AuditEntry {
                    seq,
                    at,
                    confirmed_at: write.confirmed_at,
                    number_id: write.number_id,
                    phone_number: write.phone_number,
                    old_label: write.old_label,
                    new_label: write.new_label,
                    who: write.who,
                    outcome: outcome.clone(),
                    idempotency_key: write.idempotency_key,
                    batch_id: write.batch_id,
                    attempts: write.attempts,
                };
                let encoded = encode_record("relabel audit", &entry)
                    .map_err(ConflictableTransactionError::Abort)?;
                audit.insert(&seq.to_be_bytes(), encoded)?;
                Ok(Some(entry))
            })
            .map_err(|e| self.tx_error(e))?;
        if entry.is_some() {
            self.flush()?;
        }
        Ok(entry)
    }

    /// The whole audit, oldest first.
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit
            .iter()
            .map(|item| {
                let (_, raw) = item.map_err(|e| self.sled_error(e))?;
                decode_record("relabel audit", &raw)
            })
            .collect()
    }

    /// The newest `limit` audit entries, newest first (for the audit view).
    pub fn audit_recent(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit
            .iter()
            .rev()
            .take(limit)
            .map(|item| {
                let (_, raw) = item.map_err(|e| self.sled_error(e))?;
                decode_record("relabel audit", &raw)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn write(n: &str, label: &str) -> PendingRelabel {
        PendingRelabel::new(
            n,
            "+14155550100",
            Some("Old +14155550199".into()),
            label,
            "Ann Supervisor",
            at("2026-11-25T10:00:00Z"),
        )
    }

    #[test]
    fn keys_are_unique_and_hex() {
        let a = new_idempotency_key();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, new_idempotency_key());
    }

    #[test]
    fn pending_writes_survive_a_reopen_in_confirmation_order() {
        let tmp = tempfile::tempdir().unwrap();
        let (first, second);
        {
            let store = Store::open(tmp.path(), StoreConfig::default()).unwrap();
            first = store.queue_relabel(write("1", "A +14155550199")).unwrap();
            second = store
                .queue_relabel(write("2", "B +14155550199").in_batch("bulk-1"))
                .unwrap();
            store
                .note_relabel_attempt(&first.idempotency_key, Some("rate limited"))
                .unwrap();
        }
        let store = Store::open(tmp.path(), StoreConfig::default()).unwrap();
        let pending = store.pending_relabels().unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0].idempotency_key, first.idempotency_key);
        assert_eq!(pending[0].attempts, 1);
        assert_eq!(pending[0].last_error.as_deref(), Some("rate limited"));
        assert_eq!(pending[1].idempotency_key, second.idempotency_key);
        assert_eq!(pending[1].batch_id.as_deref(), Some("bulk-1"));
    }

    #[test]
    fn queuing_a_key_twice_keeps_one_write() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), StoreConfig::default()).unwrap();
        let w = write("1", "A");
        let first = store.queue_relabel(w.clone()).unwrap();
        let again = store.queue_relabel(w).unwrap();
        assert_eq!(first, again);
        assert_eq!(store.pending_relabels().unwrap().len(), 1);
    }

    #[test]
    fn completing_moves_a_write_to_the_audit_exactly_once() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), StoreConfig::default()).unwrap();
        let ok = store.queue_relabel(write("1", "A +14155550199")).unwrap();
        let bad = store.queue_relabel(write("2", "B")).unwrap();
        let done_at = at("2026-11-25T10:00:05Z");

        let entry = store
            .complete_relabel(&ok.idempotency_key, RelabelOutcome::Applied, done_at)
            .unwrap()
            .unwrap();
        assert_eq!(entry.new_label, "A +14155550199");
        assert_eq!(entry.old_label.as_deref(), Some("Old +14155550199"));
        assert_eq!(entry.who, "Ann Supervisor");
        assert_eq!(entry.at, done_at);
        assert!(
            store
                .complete_relabel(&ok.idempotency_key, RelabelOutcome::Applied, done_at)
                .unwrap()
                .is_none(),
            "a second completion writes nothing"
        );
        let failed = RelabelOutcome::Failed {
            code: Some("CMN-102".into()),
            message: "number not found".into(),
        };
        store
            .complete_relabel(&bad.idempotency_key, failed.clone(), done_at)
            .unwrap();
        assert!(store.pending_relabels().unwrap().is_empty());
        assert!(
            store
                .note_relabel_attempt(&bad.idempotency_key, None)
                .unwrap()
                .is_none()
        );

        let log = store.audit_log().unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].number_id, "1");
        assert!(log[0].outcome.is_success());
        assert_eq!(log[1].outcome, failed);
        let recent = store.audit_recent(1).unwrap();
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].number_id, "2");
    }
}
