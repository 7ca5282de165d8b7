//! Server configuration: a TOML file, environment overrides, and the zero-config defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The project used when no configuration names one.
pub const DEFAULT_PROJECT: &str = "default";

/// The whole configuration file. `Debug` leaves out the key.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:8080`; port 0 picks a free port).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The server's public base URL (`https://auth.example.com`): callback URLs, default success
    /// and failure pages, `Secure` cookies. Defaults to `http://<listen address>`.
    pub public_url: Option<String>,
    /// Directory for the SQLite databases and the generated key file.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The master key (64 hex digits or 43 base64url characters). When absent, a key is read
    /// from `<data_dir>/master.key`, and generated there on first start; a project on Postgres
    /// requires `key` or `key_env`, since every instance sharing its database needs the same key.
    pub key: Option<String>,
    /// Like `key`, read from this environment variable.
    pub key_env: Option<String>,
    /// Earlier master keys, still accepted to open what they sealed (login states in flight,
    /// stored provider tokens) after a rotation. At start the server re-seals stored tokens with
    /// the current key in the background (`loginkit-server reseal` does it on demand); drop an
    /// old key once that reports nothing left and the longest login (`state_lifetime_secs`) has
    /// passed.
    #[serde(default)]
    pub previous_keys: Vec<String>,
    /// Like `previous_keys`, read from this environment variable (comma-separated).
    pub previous_keys_env: Option<String>,
    /// Mounts the built-in mock identity provider at `/mock/oauth2` and enables providers `mock`
    /// and `mock-unverified` in every project. On without a configuration file, off with one;
    /// only in builds with the `mock-idp` feature (a default one).
    /// It signs anyone in as any of its users: the server refuses to start with it on a
    /// non-loopback `listen` address or an `https` `public_url` (a deployment, not a demo)
    /// unless `mock_idp_force` is set.
    #[serde(default)]
    pub mock_idp: bool,
    /// Runs the mock identity provider even where the server is reachable from elsewhere.
    #[serde(default)]
    pub mock_idp_force: bool,
    /// Requests one client IP may make to the OAuth routes (login starts and callbacks) per
    /// `rate_limit_window_secs`, as a burst that refills evenly; 0 turns the limit off. Default 50
    /// per hour, Appwrite's limit on these routes. Over it: HTTP 429 `general_rate_limit_exceeded`.
    #[serde(default = "default_rate_limit")]
    pub rate_limit: u32,
    /// The window of `rate_limit`, in seconds. Default 3600.
    #[serde(default = "default_rate_limit_window")]
    pub rate_limit_window_secs: u64,
    /// Addresses or networks of the reverse proxies in front of this server (`10.0.0.0/8`,
    /// `127.0.0.1`). Only a request arriving from one of them has its `X-Forwarded-For` read:
    /// the client is the nearest address in it that is not a trusted proxy. Without this list,
    /// forwarded headers are ignored and the client is the connection's peer.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Who may read `GET /metrics` (Prometheus), by the connection's address: loopback always,
    /// and these networks (`10.0.0.0/8`). Everyone else gets 404.
    #[serde(default)]
    pub metrics_from: Vec<String>,
    /// Longest time each call to a provider may take, in seconds (the connection itself gets at
    /// most 5). Default 15.
    #[serde(default = "default_provider_timeout")]
    pub provider_timeout_secs: u64,
    /// Projects by id.
    #[serde(default)]
    pub projects: BTreeMap<String, ProjectConfig>,
}

/// One project. `Debug` leaves out the database password.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// Hostname patterns success/failure URLs and CORS origins may use (`example.com`,
    /// `*.example.com`, `localhost`, which also allows `127.0.0.1` and `[::1]`).
    #[serde(default)]
    pub hostnames: Vec<String>,
    /// Custom URL schemes allowed for app deep links (`myapp`).
    #[serde(default)]
    pub schemes: Vec<String>,
    /// The project has native apps (iOS, Android, desktop) signing in through Appwrite's SDKs:
    /// allows the `appwrite-callback-<project>` scheme they listen on. Off by default: in a
    /// web-only project any installed app registering that scheme would receive the token flow's
    /// `userId` and `secret`.
    #[serde(default)]
    pub native_apps: bool,
    /// Most sessions per user (oldest removed first); 0 means no limit. Default 10.
    #[serde(default = "default_session_limit")]
    pub session_limit: u32,
    /// Session lifetime in seconds. Default one year.
    #[serde(default = "default_session_duration")]
    pub session_duration_secs: u64,
    /// Seconds a login may take from start to callback. Default 600.
    #[serde(default = "default_state_lifetime")]
    pub state_lifetime_secs: u64,
    /// The project's database: `sqlite://path.db` (one instance), or `postgres://user:password@host/db`
    /// (also `postgresql://`), which several instances may share. Default
    /// `sqlite://<data_dir>/<project>.db`.
    pub database_url: Option<String>,
    /// Like `database_url`, read from this environment variable (keeps a database password out of
    /// the file).
    pub database_url_env: Option<String>,
    /// Success URL when a login names none. Default: the demo page.
    pub success_url: Option<String>,
    /// Failure URL when a login names none. Default: the demo page.
    pub failure_url: Option<String>,
    /// `false`: logins create no users (members still sign in and link providers); a new
    /// person's login ends at the failure URL with `user_count_exceeded`. Default `true`.
    #[serde(default = "yes")]
    pub signup: bool,
    /// When not empty, a new user needs an email address the provider verified, in one of these
    /// domains (exact, case-insensitive); others end with `user_email_not_whitelisted`.
    #[serde(default)]
    pub allowed_email_domains: Vec<String>,
    /// Users (by id) who may not sign in: their logins end with `user_blocked` and their sessions
    /// are answered 401 `user_blocked`, as Appwrite does for a user whose status is off.
    #[serde(default)]
    pub blocked_users: Vec<String>,
    /// Whether signing out and unlinking revoke the provider tokens of that login or account at
    /// the provider (for providers that can; retried while the provider is down). Default `true`.
    #[serde(default = "yes")]
    pub revoke_provider_tokens: bool,
    /// Enabled providers by id.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSettings>,
    /// API keys by name: the app's own server (server-side rendering) sends one as
    /// `X-Appwrite-Key` to start logins for browsers, redeem their secrets into sessions whose
    /// `secret` it is given, and read users.
    #[serde(default)]
    pub api_keys: BTreeMap<String, ApiKeySettings>,
}

/// One API key of a project: its secret from the environment, or only the secret's SHA-256 in
/// the file. `Debug` leaves out the digest.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    /// The environment variable holding the key (32 to 512 visible characters).
    pub secret_env: Option<String>,
    /// The SHA-256 of the key in hex (`loginkit-server api-key` prints one), so the file holds
    /// no secret.
    pub sha256: Option<String>,
    /// What the key may do, in Appwrite's names: `sessions.write` (start logins and create
    /// sessions for browsers), `users.read` (read users).
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// One provider of a project. `Debug` leaves out the client secret.
///
/// The table's name is the provider id: a provider of this build (`github`), or, with `kind`, a
/// provider defined here under an id of its own (`corp-sso`): `kind = "oidc"`, the generic
/// OpenID Connect provider with its `params` (`issuer`, ...), as many as a project needs; or
/// `kind = "oauth2"` with an `[oauth2]` table of endpoints and user-info fields.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// `oidc` or `oauth2` for a provider defined here; absent for a provider of this build.
    pub kind: Option<String>,
    /// The display name of a provider defined here (default: its id).
    pub name: Option<String>,
    /// The endpoints and user-info fields of a `kind = "oauth2"` provider.
    pub oauth2: Option<OAuth2Settings>,
    /// The OAuth client id.
    pub client_id: String,
    /// The client secret (prefer `client_secret_env`).
    pub client_secret: Option<String>,
    /// The environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// Provider-specific keys (`tenant`, `domain`, `realm`, `team_id`, ...).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Replaces the origin of the provider's endpoints (self-hosted or test servers).
    pub base_url: Option<String>,
    /// `false` keeps the settings but disables the provider.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Sign-in with an ID token the app obtained natively (`POST /v1/account/sessions/id-token`),
    /// for providers whose ID tokens loginkit verifies. Default off.
    #[serde(default)]
    pub native: bool,
    /// Client ids besides `client_id` the native ID tokens may be addressed to (the iOS bundle
    /// id, the Android client id).
    #[serde(default)]
    pub native_client_ids: Vec<String>,
}

/// A provider defined in the configuration with `kind = "oauth2"`: its endpoints and where its
/// user-info answer keeps each field (JSON pointers).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Settings {
    /// The authorization endpoint (https; plain http only on loopback).
    pub authorize_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The user-info endpoint, called with the access token as `Authorization: Bearer`.
    pub userinfo_url: String,
    /// `basic` (default) or `body`: how the client authenticates at the token endpoint.
    #[serde(default = "basic")]
    pub client_auth: String,
    /// Whether PKCE (S256) is sent. Default `true`.
    #[serde(default = "yes")]
    pub pkce: bool,
    /// Whether the token endpoint issues refresh tokens. Default `false`.
    #[serde(default)]
    pub refresh: bool,
    /// Scopes every login asks for.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// JSON pointer of the user id. Default `/id`.
    #[serde(default = "id_pointer")]
    pub user_id: String,
    /// JSON pointer of the email address.
    pub email: Option<String>,
    /// JSON pointer of the flag saying the email is verified; without it no email is trusted.
    pub email_verified: Option<String>,
    /// JSON pointer of the display name.
    pub name: Option<String>,
    /// JSON pointer of the avatar URL.
    pub avatar: Option<String>,
}

impl fmt::Debug for ApiKeySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeySettings")
            .field("secret_env", &self.secret_env)
            .field("sha256", &redacted(&self.sha256))
            .field("scopes", &self.scopes)
            .finish()
    }
}

fn basic() -> String {
    "basic".to_owned()
}

fn id_pointer() -> String {
    "/id".to_owned()
}

impl ProviderSettings {
    /// The descriptor these settings name: a provider of `registry`, or one defined here.
    pub fn descriptor(
        &self,
        id: &str,
        registry: &loginkit::Registry,
    ) -> Result<&'static loginkit::ProviderDescriptor, String> {
        use loginkit::runtime::{OAuth2Definition, ProviderId};
        let Some(kind) = self.kind.as_deref() else {
            if self.oauth2.is_some() || self.name.is_some() {
                return Err("`oauth2` and `name` are for a provider defined here: set `kind`".into());
            }
            return registry.get(id).map_err(|e| {
                format!("{e} (to define a provider of your own under this id, set `kind = \"oidc\"` or `kind = \"oauth2\"`)")
            });
        };
        if registry.get(id).is_ok() {
            return Err(format!(
                "`{id}` is a provider of this build; a provider defined here needs an id of its own (`corp-{id}`)"
            ));
        }
        let parsed = ProviderId::parse(id).map_err(|e| e.to_string())?;
        let name = self.name.as_deref().unwrap_or(id);
        match (kind, &self.oauth2) {
            ("oidc", None) => Ok(registry.get("oidc").map_err(|e| e.to_string())?.renamed(&parsed, name)),
            ("oauth2", Some(o)) => {
                let client_auth = match o.client_auth.as_str() {
                    "basic" => loginkit::descriptor::ClientAuth::Basic,
                    "body" => loginkit::descriptor::ClientAuth::Body,
                    other => return Err(format!("oauth2.client_auth: `{other}` is not basic or body")),
                };
                let mut definition =
                    OAuth2Definition::new(parsed, name, &o.authorize_url, &o.token_url, &o.userinfo_url)
                        .client_auth(client_auth)
                        .pkce(o.pkce)
                        .refresh(o.refresh)
                        .scopes(o.scopes.iter().cloned())
                        .user_id(&o.user_id);
                for (field, value) in [
                    ("email", &o.email),
                    ("email_verified", &o.email_verified),
                    ("name", &o.name),
                    ("avatar", &o.avatar),
                ] {
                    if let Some(pointer) = value {
                        definition = match field {
                            "email" => definition.email(pointer),
                            "email_verified" => definition.email_verified(pointer),
                            "name" => definition.name(pointer),
                            _ => definition.avatar(pointer),
                        };
                    }
                }
                definition.descriptor().map_err(|e| e.to_string())
            }
            ("oidc", Some(_)) => {
                Err("an `oidc` provider takes `params` (`issuer`, ...), not an `oauth2` table".into())
            }
            ("oauth2", None) => {
                Err("`kind = \"oauth2\"` needs an `[oauth2]` table (authorize_url, token_url, userinfo_url)"
                    .into())
            }
            (other, _) => Err(format!("kind: `{other}` is not `oidc` or `oauth2`")),
        }
    }
}

/// `"<redacted>"` for a secret that is set.
fn redacted(value: &Option<String>) -> Option<&'static str> {
    value.as_ref().map(|_| "<redacted>")
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("data_dir", &self.data_dir)
            .field("key", &redacted(&self.key))
            .field("key_env", &self.key_env)
            .field("previous_keys", &self.previous_keys.iter().map(|_| "<redacted>").collect::<Vec<_>>())
            .field("previous_keys_env", &self.previous_keys_env)
            .field("mock_idp", &self.mock_idp)
            .field("mock_idp_force", &self.mock_idp_force)
            .field("rate_limit", &self.rate_limit)
            .field("rate_limit_window_secs", &self.rate_limit_window_secs)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("metrics_from", &self.metrics_from)
            .field("provider_timeout_secs", &self.provider_timeout_secs)
            .field("projects", &self.projects)
            .finish()
    }
}

impl fmt::Debug for ProjectConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProjectConfig")
            .field("hostnames", &self.hostnames)
            .field("schemes", &self.schemes)
            .field("native_apps", &self.native_apps)
            .field("session_limit", &self.session_limit)
            .field("session_duration_secs", &self.session_duration_secs)
            .field("state_lifetime_secs", &self.state_lifetime_secs)
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("database_url_env", &self.database_url_env)
            .field("success_url", &self.success_url)
            .field("failure_url", &self.failure_url)
            .field("providers", &self.providers)
            .field("api_keys", &self.api_keys)
            .finish()
    }
}

impl fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(&self.client_secret))
            .field("client_secret_env", &self.client_secret_env)
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .field("base_url", &self.base_url)
            .field("enabled", &self.enabled)
            .finish()
    }
}

fn default_rate_limit() -> u32 {
    50
}
fn default_rate_limit_window() -> u64 {
    3600
}
fn default_provider_timeout() -> u64 {
    15
}
fn default_listen() -> String {
    DEFAULT_LISTEN.to_owned()
}
fn default_data_dir() -> PathBuf {
    PathBuf::from(".loginkit")
}
fn default_session_limit() -> u32 {
    10
}
fn default_session_duration() -> u64 {
    365 * 24 * 3600
}
fn default_state_lifetime() -> u64 {
    600
}
fn yes() -> bool {
    true
}

/// A configuration that cannot be used; the message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// The zero-config setup: project `default`, localhost allowed, the mock provider on.
    pub fn zero() -> Self {
        let mut projects = BTreeMap::new();
        projects.insert(DEFAULT_PROJECT.to_owned(), ProjectConfig::localhost());
        Self {
            listen: default_listen(),
            public_url: None,
            data_dir: default_data_dir(),
            key: None,
            key_env: None,
            previous_keys: Vec::new(),
            previous_keys_env: None,
            mock_idp: cfg!(feature = "mock-idp"),
            mock_idp_force: false,
            rate_limit: default_rate_limit(),
            rate_limit_window_secs: default_rate_limit_window(),
            trusted_proxies: Vec::new(),
            metrics_from: Vec::new(),
            provider_timeout_secs: default_provider_timeout(),
            projects,
        }
    }

    /// Reads a configuration file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text)
            .map_err(|ConfigError(message)| ConfigError(format!("{}: {message}", path.display())))
    }

    /// Parses a configuration.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        if config.projects.is_empty() {
            config.projects.insert(DEFAULT_PROJECT.to_owned(), ProjectConfig::localhost());
        }
        Ok(config)
    }

    /// Applies `LOGINKIT_LISTEN`, `LOGINKIT_PUBLIC_URL`, `LOGINKIT_DATA_DIR`, `LOGINKIT_KEY` and
    /// `LOGINKIT_MOCK_IDP` (`true`/`false`, or `force` for `mock_idp_force`) from `env`.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(listen) = env("LOGINKIT_LISTEN") {
            self.listen = listen;
        }
        if let Some(url) = env("LOGINKIT_PUBLIC_URL") {
            self.public_url = Some(url);
        }
        if let Some(dir) = env("LOGINKIT_DATA_DIR") {
            self.data_dir = PathBuf::from(dir);
        }
        if let Some(key) = env("LOGINKIT_KEY") {
            self.key = Some(key);
        }
        if let Some(mock) = env("LOGINKIT_MOCK_IDP") {
            (self.mock_idp, self.mock_idp_force) = match mock.as_str() {
                "1" | "true" | "yes" | "on" => (true, self.mock_idp_force),
                "force" => (true, true),
                "0" | "false" | "no" | "off" => (false, false),
                other => {
                    return Err(ConfigError(format!(
                        "LOGINKIT_MOCK_IDP: expected true, false or force, got `{other}`"
                    )));
                }
            };
        }
        Ok(())
    }

    /// The listen address, checked.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            ConfigError(format!("listen: `{}` is not an address like 127.0.0.1:8080", self.listen))
        })
    }

    /// `trusted_proxies`, parsed: a bare address is a network of one.
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        networks("trusted_proxies", &self.trusted_proxies)
    }

    /// The networks `metrics_from` names.
    pub fn metrics_from(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        networks("metrics_from", &self.metrics_from)
    }

    /// The public URL, checked.
    pub fn public_url(&self) -> Result<Option<Url>, ConfigError> {
        self.public_url.as_deref().map(|s| parse_base_url("public_url", s)).transpose()
    }

    /// Refuses the mock identity provider where others could use it (see [`Config::mock_idp`]).
    pub fn check_mock_idp(&self) -> Result<(), ConfigError> {
        if self.mock_idp && !cfg!(feature = "mock-idp") {
            return Err(ConfigError(
                "mock_idp: this build has no mock identity provider (built without the `mock-idp` feature); \
                 turn mock_idp off"
                    .into(),
            ));
        }
        if !self.mock_idp || self.mock_idp_force {
            return Ok(());
        }
        let listen = self.listen_addr()?;
        let https = self.public_url()?.is_some_and(|url| url.scheme() == "https");
        if listen.ip().is_loopback() && !https {
            return Ok(());
        }
        let reason = if https {
            "an https public_url".to_owned()
        } else {
            format!("listen address {listen}, which is not loopback")
        };
        Err(ConfigError(format!(
            "mock_idp: the mock identity provider signs anyone in as any of its users, and this server              is reachable from elsewhere ({reason}); turn mock_idp off, or set mock_idp_force = true              (LOGINKIT_MOCK_IDP=force) to run it anyway"
        )))
    }
}

impl ProjectConfig {
    fn localhost() -> Self {
        Self {
            hostnames: vec!["localhost".into()],
            schemes: Vec::new(),
            native_apps: false,
            session_limit: default_session_limit(),
            session_duration_secs: default_session_duration(),
            state_lifetime_secs: default_state_lifetime(),
            database_url: None,
            database_url_env: None,
            success_url: None,
            failure_url: None,
            signup: true,
            allowed_email_domains: Vec::new(),
            blocked_users: Vec::new(),
            revoke_provider_tokens: true,
            providers: BTreeMap::new(),
            api_keys: BTreeMap::new(),
        }
    }
}

impl ProviderSettings {
    /// The client secret from the file or the environment; `None` when neither is set.
    pub fn secret(&self, env: impl Fn(&str) -> Option<String>) -> Result<Option<String>, String> {
        match (&self.client_secret, &self.client_secret_env) {
            (Some(_), Some(_)) => Err("set client_secret or client_secret_env, not both".into()),
            (Some(secret), None) => Ok(Some(secret.clone())),
            (None, Some(var)) => match env(var) {
                Some(secret) if !secret.is_empty() => Ok(Some(secret)),
                _ => Err(format!("client_secret_env names `{var}`, which is not set")),
            },
            (None, None) => Ok(None),
        }
    }
}

/// Where a project keeps its data.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Database {
    /// A SQLite file (`sqlite:` URL): one server instance.
    Sqlite(String),
    /// A PostgreSQL database (`postgres://` or `postgresql://` URL), which several instances may
    /// share.
    Postgres(String),
}

impl Database {
    /// Whether other server instances may use the same database.
    pub fn is_shared(&self) -> bool {
        matches!(self, Database::Postgres(_))
    }

    /// The URL.
    pub fn url(&self) -> &str {
        match self {
            Database::Sqlite(url) | Database::Postgres(url) => url,
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(url) => f.debug_tuple("Sqlite").field(&redact_url(url)).finish(),
            Database::Postgres(url) => f.debug_tuple("Postgres").field(&redact_url(url)).finish(),
        }
    }
}

/// Each project's database, from `database_url`, `database_url_env` or the default SQLite file in
/// `data_dir`. Errors name the setting; no two projects may share a database (users and
/// sessions are not scoped by project inside one).
pub fn databases(
    config: &Config,
    env: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, Database>, ConfigError> {
    let mut out: BTreeMap<String, Database> = BTreeMap::new();
    for (id, project) in &config.projects {
        let url = match (&project.database_url, &project.database_url_env) {
            (Some(_), Some(_)) => {
                return Err(ConfigError(format!(
                    "projects.{id}: set database_url or database_url_env, not both"
                )));
            }
            (Some(url), None) => url.clone(),
            (None, Some(var)) => env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                ConfigError(format!("projects.{id}.database_url_env names `{var}`, which is not set"))
            })?,
            (None, None) => format!("sqlite://{}", config.data_dir.join(format!("{id}.db")).display()),
        };
        let database = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Database::Postgres(url)
        } else if url.starts_with("sqlite:") {
            Database::Sqlite(url)
        } else {
            return Err(ConfigError(format!(
                "projects.{id}.database_url: `{}` is neither a sqlite: nor a postgres:// URL",
                redact_url(&url)
            )));
        };
        if let Some((other, _)) = out.iter().find(|(_, db)| db.url() == database.url()) {
            return Err(ConfigError(format!(
                "projects.{id}.database_url: projects {other} and {id} use the same database; each \
                 project needs its own"
            )));
        }
        out.insert(id.clone(), database);
    }
    Ok(out)
}

/// A database URL fit for messages and logs: the password replaced by `****`.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Unparseable: show nothing that could be a password.
        Err(_) => match url.split_once('@') {
            Some((_, host)) => format!("****@{host}"),
            None => url.to_owned(),
        },
    }
}

/// An absolute `http`/`https` URL used as a base.
pub fn parse_base_url(setting: &str, value: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(value).map_err(|e| ConfigError(format!("{setting}: `{value}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError(format!("{setting}: `{value}` must be an http or https URL")));
    }
    Ok(url)
}

/// Addresses and networks of setting `name`: a bare address is a network of one.
fn networks(name: &str, entries: &[String]) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    entries
        .iter()
        .map(|entry| {
            let entry = entry.trim();
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError(format!("{name}: `{entry}` is not an address or network like 10.0.0.0/8"))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_file_parses() {
        let config = Config::from_toml(
            r#"
            listen = "0.0.0.0:9000"
            public_url = "https://auth.example.com"
            [projects.app]
            hostnames = ["example.com", "*.example.com"]
            session_limit = 3
            [projects.app.providers.github]
            client_id = "id"
            client_secret_env = "GH_SECRET"
            [projects.app.providers.microsoft]
            client_id = "id"
            client_secret = "s"
            params = { tenant = "organizations" }
            "#,
        )
        .unwrap();
        let app = &config.projects["app"];
        assert_eq!(app.session_limit, 3);
        assert_eq!(app.providers["microsoft"].params["tenant"], "organizations");
        assert!(!config.mock_idp, "a configuration file turns the mock provider off unless asked");
        let github = &app.providers["github"];
        assert_eq!(github.secret(|_| Some("x".into())).unwrap().as_deref(), Some("x"));
        assert!(github.secret(|_| None).unwrap_err().contains("GH_SECRET"));
    }

    #[test]
    fn mistakes_are_named() {
        let error = Config::from_toml("listn = \"x\"").unwrap_err().to_string();
        assert!(error.contains("listn"), "{error}");
        let mut config = Config::zero();
        config.listen = "nonsense".into();
        assert!(config.listen_addr().unwrap_err().to_string().contains("nonsense"));
        config.public_url = Some("ftp://x".into());
        assert!(config.public_url().is_err());
        assert!(config.apply_env(|k| (k == "LOGINKIT_MOCK_IDP").then(|| "maybe".into())).is_err());
    }

    #[test]
    fn databases_are_chosen_by_url_and_named_in_errors() {
        let with = |extra: &str| {
            Config::from_toml(&format!(
                "data_dir = \"/data\"\n[projects.a]\n{extra}\n[projects.b]\ndatabase_url = \"postgresql://u:pw@db/b\""
            ))
            .unwrap()
        };
        let env = |k: &str| (k == "A_DB").then(|| "postgres://u:secret@db:5432/a".to_owned());
        let dbs = databases(&with(""), env).unwrap();
        assert_eq!(dbs["a"], Database::Sqlite("sqlite:///data/a.db".into()));
        assert_eq!(dbs["b"], Database::Postgres("postgresql://u:pw@db/b".into()));
        assert!(dbs["b"].is_shared() && !dbs["a"].is_shared());
        let dbs = databases(&with("database_url_env = \"A_DB\""), env).unwrap();
        assert_eq!(dbs["a"], Database::Postgres("postgres://u:secret@db:5432/a".into()));
        let error = |extra: &str| databases(&with(extra), env).unwrap_err().to_string();
        let mysql = error("database_url = \"mysql://u:hunter2@db/a\"");
        assert!(mysql.contains("projects.a.database_url") && !mysql.contains("hunter2"), "{mysql}");
        assert!(error("database_url_env = \"NOPE\"").contains("NOPE"));
        assert!(error("database_url = \"sqlite://x\"\ndatabase_url_env = \"A_DB\"").contains("not both"));
        let shared = error("database_url = \"postgresql://u:pw@db/b\"");
        assert!(shared.contains("same database") && !shared.contains("pw@"), "{shared}");
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let config = Config::from_toml(
            r#"
            key = "k-secret-value"
            previous_keys = ["old-secret-value"]
            [projects.app]
            database_url = "postgres://loginkit:db-secret-value@db/app"
            [projects.app.providers.github]
            client_id = "id"
            client_secret = "client-secret-value"
            params = { private_key = "param-secret-value" }
            [projects.app.api_keys.ssr]
            sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            scopes = ["users.read"]
            "#,
        )
        .unwrap();
        let shown = format!("{config:?} {:?}", databases(&config, |_| None).unwrap());
        for secret in [
            "k-secret-value",
            "old-secret-value",
            "db-secret-value",
            "client-secret-value",
            "param-secret-value",
            "0123456789abcdef0123456789abcdef",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("postgres://loginkit:****@db/app"), "{shown}");
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(redact_url("postgres://u:p@h:5432/d"), "postgres://u:****@h:5432/d");
    }

    #[test]
    fn env_overrides() {
        let mut config = Config::zero();
        config
            .apply_env(|k| match k {
                "LOGINKIT_LISTEN" => Some("127.0.0.1:0".into()),
                "LOGINKIT_MOCK_IDP" => Some("false".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.listen, "127.0.0.1:0");
        assert!(!config.mock_idp);
    }

    #[cfg(not(feature = "mock-idp"))]
    #[test]
    fn a_build_without_the_mock_provider_starts_without_it_and_refuses_it_when_asked() {
        let mut config = Config::zero();
        assert!(!config.mock_idp, "the zero-config server has no mock provider to mount");
        assert!(config.check_mock_idp().is_ok());
        config.apply_env(|k| (k == "LOGINKIT_MOCK_IDP").then(|| "force".into())).unwrap();
        let error = config.check_mock_idp().unwrap_err().to_string();
        assert!(error.contains("mock-idp") && error.contains("turn mock_idp off"), "{error}");
    }

    #[cfg(feature = "mock-idp")]
    #[test]
    fn the_mock_provider_stays_on_loopback_unless_forced() {
        let mut config = Config::zero();
        assert!(config.check_mock_idp().is_ok(), "the zero-config demo");
        config.listen = "0.0.0.0:8080".into();
        let error = config.check_mock_idp().unwrap_err().to_string();
        assert!(error.contains("0.0.0.0:8080") && error.contains("mock_idp_force"), "{error}");
        config.listen = "[::1]:8080".into();
        config.public_url = Some("https://auth.example.com".into());
        assert!(config.check_mock_idp().unwrap_err().to_string().contains("https"));
        config.apply_env(|k| (k == "LOGINKIT_MOCK_IDP").then(|| "force".into())).unwrap();
        assert!(config.check_mock_idp().is_ok());
        config.mock_idp_force = false;
        config.mock_idp = false;
        assert!(config.check_mock_idp().is_ok(), "off is always fine");
    }
}
