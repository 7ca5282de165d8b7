//! Podio's quirk: the profile needs `GET /user` (id, email and its verification) and
//! `GET /user/profile` (name, avatar). Its JSON token calls are described by `provider.toml`.

use loginkit_core::serde_json::Value;
use loginkit_core::url::Url;
use loginkit_core::{
    EmailTrust, Endpoint, Error, OAuthProvider, Operation, StandardProvider, TokenSet, UserProfile,
    async_trait,
};

loginkit_core::quirks_provider! {
    /// Podio: standard calls, a two-call profile.
    pub struct Podio;
}

#[async_trait]
impl OAuthProvider for Podio {
    fn standard(&self) -> &StandardProvider {
        &self.standard
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
