//! Spotify provider for loginkit: a standard OAuth 2.0 provider described by `provider.toml`.

mod generated;

pub use generated::SPOTIFY;

loginkit_core::register_provider!(SPOTIFY);
