//! PostgreSQL through sqlx, for several server instances sharing one database.
//!
//! Every operation is one statement in autocommit: no transaction spans two round trips, so no
//! instance ever holds a lock while it waits for anything (a frozen instance's statement either
//! completes on the server or is not sent). A login's writes are one statement of data-modifying
//! CTEs that ends by checking each one touched the rows it had to; if not, it raises a
//! serialization failure (SQLSTATE 40001) and the whole statement is undone, which the store
//! reports as a conflict. There is no lock shared by different users' logins: concurrent logins
//! meet only on the unique keys and rows they both touch (one provider account, one email, one
//! user's session slot), where `ON CONFLICT` and row locks settle them.

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row};

use super::LoginPlan;
use super::UserTable;
use super::sql::{Backend, Dialect, Expect, MakeSteps, Sql, SqlStore, Step, TripCounter, Value, sqlx_query};
use crate::error::{FlowError, StoreError};

/// The store on PostgreSQL.
pub type PgStore = SqlStore<PgBackend>;

/// Connections a store opened with [`PgStore::open`] keeps at most.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// How long a connection of the store may sit idle inside a transaction before the server ends
/// it (`idle_in_transaction_session_timeout`). The store runs no multi-statement transaction but
/// its migrations; this bounds what any frozen client could hold.
pub const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(5);

/// The PostgreSQL side of [`SqlStore`].
pub struct PgBackend {
    pool: PgPool,
    trips: TripCounter,
}

fn error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(e) if e.code().as_deref() == Some("40001") || e.is_unique_violation() => {
            StoreError::Conflict("changed since it was read")
        }
        _ => StoreError::database(error),
    }
}

/// Whether `error` says the connection is gone (rather than the statement refused): an I/O
/// error, or the server ending the session (class 57P: shutdown, termination; class 08:
/// connection exceptions).
fn connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(e) => {
            e.code().is_some_and(|code| code.starts_with("57P") || code.starts_with("08"))
        }
        _ => false,
    }
}

impl PgBackend {
    /// One statement's rows (each one JSON text column).
    async fn fetch(&self, sql: &Sql, values: Vec<Value>) -> Result<Vec<String>, sqlx::Error> {
        self.trips.count();
        let rows = sqlx_query::<Postgres>(sql.to_string(), values).fetch_all(&self.pool).await?;
        rows.iter().map(|row| row.try_get::<String, _>(0)).collect()
    }
}

/// `sql` with every `$N` moved to `$(N + offset)`, to join it to statements before it.
fn shift(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&digits),
        }
    }
    out
}

/// A unit's steps as one statement: each step a CTE returning a row per row it touched, then a
/// check that raises (undoing them all) when one touched other than it had to.
fn compose(steps: &[Step]) -> (String, Vec<Value>) {
    let mut sql = String::from("WITH ");
    let mut values = Vec::new();
    let mut checks = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "s{i} AS ({} RETURNING 1)", shift(&step.sql, values.len()));
        values.extend(step.values.iter().cloned());
        if step.expect == Expect::One {
            checks.push(format!("(SELECT count(*) FROM s{i}) = 1"));
        }
    }
    let all = if checks.is_empty() { "true".to_owned() } else { checks.join(" AND ") };
    let _ = write!(sql, " SELECT CASE WHEN {all} THEN 1 ELSE loginkit_conflict() END");
    (sql, values)
}

#[async_trait]
impl Backend for PgBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    /// A read is sent again when the pooled connection it went out on was found broken (the
    /// database restarted, or a proxy closed it while idle): reads change nothing, so sending
    /// one twice is harmless. A broken connection leaves the pool, so after a restart every
    /// pooled connection may be tried once: at most the pool's size, then a fresh one.
    async fn rows(&self, sql: &Sql, values: Vec<Value>) -> Result<Vec<String>, StoreError> {
        let mut tries = self.pool.options().get_max_connections() + 1;
        loop {
            tries -= 1;
            match self.fetch(sql, values.clone()).await {
                Err(broken) if tries > 0 && connection_lost(&broken) => {
                    tracing::debug!(error = %broken, "a pooled connection was lost; reading again on another");
                }
                done => return done.map_err(error),
            }
        }
    }

    async fn execute(&self, sql: &Sql, values: Vec<Value>) -> Result<u64, StoreError> {
        self.trips.count();
        let done =
            sqlx_query::<Postgres>(sql.to_string(), values).execute(&self.pool).await.map_err(error)?;
        Ok(done.rows_affected())
    }

    /// Writes are never sent twice: whether a statement a lost connection carried took effect is
    /// unknown.
    async fn returning(&self, sql: &Sql, values: Vec<Value>) -> Result<Vec<String>, StoreError> {
        self.fetch(sql, values).await.map_err(error)
    }

    async fn unit(&self, steps: Vec<Step>) -> Result<(), StoreError> {
        self.trips.count();
        let (sql, values) = compose(&steps);
        sqlx_query::<Postgres>(sql, values).fetch_one(&self.pool).await.map_err(error)?;
        Ok(())
    }

    /// Read, decide, write; after a conflict (a concurrent login took what this one decided
    /// on), again from the read, after a short random pause so racing logins fall out of step.
    async fn login(
        &self,
        lookup: &Sql,
        values: Vec<Value>,
        mut make: MakeSteps,
    ) -> Result<Result<LoginPlan, FlowError>, StoreError> {
        let started = std::time::Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let rows = self.rows(lookup, values.clone()).await?;
            let json = rows.first().map(String::as_str).unwrap_or("{}");
            let (plan, steps) = match make(json) {
                Ok(made) => made,
                Err(refused) => return Ok(Err(refused)),
            };
            match self.unit(steps).await {
                Ok(()) => return Ok(Ok(plan)),
                Err(StoreError::Conflict(why))
                    if attempt < LOGIN_ATTEMPTS && started.elapsed() < LOGIN_PATIENCE =>
                {
                    tracing::debug!(why, attempt, "a login's writes met a concurrent login; deciding again");
                    let [byte] = crate::crypto::random_bytes::<1>();
                    let ceiling = 1u64 << attempt.min(5);
                    tokio::time::sleep(Duration::from_micros(u64::from(byte) * ceiling * 4)).await;
                }
                Err(other) => return Err(other),
            }
        }
    }

    fn round_trips(&self) -> u64 {
        self.trips.get()
    }
}

/// How often, and how long, a login decides again after conflicts before it gives up. Fifty
/// concurrent logins of one user at its session limit each take a handful of attempts; a conflict
/// that every fresh read leaves in place (an application table's own unique rule) ends here.
const LOGIN_ATTEMPTS: u32 = 48;
const LOGIN_PATIENCE: Duration = Duration::from_secs(5);

/// loginkit's PostgreSQL migrations.
fn migrator() -> Migrator {
    super::sql::migrator([
        include_str!("../../migrations/postgres/0001_init.sql"),
        include_str!("../../migrations/postgres/0002_security.sql"),
        include_str!("../../migrations/postgres/0003_session_slots.sql"),
        include_str!("../../migrations/postgres/0004_sessions_by_user.sql"),
        include_str!("../../migrations/postgres/0005_token_lifecycle.sql"),
        include_str!("../../migrations/postgres/0006_identity_id_token.sql"),
        include_str!("../../migrations/postgres/0007_token_redeemer.sql"),
    ])
}

impl SqlStore<PgBackend> {
    /// Connects to `url` (`postgres://user:password@host:5432/database`, or `postgresql://`)
    /// with up to [`DEFAULT_MAX_CONNECTIONS`] connections, users in loginkit's own table, and
    /// applies loginkit's migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, UserTable::builtin(), DEFAULT_MAX_CONNECTIONS).await
    }

    /// Like [`PgStore::open`], with users kept in `users` (which the application created) and at
    /// most `max_connections` connections.
    pub async fn open_with(url: &str, users: UserTable, max_connections: u32) -> Result<Self, StoreError> {
        let timeout = format!("{}ms", IDLE_IN_TRANSACTION_TIMEOUT.as_millis());
        let options = PgConnectOptions::from_str(url).map_err(StoreError::database)?.options([
            ("idle_in_transaction_session_timeout", timeout.as_str()),
            // Every statement of the store looks rows up by equality on indexed keys, so one
            // plan per statement serves all parameters; left to choose, PostgreSQL plans the
            // login's lookup afresh on each execution (about 2 ms of planning for a 1 ms
            // query).
            ("plan_cache_mode", "force_generic_plan"),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            // No ping per checkout: it would double the round trips of every statement. A read
            // that meets a connection a database restart broke is sent again on a fresh one; a
            // write fails (its effect unknown) and the broken connection is dropped.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(StoreError::database)?;
        Self::with_pool(pool, users).await
    }

    /// A store over an existing pool, with users kept in `users`; applies loginkit's migrations.
    ///
    /// [`PgStore::open_with`] sets two options on each connection that a pool of your own
    /// should set too (`PgConnectOptions::options`): `idle_in_transaction_session_timeout`
    /// ([`IDLE_IN_TRANSACTION_TIMEOUT`]) and `plan_cache_mode = force_generic_plan` (without it
    /// PostgreSQL plans the login's lookup again on every execution).
    pub async fn with_pool(pool: PgPool, users: UserTable) -> Result<Self, StoreError> {
        migrator().run(&pool).await.map_err(StoreError::database)?;
        SqlStore::new(PgBackend { pool, trips: TripCounter::default() }, &users).await
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.backend.pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_join_into_one_statement_with_their_parameters_renumbered() {
        let step = |sql: &str, n: usize, expect| Step {
            sql: sql.into(),
            values: (0..n).map(|i| Value::Int(Some(i as i64))).collect(),
            expect,
        };
        let (sql, values) = compose(&[
            step("INSERT INTO a VALUES ($1, $2)", 2, Expect::One),
            step("DELETE FROM b WHERE x = $1", 1, Expect::Any),
            step("UPDATE c SET y = $2 WHERE z = $1", 2, Expect::One),
        ]);
        assert_eq!(
            sql,
            "WITH s0 AS (INSERT INTO a VALUES ($1, $2) RETURNING 1), s1 AS (DELETE FROM b WHERE x = $3 RETURNING 1), \
             s2 AS (UPDATE c SET y = $5 WHERE z = $4 RETURNING 1) SELECT CASE WHEN (SELECT count(*) FROM s0) = 1 \
             AND (SELECT count(*) FROM s2) = 1 THEN 1 ELSE loginkit_conflict() END"
        );
        assert_eq!(values.len(), 5);
        assert_eq!(shift("'[]'::json, $1", 3), "'[]'::json, $4");
    }
}
