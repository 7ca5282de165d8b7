//! Contract tests for the tradeshift provider: its descriptor matches `provider.toml`.

// Kept for the mock-server tests this crate grows; declared now so the manifest is complete.
use loginkit_testkit as _;
use serde_json as _;
use tokio as _;
use wiremock as _;

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_provider_tradeshift::TRADESHIFT;

#[test]
fn descriptor_matches_the_manifest() {
    let descriptor: &ProviderDescriptor = &TRADESHIFT;
    assert_eq!(descriptor.id, "tradeshift");
    assert!(descriptor.oauth2.authorize_url.starts_with("https://"));
}
