//! A store that reports how long each of its calls takes: how a server measures its database.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{
    Decide, LoginKey, LoginPlan, Pruned, Redemption, Renewal, SealedRow, SealedTable, SessionRenewal, Store,
};
use crate::error::{FlowError, StoreError};
use crate::model::{Identity, Revocation, Sealed, Session, StoredTokens, Timestamp, User};

/// One finished store call, as [`ObservedStore`] reports it: its name, nothing it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreCall {
    /// The [`Store`] method (`login`, `authenticate`, `consume_state`, ...).
    pub operation: &'static str,
    /// How long it took.
    pub elapsed: Duration,
    /// Whether the database answered (a login refused by its decision counts as answered).
    pub ok: bool,
}

/// A [`Store`] passing every call to another and reporting each to an observer.
pub struct ObservedStore {
    inner: Arc<dyn Store>,
    observer: Box<dyn Fn(&StoreCall) + Send + Sync>,
}

impl fmt::Debug for ObservedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObservedStore").finish_non_exhaustive()
    }
}

impl ObservedStore {
    /// `inner`, reporting every call to `observer` (which runs on the calling task: keep it
    /// quick).
    pub fn new(inner: Arc<dyn Store>, observer: impl Fn(&StoreCall) + Send + Sync + 'static) -> Self {
        Self { inner, observer: Box::new(observer) }
    }

    async fn observe<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = call.await;
        (self.observer)(&StoreCall { operation, elapsed: started.elapsed(), ok: result.is_ok() });
        result
    }
}

#[async_trait]
impl Store for ObservedStore {
    async fn consume_state(&self, state_id: &str, expires: Timestamp) -> Result<bool, StoreError> {
        self.observe("consume_state", self.inner.consume_state(state_id, expires)).await
    }

    async fn login(
        &self,
        key: &LoginKey<'_>,
        decide: Decide,
    ) -> Result<Result<LoginPlan, FlowError>, StoreError> {
        self.observe("login", self.inner.login(key, decide)).await
    }

    async fn redeem(
        &self,
        user_id: &str,
        secret_digest: &str,
        redeemer: Option<&str>,
    ) -> Result<Option<Redemption>, StoreError> {
        self.observe("redeem", self.inner.redeem(user_id, secret_digest, redeemer)).await
    }

    async fn authenticate(
        &self,
        user_id: &str,
        secret_digest: &str,
    ) -> Result<Option<(Session, User)>, StoreError> {
        self.observe("authenticate", self.inner.authenticate(user_id, secret_digest)).await
    }

    async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.observe("user", self.inner.user(id)).await
    }

    async fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        self.observe("session", self.inner.session(id)).await
    }

    async fn sessions(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        self.observe("sessions", self.inner.sessions(user_id)).await
    }

    async fn update_session(
        &self,
        id: &str,
        tokens: &StoredTokens,
        expire: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.observe("update_session", self.inner.update_session(id, tokens, expire, now)).await
    }

    async fn delete_session(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        self.observe("delete_session", self.inner.delete_session(user_id, id)).await
    }

    async fn delete_sessions(&self, user_id: &str) -> Result<u64, StoreError> {
        self.observe("delete_sessions", self.inner.delete_sessions(user_id)).await
    }

    async fn identity(&self, provider: &str, uid: &str) -> Result<Option<Identity>, StoreError> {
        self.observe("identity", self.inner.identity(provider, uid)).await
    }

    async fn identities(&self, user_id: &str) -> Result<Vec<Identity>, StoreError> {
        self.observe("identities", self.inner.identities(user_id)).await
    }

    async fn delete_identity(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        self.observe("delete_identity", self.inner.delete_identity(user_id, id)).await
    }

    async fn claim_refresh(
        &self,
        identity_id: &str,
        seen: &Sealed,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.observe("claim_refresh", self.inner.claim_refresh(identity_id, seen, until, now)).await
    }

    async fn release_refresh(&self, identity_id: &str, until: Timestamp) -> Result<(), StoreError> {
        self.observe("release_refresh", self.inner.release_refresh(identity_id, until)).await
    }

    async fn finish_refresh(
        &self,
        identity_id: &str,
        seen: &Sealed,
        renewal: &Renewal<'_>,
        session: Option<&SessionRenewal<'_>>,
    ) -> Result<bool, StoreError> {
        self.observe("finish_refresh", self.inner.finish_refresh(identity_id, seen, renewal, session)).await
    }

    async fn queue_revocations(&self, revocations: &[Revocation]) -> Result<(), StoreError> {
        self.observe("queue_revocations", self.inner.queue_revocations(revocations)).await
    }

    async fn due_revocations(&self, now: Timestamp, limit: u32) -> Result<Vec<Revocation>, StoreError> {
        self.observe("due_revocations", self.inner.due_revocations(now, limit)).await
    }

    async fn forget_revocation(&self, id: &str) -> Result<bool, StoreError> {
        self.observe("forget_revocation", self.inner.forget_revocation(id)).await
    }

    async fn postpone_revocation(
        &self,
        id: &str,
        attempts: u32,
        next_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.observe("postpone_revocation", self.inner.postpone_revocation(id, attempts, next_at)).await
    }

    async fn prune(&self, now: Timestamp, limit: u32) -> Result<Pruned, StoreError> {
        self.observe("prune", self.inner.prune(now, limit)).await
    }

    async fn sealed_elsewhere(
        &self,
        table: SealedTable,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<SealedRow>, StoreError> {
        self.observe("sealed_elsewhere", self.inner.sealed_elsewhere(table, prefix, after, limit)).await
    }

    async fn replace_sealed(
        &self,
        table: SealedTable,
        id: &str,
        seen: &Sealed,
        tokens: &StoredTokens,
    ) -> Result<bool, StoreError> {
        self.observe("replace_sealed", self.inner.replace_sealed(table, id, seen, tokens)).await
    }

    fn round_trips(&self) -> u64 {
        self.inner.round_trips()
    }
}
