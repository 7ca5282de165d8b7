//! GitHub's quirks: the email comes from `GET /user/emails`, and revocation is
//! `DELETE /applications/{client_id}/token` authenticated with the client credentials.

use loginkit_core::reqwest::Method;
use loginkit_core::serde_json::json;
use loginkit_core::url::Url;
use loginkit_core::{
    Endpoint, Error, OAuthProvider, Operation, StandardProvider, TokenRef, TokenSet, UserProfile,
    async_trait, choose_email,
};

loginkit_core::quirks_provider! {
    /// GitHub: standard token calls, custom profile and revocation.
    pub struct GitHub;
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
        Ok(match choose_email(&emails, "email", "verified", "primary") {
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
