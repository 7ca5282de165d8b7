//! Native ID-token sign-in through [`Flow::sign_in_with_id_token`]: Google's ID tokens signed by
//! a test key published on loopback where Google's key set would be; every check a login's ID
//! token gets, plus the project's native audiences, and the browser login's account rules.

use std::sync::Arc;

use axum::Json;
use axum::routing::get;
use loginkit::{Provider, ProviderConfig};
use loginkit_flow::{Client, Flow, FlowError, IdTokenSignIn, Keys, Project, SqliteStore, Store};
use loginkit_testkit::id_token::{TestSigner, claims};
use serde_json::{Value, json};

const ISSUER: &str = "https://accounts.google.com";
const WEB_CLIENT: &str = "web-client.apps.googleusercontent.com";
const ANDROID_CLIENT: &str = "android-client.apps.googleusercontent.com";

struct World {
    flow: Flow,
    signer: TestSigner,
}

/// A flow with `google` (its keys served on loopback by `signer`), native sign-in on or off.
async fn world(tag: &str, native: bool) -> World {
    world_of(tag, Provider::Google, "/oauth2/v3/certs", native).await
}

/// A flow with `provider`, whose key set (at `keys_path`) `signer` publishes on loopback.
async fn world_of(tag: &str, provider: Provider, keys_path: &str, native: bool) -> World {
    let signer = TestSigner::rs256();
    let jwks = signer.jwks();
    let app = axum::Router::new().route(keys_path, get(move || async move { Json(jwks) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin: url::Url = format!("http://{}", listener.local_addr().unwrap()).parse().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = loginkit_testkit::scratch_dir(tag);
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&format!("sqlite://{}/native.db", dir.display())).await.unwrap());
    let mut project = Project::builder("app")
        .hostnames(["localhost"])
        .provider(provider, ProviderConfig::new(WEB_CLIENT, "secret").base_url(origin))
        .success_url("http://localhost/ok");
    if native {
        project = project.native_sign_in(provider.as_str(), [ANDROID_CLIENT]);
    }
    let flow = Flow::with_shared_store(
        project.build().unwrap(),
        store,
        Keys::from_encoded(&Keys::generate_master()).unwrap(),
    );
    World { flow, signer }
}

fn token(w: &World, audience: &str, extra: Value) -> String {
    let mut extra = extra;
    let base = json!({ "sub": "g-1", "email": "ada@example.test", "email_verified": true, "name": "Ada" });
    for (k, v) in base.as_object().unwrap() {
        extra.as_object_mut().unwrap().entry(k.clone()).or_insert(v.clone());
    }
    w.signer.sign(&claims(ISSUER, audience, &extra))
}

async fn sign_in(
    w: &World,
    id_token: &str,
    nonce: Option<&str>,
) -> Result<loginkit_flow::NewSession, FlowError> {
    let client = Client::default();
    let request = IdTokenSignIn {
        provider: "google",
        id_token,
        nonce,
        access_token: Some("ya29.native"),
        access_token_lifetime: Some(std::time::Duration::from_secs(3600)),
        name: None,
        current_session: None,
        client: &client,
    };
    w.flow.sign_in_with_id_token(&request).await
}

fn refused(result: Result<loginkit_flow::NewSession, FlowError>) -> String {
    match result {
        Err(FlowError::IdTokenRefused { reason, .. }) => reason,
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_id_token_signs_in_and_lands_on_the_same_user_again() {
    let w = world("native-good", true).await;
    let first = sign_in(&w, &token(&w, WEB_CLIENT, json!({ "nonce": "n-1" })), Some("n-1")).await.unwrap();
    let user = w.flow.user(&first.session.user_id).await.unwrap().unwrap();
    assert_eq!(
        (user.email.as_deref(), user.email_verified, user.name.as_str()),
        (Some("ada@example.test"), true, "Ada")
    );
    // The app's Android client id is one of the project's native audiences; Google sets `azp`.
    let android =
        token(&w, WEB_CLIENT, json!({ "azp": ANDROID_CLIENT, "aud": [WEB_CLIENT, ANDROID_CLIENT] }));
    let again = sign_in(&w, &android, None).await.unwrap();
    assert_eq!(again.session.user_id, first.session.user_id, "the same Google account, the same user");
    let identity = w.flow.identities(&user.id).await.unwrap().remove(0);
    assert_eq!(
        w.flow.identity_id_token(&identity).as_deref(),
        Some(android.as_str()),
        "the last ID token is kept"
    );
    assert_eq!(w.flow.identity_tokens(&identity).access_token.as_deref(), Some("ya29.native"));
    assert_eq!(identity.claims().unwrap()["azp"], ANDROID_CLIENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_of_a_logins_id_token_applies() {
    let w = world("native-checks", true).await;
    assert!(
        refused(sign_in(&w, &token(&w, "someone-else", json!({})), None).await)
            .contains("not addressed to this client")
    );
    let expired = token(&w, WEB_CLIENT, json!({ "exp": 1_000_000, "iat": 999_000 }));
    assert!(refused(sign_in(&w, &expired, None).await).contains("has expired"));
    let nonce = token(&w, WEB_CLIENT, json!({ "nonce": "n-1" }));
    assert!(refused(sign_in(&w, &nonce, Some("n-2")).await).contains("nonce does not match"));
    let foreign = TestSigner::es256().sign(&claims(ISSUER, WEB_CLIENT, &json!({ "sub": "g-1" })));
    assert!(refused(sign_in(&w, &foreign, None).await).contains("no key"), "a key Google never published");
    let wrong_issuer = w.signer.sign(&claims("https://evil.test", WEB_CLIENT, &json!({ "sub": "g-1" })));
    assert!(refused(sign_in(&w, &wrong_issuer, None).await).contains("issuer"));
    assert!(!refused(sign_in(&w, "not.a.jwt", None).await).is_empty());
    assert!(matches!(sign_in(&w, &"a".repeat(20_000), None).await, Err(FlowError::IdTokenRefused { .. })));
    // Another client of the same app, not one of the project's audiences.
    let other_app = token(&w, WEB_CLIENT, json!({ "azp": "ios-other", "aud": [WEB_CLIENT, "ios-other"] }));
    assert!(refused(sign_in(&w, &other_app, None).await).contains("authorized party"));
    assert!(w.flow.store().user("nobody").await.unwrap().is_none());

    let off = world("native-off", false).await;
    let good = token(&off, WEB_CLIENT, json!({}));
    assert!(matches!(sign_in(&off, &good, None).await, Err(FlowError::NativeSignInDisabled(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apples_tokens_carry_the_sha256_of_the_nonce_and_need_one() {
    let w = world_of("native-apple", Provider::Apple, "/auth/keys", true).await;
    let raw = "a-raw-nonce";
    // Apple puts the SHA-256 (hex) of the app's nonce in the token.
    let digest = apple_nonce(raw);
    let apple = |nonce: &str| {
        w.signer.sign(&claims(
            "https://appleid.apple.com",
            WEB_CLIENT,
            &json!({ "sub": "a-1", "email": "x@privaterelay.appleid.com", "email_verified": "true", "nonce": nonce }),
        ))
    };
    let client = Client::default();
    let request = |id_token: &str, nonce: Option<&'static str>| {
        let id_token = id_token.to_owned();
        let client = &client;
        let flow = w.flow.clone();
        async move {
            flow.sign_in_with_id_token(&IdTokenSignIn {
                provider: "apple",
                id_token: &id_token,
                nonce,
                access_token: None,
                access_token_lifetime: None,
                name: Some("Ada Lovelace"),
                current_session: None,
                client,
            })
            .await
        }
    };
    let signed_in = request(&apple(&digest), Some("a-raw-nonce")).await.unwrap();
    let user = w.flow.user(&signed_in.session.user_id).await.unwrap().unwrap();
    assert_eq!(user.name, "Ada Lovelace", "the name the app passed, Apple's token has none");
    assert!(
        refused(request(&apple(raw), Some("a-raw-nonce")).await).contains("nonce does not match"),
        "the raw nonce in the token is not Apple's"
    );
    assert!(refused(request(&apple(&digest), None).await).contains("no nonce"), "Apple requires one");
}

/// Lowercase hex SHA-256, as Apple's `nonce` claim.
fn apple_nonce(raw: &str) -> String {
    loginkit::openid::sha256_nonce(raw).secret().to_owned()
}
