//! The data-driven provider: serves any provider whose dialect its descriptor's `OAuth2Spec`
//! describes, and offers its building blocks to providers that override a quirk.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::Value;
use url::Url;

use crate::descriptor::{
    BodyEncoding, ClientAuth, EmailTrustRule, HttpMethod, OpenIdSpec, ProviderDescriptor, RevokeStyle,
    TokenPlacement, UserInfoSpec,
};
use crate::error::{Error, Operation};
use crate::http::{HttpClient, HttpResponse};
use crate::openid::{IdTokenError, IdTokenVerifier, IssuerRule, JwksCache};
use crate::profile::{EmailTrust, UserProfile};
use crate::provider::{AuthorizeRequest, Endpoint, ExchangeRequest, OAuthProvider, ProviderConfig, TokenRef};
use crate::secret::{ClientSecret, CsrfToken, Nonce, RefreshToken};
use crate::token::{TokenSet, decode_object, non_empty_str, parse_token_response, provider_error};

/// Authorize parameters the standard implementation owns; extra parameters may not override them.
const RESERVED_AUTHORIZE_PARAMS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
];

/// Configuration keys implied by `ClientAuth::PrivateKeyJwt`.
const PRIVATE_KEY_PARAMS: &[&str] = &["private_key", "private_key_id", "private_key_alg"];

/// Produces the client secret at each token-endpoint call, for providers whose secret is a
/// short-lived signed JWT (Apple). Must be cheap: it is called on every exchange, refresh and
/// revocation, so implementations cache.
#[derive(Clone)]
pub struct ClientSecretSource(Arc<dyn Fn() -> Result<ClientSecret, Error> + Send + Sync>);

impl ClientSecretSource {
    /// Wraps a secret-producing function.
    pub fn new(produce: impl Fn() -> Result<ClientSecret, Error> + Send + Sync + 'static) -> Self {
        Self(Arc::new(produce))
    }
}

impl std::fmt::Debug for ClientSecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecretSource")
    }
}

/// ID-token verification of one provider instance: the rules, where the keys are, and the
/// instance's key cache (shared by its clones, so keys are fetched once per provider instance).
#[derive(Debug, Clone)]
pub struct IdTokenCheck {
    verifier: IdTokenVerifier,
    jwks_url: Url,
    keys: JwksCache,
    userinfo_subject: Option<&'static str>,
}

impl IdTokenCheck {
    /// Tokens checked by `verifier` against the keys at `jwks_url`; the user-info answer's subject
    /// is read at `userinfo_subject` (a JSON pointer) and must equal the token's `sub`.
    pub fn new(verifier: IdTokenVerifier, jwks_url: Url, userinfo_subject: Option<&'static str>) -> Self {
        Self { verifier, jwks_url, keys: JwksCache::new(), userinfo_subject }
    }

    /// The same check with another issuer rule (same client, key set, algorithms and subject
    /// pointer), for providers whose issuer depends on configuration. Starts a fresh key cache.
    pub fn with_issuer(&self, issuer: IssuerRule) -> Self {
        let verifier = IdTokenVerifier::new(issuer, self.verifier.client_id())
            .with_algorithms(self.verifier.algorithms().iter().copied());
        Self::new(verifier, self.jwks_url.clone(), self.userinfo_subject)
    }

    /// The verifier.
    pub fn verifier(&self) -> &IdTokenVerifier {
        &self.verifier
    }

    /// Where the signing keys are fetched.
    pub fn jwks_url(&self) -> &Url {
        &self.jwks_url
    }
}

/// A provider instance driven entirely by its descriptor.
#[derive(Debug)]
pub struct StandardProvider {
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
    secret_source: Option<ClientSecretSource>,
    authorize: Url,
    token: Url,
    refresh: Url,
    revoke: Option<Url>,
    userinfo: Option<Url>,
    id_token: Option<IdTokenCheck>,
}

#[async_trait::async_trait]
impl OAuthProvider for StandardProvider {
    fn standard(&self) -> &StandardProvider {
        self
    }
}

impl StandardProvider {
    /// Validates `config` against the descriptor and resolves the endpoints.
    pub fn new(
        descriptor: &'static ProviderDescriptor,
        mut config: ProviderConfig,
        http: HttpClient,
    ) -> Result<Self, Error> {
        let id = descriptor.id;
        let spec = &descriptor.oauth2;
        if config.client_id.as_str().trim().is_empty() {
            return Err(Error::config(id, "the client id is empty"));
        }
        let needs_secret =
            matches!(spec.client_auth, ClientAuth::Basic | ClientAuth::Body | ClientAuth::Query);
        if needs_secret && config.client_secret.as_ref().is_none_or(|s| s.secret().is_empty()) {
            return Err(Error::config(id, "a client secret is required"));
        }
        let implied: &[&str] =
            if spec.client_auth == ClientAuth::PrivateKeyJwt { PRIVATE_KEY_PARAMS } else { &[] };
        if let Some(unknown) =
            config.param_names().find(|k| descriptor.config_key(k).is_none() && !implied.contains(k))
        {
            let known: Vec<&str> =
                descriptor.config_keys.iter().map(|k| k.name).chain(implied.iter().copied()).collect();
            let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
            return Err(Error::config(id, format!("unknown key `{unknown}`; known keys: {known}")));
        }
        for key in descriptor.config_keys {
            match (config.get_param(key.name), key.default) {
                (Some(v), _) if !v.trim().is_empty() => {}
                (_, Some(default)) => config.set_default_param(key.name, default),
                (_, None) if key.required => {
                    return Err(Error::config(
                        id,
                        format!("missing required key `{}` ({})", key.name, key.description),
                    ));
                }
                _ => {}
            }
        }
        if spec.client_auth == ClientAuth::PrivateKeyJwt && config.get_param("private_key").is_none() {
            return Err(Error::config(
                id,
                "missing required key `private_key` (PEM key for private_key_jwt)",
            ));
        }
        let resolve =
            |endpoint: Endpoint, template: &str| resolve_endpoint(descriptor, &config, endpoint, template);
        let authorize = resolve(Endpoint::Authorize, spec.authorize_url)?;
        let token = resolve(Endpoint::Token, spec.token_url)?;
        let refresh = resolve(Endpoint::Refresh, spec.refresh_url.unwrap_or(spec.token_url))?;
        // A configured revocation endpoint counts even when the descriptor has none (discovery).
        let revoke = match (spec.revoke_url, config.endpoint_override(Endpoint::Revoke)) {
            (Some(template), _) => Some(resolve(Endpoint::Revoke, template)?),
            (None, Some(_)) => Some(resolve(Endpoint::Revoke, "")?),
            (None, None) => None,
        };
        let userinfo = spec.userinfo.as_ref().map(|u| resolve(Endpoint::UserInfo, u.url)).transpose()?;
        let id_token =
            spec.openid.as_ref().map(|o| id_token_check(descriptor, &config, o)).transpose()?.flatten();
        Ok(Self {
            descriptor,
            config,
            http,
            secret_source: None,
            authorize,
            token,
            refresh,
            revoke,
            userinfo,
            id_token,
        })
    }

    /// Replaces the ID-token check (a provider whose issuer rule depends on configuration, such as
    /// Microsoft's tenant allow-list), or turns it off with `None`.
    pub fn with_id_token_check(mut self, check: Option<IdTokenCheck>) -> Self {
        self.id_token = check;
        self
    }

    /// The ID-token check in force, if the provider verifies ID tokens.
    pub fn id_token_check(&self) -> Option<&IdTokenCheck> {
        self.id_token.as_ref()
    }

    /// Takes the client secret from `source` at each token-endpoint call instead of from the
    /// configuration.
    pub fn with_client_secret_source(mut self, source: ClientSecretSource) -> Self {
        self.secret_source = Some(source);
        self
    }

    /// [`StandardProvider::new`], boxed; the default [`crate::descriptor::BuildFn`].
    pub fn build_boxed(
        descriptor: &'static ProviderDescriptor,
        config: ProviderConfig,
        http: HttpClient,
    ) -> Result<Box<dyn OAuthProvider>, Error> {
        Ok(Box::new(Self::new(descriptor, config, http)?))
    }

    /// The descriptor.
    pub fn descriptor(&self) -> &'static ProviderDescriptor {
        self.descriptor
    }

    /// The validated configuration (defaults filled in).
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// The shared HTTP client.
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The resolved URL of an endpoint, if the provider has it.
    pub fn endpoint_url(&self, endpoint: Endpoint) -> Option<&Url> {
        match endpoint {
            Endpoint::Authorize => Some(&self.authorize),
            Endpoint::Token => Some(&self.token),
            Endpoint::Refresh => Some(&self.refresh),
            Endpoint::Revoke => self.revoke.as_ref(),
            Endpoint::UserInfo => self.userinfo.as_ref(),
        }
    }

    /// Resolves another URL of the provider (placeholders and base-URL override applied), for
    /// calls the descriptor does not list (GitHub's `/user/emails`).
    pub fn resolve_url(&self, template: &str) -> Result<Url, Error> {
        let mut url = fill_placeholders(self.descriptor, &self.config, template)?;
        if let Some(base) = self.config.base_override() {
            url = rebase(&url, base);
        }
        Ok(url)
    }

    /// Default scopes followed by the requested ones, without duplicates.
    pub fn scopes(&self, requested: &[String]) -> Vec<String> {
        let mut scopes: Vec<String> =
            Vec::with_capacity(self.descriptor.default_scopes.len() + requested.len());
        for scope in
            self.descriptor.default_scopes.iter().copied().chain(requested.iter().map(String::as_str))
        {
            if !scope.is_empty() && !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        scopes
    }

    /// Builds the authorize URL.
    pub fn authorize_url(&self, request: &AuthorizeRequest<'_>) -> Result<Url, Error> {
        let spec = &self.descriptor.oauth2;
        let caps = self.descriptor.capabilities;
        if let Some((name, _)) =
            request.extra_params.iter().find(|(k, _)| RESERVED_AUTHORIZE_PARAMS.contains(&k.as_str()))
        {
            return Err(Error::InvalidRequest {
                provider: self.descriptor.id,
                message: format!("`{name}` is set by loginkit and cannot be passed as an extra parameter"),
            });
        }
        let mut url = self.authorize.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair(spec.client_id_param, self.config.client_id.as_str());
            query.append_pair("redirect_uri", request.redirect_uri.as_str());
            if spec.response_type {
                query.append_pair("response_type", "code");
            }
            let scopes = self.scopes(request.scopes);
            if !scopes.is_empty() {
                query.append_pair(spec.scope_param, &scopes.join(spec.scope_delimiter));
            }
            query.append_pair("state", request.state);
            if let (true, Some(challenge)) = (caps.pkce, request.pkce_challenge) {
                query.append_pair("code_challenge", challenge.as_str());
                query.append_pair("code_challenge_method", challenge.method().as_str());
            }
            let nonce_echoed = spec.openid.as_ref().is_none_or(|o| o.nonce);
            if let (true, true, Some(nonce)) = (caps.oidc, nonce_echoed, request.nonce) {
                query.append_pair("nonce", nonce.secret());
            }
            // A login's own parameter replaces a fixed or configured one of the same name.
            let given = |name: &str| request.extra_params.iter().any(|(k, _)| k == name);
            for (name, value) in spec.authorize_params {
                if !given(name) {
                    query.append_pair(name, value);
                }
            }
            for (key, name) in spec.config_params {
                if let Some(value) = self.config.get_param(key).filter(|v| !v.is_empty() && !given(name)) {
                    query.append_pair(name, value);
                }
            }
            for (name, value) in request.extra_params {
                query.append_pair(name, value);
            }
        }
        Ok(url)
    }

    /// Exchanges an authorization code (RFC 6749 §4.1.3).
    pub async fn exchange_code(&self, request: &ExchangeRequest<'_>) -> Result<TokenSet, Error> {
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", request.code.secret().as_str()),
            ("redirect_uri", request.redirect_uri.as_str()),
        ];
        if let (true, Some(verifier)) = (self.descriptor.capabilities.pkce, request.pkce_verifier) {
            params.push(("code_verifier", verifier.secret().as_str()));
        }
        let mut tokens = self.token_call(Operation::ExchangeCode, &self.token, &params).await?;
        self.verify_id_token(&mut tokens, request.nonce).await?;
        Ok(tokens)
    }

    /// Verifies the ID token of a code exchange when the provider has an ID-token check: the token
    /// must be present and valid (with `nonce` when the login sent one); its claims are stored in
    /// [`TokenSet::id_token_claims`]. Without a check this does nothing.
    pub async fn verify_id_token(&self, tokens: &mut TokenSet, nonce: Option<&Nonce>) -> Result<(), Error> {
        let Some(check) = &self.id_token else { return Ok(()) };
        let provider = self.descriptor.id;
        let id_token = tokens.id_token.as_ref().ok_or(Error::MissingField {
            provider,
            operation: Operation::ExchangeCode,
            field: "id_token",
        })?;
        let nonce = nonce.filter(|_| self.descriptor.oauth2.openid.as_ref().is_none_or(|o| o.nonce));
        let claims = check
            .verifier
            .verify(&self.http, &check.keys, &check.jwks_url, provider, id_token, nonce, SystemTime::now())
            .await?;
        tokens.id_token_claims = Some(claims);
        Ok(())
    }

    /// Verifies an ID token an app obtained itself (native sign-in: no code, no redirect), as the
    /// login's would be, also accepting `audiences` (the app's native client ids), with the
    /// `nonce` claim expected to equal `nonce` when one is given.
    pub async fn verify_native_id_token(
        &self,
        id_token: &crate::IdToken,
        nonce: Option<&Nonce>,
        audiences: &[String],
    ) -> Result<crate::openid::IdTokenClaims, Error> {
        let Some(check) = &self.id_token else {
            return Err(Error::Unsupported { provider: self.descriptor.id, capability: "ID-token sign-in" });
        };
        let verifier = check.verifier.clone().with_extra_audiences(audiences.iter().cloned());
        verifier
            .verify(
                &self.http,
                &check.keys,
                &check.jwks_url,
                self.descriptor.id,
                id_token,
                nonce,
                SystemTime::now(),
            )
            .await
    }

    /// OpenID Connect Core §5.3.2: a user-info answer about another subject than the verified ID
    /// token's is not used. Does nothing without verified claims or a subject pointer.
    pub fn check_userinfo_subject(&self, tokens: &TokenSet, userinfo: &Value) -> Result<(), Error> {
        let (Some(check), Some(claims)) = (&self.id_token, &tokens.id_token_claims) else { return Ok(()) };
        let Some(pointer) = check.userinfo_subject else { return Ok(()) };
        match userinfo.pointer(pointer) {
            Some(Value::String(sub)) => claims.check_subject(sub),
            Some(Value::Number(sub)) => claims.check_subject(&sub.to_string()),
            _ => Err(Error::IdToken { provider: self.descriptor.id, reason: IdTokenError::SubjectMismatch }),
        }
    }

    /// Refreshes tokens (RFC 6749 §6), keeping the old refresh token when no new one is issued.
    /// An ID token in the answer is verified like the login's, without the nonce (OpenID Connect
    /// Core §12.2), and its claims kept; the caller compares its `sub` with the login's.
    pub async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenSet, Error> {
        if !self.descriptor.capabilities.refresh {
            return Err(Error::Unsupported { provider: self.descriptor.id, capability: "refresh" });
        }
        let params = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.secret().as_str())];
        let mut tokens = self.token_call(Operation::Refresh, &self.refresh, &params).await?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.clone());
        }
        if let (Some(check), Some(id_token)) = (&self.id_token, &tokens.id_token) {
            let claims = check
                .verifier
                .verify(
                    &self.http,
                    &check.keys,
                    &check.jwks_url,
                    self.descriptor.id,
                    id_token,
                    None,
                    SystemTime::now(),
                )
                .await?;
            tokens.id_token_claims = Some(claims);
        }
        Ok(tokens)
    }

    /// Revokes a token (RFC 7009).
    pub async fn revoke(&self, token: TokenRef<'_>) -> Result<(), Error> {
        let (Some(url), true) = (&self.revoke, self.descriptor.capabilities.revoke) else {
            return Err(Error::Unsupported { provider: self.descriptor.id, capability: "revoke" });
        };
        let response = match (self.descriptor.oauth2.revoke_style, token) {
            (RevokeStyle::Bearer, TokenRef::Access(token)) => {
                let request =
                    self.http.request(reqwest::Method::POST, url.clone()).bearer_auth(token.secret());
                self.http.send(request, self.descriptor.id, Operation::Revoke).await?
            }
            (RevokeStyle::Bearer, _) => {
                return Err(Error::Unsupported {
                    provider: self.descriptor.id,
                    capability: "refresh-token revocation",
                });
            }
            (_, token) => {
                let (secret, hint) = token.secret_and_hint();
                let params = [("token", secret), ("token_type_hint", hint)];
                self.send_with_client_auth(Operation::Revoke, url, HttpMethod::Post, &params).await?
            }
        };
        if response.is_success() {
            return Ok(());
        }
        Err(self.error_from(Operation::Revoke, &response))
    }

    /// Fetches and maps the user profile described by the descriptor's `userinfo`.
    pub async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let (Some(spec), Some(url)) = (&self.descriptor.oauth2.userinfo, &self.userinfo) else {
            return Err(Error::Unsupported { provider: self.descriptor.id, capability: "user info" });
        };
        let value = self.fetch_json(Operation::UserInfo, url.clone(), tokens, spec).await?;
        self.check_userinfo_subject(tokens, &value)?;
        self.map_profile(spec, value)
    }

    /// Performs a user-info style call: the access token placed as `spec` says, JSON answer.
    pub async fn fetch_json(
        &self,
        operation: Operation,
        mut url: Url,
        tokens: &TokenSet,
        spec: &UserInfoSpec,
    ) -> Result<Value, Error> {
        let token = tokens.access_token.secret();
        if let TokenPlacement::Query(name) = spec.token {
            url.query_pairs_mut().append_pair(name, token);
        }
        let method = match spec.method {
            HttpMethod::Post => reqwest::Method::POST,
            _ => reqwest::Method::GET,
        };
        let mut request = self.http.request(method, url);
        request = match spec.token {
            TokenPlacement::Bearer => request.bearer_auth(token),
            TokenPlacement::AuthorizationScheme(scheme) => {
                request.header(reqwest::header::AUTHORIZATION, format!("{scheme} {token}"))
            }
            _ => request,
        };
        if !spec.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("accept")) {
            request = request.header(reqwest::header::ACCEPT, "application/json");
        }
        for (name, value) in spec.headers {
            request = request.header(*name, *value);
        }
        let response = self.http.send(request, self.descriptor.id, operation).await?;
        if !response.is_success() {
            return Err(self.error_from(operation, &response));
        }
        let value: Value = serde_json::from_slice(&response.body)
            .map_err(|_| Error::malformed(self.descriptor.id, operation, "user info is not valid JSON"))?;
        // Some APIs (Slack's `{"ok": false}`) report failures with HTTP 200.
        if let Some((code, description)) = value.as_object().and_then(provider_error) {
            return Err(Error::OAuth {
                provider: self.descriptor.id,
                operation,
                status: response.status,
                code,
                description,
            });
        }
        Ok(value)
    }

    /// Maps a user-info answer to a profile with the pointers of `spec`.
    pub fn map_profile(&self, spec: &UserInfoSpec, value: Value) -> Result<UserProfile, Error> {
        let provider = self.descriptor.id;
        let read_id = |pointer: &str| match value.pointer(pointer) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let Some(id) = std::iter::once(spec.id).chain(spec.id_fallback.iter().copied()).find_map(read_id)
        else {
            return Err(Error::MissingField { provider, operation: Operation::UserInfo, field: "id" });
        };
        let previous_id = spec.previous_id.and_then(read_id);
        let email = first_string(&value, spec.email);
        let trust = match email {
            Some(_) => email_trust(&value, spec.email_trust),
            None => EmailTrust::Unknown,
        };
        Ok(UserProfile::new(id)
            .with_previous_id(previous_id)
            .with_email(email, trust)
            .with_name(first_string(&value, spec.name))
            .with_avatar_url(first_string(&value, spec.avatar))
            .with_raw(value))
    }

    /// Sends a token-endpoint request with the provider's client authentication and parses the
    /// answer with the tolerant token parser.
    pub async fn token_call(
        &self,
        operation: Operation,
        url: &Url,
        params: &[(&str, &str)],
    ) -> Result<TokenSet, Error> {
        let spec = &self.descriptor.oauth2;
        let mut all: Vec<(&str, &str)> = params.to_vec();
        all.extend(spec.token_params.iter().copied());
        let response = self.send_with_client_auth(operation, url, spec.token_method, &all).await?;
        parse_token_response(
            self.descriptor.id,
            operation,
            response.status,
            response.content_type.as_deref(),
            &response.body,
            spec.token_pointer,
        )
    }

    /// Sends `params` to `url` with the provider's client authentication and method.
    pub async fn send_with_client_auth(
        &self,
        operation: Operation,
        url: &Url,
        method: HttpMethod,
        params: &[(&str, &str)],
    ) -> Result<HttpResponse, Error> {
        let id = self.config.client_id.as_str();
        let produced = self.secret_source.as_ref().map(|source| (source.0)()).transpose()?;
        let secret = produced
            .as_ref()
            .or(self.config.client_secret.as_ref())
            .map(|s| s.secret().as_str())
            .unwrap_or("");
        let mut url = url.clone();
        let mut form: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let mut authorization = None;
        let id_param = self.descriptor.oauth2.client_id_param;
        match self.descriptor.oauth2.client_auth {
            ClientAuth::Basic => authorization = Some(basic_credentials(id, secret)),
            ClientAuth::Body => {
                form.push((id_param, id.to_owned()));
                form.push(("client_secret", secret.to_owned()));
            }
            ClientAuth::Query => {
                url.query_pairs_mut().append_pair(id_param, id).append_pair("client_secret", secret);
            }
            ClientAuth::PrivateKeyJwt => {
                form.push((id_param, id.to_owned()));
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                ));
                form.push(("client_assertion", self.client_assertion(&url)?));
            }
            _ => form.push(("client_id", id.to_owned())),
        }
        let spec = &self.descriptor.oauth2;
        let mut request = match (method, spec.token_body) {
            (HttpMethod::Get, _) => {
                url.query_pairs_mut().extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())));
                self.http.request(reqwest::Method::GET, url)
            }
            (_, BodyEncoding::Json) => {
                let object: serde_json::Map<String, Value> =
                    form.into_iter().map(|(k, v)| (k.to_owned(), Value::String(v))).collect();
                self.http.request(reqwest::Method::POST, url).json(&object)
            }
            _ => self.http.request(reqwest::Method::POST, url).form(&form),
        };
        request = request.header(reqwest::header::ACCEPT, "application/json");
        for (name, value) in spec.token_headers {
            request = request.header(*name, *value);
        }
        if let Some(value) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        self.http.send(request, self.descriptor.id, operation).await
    }

    /// The typed error for a non-success answer: the provider's code when it sent one.
    pub fn error_from(&self, operation: Operation, response: &HttpResponse) -> Error {
        let provider = self.descriptor.id;
        let status = response.status;
        match decode_object(provider, operation, status, response.content_type.as_deref(), &response.body) {
            Ok(object) => match provider_error(&object) {
                Some((code, description)) => Error::OAuth { provider, operation, status, code, description },
                None if (200..300).contains(&status) => {
                    Error::malformed(provider, operation, "unexpected answer")
                }
                None => Error::HttpStatus { provider, operation, status },
            },
            Err(error) => error,
        }
    }

    /// A `private_key_jwt` client assertion (RFC 7523 §2.2) for `audience`.
    fn client_assertion(&self, audience: &Url) -> Result<String, Error> {
        use jsonwebtoken::{Algorithm, EncodingKey, Header};
        let provider = self.descriptor.id;
        let pem = self.config.get_param("private_key").unwrap_or_default();
        let alg = match self.config.get_param("private_key_alg").unwrap_or("RS256") {
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            "PS256" => Algorithm::PS256,
            other => return Err(Error::config(provider, format!("unsupported private_key_alg `{other}`"))),
        };
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()),
            _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .map_err(|_| Error::config(provider, "`private_key` is not a valid PEM key for private_key_alg"))?;
        let mut header = Header::new(alg);
        header.kid = self.config.get_param("private_key_id").map(str::to_owned);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let claims = serde_json::json!({
            "iss": self.config.client_id.as_str(),
            "sub": self.config.client_id.as_str(),
            "aud": audience.as_str(),
            "jti": CsrfToken::new_random().secret(),
            "iat": now,
            "exp": now + 60,
        });
        jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|_| Error::config(provider, "could not sign the client assertion"))
    }
}

/// `Authorization: Basic` with both parts form-urlencoded first (RFC 6749 §2.3.1).
fn basic_credentials(id: &str, secret: &str) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", encode(id), encode(secret));
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
}

fn resolve_endpoint(
    descriptor: &'static ProviderDescriptor,
    config: &ProviderConfig,
    endpoint: Endpoint,
    template: &str,
) -> Result<Url, Error> {
    let url = match config.endpoint_override(endpoint) {
        Some(url) => url.clone(),
        None => fill_placeholders(descriptor, config, template)?,
    };
    match config.base_override() {
        Some(base) => check_scheme(descriptor.id, rebase(&url, base)),
        None => check_scheme(descriptor.id, url),
    }
}

/// The ID-token check an [`OpenIdSpec`] describes, or `None` when its issuer or key-set URL names
/// an optional configuration key left empty.
fn id_token_check(
    descriptor: &'static ProviderDescriptor,
    config: &ProviderConfig,
    spec: &OpenIdSpec,
) -> Result<Option<IdTokenCheck>, Error> {
    let unset = |template: &str| {
        placeholders(template).any(|key| {
            !(spec.per_tenant && key == TENANT_ID)
                && config.get_param(key).is_none_or(|v| v.trim().is_empty())
        })
    };
    if unset(spec.issuer) || unset(spec.jwks_url) {
        return Ok(None);
    }
    let issuer = fill_template(descriptor, config, spec.issuer, spec.per_tenant.then_some(TENANT_ID))?;
    let rule = if spec.per_tenant {
        IssuerRule::MicrosoftTenant { template: issuer, allowed_tenants: None }
    } else if spec.issuer_aliases.is_empty() {
        IssuerRule::Exact(issuer)
    } else {
        let mut accepted = vec![issuer];
        for alias in spec.issuer_aliases {
            accepted.push(fill_template(descriptor, config, alias, None)?);
        }
        IssuerRule::OneOf(accepted)
    };
    let mut jwks_url = fill_placeholders(descriptor, config, spec.jwks_url)?;
    if let Some(base) = config.base_override() {
        jwks_url = rebase(&jwks_url, base);
    }
    check_transport(descriptor.id, &jwks_url, "key set URL")?;
    let verifier = IdTokenVerifier::new(rule, config.client_id.as_str());
    Ok(Some(IdTokenCheck::new(verifier, jwks_url, spec.userinfo_subject)))
}

/// The placeholder a per-tenant issuer keeps for the token's `tid`.
const TENANT_ID: &str = "tenantid";

/// Names of the `{key}` placeholders of a template.
fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template.split('{').skip(1).filter_map(|part| part.split_once('}').map(|(key, _)| key))
}

/// Fills `{key}` placeholders with configuration values that cannot change the URL's structure.
fn fill_placeholders(
    descriptor: &ProviderDescriptor,
    config: &ProviderConfig,
    template: &str,
) -> Result<Url, Error> {
    let filled = fill_template(descriptor, config, template, None)?;
    Url::parse(&filled)
        .map_err(|_| Error::config(descriptor.id, format!("endpoint `{template}` does not form a valid URL")))
}

/// [`fill_placeholders`] as text (issuers are compared as strings, never normalized as URLs);
/// the placeholder named `keep` is left as it is.
fn fill_template(
    descriptor: &ProviderDescriptor,
    config: &ProviderConfig,
    template: &str,
    keep: Option<&str>,
) -> Result<String, Error> {
    let id = descriptor.id;
    let mut filled = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        let key = &rest[open + 1..open + close];
        if keep == Some(key) {
            filled.push_str(&rest[..open + close + 1]);
            rest = &rest[open + close + 1..];
            continue;
        }
        let value = config
            .get_param(key)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| Error::config(id, format!("missing required key `{key}`")))?;
        if value
            .chars()
            .any(|c| matches!(c, '/' | '?' | '#' | '@' | '\\' | '%') || c.is_whitespace() || c.is_control())
        {
            return Err(Error::config(
                id,
                format!("key `{key}` may not contain '/', '?', '#', '@', '\\', '%' or spaces"),
            ));
        }
        filled.push_str(&rest[..open]);
        filled.push_str(value);
        rest = &rest[open + close + 1..];
    }
    filled.push_str(rest);
    Ok(filled)
}

/// Moves `url` onto `base`'s origin, putting `base`'s path in front of `url`'s.
fn rebase(url: &Url, base: &Url) -> Url {
    let mut moved = base.clone();
    let prefix = base.path().trim_end_matches('/');
    moved.set_path(&format!("{prefix}{}", url.path()));
    moved.set_query(url.query());
    moved
}

/// Only HTTPS, except plain HTTP to loopback hosts (local development and tests).
fn check_scheme(provider: &'static str, url: Url) -> Result<Url, Error> {
    check_transport(provider, &url, "endpoint")?;
    Ok(url)
}

/// The transport rule of every URL loginkit calls: HTTPS, or plain HTTP to a loopback host;
/// `what` names the URL in the error.
pub(crate) fn check_transport(provider: &'static str, url: &Url, what: &str) -> Result<(), Error> {
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(Error::config(provider, format!("{what} `{url}` must use https (http only for loopback)"))),
    }
}

fn first_string(value: &Value, pointers: &[&str]) -> Option<String> {
    pointers.iter().find_map(|p| non_empty_str(value.pointer(p)).map(|s| s.trim().to_owned()))
}

fn email_trust(value: &Value, rule: EmailTrustRule) -> EmailTrust {
    let flag = |v: Option<&Value>| match v {
        Some(Value::Bool(true)) => EmailTrust::Verified,
        Some(Value::Bool(false)) => EmailTrust::Unverified,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => EmailTrust::Verified,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => EmailTrust::Unverified,
        Some(Value::Number(n)) if n.as_u64() == Some(1) => EmailTrust::Verified,
        Some(Value::Number(n)) if n.as_u64() == Some(0) => EmailTrust::Unverified,
        _ => EmailTrust::Unknown,
    };
    match rule {
        EmailTrustRule::Fixed(trust) => trust,
        EmailTrustRule::Flag(pointer) => flag(value.pointer(pointer)),
        EmailTrustRule::AllFlags(pointers) => {
            let flags: Vec<EmailTrust> = pointers.iter().map(|p| flag(value.pointer(p))).collect();
            if flags.contains(&EmailTrust::Unverified) {
                EmailTrust::Unverified
            } else if !flags.is_empty() && flags.iter().all(|f| *f == EmailTrust::Verified) {
                EmailTrust::Verified
            } else {
                EmailTrust::Unknown
            }
        }
        EmailTrustRule::Presence(pointer) => match value.pointer(pointer) {
            None => EmailTrust::Unknown,
            Some(Value::Null) | Some(Value::Bool(false)) => EmailTrust::Unverified,
            Some(Value::String(s)) if s.is_empty() => EmailTrust::Unverified,
            Some(_) => EmailTrust::Verified,
        },
    }
}

/// Declares a provider type that wraps a [`StandardProvider`], plus the descriptor's `build`
/// constructor for it, so a provider crate writes only its overrides:
///
/// ```
/// use loginkit_core::{OAuthProvider, StandardProvider, async_trait};
///
/// loginkit_core::quirks_provider! {
///     /// Acme: standard calls, with one override below.
///     pub struct Acme;
/// }
///
/// #[async_trait]
/// impl OAuthProvider for Acme {
///     fn standard(&self) -> &StandardProvider {
///         &self.standard
///     }
/// }
/// ```
///
/// The descriptor then names the constructor: `ProviderDescriptor::new(..).builder(build)`
/// (generated as `.builder(crate::provider::build)` for `implementation = "custom"`).
#[macro_export]
macro_rules! quirks_provider {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Debug)]
        $vis struct $name {
            standard: $crate::StandardProvider,
        }

        /// The descriptor's constructor: the standard provider with this crate's overrides.
        pub fn build(
            descriptor: &'static $crate::ProviderDescriptor,
            config: $crate::ProviderConfig,
            http: $crate::HttpClient,
        ) -> ::core::result::Result<::std::boxed::Box<dyn $crate::OAuthProvider>, $crate::Error> {
            let standard = $crate::StandardProvider::new(descriptor, config, http)?;
            ::core::result::Result::Ok(::std::boxed::Box::new($name { standard }))
        }
    };
}
