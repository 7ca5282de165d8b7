//! A test-controlled hostile OpenID provider: every kind of bad ID token is refused at the
//! callback with its own error, and no user, identity or session is written. With a well-behaved
//! provider, discovery and JWKS are fetched once across 100 logins, and once for concurrent cold
//! logins; a warm login makes two outbound requests (token and user info).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use loginkit::jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use loginkit::jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use loginkit_flow::sqlx::{self, SqlitePool};
use loginkit_server::{Config, RunningServer, Server};
use loginkit_testkit::{Browser, scratch_dir};
use serde_json::{Value, json};
use url::Url;

const RSA_PEM: &[u8] = include_bytes!("../../crates/loginkit-core/tests/fixtures/test-only-rsa.pem");
const RSA_PUB_PEM: &[u8] = include_bytes!("../../crates/loginkit-core/tests/fixtures/test-only-rsa.pub.pem");
const RSA2_PEM: &[u8] = include_bytes!("../../crates/loginkit-core/tests/fixtures/test-only-rsa-2.pem");
const APP: &str = "http://localhost:3000";
const CLIENT: &str = "hostile-client";

/// How the provider misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Good,
    AlgNone,
    Hs256WithPublicKey,
    WrongIssuer,
    WrongAudience,
    Expired,
    WrongNonce,
    BadSignature,
    UnknownKid,
    SubjectMismatch,
    /// The ID token of a refresh answer names another subject.
    RefreshOtherSubject,
    /// The ID token of a refresh answer is signed by a key the provider does not publish.
    RefreshBadSignature,
}

#[derive(Default)]
struct Hits {
    discovery: AtomicUsize,
    jwks: AtomicUsize,
    token: AtomicUsize,
    userinfo: AtomicUsize,
}

struct Op {
    issuer: String,
    mode: Mutex<Mode>,
    nonces: Mutex<HashMap<String, String>>,
    hits: Hits,
}

type Shared = Arc<Op>;

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

async fn discovery(State(op): State<Shared>) -> Json<Value> {
    op.hits.discovery.fetch_add(1, Ordering::SeqCst);
    let i = op.issuer.trim_end_matches('/');
    Json(json!({
        "issuer": op.issuer,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
    }))
}

async fn jwks(State(op): State<Shared>) -> Json<Value> {
    op.hits.jwks.fetch_add(1, Ordering::SeqCst);
    let key = EncodingKey::from_rsa_pem(RSA_PEM).unwrap();
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("k1".into());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Json(json!({ "keys": [jwk] }))
}

async fn authorize(State(op): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    // Numbered and recorded under one lock: concurrent logins must never share a code.
    let code = {
        let mut nonces = op.nonces.lock().unwrap();
        let code = format!("code-{}", nonces.len());
        nonces.insert(code.clone(), q.get("nonce").cloned().unwrap_or_default());
        code
    };
    let mut to = Url::parse(&q["redirect_uri"]).unwrap();
    to.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &q["state"])
        .append_pair("iss", &op.issuer);
    Redirect::to(to.as_str()).into_response()
}

async fn token(State(op): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Json<Value> {
    op.hits.token.fetch_add(1, Ordering::SeqCst);
    let mode = *op.mode.lock().unwrap();
    let refresh = form.get("grant_type").is_some_and(|g| g == "refresh_token");
    let grant = if refresh { form["refresh_token"].clone() } else { form["code"].clone() };
    let nonce = op.nonces.lock().unwrap().get(&grant).cloned().unwrap_or_default();
    let mut claims = json!({
        "iss": op.issuer, "aud": CLIENT, "sub": "hostile-user", "iat": now(), "exp": now() + 600, "nonce": nonce,
    });
    if refresh {
        // OpenID Connect Core §12.2: no nonce in a refreshed ID token.
        claims.as_object_mut().unwrap().remove("nonce");
    }
    match mode {
        Mode::RefreshOtherSubject if refresh => claims["sub"] = json!("someone-else"),
        Mode::WrongIssuer => claims["iss"] = json!("https://evil.test"),
        Mode::WrongAudience => claims["aud"] = json!("someone-else"),
        Mode::Expired => {
            claims["iat"] = json!(now() - 7200);
            claims["exp"] = json!(now() - 3600);
        }
        Mode::WrongNonce => claims["nonce"] = json!("not-the-nonce"),
        _ => {}
    }
    let rs256 = |kid: &str, pem: &[u8]| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        encode(&header, &claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap()
    };
    let id_token = match mode {
        Mode::AlgNone => {
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
            format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
        }
        Mode::Hs256WithPublicKey => {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("k1".into());
            encode(&header, &claims, &EncodingKey::from_secret(RSA_PUB_PEM)).unwrap()
        }
        Mode::BadSignature => rs256("k1", RSA2_PEM),
        Mode::RefreshBadSignature if refresh => rs256("k1", RSA2_PEM),
        Mode::UnknownKid => rs256("k-unknown", RSA_PEM),
        _ => rs256("k1", RSA_PEM),
    };
    let serial = op.hits.token.load(Ordering::SeqCst);
    Json(json!({
        "access_token": format!("at-{grant}-{serial}"), "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": format!("rt-{serial}"), "id_token": id_token,
    }))
}

async fn userinfo(State(op): State<Shared>) -> Json<Value> {
    op.hits.userinfo.fetch_add(1, Ordering::SeqCst);
    let sub = if *op.mode.lock().unwrap() == Mode::SubjectMismatch { "someone-else" } else { "hostile-user" };
    Json(json!({ "sub": sub, "email": "hostile@example.test", "email_verified": true, "name": "H" }))
}

async fn start_op() -> Shared {
    start_op_as("").await
}

/// The provider, with `suffix` after its address in its issuer (`/`, as Auth0's issuers end).
async fn start_op_as(suffix: &str) -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}{suffix}", listener.local_addr().unwrap());
    let op = Arc::new(Op {
        issuer,
        mode: Mutex::new(Mode::Good),
        nonces: Mutex::default(),
        hits: Hits::default(),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo))
        .with_state(op.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    op
}

struct Setup {
    op: Shared,
    server: RunningServer,
    db: String,
}

async fn setup() -> Setup {
    setup_with(start_op().await).await
}

async fn setup_with(op: Shared) -> Setup {
    let dir = scratch_dir("hostile");
    let toml = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nrate_limit = 0\n[projects.default]\nhostnames = [\"localhost\"]\n\
         [projects.default.providers.oidc]\nclient_id = \"{CLIENT}\"\nclient_secret = \"s\"\nparams = {{ issuer = \"{}\" }}\n\
         native = true\n",
        dir.display(),
        op.issuer
    );
    let server = Server::bind(Config::from_toml(&toml).unwrap(), |_| None).await.unwrap().spawn();
    Setup { op, server, db: format!("sqlite://{}/default.db", dir.display()) }
}

impl Setup {
    fn browser(&self) -> Browser {
        Browser::new([self.server.url().clone(), Url::parse(&self.op.issuer).unwrap()])
    }

    async fn login(&self) -> Url {
        self.login_in(&self.browser()).await
    }

    async fn login_in(&self, browser: &Browser) -> Url {
        let start = self
            .server
            .url()
            .join(&format!(
                "v1/account/sessions/oauth2/oidc?project=default&success={APP}/ok&failure={APP}/fail"
            ))
            .unwrap();
        browser.walk(start).await.unwrap().end
    }

    async fn rows(&self) -> i64 {
        let db = SqlitePool::connect(&self.db).await.unwrap();
        let mut total = 0;
        for table in ["users", "identities", "sessions", "tokens"] {
            let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM loginkit_{table}"));
            total += sqlx::query_scalar::<_, i64>(sql).fetch_one(&db).await.unwrap();
        }
        total
    }
}

fn error(end: &Url) -> Value {
    let raw = end.query_pairs().find(|(k, _)| k == "error").map(|(_, v)| v.into_owned()).unwrap_or_default();
    serde_json::from_str(&raw).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_id_token_is_refused_with_its_own_error_and_nothing_written() {
    let setup = setup().await;
    let mut messages = Vec::new();
    for mode in [
        Mode::AlgNone,
        Mode::Hs256WithPublicKey,
        Mode::WrongIssuer,
        Mode::WrongAudience,
        Mode::Expired,
        Mode::WrongNonce,
        Mode::BadSignature,
        Mode::UnknownKid,
        Mode::SubjectMismatch,
    ] {
        *setup.op.mode.lock().unwrap() = mode;
        let end = setup.login().await;
        assert_eq!(end.path(), "/fail", "{mode:?} was accepted");
        let error = error(&end);
        let expected = if mode == Mode::SubjectMismatch {
            "user_oauth2_provider_error"
        } else {
            "user_oauth2_provider_failure"
        };
        assert_eq!(error["type"], expected, "{mode:?}: {error}");
        messages.push(error["message"].as_str().unwrap().to_owned());
        assert_eq!(setup.rows().await, 0, "{mode:?} wrote something");
    }
    let mut distinct = messages.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), messages.len(), "each refusal names its own reason: {messages:#?}");
    println!("{messages:#?}");
    // The same provider behaving: the login goes through.
    *setup.op.mode.lock().unwrap() = Mode::Good;
    assert_eq!(setup.login().await.path(), "/ok");
    assert_eq!(setup.rows().await, 3, "user, identity, session");
}

/// The ID token the provider would issue in `mode`, for a native sign-in with nonce `nonce`.
async fn native_token(op: &Shared, mode: Mode, nonce: &str) -> String {
    *op.mode.lock().unwrap() = mode;
    let grant = format!("native-{mode:?}");
    op.nonces.lock().unwrap().insert(grant.clone(), nonce.to_owned());
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/token", op.issuer.trim_end_matches('/')))
        .form(&[("grant_type", "authorization_code"), ("code", grant.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["id_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_id_token_is_refused_at_native_sign_in_too_and_nothing_written() {
    let setup = setup().await;
    let sign_in = |id_token: String| {
        let url = setup.server.url().join("v1/account/sessions/id-token").unwrap();
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .header("x-appwrite-project", "default")
                .json(&json!({ "provider": "oidc", "idToken": id_token, "nonce": "n-native" }))
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let mut messages = Vec::new();
    for mode in [
        Mode::AlgNone,
        Mode::Hs256WithPublicKey,
        Mode::WrongIssuer,
        Mode::WrongAudience,
        Mode::Expired,
        Mode::WrongNonce,
        Mode::BadSignature,
        Mode::UnknownKid,
    ] {
        let (status, error) = sign_in(native_token(&setup.op, mode, "n-native").await).await;
        assert_eq!(
            (status, error["type"].as_str()),
            (401, Some("user_oauth2_token_invalid")),
            "{mode:?}: {error}"
        );
        messages.push(error["message"].as_str().unwrap().to_owned());
        assert_eq!(setup.rows().await, 0, "{mode:?} wrote something");
    }
    let mut distinct = messages.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), messages.len(), "each refusal names its own check: {messages:#?}");
    let (status, session) = sign_in(native_token(&setup.op, Mode::Good, "n-native").await).await;
    assert_eq!((status, session["provider"].as_str()), (201, Some("oidc")), "{session}");
    assert_eq!(setup.rows().await, 3, "user, identity, session");
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_and_keys_are_fetched_once_for_a_hundred_logins() {
    let setup = setup().await;
    for _ in 0..100 {
        assert_eq!(setup.login().await.path(), "/ok");
    }
    let hits = &setup.op.hits;
    assert_eq!(hits.discovery.load(Ordering::SeqCst), 1);
    assert_eq!(hits.jwks.load(Ordering::SeqCst), 1);
    assert_eq!(hits.token.load(Ordering::SeqCst), 100);
    assert_eq!(hits.userinfo.load(Ordering::SeqCst), 100, "a warm login calls token and user info only");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_cold_logins_fetch_discovery_and_keys_once() {
    let setup = Arc::new(setup().await);
    let logins: Vec<_> = (0..20)
        .map(|_| {
            let setup = setup.clone();
            tokio::spawn(async move { setup.login().await })
        })
        .collect();
    for login in logins {
        let end = login.await.unwrap();
        assert_eq!(end.path(), "/ok", "{end}");
    }
    assert_eq!(setup.op.hits.discovery.load(Ordering::SeqCst), 1);
    assert_eq!(setup.op.hits.jwks.load(Ordering::SeqCst), 1);
}

/// An Auth0-style issuer ends with `/`: discovery, document and tokens carry it exactly so.
#[tokio::test(flavor = "multi_thread")]
async fn an_issuer_ending_in_a_slash_is_compared_as_configured() {
    let setup = setup_with(start_op_as("/").await).await;
    assert!(setup.op.issuer.ends_with('/'));
    let end = setup.login().await;
    assert_eq!(end.path(), "/ok", "{}", error(&end));
    assert_eq!(setup.op.hits.discovery.load(Ordering::SeqCst), 1);
}

/// OpenID Connect Core §12.2: an ID token in a refresh answer passes the login's checks (but the
/// nonce), and names the subject of the login; otherwise the refresh is refused and nothing
/// changes.
#[tokio::test(flavor = "multi_thread")]
async fn a_refreshed_id_token_is_verified_and_must_name_the_same_subject() {
    let setup = setup().await;
    let browser = setup.browser();
    assert_eq!(setup.login_in(&browser).await.path(), "/ok");
    let patch = || async {
        let response = browser
            .client()
            .patch(setup.server.url().join("v1/account/sessions/current").unwrap())
            .header("x-appwrite-project", "default")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    let (status, good) = patch().await;
    assert_eq!(status, 200, "a good refresh: {good}");
    for (mode, why) in [(Mode::RefreshOtherSubject, "another user"), (Mode::RefreshBadSignature, "signature")]
    {
        *setup.op.mode.lock().unwrap() = mode;
        let (status, body) = patch().await;
        assert_eq!(
            (status, body["type"].as_str()),
            (424, Some("user_oauth2_provider_error")),
            "{mode:?}: {body}"
        );
        assert!(body["message"].as_str().unwrap().to_lowercase().contains(why), "{mode:?}: {body}");
        *setup.op.mode.lock().unwrap() = Mode::Good;
        let current = browser
            .client()
            .get(setup.server.url().join("v1/account/sessions/current").unwrap())
            .header("x-appwrite-project", "default")
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(current["providerAccessToken"], good["providerAccessToken"], "{mode:?}: tokens unchanged");
    }
    assert_eq!(patch().await.0, 200, "the provider behaving again");
}
