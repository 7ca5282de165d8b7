//! The reference server over real loopback HTTP: every route and rule of the account OAuth2 API,
//! driven by a cookie-keeping client through the built-in mock provider's login form.

mod common;

use common::{APP, Harness, error_of, temp_dir, until_callback};
use loginkit_flow::sqlx;
use loginkit_server::{Config, Server};
use loginkit_testkit::{Browser, FormAnswer, MockIdp, MockIdpConfig};
use reqwest::StatusCode;
use reqwest::cookie::CookieStore;
use serde_json::Value;
use url::Url;

#[tokio::test]
async fn session_flow_sets_cookies_and_the_session_carries_provider_fields() {
    let h = Harness::start("").await;
    let browser = h.browser();
    let walk = h.login(&browser, "mock").await;
    assert_eq!(walk.end.as_str(), format!("{APP}/ok"));
    assert_eq!(walk.status, StatusCode::MOVED_PERMANENTLY);
    let (status, session) = h.get(&browser, "v1/account/sessions/current").await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["provider"], "mock");
    assert_eq!(session["providerUid"], "1");
    assert_eq!(session["current"], true);
    assert!(session["providerAccessToken"].as_str().unwrap().len() > 10);
    assert!(session["providerRefreshToken"].as_str().unwrap().len() > 10);
    assert!(session["providerAccessTokenExpiry"].as_str().unwrap() > session["$createdAt"].as_str().unwrap());
    let (_, account) = h.get(&browser, "v1/account").await;
    assert_eq!(account["email"], "useroauth@localhost.test");
    assert_eq!(account["emailVerification"], true);
    assert_eq!(account["name"], "User Name");
    assert_eq!(h.counts().await, (1, 1, 1, 0));
    // Tokens are sealed at rest: the database never holds the access token in clear.
    let stored: String = sqlx::query_scalar("SELECT access_token FROM loginkit_sessions")
        .fetch_one(&h.db().await)
        .await
        .unwrap();
    assert!(!stored.contains(session["providerAccessToken"].as_str().unwrap()));
}

#[tokio::test]
async fn token_flow_secret_makes_one_session_once() {
    let h = Harness::start("").await;
    let browser = h.browser();
    let walk = browser.walk(h.start_url("tokens", "mock", "")).await.unwrap();
    let (user_id, secret) = (walk.param("userId").unwrap(), walk.param("secret").unwrap());
    assert_eq!(walk.end.path(), "/ok");
    assert_eq!(h.counts().await, (1, 1, 0, 1), "no session before the exchange");
    let exchange = || async {
        Browser::new([h.server.url().clone()])
            .client()
            .post(h.url("v1/account/sessions/token"))
            .header("x-appwrite-project", "default")
            .json(&serde_json::json!({ "userId": user_id, "secret": secret }))
            .send()
            .await
            .unwrap()
    };
    let first = exchange().await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let fallback = first.headers()["x-fallback-cookies"].to_str().unwrap().to_owned();
    let cookies: Vec<_> =
        first.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(cookies.iter().any(|c| c.starts_with("a_session_default=")));
    assert!(cookies.iter().any(|c| c.starts_with("a_session_default_legacy=")));
    let session: Value = first.json().await.unwrap();
    assert_eq!(session["provider"], "mock");
    assert_eq!(session["secret"], "", "the secret is never in the body");
    // The fallback header alone authenticates (what the SDK replays cross-site).
    let current = reqwest::Client::new()
        .get(h.url("v1/account/sessions/current"))
        .header("x-appwrite-project", "default")
        .header("x-fallback-cookies", &fallback)
        .send()
        .await
        .unwrap();
    assert_eq!(current.status(), StatusCode::OK);
    let second = exchange().await;
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["type"], "user_invalid_token");
    assert_eq!(h.counts().await, (1, 1, 1, 0));
}

#[tokio::test]
async fn provider_error_goes_to_the_failure_url_with_appwrite_error_json() {
    let h = Harness::start("").await;
    let browser = h.browser().answering(FormAnswer::Deny);
    let walk = h.login(&browser, "mock").await;
    assert_eq!(walk.end.path(), "/fail");
    let error = error_of(&walk);
    assert_eq!(error["type"], "user_oauth2_provider_error");
    assert_eq!(error["code"], 424);
    assert!(error["message"].as_str().unwrap().contains("access_denied"));
    assert_eq!(h.counts().await, (0, 0, 0, 0));
}

#[tokio::test]
async fn start_rules_disabled_unsupported_bad_urls_and_scope_limits() {
    let h = Harness::start("").await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let check = |url: Url, status: u16, kind: &'static str| {
        let client = client.clone();
        async move {
            let response = client.get(url.clone()).send().await.unwrap();
            assert_eq!(response.status().as_u16(), status, "{url}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["type"], kind, "{url}");
            assert!(body["message"].is_string() && body["version"].is_string());
        }
    };
    check(h.start_url("sessions", "github", ""), 412, "project_provider_disabled").await;
    check(h.start_url("sessions", "nope", ""), 400, "project_provider_unsupported").await;
    for bad in ["https://evil.test/", "https://localhost@evil.test/", "javascript:alert(1)", "//evil.test"] {
        let url = h.url(&format!(
            "v1/account/sessions/oauth2/mock?project=default&success={}",
            form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>()
        ));
        check(url, 400, "general_argument_invalid").await;
    }
    check(
        h.url("v1/account/sessions/oauth2/mock?project=default&failure=https://evil.test/"),
        400,
        "general_argument_invalid",
    )
    .await;
    let many: String = (0..101).map(|i| format!("&scopes%5B{i}%5D=s{i}")).collect();
    check(h.start_url("sessions", "mock", &many), 400, "general_argument_invalid").await;
    let long = format!("&scopes[]={}", "a".repeat(4097));
    check(h.start_url("sessions", "mock", &long), 400, "general_argument_invalid").await;
    check(h.url("v1/account/sessions/oauth2/mock?project=nope"), 404, "project_not_found").await;
    // 100 scopes in the SDK's shape are fine, and custom scopes follow the defaults.
    let hundred: String = (0..100).map(|i| format!("&scopes%5B{i}%5D=s{i}")).collect();
    let response = client.get(h.start_url("sessions", "mock", &hundred)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let scope = location.query_pairs().find(|(k, _)| k == "scope").unwrap().1.into_owned();
    assert!(scope.starts_with("email s0 s1 "), "{scope}");
    assert_eq!(response.headers()["cache-control"], "no-store, no-cache, must-revalidate, max-age=0");
    assert_eq!(h.counts().await, (0, 0, 0, 0));
}

#[tokio::test]
async fn session_limit_evicts_the_oldest() {
    let h = Harness::start("session_limit = 2").await;
    let browsers: Vec<Browser> = (0..3).map(|_| h.browser()).collect();
    for browser in &browsers {
        assert_eq!(h.login(browser, "mock").await.end.path(), "/ok");
    }
    assert_eq!(h.counts().await.2, 2);
    assert_eq!(
        h.get(&browsers[0], "v1/account").await.0,
        StatusCode::UNAUTHORIZED,
        "the oldest session is gone"
    );
    let (status, list) = h.get(&browsers[2], "v1/account/sessions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 2);
}

#[tokio::test]
async fn verified_email_links_and_unverified_email_is_refused() {
    // A second provider (`oidc`) backed by another mock provider whose user 1 has the same
    // verified email as the built-in one's.
    let other = MockIdp::start_with(MockIdpConfig::default()).await.unwrap();
    let extra = common::oidc_at(&other);
    let h = Harness::start(&extra).await;
    let first = h.browser();
    assert_eq!(h.login(&first, "mock").await.end.path(), "/ok");

    // mock-unverified reports the same email, unverified: refused, nothing written.
    let before = h.counts().await;
    let walk = h.login(&h.browser(), "mock-unverified").await;
    assert_eq!(walk.end.path(), "/fail");
    assert_eq!(error_of(&walk)["type"], "general_bad_request");
    assert_eq!(h.counts().await, before);

    // A fresh browser signing in with oidc (verified, same email) lands on the same user.
    let second = Browser::new([h.server.url().clone(), other.origin()]);
    let walk = h.login(&second, "oidc").await;
    assert_eq!(walk.end.path(), "/ok", "{:?}", walk.param("error"));
    let (_, a) = h.get(&first, "v1/account").await;
    let (_, b) = h.get(&second, "v1/account").await;
    assert_eq!(a["$id"], b["$id"]);
    let (_, identities) = h.get(&second, "v1/account/identities").await;
    assert_eq!(identities["total"], 2);
    assert_eq!(h.counts().await.0, 1);
}

#[tokio::test]
async fn refresh_identities_and_deletes() {
    let h = Harness::start("").await;
    let browser = h.browser();
    h.login(&browser, "mock").await;
    let (_, before) = h.get(&browser, "v1/account/sessions/current").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (status, after) = h.api(&browser, reqwest::Method::PATCH, "v1/account/sessions/current").await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_ne!(after["providerAccessToken"], before["providerAccessToken"]);
    assert!(after["expire"].as_str().unwrap() > before["expire"].as_str().unwrap());
    assert!(
        after["providerAccessTokenExpiry"].as_str().unwrap()
            > before["providerAccessTokenExpiry"].as_str().unwrap()
    );
    let (_, identities) = h.get(&browser, "v1/account/identities").await;
    assert_eq!(
        identities["identities"][0]["providerAccessToken"], after["providerAccessToken"],
        "the identity is refreshed too"
    );
    assert_eq!(
        identities["identities"][0]["providerIdToken"], "",
        "a string even without an ID token (SDK 28)"
    );
    let identity = identities["identities"][0]["$id"].as_str().unwrap().to_owned();

    // A second session for the same user; delete it by id, then all.
    let other = h.browser();
    h.login(&other, "mock").await;
    let (_, other_session) = h.get(&other, "v1/account/sessions/current").await;
    let id = other_session["$id"].as_str().unwrap();
    let (_, seen) = h.get(&browser, &format!("v1/account/sessions/{id}")).await;
    assert_eq!(seen["current"], false);
    assert_eq!(
        h.api(&browser, reqwest::Method::DELETE, &format!("v1/account/sessions/{id}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(h.get(&other, "v1/account").await.0, StatusCode::UNAUTHORIZED);
    let (status, missing) = h.get(&browser, &format!("v1/account/sessions/{id}")).await;
    assert_eq!((status, missing["type"].as_str()), (StatusCode::NOT_FOUND, Some("user_session_not_found")));

    let (status, body) = h.api(&browser, reqwest::Method::DELETE, "v1/account/identities/nope").await;
    assert_eq!((status, body["type"].as_str()), (StatusCode::NOT_FOUND, Some("user_identity_not_found")));
    assert_eq!(
        h.api(&browser, reqwest::Method::DELETE, &format!("v1/account/identities/{identity}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(h.get(&browser, "v1/account/identities").await.1["total"], 0);

    assert_eq!(
        h.api(&browser, reqwest::Method::DELETE, "v1/account/sessions").await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = h.get(&browser, "v1/account/sessions/current").await;
    assert_eq!(
        (status, body["type"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("general_unauthorized_scope"))
    );
    assert_eq!(h.counts().await.2, 0);
}

#[tokio::test]
async fn signed_in_browser_links_a_second_provider_to_its_user() {
    let h = Harness::start("").await;
    let browser = h.browser();
    h.login(&browser, "mock").await;
    let (_, user) = h.get(&browser, "v1/account").await;
    // mock-unverified would be refused by email, but a signed-in user links it to themselves.
    assert_eq!(h.login(&browser, "mock-unverified").await.end.path(), "/ok");
    let (_, after) = h.get(&browser, "v1/account").await;
    assert_eq!(user["$id"], after["$id"]);
    assert_eq!(h.get(&browser, "v1/account/identities").await.1["total"], 2);
    assert_eq!(h.counts().await.2, 1, "the new session replaced the old one");
}

#[tokio::test]
async fn linking_another_users_provider_account_is_refused_and_changes_nothing() {
    let h = Harness::start("").await;
    let owner = h.browser().answering(FormAnswer::Approve("2".into()));
    assert_eq!(h.login(&owner, "mock").await.end.path(), "/ok");
    let other = h.browser();
    assert_eq!(h.login(&other, "mock").await.end.path(), "/ok");
    let identity = || async {
        sqlx::query_as::<_, (String, String, i64)>(
            "SELECT user_id, access_token, updated_at FROM loginkit_identities
             WHERE provider = 'mock' AND provider_uid = '2'",
        )
        .fetch_one(&h.db().await)
        .await
        .unwrap()
    };
    let (before, counts) = (identity().await, h.counts().await);
    // Signed in as the other user, the browser tries to link the owner's provider account.
    let walk = h.login(&other.clone().answering(FormAnswer::Approve("2".into())), "mock").await;
    assert_eq!(walk.end.path(), "/fail");
    assert_eq!(error_of(&walk)["type"], "user_already_exists");
    // The login exchanged new provider tokens, but the owner's identity keeps its own.
    assert_eq!(identity().await, before);
    assert_eq!(h.counts().await, counts);
    assert_eq!(h.get(&other, "v1/account").await.1["email"], "useroauth@localhost.test", "still signed in");
}

#[tokio::test]
async fn bad_states_are_refused_and_nothing_is_written() {
    let h = Harness::start("").await;
    // Tampered.
    let browser = h.browser();
    let callback = until_callback(&h, &browser, "mock").await;
    let mut tampered = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            if k == "state" {
                {
                    // Change the first character to another one (a fixed replacement would leave
                    // a state that happens to start with it untouched).
                    let first = if v.starts_with('A') { 'B' } else { 'A' };
                    (k.into_owned(), format!("{first}{}", &v[1..]))
                }
            } else {
                (k.into_owned(), v.into_owned())
            }
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    refused(browser.client().get(tampered).send().await.unwrap()).await;
    // Another browser (no binding cookie): login CSRF.
    let message = refused(h.browser().client().get(callback.clone()).send().await.unwrap()).await;
    assert!(message.contains("browser"), "{message}");
    // Another project or provider.
    let mut foreign = callback.clone();
    foreign.set_path("/v1/account/sessions/oauth2/callback/mock/other");
    refused(browser.client().get(foreign).send().await.unwrap()).await;
    let mut swapped = callback.clone();
    swapped.set_path("/v1/account/sessions/oauth2/callback/mock-unverified/default");
    refused(browser.client().get(swapped).send().await.unwrap()).await;
    assert_eq!(h.counts().await, (0, 0, 0, 0));
    // The genuine callback works once; a replay, even with the binding cookie, is refused.
    let binding = browser.jar().cookies(&callback).expect("the binding cookie");
    let first = browser.client().get(callback.clone()).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::MOVED_PERMANENTLY);
    let replay = reqwest::Client::new().get(callback).header("cookie", binding).send().await.unwrap();
    let message = refused(replay).await;
    assert!(message.contains("used"), "{message}");
    assert_eq!(h.counts().await, (1, 1, 1, 0));
    // No state at all.
    refused(
        h.browser()
            .client()
            .get(h.url("v1/account/sessions/oauth2/callback/mock/default?code=x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
}

async fn refused(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "general_bad_request");
    body["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn expired_state_is_refused() {
    let h = Harness::start("state_lifetime_secs = 1").await;
    let late = h.browser();
    let callback = until_callback(&h, &late, "mock").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let message = refused(late.client().get(callback).send().await.unwrap()).await;
    assert!(message.contains("expired"), "{message}");
    assert_eq!(h.counts().await, (0, 0, 0, 0));
}

#[tokio::test]
async fn form_post_callback_is_bounced_to_get_with_its_fields() {
    let h = Harness::start("").await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = client
        .post(h.url("v1/account/sessions/oauth2/callback/apple/default"))
        .form(&[("code", "c"), ("state", "s"), ("user", "{\"name\":{\"firstName\":\"A\"}}")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = h.url(response.headers()["location"].to_str().unwrap());
    assert_eq!(location.path(), "/v1/account/sessions/oauth2/callback/apple/default");
    let fields: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert_eq!(fields[2], ("user".into(), "{\"name\":{\"firstName\":\"A\"}}".into()));
}

#[tokio::test]
async fn cors_preflight_allows_the_sdk_headers_for_allowed_origins_only() {
    let h = Harness::start("").await;
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, h.url("v1/account/sessions/current"))
            .header("origin", origin)
            .header("access-control-request-method", "PATCH")
            .header(
                "access-control-request-headers",
                "content-type,x-appwrite-project,x-fallback-cookies,x-sdk-version",
            )
            .send()
    };
    let ok = preflight("http://127.0.0.1:5173").await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], "http://127.0.0.1:5173");
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    assert!(ok.headers()["access-control-allow-methods"].to_str().unwrap().contains("PATCH"));
    assert!(ok.headers()["access-control-allow-headers"].to_str().unwrap().contains("x-fallback-cookies"));
    let evil = preflight("https://evil.test").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_login_started_before_a_restart_completes_after_it() {
    // The provider runs outside the server, as a real one would.
    let idp = MockIdp::start().await.unwrap();
    let extra = common::external_mock(&idp);
    let dir = temp_dir();
    let h = Harness::start_in(dir.clone(), "127.0.0.1:0", &extra).await;
    let port = h.server.url().port().unwrap();
    let browser = Browser::new([h.server.url().clone()]);
    let walk = browser.walk(h.start_url("sessions", "mock", "")).await.unwrap();
    assert_eq!(walk.end.origin(), idp.origin().origin(), "stopped at the provider");
    // The provider approves at once and redirects to the callback; stop before visiting it.
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(walk.end)
        .send()
        .await
        .unwrap();
    let callback = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    h.server.stop().await;
    let h = Harness::start_in(dir, &format!("127.0.0.1:{port}"), &extra).await;
    let done = browser.walk(callback).await.unwrap();
    assert_eq!(done.end.as_str(), format!("{APP}/ok"));
    assert_eq!(h.get(&browser, "v1/account").await.1["email"], "useroauth@localhost.test");
}

#[tokio::test]
async fn demo_page_lists_the_providers() {
    let h = Harness::start("").await;
    let page = reqwest::get(h.url("")).await.unwrap().text().await.unwrap();
    assert!(page.contains("\"id\":\"mock\""), "{page}");
    assert!(page.contains("/v1/account/sessions/oauth2/"));
}

#[tokio::test]
async fn bad_configurations_are_refused_with_the_setting_named() {
    let start = |provider: &'static str| async move {
        let toml = format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n[projects.app]\nhostnames = [\"localhost\"]\n{provider}",
            temp_dir().display()
        );
        Server::bind(Config::from_toml(&toml).unwrap(), |_| None).await.map(|_| ()).unwrap_err().to_string()
    };
    let unknown = start("[projects.app.providers.gitbub]\nclient_id = \"x\"\nclient_secret = \"y\"").await;
    assert!(unknown.contains("projects.app.providers.gitbub") && unknown.contains("github"), "{unknown}");
    let no_env =
        start("[projects.app.providers.github]\nclient_id = \"x\"\nclient_secret_env = \"NOPE_SECRET\"")
            .await;
    assert!(no_env.contains("NOPE_SECRET"), "{no_env}");
    let missing_key = start("[projects.app.providers.okta]\nclient_id = \"x\"\nclient_secret = \"y\"").await;
    assert!(
        missing_key.contains("projects.app.providers.okta") && missing_key.contains("domain"),
        "{missing_key}"
    );
    let bad_url = start(
        "[projects.app.providers.github]\nclient_id = \"x\"\nclient_secret = \"y\"\nbase_url = \"ftp://x\"",
    )
    .await;
    assert!(bad_url.contains("base_url"), "{bad_url}");
}

#[tokio::test]
async fn x_appwrite_session_header_authenticates() {
    let h = Harness::start("").await;
    let browser = h.browser();
    h.login(&browser, "mock").await;
    let cookie = browser.jar().cookies(&h.url("v1/account")).unwrap();
    let value = cookie
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|c| c.strip_prefix("a_session_default="))
        .expect("the session cookie")
        .to_owned();
    let with_header = |value: String| {
        reqwest::Client::new()
            .get(h.url("v1/account"))
            .header("x-appwrite-project", "default")
            .header("x-appwrite-session", value)
            .send()
    };
    assert_eq!(with_header(value.clone()).await.unwrap().status(), StatusCode::OK);
    assert_eq!(with_header(format!("{value}x")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_email_reported_by_a_linked_identity_never_attracts_another_login() {
    // The victim's address, verified at the victim's own provider.
    let victim_email = "useroauthunverified@localhost.test";
    let idp = MockIdp::start_with(MockIdpConfig {
        users: vec![loginkit_testkit::MockUser {
            id: "9".into(),
            name: "Victim".into(),
            email: victim_email.into(),
            verified: true,
        }],
        ..MockIdpConfig::default()
    })
    .await
    .unwrap();
    let extra = common::oidc_at(&idp);
    let h = Harness::start(&extra).await;
    // The attacker signs in, then links an identity reporting the victim's address, unverified.
    let attacker = h.browser();
    h.login(&attacker, "mock").await;
    let linking = attacker.clone().answering(FormAnswer::Approve("2".into()));
    assert_eq!(h.login(&linking, "mock-unverified").await.end.path(), "/ok");
    // The victim signs in with a provider that verified the address: a separate account.
    let victim = Browser::new([h.server.url().clone(), idp.origin()]);
    assert_eq!(h.login(&victim, "oidc").await.end.path(), "/ok");
    let (_, a) = h.get(&attacker, "v1/account").await;
    let (_, v) = h.get(&victim, "v1/account").await;
    assert_ne!(a["$id"], v["$id"]);
    assert_eq!(v["email"], victim_email);
    assert_eq!(h.get(&attacker, "v1/account/identities").await.1["total"], 2);
}

#[tokio::test]
async fn token_exchange_refuses_forms_and_foreign_origins() {
    let h = Harness::start("").await;
    let post = |body: reqwest::RequestBuilder| async move {
        let response = body.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        (status, body["type"].as_str().unwrap_or_default().to_owned())
    };
    let client = reqwest::Client::new();
    let url = h.url("v1/account/sessions/token?project=default");
    let form = client.post(url.clone()).form(&[("userId", "u"), ("secret", "s")]);
    assert_eq!(post(form).await, (StatusCode::BAD_REQUEST, "general_argument_invalid".into()));
    let foreign = client
        .post(url.clone())
        .header("origin", "https://evil.test")
        .json(&serde_json::json!({"userId": "u", "secret": "s"}));
    assert_eq!(post(foreign).await, (StatusCode::FORBIDDEN, "general_unknown_origin".into()));
    let allowed = client
        .post(url)
        .header("origin", "http://localhost:3000")
        .json(&serde_json::json!({"userId": "u", "secret": "s"}));
    assert_eq!(post(allowed).await, (StatusCode::UNAUTHORIZED, "user_invalid_token".into()));
}

#[tokio::test]
async fn logins_that_could_not_finish_are_refused_at_the_start() {
    // A default success URL off the allow-list is a configuration error: the server does not start.
    let config = Config::from_toml(&format!(
        "data_dir = \"{}\"\n[projects.app]\nhostnames = [\"localhost\"]\nsuccess_url = \"https://elsewhere.test/\"",
        temp_dir().display()
    ))
    .unwrap();
    let Err(refused) = Server::bind(config, |_| None).await else { panic!("started") };
    let refused = refused.to_string();
    assert!(refused.contains("projects.app.success_url") && refused.contains("elsewhere.test"), "{refused}");
    let h = Harness::start("").await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // Two long URLs that would make the state too long to come back.
    let long = format!("{APP}/{}", "a".repeat(1800));
    let url =
        h.url(&format!("v1/account/sessions/oauth2/mock?project=default&success={long}&failure={long}"));
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(h.counts().await, (0, 0, 0, 0));
}

#[tokio::test]
async fn a_project_can_close_sign_up_restrict_email_domains_and_block_users() {
    // Sign-up closed: a new person's login ends at the failure URL, nothing written.
    let h = Harness::start("signup = false").await;
    let walk = h.login(&h.browser(), "mock").await;
    assert_eq!(walk.end.path(), "/fail");
    let error = error_of(&walk);
    assert_eq!((error["type"].as_str(), error["code"].as_u64()), (Some("user_count_exceeded"), Some(400)));
    assert_eq!(h.counts().await, (0, 0, 0, 0));

    // Allowed domains: the verified address of `mock` is in; the same domain unverified is not.
    let h = Harness::start("allowed_email_domains = [\"LOCALHOST.test\"]").await;
    let walk = h.login(&h.browser(), "mock-unverified").await;
    assert_eq!(error_of(&walk)["type"], "user_email_not_whitelisted");
    assert_eq!(h.counts().await, (0, 0, 0, 0));
    assert_eq!(h.login(&h.browser(), "mock").await.end.path(), "/ok");
    let h = Harness::start("allowed_email_domains = [\"corp.test\"]").await;
    assert_eq!(error_of(&h.login(&h.browser(), "mock").await)["type"], "user_email_not_whitelisted");
    let refused = Config::from_toml(&format!(
        "data_dir = \"{}\"\n[projects.x]\nallowed_email_domains = [\"@corp.test\"]",
        temp_dir().display()
    ))
    .unwrap();
    let Err(refused) = Server::bind(refused, |_| None).await else { panic!("an address is not a domain") };
    let refused = refused.to_string();
    assert!(refused.contains("projects.x.allowed_email_domains"), "{refused}");

    // A blocked user: sessions already out are refused, and so is a new login; nothing written.
    let dir = temp_dir();
    let before = Harness::start_in(dir.clone(), "127.0.0.1:0", "").await;
    let browser = before.browser();
    before.login(&browser, "mock").await;
    let (_, account) = before.get(&browser, "v1/account").await;
    let id = account["$id"].as_str().unwrap().to_owned();
    let cookie = browser.jar().cookies(&before.url("v1/account")).unwrap();
    let value =
        cookie.to_str().unwrap().split("; ").find_map(|c| c.strip_prefix("a_session_default=")).unwrap();
    let value = value.to_owned();
    let counts = before.counts().await;
    drop(before);
    let h = Harness::start_in(dir, "127.0.0.1:0", &format!("blocked_users = [\"{id}\"]")).await;
    let answer = reqwest::Client::new()
        .get(h.url("v1/account"))
        .header("x-appwrite-project", "default")
        .header("x-appwrite-session", &value)
        .send()
        .await
        .unwrap();
    let (status, body) = common::status_and_json(answer).await;
    assert_eq!((status, body["type"].as_str()), (StatusCode::UNAUTHORIZED, Some("user_blocked")));
    let walk = h.login(&h.browser(), "mock").await;
    assert_eq!(error_of(&walk)["type"], "user_blocked");
    assert_eq!(h.counts().await, counts);
}

#[tokio::test]
async fn signing_out_revokes_the_provider_tokens_unless_the_project_keeps_them() {
    let auto = || MockIdp::start_with(MockIdpConfig { auto_approve: true, ..MockIdpConfig::default() });
    let idp = auto().await.unwrap();
    let h = Harness::start(&common::external_mock(&idp)).await;
    let browser = Browser::new([h.server.url().clone(), idp.origin()]);
    assert_eq!(h.login(&browser, "mock").await.end.path(), "/ok");
    let (_, session) = h.get(&browser, "v1/account/sessions/current").await;
    let access = session["providerAccessToken"].as_str().unwrap().to_owned();
    let (status, _) = h.api(&browser, reqwest::Method::DELETE, "v1/account/sessions/current").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while idp.handle().hits(loginkit_testkit::Endpoint::Revoke) < 2 {
        assert!(std::time::Instant::now() < deadline, "the provider was never asked to revoke");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let last = idp.handle().last_request(loginkit_testkit::Endpoint::Revoke).unwrap();
    assert_eq!(last.form_value("token"), Some(access.as_str()));

    let idp = auto().await.unwrap();
    let h = Harness::start(&format!("revoke_provider_tokens = false\n{}", common::external_mock(&idp))).await;
    let browser = Browser::new([h.server.url().clone(), idp.origin()]);
    h.login(&browser, "mock").await;
    let (status, _) = h.api(&browser, reqwest::Method::DELETE, "v1/account/sessions/current").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM loginkit_revocations")
        .fetch_one(&h.db().await)
        .await
        .unwrap();
    assert_eq!((queued, idp.handle().hits(loginkit_testkit::Endpoint::Revoke)), (0, 0), "nothing owed");
}

#[tokio::test]
async fn every_answer_says_its_content_type_and_health_answers() {
    let h = Harness::start("").await;
    let browser = h.browser();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let kind = |response: &reqwest::Response| {
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    };
    // The start's redirect (what the Python SDK's create_o_auth2_token reads), a 404.
    let start = client.get(h.start_url("tokens", "mock", "")).send().await.unwrap();
    assert!(start.status().is_redirection());
    assert_eq!(kind(&start), "text/html; charset=utf-8");
    let missing = client.get(h.url("v1/nope")).send().await.unwrap();
    assert!(kind(&missing).starts_with("application/json"), "{}", kind(&missing));
    // The callback's 301, then a 204 (delete_session).
    let callback = until_callback(&h, &browser, "mock").await;
    let cookies = browser.jar().cookies(&callback).unwrap();
    let back = client.get(callback).header("cookie", cookies).send().await.unwrap();
    assert_eq!(
        (back.status(), kind(&back).as_str()),
        (StatusCode::MOVED_PERMANENTLY, "text/html; charset=utf-8")
    );
    h.login(&browser, "mock").await;
    let deleted = browser
        .client()
        .delete(h.url("v1/account/sessions/current"))
        .header("x-appwrite-project", "default")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(kind(&deleted), "text/html; charset=utf-8", "no JSON claimed for an empty body");
    for path in ["health/live", "health/ready"] {
        let (status, body) = common::status_and_json(client.get(h.url(path)).send().await.unwrap()).await;
        assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("pass")), "{path}");
    }
}

#[tokio::test]
async fn a_native_id_token_makes_a_session_and_a_refused_one_names_its_check() {
    use loginkit_testkit::id_token::{TestSigner, claims};
    let signer = TestSigner::rs256();
    let jwks = signer.jwks();
    let keys = axum::Router::new()
        .route("/oauth2/v3/certs", axum::routing::get(move || async move { axum::Json(jwks) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, keys).await });
    let h = Harness::start(&format!(
        "[projects.default.providers.google]\nclient_id = \"web\"\nclient_secret = \"s\"\nbase_url = \"{origin}\"\nnative = true\nnative_client_ids = [\"android\"]"
    ))
    .await;
    let browser = h.browser();
    let post = |body: serde_json::Value| {
        browser
            .client()
            .post(h.url("v1/account/sessions/id-token"))
            .header("x-appwrite-project", "default")
            .json(&body)
            .send()
    };
    let token = |aud: &str, extra: serde_json::Value| {
        let mut extra = extra;
        extra["sub"] = "g-7".into();
        extra["email"] = "grace@example.test".into();
        extra["email_verified"] = true.into();
        signer.sign(&claims("https://accounts.google.com", aud, &extra))
    };
    let good = token("web", serde_json::json!({ "azp": "android", "aud": ["web", "android"], "nonce": "n" }));
    let (status, session) = common::status_and_json(
        post(serde_json::json!({ "provider": "google", "idToken": good, "nonce": "n" })).await.unwrap(),
    )
    .await;
    assert_eq!((status, session["provider"].as_str()), (StatusCode::CREATED, Some("google")), "{session}");
    let (status, account) = h.get(&browser, "v1/account").await;
    assert_eq!((status, account["email"].as_str()), (StatusCode::OK, Some("grace@example.test")));

    let (status, error) = common::status_and_json(
        post(serde_json::json!({ "provider": "google", "idToken": token("ios", serde_json::json!({})) }))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["type"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("user_oauth2_token_invalid"))
    );
    assert!(error["message"].as_str().unwrap().contains("not addressed to this client"), "{error}");
    let (status, error) = common::status_and_json(
        post(serde_json::json!({ "provider": "mock", "idToken": good })).await.unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["type"].as_str()),
        (StatusCode::PRECONDITION_FAILED, Some("project_provider_disabled"))
    );
    let (status, _) =
        common::status_and_json(post(serde_json::json!({ "provider": "google" })).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_login_passes_prompt_login_hint_and_the_providers_own_parameters_and_nothing_else() {
    let h = Harness::start(
        "[projects.default.providers.google]\nclient_id = \"web\"\nclient_secret = \"s\"\nparams = { prompt = \"consent\" }",
    )
    .await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let start = |provider: &str, query: &str| {
        let url = h.url(&format!("v1/account/sessions/oauth2/{provider}?project=default&{query}"));
        let client = client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let sent = |response: &reqwest::Response| -> Vec<(String, String)> {
        Url::parse(response.headers()["location"].to_str().unwrap())
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    };
    let google = start("google", "hd=example.com&prompt=select_account&login_hint=ada%40example.com").await;
    assert_eq!(google.status(), StatusCode::MOVED_PERMANENTLY);
    let params = sent(&google);
    let value =
        |name: &str| params.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
    assert_eq!(value("hd"), ["example.com"]);
    assert_eq!(value("prompt"), ["select_account"], "the login's prompt replaces the configured one");
    assert_eq!(value("login_hint"), ["ada@example.com"]);
    let mock = start("mock", "prompt=login").await;
    assert_eq!(mock.status(), StatusCode::MOVED_PERMANENTLY);
    for refused in
        ["hd=example.com", "foo=bar", "prompt=everything", "state=mine", "prompt=login&prompt=none"]
    {
        let (status, body) = common::status_and_json(start("mock", refused).await).await;
        assert_eq!(
            (status, body["type"].as_str()),
            (StatusCode::BAD_REQUEST, Some("general_argument_invalid")),
            "{refused}"
        );
    }
    assert_eq!(h.counts().await, (0, 0, 0, 0));
}

#[tokio::test]
async fn metrics_count_logins_by_provider_and_failure_and_answer_only_nearby_readers() {
    let h = Harness::start("").await;
    let browser = h.browser();
    assert_eq!(h.login(&browser, "mock").await.end.path(), "/ok");
    let refused = h.login(&h.browser(), "mock-unverified").await;
    assert_eq!(refused.end.path(), "/fail");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // A provider id this build does not know is not a label of its own.
    client
        .get(h.url("v1/account/sessions/oauth2/callback/nope-attacker-label/default?state=x"))
        .send()
        .await
        .unwrap();
    let metrics = client.get(h.url("metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} in {text}"))
            .to_owned()
    };
    assert!(line(r#"loginkit_logins_started_total{project="default",provider="mock"}"#).ends_with(" 1"));
    assert!(line(r#"loginkit_logins_completed_total{project="default",provider="mock"}"#).ends_with(" 1"));
    assert!(
        line(r#"loginkit_logins_failed_total{project="default",provider="mock-unverified",reason="unverified_email"}"#)
            .ends_with(" 1")
    );
    assert!(
        line(r#"loginkit_logins_failed_total{project="default",provider="unknown",reason="bad_state"}"#)
            .ends_with(" 1")
    );
    assert!(
        !text.contains("nope-attacker-label") && !text.contains("useroauth"),
        "no free text, no user data"
    );
    assert!(text.contains("loginkit_login_finish_seconds_bucket"));
    // Each provider call and each database call, timed.
    let count = |prefix: &str| line(prefix).rsplit(' ').next().unwrap().parse::<u64>().unwrap();
    let exchange =
        r#"loginkit_provider_call_seconds_count{provider="mock",operation="exchange_code",outcome="2xx"}"#;
    assert_eq!(count(exchange), 1);
    assert!(
        count(r#"loginkit_provider_call_seconds_count{provider="mock",operation="user_info",outcome="2xx"}"#)
            >= 1
    );
    // Both logins reached the store's login (the refused one was decided there, writing nothing).
    assert_eq!(count(r#"loginkit_store_call_seconds_count{project="default",operation="login"}"#), 2);
    assert!(count(r#"loginkit_store_call_seconds_count{project="default",operation="consume_state"}"#) >= 2);
    assert!(!text.contains("loginkit_store_errors_total{"), "no database call failed");

    // Not loopback, not listed: 404 (the server listens on every address here).
    let h = Harness::start_with(temp_dir(), "0.0.0.0:0", "mock_idp_force = true", "").await;
    let port = h.server.url().port().unwrap();
    let outside = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|_| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_loopback());
    if let Some(ip) = outside {
        let far = client.get(format!("http://{ip}:{port}/metrics")).send().await.unwrap();
        assert_eq!(far.status(), StatusCode::NOT_FOUND);
    }
}

/// Server-side rendering with an API key: the app's server starts a token-flow login with its
/// key (bound to the key: no cookie, not rate limited per client), the browser finishes it
/// without any binding cookie, only the key redeems the secret, into a session whose `secret`
/// the key holder is given, and which then authenticates as `X-Appwrite-Session`.
#[tokio::test]
async fn an_api_key_starts_logins_for_browsers_and_alone_redeems_their_secrets() {
    use loginkit_flow::BackendKey;
    let (ssr, reader) = ("s".repeat(48), "r".repeat(48));
    let extra = format!(
        "[projects.default.api_keys.ssr]\nsha256 = \"{}\"\nscopes = [\"sessions.write\", \"users.read\"]\n\
         [projects.default.api_keys.reader]\nsha256 = \"{}\"\nscopes = [\"users.read\"]\n",
        BackendKey::digest_of(&ssr),
        BackendKey::digest_of(&reader)
    );
    let h = Harness::start_with(temp_dir(), "127.0.0.1:0", "rate_limit = 4", &extra).await;
    let server = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let with_key = |request: reqwest::RequestBuilder, key: &str| {
        request.header("x-appwrite-project", "default").header("x-appwrite-key", key.to_owned())
    };

    // Keyed starts: no binding cookie, and no per-client limit (five starts over a limit of 4).
    let mut location = None;
    for _ in 0..5 {
        let start = with_key(server.get(h.start_url("tokens", "mock", "")), &ssr).send().await.unwrap();
        assert_eq!(start.status(), StatusCode::MOVED_PERMANENTLY);
        assert!(start.headers().get("set-cookie").is_none(), "nothing for the app's server to keep");
        location = Some(Url::parse(start.headers()["location"].to_str().unwrap()).unwrap());
    }
    // A key that is not the project's, or lacks the scope, is refused, never served as a guest.
    for (key, message) in [("x".repeat(48), "not valid"), (reader.clone(), "sessions.write")] {
        let refused = with_key(server.get(h.start_url("tokens", "mock", "")), &key).send().await.unwrap();
        let (status, body) = common::status_and_json(refused).await;
        assert_eq!(
            (status, body["type"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("general_unauthorized_scope"))
        );
        assert!(body["message"].as_str().unwrap().contains(message), "{body}");
    }
    // Keyless starts are still limited (the two refused ones counted).
    let keyless: Vec<u16> = {
        let mut out = Vec::new();
        for _ in 0..3 {
            out.push(server.get(h.start_url("tokens", "mock", "")).send().await.unwrap().status().as_u16());
        }
        out
    };
    assert_eq!(keyless, [301, 301, 429]);

    // A browser that never saw the start finishes the login.
    let walk = h.browser().walk(location.unwrap()).await.unwrap();
    assert_eq!(walk.end.path(), "/ok", "{:?}", walk.hops);
    let (user_id, secret) = (walk.param("userId").unwrap(), walk.param("secret").unwrap());
    let body = serde_json::json!({ "userId": user_id, "secret": secret });
    let redeem = |key: Option<&str>| {
        let request = server.post(h.url("v1/account/sessions/token")).json(&body);
        match key {
            Some(key) => with_key(request, key),
            None => request.header("x-appwrite-project", "default"),
        }
        .send()
    };
    // Without the key (the browser, or whoever it handed the URL to), or with a key lacking the
    // scope: refused, and the secret stays.
    let (status, error) = common::status_and_json(redeem(None).await.unwrap()).await;
    assert_eq!((status, error["type"].as_str()), (StatusCode::UNAUTHORIZED, Some("user_invalid_token")));
    let (status, _) = common::status_and_json(redeem(Some(&reader)).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.counts().await, (1, 1, 0, 1));

    // The key redeems it: the session's `secret` is the cookie value, and no cookie is set.
    let created = redeem(Some(&ssr)).await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert!(created.headers().get("set-cookie").is_none());
    assert!(created.headers().get("x-fallback-cookies").is_none());
    let session: Value = created.json().await.unwrap();
    let session_secret = session["secret"].as_str().unwrap().to_owned();
    assert!(session_secret.len() > 40, "{session}");
    assert_eq!(session["userId"], user_id.as_str());
    let (status, _) = common::status_and_json(redeem(Some(&ssr)).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "once only");

    // The session client.
    let as_session = |method: reqwest::Method, path: &str| {
        server
            .request(method, h.url(path))
            .header("x-appwrite-project", "default")
            .header("x-appwrite-session", session_secret.clone())
            .send()
    };
    let (status, account) =
        common::status_and_json(as_session(reqwest::Method::GET, "v1/account").await.unwrap()).await;
    assert_eq!((status, account["$id"].as_str()), (StatusCode::OK, Some(user_id.as_str())));

    // users.get: with users.read only.
    let user = |key: Option<&str>, id: &str| {
        let request = server.get(h.url(&format!("v1/users/{id}")));
        match key {
            Some(key) => with_key(request, key),
            None => request.header("x-appwrite-project", "default"),
        }
        .send()
    };
    let (status, read) = common::status_and_json(user(Some(&reader), &user_id).await.unwrap()).await;
    assert_eq!((status, read["email"].as_str()), (StatusCode::OK, Some("useroauth@localhost.test")));
    let (status, error) = common::status_and_json(user(None, &user_id).await.unwrap()).await;
    assert_eq!(
        (status, error["type"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("general_unauthorized_scope"))
    );
    let (status, error) = common::status_and_json(user(Some(&ssr), "nobody").await.unwrap()).await;
    assert_eq!((status, error["type"].as_str()), (StatusCode::NOT_FOUND, Some("user_not_found")));

    // Signing out ends the session for the session client.
    let (status, _) = common::status_and_json(
        as_session(reqwest::Method::DELETE, "v1/account/sessions/current").await.unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) =
        common::status_and_json(as_session(reqwest::Method::GET, "v1/account").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn api_keys_are_checked_at_start() {
    let digest = loginkit_flow::BackendKey::digest_of(&"k".repeat(40));
    for (keys, named) in [
        (format!("[projects.default.api_keys.a]\nsha256 = \"{digest}\""), "scopes"),
        ("[projects.default.api_keys.a]\nsha256 = \"abc\"\nscopes = [\"users.read\"]".to_owned(), "sha256"),
        (
            format!("[projects.default.api_keys.a]\nsha256 = \"{digest}\"\nscopes = [\"everything\"]"),
            "everything",
        ),
        ("[projects.default.api_keys.a]\nscopes = [\"users.read\"]".to_owned(), "secret_env or sha256"),
        (
            "[projects.default.api_keys.a]\nsecret_env = \"NOT_SET_ANYWHERE\"\nscopes = [\"users.read\"]"
                .to_owned(),
            "NOT_SET_ANYWHERE",
        ),
    ] {
        let toml = format!("listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n{keys}\n", temp_dir().display());
        let config = Config::from_toml(&toml).unwrap();
        let Err(error) = Server::bind(config, |_| None).await else { panic!("{keys}: accepted") };
        let error = error.to_string();
        assert!(error.contains("projects.default.api_keys.a") && error.contains(named), "{error}");
    }
    // A secret from the environment works; a short one is refused.
    for (secret, ok) in [("k".repeat(40), true), ("short".to_owned(), false)] {
        let toml = format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n[projects.default]\nhostnames = [\"localhost\"]\n\
             [projects.default.api_keys.a]\nsecret_env = \"SSR_KEY\"\nscopes = [\"users.read\"]\n",
            temp_dir().display()
        );
        let config = Config::from_toml(&toml).unwrap();
        let bound = Server::bind(config, |name| (name == "SSR_KEY").then(|| secret.clone())).await;
        assert_eq!(bound.is_ok(), ok);
    }
}

/// Readiness answers 503 naming the project whose database stops answering, within its own
/// timeout, and 200 again once the database is back.
#[tokio::test]
async fn readiness_fails_while_a_projects_database_refuses_connections() {
    let h = Harness::start_on(common::Backing::Postgres, "", "").await;
    let client = reqwest::Client::new();
    let ready =
        || async { common::status_and_json(client.get(h.url("health/ready")).send().await.unwrap()).await };
    assert_eq!(ready().await.0, StatusCode::OK);
    // One connection of our own, which stays open while the database refuses new ones.
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(h.postgres.as_ref().unwrap().1.url()).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I CONNECTION LIMIT 0', current_database()); END $$; \
         SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid();",
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    // `pg_terminate_backend(pid, timeout)` returns once each backend has exited: the server's
    // connections are gone before readiness is asked.
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(left, 0, "the server's connections are closed");
    let (status, body) = ready().await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("fail")), "{body}");
    assert_eq!(body["projects"], serde_json::json!(["default"]));
    assert_eq!(client.get(h.url("health/live")).send().await.unwrap().status(), StatusCode::OK);
    sqlx::raw_sql(sqlx::AssertSqlSafe(
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I CONNECTION LIMIT -1', current_database()); END $$;",
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    assert_eq!(ready().await.0, StatusCode::OK, "ready again");
}

/// `loginkit-server api-key` prints a key and the configuration lines that accept it.
#[tokio::test]
async fn the_api_key_command_prints_a_key_its_configuration_accepts() {
    let output =
        std::process::Command::new(env!("CARGO_BIN_EXE_loginkit-server")).arg("api-key").output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let key = stdout.lines().find_map(|l| l.strip_prefix("key: ")).unwrap().to_owned();
    let lines: String = stdout
        .lines()
        .filter(|l| !l.starts_with("key: ") && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let h = Harness::start(&format!("[projects.default.api_keys.printed]\n{lines}\n")).await;
    let start = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(h.start_url("tokens", "mock", ""))
        .header("x-appwrite-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::MOVED_PERMANENTLY);
    assert!(start.headers().get("set-cookie").is_none(), "a keyed start");
}

/// Spotify now identifies accounts by `account_id` and says `id` must not be used for linking.
/// A user who signed in before (their identity stored under `id`) is the same user at their next
/// login, which moves the identity to `account_id`; nothing is created twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spotify_identity_stored_under_the_old_id_moves_to_account_id_at_the_next_login() {
    use loginkit_testkit::{ImpersonatingIdp, MockClient, Persona};
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../providers/spotify");
    let now = Persona::load_all(&crate_dir).unwrap().remove(0);
    let mut before = now.clone();
    let mut user: Value = serde_json::from_str(&before.userinfo[0].response.body).unwrap();
    user.as_object_mut().unwrap().remove("account_id");
    before.userinfo[0].response.body = user.to_string();
    let dir = temp_dir();
    let mut accounts = Vec::new();
    for persona in [&before, &now, &now] {
        let idp = ImpersonatingIdp::start(persona, MockClient::new("spotify-client", "spotify-secret"))
            .await
            .unwrap();
        let extra = format!(
            "[projects.default.providers.spotify]\nclient_id = \"spotify-client\"\nclient_secret = \"spotify-secret\"\nbase_url = \"{}\"",
            idp.origin()
        );
        let h = Harness::start_in(dir.clone(), "127.0.0.1:0", &extra).await;
        let browser = Browser::new([h.server.url().clone(), idp.origin()]);
        let walk = h.login(&browser, "spotify").await;
        assert_eq!(walk.end.path(), "/ok", "{:?}", walk.hops.last());
        let (_, account) = h.get(&browser, "v1/account").await;
        let uids: Vec<String> = sqlx::query_scalar("SELECT provider_uid FROM loginkit_identities")
            .fetch_all(&h.db().await)
            .await
            .unwrap();
        accounts.push((account["$id"].as_str().unwrap().to_owned(), uids, h.counts().await.0));
    }
    let user = &accounts[0].0;
    assert_eq!(accounts[0], (user.clone(), vec!["adalovelace".to_owned()], 1), "before: stored under id");
    assert_eq!(accounts[1], (user.clone(), vec!["aB3dE5fG7h".to_owned()], 1), "the same user, moved");
    assert_eq!(accounts[2], (user.clone(), vec!["aB3dE5fG7h".to_owned()], 1), "and found there after");
}

/// Web SDK 28's `OAuthProvider.Kakao` and `OAuthProvider.Tiktok` are providers this server knows:
/// unconfigured, they are disabled (412), not unsupported (400).
#[tokio::test]
async fn kakao_and_tiktok_are_known_providers() {
    let h = Harness::start("").await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for provider in ["kakao", "tiktok"] {
        let start = client.get(h.start_url("tokens", provider, "")).send().await.unwrap();
        let (status, body) = common::status_and_json(start).await;
        assert_eq!(
            (status, body["type"].as_str()),
            (StatusCode::PRECONDITION_FAILED, Some("project_provider_disabled"))
        );
    }
}

/// Providers defined in the configuration under ids of their own, several per project: two
/// OpenID Connect providers and a plain OAuth 2.0 one with its user-info mapping, each logging in
/// end to end (the mock's user, whose verified email links the three identities to one user).
#[tokio::test]
async fn providers_defined_in_the_configuration_log_in_several_per_project() {
    let idp = MockIdp::start().await.unwrap();
    let oidc = |id: &str, name: &str| {
        format!(
            "[projects.default.providers.{id}]\nkind = \"oidc\"\nname = \"{name}\"\nclient_id = \"1\"\nclient_secret = \"123456\"\n\
             params = {{ authorization_url = \"{}\", token_url = \"{}\", userinfo_url = \"{}\" }}\n",
            idp.url("authorize"),
            idp.url("token"),
            idp.url("user")
        )
    };
    let oauth2 = format!(
        "[projects.default.providers.legacy-sso]\nkind = \"oauth2\"\nname = \"Legacy SSO\"\nclient_id = \"1\"\nclient_secret = \"123456\"\n\
         [projects.default.providers.legacy-sso.oauth2]\nauthorize_url = \"{}\"\ntoken_url = \"{}\"\nuserinfo_url = \"{}\"\n\
         user_id = \"/id\"\nemail = \"/email\"\nemail_verified = \"/verified\"\nname = \"/name\"\nscopes = [\"email\"]\n",
        idp.url("authorize"),
        idp.url("token"),
        idp.url("user")
    );
    let off = "[projects.default.providers.off-sso]\nkind = \"oidc\"\nenabled = false\nclient_id = \"1\"\n";
    let extra =
        format!("{}{}{oauth2}{off}", oidc("corp-sso", "Corp SSO"), oidc("partner-sso", "Partner SSO"));
    let h = Harness::start(&extra).await;
    for provider in ["corp-sso", "partner-sso", "legacy-sso"] {
        let browser = Browser::new([h.server.url().clone(), idp.origin()]);
        let walk = h.login(&browser, provider).await;
        assert_eq!(walk.end.path(), "/ok", "{provider}: {:?}", walk.hops.last());
        let (_, session) = h.get(&browser, "v1/account/sessions/current").await;
        assert_eq!(session["provider"], provider);
        let (_, account) = h.get(&browser, "v1/account").await;
        assert_eq!(account["email"], "useroauth@localhost.test");
    }
    assert_eq!(h.counts().await, (1, 3, 3, 0), "one user, an identity per provider");
    // One turned off is disabled (412), not unknown (400).
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let (status, body) =
        common::status_and_json(client.get(h.start_url("tokens", "off-sso", "")).send().await.unwrap()).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (StatusCode::PRECONDITION_FAILED, Some("project_provider_disabled"))
    );
    let page = reqwest::get(h.url("")).await.unwrap().text().await.unwrap();
    assert!(page.contains("Corp SSO") || page.contains("corp-sso"), "the demo page lists it");
}

#[tokio::test]
async fn providers_defined_in_the_configuration_are_checked() {
    let oauth2 = "[projects.default.providers.partner.oauth2]\nauthorize_url = \"https://a.test/a\"\ntoken_url = \"https://a.test/t\"\nuserinfo_url = \"https://a.test/u\"";
    for (settings, says) in [
        ("[projects.default.providers.github]\nkind = \"oidc\"\nclient_id = \"1\"", "provider of this build"),
        ("[projects.default.providers.Corp_SSO]\nkind = \"oidc\"\nclient_id = \"1\"", "provider id"),
        ("[projects.default.providers.corp]\nkind = \"saml\"\nclient_id = \"1\"", "`saml` is not"),
        (
            "[projects.default.providers.corp]\nkind = \"oauth2\"\nclient_id = \"1\"",
            "needs an `[oauth2]` table",
        ),
        ("[projects.default.providers.corp]\nclient_id = \"1\"", "set `kind"),
        (
            &format!(
                "[projects.default.providers.partner]\nkind = \"oauth2\"\nclient_id = \"1\"\n{}",
                oauth2.replace("https://a.test/u", "http://a.test/u")
            ),
            "https",
        ),
    ] {
        let toml = format!("listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n{settings}\n", temp_dir().display());
        let config = Config::from_toml(&toml).unwrap();
        let Err(error) = Server::bind(config, |_| None).await else { panic!("{settings}: accepted") };
        assert!(error.to_string().contains(says), "{settings}: {error}");
    }
}
