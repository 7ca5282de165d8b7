//! Bitbucket's quirk: `/2.0/user` has no email, so a second call to `/2.0/user/emails` picks the
//! primary confirmed address.

use loginkit_core::serde_json::Value;
use loginkit_core::{
    Endpoint, Error, OAuthProvider, Operation, StandardProvider, TokenSet, UserProfile, async_trait,
    choose_email,
};

loginkit_core::quirks_provider! {
    /// Bitbucket: standard token calls, profile from two calls.
    pub struct Bitbucket;
}

#[async_trait]
impl OAuthProvider for Bitbucket {
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
        // Derived from the user URL so one endpoint override moves both calls.
        let mut emails_url = user_url.clone();
        emails_url.set_query(None);
        if let Ok(mut path) = emails_url.path_segments_mut() {
            path.pop_if_empty().push("emails");
        }
        let emails = match self.standard.fetch_json(Operation::UserInfo, emails_url, tokens, spec).await {
            Ok(list) => list,
            // A consumer without the *Account: Email* permission is refused the list.
            Err(Error::HttpStatus { status: 403, .. } | Error::OAuth { status: 403, .. }) => {
                return Ok(profile);
            }
            Err(other) => return Err(other),
        };
        Ok(
            match choose_email(
                emails.get("values").unwrap_or(&Value::Null),
                "email",
                "is_confirmed",
                "is_primary",
            ) {
                (Some(address), trust) => profile.with_email(Some(address), trust),
                (None, _) => profile,
            },
        )
    }
}
