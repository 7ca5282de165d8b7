//! Generic OpenID Connect contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down: the exact authorize URL with the configured
//! query, `prompt` and `max_age`, the token request body and expiry, the rotated refresh token, the
//! provider's error code, loopback endpoints, endpoint key validation, and revocation only with a
//! revocation URL (configured or discovered).

use std::collections::BTreeMap;

use loginkit_core::{
    AuthorizeRequest, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge, ProviderConfig,
    RefreshToken, TokenRef,
};
use loginkit_provider_oidc::OIDC;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "s6BhdRkqt3";
const CLIENT_SECRET: &str = "7Fjfp0ZBr1KtDRbnfVdmIw";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
        .param("authorization_url", "https://server.example.com/authorize?p=b2c_1_signin")
        .param("token_url", "https://server.example.com/oauth2/token")
        .param("userinfo_url", "https://api.example.com/v1/userinfo")
}

fn config_error(config: ProviderConfig) -> String {
    match OIDC.instantiate(config, HttpClient::with_defaults().unwrap()) {
        Err(Error::Config { provider: "oidc", message }) => message,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn authorize_url_keeps_the_configured_query_and_adds_prompt_and_max_age() {
    let configured = config().param("prompt", "login consent").param("max_age", "600");
    let provider = OIDC.instantiate(configured, HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-0S6_WzA2Mj".into());
    let redirect = redirect_uri("oidc");
    let request = AuthorizeRequest::new(&redirect, "af0ifjsldkj").pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://server.example.com/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("p", "b2c_1_signin"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("state", "af0ifjsldkj"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("prompt", "login consent"),
        ("max_age", "600"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    assert_eq!(sent, expected, "PKCE is always sent: providers without it ignore it");
}

#[tokio::test]
async fn code_exchange_goes_to_the_configured_token_url_with_basic_auth() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (code("SplxlOBeZQQYbYS6WxSbIA"), redirect_uri("oidc"));
    let tokens = server
        .provider(&OIDC, config())
        .exchange_code(&ExchangeRequest::new(&code, &redirect))
        .await
        .unwrap();
    assert_eq!(tokens.access_token.secret(), "SlAV32hkKG");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "8xLOxBtZp8");
    assert!(tokens.id_token.is_some());
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3600);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth2/token"));
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "SplxlOBeZQQYbYS6WxSbIA"),
        ("redirect_uri", redirect.as_str()),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh_uses_the_token_url() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens =
        server.provider(&OIDC, config()).refresh(&RefreshToken::new("8xLOxBtZp8".into())).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "TlBN45jURg");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "9yNOxJtZa5");
    let sent = server.only_request().await;
    assert_eq!(sent.path, "/oauth2/token");
    assert_eq!(sent.form, pairs(&[("grant_type", "refresh_token"), ("refresh_token", "8xLOxBtZp8")]));
}

#[tokio::test]
async fn token_error_keeps_the_providers_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth2/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("used"), redirect_uri("oidc"));
    let err = server.provider(&OIDC, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn loopback_http_endpoints_are_used_as_configured() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/idp/userinfo", 200, fixture(DIR, "user.json")).await;
    let origin = server.uri();
    let local = ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
        .param("authorization_url", origin.join("/idp/authorize").unwrap().as_str())
        .param("token_url", origin.join("/idp/token").unwrap().as_str())
        .param("userinfo_url", origin.join("/idp/userinfo").unwrap().as_str());
    let provider = OIDC.instantiate(local, HttpClient::with_defaults().unwrap()).unwrap();
    let profile = provider.user_profile(&access("at")).await.unwrap();
    assert_eq!(profile.id, "248289761001");
    assert_eq!(server.only_request().await.path, "/idp/userinfo");
}

#[tokio::test]
async fn revocation_is_unsupported() {
    let server = ContractServer::start().await;
    let token = RefreshToken::new("rt".into());
    let err = server.provider(&OIDC, config()).revoke(TokenRef::Refresh(&token)).await.unwrap_err();
    assert!(
        matches!(err, Error::Unsupported { provider: "oidc", capability: "token revocation" }),
        "{err:?}"
    );
}

#[test]
fn endpoint_keys_are_required_and_validated() {
    let missing = ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
        .param("authorization_url", "https://server.example.com/authorize")
        .param("userinfo_url", "https://server.example.com/userinfo");
    assert!(config_error(missing).contains("missing key `token_url`"));
    assert!(config_error(config().param("token_url", "  ")).contains("missing key `token_url`"));
    assert!(
        config_error(config().param("issuer", "https://id.example"))
            .contains("set both `issuer` and `jwks_url`")
    );
    assert!(
        config_error(config().param("token_url", "/oauth2/token"))
            .contains("`token_url` is not an absolute URL")
    );
    let plain_http = config().param("userinfo_url", "http://api.example.com/userinfo");
    assert!(config_error(plain_http).contains("must use https"));
    let other_scheme = config().param("authorization_url", "ftp://server.example.com/authorize");
    assert!(config_error(other_scheme).contains("must use https"));
    let credentials = config().param("token_url", "https://user:pw@server.example.com/token");
    assert!(config_error(credentials).contains("`token_url` may not carry credentials"));
    let fragment = config().param("authorization_url", "https://server.example.com/authorize#x");
    assert!(config_error(fragment).contains("`authorization_url` may not carry credentials or a fragment"));
    assert!(config_error(config().param("max_age", "ten minutes")).contains("`max_age`"));
}

/// A discovery document for an issuer at `origin` (no trailing slash), with or without RFC 7009
/// revocation.
fn discovery(origin: &str, revocation: bool) -> String {
    let mut doc = loginkit_core::serde_json::json!({
        "issuer": origin,
        "authorization_endpoint": format!("{origin}/authorize"),
        "token_endpoint": format!("{origin}/token"),
        "userinfo_endpoint": format!("{origin}/userinfo"),
        "jwks_uri": format!("{origin}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    if revocation {
        doc["revocation_endpoint"] = format!("{origin}/revoke").into();
    }
    doc.to_string()
}

#[tokio::test]
async fn revocation_goes_to_the_discovered_endpoint() {
    let server = ContractServer::start().await;
    let origin = server.uri().as_str().trim_end_matches('/').to_owned();
    server.respond_json("GET", "/.well-known/openid-configuration", 200, discovery(&origin, true)).await;
    server.respond("POST", "/revoke", 200, "text/plain", "").await;
    let provider =
        server.provider(&OIDC, ProviderConfig::new(CLIENT_ID, CLIENT_SECRET).param("issuer", &origin));
    let token = RefreshToken::new("rt-to-revoke".into());
    provider.revoke(TokenRef::Refresh(&token)).await.unwrap();
    provider.revoke(TokenRef::Refresh(&token)).await.unwrap();

    let revocations = server.requests_to("/revoke").await;
    assert_eq!(revocations.len(), 2);
    assert_eq!(
        revocations[0].form,
        pairs(&[("token", "rt-to-revoke"), ("token_type_hint", "refresh_token")])
    );
    assert_eq!(revocations[0].basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    let discovered = server.requests_to("/.well-known/openid-configuration").await;
    assert_eq!(discovered.len(), 1, "the discovery document is cached");
}

#[tokio::test]
async fn without_a_discovered_revocation_endpoint_revocation_is_unsupported() {
    let server = ContractServer::start().await;
    let origin = server.uri().as_str().trim_end_matches('/').to_owned();
    server.respond_json("GET", "/.well-known/openid-configuration", 200, discovery(&origin, false)).await;
    let provider =
        server.provider(&OIDC, ProviderConfig::new(CLIENT_ID, CLIENT_SECRET).param("issuer", &origin));
    let token = RefreshToken::new("rt".into());
    let err = provider.revoke(TokenRef::Refresh(&token)).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { provider: "oidc", .. }), "{err:?}");
    assert!(server.requests_to("/revoke").await.is_empty());
}
