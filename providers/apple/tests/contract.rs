//! Sign in with Apple contract tests: the authorize URL, the token calls with a pre-generated or a
//! signed client-secret JWT, and the profile read from the verified ID token only.

use std::collections::BTreeMap;

use loginkit_core::{
    AccessToken, AuthorizeRequest, Error, ExchangeRequest, HttpClient, Nonce, ProviderConfig, RefreshToken,
    TokenRef, TokenSet,
};
use loginkit_provider_apple::APPLE;
use loginkit_testkit::contract::{ContractServer, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const SERVICES_ID: &str = "com.example.web.signin";
const CLIENT_SECRET_JWT: &str = "eyJhbGciOiJFUzI1NiIsImtpZCI6IkFCQzEyM0RFRkcifQ.eyJpc3MiOiJERUYxMjNHSElKIiwic3ViIjoiY29tLmV4YW1wbGUud2ViLnNpZ25pbiJ9.c2ln";

fn config() -> ProviderConfig {
    ProviderConfig::new(SERVICES_ID, CLIENT_SECRET_JWT)
}

/// A test-only RSA key standing in for Apple's ID-token signing key.
const SIGNING_PEM: &[u8] = include_bytes!("../../../crates/loginkit-core/tests/fixtures/test-only-rsa.pem");

/// A contract server answering the token call with `token.json` carrying a freshly signed ID
/// token (Apple's claims, string booleans included) and publishing the key at `/auth/keys`.
async fn apple_server(nonce: Option<&str>) -> ContractServer {
    use loginkit_core::jsonwebtoken::jwk::{Jwk, PublicKeyUse};
    use loginkit_core::jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use loginkit_core::serde_json::{Value, json};

    let key = EncodingKey::from_rsa_pem(SIGNING_PEM).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut claims = json!({
        "iss": "https://appleid.apple.com", "aud": SERVICES_ID, "exp": now + 600, "iat": now,
        "sub": "001234.abcdef0123456789abcdef01234567.1234", "email": "x7yq@privaterelay.appleid.com",
        "email_verified": "true", "is_private_email": "true", "auth_time": now,
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("W6WcOKB".into());
    let mut token: Value = loginkit_core::serde_json::from_str(&fixture(DIR, "token.json")).unwrap();
    token["id_token"] = json!(encode(&header, &claims, &key).unwrap());
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("W6WcOKB".into());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let server = ContractServer::start().await;
    server.respond_json("POST", "/auth/token", 200, token.to_string()).await;
    server.respond_json("GET", "/auth/keys", 200, json!({ "keys": [jwk] }).to_string()).await;
    server
}

#[test]
fn authorize_url_asks_for_a_form_post() {
    let provider = APPLE.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let nonce = Nonce::new("n-apple".into());
    let redirect = redirect_uri("apple");
    let url = provider.authorize_url(&AuthorizeRequest::new(&redirect, "st").nonce(&nonce)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://appleid.apple.com/auth/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", SERVICES_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "name email"),
        ("state", "st"),
        ("nonce", "n-apple"),
        ("response_mode", "form_post"),
    ]);
    assert_eq!(sent, expected);
    let caps = provider.descriptor().capabilities;
    assert!(caps.form_post && !caps.pkce, "Apple posts the callback and documents no PKCE");
}

#[tokio::test]
async fn code_exchange_sends_the_client_secret_jwt_in_the_body() {
    let server = apple_server(None).await;
    let (code, redirect) = (code("c1a2b3c4d5e6f7.0.rsvx.code"), redirect_uri("apple"));
    let tokens = server
        .provider(&APPLE, config())
        .exchange_code(&ExchangeRequest::new(&code, &redirect))
        .await
        .unwrap();
    assert_eq!(
        tokens.access_token.secret(),
        "a0f3e1c2b4d5e6f7a8b9c0d1e2f3a4b5c.0.rsvx.Zx9wV8uT7sR6qP5oN4mL3k"
    );
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "r7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f.0.rsvx.Qm2nB3vC4xZ5lK6jH7gF8d"
    );
    assert_eq!(tokens.id_token_claims.expect("verified").sub, "001234.abcdef0123456789abcdef01234567.1234");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3600);

    let sent = server.requests().await.into_iter().find(|r| r.path == "/auth/token").unwrap();
    assert_eq!(sent.method.as_str(), "POST");
    assert!(sent.query.is_empty());
    assert_eq!(sent.header("authorization"), None);
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "c1a2b3c4d5e6f7.0.rsvx.code"),
        ("redirect_uri", redirect.as_str()),
        ("client_id", SERVICES_ID),
        ("client_secret", CLIENT_SECRET_JWT),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh_keeps_the_refresh_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/auth/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens =
        server.provider(&APPLE, config()).refresh(&RefreshToken::new("r.apple".into())).await.unwrap();
    assert_eq!(tokens.refresh_token.unwrap().secret(), "r.apple");
    let form = server.only_request().await.form;
    assert_eq!((form["grant_type"].as_str(), form["refresh_token"].as_str()), ("refresh_token", "r.apple"));
    assert_eq!(form["client_secret"], CLIENT_SECRET_JWT);
}

#[tokio::test]
async fn token_error_keeps_apples_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/auth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("expired"), redirect_uri("apple"));
    let err = server.provider(&APPLE, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn profile_comes_from_the_verified_id_token_only() {
    let server = apple_server(Some("n-apple")).await;
    let apple = server.provider(&APPLE, config());
    let tokens: TokenSet = loginkit_testkit::contract::access("at");
    let err = apple.user_profile(&tokens).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { provider: "apple", .. }), "{err:?}");

    let (code, redirect, nonce) = (code("c"), redirect_uri("apple"), Nonce::new("n-apple".into()));
    let tokens = apple.exchange_code(&ExchangeRequest::new(&code, &redirect).nonce(&nonce)).await.unwrap();
    let profile = apple.user_profile(&tokens).await.unwrap();
    assert_eq!(profile.id, "001234.abcdef0123456789abcdef01234567.1234");
    assert_eq!(profile.email.as_deref(), Some("x7yq@privaterelay.appleid.com"));
    assert_eq!(profile.email_trust, loginkit_core::EmailTrust::Verified, "Apple's \"true\" string counts");
    assert_eq!(profile.raw["is_private_email"], "true");

    let wrong = Nonce::new("another".into());
    let err = apple.exchange_code(&ExchangeRequest::new(&code, &redirect).nonce(&wrong)).await.unwrap_err();
    assert!(matches!(err, Error::IdToken { provider: "apple", .. }), "{err:?}");
}

#[tokio::test]
async fn revoke_posts_to_apples_endpoint() {
    let server = ContractServer::start().await;
    server.respond("POST", "/auth/revoke", 200, "application/json", "").await;
    let token = AccessToken::new("at-apple".into());
    server.provider(&APPLE, config()).revoke(TokenRef::Access(&token)).await.unwrap();
    let expected = pairs(&[
        ("token", "at-apple"),
        ("token_type_hint", "access_token"),
        ("client_id", SERVICES_ID),
        ("client_secret", CLIENT_SECRET_JWT),
    ]);
    assert_eq!(server.only_request().await.form, expected);
}

#[test]
fn signing_key_errors_are_clear_and_never_quote_the_key() {
    let bad_key = ProviderConfig::public(SERVICES_ID)
        .param("team_id", "DEF123GHIJ")
        .param("key_id", "ABC123DEFG")
        .param("private_key", "-----BEGIN PRIVATE KEY-----\nMIGT-not-a-key\n-----END PRIVATE KEY-----");
    match APPLE.instantiate(bad_key, HttpClient::with_defaults().unwrap()) {
        Err(Error::Config { provider, message }) => {
            assert_eq!(provider, "apple");
            assert!(message.contains("`private_key` is not a PEM-encoded P-256 private key"), "{message}");
            assert!(!message.contains("MIGT"), "the key never appears in errors");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    let partial = ProviderConfig::public(SERVICES_ID).param("team_id", "DEF123GHIJ");
    match APPLE.instantiate(partial, HttpClient::with_defaults().unwrap()) {
        Err(Error::Config { message, .. }) => assert!(message.contains("go together"), "{message}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
    match APPLE.instantiate(ProviderConfig::public(SERVICES_ID), HttpClient::with_defaults().unwrap()) {
        Err(Error::Config { message, .. }) => {
            assert!(message.contains("client secret is required"), "{message}")
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_client_secret_is_an_es256_jwt_signed_with_the_p8_key() {
    use loginkit_core::jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};

    let server = apple_server(None).await;
    server.respond_json("POST", "/auth/token", 200, fixture(DIR, "refresh.json")).await;
    let signing = ProviderConfig::public(SERVICES_ID)
        .param("team_id", "DEF123GHIJ")
        .param("key_id", "ABC123DEFG")
        .param("private_key", fixture(DIR, "test-only-AuthKey.p8"));
    let apple = server.provider(&APPLE, signing);
    let (code, redirect) = (code("c_apple"), redirect_uri("apple"));
    apple.exchange_code(&ExchangeRequest::new(&code, &redirect)).await.unwrap();
    apple.refresh(&RefreshToken::new("r_apple".into())).await.unwrap();

    let sent: Vec<_> = server.requests().await.into_iter().filter(|r| r.path == "/auth/token").collect();
    assert_eq!(sent.len(), 2);
    let secret = &sent[0].form["client_secret"];
    assert_eq!(&sent[1].form["client_secret"], secret, "the signed secret is cached between calls");
    assert_eq!(sent[0].form["client_id"], SERVICES_ID);

    let public = fixture(DIR, "test-only-AuthKey.pub.pem");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&["https://appleid.apple.com"]);
    validation.set_issuer(&["DEF123GHIJ"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let token = decode::<loginkit_core::serde_json::Value>(
        secret,
        &DecodingKey::from_ec_pem(public.as_bytes()).unwrap(),
        &validation,
    );
    let token = token.expect("the secret verifies with the key's public half");
    assert_eq!(token.header.kid.as_deref(), Some("ABC123DEFG"));
    assert_eq!(token.claims["sub"], SERVICES_ID);
    let lifetime = token.claims["exp"].as_u64().unwrap() - token.claims["iat"].as_u64().unwrap();
    assert!(lifetime <= 15_777_000, "Apple refuses secrets valid for more than six months");
    assert_eq!(lifetime, 24 * 3600);
}
