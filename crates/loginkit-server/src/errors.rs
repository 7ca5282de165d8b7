//! Appwrite's errors: its error types and HTTP statuses, its JSON error body, and how each of
//! the flow's errors reads in them.

use std::fmt;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use loginkit_flow::{Conflict, FlowError, Refusal, Target};
use serde_json::json;
use url::Url;

use crate::http::VERSION;

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
    /// The user is blocked. 401.
    UserBlocked,
    /// An ID token shown for native sign-in failed a check. 401.
    UserOauth2TokenInvalid,
    /// Sign-up is closed (no more users may be created). 400.
    UserCountExceeded,
    /// A new user's email is not in an allowed domain. 401.
    UserEmailNotWhitelisted,
    /// The request is refused by the project's rules. 401.
    GeneralAccessForbidden,
    /// No user with the requested id. 404.
    UserNotFound,
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
            ErrorType::UserBlocked => "user_blocked",
            ErrorType::UserOauth2TokenInvalid => "user_oauth2_token_invalid",
            ErrorType::UserCountExceeded => "user_count_exceeded",
            ErrorType::UserEmailNotWhitelisted => "user_email_not_whitelisted",
            ErrorType::GeneralAccessForbidden => "general_access_forbidden",
            ErrorType::UserNotFound => "user_not_found",
        }
    }

    /// The HTTP status Appwrite answers with.
    pub const fn status(self) -> u16 {
        match self {
            ErrorType::ProjectProviderDisabled => 412,
            ErrorType::ProjectNotFound
            | ErrorType::GeneralRouteNotFound
            | ErrorType::UserSessionNotFound
            | ErrorType::UserIdentityNotFound
            | ErrorType::UserNotFound => 404,
            ErrorType::UserOauth2ProviderError | ErrorType::UserOauth2ProviderFailure => 424,
            ErrorType::UserAlreadyExists => 409,
            ErrorType::UserOauth2Unauthorized
            | ErrorType::UserUnauthorized
            | ErrorType::GeneralUnauthorizedScope
            | ErrorType::UserInvalidToken
            | ErrorType::UserBlocked
            | ErrorType::UserOauth2TokenInvalid
            | ErrorType::UserEmailNotWhitelisted
            | ErrorType::GeneralAccessForbidden => 401,
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
            | ErrorType::UserMissingId
            | ErrorType::UserCountExceeded => 400,
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answered as Appwrite's JSON `{message, code, type, version}`.
#[derive(Debug)]
pub struct ApiError {
    kind: ErrorType,
    message: String,
}

impl ApiError {
    /// An error of `kind` with `message` (shown to the caller: no secret in it).
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// The error type.
    pub fn kind(&self) -> ErrorType {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The failure URL with Appwrite's `error` parameter: JSON `{message, type, code}`.
    pub fn on_failure_url(&self, failure: &Url) -> Url {
        let mut url = failure.clone();
        let payload =
            json!({ "message": self.message, "type": self.kind.as_str(), "code": self.kind.status() });
        url.query_pairs_mut().append_pair("error", &payload.to_string());
        url
    }
}

impl From<FlowError> for ApiError {
    fn from(error: FlowError) -> Self {
        Self::from(&error)
    }
}

impl From<&FlowError> for ApiError {
    fn from(error: &FlowError) -> Self {
        use ErrorType as T;
        let (kind, message) = match error {
            FlowError::ProviderDisabled(_) => (
                T::ProjectProviderDisabled,
                "This provider is disabled. Please enable the provider from your project's configuration to continue."
                    .to_owned(),
            ),
            FlowError::ProviderUnknown(id) => {
                (T::ProjectProviderUnsupported, format!("The provider `{id}` is not supported."))
            }
            FlowError::InvalidArgument { field, reason } => {
                (T::GeneralArgumentInvalid, format!("Invalid `{field}` param: {reason}"))
            }
            FlowError::RedirectNotAllowed(Target::Success) => {
                (T::ProjectInvalidSuccessUrl, "Invalid redirect URL for OAuth success.".to_owned())
            }
            FlowError::RedirectNotAllowed(_) => {
                (T::ProjectInvalidFailureUrl, "Invalid redirect URL for OAuth failure.".to_owned())
            }
            FlowError::BadState(problem) => (T::GeneralBadState, format!("Invalid OAuth2 state: {problem}.")),
            FlowError::ProviderDenied { provider, error, description } => (
                T::UserOauth2ProviderError,
                format!(
                    "The {provider} OAuth2 provider returned an error: {error}{}",
                    description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
                ),
            ),
            FlowError::MissingCode => (
                T::UserOauth2ProviderError,
                "Missing OAuth2 code. Please contact the team for additional support.".to_owned(),
            ),
            FlowError::StartFailed(source) => {
                (T::GeneralArgumentInvalid, format!("Cannot start the login: {source}"))
            }
            FlowError::ExchangeFailed { provider, reason, .. } => (
                T::UserOauth2ProviderFailure,
                format!("{provider} couldn't complete sign-in ({reason}). Please try again."),
            ),
            FlowError::ProfileFailed { provider, reason, .. } => {
                (T::UserOauth2ProviderError, format!("{provider} did not return the user's profile: {reason}"))
            }
            FlowError::MissingUserId => (T::UserMissingId, "Missing ID from OAuth2 provider".to_owned()),
            FlowError::Conflict(Conflict::IdentityTaken) => {
                (T::UserAlreadyExists, "This account is already linked to another user.".to_owned())
            }
            FlowError::Conflict(Conflict::EmailTaken) => {
                (T::UserAlreadyExists, "A user with the same email already exists.".to_owned())
            }
            FlowError::Conflict(Conflict::UnverifiedEmail) => (
                T::GeneralBadRequest,
                "An account with this email already exists. Sign in with it and link this provider from there."
                    .to_owned(),
            ),
            FlowError::Conflict(_) => (T::UserUnauthorized, "The user of this login no longer exists.".to_owned()),
            FlowError::Refused(Refusal::SignUpClosed) => {
                (T::UserCountExceeded, "Sign-up is closed: this project accepts no new users.".to_owned())
            }
            FlowError::Refused(Refusal::EmailDomainNotAllowed) => (
                T::UserEmailNotWhitelisted,
                "Sign-up is restricted to specific email domains, and needs an address the provider verified."
                    .to_owned(),
            ),
            FlowError::Refused(Refusal::Blocked) => (T::UserBlocked, "The current user has been blocked.".to_owned()),
            FlowError::Refused(refusal) => (T::GeneralAccessForbidden, format!("Refused: {refusal}.")),
            FlowError::InvalidToken => (T::UserInvalidToken, "Invalid token passed in the request.".to_owned()),
            FlowError::NativeSignInDisabled(_) => (
                T::ProjectProviderDisabled,
                "Sign-in with an ID token is not enabled for this provider (`native = true` in its settings)."
                    .to_owned(),
            ),
            FlowError::NativeSignInUnsupported(id) => {
                (T::ProjectProviderUnsupported, format!("The provider `{id}` does not support ID-token sign-in."))
            }
            FlowError::IdTokenRefused { reason, .. } => {
                (T::UserOauth2TokenInvalid, format!("Invalid ID token: {reason}."))
            }
            FlowError::SessionNotFound => {
                (T::UserSessionNotFound, "The current user session could not be found.".to_owned())
            }
            FlowError::IdentityNotFound => {
                (T::UserIdentityNotFound, "Identity with the requested ID could not be found.".to_owned())
            }
            FlowError::NotRefreshable { provider } => (
                T::UserOauth2BadRequest,
                format!("{provider} does not issue refresh tokens for this session; sign in again instead."),
            ),
            FlowError::RefreshRefused { status, source } => (
                match status {
                    Some(400) => T::UserOauth2BadRequest,
                    Some(401) => T::UserOauth2Unauthorized,
                    _ => T::UserOauth2ProviderError,
                },
                format!("The provider refused to refresh the tokens: {source}"),
            ),
            FlowError::RefreshBusy => (
                T::UserOauth2ProviderError,
                "Another refresh of this account's provider tokens did not finish; try again.".to_owned(),
            ),
            FlowError::SubjectChanged => (
                T::UserOauth2ProviderError,
                "The provider's refreshed ID token is about another user; sign in again.".to_owned(),
            ),
            FlowError::Store(_) => {
                (T::GeneralServerError, "The server could not complete the request: storage failed.".to_owned())
            }
            _ => (T::GeneralServerError, "The server could not complete the request.".to_owned()),
        };
        Self { kind, message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({
            "message": self.message,
            "code": self.kind.status(),
            "type": self.kind.as_str(),
            "version": VERSION,
        });
        (status, Json(body)).into_response()
    }
}
