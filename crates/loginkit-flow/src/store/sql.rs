//! [`SqlStore`]: the one implementation of [`Store`] over SQL, for every backend.
//!
//! Statements are written once, with numbered parameters (`?1`) and a few dialect words (JSON
//! building, case-insensitive comparison, the spelling of "true"), and rendered for the backend
//! when the store opens. Every read returns JSON built by the database, decoded here with serde,
//! so rows are decoded once for both databases. A login's writes are a list of [`Step`]s with
//! the rows each must touch; the backend runs them as one unit (SQLite: one job on its writer
//! thread; PostgreSQL: one statement of data-modifying CTEs), and a step that touches other than
//! it must undoes the whole unit as a [`StoreError::Conflict`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{
    Decide, LoginKey, LoginPlan, PlannedIdentity, PlannedUser, Pruned, Redemption, Renewal, SealedRow,
    SealedTable, SessionRenewal, Snapshot, Store, USED_STATE_GRACE_MS, UserTable,
};
use crate::error::{FlowError, StoreError};
use crate::model::{Identity, OneTimeToken, Revocation, Sealed, Session, StoredTokens, Timestamp, User};

/// A value bound to a statement's parameter. `Debug` shows the kind only: values include token
/// digests and sealed tokens.
#[derive(Clone)]
pub enum Value {
    /// Text, or NULL.
    Text(Option<String>),
    /// A 64-bit integer, or NULL.
    Int(Option<i64>),
    /// A boolean.
    Bool(bool),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Value::Text(_) => "Text(..)",
            Value::Int(_) => "Int(..)",
            Value::Bool(_) => "Bool(..)",
        })
    }
}

fn text(value: &str) -> Value {
    Value::Text(Some(value.to_owned()))
}

fn opt_text(value: Option<&str>) -> Value {
    Value::Text(value.map(str::to_owned))
}

fn int(value: i64) -> Value {
    Value::Int(Some(value))
}

/// A statement rendered for a backend, shared by every call.
pub type Sql = Arc<str>;

/// What one step of a unit must touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Exactly one row: anything else is a conflict.
    One,
    /// Any number of rows.
    Any,
}

/// One statement of a unit ([`Backend::unit`]).
#[derive(Debug, Clone)]
pub struct Step {
    /// The statement, with its own parameters numbered from `?1` (the backend renumbers them
    /// when it joins steps into one statement).
    pub sql: Sql,
    /// Its parameters.
    pub values: Vec<Value>,
    /// The rows it must touch.
    pub expect: Expect,
}

/// The two SQL dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.35 or later (RETURNING, UPSERT, JSON functions).
    Sqlite,
    /// PostgreSQL 12 or later.
    Postgres,
}

impl Dialect {
    /// `json_object(...)` of key/expression pairs.
    fn object(self, pairs: &[(&str, String)]) -> String {
        let name = match self {
            Dialect::Sqlite => "json_object",
            Dialect::Postgres => "json_build_object",
        };
        let args: Vec<String> = pairs.iter().map(|(key, expr)| format!("'{key}', {expr}")).collect();
        format!("{name}({})", args.join(", "))
    }

    /// A JSON value coming out of a subquery, embedded in an enclosing JSON object.
    fn nested(self, subquery: &str) -> String {
        match self {
            // A subquery's result is plain text to SQLite: `json()` makes it JSON again.
            Dialect::Sqlite => format!("json(({subquery}))"),
            Dialect::Postgres => format!("({subquery})"),
        }
    }

    /// The JSON array of `expr` over a query's rows (`[]` for none).
    fn list(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_group_array({expr})"),
            Dialect::Postgres => format!("COALESCE(json_agg({expr}), '[]'::json)"),
        }
    }

    /// A JSON value as text for the driver.
    fn as_text(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => expr.to_owned(),
            Dialect::Postgres => format!("({expr})::text"),
        }
    }

    /// ASCII case-insensitive equality of two texts (SQLite's NOCASE; `lower` under the "C"
    /// collation on PostgreSQL, whatever the database's locale).
    fn same_text(self, column: &str, param: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{column} = {param} COLLATE NOCASE"),
            Dialect::Postgres => format!("lower({column} COLLATE \"C\") = lower({param} COLLATE \"C\")"),
        }
    }

    /// A boolean column being true, as the database's indexes spell it.
    fn is_true(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{column} = 1"),
            Dialect::Postgres => column.to_owned(),
        }
    }

    /// The statement for this database: `?N` placeholders become `$N` on PostgreSQL.
    pub(crate) fn render(self, sql: &str) -> String {
        renumber(sql, 0, self)
    }
}

/// `sql` with every `?N` moved to `?(N + offset)` (`$(N + offset)` on PostgreSQL).
pub(crate) fn renumber(sql: &str, offset: usize, dialect: Dialect) -> String {
    let sign = match dialect {
        Dialect::Sqlite => '?',
        Dialect::Postgres => '$',
    };
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '?' {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some((_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => {
                out.push(sign);
                out.push_str(&(n + offset).to_string());
            }
            Err(_) => out.push('?'),
        }
    }
    out
}

/// A sqlx statement of `sql` with `values` bound in order (the readers on SQLite, every
/// statement on PostgreSQL).
pub(crate) fn sqlx_query<DB>(
    sql: String,
    values: Vec<Value>,
) -> sqlx::query::Query<'static, DB, DB::Arguments>
where
    DB: sqlx::Database,
    Option<String>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in values {
        query = match value {
            Value::Text(text) => query.bind(text),
            Value::Int(int) => query.bind(int),
            Value::Bool(flag) => query.bind(flag),
        };
    }
    query
}

/// The names of loginkit's migrations, in order; each database has its own SQL for each
/// (`migrations/sqlite/`, `migrations/postgres/`).
const MIGRATIONS: [&str; 7] = [
    "init",
    "security",
    "sessions by slot",
    "sessions by user",
    "token lifecycle",
    "identity id token",
    "token redeemer",
];

/// loginkit's migrations with `sql` for each of [`MIGRATIONS`], recorded in their own
/// `loginkit_migrations` table so an application's sqlx migrations in the same database stay
/// apart (sqlx locks the database while migrating, so instances starting together are safe).
pub(crate) fn migrator(sql: [&'static str; MIGRATIONS.len()]) -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr;
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    let migrations = MIGRATIONS
        .iter()
        .zip(sql)
        .zip(1..)
        .map(|((name, sql), version)| {
            Migration::new(version, (*name).into(), MigrationType::Simple, sql.into_sql_str(), false)
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name("loginkit_migrations");
    migrator
}

/// What a database driver does for [`SqlStore`]: run rendered statements and units.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The dialect its statements are rendered in.
    fn dialect(&self) -> Dialect;
    /// Runs a read; each row is one JSON text.
    async fn rows(&self, sql: &Sql, values: Vec<Value>) -> Result<Vec<String>, StoreError>;
    /// Runs one write; the rows it touched.
    async fn execute(&self, sql: &Sql, values: Vec<Value>) -> Result<u64, StoreError>;
    /// Runs one write with `RETURNING` one JSON text per row.
    async fn returning(&self, sql: &Sql, values: Vec<Value>) -> Result<Vec<String>, StoreError>;
    /// Runs `steps` as one unit: all of them, each touching the rows it expects, or nothing and
    /// [`StoreError::Conflict`].
    async fn unit(&self, steps: Vec<Step>) -> Result<(), StoreError>;
    /// A login: runs the read `lookup` (one JSON row), has `make` turn it into a plan and its
    /// steps, and runs those as a unit; after a conflict, again from the read. `make`'s refusal
    /// ends it with nothing written.
    async fn login(
        &self,
        lookup: &Sql,
        values: Vec<Value>,
        make: MakeSteps,
    ) -> Result<Result<LoginPlan, FlowError>, StoreError>;
    /// Statements and units sent so far.
    fn round_trips(&self) -> u64;
}

/// Turns a login's lookup (its JSON row) into the plan and the steps that write it.
pub type MakeSteps = Box<dyn FnMut(&str) -> Result<(LoginPlan, Vec<Step>), FlowError> + Send>;

/// Counts what a backend sends to its database.
#[derive(Debug, Default)]
pub(crate) struct TripCounter(AtomicU64);

impl TripCounter {
    pub(crate) fn count(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The store: loginkit's tables (and the configured user table) on a [`Backend`].
pub struct SqlStore<B: Backend> {
    pub(crate) backend: B,
    sql: Arc<Statements>,
}

impl<B: Backend> fmt::Debug for SqlStore<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore").field("dialect", &self.backend.dialect()).finish_non_exhaustive()
    }
}

impl<B: Backend> SqlStore<B> {
    /// A store over `backend` (migrated already), keeping users in `users`, whose table must
    /// have the configured columns.
    pub(crate) async fn new(backend: B, users: &UserTable) -> Result<Self, StoreError> {
        users.check()?;
        let sql = Arc::new(Statements::new(backend.dialect(), users));
        let store = Self { backend, sql };
        store.backend.rows(&store.sql.probe_users, Vec::new()).await.map_err(|e| {
            StoreError::Config(format!(
                "user table `{}` does not have the configured columns: {e}",
                users.table
            ))
        })?;
        Ok(store)
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The statement checking that the user table has its columns (a read of no rows).
    async fn one<T: DeserializeOwned>(&self, sql: &Sql, values: Vec<Value>) -> Result<Option<T>, StoreError> {
        self.backend.rows(sql, values).await?.first().map(|json| decode(json)).transpose()
    }

    async fn all<T: DeserializeOwned>(&self, sql: &Sql, values: Vec<Value>) -> Result<Vec<T>, StoreError> {
        self.backend.rows(sql, values).await?.iter().map(|json| decode(json)).collect()
    }
}

fn decode<T: DeserializeOwned>(json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(StoreError::database)
}

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    async fn consume_state(&self, state_id: &str, expires: Timestamp) -> Result<bool, StoreError> {
        if expires < Timestamp::now() {
            return Ok(false);
        }
        let inserted = self
            .backend
            .execute(&self.sql.consume_state, vec![text(state_id), int(expires.millis())])
            .await?;
        Ok(inserted == 1)
    }

    async fn login(
        &self,
        key: &LoginKey<'_>,
        mut decide: Decide,
    ) -> Result<Result<LoginPlan, FlowError>, StoreError> {
        let values = vec![
            text(key.provider),
            text(key.provider_uid),
            opt_text(key.email),
            opt_text(key.current_user),
            opt_text(key.previous_uid),
        ];
        let sql = self.sql.clone();
        let make: MakeSteps = Box::new(move |json| {
            let snapshot: Snapshot = decode(json)?;
            let plan = decide(&snapshot)?;
            let steps = sql.steps(&plan);
            Ok((plan, steps))
        });
        self.backend.login(&self.sql.lookup, values, make).await
    }

    async fn redeem(
        &self,
        user_id: &str,
        secret_digest: &str,
        redeemer: Option<&str>,
    ) -> Result<Option<Redemption>, StoreError> {
        #[derive(Deserialize)]
        struct Taken {
            token: OneTimeToken,
            identity: Option<Identity>,
        }
        let taken = self
            .backend
            .returning(&self.sql.take_token, vec![text(user_id), text(secret_digest), opt_text(redeemer)])
            .await?;
        let Some(taken) = taken.first().map(|json| decode::<Taken>(json)).transpose()? else {
            return Ok(None);
        };
        Ok(Some(Redemption { token: taken.token, identity: taken.identity }))
    }

    async fn authenticate(
        &self,
        user_id: &str,
        secret_digest: &str,
    ) -> Result<Option<(Session, User)>, StoreError> {
        #[derive(Deserialize)]
        struct SignedIn {
            session: Session,
            user: User,
        }
        let found: Option<SignedIn> =
            self.one(&self.sql.authenticate, vec![text(user_id), text(secret_digest)]).await?;
        Ok(found.map(|s| (s.session, s.user)))
    }

    async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.one(&self.sql.user, vec![text(id)]).await
    }

    async fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        self.one(&self.sql.session, vec![text(id)]).await
    }

    async fn sessions(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        self.all(&self.sql.sessions, vec![text(user_id)]).await
    }

    async fn update_session(
        &self,
        id: &str,
        tokens: &StoredTokens,
        expire: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut values = token_values(tokens);
        values.extend([int(expire.millis()), int(now.millis()), text(id)]);
        Ok(self.backend.execute(&self.sql.update_session, values).await? == 1)
    }

    async fn delete_session(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self.backend.execute(&self.sql.delete_session, vec![text(id), text(user_id)]).await? > 0)
    }

    async fn delete_sessions(&self, user_id: &str) -> Result<u64, StoreError> {
        self.backend.execute(&self.sql.delete_sessions, vec![text(user_id)]).await
    }

    async fn identity(&self, provider: &str, uid: &str) -> Result<Option<Identity>, StoreError> {
        self.one(&self.sql.identity, vec![text(provider), text(uid)]).await
    }

    async fn identities(&self, user_id: &str) -> Result<Vec<Identity>, StoreError> {
        self.all(&self.sql.identities, vec![text(user_id)]).await
    }

    async fn delete_identity(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self.backend.execute(&self.sql.delete_identity, vec![text(id), text(user_id)]).await? > 0)
    }

    async fn claim_refresh(
        &self,
        identity_id: &str,
        seen: &Sealed,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let values = vec![int(until.millis()), text(identity_id), text(&seen.0), int(now.millis())];
        Ok(self.backend.execute(&self.sql.claim_refresh, values).await? == 1)
    }

    async fn release_refresh(&self, identity_id: &str, until: Timestamp) -> Result<(), StoreError> {
        self.backend.execute(&self.sql.release_refresh, vec![text(identity_id), int(until.millis())]).await?;
        Ok(())
    }

    async fn finish_refresh(
        &self,
        identity_id: &str,
        seen: &Sealed,
        renewal: &Renewal<'_>,
        session: Option<&SessionRenewal<'_>>,
    ) -> Result<bool, StoreError> {
        let mut identity = token_values(renewal.tokens);
        identity.extend([
            Value::Text(None),
            opt_text(renewal.subject),
            int(renewal.now.millis()),
            text(identity_id),
            text(&seen.0),
            opt_text(renewal.claims),
            opt_text(renewal.id_token.map(|t| t.0.as_str())),
        ]);
        let mut steps =
            vec![Step { sql: self.sql.refresh_identity.clone(), values: identity, expect: Expect::One }];
        if let Some(session) = session {
            let mut values = token_values(session.tokens);
            values.extend([int(session.expire.millis()), int(renewal.now.millis()), text(session.id)]);
            steps.push(Step { sql: self.sql.update_session.clone(), values, expect: Expect::Any });
        }
        match self.backend.unit(steps).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(other) => Err(other),
        }
    }

    async fn queue_revocations(&self, revocations: &[Revocation]) -> Result<(), StoreError> {
        if revocations.is_empty() {
            return Ok(());
        }
        let steps = revocations
            .iter()
            .map(|r| Step {
                sql: self.sql.queue_revocation.clone(),
                values: vec![
                    text(&r.id),
                    text(&r.provider),
                    text(&r.token.0),
                    text(&r.hint),
                    int(i64::from(r.attempts)),
                    int(r.next_at.millis()),
                    int(r.created_at.millis()),
                ],
                expect: Expect::One,
            })
            .collect();
        self.backend.unit(steps).await
    }

    async fn due_revocations(&self, now: Timestamp, limit: u32) -> Result<Vec<Revocation>, StoreError> {
        self.all(&self.sql.due_revocations, vec![int(now.millis()), int(i64::from(limit))]).await
    }

    async fn forget_revocation(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.backend.execute(&self.sql.forget_revocation, vec![text(id)]).await? > 0)
    }

    async fn postpone_revocation(
        &self,
        id: &str,
        attempts: u32,
        next_at: Timestamp,
    ) -> Result<(), StoreError> {
        let values = vec![int(i64::from(attempts)), int(next_at.millis()), text(id)];
        self.backend.execute(&self.sql.postpone_revocation, values).await?;
        Ok(())
    }

    async fn prune(&self, now: Timestamp, limit: u32) -> Result<Pruned, StoreError> {
        let limit = i64::from(limit);
        let sql = &self.sql;
        Ok(Pruned {
            sessions: self.backend.execute(&sql.prune_sessions, vec![int(now.millis()), int(limit)]).await?,
            tokens: self.backend.execute(&sql.prune_tokens, vec![int(now.millis()), int(limit)]).await?,
            states: self
                .backend
                .execute(&sql.prune_states, vec![int(now.millis() - USED_STATE_GRACE_MS), int(limit)])
                .await?,
        })
    }

    async fn sealed_elsewhere(
        &self,
        table: SealedTable,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<SealedRow>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            id: String,
            provider: String,
            provider_uid: String,
            #[serde(flatten)]
            tokens: StoredTokens,
        }
        let sql = match table {
            SealedTable::Identities => &self.sql.sealed_identities,
            SealedTable::Sessions => &self.sql.sealed_sessions,
        };
        let len = i64::try_from(prefix.len()).unwrap_or(i64::MAX);
        let rows: Vec<Row> =
            self.all(sql, vec![text(after), int(len), text(prefix), int(i64::from(limit))]).await?;
        Ok(rows
            .into_iter()
            .map(|row| SealedRow {
                id: row.id,
                provider: row.provider,
                provider_uid: row.provider_uid,
                tokens: row.tokens,
            })
            .collect())
    }

    async fn replace_sealed(
        &self,
        table: SealedTable,
        id: &str,
        seen: &Sealed,
        tokens: &StoredTokens,
    ) -> Result<bool, StoreError> {
        let sql = match table {
            SealedTable::Identities => &self.sql.reseal_identity,
            SealedTable::Sessions => &self.sql.reseal_session,
        };
        let values = vec![
            text(&tokens.access_token.0),
            opt_text(tokens.refresh_token.as_ref().map(|t| t.0.as_str())),
            text(id),
            text(&seen.0),
        ];
        Ok(self.backend.execute(sql, values).await? == 1)
    }

    fn round_trips(&self) -> u64 {
        self.backend.round_trips()
    }
}

/// Access token, refresh token, expiry: the first three parameters of every token update.
fn token_values(tokens: &StoredTokens) -> Vec<Value> {
    vec![
        text(&tokens.access_token.0),
        opt_text(tokens.refresh_token.as_ref().map(|t| t.0.as_str())),
        Value::Int(tokens.access_token_expiry.map(Timestamp::millis)),
    ]
}

/// Every statement of the store, rendered once for its dialect and user table.
struct Statements {
    probe_users: Sql,
    consume_state: Sql,
    lookup: Sql,
    take_token: Sql,
    authenticate: Sql,
    user: Sql,
    session: Sql,
    sessions: Sql,
    update_session: Sql,
    delete_session: Sql,
    delete_sessions: Sql,
    identity: Sql,
    identities: Sql,
    delete_identity: Sql,
    claim_refresh: Sql,
    release_refresh: Sql,
    refresh_identity: Sql,
    prune_sessions: Sql,
    prune_tokens: Sql,
    prune_states: Sql,
    sealed_identities: Sql,
    sealed_sessions: Sql,
    reseal_identity: Sql,
    reseal_session: Sql,
    create_user: Sql,
    touch_user: Sql,
    create_identity: Sql,
    renew_identity: Sql,
    put_session: Sql,
    drop_sessions_from: Sql,
    create_token: Sql,
    queue_revocation: Sql,
    due_revocations: Sql,
    forget_revocation: Sql,
    postpone_revocation: Sql,
    dialect: Dialect,
    users_have_timestamps: (bool, bool),
}

/// A quoted SQL identifier (`"name"`, or `"schema"."table"`).
fn quote(name: &str) -> String {
    name.split('.').map(|part| format!("\"{part}\"")).collect::<Vec<_>>().join(".")
}

const REVOCATION_COLUMNS: [&str; 7] =
    ["id", "provider", "token", "hint", "attempts", "next_at", "created_at"];

const IDENTITY_COLUMNS: [&str; 15] = [
    "id",
    "user_id",
    "provider",
    "provider_uid",
    "provider_email",
    "subject",
    "access_token",
    "refresh_token",
    "access_token_expiry",
    "created_at",
    "updated_at",
    "claims",
    "avatar_url",
    "id_token",
    "refresh_lease",
];

const SESSION_COLUMNS: [&str; 15] = [
    "id",
    "user_id",
    "secret_digest",
    "provider",
    "provider_uid",
    "access_token",
    "refresh_token",
    "access_token_expiry",
    "expire",
    "ip",
    "user_agent",
    "created_at",
    "updated_at",
    "link_binding",
    "slot",
];

const TOKEN_COLUMNS: [&str; 8] =
    ["id", "user_id", "secret_digest", "provider", "expire", "created_at", "link_binding", "redeemer"];

impl Statements {
    fn new(d: Dialect, users: &UserTable) -> Self {
        let r = |sql: String| -> Sql { Arc::from(d.render(&sql)) };
        let columns = |alias: &str, names: &[&str]| -> String {
            d.object(&names.iter().map(|n| (*n, format!("{alias}.{n}"))).collect::<Vec<_>>())
        };
        let table = quote(&users.table);
        let (id, email, verified, name) =
            (quote(&users.id), quote(&users.email), quote(&users.email_verified), quote(&users.name));
        let stamp = |column: &Option<String>| column.as_deref().map(quote);
        let (created, updated) = (stamp(&users.created_at), stamp(&users.updated_at));
        let user_json = |alias: &str| {
            let at =
                |column: &Option<String>| column.as_ref().map_or("0".to_owned(), |c| format!("{alias}.{c}"));
            d.object(&[
                ("id", format!("{alias}.{id}")),
                ("email", format!("{alias}.{email}")),
                ("email_verified", format!("{alias}.{verified}")),
                ("name", format!("{alias}.{name}")),
                ("created_at", at(&created)),
                ("updated_at", at(&updated)),
            ])
        };
        let identity_json = |alias: &str| columns(alias, &IDENTITY_COLUMNS[..14]);
        let session_json = |alias: &str| columns(alias, &SESSION_COLUMNS);
        let slot_json = |alias: &str| columns(alias, &["id", "user_id", "slot", "created_at", "expire"]);
        let owner = format!(
            "SELECT o.{id} AS id FROM {table} o WHERE ?3 IS NOT NULL AND {} AND {} LIMIT 1",
            d.same_text(&format!("o.{email}"), "?3"),
            d.is_true(&format!("o.{verified}"))
        );
        let candidates = format!(
            "SELECT ?4 AS id UNION ALL \
             SELECT user_id FROM loginkit_identities WHERE provider = ?1 AND provider_uid IN (?2, ?5) UNION ALL \
             SELECT id FROM ({owner}) AS owner_row"
        );
        let lookup = format!(
            "WITH candidates AS ({candidates}) SELECT {}",
            d.as_text(&d.object(&[
                (
                    "identity",
                    d.nested(&format!(
                        // The account's identity; under the id the provider knew it by before
                        // (?5) only when there is none under its id now.
                        "SELECT {} FROM loginkit_identities i WHERE i.provider = ?1 AND i.provider_uid IN (?2, ?5) \
                         ORDER BY CASE WHEN i.provider_uid = ?2 THEN 0 ELSE 1 END LIMIT 1",
                        identity_json("i")
                    )),
                ),
                ("email_owner", format!("({owner})")),
                (
                    "users",
                    d.nested(&format!(
                        "SELECT {} FROM {table} u WHERE u.{id} IN (SELECT id FROM candidates)",
                        d.list(&user_json("u"))
                    )),
                ),
                (
                    "sessions",
                    d.nested(&format!(
                        "SELECT {} FROM loginkit_sessions s WHERE s.user_id IN (SELECT id FROM candidates)",
                        d.list(&slot_json("s"))
                    )),
                ),
            ]))
        );
        let user_columns = {
            let mut c = vec![id.clone(), email.clone(), verified.clone(), name.clone()];
            c.extend(created.clone());
            c.extend(updated.clone());
            c
        };
        let placeholders = |n: usize| (1..=n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
        let touch_updated = updated
            .as_ref()
            .map(|u| format!(", {u} = CASE WHEN COALESCE({name}, '') = '' AND ?2 <> '' THEN ?3 ELSE {u} END"))
            .unwrap_or_default();
        let tokens_set = "access_token = ?1, refresh_token = ?2, access_token_expiry = ?3";
        Self {
            probe_users: r(format!("SELECT {} FROM {table} u WHERE 1 = 0", d.as_text(&user_json("u")))),
            consume_state: r(
                "INSERT INTO loginkit_used_states (id, expire) VALUES (?1, ?2) ON CONFLICT DO NOTHING".into(),
            ),
            lookup: r(lookup),
            // The token and, in the same statement, the identity it will make a session of. A
            // token bound to a redeemer is taken only by it (`NULL = NULL` is not true).
            take_token: r(format!(
                "DELETE FROM loginkit_tokens WHERE user_id = ?1 AND secret_digest = ?2 \
                 AND (redeemer IS NULL OR redeemer = ?3) RETURNING {}",
                d.as_text(&d.object(&[
                    ("token", d.object(&TOKEN_COLUMNS.map(|c| (c, format!("loginkit_tokens.{c}"))))),
                    (
                        "identity",
                        d.nested(&format!(
                            "SELECT {} FROM loginkit_identities i WHERE i.user_id = loginkit_tokens.user_id \
                             AND i.provider = loginkit_tokens.provider ORDER BY i.updated_at DESC, i.id LIMIT 1",
                            identity_json("i")
                        )),
                    ),
                ]))
            )),
            authenticate: r(format!(
                "SELECT {} FROM loginkit_sessions s JOIN {table} u ON u.{id} = s.user_id \
                 WHERE s.user_id = ?1 AND s.secret_digest = ?2",
                d.as_text(&d.object(&[("session", session_json("s")), ("user", user_json("u"))]))
            )),
            user: r(format!("SELECT {} FROM {table} u WHERE u.{id} = ?1", d.as_text(&user_json("u")))),
            session: r(format!(
                "SELECT {} FROM loginkit_sessions s WHERE s.id = ?1",
                d.as_text(&session_json("s"))
            )),
            sessions: r(format!(
                "SELECT {} FROM loginkit_sessions s WHERE s.user_id = ?1 ORDER BY s.created_at, s.slot",
                d.as_text(&session_json("s"))
            )),
            update_session: r(format!(
                "UPDATE loginkit_sessions SET {tokens_set}, expire = ?4, updated_at = ?5 WHERE id = ?6"
            )),
            delete_session: r("DELETE FROM loginkit_sessions WHERE id = ?1 AND user_id = ?2".into()),
            delete_sessions: r("DELETE FROM loginkit_sessions WHERE user_id = ?1".into()),
            identity: r(format!(
                "SELECT {} FROM loginkit_identities i WHERE i.provider = ?1 AND i.provider_uid = ?2",
                d.as_text(&identity_json("i"))
            )),
            identities: r(format!(
                "SELECT {} FROM loginkit_identities i WHERE i.user_id = ?1 ORDER BY i.created_at, i.id",
                d.as_text(&identity_json("i"))
            )),
            delete_identity: r("DELETE FROM loginkit_identities WHERE id = ?1 AND user_id = ?2".into()),
            claim_refresh: r(
                "UPDATE loginkit_identities SET refresh_lease = ?1 WHERE id = ?2 AND access_token = ?3 \
                 AND (refresh_lease IS NULL OR refresh_lease < ?4)"
                    .into(),
            ),
            release_refresh: r(
                "UPDATE loginkit_identities SET refresh_lease = NULL WHERE id = ?1 AND refresh_lease = ?2"
                    .into(),
            ),
            refresh_identity: r(format!(
                "UPDATE loginkit_identities SET {tokens_set}, provider_email = COALESCE(?4, provider_email), \
                 subject = COALESCE(?5, subject), refresh_lease = NULL, updated_at = ?6, \
                 claims = COALESCE(?9, claims), id_token = COALESCE(?10, id_token) WHERE id = ?7 AND access_token = ?8"
            )),
            prune_sessions: r(prune("loginkit_sessions")),
            prune_tokens: r(prune("loginkit_tokens")),
            prune_states: r(prune("loginkit_used_states")),
            sealed_identities: r(sealed("loginkit_identities", d)),
            sealed_sessions: r(sealed("loginkit_sessions", d)),
            reseal_identity: r(reseal("loginkit_identities")),
            reseal_session: r(reseal("loginkit_sessions")),
            create_user: r(format!(
                "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
                user_columns.join(", "),
                placeholders(user_columns.len())
            )),
            touch_user: r(format!(
                "UPDATE {table} SET {name} = CASE WHEN COALESCE({name}, '') = '' AND ?2 <> '' THEN ?2 ELSE {name} END\
                 {touch_updated} WHERE {id} = ?1"
            )),
            create_identity: r(format!(
                "INSERT INTO loginkit_identities ({}) VALUES ({}) ON CONFLICT DO NOTHING",
                IDENTITY_COLUMNS[..14].join(", "),
                placeholders(14)
            )),
            renew_identity: r(format!(
                "UPDATE loginkit_identities SET {tokens_set}, provider_email = COALESCE(?4, provider_email), \
                 subject = COALESCE(?5, subject), refresh_lease = NULL, updated_at = ?6, \
                 claims = COALESCE(?10, claims), avatar_url = COALESCE(?11, avatar_url), \
                 id_token = COALESCE(?12, id_token), provider_uid = COALESCE(?13, provider_uid) \
                 WHERE provider = ?7 AND provider_uid = ?8 AND user_id = ?9"
            )),
            put_session: r(format!(
                "INSERT INTO loginkit_sessions ({}) VALUES ({}) ON CONFLICT (user_id, slot) DO UPDATE SET {} \
                 WHERE loginkit_sessions.id = ?16",
                SESSION_COLUMNS.join(", "),
                placeholders(15),
                SESSION_COLUMNS
                    .iter()
                    .filter(|c| !matches!(**c, "user_id" | "slot"))
                    .map(|c| format!("{c} = excluded.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            drop_sessions_from: r("DELETE FROM loginkit_sessions WHERE user_id = ?1 AND slot >= ?2".into()),
            create_token: r(format!(
                "INSERT INTO loginkit_tokens ({}) VALUES ({})",
                TOKEN_COLUMNS.join(", "),
                placeholders(TOKEN_COLUMNS.len())
            )),
            queue_revocation: r(format!(
                "INSERT INTO loginkit_revocations ({}) VALUES ({})",
                REVOCATION_COLUMNS.join(", "),
                placeholders(REVOCATION_COLUMNS.len())
            )),
            due_revocations: r(format!(
                "SELECT {} FROM loginkit_revocations r WHERE r.next_at <= ?1 ORDER BY r.next_at, r.id LIMIT ?2",
                d.as_text(&columns("r", &REVOCATION_COLUMNS))
            )),
            forget_revocation: r("DELETE FROM loginkit_revocations WHERE id = ?1".into()),
            postpone_revocation: r(
                "UPDATE loginkit_revocations SET attempts = ?1, next_at = ?2 WHERE id = ?3".into(),
            ),
            dialect: d,
            users_have_timestamps: (created.is_some(), updated.is_some()),
        }
    }

    /// A login plan as the steps of one unit.
    fn steps(&self, plan: &LoginPlan) -> Vec<Step> {
        let step = |sql: &Sql, values: Vec<Value>, expect| Step { sql: sql.clone(), values, expect };
        let now = int(plan.now.millis());
        let mut steps = Vec::with_capacity(5);
        match &plan.user {
            PlannedUser::Create(user) => {
                let mut values = vec![
                    text(&user.id),
                    opt_text(user.email.as_deref()),
                    self.flag(user.email_verified),
                    text(&user.name),
                ];
                let (created, updated) = self.users_have_timestamps;
                if created {
                    values.push(int(user.created_at.millis()));
                }
                if updated {
                    values.push(int(user.created_at.millis()));
                }
                steps.push(step(&self.create_user, values, Expect::One));
            }
            PlannedUser::Existing { id, name } => {
                let mut values = vec![text(id), text(name.as_deref().unwrap_or_default())];
                if self.users_have_timestamps.1 {
                    values.push(now.clone());
                }
                steps.push(step(&self.touch_user, values, Expect::One));
            }
        }
        match &plan.identity {
            Some(PlannedIdentity::Create(i)) => {
                let mut values = vec![
                    text(&i.id),
                    text(&i.user_id),
                    text(&i.provider),
                    text(&i.provider_uid),
                    text(&i.provider_email),
                    opt_text(i.subject.as_deref()),
                ];
                values.extend(token_values(&i.tokens));
                values.extend([
                    int(i.created_at.millis()),
                    int(i.updated_at.millis()),
                    opt_text(i.claims_json.as_deref()),
                    opt_text(i.avatar_url.as_deref()),
                    opt_text(i.id_token.as_ref().map(|t| t.0.as_str())),
                ]);
                steps.push(step(&self.create_identity, values, Expect::One));
            }
            Some(PlannedIdentity::Renew {
                provider,
                provider_uid,
                user_id,
                tokens,
                email,
                subject,
                claims,
                avatar_url,
                id_token,
                moved_to,
            }) => {
                let mut values = token_values(tokens);
                values.extend([
                    opt_text(email.as_deref()),
                    opt_text(subject.as_deref()),
                    now.clone(),
                    text(provider),
                    text(provider_uid),
                    text(user_id),
                    opt_text(claims.as_deref()),
                    opt_text(avatar_url.as_deref()),
                    opt_text(id_token.as_ref().map(|t| t.0.as_str())),
                    opt_text(moved_to.as_deref()),
                ]);
                steps.push(step(&self.renew_identity, values, Expect::One));
            }
            None => {}
        }
        if let Some(replace) = &plan.replace {
            steps.push(step(&self.delete_session, vec![text(replace), text(plan.user.id())], Expect::Any));
        }
        if let Some(planned) = &plan.session {
            let s = &planned.session;
            if let Some(from) = planned.drop_from {
                steps.push(step(&self.drop_sessions_from, vec![text(&s.user_id), int(from)], Expect::Any));
            }
            let mut values = vec![
                text(&s.id),
                text(&s.user_id),
                text(&s.secret_digest),
                text(&s.provider),
                text(&s.provider_uid),
            ];
            values.extend(token_values(&s.tokens));
            values.extend([
                int(s.expire.millis()),
                text(&s.ip),
                text(&s.user_agent),
                int(s.created_at.millis()),
                int(s.updated_at.millis()),
                opt_text(s.link_binding.as_deref()),
                int(s.slot),
                opt_text(planned.evicts.as_deref()),
            ]);
            steps.push(step(&self.put_session, values, Expect::One));
        }
        if let Some(t) = &plan.token {
            let values = vec![
                text(&t.id),
                text(&t.user_id),
                text(&t.secret_digest),
                text(&t.provider),
                int(t.expire.millis()),
                int(t.created_at.millis()),
                opt_text(t.link_binding.as_deref()),
                opt_text(t.redeemer.as_deref()),
            ];
            steps.push(step(&self.create_token, values, Expect::One));
        }
        steps
    }

    fn flag(&self, value: bool) -> Value {
        match self.dialect {
            Dialect::Sqlite => int(i64::from(value)),
            Dialect::Postgres => Value::Bool(value),
        }
    }
}

/// Deletes at most `?2` rows of `table` expiring before `?1`.
fn prune(table: &str) -> String {
    format!("DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE expire < ?1 LIMIT ?2)")
}

/// Rows of `table` after id `?1` with a token not starting with `?3` (of length `?2`), at most `?4`.
fn sealed(table: &str, d: Dialect) -> String {
    format!(
        "SELECT {} FROM {table} t WHERE t.id > ?1 \
         AND (substr(t.access_token, 1, CAST(?2 AS INTEGER)) <> ?3 \
              OR substr(t.refresh_token, 1, CAST(?2 AS INTEGER)) <> ?3) ORDER BY t.id LIMIT ?4",
        d.as_text(
            &d.object(
                &["id", "provider", "provider_uid", "access_token", "refresh_token", "access_token_expiry"]
                    .map(|c| (c, format!("t.{c}")))
            )
        )
    )
}

fn reseal(table: &str) -> String {
    format!("UPDATE {table} SET access_token = ?1, refresh_token = ?2 WHERE id = ?3 AND access_token = ?4")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_for_each_dialect() {
        assert_eq!(
            renumber("a = ?1 AND b = ?12 OR c = ?", 0, Dialect::Sqlite),
            "a = ?1 AND b = ?12 OR c = ?"
        );
        assert_eq!(renumber("a = ?1 AND b = ?12", 0, Dialect::Postgres), "a = $1 AND b = $12");
        assert_eq!(renumber("a = ?1 AND b = ?2", 10, Dialect::Postgres), "a = $11 AND b = $12");
        assert_eq!(renumber("é ?2", 1, Dialect::Sqlite), "é ?3");
    }

    #[test]
    fn user_tables_with_odd_names_are_refused() {
        assert!(UserTable::builtin().check().is_ok());
        assert!(UserTable::new("app.accounts").email("mail").check().is_ok());
        for bad in
            [UserTable::new("users; drop"), UserTable::new("users").name("na\"me"), UserTable::new("1users")]
        {
            assert!(matches!(bad.check(), Err(StoreError::Config(_))), "{bad:?}");
        }
    }

    #[test]
    fn values_do_not_show_in_debug() {
        let shown = format!("{:?}", [text("secret-digest"), int(7), Value::Bool(true)]);
        assert!(!shown.contains("secret") && !shown.contains('7'), "{shown}");
    }
}
