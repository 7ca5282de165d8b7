//! The findings of an attacker's review of the reference server (docs/security.md, items 35 and
//! on), each replayed as the attack it is. Every test failed on the code before its fix.

mod common;

use common::{APP, Harness, error_of, status_and_json, temp_dir, until_callback};
use loginkit_server::{Config, Server};
use loginkit_testkit::{Browser, Endpoint, Fault, FormAnswer, MockIdp, MockIdpConfig, MockUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A server on loopback from a whole configuration file (`data_dir` and `listen` added).
async fn start_toml(toml: &str) -> Harness {
    let dir = temp_dir();
    let toml = format!("listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n{toml}", dir.display());
    let config = Config::from_toml(&toml).expect("test config");
    let server = Server::bind(config, |_| None).await.expect("server starts").spawn();
    Harness { server, dir, postgres: None }
}

/// A URL on the address the server listens on (its `url()` is the public URL when one is set).
fn local(h: &Harness, path: &str) -> url::Url {
    url::Url::parse(&format!("http://{}/{path}", h.server.state().local_addr)).unwrap()
}

fn allow_origin(response: &reqwest::Response) -> Option<&str> {
    response.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap())
}

/// Finding 1: a page of project `a` read project `b`'s session, provider tokens included,
/// because CORS trusted an origin on any project's allow-list.
#[tokio::test]
async fn a_page_of_one_project_cannot_read_another_projects_session() {
    let h = start_toml(
        "mock_idp = true\n[projects.a]\nhostnames = [\"a.test\"]\n[projects.b]\nhostnames = [\"b.test\"]\n\
         [projects.c]\nhostnames = [\"*\"]\n",
    )
    .await;
    let browser = h.browser();
    let start =
        h.url("v1/account/sessions/oauth2/mock?project=b&success=http://b.test/ok&failure=http://b.test/no");
    assert_eq!(browser.walk(start).await.unwrap().end.as_str(), "http://b.test/ok");
    let read = |origin: &'static str, by_header: bool| {
        let url = if by_header {
            h.url("v1/account/sessions/current")
        } else {
            h.url("v1/account/sessions/current?project=b")
        };
        let mut request = browser.client().get(url).header("origin", origin);
        if by_header {
            request = request.header("x-appwrite-project", "b");
        }
        request.send()
    };
    // The project's own page may read it: that is what the SDK does.
    let own = read("http://b.test", false).await.unwrap();
    assert_eq!(allow_origin(&own), Some("http://b.test"));
    let (status, body) = status_and_json(own).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["providerAccessToken"].as_str().unwrap().len() > 10, "what a readable answer holds");
    // Another project's page gets an answer the browser will not let it read.
    for by_header in [false, true] {
        let foreign = read("http://a.test", by_header).await.unwrap();
        assert_eq!(foreign.status(), StatusCode::OK, "the cookie is sent either way");
        assert_eq!(
            allow_origin(&foreign),
            None,
            "project a's origin named for project b (header: {by_header})"
        );
    }
    // A project allowing every host trusts no origin with credentials.
    let wildcard = browser
        .client()
        .get(h.url("v1/account?project=c"))
        .header("origin", "http://anything.test")
        .send()
        .await;
    assert_eq!(allow_origin(&wildcard.unwrap()), None);
    // The callback names its project in the path: the same rule.
    let callback = browser
        .client()
        .get(h.url("v1/account/sessions/oauth2/callback/mock/b?state=x&code=y"))
        .header("origin", "http://a.test")
        .send()
        .await
        .unwrap();
    assert_eq!(allow_origin(&callback), None);
    // A preflight returns nothing and carries no project: it may stay permissive.
    let preflight = browser
        .client()
        .request(reqwest::Method::OPTIONS, h.url("v1/account/sessions/current"))
        .header("origin", "http://a.test")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-appwrite-project")
        .send()
        .await
        .unwrap();
    assert_eq!(allow_origin(&preflight), Some("http://a.test"));
}

/// Finding 1, the scheme: on an https server, a plain-http page of an allowed host (which anyone
/// on its network can rewrite) is not trusted with credentials unless the pattern names http.
#[tokio::test]
async fn an_https_server_trusts_no_plain_http_origin_it_was_not_told_to() {
    let h = start_toml(
        "public_url = \"https://auth.test\"\n[projects.b]\nhostnames = [\"b.test\", \"http://legacy.b.test\"]\n",
    )
    .await;
    let client = reqwest::Client::new();
    for (origin, trusted) in [
        ("https://b.test", true),
        ("http://b.test", false),
        ("http://legacy.b.test", true),
        ("https://legacy.b.test", false),
    ] {
        let response =
            client.get(local(&h, "v1/account?project=b")).header("origin", origin).send().await.unwrap();
        assert_eq!(allow_origin(&response).is_some(), trusted, "{origin}");
    }
    // The token exchange applies the same rule to its Origin.
    let exchange = client
        .post(local(&h, "v1/account/sessions/token?project=b"))
        .header("origin", "http://b.test")
        .json(&json!({"userId": "u", "secret": "s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_json(exchange).await.1["type"], "general_unknown_origin");
}

/// Finding 2: the attacker finishes the token flow for their own account and hands the success
/// URL to the victim; the app's page redeems it, the victim is signed in as the attacker, and
/// the victim's next sign-in with another provider used to be linked to the attacker's user,
/// whose identities list then showed the victim's provider tokens.
#[tokio::test]
async fn a_token_flow_secret_handed_to_a_victim_never_links_the_victims_identity() {
    let h = Harness::start("").await;
    // The attacker (mock user 2) runs the token flow and keeps the success URL.
    let attacker = h.browser().answering(FormAnswer::Approve("2".into()));
    let walk = attacker.walk(h.start_url("tokens", "mock", "")).await.unwrap();
    assert_eq!(walk.end.path(), "/ok");
    let (user_id, secret) = (walk.param("userId").unwrap(), walk.param("secret").unwrap());

    // The victim opens it: the app's own page (allowed Origin) redeems the secret.
    let victim = h.browser();
    let redeemed = victim
        .client()
        .post(h.url("v1/account/sessions/token"))
        .header("x-appwrite-project", "default")
        .header("origin", APP)
        .json(&json!({ "userId": user_id, "secret": secret }))
        .send()
        .await
        .unwrap();
    assert_eq!(redeemed.status(), StatusCode::CREATED);
    assert_eq!(h.get(&victim, "v1/account").await.1["$id"], user_id.as_str(), "signed in as the attacker");

    // The victim signs in with another provider (mock-unverified, as the victim, user 1).
    let walk = h.login(&victim, "mock-unverified").await;
    assert_eq!(walk.end.path(), "/ok", "{:?}", walk.param("error"));
    let (_, victim_account) = h.get(&victim, "v1/account").await;
    assert_ne!(victim_account["$id"], user_id.as_str(), "the victim is in an account of their own");
    let (_, victim_identities) = h.get(&victim, "v1/account/identities").await;
    let victim_token = victim_identities["identities"][0]["providerAccessToken"].as_str().unwrap().to_owned();
    assert_eq!(victim_identities["identities"][0]["provider"], "mock-unverified");

    // The attacker, in their own account, never sees the victim's identity or tokens.
    let own = h.browser().answering(FormAnswer::Approve("2".into()));
    assert_eq!(h.login(&own, "mock").await.end.path(), "/ok");
    let (_, account) = h.get(&own, "v1/account").await;
    assert_eq!(account["$id"], user_id.as_str());
    let (_, identities) = h.get(&own, "v1/account/identities").await;
    assert_eq!(identities["total"], 1, "{identities}");
    assert_eq!(identities["identities"][0]["provider"], "mock");
    assert!(
        !identities.to_string().contains(&victim_token),
        "the victim's access token is not the attacker's"
    );
}

/// Finding 2, the other side: the browser that finished a token-flow login still links a second
/// provider to the session its secret made (what the SDK's "link an account" does).
#[tokio::test]
async fn the_browser_that_finished_a_token_flow_still_links_providers() {
    let h = Harness::start("").await;
    let browser = h.browser();
    let walk = browser.walk(h.start_url("tokens", "mock", "")).await.unwrap();
    let (user_id, secret) = (walk.param("userId").unwrap(), walk.param("secret").unwrap());
    let redeemed = browser
        .client()
        .post(h.url("v1/account/sessions/token"))
        .header("x-appwrite-project", "default")
        .json(&json!({ "userId": user_id, "secret": secret }))
        .send()
        .await
        .unwrap();
    assert_eq!(redeemed.status(), StatusCode::CREATED);
    assert_eq!(h.login(&browser, "mock-unverified").await.end.path(), "/ok");
    assert_eq!(h.get(&browser, "v1/account").await.1["$id"], user_id.as_str());
    assert_eq!(h.get(&browser, "v1/account/identities").await.1["total"], 2, "linked");
}

/// Finding 3: an address reported unverified (a GitHub secondary email, a Microsoft `mail` set
/// freely in one's own tenant) locked its verified owner out of every provider.
#[tokio::test]
async fn an_unverified_address_never_locks_out_its_verified_owner() {
    // An external provider whose user 77 reports the owner's address, unverified.
    let other = MockIdp::start_with(MockIdpConfig {
        users: vec![MockUser {
            id: "77".into(),
            name: "Squatter Two".into(),
            email: "useroauth@localhost.test".into(),
            verified: false,
        }],
        ..MockIdpConfig::default()
    })
    .await
    .unwrap();
    let extra = common::oidc_at(&other);
    let h = Harness::start(&extra).await;
    // The squatter signs in first, with the owner's address unverified.
    let squatter = h.browser();
    assert_eq!(h.login(&squatter, "mock-unverified").await.end.path(), "/ok");
    let (_, squat) = h.get(&squatter, "v1/account").await;
    assert_eq!(
        (squat["email"].as_str(), squat["emailVerification"].as_bool()),
        (Some("useroauth@localhost.test"), Some(false))
    );

    // The owner, through a provider that verifies the address, gets an account of their own.
    let owner = h.browser();
    let walk = h.login(&owner, "mock").await;
    assert_eq!(walk.end.path(), "/ok", "{:?}", walk.param("error"));
    let (_, account) = h.get(&owner, "v1/account").await;
    assert_ne!(account["$id"], squat["$id"]);
    assert_eq!(
        (account["email"].as_str(), account["emailVerification"].as_bool()),
        (Some("useroauth@localhost.test"), Some(true))
    );

    // An unverified address still never joins the owner's account: refused, nothing written.
    let before = h.counts().await;
    let walk = h
        .login(
            &Browser::new([h.server.url().clone(), other.origin()])
                .answering(FormAnswer::Approve("77".into())),
            "oidc",
        )
        .await;
    assert_eq!(walk.end.path(), "/fail");
    assert_eq!(error_of(&walk)["type"], "general_bad_request");
    assert_eq!(h.counts().await, before);
    // And the owner's next login lands in the same account.
    let again = h.browser();
    h.login(&again, "mock").await;
    assert_eq!(h.get(&again, "v1/account").await.1["$id"], account["$id"]);
}

/// Finding 4: a web-only project sent token-flow secrets to the implied
/// `appwrite-callback-<project>` scheme, which any installed app can register.
#[tokio::test]
async fn only_projects_with_native_apps_send_secrets_to_the_appwrite_callback_scheme() {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let start = |h: &Harness| {
        h.url("v1/account/tokens/oauth2/mock?project=default&success=appwrite-callback-default://ok&failure=appwrite-callback-default://no")
    };
    let web = Harness::start("").await;
    let (status, body) = status_and_json(client.get(start(&web)).send().await.unwrap()).await;
    assert_eq!((status, body["type"].as_str()), (StatusCode::BAD_REQUEST, Some("general_argument_invalid")));
    let native = Harness::start("native_apps = true").await;
    assert_eq!(client.get(start(&native)).send().await.unwrap().status(), StatusCode::MOVED_PERMANENTLY);
}

/// Finding 5: the mock identity provider kept every code it issued and every field it was sent,
/// outside any limit (200 POSTs with a 1.9 MB `nonce` took the server from 28 to 417 MB). Its
/// fields are capped, its codes expire and are capped, and it refuses to run where others can
/// reach it unless forced.
#[tokio::test]
async fn the_mock_provider_keeps_bounded_state_and_stays_on_loopback() {
    let h = Harness::start("").await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let authorize = h.url("mock/oauth2/authorize");
    let nonce = "n".repeat(1_900_000);
    for _ in 0..20 {
        let form = [
            ("client_id", "1"),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("response_type", "code"),
            ("nonce", nonce.as_str()),
            ("user", "1"),
            ("action", "approve"),
        ];
        let response = client.post(authorize.clone()).form(&form).send().await.unwrap();
        assert!(matches!(response.status().as_u16(), 400 | 413), "{}", response.status());
        assert!(response.headers().get("location").is_none(), "no code issued");
    }
    // The same nonce in the query of the GET: refused as well.
    let long = client
        .get(format!("{authorize}?client_id=1&response_type=code&nonce={}", "n".repeat(5000)))
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(long).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{body}"
    );

    // Anywhere but loopback (or behind https), the server will not run it unless forced.
    for (top, reachable) in
        [("listen = \"0.0.0.0:0\"", "0.0.0.0"), ("public_url = \"https://auth.example.com\"", "https")]
    {
        let dir = temp_dir();
        let toml = format!("data_dir = \"{}\"\nmock_idp = true\n{top}\n", dir.display());
        let toml = if top.starts_with("listen") { toml } else { format!("listen = \"127.0.0.1:0\"\n{toml}") };
        let error = Server::bind(Config::from_toml(&toml).unwrap(), |_| None).await.unwrap_err().to_string();
        assert!(error.contains("mock_idp_force") && error.contains(reachable), "{error}");
        let forced = Config::from_toml(&format!("{toml}mock_idp_force = true\n")).unwrap();
        if let Err(error) = Server::bind(forced, |_| None).await {
            panic!("forced ({top}): {error}");
        }
    }
}

/// Finding 6: on an https site the binding cookie is `__Host-` prefixed (a sibling subdomain
/// cannot plant it), and a planted cookie without the prefix does not bind.
#[tokio::test]
async fn the_binding_cookie_of_an_https_site_cannot_be_planted_from_a_sibling() {
    // https on loopback: the provider accepts the callback URL; the browser part is done by hand.
    let h = start_toml(
        "public_url = \"https://localhost:9\"\nmock_idp = true\nmock_idp_force = true\n[projects.default]\nhostnames = [\"localhost\"]\n",
    )
    .await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let start = "v1/account/sessions/oauth2/mock?project=default&success=http://localhost:3000/ok&failure=http://localhost:3000/no";
    let started = client.get(local(&h, start)).send().await.unwrap();
    let set_cookie = started.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("__Host-loginkit_state_"), "{set_cookie}");
    for attribute in ["; Secure", "; Path=/;", "; HttpOnly"] {
        assert!(set_cookie.contains(attribute), "{attribute} in {set_cookie}");
    }
    assert!(!set_cookie.to_ascii_lowercase().contains("domain="), "{set_cookie}");
    let (name, value) = set_cookie.split(';').next().unwrap().split_once('=').unwrap();
    // The provider approves (auto-approve is off: submit its form) and redirects to the callback.
    let authorize = started.headers()["location"].to_str().unwrap().to_owned();
    let page = client.get(&authorize).send().await.unwrap().text().await.unwrap();
    let (action, mut fields) =
        loginkit_testkit::parse_form(&url::Url::parse(&authorize).unwrap(), &page).unwrap();
    fields.retain(|(k, _)| k != "user" && k != "action");
    fields.extend([("user".to_owned(), "1".to_owned()), ("action".to_owned(), "approve".to_owned())]);
    let approved = client.post(action).form(&fields).send().await.unwrap();
    let callback = url::Url::parse(approved.headers()["location"].to_str().unwrap()).unwrap();
    let local =
        local(&h, &format!("{}?{}", callback.path().trim_start_matches('/'), callback.query().unwrap()));
    // A cookie planted under the plain name does not bind the login...
    let plain = name.trim_start_matches("__Host-");
    let planted =
        client.get(local.clone()).header("cookie", format!("{plain}={value}")).send().await.unwrap();
    let (status, body) = status_and_json(planted).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (StatusCode::BAD_REQUEST, Some("general_bad_request")),
        "{body}"
    );
    // ...the prefixed one, which only this https origin can set, does.
    let bound = client.get(local).header("cookie", format!("{name}={value}")).send().await.unwrap();
    assert_eq!(bound.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(bound.headers()["location"], format!("{APP}/ok"));
}

/// Finding 7: the session secret travelled in `X-Fallback-Cookies` on every callback redirect,
/// where no SDK reads it.
#[tokio::test]
async fn a_callback_redirect_carries_no_fallback_cookies() {
    let h = Harness::start("").await;
    let browser = h.browser();
    let callback = until_callback(&h, &browser, "mock").await;
    let response = browser.client().get(callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert!(
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("a_session_default="))
    );
    assert!(
        response.headers().get("x-fallback-cookies").is_none(),
        "the session secret in a redirect header"
    );
}

/// Finding 17: the provider's `error_description` reached the app's failure URL as given, HTML
/// included; it is kept as plain text, capped.
#[tokio::test]
async fn a_providers_error_description_reaches_the_failure_url_as_plain_text() {
    let idp = MockIdp::start().await.unwrap();
    let extra = common::external_mock(&idp);
    let h = Harness::start(&extra).await;
    let description = format!("<img src=x onerror=alert(1)>Access <b>denied</b> \"now\"{}", "!".repeat(2000));
    idp.handle().inject(
        Endpoint::Authorize,
        Fault::ErrorRedirect { error: "access_denied".into(), description: Some(description) },
    );
    let walk = Browser::new([h.server.url().clone(), idp.origin()])
        .walk(h.start_url("sessions", "mock", ""))
        .await
        .unwrap();
    assert_eq!(walk.end.path(), "/fail");
    let error: Value = error_of(&walk);
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("access_denied: Access denied now!"), "{message}");
    assert!(!message.contains(['<', '>', '"']), "{message}");
    assert!(message.chars().count() < 400, "capped: {} characters", message.chars().count());
}

/// Finding 9: two concurrent refreshes of one session sent the same refresh token twice, which
/// providers that rotate refresh tokens and detect reuse (Auth0, Okta) answer by revoking the
/// whole family. One refresh reaches the provider; the other caller gets its result.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_account_send_its_refresh_token_once() {
    let idp = MockIdp::start().await.unwrap();
    let extra = common::external_mock(&idp);
    let h = std::sync::Arc::new(Harness::start(&extra).await);
    let browser = Browser::new([h.server.url().clone(), idp.origin()]);
    assert_eq!(h.login(&browser, "mock").await.end.path(), "/ok");
    let (_, before) = h.get(&browser, "v1/account/sessions/current").await;
    let exchanges = idp.handle().hits(Endpoint::Token);
    // The provider takes its time with the first refresh: the others arrive meanwhile.
    idp.handle().inject(Endpoint::Token, Fault::Delay(std::time::Duration::from_secs(2)));
    let refreshes: Vec<_> = (0..3)
        .map(|_| {
            let (h, browser) = (h.clone(), browser.clone());
            tokio::spawn(async move {
                h.api(&browser, reqwest::Method::PATCH, "v1/account/sessions/current").await
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for refresh in refreshes {
        let (status, session) = refresh.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{session}");
        tokens.push(session["providerAccessToken"].as_str().unwrap().to_owned());
    }
    assert_eq!(idp.handle().hits(Endpoint::Token) - exchanges, 1, "one refresh reached the provider");
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "every caller got the one result");
    assert_ne!(tokens[0], before["providerAccessToken"].as_str().unwrap());
    // The next refresh, later, is a refresh of its own, with the rotated refresh token.
    let (status, after) = h.api(&browser, reqwest::Method::PATCH, "v1/account/sessions/current").await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(idp.handle().hits(Endpoint::Token) - exchanges, 2);
}

/// Finding 10: `.loginkit/` was 0755 and the database 0644, readable by every local user. The
/// data directory is 0700, the database files 0600, and a key file others can read is refused.
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let parent = temp_dir();
    let dir = parent.join("data");
    let toml = |dir: &std::path::Path| {
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nmock_idp = true\n[projects.default]\nhostnames = [\"localhost\"]\n",
            dir.display()
        )
    };
    let h = Harness {
        server: Server::bind(Config::from_toml(&toml(&dir)).unwrap(), |_| None).await.unwrap().spawn(),
        dir: dir.clone(),
        postgres: None,
    };
    assert_eq!(h.login(&h.browser(), "mock").await.end.path(), "/ok");
    assert_eq!(mode(&dir), 0o700, "data directory");
    for file in ["master.key", "default.db", "default.db-wal", "default.db-shm"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    h.server.stop().await;

    // An installation from before: everything readable by others is made private at start...
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.join("default.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    // (The last connection's close may already have folded the log back into the database.)
    if let Err(e) =
        std::fs::set_permissions(dir.join("default.db-wal"), std::fs::Permissions::from_mode(0o644))
    {
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
    let again = Server::bind(Config::from_toml(&toml(&dir)).unwrap(), |_| None).await.unwrap();
    assert_eq!(
        (mode(&dir), mode(&dir.join("default.db")), mode(&dir.join("default.db-wal"))),
        (0o700, 0o600, 0o600)
    );
    drop(again);
    // ...but a key file others could read is refused: it may have been read already.
    std::fs::set_permissions(dir.join("master.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let error =
        Server::bind(Config::from_toml(&toml(&dir)).unwrap(), |_| None).await.unwrap_err().to_string();
    assert!(error.contains("master.key") && error.contains("chmod 600"), "{error}");
}

/// Finding 13: the limit counted callbacks, so a user who had already approved at the provider
/// could be turned away on the way back with a 429. Only starts count.
#[tokio::test]
async fn a_user_back_from_the_provider_is_never_rate_limited() {
    let h = Harness::start_with(temp_dir(), "127.0.0.1:0", "rate_limit = 1", "").await;
    let browser = h.browser();
    let walk = h.login(&browser, "mock").await;
    assert_eq!(walk.end.as_str(), format!("{APP}/ok"), "{:?}", walk.hops);
    let again = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert_eq!(
        again.get(h.start_url("sessions", "mock", "")).send().await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Finding 13 and RFC 9700 §4.13 (TLS-terminating proxies): behind a trusted proxy the client
/// is read from `X-Forwarded-For` (so clients do not share one limit, and sessions record who
/// signed in); from anyone else the header is ignored (so it cannot dodge the limit); IPv6
/// clients count by /64; callback URLs come from `public_url`, never from forwarded or `Host`
/// headers.
#[tokio::test]
async fn behind_a_trusted_proxy_clients_are_told_apart_and_nobody_else_can_pose_as_one() {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let start = |h: &Harness, forwarded: &str| {
        client
            .get(local(h, "v1/account/sessions/oauth2/mock?project=default&success=http://localhost:3000/ok&failure=http://localhost:3000/no"))
            .header("x-forwarded-for", forwarded.to_owned())
            .header("x-forwarded-host", "evil.test")
            .header("host", "evil.test")
            .send()
    };
    // Not trusted: every forwarded address is the same client, the peer.
    let direct = Harness::start_with(temp_dir(), "127.0.0.1:0", "rate_limit = 2", "").await;
    let statuses: Vec<u16> =
        futures_statuses(["198.51.100.1", "198.51.100.2", "198.51.100.3"].map(|ip| start(&direct, ip))).await;
    assert_eq!(statuses, [301, 301, 429], "a forged X-Forwarded-For does not dodge the limit");

    // Behind a trusted proxy on loopback.
    let proxied = start_toml(
        "public_url = \"https://auth.example.com\"\nrate_limit = 2\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n\
         mock_idp = true\nmock_idp_force = true\n[projects.default]\nhostnames = [\"localhost\"]\n",
    )
    .await;
    let first = start(&proxied, "198.51.100.1").await.unwrap();
    assert_eq!(first.status(), StatusCode::MOVED_PERMANENTLY);
    let location = url::Url::parse(first.headers()["location"].to_str().unwrap()).unwrap();
    let redirect_uri = location.query_pairs().find(|(k, _)| k == "redirect_uri").unwrap().1.into_owned();
    assert!(
        redirect_uri.starts_with("https://auth.example.com/v1/account/sessions/oauth2/callback/mock/default"),
        "{redirect_uri}"
    );
    let statuses = futures_statuses(
        [
            "198.51.100.1",              // second start of the first client
            "198.51.100.1",              // third: limited
            "198.51.100.2, 10.0.0.7",    // another client behind two proxies
            "203.0.113.9, 198.51.100.2", // the client's own prepended value is not believed
            "2001:db8:1:2::1",           // IPv6: the /64 is one client...
            "2001:db8:1:2::ffff",
            "2001:db8:1:2:abcd::1",
        ]
        .map(|ip| start(&proxied, ip)),
    )
    .await;
    assert_eq!(statuses, [301, 429, 301, 301, 301, 301, 429]);
}

/// Sends the requests one after the other and returns their statuses.
async fn futures_statuses<F>(requests: impl IntoIterator<Item = F>) -> Vec<u16>
where
    F: std::future::Future<Output = reqwest::Result<reqwest::Response>>,
{
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap().status().as_u16());
    }
    statuses
}

/// Finding 13: a session records the client behind a trusted proxy, not the proxy.
#[tokio::test]
async fn a_session_records_the_client_behind_a_trusted_proxy() {
    let h = Harness::start_with(temp_dir(), "127.0.0.1:0", "trusted_proxies = [\"127.0.0.1\"]", "").await;
    let browser = h.browser();
    let walk = browser.walk(h.start_url("tokens", "mock", "")).await.unwrap();
    let redeemed = browser
        .client()
        .post(h.url("v1/account/sessions/token"))
        .header("x-appwrite-project", "default")
        .header("x-forwarded-for", "198.51.100.23")
        .json(&json!({ "userId": walk.param("userId").unwrap(), "secret": walk.param("secret").unwrap() }))
        .send()
        .await
        .unwrap();
    let (status, session) = status_and_json(redeemed).await;
    assert_eq!((status, session["ip"].as_str()), (StatusCode::CREATED, Some("198.51.100.23")), "{session}");
}

/// Finding 12: expired sessions, one-time tokens and used states were never deleted. The
/// server's housekeeping deletes them in bounded batches, and nothing else.
#[tokio::test]
async fn housekeeping_deletes_expired_sessions_tokens_and_states() {
    let h = Harness::start("").await;
    // Live rows: a session, and a one-time token from the token flow.
    assert_eq!(h.login(&h.browser(), "mock").await.end.path(), "/ok");
    let walk = h.browser().walk(h.start_url("tokens", "mock", "")).await.unwrap();
    assert_eq!(walk.end.path(), "/ok");
    let db = h.db().await;
    let live = h.counts().await;
    // Rows that expired: 1,200 sessions (more than one batch), a token and old used states.
    let expired = loginkit_flow::Timestamp::now().millis() - 120_000;
    for i in 0..1200 {
        loginkit_flow::sqlx::query(
            "INSERT INTO loginkit_sessions (id, user_id, secret_digest, provider, provider_uid, access_token, expire, created_at, updated_at, slot)
             VALUES (?, 'u', ?, 'mock', '1', 'sealed', ?, 0, 0, ?)",
        )
        .bind(format!("old-{i}"))
        .bind(format!("digest-{i}"))
        .bind(expired)
        .bind(i)
        .execute(&db)
        .await
        .unwrap();
    }
    loginkit_flow::sqlx::query(
        "INSERT INTO loginkit_tokens (id, user_id, secret_digest, provider, expire, created_at) VALUES ('old', 'u', 'd', 'mock', ?, 0)",
    )
    .bind(expired)
    .execute(&db)
    .await
    .unwrap();
    loginkit_flow::sqlx::query("INSERT INTO loginkit_used_states (id, expire) VALUES ('old', ?)")
        .bind(expired)
        .execute(&db)
        .await
        .unwrap();
    let states = || async {
        loginkit_flow::sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM loginkit_used_states")
            .fetch_one(&db)
            .await
            .unwrap()
    };
    let live_states = states().await - 1;

    let housekeeping = tokio::spawn(loginkit_server::maintain(
        h.server.state().clone(),
        std::time::Duration::from_millis(20),
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while h.counts().await != live || states().await != live_states {
        assert!(
            std::time::Instant::now() < deadline,
            "still {:?}, {} states",
            h.counts().await,
            states().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    housekeeping.abort();
    // What is live still works.
    assert_eq!(live, (1, 1, 1, 1));
}

/// Finding 11: one key without an id, so a rotation failed every login in flight and blanked
/// every stored provider token. Keys are a ring: the new one seals, old ones still open, stored
/// tokens are re-sealed to the new key, and then the old key can go.
#[tokio::test]
async fn a_key_rotation_fails_no_login_in_flight_and_keeps_every_stored_token() {
    let (old, new) = (loginkit_flow::Keys::generate_master(), loginkit_flow::Keys::generate_master());
    // A provider outside the server, so the restarts do not forget the codes it issued.
    let idp = MockIdp::start().await.unwrap();
    let provider = common::external_mock(&idp);
    let dir = temp_dir();
    let first = Harness::start_with(dir.clone(), "127.0.0.1:0", &format!("key = \"{old}\""), &provider).await;
    let listen = format!("127.0.0.1:{}", first.server.url().port().unwrap());
    let signed_in = Browser::new([first.server.url().clone(), idp.origin()]);
    assert_eq!(first.login(&signed_in, "mock").await.end.path(), "/ok");
    let (_, before) = first.get(&signed_in, "v1/account/sessions/current").await;
    assert!(before["providerAccessToken"].as_str().unwrap().len() > 10);
    let in_flight = Browser::new([first.server.url().clone(), idp.origin()]);
    let callback = until_callback(&first, &in_flight, "mock").await;
    first.server.stop().await;

    // Rotated: the new key seals, the old one still opens.
    let rotated = format!("key = \"{new}\"\nprevious_keys = [\"{old}\"]");
    let second = Harness::start_with(dir.clone(), &listen, &rotated, &provider).await;
    let (status, after) = second.get(&signed_in, "v1/account/sessions/current").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after["providerAccessToken"], before["providerAccessToken"], "not blanked");
    assert_eq!(after["providerRefreshToken"], before["providerRefreshToken"]);
    let walk = in_flight.walk(callback).await.unwrap();
    assert_eq!(walk.end.as_str(), format!("{APP}/ok"), "the login started before the rotation completes");
    let (_, identities_before) = second.get(&signed_in, "v1/account/identities").await;
    // Re-sealed: every stored token is now the new key's (the server also does this at start).
    for (project, result) in loginkit_server::reseal(second.server.state().clone()).await {
        result.unwrap_or_else(|e| panic!("{project}: {e}"));
    }
    let new_id = loginkit_flow::Keys::from_encoded(&new).unwrap().current_id().to_owned();
    let db = second.db().await;
    for table in ["identities", "sessions"] {
        let sql = loginkit_flow::sqlx::AssertSqlSafe(format!(
            "SELECT access_token, refresh_token FROM loginkit_{table}"
        ));
        let rows: Vec<(String, Option<String>)> =
            loginkit_flow::sqlx::query_as(sql).fetch_all(&db).await.unwrap();
        assert!(!rows.is_empty());
        for (access, refresh) in rows {
            assert!(access.starts_with(&format!("{new_id}.")), "{table}: {access}");
            assert!(refresh.is_none_or(|r| r.starts_with(&format!("{new_id}."))), "{table}");
        }
    }
    second.server.stop().await;

    // The old key dropped: everything still opens.
    let third = Harness::start_with(dir, &listen, &format!("key = \"{new}\""), &provider).await;
    let (_, last) = third.get(&signed_in, "v1/account/sessions/current").await;
    assert_eq!(last["providerAccessToken"], before["providerAccessToken"]);
    let (_, identities) = third.get(&signed_in, "v1/account/identities").await;
    assert_eq!(
        identities["identities"][0]["providerAccessToken"],
        identities_before["identities"][0]["providerAccessToken"]
    );
}

/// Finding 11, the row binding: a sealed token copied into another row by someone who can write
/// the database (but has no key) does not open there.
#[tokio::test]
async fn a_sealed_token_copied_into_another_row_does_not_open() {
    let h = Harness::start("").await;
    let victim = h.browser();
    assert_eq!(h.login(&victim, "mock").await.end.path(), "/ok");
    let attacker = h.browser().answering(FormAnswer::Approve("2".into()));
    assert_eq!(h.login(&attacker, "mock").await.end.path(), "/ok");
    let (_, theirs) = h.get(&victim, "v1/account/identities").await;
    let db = h.db().await;
    for table in ["identities", "sessions"] {
        let sql = loginkit_flow::sqlx::AssertSqlSafe(format!(
            "UPDATE loginkit_{table} SET access_token = (SELECT access_token FROM loginkit_{table} WHERE provider_uid = '1')
             WHERE provider_uid = '2'"
        ));
        loginkit_flow::sqlx::query(sql).execute(&db).await.unwrap();
    }
    let (_, identities) = h.get(&attacker, "v1/account/identities").await;
    let (_, session) = h.get(&attacker, "v1/account/sessions/current").await;
    let stolen = theirs["identities"][0]["providerAccessToken"].as_str().unwrap();
    assert!(stolen.len() > 10);
    assert_eq!(identities["identities"][0]["providerAccessToken"], "", "{identities}");
    assert_eq!(session["providerAccessToken"], "", "{session}");
    assert!(!identities.to_string().contains(stolen) && !session.to_string().contains(stolen));
}
