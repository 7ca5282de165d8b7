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
use crate::procstat::{self, Usage};

/// A system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// `loginkit-server` with the `oidc` provider, on SQLite.
    Loginkit,
    /// The same on PostgreSQL.
    LoginkitPostgres,
    /// Two instances sharing one PostgreSQL database; clients alternate between them.
    LoginkitPostgresTwo,
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
    pub const ALL: [System; 7] = [
        System::Loginkit,
        System::LoginkitPostgres,
        System::LoginkitPostgresTwo,
        System::Ceiling,
        System::OpenIdClient,
        System::Authlib,
        System::OpenIdConnect,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            System::Loginkit => "loginkit",
            System::LoginkitPostgres => "loginkit-pg",
            System::LoginkitPostgresTwo => "loginkit-pg-x2",
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
            System::LoginkitPostgres => "loginkit-server on PostgreSQL 15 (same host)",
            System::LoginkitPostgresTwo => "two loginkit-server instances sharing one PostgreSQL 15 database",
            System::Ceiling => "no-logic server: same hops, same 2 calls, 1 SQLite write (Rust, axum)",
            System::OpenIdClient => "openid-client 6.8.9 on node:http (Node.js, one process)",
            System::Authlib => "Authlib on Starlette + uvicorn (Python, one worker)",
            System::OpenIdConnect => "openidconnect 4 on axum (Rust)",
        }
    }

    /// Whether this is loginkit-server (on any database).
    pub fn is_loginkit(self) -> bool {
        matches!(self, System::Loginkit | System::LoginkitPostgres | System::LoginkitPostgresTwo)
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
    /// A PostgreSQL URL whose user may create databases (for the `loginkit-pg` systems).
    pub postgres: String,
}

/// One process of a system.
#[derive(Debug)]
struct Instance {
    pid: u32,
    target: Target,
    child: Child,
}

/// A system that is up: one process, or two for `loginkit-pg-x2`.
#[derive(Debug)]
pub struct Running {
    /// Which one.
    pub system: System,
    /// loginkit's SQLite database, for preloading users.
    pub database: Option<PathBuf>,
    instances: Vec<Instance>,
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
    let dir = paths.work.join(system.name());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut running = Running { system, database: None, instances: Vec::new() };
    match system {
        System::LoginkitPostgres | System::LoginkitPostgresTwo => {
            let url = fresh_postgres_database(&paths.postgres, "loginkit_bench")?;
            let count = if system == System::LoginkitPostgresTwo { 2 } else { 1 };
            for i in 0..count {
                let dir = dir.join(format!("instance-{i}"));
                std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                running.instances.push(start_loginkit(paths, issuer, &dir, Some(&url)).await?);
            }
        }
        System::Loginkit => {
            running.database = Some(dir.join("bench.db"));
            running.instances.push(start_loginkit(paths, issuer, &dir, None).await?);
        }
        _ => running.instances.push(start_peer(system, paths, issuer, &dir).await?),
    }
    Ok(running)
}

/// Drops and creates database `name` on the server of `admin_url`; its URL.
fn fresh_postgres_database(admin_url: &str, name: &str) -> Result<String, String> {
    for sql in [format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"), format!("CREATE DATABASE {name}")] {
        let status = std::process::Command::new("psql")
            .args(["-q", "-v", "ON_ERROR_STOP=1", admin_url, "-c", &sql])
            .env("PGOPTIONS", "--client-min-messages=warning")
            .status()
            .map_err(|e| {
                format!("psql: {e} (is the PostgreSQL client installed? tests/postgres sets up both)")
            })?;
        if !status.success() {
            return Err(format!("psql `{sql}` failed; is PostgreSQL running (tests/postgres)?"));
        }
    }
    let mut url = Url::parse(admin_url).map_err(|e| format!("postgres URL: {e}"))?;
    url.set_path(name);
    Ok(url.to_string())
}

async fn start_loginkit(
    paths: &Paths,
    issuer: &str,
    dir: &Path,
    database_url: Option<&str>,
) -> Result<Instance, String> {
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let base = format!("http://127.0.0.1:{port}");
    let config = dir.join("loginkit.toml");
    std::fs::write(&config, loginkit_config(port, dir, issuer, database_url))
        .map_err(|e| format!("{}: {e}", config.display()))?;
    let mut command = Command::new(paths.bin_dir.join("loginkit-server"));
    command.arg("--config").arg(&config).env("LOGINKIT_LOG", "warn");
    let target = Target {
        start: url(&format!(
            "{base}/v1/account/sessions/oauth2/oidc?project=bench&success={base}/ok&failure={base}/failed"
        )),
        session: url(&format!("{base}/v1/account/sessions/current?project=bench")),
    };
    spawn(command, "loginkit", port, target, url(&format!("{base}/"))).await
}

async fn start_peer(system: System, paths: &Paths, issuer: &str, dir: &Path) -> Result<Instance, String> {
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let base = format!("http://127.0.0.1:{port}");
    let mut command = match system {
        System::Ceiling => {
            let mut command = Command::new(paths.bin_dir.join("loginkit-ceiling"));
            command.env("DATABASE", dir.join("ceiling.db"));
            command
        }
        System::OpenIdClient => {
            let mut command = Command::new("node");
            command.arg(paths.peers.join("node/app.mjs"));
            command
        }
        System::Authlib => Command::new(paths.peers.join("python/run")),
        System::OpenIdConnect => {
            Command::new(paths.peers.join("openidconnect/target/release/peer-openidconnect"))
        }
        _ => unreachable!("loginkit systems start through start_loginkit"),
    };
    command.env("ISSUER", issuer).env("CLIENT_ID", CLIENT_ID).env("CLIENT_SECRET", CLIENT_SECRET);
    let target = Target { start: url(&format!("{base}/login")), session: url(&format!("{base}/me")) };
    spawn(command, system.name(), port, target, url(&format!("{base}/health"))).await
}

async fn spawn(
    mut command: Command,
    name: &str,
    port: u16,
    target: Target,
    ready: Url,
) -> Result<Instance, String> {
    command
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let child = command.spawn().map_err(|e| format!("cannot start {name}: {e}"))?;
    let pid = child.id().ok_or("the process ended at once")?;
    let mut instance = Instance { pid, target, child };
    wait_ready(&mut instance, name, &ready).await?;
    Ok(instance)
}

fn loginkit_config(port: u16, dir: &Path, issuer: &str, database_url: Option<&str>) -> String {
    let database = database_url.map(|url| format!("database_url = \"{url}\"\n")).unwrap_or_default();
    format!(
        r#"listen = "127.0.0.1:{port}"
data_dir = "{dir}"
key = "{BENCH_KEY}"
mock_idp = false
rate_limit = 0

[projects.bench]
hostnames = ["127.0.0.1", "localhost"]
{database}
[projects.bench.providers.oidc]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
params = {{ issuer = "{issuer}" }}
"#,
        dir = dir.display()
    )
}

async fn wait_ready(instance: &mut Instance, name: &str, ready: &Url) -> Result<(), String> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = instance.child.try_wait() {
            return Err(format!("{name} exited before answering: {status}"));
        }
        if let Ok(response) = client.get(ready.clone()).send().await
            && response.status().as_u16() < 500
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{name} did not answer {ready} within 60 s"))
}

impl Running {
    /// Where the driver sends logins: one target per instance.
    pub fn targets(&self) -> Vec<Target> {
        self.instances.iter().map(|i| i.target.clone()).collect()
    }

    /// CPU time and peak memory of every instance together.
    pub fn usage(&self) -> Usage {
        self.instances.iter().map(|i| procstat::usage(i.pid)).fold(Usage::default(), |a, b| Usage {
            cpu: a.cpu + b.cpu,
            peak_rss_kib: a.peak_rss_kib + b.peak_rss_kib,
        })
    }

    /// Stops every process (SIGTERM, then SIGKILL after 5 s).
    pub async fn stop(self) {
        for mut instance in self.instances {
            let _ = std::process::Command::new("kill").arg("-TERM").arg(instance.pid.to_string()).status();
            if tokio::time::timeout(Duration::from_secs(5), instance.child.wait()).await.is_err() {
                let _ = instance.child.kill().await;
            }
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
    // Fold the preload into the database file now, so the measured logins do not pay for
    // checkpointing it.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await?;
    Ok(())
}
