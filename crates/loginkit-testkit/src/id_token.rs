//! Signed ID tokens for tests: a provider stand-in signs with a test-only key and publishes the
//! matching key set, so loginkit verifies tokens exactly as it would a real provider's.

use std::time::{SystemTime, UNIX_EPOCH};

use loginkit_core::jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use loginkit_core::jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use loginkit_core::{IssuerRule, OAuthProvider};
use serde_json::{Map, Value, json};

// Test-only keys, generated with `openssl genpkey` for loginkit's tests and used nowhere else.
const RSA_PEM: &[u8] = include_bytes!("../../loginkit-core/tests/fixtures/test-only-rsa.pem");
const P256_PEM: &[u8] = include_bytes!("../../loginkit-core/tests/fixtures/test-only-p256.pem");

/// A signing key with its published form.
#[derive(Clone)]
pub struct TestSigner {
    key: EncodingKey,
    alg: Algorithm,
    kid: String,
}

impl std::fmt::Debug for TestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestSigner").field("alg", &self.alg).field("kid", &self.kid).finish()
    }
}

impl TestSigner {
    /// The test-only RSA key, signing RS256.
    pub fn rs256() -> Self {
        Self::from_pem(Algorithm::RS256)
    }

    /// The test-only P-256 key, signing ES256.
    pub fn es256() -> Self {
        Self::from_pem(Algorithm::ES256)
    }

    /// The signer for an `alg` name (`RS256` or `ES256`), if there is one.
    pub fn for_alg(alg: &str) -> Option<Self> {
        match alg {
            "RS256" => Some(Self::rs256()),
            "ES256" => Some(Self::es256()),
            _ => None,
        }
    }

    fn from_pem(alg: Algorithm) -> Self {
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(P256_PEM),
            _ => EncodingKey::from_rsa_pem(RSA_PEM),
        }
        .expect("the test-only key parses");
        Self { key, alg, kid: format!("test-{alg:?}").to_lowercase() }
    }

    /// The key set a provider publishes: `{"keys": [<this key's public JWK>]}`.
    pub fn jwks(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).expect("a public JWK");
        jwk.common.key_id = Some(self.kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        json!({ "keys": [jwk] })
    }

    /// Signs `claims` as they are.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &self.key).expect("signing with a test key")
    }
}

/// Standard claims for an ID token issued now by `issuer` to `client_id` (valid ten minutes), with
/// `extra` merged over them; a `null` in `extra` removes the claim.
pub fn claims(issuer: &str, client_id: &str, extra: &Value) -> Value {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut claims = Map::new();
    claims.insert("iss".into(), issuer.into());
    claims.insert("aud".into(), client_id.into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + 600).into());
    if let Value::Object(extra) = extra {
        for (name, value) in extra {
            if value.is_null() {
                claims.remove(name);
            } else {
                claims.insert(name.clone(), value.clone());
            }
        }
    }
    Value::Object(claims)
}

/// The issuer a provider instance expects, with `{tenantid}` filled from `tid` for a per-tenant
/// rule; `None` when the provider does not verify ID tokens.
pub fn expected_issuer(provider: &dyn OAuthProvider, tid: Option<&str>) -> Option<String> {
    let check = provider.standard().id_token_check()?;
    Some(match check.verifier().issuer() {
        IssuerRule::Exact(issuer) => issuer.clone(),
        IssuerRule::OneOf(issuers) => issuers.first()?.clone(),
        IssuerRule::MicrosoftTenant { template, .. } => template.replace("{tenantid}", tid?),
        _ => return None,
    })
}
