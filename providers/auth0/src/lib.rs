//! Auth0 provider for loginkit: a standard OpenID Connect provider described by `provider.toml`,
//! pointed at a tenant by the `domain` key.

mod generated;

pub use generated::AUTH0;

loginkit_core::register_provider!(AUTH0);
