//! `cargo xtask codegen`: computes every generated file, then either writes the changed ones or,
//! with `--check`, only compares them.

use std::collections::BTreeSet;
use std::fs;
use std::io::{ErrorKind, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::regions;
use crate::render::{cargo, descriptor, docs, facade};
use crate::workspace;

/// Where the facade's generated module lives, relative to the workspace root.
const FACADE_PATH: &str = "crates/loginkit/src/generated.rs";

/// The full desired state of the generated files.
#[derive(Debug)]
pub struct Plan {
    /// `(path relative to the root, content)`, in a stable order.
    pub files: Vec<(String, String)>,
    /// Generated provider pages whose id no longer exists.
    pub obsolete: Vec<String>,
}

/// A generated file that does not match its inputs.
#[derive(Debug, PartialEq, Eq)]
pub enum Problem {
    Missing(String),
    Stale(String),
    Obsolete(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing(path) => write!(f, "{path} (missing)"),
            Problem::Stale(path) => write!(f, "{path} (out of date)"),
            Problem::Obsolete(path) => write!(f, "{path} (its provider id no longer exists)"),
        }
    }
}

/// Reads the inputs and renders every output; touches nothing on disk.
pub fn plan(root: &Path) -> Result<Plan, String> {
    let ws = workspace::load(root)?;
    let mut files = Vec::new();

    for c in &ws.crates {
        files.push((format!("providers/{}/src/generated.rs", c.dir), rustfmt(root, &descriptor::render(c))?));
    }
    files.push((FACADE_PATH.to_owned(), rustfmt(root, &facade::render(&ws))?));

    let manifest = match fs::read_to_string(root.join(cargo::PATH)) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(format!(
                "{}: not found; create it with `{}` / `{}` marker lines inside [features] and [dependencies]",
                cargo::PATH,
                regions::TOML.begin,
                regions::TOML.end
            ));
        }
        Err(e) => return Err(format!("{}: {e}", cargo::PATH)),
    };
    files.push((cargo::PATH.to_owned(), cargo::splice(&manifest, &ws)?));

    let mut pages = BTreeSet::new();
    for (c, p) in ws.providers() {
        let path = docs::page_path(&p.id);
        pages.insert(path.clone());
        files.push((path, docs::page(c, p)));
    }

    let matrix = match fs::read_to_string(root.join(docs::MATRIX_PATH)) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => docs::matrix_skeleton(),
        Err(e) => return Err(format!("{}: {e}", docs::MATRIX_PATH)),
    };
    files.push((docs::MATRIX_PATH.to_owned(), docs::splice_matrix(&matrix, &ws)?));

    let obsolete = generated_pages(root)?.into_iter().filter(|p| !pages.contains(p)).collect();
    Ok(Plan { files, obsolete })
}

/// Provider pages on disk that codegen wrote (recognised by their first line).
fn generated_pages(root: &Path) -> Result<Vec<String>, String> {
    let dir = root.join("docs/providers");
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("docs/providers: {e}")),
    };
    let mut pages = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("docs/providers: {e}"))?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        if !name.ends_with(".md") {
            continue;
        }
        let text = fs::read_to_string(entry.path()).unwrap_or_default();
        if text.starts_with(docs::PAGE_HEADER_PREFIX) {
            pages.push(format!("docs/providers/{name}"));
        }
    }
    pages.sort();
    Ok(pages)
}

/// Compares the plan with the disk; opens nothing for writing.
pub fn check(root: &Path) -> Result<Vec<Problem>, String> {
    let plan = plan(root)?;
    let mut problems = Vec::new();
    for (path, want) in &plan.files {
        match fs::read_to_string(root.join(path)) {
            Ok(have) if regions::normalize(&have) == regions::normalize(want) => {}
            Ok(_) => problems.push(Problem::Stale(path.clone())),
            Err(e) if e.kind() == ErrorKind::NotFound => problems.push(Problem::Missing(path.clone())),
            Err(e) => return Err(format!("{path}: {e}")),
        }
    }
    problems.extend(plan.obsolete.into_iter().map(Problem::Obsolete));
    Ok(problems)
}

/// Writes the files whose content changed and deletes obsolete pages; returns one line per change.
pub fn write(root: &Path) -> Result<Vec<String>, String> {
    let plan = plan(root)?;
    let mut changes = Vec::new();
    for (path, want) in &plan.files {
        let full = root.join(path);
        let current = fs::read_to_string(&full).ok();
        if current.is_some_and(|have| regions::normalize(&have) == regions::normalize(want)) {
            continue;
        }
        if let Some(parent) = full.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{path}: {e}"))?;
        }
        fs::write(&full, want).map_err(|e| format!("{path}: {e}"))?;
        changes.push(format!("updated {path}"));
    }
    for path in plan.obsolete {
        fs::remove_file(root.join(&path)).map_err(|e| format!("{path}: {e}"))?;
        changes.push(format!("removed {path}"));
    }
    Ok(changes)
}

/// Formats Rust source exactly as `cargo fmt` would, so formatting the workspace never makes
/// generated files stale.
pub fn rustfmt(root: &Path, source: &str) -> Result<String, String> {
    let program = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let mut cmd = Command::new(&program);
    cmd.args(["--edition", "2024", "--emit", "stdout"]);
    let config = root.join("rustfmt.toml");
    if config.is_file() {
        cmd.arg("--config-path").arg(config);
    }
    let mut child = cmd
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run {}: {e} (install it with `rustup component add rustfmt`, or set RUSTFMT)",
                program.display()
            )
        })?;
    // rustfmt reads all of stdin before writing, so writing first cannot deadlock.
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(source.as_bytes()).map_err(|e| format!("writing to rustfmt: {e}"))?;
    drop(stdin);
    let output = child.wait_with_output().map_err(|e| format!("waiting for rustfmt: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "rustfmt rejected generated code ({}):\n{}\n--- source ---\n{source}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("rustfmt output is not UTF-8: {e}"))
}
