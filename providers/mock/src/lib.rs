//! `mock` and `mock-unverified`: providers for loginkit-testkit's mock identity provider, used by
//! tests and by the reference server's offline demo.

mod generated;

pub use generated::{MOCK, MOCK_UNVERIFIED};

loginkit_core::register_provider!(MOCK);
loginkit_core::register_provider!(MOCK_UNVERIFIED);
