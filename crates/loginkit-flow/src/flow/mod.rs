//! The login flow: start, callback, token exchange, refresh, and the account operations around
//! sessions and identities. This module holds the flow and the requests and answers it speaks
//! in; each job lives in its own child module.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use loginkit_core::{
    AuthorizationCode, AuthorizeRequest, Error as ProviderError, ExchangeRequest, Nonce, OAuthProvider,
    PkceCodeChallenge, PkceCodeVerifier, RefreshToken, TokenSet, UserProfile,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::account::{self, LoginFacts, Making};
use crate::crypto::{self, Keys};
use crate::error::{FlowError, Refusal, StateProblem, StoreError, Target};
use crate::model::{Identity, OneTimeToken, Session, StoredTokens, Timestamp, User};
use crate::policy::{AdmitAll, Attempt, Event, Policy, Question, Verdicts};
use crate::redirect::AllowList;
use crate::sealed::{PlainTokens, RevealedTokens, Row};
use crate::state::{LoginState, STATE_LIFETIME};
use crate::store::{
    LoginKey, PlannedIdentity, PlannedUser, Pruned, Renewal, SealedTable, SessionRenewal, Snapshot, Store,
};

mod accounts;
mod callback;
mod cookies;
mod native;
mod project;
mod revocation;
mod tokens;

use accounts::session_not_found;
pub use callback::form_post_location;
use callback::truncate;
pub use cookies::{Cookie, LINK_COOKIE_PREFIX, parse_cookie_header};
use cookies::{CookiePayload, new_session};
pub use native::IdTokenSignIn;
pub use project::{MAX_STATE_LIFETIME, Project, ProjectBuilder, ProjectError};
pub use revocation::{REVOKE_ATTEMPTS, REVOKE_BATCH, Revoked};
pub use tokens::REFRESH_MARGIN;

/// Most authorize parameters a login may pass.
pub const MAX_LOGIN_PARAMS: usize = 8;
/// Longest value of a login's authorize parameter.
pub const MAX_LOGIN_PARAM_LEN: usize = 256;
/// Authorize parameters every login may pass (OpenID Connect Core §3.1.2.1).
pub const LOGIN_PARAMS: [&str; 2] = ["prompt", "login_hint"];

/// Most custom scopes a login may ask for.
pub const MAX_SCOPES: usize = 100;
/// Longest custom scope.
pub const MAX_SCOPE_LEN: usize = 4096;

/// Who is making a request, kept with the sessions it creates.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// IP address.
    pub ip: String,
    /// `User-Agent`.
    pub user_agent: String,
}

/// Input of [`Flow::start`].
#[derive(Debug, Clone)]
pub struct StartRequest<'a> {
    /// Provider id.
    pub provider: &'a str,
    /// Where to send the browser after a successful login.
    pub success: Option<&'a str>,
    /// Where to send it after a failed one.
    pub failure: Option<&'a str>,
    /// Scopes in addition to the provider's defaults.
    pub scopes: &'a [String],
    /// Token flow (a one-time secret on the success URL) instead of a session.
    pub token: bool,
    /// The callback URL registered with the provider.
    pub redirect_uri: &'a Url,
    /// Authorize parameters for this login: `prompt` (`none`, `login`, `consent`,
    /// `select_account`, space-separated), `login_hint`, and those the provider's manifest
    /// allows (Google's `hd`, Microsoft's `domain_hint`); anything else is refused.
    pub params: &'a [(String, String)],
    /// The authenticated backend starting the login on a browser's behalf (server-side
    /// rendering: the app's server asks for the authorize URL and redirects the browser to it),
    /// by a name of the adapter's choosing (the reference server uses the API key's name).
    /// `None`: the browser itself starts the login, and it is bound to that browser by a cookie.
    ///
    /// A backend's login is bound to the backend instead: no cookie (the start's answer never
    /// reaches the browser), any browser may finish it, and its token-flow secret can be
    /// redeemed only by the same backend ([`Flow::redeem_token`] with `backend` set). The
    /// adapter must authenticate the backend before naming it here.
    pub backend: Option<&'a str>,
}

impl<'a> StartRequest<'a> {
    /// A session-flow start with the project's default success and failure URLs and no custom
    /// scopes.
    pub fn new(provider: &'a str, redirect_uri: &'a Url) -> Self {
        Self {
            provider,
            success: None,
            failure: None,
            scopes: &[],
            token: false,
            redirect_uri,
            params: &[],
            backend: None,
        }
    }
}

/// The answer to a start: where to send the browser and the cookie that binds the login to it.
#[derive(Debug, Clone)]
pub struct Started {
    /// The provider's authorize URL.
    pub location: Url,
    /// The browser-binding cookie to set (for the state's lifetime); `None` for a login a
    /// [backend](StartRequest::backend) started.
    pub cookie: Option<Cookie>,
}

/// Input of [`Flow::redeem_token`]. `Debug` leaves out the secret.
#[derive(Clone, Copy)]
pub struct TokenRedemption<'a> {
    /// The user the secret was issued for (`userId` on the success URL).
    pub user_id: &'a str,
    /// The one-time secret (`secret` on the success URL).
    pub secret: &'a str,
    /// The authenticated backend redeeming it, named as at [`StartRequest::backend`]; `None`
    /// for a browser or any caller the adapter did not authenticate.
    pub backend: Option<&'a str>,
    /// The client the session is for.
    pub client: &'a Client,
}

impl fmt::Debug for TokenRedemption<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRedemption")
            .field("user_id", &self.user_id)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Input of [`Flow::callback`].
#[derive(Debug, Clone)]
pub struct CallbackRequest<'a> {
    /// Provider id from the callback path.
    pub provider: &'a str,
    /// The callback's parameters (query string, or form fields of a `form_post` callback).
    pub params: &'a [(String, String)],
    /// The request's cookies.
    pub cookies: &'a [(String, String)],
    /// The session the browser is signed in with, if any: the new identity is linked to its user.
    pub current_session: Option<&'a Session>,
    /// The client.
    pub client: &'a Client,
}

impl<'a> CallbackRequest<'a> {
    /// A callback from a browser that is not signed in, by an unrecorded client.
    pub fn new(provider: &'a str, params: &'a [(String, String)], cookies: &'a [(String, String)]) -> Self {
        Self { provider, params, cookies, current_session: None, client: &ANONYMOUS }
    }
}

/// A client about which nothing is recorded.
static ANONYMOUS: Client = Client { ip: String::new(), user_agent: String::new() };

/// Where a callback ends: a redirect to the success or the failure URL.
#[derive(Debug)]
pub struct Completed {
    /// The URL to redirect to: the success URL (with `userId` and `secret` after a token-flow
    /// login), or the failure URL as the login named it. Each adapter tells the failure page
    /// what went wrong in its own format from [`Completed::error`] (see
    /// [`Completed::failure_location`] for a neutral one).
    pub location: Url,
    /// Cookies to set with the redirect: the binding cookie deleted and, after a token-flow
    /// login, the cookie that lets this browser link providers to the session its secret makes.
    pub cookies: Vec<Cookie>,
    /// The session created (session flow only), with its secret for the cookie.
    pub session: Option<NewSession>,
    /// The error when `location` is the failure URL.
    pub error: Option<FlowError>,
}

impl Completed {
    /// `location` with the error's [`code`](FlowError::code) as an `error` query parameter when
    /// the login failed; `location` as it is otherwise.
    pub fn failure_location(&self) -> Url {
        let mut location = self.location.clone();
        if let Some(error) = &self.error {
            location.query_pairs_mut().append_pair("error", error.code());
        }
        location
    }
}

/// A session just created, with the secret only its holder will ever see.
pub struct NewSession {
    /// The session.
    pub session: Session,
    /// The cookie value: base64 of `{"id": userId, "secret": secret}`, as Appwrite encodes it.
    pub cookie_value: String,
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSession").field("session", &self.session.id).finish_non_exhaustive()
    }
}

/// The login flow of one project over one store.
#[derive(Clone)]
pub struct Flow {
    inner: Arc<Inner>,
}

struct Inner {
    project: Project,
    store: Arc<dyn Store>,
    keys: Keys,
    /// Refreshes of one account run one at a time in this process (striped by identity id);
    /// [`Store::claim_refresh`] extends that to other processes.
    refreshing: [tokio::sync::Mutex<()>; REFRESH_STRIPES],
}

/// Rows [`Flow::reseal`] reads per statement.
pub const RESEAL_BATCH: u32 = 200;

/// What [`Flow::reseal`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Rows whose tokens are now sealed by the current key.
    pub resealed: u64,
    /// Rows whose tokens open with no configured key (left as they are).
    pub unreadable: u64,
}

/// Rows of each kind [`Flow::prune_expired`] deletes per statement.
pub const PRUNE_BATCH: u32 = 500;

/// Locks the in-process refreshes are spread over.
const REFRESH_STRIPES: usize = 64;

/// How long one refresh may hold an account before others may try (a provider call is bounded
/// by the HTTP client's timeout, well below this).
const REFRESH_LEASE_SECS: u64 = 60;

fn stripe(id: &str) -> usize {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(id) as usize % REFRESH_STRIPES
}

impl fmt::Debug for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flow").field("project", &self.inner.project).finish_non_exhaustive()
    }
}

impl Flow {
    /// A flow for `project`, keeping its data in `store`, sealing with `keys`.
    pub fn new(project: Project, store: impl Store, keys: Keys) -> Self {
        Self::with_shared_store(project, Arc::new(store), keys)
    }

    /// Like [`Flow::new`] with a store shared with other code.
    pub fn with_shared_store(project: Project, store: Arc<dyn Store>, keys: Keys) -> Self {
        let refreshing = std::array::from_fn(|_| tokio::sync::Mutex::new(()));
        Self { inner: Arc::new(Inner { project, store, keys, refreshing }) }
    }

    /// The project.
    pub fn project(&self) -> &Project {
        &self.inner.project
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    fn provider(&self, id: &str) -> Result<&Arc<dyn OAuthProvider>, FlowError> {
        let project = &self.inner.project;
        match project.providers.get(id) {
            Some(provider) => Ok(provider),
            None if project.known_providers.iter().any(|known| known == id) => {
                Err(FlowError::ProviderDisabled(id.to_owned()))
            }
            None => Err(FlowError::ProviderUnknown(truncate(id, 64).to_owned())),
        }
    }
}
