//! A reference server on loopback for tests: temporary data directory, cookie-keeping browsers,
//! row counts straight from its database (SQLite, or a throwaway PostgreSQL database).

#![allow(dead_code)] // each test file uses part of it

use std::path::PathBuf;

use loginkit_flow::sqlx::{self, SqlitePool};
use loginkit_server::{Config, RunningServer, Server};
use loginkit_testkit::postgres::TestDatabase;
use loginkit_testkit::{Browser, MockIdp, Walk};
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

pub const APP: &str = "http://localhost:3000";

pub fn temp_dir() -> PathBuf {
    loginkit_testkit::scratch_dir("http")
}

pub struct Harness {
    pub server: RunningServer,
    pub dir: PathBuf,
    /// Project `default`'s PostgreSQL database, when it runs on one (dropped after the server).
    pub postgres: Option<(sqlx::PgPool, TestDatabase)>,
}

/// The database a test server's project `default` runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    /// A SQLite file in the data directory.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

impl Harness {
    /// A server with the zero-config project plus `extra` TOML for project `default`.
    pub async fn start(extra: &str) -> Self {
        Self::start_in(temp_dir(), "127.0.0.1:0", extra).await
    }

    pub async fn start_in(dir: PathBuf, listen: &str, extra: &str) -> Self {
        Self::start_with(dir, listen, "", extra).await
    }

    /// A server with `top` TOML settings (rate limit, timeouts) and `extra` for project `default`.
    pub async fn start_with(dir: PathBuf, listen: &str, top: &str, extra: &str) -> Self {
        let toml = format!(
            "listen = \"{listen}\"\ndata_dir = \"{}\"\nmock_idp = true\n{top}\n[projects.default]\nhostnames = [\"localhost\"]\n{extra}\n[projects.other]\nhostnames = [\"localhost\"]\n",
            dir.display()
        );
        let config = Config::from_toml(&toml).expect("test config");
        let server = Server::bind(config, |_| None).await.expect("server starts").spawn();
        Self { server, dir, postgres: None }
    }

    /// Like [`Harness::start_with`] on a fresh directory, with project `default` on `backing`.
    pub async fn start_on(backing: Backing, top: &str, extra: &str) -> Self {
        match backing {
            Backing::Sqlite => Self::start_with(temp_dir(), "127.0.0.1:0", top, extra).await,
            Backing::Postgres => {
                let database = TestDatabase::create("server").await;
                let top = format!("{top}\nkey = \"{}\"", loginkit_flow::Keys::generate_master());
                let extra = format!("database_url = \"{}\"\n{extra}", database.url());
                let mut harness = Self::start_with(temp_dir(), "127.0.0.1:0", &top, &extra).await;
                let pool = sqlx::PgPool::connect(database.url()).await.unwrap();
                harness.postgres = Some((pool, database));
                harness
            }
        }
    }

    pub fn url(&self, path: &str) -> Url {
        self.server.url().join(path).unwrap()
    }

    pub fn browser(&self) -> Browser {
        Browser::new([self.server.url().clone()])
    }

    pub fn start_url(&self, kind: &str, provider: &str, query: &str) -> Url {
        self.url(&format!(
            "v1/account/{kind}/oauth2/{provider}?project=default&success={APP}/ok&failure={APP}/fail{query}"
        ))
    }

    pub async fn login(&self, browser: &Browser, provider: &str) -> Walk {
        browser.walk(self.start_url("sessions", provider, "")).await.unwrap()
    }

    pub async fn db(&self) -> SqlitePool {
        SqlitePool::connect(&format!("sqlite://{}/default.db", self.dir.display())).await.unwrap()
    }

    /// (users, identities, sessions, tokens)
    pub async fn counts(&self) -> (i64, i64, i64, i64) {
        let mut out = [0i64; 4];
        for (i, table) in ["users", "identities", "sessions", "tokens"].iter().enumerate() {
            let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM loginkit_{table}"));
            out[i] = match &self.postgres {
                Some((pool, _)) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
                None => sqlx::query_scalar(sql).fetch_one(&self.db().await).await.unwrap(),
            };
        }
        (out[0], out[1], out[2], out[3])
    }

    pub async fn api(&self, browser: &Browser, method: reqwest::Method, path: &str) -> (StatusCode, Value) {
        let response = browser
            .client()
            .request(method, self.url(path))
            .header("x-appwrite-project", "default")
            .send()
            .await
            .unwrap();
        status_and_json(response).await
    }

    pub async fn get(&self, browser: &Browser, path: &str) -> (StatusCode, Value) {
        self.api(browser, reqwest::Method::GET, path).await
    }
}

/// A response's status and JSON body (`Null` when empty).
pub async fn status_and_json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

/// Sends the requests all at once and returns how many won (301, a login completed) and how
/// many were refused (400): what a replayed callback must yield.
pub async fn race_callbacks(requests: Vec<reqwest::RequestBuilder>) -> (usize, usize, Vec<StatusCode>) {
    let shots: Vec<_> = requests
        .into_iter()
        .map(|request| tokio::spawn(async move { request.send().await.unwrap().status() }))
        .collect();
    let mut statuses = Vec::new();
    for shot in shots {
        statuses.push(shot.await.unwrap());
    }
    let won = statuses.iter().filter(|s| **s == StatusCode::MOVED_PERMANENTLY).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::BAD_REQUEST).count();
    (won, refused, statuses)
}

/// Project `default`'s settings pointing provider `mock` at `idp`, a provider outside the server
/// (its codes survive the server's restarts; faults can be injected into it).
pub fn external_mock(idp: &MockIdp) -> String {
    format!(
        "[projects.default.providers.mock]\nclient_id = \"1\"\nclient_secret = \"123456\"\nbase_url = \"{}\"",
        idp.origin()
    )
}

/// Project `default`'s settings enabling provider `oidc` with `idp`'s endpoints (no discovery,
/// no ID token): a second provider whose users report what `idp`'s users do.
pub fn oidc_at(idp: &MockIdp) -> String {
    format!(
        "[projects.default.providers.oidc]\nclient_id = \"1\"\nclient_secret = \"123456\"\nparams = {{ authorization_url = \"{}\", token_url = \"{}\", userinfo_url = \"{}\" }}",
        idp.url("authorize"),
        idp.url("token"),
        idp.url("user")
    )
}

pub fn error_of(walk: &Walk) -> Value {
    serde_json::from_str(&walk.param("error").expect("an error parameter")).unwrap()
}

/// Walks a login up to the callback URL the provider redirects to, without visiting it.
pub async fn until_callback(h: &Harness, browser: &Browser, provider: &str) -> Url {
    let stopping = browser.clone().stopping_before("/v1/account/sessions/oauth2/callback/");
    let walk = stopping.walk(h.start_url("sessions", provider, "")).await.unwrap();
    assert!(walk.end.path().starts_with("/v1/account/sessions/oauth2/callback/"), "{}", walk.end);
    walk.end
}
