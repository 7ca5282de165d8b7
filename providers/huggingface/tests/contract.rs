//! Hugging Face contract tests: Hugging Face's quirks. The shared checks, a whole login against an
//! impersonating provider (client authentication, ID token and profile), run in the conformance kit
//! from tests/persona.toml; this file holds what they do not cover: the exact requests loginkit
//! sends and what it reads from answers shaped like Hugging Face's documented ones.

use loginkit_core::serde_json::json;
use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge,
    ProviderConfig, RefreshToken,
};
use loginkit_provider_huggingface::HUGGINGFACE;
use loginkit_testkit::TestSigner;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "6a1b2c3d-4e5f-6789-abcd-ef0123456789";
const CLIENT_SECRET: &str = "9f8e7d6c-5b4a-3210-fedc-ba9876543210";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_sends_pkce_and_a_nonce() {
    let provider = HUGGINGFACE.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-1".into());
    let scopes = vec!["read-repos".to_owned()];
    let redirect = redirect_uri("huggingface");
    let request =
        AuthorizeRequest::new(&redirect, "s").scopes(&scopes).pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://huggingface.co/oauth/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid profile email read-repos"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "n-1"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_uses_basic_auth_and_the_verifier() {
    let server = ContractServer::start().await;
    let provider = server.provider(&HUGGINGFACE, config());
    let body = fixture(DIR, "token.json");
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", "/oauth/token", 200, body).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("hf-code"), redirect_uri("huggingface"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = provider.exchange_code(&exchange).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "hf_oauth_eyJhbGciOiJFZERTQSJ9-example");
    assert!(tokens.id_token.is_some());
    let claims = tokens.id_token_claims.as_ref().expect("the ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert!(tokens.refresh_token.is_none());
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 28800);

    let sent = server.requests_to("/oauth/token").await.remove(0);
    assert!(sent.query.is_empty());
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "hf-code"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_the_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("huggingface"));
    let err =
        server.provider(&HUGGINGFACE, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn without_the_email_scope_there_is_no_email_and_no_trust() {
    let server = ContractServer::start().await;
    let body = r#"{"sub": "64f1c2d3e4b5a67890abcdef", "name": "", "preferred_username": "ada-lovelace"}"#;
    server.respond_json("GET", "/oauth/userinfo", 200, body).await;
    let profile = server.provider(&HUGGINGFACE, config()).user_profile(&access("t")).await.unwrap();
    assert_eq!((profile.email, profile.email_trust), (None, EmailTrust::Unknown));
    assert_eq!(profile.name.as_deref(), Some("ada-lovelace"), "the username stands in for an empty name");
}

#[tokio::test]
async fn refresh_is_unsupported() {
    let server = ContractServer::start().await;
    let err =
        server.provider(&HUGGINGFACE, config()).refresh(&RefreshToken::new("r".into())).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { capability: "refresh", .. }), "{err:?}");
}

#[test]
fn a_missing_secret_is_a_configuration_error() {
    let err =
        HUGGINGFACE.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    assert!(matches!(err.unwrap_err(), Error::Config { provider: "huggingface", .. }));
}
