//! Tradeshift's quirk: the display name is split into `FirstName` and `LastName`.

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::serde_json::Value;
use loginkit_core::{
    Error, HttpClient, OAuthProvider, ProviderConfig, StandardProvider, TokenSet, UserProfile, async_trait,
};

/// Tradeshift: the standard dialect with a joined display name.
#[derive(Debug)]
pub struct Tradeshift {
    standard: StandardProvider,
}

/// The descriptor's constructor (both ids).
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    Ok(Box::new(Tradeshift { standard: StandardProvider::new(descriptor, config, http)? }))
}

#[async_trait]
impl OAuthProvider for Tradeshift {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let profile = self.standard.user_profile(tokens).await?;
        let name = full_name(&profile.raw).or_else(|| profile.name.clone());
        Ok(profile.with_name(name))
    }
}

/// `FirstName LastName`, skipping empty parts.
fn full_name(user: &Value) -> Option<String> {
    let parts: Vec<&str> = ["FirstName", "LastName"]
        .iter()
        .filter_map(|key| user.get(*key).and_then(Value::as_str).map(str::trim))
        .filter(|part| !part.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use loginkit_core::serde_json::json;

    #[test]
    fn joins_the_parts_that_exist() {
        assert_eq!(
            full_name(&json!({"FirstName": "Ada", "LastName": "Lovelace"})).as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            full_name(&json!({"FirstName": " ", "LastName": "Lovelace"})).as_deref(),
            Some("Lovelace")
        );
        assert_eq!(full_name(&json!({"FirstName": "Ada", "LastName": null})).as_deref(), Some("Ada"));
        assert_eq!(full_name(&json!({"Username": "ada@example.com"})), None);
    }
}
