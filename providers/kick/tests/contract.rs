//! Kick contract tests. The shared checks (client credentials in the body, PKCE, the profile,
//! refresh, revocation, a replayed code) run in the conformance kit from tests/persona.toml; this
//! file holds Kick's quirks: the exact authorize URL, the expiry, Kick's message as the error code,
//! the user call without an id filter, revocation with `token_hint_type` in the query, revocation
//! errors, and the required secret.

use loginkit_core::{
    AccessToken, AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge,
    ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_kick::KICK;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "01JABCDEFGHJKMNPQRSTVWXYZ0";
const CLIENT_SECRET: &str = "a8f5f167f44f4964e6c998dee827110c9e1f4b0d2c6e8a7f3b5d9c1e0f2a4b6c";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_carries_the_pkce_challenge() {
    let provider = KICK.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("kick");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://id.kick.com/oauth/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "user:read"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_sends_verifier_and_credentials_in_the_body() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("kick-code"), redirect_uri("kick"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&KICK, config()).exchange_code(&exchange).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "NZQ1ZDM1NTMTNDRLZS00MZK5LWFJNDATZMVKOTG3NJK2NTVI");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "ODG0YZQXZTATMWRLMI0ZMJI4LWJHNTCTOGFIOGI2MWU3ZDQ0");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 7200);

    let sent = server.only_request().await;
    assert_eq!(sent.header("authorization"), None);
    assert!(sent.query.is_empty());
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "kick-code"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_kicks_message_as_the_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("kick"));
    let err = server.provider(&KICK, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("Invalid request"), Some(400)));
}

#[tokio::test]
async fn profile_reads_the_first_user() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/public/v1/users", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&KICK, config()).user_profile(&access("kick-at")).await.unwrap();
    assert_eq!(profile.id, "4377088");
    assert_eq!(profile.email.as_deref(), Some("ada@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown);
    assert_eq!(profile.name.as_deref(), Some("adalovelace"));
    assert!(
        profile.avatar_url.as_deref().unwrap().starts_with("https://files.kick.com/images/user/4377088/")
    );
    let sent = server.only_request().await;
    assert_eq!(sent.header("authorization"), Some("Bearer kick-at"));
    assert!(sent.query.is_empty(), "no `id` filter: the token's own user");
}

#[tokio::test]
async fn revoke_puts_the_token_in_the_query() {
    let server = ContractServer::start().await;
    server.respond("POST", "/oauth/revoke", 200, "text/plain", "OK").await;
    let provider = server.provider(&KICK, config());
    provider.revoke(TokenRef::Refresh(&RefreshToken::new("kick-rt".into()))).await.unwrap();
    provider.revoke(TokenRef::Access(&AccessToken::new("kick-at".into()))).await.unwrap();
    let sent = server.requests().await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].query, pairs(&[("token", "kick-rt"), ("token_hint_type", "refresh_token")]));
    assert_eq!(sent[1].query, pairs(&[("token", "kick-at"), ("token_hint_type", "access_token")]));
    assert!(sent.iter().all(|r| r.body.is_empty() && r.header("authorization").is_none()));
}

#[tokio::test]
async fn revoke_errors_keep_kicks_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/revoke", 400, fixture(DIR, "error.json")).await;
    let token = AccessToken::new("unknown".into());
    let err = server.provider(&KICK, config()).revoke(TokenRef::Access(&token)).await.unwrap_err();
    assert!(matches!(&err, Error::OAuth { status: 400, .. }), "{err:?}");
}

#[test]
fn a_missing_secret_is_a_configuration_error() {
    let err = KICK
        .instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap())
        .unwrap_err();
    assert!(matches!(&err, Error::Config { provider: "kick", .. }), "{err:?}");
}
