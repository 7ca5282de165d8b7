//! Autodesk's quirk: token-endpoint errors come as `{developerMessage, errorCode}` instead of
//! RFC 6749 `error`, so code exchange and refresh read them before the shared token parser.

use loginkit_core::descriptor::{HttpMethod, ProviderDescriptor};
use loginkit_core::serde_json::{self, Value};
use loginkit_core::{
    Endpoint, Error, ExchangeRequest, HttpClient, HttpResponse, OAuthProvider, Operation, ProviderConfig,
    RefreshToken, StandardProvider, TokenSet, async_trait, parse_token_response,
};

/// Autodesk: standard requests, Autodesk's error shape understood.
#[derive(Debug)]
pub struct Autodesk {
    standard: StandardProvider,
}

/// The descriptor's constructor.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    Ok(Box::new(Autodesk { standard: StandardProvider::new(descriptor, config, http)? }))
}

impl Autodesk {
    async fn token_call(
        &self,
        operation: Operation,
        endpoint: Endpoint,
        params: &[(&str, &str)],
    ) -> Result<TokenSet, Error> {
        let Some(url) = self.standard.endpoint_url(endpoint) else {
            return Err(Error::Unsupported { provider: "autodesk", capability: "token endpoint" });
        };
        let response = self.standard.send_with_client_auth(operation, url, HttpMethod::Post, params).await?;
        if let Some(error) = autodesk_error(&response, operation) {
            return Err(error);
        }
        let content_type = response.content_type.as_deref();
        parse_token_response("autodesk", operation, response.status, content_type, &response.body, None)
    }
}

#[async_trait]
impl OAuthProvider for Autodesk {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn exchange_code(&self, request: &ExchangeRequest<'_>) -> Result<TokenSet, Error> {
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", request.code.secret().as_str()),
            ("redirect_uri", request.redirect_uri.as_str()),
        ];
        if let Some(verifier) = request.pkce_verifier {
            params.push(("code_verifier", verifier.secret().as_str()));
        }
        self.token_call(Operation::ExchangeCode, Endpoint::Token, &params).await
    }

    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenSet, Error> {
        let params = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.secret().as_str())];
        let mut tokens = self.token_call(Operation::Refresh, Endpoint::Refresh, &params).await?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.clone());
        }
        Ok(tokens)
    }
}

/// `{"developerMessage": "...", "errorCode": "AUTH-004", "more info": "..."}` on an error status.
fn autodesk_error(response: &HttpResponse, operation: Operation) -> Option<Error> {
    if response.is_success() {
        return None;
    }
    let body: Value = serde_json::from_slice(&response.body).ok()?;
    let code = body.get("errorCode").and_then(Value::as_str).filter(|c| !c.is_empty())?;
    let description = body.get("developerMessage").and_then(Value::as_str).filter(|d| !d.trim().is_empty());
    Some(Error::OAuth {
        provider: "autodesk",
        operation,
        status: response.status,
        code: code.to_owned(),
        description: description.map(str::to_owned),
    })
}
