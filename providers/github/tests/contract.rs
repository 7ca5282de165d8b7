//! GitHub contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down: the exact authorize URL (no response_type),
//! OAuth App tokens without a refresh token and comma-separated scopes, the Accept headers,
//! form-encoded token answers, errors sent with HTTP 200, the API headers and User-Agent of the
//! profile calls, the public email kept untrusted, expiry on refresh, and revocation's JSON body.

use std::collections::BTreeMap;

use loginkit_core::serde_json::{Value, json};
use loginkit_core::url::Url;
use loginkit_core::{
    AccessToken, AuthorizationCode, AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient,
    OAuthProvider, PkceCodeChallenge, ProviderConfig, RefreshToken, TokenRef, TokenSet,
};
use loginkit_provider_github::GITHUB;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CLIENT_ID: &str = "Iv1.8a61f9b3a7aba766";
const CLIENT_SECRET: &str = "1234567890abcdef1234567890abcdef12345678";

fn github(server: &MockServer) -> Box<dyn OAuthProvider> {
    let config = ProviderConfig::new(CLIENT_ID, CLIENT_SECRET).base_url(server.uri().parse().unwrap());
    GITHUB.instantiate(config, HttpClient::with_defaults().unwrap()).unwrap()
}

fn redirect() -> Url {
    "https://app.example/v1/account/sessions/oauth2/callback/github/p1".parse().unwrap()
}

fn form(request: &Request) -> BTreeMap<String, String> {
    loginkit_core::url::form_urlencoded::parse(&request.body).into_owned().collect()
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn token(value: &str) -> TokenSet {
    TokenSet::new(AccessToken::new(value.into()))
}

#[tokio::test]
async fn authorize_url_is_githubs() {
    let server = MockServer::start().await;
    let provider = GITHUB
        .instantiate(ProviderConfig::new(CLIENT_ID, CLIENT_SECRET), HttpClient::with_defaults().unwrap())
        .unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect();
    let url = provider
        .authorize_url(&AuthorizeRequest::new(&redirect, "state-1").pkce_challenge(&challenge))
        .unwrap();
    assert_eq!(url.origin().ascii_serialization(), "https://github.com");
    assert_eq!(url.path(), "/login/oauth/authorize");
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let expected: Vec<(String, String)> = [
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("scope", "read:user user:email"),
        ("state", "state-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(pairs, expected, "GitHub takes no response_type");
    drop(server);
}

#[tokio::test]
async fn code_exchange_request_and_response() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a",
            "scope": "read:user,user:email",
            "token_type": "bearer"
        })))
        .mount(&server)
        .await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let code = AuthorizationCode::new("3584d83530557fdd1f46af8289938c8ef79f9dc5".into());
    let redirect = redirect();
    let tokens = github(&server)
        .exchange_code(&ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier))
        .await
        .unwrap();
    assert_eq!(tokens.access_token.secret(), "gho_16C7e42F292c6912E7710c838347Ae178B4a");
    assert_eq!(tokens.scopes.as_deref(), Some(&["read:user".to_owned(), "user:email".to_owned()][..]));
    assert!(tokens.refresh_token.is_none() && tokens.expires_at.is_none());

    let request = &requests(&server).await[0];
    assert_eq!(request.headers["accept"], "application/json", "GitHub answers form-encoded without it");
    assert!(request.headers.get("authorization").is_none());
    let expected: BTreeMap<String, String> = [
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("code", code.secret().as_str()),
        ("redirect_uri", redirect.as_str()),
        ("grant_type", "authorization_code"),
        ("code_verifier", verifier.secret().as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(form(request), expected);
}

#[tokio::test]
async fn form_encoded_token_answer_is_accepted() {
    let server = MockServer::start().await;
    Mock::given(path("/login/oauth/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "access_token=gho_abc&scope=user%3Aemail&token_type=bearer",
            "application/x-www-form-urlencoded; charset=utf-8",
        ))
        .mount(&server)
        .await;
    let code = AuthorizationCode::new("c".into());
    let tokens = github(&server).exchange_code(&ExchangeRequest::new(&code, &redirect())).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "gho_abc");
}

#[tokio::test]
async fn errors_returned_with_http_200_are_typed() {
    let server = MockServer::start().await;
    Mock::given(path("/login/oauth/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"
        })))
        .mount(&server)
        .await;
    let code = AuthorizationCode::new("stale".into());
    let err = github(&server).exchange_code(&ExchangeRequest::new(&code, &redirect())).await.unwrap_err();
    match &err {
        Error::OAuth { code, description, status, provider, .. } => {
            assert_eq!((*provider, code.as_str(), *status), ("github", "bad_verification_code", 200));
            assert_eq!(description.as_deref(), Some("The code passed is incorrect or expired."));
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn user_json() -> Value {
    json!({
        "login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==",
        "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
        "name": "The Octocat", "email": "octocat@github.com", "type": "User"
    })
}

async fn profile_server(emails: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json()))
        .mount(&server)
        .await;
    Mock::given(method("GET")).and(path("/user/emails")).respond_with(emails).mount(&server).await;
    server
}

#[tokio::test]
async fn profile_reads_user_and_verified_primary_email() {
    let server = profile_server(ResponseTemplate::new(200).set_body_json(json!([
        {"email": "octocat@github.com", "verified": false, "primary": false, "visibility": null},
        {"email": "octo@private.example", "verified": true, "primary": true, "visibility": "private"}
    ])))
    .await;
    let profile = github(&server).user_profile(&token("gho_t")).await.unwrap();
    assert_eq!(profile.id, "583231");
    assert_eq!(profile.name.as_deref(), Some("The Octocat"));
    assert_eq!(profile.avatar_url.as_deref(), Some("https://avatars.githubusercontent.com/u/583231?v=4"));
    assert_eq!(profile.email.as_deref(), Some("octo@private.example"));
    assert_eq!(profile.email_trust, EmailTrust::Verified);

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    for request in &sent {
        assert_eq!(request.headers["authorization"], "Bearer gho_t");
        assert_eq!(request.headers["accept"], "application/vnd.github+json");
        assert_eq!(request.headers["x-github-api-version"], "2022-11-28");
        assert!(
            request.headers["user-agent"].to_str().unwrap().starts_with("loginkit/"),
            "GitHub requires one"
        );
    }
}

#[tokio::test]
async fn without_email_permission_the_public_email_is_kept_untrusted() {
    let server = profile_server(
        ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found", "documentation_url": "x"})),
    )
    .await;
    let profile = github(&server).user_profile(&token("t")).await.unwrap();
    assert_eq!(profile.email.as_deref(), Some("octocat@github.com"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown);
}

#[tokio::test]
async fn bad_credentials_on_user_are_typed() {
    let server = MockServer::start().await;
    Mock::given(path("/user"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})))
        .mount(&server)
        .await;
    let err = github(&server).user_profile(&token("revoked")).await.unwrap_err();
    assert!(matches!(err, Error::HttpStatus { status: 401, .. }), "{err:?}");
}

#[tokio::test]
async fn refresh_of_expiring_user_tokens() {
    let server = MockServer::start().await;
    Mock::given(path("/login/oauth/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ghu_new", "expires_in": 28800, "refresh_token": "ghr_new",
            "refresh_token_expires_in": 15811200, "scope": "", "token_type": "bearer"
        })))
        .mount(&server)
        .await;
    let tokens = github(&server).refresh(&RefreshToken::new("ghr_old".into())).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "ghu_new");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "ghr_new");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 28800);
    let body = form(&requests(&server).await[0]);
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["refresh_token"], "ghr_old");
    assert_eq!(body["client_secret"], CLIENT_SECRET);
}

#[tokio::test]
async fn revoke_deletes_the_grant_token() {
    let server = MockServer::start().await;
    let route = format!("/applications/{CLIENT_ID}/token");
    Mock::given(method("DELETE"))
        .and(path(route.as_str()))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    github(&server).revoke(TokenRef::Access(&AccessToken::new("gho_x".into()))).await.unwrap();
    let request = &requests(&server).await[0];
    let body: Value = loginkit_core::serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body, json!({"access_token": "gho_x"}));
    assert!(request.headers["authorization"].to_str().unwrap().starts_with("Basic "));

    let refresh = github(&server).revoke(TokenRef::Refresh(&RefreshToken::new("r".into()))).await;
    assert!(matches!(refresh, Err(Error::Unsupported { .. })));
}
