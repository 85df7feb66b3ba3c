//! A small validating JSON reader over borrowed text, for the one parse that runs for every
//! event: [`crate::rc::events::parse_notification`].
//!
//! serde_json reads the same frames correctly, but for this shape of input (about a kilobyte of
//! short strings, most of them skipped) its generic machinery costs more than the scanning:
//! every key goes through a field visitor, every value through `Option` and `deserialize_any`
//! layers, and the built structs are moved up through them. This reader lets the caller match
//! keys itself and write values straight into place.
//!
//! It accepts exactly JSON (RFC 8259) and refuses what serde_json's `from_str` refuses, with the
//! same number model (`u64`, then `i64`, then `f64`; `-0` is a float; an infinite float is an
//! error) and the same checks on strings (no raw control characters, valid escapes, paired
//! surrogates in decoded strings; skipped strings check their escapes' hex digits only, as
//! serde_json's `ignore_str` does). Skipped values may nest without limit (an explicit stack, not
//! recursion); containers the caller reads count towards [`MAX_DEPTH`]. `events` tests check
//! both readers agree on the samples, the simulator's frames and thousands of mutations of them.

use std::borrow::Cow;

/// How deep the caller's own objects and arrays may nest (serde_json's recursion limit).
pub const MAX_DEPTH: u32 = 128;

/// Where and why the text stopped being the JSON expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {at}")]
pub struct SyntaxError {
    pub what: &'static str,
    pub at: usize,
}

/// Boxed, so that the `Result<()>` of every step fits in a register: errors are rare, steps are
/// not.
pub type Result<T> = std::result::Result<T, Box<SyntaxError>>;

/// A JSON number as serde_json classifies it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number<'a> {
    /// A non-negative integer that fits, with its literal text.
    U64(u64, &'a str),
    /// A negative integer that fits, with its literal text.
    I64(i64, &'a str),
    /// Anything else: a fraction, an exponent, an integer too large, or `-0`.
    F64(f64),
}

/// A scalar value; objects and arrays are the caller's to read or refuse.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    Str(Cow<'a, str>),
    Number(Number<'a>),
}

/// Reads one JSON text front to back.
pub struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    depth: u32,
}

impl<'a> Scanner<'a> {
    pub fn new(text: &'a str) -> Self {
        Scanner {
            text,
            pos: 0,
            depth: 0,
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// An error at the current position.
    #[cold]
    pub fn error(&self, what: &'static str) -> Box<SyntaxError> {
        Box::new(SyntaxError { what, at: self.pos })
    }

    fn fail<T>(&self, what: &'static str) -> Result<T> {
        Err(self.error(what))
    }

    /// The next significant byte, after whitespace, without taking it.
    #[inline(always)]
    pub fn peek(&mut self) -> Option<u8> {
        // Frames from the gateway carry no whitespace between tokens: one comparison (every
        // whitespace byte is at most a space) settles almost every call.
        let b = *self.bytes().get(self.pos)?;
        if b > b' ' {
            return Some(b);
        }
        self.peek_past_whitespace()
    }

    #[inline(never)]
    fn peek_past_whitespace(&mut self) -> Option<u8> {
        let bytes = self.bytes();
        while let Some(&b) = bytes.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    /// Takes `byte` as the next significant byte, or fails saying `what` was expected.
    #[inline]
    fn expect(&mut self, byte: u8, what: &'static str) -> Result<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(what)
        }
    }

    /// Fails unless only whitespace is left.
    pub fn finish(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("trailing characters after the JSON value"),
        }
    }

    /// Takes a `null` if one comes next.
    #[inline]
    pub fn null(&mut self) -> Result<bool> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<()> {
        if self.bytes()[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.fail("expected a value (a misspelt true, false or null)")
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.fail("nested too deeply");
        }
        Ok(())
    }

    /// Reads an object, calling `field` with each key; `field` must read or skip the value.
    #[inline]
    pub fn object(&mut self, mut field: impl FnMut(&mut Self, &str) -> Result<()>) -> Result<()> {
        self.expect(b'{', "expected an object")?;
        self.enter()?;
        if self.closes_empty(b'}') {
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return self.fail("expected a key in quotes");
            }
            let key = self.string()?;
            self.expect(b':', "expected ':' after a key")?;
            field(self, &key)?;
            if self.member_ends(b'}', "expected ',' or '}' in an object")? {
                return Ok(());
            }
        }
    }

    /// Reads an array, calling `element` for each element, which it must read or skip. Stops
    /// early (skipping the rest) when `element` returns `false`.
    #[inline]
    pub fn array(&mut self, mut element: impl FnMut(&mut Self) -> Result<bool>) -> Result<()> {
        self.expect(b'[', "expected an array")?;
        self.enter()?;
        if self.closes_empty(b']') {
            return Ok(());
        }
        let mut reading = true;
        loop {
            if reading {
                reading = element(self)?;
            } else {
                self.skip()?;
            }
            if self.member_ends(b']', "expected ',' or ']' in an array")? {
                return Ok(());
            }
        }
    }

    /// Takes `closer` if it comes next, leaving the container just entered (it was empty).
    #[inline(always)]
    fn closes_empty(&mut self, closer: u8) -> bool {
        let empty = self.peek() == Some(closer);
        if empty {
            self.pos += 1;
            self.depth -= 1;
        }
        empty
    }

    /// After a member of a container: takes `,` (more follow: `false`) or `closer` (the
    /// container ends: `true`); anything else is an error saying `expected`.
    #[inline(always)]
    fn member_ends(&mut self, closer: u8, expected: &'static str) -> Result<bool> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b) if b == closer => {
                self.pos += 1;
                self.depth -= 1;
                Ok(true)
            }
            _ => self.fail(expected),
        }
    }

    /// Reads a scalar; an object or array here is an error saying `expected`.
    pub fn scalar(&mut self, expected: &'static str) -> Result<Scalar<'a>> {
        match self.peek() {
            Some(b'"') => Ok(Scalar::Str(self.string()?)),
            Some(b'n') => self.literal(b"null").map(|()| Scalar::Null),
            Some(b't') => self.literal(b"true").map(|()| Scalar::Bool(true)),
            Some(b'f') => self.literal(b"false").map(|()| Scalar::Bool(false)),
            Some(b'-' | b'0'..=b'9') => Ok(Scalar::Number(self.number()?)),
            Some(b'{' | b'[') => self.fail(expected),
            _ => self.fail("expected a value"),
        }
    }

    /// Reads a string (the next byte is its opening quote), borrowed unless it has escapes.
    #[inline(always)]
    pub fn string(&mut self) -> Result<Cow<'a, str>> {
        let start = self.pos + 1;
        let end = special_byte(self.bytes(), start);
        if self.bytes().get(end) == Some(&b'"') {
            self.pos = end + 1;
            return Ok(Cow::Borrowed(&self.text[start..end]));
        }
        self.string_with_escapes(start, end)
    }

    /// The rest of [`Scanner::string`] when the first special byte is not the closing quote.
    #[cold]
    #[inline(never)]
    fn string_with_escapes(&mut self, start: usize, end: usize) -> Result<Cow<'a, str>> {
        self.pos = end;
        let mut decoded = String::with_capacity(end - start + 16);
        decoded.push_str(&self.text[start..end]);
        self.string_rest(Some(&mut decoded))?;
        Ok(Cow::Owned(decoded))
    }

    /// The rest of a string from a special byte at `pos` to past its closing quote. With `out`,
    /// escapes are decoded into it (surrogates must pair); without, they are only checked, as
    /// serde_json checks the strings it skips (a `\u` needs four hex digits, nothing more).
    #[cold]
    #[inline(never)]
    fn string_rest(&mut self, mut out: Option<&mut String>) -> Result<()> {
        loop {
            match self.bytes().get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match out.as_deref_mut() {
                        Some(out) => self.decode_escape(out)?,
                        None => self.skip_escape()?,
                    }
                }
                Some(_) => return self.fail("control character in a string"),
                None => return self.fail("end of text inside a string"),
            }
            let end = special_byte(self.bytes(), self.pos);
            if let Some(out) = out.as_deref_mut() {
                out.push_str(&self.text[self.pos..end]);
            }
            self.pos = end;
        }
    }

    fn skip_escape(&mut self) -> Result<()> {
        match self.bytes().get(self.pos) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'u') => {
                self.pos += 1;
                self.hex4().map(drop)
            }
            Some(_) => self.fail("invalid escape in a string"),
            None => self.fail("end of text inside a string"),
        }
    }

    fn decode_escape(&mut self, out: &mut String) -> Result<()> {
        let Some(&kind) = self.bytes().get(self.pos) else {
            return self.fail("end of text inside a string");
        };
        self.pos += 1;
        let c = match kind {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                match first {
                    0xD800..=0xDBFF => {
                        if !self.bytes()[self.pos..].starts_with(b"\\u") {
                            return self.fail("lone leading surrogate in a \\u escape");
                        }
                        self.pos += 2;
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return self.fail("invalid surrogate pair in a \\u escape");
                        }
                        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                        char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)
                    }
                    0xDC00..=0xDFFF => return self.fail("lone trailing surrogate in a \\u escape"),
                    code => char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
                }
            }
            _ => return self.fail("invalid escape in a string"),
        };
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32> {
        let Some(digits) = self.bytes().get(self.pos..self.pos + 4) else {
            return self.fail("end of text inside a \\u escape");
        };
        let mut code = 0;
        for &d in digits {
            let Some(v) = char::from(d).to_digit(16) else {
                return self.fail("invalid hex digit in a \\u escape");
            };
            code = code * 16 + v;
        }
        self.pos += 4;
        Ok(code)
    }

    /// Skips a string (the next byte is its opening quote), checking it.
    #[inline(always)]
    fn skip_string(&mut self) -> Result<()> {
        let end = special_byte(self.bytes(), self.pos + 1);
        self.pos = end;
        if self.bytes().get(end) == Some(&b'"') {
            self.pos += 1;
            return Ok(());
        }
        self.string_rest(None)
    }

    /// The extent of a number's literal, checked against JSON's grammar; whether it is an
    /// integer (no fraction, no exponent).
    fn number_literal(&mut self) -> Result<(&'a str, bool)> {
        let bytes = self.bytes();
        let start = self.pos;
        let mut i = start + usize::from(bytes.get(start) == Some(&b'-'));
        let digits = |i: usize| {
            bytes[i.min(bytes.len())..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i += digits(i),
            _ => {
                self.pos = i;
                return self.fail("expected a digit in a number");
            }
        }
        let mut integer = true;
        if bytes.get(i) == Some(&b'.') {
            integer = false;
            let n = digits(i + 1);
            if n == 0 {
                self.pos = i + 1;
                return self.fail("expected a digit after the decimal point");
            }
            i += 1 + n;
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            integer = false;
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let n = digits(i);
            if n == 0 {
                self.pos = i;
                return self.fail("expected a digit in an exponent");
            }
            i += n;
        }
        self.pos = i;
        Ok((&self.text[start..i], integer))
    }

    /// Reads a number with serde_json's model: `u64` if it fits, then `i64`, else `f64`.
    pub fn number(&mut self) -> Result<Number<'a>> {
        self.peek();
        let (literal, integer) = self.number_literal()?;
        if integer {
            if literal.starts_with('-') {
                // serde_json reads `-0` as the float -0.0.
                if let Ok(v @ ..=-1) = literal.parse::<i64>() {
                    return Ok(Number::I64(v, literal));
                }
            } else if let Ok(v) = literal.parse::<u64>() {
                return Ok(Number::U64(v, literal));
            }
        }
        match literal.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Number::F64(v)),
            _ => self.fail("number out of range"),
        }
    }

    /// Skips one value of any kind, checking it. Nesting is unlimited: open containers are kept
    /// on a bit stack, not in recursion.
    #[inline]
    pub fn skip(&mut self) -> Result<()> {
        // Most skipped values are scalars: no stack for them.
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'-' | b'0'..=b'9') => self.number_literal().map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => self.skip_nested(),
        }
    }

    fn skip_nested(&mut self) -> Result<()> {
        let mut open = BitStack::default();
        loop {
            // A value starts here.
            let mut closed = false;
            match self.peek() {
                Some(b'"') => {
                    self.skip_string()?;
                    closed = true;
                }
                Some(b'{') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'}') => {
                            self.pos += 1;
                            closed = true;
                        }
                        Some(b'"') => {
                            open.push(true);
                            self.skip_key()?;
                        }
                        _ => return self.fail("expected a key in quotes"),
                    }
                }
                Some(b'[') => {
                    self.pos += 1;
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        closed = true;
                    } else {
                        open.push(false);
                    }
                }
                Some(b'n') => {
                    self.literal(b"null")?;
                    closed = true;
                }
                Some(b't') => {
                    self.literal(b"true")?;
                    closed = true;
                }
                Some(b'f') => {
                    self.literal(b"false")?;
                    closed = true;
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.number_literal()?;
                    closed = true;
                }
                Some(_) => return self.fail("expected a value"),
                None => return self.fail("end of text where a value belongs"),
            }
            if !closed {
                continue;
            }
            // A value ended: close the containers it ends, or go on to the next element.
            loop {
                let Some(in_object) = open.top() else {
                    return Ok(());
                };
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if in_object {
                            if self.peek() != Some(b'"') {
                                return self.fail("expected a key in quotes");
                            }
                            self.skip_key()?;
                        }
                        break;
                    }
                    Some(b'}') if in_object => {
                        self.pos += 1;
                        open.pop();
                    }
                    Some(b']') if !in_object => {
                        self.pos += 1;
                        open.pop();
                    }
                    _ if in_object => return self.fail("expected ',' or '}' in an object"),
                    _ => return self.fail("expected ',' or ']' in an array"),
                }
            }
        }
    }

    /// Skips `"key":` (at the key's opening quote).
    fn skip_key(&mut self) -> Result<()> {
        self.skip_string()?;
        self.expect(b':', "expected ':' after a key")
    }
}

/// The index of the first `"`, `\` or control byte at or after `from`, or the text's length.
/// Eight bytes at a time: most strings in a frame are short and plain.
#[inline(always)]
fn special_byte(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let word = u64::from_le_bytes(*chunk);
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        // Each term flags a byte that is zero (a match) or below 0x20; a borrow can flag bytes
        // above a real hit, never below one, so the lowest flag is exact.
        let hits = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | word.wrapping_sub(ONES * 0x20) & !word)
            & HIGHS;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

/// Which containers are open while skipping: `true` for an object. The first 64 levels live in
/// a word; deeper ones spill into a vector that is only allocated for hostile input.
#[derive(Default)]
struct BitStack {
    bits: u64,
    len: usize,
    spill: Vec<u64>,
}

impl BitStack {
    fn push(&mut self, object: bool) {
        if self.len > 0 && self.len % 64 == 0 {
            self.spill.push(self.bits);
            self.bits = 0;
        }
        self.bits = (self.bits << 1) | u64::from(object);
        self.len += 1;
    }

    fn top(&self) -> Option<bool> {
        (self.len > 0).then_some(self.bits & 1 == 1)
    }

    fn pop(&mut self) {
        self.bits >>= 1;
        self.len -= 1;
        if self.len > 0 && self.len % 64 == 0 {
            self.bits = self.spill.pop().unwrap_or(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip_all(text: &str) -> Result<()> {
        let mut scanner = Scanner::new(text);
        scanner.skip()?;
        scanner.finish()
    }

    #[test]
    fn skipping_accepts_what_serde_json_accepts_and_refuses_what_it_refuses() {
        for text in [
            "null",
            " true ",
            "false",
            "0",
            "-0",
            "12.5e-3",
            "1E400",
            r#""plain""#,
            r#""esc \" \\ \/ \b \f \n \r \t \u00e9 \ud800""#,
            "[]",
            "{}",
            r#"[1, [2, [3, {"a": [{}]}]], "x", {"b": null}]"#,
            r#"{"a": {"b": {"c": [true, false, null]}}, "d": "é"}"#,
        ] {
            assert!(skip_all(text).is_ok(), "{text}");
            assert!(serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok());
        }
        for text in [
            "",
            "nul",
            "tru",
            "01",
            "1.",
            ".5",
            "1e",
            "-",
            "+1",
            "\"open",
            "\"ctrl \u{1} char\"",
            r#""bad \x escape""#,
            r#""bad \u12G4""#,
            "[1,]",
            "[1 2]",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "{1:2}",
            "{\"a\":1",
            "[",
            "]",
            "[}",
            "{]",
        ] {
            assert!(skip_all(text).is_err(), "{text:?} should be refused");
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(text).is_err(),
                "{text:?}: serde_json accepts it"
            );
        }
    }

    #[test]
    fn skipping_nests_without_limit_and_keeps_track_past_a_word() {
        for depth in [63, 64, 65, 128, 129, 1000] {
            let text = format!("{}{}", r#"{"a":["#.repeat(depth), "]}".repeat(depth));
            assert!(skip_all(&text).is_ok(), "depth {depth}");
            let wrong = format!("{}{}", "[{\"a\":".repeat(depth), "}]".repeat(depth));
            assert!(skip_all(&wrong).is_err(), "depth {depth}: brackets crossed");
            let mixed = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
            assert!(skip_all(&mixed).is_ok(), "depth {depth}");
            let unclosed = format!("{}1{}", "[".repeat(depth), "]".repeat(depth - 1));
            assert!(skip_all(&unclosed).is_err(), "depth {depth}: one left open");
        }
    }

    #[test]
    fn strings_borrow_unless_escaped_and_decode_as_serde_json_does() {
        for text in [
            r#""""#,
            r#""a""#,
            r#""exactly8""#,
            r#""more than eight bytes long, with é and ☎ in it""#,
            r#""quote \" inside""#,
            r#""\u00e9\u260E\ud83d\ude00 tail after the escapes""#,
            r#""\\\\""#,
            r#""\/""#,
        ] {
            let mut scanner = Scanner::new(text);
            assert_eq!(scanner.peek(), Some(b'"'));
            let ours = scanner.string().unwrap();
            let theirs: String = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
            assert_eq!(
                matches!(ours, Cow::Borrowed(_)),
                !text.contains('\\'),
                "{text}"
            );
            scanner.finish().unwrap();
        }
        for text in [
            r#""\ud800""#,
            r#""\ud800\u0041""#,
            r#""\udc00""#,
            "\"tab\tinside\"",
            "\"line\nbreak that is longer than a word\"",
            r#""\q""#,
            r#""unterminated \""#,
        ] {
            let mut scanner = Scanner::new(text);
            scanner.peek();
            assert!(scanner.string().is_err(), "{text:?}");
            assert!(serde_json::from_str::<String>(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn the_special_byte_is_found_at_every_offset_of_a_word() {
        for special in [b'"', b'\\', 0x01, 0x1f] {
            for len in 0..24 {
                let mut bytes = vec![b'x'; len];
                // Bytes just above the control range and UTF-8 continuation bytes must not hit.
                bytes.extend_from_slice(&[0x20, 0x80, 0xff]);
                let at = bytes.len();
                bytes.push(special);
                bytes.extend_from_slice(b"\"tail");
                assert_eq!(special_byte(&bytes, 0), at, "{special:#x} after {len}");
            }
        }
        assert_eq!(special_byte(b"no special here at all", 0), 22);
    }

    #[test]
    fn numbers_follow_serde_json_model() {
        fn read(text: &str) -> Result<Number<'_>> {
            Scanner::new(text).number()
        }
        assert_eq!(read("42").unwrap(), Number::U64(42, "42"));
        assert_eq!(read("-42").unwrap(), Number::I64(-42, "-42"));
        assert_eq!(read("-0").unwrap(), Number::F64(-0.0));
        assert!(matches!(read("-0").unwrap(), Number::F64(v) if v.is_sign_negative()));
        assert_eq!(read("1.5").unwrap(), Number::F64(1.5));
        assert_eq!(read("17e9").unwrap(), Number::F64(17e9));
        assert_eq!(
            read("18446744073709551616").unwrap(),
            Number::F64(18446744073709551616.0)
        );
        assert_eq!(
            read("-9223372036854775808").unwrap(),
            Number::I64(i64::MIN, "-9223372036854775808")
        );
        assert_eq!(
            read("-9223372036854775809").unwrap(),
            Number::F64(-9223372036854775809.0)
        );
        assert!(read("1e400").is_err());
        for (text, value) in [
            ("42", serde_json::json!(42)),
            ("-0", serde_json::json!(-0.0)),
            (
                "18446744073709551616",
                serde_json::json!(18446744073709551616.0),
            ),
        ] {
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(text).unwrap(),
                value
            );
        }
        assert!(serde_json::from_str::<serde_json::Value>("1e400").is_err());
    }

    #[test]
    fn objects_and_arrays_hand_each_member_to_the_caller() {
        let mut scanner = Scanner::new(r#"{"a": 1, "skip": {"x": [1, 2]}, "b\u0073": [3, 4, 5]}"#);
        let mut seen = Vec::new();
        scanner
            .object(|s, key| {
                match key {
                    "a" => seen.push(format!("a={:?}", s.number()?)),
                    "bs" => {
                        let mut first = None;
                        s.array(|s| {
                            first = Some(s.number()?);
                            Ok(false)
                        })?;
                        seen.push(format!("bs first={first:?}"));
                    }
                    _ => s.skip()?,
                }
                Ok(())
            })
            .unwrap();
        scanner.finish().unwrap();
        assert_eq!(seen, ["a=U64(1, \"1\")", "bs first=Some(U64(3, \"3\"))"]);

        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let mut scanner = Scanner::new(&deep);
        fn nest(s: &mut Scanner<'_>) -> Result<()> {
            s.array(|s| nest(s).map(|()| true))
        }
        let refused = nest(&mut scanner).unwrap_err();
        assert_eq!(refused.what, "nested too deeply");
    }
}
