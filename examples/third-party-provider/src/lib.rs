//! Sign in with Acme, a provider crate outside loginkit's repository.
//!
//! Acme is an OAuth 2.0 provider in the most common shape: PKCE, the client secret in HTTP Basic
//! at the token endpoint, rotating refresh tokens, RFC 7009 revocation, and a user-info endpoint
//! saying whether the email address was verified. The whole provider is this descriptor, data
//! read by loginkit's standard provider, and the one line that registers it: any program linking
//! this crate finds `acme` in its `Registry` (the reference server's configuration, the flow's
//! `Project::builder`, `loginkit_testkit::conformance`).

use loginkit_core::descriptor::{
    Capabilities, ClientAuth, EmailTrustRule, OAuth2Spec, ProviderDescriptor, UserInfoSpec,
};

/// Acme's accounts.
pub const ACME: ProviderDescriptor = ProviderDescriptor::new(
    "acme",
    "Acme",
    OAuth2Spec::new("https://id.acme.example/oauth2/authorize", "https://id.acme.example/oauth2/token")
        .client_auth(ClientAuth::Basic)
        .revoke_url("https://id.acme.example/oauth2/revoke")
        .userinfo(
            UserInfoSpec::get("https://api.acme.example/v1/me", "/id")
                .email(&["/email"])
                .email_trust(EmailTrustRule::Flag("/email_verified"))
                .name(&["/display_name"]),
        ),
)
.summary("Acme accounts (an example of a provider crate outside loginkit's repository).")
.docs_url("https://developers.acme.example/oauth")
.default_scopes(&["profile", "email"])
.capabilities(Capabilities::NONE.pkce(true).refresh(true).revoke(true));

loginkit_core::register_provider!(ACME);
