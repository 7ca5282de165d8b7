//! Dropbox contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down: the exact authorize URL, the token request
//! bodies, expiry and scopes, the refresh token kept, Dropbox's error code, the bodyless profile
//! POST and its avatar, the email rule, revocation details, and the secret being required.

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig,
    RefreshToken, TokenRef,
};
use loginkit_provider_dropbox::DROPBOX;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "a1b2c3d4e5f6g7h";
const CLIENT_SECRET: &str = "z9y8x7w6v5u4t3s";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_asks_for_offline_access_with_pkce() {
    let provider = DROPBOX.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("dropbox");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://www.dropbox.com/oauth2/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("token_access_type", "offline"),
    ]);
    assert_eq!(sent, expected, "no scope parameter: the token gets the scopes ticked in the App Console");

    let scopes = vec!["files.content.read".to_owned(), "account_info.read".to_owned()];
    let url = provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").scopes(&scopes)).unwrap();
    assert!(url.query_pairs().any(|(k, v)| k == "scope" && v == "files.content.read account_info.read"));
}

#[tokio::test]
async fn code_exchange_uses_basic_auth() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("sBvW3kZ0m9QAAAAAAAAAf"), redirect_uri("dropbox"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&DROPBOX, config()).exchange_code(&exchange).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "sl.u.AbX9y6Fe3AuH5o66-example-access-token");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "nBiM85CZALsAAAAAAAAAAQexample-refresh-token");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 14400);
    assert_eq!(tokens.scopes.unwrap(), ["account_info.read", "files.metadata.read"]);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth2/token"));
    assert!(sent.query.is_empty(), "no secret in the URL");
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "sBvW3kZ0m9QAAAAAAAAAf"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh_keeps_the_offline_refresh_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens =
        server.provider(&DROPBOX, config()).refresh(&RefreshToken::new("nBiM-r".into())).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "sl.u.AbX9y6Fe3AuH5o66-example-refreshed");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "nBiM-r", "Dropbox does not rotate refresh tokens");
    let sent = server.only_request().await;
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    assert_eq!(sent.form, pairs(&[("grant_type", "refresh_token"), ("refresh_token", "nBiM-r")]));
}

#[tokio::test]
async fn token_error_keeps_dropbox_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("dropbox"));
    let err =
        server.provider(&DROPBOX, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn profile_is_a_bodyless_post() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/2/users/get_current_account", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&DROPBOX, config()).user_profile(&access("sl.u.x")).await.unwrap();
    assert_eq!(profile.id, "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc");
    assert_eq!(profile.email.as_deref(), Some("franz@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Verified);
    assert_eq!(profile.name.as_deref(), Some("Franz Ferdinand (Personal)"));
    assert!(profile.avatar_url.as_deref().unwrap().starts_with("https://dl-web.dropbox.com/account_photo/"));

    let sent = server.only_request().await;
    assert_eq!(sent.header("authorization"), Some("Bearer sl.u.x"));
    assert!(sent.body.is_empty(), "Dropbox rejects a body on this call");
    assert_eq!(sent.header("content-type"), None, "Dropbox rejects a content type without a body");
}

#[tokio::test]
async fn unverified_flag_is_kept() {
    let server = ContractServer::start().await;
    let body = fixture(DIR, "user.json").replace("\"email_verified\": true", "\"email_verified\": false");
    server.respond_json("POST", "/2/users/get_current_account", 200, body).await;
    let profile = server.provider(&DROPBOX, config()).user_profile(&access("t")).await.unwrap();
    assert_eq!(profile.email_trust, EmailTrust::Unverified);
}

#[tokio::test]
async fn revoke_presents_the_access_token() {
    let server = ContractServer::start().await;
    server.respond("POST", "/2/auth/token/revoke", 200, "application/json", "null").await;
    let provider = server.provider(&DROPBOX, config());
    provider.revoke(TokenRef::Access(&loginkit_core::AccessToken::new("sl.u.gone".into()))).await.unwrap();
    let sent = server.only_request().await;
    assert_eq!(sent.header("authorization"), Some("Bearer sl.u.gone"));
    assert!(sent.body.is_empty() && sent.query.is_empty());

    let refresh = provider.revoke(TokenRef::Refresh(&RefreshToken::new("r".into()))).await;
    assert!(matches!(refresh, Err(Error::Unsupported { .. })), "{refresh:?}");
}

#[tokio::test]
async fn revoke_of_a_dead_token_fails_with_the_status() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/2/auth/token/revoke", 401, fixture(DIR, "revoke_error.json")).await;
    let err = server
        .provider(&DROPBOX, config())
        .revoke(TokenRef::Access(&loginkit_core::AccessToken::new("dead".into())))
        .await
        .unwrap_err();
    assert_eq!(err.provider_status(), Some(401));
}

#[test]
fn a_missing_secret_is_a_configuration_error() {
    let err = DROPBOX
        .instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap())
        .unwrap_err();
    assert!(matches!(&err, Error::Config { provider: "dropbox", .. }), "{err:?}");
    assert!(err.to_string().contains("client secret"), "{err}");
}
