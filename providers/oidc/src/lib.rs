//! Generic OpenID Connect provider for loginkit: the standard dialect, with the authorization,
//! token and user-info endpoints taken from configuration.

mod generated;
mod provider;

pub use generated::OIDC;

loginkit_core::register_provider!(OIDC);
