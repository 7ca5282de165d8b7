//! Appwrite provider for loginkit: a standard OpenID Connect provider described by
//! `provider.toml`, signing in with Appwrite Cloud's console accounts.

mod generated;

pub use generated::APPWRITE;

loginkit_core::register_provider!(APPWRITE);
