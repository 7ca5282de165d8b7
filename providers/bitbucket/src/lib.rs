//! Bitbucket provider for loginkit: the standard dialect plus one quirk, the email read from
//! `/2.0/user/emails`.

mod generated;
mod provider;

pub use generated::BITBUCKET;

loginkit_core::register_provider!(BITBUCKET);
