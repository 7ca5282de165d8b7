//! Slack contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down for Sign in with Slack: the exact authorize
//! URL, the token request bodies and expiry, the refreshed ID token and rotated refresh token,
//! the avatar and a token only in the header, `auth.revoke` with the token only, and errors sent
//! with HTTP 200.

use loginkit_core::serde_json::json;
use loginkit_core::{
    AccessToken, AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge,
    ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_slack::SLACK;
use loginkit_testkit::TestSigner;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "2141029472.691202649728";
const CLIENT_SECRET: &str = "e1b9e11dfcd19c1982d5de12921e17e8c";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_is_sign_in_with_slack() {
    let provider = SLACK.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-1".into());
    let redirect = redirect_uri("slack");
    let request = AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://slack.com/openid/connect/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid email profile"),
        ("state", "s"),
        ("nonce", "n-1"),
    ]);
    assert_eq!(sent, expected, "`scope`, not `user_scope`; no PKCE");
}

#[tokio::test]
async fn code_exchange_posts_credentials_in_the_body() {
    let server = ContractServer::start().await;
    let provider = server.provider(&SLACK, config());
    let body = fixture(DIR, "token.json");
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", "/api/openid.connect.token", 200, body).await;
    let (code, redirect) = (code("4724469134.4644010092847.232b4e6d"), redirect_uri("slack"));
    let tokens = provider.exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let tokens = tokens.unwrap();
    assert_eq!(tokens.access_token.secret(), "xoxe.xoxp-1-ExampleSlackUserToken");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "xoxe-1-ExampleSlackRefreshToken");
    assert!(tokens.id_token.is_some());
    let claims = tokens.id_token_claims.as_ref().expect("the ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 43200);

    let sent = server.requests_to("/api/openid.connect.token").await.remove(0);
    assert_eq!((sent.method.as_str(), sent.query.len(), sent.header("authorization")), ("POST", 0, None));
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "4724469134.4644010092847.232b4e6d"),
        ("redirect_uri", redirect.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_errors_sent_with_http_200_are_typed() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/api/openid.connect.token", 200, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("slack"));
    let err = server.provider(&SLACK, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_code"), Some(200)));
}

#[tokio::test]
async fn refresh_with_token_rotation() {
    let server = ContractServer::start().await;
    let provider = server.provider(&SLACK, config());
    let body = fixture(DIR, "refresh.json");
    // OpenID Connect Core §12.2: a refreshed ID token is verified like the login's (no nonce).
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", "/api/openid.connect.token", 200, body).await;
    let tokens = provider.refresh(&RefreshToken::new("xoxe-1-old".into())).await.unwrap();
    let claims = tokens.id_token_claims.as_ref().expect("the refreshed ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert_eq!(tokens.access_token.secret(), "xoxe.xoxp-1-ExampleRefreshedUserToken");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "xoxe-1-ExampleRotatedRefreshToken");
    let form = server.requests_to("/api/openid.connect.token").await.remove(0).form;
    let expected = pairs(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", "xoxe-1-old"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(form, expected);
}

#[tokio::test]
async fn userinfo_profile() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/api/openid.connect.userInfo", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&SLACK, config()).user_profile(&access("xoxp-x")).await.unwrap();
    assert_eq!(profile.id, "U0R7JM");
    assert_eq!(profile.email.as_deref(), Some("krane@slack-corp.example"));
    assert_eq!(profile.email_trust, EmailTrust::Verified);
    assert_eq!(profile.name.as_deref(), Some("krane"));
    assert_eq!(profile.avatar_url.as_deref(), Some("https://secure.gravatar.com/avatar/example-512.png"));
    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.header("authorization")), ("POST", Some("Bearer xoxp-x")));
    assert!(sent.query.is_empty() && sent.form.is_empty(), "the token travels only in the header");
}

#[tokio::test]
async fn userinfo_errors_sent_with_http_200_are_typed() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/api/openid.connect.userInfo", 200, fixture(DIR, "user_error.json")).await;
    let err = server.provider(&SLACK, config()).user_profile(&access("revoked")).await.unwrap_err();
    assert!(matches!(&err, Error::OAuth { operation: loginkit_core::Operation::UserInfo, .. }), "{err:?}");
    assert_eq!(err.provider_code(), Some("invalid_auth"));
}

#[tokio::test]
async fn revoke_calls_auth_revoke_with_the_token_only() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/api/auth.revoke", 200, fixture(DIR, "revoke.json")).await;
    let provider = server.provider(&SLACK, config());
    provider.revoke(TokenRef::Access(&AccessToken::new("xoxp-x".into()))).await.unwrap();
    assert_eq!(server.only_request().await.form, pairs(&[("token", "xoxp-x")]));

    let refresh = provider.revoke(TokenRef::Refresh(&RefreshToken::new("xoxe-1-r".into()))).await;
    assert!(matches!(refresh, Err(Error::Unsupported { .. })), "{refresh:?}");
}

#[tokio::test]
async fn revoke_errors_sent_with_http_200_are_typed() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/api/auth.revoke", 200, fixture(DIR, "user_error.json")).await;
    let err = server.provider(&SLACK, config()).revoke(TokenRef::Access(&AccessToken::new("x".into()))).await;
    assert_eq!(err.unwrap_err().provider_code(), Some("invalid_auth"));
}

#[test]
fn a_secret_is_required() {
    let err = SLACK.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    assert!(matches!(err, Err(Error::Config { provider: "slack", .. })));
}
