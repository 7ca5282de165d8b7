//! Discord provider for loginkit: the standard dialect plus one quirk, the avatar URL built from
//! Discord's avatar hash.

mod generated;
mod provider;

pub use generated::DISCORD;

loginkit_core::register_provider!(DISCORD);
