//! Contract tests of the standard provider: the exact requests each dialect option produces,
//! configuration validation, and profile mapping, over real HTTP against a local mock server.

use std::collections::BTreeMap;

use loginkit_core::descriptor::{
    BodyEncoding, Capabilities, ClientAuth, ConfigKey, EmailTrustRule, HttpMethod, OAuth2Spec,
    ProviderDescriptor, TokenPlacement, UserInfoSpec,
};
use loginkit_core::url::Url;
use loginkit_core::{
    AuthorizationCode, AuthorizeRequest, EmailTrust, Endpoint, Error, ExchangeRequest, HttpClient, Nonce,
    PkceCodeChallenge, ProviderConfig, RefreshToken, StandardProvider, TokenRef, TokenSet,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const USERINFO: UserInfoSpec = UserInfoSpec::get("https://idp.example/userinfo", "/sub")
    .email(&["/email"])
    .email_trust(EmailTrustRule::Flag("/email_verified"))
    .name(&["/name", "/preferred_username"])
    .avatar(&["/picture"]);

const SPEC: OAuth2Spec = OAuth2Spec::new("https://idp.example/authorize", "https://idp.example/token")
    .revoke_url("https://idp.example/revoke")
    .userinfo(USERINFO);

const CAPS: Capabilities = Capabilities::NONE.pkce(true).oidc(true).refresh(true).revoke(true);

static BASIC: ProviderDescriptor =
    ProviderDescriptor::new("basic", "Basic", SPEC).default_scopes(&["openid", "email"]).capabilities(CAPS);
static BODY: ProviderDescriptor =
    ProviderDescriptor::new("body", "Body", SPEC.client_auth(ClientAuth::Body)).capabilities(CAPS);
static QUERY_GET: ProviderDescriptor = ProviderDescriptor::new(
    "query-get",
    "Query GET",
    SPEC.client_auth(ClientAuth::Query).token_method(HttpMethod::Get),
)
.capabilities(CAPS);
static JSON: ProviderDescriptor = ProviderDescriptor::new(
    "json",
    "JSON",
    SPEC.token_body(BodyEncoding::Json).token_headers(&[("Api-Version", "2025-09-03")]),
)
.capabilities(CAPS);
static PUBLIC: ProviderDescriptor =
    ProviderDescriptor::new("public", "Public", SPEC.client_auth(ClientAuth::None)).capabilities(CAPS);
static JWT: ProviderDescriptor =
    ProviderDescriptor::new("jwt", "JWT", SPEC.client_auth(ClientAuth::PrivateKeyJwt)).capabilities(CAPS);
static PLAIN: ProviderDescriptor = ProviderDescriptor::new(
    "plain",
    "Plain",
    OAuth2Spec::new("https://idp.example/authorize", "https://idp.example/token")
        .scope_param("user_scope")
        .scope_delimiter(",")
        .without_response_type()
        .authorize_params(&[("owner", "user")])
        .config_params(&[("prompt", "prompt")])
        .userinfo(
            UserInfoSpec::get("https://idp.example/me", "/id")
                .token(TokenPlacement::Query("access_token"))
                .email(&["/mail"])
                .email_trust(EmailTrustRule::Presence("/confirmed_at")),
        ),
)
.default_scopes(&["identify", "email"])
.config_keys(&[ConfigKey::optional("prompt", "prompt values").default_value("consent")]);
static TENANT: ProviderDescriptor = ProviderDescriptor::new(
    "tenant",
    "Tenant",
    OAuth2Spec::new("https://login.example/{tenant}/authorize", "https://login.example/{tenant}/token"),
)
.config_keys(&[ConfigKey::required("tenant", "directory id")]);

fn http() -> HttpClient {
    HttpClient::with_defaults().unwrap()
}

fn redirect() -> Url {
    Url::parse("https://app.example/v1/account/sessions/oauth2/callback/basic/p1").unwrap()
}

fn query(url: &Url) -> Vec<(String, String)> {
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn form(request: &Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&request.body).into_owned().collect()
}

fn provider_at(
    descriptor: &'static ProviderDescriptor,
    server: &MockServer,
    config: ProviderConfig,
) -> StandardProvider {
    StandardProvider::new(descriptor, config.base_url(server.uri().parse().unwrap()), http()).unwrap()
}

async fn token_server(body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    server
}

fn token_ok() -> serde_json::Value {
    serde_json::json!({"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-1"})
}

async fn only_request(server: &MockServer) -> Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "exactly one request expected");
    requests.remove(0)
}

#[test]
fn authorize_url_carries_every_standard_parameter() {
    let provider = StandardProvider::new(&BASIC, ProviderConfig::new("client 1", "s3cret"), http()).unwrap();
    let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new("n-123".into());
    let scopes = vec!["profile".to_owned(), "email".to_owned()];
    let extra = vec![("login_hint".to_owned(), "a@b.example".to_owned())];
    let redirect = redirect();
    let url = provider
        .authorize_url(
            &AuthorizeRequest::new(&redirect, "st-1")
                .scopes(&scopes)
                .pkce_challenge(&challenge)
                .nonce(&nonce)
                .extra_params(&extra),
        )
        .unwrap();
    assert_eq!(url.path(), "/authorize");
    let expected: Vec<(String, String)> = [
        ("client_id", "client 1"),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid email profile"),
        ("state", "st-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "n-123"),
        ("login_hint", "a@b.example"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(query(&url), expected);
}

#[test]
fn provider_dialect_options_shape_the_authorize_url() {
    let provider = StandardProvider::new(&PLAIN, ProviderConfig::new("c", "s"), http()).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new_random();
    let redirect = redirect();
    let url = provider
        .authorize_url(&AuthorizeRequest::new(&redirect, "s").pkce_challenge(&challenge).nonce(&nonce))
        .unwrap();
    let pairs = query(&url);
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["client_id", "redirect_uri", "user_scope", "state", "owner", "prompt"]);
    assert!(pairs.contains(&("user_scope".into(), "identify,email".into())));
    assert!(pairs.contains(&("prompt".into(), "consent".into())), "config default applied");
}

#[test]
fn reserved_extra_parameters_are_refused() {
    let provider = StandardProvider::new(&BASIC, ProviderConfig::new("c", "s"), http()).unwrap();
    let extra = vec![("redirect_uri".to_owned(), "https://evil.example/".to_owned())];
    let redirect = redirect();
    let err =
        provider.authorize_url(&AuthorizeRequest::new(&redirect, "s").extra_params(&extra)).unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
}

#[test]
fn configuration_is_validated_with_clear_errors() {
    let build =
        |d: &'static ProviderDescriptor, c: ProviderConfig| StandardProvider::new(d, c, http()).map(|_| ());
    let message = |r: Result<(), Error>| r.unwrap_err().to_string();

    assert!(message(build(&BASIC, ProviderConfig::public("c"))).contains("client secret is required"));
    assert!(build(&PUBLIC, ProviderConfig::public("c")).is_ok());
    assert!(message(build(&BASIC, ProviderConfig::new("", "s"))).contains("client id is empty"));
    let unknown = message(build(&PLAIN, ProviderConfig::new("c", "s").param("promt", "x")));
    assert!(unknown.contains("unknown key `promt`") && unknown.contains("known keys: prompt"), "{unknown}");
    assert!(message(build(&TENANT, ProviderConfig::new("c", "s"))).contains("missing required key `tenant`"));
    let injected = message(build(&TENANT, ProviderConfig::new("c", "s").param("tenant", "evil.example/x?")));
    assert!(injected.contains("may not contain"), "{injected}");
    let plain_http = ProviderConfig::new("c", "s").base_url("http://idp.example.com/".parse().unwrap());
    assert!(message(build(&BASIC, plain_http)).contains("must use https"));
    assert!(message(build(&JWT, ProviderConfig::public("c"))).contains("private_key"));

    let tenant =
        StandardProvider::new(&TENANT, ProviderConfig::new("c", "s").param("tenant", "contoso"), http())
            .unwrap();
    assert_eq!(tenant.endpoint_url(Endpoint::Token).unwrap().as_str(), "https://login.example/contoso/token");
}

#[test]
fn base_url_and_endpoint_overrides() {
    let config = ProviderConfig::new("c", "s")
        .base_url("http://127.0.0.1:9000/prefix/".parse().unwrap())
        .endpoint(Endpoint::UserInfo, "https://other.example/me".parse().unwrap());
    let provider = StandardProvider::new(&BASIC, config, http()).unwrap();
    assert_eq!(
        provider.endpoint_url(Endpoint::Token).unwrap().as_str(),
        "http://127.0.0.1:9000/prefix/token"
    );
    assert_eq!(
        provider.endpoint_url(Endpoint::UserInfo).unwrap().as_str(),
        "http://127.0.0.1:9000/prefix/me"
    );

    let only_override = ProviderConfig::new("c", "s")
        .endpoint(Endpoint::UserInfo, "https://other.example/me".parse().unwrap());
    let provider = StandardProvider::new(&BASIC, only_override, http()).unwrap();
    assert_eq!(provider.endpoint_url(Endpoint::UserInfo).unwrap().as_str(), "https://other.example/me");
}

#[test]
fn blank_values_fall_back_to_the_default() {
    let config = ProviderConfig::new("c", "s").param("prompt", " ");
    let provider = StandardProvider::new(&PLAIN, config, http()).unwrap();
    assert_eq!(provider.config().get_param("prompt"), Some("consent"));
}

#[test]
fn debug_output_holds_no_secret() {
    let config = ProviderConfig::new("c", "client-secret-value").param("prompt", "private-param-value");
    let provider = StandardProvider::new(&PLAIN, config, http()).unwrap();
    let debug = format!("{provider:?}");
    assert!(!debug.contains("client-secret-value") && !debug.contains("private-param-value"), "{debug}");
}

#[tokio::test]
async fn exchange_with_basic_auth_sends_exactly_the_rfc_request() {
    let server = token_server(token_ok()).await;
    let provider = provider_at(&BASIC, &server, ProviderConfig::new("my client", "p@ss:w/rd"));
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let code = AuthorizationCode::new("code-1".into());
    let redirect = redirect();
    let tokens = provider
        .exchange_code(&ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier))
        .await
        .unwrap();
    assert_eq!(tokens.access_token.secret(), "at-1");
    assert_eq!(tokens.refresh_token.as_ref().unwrap().secret(), "rt-1");

    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/token");
    assert_eq!(request.url.query(), None);
    // RFC 6749 §2.3.1: both parts form-urlencoded before base64.
    assert_eq!(request.headers["authorization"], "Basic bXkrY2xpZW50OnAlNDBzcyUzQXclMkZyZA==");
    assert_eq!(request.headers["accept"], "application/json");
    assert!(
        request.headers["content-type"].to_str().unwrap().starts_with("application/x-www-form-urlencoded")
    );
    let body = form(&request);
    let expected: BTreeMap<String, String> = [
        ("grant_type", "authorization_code"),
        ("code", "code-1"),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.secret().as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(body, expected);
}

#[tokio::test]
async fn exchange_with_body_auth() {
    let server = token_server(token_ok()).await;
    let provider = provider_at(&BODY, &server, ProviderConfig::new("cid", "csecret"));
    let code = AuthorizationCode::new("c".into());
    provider.exchange_code(&ExchangeRequest::new(&code, &redirect())).await.unwrap();
    let request = only_request(&server).await;
    assert!(request.headers.get("authorization").is_none());
    let body = form(&request);
    assert_eq!(body["client_id"], "cid");
    assert_eq!(body["client_secret"], "csecret");
    assert!(!body.contains_key("code_verifier"), "no verifier was given");
}

#[tokio::test]
async fn exchange_with_a_json_body_and_api_headers() {
    let server = token_server(token_ok()).await;
    let provider = provider_at(&JSON, &server, ProviderConfig::new("cid", "csecret"));
    let code = AuthorizationCode::new("c".into());
    provider.exchange_code(&ExchangeRequest::new(&code, &redirect())).await.unwrap();
    let request = only_request(&server).await;
    assert!(request.headers["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(request.headers["api-version"], "2025-09-03");
    assert!(request.headers["authorization"].to_str().unwrap().starts_with("Basic "));
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    let expected = serde_json::json!({
        "grant_type": "authorization_code", "code": "c", "redirect_uri": redirect().as_str()
    });
    assert_eq!(body, expected);
}

#[tokio::test]
async fn a_client_secret_source_is_asked_at_every_call() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let server = token_server(token_ok()).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let source = loginkit_core::ClientSecretSource::new(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        Ok(loginkit_core::ClientSecret::new(format!("signed-{n}")))
    });
    let config = ProviderConfig::new("cid", "static").base_url(server.uri().parse().unwrap());
    let provider = StandardProvider::new(&BODY, config, http()).unwrap().with_client_secret_source(source);
    let code = AuthorizationCode::new("c".into());
    provider.exchange_code(&ExchangeRequest::new(&code, &redirect())).await.unwrap();
    provider.refresh(&RefreshToken::new("r".into())).await.unwrap();
    let secrets: Vec<String> =
        server.received_requests().await.unwrap().iter().map(|r| form(r)["client_secret"].clone()).collect();
    assert_eq!(secrets, ["signed-0", "signed-1"]);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn exchange_with_query_auth_over_get() {
    let server = token_server(token_ok()).await;
    let provider = provider_at(&QUERY_GET, &server, ProviderConfig::new("cid", "csecret"));
    let code = AuthorizationCode::new("c".into());
    provider.exchange_code(&ExchangeRequest::new(&code, &redirect())).await.unwrap();
    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "GET");
    assert!(request.body.is_empty());
    let q: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "cid");
    assert_eq!(q["client_secret"], "csecret");
    assert_eq!(q["code"], "c");
    assert_eq!(q["grant_type"], "authorization_code");
}

#[tokio::test]
async fn exchange_as_public_client_sends_no_secret() {
    let server = token_server(token_ok()).await;
    let provider = provider_at(&PUBLIC, &server, ProviderConfig::public("cid"));
    let code = AuthorizationCode::new("c".into());
    provider.exchange_code(&ExchangeRequest::new(&code, &redirect())).await.unwrap();
    let request = only_request(&server).await;
    let body = form(&request);
    assert_eq!(body["client_id"], "cid");
    assert!(!body.contains_key("client_secret") && request.headers.get("authorization").is_none());
}

#[tokio::test]
async fn exchange_with_private_key_jwt_signs_a_verifiable_assertion() {
    let server = token_server(token_ok()).await;
    let pem = include_str!("fixtures/test-only-p256.pem");
    let config = ProviderConfig::public("cid")
        .param("private_key", pem)
        .param("private_key_alg", "ES256")
        .param("private_key_id", "k1");
    let provider = provider_at(&JWT, &server, config);
    let code = AuthorizationCode::new("c".into());
    provider.exchange_code(&ExchangeRequest::new(&code, &redirect())).await.unwrap();
    let body = form(&only_request(&server).await);
    assert_eq!(body["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    let key =
        jsonwebtoken::DecodingKey::from_ec_pem(include_bytes!("fixtures/test-only-p256.pub.pem")).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[format!("{}/token", server.uri())]);
    validation.set_issuer(&["cid"]);
    let token =
        jsonwebtoken::decode::<serde_json::Value>(&body["client_assertion"], &key, &validation).unwrap();
    assert_eq!(token.header.kid.as_deref(), Some("k1"));
    assert_eq!(token.claims["sub"], "cid");
    assert!(token.claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
}

#[tokio::test]
async fn refresh_keeps_the_old_refresh_token_when_none_is_returned() {
    let server = token_server(serde_json::json!({"access_token": "at-2", "expires_in": "120"})).await;
    let provider = provider_at(&BASIC, &server, ProviderConfig::new("c", "s"));
    let tokens = provider.refresh(&RefreshToken::new("rt-old".into())).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "at-2");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "rt-old");
    let body = form(&only_request(&server).await);
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["refresh_token"], "rt-old");
}

#[tokio::test]
async fn refresh_and_revoke_need_their_capability() {
    let provider = StandardProvider::new(&PLAIN, ProviderConfig::new("c", "s"), http()).unwrap();
    let rt = RefreshToken::new("x".into());
    assert!(matches!(provider.refresh(&rt).await, Err(Error::Unsupported { capability: "refresh", .. })));
    assert!(matches!(provider.revoke(TokenRef::Refresh(&rt)).await, Err(Error::Unsupported { .. })));
}

#[tokio::test]
async fn revoke_sends_token_and_hint_with_client_auth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let provider = provider_at(&BODY, &server, ProviderConfig::new("c", "s"));
    provider.revoke(TokenRef::Refresh(&RefreshToken::new("rt-9".into()))).await.unwrap();
    let body = form(&only_request(&server).await);
    assert_eq!(body["token"], "rt-9");
    assert_eq!(body["token_type_hint"], "refresh_token");
    assert_eq!(body["client_secret"], "s");
}

#[tokio::test]
async fn token_errors_keep_the_provider_code() {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            serde_json::json!({"error": "invalid_grant", "error_description": "code expired"}),
        ))
        .mount(&server)
        .await;
    let provider = provider_at(&BASIC, &server, ProviderConfig::new("c", "s"));
    let code = AuthorizationCode::new("c".into());
    let err = provider.exchange_code(&ExchangeRequest::new(&code, &redirect())).await.unwrap_err();
    assert_eq!(err.provider_code(), Some("invalid_grant"));
    assert_eq!(err.provider_status(), Some(400));
    assert!(err.to_string().contains("code expired"));
}

async fn userinfo(
    descriptor: &'static ProviderDescriptor,
    at: &str,
    body: ResponseTemplate,
) -> (Result<loginkit_core::UserProfile, Error>, Request) {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(body).mount(&server).await;
    let provider = provider_at(descriptor, &server, ProviderConfig::new("c", "s"));
    let tokens = TokenSet::new(loginkit_core::AccessToken::new(at.into()));
    let result = provider.user_profile(&tokens).await;
    (result, only_request(&server).await)
}

#[tokio::test]
async fn userinfo_maps_fields_with_a_bearer_token() {
    let body = serde_json::json!({"sub": 42, "email": "a@b.example", "email_verified": "true", "preferred_username": "ab", "picture": "https://img/1"});
    let (profile, request) = userinfo(&BASIC, "at-7", ResponseTemplate::new(200).set_body_json(body)).await;
    let profile = profile.unwrap();
    assert_eq!(request.headers["authorization"], "Bearer at-7");
    assert_eq!(request.url.path(), "/userinfo");
    assert_eq!(profile.id, "42");
    assert_eq!(profile.email.as_deref(), Some("a@b.example"));
    assert_eq!(profile.email_trust, EmailTrust::Verified);
    assert_eq!(profile.name.as_deref(), Some("ab"));
    assert_eq!(profile.avatar_url.as_deref(), Some("https://img/1"));
}

#[tokio::test]
async fn userinfo_email_trust_is_never_guessed() {
    for (verified, expected) in [
        (serde_json::json!(false), EmailTrust::Unverified),
        (serde_json::json!(0), EmailTrust::Unverified),
        (serde_json::json!(1), EmailTrust::Verified),
        (serde_json::json!("yes"), EmailTrust::Unknown),
        (serde_json::Value::Null, EmailTrust::Unknown),
    ] {
        let body = serde_json::json!({"sub": "1", "email": "a@b.example", "email_verified": verified});
        let (profile, _) = userinfo(&BASIC, "t", ResponseTemplate::new(200).set_body_json(body)).await;
        assert_eq!(profile.unwrap().email_trust, expected, "{verified}");
    }
    let body = serde_json::json!({"sub": "1", "email_verified": true});
    let (profile, _) = userinfo(&BASIC, "t", ResponseTemplate::new(200).set_body_json(body)).await;
    assert_eq!(profile.unwrap().email_trust, EmailTrust::Unknown, "no email, no trust");
}

#[tokio::test]
async fn userinfo_with_query_token_and_presence_rule() {
    let body = serde_json::json!({"id": "u1", "mail": "m@b.example", "confirmed_at": null});
    let (profile, request) = userinfo(&PLAIN, "tok en", ResponseTemplate::new(200).set_body_json(body)).await;
    assert_eq!(profile.unwrap().email_trust, EmailTrust::Unverified);
    assert!(request.headers.get("authorization").is_none());
    assert_eq!(request.url.query(), Some("access_token=tok+en"));
    let body = serde_json::json!({"id": "u1", "mail": "m@b.example", "confirmed_at": "2024-01-01T00:00:00Z"});
    let (profile, _) = userinfo(&PLAIN, "t", ResponseTemplate::new(200).set_body_json(body)).await;
    assert_eq!(profile.unwrap().email_trust, EmailTrust::Verified);
}

#[tokio::test]
async fn userinfo_failures_are_typed() {
    let (result, _) =
        userinfo(&BASIC, "t", ResponseTemplate::new(200).set_body_json(serde_json::json!({"email": "x"})))
            .await;
    assert!(matches!(result, Err(Error::MissingField { field: "id", .. })));
    let unauthorized =
        ResponseTemplate::new(401).set_body_json(serde_json::json!({"error": "invalid_token"}));
    let (result, _) = userinfo(&BASIC, "t", unauthorized).await;
    assert_eq!(result.unwrap_err().provider_code(), Some("invalid_token"));
    let (result, _) = userinfo(&BASIC, "t", ResponseTemplate::new(200).set_body_string("<html>")).await;
    assert!(matches!(result, Err(Error::Malformed { .. })));
    let refused =
        ResponseTemplate::new(200).set_body_json(serde_json::json!({"ok": false, "error": "invalid_auth"}));
    let (result, _) = userinfo(&BASIC, "t", refused).await;
    assert!(
        matches!(&result, Err(Error::OAuth { status: 200, code, .. }) if code == "invalid_auth"),
        "{result:?}"
    );
    let (result, _) = userinfo(&BASIC, "t", ResponseTemplate::new(503)).await;
    assert!(matches!(result, Err(Error::HttpStatus { status: 503, .. })));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn authorize_url_round_trips_any_input(
            state in any::<String>(),
            scopes in proptest::collection::vec("[^ ]{1,40}", 0..8),
            host in "[a-z]{1,20}\\.example",
            path_segment in "[a-zA-Z0-9%&=?#/ ._-]{0,40}",
            client_id in any::<String>().prop_filter("non-empty", |s| !s.trim().is_empty()),
        ) {
            let provider = StandardProvider::new(&BASIC, ProviderConfig::new(client_id.clone(), "s"), http()).unwrap();
            let mut redirect = Url::parse(&format!("https://{host}/cb")).unwrap();
            redirect.path_segments_mut().unwrap().push(&path_segment);
            let url = provider.authorize_url(&AuthorizeRequest::new(&redirect, &state).scopes(&scopes)).unwrap();
            let pairs: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
            prop_assert_eq!(&pairs["state"], &state);
            prop_assert_eq!(&pairs["client_id"], &client_id);
            prop_assert_eq!(Url::parse(&pairs["redirect_uri"]).unwrap(), redirect);
            let sent: Vec<&str> = pairs["scope"].split(' ').collect();
            prop_assert_eq!(&sent[..2], &["openid", "email"]);
            for scope in &scopes {
                prop_assert!(sent.contains(&scope.as_str()));
            }
            prop_assert_eq!(url.host_str(), Some("idp.example"));
        }
    }
}
