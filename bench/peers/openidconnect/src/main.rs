//! Benchmark peer: a minimal login web app on openidconnect 4 and axum 0.8.
//!
//! Environment: `ISSUER`, `CLIENT_ID`, `CLIENT_SECRET`, `PORT`. Redirect URI:
//! `http://127.0.0.1:$PORT/callback`. Routes: `GET /login`, `/callback`, `/me`, `/health`.
//! Login state and sessions are kept in memory, keyed by random cookie values.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::reqwest;
use openidconnect::{
    AccessToken, AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;

const LOGIN_COOKIE: &str = "peer_login";
const SESSION_COOKIE: &str = "peer_session";
const LOGIN_TTL: Duration = Duration::from_secs(10 * 60);
const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);

type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

struct PendingLogin {
    csrf_state: CsrfToken,
    nonce: Nonce,
    pkce_verifier: PkceCodeVerifier,
    expires_at: Instant,
}

#[allow(dead_code)] // the access token and its expiry are kept as a real app would, but not served
struct Session {
    sub: String,
    email: Option<String>,
    access_token: AccessToken,
    access_token_expires_at: Option<Instant>,
    expires_at: Instant,
}

struct AppState {
    client: OidcClient,
    http: reqwest::Client,
    pending_logins: Mutex<HashMap<String, PendingLogin>>,
    sessions: Mutex<HashMap<String, Session>>,
}

type Shared = Arc<AppState>;

fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => {
            eprintln!("missing environment variable {name}");
            std::process::exit(2);
        }
    }
}

fn random_id() -> String {
    CsrfToken::new_random_len(32).into_secret()
}

fn cookie(name: &str, value: &str, max_age: Duration) -> HeaderValue {
    let header = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}", max_age.as_secs());
    HeaderValue::from_str(&header).expect("cookie values are URL-safe")
}

fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (status, [(CACHE_CONTROL, "no-store")], body).into_response()
}

fn redirect(location: &str, cookies: &[HeaderValue]) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(LOCATION, HeaderValue::from_str(location).expect("valid URL"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for value in cookies {
        headers.append(SET_COOKIE, value.clone());
    }
    response
}

async fn login(State(app): State<Shared>) -> Response {
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, csrf_state, nonce) = app
        .client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".to_string()))
        .add_scope(Scope::new("email".to_string()))
        .set_pkce_challenge(pkce_challenge)
        .url();

    let id = random_id();
    app.pending_logins.lock().unwrap().insert(
        id.clone(),
        PendingLogin { csrf_state, nonce, pkce_verifier, expires_at: Instant::now() + LOGIN_TTL },
    );
    redirect(authorize_url.as_str(), &[cookie(LOGIN_COOKIE, &id, LOGIN_TTL)])
}

#[derive(Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
}

async fn callback(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    // One use only, whatever the outcome.
    let pending =
        read_cookie(&headers, LOGIN_COOKIE).and_then(|id| app.pending_logins.lock().unwrap().remove(id));
    let Some(pending) = pending else {
        return text(StatusCode::BAD_REQUEST, "no login in progress\n");
    };
    if pending.expires_at <= Instant::now() {
        return text(StatusCode::BAD_REQUEST, "login expired\n");
    }
    let (Some(code), Some(state)) = (params.code, params.state) else {
        return text(StatusCode::BAD_REQUEST, "login failed: no code\n");
    };
    if state != *pending.csrf_state.secret() {
        return text(StatusCode::BAD_REQUEST, "login failed: state mismatch\n");
    }

    match complete_login(&app, code, pending).await {
        Ok(session) => {
            let sid = random_id();
            app.sessions.lock().unwrap().insert(sid.clone(), session);
            redirect(
                "/me",
                &[cookie(SESSION_COOKIE, &sid, SESSION_TTL), cookie(LOGIN_COOKIE, "", Duration::ZERO)],
            )
        }
        Err(reason) => text(StatusCode::BAD_REQUEST, reason),
    }
}

async fn complete_login(
    app: &AppState,
    code: String,
    pending: PendingLogin,
) -> Result<Session, &'static str> {
    let token_response = app
        .client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|_| "login failed: no token endpoint\n")?
        .set_pkce_verifier(pending.pkce_verifier)
        .request_async(&app.http)
        .await
        .map_err(|_| "login failed: token request\n")?;

    let id_token = token_response.id_token().ok_or("login failed: no ID token\n")?;
    let verifier = app.client.id_token_verifier();
    let claims =
        id_token.claims(&verifier, &pending.nonce).map_err(|_| "login failed: invalid ID token\n")?;
    if let Some(expected_hash) = claims.access_token_hash() {
        let actual_hash = AccessTokenHash::from_token(
            token_response.access_token(),
            id_token.signing_alg().map_err(|_| "login failed: invalid ID token\n")?,
            id_token.signing_key(&verifier).map_err(|_| "login failed: invalid ID token\n")?,
        )
        .map_err(|_| "login failed: invalid ID token\n")?;
        if actual_hash != *expected_hash {
            return Err("login failed: access token hash mismatch\n");
        }
    }

    let userinfo: CoreUserInfoClaims = app
        .client
        .user_info(token_response.access_token().clone(), Some(claims.subject().clone()))
        .map_err(|_| "login failed: no userinfo endpoint\n")?
        .request_async(&app.http)
        .await
        .map_err(|_| "login failed: userinfo request\n")?;

    let now = Instant::now();
    Ok(Session {
        sub: userinfo.subject().to_string(),
        email: userinfo.email().map(|email| email.to_string()),
        access_token: token_response.access_token().clone(),
        access_token_expires_at: token_response.expires_in().map(|ttl| now + ttl),
        expires_at: now + SESSION_TTL,
    })
}

async fn me(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let body = read_cookie(&headers, SESSION_COOKIE).and_then(|sid| {
        let sessions = app.sessions.lock().unwrap();
        let session = sessions.get(sid)?;
        (session.expires_at > Instant::now())
            .then(|| serde_json::json!({ "sub": session.sub, "email": session.email }).to_string())
    });
    match body {
        Some(body) => {
            (StatusCode::OK, [(CONTENT_TYPE, "application/json"), (CACHE_CONTROL, "no-store")], body)
                .into_response()
        }
        None => text(StatusCode::UNAUTHORIZED, "not logged in\n"),
    }
}

async fn health() -> Response {
    text(StatusCode::OK, "ok\n")
}

async fn shutdown_signal() {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[tokio::main]
async fn main() {
    let issuer = env("ISSUER");
    let client_id = env("CLIENT_ID");
    let client_secret = env("CLIENT_SECRET");
    let port: u16 = env("PORT").parse().expect("PORT must be a port number");
    let base_url = format!("http://127.0.0.1:{port}");

    // One HTTP client for discovery, JWKS, token and userinfo requests; redirects are not followed.
    let http = reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");

    // Discovery (provider metadata and JWKS) once at startup.
    let issuer_url = IssuerUrl::new(issuer).expect("ISSUER must be a URL");
    let metadata = CoreProviderMetadata::discover_async(issuer_url, &http).await.unwrap_or_else(|err| {
        eprintln!("discovery failed: {err}");
        std::process::exit(1);
    });
    // Built from the metadata, so the ID token verifier accepts the advertised signing algorithms.
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id),
        Some(ClientSecret::new(client_secret)),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{base_url}/callback")).expect("redirect URI"));

    let state = Arc::new(AppState {
        client,
        http,
        pending_logins: Mutex::new(HashMap::new()),
        sessions: Mutex::new(HashMap::new()),
    });

    let sweeper = Arc::clone(&state);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            let now = Instant::now();
            sweeper.pending_logins.lock().unwrap().retain(|_, login| login.expires_at > now);
            sweeper.sessions.lock().unwrap().retain(|_, session| session.expires_at > now);
        }
    });

    let app = Router::new()
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/me", get(me))
        .route("/health", get(health))
        .with_state(state);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap_or_else(|err| {
        eprintln!("cannot listen on port {port}: {err}");
        std::process::exit(1);
    });
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "listening on {base_url}");
    let _ = stdout.flush();
    drop(stdout);

    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.expect("server");
}
