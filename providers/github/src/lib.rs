//! GitHub provider for loginkit: the standard dialect plus GitHub's quirks (email from
//! `/user/emails`, token revocation through the REST API).

mod generated;
mod provider;

pub use generated::GITHUB;

loginkit_core::register_provider!(GITHUB);
