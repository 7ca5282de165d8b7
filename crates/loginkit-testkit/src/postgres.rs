//! A throwaway PostgreSQL database per test (feature `postgres`), so Postgres tests run in
//! parallel and leave nothing behind.
//!
//! The server comes from `LOGINKIT_TEST_POSTGRES` (a role that may create databases, and a
//! database to connect to while creating them), by default [`DEFAULT_URL`], which the
//! repository's `tests/postgres` script provides. An unreachable server is a test failure that
//! says how to start one, never a skip.

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};
use url::Url;

/// Where the tests find PostgreSQL unless `LOGINKIT_TEST_POSTGRES` says otherwise.
pub const DEFAULT_URL: &str = "postgres://loginkit:loginkit@127.0.0.1:5432/postgres";

/// A database created for one test and dropped when this value is.
#[derive(Debug)]
pub struct TestDatabase {
    admin: Url,
    name: String,
    url: String,
}

fn admin_url() -> Url {
    let url = std::env::var("LOGINKIT_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    Url::parse(&url).unwrap_or_else(|e| panic!("LOGINKIT_TEST_POSTGRES is not a URL ({e})"))
}

async fn connect(admin: &Url) -> PgConnection {
    match PgConnection::connect(admin.as_str()).await {
        Ok(conn) => conn,
        Err(error) => {
            let mut shown = admin.clone();
            let _ = shown.set_password(None);
            panic!(
                "PostgreSQL is not reachable at {shown} ({error}). The Postgres tests need it: run \
                 tests/setup (or tests/postgres) to install and start it, or point \
                 LOGINKIT_TEST_POSTGRES at a server where the role may create databases."
            )
        }
    }
}

impl TestDatabase {
    /// Creates a database named `loginkit_test_<prefix>_…`, unique to this process and call.
    pub async fn create(prefix: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let admin = admin_url();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!(
            "loginkit_test_{prefix}_{}_{}_{nanos:x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = connect(&admin).await;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        let _ = conn.close().await;
        let mut url = admin.clone();
        url.set_path(&name);
        Self { admin, name, url: url.to_string() }
    }

    /// The database's URL (with the credentials of `LOGINKIT_TEST_POSTGRES`).
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs outside async code: a thread with its own runtime does the dropping.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let mut conn = connect(&admin).await;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await.map(drop)
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!("could not drop test database {}", self.name);
        }
    }
}
