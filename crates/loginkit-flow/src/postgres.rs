//! [`PgStore`]: the [`Store`] on PostgreSQL through sqlx, for several server instances sharing one
//! database. Same tables and rules as [`SqliteStore`](crate::SqliteStore), its own migrations.
//!
//! Writers serialise like SQLite's `BEGIN IMMEDIATE`: every [`Store::begin`] transaction first
//! takes one transaction-scoped advisory lock (`pg_advisory_xact_lock`), held until commit or
//! rollback, and runs at READ COMMITTED, so each statement after the lock sees everything
//! committed before it. The flow's read-check-write steps (account matching by identity and by
//! email, the per-user session limit, two callbacks of one user at once) then behave exactly as
//! on SQLite, on every instance. Readers ([`Store::read`]) take no lock. SERIALIZABLE was the
//! alternative; it would need each whole login retried on a serialisation failure, which the
//! [`Tx`] interface cannot do once the flow has started driving it.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Postgres, Row, SqlSafeStr, Transaction};

use crate::error::StoreError;
use crate::model::{Identity, NewUser, OneTimeToken, Sealed, Session, StoredTokens, Timestamp, User};
use crate::store::{
    IdentityKey, Pruned, Renewal, SealedRow, SealedTable, Store, Tx, USED_STATE_GRACE_MS, row_decoders,
};

row_decoders!(PgRow);

/// The advisory lock every writing transaction holds: "loginkit" in ASCII, unlikely to collide
/// with an application's own advisory locks in a shared database.
pub const WRITE_LOCK: i64 = 0x6c6f_6769_6e6b_6974;

/// Connections a store opened with [`PgStore::open`] keeps at most.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// A [`Store`] on PostgreSQL.
///
/// Users live in loginkit's own `loginkit_users` table (there is no `UserTable` extension point
/// for Postgres yet).
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pool's options hold the password.
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

fn migrator() -> Migrator {
    let migration = |version, name, sql: &'static str| {
        Migration::new(version, Cow::Borrowed(name), MigrationType::Simple, sql.into_sql_str(), false)
    };
    let mut migrator = Migrator::with_migrations(vec![
        migration(1, "init", include_str!("../migrations/postgres/0001_init.sql")),
        migration(2, "security", include_str!("../migrations/postgres/0002_security.sql")),
    ]);
    // Its own bookkeeping table, so an application's sqlx migrations in the same database stay
    // apart. sqlx takes an advisory lock while migrating, so instances starting together are safe.
    migrator.dangerous_set_table_name("loginkit_migrations");
    migrator
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:5432/database`, or `postgresql://`)
    /// with up to [`DEFAULT_MAX_CONNECTIONS`] connections and applies loginkit's migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(StoreError::database)?;
        let pool = PgPoolOptions::new()
            .max_connections(DEFAULT_MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(StoreError::database)?;
        Self::with_pool(pool).await
    }

    /// A store over an existing pool; applies loginkit's migrations.
    pub async fn with_pool(pool: PgPool) -> Result<Self, StoreError> {
        migrator().run(&pool).await.map_err(StoreError::database)?;
        Ok(Self { pool })
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PgStore {
    async fn begin(&self) -> Result<Box<dyn Tx>, StoreError> {
        // READ COMMITTED explicitly: a REPEATABLE READ default would freeze the snapshot before
        // the lock is granted and hide what the previous holder committed.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(StoreError::database)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::database)?;
        Ok(Box::new(PgTx { tx }))
    }

    async fn read(&self) -> Result<Box<dyn Tx>, StoreError> {
        let tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY")
            .await
            .map_err(StoreError::database)?;
        Ok(Box::new(PgTx { tx }))
    }

    async fn consume_state(&self, state_id: &str, expires: Timestamp) -> Result<bool, StoreError> {
        if expires.millis() < Timestamp::now().millis() {
            return Ok(false);
        }
        // One statement, atomic on the primary key: of two instances racing, exactly one inserts.
        let inserted = sqlx::query(
            "INSERT INTO loginkit_used_states (id, expire) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(state_id)
        .bind(expires.millis())
        .execute(&self.pool)
        .await
        .map_err(StoreError::database)?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn claim_refresh(
        &self,
        identity_id: &str,
        seen: &Sealed,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        // One statement: of two instances claiming at once, the row lock lets one through and
        // the other re-reads the row it updated and finds the claim taken.
        let claimed = sqlx::query(
            "UPDATE loginkit_identities SET refresh_lease = $1 WHERE id = $2 AND access_token = $3
               AND (refresh_lease IS NULL OR refresh_lease < $4)",
        )
        .bind(until.millis())
        .bind(identity_id)
        .bind(&seen.0)
        .bind(now.millis())
        .execute(&self.pool)
        .await
        .map_err(StoreError::database)?;
        Ok(claimed.rows_affected() == 1)
    }

    async fn release_refresh(&self, identity_id: &str, until: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE loginkit_identities SET refresh_lease = NULL WHERE id = $1 AND refresh_lease = $2",
        )
        .bind(identity_id)
        .bind(until.millis())
        .execute(&self.pool)
        .await
        .map_err(StoreError::database)?;
        Ok(())
    }

    async fn sealed_elsewhere(
        &self,
        table: SealedTable,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<SealedRow>, StoreError> {
        let sql = AssertSqlSafe(format!(
            "SELECT id, provider, provider_uid, access_token, refresh_token, access_token_expiry FROM {}
             WHERE id > $1 AND (substr(access_token, 1, $2) <> $3 OR substr(refresh_token, 1, $2) <> $3)
             ORDER BY id LIMIT $4",
            table.table()
        ));
        let rows = sqlx::query(sql)
            .bind(after)
            .bind(i32::try_from(prefix.len()).unwrap_or(i32::MAX))
            .bind(prefix)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::database)?;
        rows.iter().map(sealed_row).collect::<Result<_, _>>().map_err(StoreError::database)
    }

    async fn replace_sealed(
        &self,
        table: SealedTable,
        id: &str,
        seen: &Sealed,
        tokens: &StoredTokens,
    ) -> Result<bool, StoreError> {
        let sql = AssertSqlSafe(format!(
            "UPDATE {} SET access_token = $1, refresh_token = $2 WHERE id = $3 AND access_token = $4",
            table.table()
        ));
        let done = sqlx::query(sql)
            .bind(&tokens.access_token.0)
            .bind(tokens.refresh_token.as_ref().map(|t| &t.0))
            .bind(id)
            .bind(&seen.0)
            .execute(&self.pool)
            .await
            .map_err(StoreError::database)?;
        Ok(done.rows_affected() == 1)
    }

    async fn prune(&self, now: Timestamp, limit: u32) -> Result<Pruned, StoreError> {
        let mut pruned = Pruned::default();
        for (sql, before, count) in [
            (
                "DELETE FROM loginkit_sessions WHERE id IN (SELECT id FROM loginkit_sessions WHERE expire < $1 LIMIT $2)",
                now.millis(),
                &mut pruned.sessions,
            ),
            (
                "DELETE FROM loginkit_tokens WHERE id IN (SELECT id FROM loginkit_tokens WHERE expire < $1 LIMIT $2)",
                now.millis(),
                &mut pruned.tokens,
            ),
            (
                "DELETE FROM loginkit_used_states WHERE id IN (SELECT id FROM loginkit_used_states WHERE expire < $1 LIMIT $2)",
                now.millis() - USED_STATE_GRACE_MS,
                &mut pruned.states,
            ),
        ] {
            let done = sqlx::query(sql)
                .bind(before)
                .bind(i64::from(limit))
                .execute(&self.pool)
                .await
                .map_err(StoreError::database)?;
            *count = done.rows_affected();
        }
        Ok(pruned)
    }
}

struct PgTx {
    tx: Transaction<'static, Postgres>,
}

fn db(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict("unique constraint"),
        _ => StoreError::database(error),
    }
}

/// The outcome of an `INSERT ... ON CONFLICT DO NOTHING`: no row means a unique rule held.
///
/// A unique violation would abort the whole Postgres transaction; SQLite fails only the
/// statement. Not raising one keeps the transaction usable after a conflict, as on SQLite.
fn inserted(rows: u64) -> Result<(), StoreError> {
    if rows == 1 { Ok(()) } else { Err(StoreError::Conflict("unique constraint")) }
}

impl PgTx {
    /// Stores provider tokens (and the email, when given) on one identity and returns it as
    /// updated; `None` when there is no such identity.
    async fn set_identity_tokens(
        &mut self,
        key: IdentityKey<'_>,
        renewal: &Renewal<'_>,
    ) -> Result<Option<Identity>, StoreError> {
        macro_rules! update {
            ($where:literal) => {
                concat!(
                    "UPDATE loginkit_identities SET access_token = $1, refresh_token = $2, access_token_expiry = $3,
                       provider_email = COALESCE($4, provider_email), subject = COALESCE($5, subject),
                       refresh_lease = NULL, updated_at = $6 WHERE ",
                    $where,
                    " RETURNING *"
                )
            };
        }
        let sql = match key {
            IdentityKey::Id(_) => update!("id = $7"),
            IdentityKey::Account(..) => update!("provider = $7 AND provider_uid = $8"),
            IdentityKey::Unchanged(..) => update!("id = $7 AND access_token = $8"),
        };
        let tokens = renewal.tokens;
        let query = sqlx::query(sql)
            .bind(&tokens.access_token.0)
            .bind(tokens.refresh_token.as_ref().map(|t| &t.0))
            .bind(tokens.access_token_expiry.map(Timestamp::millis))
            .bind(renewal.email)
            .bind(renewal.subject)
            .bind(renewal.now.millis());
        let query = match key {
            IdentityKey::Id(id) => query.bind(id),
            IdentityKey::Account(provider, uid) => query.bind(provider).bind(uid),
            IdentityKey::Unchanged(id, seen) => query.bind(id).bind(&seen.0),
        };
        let row = query.fetch_optional(&mut *self.tx).await.map_err(db)?;
        row.as_ref().map(identity_row).transpose().map_err(db)
    }
}

#[async_trait]
impl Tx for PgTx {
    async fn user(&mut self, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT * FROM loginkit_users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db)?;
        row.as_ref().map(user_row).transpose().map_err(db)
    }

    async fn user_by_verified_email(&mut self, email: &str) -> Result<Option<User>, StoreError> {
        // The same expression as the unique index, so the index answers it.
        let row = sqlx::query(
            r#"SELECT * FROM loginkit_users WHERE lower(email COLLATE "C") = lower($1 COLLATE "C") AND email_verified"#,
        )
        .bind(email)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db)?;
        row.as_ref().map(user_row).transpose().map_err(db)
    }

    async fn create_user(&mut self, user: NewUser) -> Result<User, StoreError> {
        let done = sqlx::query(
            "INSERT INTO loginkit_users (id, email, email_verified, name, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(user.email_verified)
        .bind(&user.name)
        .bind(user.created_at.millis())
        .bind(user.created_at.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(db)?;
        inserted(done.rows_affected())?;
        Ok(User {
            id: user.id,
            email: user.email,
            email_verified: user.email_verified,
            name: user.name,
            created_at: user.created_at,
            updated_at: user.created_at,
        })
    }

    async fn set_user_name(&mut self, id: &str, name: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE loginkit_users SET name = $1, updated_at = $2 WHERE id = $3")
            .bind(name)
            .bind(now.millis())
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn identity_by_uid(&mut self, provider: &str, uid: &str) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query("SELECT * FROM loginkit_identities WHERE provider = $1 AND provider_uid = $2")
            .bind(provider)
            .bind(uid)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db)?;
        row.as_ref().map(identity_row).transpose().map_err(db)
    }

    async fn identity(&mut self, id: &str) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query("SELECT * FROM loginkit_identities WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db)?;
        row.as_ref().map(identity_row).transpose().map_err(db)
    }

    async fn identities(&mut self, user_id: &str) -> Result<Vec<Identity>, StoreError> {
        // COLLATE "C": ties on created_at break by id in byte order, as in SQLite.
        let rows = sqlx::query(
            r#"SELECT * FROM loginkit_identities WHERE user_id = $1 ORDER BY created_at, id COLLATE "C""#,
        )
        .bind(user_id)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db)?;
        rows.iter().map(identity_row).collect::<Result<_, _>>().map_err(db)
    }

    async fn create_identity(&mut self, i: Identity) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO loginkit_identities (id, user_id, provider, provider_uid, provider_email, access_token,
               refresh_token, access_token_expiry, created_at, updated_at, subject)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
        )
        .bind(&i.id)
        .bind(&i.user_id)
        .bind(&i.provider)
        .bind(&i.provider_uid)
        .bind(&i.provider_email)
        .bind(&i.tokens.access_token.0)
        .bind(i.tokens.refresh_token.as_ref().map(|t| &t.0))
        .bind(i.tokens.access_token_expiry.map(Timestamp::millis))
        .bind(i.created_at.millis())
        .bind(i.updated_at.millis())
        .bind(&i.subject)
        .execute(&mut *self.tx)
        .await
        .map_err(db)?;
        inserted(done.rows_affected())
    }

    async fn update_identity_tokens(&mut self, id: &str, renewal: &Renewal<'_>) -> Result<(), StoreError> {
        self.set_identity_tokens(IdentityKey::Id(id), renewal).await.map(drop)
    }

    async fn renew_identity(
        &mut self,
        provider: &str,
        uid: &str,
        renewal: &Renewal<'_>,
    ) -> Result<Option<Identity>, StoreError> {
        self.set_identity_tokens(IdentityKey::Account(provider, uid), renewal).await
    }

    async fn finish_refresh(
        &mut self,
        identity_id: &str,
        seen: &Sealed,
        renewal: &Renewal<'_>,
    ) -> Result<bool, StoreError> {
        Ok(self.set_identity_tokens(IdentityKey::Unchanged(identity_id, seen), renewal).await?.is_some())
    }

    async fn delete_identity(&mut self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM loginkit_identities WHERE id = $1")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_session(&mut self, s: Session) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO loginkit_sessions (id, user_id, secret_digest, provider, provider_uid, access_token,
               refresh_token, access_token_expiry, expire, ip, user_agent, created_at, updated_at, link_binding)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING",
        )
        .bind(&s.id)
        .bind(&s.user_id)
        .bind(&s.secret_digest)
        .bind(&s.provider)
        .bind(&s.provider_uid)
        .bind(&s.tokens.access_token.0)
        .bind(s.tokens.refresh_token.as_ref().map(|t| &t.0))
        .bind(s.tokens.access_token_expiry.map(Timestamp::millis))
        .bind(s.expire.millis())
        .bind(&s.ip)
        .bind(&s.user_agent)
        .bind(s.created_at.millis())
        .bind(s.updated_at.millis())
        .bind(&s.link_binding)
        .execute(&mut *self.tx)
        .await
        .map_err(db)?;
        inserted(done.rows_affected())
    }

    async fn session_by_secret(&mut self, secret_digest: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query("SELECT * FROM loginkit_sessions WHERE secret_digest = $1")
            .bind(secret_digest)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db)?;
        row.as_ref().map(session_row).transpose().map_err(db)
    }

    async fn session(&mut self, id: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query("SELECT * FROM loginkit_sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db)?;
        row.as_ref().map(session_row).transpose().map_err(db)
    }

    async fn sessions(&mut self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        let rows = sqlx::query("SELECT * FROM loginkit_sessions WHERE user_id = $1 ORDER BY created_at, seq")
            .bind(user_id)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db)?;
        rows.iter().map(session_row).collect::<Result<_, _>>().map_err(db)
    }

    async fn update_session(
        &mut self,
        id: &str,
        tokens: &StoredTokens,
        expire: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE loginkit_sessions SET access_token = $1, refresh_token = $2, access_token_expiry = $3,
               expire = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&tokens.access_token.0)
        .bind(tokens.refresh_token.as_ref().map(|t| &t.0))
        .bind(tokens.access_token_expiry.map(Timestamp::millis))
        .bind(expire.millis())
        .bind(now.millis())
        .bind(id)
        .execute(&mut *self.tx)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn delete_session(&mut self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM loginkit_sessions WHERE id = $1")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn trim_sessions(&mut self, user_id: &str, keep: usize, spare: &str) -> Result<u64, StoreError> {
        if keep == 0 {
            return Ok(0);
        }
        let done = sqlx::query(
            "DELETE FROM loginkit_sessions WHERE user_id = $1 AND id <> $2 AND seq NOT IN (
               SELECT seq FROM loginkit_sessions WHERE user_id = $1 AND id <> $2
               ORDER BY created_at DESC, seq DESC LIMIT $3)",
        )
        .bind(user_id)
        .bind(spare)
        .bind(i64::try_from(keep - 1).unwrap_or(i64::MAX))
        .execute(&mut *self.tx)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn create_token(&mut self, t: OneTimeToken) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO loginkit_tokens (id, user_id, secret_digest, provider, expire, created_at, link_binding)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&t.id)
        .bind(&t.user_id)
        .bind(&t.secret_digest)
        .bind(&t.provider)
        .bind(t.expire.millis())
        .bind(t.created_at.millis())
        .bind(&t.link_binding)
        .execute(&mut *self.tx)
        .await
        .map_err(db)?;
        inserted(done.rows_affected())
    }

    async fn take_token(
        &mut self,
        user_id: &str,
        secret_digest: &str,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        let row =
            sqlx::query("DELETE FROM loginkit_tokens WHERE user_id = $1 AND secret_digest = $2 RETURNING *")
                .bind(user_id)
                .bind(secret_digest)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(db)?;
        row.as_ref().map(token_row).transpose().map_err(db)
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(db)
    }
}
