//! Providers' signing keys (JWK Sets, RFC 7517), cached by `jwks_uri` and refreshed on key
//! rotation with a rate limit.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use url::Url;

use super::cache::Store;
use super::{CacheSummary, Clock, IdTokenError, SystemClock, cache_ttl, check_fetch_url, oidc_error};
use crate::error::{Error, Operation};
use crate::http::HttpClient;

/// Default [`JwksCache::with_min_refetch_interval`].
pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// Signing keys by `jwks_uri`; clones share the cache.
///
/// A key set is fetched on first use and kept for the time the provider's `Cache-Control`
/// allows (clamped to [1 min, 24 h], 1 h without one). A token naming a `kid` the cached set
/// lacks triggers one refetch, since the provider may have rotated its keys; such refetches are
/// limited to one per [`DEFAULT_MIN_REFETCH_INTERVAL`] (configurable) per URL, so random `kid`s
/// cannot turn loginkit into a request amplifier. Concurrent fetches of a URL are coalesced, and
/// failures are never cached.
///
/// Only asymmetric signature keys are ever used: keys with a `use` other than `sig`, with
/// `key_ops` lacking `verify`, symmetric (`oct`) keys and keys of unknown types are ignored.
#[derive(Clone)]
pub struct JwksCache {
    store: Arc<Store<KeySet>>,
    clock: Arc<dyn Clock>,
    min_refetch_interval: Duration,
}

impl Default for JwksCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksCache")
            .field("urls", &CacheSummary(self.store.len()))
            .field("min_refetch_interval", &self.min_refetch_interval)
            .finish()
    }
}

impl JwksCache {
    /// An empty cache on the system clock with the default refetch interval.
    pub fn new() -> Self {
        Self {
            store: Arc::default(),
            clock: Arc::new(SystemClock),
            min_refetch_interval: DEFAULT_MIN_REFETCH_INTERVAL,
        }
    }

    /// Sets the shortest time between two unknown-`kid` refetches of one URL.
    pub fn with_min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// Uses `clock` (tests use a manual clock to cross expiries and rate-limit windows).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The key that verifies a token signed with `alg` and naming `kid`, and the algorithm to
    /// verify with.
    ///
    /// With a `kid`, the key with that id (refetching once, rate-limited, when the set lacks it);
    /// without one, the only key of the set usable for `alg` (a set with several is ambiguous).
    /// A key whose own `alg` differs from `alg` is never used. Errors:
    /// [`IdTokenError::UnknownKey`], [`IdTokenError::KeyAlgorithmMismatch`], or the fetch's
    /// transport, HTTP or format error with [`Operation::Jwks`].
    pub async fn key(
        &self,
        http: &HttpClient,
        provider: &'static str,
        jwks_uri: &Url,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<(DecodingKey, Algorithm), Error> {
        check_fetch_url(provider, jwks_uri, "jwks_uri")?;
        let slot = self.store.slot(jwks_uri);
        let fetch = || fetch_key_set(http, provider, jwks_uri);
        let got = slot.get(&*self.clock, fetch).await?;
        match got.value.find(kid, alg) {
            Lookup::Found(key) => return Ok((key.clone(), alg)),
            Lookup::NotUsable => return Err(oidc_error(provider, IdTokenError::KeyAlgorithmMismatch)),
            Lookup::Missing if got.fetched_now => return Err(oidc_error(provider, IdTokenError::UnknownKey)),
            Lookup::Missing => {}
        }
        let refetched =
            slot.refetch_newer(&*self.clock, got.attempt, self.min_refetch_interval, fetch).await?;
        let Some(got) = refetched else {
            tracing::debug!(provider, url = %jwks_uri, "unknown kid; refetch rate-limited");
            return Err(oidc_error(provider, IdTokenError::UnknownKey));
        };
        match got.value.find(kid, alg) {
            Lookup::Found(key) => Ok((key.clone(), alg)),
            Lookup::NotUsable => Err(oidc_error(provider, IdTokenError::KeyAlgorithmMismatch)),
            Lookup::Missing => Err(oidc_error(provider, IdTokenError::UnknownKey)),
        }
    }

    /// How many times `jwks_uri` was fetched (for tests and metrics).
    pub fn fetch_count(&self, jwks_uri: &Url) -> u64 {
        self.store.fetch_count(jwks_uri)
    }
}

async fn fetch_key_set(
    http: &HttpClient,
    provider: &'static str,
    jwks_uri: &Url,
) -> Result<(KeySet, Duration), Error> {
    let request = http
        .request(reqwest::Method::GET, jwks_uri.clone())
        .header(reqwest::header::ACCEPT, "application/jwk-set+json, application/json");
    let response = http.send(request, provider, Operation::Jwks).await?;
    if !response.is_success() {
        return Err(Error::HttpStatus { provider, operation: Operation::Jwks, status: response.status });
    }
    let set = KeySet::from_json(provider, &response.body)?;
    tracing::debug!(provider, url = %jwks_uri, keys = set.keys.len(), "fetched signing keys");
    Ok((set, cache_ttl(response.cache_control.as_deref())))
}

/// The usable keys of one JWK Set.
pub(crate) struct KeySet {
    keys: Vec<Key>,
}

struct Key {
    kid: Option<String>,
    kind: KeyKind,
    /// The key's own `alg`, when it declares one.
    alg: Option<Algorithm>,
    key: DecodingKey,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

enum Lookup<'a> {
    Found(&'a DecodingKey),
    /// The named key exists but cannot verify this algorithm.
    NotUsable,
    Missing,
}

impl KeySet {
    /// Parses a JWK Set, keeping only keys usable for signature verification; a key loginkit
    /// cannot read is skipped rather than failing the whole set (providers publish new key types
    /// next to the ones in use).
    pub(crate) fn from_json(provider: &'static str, body: &[u8]) -> Result<Self, Error> {
        let malformed = |detail: &str| Error::malformed(provider, Operation::Jwks, detail);
        let value: Value = serde_json::from_slice(body).map_err(|_| malformed("not valid JSON"))?;
        let Some(Value::Array(entries)) = value.get("keys") else {
            return Err(malformed("no `keys` array"));
        };
        let keys = entries.iter().filter_map(Key::from_value).collect();
        Ok(Self { keys })
    }

    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Lookup<'_> {
        match kid {
            Some(kid) => {
                let mut named = self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid)).peekable();
                if named.peek().is_none() {
                    return Lookup::Missing;
                }
                named.find(|k| k.usable_for(alg)).map_or(Lookup::NotUsable, |k| Lookup::Found(&k.key))
            }
            None => {
                let mut usable = self.keys.iter().filter(|k| k.usable_for(alg));
                match (usable.next(), usable.next()) {
                    (Some(key), None) => Lookup::Found(&key.key),
                    // No key, or several with nothing to choose between them.
                    _ => Lookup::Missing,
                }
            }
        }
    }
}

impl Key {
    fn from_value(value: &Value) -> Option<Self> {
        let jwk: Jwk = serde_json::from_value(value.clone()).ok()?;
        let common = &jwk.common;
        if common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
            return None;
        }
        if common.key_operations.as_ref().is_some_and(|ops| !ops.contains(&KeyOperations::Verify)) {
            return None;
        }
        let alg = match common.key_algorithm {
            // An encryption or unknown algorithm: not a signature key.
            Some(declared) => {
                Some(Algorithm::try_from(declared).ok().filter(|a| super::id_token::is_asymmetric(*a))?)
            }
            None => None,
        };
        let kind = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => KeyKind::Rsa,
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => KeyKind::P256,
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P384 => KeyKind::P384,
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => KeyKind::Ed25519,
            // Symmetric keys are never used: a public key set cannot hold a shared secret.
            _ => return None,
        };
        let key = DecodingKey::from_jwk(&jwk).ok()?;
        let kid = common.key_id.clone();
        let key = Self { kid, kind, alg, key };
        alg.is_none_or(|a| key.kind_verifies(a)).then_some(key)
    }

    fn kind_verifies(&self, alg: Algorithm) -> bool {
        use Algorithm::*;
        matches!(
            (self.kind, alg),
            (KeyKind::Rsa, RS256 | RS384 | RS512 | PS256 | PS384 | PS512)
                | (KeyKind::P256, ES256)
                | (KeyKind::P384, ES384)
                | (KeyKind::Ed25519, EdDSA)
        )
    }

    fn usable_for(&self, alg: Algorithm) -> bool {
        self.kind_verifies(alg) && self.alg.is_none_or(|own| own == alg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real 2048-bit RSA modulus is not needed to test selection; any base64url parses.
    const N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

    fn set(keys: Value) -> KeySet {
        KeySet::from_json("p", serde_json::json!({ "keys": keys }).to_string().as_bytes()).unwrap()
    }

    fn rsa(extra: Value) -> Value {
        let mut key = serde_json::json!({ "kty": "RSA", "n": N, "e": "AQAB" });
        if let (Value::Object(key), Value::Object(extra)) = (&mut key, extra) {
            key.extend(extra);
        }
        key
    }

    #[test]
    fn skips_keys_not_meant_for_signatures() {
        let keys = set(serde_json::json!([
            rsa(serde_json::json!({ "kid": "enc", "use": "enc" })),
            rsa(serde_json::json!({ "kid": "oaep", "alg": "RSA-OAEP" })),
            rsa(serde_json::json!({ "kid": "ops", "key_ops": ["encrypt"] })),
            { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" },
            { "kty": "EC", "kid": "k1", "crv": "secp256k1", "x": "AA", "y": "AA" },
            { "kty": "weird", "kid": "w" },
            rsa(serde_json::json!({ "kid": "sig", "use": "sig", "key_ops": ["verify"] })),
        ]));
        assert_eq!(keys.keys.len(), 1);
        assert!(matches!(keys.find(Some("sig"), Algorithm::RS256), Lookup::Found(_)));
        for kid in ["enc", "oaep", "ops", "hmac", "k1", "w"] {
            assert!(matches!(keys.find(Some(kid), Algorithm::RS256), Lookup::Missing), "{kid}");
        }
        assert!(matches!(keys.find(Some("hmac"), Algorithm::HS256), Lookup::Missing));
    }

    #[test]
    fn a_key_is_used_only_for_its_own_algorithm_and_family() {
        let keys = set(serde_json::json!([rsa(serde_json::json!({ "kid": "a", "alg": "RS256" }))]));
        assert!(matches!(keys.find(Some("a"), Algorithm::RS256), Lookup::Found(_)));
        assert!(matches!(keys.find(Some("a"), Algorithm::PS256), Lookup::NotUsable));
        assert!(matches!(keys.find(Some("a"), Algorithm::ES256), Lookup::NotUsable));
        assert!(matches!(keys.find(Some("a"), Algorithm::HS256), Lookup::NotUsable));
    }

    #[test]
    fn without_kid_only_a_single_usable_key_is_chosen() {
        let one = set(serde_json::json!([rsa(serde_json::json!({ "kid": "a" }))]));
        assert!(matches!(one.find(None, Algorithm::RS256), Lookup::Found(_)));
        assert!(matches!(one.find(None, Algorithm::ES256), Lookup::Missing));
        let two = set(serde_json::json!([
            rsa(serde_json::json!({ "kid": "a" })),
            rsa(serde_json::json!({ "kid": "b" }))
        ]));
        assert!(matches!(two.find(None, Algorithm::RS256), Lookup::Missing));
        let pinned = set(serde_json::json!([
            rsa(serde_json::json!({ "kid": "a", "alg": "RS256" })),
            rsa(serde_json::json!({ "kid": "b", "alg": "PS256" })),
        ]));
        assert!(matches!(pinned.find(None, Algorithm::PS256), Lookup::Found(_)));
    }

    proptest::proptest! {
        #[test]
        fn key_set_parsing_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = KeySet::from_json("p", &body);
        }

        #[test]
        fn key_parsing_never_panics(kty in "(RSA|EC|OKP|oct|x)", crv in "(P-256|P-384|Ed25519|X25519|)", x in "[A-Za-z0-9_-]{0,60}", alg in "(RS256|ES256|EdDSA|HS256|RSA-OAEP|)") {
            let key = serde_json::json!({ "kty": kty, "crv": crv, "x": x, "y": x, "n": x, "e": "AQAB", "k": x, "alg": alg, "kid": "k" });
            let _ = KeySet::from_json("p", serde_json::json!({ "keys": [key] }).to_string().as_bytes());
        }
    }

    #[test]
    fn refuses_documents_without_keys() {
        assert!(matches!(
            KeySet::from_json("p", b"{}"),
            Err(Error::Malformed { operation: Operation::Jwks, .. })
        ));
        assert!(matches!(KeySet::from_json("p", b"nope"), Err(Error::Malformed { .. })));
        assert!(KeySet::from_json("p", br#"{"keys":[]}"#).unwrap().keys.is_empty());
    }
}
