//! Bitbucket's quirk: `/2.0/user` has no email, so a second call to `/2.0/user/emails` picks the
//! primary confirmed address.

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::serde_json::Value;
use loginkit_core::{
    EmailTrust, Endpoint, Error, HttpClient, OAuthProvider, Operation, ProviderConfig, StandardProvider,
    TokenSet, UserProfile, async_trait,
};

/// Bitbucket: standard token calls, profile from two calls.
#[derive(Debug)]
pub struct Bitbucket {
    standard: StandardProvider,
}

/// The descriptor's constructor.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    Ok(Box::new(Bitbucket { standard: StandardProvider::new(descriptor, config, http)? }))
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
        Ok(match choose_email(&emails) {
            (Some(address), trust) => profile.with_email(Some(address), trust),
            (None, _) => profile,
        })
    }
}

/// The primary address when confirmed, else the first confirmed one, else the primary one marked
/// unverified. Never an unconfirmed address marked verified.
fn choose_email(page: &Value) -> (Option<String>, EmailTrust) {
    let Some(list) = page.get("values").and_then(Value::as_array) else { return (None, EmailTrust::Unknown) };
    let entries: Vec<(&str, bool, bool)> = list
        .iter()
        .filter_map(|e| {
            let address = e.get("email")?.as_str().filter(|a| !a.trim().is_empty())?;
            let confirmed = e.get("is_confirmed").and_then(Value::as_bool).unwrap_or(false);
            let primary = e.get("is_primary").and_then(Value::as_bool).unwrap_or(false);
            Some((address, confirmed, primary))
        })
        .collect();
    let pick = entries
        .iter()
        .find(|(_, confirmed, primary)| *confirmed && *primary)
        .or_else(|| entries.iter().find(|(_, confirmed, _)| *confirmed))
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

    fn page(values: Value) -> Value {
        json!({"pagelen": 10, "values": values, "page": 1, "size": 2})
    }

    #[test]
    fn prefers_the_confirmed_primary_then_any_confirmed() {
        let emails = page(json!([
            {"is_primary": false, "is_confirmed": true, "type": "email", "email": "old@example.com"},
            {"is_primary": true, "is_confirmed": true, "type": "email", "email": "main@example.com"},
        ]));
        assert_eq!(choose_email(&emails), (Some("main@example.com".into()), EmailTrust::Verified));
        let emails = page(json!([
            {"is_primary": true, "is_confirmed": false, "type": "email", "email": "main@example.com"},
            {"is_primary": false, "is_confirmed": true, "type": "email", "email": "work@example.com"},
        ]));
        assert_eq!(choose_email(&emails), (Some("work@example.com".into()), EmailTrust::Verified));
    }

    #[test]
    fn unconfirmed_is_never_verified() {
        let emails = page(json!([{"is_primary": true, "is_confirmed": false, "email": "main@example.com"}]));
        assert_eq!(choose_email(&emails), (Some("main@example.com".into()), EmailTrust::Unverified));
        assert_eq!(choose_email(&page(json!([]))), (None, EmailTrust::Unknown));
        assert_eq!(choose_email(&json!({"type": "error"})), (None, EmailTrust::Unknown));
    }
}
