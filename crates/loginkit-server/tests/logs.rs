//! Secrets never reach the logs: a full login, a refresh and a sign-out with every crate logging
//! at TRACE, then every secret of the login searched for in what was written.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::{APP, Harness, temp_dir};
use loginkit_testkit::{Browser, MockClient, MockIdp, MockIdpConfig};
use reqwest::StatusCode;
use reqwest::cookie::CookieStore;

const CLIENT_SECRET: &str = "client-secret-4c0ffee5-never-logged";
const API_KEY: &str = "api-key-of-the-apps-server-5eaf00d-never-logged";

/// Everything written by the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_logged_at_trace_leaks_no_secret() {
    let captured = Captured::default();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(captured.clone())
        .with_ansi(false)
        .init();

    let idp = MockIdp::start_with(MockIdpConfig {
        clients: vec![MockClient::new("logs-client", CLIENT_SECRET)],
        ..MockIdpConfig::default()
    })
    .await
    .unwrap();
    let extra = format!(
        "[projects.default.providers.mock]\nclient_id = \"logs-client\"\nclient_secret = \"{CLIENT_SECRET}\"\nbase_url = \"{}\"\n\
         [projects.default.api_keys.ssr]\nsecret_env = \"SSR_KEY\"\nscopes = [\"sessions.write\"]",
        idp.origin()
    );
    let dir = temp_dir();
    let toml = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nmock_idp = true\n[projects.default]\nhostnames = [\"localhost\"]\n{extra}",
        dir.display()
    );
    let config = loginkit_server::Config::from_toml(&toml).unwrap();
    let server =
        loginkit_server::Server::bind(config, |name| (name == "SSR_KEY").then(|| API_KEY.to_owned()))
            .await
            .unwrap()
            .spawn();
    let h = Harness { server, dir, postgres: None };
    let browser = Browser::new([h.server.url().clone(), idp.origin()]);
    let walk = h.login(&browser, "mock").await;
    assert_eq!(walk.end.as_str(), format!("{APP}/ok"));

    // The secrets of this login.
    let exchange = idp.handle().last_token_request().expect("a code exchange");
    let code = exchange.form_value("code").unwrap().to_owned();
    let verifier = exchange.form_value("code_verifier").unwrap().to_owned();
    let (_, session) = h.get(&browser, "v1/account/sessions/current").await;
    let access = session["providerAccessToken"].as_str().unwrap().to_owned();
    let refresh = session["providerRefreshToken"].as_str().unwrap().to_owned();
    let (status, refreshed) = h.api(&browser, reqwest::Method::PATCH, "v1/account/sessions/current").await;
    assert_eq!(status, StatusCode::OK);
    let new_access = refreshed["providerAccessToken"].as_str().unwrap().to_owned();
    let cookies = browser.jar().cookies(h.server.url()).unwrap().to_str().unwrap().to_owned();
    let session_cookie = cookies
        .split("; ")
        .find_map(|c| c.strip_prefix("a_session_default="))
        .expect("the session cookie")
        .to_owned();
    let decoded = base64::engine::general_purpose::STANDARD.decode(&session_cookie).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
    let session_secret = value["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        h.api(&browser, reqwest::Method::DELETE, "v1/account/sessions/current").await.0,
        StatusCode::NO_CONTENT
    );

    // The app's server with its key: a token-flow login it started, and the secrets it redeems.
    let server = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let start = server
        .get(h.start_url("tokens", "mock", ""))
        .header("x-appwrite-project", "default")
        .header("x-appwrite-key", API_KEY)
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    let walk = Browser::new([h.server.url().clone(), idp.origin()]).walk(location).await.unwrap();
    let token_secret = walk.param("secret").expect("a token-flow secret");
    let created: serde_json::Value = server
        .post(h.url("v1/account/sessions/token"))
        .header("x-appwrite-project", "default")
        .header("x-appwrite-key", API_KEY)
        .json(&serde_json::json!({ "userId": walk.param("userId").unwrap(), "secret": token_secret }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keyed_session = created["secret"].as_str().unwrap().to_owned();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("TRACE") && logs.contains("request"), "the capture works: {} bytes", logs.len());
    for (name, secret) in [
        ("client secret", CLIENT_SECRET),
        ("authorization code", &code),
        ("PKCE verifier", &verifier),
        ("access token", &access),
        ("refresh token", &refresh),
        ("refreshed access token", &new_access),
        ("session cookie", &session_cookie),
        ("session secret", &session_secret),
        ("API key", API_KEY),
        ("API key digest", &loginkit_flow::BackendKey::digest_of(API_KEY)),
        ("token-flow secret", &token_secret),
        ("session secret given to the key", &keyed_session),
    ] {
        assert!(secret.len() >= 16, "{name} is long enough to search for");
        assert!(!logs.contains(secret), "the {name} is in the logs");
    }
}
