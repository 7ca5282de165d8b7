//! Microsoft's quirks: a per-tenant issuer with an optional tenant allow-list, and a profile from
//! Microsoft Graph whose `id` is the ID token's `oid`, not its `sub`.

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::{
    Error, HttpClient, IdTokenError, IssuerRule, OAuthProvider, ProviderConfig, StandardProvider, TokenSet,
    UserProfile, async_trait,
};

/// The tenant of every personal Microsoft account (`consumers`).
pub const CONSUMERS_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// The descriptor's constructor: the standard provider with the tenant rule of the configuration.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    let allowed = allowed_tenants(descriptor.id, &config)?;
    let standard = StandardProvider::new(descriptor, config, http)?;
    let check = standard.id_token_check().map(|check| check.with_issuer(IssuerRule::microsoft(allowed)));
    Ok(Box::new(Microsoft { standard: standard.with_id_token_check(check) }))
}

/// The tenants whose tokens are accepted: the configured tenant when it is one tenant's id,
/// personal accounts' tenant for `consumers`, else `allowed_tenants` (any tenant when empty).
fn allowed_tenants(provider: &'static str, config: &ProviderConfig) -> Result<Option<Vec<String>>, Error> {
    let listed: Vec<String> = config
        .get_param("allowed_tenants")
        .unwrap_or_default()
        .split([',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if let Some(bad) = listed.iter().find(|t| !is_tenant_id(t)) {
        return Err(Error::Config {
            provider,
            message: format!("`allowed_tenants` holds `{bad}`, which is not a tenant id (a GUID)"),
        });
    }
    let tenant = config.get_param("tenant").map(str::trim).unwrap_or_default().to_ascii_lowercase();
    let fixed = match tenant.as_str() {
        "consumers" => Some(CONSUMERS_TENANT_ID.to_owned()),
        t if is_tenant_id(t) => Some(t.to_owned()),
        _ => None,
    };
    match fixed {
        Some(fixed) if listed.is_empty() || listed.contains(&fixed) => Ok(Some(vec![fixed])),
        Some(fixed) => Err(Error::Config {
            provider,
            message: format!("`allowed_tenants` excludes `{fixed}`, the only tenant `tenant` lets sign in"),
        }),
        None if listed.is_empty() => Ok(None),
        None => Ok(Some(listed)),
    }
}

/// A tenant id: a GUID in its 8-4-4-4-12 hexadecimal form.
fn is_tenant_id(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The digits of an object id, for comparing the ID token's `oid` with Graph's `id`: a work
/// account has the same GUID in both; a personal account's `oid` is its Graph id padded with
/// zeros into GUID form (`00000000-0000-0000-xxxx-xxxxxxxxxxxx`).
fn object_id_digits(value: &str) -> String {
    let digits: String = value.chars().filter(|c| *c != '-').map(|c| c.to_ascii_lowercase()).collect();
    digits.trim_start_matches('0').to_owned()
}

#[derive(Debug)]
struct Microsoft {
    standard: StandardProvider,
}

#[async_trait]
impl OAuthProvider for Microsoft {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let profile = self.standard.user_profile(tokens).await?;
        if let Some(claims) = &tokens.id_token_claims {
            let provider = self.standard.descriptor().id;
            let oid = claims
                .get("oid")
                .and_then(|v| v.as_str())
                .ok_or(Error::IdToken { provider, reason: IdTokenError::MissingClaim { claim: "oid" } })?;
            let same = !profile.id.is_empty()
                && profile.id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
                && object_id_digits(oid) == object_id_digits(&profile.id);
            if !same {
                return Err(Error::IdToken { provider, reason: IdTokenError::SubjectMismatch });
            }
        }
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_compare_by_their_digits() {
        let work = "48d31887-5fad-4d73-a9f5-3c356e68a038";
        assert_eq!(object_id_digits(work), object_id_digits(&work.to_uppercase()));
        assert_eq!(
            object_id_digits("00000000-0000-0000-0001-a2b3c4d5e6f7"),
            object_id_digits("00000000000000000001a2b3c4d5e6f7")
        );
        assert_ne!(object_id_digits(work), object_id_digits("48d31887-5fad-4d73-a9f5-3c356e68a039"));
    }

    #[test]
    fn tenant_ids_are_guids() {
        assert!(is_tenant_id("9188040d-6c67-4c5b-b112-36a304b66dad"));
        for bad in [
            "common",
            "contoso.onmicrosoft.com",
            "9188040d6c674c5bb11236a304b66dad",
            "9188040d-6c67-4c5b-b112-36a304b66dax",
        ] {
            assert!(!is_tenant_id(bad), "{bad}");
        }
    }
}
