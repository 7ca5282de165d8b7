//! Google contract tests: the exact requests loginkit sends and the profile it reads, against a
//! local server answering with the shapes Google documents.

use std::collections::BTreeMap;

use loginkit_core::serde_json::json;
use loginkit_core::url::Url;
use loginkit_core::{
    AccessToken, AuthorizationCode, AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, Nonce,
    OAuthProvider, PkceCodeChallenge, ProviderConfig, RefreshToken, TokenRef, TokenSet,
};
use loginkit_provider_google::GOOGLE;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CLIENT_ID: &str = "1234-abcd.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-secretvalue";

fn google(server: &MockServer, config: ProviderConfig) -> Box<dyn OAuthProvider> {
    GOOGLE
        .instantiate(config.base_url(server.uri().parse().unwrap()), HttpClient::with_defaults().unwrap())
        .unwrap()
}

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

fn redirect() -> Url {
    "https://app.example/v1/account/sessions/oauth2/callback/google/p1".parse().unwrap()
}

fn form(request: &Request) -> BTreeMap<String, String> {
    loginkit_core::url::form_urlencoded::parse(&request.body).into_owned().collect()
}

#[test]
fn authorize_url_asks_for_offline_access_and_consent() {
    let provider = GOOGLE.instantiate(config(), HttpClient::with_defaults().unwrap()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-1".into());
    let scopes = vec!["https://www.googleapis.com/auth/drive.file".to_owned()];
    let redirect = redirect();
    let url = provider
        .authorize_url(
            &AuthorizeRequest::new(&redirect, "s").scopes(&scopes).pkce_challenge(&challenge).nonce(&nonce),
        )
        .unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://accounts.google.com/o/oauth2/v2/auth"));
    let pairs: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs["response_type"], "code");
    assert_eq!(pairs["scope"], "openid email profile https://www.googleapis.com/auth/drive.file");
    assert_eq!(pairs["access_type"], "offline");
    assert_eq!(pairs["prompt"], "consent");
    assert_eq!(pairs["nonce"], "n-1");
    assert_eq!(pairs["code_challenge_method"], "S256");

    let chooser = GOOGLE
        .instantiate(config().param("prompt", "select_account"), HttpClient::with_defaults().unwrap())
        .unwrap()
        .authorize_url(&AuthorizeRequest::new(&redirect, "s"))
        .unwrap();
    assert!(chooser.query_pairs().any(|(k, v)| k == "prompt" && v == "select_account"));
}

#[tokio::test]
async fn code_exchange_and_id_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.a0AfH6SM", "expires_in": 3599, "refresh_token": "1//0gLrT",
            "scope": "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
            "token_type": "Bearer", "id_token": "eyJhbGciOiJSUzI1NiJ9.e30.sig"
        })))
        .mount(&server)
        .await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let code = AuthorizationCode::new("4/0AX4XfWh".into());
    let redirect = redirect();
    let tokens = google(&server, config())
        .exchange_code(&ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier))
        .await
        .unwrap();
    assert_eq!(tokens.refresh_token.unwrap().secret(), "1//0gLrT");
    assert_eq!(tokens.id_token.unwrap().secret(), "eyJhbGciOiJSUzI1NiJ9.e30.sig");
    assert_eq!(tokens.scopes.unwrap().len(), 3);
    let request = &server.received_requests().await.unwrap()[0];
    let expected: BTreeMap<String, String> = [
        ("grant_type", "authorization_code"),
        ("code", "4/0AX4XfWh"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(form(request), expected);
    assert_eq!(request.url.query(), None, "no secret in the URL");
}

#[tokio::test]
async fn token_error_keeps_googles_code() {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_grant", "error_description": "Bad Request"})),
        )
        .mount(&server)
        .await;
    let err = google(&server, config()).refresh(&RefreshToken::new("1//expired".into())).await.unwrap_err();
    assert!(matches!(&err, Error::OAuth { code, status: 400, .. } if code == "invalid_grant"), "{err:?}");
}

#[tokio::test]
async fn userinfo_profile() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/userinfo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sub": "110169484474386276334", "name": "Ada Lovelace", "given_name": "Ada",
            "family_name": "Lovelace", "picture": "https://lh3.googleusercontent.com/a/x",
            "email": "ada@example.com", "email_verified": true, "hd": "example.com"
        })))
        .mount(&server)
        .await;
    let tokens = TokenSet::new(AccessToken::new("ya29.x".into()));
    let profile = google(&server, config()).user_profile(&tokens).await.unwrap();
    assert_eq!(profile.id, "110169484474386276334");
    assert_eq!(profile.email_trust, EmailTrust::Verified);
    assert_eq!(profile.avatar_url.as_deref(), Some("https://lh3.googleusercontent.com/a/x"));
    assert_eq!(profile.raw["hd"], "example.com");
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(request.headers["authorization"], "Bearer ya29.x");
}

#[tokio::test]
async fn revoke_uses_rfc7009() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    google(&server, config()).revoke(TokenRef::Refresh(&RefreshToken::new("1//r".into()))).await.unwrap();
    let body = form(&server.received_requests().await.unwrap()[0]);
    assert_eq!(body["token"], "1//r");
    assert_eq!(body["token_type_hint"], "refresh_token");
}
