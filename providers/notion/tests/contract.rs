//! Notion contract tests. The shared checks (JSON token calls with HTTP Basic, the profile of the
//! bot's owner with `Notion-Version`, refresh, revocation, a replayed code) run in the conformance kit
//! from tests/persona.toml; this file holds Notion's quirks: the exact authorize URL, the
//! `Notion-Version` header and exact bodies of the token and revocation calls, the workspace kept
//! from the token answer, the refresh token kept when none comes back, Notion's error bodies, and
//! the required secret.

use loginkit_core::serde_json::json;
use loginkit_core::{
    AccessToken, AuthorizeRequest, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig,
    RefreshToken, TokenRef,
};
use loginkit_provider_notion::NOTION;
use loginkit_testkit::contract::{ContractServer, SentRequest, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "1f2d872b-594c-80a4-b2f4-00370af2b13f";
const CLIENT_SECRET: &str = "secret_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcd";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

/// What every Notion token-endpoint call must look like besides its body.
fn assert_notion_call(sent: &SentRequest, path: &str) {
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", path));
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("notion-version"), Some("2025-09-03"));
    assert!(sent.query.is_empty());
}

#[test]
fn authorize_url_installs_for_the_user() {
    let provider = NOTION.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("notion");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://api.notion.com/v1/oauth/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("state", "s"),
        ("owner", "user"),
    ]);
    assert_eq!(sent, expected, "no scopes and no PKCE at Notion");
}

#[tokio::test]
async fn code_exchange_is_a_json_request() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v1/oauth/token", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (code("03f8e2d1-notion-code"), redirect_uri("notion"));
    let tokens =
        server.provider(&NOTION, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let tokens = tokens.unwrap();
    assert_eq!(tokens.access_token.secret(), "ntn_41928371122aBcDeFgHiJkLmNoPqRsTuVwXyZ-example");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "nrt_41928371122aBcDeFgHiJkLmNoPqRsTuVwXyZ-example");
    assert_eq!(tokens.raw.get("workspace_name").and_then(|v| v.as_str()), Some("Ada's Notion"));

    let sent = server.only_request().await;
    assert_notion_call(&sent, "/v1/oauth/token");
    let expected = json!({
        "grant_type": "authorization_code",
        "code": "03f8e2d1-notion-code",
        "redirect_uri": redirect.as_str(),
    });
    assert_eq!(sent.json(), expected);
}

#[tokio::test]
async fn refresh_is_a_json_request() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v1/oauth/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens =
        server.provider(&NOTION, config()).refresh(&RefreshToken::new("nrt_old".into())).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "ntn_41928371122refreshedAccessToken-example");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "nrt_41928371122rotatedRefreshToken-example");
    let sent = server.only_request().await;
    assert_notion_call(&sent, "/v1/oauth/token");
    assert_eq!(sent.json(), json!({"grant_type": "refresh_token", "refresh_token": "nrt_old"}));
}

#[tokio::test]
async fn refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let server = ContractServer::start().await;
    let body = fixture(DIR, "refresh.json").replace("\"nrt_41928371122rotatedRefreshToken-example\"", "null");
    server.respond_json("POST", "/v1/oauth/token", 200, body).await;
    let tokens =
        server.provider(&NOTION, config()).refresh(&RefreshToken::new("nrt_old".into())).await.unwrap();
    assert_eq!(tokens.refresh_token.unwrap().secret(), "nrt_old");
}

#[tokio::test]
async fn notion_errors_keep_their_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v1/oauth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("revoked"), redirect_uri("notion"));
    let err = server.provider(&NOTION, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    match err.unwrap_err() {
        Error::OAuth { provider, status, code, description, .. } => {
            assert_eq!((provider, status, code.as_str()), ("notion", 400, "invalid_grant"));
            assert_eq!(description.as_deref(), Some("Invalid code: this code has been revoked."));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn revoke_is_a_json_request() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v1/oauth/revoke", 200, "{}").await;
    server
        .provider(&NOTION, config())
        .revoke(TokenRef::Access(&AccessToken::new("ntn_gone".into())))
        .await
        .unwrap();
    let sent = server.only_request().await;
    assert_notion_call(&sent, "/v1/oauth/revoke");
    assert_eq!(sent.json(), json!({"token": "ntn_gone"}));
}

#[test]
fn a_missing_secret_is_a_configuration_error() {
    let err = NOTION
        .instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap())
        .unwrap_err();
    assert!(matches!(&err, Error::Config { provider: "notion", .. }), "{err:?}");
}
