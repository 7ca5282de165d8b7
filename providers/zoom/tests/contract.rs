//! Zoom contract tests. The shared checks (HTTP Basic client authentication, PKCE, the profile and
//! avatar, refresh, revocation, a replayed code) run in the conformance kit from tests/persona.toml;
//! this file holds Zoom's quirks: the exact authorize URL, the expiry, Zoom's error code, the integer
//! `verified` flag read as unverified, and configuration errors.

use std::collections::BTreeMap;

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig,
};
use loginkit_provider_zoom::ZOOM;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "zoom-client-id";
const CLIENT_SECRET: &str = "zoom-client-secret";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

fn basic() -> Option<(String, String)> {
    Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()))
}

#[test]
fn authorize_url_sends_pkce() {
    let provider = ZOOM.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("zoom");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://zoom.us/oauth/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "user_info:read"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_uses_basic_auth_and_the_verifier() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("obBEe8ewaL_KdyNjniT4KPd8ffDWt9fGB"), redirect_uri("zoom"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&ZOOM, config()).exchange_code(&exchange).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "eyJzdiI6IjAwMDAwMSIsImFsZyI6IkhTNTEyIn0.access-example");
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "eyJzdiI6IjAwMDAwMSIsImFsZyI6IkhTNTEyIn0.refresh-example"
    );
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3599);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth/token"));
    assert!(sent.query.is_empty(), "no secret in the URL");
    assert_eq!(sent.basic_auth(), basic());
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "obBEe8ewaL_KdyNjniT4KPd8ffDWt9fGB"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_zooms_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("zoom"));
    let err = server.provider(&ZOOM, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert!(matches!(err, Error::OAuth { .. }));
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn userinfo_profile_reads_the_integer_verified_flag() {
    // `"verified": 1`, the persona's user.json, is the conformance kit's verified email.
    let unverified = fixture(DIR, "user.json").replace("\"verified\": 1", "\"verified\": 0");
    let server = ContractServer::start().await;
    server.respond_json("GET", "/v2/users/me", 200, unverified).await;
    let profile = server.provider(&ZOOM, config()).user_profile(&access("zoom-at")).await.unwrap();
    assert_eq!(profile.email_trust, EmailTrust::Unverified);
}

#[test]
fn configuration_errors_are_clear() {
    let http = || HttpClient::with_defaults().unwrap();
    let err = ZOOM.instantiate(ProviderConfig::public(CLIENT_ID), http()).unwrap_err();
    assert!(matches!(&err, Error::Config { message, .. } if message.contains("client secret")), "{err}");
    let err = ZOOM.instantiate(config().param("account", "x"), http()).unwrap_err();
    assert!(
        matches!(&err, Error::Config { message, .. } if message.contains("unknown key `account`")),
        "{err}"
    );
}
