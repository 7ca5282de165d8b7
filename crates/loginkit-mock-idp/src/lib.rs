//! A strict mock OAuth 2.0 identity provider: mountable axum routes ([`router`]) or a server of
//! its own on loopback ([`MockIdp`]). The reference server mounts it for its zero-configuration
//! demo; tests use it (through `loginkit-testkit`) as a provider that refuses what a real one
//! would.
//!
//! The provider follows RFC 6749 (authorization code and refresh token grants),
//! RFC 7636 (PKCE) and RFC 7009 (token revocation) closely enough that client
//! code exercised against it meets the same rejections a real provider would
//! hand out. Tests can also inject failures per endpoint ([`Fault`]) and
//! inspect what a client sent ([`MockIdpHandle::last_token_request`]). Its memory is bounded
//! whatever clients send (every field and body capped, codes and tokens counted).
//!
//! Endpoints, relative to [`MockIdp::base_url`] (or to wherever [`router`] is
//! nested):
//!
//! | Method | Path              | Purpose                                            |
//! |--------|-------------------|----------------------------------------------------|
//! | GET    | `authorize`       | authorization endpoint (auto-approve or login form) |
//! | POST   | `authorize`       | submission of the login form                       |
//! | POST   | `token`           | token endpoint                                     |
//! | GET    | `user`            | user info, `Authorization: Bearer`                 |
//! | GET    | `user-unverified` | user info that always reports an unverified email  |
//! | POST   | `revoke`          | token revocation                                   |
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use loginkit_mock_idp::{Endpoint, Fault, MockIdp};
//!
//! let idp = MockIdp::start().await?;
//! let authorize = idp.url("authorize");
//! idp.handle().inject(Endpoint::Token, Fault::Garbage);
//! # let _ = authorize;
//! # Ok(())
//! # }
//! ```

mod authorize;
mod config;
mod faults;
mod idp;
mod params;
mod state;
mod token;
mod userinfo;

pub use config::{MockClient, MockIdpConfig, MockUser};
pub use faults::{Endpoint, Fault};
pub use idp::{MOUNT_PATH, MockIdp, router};
pub use state::{MockIdpHandle, Outstanding, RecordedRequest};

/// OAuth wire helpers this provider is built from (form decoding, PKCE challenges, client
/// credentials, redirect checks, error bodies), shared with `loginkit-testkit`'s provider
/// impersonation. Not a stable API.
#[doc(hidden)]
pub mod wire {
    pub use crate::authorize::allowed_redirect;
    pub use crate::faults::json_error;
    pub use crate::params::{
        Challenge, ChallengeMethod, Params, form_decode, is_form, is_pkce_string, random_token,
    };
    pub use crate::token::decode_basic;
}
