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
}
