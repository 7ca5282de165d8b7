//! VK ID contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down: the exact authorize URL and the `host`
//! setting, the token request body and expiry, the callback's device_id sent back, VK ID's error
//! codes (one with status 200), the exact user-info and revocation forms, and no refresh.

use std::collections::BTreeMap;

use loginkit_core::{
    AccessToken, AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge,
    ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_vk::VK;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "51234567";

fn config() -> ProviderConfig {
    ProviderConfig::public(CLIENT_ID)
}

#[test]
fn authorize_url_sends_pkce_on_the_configured_host() {
    let provider = VK.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("vk");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://id.vk.ru/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "vkid.personal_info email"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    assert_eq!(sent, expected);

    let older =
        VK.instantiate(config().param("host", "id.vk.com"), HttpClient::with_defaults().unwrap()).unwrap();
    let url = older.authorize_url(&AuthorizeRequest::new(&redirect, "s")).unwrap();
    assert_eq!(url.host_str(), Some("id.vk.com"));
}

#[tokio::test]
async fn code_exchange_is_a_public_client_pkce_call() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/auth", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("vk2.a.code-example"), redirect_uri("vk"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&VK, config()).exchange_code(&exchange).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "vk2.a.access-token-example");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "vk2.a.refresh-token-example");
    assert!(tokens.id_token.is_some());
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3600);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth2/auth"));
    assert!(sent.query.is_empty() && sent.header("authorization").is_none(), "no secret anywhere");
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "vk2.a.code-example"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("client_id", CLIENT_ID),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn code_exchange_sends_back_the_callbacks_device_id() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/auth", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("vk2.a.code-example"), redirect_uri("vk"));
    let callback =
        vec![("device_id".to_owned(), "dev-7f3a".to_owned()), ("type".to_owned(), "code_v2".to_owned())];
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier).callback_params(&callback);
    server.provider(&VK, config()).exchange_code(&exchange).await.unwrap();
    let sent = server.only_request().await;
    assert_eq!(sent.form.get("device_id").map(String::as_str), Some("dev-7f3a"));
    assert!(!sent.form.contains_key("type"), "only device_id goes back");
}

#[tokio::test]
async fn token_error_keeps_vks_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/auth", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("vk"));
    let err = server.provider(&VK, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert!(matches!(err, Error::OAuth { .. }));
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn userinfo_posts_the_token_in_a_form() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/user_info", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&VK, config()).user_profile(&access("vk2.a.at")).await.unwrap();
    assert_eq!(profile.id, "1234567890");
    assert_eq!(profile.email.as_deref(), Some("ivan_i123@vk.example"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown, "VK ID's `verified` is about the account");
    assert_eq!(profile.name.as_deref(), Some("Ivan Ivanov"));
    assert_eq!(
        profile.avatar_url.as_deref(),
        Some("https://pp.userapi.com/60tZWMo4SmwcploUVl9XEt8ufnTTvDUmQ6Bj1g/mmv1pcj63C4.png")
    );
    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth2/user_info"));
    assert!(sent.query.is_empty() && sent.header("authorization").is_none(), "the token is in the body only");
    assert_eq!(sent.form, pairs(&[("client_id", CLIENT_ID), ("access_token", "vk2.a.at")]));
}

#[tokio::test]
async fn userinfo_error_with_status_200_is_an_oauth_error() {
    let server = ContractServer::start().await;
    let body = r#"{"error":"invalid_token","error_description":"access_token is missing or invalid"}"#;
    server.respond_json("POST", "/oauth2/user_info", 200, body).await;
    let err = server.provider(&VK, config()).user_profile(&access("vk2.a.old")).await.unwrap_err();
    assert_eq!(err.provider_code(), Some("invalid_token"));
}

#[tokio::test]
async fn revoke_posts_the_access_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/revoke", 200, r#"{"response":1}"#).await;
    let provider = server.provider(&VK, config());
    provider.revoke(TokenRef::Access(&AccessToken::new("vk2.a.at".into()))).await.unwrap();
    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth2/revoke"));
    assert_eq!(sent.form, pairs(&[("client_id", CLIENT_ID), ("access_token", "vk2.a.at")]));
    let err = provider.revoke(TokenRef::Refresh(&RefreshToken::new("r".into()))).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }));
}

#[tokio::test]
async fn refresh_is_unsupported_until_device_id_can_be_kept() {
    let provider = VK.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let err = provider.refresh(&RefreshToken::new("r".into())).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { capability: "refresh", .. }));
}

#[test]
fn configuration_errors_are_clear() {
    let http = || HttpClient::with_defaults().unwrap();
    let err = VK.instantiate(config().param("host", "evil.example/x"), http()).unwrap_err();
    assert!(matches!(&err, Error::Config { message, .. } if message.contains("key `host`")), "{err}");
    let err = VK.instantiate(config().param("v", "5.199"), http()).unwrap_err();
    assert!(matches!(&err, Error::Config { message, .. } if message.contains("unknown key `v`")), "{err}");
}
