//! The load driver. `bench/run` builds what it needs and calls it; see docs/benchmarks.md.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use clap::Parser;
use loginkit_bench::driver::{self, Length, Measured, STEPS, Users};
use loginkit_bench::idp::{Counts, Idp};
use loginkit_bench::procstat::{self, Usage};
use loginkit_bench::systems::{self, Paths, Running, System};

/// Complete logins against loginkit-server, the ceiling and the peers, side by side.
#[derive(Debug, Parser)]
struct Args {
    /// A few logins per system and concurrency: checks that everything works, measures nothing.
    #[arg(long)]
    smoke: bool,
    /// Systems to run, comma-separated (loginkit, loginkit-pg, loginkit-pg-x2, ceiling,
    /// openid-client, authlib, openidconnect).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "loginkit,loginkit-pg,loginkit-pg-x2,ceiling,openid-client,authlib,openidconnect"
    )]
    systems: Vec<String>,
    /// Concurrent clients, comma-separated; each level is a run.
    #[arg(long, value_delimiter = ',')]
    clients: Option<Vec<usize>>,
    /// Seconds each measured run lasts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Stored-user counts for loginkit's scaling runs, comma-separated (0: skip them).
    #[arg(long, value_delimiter = ',')]
    users: Option<Vec<u64>>,
    /// Directory holding `loginkit-server` and `loginkit-ceiling`.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// The peer apps' directory.
    #[arg(long, default_value = "bench/peers")]
    peers: PathBuf,
    /// Scratch directory (databases, configuration).
    #[arg(long, default_value = "target/bench")]
    work: PathBuf,
    /// A PostgreSQL URL whose user may create databases, for loginkit-pg and loginkit-pg-x2.
    #[arg(
        long,
        env = "LOGINKIT_BENCH_POSTGRES",
        default_value = "postgres://loginkit:loginkit@127.0.0.1:5432/postgres"
    )]
    postgres: String,
    /// Also write the report here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One measured run of one system at one concurrency.
struct Row {
    system: System,
    clients: usize,
    measured: Measured,
    server: Usage,
    driver_cpu: Duration,
    provider: Counts,
}

impl Row {
    fn cpu_per_login_us(&self) -> f64 {
        self.server.cpu.as_secs_f64() * 1e6 / self.measured.logins.max(1) as f64
    }

    fn outbound_per_login(&self) -> f64 {
        let p = &self.provider;
        (p.token + p.userinfo + p.discovery + p.jwks) as f64 / self.measured.logins.max(1) as f64
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("loginkit-bench: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let systems: Vec<System> = args
        .systems
        .iter()
        .map(|name| System::parse(name).ok_or_else(|| format!("unknown system `{name}`")))
        .collect::<Result<_, _>>()?;
    let clients = args.clients.clone().unwrap_or(if args.smoke { vec![1, 4] } else { vec![1, 10, 100] });
    let mut user_counts = args.users.clone().unwrap_or(if args.smoke {
        vec![100, 1000]
    } else {
        vec![1_000, 100_000, 1_000_000]
    });
    user_counts.retain(|&count| count > 0);
    let length = |_: usize| {
        if args.smoke { Length::Logins(3) } else { Length::Time(Duration::from_secs(args.seconds)) }
    };
    std::fs::create_dir_all(&args.work).map_err(|e| format!("{}: {e}", args.work.display()))?;
    let work = args.work.canonicalize().map_err(|e| e.to_string())?;
    let paths = Paths {
        bin_dir: args.bin_dir.clone(),
        peers: args.peers.clone(),
        work,
        postgres: args.postgres.clone(),
    };
    let idp = Idp::start().await.map_err(|e| format!("provider: {e}"))?;
    let next_user = Arc::new(AtomicU64::new(0));
    let mut rows = Vec::new();
    let mut failures = Vec::new();

    for &system in &systems {
        let running = systems::start(system, &paths, idp.issuer()).await?;
        for &n in &clients {
            // Warm-up: connections, discovery, key sets, JIT and caches; not measured.
            let warm =
                driver::run(&running.targets(), n, Length::Logins(2), Users::Returning(1000), &next_user)
                    .await;
            if warm.errors > 0 {
                failures.push(format!(
                    "{} warm-up at {n} clients: {} errors, e.g. {:?}",
                    system.name(),
                    warm.errors,
                    warm.first_errors
                ));
            }
            let row = measure(&running, &idp, n, length(n), Users::Returning(1000), &next_user).await;
            eprintln!(
                "{:<14} {:>3} clients: {:>7.0} logins/s, p50 {:.2} ms, p99 {:.2} ms, {:.0} µs CPU/login, {} errors",
                system.name(),
                n,
                row.measured.rate(),
                row.measured.quantile_ms(4, 0.5),
                row.measured.quantile_ms(4, 0.99),
                row.cpu_per_login_us(),
                row.measured.errors
            );
            check(&row, &mut failures);
            rows.push(row);
        }
        running.stop().await;
    }

    let mut scaling = Vec::new();
    if systems.contains(&System::Loginkit) && !user_counts.is_empty() {
        let running = systems::start(System::Loginkit, &paths, idp.issuer()).await?;
        let database = running.database.clone().ok_or("loginkit has a database")?;
        let n = if args.smoke { 2 } else { 10 };
        let mut stored = 0;
        // Scaling logins sign in users never seen before, numbered above every preloaded one.
        let fresh = Arc::new(AtomicU64::new(0));
        for &count in &user_counts {
            if count > stored {
                eprintln!("loginkit: storing {} more users (now {stored})", count - stored);
                systems::preload_users(&database, stored + 1, count - stored)
                    .await
                    .map_err(|e| format!("preload: {e}"))?;
                stored = count;
            }
            let users = Users::New { first: 100_000_000 };
            driver::run(&running.targets(), n, Length::Logins(2), users, &fresh).await;
            let row = measure(&running, &idp, n, length(n), users, &fresh).await;
            eprintln!(
                "loginkit with {count} stored users: {:.0} logins/s, callback p50 {:.2} ms p99 {:.2} ms",
                row.measured.rate(),
                row.measured.quantile_ms(2, 0.5),
                row.measured.quantile_ms(2, 0.99)
            );
            check(&row, &mut failures);
            scaling.push((count, row));
        }
        running.stop().await;
    }

    let report = report(&args, &rows, &scaling);
    println!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} check(s) failed:\n  {}", failures.len(), failures.join("\n  ")))
    }
}

async fn measure(
    running: &Running,
    idp: &Idp,
    clients: usize,
    length: Length,
    users: Users,
    next_user: &Arc<AtomicU64>,
) -> Row {
    let (server_before, provider_before, driver_before) =
        (running.usage(), idp.counts(), procstat::own_cpu());
    let measured = driver::run(&running.targets(), clients, length, users, next_user).await;
    let (server_after, provider_after, driver_after) = (running.usage(), idp.counts(), procstat::own_cpu());
    Row {
        system: running.system,
        clients,
        measured,
        server: Usage {
            cpu: server_after.cpu.saturating_sub(server_before.cpu),
            peak_rss_kib: server_after.peak_rss_kib,
        },
        driver_cpu: driver_after.saturating_sub(driver_before),
        provider: provider_after.since(&provider_before),
    }
}

/// What must hold whatever the speed: every login succeeded; a warm loginkit login fetches no
/// discovery document or key set and makes exactly two calls (token, user info).
fn check(row: &Row, failures: &mut Vec<String>) {
    let name = row.system.name();
    if row.measured.errors > 0 || row.measured.logins == 0 {
        failures.push(format!(
            "{name} at {} clients: {} logins, {} errors, e.g. {:?}",
            row.clients, row.measured.logins, row.measured.errors, row.measured.first_errors
        ));
    }
    if row.system.is_loginkit() {
        let p = &row.provider;
        if p.discovery + p.jwks > 0 {
            failures.push(format!(
                "{name}: {} discovery and {} key-set fetches on warm logins",
                p.discovery, p.jwks
            ));
        }
        if p.token != row.measured.logins || p.userinfo != row.measured.logins {
            failures.push(format!(
                "{name}: {} token and {} user-info calls for {} logins (expected one each)",
                p.token, p.userinfo, row.measured.logins
            ));
        }
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").map(|m| m.trim().to_owned()))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{model}, {cores} cores, {memory} memory, Linux {}", kernel.trim())
}

fn report(args: &Args, rows: &[Row], scaling: &[(u64, Row)]) -> String {
    let mut out = String::new();
    let mode = if args.smoke { "smoke (a few logins each; numbers mean nothing)" } else { "full" };
    let _ = writeln!(out, "## Run\n\n- machine: {}\n- mode: {mode}", machine());
    if !args.smoke {
        let _ = writeln!(out, "- each run: 2 warm-up logins per client, then {} s measured", args.seconds);
    }
    let _ = writeln!(out, "\n| system | what runs |\n|---|---|");
    let mut seen = Vec::new();
    for row in rows {
        if !seen.contains(&row.system) {
            seen.push(row.system);
            let _ = writeln!(out, "| {} | {} |", row.system.name(), row.system.description());
        }
    }

    let _ = writeln!(
        out,
        "\n## Logins\n\n| system | clients | logins/s | p50 ms | p99 ms | CPU µs/login | peak RSS MiB | outbound/login | new provider connections | driver+provider CPU µs/login | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for row in rows {
        let m = &row.measured;
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.1} | {:.2} | {} | {:.0} | {} |",
            row.system.name(),
            row.clients,
            m.rate(),
            m.quantile_ms(4, 0.5),
            m.quantile_ms(4, 0.99),
            row.cpu_per_login_us(),
            row.server.peak_rss_kib as f64 / 1024.0,
            row.outbound_per_login(),
            row.provider.backchannel_connections,
            row.driver_cpu.as_secs_f64() * 1e6 / m.logins.max(1) as f64,
            m.errors
        );
    }

    let _ = writeln!(
        out,
        "\n## Per step (p50 / p99 ms)\n\n| system | clients | {} |\n|---|---:|---:|---:|---:|---:|",
        STEPS.join(" | ")
    );
    for row in rows {
        let steps: Vec<String> = (0..4)
            .map(|i| {
                format!("{:.2} / {:.2}", row.measured.quantile_ms(i, 0.5), row.measured.quantile_ms(i, 0.99))
            })
            .collect();
        let _ = writeln!(out, "| {} | {} | {} |", row.system.name(), row.clients, steps.join(" | "));
    }

    let find =
        |system: System, clients: usize| rows.iter().find(|r| r.system == system && r.clients == clients);
    let mut ratios = String::new();
    for row in rows.iter().filter(|r| r.system == System::Loginkit) {
        let ratio = |other: System| {
            find(other, row.clients)
                .map_or("–".to_owned(), |o| format!("{:.2}", row.measured.rate() / o.measured.rate()))
        };
        let cpu_beyond = find(System::Ceiling, row.clients)
            .map_or("–".to_owned(), |c| format!("{:.0}", row.cpu_per_login_us() - c.cpu_per_login_us()));
        let _ = writeln!(
            ratios,
            "| {} | {} | {} | {} | {} | {} |",
            row.clients,
            ratio(System::Ceiling),
            ratio(System::OpenIdClient),
            ratio(System::Authlib),
            ratio(System::OpenIdConnect),
            cpu_beyond
        );
    }
    if !ratios.is_empty() {
        let _ = writeln!(
            out,
            "\n## loginkit's logins/s as a multiple of each\n\n| clients | ceiling | openid-client | authlib | openidconnect | loginkit CPU µs/login beyond the ceiling |\n|---:|---:|---:|---:|---:|---:|\n{ratios}"
        );
    }

    if !scaling.is_empty() {
        let _ = writeln!(
            out,
            "## loginkit with many stored users (each login a new user)\n\n| stored users | clients | logins/s | callback p50 ms | callback p99 ms | login p50 ms | CPU µs/login |\n|---:|---:|---:|---:|---:|---:|---:|"
        );
        for (count, row) in scaling {
            let m = &row.measured;
            let _ = writeln!(
                out,
                "| {count} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.0} |",
                row.clients,
                m.rate(),
                m.quantile_ms(2, 0.5),
                m.quantile_ms(2, 0.99),
                m.quantile_ms(4, 0.5),
                row.cpu_per_login_us()
            );
        }
    }
    out
}
