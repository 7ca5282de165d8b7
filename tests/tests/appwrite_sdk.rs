//! The real Appwrite SDKs against the reference server: the Web SDK (npm `appwrite`, pinned in
//! tests/js) in Node (token flow, sessions, refresh, identities, delete, native ID tokens) and in
//! headless Chromium (session flow same-site, token flow cross-site through `X-Fallback-Cookies`);
//! the Python SDK (tests/py); and server-side rendering with an API key through the server SDKs
//! (`node-appwrite` in tests/js, the Python SDK).
//!
//! Needs Node.js, the npm packages, the Python virtual environment and Debian's chromium:
//! `tests/setup` installs them.

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
        ["appwrite", "node-appwrite", "playwright-core"].iter().all(|m| modules.join(m).is_dir()),
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
    run_program("node".into(), js_dir().join(script), server, env).await
}

/// The Python of the test environment.
fn python() -> PathBuf {
    let python = js_dir().join("../py/.venv/bin/python");
    assert!(python.exists(), "the Python SDK is missing: run tests/setup");
    python
}

/// Runs `program script` against the server and returns its JSON summary (the last line on
/// stdout starting with `{`, which must say `"ok": true`); fails with its output.
async fn run_program(
    program: PathBuf,
    script: PathBuf,
    server: &RunningServer,
    env: Vec<(&'static str, String)>,
) -> Value {
    let endpoint = format!("{}v1", server.url());
    let name = script.file_name().unwrap().to_string_lossy().into_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&program)
            .arg(&script)
            .env("LOGINKIT_ENDPOINT", endpoint)
            .env("LOGINKIT_PROJECT", "default")
            .envs(env)
            .current_dir(js_dir())
            .output()
            .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()))
    })
    .await
    .unwrap();
    let script = name;
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
    let python = python();
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
    let script = js_dir().join("../py/sdk_python.py");
    let summary = run_program(python, script, &server, vec![("LOGINKIT_SESSION", session)]).await;
    assert_eq!(summary["email"], "useroauth@localhost.test", "{summary}");
}

/// The API key of the server-side-rendering tests.
const SSR_KEY: &str = "ssr-key-of-the-apps-server-0123456789abcdef0123456789";

/// Server-side rendering as Appwrite's guides teach it, with a server SDK: the app's server starts
/// the login with its key and redirects the browser; the browser (a fresh one, which never saw
/// the start) walks the provider back to the app's success route; the app's server redeems the
/// secret with its key and then works as the session client. The SDK script runs twice, before
/// and after the browser's walk.
async fn server_side_rendering(program: PathBuf, script: PathBuf) -> Value {
    let mut config = Config::zero();
    let keys = Config::from_toml(&format!(
        "[projects.default.api_keys.ssr]\nsha256 = \"{}\"\nscopes = [\"sessions.write\", \"users.read\"]",
        loginkit_flow::BackendKey::digest_of(SSR_KEY)
    ))
    .unwrap();
    config.projects.get_mut("default").unwrap().api_keys = keys.projects["default"].api_keys.clone();
    let server = server_with(config).await;
    let env = |phase: &str, more: Vec<(&'static str, String)>| {
        let mut env = vec![("LOGINKIT_API_KEY", SSR_KEY.to_owned()), ("LOGINKIT_PHASE", phase.to_owned())];
        env.extend(more);
        env
    };
    let started = run_program(program.clone(), script.clone(), &server, env("start", Vec::new())).await;
    let url = url::Url::parse(started["url"].as_str().unwrap()).unwrap();
    let walk = loginkit_testkit::Browser::new([server.url().clone()]).walk(url).await.unwrap();
    assert_eq!(walk.end.path(), "/ok", "{:?}", walk.hops);
    let landed = vec![
        ("LOGINKIT_USER_ID", walk.param("userId").unwrap()),
        ("LOGINKIT_SECRET", walk.param("secret").unwrap()),
    ];
    let finished = run_program(program, script, &server, env("finish", landed)).await;
    assert_eq!(finished["email"], "useroauth@localhost.test", "{finished}");
    finished
}

#[tokio::test(flavor = "multi_thread")]
async fn node_appwrite_renders_server_side_with_an_api_key() {
    require_setup();
    let summary = server_side_rendering("node".into(), js_dir().join("ssr-node.mjs")).await;
    let steps: Vec<&str> = summary["steps"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(steps.contains(&"createSession without the key: 401 user_invalid_token"), "{steps:?}");
    assert!(steps.contains(&"account.get after deleteSession: 401 general_unauthorized_scope"), "{steps:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_renders_server_side_with_an_api_key() {
    let summary = server_side_rendering(python(), js_dir().join("../py/ssr_python.py")).await;
    let steps: Vec<&str> = summary["steps"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(steps.contains(&"create_session without the key: 401 user_invalid_token"), "{steps:?}");
    assert!(steps.contains(&"account.get after delete_session: 401 general_unauthorized_scope"), "{steps:?}");
}
