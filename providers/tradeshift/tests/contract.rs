//! Tradeshift contract tests for `tradeshift` and `tradeshiftBox`. The shared checks (HTTP Basic
//! client authentication, the profile, refresh, a replayed code) run in the conformance kit from
//! tests/persona.toml; this file holds Tradeshift's quirks: the production and sandbox hosts, the
//! exact authorize URL, the expiry, the refresh token kept when none comes back, Tradeshift's error
//! code, the Accept header of the user call, no revocation, and the required secret.

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, PkceCodeChallenge, ProviderConfig,
    ProviderDescriptor, RefreshToken, TokenRef,
};
use loginkit_provider_tradeshift::{TRADESHIFT, TRADESHIFT_BOX};
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "Engines.LoginApp";
const CLIENT_SECRET: &str = "3f6b2c1e-8d7a-4e5f-9a0b-1c2d3e4f5a6b";
const USER_PATH: &str = "/tradeshift/rest/external/account/info/user";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

fn authorize_base(
    descriptor: &'static ProviderDescriptor,
) -> (String, std::collections::BTreeMap<String, String>) {
    let provider = descriptor.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_uri(descriptor.id);
    let url =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge)).unwrap();
    (url.as_str().split('?').next().unwrap_or_default().to_owned(), url.query_pairs().into_owned().collect())
}

#[test]
fn authorize_urls_use_the_production_and_sandbox_hosts() {
    let (base, sent) = authorize_base(&TRADESHIFT);
    assert_eq!(base, "https://api.tradeshift.com/tradeshift/auth/login");
    let redirect = redirect_uri("tradeshift");
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid offline"),
        ("state", "s"),
    ]);
    assert_eq!(sent, expected, "no PKCE");

    let (base, _) = authorize_base(&TRADESHIFT_BOX);
    assert_eq!(base, "https://api-sandbox.tradeshift.com/tradeshift/auth/login");
    assert_eq!(TRADESHIFT_BOX.oauth2.token_url, "https://api-sandbox.tradeshift.com/tradeshift/auth/token");
    let userinfo = TRADESHIFT_BOX.oauth2.userinfo.map(|u| u.url);
    assert_eq!(
        userinfo,
        Some("https://api-sandbox.tradeshift.com/tradeshift/rest/external/account/info/user")
    );
}

#[tokio::test]
async fn code_exchange_uses_basic_client_credentials() {
    for descriptor in [&TRADESHIFT, &TRADESHIFT_BOX] {
        let server = ContractServer::start().await;
        server.respond_json("POST", "/tradeshift/auth/token", 200, fixture(DIR, "token.json")).await;
        let (code, redirect) = (code("sE7RFd48QkijbjZ"), redirect_uri(descriptor.id));
        let provider = server.provider(descriptor, config());
        let tokens = provider.exchange_code(&ExchangeRequest::new(&code, &redirect)).await.unwrap();
        assert_eq!(
            tokens.access_token.secret(),
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.ExampleTradeshiftAccessToken.c2ln"
        );
        assert_eq!(tokens.refresh_token.unwrap().secret(), "ExampleTradeshiftRefreshToken-6f1c2b9e");
        assert_eq!(tokens.expires_in.unwrap().as_secs(), 1800);

        let sent = server.only_request().await;
        assert_eq!((sent.method.as_str(), sent.query.len()), ("POST", 0));
        assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
        let expected = pairs(&[
            ("grant_type", "authorization_code"),
            ("code", "sE7RFd48QkijbjZ"),
            ("redirect_uri", redirect.as_str()),
        ]);
        assert_eq!(sent.form, expected);
    }
}

#[tokio::test]
async fn refresh_keeps_the_refresh_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/tradeshift/auth/token", 200, fixture(DIR, "refresh.json")).await;
    let provider = server.provider(&TRADESHIFT_BOX, config());
    let tokens = provider.refresh(&RefreshToken::new("ts-old".into())).await.unwrap();
    assert_eq!(
        tokens.access_token.secret(),
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.ExampleRefreshedAccessToken.c2ln"
    );
    assert_eq!(tokens.refresh_token.unwrap().secret(), "ts-old");
    let sent = server.only_request().await;
    assert!(sent.basic_auth().is_some());
    assert_eq!(sent.form, pairs(&[("grant_type", "refresh_token"), ("refresh_token", "ts-old")]));
}

#[tokio::test]
async fn token_error_keeps_the_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/tradeshift/auth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("tradeshift"));
    let err =
        server.provider(&TRADESHIFT, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn userinfo_profile_joins_the_name() {
    let server = ContractServer::start().await;
    server.respond_json("GET", USER_PATH, 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&TRADESHIFT, config()).user_profile(&access("ts.x")).await.unwrap();
    assert_eq!(profile.id, "8b4ec6f0-3d5a-4c1e-9f2b-7a6d5c4b3a21");
    assert_eq!(profile.email.as_deref(), Some("ada@engines.example"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown, "Tradeshift states nothing about verification");
    assert_eq!(profile.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(profile.avatar_url, None);
    let sent = server.only_request().await;
    assert_eq!(sent.header("authorization"), Some("Bearer ts.x"));
    assert_eq!(sent.header("accept"), Some("application/json"));
}

#[tokio::test]
async fn no_revocation_and_a_secret_is_required() {
    let server = ContractServer::start().await;
    let provider = server.provider(&TRADESHIFT, config());
    let revoke = provider.revoke(TokenRef::Refresh(&RefreshToken::new("r".into()))).await;
    assert!(matches!(revoke, Err(Error::Unsupported { .. })), "{revoke:?}");
    let err =
        TRADESHIFT_BOX.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    assert!(matches!(err, Err(Error::Config { provider: "tradeshiftBox", .. })));
}
