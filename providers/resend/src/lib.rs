//! Resend provider for loginkit: the standard dialect, with the user id read from the access
//! token's claims because Resend has no user-info endpoint.

mod generated;
mod provider;

pub use generated::RESEND;

loginkit_core::register_provider!(RESEND);
