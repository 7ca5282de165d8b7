//! Figma contract tests: Figma's quirks. The shared checks, a whole login against an impersonating
//! provider (client authentication, profile and refresh), run in the conformance kit from
//! tests/persona.toml; this file holds what they do not cover: the exact requests loginkit sends
//! and what it reads from answers shaped like Figma's documented ones.

use loginkit_core::{
    AuthorizeRequest, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig, RefreshToken,
    TokenRef,
};
use loginkit_provider_figma::FIGMA;
use loginkit_testkit::contract::{ContractServer, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "Xy7Rk2LmN9pQ4sT1uV3wZ5";
const CLIENT_SECRET: &str = "aBcDeFgHiJkLmNoPqRsTuVwXyZ012345";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url() {
    let provider = FIGMA.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let scopes = vec!["file_content:read".to_owned()];
    let redirect = redirect_uri("figma");
    let request = AuthorizeRequest::new(&redirect, "s").scopes(&scopes).pkce_challenge(&challenge);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://www.figma.com/oauth"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "current_user:read file_content:read"),
        ("state", "s"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_uses_basic_auth_on_the_api_host() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v1/oauth/token", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (code("figma-code"), redirect_uri("figma"));
    let tokens =
        server.provider(&FIGMA, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let tokens = tokens.unwrap();
    assert_eq!(tokens.access_token.secret(), "figu_example-access-token");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "figur_example-refresh-token");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 7776000);

    let sent = server.only_request().await;
    assert!(sent.query.is_empty());
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "figma-code"),
        ("redirect_uri", redirect.as_str()),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh_goes_to_its_own_endpoint() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v1/oauth/refresh", 200, fixture(DIR, "refresh.json")).await;
    let tokens =
        server.provider(&FIGMA, config()).refresh(&RefreshToken::new("figur_r".into())).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "figu_example-refreshed");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "figur_r", "Figma keeps the refresh token");
    let sent = server.only_request().await;
    assert_eq!(sent.path, "/v1/oauth/refresh");
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    assert_eq!(sent.form["refresh_token"], "figur_r");
}

#[tokio::test]
async fn figma_errors_keep_their_message() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v1/oauth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("figma"));
    let err = server.provider(&FIGMA, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    // `{"error": true, "message": ...}` names no code: core reports the generic `error` code with
    // Figma's message as the description.
    assert!(
        matches!(&err, Error::OAuth { provider: "figma", status: 400, code, description: Some(d), .. }
            if code == "error" && d == "Invalid code"),
        "{err:?}"
    );
}

#[tokio::test]
async fn there_is_no_revocation() {
    let server = ContractServer::start().await;
    let token = loginkit_core::AccessToken::new("figu_x".into());
    let err = server.provider(&FIGMA, config()).revoke(TokenRef::Access(&token)).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { capability: "revoke", .. }), "{err:?}");
}

#[test]
fn a_missing_secret_is_a_configuration_error() {
    let err = FIGMA
        .instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap())
        .unwrap_err();
    assert!(matches!(&err, Error::Config { provider: "figma", .. }), "{err:?}");
}
