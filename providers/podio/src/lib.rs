//! Podio provider for loginkit: Podio's server-side flow, with JSON token calls and a profile built
//! from two calls (`/user` and `/user/profile`).

mod generated;
mod provider;

pub use generated::PODIO;

loginkit_core::register_provider!(PODIO);
