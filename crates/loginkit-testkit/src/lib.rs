//! What loginkit's tests are made of: the strict mock identity provider of `loginkit-mock-idp`
//! (re-exported here: [`MockIdp`], [`Fault`], ...), served over loopback HTTP.
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

pub mod browser;
pub mod conformance;
pub mod contract;
pub mod id_token;
mod impersonate;
pub mod persona;
#[cfg(feature = "postgres")]
pub mod postgres;

pub use browser::{Browser, FormAnswer, PageHandler, Submission, Walk, parse_form};
pub use id_token::TestSigner;
pub use loginkit_mock_idp::{
    Endpoint, Fault, MOUNT_PATH, MockClient, MockIdp, MockIdpConfig, MockIdpHandle, MockUser, Outstanding,
    RecordedRequest, router,
};
pub use persona::{ImpersonatingIdp, Persona};

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
