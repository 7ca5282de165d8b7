//! Sign in with Apple for loginkit: the standard token calls with `form_post` callbacks; the
//! profile waits for ID-token verification (see `provider.rs`).

mod generated;
mod provider;

pub use generated::APPLE;

loginkit_core::register_provider!(APPLE);
