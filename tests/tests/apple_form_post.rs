//! Sign in with Apple end to end through the reference server, against a stand-in for Apple's
//! endpoints: the callback arrives as a cross-site form POST (`response_mode=form_post`) carrying
//! the one-time `user` field, the client secret is an ES256 JWT checked with the key's public half,
//! and the profile comes from the ID token verified with the published keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use loginkit::jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use loginkit::jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use loginkit_server::{Config, Server};
use loginkit_testkit::{Browser, Submission, parse_form, scratch_dir};
use reqwest::Method;
use serde_json::{Value, json};

const RSA_PEM: &[u8] = include_bytes!("../../crates/loginkit-core/tests/fixtures/test-only-rsa.pem");
const P8: &str = include_str!("../../providers/apple/tests/fixtures/test-only-AuthKey.p8");
const P8_PUBLIC: &str = include_str!("../../providers/apple/tests/fixtures/test-only-AuthKey.pub.pem");
const SERVICES_ID: &str = "com.example.web";
const TEAM: &str = "TEAM123456";
const APP: &str = "http://localhost:3000";

#[derive(Default)]
struct FakeApple {
    nonces: Mutex<HashMap<String, String>>,
}

/// Apple's answer to the authorize request with `response_mode=form_post`: a page whose form posts
/// the code, the state and (on a first sign-in) the user's name to the redirect URI.
async fn authorize(
    State(apple): State<Arc<FakeApple>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(q.get("response_mode").map(String::as_str), Some("form_post"));
    let code = format!("c{}", apple.nonces.lock().unwrap().len());
    apple.nonces.lock().unwrap().insert(code.clone(), q.get("nonce").cloned().unwrap_or_default());
    let user =
        r#"{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"x7yq@privaterelay.appleid.com"}"#;
    let escape = |s: &str| s.replace('&', "&amp;").replace('"', "&quot;");
    Html(format!(
        "<html><body onload=\"document.forms[0].submit()\"><form action=\"{}\" method=\"post\">\
         <input type=\"hidden\" name=\"code\" value=\"{code}\">\
         <input type=\"hidden\" name=\"state\" value=\"{}\">\
         <input type=\"hidden\" name=\"user\" value=\"{}\"></form></body></html>",
        escape(&q["redirect_uri"]),
        escape(&q["state"]),
        escape(user)
    ))
    .into_response()
}

async fn token(State(apple): State<Arc<FakeApple>>, Form(form): Form<HashMap<String, String>>) -> Response {
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&["https://appleid.apple.com"]);
    validation.set_issuer(&[TEAM]);
    let secret = decode::<Value>(
        &form["client_secret"],
        &DecodingKey::from_ec_pem(P8_PUBLIC.as_bytes()).unwrap(),
        &validation,
    );
    if secret.map(|t| t.claims["sub"] != SERVICES_ID).unwrap_or(true) {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": "invalid_client" }))).into_response();
    }
    let nonce = apple.nonces.lock().unwrap().get(&form["code"]).cloned().unwrap_or_default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({
        "iss": "https://appleid.apple.com", "aud": SERVICES_ID, "exp": now + 600, "iat": now, "nonce": nonce,
        "sub": "001234.apple-user", "email": "x7yq@privaterelay.appleid.com", "email_verified": "true",
        "is_private_email": "true",
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("apple-1".into());
    let id_token = encode(&header, &claims, &EncodingKey::from_rsa_pem(RSA_PEM).unwrap()).unwrap();
    Json(json!({ "access_token": "a.0.apple", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "r.0.apple", "id_token": id_token }))
        .into_response()
}

async fn keys() -> Json<Value> {
    let mut jwk =
        Jwk::from_encoding_key(&EncodingKey::from_rsa_pem(RSA_PEM).unwrap(), Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("apple-1".into());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Json(json!({ "keys": [jwk] }))
}

#[tokio::test(flavor = "multi_thread")]
async fn form_post_login_verifies_the_id_token_and_captures_the_name() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let apple_origin = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let app = Router::new()
        .route("/auth/authorize", get(authorize))
        .route("/auth/token", post(token))
        .route("/auth/keys", get(keys))
        .with_state(Arc::new(FakeApple::default()));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = scratch_dir("apple");
    let toml = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n[projects.default]\nhostnames = [\"localhost\"]\n\
         [projects.default.providers.apple]\nclient_id = \"{SERVICES_ID}\"\nbase_url = \"{apple_origin}\"\n\
         params = {{ team_id = \"{TEAM}\", key_id = \"KEY1234567\", private_key = '''{P8}''' }}\n",
        dir.display()
    );
    let server =
        Server::bind(Config::from_toml(&toml).unwrap(), |_| None).await.expect("server starts").spawn();

    // The browser submits Apple's auto-posting form to the server's callback.
    let browser = Browser::new([server.url().clone(), apple_origin]).on_page(|page, html| {
        let (action, fields) = parse_form(page, html)?;
        let form = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        Some(Submission { method: Method::POST, url: action, form: Some(form) })
    });
    let start = server
        .url()
        .join(&format!(
            "v1/account/sessions/oauth2/apple?project=default&success={APP}/ok&failure={APP}/fail"
        ))
        .unwrap();
    let walk = browser.walk(start).await.unwrap();
    assert_eq!(walk.end.as_str(), format!("{APP}/ok"), "{:?}", walk.param("error"));
    let posted =
        walk.hops.iter().find(|h| h.method == Method::POST && h.url.path().contains("/callback/apple/"));
    assert_eq!(posted.map(|h| h.status.as_u16()), Some(303), "the POST callback bounces to GET");

    let get = |path: &'static str| {
        let browser = browser.clone();
        let url = server.url().join(path).unwrap();
        async move {
            let response =
                browser.client().get(url).header("x-appwrite-project", "default").send().await.unwrap();
            response.json::<Value>().await.unwrap()
        }
    };
    let account = get("v1/account").await;
    assert_eq!(account["name"], "Ada Lovelace", "the one-time `user` field names the account");
    assert_eq!(account["email"], "x7yq@privaterelay.appleid.com");
    assert_eq!(account["emailVerification"], true);
    let session = get("v1/account/sessions/current").await;
    assert_eq!(session["provider"], "apple");
    assert_eq!(session["providerUid"], "001234.apple-user");
}
