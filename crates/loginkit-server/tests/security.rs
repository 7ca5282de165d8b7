//! The reference server under attack and failure (docs/security.md): rate limiting, provider
//! faults, code injection, races, a failing database and a changed allow-list. Every refusal must
//! leave the database exactly as it was.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{APP, Backing, Harness, error_of, external_mock, race_callbacks, temp_dir, until_callback};
use loginkit_flow::sqlx;
use loginkit_testkit::{Browser, Endpoint, Fault, MockIdp, MockIdpConfig};
use reqwest::StatusCode;
use reqwest::cookie::CookieStore;
use serde_json::Value;

/// A browser allowed to visit the server and the external provider.
fn browser(h: &Harness, idp: &MockIdp) -> Browser {
    Browser::new([h.server.url().clone(), idp.origin()])
}

#[tokio::test]
async fn oauth_routes_are_rate_limited_per_ip_with_appwrites_error() {
    let h = Harness::start_with(temp_dir(), "127.0.0.1:0", "rate_limit = 3", "").await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for _ in 0..3 {
        let response = client.get(h.start_url("sessions", "mock", "")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    }
    let limited = client.get(h.start_url("tokens", "mock", "")).send().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=1200).contains(&retry_after), "{retry_after}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(
        (body["type"].as_str(), body["code"].as_u64()),
        (Some("general_rate_limit_exceeded"), Some(429))
    );
    // Only starts count: a callback and the rest of the API do not.
    let callback = h.url("v1/account/sessions/oauth2/callback/mock/default?code=x&state=y");
    assert_eq!(client.get(callback).send().await.unwrap().status(), StatusCode::BAD_REQUEST);
    let account = client.get(h.url("v1/account")).header("x-appwrite-project", "default").send().await;
    assert_eq!(account.unwrap().status(), StatusCode::UNAUTHORIZED);
}

/// Each provider fault ends the login at the failure URL with a typed error, writing nothing.
#[tokio::test]
async fn provider_faults_become_failure_redirects_and_write_nothing() {
    let idp = MockIdp::start().await.unwrap();
    let h = Harness::start_with(temp_dir(), "127.0.0.1:0", "provider_timeout_secs = 1", &external_mock(&idp))
        .await;
    let error = |description: &str| Fault::ErrorWith200 {
        error: "invalid_grant".into(),
        description: Some(description.into()),
    };
    let faults = [
        (Endpoint::Token, Fault::Delay(Duration::from_secs(3)), "timeout"),
        (
            Endpoint::Token,
            Fault::Status { status: 503, content_type: "text/html".into(), body: "<h1>down</h1>".into() },
            "5xx",
        ),
        (Endpoint::Token, Fault::Garbage, "malformed JSON"),
        (Endpoint::Token, Fault::Oversized { bytes: 10 * 1024 * 1024 }, "10 MB body"),
        (Endpoint::Token, Fault::Redirect { location: format!("{}token", idp.origin()) }, "HTTP redirect"),
        (Endpoint::Token, error("expired"), "error with HTTP 200"),
        (Endpoint::Token, Fault::MissingAccessToken, "token without access_token"),
        (Endpoint::UserInfo, Fault::Garbage, "user info malformed"),
        (Endpoint::UserInfo, Fault::Delay(Duration::from_secs(3)), "user info timeout"),
        (
            Endpoint::UserInfo,
            Fault::Status { status: 500, content_type: "application/json".into(), body: "{}".into() },
            "user info 5xx",
        ),
    ];
    for (endpoint, fault, what) in faults {
        idp.handle().inject(endpoint, fault);
        let walk = browser(&h, &idp).walk(h.start_url("sessions", "mock", "")).await.unwrap();
        assert_eq!(walk.end.as_str().split('?').next(), Some(format!("{APP}/fail").as_str()), "{what}");
        let error = error_of(&walk);
        assert!(error["type"].as_str().is_some_and(|t| t.starts_with("user_oauth2")), "{what}: {error}");
        assert!(error["code"].as_u64().is_some(), "{what}: {error}");
        assert_eq!(h.counts().await, (0, 0, 0, 0), "{what}: nothing written");
    }
    // The redirect was never followed: the token endpoint saw one request per fault, no more.
    assert_eq!(idp.handle().hits(Endpoint::Token), 10);
    // And the provider works again afterwards.
    let walk = browser(&h, &idp).walk(h.start_url("sessions", "mock", "")).await.unwrap();
    assert_eq!(walk.end.as_str(), format!("{APP}/ok"));
}

#[tokio::test]
async fn an_unreachable_provider_is_a_failure_redirect() {
    // A port nothing listens on: connection refused at the code exchange.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let idp = MockIdp::start().await.unwrap();
    let extra = format!(
        "[projects.default.providers.oidc]\nclient_id = \"1\"\nclient_secret = \"123456\"\nparams = {{ authorization_url = \"{}\", token_url = \"http://127.0.0.1:{port}/token\", userinfo_url = \"{}\" }}",
        idp.url("authorize"),
        idp.url("user")
    );
    let h = Harness::start(&extra).await;
    let walk = browser(&h, &idp).walk(h.start_url("sessions", "oidc", "")).await.unwrap();
    assert!(walk.end.as_str().starts_with(&format!("{APP}/fail")), "{}", walk.end);
    assert_eq!(error_of(&walk)["type"], "user_oauth2_provider_failure");
    assert_eq!(h.counts().await, (0, 0, 0, 0));
}

#[tokio::test]
async fn a_code_from_another_provider_fails_and_the_pkce_verifier_stays_on_the_server() {
    let idp = MockIdp::start().await.unwrap();
    let h = Harness::start(&external_mock(&idp)).await;
    // A login at the built-in provider stopped at its callback...
    let victim = h.browser();
    let callback = until_callback(&h, &victim, "mock-unverified").await;
    // ...and a code the attacker obtained from the external provider.
    let attacker = browser(&h, &idp).stopping_before("/v1/account/sessions/oauth2/callback/");
    let other = attacker.walk(h.start_url("sessions", "mock", "")).await.unwrap().end;
    let stolen = other.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let injected: Vec<(String, String)> =
        callback
            .query_pairs()
            .map(|(k, v)| {
                if k == "code" { (k.into_owned(), stolen.clone()) } else { (k.into_owned(), v.into_owned()) }
            })
            .collect();
    let mut url = callback.clone();
    url.query_pairs_mut().clear().extend_pairs(injected);
    let walk = victim.walk(url).await.unwrap();
    assert!(walk.end.as_str().starts_with(&format!("{APP}/fail")), "{}", walk.end);
    assert_eq!(h.counts().await, (0, 0, 0, 0));
    // Responses (the callback's included) forbid passing their URL on in a Referer.
    let bounced = victim.client().get(callback).send().await.unwrap();
    assert_eq!(bounced.headers()["referrer-policy"], "no-referrer");

    // The verifier the server sent to the token endpoint never reached the browser: not in the
    // authorize redirect, the state, the callback URL or any cookie.
    let browser = browser(&h, &idp);
    let walk = browser.walk(h.start_url("sessions", "mock", "")).await.unwrap();
    assert_eq!(walk.end.as_str(), format!("{APP}/ok"));
    let sent = idp.handle().last_token_request().unwrap();
    let verifier = sent.form_value("code_verifier").expect("PKCE was used").to_owned();
    assert!(verifier.len() >= 43);
    for hop in &walk.hops {
        assert!(!hop.url.as_str().contains(&verifier), "{}", hop.url);
    }
    let cookies = browser.jar().cookies(h.server.url()).map(|c| c.to_str().unwrap().to_owned());
    assert!(!cookies.unwrap_or_default().contains(&verifier));
}

/// Each race, on each database: `sqlite_<race>` and `postgres_<race>`.
macro_rules! on_both_databases {
    ($($race:ident),* $(,)?) => {
        $(
            mod $race {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$race(super::Backing::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    super::$race(super::Backing::Postgres).await;
                }
            }
        )*
    };
}

on_both_databases!(
    one_callback_fired_twenty_times_at_once_makes_one_session,
    fifty_concurrent_logins_of_one_user_end_at_the_session_limit,
    two_providers_racing_for_one_verified_email_make_one_account,
);

async fn one_callback_fired_twenty_times_at_once_makes_one_session(backing: Backing) {
    let h = Arc::new(Harness::start_on(backing, "rate_limit = 0", "").await);
    let browser = h.browser();
    let callback = until_callback(&h, &browser, "mock").await;
    let cookie = browser.jar().cookies(&callback).unwrap();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let shots = (0..20).map(|_| client.get(callback.clone()).header("cookie", cookie.clone())).collect();
    let (won, refused, statuses) = race_callbacks(shots).await;
    assert_eq!((won, refused), (1, 19), "{statuses:?}");
    assert_eq!(h.counts().await, (1, 1, 1, 0));
}

async fn fifty_concurrent_logins_of_one_user_end_at_the_session_limit(backing: Backing) {
    let h = Arc::new(Harness::start_on(backing, "rate_limit = 0", "").await);
    let logins: Vec<_> = (0..50)
        .map(|_| {
            let h = h.clone();
            tokio::spawn(async move { h.login(&h.browser(), "mock").await.end })
        })
        .collect();
    for login in logins {
        assert_eq!(login.await.unwrap().as_str(), format!("{APP}/ok"));
    }
    assert_eq!(h.counts().await, (1, 1, 10, 0), "one user, one identity, the limit of 10 sessions");
}

async fn two_providers_racing_for_one_verified_email_make_one_account(backing: Backing) {
    // The built-in provider and an external one report the same verified email for user 1.
    let other = MockIdp::start_with(MockIdpConfig::default()).await.unwrap();
    let extra = common::oidc_at(&other);
    for _ in 0..5 {
        let h = Arc::new(Harness::start_on(backing, "rate_limit = 0", &extra).await);
        let racers: Vec<_> = ["mock", "oidc"]
            .into_iter()
            .map(|provider| {
                let (h, browser) = (h.clone(), browser(&h, &other));
                tokio::spawn(async move { h.login(&browser, provider).await.end })
            })
            .collect();
        let mut ends = Vec::new();
        for racer in racers {
            ends.push(racer.await.unwrap());
        }
        assert!(ends.iter().all(|end| end.as_str() == format!("{APP}/ok")), "{ends:?}");
        let (users, identities, sessions, _) = h.counts().await;
        assert_eq!((users, identities, sessions), (1, 2, 2), "one account with both identities");
    }
}

#[tokio::test]
async fn a_failing_database_rolls_the_callback_back_and_the_server_recovers() {
    let h = Harness::start("").await;
    let db = h.db().await;
    // The session insert fails, after the user and identity rows were written in the same
    // transaction.
    sqlx::query("CREATE TABLE fault (on_insert INTEGER)").execute(&db).await.unwrap();
    sqlx::query("INSERT INTO fault VALUES (1)").execute(&db).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER fail_sessions BEFORE INSERT ON loginkit_sessions \
         WHEN EXISTS (SELECT 1 FROM fault) BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    )
    .execute(&db)
    .await
    .unwrap();
    let browser = h.browser();
    let callback = until_callback(&h, &browser, "mock").await;
    let response = browser.client().get(callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "general_server_error");
    assert!(!body["message"].as_str().unwrap().contains("injected"), "no database detail leaks");
    assert_eq!(h.counts().await, (0, 0, 0, 0), "user and identity rolled back");

    sqlx::query("DELETE FROM fault").execute(&db).await.unwrap();
    let walk = h.login(&h.browser(), "mock").await;
    assert_eq!(walk.end.as_str(), format!("{APP}/ok"));
    assert_eq!(h.counts().await, (1, 1, 1, 0));
}

#[tokio::test]
async fn success_urls_are_checked_again_at_the_callback() {
    let dir = temp_dir();
    let trusting = "hostnames = [\"localhost\", \"partner.example\"]";
    // A login started while partner.example was allowed...
    let h = start_with_hosts(dir.clone(), "127.0.0.1:0", trusting).await;
    let port = h.server.url().port().unwrap();
    let browser =
        Browser::new([h.server.url().clone()]).stopping_before("/v1/account/sessions/oauth2/callback/");
    let start = h.url("v1/account/sessions/oauth2/mock?project=default&success=https://partner.example/ok&failure=https://partner.example/fail");
    let callback = browser.walk(start).await.unwrap().end;
    assert!(callback.path().starts_with("/v1/account/sessions/oauth2/callback/"), "{callback}");
    h.server.stop().await;
    // ...and finished, by the browser that started it (its binding cookie is good), after the host
    // was removed from the project.
    let h = start_with_hosts(dir, &format!("127.0.0.1:{port}"), "hostnames = [\"localhost\"]").await;
    let response = browser.client().get(callback).send().await.unwrap();
    assert!(response.headers().get("location").is_none(), "never redirected to the removed host");
    let (status, body) = common::status_and_json(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["type"], "project_invalid_success_url", "refused for its success URL: {body}");
    assert_eq!(h.counts().await, (0, 0, 0, 0));
}

/// A server whose project `default` has exactly the hostnames line `hosts`.
async fn start_with_hosts(dir: std::path::PathBuf, listen: &str, hosts: &str) -> Harness {
    let toml = format!(
        "listen = \"{listen}\"\ndata_dir = \"{}\"\nmock_idp = true\n[projects.default]\n{hosts}\n",
        dir.display()
    );
    let config = loginkit_server::Config::from_toml(&toml).expect("test config");
    let server = loginkit_server::Server::bind(config, |_| None).await.expect("server starts").spawn();
    Harness { server, dir, postgres: None }
}
