//! Dropbox's one quirk: revocation authenticates with the access token itself, not with an
//! RFC 7009 form.

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::reqwest::Method;
use loginkit_core::{
    Endpoint, Error, HttpClient, OAuthProvider, Operation, ProviderConfig, StandardProvider, TokenRef,
    async_trait,
};

/// Dropbox: standard token and profile calls, custom revocation.
#[derive(Debug)]
pub struct Dropbox {
    standard: StandardProvider,
}

/// The descriptor's constructor.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    Ok(Box::new(Dropbox { standard: StandardProvider::new(descriptor, config, http)? }))
}

#[async_trait]
impl OAuthProvider for Dropbox {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn revoke(&self, token: TokenRef<'_>) -> Result<(), Error> {
        let provider = self.standard.descriptor().id;
        // Dropbox revokes the token that authenticates the call; revoking an access token also
        // disables the refresh token of its grant, but a refresh token cannot be presented here.
        let TokenRef::Access(token) = token else {
            return Err(Error::Unsupported { provider, capability: "refresh-token revocation" });
        };
        let Some(url) = self.standard.endpoint_url(Endpoint::Revoke) else {
            return Err(Error::Unsupported { provider, capability: "revoke" });
        };
        let http = self.standard.http();
        let request = http.request(Method::POST, url.clone()).bearer_auth(token.secret());
        let response = http.send(request, provider, Operation::Revoke).await?;
        if response.is_success() {
            return Ok(());
        }
        Err(self.standard.error_from(Operation::Revoke, &response))
    }
}
