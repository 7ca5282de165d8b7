//! Auth0 contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down: the exact authorize URL with extra parameters,
//! the token request (Accept header, form, expiry and scopes), the refreshed ID token and the
//! refresh token kept, invalid codes answered with 403, the email rule, the revocation's token type
//! hint, and the domain setting.

use std::collections::BTreeMap;

use loginkit_core::serde_json::json;
use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge,
    ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_auth0::AUTH0;
use loginkit_testkit::TestSigner;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const DOMAIN: &str = "dev-k3x9q2.us.auth0.com";
const CLIENT_ID: &str = "Zq8Yk2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De";
const CLIENT_SECRET: &str = "auth0-secret_with+special/chars";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET).param("domain", DOMAIN)
}

#[test]
fn authorize_url_goes_to_the_tenant() {
    let provider = AUTH0.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-0S6_WzA2Mj".into());
    let redirect = redirect_uri("auth0");
    let extra = vec![("connection".to_owned(), "github".to_owned())];
    let request = AuthorizeRequest::new(&redirect, "st-1")
        .pkce_challenge(&challenge)
        .nonce(&nonce)
        .extra_params(&extra);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://dev-k3x9q2.us.auth0.com/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid profile email offline_access"),
        ("state", "st-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("connection", "github"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_posts_client_credentials_in_the_body() {
    let server = ContractServer::start().await;
    let provider = server.provider(&AUTH0, config());
    let body = fixture(DIR, "token.json");
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", "/oauth/token", 200, body).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("Aq1Bw2Ce3Dr4"), redirect_uri("auth0"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = provider.exchange_code(&exchange).await.unwrap();
    assert!(tokens.access_token.secret().starts_with("eyJhbGciOiJSUzI1NiIs"));
    assert_eq!(tokens.refresh_token.unwrap().secret(), "v1.MdGZzb2Vf3xL8kqPp6vW0example");
    assert!(tokens.id_token.is_some());
    let claims = tokens.id_token_claims.as_ref().expect("the ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 86400);
    let scopes = ["openid", "profile", "email", "offline_access"].map(str::to_owned);
    assert_eq!(tokens.scopes.as_deref(), Some(&scopes[..]));

    let sent = server.requests_to("/oauth/token").await.remove(0);
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth/token"));
    assert!(sent.query.is_empty(), "no secret in the URL");
    assert_eq!(sent.header("authorization"), None, "client_secret_post, not Basic");
    assert_eq!(sent.header("accept"), Some("application/json"));
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "Aq1Bw2Ce3Dr4"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh_keeps_the_refresh_token_when_not_rotated() {
    let server = ContractServer::start().await;
    let provider = server.provider(&AUTH0, config());
    let body = fixture(DIR, "refresh.json");
    // OpenID Connect Core §12.2: a refreshed ID token is verified like the login's (no nonce).
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", "/oauth/token", 200, body).await;
    let tokens = provider.refresh(&RefreshToken::new("v1.old".into())).await.unwrap();
    let claims = tokens.id_token_claims.as_ref().expect("the refreshed ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert!(tokens.access_token.secret().contains("eyJzdWIiOiJyZWZyZXNoZWQifQ"));
    assert_eq!(tokens.refresh_token.unwrap().secret(), "v1.old");
    let sent = server.requests_to("/oauth/token").await.remove(0);
    let expected = pairs(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", "v1.old"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn invalid_code_answered_with_403_keeps_auth0s_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 403, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("expired"), redirect_uri("auth0"));
    let err = server.provider(&AUTH0, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(403)));
    assert!(err.to_string().contains("Invalid authorization code"), "{err}");
}

#[tokio::test]
async fn unverified_email_stays_unverified() {
    let server = ContractServer::start().await;
    let user = fixture(DIR, "user.json").replace("\"email_verified\": true", "\"email_verified\": false");
    server.respond_json("GET", "/userinfo", 200, user).await;
    let profile = server.provider(&AUTH0, config()).user_profile(&access("at")).await.unwrap();
    assert_eq!(profile.email_trust, EmailTrust::Unverified);
}

#[tokio::test]
async fn revoke_posts_the_refresh_token() {
    let server = ContractServer::start().await;
    server.respond("POST", "/oauth/revoke", 200, "application/json", "").await;
    let token = RefreshToken::new("v1.to-revoke".into());
    server.provider(&AUTH0, config()).revoke(TokenRef::Refresh(&token)).await.unwrap();
    let sent = server.only_request().await;
    let expected = pairs(&[
        ("token", "v1.to-revoke"),
        ("token_type_hint", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[test]
fn missing_domain_is_a_clear_config_error() {
    let err = AUTH0
        .instantiate(ProviderConfig::new(CLIENT_ID, CLIENT_SECRET), HttpClient::with_defaults().unwrap());
    match err {
        Err(Error::Config { provider, message }) => {
            assert_eq!(provider, "auth0");
            assert!(message.contains("missing required key `domain`"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    let err =
        AUTH0.instantiate(config().param("domain", "evil.example/x"), HttpClient::with_defaults().unwrap());
    assert!(matches!(err, Err(Error::Config { .. })), "a domain cannot carry a path");
}
