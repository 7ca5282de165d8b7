//! Yammer's quirk: its token answer is `{"access_token": {"token": "..."}, "user": ..., ...}`,
//! which the shared parser cannot read, so the exchange flattens the token before parsing.

use loginkit_core::serde_json::{self, Value};
use loginkit_core::{
    Error, ExchangeRequest, OAuthProvider, Operation, StandardProvider, TokenSet, async_trait,
    parse_token_response,
};

loginkit_core::quirks_provider! {
    /// Yammer: the standard provider with its own code exchange.
    pub struct Yammer;
}

#[async_trait]
impl OAuthProvider for Yammer {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn exchange_code(&self, request: &ExchangeRequest<'_>) -> Result<TokenSet, Error> {
        let descriptor = self.standard.descriptor();
        let Some(url) = self.standard.endpoint_url(loginkit_core::Endpoint::Token) else {
            return Err(Error::Unsupported { provider: descriptor.id, capability: "token endpoint" });
        };
        let params = [
            ("grant_type", "authorization_code"),
            ("code", request.code.secret().as_str()),
            ("redirect_uri", request.redirect_uri.as_str()),
        ];
        let operation = Operation::ExchangeCode;
        let response = self
            .standard
            .send_with_client_auth(operation, url, descriptor.oauth2.token_method, &params)
            .await?;
        let flattened = flatten_token(&response.body);
        let body = flattened.as_deref().unwrap_or(&response.body);
        parse_token_response(
            descriptor.id,
            operation,
            response.status,
            response.content_type.as_deref(),
            body,
            None,
        )
    }
}

/// The answer with `access_token` replaced by the nested `access_token.token` string, so that the
/// shared parser (errors, raw fields) handles the rest; `None` when there is nothing to flatten.
fn flatten_token(body: &[u8]) -> Option<Vec<u8>> {
    let mut answer: Value = serde_json::from_slice(body).ok()?;
    let token = answer.pointer("/access_token/token")?.as_str()?.to_owned();
    let object = answer.as_object_mut()?;
    object.insert("access_token".to_owned(), Value::String(token));
    serde_json::to_vec(&answer).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_only_the_nested_token() {
        let nested = br#"{"access_token":{"token":"t-1","user_id":7},"user":{"id":7}}"#;
        let flat: Value = serde_json::from_slice(&flatten_token(nested).unwrap()).unwrap();
        assert_eq!(flat["access_token"], "t-1");
        assert_eq!(flat["user"]["id"], 7);
        assert_eq!(flatten_token(br#"{"access_token":"plain"}"#), None);
        assert_eq!(flatten_token(br#"{"error":"invalid_grant"}"#), None);
        assert_eq!(flatten_token(b"not json"), None);
    }
}
