//! Relabelling tracking numbers (issue 5): the rules a label must pass before anything is sent,
//! and the one writer the TUI and `callboard numbers relabel` share.
//!
//! A write's life: the user confirms → [`RelabelWriter::confirm`] keeps it in the store as pending
//! (before any request) → [`RelabelWriter::write`] sends it → the platform's answer moves it to the
//! audit, or, when the platform could not be reached or kept refusing for load (network, 429, 5xx),
//! it stays pending and is sent again later ([`WriteOutcome::Deferred`]). At start
//! [`RelabelWriter::drain`] resumes whatever a crash or a lost network left pending. A write that
//! may already have been sent (its attempt counter is above zero) is checked first: if the number
//! already carries the new label, it is audited as already applied and not sent again.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::board::label::{LabelError, LabelGrammar};
use crate::rc::records::PhoneNumber;
use crate::rc::{RcError, RestClient};
use crate::store::{AuditEntry, PendingRelabel, RelabelOutcome, Store, StoreError};

/// The longest label callboard writes, in characters. The public spec names no limit; the
/// simulator (standing in for the platform) refuses more than 64, and 64 holds a campaign name
/// plus a 16-character E.164 DN with room to spare.
pub const MAX_LABEL_CHARS: usize = 64;

/// How long a deferred write waits before the TUI's worker sends it again.
pub const RETRY_DEFERRED_AFTER: Duration = Duration::from_secs(30);

/// How often the TUI's worker re-reads the account's number list, so a label changed elsewhere
/// (another supervisor, the admin portal) reaches the board without waiting for a resync. The
/// list is in the Heavy group (10 requests a minute): one page (1000 numbers) every 10 minutes
/// is under 1% of it, and the client's pacing keeps even a large account within the limit.
pub const REFRESH_NUMBERS_EVERY: Duration = Duration::from_secs(10 * 60);

/// Why a label cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelRuleError {
    #[error(
        "the label is {chars} characters long; callboard writes at most {MAX_LABEL_CHARS} (the platform's limit) — shorten the campaign name"
    )]
    TooLong { chars: usize },
    #[error(transparent)]
    Grammar(#[from] LabelError),
}

/// What the user asked a number's label to become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelSpec {
    /// A campaign and optional DN, written in the configured grammar.
    Fields {
        campaign: String,
        dn: Option<String>,
    },
    /// The label exactly as typed (trimmed).
    Raw(String),
}

/// The label to write for `spec`, checked against every rule: not empty, no control or bidi
/// characters, a DN that is E.164, at most [`MAX_LABEL_CHARS`], and (for fields) a label the
/// grammar reads back as the same campaign and DN.
pub fn build_label(grammar: &LabelGrammar, spec: &LabelSpec) -> Result<String, LabelRuleError> {
    let label = match spec {
        LabelSpec::Fields { campaign, dn } => grammar.format(campaign, dn.as_deref())?,
        LabelSpec::Raw(raw) => {
            let raw = raw.trim();
            if raw.chars().any(crate::text::is_unsafe_char) {
                return Err(LabelError::UnsafeCharacter.into());
            }
            if raw.is_empty() {
                return Err(LabelError::Empty.into());
            }
            raw.to_owned()
        }
    };
    let chars = label.chars().count();
    if chars > MAX_LABEL_CHARS {
        return Err(LabelRuleError::TooLong { chars });
    }
    Ok(label)
}

/// The label that moves a number to `campaign` and keeps its DN (the bulk "set campaign").
pub fn with_campaign(
    grammar: &LabelGrammar,
    old_label: Option<&str>,
    campaign: &str,
) -> Result<String, LabelRuleError> {
    let dn = grammar.parse(old_label).and_then(|parsed| parsed.dn);
    build_label(
        grammar,
        &LabelSpec::Fields {
            campaign: campaign.to_owned(),
            dn,
        },
    )
}

/// One number's relabel, worked out and validated, not yet confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRelabel {
    pub number_id: String,
    /// The number in E.164.
    pub phone_number: String,
    pub old_label: Option<String>,
    /// An empty label removes the label (only undo writes one: back to "unlabelled").
    pub new_label: String,
}

/// How one write ended, as far as this try goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The platform confirmed; `label` is what it now holds.
    Applied { label: String },
    /// Found in place when resuming: it landed before a crash; not sent again.
    AlreadyApplied { label: String },
    /// The platform refused it for good; the number keeps its old label.
    Failed {
        code: Option<String>,
        message: String,
    },
    /// The platform could not be reached or kept refusing for load; the write stays pending and
    /// is sent again after [`RETRY_DEFERRED_AFTER`] (or at next start). `reason` is in words
    /// ("rate limited"), `code` the platform's (e.g. `CMN-301`).
    Deferred {
        reason: String,
        code: Option<String>,
    },
}

impl WriteOutcome {
    /// The outcome in words for a status line, with the platform's code in brackets.
    pub fn describe(&self) -> String {
        match self {
            WriteOutcome::Applied { label } => format!("relabelled \"{label}\""),
            WriteOutcome::AlreadyApplied { label } => {
                format!("already labelled \"{label}\" (confirmed after restart)")
            }
            // The message already carries the code when the platform sent one.
            WriteOutcome::Failed { message, .. } => format!("relabel failed: {message}"),
            WriteOutcome::Deferred { .. } => format!("relabel still pending: {}", self.words()),
        }
    }

    /// Why a write did not land, in words with the platform's code, as the gauge and the
    /// status line show it: "rate limited — will retry in 30 s (CMN-301)". Empty once landed.
    pub fn words(&self) -> String {
        match self {
            WriteOutcome::Applied { .. } | WriteOutcome::AlreadyApplied { .. } => String::new(),
            WriteOutcome::Failed { message, .. } => message.clone(),
            WriteOutcome::Deferred { reason, code } => format!(
                "{reason} — will retry in {}{}",
                crate::rc::error::describe_wait(RETRY_DEFERRED_AFTER),
                code.as_deref()
                    .map(|code| format!(" ({})", crate::text::sanitize(code)))
                    .unwrap_or_default()
            ),
        }
    }

    /// Whether the number now carries the new label.
    pub fn landed(&self) -> bool {
        matches!(
            self,
            WriteOutcome::Applied { .. } | WriteOutcome::AlreadyApplied { .. }
        )
    }
}

/// One write and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteReport {
    pub write: PendingRelabel,
    pub outcome: WriteOutcome,
}

/// What [`RelabelWriter::drain`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainSummary {
    pub landed: usize,
    pub failed: usize,
    /// Writes still pending because the platform could not take them now.
    pub still_pending: usize,
}

/// Sends confirmed relabels, keeping each in the store until the platform's answer is known.
#[derive(Clone)]
pub struct RelabelWriter {
    rest: Arc<RestClient>,
    store: Store,
    who: String,
    /// Idempotency key → why the last try of that pending write failed, until the next try
    /// records it in the store.
    last_errors: Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
}

/// Whether a failure is worth another try later rather than a final "no".
fn is_transient(error: &RcError) -> bool {
    matches!(
        error,
        RcError::Network { .. } | RcError::RateLimited { .. } | RcError::ServerTrouble { .. }
    )
}

impl RelabelWriter {
    /// A writer that records `who` in the audit.
    pub fn new(rest: Arc<RestClient>, store: Store, who: impl Into<String>) -> RelabelWriter {
        RelabelWriter {
            rest,
            store,
            who: who.into(),
            last_errors: Arc::default(),
        }
    }

    /// A writer whose audit names the token's owner (`GET …/extension/~`): the person whose
    /// credentials make the change. Falls back to saying it is unknown rather than failing.
    pub async fn for_token_owner(rest: Arc<RestClient>, store: Store) -> RelabelWriter {
        let who = token_owner(&rest).await;
        RelabelWriter::new(rest, store, who)
    }

    /// Who the audit names.
    pub fn who(&self) -> &str {
        &self.who
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Keeps confirmed writes as pending, in order, before anything is sent. More than one
    /// write form a batch (one bulk relabel, undone together).
    pub fn confirm(
        &self,
        plans: &[PlannedRelabel],
        now: DateTime<Utc>,
    ) -> Result<Vec<PendingRelabel>, StoreError> {
        let batch = (plans.len() > 1).then(crate::store::new_idempotency_key);
        plans
            .iter()
            .map(|plan| {
                let write = PendingRelabel::new(
                    plan.number_id.clone(),
                    plan.phone_number.clone(),
                    plan.old_label.clone(),
                    plan.new_label.clone(),
                    self.who.clone(),
                    now,
                );
                let write = match &batch {
                    Some(batch) => write.in_batch(batch.clone()),
                    None => write,
                };
                self.store.queue_relabel(write)
            })
            .collect()
    }

    /// Sends one pending write (unless it is found already in place) and records the outcome.
    pub async fn write(&self, write: &PendingRelabel) -> Result<WriteReport, StoreError> {
        let outcome = self.try_write(write).await?;
        if !matches!(outcome, WriteOutcome::Deferred { .. }) {
            self.remember_error(&write.idempotency_key, None);
        }
        let report = WriteReport {
            write: write.clone(),
            outcome,
        };
        match &report.outcome {
            WriteOutcome::Applied { label } | WriteOutcome::AlreadyApplied { label } => {
                let audited = if matches!(report.outcome, WriteOutcome::Applied { .. }) {
                    RelabelOutcome::Applied
                } else {
                    RelabelOutcome::AlreadyApplied
                };
                self.store
                    .complete_relabel(&write.idempotency_key, audited, Utc::now())?;
                if let Err(err) = self.store.update_cached_label(&write.number_id, label) {
                    tracing::warn!(error = %err, number = %write.phone_number, "cached number list not updated");
                }
            }
            WriteOutcome::Failed { code, message } => {
                self.store.complete_relabel(
                    &write.idempotency_key,
                    RelabelOutcome::Failed {
                        code: code.clone(),
                        message: message.clone(),
                    },
                    Utc::now(),
                )?;
            }
            WriteOutcome::Deferred { .. } => {}
        }
        Ok(report)
    }

    async fn try_write(&self, write: &PendingRelabel) -> Result<WriteOutcome, StoreError> {
        if write.attempts > 0 {
            // It may have landed before a crash or a lost reply: look before sending again.
            match self.current_label(&write.number_id).await {
                Ok(label) if label.as_deref().unwrap_or("") == write.new_label.trim() => {
                    return Ok(WriteOutcome::AlreadyApplied {
                        label: write.new_label.clone(),
                    });
                }
                Ok(_) => {}
                Err(error) => return Ok(outcome_of_error(error)),
            }
        }
        // The store's protocol: each try is counted before it is sent, with the failure that
        // ended the previous one (held here since then; from the record after a restart).
        let previous_error = self
            .last_error(&write.idempotency_key)
            .or_else(|| write.last_error.clone());
        let noted = self
            .store
            .note_relabel_attempt(&write.idempotency_key, previous_error.as_deref())?;
        if noted.is_none() {
            // Completed elsewhere (a second worker, or an earlier run): never send it twice.
            return Ok(WriteOutcome::AlreadyApplied {
                label: write.new_label.clone(),
            });
        }
        match self.rest.relabel(&write.number_id, &write.new_label).await {
            Ok(record) => Ok(WriteOutcome::Applied {
                label: record.label.unwrap_or_default(),
            }),
            Err(error) => {
                let outcome = outcome_of_error(error);
                if let WriteOutcome::Deferred { .. } = &outcome {
                    self.remember_error(&write.idempotency_key, Some(outcome.words()));
                }
                Ok(outcome)
            }
        }
    }

    fn last_error(&self, key: &str) -> Option<String> {
        self.last_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    fn remember_error(&self, key: &str, error: Option<String>) {
        let mut errors = self
            .last_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match error {
            Some(error) => errors.insert(key.to_owned(), error),
            None => errors.remove(key),
        };
    }

    async fn current_label(&self, number_id: &str) -> Result<Option<String>, RcError> {
        let path = format!("/restapi/v1.0/account/~/phone-number/{number_id}");
        let action = format!("read phone number {number_id}");
        let record: PhoneNumber = self.rest.get_json(&action, &path, &[]).await?;
        Ok(record.label.map(|l| l.trim().to_owned()))
    }

    /// Drops every pending write that was never sent (no attempt counted), auditing each as
    /// abandoned, and returns them. Writes already tried stay: the platform may have applied
    /// them. Only the one task that sends writes may call this, between two writes, so no write
    /// is being sent meanwhile.
    pub fn cancel_unsent(&self, now: DateTime<Utc>) -> Result<Vec<PendingRelabel>, StoreError> {
        let mut cancelled = Vec::new();
        for write in self.store.pending_relabels()? {
            if write.attempts > 0 {
                continue;
            }
            let outcome = RelabelOutcome::Abandoned {
                reason: "cancelled before it was sent".into(),
            };
            if self
                .store
                .complete_relabel(&write.idempotency_key, outcome, now)?
                .is_some()
            {
                cancelled.push(write);
            }
        }
        Ok(cancelled)
    }

    /// Sends every pending write in confirmation order, reporting each. Stops at the first write
    /// the platform cannot take now (the rest would meet the same trouble); they stay pending.
    pub async fn drain(
        &self,
        mut on_report: impl FnMut(&WriteReport),
    ) -> Result<DrainSummary, StoreError> {
        let mut summary = DrainSummary::default();
        let pending = self.store.pending_relabels()?;
        let total = pending.len();
        for (done, write) in pending.iter().enumerate() {
            let report = self.write(write).await?;
            on_report(&report);
            match report.outcome {
                WriteOutcome::Applied { .. } | WriteOutcome::AlreadyApplied { .. } => {
                    summary.landed += 1
                }
                WriteOutcome::Failed { .. } => summary.failed += 1,
                WriteOutcome::Deferred { .. } => {
                    summary.still_pending = total - done;
                    break;
                }
            }
        }
        Ok(summary)
    }
}

/// A refusal or a failure to reach the platform, as the relabel's outcome: transient ones keep
/// the write pending, the rest end it, each worded for a supervisor with the platform's code.
fn outcome_of_error(error: RcError) -> WriteOutcome {
    let code = error.code().map(str::to_owned);
    if is_transient(&error) {
        let reason = match &error {
            RcError::RateLimited { .. } => "rate limited".to_owned(),
            RcError::ServerTrouble { status, .. } => {
                format!("RingCentral is having trouble (HTTP {status})")
            }
            _ => "RingCentral cannot be reached".to_owned(),
        };
        return WriteOutcome::Deferred { reason, code };
    }
    WriteOutcome::Failed {
        message: refusal_words(&error),
        code,
    }
}

/// A final refusal in words plus the platform's code, e.g. "not permitted for this account
/// (CMN-109)". Each status a relabel meets says what it means for this write; the code (or,
/// without one, the HTTP status) is what RingCentral support asks for.
pub fn refusal_words(error: &RcError) -> String {
    let reference = |status: u16, code: Option<&str>| match code {
        Some(code) => format!("HTTP {status}, {}", crate::text::sanitize(code)),
        None => format!("HTTP {status}"),
    };
    match error {
        RcError::LabelChangeNotAllowed { status: 403, code } | RcError::Forbidden { code, .. } => {
            format!(
                "not permitted for this account ({}) — the signed-in user needs the permission to edit company phone numbers",
                reference(403, code.as_deref())
            )
        }
        RcError::LabelChangeNotAllowed { status: 404, code } | RcError::NotFound { code, .. } => {
            format!(
                "number not found on the account ({}) — it may have been removed; reload the numbers",
                reference(404, code.as_deref())
            )
        }
        RcError::LabelChangeNotAllowed { status, code } => format!(
            "this account's API does not allow label changes ({})",
            reference(*status, code.as_deref())
        ),
        other => other.to_string(),
    }
}

async fn token_owner(rest: &RestClient) -> String {
    match crate::rc::account::SignedInUser::read(rest).await {
        Ok(user) => user.describe(),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the token's owner for the relabel audit");
            "token owner (unknown)".to_owned()
        }
    }
}

/// The writes that put back what the last relabel (or the last bulk) changed: the newest
/// successful audit entry, and every successful entry of its batch. `None` when nothing landed.
pub fn plan_undo(audit_newest_first: &[AuditEntry]) -> Option<Vec<PlannedRelabel>> {
    let last = audit_newest_first
        .iter()
        .find(|entry| entry.outcome.is_success())?;
    let group: Vec<&AuditEntry> = match &last.batch_id {
        Some(batch) => audit_newest_first
            .iter()
            .filter(|e| e.batch_id.as_ref() == Some(batch) && e.outcome.is_success())
            .collect(),
        None => vec![last],
    };
    // Oldest first, so the undo replays in the order the originals were written.
    Some(
        group
            .into_iter()
            .rev()
            .map(|entry| PlannedRelabel {
                number_id: entry.number_id.clone(),
                phone_number: entry.phone_number.clone(),
                old_label: Some(entry.new_label.clone()),
                new_label: entry.old_label.clone().unwrap_or_default(),
            })
            .collect(),
    )
}

/// What the board asks of the relabel worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelabelRequest {
    /// Confirmed writes: one number, or a bulk (a batch, undone together).
    Write(Vec<PlannedRelabel>),
    /// Put back what the last relabel or bulk changed.
    UndoLast,
    /// Drop every pending write not yet sent. A write already sent (or being sent) is never
    /// cancelled: the platform may have applied it, so its answer is awaited.
    CancelUnsent,
}

/// What the worker tells the board.
#[derive(Debug, Clone)]
pub enum RelabelEvent {
    /// These writes are confirmed and kept as pending (also sent for writes resumed at start).
    Pending(Vec<PendingRelabel>),
    /// One write ended (or was deferred).
    Done(Box<WriteReport>),
    /// The next write waits `wait` for the platform's rate limit (or a retry after trouble);
    /// `reason` says which, in words.
    Paced { wait: Duration, reason: String },
    /// These writes were dropped before being sent, at the user's request.
    Cancelled(Vec<PendingRelabel>),
    /// The account's numbers as just read, with labels changed elsewhere. Read only while no
    /// write is pending, so it already holds every write this worker landed.
    NumbersRefreshed(Vec<PhoneNumber>),
    /// Something about relabelling the user must read (nothing to undo, the store failed…).
    Problem(String),
}

/// The TUI's relabel worker: resumes what an earlier run left pending, then writes confirmed
/// relabels in order, retrying deferred ones every [`RETRY_DEFERRED_AFTER`]. Requests that arrive
/// while a bulk is being written are taken between two writes, so a cancel stops the rest of a
/// bulk but never cuts one write in half. Ends when the board drops its request sender or stops
/// listening.
pub async fn run_worker(
    writer: RelabelWriter,
    requests: tokio::sync::mpsc::Receiver<RelabelRequest>,
    events: impl Fn(RelabelEvent) -> bool,
) {
    run_worker_refreshing(writer, requests, events, REFRESH_NUMBERS_EVERY).await
}

/// [`run_worker`], re-reading the number list every `refresh_every` while no write is pending.
pub async fn run_worker_refreshing(
    writer: RelabelWriter,
    mut requests: tokio::sync::mpsc::Receiver<RelabelRequest>,
    events: impl Fn(RelabelEvent) -> bool,
    refresh_every: Duration,
) {
    match writer.store().pending_relabels() {
        Ok(resumed) if !resumed.is_empty() => {
            tracing::info!(count = resumed.len(), "resuming pending relabels");
            if !events(RelabelEvent::Pending(resumed)) {
                return;
            }
        }
        Ok(_) => {}
        Err(err) => {
            let _ = events(RelabelEvent::Problem(format!(
                "cannot read pending relabels: {err}"
            )));
        }
    }
    let mut notices = writer.rest.notices();
    let mut retry_at: Option<tokio::time::Instant> = Some(tokio::time::Instant::now());
    let mut refresh_at = tokio::time::Instant::now() + refresh_every;
    loop {
        // Without a retry due, the next thing to do is the number-list refresh.
        let wake_at = retry_at.unwrap_or(refresh_at).min(refresh_at);
        let request = tokio::select! {
            request = requests.recv() => match request {
                Some(request) => Some(request),
                None => return,
            },
            _ = tokio::time::sleep_until(wake_at) => None,
        };
        if request.is_none() && retry_at.is_none_or(|at| at > tokio::time::Instant::now()) {
            refresh_at = tokio::time::Instant::now() + refresh_every;
            if !refresh_numbers(&writer, &events).await {
                return;
            }
            continue;
        }
        if let Some(request) = request
            && !take_request(&writer, request, &events)
        {
            return;
        }
        retry_at = None;
        // One write at a time, oldest first; requests that came in meanwhile go in between.
        loop {
            loop {
                match requests.try_recv() {
                    Ok(request) => {
                        if !take_request(&writer, request, &events) {
                            return;
                        }
                    }
                    Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                    Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return,
                }
            }
            // A store error stops this round; everything is tried again after the deferral.
            let store_trouble = |err: StoreError| {
                let _ = events(RelabelEvent::Problem(format!(
                    "relabel store error: {err}; will retry in {}",
                    crate::rc::error::describe_wait(RETRY_DEFERRED_AFTER)
                )));
                Some(tokio::time::Instant::now() + RETRY_DEFERRED_AFTER)
            };
            let next = match writer.store().pending_relabels() {
                Ok(pending) => pending.into_iter().next(),
                Err(err) => {
                    retry_at = store_trouble(err);
                    break;
                }
            };
            let Some(next) = next else { break };
            let report = match write_reporting_waits(&writer, &next, &mut notices, &events).await {
                Ok(report) => report,
                Err(err) => {
                    retry_at = store_trouble(err);
                    break;
                }
            };
            let deferred = matches!(report.outcome, WriteOutcome::Deferred { .. });
            if deferred {
                // The rest would meet the same trouble: everything waits for the retry.
                let paced = RelabelEvent::Paced {
                    wait: RETRY_DEFERRED_AFTER,
                    reason: report.outcome.words(),
                };
                if !events(RelabelEvent::Done(Box::new(report))) || !events(paced) {
                    return;
                }
                retry_at = Some(tokio::time::Instant::now() + RETRY_DEFERRED_AFTER);
                break;
            }
            if !events(RelabelEvent::Done(Box::new(report))) {
                return;
            }
        }
    }
}

/// Re-reads the number list unless writes are pending (a list read before a pending write lands
/// would show its old label). False when the board stopped listening.
async fn refresh_numbers(writer: &RelabelWriter, events: &impl Fn(RelabelEvent) -> bool) -> bool {
    match writer.store().pending_relabels() {
        Ok(pending) if pending.is_empty() => {}
        // Pending writes are retried on their own timer; the next refresh comes after them.
        _ => return true,
    }
    match writer.rest.phone_numbers().await {
        Ok(numbers) => events(RelabelEvent::NumbersRefreshed(numbers)),
        Err(err) => {
            // The board keeps the labels it has; the next refresh (or a resync) tries again.
            tracing::warn!(error = %err, "number list refresh failed");
            true
        }
    }
}

/// Sends one write, passing on the client's rate-limit and retry waits for this number as
/// [`RelabelEvent::Paced`], so the gauge can say why the bulk is slow and for how long.
async fn write_reporting_waits(
    writer: &RelabelWriter,
    write: &PendingRelabel,
    notices: &mut tokio::sync::broadcast::Receiver<crate::rc::RestNotice>,
    events: &impl Fn(RelabelEvent) -> bool,
) -> Result<WriteReport, StoreError> {
    let sending = writer.write(write);
    tokio::pin!(sending);
    loop {
        tokio::select! {
            report = &mut sending => return report,
            notice = notices.recv() => match notice {
                // The relabel's own requests name the number (its PUT, and the read before a
                // resend); other traffic's waits are the status line's business.
                Ok(notice) if notice.action.ends_with(&format!(" {}", write.number_id)) => {
                    let _ = events(RelabelEvent::Paced {
                        wait: notice.wait,
                        reason: notice.to_string(),
                    });
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                // No more notices: just wait for the write.
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return sending.await,
            },
        }
    }
}

/// Acts on one request; false when the board stopped listening.
fn take_request(
    writer: &RelabelWriter,
    request: RelabelRequest,
    events: &impl Fn(RelabelEvent) -> bool,
) -> bool {
    let plans = match request {
        RelabelRequest::Write(plans) => plans,
        RelabelRequest::UndoLast => match undo_plans(writer.store()) {
            Ok(Some(plans)) => plans,
            Ok(None) => {
                return events(RelabelEvent::Problem(
                    "nothing to undo: no relabel has landed yet".into(),
                ));
            }
            Err(err) => return events(RelabelEvent::Problem(format!("cannot undo: {err}"))),
        },
        RelabelRequest::CancelUnsent => {
            return match writer.cancel_unsent(Utc::now()) {
                Ok(cancelled) if cancelled.is_empty() => events(RelabelEvent::Problem(
                    "nothing to cancel: every pending relabel has already been sent".into(),
                )),
                Ok(cancelled) => events(RelabelEvent::Cancelled(cancelled)),
                Err(err) => events(RelabelEvent::Problem(format!(
                    "cannot cancel the pending relabels: {err}"
                ))),
            };
        }
    };
    match writer.confirm(&plans, Utc::now()) {
        Ok(confirmed) => events(RelabelEvent::Pending(confirmed)),
        // Not kept means not sent: a write the store cannot hold could be lost.
        Err(err) => events(RelabelEvent::Problem(format!(
            "relabel not sent: the store cannot keep it ({err})"
        ))),
    }
}

/// The undo of the last relabel or bulk, from the store's audit.
pub fn undo_plans(store: &Store) -> Result<Option<Vec<PlannedRelabel>>, StoreError> {
    // A bulk is at most a few hundred numbers; this reaches back past any realistic one.
    const UNDO_LOOKBACK: usize = 2_000;
    Ok(plan_undo(&store.audit_recent(UNDO_LOOKBACK)?))
}

/// One audit line: when (local time), number, old → new, result in words, who. Labels came
/// from the platform, so they are sanitised here, where they reach the screen.
pub fn audit_line(entry: &AuditEntry, zone: chrono_tz::Tz) -> String {
    let when = entry.at.with_timezone(&zone).format("%m-%d %H:%M:%S");
    let label = |l: Option<&str>| match l.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => format!("\"{}\"", crate::text::sanitize(l)),
        None => "(no label)".to_owned(),
    };
    let result = match &entry.outcome {
        RelabelOutcome::Applied => "applied".to_owned(),
        RelabelOutcome::AlreadyApplied => "applied (found after restart)".to_owned(),
        RelabelOutcome::Failed { code, message } => match code {
            Some(code) if !message.contains(code.as_str()) => {
                format!(
                    "FAILED [{}]: {}",
                    crate::text::sanitize(code),
                    crate::text::sanitize(message)
                )
            }
            _ => format!("FAILED: {}", crate::text::sanitize(message)),
        },
        RelabelOutcome::Abandoned { reason } => {
            format!("abandoned: {}", crate::text::sanitize(reason))
        }
    };
    format!(
        "{when}  {}  {} → {}  {result}  by {}",
        crate::text::sanitize(&entry.phone_number),
        label(entry.old_label.as_deref()),
        label(Some(&entry.new_label)),
        crate::text::sanitize(&entry.who)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(campaign: &str, dn: Option<&str>) -> LabelSpec {
        LabelSpec::Fields {
            campaign: campaign.into(),
            dn: dn.map(str::to_owned),
        }
    }

    #[test]
    fn labels_are_checked_before_any_write() {
        let grammar = LabelGrammar::default();
        assert_eq!(
            build_label(&grammar, &fields("Zillow Spring", Some("+14155550100"))).unwrap(),
            "Zillow Spring +14155550100"
        );
        assert_eq!(
            build_label(&grammar, &fields("Yelp", Some("4155550100"))),
            Err(LabelRuleError::Grammar(LabelError::BadDn(
                "4155550100".into()
            )))
        );
        assert_eq!(
            build_label(&grammar, &LabelSpec::Raw("Bad\u{7}bell".into())),
            Err(LabelRuleError::Grammar(LabelError::UnsafeCharacter))
        );
        assert_eq!(
            build_label(&grammar, &LabelSpec::Raw("   ".into())),
            Err(LabelRuleError::Grammar(LabelError::Empty))
        );
        // " +14155550100" is 13 characters.
        let long = "x".repeat(MAX_LABEL_CHARS - 12);
        assert_eq!(
            build_label(&grammar, &fields(&long, Some("+14155550100"))),
            Err(LabelRuleError::TooLong {
                chars: MAX_LABEL_CHARS + 1
            })
        );
        let fits = "x".repeat(MAX_LABEL_CHARS);
        assert_eq!(
            build_label(&grammar, &LabelSpec::Raw(fits.clone())).unwrap(),
            fits
        );
    }

    #[test]
    fn what_is_written_reads_back_in_the_default_and_a_custom_grammar() {
        let custom = LabelGrammar::custom(
            r"^(?P<campaign>[^|]*)\|\s*(?P<dn>\+\d+)$",
            "{campaign} | {dn}",
        )
        .unwrap();
        for grammar in [LabelGrammar::default(), custom] {
            for (campaign, dn) in [
                ("Zillow Spring", Some("+14155550100")),
                ("Radio & TV #2", Some("+442071234567")),
            ] {
                let label = build_label(&grammar, &fields(campaign, dn)).unwrap();
                let parsed = grammar.parse(Some(&label)).unwrap();
                assert_eq!(parsed.campaign, campaign, "label {label:?}");
                assert_eq!(parsed.dn.as_deref(), dn, "label {label:?}");
            }
        }
    }

    #[test]
    fn bulk_campaign_change_keeps_each_numbers_dn() {
        let grammar = LabelGrammar::default();
        assert_eq!(
            with_campaign(&grammar, Some("Zillow +14155550100"), "Yelp").unwrap(),
            "Yelp +14155550100"
        );
        assert_eq!(with_campaign(&grammar, None, "Yelp").unwrap(), "Yelp");
    }

    #[test]
    fn refusals_and_waits_read_in_words_with_the_platforms_code() {
        use crate::rc::error::ErrorCode;
        let code = |c: &str| ErrorCode(Some(c.to_owned()));
        let refused = |status: u16, c: &str| {
            outcome_of_error(RcError::LabelChangeNotAllowed {
                status,
                code: code(c),
            })
        };
        let WriteOutcome::Failed { code: got, message } = refused(403, "CMN-109") else {
            panic!("a 403 is final");
        };
        assert_eq!(got.as_deref(), Some("CMN-109"));
        assert!(
            message.starts_with("not permitted for this account (HTTP 403, CMN-109)"),
            "{message}"
        );
        let WriteOutcome::Failed { message, .. } = refused(404, "CMN-102") else {
            panic!("a 404 is final");
        };
        assert!(
            message.starts_with("number not found on the account (HTTP 404, CMN-102)"),
            "{message}"
        );
        let WriteOutcome::Failed { message, .. } = refused(405, "CMN-123") else {
            panic!("a 405 is final");
        };
        assert_eq!(
            message,
            "this account's API does not allow label changes (HTTP 405, CMN-123)"
        );
        let limited = outcome_of_error(RcError::RateLimited {
            action: "relabel phone number 1".into(),
            group: crate::rc::ratelimit::RateGroup::Medium,
            attempts: 6,
            code: code("CMN-301"),
        });
        assert!(!limited.landed());
        assert_eq!(
            limited.words(),
            "rate limited — will retry in 30 s (CMN-301)"
        );
        assert_eq!(
            limited.describe(),
            "relabel still pending: rate limited — will retry in 30 s (CMN-301)"
        );
        let trouble = outcome_of_error(RcError::ServerTrouble {
            action: "relabel phone number 1".into(),
            status: 503,
            attempts: 4,
            code: ErrorCode(None),
        });
        assert_eq!(
            trouble.words(),
            "RingCentral is having trouble (HTTP 503) — will retry in 30 s"
        );
    }

    fn entry(
        seq: u64,
        number: &str,
        old: Option<&str>,
        new: &str,
        batch: Option<&str>,
        ok: bool,
    ) -> AuditEntry {
        let at: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
        AuditEntry {
            seq,
            at,
            confirmed_at: at,
            number_id: number.into(),
            phone_number: format!("+1415555{number:0>4}"),
            old_label: old.map(str::to_owned),
            new_label: new.into(),
            who: "Ann".into(),
            outcome: if ok {
                RelabelOutcome::Applied
            } else {
                RelabelOutcome::Failed {
                    code: Some("CMN-101".into()),
                    message: "no".into(),
                }
            },
            idempotency_key: format!("k{seq}"),
            batch_id: batch.map(str::to_owned),
            attempts: 1,
        }
    }

    #[test]
    fn undo_reverses_the_last_success_or_its_whole_batch() {
        assert_eq!(plan_undo(&[]), None);
        // Newest first: a failed single after a bulk of two (one of which failed).
        let audit = vec![
            entry(5, "9", Some("A"), "B", None, false),
            entry(4, "2", None, "Yelp", Some("bulk"), true),
            entry(3, "3", Some("C"), "Yelp", Some("bulk"), false),
            entry(2, "1", Some("Zillow"), "Yelp", Some("bulk"), true),
            entry(1, "7", Some("X"), "Y", None, true),
        ];
        let undo = plan_undo(&audit).unwrap();
        assert_eq!(undo.len(), 2);
        assert_eq!(undo[0].number_id, "1");
        assert_eq!(undo[0].new_label, "Zillow");
        assert_eq!(undo[0].old_label.as_deref(), Some("Yelp"));
        // Back to unlabelled: the empty label.
        assert_eq!(undo[1].number_id, "2");
        assert_eq!(undo[1].new_label, "");
        let single = plan_undo(&audit[4..]).unwrap();
        assert_eq!(single.len(), 1);
        assert_eq!(single[0].new_label, "X");
    }
}
