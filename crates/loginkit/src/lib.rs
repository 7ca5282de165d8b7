//! OAuth 2.0 / OpenID Connect social login: the facade crate, with one Cargo feature per provider.
//!
//! Re-exports [`loginkit_core`] and links every provider crate whose feature is enabled, so that
//! its registration reaches [`Registry::linked`]. The README below is the user guide; its example
//! runs as a doc test whenever the `github` feature is on.
#![cfg_attr(feature = "github", doc = "")]
#![cfg_attr(feature = "github", doc = include_str!("../../../README.md"))]
#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod generated;

pub use generated::*;
pub use loginkit_core::*;
