//! The authorization endpoint: request validation, the optional login form, code issuance.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use url::{Host, Url};

use crate::config::{MockClient, MockIdpConfig, MockUser};
use crate::faults::{self, Endpoint, FaultOutcome, Rejection, json_error};
use crate::params::{
    Challenge, ChallengeMethod, Params, escape_html, is_form, is_pkce_string, parse_scope, random_token,
};
use crate::state::{CodeGrant, Shared};

/// Where errors and codes may be sent. Once this is known, errors travel by
/// redirect; before, they must not (RFC 6749 §4.1.2.1).
struct Target {
    client_id: String,
    redirect_uri: Url,
    redirect_uri_param: Option<String>,
    state: Option<String>,
}

/// A fully validated authorization request.
struct Approved {
    scopes: Vec<String>,
    challenge: Option<Challenge>,
    nonce: Option<String>,
    user: MockUser,
}

/// Parameters consumed by the login form itself, never carried as hidden inputs.
const FORM_FIELDS: [&str; 2] = ["user", "action"];

pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    shared.begin(Endpoint::Authorize, &method, &uri, &headers, &[]);
    let params = Params::parse(uri.query().unwrap_or_default().as_bytes());
    if let Some(response) = too_long(&params) {
        return response;
    }
    if let Some(response) = fault(&shared, &params).await {
        return response;
    }
    let target = match resolve_target(&shared.config, &params) {
        Ok(target) => target,
        Err(response) => return *response,
    };
    let approved = match validate(&shared.config, &params) {
        Ok(approved) => approved,
        Err((error, description)) => return error_redirect(&target, &error, Some(&description)),
    };
    if shared.config.auto_approve {
        issue_code(&shared, &target, approved)
    } else {
        login_page(&shared.config, &target, &params, &approved.user)
    }
}

pub(crate) async fn post(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.begin(Endpoint::Authorize, &method, &uri, &headers, &body);
    let params = Params::parse(&body);
    if let Some(response) = too_long(&params) {
        return response;
    }
    if let Some(response) = fault(&shared, &params).await {
        return response;
    }
    if !is_form(&headers) {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Some("the login form must be posted as application/x-www-form-urlencoded"),
        );
    }
    let target = match resolve_target(&shared.config, &params) {
        Ok(target) => target,
        Err(response) => return *response,
    };
    let approved = match validate(&shared.config, &params) {
        Ok(approved) => approved,
        Err((error, description)) => return error_redirect(&target, &error, Some(&description)),
    };
    match params.get("action") {
        Ok(Some("approve")) => issue_code(&shared, &target, approved),
        Ok(Some("deny")) => error_redirect(&target, "access_denied", Some("the user denied the request")),
        _ => error_redirect(&target, "invalid_request", Some("action must be approve or deny")),
    }
}

async fn fault(shared: &Shared, params: &Params) -> Option<Response> {
    match faults::apply(shared, Endpoint::Authorize).await {
        FaultOutcome::Proceed => None,
        FaultOutcome::Respond(response) => Some(response),
        // Even an injected error must not be sent to an unregistered URI.
        FaultOutcome::ErrorRedirect { error, description } => {
            Some(match resolve_target(&shared.config, params) {
                Ok(target) => error_redirect(&target, &error, description.as_deref()),
                Err(response) => *response,
            })
        }
    }
}

/// A parameter too long to look at: refused before anything is validated or kept.
fn too_long(params: &Params) -> Option<Response> {
    params.first_too_long().map(|name| {
        let name: String = name.chars().take(32).collect();
        json_error(StatusCode::BAD_REQUEST, "invalid_request", Some(&format!("{name} is too long")))
    })
}

fn bad_request(description: &str) -> Rejection {
    Box::new(json_error(StatusCode::BAD_REQUEST, "invalid_request", Some(description)))
}

fn resolve_target(config: &MockIdpConfig, params: &Params) -> Result<Target, Rejection> {
    let client_id = match params.get("client_id") {
        Ok(Some(id)) => id,
        Ok(None) => return Err(bad_request("client_id is required")),
        Err(_) => return Err(bad_request("client_id is repeated")),
    };
    let Some(client) = config.client(client_id) else {
        return Err(bad_request("unknown client_id"));
    };
    let redirect_uri_param = match params.get("redirect_uri") {
        Ok(uri) => uri,
        Err(_) => return Err(bad_request("redirect_uri is repeated")),
    };
    let redirect_uri = match redirect_uri_param {
        Some(uri) => allowed_redirect(client, uri)
            .ok_or_else(|| bad_request("redirect_uri is not registered for this client"))?,
        // RFC 6749 §3.1.2.3: omission is only unambiguous with a single registration.
        None => match client.redirect_uris.as_slice() {
            [only] => {
                Url::parse(only).map_err(|_| bad_request("the registered redirect_uri is not a URL"))?
            }
            _ => return Err(bad_request("redirect_uri is required")),
        },
    };
    Ok(Target {
        client_id: client.client_id.clone(),
        redirect_uri,
        redirect_uri_param: redirect_uri_param.map(str::to_owned),
        // A repeated state is reported by `validate`; echoing either copy would be a guess.
        state: params.get("state").ok().flatten().map(str::to_owned),
    })
}

/// The redirect URI as a URL when `client` may use it: registered exactly, or any loopback
/// `http`/`https` URL for a client without registrations; never one with a fragment.
pub fn allowed_redirect(client: &MockClient, uri: &str) -> Option<Url> {
    let url = Url::parse(uri).ok()?;
    // RFC 6749 §3.1.2: the redirection endpoint URI must not include a fragment.
    if url.fragment().is_some() {
        return None;
    }
    if !client.redirect_uris.is_empty() {
        return client.redirect_uris.iter().any(|r| r == uri).then_some(url);
    }
    let loopback = match url.host()? {
        Host::Domain(domain) => domain.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(ip).is_loopback(),
    };
    (loopback && matches!(url.scheme(), "http" | "https")).then_some(url)
}

fn validate(config: &MockIdpConfig, params: &Params) -> Result<Approved, (String, String)> {
    let invalid = |description: String| ("invalid_request".to_owned(), description);
    if let Some(name) = params.first_repeated() {
        return Err(invalid(format!("{name} is repeated")));
    }
    // Repetition was ruled out above, so `get` cannot fail from here on.
    let get = |name: &str| params.get(name).ok().flatten();
    match get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(("unsupported_response_type".into(), "only response_type=code is supported".into()));
        }
        None => return Err(invalid("response_type is required".into())),
    }
    let challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => return Err(invalid("code_challenge_method without code_challenge".into())),
        (Some(value), method) => {
            let method = match method {
                None | Some("plain") => ChallengeMethod::Plain,
                Some("S256") => ChallengeMethod::S256,
                Some(_) => return Err(invalid("code_challenge_method must be S256 or plain".into())),
            };
            let well_formed = match method {
                ChallengeMethod::Plain => is_pkce_string(value),
                // base64url of a SHA-256 digest, unpadded.
                ChallengeMethod::S256 => value.len() == 43 && is_pkce_string(value),
            };
            if !well_formed {
                return Err(invalid("code_challenge is malformed".into()));
            }
            Some(Challenge { value: value.to_owned(), method })
        }
    };
    if config.require_pkce && challenge.is_none() {
        return Err(invalid("code_challenge is required".into()));
    }
    let scopes = parse_scope(get("scope").unwrap_or_default())
        .ok_or_else(|| ("invalid_scope".to_owned(), "scope contains forbidden characters".to_owned()))?;
    let user = match get("user") {
        Some(id) => config.user(id).ok_or_else(|| invalid("unknown user".into()))?,
        None => config
            .users
            .first()
            .ok_or_else(|| ("access_denied".to_owned(), "no users are configured".to_owned()))?,
    };
    Ok(Approved { scopes, challenge, nonce: get("nonce").map(str::to_owned), user: user.clone() })
}

fn issue_code(shared: &Shared, target: &Target, approved: Approved) -> Response {
    let code = random_token();
    let grant = CodeGrant {
        client_id: target.client_id.clone(),
        user_id: approved.user.id,
        scopes: approved.scopes,
        redirect_uri_param: target.redirect_uri_param.clone(),
        redirect_uri: target.redirect_uri.to_string(),
        challenge: approved.challenge,
        nonce: approved.nonce,
        expires_at: Instant::now().checked_add(shared.config.code_ttl),
        used: false,
    };
    if !shared.lock().add_code(&shared.config, code.clone(), grant) {
        return error_redirect(
            target,
            "temporarily_unavailable",
            Some("too many outstanding authorization codes"),
        );
    }
    redirect(target, &[("code", &code)])
}

fn error_redirect(target: &Target, error: &str, description: Option<&str>) -> Response {
    tracing::debug!(error, description, "mock idp: authorization error");
    let mut pairs = vec![("error", error)];
    if let Some(description) = description {
        pairs.push(("error_description", description));
    }
    redirect(target, &pairs)
}

/// 302 to the redirect URI with `pairs` and `state` appended to any query it already has.
fn redirect(target: &Target, pairs: &[(&str, &str)]) -> Response {
    let mut location = target.redirect_uri.clone();
    {
        let mut query = location.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
        if let Some(state) = &target.state {
            query.append_pair("state", state);
        }
    }
    match HeaderValue::from_str(location.as_str()) {
        Ok(value) => (StatusCode::FOUND, [(header::LOCATION, value)]).into_response(),
        Err(_) => {
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", Some("unrepresentable redirect"))
        }
    }
}

fn login_page(config: &MockIdpConfig, target: &Target, params: &Params, selected: &MockUser) -> Response {
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Mock sign-in</title></head>\n<body>\n",
    );
    let _ = writeln!(html, "<h1>Sign in to {}</h1>", escape_html(&target.client_id));
    html.push_str("<form method=\"post\" action=\"authorize\">\n");
    for (name, value) in params.0.iter().filter(|(name, _)| !FORM_FIELDS.contains(&name.as_str())) {
        let _ = writeln!(
            html,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape_html(name),
            escape_html(value)
        );
    }
    html.push_str("<fieldset>\n<legend>Choose an account</legend>\n");
    for user in &config.users {
        let checked = if user.id == selected.id { " checked" } else { "" };
        let _ = writeln!(
            html,
            "<label><input type=\"radio\" name=\"user\" value=\"{}\"{checked}> {} &lt;{}&gt;</label><br>",
            escape_html(&user.id),
            escape_html(&user.name),
            escape_html(&user.email)
        );
    }
    html.push_str(
        "</fieldset>\n<button type=\"submit\" name=\"action\" value=\"approve\">Approve</button>\n\
         <button type=\"submit\" name=\"action\" value=\"deny\">Deny</button>\n</form>\n</body>\n</html>\n",
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        ],
        html,
    )
        .into_response()
}
