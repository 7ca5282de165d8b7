//! Login with Amazon contract tests: Amazon's quirks. The shared checks, a whole login against an
//! impersonating provider (client authentication, profile and refresh), run in the conformance kit
//! from tests/persona.toml; this file holds what they do not cover: the exact requests loginkit
//! sends and what it reads from answers shaped like Amazon's documented ones.

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig,
    TokenRef,
};
use loginkit_provider_amazon::AMAZON;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "amzn1.application-oa2-client.0123456789abcdef";
const CLIENT_SECRET: &str = "amzn1.oa2-cs.v1.secretvalue";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_sends_pkce_and_the_profile_scope() {
    let provider = AMAZON.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("amazon");
    let scopes = vec!["postal_code".to_owned()];
    let url = provider
        .authorize_url(&AuthorizeRequest::new(&redirect, "s-1").scopes(&scopes).pkce_challenge(&challenge))
        .unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://www.amazon.com/ap/oa"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "profile postal_code"),
        ("state", "s-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/auth/o2/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("ANxuOkcwmzUHvimjMTAX"), redirect_uri("amazon"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&AMAZON, config()).exchange_code(&exchange).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "Atza|IwEBIExampleAccessToken0123456789");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "Atzr|IwEBIExampleRefreshToken0123456789");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3600);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/auth/o2/token"));
    assert!(sent.query.is_empty(), "no secret in the URL");
    assert_eq!(sent.header("authorization"), None);
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "ANxuOkcwmzUHvimjMTAX"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_amazons_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/auth/o2/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("amazon"));
    let err = server.provider(&AMAZON, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn profile_with_unknown_email_trust() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/user/profile", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&AMAZON, config()).user_profile(&access("Atza|x")).await.unwrap();
    assert_eq!(profile.id, "amzn1.account.K2LI23KL2LK2");
    assert_eq!(profile.email.as_deref(), Some("johndoe@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown, "Amazon never says the email is verified");
    assert_eq!(profile.name.as_deref(), Some("John Doe"));
    assert_eq!(profile.avatar_url, None);
    let sent = server.only_request().await;
    assert_eq!(sent.header("authorization"), Some("Bearer Atza|x"));
    assert!(sent.query.is_empty(), "the token travels in the header, not the URL");
}

#[tokio::test]
async fn revoke_is_unsupported_and_config_is_checked() {
    let provider = AMAZON.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let token = loginkit_core::AccessToken::new("Atza|x".into());
    assert!(matches!(provider.revoke(TokenRef::Access(&token)).await, Err(Error::Unsupported { .. })));

    let no_secret =
        AMAZON.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    assert!(matches!(no_secret, Err(Error::Config { provider: "amazon", .. })), "{no_secret:?}");
    let unknown = AMAZON.instantiate(config().param("tenant", "x"), HttpClient::with_defaults().unwrap());
    let Err(Error::Config { message, .. }) = unknown else { panic!("unknown keys are refused") };
    assert!(message.contains("tenant"), "{message}");
}
