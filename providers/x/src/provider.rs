//! X's one quirk: its token endpoint examples send `client_id` in the body even when a
//! confidential client authenticates with HTTP Basic, so code exchanges and refreshes add it.

use loginkit_core::{
    Endpoint, Error, ExchangeRequest, OAuthProvider, Operation, RefreshToken, StandardProvider, TokenSet,
    async_trait,
};

loginkit_core::quirks_provider! {
    /// X: the standard provider with `client_id` added to token-call bodies.
    pub struct X;
}

impl X {
    async fn token_call<'a>(
        &'a self,
        operation: Operation,
        endpoint: Endpoint,
        mut params: Vec<(&'a str, &'a str)>,
    ) -> Result<TokenSet, Error> {
        let Some(url) = self.standard.endpoint_url(endpoint) else {
            return Err(Error::Unsupported {
                provider: self.standard.descriptor().id,
                capability: "token endpoint",
            });
        };
        params.push(("client_id", self.standard.config().client_id.as_str()));
        self.standard.token_call(operation, url, &params).await
    }
}

#[async_trait]
impl OAuthProvider for X {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn exchange_code(&self, request: &ExchangeRequest<'_>) -> Result<TokenSet, Error> {
        let Some(verifier) = request.pkce_verifier else {
            // X refuses every exchange without PKCE; failing here names the cause.
            return Err(Error::InvalidRequest {
                provider: self.standard.descriptor().id,
                message: "X requires PKCE: the exchange needs the code verifier".to_owned(),
            });
        };
        let params = vec![
            ("grant_type", "authorization_code"),
            ("code", request.code.secret().as_str()),
            ("redirect_uri", request.redirect_uri.as_str()),
            ("code_verifier", verifier.secret().as_str()),
        ];
        self.token_call(Operation::ExchangeCode, Endpoint::Token, params).await
    }

    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenSet, Error> {
        let params =
            vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token.secret().as_str())];
        let mut tokens = self.token_call(Operation::Refresh, Endpoint::Refresh, params).await?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.clone());
        }
        Ok(tokens)
    }
}
