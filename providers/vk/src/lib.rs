//! VK ID provider for loginkit: standard authorize and code exchange (public client with PKCE),
//! plus VK ID's user-info and revocation calls, which take the token in a form body.

mod generated;
mod provider;

pub use generated::VK;

loginkit_core::register_provider!(VK);
