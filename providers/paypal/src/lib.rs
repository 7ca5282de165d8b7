//! PayPal provider for loginkit: Log in with PayPal, live (`paypal`) and sandbox (`paypalSandbox`),
//! both standard providers described by `provider.toml`.

mod generated;

pub use generated::{PAYPAL, PAYPAL_SANDBOX};

loginkit_core::register_provider!(PAYPAL);
loginkit_core::register_provider!(PAYPAL_SANDBOX);
