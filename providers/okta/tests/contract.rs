//! Okta contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down: the exact authorize URL and the authorization
//! server setting, the token request body and expiry, the refreshed ID token (verified, or refused)
//! and rotated refresh token, Okta's error code, no avatar, the revocation's token type hint, and
//! the domain settings.

use std::collections::BTreeMap;

use loginkit_core::serde_json::json;
use loginkit_core::{
    AccessToken, AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge,
    ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_okta::OKTA;
use loginkit_testkit::TestSigner;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const DOMAIN: &str = "integrator-1234567.okta.com";
const CLIENT_ID: &str = "0oa1b2c3d4E5f6G7h8i9";
const CLIENT_SECRET: &str = "okta:secret/with+chars";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET).param("domain", DOMAIN)
}

fn basic_credentials() -> Option<(String, String)> {
    Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()))
}

#[test]
fn authorize_url_uses_the_default_server_unless_configured() {
    let provider = OKTA.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-okta".into());
    let redirect = redirect_uri("okta");
    let request = AuthorizeRequest::new(&redirect, "st").pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(
        url.as_str().split('?').next(),
        Some("https://integrator-1234567.okta.com/oauth2/default/v1/authorize")
    );
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid profile email offline_access"),
        ("state", "st"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "n-okta"),
    ]);
    assert_eq!(sent, expected);

    let custom = config().param("authorization_server_id", "aus1a2b3c4d5E6f7g8h9");
    let url = OKTA.instantiate(custom, HttpClient::with_defaults().unwrap()).unwrap().authorize_url(&request);
    assert_eq!(url.unwrap().path(), "/oauth2/aus1a2b3c4d5E6f7g8h9/v1/authorize");
}

#[tokio::test]
async fn code_exchange_authenticates_with_basic() {
    let server = ContractServer::start().await;
    let provider = server.provider(&OKTA, config());
    let body = fixture(DIR, "token.json");
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", "/oauth2/default/v1/token", 200, body).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("splxlOBeZQQYbYS6WxSbIA"), redirect_uri("okta"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = provider.exchange_code(&exchange).await.unwrap();
    assert!(tokens.access_token.secret().contains("eyJzdWIiOiIwMHVpZDRCeFh3Nkk2VFY0bTBnMyJ9"));
    assert_eq!(tokens.refresh_token.unwrap().secret(), "a9VpZDRCeFh3Nkk2VFY0-example");
    assert!(tokens.id_token.is_some());
    let claims = tokens.id_token_claims.as_ref().expect("the ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3600);

    let sent = server.requests_to("/oauth2/default/v1/token").await.remove(0);
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth2/default/v1/token"));
    assert!(sent.query.is_empty());
    assert_eq!(sent.basic_auth(), basic_credentials());
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "splxlOBeZQQYbYS6WxSbIA"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
    ]);
    assert_eq!(sent.form, expected, "no credentials in the body");
}

#[tokio::test]
async fn refresh_takes_the_rotated_token() {
    let server = ContractServer::start().await;
    let provider = server.provider(&OKTA, config());
    let body = fixture(DIR, "refresh.json");
    // OpenID Connect Core §12.2: a refreshed ID token is verified like the login's (no nonce).
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", "/oauth2/default/v1/token", 200, body).await;
    let tokens = provider.refresh(&RefreshToken::new("old".into())).await.unwrap();
    let claims = tokens.id_token_claims.as_ref().expect("the refreshed ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "b8WqAEESDGi4Oll3WGZ5-rotated");
    let sent = server.requests_to("/oauth2/default/v1/token").await.remove(0);
    assert_eq!(sent.basic_auth(), basic_credentials());
    assert_eq!(sent.form, pairs(&[("grant_type", "refresh_token"), ("refresh_token", "old")]));
}

#[tokio::test]
async fn token_error_keeps_oktas_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/default/v1/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("expired"), redirect_uri("okta"));
    let err = server.provider(&OKTA, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn userinfo_profile() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/oauth2/default/v1/userinfo", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&OKTA, config()).user_profile(&access("at-okta")).await.unwrap();
    assert_eq!(profile.id, "00uid4BxXw6I6TV4m0g3");
    assert_eq!(profile.email.as_deref(), Some("john.doe@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Verified);
    assert_eq!(profile.name.as_deref(), Some("John Doe"));
    assert_eq!(profile.avatar_url, None);
    assert_eq!(server.only_request().await.header("authorization"), Some("Bearer at-okta"));
}

#[tokio::test]
async fn revoke_access_token_with_basic_auth() {
    let server = ContractServer::start().await;
    server.respond("POST", "/oauth2/default/v1/revoke", 200, "application/json", "").await;
    let token = AccessToken::new("at-revoke".into());
    server.provider(&OKTA, config()).revoke(TokenRef::Access(&token)).await.unwrap();
    let sent = server.only_request().await;
    assert_eq!(sent.basic_auth(), basic_credentials());
    assert_eq!(sent.form, pairs(&[("token", "at-revoke"), ("token_type_hint", "access_token")]));
}

#[test]
fn missing_domain_or_empty_server_id_is_a_clear_config_error() {
    let err =
        OKTA.instantiate(ProviderConfig::new(CLIENT_ID, CLIENT_SECRET), HttpClient::with_defaults().unwrap());
    match err {
        Err(Error::Config { provider, message }) => {
            assert_eq!(provider, "okta");
            assert!(message.contains("missing required key `domain`"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    // An empty server id falls back to `default`; it never produces `/oauth2//v1/...`.
    let empty = config().param("authorization_server_id", "");
    let okta = OKTA.instantiate(empty, HttpClient::with_defaults().unwrap()).unwrap();
    let redirect = redirect_uri("okta");
    let url = okta.authorize_url(&AuthorizeRequest::new(&redirect, "s")).unwrap();
    assert_eq!(url.path(), "/oauth2/default/v1/authorize");
}

#[tokio::test]
async fn a_refreshed_id_token_that_does_not_verify_is_refused() {
    let server = ContractServer::start().await;
    let provider = server.provider(&OKTA, config());
    // Keys published, but the refresh answer's ID token is the fixture's unsigned example.
    let signed = server
        .sign_id_token(&*provider, &TestSigner::rs256(), &fixture(DIR, "refresh.json"), json!({}))
        .await;
    assert_ne!(signed, fixture(DIR, "refresh.json"));
    server.respond_json("POST", "/oauth2/default/v1/token", 200, fixture(DIR, "refresh.json")).await;
    let error = provider.refresh(&RefreshToken::new("old".into())).await.unwrap_err();
    assert!(matches!(error, loginkit_core::Error::IdToken { provider: "okta", .. }), "{error:?}");
}
