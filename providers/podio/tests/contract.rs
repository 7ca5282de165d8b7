//! Podio contract tests. The shared checks (JSON token calls with the client credentials, the
//! two-call profile and avatar, refresh, a replayed code) run in the conformance kit from
//! tests/persona.toml; this file holds Podio's quirks: the exact authorize URL without response_type,
//! the expiry, the refresh token kept when none comes back, Podio's error code and description, an
//! unverified primary mail, no revocation, and the required secret.

use loginkit_core::serde_json::json;
use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig,
    RefreshToken, TokenRef,
};
use loginkit_provider_podio::PODIO;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "loginkit-example";
const CLIENT_SECRET: &str = "Vq8LwXkP2sYd9RtF3hJm6NcB1zGe4UaQ7oIyTrEwSdXcVbNm";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_is_podios_server_side_flow() {
    let provider = PODIO.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("podio");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://podio.com/oauth/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[("client_id", CLIENT_ID), ("redirect_uri", redirect.as_str()), ("state", "s")]);
    assert_eq!(sent, expected, "no response_type, no scope, no PKCE");
}

#[tokio::test]
async fn code_exchange_posts_a_json_body() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token/v2", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (code("2f0e1d7c9b8a"), redirect_uri("podio"));
    let tokens =
        server.provider(&PODIO, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let tokens = tokens.unwrap();
    assert_eq!(tokens.access_token.secret(), "c5d2a6e9b0f14c3e8a7d9b1f2e4c6a8dExamplePodioAccessToken");
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "7f3e1d9c5b2a4e6f8d0c1b3a5e7f9d2bExamplePodioRefreshToken"
    );
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 28800);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.query.len(), sent.header("authorization")), ("POST", 0, None));
    assert!(sent.header("content-type").is_some_and(|ct| ct.starts_with("application/json")));
    let expected = json!({
        "grant_type": "authorization_code",
        "code": "2f0e1d7c9b8a",
        "redirect_uri": redirect.as_str(),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    });
    assert_eq!(sent.json(), expected);
}

#[tokio::test]
async fn refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let server = ContractServer::start().await;
    let body = r#"{"access_token":"a1","token_type":"bearer","expires_in":28800}"#;
    server.respond_json("POST", "/oauth/token/v2", 200, body).await;
    let tokens = server.provider(&PODIO, config()).refresh(&RefreshToken::new("r-old".into())).await.unwrap();
    assert_eq!(tokens.refresh_token.unwrap().secret(), "r-old");
}

#[tokio::test]
async fn token_error_keeps_podios_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token/v2", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("podio"));
    let err = server.provider(&PODIO, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
    assert!(err.to_string().contains("Sorry, your OAuth code is invalid."), "{err}");
}

#[tokio::test]
async fn an_unverified_primary_mail_is_unverified() {
    let server = ContractServer::start().await;
    let user = fixture(DIR, "user.json").replacen("\"verified\": true", "\"verified\": false", 1);
    server.respond_json("GET", "/user", 200, user).await;
    server.respond_json("GET", "/user/profile", 200, fixture(DIR, "profile.json")).await;
    let profile = server.provider(&PODIO, config()).user_profile(&access("t")).await.unwrap();
    assert_eq!(profile.email_trust, EmailTrust::Unverified);
}

#[tokio::test]
async fn no_revocation_and_a_secret_is_required() {
    let server = ContractServer::start().await;
    let revoke =
        server.provider(&PODIO, config()).revoke(TokenRef::Refresh(&RefreshToken::new("r".into()))).await;
    assert!(matches!(revoke, Err(Error::Unsupported { .. })), "{revoke:?}");
    let err = PODIO.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    assert!(matches!(err, Err(Error::Config { provider: "podio", .. })));
}
