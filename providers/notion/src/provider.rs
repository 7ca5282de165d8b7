//! Notion's one quirk: revocation takes only `{"token": ...}`, without RFC 7009's
//! `token_type_hint`. JSON token bodies, the `Notion-Version` header and Notion's
//! `{"object": "error", "code": ...}` errors are handled by core from `provider.toml`.

use loginkit_core::descriptor::HttpMethod;
use loginkit_core::{Endpoint, Error, OAuthProvider, Operation, StandardProvider, TokenRef, async_trait};

loginkit_core::quirks_provider! {
    /// Notion: standard calls, Notion's revocation body.
    pub struct Notion;
}

#[async_trait]
impl OAuthProvider for Notion {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn revoke(&self, token: TokenRef<'_>) -> Result<(), Error> {
        let Some(url) = self.standard.endpoint_url(Endpoint::Revoke) else {
            return self.standard.revoke(token).await;
        };
        let (secret, _hint) = token.secret_and_hint();
        let params = [("token", secret)];
        let response =
            self.standard.send_with_client_auth(Operation::Revoke, url, HttpMethod::Post, &params).await?;
        if response.is_success() {
            return Ok(());
        }
        Err(self.standard.error_from(Operation::Revoke, &response))
    }
}
