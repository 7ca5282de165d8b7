//! Revoking provider tokens at the provider after a sign-out or an unlink.
//!
//! What is owed is queued in the store first (each token sealed for its queue row), so a
//! provider that is down, or a process that stops, loses nothing: the first attempt runs in the
//! background right away (a sign-out does not wait for the provider), and
//! [`Flow::revoke_pending`] tries again with growing delays until the provider confirms, or
//! refuses for good, or [`REVOKE_ATTEMPTS`] were made.

use loginkit_core::{AccessToken, TokenRef};

use super::*;
use crate::model::Revocation;

/// Revocations [`Flow::revoke_pending`] reads per batch.
pub const REVOKE_BATCH: u32 = 100;
/// Attempts after which a revocation the provider never confirmed is given up.
pub const REVOKE_ATTEMPTS: u32 = 12;
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// What [`Flow::revoke_pending`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Revoked {
    /// Tokens the provider revoked.
    pub revoked: u64,
    /// Tokens to try again later (the provider was down or slow).
    pub postponed: u64,
    /// Tokens given up: refused by the provider, unreadable, of a provider no longer enabled,
    /// or out of attempts.
    pub dropped: u64,
}

/// How one attempt ended.
enum Attempt {
    Revoked,
    Postponed,
    Dropped,
}

impl Flow {
    /// The revocations owed for provider tokens in clear, at `provider`: the refresh token
    /// first (revoking it ends the whole grant at most providers), then the access token.
    /// Nothing when the project does not revoke or the provider cannot.
    pub(super) fn revocations(&self, provider: &str, tokens: &[PlainTokens]) -> Vec<Revocation> {
        if !self.revokes(provider) {
            return Vec::new();
        }
        let project = &self.inner.project;
        let now = Timestamp::now();
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for plain in tokens {
            if plain.access.is_empty() || seen.contains(&plain.access.as_str()) {
                continue;
            }
            seen.push(&plain.access);
            let owed = plain
                .refresh
                .iter()
                .map(|t| (t.as_str(), "refresh_token"))
                .chain([(plain.access.as_str(), "access_token")]);
            for (secret, hint) in owed {
                let id = crypto::new_id();
                out.push(Revocation {
                    token: Row::Revocation(&id).seal(&self.inner.keys, secret),
                    id,
                    provider: provider.to_owned(),
                    hint: hint.to_owned(),
                    attempts: 0,
                    // The background attempt goes first; the queue waits a while for it.
                    next_at: now.plus(project.revocation_backoff.max(Duration::from_secs(1))),
                    created_at: now,
                });
            }
        }
        out
    }

    /// Whether ending a login of `provider` revokes its tokens: the project revokes and the
    /// provider can.
    pub(super) fn revokes(&self, provider: &str) -> bool {
        let project = &self.inner.project;
        project.revoke_provider_tokens
            && project.providers.get(provider).is_some_and(|p| p.descriptor().capabilities.revoke)
    }

    /// Queues `revocations`, then makes their first attempt in the background.
    pub(super) async fn revoke_later(&self, revocations: Vec<Revocation>) -> Result<(), FlowError> {
        if revocations.is_empty() {
            return Ok(());
        }
        self.inner.store.queue_revocations(&revocations).await?;
        let flow = self.clone();
        tokio::spawn(async move {
            for revocation in revocations {
                if let Err(error) = flow.attempt(revocation).await {
                    tracing::warn!(%error, "a revocation stays queued");
                }
            }
        });
        Ok(())
    }

    /// Tries every queued revocation that is due, in batches of [`REVOKE_BATCH`], until none is
    /// left; returns what happened. Run it now and then (the reference server does every
    /// minute, with [`Flow::prune_expired`]).
    pub async fn revoke_pending(&self) -> Result<Revoked, FlowError> {
        let mut done = Revoked::default();
        loop {
            let due = self.inner.store.due_revocations(Timestamp::now(), REVOKE_BATCH).await?;
            let full = due.len() == REVOKE_BATCH as usize;
            for revocation in due {
                match self.attempt(revocation).await? {
                    Attempt::Revoked => done.revoked += 1,
                    Attempt::Postponed => done.postponed += 1,
                    Attempt::Dropped => done.dropped += 1,
                }
            }
            if !full {
                return Ok(done);
            }
            tokio::task::yield_now().await;
        }
    }

    /// One attempt at one queued revocation, recorded in the queue.
    async fn attempt(&self, revocation: Revocation) -> Result<Attempt, FlowError> {
        let store = &self.inner.store;
        let revocation = &revocation;
        let drop = |why: &'static str| async move {
            tracing::warn!(provider = %revocation.provider, hint = %revocation.hint, why, "revocation given up");
            store.forget_revocation(&revocation.id).await.map(|_| Attempt::Dropped)
        };
        let Some(provider) = self.inner.project.providers.get(&revocation.provider) else {
            return Ok(drop("the provider is no longer enabled").await?);
        };
        let Some(secret) = Row::Revocation(&revocation.id).open(&self.inner.keys, &revocation.token) else {
            return Ok(drop("the token does not open with the configured keys").await?);
        };
        let (access, refresh);
        let token = if revocation.hint == "refresh_token" {
            refresh = RefreshToken::new(secret);
            TokenRef::Refresh(&refresh)
        } else {
            access = AccessToken::new(secret);
            TokenRef::Access(&access)
        };
        match provider.revoke(token).await {
            Ok(()) => {
                store.forget_revocation(&revocation.id).await?;
                tracing::info!(provider = %revocation.provider, hint = %revocation.hint, "provider token revoked");
                Ok(Attempt::Revoked)
            }
            Err(error) => {
                // A provider that answered 4xx (other than 429) will not change its mind.
                let final_answer =
                    error.provider_status().is_some_and(|s| (400..500).contains(&s) && s != 429);
                let attempts = revocation.attempts + 1;
                if final_answer {
                    return Ok(drop("the provider refused it").await?);
                }
                if attempts >= REVOKE_ATTEMPTS {
                    return Ok(drop("out of attempts").await?);
                }
                let base = self.inner.project.revocation_backoff;
                let wait = base.saturating_mul(1 << attempts.min(20)).min(MAX_BACKOFF);
                store.postpone_revocation(&revocation.id, attempts, Timestamp::now().plus(wait)).await?;
                tracing::info!(provider = %revocation.provider, %error, attempts, "revocation postponed");
                Ok(Attempt::Postponed)
            }
        }
    }
}
