//! Microsoft contract tests: the exact requests loginkit sends to the identity platform and to
//! Microsoft Graph, and what it reads from answers shaped like Microsoft's documented ones.

use std::collections::BTreeMap;

use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce, PkceCodeChallenge,
    ProviderConfig, RefreshToken, TokenRef,
};
use loginkit_provider_microsoft::MICROSOFT;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "11112222-bbbb-3333-cccc-4444dddd5555";
const CLIENT_SECRET: &str = "Abc8Q~secret.value_with~chars";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url_defaults_to_the_common_tenant() {
    let provider = MICROSOFT.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-ms".into());
    let redirect = redirect_uri("microsoft");
    let scopes = vec!["Calendars.Read".to_owned()];
    let request =
        AuthorizeRequest::new(&redirect, "st").scopes(&scopes).pkce_challenge(&challenge).nonce(&nonce);
    let url = provider.authorize_url(&request).unwrap();
    assert_eq!(
        url.as_str().split('?').next(),
        Some("https://login.microsoftonline.com/common/oauth2/v2.0/authorize")
    );
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid profile email offline_access User.Read Calendars.Read"),
        ("state", "st"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "n-ms"),
        ("response_mode", "query"),
    ]);
    assert_eq!(sent, expected);

    let single = config().param("tenant", "contoso.onmicrosoft.com");
    let url =
        MICROSOFT.instantiate(single, HttpClient::with_defaults().unwrap()).unwrap().authorize_url(&request);
    assert_eq!(url.unwrap().path(), "/contoso.onmicrosoft.com/oauth2/v2.0/authorize");
}

#[tokio::test]
async fn code_exchange() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/organizations/oauth2/v2.0/token", 200, fixture(DIR, "token.json")).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("0.AXkA-example-code"), redirect_uri("microsoft"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let provider = server.provider(&MICROSOFT, config().param("tenant", "organizations"));
    let tokens = provider.exchange_code(&exchange).await.unwrap();
    assert!(tokens.access_token.secret().contains("eyJvaWQiOiI0OGQzMTg4NyJ9"));
    assert_eq!(tokens.refresh_token.unwrap().secret(), "1.AXkAexample-refresh-token-AAA");
    assert!(tokens.id_token.is_some());
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3599);

    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/organizations/oauth2/v2.0/token"));
    assert!(sent.query.is_empty());
    assert_eq!(sent.header("authorization"), None);
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "0.AXkA-example-code"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh_takes_the_rotated_token() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/common/oauth2/v2.0/token", 200, fixture(DIR, "refresh.json")).await;
    let tokens =
        server.provider(&MICROSOFT, config()).refresh(&RefreshToken::new("1.old".into())).await.unwrap();
    assert_eq!(tokens.refresh_token.unwrap().secret(), "1.AXkAexample-rotated-refresh-token-BBB");
    let form = server.only_request().await.form;
    assert_eq!((form["grant_type"].as_str(), form["refresh_token"].as_str()), ("refresh_token", "1.old"));
    assert_eq!(form["client_secret"], CLIENT_SECRET);
}

#[tokio::test]
async fn token_error_keeps_microsofts_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/common/oauth2/v2.0/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("microsoft"));
    let err =
        server.provider(&MICROSOFT, config()).exchange_code(&ExchangeRequest::new(&code, &redirect)).await;
    let err = err.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
    assert!(err.to_string().contains("AADSTS70008"), "{err}");
}

#[tokio::test]
async fn graph_profile_prefers_mail_and_never_claims_verification() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/v1.0/me", 200, fixture(DIR, "user.json")).await;
    let profile = server.provider(&MICROSOFT, config()).user_profile(&access("at-ms")).await.unwrap();
    assert_eq!(profile.id, "48d31887-5fad-4d73-a9f5-3c356e68a038");
    assert_eq!(profile.email.as_deref(), Some("MeganB@contoso.example"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown);
    assert_eq!(profile.name.as_deref(), Some("Megan Bowen"));
    assert_eq!(profile.avatar_url, None);
    let sent = server.only_request().await;
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("GET", "/v1.0/me"));
    assert_eq!(sent.header("authorization"), Some("Bearer at-ms"));
}

#[tokio::test]
async fn without_mail_the_user_principal_name_is_used_untrusted() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/v1.0/me", 200, fixture(DIR, "user-personal.json")).await;
    let profile = server.provider(&MICROSOFT, config()).user_profile(&access("at")).await.unwrap();
    assert_eq!(profile.email.as_deref(), Some("alex.wilber@outlook.example"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown);
}

#[tokio::test]
async fn revocation_is_unsupported() {
    let server = ContractServer::start().await;
    let token = RefreshToken::new("rt".into());
    let err = server.provider(&MICROSOFT, config()).revoke(TokenRef::Refresh(&token)).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { provider: "microsoft", capability: "revoke" }), "{err:?}");
    assert!(server.requests().await.is_empty());
}

#[test]
fn unsafe_tenant_is_a_clear_config_error_and_empty_means_common() {
    let blank =
        MICROSOFT.instantiate(config().param("tenant", ""), HttpClient::with_defaults().unwrap()).unwrap();
    let redirect = redirect_uri("microsoft");
    let url = blank.authorize_url(&AuthorizeRequest::new(&redirect, "s")).unwrap();
    assert_eq!(url.path(), "/common/oauth2/v2.0/authorize");
    for tenant in ["common/../evil", "tenant?x=1"] {
        match MICROSOFT.instantiate(config().param("tenant", tenant), HttpClient::with_defaults().unwrap()) {
            Err(Error::Config { provider, message }) => {
                assert_eq!(provider, "microsoft");
                assert!(message.contains("`tenant`"), "{tenant:?}: {message}");
            }
            other => panic!("{tenant:?}: expected a configuration error, got {other:?}"),
        }
    }
}
