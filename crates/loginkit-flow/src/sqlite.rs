//! The bundled [`Store`]: SQLite through sqlx, with embedded migrations, WAL and
//! `BEGIN IMMEDIATE` transactions so concurrent logins serialise instead of failing.

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, SqlSafeStr, Sqlite, Transaction};

use crate::error::StoreError;
use crate::model::{Identity, NewUser, OneTimeToken, Sealed, Session, StoredTokens, Timestamp, User};
use crate::store::{
    IdentityKey, Pruned, Renewal, SealedRow, SealedTable, Store, Tx, USED_STATE_GRACE_MS, row_decoders,
};

row_decoders!(SqliteRow);

/// Where users live: [`BuiltinUsers`] (loginkit's own table) or an application's table.
///
/// The methods get the transaction's connection, so user rows are written atomically with the
/// identity and session of the same login.
#[async_trait]
pub trait UserTable: Send + Sync + 'static {
    /// A user by id.
    async fn user(&self, conn: &mut SqliteConnection, id: &str) -> sqlx::Result<Option<User>>;
    /// The user with this email (case-insensitive), if any.
    async fn user_by_verified_email(
        &self,
        conn: &mut SqliteConnection,
        email: &str,
    ) -> sqlx::Result<Option<User>>;
    /// Inserts a user; a unique violation on the email is reported as a conflict.
    async fn create_user(&self, conn: &mut SqliteConnection, user: &NewUser) -> sqlx::Result<User>;
    /// Sets the display name (called when the user had none). The default does nothing.
    async fn set_user_name(
        &self,
        _conn: &mut SqliteConnection,
        _id: &str,
        _name: &str,
        _now: Timestamp,
    ) -> sqlx::Result<()> {
        Ok(())
    }
}

/// Users in loginkit's own `loginkit_users` table.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinUsers;

#[async_trait]
impl UserTable for BuiltinUsers {
    async fn user(&self, conn: &mut SqliteConnection, id: &str) -> sqlx::Result<Option<User>> {
        let row =
            sqlx::query("SELECT * FROM loginkit_users WHERE id = ?").bind(id).fetch_optional(conn).await?;
        row.as_ref().map(user_row).transpose()
    }

    async fn user_by_verified_email(
        &self,
        conn: &mut SqliteConnection,
        email: &str,
    ) -> sqlx::Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM loginkit_users WHERE email = ? AND email_verified = 1")
            .bind(email)
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(user_row).transpose()
    }

    async fn create_user(&self, conn: &mut SqliteConnection, user: &NewUser) -> sqlx::Result<User> {
        sqlx::query(
            "INSERT INTO loginkit_users (id, email, email_verified, name, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(user.email_verified)
        .bind(&user.name)
        .bind(user.created_at.millis())
        .bind(user.created_at.millis())
        .execute(conn)
        .await?;
        Ok(User {
            id: user.id.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            name: user.name.clone(),
            created_at: user.created_at,
            updated_at: user.created_at,
        })
    }

    async fn set_user_name(
        &self,
        conn: &mut SqliteConnection,
        id: &str,
        name: &str,
        now: Timestamp,
    ) -> sqlx::Result<()> {
        sqlx::query("UPDATE loginkit_users SET name = ?, updated_at = ? WHERE id = ?")
            .bind(name)
            .bind(now.millis())
            .bind(id)
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// A [`Store`] on SQLite.
///
/// SQLite has one writer at a time. Writers of this store queue for an in-process lock before
/// `BEGIN IMMEDIATE`, so under load they wait their turn instead of retrying on `SQLITE_BUSY`
/// with the busy handler's sleeps (another process writing the same file is still handled by the
/// busy timeout).
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    users: Arc<dyn UserTable>,
    write: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn migrator() -> Migrator {
    let migration = |version, name, sql: &'static str| {
        Migration::new(version, Cow::Borrowed(name), MigrationType::Simple, sql.into_sql_str(), false)
    };
    let mut migrator = Migrator::with_migrations(vec![
        migration(1, "init", include_str!("../migrations/sqlite/0001_init.sql")),
        migration(2, "security", include_str!("../migrations/sqlite/0002_security.sql")),
    ]);
    // Its own bookkeeping table, so an application's sqlx migrations in the same file stay apart.
    migrator.dangerous_set_table_name("loginkit_migrations");
    migrator
}

/// Makes the database file (created empty when missing) and its `-wal` and `-shm` companions
/// readable by their owner only (0600): they hold session digests and sealed provider tokens.
/// SQLite gives the companions it creates the database file's mode.
fn private_file(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = std::path::Path::new(&name);
            if let Ok(metadata) = std::fs::metadata(file)
                && metadata.permissions().mode() & 0o077 != 0
            {
                std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `url` (`sqlite://path.db`, `sqlite::memory:`)
    /// and applies loginkit's migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url).map_err(StoreError::database)?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            private_file(options.get_filename()).map_err(StoreError::database)?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // No mmap: every write by one connection makes the others unmap and remap the file
            // (a TLB shootdown across cores); at one write per login that cost more than it saved.
            .busy_timeout(Duration::from_secs(10));
        // Every connection to `:memory:` is its own database: keep a single one.
        let connections = if in_memory { 1 } else { 8 };
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            // A local file cannot hang up: pinging each connection as it leaves the pool would
            // cost a round trip to its thread on every request.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(StoreError::database)?;
        Self::with_pool(pool, BuiltinUsers).await
    }

    /// A store over an existing pool, with users kept by `users`; applies loginkit's migrations.
    pub async fn with_pool(pool: SqlitePool, users: impl UserTable) -> Result<Self, StoreError> {
        migrator().run(&pool).await.map_err(StoreError::database)?;
        Ok(Self { pool, users: Arc::new(users), write: Arc::default() })
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin(&self) -> Result<Box<dyn Tx>, StoreError> {
        let turn = self.write.clone().lock_owned().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(StoreError::database)?;
        Ok(Box::new(SqliteTx { tx: Conn::Write(tx), users: self.users.clone(), _turn: Some(turn) }))
    }

    /// Reads run on a pooled connection in autocommit mode: each statement sees the latest
    /// committed data, and a request saves the `BEGIN` and `ROLLBACK` round trips to the
    /// connection's thread.
    async fn read(&self) -> Result<Box<dyn Tx>, StoreError> {
        let conn = self.pool.acquire().await.map_err(StoreError::database)?;
        Ok(Box::new(SqliteTx { tx: Conn::Read(conn), users: self.users.clone(), _turn: None }))
    }

    async fn consume_state(&self, state_id: &str, expires: Timestamp) -> Result<bool, StoreError> {
        if expires.millis() < Timestamp::now().millis() {
            return Ok(false);
        }
        let _turn = self.write.lock().await;
        let inserted =
            sqlx::query("INSERT INTO loginkit_used_states (id, expire) VALUES (?, ?) ON CONFLICT DO NOTHING")
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
        let _turn = self.write.lock().await;
        let claimed = sqlx::query(
            "UPDATE loginkit_identities SET refresh_lease = ? WHERE id = ? AND access_token = ?
               AND (refresh_lease IS NULL OR refresh_lease < ?)",
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
        let _turn = self.write.lock().await;
        sqlx::query("UPDATE loginkit_identities SET refresh_lease = NULL WHERE id = ? AND refresh_lease = ?")
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
             WHERE id > ?1 AND (substr(access_token, 1, ?2) <> ?3 OR substr(refresh_token, 1, ?2) <> ?3)
             ORDER BY id LIMIT ?4",
            table.table()
        ));
        let rows = sqlx::query(sql)
            .bind(after)
            .bind(i64::try_from(prefix.len()).unwrap_or(i64::MAX))
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
            "UPDATE {} SET access_token = ?, refresh_token = ? WHERE id = ? AND access_token = ?",
            table.table()
        ));
        let _turn = self.write.lock().await;
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
                "DELETE FROM loginkit_sessions WHERE rowid IN (SELECT rowid FROM loginkit_sessions WHERE expire < ? LIMIT ?)",
                now.millis(),
                &mut pruned.sessions,
            ),
            (
                "DELETE FROM loginkit_tokens WHERE rowid IN (SELECT rowid FROM loginkit_tokens WHERE expire < ? LIMIT ?)",
                now.millis(),
                &mut pruned.tokens,
            ),
            (
                "DELETE FROM loginkit_used_states WHERE rowid IN (SELECT rowid FROM loginkit_used_states WHERE expire < ? LIMIT ?)",
                now.millis() - USED_STATE_GRACE_MS,
                &mut pruned.states,
            ),
        ] {
            // One short write per table: logins waiting for the writer's turn wait for one batch.
            let _turn = self.write.lock().await;
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

/// A write transaction, or a plain connection for reads.
enum Conn {
    Write(Transaction<'static, Sqlite>),
    Read(PoolConnection<Sqlite>),
}

impl std::ops::Deref for Conn {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        match self {
            Conn::Write(tx) => tx,
            Conn::Read(conn) => conn,
        }
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            Conn::Write(tx) => tx,
            Conn::Read(conn) => conn,
        }
    }
}

struct SqliteTx {
    tx: Conn,
    users: Arc<dyn UserTable>,
    /// A writer's turn, released after the commit or rollback.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

fn db(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict("unique constraint"),
        _ => StoreError::database(error),
    }
}

impl SqliteTx {
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
                    "UPDATE loginkit_identities SET access_token = ?, refresh_token = ?, access_token_expiry = ?,
                       provider_email = COALESCE(?, provider_email), subject = COALESCE(?, subject),
                       refresh_lease = NULL, updated_at = ? WHERE ",
                    $where,
                    " RETURNING *"
                )
            };
        }
        let sql = match key {
            IdentityKey::Id(_) => update!("id = ?"),
            IdentityKey::Account(..) => update!("provider = ? AND provider_uid = ?"),
            IdentityKey::Unchanged(..) => update!("id = ? AND access_token = ?"),
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
impl Tx for SqliteTx {
    async fn user(&mut self, id: &str) -> Result<Option<User>, StoreError> {
        self.users.user(&mut self.tx, id).await.map_err(db)
    }

    async fn user_by_verified_email(&mut self, email: &str) -> Result<Option<User>, StoreError> {
        self.users.user_by_verified_email(&mut self.tx, email).await.map_err(db)
    }

    async fn create_user(&mut self, user: NewUser) -> Result<User, StoreError> {
        self.users.create_user(&mut self.tx, &user).await.map_err(db)
    }

    async fn set_user_name(&mut self, id: &str, name: &str, now: Timestamp) -> Result<(), StoreError> {
        self.users.set_user_name(&mut self.tx, id, name, now).await.map_err(db)
    }

    async fn identity_by_uid(&mut self, provider: &str, uid: &str) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query("SELECT * FROM loginkit_identities WHERE provider = ? AND provider_uid = ?")
            .bind(provider)
            .bind(uid)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db)?;
        row.as_ref().map(identity_row).transpose().map_err(db)
    }

    async fn identity(&mut self, id: &str) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query("SELECT * FROM loginkit_identities WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db)?;
        row.as_ref().map(identity_row).transpose().map_err(db)
    }

    async fn identities(&mut self, user_id: &str) -> Result<Vec<Identity>, StoreError> {
        let rows = sqlx::query("SELECT * FROM loginkit_identities WHERE user_id = ? ORDER BY created_at, id")
            .bind(user_id)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db)?;
        rows.iter().map(identity_row).collect::<Result<_, _>>().map_err(db)
    }

    async fn create_identity(&mut self, i: Identity) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO loginkit_identities (id, user_id, provider, provider_uid, provider_email, access_token,
               refresh_token, access_token_expiry, created_at, updated_at, subject)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        Ok(())
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
        let done = sqlx::query("DELETE FROM loginkit_identities WHERE id = ?")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_session(&mut self, s: Session) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO loginkit_sessions (id, user_id, secret_digest, provider, provider_uid, access_token,
               refresh_token, access_token_expiry, expire, ip, user_agent, created_at, updated_at, link_binding)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        Ok(())
    }

    async fn session_by_secret(&mut self, secret_digest: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query("SELECT * FROM loginkit_sessions WHERE secret_digest = ?")
            .bind(secret_digest)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db)?;
        row.as_ref().map(session_row).transpose().map_err(db)
    }

    async fn session(&mut self, id: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query("SELECT * FROM loginkit_sessions WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db)?;
        row.as_ref().map(session_row).transpose().map_err(db)
    }

    async fn sessions(&mut self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM loginkit_sessions WHERE user_id = ? ORDER BY created_at, rowid")
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
            "UPDATE loginkit_sessions SET access_token = ?, refresh_token = ?, access_token_expiry = ?, expire = ?,
               updated_at = ? WHERE id = ?",
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
        let done = sqlx::query("DELETE FROM loginkit_sessions WHERE id = ?")
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
            "DELETE FROM loginkit_sessions WHERE user_id = ?1 AND id <> ?2 AND rowid NOT IN (
               SELECT rowid FROM loginkit_sessions WHERE user_id = ?1 AND id <> ?2
               ORDER BY created_at DESC, rowid DESC LIMIT ?3)",
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
        sqlx::query(
            "INSERT INTO loginkit_tokens (id, user_id, secret_digest, provider, expire, created_at, link_binding)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
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
        Ok(())
    }

    async fn take_token(
        &mut self,
        user_id: &str,
        secret_digest: &str,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        let row =
            sqlx::query("DELETE FROM loginkit_tokens WHERE user_id = ? AND secret_digest = ? RETURNING *")
                .bind(user_id)
                .bind(secret_digest)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(db)?;
        row.as_ref().map(token_row).transpose().map_err(db)
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        match self.tx {
            Conn::Write(tx) => tx.commit().await.map_err(db),
            Conn::Read(_) => Ok(()),
        }
    }
}
