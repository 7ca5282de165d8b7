//! Kakao contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down: the exact authorize URL, the token request
//! body, the email rule and the 19-digit member number, the kept refresh token, and logout as
//! revocation.

use std::collections::BTreeMap;

use loginkit_core::serde_json::{self, Value};
use loginkit_core::{
    AccessToken, AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge,
    ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_kakao::KAKAO;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "9f1c2b3a4d5e6f708192a3b4c5d6e7f8";
const CLIENT_SECRET: &str = "kakao-client-secret-0123456789abcdef";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_sends_no_scope_unless_asked_and_then_comma_separated() {
    let provider = KAKAO.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("kakao");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://kauth.kakao.com/oauth/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    assert_eq!(sent, expected, "Kakao asks for the app's consent items when no scope is sent");
    let scopes = ["account_email".to_owned(), "profile_nickname".to_owned()];
    let url = provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").scopes(&scopes)).unwrap();
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(sent["scope"], "account_email,profile_nickname");
}

#[tokio::test]
async fn the_code_exchange_sends_the_secret_in_the_body() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (code("3aXw9XnC2vF9zLwQ8sMq"), redirect_uri("kakao"));
    let tokens = server
        .provider(&KAKAO, config())
        .exchange_code(&ExchangeRequest::new(&code, &redirect))
        .await
        .unwrap();
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 21599);
    let sent = server.only_request().await;
    assert_eq!(sent.header("authorization"), None, "client_secret_post only");
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "3aXw9XnC2vF9zLwQ8sMq"),
        ("redirect_uri", redirect.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn a_token_error_keeps_kakaos_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("kakao"));
    let err = server
        .provider(&KAKAO, config())
        .exchange_code(&ExchangeRequest::new(&code, &redirect))
        .await
        .unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

async fn profile_of(user: Value) -> loginkit_core::UserProfile {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/v2/user/me", 200, user.to_string()).await;
    server.provider(&KAKAO, config()).user_profile(&access("a8Sn")).await.unwrap()
}

#[tokio::test]
async fn the_member_number_is_kept_exactly_and_the_email_needs_both_flags() {
    let user: Value = serde_json::from_str(&fixture(DIR, "user.json")).unwrap();
    let profile = profile_of(user.clone()).await;
    assert_eq!(profile.id, "1285016924429472463", "19 digits, no float rounding");
    assert_eq!(
        (profile.email.as_deref(), profile.email_trust),
        (Some("gildong@kakao.example"), EmailTrust::Verified)
    );
    assert_eq!(profile.name.as_deref(), Some("홍길동"));
    assert!(profile.avatar_url.unwrap().ends_with("img_640x640.jpg"));
    for (flag, value, trust) in [
        ("is_email_valid", Value::Bool(false), EmailTrust::Unverified),
        ("is_email_verified", Value::Bool(false), EmailTrust::Unverified),
        ("is_email_valid", Value::Null, EmailTrust::Unknown),
    ] {
        let mut changed = user.clone();
        changed["kakao_account"][flag] = value.clone();
        assert_eq!(profile_of(changed).await.email_trust, trust, "{flag} = {value}");
    }
    // Without consent to the profile items, the deprecated `properties` still name the user.
    let mut bare = user.clone();
    bare["kakao_account"].as_object_mut().unwrap().remove("profile");
    assert_eq!(profile_of(bare).await.name.as_deref(), Some("홍길동"));
}

#[tokio::test]
async fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens = server.provider(&KAKAO, config()).refresh(&RefreshToken::new("9nL2".into())).await.unwrap();
    assert_eq!(tokens.refresh_token.map(|t| t.secret().clone()).as_deref(), Some("9nL2"));
    let sent = server.only_request().await;
    assert_eq!(
        sent.form,
        pairs(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "9nL2"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET)
        ])
    );
}

#[tokio::test]
async fn revocation_logs_the_user_out_with_the_access_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v1/user/logout", 200, r#"{"id":1285016924429472463}"#).await;
    let provider = server.provider(&KAKAO, config());
    provider.revoke(TokenRef::Access(&AccessToken::new("a8Sn".into()))).await.unwrap();
    let sent = server.only_request().await;
    assert_eq!(sent.header("authorization"), Some("Bearer a8Sn"));
    assert!(sent.body.is_empty());
    let refresh = provider.revoke(TokenRef::Refresh(&RefreshToken::new("r".into()))).await;
    assert!(matches!(refresh, Err(Error::Unsupported { .. })), "{refresh:?}");
}

#[test]
fn a_client_secret_is_required() {
    let err = KAKAO
        .instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap())
        .unwrap_err();
    assert!(matches!(&err, Error::Config { provider: "kakao", .. }), "{err:?}");
}
