//! Recordings: content in fixed-size chunks, plus one metadata record per recording.
//!
//! Layout:
//! * `recordings` tree: key = recording id (UTF-8); value = versioned JSON [`RecordingMeta`].
//! * `recording_chunks` tree: key = `[u32 BE id length][id bytes][u64 BE chunk index]`; value =
//!   `[format byte][u32 BE chunk length]`. The length prefix keeps ids `12` and `123` apart in
//!   prefix scans; big-endian indexes make key order the content order. A chunk's record is
//!   written only after its bytes, so the records say what is stored.
//! * content: `<data dir>/recordings/<hex of id>.content` (mode 0600), chunk `i` at byte
//!   `i × chunk size`.
//!
//! Why the bytes live in a file beside sled rather than in sled values: sled 0.34 sizes its page
//! cache by on-disk footprint, and a large value is stored as a blob whose footprint is a
//! pointer, so written chunks are never evicted — a 200 MB download kept ~207 MB resident
//! (measured). In a file they sit in the kernel's page cache, not in callboard's memory, and the
//! chunk records in sled still carry the cap accounting, the resume point and the layout.
//!
//! Write protocol (driven by [`crate::store::download`]): [`Store::begin_recording`] writes a
//! `Partial` record; then a [`ContentWriter`] writes the received bytes into the content file and
//! records whole chunks after their bytes, several in one sled transaction; then
//! [`Store::finish_recording`] records the rest and only then writes the `Complete` record. A
//! download killed at any point therefore never looks complete, and [`Store::stored_prefix`] tells
//! where to resume (bytes written but not yet recorded are fetched again).

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::{Store, StoreError, adjust_usage_tx, decode_record, encode_record};

/// Format byte at the start of every chunk record.
const CHUNK_FORMAT: u8 = 1;
/// Format byte + u32 length.
const CHUNK_RECORD_LEN: usize = 1 + 4;

/// The longest recording id accepted (platform ids are short numeric strings).
pub const MAX_RECORDING_ID_BYTES: usize = 128;

/// What callboard knows about the call a recording belongs to, shown in the Recordings view.
/// Values come from the board, where network strings are already sanitised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallInfo {
    pub telephony_session_id: Option<String>,
    pub caller: Option<String>,
    pub campaign: Option<String>,
    pub queue: Option<String>,
    pub agent: Option<String>,
    pub duration_seconds: Option<u32>,
}

impl CallInfo {
    /// `self` with every field it lacks taken from `older`: a refetch started from the CLI with
    /// only a recording id keeps what the board knew when the download began.
    pub fn merged_over(self, older: &CallInfo) -> CallInfo {
        CallInfo {
            telephony_session_id: self
                .telephony_session_id
                .or_else(|| older.telephony_session_id.clone()),
            caller: self.caller.or_else(|| older.caller.clone()),
            campaign: self.campaign.or_else(|| older.campaign.clone()),
            queue: self.queue.or_else(|| older.queue.clone()),
            agent: self.agent.or_else(|| older.agent.clone()),
            duration_seconds: self.duration_seconds.or(older.duration_seconds),
        }
    }
}

/// Where a recording stands in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingStatus {
    /// A download started and has not finished (it may be running, or was interrupted).
    Partial,
    /// Every byte is stored and its sha256 recorded.
    Complete,
    /// Stored content failed verification; the next fetch starts again from byte 0.
    NeedsRefetch,
}

/// The metadata record of one recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingMeta {
    pub recording_id: String,
    pub call: CallInfo,
    /// `audio/mpeg` or `audio/wav` as the platform sent it (parameters stripped); `None` until
    /// the first response arrives.
    pub content_type: Option<String>,
    /// Total length in bytes, as announced by the platform (and verified once complete).
    pub length: Option<u64>,
    /// Lower-case hex sha256 of the whole content; set when complete.
    pub sha256: Option<String>,
    #[serde(with = "crate::store::rfc3339")]
    pub started_at: DateTime<Utc>,
    /// When the download completed.
    #[serde(with = "crate::store::rfc3339::option")]
    pub fetched_at: Option<DateTime<Utc>>,
    pub status: RecordingStatus,
    /// Why the recording was marked for refetch, in words.
    pub refetch_reason: Option<String>,
}

impl RecordingMeta {
    pub fn is_complete(&self) -> bool {
        self.status == RecordingStatus::Complete
    }

    /// File extension for export, from the content type.
    pub fn file_extension(&self) -> &'static str {
        self.content_type
            .as_deref()
            .map_or("bin", extension_for_content_type)
    }

    /// `recording-<id>.<ext>`, with anything but ASCII letters, digits, `-` and `_` in the id
    /// replaced, so an id from the network can never name a path outside the export dir.
    pub fn default_file_name(&self) -> String {
        let safe_id: String = self
            .recording_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("recording-{safe_id}.{}", self.file_extension())
    }
}

/// `mp3` for MPEG audio, `wav` for the WAV spellings, `bin` for anything else.
pub fn extension_for_content_type(content_type: &str) -> &'static str {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "audio/mpeg" | "audio/mp3" | "audio/mpeg3" => "mp3",
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "wav",
        "audio/ogg" => "ogg",
        _ => "bin",
    }
}

/// The contiguous content stored from byte 0: where a resumed download continues.
pub struct StoredPrefix {
    /// Bytes stored contiguously from the start (the next request asks `Range: bytes=<bytes>-`).
    pub bytes: u64,
    /// Index of the next chunk to write. When `tail` is not empty this is the tail's own index:
    /// the tail is rewritten, extended, once more bytes arrive.
    pub next_chunk: u64,
    /// Content of a short last chunk (fewer than `chunk_bytes`), to be completed.
    pub tail: Vec<u8>,
    /// sha256 state over the whole chunks (all `bytes` but the `tail`, which is hashed when
    /// its chunk is written again), so the final hash covers the content across resumes.
    pub sha256: Sha256,
}

impl std::fmt::Debug for StoredPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredPrefix")
            .field("bytes", &self.bytes)
            .field("next_chunk", &self.next_chunk)
            .field("tail_len", &self.tail.len())
            .finish_non_exhaustive()
    }
}

/// What [`Store::finish_recording`] records about the completed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedContent {
    pub length: u64,
    pub chunk_count: u64,
    pub sha256_hex: String,
}

/// The result of a verified export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256_hex: String,
}

/// What an export does to a file already at its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingFile {
    Replace,
    /// Refuse: the user has not agreed to replace it.
    Keep,
}

/// Why copying a recording out of the store stopped.
enum CopyError {
    /// The stored content does not match its metadata.
    Damaged(String),
    /// The destination could not be written.
    Write(io::Error),
    Store(StoreError),
}

impl From<StoreError> for CopyError {
    fn from(e: StoreError) -> Self {
        CopyError::Store(e)
    }
}

/// Writes one recording's content as it arrives, straight from the received pieces, and
/// records whole chunks in sled in batches.
///
/// The rules that keep the store honest: bytes go to the content file first; a chunk's record
/// (what [`Store::stored_prefix`] resumes from and the cap counts) is written only after its
/// bytes, by [`ContentWriter::record`], which records every chunk noted since the last call in
/// one transaction. The cap is checked when a chunk begins ([`ContentWriter::begin_chunk`],
/// counting the chunks written but not yet recorded) and again, exactly, in that transaction.
pub struct ContentWriter {
    store: Store,
    recording_id: String,
    path: PathBuf,
    file: File,
    /// Chunks whose bytes are in the file but whose records are not: (index, length).
    unrecorded: Vec<(u64, u32)>,
    /// Their total length, counted against the cap as growth (an upper bound: a rewritten
    /// chunk's old length is subtracted only when it is recorded).
    unrecorded_bytes: u64,
}

impl ContentWriter {
    /// Byte offset of chunk `index` in the content file.
    pub fn chunk_offset(&self, index: u64) -> u64 {
        index.saturating_mul(self.store.config.chunk_bytes as u64)
    }

    /// Checks the cap before the first byte of chunk `index`, which will hold `len` bytes:
    /// fails with [`StoreError::CapReached`], before anything of it is written, when the store
    /// would pass its cap.
    pub fn begin_chunk(&self, index: u64, len: usize) -> Result<(), StoreError> {
        let store = &self.store;
        let key = chunk_key(&self.recording_id, index);
        let old_len = match store.chunks.get(&key).map_err(|e| store.sled_error(e))? {
            Some(old) => chunk_len(&old)? as i64,
            None => 0,
        };
        let used = store.used_bytes()?.saturating_add(self.unrecorded_bytes);
        super::check_cap(used, len as i64 - old_len, store.config.cap_bytes)?;
        Ok(())
    }

    /// Writes `content` at byte `offset` of the content file.
    pub fn write_at(&self, offset: u64, content: &[u8]) -> Result<(), StoreError> {
        self.file
            .write_all_at(content, offset)
            .map_err(|e| self.store.file_error(&self.path, e))
    }

    /// Notes that chunk `index` now holds `len` bytes in the file; its record is written by
    /// the next [`ContentWriter::record`].
    pub fn chunk_written(&mut self, index: u64, len: usize) {
        // Chunks are at most `chunk_bytes` long, far below 4 GiB (the record's u32).
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        self.unrecorded.push((index, len));
        self.unrecorded_bytes += u64::from(len);
    }

    /// Chunks written but not yet recorded.
    pub fn unrecorded_chunks(&self) -> usize {
        self.unrecorded.len()
    }

    /// Records every chunk written since the last call, in one transaction that checks the cap
    /// against their exact growth. At the cap nothing is recorded and the error is
    /// [`StoreError::CapReached`]; the bytes already in the file are then overwritten by the
    /// next download or trimmed away by [`Store::finish_recording`].
    pub fn record(&mut self) -> Result<(), StoreError> {
        if self.unrecorded.is_empty() {
            return Ok(());
        }
        let store = &self.store;
        let cap = store.config.cap_bytes;
        let records: Vec<(Vec<u8>, [u8; CHUNK_RECORD_LEN], i64)> = self
            .unrecorded
            .iter()
            .map(|&(index, len)| {
                let mut record = [0u8; CHUNK_RECORD_LEN];
                record[0] = CHUNK_FORMAT;
                record[1..].copy_from_slice(&len.to_be_bytes());
                (chunk_key(&self.recording_id, index), record, i64::from(len))
            })
            .collect();
        (&store.chunks, &store.meta)
            .transaction(|(chunks, meta)| {
                let mut growth = 0i64;
                for (key, record, new_len) in &records {
                    let old_len = match chunks.insert(key.as_slice(), &record[..])? {
                        Some(old) => {
                            chunk_len(&old).map_err(ConflictableTransactionError::Abort)? as i64
                        }
                        None => 0,
                    };
                    growth += new_len - old_len;
                }
                adjust_usage_tx(meta, growth, cap)
            })
            .map_err(|e| store.tx_error(e))?;
        self.unrecorded.clear();
        self.unrecorded_bytes = 0;
        Ok(())
    }
}

impl Store {
    /// The metadata record of `recording_id`, if any.
    pub fn recording(&self, recording_id: &str) -> Result<Option<RecordingMeta>, StoreError> {
        let raw = self
            .recordings
            .get(recording_id.as_bytes())
            .map_err(|e| self.sled_error(e))?;
        raw.map(|raw| decode_record("recording", &raw)).transpose()
    }

    /// Every recording record (complete, partial and marked for refetch), newest first.
    pub fn recordings(&self) -> Result<Vec<RecordingMeta>, StoreError> {
        let mut all = Vec::new();
        for item in self.recordings.iter() {
            let (_, raw) = item.map_err(|e| self.sled_error(e))?;
            all.push(decode_record::<RecordingMeta>("recording", &raw)?);
        }
        all.sort_by(|a, b| {
            let when = |m: &RecordingMeta| m.fetched_at.unwrap_or(m.started_at);
            when(b)
                .cmp(&when(a))
                .then_with(|| a.recording_id.cmp(&b.recording_id))
        });
        Ok(all)
    }

    /// The recording of call `telephony_session_id`, if one is stored (for
    /// `callboard recordings fetch|export` given a session id).
    pub fn recording_for_session(
        &self,
        telephony_session_id: &str,
    ) -> Result<Option<RecordingMeta>, StoreError> {
        Ok(self
            .recordings()?
            .into_iter()
            .find(|m| m.call.telephony_session_id.as_deref() == Some(telephony_session_id)))
    }

    /// Starts (or continues) a download: writes a `Partial` record unless one exists, merging
    /// `call` over what an earlier attempt recorded. A complete recording is returned unchanged.
    pub fn begin_recording(
        &self,
        recording_id: &str,
        call: CallInfo,
        now: DateTime<Utc>,
    ) -> Result<RecordingMeta, StoreError> {
        check_recording_id(recording_id)?;
        let meta = match self.recording(recording_id)? {
            Some(existing) if existing.is_complete() => return Ok(existing),
            Some(existing) => RecordingMeta {
                call: call.merged_over(&existing.call),
                ..existing
            },
            None => RecordingMeta {
                recording_id: recording_id.to_owned(),
                call,
                content_type: None,
                length: None,
                sha256: None,
                started_at: now,
                fetched_at: None,
                status: RecordingStatus::Partial,
                refetch_reason: None,
            },
        };
        self.put_recording(&meta)?;
        Ok(meta)
    }

    /// Records the content type and total length the platform announced, so a resumed download
    /// can check that it continues the same content.
    pub fn note_recording_source(
        &self,
        recording_id: &str,
        content_type: &str,
        length: Option<u64>,
    ) -> Result<RecordingMeta, StoreError> {
        let mut meta = self.require_recording(recording_id)?;
        meta.content_type = Some(content_type.to_owned());
        meta.length = length.or(meta.length);
        self.put_recording(&meta)?;
        Ok(meta)
    }

    /// The content stored contiguously from byte 0, re-hashed, for chunks of `chunk_bytes`.
    /// Chunks written with a different chunk size, or missing from the content file, end the
    /// prefix (they are rewritten).
    pub fn stored_prefix(
        &self,
        recording_id: &str,
        chunk_bytes: usize,
    ) -> Result<StoredPrefix, StoreError> {
        let mut prefix = StoredPrefix {
            bytes: 0,
            next_chunk: 0,
            tail: Vec::new(),
            sha256: Sha256::new(),
        };
        let path = self.content_path(recording_id);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(prefix),
            Err(e) => return Err(self.file_error(&path, e)),
        };
        let mut buffer = vec![0u8; chunk_bytes];
        for item in self.chunks.scan_prefix(chunk_prefix(recording_id)) {
            let (key, value) = item.map_err(|e| self.sled_error(e))?;
            if chunk_index(&key) != Some(prefix.next_chunk) {
                break;
            }
            let len = chunk_len(&value)?;
            if len > chunk_bytes {
                break;
            }
            let content = &mut buffer[..len];
            match file.read_exact_at(content, prefix.bytes) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(self.file_error(&path, e)),
            }
            prefix.bytes += len as u64;
            if len < chunk_bytes {
                prefix.tail = content.to_vec();
                break;
            }
            prefix.sha256.update(&*content);
            prefix.next_chunk += 1;
        }
        Ok(prefix)
    }

    /// Total content bytes stored for `recording_id` (for showing a partial download's size).
    pub fn stored_bytes(&self, recording_id: &str) -> Result<u64, StoreError> {
        let mut total = 0u64;
        for item in self.chunks.scan_prefix(chunk_prefix(recording_id)) {
            let (_, value) = item.map_err(|e| self.sled_error(e))?;
            total += chunk_len(&value)? as u64;
        }
        Ok(total)
    }

    /// Writes (or rewrites) chunk `index` of `recording_id` at byte `index × chunk_bytes` of its
    /// content file, then records it. The cap is checked before anything is written, and again
    /// in the transaction that records the chunk: at the cap this fails with
    /// [`StoreError::CapReached`] and nothing stored changes. (A download writes through a
    /// [`ContentWriter`] instead, which records many chunks in one transaction.)
    pub fn write_chunk(
        &self,
        recording_id: &str,
        index: u64,
        content: &[u8],
    ) -> Result<(), StoreError> {
        let mut writer = self.content_writer(recording_id)?;
        writer.begin_chunk(index, content.len())?;
        writer.write_at(writer.chunk_offset(index), content)?;
        writer.chunk_written(index, content.len());
        writer.record()
    }

    /// Opens the content file of `recording_id` (mode 0600, created if missing) for a
    /// [`ContentWriter`].
    pub fn content_writer(&self, recording_id: &str) -> Result<ContentWriter, StoreError> {
        check_recording_id(recording_id)?;
        let path = self.content_path(recording_id);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| self.file_error(&path, e))?;
        Ok(ContentWriter {
            store: self.clone(),
            recording_id: recording_id.to_owned(),
            path,
            file,
            unrecorded: Vec::new(),
            unrecorded_bytes: 0,
        })
    }

    /// Completes a download: drops chunks past `content.chunk_count` (left by an earlier attempt
    /// with other chunk boundaries), trims the content file to `content.length`, flushes the
    /// chunk records, then writes the `Complete` record and flushes again. Only after this can
    /// the recording look complete.
    pub fn finish_recording(
        &self,
        recording_id: &str,
        content: FinishedContent,
        now: DateTime<Utc>,
    ) -> Result<RecordingMeta, StoreError> {
        let mut meta = self.require_recording(recording_id)?;
        self.remove_chunks_from(recording_id, content.chunk_count)?;
        let path = self.content_path(recording_id);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| self.file_error(&path, e))?;
        file.set_len(content.length)
            .map_err(|e| self.file_error(&path, e))?;
        // No fsync of the content: a killed process loses nothing the kernel already has, and
        // after a power cut a content file behind its `Complete` record fails the sha256 check
        // on export and is refetched. Syncing 200 MB here would cost more than the download.
        self.flush()?;
        meta.length = Some(content.length);
        meta.sha256 = Some(content.sha256_hex);
        meta.fetched_at = Some(now);
        meta.status = RecordingStatus::Complete;
        meta.refetch_reason = None;
        self.put_recording(&meta)?;
        self.flush()?;
        Ok(meta)
    }

    /// Removes every stored chunk of `recording_id` and resets its record to an empty `Partial`,
    /// so the next download starts from byte 0.
    pub fn restart_recording(&self, recording_id: &str) -> Result<RecordingMeta, StoreError> {
        let mut meta = self.require_recording(recording_id)?;
        meta.status = RecordingStatus::Partial;
        meta.sha256 = None;
        meta.fetched_at = None;
        meta.content_type = None;
        meta.length = None;
        self.put_recording(&meta)?;
        self.remove_chunks_from(recording_id, 0)?;
        self.remove_content_file(recording_id)?;
        Ok(meta)
    }

    /// Marks `recording_id` as damaged: it no longer counts as complete and the next fetch
    /// downloads it again from the start.
    pub fn mark_for_refetch(&self, recording_id: &str, reason: &str) -> Result<(), StoreError> {
        let mut meta = self.require_recording(recording_id)?;
        meta.status = RecordingStatus::NeedsRefetch;
        meta.refetch_reason = Some(reason.to_owned());
        self.put_recording(&meta)
    }

    /// Deletes a recording and its content. Returns false if there was none. Cancel a running
    /// download of it first ([`crate::store::download::Downloader::cancel`]).
    ///
    /// The record is first demoted to `Partial`, then the chunks go, then the record: a crash in
    /// between leaves a visible partial download (deletable, resumable), never invisible bytes
    /// counted against the cap, and never a complete-looking recording with missing chunks.
    pub fn delete_recording(&self, recording_id: &str) -> Result<bool, StoreError> {
        let Some(mut meta) = self.recording(recording_id)? else {
            return Ok(false);
        };
        if meta.status == RecordingStatus::Complete {
            meta.status = RecordingStatus::Partial;
            self.put_recording(&meta)?;
        }
        self.remove_chunks_from(recording_id, 0)?;
        self.remove_content_file(recording_id)?;
        self.recordings
            .remove(recording_id.as_bytes())
            .map_err(|e| self.sled_error(e))?;
        Ok(true)
    }

    /// Reads the whole recording back and checks its length and sha256 against the record,
    /// without writing anything. On a mismatch the recording is marked for refetch.
    pub fn verify_recording(&self, recording_id: &str) -> Result<ExportReport, StoreError> {
        let meta = self.require_complete(recording_id)?;
        match self.copy_verified(&meta, &mut io::sink()) {
            Ok((bytes, sha256_hex)) => Ok(ExportReport {
                path: PathBuf::new(),
                bytes,
                sha256_hex,
            }),
            Err(e) => Err(self.copy_failed(recording_id, Path::new("(verify)"), e)),
        }
    }

    /// Exports a complete recording to `out` (a file path, or an existing directory to which
    /// [`RecordingMeta::default_file_name`] is added), file mode 0600, replacing any file of
    /// that name.
    pub fn export_recording(
        &self,
        recording_id: &str,
        out: &Path,
    ) -> Result<ExportReport, StoreError> {
        self.export_recording_as(recording_id, out, ExistingFile::Replace)
    }

    /// [`Store::export_recording`], saying what happens to a file already at the target.
    ///
    /// Content is written to a hidden temporary file beside the target and verified (length and
    /// sha256) while written; only verified content is moved into place. With
    /// [`ExistingFile::Keep`] the move refuses atomically to replace a file (the error's source
    /// is [`io::ErrorKind::AlreadyExists`]), however late that file appeared. On a mismatch
    /// nothing is left behind, the recording is marked for refetch and the error says so.
    pub fn export_recording_as(
        &self,
        recording_id: &str,
        out: &Path,
        existing: ExistingFile,
    ) -> Result<ExportReport, StoreError> {
        use std::os::unix::fs::OpenOptionsExt;

        let meta = self.require_complete(recording_id)?;
        let target = if out.is_dir() {
            out.join(meta.default_file_name())
        } else {
            out.to_path_buf()
        };
        let temp = temp_path_beside(&target);
        let file_error = |path: &Path, source| StoreError::ExportFile {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::remove_file(&temp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_error(&temp, e)),
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(|e| file_error(&temp, e))?;
        let mut writer = io::BufWriter::with_capacity(64 * 1024, file);
        let copied = self
            .copy_verified(&meta, &mut writer)
            .and_then(|done| writer.flush().map(|()| done).map_err(CopyError::Write));
        let (bytes, sha256_hex) = match copied {
            Ok(done) => done,
            Err(e) => {
                // Best effort: the temporary file is hidden and replaced by the next export.
                let _ = std::fs::remove_file(&temp);
                return Err(self.copy_failed(recording_id, &target, e));
            }
        };
        let file = writer
            .into_inner()
            .map_err(|e| file_error(&temp, e.into_error()))?;
        file.sync_all().map_err(|e| file_error(&temp, e))?;
        drop(file);
        match existing {
            ExistingFile::Replace => {
                std::fs::rename(&temp, &target).map_err(|e| file_error(&target, e))?;
            }
            ExistingFile::Keep => {
                // A hard link is made only where no file is, so a file that appeared since the
                // name was chosen is never replaced. Filesystems without hard links (FAT) fall
                // back to a check, then a rename.
                let placed = match std::fs::hard_link(&temp, &target) {
                    Err(e)
                        if e.kind() != io::ErrorKind::AlreadyExists
                            && std::fs::symlink_metadata(&target).is_err() =>
                    {
                        std::fs::rename(&temp, &target)
                    }
                    linked => linked,
                };
                // Best effort: the temporary file is hidden and replaced by the next export.
                let _ = std::fs::remove_file(&temp);
                placed.map_err(|e| file_error(&target, e))?;
            }
        }
        Ok(ExportReport {
            path: target,
            bytes,
            sha256_hex,
        })
    }

    /// A verified copy of a complete recording for an external player, at
    /// `<data dir>/playback/recording-<id>.<ext>` (directory 0700, file 0600). Each call exports
    /// afresh, so the player never gets unverified bytes; [`Store::clear_playback`] removes the
    /// copies.
    pub fn playable_file(&self, recording_id: &str) -> Result<PathBuf, StoreError> {
        let dir = self.playback_dir();
        super::create_private_dir(&dir)?;
        Ok(self.export_recording(recording_id, &dir)?.path)
    }

    /// Removes the copies made by [`Store::playable_file`] (at exit, or when space is short).
    pub fn clear_playback(&self) -> Result<(), StoreError> {
        match std::fs::remove_dir_all(self.playback_dir()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::ExportFile {
                path: self.playback_dir(),
                source,
            }),
        }
    }

    fn playback_dir(&self) -> PathBuf {
        self.dir.join("playback")
    }

    fn copy_failed(&self, recording_id: &str, target: &Path, error: CopyError) -> StoreError {
        match error {
            CopyError::Damaged(detail) => match self.mark_for_refetch(recording_id, &detail) {
                Ok(()) => StoreError::RecordingDamaged {
                    recording_id: recording_id.to_owned(),
                    detail,
                },
                Err(e) => e,
            },
            CopyError::Write(source) if super::is_disk_full(&source) => StoreError::ExportFile {
                path: target.to_path_buf(),
                source: io::Error::new(
                    source.kind(),
                    "the disk is full; free some space or export elsewhere",
                ),
            },
            CopyError::Write(source) => StoreError::ExportFile {
                path: target.to_path_buf(),
                source,
            },
            CopyError::Store(e) => e,
        }
    }

    /// Streams the chunks of `meta`'s recording into `out`, one chunk in memory at a time,
    /// checking order, length and sha256.
    fn copy_verified(
        &self,
        meta: &RecordingMeta,
        out: &mut impl Write,
    ) -> Result<(u64, String), CopyError> {
        let path = self.content_path(&meta.recording_id);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CopyError::Damaged("the content file is missing".to_owned()));
            }
            Err(e) => return Err(CopyError::Store(self.file_error(&path, e))),
        };
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        let mut buffer = Vec::new();
        let chunks = self.chunks.scan_prefix(chunk_prefix(&meta.recording_id));
        for (expected_index, item) in (0u64..).zip(chunks) {
            let (key, value) = item.map_err(|e| self.sled_error(e))?;
            if chunk_index(&key) != Some(expected_index) {
                return Err(CopyError::Damaged(format!(
                    "chunk {expected_index} is missing"
                )));
            }
            buffer.resize(chunk_len(&value)?, 0);
            match file.read_exact_at(&mut buffer, bytes) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(CopyError::Damaged(format!(
                        "the content file ends before chunk {expected_index}"
                    )));
                }
                Err(e) => return Err(CopyError::Store(self.file_error(&path, e))),
            }
            hasher.update(&buffer);
            out.write_all(&buffer).map_err(CopyError::Write)?;
            bytes += buffer.len() as u64;
        }
        if let Some(length) = meta.length
            && length != bytes
        {
            return Err(CopyError::Damaged(format!(
                "{bytes} bytes stored, {length} expected"
            )));
        }
        let found = hex::encode(hasher.finalize());
        match &meta.sha256 {
            Some(expected) if *expected == found => Ok((bytes, found)),
            Some(expected) => Err(CopyError::Damaged(format!(
                "sha256 is {found}, {expected} expected"
            ))),
            None => Err(CopyError::Damaged("no sha256 was recorded".to_owned())),
        }
    }

    /// `<data dir>/recordings/<hex of id>.content`: hex keeps any id a safe, unique file name.
    fn content_path(&self, recording_id: &str) -> PathBuf {
        self.dir
            .join(super::RECORDINGS_DIR_NAME)
            .join(format!("{}.content", hex::encode(recording_id)))
    }

    fn remove_content_file(&self, recording_id: &str) -> Result<(), StoreError> {
        let path = self.content_path(recording_id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.file_error(&path, e)),
        }
    }

    fn require_recording(&self, recording_id: &str) -> Result<RecordingMeta, StoreError> {
        self.recording(recording_id)?
            .ok_or_else(|| StoreError::RecordingNotFound {
                recording_id: recording_id.to_owned(),
            })
    }

    fn require_complete(&self, recording_id: &str) -> Result<RecordingMeta, StoreError> {
        let meta = self.require_recording(recording_id)?;
        if !meta.is_complete() {
            return Err(StoreError::RecordingIncomplete {
                recording_id: recording_id.to_owned(),
                stored: self.stored_bytes(recording_id)?,
            });
        }
        Ok(meta)
    }

    fn put_recording(&self, meta: &RecordingMeta) -> Result<(), StoreError> {
        let raw = encode_record("recording", meta)?;
        self.recordings
            .insert(meta.recording_id.as_bytes(), raw)
            .map_err(|e| self.sled_error(e))?;
        Ok(())
    }

    /// Removes chunks with index >= `first`, one transaction per chunk so the usage counter
    /// always matches what is stored.
    fn remove_chunks_from(&self, recording_id: &str, first: u64) -> Result<(), StoreError> {
        let start = chunk_key(recording_id, first);
        let prefix = chunk_prefix(recording_id);
        let doomed = self
            .chunks
            .range(start..)
            .keys()
            .take_while(|key| key.as_ref().map_or(true, |k| k.starts_with(&prefix)));
        for key in doomed {
            let key = key.map_err(|e| self.sled_error(e))?;
            (&self.chunks, &self.meta)
                .transaction(|(chunks, meta)| {
                    if let Some(old) = chunks.remove(&key)? {
                        let old_len =
                            chunk_len(&old).map_err(ConflictableTransactionError::Abort)? as i64;
                        adjust_usage_tx(meta, -old_len, u64::MAX)?;
                    }
                    Ok::<(), ConflictableTransactionError<StoreError>>(())
                })
                .map_err(|e| self.tx_error(e))?;
        }
        Ok(())
    }
}

/// `[u32 BE id length][id bytes]`: the key prefix of every chunk of one recording.
fn chunk_prefix(recording_id: &str) -> Vec<u8> {
    let id = recording_id.as_bytes();
    let mut key = Vec::with_capacity(4 + id.len() + 8);
    // Ids written are at most MAX_RECORDING_ID_BYTES long (see `check_recording_id`); a longer
    // one given to a read saturates here and simply matches nothing.
    key.extend_from_slice(&u32::try_from(id.len()).unwrap_or(u32::MAX).to_be_bytes());
    key.extend_from_slice(id);
    key
}

/// Refuses recording ids that cannot be one: empty, over [`MAX_RECORDING_ID_BYTES`], or holding
/// characters unsafe for a terminal (ids are shown in the Recordings view and used in file names).
pub fn check_recording_id(recording_id: &str) -> Result<(), StoreError> {
    let problem = if recording_id.is_empty() {
        Some("it is empty")
    } else if recording_id.len() > MAX_RECORDING_ID_BYTES {
        Some("it is too long")
    } else if recording_id.chars().any(crate::text::is_unsafe_char) {
        Some("it holds control characters")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(StoreError::BadRecordingId {
            recording_id: crate::text::sanitize_max(recording_id, 40).into_owned(),
            problem,
        }),
        None => Ok(()),
    }
}

/// The key of chunk `index` of `recording_id`.
pub(crate) fn chunk_key(recording_id: &str, index: u64) -> Vec<u8> {
    let mut key = chunk_prefix(recording_id);
    key.extend_from_slice(&index.to_be_bytes());
    key
}

/// The chunk index at the end of a chunk key.
fn chunk_index(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

/// The content length a chunk record holds.
fn chunk_len(record: &[u8]) -> Result<usize, StoreError> {
    let bad = |detail: String| StoreError::BadRecord {
        what: "recording chunk",
        detail,
    };
    match record {
        [CHUNK_FORMAT, len @ ..] => {
            let len: [u8; 4] = len
                .try_into()
                .map_err(|_| bad(format!("record of {} bytes", record.len())))?;
            Ok(u32::from_be_bytes(len) as usize)
        }
        [format, ..] => Err(bad(format!(
            "unknown chunk format {format}; written by a newer callboard?"
        ))),
        [] => Err(bad("empty chunk record".to_owned())),
    }
}

/// `.<name>.callboard-export` in the same directory, so the final rename is atomic.
fn temp_path_beside(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recording".to_owned());
    target.with_file_name(format!(".{name}.callboard-export"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;
    use std::os::unix::fs::PermissionsExt;

    fn t0() -> DateTime<Utc> {
        "2026-11-25T17:00:00Z".parse().unwrap()
    }

    fn small_store(dir: &Path, chunk_bytes: usize, cap_bytes: u64) -> Store {
        Store::open(
            dir,
            StoreConfig {
                cap_bytes,
                chunk_bytes,
                ..StoreConfig::default()
            },
        )
        .unwrap()
    }

    /// Stores `content` as a complete recording the way the downloader does.
    fn store_complete(store: &Store, id: &str, content: &[u8], chunk_bytes: usize) {
        store
            .begin_recording(id, CallInfo::default(), t0())
            .unwrap();
        store
            .note_recording_source(id, "audio/mpeg", Some(content.len() as u64))
            .unwrap();
        let mut count = 0;
        for (i, chunk) in content.chunks(chunk_bytes).enumerate() {
            store.write_chunk(id, i as u64, chunk).unwrap();
            count += 1;
        }
        let sha256_hex = hex::encode(Sha256::digest(content));
        store
            .finish_recording(
                id,
                FinishedContent {
                    length: content.len() as u64,
                    chunk_count: count,
                    sha256_hex,
                },
                t0(),
            )
            .unwrap();
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn chunk_keys_sort_by_index_and_never_mix_ids() {
        assert!(chunk_key("12", 1) < chunk_key("12", 2));
        assert!(chunk_key("12", 255) < chunk_key("12", 256));
        assert!(!chunk_key("123", 0).starts_with(&chunk_prefix("12")));
        assert_eq!(chunk_index(&chunk_key("77", 300)), Some(300));
    }

    #[test]
    fn ids_that_cannot_be_recording_ids_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(tmp.path(), 4, u64::MAX);
        for bad in ["", "12\u{1b}[2J", &"9".repeat(MAX_RECORDING_ID_BYTES + 1)] {
            let err = store
                .begin_recording(bad, CallInfo::default(), t0())
                .unwrap_err();
            assert!(matches!(err, StoreError::BadRecordingId { .. }), "{err:?}");
            assert!(!err.to_string().contains('\u{1b}'));
            assert!(store.write_chunk(bad, 0, b"x").is_err());
        }
        assert!(store.recording(&"9".repeat(100_000)).unwrap().is_none());
    }

    #[test]
    fn extensions_follow_the_content_type() {
        assert_eq!(extension_for_content_type("audio/mpeg"), "mp3");
        assert_eq!(extension_for_content_type("Audio/WAV; codec=1"), "wav");
        assert_eq!(extension_for_content_type("audio/x-wav"), "wav");
        assert_eq!(extension_for_content_type("text/html"), "bin");
    }

    #[test]
    fn default_file_names_cannot_escape_the_directory() {
        let meta = RecordingMeta {
            recording_id: "../../etc/passwd".into(),
            call: CallInfo::default(),
            content_type: Some("audio/wav".into()),
            length: None,
            sha256: None,
            started_at: t0(),
            fetched_at: None,
            status: RecordingStatus::Complete,
            refetch_reason: None,
        };
        assert_eq!(meta.default_file_name(), "recording-______etc_passwd.wav");
    }

    #[test]
    fn prefix_counts_full_chunks_and_keeps_a_short_tail() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(tmp.path(), 4, u64::MAX);
        store
            .begin_recording("r1", CallInfo::default(), t0())
            .unwrap();
        store.write_chunk("r1", 0, b"abcd").unwrap();
        store.write_chunk("r1", 1, b"efgh").unwrap();
        store.write_chunk("r1", 2, b"ij").unwrap();
        let prefix = store.stored_prefix("r1", 4).unwrap();
        assert_eq!(prefix.bytes, 10);
        assert_eq!(prefix.next_chunk, 2);
        assert_eq!(prefix.tail, b"ij");
        // The tail is hashed when its chunk is written again, completed.
        assert_eq!(
            hex::encode(prefix.sha256.finalize()),
            hex::encode(Sha256::digest(b"abcdefgh"))
        );
    }

    #[test]
    fn prefix_stops_at_a_gap_and_at_chunks_of_another_size() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(tmp.path(), 4, u64::MAX);
        store.write_chunk("gap", 0, b"abcd").unwrap();
        store.write_chunk("gap", 2, b"ijkl").unwrap();
        let prefix = store.stored_prefix("gap", 4).unwrap();
        assert_eq!((prefix.bytes, prefix.next_chunk), (4, 1));

        store.write_chunk("big", 0, b"abcdefgh").unwrap();
        let prefix = store.stored_prefix("big", 4).unwrap();
        assert_eq!((prefix.bytes, prefix.next_chunk), (0, 0));
    }

    #[test]
    fn usage_follows_writes_rewrites_and_deletes() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(tmp.path(), 4, u64::MAX);
        store_complete(&store, "a", &pattern(10), 4);
        assert_eq!(store.used_bytes().unwrap(), 10);
        store.write_chunk("b", 0, b"xy").unwrap();
        store.write_chunk("b", 0, b"xyzw").unwrap();
        assert_eq!(store.used_bytes().unwrap(), 14);
        store
            .begin_recording("b", CallInfo::default(), t0())
            .unwrap();
        assert!(store.delete_recording("b").unwrap());
        assert!(store.delete_recording("a").unwrap());
        assert!(!store.delete_recording("a").unwrap());
        assert_eq!(store.used_bytes().unwrap(), 0);
        assert!(store.recordings().unwrap().is_empty());
    }

    #[test]
    fn a_chunk_past_the_cap_is_refused_and_nothing_is_damaged() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(tmp.path(), 4, 10);
        let kept = pattern(8);
        store_complete(&store, "kept", &kept, 4);
        store.write_chunk("new", 0, b"ab").unwrap();
        let err = store.write_chunk("new", 1, b"cd").unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::CapReached {
                    used: 10,
                    cap: 10,
                    wanted: 2
                }
            ),
            "{err:?}"
        );
        assert_eq!(store.used_bytes().unwrap(), 10);
        assert_eq!(store.stored_bytes("new").unwrap(), 2);
        assert_eq!(store.verify_recording("kept").unwrap().bytes, 8);
    }

    #[test]
    fn begin_keeps_what_an_earlier_attempt_knew_about_the_call() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(tmp.path(), 4, u64::MAX);
        let first = CallInfo {
            telephony_session_id: Some("s-1".into()),
            caller: Some("+14155550111".into()),
            ..CallInfo::default()
        };
        store.begin_recording("r", first, t0()).unwrap();
        let second = CallInfo {
            campaign: Some("Zillow".into()),
            ..CallInfo::default()
        };
        let meta = store.begin_recording("r", second, t0()).unwrap();
        assert_eq!(meta.call.telephony_session_id.as_deref(), Some("s-1"));
        assert_eq!(meta.call.campaign.as_deref(), Some("Zillow"));
        assert_eq!(meta.status, RecordingStatus::Partial);
        assert_eq!(
            store
                .recording_for_session("s-1")
                .unwrap()
                .map(|m| m.recording_id),
            Some("r".to_owned())
        );
    }

    #[test]
    fn finish_drops_chunks_left_past_the_end() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(tmp.path(), 4, u64::MAX);
        store.write_chunk("r", 5, b"stale").unwrap();
        store_complete(&store, "r", &pattern(6), 4);
        assert_eq!(store.stored_bytes("r").unwrap(), 6);
        assert_eq!(store.used_bytes().unwrap(), 6);
        let file_len = std::fs::metadata(store.content_path("r")).unwrap().len();
        assert_eq!(file_len, 6);
    }

    #[test]
    fn export_is_byte_identical_with_mode_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(&tmp.path().join("data"), 4, u64::MAX);
        let content = pattern(4 * 5 + 3);
        store_complete(&store, "42", &content, 4);
        let out_dir = tmp.path().join("out");
        std::fs::create_dir(&out_dir).unwrap();
        let report = store.export_recording("42", &out_dir).unwrap();
        assert_eq!(report.path, out_dir.join("recording-42.mp3"));
        assert_eq!(std::fs::read(&report.path).unwrap(), content);
        let mode = std::fs::metadata(&report.path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(report.sha256_hex, hex::encode(Sha256::digest(&content)));
        let leftovers: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn playable_copies_live_in_a_private_dir_and_can_be_cleared() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(&tmp.path().join("data"), 4, u64::MAX);
        let content = pattern(9);
        store_complete(&store, "55", &content, 4);
        let path = store.playable_file("55").unwrap();
        assert_eq!(path, tmp.path().join("data/playback/recording-55.mp3"));
        assert_eq!(std::fs::read(&path).unwrap(), content);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        // A second call replaces the copy rather than failing.
        assert_eq!(store.playable_file("55").unwrap(), path);
        store.clear_playback().unwrap();
        assert!(!path.exists());
        store.clear_playback().unwrap();
    }

    #[test]
    fn a_corrupted_chunk_fails_export_and_marks_the_recording_for_refetch() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(&tmp.path().join("data"), 4, u64::MAX);
        store_complete(&store, "7", &pattern(12), 4);
        // Flip one byte of chunk 1 behind the store's back.
        let path = store.content_path("7");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[4 + 2] ^= 0xFF;
        std::fs::write(&path, bytes).unwrap();

        let out = tmp.path().join("call.mp3");
        let err = store.export_recording("7", &out).unwrap_err();
        assert!(
            matches!(&err, StoreError::RecordingDamaged { recording_id, .. } if recording_id == "7"),
            "{err:?}"
        );
        assert!(err.to_string().contains("fetch it again"));
        assert!(!out.exists());
        assert!(std::fs::read_dir(tmp.path()).unwrap().all(|e| {
            !e.unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".callboard-export")
        }));
        let meta = store.recording("7").unwrap().unwrap();
        assert_eq!(meta.status, RecordingStatus::NeedsRefetch);
        assert!(meta.refetch_reason.unwrap().contains("sha256"));
    }

    #[test]
    fn a_missing_chunk_is_reported_as_damage() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(tmp.path(), 4, u64::MAX);
        store_complete(&store, "9", &pattern(12), 4);
        store.chunks.remove(chunk_key("9", 1)).unwrap();
        let err = store.verify_recording("9").unwrap_err();
        assert!(err.to_string().contains("chunk 1 is missing"), "{err}");
    }

    #[test]
    fn partial_recordings_cannot_be_exported() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(tmp.path(), 4, u64::MAX);
        store
            .begin_recording("p", CallInfo::default(), t0())
            .unwrap();
        store.write_chunk("p", 0, b"abcd").unwrap();
        let err = store.export_recording("p", tmp.path()).unwrap_err();
        assert!(
            matches!(err, StoreError::RecordingIncomplete { stored: 4, .. }),
            "{err:?}"
        );
        let err = store.export_recording("nope", tmp.path()).unwrap_err();
        assert!(matches!(err, StoreError::RecordingNotFound { .. }));
    }

    #[test]
    fn restart_clears_content_and_status() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(tmp.path(), 4, u64::MAX);
        store_complete(&store, "r", &pattern(9), 4);
        store.mark_for_refetch("r", "test").unwrap();
        let meta = store.restart_recording("r").unwrap();
        assert_eq!(meta.status, RecordingStatus::Partial);
        assert_eq!(store.stored_bytes("r").unwrap(), 0);
        assert_eq!(store.used_bytes().unwrap(), 0);
    }

    #[test]
    fn a_content_writer_records_its_chunks_only_when_asked_all_in_one_go() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(tmp.path(), 4, u64::MAX);
        store
            .begin_recording("w", CallInfo::default(), t0())
            .unwrap();
        let mut writer = store.content_writer("w").unwrap();
        for (index, chunk) in [&b"abcd"[..], b"efgh", b"ij"].into_iter().enumerate() {
            let index = index as u64;
            writer.begin_chunk(index, chunk.len()).unwrap();
            writer.write_at(writer.chunk_offset(index), chunk).unwrap();
            writer.chunk_written(index, chunk.len());
        }
        // The bytes are in the file, but nothing says so yet: a crash here resumes from 0.
        assert_eq!(writer.unrecorded_chunks(), 3);
        assert_eq!(store.stored_bytes("w").unwrap(), 0);
        assert_eq!(store.used_bytes().unwrap(), 0);
        assert_eq!(store.stored_prefix("w", 4).unwrap().bytes, 0);

        writer.record().unwrap();
        assert_eq!(writer.unrecorded_chunks(), 0);
        assert_eq!(store.stored_bytes("w").unwrap(), 10);
        assert_eq!(store.used_bytes().unwrap(), 10);
        let prefix = store.stored_prefix("w", 4).unwrap();
        assert_eq!((prefix.bytes, prefix.next_chunk), (10, 2));
        assert_eq!(prefix.tail, b"ij");

        // Completing the short chunk replaces its record and counts only the growth.
        writer.begin_chunk(2, 4).unwrap();
        writer.write_at(10, b"kl").unwrap();
        writer.chunk_written(2, 4);
        writer.record().unwrap();
        assert_eq!(store.used_bytes().unwrap(), 12);
        assert_eq!(store.stored_prefix("w", 4).unwrap().bytes, 12);
    }

    #[test]
    fn a_content_writer_counts_unrecorded_chunks_against_the_cap() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(tmp.path(), 4, 10);
        let mut writer = store.content_writer("capped").unwrap();
        for index in 0..2 {
            writer.begin_chunk(index, 4).unwrap();
            writer
                .write_at(writer.chunk_offset(index), b"abcd")
                .unwrap();
            writer.chunk_written(index, 4);
        }
        // 8 bytes written, none recorded: a third chunk of 4 would pass the cap of 10.
        let err = writer.begin_chunk(2, 4).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::CapReached {
                    used: 8,
                    cap: 10,
                    wanted: 4
                }
            ),
            "{err:?}"
        );
        writer.begin_chunk(2, 2).unwrap();
        writer.record().unwrap();
        assert_eq!(store.used_bytes().unwrap(), 8);
    }
}
