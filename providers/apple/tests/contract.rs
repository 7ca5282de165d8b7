//! Sign in with Apple contract tests: the authorize URL, the token calls with a pre-generated or a
//! signed client-secret JWT, and the profile that waits for ID-token verification.

use std::collections::BTreeMap;

use loginkit_core::{
    AccessToken, AuthorizeRequest, Error, ExchangeRequest, HttpClient, Nonce, ProviderConfig, RefreshToken,
    TokenRef, TokenSet,
};
use loginkit_provider_apple::APPLE;
use loginkit_testkit::contract::{ContractServer, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const SERVICES_ID: &str = "com.example.web.signin";
const CLIENT_SECRET_JWT: &str = "eyJhbGciOiJFUzI1NiIsImtpZCI6IkFCQzEyM0RFRkcifQ.eyJpc3MiOiJERUYxMjNHSElKIiwic3ViIjoiY29tLmV4YW1wbGUud2ViLnNpZ25pbiJ9.c2ln";

fn config() -> ProviderConfig {
    ProviderConfig::new(SERVICES_ID, CLIENT_SECRET_JWT)
}

#[test]
fn authorize_url_asks_for_a_form_post() {
    let provider = APPLE.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let nonce = Nonce::new("n-apple".into());
    let redirect = redirect_uri("apple");
    let url = provider.authorize_url(&AuthorizeRequest::new(&redirect, "st").nonce(&nonce)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://appleid.apple.com/auth/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", SERVICES_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "name email"),
        ("state", "st"),
        ("nonce", "n-apple"),
        ("response_mode", "form_post"),
    ]);
    assert_eq!(sent, expected);
    let caps = provider.descriptor().capabilities;
    assert!(caps.form_post && !caps.pkce, "Apple posts the callback and documents no PKCE");
}

#[tokio::test]
async fn code_exchange_sends_the_client_secret_jwt_in_the_body() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/auth/token", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (code("c1a2b3c4d5e6f7.0.rsvx.code"), redirect_uri("apple"));
    let tokens = server
        .provider(&APPLE, config())
        .exchange_code(&ExchangeRequest::new(&code, &redirect))
        .await
        .unwrap();
    assert_eq!(
        tokens.access_token.secret(),
        "a0f3e1c2b4d5e6f7a8b9c0d1e2f3a4b5c.0.rsvx.Zx9wV8uT7sR6qP5oN4mL3k"
    );
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "r7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f.0.rsvx.Qm2nB3vC4xZ5lK6jH7gF8d"
    );
    assert!(tokens.id_token.is_some(), "kept for the verification to come");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3600);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/auth/token"));
    assert!(sent.query.is_empty());
    assert_eq!(sent.header("authorization"), None);
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "c1a2b3c4d5e6f7.0.rsvx.code"),
        ("redirect_uri", redirect.as_str()),
        ("client_id", SERVICES_ID),
        ("client_secret", CLIENT_SECRET_JWT),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh_keeps_the_refresh_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/auth/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens =
        server.provider(&APPLE, config()).refresh(&RefreshToken::new("r.apple".into())).await.unwrap();
    assert_eq!(tokens.refresh_token.unwrap().secret(), "r.apple");
    let form = server.only_request().await.form;
    assert_eq!((form["grant_type"].as_str(), form["refresh_token"].as_str()), ("refresh_token", "r.apple"));
    assert_eq!(form["client_secret"], CLIENT_SECRET_JWT);
}

#[tokio::test]
async fn token_error_keeps_apples_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/auth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("expired"), redirect_uri("apple"));
    let err = server.provider(&APPLE, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn profile_is_unsupported_until_id_tokens_are_verified() {
    let server = ContractServer::start().await;
    let tokens: TokenSet = loginkit_testkit::contract::access("at");
    let err = server.provider(&APPLE, config()).user_profile(&tokens).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported { provider: "apple", capability: "profile from a verified ID token" }
        ),
        "{err:?}"
    );
    assert!(server.requests().await.is_empty(), "nothing is fetched or decoded");
}

#[tokio::test]
async fn revoke_posts_to_apples_endpoint() {
    let server = ContractServer::start().await;
    server.respond("POST", "/auth/revoke", 200, "application/json", "").await;
    let token = AccessToken::new("at-apple".into());
    server.provider(&APPLE, config()).revoke(TokenRef::Access(&token)).await.unwrap();
    let expected = pairs(&[
        ("token", "at-apple"),
        ("token_type_hint", "access_token"),
        ("client_id", SERVICES_ID),
        ("client_secret", CLIENT_SECRET_JWT),
    ]);
    assert_eq!(server.only_request().await.form, expected);
}

#[test]
fn signing_key_errors_are_clear_and_never_quote_the_key() {
    let bad_key = ProviderConfig::public(SERVICES_ID)
        .param("team_id", "DEF123GHIJ")
        .param("key_id", "ABC123DEFG")
        .param("private_key", "-----BEGIN PRIVATE KEY-----\nMIGT-not-a-key\n-----END PRIVATE KEY-----");
    match APPLE.instantiate(bad_key, HttpClient::with_defaults().unwrap()) {
        Err(Error::Config { provider, message }) => {
            assert_eq!(provider, "apple");
            assert!(message.contains("`private_key` is not a PEM-encoded P-256 private key"), "{message}");
            assert!(!message.contains("MIGT"), "the key never appears in errors");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    let partial = ProviderConfig::public(SERVICES_ID).param("team_id", "DEF123GHIJ");
    match APPLE.instantiate(partial, HttpClient::with_defaults().unwrap()) {
        Err(Error::Config { message, .. }) => assert!(message.contains("go together"), "{message}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
    match APPLE.instantiate(ProviderConfig::public(SERVICES_ID), HttpClient::with_defaults().unwrap()) {
        Err(Error::Config { message, .. }) => {
            assert!(message.contains("client secret is required"), "{message}")
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_client_secret_is_an_es256_jwt_signed_with_the_p8_key() {
    use loginkit_core::jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};

    let server = ContractServer::start().await;
    server.respond_json("POST", "/auth/token", 200, fixture(DIR, "token.json")).await;
    let signing = ProviderConfig::public(SERVICES_ID)
        .param("team_id", "DEF123GHIJ")
        .param("key_id", "ABC123DEFG")
        .param("private_key", fixture(DIR, "test-only-AuthKey.p8"));
    let apple = server.provider(&APPLE, signing);
    let (code, redirect) = (code("c_apple"), redirect_uri("apple"));
    apple.exchange_code(&ExchangeRequest::new(&code, &redirect)).await.unwrap();
    apple.refresh(&RefreshToken::new("r_apple".into())).await.unwrap();

    let sent = server.requests().await;
    assert_eq!(sent.len(), 2);
    let secret = &sent[0].form["client_secret"];
    assert_eq!(&sent[1].form["client_secret"], secret, "the signed secret is cached between calls");
    assert_eq!(sent[0].form["client_id"], SERVICES_ID);

    let public = fixture(DIR, "test-only-AuthKey.pub.pem");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&["https://appleid.apple.com"]);
    validation.set_issuer(&["DEF123GHIJ"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let token = decode::<loginkit_core::serde_json::Value>(
        secret,
        &DecodingKey::from_ec_pem(public.as_bytes()).unwrap(),
        &validation,
    );
    let token = token.expect("the secret verifies with the key's public half");
    assert_eq!(token.header.kid.as_deref(), Some("ABC123DEFG"));
    assert_eq!(token.claims["sub"], SERVICES_ID);
    let lifetime = token.claims["exp"].as_u64().unwrap() - token.claims["iat"].as_u64().unwrap();
    assert!(lifetime <= 15_777_000, "Apple refuses secrets valid for more than six months");
    assert_eq!(lifetime, 24 * 3600);
}
