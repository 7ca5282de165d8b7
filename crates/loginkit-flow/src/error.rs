//! The flow's errors: what went wrong and for whom, in the flow's own words.
//!
//! Each variant carries what an adapter needs to answer in its own vocabulary (an HTTP status,
//! an API's error type, a page's text); [`FlowError::code`] names it with a stable string for
//! logs and failure URLs. Nothing here holds a token or a secret.

use std::fmt;

use loginkit_core::Error as ProviderError;

/// Why a login's `state` was refused at the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StateProblem {
    /// The callback carries no `state`.
    Missing,
    /// The `state` was not sealed by this flow's keys (tampered, forged, or a key removed).
    NotOurs,
    /// The `state` was issued for another project or provider.
    Elsewhere,
    /// The login took longer than the state's lifetime.
    Expired,
    /// The browser at the callback is not the one that started the login (no binding cookie).
    OtherBrowser,
    /// The `state` was already used.
    Replayed,
    /// The state names a redirect URI that does not parse.
    BadRedirectUri,
}

impl fmt::Display for StateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StateProblem::Missing => "missing",
            StateProblem::NotOurs => "not ours",
            StateProblem::Elsewhere => "issued for another project or provider",
            StateProblem::Expired => "expired; start the login again",
            StateProblem::OtherBrowser => "this browser did not start the login",
            StateProblem::Replayed => "already used",
            StateProblem::BadRedirectUri => "unusable redirect URI",
        })
    }
}

/// Which of a login's URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Where the browser goes after a successful login.
    Success,
    /// Where it goes after a failed one.
    Failure,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Success => "success",
            Target::Failure => "failure",
        })
    }
}

/// Which account rule a login ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Conflict {
    /// The provider account is already linked to another user.
    IdentityTaken,
    /// The email is another user's verified address.
    EmailTaken,
    /// The provider's address matches a user's, but the provider did not verify it: the login
    /// neither joins nor takes over that account.
    UnverifiedEmail,
    /// The user the login would land on no longer exists.
    UserGone,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Conflict::IdentityTaken => "this provider account is already linked to another user",
            Conflict::EmailTaken => "another user already has this email address",
            Conflict::UnverifiedEmail => {
                "an account with this email already exists; sign in with it and link this provider from there"
            }
            Conflict::UserGone => "the user this login belongs to no longer exists",
        })
    }
}

/// Why a [`Policy`](crate::Policy) refused a login or a link: shown to the user, so it says
/// what they can act on and nothing about other accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// New accounts cannot be created.
    SignUpClosed,
    /// The email's domain is not among those allowed (or there is no email to check).
    EmailDomainNotAllowed,
    /// The user is blocked.
    Blocked,
    /// The identity may not be linked to this user.
    LinkNotAllowed,
    /// Any other reason, in the embedder's words (shown to the user).
    Other(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::SignUpClosed => f.write_str("sign-up is closed"),
            Refusal::EmailDomainNotAllowed => f.write_str("this email domain is not allowed"),
            Refusal::Blocked => f.write_str("this user is blocked"),
            Refusal::LinkNotAllowed => f.write_str("this provider account may not be linked to this user"),
            Refusal::Other(reason) => f.write_str(reason),
        }
    }
}

/// A flow error. The message ([`Display`](fmt::Display)) is safe to show: it never carries a
/// token or a secret, and text from a provider in it is plain and capped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// The provider exists in this build but is not enabled for the project.
    #[error("the provider `{0}` is not enabled")]
    ProviderDisabled(String),
    /// No provider of this id in this build.
    #[error("the provider `{0}` is not supported")]
    ProviderUnknown(String),
    /// A request parameter is invalid.
    #[error("invalid `{field}`: {reason}")]
    InvalidArgument {
        /// The parameter.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A login's success or failure URL is no longer on the allow-list at the callback.
    #[error("the {0} URL is not allowed")]
    RedirectNotAllowed(Target),
    /// The callback's `state` was refused; no failure URL can be trusted.
    #[error("invalid OAuth2 state: {0}")]
    BadState(StateProblem),
    /// The provider answered the callback with an error (the user declined, ...).
    #[error("{provider} returned an error: {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    ProviderDenied {
        /// The provider's display name.
        provider: &'static str,
        /// Its `error` code, as plain text.
        error: String,
        /// Its `error_description`, as plain text.
        description: Option<String>,
    },
    /// The callback carries neither a code nor an error.
    #[error("the provider sent no authorization code")]
    MissingCode,
    /// The authorize URL could not be built (a provider's configuration).
    #[error("cannot start the login: {0}")]
    StartFailed(#[source] ProviderError),
    /// The code exchange failed.
    #[error("{provider} could not complete sign-in ({reason})")]
    ExchangeFailed {
        /// The provider's display name.
        provider: &'static str,
        /// The provider's error code, or what went wrong, as plain text.
        reason: String,
        /// The cause.
        #[source]
        source: ProviderError,
    },
    /// The user's profile could not be read.
    #[error("{provider} did not return the user's profile: {reason}")]
    ProfileFailed {
        /// The provider's display name.
        provider: &'static str,
        /// What went wrong, as plain text.
        reason: String,
        /// The cause.
        #[source]
        source: ProviderError,
    },
    /// The provider returned no user id.
    #[error("the provider returned no user id")]
    MissingUserId,
    /// An account rule refused the login; nothing was written.
    #[error("{0}")]
    Conflict(Conflict),
    /// The embedder's policy refused the login or the link; nothing was written.
    #[error("{0}")]
    Refused(Refusal),
    /// Native ID-token sign-in is not enabled for this provider in the project.
    #[error("sign-in with an ID token is not enabled for `{0}`")]
    NativeSignInDisabled(String),
    /// The provider's ID tokens are not ones loginkit verifies.
    #[error("`{0}` offers no ID tokens loginkit can verify")]
    NativeSignInUnsupported(String),
    /// An ID token shown for native sign-in failed a check (signature, issuer, audience, expiry,
    /// nonce, ...); `reason` names it.
    #[error("the ID token was refused: {reason}")]
    IdTokenRefused {
        /// The provider's display name.
        provider: &'static str,
        /// The failed check.
        reason: String,
    },
    /// A token-flow secret is wrong, expired or used.
    #[error("invalid token")]
    InvalidToken,
    /// No such session (of this user).
    #[error("the session could not be found")]
    SessionNotFound,
    /// No such identity (of this user).
    #[error("the identity could not be found")]
    IdentityNotFound,
    /// The provider issues no refresh token (for this session): sign in again.
    #[error("{provider} issues no refresh token for this session; sign in again")]
    NotRefreshable {
        /// The provider's display name.
        provider: &'static str,
    },
    /// The provider refused to refresh the tokens.
    #[error("the provider refused to refresh the tokens: {source}")]
    RefreshRefused {
        /// The provider's HTTP status, when it answered.
        status: Option<u16>,
        /// The cause.
        #[source]
        source: ProviderError,
    },
    /// Another refresh of the account did not finish in time.
    #[error("another refresh of this account's provider tokens did not finish; try again")]
    RefreshBusy,
    /// A refreshed ID token names another subject than the login's.
    #[error("the provider's refreshed ID token is about another user; sign in again")]
    SubjectChanged,
    /// The store failed; nothing can be said about what was written.
    #[error("storage failed")]
    Store(#[source] StoreError),
}

impl FlowError {
    /// A stable snake_case name of the variant (`provider_denied`, `bad_state`, ...), for logs,
    /// metrics and failure URLs.
    pub fn code(&self) -> &'static str {
        match self {
            FlowError::ProviderDisabled(_) => "provider_disabled",
            FlowError::ProviderUnknown(_) => "provider_unknown",
            FlowError::InvalidArgument { .. } => "invalid_argument",
            FlowError::RedirectNotAllowed(_) => "redirect_not_allowed",
            FlowError::BadState(_) => "bad_state",
            FlowError::ProviderDenied { .. } => "provider_denied",
            FlowError::MissingCode => "missing_code",
            FlowError::StartFailed(_) => "start_failed",
            FlowError::ExchangeFailed { .. } => "exchange_failed",
            FlowError::ProfileFailed { .. } => "profile_failed",
            FlowError::MissingUserId => "missing_user_id",
            FlowError::Conflict(Conflict::IdentityTaken) => "identity_taken",
            FlowError::Conflict(Conflict::EmailTaken) => "email_taken",
            FlowError::Conflict(Conflict::UnverifiedEmail) => "unverified_email",
            FlowError::Conflict(Conflict::UserGone) => "user_gone",
            FlowError::Refused(_) => "refused",
            FlowError::NativeSignInDisabled(_) => "native_sign_in_disabled",
            FlowError::NativeSignInUnsupported(_) => "native_sign_in_unsupported",
            FlowError::IdTokenRefused { .. } => "id_token_refused",
            FlowError::InvalidToken => "invalid_token",
            FlowError::SessionNotFound => "session_not_found",
            FlowError::IdentityNotFound => "identity_not_found",
            FlowError::NotRefreshable { .. } => "not_refreshable",
            FlowError::RefreshRefused { .. } => "refresh_refused",
            FlowError::RefreshBusy => "refresh_busy",
            FlowError::SubjectChanged => "subject_changed",
            FlowError::Store(_) => "server_error",
        }
    }

    /// Whether the fault is the server's (the store failed), not the request's or the provider's.
    pub fn is_server_error(&self) -> bool {
        matches!(self, FlowError::Store(_))
    }

    pub(crate) fn argument(field: &'static str, reason: impl Into<String>) -> Self {
        FlowError::InvalidArgument { field, reason: reason.into() }
    }
}

impl From<StoreError> for FlowError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store failed");
        FlowError::Store(error)
    }
}

impl From<Refusal> for FlowError {
    fn from(refusal: Refusal) -> Self {
        FlowError::Refused(refusal)
    }
}

/// A failure of a [`Store`](crate::Store).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// What a write was decided on changed meanwhile (a provider account, a verified email or a
    /// session slot taken by a concurrent login): nothing was written.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The store cannot be used as configured (a user table without the named columns).
    #[error("{0}")]
    Config(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a database error.
    pub fn database(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Database(Box::new(error))
    }
}
