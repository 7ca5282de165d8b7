//! An axum app embedding the login flow, with users kept in the app's own `accounts` table.
//!
//! `cargo run -p loginkit-flow --example axum_app` serves it on 127.0.0.1:3000 with a mock
//! provider standing in for GitHub; `-- --check` signs in once with a scripted browser and exits.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Json, Router, routing::get};
use loginkit::{HttpClient, Registry};
use loginkit_flow::sqlx::sqlite::{SqliteConnection, SqlitePoolOptions};
use loginkit_flow::sqlx::{self, Row};
use loginkit_flow::{
    AllowList, CallbackRequest, Client, Flow, Keys, NewUser, Project, SqliteStore, StartRequest, User,
    UserTable,
};
use loginkit_flow::{FlowError, Timestamp};
use loginkit_testkit::{Browser, MockIdp};

// ---- The glue: the app's user table, and three routes. ----

struct Accounts;

#[loginkit::async_trait]
impl UserTable for Accounts {
    async fn user(&self, db: &mut SqliteConnection, id: &str) -> sqlx::Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE id = ?").bind(id).fetch_optional(db).await?;
        Ok(row.map(|r| account(&r)))
    }
    async fn user_by_email(&self, db: &mut SqliteConnection, email: &str) -> sqlx::Result<Option<User>> {
        let row =
            sqlx::query("SELECT * FROM accounts WHERE email = ?").bind(email).fetch_optional(db).await?;
        Ok(row.map(|r| account(&r)))
    }
    async fn create_user(&self, db: &mut SqliteConnection, u: &NewUser) -> sqlx::Result<User> {
        sqlx::query("INSERT INTO accounts (id, email, verified, name) VALUES (?, ?, ?, ?)")
            .bind(&u.id)
            .bind(&u.email)
            .bind(u.email_verified)
            .bind(&u.name)
            .execute(&mut *db)
            .await?;
        Ok(self.user(db, &u.id).await?.expect("just inserted"))
    }
}

fn account(r: &sqlx::sqlite::SqliteRow) -> User {
    let now = Timestamp::now();
    User {
        id: r.get("id"),
        email: r.get("email"),
        email_verified: r.get("verified"),
        name: r.get("name"),
        created_at: now,
        updated_at: now,
    }
}

async fn login(State(flow): State<Flow>) -> Result<Response, String> {
    let callback = "http://127.0.0.1:3000/callback".parse().map_err(|_| "bad URL")?;
    let start = StartRequest {
        provider: "mock",
        success: None,
        failure: None,
        scopes: &[],
        token: false,
        redirect_uri: &callback,
    };
    let started = flow.start(&start).await.map_err(|e| e.to_string())?;
    let cookie =
        format!("{}={}; Path=/callback; HttpOnly; SameSite=Lax", started.cookie.name, started.cookie.value);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(started.location.as_str())).into_response())
}

async fn callback(
    State(flow): State<Flow>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, String> {
    let cookies = cookies(&headers);
    let request = CallbackRequest {
        provider: "mock",
        params: &params,
        cookies: &cookies,
        current_session: None,
        client: &Client::default(),
    };
    let done = flow.callback(&request).await.map_err(|e: FlowError| e.to_string())?;
    let session = done
        .session
        .map(|s| format!("sid={}; Path=/; HttpOnly; SameSite=Lax", s.cookie_value))
        .unwrap_or_default();
    Ok(([(header::SET_COOKIE, session)], Redirect::to(done.location.as_str())).into_response())
}

async fn me(State(flow): State<Flow>, headers: HeaderMap) -> Result<Json<serde_json::Value>, String> {
    let sid = cookies(&headers).into_iter().find(|(k, _)| k == "sid").map(|(_, v)| v).unwrap_or_default();
    let session = flow.authenticate(&sid).await.map_err(|e| e.to_string())?.ok_or("not signed in")?;
    let user = flow.user(&session.user_id).await.map_err(|e| e.to_string())?.ok_or("no user")?;
    Ok(Json(
        serde_json::json!({ "id": user.id, "email": user.email, "name": user.name, "provider": session.provider }),
    ))
}

// ---- Setup: database, provider, flow, server. ----

fn cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    let line = headers.get(header::COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    line.split(';')
        .filter_map(|p| p.trim().split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await?;
    sqlx::query(
        "CREATE TABLE accounts (id TEXT PRIMARY KEY, email TEXT UNIQUE, verified INTEGER, name TEXT)",
    )
    .execute(&pool)
    .await?;
    let store = SqliteStore::with_pool(pool, Accounts).await?;

    // A local mock identity provider plays GitHub's part, so the example runs offline.
    let idp = MockIdp::start().await?;
    let provider =
        Registry::global()?.instantiate("mock", idp.provider_config(), HttpClient::with_defaults()?)?;
    let mut project =
        Project::new("app", AllowList::new(["127.0.0.1"], Vec::<String>::new())).enable(provider);
    project.default_success = Some("http://127.0.0.1:3000/me".parse()?);
    project.default_failure = Some("http://127.0.0.1:3000/".parse()?);
    let flow = Flow::new(project, store, Keys::from_encoded(&Keys::generate_master())?);

    let app = Router::new()
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/me", get(me))
        .with_state(flow);
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
