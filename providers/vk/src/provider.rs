//! VK ID's quirks: `POST /oauth2/user_info` and `POST /oauth2/revoke` take `client_id` and
//! `access_token` as form fields instead of an `Authorization` header, and user-info answers
//! errors with HTTP 200.

use loginkit_core::reqwest::Method;
use loginkit_core::serde_json::{self, Value};
use loginkit_core::url::Url;
use loginkit_core::{
    Endpoint, Error, ExchangeRequest, HttpResponse, OAuthProvider, Operation, StandardProvider, TokenRef,
    TokenSet, UserProfile, async_trait,
};

loginkit_core::quirks_provider! {
    /// VK ID: standard token calls, form-bodied user-info and revocation.
    pub struct VkId;
}

impl VkId {
    /// Posts `client_id` and the access token as a form to `endpoint`.
    async fn post_token(
        &self,
        operation: Operation,
        endpoint: Endpoint,
        token: &str,
    ) -> Result<HttpResponse, Error> {
        let provider = self.standard.descriptor().id;
        let url: Url = match self.standard.endpoint_url(endpoint) {
            Some(url) => url.clone(),
            None => return Err(Error::Unsupported { provider, capability: operation.as_str() }),
        };
        let form = [("client_id", self.standard.config().client_id.as_str()), ("access_token", token)];
        let request =
            self.standard.http().request(Method::POST, url).header("Accept", "application/json").form(&form);
        self.standard.http().send(request, provider, operation).await
    }
}

#[async_trait]
impl OAuthProvider for VkId {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    /// VK ID's callback carries a `device_id` that the code exchange must send back.
    async fn exchange_code(&self, request: &ExchangeRequest<'_>) -> Result<TokenSet, Error> {
        let Some(url) = self.standard.endpoint_url(Endpoint::Token) else {
            return self.standard.exchange_code(request).await;
        };
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", request.code.secret().as_str()),
            ("redirect_uri", request.redirect_uri.as_str()),
        ];
        if let Some(verifier) = request.pkce_verifier {
            params.push(("code_verifier", verifier.secret().as_str()));
        }
        if let Some(device_id) = request.callback_param("device_id") {
            params.push(("device_id", device_id));
        }
        self.standard.token_call(Operation::ExchangeCode, url, &params).await
    }

    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let operation = Operation::UserInfo;
        let provider = self.standard.descriptor().id;
        let Some(spec) = &self.standard.descriptor().oauth2.userinfo else {
            return Err(Error::Unsupported { provider, capability: "user info" });
        };
        let response = self.post_token(operation, Endpoint::UserInfo, tokens.access_token.secret()).await?;
        if !response.is_success() {
            return Err(self.standard.error_from(operation, &response));
        }
        let value: Value = serde_json::from_slice(&response.body).map_err(|_| Error::Malformed {
            provider,
            operation,
            detail: "user info is not valid JSON".to_owned(),
        })?;
        if value.get("error").is_some() {
            return Err(self.standard.error_from(operation, &response));
        }
        let name = full_name(&value);
        let profile = self.standard.map_profile(spec, value)?;
        Ok(match name {
            Some(name) => profile.with_name(Some(name)),
            None => profile,
        })
    }

    async fn revoke(&self, token: TokenRef<'_>) -> Result<(), Error> {
        let TokenRef::Access(token) = token else {
            return Err(Error::Unsupported {
                provider: self.standard.descriptor().id,
                capability: "refresh-token revocation",
            });
        };
        let response = self.post_token(Operation::Revoke, Endpoint::Revoke, token.secret()).await?;
        let refused = serde_json::from_slice::<Value>(&response.body).is_ok_and(|v| v.get("error").is_some());
        if response.is_success() && !refused {
            return Ok(());
        }
        Err(self.standard.error_from(Operation::Revoke, &response))
    }
}

/// `first_name last_name`, either part optional; VK ID has no single display-name field.
fn full_name(value: &Value) -> Option<String> {
    let part = |pointer: &str| {
        value.pointer(pointer).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
    };
    match (part("/user/first_name"), part("/user/last_name")) {
        (Some(first), Some(last)) => Some(format!("{first} {last}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loginkit_core::serde_json::json;

    #[test]
    fn joins_the_name_parts_that_exist() {
        let both = json!({"user": {"first_name": "Ivan", "last_name": "I."}});
        assert_eq!(full_name(&both).as_deref(), Some("Ivan I."));
        assert_eq!(
            full_name(&json!({"user": {"first_name": "Ivan", "last_name": ""}})).as_deref(),
            Some("Ivan")
        );
        assert_eq!(full_name(&json!({"user": {"last_name": "I."}})).as_deref(), Some("I."));
        assert_eq!(full_name(&json!({"user": {}})), None);
    }
}
