//! `cargo xtask`: loginkit's workspace automation (provider code generation and scaffolding).
//!
//! Provider metadata is read as data from `providers/*/provider.toml`, so this crate depends on no
//! workspace crate and still runs when they do not compile.

mod codegen;
mod manifest;
mod naming;
mod regions;
mod render;
mod scaffold;
mod workspace;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  codegen            regenerate provider descriptors, the facade's Provider enum, its Cargo
                     features and docs/providers from providers/*/provider.toml
  codegen --check    verify those files are up to date without writing anything
  new-provider <dir> scaffold providers/<dir>/ (lowercase kebab-case) and run codegen
  new-provider <id> --out <path>
                     scaffold a provider crate of its own at <path>, outside the repository
                     (its own workspace; loginkit's crates by path), with a conformance test";

const FIX_HINT: &str = "run `cargo xtask codegen` and commit";

#[derive(Debug, PartialEq, Eq)]
enum Task {
    Codegen { check: bool },
    NewProvider { dir: String },
    NewProviderOutside { id: String, out: PathBuf },
    Help,
}

fn parse_args(args: &[String]) -> Result<Task, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["codegen"] => Ok(Task::Codegen { check: false }),
        ["codegen", "--check"] => Ok(Task::Codegen { check: true }),
        ["new-provider", dir] if !dir.starts_with('-') => Ok(Task::NewProvider { dir: (*dir).to_owned() }),
        ["new-provider", id, "--out", out] if !id.starts_with('-') && !out.is_empty() => {
            Ok(Task::NewProviderOutside { id: (*id).to_owned(), out: PathBuf::from(out) })
        }
        [] | ["help" | "--help" | "-h"] => Ok(Task::Help),
        ["codegen", rest @ ..] => Err(format!("codegen: unexpected arguments {rest:?}")),
        ["new-provider", ..] => {
            Err("new-provider takes the crate directory, or an id and `--out <path>`".to_owned())
        }
        [other, ..] => Err(format!("unknown command {other:?}")),
    }
}

/// The workspace root: this crate lives in `<root>/xtask`.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives inside the workspace").to_path_buf()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = match parse_args(&args) {
        Ok(task) => task,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let root = workspace_root();
    let result = match task {
        Task::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Task::Codegen { check: false } => run_codegen(&root),
        Task::Codegen { check: true } => run_check(&root),
        Task::NewProvider { dir } => run_new_provider(&root, &dir),
        Task::NewProviderOutside { id, out } => scaffold::scaffold_outside(&root, &id, &out).map(|created| {
            for file in created {
                println!("created {}", out.join(file).display());
            }
            println!("next: cd {} && cargo test", out.display());
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_codegen(root: &Path) -> Result<(), String> {
    for change in codegen::write(root)? {
        println!("{change}");
    }
    Ok(())
}

fn run_check(root: &Path) -> Result<(), String> {
    let problems = codegen::check(root)?;
    if problems.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    Err(format!("generated files are out of date:\n{}\n{FIX_HINT}", list.join("\n")))
}

fn run_new_provider(root: &Path, dir: &str) -> Result<(), String> {
    scaffold::check_target(root, dir)?;
    // A clash with an existing id would only surface after the files exist; catch it first when
    // the workspace is readable.
    if let Ok(ws) = workspace::load(root) {
        let variant = naming::variant_name(dir);
        if let Some((c, p)) = ws.providers().into_iter().find(|(_, p)| naming::variant_name(&p.id) == variant)
        {
            return Err(if p.id == dir {
                format!("provider id {dir:?} is already registered by providers/{}", c.dir)
            } else {
                format!(
                    "id {dir:?} would clash with {:?} of providers/{} (both are `Provider::{variant}`)",
                    p.id, c.dir
                )
            });
        }
    }
    for path in scaffold::scaffold(root, dir)? {
        println!("created {path}");
    }
    run_codegen(root).map_err(|e| format!("providers/{dir} was created, but codegen failed:\n{e}"))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    /// Fails `cargo test --workspace` when someone edits a `provider.toml` without regenerating.
    #[test]
    fn codegen_is_fresh() {
        let problems = codegen::check(&workspace_root()).unwrap_or_else(|e| panic!("codegen failed:\n{e}"));
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(problems.is_empty(), "generated files are out of date:\n  {}\n{FIX_HINT}", list.join("\n  "));
    }

    #[test]
    fn arguments_are_parsed_by_hand() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(parse_args(&args(&["codegen"])), Ok(Task::Codegen { check: false }));
        assert_eq!(parse_args(&args(&["codegen", "--check"])), Ok(Task::Codegen { check: true }));
        assert_eq!(
            parse_args(&args(&["new-provider", "acme"])),
            Ok(Task::NewProvider { dir: "acme".into() })
        );
        assert_eq!(parse_args(&args(&[])), Ok(Task::Help));
        assert!(parse_args(&args(&["codegen", "--chek"])).is_err());
        assert!(parse_args(&args(&["new-provider"])).is_err());
        assert!(parse_args(&args(&["new-provider", "--force"])).is_err());
        assert_eq!(
            parse_args(&args(&["new-provider", "acme", "--out", "../acme"])),
            Ok(Task::NewProviderOutside { id: "acme".into(), out: "../acme".into() })
        );
        assert!(parse_args(&args(&["new-provider", "acme", "--out"])).is_err());
        assert!(parse_args(&args(&["gen"])).is_err());
    }

    /// Scaffolds into a scratch workspace, generates, and checks the result is then fresh.
    #[test]
    fn scaffold_then_codegen_round_trips() {
        let root = std::env::temp_dir().join(format!("loginkit-xtask-roundtrip-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let guard = RemoveOnDrop(root.clone());
        fs::create_dir_all(root.join("crates/loginkit")).unwrap();
        fs::write(root.join("Cargo.toml"), "[workspace.package]\nversion = \"0.3.0\"\n").unwrap();
        fs::copy(workspace_root().join("rustfmt.toml"), root.join("rustfmt.toml")).unwrap();
        fs::write(
            root.join("crates/loginkit/Cargo.toml"),
            "[package]\nname = \"loginkit\"\n\n[features]\n# BEGIN GENERATED: cargo xtask codegen\n\
             # END GENERATED\n\n[dependencies]\n# BEGIN GENERATED: cargo xtask codegen\n# END GENERATED\n",
        )
        .unwrap();

        let missing = codegen::check(&root).unwrap();
        assert!(missing.contains(&codegen::Problem::Missing("crates/loginkit/src/generated.rs".into())));
        assert!(missing.contains(&codegen::Problem::Stale("crates/loginkit/Cargo.toml".into())));

        scaffold::scaffold(&root, "acme-id").unwrap();
        let changes = codegen::write(&root).unwrap();
        assert!(changes.contains(&"updated providers/acme-id/src/generated.rs".to_owned()), "{changes:?}");
        assert!(changes.contains(&"updated docs/providers/acme-id.md".to_owned()), "{changes:?}");
        assert_eq!(codegen::check(&root).unwrap(), []);
        assert_eq!(codegen::write(&root).unwrap(), Vec::<String>::new());

        let generated = fs::read_to_string(root.join("providers/acme-id/src/generated.rs")).unwrap();
        assert!(generated.contains("pub const ACME_ID: ProviderDescriptor"), "{generated}");
        let facade = fs::read_to_string(root.join("crates/loginkit/src/generated.rs")).unwrap();
        assert!(facade.contains("Provider::AcmeId => Some(&acme_id::ACME_ID)"), "{facade}");
        let manifest = fs::read_to_string(root.join("crates/loginkit/Cargo.toml")).unwrap();
        assert!(manifest.contains(
            "loginkit-provider-acme-id = { path = \"../../providers/acme-id\", version = \"0.3.0\", optional = true }"
        ));

        // Editing an input makes the output stale, and an id that disappears leaves an obsolete page.
        let manifest_path = root.join("providers/acme-id/provider.toml");
        let text = fs::read_to_string(&manifest_path).unwrap().replace("id = \"acme-id\"", "id = \"acmeId\"");
        fs::write(&manifest_path, text).unwrap();
        let problems = codegen::check(&root).unwrap();
        assert!(problems.contains(&codegen::Problem::Stale("providers/acme-id/src/generated.rs".into())));
        assert!(problems.contains(&codegen::Problem::Missing("docs/providers/acmeId.md".into())));
        assert!(problems.contains(&codegen::Problem::Obsolete("docs/providers/acme-id.md".into())));
        codegen::write(&root).unwrap();
        assert_eq!(codegen::check(&root).unwrap(), []);
        assert!(!root.join("docs/providers/acme-id.md").exists());
        drop(guard);
    }

    struct RemoveOnDrop(PathBuf);

    impl Drop for RemoveOnDrop {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}
