//! Personas: how the impersonating mock identity provider ([`ImpersonatingIdp`]) behaves like one
//! real provider, read from a provider crate's `tests/persona.toml` and its `tests/fixtures/`.
//!
//! The format is documented in `docs/writing-a-provider.md`, section "Persona". Loading is strict:
//! unknown keys, missing or malformed fixtures, paths axum cannot route and two endpoints on the same
//! method and path are all errors naming the file, so a persona that loads is one the mock can serve.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use loginkit_testkit::MockClient;
//! use loginkit_testkit::persona::{ImpersonatingIdp, Persona};
//!
//! let personas = Persona::load_all(std::path::Path::new("providers/github"))?;
//! let idp = ImpersonatingIdp::start(&personas[0], MockClient::new("id", "secret")).await?;
//! let config = idp.provider_config(); // client credentials + persona config + base URL
//! # let _ = config;
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use loginkit_core::EmailTrust;
use serde::Deserialize;

pub use crate::impersonate::ImpersonatingIdp;
use crate::impersonate::Wire;

/// One provider id as the impersonating mock must play it: one `[[persona]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Persona {
    /// The provider id this persona impersonates (`github`, `paypalSandbox`).
    pub id: String,
    /// The name the provider gives the client id parameter at its authorize and token endpoints
    /// (`client_id`, the default; TikTok's `client_key`).
    #[serde(default = "default_client_id_param")]
    pub client_id_param: String,
    /// Extra provider configuration the login needs (`tenant`, `domain`, ...), passed to
    /// `ProviderConfig::param`; also the values `{name}` path segments must carry.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// The authorization endpoint.
    pub authorize: AuthorizeEndpoint,
    /// The token endpoint (code exchange).
    pub token: TokenEndpoint,
    /// Refreshing; absent when the provider issues no refresh tokens.
    #[serde(default)]
    pub refresh: Option<RefreshEndpoint>,
    /// Every call the provider's profile needs, in order.
    #[serde(default)]
    pub userinfo: Vec<UserInfoCall>,
    /// Token revocation; absent when the provider has none.
    #[serde(default)]
    pub revoke: Option<RevokeEndpoint>,
    /// Signed ID tokens in the token answers; absent for providers without OpenID Connect.
    #[serde(default)]
    pub id_token: Option<IdTokenSpec>,
    /// The profile loginkit must derive from the fixtures.
    pub expect: Expect,
    /// The `persona.toml` this persona was read from.
    #[serde(skip)]
    pub file: PathBuf,
}

/// `[persona.authorize]`: the browser-facing authorization endpoint (always `GET`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthorizeEndpoint {
    /// Path, e.g. `/login/oauth/authorize`.
    pub path: RoutePath,
    /// Parameters that must be present with a non-empty value.
    #[serde(default)]
    pub require: Vec<String>,
    /// Parameters that must have exactly this value, e.g. `{ response_type = "code" }`.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
}

/// `[persona.token]`: the token endpoint and how the provider answers there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TokenEndpoint {
    /// Path, e.g. `/oauth/token`.
    pub path: RoutePath,
    /// `POST` (default) or `GET`; with `GET` every parameter travels in the query.
    #[serde(default = "HttpMethod::post")]
    pub method: HttpMethod,
    /// The client authentication the provider demands.
    pub client_auth: ClientAuthStyle,
    /// Whether `grant_type` must be sent (default `true`).
    #[serde(default = "yes")]
    pub grant_type: bool,
    /// Whether a challenge sent at authorize is verified (default `true`).
    #[serde(default = "yes")]
    pub pkce: bool,
    /// How a `POST` carries its parameters: `form` (default) or `json`.
    #[serde(default)]
    pub body: BodyFormat,
    /// Fixture served on success (tokens substituted).
    pub response: Fixture,
    /// Content type of the success answer (default `application/json`); a type that does not end
    /// in `json` makes the fixture a form-encoded body.
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// JSON pointer of the object holding `access_token` / `refresh_token` (`""` = root).
    #[serde(default)]
    pub token_pointer: String,
    /// JSON pointer of the access token itself, when it is not `<token_pointer>/access_token`
    /// (Yammer: `/access_token/token`). In a form-encoded answer: `/<name>`.
    #[serde(default)]
    pub access_token_pointer: Option<String>,
    /// JSON pointer of the refresh token itself, when it is not `<token_pointer>/refresh_token`.
    #[serde(default)]
    pub refresh_token_pointer: Option<String>,
    /// HTTP status of error answers (default 400; GitHub and Slack answer errors with 200).
    #[serde(default = "default_error_status")]
    pub error_status: u16,
    /// Fixture served for a bad code, bad client authentication or any other rejection.
    pub error: Fixture,
}

impl TokenEndpoint {
    /// Where the access token sits in the answer (a JSON pointer, or `/<name>` in a form).
    pub fn access_pointer(&self) -> String {
        self.access_token_pointer.clone().unwrap_or_else(|| format!("{}/access_token", self.token_pointer))
    }

    /// Where a refresh token sits in the answer.
    pub fn refresh_pointer(&self) -> String {
        self.refresh_token_pointer.clone().unwrap_or_else(|| format!("{}/refresh_token", self.token_pointer))
    }

    /// A token fixture with fresh tokens made from `access` and `refresh` substituted.
    pub(crate) fn render(
        &self,
        fixture: &str,
        access: &str,
        refresh: &str,
    ) -> Result<crate::impersonate::Rendered, String> {
        crate::impersonate::render_tokens(
            fixture,
            crate::impersonate::Wire::of(&self.content_type),
            (&self.access_pointer(), &self.refresh_pointer()),
            access,
            refresh,
        )
    }
}

/// `[persona.refresh]`: the refresh-token grant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RefreshEndpoint {
    /// Path when it differs from the token path (same method as the token endpoint).
    #[serde(default)]
    pub path: Option<RoutePath>,
    /// Fixture served on success (tokens substituted). When it holds a `refresh_token`, refresh
    /// tokens rotate: the one used becomes invalid.
    pub response: Fixture,
}

/// `[[persona.userinfo]]`: one call of the provider's profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct UserInfoCall {
    /// Path, e.g. `/user`.
    pub path: RoutePath,
    /// Method (default `GET`).
    #[serde(default = "HttpMethod::get")]
    pub method: HttpMethod,
    /// Where the access token must arrive: `bearer` (default), `query:<param>`,
    /// `scheme:<Scheme>` or `form:<param>`.
    #[serde(default)]
    pub token: TokenPlacement,
    /// Request headers the provider insists on, with their exact values (`Notion-Version`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Fixture served (JSON).
    pub response: Fixture,
}

/// `[persona.revoke]`: token revocation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RevokeEndpoint {
    /// Path; `{client_id}` segments must carry the client id.
    pub path: RoutePath,
    /// Method (default `POST`).
    #[serde(default = "HttpMethod::post")]
    pub method: HttpMethod,
    /// Status of a successful answer (default 200), sent with an empty body.
    #[serde(default = "default_revoke_status")]
    pub status: u16,
    /// Client authentication checked here; `none` checks nothing. Default: the token endpoint's
    /// when that is `basic` or `body` and the token travels in the body, nothing otherwise.
    #[serde(default)]
    pub client_auth: Option<ClientAuthStyle>,
    /// Where the token to revoke arrives: `body` (default: the `param` field of a form or JSON
    /// body), or like a user-info call: `bearer`, `query:<param>`, `scheme:<Scheme>` (Dropbox
    /// revokes the bearer token of the call).
    #[serde(default)]
    pub token: RevokeToken,
    /// Name of the body field carrying the token, in a form or JSON body (default `token`).
    #[serde(default = "default_revoke_param")]
    pub param: String,
}

/// `[persona.id_token]`: the mock signs an ID token into every token answer (replacing the
/// fixture's `id_token`) with a test-only key whose key set it publishes at `keys`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct IdTokenSpec {
    /// Path of the key set (`GET`), e.g. `/oauth2/v3/certs`.
    pub keys: RoutePath,
    /// The tokens' `iss`.
    pub issuer: String,
    /// `RS256` (default) or `ES256`.
    #[serde(default = "default_alg")]
    pub alg: String,
    /// Claims besides `iss`, `aud`, `iat`, `exp` and the authorize request's `nonce`: `sub`,
    /// `email`, `tid`, ...
    #[serde(default)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

fn default_alg() -> String {
    "RS256".to_owned()
}

/// Where the token to revoke arrives.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum RevokeToken {
    /// In the `param` field of a form or JSON body (`body`).
    #[default]
    Body,
    /// Where a user-info call would carry it.
    Placement(TokenPlacement),
}

impl TryFrom<String> for RevokeToken {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        if value == "body" {
            return Ok(RevokeToken::Body);
        }
        TokenPlacement::try_from(value).map(RevokeToken::Placement).map_err(|e| format!("{e}, or body"))
    }
}

/// `[persona.expect]`: the profile loginkit must derive from the fixtures.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Expect {
    /// The provider's user id.
    pub id: String,
    /// The email, when the fixtures hold one.
    #[serde(default)]
    pub email: Option<String>,
    /// `verified`, `unverified` or `unknown` (default).
    #[serde(default)]
    pub email_trust: ExpectedTrust,
    /// The display name, when the fixtures hold one.
    #[serde(default)]
    pub name: Option<String>,
    /// The avatar URL, checked when given.
    #[serde(default)]
    pub avatar: Option<String>,
    /// The id the provider knew the account by before (`UserProfile::previous_id`), checked
    /// when given.
    #[serde(default)]
    pub previous_id: Option<String>,
}

/// The email trust a persona expects, as written in `persona.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedTrust {
    /// `verified`.
    Verified,
    /// `unverified`.
    Unverified,
    /// `unknown`.
    #[default]
    Unknown,
}

impl ExpectedTrust {
    /// The matching core value.
    pub fn email_trust(self) -> EmailTrust {
        match self {
            ExpectedTrust::Verified => EmailTrust::Verified,
            ExpectedTrust::Unverified => EmailTrust::Unverified,
            ExpectedTrust::Unknown => EmailTrust::Unknown,
        }
    }
}

/// Client authentication at the token endpoint, as the provider demands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthStyle {
    /// `Authorization: Basic` with the form-urlencoded id and secret; no secret in the body.
    Basic,
    /// `client_id` and `client_secret` among the parameters; no `Authorization` header.
    Body,
    /// `client_id` and `client_secret` in the URL query; no `Authorization` header.
    Query,
    /// `client_id` only; no secret anywhere.
    None,
    /// `client_assertion_type` (JWT bearer) and a `client_assertion` JWT issued by the client.
    PrivateKeyJwt,
}

/// How a `POST` to the token endpoint carries its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// `application/x-www-form-urlencoded` (RFC 6749).
    #[default]
    Form,
    /// A JSON object of strings (Notion).
    Json,
}

/// An HTTP method a persona endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub enum HttpMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl HttpMethod {
    fn get() -> Self {
        HttpMethod::Get
    }

    fn post() -> Self {
        HttpMethod::Post
    }

    /// The method's name, e.g. `"POST"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

impl TryFrom<String> for HttpMethod {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        match value.to_ascii_uppercase().as_str() {
            "GET" => Ok(HttpMethod::Get),
            "POST" => Ok(HttpMethod::Post),
            "PUT" => Ok(HttpMethod::Put),
            "PATCH" => Ok(HttpMethod::Patch),
            "DELETE" => Ok(HttpMethod::Delete),
            _ => Err(format!("unknown method `{value}`; expected GET, POST, PUT, PATCH or DELETE")),
        }
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a user-info call must carry the access token.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum TokenPlacement {
    /// `Authorization: Bearer <token>` (`bearer`).
    #[default]
    Bearer,
    /// A query parameter (`query:<param>`).
    Query(String),
    /// `Authorization: <Scheme> <token>` (`scheme:<Scheme>`).
    Scheme(String),
    /// A field of a form (or JSON) body (`form:<param>`; VK ID).
    Form(String),
}

impl TryFrom<String> for TokenPlacement {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        let valid_name = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if value == "bearer" {
            return Ok(TokenPlacement::Bearer);
        }
        if let Some(name) = value.strip_prefix("query:").filter(|n| valid_name(n)) {
            return Ok(TokenPlacement::Query(name.to_owned()));
        }
        if let Some(scheme) = value.strip_prefix("scheme:").filter(|s| valid_name(s)) {
            return Ok(TokenPlacement::Scheme(scheme.to_owned()));
        }
        if let Some(name) = value.strip_prefix("form:").filter(|n| valid_name(n)) {
            return Ok(TokenPlacement::Form(name.to_owned()));
        }
        Err(format!(
            "unknown token placement `{value}`; expected bearer, query:<param>, scheme:<Scheme> or form:<param>"
        ))
    }
}

/// A route path as axum 0.8 routes it: literal segments and whole-segment `{name}` parameters.
///
/// A `{client_id}` segment must carry the client id; any other `{name}` segment must carry the
/// persona's `config` value for `name` when there is one, and may be anything otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct RoutePath(String);

/// One segment of a [`RoutePath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Literal(String),
    Param(String),
}

impl RoutePath {
    /// The path as written in `persona.toml`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segments after the leading `/`.
    pub(crate) fn segments(&self) -> Vec<Segment> {
        self.0
            .split('/')
            .skip(1)
            .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name.to_owned()),
                None => Segment::Literal(s.to_owned()),
            })
            .collect()
    }

    /// The axum route: parameters renamed by position (`{p2}`), so that two paths with
    /// differently named parameters at one position cannot conflict in the router.
    pub(crate) fn route(&self) -> String {
        let mut out = String::new();
        for (i, segment) in self.segments().into_iter().enumerate() {
            out.push('/');
            match segment {
                Segment::Literal(s) => out.push_str(&s),
                Segment::Param(_) => out.push_str(&format!("{{p{i}}}")),
            }
        }
        out
    }
}

impl TryFrom<String> for RoutePath {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        let Some(rest) = value.strip_prefix('/') else {
            return Err(format!("path `{value}` must start with `/`"));
        };
        let mut names = BTreeSet::new();
        for segment in rest.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(format!("path `{value}`: `{{{name}}}` is not a valid parameter name"));
                }
                if !names.insert(name) {
                    return Err(format!("path `{value}`: parameter `{{{name}}}` appears twice"));
                }
                continue;
            }
            // Requests arrive percent-encoded, so only visible ASCII can ever match a literal.
            let bad = |c: char| matches!(c, '{' | '}' | '?' | '#' | '%') || !c.is_ascii_graphic();
            if segment.contains(bad) || segment.starts_with([':', '*']) {
                return Err(format!(
                    "path `{value}`: segment `{segment}` must be literal visible ASCII (no braces, `?`, `#`, \
                     `%`, leading `:` or `*`) or a whole `{{name}}` parameter"
                ));
            }
        }
        Ok(RoutePath(value))
    }
}

impl fmt::Display for RoutePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A fixture file of `tests/fixtures/`, named in `persona.toml` and read when the persona loads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Fixture {
    /// The name as written, relative to `tests/fixtures/`.
    pub name: String,
    /// The file's content.
    pub body: String,
}

impl TryFrom<String> for Fixture {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        let path = Path::new(&name);
        let escapes = path.components().any(|c| !matches!(c, Component::Normal(_)));
        if name.is_empty() || escapes {
            return Err(format!("fixture `{name}` must be a relative path inside tests/fixtures/"));
        }
        Ok(Fixture { name, body: String::new() })
    }
}

fn yes() -> bool {
    true
}

fn default_client_id_param() -> String {
    "client_id".to_owned()
}

fn default_content_type() -> String {
    "application/json".to_owned()
}

fn default_error_status() -> u16 {
    400
}

fn default_revoke_status() -> u16 {
    200
}

fn default_revoke_param() -> String {
    "token".to_owned()
}

/// The whole `persona.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonaFile {
    #[serde(default)]
    persona: Vec<Persona>,
}

/// Why personas could not be loaded. Every variant names the file.
#[derive(Debug)]
#[non_exhaustive]
pub enum PersonaError {
    /// A file or directory could not be read.
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// `persona.toml` is not valid TOML or does not follow the format.
    Parse {
        /// The `persona.toml`.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A fixture is missing or unusable.
    Fixture {
        /// The `persona.toml` naming it.
        path: PathBuf,
        /// The persona id.
        persona: String,
        /// The fixture file.
        fixture: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A persona is well-formed TOML but cannot be served as written.
    Invalid {
        /// The `persona.toml`.
        path: PathBuf,
        /// The persona id.
        persona: String,
        /// What is wrong.
        message: String,
    },
    /// Two personas claim the same provider id.
    Duplicate {
        /// The id.
        id: String,
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },
}

impl fmt::Display for PersonaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersonaError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            PersonaError::Parse { path, message } => write!(f, "{}: {}", path.display(), message.trim_end()),
            PersonaError::Fixture { path, persona, fixture, message } => {
                write!(f, "{}: persona `{persona}`: fixture {}: {message}", path.display(), fixture.display())
            }
            PersonaError::Invalid { path, persona, message } => {
                write!(f, "{}: persona `{persona}`: {message}", path.display())
            }
            PersonaError::Duplicate { id, first, second } => {
                write!(
                    f,
                    "persona `{id}` is defined twice: in {} and in {}",
                    first.display(),
                    second.display()
                )
            }
        }
    }
}

impl std::error::Error for PersonaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PersonaError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What [`Persona::discover`] found under `providers/`.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Discovery {
    /// Every persona that loaded, sorted by id.
    pub personas: Vec<Persona>,
    /// Provider crate directories (`providers/<dir>`) without a `tests/persona.toml`, sorted.
    pub without_persona: Vec<String>,
    /// Persona files that did not load, one error each (other crates still load).
    pub errors: Vec<PersonaError>,
}

impl Persona {
    /// Loads `<crate_dir>/tests/persona.toml`, reading its fixtures from `<crate_dir>/tests/fixtures/`.
    pub fn load_all(crate_dir: &Path) -> Result<Vec<Persona>, PersonaError> {
        let tests = crate_dir.join("tests");
        let file = tests.join("persona.toml");
        let text =
            fs::read_to_string(&file).map_err(|source| PersonaError::Io { path: file.clone(), source })?;
        Self::parse(&text, &file, &tests.join("fixtures"))
    }

    /// Parses a `persona.toml` text; `file` is used in messages, fixtures are read from `fixtures`.
    pub fn parse(text: &str, file: &Path, fixtures: &Path) -> Result<Vec<Persona>, PersonaError> {
        let parsed: PersonaFile = toml::from_str(text)
            .map_err(|e| PersonaError::Parse { path: file.to_owned(), message: e.to_string() })?;
        if parsed.persona.is_empty() {
            return Err(PersonaError::Parse {
                path: file.to_owned(),
                message: "no [[persona]] table".to_owned(),
            });
        }
        let mut seen = BTreeSet::new();
        let mut personas = Vec::with_capacity(parsed.persona.len());
        for mut persona in parsed.persona {
            persona.file = file.to_owned();
            if !seen.insert(persona.id.clone()) {
                return Err(PersonaError::Duplicate {
                    id: persona.id,
                    first: file.to_owned(),
                    second: file.to_owned(),
                });
            }
            persona.read_fixtures(fixtures)?;
            persona.validate().map_err(|message| persona.invalid(message))?;
            personas.push(persona);
        }
        Ok(personas)
    }

    /// Loads every `providers/*/tests/persona.toml` under `workspace_root`.
    ///
    /// Only an unreadable `providers/` directory is an error; a crate without a persona is listed in
    /// [`Discovery::without_persona`] and a broken one in [`Discovery::errors`].
    pub fn discover(workspace_root: &Path) -> Result<Discovery, PersonaError> {
        let providers = workspace_root.join("providers");
        let entries = fs::read_dir(&providers)
            .map_err(|source| PersonaError::Io { path: providers.clone(), source })?;
        let mut dirs: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join("Cargo.toml").is_file())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        dirs.sort();
        let mut discovery = Discovery::default();
        let mut origin: BTreeMap<String, PathBuf> = BTreeMap::new();
        for (name, dir) in dirs {
            if !dir.join("tests").join("persona.toml").is_file() {
                discovery.without_persona.push(name);
                continue;
            }
            match Persona::load_all(&dir) {
                Ok(personas) => {
                    for persona in personas {
                        if let Some(first) = origin.get(&persona.id) {
                            discovery.errors.push(PersonaError::Duplicate {
                                id: persona.id.clone(),
                                first: first.clone(),
                                second: persona.file.clone(),
                            });
                            continue;
                        }
                        origin.insert(persona.id.clone(), persona.file.clone());
                        discovery.personas.push(persona);
                    }
                }
                Err(error) => discovery.errors.push(error),
            }
        }
        discovery.personas.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(discovery)
    }

    fn invalid(&self, message: String) -> PersonaError {
        PersonaError::Invalid { path: self.file.clone(), persona: self.id.clone(), message }
    }

    fn read_fixtures(&mut self, dir: &Path) -> Result<(), PersonaError> {
        let (file, id) = (self.file.clone(), self.id.clone());
        let read = |fixture: &mut Fixture| -> Result<(), PersonaError> {
            let path = dir.join(&fixture.name);
            fixture.body = fs::read_to_string(&path).map_err(|e| PersonaError::Fixture {
                path: file.clone(),
                persona: id.clone(),
                fixture: path.clone(),
                message: e.to_string(),
            })?;
            Ok(())
        };
        read(&mut self.token.response)?;
        read(&mut self.token.error)?;
        if let Some(refresh) = &mut self.refresh {
            read(&mut refresh.response)?;
        }
        for call in &mut self.userinfo {
            read(&mut call.response)?;
        }
        // Fixture contents are checked here, where the fixture's name is at hand.
        let fixture_error = |fixture: &Fixture, message: String| PersonaError::Fixture {
            path: file.clone(),
            persona: id.clone(),
            fixture: dir.join(&fixture.name),
            message,
        };
        let mut token_fixtures = vec![&self.token.response];
        token_fixtures.extend(self.refresh.as_ref().map(|r| &r.response));
        for fixture in token_fixtures {
            self.token
                .render(&fixture.body, "access", "refresh")
                .map_err(|message| fixture_error(fixture, message))?;
        }
        if self.token.error.body.trim().is_empty() {
            return Err(fixture_error(&self.token.error, "the error fixture is empty".to_owned()));
        }
        for call in &self.userinfo {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&call.response.body) {
                return Err(fixture_error(&call.response, format!("not valid JSON: {e}")));
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("`id` is empty".to_owned());
        }
        if self.expect.id.is_empty() {
            return Err("`expect.id` is empty".to_owned());
        }
        let status = |name: &str, status: u16| {
            if (100..=599).contains(&status) {
                Ok(())
            } else {
                Err(format!("`{name}` {status} is not an HTTP status"))
            }
        };
        status("token.error_status", self.token.error_status)?;
        if let Some(revoke) = &self.revoke {
            status("revoke.status", revoke.status)?;
            if revoke.param.is_empty() {
                return Err("`revoke.param` is empty".to_owned());
            }
        }
        if axum::http::HeaderValue::from_str(&self.token.content_type).is_err() {
            return Err(format!("`token.content_type` `{}` is not a header value", self.token.content_type));
        }
        if self.token.method == HttpMethod::Get && self.token.body == BodyFormat::Json {
            return Err("`token.body = \"json\"` needs a method with a body, not GET".to_owned());
        }
        let pointers = [
            ("token_pointer", Some(&self.token.token_pointer)),
            ("access_token_pointer", self.token.access_token_pointer.as_ref()),
            ("refresh_token_pointer", self.token.refresh_token_pointer.as_ref()),
        ];
        for (name, pointer) in pointers {
            if let Some(pointer) = pointer.filter(|p| !p.is_empty() && !p.starts_with('/')) {
                return Err(format!("`token.{name}` `{pointer}` must be empty or start with `/`"));
            }
        }
        if let Some(revoke) = &self.revoke {
            let in_header = matches!(
                revoke.token,
                RevokeToken::Placement(TokenPlacement::Bearer | TokenPlacement::Scheme(_))
            );
            let checked = self.revoke_client_auth().is_some_and(|style| style != ClientAuthStyle::None);
            if in_header && checked {
                return Err("`revoke`: a token in the Authorization header leaves no room for client \
                            authentication; set `client_auth = \"none\"`"
                    .to_owned());
            }
        }
        for call in &self.userinfo {
            for (name, value) in &call.headers {
                if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err()
                    || axum::http::HeaderValue::from_str(value).is_err()
                {
                    return Err(format!("userinfo `{}`: header `{name}` is not a valid header", call.path));
                }
            }
        }
        if let Some(id_token) = &self.id_token {
            if crate::TestSigner::for_alg(&id_token.alg).is_none() {
                return Err(format!("id_token.alg `{}` is not RS256 or ES256", id_token.alg));
            }
            if Wire::of(&self.token.content_type) != Wire::Json {
                return Err("id_token needs a JSON token answer".to_owned());
            }
        }
        let mut routes = BTreeSet::new();
        for route in self.routes() {
            if !routes.insert((route.path.route(), route.method)) {
                return Err(format!("two endpoints answer {} {}", route.method, route.path));
            }
        }
        Ok(())
    }

    /// Every route the mock serves for this persona; token and refresh share one when their path
    /// is the same.
    pub(crate) fn routes(&self) -> Vec<Route> {
        let mut routes = vec![Route {
            path: self.authorize.path.clone(),
            method: HttpMethod::Get,
            kind: RouteKind::Authorize,
        }];
        let refresh_path =
            self.refresh.as_ref().map(|r| r.path.clone().unwrap_or_else(|| self.token.path.clone()));
        let shared = refresh_path.as_ref().is_some_and(|p| p.route() == self.token.path.route());
        routes.push(Route {
            path: self.token.path.clone(),
            method: self.token.method,
            kind: RouteKind::Token { refresh: shared },
        });
        if let (Some(path), false) = (refresh_path, shared) {
            routes.push(Route { path, method: self.token.method, kind: RouteKind::Refresh });
        }
        for (index, call) in self.userinfo.iter().enumerate() {
            routes.push(Route {
                path: call.path.clone(),
                method: call.method,
                kind: RouteKind::UserInfo(index),
            });
        }
        if let Some(revoke) = &self.revoke {
            routes.push(Route { path: revoke.path.clone(), method: revoke.method, kind: RouteKind::Revoke });
        }
        if let Some(id_token) = &self.id_token {
            routes.push(Route {
                path: id_token.keys.clone(),
                method: HttpMethod::Get,
                kind: RouteKind::Keys,
            });
        }
        routes
    }

    /// The client authentication the revocation endpoint checks; `None` or `Some(None)`: nothing.
    pub fn revoke_client_auth(&self) -> Option<ClientAuthStyle> {
        let revoke = self.revoke.as_ref()?;
        match (revoke.client_auth, &revoke.token, self.token.client_auth) {
            (Some(style), _, _) => Some(style),
            (None, RevokeToken::Body, style @ (ClientAuthStyle::Basic | ClientAuthStyle::Body)) => {
                Some(style)
            }
            (None, _, _) => None,
        }
    }
}

/// One route of the impersonating mock.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) path: RoutePath,
    pub(crate) method: HttpMethod,
    pub(crate) kind: RouteKind,
}

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteKind {
    Authorize,
    /// The token endpoint; `refresh` when the refresh grant is served here too.
    Token {
        refresh: bool,
    },
    Refresh,
    UserInfo(usize),
    Revoke,
    /// The ID-token signing keys.
    Keys,
}
