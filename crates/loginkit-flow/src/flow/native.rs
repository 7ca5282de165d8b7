//! Native sign-in: an app that obtained an ID token itself (Google Credential Manager, Sign in
//! with Apple on iOS) shows it, and gets a session. No code, no redirect, no state: the token's
//! own checks (signature by the provider's published keys, issuer, audience, times, the app's
//! nonce) are the proof, and the account rules are the browser login's.

use loginkit_core::{AccessToken, Error as CoreError, IdToken};

use super::*;

/// Input of [`Flow::sign_in_with_id_token`].
#[derive(Debug, Clone, Copy)]
pub struct IdTokenSignIn<'a> {
    /// Provider id (`google`, `apple`, `oidc`, ...), enabled for native sign-in in the project.
    pub provider: &'a str,
    /// The ID token the app received.
    pub id_token: &'a str,
    /// The nonce the app generated for it, as generated (the provider decides how its tokens
    /// carry it).
    pub nonce: Option<&'a str>,
    /// An access token the app received with it, kept with the identity.
    pub access_token: Option<&'a str>,
    /// How long that access token lasts.
    pub access_token_lifetime: Option<Duration>,
    /// A name for a new user whose token carries none (Apple gives it to the app once).
    pub name: Option<&'a str>,
    /// The session the request is signed in with, if any: the identity is linked to its user.
    pub current_session: Option<&'a Session>,
    /// The client.
    pub client: &'a Client,
}

/// Longest ID token accepted.
const MAX_ID_TOKEN: usize = 16 * 1024;

impl Flow {
    /// Signs in with an ID token an app obtained natively: verifies it as a login's would be
    /// (with the project's native audiences), then lands on an account by the browser login's
    /// rules and the project's policy, and makes a session.
    pub async fn sign_in_with_id_token(&self, request: &IdTokenSignIn<'_>) -> Result<NewSession, FlowError> {
        let provider = self.provider(request.provider)?;
        let Some(audiences) = self.inner.project.native_audiences(request.provider) else {
            return Err(FlowError::NativeSignInDisabled(request.provider.to_owned()));
        };
        let display_name = provider.descriptor().display_name;
        if request.id_token.is_empty() || request.id_token.len() > MAX_ID_TOKEN {
            return Err(FlowError::IdTokenRefused { provider: display_name, reason: "malformed".into() });
        }
        let id_token = IdToken::new(request.id_token.to_owned());
        let nonce = request.nonce.filter(|n| !n.is_empty() && n.len() <= 512);
        let claims = match provider.verify_native_id_token(&id_token, nonce, audiences).await {
            Ok(claims) => claims,
            Err(CoreError::Unsupported { .. }) => {
                return Err(FlowError::NativeSignInUnsupported(request.provider.to_owned()));
            }
            Err(CoreError::IdToken { reason, .. }) => {
                tracing::info!(provider = request.provider, %reason, "ID-token sign-in refused");
                return Err(FlowError::IdTokenRefused { provider: display_name, reason: reason.to_string() });
            }
            Err(error) => {
                // The keys could not be fetched, or the provider answered garbage.
                let reason = callback::plain_text(&error.to_string(), 256);
                return Err(FlowError::ProfileFailed { provider: display_name, reason, source: error });
            }
        };
        let mut tokens = TokenSet::new(AccessToken::new(request.access_token.unwrap_or_default().to_owned()));
        tokens.expires_at =
            request.access_token_lifetime.map(|lifetime| std::time::SystemTime::now() + lifetime);
        tokens.id_token = Some(id_token);
        let profile = UserProfile::new(claims.sub.clone())
            .with_email(claims.email.clone(), claims.email_trust())
            .with_name(claims.name.clone())
            .with_avatar_url(claims.picture.clone());
        tokens.id_token_claims = Some(claims);
        let display_name = profile
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| request.name.map(|n| callback::plain_text(n, 256)).filter(|n| !n.is_empty()));
        let login =
            callback::Login { provider: request.provider, profile: &profile, display_name, tokens: &tokens };
        match self
            .complete(&login, callback::Ending::Session, request.current_session, request.client)
            .await?
        {
            (_, callback::Outcome::Session(session)) => Ok(*session),
            (_, callback::Outcome::Token { .. }) => Err(FlowError::Store(StoreError::Conflict(
                "a native sign-in made a token instead of a session",
            ))),
        }
    }
}
