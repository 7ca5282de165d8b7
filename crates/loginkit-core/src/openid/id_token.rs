//! ID token verification (OpenID Connect Core §3.1.3.7): header, signature, then claims.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};
use url::Url;

use super::{IdTokenError, JwksCache, constant_time_eq, oidc_error};
use crate::error::Error;
use crate::http::HttpClient;
use crate::profile::EmailTrust;
use crate::secret::{IdToken, Nonce};

/// Microsoft identity platform v2.0 issuer, with the `{tenantid}` placeholder its multi-tenant
/// discovery documents use.
pub const MICROSOFT_V2_ISSUER_TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

/// The placeholder [`IssuerRule::MicrosoftTenant`] substitutes.
const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// Algorithms accepted unless configured otherwise: every asymmetric JWS algorithm loginkit
/// verifies.
pub const DEFAULT_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Default clock-skew allowance for `exp`, `iat` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// Whether `alg` is an asymmetric signature algorithm; HMAC is never acceptable for ID tokens
/// checked against a public key set (a token "signed" with the public key as HMAC secret would
/// otherwise verify).
pub(crate) fn is_asymmetric(alg: Algorithm) -> bool {
    DEFAULT_ALGORITHMS.contains(&alg)
}

/// Which `iss` an ID token (and the discovery document) must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssuerRule {
    /// Exactly this issuer (simple string comparison, as OpenID Connect requires).
    Exact(String),
    /// Any of these issuers, for providers documenting several spellings of one issuer (Google's
    /// `https://accounts.google.com` and `accounts.google.com`).
    OneOf(Vec<String>),
    /// Microsoft's multi-tenant endpoints (`common`, `organizations`): the token's `tid` claim is
    /// substituted for `{tenantid}` in `template` and the result must equal `iss`; with
    /// `allowed_tenants`, `tid` must also be one of them.
    MicrosoftTenant {
        /// The issuer with a `{tenantid}` placeholder, e.g. [`MICROSOFT_V2_ISSUER_TEMPLATE`].
        template: String,
        /// Tenant ids accepted (compared ignoring ASCII case: they are GUIDs); `None` accepts any
        /// tenant, which is what "any Microsoft account" logins mean.
        allowed_tenants: Option<Vec<String>>,
    },
}

impl IssuerRule {
    /// [`IssuerRule::Exact`].
    pub fn exact(issuer: impl Into<String>) -> Self {
        IssuerRule::Exact(issuer.into())
    }

    /// [`IssuerRule::MicrosoftTenant`] with the v2.0 template.
    pub fn microsoft(allowed_tenants: Option<Vec<String>>) -> Self {
        IssuerRule::MicrosoftTenant { template: MICROSOFT_V2_ISSUER_TEMPLATE.to_owned(), allowed_tenants }
    }

    /// Whether a discovery document with this `issuer` belongs to the provider: the exact issuer,
    /// or for Microsoft the template itself (multi-tenant documents) or the template filled with
    /// an accepted tenant (tenant-specific documents).
    pub fn accepts_metadata_issuer(&self, issuer: &str) -> bool {
        match self {
            IssuerRule::Exact(expected) => issuer == expected,
            IssuerRule::OneOf(accepted) => accepted.iter().any(|a| a == issuer),
            IssuerRule::MicrosoftTenant { template, allowed_tenants } => {
                if issuer == template {
                    return true;
                }
                let Some((prefix, suffix)) = template.split_once(TENANT_PLACEHOLDER) else {
                    return false;
                };
                let tenant = issuer.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(suffix));
                tenant.is_some_and(|tid| valid_tenant(tid) && tenant_allowed(allowed_tenants.as_deref(), tid))
            }
        }
    }

    /// Checks a token's `iss` (and for Microsoft its `tid`).
    fn check(&self, provider: &'static str, iss: &str, claims: &Map<String, Value>) -> Result<(), Error> {
        match self {
            IssuerRule::Exact(expected) if iss == expected => Ok(()),
            IssuerRule::Exact(_) => Err(oidc_error(provider, IdTokenError::WrongIssuer)),
            IssuerRule::OneOf(accepted) if accepted.iter().any(|a| a == iss) => Ok(()),
            IssuerRule::OneOf(_) => Err(oidc_error(provider, IdTokenError::WrongIssuer)),
            IssuerRule::MicrosoftTenant { template, allowed_tenants } => {
                let tid = match claims.get("tid") {
                    Some(Value::String(tid)) if valid_tenant(tid) => tid,
                    Some(_) => return Err(malformed(provider, "`tid` is not a tenant id")),
                    None => return Err(oidc_error(provider, IdTokenError::MissingClaim { claim: "tid" })),
                };
                // The token must be issued by the tenant it claims to belong to: a multi-tenant key
                // set signs every tenant's tokens, so only this ties `iss` to `tid`.
                if template.replace(TENANT_PLACEHOLDER, tid) != iss {
                    return Err(oidc_error(provider, IdTokenError::WrongIssuer));
                }
                if !tenant_allowed(allowed_tenants.as_deref(), tid) {
                    return Err(oidc_error(provider, IdTokenError::TenantNotAllowed));
                }
                Ok(())
            }
        }
    }
}

fn valid_tenant(tid: &str) -> bool {
    !tid.is_empty() && tid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn tenant_allowed(allowed: Option<&[String]>, tid: &str) -> bool {
    allowed.is_none_or(|list| list.iter().any(|t| t.eq_ignore_ascii_case(tid)))
}

/// Verifies ID tokens for one client of one provider.
///
/// ```
/// # use loginkit_core::openid::{IdTokenVerifier, IssuerRule};
/// let verifier = IdTokenVerifier::new(IssuerRule::exact("https://accounts.google.com"), "client-id");
/// ```
#[derive(Debug, Clone)]
pub struct IdTokenVerifier {
    issuer: IssuerRule,
    client_id: String,
    /// Further client ids tokens may be addressed to (an app's native clients).
    extra_audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    max_token_age: Option<Duration>,
}

impl IdTokenVerifier {
    /// A verifier for tokens from `issuer` addressed to `client_id`, accepting
    /// [`DEFAULT_ALGORITHMS`] with [`DEFAULT_LEEWAY`] and no maximum age.
    pub fn new(issuer: IssuerRule, client_id: impl Into<String>) -> Self {
        Self {
            issuer,
            client_id: client_id.into(),
            extra_audiences: Vec::new(),
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            leeway: DEFAULT_LEEWAY,
            max_token_age: None,
        }
    }

    /// Accepts only these algorithms. HMAC (`HS*`) is dropped even if listed: ID tokens are checked
    /// against public keys, and `none` cannot be expressed at all.
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().filter(|alg| is_asymmetric(*alg)).collect();
        self
    }

    /// Also accepts tokens addressed to these client ids (`aud`, and `azp` when present): the
    /// ids of an app's native clients (an iOS bundle id, an Android client id) whose ID tokens
    /// the server is shown directly.
    pub fn with_extra_audiences(mut self, audiences: impl IntoIterator<Item = String>) -> Self {
        self.extra_audiences = audiences.into_iter().filter(|a| !a.is_empty()).collect();
        self
    }

    fn accepts_audience(&self, audience: &str) -> bool {
        audience == self.client_id || self.extra_audiences.iter().any(|a| a == audience)
    }

    /// Sets the clock-skew allowance for `exp`, `iat` and `nbf`.
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Refuses tokens whose `iat` is older than `max_age` (plus the leeway).
    pub fn with_max_token_age(mut self, max_age: Duration) -> Self {
        self.max_token_age = Some(max_age);
        self
    }

    /// The issuer rule.
    pub fn issuer(&self) -> &IssuerRule {
        &self.issuer
    }

    /// The client id tokens must be addressed to.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The accepted algorithms.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// Verifies `id_token` and returns its claims.
    ///
    /// In order: the header (its `alg` must be accepted, so `none` and `HS*` stop here before any
    /// key is fetched), the key from `jwks` (by `kid`), the signature, then `iss`, `aud`, `azp`,
    /// `exp`, `iat`, `nbf`, the maximum age, and `nonce`: when `expected_nonce` is given the token
    /// must carry the same one (compared in constant time); when it is not, a nonce in the token is
    /// ignored. `now` is the verification time (injectable for tests).
    #[allow(clippy::too_many_arguments)]
    pub async fn verify(
        &self,
        http: &HttpClient,
        jwks: &JwksCache,
        jwks_uri: &Url,
        provider: &'static str,
        id_token: &IdToken,
        expected_nonce: Option<&Nonce>,
        now: SystemTime,
    ) -> Result<IdTokenClaims, Error> {
        let token = id_token.secret();
        let header = Header::parse(provider, token)?;
        let alg = match header.alg.parse::<Algorithm>() {
            Ok(alg) if self.algorithms.contains(&alg) => alg,
            _ => {
                let alg = printable(&header.alg);
                return Err(oidc_error(provider, IdTokenError::UnsupportedAlgorithm { alg }));
            }
        };
        let (key, alg) = jwks.key(http, provider, jwks_uri, header.kid.as_deref(), alg).await?;
        let claims = verify_signature(provider, token, &key, alg)?;
        self.check_claims(provider, claims, expected_nonce, now)
    }

    fn check_claims(
        &self,
        provider: &'static str,
        claims: Map<String, Value>,
        expected_nonce: Option<&Nonce>,
        now: SystemTime,
    ) -> Result<IdTokenClaims, Error> {
        let fail = |reason| oidc_error(provider, reason);
        let iss = required_str(provider, &claims, "iss")?;
        self.issuer.check(provider, iss, &claims)?;

        let aud = match claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| malformed(provider, "`aud` is not a string or a list of strings"))?,
            Some(_) => return Err(malformed(provider, "`aud` is not a string or a list of strings")),
            None => return Err(fail(IdTokenError::MissingClaim { claim: "aud" })),
        };
        if !aud.iter().any(|a| self.accepts_audience(a)) {
            return Err(fail(IdTokenError::WrongAudience));
        }
        let azp = match claims.get("azp") {
            Some(Value::String(azp)) => Some(azp.clone()),
            Some(_) => return Err(malformed(provider, "`azp` is not a string")),
            None => None,
        };
        // Several audiences: the token must say which one it was issued to; and an `azp` other
        // than us means the token was issued to another client (Core §3.1.3.7 items 4 and 5).
        let azp_ok = match &azp {
            Some(azp) => self.accepts_audience(azp),
            None => aud.len() == 1,
        };
        if !azp_ok {
            return Err(fail(IdTokenError::WrongAuthorizedParty));
        }

        let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let leeway = self.leeway.as_secs();
        let exp = numeric_date(provider, &claims, "exp")?
            .ok_or_else(|| fail(IdTokenError::MissingClaim { claim: "exp" }))?;
        if now_secs >= exp.saturating_add(leeway) {
            return Err(fail(IdTokenError::Expired));
        }
        let iat = numeric_date(provider, &claims, "iat")?
            .ok_or_else(|| fail(IdTokenError::MissingClaim { claim: "iat" }))?;
        if iat > now_secs.saturating_add(leeway) {
            return Err(fail(IdTokenError::IssuedInFuture));
        }
        if let Some(nbf) = numeric_date(provider, &claims, "nbf")?
            && nbf > now_secs.saturating_add(leeway)
        {
            return Err(fail(IdTokenError::NotYetValid));
        }
        if let Some(max_age) = self.max_token_age
            && now_secs.saturating_sub(leeway) > iat.saturating_add(max_age.as_secs())
        {
            return Err(fail(IdTokenError::TooOld));
        }

        let nonce = match claims.get("nonce") {
            Some(Value::String(nonce)) => Some(nonce.as_str()),
            Some(_) => return Err(malformed(provider, "`nonce` is not a string")),
            None => None,
        };
        if let Some(expected) = expected_nonce {
            let Some(nonce) = nonce else {
                return Err(fail(IdTokenError::MissingNonce));
            };
            if !constant_time_eq(nonce.as_bytes(), expected.secret().as_bytes()) {
                return Err(fail(IdTokenError::WrongNonce));
            }
        }

        let sub = required_str(provider, &claims, "sub")?;
        if sub.is_empty() {
            return Err(fail(IdTokenError::MissingClaim { claim: "sub" }));
        }
        let optional =
            |key: &str| claims.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(IdTokenClaims {
            provider,
            sub: sub.to_owned(),
            iss: iss.to_owned(),
            aud,
            azp,
            exp: system_time(exp),
            iat: system_time(iat),
            has_nonce: nonce.is_some(),
            email: optional("email"),
            email_verified: claims.get("email_verified").and_then(flag),
            name: optional("name"),
            picture: optional("picture"),
            raw: claims,
        })
    }
}

/// Entry points for the fuzz targets in `fuzz/`: the parts of verification that read untrusted
/// bytes, without the network. Not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// Runs the header parse, the signature check against `key`, and (when `token`'s payload is a
    /// JSON object) every claim check, on arbitrary input. Must never panic.
    pub fn id_token(token: &str, key: &jsonwebtoken::DecodingKey, nonce: Option<&Nonce>) {
        let verifier = IdTokenVerifier::new(IssuerRule::microsoft(Some(vec!["t".into()])), "client");
        if let Ok(header) = Header::parse("fuzz", token)
            && let Ok(alg) = header.alg.parse::<Algorithm>()
            && let Ok(claims) = verify_signature("fuzz", token, key, alg)
        {
            let _ = verifier.check_claims("fuzz", claims, nonce, SystemTime::now());
        }
        let payload = token.split('.').nth(1).unwrap_or(token);
        if let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)
            && let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&bytes)
        {
            for verifier in [verifier.clone(), IdTokenVerifier::new(IssuerRule::exact("https://i"), "client")]
            {
                let _ = verifier.clone().with_max_token_age(Duration::from_secs(60)).check_claims(
                    "fuzz",
                    claims.clone(),
                    nonce,
                    SystemTime::now(),
                );
            }
        }
    }
}

/// The JOSE header fields loginkit reads, parsed by hand so that `alg: none` and unknown
/// algorithms are reported as such rather than as parse failures.
struct Header {
    alg: String,
    kid: Option<String>,
}

impl Header {
    fn parse(provider: &'static str, token: &str) -> Result<Self, Error> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            // Five parts would be an encrypted token (JWE), which loginkit does not decrypt.
            return Err(malformed(provider, "not a signed JWT (three dot-separated parts)"));
        };
        if header.is_empty() || payload.is_empty() {
            return Err(malformed(provider, "empty header or payload"));
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| malformed(provider, "header is not base64url"))?;
        let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&bytes) else {
            return Err(malformed(provider, "header is not a JSON object"));
        };
        let alg = match fields.get("alg") {
            Some(Value::String(alg)) => alg.clone(),
            _ => return Err(malformed(provider, "header has no `alg`")),
        };
        let kid = match fields.get("kid") {
            Some(Value::String(kid)) => Some(kid.clone()),
            None | Some(Value::Null) => None,
            Some(_) => return Err(malformed(provider, "`kid` is not a string")),
        };
        // RFC 7515 §4.1.11: extensions listed in `crit` must be understood; loginkit knows none.
        if fields.contains_key("crit") {
            return Err(malformed(provider, "header has critical extensions"));
        }
        Ok(Self { alg, kid })
    }
}

/// Checks the signature with jsonwebtoken and returns the claims; every claim check is done
/// afterwards by loginkit against the caller's `now`, so jsonwebtoken's own are off.
fn verify_signature(
    provider: &'static str,
    token: &str,
    key: &jsonwebtoken::DecodingKey,
    alg: Algorithm,
) -> Result<Map<String, Value>, Error> {
    use jsonwebtoken::errors::ErrorKind;
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(error) => Err(match error.kind() {
            ErrorKind::InvalidSignature
            | ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidKeyFormat
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidEddsaKey
            | ErrorKind::InvalidRsaKey(_) => oidc_error(provider, IdTokenError::BadSignature),
            ErrorKind::Json(_) => malformed(provider, "header or payload is not the expected JSON"),
            _ => malformed(provider, "not a decodable JWT"),
        }),
    }
}

fn malformed(provider: &'static str, detail: &'static str) -> Error {
    oidc_error(provider, IdTokenError::Malformed { detail })
}

fn required_str<'a>(
    provider: &'static str,
    claims: &'a Map<String, Value>,
    claim: &'static str,
) -> Result<&'a str, Error> {
    match claims.get(claim) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(malformed(provider, "a string claim has another type")),
        None => Err(oidc_error(provider, IdTokenError::MissingClaim { claim })),
    }
}

/// A NumericDate claim (RFC 7519 §2) in whole seconds; fractions are allowed, negatives are not.
fn numeric_date(
    provider: &'static str,
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<u64>, Error> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or_else(|| malformed(provider, "a date claim is not a non-negative number")),
        Some(_) => Err(malformed(provider, "a date claim is not a number")),
    }
}

fn system_time(secs: u64) -> SystemTime {
    // Year 9999: far enough for any real token, small enough for every platform's SystemTime.
    const MAX_SECS: u64 = 253_402_300_799;
    UNIX_EPOCH + Duration::from_secs(secs.min(MAX_SECS))
}

/// `email_verified` as a boolean: `true`/`false`, the strings Apple sends, or 1/0.
fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        Value::Number(n) if n.as_u64() == Some(1) => Some(true),
        Value::Number(n) if n.as_u64() == Some(0) => Some(false),
        _ => None,
    }
}

/// A header value fit for an error message: short and printable, since it is attacker-chosen.
fn printable(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(16)
        .map(|c| if c.is_ascii_alphanumeric() || "-_.+".contains(c) { c } else { '?' })
        .collect();
    if value.chars().count() > 16 {
        out.push('…');
    }
    out
}

/// The claims of a verified ID token.
///
/// `Debug` shows the standard claims and the names of the others, not their values.
#[derive(Clone)]
#[non_exhaustive]
pub struct IdTokenClaims {
    provider: &'static str,
    /// Subject: the user's stable id at the provider.
    pub sub: String,
    /// Issuer.
    pub iss: String,
    /// Audiences (the client id is one of them).
    pub aud: Vec<String>,
    /// Authorized party, when present.
    pub azp: Option<String>,
    /// Expiry.
    pub exp: SystemTime,
    /// Issue time.
    pub iat: SystemTime,
    /// Whether the token carried a `nonce`.
    pub has_nonce: bool,
    /// `email`, when present and non-empty.
    pub email: Option<String>,
    /// `email_verified` (a boolean, `"true"`/`"false"` as Apple sends it, or 1/0).
    pub email_verified: Option<bool>,
    /// `name`, when present and non-empty.
    pub name: Option<String>,
    /// `picture`, when present and non-empty.
    pub picture: Option<String>,
    raw: Map<String, Value>,
}

impl IdTokenClaims {
    /// Trust in [`IdTokenClaims::email`]: never guessed, `Unknown` without an email or a flag.
    pub fn email_trust(&self) -> EmailTrust {
        match (&self.email, self.email_verified) {
            (Some(_), Some(true)) => EmailTrust::Verified,
            (Some(_), Some(false)) => EmailTrust::Unverified,
            _ => EmailTrust::Unknown,
        }
    }

    /// Any claim, e.g. Microsoft's `tid` or Apple's `is_private_email`.
    ///
    /// # Security Warning
    ///
    /// Includes the `nonce`: never log values wholesale.
    pub fn get(&self, claim: &str) -> Option<&Value> {
        self.raw.get(claim)
    }

    /// All claims.
    ///
    /// # Security Warning
    ///
    /// Includes the `nonce`: never log values wholesale.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// Checks that the user-info answer is about the same user (OpenID Connect Core §5.3.2: the
    /// `sub` there must equal the ID token's, else the user-info answer must not be used).
    pub fn check_subject(&self, userinfo_sub: &str) -> Result<(), Error> {
        if userinfo_sub == self.sub {
            Ok(())
        } else {
            Err(oidc_error(self.provider, IdTokenError::SubjectMismatch))
        }
    }
}

impl fmt::Debug for IdTokenClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenClaims")
            .field("sub", &self.sub)
            .field("iss", &self.iss)
            .field("aud", &self.aud)
            .field("azp", &self.azp)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("has_nonce", &self.has_nonce)
            .field("email_verified", &self.email_verified)
            .field("claims", &self.raw.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn verifier() -> IdTokenVerifier {
        IdTokenVerifier::new(IssuerRule::exact("https://idp.example"), "client")
    }

    fn claims(extra: Value) -> Map<String, Value> {
        let mut claims = serde_json::json!({
            "iss": "https://idp.example", "sub": "u1", "aud": "client", "exp": NOW + 600, "iat": NOW,
        });
        if let (Value::Object(base), Value::Object(extra)) = (&mut claims, extra) {
            for (k, v) in extra {
                if v.is_null() {
                    base.remove(&k);
                } else {
                    base.insert(k, v);
                }
            }
        }
        match claims {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn check(v: &IdTokenVerifier, extra: Value, nonce: Option<&str>) -> Result<IdTokenClaims, IdTokenError> {
        let nonce = nonce.map(|n| Nonce::new(n.to_owned()));
        v.check_claims("p", claims(extra), nonce.as_ref(), UNIX_EPOCH + Duration::from_secs(NOW)).map_err(
            |e| match e {
                Error::IdToken { reason, .. } => reason,
                other => panic!("unexpected {other:?}"),
            },
        )
    }

    #[test]
    fn leeway_applies_at_the_edges() {
        let v = verifier();
        assert!(check(&v, serde_json::json!({ "exp": NOW - 59 }), None).is_ok());
        assert_eq!(
            check(&v, serde_json::json!({ "exp": NOW - 60 }), None).unwrap_err(),
            IdTokenError::Expired
        );
        assert!(check(&v, serde_json::json!({ "iat": NOW + 60 }), None).is_ok());
        assert_eq!(
            check(&v, serde_json::json!({ "iat": NOW + 61 }), None).unwrap_err(),
            IdTokenError::IssuedInFuture
        );
        assert!(check(&v, serde_json::json!({ "nbf": NOW + 60 }), None).is_ok());
        assert_eq!(
            check(&v, serde_json::json!({ "nbf": NOW + 61 }), None).unwrap_err(),
            IdTokenError::NotYetValid
        );
        let strict = verifier().with_leeway(Duration::ZERO);
        assert_eq!(
            check(&strict, serde_json::json!({ "exp": NOW }), None).unwrap_err(),
            IdTokenError::Expired
        );
    }

    #[test]
    fn max_token_age() {
        let v = verifier().with_max_token_age(Duration::from_secs(300));
        assert!(check(&v, serde_json::json!({ "iat": NOW - 300 }), None).is_ok());
        assert_eq!(
            check(&v, serde_json::json!({ "iat": NOW - 400 }), None).unwrap_err(),
            IdTokenError::TooOld
        );
        assert!(check(&verifier(), serde_json::json!({ "iat": NOW - 400 }), None).is_ok());
    }

    #[test]
    fn required_claims_and_types() {
        let v = verifier();
        for claim in ["iss", "sub", "aud", "exp", "iat"] {
            let err = check(&v, serde_json::json!({ claim: null }), None).unwrap_err();
            assert_eq!(err, IdTokenError::MissingClaim { claim }, "{claim}");
        }
        assert!(matches!(
            check(&v, serde_json::json!({ "exp": "soon" }), None),
            Err(IdTokenError::Malformed { .. })
        ));
        assert!(matches!(
            check(&v, serde_json::json!({ "exp": -5 }), None),
            Err(IdTokenError::Malformed { .. })
        ));
        assert!(matches!(
            check(&v, serde_json::json!({ "aud": ["client", 3] }), None),
            Err(IdTokenError::Malformed { .. })
        ));
        assert!(matches!(
            check(&v, serde_json::json!({ "sub": 42 }), None),
            Err(IdTokenError::Malformed { .. })
        ));
        assert!(check(&v, serde_json::json!({ "exp": (NOW + 600) as f64 + 0.5 }), None).is_ok());
        assert_eq!(
            check(&v, serde_json::json!({ "sub": "" }), None).unwrap_err(),
            IdTokenError::MissingClaim { claim: "sub" }
        );
    }

    #[test]
    fn audience_and_authorized_party() {
        let v = verifier();
        assert!(check(&v, serde_json::json!({ "aud": ["client"] }), None).is_ok());
        assert!(check(&v, serde_json::json!({ "aud": ["client", "other"], "azp": "client" }), None).is_ok());
        assert_eq!(
            check(&v, serde_json::json!({ "aud": [] }), None).unwrap_err(),
            IdTokenError::WrongAudience
        );
        assert_eq!(
            check(&v, serde_json::json!({ "aud": "CLIENT" }), None).unwrap_err(),
            IdTokenError::WrongAudience
        );
        assert_eq!(
            check(&v, serde_json::json!({ "aud": "client", "azp": "other" }), None).unwrap_err(),
            IdTokenError::WrongAuthorizedParty
        );
    }

    #[test]
    fn nonce_when_expected_only() {
        let v = verifier();
        assert!(check(&v, serde_json::json!({ "nonce": "n1" }), Some("n1")).unwrap().has_nonce);
        assert!(check(&v, serde_json::json!({ "nonce": "n1" }), None).is_ok());
        assert!(!check(&v, serde_json::json!({}), None).unwrap().has_nonce);
        assert_eq!(check(&v, serde_json::json!({}), Some("n1")).unwrap_err(), IdTokenError::MissingNonce);
        assert_eq!(
            check(&v, serde_json::json!({ "nonce": "n2" }), Some("n1")).unwrap_err(),
            IdTokenError::WrongNonce
        );
        assert_eq!(
            check(&v, serde_json::json!({ "nonce": "n1x" }), Some("n1")).unwrap_err(),
            IdTokenError::WrongNonce
        );
    }

    #[test]
    fn email_verified_shapes_and_trust() {
        let v = verifier();
        let trust = |flag: Value| {
            let claims =
                check(&v, serde_json::json!({ "email": "a@example.com", "email_verified": flag }), None)
                    .unwrap();
            claims.email_trust()
        };
        assert_eq!(trust(Value::Bool(true)), EmailTrust::Verified);
        assert_eq!(trust(Value::from("true")), EmailTrust::Verified);
        assert_eq!(trust(Value::from("false")), EmailTrust::Unverified);
        assert_eq!(trust(Value::from(1)), EmailTrust::Verified);
        assert_eq!(trust(Value::from("yes")), EmailTrust::Unknown);
        assert_eq!(trust(Value::Null), EmailTrust::Unknown);
        let no_email = check(&v, serde_json::json!({ "email_verified": true }), None).unwrap();
        assert_eq!(no_email.email_trust(), EmailTrust::Unknown);
    }

    #[test]
    fn microsoft_issuer_rule() {
        let rule = IssuerRule::microsoft(Some(vec!["AAAA-1".into()]));
        assert!(rule.accepts_metadata_issuer(MICROSOFT_V2_ISSUER_TEMPLATE));
        assert!(rule.accepts_metadata_issuer("https://login.microsoftonline.com/aaaa-1/v2.0"));
        assert!(!rule.accepts_metadata_issuer("https://login.microsoftonline.com/bbbb-2/v2.0"));
        assert!(!rule.accepts_metadata_issuer("https://login.microsoftonline.com/a/b/v2.0"));
        assert!(
            IssuerRule::microsoft(None)
                .accepts_metadata_issuer("https://login.microsoftonline.com/bbbb-2/v2.0")
        );
        assert!(!IssuerRule::exact("https://a.example").accepts_metadata_issuer("https://a.example/"));
    }

    proptest::proptest! {
        #[test]
        fn header_and_signature_checks_never_panic(token in "[A-Za-z0-9_=.-]{0,300}") {
            let key = jsonwebtoken::DecodingKey::from_rsa_components("sXchDaQebHnPiGvyDOAT4saGEUetSyo9", "AQAB").unwrap();
            let _ = Header::parse("p", &token);
            let _ = verify_signature("p", &token, &key, Algorithm::RS256);
        }

        #[test]
        fn claim_checks_never_panic(extra in proptest::collection::btree_map("[a-z]{1,6}", proptest::prelude::any::<i64>(), 0..6)) {
            let extra: Map<String, Value> = extra.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
            let _ = check(&verifier(), Value::Object(extra), Some("n"));
        }
    }

    #[test]
    fn printable_cuts_and_masks() {
        assert_eq!(printable("RS256"), "RS256");
        assert_eq!(printable("none"), "none");
        assert_eq!(printable("a\nb\u{1b}[31m"), "a?b??31m");
        assert_eq!(printable(&"A".repeat(40)), format!("{}…", "A".repeat(16)));
    }

    #[test]
    fn debug_shows_no_claim_values_beyond_the_standard_ones() {
        let claims = check(
            &verifier(),
            serde_json::json!({ "nonce": "secret-nonce", "email": "a@example.com" }),
            Some("secret-nonce"),
        )
        .unwrap();
        let debug = format!("{claims:?}");
        assert!(!debug.contains("secret-nonce") && !debug.contains("a@example.com"), "{debug}");
        assert!(debug.contains("nonce"), "{debug}");
    }
}
