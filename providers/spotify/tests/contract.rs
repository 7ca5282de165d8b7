//! Spotify contract tests: Spotify's quirks. The shared checks, a whole login against an
//! impersonating provider (client authentication, profile and refresh), run in the conformance kit
//! from tests/persona.toml; this file holds what they do not cover: the exact requests loginkit
//! sends and what it reads from answers shaped like Spotify's documented ones.

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig,
    RefreshToken, TokenRef,
};
use loginkit_provider_spotify::SPOTIFY;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "5fe01282e44241328a84e7c5cc169165";
const CLIENT_SECRET: &str = "b2f0e4a5c6d74f1a8e9b0c1d2e3f4a5b";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_sends_pkce() {
    let provider = SPOTIFY.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let scopes = vec!["user-read-private".to_owned()];
    let redirect = redirect_uri("spotify");
    let url = provider
        .authorize_url(&AuthorizeRequest::new(&redirect, "s").scopes(&scopes).pkce_challenge(&challenge))
        .unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://accounts.spotify.com/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "user-read-email user-read-private"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_uses_basic_client_credentials() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/api/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("AQBExampleSpotifyCode"), redirect_uri("spotify"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&SPOTIFY, config()).exchange_code(&exchange).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "BQDExampleSpotifyAccessToken");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "AQCExampleSpotifyRefreshToken");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3600);
    assert_eq!(tokens.scopes.as_deref(), Some(&["user-read-email".to_owned()][..]));

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.query.len()), ("POST", 0));
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "AQBExampleSpotifyCode"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh_keeps_the_refresh_token_when_none_is_returned() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/api/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens =
        server.provider(&SPOTIFY, config()).refresh(&RefreshToken::new("AQC-old".into())).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "BQDExampleRefreshedAccessToken");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "AQC-old");
    let sent = server.only_request().await;
    assert!(sent.basic_auth().is_some());
    assert_eq!(sent.form, pairs(&[("grant_type", "refresh_token"), ("refresh_token", "AQC-old")]));
}

#[tokio::test]
async fn token_error_keeps_spotifys_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/api/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("spotify"));
    let err =
        server.provider(&SPOTIFY, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

/// An answer from before `account_id` (or a user without it) is identified by `id`, and one
/// without the deprecated `email` still makes a profile.
#[tokio::test]
async fn without_account_id_the_id_is_read_and_without_email_there_is_none() {
    let server = ContractServer::start().await;
    let mut user: loginkit_core::serde_json::Value =
        loginkit_core::serde_json::from_str(&fixture(DIR, "user.json")).unwrap();
    let user = user.as_object_mut().unwrap();
    user.remove("account_id");
    user.remove("email");
    server.respond_json("GET", "/v1/me", 200, loginkit_core::serde_json::to_vec(user).unwrap()).await;
    let profile = server.provider(&SPOTIFY, config()).user_profile(&access("BQD.x")).await.unwrap();
    assert_eq!((profile.id.as_str(), profile.previous_id.as_deref()), ("adalovelace", None));
    assert_eq!((profile.email, profile.email_trust), (None, EmailTrust::Unknown));
    assert_eq!(profile.name.as_deref(), Some("Ada Lovelace"));
}

#[tokio::test]
async fn no_revocation_and_a_secret_is_required() {
    let server = ContractServer::start().await;
    let revoke =
        server.provider(&SPOTIFY, config()).revoke(TokenRef::Refresh(&RefreshToken::new("r".into()))).await;
    assert!(matches!(revoke, Err(Error::Unsupported { .. })), "{revoke:?}");
    let err = SPOTIFY.instantiate(ProviderConfig::new(CLIENT_ID, ""), HttpClient::with_defaults().unwrap());
    assert!(matches!(err, Err(Error::Config { provider: "spotify", .. })));
}
