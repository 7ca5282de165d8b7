//! Podio's quirks: token calls take a JSON body, and the profile needs `GET /user` (id, email and
//! its verification) and `GET /user/profile` (name, avatar).

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::reqwest::{Method, header};
use loginkit_core::serde_json::{Map, Value};
use loginkit_core::url::Url;
use loginkit_core::{
    EmailTrust, Endpoint, Error, ExchangeRequest, HttpClient, OAuthProvider, Operation, ProviderConfig,
    RefreshToken, StandardProvider, TokenSet, UserProfile, async_trait, parse_token_response,
};

/// Podio: JSON token calls, a two-call profile.
#[derive(Debug)]
pub struct Podio {
    standard: StandardProvider,
}

/// The descriptor's constructor.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    Ok(Box::new(Podio { standard: StandardProvider::new(descriptor, config, http)? }))
}

impl Podio {
    /// Posts `params` plus the client credentials as the JSON object `/oauth/token/v2` expects.
    async fn json_token_call(
        &self,
        operation: Operation,
        endpoint: Endpoint,
        params: &[(&str, &str)],
    ) -> Result<TokenSet, Error> {
        let id = self.descriptor().id;
        let config = self.standard.config();
        let Some(url) = self.standard.endpoint_url(endpoint) else {
            return Err(Error::Unsupported { provider: id, capability: "token endpoint" });
        };
        let secret = config.client_secret.as_ref().map(|s| s.secret().as_str()).unwrap_or_default();
        let mut body: Map<String, Value> = params.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        body.insert("client_id".into(), config.client_id.as_str().into());
        body.insert("client_secret".into(), secret.into());
        let request = self
            .standard
            .http()
            .request(Method::POST, url.clone())
            .header(header::ACCEPT, "application/json")
            .json(&body);
        let response = self.standard.http().send(request, id, operation).await?;
        parse_token_response(
            id,
            operation,
            response.status,
            response.content_type.as_deref(),
            &response.body,
            None,
        )
    }
}

#[async_trait]
impl OAuthProvider for Podio {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn exchange_code(&self, request: &ExchangeRequest<'_>) -> Result<TokenSet, Error> {
        let params = [
            ("grant_type", "authorization_code"),
            ("code", request.code.secret().as_str()),
            ("redirect_uri", request.redirect_uri.as_str()),
        ];
        self.json_token_call(Operation::ExchangeCode, Endpoint::Token, &params).await
    }

    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenSet, Error> {
        let params = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.secret().as_str())];
        let mut tokens = self.json_token_call(Operation::Refresh, Endpoint::Refresh, &params).await?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.clone());
        }
        Ok(tokens)
    }

    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let (Some(spec), Some(user_url)) =
            (&self.descriptor().oauth2.userinfo, self.standard.endpoint_url(Endpoint::UserInfo))
        else {
            return self.standard.user_profile(tokens).await;
        };
        let user = self.standard.fetch_json(Operation::UserInfo, user_url.clone(), tokens, spec).await?;
        let trust = mail_trust(&user);
        let profile = self.standard.map_profile(spec, user)?;
        let details =
            self.standard.fetch_json(Operation::UserInfo, profile_url(user_url), tokens, spec).await?;
        let text = |pointer: &str| details.pointer(pointer).and_then(Value::as_str).map(str::trim);
        let name = text("/name").filter(|s| !s.is_empty()).map(str::to_owned);
        let avatar = text("/image/thumbnail_link").or(text("/image/link")).filter(|s| !s.is_empty());
        let email = profile.email.clone();
        Ok(profile.with_email(email, trust).with_name(name).with_avatar_url(avatar.map(str::to_owned)))
    }
}

/// `/user/profile`, next to the configured `/user` endpoint (so base-URL overrides apply).
fn profile_url(user_url: &Url) -> Url {
    let mut url = user_url.clone();
    url.set_query(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().push("profile");
    }
    url
}

/// The `verified` flag of the `mails` entry matching the primary `mail`; never guessed.
fn mail_trust(user: &Value) -> EmailTrust {
    let Some(primary) = user.get("mail").and_then(Value::as_str) else { return EmailTrust::Unknown };
    let entry = user
        .get("mails")
        .and_then(Value::as_array)
        .and_then(|mails| mails.iter().find(|m| m.get("mail").and_then(Value::as_str) == Some(primary)));
    match entry.and_then(|m| m.get("verified")) {
        Some(Value::Bool(true)) => EmailTrust::Verified,
        Some(Value::Bool(false)) => EmailTrust::Unverified,
        _ => EmailTrust::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loginkit_core::serde_json::json;

    #[test]
    fn trust_comes_from_the_matching_mail_entry_only() {
        let user = |verified: Value| {
            json!({"mail": "a@x.example", "mails": [
                {"mail": "b@x.example", "verified": true},
                {"mail": "a@x.example", "verified": verified},
            ]})
        };
        assert_eq!(mail_trust(&user(json!(true))), EmailTrust::Verified);
        assert_eq!(mail_trust(&user(json!(false))), EmailTrust::Unverified);
        assert_eq!(mail_trust(&user(json!("yes"))), EmailTrust::Unknown);
        assert_eq!(mail_trust(&json!({"mail": "a@x.example"})), EmailTrust::Unknown);
        assert_eq!(
            mail_trust(&json!({"mails": [{"mail": "a@x.example", "verified": true}]})),
            EmailTrust::Unknown
        );
    }

    #[test]
    fn profile_url_sits_under_the_user_endpoint() {
        let base: Url = "http://127.0.0.1:9/prefix/user".parse().unwrap();
        assert_eq!(profile_url(&base).as_str(), "http://127.0.0.1:9/prefix/user/profile");
    }
}
