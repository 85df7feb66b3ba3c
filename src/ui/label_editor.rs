//! The single-number label editor (`e` in the Numbers view): a campaign field and a DN field, each
//! completing from the campaigns and DNs already on the board, or the raw label (Ctrl-R switches).
//! Every key re-checks the label against the rules that guard a write, so the exact label that
//! will be written — or why it cannot be — is on screen before Enter, beside the one in place.
//! Enter opens the one-key confirmation. Pure state plus drawing; the write goes out from the
//! confirmation as an [`Effect::Relabel`](crate::ui::update::Effect::Relabel).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use crate::app::relabel::{LabelSpec, build_label};
use crate::board::Board;
use crate::board::label::LabelGrammar;
use crate::text::sanitize;
use crate::ui::theme::{Role, Theme};

/// How many completions the editor lists under a field.
const SHOWN_COMPLETIONS: usize = 5;

/// What the editor edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditorMode {
    /// A campaign and a DN, written in the configured grammar.
    Fields,
    /// The label exactly as typed.
    Raw,
}

/// The field that takes the keys in [`EditorMode::Fields`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Campaign,
    Dn,
}

/// One line of editable text; the cursor counts characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextField {
    pub text: String,
    pub cursor: usize,
}

impl TextField {
    pub fn new(text: &str) -> TextField {
        TextField {
            text: text.to_owned(),
            cursor: text.chars().count(),
        }
    }

    fn byte_at(&self, char_index: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_index)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Applies an editing key (readline-style, like the `/` and `:` lines); false when the key
    /// is not an editing key.
    pub fn edit(&mut self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let len = self.text.chars().count();
        match key.code {
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Backspace => {}
            KeyCode::Delete if self.cursor < len => {
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Delete => {}
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(len),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = len,
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = len,
            KeyCode::Char('u') if ctrl => {
                let at = self.byte_at(self.cursor);
                self.text.drain(..at);
                self.cursor = 0;
            }
            KeyCode::Char('w') if ctrl => {
                let at = self.byte_at(self.cursor);
                let kept = self.text[..at].trim_end();
                let cut = kept.rfind(' ').map_or(0, |i| i + 1);
                self.text.replace_range(cut..at, "");
                self.cursor = self.text[..cut].chars().count();
            }
            // Control characters never enter a label (the rules would refuse them anyway).
            KeyCode::Char(c) if !ctrl && !c.is_control() => {
                let at = self.byte_at(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
            }
            _ => return false,
        }
        true
    }

    fn set(&mut self, text: &str) {
        self.text = text.to_owned();
        self.cursor = text.chars().count();
    }

    /// Inserts pasted text at the cursor, without control characters (a pasted line break
    /// must not end up in a label).
    pub fn paste(&mut self, text: &str) {
        let clean: String = text.chars().filter(|c| !c.is_control()).collect();
        let at = self.byte_at(self.cursor);
        self.text.insert_str(at, &clean);
        self.cursor += clean.chars().count();
    }

    /// The text with the cursor cell reversed, for drawing.
    fn spans(&self, style: ratatui::style::Style, focused: bool) -> Vec<Span<'static>> {
        if !focused {
            return vec![Span::styled(sanitize(&self.text).into_owned(), style)];
        }
        let at = self.byte_at(self.cursor);
        let (before, after) = self.text.split_at(at);
        let mut after = after.chars();
        let under = after.next().map_or(" ".to_owned(), String::from);
        vec![
            Span::styled(before.to_owned(), style),
            Span::styled(under, style.add_modifier(Modifier::REVERSED)),
            Span::styled(after.as_str().to_owned(), style),
        ]
    }
}

/// The editor's state. Lives in [`Overlay::EditLabel`](crate::ui::state::Overlay::EditLabel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelEditor {
    pub number_id: String,
    /// The number in E.164.
    pub number: String,
    /// The label in place ("" for none).
    pub old_label: String,
    pub mode: EditorMode,
    pub focus: Field,
    pub campaign: TextField,
    pub dn: TextField,
    pub raw: TextField,
    /// What the focused field held at the first Tab: Tab cycles the completions of this prefix,
    /// so the second Tab offers the next match rather than narrowing to the first. Any edit
    /// clears it.
    completing: Option<String>,
}

/// What the editor asks of the update code after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditorStep {
    /// Keep editing.
    Editing,
    /// Esc: close without writing.
    Cancel,
    /// Enter with a valid, changed label: ask for the one-key confirmation.
    Confirm { new_label: String },
}

/// Whether the editor's label can be written, and what exactly would be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// This label passes every rule and differs from the one in place.
    Writes(String),
    /// It passes, but it is the label already in place.
    Unchanged,
    /// Why it cannot be written, in words.
    Invalid(String),
}

impl LabelEditor {
    /// An editor for a number whose label is `old_label` ("" for none), opened on its campaign
    /// and DN as the grammar reads them; a label the grammar cannot split opens raw.
    pub fn open(grammar: &LabelGrammar, number_id: &str, number: &str, old_label: &str) -> Self {
        let parsed = grammar.parse(Some(old_label));
        let campaign = parsed.as_ref().map_or("", |p| p.campaign.as_str());
        let dn = parsed.as_ref().and_then(|p| p.dn.as_deref()).unwrap_or("");
        // A label that the grammar would not write back the same is edited raw, so opening and
        // confirming unchanged never rewrites it.
        let splits_cleanly = old_label.trim().is_empty()
            || grammar
                .format(campaign, Some(dn))
                .is_ok_and(|label| label == old_label.trim());
        LabelEditor {
            number_id: number_id.to_owned(),
            number: number.to_owned(),
            old_label: old_label.to_owned(),
            mode: if splits_cleanly {
                EditorMode::Fields
            } else {
                EditorMode::Raw
            },
            focus: Field::Campaign,
            campaign: TextField::new(campaign),
            dn: TextField::new(dn),
            raw: TextField::new(old_label.trim()),
            completing: None,
        }
    }

    /// The spec of the label as edited.
    pub fn spec(&self) -> LabelSpec {
        match self.mode {
            EditorMode::Fields => LabelSpec::Fields {
                campaign: self.campaign.text.clone(),
                dn: Some(self.dn.text.trim().to_owned()).filter(|dn| !dn.is_empty()),
            },
            EditorMode::Raw => LabelSpec::Raw(self.raw.text.clone()),
        }
    }

    /// Checks the label as edited against every rule a write must pass.
    pub fn verdict(&self, grammar: &LabelGrammar) -> Verdict {
        match build_label(grammar, &self.spec()) {
            Ok(label) if label == self.old_label.trim() => Verdict::Unchanged,
            Ok(label) => Verdict::Writes(label),
            Err(err) => Verdict::Invalid(err.to_string()),
        }
    }

    fn focused(&mut self) -> &mut TextField {
        match (self.mode, self.focus) {
            (EditorMode::Raw, _) => &mut self.raw,
            (EditorMode::Fields, Field::Campaign) => &mut self.campaign,
            (EditorMode::Fields, Field::Dn) => &mut self.dn,
        }
    }

    /// Ctrl-R: fields → the label they make (as typed, even if it breaks a rule, so nothing
    /// typed is lost); raw → the campaign and DN the grammar reads from it.
    fn switch_mode(&mut self, grammar: &LabelGrammar) {
        self.completing = None;
        match self.mode {
            EditorMode::Fields => {
                let campaign = self.campaign.text.trim();
                let dn = self.dn.text.trim();
                let label = grammar
                    .format(campaign, Some(dn))
                    .unwrap_or_else(|_| format!("{campaign} {dn}").trim().to_owned());
                self.raw.set(&label);
                self.mode = EditorMode::Raw;
            }
            EditorMode::Raw => {
                let parsed = grammar.parse(Some(&self.raw.text));
                self.campaign
                    .set(parsed.as_ref().map_or("", |p| p.campaign.as_str()));
                self.dn
                    .set(parsed.as_ref().and_then(|p| p.dn.as_deref()).unwrap_or(""));
                self.mode = EditorMode::Fields;
            }
        }
    }

    /// The completions for the focused field: known campaigns or DNs that begin with what was
    /// typed (case-insensitive), in order. None in raw mode.
    pub fn completions(&self, board: &Board) -> Vec<String> {
        if self.mode == EditorMode::Raw {
            return Vec::new();
        }
        let (known, field) = match self.focus {
            Field::Campaign => (crate::ui::relabel::known_campaigns(board), &self.campaign),
            Field::Dn => (crate::ui::relabel::known_dns(board), &self.dn),
        };
        let prefix = self.completing.as_deref().unwrap_or(&field.text);
        crate::ui::relabel::matching(&known, prefix)
    }

    /// Tab: the focused field becomes the next completion of what was typed; with nothing to
    /// complete, Tab moves on to the other field.
    fn complete(&mut self, board: &Board) {
        let options = self.completions(board);
        if options.is_empty() {
            if self.mode == EditorMode::Fields {
                self.switch_field();
            }
            return;
        }
        let typed = self.focused().text.clone();
        let next = match options.iter().position(|o| *o == typed) {
            Some(i) => options[(i + 1) % options.len()].clone(),
            None => options[0].clone(),
        };
        if self.completing.is_none() {
            self.completing = Some(typed);
        }
        self.focused().set(&next);
    }

    /// Pasted text goes to the focused field.
    pub fn paste(&mut self, text: &str) {
        self.completing = None;
        self.focused().paste(text);
    }

    /// Campaign ↔ DN (two fields: next and previous are the same move).
    fn switch_field(&mut self) {
        self.completing = None;
        self.focus = match self.focus {
            Field::Campaign => Field::Dn,
            Field::Dn => Field::Campaign,
        };
    }

    /// Handles one key.
    pub fn on_key(&mut self, board: &Board, key: &KeyEvent) -> EditorStep {
        let grammar = &board.config().label_grammar;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => return EditorStep::Cancel,
            KeyCode::Char('c') if ctrl => return EditorStep::Cancel,
            KeyCode::Char('r') if ctrl => self.switch_mode(grammar),
            KeyCode::Tab => self.complete(board),
            KeyCode::Up | KeyCode::Down | KeyCode::BackTab if self.mode == EditorMode::Fields => {
                self.switch_field()
            }
            KeyCode::Enter => {
                if let Verdict::Writes(new_label) = self.verdict(grammar) {
                    return EditorStep::Confirm { new_label };
                }
            }
            _ => {
                if self.focused().edit(key) {
                    self.completing = None;
                }
            }
        }
        EditorStep::Editing
    }
}

/// A label in quotes, or "(no label)"; sanitised (it may have come from the platform).
pub fn quoted(label: &str) -> String {
    if label.trim().is_empty() {
        "(no label)".to_owned()
    } else {
        format!("\"{}\"", sanitize(label.trim()))
    }
}

/// How the grammar reads a label: the campaign its calls will count under.
pub fn reads_as(grammar: &LabelGrammar, label: &str) -> String {
    match grammar.parse(Some(label)) {
        Some(parsed) => match parsed.dn {
            Some(dn) => format!("campaign \"{}\", DN {dn}", sanitize(&parsed.campaign)),
            None => format!("campaign \"{}\", no DN", sanitize(&parsed.campaign)),
        },
        None => format!("campaign {}", crate::board::UNLABELLED),
    }
}

/// Draws the editor centred over `area`.
pub fn draw(frame: &mut Frame, area: Rect, board: &Board, editor: &LabelEditor, theme: &Theme) {
    let grammar = &board.config().label_grammar;
    let muted = theme.style(Role::Muted);
    let input = theme.style(Role::Input);
    let key = theme.style(Role::FooterKey);
    let mut lines: Vec<Line> = Vec::new();

    let (fields_style, raw_style) = match editor.mode {
        EditorMode::Fields => (theme.style(Role::TabActive), theme.style(Role::TabInactive)),
        EditorMode::Raw => (theme.style(Role::TabInactive), theme.style(Role::TabActive)),
    };
    let marker = |on: bool| if on { "▸" } else { " " };
    lines.push(Line::from(vec![
        Span::styled(
            format!(
                "{} campaign + DN",
                marker(editor.mode == EditorMode::Fields)
            ),
            fields_style,
        ),
        Span::raw("   "),
        Span::styled(
            format!("{} raw label", marker(editor.mode == EditorMode::Raw)),
            raw_style,
        ),
        Span::styled("   (ctrl-r switches)", muted),
    ]));
    lines.push(Line::raw(""));

    let completions = editor.completions(board);
    let completion_line = |current: &str| -> Line<'static> {
        if completions.is_empty() {
            return Line::styled("            no known match (tab: next field)", muted);
        }
        let mut spans = vec![Span::styled("            tab: ", muted)];
        for (i, option) in completions.iter().take(SHOWN_COMPLETIONS).enumerate() {
            if i > 0 {
                spans.push(Span::styled(" · ", muted));
            }
            let style = if option == current {
                theme.style(Role::Selection)
            } else {
                theme.style(Role::Footer)
            };
            spans.push(Span::styled(sanitize(option).into_owned(), style));
        }
        if completions.len() > SHOWN_COMPLETIONS {
            spans.push(Span::styled(
                format!(" · +{} more", completions.len() - SHOWN_COMPLETIONS),
                muted,
            ));
        }
        Line::from(spans)
    };
    match editor.mode {
        EditorMode::Fields => {
            for (field, name, text) in [
                (Field::Campaign, "campaign", &editor.campaign),
                (Field::Dn, "DN", &editor.dn),
            ] {
                let focused = editor.focus == field;
                let mut spans = vec![Span::styled(
                    format!("{} {name:<9} ", marker(focused)),
                    if focused { key } else { muted },
                )];
                spans.extend(text.spans(input, focused));
                lines.push(Line::from(spans));
                if focused {
                    lines.push(completion_line(&text.text));
                }
            }
        }
        EditorMode::Raw => {
            let mut spans = vec![Span::styled("▸ label     ", key)];
            spans.extend(editor.raw.spans(input, true));
            lines.push(Line::from(spans));
            lines.push(Line::styled(
                "            the label exactly as typed (the grammar reads it below)",
                muted,
            ));
        }
    }
    lines.push(Line::raw(""));

    lines.push(Line::from(vec![
        Span::styled("now     ", muted),
        Span::raw(quoted(&editor.old_label)),
    ]));
    let verdict = editor.verdict(grammar);
    match &verdict {
        Verdict::Writes(label) => {
            lines.push(Line::from(vec![
                Span::styled("writes  ", muted),
                Span::styled(quoted(label), theme.style(Role::RowChanged)),
            ]));
            lines.push(Line::from(vec![
                Span::styled("reads   ", muted),
                Span::raw(reads_as(grammar, label)),
            ]));
        }
        Verdict::Unchanged => {
            lines.push(Line::styled(
                "writes  nothing: this is the label in place",
                muted,
            ));
            lines.push(Line::raw(""));
        }
        Verdict::Invalid(why) => {
            lines.push(Line::styled(
                "writes  nothing until this is fixed:",
                theme.style(Role::Error),
            ));
            lines.push(Line::styled(format!("✗ {why}"), theme.style(Role::Error)));
        }
    }
    lines.push(Line::raw(""));
    let enter = if matches!(verdict, Verdict::Writes(_)) {
        "enter reviews"
    } else {
        "enter (fix first)"
    };
    let hint = match editor.mode {
        EditorMode::Fields => {
            format!("tab completes · ↑↓ or shift-tab field · {enter} · esc cancels")
        }
        EditorMode::Raw => format!("{enter} · esc cancels"),
    };
    lines.push(Line::styled(hint, muted));

    let title = format!(
        " Relabel {} — this changes the account ",
        sanitize(&editor.number)
    );
    let wanted = lines
        .iter()
        .map(|l| l.width())
        .max()
        .unwrap_or(0)
        .max(title.width() + 2)
        .max(60) as u16
        + 4;
    crate::ui::render::draw_warning_box(frame, area, theme, title, lines, wanted);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn opening_splits_the_label_into_campaign_and_dn() {
        let grammar = LabelGrammar::default();
        let editor = LabelEditor::open(&grammar, "1", "+14155550101", "Zillow +14155550100");
        assert_eq!(editor.mode, EditorMode::Fields);
        assert_eq!(editor.campaign.text, "Zillow");
        assert_eq!(editor.dn.text, "+14155550100");
        assert_eq!(editor.verdict(&grammar), Verdict::Unchanged);
        // Two spaces would not be written back the same: edited raw, as it is.
        let odd = LabelEditor::open(&grammar, "1", "+14155550101", "Zillow  +14155550100");
        assert_eq!(odd.mode, EditorMode::Raw);
        assert_eq!(odd.raw.text, "Zillow  +14155550100");
    }

    #[test]
    fn fields_edit_readline_style_and_refuse_control_characters() {
        let mut field = TextField::new("Zillow Spring");
        assert!(field.edit(&KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL)));
        assert_eq!(field.text, "Zillow ");
        field.edit(&key(KeyCode::Char('F')));
        field.edit(&key(KeyCode::Home));
        field.edit(&key(KeyCode::Delete));
        assert_eq!(field.text, "illow F");
        assert!(!field.edit(&key(KeyCode::Char('\u{7}'))));
        assert_eq!(field.text, "illow F");
        field.paste("Z\r\n");
        assert_eq!(field.text, "Zillow F");
        assert_eq!(field.cursor, 1);
    }

    #[test]
    fn the_verdict_says_why_a_label_cannot_be_written() {
        let grammar = LabelGrammar::default();
        let mut editor = LabelEditor::open(&grammar, "1", "+14155550101", "");
        assert!(
            matches!(editor.verdict(&grammar), Verdict::Invalid(why) if why.contains("needs a campaign"))
        );
        editor.campaign.set("Yelp");
        editor.dn.set("415555");
        assert!(matches!(editor.verdict(&grammar), Verdict::Invalid(why) if why.contains("E.164")));
        editor.dn.set("+14155550100");
        assert_eq!(
            editor.verdict(&grammar),
            Verdict::Writes("Yelp +14155550100".into())
        );
        // Without a DN, a campaign ending in an E.164 number would read back with it as the DN.
        editor.dn.set("");
        editor.campaign.set("Call +14155550199");
        assert!(
            matches!(editor.verdict(&grammar), Verdict::Invalid(why) if why.contains("would read back as campaign"))
        );
        editor.campaign.set("Yelp \u{202e}kcab");
        assert!(
            matches!(editor.verdict(&grammar), Verdict::Invalid(why) if why.contains("bidi-override"))
        );
        editor.dn.set("+14155550100");
        editor.campaign.set(&"x".repeat(60));
        assert!(
            matches!(editor.verdict(&grammar), Verdict::Invalid(why) if why.contains("at most 64"))
        );
    }

    #[test]
    fn switching_modes_keeps_what_was_typed() {
        let grammar = LabelGrammar::default();
        let mut editor = LabelEditor::open(&grammar, "1", "+14155550101", "Zillow +14155550100");
        editor.campaign.set("Radio");
        editor.switch_mode(&grammar);
        assert_eq!(editor.mode, EditorMode::Raw);
        assert_eq!(editor.raw.text, "Radio +14155550100");
        editor.raw.set("Billboard I-80 +14155550199");
        editor.switch_mode(&grammar);
        assert_eq!(editor.campaign.text, "Billboard I-80");
        assert_eq!(editor.dn.text, "+14155550199");
        // A DN that breaks the rules is carried over as typed, not dropped.
        editor.dn.set("555");
        editor.switch_mode(&grammar);
        assert_eq!(editor.raw.text, "Billboard I-80 555");
    }
}
