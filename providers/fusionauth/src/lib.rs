//! FusionAuth provider for loginkit: a standard OpenID Connect provider described by
//! `provider.toml`, pointed at an instance by the `domain` key.

mod generated;

pub use generated::FUSIONAUTH;

loginkit_core::register_provider!(FUSIONAUTH);
