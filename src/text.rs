//! Strings from the network are hostile until proven otherwise: a caller name or a number label
//! can carry terminal escape sequences, bidi overrides or megabytes of text. Everything that may
//! reach the terminal passes through [`sanitize`] once, where it enters the board.

use std::borrow::Cow;

/// The longest string the board keeps from the network, in characters. Longer input is cut and
/// marked with an ellipsis, so a 100 KB caller name costs nothing downstream.
pub const MAX_FIELD_CHARS: usize = 256;

/// True for characters that must never reach a terminal: C0/C1 controls (ESC starts every escape
/// sequence), DEL, and the Unicode bidi embedding/override/isolate controls that can reorder a
/// line on screen.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' // LRM, RLM
            | '\u{202A}'..='\u{202E}' // LRE, RLE, PDF, LRO, RLO
            | '\u{2066}'..='\u{2069}' // LRI, RLI, FSI, PDI
            | '\u{061C}' // Arabic letter mark
            | '\u{FEFF}' // zero-width no-break space / BOM
        )
}

/// Returns `s` with unsafe characters removed and at most [`MAX_FIELD_CHARS`] characters kept.
/// Borrows when nothing needs changing, which is the common case.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    sanitize_max(s, MAX_FIELD_CHARS)
}

/// [`sanitize`] with an explicit length cap (in characters).
pub fn sanitize_max(s: &str, max_chars: usize) -> Cow<'_, str> {
    // The common case (ids, numbers, most names): short printable ASCII. Checking bytes is far
    // cheaper than decoding chars, and the board sanitises every field of every event.
    if s.len() <= max_chars && s.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return Cow::Borrowed(s);
    }
    let clean_prefix = s
        .char_indices()
        .take(max_chars + 1)
        .find(|&(_, c)| is_unsafe_char(c))
        .map(|(i, _)| i);
    let char_count_exceeds = s.len() > max_chars && s.chars().nth(max_chars).is_some();
    if clean_prefix.is_none() && !char_count_exceeds {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().min(max_chars * 4));
    let mut kept = 0usize;
    let mut truncated = false;
    for c in s.chars() {
        if is_unsafe_char(c) {
            continue;
        }
        if kept == max_chars {
            truncated = true;
            break;
        }
        out.push(c);
        kept += 1;
    }
    if truncated {
        out.pop();
        out.push('…');
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_strings_are_borrowed() {
        assert!(matches!(
            sanitize("Jane Doe +14155550100"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn escape_sequences_become_inert_text() {
        assert_eq!(
            sanitize("\u{1b}[2J\u{1b}]0;pwned\u{7}Bob"),
            "[2J]0;pwnedBob"
        );
        assert_eq!(sanitize("a\u{9b}31mb"), "a31mb");
    }

    #[test]
    fn bidi_overrides_are_removed() {
        assert_eq!(
            sanitize("evil\u{202E}txt.exe\u{2066}x\u{2069}"),
            "eviltxt.exex"
        );
    }

    #[test]
    fn long_strings_are_cut_with_an_ellipsis() {
        let long = "x".repeat(100_000);
        let s = sanitize(&long);
        assert_eq!(s.chars().count(), MAX_FIELD_CHARS);
        assert!(s.ends_with('…'));
        let exact = "y".repeat(MAX_FIELD_CHARS);
        assert!(matches!(sanitize(&exact), Cow::Borrowed(_)));
    }

    #[test]
    fn multibyte_text_is_counted_in_characters() {
        let s = "é".repeat(MAX_FIELD_CHARS + 5);
        assert_eq!(sanitize(&s).chars().count(), MAX_FIELD_CHARS);
    }
}
