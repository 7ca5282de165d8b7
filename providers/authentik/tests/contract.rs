//! authentik contract tests. The shared checks (client credentials in the body, PKCE, the profile,
//! refresh, revocation, a replayed code) run in the conformance kit from tests/persona.toml; this
//! file holds authentik's quirks: the exact authorize URL on the instance's domain, the ID token and
//! expiry of the token answer, authentik's error code, the email flag without an avatar, revoking a
//! refresh token with its type hint, and the required domain.

use std::collections::BTreeMap;

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge,
    ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_authentik::AUTHENTIK;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const DOMAIN: &str = "auth.example.com";
const CLIENT_ID: &str = "pY3kQ9vN2mX7bT4wL8sR1cH6fJ0dZ5gA";
const CLIENT_SECRET: &str = "ak-secret/with+chars=";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET).param("domain", DOMAIN)
}

#[test]
fn authorize_url_goes_to_the_instance() {
    let provider = AUTHENTIK.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-ak".into());
    let redirect = redirect_uri("authentik");
    let request = AuthorizeRequest::new(&redirect, "st").pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://auth.example.com/application/o/authorize/"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid profile email offline_access"),
        ("state", "st"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "n-ak"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/application/o/token/", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("a1b2c3d4e5f6"), redirect_uri("authentik"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&AUTHENTIK, config()).exchange_code(&exchange).await.unwrap();
    assert!(tokens.access_token.secret().ends_with("eyJzdWIiOiJhdXRoZW50aWsifQ.c2lnbmF0dXJl"));
    assert_eq!(tokens.refresh_token.unwrap().secret(), "Yx3mV9qT2bH6nK1pR8sW4zL0cF5gJ7dE");
    assert!(tokens.id_token.is_some());
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 300);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/application/o/token/"));
    assert!(sent.query.is_empty());
    assert_eq!(sent.header("authorization"), None);
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "a1b2c3d4e5f6"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_authentiks_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/application/o/token/", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("used"), redirect_uri("authentik"));
    let err =
        server.provider(&AUTHENTIK, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn userinfo_profile_reports_authentiks_flag() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/application/o/userinfo/", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&AUTHENTIK, config()).user_profile(&access("at-ak")).await.unwrap();
    assert_eq!(profile.id, "5d6f3a1c2b7e4f9a8c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b");
    assert_eq!(profile.email.as_deref(), Some("ada@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Unverified, "authentik 2025.10 defaults to false");
    assert_eq!(profile.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(profile.avatar_url, None);
    assert_eq!(server.only_request().await.header("authorization"), Some("Bearer at-ak"));
}

#[tokio::test]
async fn revoke_uses_rfc7009() {
    let server = ContractServer::start().await;
    server.respond("POST", "/application/o/revoke/", 200, "application/json", "").await;
    let token = RefreshToken::new("rt".into());
    server.provider(&AUTHENTIK, config()).revoke(TokenRef::Refresh(&token)).await.unwrap();
    let expected = pairs(&[
        ("token", "rt"),
        ("token_type_hint", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(server.only_request().await.form, expected);
}

#[test]
fn missing_domain_is_a_clear_config_error() {
    let err = AUTHENTIK
        .instantiate(ProviderConfig::new(CLIENT_ID, CLIENT_SECRET), HttpClient::with_defaults().unwrap());
    match err {
        Err(Error::Config { provider, message }) => {
            assert_eq!(provider, "authentik");
            assert!(message.contains("missing required key `domain`"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}
