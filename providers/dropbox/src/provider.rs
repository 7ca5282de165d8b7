//! Dropbox's one quirk: revocation authenticates with the access token itself, not with an
//! RFC 7009 form.

use loginkit_core::reqwest::Method;
use loginkit_core::{Endpoint, Error, OAuthProvider, Operation, StandardProvider, TokenRef, async_trait};

loginkit_core::quirks_provider! {
    /// Dropbox: standard token and profile calls, custom revocation.
    pub struct Dropbox;
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
