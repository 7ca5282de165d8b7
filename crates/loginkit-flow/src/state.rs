//! The login `state`: everything the callback needs, sealed with the server's state key.
//!
//! Unlike Appwrite's plain-JSON state, it cannot be read or altered by the browser, expires after
//! ten minutes, names the project and provider it was issued for, is bound to the browser that
//! started the login by a cookie, and is recorded as used at the callback.

use serde::{Deserialize, Serialize};

use crate::crypto::{Keys, Purpose};
use crate::model::Timestamp;

/// How long a login may take from start to callback.
pub const STATE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(600);

/// Prefix of the browser-binding cookie's name; the rest is the first characters of the state id,
/// so logins in parallel tabs do not overwrite each other's cookie.
pub const BINDING_COOKIE_PREFIX: &str = "loginkit_state_";

/// Longest sealed state accepted at the callback; `start` refuses to issue a longer one.
pub(crate) const MAX_SEALED_LEN: usize = 4096;

/// The contents of a sealed `state`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LoginState {
    /// Random id: the single-use key and the binding cookie's name suffix.
    pub id: String,
    pub project: String,
    pub provider: String,
    pub success: String,
    pub failure: String,
    pub token: bool,
    pub redirect_uri: String,
    /// The binding cookie's value.
    pub binding: String,
    pub pkce_verifier: Option<String>,
    pub nonce: Option<String>,
    /// Milliseconds since the epoch.
    pub expires: i64,
    /// The backend that started the login for a browser (no binding cookie then).
    #[serde(default)]
    pub backend: Option<String>,
}

impl std::fmt::Debug for LoginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginState")
            .field("project", &self.project)
            .field("provider", &self.provider)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl LoginState {
    pub fn seal(&self, keys: &Keys) -> String {
        let json = serde_json::to_vec(self).expect("state serialises");
        keys.seal(Purpose::State, b"", &json)
    }

    /// Opens a sealed state; `None` for anything not sealed by these keys as a state.
    pub fn open(keys: &Keys, sealed: &str) -> Option<Self> {
        if sealed.len() > MAX_SEALED_LEN {
            return None;
        }
        let json = keys.open(Purpose::State, b"", sealed)?;
        serde_json::from_slice(&json).ok()
    }

    pub fn cookie_name(&self) -> String {
        cookie_name(&self.id)
    }

    pub fn expired(&self, now: Timestamp) -> bool {
        now.millis() > self.expires
    }
}

pub(crate) fn cookie_name(state_id: &str) -> String {
    let suffix: String = state_id.chars().take(16).collect();
    format!("{BINDING_COOKIE_PREFIX}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn state() -> LoginState {
        LoginState {
            id: "0123456789abcdef0123".into(),
            project: "default".into(),
            provider: "mock".into(),
            success: "http://localhost/ok".into(),
            failure: "http://localhost/fail".into(),
            token: false,
            redirect_uri: "http://127.0.0.1:8080/cb".into(),
            binding: "b".into(),
            pkce_verifier: Some("v".into()),
            nonce: None,
            expires: 1,
            backend: None,
        }
    }

    fn keys() -> Keys {
        Keys::from_encoded(&Keys::generate_master()).unwrap()
    }

    #[test]
    fn round_trip_and_debug_hides_secrets() {
        let keys = keys();
        let sealed = state().seal(&keys);
        assert!(LoginState::open(&keys, &sealed) == Some(state()));
        assert!(!format!("{:?}", state()).contains("pkce"));
        assert_eq!(state().cookie_name(), "loginkit_state_0123456789abcdef");
    }

    proptest! {
        #[test]
        fn any_single_byte_change_is_refused(index in 0usize..10_000, replacement in any::<char>()) {
            let keys = keys();
            let sealed = state().seal(&keys);
            let index = index % sealed.len();
            let mut chars: Vec<char> = sealed.chars().collect();
            prop_assume!(chars[index] != replacement);
            chars[index] = replacement;
            let tampered: String = chars.into_iter().collect();
            prop_assert!(LoginState::open(&keys, &tampered).is_none());
        }

        #[test]
        fn truncations_are_refused(cut in 1usize..400) {
            let keys = keys();
            let sealed = state().seal(&keys);
            let cut = cut.min(sealed.len());
            prop_assert!(LoginState::open(&keys, &sealed[..sealed.len() - cut]).is_none());
        }
    }
}
