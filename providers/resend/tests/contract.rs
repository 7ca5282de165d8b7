//! Resend contract tests. The shared checks (Basic client authentication, PKCE, refresh, revocation,
//! a replayed code) run in the conformance kit from tests/persona.toml; this file holds Resend's
//! quirks: the exact authorize URL, the profile read from the JWT access token with no HTTP call,
//! Resend's error code, revoking a refresh token with its type hint, and configuration errors.

use std::collections::BTreeMap;

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig,
    RefreshToken, TokenRef,
};
use loginkit_provider_resend::RESEND;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "550e8400-e29b-41d4-a716-446655440000";
const CLIENT_SECRET: &str = "resend-client-secret";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

fn basic() -> Option<(String, String)> {
    Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()))
}

#[test]
fn authorize_url_sends_pkce_and_the_narrowest_scope() {
    let provider = RESEND.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("resend");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://api.resend.com/oauth/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "emails:send"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_then_profile_from_the_access_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("ac_1f2e3d4c"), redirect_uri("resend"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let provider = server.provider(&RESEND, config());
    let tokens = provider.exchange_code(&exchange).await.unwrap();
    assert!(tokens.access_token.secret().starts_with("eyJhbGciOiJFUzI1NiIs"));
    assert_eq!(tokens.refresh_token.as_ref().unwrap().secret(), "rt_4f8a1c2e9b7d6a5f3e1c0b9a8d7e6f5a");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 900);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth/token"));
    assert!(sent.query.is_empty(), "no secret in the URL");
    assert_eq!(sent.basic_auth(), basic());
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "ac_1f2e3d4c"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
    ]);
    assert_eq!(sent.form, expected);

    let profile = provider.user_profile(&tokens).await.unwrap();
    assert_eq!(profile.id, "b6d24b8e-af0b-4c3c-be0c-359bbd97381e");
    assert_eq!((profile.email, profile.email_trust), (None, EmailTrust::Unknown));
    assert_eq!((profile.name, profile.avatar_url), (None, None));
    assert_eq!(profile.raw["client_id"], CLIENT_ID);
    assert_eq!(server.requests().await.len(), 1, "the profile needs no HTTP call");
}

#[tokio::test]
async fn profile_of_an_opaque_token_is_a_typed_error() {
    let provider = RESEND.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let err = provider.user_profile(&access("opaque")).await.unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }));
    assert!(!err.to_string().contains("opaque"), "the token is never quoted");
    let no_sub = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL2FwaS5yZXNlbmQuY29tIn0.c2ln";
    let err = provider.user_profile(&access(no_sub)).await.unwrap_err();
    assert!(matches!(err, Error::MissingField { field: "sub", .. }));
}

#[tokio::test]
async fn token_error_keeps_the_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("resend"));
    let err = server.provider(&RESEND, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert!(matches!(err, Error::OAuth { .. }));
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn revoke_uses_rfc7009_with_basic_auth() {
    let server = ContractServer::start().await;
    server.respond("POST", "/oauth/revoke", 200, "application/json", "").await;
    let token = RefreshToken::new("rt_x".into());
    server.provider(&RESEND, config()).revoke(TokenRef::Refresh(&token)).await.unwrap();
    let sent = server.only_request().await;
    assert_eq!(sent.basic_auth(), basic());
    assert_eq!(sent.form, pairs(&[("token", "rt_x"), ("token_type_hint", "refresh_token")]));
}

#[test]
fn configuration_errors_are_clear() {
    let http = || HttpClient::with_defaults().unwrap();
    let err = RESEND.instantiate(ProviderConfig::public(CLIENT_ID), http()).unwrap_err();
    assert!(matches!(&err, Error::Config { message, .. } if message.contains("client secret")), "{err}");
    let err = RESEND.instantiate(config().param("team", "x"), http()).unwrap_err();
    assert!(matches!(&err, Error::Config { message, .. } if message.contains("unknown key `team`")), "{err}");
}
