//! Stripe provider for loginkit: Stripe Connect OAuth, with the connected account as the profile.

mod generated;
mod provider;

pub use generated::STRIPE;

loginkit_core::register_provider!(STRIPE);
