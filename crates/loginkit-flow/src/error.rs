//! The flow's one error type, carrying Appwrite's error type strings and HTTP status codes.

use std::fmt;

/// Appwrite's error types used by the OAuth 2.0 flow and the account routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorType {
    /// The provider is not enabled (or not configured) for the project. 412.
    ProjectProviderDisabled,
    /// No such provider in this build. 400.
    ProjectProviderUnsupported,
    /// The project does not exist. 404.
    ProjectNotFound,
    /// The success URL failed re-validation at the callback. 400.
    ProjectInvalidSuccessUrl,
    /// The failure URL failed re-validation at the callback. 400.
    ProjectInvalidFailureUrl,
    /// A request parameter is invalid. 400.
    GeneralArgumentInvalid,
    /// A request is refused without telling more (unverified email colliding with an account). 400.
    GeneralBadRequest,
    /// The login `state` is missing, tampered, expired, replayed or from another browser. 400.
    GeneralBadState,
    /// The storage failed. 500.
    GeneralServerError,
    /// The request's `Origin` is not one of the project's. 403.
    GeneralUnknownOrigin,
    /// No such route. 404.
    GeneralRouteNotFound,
    /// Too many requests. 429.
    GeneralRateLimitExceeded,
    /// The provider answered the callback with an error, or the profile could not be read. 424.
    UserOauth2ProviderError,
    /// The code exchange failed. 424.
    UserOauth2ProviderFailure,
    /// The provider answered 400 to a refresh. 400.
    UserOauth2BadRequest,
    /// The provider answered 401 to a refresh. 401.
    UserOauth2Unauthorized,
    /// The provider returned no user id. 400.
    UserMissingId,
    /// The account or identity already belongs to another user. 409.
    UserAlreadyExists,
    /// No valid session. 401.
    UserUnauthorized,
    /// A guest called a route that needs a session. 401.
    GeneralUnauthorizedScope,
    /// The token-flow secret is wrong, expired or used. 401.
    UserInvalidToken,
    /// No such session. 404.
    UserSessionNotFound,
    /// No such identity. 404.
    UserIdentityNotFound,
}

impl ErrorType {
    /// Appwrite's type string, e.g. `project_provider_disabled`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorType::ProjectProviderDisabled => "project_provider_disabled",
            ErrorType::ProjectProviderUnsupported => "project_provider_unsupported",
            ErrorType::ProjectNotFound => "project_not_found",
            ErrorType::ProjectInvalidSuccessUrl => "project_invalid_success_url",
            ErrorType::ProjectInvalidFailureUrl => "project_invalid_failure_url",
            ErrorType::GeneralArgumentInvalid => "general_argument_invalid",
            ErrorType::GeneralBadRequest => "general_bad_request",
            ErrorType::GeneralBadState => "general_bad_request",
            ErrorType::GeneralServerError => "general_server_error",
            ErrorType::GeneralUnknownOrigin => "general_unknown_origin",
            ErrorType::GeneralRouteNotFound => "general_route_not_found",
            ErrorType::GeneralRateLimitExceeded => "general_rate_limit_exceeded",
            ErrorType::UserOauth2ProviderError => "user_oauth2_provider_error",
            ErrorType::UserOauth2ProviderFailure => "user_oauth2_provider_failure",
            ErrorType::UserOauth2BadRequest => "user_oauth2_bad_request",
            ErrorType::UserOauth2Unauthorized => "user_oauth2_unauthorized",
            ErrorType::UserMissingId => "user_missing_id",
            ErrorType::UserAlreadyExists => "user_already_exists",
            ErrorType::UserUnauthorized => "user_unauthorized",
            ErrorType::GeneralUnauthorizedScope => "general_unauthorized_scope",
            ErrorType::UserInvalidToken => "user_invalid_token",
            ErrorType::UserSessionNotFound => "user_session_not_found",
            ErrorType::UserIdentityNotFound => "user_identity_not_found",
        }
    }

    /// The HTTP status Appwrite answers with.
    pub const fn status(self) -> u16 {
        match self {
            ErrorType::ProjectProviderDisabled => 412,
            ErrorType::ProjectNotFound
            | ErrorType::GeneralRouteNotFound
            | ErrorType::UserSessionNotFound
            | ErrorType::UserIdentityNotFound => 404,
            ErrorType::UserOauth2ProviderError | ErrorType::UserOauth2ProviderFailure => 424,
            ErrorType::UserAlreadyExists => 409,
            ErrorType::UserOauth2Unauthorized
            | ErrorType::UserUnauthorized
            | ErrorType::GeneralUnauthorizedScope
            | ErrorType::UserInvalidToken => 401,
            ErrorType::GeneralServerError => 500,
            ErrorType::GeneralUnknownOrigin => 403,
            ErrorType::GeneralRateLimitExceeded => 429,
            ErrorType::ProjectProviderUnsupported
            | ErrorType::ProjectInvalidSuccessUrl
            | ErrorType::ProjectInvalidFailureUrl
            | ErrorType::GeneralArgumentInvalid
            | ErrorType::GeneralBadRequest
            | ErrorType::GeneralBadState
            | ErrorType::UserOauth2BadRequest
            | ErrorType::UserMissingId => 400,
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A flow error: Appwrite's type, a message safe to show (never a token or secret), and the
/// underlying provider or store error when there is one.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FlowError {
    kind: ErrorType,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl FlowError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), source: None }
    }

    /// Attaches the cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The error type.
    pub fn kind(&self) -> ErrorType {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    pub(crate) fn bad_state(why: &str) -> Self {
        Self::new(ErrorType::GeneralBadState, format!("Invalid OAuth2 state: {why}."))
    }

    pub(crate) fn argument(message: impl Into<String>) -> Self {
        Self::new(ErrorType::GeneralArgumentInvalid, message)
    }
}

impl From<StoreError> for FlowError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store failed");
        Self::new(ErrorType::GeneralServerError, "The server could not complete the request: storage failed.")
            .with_source(error)
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
