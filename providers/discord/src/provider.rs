//! Discord's quirk: the user object carries an avatar hash, not a URL, so the URL is built on
//! Discord's CDN.

use loginkit_core::serde_json::Value;
use loginkit_core::{Error, OAuthProvider, StandardProvider, TokenSet, UserProfile, async_trait};

loginkit_core::quirks_provider! {
    /// Discord: standard calls, profile with a CDN avatar URL.
    pub struct Discord;
}

#[async_trait]
impl OAuthProvider for Discord {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let profile = self.standard.user_profile(tokens).await?;
        let avatar = avatar_url(&profile.raw);
        Ok(profile.with_avatar_url(avatar))
    }
}

/// `https://cdn.discordapp.com/avatars/{id}/{hash}.{png|gif}`; `a_` hashes are animated.
/// Values that are not a snowflake and a plain hash are ignored, so the answer cannot steer the URL.
fn avatar_url(user: &Value) -> Option<String> {
    let id =
        user.get("id")?.as_str().filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))?;
    let hash = user
        .get("avatar")?
        .as_str()
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))?;
    let extension = if hash.starts_with("a_") { "gif" } else { "png" };
    Some(format!("https://cdn.discordapp.com/avatars/{id}/{hash}.{extension}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use loginkit_core::serde_json::json;

    #[test]
    fn avatar_urls() {
        let still = json!({"id": "80351110224678912", "avatar": "8342729096ea3675442027381ff50dfe"});
        assert_eq!(
            avatar_url(&still).as_deref(),
            Some("https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png")
        );
        let animated = json!({"id": "1", "avatar": "a_1269e74af4df7417b13759eae50c83dc"});
        assert!(
            avatar_url(&animated).is_some_and(|u| u.ends_with("/a_1269e74af4df7417b13759eae50c83dc.gif"))
        );
    }

    #[test]
    fn no_avatar_or_odd_values_give_none() {
        assert_eq!(avatar_url(&json!({"id": "1", "avatar": null})), None);
        assert_eq!(avatar_url(&json!({"id": "1/../x", "avatar": "abc"})), None);
        assert_eq!(avatar_url(&json!({"id": "1", "avatar": "../../evil?x"})), None);
    }
}
