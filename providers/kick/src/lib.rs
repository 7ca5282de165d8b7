//! Kick provider for loginkit: the standard dialect with PKCE, plus Kick's revocation endpoint,
//! which takes the token in the query string.

mod generated;
mod provider;

pub use generated::KICK;

loginkit_core::register_provider!(KICK);
