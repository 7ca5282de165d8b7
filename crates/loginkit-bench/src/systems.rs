//! The systems under test, each started as its own process so its CPU time and memory can be
//! read apart from the driver's: the reference server, the ceiling, and the peer apps in
//! `bench/peers/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use url::Url;

use crate::driver::Target;
use crate::idp::{CLIENT_ID, CLIENT_SECRET};

/// A system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// `loginkit-server` with the `oidc` provider.
    Loginkit,
    /// `loginkit-ceiling`: the same hops and calls, no other work.
    Ceiling,
    /// Node.js with `openid-client`.
    OpenIdClient,
    /// Python with `Authlib` (Starlette, uvicorn).
    Authlib,
    /// Rust with the `openidconnect` crate (axum).
    OpenIdConnect,
}

impl System {
    /// Every system, in report order.
    pub const ALL: [System; 5] =
        [System::Loginkit, System::Ceiling, System::OpenIdClient, System::Authlib, System::OpenIdConnect];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            System::Loginkit => "loginkit",
            System::Ceiling => "ceiling",
            System::OpenIdClient => "openid-client",
            System::Authlib => "authlib",
            System::OpenIdConnect => "openidconnect",
        }
    }

    /// What runs, for the report.
    pub fn description(self) -> &'static str {
        match self {
            System::Loginkit => "loginkit-server (Rust, axum, SQLite), provider `oidc`",
            System::Ceiling => "no-logic server: same hops, same 2 calls, 1 SQLite write (Rust, axum)",
            System::OpenIdClient => "openid-client 6.8.9 on node:http (Node.js, one process)",
            System::Authlib => "Authlib on Starlette + uvicorn (Python, one worker)",
            System::OpenIdConnect => "openidconnect 4 on axum (Rust)",
        }
    }

    /// The system named `name`.
    pub fn parse(name: &str) -> Option<System> {
        System::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Where the binaries and the peer apps are.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Holds `loginkit-server` and `loginkit-ceiling`.
    pub bin_dir: PathBuf,
    /// `bench/peers`.
    pub peers: PathBuf,
    /// A scratch directory for databases and configuration.
    pub work: PathBuf,
}

/// A system that is up.
#[derive(Debug)]
pub struct Running {
    /// Which one.
    pub system: System,
    /// Its process id.
    pub pid: u32,
    /// Where the driver sends logins.
    pub target: Target,
    /// loginkit's SQLite database, for preloading users.
    pub database: Option<PathBuf>,
    child: Child,
}

/// A master key for the benchmark's loginkit (never used elsewhere).
const BENCH_KEY: &str = "62656e63682d6f6e6c792d6b65792d62656e63682d6f6e6c792d6b65792d2121";

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

fn url(s: &str) -> Url {
    Url::parse(s).expect("a valid URL")
}

/// Starts `system` against the provider at `issuer`, and waits until it answers.
pub async fn start(system: System, paths: &Paths, issuer: &str) -> Result<Running, String> {
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let base = format!("http://127.0.0.1:{port}");
    let dir = paths.work.join(system.name());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let peer_target = || Target { start: url(&format!("{base}/login")), session: url(&format!("{base}/me")) };
    let mut database = None;
    let (mut command, target, ready) = match system {
        System::Loginkit => {
            let config = dir.join("loginkit.toml");
            std::fs::write(&config, loginkit_config(port, &dir, issuer))
                .map_err(|e| format!("{}: {e}", config.display()))?;
            let mut command = Command::new(paths.bin_dir.join("loginkit-server"));
            command.arg("--config").arg(&config).env("LOGINKIT_LOG", "warn");
            database = Some(dir.join("bench.db"));
            let target = Target {
                start: url(&format!(
                    "{base}/v1/account/sessions/oauth2/oidc?project=bench&success={base}/ok&failure={base}/failed"
                )),
                session: url(&format!("{base}/v1/account/sessions/current?project=bench")),
            };
            (command, target, url(&format!("{base}/")))
        }
        System::Ceiling => {
            let mut command = Command::new(paths.bin_dir.join("loginkit-ceiling"));
            command.env("DATABASE", dir.join("ceiling.db"));
            (command, peer_target(), url(&format!("{base}/health")))
        }
        System::OpenIdClient => {
            let mut command = Command::new("node");
            command.arg(paths.peers.join("node/app.mjs"));
            (command, peer_target(), url(&format!("{base}/health")))
        }
        System::Authlib => {
            let command = Command::new(paths.peers.join("python/run"));
            (command, peer_target(), url(&format!("{base}/health")))
        }
        System::OpenIdConnect => {
            let command = Command::new(paths.peers.join("openidconnect/target/release/peer-openidconnect"));
            (command, peer_target(), url(&format!("{base}/health")))
        }
    };
    command
        .env("ISSUER", issuer)
        .env("CLIENT_ID", CLIENT_ID)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let child = command.spawn().map_err(|e| format!("cannot start {}: {e}", system.name()))?;
    let pid = child.id().ok_or("the process ended at once")?;
    let mut running = Running { system, pid, target, database, child };
    wait_ready(&mut running, &ready).await?;
    Ok(running)
}

fn loginkit_config(port: u16, dir: &Path, issuer: &str) -> String {
    format!(
        r#"listen = "127.0.0.1:{port}"
data_dir = "{dir}"
key = "{BENCH_KEY}"
mock_idp = false
rate_limit = 0

[projects.bench]
hostnames = ["127.0.0.1", "localhost"]

[projects.bench.providers.oidc]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
params = {{ issuer = "{issuer}" }}
"#,
        dir = dir.display()
    )
}

async fn wait_ready(running: &mut Running, ready: &Url) -> Result<(), String> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = running.child.try_wait() {
            return Err(format!("{} exited before answering: {status}", running.system.name()));
        }
        if let Ok(response) = client.get(ready.clone()).send().await
            && response.status().as_u16() < 500
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{} did not answer {ready} within 60 s", running.system.name()))
}

impl Running {
    /// Stops the process (SIGTERM, then SIGKILL after 5 s).
    pub async fn stop(mut self) {
        let _ = std::process::Command::new("kill").arg("-TERM").arg(self.pid.to_string()).status();
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// Adds users `from..from + count` with their `oidc` identities to loginkit's database, as if they
/// had logged in before.
pub async fn preload_users(database: &Path, from: u64, count: u64) -> Result<(), sqlx::Error> {
    use sqlx::ConnectOptions;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(database)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut next = from;
    let end = from + count;
    while next < end {
        let batch_end = end.min(next + 50_000);
        let mut tx = sqlx::Connection::begin(&mut conn).await?;
        for n in next..batch_end {
            let (user, identity) = (format!("preloaded{n}"), format!("preloadedid{n}"));
            sqlx::query(
                "INSERT INTO loginkit_users (id, email, email_verified, name, created_at, updated_at)
                 VALUES (?, ?, 1, ?, ?, ?)",
            )
            .bind(&user)
            .bind(crate::idp::email(n))
            .bind(format!("Bench User {n}"))
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO loginkit_identities (id, user_id, provider, provider_uid, provider_email,
                   access_token, created_at, updated_at) VALUES (?, ?, 'oidc', ?, ?, 'preloaded', ?, ?)",
            )
            .bind(&identity)
            .bind(&user)
            .bind(crate::idp::subject(n))
            .bind(crate::idp::email(n))
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        next = batch_end;
    }
    Ok(())
}
