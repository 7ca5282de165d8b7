//! An OpenID provider that answers at once: discovery, key set, an authorize endpoint that
//! approves without a page, a token endpoint checking client, code, redirect URI and PKCE and
//! signing an ES256 ID token with the login's nonce, and user info.
//!
//! Every system under test logs in against the same instance, so the provider's own cost is the
//! same for all of them. It counts what each endpoint served, and which TCP connections the
//! back-channel calls (token, user info) came on, so the driver can report outbound requests and
//! connection reuse per login.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use loginkit_testkit::TestSigner;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use url::Url;

/// The one client the provider knows.
pub const CLIENT_ID: &str = "bench";
/// Its secret.
pub const CLIENT_SECRET: &str = "bench-secret";
/// The request header naming the provider user an authorize request signs in as (the driver's
/// way of choosing the user; absent: user 1).
pub const USER_HEADER: &str = "x-bench-user";

/// Counts of what the provider served.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Discovery documents.
    pub discovery: u64,
    /// Key sets.
    pub jwks: u64,
    /// Authorize requests.
    pub authorize: u64,
    /// Token requests.
    pub token: u64,
    /// User-info requests.
    pub userinfo: u64,
    /// Distinct TCP connections that carried token or user-info requests.
    pub backchannel_connections: u64,
}

impl Counts {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            discovery: self.discovery - earlier.discovery,
            jwks: self.jwks - earlier.jwks,
            authorize: self.authorize - earlier.authorize,
            token: self.token - earlier.token,
            userinfo: self.userinfo - earlier.userinfo,
            backchannel_connections: self.backchannel_connections - earlier.backchannel_connections,
        }
    }
}

struct Grant {
    redirect_uri: String,
    challenge: Option<String>,
    nonce: Option<String>,
    user: u64,
}

#[derive(Default)]
struct Counters {
    discovery: AtomicU64,
    jwks: AtomicU64,
    authorize: AtomicU64,
    token: AtomicU64,
    userinfo: AtomicU64,
}

struct Shared {
    issuer: String,
    signer: TestSigner,
    jwks: Value,
    codes: Mutex<HashMap<String, Grant>>,
    tokens: Mutex<HashMap<String, u64>>,
    connections: Mutex<HashSet<SocketAddr>>,
    counters: Counters,
}

/// A running provider; dropping it stops it.
pub struct Idp {
    issuer: Url,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Idp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idp").field("issuer", &self.issuer.as_str()).finish_non_exhaustive()
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Idp {
    /// Starts the provider on `127.0.0.1` at a free port.
    pub async fn start() -> std::io::Result<Idp> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let issuer = format!("http://{addr}");
        let signer = TestSigner::es256();
        let shared = Arc::new(Shared {
            jwks: signer.jwks(),
            signer,
            issuer: issuer.clone(),
            codes: Mutex::default(),
            tokens: Mutex::default(),
            connections: Mutex::default(),
            counters: Counters::default(),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(shared.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Idp { issuer: Url::parse(&issuer).expect("a socket address makes a URL"), shared, task })
    }

    /// The issuer, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn issuer(&self) -> &str {
        self.shared.issuer.as_str()
    }

    /// The issuer as a URL.
    pub fn url(&self) -> &Url {
        &self.issuer
    }

    /// What was served so far.
    pub fn counts(&self) -> Counts {
        let c = &self.shared.counters;
        Counts {
            discovery: c.discovery.load(Ordering::Relaxed),
            jwks: c.jwks.load(Ordering::Relaxed),
            authorize: c.authorize.load(Ordering::Relaxed),
            token: c.token.load(Ordering::Relaxed),
            userinfo: c.userinfo.load(Ordering::Relaxed),
            backchannel_connections: self.shared.connections.lock().expect("not poisoned").len() as u64,
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}

async fn discovery(State(s): State<Arc<Shared>>) -> Response {
    s.counters.discovery.fetch_add(1, Ordering::Relaxed);
    let i = &s.issuer;
    axum::Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["openid", "profile", "email"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code"],
        "claims_supported": ["sub", "email", "email_verified", "name"],
    }))
    .into_response()
}

async fn jwks(State(s): State<Arc<Shared>>) -> Response {
    s.counters.jwks.fetch_add(1, Ordering::Relaxed);
    axum::Json(s.jwks.clone()).into_response()
}

async fn authorize(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    s.counters.authorize.fetch_add(1, Ordering::Relaxed);
    let (Some(redirect_uri), Some(state)) = (q.get("redirect_uri"), q.get("state")) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || q.get("response_type").map(String::as_str) != Some("code")
    {
        return oauth_error(StatusCode::BAD_REQUEST, "unauthorized_client");
    }
    let Ok(mut location) = Url::parse(redirect_uri) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if !matches!(location.host_str(), Some("127.0.0.1" | "localhost")) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let challenge = match (q.get("code_challenge"), q.get("code_challenge_method").map(String::as_str)) {
        (Some(c), Some("S256")) => Some(c.clone()),
        (None, _) => None,
        _ => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
    };
    let user =
        headers.get(USER_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(1);
    let code = random_token();
    let grant = Grant { redirect_uri: redirect_uri.clone(), challenge, nonce: q.get("nonce").cloned(), user };
    s.codes.lock().expect("not poisoned").insert(code.clone(), grant);
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", state)
        .append_pair("iss", &s.issuer);
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

fn client_authenticated(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let Ok(decoded) = STANDARD.decode(basic) else { return false };
        let Ok(decoded) = String::from_utf8(decoded) else { return false };
        let Some((id, secret)) = decoded.split_once(':') else { return false };
        // RFC 6749 §2.3.1: both parts are form-urlencoded.
        let unescape =
            |s: &str| form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
        return unescape(id).as_deref() == Some(CLIENT_ID)
            && unescape(secret).as_deref() == Some(CLIENT_SECRET);
    }
    form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
}

async fn token(
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    s.counters.token.fetch_add(1, Ordering::Relaxed);
    s.connections.lock().expect("not poisoned").insert(peer);
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    if !client_authenticated(&headers, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let Some(grant) = form.get("code").and_then(|code| s.codes.lock().expect("not poisoned").remove(code))
    else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    if let Some(challenge) = &grant.challenge {
        let Some(verifier) = form.get("code_verifier") else {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
        };
        if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
    }
    let now = now_secs();
    let mut claims = json!({
        "iss": s.issuer,
        "sub": subject(grant.user),
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 600,
        "email": email(grant.user),
        "email_verified": true,
        "name": format!("Bench User {}", grant.user),
    });
    if let Some(nonce) = grant.nonce {
        claims["nonce"] = Value::String(nonce);
    }
    let access_token = random_token();
    s.tokens.lock().expect("not poisoned").insert(access_token.clone(), grant.user);
    let answer = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "openid profile email",
        "id_token": s.signer.sign(&claims),
    });
    ([(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")], axum::Json(answer)).into_response()
}

async fn userinfo(
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    s.counters.userinfo.fetch_add(1, Ordering::Relaxed);
    s.connections.lock().expect("not poisoned").insert(peer);
    let user = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| s.tokens.lock().expect("not poisoned").remove(token));
    let Some(user) = user else {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")])
            .into_response();
    };
    axum::Json(json!({
        "sub": subject(user),
        "email": email(user),
        "email_verified": true,
        "name": format!("Bench User {user}"),
    }))
    .into_response()
}

/// The provider's subject for user `n`.
pub fn subject(n: u64) -> String {
    format!("bench-user-{n}")
}

/// The email of user `n`.
pub fn email(n: u64) -> String {
    format!("user{n}@bench.example")
}
