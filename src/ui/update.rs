//! Input → state. A key becomes an [`Action`] through the live key map (or edits the input line,
//! or answers an overlay); an action changes [`UiState`] and may ask the app loop for an
//! [`Effect`] it cannot do itself (IO). Pure: tests drive exactly this with real key events.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::board::Board;
use crate::ui::command::{self, Command};
use crate::ui::filter::RowFilter;
use crate::ui::keys::Action;
use crate::ui::state::{InputLine, InputPurpose, Overlay, ScreenKind, SortSpec, Tab, UiState};
use crate::ui::views;

/// Work for the app loop: things that need IO or live outside the UI state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Put this text on the clipboard (OSC 52).
    Copy(String),
    /// Switch to the named theme.
    SetTheme(String),
    /// Ring the terminal bell.
    Bell,
    /// Ctrl-Z: give the terminal back and stop until resumed.
    Suspend,
    /// Fetch a recording into the local store.
    FetchRecording {
        from: crate::ui::recording_actions::FetchFrom,
        call: crate::store::recordings::CallInfo,
    },
    /// Cancel the download shown under this id.
    CancelDownload(String),
    /// Export a stored recording to `path` (a file, or a directory for its default name);
    /// an existing file is replaced only with `replace` (the user said yes).
    ExportRecording {
        recording_id: String,
        path: std::path::PathBuf,
        replace: bool,
    },
    /// Play a stored recording with the configured player.
    PlayRecording(String),
    /// Delete a stored recording (confirmed by the user).
    DeleteRecording(String),
    /// Hand confirmed relabels (or an undo) to the relabel worker.
    Relabel(crate::app::relabel::RelabelRequest),
}

/// Everything the key handling needs besides the UI state.
pub struct Context<'a> {
    pub board: &'a Board,
    pub now: DateTime<Utc>,
    /// User theme names for `:theme` completion.
    pub user_themes: &'a [String],
}

/// Handles one key press.
pub fn on_key(ui: &mut UiState, ctx: &Context<'_>, key: KeyEvent) -> Vec<Effect> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    // Raw mode hands Ctrl-Z to us instead of the shell; suspend is not remappable, like the
    // terminal's own.
    if key.code == KeyCode::Char('z') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return vec![Effect::Suspend];
    }
    if ui.input.is_some() {
        return on_input_key(ui, ctx, key);
    }
    if let Some(overlay) = ui.overlay.clone() {
        return on_overlay_key(ui, ctx, overlay, key);
    }
    match ui.keymap.action_for(&key) {
        Some(action) => apply(ui, ctx, action),
        None => Vec::new(),
    }
}

/// Pasted text goes to the input line when one is open, and is otherwise ignored (bracketed
/// paste keeps a pasted "q" from quitting).
pub fn on_paste(ui: &mut UiState, text: &str) {
    if let Some(Overlay::EditLabel(editor)) = ui.overlay.as_mut() {
        editor.paste(text);
        return;
    }
    if let Some(input) = ui.input.as_mut() {
        let clean: String = text.chars().filter(|c| !c.is_control()).collect();
        let at = byte_index(&input.text, input.cursor);
        input.text.insert_str(at, &clean);
        input.cursor += clean.chars().count();
    }
}

/// Applies one action.
pub fn apply(ui: &mut UiState, ctx: &Context<'_>, action: Action) -> Vec<Effect> {
    match action {
        Action::Quit => request_quit(ui),
        Action::Help => {
            ui.overlay = Some(Overlay::Help { scroll: 0 });
            Vec::new()
        }
        Action::NextView => {
            ui.switch_tab(ui.tab.next());
            Vec::new()
        }
        Action::PrevView => {
            ui.switch_tab(ui.tab.prev());
            Vec::new()
        }
        Action::ViewQueues => switch(ui, Tab::Queues),
        Action::ViewCampaigns => switch(ui, Tab::Campaigns),
        Action::ViewCalls => switch(ui, Tab::Calls),
        Action::ViewAgents => switch(ui, Tab::Agents),
        Action::ViewNumbers => switch(ui, Tab::Numbers),
        Action::ViewRecordings => switch(ui, Tab::Recordings),
        Action::Up => move_selection(ui, ctx, -1),
        Action::Down => move_selection(ui, ctx, 1),
        Action::PageUp => move_selection(ui, ctx, -(ui.page_rows.max(1) as isize)),
        Action::PageDown => move_selection(ui, ctx, ui.page_rows.max(1) as isize),
        Action::Top => move_selection(ui, ctx, isize::MIN / 2),
        Action::Bottom => move_selection(ui, ctx, isize::MAX / 2),
        Action::Open => {
            if let Some(key) = selected_key(ui, ctx)
                && let Some(next) = views::open(ctx.board, ui, &key)
            {
                ui.push(next);
            }
            Vec::new()
        }
        Action::Back => {
            let screen = ui.screen_mut();
            if screen.filter.is_active() {
                screen.filter = RowFilter::default();
            } else {
                ui.pop();
            }
            Vec::new()
        }
        Action::Expand => {
            if matches!(ui.screen().kind, ScreenKind::Campaigns)
                && let Some(key) = selected_key(ui, ctx)
                && !ui.expanded.remove(&key)
            {
                ui.expanded.insert(key);
            }
            Vec::new()
        }
        Action::Filter => {
            let current = ui.screen().filter.text.clone();
            ui.input = Some(InputLine::new(InputPurpose::Filter, &current));
            Vec::new()
        }
        Action::SortNext => {
            let columns = views::column_count(&ui.screen().kind);
            if columns > 0 {
                let screen = ui.screen_mut();
                let next = screen.sort.map_or(0, |s| (s.column + 1) % columns);
                screen.sort = Some(SortSpec {
                    column: next,
                    reverse: views::sorts_descending_first(&screen.kind, next),
                });
            }
            Vec::new()
        }
        Action::SortReverse => {
            let kind = ui.screen().kind.clone();
            let screen = ui.screen_mut();
            let spec = screen.sort.unwrap_or(SortSpec {
                column: 0,
                reverse: views::sorts_descending_first(&kind, 0),
            });
            screen.sort = Some(SortSpec {
                reverse: !spec.reverse,
                ..spec
            });
            Vec::new()
        }
        Action::Command => {
            ui.input = Some(InputLine::new(InputPurpose::Command, ""));
            Vec::new()
        }
        Action::Copy => {
            match selected_key(ui, ctx).and_then(|key| views::copy_text(ctx.board, ui, &key)) {
                Some(text) => {
                    ui.flash(
                        format!("copied {}", text.replace('\n', " ")),
                        false,
                        ctx.now,
                    );
                    vec![Effect::Copy(text)]
                }
                None => {
                    ui.flash("nothing to copy here", true, ctx.now);
                    Vec::new()
                }
            }
        }
        Action::ToggleWindow => {
            ui.window = match ui.window {
                crate::ui::state::MetricWindow::Today => crate::ui::state::MetricWindow::Rolling,
                crate::ui::state::MetricWindow::Rolling => crate::ui::state::MetricWindow::Today,
            };
            Vec::new()
        }
        Action::AckBell => {
            let breached = ui.breached.clone();
            ui.acknowledged_breaches.extend(breached);
            ui.flash("breaches acknowledged", false, ctx.now);
            Vec::new()
        }
        Action::FetchRecording
        | Action::CancelDownload
        | Action::ExportRecording
        | Action::PlayRecording
        | Action::DeleteRecording => {
            let selected = selected_key(ui, ctx);
            crate::ui::recording_actions::on_action(
                ui,
                ctx.board,
                action,
                selected.as_deref(),
                ctx.now,
            )
        }
        Action::MarkNumber => {
            let selected = selected_key(ui, ctx);
            let mut effects = crate::ui::relabel::toggle_mark(ui, ctx, selected);
            // On to the next row, so `mmm` marks three (as in k9s and file managers).
            if ui.screen().kind == ScreenKind::Numbers {
                effects.extend(move_selection(ui, ctx, 1));
            }
            effects
        }
        Action::BulkRelabel => crate::ui::relabel::start_bulk(ui, ctx),
        Action::UndoRelabel => crate::ui::relabel::undo(ui, ctx),
        Action::NumberKind => crate::ui::relabel::toggle_kind(ui, ctx),
        Action::RelabelAudit => crate::ui::relabel::open_audit(ui),
        Action::CancelRelabels => crate::ui::relabel::cancel_unsent(ui, ctx),
        Action::Relabel => {
            let selected = selected_key(ui, ctx);
            crate::ui::relabel::start_edit(ui, ctx, selected)
        }
    }
}

fn switch(ui: &mut UiState, tab: Tab) -> Vec<Effect> {
    ui.switch_tab(tab);
    Vec::new()
}

fn request_quit(ui: &mut UiState) -> Vec<Effect> {
    let in_flight = ui.jobs_in_flight + ui.downloads.running();
    if in_flight > 0 {
        ui.overlay = Some(Overlay::ConfirmQuit {
            what: format!(
                "{in_flight} change{} or download{} still in flight",
                if in_flight == 1 { "" } else { "s" },
                if in_flight == 1 { "" } else { "s" },
            ),
        });
    } else {
        ui.quit = true;
    }
    Vec::new()
}

fn selected_key(ui: &UiState, ctx: &Context<'_>) -> Option<String> {
    views::selected_row(ctx.board, ui, ctx.now).map(|(_, key)| key)
}

fn move_selection(ui: &mut UiState, ctx: &Context<'_>, by: isize) -> Vec<Effect> {
    if let Some((index, key)) = views::moved_selection(ctx.board, ui, ctx.now, by) {
        let screen = ui.screen_mut();
        screen.selected = Some(key);
        screen.selected_index = index;
    }
    Vec::new()
}

fn on_overlay_key(
    ui: &mut UiState,
    ctx: &Context<'_>,
    overlay: Overlay,
    key: KeyEvent,
) -> Vec<Effect> {
    let action = ui.keymap.action_for(&key);
    match overlay {
        Overlay::Help { scroll } => {
            ui.overlay = match (action, key.code) {
                (Some(Action::Down), _) => Some(Overlay::Help {
                    scroll: scroll.saturating_add(1),
                }),
                (Some(Action::Up), _) => Some(Overlay::Help {
                    scroll: scroll.saturating_sub(1),
                }),
                (Some(Action::PageDown), _) => Some(Overlay::Help {
                    scroll: scroll.saturating_add(10),
                }),
                (Some(Action::PageUp), _) => Some(Overlay::Help {
                    scroll: scroll.saturating_sub(10),
                }),
                (Some(Action::Quit), _) => {
                    ui.overlay = None;
                    return request_quit(ui);
                }
                _ => None,
            };
            Vec::new()
        }
        Overlay::ConfirmDeleteRecording { recording_id } => {
            ui.overlay = None;
            if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                vec![Effect::DeleteRecording(recording_id)]
            } else {
                Vec::new()
            }
        }
        Overlay::ConfirmExportOverwrite { recording_id, path } => {
            ui.overlay = None;
            let yes = matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y'));
            crate::ui::recording_actions::confirm_overwrite(ui, recording_id, path, yes, ctx.now)
        }
        Overlay::ConfirmQuit { .. } => {
            ui.overlay = None;
            if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                ui.quit = true;
            }
            Vec::new()
        }
        Overlay::EditLabel(editor) => crate::ui::relabel::on_editor_key(ui, ctx, editor, &key),
        Overlay::ConfirmBulk { plans, .. } => {
            ui.overlay = None;
            if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                crate::ui::relabel::confirm_bulk(ui, plans)
            } else {
                ui.flash("bulk relabel cancelled", false, ctx.now);
                Vec::new()
            }
        }
        Overlay::ConfirmRelabel { editor, new_label } => {
            crate::ui::relabel::on_confirm_key(ui, ctx, editor, new_label, &key)
        }
    }
}

fn on_input_key(ui: &mut UiState, ctx: &Context<'_>, key: KeyEvent) -> Vec<Effect> {
    let Some(mut input) = ui.input.take() else {
        return Vec::new();
    };
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    // Ctrl-C in the input line cancels it, like Esc, rather than quitting mid-typing.
    let cancel = key.code == KeyCode::Esc || (ctrl && key.code == KeyCode::Char('c'));
    if cancel {
        if input.purpose == InputPurpose::Filter {
            // Cancelling restores the filter as it was before editing began.
            if let Ok(filter) = RowFilter::parse(&input.original) {
                ui.screen_mut().filter = filter;
            }
        }
        return Vec::new();
    }
    if key.code != KeyCode::Tab {
        input.completion_prefix = None;
    }
    match key.code {
        KeyCode::Enter => return submit_input(ui, ctx, input),
        KeyCode::Tab if input.purpose == InputPurpose::Command => {
            let options = command::complete(&input.text, ctx.user_themes);
            if let Some(next) = next_completion(&input.text, &options) {
                input.cursor = next.chars().count();
                input.text = next;
            }
            input.error = (options.len() > 1).then(|| options.join("  "));
        }
        KeyCode::Tab if matches!(input.purpose, InputPurpose::BulkCampaign { .. }) => {
            let options = crate::ui::relabel::complete(ctx.board, &mut input);
            input.error = (options.len() > 1).then(|| options.join("  "));
        }
        KeyCode::Backspace => {
            if input.cursor > 0 {
                input.cursor -= 1;
                let at = byte_index(&input.text, input.cursor);
                input.text.remove(at);
            } else if input.text.is_empty() {
                // Backspace on an empty line closes it, as in vim and k9s.
                return Vec::new();
            }
        }
        KeyCode::Delete if input.cursor < input.text.chars().count() => {
            let at = byte_index(&input.text, input.cursor);
            input.text.remove(at);
        }
        KeyCode::Left => input.cursor = input.cursor.saturating_sub(1),
        KeyCode::Right => input.cursor = (input.cursor + 1).min(input.text.chars().count()),
        KeyCode::Home => input.cursor = 0,
        KeyCode::End => input.cursor = input.text.chars().count(),
        KeyCode::Char('a') if ctrl => input.cursor = 0,
        KeyCode::Char('e') if ctrl => input.cursor = input.text.chars().count(),
        KeyCode::Char('u') if ctrl => {
            let at = byte_index(&input.text, input.cursor);
            input.text.drain(..at);
            input.cursor = 0;
        }
        KeyCode::Char('w') if ctrl => {
            let at = byte_index(&input.text, input.cursor);
            let kept = input.text[..at].trim_end();
            let cut = kept.rfind(' ').map_or(0, |i| i + 1);
            input.text.replace_range(cut..at, "");
            input.cursor = input.text[..cut].chars().count();
        }
        KeyCode::Char(c) if !ctrl => {
            let at = byte_index(&input.text, input.cursor);
            input.text.insert(at, c);
            input.cursor += 1;
        }
        _ => {}
    }
    if input.purpose == InputPurpose::Filter {
        // The filter applies as you type, so the rows narrow live.
        match RowFilter::parse(&input.text) {
            Ok(filter) => {
                input.error = None;
                ui.screen_mut().filter = filter;
            }
            Err(err) => input.error = Some(err),
        }
    }
    ui.input = Some(input);
    Vec::new()
}

fn submit_input(ui: &mut UiState, ctx: &Context<'_>, input: InputLine) -> Vec<Effect> {
    match input.purpose.clone() {
        InputPurpose::Filter => match RowFilter::parse(&input.text) {
            Ok(filter) => {
                let screen = ui.screen_mut();
                screen.filter = filter;
                screen.selected = None;
                screen.selected_index = 0;
                Vec::new()
            }
            Err(err) => {
                ui.input = Some(InputLine {
                    error: Some(err),
                    ..input
                });
                Vec::new()
            }
        },
        InputPurpose::Command => match command::parse(&input.text) {
            Ok(Command::View(tab)) => switch(ui, tab),
            Ok(Command::Help) => apply(ui, ctx, Action::Help),
            Ok(Command::Audit) => crate::ui::relabel::open_audit(ui),
            Ok(Command::Quit) => request_quit(ui),
            Ok(Command::Theme(name)) => vec![Effect::SetTheme(name)],
            Ok(Command::Window(window)) => {
                ui.window = window;
                Vec::new()
            }
            Err(err) => {
                ui.input = Some(InputLine {
                    error: Some(err),
                    ..input
                });
                Vec::new()
            }
        },
        InputPurpose::BulkCampaign { number_ids } => {
            crate::ui::relabel::submit_bulk(ui, ctx, input, number_ids)
        }
        InputPurpose::ExportRecording { recording_id } => {
            crate::ui::recording_actions::submit_export(ui, input, recording_id)
        }
    }
}

/// Tab completion cycles: the first option, then the one after the current text.
fn next_completion(text: &str, options: &[String]) -> Option<String> {
    match options.iter().position(|o| o == text) {
        Some(i) => options.get((i + 1) % options.len()).cloned(),
        None => options.first().cloned(),
    }
}

fn byte_index(text: &str, char_index: usize) -> usize {
    text.char_indices()
        .nth(char_index)
        .map_or(text.len(), |(i, _)| i)
}
