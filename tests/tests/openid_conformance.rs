//! The generic `oidc` provider against a certified OpenID provider (panva `oidc-provider`, pinned
//! in tests/js) started on loopback: full logins through the reference server with RS256 and
//! ES256 ID tokens and mandatory PKCE, refresh, user cancel, the callback's `iss`, and signing-key
//! rotation without restarting loginkit.
//!
//! Needs Node.js and the npm packages: `tests/setup` installs them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use loginkit_server::{Config, RunningServer, Server};
use loginkit_testkit::{Browser, Submission, Walk, parse_form, scratch_dir};
use reqwest::Method;
use serde_json::Value;
use url::Url;

const APP: &str = "http://localhost:3000";

fn scratch(name: &str) -> PathBuf {
    scratch_dir(&format!("oidc-{name}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The OpenID provider, in a node process killed on drop.
struct Op {
    child: Child,
    issuer: Url,
}

impl Op {
    fn start(port: u16, redirect_uri: &str, alg: &str, jwks_file: &Path) -> Op {
        let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
        assert!(js.join("node_modules/oidc-provider").is_dir(), "oidc-provider is missing: run tests/setup");
        let mut child = Command::new("node")
            .arg(js.join("op-server.mjs"))
            .env("OP_PORT", port.to_string())
            .env("REDIRECT_URI", redirect_uri)
            .env("ID_TOKEN_ALG", alg)
            .env("JWKS_FILE", jwks_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let issuer = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("OP said {line:?}"));
        Op { issuer: Url::parse(issuer).unwrap(), child }
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Setup {
    server: RunningServer,
    op: Op,
    port: u16,
    jwks: PathBuf,
}

async fn setup(alg: &str) -> Setup {
    let dir = scratch(alg);
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/v1/account/sessions/oauth2/callback/oidc/default");
    let jwks = dir.join("jwks.json");
    let op = Op::start(0, &callback, alg, &jwks);
    let toml = format!(
        r#"listen = "127.0.0.1:{port}"
data_dir = "{}"
[projects.default]
hostnames = ["localhost"]
[projects.default.providers.oidc]
client_id = "loginkit"
client_secret = "loginkit-secret"
params = {{ issuer = "{}" }}
"#,
        dir.display(),
        op.issuer.as_str().trim_end_matches('/')
    );
    let server =
        Server::bind(Config::from_toml(&toml).unwrap(), |_| None).await.expect("server starts").spawn();
    Setup { server, op, port, jwks }
}

/// A browser that signs in at the OpenID provider as `login` and consents.
fn browser(setup: &Setup, login: &'static str) -> Browser {
    Browser::new([setup.server.url().clone(), setup.op.issuer.clone()]).on_page(move |page, html| {
        let (action, mut fields) = parse_form(page, html)?;
        for (name, value) in &mut fields {
            match name.as_str() {
                "login" => *value = login.to_owned(),
                "password" => *value = "x".to_owned(),
                _ => {}
            }
        }
        let form = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        Some(Submission { method: Method::POST, url: action, form: Some(form) })
    })
}

async fn login(setup: &Setup, browser: &Browser) -> Walk {
    let start = setup.server.url().join(&format!(
        "v1/account/sessions/oauth2/oidc?project=default&success={APP}/ok&failure={APP}/fail"
    ));
    browser.walk(start.unwrap()).await.unwrap()
}

async fn api(setup: &Setup, browser: &Browser, method: Method, path: &str) -> (u16, Value) {
    let response = browser
        .client()
        .request(method, setup.server.url().join(path).unwrap())
        .header("x-appwrite-project", "default")
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

fn error_of(walk: &Walk) -> String {
    walk.param("error").unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn rs256_login_with_pkce_then_refresh() {
    let setup = setup("RS256").await;
    let browser = browser(&setup, "alice");
    let walk = login(&setup, &browser).await;
    assert_eq!(walk.end.as_str(), format!("{APP}/ok"), "{}", error_of(&walk));
    let (status, session) = api(&setup, &browser, Method::GET, "v1/account/sessions/current").await;
    assert_eq!(status, 200);
    assert_eq!(session["provider"], "oidc");
    assert_eq!(session["providerUid"], "alice");
    let (_, account) = api(&setup, &browser, Method::GET, "v1/account").await;
    assert_eq!(account["email"], "alice@example.test");
    assert_eq!(account["emailVerification"], true);
    assert_eq!(account["name"], "Test User alice");
    // The identity keeps the login's ID token (Web SDK 28's Identity.providerIdToken).
    let (_, identities) = api(&setup, &browser, Method::GET, "v1/account/identities").await;
    let id_token = identities["identities"][0]["providerIdToken"].as_str().unwrap().to_owned();
    let payload = id_token.split('.').nth(1).expect("a JWT");
    let payload = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["sub"], "alice");
    let (status, refreshed) = api(&setup, &browser, Method::PATCH, "v1/account/sessions/current").await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["providerAccessToken"], session["providerAccessToken"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn es256_login_and_unverified_email() {
    let setup = setup("ES256").await;
    let browser = browser(&setup, "unverified-dave");
    let walk = login(&setup, &browser).await;
    assert_eq!(walk.end.path(), "/ok", "{}", error_of(&walk));
    let (_, account) = api(&setup, &browser, Method::GET, "v1/account").await;
    assert_eq!(account["email"], "unverified-dave@example.test");
    assert_eq!(account["emailVerification"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_cancel_goes_to_the_failure_url() {
    let setup = setup("RS256").await;
    // On the login page, the user presses "cancel" (the provider's abort link).
    let cancelling =
        Browser::new([setup.server.url().clone(), setup.op.issuer.clone()]).on_page(|page, html| {
            let (action, _) = parse_form(page, html)?;
            Some(Submission {
                method: Method::GET,
                url: Url::parse(&format!("{action}/abort")).ok()?,
                form: None,
            })
        });
    let walk = login(&setup, &cancelling).await;
    assert_eq!(walk.end.path(), "/fail");
    let error: Value = serde_json::from_str(&error_of(&walk)).unwrap();
    assert_eq!(error["type"], "user_oauth2_provider_error");
    assert!(error["message"].as_str().unwrap().contains("access_denied"), "{error}");
    assert_eq!(api(&setup, &cancelling, Method::GET, "v1/account").await.0, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callback_naming_another_issuer_is_refused() {
    let setup = setup("RS256").await;
    let browser = browser(&setup, "erin").stopping_before("/v1/account/sessions/oauth2/callback/");
    let walk = login(&setup, &browser).await;
    let callback = walk.end;
    assert!(
        callback
            .query_pairs()
            .any(|(k, v)| k == "iss" && v == setup.op.issuer.as_str().trim_end_matches('/'))
    );
    let mut forged = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            if k == "iss" {
                (k.into_owned(), "https://evil.test".into())
            } else {
                (k.into_owned(), v.into_owned())
            }
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    // The binding cookie lives in the first browser's jar: reuse its client for the callback.
    let response = browser.client().get(forged).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 301);
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.path(), "/fail");
    let error = location.query_pairs().find(|(k, _)| k == "error").unwrap().1.into_owned();
    assert!(error.contains("user_oauth2_provider_failure"), "{error}");
    // The browser that sent the forged callback got no session.
    assert_eq!(api(&setup, &browser, Method::GET, "v1/account").await.0, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_keys_rotate_without_restarting_loginkit() {
    let mut setup = setup("RS256").await;
    let first = browser(&setup, "frank");
    assert_eq!(login(&setup, &first).await.end.path(), "/ok");
    // The provider restarts on the same port with brand-new keys.
    let issuer_port = setup.op.issuer.port().unwrap();
    let callback =
        format!("http://127.0.0.1:{}/v1/account/sessions/oauth2/callback/oidc/default", setup.port);
    let _ = setup.op.child.kill();
    let _ = setup.op.child.wait();
    std::fs::remove_file(&setup.jwks).unwrap();
    setup.op = Op::start(issuer_port, &callback, "RS256", &setup.jwks);
    // Unknown-kid refetches are rate-limited to one per 10 s per JWKS URL.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let second = browser(&setup, "grace");
    let walk = login(&setup, &second).await;
    assert_eq!(walk.end.path(), "/ok", "{}", error_of(&walk));
    assert_eq!(api(&setup, &second, Method::GET, "v1/account").await.1["email"], "grace@example.test");
}
