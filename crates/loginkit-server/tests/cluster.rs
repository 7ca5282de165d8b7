//! Two reference-server instances on different ports sharing one PostgreSQL database and one
//! master key, in front of one external provider: what a deployment behind a load balancer does.
//! A login started on one instance completes on the other, a session works everywhere, a state
//! is accepted once across both, and concurrent logins spread over both lose nothing.
//!
//! Needs PostgreSQL: `tests/setup` (or `tests/postgres`) starts it; `LOGINKIT_TEST_POSTGRES`
//! points elsewhere. Each test gets a fresh database.

mod common;

use std::sync::Arc;

use common::{APP, Backing, Harness, race_callbacks, status_and_json, temp_dir};
use loginkit_flow::Keys;
use loginkit_flow::sqlx::{self, PgPool};
use loginkit_server::{Config, Server};
use loginkit_testkit::postgres::TestDatabase;
use loginkit_testkit::{Browser, Endpoint, Fault, FormAnswer, MockIdp, MockIdpConfig, MockUser};
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

const CALLBACK: &str = "/v1/account/sessions/oauth2/callback/";

/// Two instances, A and B, one database, one key, one provider.
struct Cluster {
    a: Harness,
    b: Harness,
    idp: MockIdp,
    pool: Shared,
    // Dropped last, once the servers are gone.
    _database: Option<TestDatabase>,
}

/// The database both instances use.
enum Shared {
    Postgres(PgPool),
    Sqlite(sqlx::SqlitePool),
}

impl Cluster {
    async fn start(users: Vec<MockUser>) -> Self {
        Self::start_on(users, Backing::Postgres).await
    }

    /// Two instances on one PostgreSQL database, or on one SQLite file (two processes' writers
    /// take turns through SQLite's own lock).
    async fn start_on(users: Vec<MockUser>, backing: Backing) -> Self {
        if backing == Backing::Sqlite {
            let dir = temp_dir();
            let url = format!("sqlite://{}/shared.db", dir.display());
            let idp =
                MockIdp::start_with(MockIdpConfig { users, auto_approve: false, ..MockIdpConfig::default() })
                    .await
                    .unwrap();
            let project =
                format!("session_limit = 0\ndatabase_url = \"{url}\"\n{}", common::external_mock(&idp));
            let top = format!("rate_limit = 0\nkey = \"{}\"", Keys::generate_master());
            let a = Harness::start_with(dir.clone(), "127.0.0.1:0", &top, &project).await;
            let b = Harness::start_with(temp_dir(), "127.0.0.1:0", &top, &project).await;
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            return Self { a, b, idp, pool: Shared::Sqlite(pool), _database: None };
        }
        let database = TestDatabase::create("cluster").await;
        let idp =
            MockIdp::start_with(MockIdpConfig { users, auto_approve: false, ..MockIdpConfig::default() })
                .await
                .unwrap();
        // The provider is external, as in a deployment: an authorization code issued for a login
        // started on A is redeemed by B. (The built-in provider mounted in each instance keeps its
        // codes in that instance's memory.)
        let project = format!(
            "session_limit = 0\ndatabase_url = \"{}\"\n[projects.default.providers.mock]\nclient_id = \"1\"\nclient_secret = \"123456\"\nbase_url = \"{}\"",
            database.url(),
            idp.origin()
        );
        let top = format!("rate_limit = 0\nkey = \"{}\"", Keys::generate_master());
        let a = Harness::start_with(temp_dir(), "127.0.0.1:0", &top, &project).await;
        let b = Harness::start_with(temp_dir(), "127.0.0.1:0", &top, &project).await;
        assert_ne!(a.server.url().port(), b.server.url().port());
        let pool = PgPool::connect(database.url()).await.unwrap();
        Self { a, b, idp, pool: Shared::Postgres(pool), _database: Some(database) }
    }

    /// The shared PostgreSQL database.
    fn postgres(&self) -> &PgPool {
        match &self.pool {
            Shared::Postgres(pool) => pool,
            Shared::Sqlite(_) => panic!("this cluster runs on SQLite"),
        }
    }

    /// A browser that visits both instances and the provider.
    fn browser(&self) -> Browser {
        Browser::new([self.a.server.url().clone(), self.b.server.url().clone(), self.idp.origin()])
    }

    /// (users, identities, sessions, tokens) in the shared database.
    async fn counts(&self) -> (i64, i64, i64, i64) {
        let mut out = [0i64; 4];
        for (i, table) in ["users", "identities", "sessions", "tokens"].iter().enumerate() {
            let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM loginkit_{table}"));
            out[i] = match &self.pool {
                Shared::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
                Shared::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
            };
        }
        (out[0], out[1], out[2], out[3])
    }
}

/// `url` with the port of `instance`: the same request, sent to the other instance.
fn on(instance: &Harness, url: &Url) -> Url {
    let mut moved = url.clone();
    moved.set_port(instance.server.url().port()).unwrap();
    moved
}

/// Starts a login on `start` and walks it through the provider, stopping before the callback.
async fn until_callback(start: &Harness, browser: &Browser) -> Url {
    let stopping = browser.clone().stopping_before(CALLBACK);
    let walk = stopping.walk(start.start_url("sessions", "mock", "")).await.unwrap();
    assert!(walk.end.path().starts_with(CALLBACK), "{}", walk.end);
    assert_eq!(walk.end.port(), start.server.url().port(), "the provider returns to where it started");
    walk.end
}

async fn api(instance: &Harness, method: reqwest::Method, path: &str, session: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .request(method, instance.url(path))
        .header("x-appwrite-project", "default")
        .header("x-appwrite-session", session)
        .send()
        .await
        .unwrap();
    status_and_json(response).await
}

/// The session cookie's value the browser holds for `instance`.
fn session_cookie(browser: &Browser, instance: &Harness) -> String {
    use reqwest::cookie::CookieStore;
    let cookies = browser.jar().cookies(&instance.url("v1/account")).expect("cookies");
    cookies
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|c| c.strip_prefix("a_session_default="))
        .expect("the session cookie")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_started_on_a_completes_on_b() {
    let c = Cluster::start(MockUser::defaults()).await;
    let browser = c.browser();
    let callback = until_callback(&c.a, &browser).await;
    assert_eq!(c.counts().await, (0, 0, 0, 0));

    // The load balancer sends the provider's redirect to B: B opens A's sealed state (same key),
    // checks the binding cookie A set, and redeems the code A's login obtained.
    let walk = browser.walk(on(&c.b, &callback)).await.unwrap();
    assert_eq!(walk.end.as_str(), format!("{APP}/ok"), "{:?}", walk.hops);
    assert_eq!(walk.hops[0].url.port(), c.b.server.url().port());
    assert_eq!(c.counts().await, (1, 1, 1, 0));

    let (status, session) = c.b.get(&browser, "v1/account/sessions/current").await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!((session["provider"].as_str(), session["providerUid"].as_str()), (Some("mock"), Some("1")));
    let (status, account) = c.b.get(&browser, "v1/account").await;
    assert_eq!((status, account["email"].as_str()), (StatusCode::OK, Some("useroauth@localhost.test")));
    let (status, same) = c.a.get(&browser, "v1/account/sessions/current").await;
    assert_eq!((status, &same["$id"]), (StatusCode::OK, &session["$id"]), "A knows it too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_created_on_a_is_read_refreshed_and_deleted_on_b() {
    let c = Cluster::start(MockUser::defaults()).await;
    let browser = Browser::new([c.a.server.url().clone(), c.idp.origin()]);
    let walk = browser.walk(c.a.start_url("sessions", "mock", "")).await.unwrap();
    assert_eq!(walk.end.as_str(), format!("{APP}/ok"));
    let cookie = session_cookie(&browser, &c.a);
    let (_, on_a) = api(&c.a, reqwest::Method::GET, "v1/account/sessions/current", &cookie).await;

    let (status, read) = api(&c.b, reqwest::Method::GET, "v1/account/sessions/current", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["$id"], on_a["$id"]);
    assert_eq!(read["providerAccessToken"], on_a["providerAccessToken"], "B opens the tokens A sealed");

    let (status, refreshed) = api(&c.b, reqwest::Method::PATCH, "v1/account/sessions/current", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["$id"], on_a["$id"]);
    assert_ne!(refreshed["providerAccessToken"], on_a["providerAccessToken"], "new provider tokens");
    let (before, after) = (on_a["expire"].as_str().unwrap(), refreshed["expire"].as_str().unwrap());
    assert!(!before.is_empty() && after >= before, "the session is extended: {before} -> {after}");
    let (_, seen_by_a) = api(&c.a, reqwest::Method::GET, "v1/account/sessions/current", &cookie).await;
    assert_eq!(seen_by_a["providerAccessToken"], refreshed["providerAccessToken"], "A reads B's refresh");

    let (status, _) = api(&c.b, reqwest::Method::DELETE, "v1/account/sessions/current", &cookie).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for instance in [&c.a, &c.b] {
        let (status, body) =
            api(instance, reqwest::Method::GET, "v1/account/sessions/current", &cookie).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    assert_eq!(c.counts().await, (1, 1, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_state_replayed_on_the_other_instance_is_refused_and_writes_nothing() {
    replayed_on_the_other_instance(Backing::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_state_replayed_on_the_other_instance_is_refused_and_writes_nothing() {
    replayed_on_the_other_instance(Backing::Sqlite).await;
}

async fn replayed_on_the_other_instance(backing: Backing) {
    let c = Cluster::start_on(MockUser::defaults(), backing).await;
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    use reqwest::cookie::CookieStore;

    // Completed on A, replayed on B (the binding cookie replayed too).
    let browser = c.browser();
    let callback = until_callback(&c.a, &browser).await;
    let cookie = browser.jar().cookies(&callback).unwrap();
    let first = plain.get(callback.clone()).header("cookie", cookie.clone()).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::MOVED_PERMANENTLY);
    let counts = c.counts().await;
    assert_eq!(counts, (1, 1, 1, 0));
    let replay = plain.get(on(&c.b, &callback)).header("cookie", cookie).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.headers().get("set-cookie").is_none_or(|v| !v.to_str().unwrap().contains("a_session_")));
    let body: Value = replay.json().await.unwrap();
    assert_eq!(body["type"], "general_bad_request", "{body}");
    assert_eq!(c.counts().await, counts, "nothing written by the replay");

    // One callback fired at both instances at once: exactly one of the twenty wins.
    let browser = c.browser();
    let callback = until_callback(&c.b, &browser).await;
    let cookie = browser.jar().cookies(&callback).unwrap();
    let shots = (0..20)
        .map(|i| {
            let target = if i % 2 == 0 { on(&c.a, &callback) } else { callback.clone() };
            plain.get(target).header("cookie", cookie.clone())
        })
        .collect();
    let (won, refused, statuses) = race_callbacks(shots).await;
    assert_eq!((won, refused), (1, 19), "{statuses:?}");
    assert_eq!(c.counts().await, (1, 1, 2, 0), "one more session for the same user, nothing else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_logins_over_both_instances_make_two_hundred_sessions() {
    const LOGINS: usize = 200;
    const USERS: usize = 20;
    let users = (0..USERS)
        .map(|i| MockUser {
            id: format!("user-{i}"),
            name: format!("User {i}"),
            email: format!("user-{i}@cluster.test"),
            verified: true,
        })
        .collect();
    let c = Arc::new(Cluster::start(users).await);
    // Every login first goes as far as the provider's redirect; then all callbacks are sent at
    // once, so the ten logins of each user (five per instance) race to create its account.
    let ready = Arc::new(tokio::sync::Barrier::new(LOGINS));
    let logins: Vec<_> = (0..LOGINS)
        .map(|i| {
            let (c, ready) = (c.clone(), ready.clone());
            tokio::spawn(async move {
                // Round robin over the instances; every other pair finishes on the other one.
                let (start, finish) = if i % 2 == 0 { (&c.a, &c.b) } else { (&c.b, &c.a) };
                let finish = if (i / 2) % 2 == 0 { start } else { finish };
                let browser = c.browser().answering(FormAnswer::Approve(format!("user-{}", i % USERS)));
                let callback = until_callback(start, &browser).await;
                ready.wait().await;
                let walk = browser.walk(on(finish, &callback)).await.unwrap();
                walk.end.as_str() == format!("{APP}/ok")
            })
        })
        .collect();
    let mut failed = 0;
    for login in logins {
        if !login.await.unwrap() {
            failed += 1;
        }
    }
    assert_eq!(failed, 0, "failed logins");
    assert_eq!(c.counts().await, (USERS as i64, USERS as i64, LOGINS as i64, 0));
    let per_user: Vec<i64> =
        sqlx::query_scalar("SELECT COUNT(*) FROM loginkit_sessions GROUP BY user_id ORDER BY 1")
            .fetch_all(c.postgres())
            .await
            .unwrap();
    assert_eq!(per_user, vec![(LOGINS / USERS) as i64; USERS], "ten sessions for each user");
}

#[tokio::test]
async fn a_postgres_project_needs_a_configured_key_and_database_urls_are_checked() {
    let start = |top: &str, project: &str| {
        let toml = format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n{top}\n[projects.app]\nhostnames = [\"localhost\"]\n{project}",
            temp_dir().display()
        );
        async move {
            Server::bind(Config::from_toml(&toml).unwrap(), |_| None)
                .await
                .map(|_| ())
                .unwrap_err()
                .to_string()
        }
    };
    // Without a key: refused before connecting. With one: the wrong password fails the start,
    // and the message shows the URL without it.
    let postgres = "database_url = \"postgres://loginkit:pw-1234@127.0.0.1:5432/postgres\"";
    let no_key = start("", postgres).await;
    assert!(
        no_key.contains("projects.app.database_url")
            && no_key.contains("key_env")
            && !no_key.contains("pw-1234"),
        "{no_key}"
    );
    let refused = start(&format!("key = \"{}\"", Keys::generate_master()), postgres).await;
    assert!(refused.contains("postgres://loginkit:****@127.0.0.1:5432/postgres"), "{refused}");
    assert!(!refused.contains("pw-1234"), "{refused}");
    let unknown = start("", "database_url = \"mysql://root@127.0.0.1/app\"").await;
    assert!(unknown.contains("projects.app.database_url") && unknown.contains("mysql://"), "{unknown}");
}

/// Refreshes of one account on two instances at once: the account's refresh token goes to the
/// provider once (a claim in the shared database), and both instances answer with its result.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refreshes_of_one_account_on_both_instances_reach_the_provider_once() {
    let c = Arc::new(Cluster::start(MockUser::defaults()).await);
    let browser = c.browser();
    assert_eq!(
        browser.walk(c.a.start_url("sessions", "mock", "")).await.unwrap().end.as_str(),
        format!("{APP}/ok")
    );
    let cookie = session_cookie(&browser, &c.a);
    let exchanges = c.idp.handle().hits(Endpoint::Token);
    c.idp.handle().inject(Endpoint::Token, Fault::Delay(std::time::Duration::from_secs(2)));
    let refreshes: Vec<_> = [true, false, true, false]
        .into_iter()
        .map(|on_a| {
            let (c, cookie) = (c.clone(), cookie.clone());
            tokio::spawn(async move {
                let instance = if on_a { &c.a } else { &c.b };
                api(instance, reqwest::Method::PATCH, "v1/account/sessions/current", &cookie).await
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for refresh in refreshes {
        let (status, session) = refresh.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{session}");
        tokens.push(session["providerAccessToken"].as_str().unwrap().to_owned());
    }
    assert_eq!(c.idp.handle().hits(Endpoint::Token) - exchanges, 1, "one refresh reached the provider");
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "both instances answered with its result: {tokens:?}");
}
