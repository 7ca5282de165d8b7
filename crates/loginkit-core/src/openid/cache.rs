//! The single-flight, TTL-bounded, per-URL cache behind [`super::DiscoveryCache`] and
//! [`super::JwksCache`].
//!
//! Each URL has a slot: the cached value, and an async gate so that one caller fetches while the
//! others for the same URL wait for its result (other URLs are never blocked). Failures are handed
//! to the callers that waited for that very attempt, and are then forgotten: the next caller
//! fetches again, so a provider that was down works as soon as it is back.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use url::Url;

use super::Clock;
use crate::error::Error;

/// Slots by URL.
pub(crate) struct Store<T> {
    slots: Mutex<HashMap<Url, Arc<Slot<T>>>>,
}

impl<T> Default for Store<T> {
    fn default() -> Self {
        Self { slots: Mutex::new(HashMap::new()) }
    }
}

impl<T> Store<T> {
    /// The slot of `url`, created empty on first use.
    pub(crate) fn slot(&self, url: &Url) -> Arc<Slot<T>> {
        let mut slots = lock(&self.slots);
        if let Some(slot) = slots.get(url) {
            return slot.clone();
        }
        let slot = Arc::new(Slot::default());
        slots.insert(url.clone(), slot.clone());
        slot
    }

    /// How many fetches of `url` were started.
    pub(crate) fn fetch_count(&self, url: &Url) -> u64 {
        lock(&self.slots).get(url).map_or(0, |slot| slot.fetches.load(Ordering::Relaxed))
    }

    /// How many URLs have a slot.
    pub(crate) fn len(&self) -> usize {
        lock(&self.slots).len()
    }
}

/// One URL's cached value and fetch gate.
pub(crate) struct Slot<T> {
    state: Mutex<State<T>>,
    /// Held for the whole fetch; an async mutex so waiting callers yield instead of blocking.
    gate: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State::default()),
            gate: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
        }
    }
}

struct State<T> {
    value: Option<Entry<T>>,
    /// Completed fetch attempts, successful or not; a cancelled fetch does not count.
    attempts: u64,
    /// The last attempt's error, for the callers that waited on that attempt only.
    failure: Option<(u64, Error)>,
    /// Start of the last forced refetch, for its rate limit.
    last_forced: Option<Instant>,
}

impl<T> Default for State<T> {
    fn default() -> Self {
        Self { value: None, attempts: 0, failure: None, last_forced: None }
    }
}

struct Entry<T> {
    value: Arc<T>,
    attempt: u64,
    expires_at: Instant,
}

/// A value from the cache.
pub(crate) struct Got<T> {
    pub(crate) value: Arc<T>,
    /// The attempt that fetched it (to ask later for a newer one).
    pub(crate) attempt: u64,
    /// Whether it was fetched while this call was waiting or fetching, i.e. it is as new as it gets.
    pub(crate) fetched_now: bool,
}

impl<T: Send + Sync> Slot<T> {
    /// The cached value while fresh; otherwise one fetch shared by every concurrent caller.
    pub(crate) async fn get<F, Fut>(&self, clock: &dyn Clock, fetch: F) -> Result<Got<T>, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(T, Duration), Error>>,
    {
        let seen = {
            let state = lock(&self.state);
            if let Some(entry) = state.value.as_ref().filter(|e| e.expires_at > clock.now()) {
                return Ok(Got { value: entry.value.clone(), attempt: entry.attempt, fetched_now: false });
            }
            state.attempts
        };
        let _gate = self.gate.lock().await;
        {
            let state = lock(&self.state);
            if let Some(entry) =
                state.value.as_ref().filter(|e| e.attempt > seen && e.expires_at > clock.now())
            {
                return Ok(Got { value: entry.value.clone(), attempt: entry.attempt, fetched_now: true });
            }
            if let Some((attempt, error)) = &state.failure
                && *attempt > seen
            {
                return Err(replay(error));
            }
        }
        self.fetch(clock, fetch).await
    }

    /// A value newer than attempt `seen`: the one another caller fetched meanwhile, or a fetch of
    /// our own unless a forced refetch started less than `min_interval` ago (then `None`).
    pub(crate) async fn refetch_newer<F, Fut>(
        &self,
        clock: &dyn Clock,
        seen: u64,
        min_interval: Duration,
        fetch: F,
    ) -> Result<Option<Got<T>>, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(T, Duration), Error>>,
    {
        let _gate = self.gate.lock().await;
        {
            let mut state = lock(&self.state);
            if let Some(entry) = state.value.as_ref().filter(|e| e.attempt > seen) {
                return Ok(Some(Got {
                    value: entry.value.clone(),
                    attempt: entry.attempt,
                    fetched_now: true,
                }));
            }
            if let Some((attempt, error)) = &state.failure
                && *attempt > seen
            {
                return Err(replay(error));
            }
            let now = clock.now();
            if state.last_forced.is_some_and(|at| now < at + min_interval) {
                return Ok(None);
            }
            state.last_forced = Some(now);
        }
        self.fetch(clock, fetch).await.map(Some)
    }

    /// Runs one fetch; the caller holds the gate.
    async fn fetch<F, Fut>(&self, clock: &dyn Clock, fetch: F) -> Result<Got<T>, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(T, Duration), Error>>,
    {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = fetch().await;
        let mut state = lock(&self.state);
        state.attempts += 1;
        let attempt = state.attempts;
        match result {
            Ok((value, ttl)) => {
                let value = Arc::new(value);
                let expires_at = clock.now() + ttl;
                state.value = Some(Entry { value: value.clone(), attempt, expires_at });
                state.failure = None;
                Ok(Got { value, attempt, fetched_now: true })
            }
            Err(error) => {
                state.failure = Some((attempt, replay(&error)));
                Err(error)
            }
        }
    }
}

/// A poisoned lock only means another caller panicked mid-update of plain data; the data is still
/// consistent (every update is a single assignment), so keep going rather than propagate a panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A copy of `error` for the other callers of the same attempt (`Error` is not `Clone` because
/// most of the crate never needs it).
fn replay(error: &Error) -> Error {
    match error {
        Error::UnknownProvider { id, available } => {
            Error::UnknownProvider { id: id.clone(), available: available.clone() }
        }
        Error::DuplicateProvider { id, first, second } => Error::DuplicateProvider { id, first, second },
        Error::Config { provider, message } => Error::Config { provider, message: message.clone() },
        Error::Transport { provider, operation, kind } => {
            Error::Transport { provider, operation: *operation, kind: *kind }
        }
        Error::OAuth { provider, operation, status, code, description } => Error::OAuth {
            provider,
            operation: *operation,
            status: *status,
            code: code.clone(),
            description: description.clone(),
        },
        Error::HttpStatus { provider, operation, status } => {
            Error::HttpStatus { provider, operation: *operation, status: *status }
        }
        Error::Redirect { provider, operation, status } => {
            Error::Redirect { provider, operation: *operation, status: *status }
        }
        Error::ResponseTooLarge { provider, operation, limit } => {
            Error::ResponseTooLarge { provider, operation: *operation, limit: *limit }
        }
        Error::Malformed { provider, operation, detail } => {
            Error::Malformed { provider, operation: *operation, detail: detail.clone() }
        }
        Error::MissingField { provider, operation, field } => {
            Error::MissingField { provider, operation: *operation, field }
        }
        Error::Unsupported { provider, capability } => Error::Unsupported { provider, capability },
        Error::IdToken { provider, reason } => Error::IdToken { provider, reason: reason.clone() },
        Error::InvalidRequest { provider, message } => {
            Error::InvalidRequest { provider, message: message.clone() }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::error::{Operation, TransportKind};
    use crate::openid::SystemClock;

    #[tokio::test]
    async fn failures_reach_the_waiters_of_that_attempt_only() {
        let slot: Slot<u32> = Slot::default();
        let clock = SystemClock;
        let calls = AtomicUsize::new(0);
        let failing = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::Transport { provider: "p", operation: Operation::Jwks, kind: TransportKind::Connect })
        };
        assert!(slot.get(&clock, failing).await.is_err());
        // A later caller did not wait on that attempt: it fetches again (no negative caching).
        let ok = slot.get(&clock, || async { Ok((7, Duration::from_secs(60))) }).await.unwrap();
        assert_eq!((*ok.value, ok.fetched_now), (7, true));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(slot.fetches.load(Ordering::Relaxed), 2);
    }

    fn down() -> Error {
        Error::Transport { provider: "p", operation: Operation::Jwks, kind: TransportKind::Timeout }
    }

    #[tokio::test]
    async fn waiters_share_the_outcome_of_the_attempt_they_waited_for() {
        let clock = SystemClock;
        for succeed in [true, false] {
            let slot: Slot<u32> = Slot::default();
            let release = tokio::sync::Notify::new();
            let first = || async {
                release.notified().await;
                if succeed { Ok((5, Duration::from_secs(60))) } else { Err(down()) }
            };
            let second = || async { Ok((6, Duration::from_secs(60))) };
            // `join!` polls in order: the first caller takes the gate and waits for the release,
            // the second queues on the gate, then the release lets the first finish.
            let (a, b, ()) = tokio::join!(slot.get(&clock, first), slot.get(&clock, second), async {
                tokio::task::yield_now().await;
                release.notify_one();
            });
            if succeed {
                assert_eq!((*a.unwrap().value, *b.unwrap().value), (5, 5));
            } else {
                assert!(matches!(a, Err(Error::Transport { kind: TransportKind::Timeout, .. })));
                assert!(matches!(b, Err(Error::Transport { kind: TransportKind::Timeout, .. })));
            }
            assert_eq!(slot.fetches.load(Ordering::Relaxed), 1, "succeed={succeed}");
        }
    }

    #[tokio::test]
    async fn a_cancelled_fetch_lets_the_next_caller_fetch() {
        let slot: Slot<u32> = Slot::default();
        let clock = SystemClock;
        {
            let pending = slot.get(&clock, std::future::pending::<Result<(u32, Duration), Error>>);
            let timed_out = tokio::time::timeout(Duration::from_millis(10), pending).await;
            assert!(timed_out.is_err());
        }
        let ok = slot.get(&clock, || async { Ok((1, Duration::from_secs(60))) }).await.unwrap();
        assert_eq!(*ok.value, 1);
    }

    #[test]
    fn replayed_errors_are_equal_in_kind() {
        let error =
            Error::IdToken { provider: "p", reason: crate::openid::IdTokenError::MetadataIssuerMismatch };
        assert_eq!(replay(&error).to_string(), error.to_string());
        let error = Error::HttpStatus { provider: "p", operation: Operation::Discovery, status: 503 };
        assert!(matches!(
            replay(&error),
            Error::HttpStatus { status: 503, operation: Operation::Discovery, .. }
        ));
    }
}
