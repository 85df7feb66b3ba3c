//! Who is signed in: the token owner's extension and the account it belongs to, read once
//! from `GET /restapi/v1.0/account/~/extension/~` (Light group). The status line names the
//! account; the relabel audit names the person.

use serde::Deserialize;

use crate::rc::events::lenient;
use crate::rc::{RcError, RestClient};

/// The signed-in user, sanitised for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInUser {
    /// The numeric account id, when the platform gave it.
    pub account_id: Option<String>,
    pub extension_id: String,
    pub name: Option<String>,
    pub extension_number: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnerRecord {
    #[serde(deserialize_with = "lenient::string")]
    id: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    extension_number: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    account: Option<AccountRef>,
    #[serde(default)]
    uri: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AccountRef {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    id: Option<String>,
}

impl SignedInUser {
    /// Reads the token owner's extension record.
    pub async fn read(rest: &RestClient) -> Result<SignedInUser, RcError> {
        let record: OwnerRecord = rest
            .get_json(
                "read the signed-in user",
                "/restapi/v1.0/account/~/extension/~",
                &[],
            )
            .await?;
        Ok(SignedInUser::from_record(record))
    }

    fn from_record(record: OwnerRecord) -> SignedInUser {
        let clean = |s: String| {
            let text = crate::text::sanitize(&s).trim().to_owned();
            (!text.is_empty()).then_some(text)
        };
        // `account.id` is the documented field; the record's own uri
        // (`…/account/{accountId}/extension/{id}`) says the same where it is missing.
        let account_id = record
            .account
            .and_then(|a| a.id)
            .or_else(|| record.uri.as_deref().and_then(account_id_in_uri))
            .and_then(clean);
        SignedInUser {
            account_id,
            extension_id: crate::text::sanitize(&record.id).into_owned(),
            name: record.name.and_then(clean),
            extension_number: record.extension_number.and_then(clean),
        }
    }

    /// "Jane Smith (ext 101)", "ext 101", or "extension 63012345" — how the person is named.
    pub fn describe(&self) -> String {
        match (&self.name, &self.extension_number) {
            (Some(name), Some(number)) => format!("{name} (ext {number})"),
            (Some(name), None) => name.clone(),
            (None, Some(number)) => format!("ext {number}"),
            (None, None) => format!("extension {}", self.extension_id),
        }
    }

    /// The status line's words for the account: "acct 37439510", else the person.
    pub fn account_label(&self) -> String {
        match &self.account_id {
            Some(id) => format!("acct {id}"),
            None => self.describe(),
        }
    }
}

fn account_id_in_uri(uri: &str) -> Option<String> {
    let rest = &uri[uri.find("/account/")? + "/account/".len()..];
    let id = rest.split('/').next()?;
    (!id.is_empty() && id != "~").then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(json: &str) -> SignedInUser {
        SignedInUser::from_record(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn the_account_comes_from_the_record_or_its_uri() {
        let from_field = user(
            r#"{"id":63012345,"extensionNumber":"101","name":"Jane Smith",
                "account":{"id":"37439510","uri":"https://x/restapi/v1.0/account/37439510"}}"#,
        );
        assert_eq!(from_field.account_label(), "acct 37439510");
        assert_eq!(from_field.describe(), "Jane Smith (ext 101)");

        let from_uri = user(
            r#"{"id":"1","uri":"https://x/restapi/v1.0/account/998/extension/1","extensionNumber":101}"#,
        );
        assert_eq!(from_uri.account_id.as_deref(), Some("998"));
        assert_eq!(from_uri.describe(), "ext 101");

        let bare =
            user(r#"{"id":"63012345","uri":"https://x/restapi/v1.0/account/~/extension/1"}"#);
        assert_eq!(bare.account_id, None);
        assert_eq!(bare.account_label(), "extension 63012345");
    }

    #[test]
    fn names_from_the_network_are_inert() {
        let hostile = user(r#"{"id":"1","name":"Eve\u001b[2J\u202e","account":{"id":"7\u0007"}}"#);
        let label = format!("{} {}", hostile.account_label(), hostile.describe());
        assert!(
            !label.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{label:?}"
        );
    }
}
