//! Micro benchmarks of the pieces of a login's hot path. Run with
//! `cargo bench -p loginkit-bench --bench micro`; results are in docs/benchmarks.md.

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use loginkit::openid::{Algorithm, IdTokenVerifier, IssuerRule, JwksCache};
use loginkit::{
    AuthorizeRequest, HttpClient, HttpConfig, IdToken, Nonce, Operation, PkceCodeChallenge, ProviderConfig,
    Registry, parse_token_response,
};
use loginkit_flow::{AllowList, Keys};
use loginkit_testkit::{TestSigner, id_token};
use serde_json::json;
use url::Url;

fn authorize_url(c: &mut Criterion) {
    let registry = Registry::global().expect("the registry builds");
    let http = HttpClient::new(&HttpConfig::default()).expect("client");
    let redirect =
        Url::parse("https://auth.example.com/v1/account/sessions/oauth2/callback/google/app").unwrap();
    let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new_random();
    let state = "x".repeat(300);
    let mut group = c.benchmark_group("authorize_url");
    for id in ["github", "google"] {
        let provider =
            registry.instantiate(id, ProviderConfig::new("client-id", "secret"), http.clone()).unwrap();
        group.bench_function(id, |b| {
            b.iter(|| {
                let request =
                    AuthorizeRequest::new(&redirect, &state).pkce_challenge(&challenge).nonce(&nonce);
                black_box(provider.authorize_url(black_box(&request)).unwrap())
            })
        });
    }
    group.finish();
}

fn state(c: &mut Criterion) {
    let keys = Keys::from_encoded(&Keys::generate_master()).unwrap();
    let sealed = loginkit_flow::benching::seal_state(&keys);
    let mut group = c.benchmark_group("state");
    group.bench_function("seal", |b| {
        b.iter(|| black_box(loginkit_flow::benching::seal_state(black_box(&keys))))
    });
    group.bench_function("open", |b| {
        b.iter(|| assert!(loginkit_flow::benching::open_state(black_box(&keys), black_box(&sealed))))
    });
    group.finish();
}

fn token_response(c: &mut Criterion) {
    let body = serde_json::to_vec(&json!({
        "access_token": "ya29.a0AfB_byC".repeat(12),
        "expires_in": 3599,
        "refresh_token": "1//0gLx".repeat(14),
        "scope": "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
        "token_type": "Bearer",
        "id_token": "eyJhbGciOiJSUzI1NiJ9.".repeat(40),
    }))
    .unwrap();
    c.bench_function("token_response/parse", |b| {
        b.iter(|| {
            black_box(
                parse_token_response(
                    "google",
                    Operation::ExchangeCode,
                    200,
                    Some("application/json"),
                    black_box(&body),
                    None,
                )
                .unwrap(),
            )
        })
    });
}

fn id_token_verification(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut group = c.benchmark_group("id_token_verify_warm_jwks");
    for (name, signer, alg) in
        [("RS256", TestSigner::rs256(), Algorithm::RS256), ("ES256", TestSigner::es256(), Algorithm::ES256)]
    {
        // A key set served over loopback, fetched once by the cache before measuring.
        let jwks = signer.jwks();
        let listener = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0))).unwrap();
        let jwks_uri = Url::parse(&format!("http://{}/jwks", listener.local_addr().unwrap())).unwrap();
        let app =
            axum::Router::new().route("/jwks", axum::routing::get(move || async move { axum::Json(jwks) }));
        runtime.spawn(async move { axum::serve(listener, app).await });

        let issuer = "https://id.example.com";
        let nonce = Nonce::new_random();
        let claims =
            id_token::claims(issuer, "client-id", &json!({ "sub": "user-1", "nonce": nonce.secret() }));
        let token = IdToken::new(signer.sign(&claims));
        let verifier = IdTokenVerifier::new(IssuerRule::exact(issuer), "client-id").with_algorithms([alg]);
        let cache = JwksCache::new();
        let http = HttpClient::new(&HttpConfig::default()).unwrap();
        let verify = || {
            runtime.block_on(verifier.verify(
                &http,
                &cache,
                &jwks_uri,
                "oidc",
                &token,
                Some(&nonce),
                SystemTime::now(),
            ))
        };
        verify().expect("the token verifies");
        group.bench_function(name, |b| b.iter(|| black_box(verify().unwrap())));
        assert_eq!(cache.fetch_count(&jwks_uri), 1, "the key set was fetched once");
    }
    group.finish();
}

fn registry(c: &mut Criterion) {
    let registry = Registry::global().expect("the registry builds");
    let ids = registry.ids();
    let last = *ids.last().expect("providers are registered");
    let mut group = c.benchmark_group("registry");
    group.bench_function(format!("get_among_{}", ids.len()), |b| {
        b.iter(|| black_box(registry.get(black_box(last)).unwrap()))
    });
    group.bench_function("get_unknown", |b| {
        b.iter(|| black_box(registry.get(black_box("no-such-provider")).is_err()))
    });
    group.finish();
}

fn redirect_validation(c: &mut Criterion) {
    let allow = AllowList::new(["example.com", "*.example.com", "localhost"], ["myapp"]);
    let mut group = c.benchmark_group("redirect_check");
    group.bench_function("allowed", |b| {
        b.iter(|| black_box(allow.check(black_box("https://app.example.com/signed-in?from=login")).unwrap()))
    });
    group.bench_function("refused", |b| {
        b.iter(|| black_box(allow.check(black_box("https://example.com.evil.test@evil.test/")).is_err()))
    });
    group.finish();
}

criterion_group!(
    benches,
    authorize_url,
    state,
    token_response,
    id_token_verification,
    registry,
    redirect_validation
);
criterion_main!(benches);
