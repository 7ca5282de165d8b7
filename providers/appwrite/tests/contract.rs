//! Appwrite contract tests. The shared checks (client credentials in the body, PKCE, the profile,
//! refresh, a replayed code) run in the conformance kit from tests/persona.toml; this file holds what
//! the kit does not pin down for Appwrite Cloud's console OpenID Connect provider: the exact authorize
//! URL, the ID token and expiry of the token answer, the refresh token kept when none comes back,
//! Appwrite's error code, the absent avatar, no revocation, and configuration errors.

use std::collections::BTreeMap;

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge,
    ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_appwrite::APPWRITE;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "loginkit-demo";
const CLIENT_SECRET: &str = "aw-secret+/=";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_sends_pkce() {
    let provider = APPWRITE.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-aw".into());
    let redirect = redirect_uri("appwrite");
    let request = AuthorizeRequest::new(&redirect, "st").pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://cloud.appwrite.io/v1/oauth2/console/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("state", "st"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "n-aw"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v1/oauth2/console/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("c0ffee00c0ffee00"), redirect_uri("appwrite"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&APPWRITE, config()).exchange_code(&exchange).await.unwrap();
    assert!(tokens.access_token.secret().contains("eyJzdWIiOiI2NmIxYzJkM2U0ZjVhNmI3YzhkOSJ9"));
    assert_eq!(tokens.refresh_token.unwrap().secret(), "a1f0c9e8d7b6a5f4e3d2c1b0a9f8e7d6-example");
    assert!(tokens.id_token.is_some());
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3600);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/oauth2/console/token"));
    assert!(sent.query.is_empty());
    assert_eq!(sent.header("authorization"), None);
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "c0ffee00c0ffee00"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh_keeps_the_refresh_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v1/oauth2/console/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens = server.provider(&APPWRITE, config()).refresh(&RefreshToken::new("rt".into())).await.unwrap();
    assert!(tokens.access_token.secret().contains("eyJyZWZyZXNoZWQiOnRydWV9"));
    assert_eq!(tokens.refresh_token.unwrap().secret(), "rt");
    let expected = pairs(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", "rt"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(server.only_request().await.form, expected);
}

#[tokio::test]
async fn token_error_keeps_the_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v1/oauth2/console/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("used"), redirect_uri("appwrite"));
    let err =
        server.provider(&APPWRITE, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn userinfo_profile() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/v1/oauth2/console/userinfo", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&APPWRITE, config()).user_profile(&access("at-aw")).await.unwrap();
    assert_eq!(profile.id, "66b1c2d3e4f5a6b7c8d9");
    assert_eq!(profile.email.as_deref(), Some("walter@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Verified);
    assert_eq!(profile.name.as_deref(), Some("Walter O'Brien"));
    assert_eq!(profile.avatar_url, None);
    assert_eq!(server.only_request().await.header("authorization"), Some("Bearer at-aw"));
}

#[tokio::test]
async fn revocation_is_unsupported() {
    let server = ContractServer::start().await;
    let token = RefreshToken::new("rt".into());
    let err = server.provider(&APPWRITE, config()).revoke(TokenRef::Refresh(&token)).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { provider: "appwrite", capability: "revoke" }), "{err:?}");
}

#[test]
fn missing_secret_or_unknown_key_is_a_clear_config_error() {
    match APPWRITE.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap()) {
        Err(Error::Config { provider, message }) => {
            assert_eq!(provider, "appwrite");
            assert!(message.contains("client secret"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    match APPWRITE.instantiate(config().param("project", "console"), HttpClient::with_defaults().unwrap()) {
        Err(Error::Config { message, .. }) => assert!(message.contains("unknown key `project`"), "{message}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}
