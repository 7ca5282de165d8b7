//! Disqus's quirk: `users/details.json` wants the application's `api_key` and `api_secret` in the
//! query beside the user's `access_token`, values the static descriptor cannot hold.

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::{
    Endpoint, Error, HttpClient, OAuthProvider, Operation, ProviderConfig, StandardProvider, TokenSet,
    UserProfile, async_trait,
};

/// Disqus: standard token calls, profile call with the application's API credentials.
#[derive(Debug)]
pub struct Disqus {
    standard: StandardProvider,
}

/// The descriptor's constructor.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    Ok(Box::new(Disqus { standard: StandardProvider::new(descriptor, config, http)? }))
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
