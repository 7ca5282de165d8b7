//! X contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down: the exact authorize URL and default scopes,
//! the client id in the token bodies besides Basic, expiry, a missing verifier refused locally,
//! the rotated refresh token, X's error code, the `user.fields` query and the email rule, and the
//! revocation's token type hint.

use std::collections::BTreeMap;

use loginkit_core::{
    AccessToken, AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge,
    ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_x::X;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "rG9n6402A3dbUJKzXTNX4oWHJ";
const CLIENT_SECRET: &str = "x-client-secret";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

fn basic() -> Option<(String, String)> {
    Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()))
}

#[test]
fn authorize_url_sends_pkce_and_the_default_scopes() {
    let provider = X.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("x");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://x.com/i/oauth2/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "tweet.read users.read users.email offline.access"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_uses_basic_auth_and_client_id_in_the_body() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/2/oauth2/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("VGNibzFWSWREZm01bjN1N3dicWlNUG1oa2xRRVNN"), redirect_uri("x"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&X, config()).exchange_code(&exchange).await.unwrap();
    assert_eq!(
        tokens.access_token.secret(),
        "VGNibzFWSWREZm01bjN1N3dicWlNUG1oa2xRRVNNdmVHelJGY2hPWGxNd2dxOjE2MjIxNjA4MjU4MjU6MToxOmF0OjE"
    );
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "bWRWa3gzdnk3WHRGU1o0bmRRcTJ5VUxWX1lZTDdJSUtmaWcxbTVxdEFXcW5tOjE2MjIxNDc3NDM5MTQ6MToxOnJ0OjE"
    );
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 7200);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/2/oauth2/token"));
    assert!(sent.query.is_empty(), "no secret in the URL");
    assert_eq!(sent.basic_auth(), basic());
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "VGNibzFWSWREZm01bjN1N3dicWlNUG1oa2xRRVNN"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("client_id", CLIENT_ID),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn code_exchange_without_a_verifier_is_refused_locally() {
    let server = ContractServer::start().await;
    let (code, redirect) = (code("c"), redirect_uri("x"));
    let err = server.provider(&X, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    assert!(matches!(err, Err(Error::InvalidRequest { .. })));
    assert!(server.requests().await.is_empty());
}

#[tokio::test]
async fn refresh_takes_the_rotated_refresh_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/2/oauth2/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens = server.provider(&X, config()).refresh(&RefreshToken::new("old-rt".into())).await.unwrap();
    assert_eq!(
        tokens.access_token.secret(),
        "Wm5TZ2JSdlJyNHpSN0tUdzJwN0RTSWp3dHVvZl9qMUZ6VGRRMnZKUFRGeWR6OjE2MjIxNjA4MjU4MjU6MToxOmF0OjE"
    );
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "cm90YXRlZC1yZWZyZXNoLXRva2VuLWV4YW1wbGU6MTYyMjE0Nzc0MzkxNDoxOjE6cnQ6MQ"
    );
    let sent = server.only_request().await;
    assert_eq!(sent.basic_auth(), basic());
    let expected =
        pairs(&[("grant_type", "refresh_token"), ("refresh_token", "old-rt"), ("client_id", CLIENT_ID)]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_xs_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/2/oauth2/token", 400, fixture(DIR, "error.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("stale"), redirect_uri("x"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let err = server.provider(&X, config()).exchange_code(&exchange).await.unwrap_err();
    assert!(matches!(err, Error::OAuth { .. }));
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_request"), Some(400)));
}

#[tokio::test]
async fn userinfo_profile_trusts_only_a_confirmed_email() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/2/users/me", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&X, config()).user_profile(&access("x-at")).await.unwrap();
    assert_eq!(profile.id, "2244994945");
    assert_eq!(profile.email.as_deref(), Some("devrel@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Verified);
    assert_eq!(profile.name.as_deref(), Some("X Dev"));
    assert_eq!(
        profile.avatar_url.as_deref(),
        Some("https://pbs.twimg.com/profile_images/1683325380441128960/yRsRRjGO_normal.jpg")
    );
    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("GET", "/2/users/me"));
    assert_eq!(sent.query, pairs(&[("user.fields", "confirmed_email,profile_image_url")]));
    assert_eq!(sent.header("authorization"), Some("Bearer x-at"));

    let server = ContractServer::start().await;
    server.respond_json("GET", "/2/users/me", 200, r#"{"data":{"id":"1","name":"N","username":"n"}}"#).await;
    let profile = server.provider(&X, config()).user_profile(&access("x-at")).await.unwrap();
    assert_eq!((profile.email, profile.email_trust), (None, EmailTrust::Unknown));
}

#[tokio::test]
async fn revoke_posts_the_token_with_basic_auth() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/2/oauth2/revoke", 200, r#"{"revoked":true}"#).await;
    let token = AccessToken::new("x-at".into());
    server.provider(&X, config()).revoke(TokenRef::Access(&token)).await.unwrap();
    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/2/oauth2/revoke"));
    assert_eq!(sent.basic_auth(), basic());
    assert_eq!(sent.form, pairs(&[("token", "x-at"), ("token_type_hint", "access_token")]));
}

#[test]
fn configuration_errors_are_clear() {
    let http = || HttpClient::with_defaults().unwrap();
    let err = X.instantiate(ProviderConfig::public(CLIENT_ID), http()).unwrap_err();
    assert!(matches!(&err, Error::Config { message, .. } if message.contains("client secret")), "{err}");
    let err = X.instantiate(config().param("customerKey", "x"), http()).unwrap_err();
    assert!(
        matches!(&err, Error::Config { message, .. } if message.contains("unknown key `customerKey`")),
        "{err}"
    );
}
