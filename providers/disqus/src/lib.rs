//! Disqus provider for loginkit: the standard dialect plus one quirk, a user-info call that also
//! needs the application's API key and secret.

mod generated;
mod provider;

pub use generated::DISQUS;

loginkit_core::register_provider!(DISQUS);
