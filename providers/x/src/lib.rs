//! X provider for loginkit: the standard dialect, plus `client_id` in the body of token calls.

mod generated;
mod provider;

pub use generated::X;

loginkit_core::register_provider!(X);
