//! Copying to the clipboard with OSC 52: the terminal emulator itself sets the clipboard, so it
//! works over SSH and inside tmux (which needs `set -g set-clipboard on`) with no X11 or helper.

use base64::Engine;

/// Terminals cap OSC 52 payloads (xterm: 100 000 bytes); ids and numbers are far below that.
const MAX_COPY_BYTES: usize = 74_000;

/// The escape sequence that puts `text` on the system clipboard. Control characters are removed
/// first so the copied text cannot smuggle its own escape sequences.
pub fn osc52_sequence(text: &str) -> Option<String> {
    let clean: String = text
        .chars()
        .filter(|c| !crate::text::is_unsafe_char(*c) || *c == '\n' || *c == '\t')
        .collect();
    if clean.is_empty() || clean.len() > MAX_COPY_BYTES {
        return None;
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(clean.as_bytes());
    Some(format!("\u{1b}]52;c;{encoded}\u{7}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_text_as_base64_in_an_osc52_sequence() {
        assert_eq!(
            osc52_sequence("+14155550100").unwrap(),
            "\u{1b}]52;c;KzE0MTU1NTUwMTAw\u{7}"
        );
    }

    #[test]
    fn strips_escape_sequences_from_the_payload() {
        let seq = osc52_sequence("a\u{1b}]0;x\u{7}b").unwrap();
        let payload = seq
            .trim_start_matches("\u{1b}]52;c;")
            .trim_end_matches('\u{7}');
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap();
        assert_eq!(decoded, b"a]0;xb");
    }

    #[test]
    fn nothing_to_copy_is_none() {
        assert!(osc52_sequence("").is_none());
        assert!(osc52_sequence(&"x".repeat(MAX_COPY_BYTES + 1)).is_none());
    }
}
