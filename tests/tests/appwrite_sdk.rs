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
    let dir = loginkit_testkit::scratch_dir("sdk");
    let mut config = Config::zero();
    config.listen = "127.0.0.1:0".into();
    config.data_dir = dir;
    Server::bind(config, |_| None).await.expect("server starts").spawn()
}

/// Runs a script against the server and returns its JSON summary; fails with its stderr.
async fn run(script: &str, server: &RunningServer) -> Value {
    let endpoint = format!("{}v1", server.url());
    let path = js_dir().join(script);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&path)
            .env("LOGINKIT_ENDPOINT", endpoint)
            .env("LOGINKIT_PROJECT", "default")
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
    let server = server().await;
    let summary = run("sdk-node.mjs", &server).await;
    assert_eq!(summary["session"]["provider"], "mock", "{summary}");
    assert_eq!(summary["session"]["providerUid"], "1", "{summary}");
    assert!(summary["identities"].as_u64().unwrap() >= 1, "{summary}");
    let steps: Vec<&str> = summary["steps"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for step in ["createSession", "getSession", "updateSession", "listIdentities", "deleteSession"] {
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
