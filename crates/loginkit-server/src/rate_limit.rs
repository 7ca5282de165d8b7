//! The per-client-IP limit of the OAuth routes, with `governor`'s GCRA: a burst of `limit`
//! requests that refills evenly over the window (50 per hour by default, Appwrite's limit).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use loginkit_flow::ErrorType;

use crate::AppState;
use crate::config::ConfigError;
use crate::http::ApiError;

/// Client IPs remembered before idle ones are forgotten (a full bucket is the same as no entry).
const PRUNE_ABOVE: usize = 100_000;

/// The limiter; off when the configured limit is 0.
#[derive(Debug, Clone)]
pub struct RateLimiter(Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>);

impl RateLimiter {
    /// `limit` requests per `window_secs` per IP; `limit == 0` turns limiting off.
    pub fn new(limit: u32, window_secs: u64) -> Result<Self, ConfigError> {
        let Some(burst) = NonZeroU32::new(limit) else { return Ok(Self(None)) };
        if window_secs == 0 {
            return Err(ConfigError("rate_limit_window_secs: must be at least 1".to_owned()));
        }
        let period = Duration::from_secs(window_secs) / limit;
        let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
            .ok_or_else(|| ConfigError("rate_limit_window_secs: too short for rate_limit".to_owned()))?
            .allow_burst(burst);
        Ok(Self(Some(Arc::new(DefaultKeyedRateLimiter::keyed(quota)))))
    }

    /// `Ok` when `ip` may go on, else how long until it may.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = &self.0 else { return Ok(()) };
        if limiter.len() > PRUNE_ABOVE {
            limiter.retain_recent();
        }
        limiter.check_key(&ip).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Middleware of the OAuth routes: 429 `general_rate_limit_exceeded` with `Retry-After` over
/// the limit.
pub(crate) async fn limit(
    State(state): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    match state.rate_limiter.check(addr.ip()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            tracing::warn!(ip = %addr.ip(), path = request.uri().path(), "rate limit exceeded");
            let mut response = ApiError::new(
                ErrorType::GeneralRateLimitExceeded,
                "Rate limit for the current endpoint has been exceeded. Please try again after some time.",
            )
            .into_response();
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}
