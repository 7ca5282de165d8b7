//! Keys that authenticate a backend: an application's server that starts logins for browsers and
//! redeems their token-flow secrets (server-side rendering; see [`StartRequest::backend`]).
//!
//! [`StartRequest::backend`]: crate::StartRequest::backend

use std::fmt;

use crate::crypto;

/// Shortest backend key accepted (characters).
pub const MIN_BACKEND_KEY_LEN: usize = 32;
/// Longest backend key accepted (characters); anything longer is not one.
pub const MAX_BACKEND_KEY_LEN: usize = 512;

/// A backend's key, kept only as the SHA-256 digest of its secret. `Debug` shows the name.
#[derive(Clone)]
pub struct BackendKey {
    name: String,
    digest: String,
}

/// A backend key that cannot be used; the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BackendKeyError(String);

impl BackendKey {
    /// A key from its secret, which is not kept.
    pub fn from_secret(name: impl Into<String>, secret: &str) -> Result<Self, BackendKeyError> {
        let length = secret.chars().count();
        if !(MIN_BACKEND_KEY_LEN..=MAX_BACKEND_KEY_LEN).contains(&length)
            || secret.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(BackendKeyError(format!(
                "a key is {MIN_BACKEND_KEY_LEN} to {MAX_BACKEND_KEY_LEN} visible characters (generate one with \
                 `openssl rand -hex 32`)"
            )));
        }
        Ok(Self { name: name.into(), digest: crypto::digest_secret(secret) })
    }

    /// A key from the SHA-256 digest of its secret (64 hex digits), as [`BackendKey::digest_of`]
    /// writes it: a configuration holding only digests holds no secret.
    pub fn from_digest(name: impl Into<String>, sha256_hex: &str) -> Result<Self, BackendKeyError> {
        if sha256_hex.len() != 64 || !sha256_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BackendKeyError("a key digest is the 64 hex digits of its SHA-256".into()));
        }
        Ok(Self { name: name.into(), digest: sha256_hex.to_ascii_lowercase() })
    }

    /// The SHA-256 digest of a secret, in hex: what [`BackendKey::from_digest`] reads.
    pub fn digest_of(secret: &str) -> String {
        crypto::digest_secret(secret)
    }

    /// A new random secret for a key (64 hex digits, 256 bits).
    pub fn generate_secret() -> String {
        crypto::random_secret()
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `presented` is this key's secret (compared by digest, in constant time).
    pub fn matches(&self, presented: &str) -> bool {
        presented.len() <= MAX_BACKEND_KEY_LEN
            && crypto::secrets_equal(&crypto::digest_secret(presented), &self.digest)
    }
}

impl fmt::Debug for BackendKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendKey").field("name", &self.name).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_matches_its_secret_only_and_keeps_no_secret() {
        let secret = "k".repeat(40);
        let key = BackendKey::from_secret("ssr", &secret).unwrap();
        assert!(key.matches(&secret));
        assert!(!key.matches(&"k".repeat(39)));
        assert!(!key.matches(""));
        let same = BackendKey::from_digest("ssr", &BackendKey::digest_of(&secret).to_uppercase()).unwrap();
        assert!(same.matches(&secret));
        assert!(!format!("{key:?}").contains(&secret));
        assert!(!format!("{key:?}").contains(&BackendKey::digest_of(&secret)));
    }

    #[test]
    fn short_or_blank_secrets_and_bad_digests_are_refused() {
        assert!(BackendKey::from_secret("a", "short").is_err());
        assert!(BackendKey::from_secret("a", &format!("{} ", "k".repeat(40))).is_err());
        assert!(BackendKey::from_digest("a", "abc").is_err());
        assert!(BackendKey::from_digest("a", &"g".repeat(64)).is_err());
        assert!(BackendKey::generate_secret().len() >= MIN_BACKEND_KEY_LEN);
    }
}
