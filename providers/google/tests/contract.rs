//! Google contract tests: Google's quirks. The shared checks, a whole login against an impersonating
//! provider (client authentication, ID token, profile, refresh and revocation), run in the conformance
//! kit from tests/persona.toml; this file holds what they do not cover: the exact requests loginkit
//! sends and what it reads from answers shaped like Google's documented ones.

use loginkit_core::serde_json::json;
use loginkit_core::{
    AuthorizeRequest, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge, ProviderConfig, RefreshToken,
    TokenRef,
};
use loginkit_provider_google::GOOGLE;
use loginkit_testkit::TestSigner;
use loginkit_testkit::contract::{ContractServer, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "1234-abcd.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-secretvalue";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_asks_for_offline_access_and_consent() {
    let provider = GOOGLE.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-1".into());
    let scopes = vec!["https://www.googleapis.com/auth/drive.file".to_owned()];
    let redirect = redirect_uri("google");
    let request =
        AuthorizeRequest::new(&redirect, "s").scopes(&scopes).pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://accounts.google.com/o/oauth2/v2/auth"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid email profile https://www.googleapis.com/auth/drive.file"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "n-1"),
        ("access_type", "offline"),
        ("prompt", "consent"),
    ]);
    assert_eq!(sent, expected);

    let chooser =
        GOOGLE.instantiate(config().param("prompt", "select_account"), HttpClient::with_defaults().unwrap());
    let url = chooser.unwrap().authorize_url(&AuthorizeRequest::new(&redirect, "s")).unwrap();
    assert!(url.query_pairs().any(|(k, v)| k == "prompt" && v == "select_account"));
}

#[tokio::test]
async fn code_exchange() {
    let server = ContractServer::start().await;
    let provider = server.provider(&GOOGLE, config());
    let body = fixture(DIR, "token.json");
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", "/token", 200, body).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("4/0AX4XfWh"), redirect_uri("google"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = provider.exchange_code(&exchange).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "ya29.a0AfH6SMBx-example");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "1//0gLrT-example");
    assert!(tokens.id_token.is_some());
    let claims = tokens.id_token_claims.as_ref().expect("the ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3599);

    let sent = server.requests_to("/token").await.remove(0);
    assert_eq!(sent.query.len(), 0, "no secret in the URL");
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "4/0AX4XfWh"),
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
    server.respond_json("POST", "/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens = server.provider(&GOOGLE, config()).refresh(&RefreshToken::new("1//r".into())).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "ya29.a0-refreshed");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "1//r", "Google does not rotate refresh tokens");
    let form = server.only_request().await.form;
    assert_eq!((form["grant_type"].as_str(), form["refresh_token"].as_str()), ("refresh_token", "1//r"));
}

#[tokio::test]
async fn token_error_keeps_googles_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("google"));
    let err = server.provider(&GOOGLE, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn revoke_uses_rfc7009() {
    let server = ContractServer::start().await;
    server.respond("POST", "/revoke", 200, "application/json", "").await;
    server
        .provider(&GOOGLE, config())
        .revoke(TokenRef::Refresh(&RefreshToken::new("1//r".into())))
        .await
        .unwrap();
    let form = server.only_request().await.form;
    assert_eq!((form["token"].as_str(), form["token_type_hint"].as_str()), ("1//r", "refresh_token"));
}
