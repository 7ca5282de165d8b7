//! GitLab contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down, on GitLab.com and on a self-managed instance:
//! the exact authorize URL, `endpoint` moving the URLs, the token request body and expiry, the
//! rotated refresh token, GitLab's error code, the profile and email rule read from an instance,
//! the revocation's token type hint, and bad configurations.

use loginkit_core::serde_json::json;
use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, OAuthProvider,
    PkceCodeChallenge, ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_gitlab::GITLAB;
use loginkit_testkit::TestSigner;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "1cb242f495280beb4291e64bee2a17f330902e499882fe8e1e2aa875519cab33";
const CLIENT_SECRET: &str = "gloas-0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

/// GitLab configured the way a self-managed instance is: `endpoint` pointing at the stand-in.
fn on_instance(server: &ContractServer) -> Box<dyn OAuthProvider> {
    let config = config().param("endpoint", server.uri().as_str());
    GITLAB.instantiate(config, HttpClient::with_defaults().unwrap()).unwrap()
}

#[test]
fn authorize_url_on_gitlab_com() {
    let provider = GITLAB.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-1".into());
    let redirect = redirect_uri("gitlab");
    let url = provider
        .authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge).nonce(&nonce))
        .unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://gitlab.com/oauth/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "read_user openid profile email"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "n-1"),
    ]);
    assert_eq!(sent, expected);
}

#[test]
fn endpoint_moves_every_url_onto_the_instance() {
    let config = config().param("endpoint", "https://code.example.org/gitlab");
    let provider = GITLAB.instantiate(config, HttpClient::with_defaults().unwrap()).unwrap();
    let redirect = redirect_uri("gitlab");
    let url = provider.authorize_url(&AuthorizeRequest::new(&redirect, "s")).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://code.example.org/gitlab/oauth/authorize"));
}

#[tokio::test]
async fn code_exchange_on_a_self_managed_instance() {
    let server = ContractServer::start().await;
    let provider = on_instance(&server);
    let body = fixture(DIR, "token.json");
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", "/oauth/token", 200, body).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("1234567890"), redirect_uri("gitlab"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = provider.exchange_code(&exchange).await.unwrap();
    assert_eq!(
        tokens.access_token.secret(),
        "de6780bc506a0446309bd9362820ba8aed28aa506c71eedbe1c5c4f9dd350e54"
    );
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "8257e65c97202ed1726cf9571600918f3bffb2544b26e00a61df9897668c33a1"
    );
    assert!(tokens.id_token.is_some());
    let claims = tokens.id_token_claims.as_ref().expect("the ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 7200);

    let sent = server.requests_to("/oauth/token").await.remove(0);
    assert!(sent.query.is_empty(), "no secret in the URL");
    assert_eq!(sent.header("authorization"), None);
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "1234567890"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh_returns_a_new_refresh_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens =
        server.provider(&GITLAB, config()).refresh(&RefreshToken::new("8257e6".into())).await.unwrap();
    assert_eq!(
        tokens.access_token.secret(),
        "c97d1fe52119f38c7f67f0a14db68d60caa35ddc86fd12401718b649dcfa9c68"
    );
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "803c1fd487fec35562c205dac93e9d8e08f9d3652a24079d704df3039df1158f"
    );
    let form = server.only_request().await.form;
    assert_eq!((form["grant_type"].as_str(), form["refresh_token"].as_str()), ("refresh_token", "8257e6"));
    assert_eq!(form["client_secret"], CLIENT_SECRET);
}

#[tokio::test]
async fn token_error_keeps_gitlabs_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("gitlab"));
    let err = on_instance(&server).exchange_code(&ExchangeRequest::new(&code, &redirect)).await.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn userinfo_profile() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/oauth/userinfo", 200, fixture(DIR, "user.json")).await;
    let profile = on_instance(&server).user_profile(&access("glat")).await.unwrap();
    assert_eq!(profile.id, "1");
    assert_eq!(profile.email.as_deref(), Some("john@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Verified);
    assert_eq!(profile.name.as_deref(), Some("John Smith"));
    assert_eq!(
        profile.avatar_url.as_deref(),
        Some("https://gitlab.example.com/uploads/-/system/user/avatar/1/avatar.png")
    );
    assert_eq!(server.only_request().await.header("authorization"), Some("Bearer glat"));
}

#[tokio::test]
async fn an_unverified_primary_email_stays_unverified() {
    let server = ContractServer::start().await;
    let body = fixture(DIR, "user.json").replace("\"email_verified\": true", "\"email_verified\": false");
    server.respond_json("GET", "/oauth/userinfo", 200, body).await;
    let profile = on_instance(&server).user_profile(&access("glat")).await.unwrap();
    assert_eq!(profile.email_trust, EmailTrust::Unverified);
}

#[tokio::test]
async fn revoke_sends_the_token_with_client_credentials() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/revoke", 200, "{}").await;
    on_instance(&server).revoke(TokenRef::Refresh(&RefreshToken::new("8257e6".into()))).await.unwrap();
    let expected = pairs(&[
        ("token", "8257e6"),
        ("token_type_hint", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(server.only_request().await.form, expected);
}

#[test]
fn a_bad_endpoint_is_a_configuration_error() {
    for endpoint in [
        "gitlab.example.com",
        "ftp://gitlab.example.com",
        "http://gitlab.example.com",
        "https://user:pw@gitlab.example.com",
        "https://gitlab.example.com/?x=1",
    ] {
        let config = config().param("endpoint", endpoint);
        let err = GITLAB.instantiate(config, HttpClient::with_defaults().unwrap()).unwrap_err();
        assert!(matches!(&err, Error::Config { provider: "gitlab", .. }), "{endpoint}: {err:?}");
        assert!(!err.to_string().contains("pw"), "{err}");
    }
    let err = GITLAB
        .instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("client secret"), "{err}");
}
