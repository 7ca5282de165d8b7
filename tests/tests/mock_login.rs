//! A full login in-process over loopback: the testkit's mock identity provider and the `mock`
//! providers, from authorize URL to code, tokens, profile, refresh and revocation.

use loginkit::reqwest::{self, StatusCode, redirect::Policy};
use loginkit::url::Url;
use loginkit::{
    AuthorizationCode, AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, OAuthProvider,
    PkceCodeChallenge, Provider, ProviderConfig, Registry, TokenRef,
};
use loginkit_testkit::{Endpoint, Fault, MockIdp, MockIdpConfig};

fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

fn provider(id: Provider, config: ProviderConfig) -> Box<dyn OAuthProvider> {
    let registry = Registry::global().unwrap();
    registry.instantiate(id.as_str(), config, HttpClient::with_defaults().unwrap()).unwrap()
}

fn callback() -> Url {
    "http://127.0.0.1:9/v1/account/sessions/oauth2/callback/mock/default".parse().unwrap()
}

/// Follows the authorize URL the way a browser would and returns the callback's query.
async fn authorize(url: Url) -> Vec<(String, String)> {
    let response = browser().get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location: Url = response.headers()["location"].to_str().unwrap().parse().unwrap();
    assert!(location.as_str().starts_with(callback().as_str()), "{location}");
    location.query_pairs().into_owned().collect()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn mock_login_end_to_end() {
    let idp =
        MockIdp::start_with(MockIdpConfig { require_pkce: true, ..MockIdpConfig::default() }).await.unwrap();
    let mock = provider(Provider::Mock, idp.provider_config());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let callback = callback();
    let scopes = vec!["profile".to_owned()];
    let url = mock
        .authorize_url(
            &AuthorizeRequest::new(&callback, "opaque-state").scopes(&scopes).pkce_challenge(&challenge),
        )
        .unwrap();

    let query = authorize(url).await;
    assert_eq!(param(&query, "state"), Some("opaque-state"));
    let code = AuthorizationCode::new(param(&query, "code").expect("a code").to_owned());

    let exchange = ExchangeRequest::new(&code, &callback).pkce_verifier(&verifier);
    let tokens = mock.exchange_code(&exchange).await.unwrap();
    assert!(tokens.expires_at.is_some());
    assert_eq!(tokens.scopes.as_deref(), Some(&["email".to_owned(), "profile".to_owned()][..]));
    let sent = idp.handle().last_token_request().unwrap();
    assert!(sent.header("authorization").is_some_and(|h| h.starts_with("Basic ")));
    assert_eq!(sent.form_value("code_verifier"), Some(verifier.secret().as_str()));

    let profile = mock.user_profile(&tokens).await.unwrap();
    assert_eq!(profile.id, "1");
    assert_eq!(profile.email.as_deref(), Some("useroauth@localhost.test"));
    assert_eq!(profile.email_trust, EmailTrust::Verified);
    assert_eq!(profile.name.as_deref(), Some("User Name"));

    // Codes are single-use: a replay fails, and the IdP revokes what the code produced.
    let replay = mock.exchange_code(&exchange).await.unwrap_err();
    assert_eq!(replay.provider_code(), Some("invalid_grant"));
    assert!(mock.user_profile(&tokens).await.is_err());
}

#[tokio::test]
async fn refresh_and_revoke() {
    let idp = MockIdp::start().await.unwrap();
    let mock = provider(Provider::Mock, idp.provider_config());
    let callback = callback();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let query = authorize(
        mock.authorize_url(&AuthorizeRequest::new(&callback, "s").pkce_challenge(&challenge)).unwrap(),
    )
    .await;
    let code = AuthorizationCode::new(param(&query, "code").unwrap().to_owned());
    let tokens =
        mock.exchange_code(&ExchangeRequest::new(&code, &callback).pkce_verifier(&verifier)).await.unwrap();
    let first_refresh = tokens.refresh_token.clone().expect("refresh token");

    let refreshed = mock.refresh(&first_refresh).await.unwrap();
    assert_ne!(refreshed.access_token.secret(), tokens.access_token.secret());
    assert!(mock.user_profile(&refreshed).await.is_ok());
    let stale = mock.refresh(&first_refresh).await.unwrap_err();
    assert_eq!(stale.provider_code(), Some("invalid_grant"), "refresh tokens rotate");

    mock.revoke(TokenRef::Access(&refreshed.access_token)).await.unwrap();
    let revoked = mock.user_profile(&refreshed).await.unwrap_err();
    assert_eq!(revoked.provider_code(), Some("invalid_token"));
}

#[tokio::test]
async fn mock_unverified_reports_an_unverified_email() {
    let idp = MockIdp::start().await.unwrap();
    let unverified = provider(Provider::MockUnverified, idp.provider_config());
    let callback = callback();
    let query = authorize(unverified.authorize_url(&AuthorizeRequest::new(&callback, "s")).unwrap()).await;
    let code = AuthorizationCode::new(param(&query, "code").unwrap().to_owned());
    let tokens = unverified.exchange_code(&ExchangeRequest::new(&code, &callback)).await.unwrap();
    let profile = unverified.user_profile(&tokens).await.unwrap();
    assert_eq!(profile.email_trust, EmailTrust::Unverified);
    assert_eq!(profile.email.as_deref(), Some("useroauth@localhost.test"));
}

#[tokio::test]
async fn provider_faults_become_typed_errors() {
    let idp = MockIdp::start().await.unwrap();
    let mock = provider(Provider::Mock, idp.provider_config());
    let callback = callback();
    let code = AuthorizationCode::new("whatever".into());
    let exchange = ExchangeRequest::new(&code, &callback);
    type Expectation = fn(&Error) -> bool;
    let cases: Vec<(Fault, Expectation)> = vec![
        (Fault::Garbage, |e| matches!(e, Error::Malformed { .. })),
        (Fault::Oversized { bytes: 2 * 1024 * 1024 }, |e| matches!(e, Error::ResponseTooLarge { .. })),
        (Fault::Redirect { location: "http://169.254.169.254/".into() }, |e| {
            matches!(e, Error::Redirect { .. })
        }),
        (
            Fault::ErrorWith200 { error: "access_denied".into(), description: None },
            |e| matches!(e, Error::OAuth { status: 200, code, .. } if code == "access_denied"),
        ),
        (Fault::MissingAccessToken, |e| matches!(e, Error::MissingField { field: "access_token", .. })),
        (
            Fault::Status { status: 503, content_type: "text/html".into(), body: "<h1>down</h1>".into() },
            |e| matches!(e, Error::HttpStatus { status: 503, .. }),
        ),
    ];
    for (fault, expected) in cases {
        let label = format!("{fault:?}");
        idp.handle().inject(Endpoint::Token, fault);
        let err = mock.exchange_code(&exchange).await.unwrap_err();
        assert!(expected(&err), "{label} gave {err:?}");
    }
}
