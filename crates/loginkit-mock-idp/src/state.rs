//! Shared provider state (codes, tokens, faults, counters) and the handle tests use to reach it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::http::{HeaderMap, Method, Uri};

use crate::config::MockIdpConfig;
use crate::faults::{Endpoint, Fault};
use crate::params::{Challenge, Params, random_token};

/// A request as the mock provider received it, so tests can assert exactly
/// what a client sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `"POST"`.
    pub method: String,
    /// Request path as routed by the provider (without any prefix the router is nested under).
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Headers with lowercased names, in order; non-UTF-8 values are decoded lossily.
    pub headers: Vec<(String, String)>,
    /// Decoded `application/x-www-form-urlencoded` body pairs, in order
    /// (decoded whatever the declared content type).
    pub form: Vec<(String, String)>,
}

impl RecordedRequest {
    /// Records a request as received.
    pub fn capture(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Self {
        RecordedRequest {
            method: method.as_str().to_owned(),
            path: uri.path().to_owned(),
            query: Params::parse(uri.query().unwrap_or_default().as_bytes()).0,
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            form: Params::parse(body).0,
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The first value of form field `name`.
    pub fn form_value(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first value of query parameter `name`.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Cheaply clonable access to a running provider's state: inject faults,
/// read counters and recorded requests.
#[derive(Clone)]
pub struct MockIdpHandle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for MockIdpHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockIdpHandle").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

impl MockIdpHandle {
    pub(crate) fn new(config: MockIdpConfig) -> Self {
        Self { shared: Arc::new(Shared { config, inner: Mutex::new(Inner::default()) }) }
    }

    /// Queues a fault consumed by the next request to `endpoint`; several
    /// queued faults apply in the order they were injected.
    pub fn inject(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.lock().one_shot.entry(endpoint).or_default().push_back(fault);
    }

    /// Applies `fault` to every request to `endpoint` (after any queued
    /// one-shot faults) until [`clear_faults`](Self::clear_faults). Replaces an
    /// earlier persistent fault for the same endpoint.
    pub fn inject_always(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.lock().always.insert(endpoint, fault);
    }

    /// Removes every queued and persistent fault.
    pub fn clear_faults(&self) {
        let mut inner = self.shared.lock();
        inner.one_shot.clear();
        inner.always.clear();
    }

    /// Number of requests `endpoint` has received, faulted ones included.
    pub fn hits(&self, endpoint: Endpoint) -> usize {
        self.shared.lock().hits.get(&endpoint).copied().unwrap_or(0)
    }

    /// The most recent request to the token endpoint.
    pub fn last_token_request(&self) -> Option<RecordedRequest> {
        self.last_request(Endpoint::Token)
    }

    /// The most recent request to `endpoint`.
    pub fn last_request(&self, endpoint: Endpoint) -> Option<RecordedRequest> {
        self.shared.lock().last.get(&endpoint).cloned()
    }

    /// The configuration the provider runs with.
    pub fn config(&self) -> &MockIdpConfig {
        &self.shared.config
    }

    /// What the provider keeps in memory: authorization codes, access tokens and refresh tokens.
    pub fn outstanding(&self) -> Outstanding {
        let inner = self.shared.lock();
        Outstanding {
            codes: inner.codes.len(),
            access_tokens: inner.access_tokens.len(),
            refresh_tokens: inner.refresh_tokens.len(),
        }
    }
}

/// Counts of what a mock provider keeps ([`MockIdpHandle::outstanding`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outstanding {
    /// Authorization codes, used ones included until they expire.
    pub codes: usize,
    /// Access tokens.
    pub access_tokens: usize,
    /// Refresh tokens.
    pub refresh_tokens: usize,
}

pub(crate) struct Shared {
    pub(crate) config: MockIdpConfig,
    inner: Mutex<Inner>,
}

impl Shared {
    /// Test code may panic while a guard is live; the state stays usable, so
    /// poisoning is ignored rather than turned into a panic in every later request.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts and records a request; every handler calls this first.
    pub(crate) fn begin(
        &self,
        endpoint: Endpoint,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) {
        let recorded = RecordedRequest::capture(method, uri, headers, body);
        tracing::debug!(?endpoint, method = %recorded.method, path = %recorded.path, "mock idp: request");
        let mut inner = self.lock();
        *inner.hits.entry(endpoint).or_default() += 1;
        inner.last.insert(endpoint, recorded);
    }

    pub(crate) fn take_fault(&self, endpoint: Endpoint) -> Option<Fault> {
        let mut inner = self.lock();
        if let Some(fault) = inner.one_shot.get_mut(&endpoint).and_then(VecDeque::pop_front) {
            return Some(fault);
        }
        inner.always.get(&endpoint).cloned()
    }
}

/// An issued authorization code.
pub(crate) struct CodeGrant {
    pub(crate) client_id: String,
    pub(crate) user_id: String,
    pub(crate) scopes: Vec<String>,
    /// The `redirect_uri` parameter of the authorization request, if one was sent.
    pub(crate) redirect_uri_param: Option<String>,
    /// Where the code was actually delivered.
    pub(crate) redirect_uri: String,
    pub(crate) challenge: Option<Challenge>,
    pub(crate) nonce: Option<String>,
    /// `None` when the configured lifetime overflows `Instant`: never expires.
    pub(crate) expires_at: Option<Instant>,
    pub(crate) used: bool,
}

/// Tokens descending from one authorization code share a family, so a replayed
/// code or a revoked refresh token can take all of them down together.
pub(crate) struct AccessGrant {
    pub(crate) client_id: String,
    pub(crate) user_id: String,
    pub(crate) expires_at: Option<Instant>,
    pub(crate) family: String,
    pub(crate) pkce: bool,
}

pub(crate) struct RefreshGrant {
    pub(crate) client_id: String,
    pub(crate) user_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) family: String,
    pub(crate) pkce: bool,
    pub(crate) expires_at: Option<Instant>,
}

/// Grants that expire, so a full map can forget the expired and then the oldest first.
trait Expiring {
    fn expires_at(&self) -> Option<Instant>;
}

impl Expiring for CodeGrant {
    fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }
}

impl Expiring for AccessGrant {
    fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }
}

impl Expiring for RefreshGrant {
    fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }
}

/// Makes room for one more entry in a map bounded to `max`: forgets expired entries, then, when
/// `evict` allows, the quarter that expires soonest. `false` when there is still no room.
fn make_room<G: Expiring>(map: &mut HashMap<String, G>, max: usize, now: Instant, evict: bool) -> bool {
    let max = max.max(1);
    if map.len() < max {
        return true;
    }
    map.retain(|_, grant| !expired(grant.expires_at(), now));
    if map.len() >= max && evict {
        let mut deadlines: Vec<Option<Instant>> = map.values().map(Expiring::expires_at).collect();
        // `None` (never expires) sorts first: an entry without a deadline is the one to drop.
        deadlines.sort_unstable();
        let cut = deadlines[(map.len() / 4).max(1).min(deadlines.len() - 1)];
        map.retain(|_, grant| grant.expires_at() > cut);
    }
    map.len() < max
}

/// Tokens handed out by one successful grant.
pub(crate) struct Issued {
    pub(crate) access_token: String,
    pub(crate) refresh_token: Option<String>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) codes: HashMap<String, CodeGrant>,
    pub(crate) access_tokens: HashMap<String, AccessGrant>,
    pub(crate) refresh_tokens: HashMap<String, RefreshGrant>,
    one_shot: HashMap<Endpoint, VecDeque<Fault>>,
    always: HashMap<Endpoint, Fault>,
    hits: HashMap<Endpoint, usize>,
    last: HashMap<Endpoint, RecordedRequest>,
}

/// Whether a deadline has passed; `None` never expires.
pub(crate) fn expired(expires_at: Option<Instant>, now: Instant) -> bool {
    expires_at.is_some_and(|at| now >= at)
}

pub(crate) struct NewTokens<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) user_id: &'a str,
    /// Scopes the refresh token keeps; the access token may be narrower.
    pub(crate) scopes: &'a [String],
    pub(crate) family: &'a str,
    pub(crate) pkce: bool,
}

impl Inner {
    /// Stores a new authorization code unless the provider already keeps
    /// [`MockIdpConfig::max_grants`] unexpired ones; `false` when refused.
    pub(crate) fn add_code(&mut self, config: &MockIdpConfig, code: String, grant: CodeGrant) -> bool {
        if !make_room(&mut self.codes, config.max_grants, Instant::now(), false) {
            return false;
        }
        self.codes.insert(code, grant);
        true
    }

    pub(crate) fn issue(&mut self, config: &MockIdpConfig, new: NewTokens<'_>) -> Issued {
        let now = Instant::now();
        make_room(&mut self.access_tokens, config.max_grants, now, true);
        let access_token = random_token();
        self.access_tokens.insert(
            access_token.clone(),
            AccessGrant {
                client_id: new.client_id.to_owned(),
                user_id: new.user_id.to_owned(),
                expires_at: now.checked_add(config.access_token_ttl),
                family: new.family.to_owned(),
                pkce: new.pkce,
            },
        );
        let refresh_token = config.issue_refresh_tokens.then(|| {
            make_room(&mut self.refresh_tokens, config.max_grants, now, true);
            let token = random_token();
            self.refresh_tokens.insert(
                token.clone(),
                RefreshGrant {
                    client_id: new.client_id.to_owned(),
                    user_id: new.user_id.to_owned(),
                    scopes: new.scopes.to_vec(),
                    family: new.family.to_owned(),
                    pkce: new.pkce,
                    expires_at: now.checked_add(config.refresh_token_ttl),
                },
            );
            token
        });
        Issued { access_token, refresh_token }
    }

    /// Revokes every access and refresh token of a family.
    pub(crate) fn revoke_family(&mut self, family: &str) {
        self.access_tokens.retain(|_, grant| grant.family != family);
        self.refresh_tokens.retain(|_, grant| grant.family != family);
    }
}
