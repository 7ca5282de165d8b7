//! An axum app embedding the login flow, with users kept in the app's own `accounts` table.
//!
//! `cargo run -p loginkit-flow --example axum_app` serves it on 127.0.0.1:3000 with a mock
//! provider standing in for GitHub, on a SQLite file; `-- --check` signs in once with a scripted
//! browser and exits. With `--features postgres` and `DATABASE_URL=postgres://...` the app's
//! `accounts` table and loginkit's tables live in that PostgreSQL database instead.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Json, Router, routing::get};
use std::sync::Arc;

use loginkit_flow::sqlx::{self, sqlite::SqlitePoolOptions};
use loginkit_flow::{CallbackRequest, Flow, Keys, Project, SqliteStore, StartRequest};
use loginkit_flow::{Store, UserTable, parse_cookie_header};
use loginkit_testkit::{Browser, MockIdp};

// ---- The glue: where the app keeps users, and three routes. ----

/// The app's own `accounts` table, as loginkit is to use it.
fn accounts() -> UserTable {
    UserTable::new("accounts").email_verified("verified")
}

async fn login(State(flow): State<Flow>) -> Result<Response, String> {
    let callback = "http://127.0.0.1:3000/callback".parse().unwrap();
    let started = flow.start(&StartRequest::new("mock", &callback)).await.map_err(|e| e.to_string())?;
    let cookie = started.cookie.header();
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(started.location.as_str())).into_response())
}

async fn callback(
    State(flow): State<Flow>,
    Query(q): Query<Vec<(String, String)>>,
    h: HeaderMap,
) -> Result<Response, String> {
    let cookies = parse_cookie_header(h.get(header::COOKIE).and_then(|v| v.to_str().ok()).unwrap_or(""));
    let done = flow.callback(&CallbackRequest::new("mock", &q, &cookies)).await.map_err(|e| e.to_string())?;
    let location = done.failure_location();
    let mut cookies: Vec<_> = done.cookies.iter().map(|c| (header::SET_COOKIE, c.header())).collect();
    cookies
        .extend(done.session.map(|s| {
            (header::SET_COOKIE, format!("sid={}; Path=/; HttpOnly; SameSite=Lax", s.cookie_value))
        }));
    Ok((axum::response::AppendHeaders(cookies), Redirect::to(location.as_str())).into_response())
}

async fn me(State(flow): State<Flow>, h: HeaderMap) -> Result<Json<serde_json::Value>, String> {
    let cookies = parse_cookie_header(h.get(header::COOKIE).and_then(|v| v.to_str().ok()).unwrap_or(""));
    let sid = cookies.into_iter().find(|(k, _)| k == "sid").map(|(_, v)| v).unwrap_or_default();
    let (session, user) = flow.authenticate(&sid).await.map_err(|e| e.to_string())?.ok_or("not signed in")?;
    Ok(Json(
        serde_json::json!({ "id": user.id, "email": user.email, "name": user.name, "provider": session.provider }),
    ))
}

// ---- Setup: database, provider, flow, server. ----

/// The app's database with its `accounts` table, and loginkit's store over it.
async fn open_store() -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return open_postgres(&url).await;
    }
    let dir = std::env::temp_dir().join(format!("loginkit-axum-app-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let pool =
        SqlitePoolOptions::new().connect(&format!("sqlite://{}/app.db?mode=rwc", dir.display())).await?;
    let table =
        "CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, email TEXT, verified INTEGER, name TEXT)";
    sqlx::query(table).execute(&pool).await?;
    // Only a verified address is one person's: an unverified one must not lock its owner out.
    sqlx::query("CREATE UNIQUE INDEX IF NOT EXISTS accounts_email ON accounts (email COLLATE NOCASE) WHERE verified = 1")
        .execute(&pool)
        .await?;
    Ok(Arc::new(SqliteStore::with_pool(pool, accounts()).await?))
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
    let pool = sqlx::postgres::PgPoolOptions::new().connect(url).await?;
    let table =
        "CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, email TEXT, verified BOOLEAN, name TEXT)";
    sqlx::query(table).execute(&pool).await?;
    sqlx::query("CREATE UNIQUE INDEX IF NOT EXISTS accounts_email ON accounts (lower(email COLLATE \"C\")) WHERE verified")
        .execute(&pool)
        .await?;
    Ok(Arc::new(loginkit_flow::PgStore::with_pool(pool, accounts()).await?))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_url: &str) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
    Err("DATABASE_URL is set: run with `--features postgres` to use PostgreSQL".into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = open_store().await?;

    // A local mock identity provider plays GitHub's part, so the example runs offline.
    let idp = MockIdp::start().await?;
    let project = Project::builder("app")
        .hostnames(["127.0.0.1"])
        .provider(loginkit::Provider::Mock, idp.provider_config())
        .success_url("http://127.0.0.1:3000/me")
        .failure_url("http://127.0.0.1:3000/")
        .build()?;
    let flow = Flow::with_shared_store(project, store, Keys::from_encoded(&Keys::generate_master())?);

    let app =
        Router::new().route("/login", get(login)).route("/callback", get(callback)).route("/me", get(me));
    let app = app.with_state(flow);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    if std::env::args().any(|a| a == "--check") {
        tokio::spawn(async move { axum::serve(listener, app).await });
        let browser = Browser::new(["http://127.0.0.1:3000".parse()?, idp.origin()]);
        let walk = browser.walk("http://127.0.0.1:3000/login".parse()?).await?;
        println!("{} {}", walk.end, walk.body);
        assert!(walk.end.path() == "/me" && walk.body.contains("useroauth@localhost.test"), "login failed");
        return Ok(());
    }
    println!("open http://127.0.0.1:3000/login");
    axum::serve(listener, app).await?;
    Ok(())
}
