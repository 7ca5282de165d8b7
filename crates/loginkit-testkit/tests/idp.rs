//! Loopback HTTP tests of the mock provider, driven by a real client with redirects disabled.

// Integration tests link every dependency of the library; only some are used here.
#![allow(unused_crate_dependencies)]

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use loginkit_testkit::{Endpoint, Fault, MockClient, MockIdp, MockIdpConfig, Outstanding, router};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use url::Url;

const CLIENT_ID: &str = "1";
const CLIENT_SECRET: &str = "123456";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client builds")
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn redirect_target(response: &reqwest::Response) -> Url {
    assert_eq!(response.status(), StatusCode::FOUND, "expected a redirect");
    let location =
        response.headers().get(LOCATION).expect("Location header").to_str().expect("ASCII Location");
    Url::parse(location).expect("absolute Location")
}

fn query_value(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn authorize(idp: &MockIdp, params: &[(&str, &str)]) -> reqwest::Response {
    http().get(idp.url("authorize")).query(params).send().await.expect("authorize request")
}

/// Runs the authorization step with the default client plus `extra` and returns the code.
async fn code_with(idp: &MockIdp, extra: &[(&str, &str)]) -> String {
    let mut params = vec![("client_id", CLIENT_ID), ("redirect_uri", REDIRECT), ("response_type", "code")];
    params.extend_from_slice(extra);
    let response = authorize(idp, &params).await;
    let location = redirect_target(&response);
    assert_eq!(query_value(&location, "error"), None, "unexpected error: {location}");
    query_value(&location, "code").expect("code in redirect")
}

async fn code(idp: &MockIdp) -> String {
    code_with(idp, &[]).await
}

async fn token_basic(idp: &MockIdp, form: &[(&str, &str)]) -> reqwest::Response {
    http()
        .post(idp.url("token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(form)
        .send()
        .await
        .expect("token request")
}

async fn token_body(idp: &MockIdp, form: &[(&str, &str)]) -> reqwest::Response {
    let mut form = form.to_vec();
    form.push(("client_id", CLIENT_ID));
    form.push(("client_secret", CLIENT_SECRET));
    http().post(idp.url("token")).form(&form).send().await.expect("token request")
}

async fn exchange(idp: &MockIdp, code: &str) -> reqwest::Response {
    token_basic(idp, &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT)])
        .await
}

async fn json(response: reqwest::Response) -> Value {
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

async fn expect_error(response: reqwest::Response, status: StatusCode, error: &str) -> Value {
    assert_eq!(response.status(), status);
    let body = json(response).await;
    assert_eq!(body["error"], error, "body: {body}");
    body
}

async fn userinfo(idp: &MockIdp, path: &str, access_token: &str) -> reqwest::Response {
    http().get(idp.url(path)).bearer_auth(access_token).send().await.expect("userinfo request")
}

async fn revoke(idp: &MockIdp, token: &str) -> reqwest::Response {
    http()
        .post(idp.url("revoke"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .expect("revoke request")
}

fn string(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_else(|| panic!("{key} missing in {value}")).to_owned()
}

#[tokio::test]
async fn happy_path_with_basic_auth() {
    let idp = MockIdp::start().await.unwrap();
    let response = authorize(
        &idp,
        &[
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("state", "st&ate =/?x"),
            ("nonce", "n-1"),
            ("prompt", "consent"),
        ],
    )
    .await;
    let location = redirect_target(&response);
    assert!(location.as_str().starts_with(REDIRECT), "{location}");
    assert_eq!(query_value(&location, "state").as_deref(), Some("st&ate =/?x"));
    let code = query_value(&location, "code").unwrap();
    assert!(code.len() >= 32);

    let response = exchange(&idp, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    let body = json(response).await;
    let access_token = string(&body, "access_token");
    assert!(access_token.len() >= 32);
    assert!(access_token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "openid email");
    assert!(string(&body, "refresh_token").len() >= 32);

    let response = userinfo(&idp, "user", &access_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let user = json(response).await;
    assert_eq!(user["id"], "1");
    assert_eq!(user["sub"], "1");
    assert_eq!(user["name"], "User Name");
    assert_eq!(user["email"], "useroauth@localhost.test");
    assert_eq!(user["verified"], true);
    assert_eq!(user["email_verified"], true);
}

#[tokio::test]
async fn happy_path_with_body_auth_and_selected_user() {
    let idp = MockIdp::start().await.unwrap();
    let code = code_with(&idp, &[("user", "2")]).await;
    let response = token_body(
        &idp,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    assert_eq!(body["scope"], "");
    let user = json(userinfo(&idp, "user", &string(&body, "access_token")).await).await;
    assert_eq!(user["id"], "2");
    assert_eq!(user["email"], "useroauthunverified@localhost.test");
    assert_eq!(user["verified"], false);
}

#[tokio::test]
async fn access_token_is_accepted_in_the_query() {
    let idp = MockIdp::start().await.unwrap();
    let body = json(exchange(&idp, &code(&idp).await).await).await;
    let access_token = string(&body, "access_token");
    let response =
        http().get(idp.url("user")).query(&[("access_token", access_token.as_str())]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = http()
        .get(idp.url("user"))
        .bearer_auth(&access_token)
        .query(&[("access_token", access_token.as_str())])
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn basic_credentials_are_form_decoded() {
    let config = MockIdpConfig {
        clients: vec![MockClient::new("app id:1", "s3cr+t%:é")],
        ..MockIdpConfig::default()
    };
    let idp = MockIdp::start_with(config).await.unwrap();
    let response =
        authorize(&idp, &[("client_id", "app id:1"), ("redirect_uri", REDIRECT), ("response_type", "code")])
            .await;
    let code = query_value(&redirect_target(&response), "code").unwrap();
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = STANDARD.encode(format!("{}:{}", encode("app id:1"), encode("s3cr+t%:é")));
    let response = http()
        .post(idp.url("token"))
        .header("authorization", format!("Basic {credentials}"))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn two_authentication_methods_at_once_are_refused() {
    let idp = MockIdp::start().await.unwrap();
    let code = code(&idp).await;
    let response = http()
        .post(idp.url("token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    // The refusal did not burn the code.
    assert_eq!(exchange(&idp, &code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_secret_is_invalid_client() {
    let idp = MockIdp::start().await.unwrap();
    let code = code(&idp).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    let response =
        http().post(idp.url("token")).basic_auth(CLIENT_ID, Some("wrong")).form(&form).send().await.unwrap();
    let challenge = response.headers().get(WWW_AUTHENTICATE).cloned();
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert!(challenge.unwrap().to_str().unwrap().starts_with("Basic"));

    let mut body_form = form.to_vec();
    body_form.extend([("client_id", CLIENT_ID), ("client_secret", "wrong")]);
    let response = http().post(idp.url("token")).form(&body_form).send().await.unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    let response = http()
        .post(idp.url("token"))
        .basic_auth("nobody", Some(CLIENT_SECRET))
        .form(&form)
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

#[tokio::test]
async fn pkce_s256_succeeds_with_the_right_verifier() {
    let idp = MockIdp::start().await.unwrap();
    let challenge = s256(VERIFIER);
    let code = code_with(&idp, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]).await;
    let response = token_basic(
        &idp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn pkce_wrong_or_missing_verifier_is_invalid_grant() {
    let idp = MockIdp::start().await.unwrap();
    let challenge = s256(VERIFIER);
    let code = code_with(&idp, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]).await;
    let wrong = "x".repeat(43);
    let response = token_basic(
        &idp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &wrong),
        ],
    )
    .await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let response = token_basic(
        &idp,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)],
    )
    .await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    // The challenge itself is not a valid S256 verifier.
    let response = token_basic(
        &idp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &challenge),
        ],
    )
    .await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn verifier_for_a_code_without_challenge_is_invalid_grant() {
    let idp = MockIdp::start().await.unwrap();
    let code = code(&idp).await;
    let response = token_basic(
        &idp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn pkce_plain_is_the_default_method() {
    let idp = MockIdp::start().await.unwrap();
    let code = code_with(&idp, &[("code_challenge", VERIFIER)]).await;
    let response = token_basic(
        &idp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn public_client_needs_pkce() {
    let idp = MockIdp::start().await.unwrap();
    let challenge = s256(VERIFIER);
    let pkce_code =
        code_with(&idp, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]).await;
    let response = http()
        .post(idp.url("token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", pkce_code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let plain_code = code(&idp).await;
    let response = http()
        .post(idp.url("token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", plain_code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

#[tokio::test]
async fn required_pkce_and_bad_challenges_redirect_with_invalid_request() {
    let config = MockIdpConfig { require_pkce: true, ..MockIdpConfig::default() };
    let idp = MockIdp::start_with(config).await.unwrap();
    let base =
        [("client_id", CLIENT_ID), ("redirect_uri", REDIRECT), ("response_type", "code"), ("state", "s")];
    let response = authorize(&idp, &base).await;
    let location = redirect_target(&response);
    assert_eq!(query_value(&location, "error").as_deref(), Some("invalid_request"));
    assert_eq!(query_value(&location, "state").as_deref(), Some("s"));
    assert_eq!(query_value(&location, "code"), None);

    let challenge = s256(VERIFIER);
    for (value, method) in [(challenge.as_str(), "S512"), ("short", "S256"), (challenge.as_str(), "s256")] {
        let mut params = base.to_vec();
        params.extend([("code_challenge", value), ("code_challenge_method", method)]);
        let location = redirect_target(&authorize(&idp, &params).await);
        assert_eq!(query_value(&location, "error").as_deref(), Some("invalid_request"), "{method}");
    }

    let mut params = base.to_vec();
    params.extend([("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")]);
    let location = redirect_target(&authorize(&idp, &params).await);
    assert!(query_value(&location, "code").is_some());
}

#[tokio::test]
async fn authorize_errors_redirect_for_bad_response_type_scope_and_user() {
    let idp = MockIdp::start().await.unwrap();
    for (extra, error) in [
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![], "invalid_request"),
        (vec![("response_type", "code"), ("scope", "a\"b")], "invalid_scope"),
        (vec![("response_type", "code"), ("user", "999")], "invalid_request"),
        (vec![("response_type", "code"), ("state", "a"), ("state", "b")], "invalid_request"),
    ] {
        let mut params = vec![("client_id", CLIENT_ID), ("redirect_uri", REDIRECT)];
        params.extend(extra);
        let location = redirect_target(&authorize(&idp, &params).await);
        assert_eq!(query_value(&location, "error").as_deref(), Some(error), "{location}");
        assert!(query_value(&location, "error_description").is_some());
    }
}

#[tokio::test]
async fn code_reuse_is_invalid_grant_and_revokes_issued_tokens() {
    let idp = MockIdp::start().await.unwrap();
    let code = code(&idp).await;
    let first = json(exchange(&idp, &code).await).await;
    let access_token = string(&first, "access_token");
    let refresh_token = string(&first, "refresh_token");
    assert_eq!(userinfo(&idp, "user", &access_token).await.status(), StatusCode::OK);

    expect_error(exchange(&idp, &code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let response = userinfo(&idp, "user", &access_token).await;
    assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer error=\"invalid_token\"");
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let response =
        token_basic(&idp, &[("grant_type", "refresh_token"), ("refresh_token", &refresh_token)]).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn token_redirect_uri_must_match_the_authorization_request() {
    let idp = MockIdp::start().await.unwrap();
    let code = code(&idp).await;
    for form in [
        vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/other"),
        ],
        vec![("grant_type", "authorization_code"), ("code", code.as_str())],
    ] {
        expect_error(token_basic(&idp, &form).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    }
    assert_eq!(exchange(&idp, &code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn unregistered_redirect_uri_is_a_400_not_a_redirect() {
    let config = MockIdpConfig {
        clients: vec![
            MockClient::new(CLIENT_ID, CLIENT_SECRET),
            MockClient::new("fixed", "s").with_redirect_uris(["https://app.example/cb?x=1"]),
        ],
        ..MockIdpConfig::default()
    };
    let idp = MockIdp::start_with(config).await.unwrap();
    for (client, redirect) in [
        (CLIENT_ID, "http://example.com/callback"),
        (CLIENT_ID, "ftp://127.0.0.1/callback"),
        (CLIENT_ID, "http://127.0.0.1:9/callback#frag"),
        (CLIENT_ID, "not a url"),
        ("fixed", "https://app.example/cb"),
        ("unknown", REDIRECT),
    ] {
        let response = authorize(
            &idp,
            &[("client_id", client), ("redirect_uri", redirect), ("response_type", "code"), ("state", "s")],
        )
        .await;
        assert!(response.headers().get(LOCATION).is_none(), "{client} {redirect}");
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }

    // Exact registration: allowed, and the registered query survives.
    let response = authorize(
        &idp,
        &[
            ("client_id", "fixed"),
            ("redirect_uri", "https://app.example/cb?x=1"),
            ("response_type", "code"),
            ("state", "s"),
        ],
    )
    .await;
    let location = redirect_target(&response);
    assert_eq!(query_value(&location, "x").as_deref(), Some("1"));
    assert!(query_value(&location, "code").is_some());

    // A single registration may be omitted, and then need not be repeated at the token endpoint.
    let response = authorize(&idp, &[("client_id", "fixed"), ("response_type", "code")]).await;
    let code = query_value(&redirect_target(&response), "code").unwrap();
    let response = http()
        .post(idp.url("token"))
        .basic_auth("fixed", Some("s"))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn loopback_variants_are_accepted_for_open_clients() {
    let idp = MockIdp::start().await.unwrap();
    for redirect in ["http://localhost:8080/cb", "http://[::1]/cb", "https://127.0.0.2/cb"] {
        let response = authorize(
            &idp,
            &[("client_id", CLIENT_ID), ("redirect_uri", redirect), ("response_type", "code")],
        )
        .await;
        assert!(query_value(&redirect_target(&response), "code").is_some(), "{redirect}");
    }
}

#[tokio::test]
async fn code_for_another_client_or_expired_is_invalid_grant() {
    let config = MockIdpConfig {
        clients: vec![MockClient::new(CLIENT_ID, CLIENT_SECRET), MockClient::new("2", "other")],
        ..MockIdpConfig::default()
    };
    let idp = MockIdp::start_with(config).await.unwrap();
    let code = code(&idp).await;
    let response = http()
        .post(idp.url("token"))
        .basic_auth("2", Some("other"))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)])
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let expired = MockIdp::start_with(MockIdpConfig { code_ttl: Duration::ZERO, ..MockIdpConfig::default() })
        .await
        .unwrap();
    let code = code_with(&expired, &[]).await;
    expect_error(exchange(&expired, &code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn expired_access_token_and_disabled_refresh_tokens() {
    let idp = MockIdp::start_with(MockIdpConfig {
        access_token_ttl: Duration::ZERO,
        issue_refresh_tokens: false,
        ..MockIdpConfig::default()
    })
    .await
    .unwrap();
    let body = json(exchange(&idp, &code(&idp).await).await).await;
    assert_eq!(body["expires_in"], 0);
    assert!(body.get("refresh_token").is_none(), "{body}");
    let response = userinfo(&idp, "user", &string(&body, "access_token")).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_dies() {
    let idp = MockIdp::start().await.unwrap();
    let code = code_with(&idp, &[("scope", "openid email profile")]).await;
    let first = json(exchange(&idp, &code).await).await;
    let old_refresh = string(&first, "refresh_token");

    let response = token_body(
        &idp,
        &[("grant_type", "refresh_token"), ("refresh_token", &old_refresh), ("scope", "email openid")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    let second = json(response).await;
    let new_refresh = string(&second, "refresh_token");
    assert_ne!(new_refresh, old_refresh);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["scope"], "email openid");
    assert_eq!(userinfo(&idp, "user", &string(&second, "access_token")).await.status(), StatusCode::OK);

    let response =
        token_basic(&idp, &[("grant_type", "refresh_token"), ("refresh_token", &old_refresh)]).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let response = token_basic(
        &idp,
        &[("grant_type", "refresh_token"), ("refresh_token", &new_refresh), ("scope", "openid admin")],
    )
    .await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_scope").await;

    // The rotated token kept the full original scope.
    let response =
        token_basic(&idp, &[("grant_type", "refresh_token"), ("refresh_token", &new_refresh)]).await;
    assert_eq!(json(response).await["scope"], "openid email profile");
}

#[tokio::test]
async fn revoked_access_token_is_rejected_by_user() {
    let idp = MockIdp::start().await.unwrap();
    let body = json(exchange(&idp, &code(&idp).await).await).await;
    let access_token = string(&body, "access_token");
    let response = revoke(&idp, &access_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.unwrap().is_empty());
    expect_error(userinfo(&idp, "user", &access_token).await, StatusCode::UNAUTHORIZED, "invalid_token")
        .await;
    // The refresh token is untouched by revoking the access token.
    let response = token_basic(
        &idp,
        &[("grant_type", "refresh_token"), ("refresh_token", &string(&body, "refresh_token"))],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_access_tokens() {
    let idp = MockIdp::start().await.unwrap();
    let body = json(exchange(&idp, &code(&idp).await).await).await;
    let refresh_token = string(&body, "refresh_token");
    let response = http()
        .post(idp.url("revoke"))
        .form(&[
            ("token", refresh_token.as_str()),
            ("token_type_hint", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    expect_error(
        userinfo(&idp, "user", &string(&body, "access_token")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let response =
        token_basic(&idp, &[("grant_type", "refresh_token"), ("refresh_token", &refresh_token)]).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn revoke_answers_unknown_tokens_with_200_and_bad_clients_with_401() {
    let idp = MockIdp::start().await.unwrap();
    let response = revoke(&idp, "no-such-token").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.unwrap().is_empty());

    let body = json(exchange(&idp, &code(&idp).await).await).await;
    let access_token = string(&body, "access_token");
    let response = http()
        .post(idp.url("revoke"))
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[("token", access_token.as_str())])
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert_eq!(userinfo(&idp, "user", &access_token).await.status(), StatusCode::OK);

    let response = http()
        .post(idp.url("revoke"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn user_unverified_never_reports_verified() {
    let idp = MockIdp::start().await.unwrap();
    let body = json(exchange(&idp, &code(&idp).await).await).await;
    let access_token = string(&body, "access_token");
    let user = json(userinfo(&idp, "user-unverified", &access_token).await).await;
    assert_eq!(user["id"], "1");
    assert_eq!(user["verified"], false);
    assert_eq!(user["email_verified"], false);
    assert_eq!(json(userinfo(&idp, "user", &access_token).await).await["verified"], true);
}

fn manual_config() -> MockIdpConfig {
    MockIdpConfig { auto_approve: false, ..MockIdpConfig::default() }
}

#[tokio::test]
async fn login_form_lists_users_and_escapes_parameters() {
    let idp = MockIdp::start_with(manual_config()).await.unwrap();
    let response = authorize(
        &idp,
        &[
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("state", "\"><script>alert(1)</script>"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&quot;&gt;&lt;script&gt;"), "{html}");
    assert!(html.contains("<form method=\"post\" action=\"authorize\">"));
    assert!(html.contains("type=\"radio\" name=\"user\" value=\"1\" checked"));
    assert!(html.contains("type=\"radio\" name=\"user\" value=\"2\">"));
    assert!(html.contains("name=\"redirect_uri\" value=\"http://127.0.0.1:9/callback\""));
    assert!(html.contains("value=\"approve\"") && html.contains("value=\"deny\""));
}

/// Posts the login form as a browser would after the user picked `user` and pressed `action`.
async fn submit_login_form(idp: &MockIdp, user: &str, action: &str) -> reqwest::Response {
    let form = [
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("state", "xyz"),
        ("user", user),
        ("action", action),
    ];
    http().post(idp.url("authorize")).form(&form).send().await.unwrap()
}

#[tokio::test]
async fn login_form_approve_signs_in_the_chosen_user() {
    let idp = MockIdp::start_with(manual_config()).await.unwrap();
    let response = submit_login_form(&idp, "2", "approve").await;
    let location = redirect_target(&response);
    assert_eq!(query_value(&location, "state").as_deref(), Some("xyz"));
    let code = query_value(&location, "code").unwrap();
    let body = json(exchange(&idp, &code).await).await;
    let user = json(userinfo(&idp, "user", &string(&body, "access_token")).await).await;
    assert_eq!(user["id"], "2");
}

#[tokio::test]
async fn login_form_deny_is_access_denied() {
    let idp = MockIdp::start_with(manual_config()).await.unwrap();
    let response = submit_login_form(&idp, "1", "deny").await;
    let location = redirect_target(&response);
    assert_eq!(query_value(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_value(&location, "state").as_deref(), Some("xyz"));
    assert_eq!(query_value(&location, "code"), None);
}

#[tokio::test]
async fn fault_error_redirect() {
    let idp = MockIdp::start().await.unwrap();
    let handle = idp.handle();
    handle.inject(
        Endpoint::Authorize,
        Fault::ErrorRedirect {
            error: "temporarily_unavailable".into(),
            description: Some("try later".into()),
        },
    );
    let response = authorize(
        &idp,
        &[("client_id", CLIENT_ID), ("redirect_uri", REDIRECT), ("response_type", "code"), ("state", "s1")],
    )
    .await;
    let location = redirect_target(&response);
    assert!(location.as_str().starts_with(REDIRECT));
    assert_eq!(query_value(&location, "error").as_deref(), Some("temporarily_unavailable"));
    assert_eq!(query_value(&location, "error_description").as_deref(), Some("try later"));
    assert_eq!(query_value(&location, "state").as_deref(), Some("s1"));

    // Never to an unregistered URI, even when injected.
    handle.inject(
        Endpoint::Authorize,
        Fault::ErrorRedirect { error: "server_error".into(), description: None },
    );
    let response = authorize(
        &idp,
        &[("client_id", CLIENT_ID), ("redirect_uri", "https://evil.example/"), ("response_type", "code")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Elsewhere it is a JSON error.
    handle.inject(Endpoint::Token, Fault::ErrorRedirect { error: "server_error".into(), description: None });
    let code = code(&idp).await;
    expect_error(exchange(&idp, &code).await, StatusCode::BAD_REQUEST, "server_error").await;
}

#[tokio::test]
async fn fault_status() {
    let idp = MockIdp::start().await.unwrap();
    idp.handle().inject(
        Endpoint::Token,
        Fault::Status { status: 503, content_type: "text/plain".into(), body: "down for maintenance".into() },
    );
    let code = code(&idp).await;
    let response = exchange(&idp, &code).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/plain");
    assert_eq!(response.text().await.unwrap(), "down for maintenance");
    // One-shot: the next request is answered normally, and the code was not consumed.
    assert_eq!(exchange(&idp, &code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn fault_error_with_200() {
    let idp = MockIdp::start().await.unwrap();
    idp.handle().inject(
        Endpoint::Token,
        Fault::ErrorWith200 {
            error: "bad_verification_code".into(),
            description: Some("The code passed is incorrect or expired.".into()),
        },
    );
    let code = code(&idp).await;
    let body = expect_error(exchange(&idp, &code).await, StatusCode::OK, "bad_verification_code").await;
    assert_eq!(body["error_description"], "The code passed is incorrect or expired.");
    assert!(body.get("access_token").is_none());
}

#[tokio::test]
async fn fault_garbage() {
    let idp = MockIdp::start().await.unwrap();
    idp.handle().inject(Endpoint::UserInfo, Fault::Garbage);
    let response = userinfo(&idp, "user", "anything").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
}

#[tokio::test]
async fn fault_oversized() {
    let idp = MockIdp::start().await.unwrap();
    let bytes = 3 * 1024 * 1024;
    idp.handle().inject(Endpoint::Token, Fault::Oversized { bytes });
    let response = exchange(&idp, &code(&idp).await).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), bytes);
    assert!(serde_json::from_slice::<Value>(&body).unwrap().is_string());
}

#[tokio::test]
async fn fault_delay_then_normal_answer() {
    let idp = MockIdp::start().await.unwrap();
    // Held far longer than the client waits: a client with a timeout gives up, as a relying party
    // facing a slow provider must.
    idp.handle().inject(Endpoint::Token, Fault::Delay(Duration::from_secs(60)));
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(500)).build().unwrap();
    let held = impatient
        .post(idp.url("token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code(&idp).await),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .expect_err("the delayed answer does not come before the client's timeout");
    assert!(held.is_timeout(), "{held}");
    assert_eq!(idp.handle().hits(Endpoint::Token), 1, "the request reached the provider and was held");
    // The fault was one-shot: the next exchange is answered at once, normally.
    let response = exchange(&idp, &code(&idp).await).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(json(response).await.get("access_token").is_some());
}

#[tokio::test]
async fn fault_redirect() {
    let idp = MockIdp::start().await.unwrap();
    idp.handle()
        .inject(Endpoint::UserInfo, Fault::Redirect { location: "http://127.0.0.1:9/elsewhere".into() });
    let response = userinfo(&idp, "user", "anything").await;
    assert_eq!(redirect_target(&response).as_str(), "http://127.0.0.1:9/elsewhere");
}

#[tokio::test]
async fn fault_missing_access_token() {
    let idp = MockIdp::start().await.unwrap();
    idp.handle().inject(Endpoint::Token, Fault::MissingAccessToken);
    let response = exchange(&idp, &code(&idp).await).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    assert!(body.get("access_token").is_none(), "{body}");
    assert_eq!(body["token_type"], "Bearer");
}

#[tokio::test]
async fn faults_are_fifo_then_persistent_until_cleared() {
    let idp = MockIdp::start().await.unwrap();
    let handle = idp.handle();
    let status =
        |status: u16| Fault::Status { status, content_type: "text/plain".into(), body: String::new() };
    handle.inject_always(Endpoint::Revoke, status(500));
    handle.inject(Endpoint::Revoke, status(501));
    handle.inject(Endpoint::Revoke, status(502));
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(revoke(&idp, "t").await.status().as_u16());
    }
    assert_eq!(seen, [501, 502, 500, 500]);
    handle.clear_faults();
    assert_eq!(revoke(&idp, "t").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn hits_count_every_request_per_endpoint() {
    let idp = MockIdp::start().await.unwrap();
    let handle = idp.handle();
    assert_eq!(handle.hits(Endpoint::Token), 0);
    handle.inject(Endpoint::Token, Fault::Garbage);
    let code = code(&idp).await;
    exchange(&idp, &code).await;
    let body = json(exchange(&idp, &code).await).await;
    userinfo(&idp, "user", &string(&body, "access_token")).await;
    userinfo(&idp, "user-unverified", "bogus").await;
    assert_eq!(handle.hits(Endpoint::Authorize), 1);
    assert_eq!(handle.hits(Endpoint::Token), 2);
    assert_eq!(handle.hits(Endpoint::UserInfo), 2);
    assert_eq!(handle.hits(Endpoint::Revoke), 0);
}

#[tokio::test]
async fn last_token_request_records_headers_and_form() {
    let idp = MockIdp::start().await.unwrap();
    let handle = idp.handle();
    assert!(handle.last_token_request().is_none());
    let code = code(&idp).await;
    let response = http()
        .post(idp.url("token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header("X-Custom", "Value")
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let recorded = handle.last_token_request().unwrap();
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.path, "/token");
    assert!(recorded.query.is_empty());
    assert_eq!(
        recorded.header("authorization"),
        Some(format!("Basic {}", STANDARD.encode("1:123456")).as_str())
    );
    assert!(recorded.headers.iter().any(|(k, v)| k == "x-custom" && v == "Value"));
    assert_eq!(recorded.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(
        recorded.form,
        [
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.clone()),
            ("redirect_uri".to_owned(), REDIRECT.to_owned()),
        ]
    );
    assert_eq!(recorded.form_value("code"), Some(code.as_str()));
    let authorize = handle.last_request(Endpoint::Authorize).unwrap();
    assert_eq!(authorize.query_value("client_id"), Some(CLIENT_ID));
}

#[tokio::test]
async fn token_endpoint_rejects_malformed_requests() {
    let idp = MockIdp::start().await.unwrap();
    let code = code(&idp).await;
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            http()
                .post(idp.url("token"))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .json(&serde_json::json!({"grant_type": "authorization_code", "code": code})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            http().post(idp.url("token")).basic_auth(CLIENT_ID, Some(CLIENT_SECRET)).form(&[("code", &code)]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            http()
                .post(idp.url("token"))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("grant_type", "password")]),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            http()
                .post(idp.url("token"))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("grant_type", "authorization_code"), ("grant_type", "refresh_token")]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            http()
                .post(idp.url("token"))
                .header("authorization", "Basic !!!not-base64!!!")
                .form(&[("grant_type", "authorization_code")]),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            http()
                .post(idp.url("token"))
                .header("authorization", format!("Basic {}", STANDARD.encode("no-colon")))
                .form(&[("grant_type", "authorization_code")]),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            http()
                .post(idp.url("token"))
                .header("authorization", format!("Basic {}", STANDARD.encode("%zz:%")))
                .form(&[("grant_type", "authorization_code")]),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            http()
                .post(idp.url("token"))
                .header("authorization", format!("Basic {}", STANDARD.encode([0xff, b':', 0xfe])))
                .form(&[("grant_type", "authorization_code")]),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            http().post(idp.url("token")).bearer_auth("token").form(&[("grant_type", "authorization_code")]),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            http()
                .post(idp.url("token"))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("grant_type", "authorization_code"), ("code", "unknown")]),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            http()
                .post(idp.url("token"))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("grant_type", "refresh_token")]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            http()
                .post(idp.url("token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(vec![0xff, 0x00, b'%', b'&', b'=', b'=']),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
    ];
    for (index, (request, status, error)) in cases.into_iter().enumerate() {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "case {index}");
        let body = json(response).await;
        assert_eq!(body["error"], error, "case {index}: {body}");
    }
    // None of that consumed the code.
    assert_eq!(exchange(&idp, &code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn garbage_inputs_get_4xx_answers() {
    let idp = MockIdp::start().await.unwrap();
    let client = http();
    let huge = "x".repeat(64 * 1024);
    // URIs are capped near 64 KiB by the HTTP stack, so query parameters get a smaller giant.
    let long = "x".repeat(16 * 1024);
    let requests = vec![
        client.get(idp.url("authorize")),
        client.get(format!("{}?%%%=%zz&&&==&client_id", idp.url("authorize"))),
        client.get(idp.url("authorize")).query(&[("client_id", long.as_str()), ("redirect_uri", &long)]),
        client.get(idp.url("authorize")).query(&[("client_id", CLIENT_ID), ("client_id", CLIENT_ID)]),
        client.post(idp.url("authorize")),
        client.post(idp.url("authorize")).form(&[("state", huge.as_str())]),
        client.post(idp.url("token")),
        client.post(idp.url("token")).form(&[("grant_type", huge.as_str()), ("client_id", &huge)]),
        client
            .post(idp.url("token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![b'a'; 3 * 1024 * 1024]),
        client.get(idp.url("user")),
        client.get(idp.url("user")).header("authorization", "Bearer"),
        client.get(idp.url("user")).header("authorization", "Basic Zm9vOmJhcg=="),
        client.get(idp.url("user")).bearer_auth(&huge),
        client.get(idp.url("user-unverified")).query(&[("access_token", "a"), ("access_token", "b")]),
        client.post(idp.url("revoke")),
        client.post(idp.url("revoke")).header("authorization", "Basic ###").form(&[("token", "t")]),
        client.post(idp.url("revoke")).form(&[("token", "t"), ("client_id", "nobody")]),
    ];
    for (index, request) in requests.into_iter().enumerate() {
        let response = request.send().await.unwrap();
        assert!(response.status().is_client_error(), "case {index}: {}", response.status());
        assert!(response.headers().get(LOCATION).is_none(), "case {index}");
    }
    // Still serving.
    assert!(
        query_value(
            &redirect_target(
                &authorize(
                    &idp,
                    &[("client_id", CLIENT_ID), ("redirect_uri", REDIRECT), ("response_type", "code")]
                )
                .await
            ),
            "code"
        )
        .is_some()
    );
}

#[tokio::test]
async fn router_can_be_nested_under_a_prefix() {
    let (idp_router, handle) = router(MockIdpConfig::default());
    let app = axum::Router::new().nest("/mock/oauth2", idp_router);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}/mock/oauth2/", listener.local_addr().unwrap())).unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let response = http()
        .get(base.join("authorize").unwrap())
        .query(&[("client_id", CLIENT_ID), ("redirect_uri", REDIRECT), ("response_type", "code")])
        .send()
        .await
        .unwrap();
    let code = query_value(&redirect_target(&response), "code").unwrap();
    let response = http()
        .post(base.join("token").unwrap())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(handle.hits(Endpoint::Token), 1);
    assert_eq!(handle.config().clients[0].client_id, CLIENT_ID);
    server.abort();
}

#[tokio::test]
async fn base_url_and_url_join_paths() {
    let idp = MockIdp::start().await.unwrap();
    let base = idp.base_url();
    assert_eq!(base.scheme(), "http");
    assert_eq!(base.host_str(), Some("127.0.0.1"));
    assert_eq!(base.path(), "/mock/oauth2/");
    assert_eq!(idp.origin().path(), "/");
    assert_eq!(idp.origin().port(), base.port());
    assert_eq!(idp.url("user-unverified").as_str(), format!("{base}user-unverified"));
    let config = idp.provider_config();
    assert_eq!(config.client_id.as_str(), CLIENT_ID);
    assert_eq!(config.client_secret.as_ref().map(|s| s.secret().as_str()), Some(CLIENT_SECRET));
}

#[tokio::test]
async fn dropping_the_idp_stops_the_server() {
    let idp = MockIdp::start().await.unwrap();
    let url = idp.url("user");
    assert_eq!(http().get(url.clone()).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    drop(idp);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if http().get(url.clone()).send().await.is_err() {
            break;
        }
        assert!(Instant::now() < deadline, "server still answering after drop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn oversized_fields_are_refused_and_nothing_is_kept() {
    let idp = MockIdp::start().await.unwrap();
    let huge = "n".repeat(1_900_000);
    let response = http()
        .post(idp.url("authorize"))
        .form(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("nonce", &huge),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "the body is over the provider's cap");
    let long = "n".repeat(4097);
    let response = authorize(
        &idp,
        &[("client_id", CLIENT_ID), ("redirect_uri", REDIRECT), ("response_type", "code"), ("nonce", &long)],
    )
    .await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = token_basic(&idp, &[("grant_type", "authorization_code"), ("code", &long)]).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(idp.handle().outstanding(), Outstanding { codes: 0, access_tokens: 0, refresh_tokens: 0 });
    // A field at the cap is fine.
    code_with(&idp, &[("nonce", &"n".repeat(4096))]).await;
    assert_eq!(idp.handle().outstanding().codes, 1);
}

#[tokio::test]
async fn codes_and_tokens_are_capped_and_expired_ones_forgotten() {
    let config = MockIdpConfig { max_grants: 4, ..MockIdpConfig::default() };
    let idp = MockIdp::start_with(config).await.unwrap();
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(code(&idp).await);
    }
    // Four unexpired codes: the fifth is refused, by redirect, as RFC 6749 words it.
    let response =
        authorize(&idp, &[("client_id", CLIENT_ID), ("redirect_uri", REDIRECT), ("response_type", "code")])
            .await;
    let location = redirect_target(&response);
    assert_eq!(query_value(&location, "error").as_deref(), Some("temporarily_unavailable"));
    assert_eq!(idp.handle().outstanding().codes, 4);
    // Tokens: each exchange and refresh issues an access token (and a rotated refresh token);
    // past the cap the oldest go.
    let mut refresh_tokens = Vec::new();
    for code in &codes {
        let body = json(exchange(&idp, code).await).await;
        refresh_tokens.push(body["refresh_token"].as_str().unwrap().to_owned());
    }
    for token in &refresh_tokens {
        let response = token_basic(&idp, &[("grant_type", "refresh_token"), ("refresh_token", token)]).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let kept = idp.handle().outstanding();
    assert!(kept.access_tokens <= 4 && kept.refresh_tokens <= 4, "8 access tokens issued, {kept:?}");
    assert!(kept.access_tokens >= 1, "the newest are kept: {kept:?}");

    // Codes that expire at once are forgotten when room is needed.
    let config = MockIdpConfig { max_grants: 4, code_ttl: Duration::ZERO, ..MockIdpConfig::default() };
    let idp = MockIdp::start_with(config).await.unwrap();
    for _ in 0..20 {
        code(&idp).await;
    }
    assert!(idp.handle().outstanding().codes <= 4, "{:?}", idp.handle().outstanding());
}
