//! The user info endpoints (`user` and `user-unverified`), authenticated by bearer token.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde::Serialize;

use crate::faults::{self, Endpoint, FaultOutcome, Rejection, json_bytes, json_error};
use crate::params::Params;
use crate::state::{Shared, expired};

#[derive(Serialize)]
struct UserInfo<'a> {
    id: &'a str,
    sub: &'a str,
    name: &'a str,
    email: &'a str,
    verified: bool,
    email_verified: bool,
}

pub(crate) async fn user(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    respond(&shared, &method, &uri, &headers, false).await
}

/// Appwrite's `mock-unverified` provider reads this path to get a user whose email is never verified.
pub(crate) async fn user_unverified(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    respond(&shared, &method, &uri, &headers, true).await
}

async fn respond(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    force_unverified: bool,
) -> Response {
    shared.begin(Endpoint::UserInfo, method, uri, headers, &[]);
    match faults::apply(shared, Endpoint::UserInfo).await {
        FaultOutcome::Proceed => {}
        FaultOutcome::Respond(response) => return response,
        FaultOutcome::ErrorRedirect { error, description } => {
            return json_error(StatusCode::BAD_REQUEST, &error, description.as_deref());
        }
    }
    let token = match bearer_token(uri, headers) {
        Ok(token) => token,
        Err(response) => return *response,
    };
    let user = {
        let inner = shared.lock();
        inner
            .access_tokens
            .get(&token)
            .filter(|grant| !expired(grant.expires_at, Instant::now()))
            .and_then(|grant| shared.config.user(&grant.user_id))
            .cloned()
    };
    let Some(user) = user else {
        return invalid_token("the access token is unknown, expired or revoked");
    };
    let verified = user.verified && !force_unverified;
    let body = UserInfo {
        id: &user.id,
        sub: &user.id,
        name: &user.name,
        email: &user.email,
        verified,
        email_verified: verified,
    };
    match serde_json::to_vec(&body) {
        Ok(body) => json_bytes(StatusCode::OK, body),
        Err(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None),
    }
}

/// The token from `Authorization: Bearer` or the `access_token` query
/// parameter; RFC 6750 §2 forbids sending it both ways at once.
fn bearer_token(uri: &Uri, headers: &HeaderMap) -> Result<String, Rejection> {
    let query = Params::parse(uri.query().unwrap_or_default().as_bytes());
    let from_query = query.get("access_token").map_err(|_| invalid_request("access_token is repeated"))?;
    let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
    let from_header = match (authorization.next(), authorization.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => return Err(Box::new(invalid_request("Authorization is repeated"))),
        (Some(value), None) => {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.trim().split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim())
                .filter(|token| !token.is_empty());
            Some(token.ok_or_else(|| Box::new(invalid_token("malformed Authorization header")))?)
        }
    };
    match (from_header, from_query) {
        (Some(_), Some(_)) => Err(Box::new(invalid_request("send the access token in one place only"))),
        (Some(token), None) | (None, Some(token)) => Ok(token.to_owned()),
        (None, None) => Err(Box::new(invalid_token("an access token is required"))),
    }
}

fn invalid_token(description: &str) -> Response {
    let mut response = json_error(StatusCode::UNAUTHORIZED, "invalid_token", Some(description));
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    response
}

fn invalid_request(description: &str) -> Response {
    let mut response = json_error(StatusCode::BAD_REQUEST, "invalid_request", Some(description));
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_request\""));
    response
}
