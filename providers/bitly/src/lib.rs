//! Bitly provider for loginkit: the standard dialect plus Bitly's quirks (a token endpoint with its
//! own error envelope, the email chosen from `emails[]`).

mod generated;
mod provider;

pub use generated::BITLY;

loginkit_core::register_provider!(BITLY);
