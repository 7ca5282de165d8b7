//! FusionAuth contract tests. The shared checks (client credentials in the body, PKCE, the profile
//! and avatar, refresh, a replayed code) run in the conformance kit from tests/persona.toml; this
//! file holds FusionAuth's quirks: the exact authorize URL and its optional tenant, the ID token,
//! expiry and empty query of the code exchange, the refresh token kept when none comes back,
//! FusionAuth's error code and description, no revocation, and the required domain.

use std::collections::BTreeMap;

use loginkit_core::{
    AuthorizeRequest, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge, ProviderConfig,
    RefreshToken, TokenRef,
};
use loginkit_provider_fusionauth::FUSIONAUTH;
use loginkit_testkit::contract::{ContractServer, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "3c219e58-ed0e-4b18-ad48-f4f92793ae32";
const CLIENT_SECRET: &str = "fa-secret+/=";
const TENANT: &str = "f1b3c5d7-0a2b-4c6d-8e0f-1a3b5c7d9e0f";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET).param("domain", "login.example.com")
}

#[test]
fn authorize_url_carries_the_tenant_when_configured() {
    let provider =
        FUSIONAUTH.instantiate(config().param("tenant_id", TENANT), HttpClient::with_defaults().unwrap());
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-fa".into());
    let redirect = redirect_uri("fusionauth");
    let request = AuthorizeRequest::new(&redirect, "st").pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.unwrap().authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://login.example.com/oauth2/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid profile email offline_access"),
        ("state", "st"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "n-fa"),
        ("tenantId", TENANT),
    ]);
    assert_eq!(sent, expected);

    let without = FUSIONAUTH.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let url = without.authorize_url(&AuthorizeRequest::new(&redirect, "st")).unwrap();
    assert!(!url.query_pairs().any(|(k, _)| k == "tenantId"));
}

#[tokio::test]
async fn code_exchange() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("pU2DHOWjSCVh6NJKi1ClhBYNKfuqbZVT"), redirect_uri("fusionauth"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&FUSIONAUTH, config()).exchange_code(&exchange).await.unwrap();
    assert!(tokens.access_token.secret().starts_with("eyJhbGciOiJIUzI1NiIs"));
    assert_eq!(tokens.refresh_token.unwrap().secret(), "ze9fi6Y9sMSf3yWp3aaO2w7AMav2MFdiMIi2GObrAi-example");
    assert!(tokens.id_token.is_some());
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3600);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth2/token"));
    assert!(sent.query.is_empty(), "FusionAuth refuses parameters in the query string");
    assert_eq!(sent.header("authorization"), None);
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "pU2DHOWjSCVh6NJKi1ClhBYNKfuqbZVT"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh_keeps_a_reusable_refresh_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens =
        server.provider(&FUSIONAUTH, config()).refresh(&RefreshToken::new("rt".into())).await.unwrap();
    assert!(tokens.access_token.secret().contains("eyJzdWIiOiJyZWZyZXNoZWQifQ"));
    assert_eq!(tokens.refresh_token.unwrap().secret(), "rt");
    let form = server.only_request().await.form;
    assert_eq!((form["grant_type"].as_str(), form["refresh_token"].as_str()), ("refresh_token", "rt"));
}

#[tokio::test]
async fn token_error_keeps_fusionauths_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("bogus"), redirect_uri("fusionauth"));
    let err =
        server.provider(&FUSIONAUTH, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_request"), Some(400)));
    assert!(err.to_string().contains("Invalid Authorization Code"), "{err}");
}

#[tokio::test]
async fn revocation_is_unsupported_and_sends_nothing() {
    let server = ContractServer::start().await;
    let token = RefreshToken::new("rt".into());
    let err = server.provider(&FUSIONAUTH, config()).revoke(TokenRef::Refresh(&token)).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { provider: "fusionauth", capability: "revoke" }), "{err:?}");
    assert!(server.requests().await.is_empty());
}

#[test]
fn missing_domain_is_a_clear_config_error() {
    let err = FUSIONAUTH
        .instantiate(ProviderConfig::new(CLIENT_ID, CLIENT_SECRET), HttpClient::with_defaults().unwrap());
    match err {
        Err(Error::Config { provider, message }) => {
            assert_eq!(provider, "fusionauth");
            assert!(message.contains("missing required key `domain`"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}
