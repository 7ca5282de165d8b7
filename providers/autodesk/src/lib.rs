//! Autodesk (APS) provider for loginkit: the standard dialect on Authentication v2, described
//! entirely by `provider.toml` (core's error parser reads Autodesk's `{developerMessage,
//! errorCode}` errors).

mod generated;

pub use generated::AUTODESK;

loginkit_core::register_provider!(AUTODESK);
