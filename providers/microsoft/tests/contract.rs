//! Microsoft contract tests: what the conformance kit (run with tests/persona.toml by
//! tests/tests/every_provider.rs) does not pin down: the exact authorize URL and default scopes,
//! the token request body and expiry on another tenant, the refreshed ID token and rotated refresh
//! token, Microsoft's error code, Graph's email rules and no avatar, no revocation, and the tenant
//! handling of ID tokens (issuers, allow lists, Graph's object id) and of the configuration.

use std::collections::BTreeMap;

use loginkit_core::serde_json::json;
use loginkit_core::{
    AuthorizeRequest, EmailTrust, Error, ExchangeRequest, HttpClient, IdTokenError, Nonce, OAuthProvider,
    PkceCodeChallenge, ProviderConfig, RefreshToken, TokenRef, TokenSet,
};
use loginkit_provider_microsoft::MICROSOFT;
use loginkit_testkit::TestSigner;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "11112222-bbbb-3333-cccc-4444dddd5555";
const CLIENT_SECRET: &str = "Abc8Q~secret.value_with~chars";
/// Two work tenants and the object id of the user in `user.json`.
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "0b3b8c21-5f0e-4c1e-9d6a-3c5f2e7a9b10";
const OID: &str = "48d31887-5fad-4d73-a9f5-3c356e68a038";

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
    let provider = server.provider(&MICROSOFT, config().param("tenant", "organizations"));
    let body = fixture(DIR, "token.json");
    let body = server
        .sign_id_token(
            &*provider,
            &TestSigner::rs256(),
            &body,
            json!({"sub": "contract-sub", "tid": TENANT, "oid": OID}),
        )
        .await;
    server.respond_json("POST", "/organizations/oauth2/v2.0/token", 200, body).await;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, redirect) = (code("0.AXkA-example-code"), redirect_uri("microsoft"));
    let exchange = ExchangeRequest::new(&code, &redirect).pkce_verifier(&verifier);
    let tokens = provider.exchange_code(&exchange).await.unwrap();
    assert!(tokens.access_token.secret().contains("eyJvaWQiOiI0OGQzMTg4NyJ9"));
    assert_eq!(tokens.refresh_token.unwrap().secret(), "1.AXkAexample-refresh-token-AAA");
    assert!(tokens.id_token.is_some());
    let claims = tokens.id_token_claims.as_ref().expect("the ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3599);

    let sent = server.requests_to("/organizations/oauth2/v2.0/token").await.remove(0);
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
    let provider = server.provider(&MICROSOFT, config());
    let body = fixture(DIR, "refresh.json");
    // OpenID Connect Core §12.2: a refreshed ID token is verified like the login's (no nonce).
    let body = server.sign_id_token(&*provider, &TestSigner::rs256(), &body, json!({"sub": "contract-sub", "tid": "9188040d-6c67-4c5b-b112-36a304b66dad", "oid": "00000000-0000-0000-66f3-3332eca7ea81"})).await;
    server.respond_json("POST", "/common/oauth2/v2.0/token", 200, body).await;
    let tokens = provider.refresh(&RefreshToken::new("1.old".into())).await.unwrap();
    let claims = tokens.id_token_claims.as_ref().expect("the refreshed ID token is verified");
    assert_eq!(claims.sub, "contract-sub");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "1.AXkAexample-rotated-refresh-token-BBB");
    let form = server.requests_to("/common/oauth2/v2.0/token").await.remove(0).form;
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

/// A code exchange through `provider` whose ID token carries `claims` (signed with the key the
/// stand-in publishes at the tenant's key-set URL).
async fn exchange_with(
    server: &ContractServer,
    provider: &dyn OAuthProvider,
    tenant_path: &str,
    claims: loginkit_core::serde_json::Value,
) -> Result<TokenSet, Error> {
    let body =
        server.sign_id_token(provider, &TestSigner::rs256(), &fixture(DIR, "token.json"), claims).await;
    server.respond_json_once("POST", &format!("/{tenant_path}/oauth2/v2.0/token"), 200, body).await;
    let (code, redirect) = (code("0.AXkA-example-code"), redirect_uri("microsoft"));
    provider.exchange_code(&ExchangeRequest::new(&code, &redirect)).await
}

fn id_token_reason(result: Result<TokenSet, Error>) -> IdTokenError {
    match result {
        Err(Error::IdToken { provider: "microsoft", reason }) => reason,
        other => panic!("expected an ID-token error, got {other:?}"),
    }
}

#[tokio::test]
async fn common_accepts_tokens_of_two_tenants_each_under_its_own_issuer() {
    let server = ContractServer::start().await;
    let provider = server.provider(&MICROSOFT, config());
    for tenant in [TENANT, OTHER_TENANT, loginkit_provider_microsoft::CONSUMERS_TENANT_ID] {
        let tokens =
            exchange_with(&server, &*provider, "common", json!({"sub": "s", "tid": tenant, "oid": OID}));
        let claims = tokens.await.unwrap().id_token_claims.unwrap();
        assert_eq!(claims.get("tid").and_then(|t| t.as_str()), Some(tenant));
    }
    // A token whose `iss` names another tenant than its `tid` is refused.
    let forged = json!({
        "sub": "s", "tid": TENANT, "oid": OID,
        "iss": format!("https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"),
    });
    let result = exchange_with(&server, &*provider, "common", forged).await;
    assert_eq!(id_token_reason(result), IdTokenError::WrongIssuer);
    assert_eq!(server.requests_to("/common/discovery/v2.0/keys").await.len(), 1, "keys fetched once");
}

#[tokio::test]
async fn a_tenant_outside_the_allow_list_is_refused() {
    let server = ContractServer::start().await;
    let provider = server.provider(
        &MICROSOFT,
        config().param("allowed_tenants", format!("{TENANT}, {}", TENANT.to_uppercase())),
    );
    let ok =
        exchange_with(&server, &*provider, "common", json!({"sub": "s", "tid": TENANT, "oid": OID})).await;
    assert!(ok.is_ok(), "{ok:?}");
    let outside =
        exchange_with(&server, &*provider, "common", json!({"sub": "s", "tid": OTHER_TENANT, "oid": OID}));
    assert_eq!(id_token_reason(outside.await), IdTokenError::TenantNotAllowed);

    // A tenant id as `tenant` admits that tenant only; `consumers` only personal accounts.
    let single = server.provider(&MICROSOFT, config().param("tenant", OTHER_TENANT));
    let result =
        exchange_with(&server, &*single, OTHER_TENANT, json!({"sub": "s", "tid": TENANT, "oid": OID}));
    assert_eq!(id_token_reason(result.await), IdTokenError::TenantNotAllowed);
    let consumers = server.provider(&MICROSOFT, config().param("tenant", "consumers"));
    let result =
        exchange_with(&server, &*consumers, "consumers", json!({"sub": "s", "tid": TENANT, "oid": OID}));
    assert_eq!(id_token_reason(result.await), IdTokenError::TenantNotAllowed);
}

#[test]
fn tenant_settings_that_contradict_each_other_or_are_not_ids_are_config_errors() {
    let http = || HttpClient::with_defaults().unwrap();
    for config in [
        config().param("allowed_tenants", "contoso.onmicrosoft.com"),
        config().param("tenant", TENANT).param("allowed_tenants", OTHER_TENANT),
    ] {
        match MICROSOFT.instantiate(config, http()) {
            Err(Error::Config { provider: "microsoft", message }) => {
                assert!(message.contains("allowed_tenants"), "{message}")
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn graph_must_describe_the_id_tokens_object_id() {
    let server = ContractServer::start().await;
    let provider = server.provider(&MICROSOFT, config());
    server.respond_json("GET", "/v1.0/me", 200, fixture(DIR, "user.json")).await;
    let other_user = json!({"sub": "s", "tid": TENANT, "oid": "11111111-2222-3333-4444-555555555555"});
    let tokens = exchange_with(&server, &*provider, "common", other_user).await.unwrap();
    let reason = match provider.user_profile(&tokens).await {
        Err(Error::IdToken { reason, .. }) => reason,
        other => panic!("expected a subject mismatch, got {other:?}"),
    };
    assert_eq!(reason, IdTokenError::SubjectMismatch);

    let same_user = json!({"sub": "s", "tid": TENANT, "oid": OID.to_uppercase()});
    let tokens = exchange_with(&server, &*provider, "common", same_user).await.unwrap();
    assert_eq!(provider.user_profile(&tokens).await.unwrap().id, OID);
}
