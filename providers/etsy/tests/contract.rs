//! Etsy contract tests. The shared checks (a public client without a secret at the token endpoint,
//! PKCE, the profile, refresh, a replayed code) run in the conformance kit from tests/persona.toml;
//! this file holds Etsy's quirks: the exact authorize URL and scopes, the expiry, Etsy's error code,
//! the user id taken from the token or from `users/me`, the `x-api-key` header on every API call,
//! typed API errors, and the required shared secret.

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig,
};
use loginkit_provider_etsy::ETSY;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "1aa2bb33c44d55eeeeee6fff";
const CLIENT_SECRET: &str = "a1b2c3d4e5";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_is_etsys_connect_page_with_pkce() {
    let provider = ETSY.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let scopes = vec!["shops_r".to_owned()];
    let redirect = redirect_uri("etsy");
    let request = AuthorizeRequest::new(&redirect, "s").scopes(&scopes).pkce_challenge(&challenge);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://www.etsy.com/oauth/connect"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "email_r profile_r shops_r"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_sends_no_secret() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v3/public/oauth/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("bftcubu-wownsvftz5kowdmxnqtsuoikwqkha7"), redirect_uri("etsy"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&ETSY, config()).exchange_code(&exchange).await.unwrap();
    assert!(tokens.access_token.secret().starts_with("12345678.O1zLuwveeKjp"));
    assert!(tokens.refresh_token.unwrap().secret().starts_with("12345678.JNGIJtvL"));
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3600);

    let sent = server.only_request().await;
    assert_eq!(sent.header("authorization"), None);
    assert!(
        !String::from_utf8_lossy(&sent.body).contains(CLIENT_SECRET),
        "the secret never reaches the token endpoint"
    );
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "bftcubu-wownsvftz5kowdmxnqtsuoikwqkha7"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("client_id", CLIENT_ID),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_etsys_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/v3/public/oauth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("etsy"));
    let err = server.provider(&ETSY, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn profile_of_the_user_named_by_the_token() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/v3/application/users/12345678", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&ETSY, config()).user_profile(&access("12345678.O1zLuw")).await.unwrap();
    assert_eq!(profile.id, "12345678");
    assert_eq!(profile.email.as_deref(), Some("ada@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown);
    assert_eq!(profile.name.as_deref(), Some("Ada Lovelace"));
    assert!(profile.avatar_url.as_deref().unwrap().starts_with("https://i.etsystatic.com/iusa/"));

    let sent = server.only_request().await;
    assert_eq!(sent.header("authorization"), Some("Bearer 12345678.O1zLuw"));
    assert_eq!(sent.header("x-api-key"), Some("1aa2bb33c44d55eeeeee6fff:a1b2c3d4e5"));
}

#[tokio::test]
async fn a_token_without_a_user_prefix_asks_users_me_first() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/v3/application/users/me", 200, fixture(DIR, "me.json")).await;
    server.respond_json("GET", "/v3/application/users/12345678", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&ETSY, config()).user_profile(&access("opaque-token")).await.unwrap();
    assert_eq!(profile.id, "12345678");
    let sent = server.requests().await;
    let paths: Vec<&str> = sent.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/v3/application/users/me", "/v3/application/users/12345678"]);
    assert!(sent.iter().all(|r| r.header("x-api-key") == Some("1aa2bb33c44d55eeeeee6fff:a1b2c3d4e5")));
}

#[tokio::test]
async fn api_errors_are_typed() {
    let server = ContractServer::start().await;
    let body = r#"{"error": "Invalid API key: should be in the format 'keystring:shared_secret'."}"#;
    server.respond_json("GET", "/v3/application/users/12345678", 403, body).await;
    let err = server.provider(&ETSY, config()).user_profile(&access("12345678.x")).await.unwrap_err();
    assert!(matches!(&err, Error::OAuth { status: 403, .. }), "{err:?}");
}

#[test]
fn the_shared_secret_is_required() {
    let err = ETSY
        .instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap())
        .unwrap_err();
    assert!(matches!(&err, Error::Config { provider: "etsy", .. }), "{err:?}");
    assert!(err.to_string().contains("shared secret"), "{err}");
}
