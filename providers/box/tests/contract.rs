//! Box contract tests. The shared checks (client credentials in the body, the profile and avatar,
//! refresh, revocation, a replayed code) run in the conformance kit from tests/persona.toml; this
//! file holds Box's quirks: the exact authorize URL without default scopes, the expiry, Box's error
//! code, revoking a refresh token with its type hint, and configuration errors.

use loginkit_core::{
    AuthorizeRequest, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig, RefreshToken,
    TokenRef,
};
use loginkit_provider_box::BOX;
use loginkit_testkit::contract::{ContractServer, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "ly1nj6n11vionaie65emwzk575hnnmrk";
const CLIENT_SECRET: &str = "hOzsTeFlT6ko0dme22uGbQal04SBPYc1";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_leaves_scopes_to_the_app_and_joins_requested_ones_with_spaces() {
    let provider = BOX.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("box");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s-1").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://account.box.com/api/oauth2/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("state", "s-1"),
    ]);
    assert_eq!(sent, expected, "no default scope, and no PKCE: Box does not document it");

    let scopes = vec!["root_readonly".to_owned(), "manage_webhook".to_owned()];
    let url = provider.authorize_url(&AuthorizeRequest::new(&redirect, "s-1").scopes(&scopes)).unwrap();
    assert!(url.query_pairs().any(|(k, v)| k == "scope" && v == "root_readonly manage_webhook"), "{url}");
}

#[tokio::test]
async fn code_exchange() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (code("n22JPxrh18m4Y0wIZPIqYZK7VRrsMTWW"), redirect_uri("box"));
    let tokens =
        server.provider(&BOX, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await.unwrap();
    assert_eq!(
        tokens.access_token.secret(),
        "c3FIOG9vSGV4VHo4QzAyg5T1JvNnJoZ3ExaVNyQWw6WjRsanRKZG5lQk9qUE1BVQ"
    );
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "c3FIOG9vSGV4VHo4QzAyg5T1JvNnJoZ3ExaVNyQWw6WjRsanRKZG5lQk9qUE1BVP"
    );
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3600);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth2/token"));
    assert!(sent.query.is_empty() && sent.header("authorization").is_none());
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "n22JPxrh18m4Y0wIZPIqYZK7VRrsMTWW"),
        ("redirect_uri", redirect.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_boxs_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("box"));
    let err = server.provider(&BOX, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn revoke_posts_the_token_with_client_credentials() {
    let server = ContractServer::start().await;
    server.respond("POST", "/oauth2/revoke", 200, "application/json", "").await;
    server.provider(&BOX, config()).revoke(TokenRef::Refresh(&RefreshToken::new("rt".into()))).await.unwrap();
    let sent = server.only_request().await;
    let expected = pairs(&[
        ("token", "rt"),
        ("token_type_hint", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[test]
fn configuration_is_checked() {
    let no_secret = BOX.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    assert!(matches!(no_secret, Err(Error::Config { provider: "box", .. })), "{no_secret:?}");
    let unknown = BOX.instantiate(config().param("enterprise", "1"), HttpClient::with_defaults().unwrap());
    assert!(matches!(unknown, Err(Error::Config { .. })));
}
