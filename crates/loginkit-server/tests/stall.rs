//! Three `loginkit-server` processes on one PostgreSQL database: one is frozen (SIGSTOP, as a
//! paused VM or a cut network would leave it) in the middle of a burst of logins, and the other
//! two go on signing people in. No statement of the store spans a round trip, so a frozen
//! instance holds no lock anyone else waits for. Unix only (signals).
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{APP, temp_dir};
use loginkit_flow::Keys;
use loginkit_flow::sqlx;
use loginkit_testkit::postgres::TestDatabase;
use loginkit_testkit::{Browser, FormAnswer, MockIdp, MockIdpConfig, MockUser};
use url::Url;

/// A server process, killed (after a SIGCONT, in case it is stopped) when dropped.
struct Instance {
    child: Child,
    url: Url,
}

impl Instance {
    fn start(config: &str, name: &str) -> Self {
        let dir = temp_dir();
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, config.replace("DATA_DIR", &dir.join(name).display().to_string())).unwrap();
        // LOGINKIT_SERVER_BIN runs the check against another build of the server.
        let binary = std::env::var("LOGINKIT_SERVER_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_loginkit-server").into());
        let mut child = Command::new(binary)
            .arg("--config")
            .arg(&path)
            .env("LOGINKIT_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().expect("the server says where it listens").unwrap();
            if let Some(at) = line.strip_prefix("loginkit-server listening on ") {
                break Url::parse(&format!("{}/", at.trim())).unwrap();
            }
        };
        // Whatever else it prints is read, so it never writes to a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url }
    }

    fn signal(&self, signal: &str) {
        let status =
            Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success(), "kill -{signal}");
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-CONT").arg(self.child.id().to_string()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A whole login at `instance` as user `user` of the provider: where it ended.
async fn login(instance: Url, idp: Url, user: String) -> Url {
    let browser = Browser::new([instance.clone(), idp]).answering(FormAnswer::Approve(user));
    let start = instance
        .join(&format!("v1/account/sessions/oauth2/mock?project=default&success={APP}/ok&failure={APP}/fail"))
        .unwrap();
    match browser.walk(start).await {
        Ok(walk) => walk.end,
        Err(error) => Url::parse(&format!("error://{}", error.is_timeout())).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frozen_instance_does_not_stop_the_others() {
    let database = TestDatabase::create("stall").await;
    let users = (0..80)
        .map(|i| MockUser {
            id: format!("u{i}"),
            name: format!("User {i}"),
            email: format!("u{i}@example.test"),
            verified: true,
        })
        .collect();
    let idp = MockIdp::start_with(MockIdpConfig { users, auto_approve: false, ..MockIdpConfig::default() })
        .await
        .unwrap();
    let config = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"DATA_DIR\"\nkey = \"{}\"\nrate_limit = 0\n[projects.default]\n\
         hostnames = [\"localhost\"]\ndatabase_url = \"{}\"\n{}",
        Keys::generate_master(),
        database.url(),
        common::external_mock(&idp)
    );
    let instances: Vec<Instance> =
        ["a", "b", "c"].iter().map(|name| Instance::start(&config, name)).collect();
    let (a, b, c) = (&instances[0], &instances[1], &instances[2]);

    // A burst of logins at C, frozen at the worst moment it offers: while one of its connections
    // sits inside a transaction (a store that holds locks across round trips has such moments,
    // and a frozen client keeps them held); a store that never leaves one open is frozen
    // mid-burst, once most of its logins have written their sessions.
    let watch = sqlx::PgPool::connect(database.url()).await.unwrap();
    let frozen_logins: Vec<_> =
        (0..40).map(|i| tokio::spawn(login(c.url.clone(), idp.origin(), format!("u{}", 30 + i)))).collect();
    let open_transactions = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'",
        )
        .fetch_one(&watch)
        .await
        .unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let open = loop {
        assert!(std::time::Instant::now() < deadline, "C's logins never wrote a session");
        if open_transactions().await > 0 {
            c.signal("STOP");
            let open = open_transactions().await;
            if open > 0 {
                break open;
            }
            c.signal("CONT");
            continue;
        }
        let sessions: i64 =
            sqlx::query_scalar("SELECT count(*) FROM loginkit_sessions").fetch_one(&watch).await.unwrap();
        if sessions >= 25 {
            c.signal("STOP");
            break open_transactions().await;
        }
    };

    eprintln!("C frozen with {open} connections idle in a transaction");
    // Meanwhile A and B serve thirty logins of other users, and their sessions.
    let healthy: Arc<Vec<Url>> = Arc::new(vec![a.url.clone(), b.url.clone()]);
    let logins: Vec<_> = (0..30)
        .map(|i| {
            let instance = healthy[i % 2].clone();
            tokio::spawn(login(instance, idp.origin(), format!("u{i}")))
        })
        .collect();
    let mut completed = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for handle in logins {
        let end = tokio::time::timeout_at(deadline, handle).await;
        if matches!(end, Ok(Ok(ref url)) if url.as_str() == format!("{APP}/ok")) {
            completed += 1;
        }
    }
    assert_eq!(
        completed, 30,
        "logins on the healthy instances completed while C was frozen ({open} of its connections idle in a transaction)"
    );

    // C comes back: its logins end (completed, or refused cleanly), none hangs.
    c.signal("CONT");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for handle in frozen_logins {
        let end = tokio::time::timeout_at(deadline, handle).await;
        assert!(end.is_ok(), "a login C had under way never ended");
    }
    // And C signs people in again.
    assert_eq!(login(c.url.clone(), idp.origin(), "u79".into()).await.as_str(), format!("{APP}/ok"));
    drop(instances);
}
