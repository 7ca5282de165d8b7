//! OpenID Connect verification: discovery, signing keys (JWKS), ID tokens and the RFC 9207
//! authorization-response issuer check.
//!
//! The pieces are independent so a provider can use what it needs:
//!
//! - [`DiscoveryCache`] fetches an OpenID Provider's configuration lazily (never at startup, so a
//!   provider that is down degrades that provider only), caches it per URL for the time the
//!   provider's `Cache-Control` allows, coalesces concurrent fetches, and never caches a failure.
//! - [`JwksCache`] holds each provider's signing keys by `jwks_uri`; a token naming an unknown
//!   `kid` triggers one rate-limited refetch, so key rotation works without a restart while a
//!   client spraying random `kid`s cannot make loginkit hammer the provider.
//! - [`IdTokenVerifier`] checks an ID token completely: algorithm allow-list (never `none`, never
//!   HMAC), signature, `iss` (exact, or Microsoft's per-tenant issuer), `aud`, `azp`, `exp`, `iat`,
//!   `nbf` and `nonce`.
//! - [`check_authorization_response_issuer`] is the RFC 9207 mix-up defence for the callback.
//!
//! Every failure is an [`Error`]: transport and HTTP failures keep their usual variants (with
//! [`Operation::Discovery`] or [`Operation::Jwks`]), and OpenID Connect checks are
//! [`Error::IdToken`] with a typed [`IdTokenError`] that never quotes the token.

mod cache;
pub mod discovery;
pub mod id_token;
pub mod jwks;

use std::fmt;
use std::time::{Duration, Instant};

use url::Url;

use crate::error::Error;
#[cfg(doc)]
use crate::error::Operation;

pub use discovery::{DiscoveryCache, ProviderMetadata};
pub use id_token::{IdTokenClaims, IdTokenVerifier, IssuerRule, MICROSOFT_V2_ISSUER_TEMPLATE};
pub use jsonwebtoken::{Algorithm, DecodingKey};
pub use jwks::JwksCache;

/// The `nonce` claim of a provider that puts the SHA-256 of the app's nonce in its ID tokens
/// (Sign in with Apple on Apple's platforms): lowercase hex of SHA-256 of `raw`.
pub fn sha256_nonce(raw: &str) -> crate::Nonce {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(raw.as_bytes());
    crate::Nonce::new(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Shortest time a discovery document or key set is cached, whatever the provider says.
pub const MIN_CACHE_TTL: Duration = Duration::from_secs(60);
/// Longest time a discovery document or key set is cached, whatever the provider says.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(24 * 3600);
/// Cache time when the provider sends no usable `Cache-Control: max-age`.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(3600);

/// Why an OpenID Connect check failed; carried by [`Error::IdToken`].
///
/// Messages never include the token or any claim value; the only value quoted is the `alg` of an
/// algorithm that is not accepted, cut to a short, printable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// The token is not a well-formed signed JWT, or a claim has the wrong type.
    #[error("the ID token is malformed: {detail}")]
    Malformed {
        /// What is wrong (a fixed description, never token content).
        detail: &'static str,
    },
    /// A claim the checks need is absent.
    #[error("the ID token has no `{claim}` claim")]
    MissingClaim {
        /// The claim name.
        claim: &'static str,
    },
    /// The header's `alg` is not accepted (`none` and HMAC never are).
    #[error("the ID token's algorithm `{alg}` is not accepted")]
    UnsupportedAlgorithm {
        /// The `alg` from the header (at most 16 printable characters).
        alg: String,
    },
    /// No key in the provider's key set matches the token, even after a refetch.
    #[error("no key in the provider's key set matches the ID token")]
    UnknownKey,
    /// The key the token names cannot be used with the token's algorithm.
    #[error("the key the ID token names cannot verify its algorithm")]
    KeyAlgorithmMismatch,
    /// The signature does not verify.
    #[error("the ID token's signature is invalid")]
    BadSignature,
    /// `iss` is not the expected issuer.
    #[error("the ID token's issuer is not the expected issuer")]
    WrongIssuer,
    /// `aud` does not contain the client id.
    #[error("the ID token is not addressed to this client")]
    WrongAudience,
    /// The token has several audiences and `azp` is absent, or `azp` is not the client id.
    #[error("the ID token's authorized party is missing or not this client")]
    WrongAuthorizedParty,
    /// `exp` has passed (beyond the leeway).
    #[error("the ID token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the ID token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("the ID token was issued in the future")]
    IssuedInFuture,
    /// `iat` is older than the configured maximum age.
    #[error("the ID token was issued too long ago")]
    TooOld,
    /// A nonce was sent but the token carries none.
    #[error("the ID token has no nonce")]
    MissingNonce,
    /// The token's nonce is not the one sent.
    #[error("the ID token's nonce does not match")]
    WrongNonce,
    /// The user-info `sub` differs from the ID token's (OpenID Connect Core §5.3.2).
    #[error("the user-info subject differs from the ID token's")]
    SubjectMismatch,
    /// The Microsoft tenant (`tid`) is not in the allow-list.
    #[error("the ID token's tenant is not allowed")]
    TenantNotAllowed,
    /// The discovery document's `issuer` is not the expected issuer (OpenID Connect Discovery §4.3).
    #[error("the discovery document's issuer is not the expected issuer")]
    MetadataIssuerMismatch,
    /// The authorization response's `iss` is not the provider's issuer (RFC 9207).
    #[error("the authorization response comes from another issuer")]
    WrongResponseIssuer,
    /// The provider advertises RFC 9207 but the authorization response has no `iss`.
    #[error("the authorization response has no `iss` although the provider sends one")]
    MissingResponseIssuer,
}

/// RFC 9207 check of the `iss` parameter of an authorization response (the callback).
///
/// When `iss` is present it must equal the provider's issuer (simple string comparison); when the
/// provider advertises `authorization_response_iss_parameter_supported` it must be present.
/// This stops mix-up attacks where a code from one provider is replayed into another's callback.
///
/// `metadata_issuer` is [`ProviderMetadata::issuer`]; `advertised` is
/// [`ProviderMetadata::authorization_response_iss_parameter_supported`]
/// ([`ProviderMetadata::check_authorization_response_issuer`] passes both).
pub fn check_authorization_response_issuer(
    provider: &'static str,
    callback_iss: Option<&str>,
    metadata_issuer: &str,
    advertised: bool,
) -> Result<(), Error> {
    match callback_iss {
        Some(iss) if iss == metadata_issuer => Ok(()),
        Some(_) => Err(Error::IdToken { provider, reason: IdTokenError::WrongResponseIssuer }),
        None if advertised => Err(Error::IdToken { provider, reason: IdTokenError::MissingResponseIssuer }),
        None => Ok(()),
    }
}

/// Source of monotonic time for the caches; tests inject a manual clock to cross expiries and
/// rate-limit windows without sleeping.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// How long to cache an answer with this `Cache-Control` header: `max-age` clamped to
/// [[`MIN_CACHE_TTL`], [`MAX_CACHE_TTL`]], [`DEFAULT_CACHE_TTL`] without one, and the minimum for
/// `no-store` / `no-cache` (caching a little is what keeps discovery off every login).
pub(crate) fn cache_ttl(cache_control: Option<&str>) -> Duration {
    let mut max_age = None;
    for directive in cache_control.unwrap_or("").split(',') {
        let (name, value) = match directive.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (directive.trim(), None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return MIN_CACHE_TTL;
        }
        if name.eq_ignore_ascii_case("max-age")
            && let Some(seconds) = value.and_then(|v| v.parse::<u64>().ok())
        {
            max_age = Some(Duration::from_secs(seconds));
        }
    }
    max_age.map_or(DEFAULT_CACHE_TTL, |age| age.clamp(MIN_CACHE_TTL, MAX_CACHE_TTL))
}

/// Only HTTPS, except plain HTTP to loopback hosts, like every other provider endpoint.
pub(crate) fn check_fetch_url(provider: &'static str, url: &Url, what: &str) -> Result<(), Error> {
    crate::standard::check_transport(provider, url, what)
}

/// Equality whose time does not depend on where the inputs differ (only on their lengths, which
/// are not secret for nonces).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

pub(crate) fn oidc_error(provider: &'static str, reason: IdTokenError) -> Error {
    Error::IdToken { provider, reason }
}

/// Shared `Debug` shape of the caches: their size, never their content.
pub(crate) struct CacheSummary(pub(crate) usize);

impl fmt::Debug for CacheSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} url(s)", self.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn apples_nonce_is_the_lowercase_hex_sha256_of_the_raw_one() {
        assert_eq!(
            super::sha256_nonce("abc").secret(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    use super::*;

    #[test]
    fn ttl_follows_max_age_within_bounds() {
        assert_eq!(cache_ttl(None), DEFAULT_CACHE_TTL);
        assert_eq!(cache_ttl(Some("public")), DEFAULT_CACHE_TTL);
        assert_eq!(cache_ttl(Some("public, max-age=300")), Duration::from_secs(300));
        assert_eq!(cache_ttl(Some("Max-Age=\"120\", must-revalidate")), Duration::from_secs(120));
        assert_eq!(cache_ttl(Some("max-age=60")), Duration::from_secs(60));
        assert_eq!(cache_ttl(Some("max-age=0")), MIN_CACHE_TTL);
        assert_eq!(cache_ttl(Some("max-age=5")), MIN_CACHE_TTL);
        assert_eq!(cache_ttl(Some("max-age=31536000")), MAX_CACHE_TTL);
        assert_eq!(cache_ttl(Some("max-age=soon")), DEFAULT_CACHE_TTL);
        assert_eq!(cache_ttl(Some("max-age=-1")), DEFAULT_CACHE_TTL);
        assert_eq!(cache_ttl(Some("")), DEFAULT_CACHE_TTL);
    }

    #[test]
    fn no_store_and_no_cache_get_the_minimum() {
        assert_eq!(cache_ttl(Some("no-store")), MIN_CACHE_TTL);
        assert_eq!(cache_ttl(Some("max-age=3600, no-cache")), MIN_CACHE_TTL);
        assert_eq!(cache_ttl(Some("private, No-Store, max-age=86400")), MIN_CACHE_TTL);
    }

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq(b"n-0S6_WzA2Mj", b"n-0S6_WzA2Mj"));
        assert!(!constant_time_eq(b"n-0S6_WzA2Mj", b"n-0S6_WzA2Mk"));
        assert!(!constant_time_eq(b"n-0S6", b"n-0S6_WzA2Mj"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn fetch_urls_must_be_https_or_loopback() {
        let ok =
            ["https://idp.example/jwks", "http://127.0.0.1:8080/jwks", "http://localhost/x", "http://[::1]/"];
        for url in ok {
            assert!(check_fetch_url("p", &url.parse().unwrap(), "jwks_uri").is_ok(), "{url}");
        }
        let err = check_fetch_url("p", &"http://idp.example/jwks".parse().unwrap(), "jwks_uri").unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
    }

    #[test]
    fn authorization_response_issuer() {
        let iss = "https://idp.example";
        assert!(check_authorization_response_issuer("p", Some(iss), iss, true).is_ok());
        assert!(check_authorization_response_issuer("p", Some(iss), iss, false).is_ok());
        assert!(check_authorization_response_issuer("p", None, iss, false).is_ok());
        let wrong = check_authorization_response_issuer("p", Some("https://evil.example"), iss, false);
        assert!(matches!(wrong, Err(Error::IdToken { reason: IdTokenError::WrongResponseIssuer, .. })));
        let missing = check_authorization_response_issuer("p", None, iss, true);
        assert!(matches!(missing, Err(Error::IdToken { reason: IdTokenError::MissingResponseIssuer, .. })));
    }
}
