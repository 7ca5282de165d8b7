//! The login flow: start, callback, token exchange, refresh, and the account operations around
//! sessions and identities, with Appwrite's semantics and stricter defaults.

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

/// Most custom scopes a login may ask for.
pub const MAX_SCOPES: usize = 100;
/// Longest custom scope.
pub const MAX_SCOPE_LEN: usize = 4096;

/// A project: its allow-list, its enabled providers and its session rules.
#[derive(Clone)]
pub struct Project {
    /// Project id (`default`, ...).
    pub id: String,
    /// Where success and failure URLs may point.
    pub allow: AllowList,
    /// Enabled providers by id.
    pub providers: BTreeMap<String, Arc<dyn OAuthProvider>>,
    /// Provider ids this build knows (enabled or not); others are "unsupported".
    pub known_providers: Vec<String>,
    /// Most sessions per user; the oldest go first. 0 means no limit.
    pub session_limit: u32,
    /// How long a session lasts.
    pub session_duration: Duration,
    /// How long a token-flow secret may be exchanged.
    pub token_lifetime: Duration,
    /// How long a login may take from start to callback.
    pub state_lifetime: Duration,
    /// Success URL when a login names none.
    pub default_success: Option<Url>,
    /// Failure URL when a login names none.
    pub default_failure: Option<Url>,
    /// Whether the site is served over https: the flow's cookies are then `Secure` and named with
    /// the `__Host-` prefix, which a sibling subdomain cannot plant.
    pub secure_cookies: bool,
    /// Who may sign up, sign in and link, and who hears about it ([`AdmitAll`] by default).
    pub policy: Arc<dyn Policy>,
}

impl Project {
    /// A project with Appwrite's defaults: 10 sessions per user, one-year sessions, 60-second
    /// token-flow secrets, no provider enabled.
    pub fn new(id: impl Into<String>, allow: AllowList) -> Self {
        Self {
            id: id.into(),
            allow,
            providers: BTreeMap::new(),
            known_providers: Vec::new(),
            session_limit: 10,
            session_duration: Duration::from_secs(365 * 24 * 3600),
            token_lifetime: Duration::from_secs(60),
            state_lifetime: STATE_LIFETIME,
            default_success: None,
            default_failure: None,
            secure_cookies: false,
            policy: Arc::new(AdmitAll),
        }
    }

    /// Sets the project's [`Policy`].
    pub fn policy(mut self, policy: impl Policy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// The name of one of the flow's cookies: `__Host-<name>` when cookies are `Secure`.
    fn cookie_name(&self, name: &str) -> String {
        if self.secure_cookies { format!("__Host-{name}") } else { name.to_owned() }
    }

    /// The cookie tying token-flow secrets of this project to the browser that finished them.
    fn link_cookie_name(&self) -> String {
        self.cookie_name(&format!("{LINK_COOKIE_PREFIX}{}", self.id))
    }

    /// Enables a provider under its descriptor's id.
    pub fn enable(mut self, provider: Box<dyn OAuthProvider>) -> Self {
        let id = provider.descriptor().id.to_owned();
        self.providers.insert(id, Arc::from(provider));
        self
    }
}

impl fmt::Debug for Project {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Project")
            .field("id", &self.id)
            .field("allow", &self.allow)
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .field("session_limit", &self.session_limit)
            .field("session_duration", &self.session_duration)
            .field("secure_cookies", &self.secure_cookies)
            .finish_non_exhaustive()
    }
}

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
}

impl<'a> StartRequest<'a> {
    /// A session-flow start with the project's default success and failure URLs and no custom
    /// scopes.
    pub fn new(provider: &'a str, redirect_uri: &'a Url) -> Self {
        Self { provider, success: None, failure: None, scopes: &[], token: false, redirect_uri }
    }
}

/// The answer to a start: where to send the browser and the cookie that binds the login to it.
#[derive(Debug, Clone)]
pub struct Started {
    /// The provider's authorize URL.
    pub location: Url,
    /// The browser-binding cookie to set (for the state's lifetime).
    pub cookie: Cookie,
}

/// Prefix of the cookie that ties a project's token-flow secrets to the browser that finished
/// the login; the project id follows.
pub const LINK_COOKIE_PREFIX: &str = "loginkit_link_";

/// A cookie the flow needs set (or deleted, with an empty value and no lifetime). Its name
/// already carries the `__Host-` prefix when [`Project::secure_cookies`] is on.
#[derive(Clone)]
pub struct Cookie {
    /// Name.
    pub name: String,
    /// Value (random); empty to delete.
    pub value: String,
    /// Lifetime; zero deletes the cookie.
    pub max_age: Duration,
    /// Whether it is `Secure` (the site is https).
    pub secure: bool,
}

impl Cookie {
    /// A `Set-Cookie` value for it: `Path=/`, HttpOnly, SameSite=Lax (sent on the top-level
    /// navigation back from the provider), `Secure` when the site is served over https.
    pub fn header(&self) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            self.name,
            self.value,
            self.max_age.as_secs()
        )
    }

    /// The same cookie, deleted.
    fn removal(name: String, secure: bool) -> Self {
        Self { name, value: String::new(), max_age: Duration::ZERO, secure }
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cookie")
            .field("name", &self.name)
            .field("max_age", &self.max_age)
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

/// The name-value pairs of a `Cookie` request header.
pub fn parse_cookie_header(header: &str) -> Vec<(String, String)> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().trim_matches('"').to_owned()))
        .collect()
}

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

#[derive(Serialize, Deserialize)]
struct CookiePayload {
    id: String,
    secret: String,
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

    /// Starts a login: checks the provider, URLs and scopes, and returns the provider's authorize
    /// URL carrying a sealed `state`, plus the cookie binding it to this browser.
    pub async fn start(&self, request: &StartRequest<'_>) -> Result<Started, FlowError> {
        let provider = self.provider(request.provider)?;
        let project = &self.inner.project;
        let success = self.target(request.success, project.default_success.as_ref(), "success")?;
        let failure = self.target(request.failure, project.default_failure.as_ref(), "failure")?;
        if request.scopes.len() > MAX_SCOPES {
            return Err(FlowError::argument(
                "scopes",
                format!("Value must be an array of no more than {MAX_SCOPES} items."),
            ));
        }
        if request.scopes.iter().any(|s| s.len() > MAX_SCOPE_LEN) {
            return Err(FlowError::argument(
                "scopes",
                format!("each scope must be at most {MAX_SCOPE_LEN} characters long."),
            ));
        }
        let capabilities = provider.descriptor().capabilities;
        let pkce = capabilities.pkce.then(PkceCodeChallenge::new_random_sha256);
        let nonce = capabilities.oidc.then(Nonce::new_random);
        let state = LoginState {
            id: crypto::new_state_id(),
            project: project.id.clone(),
            provider: request.provider.to_owned(),
            success: success.to_string(),
            failure: failure.to_string(),
            token: request.token,
            redirect_uri: request.redirect_uri.to_string(),
            binding: crypto::random_secret(),
            pkce_verifier: pkce.as_ref().map(|(_, verifier)| verifier.secret().to_owned()),
            nonce: nonce.as_ref().map(|n| n.secret().to_owned()),
            expires: Timestamp::now().plus(project.state_lifetime).millis(),
        };
        let sealed = state.seal(&self.inner.keys);
        if sealed.len() > crate::state::MAX_SEALED_LEN {
            return Err(FlowError::argument(
                "success",
                "the success and failure URLs are too long together.",
            ));
        }
        let mut authorize = AuthorizeRequest::new(request.redirect_uri, &sealed).scopes(request.scopes);
        if let Some((challenge, _)) = &pkce {
            authorize = authorize.pkce_challenge(challenge);
        }
        if let Some(nonce) = &nonce {
            authorize = authorize.nonce(nonce);
        }
        let location = provider.authorize(&authorize).await.map_err(FlowError::StartFailed)?;
        Ok(Started {
            location,
            cookie: Cookie {
                name: project.cookie_name(&state.cookie_name()),
                value: state.binding,
                max_age: project.state_lifetime,
                secure: project.secure_cookies,
            },
        })
    }

    fn target(
        &self,
        given: Option<&str>,
        default: Option<&Url>,
        name: &'static str,
    ) -> Result<Url, FlowError> {
        let allow = &self.inner.project.allow;
        match (given.filter(|s| !s.is_empty()), default) {
            (Some(url), _) => allow.check(url).map_err(|error| {
                FlowError::argument(
                    name,
                    format!("URL host must be one of: {}. ({error})", allow.hostnames().join(", ")),
                )
            }),
            (None, Some(default)) => allow.check(default.as_str()).map_err(|error| {
                FlowError::argument(
                    name,
                    format!("the project's default URL is not on its allow-list ({error})."),
                )
            }),
            (None, None) => Err(FlowError::argument(name, "the URL is required.")),
        }
    }

    /// Finishes a login at the callback.
    ///
    /// An `Err` means the request cannot be trusted to name a failure URL (bad, expired, replayed
    /// or foreign state, no binding cookie) or the store failed; nothing was written. Otherwise
    /// the answer redirects to the success URL, or to the failure URL with Appwrite's `error`
    /// parameter, in which case nothing was written either.
    pub async fn callback(&self, request: &CallbackRequest<'_>) -> Result<Completed, FlowError> {
        let param = |name: &str| request.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let sealed = param("state")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| FlowError::BadState(StateProblem::Missing))?;
        let state = LoginState::open(&self.inner.keys, sealed)
            .ok_or_else(|| FlowError::BadState(StateProblem::NotOurs))?;
        let project = &self.inner.project;
        if state.project != project.id || state.provider != request.provider {
            return Err(FlowError::BadState(StateProblem::Elsewhere));
        }
        if state.expired(Timestamp::now()) {
            return Err(FlowError::BadState(StateProblem::Expired));
        }
        // Only the `__Host-` name counts on an https site: a sibling subdomain can plant the plain one.
        let cookie_name = project.cookie_name(&state.cookie_name());
        let bound = request
            .cookies
            .iter()
            .any(|(name, value)| *name == cookie_name && crypto::secrets_equal(value, &state.binding));
        if !bound {
            return Err(FlowError::BadState(StateProblem::OtherBrowser));
        }
        let clear = Cookie::removal(cookie_name, project.secure_cookies);
        let success = project
            .allow
            .check(&state.success)
            .map_err(|_| FlowError::RedirectNotAllowed(Target::Success))?;
        let failure = project
            .allow
            .check(&state.failure)
            .map_err(|_| FlowError::RedirectNotAllowed(Target::Failure))?;
        if !self.inner.store.consume_state(&state.id, Timestamp::from_millis(state.expires)).await? {
            return Err(FlowError::BadState(StateProblem::Replayed));
        }
        let fail = |error: FlowError| -> Result<Completed, FlowError> {
            tracing::info!(provider = request.provider, error = error.code(), "login failed");
            Ok(Completed {
                location: failure.clone(),
                cookies: vec![clear.clone()],
                session: None,
                error: Some(error),
            })
        };
        let provider = match self.provider(request.provider) {
            Ok(provider) => provider,
            Err(error) => return fail(error),
        };
        let name = provider.descriptor().display_name;
        if let Some(error) = param("error") {
            // The provider's words reach the app's failure page: as plain text, capped.
            let description =
                param("error_description").map(|d| plain_text(d, 256)).filter(|d| !d.is_empty());
            return fail(FlowError::ProviderDenied {
                provider: name,
                error: plain_text(error, 64),
                description,
            });
        }
        let Some(code) = param("code").filter(|c| !c.is_empty()) else {
            return fail(FlowError::MissingCode);
        };
        let redirect_uri = match Url::parse(&state.redirect_uri) {
            Ok(url) => url,
            Err(_) => return Err(FlowError::BadState(StateProblem::BadRedirectUri)),
        };
        let code = AuthorizationCode::new(code.to_owned());
        let verifier = state.pkce_verifier.clone().map(PkceCodeVerifier::new);
        let nonce = state.nonce.clone().map(Nonce::new);
        let mut exchange = ExchangeRequest::new(&code, &redirect_uri).callback_params(request.params);
        if let Some(verifier) = &verifier {
            exchange = exchange.pkce_verifier(verifier);
        }
        if let Some(nonce) = &nonce {
            exchange = exchange.nonce(nonce);
        }
        let tokens = match provider.exchange_code(&exchange).await {
            Ok(tokens) => tokens,
            Err(error) => {
                let reason = error.provider_code().map(str::to_owned).unwrap_or_else(|| error.to_string());
                let reason = plain_text(&reason, 256);
                return fail(FlowError::ExchangeFailed { provider: name, reason, source: error });
            }
        };
        let profile = match provider.user_profile(&tokens).await {
            Ok(profile) => profile,
            Err(error) => {
                let reason = plain_text(&error.to_string(), 256);
                return fail(FlowError::ProfileFailed { provider: name, reason, source: error });
            }
        };
        if profile.id.is_empty() {
            return fail(FlowError::MissingUserId);
        }
        let display_name = profile.name.clone().filter(|n| !n.is_empty());
        let login = Login { provider: request.provider, profile: &profile, display_name, tokens: &tokens };
        let current = request.current_session.filter(|session| self.may_link_to(session, request.cookies));
        match self.complete(&login, &state, current, request.client).await {
            Ok((user_id, outcome)) => {
                let mut location = success;
                let mut cookies = vec![clear];
                let session = match outcome {
                    Outcome::Session(session) => Some(*session),
                    Outcome::Token { secret, link } => {
                        location
                            .query_pairs_mut()
                            .append_pair("userId", &user_id)
                            .append_pair("secret", &secret);
                        cookies.push(Cookie {
                            name: project.link_cookie_name(),
                            value: link,
                            max_age: project.session_duration,
                            secure: project.secure_cookies,
                        });
                        None
                    }
                };
                tracing::info!(provider = request.provider, user = %user_id, token_flow = state.token, "login completed");
                Ok(Completed { location, cookies, session, error: None })
            }
            Err(error) if error.is_server_error() => Err(error),
            Err(error) => fail(error),
        }
    }

    /// Whether a login may link its identity to the user of `session`, the session the browser
    /// is signed in with.
    ///
    /// A session made from a token-flow secret was made by whoever held the secret, and a secret
    /// travels in a URL: an attacker can finish the token flow for their own account and hand
    /// the success URL to a victim, whose browser then redeems it and is signed in as the
    /// attacker. Linking the victim's next provider to that session would hand the attacker the
    /// victim's identity and provider tokens. Such a session is a link target only in the
    /// browser that finished its token-flow login, which holds the link cookie whose digest the
    /// session carries; elsewhere the login goes on as if no one were signed in.
    fn may_link_to(&self, session: &Session, cookies: &[(String, String)]) -> bool {
        let Some(expected) = &session.link_binding else { return true };
        let name = self.inner.project.link_cookie_name();
        let proven = cookies
            .iter()
            .any(|(n, value)| *n == name && crypto::secrets_equal(&crypto::digest_secret(value), expected));
        if !proven {
            tracing::info!(
                session = %session.id,
                "a session redeemed from a token-flow secret outside the browser that finished its login is not a link target"
            );
        }
        proven
    }

    /// Account matching and every write of a login, as one unit of the store: it reads what the
    /// login may land on, [`account::decide`] makes the plan, and the store writes it (deciding
    /// again if a concurrent login changed what it read).
    async fn complete(
        &self,
        login: &Login<'_>,
        state: &LoginState,
        current: Option<&Session>,
        client: &Client,
    ) -> Result<(String, Outcome), FlowError> {
        let now = Timestamp::now();
        let project = &self.inner.project;
        let profile = login.profile;
        let keys = &self.inner.keys;
        let plain = PlainTokens::from(login.tokens);
        let email = profile.email.as_deref().filter(|e| !e.is_empty());
        let facts = LoginFacts {
            provider: login.provider.to_owned(),
            uid: profile.id.clone(),
            email: email.map(str::to_owned),
            verified: profile.email_trust.is_verified(),
            display_name: login.display_name.clone(),
            subject: login.tokens.id_token_claims.as_ref().map(|claims| claims.sub.clone()),
            identity_tokens: plain.seal(keys, Row::Identity { provider: login.provider, uid: &profile.id }),
            new_user_id: crypto::new_id(),
            new_identity_id: crypto::new_id(),
            current: current.cloned(),
            session_limit: project.session_limit,
            now,
        };
        let (making, outcome) = if state.token {
            let secret = crypto::random_secret();
            let link = crypto::random_secret();
            let token = OneTimeToken {
                id: crypto::new_id(),
                user_id: String::new(),
                secret_digest: crypto::digest_secret(&secret),
                provider: login.provider.to_owned(),
                expire: now.plus(project.token_lifetime),
                created_at: now,
                link_binding: Some(crypto::digest_secret(&link)),
            };
            (Making::Token(token), Pending::Token { secret, link })
        } else {
            let (session, cookie_secret) =
                self.session_for(login.provider, &profile.id, &plain, None, client, now);
            (Making::Session(session), Pending::Session(cookie_secret))
        };
        let key = LoginKey {
            provider: login.provider,
            provider_uid: &profile.id,
            email,
            current_user: current.map(|c| c.user_id.as_str()),
        };
        let policy = project.policy.as_ref();
        let asks = policy.questions();
        let attempt = Attempt {
            provider: login.provider,
            provider_uid: &profile.id,
            email,
            email_verified: facts.verified,
            name: facts.display_name.as_deref(),
        };
        // The policy's questions are async and the decision is not: a decision raising a
        // question not answered yet writes nothing and hands the question out; the login asks
        // it and decides again with the answer (once per question, at most three).
        let mut verdicts = Verdicts::default();
        let plan = loop {
            let asked = Arc::new(std::sync::Mutex::new(None::<Question>));
            let decide = {
                let (facts, making, verdicts, asked) =
                    (facts.clone(), making.clone(), verdicts.clone(), asked.clone());
                move |snapshot: &Snapshot| {
                    let plan = account::decide(&facts, &making, snapshot)?;
                    match verdicts.review(asks, &plan, snapshot) {
                        Ok(()) => Ok(plan),
                        Err(Ok(refusal)) => Err(FlowError::Refused(refusal)),
                        Err(Err(question)) => {
                            *asked.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(question);
                            Err(FlowError::Refused(Refusal::Other("not decided yet".into())))
                        }
                    }
                }
            };
            let result = self.inner.store.login(&key, Box::new(decide)).await?;
            let question = asked.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
            match (result, question) {
                (Err(_), Some(question)) => verdicts.ask(policy, question, &attempt).await,
                (result, _) => break result?,
            }
        };
        let user_id = plan.user.id().to_owned();
        let new_user = matches!(plan.user, PlannedUser::Create(_));
        let linked = !new_user && matches!(plan.identity, Some(PlannedIdentity::Create(_)));
        let signed_in =
            Event::SignedIn { user: &user_id, provider: login.provider, provider_uid: &profile.id, new_user };
        policy.on_event(&signed_in).await;
        if linked {
            policy
                .on_event(&Event::Linked {
                    user: &user_id,
                    provider: login.provider,
                    provider_uid: &profile.id,
                })
                .await;
        }
        let outcome = match (outcome, plan.session) {
            (Pending::Session(secret), Some(placed)) => {
                Outcome::Session(Box::new(new_session(placed.session, secret)))
            }
            (Pending::Token { secret, link }, _) => Outcome::Token { secret, link },
            (Pending::Session(_), None) => {
                return Err(FlowError::Store(StoreError::Conflict("the login's plan made no session")));
            }
        };
        Ok((user_id, outcome))
    }

    /// A new session (everything but its user and slot, which the plan decides) and the secret
    /// its cookie will carry.
    fn session_for(
        &self,
        provider: &str,
        provider_uid: &str,
        tokens: &PlainTokens,
        link_binding: Option<String>,
        client: &Client,
        now: Timestamp,
    ) -> (Session, String) {
        let secret = crypto::random_secret();
        let id = crypto::new_id();
        let tokens = tokens.seal(&self.inner.keys, Row::Session(&id));
        let session = Session {
            id,
            user_id: String::new(),
            secret_digest: crypto::digest_secret(&secret),
            provider: provider.to_owned(),
            provider_uid: provider_uid.to_owned(),
            tokens,
            expire: now.plus(self.inner.project.session_duration),
            ip: truncate(&client.ip, 64).to_owned(),
            user_agent: truncate(&client.user_agent, 512).to_owned(),
            created_at: now,
            updated_at: now,
            link_binding,
            slot: 0,
        };
        (session, secret)
    }

    /// A session's provider tokens, opened.
    pub fn session_tokens(&self, session: &Session) -> RevealedTokens {
        RevealedTokens::open(&self.inner.keys, &session.tokens, Row::of_session(session))
    }

    /// An identity's provider tokens, opened.
    pub fn identity_tokens(&self, identity: &Identity) -> RevealedTokens {
        RevealedTokens::open(&self.inner.keys, &identity.tokens, Row::of_identity(identity))
    }

    /// An identity's tokens in clear, for a session made from it; none when they do not open.
    fn plain_identity_tokens(&self, identity: &Identity) -> PlainTokens {
        PlainTokens::open(&self.inner.keys, &identity.tokens, Row::of_identity(identity)).unwrap_or_else(|| {
            tracing::warn!(identity = %identity.id, "provider tokens sealed with a key no longer configured");
            PlainTokens { access: String::new(), refresh: None, expiry: None }
        })
    }

    /// Exchanges a token-flow secret for a session (`POST /v1/account/sessions/token`). The
    /// secret works once, within the token lifetime.
    pub async fn create_session_from_token(
        &self,
        user_id: &str,
        secret: &str,
        client: &Client,
    ) -> Result<NewSession, FlowError> {
        let invalid = || FlowError::InvalidToken;
        if user_id.is_empty() || secret.is_empty() || secret.len() > 256 || user_id.len() > 64 {
            return Err(invalid());
        }
        let now = Timestamp::now();
        let store = &self.inner.store;
        // Taken, expired or not: an expired secret is gone either way.
        let redemption = store.redeem(user_id, &crypto::digest_secret(secret)).await?.ok_or_else(invalid)?;
        if redemption.token.expire < now {
            return Err(invalid());
        }
        let identity = redemption.identity.ok_or_else(invalid)?;
        let tokens = self.plain_identity_tokens(&identity);
        let (session, cookie_secret) = self.session_for(
            &redemption.token.provider,
            &identity.provider_uid,
            &tokens,
            redemption.token.link_binding,
            client,
            now,
        );
        let key = LoginKey {
            provider: &identity.provider,
            provider_uid: &identity.provider_uid,
            email: None,
            current_user: Some(user_id),
        };
        let (user, limit) = (user_id.to_owned(), self.inner.project.session_limit);
        let making = session.clone();
        let plan = store
            .login(
                &key,
                Box::new(move |snapshot| account::decide_session(&user, &making, snapshot, limit, now)),
            )
            .await??;
        let placed = plan.session.ok_or_else(invalid)?;
        Ok(new_session(placed.session, cookie_secret))
    }

    /// The session a cookie value stands for, with its user, if it is valid: one read. A valid
    /// session whose user the project's [`Policy::admit_session`] refuses (a blocked user) is
    /// [`FlowError::Refused`].
    pub async fn authenticate(&self, cookie_value: &str) -> Result<Option<(Session, User)>, FlowError> {
        let Some(payload) = STANDARD
            .decode(cookie_value.trim())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<CookiePayload>(&bytes).ok())
        else {
            return Ok(None);
        };
        let found =
            self.inner.store.authenticate(&payload.id, &crypto::digest_secret(&payload.secret)).await?;
        let found = found.filter(|(s, _)| s.user_id == payload.id && s.expire > Timestamp::now());
        if let Some((_, user)) = &found {
            self.inner.project.policy.admit_session(user)?;
        }
        Ok(found)
    }

    /// Refreshes a session's provider tokens (and those of its identity) and extends it.
    ///
    /// The identity holds the provider account's latest tokens (after a rotation, the only valid
    /// refresh token), so the refresh starts from them. An account is refreshed once at a time,
    /// across server instances sharing the store ([`Store::claim_refresh`]): providers that
    /// rotate refresh tokens and detect reuse (Auth0, Okta) revoke the whole family when one is
    /// sent twice. A caller arriving while another refresh runs waits for it and gets its result.
    /// A refreshed ID token is verified by the provider and must name the login's subject.
    pub async fn refresh_session(&self, session: &Session) -> Result<Session, FlowError> {
        let provider = self.provider(&session.provider)?;
        let descriptor = provider.descriptor();
        let not_refreshable = || FlowError::NotRefreshable { provider: descriptor.display_name };
        if !descriptor.capabilities.refresh {
            return Err(not_refreshable());
        }
        let read = |store: Arc<dyn Store>, session: Session| async move {
            let identity = store.identity(&session.provider, &session.provider_uid).await?;
            Ok::<_, FlowError>(identity.filter(|identity| identity.user_id == session.user_id))
        };
        let Some(seen) = read(self.inner.store.clone(), session.clone()).await? else {
            // The identity was unlinked: the session's own tokens are all there is.
            return self
                .refresh_unlinked(provider.as_ref(), session)
                .await
                .map_err(|e| e.unwrap_or_else(not_refreshable));
        };
        let _turn = self.inner.refreshing[stripe(&seen.id)].lock().await;
        let lease = Duration::from_secs(REFRESH_LEASE_SECS);
        let waited_since = Timestamp::now();
        loop {
            let now = Timestamp::now();
            let Some(current) = read(self.inner.store.clone(), session.clone()).await? else {
                return Err(session_not_found());
            };
            if current.tokens.access_token != seen.tokens.access_token {
                // Another refresh finished while this one waited: its tokens are this one's result.
                return self.adopt(session, &current.tokens).await;
            }
            let until = now.plus(lease);
            if self.inner.store.claim_refresh(&seen.id, &seen.tokens.access_token, until, now).await? {
                return self.refresh_claimed(provider.as_ref(), session, &seen, until).await;
            }
            if now > waited_since.plus(lease + Duration::from_secs(5)) {
                return Err(FlowError::RefreshBusy);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The refresh of an identity this caller holds the claim on, until `until`.
    async fn refresh_claimed(
        &self,
        provider: &dyn OAuthProvider,
        session: &Session,
        seen: &Identity,
        until: Timestamp,
    ) -> Result<Session, FlowError> {
        let release = || async {
            if let Err(error) = self.inner.store.release_refresh(&seen.id, until).await {
                tracing::warn!(%error, "could not release a refresh claim; it expires by itself");
            }
        };
        let Some(refresh_token) = self.identity_tokens(seen).refresh_token else {
            release().await;
            return Err(FlowError::NotRefreshable { provider: provider.descriptor().display_name });
        };
        let tokens = match provider.refresh(&RefreshToken::new(refresh_token)).await {
            Ok(tokens) => tokens,
            Err(error) => {
                release().await;
                return Err(refresh_error(error));
            }
        };
        let subject = tokens.id_token_claims.as_ref().map(|claims| claims.sub.as_str());
        if let (Some(expected), Some(subject)) = (&seen.subject, subject)
            && expected != subject
        {
            release().await;
            tracing::warn!(provider = %session.provider, "a refreshed ID token names another subject");
            return Err(FlowError::SubjectChanged);
        }
        let now = Timestamp::now();
        let plain = PlainTokens::from(&tokens);
        let keys = &self.inner.keys;
        let stored = plain.seal(keys, Row::of_identity(seen));
        let renewal = Renewal { tokens: &stored, email: None, subject, now };
        let session_tokens = plain.seal(keys, Row::of_session(session));
        let expire = now.plus(self.inner.project.session_duration);
        let copy = SessionRenewal { id: &session.id, tokens: &session_tokens, expire };
        let store = &self.inner.store;
        if !store.finish_refresh(&seen.id, &seen.tokens.access_token, &renewal, &copy).await? {
            // The claim expired and another refresh stored its tokens first: keep those.
            let current =
                store.identity(&seen.provider, &seen.provider_uid).await?.ok_or_else(session_not_found)?;
            return self.adopt(session, &current.tokens).await;
        }
        store.session(&session.id).await?.ok_or_else(session_not_found)
    }

    /// Gives the session the tokens another refresh stored on its identity, and extends it.
    async fn adopt(&self, session: &Session, identity_tokens: &StoredTokens) -> Result<Session, FlowError> {
        let keys = &self.inner.keys;
        let tokens = match PlainTokens::open(keys, identity_tokens, Row::identity_of(session)) {
            Some(plain) => plain.seal(keys, Row::of_session(session)),
            None => session.tokens.clone(),
        };
        self.extend(session, &tokens).await
    }

    /// Stores a session's new tokens (sealed for it) and extends it.
    async fn extend(&self, session: &Session, tokens: &StoredTokens) -> Result<Session, FlowError> {
        let now = Timestamp::now();
        let store = &self.inner.store;
        if !store
            .update_session(&session.id, tokens, now.plus(self.inner.project.session_duration), now)
            .await?
        {
            return Err(session_not_found());
        }
        store.session(&session.id).await?.ok_or_else(session_not_found)
    }

    /// A session whose identity was unlinked: refreshed with its own tokens, alone. `Err(None)`
    /// when it has no refresh token.
    async fn refresh_unlinked(
        &self,
        provider: &dyn OAuthProvider,
        session: &Session,
    ) -> Result<Session, Option<FlowError>> {
        let refresh_token = self.session_tokens(session).refresh_token.ok_or(None)?;
        let _turn = self.inner.refreshing[stripe(&session.id)].lock().await;
        let tokens =
            provider.refresh(&RefreshToken::new(refresh_token)).await.map_err(|e| Some(refresh_error(e)))?;
        let stored = PlainTokens::from(&tokens).seal(&self.inner.keys, Row::of_session(session));
        self.extend(session, &stored).await.map_err(Some)
    }

    /// Deletes what can no longer be used (expired sessions and one-time tokens, records of
    /// expired states) in batches of [`PRUNE_BATCH`] rows per kind, yielding between batches,
    /// until none is left; returns how many rows went. Run it now and then (the reference server
    /// does every minute): the login path never does it.
    pub async fn prune_expired(&self) -> Result<Pruned, FlowError> {
        let mut total = Pruned::default();
        loop {
            let pruned = self.inner.store.prune(Timestamp::now(), PRUNE_BATCH).await?;
            total += pruned;
            if pruned.most() < u64::from(PRUNE_BATCH) {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Moves every stored provider token not sealed by the current key (sealed with an older key
    /// of the ring, or by an earlier version that bound no row) to the current key, bound to its
    /// row, in batches of [`RESEAL_BATCH`] rows. A row a login or refresh rewrote meanwhile is
    /// left to it (its tokens are current already). Tokens that open with no configured key are
    /// counted and left as they are. Once it reports nothing left, older keys can be dropped
    /// from the ring (after the last login started with them has ended: [`STATE_LIFETIME`]).
    pub async fn reseal(&self) -> Result<Resealed, FlowError> {
        let keys = &self.inner.keys;
        let prefix = format!("{}.", keys.current_id());
        let mut done = Resealed::default();
        for table in [SealedTable::Identities, SealedTable::Sessions] {
            let mut after = String::new();
            loop {
                let rows = self.inner.store.sealed_elsewhere(table, &prefix, &after, RESEAL_BATCH).await?;
                for row in &rows {
                    let place = match table {
                        SealedTable::Sessions => Row::Session(&row.id),
                        _ => Row::Identity { provider: &row.provider, uid: &row.provider_uid },
                    };
                    let Some(plain) = PlainTokens::open(keys, &row.tokens, place) else {
                        done.unreadable += 1;
                        continue;
                    };
                    let sealed = plain.seal(keys, place);
                    if self
                        .inner
                        .store
                        .replace_sealed(table, &row.id, &row.tokens.access_token, &sealed)
                        .await?
                    {
                        done.resealed += 1;
                    }
                }
                match rows.last() {
                    Some(last) if rows.len() == RESEAL_BATCH as usize => after = last.id.clone(),
                    _ => break,
                }
                tokio::task::yield_now().await;
            }
        }
        Ok(done)
    }

    /// A user by id.
    pub async fn user(&self, id: &str) -> Result<Option<User>, FlowError> {
        Ok(self.inner.store.user(id).await?)
    }

    /// A user's sessions, oldest first.
    pub async fn sessions(&self, user_id: &str) -> Result<Vec<Session>, FlowError> {
        let now = Timestamp::now();
        let sessions = self.inner.store.sessions(user_id).await?;
        Ok(sessions.into_iter().filter(|s| s.expire > now).collect())
    }

    /// One of the user's sessions.
    pub async fn session(&self, user_id: &str, id: &str) -> Result<Session, FlowError> {
        let session = self.inner.store.session(id).await?;
        session.filter(|s| s.user_id == user_id).ok_or_else(session_not_found)
    }

    /// Deletes one of the user's sessions.
    pub async fn delete_session(&self, user_id: &str, id: &str) -> Result<(), FlowError> {
        if !self.inner.store.delete_session(user_id, id).await? {
            return Err(session_not_found());
        }
        self.inner.project.policy.on_event(&Event::SignedOut { user: user_id, session: Some(id) }).await;
        Ok(())
    }

    /// Deletes all of the user's sessions.
    pub async fn delete_sessions(&self, user_id: &str) -> Result<(), FlowError> {
        self.inner.store.delete_sessions(user_id).await?;
        self.inner.project.policy.on_event(&Event::SignedOut { user: user_id, session: None }).await;
        Ok(())
    }

    /// A user's identities.
    pub async fn identities(&self, user_id: &str) -> Result<Vec<Identity>, FlowError> {
        Ok(self.inner.store.identities(user_id).await?)
    }

    /// Deletes one of the user's identities.
    pub async fn delete_identity(&self, user_id: &str, id: &str) -> Result<(), FlowError> {
        let store = &self.inner.store;
        let identity = store.identities(user_id).await?.into_iter().find(|identity| identity.id == id);
        let Some(identity) = identity else { return Err(FlowError::IdentityNotFound) };
        if !store.delete_identity(user_id, id).await? {
            return Err(FlowError::IdentityNotFound);
        }
        self.inner.project.policy.on_event(&Event::Unlinked { user: user_id, identity: &identity }).await;
        Ok(())
    }
}

enum Outcome {
    Session(Box<NewSession>),
    /// The token flow's one-time secret, and the link cookie's value for the browser.
    Token {
        secret: String,
        link: String,
    },
}

/// The secrets a login hands out once its plan is written.
enum Pending {
    /// The new session's cookie secret.
    Session(String),
    /// The token flow's secret and link cookie value.
    Token { secret: String, link: String },
}

/// A session just written, with the cookie value of its secret.
fn new_session(session: Session, secret: String) -> NewSession {
    let payload = serde_json::to_vec(&CookiePayload { id: session.user_id.clone(), secret })
        .expect("cookie payload serialises");
    NewSession { session, cookie_value: STANDARD.encode(payload) }
}

struct Login<'a> {
    provider: &'a str,
    profile: &'a UserProfile,
    display_name: Option<String>,
    tokens: &'a TokenSet,
}

fn session_not_found() -> FlowError {
    FlowError::SessionNotFound
}

fn refresh_error(error: ProviderError) -> FlowError {
    FlowError::RefreshRefused { status: error.provider_status(), source: error }
}

/// Text from a provider (an `error_description`, an error message quoting one) made safe for an
/// app's failure page: markup removed, control characters and the characters that open markup or
/// quote dropped, whitespace collapsed, at most `max` characters.
fn plain_text(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            '>' | '"' | '\\' | '`' => {}
            c if c.is_whitespace() || c.is_control() => {
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c => out.push(c),
        }
    }
    truncate(out.trim_end(), max).to_owned()
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((index, _)) => &s[..index],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_text_becomes_plain_text() {
        assert_eq!(
            plain_text("<script>alert(1)</script>Access <b>denied</b>\n\tby   policy \"x\" > y", 100),
            "alert(1)Access denied by policy x y"
        );
        assert_eq!(plain_text("<img src=x onerror=alert(1)>", 100), "");
        assert_eq!(plain_text(&"é".repeat(300), 256).chars().count(), 256);
        assert_eq!(plain_text("unclosed <tag and more", 100), "unclosed");
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("hi", 5), "hi");
    }
}
