//! Slack provider for loginkit: Sign in with Slack (OpenID Connect), plus Slack's quirks (errors
//! with HTTP 200 on user info, revocation through `auth.revoke`).

mod generated;
mod provider;

pub use generated::SLACK;

loginkit_core::register_provider!(SLACK);
