//! WordPress.com contract tests: WordPress.com's quirks. The shared checks, a whole login against
//! an impersonating provider (client authentication and profile), run in the conformance kit from
//! tests/persona.toml; this file holds what they do not cover: the exact requests loginkit sends
//! and what it reads from answers shaped like WordPress.com's documented ones.

use std::collections::BTreeMap;

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig,
    RefreshToken,
};
use loginkit_provider_wordpress::WORDPRESS;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "12345";
const CLIENT_SECRET: &str = "wpcom-client-secret";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_sends_a_plain_scope_and_no_pkce() {
    let provider = WORDPRESS.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("wordpress");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://public-api.wordpress.com/oauth2/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "auth"),
        ("state", "s"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_sends_credentials_in_the_body() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (code("wp-code"), redirect_uri("wordpress"));
    let tokens =
        server.provider(&WORDPRESS, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let tokens = tokens.unwrap();
    assert_eq!(tokens.access_token.secret(), "wpcom-access-token-example");
    assert!(
        tokens.refresh_token.is_none() && tokens.expires_in.is_none(),
        "WordPress.com tokens do not expire"
    );

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth2/token"));
    assert!(sent.query.is_empty() && sent.header("authorization").is_none());
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "wp-code"),
        ("redirect_uri", redirect.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_the_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("wordpress"));
    let err =
        server.provider(&WORDPRESS, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert!(matches!(err, Error::OAuth { .. }));
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn an_unverified_email_stays_unverified() {
    let unverified =
        fixture(DIR, "user.json").replace("\"email_verified\": true", "\"email_verified\": false");
    let server = ContractServer::start().await;
    server.respond_json("GET", "/rest/v1/me", 200, unverified).await;
    let profile = server.provider(&WORDPRESS, config()).user_profile(&access("wp-at")).await.unwrap();
    assert_eq!(profile.email.as_deref(), Some("ada@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Unverified);
}

#[tokio::test]
async fn refresh_is_unsupported() {
    let provider = WORDPRESS.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let err = provider.refresh(&RefreshToken::new("r".into())).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { capability: "refresh", .. }));
}

#[test]
fn configuration_errors_are_clear() {
    let http = || HttpClient::with_defaults().unwrap();
    let err = WORDPRESS.instantiate(ProviderConfig::public(CLIENT_ID), http()).unwrap_err();
    assert!(matches!(&err, Error::Config { message, .. } if message.contains("client secret")), "{err}");
    let err = WORDPRESS.instantiate(config().param("blog", "x"), http()).unwrap_err();
    assert!(matches!(&err, Error::Config { message, .. } if message.contains("unknown key `blog`")), "{err}");
}
