//! Fixed word lists the simulated world draws from: people, queues, campaigns, caller id names,
//! and the hostile strings of `set_hostile(true)`. Every phone number the world makes is a
//! fictional `+1 NPA 555 01XX` number (the range set aside for fiction), so nothing it prints
//! can ring a real phone.

/// First and last names for agents and callers.
pub(crate) const FIRST_NAMES: &[&str] = &[
    "Ava", "Ben", "Carla", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Keiko",
    "Liam", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Victor",
    "Wen", "Ximena", "Yusuf", "Zoe", "Marta", "Kofi", "Lena", "Omar",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Alvarez", "Brooks", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
    "Jensen", "Kowalski", "Lopez", "Mensah", "Nakamura", "Okafor", "Petrov", "Quispe", "Rossi",
    "Singh", "Tanaka", "Umarov", "Varga", "Walsh", "Xu", "Yilmaz", "Zhang",
];

/// Queue names, in the order queues are created.
pub(crate) const QUEUE_NAMES: &[&str] = &[
    "Sales",
    "Support",
    "Billing",
    "Leasing",
    "Service Dept",
    "Renewals",
    "Spanish Line",
    "After Hours",
];

/// Caller id names as the carrier's CNAM lookup delivers them: mostly places, some people.
pub(crate) const CNAM_PLACES: &[&str] = &[
    "SAN FRANCISCO CA",
    "OAKLAND CA",
    "BROOKLYN NY",
    "CHICAGO IL",
    "SEATTLE WA",
    "AUSTIN TX",
    "DENVER CO",
    "BOSTON MA",
    "WIRELESS CALLER",
];

/// Area codes for the account's own numbers.
pub(crate) const ACCOUNT_AREA_CODES: &[u16] = &[415, 212, 312, 206, 617, 303, 512, 404];

/// Area codes of agents' direct lines once the account's own run out (over 400 agents).
const DIRECT_LINE_AREA_CODES: &[u16] = &[
    503, 541, 601, 614, 615, 616, 619, 704, 801, 804, 808, 810, 813, 814, 815, 816, 817, 907, 919,
    971,
];

/// Most agents [`direct_line`] numbers without a repeat.
pub(crate) const MAX_DIRECT_LINES: usize =
    ACCOUNT_AREA_CODES.len() * 50 + DIRECT_LINE_AREA_CODES.len() * 100;

/// The direct number of agent `a`: `555 0150`–`0199` in the account's area codes (the CTNs
/// use `0110`–`0149` there), then the whole `555 01XX` range in further area codes, so no two
/// agents, and no agent and a CTN, share a number (a shared number would attribute calls to
/// the wrong line). Agents past [`MAX_DIRECT_LINES`] wrap around.
pub(crate) fn direct_line(a: usize) -> String {
    let own = ACCOUNT_AREA_CODES.len();
    let a = a % MAX_DIRECT_LINES;
    if a < own * 50 {
        fictional_number(ACCOUNT_AREA_CODES[a % own], 50 + (a / own) as u8)
    } else {
        let b = a - own * 50;
        let more = DIRECT_LINE_AREA_CODES.len();
        fictional_number(DIRECT_LINE_AREA_CODES[b % more], (b / more) as u8)
    }
}

/// Area codes callers dial from (distinct from the account's, so a caller never looks like a CTN).
pub(crate) const CALLER_AREA_CODES: &[u16] = &[
    201, 202, 213, 305, 347, 408, 510, 602, 646, 650, 702, 713, 718, 720, 773, 818, 857, 917, 925,
    929,
];

/// How a campaign labels its numbers. `dn_slot` picks the DN: `Some(k)` builds the DN from
/// account area code `k`; `None` means the label carries no DN (all campaign).
pub(crate) struct CampaignSpec {
    pub name: &'static str,
    pub dn_slot: Option<usize>,
}

/// The campaigns of the CTN pool. "Google Ads Brand" appears twice with different DNs on
/// purpose: two campaigns may share a name and differ only by DN.
pub(crate) const CAMPAIGNS: &[CampaignSpec] = &[
    CampaignSpec {
        name: "Zillow Spring",
        dn_slot: Some(0),
    },
    CampaignSpec {
        name: "Google Ads Brand",
        dn_slot: Some(1),
    },
    CampaignSpec {
        name: "Google Ads Brand",
        dn_slot: Some(2),
    },
    CampaignSpec {
        name: "Yelp Listing",
        dn_slot: Some(3),
    },
    CampaignSpec {
        name: "Radio KQED Morning",
        dn_slot: Some(4),
    },
    CampaignSpec {
        name: "Trade Show Booth",
        dn_slot: None,
    },
    CampaignSpec {
        name: "Facebook Retargeting",
        dn_slot: Some(5),
    },
    CampaignSpec {
        name: "Referral Partners",
        dn_slot: None,
    },
];

/// Caller names that try to take over the terminal: erase screen, set the window title via
/// OSC 0, a single-byte CSI (U+009B), and a right-to-left override that reverses what follows.
pub(crate) const HOSTILE_NAMES: &[&str] = &[
    "\u{1b}[2JEve Erase",
    "\u{1b}]0;you have been pwned\u{7}Mallory Title",
    "Chuck \u{9b}31mRed\u{9b}0m",
    "Trudy \u{202E}exe.txt",
    "\u{1b}[1;1H\u{1b}[31mWANTED\u{1b}[0m",
];

/// Labels set once when hostile mode is switched on. They keep a DN so attribution still works;
/// the campaign text is what attacks the terminal.
pub(crate) const HOSTILE_LABEL_PREFIXES: &[&str] = &[
    "\u{1b}[2JErased Campaign",
    "\u{1b}]0;owned\u{7}Title Campaign",
    "Mirror \u{202E}ngiapmac",
];

/// Length of the one huge caller name hostile mode produces, in bytes.
pub(crate) const HUGE_NAME_BYTES: usize = 100 * 1024;

/// A fictional number: `+1 <area> 555 01<last_two>`.
pub(crate) fn fictional_number(area_code: u16, last_two: u8) -> String {
    format!("+1{area_code}55501{:02}", last_two % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fictional_numbers_are_e164_in_the_555_01xx_range() {
        assert_eq!(fictional_number(415, 0), "+14155550100");
        assert_eq!(fictional_number(212, 42), "+12125550142");
        assert_eq!(fictional_number(212, 142), "+12125550142");
    }

    #[test]
    fn account_and_caller_area_codes_never_overlap() {
        for code in ACCOUNT_AREA_CODES.iter().chain(DIRECT_LINE_AREA_CODES) {
            assert!(!CALLER_AREA_CODES.contains(code), "{code} is in both lists");
        }
        for code in DIRECT_LINE_AREA_CODES {
            assert!(
                !ACCOUNT_AREA_CODES.contains(code),
                "{code} is in both lists"
            );
            assert_ne!(*code, 800, "the main line's area code");
        }
    }

    #[test]
    fn direct_lines_are_unique_and_never_a_tracking_number() {
        let lines: std::collections::BTreeSet<String> =
            (0..MAX_DIRECT_LINES).map(direct_line).collect();
        assert_eq!(lines.len(), MAX_DIRECT_LINES);
        for area in ACCOUNT_AREA_CODES {
            for ctn_digits in 10..50 {
                assert!(!lines.contains(&fictional_number(*area, ctn_digits)));
            }
        }
        assert!(
            MAX_DIRECT_LINES >= QUEUE_NAMES.len() * crate::sim::world::MAX_AGENTS_PER_QUEUE,
            "the largest account has a line per agent"
        );
        // The first 400 keep the numbers small accounts always had.
        assert_eq!(direct_line(0), "+14155550150");
        assert_eq!(direct_line(9), "+12125550151");
    }

    #[test]
    fn two_campaigns_share_a_name_with_different_dns() {
        let google: Vec<_> = CAMPAIGNS
            .iter()
            .filter(|c| c.name == "Google Ads Brand")
            .collect();
        assert_eq!(google.len(), 2);
        assert_ne!(google[0].dn_slot, google[1].dn_slot);
        assert!(CAMPAIGNS.iter().any(|c| c.dn_slot.is_none()));
    }
}
