//! The real Appwrite Web SDK (npm `appwrite`, pinned in tests/js) against the reference server:
//! in Node (token flow, sessions, refresh, identities, delete) and in headless Chromium (session
//! flow same-site, token flow cross-site through `X-Fallback-Cookies`).
//!
//! Needs Node.js, the npm packages and Debian's chromium: `tests/setup` installs them.

use std::path::{Path, PathBuf};
use std::process::Command;

use loginkit_server::{Config, RunningServer, Server};
use serde_json::Value;

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

fn require_setup() {
    let modules = js_dir().join("node_modules");
    assert!(
        modules.join("appwrite").is_dir() && modules.join("playwright-core").is_dir(),
        "the SDK test dependencies are missing: run tests/setup"
    );
    assert!(Path::new("/usr/bin/chromium").exists(), "chromium is missing: run tests/setup");
}

async fn server() -> RunningServer {
    server_with(Config::zero()).await
}

async fn server_with(mut config: Config) -> RunningServer {
    config.listen = "127.0.0.1:0".into();
    config.data_dir = loginkit_testkit::scratch_dir("sdk");
    Server::bind(config, |_| None).await.expect("server starts").spawn()
}

/// Google's key set published on loopback by `signer`; the server's `google` provider reads
/// it there and takes native ID tokens (`createIdTokenSession`).
async fn with_native_google(signer: &loginkit_testkit::id_token::TestSigner) -> Config {
    let jwks = signer.jwks();
    let keys = axum::Router::new()
        .route("/oauth2/v3/certs", axum::routing::get(move || async move { axum::Json(jwks) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, keys).await });
    let google = Config::from_toml(&format!(
        "[projects.default.providers.google]\nclient_id = \"web\"\nclient_secret = \"s\"\nbase_url = \"{origin}\"\nnative = true"
    ))
    .unwrap();
    let google = google.projects["default"].providers["google"].clone();
    let mut config = Config::zero();
    config.projects.get_mut("default").unwrap().providers.insert("google".into(), google);
    config
}

/// Runs a script against the server and returns its JSON summary; fails with its stderr.
async fn run(script: &str, server: &RunningServer) -> Value {
    run_with(script, server, Vec::new()).await
}

/// Like [`run`], with further environment variables for the script.
async fn run_with(script: &str, server: &RunningServer, env: Vec<(&'static str, String)>) -> Value {
    let endpoint = format!("{}v1", server.url());
    let path = js_dir().join(script);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&path)
            .env("LOGINKIT_ENDPOINT", endpoint)
            .env("LOGINKIT_PROJECT", "default")
            .envs(env)
            .current_dir(js_dir())
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).expect("a JSON summary line");
    let summary: Value = serde_json::from_str(line).expect("JSON summary");
    assert_eq!(summary["ok"], true, "{summary}");
    summary
}

#[tokio::test(flavor = "multi_thread")]
async fn appwrite_sdk_in_node_drives_the_token_flow_and_the_session_api() {
    require_setup();
    let signer = loginkit_testkit::id_token::TestSigner::rs256();
    let server = server_with(with_native_google(&signer).await).await;
    // An ID token a native Google sign-in would hand the app (Web SDK 28's createIdTokenSession).
    let claims = serde_json::json!({ "sub": "g-42", "email": "native@example.test", "email_verified": true, "nonce": "n-42" });
    let id_token =
        signer.sign(&loginkit_testkit::id_token::claims("https://accounts.google.com", "web", &claims));
    let env = vec![("LOGINKIT_ID_TOKEN", id_token), ("LOGINKIT_ID_TOKEN_NONCE", "n-42".to_owned())];
    let summary = run_with("sdk-node.mjs", &server, env).await;
    assert_eq!(summary["session"]["provider"], "mock", "{summary}");
    assert_eq!(summary["info"]["idTokenSession"], "g-42", "{summary}");
    assert_eq!(summary["session"]["providerUid"], "1", "{summary}");
    assert!(summary["identities"].as_u64().unwrap() >= 1, "{summary}");
    let steps: Vec<&str> = summary["steps"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for step in [
        "createSession",
        "getSession",
        "updateSession",
        "listIdentities",
        "deleteSession",
        "createIdTokenSession",
    ] {
        assert!(steps.iter().any(|s| s.contains(step)), "missing step {step}: {steps:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn appwrite_sdk_in_chromium_signs_in_same_site_and_cross_site() {
    require_setup();
    let server = server().await;
    let summary = run("browser.mjs", &server).await;
    assert_eq!(summary["sameSite"]["session"]["provider"], "mock", "{summary}");
    assert_eq!(summary["crossSite"]["token"]["storage"]["cookieFallbackSet"], true, "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_starts_a_login_reads_the_account_and_deletes_the_session() {
    let python = js_dir().join("../py/.venv/bin/python");
    assert!(python.exists(), "the Python SDK is missing: run tests/setup");
    let server = server().await;
    // A signed-in browser's session: what a server-side app would hand the SDK's session client.
    let browser = loginkit_testkit::Browser::new([server.url().clone()]);
    let start = server
        .url()
        .join("v1/account/sessions/oauth2/mock?project=default&success=http://localhost/ok&failure=http://localhost/fail")
        .unwrap();
    let walk = browser.walk(start).await.unwrap();
    assert_eq!(walk.end.path(), "/ok", "{}", walk.end);
    let cookies = reqwest::cookie::CookieStore::cookies(browser.jar().as_ref(), server.url()).unwrap();
    let session = cookies
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|c| c.strip_prefix("a_session_default="))
        .expect("the session cookie")
        .to_owned();
    let endpoint = format!("{}v1", server.url());
    let script = js_dir().join("../py/sdk_python.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("LOGINKIT_ENDPOINT", endpoint)
            .env("LOGINKIT_PROJECT", "default")
            .env("LOGINKIT_SESSION", session)
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "sdk_python.py failed:\n{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["email"], "useroauth@localhost.test", "{summary}");
}
