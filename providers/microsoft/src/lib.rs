//! Microsoft provider for loginkit: a standard provider described by `provider.toml`, signing in
//! through the Microsoft identity platform and reading the profile from Microsoft Graph.

mod generated;

pub use generated::MICROSOFT;

loginkit_core::register_provider!(MICROSOFT);
