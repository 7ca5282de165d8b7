//! PayPal contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down for `paypal` and `paypalSandbox`: the exact
//! authorize URL and sandbox hosts, the token request body and expiry, the refresh token kept,
//! PayPal's error code, the `schema=openid` user-info query, the email rule, and no revocation.

use std::collections::BTreeMap;

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge,
    ProviderConfig, ProviderDescriptor, RefreshToken, TokenRef,
};
use loginkit_provider_paypal::{PAYPAL, PAYPAL_SANDBOX};
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "AZDxjDScFpQtjWTOUtWKbyN_bDt4OgqaF4eYXlewfBP4-8aqX3PiV8e1GWU6liB2CUXlkA59kJXE7M6R";
const CLIENT_SECRET: &str = "EGnHDxD_qRPdaLdZz8iCr8N7_MzF-YHPTkjs6NKYQvQSBngp4PTTVWkPZRbL";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

fn authorize(descriptor: &'static ProviderDescriptor) -> (String, BTreeMap<String, String>) {
    let provider = descriptor.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-1".into());
    let redirect = redirect_uri(descriptor.id);
    let request = AuthorizeRequest::new(&redirect, "st-1").pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    let base = url.as_str().split('?').next().unwrap_or_default().to_owned();
    (base, url.query_pairs().into_owned().collect())
}

#[test]
fn authorize_url_is_log_in_with_paypal_without_pkce_or_nonce() {
    let (base, sent) = authorize(&PAYPAL);
    assert_eq!(base, "https://www.paypal.com/signin/authorize");
    let redirect = redirect_uri("paypal");
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("state", "st-1"),
        ("flowEntry", "static"),
    ]);
    assert_eq!(sent, expected, "PayPal documents neither PKCE nor a nonce");
}

#[test]
fn sandbox_uses_paypals_sandbox_hosts() {
    let (base, sent) = authorize(&PAYPAL_SANDBOX);
    assert_eq!(base, "https://www.sandbox.paypal.com/signin/authorize");
    assert_eq!(sent["flowEntry"], "static");
    assert_eq!(PAYPAL_SANDBOX.oauth2.token_url, "https://api-m.sandbox.paypal.com/v1/oauth2/token");
    let userinfo = PAYPAL_SANDBOX.oauth2.userinfo.map(|u| u.url);
    assert_eq!(
        userinfo,
        Some("https://api-m.sandbox.paypal.com/v1/identity/openidconnect/userinfo?schema=openid")
    );
    assert_eq!(PAYPAL.oauth2.token_url, "https://api-m.paypal.com/v1/oauth2/token");
}

#[tokio::test]
async fn code_exchange_uses_basic_client_credentials() {
    for descriptor in [&PAYPAL, &PAYPAL_SANDBOX] {
        let server = ContractServer::start().await;
        server.respond_json("POST", "/v1/oauth2/token", 200, fixture(DIR, "token.json")).await;
        let (code, redirect) = (code("C21AAExampleAuthCode"), redirect_uri(descriptor.id));
        let provider = server.provider(descriptor, config());
        let tokens = provider.exchange_code(&ExchangeRequest::new(&code, &redirect)).await.unwrap();
        assert_eq!(tokens.access_token.secret(), "A23AAExampleAccessTokenLiveValue");
        assert_eq!(tokens.refresh_token.unwrap().secret(), "R23AAExampleRefreshTokenValue");
        assert_eq!(tokens.expires_in.unwrap().as_secs(), 28800);

        let sent = server.only_request().await;
        assert_eq!((sent.method.as_str(), sent.query.len()), ("POST", 0));
        assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
        let expected = pairs(&[
            ("grant_type", "authorization_code"),
            ("code", "C21AAExampleAuthCode"),
            ("redirect_uri", redirect.as_str()),
        ]);
        assert_eq!(sent.form, expected, "no secret in the body");
    }
}

#[tokio::test]
async fn refresh_keeps_the_long_lived_refresh_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v1/oauth2/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens =
        server.provider(&PAYPAL, config()).refresh(&RefreshToken::new("R23-old".into())).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "A23AAExampleRefreshedAccessToken");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "R23-old");
    let sent = server.only_request().await;
    assert_eq!(sent.basic_auth().map(|(id, _)| id).as_deref(), Some(CLIENT_ID));
    assert_eq!(sent.form, pairs(&[("grant_type", "refresh_token"), ("refresh_token", "R23-old")]));
}

#[tokio::test]
async fn token_error_keeps_paypals_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v1/oauth2/token", 401, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("paypal"));
    let err = server.provider(&PAYPAL, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_client"), Some(401)));
}

#[tokio::test]
async fn userinfo_profile_uses_the_openid_schema_and_email_verified() {
    let server = ContractServer::start().await;
    let path = "/v1/identity/openidconnect/userinfo";
    server.respond_json("GET", path, 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&PAYPAL_SANDBOX, config()).user_profile(&access("A23AA.x")).await.unwrap();
    let id = "https://www.paypal.com/webapps/auth/identity/user/mWq6_1sU85v5EG9yHdPxJRrhGHrnMJ-1PQKtX6pcsmA";
    assert_eq!(profile.id, id);
    assert_eq!(profile.email.as_deref(), Some("ada@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Verified);
    assert_eq!(profile.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(profile.avatar_url, None);
    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("GET", path));
    assert_eq!(sent.query, pairs(&[("schema", "openid")]));
    assert_eq!(sent.header("authorization"), Some("Bearer A23AA.x"));
}

#[tokio::test]
async fn a_verified_account_does_not_make_an_unconfirmed_email_verified() {
    let server = ContractServer::start().await;
    let body = fixture(DIR, "user.json").replace("\"email_verified\": true", "\"email_verified\": false");
    server.respond_json("GET", "/v1/identity/openidconnect/userinfo", 200, body).await;
    let profile = server.provider(&PAYPAL, config()).user_profile(&access("A23AA.x")).await.unwrap();
    assert_eq!(profile.raw["verified_account"], true);
    assert_eq!(profile.email_trust, EmailTrust::Unverified);
}

#[tokio::test]
async fn no_revocation_and_a_secret_is_required() {
    let server = ContractServer::start().await;
    let revoke =
        server.provider(&PAYPAL, config()).revoke(TokenRef::Refresh(&RefreshToken::new("r".into()))).await;
    assert!(matches!(revoke, Err(Error::Unsupported { .. })), "{revoke:?}");
    let http = HttpClient::with_defaults().unwrap();
    let err = PAYPAL_SANDBOX.instantiate(ProviderConfig::public(CLIENT_ID), http).unwrap_err();
    assert!(matches!(&err, Error::Config { provider: "paypalSandbox", .. }), "{err:?}");
    assert!(err.to_string().contains("client secret"), "{err}");
}
