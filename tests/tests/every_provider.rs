//! Every provider with a persona through the conformance kit (`loginkit_testkit::conformance`):
//! a full login against the impersonating provider over loopback (authorize, code exchange with
//! the provider's client authentication, ID token, profile, refresh, revocation, a replayed code),
//! each step a named check. Failures are collected per provider and reported together.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use loginkit::Provider;
use loginkit_testkit::conformance::{self, Outcome};
use loginkit_testkit::persona::Persona;

/// Provider ids that need no persona, each with the reason.
const WITHOUT_PERSONA: &[(&str, &str)] = &[(
    "apple",
    "form_post callback and a client secret signed from a p8 key: tests/apple_form_post.rs and the crate's contract tests",
)];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Loads every persona; broken persona files are returned as failures, not panics.
fn discover() -> (Vec<Persona>, Vec<String>, Vec<String>) {
    let discovery =
        Persona::discover(&workspace_root()).unwrap_or_else(|e| panic!("cannot discover personas: {e}"));
    let errors = discovery.errors.iter().map(ToString::to_string).collect();
    (discovery.personas, discovery.without_persona, errors)
}

fn report(failures: &[String]) {
    assert!(failures.is_empty(), "{} failure(s):\n  {}", failures.len(), failures.join("\n  "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_persona_passes_the_conformance_kit() {
    let (personas, without_persona, file_errors) = discover();
    println!("every_provider: {} persona(s)", personas.len());
    let (mut passed, mut failures) = (0, Vec::new());
    for persona in &personas {
        // Each provider in its own task, one at a time: a panic is that provider's failure.
        let (id, persona) = (persona.id.clone(), persona.clone());
        let task = tokio::spawn(async move { conformance::check_registered(&persona).await });
        let report = match task.await {
            Ok(report) => report,
            Err(join) => {
                failures.push(format!("{id}: panicked: {join}"));
                continue;
            }
        };
        if report.passed() {
            passed += 1;
            println!("  ok    {id:<24} {}", report.passed_checks().join(", "));
        } else {
            for check in report.failures() {
                if let Outcome::Failed(why) = &check.outcome {
                    println!("  FAIL  {id:<24} {}: {why}", check.name);
                    failures.push(format!("{id}: {}: {why}", check.name));
                }
            }
        }
    }
    for error in file_errors {
        println!("  FAIL  {error}");
        failures.push(error);
    }
    for dir in &without_persona {
        println!("  --    providers/{dir} has no tests/persona.toml");
    }
    println!("every_provider: {passed} of {} provider(s) pass", personas.len());
    report(&failures);
}

#[test]
fn every_provider_has_a_persona() {
    let (personas, without_persona, _) = discover();
    let with_persona: BTreeSet<&str> = personas.iter().map(|p| p.id.as_str()).collect();
    let known: BTreeSet<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
    let mut failures = Vec::new();
    for id in &known {
        let allowed = WITHOUT_PERSONA.iter().find(|(allowed, _)| allowed == id);
        match (with_persona.contains(id), allowed) {
            (true, Some((_, reason))) => {
                println!(
                    "note: `{id}` has a persona but is allow-listed ({reason}); drop it from WITHOUT_PERSONA"
                );
            }
            (true, None) => {}
            (false, Some((_, reason))) => println!("allowed without persona: `{id}`: {reason}"),
            (false, None) => failures.push(format!("`{id}` has no persona (and is not in WITHOUT_PERSONA)")),
        }
    }
    for id in with_persona.difference(&known) {
        failures.push(format!("persona `{id}` names no provider of loginkit::Provider::ALL"));
    }
    for dir in &without_persona {
        println!("providers/{dir} has no tests/persona.toml");
    }
    report(&failures);
}

/// The kit fails a provider whose persona demands another client authentication than the
/// provider sends, naming the check: GitHub's persona changed to HTTP Basic at the token endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persona_demanding_other_client_authentication_fails_the_code_exchange_check() {
    let mut github = Persona::load_all(&workspace_root().join("providers/github")).unwrap().remove(0);
    github.token.client_auth = loginkit_testkit::persona::ClientAuthStyle::Basic;
    let report = conformance::check_registered(&github).await;
    println!("{report}");
    assert!(!report.passed());
    let failed: Vec<&str> = report.failures().map(|check| check.name).collect();
    assert_eq!(failed, ["code_exchange"], "{report}");
    let Some(Outcome::Failed(why)) = report.outcome("code_exchange") else { unreachable!() };
    assert!(why.contains("HTTP Basic"), "the provider's reason is given: {why}");
    assert!(report.to_string().contains("FAIL  code_exchange: "), "{report}");
    assert!(matches!(report.outcome("profile"), Some(Outcome::Skipped(_))), "{report}");
}
