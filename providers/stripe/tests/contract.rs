//! Stripe contract tests. The shared checks (the platform's secret key in the body, the connected
//! account as the profile, refresh, a replayed code) run in the conformance kit from
//! tests/persona.toml; this file holds Stripe's quirks: the exact Connect authorize URL, the scopes
//! of the token answer and the absent avatar, Stripe's error codes, the account id taken from the
//! token answer as one path segment, no revocation, and the required secret key.

use loginkit_core::serde_json::{Map, Value};
use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge,
    ProviderConfig, RawResponse, RefreshToken, TokenRef,
};
use loginkit_provider_stripe::STRIPE;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "ca_32D88BD1qLklliziD7gYQvctJIhWBSQ7";
const PLATFORM_SECRET_KEY: &str = "example-platform-secret-api-key";
const ACCOUNT_PATH: &str = "/v1/accounts/acct_1032D82eZvKYlo2C";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, PLATFORM_SECRET_KEY)
}

#[test]
fn authorize_url_is_stripe_connects() {
    let provider = STRIPE.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-1".into());
    let redirect = redirect_uri("stripe");
    let request = AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://connect.stripe.com/oauth/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "read_write"),
        ("state", "s"),
    ]);
    assert_eq!(sent, expected, "Stripe takes neither PKCE nor a nonce");
}

#[tokio::test]
async fn code_exchange_is_authenticated_with_the_platform_secret_key_then_reads_the_account() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 200, fixture(DIR, "token.json")).await;
    server.respond_json("GET", ACCOUNT_PATH, 200, fixture(DIR, "user.json")).await;
    let provider = server.provider(&STRIPE, config());
    let (code, redirect) = (code("ac_123456789"), redirect_uri("stripe"));
    let tokens = provider.exchange_code(&ExchangeRequest::new(&code, &redirect)).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "example-connected-account-access-token");
    assert_eq!(tokens.refresh_token.as_ref().unwrap().secret(), "example-connected-account-refresh-token");
    assert_eq!(tokens.scopes.as_deref(), Some(&["read_write".to_owned()][..]));

    let profile = provider.user_profile(&tokens).await.unwrap();
    assert_eq!(profile.id, "acct_1032D82eZvKYlo2C");
    assert_eq!(profile.email.as_deref(), Some("ada@engines.example"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown, "Stripe does not say the email was verified");
    assert_eq!(profile.name.as_deref(), Some("Analytical Engines Ltd"));
    assert_eq!(profile.avatar_url, None);

    let sent = server.requests().await;
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (sent[0].method.as_str(), sent[0].query.len(), sent[0].header("authorization")),
        ("POST", 0, None)
    );
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "ac_123456789"),
        ("redirect_uri", redirect.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", PLATFORM_SECRET_KEY),
    ]);
    assert_eq!(sent[0].form, expected, "Appwrite sends no client credentials here");
    assert_eq!((sent[1].method.as_str(), sent[1].path.as_str()), ("GET", ACCOUNT_PATH));
    assert_eq!(sent[1].header("authorization"), Some("Bearer example-connected-account-access-token"));
}

#[tokio::test]
async fn token_error_keeps_stripes_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("ac_stale"), redirect_uri("stripe"));
    let err = server.provider(&STRIPE, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn account_errors_keep_stripes_code() {
    let server = ContractServer::start().await;
    server.respond_json("GET", ACCOUNT_PATH, 403, fixture(DIR, "account_error.json")).await;
    let mut tokens = access("example-revoked-token");
    tokens.raw = raw_with_account("acct_1032D82eZvKYlo2C");
    let err = server.provider(&STRIPE, config()).user_profile(&tokens).await.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("account_invalid"), Some(403)));
}

#[tokio::test]
async fn the_account_id_must_come_from_the_token_answer_and_stays_one_path_segment() {
    let server = ContractServer::start().await;
    let provider = server.provider(&STRIPE, config());
    let err = provider.user_profile(&access("t")).await.unwrap_err();
    assert!(matches!(err, Error::MissingField { field: "stripe_user_id", .. }), "{err:?}");

    let mut tokens = access("t");
    tokens.raw = raw_with_account("../../v1/charges?limit=1");
    let _ = provider.user_profile(&tokens).await;
    let sent = server.only_request().await;
    assert_eq!(sent.path, "/v1/accounts/..%2F..%2Fv1%2Fcharges%3Flimit=1");
    assert!(sent.query.is_empty());
}

#[tokio::test]
async fn no_revocation_and_the_secret_key_is_required() {
    let server = ContractServer::start().await;
    let revoke =
        server.provider(&STRIPE, config()).revoke(TokenRef::Refresh(&RefreshToken::new("r".into()))).await;
    assert!(matches!(revoke, Err(Error::Unsupported { .. })), "{revoke:?}");
    let err = STRIPE.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    assert!(matches!(err, Err(Error::Config { provider: "stripe", .. })));
}

fn raw_with_account(account: &str) -> RawResponse {
    let mut map = Map::new();
    map.insert("stripe_user_id".into(), Value::String(account.into()));
    RawResponse::new(map)
}
