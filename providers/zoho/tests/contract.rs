//! Zoho contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down: the exact authorize URL with comma-separated
//! scopes, the token request body, expiry and api_domain, the refresh token kept, Zoho's error
//! code with HTTP 200, no avatar, the revocation's token type hint, and the accounts server.

use std::collections::BTreeMap;

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, ProviderConfig, RefreshToken,
    TokenRef,
};
use loginkit_provider_zoho::ZOHO;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "1000.GMB0YULZHJK411248S8I5GZ4CHUEX0";
const CLIENT_SECRET: &str = "122c324d3496d5d777ceeebc129470715fbb856b7";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_asks_for_offline_access_with_comma_scopes() {
    let provider = ZOHO.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let nonce = Nonce::new("n-zoho".into());
    let redirect = redirect_uri("zoho");
    let scopes = vec!["ZohoCRM.users.READ".to_owned()];
    let url = provider
        .authorize_url(&AuthorizeRequest::new(&redirect, "st").scopes(&scopes).nonce(&nonce))
        .unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://accounts.zoho.com/oauth/v2/auth"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "email,profile,AaaServer.profile.READ,ZohoCRM.users.READ"),
        ("state", "st"),
        ("nonce", "n-zoho"),
        ("access_type", "offline"),
    ]);
    assert_eq!(sent, expected);

    let eu = ZOHO.instantiate(
        config().param("accounts_server", "accounts.zoho.eu"),
        HttpClient::with_defaults().unwrap(),
    );
    let url = eu.unwrap().authorize_url(&AuthorizeRequest::new(&redirect, "st")).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://accounts.zoho.eu/oauth/v2/auth"));
}

#[tokio::test]
async fn code_exchange() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/v2/token", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (
        code("1000.7c96113574b7d8db83789676350d7e91.276c83e3d5ec39eb1ec3a40ed4219623"),
        redirect_uri("zoho"),
    );
    let tokens = server
        .provider(&ZOHO, config())
        .exchange_code(&ExchangeRequest::new(&code, &redirect))
        .await
        .unwrap();
    assert_eq!(
        tokens.access_token.secret(),
        "1000.8ade8619471ced4155a8b086966d3ef2.ac2ce7a8e8408bf02825c53295f296be"
    );
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "1000.aa2550574bc68c2c7f1d5a266bc5ade6.a76355940e7e5a380994b9d6c295e0f5"
    );
    assert!(tokens.id_token.is_some());
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3600);
    assert_eq!(tokens.raw.get("api_domain").and_then(|v| v.as_str()), Some("https://www.zohoapis.com"));

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth/v2/token"));
    assert!(sent.query.is_empty(), "the secret travels in the body, not the URL");
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", code.secret().as_str()),
        ("redirect_uri", redirect.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh_keeps_the_refresh_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/v2/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens =
        server.provider(&ZOHO, config()).refresh(&RefreshToken::new("1000.rt".into())).await.unwrap();
    assert_eq!(
        tokens.access_token.secret(),
        "1000.2370ff5c2cfa4f9a96b1e5a3e8d2c710.4ee6e1f8d1b7a5c3f9e0d2b4a6c8e0f2"
    );
    assert_eq!(tokens.refresh_token.unwrap().secret(), "1000.rt", "Zoho does not rotate refresh tokens");
    let form = server.only_request().await.form;
    assert_eq!((form["grant_type"].as_str(), form["refresh_token"].as_str()), ("refresh_token", "1000.rt"));
    assert_eq!(form["client_secret"], CLIENT_SECRET);
}

#[tokio::test]
async fn errors_answered_with_http_200_are_typed() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/v2/token", 200, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("1000.used"), redirect_uri("zoho"));
    let err = server.provider(&ZOHO, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_code"), Some(200)));
}

#[tokio::test]
async fn user_info_uses_zohos_token_scheme() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/oauth/user/info", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&ZOHO, config()).user_profile(&access("1000.at")).await.unwrap();
    assert_eq!(profile.id, "675925609");
    assert_eq!(profile.email.as_deref(), Some("priya@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown);
    assert_eq!(profile.name.as_deref(), Some("Priya Raman"));
    assert_eq!(profile.avatar_url, None);
    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("GET", "/oauth/user/info"));
    assert_eq!(sent.header("authorization"), Some("Zoho-oauthtoken 1000.at"));
}

#[tokio::test]
async fn revoke_posts_the_refresh_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/v2/token/revoke", 200, r#"{"status":"success"}"#).await;
    let token = RefreshToken::new("1000.rt".into());
    server.provider(&ZOHO, config()).revoke(TokenRef::Refresh(&token)).await.unwrap();
    let expected = pairs(&[
        ("token", "1000.rt"),
        ("token_type_hint", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(server.only_request().await.form, expected);
}

#[test]
fn unsafe_accounts_server_is_a_clear_config_error_and_empty_means_the_default() {
    let blank = ZOHO
        .instantiate(config().param("accounts_server", ""), HttpClient::with_defaults().unwrap())
        .unwrap();
    let redirect = redirect_uri("zoho");
    let url = blank.authorize_url(&AuthorizeRequest::new(&redirect, "s")).unwrap();
    assert_eq!(url.host_str(), Some("accounts.zoho.com"));
    for host in ["accounts.zoho.com/evil", "user@accounts.zoho.com"] {
        match ZOHO.instantiate(config().param("accounts_server", host), HttpClient::with_defaults().unwrap())
        {
            Err(Error::Config { provider, message }) => {
                assert_eq!(provider, "zoho");
                assert!(message.contains("`accounts_server`"), "{host:?}: {message}");
            }
            other => panic!("{host:?}: expected a configuration error, got {other:?}"),
        }
    }
}
