//! The normalised user profile every provider produces.

use serde::Serialize;

/// How far the provider vouches for the email address it returned.
///
/// Account linking by email is only safe on `Verified`; loginkit never upgrades a guess to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EmailTrust {
    /// The provider states the address was verified.
    Verified,
    /// The provider states the address was not verified.
    Unverified,
    /// The provider does not say.
    Unknown,
}

impl EmailTrust {
    /// Whether the email may be used to link accounts.
    pub const fn is_verified(self) -> bool {
        matches!(self, EmailTrust::Verified)
    }
}

/// A user as the provider describes them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UserProfile {
    /// The provider's stable user id (`providerUid`).
    pub id: String,
    /// The id the provider knew this account by before, when it changed which field identifies
    /// an account (Spotify: `id`, now `account_id`) and both are known: an identity stored under
    /// it is this account's, and moves to `id` at its next login.
    pub previous_id: Option<String>,
    /// Email address, if the provider returned one.
    pub email: Option<String>,
    /// Trust level of `email`.
    pub email_trust: EmailTrust,
    /// Display name.
    pub name: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// The provider's answer as received (for fields loginkit does not map).
    pub raw: serde_json::Value,
}

impl UserProfile {
    /// A profile with only an id; the other fields are filled with the `with_*` methods.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            previous_id: None,
            email: None,
            email_trust: EmailTrust::Unknown,
            name: None,
            avatar_url: None,
            raw: serde_json::Value::Null,
        }
    }

    /// Sets the email and its trust level.
    pub fn with_email(mut self, email: Option<String>, trust: EmailTrust) -> Self {
        self.email = email;
        self.email_trust = trust;
        self
    }

    /// Sets the display name.
    pub fn with_name(mut self, name: Option<String>) -> Self {
        self.name = name;
        self
    }

    /// Sets the avatar URL.
    pub fn with_avatar_url(mut self, url: Option<String>) -> Self {
        self.avatar_url = url;
        self
    }

    /// Sets the raw provider answer.
    pub fn with_raw(mut self, raw: serde_json::Value) -> Self {
        self.raw = raw;
        self
    }

    /// Sets the id the provider knew the account by before (ignored when it equals the id).
    pub fn with_previous_id(mut self, previous: Option<String>) -> Self {
        self.previous_id = previous.filter(|previous| *previous != self.id);
        self
    }
}

/// Picks the address to use from a provider's list of the user's emails: the primary address
/// when it is verified, else the first verified one, else the primary one marked unverified.
/// An address the provider has not verified is never reported as verified.
///
/// `list` is a JSON array of objects; `address`, `verified` and `primary` name their fields
/// (GitHub: `email`, `verified`, `primary`; Bitbucket: `email`, `is_confirmed`, `is_primary`).
pub fn choose_email(
    list: &serde_json::Value,
    address: &str,
    verified: &str,
    primary: &str,
) -> (Option<String>, EmailTrust) {
    let flag = |entry: &serde_json::Value, key: &str| {
        entry.get(key).and_then(serde_json::Value::as_bool) == Some(true)
    };
    let entries: Vec<(&str, bool, bool)> = list
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|entry| {
                    let text = entry.get(address)?.as_str().map(str::trim).filter(|a| !a.is_empty())?;
                    Some((text, flag(entry, verified), flag(entry, primary)))
                })
                .collect()
        })
        .unwrap_or_default();
    let pick = entries
        .iter()
        .find(|(_, verified, primary)| *verified && *primary)
        .or_else(|| entries.iter().find(|(_, verified, _)| *verified))
        .or_else(|| entries.iter().find(|(_, _, primary)| *primary));
    match pick {
        Some((text, true, _)) => (Some((*text).to_owned()), EmailTrust::Verified),
        Some((text, false, _)) => (Some((*text).to_owned()), EmailTrust::Unverified),
        None => (None, EmailTrust::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn github(list: serde_json::Value) -> (Option<String>, EmailTrust) {
        choose_email(&list, "email", "verified", "primary")
    }

    #[test]
    fn prefers_the_verified_primary_then_any_verified() {
        let list = json!([
            {"email": "old@example.com", "verified": true, "primary": false},
            {"email": "main@example.com", "verified": true, "primary": true},
        ]);
        assert_eq!(github(list), (Some("main@example.com".into()), EmailTrust::Verified));
        let list = json!([
            {"email": "main@example.com", "verified": false, "primary": true},
            {"email": "work@example.com", "verified": true, "primary": false},
        ]);
        assert_eq!(github(list), (Some("work@example.com".into()), EmailTrust::Verified));
    }

    #[test]
    fn an_unverified_address_is_never_verified() {
        let list = json!([{"email": "main@example.com", "verified": "true", "primary": true}]);
        assert_eq!(github(list), (Some("main@example.com".into()), EmailTrust::Unverified));
        assert_eq!(github(json!([])), (None, EmailTrust::Unknown));
        assert_eq!(github(json!({"message": "Bad credentials"})), (None, EmailTrust::Unknown));
        assert_eq!(github(json!([{"email": "", "verified": true}])), (None, EmailTrust::Unknown));
    }
}
