//! Sessions and identities after the login: redeeming token-flow secrets, authenticating
//! requests, signing out, unlinking, and the housekeeping of expired rows and old keys.

use super::*;

impl Flow {
    /// Exchanges a token-flow secret for a session (`POST /v1/account/sessions/token`). The
    /// secret works once, within the token lifetime. A secret from a login a
    /// [backend](StartRequest::backend) started is refused here (and stays redeemable by it):
    /// see [`Flow::redeem_token`].
    pub async fn create_session_from_token(
        &self,
        user_id: &str,
        secret: &str,
        client: &Client,
    ) -> Result<NewSession, FlowError> {
        self.redeem_token(&TokenRedemption { user_id, secret, backend: None, client }).await
    }

    /// Exchanges a token-flow secret for a session, as [`TokenRedemption::backend`] allows: a
    /// backend redeems the secrets of logins it started and those of browsers' own logins; a
    /// caller naming no backend only the latter. A refused secret stays as it was.
    pub async fn redeem_token(&self, request: &TokenRedemption<'_>) -> Result<NewSession, FlowError> {
        let TokenRedemption { user_id, secret, backend, client } = *request;
        let invalid = || FlowError::InvalidToken;
        if user_id.is_empty() || secret.is_empty() || secret.len() > 256 || user_id.len() > 64 {
            return Err(invalid());
        }
        let now = Timestamp::now();
        let store = &self.inner.store;
        // Taken, expired or not: an expired secret is gone either way.
        let redemption =
            store.redeem(user_id, &crypto::digest_secret(secret), backend).await?.ok_or_else(invalid)?;
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
            previous_uid: None,
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
    ///
    /// The provider tokens that session's login received are revoked at the provider (when the
    /// project revokes and the provider can), unless another live session of the user holds the
    /// same ones.
    pub async fn delete_session(&self, user_id: &str, id: &str) -> Result<(), FlowError> {
        let store = &self.inner.store;
        let sessions = store.sessions(user_id).await?;
        let Some(ending) = sessions.iter().find(|s| s.id == id) else { return Err(session_not_found()) };
        let now = Timestamp::now();
        let others: Vec<&Session> = sessions.iter().filter(|s| s.id != id && s.expire > now).collect();
        let owed = self.session_revocations(ending, &others);
        // Queued before the session goes: a stop in between revokes tokens of a live session
        // rather than forget those of an ended one.
        self.revoke_later(owed).await?;
        if !store.delete_session(user_id, id).await? {
            return Err(session_not_found());
        }
        self.inner.project.policy.on_event(&Event::SignedOut { user: user_id, session: Some(id) }).await;
        Ok(())
    }

    /// Deletes all of the user's sessions, revoking at the provider the tokens their logins
    /// received (as [`Flow::delete_session`]).
    pub async fn delete_sessions(&self, user_id: &str) -> Result<(), FlowError> {
        let store = &self.inner.store;
        let sessions = store.sessions(user_id).await?;
        let mut owed = Vec::new();
        for (i, session) in sessions.iter().enumerate() {
            owed.extend(self.session_revocations(session, &sessions.iter().take(i).collect::<Vec<_>>()));
        }
        self.revoke_later(owed).await?;
        store.delete_sessions(user_id).await?;
        self.inner.project.policy.on_event(&Event::SignedOut { user: user_id, session: None }).await;
        Ok(())
    }

    /// The revocations owed for `session`'s provider tokens, unless one of `others` holds the
    /// same access token.
    fn session_revocations(&self, session: &Session, others: &[&Session]) -> Vec<crate::model::Revocation> {
        // Nothing to open or compare when nothing would be revoked.
        if !self.revokes(&session.provider) {
            return Vec::new();
        }
        let keys = &self.inner.keys;
        let Some(plain) = PlainTokens::open(keys, &session.tokens, Row::of_session(session)) else {
            return Vec::new();
        };
        let shared = others.iter().any(|other| {
            other.provider == session.provider
                && PlainTokens::open(keys, &other.tokens, Row::of_session(other))
                    .is_some_and(|o| o.access == plain.access)
        });
        if shared { Vec::new() } else { self.revocations(&session.provider, &[plain]) }
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
        // Unlinking the account ends every grant of it this app knows: the identity's latest
        // tokens and those of the account's sessions.
        let mut grants: Vec<PlainTokens> =
            PlainTokens::open(&self.inner.keys, &identity.tokens, Row::of_identity(&identity))
                .into_iter()
                .collect();
        for session in store.sessions(user_id).await? {
            if session.provider == identity.provider && session.provider_uid == identity.provider_uid {
                grants.extend(PlainTokens::open(
                    &self.inner.keys,
                    &session.tokens,
                    Row::of_session(&session),
                ));
            }
        }
        self.revoke_later(self.revocations(&identity.provider, &grants)).await?;
        if !store.delete_identity(user_id, id).await? {
            return Err(FlowError::IdentityNotFound);
        }
        self.inner.project.policy.on_event(&Event::Unlinked { user: user_id, identity: &identity }).await;
        Ok(())
    }
}

pub(super) fn session_not_found() -> FlowError {
    FlowError::SessionNotFound
}
