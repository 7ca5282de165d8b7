//! Figma provider for loginkit: a standard provider described entirely by `provider.toml` (its
//! refresh grant has an endpoint of its own).

mod generated;

pub use generated::FIGMA;

loginkit_core::register_provider!(FIGMA);
