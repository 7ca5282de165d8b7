//! OpenID Connect verification over real HTTP against a local mock server: discovery and JWKS
//! caching (coalescing, TTLs, no negative caching, rate-limited refetch on unknown `kid`), and ID
//! token checks with tokens signed by the test-only keys in `fixtures/`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use loginkit_core::openid::{
    Clock, DiscoveryCache, IdTokenClaims, IdTokenError, IdTokenVerifier, IssuerRule, JwksCache,
    MICROSOFT_V2_ISSUER_TEMPLATE, check_authorization_response_issuer,
};
use loginkit_core::url::Url;
use loginkit_core::{EmailTrust, Error, HttpClient, IdToken, Nonce, Operation, TransportKind};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ISSUER: &str = "https://idp.example";
const CLIENT: &str = "client-1";
const NONCE: &str = "n-0S6_WzA2Mj";

// Test-only keys, generated with `openssl genpkey` for these tests and used nowhere else.
const RSA_PEM: &[u8] = include_bytes!("fixtures/test-only-rsa.pem");
const RSA_PUB_PEM: &[u8] = include_bytes!("fixtures/test-only-rsa.pub.pem");
const RSA2_PEM: &[u8] = include_bytes!("fixtures/test-only-rsa-2.pem");
const P256_PEM: &[u8] = include_bytes!("fixtures/test-only-p256.pem");
const ED25519_PEM: &[u8] = include_bytes!("fixtures/test-only-ed25519.pem");

// ---------------------------------------------------------------------------------------------
// Keys, tokens and a mock provider

struct Signer {
    key: EncodingKey,
    alg: Algorithm,
    kid: Option<&'static str>,
}

impl Signer {
    fn rsa(kid: &'static str) -> Self {
        Self { key: EncodingKey::from_rsa_pem(RSA_PEM).unwrap(), alg: Algorithm::RS256, kid: Some(kid) }
    }

    fn rsa2(kid: &'static str) -> Self {
        Self { key: EncodingKey::from_rsa_pem(RSA2_PEM).unwrap(), alg: Algorithm::RS256, kid: Some(kid) }
    }

    fn p256(kid: &'static str) -> Self {
        Self { key: EncodingKey::from_ec_pem(P256_PEM).unwrap(), alg: Algorithm::ES256, kid: Some(kid) }
    }

    fn ed25519(kid: &'static str) -> Self {
        Self { key: EncodingKey::from_ed_pem(ED25519_PEM).unwrap(), alg: Algorithm::EdDSA, kid: Some(kid) }
    }

    fn with_alg(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self
    }

    fn without_kid(mut self) -> Self {
        self.kid = None;
        self
    }

    /// The public JWK of this key, as a provider publishes it.
    fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).unwrap();
        jwk.common.key_id = self.kid.map(str::to_owned);
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        serde_json::to_value(jwk).unwrap()
    }

    fn sign(&self, claims: &Value) -> IdToken {
        let mut header = Header::new(self.alg);
        header.kid = self.kid.map(str::to_owned);
        IdToken::new(jsonwebtoken::encode(&header, claims, &self.key).unwrap())
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
}

/// Standard claims valid at `now`, with `extra` merged in (a `null` removes a claim).
fn claims(now: SystemTime, extra: Value) -> Value {
    let now = unix(now);
    let mut claims = json!({
        "iss": ISSUER, "sub": "user-1", "aud": CLIENT, "exp": now + 600, "iat": now, "nonce": NONCE,
        "email": "ada@example.com", "email_verified": true, "name": "Ada", "picture": "https://idp.example/ada.png",
    });
    let object = claims.as_object_mut().unwrap();
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            object.remove(k);
        } else {
            object.insert(k.clone(), v.clone());
        }
    }
    claims
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn reason(result: Result<impl std::fmt::Debug, Error>) -> IdTokenError {
    match result {
        Err(Error::IdToken { reason, .. }) => reason,
        other => panic!("expected an OpenID Connect error, got {other:?}"),
    }
}

/// A manual monotonic clock: tests cross TTLs and rate-limit windows without sleeping.
#[derive(Debug)]
struct ManualClock(Mutex<Instant>);

impl ManualClock {
    fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(Instant::now())))
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
}

struct Idp {
    server: MockServer,
    http: HttpClient,
    jwks_uri: Url,
}

impl Idp {
    /// A provider publishing `keys` at `/jwks`.
    async fn with_keys(keys: Vec<Value>) -> Self {
        let idp = Self::empty().await;
        idp.publish(keys, None).await;
        idp
    }

    async fn empty() -> Self {
        let server = MockServer::start().await;
        let jwks_uri = Url::parse(&format!("{}/jwks", server.uri())).unwrap();
        Self { server, http: HttpClient::with_defaults().unwrap(), jwks_uri }
    }

    /// Serves `keys` at `/jwks`; with `times`, only for that many requests, ahead of other mocks.
    async fn publish(&self, keys: Vec<Value>, times: Option<u64>) {
        let mock = Mock::given(method("GET"))
            .and(path("/jwks"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "keys": keys })));
        let mock = match times {
            Some(n) => mock.up_to_n_times(n).with_priority(1),
            None => mock,
        };
        mock.mount(&self.server).await;
    }

    async fn requests(&self, to: &str) -> usize {
        let requests = self.server.received_requests().await.unwrap();
        requests.iter().filter(|r| r.url.path() == to).count()
    }

    async fn verify_with(
        &self,
        verifier: &IdTokenVerifier,
        jwks: &JwksCache,
        token: &IdToken,
        nonce: Option<&str>,
        now: SystemTime,
    ) -> Result<IdTokenClaims, Error> {
        let nonce = nonce.map(|n| Nonce::new(n.to_owned()));
        verifier.verify(&self.http, jwks, &self.jwks_uri, "test", token, nonce.as_ref(), now).await
    }

    async fn verify(
        &self,
        jwks: &JwksCache,
        token: &IdToken,
        now: SystemTime,
    ) -> Result<IdTokenClaims, Error> {
        self.verify_with(&verifier(), jwks, token, Some(NONCE), now).await
    }
}

fn verifier() -> IdTokenVerifier {
    IdTokenVerifier::new(IssuerRule::exact(ISSUER), CLIENT)
}

// ---------------------------------------------------------------------------------------------
// Valid tokens

#[tokio::test]
async fn valid_tokens_of_every_key_type_are_accepted() {
    let signers = [
        Signer::rsa("rsa-1"),
        Signer::rsa2("rsa-ps").with_alg(Algorithm::PS256),
        Signer::p256("ec-1"),
        Signer::ed25519("ed-1"),
    ];
    let idp = Idp::with_keys(signers.iter().map(Signer::jwk).collect()).await;
    let jwks = JwksCache::new();
    let now = SystemTime::now();
    for signer in &signers {
        let token = signer.sign(&claims(now, json!({})));
        let got = idp.verify(&jwks, &token, now).await.unwrap_or_else(|e| panic!("{:?}: {e}", signer.alg));
        assert_eq!(got.sub, "user-1");
        assert_eq!(got.iss, ISSUER);
        assert_eq!(got.aud, [CLIENT]);
        assert!(got.has_nonce);
        assert_eq!(got.email.as_deref(), Some("ada@example.com"));
        assert_eq!(got.email_trust(), EmailTrust::Verified);
        assert_eq!(got.name.as_deref(), Some("Ada"));
        assert_eq!(got.picture.as_deref(), Some("https://idp.example/ada.png"));
        assert_eq!(unix(got.exp), unix(now) + 600);
        assert_eq!(got.get("nonce"), Some(&json!(NONCE)));
    }
    assert_eq!(jwks.fetch_count(&idp.jwks_uri), 1, "the key set is fetched once for all tokens");
}

#[tokio::test]
async fn apple_style_string_email_verified_is_understood() {
    let signer = Signer::rsa("apple-1");
    let idp = Idp::with_keys(vec![signer.jwk()]).await;
    let jwks = JwksCache::new();
    let now = SystemTime::now();
    let verified = signer.sign(&claims(now, json!({ "email_verified": "true", "is_private_email": "true" })));
    let got = idp.verify(&jwks, &verified, now).await.unwrap();
    assert_eq!(got.email_verified, Some(true));
    assert_eq!(got.email_trust(), EmailTrust::Verified);
    let unverified = signer.sign(&claims(now, json!({ "email_verified": "false" })));
    assert_eq!(idp.verify(&jwks, &unverified, now).await.unwrap().email_trust(), EmailTrust::Unverified);
}

#[tokio::test]
async fn a_token_without_kid_needs_exactly_one_usable_key() {
    let signer = Signer::rsa("only").without_kid();
    let now = SystemTime::now();
    let token = signer.sign(&claims(now, json!({})));

    let single = Idp::with_keys(vec![Signer::rsa("only").jwk(), Signer::p256("ec").jwk()]).await;
    assert!(
        single.verify(&JwksCache::new(), &token, now).await.is_ok(),
        "one RSA key (the EC key cannot do RS256)"
    );

    let ambiguous = Idp::with_keys(vec![Signer::rsa("a").jwk(), Signer::rsa2("b").jwk()]).await;
    assert_eq!(reason(ambiguous.verify(&JwksCache::new(), &token, now).await), IdTokenError::UnknownKey);
}

// ---------------------------------------------------------------------------------------------
// Algorithm attacks

#[tokio::test]
async fn alg_none_is_refused_before_any_key_is_fetched() {
    let idp = Idp::with_keys(vec![Signer::rsa("rsa-1").jwk()]).await;
    let jwks = JwksCache::new();
    let now = SystemTime::now();
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(claims(now, json!({})).to_string().as_bytes());
    for token in [format!("{header}.{payload}."), format!("{header}.{payload}.c2ln")] {
        let result = idp.verify(&jwks, &IdToken::new(token), now).await;
        assert_eq!(reason(result), IdTokenError::UnsupportedAlgorithm { alg: "none".into() });
    }
    let permissive = verifier().with_algorithms([Algorithm::RS256, Algorithm::HS256]);
    let token = IdToken::new(format!("{}.{payload}.", b64(br#"{"alg":"NONE"}"#)));
    let result = idp.verify_with(&permissive, &jwks, &token, Some(NONCE), now).await;
    assert_eq!(reason(result), IdTokenError::UnsupportedAlgorithm { alg: "NONE".into() });
    assert_eq!(idp.requests("/jwks").await, 0);
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_is_refused_even_when_configured() {
    // The classic confusion attack: the attacker takes the provider's public key (PEM text) as
    // an HMAC secret and signs a token of their choosing with HS256, naming the RSA key.
    let signer = Signer::rsa("rsa-1");
    let idp = Idp::with_keys(vec![signer.jwk()]).await;
    let jwks = JwksCache::new();
    let now = SystemTime::now();
    let header = b64(br#"{"alg":"HS256","typ":"JWT","kid":"rsa-1"}"#);
    let payload = b64(claims(now, json!({ "sub": "admin" })).to_string().as_bytes());
    let signing_input = format!("{header}.{payload}");
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(RSA_PUB_PEM),
        Algorithm::HS256,
    )
    .unwrap();
    let forged = IdToken::new(format!("{signing_input}.{signature}"));

    let result = idp.verify(&jwks, &forged, now).await;
    assert_eq!(reason(result), IdTokenError::UnsupportedAlgorithm { alg: "HS256".into() });

    let configured = verifier().with_algorithms([Algorithm::HS256, Algorithm::HS384, Algorithm::RS256]);
    assert_eq!(configured.algorithms(), [Algorithm::RS256], "HMAC is dropped from the allow-list");
    let result = idp.verify_with(&configured, &jwks, &forged, Some(NONCE), now).await;
    assert_eq!(reason(result), IdTokenError::UnsupportedAlgorithm { alg: "HS256".into() });
    assert_eq!(idp.requests("/jwks").await, 0, "refused on the header, before any key fetch");

    // Even asked directly, the key cache has no key for HMAC.
    let direct = jwks.key(&idp.http, "test", &idp.jwks_uri, Some("rsa-1"), Algorithm::HS256).await;
    assert_eq!(reason(direct.map(|_| ())), IdTokenError::KeyAlgorithmMismatch);
}

#[tokio::test]
async fn algorithms_outside_the_allow_list_are_refused() {
    let signer = Signer::p256("ec-1");
    let idp = Idp::with_keys(vec![signer.jwk()]).await;
    let now = SystemTime::now();
    let token = signer.sign(&claims(now, json!({})));
    let rsa_only = verifier().with_algorithms([Algorithm::RS256]);
    let result = idp.verify_with(&rsa_only, &JwksCache::new(), &token, Some(NONCE), now).await;
    assert_eq!(reason(result), IdTokenError::UnsupportedAlgorithm { alg: "ES256".into() });
}

#[tokio::test]
async fn keys_not_for_signatures_or_for_another_alg_are_never_used() {
    let signer = Signer::rsa("rsa-1");
    let now = SystemTime::now();
    let token = signer.sign(&claims(now, json!({})));

    let mut encryption = signer.jwk();
    encryption["use"] = json!("enc");
    let idp = Idp::with_keys(vec![encryption]).await;
    assert_eq!(reason(idp.verify(&JwksCache::new(), &token, now).await), IdTokenError::UnknownKey);

    let mut pinned = signer.jwk();
    pinned["alg"] = json!("RS384");
    let idp = Idp::with_keys(vec![pinned]).await;
    assert_eq!(reason(idp.verify(&JwksCache::new(), &token, now).await), IdTokenError::KeyAlgorithmMismatch);
}

// ---------------------------------------------------------------------------------------------
// Signature and claims

#[tokio::test]
async fn bad_signatures_are_refused() {
    let signer = Signer::rsa("rsa-1");
    let idp = Idp::with_keys(vec![signer.jwk()]).await;
    let jwks = JwksCache::new();
    let now = SystemTime::now();
    let token = signer.sign(&claims(now, json!({}))).into_secret();

    // One character of the signature changed (in the middle, where every bit counts).
    let mut flipped = token.clone().into_bytes();
    let at = token.rfind('.').unwrap() + 20;
    flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
    let result = idp.verify(&jwks, &IdToken::new(String::from_utf8(flipped).unwrap()), now).await;
    assert_eq!(reason(result), IdTokenError::BadSignature);

    // The payload swapped for another user's, the signature kept.
    let parts: Vec<&str> = token.split('.').collect();
    let other = b64(claims(now, json!({ "sub": "admin" })).to_string().as_bytes());
    let spliced = IdToken::new(format!("{}.{other}.{}", parts[0], parts[2]));
    assert_eq!(reason(idp.verify(&jwks, &spliced, now).await), IdTokenError::BadSignature);

    // Signed by another key that claims the published key's id.
    let impostor = Signer::rsa2("rsa-1").sign(&claims(now, json!({})));
    assert_eq!(reason(idp.verify(&jwks, &impostor, now).await), IdTokenError::BadSignature);

    assert!(idp.verify(&jwks, &IdToken::new(token), now).await.is_ok(), "the original still verifies");
}

#[tokio::test]
async fn malformed_tokens_are_typed() {
    let idp = Idp::with_keys(vec![Signer::rsa("rsa-1").jwk()]).await;
    let jwks = JwksCache::new();
    let now = SystemTime::now();
    let crit = format!(
        "{}.{}.c2ln",
        b64(br#"{"alg":"RS256","kid":"rsa-1","crit":["b64"],"b64":false}"#),
        b64(b"{}")
    );
    for token in
        ["", "opaque", "a.b", "a.b.c.d.e", "%%%.e30.c2ln", &format!("{}.e30.c2ln", b64(b"[1]")), &crit]
    {
        let result = idp.verify(&jwks, &IdToken::new(token.to_owned()), now).await;
        assert!(matches!(reason(result), IdTokenError::Malformed { .. }), "{token}");
    }
}

#[tokio::test]
async fn claims_are_checked_after_the_signature() {
    let signer = Signer::rsa("rsa-1");
    let idp = Idp::with_keys(vec![signer.jwk()]).await;
    let jwks = JwksCache::new();
    let now = SystemTime::now();
    let t = unix(now);
    let cases = [
        (json!({ "iss": "https://evil.example" }), IdTokenError::WrongIssuer),
        (json!({ "iss": "https://idp.example/" }), IdTokenError::WrongIssuer),
        (json!({ "aud": "someone-else" }), IdTokenError::WrongAudience),
        (json!({ "aud": ["someone-else", "another"] }), IdTokenError::WrongAudience),
        (json!({ "aud": [CLIENT, "another"] }), IdTokenError::WrongAuthorizedParty),
        (json!({ "aud": [CLIENT, "another"], "azp": "another" }), IdTokenError::WrongAuthorizedParty),
        (json!({ "azp": "another" }), IdTokenError::WrongAuthorizedParty),
        (json!({ "exp": t - 3600 }), IdTokenError::Expired),
        (json!({ "exp": null }), IdTokenError::MissingClaim { claim: "exp" }),
        (json!({ "iat": t + 3600 }), IdTokenError::IssuedInFuture),
        (json!({ "iat": null }), IdTokenError::MissingClaim { claim: "iat" }),
        (json!({ "nbf": t + 3600 }), IdTokenError::NotYetValid),
        (json!({ "nonce": null }), IdTokenError::MissingNonce),
        (json!({ "nonce": "n-0S6_WzA2Mk" }), IdTokenError::WrongNonce),
        (json!({ "nonce": "" }), IdTokenError::WrongNonce),
        (json!({ "sub": null }), IdTokenError::MissingClaim { claim: "sub" }),
    ];
    for (extra, expected) in cases {
        let token = signer.sign(&claims(now, extra.clone()));
        assert_eq!(reason(idp.verify(&jwks, &token, now).await), expected, "{extra}");
    }
    let fine = [
        json!({ "aud": [CLIENT, "another"], "azp": CLIENT }),
        json!({ "azp": CLIENT }),
        json!({ "exp": t - 30, "nbf": t + 30, "iat": t + 30 }),
    ];
    for extra in fine {
        let token = signer.sign(&claims(now, extra.clone()));
        assert!(idp.verify(&jwks, &token, now).await.is_ok(), "{extra}");
    }
    // Without an expected nonce, a nonce in the token is fine, and so is none.
    for extra in [json!({}), json!({ "nonce": null })] {
        let token = signer.sign(&claims(now, extra));
        assert!(idp.verify_with(&verifier(), &jwks, &token, None, now).await.is_ok());
    }
    // Maximum age of `iat`.
    let old = signer.sign(&claims(now, json!({ "iat": t - 3600 })));
    let strict = verifier().with_max_token_age(Duration::from_secs(600));
    assert_eq!(reason(idp.verify_with(&strict, &jwks, &old, Some(NONCE), now).await), IdTokenError::TooOld);
    assert!(idp.verify(&jwks, &old, now).await.is_ok(), "no maximum age by default");
}

#[tokio::test]
async fn errors_never_quote_the_token() {
    let signer = Signer::rsa("rsa-1");
    let idp = Idp::with_keys(vec![signer.jwk()]).await;
    let jwks = JwksCache::new();
    let now = SystemTime::now();
    let cases = [
        json!({ "nonce": "secret-nonce-value" }),
        json!({ "exp": unix(now) - 3600 }),
        json!({ "iss": "https://evil.example" }),
    ];
    for extra in cases {
        let token = signer.sign(&claims(now, extra));
        let err = idp.verify(&jwks, &token, now).await.unwrap_err();
        let shown = format!("{err} {err:?}");
        let secret = token.secret();
        for part in secret.split('.') {
            assert!(!shown.contains(part), "{shown}");
        }
        assert!(
            !shown.contains("secret-nonce-value") && !shown.contains(NONCE) && !shown.contains("evil"),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn userinfo_subject_must_match() {
    let signer = Signer::rsa("rsa-1");
    let idp = Idp::with_keys(vec![signer.jwk()]).await;
    let now = SystemTime::now();
    let got = idp.verify(&JwksCache::new(), &signer.sign(&claims(now, json!({}))), now).await.unwrap();
    assert!(got.check_subject("user-1").is_ok());
    assert_eq!(reason(got.check_subject("user-2")), IdTokenError::SubjectMismatch);
}

// ---------------------------------------------------------------------------------------------
// Microsoft multi-tenant issuers

const TENANT_A: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
const TENANT_B: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const TENANT_C: &str = "00000000-0000-0000-0000-00000000000c";

fn microsoft_claims(now: SystemTime, tid: &str, iss_tenant: &str) -> Value {
    let iss = MICROSOFT_V2_ISSUER_TEMPLATE.replace("{tenantid}", iss_tenant);
    claims(now, json!({ "iss": iss, "tid": tid }))
}

#[tokio::test]
async fn microsoft_tenants_are_checked_against_the_template_and_allow_list() {
    let signer = Signer::rsa("ms-1");
    let idp = Idp::with_keys(vec![signer.jwk()]).await;
    let jwks = JwksCache::new();
    let now = SystemTime::now();
    let allow =
        IdTokenVerifier::new(IssuerRule::microsoft(Some(vec![TENANT_A.into(), TENANT_B.into()])), CLIENT);
    let any = IdTokenVerifier::new(IssuerRule::microsoft(None), CLIENT);
    let verify = |v: &IdTokenVerifier, c: Value| {
        let token = signer.sign(&c);
        let (idp, jwks, v) = (&idp, &jwks, v.clone());
        async move { idp.verify_with(&v, jwks, &token, Some(NONCE), now).await }
    };

    for tenant in [TENANT_A, TENANT_B] {
        let got = verify(&allow, microsoft_claims(now, tenant, tenant)).await.unwrap();
        assert_eq!(got.get("tid"), Some(&json!(tenant)));
    }
    let outsider = microsoft_claims(now, TENANT_C, TENANT_C);
    assert_eq!(reason(verify(&allow, outsider.clone()).await), IdTokenError::TenantNotAllowed);
    assert!(verify(&any, outsider).await.is_ok(), "no allow-list: any tenant");

    // Issued by tenant A's issuer but claiming to belong to tenant B: refused even for B.
    let mismatch = microsoft_claims(now, TENANT_B, TENANT_A);
    assert_eq!(reason(verify(&allow, mismatch.clone()).await), IdTokenError::WrongIssuer);
    assert_eq!(reason(verify(&any, mismatch).await), IdTokenError::WrongIssuer);

    let no_tid = claims(now, json!({ "iss": MICROSOFT_V2_ISSUER_TEMPLATE.replace("{tenantid}", TENANT_A) }));
    assert_eq!(reason(verify(&any, no_tid).await), IdTokenError::MissingClaim { claim: "tid" });
    // The literal template is not an issuer.
    let literal = claims(now, json!({ "iss": MICROSOFT_V2_ISSUER_TEMPLATE, "tid": "{tenantid}" }));
    assert!(matches!(reason(verify(&any, literal).await), IdTokenError::Malformed { .. }));
}

// ---------------------------------------------------------------------------------------------
// JWKS cache: rotation, rate limit, coalescing, failures

#[tokio::test]
async fn unknown_kid_refetches_once_and_is_rate_limited() {
    let signer = Signer::rsa("rsa-1");
    let idp = Idp::with_keys(vec![signer.jwk()]).await;
    let clock = ManualClock::new();
    let jwks = JwksCache::new().with_clock(clock.clone()).with_min_refetch_interval(Duration::from_secs(10));
    let now = SystemTime::now();
    idp.verify(&jwks, &signer.sign(&claims(now, json!({}))), now).await.unwrap();
    assert_eq!(idp.requests("/jwks").await, 1);

    let ghost = |kid| Signer::rsa(kid).sign(&claims(now, json!({})));
    assert_eq!(reason(idp.verify(&jwks, &ghost("ghost-1"), now).await), IdTokenError::UnknownKey);
    assert_eq!(idp.requests("/jwks").await, 2, "one refetch for the unknown kid");

    clock.advance(Duration::from_secs(9));
    for kid in ["ghost-2", "ghost-3", "ghost-4"] {
        assert_eq!(reason(idp.verify(&jwks, &ghost(kid), now).await), IdTokenError::UnknownKey);
    }
    assert_eq!(idp.requests("/jwks").await, 2, "further unknown kids within the interval do not refetch");

    clock.advance(Duration::from_secs(2));
    assert_eq!(reason(idp.verify(&jwks, &ghost("ghost-5"), now).await), IdTokenError::UnknownKey);
    assert_eq!(idp.requests("/jwks").await, 3, "after the interval, one more refetch");
    assert_eq!(jwks.fetch_count(&idp.jwks_uri), 3);

    // Known keys keep working throughout, from the cache.
    idp.verify(&jwks, &signer.sign(&claims(now, json!({}))), now).await.unwrap();
    assert_eq!(idp.requests("/jwks").await, 3);
}

#[tokio::test]
async fn a_cold_cache_does_not_refetch_for_an_unknown_kid() {
    let idp = Idp::with_keys(vec![Signer::rsa("rsa-1").jwk()]).await;
    let now = SystemTime::now();
    let ghost = Signer::rsa("ghost").sign(&claims(now, json!({})));
    assert_eq!(reason(idp.verify(&JwksCache::new(), &ghost, now).await), IdTokenError::UnknownKey);
    assert_eq!(idp.requests("/jwks").await, 1, "the set was just fetched: refetching cannot help");
}

#[tokio::test]
async fn rotated_keys_verify_after_exactly_one_refetch() {
    let old = Signer::rsa("2024-01");
    let new = Signer::rsa2("2024-07");
    let idp = Idp::empty().await;
    idp.publish(vec![old.jwk()], Some(1)).await;
    idp.publish(vec![new.jwk()], None).await;
    let jwks = JwksCache::new();
    let now = SystemTime::now();

    idp.verify(&jwks, &old.sign(&claims(now, json!({}))), now).await.unwrap();
    assert_eq!(idp.requests("/jwks").await, 1);

    // The provider has rotated: the next token names a key the cache has never seen.
    let got = idp.verify(&jwks, &new.sign(&claims(now, json!({}))), now).await.unwrap();
    assert_eq!(got.sub, "user-1");
    assert_eq!(idp.requests("/jwks").await, 2);
    idp.verify(&jwks, &new.sign(&claims(now, json!({}))), now).await.unwrap();
    assert_eq!(idp.requests("/jwks").await, 2, "the new set is cached");
}

#[tokio::test]
async fn concurrent_tokens_with_a_new_kid_share_one_refetch() {
    let old = Signer::rsa("old");
    let new = Signer::rsa2("new");
    let idp = Idp::empty().await;
    idp.publish(vec![old.jwk()], Some(1)).await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "keys": [new.jwk()] }))
                .set_delay(Duration::from_millis(300)),
        )
        .mount(&idp.server)
        .await;
    let idp = Arc::new(idp);
    let jwks = JwksCache::new();
    let now = SystemTime::now();
    idp.verify(&jwks, &old.sign(&claims(now, json!({}))), now).await.unwrap();

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (idp, jwks, token) = (idp.clone(), jwks.clone(), new.sign(&claims(now, json!({}))));
        tasks.spawn(async move { idp.verify(&jwks, &token, now).await.map(|c| c.sub) });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap(), "user-1");
    }
    assert_eq!(idp.requests("/jwks").await, 2, "one initial fetch, one shared refetch");
}

#[tokio::test]
async fn key_sets_expire_with_their_max_age() {
    let signer = Signer::rsa("rsa-1");
    let idp = Idp::empty().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("cache-control", "public, max-age=120")
                .set_body_json(json!({ "keys": [signer.jwk()] })),
        )
        .mount(&idp.server)
        .await;
    let clock = ManualClock::new();
    let jwks = JwksCache::new().with_clock(clock.clone());
    let now = SystemTime::now();
    let token = signer.sign(&claims(now, json!({})));
    idp.verify(&jwks, &token, now).await.unwrap();
    clock.advance(Duration::from_secs(119));
    idp.verify(&jwks, &token, now).await.unwrap();
    assert_eq!(jwks.fetch_count(&idp.jwks_uri), 1);
    clock.advance(Duration::from_secs(2));
    idp.verify(&jwks, &token, now).await.unwrap();
    assert_eq!(jwks.fetch_count(&idp.jwks_uri), 2);
}

#[tokio::test]
async fn a_failed_key_fetch_is_not_cached() {
    let signer = Signer::rsa("rsa-1");
    let idp = Idp::empty().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&idp.server)
        .await;
    idp.publish(vec![signer.jwk()], None).await;
    let jwks = JwksCache::new();
    let now = SystemTime::now();
    let token = signer.sign(&claims(now, json!({})));
    let err = idp.verify(&jwks, &token, now).await.unwrap_err();
    assert!(matches!(err, Error::HttpStatus { status: 500, operation: Operation::Jwks, .. }), "{err:?}");
    idp.verify(&jwks, &token, now).await.unwrap();
    assert_eq!(jwks.fetch_count(&idp.jwks_uri), 2);
}

#[tokio::test]
async fn insecure_jwks_uris_are_refused() {
    let http = HttpClient::with_defaults().unwrap();
    let uri = Url::parse("http://idp.example/jwks").unwrap();
    let err = JwksCache::new().key(&http, "test", &uri, Some("k"), Algorithm::RS256).await.unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Discovery

fn discovery_doc(server: &MockServer, issuer: &str, extra: Value) -> Value {
    // An https issuer's endpoints are https: these documents are only parsed and cached, never
    // followed, so they name the provider's own origin. A loopback issuer keeps the mock's.
    let base = if issuer.starts_with("https://") { "https://idp.example".to_owned() } else { server.uri() };
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "email"],
    });
    doc.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    doc
}

async fn discovery_server(issuer: &str, cache_control: Option<&str>, delay: Duration) -> (MockServer, Url) {
    let server = MockServer::start().await;
    let mut response =
        ResponseTemplate::new(200).set_body_json(discovery_doc(&server, issuer, json!({}))).set_delay(delay);
    if let Some(cc) = cache_control {
        response = response.insert_header("cache-control", cc);
    }
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(response)
        .mount(&server)
        .await;
    let url = Url::parse(&format!("{}/.well-known/openid-configuration", server.uri())).unwrap();
    (server, url)
}

async fn discovery_requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn discovery_is_fetched_once_for_many_sequential_logins() {
    let (server, url) = discovery_server(ISSUER, None, Duration::ZERO).await;
    let http = HttpClient::with_defaults().unwrap();
    let cache = DiscoveryCache::new();
    let rule = IssuerRule::exact(ISSUER);
    for _ in 0..100 {
        let metadata = cache.get(&http, "test", &url, &rule).await.unwrap();
        assert_eq!(metadata.issuer, ISSUER);
        assert!(metadata.supports_pkce_s256());
        assert_eq!(metadata.jwks_uri.path(), "/jwks");
    }
    assert_eq!(cache.fetch_count(&url), 1);
    assert_eq!(discovery_requests(&server).await, 1);
}

#[tokio::test]
async fn concurrent_cold_discovery_is_one_fetch() {
    let (server, url) = discovery_server(ISSUER, None, Duration::from_millis(300)).await;
    let http = HttpClient::with_defaults().unwrap();
    let cache = DiscoveryCache::new();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (cache, http, url) = (cache.clone(), http.clone(), url.clone());
        tasks.spawn(async move {
            cache.get(&http, "test", &url, &IssuerRule::exact(ISSUER)).await.map(|m| m.issuer.clone())
        });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap(), ISSUER);
    }
    assert_eq!(cache.fetch_count(&url), 1);
    assert_eq!(discovery_requests(&server).await, 1);
}

#[tokio::test]
async fn a_hanging_provider_does_not_block_another() {
    // A provider that accepts connections and never answers; its client waits for an hour.
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hanging_url =
        Url::parse(&format!("http://{}/.well-known/openid-configuration", hanging.local_addr().unwrap()))
            .unwrap();
    let (accepted_tx, accepted_rx) = tokio::sync::oneshot::channel();
    let acceptor = tokio::spawn(async move {
        let (socket, _) = hanging.accept().await.unwrap();
        let _ = accepted_tx.send(());
        std::future::pending::<()>().await;
        drop(socket);
    });
    let patient =
        HttpClient::new(&loginkit_core::HttpConfig::default().timeout(Duration::from_secs(3600))).unwrap();
    let cache = DiscoveryCache::new();
    let rule = IssuerRule::exact(ISSUER);
    let stuck = {
        let (cache, rule) = (cache.clone(), rule.clone());
        tokio::spawn(async move { cache.get(&patient, "hanging", &hanging_url, &rule).await.map(|_| ()) })
    };
    accepted_rx.await.unwrap();

    // The hanging fetch holds its URL's gate; another URL must not wait for it. The timeout only
    // turns a deadlock into a failure instead of a hung test run.
    let (fast, fast_url) = discovery_server(ISSUER, None, Duration::ZERO).await;
    let http = HttpClient::with_defaults().unwrap();
    let other =
        tokio::time::timeout(Duration::from_secs(60), cache.get(&http, "fast", &fast_url, &rule)).await;
    assert_eq!(other.expect("blocked by another provider's fetch").unwrap().issuer, ISSUER);
    assert_eq!(discovery_requests(&fast).await, 1);
    assert!(!stuck.is_finished());
    stuck.abort();
    acceptor.abort();
}

#[tokio::test]
async fn discovery_honours_max_age() {
    let http = HttpClient::with_defaults().unwrap();
    let rule = IssuerRule::exact(ISSUER);
    // (Cache-Control, still cached just before, refetched just after)
    let cases = [
        (Some("public, max-age=60"), 60),
        (Some("max-age=7200"), 7200),
        (Some("no-store"), 60),
        (Some("max-age=5"), 60),
        (Some("max-age=999999"), 86_400),
        (None, 3600),
    ];
    for (cache_control, ttl) in cases {
        let (server, url) = discovery_server(ISSUER, cache_control, Duration::ZERO).await;
        let clock = ManualClock::new();
        let cache = DiscoveryCache::with_clock(clock.clone());
        cache.get(&http, "test", &url, &rule).await.unwrap();
        clock.advance(Duration::from_secs(ttl - 1));
        cache.get(&http, "test", &url, &rule).await.unwrap();
        assert_eq!(discovery_requests(&server).await, 1, "{cache_control:?} still cached after {}s", ttl - 1);
        clock.advance(Duration::from_secs(2));
        cache.get(&http, "test", &url, &rule).await.unwrap();
        assert_eq!(discovery_requests(&server).await, 2, "{cache_control:?} refetched after {}s", ttl + 1);
        assert_eq!(cache.fetch_count(&url), 2);
    }
}

#[tokio::test]
async fn a_document_for_another_issuer_is_refused_and_not_cached() {
    let (server, url) = discovery_server("https://evil.example", None, Duration::ZERO).await;
    let http = HttpClient::with_defaults().unwrap();
    let cache = DiscoveryCache::new();
    for expected_requests in [1, 2] {
        let result = cache.get(&http, "test", &url, &IssuerRule::exact(ISSUER)).await;
        assert_eq!(reason(result), IdTokenError::MetadataIssuerMismatch);
        assert_eq!(discovery_requests(&server).await, expected_requests);
    }
    // A trailing slash is another issuer (simple string comparison).
    let (_server, url) = discovery_server("https://idp.example/", None, Duration::ZERO).await;
    assert_eq!(
        reason(cache.get(&http, "test", &url, &IssuerRule::exact(ISSUER)).await),
        IdTokenError::MetadataIssuerMismatch
    );
}

#[tokio::test]
async fn a_cached_document_is_rechecked_against_each_callers_issuer() {
    let (_server, url) = discovery_server(ISSUER, None, Duration::ZERO).await;
    let http = HttpClient::with_defaults().unwrap();
    let cache = DiscoveryCache::new();
    cache.get(&http, "test", &url, &IssuerRule::exact(ISSUER)).await.unwrap();
    let result = cache.get(&http, "other", &url, &IssuerRule::exact("https://other.example")).await;
    assert_eq!(reason(result), IdTokenError::MetadataIssuerMismatch);
}

#[tokio::test]
async fn microsoft_multi_tenant_documents_are_accepted_by_the_tenant_rule() {
    let (_server, url) = discovery_server(MICROSOFT_V2_ISSUER_TEMPLATE, None, Duration::ZERO).await;
    let http = HttpClient::with_defaults().unwrap();
    let cache = DiscoveryCache::new();
    let metadata = cache.get(&http, "microsoft", &url, &IssuerRule::microsoft(None)).await.unwrap();
    assert_eq!(metadata.issuer, MICROSOFT_V2_ISSUER_TEMPLATE);
    let exact = cache
        .get(&http, "microsoft", &url, &IssuerRule::exact("https://login.microsoftonline.com/x/v2.0"))
        .await;
    assert_eq!(reason(exact), IdTokenError::MetadataIssuerMismatch);
}

#[tokio::test]
async fn a_provider_that_was_down_works_once_it_is_back() {
    let http = HttpClient::with_defaults().unwrap();
    let cache = DiscoveryCache::new();
    let rule = IssuerRule::exact(ISSUER);

    // Answering 503 first.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(discovery_doc(&server, ISSUER, json!({}))))
        .mount(&server)
        .await;
    let url = Url::parse(&format!("{}/.well-known/openid-configuration", server.uri())).unwrap();
    let err = cache.get(&http, "test", &url, &rule).await.unwrap_err();
    assert!(matches!(err, Error::HttpStatus { status: 503, operation: Operation::Discovery, .. }), "{err:?}");
    assert_eq!(cache.get(&http, "test", &url, &rule).await.unwrap().issuer, ISSUER);

    // Not listening at all first, then started on the same port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = Url::parse(&format!("http://{addr}/.well-known/openid-configuration")).unwrap();
    let err = cache.get(&http, "test", &url, &rule).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport { kind: TransportKind::Connect, operation: Operation::Discovery, .. }),
        "{err:?}"
    );
    let server = MockServer::builder().listener(std::net::TcpListener::bind(addr).unwrap()).start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(discovery_doc(&server, ISSUER, json!({}))))
        .mount(&server)
        .await;
    assert_eq!(cache.get(&http, "test", &url, &rule).await.unwrap().issuer, ISSUER);
    assert_eq!(cache.fetch_count(&url), 2);
}

#[tokio::test]
async fn broken_documents_are_typed_errors() {
    let http = HttpClient::with_defaults().unwrap();
    let cache = DiscoveryCache::new();
    let rule = IssuerRule::exact(ISSUER);
    let server = MockServer::start().await;
    let mut missing = discovery_doc(&server, ISSUER, json!({}));
    missing.as_object_mut().unwrap().remove("jwks_uri");
    let insecure = discovery_doc(&server, ISSUER, json!({ "token_endpoint": "http://idp.example/token" }));
    let bodies = [
        ("/missing", ResponseTemplate::new(200).set_body_json(missing)),
        ("/insecure", ResponseTemplate::new(200).set_body_json(insecure)),
        ("/html", ResponseTemplate::new(200).set_body_string("<html>maintenance</html>")),
        ("/redirect", ResponseTemplate::new(302).insert_header("location", "https://elsewhere.example/")),
    ];
    for (p, response) in bodies {
        Mock::given(method("GET")).and(path(p)).respond_with(response).mount(&server).await;
    }
    let get = |p: &str| {
        let url = Url::parse(&format!("{}{p}", server.uri())).unwrap();
        let (cache, http, rule) = (&cache, &http, &rule);
        async move { cache.get(http, "test", &url, rule).await }
    };
    assert!(matches!(
        get("/missing").await,
        Err(Error::MissingField { field: "jwks_uri", operation: Operation::Discovery, .. })
    ));
    assert!(matches!(get("/insecure").await, Err(Error::Malformed { operation: Operation::Discovery, .. })));
    assert!(matches!(get("/html").await, Err(Error::Malformed { operation: Operation::Discovery, .. })));
    assert!(matches!(
        get("/redirect").await,
        Err(Error::Redirect { status: 302, operation: Operation::Discovery, .. })
    ));
    let insecure_url = Url::parse("http://idp.example/.well-known/openid-configuration").unwrap();
    assert!(matches!(cache.get(&http, "test", &insecure_url, &rule).await, Err(Error::Config { .. })));
}

// ---------------------------------------------------------------------------------------------
// RFC 9207

#[tokio::test]
async fn authorization_response_issuer_follows_rfc_9207() {
    let server = MockServer::start().await;
    let doc =
        discovery_doc(&server, ISSUER, json!({ "authorization_response_iss_parameter_supported": true }));
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(doc))
        .mount(&server)
        .await;
    let url = Url::parse(&format!("{}/.well-known/openid-configuration", server.uri())).unwrap();
    let http = HttpClient::with_defaults().unwrap();
    let metadata = DiscoveryCache::new().get(&http, "test", &url, &IssuerRule::exact(ISSUER)).await.unwrap();
    assert!(metadata.authorization_response_iss_parameter_supported);

    assert!(metadata.check_authorization_response_issuer("test", Some(ISSUER)).is_ok());
    let missing = metadata.check_authorization_response_issuer("test", None);
    assert_eq!(reason(missing), IdTokenError::MissingResponseIssuer);
    let mixed_up = metadata.check_authorization_response_issuer("test", Some("https://attacker.example"));
    assert_eq!(reason(mixed_up), IdTokenError::WrongResponseIssuer);

    // A provider that does not advertise it: absent is fine, but a wrong one is still refused.
    assert!(check_authorization_response_issuer("test", None, ISSUER, false).is_ok());
    assert!(check_authorization_response_issuer("test", Some(ISSUER), ISSUER, false).is_ok());
    let wrong = check_authorization_response_issuer("test", Some("https://idp.example/"), ISSUER, false);
    assert_eq!(reason(wrong), IdTokenError::WrongResponseIssuer);
}
