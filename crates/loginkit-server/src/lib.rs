//! loginkit's reference server: Appwrite's account OAuth2 REST API over [`loginkit_flow`].
//!
//! [`Server::bind`] turns a [`Config`] into a listening server: one [`Flow`] and one database per
//! project (SQLite, or PostgreSQL shared by several instances), the master key from the
//! configuration or generated on first start, and optionally the built-in mock identity provider
//! under `/mock/oauth2`. The HTTP layer is in [`routes`]; it only translates between HTTP and the
//! flow.

pub mod api_keys;
pub mod config;
pub mod errors;
mod http;
pub mod metrics;
pub mod rate_limit;
pub mod routes;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use loginkit::{HttpClient, HttpConfig, ProviderConfig, Registry};
use loginkit_flow::{AllowList, Flow, Keys, PgStore, Project, Rules, SqliteStore, Store};
use tokio::net::TcpListener;
use url::Url;

pub use config::{Config, ConfigError};

/// What the routes share.
#[derive(Debug)]
pub struct AppState {
    /// Flows by project id.
    pub projects: BTreeMap<String, Flow>,
    /// API keys by project id.
    pub api_keys: BTreeMap<String, api_keys::ApiKeys>,
    /// The configured public URL, if any.
    pub public_url: Option<Url>,
    /// The address actually listened on.
    pub local_addr: SocketAddr,
    /// The per-client limit of the login starts.
    pub rate_limiter: rate_limit::RateLimiter,
    /// The reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The login metrics.
    pub metrics: metrics::Metrics,
    /// Who besides loopback may read them.
    pub metrics_from: Vec<ipnet::IpNet>,
}

impl AppState {
    /// The API key a request to `project` authenticates with for `scope` (see
    /// [`api_keys::ApiKeys::authenticate`]).
    pub fn api_key(
        &self,
        project: &str,
        headers: &axum::http::HeaderMap,
        scope: api_keys::Scope,
    ) -> Result<Option<&api_keys::ApiKey>, errors::ApiError> {
        static NONE: std::sync::LazyLock<api_keys::ApiKeys> = std::sync::LazyLock::new(Default::default);
        self.api_keys.get(project).unwrap_or(&NONE).authenticate(headers, scope)
    }

    /// The base URL for callbacks and default pages when handling a request with this `Host`.
    ///
    /// A configured `public_url` always wins. Without one, a loopback `Host` (`localhost`,
    /// `127.0.0.1`, `[::1]` at this server's port) is kept, so a browser that started on
    /// `localhost` comes back to `localhost` with its cookies; anything else gets the listen
    /// address (never an arbitrary `Host`).
    pub fn base_url(&self, host: Option<&str>) -> Url {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let port = self.local_addr.port();
        let loopback = host.filter(|h| {
            [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")]
                .iter()
                .any(|ok| ok == h)
        });
        let authority = loopback.map(str::to_owned).unwrap_or_else(|| self.local_addr.to_string());
        Url::parse(&format!("http://{authority}/")).expect("a socket address makes a URL")
    }

    /// The address of the client a request comes from: the connection's peer, or, when the peer
    /// is a trusted proxy, the nearest address in `X-Forwarded-For` (read right to left) that is
    /// not one. An entry that is not an address ends the walk at the last trusted hop: a client
    /// can prepend anything, but only proxies append.
    pub fn client_ip(&self, peer: SocketAddr, headers: &axum::http::HeaderMap) -> std::net::IpAddr {
        let trusted = |ip: &std::net::IpAddr| self.trusted_proxies.iter().any(|net| net.contains(ip));
        let mut client = peer.ip();
        if !trusted(&client) {
            return client;
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        for hop in forwarded.iter().rev() {
            match hop.parse::<std::net::IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !trusted(&ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }

    /// Whether cookies must be `Secure` (the public URL is https).
    pub fn secure(&self) -> bool {
        self.public_url.as_ref().is_some_and(|u| u.scheme() == "https")
    }

    /// Whether a response to `request` may name `origin` in `Access-Control-Allow-Origin` (with
    /// credentials): only when the origin is trusted by the request's own project (see
    /// [`loginkit_flow::AllowList::trusts_origin`]). A page of one project never reads another
    /// project's answers. A preflight (`OPTIONS`) carries no credentials and gets no data back,
    /// and browsers do not send the project header on it: it is answered for an origin any
    /// project trusts.
    pub fn cors_trusts(&self, origin: &str, request: &axum::http::request::Parts) -> bool {
        let https_only = self.secure();
        if request.method == axum::http::Method::OPTIONS {
            return self
                .projects
                .values()
                .any(|flow| flow.project().allow().trusts_origin(origin, https_only));
        }
        let query = http::pairs(request.uri.query().unwrap_or_default().as_bytes());
        let project = http::project_id(&query, &request.headers)
            .map(str::to_owned)
            .or_else(|| routes::callback_project(request.uri.path()).map(str::to_owned));
        project
            .and_then(|id| self.projects.get(&id))
            .is_some_and(|flow| flow.project().allow().trusts_origin(origin, https_only))
    }
}

/// A bound server, ready to serve.
pub struct Server {
    listener: TcpListener,
    router: Router,
    state: Arc<AppState>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("state", &self.state).finish_non_exhaustive()
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The address could not be bound, or the data directory written.
    #[error("{0}")]
    Io(String),
    /// A database could not be opened or migrated.
    #[error("database {url}: {source}")]
    Store {
        /// The database URL, without its password.
        url: String,
        /// The cause.
        source: loginkit_flow::StoreError,
    },
}

impl Server {
    /// Binds the listen address and prepares every project. `env` reads environment variables
    /// (client secrets named by `client_secret_env`, `key_env`, `database_url_env`).
    pub async fn bind(config: Config, env: impl Fn(&str) -> Option<String>) -> Result<Self, StartError> {
        let addr = config.listen_addr()?;
        let public_url = config.public_url()?;
        config.check_mock_idp()?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| StartError::Io(format!("cannot listen on {addr}: {e}")))?;
        let local_addr = listener.local_addr().map_err(|e| StartError::Io(e.to_string()))?;
        let databases = config::databases(&config, &env)?;
        if let Some((id, _)) = databases.iter().find(|(_, db)| db.is_shared())
            && config.key.is_none()
            && config.key_env.is_none()
        {
            return Err(ConfigError(format!(
                "projects.{id}.database_url is a Postgres database, which other server instances may \
                 share: set `key` or `key_env` (or LOGINKIT_KEY) to the master key every instance uses. \
                 A key generated here would differ from theirs, and they could not open the login states \
                 and provider tokens this instance seals."
            ))
            .into());
        }
        let (master, previous_keys) = load_master_key(&config, &env).await?;
        let registry = Registry::global().map_err(|e| ConfigError(e.to_string()))?;
        let timeout = Duration::from_secs(config.provider_timeout_secs.max(1));
        let http_config =
            HttpConfig::default().timeout(timeout).connect_timeout(timeout.min(Duration::from_secs(5)));
        // Provider ids as metric labels: this build's, and those the configuration defines.
        let mut known: Vec<String> = registry.ids().into_iter().map(str::to_owned).collect();
        for settings in config.projects.values() {
            known.extend(
                settings.providers.iter().filter(|(_, p)| p.kind.is_some()).map(|(id, _)| id.clone()),
            );
        }
        let metrics = metrics::Metrics::new(known);
        let http = HttpClient::new(&http_config)
            .map_err(|e| ConfigError(format!("HTTP client: {e}")))?
            .observed(metrics.provider_observer());
        // How the server reaches itself (the built-in mock provider): an unspecified listen
        // address (0.0.0.0, [::]) is reached on loopback.
        let mut reach = local_addr;
        if reach.ip().is_unspecified() {
            reach.set_ip(match reach {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let internal = Url::parse(&format!("http://{reach}/")).expect("socket address URL");
        let default_page = public_url.clone().unwrap_or_else(|| internal.clone());

        let mut projects = BTreeMap::new();
        let mut keys_by_project = BTreeMap::new();
        for (id, settings) in &config.projects {
            keys_by_project.insert(id.clone(), api_keys::ApiKeys::from_config(id, &settings.api_keys, &env)?);
            let project =
                build_project(id, settings, &config, registry, &http, &internal, &default_page, &env)?;
            let store: Arc<dyn Store> = match &databases[id] {
                config::Database::Postgres(url) => Arc::new(
                    PgStore::open(url)
                        .await
                        .map_err(|source| StartError::Store { url: config::redact_url(url), source })?,
                ),
                config::Database::Sqlite(url) => {
                    if settings.database_url.is_none() && settings.database_url_env.is_none() {
                        private_dir(&config.data_dir)?;
                    }
                    Arc::new(
                        SqliteStore::open(url)
                            .await
                            .map_err(|source| StartError::Store { url: config::redact_url(url), source })?,
                    )
                }
            };
            let keys = Keys::ring(&master, &previous_keys).map_err(|e| ConfigError(format!("key: {e}")))?;
            let store = Arc::new(loginkit_flow::ObservedStore::new(store, metrics.store_observer(id)));
            projects.insert(id.clone(), Flow::with_shared_store(project, store, keys));
        }
        let rate_limiter = rate_limit::RateLimiter::new(config.rate_limit, config.rate_limit_window_secs)?;
        let trusted_proxies = config.trusted_proxies()?;
        let metrics_from = config.metrics_from()?;
        let state = Arc::new(AppState {
            projects,
            api_keys: keys_by_project,
            public_url,
            local_addr,
            rate_limiter,
            trusted_proxies,
            metrics,
            metrics_from,
        });
        let router = routes::router(state.clone());
        #[cfg(feature = "mock-idp")]
        let router = if config.mock_idp {
            use loginkit_mock_idp::{MOUNT_PATH, MockIdpConfig};
            let (mock, _handle) =
                loginkit_mock_idp::router(MockIdpConfig { auto_approve: false, ..MockIdpConfig::default() });
            router.nest(MOUNT_PATH, mock)
        } else {
            router
        };
        Ok(Self { listener, router, state })
    }

    /// The address listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.state.local_addr
    }

    /// The URL to open in a browser.
    pub fn url(&self) -> Url {
        self.state.public_url.clone().unwrap_or_else(|| self.state.base_url(None))
    }

    /// The shared state (projects and their flows).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight. Housekeeping
    /// ([`maintain`]) runs alongside.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let housekeeping = tokio::spawn(maintain(self.state.clone(), MAINTENANCE_INTERVAL));
        let resealing = tokio::spawn(reseal(self.state.clone()));
        let app = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await;
        housekeeping.abort();
        resealing.abort();
        served
    }

    /// Serves in a background task until the returned handle is stopped or dropped.
    pub fn spawn(self) -> RunningServer {
        let url = self.url();
        let state = self.state.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(self.serve(async move {
            let _ = stopped.await;
        }));
        RunningServer { url, state, stop: Some(stop), task: Some(task) }
    }
}

/// How often [`maintain`] runs.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// The server's housekeeping, every `interval` until the task is dropped: deletes each project's
/// expired sessions, one-time tokens and used-state records in bounded batches, and forgets
/// rate-limit entries of clients whose allowance refilled. Nothing of it runs on the request path.
pub async fn maintain(state: Arc<AppState>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        state.rate_limiter.prune();
        for (project, flow) in &state.projects {
            match flow.prune_expired().await {
                Ok(pruned) if pruned.most() > 0 => tracing::info!(
                    project,
                    sessions = pruned.sessions,
                    tokens = pruned.tokens,
                    states = pruned.states,
                    "deleted expired rows"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(project, %error, "pruning expired rows failed"),
            }
            match flow.revoke_pending().await {
                Ok(done) if done.revoked + done.postponed + done.dropped > 0 => tracing::info!(
                    project,
                    revoked = done.revoked,
                    postponed = done.postponed,
                    dropped = done.dropped,
                    "provider revocations"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(project, %error, "provider revocations failed"),
            }
        }
    }
}

/// Moves every project's stored provider tokens that the current key did not seal (after a key
/// rotation, or from an earlier version) to the current key, once; returns what it did per
/// project. The server runs it in the background at start; `loginkit-server reseal` runs it on
/// its own.
pub async fn reseal(
    state: Arc<AppState>,
) -> BTreeMap<String, Result<loginkit_flow::Resealed, loginkit_flow::FlowError>> {
    let mut done = BTreeMap::new();
    for (project, flow) in &state.projects {
        let result = flow.reseal().await;
        match &result {
            Ok(resealed) if resealed.resealed > 0 || resealed.unreadable > 0 => tracing::info!(
                project,
                resealed = resealed.resealed,
                unreadable = resealed.unreadable,
                "provider tokens sealed with the current key"
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!(project, %error, "re-sealing provider tokens failed"),
        }
        done.insert(project.clone(), result);
    }
    done
}

/// A server serving in the background (see [`Server::spawn`]); dropping it stops the server.
#[derive(Debug)]
pub struct RunningServer {
    url: Url,
    state: Arc<AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// The server's URL, e.g. `http://127.0.0.1:41234/`.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The shared state.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Stops the server and waits until it has finished the requests in flight and released its
    /// address.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The master key and the previous ones still accepted, checked; each flow derives its keys from
/// them (see [`Keys::ring`]).
async fn load_master_key(
    config: &Config,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(String, Vec<String>), StartError> {
    let from_env = match &config.key_env {
        Some(var) => {
            Some(env(var).ok_or_else(|| ConfigError(format!("key_env names `{var}`, which is not set")))?)
        }
        None => None,
    };
    let master = match config.key.clone().or(from_env) {
        Some(key) => key,
        None => read_or_create_key(&config.data_dir.join("master.key")).await?,
    };
    let mut previous = config.previous_keys.clone();
    if let Some(var) = &config.previous_keys_env {
        let value = env(var)
            .ok_or_else(|| ConfigError(format!("previous_keys_env names `{var}`, which is not set")))?;
        previous.extend(value.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned));
    }
    Keys::from_encoded(&master).map_err(|e| ConfigError(format!("key: {e}")))?;
    for (i, key) in previous.iter().enumerate() {
        Keys::from_encoded(key).map_err(|e| ConfigError(format!("previous_keys[{i}]: {e}")))?;
    }
    Ok((master, previous))
}

/// Creates the data directory readable by its owner only (0700), or makes an existing one so:
/// it holds the master key and the databases.
fn private_dir(dir: &Path) -> Result<(), StartError> {
    let failed = |e: std::io::Error| StartError::Io(format!("cannot create data_dir {}: {e}", dir.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(failed)?;
        let mode = std::fs::metadata(dir).map_err(failed)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(dir = %dir.display(), mode = format!("{:o}", mode & 0o777), "data_dir was open to others; made it 0700");
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(failed)?;
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(failed)?;
    Ok(())
}

/// Refuses a key file others may read: whoever can read it can open every login state and
/// every stored provider token.
#[cfg(unix)]
fn check_key_file(path: &Path) -> Result<(), StartError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| StartError::Io(format!("cannot read {}: {e}", path.display())))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(StartError::Io(format!(
            "{} is readable by others (mode {:o}): run `chmod 600 {}`, and replace the key if others may have read it",
            path.display(),
            mode & 0o777,
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_key_file(_path: &Path) -> Result<(), StartError> {
    Ok(())
}

/// Reads the key file, or creates it on first start. The new key is written whole to a private
/// temporary file and then linked into place, so a second server starting on the same directory
/// at the same moment reads the key that won instead of failing or reading a half-written file.
async fn read_or_create_key(path: &Path) -> Result<String, StartError> {
    let read = |path: &Path| match std::fs::read_to_string(path) {
        Ok(key) => check_key_file(path).map(|()| Some(key.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StartError::Io(format!("cannot read {}: {e}", path.display()))),
    };
    if let Some(key) = read(path)? {
        return Ok(key);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    private_dir(dir)?;
    let key = Keys::generate_master();
    let draft = dir.join(format!(".master.key.{}.tmp", Keys::generate_master()));
    let written = write_private(&draft, &key).and_then(|()| std::fs::hard_link(&draft, path));
    let _ = std::fs::remove_file(&draft);
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a new master key");
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path)?
            .ok_or_else(|| StartError::Io(format!("{} vanished while being created", path.display()))),
        Err(e) => Err(StartError::Io(format!("cannot write {}: {e}", path.display()))),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[allow(clippy::too_many_arguments)]
fn build_project(
    id: &str,
    settings: &config::ProjectConfig,
    config: &Config,
    registry: &Registry,
    http: &HttpClient,
    internal: &Url,
    default_page: &Url,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Project, ConfigError> {
    let error = |message: String| ConfigError(format!("projects.{id}.{message}"));
    if id.is_empty()
        || id.len() > 36
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ConfigError(format!("projects.{id}: a project id is 1-36 letters, digits, - or _")));
    }
    let mut schemes = settings.schemes.clone();
    if settings.native_apps {
        schemes.push(format!("appwrite-callback-{id}"));
    }
    let allow = AllowList::new(settings.hostnames.clone(), schemes);
    let mut project = Project::builder(id)
        .registry(registry, http.clone())
        .secure_cookies(config.public_url()?.is_some_and(|url| url.scheme() == "https"))
        .session_limit(settings.session_limit)
        .revoke_provider_tokens(settings.revoke_provider_tokens)
        .session_duration(Duration::from_secs(settings.session_duration_secs.max(1)))
        .state_lifetime(Duration::from_secs(settings.state_lifetime_secs.clamp(1, 3600)));
    // A configured page must be allowed; the demo page is the default only where it is.
    for (setting, value) in [("success_url", &settings.success_url), ("failure_url", &settings.failure_url)] {
        let url = match value {
            Some(url) => config::parse_base_url(&format!("projects.{id}.{setting}"), url)?,
            None if allow.check(default_page.as_str()).is_ok() => default_page.clone(),
            None => continue,
        };
        project = match setting {
            "success_url" => project.success_url(url.as_str()),
            _ => project.failure_url(url.as_str()),
        };
    }
    let mut project = project.allow(allow);
    for domain in &settings.allowed_email_domains {
        if domain.is_empty() || domain.contains(['@', '/', ' ']) {
            return Err(error(format!(
                "allowed_email_domains: `{domain}` is not a domain (write `example.com`, without `@`)"
            )));
        }
    }
    let rules = Rules {
        signup: settings.signup,
        allowed_email_domains: settings.allowed_email_domains.clone(),
        blocked: settings.blocked_users.iter().cloned().collect(),
    };
    if rules.restricts() {
        project = project.policy(rules);
    }
    if config.mock_idp {
        for mock in ["mock", "mock-unverified"] {
            if !settings.providers.contains_key(mock) {
                let provider = registry
                    .instantiate(
                        mock,
                        ProviderConfig::new("1", "123456").base_url(internal.clone()),
                        http.clone(),
                    )
                    .map_err(|e| error(format!("providers.{mock}: {e}")))?;
                project = project.enable(provider);
            }
        }
    }
    for (provider_id, provider) in &settings.providers {
        let key = |message: String| error(format!("providers.{provider_id}: {message}"));
        let descriptor = provider.descriptor(provider_id, registry).map_err(&key)?;
        if !provider.enabled {
            project = project.disabled(provider_id.clone());
            continue;
        }
        if provider.client_id.trim().is_empty() {
            return Err(key("client_id is empty".into()));
        }
        let mut provider_config = match provider.secret(env).map_err(&key)? {
            Some(secret) => ProviderConfig::new(provider.client_id.clone(), secret),
            None => ProviderConfig::public(provider.client_id.clone()),
        };
        for (name, value) in &provider.params {
            provider_config = provider_config.param(name.clone(), value.clone());
        }
        if let Some(base) = &provider.base_url {
            provider_config = provider_config.base_url(config::parse_base_url(
                &format!("projects.{id}.providers.{provider_id}.base_url"),
                base,
            )?);
        }
        let instance =
            descriptor.instantiate(provider_config, http.clone()).map_err(|e| key(e.to_string()))?;
        if provider.native {
            project = project.native_sign_in(provider_id, provider.native_client_ids.iter().cloned());
        }
        project = project.enable(instance);
    }
    project.build().map_err(|e| match e {
        loginkit_flow::ProjectError::Url { target, reason } => error(format!("{target}_url: {reason}")),
        other => error(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn servers_starting_together_on_one_directory_share_one_whole_key() {
        let dir = std::env::temp_dir().join(format!("loginkit-key-race-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("master.key");
        let starts: Vec<_> = (0..16)
            .map(|_| {
                let path = path.clone();
                tokio::spawn(async move { read_or_create_key(&path).await })
            })
            .collect();
        let mut keys = Vec::new();
        for start in starts {
            keys.push(start.await.unwrap().expect("every start gets a key"));
        }
        keys.dedup();
        assert_eq!(keys.len(), 1, "one key for all: {}", keys.len());
        assert!(Keys::from_encoded(&keys[0]).is_ok());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), keys[0]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, [std::ffi::OsString::from("master.key")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
