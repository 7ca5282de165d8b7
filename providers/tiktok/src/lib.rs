//! TikTok provider for loginkit: Login Kit for Web on the v2 API, described by `provider.toml`
//! (the client id named `client_key`, comma-separated scopes, no email).

mod generated;

pub use generated::TIKTOK;

loginkit_core::register_provider!(TIKTOK);
