//! Generic OpenID Connect provider for loginkit: discovery from the issuer (or endpoints from
//! configuration) and verified ID tokens.

mod generated;
mod provider;

pub use generated::OIDC;

loginkit_core::register_provider!(OIDC);
