//! The storage contract: what an embedder implements to keep users, identities and sessions in
//! its own database. [`SqliteStore`](crate::SqliteStore) is the bundled implementation.
//!
//! Every operation runs inside a [`Tx`]. The flow opens one per request; a login's account
//! matching, identity, user and session writes all happen in a single transaction, so a failure
//! anywhere leaves nothing behind. Dropping a `Tx` without [`Tx::commit`] must roll it back.

use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{Identity, NewUser, OneTimeToken, Sealed, Session, StoredTokens, Timestamp, User};

/// A database the flow can use.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Starts a transaction that may write. Implementations serialise conflicting writers (e.g.
    /// `BEGIN IMMEDIATE` in SQLite, a serialisable or locking transaction elsewhere).
    async fn begin(&self) -> Result<Box<dyn Tx>, StoreError>;

    /// Starts a transaction used only to read (authenticating a request, listing sessions). The
    /// default is [`Store::begin`]; stores override it to avoid taking write locks.
    async fn read(&self) -> Result<Box<dyn Tx>, StoreError> {
        self.begin().await
    }

    /// Records that a login `state` was used; `false` when it already was, or when `expires` has
    /// passed. This is what makes state single-use, across restarts and across server instances
    /// sharing the store. A record may be forgotten once its state has expired.
    async fn consume_state(&self, state_id: &str, expires: Timestamp) -> Result<bool, StoreError>;

    /// Claims the right to refresh an identity's provider tokens until `until`: `true` when its
    /// access token is still `seen` and no unexpired claim is held (by this or another server
    /// instance). Providers that rotate refresh tokens revoke the whole family when one is sent
    /// twice, so two refreshes of one account must never run at once. One statement, atomic.
    ///
    /// The default always grants it: enough for a store used by one process, where the flow
    /// already refreshes an account once at a time. A store shared by several instances must
    /// implement it.
    async fn claim_refresh(
        &self,
        identity_id: &str,
        seen: &Sealed,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let _ = (identity_id, seen, until, now);
        Ok(true)
    }

    /// Deletes at most `limit` rows of each kind that can no longer be used: sessions and
    /// one-time tokens expired before `now`, used-state records a minute after their state
    /// expired. Bounded, so a call is short however much accumulated; callers repeat it until
    /// less than `limit` went ([`Flow::prune_expired`](crate::Flow::prune_expired) does). The
    /// default deletes nothing.
    async fn prune(&self, now: Timestamp, limit: u32) -> Result<Pruned, StoreError> {
        let _ = (now, limit);
        Ok(Pruned::default())
    }

    /// Rows of `table` with an id after `after` (ascending) whose access or refresh token is not
    /// sealed by the key whose values start with `prefix` (its id and a dot), at most `limit`:
    /// what [`Flow::reseal`](crate::Flow::reseal) moves to the current key after a rotation.
    /// The default finds none: such a store keeps values sealed with older keys, which open as
    /// long as those keys stay configured.
    async fn sealed_elsewhere(
        &self,
        table: SealedTable,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<SealedRow>, StoreError> {
        let _ = (table, prefix, after, limit);
        Ok(Vec::new())
    }

    /// Replaces a row's sealed provider tokens if its access token is still `seen`; `false`,
    /// changing nothing, when a login or refresh stored new ones meanwhile.
    async fn replace_sealed(
        &self,
        table: SealedTable,
        id: &str,
        seen: &Sealed,
        tokens: &StoredTokens,
    ) -> Result<bool, StoreError> {
        let _ = (table, id, seen, tokens);
        Ok(false)
    }

    /// Gives up a claim made with [`Store::claim_refresh`] (the provider refused the refresh).
    async fn release_refresh(&self, identity_id: &str, until: Timestamp) -> Result<(), StoreError> {
        let _ = (identity_id, until);
        Ok(())
    }
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

    fn add(&mut self, other: Pruned) {
        self.sessions += other.sessions;
        self.tokens += other.tokens;
        self.states += other.states;
    }
}

impl std::ops::AddAssign for Pruned {
    fn add_assign(&mut self, other: Pruned) {
        self.add(other);
    }
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
    /// When.
    pub now: Timestamp,
}

impl Renewal<'_> {
    /// The identity as a store holds it after this renewal.
    pub fn apply(&self, identity: &mut Identity) {
        identity.tokens = self.tokens.clone();
        if let Some(email) = self.email {
            identity.provider_email = email.to_owned();
        }
        if let Some(subject) = self.subject {
            identity.subject = Some(subject.to_owned());
        }
        identity.updated_at = self.now;
    }
}

/// One transaction.
#[async_trait]
pub trait Tx: Send {
    /// A user by id.
    async fn user(&mut self, id: &str) -> Result<Option<User>, StoreError>;
    /// The user whose verified email is `email` (compared case-insensitively), if any. Users
    /// holding it unverified do not count: an unverified address never names an account.
    async fn user_by_verified_email(&mut self, email: &str) -> Result<Option<User>, StoreError>;
    /// Creates a user. [`StoreError::Conflict`] when the email is verified and another user's
    /// verified email already.
    async fn create_user(&mut self, user: NewUser) -> Result<User, StoreError>;
    /// Sets a user's name.
    async fn set_user_name(&mut self, id: &str, name: &str, now: Timestamp) -> Result<(), StoreError>;

    /// The identity of a provider account.
    async fn identity_by_uid(&mut self, provider: &str, uid: &str) -> Result<Option<Identity>, StoreError>;
    /// An identity by id.
    async fn identity(&mut self, id: &str) -> Result<Option<Identity>, StoreError>;
    /// A user's identities, oldest first.
    async fn identities(&mut self, user_id: &str) -> Result<Vec<Identity>, StoreError>;
    /// Creates an identity. [`StoreError::Conflict`] when the provider account already has one.
    async fn create_identity(&mut self, identity: Identity) -> Result<(), StoreError>;
    /// Replaces an identity's provider tokens (and its email and subject when the renewal has
    /// them), and forgets any refresh claim on it.
    async fn update_identity_tokens(&mut self, id: &str, renewal: &Renewal<'_>) -> Result<(), StoreError>;
    /// Stores a login's provider tokens (and its email and subject, when given) on the identity
    /// of a provider account and returns that identity as updated; `None`, changing nothing,
    /// when the account has none. The default is [`Tx::identity_by_uid`] then
    /// [`Tx::update_identity_tokens`]; stores override it with one statement, since every
    /// returning login calls it.
    async fn renew_identity(
        &mut self,
        provider: &str,
        uid: &str,
        renewal: &Renewal<'_>,
    ) -> Result<Option<Identity>, StoreError> {
        let Some(mut identity) = self.identity_by_uid(provider, uid).await? else {
            return Ok(None);
        };
        self.update_identity_tokens(&identity.id, renewal).await?;
        renewal.apply(&mut identity);
        Ok(Some(identity))
    }
    /// Stores a refresh's tokens on an identity if its access token is still `seen` (the one
    /// the refresh started from), and forgets the refresh claim; `false`, changing nothing, when
    /// another refresh stored its tokens first. The default reads the identity and then calls
    /// [`Tx::update_identity_tokens`] inside this transaction.
    async fn finish_refresh(
        &mut self,
        identity_id: &str,
        seen: &Sealed,
        renewal: &Renewal<'_>,
    ) -> Result<bool, StoreError> {
        match self.identity(identity_id).await? {
            Some(identity) if identity.tokens.access_token == *seen => {
                self.update_identity_tokens(identity_id, renewal).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    /// Deletes an identity; `false` when there was none.
    async fn delete_identity(&mut self, id: &str) -> Result<bool, StoreError>;

    /// Creates a session.
    async fn create_session(&mut self, session: Session) -> Result<(), StoreError>;
    /// The session whose secret has this digest.
    async fn session_by_secret(&mut self, secret_digest: &str) -> Result<Option<Session>, StoreError>;
    /// A session by id.
    async fn session(&mut self, id: &str) -> Result<Option<Session>, StoreError>;
    /// A user's sessions, oldest first.
    async fn sessions(&mut self, user_id: &str) -> Result<Vec<Session>, StoreError>;
    /// Replaces a session's provider tokens and expiry.
    async fn update_session(
        &mut self,
        id: &str,
        tokens: &StoredTokens,
        expire: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Deletes a session; `false` when there was none.
    async fn delete_session(&mut self, id: &str) -> Result<bool, StoreError>;
    /// Enforces a session limit after a login: keeps `spare` (the session just created) and the
    /// user's newest `keep - 1` others, deletes the rest, and returns how many went; `keep` 0
    /// keeps all. Age is [`Tx::sessions`] order. The default lists and deletes one by one;
    /// stores override it with one statement, since every login calls it.
    async fn trim_sessions(&mut self, user_id: &str, keep: usize, spare: &str) -> Result<u64, StoreError> {
        if keep == 0 {
            return Ok(0);
        }
        let others: Vec<Session> =
            self.sessions(user_id).await?.into_iter().filter(|s| s.id != spare).collect();
        let mut deleted = 0;
        for old in others.iter().take(others.len().saturating_sub(keep - 1)) {
            deleted += u64::from(self.delete_session(&old.id).await?);
        }
        Ok(deleted)
    }

    /// Stores a one-time token.
    async fn create_token(&mut self, token: OneTimeToken) -> Result<(), StoreError>;
    /// Removes and returns the user's token with this secret digest, if any.
    async fn take_token(
        &mut self,
        user_id: &str,
        secret_digest: &str,
    ) -> Result<Option<OneTimeToken>, StoreError>;

    /// Makes the transaction's writes durable.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// Which identity a store's token update targets.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IdentityKey<'a> {
    /// By identity id.
    Id(&'a str),
    /// By provider account: provider id and the provider's user id.
    Account(&'a str, &'a str),
    /// By identity id, only while its access token is still the given sealed one.
    Unchanged(&'a str, &'a Sealed),
}

/// How long a used-state record is kept after its state expired: no state that old is accepted,
/// and the margin covers clocks of server instances that disagree a little.
pub(crate) const USED_STATE_GRACE_MS: i64 = 60_000;

/// The decoders from a database row of loginkit's tables to the model (`user_row`,
/// `tokens_row`, `identity_row`, `session_row`, `token_row`), written once for every store's row
/// type: the columns are the same in SQLite and PostgreSQL.
macro_rules! row_decoders {
    ($row:ty) => {
        fn user_row(row: &$row) -> sqlx::Result<User> {
            Ok(User {
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                email_verified: row.try_get("email_verified")?,
                name: row.try_get("name")?,
                created_at: Timestamp::from_millis(row.try_get("created_at")?),
                updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
            })
        }

        fn tokens_row(row: &$row) -> sqlx::Result<StoredTokens> {
            Ok(StoredTokens {
                access_token: Sealed(row.try_get("access_token")?),
                refresh_token: row.try_get::<Option<String>, _>("refresh_token")?.map(Sealed),
                access_token_expiry: row
                    .try_get::<Option<i64>, _>("access_token_expiry")?
                    .map(Timestamp::from_millis),
            })
        }

        fn identity_row(row: &$row) -> sqlx::Result<Identity> {
            Ok(Identity {
                id: row.try_get("id")?,
                user_id: row.try_get("user_id")?,
                provider: row.try_get("provider")?,
                provider_uid: row.try_get("provider_uid")?,
                provider_email: row.try_get("provider_email")?,
                subject: row.try_get("subject")?,
                tokens: tokens_row(row)?,
                created_at: Timestamp::from_millis(row.try_get("created_at")?),
                updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
            })
        }

        fn session_row(row: &$row) -> sqlx::Result<Session> {
            Ok(Session {
                id: row.try_get("id")?,
                user_id: row.try_get("user_id")?,
                secret_digest: row.try_get("secret_digest")?,
                provider: row.try_get("provider")?,
                provider_uid: row.try_get("provider_uid")?,
                tokens: tokens_row(row)?,
                expire: Timestamp::from_millis(row.try_get("expire")?),
                ip: row.try_get("ip")?,
                user_agent: row.try_get("user_agent")?,
                created_at: Timestamp::from_millis(row.try_get("created_at")?),
                updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
                link_binding: row.try_get("link_binding")?,
            })
        }

        fn sealed_row(row: &$row) -> sqlx::Result<crate::store::SealedRow> {
            Ok(crate::store::SealedRow {
                id: row.try_get("id")?,
                provider: row.try_get("provider")?,
                provider_uid: row.try_get("provider_uid")?,
                tokens: tokens_row(row)?,
            })
        }

        fn token_row(row: &$row) -> sqlx::Result<OneTimeToken> {
            Ok(OneTimeToken {
                id: row.try_get("id")?,
                user_id: row.try_get("user_id")?,
                secret_digest: row.try_get("secret_digest")?,
                provider: row.try_get("provider")?,
                expire: Timestamp::from_millis(row.try_get("expire")?),
                created_at: Timestamp::from_millis(row.try_get("created_at")?),
                link_binding: row.try_get("link_binding")?,
            })
        }
    };
}
pub(crate) use row_decoders;
