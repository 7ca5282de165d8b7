//! Facebook contract tests: Facebook's quirks. The shared checks, a whole login against an
//! impersonating provider (client authentication and profile), run in the conformance kit from
//! tests/persona.toml; this file holds what they do not cover: the exact requests loginkit sends
//! and what it reads from answers shaped like Facebook's documented ones.

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig,
    RefreshToken,
};
use loginkit_provider_facebook::FACEBOOK;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "1234567890123456";
const CLIENT_SECRET: &str = "0123456789abcdef0123456789abcdef";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_uses_the_configured_graph_version() {
    let provider = FACEBOOK.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let scopes = vec!["user_birthday".to_owned()];
    let redirect = redirect_uri("facebook");
    let request = AuthorizeRequest::new(&redirect, "s").scopes(&scopes).pkce_challenge(&challenge);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://www.facebook.com/v26.0/dialog/oauth"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "email user_birthday"),
        ("state", "s"),
    ]);
    assert_eq!(sent, expected, "no PKCE: Meta documents it only for its OIDC flow in testing");

    let pinned =
        FACEBOOK.instantiate(config().param("api_version", "v25.0"), HttpClient::with_defaults().unwrap());
    let url = pinned.unwrap().authorize_url(&AuthorizeRequest::new(&redirect, "s")).unwrap();
    assert!(url.as_str().starts_with("https://www.facebook.com/v25.0/dialog/oauth?"), "{url}");
}

#[tokio::test]
async fn code_exchange_is_a_get_with_query_parameters() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/v26.0/oauth/access_token", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (code("AQBx-example-code"), redirect_uri("facebook"));
    let tokens =
        server.provider(&FACEBOOK, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let tokens = tokens.unwrap();
    assert_eq!(tokens.access_token.secret(), "EAAGm0PX4ZCpsBAexampleUserAccessToken");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 5183944);
    assert!(tokens.refresh_token.is_none());

    let sent = server.only_request().await;
    assert!(sent.body.is_empty());
    assert_eq!(sent.header("authorization"), None);
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "AQBx-example-code"),
        ("redirect_uri", redirect.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.query, expected);
}

#[tokio::test]
async fn graph_errors_keep_their_numeric_code() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/v26.0/oauth/access_token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("used"), redirect_uri("facebook"));
    let err =
        server.provider(&FACEBOOK, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("100"), Some(400)));
    assert!(err.to_string().contains("This authorization code has been used."), "{err}");
}

#[tokio::test]
async fn profile_asks_for_fields_with_the_token_in_the_query() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/v26.0/me", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&FACEBOOK, config()).user_profile(&access("EAAG-x")).await.unwrap();
    assert_eq!(profile.id, "10158239400385142");
    assert_eq!(profile.email.as_deref(), Some("ada@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown, "Facebook never says whether the email is verified");
    assert_eq!(profile.name.as_deref(), Some("Ada Lovelace"));
    assert!(profile.avatar_url.as_deref().unwrap().starts_with("https://platform-lookaside.fbsbx.com/"));

    let sent = server.only_request().await;
    assert_eq!(sent.query, pairs(&[("fields", "id,name,email,picture"), ("access_token", "EAAG-x")]));
    assert_eq!(sent.header("authorization"), None);
}

#[tokio::test]
async fn there_is_no_refresh() {
    let server = ContractServer::start().await;
    let err = server.provider(&FACEBOOK, config()).refresh(&RefreshToken::new("r".into())).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { provider: "facebook", capability: "refresh" }), "{err:?}");
    assert!(server.requests().await.is_empty());
}

#[test]
fn a_version_that_would_change_the_url_is_a_configuration_error() {
    let http = HttpClient::with_defaults().unwrap();
    let err = FACEBOOK.instantiate(config().param("api_version", "v26.0/../x"), http.clone()).unwrap_err();
    assert!(matches!(&err, Error::Config { provider: "facebook", .. }), "{err:?}");
    assert!(err.to_string().contains("api_version"), "{err}");
    let err = FACEBOOK.instantiate(ProviderConfig::public(CLIENT_ID), http).unwrap_err();
    assert!(err.to_string().contains("client secret"), "{err}");
}
