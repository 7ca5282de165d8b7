//! loginkit for [axum]: the login routes, the session cookie, and an extractor for the
//! signed-in user.
//!
//! [`LoginKit::install`] adds the routes under a mount path (`/auth` by default) and makes
//! [`SignedIn`] work in every handler of the app:
//!
//! | route | what it does |
//! |---|---|
//! | `GET /auth/{provider}` | starts a login (`?success=`, `?failure=` on the allow-list, `?scopes=a,b`, `?token=true` for the token flow) |
//! | `GET /auth/{provider}/callback` | finishes it: session cookie set, binding cookie cleared, redirect to the success URL (or to the failure URL with `?error=<code>`) |
//! | `POST /auth/{provider}/callback` | a `form_post` callback (Apple), sent on to the GET route |
//! | `POST /auth/sign-out` | ends the browser's session and clears its cookie (`?next=` on the allow-list, else 204) |
//! | `POST /auth/token` | redeems a token-flow `userId` and `secret` (form or JSON) for a session cookie |
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use loginkit_axum::{LoginKit, SignedIn};
//!
//! async fn me(SignedIn { user, .. }: SignedIn) -> String {
//!     format!("hello {}", user.name)
//! }
//!
//! # async fn run(flow: loginkit_flow::Flow) -> Result<(), Box<dyn std::error::Error>> {
//! let kit = LoginKit::new(flow, "https://example.com")?;
//! let app = kit.install(Router::new().route("/me", get(me)));
//! # let _: Router = app;
//! # Ok(()) }
//! ```
//!
//! The session cookie is HttpOnly, `SameSite=Lax`, `Path=/`, and `Secure` with the `__Host-`
//! prefix when the project's cookies are secure (an https site). Errors are JSON
//! `{"error": <code>, "message": ...}` with a status that says whose fault it was.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, Extension, FromRequestParts, OptionalFromRequestParts, Path, RawQuery,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use loginkit_flow::{
    CallbackRequest, Client, Cookie, Flow, FlowError, NewSession, Session, StartRequest, User,
    form_post_location, parse_cookie_header,
};
use serde::Deserialize;
use url::Url;

/// The default mount path of the routes.
pub const DEFAULT_MOUNT: &str = "/auth";
/// The default name of the session cookie (`__Host-` prefixed on a secure site).
pub const DEFAULT_SESSION_COOKIE: &str = "loginkit_session";
/// Largest body a `form_post` callback or a token redemption may send.
const MAX_BODY: usize = 64 * 1024;

/// A login flow served over axum. Cheap to clone.
#[derive(Clone)]
pub struct LoginKit {
    inner: Arc<Inner>,
}

struct Inner {
    flow: Flow,
    public_url: Url,
    mount: String,
    session_cookie: String,
}

impl std::fmt::Debug for LoginKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginKit")
            .field("public_url", &self.inner.public_url.as_str())
            .field("mount", &self.inner.mount)
            .field("session_cookie", &self.inner.session_cookie)
            .finish_non_exhaustive()
    }
}

/// Why a [`LoginKit`] could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum SetupError {
    /// The public URL does not parse, or is not an http(s) origin.
    PublicUrl(String),
    /// The mount path is not `/` followed by path segments.
    Mount(String),
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetupError::PublicUrl(why) => write!(f, "public URL: {why}"),
            SetupError::Mount(why) => write!(f, "mount path: {why}"),
        }
    }
}

impl std::error::Error for SetupError {}

impl LoginKit {
    /// The routes of `flow` for a site reachable at `public_url` (its origin: where providers
    /// send the browser back to), mounted at [`DEFAULT_MOUNT`].
    pub fn new(flow: Flow, public_url: &str) -> Result<Self, SetupError> {
        let mut url = Url::parse(public_url).map_err(|e| SetupError::PublicUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(SetupError::PublicUrl(format!("`{public_url}` is not an http(s) URL")));
        }
        if url.scheme() == "https" && !flow.project().secure_cookies() {
            tracing::warn!(
                "the site is https but the project's cookies are not Secure: set secure_cookies(true)"
            );
        }
        url.set_query(None);
        url.set_fragment(None);
        let session_cookie = flow.project().cookie_name(DEFAULT_SESSION_COOKIE);
        let mount = DEFAULT_MOUNT.to_owned();
        Ok(Self { inner: Arc::new(Inner { flow, public_url: url, mount, session_cookie }) })
    }

    /// Mounts the routes at `path` (`/auth` by default) instead.
    pub fn mount(self, path: &str) -> Result<Self, SetupError> {
        let path = path.trim_end_matches('/');
        if !path.starts_with('/') || path.contains(['?', '#', '{', '}']) || path.contains("//") {
            return Err(SetupError::Mount(format!("`{path}` is not an absolute path like `/auth`")));
        }
        Ok(self.rebuilt(|inner| inner.mount = path.to_owned()))
    }

    /// Names the session cookie `name` (`__Host-` prefixed on a secure site).
    pub fn session_cookie(self, name: &str) -> Self {
        self.rebuilt(|inner| inner.session_cookie = inner.flow.project().cookie_name(name))
    }

    fn rebuilt(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Inner {
            flow: self.inner.flow.clone(),
            public_url: self.inner.public_url.clone(),
            mount: self.inner.mount.clone(),
            session_cookie: self.inner.session_cookie.clone(),
        };
        change(&mut inner);
        Self { inner: Arc::new(inner) }
    }

    /// The flow, for everything the routes do not do (sessions and identities of a user,
    /// provider tokens, refresh, housekeeping).
    pub fn flow(&self) -> &Flow {
        &self.inner.flow
    }

    /// The callback URL of `provider`: register it with the provider.
    pub fn callback_url(&self, provider: &str) -> Url {
        let mut url = self.inner.public_url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{}/{provider}/callback", self.inner.mount));
        url
    }

    /// The login routes alone (with [`SignedIn`] working inside them only); see
    /// [`LoginKit::install`].
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let mount = &self.inner.mount;
        Router::new()
            .route(&format!("{mount}/sign-out"), post(sign_out))
            .route(&format!("{mount}/token"), post(redeem))
            .route(&format!("{mount}/{{provider}}"), get(start))
            .route(&format!("{mount}/{{provider}}/callback"), get(callback).post(form_post))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(Extension(self.clone()))
    }

    /// `app` with the login routes added and [`SignedIn`] available to all its handlers.
    pub fn install<S: Clone + Send + Sync + 'static>(&self, app: Router<S>) -> Router<S> {
        app.merge(self.routes()).layer(Extension(self.clone()))
    }

    /// The session and user a request's session cookie stands for, if it is valid.
    pub async fn signed_in(&self, headers: &HeaderMap) -> Result<Option<SignedIn>, AuthError> {
        let Some(value) = self.session_value(headers) else { return Ok(None) };
        match self.inner.flow.authenticate(&value).await? {
            Some((session, user)) => Ok(Some(SignedIn { session, user })),
            None => Ok(None),
        }
    }

    fn session_value(&self, headers: &HeaderMap) -> Option<String> {
        cookies(headers).into_iter().find(|(name, _)| *name == self.inner.session_cookie).map(|(_, v)| v)
    }

    fn session_cookie_for(&self, session: &NewSession) -> Cookie {
        let project = self.inner.flow.project();
        Cookie {
            name: self.inner.session_cookie.clone(),
            value: session.cookie_value.clone(),
            max_age: project.session_duration(),
            secure: project.secure_cookies(),
        }
    }

    fn cleared_session_cookie(&self) -> Cookie {
        Cookie {
            name: self.inner.session_cookie.clone(),
            value: String::new(),
            max_age: std::time::Duration::ZERO,
            secure: self.inner.flow.project().secure_cookies(),
        }
    }

    /// The answer of a POST route: a redirect to `next` when the project's allow-list admits
    /// it, else 204; with `cookies` either way.
    fn done(&self, next: Option<&str>, cookies: &[Cookie]) -> Response {
        match next.and_then(|next| self.inner.flow.project().allow().check(next).ok()) {
            Some(next) => redirect(StatusCode::SEE_OTHER, next.as_str(), cookies),
            None => {
                let mut response = StatusCode::NO_CONTENT.into_response();
                set_cookies(&mut response, cookies);
                response
            }
        }
    }
}

/// The signed-in user and the session their request carries. As an extractor it answers 401
/// when the request has no valid session; `Option<SignedIn>` lets a handler serve guests too.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The user.
    pub user: User,
    /// The session (provider, provider account, expiry, ...).
    pub session: Session,
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let found = <SignedIn as OptionalFromRequestParts<S>>::from_request_parts(parts, state).await?;
        found.ok_or(AuthError { status: StatusCode::UNAUTHORIZED, code: "unauthorized", message: None })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for SignedIn {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        let Some(kit) = parts.extensions.get::<LoginKit>().cloned() else {
            tracing::error!("SignedIn used on a route LoginKit::install did not wrap");
            return Err(AuthError::internal());
        };
        kit.signed_in(&parts.headers).await
    }
}

/// An error answered as JSON `{"error": <code>, "message": ...}`.
#[derive(Debug)]
pub struct AuthError {
    status: StatusCode,
    code: &'static str,
    message: Option<String>,
}

impl AuthError {
    fn internal() -> Self {
        AuthError { status: StatusCode::INTERNAL_SERVER_ERROR, code: "server_error", message: None }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error's code ([`FlowError::code`], or `unauthorized`).
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<FlowError> for AuthError {
    fn from(error: FlowError) -> Self {
        use FlowError as E;
        let status = match &error {
            E::ProviderDisabled(_) | E::ProviderUnknown(_) => StatusCode::NOT_FOUND,
            E::InvalidArgument { .. } | E::RedirectNotAllowed(_) | E::BadState(_) | E::StartFailed(_) => {
                StatusCode::BAD_REQUEST
            }
            E::InvalidToken | E::SessionNotFound => StatusCode::UNAUTHORIZED,
            E::Refused(_) => StatusCode::FORBIDDEN,
            E::Conflict(_) => StatusCode::CONFLICT,
            E::IdentityNotFound => StatusCode::NOT_FOUND,
            E::Store(_) => return AuthError::internal(),
            _ => StatusCode::BAD_GATEWAY,
        };
        AuthError { status, code: error.code(), message: Some(error.to_string()) }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let message = self.message.unwrap_or_else(|| match self.status {
            StatusCode::UNAUTHORIZED => "sign in first".to_owned(),
            _ => "the server could not complete the request".to_owned(),
        });
        (self.status, axum::Json(serde_json::json!({ "error": self.code, "message": message })))
            .into_response()
    }
}

/// The client's address, when the app is served with `into_make_service_with_connect_info`.
struct Peer(Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0)))
    }
}

fn cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(parse_cookie_header)
        .collect()
}

fn client(parts_headers: &HeaderMap, addr: Option<SocketAddr>) -> Client {
    let user_agent = parts_headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    Client { ip: addr.map(|a| a.ip().to_string()).unwrap_or_default(), user_agent: user_agent.to_owned() }
}

fn redirect(status: StatusCode, location: &str, cookies: &[Cookie]) -> Response {
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    set_cookies(&mut response, cookies);
    response
}

fn set_cookies(response: &mut Response, cookies: &[Cookie]) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie.header()) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}

struct StartQuery {
    success: Option<String>,
    failure: Option<String>,
    scopes: String,
    token: bool,
}

async fn start(
    Extension(kit): Extension<LoginKit>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AuthError> {
    let query: StartQuery = start_query(query.as_deref().unwrap_or_default())?;
    let scopes: Vec<String> =
        query.scopes.split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let redirect_uri = kit.callback_url(&provider);
    let request = StartRequest {
        success: query.success.as_deref(),
        failure: query.failure.as_deref(),
        scopes: &scopes,
        token: query.token,
        ..StartRequest::new(&provider, &redirect_uri)
    };
    let started = kit.inner.flow.start(&request).await?;
    Ok(redirect(StatusCode::SEE_OTHER, started.location.as_str(), started.cookie.as_slice()))
}

/// The start's query: known keys only, each at most once.
fn start_query(query: &str) -> Result<StartQuery, AuthError> {
    let mut out = StartQuery { success: None, failure: None, scopes: String::new(), token: false };
    let mut seen = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if seen.contains(&key) {
            return Err(bad_query(&format!("`{key}` is given twice")));
        }
        match key.as_ref() {
            "success" => out.success = Some(value.into_owned()),
            "failure" => out.failure = Some(value.into_owned()),
            "scopes" => out.scopes = value.into_owned(),
            "token" => {
                out.token = match value.as_ref() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(bad_query("`token` is true or false")),
                }
            }
            _ => {
                return Err(bad_query(&format!(
                    "unknown parameter `{}`",
                    key.chars().take(32).collect::<String>()
                )));
            }
        }
        seen.push(key);
    }
    Ok(out)
}

fn bad_query(message: &str) -> AuthError {
    AuthError { status: StatusCode::BAD_REQUEST, code: "invalid_argument", message: Some(message.to_owned()) }
}

async fn callback(
    Extension(kit): Extension<LoginKit>,
    Path(provider): Path<String>,
    Peer(peer): Peer,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AuthError> {
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    let jar = cookies(&headers);
    // A browser signed in adds the provider to its user (the flow decides whether it may).
    let current = match kit.signed_in(&headers).await {
        Ok(found) => found.map(|signed_in| signed_in.session),
        Err(error) if error.code() == "refused" => None,
        Err(error) => return Err(error),
    };
    let client = client(&headers, peer);
    let request = CallbackRequest {
        current_session: current.as_ref(),
        client: &client,
        ..CallbackRequest::new(&provider, &params, &jar)
    };
    let completed = kit.inner.flow.callback(&request).await?;
    let mut cookies = completed.cookies.clone();
    if let Some(session) = &completed.session {
        cookies.push(kit.session_cookie_for(session));
    }
    Ok(redirect(StatusCode::SEE_OTHER, completed.failure_location().as_str(), &cookies))
}

async fn form_post(
    Extension(kit): Extension<LoginKit>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let path = kit.callback_url(&provider);
    let location = form_post_location(path.path(), query.unwrap_or_default().as_bytes(), &body);
    redirect(StatusCode::SEE_OTHER, &location, &[])
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

async fn sign_out(
    Extension(kit): Extension<LoginKit>,
    headers: HeaderMap,
    axum::extract::Query(next): axum::extract::Query<Next>,
) -> Result<Response, AuthError> {
    if let Ok(Some(SignedIn { session, .. })) = kit.signed_in(&headers).await {
        match kit.inner.flow.delete_session(&session.user_id, &session.id).await {
            Ok(()) | Err(FlowError::SessionNotFound) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(kit.done(next.next.as_deref(), &[kit.cleared_session_cookie()]))
}

#[derive(Deserialize)]
struct Redemption {
    #[serde(rename = "userId")]
    user_id: String,
    secret: String,
    next: Option<String>,
}

async fn redeem(
    Extension(kit): Extension<LoginKit>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AuthError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let parsed: Option<Redemption> = if json {
        serde_json_from(&body)
    } else {
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
        let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        match (field("userId"), field("secret")) {
            (Some(user_id), Some(secret)) => Some(Redemption { user_id, secret, next: field("next") }),
            _ => None,
        }
    };
    let Some(redemption) = parsed else { return Err(bad_query("send `userId` and `secret`")) };
    let client = client(&headers, peer);
    let session =
        kit.inner.flow.create_session_from_token(&redemption.user_id, &redemption.secret, &client).await?;
    Ok(kit.done(redemption.next.as_deref(), &[kit.session_cookie_for(&session)]))
}

fn serde_json_from(body: &[u8]) -> Option<Redemption> {
    axum::Json::<Redemption>::from_bytes(body).ok().map(|json| json.0)
}
