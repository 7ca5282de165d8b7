//! Bitly's quirk: the profile's email must be picked from `emails[]` (its `{status_code,
//! status_txt}` error envelope is read by core's shared error parser).

use loginkit_core::serde_json::Value;
use loginkit_core::{
    Error, OAuthProvider, StandardProvider, TokenSet, UserProfile, async_trait, choose_email,
};

loginkit_core::quirks_provider! {
    /// Bitly: standard calls; the email is chosen from the profile's `emails` list.
    pub struct Bitly;
}

#[async_trait]
impl OAuthProvider for Bitly {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let profile = self.standard.user_profile(tokens).await?;
        let emails = profile.raw.get("emails").unwrap_or(&Value::Null);
        Ok(match choose_email(emails, "email", "is_verified", "is_primary") {
            (Some(address), trust) => profile.with_email(Some(address), trust),
            (None, _) => profile,
        })
    }
}
