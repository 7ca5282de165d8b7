//! The one error type of loginkit-core: what went wrong, for which provider, during which call.
//!
//! Errors never carry a token, a code or a response body: only status codes, lengths, and the
//! provider's own `error` / `error_description` when it sent them.

use std::fmt;

use crate::openid::IdTokenError;

/// The provider call an error happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// Building the authorization URL.
    Authorize,
    /// Exchanging the authorization code for tokens.
    ExchangeCode,
    /// Fetching the user profile.
    UserInfo,
    /// Refreshing tokens.
    Refresh,
    /// Revoking a token.
    Revoke,
    /// Fetching an OpenID Provider's discovery document.
    Discovery,
    /// Fetching a provider's signing keys (JWKS).
    Jwks,
}

impl Operation {
    /// Stable lower-case name, used in logs and messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Authorize => "authorize",
            Operation::ExchangeCode => "exchange_code",
            Operation::UserInfo => "user_info",
            Operation::Refresh => "refresh",
            Operation::Revoke => "revoke",
            Operation::Discovery => "discovery",
            Operation::Jwks => "jwks",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a provider could not be reached or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The connect or total timeout elapsed.
    Timeout,
    /// The connection could not be established.
    Connect,
    /// The request could not be sent or the body not read.
    Io,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Timeout => "timed out",
            TransportKind::Connect => "connection failed",
            TransportKind::Io => "I/O error",
        })
    }
}

/// Errors of provider configuration, registration and provider calls.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No provider with this id is compiled in.
    #[error("unknown provider `{id}`; available: {}", available.join(", "))]
    UnknownProvider {
        /// The id asked for.
        id: String,
        /// Ids that are available, sorted.
        available: Vec<&'static str>,
    },

    /// Two linked crates register the same provider id.
    #[error("provider id `{id}` is registered twice, by `{first}` and by `{second}`")]
    DuplicateProvider {
        /// The contested id.
        id: &'static str,
        /// Crate of the first registration.
        first: &'static str,
        /// Crate of the second registration.
        second: &'static str,
    },

    /// The provider configuration is unusable.
    #[error("invalid configuration for provider `{provider}`: {message}")]
    Config {
        /// Provider id.
        provider: &'static str,
        /// What is wrong, naming the key.
        message: String,
    },

    /// The provider could not be reached, or its answer could not be read.
    #[error("{provider}: {operation} failed: {kind}")]
    Transport {
        /// Provider id.
        provider: &'static str,
        /// Call in progress.
        operation: Operation,
        /// What failed.
        kind: TransportKind,
    },

    /// The provider answered with an OAuth error (RFC 6749 §5.2), whatever the HTTP status.
    #[error("{provider}: {operation} rejected by the provider (HTTP {status}): {code}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    OAuth {
        /// Provider id.
        provider: &'static str,
        /// Call in progress.
        operation: Operation,
        /// HTTP status of the answer (200 for providers that report errors with 200).
        status: u16,
        /// The provider's error code (`invalid_grant`, `bad_verification_code`, ...).
        code: String,
        /// The provider's human-readable description.
        description: Option<String>,
    },

    /// The provider answered with an HTTP error and no recognisable error body.
    #[error("{provider}: {operation} failed with HTTP {status}")]
    HttpStatus {
        /// Provider id.
        provider: &'static str,
        /// Call in progress.
        operation: Operation,
        /// HTTP status.
        status: u16,
    },

    /// The provider answered with a redirect, which is never followed.
    #[error("{provider}: {operation} answered with a redirect (HTTP {status}), which is not followed")]
    Redirect {
        /// Provider id.
        provider: &'static str,
        /// Call in progress.
        operation: Operation,
        /// HTTP status (3xx).
        status: u16,
    },

    /// The answer exceeded the response-size cap.
    #[error("{provider}: {operation} answer exceeds the {limit}-byte limit")]
    ResponseTooLarge {
        /// Provider id.
        provider: &'static str,
        /// Call in progress.
        operation: Operation,
        /// The cap in bytes.
        limit: usize,
    },

    /// The answer could not be understood.
    #[error("{provider}: {operation} answer is malformed: {detail}")]
    Malformed {
        /// Provider id.
        provider: &'static str,
        /// Call in progress.
        operation: Operation,
        /// What was wrong, without quoting the body.
        detail: String,
    },

    /// A field the answer must carry is missing or empty (`access_token`, the user id).
    #[error("{provider}: {operation} answer has no `{field}`")]
    MissingField {
        /// Provider id.
        provider: &'static str,
        /// Call in progress.
        operation: Operation,
        /// The missing field.
        field: &'static str,
    },

    /// The provider cannot do this (no refresh, no revocation, ...).
    #[error("{provider} does not support {capability}")]
    Unsupported {
        /// Provider id.
        provider: &'static str,
        /// The missing capability.
        capability: &'static str,
    },

    /// An OpenID Connect check failed: the ID token, the discovery document's issuer, or the
    /// authorization response's `iss` (see [`IdTokenError`] for the reasons).
    #[error("{provider}: {reason}")]
    IdToken {
        /// Provider id.
        provider: &'static str,
        /// Why the check failed; never quotes the token.
        reason: IdTokenError,
    },

    /// The caller passed something unusable (an unparsable URL, a missing PKCE verifier, ...).
    #[error("{provider}: invalid request: {message}")]
    InvalidRequest {
        /// Provider id.
        provider: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// The provider's OAuth error code, when the provider sent one.
    pub fn provider_code(&self) -> Option<&str> {
        match self {
            Error::OAuth { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status the provider answered with, when there was an answer.
    pub fn provider_status(&self) -> Option<u16> {
        match self {
            Error::OAuth { status, .. }
            | Error::HttpStatus { status, .. }
            | Error::Redirect { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn malformed(provider: &'static str, operation: Operation, detail: impl Into<String>) -> Self {
        Error::Malformed { provider, operation, detail: detail.into() }
    }

    pub(crate) fn config(provider: &'static str, message: impl Into<String>) -> Self {
        Error::Config { provider, message: message.into() }
    }
}
