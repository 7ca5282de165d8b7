//! Yandex contract tests: Yandex's quirks. The shared checks, a whole login against an
//! impersonating provider (client authentication, profile and refresh), run in the conformance kit
//! from tests/persona.toml; this file holds what they do not cover: the exact requests loginkit
//! sends and what it reads from answers shaped like Yandex's documented ones.

use std::collections::BTreeMap;

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig,
};
use loginkit_provider_yandex::YANDEX;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "4760187d81bc4b7799476b42b5103713";
const CLIENT_SECRET: &str = "yandex-client-secret";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

fn basic() -> Option<(String, String)> {
    Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()))
}

#[test]
fn authorize_url_sends_redirect_uri_and_pkce() {
    let provider = YANDEX.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("yandex");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://oauth.yandex.com/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    assert_eq!(sent, expected, "no scope by default: Yandex grants the app's configured permissions");

    let scopes = vec!["login:email".to_owned(), "login:info".to_owned()];
    let url = provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").scopes(&scopes)).unwrap();
    assert!(url.query_pairs().any(|(k, v)| k == "scope" && v == "login:email login:info"));
}

#[tokio::test]
async fn code_exchange_uses_basic_auth() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("6404918"), redirect_uri("yandex"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&YANDEX, config()).exchange_code(&exchange).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "y0_AgAAAABkZXhhbXBsZS1hY2Nlc3MtdG9rZW4");
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "1:GN686QVt0mmakDd9:A4pYuW9LGk0_example:A-2dHOmBxiXgajnD-kYOwQ"
    );
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 31_536_000);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/token"));
    assert!(sent.query.is_empty(), "no secret in the URL");
    assert_eq!(sent.basic_auth(), basic());
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "6404918"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_yandexs_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("yandex"));
    let err = server.provider(&YANDEX, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert!(matches!(err, Error::OAuth { .. }));
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn userinfo_uses_the_oauth_scheme() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/info", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&YANDEX, config()).user_profile(&access("y0_at")).await.unwrap();
    assert_eq!(profile.id, "1000034426");
    assert_eq!(profile.email.as_deref(), Some("ivan@yandex.example"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown, "Yandex gives no verification flag");
    assert_eq!(profile.name.as_deref(), Some("Ivan"));
    assert_eq!(profile.avatar_url, None);
    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("GET", "/info"));
    assert_eq!(sent.query, pairs(&[("format", "json")]), "the token never goes into the URL");
    assert_eq!(sent.header("authorization"), Some("OAuth y0_at"));
}

#[test]
fn configuration_errors_are_clear() {
    let http = || HttpClient::with_defaults().unwrap();
    let err = YANDEX.instantiate(ProviderConfig::public(CLIENT_ID), http()).unwrap_err();
    assert!(matches!(&err, Error::Config { message, .. } if message.contains("client secret")), "{err}");
    let err = YANDEX.instantiate(config().param("device_id", "x"), http()).unwrap_err();
    assert!(
        matches!(&err, Error::Config { message, .. } if message.contains("unknown key `device_id`")),
        "{err}"
    );
}
