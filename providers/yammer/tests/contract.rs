//! Yammer contract tests: Yammer's quirks. The shared checks, a whole login against an
//! impersonating provider (client authentication and profile), run in the conformance kit from
//! tests/persona.toml; this file holds what they do not cover: the exact requests loginkit sends
//! and what it reads from answers shaped like Yammer's documented ones.

use std::collections::BTreeMap;

use loginkit_core::{
    AuthorizeRequest, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig, RefreshToken,
};
use loginkit_provider_yammer::YAMMER;
use loginkit_testkit::contract::{ContractServer, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "yammer-client-id";
const CLIENT_SECRET: &str = "yammer-client-secret";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_uses_the_documented_path_and_no_scope() {
    let provider = YAMMER.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("yammer");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://www.yammer.com/oauth2/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("state", "s"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_reads_the_nested_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/access_token", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (code("G3Y6jU3a"), redirect_uri("yammer"));
    let tokens =
        server.provider(&YAMMER, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let tokens = tokens.unwrap();
    assert_eq!(tokens.access_token.secret(), "ajsdfiasd7f6asdf8o-example");
    assert!(tokens.refresh_token.is_none() && tokens.expires_in.is_none(), "Yammer tokens do not expire");
    assert_eq!(tokens.raw.get("user").and_then(|u| u.get("id")).and_then(|id| id.as_u64()), Some(1_014_216));

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth2/access_token"));
    assert!(sent.query.is_empty() && sent.header("authorization").is_none());
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "G3Y6jU3a"),
        ("redirect_uri", redirect.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_the_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/access_token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("yammer"));
    let err = server.provider(&YAMMER, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert!(matches!(err, Error::OAuth { .. }));
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn token_answer_without_a_token_is_a_typed_error() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/access_token", 200, r#"{"access_token":{"expires_at":null}}"#).await;
    let (code, redirect) = (code("c"), redirect_uri("yammer"));
    let err = server.provider(&YAMMER, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    assert!(matches!(err, Err(Error::MissingField { field: "access_token", .. })));
}

#[tokio::test]
async fn refresh_is_unsupported() {
    let provider = YAMMER.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let err = provider.refresh(&RefreshToken::new("r".into())).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { capability: "refresh", .. }));
}

#[test]
fn configuration_errors_are_clear() {
    let http = || HttpClient::with_defaults().unwrap();
    let err = YAMMER.instantiate(ProviderConfig::public(CLIENT_ID), http()).unwrap_err();
    assert!(matches!(&err, Error::Config { message, .. } if message.contains("client secret")), "{err}");
    let err = YAMMER.instantiate(config().param("network", "x"), http()).unwrap_err();
    assert!(
        matches!(&err, Error::Config { message, .. } if message.contains("unknown key `network`")),
        "{err}"
    );
}
