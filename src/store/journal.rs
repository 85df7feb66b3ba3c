//! The event journal: raw WebSocket frames as received, so a shift can be replayed later
//! (`callboard journal export > shift.jsonl`, then `callboard replay shift.jsonl`).
//!
//! Key = u64 BE, from sled's monotonic id generator (increasing across restarts, with gaps);
//! value = `[format byte][i64 BE receive time, Unix microseconds][frame bytes]`. Frames count
//! against the store's size cap: at the cap, [`Store::journal_append`] fails with
//! [`StoreError::CapReached`] and the monitor should stop journaling and say so.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::{Store, StoreError, adjust_usage_tx};

/// Format byte at the start of every journal value.
const JOURNAL_FORMAT: u8 = 1;
/// Format byte + receive time.
const HEADER_LEN: usize = 1 + 8;

/// One journaled frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub seq: u64,
    pub received_at: DateTime<Utc>,
    /// The frame's bytes exactly as received (normally a JSON array `[meta, body]`).
    pub frame: Vec<u8>,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalExport {
    pub frames: u64,
    pub bytes: u64,
}

impl Store {
    /// Appends one frame received at `received_at`; returns its sequence number.
    pub fn journal_append(
        &self,
        frame: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let seq = self.db.generate_id().map_err(|e| self.sled_error(e))?;
        let mut value = Vec::with_capacity(HEADER_LEN + frame.len());
        value.push(JOURNAL_FORMAT);
        value.extend_from_slice(&received_at.timestamp_micros().to_be_bytes());
        value.extend_from_slice(frame);
        let value = sled::IVec::from(value);
        let cap = self.config.cap_bytes;
        let frame_len = frame.len() as i64;
        (&self.journal, &self.meta)
            .transaction(|(journal, meta)| {
                adjust_usage_tx(meta, frame_len, cap)?;
                journal.insert(&seq.to_be_bytes(), value.clone())?;
                Ok(())
            })
            .map_err(|e| self.tx_error(e))?;
        Ok(seq)
    }

    /// Number of journaled frames. sled counts by walking the tree, so this costs a scan.
    pub fn journal_len(&self) -> usize {
        self.journal.len()
    }

    /// Every journaled frame, oldest first, read lazily.
    pub fn journal_entries(&self) -> impl Iterator<Item = Result<JournalEntry, StoreError>> + '_ {
        self.journal.iter().map(|item| {
            let (key, value) = item.map_err(|e| self.sled_error(e))?;
            decode_entry(&key, &value)
        })
    }

    /// Writes the journal as JSON lines, one frame per line, exactly as received — the input
    /// `callboard replay` reads. A frame that spans lines (pretty-printed JSON) has its line
    /// breaks turned into spaces: in JSON they can only be whitespace between tokens (inside a
    /// string they must be escaped), so the frame means exactly the same.
    pub fn journal_export(&self, out: &mut impl Write) -> Result<JournalExport, StoreError> {
        let write_error = |source| StoreError::ExportFile {
            path: PathBuf::from("(journal export output)"),
            source,
        };
        let mut export = JournalExport {
            frames: 0,
            bytes: 0,
        };
        for entry in self.journal_entries() {
            let entry = entry?;
            let line = one_line(&entry.frame);
            out.write_all(&line).map_err(write_error)?;
            out.write_all(b"\n").map_err(write_error)?;
            export.frames += 1;
            export.bytes += line.len() as u64 + 1;
        }
        out.flush().map_err(write_error)?;
        Ok(export)
    }

    /// Removes every frame with a sequence below `seq` (all of them for `u64::MAX`), giving
    /// their bytes back to the cap. Returns how many frames were removed.
    pub fn journal_remove_before(&self, seq: u64) -> Result<u64, StoreError> {
        let mut removed = 0;
        for key in self.journal.range(..seq.to_be_bytes()).keys() {
            let key = key.map_err(|e| self.sled_error(e))?;
            (&self.journal, &self.meta)
                .transaction(|(journal, meta)| {
                    if let Some(old) = journal.remove(&key)? {
                        let len = old.len().saturating_sub(HEADER_LEN) as i64;
                        adjust_usage_tx(meta, -len, u64::MAX)?;
                    }
                    Ok::<(), ConflictableTransactionError<StoreError>>(())
                })
                .map_err(|e| self.tx_error(e))?;
            removed += 1;
        }
        Ok(removed)
    }
}

fn decode_entry(key: &[u8], value: &[u8]) -> Result<JournalEntry, StoreError> {
    let bad = |detail: String| StoreError::BadRecord {
        what: "journal frame",
        detail,
    };
    let seq_bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| bad(format!("key of {} bytes, 8 expected", key.len())))?;
    if value.len() < HEADER_LEN {
        return Err(bad(format!("value of {} bytes is too short", value.len())));
    }
    if value[0] != JOURNAL_FORMAT {
        return Err(bad(format!(
            "unknown journal format {}; written by a newer callboard?",
            value[0]
        )));
    }
    let mut micros = [0u8; 8];
    micros.copy_from_slice(&value[1..HEADER_LEN]);
    let received_at = DateTime::from_timestamp_micros(i64::from_be_bytes(micros))
        .ok_or_else(|| bad("receive time out of range".to_owned()))?;
    Ok(JournalEntry {
        seq: u64::from_be_bytes(seq_bytes),
        received_at,
        frame: value[HEADER_LEN..].to_vec(),
    })
}

/// The frame with CR and LF bytes replaced by spaces (borrowed when it has none).
fn one_line(frame: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !frame.iter().any(|&b| b == b'\n' || b == b'\r') {
        return std::borrow::Cow::Borrowed(frame);
    }
    std::borrow::Cow::Owned(
        frame
            .iter()
            .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    const FRAME_A: &str = r#"[{"type":"ServerNotification","messageId":"u1","status":200},{"uuid":"u1","event":"/restapi/v1.0/account/1/telephony/sessions","body":{"sequence":2}}]"#;
    const FRAME_B: &str = "[{\"type\":\"Heartbeat\",\"messageId\":\"h\"}]";

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn export_round_trips_frames_exactly_in_order_across_a_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let pretty = "[\n  {\"type\": \"Heartbeat\"},\r\n  {\"note\": \"a\\nb\"}\n]";
        {
            let store = Store::open(tmp.path(), StoreConfig::default()).unwrap();
            let a = store
                .journal_append(FRAME_A.as_bytes(), at("2026-11-25T10:00:00.123456Z"))
                .unwrap();
            let b = store
                .journal_append(FRAME_B.as_bytes(), at("2026-11-25T10:00:01Z"))
                .unwrap();
            assert!(b > a);
        }
        let store = Store::open(tmp.path(), StoreConfig::default()).unwrap();
        let c = store
            .journal_append(pretty.as_bytes(), at("2026-11-25T10:00:02Z"))
            .unwrap();
        let entries: Vec<_> = store.journal_entries().map(Result::unwrap).collect();
        assert_eq!(entries.len(), 3);
        assert!(
            entries[1].seq < c,
            "sequence keeps increasing across reopen"
        );
        assert_eq!(entries[0].received_at, at("2026-11-25T10:00:00.123456Z"));
        assert_eq!(entries[2].frame, pretty.as_bytes());

        let mut out = Vec::new();
        let export = store.journal_export(&mut out).unwrap();
        assert_eq!(export.frames, 3);
        assert_eq!(export.bytes, out.len() as u64);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], FRAME_A);
        assert_eq!(lines[1], FRAME_B);
        let reparsed: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        let original: serde_json::Value = serde_json::from_str(pretty).unwrap();
        assert_eq!(reparsed, original);
    }

    #[test]
    fn the_journal_is_bounded_by_the_cap_and_trimming_frees_room() {
        let tmp = tempfile::tempdir().unwrap();
        let cap = (FRAME_B.len() * 2) as u64;
        let store = Store::open(
            tmp.path(),
            StoreConfig {
                cap_bytes: cap,
                ..StoreConfig::default()
            },
        )
        .unwrap();
        let now = at("2026-11-25T10:00:00Z");
        store.journal_append(FRAME_B.as_bytes(), now).unwrap();
        let second = store.journal_append(FRAME_B.as_bytes(), now).unwrap();
        let err = store.journal_append(FRAME_B.as_bytes(), now).unwrap_err();
        assert!(matches!(err, StoreError::CapReached { .. }), "{err:?}");
        assert_eq!(store.journal_len(), 2);
        assert_eq!(store.used_bytes().unwrap(), cap);

        assert_eq!(store.journal_remove_before(second).unwrap(), 1);
        assert_eq!(store.journal_len(), 1);
        store.journal_append(FRAME_B.as_bytes(), now).unwrap();
        assert_eq!(store.journal_remove_before(u64::MAX).unwrap(), 2);
        assert_eq!(store.used_bytes().unwrap(), 0);
    }
}
