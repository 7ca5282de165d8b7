//! Amazon provider for loginkit: a standard OAuth 2.0 provider described by `provider.toml`.

mod generated;

pub use generated::AMAZON;

loginkit_core::register_provider!(AMAZON);
