//! Dailymotion contract tests: Dailymotion's quirks. The shared checks, a whole login against an
//! impersonating provider (client authentication, profile and refresh), run in the conformance kit
//! from tests/persona.toml; this file holds what they do not cover: the exact requests loginkit
//! sends and what it reads from answers shaped like Dailymotion's documented ones.

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig,
    TokenRef,
};
use loginkit_provider_dailymotion::DAILYMOTION;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "4d6f1a2b3c4d5e6f7a8b";
const CLIENT_SECRET: &str = "0123456789abcdef0123456789abcdef01234567";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url() {
    let provider = DAILYMOTION.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("dailymotion");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s-1").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://www.dailymotion.com/oauth/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "userinfo email"),
        ("state", "s-1"),
    ]);
    assert_eq!(sent, expected, "no PKCE: Dailymotion does not document it");
}

#[tokio::test]
async fn code_exchange() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (code("dm-code-1"), redirect_uri("dailymotion"));
    let exchange = ExchangeRequest::new(&code, &redirect);
    let tokens = server.provider(&DAILYMOTION, config()).exchange_code(&exchange).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.dm-access.c2ln");
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.dm-refresh.c2ln"
    );
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 36000);
    assert_eq!(tokens.scopes.as_deref(), Some(&["email".to_owned(), "userinfo".to_owned()][..]));

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth/token"));
    assert!(sent.query.is_empty() && sent.header("authorization").is_none());
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "dm-code-1"),
        ("redirect_uri", redirect.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_dailymotions_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("dailymotion"));
    let err =
        server.provider(&DAILYMOTION, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn profile_asks_for_its_fields_and_never_trusts_the_email() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/user/me", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&DAILYMOTION, config()).user_profile(&access("dm-at")).await.unwrap();
    assert_eq!(profile.id, "x2kd9zq");
    assert_eq!(profile.email.as_deref(), Some("jane.doe@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown);
    assert_eq!(profile.name.as_deref(), Some("Jane Doe"));
    assert_eq!(profile.avatar_url.as_deref(), Some("https://s2.dmcdn.net/u/8Xs1Q1ZqfVxXqz9W/240x240"));
    let sent = server.only_request().await;
    assert_eq!(sent.header("authorization"), Some("Bearer dm-at"));
    assert_eq!(sent.query, pairs(&[("fields", "id,email,fullname,screenname,avatar_240_url")]));
}

#[tokio::test]
async fn verified_partner_flag_is_not_email_verification() {
    let server = ContractServer::start().await;
    let body = r#"{"id":"x1","email":"p@example.com","screenname":"partner","verified":true}"#;
    server.respond_json("GET", "/user/me", 200, body).await;
    let profile = server.provider(&DAILYMOTION, config()).user_profile(&access("t")).await.unwrap();
    assert_eq!(profile.email_trust, EmailTrust::Unknown);
    assert_eq!(profile.name.as_deref(), Some("partner"), "screenname is the fallback name");
}

#[tokio::test]
async fn revoke_is_unsupported_and_config_is_checked() {
    let provider = DAILYMOTION.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let token = loginkit_core::AccessToken::new("t".into());
    assert!(matches!(provider.revoke(TokenRef::Access(&token)).await, Err(Error::Unsupported { .. })));
    let no_secret =
        DAILYMOTION.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    assert!(matches!(no_secret, Err(Error::Config { provider: "dailymotion", .. })), "{no_secret:?}");
}
