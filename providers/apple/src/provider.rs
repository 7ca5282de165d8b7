//! Apple's quirks: the profile lives only in the ID token, which loginkit does not read before it
//! can verify it, and the client secret is a JWT configured pre-generated for now.

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::{
    Error, HttpClient, OAuthProvider, ProviderConfig, StandardProvider, TokenSet, UserProfile, async_trait,
};

/// Sign in with Apple: standard token calls; no profile until ID tokens are verified.
#[derive(Debug)]
pub struct Apple {
    standard: StandardProvider,
}

/// The descriptor's constructor.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    let has_secret = config.client_secret.as_ref().is_some_and(|s| !s.secret().is_empty());
    if !has_secret && config.param_names().any(|k| ["team_id", "key_id", "private_key"].contains(&k)) {
        return Err(Error::Config {
            provider: descriptor.id,
            message: "the client secret must be a pre-generated ES256 JWT for now; signing it from \
                      `team_id`, `key_id` and `private_key` is not implemented yet"
                .to_owned(),
        });
    }
    Ok(Box::new(Apple { standard: StandardProvider::new(descriptor, config, http)? }))
}

#[async_trait]
impl OAuthProvider for Apple {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn user_profile(&self, _tokens: &TokenSet) -> Result<UserProfile, Error> {
        Err(Error::Unsupported { provider: "apple", capability: "profile from a verified ID token" })
    }
}
