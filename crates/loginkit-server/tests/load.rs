//! Load: 1,000 complete logins by 100 concurrent clients (each its own browser and cookies)
//! against the reference server and a provider on loopback. Nothing may be lost or duplicated,
//! and memory must come back down. Timings are reported by the benchmark harness, not asserted.

mod common;

use std::sync::Arc;

use common::{APP, Harness, temp_dir};
use loginkit_testkit::{Browser, FormAnswer, MockIdp, MockIdpConfig, MockUser};

const CLIENTS: usize = 100;
const LOGINS_PER_CLIENT: usize = 10;
/// How much the process's resident memory may grow over the run (the first run warms allocator
/// arenas, connection pools and caches; a leak of one kilobyte per login would already show).
const RSS_GROWTH_BOUND_KIB: u64 = 64 * 1024;

/// Resident set size of this process, from /proc (Linux).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn run(h: &Arc<Harness>, idp: &MockIdp) -> usize {
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let h = h.clone();
            let origins = [h.server.url().clone(), idp.origin()];
            tokio::spawn(async move {
                let mut errors = 0;
                for _ in 0..LOGINS_PER_CLIENT {
                    let browser = Browser::new(origins.clone())
                        .answering(FormAnswer::Approve(format!("user-{client}")));
                    match browser.walk(h.start_url("sessions", "mock", "")).await {
                        Ok(walk) if walk.end.as_str() == format!("{APP}/ok") => {}
                        _ => errors += 1,
                    }
                }
                errors
            })
        })
        .collect();
    let mut errors = 0;
    for client in clients {
        errors += client.await.unwrap();
    }
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_logins_from_a_hundred_clients_lose_and_duplicate_nothing() {
    let users = (0..CLIENTS)
        .map(|i| MockUser {
            id: format!("user-{i}"),
            name: format!("User {i}"),
            email: format!("user-{i}@load.test"),
            verified: true,
        })
        .collect();
    let idp = MockIdp::start_with(MockIdpConfig { users, auto_approve: false, ..MockIdpConfig::default() })
        .await
        .unwrap();
    let extra = format!(
        "session_limit = 0\n[projects.default.providers.mock]\nclient_id = \"1\"\nclient_secret = \"123456\"\nbase_url = \"{}\"",
        idp.origin()
    );
    let h = Arc::new(Harness::start_with(temp_dir(), "127.0.0.1:0", "rate_limit = 0", &extra).await);

    // A first round warms everything up; the second is the one measured for memory.
    assert_eq!(run(&h, &idp).await, 0, "errors in the first 1,000 logins");
    let before = rss_kib();
    assert_eq!(run(&h, &idp).await, 0, "errors in the second 1,000 logins");
    let after = rss_kib();

    let (users, identities, sessions, tokens) = h.counts().await;
    assert_eq!((users, identities, sessions, tokens), (100, 100, 2000, 0));
    let db = h.db().await;
    let duplicated: i64 = loginkit_flow::sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT provider, provider_uid FROM loginkit_identities \
         GROUP BY provider, provider_uid HAVING COUNT(*) > 1)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(duplicated, 0, "no identity twice");
    assert!(before > 0, "RSS is readable");
    let growth = after.saturating_sub(before);
    println!("RSS before {before} KiB, after {after} KiB, growth {growth} KiB over 1,000 logins");
    assert!(growth < RSS_GROWTH_BOUND_KIB, "RSS grew {growth} KiB over 1,000 logins");
}
