//! What a store keeps: users, identities, sessions and one-time tokens.
//!
//! Provider tokens are held as [`Sealed`] text: the flow encrypts them before a store sees them,
//! so every store keeps them encrypted at rest. Session and token secrets are held only as
//! SHA-256 digests.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;
use time::macros::format_description;

/// A point in time with millisecond precision, stored as milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Now.
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// From milliseconds since the epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// This time plus `duration` (saturating).
    pub fn plus(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)))
    }

    /// Appwrite's datetime format: `2026-11-22T10:00:00.000+00:00`.
    pub fn to_appwrite(self) -> String {
        let format =
            format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+00:00");
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_default()
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        let millis = match time.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Self(millis)
    }
}

/// Encrypted text (a provider token sealed with the server's data key). `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Sealed(pub String);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealed(..)")
    }
}

/// Provider tokens as stored with an identity or a session.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StoredTokens {
    /// The access token, sealed.
    pub access_token: Sealed,
    /// The refresh token, sealed; `None` when the provider issued none.
    pub refresh_token: Option<Sealed>,
    /// When the access token expires, when the provider said.
    pub access_token_expiry: Option<Timestamp>,
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    /// Id.
    pub id: String,
    /// Email address, if known. Only a verified address is unique among users: an unverified
    /// one may be claimed by several, and names no one.
    pub email: Option<String>,
    /// Whether a provider vouched for the email.
    #[serde(deserialize_with = "flag")]
    pub email_verified: bool,
    /// Display name ("" when unknown).
    #[serde(default, deserialize_with = "text_or_null")]
    pub name: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A new user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Id chosen by the flow.
    pub id: String,
    /// Email address, if the provider gave one.
    pub email: Option<String>,
    /// Whether the provider vouched for it.
    pub email_verified: bool,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A user's account at a provider.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Identity {
    /// Id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Provider id (`github`, `mock`, ...).
    pub provider: String,
    /// The provider's user id.
    pub provider_uid: String,
    /// The email the provider reported ("" when none).
    pub provider_email: String,
    /// The `sub` of the last verified ID token of this account, for providers whose ID tokens
    /// loginkit verifies: a refreshed ID token must name the same subject.
    pub subject: Option<String>,
    /// The latest provider tokens.
    #[serde(flatten)]
    pub tokens: StoredTokens,
    /// The claims of the account's last verified ID token, as JSON (for providers whose ID
    /// tokens loginkit verifies); [`Identity::claims`] parses them.
    #[serde(default, rename = "claims")]
    pub claims_json: Option<String>,
    /// The avatar the provider's profile named, if any.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// The account's last ID token, sealed (for providers that send one);
    /// [`Flow::identity_id_token`](crate::Flow::identity_id_token) opens it.
    #[serde(default)]
    pub id_token: Option<Sealed>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl Identity {
    /// The claims of the account's last verified ID token (`sub`, `email`, `name`, `picture`,
    /// the provider's own), when there was one.
    pub fn claims(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        serde_json::from_str(self.claims_json.as_deref()?).ok()
    }
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Session {
    /// Id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// SHA-256 of the session secret.
    pub secret_digest: String,
    /// Provider the session was created with.
    pub provider: String,
    /// The provider's user id.
    pub provider_uid: String,
    /// The provider tokens carried by the session.
    #[serde(flatten)]
    pub tokens: StoredTokens,
    /// When the session ends.
    pub expire: Timestamp,
    /// Client IP at creation ("" when unknown).
    pub ip: String,
    /// Client `User-Agent` at creation ("" when unknown).
    pub user_agent: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// For a session made from a token-flow secret: the digest of the link cookie given to the
    /// browser that finished that login. The session is a target for linking another provider
    /// only in a browser holding that cookie. `None` for sessions made by a browser's own
    /// callback.
    pub link_binding: Option<String>,
    /// The slot the session takes among its user's sessions (`0..limit` with a session limit):
    /// two sessions never share one, which is how the limit holds under concurrent logins.
    pub slot: i64,
}

/// A one-time secret of the token flow, exchanged for a session.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OneTimeToken {
    /// Id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// SHA-256 of the secret.
    pub secret_digest: String,
    /// Provider of the login that produced it.
    pub provider: String,
    /// Until when it may be exchanged.
    pub expire: Timestamp,
    /// Creation time.
    pub created_at: Timestamp,
    /// Digest of the link cookie given to the browser that finished the login; the session the
    /// secret makes inherits it (see [`Session::link_binding`]).
    pub link_binding: Option<String>,
    /// The backend that started the login for a browser (see [`StartRequest::backend`]): only it
    /// may redeem the secret. `None`: whoever holds the secret.
    ///
    /// [`StartRequest::backend`]: crate::StartRequest::backend
    #[serde(default)]
    pub redeemer: Option<String>,
}

/// A boolean as either database gives it in JSON: `true`/`false`, or SQLite's 1/0.
fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Int(i64),
    }
    Ok(match Flag::deserialize(deserializer)? {
        Flag::Bool(b) => b,
        Flag::Int(i) => i != 0,
    })
}

/// Text that an application's table may leave NULL, read as "".
fn text_or_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appwrite_datetime_format() {
        assert_eq!(Timestamp::from_millis(1_700_000_000_123).to_appwrite(), "2023-11-14T22:13:20.123+00:00");
        assert_eq!(Timestamp::from_millis(0).plus(Duration::from_secs(60)).millis(), 60_000);
        assert_eq!(format!("{:?}", Sealed("secret".into())), "Sealed(..)");
    }
}

/// A provider token to revoke (after a sign-out or an unlink), queued until the provider
/// confirms it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Revocation {
    /// Id.
    pub id: String,
    /// Provider id.
    pub provider: String,
    /// The token, sealed for this row.
    pub token: Sealed,
    /// `access_token` or `refresh_token` (RFC 7009's `token_type_hint`).
    pub hint: String,
    /// Attempts made so far.
    #[serde(deserialize_with = "count")]
    pub attempts: u32,
    /// When to try next.
    pub next_at: Timestamp,
    /// When it was queued.
    pub created_at: Timestamp,
}

fn count<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let value = i64::deserialize(deserializer)?;
    u32::try_from(value.max(0)).map_err(serde::de::Error::custom)
}
