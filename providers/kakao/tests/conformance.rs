//! The conformance kit against tests/persona.toml: a whole login, each step a named check.

use loginkit_provider_kakao as _;

#[tokio::test]
async fn kakao_passes_the_conformance_kit() {
    let reports = loginkit_testkit::conformance::check_crate(env!("CARGO_MANIFEST_DIR")).await;
    for report in &reports.0 {
        println!("{report}");
    }
    reports.assert_passed();
}
