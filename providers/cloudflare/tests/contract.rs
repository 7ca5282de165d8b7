//! Cloudflare contract tests. The shared checks (HTTP Basic client authentication, PKCE, the profile,
//! refresh, revocation, a replayed code) run in the conformance kit from tests/persona.toml; this
//! file holds Cloudflare's quirks: the exact authorize URL, the ID token and expiry of the token
//! answer, Cloudflare's error code, a profile with only a subject and no avatar, revoking a refresh
//! token with its type hint, and configuration errors.

use std::collections::BTreeMap;

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge,
    ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_cloudflare::CLOUDFLARE;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4";
const CLIENT_SECRET: &str = "cloudflare-client-secret";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

fn basic() -> Option<(String, String)> {
    Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()))
}

#[test]
fn authorize_url_sends_pkce_and_nonce() {
    let provider = CLOUDFLARE.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-1".into());
    let scopes = vec!["account.read".to_owned()];
    let redirect = redirect_uri("cloudflare");
    let request =
        AuthorizeRequest::new(&redirect, "s").scopes(&scopes).pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://dash.cloudflare.com/oauth2/auth"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid account.read"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "n-1"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_uses_basic_auth_and_the_verifier() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("ory_ac_example"), redirect_uri("cloudflare"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&CLOUDFLARE, config()).exchange_code(&exchange).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "ory_at_cloudflare-access-example");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "ory_rt_cloudflare-refresh-example");
    assert!(tokens.id_token.is_some());
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3599);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth2/token"));
    assert!(sent.query.is_empty(), "no secret in the URL");
    assert_eq!(sent.basic_auth(), basic());
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "ory_ac_example"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_the_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("cloudflare"));
    let err =
        server.provider(&CLOUDFLARE, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert!(matches!(err, Error::OAuth { .. }));
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn userinfo_gives_only_the_subject() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/oauth2/userinfo", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&CLOUDFLARE, config()).user_profile(&access("ory_at_x")).await.unwrap();
    assert_eq!(profile.id, "7c5dae5552338874e5053f2534d2767a");
    assert_eq!((profile.email, profile.email_trust), (None, EmailTrust::Unknown));
    assert_eq!((profile.name, profile.avatar_url), (None, None));
    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("GET", "/oauth2/userinfo"));
    assert_eq!(sent.header("authorization"), Some("Bearer ory_at_x"));
}

#[tokio::test]
async fn revoke_uses_rfc7009_with_basic_auth() {
    let server = ContractServer::start().await;
    server.respond("POST", "/oauth2/revoke", 200, "application/json", "").await;
    let token = RefreshToken::new("ory_rt_x".into());
    server.provider(&CLOUDFLARE, config()).revoke(TokenRef::Refresh(&token)).await.unwrap();
    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth2/revoke"));
    assert_eq!(sent.basic_auth(), basic());
    assert_eq!(sent.form, pairs(&[("token", "ory_rt_x"), ("token_type_hint", "refresh_token")]));
}

#[test]
fn configuration_errors_are_clear() {
    let http = || HttpClient::with_defaults().unwrap();
    let err = CLOUDFLARE.instantiate(ProviderConfig::public(CLIENT_ID), http()).unwrap_err();
    assert!(matches!(&err, Error::Config { message, .. } if message.contains("client secret")), "{err}");
    let err = CLOUDFLARE.instantiate(config().param("account_id", "x"), http()).unwrap_err();
    assert!(
        matches!(&err, Error::Config { message, .. } if message.contains("unknown key `account_id`")),
        "{err}"
    );
}
