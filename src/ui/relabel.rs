//! Relabelling from the keyboard (issue 5), on top of the Numbers view: mark rows (`m`), set the
//! campaign of the marked rows or of every row the filter shows (`E`), undo the last relabel or
//! bulk (`u`), show CTNs / unlabelled / all (`t`), and the checks a typed label passes before it
//! can be confirmed. Pure state changes; the writes go out as [`Effect::Relabel`].

use crate::app::relabel::{LabelSpec, PlannedRelabel, RelabelRequest, build_label, with_campaign};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::board::Board;
use crate::text::sanitize;
use crate::ui::keys::Action;
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

/// Tab in a relabel line: completes the campaign (keeping the typed DN, or the number's own),
/// then, once the campaign is a known one, cycles the known DNs. Returns the options to show.
pub fn complete(board: &Board, input: &mut InputLine) -> Vec<String> {
    let grammar = &board.config().label_grammar;
    let campaigns = known_campaigns(board);
    match &input.purpose {
        InputPurpose::BulkCampaign { .. } => {
            let options = matching(&campaigns, &input.text);
            if let Some(next) = cycle(&input.text, &options) {
                input.text = next;
            }
            input.cursor = input.text.chars().count();
            options
        }
        InputPurpose::Relabel { old_label, .. } => {
            let typed = grammar.parse(Some(&input.text));
            let campaign = typed
                .as_ref()
                .map(|p| p.campaign.clone())
                .unwrap_or_default();
            let dn = typed
                .and_then(|p| p.dn)
                .or_else(|| grammar.parse(Some(old_label)).and_then(|p| p.dn));
            let (options, text) = if campaigns.contains(&campaign) && !campaign.is_empty() {
                // A known campaign: Tab moves on to the DN.
                let dns = known_dns(board);
                let next_dn = cycle(dn.as_deref().unwrap_or(""), &dns);
                let text = grammar.format(&campaign, next_dn.as_deref().or(dn.as_deref()));
                (dns, text.ok())
            } else {
                let options = matching(&campaigns, &campaign);
                let text =
                    cycle(&campaign, &options).and_then(|c| grammar.format(&c, dn.as_deref()).ok());
                (options, text)
            };
            if let Some(text) = text {
                input.text = text;
            }
            input.cursor = input.text.chars().count();
            options
        }
        _ => Vec::new(),
    }
}

fn matching(options: &[String], typed: &str) -> Vec<String> {
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

/// The single-number editor's live preview: the exact label Enter would offer to write, beside
/// the one in place, and how the grammar reads it — or why it cannot be written. The flag says
/// whether it can.
pub fn preview(board: &Board, typed: &str, old_label: &str) -> (String, bool) {
    let grammar = &board.config().label_grammar;
    match build_label(grammar, &LabelSpec::Raw(typed.to_owned())) {
        Ok(label) => {
            let reads = match grammar.parse(Some(&label)) {
                Some(parsed) => match parsed.dn {
                    Some(dn) => format!("campaign \"{}\", DN {dn}", parsed.campaign),
                    None => format!("campaign \"{}\", no DN", parsed.campaign),
                },
                None => crate::board::UNLABELLED.to_owned(),
            };
            let was = if old_label.trim().is_empty() {
                "(no label)".to_owned()
            } else {
                format!("\"{}\"", sanitize(old_label))
            };
            (format!("→ \"{label}\" (was {was}) · {reads}"), true)
        }
        Err(err) => (err.to_string(), false),
    }
}

/// Enter on the single-number line: the label passes every rule or the line says why.
pub fn submit_single(
    ui: &mut UiState,
    ctx: &Context<'_>,
    mut input: InputLine,
    number_id: String,
    number: String,
    old_label: String,
) -> Vec<Effect> {
    let new_label = match build_label(
        &ctx.board.config().label_grammar,
        &LabelSpec::Raw(input.text.clone()),
    ) {
        Ok(label) => label,
        Err(err) => {
            input.error = Some(err.to_string());
            ui.input = Some(input);
            return Vec::new();
        }
    };
    if new_label == old_label.trim() {
        ui.flash("label unchanged", false, ctx.now);
        return Vec::new();
    }
    ui.overlay = Some(Overlay::ConfirmRelabel {
        number_id,
        number,
        old_label,
        new_label,
    });
    Vec::new()
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
            "  {}  {} → \"{}\"",
            plan.phone_number,
            plan.old_label
                .as_deref()
                .map_or("(no label)".to_owned(), |l| format!("\"{l}\"")),
            plan.new_label
        ));
    }
    if plans.len() > BULK_EXAMPLES {
        lines.push(format!("  … and {} more", plans.len() - BULK_EXAMPLES));
    }
    lines.push("Writes are paced by the platform's rate limit; u undoes the whole bulk.".into());
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

/// How many audit entries the overlay reads from the store (newest first).
pub const AUDIT_ROWS: usize = 500;

/// Keys in the audit overlay: up/down/page scroll, anything else closes it.
pub fn audit_scrolled(scroll: u16, action: Option<Action>) -> Option<Overlay> {
    let scroll = match action {
        Some(Action::Down) => scroll.saturating_add(1),
        Some(Action::Up) => scroll.saturating_sub(1),
        Some(Action::PageDown) => scroll.saturating_add(10),
        Some(Action::PageUp) => scroll.saturating_sub(10),
        Some(Action::Top) => 0,
        _ => return None,
    };
    Some(Overlay::Audit { scroll })
}

/// The audit overlay: every relabel, newest first.
pub fn draw_audit(frame: &mut Frame, area: Rect, ui: &UiState, theme: &Theme, scroll: u16) {
    let mut lines: Vec<Line> = if ui.relabel_audit.is_empty() {
        vec![Line::styled(
            "no relabels yet: e relabels the selected number in the Numbers view (5)",
            theme.style(Role::Muted),
        )]
    } else {
        ui.relabel_audit
            .iter()
            .map(|entry| {
                let style = if entry.outcome.is_success() {
                    Style::new()
                } else {
                    theme.style(Role::Error)
                };
                Line::styled(crate::app::relabel::audit_line(entry, ui.time_zone), style)
            })
            .collect()
    };
    lines.push(Line::styled(
        "↑↓ scroll · any other key closes",
        theme.style(Role::Muted),
    ));
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Role::Border))
        .title(Span::styled(
            " Relabel audit (newest first) ",
            theme.style(Role::Title),
        ));
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), area);
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
