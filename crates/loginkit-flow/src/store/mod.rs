//! The storage contract, and its one implementation over SQLite and PostgreSQL.
//!
//! The flow speaks to a [`Store`] in a few whole operations rather than row by row: a login
//! reads what it may land on in one statement ([`Store::lookup`]), decides in Rust, and writes
//! all it decided as one unit ([`Store::apply`]) that either happens entirely or not at all. A
//! unit that finds the database changed since its lookup (another login created the same
//! account, took the same session slot) fails with [`StoreError::Conflict`] and the flow decides
//! again from a fresh lookup. Correctness comes from unique keys, `ON CONFLICT` and row locks on
//! what a login touches, never from a lock shared by every login.
//!
//! [`SqlStore`] implements it once for both databases; a [`Backend`](sql::Backend) supplies what
//! differs (statement spelling, how a unit is executed).

mod observed;
#[cfg(feature = "postgres")]
mod postgres;
pub(crate) mod sql;
mod sqlite;

use async_trait::async_trait;
use serde::Deserialize;

use crate::error::{FlowError, StoreError};
use crate::model::{
    Identity, NewUser, OneTimeToken, Revocation, Sealed, Session, StoredTokens, Timestamp, User,
};

pub use observed::{ObservedStore, StoreCall};
#[cfg(feature = "postgres")]
pub use postgres::{DEFAULT_MAX_CONNECTIONS, IDLE_IN_TRANSACTION_TIMEOUT, PgBackend, PgStore};
pub use sql::{Backend, Dialect, Expect, MakeSteps, Sql, SqlStore, Step, Value};
pub use sqlite::{SqliteBackend, SqliteStore};

/// A database the flow can use. Every method is one statement (or one unit of statements that
/// the database runs without a round trip between them).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Records that a login `state` was used; `false` when it already was, or when `expires` has
    /// passed. This is what makes state single-use, across restarts and across server instances
    /// sharing the store.
    async fn consume_state(&self, state_id: &str, expires: Timestamp) -> Result<bool, StoreError>;

    /// A login's reads and writes: looks up what it may land on ([`Snapshot`]), has `decide` make
    /// the plan (or refuse), and writes the plan, all of it or nothing. When what the plan was
    /// decided on changed before it was written (an account, an email or a session slot taken by
    /// a concurrent login), nothing is written and it looks up and decides again. Returns the plan
    /// written, or `decide`'s refusal (nothing written).
    async fn login(
        &self,
        key: &LoginKey<'_>,
        decide: Decide,
    ) -> Result<Result<LoginPlan, FlowError>, StoreError>;

    /// Removes a one-time token with this user and secret digest and returns it, with the user's
    /// latest identity at the token's provider, in one statement; `None` when there is no such
    /// token. A token with a [`redeemer`](OneTimeToken::redeemer) is taken only when `redeemer`
    /// names it; otherwise it stays.
    async fn redeem(
        &self,
        user_id: &str,
        secret_digest: &str,
        redeemer: Option<&str>,
    ) -> Result<Option<Redemption>, StoreError>;

    /// The session of this user whose secret has this digest, with its user (a session whose
    /// user is gone does not authenticate). The user comes with the secret (the session cookie
    /// carries both), so the lookup goes through the user's sessions, not an index of digests.
    async fn authenticate(
        &self,
        user_id: &str,
        secret_digest: &str,
    ) -> Result<Option<(Session, User)>, StoreError>;

    /// A user by id.
    async fn user(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// A session by id.
    async fn session(&self, id: &str) -> Result<Option<Session>, StoreError>;
    /// A user's sessions, oldest first.
    async fn sessions(&self, user_id: &str) -> Result<Vec<Session>, StoreError>;
    /// Replaces a session's provider tokens and expiry; `false` when there is no such session.
    async fn update_session(
        &self,
        id: &str,
        tokens: &StoredTokens,
        expire: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Deletes one of a user's sessions; `false` when the user has no such session.
    async fn delete_session(&self, user_id: &str, id: &str) -> Result<bool, StoreError>;
    /// Deletes all of a user's sessions; how many went.
    async fn delete_sessions(&self, user_id: &str) -> Result<u64, StoreError>;

    /// The identity of a provider account.
    async fn identity(&self, provider: &str, uid: &str) -> Result<Option<Identity>, StoreError>;
    /// A user's identities, oldest first.
    async fn identities(&self, user_id: &str) -> Result<Vec<Identity>, StoreError>;
    /// Deletes one of a user's identities; `false` when the user has no such identity.
    async fn delete_identity(&self, user_id: &str, id: &str) -> Result<bool, StoreError>;

    /// Claims the right to refresh an identity's provider tokens until `until`: `true` when its
    /// access token is still `seen` and no unexpired claim is held (by this or another server
    /// instance). Providers that rotate refresh tokens revoke the whole family when one is sent
    /// twice, so two refreshes of one account must never run at once.
    async fn claim_refresh(
        &self,
        identity_id: &str,
        seen: &Sealed,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Gives up a claim made with [`Store::claim_refresh`] (the provider refused the refresh).
    async fn release_refresh(&self, identity_id: &str, until: Timestamp) -> Result<(), StoreError>;
    /// Stores a refresh's tokens on an identity if its access token is still `seen` (the one the
    /// refresh started from), forgets the refresh claim, and stores the session's copy (when the
    /// refresh was for a session), as one unit; `false`, changing nothing, when another refresh
    /// stored its tokens first.
    async fn finish_refresh(
        &self,
        identity_id: &str,
        seen: &Sealed,
        renewal: &Renewal<'_>,
        session: Option<&SessionRenewal<'_>>,
    ) -> Result<bool, StoreError>;

    /// Queues revocations owed to providers, as one unit.
    async fn queue_revocations(&self, revocations: &[Revocation]) -> Result<(), StoreError>;
    /// Up to `limit` queued revocations due at `now`, the most overdue first.
    async fn due_revocations(&self, now: Timestamp, limit: u32) -> Result<Vec<Revocation>, StoreError>;
    /// Forgets a queued revocation (done, or given up); `false` when it was not queued.
    async fn forget_revocation(&self, id: &str) -> Result<bool, StoreError>;
    /// Puts a queued revocation off until `next_at`, with `attempts` made.
    async fn postpone_revocation(
        &self,
        id: &str,
        attempts: u32,
        next_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Deletes at most `limit` rows of each kind that can no longer be used: sessions and
    /// one-time tokens expired before `now`, used-state records a minute after their state
    /// expired. Callers repeat it until less than `limit` went
    /// ([`Flow::prune_expired`](crate::Flow::prune_expired) does).
    async fn prune(&self, now: Timestamp, limit: u32) -> Result<Pruned, StoreError>;

    /// Rows of `table` with an id after `after` (ascending) whose access or refresh token is not
    /// sealed by the key whose values start with `prefix` (its id and a dot), at most `limit`:
    /// what [`Flow::reseal`](crate::Flow::reseal) moves to the current key after a rotation.
    async fn sealed_elsewhere(
        &self,
        table: SealedTable,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<SealedRow>, StoreError>;
    /// Replaces a row's sealed provider tokens if its access token is still `seen`; `false`,
    /// changing nothing, when a login or refresh stored new ones meanwhile.
    async fn replace_sealed(
        &self,
        table: SealedTable,
        id: &str,
        seen: &Sealed,
        tokens: &StoredTokens,
    ) -> Result<bool, StoreError>;

    /// Statements (or units) sent to the database so far: what the flow's round trips are
    /// counted with.
    fn round_trips(&self) -> u64;
}

/// How a login decides what to write from what it read ([`Store::login`]); called again after a
/// conflict, with a fresh snapshot.
pub type Decide = Box<dyn FnMut(&Snapshot) -> Result<LoginPlan, FlowError> + Send>;

/// What a login asks [`Store::login`] about.
#[derive(Debug, Clone, Copy)]
pub struct LoginKey<'a> {
    /// The provider.
    pub provider: &'a str,
    /// The provider's user id.
    pub provider_uid: &'a str,
    /// The id the provider knew the account by before (`UserProfile::previous_id`): an identity
    /// stored under it is the account's when none is stored under `provider_uid`.
    pub previous_uid: Option<&'a str>,
    /// The email the provider reported: its verified owner is looked up.
    pub email: Option<&'a str>,
    /// The user of the session the login may link to.
    pub current_user: Option<&'a str>,
}

/// What a login's lookup found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// The provider account's identity, if it has one.
    pub identity: Option<Identity>,
    /// The id of the user who owns the login's email, verified, if any.
    pub email_owner: Option<String>,
    /// The users concerned that exist: the identity's, the current session's, the email owner.
    #[serde(default)]
    pub users: Vec<User>,
    /// The sessions of those users, by slot.
    #[serde(default)]
    pub sessions: Vec<SlotHolder>,
}

impl Snapshot {
    /// A user of the snapshot.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|user| user.id == id)
    }
}

/// A session as far as the session limit cares.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SlotHolder {
    /// The session's id.
    pub id: String,
    /// Its user.
    pub user_id: String,
    /// The slot it takes among its user's sessions.
    pub slot: i64,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it ends.
    pub expire: Timestamp,
}

/// What [`Store::redeem`] took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    /// The one-time token, now gone.
    pub token: OneTimeToken,
    /// The user's most recently updated identity at the token's provider.
    pub identity: Option<Identity>,
}

/// The writes of one login (or of a token-flow secret's redemption), decided by the flow from a
/// [`Snapshot`] and written by [`Store::login`] all at once.
#[derive(Debug, Clone)]
pub struct LoginPlan {
    /// The user the login lands on.
    pub user: PlannedUser,
    /// The provider account's identity.
    pub identity: Option<PlannedIdentity>,
    /// A new session.
    pub session: Option<PlannedSession>,
    /// A new one-time token (token flow).
    pub token: Option<OneTimeToken>,
    /// A session of the user to delete: the one the browser had, which the new one replaces.
    pub replace: Option<String>,
    /// When.
    pub now: Timestamp,
}

/// The user of a [`LoginPlan`].
#[derive(Debug, Clone)]
pub enum PlannedUser {
    /// A new user; [`StoreError::Conflict`] if its verified email has an owner meanwhile.
    Create(NewUser),
    /// An existing user, who must still exist; `name` is set when the user has none.
    Existing {
        /// The user's id.
        id: String,
        /// A name for a user without one.
        name: Option<String>,
    },
}

impl PlannedUser {
    /// The user's id.
    pub fn id(&self) -> &str {
        match self {
            PlannedUser::Create(user) => &user.id,
            PlannedUser::Existing { id, .. } => id,
        }
    }
}

/// The identity of a [`LoginPlan`].
#[derive(Debug, Clone)]
pub enum PlannedIdentity {
    /// A new identity; [`StoreError::Conflict`] if the provider account has one meanwhile.
    Create(Identity),
    /// New tokens (and email and subject) on the provider account's identity, which must still
    /// belong to `user_id`.
    Renew {
        /// The provider.
        provider: String,
        /// The provider's user id.
        provider_uid: String,
        /// The user it must still belong to.
        user_id: String,
        /// The new tokens, sealed.
        tokens: StoredTokens,
        /// The email the provider reported.
        email: Option<String>,
        /// The verified ID token's subject.
        subject: Option<String>,
        /// The verified ID token's claims (JSON).
        claims: Option<String>,
        /// The avatar the profile named.
        avatar_url: Option<String>,
        /// The login's ID token, sealed for the identity.
        id_token: Option<Sealed>,
        /// The account's id now, when the identity was found under the id the provider knew it by
        /// before ([`LoginKey::previous_uid`]): the identity moves to it.
        moved_to: Option<String>,
    },
}

/// The new session of a [`LoginPlan`] and the slot it takes among its user's sessions.
#[derive(Debug, Clone)]
pub struct PlannedSession {
    /// The session (its `slot` is the slot it takes).
    pub session: Session,
    /// The session the slot holds now, which the new one replaces (the oldest, when the user is
    /// at the limit); `None` when the slot is free. [`StoreError::Conflict`] when the slot holds
    /// anything else by then.
    pub evicts: Option<String>,
    /// With a session limit: the user's sessions in slots from this one on are deleted (a limit
    /// lowered since they were made).
    pub drop_from: Option<i64>,
}

/// A refresh's copy of the tokens for the session that asked for it.
#[derive(Debug, Clone, Copy)]
pub struct SessionRenewal<'a> {
    /// The session.
    pub id: &'a str,
    /// Its tokens, sealed for it.
    pub tokens: &'a StoredTokens,
    /// Its new expiry.
    pub expire: Timestamp,
}

/// What a login or a refresh stores on an identity.
#[derive(Debug, Clone, Copy)]
pub struct Renewal<'a> {
    /// The new provider tokens, sealed.
    pub tokens: &'a StoredTokens,
    /// The email the provider reported, when the login read one (a refresh does not).
    pub email: Option<&'a str>,
    /// The `sub` of the verified ID token, when there was one.
    pub subject: Option<&'a str>,
    /// The verified ID token's claims (JSON), when there was one.
    pub claims: Option<&'a str>,
    /// The ID token, sealed for the identity, when there was one.
    pub id_token: Option<&'a Sealed>,
    /// When.
    pub now: Timestamp,
}

/// A table holding sealed provider tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealedTable {
    /// Identities: tokens bound to their provider account.
    Identities,
    /// Sessions: tokens bound to the session.
    Sessions,
}

impl SealedTable {
    /// The table's name in loginkit's schema.
    pub fn table(self) -> &'static str {
        match self {
            SealedTable::Identities => "loginkit_identities",
            SealedTable::Sessions => "loginkit_sessions",
        }
    }
}

/// One row's sealed provider tokens, for re-sealing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRow {
    /// The row's id.
    pub id: String,
    /// Its provider.
    pub provider: String,
    /// Its provider account.
    pub provider_uid: String,
    /// The sealed tokens.
    pub tokens: StoredTokens,
}

/// Rows deleted by [`Store::prune`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Expired sessions.
    pub sessions: u64,
    /// Expired one-time tokens.
    pub tokens: u64,
    /// Records of used states whose state expired.
    pub states: u64,
}

impl Pruned {
    /// The larger count of any kind.
    pub fn most(&self) -> u64 {
        self.sessions.max(self.tokens).max(self.states)
    }
}

impl std::ops::AddAssign for Pruned {
    fn add_assign(&mut self, other: Pruned) {
        self.sessions += other.sessions;
        self.tokens += other.tokens;
        self.states += other.states;
    }
}

/// How long a used-state record is kept after its state expired: no state that old is accepted,
/// and the margin covers clocks of server instances that disagree a little.
pub(crate) const USED_STATE_GRACE_MS: i64 = 60_000;

/// Where users live: loginkit's own `loginkit_users` table, or an application's table, named
/// with its columns. The application creates its table; loginkit reads and writes these columns
/// (and leaves any other, which must then have defaults). The email is compared
/// case-insensitively (ASCII) and only a verified address is one user's: give the table a
/// unique index on the email where it is verified (see the embedding examples).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTable {
    pub(crate) table: String,
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) email_verified: String,
    pub(crate) name: String,
    pub(crate) created_at: Option<String>,
    pub(crate) updated_at: Option<String>,
}

impl Default for UserTable {
    fn default() -> Self {
        Self::builtin()
    }
}

impl UserTable {
    /// loginkit's own `loginkit_users` table.
    pub fn builtin() -> Self {
        Self::new("loginkit_users").created_at("created_at").updated_at("updated_at")
    }

    /// An application's table `table` with columns `id` (text), `email` (text, nullable),
    /// `email_verified` (boolean; an integer on SQLite) and `name` (text), and no timestamps.
    /// Rename any with the methods below.
    pub fn new(table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            id: "id".into(),
            email: "email".into(),
            email_verified: "email_verified".into(),
            name: "name".into(),
            created_at: None,
            updated_at: None,
        }
    }

    /// The id column (text, the primary key).
    #[must_use]
    pub fn id(mut self, column: impl Into<String>) -> Self {
        self.id = column.into();
        self
    }

    /// The email column (text, nullable).
    #[must_use]
    pub fn email(mut self, column: impl Into<String>) -> Self {
        self.email = column.into();
        self
    }

    /// The column saying a provider verified the email (boolean; integer 0/1 on SQLite).
    #[must_use]
    pub fn email_verified(mut self, column: impl Into<String>) -> Self {
        self.email_verified = column.into();
        self
    }

    /// The display-name column (text, not null).
    #[must_use]
    pub fn name(mut self, column: impl Into<String>) -> Self {
        self.name = column.into();
        self
    }

    /// A creation-time column (milliseconds since the epoch, 64-bit integer).
    #[must_use]
    pub fn created_at(mut self, column: impl Into<String>) -> Self {
        self.created_at = Some(column.into());
        self
    }

    /// A last-change-time column (milliseconds since the epoch, 64-bit integer).
    #[must_use]
    pub fn updated_at(mut self, column: impl Into<String>) -> Self {
        self.updated_at = Some(column.into());
        self
    }

    /// Every name, checked to be a plain SQL identifier (letters, digits, `_`; the table may be
    /// `schema.table`), so it can be quoted into statements.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        let plain = |name: &str| {
            !name.is_empty()
                && name.len() <= 63
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !name.as_bytes()[0].is_ascii_digit()
        };
        let table_ok = match self.table.split_once('.') {
            Some((schema, table)) => plain(schema) && plain(table),
            None => plain(&self.table),
        };
        let mut columns = [Some(&self.id), Some(&self.email), Some(&self.email_verified), Some(&self.name)]
            .into_iter()
            .chain([self.created_at.as_ref(), self.updated_at.as_ref()])
            .flatten();
        if let Some(bad) = columns.find(|c| !plain(c)).or((!table_ok).then_some(&self.table)) {
            return Err(StoreError::Config(format!(
                "user table: `{bad}` is not a plain SQL name (letters, digits and `_`)"
            )));
        }
        Ok(())
    }
}
