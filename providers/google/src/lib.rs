//! Google provider for loginkit: a standard provider described entirely by `provider.toml`.

mod generated;

pub use generated::GOOGLE;

loginkit_core::register_provider!(GOOGLE);
