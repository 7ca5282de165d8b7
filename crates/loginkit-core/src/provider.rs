//! The `OAuthProvider` trait, its typed requests, and provider configuration.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use url::Url;

use crate::descriptor::ProviderDescriptor;
use crate::error::Error;
use crate::profile::UserProfile;
use crate::secret::{
    AccessToken, AuthorizationCode, ClientId, ClientSecret, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RefreshToken,
};
use crate::standard::StandardProvider;
use crate::token::TokenSet;

/// A configured provider: builds authorize URLs and talks to the provider's endpoints.
///
/// Every method has a default that delegates to the data-driven [`StandardProvider`] returned by
/// [`OAuthProvider::standard`]; a provider overrides only its quirks. Providers hold no flow
/// logic: state, PKCE generation, nonce checks, storage and sessions belong to the flow.
#[async_trait]
pub trait OAuthProvider: Send + Sync + fmt::Debug {
    /// The data-driven implementation this provider builds on.
    fn standard(&self) -> &StandardProvider;

    /// The provider's static descriptor.
    fn descriptor(&self) -> &'static ProviderDescriptor {
        self.standard().descriptor()
    }

    /// The URL to send the browser to.
    fn authorize_url(&self, request: &AuthorizeRequest<'_>) -> Result<Url, Error> {
        self.standard().authorize_url(request)
    }

    /// The URL to send the browser to, for providers that must fetch something first (an
    /// OpenID Connect discovery document). Flows call this one; the default is
    /// [`OAuthProvider::authorize_url`].
    async fn authorize(&self, request: &AuthorizeRequest<'_>) -> Result<Url, Error> {
        self.authorize_url(request)
    }

    /// Exchanges an authorization code for tokens.
    async fn exchange_code(&self, request: &ExchangeRequest<'_>) -> Result<TokenSet, Error> {
        self.standard().exchange_code(request).await
    }

    /// Fetches the signed-in user's profile.
    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        self.standard().user_profile(tokens).await
    }

    /// Obtains fresh tokens with a refresh token. A refresh answer without a refresh token keeps
    /// the one used.
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenSet, Error> {
        self.standard().refresh(refresh_token).await
    }

    /// Revokes a token at the provider (RFC 7009 or the provider's own endpoint).
    async fn revoke(&self, token: TokenRef<'_>) -> Result<(), Error> {
        self.standard().revoke(token).await
    }

    /// Verifies an ID token an app obtained natively (Google Credential Manager, Sign in with
    /// Apple on iOS) with the checks of a login's, also accepting `audiences`. `raw_nonce` is the
    /// nonce the app generated; each provider knows how its tokens carry it (Google as given,
    /// Apple as its SHA-256). `Error::Unsupported` for providers whose ID tokens loginkit does not
    /// verify.
    async fn verify_native_id_token(
        &self,
        id_token: &crate::IdToken,
        raw_nonce: Option<&str>,
        audiences: &[String],
    ) -> Result<crate::openid::IdTokenClaims, Error> {
        let nonce = raw_nonce.map(|n| Nonce::new(n.to_owned()));
        self.standard().verify_native_id_token(id_token, nonce.as_ref(), audiences).await
    }
}

/// Input of [`OAuthProvider::authorize_url`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct AuthorizeRequest<'a> {
    /// The callback URL registered with the provider.
    pub redirect_uri: &'a Url,
    /// The opaque `state` value.
    pub state: &'a str,
    /// Scopes requested in addition to the provider's defaults.
    pub scopes: &'a [String],
    /// PKCE challenge; sent only to providers with the `pkce` capability.
    pub pkce_challenge: Option<&'a PkceCodeChallenge>,
    /// OpenID Connect nonce; sent only to providers with the `oidc` capability.
    pub nonce: Option<&'a Nonce>,
    /// Further authorize parameters (`login_hint`, ...); reserved names are refused.
    pub extra_params: &'a [(String, String)],
}

impl<'a> AuthorizeRequest<'a> {
    /// A request with a redirect URI and a state, and nothing else.
    pub fn new(redirect_uri: &'a Url, state: &'a str) -> Self {
        Self { redirect_uri, state, scopes: &[], pkce_challenge: None, nonce: None, extra_params: &[] }
    }

    /// Adds scopes to the defaults.
    pub fn scopes(mut self, scopes: &'a [String]) -> Self {
        self.scopes = scopes;
        self
    }

    /// Sets the PKCE challenge.
    pub fn pkce_challenge(mut self, challenge: &'a PkceCodeChallenge) -> Self {
        self.pkce_challenge = Some(challenge);
        self
    }

    /// Sets the nonce.
    pub fn nonce(mut self, nonce: &'a Nonce) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// Sets further authorize parameters.
    pub fn extra_params(mut self, params: &'a [(String, String)]) -> Self {
        self.extra_params = params;
        self
    }
}

/// Input of [`OAuthProvider::exchange_code`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ExchangeRequest<'a> {
    /// The code from the callback.
    pub code: &'a AuthorizationCode,
    /// The same redirect URI as in the authorize URL.
    pub redirect_uri: &'a Url,
    /// The PKCE verifier matching the challenge sent.
    pub pkce_verifier: Option<&'a PkceCodeVerifier>,
    /// Further parameters of the provider's callback, for providers that want some back at the
    /// token endpoint (VK ID's `device_id`) or send profile data there (Apple's `user`).
    pub callback_params: &'a [(String, String)],
    /// The nonce sent in the authorize URL: an OpenID Connect ID token must carry the same one.
    pub nonce: Option<&'a Nonce>,
}

impl<'a> ExchangeRequest<'a> {
    /// An exchange without PKCE.
    pub fn new(code: &'a AuthorizationCode, redirect_uri: &'a Url) -> Self {
        Self { code, redirect_uri, pkce_verifier: None, callback_params: &[], nonce: None }
    }

    /// Sets the callback's further parameters.
    pub fn callback_params(mut self, params: &'a [(String, String)]) -> Self {
        self.callback_params = params;
        self
    }

    /// A further callback parameter by name.
    pub fn callback_param(&self, name: &str) -> Option<&'a str> {
        self.callback_params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Sets the PKCE verifier.
    pub fn pkce_verifier(mut self, verifier: &'a PkceCodeVerifier) -> Self {
        self.pkce_verifier = Some(verifier);
        self
    }

    /// Sets the nonce the ID token must carry.
    pub fn nonce(mut self, nonce: &'a Nonce) -> Self {
        self.nonce = Some(nonce);
        self
    }
}

/// A token to revoke.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum TokenRef<'a> {
    /// An access token.
    Access(&'a AccessToken),
    /// A refresh token.
    Refresh(&'a RefreshToken),
}

impl TokenRef<'_> {
    /// The token value and its RFC 7009 `token_type_hint`.
    pub fn secret_and_hint(&self) -> (&str, &'static str) {
        match self {
            TokenRef::Access(t) => (t.secret(), "access_token"),
            TokenRef::Refresh(t) => (t.secret(), "refresh_token"),
        }
    }
}

/// A provider endpoint, for overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// Authorization endpoint.
    Authorize,
    /// Token endpoint.
    Token,
    /// Refresh endpoint (defaults to the token endpoint).
    Refresh,
    /// Revocation endpoint.
    Revoke,
    /// User-info endpoint.
    UserInfo,
}

/// Credentials and settings of one provider instance.
///
/// `Debug` shows parameter names only: values may be secrets (private keys, tenant secrets).
#[derive(Clone)]
#[non_exhaustive]
pub struct ProviderConfig {
    /// OAuth client id.
    pub client_id: ClientId,
    /// OAuth client secret (absent for public clients).
    pub client_secret: Option<ClientSecret>,
    params: BTreeMap<String, String>,
    base_url: Option<Url>,
    endpoints: BTreeMap<Endpoint, Url>,
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .field("base_url", &self.base_url)
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

impl ProviderConfig {
    /// A configuration with a client id and secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self::public(client_id).client_secret(client_secret)
    }

    /// A configuration for a public client (no secret).
    pub fn public(client_id: impl Into<String>) -> Self {
        Self {
            client_id: ClientId::new(client_id.into()),
            client_secret: None,
            params: BTreeMap::new(),
            base_url: None,
            endpoints: BTreeMap::new(),
        }
    }

    /// Sets the client secret.
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(ClientSecret::new(secret.into()));
        self
    }

    /// Sets a provider-specific key (`tenant`, `domain`, `prompt`, ...).
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.insert(key.into(), value.into());
        self
    }

    /// Moves every endpoint (overridden ones included) to another origin, keeping its path
    /// (self-hosted instances, tests). A path on `base` is put in front of each endpoint's path.
    pub fn base_url(mut self, base: Url) -> Self {
        self.base_url = Some(base);
        self
    }

    /// Replaces one endpoint URL.
    pub fn endpoint(mut self, endpoint: Endpoint, url: Url) -> Self {
        self.endpoints.insert(endpoint, url);
        self
    }

    /// A provider-specific value.
    pub fn get_param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// Names of the provider-specific keys set.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.params.keys().map(String::as_str)
    }

    pub(crate) fn endpoint_override(&self, endpoint: Endpoint) -> Option<&Url> {
        self.endpoints.get(&endpoint)
    }

    pub(crate) fn base_override(&self) -> Option<&Url> {
        self.base_url.as_ref()
    }

    /// Fills in a default for a key that is absent or blank.
    pub(crate) fn set_default_param(&mut self, key: &str, value: &str) {
        self.params.insert(key.to_owned(), value.to_owned());
    }
}
