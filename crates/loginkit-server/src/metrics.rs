//! Prometheus metrics of the logins: started, completed and failed (by provider and by the
//! failure's kind), how long callbacks and ID-token sign-ins take, how long each call to a
//! provider takes (by operation and answer class) and each call to a project's database (by
//! store operation). Labels are bounded: a provider id this build does not know is counted as
//! `unknown`, a failure by its `FlowError::code`, a store call by its method's name. No user
//! data in any label.

use std::time::Duration;

use loginkit::ProviderCall;
use loginkit_flow::StoreCall;

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Call {
    provider: &'static str,
    operation: &'static str,
    /// `2xx`, `3xx`, `4xx`, `5xx`, or `error` (no usable answer).
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreOperation {
    project: String,
    operation: &'static str,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    known: Vec<String>,
    started: Family<Login, Counter>,
    completed: Family<Login, Counter>,
    failed: Family<Failure, Counter>,
    callback_seconds: Family<Login, Histogram>,
    provider_seconds: Family<Call, Histogram>,
    store_seconds: Family<StoreOperation, Histogram>,
    store_errors: Family<StoreOperation, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn seconds_buckets() -> Histogram {
    Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
}

/// A database call takes from tens of microseconds (SQLite's cache) to seconds (a stalled pool).
fn store_buckets() -> Histogram {
    Histogram::new([0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0])
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
        let provider_seconds =
            Family::<Call, Histogram>::new_with_constructor(seconds_buckets as fn() -> Histogram);
        registry.register(
            "provider_call_seconds",
            "Time of each call to a provider (code exchange, profile, refresh, revoke, discovery, keys), by its answer",
            provider_seconds.clone(),
        );
        let store_seconds =
            Family::<StoreOperation, Histogram>::new_with_constructor(store_buckets as fn() -> Histogram);
        registry.register(
            "store_call_seconds",
            "Time of each call to a project's database",
            store_seconds.clone(),
        );
        let store_errors = Family::<StoreOperation, Counter>::default();
        registry.register("store_errors", "Calls to a project's database that failed", store_errors.clone());
        Self {
            registry,
            known,
            started,
            completed,
            failed,
            callback_seconds,
            provider_seconds,
            store_seconds,
            store_errors,
        }
    }

    /// What the provider HTTP client reports its calls to.
    pub fn provider_observer(&self) -> impl Fn(&ProviderCall) + Send + Sync + 'static {
        let family = self.provider_seconds.clone();
        move |call: &ProviderCall| {
            // Labels borrowed from static text: nothing is allocated per call.
            let outcome = match call.status {
                Some(200..=299) => "2xx",
                Some(300..=399) => "3xx",
                Some(400..=499) => "4xx",
                Some(500..=599) => "5xx",
                _ => "error",
            };
            let labels = Call { provider: call.provider, operation: call.operation.as_str(), outcome };
            family.get_or_create(&labels).observe(call.elapsed.as_secs_f64());
        }
    }

    /// What project `project`'s store reports its calls to.
    pub fn store_observer(&self, project: &str) -> impl Fn(&StoreCall) + Send + Sync + 'static {
        let (seconds, errors) = (self.store_seconds.clone(), self.store_errors.clone());
        let project = project.to_owned();
        move |call: &StoreCall| {
            let labels = StoreOperation { project: project.clone(), operation: call.operation };
            seconds.get_or_create(&labels).observe(call.elapsed.as_secs_f64());
            if !call.ok {
                errors.get_or_create(&labels).inc();
            }
        }
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
