//! The registry built from linked crates equals the providers enabled by Cargo features, and the
//! generated `Provider` enum agrees with both. Run with different feature sets by CI.

use std::str::FromStr;

use loginkit::{Error, Provider, Registry, builtin};

fn linked_ids() -> Vec<&'static str> {
    Provider::ALL.iter().filter(|p| p.is_linked()).map(|p| p.as_str()).collect()
}

#[test]
fn linked_registry_equals_enabled_features() {
    assert_eq!(Registry::linked().unwrap().ids(), linked_ids());
}

#[test]
fn builtin_list_equals_linked_registry() {
    let explicit = Registry::from_descriptors(builtin()).unwrap();
    assert_eq!(explicit.ids(), Registry::global().unwrap().ids());
}

#[test]
fn enum_and_descriptors_agree() {
    let mut previous = "";
    for provider in Provider::ALL {
        assert!(previous < provider.as_str(), "ALL is sorted by id");
        previous = provider.as_str();
        assert_eq!(Provider::from_str(provider.as_str()).unwrap(), *provider);
        assert_eq!(provider.to_string(), provider.as_str());
        match provider.descriptor() {
            Some(descriptor) => {
                assert!(provider.is_linked());
                assert_eq!(descriptor.id, provider.as_str());
                assert_eq!(descriptor.display_name, provider.display_name());
            }
            None => assert!(!provider.is_linked()),
        }
    }
}

#[test]
fn unknown_ids_are_errors_listing_every_known_id() {
    let err = Provider::from_str("gihtub").unwrap_err();
    match &err {
        Error::UnknownProvider { id, available } => {
            assert_eq!(id, "gihtub");
            assert_eq!(available.len(), Provider::ALL.len());
        }
        other => panic!("unexpected {other:?}"),
    }
    let registry_err = Registry::linked().unwrap().get("gihtub").unwrap_err();
    assert!(registry_err.to_string().starts_with("unknown provider `gihtub`; available:"));
}

#[cfg(feature = "all-providers")]
#[test]
fn all_providers_registers_every_variant() {
    assert_eq!(Registry::linked().unwrap().len(), Provider::ALL.len());
}

#[cfg(all(feature = "github", not(feature = "google"), not(feature = "mock")))]
#[test]
fn github_alone_registers_only_github() {
    assert_eq!(Registry::linked().unwrap().ids(), ["github"]);
    assert!(Provider::Github.is_linked() && !Provider::Google.is_linked());
}
