//! The ceiling: a login server with no logic. It makes the same HTTP hops as a real login (start
//! → provider → callback → session), the same two calls to the provider (token, user info) on a
//! pooled client, and one database write (the session), and nothing else: no PKCE, no nonce, no
//! ID-token check, no sealing, no account matching. Whatever a real login server costs beyond
//! this is the cost of its logic.
//!
//! Configured like the peer apps: `ISSUER`, `CLIENT_ID`, `CLIENT_SECRET`, `PORT`, and `DATABASE`
//! (a SQLite file, WAL, like loginkit's).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

struct App {
    issuer: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    http: reqwest::Client,
    db: SqlitePool,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

#[tokio::main]
async fn main() {
    let port: u16 = env("PORT").parse().expect("PORT is a port");
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", env("DATABASE")))
        .expect("a SQLite path")
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10));
    let db = SqlitePoolOptions::new().max_connections(8).connect_with(options).await.expect("database opens");
    sqlx::query("CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, sub TEXT NOT NULL, access_token TEXT NOT NULL)")
        .execute(&db)
        .await
        .expect("table created");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .expect("HTTP client");
    let app = Arc::new(App {
        issuer: env("ISSUER"),
        client_id: env("CLIENT_ID"),
        client_secret: env("CLIENT_SECRET"),
        redirect_uri: format!("http://127.0.0.1:{port}/callback"),
        http,
        db,
    });
    let router = Router::new()
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/me", get(me))
        .route("/health", get(|| async { "ok" }))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("port free");
    println!("listening on http://127.0.0.1:{port}");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal");
            tokio::select! { _ = term.recv() => {}, _ = tokio::signal::ctrl_c() => {} }
        })
        .await
        .expect("serves");
}

fn random() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(n, v)| (n == name).then_some(v))
}

fn redirect(location: &str, cookie: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned()), (header::SET_COOKIE, cookie)])
        .into_response()
}

async fn login(State(app): State<Arc<App>>) -> Response {
    let state = random();
    let mut location = url::Url::parse(&format!("{}/authorize", app.issuer)).expect("issuer URL");
    location
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", &app.redirect_uri)
        .append_pair("scope", "openid profile email")
        .append_pair("state", &state);
    redirect(location.as_str(), format!("state={state}; HttpOnly; Path=/"))
}

#[derive(Deserialize)]
struct Token {
    access_token: String,
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
}

async fn callback(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (Some(code), Some(state)) = (query.get("code"), query.get("state")) else {
        return (StatusCode::BAD_REQUEST, "missing code or state").into_response();
    };
    if cookie(&headers, "state") != Some(state.as_str()) {
        return (StatusCode::BAD_REQUEST, "state mismatch").into_response();
    }
    let token = app
        .http
        .post(format!("{}/token", app.issuer))
        .basic_auth(&app.client_id, Some(&app.client_secret))
        .form(&[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", &app.redirect_uri)])
        .send()
        .await;
    let Ok(Ok(token)) = (match token {
        Ok(response) => Ok(response.json::<Token>().await),
        Err(e) => Err(e),
    }) else {
        return (StatusCode::BAD_REQUEST, "token request failed").into_response();
    };
    let user = app.http.get(format!("{}/userinfo", app.issuer)).bearer_auth(&token.access_token).send().await;
    let Ok(Ok(user)) = (match user {
        Ok(response) => Ok(response.json::<UserInfo>().await),
        Err(e) => Err(e),
    }) else {
        return (StatusCode::BAD_REQUEST, "userinfo request failed").into_response();
    };
    let sid = random();
    let stored = sqlx::query("INSERT INTO sessions (id, sub, access_token) VALUES (?, ?, ?)")
        .bind(&sid)
        .bind(&user.sub)
        .bind(&token.access_token)
        .execute(&app.db)
        .await;
    if stored.is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "database").into_response();
    }
    redirect("/me", format!("sid={sid}; HttpOnly; Path=/"))
}

async fn me(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some(sid) = cookie(&headers, "sid") else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let row: Option<(String,)> = sqlx::query_as("SELECT sub FROM sessions WHERE id = ?")
        .bind(sid)
        .fetch_optional(&app.db)
        .await
        .ok()
        .flatten();
    match row {
        Some((sub,)) => axum::Json(serde_json::json!({ "sub": sub })).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}
