//! Disqus contract tests: Disqus's quirks. The shared checks, a whole login against an
//! impersonating provider (client authentication, profile and refresh), run in the conformance kit
//! from tests/persona.toml; this file holds what they do not cover: the exact requests loginkit
//! sends and what it reads from answers shaped like Disqus's documented ones.

use loginkit_core::{
    AccessToken, AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge,
    ProviderConfig, TokenRef,
};
use loginkit_provider_disqus::DISQUS;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "E8Uh5l5fHZ6gD8U3KycjAIAk46f68Zw7C6eW8WSjZvCLXebZ7p0r1yrYDrLilk2F";
const CLIENT_SECRET: &str = "Ej0EdG5hYQUOOGeeKX8V4XoiLnMMgr3Ug2eDvR4E7gZa9PMzcstgs9F4mXJkwXpu";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_joins_scopes_with_commas() {
    let provider = DISQUS.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("disqus");
    let scopes = vec!["write".to_owned()];
    let request = AuthorizeRequest::new(&redirect, "s-1").scopes(&scopes).pkce_challenge(&challenge);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://disqus.com/api/oauth/2.0/authorize/"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "read,email,write"),
        ("state", "s-1"),
    ]);
    assert_eq!(sent, expected, "no PKCE: Disqus does not document it");
}

#[tokio::test]
async fn code_exchange() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/api/oauth/2.0/access_token/", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (code("5ac1d3b3bfa14e58b8c14bcb8f4d2b4d"), redirect_uri("disqus"));
    let tokens = server
        .provider(&DISQUS, config())
        .exchange_code(&ExchangeRequest::new(&code, &redirect))
        .await
        .unwrap();
    assert_eq!(tokens.access_token.secret(), "c2d06abacfbb40179e47f62a8a1cc92a");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "04be4e0e2d0a4a5e95dbca28fdbfc0f6");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 2592000);
    assert_eq!(tokens.scopes.as_deref(), Some(&["read".to_owned(), "email".to_owned()][..]));

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/api/oauth/2.0/access_token/"));
    assert!(sent.query.is_empty() && sent.header("authorization").is_none());
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "5ac1d3b3bfa14e58b8c14bcb8f4d2b4d"),
        ("redirect_uri", redirect.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_disqus_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/api/oauth/2.0/access_token/", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("disqus"));
    let err = server.provider(&DISQUS, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn profile_call_carries_the_api_credentials_and_reads_response() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/api/3.0/users/details.json", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&DISQUS, config()).user_profile(&access("dq-at")).await.unwrap();
    assert_eq!(profile.id, "947103743");
    assert_eq!(profile.email.as_deref(), Some("bruce@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown);
    assert_eq!(profile.name.as_deref(), Some("Bruce Wayne"));
    assert_eq!(
        profile.avatar_url.as_deref(),
        Some("https://c.disquscdn.com/uploads/users/9471/3743/avatar92.jpg?1433896551")
    );
    let sent = server.only_request().await;
    assert_eq!(sent.method, "GET");
    let expected = pairs(&[("access_token", "dq-at"), ("api_key", CLIENT_ID), ("api_secret", CLIENT_SECRET)]);
    assert_eq!(sent.query, expected);
    assert_eq!(sent.header("authorization"), None);
}

#[tokio::test]
async fn disqus_api_errors_are_typed() {
    let server = ContractServer::start().await;
    let body = r#"{"code": 5, "response": "Invalid API key"}"#;
    server.respond_json("GET", "/api/3.0/users/details.json", 401, body).await;
    let err = server.provider(&DISQUS, config()).user_profile(&access("dq-at")).await.unwrap_err();
    assert!(matches!(err, Error::HttpStatus { status: 401, .. }), "{err:?}");
    assert!(!err.to_string().contains(CLIENT_SECRET));
}

#[tokio::test]
async fn revoke_is_unsupported_and_config_is_checked() {
    let provider = DISQUS.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let token = AccessToken::new("t".into());
    assert!(matches!(provider.revoke(TokenRef::Access(&token)).await, Err(Error::Unsupported { .. })));
    let no_secret =
        DISQUS.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    assert!(matches!(no_secret, Err(Error::Config { provider: "disqus", .. })), "{no_secret:?}");
}
