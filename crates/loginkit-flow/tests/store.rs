//! The store suite: one set of checks of the [`Store`] contract, run against the one store
//! implementation on SQLite (a file in a temporary directory) and on PostgreSQL (a fresh database
//! per test on the server `tests/postgres` provides; see `LOGINKIT_TEST_POSTGRES`).
//!
//! Every check runs on both, so the two databases cannot drift apart: same uniqueness rules, same
//! ordering, same all-or-nothing units, same single-use states, same conflict handling.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loginkit_flow::sqlx::{self, AssertSqlSafe, SqlitePool};
use loginkit_flow::{
    Decide, FlowError, Identity, LoginKey, LoginPlan, NewUser, OneTimeToken, PlannedIdentity, PlannedSession,
    PlannedUser, Renewal, Sealed, Session, SessionRenewal, Snapshot, SqliteStore, Store, StoreError,
    StoredTokens, Timestamp, UserTable,
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

    /// Writes `plan` through a login that decides it whatever the snapshot says.
    async fn write(&self, key: LoginKey<'_>, plan: LoginPlan) -> Result<LoginPlan, FlowError> {
        self.try_write(key, plan).await.unwrap()
    }

    /// Like [`Fixture::write`], with the store's own failure (a conflict) kept.
    async fn try_write(
        &self,
        key: LoginKey<'_>,
        plan: LoginPlan,
    ) -> Result<Result<LoginPlan, FlowError>, StoreError> {
        self.store.login(&key, Box::new(move |_| Ok(plan.clone()))).await
    }

    /// What a login with `key` reads.
    async fn snapshot(&self, key: LoginKey<'_>) -> Snapshot {
        let seen = Arc::new(Mutex::new(None));
        let keep = seen.clone();
        let refused = self
            .store
            .login(
                &key,
                Box::new(move |snapshot| {
                    *keep.lock().unwrap() = Some(snapshot.clone());
                    Err(FlowError::Refused(loginkit_flow::Refusal::Other("only looking".into())))
                }),
            )
            .await
            .unwrap();
        assert!(refused.is_err());
        seen.lock().unwrap().take().unwrap()
    }
}

/// Declares each check once per store: `sqlite::<check>` and `postgres::<check>`.
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
    a_login_writes_its_whole_plan_and_reads_it_back,
    a_lookup_finds_the_account_the_owner_and_the_current_user,
    a_refused_login_writes_nothing,
    a_plan_decided_on_stale_reads_is_decided_again_and_its_first_writes_undone,
    unverified_addresses_are_not_unique_and_name_no_one,
    a_session_slot_holds_one_session,
    one_time_tokens_are_redeemed_once,
    sessions_and_identities_are_deleted_for_their_user_only,
    consume_state_is_single_use,
    prune_deletes_what_expired_in_bounded_batches,
    refresh_claims_are_exclusive_and_finish_only_on_unchanged_tokens,
    resealing_replaces_only_unchanged_tokens,
    concurrent_logins_with_one_verified_email_make_one_user,
    concurrent_logins_of_one_user_share_out_the_slots,
    an_application_user_table_is_used_for_users,
    an_identity_stored_under_the_previous_id_is_found_and_moved_to_the_new_one,
);

const T0: i64 = 1_700_000_000_000;

fn at(offset: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset)
}

fn key<'a>(
    provider: &'a str,
    uid: &'a str,
    email: Option<&'a str>,
    current: Option<&'a str>,
) -> LoginKey<'a> {
    LoginKey { provider, provider_uid: uid, previous_uid: None, email, current_user: current }
}

fn tokens(tag: &str, refresh: bool) -> StoredTokens {
    StoredTokens {
        access_token: Sealed(format!("access-{tag}")),
        refresh_token: refresh.then(|| Sealed(format!("refresh-{tag}"))),
        access_token_expiry: refresh.then(|| at(3_600_000)),
    }
}

fn new_user(id: &str, email: Option<&str>, verified: bool) -> NewUser {
    NewUser {
        id: id.into(),
        email: email.map(Into::into),
        email_verified: verified,
        name: format!("name {id}"),
        created_at: at(0),
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
        claims_json: (provider == "google").then(|| format!(r#"{{"sub":"sub-{uid}"}}"#)),
        avatar_url: Some(format!("https://avatars.test/{uid}.png")),
        id_token: (provider == "google").then(|| Sealed(format!("sealed-id-token-{uid}"))),
        created_at: at(created),
        updated_at: at(created),
    }
}

fn session(id: &str, user: &str, slot: i64, created: i64) -> Session {
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
        slot,
    }
}

fn token(id: &str, user: &str, provider: &str) -> OneTimeToken {
    OneTimeToken {
        id: id.into(),
        user_id: user.into(),
        secret_digest: format!("digest-{id}"),
        provider: provider.into(),
        expire: at(60_000),
        created_at: at(0),
        link_binding: (id == "t1").then(|| format!("link-{id}")),
        redeemer: (id == "t4").then(|| "ssr".to_owned()),
    }
}

fn plan(user: PlannedUser, identity: Option<PlannedIdentity>, session: Option<PlannedSession>) -> LoginPlan {
    LoginPlan { user, identity, session, token: None, replace: None, now: at(10) }
}

fn existing(id: &str) -> PlannedUser {
    PlannedUser::Existing { id: id.into(), name: None }
}

fn placed(session: Session, evicts: Option<&str>) -> Option<PlannedSession> {
    Some(PlannedSession { session, evicts: evicts.map(Into::into), drop_from: None })
}

fn is_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(_)))
}

/// A user, an identity and a session, written by one login.
async fn seed(f: &Fixture, user: &str, email: Option<&str>, provider: &str, uid: &str) {
    let written = f
        .write(
            key(provider, uid, email, None),
            plan(
                PlannedUser::Create(new_user(user, email, true)),
                Some(PlannedIdentity::Create(identity(&format!("i-{user}"), user, provider, uid, 0))),
                placed(session(&format!("s-{user}"), user, 0, 0), None),
            ),
        )
        .await;
    assert!(written.is_ok(), "{written:?}");
}

async fn a_login_writes_its_whole_plan_and_reads_it_back(f: Fixture) {
    seed(&f, "u1", Some("ada@example.com"), "github", "100").await;
    assert_eq!(f.counts().await, [1, 1, 1, 0]);
    let user = f.store.user("u1").await.unwrap().unwrap();
    assert_eq!(
        (user.email.as_deref(), user.email_verified, user.name.as_str()),
        (Some("ada@example.com"), true, "name u1")
    );
    assert_eq!((user.created_at, user.updated_at), (at(0), at(0)));
    assert_eq!(
        f.store.identity("github", "100").await.unwrap(),
        Some(identity("i-u1", "u1", "github", "100", 0))
    );
    assert_eq!(f.store.identities("u1").await.unwrap(), vec![identity("i-u1", "u1", "github", "100", 0)]);
    assert_eq!(f.store.session("s-u1").await.unwrap(), Some(session("s-u1", "u1", 0, 0)));
    let (signed_in, owner) = f.store.authenticate("u1", "digest-s-u1").await.unwrap().unwrap();
    assert_eq!((signed_in, owner), (session("s-u1", "u1", 0, 0), user.clone()));
    assert_eq!(f.store.authenticate("u1", "digest-nothing").await.unwrap(), None);
    assert_eq!(f.store.authenticate("u2", "digest-s-u1").await.unwrap(), None, "another user's session");

    // A returning login: new tokens on the identity (email and subject kept when none comes),
    // a name for an unnamed user only, a second session in the next slot.
    let renewed = tokens("renewed", true);
    let returning = plan(
        PlannedUser::Existing { id: "u1".into(), name: Some("Not Used".into()) },
        Some(PlannedIdentity::Renew {
            provider: "github".into(),
            provider_uid: "100".into(),
            user_id: "u1".into(),
            tokens: renewed.clone(),
            email: None,
            subject: Some("sub-100".into()),
            claims: Some(r#"{"sub":"sub-100","name":"Ada"}"#.into()),
            avatar_url: None,
            id_token: Some(Sealed("sealed-id-token-renewed".into())),
            moved_to: None,
        }),
        placed(session("s-two", "u1", 1, 5), None),
    );
    assert!(f.write(key("github", "100", None, None), returning).await.is_ok());
    let again = f.store.identity("github", "100").await.unwrap().unwrap();
    assert_eq!(
        (again.tokens.clone(), again.provider_email.as_str(), again.subject.as_deref()),
        (renewed, "100@github.test", Some("sub-100"))
    );
    assert_eq!((again.created_at, again.updated_at), (at(0), at(10)));
    assert_eq!(again.claims().unwrap()["name"], "Ada", "the login's verified claims are kept");
    assert_eq!(again.avatar_url.as_deref(), Some("https://avatars.test/100.png"), "no new avatar: kept");
    assert_eq!(
        again.id_token,
        Some(Sealed("sealed-id-token-renewed".into())),
        "the login's ID token is kept"
    );
    assert_eq!(f.store.user("u1").await.unwrap().unwrap().name, "name u1", "a named user keeps the name");
    let order: Vec<String> = f.store.sessions("u1").await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(order, ["s-u1", "s-two"], "oldest first");
    // Updated tokens and expiry.
    assert!(f.store.update_session("s-two", &tokens("fresh", false), at(999), at(77)).await.unwrap());
    let updated = f.store.session("s-two").await.unwrap().unwrap();
    assert_eq!(
        (updated.tokens, updated.expire, updated.updated_at),
        (tokens("fresh", false), at(999), at(77))
    );
    assert!(!f.store.update_session("missing", &tokens("x", false), at(1), at(1)).await.unwrap());
    assert_eq!(f.counts().await, [1, 1, 2, 0]);
}

async fn a_lookup_finds_the_account_the_owner_and_the_current_user(f: Fixture) {
    seed(&f, "owner", Some("Ada@Example.COM"), "github", "1").await;
    seed(&f, "other", Some("bob@example.com"), "gitlab", "2").await;
    seed(&f, "me", None, "google", "3").await;
    // By account: the identity and its user, with the user's sessions.
    let found = f.snapshot(key("github", "1", None, None)).await;
    assert_eq!(found.identity.map(|i| i.user_id), Some("owner".into()));
    assert_eq!(found.users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), ["owner"]);
    assert_eq!(found.sessions.iter().map(|s| (s.id.as_str(), s.slot)).collect::<Vec<_>>(), [("s-owner", 0)]);
    // By email, case-insensitively in ASCII: the verified owner.
    for spelling in ["ada@example.com", "ADA@EXAMPLE.COM"] {
        let found = f.snapshot(key("apple", "9", Some(spelling), None)).await;
        assert_eq!((found.identity, found.email_owner.as_deref()), (None, Some("owner")), "{spelling}");
        assert_eq!(found.users.len(), 1);
    }
    assert_eq!(f.snapshot(key("apple", "9", Some("\u{c1}da@example.com"), None)).await.email_owner, None);
    // The current session's user, with everyone's sessions, and nobody else.
    let found = f.snapshot(key("gitlab", "2", Some("ada@example.com"), Some("me"))).await;
    let mut users: Vec<&str> = found.users.iter().map(|u| u.id.as_str()).collect();
    users.sort_unstable();
    assert_eq!(users, ["me", "other", "owner"]);
    assert_eq!(found.sessions.len(), 3);
    assert_eq!(f.snapshot(key("nope", "0", None, None)).await, Snapshot::default());
}

/// A provider that changed which field identifies an account (Spotify's `account_id`): the
/// identity stored under the old id is the account's, and the login moves it to the new id; an
/// identity under the new id wins over one under the old.
async fn an_identity_stored_under_the_previous_id_is_found_and_moved_to_the_new_one(f: Fixture) {
    seed(&f, "u1", None, "spotify", "adalovelace").await;
    let moving = LoginKey { previous_uid: Some("adalovelace"), ..key("spotify", "aB3dE5fG7h", None, None) };
    let found = f.snapshot(moving).await;
    assert_eq!(found.identity.as_ref().map(|i| i.provider_uid.as_str()), Some("adalovelace"));
    assert_eq!(found.users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), ["u1"]);
    let moved = plan(
        PlannedUser::Existing { id: "u1".into(), name: None },
        Some(PlannedIdentity::Renew {
            provider: "spotify".into(),
            provider_uid: "adalovelace".into(),
            user_id: "u1".into(),
            tokens: tokens("moved", true),
            email: None,
            subject: None,
            claims: None,
            avatar_url: None,
            id_token: None,
            moved_to: Some("aB3dE5fG7h".into()),
        }),
        placed(session("s-moved", "u1", 1, 5), None),
    );
    assert!(f.write(moving, moved).await.is_ok());
    assert_eq!(f.store.identity("spotify", "adalovelace").await.unwrap(), None, "moved away");
    let now = f.store.identity("spotify", "aB3dE5fG7h").await.unwrap().unwrap();
    assert_eq!(
        (now.id.as_str(), now.user_id.as_str(), now.tokens.clone()),
        ("i-u1", "u1", tokens("moved", true))
    );
    // Another account's identity under an old id never shadows the one under the new id.
    seed(&f, "u2", None, "spotify", "old-of-u2").await;
    let both = LoginKey { previous_uid: Some("old-of-u2"), ..key("spotify", "aB3dE5fG7h", None, None) };
    assert_eq!(f.snapshot(both).await.identity.map(|i| i.user_id), Some("u1".into()));
    assert_eq!(f.counts().await, [2, 2, 3, 0]);
}

async fn a_refused_login_writes_nothing(f: Fixture) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let decide: Decide = Box::new(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        Err(FlowError::Conflict(loginkit_flow::Conflict::IdentityTaken))
    });
    let refused = f.store.login(&key("github", "1", None, None), decide).await.unwrap().unwrap_err();
    assert_eq!((refused.code(), calls.load(Ordering::SeqCst)), ("identity_taken", 1));
    assert_eq!(f.counts().await, [0, 0, 0, 0]);
}

async fn a_plan_decided_on_stale_reads_is_decided_again_and_its_first_writes_undone(f: Fixture) {
    seed(&f, "u1", None, "github", "100").await;
    // The first decision ignores what it read: a new user and a new identity for an account that
    // has one. The identity conflicts, so the unit is undone, new user included, and the login
    // decides again from a fresh read.
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let decide: Decide = Box::new(move |snapshot| {
        let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
        let found = snapshot.identity.clone().filter(|_| !first);
        Ok(match found {
            None => plan(
                PlannedUser::Create(new_user("stale", None, false)),
                Some(PlannedIdentity::Create(identity("i-stale", "stale", "github", "100", 5))),
                placed(session("s-stale", "stale", 0, 5), None),
            ),
            Some(found) => {
                plan(existing(&found.user_id), None, placed(session("s-fresh", &found.user_id, 1, 5), None))
            }
        })
    });
    let written = f.store.login(&key("github", "100", None, None), decide).await.unwrap().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "decided again");
    assert_eq!(written.user.id(), "u1");
    assert_eq!(f.store.user("stale").await.unwrap(), None, "the first attempt left nothing");
    assert_eq!(f.store.session("s-stale").await.unwrap(), None);
    assert_eq!(f.counts().await, [1, 1, 2, 0]);
}

async fn unverified_addresses_are_not_unique_and_name_no_one(f: Fixture) {
    let create = |id: &str, verified| {
        plan(
            PlannedUser::Create(new_user(
                id,
                Some(if verified { "ADA@example.com" } else { "Ada@example.com" }),
                verified,
            )),
            None,
            None,
        )
    };
    assert!(f.write(key("x", "1", None, None), create("squat1", false)).await.is_ok());
    assert!(f.write(key("x", "2", None, None), create("squat2", false)).await.is_ok());
    assert_eq!(
        f.snapshot(key("x", "9", Some("ada@example.com"), None)).await.email_owner,
        None,
        "names no one"
    );
    assert!(
        f.write(key("x", "3", None, None), create("owner", true)).await.is_ok(),
        "the verified owner is not locked out"
    );
    assert_eq!(
        f.snapshot(key("x", "9", Some("ada@EXAMPLE.com"), None)).await.email_owner.as_deref(),
        Some("owner")
    );
    // A second verified claim conflicts every time it is decided the same way: the store gives
    // up with a conflict (the flow then reports it).
    let second = f.try_write(key("x", "4", None, None), create("second", true)).await;
    assert!(is_conflict(second.map(|r| r.is_ok())), "a verified address has one owner");
    assert!(f.write(key("x", "5", None, None), create("squat3", false)).await.is_ok());
    assert_eq!(f.counts().await, [4, 0, 0, 0]);
}

async fn a_session_slot_holds_one_session(f: Fixture) {
    seed(&f, "u1", None, "github", "1").await;
    let put = |id: &str, slot, evicts: Option<&str>| {
        plan(existing("u1"), None, placed(session(id, "u1", slot, 20), evicts))
    };
    let attempt = |plan: LoginPlan| f.try_write(key("github", "1", None, None), plan);
    // Slot 0 is taken: a session that expects it free conflicts...
    assert!(is_conflict(attempt(put("s-x", 0, None)).await.map(drop)));
    // ...as does one that expects another occupant...
    assert!(is_conflict(attempt(put("s-x", 0, Some("s-other"))).await.map(drop)));
    // ...and one that names the occupant replaces it.
    assert!(attempt(put("s-y", 0, Some("s-u1"))).await.unwrap().is_ok());
    assert_eq!(f.store.session("s-u1").await.unwrap(), None);
    assert_eq!(f.store.session("s-y").await.unwrap(), Some(session("s-y", "u1", 0, 20)));
    assert_eq!(f.store.authenticate("u1", "digest-s-u1").await.unwrap(), None, "the evicted secret is gone");
    // A free slot is free; a lowered limit drops the slots from it on; a replaced session goes.
    for (id, slot) in [("s-1", 1), ("s-5", 5), ("s-6", 6)] {
        assert!(attempt(put(id, slot, None)).await.unwrap().is_ok());
    }
    let mut lowered = put("s-2", 2, None);
    lowered.session.as_mut().unwrap().drop_from = Some(3);
    lowered.replace = Some("s-1".into());
    assert!(attempt(lowered).await.unwrap().is_ok());
    let left: Vec<(String, i64)> =
        f.store.sessions("u1").await.unwrap().into_iter().map(|s| (s.id, s.slot)).collect();
    assert_eq!(left, [("s-y".to_owned(), 0), ("s-2".to_owned(), 2)]);
    // Another user's slot 0 is theirs.
    seed(&f, "u2", None, "gitlab", "2").await;
    assert_eq!(f.counts().await, [2, 2, 3, 0]);
}

async fn one_time_tokens_are_redeemed_once(f: Fixture) {
    seed(&f, "u1", None, "github", "1").await;
    let mut with_token = plan(existing("u1"), None, None);
    with_token.token = Some(token("t1", "u1", "github"));
    assert!(f.write(key("github", "1", None, None), with_token).await.is_ok());
    let mut other = plan(existing("u1"), None, None);
    other.token = Some(token("t2", "u1", "gitlab"));
    assert!(f.write(key("github", "1", None, None), other).await.is_ok());
    let mut bound = plan(existing("u1"), None, None);
    bound.token = Some(token("t4", "u1", "github"));
    assert!(f.write(key("github", "1", None, None), bound).await.is_ok());
    assert_eq!(f.store.redeem("u2", "digest-t1", None).await.unwrap(), None, "another user's secret");
    assert_eq!(f.store.redeem("u1", "digest-t3", None).await.unwrap(), None);
    // A token bound to a redeemer is taken by it alone; anyone else leaves it in place.
    assert_eq!(f.store.redeem("u1", "digest-t4", None).await.unwrap(), None, "bound to its redeemer");
    assert_eq!(f.store.redeem("u1", "digest-t4", Some("other")).await.unwrap(), None, "another redeemer");
    let taken = f.store.redeem("u1", "digest-t4", Some("ssr")).await.unwrap().unwrap();
    assert_eq!(taken.token, token("t4", "u1", "github"));
    assert_eq!(f.store.redeem("u1", "digest-t4", Some("ssr")).await.unwrap(), None, "taken once");
    // A redeemer may take an unbound token too.
    let redeemed = f.store.redeem("u1", "digest-t1", Some("ssr")).await.unwrap().unwrap();
    assert_eq!(redeemed.token, token("t1", "u1", "github"));
    assert_eq!(
        redeemed.identity.map(|i| i.id),
        Some("i-u1".into()),
        "the user's identity at the token's provider"
    );
    assert_eq!(f.store.redeem("u1", "digest-t1", None).await.unwrap(), None, "taken once");
    let no_identity = f.store.redeem("u1", "digest-t2", None).await.unwrap().unwrap();
    assert_eq!(no_identity.identity, None);
    assert_eq!(f.counts().await, [1, 1, 1, 0]);
}

async fn sessions_and_identities_are_deleted_for_their_user_only(f: Fixture) {
    seed(&f, "u1", None, "github", "1").await;
    seed(&f, "u2", None, "gitlab", "2").await;
    assert!(!f.store.delete_session("u2", "s-u1").await.unwrap(), "not u2's");
    assert!(!f.store.delete_identity("u2", "i-u1").await.unwrap(), "not u2's");
    assert!(f.store.delete_session("u1", "s-u1").await.unwrap());
    assert!(!f.store.delete_session("u1", "s-u1").await.unwrap());
    assert!(f.store.delete_identity("u1", "i-u1").await.unwrap());
    assert_eq!(f.store.identity("github", "1").await.unwrap(), None, "the provider account is free again");
    assert_eq!(f.store.delete_sessions("u2").await.unwrap(), 1);
    assert_eq!(f.counts().await, [2, 1, 0, 0]);
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
    seed(&f, "u1", None, "github", "1").await;
    for (id, slot, created) in
        [("s-old1", 1, 0), ("s-old2", 2, 1), ("s-old3", 3, 2), ("s-live", 4, 9_000_000)]
    {
        let mut s = session(id, "u1", slot, created);
        s.expire = if id == "s-live" { at(86_400_000) } else { at(created + 1_000) };
        assert!(
            f.write(key("github", "1", None, None), plan(existing("u1"), None, placed(s, None)))
                .await
                .is_ok()
        );
    }
    for (id, expire) in [("t-old", 5_000), ("t-live", 20_000_000)] {
        let mut with_token = plan(existing("u1"), None, None);
        with_token.token = Some(OneTimeToken { expire: at(expire), ..token(id, "u1", "github") });
        assert!(f.write(key("github", "1", None, None), with_token).await.is_ok());
    }
    // Used states are kept a minute past their state's expiry (clocks of instances differ).
    let (gone, kept) = (now.millis() - 61_000, now.millis() - 59_000);
    f.execute(&format!(
        "INSERT INTO loginkit_used_states (id, expire) VALUES ('st-gone1', {gone}), ('st-gone2', {gone}), ('st-kept', {kept})"
    ))
    .await;
    // (The seeded session lasts a day from T0: still valid at `now`.)
    let first = f.store.prune(now, 2).await.unwrap();
    assert_eq!((first.sessions, first.tokens, first.states), (2, 1, 2), "at most two of each");
    let second = f.store.prune(now, 2).await.unwrap();
    assert_eq!((second.sessions, second.tokens, second.states), (1, 0, 0));
    assert_eq!(f.store.prune(now, 2).await.unwrap().most(), 0, "nothing left");
    let left: Vec<String> = f.store.sessions("u1").await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(left, ["s-u1", "s-live"]);
    assert_eq!(f.count("loginkit_tokens", "id = 't-live'").await, 1);
    assert_eq!(f.count("loginkit_used_states", "").await, 1);
    assert_eq!(f.count("loginkit_used_states", "id = 'st-kept'").await, 1);
}

async fn refresh_claims_are_exclusive_and_finish_only_on_unchanged_tokens(f: Fixture) {
    seed(&f, "u1", None, "google", "1").await;
    let seen = tokens("i-u1", true).access_token;
    let (now, until) = (at(1_000), at(61_000));
    // One claim at a time, for the tokens the caller saw.
    assert!(f.store.claim_refresh("i-u1", &seen, until, now).await.unwrap());
    assert!(!f.store.claim_refresh("i-u1", &seen, until, now).await.unwrap(), "held");
    assert!(!f.store.claim_refresh("i-u1", &Sealed("other".into()), at(70_000), at(62_000)).await.unwrap());
    assert!(!f.store.claim_refresh("missing", &seen, until, now).await.unwrap());
    // A released claim, or an expired one, can be taken again.
    f.store.release_refresh("i-u1", until).await.unwrap();
    assert!(f.store.claim_refresh("i-u1", &seen, until, now).await.unwrap());
    assert!(f.store.claim_refresh("i-u1", &seen, at(200_000), at(61_001)).await.unwrap(), "expired claim");
    // Releasing someone else's claim does nothing.
    f.store.release_refresh("i-u1", until).await.unwrap();
    assert!(!f.store.claim_refresh("i-u1", &seen, at(300_000), at(62_000)).await.unwrap());

    // Finishing stores the tokens (and the session's copy) only while they are still the ones
    // the refresh started from, and frees the account for the next refresh.
    let fresh = tokens("fresh", true);
    let copy = tokens("session-copy", true);
    let refreshed_id_token = Sealed("sealed-id-token-refreshed".into());
    let renewal = Renewal {
        tokens: &fresh,
        email: None,
        subject: Some("sub-1"),
        claims: Some(r#"{"sub":"sub-1","refreshed":true}"#),
        id_token: Some(&refreshed_id_token),
        now: at(63_000),
    };
    let session = SessionRenewal { id: "s-u1", tokens: &copy, expire: at(99_000) };
    assert!(f.store.finish_refresh("i-u1", &seen, &renewal, Some(&session)).await.unwrap());
    let stale = tokens("stale", true);
    let late =
        Renewal { tokens: &stale, email: None, subject: None, claims: None, id_token: None, now: at(64_000) };
    let late_copy = SessionRenewal { id: "s-u1", tokens: &stale, expire: at(1) };
    assert!(
        !f.store.finish_refresh("i-u1", &seen, &late, Some(&late_copy)).await.unwrap(),
        "another refresh finished first"
    );
    let stored = f.store.identity("google", "1").await.unwrap().unwrap();
    assert_eq!(
        (stored.tokens.clone(), stored.subject.as_deref(), stored.updated_at),
        (fresh.clone(), Some("sub-1"), at(63_000))
    );
    assert_eq!(
        stored.claims().unwrap()["refreshed"],
        true,
        "a refresh's verified claims replace the login's"
    );
    assert_eq!(stored.id_token.as_ref(), Some(&refreshed_id_token), "and its ID token");
    let session = f.store.session("s-u1").await.unwrap().unwrap();
    assert_eq!((session.tokens, session.expire), (copy, at(99_000)), "the late refresh changed nothing");
    assert!(
        f.store.claim_refresh("i-u1", &fresh.access_token, at(400_000), at(65_000)).await.unwrap(),
        "free again"
    );
}

async fn resealing_replaces_only_unchanged_tokens(f: Fixture) {
    seed(&f, "u1", None, "github", "1").await;
    seed(&f, "u2", None, "gitlab", "2").await;
    use loginkit_flow::SealedTable;
    let stale = f.store.sealed_elsewhere(SealedTable::Identities, "new.", "", 10).await.unwrap();
    assert_eq!(stale.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["i-u1", "i-u2"]);
    assert_eq!(
        f.store.sealed_elsewhere(SealedTable::Identities, "new.", "i-u1", 10).await.unwrap().len(),
        1,
        "after an id"
    );
    let current = StoredTokens {
        access_token: Sealed("new.a".into()),
        refresh_token: Some(Sealed("new.r".into())),
        access_token_expiry: None,
    };
    assert!(
        f.store
            .replace_sealed(SealedTable::Identities, "i-u1", &stale[0].tokens.access_token, &current)
            .await
            .unwrap()
    );
    assert!(
        !f.store
            .replace_sealed(SealedTable::Identities, "i-u2", &Sealed("changed".into()), &current)
            .await
            .unwrap()
    );
    let left = f.store.sealed_elsewhere(SealedTable::Identities, "new.", "", 10).await.unwrap();
    assert_eq!(left.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["i-u2"]);
    // Sessions: a refresh token under another prefix counts as much as an access token.
    assert_eq!(f.store.sealed_elsewhere(SealedTable::Sessions, "access-", "", 10).await.unwrap().len(), 2);
    assert_eq!(f.store.sealed_elsewhere(SealedTable::Sessions, "", "", 10).await.unwrap().len(), 0);
}

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

async fn concurrent_logins_with_one_verified_email_make_one_user(f: Fixture) {
    // What the flow decides: the email's owner if there is one, else a new user. Concurrent
    // logins through different accounts all read "no owner"; one creates the user, the others
    // conflict, read again, and join it.
    let store = f.store.clone();
    let users: Vec<String> = race(8, |i| {
        let store = store.clone();
        async move {
            let uid = i.to_string();
            let decide: Decide = Box::new(move |snapshot| {
                let user = match &snapshot.email_owner {
                    Some(owner) => existing(owner),
                    None => PlannedUser::Create(new_user(&format!("u{i}"), Some("race@example.com"), true)),
                };
                let id = user.id().to_owned();
                Ok(plan(
                    user,
                    Some(PlannedIdentity::Create(identity(&format!("i{i}"), &id, "p", &i.to_string(), 0))),
                    None,
                ))
            });
            let key = key("p", &uid, Some("race@example.com"), None);
            store.login(&key, decide).await.unwrap().unwrap().user.id().to_owned()
        }
    })
    .await;
    assert!(users.windows(2).all(|w| w[0] == w[1]), "{users:?}");
    assert_eq!(f.counts().await, [1, 8, 0, 0]);
}

async fn concurrent_logins_of_one_user_share_out_the_slots(f: Fixture) {
    seed(&f, "u1", None, "github", "1").await;
    // Each login takes the lowest free slot of three, or the oldest session's: however they
    // interleave, three sessions are left, in three slots.
    const LIMIT: i64 = 3;
    let store = f.store.clone();
    race(12, |i| {
        let store = store.clone();
        async move {
            let decide: Decide = Box::new(move |snapshot| {
                let mine: Vec<_> = snapshot.sessions.iter().filter(|s| s.user_id == "u1").collect();
                let free = (0..LIMIT).find(|slot| mine.iter().all(|s| s.slot != *slot));
                let (slot, evicts) = match free {
                    Some(slot) => (slot, None),
                    None => {
                        let oldest = mine.iter().min_by_key(|s| (s.created_at, s.slot)).unwrap();
                        (oldest.slot, Some(oldest.id.clone()))
                    }
                };
                let new = session(&format!("s{i:02}"), "u1", slot, 100 + i as i64);
                Ok(plan(existing("u1"), None, Some(PlannedSession { session: new, evicts, drop_from: None })))
            });
            store.login(&key("github", "1", None, None), decide).await.unwrap().unwrap();
        }
    })
    .await;
    let slots: Vec<i64> = f.store.sessions("u1").await.unwrap().into_iter().map(|s| s.slot).collect();
    let mut sorted = slots.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [0, 1, 2], "{slots:?}");
}

async fn an_application_user_table_is_used_for_users(f: Fixture) {
    // The application's own table, other names, no timestamps, a column loginkit leaves alone.
    let (verified, unique) = match &f.raw {
        Raw::Sqlite(_) => (
            "INTEGER NOT NULL",
            "CREATE UNIQUE INDEX accounts_mail ON accounts (mail COLLATE NOCASE) WHERE confirmed = 1",
        ),
        #[cfg(feature = "postgres")]
        Raw::Postgres(_) => (
            "BOOLEAN NOT NULL",
            "CREATE UNIQUE INDEX accounts_mail ON accounts (lower(mail COLLATE \"C\")) WHERE confirmed",
        ),
    };
    f.execute(&format!(
        "CREATE TABLE accounts (uid TEXT PRIMARY KEY, mail TEXT, confirmed {verified}, display TEXT NOT NULL, plan TEXT NOT NULL DEFAULT 'free')"
    ))
    .await;
    f.execute(unique).await;
    let table =
        UserTable::new("accounts").id("uid").email("mail").email_verified("confirmed").name("display");
    let store: Arc<dyn Store> = match &f.raw {
        Raw::Sqlite(pool) => Arc::new(SqliteStore::with_pool(pool.clone(), table).await.unwrap()),
        #[cfg(feature = "postgres")]
        Raw::Postgres(pool) => {
            Arc::new(loginkit_flow::PgStore::with_pool(pool.clone(), table).await.unwrap())
        }
    };
    let app = Fixture {
        store,
        raw: match &f.raw {
            Raw::Sqlite(pool) => Raw::Sqlite(pool.clone()),
            #[cfg(feature = "postgres")]
            Raw::Postgres(pool) => Raw::Postgres(pool.clone()),
        },
        _cleanup: Cleanup::Dir(PathBuf::from("/nonexistent-loginkit-cleanup")),
    };
    seed(&app, "a1", Some("Ada@Example.com"), "github", "7").await;
    assert_eq!(
        f.count("accounts", "uid = 'a1' AND plan = 'free'").await,
        1,
        "the application's row, its default kept"
    );
    assert_eq!(f.count("loginkit_users", "").await, 0, "not loginkit's table");
    let user = app.store.user("a1").await.unwrap().unwrap();
    assert_eq!(
        (user.email.as_deref(), user.email_verified, user.name.as_str()),
        (Some("Ada@Example.com"), true, "name a1")
    );
    assert_eq!(user.created_at, Timestamp::from_millis(0), "no timestamp columns");
    let (session, owner) = app.store.authenticate("a1", "digest-s-a1").await.unwrap().unwrap();
    assert_eq!((session.user_id.as_str(), owner.id.as_str()), ("a1", "a1"));
    assert_eq!(
        app.snapshot(key("x", "1", Some("ada@example.COM"), None)).await.email_owner.as_deref(),
        Some("a1")
    );
    // A table without the named columns is refused when the store opens.
    let wrong = UserTable::new("accounts").email("email");
    let refused = match &f.raw {
        Raw::Sqlite(pool) => SqliteStore::with_pool(pool.clone(), wrong).await.map(drop),
        #[cfg(feature = "postgres")]
        Raw::Postgres(pool) => loginkit_flow::PgStore::with_pool(pool.clone(), wrong).await.map(drop),
    };
    assert!(matches!(refused, Err(StoreError::Config(ref m)) if m.contains("accounts")), "{refused:?}");
}

/// PostgreSQL: a login that holds its user's row (as a frozen instance might, mid-statement)
/// stops no other user's login; logins of different users share no lock.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_held_login_of_one_user_stops_no_other_users_login() {
    let f = Fixture::postgres().await;
    seed(&f, "held", None, "github", "1").await;
    seed(&f, "free", None, "gitlab", "2").await;
    let Raw::Postgres(pool) = &f.raw else { unreachable!() };
    // Another connection holds user `held`'s login open: its row and its session slot locked.
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("UPDATE loginkit_users SET name = name WHERE id = 'held'")
        .execute(&mut *holder)
        .await
        .unwrap();
    sqlx::query("UPDATE loginkit_sessions SET updated_at = updated_at WHERE user_id = 'held'")
        .execute(&mut *holder)
        .await
        .unwrap();
    // Another user's login completes meanwhile.
    let other = tokio::time::timeout(
        Duration::from_secs(10),
        f.write(
            key("gitlab", "2", None, None),
            plan(existing("free"), None, placed(session("s-free-2", "free", 1, 5), None)),
        ),
    )
    .await
    .expect("another user's login does not wait for the held one");
    assert!(other.is_ok());
    // The held user's own login waits for the holder, and completes once it is gone.
    let store = f.store.clone();
    let waiting = tokio::spawn(async move {
        store
            .login(
                &key("github", "1", None, None),
                Box::new(|_| {
                    Ok(plan(existing("held"), None, placed(session("s-held-2", "held", 1, 5), None)))
                }),
            )
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the same user's login waits on its row");
    holder.rollback().await.unwrap();
    assert!(waiting.await.unwrap().unwrap().is_ok());
    assert_eq!(f.counts().await, [2, 2, 4, 0]);
}

/// PostgreSQL: the store's connections end a transaction left idle (a frozen client's) on their
/// own, and plan each statement once.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_bound_idle_transactions_and_plan_once() {
    let f = Fixture::postgres().await;
    let Raw::Postgres(pool) = &f.raw else { unreachable!() };
    let setting: String = sqlx::query_scalar("SELECT current_setting('idle_in_transaction_session_timeout')")
        .fetch_one(pool)
        .await
        .unwrap();
    // PostgreSQL shows 5000 ms as "5s".
    assert_eq!(loginkit_flow::IDLE_IN_TRANSACTION_TIMEOUT, Duration::from_secs(5));
    assert_eq!(setting, "5s");
    // One plan per statement, not a fresh plan per execution.
    let plans: String =
        sqlx::query_scalar("SELECT current_setting('plan_cache_mode')").fetch_one(pool).await.unwrap();
    assert_eq!(plans, "force_generic_plan");
}

/// PostgreSQL: after the database dropped every connection (a restart, a failover, a proxy
/// closing idle ones), reads go on: one sent on a dead pooled connection is sent again on a
/// fresh one.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_go_on_after_the_database_dropped_every_connection() {
    use loginkit_flow::sqlx::Connection as _;
    let f = Fixture::postgres().await;
    seed(&f, "u", None, "github", "1").await;
    // Several pooled connections, all open.
    let reads: Vec<_> = (0..8)
        .map(|_| {
            let store = f.store.clone();
            tokio::spawn(async move { store.user("u").await })
        })
        .collect();
    for read in reads {
        assert!(read.await.unwrap().unwrap().is_some());
    }
    let Cleanup::Postgres { _database: database } = &f._cleanup else { unreachable!() };
    let mut admin = sqlx::PgConnection::connect(database.url()).await.unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(ended.len() >= 2 && ended.iter().all(|e| *e), "{ended:?}");
    for _ in 0..12 {
        let user = f.store.user("u").await;
        assert!(matches!(user, Ok(Some(_))), "{user:?}");
    }
}

/// A database at the previous schema (migrations 1 to 3, sessions in a rowid table found by
/// their digest) with a user, an identity, two sessions and a used state, upgraded by opening
/// the store: every row is kept and still works (the sessions authenticate, the state stays
/// used, the next login takes the free slot).
async fn upgraded_rows_keep_working(store: Arc<dyn Store>) {
    let (signed_in, user) =
        store.authenticate("old", "digest-old-1").await.unwrap().expect("an upgraded session");
    assert_eq!(
        (signed_in.id.as_str(), signed_in.slot, user.email.as_deref()),
        ("old-1", 0, Some("old@example.com"))
    );
    let sessions = store.sessions("old").await.unwrap();
    assert_eq!(
        sessions.iter().map(|s| (s.id.as_str(), s.slot)).collect::<Vec<_>>(),
        [("old-1", 0), ("old-2", 1)]
    );
    assert!(!store.consume_state("state-1", at(600_000)).await.unwrap(), "a state used before stays used");
    let plan = plan(existing("old"), None, placed(session("new", "old", 2, 10), None));
    let written =
        store.login(&key("github", "7", None, None), Box::new(move |_| Ok(plan.clone()))).await.unwrap();
    assert!(written.is_ok(), "{written:?}");
    assert_eq!(store.sessions("old").await.unwrap().len(), 3);
    assert!(store.prune(at(10 * 86_400_000), 100).await.unwrap().sessions == 3, "pruned by expiry");
}

/// Rows of the previous schema, in statements both databases read the same way.
const PREVIOUS_ROWS: &str = "\
    INSERT INTO loginkit_users (id, email, email_verified, name, created_at, updated_at) \
        VALUES ('old', 'old@example.com', TRUE, 'Old', 1, 1); \
    INSERT INTO loginkit_identities (id, user_id, provider, provider_uid, provider_email, access_token, \
        created_at, updated_at) VALUES ('i-old', 'old', 'github', '7', 'old@example.com', 'sealed', 1, 1); \
    INSERT INTO loginkit_sessions (id, user_id, secret_digest, provider, provider_uid, access_token, expire, \
        created_at, updated_at, slot) VALUES \
        ('old-1', 'old', 'digest-old-1', 'github', '7', 'sealed', 1700086400000, 1700000000000, 1700000000000, 0), \
        ('old-2', 'old', 'digest-old-2', 'github', '7', 'sealed', 1700086400001, 1700000000001, 1700000000001, 1); \
    INSERT INTO loginkit_used_states (id, expire) VALUES ('state-1', 1700000600000);";

/// The first `n` of loginkit's migrations for `database` (`sqlite` or `postgres`), as the
/// store records them.
fn previous_migrations(database: &str, n: usize) -> sqlx::migrate::Migrator {
    use std::borrow::Cow;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations").join(database);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let migrations = files
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, path)| {
            let sql = std::fs::read_to_string(path).unwrap();
            sqlx::migrate::Migration::new(
                i as i64 + 1,
                Cow::Owned(path.file_stem().unwrap().to_string_lossy().into_owned()),
                sqlx::migrate::MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(sql)),
                false,
            )
        })
        .collect();
    let mut migrator = sqlx::migrate::Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name("loginkit_migrations");
    migrator
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rows_of_the_previous_schema_survive_the_upgrade() {
    let dir = loginkit_testkit::scratch_dir("store_upgrade");
    let url = format!("sqlite://{}?mode=rwc", dir.join("store.db").display());
    let old = SqlitePool::connect(&url).await.unwrap();
    previous_migrations("sqlite", 3).run(&old).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(PREVIOUS_ROWS.replace("TRUE", "1"))).execute(&old).await.unwrap();
    old.close().await;
    let store = SqliteStore::open(&format!("sqlite://{}", dir.join("store.db").display())).await.unwrap();
    upgraded_rows_keep_working(Arc::new(store)).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rows_of_the_previous_schema_survive_the_upgrade() {
    let database = TestDatabase::create("store_upgrade").await;
    let old = sqlx::PgPool::connect(database.url()).await.unwrap();
    previous_migrations("postgres", 3).run(&old).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(PREVIOUS_ROWS.to_owned())).execute(&old).await.unwrap();
    old.close().await;
    let store = loginkit_flow::PgStore::open(database.url()).await.unwrap();
    upgraded_rows_keep_working(Arc::new(store)).await;
}
