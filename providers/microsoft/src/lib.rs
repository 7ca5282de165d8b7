//! Microsoft provider for loginkit: signs in through the Microsoft identity platform, verifies the
//! ID token against the token's own tenant (and an optional tenant allow-list), and reads the
//! profile from Microsoft Graph.

mod generated;
mod provider;

pub use generated::MICROSOFT;
pub use provider::CONSUMERS_TENANT_ID;

loginkit_core::register_provider!(MICROSOFT);
