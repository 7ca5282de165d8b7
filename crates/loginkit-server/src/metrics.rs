//! Prometheus metrics of the logins: started, completed and failed (by provider and by the
//! failure's kind), and how long callbacks and ID-token sign-ins take. Labels are bounded: a
//! provider id this build does not know is counted as `unknown`, a failure by its
//! `FlowError::code`. No user data in any label.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Login {
    project: String,
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Failure {
    project: String,
    provider: String,
    reason: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    known: Vec<String>,
    started: Family<Login, Counter>,
    completed: Family<Login, Counter>,
    failed: Family<Failure, Counter>,
    callback_seconds: Family<Login, Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn seconds_buckets() -> Histogram {
    Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
}

impl Metrics {
    /// Metrics for a server whose build knows the provider ids `known` (and projects `projects`).
    pub fn new(known: Vec<String>) -> Self {
        let mut registry = Registry::with_prefix("loginkit");
        let started = Family::<Login, Counter>::default();
        let completed = Family::<Login, Counter>::default();
        let failed = Family::<Failure, Counter>::default();
        let callback_seconds =
            Family::<Login, Histogram>::new_with_constructor(seconds_buckets as fn() -> Histogram);
        registry.register("logins_started", "Logins started (a redirect to the provider)", started.clone());
        registry.register(
            "logins_completed",
            "Logins completed: a session or a token-flow secret made (callbacks and ID-token sign-ins)",
            completed.clone(),
        );
        registry.register("logins_failed", "Logins that failed, by the failure's kind", failed.clone());
        registry.register(
            "login_finish_seconds",
            "Time to finish a login: the callback (code exchange, profile, store) or an ID-token sign-in",
            callback_seconds.clone(),
        );
        Self { registry, known, started, completed, failed, callback_seconds }
    }

    fn login(&self, project: &str, provider: &str) -> Login {
        let provider = if self.known.iter().any(|k| k == provider) { provider } else { "unknown" };
        Login { project: project.to_owned(), provider: provider.to_owned() }
    }

    /// A login was started.
    pub fn started(&self, project: &str, provider: &str) {
        self.started.get_or_create(&self.login(project, provider)).inc();
    }

    /// A login finished after `took`: completed, or failed with the flow error's `code`.
    pub fn finished(&self, project: &str, provider: &str, took: Duration, failure: Option<&'static str>) {
        let login = self.login(project, provider);
        self.callback_seconds.get_or_create(&login).observe(took.as_secs_f64());
        match failure {
            None => {
                self.completed.get_or_create(&login).inc();
            }
            Some(reason) => {
                let failure =
                    Failure { project: login.project, provider: login.provider, reason: reason.to_owned() };
                self.failed.get_or_create(&failure).inc();
            }
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
