//! Notion's quirks: token, refresh and revocation calls are JSON bodies with HTTP Basic client
//! credentials and a `Notion-Version` header, and errors use Notion's own `code` field.

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::reqwest::Method;
use loginkit_core::reqwest::header::ACCEPT;
use loginkit_core::serde_json::{Value, json};
use loginkit_core::{
    Endpoint, Error, ExchangeRequest, HttpClient, HttpResponse, OAuthProvider, Operation, ProviderConfig,
    RefreshToken, StandardProvider, TokenRef, TokenSet, async_trait, parse_token_response,
};

/// Notion: custom token calls and revocation, standard profile.
#[derive(Debug)]
pub struct Notion {
    standard: StandardProvider,
}

/// The descriptor's constructor.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    Ok(Box::new(Notion { standard: StandardProvider::new(descriptor, config, http)? }))
}

#[async_trait]
impl OAuthProvider for Notion {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn exchange_code(&self, request: &ExchangeRequest<'_>) -> Result<TokenSet, Error> {
        let body = json!({
            "grant_type": "authorization_code",
            "code": request.code.secret(),
            "redirect_uri": request.redirect_uri.as_str(),
        });
        self.token_call(Operation::ExchangeCode, Endpoint::Token, body).await
    }

    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenSet, Error> {
        let body = json!({ "grant_type": "refresh_token", "refresh_token": refresh_token.secret() });
        let mut tokens = self.token_call(Operation::Refresh, Endpoint::Refresh, body).await?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.clone());
        }
        Ok(tokens)
    }

    async fn revoke(&self, token: TokenRef<'_>) -> Result<(), Error> {
        let (secret, _) = token.secret_and_hint();
        let response =
            self.post_json(Operation::Revoke, Endpoint::Revoke, json!({ "token": secret })).await?;
        if response.is_success() {
            return Ok(());
        }
        Err(self.error(Operation::Revoke, &response))
    }
}

impl Notion {
    async fn token_call(
        &self,
        operation: Operation,
        endpoint: Endpoint,
        body: Value,
    ) -> Result<TokenSet, Error> {
        let response = self.post_json(operation, endpoint, body).await?;
        if !response.is_success() {
            return Err(self.error(operation, &response));
        }
        let provider = self.standard.descriptor().id;
        parse_token_response(
            provider,
            operation,
            response.status,
            response.content_type.as_deref(),
            &response.body,
            None,
        )
    }

    /// `POST` of a JSON body with Basic client credentials and the descriptor's `Notion-Version`.
    async fn post_json(
        &self,
        operation: Operation,
        endpoint: Endpoint,
        body: Value,
    ) -> Result<HttpResponse, Error> {
        let provider = self.standard.descriptor().id;
        let Some(url) = self.standard.endpoint_url(endpoint).cloned() else {
            return Err(Error::Unsupported { provider, capability: operation.as_str() });
        };
        let config = self.standard.config();
        let secret = config.client_secret.as_ref().map(|s| s.secret().as_str());
        let http = self.standard.http();
        let mut request = http
            .request(Method::POST, url)
            .basic_auth(config.client_id.as_str(), secret)
            .header(ACCEPT, "application/json")
            .json(&body);
        let headers = self.standard.descriptor().oauth2.userinfo.map(|u| u.headers).unwrap_or_default();
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        http.send(request, provider, operation).await
    }

    /// Notion's `{"object": "error", "code": ..., "message": ...}`, else the standard reading.
    fn error(&self, operation: Operation, response: &HttpResponse) -> Error {
        let body: Value = loginkit_core::serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        match (body.get("object").and_then(Value::as_str), body.get("code").and_then(Value::as_str)) {
            (Some("error"), Some(code)) if !code.is_empty() => Error::OAuth {
                provider: self.standard.descriptor().id,
                operation,
                status: response.status,
                code: code.to_owned(),
                description: body.get("message").and_then(Value::as_str).map(str::to_owned),
            },
            _ => self.standard.error_from(operation, response),
        }
    }
}
