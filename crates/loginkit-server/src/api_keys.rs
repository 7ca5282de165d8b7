//! API keys: how an app's own server (server-side rendering) authenticates, as `X-Appwrite-Key`.
//!
//! A key holder may start logins for browsers (each bound to the key instead of to a browser
//! cookie), redeem those logins' secrets, which no one else can, into sessions whose `secret` it
//! is given, and read users, as its scopes allow. Keys are kept as SHA-256 digests and compared
//! in constant time; a request with a key that is not the project's is refused, never served as
//! a guest, and neither the key nor its digest is ever logged.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use loginkit_flow::BackendKey;

use crate::config::{ApiKeySettings, ConfigError};
use crate::errors::{ApiError, ErrorType};

/// The header carrying the key.
pub const KEY_HEADER: &str = "x-appwrite-key";

/// What a key may do, in Appwrite's scope names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `sessions.write`: start logins for browsers and create sessions from their secrets.
    SessionsWrite,
    /// `users.read`: read users (`GET /v1/users/{userId}`).
    UsersRead,
}

impl Scope {
    const ALL: [Scope; 2] = [Scope::SessionsWrite, Scope::UsersRead];

    /// Appwrite's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::SessionsWrite => "sessions.write",
            Scope::UsersRead => "users.read",
        }
    }
}

/// A project's key.
#[derive(Debug, Clone)]
pub struct ApiKey {
    key: BackendKey,
    scopes: Vec<Scope>,
}

impl ApiKey {
    /// The key's name (from the configuration): what logins it starts are bound to.
    pub fn name(&self) -> &str {
        self.key.name()
    }
}

/// A project's keys.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys(Vec<ApiKey>);

impl ApiKeys {
    /// The keys of project `project` as configured, secrets read through `env`.
    pub fn from_config(
        project: &str,
        keys: &BTreeMap<String, ApiKeySettings>,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut out = Vec::new();
        for (name, settings) in keys {
            let error =
                |message: String| ConfigError(format!("projects.{project}.api_keys.{name}: {message}"));
            if name.is_empty()
                || name.len() > 36
                || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(error("a key name is 1-36 letters, digits, - or _".into()));
            }
            let key = match (&settings.secret_env, &settings.sha256) {
                (Some(var), None) => match env(var) {
                    Some(secret) => BackendKey::from_secret(name.clone(), &secret)
                        .map_err(|e| error(format!("secret_env `{var}`: {e}")))?,
                    None => return Err(error(format!("secret_env names `{var}`, which is not set"))),
                },
                (None, Some(digest)) => BackendKey::from_digest(name.clone(), digest)
                    .map_err(|e| error(format!("sha256: {e}")))?,
                _ => return Err(error("set secret_env or sha256 (one of them)".into())),
            };
            let mut scopes = Vec::new();
            for scope in &settings.scopes {
                let known = Scope::ALL.into_iter().find(|s| s.as_str() == scope).ok_or_else(|| {
                    error(format!(
                        "scopes: `{scope}` is not one of {}",
                        Scope::ALL.map(Scope::as_str).join(", ")
                    ))
                })?;
                scopes.push(known);
            }
            if scopes.is_empty() {
                return Err(error(format!(
                    "scopes: name what it may do ({})",
                    Scope::ALL.map(Scope::as_str).join(", ")
                )));
            }
            out.push(ApiKey { key, scopes });
        }
        Ok(Self(out))
    }

    /// Whether the project has keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key a request authenticates with, if it sends one, allowed `scope`.
    ///
    /// No `X-Appwrite-Key`: `Ok(None)`. A key that is not one of the project's, or lacks the
    /// scope: 401 `general_unauthorized_scope` (a request meant for the key's powers is never
    /// served as a guest's).
    pub fn authenticate(&self, headers: &HeaderMap, scope: Scope) -> Result<Option<&ApiKey>, ApiError> {
        let Some(presented) = headers.get(KEY_HEADER) else { return Ok(None) };
        let presented = presented.to_str().unwrap_or_default();
        // Every key is compared, matched or not, so the answer's timing does not say which.
        let found = self.0.iter().fold(None, |found, key| match key.key.matches(presented) {
            true => Some(key),
            false => found,
        });
        let Some(key) = found else {
            return Err(ApiError::new(
                ErrorType::GeneralUnauthorizedScope,
                "The API key is not valid for this project.",
            ));
        };
        if !key.scopes.contains(&scope) {
            return Err(ApiError::new(
                ErrorType::GeneralUnauthorizedScope,
                format!("API key `{}` is missing scope ([\"{}\"]).", key.name(), scope.as_str()),
            ));
        }
        Ok(Some(key))
    }
}
