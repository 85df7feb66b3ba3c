//! Relabelling from the keyboard (issue 5), on top of the Numbers view: open the label editor
//! (`e`, see [`crate::ui::label_editor`]), mark rows (`m`), set the campaign of the marked rows or
//! of every row the filter shows (`E`), watch the bulk's progress and cancel what is not yet sent
//! (`X`), undo the last relabel or bulk (`u`), show CTNs / unlabelled / all (`t`). Pure state
//! changes; the writes go out as [`Effect::Relabel`], and the worker's answers come back through
//! [`on_event`].

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::app::relabel::{
    PlannedRelabel, RelabelEvent, RelabelRequest, WriteOutcome, with_campaign,
};
use crate::board::Board;
use crate::store::PendingRelabel;
use crate::text::sanitize;
use crate::ui::label_editor::{EditorStep, LabelEditor, quoted};
use crate::ui::state::{InputLine, InputPurpose, Overlay, ScreenKind, UiState};
use crate::ui::theme::{Role, Theme};
use crate::ui::update::{Context, Effect};
use crate::ui::views;

/// Which numbers the Numbers view lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NumberKind {
    #[default]
    All,
    /// Numbers whose label parses as campaign + DN.
    Ctns,
    Unlabelled,
}

impl NumberKind {
    pub fn next(self) -> NumberKind {
        match self {
            NumberKind::All => NumberKind::Ctns,
            NumberKind::Ctns => NumberKind::Unlabelled,
            NumberKind::Unlabelled => NumberKind::All,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            NumberKind::All => "all numbers",
            NumberKind::Ctns => "CTNs only (campaign + DN)",
            NumberKind::Unlabelled => "unlabelled numbers only",
        }
    }

    /// Whether a number with this (parsed) label is listed.
    pub fn admits(self, labelled: bool, has_dn: bool) -> bool {
        match self {
            NumberKind::All => true,
            NumberKind::Ctns => labelled && has_dn,
            NumberKind::Unlabelled => !labelled,
        }
    }
}

/// How many example rows the bulk confirmation shows.
const BULK_EXAMPLES: usize = 3;

fn in_numbers_view(ui: &UiState) -> bool {
    ui.screen().kind == ScreenKind::Numbers
}

/// `t`: CTNs → unlabelled → all.
pub fn toggle_kind(ui: &mut UiState, ctx: &Context<'_>) -> Vec<Effect> {
    if !in_numbers_view(ui) {
        return Vec::new();
    }
    ui.number_kind = ui.number_kind.next();
    let text = format!("showing {}", ui.number_kind.describe());
    ui.flash(text, false, ctx.now);
    Vec::new()
}

/// `m`: mark or unmark the selected number for a bulk relabel, then move down.
pub fn toggle_mark(ui: &mut UiState, ctx: &Context<'_>, selected: Option<String>) -> Vec<Effect> {
    if !in_numbers_view(ui) {
        return Vec::new();
    }
    let Some(id) = selected else {
        return Vec::new();
    };
    if !ui.marked_numbers.remove(&id) {
        ui.marked_numbers.insert(id);
    }
    let count = ui.marked_numbers.len();
    ui.flash(
        format!("{count} marked — E sets their campaign, m unmarks"),
        false,
        ctx.now,
    );
    Vec::new()
}

/// `E`: ask for the campaign to give the marked numbers, or every number the view lists.
pub fn start_bulk(ui: &mut UiState, ctx: &Context<'_>) -> Vec<Effect> {
    if ui.keymap.read_only() {
        return Vec::new();
    }
    if !in_numbers_view(ui) {
        ui.flash("bulk relabel works in the Numbers view (5)", true, ctx.now);
        return Vec::new();
    }
    let number_ids: Vec<String> = if ui.marked_numbers.is_empty() {
        views::row_keys(ctx.board, ui, ctx.now)
    } else {
        ui.marked_numbers.iter().cloned().collect()
    };
    if number_ids.is_empty() {
        ui.flash(
            "no numbers to relabel: mark some (m) or widen the filter",
            true,
            ctx.now,
        );
        return Vec::new();
    }
    ui.input = Some(InputLine::new(
        InputPurpose::BulkCampaign { number_ids },
        "",
    ));
    Vec::new()
}

/// The campaigns on the board, for Tab completion (sorted, no "(unlabelled)").
pub fn known_campaigns(board: &Board) -> Vec<String> {
    let mut campaigns: Vec<String> = board
        .numbers()
        .into_iter()
        .filter_map(|n| n.parsed.as_ref().map(|p| p.campaign.clone()))
        .collect();
    campaigns.sort();
    campaigns.dedup();
    campaigns
}

/// The DNs on the board, for Tab completion after a campaign.
pub fn known_dns(board: &Board) -> Vec<String> {
    let mut dns: Vec<String> = board
        .numbers()
        .into_iter()
        .filter_map(|n| n.parsed.as_ref().and_then(|p| p.dn.clone()))
        .collect();
    dns.sort();
    dns.dedup();
    dns
}

/// Tab in the bulk campaign line: cycles the known campaigns that begin with what was typed.
/// Returns the options to show.
pub fn complete(board: &Board, input: &mut InputLine) -> Vec<String> {
    if !matches!(input.purpose, InputPurpose::BulkCampaign { .. }) {
        return Vec::new();
    }
    let prefix = input
        .completion_prefix
        .get_or_insert_with(|| input.text.clone());
    let options = matching(&known_campaigns(board), prefix);
    if let Some(next) = cycle(&input.text, &options) {
        input.text = next;
    }
    input.cursor = input.text.chars().count();
    options
}

/// The options that begin with `typed`, ignoring case.
pub fn matching(options: &[String], typed: &str) -> Vec<String> {
    let typed = typed.trim().to_lowercase();
    options
        .iter()
        .filter(|o| o.to_lowercase().starts_with(&typed))
        .cloned()
        .collect()
}

fn cycle(current: &str, options: &[String]) -> Option<String> {
    match options.iter().position(|o| o == current) {
        Some(i) => options.get((i + 1) % options.len()).cloned(),
        None => options.first().cloned(),
    }
}

/// `e`: open the label editor on the selected number (in the Numbers view, or a number row of
/// an expanded campaign).
pub fn start_edit(ui: &mut UiState, ctx: &Context<'_>, selected: Option<String>) -> Vec<Effect> {
    if ui.keymap.read_only() {
        return Vec::new();
    }
    match selected.and_then(|key| views::relabel_target(ctx.board, ui, &key)) {
        Some(target) => {
            let editor = LabelEditor::open(
                &ctx.board.config().label_grammar,
                &target.number_id,
                &target.number,
                &target.label,
            );
            ui.overlay = Some(Overlay::EditLabel(Box::new(editor)));
        }
        None => ui.flash(
            "select a number in the Numbers view to relabel it",
            true,
            ctx.now,
        ),
    }
    Vec::new()
}

/// A key in the label editor: edits, completes, switches mode, or moves on to the confirm.
pub fn on_editor_key(
    ui: &mut UiState,
    ctx: &Context<'_>,
    mut editor: Box<LabelEditor>,
    key: &crossterm::event::KeyEvent,
) -> Vec<Effect> {
    match editor.on_key(ctx.board, key) {
        EditorStep::Editing => ui.overlay = Some(Overlay::EditLabel(editor)),
        EditorStep::Cancel => {
            ui.overlay = None;
            ui.flash("relabel cancelled", false, ctx.now);
        }
        EditorStep::Confirm { new_label } => {
            ui.overlay = Some(Overlay::ConfirmRelabel { editor, new_label });
        }
    }
    Vec::new()
}

/// A key on the single-number confirmation: `y` writes, Esc goes back to the editor, anything
/// else cancels.
pub fn on_confirm_key(
    ui: &mut UiState,
    ctx: &Context<'_>,
    editor: Box<LabelEditor>,
    new_label: String,
    key: &crossterm::event::KeyEvent,
) -> Vec<Effect> {
    use crossterm::event::KeyCode;
    ui.overlay = None;
    match key.code {
        KeyCode::Char('y') | KeyCode::Char('Y') => {
            vec![Effect::Relabel(RelabelRequest::Write(vec![
                PlannedRelabel {
                    number_id: editor.number_id,
                    phone_number: editor.number,
                    old_label: Some(editor.old_label).filter(|l| !l.trim().is_empty()),
                    new_label,
                },
            ]))]
        }
        KeyCode::Esc => {
            ui.overlay = Some(Overlay::EditLabel(editor));
            Vec::new()
        }
        _ => {
            ui.flash("relabel cancelled", false, ctx.now);
            Vec::new()
        }
    }
}

/// The single-number confirmation's lines: the exact label beside the one in place.
pub fn confirm_lines(board: &Board, editor: &LabelEditor, new_label: &str) -> Vec<String> {
    vec![
        format!("number  {}", sanitize(&editor.number)),
        format!("from    {}", quoted(&editor.old_label)),
        format!("to      {}", quoted(new_label)),
        format!(
            "reads   {}",
            crate::ui::label_editor::reads_as(&board.config().label_grammar, new_label)
        ),
        "Write it? y · esc edits again · n cancels".to_string(),
    ]
}

/// Enter on the bulk line: every number's new label is worked out and checked, then confirmed.
pub fn submit_bulk(
    ui: &mut UiState,
    ctx: &Context<'_>,
    mut input: InputLine,
    number_ids: Vec<String>,
) -> Vec<Effect> {
    let grammar = &ctx.board.config().label_grammar;
    let campaign = input.text.trim().to_owned();
    let mut plans = Vec::new();
    for id in &number_ids {
        let Some(entry) = ctx.board.number(id) else {
            continue;
        };
        match with_campaign(grammar, entry.label.as_deref(), &campaign) {
            Ok(new_label) if entry.label.as_deref() != Some(new_label.as_str()) => {
                plans.push(PlannedRelabel {
                    number_id: entry.id.clone(),
                    phone_number: entry.number.clone(),
                    old_label: entry.label.clone(),
                    new_label,
                })
            }
            Ok(_) => {}
            Err(err) => {
                input.error = Some(format!("{}: {err}", entry.number));
                ui.input = Some(input);
                return Vec::new();
            }
        }
    }
    if plans.is_empty() {
        ui.flash(
            format!("nothing to change: those numbers are already in \"{campaign}\""),
            false,
            ctx.now,
        );
        return Vec::new();
    }
    ui.overlay = Some(Overlay::ConfirmBulk { campaign, plans });
    Vec::new()
}

/// `y` on the bulk confirmation.
pub fn confirm_bulk(ui: &mut UiState, plans: Vec<PlannedRelabel>) -> Vec<Effect> {
    ui.marked_numbers.clear();
    vec![Effect::Relabel(RelabelRequest::Write(plans))]
}

/// The bulk confirmation's lines: the count, a few examples, and what pacing means.
pub fn bulk_confirm_lines(campaign: &str, plans: &[PlannedRelabel]) -> Vec<String> {
    let mut lines = vec![format!(
        "{} number{} → campaign \"{campaign}\" (each keeps its DN)",
        plans.len(),
        if plans.len() == 1 { "" } else { "s" }
    )];
    for plan in plans.iter().take(BULK_EXAMPLES) {
        lines.push(format!(
            "  {}  {} → {}",
            sanitize(&plan.phone_number),
            quoted(plan.old_label.as_deref().unwrap_or("")),
            quoted(&plan.new_label)
        ));
    }
    if plans.len() > BULK_EXAMPLES {
        lines.push(format!("  … and {} more", plans.len() - BULK_EXAMPLES));
    }
    lines.push("One write at a time, paced by the platform's rate limit;".into());
    lines.push("X cancels those not yet sent, u undoes the whole bulk.".into());
    lines.push("Write them? y / n".into());
    lines
}

/// `u`: put back what the last relabel or bulk changed (the worker works out which from the
/// audit, so it also undoes a bulk confirmed before a restart).
pub fn undo(ui: &mut UiState, ctx: &Context<'_>) -> Vec<Effect> {
    if ui.keymap.read_only() {
        return Vec::new();
    }
    ui.flash("undoing the last relabel…", false, ctx.now);
    vec![Effect::Relabel(RelabelRequest::UndoLast)]
}

/// How many audit entries the audit view reads from the store (newest first).
pub const AUDIT_ROWS: usize = 500;

/// `A` or `:audit`: the audit view, over the current screen (Esc goes back).
pub fn open_audit(ui: &mut UiState) -> Vec<Effect> {
    if ui.screen().kind != ScreenKind::Audit {
        ui.push(ScreenKind::Audit);
    }
    Vec::new()
}

/// `X`: drop the pending writes not yet sent (the worker keeps any it has sent).
pub fn cancel_unsent(ui: &mut UiState, ctx: &Context<'_>) -> Vec<Effect> {
    if ui.keymap.read_only() {
        return Vec::new();
    }
    if ui.pending_relabels.is_empty() {
        ui.flash("no relabels waiting to be sent", false, ctx.now);
        return Vec::new();
    }
    ui.flash("cancelling the relabels not yet sent…", false, ctx.now);
    vec![Effect::Relabel(RelabelRequest::CancelUnsent)]
}

/// The gauge of a bulk relabel (or an undo of one, or writes resumed at start): how many of the
/// writes have ended and how, and why the rest wait.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelabelProgress {
    pub total: usize,
    pub landed: usize,
    pub failed: usize,
    pub cancelled: usize,
    /// Idempotency keys of the writes that have not ended yet.
    waiting: BTreeSet<String>,
    /// When the next write goes, while the rate limit (or a retry after trouble) holds them.
    pub paced_until: Option<DateTime<Utc>>,
    /// The latest refusal, in words with the platform's code.
    pub last_failure: Option<String>,
}

impl RelabelProgress {
    /// Writes that ended, however they ended.
    pub fn done(&self) -> usize {
        self.landed + self.failed + self.cancelled
    }

    pub fn is_finished(&self) -> bool {
        self.waiting.is_empty()
    }

    fn add(&mut self, writes: &[PendingRelabel]) {
        for write in writes {
            if self.waiting.insert(write.idempotency_key.clone()) {
                self.total += 1;
            }
        }
    }

    /// Counts one write's end; false when it was not one of this gauge's.
    fn end(&mut self, key: &str, outcome: Ended) -> bool {
        if !self.waiting.remove(key) {
            return false;
        }
        match outcome {
            Ended::Landed => self.landed += 1,
            Ended::Failed => self.failed += 1,
            Ended::Cancelled => self.cancelled += 1,
        }
        true
    }

    /// The summary once every write has ended.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} of {} relabelled", self.landed, self.total)];
        if self.failed > 0 {
            parts.push(format!("{} failed (see the audit, A)", self.failed));
        }
        if self.cancelled > 0 {
            parts.push(format!("{} cancelled", self.cancelled));
        }
        format!("bulk relabel done: {}", parts.join(", "))
    }
}

#[derive(Debug, Clone, Copy)]
enum Ended {
    Landed,
    Failed,
    Cancelled,
}

/// The relabel worker's news, applied to the board and the UI: pending rows, the gauge, live
/// re-attribution on success, the old label back (and the reason in words) on failure.
pub fn on_event(board: &mut Board, ui: &mut UiState, event: RelabelEvent, now: DateTime<Utc>) {
    match event {
        RelabelEvent::Pending(writes) => {
            for write in &writes {
                let fresh = ui
                    .pending_relabels
                    .insert(write.number_id.clone(), write.new_label.clone())
                    .is_none();
                if fresh {
                    ui.jobs_in_flight += 1;
                }
            }
            // A gauge for a bulk; a single write joins one that is running.
            match &mut ui.relabel_progress {
                Some(progress) if !progress.is_finished() => progress.add(&writes),
                _ if writes.len() > 1 => {
                    let mut progress = RelabelProgress::default();
                    progress.add(&writes);
                    ui.relabel_progress = Some(progress);
                }
                _ => {}
            }
            let text = match writes.as_slice() {
                [one] => format!("relabelling {}…", sanitize(&one.phone_number)),
                many => format!("relabelling {} numbers…", many.len()),
            };
            ui.flash(text, false, now);
        }
        RelabelEvent::Done(report) => {
            let number = sanitize(&report.write.phone_number).into_owned();
            let text = format!("{number}: {}", report.outcome.describe());
            let is_error = !report.outcome.landed();
            if let WriteOutcome::Applied { label } | WriteOutcome::AlreadyApplied { label } =
                &report.outcome
            {
                // The board re-reads the label: live and today's calls move campaign now.
                views::apply_relabel(board, &report.write.number_id, label, now);
            }
            let ended = match &report.outcome {
                WriteOutcome::Applied { .. } | WriteOutcome::AlreadyApplied { .. } => {
                    Some(Ended::Landed)
                }
                WriteOutcome::Failed { .. } => Some(Ended::Failed),
                WriteOutcome::Deferred { .. } => None,
            };
            if let Some(ended) = ended {
                end_pending(ui, &report.write, ended);
                if let (Some(progress), Ended::Failed) = (&mut ui.relabel_progress, ended) {
                    progress.last_failure = Some(format!("{number}: {}", report.outcome.words()));
                }
                if let Some(progress) = &mut ui.relabel_progress {
                    progress.paced_until = None;
                }
            }
            let still = ui.pending_relabels.len();
            let text = if still > 0 {
                format!("{text} ({still} still to write)")
            } else {
                text
            };
            ui.flash(text, is_error, now);
            finish_progress(ui, now);
        }
        RelabelEvent::Paced { wait, reason } => {
            let until = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
            match &mut ui.relabel_progress {
                Some(progress) => progress.paced_until = Some(until),
                None => ui.flash(sanitize(&reason).into_owned(), false, now),
            }
        }
        RelabelEvent::Cancelled(writes) => {
            for write in &writes {
                end_pending(ui, write, Ended::Cancelled);
            }
            ui.flash(
                format!(
                    "cancelled {} relabel{} not yet sent; the platform never saw them",
                    writes.len(),
                    if writes.len() == 1 { "" } else { "s" }
                ),
                false,
                now,
            );
            finish_progress(ui, now);
        }
        RelabelEvent::NumbersRefreshed(numbers) => {
            // Labels changed elsewhere move calls between campaigns, as a resync would.
            board.set_numbers(&numbers, now);
        }
        RelabelEvent::Problem(text) => ui.flash(text, true, now),
    }
}

/// The row goes back to showing the label in place; the gauge counts the write.
fn end_pending(ui: &mut UiState, write: &PendingRelabel, ended: Ended) {
    if ui.pending_relabels.remove(&write.number_id).is_some() {
        ui.jobs_in_flight = ui.jobs_in_flight.saturating_sub(1);
    }
    if let Some(progress) = &mut ui.relabel_progress {
        progress.end(&write.idempotency_key, ended);
    }
}

/// A finished gauge gives way to its summary in the status line.
fn finish_progress(ui: &mut UiState, now: DateTime<Utc>) {
    if let Some(progress) = ui.relabel_progress.take_if(|p| p.is_finished()) {
        ui.flash(progress.summary(), progress.failed > 0, now);
    }
}

/// Lines the gauge takes under the Numbers table (none without a bulk running).
pub fn progress_height(ui: &UiState) -> u16 {
    if ui.relabel_progress.is_some() { 3 } else { 0 }
}

/// The gauge's lines: a bar with done / total, failures and what X does; then why the writes
/// wait, if they do; then the latest refusal.
pub fn progress_lines(progress: &RelabelProgress, width: u16, now: DateTime<Utc>) -> [String; 3] {
    let figures = format!(
        " {} / {} written{}{}",
        progress.landed + progress.failed,
        progress.total,
        if progress.failed > 0 {
            format!(" · {} failed", progress.failed)
        } else {
            String::new()
        },
        if progress.cancelled > 0 {
            format!(" · {} cancelled", progress.cancelled)
        } else {
            String::new()
        },
    );
    let title = "Bulk relabel ";
    let bar_width = usize::from(width)
        .saturating_sub(title.chars().count() + figures.chars().count() + 2)
        .clamp(0, 40);
    let filled = (bar_width * progress.done())
        .checked_div(progress.total)
        .unwrap_or(0);
    let bar = format!(
        "[{}{}]",
        "█".repeat(filled),
        "░".repeat(bar_width.saturating_sub(filled))
    );
    let pacing = match progress.paced_until {
        Some(until) if until > now => format!(
            "paced by rate limit — next write in {}",
            crate::rc::error::describe_wait(
                (until - now).to_std().unwrap_or(std::time::Duration::ZERO)
            )
        ),
        _ => "writing one number at a time — X cancels the ones not yet sent".to_string(),
    };
    let failure = progress
        .last_failure
        .as_deref()
        .map(|f| format!("last failure: {f}"))
        .unwrap_or_default();
    [format!("{title}{bar}{figures}"), pacing, failure]
}

/// Draws the gauge into `area` (its [`progress_height`] lines).
pub fn draw_progress(
    frame: &mut Frame,
    area: Rect,
    ui: &UiState,
    theme: &Theme,
    now: DateTime<Utc>,
) {
    let Some(progress) = &ui.relabel_progress else {
        return;
    };
    let [bar, pacing, failure] = progress_lines(progress, area.width, now);
    let pacing_role = if progress.paced_until.is_some_and(|until| until > now) {
        Role::CallWaiting
    } else {
        Role::Muted
    };
    let lines = vec![
        Line::from(Span::styled(bar, theme.style(Role::RowChanged))),
        Line::styled(pacing, theme.style(pacing_role)),
        Line::styled(failure, theme.style(Role::Error)),
    ];
    frame.render_widget(ratatui::widgets::Paragraph::new(lines), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_toggle_cycles_and_filters() {
        let kind = NumberKind::default();
        assert_eq!(kind, NumberKind::All);
        assert_eq!(kind.next(), NumberKind::Ctns);
        assert_eq!(kind.next().next(), NumberKind::Unlabelled);
        assert_eq!(kind.next().next().next(), NumberKind::All);
        assert!(NumberKind::Ctns.admits(true, true));
        assert!(!NumberKind::Ctns.admits(true, false));
        assert!(NumberKind::Unlabelled.admits(false, false));
        assert!(!NumberKind::Unlabelled.admits(true, true));
    }

    #[test]
    fn completion_matches_prefixes_and_cycles() {
        let options = vec![
            "Google Ads".to_owned(),
            "Zillow".to_owned(),
            "Zillow Fall".to_owned(),
        ];
        assert_eq!(matching(&options, "zil"), vec!["Zillow", "Zillow Fall"]);
        assert_eq!(cycle("", &options[1..]).as_deref(), Some("Zillow"));
        assert_eq!(
            cycle("Zillow", &options[1..]).as_deref(),
            Some("Zillow Fall")
        );
        assert_eq!(
            cycle("Zillow Fall", &options[1..]).as_deref(),
            Some("Zillow")
        );
    }

    fn write(key: &str) -> PendingRelabel {
        let at: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
        let mut write = PendingRelabel::new("1", "+14155550101", None, "Radio", "Ann", at);
        write.idempotency_key = key.to_owned();
        write
    }

    #[test]
    fn the_gauge_counts_each_write_once_and_says_why_it_waits() {
        let now: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
        let mut progress = RelabelProgress::default();
        progress.add(&[write("a"), write("b"), write("c"), write("d")]);
        progress.add(&[write("a")]);
        assert_eq!(progress.total, 4, "a write announced twice counts once");
        assert!(progress.end("a", Ended::Landed));
        assert!(!progress.end("a", Ended::Landed), "ended once");
        assert!(!progress.end("zzz", Ended::Failed), "not this gauge's");
        assert!(progress.end("b", Ended::Failed));
        progress.paced_until = Some(now + chrono::Duration::seconds(42));
        let [bar, pacing, _] = progress_lines(&progress, 80, now);
        assert!(bar.ends_with("] 2 / 4 written · 1 failed"), "{bar}");
        assert_eq!(bar.matches('█').count(), 20, "{bar}");
        assert_eq!(pacing, "paced by rate limit — next write in 42 s");
        // Once the wait is over the line says how to stop the rest instead.
        let [_, pacing, _] = progress_lines(&progress, 80, now + chrono::Duration::seconds(43));
        assert!(pacing.contains("X cancels"), "{pacing}");
        assert!(progress.end("c", Ended::Cancelled));
        assert!(progress.end("d", Ended::Cancelled));
        assert!(progress.is_finished());
        assert_eq!(
            progress.summary(),
            "bulk relabel done: 1 of 4 relabelled, 1 failed (see the audit, A), 2 cancelled"
        );
    }

    #[test]
    fn the_bulk_confirmation_counts_and_shows_examples() {
        let plans: Vec<PlannedRelabel> = (0..5)
            .map(|i| PlannedRelabel {
                number_id: i.to_string(),
                phone_number: format!("+1415555010{i}"),
                old_label: (i > 0).then(|| format!("Old +1415555020{i}")),
                new_label: format!("Yelp +1415555020{i}"),
            })
            .collect();
        let lines = bulk_confirm_lines("Yelp", &plans);
        assert_eq!(
            lines[0],
            "5 numbers → campaign \"Yelp\" (each keeps its DN)"
        );
        assert_eq!(
            lines[1],
            "  +14155550100  (no label) → \"Yelp +14155550200\""
        );
        assert_eq!(lines[4], "  … and 2 more");
        assert_eq!(lines.last().unwrap(), "Write them? y / n");
    }
}
