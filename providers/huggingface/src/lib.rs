//! Hugging Face provider for loginkit: a standard OpenID Connect provider described entirely by
//! `provider.toml`.

mod generated;

pub use generated::HUGGINGFACE;

loginkit_core::register_provider!(HUGGINGFACE);
