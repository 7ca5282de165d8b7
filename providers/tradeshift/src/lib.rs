//! Tradeshift provider for loginkit: production (`tradeshift`) and sandbox (`tradeshiftBox`), the
//! standard dialect plus a display name joined from first and last name.

mod generated;
mod provider;

pub use generated::{TRADESHIFT, TRADESHIFT_BOX};

loginkit_core::register_provider!(TRADESHIFT);
loginkit_core::register_provider!(TRADESHIFT_BOX);
