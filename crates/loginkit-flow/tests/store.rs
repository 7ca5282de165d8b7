//! The store suite: one set of checks of the `Store`/`Tx` contract, run against `SqliteStore` (a
//! file in a temporary directory) and, with the `postgres` feature, `PgStore` (a fresh database
//! per test on the server `tests/postgres` provides; see `LOGINKIT_TEST_POSTGRES`).
//!
//! Every check runs on both, so the two stores cannot drift apart: same uniqueness rules, same
//! ordering, same transaction semantics, same single-use states. Every check also runs on SQLite
//! through a store that implements only the required methods, which holds the contract's default
//! methods (what a third-party store inherits) to the same rules.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use loginkit_flow::sqlx::{self, AssertSqlSafe, SqlitePool};
use loginkit_flow::{
    Identity, NewUser, OneTimeToken, Pruned, Renewal, Sealed, Session, SqliteStore, Store, StoreError,
    StoredTokens, Timestamp, Tx, User,
};
#[cfg(feature = "postgres")]
use loginkit_testkit::postgres::TestDatabase;

/// A store under test, with a side door to its database for what the contract does not expose.
struct Fixture {
    store: Arc<dyn Store>,
    raw: Raw,
    // Dropped last: the database goes once the store's connections are closed.
    _cleanup: Cleanup,
}

enum Raw {
    Sqlite(SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

enum Cleanup {
    Dir(PathBuf),
    #[cfg(feature = "postgres")]
    Postgres {
        _database: TestDatabase,
    },
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            #[cfg(feature = "postgres")]
            Cleanup::Postgres { .. } => {}
        }
    }
}

impl Fixture {
    async fn sqlite() -> Self {
        let dir = loginkit_testkit::scratch_dir("store");
        let store = SqliteStore::open(&format!("sqlite://{}", dir.join("store.db").display())).await.unwrap();
        let raw = Raw::Sqlite(store.pool().clone());
        Self { store: Arc::new(store), raw, _cleanup: Cleanup::Dir(dir) }
    }

    /// SQLite behind a store that overrides none of the contract's provided methods, so the
    /// defaults a third-party store inherits meet the same checks.
    async fn defaults() -> Self {
        let Self { store, raw, _cleanup } = Self::sqlite().await;
        Self { store: Arc::new(RequiredOnly(store)), raw, _cleanup }
    }

    #[cfg(feature = "postgres")]
    async fn postgres() -> Self {
        let database = TestDatabase::create("store").await;
        let store = loginkit_flow::PgStore::open(database.url()).await.unwrap();
        let raw = Raw::Postgres(store.pool().clone());
        Self { store: Arc::new(store), raw, _cleanup: Cleanup::Postgres { _database: database } }
    }

    /// Runs a statement made of literals (no parameters, so it reads the same on both databases).
    async fn execute(&self, sql: &str) {
        let sql = AssertSqlSafe(sql.to_owned());
        match &self.raw {
            Raw::Sqlite(pool) => drop(sqlx::query(sql).execute(pool).await.unwrap()),
            #[cfg(feature = "postgres")]
            Raw::Postgres(pool) => drop(sqlx::query(sql).execute(pool).await.unwrap()),
        }
    }

    /// `SELECT COUNT(*)` of a table, with an optional `WHERE` made of literals.
    async fn count(&self, table: &str, filter: &str) -> i64 {
        let filter = if filter.is_empty() { String::new() } else { format!(" WHERE {filter}") };
        let sql = AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}{filter}"));
        match &self.raw {
            Raw::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
            #[cfg(feature = "postgres")]
            Raw::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        }
    }

    /// Rows of loginkit's users, identities, sessions and tokens tables.
    async fn counts(&self) -> [i64; 4] {
        let mut out = [0; 4];
        for (i, table) in ["users", "identities", "sessions", "tokens"].into_iter().enumerate() {
            out[i] = self.count(&format!("loginkit_{table}"), "").await;
        }
        out
    }
}

/// A store implementing only the contract's required methods (and `read`), by forwarding them.
struct RequiredOnly(Arc<dyn Store>);

struct RequiredOnlyTx(Box<dyn Tx>);

#[async_trait]
impl Store for RequiredOnly {
    async fn begin(&self) -> Result<Box<dyn Tx>, StoreError> {
        Ok(Box::new(RequiredOnlyTx(self.0.begin().await?)))
    }

    // Forwarded too: its default (a write transaction) is correct but waits for writers, which
    // one of the checks rules out.
    async fn read(&self) -> Result<Box<dyn Tx>, StoreError> {
        Ok(Box::new(RequiredOnlyTx(self.0.read().await?)))
    }

    async fn consume_state(&self, state_id: &str, expires: Timestamp) -> Result<bool, StoreError> {
        self.0.consume_state(state_id, expires).await
    }

    // Forwarded: the defaults grant every claim, which is right only for a store one process
    // uses; the claim checks are about stores that server instances share.
    async fn claim_refresh(
        &self,
        identity_id: &str,
        seen: &Sealed,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.0.claim_refresh(identity_id, seen, until, now).await
    }

    async fn release_refresh(&self, identity_id: &str, until: Timestamp) -> Result<(), StoreError> {
        self.0.release_refresh(identity_id, until).await
    }

    // Forwarded too: the default deletes nothing (a store may keep expired rows; the flow never
    // accepts them), so the pruning check is about the stores that do prune.
    async fn prune(&self, now: Timestamp, limit: u32) -> Result<Pruned, StoreError> {
        self.0.prune(now, limit).await
    }
}

#[async_trait]
impl Tx for RequiredOnlyTx {
    async fn user(&mut self, id: &str) -> Result<Option<User>, StoreError> {
        self.0.user(id).await
    }
    async fn user_by_verified_email(&mut self, email: &str) -> Result<Option<User>, StoreError> {
        self.0.user_by_verified_email(email).await
    }
    async fn create_user(&mut self, user: NewUser) -> Result<User, StoreError> {
        self.0.create_user(user).await
    }
    async fn set_user_name(&mut self, id: &str, name: &str, now: Timestamp) -> Result<(), StoreError> {
        self.0.set_user_name(id, name, now).await
    }
    async fn identity_by_uid(&mut self, provider: &str, uid: &str) -> Result<Option<Identity>, StoreError> {
        self.0.identity_by_uid(provider, uid).await
    }
    async fn identity(&mut self, id: &str) -> Result<Option<Identity>, StoreError> {
        self.0.identity(id).await
    }
    async fn identities(&mut self, user_id: &str) -> Result<Vec<Identity>, StoreError> {
        self.0.identities(user_id).await
    }
    async fn create_identity(&mut self, identity: Identity) -> Result<(), StoreError> {
        self.0.create_identity(identity).await
    }
    async fn update_identity_tokens(&mut self, id: &str, renewal: &Renewal<'_>) -> Result<(), StoreError> {
        self.0.update_identity_tokens(id, renewal).await
    }
    async fn delete_identity(&mut self, id: &str) -> Result<bool, StoreError> {
        self.0.delete_identity(id).await
    }
    async fn create_session(&mut self, session: Session) -> Result<(), StoreError> {
        self.0.create_session(session).await
    }
    async fn session_by_secret(&mut self, secret_digest: &str) -> Result<Option<Session>, StoreError> {
        self.0.session_by_secret(secret_digest).await
    }
    async fn session(&mut self, id: &str) -> Result<Option<Session>, StoreError> {
        self.0.session(id).await
    }
    async fn sessions(&mut self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        self.0.sessions(user_id).await
    }
    async fn update_session(
        &mut self,
        id: &str,
        tokens: &StoredTokens,
        expire: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.0.update_session(id, tokens, expire, now).await
    }
    async fn delete_session(&mut self, id: &str) -> Result<bool, StoreError> {
        self.0.delete_session(id).await
    }
    async fn create_token(&mut self, token: OneTimeToken) -> Result<(), StoreError> {
        self.0.create_token(token).await
    }
    async fn take_token(
        &mut self,
        user_id: &str,
        secret_digest: &str,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        self.0.take_token(user_id, secret_digest).await
    }
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.0.commit().await
    }
}

/// Declares each check once per store: `sqlite::<check>`, `defaults::<check>` (SQLite through
/// the contract's default methods) and `postgres::<check>`.
macro_rules! suite {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(super::Fixture::sqlite().await).await;
                }
            )*
        }

        mod defaults {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(super::Fixture::defaults().await).await;
                }
            )*
        }

        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(super::Fixture::postgres().await).await;
                }
            )*
        }
    };
}

suite!(
    users,
    unverified_addresses_are_not_unique_and_name_no_one,
    identities,
    refresh_claims_are_exclusive_and_finish_only_on_unchanged_tokens,
    sessions,
    trimming_sessions_spares_the_new_one_and_keeps_the_newest_others,
    one_time_tokens,
    consume_state_is_single_use,
    prune_deletes_what_expired_in_bounded_batches,
    a_transaction_dropped_without_commit_rolls_back_every_write,
    commit_makes_writes_visible_and_uncommitted_writes_stay_hidden,
    reads_do_not_wait_for_a_writer,
    concurrent_writers_checking_one_email_create_one_user,
    concurrent_writers_trimming_sessions_keep_the_limit,
);

const T0: i64 = 1_700_000_000_000;

fn at(offset: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset)
}

fn new_user(id: &str, email: Option<&str>) -> NewUser {
    NewUser {
        id: id.into(),
        email: email.map(Into::into),
        email_verified: true,
        name: String::new(),
        created_at: at(0),
    }
}

fn tokens(tag: &str, refresh: bool) -> StoredTokens {
    StoredTokens {
        access_token: Sealed(format!("access-{tag}")),
        refresh_token: refresh.then(|| Sealed(format!("refresh-{tag}"))),
        access_token_expiry: refresh.then(|| at(3_600_000)),
    }
}

fn identity(id: &str, user: &str, provider: &str, uid: &str, created: i64) -> Identity {
    Identity {
        id: id.into(),
        user_id: user.into(),
        provider: provider.into(),
        provider_uid: uid.into(),
        provider_email: format!("{uid}@{provider}.test"),
        subject: (provider == "google").then(|| format!("sub-{uid}")),
        tokens: tokens(id, true),
        created_at: at(created),
        updated_at: at(created),
    }
}

fn session(id: &str, user: &str, created: i64) -> Session {
    Session {
        id: id.into(),
        user_id: user.into(),
        secret_digest: format!("digest-{id}"),
        provider: "mock".into(),
        provider_uid: "1".into(),
        tokens: tokens(id, id.len().is_multiple_of(2)),
        expire: at(created + 86_400_000),
        ip: "127.0.0.1".into(),
        user_agent: "store-suite".into(),
        created_at: at(created),
        updated_at: at(created),
        link_binding: id.ends_with('y').then(|| format!("link-{id}")),
    }
}

fn token(id: &str, user: &str) -> OneTimeToken {
    OneTimeToken {
        id: id.into(),
        user_id: user.into(),
        secret_digest: format!("digest-{id}"),
        provider: "mock".into(),
        expire: at(60_000),
        created_at: at(0),
        link_binding: (id == "t1").then(|| format!("link-{id}")),
    }
}

fn is_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(_)))
}

async fn users(f: Fixture) {
    let mut tx = f.store.begin().await.unwrap();
    let ada = tx.create_user(new_user("u1", Some("Ada@Example.COM"))).await.unwrap();
    assert_eq!(ada.email.as_deref(), Some("Ada@Example.COM"), "stored as given");
    assert_eq!((ada.created_at, ada.updated_at), (at(0), at(0)));
    assert_eq!(tx.user("u1").await.unwrap(), Some(ada.clone()));
    assert_eq!(tx.user("nobody").await.unwrap(), None);
    for spelling in ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.COM"] {
        assert_eq!(
            tx.user_by_verified_email(spelling).await.unwrap().map(|u| u.id),
            Some("u1".into()),
            "{spelling}"
        );
    }
    assert_eq!(tx.user_by_verified_email("ada@example.org").await.unwrap(), None);
    assert!(is_conflict(tx.create_user(new_user("u2", Some("ADA@example.com"))).await));
    // Users without an email never collide.
    tx.create_user(new_user("u3", None)).await.unwrap();
    tx.create_user(new_user("u4", None)).await.unwrap();
    // Case folding is ASCII only on both stores (SQLite's NOCASE): these are two addresses.
    tx.create_user(new_user("u5", Some("\u{e9}@example.com"))).await.unwrap();
    tx.create_user(new_user("u6", Some("\u{c9}@example.com"))).await.unwrap();
    assert_eq!(
        tx.user_by_verified_email("\u{c9}@EXAMPLE.com").await.unwrap().map(|u| u.id),
        Some("u6".into())
    );
    tx.set_user_name("u1", "Ada Lovelace", at(5)).await.unwrap();
    let renamed = tx.user("u1").await.unwrap().unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.created_at, renamed.updated_at),
        ("Ada Lovelace", at(0), at(5))
    );
    assert!(renamed.email_verified);
    tx.commit().await.unwrap();
    assert_eq!(f.counts().await, [5, 0, 0, 0]);
}

async fn unverified_addresses_are_not_unique_and_name_no_one(f: Fixture) {
    let mut tx = f.store.begin().await.unwrap();
    let unverified = |id: &str| NewUser { email_verified: false, ..new_user(id, Some("Ada@example.com")) };
    tx.create_user(unverified("squat1")).await.unwrap();
    tx.create_user(unverified("squat2")).await.unwrap();
    assert_eq!(tx.user_by_verified_email("ada@example.com").await.unwrap(), None, "names no one");
    let owner = tx.create_user(new_user("owner", Some("ADA@example.com"))).await.unwrap();
    assert!(owner.email_verified, "the verified owner is not locked out");
    let found = tx.user_by_verified_email("ada@EXAMPLE.com").await.unwrap().map(|u| u.id);
    assert_eq!(found, Some("owner".into()));
    let second = tx.create_user(new_user("second", Some("ada@example.com"))).await;
    assert!(is_conflict(second), "a verified address has one owner");
    tx.create_user(unverified("squat3")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(f.counts().await, [4, 0, 0, 0]);
}

async fn identities(f: Fixture) {
    let mut tx = f.store.begin().await.unwrap();
    tx.create_user(new_user("u1", Some("ada@example.com"))).await.unwrap();
    // Created out of order; ties on created_at break by id.
    tx.create_identity(identity("i-c", "u1", "github", "100", 20)).await.unwrap();
    tx.create_identity(identity("i-b", "u1", "google", "100", 10)).await.unwrap();
    tx.create_identity(identity("i-a", "u1", "gitlab", "7", 20)).await.unwrap();
    tx.create_identity(identity("i-z", "u2", "gitlab", "8", 0)).await.unwrap();
    assert!(is_conflict(tx.create_identity(identity("i-d", "u2", "github", "100", 30)).await));
    let found = tx.identity_by_uid("github", "100").await.unwrap().unwrap();
    assert_eq!(found, identity("i-c", "u1", "github", "100", 20));
    assert_eq!(tx.identity_by_uid("github", "7").await.unwrap(), None);
    assert_eq!(tx.identity("i-b").await.unwrap().map(|i| i.provider), Some("google".into()));
    assert_eq!(tx.identity("missing").await.unwrap(), None);
    let order: Vec<String> = tx.identities("u1").await.unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(order, ["i-b", "i-a", "i-c"]);
    assert!(tx.identities("nobody").await.unwrap().is_empty());

    // New tokens, a new email and a subject...
    let new = tokens("new", false);
    let update =
        Renewal { tokens: &new, email: Some("new@github.test"), subject: Some("sub-x"), now: at(40) };
    tx.update_identity_tokens("i-c", &update).await.unwrap();
    let updated = tx.identity("i-c").await.unwrap().unwrap();
    assert_eq!(updated.tokens, tokens("new", false));
    assert_eq!(
        (updated.provider_email.as_str(), updated.subject.as_deref()),
        ("new@github.test", Some("sub-x"))
    );
    assert_eq!((updated.created_at, updated.updated_at), (at(20), at(40)));
    // ...then new tokens keeping the email and the subject.
    let newer = tokens("newer", true);
    tx.update_identity_tokens("i-c", &Renewal { tokens: &newer, email: None, subject: None, now: at(50) })
        .await
        .unwrap();
    let updated = tx.identity("i-c").await.unwrap().unwrap();
    assert_eq!(updated.tokens, tokens("newer", true));
    assert_eq!((updated.provider_email.as_str(), updated.updated_at), ("new@github.test", at(50)));
    assert_eq!(updated.subject.as_deref(), Some("sub-x"));
    assert_eq!(tx.identity("i-b").await.unwrap().unwrap().tokens, tokens("i-b", true), "others untouched");
    assert_eq!(tx.identity("i-b").await.unwrap().unwrap().subject.as_deref(), Some("sub-100"));

    // A returning login renews by provider account: found, updated and returned in one go...
    let renewed_tokens = tokens("renewed", true);
    let renewal = Renewal {
        tokens: &renewed_tokens,
        email: Some("r@github.test"),
        subject: Some("sub-y"),
        now: at(55),
    };
    let renewed = tx.renew_identity("github", "100", &renewal).await.unwrap();
    let mut expected = identity("i-c", "u1", "github", "100", 20);
    (expected.tokens, expected.provider_email, expected.subject, expected.updated_at) =
        (tokens("renewed", true), "r@github.test".into(), Some("sub-y".into()), at(55));
    assert_eq!(renewed.as_ref(), Some(&expected));
    assert_eq!(tx.identity("i-c").await.unwrap(), Some(expected));
    // ...keeping the email when the provider sent none...
    let again = tokens("again", false);
    let renewed = tx
        .renew_identity("github", "100", &Renewal { tokens: &again, email: None, subject: None, now: at(56) })
        .await
        .unwrap()
        .unwrap();
    assert_eq!((renewed.provider_email.as_str(), renewed.tokens), ("r@github.test", tokens("again", false)));
    assert_eq!(renewed.subject.as_deref(), Some("sub-y"));
    // ...and an account without an identity is left alone.
    let x = tokens("x", true);
    assert_eq!(
        tx.renew_identity(
            "github",
            "7",
            &Renewal { tokens: &x, email: Some("x@y.z"), subject: None, now: at(57) }
        )
        .await
        .unwrap(),
        None
    );
    assert_eq!(tx.identity_by_uid("github", "7").await.unwrap(), None);
    assert_eq!(tx.identity("i-a").await.unwrap().unwrap().tokens, tokens("i-a", true), "others untouched");

    assert!(tx.delete_identity("i-a").await.unwrap());
    assert!(!tx.delete_identity("i-a").await.unwrap());
    assert_eq!(tx.identity_by_uid("gitlab", "7").await.unwrap(), None);
    // The provider account is free again.
    tx.create_identity(identity("i-e", "u2", "gitlab", "7", 60)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(f.counts().await, [1, 4, 0, 0]);
}

async fn refresh_claims_are_exclusive_and_finish_only_on_unchanged_tokens(f: Fixture) {
    let mut tx = f.store.begin().await.unwrap();
    tx.create_identity(identity("i1", "u1", "google", "1", 0)).await.unwrap();
    tx.commit().await.unwrap();
    let seen = tokens("i1", true).access_token;
    let (now, until) = (at(1_000), at(61_000));
    // One claim at a time, for the tokens the caller saw.
    assert!(f.store.claim_refresh("i1", &seen, until, now).await.unwrap());
    assert!(!f.store.claim_refresh("i1", &seen, until, now).await.unwrap(), "held");
    assert!(!f.store.claim_refresh("i1", &Sealed("other".into()), at(70_000), at(62_000)).await.unwrap());
    assert!(!f.store.claim_refresh("missing", &seen, until, now).await.unwrap());
    // A released claim, or an expired one, can be taken again.
    f.store.release_refresh("i1", until).await.unwrap();
    assert!(f.store.claim_refresh("i1", &seen, until, now).await.unwrap());
    assert!(f.store.claim_refresh("i1", &seen, at(200_000), at(61_001)).await.unwrap(), "expired claim");
    // Releasing someone else's claim does nothing.
    f.store.release_refresh("i1", until).await.unwrap();
    assert!(!f.store.claim_refresh("i1", &seen, at(300_000), at(62_000)).await.unwrap());

    // Finishing stores the tokens only while they are still the ones the refresh started from,
    // and frees the account for the next refresh.
    let fresh = tokens("fresh", true);
    let renewal = Renewal { tokens: &fresh, email: None, subject: Some("sub-1"), now: at(63_000) };
    let mut tx = f.store.begin().await.unwrap();
    assert!(tx.finish_refresh("i1", &seen, &renewal).await.unwrap());
    let stale = tokens("stale", true);
    let late = Renewal { tokens: &stale, email: None, subject: None, now: at(64_000) };
    assert!(!tx.finish_refresh("i1", &seen, &late).await.unwrap(), "another refresh finished first");
    tx.commit().await.unwrap();
    let stored = f.store.read().await.unwrap().identity("i1").await.unwrap().unwrap();
    assert_eq!(
        (stored.tokens, stored.subject.as_deref(), stored.updated_at),
        (fresh.clone(), Some("sub-1"), at(63_000))
    );
    assert!(
        f.store.claim_refresh("i1", &fresh.access_token, at(400_000), at(65_000)).await.unwrap(),
        "free again"
    );
}

async fn sessions(f: Fixture) {
    let mut tx = f.store.begin().await.unwrap();
    // Same creation time: insertion order decides, whatever the ids.
    for (id, created) in [("s-z", 10), ("s-y", 10), ("s-a", 5), ("s-x", 10)] {
        tx.create_session(session(id, "u1", created)).await.unwrap();
    }
    tx.create_session(session("s-other", "u2", 0)).await.unwrap();
    let mut duplicate = session("s-dup", "u2", 0);
    duplicate.secret_digest = "digest-s-z".into();
    assert!(is_conflict(tx.create_session(duplicate).await), "secret digests are unique");
    assert_eq!(tx.session_by_secret("digest-s-y").await.unwrap(), Some(session("s-y", "u1", 10)));
    assert_eq!(tx.session_by_secret("digest-nothing").await.unwrap(), None);
    assert_eq!(tx.session("s-a").await.unwrap(), Some(session("s-a", "u1", 5)));
    assert_eq!(tx.session("missing").await.unwrap(), None);
    let order: Vec<String> = tx.sessions("u1").await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(order, ["s-a", "s-z", "s-y", "s-x"]);

    tx.update_session("s-y", &tokens("refreshed", true), at(999_999), at(77)).await.unwrap();
    let updated = tx.session("s-y").await.unwrap().unwrap();
    assert_eq!(updated.tokens, tokens("refreshed", true));
    assert_eq!((updated.expire, updated.created_at, updated.updated_at), (at(999_999), at(10), at(77)));
    assert_eq!(updated.secret_digest, "digest-s-y");
    assert_eq!(tx.session("s-z").await.unwrap(), Some(session("s-z", "u1", 10)), "others untouched");

    assert!(tx.delete_session("s-z").await.unwrap());
    assert!(!tx.delete_session("s-z").await.unwrap());
    assert_eq!(tx.session_by_secret("digest-s-z").await.unwrap(), None);
    let order: Vec<String> = tx.sessions("u1").await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(order, ["s-a", "s-y", "s-x"]);
    tx.commit().await.unwrap();
    assert_eq!(f.counts().await, [0, 0, 4, 0]);
}

async fn trimming_sessions_spares_the_new_one_and_keeps_the_newest_others(f: Fixture) {
    let mut tx = f.store.begin().await.unwrap();
    // Age is creation time, ties broken by insertion order. The new session is spared even when a
    // clock step makes it look oldest.
    for (id, created) in [("s-3", 30), ("s-1", 10), ("s-2a", 20), ("s-2b", 20), ("s-new", 0)] {
        tx.create_session(session(id, "u1", created)).await.unwrap();
    }
    tx.create_session(session("s-other", "u2", 0)).await.unwrap();
    let ids = |sessions: Vec<Session>| sessions.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(tx.trim_sessions("u1", 0, "s-new").await.unwrap(), 0, "0 keeps all");
    assert_eq!(tx.trim_sessions("u1", 3, "s-new").await.unwrap(), 2);
    assert_eq!(ids(tx.sessions("u1").await.unwrap()), ["s-new", "s-2b", "s-3"]);
    assert_eq!(tx.trim_sessions("u1", 3, "s-new").await.unwrap(), 0, "at the limit");
    assert_eq!(tx.trim_sessions("u1", 1, "s-new").await.unwrap(), 2);
    assert_eq!(ids(tx.sessions("u1").await.unwrap()), ["s-new"]);
    assert_eq!(tx.trim_sessions("nobody", 1, "s-none").await.unwrap(), 0);
    tx.commit().await.unwrap();
    assert_eq!(f.count("loginkit_sessions", "user_id = 'u2'").await, 1, "other users untouched");
    assert_eq!(f.counts().await, [0, 0, 2, 0]);
}

async fn one_time_tokens(f: Fixture) {
    let mut tx = f.store.begin().await.unwrap();
    tx.create_token(token("t1", "u1")).await.unwrap();
    tx.create_token(token("t2", "u1")).await.unwrap();
    assert_eq!(tx.take_token("u2", "digest-t1").await.unwrap(), None, "another user's secret");
    assert_eq!(tx.take_token("u1", "digest-t3").await.unwrap(), None);
    assert_eq!(tx.take_token("u1", "digest-t1").await.unwrap(), Some(token("t1", "u1")));
    assert_eq!(tx.take_token("u1", "digest-t1").await.unwrap(), None, "taken once");
    tx.commit().await.unwrap();
    assert_eq!(f.counts().await, [0, 0, 0, 1]);
    let mut tx = f.store.begin().await.unwrap();
    assert_eq!(tx.take_token("u1", "digest-t2").await.unwrap(), Some(token("t2", "u1")));
    tx.commit().await.unwrap();
    assert_eq!(f.counts().await, [0, 0, 0, 0]);
}

async fn consume_state_is_single_use(f: Fixture) {
    let now = Timestamp::now();
    let later = now.plus(Duration::from_secs(600));
    assert!(f.store.consume_state("state-1", later).await.unwrap());
    assert!(!f.store.consume_state("state-1", later).await.unwrap(), "second use");
    assert!(!f.store.consume_state("state-1", now.plus(Duration::from_secs(900))).await.unwrap());
    assert!(f.store.consume_state("state-2", later).await.unwrap(), "another state");
    let past = Timestamp::from_millis(now.millis() - 1_000);
    assert!(!f.store.consume_state("state-3", past).await.unwrap(), "expired");
    assert_eq!(
        f.count("loginkit_used_states", "id = 'state-3'").await,
        0,
        "an expired state is not recorded"
    );
    assert_eq!(f.count("loginkit_used_states", "").await, 2);
}

async fn prune_deletes_what_expired_in_bounded_batches(f: Fixture) {
    let now = at(10_000_000);
    let mut tx = f.store.begin().await.unwrap();
    for (id, created) in [("s-old1", 0), ("s-old2", 1), ("s-old3", 2), ("s-live", 9_000_000)] {
        // Sessions last a day from their creation (see `session`).
        let mut session = session(id, "u1", created);
        session.expire = if id == "s-live" { at(86_400_000) } else { at(created + 1_000) };
        tx.create_session(session).await.unwrap();
    }
    for (id, expire) in [("t-old", 5_000), ("t-live", 20_000_000)] {
        tx.create_token(OneTimeToken { expire: at(expire), ..token(id, "u1") }).await.unwrap();
    }
    tx.commit().await.unwrap();
    // Used states are kept a minute past their state's expiry (clocks of instances differ).
    let (gone, kept) = (now.millis() - 61_000, now.millis() - 59_000);
    f.execute(&format!(
        "INSERT INTO loginkit_used_states (id, expire) VALUES ('st-gone1', {gone}), ('st-gone2', {gone}), ('st-kept', {kept})"
    ))
    .await;

    let first = f.store.prune(now, 2).await.unwrap();
    assert_eq!((first.sessions, first.tokens, first.states), (2, 1, 2), "at most two of each");
    let second = f.store.prune(now, 2).await.unwrap();
    assert_eq!((second.sessions, second.tokens, second.states), (1, 0, 0));
    assert_eq!(f.store.prune(now, 2).await.unwrap().most(), 0, "nothing left");
    assert_eq!(f.count("loginkit_sessions", "").await, 1);
    assert_eq!(f.count("loginkit_sessions", "id = 's-live'").await, 1);
    assert_eq!(f.count("loginkit_tokens", "id = 't-live'").await, 1);
    assert_eq!(f.count("loginkit_used_states", "").await, 1);
    assert_eq!(f.count("loginkit_used_states", "id = 'st-kept'").await, 1);
}

async fn a_transaction_dropped_without_commit_rolls_back_every_write(f: Fixture) {
    let mut tx = f.store.begin().await.unwrap();
    tx.create_user(new_user("kept", Some("kept@example.com"))).await.unwrap();
    tx.create_identity(identity("i-kept", "kept", "mock", "1", 0)).await.unwrap();
    tx.create_session(session("s-kept", "kept", 0)).await.unwrap();
    tx.create_token(token("t-kept", "kept")).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = f.store.begin().await.unwrap();
    tx.create_user(new_user("u1", Some("ada@example.com"))).await.unwrap();
    tx.set_user_name("kept", "Changed", at(1)).await.unwrap();
    tx.create_identity(identity("i1", "u1", "mock", "2", 0)).await.unwrap();
    let changed = tokens("changed", false);
    let renewal = Renewal { tokens: &changed, email: Some("x@y.z"), subject: None, now: at(1) };
    tx.update_identity_tokens("i-kept", &renewal).await.unwrap();
    tx.create_session(session("s1", "u1", 0)).await.unwrap();
    tx.update_session("s-kept", &tokens("changed", false), at(1), at(1)).await.unwrap();
    tx.create_token(token("t1", "u1")).await.unwrap();
    assert!(tx.take_token("kept", "digest-t-kept").await.unwrap().is_some());
    assert!(tx.delete_session("s-kept").await.unwrap());
    assert!(tx.delete_identity("i-kept").await.unwrap());
    assert_eq!(tx.user("u1").await.unwrap().map(|u| u.id), Some("u1".into()), "visible inside");
    drop(tx);

    assert_eq!(f.counts().await, [1, 1, 1, 1], "nothing of the dropped transaction remains");
    let mut tx = f.store.read().await.unwrap();
    assert_eq!(tx.user_by_verified_email("ada@example.com").await.unwrap(), None);
    assert_eq!(tx.user("kept").await.unwrap().unwrap().name, "");
    assert_eq!(tx.identity("i-kept").await.unwrap(), Some(identity("i-kept", "kept", "mock", "1", 0)));
    assert_eq!(tx.session("s-kept").await.unwrap(), Some(session("s-kept", "kept", 0)));
    drop(tx);
    // The email and the provider account are free: the rollback released them.
    let mut tx = f.store.begin().await.unwrap();
    tx.create_user(new_user("u1", Some("ada@example.com"))).await.unwrap();
    tx.create_identity(identity("i1", "u1", "mock", "2", 0)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(f.counts().await, [2, 2, 1, 1]);
}

async fn commit_makes_writes_visible_and_uncommitted_writes_stay_hidden(f: Fixture) {
    let mut writer = f.store.begin().await.unwrap();
    writer.create_user(new_user("u1", Some("ada@example.com"))).await.unwrap();
    writer.create_session(session("s1", "u1", 0)).await.unwrap();
    {
        let mut reader = f.store.read().await.unwrap();
        assert_eq!(reader.user("u1").await.unwrap(), None, "not committed yet");
        assert_eq!(reader.session_by_secret("digest-s1").await.unwrap(), None);
    }
    writer.commit().await.unwrap();
    let mut reader = f.store.read().await.unwrap();
    assert_eq!(
        reader.user_by_verified_email("ADA@example.com").await.unwrap().map(|u| u.id),
        Some("u1".into())
    );
    assert_eq!(reader.session_by_secret("digest-s1").await.unwrap(), Some(session("s1", "u1", 0)));
    drop(reader);
    let mut next = f.store.begin().await.unwrap();
    assert_eq!(next.sessions("u1").await.unwrap().len(), 1, "the next writer sees it");
    next.commit().await.unwrap();
}

async fn reads_do_not_wait_for_a_writer(f: Fixture) {
    let mut seed = f.store.begin().await.unwrap();
    seed.create_user(new_user("u1", None)).await.unwrap();
    seed.commit().await.unwrap();
    let mut writer = f.store.begin().await.unwrap();
    writer.create_user(new_user("u2", None)).await.unwrap();
    let read = async {
        let mut reader = f.store.read().await.unwrap();
        reader.user("u1").await.unwrap()
    };
    let found =
        tokio::time::timeout(Duration::from_secs(5), read).await.expect("a read while a writer is open");
    assert!(found.is_some());
    writer.commit().await.unwrap();
}

/// Runs `n` copies of `task` at once and collects their results.
async fn race<T, F, Fut>(n: usize, task: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(task(i))).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

async fn concurrent_writers_checking_one_email_create_one_user(f: Fixture) {
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Created,
        Found,
        Conflict,
    }
    let outcomes = race(8, |i| {
        let store = f.store.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            if tx.user_by_verified_email("race@example.com").await.unwrap().is_some() {
                return Outcome::Found;
            }
            // Widen the window between the check and the insert.
            tokio::time::sleep(Duration::from_millis(20)).await;
            match tx.create_user(new_user(&format!("u{i}"), Some("Race@Example.com"))).await {
                Ok(_) => {
                    tx.commit().await.unwrap();
                    Outcome::Created
                }
                Err(StoreError::Conflict(_)) => Outcome::Conflict,
                Err(other) => panic!("only a conflict may fail a racing writer: {other}"),
            }
        }
    })
    .await;
    assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Created).count(), 1, "{outcomes:?}");
    assert_eq!(f.count("loginkit_users", "").await, 1);
}

async fn concurrent_writers_trimming_sessions_keep_the_limit(f: Fixture) {
    // What the flow does at every login: insert a session, then remove the user's oldest beyond
    // the limit. Unless writers serialise, each sees only its own new row and too many survive.
    const LIMIT: usize = 3;
    race(10, |i| {
        let store = f.store.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            let id = format!("s{i:02}");
            tx.create_session(session(&id, "u1", i as i64)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
            tx.trim_sessions("u1", LIMIT, &id).await.unwrap();
            tx.commit().await.unwrap();
        }
    })
    .await;
    assert_eq!(f.count("loginkit_sessions", "").await, LIMIT as i64);
}
