//! Dropbox provider for loginkit: the standard dialect with offline access, and Dropbox's own
//! token revocation (`POST /2/auth/token/revoke` with the access token as bearer).

mod generated;

pub use generated::DROPBOX;

loginkit_core::register_provider!(DROPBOX);
