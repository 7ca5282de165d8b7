//! LinkedIn contract tests: LinkedIn's quirks. The shared checks, a whole login against an
//! impersonating provider (client authentication, ID token, profile and refresh), run in the
//! conformance kit from tests/persona.toml; this file holds what they do not cover: the exact
//! requests loginkit sends and what it reads from answers shaped like LinkedIn's documented ones.

use loginkit_core::serde_json::json;
use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge,
    ProviderConfig,
};
use loginkit_provider_linkedin::LINKEDIN;
use loginkit_testkit::TestSigner;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "86abcdefgh1234";
const CLIENT_SECRET: &str = "WPL_AP1.example.secret==";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_sends_neither_nonce_nor_pkce() {
    let provider = LINKEDIN.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-1".into());
    let redirect = redirect_uri("linkedin");
    let request = AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://www.linkedin.com/oauth/v2/authorization"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("state", "s"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_sends_credentials_in_the_body() {
    let server = ContractServer::start().await;
    let provider = server.provider(&LINKEDIN, config());
    let body = fixture(DIR, "token.json");
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", "/oauth/v2/accessToken", 200, body).await;
    let (code, redirect) = (code("AQTQmah11lalyH65DAIivsjsAQV5P-example"), redirect_uri("linkedin"));
    let tokens = provider.exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let tokens = tokens.unwrap();
    assert_eq!(tokens.access_token.secret(), "AQUvlL_DYEzvT2wz1QJiEPeLioeA-example");
    assert!(tokens.id_token.is_some());
    let claims = tokens.id_token_claims.as_ref().expect("the ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "AQWAft_WjYZKwuWXLC5hQlghgTam-example",
        "partner apps"
    );
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 5184000);
    assert_eq!(tokens.scopes.unwrap(), ["email", "openid", "profile"], "LinkedIn joins scopes with commas");

    let sent = server.requests_to("/oauth/v2/accessToken").await.remove(0);
    assert_eq!(sent.header("authorization"), None);
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "AQTQmah11lalyH65DAIivsjsAQV5P-example"),
        ("redirect_uri", redirect.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_linkedins_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/v2/accessToken", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("expired"), redirect_uri("linkedin"));
    let err =
        server.provider(&LINKEDIN, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_request"), Some(400)));
}

#[tokio::test]
async fn an_unverified_email_stays_unverified() {
    let server = ContractServer::start().await;
    let body = fixture(DIR, "user.json").replace("\"email_verified\": true", "\"email_verified\": false");
    server.respond_json("GET", "/v2/userinfo", 200, body).await;
    let profile = server.provider(&LINKEDIN, config()).user_profile(&access("t")).await.unwrap();
    assert_eq!(profile.email_trust, EmailTrust::Unverified);
}

#[test]
fn a_missing_secret_is_a_configuration_error() {
    let err = LINKEDIN.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    let err = err.unwrap_err();
    assert!(matches!(&err, Error::Config { provider: "linkedin", .. }), "{err:?}");
}
