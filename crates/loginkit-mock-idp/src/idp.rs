//! Serving the mock provider: the mountable router and the self-hosting [`MockIdp`].

use std::io;

use axum::Router;
use axum::routing::get;
use loginkit_core::ProviderConfig;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;

use crate::config::MockIdpConfig;
use crate::state::MockIdpHandle;
use crate::{authorize, token, userinfo};

/// The provider's routes, for mounting under a prefix of another server
/// (e.g. `Router::new().nest("/mock/oauth2", router)`), together with the
/// handle to its state.
pub fn router(config: MockIdpConfig) -> (Router, MockIdpHandle) {
    let handle = MockIdpHandle::new(config);
    let router = Router::new()
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/token", axum::routing::post(token::token))
        .route("/user", get(userinfo::user))
        .route("/user-unverified", get(userinfo::user_unverified))
        .route("/revoke", axum::routing::post(token::revoke))
        .layer(axum::extract::DefaultBodyLimit::max(crate::params::MAX_BODY))
        .with_state(handle.shared.clone());
    (router, handle)
}

/// Where the provider's routes live on its own server, and where the reference server mounts
/// them: the `mock` and `mock-unverified` provider descriptors use these paths.
pub const MOUNT_PATH: &str = "/mock/oauth2";

/// A mock provider serving on `127.0.0.1` at an ephemeral port, under [`MOUNT_PATH`]. Dropping it
/// shuts the server down.
#[derive(Debug)]
pub struct MockIdp {
    origin: Url,
    base_url: Url,
    handle: MockIdpHandle,
    shutdown: Option<oneshot::Sender<()>>,
}

impl MockIdp {
    /// Starts a provider with [`MockIdpConfig::default`].
    pub async fn start() -> io::Result<MockIdp> {
        Self::start_with(MockIdpConfig::default()).await
    }

    /// Starts a provider with `config`. Must be called within a Tokio runtime,
    /// which then runs the server.
    pub async fn start_with(config: MockIdpConfig) -> io::Result<MockIdp> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let origin = Url::parse(&format!("http://{addr}/")).map_err(io::Error::other)?;
        let base_url =
            origin.join(&format!("{}/", MOUNT_PATH.trim_start_matches('/'))).map_err(io::Error::other)?;
        let (router, handle) = router(config);
        let router = Router::new().nest(MOUNT_PATH, router);
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let server = axum::serve(listener, router).with_graceful_shutdown(async move {
                // A dropped sender means the same as an explicit signal.
                let _ = stopped.await;
            });
            if let Err(error) = server.await {
                tracing::warn!(%error, "mock idp: server stopped with an error");
            }
        });
        tracing::debug!(%base_url, "mock idp: listening");
        Ok(MockIdp { origin, base_url, handle, shutdown: Some(shutdown) })
    }

    /// The root of the provider's routes, e.g. `http://127.0.0.1:41234/mock/oauth2/`.
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// The server's origin, e.g. `http://127.0.0.1:41234/`: what
    /// `ProviderConfig::base_url` takes to point the `mock` providers here.
    pub fn origin(&self) -> Url {
        self.origin.clone()
    }

    /// A configuration of the `mock` / `mock-unverified` providers for this server, with the
    /// first configured client's credentials.
    pub fn provider_config(&self) -> ProviderConfig {
        let (id, secret) = match self.handle.config().clients.first() {
            Some(client) => (client.client_id.clone(), client.client_secret.clone()),
            None => (String::new(), String::new()),
        };
        ProviderConfig::new(id, secret).base_url(self.origin())
    }

    /// The base URL joined with a relative path such as `"authorize"` or
    /// `"user-unverified"`. A path that cannot be joined yields the base URL.
    pub fn url(&self, path: &str) -> Url {
        self.base_url.join(path).unwrap_or_else(|_| self.base_url.clone())
    }

    /// A handle to the provider's state.
    pub fn handle(&self) -> MockIdpHandle {
        self.handle.clone()
    }
}

impl Drop for MockIdp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
