//! The local store: one sled database in the data dir holding what callboard keeps between runs.
//!
//! | file             | tree(s)                         | what it holds                                   |
//! |------------------|---------------------------------|-------------------------------------------------|
//! | [`recordings`]   | `recordings`, `recording_chunks`| call recordings in fixed-size chunks (content in `recordings/`) |
//! | [`numbers`]      | `numbers`                       | the last phone-number list, for attribution at start |
//! | [`audit`]        | `relabel_audit`, `relabel_pending` | every relabel, and writes not yet confirmed  |
//! | [`journal`]      | `journal`                       | raw WebSocket frames, for `callboard replay`    |
//! | [`callers`]      | `seen_callers`                  | caller numbers seen before (first-time callers) |
//! | [`download`]     | —                               | the recording download engine (async, no sled)  |
//!
//! [`Store`] is cheap to clone (sled handles are reference counted) and safe to share between the
//! app loop and download tasks. Calls are synchronous. Most touch one small record; those that
//! walk a whole recording ([`Store::export_recording`], [`Store::verify_recording`],
//! [`Store::delete_recording`], [`Store::stored_prefix`]) take time in proportion to its size, so
//! async code runs them with `tokio::task::spawn_blocking`. None holds more than one chunk
//! (256 KiB by default) in memory, whatever a recording's size.
//!
//! Records are JSON with a `v` field (see [`FORMAT_VERSION`]); chunks and journal frames use a
//! small binary form described where they are written. The size cap ([`StoreConfig::cap_bytes`])
//! counts the bytes of recording chunks and journal frames — the two things that grow without
//! bound — and is kept exactly in a counter updated in the same transaction as each write. sled's
//! own overhead on disk comes on top.
//!
//! # Using it
//!
//! * At start: [`Store::open`] with the data dir; then [`Store::cached_numbers`] feeds the board's
//!   number book, [`Store::seen_callers`] its first-time-caller set, and
//!   [`Store::pending_relabels`] the relabel worker (see [`audit`] for the resume rule).
//! * While monitoring: [`Store::mark_caller_seen`] per new caller, [`Store::save_numbers`] after
//!   each full number-list fetch, [`Store::journal_append`] per frame when `--journal` is on.
//! * Relabels: [`Store::queue_relabel`] on confirm, [`Store::complete_relabel`] on the platform's
//!   answer, [`Store::audit_recent`] for the audit view.
//! * Recordings: a [`download::Downloader`] over a [`download::ReqwestSource`] fetches them
//!   (`start` for the TUI, `fetch` for the CLI) and reports [`download::DownloadEvent`]s;
//!   [`Store::recordings`] lists them, [`Store::export_recording`] writes a verified 0600 file,
//!   [`Store::delete_recording`] removes one.
//! * `callboard journal export`: [`Store::journal_export`] to stdout.

pub mod audit;
pub mod callers;
pub mod download;
pub mod journal;
pub mod journal_cli;
pub mod numbers;
pub mod recordings;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::{ConflictableTransactionError, TransactionError};

pub use audit::{AuditEntry, PendingRelabel, RelabelOutcome, new_idempotency_key};
pub use callers::normalize_caller;
pub use journal::{JournalEntry, JournalExport};
pub use numbers::CachedNumbers;
pub use recordings::{
    CallInfo, ExportReport, FinishedContent, MAX_RECORDING_ID_BYTES, RecordingMeta,
    RecordingStatus, StoredPrefix, check_recording_id, extension_for_content_type,
};

/// Version of every JSON record and binary value this code writes. A record with a higher version
/// was written by a newer callboard and is refused rather than misread.
pub const FORMAT_VERSION: u32 = 1;

/// Default recording chunk size: large enough that sled stores few keys per recording, small
/// enough that a download never holds more than this in memory.
pub const DEFAULT_CHUNK_BYTES: usize = 256 * 1024;

/// Default size cap for recordings plus journal.
pub const DEFAULT_CAP_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Default sled page cache. sled's own default (1 GiB) would let a 200 MB download sit in RSS;
/// a small cache keeps memory flat and costs little, since recordings are read sequentially.
pub const DEFAULT_CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// The name of the sled database directory inside the data dir.
pub const DB_DIR_NAME: &str = "store.sled";

/// The directory inside the data dir holding recording content files.
pub const RECORDINGS_DIR_NAME: &str = "recordings";

/// Tree names: the on-disk layout.
pub(crate) mod trees {
    pub const META: &str = "store_meta";
    pub const RECORDINGS: &str = "recordings";
    pub const RECORDING_CHUNKS: &str = "recording_chunks";
    pub const NUMBERS: &str = "numbers";
    pub const AUDIT: &str = "relabel_audit";
    pub const PENDING: &str = "relabel_pending";
    pub const JOURNAL: &str = "journal";
    pub const SEEN_CALLERS: &str = "seen_callers";
}

/// Key in the meta tree of the byte counter the cap is checked against (u64 big-endian).
const USAGE_KEY: &[u8] = b"usage_bytes";
/// Key in the meta tree of the store format version (u32 big-endian).
const FORMAT_KEY: &[u8] = b"format_version";

/// How the store is opened. Built from the config file by the caller; [`Default`] is sensible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The most bytes of recordings plus journal the store may hold. A write that would pass it
    /// fails with [`StoreError::CapReached`] and leaves everything already stored intact.
    pub cap_bytes: u64,
    /// Size of one recording chunk. Changing it later is safe: each chunk records its own length.
    pub chunk_bytes: usize,
    /// sled page-cache size (bounds the store's share of RSS).
    pub cache_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            cap_bytes: DEFAULT_CAP_BYTES,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// How full the store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreUsage {
    pub used_bytes: u64,
    pub cap_bytes: u64,
}

/// Everything that can go wrong in the store, each saying what to do next.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot create the data directory {dir}: {source}; check that its parent exists and is writable, or choose another data dir"
    )]
    CreateDir { dir: PathBuf, source: io::Error },

    #[error(
        "the store at {dir} is in use by another callboard process; close that one first (only one callboard can use a data dir at a time)"
    )]
    Locked { dir: PathBuf },

    #[error(
        "the store at {dir} is corrupted ({detail}); move that directory aside and start callboard again to create a fresh store"
    )]
    Corrupted { dir: PathBuf, detail: String },

    #[error(
        "the disk holding {dir} is full; free some space (or delete stored recordings with `callboard recordings delete`) and try again"
    )]
    DiskFull { dir: PathBuf },

    #[error(
        "the store's size cap is reached: {used} of {cap} bytes used and {wanted} more needed; delete recordings (`callboard recordings delete ID`, or D in the Recordings view), or raise `store_cap_mb` under [recordings] in the config"
    )]
    CapReached { used: u64, cap: u64, wanted: u64 },

    #[error(
        "the store at {dir} was written by a newer callboard (format {found}, this one reads up to {FORMAT_VERSION}); upgrade callboard or use another data dir"
    )]
    NewerFormat { dir: PathBuf, found: u32 },

    #[error(
        "a {what} record in the store cannot be read ({detail}); delete it, or move the store aside if this repeats"
    )]
    BadRecord { what: &'static str, detail: String },

    #[error("'{recording_id}' is not a recording id ({problem}); check the id you gave")]
    BadRecordingId {
        recording_id: String,
        problem: &'static str,
    },

    #[error("no recording {recording_id} in the store; fetch it first")]
    RecordingNotFound { recording_id: String },

    #[error(
        "recording {recording_id} is not completely downloaded yet ({stored} bytes stored); fetch it again to finish the download"
    )]
    RecordingIncomplete { recording_id: String, stored: u64 },

    #[error(
        "recording {recording_id} is damaged in the store ({detail}); it has been marked for refetch: fetch it again"
    )]
    RecordingDamaged {
        recording_id: String,
        detail: String,
    },

    #[error("cannot write {path}: {source}")]
    ExportFile { path: PathBuf, source: io::Error },

    #[error("store error in {dir}: {detail}")]
    Other { dir: PathBuf, detail: String },
}

/// The store. Clone it freely; all clones share one database.
#[derive(Clone)]
pub struct Store {
    dir: PathBuf,
    config: StoreConfig,
    db: sled::Db,
    meta: sled::Tree,
    recordings: sled::Tree,
    chunks: sled::Tree,
    numbers: sled::Tree,
    audit: sled::Tree,
    pending: sled::Tree,
    journal: sled::Tree,
    seen_callers: sled::Tree,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How long opening waits for a lock that is still held. sled releases its file lock when its
/// background flusher lets go of the database, a moment after the last handle is dropped, so a
/// store closed and reopened at once (a restart, a CLI command after the board) must not fail.
const LOCK_RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn open_db(db_path: &Path, cache_bytes: u64) -> sled::Result<sled::Db> {
    let started = std::time::Instant::now();
    loop {
        let attempt = sled::Config::new()
            .path(db_path)
            .cache_capacity(cache_bytes)
            .open();
        match attempt {
            Err(sled::Error::Io(ref e)) if e.to_string().contains("could not acquire lock") => {
                if started.elapsed() >= LOCK_RELEASE_WAIT {
                    return attempt;
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            other => return other,
        }
    }
}

impl Store {
    /// Opens (or creates) the store in `data_dir`. The directory is created with mode 0700, and
    /// tightened to 0700 if it exists with wider permissions: it holds call recordings.
    pub fn open(data_dir: &Path, config: StoreConfig) -> Result<Store, StoreError> {
        let config = StoreConfig {
            chunk_bytes: config.chunk_bytes.max(1),
            ..config
        };
        create_private_dir(data_dir)?;
        create_private_dir(&data_dir.join(RECORDINGS_DIR_NAME))?;
        let db_path = data_dir.join(DB_DIR_NAME);
        let db = open_db(&db_path, config.cache_bytes).map_err(|e| open_error(data_dir, e))?;
        let open = |name: &str| db.open_tree(name).map_err(|e| open_error(data_dir, e));
        let store = Store {
            meta: open(trees::META)?,
            recordings: open(trees::RECORDINGS)?,
            chunks: open(trees::RECORDING_CHUNKS)?,
            numbers: open(trees::NUMBERS)?,
            audit: open(trees::AUDIT)?,
            pending: open(trees::PENDING)?,
            journal: open(trees::JOURNAL)?,
            seen_callers: open(trees::SEEN_CALLERS)?,
            dir: data_dir.to_path_buf(),
            config,
            db,
        };
        store.check_format()?;
        Ok(store)
    }

    /// The data dir this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Bytes of recordings plus journal currently counted against the cap.
    pub fn used_bytes(&self) -> Result<u64, StoreError> {
        let raw = self.meta.get(USAGE_KEY).map_err(|e| self.sled_error(e))?;
        Ok(raw.as_deref().map(decode_u64).unwrap_or(0))
    }

    /// Bytes counted against the cap, and the cap (for "1.2 GB of 2 GB used").
    pub fn usage(&self) -> Result<StoreUsage, StoreError> {
        Ok(StoreUsage {
            used_bytes: self.used_bytes()?,
            cap_bytes: self.config.cap_bytes,
        })
    }

    /// Writes everything to disk now. sled also flushes on its own every 500 ms and on drop.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(|e| self.sled_error(e))
    }

    fn check_format(&self) -> Result<(), StoreError> {
        let found = self
            .meta
            .get(FORMAT_KEY)
            .map_err(|e| self.sled_error(e))?
            .map(|raw| decode_u32(&raw));
        match found {
            Some(v) if v > FORMAT_VERSION => Err(StoreError::NewerFormat {
                dir: self.dir.clone(),
                found: v,
            }),
            Some(_) => Ok(()),
            None => {
                self.meta
                    .insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())
                    .map_err(|e| self.sled_error(e))?;
                Ok(())
            }
        }
    }

    /// Maps a file error to a [`StoreError`]: a full disk says so, anything else names the file.
    fn file_error(&self, path: &Path, error: io::Error) -> StoreError {
        if is_disk_full(&error) {
            return StoreError::DiskFull {
                dir: self.dir.clone(),
            };
        }
        StoreError::Other {
            dir: self.dir.clone(),
            detail: format!("{}: {error}", path.display()),
        }
    }

    /// Maps a sled error to a [`StoreError`] that names this store's directory.
    fn sled_error(&self, error: sled::Error) -> StoreError {
        sled_error(&self.dir, error)
    }

    /// Maps a failed transaction; aborts carry a [`StoreError`] already.
    fn tx_error(&self, error: TransactionError<StoreError>) -> StoreError {
        match error {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => self.sled_error(e),
        }
    }
}

/// Checks a write of `delta` more bytes against the cap, given the current usage.
/// Pure, so the rule is tested without a database.
pub(crate) fn check_cap(used: u64, delta: i64, cap: u64) -> Result<u64, StoreError> {
    let new_used = if delta >= 0 {
        used.saturating_add(delta.unsigned_abs())
    } else {
        used.saturating_sub(delta.unsigned_abs())
    };
    if delta > 0 && new_used > cap {
        return Err(StoreError::CapReached {
            used,
            cap,
            wanted: delta.unsigned_abs(),
        });
    }
    Ok(new_used)
}

/// Adjusts the usage counter inside a transaction, refusing growth past `cap`.
pub(crate) fn adjust_usage_tx(
    meta: &sled::transaction::TransactionalTree,
    delta: i64,
    cap: u64,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let used = meta.get(USAGE_KEY)?.as_deref().map(decode_u64).unwrap_or(0);
    let new_used = check_cap(used, delta, cap).map_err(ConflictableTransactionError::Abort)?;
    meta.insert(USAGE_KEY, &new_used.to_be_bytes())?;
    Ok(())
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let create_error = |source| StoreError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(create_error)?;
    let mode = std::fs::metadata(dir)
        .map_err(create_error)?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(create_error)?;
    }
    Ok(())
}

fn open_error(dir: &Path, error: sled::Error) -> StoreError {
    if let sled::Error::Io(io_error) = &error
        && io_error.to_string().contains("could not acquire lock")
    {
        return StoreError::Locked {
            dir: dir.to_path_buf(),
        };
    }
    sled_error(dir, error)
}

fn sled_error(dir: &Path, error: sled::Error) -> StoreError {
    let dir = dir.to_path_buf();
    match error {
        sled::Error::Io(io_error) if is_disk_full(&io_error) => StoreError::DiskFull { dir },
        sled::Error::Corruption { at, .. } => StoreError::Corrupted {
            dir,
            detail: match at {
                Some(ptr) => format!("bad data at {ptr:?}"),
                None => "bad data".to_owned(),
            },
        },
        other => StoreError::Other {
            dir,
            detail: other.to_string(),
        },
    }
}

pub(crate) fn is_disk_full(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::StorageFull
        || matches!(error.raw_os_error(), Some(code) if code == libc::ENOSPC || code == libc::EDQUOT)
}

/// A record as stored: the record's own fields plus the format version `v`.
#[derive(Serialize)]
struct VersionedRef<'a, T> {
    v: u32,
    #[serde(flatten)]
    record: &'a T,
}

#[derive(serde::Deserialize)]
struct Versioned<T> {
    v: u32,
    #[serde(flatten)]
    record: T,
}

/// Encodes a record as versioned JSON.
pub(crate) fn encode_record<T: Serialize>(
    what: &'static str,
    record: &T,
) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&VersionedRef {
        v: FORMAT_VERSION,
        record,
    })
    .map_err(|e| StoreError::BadRecord {
        what,
        detail: e.to_string(),
    })
}

/// Decodes a versioned JSON record, refusing versions newer than this code understands.
pub(crate) fn decode_record<T: DeserializeOwned>(
    what: &'static str,
    raw: &[u8],
) -> Result<T, StoreError> {
    let bad = |detail: String| StoreError::BadRecord { what, detail };
    let versioned: Versioned<serde_json::Value> =
        serde_json::from_slice(raw).map_err(|e| bad(e.to_string()))?;
    if versioned.v > FORMAT_VERSION {
        return Err(bad(format!(
            "written by a newer callboard (record version {}, this one reads up to {FORMAT_VERSION})",
            versioned.v
        )));
    }
    serde_json::from_value(versioned.record).map_err(|e| bad(e.to_string()))
}

/// Timestamps in records as RFC 3339 UTC with microseconds (`2026-11-25T17:03:38.123456Z`), the
/// same form the wire uses, via `#[serde(with = "rfc3339")]` (chrono is built without serde).
pub(crate) mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    /// The same for `Option<DateTime<Utc>>` (`null` when absent).
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            at: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|text| {
                    DateTime::parse_from_rfc3339(&text)
                        .map(|at| at.with_timezone(&Utc))
                        .map_err(serde::de::Error::custom)
                })
                .transpose()
        }
    }
}

pub(crate) fn decode_u64(raw: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = raw.len().min(8);
    bytes[8 - n..].copy_from_slice(&raw[raw.len() - n..]);
    u64::from_be_bytes(bytes)
}

fn decode_u32(raw: &[u8]) -> u32 {
    u32::try_from(decode_u64(raw)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn cap_allows_growth_up_to_the_cap_and_refuses_past_it() {
        assert_eq!(check_cap(90, 10, 100).unwrap(), 100);
        let err = check_cap(95, 10, 100).unwrap_err();
        assert!(matches!(
            err,
            StoreError::CapReached {
                used: 95,
                cap: 100,
                wanted: 10
            }
        ));
        assert!(err.to_string().contains("raise `store_cap_mb`"));
    }

    #[test]
    fn cap_never_blocks_shrinking_even_when_over() {
        assert_eq!(check_cap(150, -60, 100).unwrap(), 90);
        assert_eq!(check_cap(10, -60, 100).unwrap(), 0);
    }

    #[test]
    fn open_creates_a_private_dir_and_tightens_an_open_one() {
        let tmp = tempfile::tempdir().unwrap();
        let fresh = tmp.path().join("a/b/data");
        Store::open(&fresh, StoreConfig::default()).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);

        let loose = tmp.path().join("loose");
        std::fs::create_dir(&loose).unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o755)).unwrap();
        Store::open(&loose, StoreConfig::default()).unwrap();
        let mode = std::fs::metadata(&loose).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn a_second_open_of_the_same_dir_says_it_is_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let _first = Store::open(tmp.path(), StoreConfig::default()).unwrap();
        let err = Store::open(tmp.path(), StoreConfig::default()).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        assert!(err.to_string().contains("another callboard process"));
    }

    #[test]
    fn a_store_from_a_newer_format_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let store = Store::open(tmp.path(), StoreConfig::default()).unwrap();
            store
                .meta
                .insert(FORMAT_KEY, &(FORMAT_VERSION + 1).to_be_bytes())
                .unwrap();
            store.flush().unwrap();
        }
        let err = Store::open(tmp.path(), StoreConfig::default()).unwrap_err();
        assert!(matches!(err, StoreError::NewerFormat { .. }), "{err:?}");
    }

    #[test]
    fn records_round_trip_and_newer_versions_are_refused_not_misread() {
        #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
        struct Rec {
            name: String,
        }
        let rec = Rec { name: "x".into() };
        let raw = encode_record("test", &rec).unwrap();
        assert_eq!(raw, br#"{"v":1,"name":"x"}"#);
        assert_eq!(decode_record::<Rec>("test", &raw).unwrap(), rec);
        let err = decode_record::<Rec>("test", br#"{"v":99,"name":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("newer callboard"));
        assert!(decode_record::<Rec>("test", b"").is_err());
        assert!(decode_record::<Rec>("test", br#"{"name":"x"}"#).is_err());
    }

    #[test]
    fn disk_full_is_recognised_by_errno() {
        assert!(is_disk_full(&io::Error::from_raw_os_error(libc::ENOSPC)));
        assert!(!is_disk_full(&io::Error::from_raw_os_error(libc::EACCES)));
    }
}
