//! The token endpoint (authorization code and refresh token grants) and the revocation endpoint, with client authentication.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Serialize;

use crate::faults::{self, Endpoint, FaultOutcome, Rejection, json_bytes, json_error};
use crate::params::{Params, form_decode, is_form, parse_scope};
use crate::state::{NewTokens, Shared, expired};

/// Standard alphabet; padding is optional because some clients strip it.
const BASIC: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    scope: String,
}

/// How the client proved who it is.
struct Client {
    id: String,
    /// Only `client_id` was sent; allowed solely for grants protected by PKCE.
    public: bool,
    /// Failures must then carry `WWW-Authenticate` (RFC 6749 §5.2).
    used_basic: bool,
}

fn reject(status: StatusCode, error: &str, description: &str) -> Rejection {
    Box::new(json_error(status, error, Some(description)))
}

fn invalid_client(used_basic: bool, description: &str) -> Rejection {
    let mut response = json_error(StatusCode::UNAUTHORIZED, "invalid_client", Some(description));
    if used_basic {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"loginkit-testkit\""));
    }
    Box::new(response)
}

fn invalid_request(description: &str) -> Rejection {
    reject(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn invalid_grant(description: &str) -> Rejection {
    reject(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// Shared prologue of the token and revocation endpoints: counting, faults,
/// content type, repeated parameters, client authentication.
async fn prologue(
    shared: &Shared,
    endpoint: Endpoint,
    parts: (&Method, &Uri, &HeaderMap),
    body: &[u8],
) -> Result<(Params, Client), Rejection> {
    let (method, uri, headers) = parts;
    shared.begin(endpoint, method, uri, headers, body);
    match faults::apply(shared, endpoint).await {
        FaultOutcome::Proceed => {}
        FaultOutcome::Respond(response) => return Err(Box::new(response)),
        // `apply` only asks for a redirect at the authorization endpoint.
        FaultOutcome::ErrorRedirect { error, description } => {
            return Err(Box::new(json_error(StatusCode::BAD_REQUEST, &error, description.as_deref())));
        }
    }
    if !is_form(headers) {
        return Err(invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    let params = Params::parse(body);
    if let Some(name) = params.first_too_long() {
        let name: String = name.chars().take(32).collect();
        return Err(invalid_request(&format!("{name} is too long")));
    }
    if let Some(name) = params.first_repeated() {
        return Err(invalid_request(&format!("{name} is repeated")));
    }
    let client = authenticate(shared, headers, &params)?;
    Ok((params, client))
}

fn authenticate(shared: &Shared, headers: &HeaderMap, params: &Params) -> Result<Client, Rejection> {
    let get = |name: &str| params.get(name).ok().flatten();
    let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
    let basic = match (authorization.next(), authorization.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => return Err(invalid_request("Authorization is repeated")),
        (Some(value), None) => {
            Some(decode_basic(value).ok_or_else(|| invalid_client(true, "malformed Basic credentials"))?)
        }
    };
    let (id, secret, used_basic) = match basic {
        Some((id, secret)) => {
            if get("client_secret").is_some() {
                return Err(invalid_request("use only one client authentication method"));
            }
            if get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(invalid_request("client_id in the body differs from the Basic credentials"));
            }
            (id, Some(secret), true)
        }
        None => match (get("client_id"), get("client_secret")) {
            (Some(id), secret) => (id.to_owned(), secret.map(str::to_owned), false),
            (None, Some(_)) => return Err(invalid_request("client_secret without client_id")),
            (None, None) => return Err(invalid_client(false, "client authentication is required")),
        },
    };
    let Some(client) = shared.config.client(&id) else {
        return Err(invalid_client(used_basic, "unknown client"));
    };
    match secret {
        Some(secret) if secret == client.client_secret => Ok(Client { id, public: false, used_basic }),
        Some(_) => Err(invalid_client(used_basic, "wrong client secret")),
        None => Ok(Client { id, public: true, used_basic }),
    }
}

/// RFC 6749 §2.3.1: `base64(urlencode(id) ":" urlencode(secret))`.
pub fn decode_basic(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, credentials) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASIC.decode(credentials.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let id = form_decode(id)?;
    if id.is_empty() {
        return None;
    }
    Some((id, form_decode(secret)?))
}

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = match prologue(&shared, Endpoint::Token, (&method, &uri, &headers), &body).await {
        Ok((params, client)) => match params.get("grant_type").ok().flatten() {
            Some("authorization_code") => authorization_code(&shared, &params, &client),
            Some("refresh_token") => refresh_token(&shared, &params, &client),
            Some(_) => Err(reject(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code and refresh_token are supported",
            )),
            None => Err(invalid_request("grant_type is required")),
        },
        Err(rejection) => Err(rejection),
    };
    result.unwrap_or_else(|rejection| *rejection)
}

fn authorization_code(shared: &Shared, params: &Params, client: &Client) -> Result<Response, Rejection> {
    let get = |name: &str| params.get(name).ok().flatten();
    let code = get("code").ok_or_else(|| invalid_request("code is required"))?;
    let now = Instant::now();
    let mut inner = shared.lock();
    let Some(grant) = inner.codes.get_mut(code) else {
        return Err(invalid_grant("unknown authorization code"));
    };
    if grant.client_id != client.id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if client.public && grant.challenge.is_none() {
        return Err(invalid_client(client.used_basic, "client_secret is required without PKCE"));
    }
    if grant.used {
        // RFC 6749 §4.1.2: a replayed code may mean it was stolen, so everything it yielded goes.
        inner.revoke_family(code);
        return Err(invalid_grant("the authorization code was already used"));
    }
    if expired(grant.expires_at, now) {
        return Err(invalid_grant("the authorization code expired"));
    }
    match (&grant.redirect_uri_param, get("redirect_uri")) {
        (Some(expected), Some(sent)) if expected == sent => {}
        (Some(_), _) => return Err(invalid_grant("redirect_uri does not match the authorization request")),
        (None, Some(sent)) if url::Url::parse(sent).is_ok_and(|u| u.as_str() == grant.redirect_uri) => {}
        (None, Some(_)) => {
            return Err(invalid_grant("redirect_uri does not match the authorization request"));
        }
        (None, None) => {}
    }
    match (&grant.challenge, get("code_verifier")) {
        (Some(challenge), Some(verifier)) if challenge.verify(verifier) => {}
        (Some(_), Some(_)) => return Err(invalid_grant("code_verifier does not match the code_challenge")),
        (Some(_), None) => return Err(invalid_grant("code_verifier is required")),
        (None, Some(_)) => return Err(invalid_grant("code_verifier sent for a code without code_challenge")),
        (None, None) => {}
    }
    grant.used = true;
    tracing::debug!(client = %grant.client_id, user = %grant.user_id, nonce = ?grant.nonce, "mock idp: code exchanged");
    let user_id = grant.user_id.clone();
    let scopes = grant.scopes.clone();
    let pkce = grant.challenge.is_some();
    let issued = inner.issue(
        &shared.config,
        NewTokens { client_id: &client.id, user_id: &user_id, scopes: &scopes, family: code, pkce },
    );
    drop(inner);
    Ok(token_response(shared, &issued.access_token, issued.refresh_token.as_deref(), &scopes))
}

fn refresh_token(shared: &Shared, params: &Params, client: &Client) -> Result<Response, Rejection> {
    let get = |name: &str| params.get(name).ok().flatten();
    let token = get("refresh_token").ok_or_else(|| invalid_request("refresh_token is required"))?;
    let requested = match get("scope") {
        Some(scope) => Some(parse_scope(scope).ok_or_else(|| {
            reject(StatusCode::BAD_REQUEST, "invalid_scope", "scope contains forbidden characters")
        })?),
        None => None,
    };
    let mut inner = shared.lock();
    let Some(grant) = inner.refresh_tokens.get(token) else {
        return Err(invalid_grant("unknown refresh token"));
    };
    if expired(grant.expires_at, Instant::now()) {
        inner.refresh_tokens.remove(token);
        return Err(invalid_grant("the refresh token expired"));
    }
    if grant.client_id != client.id {
        return Err(invalid_grant("the refresh token was issued to another client"));
    }
    if client.public && !grant.pkce {
        return Err(invalid_client(client.used_basic, "client_secret is required without PKCE"));
    }
    let scopes = match requested {
        Some(requested) if requested.iter().all(|s| grant.scopes.contains(s)) => requested,
        Some(_) => {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "the requested scope exceeds the original grant",
            ));
        }
        None => grant.scopes.clone(),
    };
    let Some(grant) = inner.refresh_tokens.remove(token) else {
        return Err(invalid_grant("unknown refresh token"));
    };
    // The access token may be narrowed; the rotated refresh token keeps the original scope (RFC 6749 §6).
    let issued = inner.issue(
        &shared.config,
        NewTokens {
            client_id: &grant.client_id,
            user_id: &grant.user_id,
            scopes: &grant.scopes,
            family: &grant.family,
            pkce: grant.pkce,
        },
    );
    drop(inner);
    Ok(token_response(shared, &issued.access_token, issued.refresh_token.as_deref(), &scopes))
}

fn token_response(
    shared: &Shared,
    access_token: &str,
    refresh_token: Option<&str>,
    scopes: &[String],
) -> Response {
    let body = TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: shared.config.access_token_ttl.as_secs(),
        refresh_token,
        scope: scopes.join(" "),
    };
    match serde_json::to_vec(&body) {
        Ok(body) => json_bytes(StatusCode::OK, body),
        Err(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None),
    }
}

pub(crate) async fn revoke(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = match prologue(&shared, Endpoint::Revoke, (&method, &uri, &headers), &body).await {
        Ok((params, client)) => revoke_token(&shared, &params, &client),
        Err(rejection) => Err(rejection),
    };
    result.unwrap_or_else(|rejection| *rejection)
}

fn revoke_token(shared: &Shared, params: &Params, client: &Client) -> Result<Response, Rejection> {
    let token = params.get("token").ok().flatten().ok_or_else(|| invalid_request("token is required"))?;
    // The hint only orders the lookup (RFC 7009 §2.1), and both lookups are cheap, so it is ignored.
    let mut inner = shared.lock();
    let owner = if let Some(grant) = inner.access_tokens.get(token) {
        Some((grant.client_id.clone(), grant.pkce, None))
    } else {
        inner
            .refresh_tokens
            .get(token)
            .map(|grant| (grant.client_id.clone(), grant.pkce, Some(grant.family.clone())))
    };
    if let Some((owner, pkce, family)) = owner {
        if owner != client.id {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "the token was issued to another client",
            ));
        }
        if client.public && !pkce {
            return Err(invalid_client(client.used_basic, "client_secret is required without PKCE"));
        }
        match family {
            Some(family) => inner.revoke_family(&family),
            None => {
                inner.access_tokens.remove(token);
            }
        }
    }
    drop(inner);
    // RFC 7009 §2.2: unknown tokens are answered like revoked ones.
    let mut response = Response::new(axum::body::Body::empty());
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
