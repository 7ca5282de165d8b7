//! Okta provider for loginkit: a standard OpenID Connect provider described by `provider.toml`,
//! pointed at an authorization server by the `domain` and `authorization_server_id` keys.

mod generated;

pub use generated::OKTA;

loginkit_core::register_provider!(OKTA);
