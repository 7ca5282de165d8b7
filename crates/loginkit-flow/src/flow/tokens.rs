//! A login's provider tokens: opened for the application, refreshed once at a time per account.

use super::*;

impl Flow {
    /// A session's provider tokens, opened.
    pub fn session_tokens(&self, session: &Session) -> RevealedTokens {
        RevealedTokens::open(&self.inner.keys, &session.tokens, Row::of_session(session))
    }

    /// An identity's provider tokens, opened.
    pub fn identity_tokens(&self, identity: &Identity) -> RevealedTokens {
        RevealedTokens::open(&self.inner.keys, &identity.tokens, Row::of_identity(identity))
    }

    /// An identity's tokens in clear, for a session made from it; none when they do not open.
    pub(super) fn plain_identity_tokens(&self, identity: &Identity) -> PlainTokens {
        PlainTokens::open(&self.inner.keys, &identity.tokens, Row::of_identity(identity)).unwrap_or_else(|| {
            tracing::warn!(identity = %identity.id, "provider tokens sealed with a key no longer configured");
            PlainTokens { access: String::new(), refresh: None, expiry: None }
        })
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
}

fn refresh_error(error: ProviderError) -> FlowError {
    FlowError::RefreshRefused { status: error.provider_status(), source: error }
}
