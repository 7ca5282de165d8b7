//! Kakao provider for loginkit: Kakao Login's REST API, described by `provider.toml` (the client
//! secret in the body, comma-separated scopes, an email trusted only when verified and valid, and
//! logout as revocation).

mod generated;

pub use generated::KAKAO;

loginkit_core::register_provider!(KAKAO);
