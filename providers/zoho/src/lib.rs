//! Zoho provider for loginkit: a standard provider described by `provider.toml`, with the data
//! center's accounts server as the `accounts_server` key.

mod generated;

pub use generated::ZOHO;

loginkit_core::register_provider!(ZOHO);
