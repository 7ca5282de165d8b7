//! Kick's one quirk: `POST /oauth/revoke` takes the token and its `token_hint_type` in the query
//! string, without client credentials.

use loginkit_core::reqwest::Method;
use loginkit_core::{Endpoint, Error, OAuthProvider, Operation, StandardProvider, TokenRef, async_trait};

loginkit_core::quirks_provider! {
    /// Kick: standard token and profile calls, custom revocation.
    pub struct Kick;
}

#[async_trait]
impl OAuthProvider for Kick {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn revoke(&self, token: TokenRef<'_>) -> Result<(), Error> {
        let provider = self.standard.descriptor().id;
        let Some(url) = self.standard.endpoint_url(Endpoint::Revoke) else {
            return Err(Error::Unsupported { provider, capability: "revoke" });
        };
        let (secret, hint) = token.secret_and_hint();
        let mut url = url.clone();
        // Kick documents the token in the query (the HTTP client never logs queries) and spells
        // the hint `token_hint_type`, not RFC 7009's `token_type_hint`.
        url.query_pairs_mut().append_pair("token", secret).append_pair("token_hint_type", hint);
        let http = self.standard.http();
        let response = http.send(http.request(Method::POST, url), provider, Operation::Revoke).await?;
        if response.is_success() {
            return Ok(());
        }
        Err(self.standard.error_from(Operation::Revoke, &response))
    }
}
