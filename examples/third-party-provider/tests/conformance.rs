//! This crate as its users get it: linked, the provider is in the registry; and it passes
//! loginkit's conformance kit against the persona in tests/persona.toml.

use loginkit_core::Registry;
use loginkit_provider_acme::ACME;

#[test]
fn linking_the_crate_registers_the_provider() {
    let registry = Registry::global().expect("the registry builds");
    let acme = registry.get("acme").expect("acme is registered");
    assert_eq!((acme.id, acme.display_name), (ACME.id, ACME.display_name));
    assert_eq!(registry.ids(), ["acme"], "loginkit's own providers are not linked here");
}

#[tokio::test]
async fn acme_passes_the_conformance_kit() {
    let reports = loginkit_testkit::conformance::check_crate(env!("CARGO_MANIFEST_DIR")).await;
    for report in &reports.0 {
        println!("{report}");
    }
    reports.assert_passed();
}
