//! Keycloak provider for loginkit: a standard OpenID Connect provider described by
//! `provider.toml`, pointed at a realm by the `domain` and `realm` keys.

mod generated;

pub use generated::KEYCLOAK;

loginkit_core::register_provider!(KEYCLOAK);
