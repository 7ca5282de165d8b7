//! GitHub's quirks: the email comes from `GET /user/emails`, and revocation is
//! `DELETE /applications/{client_id}/token` authenticated with the client credentials.

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::reqwest::Method;
use loginkit_core::serde_json::{Value, json};
use loginkit_core::url::Url;
use loginkit_core::{
    EmailTrust, Endpoint, Error, HttpClient, OAuthProvider, Operation, ProviderConfig, StandardProvider,
    TokenRef, TokenSet, UserProfile, async_trait,
};

/// GitHub: standard token calls, custom profile and revocation.
#[derive(Debug)]
pub struct GitHub {
    standard: StandardProvider,
}

/// The descriptor's constructor.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    Ok(Box::new(GitHub { standard: StandardProvider::new(descriptor, config, http)? }))
}

#[async_trait]
impl OAuthProvider for GitHub {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let profile = self.standard.user_profile(tokens).await?;
        let (Some(spec), Some(user_url)) =
            (&self.standard.descriptor().oauth2.userinfo, self.standard.endpoint_url(Endpoint::UserInfo))
        else {
            return Ok(profile);
        };
        let emails_url = api_url(user_url, &["user", "emails"]);
        // Without the `user:email` scope (or a GitHub App's email permission) the list is refused;
        // the profile's public email is then kept, with a trust level GitHub never states.
        let emails = match self.standard.fetch_json(Operation::UserInfo, emails_url, tokens, spec).await {
            Ok(list) => list,
            Err(Error::HttpStatus { status: 403 | 404, .. })
            | Err(Error::OAuth { status: 403 | 404, .. }) => {
                return Ok(profile);
            }
            Err(other) => return Err(other),
        };
        Ok(match choose_email(&emails) {
            (Some(address), trust) => profile.with_email(Some(address), trust),
            (None, _) => profile,
        })
    }

    async fn revoke(&self, token: TokenRef<'_>) -> Result<(), Error> {
        let TokenRef::Access(token) = token else {
            return Err(Error::Unsupported { provider: "github", capability: "refresh-token revocation" });
        };
        let config = self.standard.config();
        let Some(user_url) = self.standard.endpoint_url(Endpoint::UserInfo) else {
            return Err(Error::Unsupported { provider: "github", capability: "revoke" });
        };
        let url = api_url(user_url, &["applications", config.client_id.as_str(), "token"]);
        let secret = config.client_secret.as_ref().map(|s| s.secret().as_str());
        let request = self
            .standard
            .http()
            .request(Method::DELETE, url)
            .basic_auth(config.client_id.as_str(), secret)
            .header("Accept", "application/vnd.github+json")
            .json(&json!({ "access_token": token.secret() }));
        let response = self.standard.http().send(request, "github", Operation::Revoke).await?;
        match response.status {
            204 | 200 => Ok(()),
            _ => Err(self.standard.error_from(Operation::Revoke, &response)),
        }
    }
}

/// A REST API URL beside the configured `/user` endpoint, so GitHub Enterprise
/// (`https://HOST/api/v3/user`) and test servers work through the one override.
fn api_url(user_url: &Url, segments: &[&str]) -> Url {
    let mut url = user_url.clone();
    url.set_query(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().pop().extend(segments);
    }
    url
}

/// The primary address when verified, else the first verified one, else the primary one marked
/// unverified. Never an address GitHub has not verified marked as verified.
fn choose_email(emails: &Value) -> (Option<String>, EmailTrust) {
    let Some(list) = emails.as_array() else { return (None, EmailTrust::Unknown) };
    let entries: Vec<(&str, bool, bool)> = list
        .iter()
        .filter_map(|e| {
            let address = e.get("email")?.as_str().filter(|a| !a.is_empty())?;
            let verified = e.get("verified").and_then(Value::as_bool).unwrap_or(false);
            let primary = e.get("primary").and_then(Value::as_bool).unwrap_or(false);
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

    #[test]
    fn prefers_verified_primary_then_any_verified() {
        let list = json!([
            {"email": "old@example.com", "verified": true, "primary": false},
            {"email": "main@example.com", "verified": true, "primary": true},
        ]);
        assert_eq!(choose_email(&list), (Some("main@example.com".into()), EmailTrust::Verified));
        let list = json!([
            {"email": "main@example.com", "verified": false, "primary": true},
            {"email": "work@example.com", "verified": true, "primary": false},
        ]);
        assert_eq!(choose_email(&list), (Some("work@example.com".into()), EmailTrust::Verified));
    }

    #[test]
    fn unverified_only_is_never_verified() {
        let list = json!([{"email": "main@example.com", "verified": false, "primary": true}]);
        assert_eq!(choose_email(&list), (Some("main@example.com".into()), EmailTrust::Unverified));
        assert_eq!(choose_email(&json!([])), (None, EmailTrust::Unknown));
        assert_eq!(choose_email(&json!({"message": "Bad credentials"})), (None, EmailTrust::Unknown));
    }
}
