//! Bitbucket contract tests: Bitbucket Cloud's quirks. The shared checks, a whole login against an
//! impersonating provider (client authentication, profile and refresh), run in the conformance kit
//! from tests/persona.toml; this file holds what they do not cover: the exact requests loginkit
//! sends and what it reads from answers shaped like Bitbucket Cloud's documented ones.

use loginkit_core::{
    AccessToken, AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge,
    ProviderConfig, TokenRef,
};
use loginkit_provider_bitbucket::BITBUCKET;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "mVbYm7uG3Nqz4XtLwA";
const CLIENT_SECRET: &str = "Hq2pW8sK9dLz3xCv7bNm5tRy1uEo4iAa";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_sends_the_redirect_uri() {
    let provider = BITBUCKET.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("bitbucket");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s-1").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://bitbucket.org/site/oauth2/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("state", "s-1"),
    ]);
    assert_eq!(sent, expected, "no scope (the consumer's permissions apply) and no PKCE (undocumented)");
}

#[tokio::test]
async fn code_exchange_uses_basic_auth() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/site/oauth2/access_token", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (code("3AzqUgVbE4f6ZgD7aS"), redirect_uri("bitbucket"));
    let tokens = server
        .provider(&BITBUCKET, config())
        .exchange_code(&ExchangeRequest::new(&code, &redirect))
        .await
        .unwrap();
    assert_eq!(tokens.access_token.secret(), "KLmXQ8yH-example-access-token_2wT7bNf3h8fRkQ==");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "Ny3Xq9bBexampleRefresh");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 7200);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/site/oauth2/access_token"));
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "3AzqUgVbE4f6ZgD7aS"),
        ("redirect_uri", redirect.as_str()),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_bitbuckets_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/site/oauth2/access_token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("bitbucket"));
    let err =
        server.provider(&BITBUCKET, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn profile_takes_the_primary_confirmed_email() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/2.0/user", 200, fixture(DIR, "user.json")).await;
    server.respond_json("GET", "/2.0/user/emails", 200, fixture(DIR, "emails.json")).await;
    let profile = server.provider(&BITBUCKET, config()).user_profile(&access("bb-at")).await.unwrap();
    assert_eq!(profile.id, "{c788b2da-b7a2-404c-9e26-d3f077557007}");
    assert_eq!(profile.email.as_deref(), Some("tutorials@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Verified);
    assert_eq!(profile.name.as_deref(), Some("Tutorials Account"));
    assert_eq!(
        profile.avatar_url.as_deref(),
        Some("https://secure.gravatar.com/avatar/1e0f0a1b2c3d4e5f60718293a4b5c6d7?d=identicon")
    );
    let sent = server.requests().await;
    let paths: Vec<&str> = sent.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/2.0/user", "/2.0/user/emails"]);
    for request in &sent {
        assert_eq!(request.method, "GET");
        assert_eq!(request.header("authorization"), Some("Bearer bb-at"));
        assert!(request.query.is_empty(), "Bitbucket no longer accepts ?access_token=");
    }
}

#[tokio::test]
async fn without_the_email_permission_there_is_no_email() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/2.0/user", 200, fixture(DIR, "user.json")).await;
    let denied =
        r#"{"type": "error", "error": {"message": "Access denied. You must have the email scope."}}"#;
    server.respond_json("GET", "/2.0/user/emails", 403, denied).await;
    let profile = server.provider(&BITBUCKET, config()).user_profile(&access("bb-at")).await.unwrap();
    assert_eq!(profile.id, "{c788b2da-b7a2-404c-9e26-d3f077557007}");
    assert_eq!((profile.email, profile.email_trust), (None, EmailTrust::Unknown));
}

#[tokio::test]
async fn revoke_is_unsupported_and_config_is_checked() {
    let provider = BITBUCKET.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let token = AccessToken::new("t".into());
    assert!(matches!(provider.revoke(TokenRef::Access(&token)).await, Err(Error::Unsupported { .. })));
    let no_secret =
        BITBUCKET.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    assert!(matches!(no_secret, Err(Error::Config { provider: "bitbucket", .. })), "{no_secret:?}");
}
