//! The label grammar: how a phone number's free-text `label` names a campaign and a DN.
//!
//! Default (DESIGN.md "Label grammar"): the last E.164 number in the label is the DN; the rest,
//! trimmed, is the campaign (`Zillow Spring +14155550100` → `Zillow Spring`, `+14155550100`).
//! A label with no E.164 number is all campaign. A config may replace the grammar with a regex
//! holding the named groups `campaign` and (optionally) `dn`, plus a template with `{campaign}`
//! and `{dn}` that writes labels back. [`LabelGrammar::format`] refuses any label that would not
//! read back as what was asked for, so what callboard writes, callboard reads back.

use regex::Regex;

/// A DN: `+`, a non-zero digit, then 6 to 14 more digits (the simulator's truth reads labels
/// with the same pattern, so the two agree on every label).
const E164: &str = r"\+[1-9][0-9]{6,14}";

/// The campaign and DN a label names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParsedLabel {
    pub campaign: String,
    pub dn: Option<String>,
}

/// Why a grammar or a label was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("label grammar regex is invalid: {0}")]
    BadRegex(String),
    #[error("label grammar regex needs a named group `campaign`, e.g. (?P<campaign>.*)")]
    MissingCampaignGroup,
    #[error("label template needs `{{campaign}}`")]
    MissingCampaignPlaceholder,
    #[error("a DN must be an E.164 number such as +14155550100, not {0:?}")]
    BadDn(String),
    #[error("labels cannot contain control or bidi-override characters")]
    UnsafeCharacter,
    #[error("a label needs a campaign name")]
    Empty,
    #[error(
        "label {label:?} would read back as campaign {campaign:?}, DN {dn:?}; change the campaign name"
    )]
    NotRoundTrip {
        label: String,
        campaign: String,
        dn: Option<String>,
    },
}

/// A label grammar: the default, or a regex with a template.
#[derive(Debug, Clone)]
pub struct LabelGrammar {
    kind: GrammarKind,
    e164: Regex,
}

#[derive(Debug, Clone)]
enum GrammarKind {
    Default,
    Custom { pattern: Regex, template: String },
}

impl Default for LabelGrammar {
    fn default() -> Self {
        LabelGrammar {
            kind: GrammarKind::Default,
            e164: e164_regex(),
        }
    }
}

fn e164_regex() -> Regex {
    // A constant pattern; the unit tests compile it, so this cannot fail at run time.
    Regex::new(E164).unwrap_or_else(|_| unreachable!("the E.164 pattern is a tested constant"))
}

impl LabelGrammar {
    /// A config-supplied grammar: `pattern` must have a named group `campaign` and may have
    /// `dn`; `template` writes a label from `{campaign}` and `{dn}`.
    pub fn custom(pattern: &str, template: &str) -> Result<LabelGrammar, LabelError> {
        let regex = Regex::new(pattern).map_err(|e| LabelError::BadRegex(e.to_string()))?;
        if !regex.capture_names().flatten().any(|n| n == "campaign") {
            return Err(LabelError::MissingCampaignGroup);
        }
        if !template.contains("{campaign}") {
            return Err(LabelError::MissingCampaignPlaceholder);
        }
        Ok(LabelGrammar {
            kind: GrammarKind::Custom {
                pattern: regex,
                template: template.to_owned(),
            },
            e164: e164_regex(),
        })
    }

    /// Reads a label. `None` or a blank label means "no label" (the `(unlabelled)` row).
    pub fn parse(&self, label: Option<&str>) -> Option<ParsedLabel> {
        let label = label?.trim();
        if label.is_empty() {
            return None;
        }
        Some(match &self.kind {
            GrammarKind::Default => match self.e164.find_iter(label).last() {
                None => ParsedLabel {
                    campaign: label.to_owned(),
                    dn: None,
                },
                Some(m) => {
                    let before = label[..m.start()].trim();
                    let after = label[m.end()..].trim();
                    let campaign = match (before.is_empty(), after.is_empty()) {
                        // A label that is only a DN names its campaign by the DN.
                        (true, true) => m.as_str().to_owned(),
                        (false, true) => before.to_owned(),
                        (true, false) => after.to_owned(),
                        (false, false) => format!("{before} {after}"),
                    };
                    ParsedLabel {
                        campaign,
                        dn: Some(m.as_str().to_owned()),
                    }
                }
            },
            GrammarKind::Custom { pattern, .. } => match pattern.captures(label) {
                None => ParsedLabel {
                    campaign: label.to_owned(),
                    dn: None,
                },
                Some(caps) => ParsedLabel {
                    campaign: caps
                        .name("campaign")
                        .map(|m| m.as_str().trim().to_owned())
                        .unwrap_or_default(),
                    dn: caps
                        .name("dn")
                        .map(|m| m.as_str().trim().to_owned())
                        .filter(|d| !d.is_empty()),
                },
            },
        })
    }

    /// Writes the label for `campaign` and `dn`, checked to read back as exactly that pair.
    pub fn format(&self, campaign: &str, dn: Option<&str>) -> Result<String, LabelError> {
        let campaign = campaign.trim();
        let dn = dn.map(str::trim).filter(|d| !d.is_empty());
        if campaign.chars().any(crate::text::is_unsafe_char)
            || dn.is_some_and(|d| d.chars().any(crate::text::is_unsafe_char))
        {
            return Err(LabelError::UnsafeCharacter);
        }
        if let Some(dn) = dn {
            let whole = self.e164.find(dn).is_some_and(|m| m.as_str() == dn);
            if !whole {
                return Err(LabelError::BadDn(dn.to_owned()));
            }
        }
        if campaign.is_empty() {
            return Err(LabelError::Empty);
        }
        let label = match &self.kind {
            GrammarKind::Default => match dn {
                Some(dn) if campaign == dn => dn.to_owned(),
                Some(dn) => format!("{campaign} {dn}"),
                None => campaign.to_owned(),
            },
            GrammarKind::Custom { template, .. } => template
                .replace("{campaign}", campaign)
                .replace("{dn}", dn.unwrap_or(""))
                .trim()
                .to_owned(),
        };
        if label.is_empty() {
            return Err(LabelError::Empty);
        }
        let read_back = self.parse(Some(&label));
        let expected = ParsedLabel {
            campaign: campaign.to_owned(),
            dn: dn.map(str::to_owned),
        };
        match read_back {
            Some(parsed) if parsed == expected => Ok(label),
            Some(parsed) => Err(LabelError::NotRoundTrip {
                label,
                campaign: parsed.campaign,
                dn: parsed.dn,
            }),
            None => Err(LabelError::Empty),
        }
    }
}

/// Writes a label in the default grammar (see [`LabelGrammar::format`]).
pub fn format_label(campaign: &str, dn: Option<&str>) -> Result<String, LabelError> {
    LabelGrammar::default().format(campaign, dn)
}

/// Reads a label in the default grammar (see [`LabelGrammar::parse`]).
pub fn parse_label(label: Option<&str>) -> Option<ParsedLabel> {
    LabelGrammar::default().parse(label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pair(campaign: &str, dn: Option<&str>) -> Option<ParsedLabel> {
        Some(ParsedLabel {
            campaign: campaign.to_owned(),
            dn: dn.map(str::to_owned),
        })
    }

    #[test]
    fn default_grammar_reads_the_documented_cases() {
        let cases: &[(Option<&str>, Option<ParsedLabel>)] = &[
            (
                Some("Zillow Spring +14155550100"),
                pair("Zillow Spring", Some("+14155550100")),
            ),
            (Some("Zillow Spring"), pair("Zillow Spring", None)),
            (Some("  Zillow   "), pair("Zillow", None)),
            (None, None),
            (Some("   "), None),
            (
                Some("+14155550100"),
                pair("+14155550100", Some("+14155550100")),
            ),
            // The last number is the DN; an earlier one stays in the campaign.
            (
                Some("Spring +14155550100 Yelp +14155550199"),
                pair("Spring +14155550100 Yelp", Some("+14155550199")),
            ),
            // Text after the DN joins the campaign.
            (
                Some("Zillow +14155550100 Spring"),
                pair("Zillow Spring", Some("+14155550100")),
            ),
            // Too short to be a DN; a number without + is not a DN.
            (Some("Ext +12345"), pair("Ext +12345", None)),
            (Some("Line 14155550100"), pair("Line 14155550100", None)),
        ];
        let grammar = LabelGrammar::default();
        for (label, expected) in cases {
            assert_eq!(&grammar.parse(*label), expected, "label {label:?}");
        }
    }

    #[test]
    fn format_round_trips_and_refuses_ambiguity() {
        assert_eq!(
            format_label("Zillow Spring", Some("+14155550100")).unwrap(),
            "Zillow Spring +14155550100"
        );
        assert_eq!(format_label("  Yelp ", None).unwrap(), "Yelp");
        assert_eq!(
            format_label("+14155550100", Some("+14155550100")).unwrap(),
            "+14155550100"
        );
        assert_eq!(
            format_label("", Some("+14155550100")),
            Err(LabelError::Empty)
        );
        assert_eq!(format_label("  ", None), Err(LabelError::Empty));
        assert_eq!(
            format_label("Yelp", Some("4155550100")),
            Err(LabelError::BadDn("4155550100".into()))
        );
        assert_eq!(
            format_label("Yelp\u{1b}[2J", None),
            Err(LabelError::UnsafeCharacter)
        );
        // A campaign ending in a number would read back with that number as its DN.
        assert!(matches!(
            format_label("Call +14155550100", None),
            Err(LabelError::NotRoundTrip { .. })
        ));
    }

    #[test]
    fn custom_grammar_reads_and_writes() {
        let grammar = LabelGrammar::custom(
            r"^(?P<campaign>[^|]*)\|\s*(?P<dn>\+\d+)$",
            "{campaign} | {dn}",
        )
        .unwrap();
        assert_eq!(
            grammar.parse(Some("Zillow | +14155550100")),
            pair("Zillow", Some("+14155550100"))
        );
        assert_eq!(grammar.parse(Some("No pipe")), pair("No pipe", None));
        let label = grammar.format("Zillow", Some("+14155550100")).unwrap();
        assert_eq!(label, "Zillow | +14155550100");
        assert!(matches!(
            LabelGrammar::custom(r"(?P<dn>\+\d+)", "{dn}"),
            Err(LabelError::MissingCampaignGroup)
        ));
        assert!(matches!(
            LabelGrammar::custom(r"(", "{campaign}"),
            Err(LabelError::BadRegex(_))
        ));
    }

    proptest! {
        #[test]
        fn whatever_format_accepts_parse_reads_back(
            campaign in "[ A-Za-z0-9+#&'.-]{0,30}",
            dn in proptest::option::of("\\+[1-9][0-9]{6,13}"),
        ) {
            let grammar = LabelGrammar::default();
            if let Ok(label) = grammar.format(&campaign, dn.as_deref()) {
                let parsed = grammar.parse(Some(&label)).unwrap();
                prop_assert_eq!(parsed.campaign, campaign.trim());
                prop_assert_eq!(parsed.dn, dn);
            }
        }

        #[test]
        fn parse_never_panics(label in "\\PC{0,60}") {
            let _ = LabelGrammar::default().parse(Some(&label));
        }
    }
}
