//! Etsy provider for loginkit: a public-client token dialect with PKCE from `provider.toml`, and a
//! profile read with Etsy's `x-api-key` header for the user the access token belongs to.

mod generated;
mod provider;

pub use generated::ETSY;

loginkit_core::register_provider!(ETSY);
