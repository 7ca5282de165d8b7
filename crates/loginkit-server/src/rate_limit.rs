//! The per-client limit of the login starts, with `governor`'s GCRA: a burst of `limit` requests
//! that refills evenly over the window (50 per hour by default, Appwrite's limit).
//!
//! Starts are counted, callbacks are not: a user who approved at the provider is never turned
//! away on the way back. A client is its IPv4 address or the /64 of its IPv6 address (one
//! subscriber's allocation holds billions of addresses), as [`crate::AppState::client_ip`] finds
//! it behind trusted proxies. Idle clients are forgotten by [`RateLimiter::prune`], which the
//! server's maintenance task runs: the request path never scans the table.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use crate::errors::ErrorType;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::AppState;
use crate::config::ConfigError;
use crate::errors::ApiError;

/// The limiter; off when the configured limit is 0.
#[derive(Debug, Clone)]
pub struct RateLimiter(Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>);

impl RateLimiter {
    /// `limit` requests per `window_secs` per client; `limit == 0` turns limiting off.
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

    /// `Ok` when the client at `ip` may go on, else how long until it may.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = &self.0 else { return Ok(()) };
        limiter
            .check_key(&limit_key(ip))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets clients whose allowance has refilled (the same as never having been seen).
    pub fn prune(&self) {
        if let Some(limiter) = &self.0 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Clients currently remembered.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |limiter| limiter.len())
    }

    /// Whether no client is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a client is counted as: an IPv4 address (an IPv4-mapped IPv6 address is one), or the /64
/// network of an IPv6 address.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

/// Middleware of the login starts: 429 `general_rate_limit_exceeded` with `Retry-After` over
/// the limit.
pub(crate) async fn limit(
    State(state): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    // The app's own server, authenticated by its API key, starts logins for all its users.
    let query = crate::http::pairs(request.uri().query().unwrap_or_default().as_bytes());
    if let Some(project) = crate::http::project_id(&query, request.headers())
        && let Ok(Some(_)) = state.api_key(project, request.headers(), crate::api_keys::Scope::SessionsWrite)
    {
        return next.run(request).await;
    }
    let ip = state.client_ip(addr, request.headers());
    match state.rate_limiter.check(ip) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            tracing::warn!(%ip, path = request.uri().path(), "rate limit exceeded");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), limit_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")));
        assert_ne!(limit_key(ip("2001:db8:1:2::1")), limit_key(ip("2001:db8:1:3::1")));
        assert_eq!(limit_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"), "an IPv4-mapped address is its IPv4");
        assert_eq!(limit_key(ip("192.0.2.7")), ip("192.0.2.7"));
        let limiter = RateLimiter::new(2, 3600).unwrap();
        assert!(limiter.check(ip("2001:db8::1")).is_ok());
        assert!(limiter.check(ip("2001:db8::2")).is_ok());
        assert!(limiter.check(ip("2001:db8::3")).is_err(), "one /64, one allowance");
        assert!(limiter.check(ip("2001:db8:0:1::1")).is_ok(), "the next /64 is another client");
    }

    #[test]
    fn prune_forgets_clients_whose_allowance_refilled() {
        // 10 per second: one request's trace is gone once two emission intervals (200 ms) passed.
        let limiter = RateLimiter::new(10, 1).unwrap();
        for last in 0..50u8 {
            assert!(limiter.check(IpAddr::from([192, 0, 2, last])).is_ok());
        }
        assert_eq!(limiter.len(), 50, "checking never forgets anyone");
        std::thread::sleep(Duration::from_millis(400));
        limiter.prune();
        assert_eq!(limiter.len(), 0);
    }
}
