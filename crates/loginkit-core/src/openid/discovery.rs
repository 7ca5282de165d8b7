//! OpenID Provider discovery: the provider configuration document (OpenID Connect Discovery 1.0)
//! and a cache that fetches it lazily, once per URL and TTL, with concurrent callers coalesced.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use url::Url;

use super::cache::Store;
use super::id_token::IssuerRule;
use super::{CacheSummary, Clock, IdTokenError, SystemClock, cache_ttl, check_fetch_url, oidc_error};
use crate::error::{Error, Operation};
use crate::http::HttpClient;

/// The fields of an OpenID Provider configuration that loginkit uses; others are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The issuer identifier; ID tokens' `iss` must equal it (for Microsoft's multi-tenant
    /// endpoints it is a template with `{tenantid}`).
    pub issuer: String,
    /// The authorization endpoint.
    pub authorization_endpoint: Url,
    /// The token endpoint.
    pub token_endpoint: Url,
    /// The user-info endpoint.
    #[serde(default)]
    pub userinfo_endpoint: Option<Url>,
    /// Where the signing keys are published.
    pub jwks_uri: Url,
    /// The RFC 7009 revocation endpoint.
    #[serde(default)]
    pub revocation_endpoint: Option<Url>,
    /// The RP-initiated logout endpoint.
    #[serde(default)]
    pub end_session_endpoint: Option<Url>,
    /// PKCE methods the provider accepts (empty when it does not say).
    #[serde(default, deserialize_with = "null_as_default")]
    pub code_challenge_methods_supported: Vec<String>,
    /// Algorithms the provider signs ID tokens with (required by the specification; empty when a
    /// provider omits it anyway).
    #[serde(default, deserialize_with = "null_as_default")]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// Client authentication methods the token endpoint accepts.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// Whether authorization responses carry `iss` (RFC 9207).
    #[serde(default, deserialize_with = "null_as_default")]
    pub authorization_response_iss_parameter_supported: bool,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl ProviderMetadata {
    /// Parses a configuration document; `issuer` and the endpoints loginkit calls must be present,
    /// and every endpoint must use HTTPS (plain HTTP only to loopback).
    pub fn from_json(provider: &'static str, body: &[u8]) -> Result<Self, Error> {
        let malformed = |detail: &str| Error::malformed(provider, Operation::Discovery, detail);
        let object: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(Value::Object(object)) => object,
            Ok(_) => return Err(malformed("not a JSON object")),
            Err(_) => return Err(malformed("not valid JSON")),
        };
        for field in ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"] {
            if object.get(field).and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
                return Err(Error::MissingField { provider, operation: Operation::Discovery, field });
            }
        }
        let metadata: Self = serde_json::from_value(Value::Object(object))
            .map_err(|_| malformed("a field has the wrong type or an endpoint is not a URL"))?;
        // An https issuer's endpoints are https too: the loopback exception is for a provider that
        // is itself on loopback, never a way for a published document to point at this machine.
        let https_issuer = Url::parse(&metadata.issuer).is_ok_and(|url| url.scheme() == "https");
        for (name, url) in metadata.endpoints() {
            check_fetch_url(provider, url, name)
                .map_err(|_| malformed("an endpoint does not use https (http only for loopback)"))?;
            if https_issuer && url.scheme() != "https" {
                return Err(malformed("an https issuer's endpoint does not use https"));
            }
        }
        Ok(metadata)
    }

    fn endpoints(&self) -> impl Iterator<Item = (&'static str, &Url)> {
        [
            ("authorization_endpoint", Some(&self.authorization_endpoint)),
            ("token_endpoint", Some(&self.token_endpoint)),
            ("userinfo_endpoint", self.userinfo_endpoint.as_ref()),
            ("jwks_uri", Some(&self.jwks_uri)),
            ("revocation_endpoint", self.revocation_endpoint.as_ref()),
            ("end_session_endpoint", self.end_session_endpoint.as_ref()),
        ]
        .into_iter()
        .filter_map(|(name, url)| url.map(|url| (name, url)))
    }

    /// Whether the provider accepts PKCE with `S256`.
    pub fn supports_pkce_s256(&self) -> bool {
        self.code_challenge_methods_supported.iter().any(|m| m == "S256")
    }

    /// The advertised ID-token algorithms that loginkit verifies (asymmetric ones; `none` and
    /// HMAC are dropped), for [`super::IdTokenVerifier::with_algorithms`].
    pub fn signing_algorithms(&self) -> Vec<super::Algorithm> {
        self.id_token_signing_alg_values_supported
            .iter()
            .filter_map(|name| name.parse::<super::Algorithm>().ok())
            .filter(|alg| super::id_token::is_asymmetric(*alg))
            .collect()
    }

    /// [`super::check_authorization_response_issuer`] against this provider's issuer and its
    /// RFC 9207 advertisement.
    pub fn check_authorization_response_issuer(
        &self,
        provider: &'static str,
        callback_iss: Option<&str>,
    ) -> Result<(), Error> {
        super::check_authorization_response_issuer(
            provider,
            callback_iss,
            &self.issuer,
            self.authorization_response_iss_parameter_supported,
        )
    }
}

/// Discovery documents by URL; clones share the cache.
///
/// Documents are fetched on first use (never at startup), kept for the time the provider's
/// `Cache-Control: max-age` allows (clamped to [1 min, 24 h], 1 h without one), fetched once for
/// all concurrent callers of a URL, and never cached when the fetch fails.
#[derive(Clone)]
pub struct DiscoveryCache {
    store: Arc<Store<ProviderMetadata>>,
    clock: Arc<dyn Clock>,
}

impl Default for DiscoveryCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for DiscoveryCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DiscoveryCache").field(&CacheSummary(self.store.len())).finish()
    }
}

impl DiscoveryCache {
    /// An empty cache on the system clock.
    pub fn new() -> Self {
        Self { store: Arc::default(), clock: Arc::new(SystemClock) }
    }

    /// An empty cache on `clock` (tests use a manual clock to cross expiries).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self { store: Arc::default(), clock }
    }

    /// The provider configuration at `discovery_url`, from the cache or fetched.
    ///
    /// The document's `issuer` must be the one `expected_issuer` accepts (OpenID Connect Discovery
    /// §4.3: an exact match, or Microsoft's `{tenantid}` template), else
    /// [`IdTokenError::MetadataIssuerMismatch`]. Transport failures, HTTP errors and malformed
    /// documents are errors with [`Operation::Discovery`]; none of them is cached.
    pub async fn get(
        &self,
        http: &HttpClient,
        provider: &'static str,
        discovery_url: &Url,
        expected_issuer: &IssuerRule,
    ) -> Result<Arc<ProviderMetadata>, Error> {
        check_fetch_url(provider, discovery_url, "discovery URL")?;
        let slot = self.store.slot(discovery_url);
        let fetch = || async {
            let request = http
                .request(reqwest::Method::GET, discovery_url.clone())
                .header(reqwest::header::ACCEPT, "application/json");
            let response = http.send(request, provider, Operation::Discovery).await?;
            if !response.is_success() {
                return Err(Error::HttpStatus {
                    provider,
                    operation: Operation::Discovery,
                    status: response.status,
                });
            }
            let metadata = ProviderMetadata::from_json(provider, &response.body)?;
            // Checked before caching so a document for the wrong issuer is never kept.
            if !expected_issuer.accepts_metadata_issuer(&metadata.issuer) {
                return Err(oidc_error(provider, IdTokenError::MetadataIssuerMismatch));
            }
            tracing::debug!(provider, url = %discovery_url, "fetched OpenID Provider configuration");
            Ok((metadata, cache_ttl(response.cache_control.as_deref())))
        };
        let got = slot.get(&*self.clock, fetch).await?;
        // Checked again on every use: the cached document may have been fetched for another rule.
        if !expected_issuer.accepts_metadata_issuer(&got.value.issuer) {
            return Err(oidc_error(provider, IdTokenError::MetadataIssuerMismatch));
        }
        Ok(got.value)
    }

    /// How many times `discovery_url` was fetched (for tests and metrics).
    pub fn fetch_count(&self, discovery_url: &Url) -> u64 {
        self.store.fetch_count(discovery_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOGLE: &str = r#"{
        "issuer": "https://accounts.google.com",
        "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
        "device_authorization_endpoint": "https://oauth2.googleapis.com/device/code",
        "token_endpoint": "https://oauth2.googleapis.com/token",
        "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
        "revocation_endpoint": "https://oauth2.googleapis.com/revoke",
        "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
        "response_types_supported": ["code", "token", "id_token", "code token", "code id_token", "none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["plain", "S256"]
    }"#;

    #[test]
    fn parses_a_real_document_and_ignores_unknown_fields() {
        let m = ProviderMetadata::from_json("google", GOOGLE.as_bytes()).unwrap();
        assert_eq!(m.issuer, "https://accounts.google.com");
        assert_eq!(m.jwks_uri.as_str(), "https://www.googleapis.com/oauth2/v3/certs");
        assert!(m.supports_pkce_s256());
        assert!(!m.authorization_response_iss_parameter_supported);
        assert_eq!(m.signing_algorithms(), [super::super::Algorithm::RS256]);
        assert_eq!(m.end_session_endpoint, None);
        assert_eq!(m.token_endpoint_auth_methods_supported.as_deref().map(<[_]>::len), Some(2));
    }

    #[test]
    fn an_https_issuer_cannot_point_at_plain_http_even_on_loopback() {
        for field in [
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
            "revocation_endpoint",
        ] {
            let mut document: Value = serde_json::from_str(GOOGLE).unwrap();
            document[field] = Value::String("http://127.0.0.1:8080/steal".into());
            let error = ProviderMetadata::from_json("google", document.to_string().as_bytes()).unwrap_err();
            assert!(error.to_string().contains("https"), "{field}: {error}");
        }
        // A provider that is itself on loopback keeps its plain-http endpoints.
        let local = r#"{"issuer": "http://127.0.0.1:9000", "authorization_endpoint": "http://127.0.0.1:9000/a",
            "token_endpoint": "http://127.0.0.1:9000/t", "jwks_uri": "http://localhost:9000/k"}"#;
        assert!(ProviderMetadata::from_json("oidc", local.as_bytes()).is_ok());
    }

    #[test]
    fn defaults_and_nulls() {
        let doc = r#"{"issuer":"https://i.example","authorization_endpoint":"https://i.example/a",
            "token_endpoint":"https://i.example/t","jwks_uri":"https://i.example/k",
            "code_challenge_methods_supported":null,"id_token_signing_alg_values_supported":["HS256","none","ES256","XYZ"],
            "authorization_response_iss_parameter_supported":true}"#;
        let m = ProviderMetadata::from_json("p", doc.as_bytes()).unwrap();
        assert!(!m.supports_pkce_s256());
        assert!(m.authorization_response_iss_parameter_supported);
        assert_eq!(m.signing_algorithms(), [super::super::Algorithm::ES256]);
        assert!(m.check_authorization_response_issuer("p", None).is_err());
        assert!(m.check_authorization_response_issuer("p", Some("https://i.example")).is_ok());
    }

    #[test]
    fn refuses_incomplete_or_insecure_documents() {
        let missing = r#"{"issuer":"https://i.example","authorization_endpoint":"https://i.example/a","token_endpoint":"https://i.example/t"}"#;
        let err = ProviderMetadata::from_json("p", missing.as_bytes()).unwrap_err();
        assert!(matches!(
            err,
            Error::MissingField { field: "jwks_uri", operation: Operation::Discovery, .. }
        ));
        let insecure = r#"{"issuer":"https://i.example","authorization_endpoint":"https://i.example/a",
            "token_endpoint":"https://i.example/t","jwks_uri":"http://i.example/k"}"#;
        assert!(matches!(
            ProviderMetadata::from_json("p", insecure.as_bytes()),
            Err(Error::Malformed { .. })
        ));
        let not_url = r#"{"issuer":"https://i.example","authorization_endpoint":"nope",
            "token_endpoint":"https://i.example/t","jwks_uri":"https://i.example/k"}"#;
        assert!(matches!(ProviderMetadata::from_json("p", not_url.as_bytes()), Err(Error::Malformed { .. })));
        assert!(matches!(ProviderMetadata::from_json("p", b"[1]"), Err(Error::Malformed { .. })));
        assert!(matches!(ProviderMetadata::from_json("p", b"<html>"), Err(Error::Malformed { .. })));
    }
}
