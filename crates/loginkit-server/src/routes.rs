//! The HTTP routes: Appwrite's account OAuth2 API, the demo page, CORS. Each handler translates
//! between HTTP and one [`Flow`] call.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use loginkit_flow::{
    CallbackRequest, Client, Cookie, Flow, FlowError, IdTokenSignIn, NewSession, Session, StartRequest,
    Timestamp, TokenRedemption, User, form_post_location,
};
use serde_json::{Value, json};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use url::Url;

use crate::AppState;
use crate::api_keys::{ApiKey, Scope};
use crate::errors::{ApiError, ErrorType};
use crate::http::{
    SameSite, cookies, current_session, first, identity_json, pairs, project_id, scopes, session_cookie_name,
    session_json, set_cookie, user_json,
};

type Shared = State<Arc<AppState>>;

/// How long readiness waits for each project's database (probes give up after a second or so).
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the browser-binding cookie is sent: the callback routes only.
const CALLBACK_PATH: &str = "/v1/account/sessions/oauth2/callback";

/// The server's routes with CORS for the projects' allowed origins.
pub fn router(state: Arc<AppState>) -> Router {
    let origins = state.clone();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, request: &Parts| {
            origin.to_str().is_ok_and(|origin| origins.cors_trusts(origin, request))
        }))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([HeaderName::from_static("x-fallback-cookies")])
        .max_age(Duration::from_secs(3600));
    // Login starts are limited per client; callbacks are not (a user who approved at the
    // provider must not be turned away on the way back, and a callback without its browser's
    // binding cookie is refused before it costs a provider call).
    let starts = Router::new()
        .route("/v1/account/sessions/oauth2/{provider}", get(start_session))
        .route("/v1/account/tokens/oauth2/{provider}", get(start_token))
        .route_layer(middleware::from_fn_with_state(state.clone(), crate::rate_limit::limit));
    Router::new()
        .route("/", get(demo))
        .merge(starts)
        .route(
            "/v1/account/sessions/oauth2/callback/{provider}/{project}",
            get(callback).post(callback_post).layer(DefaultBodyLimit::max(64 * 1024)),
        )
        .route("/v1/account/sessions/token", post(create_session).layer(DefaultBodyLimit::max(16 * 1024)))
        .route(
            "/v1/account/sessions/id-token",
            post(id_token_session).layer(DefaultBodyLimit::max(32 * 1024)),
        )
        .route("/v1/account/sessions", get(list_sessions).delete(delete_sessions))
        .route("/v1/account/sessions/{id}", get(get_session).patch(update_session).delete(delete_session))
        .route("/v1/account", get(account))
        .route("/v1/account/identities", get(list_identities))
        .route("/v1/account/identities/{id}", delete(delete_identity))
        .route("/v1/users/{user_id}", get(get_user))
        .route("/health/live", get(live))
        .route("/metrics", get(metrics))
        .route("/health/ready", get(ready))
        .fallback(not_found)
        // Every answer says what it is, redirects and 204s included, as Appwrite's do: SDKs read
        // the header unconditionally (the Python SDK fails with a KeyError without it), and a
        // body-less answer must not claim JSON (the Web SDK would parse it).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ))
        // Callback URLs carry codes and state: never pass them on in a Referer (RFC 9700 §4.2).
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(middleware::from_fn(log_request))
        .layer(cors)
        .with_state(state)
}

async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    // The path only: callback queries carry codes and state.
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(%method, path, status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    response
}

/// Prometheus metrics, for loopback and `metrics_from` only (by the connection's own address,
/// never a forwarded one); 404 for everyone else.
async fn metrics(State(state): Shared, ConnectInfo(addr): ConnectInfo<SocketAddr>) -> Response {
    let ip = addr.ip().to_canonical();
    if !ip.is_loopback() && !state.metrics_from.iter().any(|net| net.contains(&ip)) {
        return not_found().await.into_response();
    }
    let mut response =
        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
            .into_response();
    no_store(&mut response);
    response
}

/// Liveness: the process answers.
async fn live() -> Response {
    let mut response = axum::Json(json!({ "status": "pass" })).into_response();
    no_store(&mut response);
    response
}

/// Readiness: every project's database answers a read within [`READY_TIMEOUT`] (the keys were
/// loaded at start, or the server would not be running). 503 naming the projects that do not.
async fn ready(State(state): Shared) -> Response {
    let mut failing = Vec::new();
    for (project, flow) in &state.projects {
        let error = match tokio::time::timeout(READY_TIMEOUT, flow.user("")).await {
            Ok(Ok(_)) => continue,
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {READY_TIMEOUT:?}"),
        };
        tracing::warn!(project, %error, "readiness: the database does not answer");
        failing.push(project.clone());
    }
    let (status, body) = if failing.is_empty() {
        (StatusCode::OK, json!({ "status": "pass" }))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, json!({ "status": "fail", "projects": failing }))
    };
    let mut response = (status, axum::Json(body)).into_response();
    no_store(&mut response);
    response
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorType::GeneralRouteNotFound, "The requested route was not found.")
}

fn flow_for<'a>(
    state: &'a AppState,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Result<(&'a Flow, String), ApiError> {
    let id = project_id(query, headers).ok_or_else(|| {
        ApiError::new(
            ErrorType::ProjectNotFound,
            "No project: send X-Appwrite-Project or the `project` parameter.",
        )
    })?;
    state.projects.get_key_value(id).map(|(id, flow)| (flow, id.clone())).ok_or_else(|| {
        ApiError::new(ErrorType::ProjectNotFound, "Project with the requested ID could not be found.")
    })
}

fn client(state: &AppState, addr: SocketAddr, headers: &HeaderMap) -> Client {
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    Client { ip: state.client_ip(addr, headers).to_string(), user_agent: user_agent.to_owned() }
}

fn host(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|v| v.to_str().ok())
}

fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache, must-revalidate, max-age=0"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn redirect(status: StatusCode, location: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    no_store(&mut response);
    response
}

async fn start_session(
    state: Shared,
    provider: Path<String>,
    headers: HeaderMap,
    query: RawQuery,
) -> Result<Response, ApiError> {
    start(&state, &provider, &headers, query, false).await
}

async fn start_token(
    state: Shared,
    provider: Path<String>,
    headers: HeaderMap,
    query: RawQuery,
) -> Result<Response, ApiError> {
    start(&state, &provider, &headers, query, true).await
}

/// The project named by a callback path (`/v1/account/sessions/oauth2/callback/{provider}/{project}`).
pub(crate) fn callback_project(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(CALLBACK_PATH)?.strip_prefix('/')?;
    let (_provider, project) = rest.split_once('/')?;
    (!project.is_empty() && !project.contains('/')).then_some(project)
}

fn callback_url(base: &Url, provider: &str, project: &str) -> Url {
    let mut url = base.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .pop_if_empty()
            .extend(["v1", "account", "sessions", "oauth2", "callback", provider, project]);
    }
    url.set_query(None);
    url
}

async fn start(
    state: &AppState,
    provider: &str,
    headers: &HeaderMap,
    RawQuery(query): RawQuery,
    token: bool,
) -> Result<Response, ApiError> {
    let query = pairs(query.unwrap_or_default().as_bytes());
    let (flow, project) = flow_for(state, &query, headers)?;
    // The app's server with its key starts a login for a browser: bound to the key, not to a
    // cookie on this answer (which the browser never sees).
    let key = state.api_key(&project, headers, Scope::SessionsWrite)?;
    let redirect_uri = callback_url(&state.base_url(host(headers)), provider, &project);
    let scopes = scopes(&query);
    // Everything but Appwrite's own parameters is a login parameter, which the flow allows or
    // refuses per provider.
    let params: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "project" | "success" | "failure") && !k.starts_with("scopes"))
        .cloned()
        .collect();
    let started = flow
        .start(&StartRequest {
            provider,
            success: first(&query, "success"),
            failure: first(&query, "failure"),
            scopes: &scopes,
            token,
            redirect_uri: &redirect_uri,
            params: &params,
            backend: key.map(ApiKey::name),
        })
        .await?;
    state.metrics.started(&project, provider);
    let mut response = redirect(StatusCode::MOVED_PERMANENTLY, started.location.as_str());
    if let Some(cookie) = &started.cookie {
        append_cookie(&mut response, cookie);
    }
    Ok(response)
}

fn append_cookie(response: &mut Response, cookie: &Cookie) {
    if let Ok(value) = HeaderValue::from_str(&cookie.header()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

async fn callback(
    State(state): Shared,
    Path((provider, project)): Path<(String, String)>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let flow = state.projects.get(&project).ok_or_else(|| {
        ApiError::new(ErrorType::ProjectNotFound, "Project with the requested ID could not be found.")
    })?;
    let params = pairs(query.unwrap_or_default().as_bytes());
    let current = link_target(flow, &project, &headers).await?;
    let client = client(&state, addr, &headers);
    let jar = cookies(&headers);
    let began = std::time::Instant::now();
    let completed = flow
        .callback(&CallbackRequest {
            provider: &provider,
            params: &params,
            cookies: &jar,
            current_session: current.as_ref(),
            client: &client,
        })
        .await;
    let failure = match &completed {
        Ok(done) => done.error.as_ref().map(FlowError::code),
        Err(error) => Some(error.code()),
    };
    state.metrics.finished(&project, &provider, began.elapsed(), failure);
    let completed = completed?;
    let location = match &completed.error {
        Some(error) => ApiError::from(error).on_failure_url(&completed.location),
        None => completed.location.clone(),
    };
    let mut response = redirect(StatusCode::MOVED_PERMANENTLY, location.as_str());
    for cookie in &completed.cookies {
        append_cookie(&mut response, cookie);
    }
    if let Some(session) = &completed.session {
        // A redirect, not an API answer: the browser keeps the cookies, and no SDK reads a
        // fallback header here (it would only put the session secret in one more place).
        attach_session(&state, &project, &headers, &mut response, session, Fallback::Never);
    }
    Ok(response)
}

/// `response_mode=form_post` (Apple): the fields come as a cross-site POST, which carries no
/// SameSite=Lax cookie. Bounce them to the GET route, a top-level navigation that does.
async fn callback_post(
    Path((provider, project)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let base = Url::parse("http://callback.invalid/").expect("static URL");
    let path = callback_url(&base, &provider, &project);
    let location = form_post_location(path.path(), query.unwrap_or_default().as_bytes(), &body);
    redirect(StatusCode::SEE_OTHER, &location)
}

/// Whether the browser treats this request's origin as secure: https, or `localhost`, which
/// browsers accept `Secure` cookies from over plain http.
fn secure_context(state: &AppState, request: &HeaderMap) -> bool {
    state.secure() || host(request).is_some_and(|h| h == "localhost" || h.starts_with("localhost:"))
}

/// The main session cookie's attributes: usable cross-site where the browser allows it.
fn session_cookie_policy(state: &AppState, request: &HeaderMap) -> (bool, SameSite) {
    if secure_context(state, request) { (true, SameSite::None) } else { (false, SameSite::Lax) }
}

/// Whether a response creating a session may carry `X-Fallback-Cookies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fallback {
    /// An API call (`POST /v1/account/sessions/token`): when the caller is on another site, or
    /// does not say where it is (native SDKs, servers).
    WhenCrossSite,
    /// A browser redirect: never.
    Never,
}

/// Sets the session cookies like Appwrite: `a_session_<project>` (`SameSite=None; Secure` where
/// the browser allows it, else `Lax`) and its `_legacy` twin without a SameSite attribute, and
/// `X-Fallback-Cookies` as `fallback` allows.
fn attach_session(
    state: &AppState,
    project: &str,
    request: &HeaderMap,
    response: &mut Response,
    new: &NewSession,
    fallback: Fallback,
) {
    let name = session_cookie_name(project);
    let max_age =
        u64::try_from((new.session.expire.millis() - Timestamp::now().millis()) / 1000).unwrap_or(0);
    let (secure, same_site) = session_cookie_policy(state, request);
    let legacy = format!("{name}_legacy");
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, set_cookie(&name, &new.cookie_value, "/", max_age, secure, same_site));
    headers.append(
        header::SET_COOKIE,
        set_cookie(&legacy, &new.cookie_value, "/", max_age, state.secure(), SameSite::Unset),
    );
    let origin_host = request
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(|o| Url::parse(o).ok())
        .and_then(|u| u.host_str().map(str::to_owned));
    let request_host = host(request)
        .and_then(|h| Url::parse(&format!("http://{h}/")).ok())
        .and_then(|u| u.host_str().map(str::to_owned));
    if fallback == Fallback::WhenCrossSite && (origin_host.is_none() || origin_host != request_host) {
        let fallback = json!({ name: new.cookie_value }).to_string();
        if let Ok(value) = HeaderValue::from_str(&fallback) {
            headers.insert(HeaderName::from_static("x-fallback-cookies"), value);
        }
    }
}

/// Deletes the session cookies, and the SDK's stored fallback copy (an empty
/// `X-Fallback-Cookies`, which the SDK stores in place of the old value).
fn clear_session_cookies(state: &AppState, project: &str, request: &HeaderMap, response: &mut Response) {
    let name = session_cookie_name(project);
    let (secure, same_site) = session_cookie_policy(state, request);
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, set_cookie(&name, "", "/", 0, secure, same_site));
    headers.append(
        header::SET_COOKIE,
        set_cookie(&format!("{name}_legacy"), "", "/", 0, state.secure(), SameSite::Unset),
    );
    headers.insert(HeaderName::from_static("x-fallback-cookies"), HeaderValue::from_static("{}"));
}

async fn create_session(
    State(state): Shared,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (flow, project, key, body) =
        session_request(&state, query, &headers, &body, "\"userId\" and \"secret\"")?;
    let fields: Vec<(String, String)> =
        body.into_iter().filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned()))).collect();
    let (Some(user_id), Some(secret)) = (first(&fields, "userId"), first(&fields, "secret")) else {
        return Err(ApiError::new(
            ErrorType::GeneralArgumentInvalid,
            "Param \"userId\" and \"secret\" are required.",
        ));
    };
    let client = client(&state, addr, &headers);
    let redemption = TokenRedemption { user_id, secret, backend: key.map(ApiKey::name), client: &client };
    let new = flow.redeem_token(&redemption).await?;
    Ok(session_created(&state, flow, &project, &headers, &new, key))
}

/// The 201 answer of a session-creating POST. A browser or app gets the session cookies (and
/// `X-Fallback-Cookies` where it may need them); the app's server, by its API key, gets the
/// cookie's value as the session's `secret` (Appwrite's semantics: it keeps it in its own cookie
/// and sends it back as `X-Appwrite-Session`) and no cookies.
fn session_created(
    state: &AppState,
    flow: &Flow,
    project: &str,
    headers: &HeaderMap,
    new: &NewSession,
    key: Option<&ApiKey>,
) -> Response {
    let mut json = session_json(flow, &new.session, true);
    if key.is_some() {
        json["secret"] = Value::String(new.cookie_value.clone());
    }
    let mut response = (StatusCode::CREATED, axum::Json(json)).into_response();
    if key.is_none() {
        attach_session(state, project, headers, &mut response, new, Fallback::WhenCrossSite);
    }
    no_store(&mut response);
    response
}

/// The session a login links its identity to: the one the request is signed in with. A session
/// the project refuses (a blocked user) links nothing: the login goes on as if no one were
/// signed in, and the policy judges it like any other.
async fn link_target(flow: &Flow, project: &str, headers: &HeaderMap) -> Result<Option<Session>, ApiError> {
    match current_session(flow, project, headers).await {
        Ok(found) => Ok(found.map(|(session, _)| session)),
        Err(refused)
            if matches!(refused.kind(), ErrorType::UserBlocked | ErrorType::GeneralAccessForbidden) =>
        {
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// A session-creating POST's project flow and id, API key and JSON object.
type SessionPost<'s> = (&'s Flow, String, Option<&'s ApiKey>, serde_json::Map<String, Value>);

/// What a session-creating POST brings: its project's flow and id, the API key it authenticates
/// with (`sessions.write`), and its JSON object. A cross-site HTML form could log the browser
/// into the attacker's account (login CSRF): only JSON (which needs a CORS preflight from another
/// site) from an allowed origin is taken.
fn session_request<'s>(
    state: &'s AppState,
    query: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
    fields: &str,
) -> Result<SessionPost<'s>, ApiError> {
    let query = pairs(query.unwrap_or_default().as_bytes());
    let (flow, project) = flow_for(state, &query, headers)?;
    let key = state.api_key(&project, headers, Scope::SessionsWrite)?;
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && !flow.project().allow().trusts_origin(origin, state.secure())
    {
        return Err(ApiError::new(
            ErrorType::GeneralUnknownOrigin,
            "The request's origin is not allowed for this project.",
        ));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("application/json"));
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) if json => Ok((flow, project, key, map)),
        _ => Err(ApiError::new(
            ErrorType::GeneralArgumentInvalid,
            format!("The body must be a JSON object with {fields}."),
        )),
    }
}

/// `POST /v1/account/sessions/id-token` (Web SDK 28's `createIdTokenSession`): an ID token the
/// app obtained natively, for a session. `{provider, idToken, nonce?, accessToken?,
/// accessTokenExpiry? (seconds), name?}`.
async fn id_token_session(
    State(state): Shared,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (flow, project, key, body) =
        session_request(&state, query, &headers, &body, "\"provider\" and \"idToken\"")?;
    let text = |name: &str| -> Result<Option<&str>, ApiError> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.as_str())),
            Some(_) => Err(ApiError::new(
                ErrorType::GeneralArgumentInvalid,
                format!("Invalid `{name}` param: Value must be a valid string."),
            )),
        }
    };
    let (Some(provider), Some(id_token)) = (text("provider")?, text("idToken")?) else {
        return Err(ApiError::new(
            ErrorType::GeneralArgumentInvalid,
            "Param \"provider\" and \"idToken\" are required.",
        ));
    };
    let lifetime = match body.get("accessTokenExpiry") {
        Some(Value::Number(n)) => n.as_u64().filter(|s| *s <= 366 * 24 * 3600).map(Duration::from_secs),
        _ => None,
    };
    let current = link_target(flow, &project, &headers).await?;
    let client = client(&state, addr, &headers);
    let request = IdTokenSignIn {
        provider,
        id_token,
        nonce: text("nonce")?,
        access_token: text("accessToken")?,
        access_token_lifetime: lifetime,
        name: text("name")?,
        current_session: current.as_ref(),
        client: &client,
    };
    let began = std::time::Instant::now();
    let new = flow.sign_in_with_id_token(&request).await;
    let failure = new.as_ref().err().map(FlowError::code);
    state.metrics.finished(&project, provider, began.elapsed(), failure);
    let new = new?;
    Ok(session_created(&state, flow, &project, &headers, &new, key))
}

/// `GET /v1/users/{userId}` (the server SDKs' `users.get`), for API keys with `users.read`.
async fn get_user(
    State(state): Shared,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = pairs(query.unwrap_or_default().as_bytes());
    let (flow, project) = flow_for(&state, &query, &headers)?;
    if state.api_key(&project, &headers, Scope::UsersRead)?.is_none() {
        return Err(ApiError::new(
            ErrorType::GeneralUnauthorizedScope,
            "User (role: guests) missing scopes ([\"users.read\"])",
        ));
    }
    let user = match user_id.len() {
        1..=64 => flow.user(&user_id).await?,
        _ => None,
    };
    let user = user.ok_or_else(|| {
        ApiError::new(ErrorType::UserNotFound, "User with the requested ID could not be found.")
    })?;
    let active = flow.project().policy().admit_session(&user).is_ok();
    let mut response = axum::Json(user_json(&user, active)).into_response();
    no_store(&mut response);
    Ok(response)
}

/// A request with a valid session: its project's flow, the session, and what the handlers
/// need to answer (the state for cookie attributes, the headers). Without a session the request
/// is answered `general_unauthorized_scope`.
struct SignedIn {
    state: Arc<AppState>,
    flow: Flow,
    project: String,
    session: Session,
    user: User,
    headers: HeaderMap,
}

impl FromRequestParts<Arc<AppState>> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let query = pairs(parts.uri.query().unwrap_or_default().as_bytes());
        let (flow, project) = flow_for(state, &query, &parts.headers)?;
        let (session, user) = current_session(flow, &project, &parts.headers).await?.ok_or_else(|| {
            ApiError::new(
                ErrorType::GeneralUnauthorizedScope,
                "User (role: guests) missing scopes ([\"account\"])",
            )
        })?;
        Ok(Self {
            state: state.clone(),
            flow: flow.clone(),
            project,
            session,
            user,
            headers: parts.headers.clone(),
        })
    }
}

impl SignedIn {
    /// The session `id` names: `current` (or the current session's id), else another session of
    /// the same user.
    async fn target(&self, id: &str) -> Result<Session, ApiError> {
        if id == "current" || id == self.session.id {
            Ok(self.session.clone())
        } else {
            Ok(self.flow.session(&self.session.user_id, id).await?)
        }
    }

    fn session_json(&self, session: &Session) -> Value {
        session_json(&self.flow, session, session.id == self.session.id)
    }

    /// A 204 answer, clearing the session cookies when `signed_out`.
    fn no_content(&self, signed_out: bool) -> Response {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if signed_out {
            clear_session_cookies(&self.state, &self.project, &self.headers, &mut response);
        }
        response
    }
}

async fn get_session(me: SignedIn, Path(id): Path<String>) -> Result<Response, ApiError> {
    let session = me.target(&id).await?;
    Ok(axum::Json(me.session_json(&session)).into_response())
}

async fn update_session(me: SignedIn, Path(id): Path<String>) -> Result<Response, ApiError> {
    let session = me.target(&id).await?;
    let updated = me.flow.refresh_session(&session).await?;
    Ok(axum::Json(me.session_json(&updated)).into_response())
}

async fn delete_session(me: SignedIn, Path(id): Path<String>) -> Result<Response, ApiError> {
    let session = me.target(&id).await?;
    me.flow.delete_session(&me.session.user_id, &session.id).await?;
    Ok(me.no_content(session.id == me.session.id))
}

async fn list_sessions(me: SignedIn) -> Result<Response, ApiError> {
    let sessions = me.flow.sessions(&me.session.user_id).await?;
    let list: Vec<Value> = sessions.iter().map(|s| me.session_json(s)).collect();
    Ok(axum::Json(json!({ "total": list.len(), "sessions": list })).into_response())
}

async fn delete_sessions(me: SignedIn) -> Result<Response, ApiError> {
    me.flow.delete_sessions(&me.session.user_id).await?;
    Ok(me.no_content(true))
}

async fn account(me: SignedIn) -> Result<Response, ApiError> {
    // The user came with the session, in the same read.
    let active = me.flow.project().policy().admit_session(&me.user).is_ok();
    Ok(axum::Json(user_json(&me.user, active)).into_response())
}

async fn list_identities(me: SignedIn) -> Result<Response, ApiError> {
    let identities = me.flow.identities(&me.session.user_id).await?;
    let list: Vec<Value> = identities.iter().map(|i| identity_json(&me.flow, i)).collect();
    Ok(axum::Json(json!({ "total": list.len(), "identities": list })).into_response())
}

async fn delete_identity(me: SignedIn, Path(id): Path<String>) -> Result<Response, ApiError> {
    me.flow.delete_identity(&me.session.user_id, &id).await?;
    Ok(me.no_content(false))
}

/// The demo page: sign-in buttons for the default project's providers and the resulting session.
async fn demo(State(state): Shared) -> Response {
    let default = state.projects.get_key_value(crate::config::DEFAULT_PROJECT);
    let Some((project, flow)) = default.or_else(|| state.projects.iter().next()) else {
        return Html("<!doctype html><p>No project is configured.</p>".to_owned()).into_response();
    };
    let project_providers = flow.project();
    let providers: Vec<Value> = project_providers
        .provider_ids()
        .filter_map(|id| project_providers.provider(id))
        .map(|p| json!({ "id": p.descriptor().id, "name": p.descriptor().display_name }))
        .collect();
    let config = json!({ "project": project, "providers": providers });
    // `</` cannot appear in the JSON as written into a <script>.
    let config = config.to_string().replace("</", "<\\/");
    let mut response =
        Html(include_str!("../assets/demo.html").replace("__LOGINKIT_CONFIG__", &config)).into_response();
    no_store(&mut response);
    response
}
