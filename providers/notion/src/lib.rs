//! Notion provider for loginkit: endpoints and profile mapping from `provider.toml`, with Notion's
//! JSON token, refresh and revocation requests.

mod generated;
mod provider;

pub use generated::NOTION;

loginkit_core::register_provider!(NOTION);
