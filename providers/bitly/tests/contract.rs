//! Bitly contract tests: Bitly's quirks. The shared checks, a whole login against an impersonating
//! provider (client authentication and profile), run in the conformance kit from
//! tests/persona.toml; this file holds what they do not cover: the exact requests loginkit sends
//! and what it reads from answers shaped like Bitly's documented ones (a form-encoded token answer,
//! its own error envelope).

use loginkit_core::{
    AccessToken, AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge,
    ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_bitly::BITLY;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "4cfed21a38e6b8e25f5da9b74bfad075710e96d4";
const CLIENT_SECRET: &str = "9f1d2c3b4a5e6f708192a3b4c5d6e7f8091a2b3c";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_has_no_response_type_and_no_scope() {
    let provider = BITLY.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("bitly");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s-1").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://bitly.com/oauth/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(
        sent,
        pairs(&[("client_id", CLIENT_ID), ("redirect_uri", redirect.as_str()), ("state", "s-1")])
    );
}

#[tokio::test]
async fn code_exchange_reads_the_form_encoded_answer() {
    let server = ContractServer::start().await;
    let form = "application/x-www-form-urlencoded";
    server.respond("POST", "/oauth/access_token", 200, form, fixture(DIR, "token.txt")).await;
    let (code, redirect) = (code("c0de4b1tly"), redirect_uri("bitly"));
    let tokens = server
        .provider(&BITLY, config())
        .exchange_code(&ExchangeRequest::new(&code, &redirect))
        .await
        .unwrap();
    assert_eq!(tokens.access_token.secret(), "e663e30818201d28dd07803e57333bed4f15803a");
    assert!(tokens.refresh_token.is_none() && tokens.expires_in.is_none(), "Bitly tokens do not expire");
    assert_eq!(tokens.raw.get("login").and_then(|v| v.as_str()), Some("bitlyapidemo"));

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth/access_token"));
    assert!(sent.query.is_empty() && sent.header("authorization").is_none());
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "c0de4b1tly"),
        ("redirect_uri", redirect.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_envelope_keeps_bitlys_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/access_token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("bitly"));
    let err = server.provider(&BITLY, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("INVALID_CODE"), Some(400)));
}

#[tokio::test]
async fn token_error_envelope_with_http_200_is_an_error_too() {
    let server = ContractServer::start().await;
    let body = r#"{"status_code": 500, "status_txt": "INVALID_CLIENT_SECRET", "data": null}"#;
    server.respond_json("POST", "/oauth/access_token", 200, body).await;
    let (code, redirect) = (code("c"), redirect_uri("bitly"));
    let err = server.provider(&BITLY, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    assert_eq!(err.unwrap_err().provider_code(), Some("INVALID_CLIENT_SECRET"));
}

#[tokio::test]
async fn json_token_answer_is_accepted() {
    let server = ContractServer::start().await;
    let body = r#"{"access_token": "e663e30818201d28dd07803e57333bed4f15803a", "login": "bitlyapidemo"}"#;
    server.respond_json("POST", "/oauth/access_token", 200, body).await;
    let (code, redirect) = (code("c"), redirect_uri("bitly"));
    let tokens =
        server.provider(&BITLY, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    assert_eq!(tokens.unwrap().access_token.secret(), "e663e30818201d28dd07803e57333bed4f15803a");
}

#[tokio::test]
async fn profile_takes_the_primary_verified_email() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/v4/user", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&BITLY, config()).user_profile(&access("bl-at")).await.unwrap();
    assert_eq!(profile.id, "bitlyapidemo");
    assert_eq!(profile.email.as_deref(), Some("api-demo@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Verified);
    assert_eq!(profile.name.as_deref(), Some("Bitly API Demo"));
    assert_eq!(profile.avatar_url, None);
    let sent = server.only_request().await;
    assert_eq!(sent.header("authorization"), Some("Bearer bl-at"));
    assert!(sent.query.is_empty());
}

#[tokio::test]
async fn refresh_and_revoke_are_unsupported_and_config_is_checked() {
    let provider = BITLY.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let refresh = provider.refresh(&RefreshToken::new("r".into())).await;
    assert!(matches!(refresh, Err(Error::Unsupported { capability: "refresh", .. })));
    let token = AccessToken::new("t".into());
    assert!(matches!(provider.revoke(TokenRef::Access(&token)).await, Err(Error::Unsupported { .. })));
    let no_secret =
        BITLY.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    assert!(matches!(no_secret, Err(Error::Config { provider: "bitly", .. })), "{no_secret:?}");
}
