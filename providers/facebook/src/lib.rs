//! Facebook provider for loginkit: a standard provider described entirely by `provider.toml`, with
//! the Graph API version as a configuration key.

mod generated;

pub use generated::FACEBOOK;

loginkit_core::register_provider!(FACEBOOK);
