//! Salesforce contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down: the exact authorize URL and the `domain`
//! setting, the token request bodies, no announced lifetime, the refresh token kept, Salesforce's
//! error code, the avatar and a token never in the URL, and the revocation's token type hint.

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge,
    ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_salesforce::SALESFORCE;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "3MVG9example.ConsumerKey_Value";
const CLIENT_SECRET: &str = "8E5C1F2D3B4A5968778695A4B3C2D1E0";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_sends_pkce_and_nonce_to_the_configured_domain() {
    let http = HttpClient::with_defaults().unwrap();
    let provider = SALESFORCE.instantiate(config(), http.clone()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-1".into());
    let scopes = vec!["refresh_token".to_owned()];
    let redirect = redirect_uri("salesforce");
    let request =
        AuthorizeRequest::new(&redirect, "s").scopes(&scopes).pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(
        url.as_str().split('?').next(),
        Some("https://login.salesforce.com/services/oauth2/authorize")
    );
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid refresh_token"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "n-1"),
    ]);
    assert_eq!(sent, expected);

    let sandbox = SALESFORCE.instantiate(config().param("domain", "test.salesforce.com"), http).unwrap();
    let url = sandbox.authorize_url(&AuthorizeRequest::new(&redirect, "s")).unwrap();
    assert_eq!(url.host_str(), Some("test.salesforce.com"));
}

#[test]
fn a_domain_that_would_change_the_url_is_a_config_error() {
    for bad in ["acme.my.salesforce.com/evil", "evil.example?x=", "user@evil.example"] {
        let http = HttpClient::with_defaults().unwrap();
        let err = SALESFORCE.instantiate(config().param("domain", bad), http).unwrap_err();
        assert!(matches!(&err, Error::Config { provider: "salesforce", .. }), "{err:?}");
        assert!(err.to_string().contains("`domain`"), "{err}");
    }
    let err = SALESFORCE.instantiate(config().param("tenant", "x"), HttpClient::with_defaults().unwrap());
    assert!(err.unwrap_err().to_string().contains("known keys: domain"));
}

#[tokio::test]
async fn code_exchange_posts_credentials_and_verifier_in_the_body() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/services/oauth2/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("aPrxExampleAuthorizationCode=="), redirect_uri("salesforce"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&SALESFORCE, config()).exchange_code(&exchange).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "00D5e000001N20Q!ASAAQExampleAccessTokenValue");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "5Aep861ExampleRefreshTokenValue==");
    assert!(tokens.id_token.is_some());
    assert_eq!(tokens.expires_in, None, "Salesforce announces no lifetime");
    assert_eq!(
        tokens.raw.get("instance_url").and_then(|v| v.as_str()),
        Some("https://acme.my.salesforce.com")
    );

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.query.len(), sent.header("authorization")), ("POST", 0, None));
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "aPrxExampleAuthorizationCode=="),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh_keeps_the_refresh_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/services/oauth2/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens =
        server.provider(&SALESFORCE, config()).refresh(&RefreshToken::new("5Aep-r".into())).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "00D5e000001N20Q!ASAAQExampleRefreshedAccessToken");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "5Aep-r", "Salesforce does not rotate it");
    let form = server.only_request().await.form;
    let expected = pairs(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", "5Aep-r"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(form, expected);
}

#[tokio::test]
async fn token_error_keeps_salesforces_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/services/oauth2/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("salesforce"));
    let err =
        server.provider(&SALESFORCE, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
    assert!(err.to_string().contains("expired authorization code"));
}

#[tokio::test]
async fn userinfo_profile() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/services/oauth2/userinfo", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&SALESFORCE, config()).user_profile(&access("00D!x")).await.unwrap();
    assert_eq!(profile.id, "0055e000000AITcAAO");
    assert_eq!(profile.email.as_deref(), Some("ada@acme.example"));
    assert_eq!(profile.email_trust, EmailTrust::Verified);
    assert_eq!(profile.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(profile.avatar_url.as_deref(), Some("https://acme.file.force.com/profilephoto/005/F"));
    let sent = server.only_request().await;
    assert_eq!(sent.header("authorization"), Some("Bearer 00D!x"));
    assert!(sent.query.is_empty(), "the token never travels in the URL");
}

#[tokio::test]
async fn revoke_uses_rfc7009() {
    let server = ContractServer::start().await;
    server.respond("POST", "/services/oauth2/revoke", 200, "text/plain", "").await;
    let token = RefreshToken::new("5Aep-r".into());
    server.provider(&SALESFORCE, config()).revoke(TokenRef::Refresh(&token)).await.unwrap();
    let form = server.only_request().await.form;
    assert_eq!((form["token"].as_str(), form["token_type_hint"].as_str()), ("5Aep-r", "refresh_token"));
}
