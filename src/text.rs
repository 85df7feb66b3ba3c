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
    if s.len() <= max_chars && is_printable_ascii(s.as_bytes()) {
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

/// Whether every byte is printable ASCII (space to `~`), eight bytes at a time: a
/// byte-at-a-time check cost about 240 instructions for a 40-byte session id, and the board
/// checks several ids per event.
fn is_printable_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);
    const SPACES: u64 = u64::from_ne_bytes([b' '; 8]);
    let mut words = bytes.chunks_exact(8);
    let mut flagged = 0u64;
    for word in &mut words {
        let w = u64::from_ne_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        // A byte below 0x20 borrows into its own high bit; 0x7F plus one reaches it, and
        // bytes from 0x80 have it already. A borrow or carry can only cross out of a byte
        // that is flagged itself, so nothing printable is ever flagged alone.
        let below_space = w.wrapping_sub(SPACES) & !w;
        let from_delete = w.wrapping_add(ONES) | w;
        flagged |= (below_space | from_delete) & HIGH_BITS;
    }
    flagged == 0 && words.remainder().iter().all(|b| (b' '..=b'~').contains(b))
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
    fn an_unsafe_byte_anywhere_is_found() {
        // Every position of a string of several words and a remainder, and the bytes
        // just outside the printable range on both sides.
        for bad in ['\u{1f}', '\u{7f}', '\u{80}', '\u{1b}'] {
            for at in 0..70 {
                let mut text: Vec<char> = "s-a0d7b5c3e9f1".chars().cycle().take(70).collect();
                text[at] = bad;
                let text: String = text.into_iter().collect();
                let clean = sanitize(&text);
                assert!(!clean.contains(bad), "{bad:?} at {at} kept in {clean:?}");
                assert_eq!(clean.chars().count(), 69, "{bad:?} at {at}");
            }
        }
    }

    #[test]
    fn the_word_check_agrees_with_a_byte_by_byte_check() {
        // Every byte value at every place of a string of two words and a remainder, beside
        // both ends of the printable range (where a borrow or carry could leak).
        for neighbour in [b' ', b'~', b'a'] {
            for at in 0..19 {
                for byte in 0..=u8::MAX {
                    let mut text = [neighbour; 19];
                    text[at] = byte;
                    let expected = (b' '..=b'~').contains(&byte);
                    assert_eq!(is_printable_ascii(&text), expected, "{byte:#04x} at {at}");
                }
            }
        }
        assert!(is_printable_ascii(b""));
    }

    #[test]
    fn multibyte_text_is_counted_in_characters() {
        let s = "é".repeat(MAX_FIELD_CHARS + 5);
        assert_eq!(sanitize(&s).chars().count(), MAX_FIELD_CHARS);
    }
}
