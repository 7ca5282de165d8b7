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

    /// An identity's last ID token, opened (for providers that send one).
    pub fn identity_id_token(&self, identity: &Identity) -> Option<String> {
        Row::of_identity(identity).open(&self.inner.keys, identity.id_token.as_ref()?)
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
        let provider = self.refreshing_provider(&session.provider)?;
        let Some(seen) = self.identity_of(session).await? else {
            // The identity was unlinked: the session's own tokens are all there is.
            let not_refreshable =
                || FlowError::NotRefreshable { provider: provider.descriptor().display_name };
            return self
                .refresh_unlinked(provider.as_ref(), session)
                .await
                .map_err(|e| e.unwrap_or_else(not_refreshable));
        };
        match self.refresh_account(provider.as_ref(), &seen, Some(session)).await? {
            Refreshed::Stored => self.inner.store.session(&session.id).await?.ok_or_else(session_not_found),
            Refreshed::Adopted(current) => self.adopt(session, &current.tokens).await,
        }
    }

    /// Refreshes one of a user's identities' provider tokens, with no session involved (a
    /// background job acting for the user); once at a time per account, as
    /// [`Flow::refresh_session`].
    pub async fn refresh_identity(&self, user_id: &str, identity_id: &str) -> Result<Identity, FlowError> {
        let identity = self.users_identity(user_id, identity_id).await?;
        let provider = self.refreshing_provider(&identity.provider)?;
        match self.refresh_account(provider.as_ref(), &identity, None).await? {
            Refreshed::Adopted(current) => Ok(*current),
            Refreshed::Stored => self
                .inner
                .store
                .identity(&identity.provider, &identity.provider_uid)
                .await?
                .filter(|i| i.user_id == user_id)
                .ok_or(FlowError::IdentityNotFound),
        }
    }

    /// A provider access token for the account a session signed in with, valid for at least
    /// [`REFRESH_MARGIN`]: the latest one, refreshed first (once at a time per account) when it
    /// expires sooner and the provider issues refresh tokens. A token whose expiry the provider
    /// never said is returned as it is.
    pub async fn session_access_token(&self, session: &Session) -> Result<RevealedTokens, FlowError> {
        let latest = match self.identity_of(session).await? {
            Some(identity) => self.identity_tokens(&identity),
            None => self.session_tokens(session),
        };
        if !self.due(&session.provider, &latest) {
            return Ok(latest);
        }
        let refreshed = self.refresh_session(session).await?;
        Ok(self.session_tokens(&refreshed))
    }

    /// Like [`Flow::session_access_token`] for one of a user's identities.
    pub async fn identity_access_token(
        &self,
        user_id: &str,
        identity_id: &str,
    ) -> Result<RevealedTokens, FlowError> {
        let identity = self.users_identity(user_id, identity_id).await?;
        let latest = self.identity_tokens(&identity);
        if !self.due(&identity.provider, &latest) {
            return Ok(latest);
        }
        let refreshed = self.refresh_identity(user_id, identity_id).await?;
        Ok(self.identity_tokens(&refreshed))
    }

    /// Whether `tokens` should be refreshed before use: they expire within the margin, and the
    /// provider can refresh them.
    fn due(&self, provider: &str, tokens: &RevealedTokens) -> bool {
        let soon = Timestamp::now().plus(REFRESH_MARGIN);
        let expiring =
            tokens.access_token.is_none() || tokens.access_token_expiry.is_some_and(|at| at <= soon);
        let refreshable =
            self.inner.project.providers.get(provider).is_some_and(|p| p.descriptor().capabilities.refresh);
        expiring && refreshable && tokens.refresh_token.is_some()
    }

    /// An enabled provider that refreshes tokens.
    fn refreshing_provider(&self, id: &str) -> Result<Arc<dyn OAuthProvider>, FlowError> {
        let provider = self.provider(id)?;
        let descriptor = provider.descriptor();
        if !descriptor.capabilities.refresh {
            return Err(FlowError::NotRefreshable { provider: descriptor.display_name });
        }
        Ok(provider.clone())
    }

    /// The identity a session signed in with, while it is still its user's.
    async fn identity_of(&self, session: &Session) -> Result<Option<Identity>, FlowError> {
        let identity = self.inner.store.identity(&session.provider, &session.provider_uid).await?;
        Ok(identity.filter(|identity| identity.user_id == session.user_id))
    }

    /// One of a user's identities.
    pub(super) async fn users_identity(
        &self,
        user_id: &str,
        identity_id: &str,
    ) -> Result<Identity, FlowError> {
        let identities = self.inner.store.identities(user_id).await?;
        identities.into_iter().find(|identity| identity.id == identity_id).ok_or(FlowError::IdentityNotFound)
    }

    /// Refreshes the account of identity `seen` (and `session`'s copy, if any), once at a time:
    /// an in-process lock per account, and a claim on the identity row across instances.
    async fn refresh_account(
        &self,
        provider: &dyn OAuthProvider,
        seen: &Identity,
        session: Option<&Session>,
    ) -> Result<Refreshed, FlowError> {
        let _turn = self.inner.refreshing[stripe(&seen.id)].lock().await;
        let lease = Duration::from_secs(REFRESH_LEASE_SECS);
        let waited_since = Timestamp::now();
        let store = &self.inner.store;
        loop {
            let now = Timestamp::now();
            let current = store.identity(&seen.provider, &seen.provider_uid).await?;
            let Some(current) = current.filter(|i| i.user_id == seen.user_id) else {
                return Err(if session.is_some() {
                    session_not_found()
                } else {
                    FlowError::IdentityNotFound
                });
            };
            if current.tokens.access_token != seen.tokens.access_token {
                // Another refresh finished while this one waited: its tokens are this one's result.
                return Ok(Refreshed::Adopted(Box::new(current)));
            }
            let until = now.plus(lease);
            if store.claim_refresh(&seen.id, &seen.tokens.access_token, until, now).await? {
                return self.refresh_claimed(provider, seen, session, until).await;
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
        seen: &Identity,
        session: Option<&Session>,
        until: Timestamp,
    ) -> Result<Refreshed, FlowError> {
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
            tracing::warn!(provider = %seen.provider, "a refreshed ID token names another subject");
            return Err(FlowError::SubjectChanged);
        }
        let now = Timestamp::now();
        let plain = PlainTokens::from(&tokens);
        let keys = &self.inner.keys;
        let stored = plain.seal(keys, Row::of_identity(seen));
        let claims = callback::claims_json(&tokens);
        let id_token =
            tokens.id_token.as_ref().map(|token| Row::of_identity(seen).seal(keys, token.secret()));
        let renewal = Renewal {
            tokens: &stored,
            email: None,
            subject,
            claims: claims.as_deref(),
            id_token: id_token.as_ref(),
            now,
        };
        let session_tokens = session.map(|session| plain.seal(keys, Row::of_session(session)));
        let expire = now.plus(self.inner.project.session_duration);
        let copy = session.zip(session_tokens.as_ref()).map(|(session, tokens)| SessionRenewal {
            id: &session.id,
            tokens,
            expire,
        });
        let store = &self.inner.store;
        if !store.finish_refresh(&seen.id, &seen.tokens.access_token, &renewal, copy.as_ref()).await? {
            // The claim expired and another refresh stored its tokens first: keep those.
            let current = store.identity(&seen.provider, &seen.provider_uid).await?;
            return current.map(|c| Refreshed::Adopted(Box::new(c))).ok_or(FlowError::IdentityNotFound);
        }
        Ok(Refreshed::Stored)
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

/// How long a provider access token must still be valid for
/// [`Flow::session_access_token`] to return it without refreshing it first.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// How a refresh ended.
enum Refreshed {
    /// This caller's refresh stored its tokens (and the session's copy).
    Stored,
    /// Another refresh stored the account's tokens: these.
    Adopted(Box<Identity>),
}

fn refresh_error(error: ProviderError) -> FlowError {
    FlowError::RefreshRefused { status: error.provider_status(), source: error }
}
