//! The `/` row filter: plain text matches as a case-insensitive substring, `re:` makes it a regex,
//! and a leading `!` keeps the rows that do *not* match.

use regex::{Regex, RegexBuilder};

/// A parsed filter. The text the user typed is kept for display and editing.
#[derive(Debug, Clone)]
pub struct RowFilter {
    pub text: String,
    matcher: Matcher,
    invert: bool,
}

#[derive(Debug, Clone)]
enum Matcher {
    Everything,
    Substring(String),
    Regex(Regex),
}

impl Default for RowFilter {
    fn default() -> Self {
        RowFilter {
            text: String::new(),
            matcher: Matcher::Everything,
            invert: false,
        }
    }
}

impl RowFilter {
    /// Parses what the user typed. A bad regex is an error in words, shown under the input.
    pub fn parse(text: &str) -> Result<RowFilter, String> {
        let (invert, body) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let matcher = if let Some(pattern) = body.strip_prefix("re:") {
            let regex = RegexBuilder::new(pattern)
                .case_insensitive(!pattern.chars().any(char::is_uppercase))
                .size_limit(1 << 20)
                .build()
                .map_err(|err| format!("not a valid regex: {}", first_line(&err.to_string())))?;
            Matcher::Regex(regex)
        } else if body.is_empty() {
            Matcher::Everything
        } else {
            Matcher::Substring(body.to_lowercase())
        };
        let invert = invert && !matches!(matcher, Matcher::Everything);
        Ok(RowFilter {
            text: text.to_string(),
            matcher,
            invert,
        })
    }

    pub fn is_active(&self) -> bool {
        !matches!(self.matcher, Matcher::Everything)
    }

    /// Whether a row whose searchable fields are `fields` passes.
    pub fn matches(&self, fields: &[&str]) -> bool {
        self.matches_fields(fields.iter().copied())
    }

    /// [`RowFilter::matches`] over fields given one by one, so a caller filtering many rows
    /// need not collect each row's fields.
    pub fn matches_fields<'f>(&self, fields: impl IntoIterator<Item = &'f str>) -> bool {
        let mut fields = fields.into_iter();
        let hit = match &self.matcher {
            Matcher::Everything => return true,
            Matcher::Substring(needle) => fields.any(|field| contains_ignoring_case(field, needle)),
            Matcher::Regex(regex) => fields.any(|field| regex.is_match(field)),
        };
        hit != self.invert
    }
}

fn contains_ignoring_case(haystack: &str, lower_needle: &str) -> bool {
    if haystack.is_ascii() && lower_needle.is_ascii() {
        // The common case (numbers, ASCII names) without allocating: find the needle's first
        // byte in either case, then compare the rest. This runs for every field of every call
        // on each filter keystroke, so it avoids a slice comparison at every position.
        let hay = haystack.as_bytes();
        let Some((&first, rest)) = lower_needle.as_bytes().split_first() else {
            return true;
        };
        let Some(last_start) = hay.len().checked_sub(rest.len() + 1) else {
            return false;
        };
        let upper = first.to_ascii_uppercase();
        return hay[..=last_start].iter().enumerate().any(|(at, &byte)| {
            (byte == first || byte == upper)
                && hay[at + 1..at + 1 + rest.len()].eq_ignore_ascii_case(rest)
        });
    }
    haystack.to_lowercase().contains(lower_needle)
}

fn first_line(text: &str) -> &str {
    text.lines().last().unwrap_or(text).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_is_case_insensitive() {
        let filter = RowFilter::parse("zill").unwrap();
        assert!(filter.matches(&["+1415", "Zillow Spring"]));
        assert!(!filter.matches(&["Google Ads"]));
        assert!(RowFilter::parse("ÉCOLE").unwrap().matches(&["une école"]));
    }

    #[test]
    fn substring_matches_at_either_end_and_not_past_it() {
        assert!(contains_ignoring_case("+14155550100", "+1"));
        assert!(contains_ignoring_case("+14155550100", "0100"));
        assert!(contains_ignoring_case("Zillow", "zillow"));
        assert!(!contains_ignoring_case("Zillo", "zillow"));
        assert!(!contains_ignoring_case("", "z"));
        assert!(contains_ignoring_case("abc", ""));
        assert!(contains_ignoring_case("aaAB", "ab"));
    }

    #[test]
    fn bang_inverts() {
        let filter = RowFilter::parse("!zillow").unwrap();
        assert!(!filter.matches(&["Zillow Spring"]));
        assert!(filter.matches(&["Google Ads"]));
    }

    #[test]
    fn re_prefix_is_a_regex_smart_cased() {
        let filter = RowFilter::parse("re:^\\+1415").unwrap();
        assert!(filter.matches(&["+14155550100"]));
        assert!(!filter.matches(&["+12125550100"]));
        assert!(
            RowFilter::parse("re:sales")
                .unwrap()
                .matches(&["Sales Line"])
        );
        assert!(
            !RowFilter::parse("re:Sales")
                .unwrap()
                .matches(&["sales line"])
        );
        assert!(
            RowFilter::parse("!re:^\\+1415")
                .unwrap()
                .matches(&["+1212"])
        );
    }

    #[test]
    fn a_bad_regex_is_explained() {
        let err = RowFilter::parse("re:(").unwrap_err();
        assert!(err.starts_with("not a valid regex"), "{err}");
    }

    #[test]
    fn empty_and_lone_bang_match_everything() {
        assert!(!RowFilter::parse("").unwrap().is_active());
        assert!(RowFilter::parse("!").unwrap().matches(&["x"]));
    }
}
