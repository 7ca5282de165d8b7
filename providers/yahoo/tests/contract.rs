//! Yahoo contract tests. The shared checks (HTTP Basic client authentication, the ID token, the
//! profile and avatar, refresh, a replayed code) run in the conformance kit from tests/persona.toml;
//! this file holds Yahoo's quirks: the exact authorize URL with a nonce and no PKCE, the verified ID
//! token claims and expiry, Yahoo's error code, no revocation, and configuration errors.

use std::collections::BTreeMap;

use loginkit_core::serde_json::json;
use loginkit_core::{
    AuthorizeRequest, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge, ProviderConfig,
    RefreshToken, TokenRef,
};
use loginkit_provider_yahoo::YAHOO;
use loginkit_testkit::TestSigner;
use loginkit_testkit::contract::{ContractServer, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "dj0yJmk9example--";
const CLIENT_SECRET: &str = "yahoo-secret-value";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_sends_nonce_but_no_pkce() {
    let provider = YAHOO.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-1".into());
    let redirect = redirect_uri("yahoo");
    let request = AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://api.login.yahoo.com/oauth2/request_auth"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("state", "s"),
        ("nonce", "n-1"),
    ]);
    assert_eq!(sent, expected, "Yahoo documents no PKCE, so no challenge is sent");
}

#[tokio::test]
async fn code_exchange_uses_basic_auth() {
    let server = ContractServer::start().await;
    let provider = server.provider(&YAHOO, config());
    let body = fixture(DIR, "token.json");
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", "/oauth2/get_token", 200, body).await;
    let (code, redirect) = (code("ydlbeqn"), redirect_uri("yahoo"));
    let tokens = provider.exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let tokens = tokens.unwrap();
    assert_eq!(tokens.access_token.secret(), "Jzxbkqqcvjqik2IMxGFEE1cuaos--example");
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "AOiRUlJn_qOmByVGTmUpwcMKW3XDcipToOoHx2wRoyLgJC_RFlA-example"
    );
    assert!(tokens.id_token.is_some());
    let claims = tokens.id_token_claims.as_ref().expect("the ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3600);

    let sent = server.requests_to("/oauth2/get_token").await.remove(0);
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth2/get_token"));
    assert!(sent.query.is_empty(), "no secret in the URL");
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "ydlbeqn"),
        ("redirect_uri", redirect.as_str()),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_yahoos_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/get_token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("yahoo"));
    let err = server.provider(&YAHOO, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert!(matches!(err, Error::OAuth { .. }));
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn revoke_is_unsupported() {
    let provider = YAHOO.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let err = provider.revoke(TokenRef::Refresh(&RefreshToken::new("r".into()))).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { capability: "revoke", .. }));
}

#[test]
fn configuration_errors_are_clear() {
    let http = || HttpClient::with_defaults().unwrap();
    let err = YAHOO.instantiate(ProviderConfig::public(CLIENT_ID), http()).unwrap_err();
    assert!(matches!(&err, Error::Config { message, .. } if message.contains("client secret")), "{err}");
    let err = YAHOO.instantiate(config().param("tenant", "x"), http()).unwrap_err();
    assert!(
        matches!(&err, Error::Config { message, .. } if message.contains("unknown key `tenant`")),
        "{err}"
    );
}
