//! Stripe's quirk: the profile is the connected account, whose id (`stripe_user_id`) arrives in the
//! token answer rather than being implied by the access token.

use loginkit_core::{
    Endpoint, Error, OAuthProvider, Operation, StandardProvider, TokenSet, UserProfile, async_trait,
};

loginkit_core::quirks_provider! {
    /// Stripe: standard token calls, the profile read from `GET /v1/accounts/{stripe_user_id}`.
    pub struct Stripe;
}

#[async_trait]
impl OAuthProvider for Stripe {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let provider = self.descriptor().id;
        let (Some(spec), Some(accounts)) =
            (&self.descriptor().oauth2.userinfo, self.standard.endpoint_url(Endpoint::UserInfo))
        else {
            return Err(Error::Unsupported { provider, capability: "user info" });
        };
        let account =
            tokens.raw.get("stripe_user_id").and_then(|v| v.as_str()).filter(|s| !s.trim().is_empty());
        let Some(account) = account else {
            return Err(Error::MissingField {
                provider,
                operation: Operation::UserInfo,
                field: "stripe_user_id",
            });
        };
        let mut url = accounts.clone();
        // Pushed as one path segment, so the id is percent-encoded and cannot reshape the URL.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push(account);
        }
        let value = self.standard.fetch_json(Operation::UserInfo, url, tokens, spec).await?;
        self.standard.map_profile(spec, value)
    }
}
