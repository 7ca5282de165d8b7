//! Autodesk (APS) contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down: the exact authorize URL and default scopes,
//! the token request (Accept header, form, expiry), Autodesk's error shape and RFC 6749 errors,
//! the rotated refresh token, the revocation's token type hint, and the secret being required.

use loginkit_core::serde_json::json;
use loginkit_core::{
    AuthorizeRequest, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge, ProviderConfig,
    RefreshToken, TokenRef,
};
use loginkit_provider_autodesk::AUTODESK;
use loginkit_testkit::TestSigner;
use loginkit_testkit::contract::{ContractServer, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "F6Dn8ypem1j8P6sUz8IX3pmSsOA99GUT";
const CLIENT_SECRET: &str = "ASNkw8Kqz1t0WXHK";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_is_v2_with_pkce_and_nonce() {
    let provider = AUTODESK.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-1".into());
    let redirect = redirect_uri("autodesk");
    let scopes = vec!["data:read".to_owned()];
    let request =
        AuthorizeRequest::new(&redirect, "s-1").scopes(&scopes).pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(
        url.as_str().split('?').next(),
        Some("https://developer.api.autodesk.com/authentication/v2/authorize")
    );
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "user-profile:read openid data:read"),
        ("state", "s-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "n-1"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_uses_basic_auth() {
    let server = ContractServer::start().await;
    let provider = server.provider(&AUTODESK, config());
    let body = fixture(DIR, "token.json");
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", "/authentication/v2/token", 200, body).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("1p8Qz4aN-example-code"), redirect_uri("autodesk"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = provider.exchange_code(&exchange).await.unwrap();
    assert!(tokens.access_token.secret().starts_with("eyJhbGciOiJSUzI1NiIs"));
    assert_eq!(tokens.refresh_token.unwrap().secret(), "Zxn4ucyciQSfCN7dC7e4MWCaIZRLtYsB6vhcmg5LMH");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3599);
    assert!(tokens.id_token.is_some(), "openid makes Autodesk return an ID token");

    let sent = server.requests_to("/authentication/v2/token").await.remove(0);
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/authentication/v2/token"));
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    assert_eq!(sent.header("accept"), Some("application/json"));
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "1p8Qz4aN-example-code"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
    ]);
    assert_eq!(sent.form, expected, "credentials in the header only: APS refuses them in both places");
}

#[tokio::test]
async fn autodesk_error_shape_keeps_its_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/authentication/v2/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("autodesk"));
    let err =
        server.provider(&AUTODESK, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("AUTH-004"), Some(400)));
    let Error::OAuth { description, operation, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*operation, loginkit_core::Operation::ExchangeCode);
    assert!(description.as_deref().is_some_and(|d| d.contains("expired or invalid")));
}

#[tokio::test]
async fn rfc6749_errors_are_understood_too() {
    let server = ContractServer::start().await;
    let body = r#"{"error": "invalid_client", "error_description": "Client authentication failed."}"#;
    server.respond_json("POST", "/authentication/v2/token", 401, body).await;
    let (code, redirect) = (code("c"), redirect_uri("autodesk"));
    let err =
        server.provider(&AUTODESK, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    assert_eq!(err.unwrap_err().provider_code(), Some("invalid_client"));
}

#[tokio::test]
async fn refresh_works_on_v2() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/authentication/v2/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens =
        server.provider(&AUTODESK, config()).refresh(&RefreshToken::new("old".into())).await.unwrap();
    assert!(tokens.access_token.secret().ends_with("eyJyZWZyZXNoZWQiOnRydWV9.c2ln"));
    assert_eq!(tokens.refresh_token.unwrap().secret(), "BOqRZwG7EEIurStNOlk31U3lxrF2QFbyn0vQ0HbaHi");
    let sent = server.only_request().await;
    assert_eq!(sent.path, "/authentication/v2/token");
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    assert_eq!(sent.form, pairs(&[("grant_type", "refresh_token"), ("refresh_token", "old")]));
}

#[tokio::test]
async fn refresh_error_keeps_autodesks_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/authentication/v2/token", 400, fixture(DIR, "error.json")).await;
    let err =
        server.provider(&AUTODESK, config()).refresh(&RefreshToken::new("used".into())).await.unwrap_err();
    assert_eq!(err.provider_code(), Some("AUTH-004"));
}

#[tokio::test]
async fn revoke_uses_v2_with_basic_auth() {
    let server = ContractServer::start().await;
    server.respond("POST", "/authentication/v2/revoke", 200, "application/json", "").await;
    let token = RefreshToken::new("rt".into());
    server.provider(&AUTODESK, config()).revoke(TokenRef::Refresh(&token)).await.unwrap();
    let sent = server.only_request().await;
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    assert_eq!(sent.form, pairs(&[("token", "rt"), ("token_type_hint", "refresh_token")]));
}

#[test]
fn configuration_is_checked() {
    let no_secret =
        AUTODESK.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    assert!(matches!(no_secret, Err(Error::Config { provider: "autodesk", .. })), "{no_secret:?}");
}
