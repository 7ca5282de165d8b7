//! Apple's quirks: the client secret is a short-lived ES256 JWT signed with the Sign in with Apple
//! key (the `.p8` file), and the profile lives only in the ID token, which is verified against
//! Apple's published keys before anything is read from it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use loginkit_core::serde_json::json;
use loginkit_core::url::Url;
use loginkit_core::{
    ClientSecret, ClientSecretSource, Error, ExchangeRequest, HttpClient, IdTokenVerifier, IssuerRule,
    JwksCache, OAuthProvider, Operation, ProviderConfig, StandardProvider, TokenSet, UserProfile,
    async_trait,
};

/// Apple accepts client secrets valid for up to six months; a day keeps a leaked one short-lived.
const SECRET_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// A cached secret is replaced this long before it expires, so none expires in flight.
const RENEW_BEFORE: Duration = Duration::from_secs(3600);
/// The `aud` Apple requires in client secrets, and the `iss` of its ID tokens.
const AUDIENCE: &str = "https://appleid.apple.com";
/// Where Apple publishes its ID-token signing keys.
const KEYS_URL: &str = "https://appleid.apple.com/auth/keys";

/// Sign in with Apple: standard token calls with a signed client secret; the profile from the
/// verified ID token.
#[derive(Debug)]
pub struct Apple {
    standard: StandardProvider,
    verifier: IdTokenVerifier,
    jwks: JwksCache,
    jwks_uri: Url,
}

/// The descriptor's constructor: signs client secrets when `team_id`, `key_id` and `private_key`
/// are configured, else uses the configured (pre-generated) client secret.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    let provider = descriptor.id;
    let value = |key| config.get_param(key).map(str::trim).filter(|v| !v.is_empty());
    let standard = match (value("team_id"), value("key_id"), value("private_key")) {
        (Some(team_id), Some(key_id), Some(pem)) => {
            let signer =
                Arc::new(SecretSigner::new(provider, team_id, key_id, config.client_id.as_str(), pem)?);
            let first = signer.secret_at(SystemTime::now())?;
            let source = ClientSecretSource::new(move || signer.secret_at(SystemTime::now()));
            StandardProvider::new(descriptor, config.client_secret(first.secret().clone()), http)?
                .with_client_secret_source(source)
        }
        (None, None, None) => StandardProvider::new(descriptor, config, http)?,
        _ => {
            return Err(Error::Config {
                provider,
                message: "`team_id`, `key_id` and `private_key` go together: set all three to have the \
                          client secret signed, or none to use a pre-generated one"
                    .to_owned(),
            });
        }
    };
    let verifier = IdTokenVerifier::new(IssuerRule::exact(AUDIENCE), standard.config().client_id.as_str());
    let jwks_uri = standard.resolve_url(KEYS_URL)?;
    Ok(Box::new(Apple { standard, verifier, jwks: JwksCache::new(), jwks_uri }))
}

#[async_trait]
impl OAuthProvider for Apple {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn exchange_code(&self, request: &ExchangeRequest<'_>) -> Result<TokenSet, Error> {
        let mut tokens = self.standard.exchange_code(request).await?;
        let provider = self.standard.descriptor().id;
        let id_token = tokens.id_token.as_ref().ok_or(Error::MissingField {
            provider,
            operation: Operation::ExchangeCode,
            field: "id_token",
        })?;
        let claims = self
            .verifier
            .verify(
                self.standard.http(),
                &self.jwks,
                &self.jwks_uri,
                provider,
                id_token,
                request.nonce,
                SystemTime::now(),
            )
            .await?;
        tokens.id_token_claims = Some(claims);
        tokens.name = user_name(request.callback_param("user"));
        Ok(tokens)
    }

    /// Apple's native ID tokens carry the SHA-256 (hex) of the app's nonce, and Apple requires one.
    async fn verify_native_id_token(
        &self,
        id_token: &loginkit_core::IdToken,
        raw_nonce: Option<&str>,
        audiences: &[String],
    ) -> Result<loginkit_core::openid::IdTokenClaims, Error> {
        let provider = self.standard.descriptor().id;
        let Some(raw) = raw_nonce.filter(|n| !n.is_empty()) else {
            return Err(Error::IdToken { provider, reason: loginkit_core::IdTokenError::MissingNonce });
        };
        let expected = loginkit_core::openid::sha256_nonce(raw);
        let verifier = self.verifier.clone().with_extra_audiences(audiences.iter().cloned());
        verifier
            .verify(
                self.standard.http(),
                &self.jwks,
                &self.jwks_uri,
                provider,
                id_token,
                Some(&expected),
                SystemTime::now(),
            )
            .await
    }

    /// Apple has no user-info endpoint: the profile is the verified ID token's claims, and the
    /// name the callback's `user` field carried (Apple sends it on the first sign-in only).
    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let claims = tokens.id_token_claims.as_ref().ok_or(Error::Unsupported {
            provider: self.standard.descriptor().id,
            capability: "a profile without a verified ID token",
        })?;
        Ok(UserProfile::new(claims.sub.clone())
            .with_email(claims.email.clone(), claims.email_trust())
            .with_name(tokens.name.clone())
            .with_raw(loginkit_core::serde_json::Value::Object(claims.raw().clone())))
    }
}

/// Longest name kept from the `user` field (it is display text the browser carried).
const MAX_NAME: usize = 256;

/// The name in Apple's one-time `user` form field, `{"name":{"firstName":..,"lastName":..},..}`:
/// its parts joined, control characters dropped, at most [`MAX_NAME`] characters.
fn user_name(user: Option<&str>) -> Option<String> {
    let value: loginkit_core::serde_json::Value = loginkit_core::serde_json::from_str(user?).ok()?;
    let name = value.get("name")?;
    let part = |key: &str| name.get(key).and_then(|v| v.as_str()).unwrap_or_default().trim();
    let full = format!("{} {}", part("firstName"), part("lastName"));
    let clean: String = full.trim().chars().filter(|c| !c.is_control()).take(MAX_NAME).collect();
    (!clean.is_empty()).then_some(clean)
}

/// Signs Apple's client-secret JWT and keeps it until shortly before it expires.
struct SecretSigner {
    provider: &'static str,
    team_id: String,
    key_id: String,
    client_id: String,
    key: EncodingKey,
    cached: Mutex<Option<(ClientSecret, u64)>>,
}

impl SecretSigner {
    fn new(
        provider: &'static str,
        team_id: &str,
        key_id: &str,
        client_id: &str,
        pem: &str,
    ) -> Result<Self, Error> {
        let key = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|_| Error::Config {
            provider,
            message: "`private_key` is not a PEM-encoded P-256 private key (the `.p8` file Apple issues)"
                .to_owned(),
        })?;
        Ok(Self {
            provider,
            team_id: team_id.to_owned(),
            key_id: key_id.to_owned(),
            client_id: client_id.to_owned(),
            key,
            cached: Mutex::new(None),
        })
    }

    /// The secret to send at `now`: the cached one while it has more than [`RENEW_BEFORE`] left.
    fn secret_at(&self, now: SystemTime) -> Result<ClientSecret, Error> {
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut cached = self.cached.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((secret, expires)) = cached.as_ref()
            && expires.saturating_sub(now) > RENEW_BEFORE.as_secs()
        {
            return Ok(secret.clone());
        }
        let expires = now + SECRET_LIFETIME.as_secs();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let claims = json!({
            "iss": self.team_id, "iat": now, "exp": expires, "aud": AUDIENCE, "sub": self.client_id,
        });
        let jwt = encode(&header, &claims, &self.key).map_err(|_| Error::Config {
            provider: self.provider,
            message: "could not sign the client secret with `private_key`".to_owned(),
        })?;
        let secret = ClientSecret::new(jwt);
        *cached = Some((secret.clone(), expires));
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = include_str!("../tests/fixtures/test-only-AuthKey.p8");

    fn signer() -> SecretSigner {
        SecretSigner::new("apple", "TEAM123456", "KEY1234567", "com.example.web", PEM).unwrap()
    }

    #[test]
    fn the_user_field_gives_the_name_once_and_nothing_else() {
        let user = r#"{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"a@b"}"#;
        assert_eq!(user_name(Some(user)), Some("Ada Lovelace".into()));
        assert_eq!(user_name(Some(r#"{"name":{"lastName":" Lovelace "}}"#)), Some("Lovelace".into()));
        assert_eq!(user_name(Some("not json")), None);
        assert_eq!(user_name(Some(r#"{"name":{}}"#)), None);
        assert_eq!(user_name(Some(r#"{"email":"a@b"}"#)), None);
        assert_eq!(user_name(None), None);
        let long = format!(r#"{{"name":{{"firstName":"{}\u0007x"}}}}"#, "é".repeat(300));
        let name = user_name(Some(&long)).unwrap();
        assert_eq!(name.chars().count(), MAX_NAME);
        assert!(!name.contains('\u{7}'));
    }

    #[test]
    fn secrets_are_cached_and_renewed_before_they_expire() {
        let signer = signer();
        let start = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let first = signer.secret_at(start).unwrap();
        let later = signer.secret_at(start + Duration::from_secs(22 * 3600)).unwrap();
        assert_eq!(first.secret(), later.secret(), "still more than an hour left: reused");
        let renewed = signer.secret_at(start + Duration::from_secs(23 * 3600 + 1)).unwrap();
        assert_ne!(first.secret(), renewed.secret(), "under an hour left: renewed");
    }

    #[test]
    fn a_bad_key_is_a_configuration_error_that_does_not_quote_it() {
        let Err(err) = SecretSigner::new("apple", "T", "K", "c", "-----BEGIN PRIVATE KEY-----\nnot-a-key\n")
        else {
            panic!("a bad key was accepted");
        };
        assert!(matches!(err, Error::Config { .. }));
        assert!(!err.to_string().contains("not-a-key"));
    }
}
