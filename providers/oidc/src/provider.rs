//! The generic OpenID Connect provider: endpoints from the provider's discovery document (fetched
//! lazily and cached) or from configuration, and ID tokens verified against the provider's keys.

use std::sync::Arc;
use std::time::SystemTime;

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::openid::ProviderMetadata;
use loginkit_core::url::Url;
use loginkit_core::{
    AuthorizeRequest, DiscoveryCache, Endpoint, Error, ExchangeRequest, HttpClient, IdTokenVerifier,
    IssuerRule, JwksCache, OAuthProvider, Operation, ProviderConfig, RefreshToken, StandardProvider,
    TokenRef, TokenSet, UserProfile, async_trait,
};

/// Configuration keys holding endpoint URLs, and the endpoints each one sets.
const ENDPOINT_KEYS: &[(&str, &[Endpoint])] = &[
    ("authorization_url", &[Endpoint::Authorize]),
    ("token_url", &[Endpoint::Token, Endpoint::Refresh]),
    ("userinfo_url", &[Endpoint::UserInfo]),
];

const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// The descriptor's constructor.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    let config_error = |message: String| Error::Config { provider: descriptor.id, message };
    if let Some(max_age) = param(&config, "max_age")
        && max_age.parse::<u32>().is_err()
    {
        return Err(config_error(format!("key `max_age` must be a number of seconds, not `{max_age}`")));
    }
    let client_id = config.client_id.as_str().to_owned();
    // Compared exactly as configured (`https://tenant.auth0.com/` ends with a slash, and its
    // documents and tokens say so); the slash is dropped only to build the discovery URL.
    let issuer = param(&config, "issuer").map(str::to_owned);
    let well_known = match (param(&config, "well_known_url"), &issuer) {
        (Some(_), _) => Some(url_key(descriptor, &config, "well_known_url")?),
        (None, Some(issuer)) if param(&config, "authorization_url").is_none() => Some(
            Url::parse(&format!("{}{WELL_KNOWN}", issuer.trim_end_matches('/')))
                .map_err(|_| config_error("key `issuer` is not a URL".into()))?,
        ),
        _ => None,
    };
    let mut config = config;
    let mode = match well_known {
        Some(url) => {
            // The document's issuer must be the URL it was fetched from, minus the well-known path.
            let expected = match issuer {
                Some(issuer) => issuer,
                None => url.as_str().strip_suffix(WELL_KNOWN).map(str::to_owned).ok_or_else(|| {
                    config_error(format!("key `well_known_url` must end with `{WELL_KNOWN}`"))
                })?,
            };
            // Until the document is read, every endpoint points at it: nothing is ever sent there.
            for (_, endpoints) in ENDPOINT_KEYS {
                for endpoint in *endpoints {
                    config = config.endpoint(*endpoint, url.clone());
                }
            }
            Mode::Discovered { url, issuer: IssuerRule::exact(expected), cache: DiscoveryCache::new() }
        }
        None => {
            for (key, endpoints) in ENDPOINT_KEYS {
                let url = url_key(descriptor, &config, key)?;
                for endpoint in *endpoints {
                    config = config.endpoint(*endpoint, url.clone());
                }
            }
            if param(&config, "revocation_url").is_some() {
                let url = url_key(descriptor, &config, "revocation_url")?;
                config = config.endpoint(Endpoint::Revoke, url);
            }
            let jwks = match (issuer, param(&config, "jwks_url")) {
                (Some(issuer), Some(_)) => {
                    Some((IssuerRule::exact(issuer), url_key(descriptor, &config, "jwks_url")?))
                }
                (None, None) => None,
                _ => return Err(config_error("set both `issuer` and `jwks_url` to verify ID tokens".into())),
            };
            Mode::Static { jwks }
        }
    };
    let standard = StandardProvider::new(descriptor, config.clone(), http.clone())?;
    Ok(Box::new(Oidc { standard, config, http, client_id, mode, jwks: JwksCache::new() }))
}

fn param<'a>(config: &'a ProviderConfig, key: &str) -> Option<&'a str> {
    config.get_param(key).map(str::trim).filter(|v| !v.is_empty())
}

fn url_key(descriptor: &ProviderDescriptor, config: &ProviderConfig, key: &str) -> Result<Url, Error> {
    let config_error = |message: String| Error::Config { provider: descriptor.id, message };
    let description = descriptor.config_key(key).map_or("", |k| k.description);
    let raw = param(config, key).ok_or_else(|| {
        config_error(format!(
            "missing key `{key}` ({description}); or set `issuer` / `well_known_url` for discovery"
        ))
    })?;
    let url = Url::parse(raw).map_err(|_| config_error(format!("key `{key}` is not an absolute URL")))?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(config_error(format!("key `{key}` may not carry credentials or a fragment")));
    }
    Ok(url)
}

enum Mode {
    /// Endpoints from configuration; ID tokens verified when `issuer` and `jwks_url` are set.
    Static { jwks: Option<(IssuerRule, Url)> },
    /// Endpoints, issuer and keys from the discovery document.
    Discovered { url: Url, issuer: IssuerRule, cache: DiscoveryCache },
}

struct Oidc {
    standard: StandardProvider,
    config: ProviderConfig,
    http: HttpClient,
    client_id: String,
    mode: Mode,
    jwks: JwksCache,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The endpoints and verification rules in force for one call.
struct Resolved {
    standard: Option<StandardProvider>,
    metadata: Option<Arc<ProviderMetadata>>,
    verify: Option<(IdTokenVerifier, Url)>,
}

impl Oidc {
    fn id(&self) -> &'static str {
        self.standard.descriptor().id
    }

    async fn resolve(&self) -> Result<Resolved, Error> {
        match &self.mode {
            Mode::Static { jwks } => Ok(Resolved {
                standard: None,
                metadata: None,
                verify: jwks.as_ref().map(|(issuer, url)| {
                    (IdTokenVerifier::new(issuer.clone(), self.client_id.clone()), url.clone())
                }),
            }),
            Mode::Discovered { url, issuer, cache } => {
                let metadata = cache.get(&self.http, self.id(), url, issuer).await?;
                let mut config = self
                    .config
                    .clone()
                    .endpoint(Endpoint::Authorize, metadata.authorization_endpoint.clone())
                    .endpoint(Endpoint::Token, metadata.token_endpoint.clone())
                    .endpoint(Endpoint::Refresh, metadata.token_endpoint.clone());
                if let Some(userinfo) = &metadata.userinfo_endpoint {
                    config = config.endpoint(Endpoint::UserInfo, userinfo.clone());
                }
                if let Some(revoke) = &metadata.revocation_endpoint {
                    config = config.endpoint(Endpoint::Revoke, revoke.clone());
                }
                let standard = StandardProvider::new(self.standard.descriptor(), config, self.http.clone())?;
                let mut verifier =
                    IdTokenVerifier::new(IssuerRule::exact(metadata.issuer.clone()), self.client_id.clone());
                let algorithms = metadata.signing_algorithms();
                if !algorithms.is_empty() {
                    verifier = verifier.with_algorithms(algorithms);
                }
                let jwks_uri = metadata.jwks_uri.clone();
                Ok(Resolved {
                    standard: Some(standard),
                    metadata: Some(metadata),
                    verify: Some((verifier, jwks_uri)),
                })
            }
        }
    }
}

impl Resolved {
    fn standard<'a>(&'a self, fallback: &'a StandardProvider) -> &'a StandardProvider {
        self.standard.as_ref().unwrap_or(fallback)
    }
}

#[async_trait]
impl OAuthProvider for Oidc {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    fn authorize_url(&self, request: &AuthorizeRequest<'_>) -> Result<Url, Error> {
        match &self.mode {
            Mode::Static { .. } => self.standard.authorize_url(request),
            // The endpoint is in the discovery document: only `authorize` can fetch it.
            Mode::Discovered { .. } => Err(Error::Unsupported {
                provider: self.id(),
                capability: "a synchronous authorize URL with discovery (call `authorize`)",
            }),
        }
    }

    async fn authorize(&self, request: &AuthorizeRequest<'_>) -> Result<Url, Error> {
        let resolved = self.resolve().await?;
        resolved.standard(&self.standard).authorize_url(request)
    }

    async fn exchange_code(&self, request: &ExchangeRequest<'_>) -> Result<TokenSet, Error> {
        let resolved = self.resolve().await?;
        if let Some(metadata) = &resolved.metadata {
            // RFC 9207: a callback `iss` naming another provider is a mix-up attack.
            metadata.check_authorization_response_issuer(self.id(), request.callback_param("iss"))?;
        }
        let mut tokens = resolved.standard(&self.standard).exchange_code(request).await?;
        if let Some((verifier, jwks_uri)) = &resolved.verify {
            let id_token = tokens.id_token.as_ref().ok_or(Error::MissingField {
                provider: self.id(),
                operation: Operation::ExchangeCode,
                field: "id_token",
            })?;
            let claims = verifier
                .verify(
                    &self.http,
                    &self.jwks,
                    jwks_uri,
                    self.id(),
                    id_token,
                    request.nonce,
                    SystemTime::now(),
                )
                .await?;
            tokens.id_token_claims = Some(claims);
        }
        Ok(tokens)
    }

    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let resolved = self.resolve().await?;
        let has_userinfo = resolved.metadata.as_ref().is_none_or(|m| m.userinfo_endpoint.is_some());
        match (&tokens.id_token_claims, has_userinfo) {
            (Some(claims), false) => Ok(UserProfile::new(claims.sub.clone())
                .with_email(claims.email.clone(), claims.email_trust())
                .with_name(claims.name.clone())
                .with_avatar_url(claims.picture.clone())),
            (claims, _) => {
                let profile = resolved.standard(&self.standard).user_profile(tokens).await?;
                if let Some(claims) = claims {
                    // OpenID Connect Core §5.3.2: user info about another subject is not used.
                    claims.check_subject(&profile.id)?;
                }
                Ok(profile)
            }
        }
    }

    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenSet, Error> {
        let resolved = self.resolve().await?;
        let mut tokens = resolved.standard(&self.standard).refresh(refresh_token).await?;
        // OpenID Connect Core §12.2: a refreshed ID token passes the login's checks but the nonce.
        if let (Some((verifier, jwks_uri)), Some(id_token)) = (&resolved.verify, &tokens.id_token) {
            let claims = verifier
                .verify(&self.http, &self.jwks, jwks_uri, self.id(), id_token, None, SystemTime::now())
                .await?;
            tokens.id_token_claims = Some(claims);
        }
        Ok(tokens)
    }

    async fn verify_native_id_token(
        &self,
        id_token: &loginkit_core::IdToken,
        raw_nonce: Option<&str>,
        audiences: &[String],
    ) -> Result<loginkit_core::openid::IdTokenClaims, Error> {
        let resolved = self.resolve().await?;
        let Some((verifier, jwks_uri)) = &resolved.verify else {
            return Err(Error::Unsupported {
                provider: self.id(),
                capability: "ID-token sign-in (no `jwks_url`)",
            });
        };
        let verifier = verifier.clone().with_extra_audiences(audiences.iter().cloned());
        let nonce = raw_nonce.map(|n| loginkit_core::Nonce::new(n.to_owned()));
        verifier
            .verify(&self.http, &self.jwks, jwks_uri, self.id(), id_token, nonce.as_ref(), SystemTime::now())
            .await
    }

    async fn revoke(&self, token: TokenRef<'_>) -> Result<(), Error> {
        let resolved = self.resolve().await?;
        let endpoint = match &resolved.metadata {
            Some(metadata) => metadata.revocation_endpoint.is_some(),
            None => param(&self.config, "revocation_url").is_some(),
        };
        if !endpoint {
            return Err(Error::Unsupported { provider: self.id(), capability: "token revocation" });
        }
        resolved.standard(&self.standard).revoke(token).await
    }
}
