//! The load driver: virtual clients doing complete logins, each with its own connections and
//! cookie jar, as browsers do; the jar is emptied before each login, so every login starts signed
//! out.
//!
//! A login is four requests: the system's start URL (answers a redirect to the provider), the
//! provider's authorize URL (answers a redirect to the system's callback), the callback (answers a
//! redirect once the session exists) and the system's session URL (answers the signed-in user).
//! Redirects are followed by hand so each step is timed on its own; the last answer must name the
//! provider user the login was for, so a run cannot count a login that did not happen.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use reqwest::cookie::CookieStore;
use reqwest::header::{HeaderValue, LOCATION};
use url::Url;

use crate::idp::{USER_HEADER, subject};

/// The steps of a login, in order.
pub const STEPS: [&str; 4] = ["start", "authorize", "callback", "session"];

/// Where a system under test starts logins and shows sessions.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL that starts a login.
    pub start: Url,
    /// The URL that answers the signed-in user.
    pub session: Url,
}

/// Which provider user each login signs in as.
#[derive(Debug, Clone, Copy)]
pub enum Users {
    /// Users `1..=n` in turn: returning users, the common case.
    Returning(u64),
    /// A user never seen before for every login, numbered from `first`.
    New {
        /// The first user's number.
        first: u64,
    },
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// A request failed.
    #[error("{step}: {source}")]
    Http {
        /// The step.
        step: &'static str,
        /// The cause.
        source: reqwest::Error,
    },
    /// An answer was not what a working login gives.
    #[error("{step}: {message}")]
    Unexpected {
        /// The step.
        step: &'static str,
        /// What was wrong.
        message: String,
    },
}

/// The timings of one login, per step.
pub type StepTimes = [Duration; 4];

/// A cookie jar that can be emptied: each login starts from a signed-out browser (a signed-in
/// one would link the new provider account to its user instead of signing in), while the
/// client's connections stay open.
#[derive(Debug, Default)]
pub struct Jar(RwLock<Arc<reqwest::cookie::Jar>>);

impl Jar {
    /// Forgets every cookie.
    pub fn clear(&self) {
        *self.0.write().expect("not poisoned") = Arc::default();
    }

    fn current(&self) -> Arc<reqwest::cookie::Jar> {
        self.0.read().expect("not poisoned").clone()
    }
}

impl CookieStore for Jar {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        self.current().set_cookies(headers, url);
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        self.current().cookies(url)
    }
}

/// A virtual client: its own cookie jar and connection pool, no redirects followed.
pub fn client(jar: Arc<Jar>) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client builds")
}

async fn redirect(
    client: &reqwest::Client,
    step: &'static str,
    url: Url,
    user: Option<u64>,
) -> Result<(Url, Duration), LoginError> {
    let started = Instant::now();
    let mut request = client.get(url.clone());
    if let Some(user) = user {
        request = request.header(USER_HEADER, user.to_string());
    }
    let response = request.send().await.map_err(|source| LoginError::Http { step, source })?;
    let status = response.status();
    let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    // Read the body so the connection can be reused.
    let body = response.bytes().await.map_err(|source| LoginError::Http { step, source })?;
    let elapsed = started.elapsed();
    let location = match (status.is_redirection(), location) {
        (true, Some(location)) => location,
        _ => {
            let body = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return Err(LoginError::Unexpected {
                step,
                message: format!("{status}, not a redirect: {body}"),
            });
        }
    };
    let next = url.join(&location).map_err(|e| LoginError::Unexpected { step, message: e.to_string() })?;
    Ok((next, elapsed))
}

/// One complete login as provider user `user`.
pub async fn login(client: &reqwest::Client, target: &Target, user: u64) -> Result<StepTimes, LoginError> {
    let (authorize, start) = redirect(client, "start", target.start.clone(), None).await?;
    let (callback, authorized) = redirect(client, "authorize", authorize, Some(user)).await?;
    if callback.query_pairs().any(|(k, _)| k == "error") {
        return Err(LoginError::Unexpected {
            step: "authorize",
            message: format!("provider refused: {callback}"),
        });
    }
    let (done, called_back) = redirect(client, "callback", callback, None).await?;
    if done.query_pairs().any(|(k, _)| k == "error") {
        let error: String =
            done.query_pairs().filter(|(k, _)| k == "error").map(|(_, v)| v.into_owned()).collect();
        return Err(LoginError::Unexpected { step: "callback", message: format!("login failed: {error}") });
    }
    let started = Instant::now();
    let step = "session";
    let response = client
        .get(target.session.clone())
        .send()
        .await
        .map_err(|source| LoginError::Http { step, source })?;
    let status = response.status();
    let body = response.text().await.map_err(|source| LoginError::Http { step, source })?;
    let session = started.elapsed();
    let expected = format!("\"{}\"", subject(user));
    if !status.is_success() || !body.contains(&expected) {
        let body: String = body.chars().take(300).collect();
        return Err(LoginError::Unexpected {
            step,
            message: format!("{status}, expected a session of {expected}: {body}"),
        });
    }
    Ok([start, authorized, called_back, session])
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct Measured {
    /// Completed logins.
    pub logins: u64,
    /// Failed logins.
    pub errors: u64,
    /// The first few errors.
    pub first_errors: Vec<String>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Per step (see [`STEPS`]), then the whole login: every sample, in microseconds.
    pub samples: [Vec<u32>; 5],
}

impl Measured {
    /// Logins per second.
    pub fn rate(&self) -> f64 {
        self.logins as f64 / self.elapsed.as_secs_f64()
    }

    /// The `q` quantile (0..1) of step `step` (4 = the whole login), in milliseconds.
    pub fn quantile_ms(&self, step: usize, q: f64) -> f64 {
        let mut values = self.samples[step].clone();
        if values.is_empty() {
            return f64::NAN;
        }
        values.sort_unstable();
        let index = ((values.len() as f64 - 1.0) * q).round() as usize;
        f64::from(values[index]) / 1000.0
    }
}

/// How long a run lasts.
#[derive(Debug, Clone, Copy)]
pub enum Length {
    /// Each client does this many logins.
    Logins(u64),
    /// Clients log in until this much time has passed.
    Time(Duration),
}

/// Runs `clients` virtual clients, client `i` against `targets[i % targets.len()]` (several
/// instances of one system); each keeps its connections for the whole run. `users` numbers the
/// provider users; `next_user` carries the count across runs.
pub async fn run(
    targets: &[Target],
    clients: usize,
    length: Length,
    users: Users,
    next_user: &Arc<AtomicU64>,
) -> Measured {
    let started = Instant::now();
    let deadline = match length {
        Length::Time(d) => Some(started + d),
        Length::Logins(_) => None,
    };
    let mut tasks = Vec::with_capacity(clients);
    for i in 0..clients {
        let target = targets[i % targets.len()].clone();
        let next_user = next_user.clone();
        tasks.push(tokio::spawn(async move {
            let jar = Arc::new(Jar::default());
            let client = client(jar.clone());
            let mut measured = Measured::default();
            let mut done = 0u64;
            loop {
                match (length, deadline) {
                    (Length::Logins(n), _) if done >= n => break,
                    (_, Some(deadline)) if Instant::now() >= deadline => break,
                    _ => {}
                }
                done += 1;
                let k = next_user.fetch_add(1, Ordering::Relaxed);
                let user = match users {
                    Users::Returning(n) => k % n + 1,
                    Users::New { first } => first + k,
                };
                jar.clear();
                let login_started = Instant::now();
                match login(&client, &target, user).await {
                    Ok(times) => {
                        measured.logins += 1;
                        for (i, t) in times.iter().enumerate() {
                            measured.samples[i].push(micros(*t));
                        }
                        measured.samples[4].push(micros(login_started.elapsed()));
                    }
                    Err(error) => {
                        measured.errors += 1;
                        if measured.first_errors.len() < 3 {
                            measured.first_errors.push(error.to_string());
                        }
                    }
                }
            }
            measured
        }));
    }
    let mut all = Measured::default();
    for task in tasks {
        let Ok(part) = task.await else {
            all.errors += 1;
            continue;
        };
        all.logins += part.logins;
        all.errors += part.errors;
        for error in part.first_errors {
            if all.first_errors.len() < 3 {
                all.first_errors.push(error);
            }
        }
        for (mine, theirs) in all.samples.iter_mut().zip(part.samples) {
            mine.extend(theirs);
        }
    }
    all.elapsed = started.elapsed();
    all
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}
