//! A strict mock OAuth 2.0 identity provider served over loopback HTTP, for tests and the offline demo.
//!
//! The provider follows RFC 6749 (authorization code and refresh token grants),
//! RFC 7636 (PKCE) and RFC 7009 (token revocation) closely enough that client
//! code exercised against it meets the same rejections a real provider would
//! hand out. Tests can also inject failures per endpoint ([`Fault`]) and
//! inspect what a client sent ([`MockIdpHandle::last_token_request`]).
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
//! [`Browser`] is a scripted, cookie-keeping browser that walks redirects and answers the login
//! form. Two more tools live here: [`contract`], a fixture-answering stand-in for contract tests of one
//! provider, and [`persona`], an [`ImpersonatingIdp`] that plays a real provider (its paths, client
//! authentication, parameter names and documented answers) from the provider crate's
//! `tests/persona.toml`, for end-to-end logins.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use loginkit_testkit::{Endpoint, Fault, MockIdp};
//!
//! let idp = MockIdp::start().await?;
//! let authorize = idp.url("authorize");
//! idp.handle().inject(Endpoint::Token, Fault::Garbage);
//! # let _ = authorize;
//! # Ok(())
//! # }
//! ```

mod authorize;
pub mod browser;
mod config;
pub mod contract;
mod faults;
pub mod id_token;
mod idp;
mod impersonate;
mod params;
pub mod persona;
#[cfg(feature = "postgres")]
pub mod postgres;
mod state;
mod token;
mod userinfo;

pub use browser::{Browser, FormAnswer, PageHandler, Submission, Walk, parse_form};
pub use config::{MockClient, MockIdpConfig, MockUser};
pub use faults::{Endpoint, Fault};
pub use id_token::TestSigner;
pub use idp::{MOUNT_PATH, MockIdp, router};
pub use persona::{ImpersonatingIdp, Persona};
pub use state::{MockIdpHandle, Outstanding, RecordedRequest};

/// A fresh, empty directory under the system's temporary directory, unique within this machine's
/// running processes: `loginkit-<tag>-<pid>-<n>`, with `n` counted per process (never a clock, so
/// two tests starting in the same instant cannot share one). A leftover of an earlier process with
/// the same id is removed first.
pub fn scratch_dir(tag: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("loginkit-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}
