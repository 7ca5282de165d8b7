//! Autodesk (APS) provider for loginkit: the standard dialect on Authentication v2 plus one quirk,
//! token errors in Autodesk's own `{developerMessage, errorCode}` shape.

mod generated;
mod provider;

pub use generated::AUTODESK;

loginkit_core::register_provider!(AUTODESK);
