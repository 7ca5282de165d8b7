//! An axum app with its own `accounts` table on PostgreSQL, signing users in with loginkit;
//! loginkit's tables live in the same database.
//!
//! `DATABASE_URL=postgres://... cargo run -p loginkit-axum --features postgres --example
//! postgres` serves it on 127.0.0.1:3000 (open `/auth/mock`), with a mock provider standing in
//! for GitHub; `-- --check` signs in once and exits.

mod support;

use axum::{Json, Router, routing::get};
use loginkit::Provider;
use loginkit_axum::{LoginKit, SignedIn};
use loginkit_flow::sqlx::{self, postgres::PgPoolOptions};
use loginkit_flow::{Flow, Keys, PgStore, Project, UserTable};
use serde_json::{Value, json};

/// The app's own page: who is signed in, read from the app's own table.
async fn me(SignedIn { user, session }: SignedIn) -> Json<Value> {
    Json(json!({ "id": user.id, "email": user.email, "name": user.name, "provider": session.provider }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The app's database and its `accounts` table (only a verified address is unique).
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL=postgres://...")?;
    let pool = PgPoolOptions::new().connect(&url).await?;
    let table =
        "CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, email TEXT, verified BOOLEAN, name TEXT)";
    sqlx::query(table).execute(&pool).await?;
    let index = r#"CREATE UNIQUE INDEX IF NOT EXISTS accounts_email ON accounts (lower(email COLLATE "C")) WHERE verified"#;
    sqlx::query(index).execute(&pool).await?;
    let idp = loginkit_testkit::MockIdp::start().await?; // stands in for GitHub
    let (listener, base) = support::listen().await?;

    // ---- loginkit glue ----
    let accounts = UserTable::new("accounts").email_verified("verified");
    let store = PgStore::with_pool(pool, accounts).await?;
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
