//! Discord contract tests: Discord's quirks. The shared checks, a whole login against an
//! impersonating provider (client authentication, profile, refresh and revocation), run in the
//! conformance kit from tests/persona.toml; this file holds what they do not cover: the exact
//! requests loginkit sends and what it reads from answers shaped like Discord's documented ones.

use loginkit_core::{
    AccessToken, AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge,
    ProviderConfig, TokenRef,
};
use loginkit_provider_discord::DISCORD;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "157730590492196864";
const CLIENT_SECRET: &str = "dIsC0rD-s3cr3t/with+chars";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_is_on_discord_com_with_pkce() {
    let provider = DISCORD.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri("discord");
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s-1").pkce_challenge(&challenge)).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://discord.com/oauth2/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "identify email"),
        ("state", "s-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange_uses_basic_auth() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/api/oauth2/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("NhhvTDYsFcdgNLnnLijcl7Ku7bEEeee"), redirect_uri("discord"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = server.provider(&DISCORD, config()).exchange_code(&exchange).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "6qrZcUqja7812RVdnEKjpzOL4CvHBFG");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "D43f5y0ahjqew82jZ4NViEr2YafMKhue");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 604800);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/api/oauth2/token"));
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    assert!(sent.query.is_empty());
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "NhhvTDYsFcdgNLnnLijcl7Ku7bEEeee"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
    ]);
    assert_eq!(sent.form, expected, "no credentials in the body when they travel in the header");
}

#[tokio::test]
async fn token_error_keeps_discords_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/api/oauth2/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("discord"));
    let err =
        server.provider(&DISCORD, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn unverified_email_and_username_fallback() {
    let server = ContractServer::start().await;
    let body = r#"{"id":"1","username":"nelly","global_name":null,"avatar":null,"verified":false,"email":"n@example.com"}"#;
    server.respond_json("GET", "/api/v10/users/@me", 200, body).await;
    let profile = server.provider(&DISCORD, config()).user_profile(&access("t")).await.unwrap();
    assert_eq!(profile.email_trust, EmailTrust::Unverified);
    assert_eq!(profile.name.as_deref(), Some("nelly"));
    assert_eq!(profile.avatar_url, None);
}

#[tokio::test]
async fn revoke_uses_rfc7009_with_basic_auth() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/api/oauth2/token/revoke", 200, "{}").await;
    let token = AccessToken::new("dc-at".into());
    server.provider(&DISCORD, config()).revoke(TokenRef::Access(&token)).await.unwrap();
    let sent = server.only_request().await;
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    assert_eq!(sent.form, pairs(&[("token", "dc-at"), ("token_type_hint", "access_token")]));
}

#[test]
fn configuration_is_checked() {
    let no_secret =
        DISCORD.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    assert!(matches!(no_secret, Err(Error::Config { provider: "discord", .. })), "{no_secret:?}");
}
