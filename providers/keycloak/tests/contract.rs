//! Keycloak contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down: the exact authorize URL and default scopes,
//! the token request body and expiry, the refreshed ID token and offline token, Keycloak's error
//! code, no avatar, the revocation's token type hint, and the realm settings.

use std::collections::BTreeMap;

use loginkit_core::serde_json::json;
use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge,
    ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_keycloak::KEYCLOAK;
use loginkit_testkit::TestSigner;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "loginkit-app";
const CLIENT_SECRET: &str = "kc-Secret/with+chars";
const OIDC: &str = "/realms/customers/protocol/openid-connect";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
        .param("domain", "sso.example.com")
        .param("realm", "customers")
}

#[test]
fn authorize_url_names_the_realm() {
    let provider = KEYCLOAK.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-kc".into());
    let redirect = redirect_uri("keycloak");
    let request = AuthorizeRequest::new(&redirect, "st").pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(
        url.as_str().split('?').next(),
        Some("https://sso.example.com/realms/customers/protocol/openid-connect/auth")
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
        ("nonce", "n-kc"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange() {
    let server = ContractServer::start().await;
    let provider = server.provider(&KEYCLOAK, config());
    let body = fixture(DIR, "token.json");
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", &format!("{OIDC}/token"), 200, body).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("3c0f1a2b.9e8d7c6b"), redirect_uri("keycloak"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = provider.exchange_code(&exchange).await.unwrap();
    assert!(tokens.access_token.secret().contains("eyJzdWIiOiJrZXljbG9hayJ9"));
    assert!(tokens.refresh_token.unwrap().secret().contains("eyJ0eXAiOiJPZmZsaW5lIn0"));
    assert!(tokens.id_token.is_some());
    let claims = tokens.id_token_claims.as_ref().expect("the ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 300);

    let sent = server.requests_to(&format!("{OIDC}/token")).await.remove(0);
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/realms/customers/protocol/openid-connect/token")
    );
    assert!(sent.query.is_empty());
    assert_eq!(sent.header("authorization"), None);
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "3c0f1a2b.9e8d7c6b"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh_takes_the_new_offline_token() {
    let server = ContractServer::start().await;
    let provider = server.provider(&KEYCLOAK, config());
    let body = fixture(DIR, "refresh.json");
    // OpenID Connect Core §12.2: a refreshed ID token is verified like the login's (no nonce).
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", &format!("{OIDC}/token"), 200, body).await;
    let tokens = provider.refresh(&RefreshToken::new("old".into())).await.unwrap();
    let claims = tokens.id_token_claims.as_ref().expect("the refreshed ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert!(tokens.refresh_token.unwrap().secret().contains("eyJ0eXAiOiJPZmZsaW5lIiwibiI6Mn0"));
    let form = server.requests_to(&format!("{OIDC}/token")).await.remove(0).form;
    assert_eq!((form["grant_type"].as_str(), form["refresh_token"].as_str()), ("refresh_token", "old"));
}

#[tokio::test]
async fn token_error_keeps_keycloaks_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", &format!("{OIDC}/token"), 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("used"), redirect_uri("keycloak"));
    let err =
        server.provider(&KEYCLOAK, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
    assert!(err.to_string().contains("Code not valid"), "{err}");
}

#[tokio::test]
async fn userinfo_profile() {
    let server = ContractServer::start().await;
    server.respond_json("GET", &format!("{OIDC}/userinfo"), 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&KEYCLOAK, config()).user_profile(&access("at-kc")).await.unwrap();
    assert_eq!(profile.id, "a5461470-33eb-4b2d-82d4-b0484e96ad7f");
    assert_eq!(profile.email.as_deref(), Some("grace@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Verified);
    assert_eq!(profile.name.as_deref(), Some("Grace Hopper"));
    assert_eq!(profile.avatar_url, None);
    assert_eq!(server.only_request().await.header("authorization"), Some("Bearer at-kc"));
}

#[tokio::test]
async fn revoke_uses_the_realms_rfc7009_endpoint() {
    let server = ContractServer::start().await;
    server.respond("POST", &format!("{OIDC}/revoke"), 200, "application/json", "").await;
    let token = RefreshToken::new("rt".into());
    server.provider(&KEYCLOAK, config()).revoke(TokenRef::Refresh(&token)).await.unwrap();
    let expected = pairs(&[
        ("token", "rt"),
        ("token_type_hint", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(server.only_request().await.form, expected);
}

#[test]
fn missing_or_unsafe_realm_is_a_clear_config_error() {
    let only_domain = ProviderConfig::new(CLIENT_ID, CLIENT_SECRET).param("domain", "sso.example.com");
    match KEYCLOAK.instantiate(only_domain, HttpClient::with_defaults().unwrap()) {
        Err(Error::Config { provider, message }) => {
            assert_eq!(provider, "keycloak");
            assert!(message.contains("missing required key `realm`"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    let escaping = config().param("realm", "other/protocol");
    match KEYCLOAK.instantiate(escaping, HttpClient::with_defaults().unwrap()) {
        Err(Error::Config { message, .. }) => assert!(message.contains("`realm`"), "{message}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}
