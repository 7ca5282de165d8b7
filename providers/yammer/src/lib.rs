//! Yammer provider for loginkit: the standard dialect, except that the token answer nests the
//! bearer token at `/access_token/token`.

mod generated;
mod provider;

pub use generated::YAMMER;

loginkit_core::register_provider!(YAMMER);
