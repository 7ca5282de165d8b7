//! Twitch contract tests. The shared checks (client credentials in the body, the ID token, the
//! profile and avatar, refresh, revocation, a replayed code) run in the conformance kit from
//! tests/persona.toml; this file holds Twitch's quirks: the exact authorize URL with its `claims`
//! and `force_verify`, the verified ID token claims, expiry and scope list of the code exchange,
//! Twitch's error code and message, and the required secret.

use loginkit_core::serde_json::json;
use loginkit_core::{
    AuthorizeRequest, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge, ProviderConfig,
};
use loginkit_provider_twitch::TWITCH;
use loginkit_testkit::TestSigner;
use loginkit_testkit::contract::{ContractServer, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "hof5gwx0su6owfnys0yan9c87zr6t";
const CLIENT_SECRET: &str = "41vpdji4e9gif29md0ouet6fktd2";
const CLAIMS: &str =
    r#"{"userinfo":{"email":null,"email_verified":null,"picture":null,"preferred_username":null}}"#;

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_requests_the_userinfo_claims() {
    let http = HttpClient::with_defaults().unwrap();
    let provider = TWITCH.instantiate(config(), http.clone()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-1".into());
    let redirect = redirect_uri("twitch");
    let request = AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://id.twitch.tv/oauth2/authorize"));
    let sent: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid user:read:email"),
        ("state", "s"),
        ("nonce", "n-1"),
        ("claims", CLAIMS),
        ("force_verify", "true"),
    ]);
    assert_eq!(sent, expected, "Twitch documents no PKCE");

    let quiet = TWITCH.instantiate(config().param("force_verify", "false"), http).unwrap();
    let url = quiet.authorize_url(&AuthorizeRequest::new(&redirect, "s")).unwrap();
    assert!(url.query_pairs().any(|(k, v)| k == "force_verify" && v == "false"));
}

#[tokio::test]
async fn code_exchange_posts_credentials_in_the_body() {
    let server = ContractServer::start().await;
    let provider = server.provider(&TWITCH, config());
    let body = fixture(DIR, "token.json");
    let body =
        server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub"})).await;
    server.respond_json("POST", "/oauth2/token", 200, body).await;
    let (code, redirect) = (code("394a8bc98028f39660e53025de824134fb46313"), redirect_uri("twitch"));
    let tokens = provider.exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let tokens = tokens.unwrap();
    assert_eq!(tokens.access_token.secret(), "rfx2uswqe8l4g1mkagrvg5tv0ks3");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "5b93chm6hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 14124);
    assert!(tokens.id_token.is_some());
    let claims = tokens.id_token_claims.as_ref().expect("the ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert_eq!(tokens.scopes.as_deref(), Some(&["openid".to_owned(), "user:read:email".to_owned()][..]));

    let sent = server.requests_to("/oauth2/token").await.remove(0);
    assert_eq!((sent.method.as_str(), sent.query.len(), sent.header("authorization")), ("POST", 0, None));
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "394a8bc98028f39660e53025de824134fb46313"),
        ("redirect_uri", redirect.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn token_error_keeps_twitchs_code_and_message() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("twitch"));
    let err = server.provider(&TWITCH, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("Bad Request"), Some(400)));
    assert!(err.to_string().contains("Invalid authorization code"), "{err}");
}

#[test]
fn a_secret_is_required() {
    let err = TWITCH.instantiate(ProviderConfig::public(CLIENT_ID), HttpClient::with_defaults().unwrap());
    assert!(matches!(err, Err(Error::Config { provider: "twitch", .. })));
}
