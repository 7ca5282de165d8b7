//! Bitly's quirks: the token endpoint reports errors as `{status_code, status_txt}` rather than
//! RFC 6749 `error`, and the profile's email must be picked from `emails[]`.

use loginkit_core::descriptor::{HttpMethod, ProviderDescriptor};
use loginkit_core::serde_json::{self, Value};
use loginkit_core::{
    EmailTrust, Endpoint, Error, ExchangeRequest, HttpClient, HttpResponse, OAuthProvider, Operation,
    ProviderConfig, StandardProvider, TokenSet, UserProfile, async_trait, parse_token_response,
};

/// Bitly: its own token-error envelope and email choice.
#[derive(Debug)]
pub struct Bitly {
    standard: StandardProvider,
}

/// The descriptor's constructor.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    Ok(Box::new(Bitly { standard: StandardProvider::new(descriptor, config, http)? }))
}

#[async_trait]
impl OAuthProvider for Bitly {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn exchange_code(&self, request: &ExchangeRequest<'_>) -> Result<TokenSet, Error> {
        let Some(url) = self.standard.endpoint_url(Endpoint::Token) else {
            return self.standard.exchange_code(request).await;
        };
        let params = [
            ("grant_type", "authorization_code"),
            ("code", request.code.secret().as_str()),
            ("redirect_uri", request.redirect_uri.as_str()),
        ];
        let operation = Operation::ExchangeCode;
        let response = self.standard.send_with_client_auth(operation, url, HttpMethod::Post, &params).await?;
        if let Some(error) = envelope_error(&response, operation) {
            return Err(error);
        }
        let content_type = response.content_type.as_deref();
        parse_token_response("bitly", operation, response.status, content_type, &response.body, None)
    }

    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let profile = self.standard.user_profile(tokens).await?;
        Ok(match choose_email(&profile.raw) {
            (Some(address), trust) => profile.with_email(Some(address), trust),
            (None, _) => profile,
        })
    }
}

/// Bitly's `{"status_code": 400, "status_txt": "INVALID_CODE", "data": null}` (v4 APIs say
/// `message` instead), with an HTTP error status or with 200 and a failing `status_code`.
fn envelope_error(response: &HttpResponse, operation: Operation) -> Option<Error> {
    let body: Value = serde_json::from_slice(&response.body).ok()?;
    let status_code = body.get("status_code").and_then(Value::as_u64);
    if response.is_success() && status_code.is_none_or(|code| code == 200) {
        return None;
    }
    let code = body.get("status_txt").or_else(|| body.get("message")).and_then(Value::as_str)?;
    Some(Error::OAuth {
        provider: "bitly",
        operation,
        status: response.status,
        code: code.to_owned(),
        description: body.get("description").and_then(Value::as_str).map(str::to_owned),
    })
}

/// The primary address when verified, else the first verified one, else the primary one marked
/// unverified. Never an unverified address marked verified.
fn choose_email(user: &Value) -> (Option<String>, EmailTrust) {
    let Some(list) = user.get("emails").and_then(Value::as_array) else { return (None, EmailTrust::Unknown) };
    let entries: Vec<(&str, bool, bool)> = list
        .iter()
        .filter_map(|e| {
            let address = e.get("email")?.as_str().filter(|a| !a.trim().is_empty())?;
            let verified = e.get("is_verified").and_then(Value::as_bool).unwrap_or(false);
            let primary = e.get("is_primary").and_then(Value::as_bool).unwrap_or(false);
            Some((address, verified, primary))
        })
        .collect();
    let pick = entries
        .iter()
        .find(|(_, verified, primary)| *verified && *primary)
        .or_else(|| entries.iter().find(|(_, verified, _)| *verified))
        .or_else(|| entries.iter().find(|(_, _, primary)| *primary));
    match pick {
        Some((address, true, _)) => (Some((*address).to_owned()), EmailTrust::Verified),
        Some((address, false, _)) => (Some((*address).to_owned()), EmailTrust::Unverified),
        None => (None, EmailTrust::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loginkit_core::serde_json::json;

    #[test]
    fn prefers_the_verified_primary_then_any_verified() {
        let user = json!({"emails": [
            {"email": "old@example.com", "is_primary": false, "is_verified": true},
            {"email": "main@example.com", "is_primary": true, "is_verified": true},
        ]});
        assert_eq!(choose_email(&user), (Some("main@example.com".into()), EmailTrust::Verified));
        let user = json!({"emails": [
            {"email": "main@example.com", "is_primary": true, "is_verified": false},
            {"email": "work@example.com", "is_primary": false, "is_verified": true},
        ]});
        assert_eq!(choose_email(&user), (Some("work@example.com".into()), EmailTrust::Verified));
    }

    #[test]
    fn unverified_is_never_verified() {
        let user =
            json!({"emails": [{"email": "main@example.com", "is_primary": true, "is_verified": false}]});
        assert_eq!(choose_email(&user), (Some("main@example.com".into()), EmailTrust::Unverified));
        assert_eq!(choose_email(&json!({"emails": []})), (None, EmailTrust::Unknown));
        assert_eq!(choose_email(&json!({"login": "x"})), (None, EmailTrust::Unknown));
    }
}
