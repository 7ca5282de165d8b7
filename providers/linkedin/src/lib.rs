//! LinkedIn provider for loginkit: a standard OpenID Connect provider described entirely by
//! `provider.toml`.

mod generated;

pub use generated::LINKEDIN;

loginkit_core::register_provider!(LINKEDIN);
