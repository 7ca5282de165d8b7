//! Static, const-built description of a provider: identity, docs, capabilities, endpoints and wire format.
//!
//! A descriptor holds no credentials. Provider crates get theirs generated from `provider.toml` by
//! `cargo xtask codegen`; third-party crates may write one by hand with the same `const fn` builders.

use crate::error::Error;
use crate::http::HttpClient;
use crate::profile::EmailTrust;
use crate::provider::{OAuthProvider, ProviderConfig};

/// Builds a provider instance from its descriptor, a configuration and the shared HTTP client.
pub type BuildFn =
    fn(&'static ProviderDescriptor, ProviderConfig, HttpClient) -> Result<Box<dyn OAuthProvider>, Error>;

/// Everything loginkit knows about one provider id before any configuration is supplied.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ProviderDescriptor {
    /// Provider id exactly as Appwrite spells it (`github`, `paypalSandbox`).
    pub id: &'static str,
    /// Human-readable name (`GitHub`).
    pub display_name: &'static str,
    /// One sentence on what the provider is.
    pub summary: &'static str,
    /// The provider's own OAuth documentation.
    pub docs_url: &'static str,
    /// Where an application is registered with the provider.
    pub console_url: &'static str,
    /// Scopes always requested; custom scopes are added to these.
    pub default_scopes: &'static [&'static str],
    /// What the provider supports.
    pub capabilities: Capabilities,
    /// Configuration keys beyond the client id and secret.
    pub config_keys: &'static [ConfigKey],
    /// Endpoints and wire format used by the standard implementation.
    pub oauth2: OAuth2Spec,
    /// Constructor of provider instances.
    pub build: BuildFn,
}

impl ProviderDescriptor {
    /// A descriptor served by the standard, data-driven implementation.
    pub const fn new(id: &'static str, display_name: &'static str, oauth2: OAuth2Spec) -> Self {
        Self {
            id,
            display_name,
            summary: "",
            docs_url: "",
            console_url: "",
            default_scopes: &[],
            capabilities: Capabilities::NONE,
            config_keys: &[],
            oauth2,
            build: crate::standard::StandardProvider::build_boxed,
        }
    }

    /// Sets the one-sentence summary.
    pub const fn summary(mut self, summary: &'static str) -> Self {
        self.summary = summary;
        self
    }

    /// Sets the link to the provider's OAuth documentation.
    pub const fn docs_url(mut self, url: &'static str) -> Self {
        self.docs_url = url;
        self
    }

    /// Sets the link to the provider's developer console.
    pub const fn console_url(mut self, url: &'static str) -> Self {
        self.console_url = url;
        self
    }

    /// Sets the scopes always requested.
    pub const fn default_scopes(mut self, scopes: &'static [&'static str]) -> Self {
        self.default_scopes = scopes;
        self
    }

    /// Sets the capabilities.
    pub const fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Sets the extra configuration keys.
    pub const fn config_keys(mut self, keys: &'static [ConfigKey]) -> Self {
        self.config_keys = keys;
        self
    }

    /// Replaces the standard implementation with a provider-specific constructor.
    pub const fn builder(mut self, build: BuildFn) -> Self {
        self.build = build;
        self
    }

    /// Builds a configured provider instance.
    pub fn instantiate(
        &'static self,
        config: ProviderConfig,
        http: HttpClient,
    ) -> Result<Box<dyn OAuthProvider>, Error> {
        (self.build)(self, config, http)
    }

    /// The configuration key with this name, if the provider declares it.
    pub fn config_key(&self, name: &str) -> Option<&'static ConfigKey> {
        self.config_keys.iter().find(|k| k.name == name)
    }
}

/// What a provider supports; flows and conformance tests read these instead of guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Capabilities {
    /// Accepts PKCE with `S256`.
    pub pkce: bool,
    /// Speaks OpenID Connect (issues ID tokens).
    pub oidc: bool,
    /// Issues refresh tokens.
    pub refresh: bool,
    /// Has a token revocation endpoint.
    pub revoke: bool,
    /// Answers the callback with `response_mode=form_post`.
    pub form_post: bool,
}

impl Capabilities {
    /// No capability at all.
    pub const NONE: Self = Self { pkce: false, oidc: false, refresh: false, revoke: false, form_post: false };

    /// Sets `pkce`.
    pub const fn pkce(mut self, on: bool) -> Self {
        self.pkce = on;
        self
    }

    /// Sets `oidc`.
    pub const fn oidc(mut self, on: bool) -> Self {
        self.oidc = on;
        self
    }

    /// Sets `refresh`.
    pub const fn refresh(mut self, on: bool) -> Self {
        self.refresh = on;
        self
    }

    /// Sets `revoke`.
    pub const fn revoke(mut self, on: bool) -> Self {
        self.revoke = on;
        self
    }

    /// Sets `form_post`.
    pub const fn form_post(mut self, on: bool) -> Self {
        self.form_post = on;
        self
    }
}

/// A configuration key a provider needs beyond the client id and secret (tenant, domain, realm, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigKey {
    /// Key name, used in configuration files and in `{name}` endpoint placeholders.
    pub name: &'static str,
    /// What the value is.
    pub description: &'static str,
    /// Whether a configuration without it is rejected.
    pub required: bool,
    /// Whether the value is a secret (never logged, redacted in `Debug`).
    pub secret: bool,
    /// Value used when the key is absent.
    pub default: Option<&'static str>,
}

impl ConfigKey {
    /// A key that must be configured.
    pub const fn required(name: &'static str, description: &'static str) -> Self {
        Self { name, description, required: true, secret: false, default: None }
    }

    /// A key that may be omitted.
    pub const fn optional(name: &'static str, description: &'static str) -> Self {
        Self { name, description, required: false, secret: false, default: None }
    }

    /// Marks the value as secret.
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Sets the value used when the key is absent.
    pub const fn default_value(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// HTTP Basic `client_id:client_secret` (RFC 6749 §2.3.1, `client_secret_basic`).
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Body,
    /// `client_id` and `client_secret` in the URL query (legacy providers).
    Query,
    /// Only `client_id` is sent (public clients, PKCE-only providers).
    None,
    /// A signed JWT assertion (RFC 7523, `private_key_jwt`); the key comes from configuration.
    PrivateKeyJwt,
}

/// HTTP method of a provider call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpMethod {
    /// `GET`; parameters go in the query string.
    Get,
    /// `POST`; parameters go in a form body.
    Post,
}

/// How parameters travel in a `POST` body to the token, refresh and revocation endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyEncoding {
    /// `application/x-www-form-urlencoded` (RFC 6749).
    Form,
    /// A JSON object of string values (Notion, Podio).
    Json,
}

/// How a provider's revocation endpoint takes the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevokeStyle {
    /// RFC 7009: `token` and `token_type_hint` in a form, with the client's authentication.
    Form,
    /// The access token authenticates the call (`Authorization: Bearer`) and is the one revoked
    /// (Dropbox, Kakao); a refresh token cannot be revoked this way.
    Bearer,
}

/// Endpoints and request shapes of a provider's OAuth 2.0 dialect.
///
/// Endpoint URLs may contain `{key}` placeholders filled from configuration keys (`{tenant}`,
/// `{domain}`).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct OAuth2Spec {
    /// Authorization endpoint.
    pub authorize_url: &'static str,
    /// Token endpoint for the code exchange.
    pub token_url: &'static str,
    /// Token endpoint for refreshes, when it differs from `token_url`.
    pub refresh_url: Option<&'static str>,
    /// Revocation endpoint (RFC 7009, or as `revoke_style` says).
    pub revoke_url: Option<&'static str>,
    /// How the token to revoke is presented.
    pub revoke_style: RevokeStyle,
    /// The name of the client id parameter at the authorize and token endpoints (`client_id`;
    /// TikTok's `client_key`).
    pub client_id_param: &'static str,
    /// The user-info call, if the profile comes from one.
    pub userinfo: Option<UserInfoSpec>,
    /// Client authentication at the token endpoint.
    pub client_auth: ClientAuth,
    /// Method of token calls.
    pub token_method: HttpMethod,
    /// Encoding of `POST` bodies sent to the token, refresh and revocation endpoints.
    pub token_body: BodyEncoding,
    /// Extra headers sent to the token, refresh and revocation endpoints (API versions).
    pub token_headers: &'static [(&'static str, &'static str)],
    /// Separator between scopes in the authorize URL.
    pub scope_delimiter: &'static str,
    /// Name of the authorize parameter carrying scopes (`scope`, Slack's `user_scope`).
    pub scope_param: &'static str,
    /// Whether the authorize URL carries `response_type=code`.
    pub response_type: bool,
    /// Fixed extra authorize parameters.
    pub authorize_params: &'static [(&'static str, &'static str)],
    /// Fixed extra token-request parameters.
    pub token_params: &'static [(&'static str, &'static str)],
    /// JSON pointer to a nested token object in the token response (Slack's `/authed_user`).
    pub token_pointer: Option<&'static str>,
    /// Authorize parameters taken from configuration: `(config key, parameter name)`.
    pub config_params: &'static [(&'static str, &'static str)],
    /// Provider-specific authorize parameters a login may pass through (Google's `hd`,
    /// Microsoft's `domain_hint`), besides OpenID Connect's `prompt` and `login_hint`.
    pub login_params: &'static [&'static str],
    /// How ID tokens are verified, for OpenID Connect providers.
    pub openid: Option<OpenIdSpec>,
}

impl OAuth2Spec {
    /// A standard RFC 6749 dialect: HTTP Basic client auth, POST, space-separated `scope`.
    pub const fn new(authorize_url: &'static str, token_url: &'static str) -> Self {
        Self {
            authorize_url,
            token_url,
            refresh_url: None,
            revoke_url: None,
            revoke_style: RevokeStyle::Form,
            client_id_param: "client_id",
            userinfo: None,
            client_auth: ClientAuth::Basic,
            token_method: HttpMethod::Post,
            token_body: BodyEncoding::Form,
            token_headers: &[],
            scope_delimiter: " ",
            scope_param: "scope",
            response_type: true,
            authorize_params: &[],
            login_params: &[],
            token_params: &[],
            token_pointer: None,
            config_params: &[],
            openid: None,
        }
    }

    /// Sets how the token to revoke is presented.
    pub const fn revoke_style(mut self, style: RevokeStyle) -> Self {
        self.revoke_style = style;
        self
    }

    /// Sets the name of the client id parameter.
    pub const fn client_id_param(mut self, name: &'static str) -> Self {
        self.client_id_param = name;
        self
    }

    /// Sets a separate refresh endpoint.
    pub const fn refresh_url(mut self, url: &'static str) -> Self {
        self.refresh_url = Some(url);
        self
    }

    /// Sets the revocation endpoint.
    pub const fn revoke_url(mut self, url: &'static str) -> Self {
        self.revoke_url = Some(url);
        self
    }

    /// Sets the user-info call.
    pub const fn userinfo(mut self, userinfo: UserInfoSpec) -> Self {
        self.userinfo = Some(userinfo);
        self
    }

    /// Sets the client authentication style.
    pub const fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = auth;
        self
    }

    /// Sets the method of token calls.
    pub const fn token_method(mut self, method: HttpMethod) -> Self {
        self.token_method = method;
        self
    }

    /// Sets the encoding of token-endpoint `POST` bodies.
    pub const fn token_body(mut self, encoding: BodyEncoding) -> Self {
        self.token_body = encoding;
        self
    }

    /// Sets extra headers of token, refresh and revocation calls.
    pub const fn token_headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Self {
        self.token_headers = headers;
        self
    }

    /// Sets the scope separator.
    pub const fn scope_delimiter(mut self, delimiter: &'static str) -> Self {
        self.scope_delimiter = delimiter;
        self
    }

    /// Sets the name of the scope parameter.
    pub const fn scope_param(mut self, name: &'static str) -> Self {
        self.scope_param = name;
        self
    }

    /// Omits `response_type=code` from the authorize URL.
    pub const fn without_response_type(mut self) -> Self {
        self.response_type = false;
        self
    }

    /// Sets the provider-specific authorize parameters a login may pass through.
    pub const fn login_params(mut self, params: &'static [&'static str]) -> Self {
        self.login_params = params;
        self
    }

    /// Sets fixed extra authorize parameters.
    pub const fn authorize_params(mut self, params: &'static [(&'static str, &'static str)]) -> Self {
        self.authorize_params = params;
        self
    }

    /// Sets fixed extra token-request parameters.
    pub const fn token_params(mut self, params: &'static [(&'static str, &'static str)]) -> Self {
        self.token_params = params;
        self
    }

    /// Reads tokens from a nested object of the token response.
    pub const fn token_pointer(mut self, pointer: &'static str) -> Self {
        self.token_pointer = Some(pointer);
        self
    }

    /// Sets authorize parameters taken from configuration keys.
    pub const fn config_params(mut self, params: &'static [(&'static str, &'static str)]) -> Self {
        self.config_params = params;
        self
    }

    /// Verifies the ID tokens of the code exchange as `spec` says.
    pub const fn openid(mut self, spec: OpenIdSpec) -> Self {
        self.openid = Some(spec);
        self
    }
}

/// Where an OpenID Connect provider's ID tokens come from: the issuer they must name and the key
/// set that signs them. With it, the standard implementation verifies the ID token of every code
/// exchange completely (signature, `iss`, `aud`, `azp`, times, the login's nonce) and checks that
/// the user-info answer is about the token's subject.
///
/// `issuer` and `jwks_url` may contain `{key}` placeholders like endpoints. When a placeholder
/// names an optional key the configuration leaves empty (authentik's application slug, FusionAuth's
/// tenant issuer), the issuer is unknown and ID tokens are not verified; the profile then comes
/// from the user-info endpoint over TLS alone, as for plain OAuth 2.0 providers.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct OpenIdSpec {
    /// The `iss` of the provider's ID tokens. The `{tenantid}` placeholder is special with
    /// [`OpenIdSpec::per_tenant`]: it is filled from each token's `tid` claim.
    pub issuer: &'static str,
    /// Other spellings of the same issuer the provider documents (Google's `accounts.google.com`).
    pub issuer_aliases: &'static [&'static str],
    /// The provider's JSON Web Key Set.
    pub jwks_url: &'static str,
    /// Whether the issuer is per tenant (Microsoft's `common` and `organizations` endpoints).
    pub per_tenant: bool,
    /// JSON pointer to the user-info answer's subject, which must equal the ID token's `sub`
    /// (OpenID Connect Core §5.3.2); `None` when the provider's profile call is not OpenID user
    /// info and the provider checks the subject its own way.
    pub userinfo_subject: Option<&'static str>,
    /// Whether the provider puts the authorize request's `nonce` into its ID tokens. When it does
    /// not (LinkedIn), no nonce is sent and none is expected; PKCE or the client secret then binds
    /// the code to the login.
    pub nonce: bool,
}

impl OpenIdSpec {
    /// ID tokens from `issuer`, signed with keys from `jwks_url`; the user-info `sub` must match.
    pub const fn new(issuer: &'static str, jwks_url: &'static str) -> Self {
        Self {
            issuer,
            issuer_aliases: &[],
            jwks_url,
            per_tenant: false,
            userinfo_subject: Some("/sub"),
            nonce: true,
        }
    }

    /// Accepts other spellings of the issuer.
    pub const fn issuer_aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.issuer_aliases = aliases;
        self
    }

    /// The issuer contains `{tenantid}`, filled from each token's `tid` claim.
    pub const fn per_tenant(mut self) -> Self {
        self.per_tenant = true;
        self
    }

    /// Reads the user-info subject at another JSON pointer.
    pub const fn userinfo_subject(mut self, pointer: &'static str) -> Self {
        self.userinfo_subject = Some(pointer);
        self
    }

    /// The provider ignores `nonce`: none is sent, none is expected.
    pub const fn without_nonce(mut self) -> Self {
        self.nonce = false;
        self
    }

    /// Leaves the subject check to the provider's own code.
    pub const fn without_userinfo_subject(mut self) -> Self {
        self.userinfo_subject = None;
        self
    }
}

/// Where the access token goes on a user-info call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenPlacement {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// A query parameter with this name.
    Query(&'static str),
    /// `Authorization: <scheme> <token>` with another scheme (`token`, `OAuth`).
    AuthorizationScheme(&'static str),
}

/// How the email's trust level is read from the user-info JSON. Never guessed true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmailTrustRule {
    /// The provider documents a fixed trust level.
    Fixed(EmailTrust),
    /// A boolean flag (also `"true"`/`"false"` strings and `1`/`0`) at this JSON pointer.
    Flag(&'static str),
    /// Verified when the value at this JSON pointer is present and not null (GitLab's `confirmed_at`).
    Presence(&'static str),
    /// Verified when every one of these flags is true (Kakao: the address is verified *and* still
    /// valid); unverified when one is false; unknown otherwise.
    AllFlags(&'static [&'static str]),
}

/// A user-info call and where the profile fields sit in its JSON answer (JSON pointers, RFC 6901).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct UserInfoSpec {
    /// Endpoint URL.
    pub url: &'static str,
    /// HTTP method.
    pub method: HttpMethod,
    /// Where the access token goes.
    pub token: TokenPlacement,
    /// Extra request headers.
    pub headers: &'static [(&'static str, &'static str)],
    /// Pointer to the provider's user id (string or number).
    pub id: &'static str,
    /// Pointers tried in order when `id` is absent (an answer from before the provider added it).
    pub id_fallback: &'static [&'static str],
    /// Pointer to the id the provider identified the account by before `id` (see
    /// [`UserProfile::previous_id`](crate::UserProfile::previous_id)).
    pub previous_id: Option<&'static str>,
    /// Pointers to the email, first non-empty wins.
    pub email: &'static [&'static str],
    /// How the email's trust level is read.
    pub email_trust: EmailTrustRule,
    /// Pointers to the display name, first non-empty wins.
    pub name: &'static [&'static str],
    /// Pointers to the avatar URL, first non-empty wins.
    pub avatar: &'static [&'static str],
}

impl UserInfoSpec {
    /// A `GET` with a bearer token; the id is read at `id`.
    pub const fn get(url: &'static str, id: &'static str) -> Self {
        Self {
            url,
            method: HttpMethod::Get,
            token: TokenPlacement::Bearer,
            headers: &[],
            id,
            id_fallback: &[],
            previous_id: None,
            email: &[],
            email_trust: EmailTrustRule::Fixed(EmailTrust::Unknown),
            name: &[],
            avatar: &[],
        }
    }

    /// Sets the HTTP method.
    pub const fn method(mut self, method: HttpMethod) -> Self {
        self.method = method;
        self
    }

    /// Sets where the access token goes.
    pub const fn token(mut self, placement: TokenPlacement) -> Self {
        self.token = placement;
        self
    }

    /// Sets extra request headers.
    pub const fn headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the pointers tried when `id` is absent.
    pub const fn id_fallback(mut self, pointers: &'static [&'static str]) -> Self {
        self.id_fallback = pointers;
        self
    }

    /// Sets the pointer to the id the provider knew the account by before.
    pub const fn previous_id(mut self, pointer: &'static str) -> Self {
        self.previous_id = Some(pointer);
        self
    }

    /// Sets the email pointers.
    pub const fn email(mut self, pointers: &'static [&'static str]) -> Self {
        self.email = pointers;
        self
    }

    /// Sets the email trust rule.
    pub const fn email_trust(mut self, rule: EmailTrustRule) -> Self {
        self.email_trust = rule;
        self
    }

    /// Sets the name pointers.
    pub const fn name(mut self, pointers: &'static [&'static str]) -> Self {
        self.name = pointers;
        self
    }

    /// Sets the avatar pointers.
    pub const fn avatar(mut self, pointers: &'static [&'static str]) -> Self {
        self.avatar = pointers;
        self
    }
}
