//! TikTok contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down: `client_key` everywhere a client id goes, the
//! exact authorize URL and request bodies, the `fields` of the user-info call, and errors answered
//! with HTTP 200.

use std::collections::BTreeMap;

use loginkit_core::{
    AccessToken, AuthorizeRequest, EmailTrust, ExchangeRequest, HttpClient, ProviderConfig, TokenRef,
};
use loginkit_provider_tiktok::TIKTOK;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_KEY: &str = "awkx1y2z3example";
const CLIENT_SECRET: &str = "tiktok-client-secret-0123456789";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_KEY, CLIENT_SECRET)
}

#[test]
fn the_authorize_url_names_the_client_key_and_joins_scopes_with_commas() {
    let provider = TIKTOK.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let redirect = redirect_uri("tiktok");
    let scopes = ["video.list".to_owned()];
    let url = provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").scopes(&scopes)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://www.tiktok.com/v2/auth/authorize/"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_key", CLIENT_KEY),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "user.info.basic,video.list"),
        ("state", "s"),
    ]);
    assert_eq!(sent, expected, "no client_id, no PKCE");
}

#[tokio::test]
async fn token_refresh_and_revocation_send_the_client_key_and_secret_in_the_body() {
    let server = ContractServer::start().await;
    server.respond_json_once("POST", "/v2/oauth/token/", 200, fixture(DIR, "token.json")).await;
    server.respond_json_once("POST", "/v2/oauth/token/", 200, fixture(DIR, "refresh.json")).await;
    server.respond_json("POST", "/v2/oauth/revoke/", 200, "{}").await;
    let provider = server.provider(&TIKTOK, config());
    let (code, redirect) = (code("SplxlOBeZQQYbYS6WxSbIA"), redirect_uri("tiktok"));
    let tokens = provider.exchange_code(&ExchangeRequest::new(&code, &redirect)).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "act.example12345Example12345Example");
    let refreshed = provider.refresh(tokens.refresh_token.as_ref().unwrap()).await.unwrap();
    assert_eq!(refreshed.refresh_token.unwrap().secret(), "rft.example67890Rotated67890Rotated", "rotated");
    provider.revoke(TokenRef::Access(&AccessToken::new("act.gone".into()))).await.unwrap();

    let sent = server.requests().await;
    let credentials = [("client_key", CLIENT_KEY), ("client_secret", CLIENT_SECRET)];
    let with = |extra: &[(&str, &str)]| pairs(&[extra, &credentials[..]].concat());
    assert_eq!(
        sent[0].form,
        with(&[
            ("grant_type", "authorization_code"),
            ("code", code.secret()),
            ("redirect_uri", redirect.as_str())
        ])
    );
    assert_eq!(
        sent[1].form,
        with(&[("grant_type", "refresh_token"), ("refresh_token", "rft.example12345Example12345Example")])
    );
    assert_eq!(sent[2].form, with(&[("token", "act.gone"), ("token_type_hint", "access_token")]));
    assert!(sent.iter().all(|r| r.header("authorization").is_none() && !r.form.contains_key("client_id")));
}

#[tokio::test]
async fn an_error_answered_with_http_200_is_typed() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v2/oauth/token/", 200, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("tiktok"));
    let err = server
        .provider(&TIKTOK, config())
        .exchange_code(&ExchangeRequest::new(&code, &redirect))
        .await
        .unwrap_err();
    assert_eq!(err.provider_code(), Some("invalid_grant"), "{err:?}");
}

#[tokio::test]
async fn the_profile_asks_for_its_fields_and_has_no_email() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/v2/user/info/", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&TIKTOK, config()).user_profile(&access("act.x")).await.unwrap();
    assert_eq!(profile.id, "afd97af1-b87b-48b9-ac98-410aghda5344", "open_id, per app");
    assert_eq!((profile.email, profile.email_trust), (None, EmailTrust::Unknown));
    assert_eq!(profile.name.as_deref(), Some("Tik Toker"));
    assert!(profile.avatar_url.unwrap().starts_with("https://p19-sign.tiktokcdn-us.com/"));
    let sent = server.only_request().await;
    assert_eq!(
        sent.query.get("fields").map(String::as_str),
        Some("open_id,union_id,avatar_url,display_name")
    );
    assert_eq!(sent.header("authorization"), Some("Bearer act.x"));
}

#[test]
fn a_client_secret_is_required() {
    let err = TIKTOK.instantiate(ProviderConfig::public(CLIENT_KEY), HttpClient::with_defaults().unwrap());
    assert!(matches!(err, Err(loginkit_core::Error::Config { provider: "tiktok", .. })));
}
