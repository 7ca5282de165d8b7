//! `loginkit-server`: the reference server's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use loginkit_server::{Config, Server};
use tracing_subscriber::EnvFilter;

/// Appwrite-compatible OAuth2 login server. Without a configuration it runs a zero-config demo:
/// project `default`, SQLite under `.loginkit/`, the mock provider, localhost allowed.
#[derive(Debug, Parser)]
#[command(name = "loginkit-server", version)]
struct Cli {
    /// Configuration file (TOML). See docs/server.md.
    #[arg(long, global = true, env = "LOGINKIT_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address, e.g. 127.0.0.1:8080 (port 0 picks a free port). Overrides the file.
    #[arg(long, global = true)]
    listen: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// List the providers compiled into this binary and their capabilities.
    Providers,
    /// Seal every stored provider token with the current key (after a key rotation), report,
    /// and exit. A running server does the same in the background when it starts.
    Reseal,
    /// Print a new API key and the `sha256` line that configures it (the key goes to the app's
    /// server; the configuration keeps only its digest).
    ApiKey,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("LOGINKIT_LOG").unwrap_or_else(|_| EnvFilter::new("info")))
        .with_target(false)
        .init();
    match cli.command {
        Some(Command::Providers) => providers(),
        Some(Command::Reseal) => reseal(cli.config),
        Some(Command::ApiKey) => api_key(),
        Some(Command::Serve) | None => serve(cli.config, cli.listen),
    }
}

fn api_key() -> ExitCode {
    let secret = loginkit_flow::BackendKey::generate_secret();
    println!("key: {secret}");
    println!("# in the project's configuration, under [projects.<id>.api_keys.<name>]:");
    println!("sha256 = \"{}\"", loginkit_flow::BackendKey::digest_of(&secret));
    println!("scopes = [\"sessions.write\", \"users.read\"]");
    ExitCode::SUCCESS
}

fn providers() -> ExitCode {
    let registry = match loginkit::Registry::global() {
        Ok(registry) => registry,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("{:<18} {:<26} capabilities", "id", "name");
    for d in registry.descriptors() {
        let c = d.capabilities;
        let flags: Vec<&str> = [
            (c.pkce, "pkce"),
            (c.oidc, "oidc"),
            (c.refresh, "refresh"),
            (c.revoke, "revoke"),
            (c.form_post, "form_post"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        println!("{:<18} {:<26} {}", d.id, d.display_name, flags.join(","));
    }
    ExitCode::SUCCESS
}

/// The configuration: the file, or the zero-config setup, with the environment applied.
fn load_config(path: Option<&PathBuf>) -> Result<Config, loginkit_server::ConfigError> {
    let mut config = match path {
        Some(path) => Config::from_file(path)?,
        None => Config::zero(),
    };
    config.apply_env(|name| std::env::var(name).ok())?;
    Ok(config)
}

/// Runs `work` on a multi-threaded runtime.
fn run(work: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(work),
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

fn reseal(path: Option<PathBuf>) -> ExitCode {
    run(async move {
        let env = |name: &str| std::env::var(name).ok();
        let server = match load_config(path.as_ref()) {
            Ok(mut config) => {
                // Only the stores and keys are used: no address of consequence, no mock provider.
                config.listen = "127.0.0.1:0".into();
                config.mock_idp = false;
                Server::bind(config, env).await
            }
            Err(error) => Err(error.into()),
        };
        let server = match server {
            Ok(server) => server,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        let mut status = ExitCode::SUCCESS;
        for (project, result) in loginkit_server::reseal(server.state().clone()).await {
            match result {
                Ok(done) => println!(
                    "{project}: {} rows re-sealed with the current key, {} unreadable with every configured key",
                    done.resealed, done.unreadable
                ),
                Err(error) => {
                    eprintln!("{project}: error: {error}");
                    status = ExitCode::FAILURE;
                }
            }
        }
        status
    })
}

fn serve(path: Option<PathBuf>, listen: Option<String>) -> ExitCode {
    run(async move {
        let env = |name: &str| std::env::var(name).ok();
        let mut config = match load_config(path.as_ref()) {
            Ok(config) => config,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        if let Some(listen) = listen {
            config.listen = listen;
        }
        let mock = config.mock_idp;
        let server = match Server::bind(config, env).await {
            Ok(server) => server,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        let url = server.url();
        println!("loginkit-server listening on {}", url.as_str().trim_end_matches('/'));
        if mock {
            println!("open {url} and sign in with the built-in mock provider");
        }
        match server.serve(shutdown_signal()).await {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
