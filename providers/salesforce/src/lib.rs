//! Salesforce provider for loginkit: a standard OpenID Connect provider described by `provider.toml`.

mod generated;

pub use generated::SALESFORCE;

loginkit_core::register_provider!(SALESFORCE);
