//! An axum app with its own `accounts` table on SQLite, signing users in with loginkit.
//!
//! `cargo run -p loginkit-axum --example sqlite` serves it on 127.0.0.1:3000 (open
//! `/auth/mock`), with a mock provider standing in for GitHub; `-- --check` signs in once and
//! exits.

mod support;

use axum::{Json, Router, routing::get};
use loginkit::Provider;
use loginkit_axum::{LoginKit, SignedIn};
use loginkit_flow::sqlx::{self, sqlite::SqlitePoolOptions};
use loginkit_flow::{Flow, Keys, Project, SqliteStore, UserTable};
use serde_json::{Value, json};

/// The app's own page: who is signed in, read from the app's own table.
async fn me(SignedIn { user, session }: SignedIn) -> Json<Value> {
    Json(json!({ "id": user.id, "email": user.email, "name": user.name, "provider": session.provider }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The app's database and its `accounts` table (only a verified address is unique).
    let dir = std::env::temp_dir().join(format!("loginkit-axum-sqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let pool =
        SqlitePoolOptions::new().connect(&format!("sqlite://{}/app.db?mode=rwc", dir.display())).await?;
    sqlx::query("CREATE TABLE accounts (id TEXT PRIMARY KEY, email TEXT, verified INTEGER, name TEXT)")
        .execute(&pool)
        .await?;
    sqlx::query("CREATE UNIQUE INDEX accounts_email ON accounts (email COLLATE NOCASE) WHERE verified = 1")
        .execute(&pool)
        .await?;
    let idp = loginkit_testkit::MockIdp::start().await?; // stands in for GitHub
    let (listener, base) = support::listen().await?;

    // ---- loginkit glue ----
    let accounts = UserTable::new("accounts").email_verified("verified");
    let store = SqliteStore::with_pool(pool, accounts).await?;
    let project = Project::builder("app")
        .hostnames(["127.0.0.1"])
        .provider(Provider::Mock, idp.provider_config()) // Provider::Github, ProviderConfig::new(id, secret)
        .success_url(format!("{base}/me"))
        .build()?;
    let key = std::env::var("APP_KEY").unwrap_or_else(|_| Keys::generate_master().to_string());
    let flow = Flow::new(project, store, Keys::from_encoded(&key)?);
    let app = LoginKit::new(flow, &base)?.install(Router::new().route("/me", get(me)));
    // ---- end of glue ----

    support::serve(app, listener, &base, &idp).await
}
