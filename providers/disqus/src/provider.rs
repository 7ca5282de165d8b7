//! Disqus's quirk: `users/details.json` wants the application's `api_key` and `api_secret` in the
//! query beside the user's `access_token`, values the static descriptor cannot hold.

use loginkit_core::{
    Endpoint, Error, OAuthProvider, Operation, StandardProvider, TokenSet, UserProfile, async_trait,
};

loginkit_core::quirks_provider! {
    /// Disqus: standard token calls, profile call with the application's API credentials.
    pub struct Disqus;
}

#[async_trait]
impl OAuthProvider for Disqus {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let (Some(spec), Some(url)) =
            (&self.standard.descriptor().oauth2.userinfo, self.standard.endpoint_url(Endpoint::UserInfo))
        else {
            return self.standard.user_profile(tokens).await;
        };
        let config = self.standard.config();
        let secret = config.client_secret.as_ref().map(|s| s.secret().as_str()).unwrap_or_default();
        // The HTTP client never records query strings, so the secret stays out of logs.
        let mut url = url.clone();
        url.query_pairs_mut()
            .append_pair("api_key", config.client_id.as_str())
            .append_pair("api_secret", secret);
        let answer = self.standard.fetch_json(Operation::UserInfo, url, tokens, spec).await?;
        self.standard.map_profile(spec, answer)
    }
}
