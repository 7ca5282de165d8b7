//! GitLab provider for loginkit: GitLab's OAuth 2.0 / OpenID Connect dialect from `provider.toml`,
//! moved onto a self-managed instance by the `endpoint` configuration key.

mod generated;
mod provider;

pub use generated::GITLAB;

loginkit_core::register_provider!(GITLAB);
