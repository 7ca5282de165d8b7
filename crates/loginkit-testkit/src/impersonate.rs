//! The impersonating mock identity provider: serves a [`Persona`]'s paths over loopback HTTP with
//! the provider's client authentication, parameter names and fixtures, and the strict checks of a
//! real provider (registered redirect URI, single-use codes, PKCE, live tokens only).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use loginkit_core::{ProviderConfig, token_endpoint_jwt_claims};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;

use crate::persona::{
    BodyFormat, ClientAuthStyle, HttpMethod, Persona, RevokeToken, Route, RouteKind, Segment, TokenPlacement,
};
use loginkit_mock_idp::MockClient;
use loginkit_mock_idp::RecordedRequest;
use loginkit_mock_idp::wire::{
    Challenge, ChallengeMethod, Params, allowed_redirect, decode_basic, form_decode, is_form, is_pkce_string,
    json_error, random_token,
};

/// Request bodies above this size are refused.
const BODY_LIMIT: usize = 1 << 20;

/// `client_assertion_type` of RFC 7523 client authentication.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The format of a token answer, from its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    Json,
    Form,
}

impl Wire {
    /// JSON when the media type ends in `json`, form-encoded pairs otherwise.
    pub(crate) fn of(content_type: &str) -> Self {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        if essence.ends_with("json") { Wire::Json } else { Wire::Form }
    }
}

/// A token answer with fresh tokens in it.
#[derive(Debug)]
pub(crate) struct Rendered {
    pub(crate) body: String,
    pub(crate) access: String,
    /// `None` when the fixture holds no refresh token.
    pub(crate) refresh: Option<String>,
}

/// A fresh token standing in for a fixture's `original`: `seed`, or, when `original` is a JWT
/// (three base64url parts, the first two JSON objects), the same header and claims with `seed` as
/// signature, so providers reading claims from the token (Resend) still can.
fn fresh_like(original: &str, seed: &str) -> String {
    let object = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .is_some_and(|v| v.is_object())
    };
    match original.split('.').collect::<Vec<_>>().as_slice() {
        [header, claims, _] if object(header) && object(claims) => format!("{header}.{claims}.{seed}"),
        _ => seed.to_owned(),
    }
}

/// A token fixture with the access token (and the refresh token, when present) replaced at their
/// pointers by tokens made from `access` and `refresh` (see [`fresh_like`]). In a form-encoded
/// answer a pointer is `/<name>`.
pub(crate) fn render_tokens(
    fixture: &str,
    wire: Wire,
    (access_pointer, refresh_pointer): (&str, &str),
    access: &str,
    refresh: &str,
) -> Result<Rendered, String> {
    let usable = |v: &str| !v.trim().is_empty();
    match wire {
        Wire::Json => {
            let mut value: Value =
                serde_json::from_str(fixture).map_err(|e| format!("not valid JSON: {e}"))?;
            let new_access = match value.pointer_mut(access_pointer) {
                Some(Value::String(slot)) if usable(slot) => {
                    *slot = fresh_like(slot, access);
                    slot.clone()
                }
                _ => return Err(format!("no access token (a non-empty string) at `{access_pointer}`")),
            };
            let new_refresh = match value.pointer_mut(refresh_pointer) {
                Some(Value::String(slot)) if usable(slot) => {
                    *slot = fresh_like(slot, refresh);
                    Some(slot.clone())
                }
                _ => None,
            };
            Ok(Rendered { body: value.to_string(), access: new_access, refresh: new_refresh })
        }
        Wire::Form => {
            let name = |pointer: &str| {
                pointer
                    .strip_prefix('/')
                    .filter(|name| !name.contains('/'))
                    .map(str::to_owned)
                    .ok_or_else(|| format!("a form-encoded answer has no nested `{pointer}`; use `/<name>`"))
            };
            let (access_name, refresh_name) = (name(access_pointer)?, name(refresh_pointer)?);
            let mut pairs: Vec<(String, String)> =
                form_urlencoded::parse(fixture.trim().as_bytes()).into_owned().collect();
            let (mut new_access, mut new_refresh) = (None, None);
            for (key, value) in &mut pairs {
                if !usable(value) {
                    continue;
                }
                if *key == access_name {
                    *value = fresh_like(value, access);
                    new_access = Some(value.clone());
                } else if *key == refresh_name {
                    *value = fresh_like(value, refresh);
                    new_refresh = Some(value.clone());
                }
            }
            let Some(new_access) = new_access else {
                return Err(format!("no `{access_name}` pair in the form-encoded answer"));
            };
            let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
            Ok(Rendered { body, access: new_access, refresh: new_refresh })
        }
    }
}

/// A mock identity provider impersonating one [`Persona`] on `127.0.0.1` at an ephemeral port.
/// Dropping it shuts the server down.
#[derive(Debug)]
pub struct ImpersonatingIdp {
    origin: Url,
    engine: Arc<Engine>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl ImpersonatingIdp {
    /// Starts serving `persona` for one registered `client`. Must be called within a Tokio runtime,
    /// which then runs the server.
    pub async fn start(persona: &Persona, client: MockClient) -> io::Result<Self> {
        let engine =
            Arc::new(Engine { persona: persona.clone(), client, state: Mutex::new(State::default()) });
        let router = build_router(&engine)?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let origin = Url::parse(&format!("http://{addr}/")).map_err(io::Error::other)?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let server = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(error) = server.await {
                tracing::warn!(%error, "impersonating idp: server stopped with an error");
            }
        });
        tracing::debug!(persona = %persona.id, %origin, "impersonating idp: listening");
        Ok(Self { origin, engine, shutdown: Some(shutdown) })
    }

    /// The server's origin, e.g. `http://127.0.0.1:41234/`: what `ProviderConfig::base_url` takes.
    pub fn origin(&self) -> Url {
        self.origin.clone()
    }

    /// The origin joined with `path` (e.g. the persona's authorize path). A path that cannot be
    /// joined yields the origin.
    pub fn url(&self, path: &str) -> Url {
        self.origin.join(path).unwrap_or_else(|_| self.origin.clone())
    }

    /// The persona being played.
    pub fn persona(&self) -> &Persona {
        &self.engine.persona
    }

    /// The registered client.
    pub fn client(&self) -> &MockClient {
        &self.engine.client
    }

    /// A provider configuration for this server: the client's id and secret, the persona's
    /// `config` parameters and the base URL.
    pub fn provider_config(&self) -> ProviderConfig {
        let client = &self.engine.client;
        let mut config = ProviderConfig::new(client.client_id.clone(), client.client_secret.clone());
        for (key, value) in &self.engine.persona.config {
            config = config.param(key.clone(), value.clone());
        }
        config.base_url(self.origin())
    }

    /// Requests received on the route declared with `path` (as written in the persona, e.g.
    /// `/applications/{client_id}/token`), any method.
    pub fn hits(&self, path: &str) -> usize {
        self.engine.lock().hits.get(path).copied().unwrap_or(0)
    }

    /// Whether `token` is a live access or refresh token: issued and neither revoked nor rotated out.
    pub fn is_live(&self, token: &str) -> bool {
        let state = self.engine.lock();
        state.access.contains_key(token) || state.refresh.contains_key(token)
    }

    /// Every request received, oldest first (unrouted ones included).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.engine.lock().requests.clone()
    }

    /// Why each rejected request was rejected, oldest first, e.g.
    /// `POST /token: client_secret sent in the body, but this provider takes HTTP Basic`.
    pub fn rejections(&self) -> Vec<String> {
        self.engine.lock().rejections.clone()
    }
}

impl Drop for ImpersonatingIdp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

fn method_filter(method: HttpMethod) -> MethodFilter {
    match method {
        HttpMethod::Get => MethodFilter::GET,
        HttpMethod::Post => MethodFilter::POST,
        HttpMethod::Put => MethodFilter::PUT,
        HttpMethod::Patch => MethodFilter::PATCH,
        HttpMethod::Delete => MethodFilter::DELETE,
    }
}

/// One router for every persona route. Loading already rejects what axum would refuse, but the
/// router is still built under `catch_unwind` so that no persona can panic the caller.
fn build_router(engine: &Arc<Engine>) -> io::Result<Router> {
    let mut by_path: BTreeMap<String, Vec<Route>> = BTreeMap::new();
    for route in engine.persona.routes() {
        by_path.entry(route.path.route()).or_default().push(route);
    }
    let build = || {
        let mut router = Router::new();
        for (path, routes) in &by_path {
            let mut methods = MethodRouter::new();
            for route in routes {
                let (engine, route) = (engine.clone(), Arc::new(route.clone()));
                methods = methods.on(method_filter(route.method), move |request: Request| {
                    let (engine, route) = (engine.clone(), route.clone());
                    async move { engine.handle(&route, request).await }
                });
            }
            router = router.route(path, methods);
        }
        let (unrouted, wrong_method) = (engine.clone(), engine.clone());
        router
            .fallback(move |request: Request| {
                let engine = unrouted.clone();
                async move { engine.unrouted(request, StatusCode::NOT_FOUND).await }
            })
            .method_not_allowed_fallback(move |request: Request| {
                let engine = wrong_method.clone();
                async move { engine.unrouted(request, StatusCode::METHOD_NOT_ALLOWED).await }
            })
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(build)).map_err(|_| {
        io::Error::other(format!("persona `{}`: its routes cannot be served", engine.persona.id))
    })
}

#[derive(Debug)]
struct Engine {
    persona: Persona,
    client: MockClient,
    state: Mutex<State>,
}

/// An issued authorization code.
#[derive(Debug)]
struct CodeGrant {
    client_id: String,
    redirect_uri: Option<String>,
    challenge: Option<Challenge>,
    nonce: Option<String>,
    used: bool,
}

/// A live token; tokens descending from one code share its family.
#[derive(Debug)]
struct Grant {
    client_id: String,
    family: String,
}

#[derive(Debug, Default)]
struct State {
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, Grant>,
    refresh: HashMap<String, Grant>,
    hits: BTreeMap<String, usize>,
    requests: Vec<RecordedRequest>,
    rejections: Vec<String>,
}

impl State {
    fn revoke_family(&mut self, family: &str) {
        self.access.retain(|_, grant| grant.family != family);
        self.refresh.retain(|_, grant| grant.family != family);
    }
}

/// A request the handlers work on: its parts, body and the decoded parameters.
struct Incoming {
    parts: Parts,
    body: Bytes,
    query: Params,
}

impl Incoming {
    fn header(&self, name: header::HeaderName) -> Result<Option<&str>, String> {
        let mut values = self.parts.headers.get_all(&name).iter();
        match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(_), Some(_)) => Err(format!("the {name} header is repeated")),
            (Some(value), None) => {
                value.to_str().map(Some).map_err(|_| format!("the {name} header is not visible ASCII"))
            }
        }
    }
}

/// A rejection: the reason (for [`ImpersonatingIdp::rejections`]) and the answer.
struct Rejected {
    reason: String,
    response: Box<Response>,
}

fn rejected(reason: String, response: Response) -> Rejected {
    Rejected { reason, response: Box::new(response) }
}

impl Engine {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, key: &str, parts: &Parts, body: &[u8]) {
        let recorded = RecordedRequest::capture(&parts.method, &parts.uri, &parts.headers, body);
        let mut state = self.lock();
        *state.hits.entry(key.to_owned()).or_default() += 1;
        state.requests.push(recorded);
    }

    fn reject(&self, parts: &Parts, reason: &str) {
        tracing::debug!(persona = %self.persona.id, method = %parts.method, path = parts.uri.path(), reason, "impersonating idp: rejected");
        self.lock().rejections.push(format!("{} {}: {reason}", parts.method, parts.uri.path()));
    }

    /// A request no persona endpoint answers: recorded under `(unrouted)` and explained.
    async fn unrouted(&self, request: Request, status: StatusCode) -> Response {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, BODY_LIMIT).await.unwrap_or_default();
        self.record("(unrouted)", &parts, &body);
        let reason =
            format!("persona `{}` has no endpoint {} {}", self.persona.id, parts.method, parts.uri.path());
        self.reject(&parts, &reason);
        let error = if status == StatusCode::NOT_FOUND { "not_found" } else { "method_not_allowed" };
        json_error(status, error, Some(&reason))
    }

    async fn handle(&self, route: &Route, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
            self.record(route.path.as_str(), &parts, &[]);
            self.reject(&parts, "the body is too large");
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                Some("the body is too large"),
            );
        };
        self.record(route.path.as_str(), &parts, &body);
        let query = Params::parse(parts.uri.query().unwrap_or_default().as_bytes());
        let incoming = Incoming { parts, body, query };
        let result = match self.check_path(route, incoming.parts.uri.path()) {
            Err(reason) => {
                Err(rejected(reason.clone(), json_error(StatusCode::NOT_FOUND, "not_found", Some(&reason))))
            }
            Ok(()) => match route.kind {
                RouteKind::Authorize => self.authorize(&incoming),
                RouteKind::Token { refresh } => self.token(&incoming, refresh),
                RouteKind::Refresh => self.token_error(self.refresh(&incoming)),
                RouteKind::UserInfo(index) => self.userinfo(&incoming, index),
                RouteKind::Revoke => self.revoke(&incoming),
                RouteKind::Keys => Ok(self.keys()),
            },
        };
        result.unwrap_or_else(|Rejected { reason, response }| {
            self.reject(&incoming.parts, &reason);
            *response
        })
    }

    /// `{client_id}` segments carry the client id; other `{name}` segments the configured value.
    fn check_path(&self, route: &Route, path: &str) -> Result<(), String> {
        let actual: Vec<&str> = path.split('/').skip(1).collect();
        for (i, segment) in route.path.segments().into_iter().enumerate() {
            let Segment::Param(name) = segment else { continue };
            let sent = actual.get(i).and_then(|s| form_decode(&s.replace('+', "%2B"))).unwrap_or_default();
            let expected = if name == "client_id" {
                Some(self.client.client_id.as_str())
            } else {
                self.persona.config.get(&name).map(String::as_str)
            };
            if let Some(expected) = expected.filter(|e| *e != sent) {
                return Err(format!("path segment {{{name}}} is `{sent}`, expected `{expected}`"));
            }
        }
        Ok(())
    }

    // ----- authorize -----

    fn authorize(&self, incoming: &Incoming) -> Result<Response, Rejected> {
        let bad = |reason: String| {
            let response = json_error(StatusCode::BAD_REQUEST, "invalid_request", Some(&reason));
            rejected(reason, response)
        };
        let params = &incoming.query;
        if let Some(name) = params.first_repeated() {
            return Err(bad(format!("parameter `{name}` is repeated")));
        }
        let get = |name: &str| params.get(name).ok().flatten();
        let id_param = self.persona.client_id_param.as_str();
        match get(id_param) {
            Some(id) if id == self.client.client_id => {}
            Some(id) => return Err(bad(format!("unknown {id_param} `{id}`"))),
            None => return Err(bad(format!("{id_param} is missing"))),
        }
        let spec = &self.persona.authorize;
        if let Some(missing) = spec.require.iter().find(|name| get(name).is_none()) {
            return Err(bad(format!("required parameter `{missing}` is missing")));
        }
        for (name, expected) in &spec.values {
            let sent = get(name);
            if sent != Some(expected.as_str()) {
                return Err(bad(format!("parameter `{name}` is {sent:?}, expected `{expected}`")));
            }
        }
        let redirect_param = get("redirect_uri");
        let redirect = match redirect_param {
            Some(uri) => allowed_redirect(&self.client, uri)
                .ok_or_else(|| bad(format!("redirect_uri `{uri}` is not registered for this client")))?,
            None => match self.client.redirect_uris.as_slice() {
                [only] => {
                    Url::parse(only).map_err(|_| bad("the registered redirect_uri is not a URL".into()))?
                }
                _ => return Err(bad("redirect_uri is missing".to_owned())),
            },
        };
        let challenge = match (get("code_challenge"), get("code_challenge_method")) {
            (None, None) => None,
            (None, Some(_)) => return Err(bad("code_challenge_method without code_challenge".to_owned())),
            (Some(value), method) => {
                let method = match method {
                    None | Some("plain") => ChallengeMethod::Plain,
                    Some("S256") => ChallengeMethod::S256,
                    Some(other) => {
                        return Err(bad(format!("code_challenge_method `{other}` is unsupported")));
                    }
                };
                let well_formed = match method {
                    ChallengeMethod::Plain => is_pkce_string(value),
                    ChallengeMethod::S256 => value.len() == 43 && is_pkce_string(value),
                };
                if !well_formed {
                    return Err(bad("code_challenge is malformed".to_owned()));
                }
                Some(Challenge { value: value.to_owned(), method })
            }
        };
        let code = random_token();
        self.lock().codes.insert(
            code.clone(),
            CodeGrant {
                client_id: self.client.client_id.clone(),
                redirect_uri: redirect_param.map(str::to_owned),
                challenge,
                nonce: get("nonce").map(str::to_owned),
                used: false,
            },
        );
        let mut location = redirect;
        {
            let mut query = location.query_pairs_mut();
            query.append_pair("code", &code);
            if let Some(state) = get("state") {
                query.append_pair("state", state);
            }
        }
        match HeaderValue::from_str(location.as_str()) {
            Ok(value) => Ok((StatusCode::FOUND, [(header::LOCATION, value)]).into_response()),
            Err(_) => Err(bad("the redirect is not a valid header value".to_owned())),
        }
    }

    // ----- token and refresh -----

    /// The token endpoint's error answer: the persona's error fixture with its status.
    fn error_answer(&self) -> Response {
        let token = &self.persona.token;
        let body = token.error.body.clone();
        let trimmed = body.trim_start();
        let content_type = if trimmed.starts_with('{') || trimmed.starts_with('[') {
            "application/json".to_owned()
        } else {
            token.content_type.clone()
        };
        let status = StatusCode::from_u16(token.error_status).unwrap_or(StatusCode::BAD_REQUEST);
        answer(status, &content_type, body)
    }

    /// Turns a reason into the token endpoint's error answer.
    fn token_error(&self, result: Result<Response, String>) -> Result<Response, Rejected> {
        result.map_err(|reason| rejected(reason, self.error_answer()))
    }

    fn token(&self, incoming: &Incoming, refresh_here: bool) -> Result<Response, Rejected> {
        let params = match self.token_params(incoming) {
            Ok(params) => params,
            Err(reason) => return Err(rejected(reason, self.error_answer())),
        };
        let grant_type = params.get("grant_type").ok().flatten();
        let is_refresh = match grant_type {
            Some("refresh_token") => true,
            Some(_) => false,
            None => !self.persona.token.grant_type && params.get("refresh_token").ok().flatten().is_some(),
        };
        if is_refresh && refresh_here {
            return self.token_error(self.refresh_with(incoming, &params));
        }
        self.token_error(self.exchange(incoming, &params))
    }

    /// The token request's parameters: the query for `GET`, else the form or JSON body.
    fn token_params(&self, incoming: &Incoming) -> Result<Params, String> {
        let token = &self.persona.token;
        let params = if token.method == HttpMethod::Get {
            incoming.query.clone()
        } else {
            body_params(incoming, token.body)?
        };
        if let Some(name) = params.first_repeated() {
            return Err(format!("parameter `{name}` is repeated"));
        }
        Ok(params)
    }

    fn exchange(&self, incoming: &Incoming, params: &Params) -> Result<Response, String> {
        let token = &self.persona.token;
        let get = |name: &str| params.get(name).ok().flatten();
        match (get("grant_type"), token.grant_type) {
            (Some("authorization_code"), _) | (None, false) => {}
            (Some(other), _) => return Err(format!("grant_type `{other}` is not served here")),
            (None, true) => return Err("grant_type is missing".to_owned()),
        }
        let client_id = self.authenticate(token.client_auth, incoming, params)?;
        let code = get("code").ok_or("code is missing")?;
        let Rendered { body, access, refresh } =
            token.render(&token.response.body, &random_token(), &random_token())?;
        let mut state = self.lock();
        let grant = state.codes.get_mut(code).ok_or("unknown authorization code")?;
        if grant.client_id != client_id {
            return Err("the code was issued to another client".to_owned());
        }
        if grant.used {
            // RFC 6749 §4.1.2: a replayed code may be stolen, so what it yielded is revoked.
            state.revoke_family(code);
            return Err("the authorization code was already used".to_owned());
        }
        if let Some(expected) = &grant.redirect_uri {
            match get("redirect_uri") {
                Some(sent) if sent == expected => {}
                Some(sent) => return Err(format!("redirect_uri `{sent}` differs from the authorize one")),
                None => return Err("redirect_uri is missing but was sent at authorize".to_owned()),
            }
        }
        if token.pkce {
            match (&grant.challenge, get("code_verifier")) {
                (Some(challenge), Some(verifier)) if challenge.verify(verifier) => {}
                (Some(_), Some(_)) => {
                    return Err("code_verifier does not match the code_challenge".to_owned());
                }
                (Some(_), None) => return Err("code_verifier is missing".to_owned()),
                (None, Some(_)) => {
                    return Err("code_verifier sent for a code without code_challenge".to_owned());
                }
                (None, None) => {}
            }
        }
        grant.used = true;
        let body = self.with_id_token(body, true, grant.nonce.as_deref())?;
        let family = code.to_owned();
        state.access.insert(access, Grant { client_id: client_id.clone(), family: family.clone() });
        if let Some(refresh) = refresh {
            state.refresh.insert(refresh, Grant { client_id, family });
        }
        drop(state);
        Ok(answer(StatusCode::OK, &token.content_type, body))
    }

    fn refresh(&self, incoming: &Incoming) -> Result<Response, String> {
        let params = self.token_params(incoming)?;
        self.refresh_with(incoming, &params)
    }

    fn refresh_with(&self, incoming: &Incoming, params: &Params) -> Result<Response, String> {
        let token = &self.persona.token;
        let Some(spec) = &self.persona.refresh else {
            return Err("this provider issues no refresh tokens".to_owned());
        };
        let get = |name: &str| params.get(name).ok().flatten();
        match (get("grant_type"), token.grant_type) {
            (Some("refresh_token"), _) | (None, false) => {}
            (Some(other), _) => return Err(format!("grant_type `{other}` is not served here")),
            (None, true) => return Err("grant_type is missing".to_owned()),
        }
        let client_id = self.authenticate(token.client_auth, incoming, params)?;
        let old = get("refresh_token").ok_or("refresh_token is missing")?;
        let Rendered { body, access, refresh } =
            token.render(&spec.response.body, &random_token(), &random_token())?;
        let mut state = self.lock();
        let grant = state.refresh.get(old).ok_or("unknown or revoked refresh token")?;
        if grant.client_id != client_id {
            return Err("the refresh token was issued to another client".to_owned());
        }
        let family = grant.family.clone();
        if let Some(refresh) = refresh {
            state.refresh.remove(old);
            state.refresh.insert(refresh, Grant { client_id: client_id.clone(), family: family.clone() });
        }
        state.access.insert(access, Grant { client_id, family });
        drop(state);
        let body = self.with_id_token(body, false, None)?;
        Ok(answer(StatusCode::OK, &token.content_type, body))
    }

    // ----- ID tokens -----

    fn signer(&self) -> Option<(&crate::persona::IdTokenSpec, crate::TestSigner)> {
        let spec = self.persona.id_token.as_ref()?;
        crate::TestSigner::for_alg(&spec.alg).map(|signer| (spec, signer))
    }

    /// The published key set.
    fn keys(&self) -> Response {
        match self.signer() {
            Some((_, signer)) => answer(StatusCode::OK, "application/json", signer.jwks().to_string()),
            None => json_error(StatusCode::NOT_FOUND, "not_found", None),
        }
    }

    /// A JSON token answer with a freshly signed ID token, carrying the authorize request's
    /// `nonce`: always for a code `exchange`, else (refresh) where the fixture has one.
    fn with_id_token(&self, body: String, exchange: bool, nonce: Option<&str>) -> Result<String, String> {
        let Some((spec, signer)) = self.signer() else { return Ok(body) };
        let mut value: Value = serde_json::from_str(&body).map_err(|e| format!("token answer: {e}"))?;
        let pointer = format!("{}/id_token", self.persona.token.token_pointer);
        if !exchange && value.pointer(&pointer).is_none() {
            return Ok(body);
        }
        let mut extra = Value::Object(spec.claims.clone());
        if let Some(nonce) = nonce {
            extra["nonce"] = nonce.into();
        }
        let claims = crate::id_token::claims(&spec.issuer, &self.client.client_id, &extra);
        let token = signer.sign(&claims);
        let parent = value
            .pointer_mut(&self.persona.token.token_pointer)
            .and_then(Value::as_object_mut)
            .ok_or("the token answer has no object at token_pointer")?;
        parent.insert("id_token".to_owned(), token.into());
        Ok(value.to_string())
    }

    /// Checks the client authentication exactly as `style` demands; returns the client id.
    fn authenticate(
        &self,
        style: ClientAuthStyle,
        incoming: &Incoming,
        params: &Params,
    ) -> Result<String, String> {
        let client = &self.client;
        let get = |name: &str| params.get(name).ok().flatten();
        let id_param = self.persona.client_id_param.as_str();
        // With GET the parameters are the query; otherwise the query is checked on its own.
        let in_query = |name: &str| match self.persona.token.method {
            HttpMethod::Get => None,
            _ => incoming.query.get(name).ok().flatten(),
        };
        let authorization = incoming.header(header::AUTHORIZATION)?;
        let no_authorization = |what: &str| match authorization {
            Some(_) => Err(format!("an Authorization header was sent, but this provider takes {what}")),
            None => Ok(()),
        };
        let secret_in_query = || match in_query("client_secret") {
            Some(_) => Err("client_secret was sent in the URL query".to_owned()),
            None => Ok(()),
        };
        let check_id = |id: Option<&str>, place: &str| match id {
            Some(id) if id == client.client_id => Ok(()),
            Some(id) => Err(format!("unknown {id_param} `{id}` in the {place}")),
            None => Err(format!("{id_param} is missing from the {place}")),
        };
        let check_secret = |secret: Option<&str>, place: &str| match secret {
            Some(secret) if secret == client.client_secret => Ok(()),
            Some(_) => Err(format!("wrong client_secret in the {place}")),
            None => Err(format!("client_secret is missing from the {place}")),
        };
        match style {
            ClientAuthStyle::Basic => {
                let value = authorization.ok_or("HTTP Basic client authentication is missing")?;
                let header = HeaderValue::from_str(value).map_err(|_| "malformed Authorization header")?;
                let (id, secret) = decode_basic(&header).ok_or("malformed HTTP Basic credentials")?;
                if get("client_secret").is_some() {
                    return Err(
                        "client_secret sent in the body, but this provider takes HTTP Basic".to_owned()
                    );
                }
                secret_in_query()?;
                if get(id_param).is_some_and(|body_id| body_id != id) {
                    return Err(format!("{id_param} in the body differs from the Basic credentials"));
                }
                check_id(Some(&id), "Basic credentials")?;
                check_secret(Some(&secret), "Basic credentials")?;
            }
            ClientAuthStyle::Body => {
                no_authorization("its credentials in the body")?;
                secret_in_query()?;
                check_id(get(id_param), "body")?;
                check_secret(get("client_secret"), "body")?;
            }
            ClientAuthStyle::Query => {
                no_authorization("its credentials in the URL query")?;
                if self.persona.token.method != HttpMethod::Get && get("client_secret").is_some() {
                    return Err(
                        "client_secret sent in the body, but this provider takes it in the query".to_owned()
                    );
                }
                let (id, secret) = match self.persona.token.method {
                    HttpMethod::Get => (get(id_param), get("client_secret")),
                    _ => (in_query(id_param), in_query("client_secret")),
                };
                check_id(id, "URL query")?;
                check_secret(secret, "URL query")?;
            }
            ClientAuthStyle::None => {
                no_authorization("no client secret")?;
                if get("client_secret").is_some() || in_query("client_secret").is_some() {
                    return Err("a client_secret was sent, but this provider takes none".to_owned());
                }
                if get("client_assertion").is_some() {
                    return Err("a client_assertion was sent, but this provider takes none".to_owned());
                }
                check_id(get(id_param), "body")?;
            }
            ClientAuthStyle::PrivateKeyJwt => {
                no_authorization("a client assertion")?;
                if get("client_secret").is_some() || in_query("client_secret").is_some() {
                    return Err(
                        "a client_secret was sent, but this provider takes a client assertion".to_owned()
                    );
                }
                match get("client_assertion_type") {
                    Some(JWT_BEARER) => {}
                    Some(other) => {
                        return Err(format!("client_assertion_type `{other}` is not {JWT_BEARER}"));
                    }
                    None => return Err("client_assertion_type is missing".to_owned()),
                }
                let assertion = get("client_assertion").ok_or("client_assertion is missing")?;
                let claims = token_endpoint_jwt_claims(assertion).ok_or("client_assertion is not a JWT")?;
                for claim in ["iss", "sub"] {
                    if claims.get(claim).and_then(Value::as_str) != Some(client.client_id.as_str()) {
                        return Err(format!("client_assertion `{claim}` is not the client id"));
                    }
                }
                if let Some(id) = get(id_param) {
                    check_id(Some(id), "body")?;
                }
            }
        }
        Ok(client.client_id.clone())
    }

    // ----- user info -----

    fn userinfo(&self, incoming: &Incoming, index: usize) -> Result<Response, Rejected> {
        let unauthorized = |reason: String| {
            let mut response = json_error(StatusCode::UNAUTHORIZED, "invalid_token", Some(&reason));
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
            rejected(reason, response)
        };
        let Some(call) = self.persona.userinfo.get(index) else {
            return Err(unauthorized("no such user-info call".to_owned()));
        };
        let token = placed_token(incoming, &call.token).map_err(unauthorized)?;
        for (name, expected) in &call.headers {
            let sent = incoming.parts.headers.get(name.as_str()).and_then(|v| v.to_str().ok());
            if sent != Some(expected.as_str()) {
                let reason = format!("header `{name}` is {sent:?}, expected `{expected}`");
                return Err(rejected(
                    reason.clone(),
                    json_error(StatusCode::BAD_REQUEST, "invalid_request", Some(&reason)),
                ));
            }
        }
        if !self.lock().access.contains_key(&token) {
            return Err(unauthorized("the access token is unknown or revoked".to_owned()));
        }
        Ok(answer(StatusCode::OK, "application/json", call.response.body.clone()))
    }

    // ----- revoke -----

    fn revoke(&self, incoming: &Incoming) -> Result<Response, Rejected> {
        let Some(spec) = &self.persona.revoke else {
            return Err(rejected(
                "no revocation endpoint".to_owned(),
                json_error(StatusCode::NOT_FOUND, "not_found", None),
            ));
        };
        let bad = |reason: String| {
            let response = json_error(StatusCode::BAD_REQUEST, "invalid_request", Some(&reason));
            rejected(reason, response)
        };
        let params = match (spec.method, is_json(&incoming.parts.headers)) {
            (HttpMethod::Get, _) => incoming.query.clone(),
            _ if incoming.body.is_empty() && spec.token != RevokeToken::Body => Params::default(),
            (_, true) => body_params(incoming, BodyFormat::Json).map_err(bad)?,
            (_, false) => body_params(incoming, BodyFormat::Form).map_err(bad)?,
        };
        if let Some(name) = params.first_repeated() {
            return Err(bad(format!("parameter `{name}` is repeated")));
        }
        if let Some(style) = self.persona.revoke_client_auth().filter(|s| *s != ClientAuthStyle::None) {
            self.authenticate(style, incoming, &params).map_err(|reason| {
                let response = json_error(StatusCode::UNAUTHORIZED, "invalid_client", Some(&reason));
                rejected(reason, response)
            })?;
        }
        let token = match &spec.token {
            RevokeToken::Body => match params.get(&spec.param) {
                Ok(Some(token)) => token.to_owned(),
                _ => return Err(bad(format!("`{}` is missing", spec.param))),
            },
            RevokeToken::Placement(placement) => placed_token(incoming, placement).map_err(|reason| {
                let response = json_error(StatusCode::UNAUTHORIZED, "invalid_token", Some(&reason));
                rejected(reason, response)
            })?,
        };
        let token = token.as_str();
        let mut state = self.lock();
        if let Some(grant) = state.access.get(token) {
            if grant.client_id != self.client.client_id {
                return Err(bad("the token was issued to another client".to_owned()));
            }
            state.access.remove(token);
        } else if let Some(grant) = state.refresh.get(token) {
            // Revoking a refresh token ends its whole grant (RFC 7009 §2.1).
            let family = grant.family.clone();
            state.revoke_family(&family);
        }
        drop(state);
        let status = StatusCode::from_u16(spec.status).unwrap_or(StatusCode::OK);
        let mut response = Response::new(Body::empty());
        *response.status_mut() = status;
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }
}

/// The token where `placement` says it travels.
fn placed_token(incoming: &Incoming, placement: &TokenPlacement) -> Result<String, String> {
    let from_scheme = |scheme: &str| {
        let authorization = incoming.header(header::AUTHORIZATION)?;
        authorization
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(s, _)| s.eq_ignore_ascii_case(scheme))
            .map(|(_, token)| token.trim().to_owned())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| format!("expected the access token as `Authorization: {scheme} <token>`"))
    };
    let field = |params: &Params, name: &str, place: &str| match params.get(name) {
        Ok(Some(token)) => Ok(token.to_owned()),
        Ok(None) => Err(format!("expected the access token in the `{name}` {place}")),
        Err(_) => Err(format!("the `{name}` {place} is repeated")),
    };
    match placement {
        TokenPlacement::Bearer => from_scheme("Bearer"),
        TokenPlacement::Scheme(scheme) => from_scheme(scheme),
        TokenPlacement::Query(name) => field(&incoming.query, name, "query parameter"),
        TokenPlacement::Form(name) => {
            let format = if is_json(&incoming.parts.headers) { BodyFormat::Json } else { BodyFormat::Form };
            field(&body_params(incoming, format)?, name, "body field")
        }
    }
}

/// Whether the request declares a JSON body.
fn is_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| Wire::of(v) == Wire::Json)
}

/// The body's parameters: form pairs, or the string, number and boolean members of a JSON object.
fn body_params(incoming: &Incoming, format: BodyFormat) -> Result<Params, String> {
    match format {
        BodyFormat::Form => {
            if !is_form(&incoming.parts.headers) {
                return Err("the body must be application/x-www-form-urlencoded".to_owned());
            }
            Ok(Params::parse(&incoming.body))
        }
        BodyFormat::Json => {
            if !is_json(&incoming.parts.headers) {
                return Err("the body must be application/json".to_owned());
            }
            let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(&incoming.body) else {
                return Err("the body is not a JSON object".to_owned());
            };
            let mut pairs = Vec::with_capacity(object.len());
            for (name, value) in object {
                let value = match value {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => continue,
                    _ => return Err(format!("JSON member `{name}` is not a string")),
                };
                pairs.push((name, value));
            }
            Ok(Params(pairs))
        }
    }
}

/// An answer with this status, content type and body, cached nowhere.
fn answer(status: StatusCode, content_type: &str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers: &mut HeaderMap = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOP: (&str, &str) = ("/access_token", "/refresh_token");

    #[test]
    fn tokens_are_replaced_at_a_nested_pointer() {
        let fixture = r#"{"ok": true, "authed_user": {"access_token": "xoxp-1", "refresh_token": "xoxe-1"}}"#;
        let nested = ("/authed_user/access_token", "/authed_user/refresh_token");
        let rendered = render_tokens(fixture, Wire::Json, nested, "A", "R").unwrap();
        let value: Value = serde_json::from_str(&rendered.body).unwrap();
        assert_eq!(value["authed_user"]["access_token"], "A");
        assert_eq!(value["authed_user"]["refresh_token"], "R");
        assert_eq!((rendered.access.as_str(), rendered.refresh.as_deref()), ("A", Some("R")));
        assert!(render_tokens(fixture, Wire::Json, ("/missing", "/r"), "A", "R").is_err());
        assert!(render_tokens(fixture, Wire::Json, TOP, "A", "R").is_err(), "no token at the root");
        let yammer = r#"{"access_token": {"token": "t", "user_id": 7}}"#;
        let pointers = ("/access_token/token", "/refresh_token");
        let rendered = render_tokens(yammer, Wire::Json, pointers, "A", "R").unwrap();
        assert_eq!(serde_json::from_str::<Value>(&rendered.body).unwrap()["access_token"]["token"], "A");
        assert_eq!(rendered.refresh, None);
    }

    #[test]
    fn tokens_are_replaced_in_a_form_body() {
        let fixture = "access_token=old&scope=a%20b&token_type=bearer\n";
        let rendered = render_tokens(fixture, Wire::Form, TOP, "A", "R").unwrap();
        assert_eq!(rendered.body, "access_token=A&scope=a+b&token_type=bearer");
        assert_eq!(rendered.refresh, None);
        assert!(render_tokens("scope=x", Wire::Form, TOP, "A", "R").is_err());
        assert!(render_tokens("access_token=x", Wire::Form, ("/x/access_token", "/r"), "A", "R").is_err());
    }

    #[test]
    fn jwt_tokens_keep_their_header_and_claims() {
        let part = |v: &str| URL_SAFE_NO_PAD.encode(v);
        let jwt = format!("{}.{}.c2ln", part(r#"{"alg":"ES256"}"#), part(r#"{"sub":"u1"}"#));
        let fresh = fresh_like(&jwt, "SEED");
        assert_eq!(fresh, format!("{}.{}.SEED", part(r#"{"alg":"ES256"}"#), part(r#"{"sub":"u1"}"#)));
        assert_eq!(fresh_like("opaque", "SEED"), "SEED");
        assert_eq!(fresh_like("a.b.c", "SEED"), "SEED");
        assert_eq!(fresh_like(&format!("{}.{}.s", part("[1]"), part("{}")), "SEED"), "SEED");
    }

    #[test]
    fn wire_follows_the_content_type() {
        assert_eq!(Wire::of("application/json; charset=utf-8"), Wire::Json);
        assert_eq!(Wire::of("application/vnd.api+json"), Wire::Json);
        assert_eq!(Wire::of("application/x-www-form-urlencoded"), Wire::Form);
        assert_eq!(Wire::of("text/plain"), Wire::Form);
    }
}
