//! Discovery of the provider crates under `providers/` and the checks that span all of them.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::manifest::{self, Provider};
use crate::naming;

/// One crate under `providers/`, with the ids it registers in manifest order.
#[derive(Debug, Clone)]
pub struct ProviderCrate {
    pub dir: String,
    pub providers: Vec<Provider>,
}

/// Everything codegen reads from the workspace.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// `[workspace.package] version`, which every provider crate inherits.
    pub version: String,
    /// Sorted by directory name.
    pub crates: Vec<ProviderCrate>,
}

impl Workspace {
    /// Every provider with its crate, sorted by id.
    pub fn providers(&self) -> Vec<(&ProviderCrate, &Provider)> {
        let mut all: Vec<_> =
            self.crates.iter().flat_map(|c| c.providers.iter().map(move |p| (c, p))).collect();
        all.sort_by(|a, b| a.1.id.cmp(&b.1.id));
        all
    }
}

/// Reads and validates every provider crate; all problems are reported at once.
pub fn load(root: &Path) -> Result<Workspace, String> {
    let mut errors = Vec::new();
    let version = workspace_version(root).unwrap_or_else(|e| {
        errors.push(e);
        String::new()
    });

    let mut dirs = Vec::new();
    let providers_dir = root.join("providers");
    if providers_dir.is_dir() {
        let entries = fs::read_dir(&providers_dir).map_err(|e| format!("providers/: {e}"))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("providers/: {e}"))?;
            if !entry.file_type().map_err(|e| format!("providers/: {e}"))?.is_dir() {
                continue;
            }
            match entry.file_name().into_string() {
                Ok(name) => dirs.push(name),
                Err(name) => {
                    errors.push(format!("providers/{}: directory name is not UTF-8", name.display()))
                }
            }
        }
    }
    dirs.sort();

    let mut crates = Vec::new();
    for dir in dirs {
        match load_crate(root, &dir) {
            Ok(c) => crates.push(c),
            Err(errs) => errors.extend(errs),
        }
    }
    errors.extend(cross_check(&crates));

    if errors.is_empty() { Ok(Workspace { version, crates }) } else { Err(errors.join("\n")) }
}

fn workspace_version(root: &Path) -> Result<String, String> {
    let text = fs::read_to_string(root.join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| format!("Cargo.toml: {e}"))?;
    table
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| "Cargo.toml: `[workspace.package] version` is missing".to_owned())
}

fn load_crate(root: &Path, dir: &str) -> Result<ProviderCrate, Vec<String>> {
    let base = format!("providers/{dir}");
    let mut errors = Vec::new();
    if let Err(e) = naming::validate_dir(dir) {
        errors.push(format!("{base}: {e}"));
    }

    let cargo = format!("{base}/Cargo.toml");
    match fs::read_to_string(root.join(&cargo)) {
        Ok(text) => {
            let expected = naming::package_name(dir);
            match toml::from_str::<toml::Table>(&text) {
                Ok(table) => {
                    let name = table.get("package").and_then(|p| p.get("name")).and_then(|n| n.as_str());
                    if name != Some(expected.as_str()) {
                        errors.push(format!(
                            "{cargo}: `[package] name` must be {expected:?}, found {}",
                            name.map_or("nothing".to_owned(), |n| format!("{n:?}"))
                        ));
                    }
                }
                Err(e) => errors.push(format!("{cargo}: {e}")),
            }
        }
        Err(e) => errors.push(format!("{cargo}: {e}")),
    }

    let lib = format!("{base}/src/lib.rs");
    if !root.join(&lib).is_file() {
        errors.push(format!("{lib}: missing"));
    }

    let manifest_path = format!("{base}/provider.toml");
    let providers = match fs::read_to_string(root.join(&manifest_path)) {
        Ok(text) => match manifest::parse(&manifest_path, &text) {
            Ok(providers) => providers,
            Err(errs) => {
                errors.extend(errs);
                Vec::new()
            }
        },
        Err(e) => {
            errors.push(format!("{manifest_path}: {e}"));
            Vec::new()
        }
    };

    if errors.is_empty() { Ok(ProviderCrate { dir: dir.to_owned(), providers }) } else { Err(errors) }
}

/// Checks the names that must be unique across crates (ids, enum variants) or within one (constants).
pub fn cross_check(crates: &[ProviderCrate]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
    let mut variants: BTreeMap<String, (&str, &str)> = BTreeMap::new();
    for c in crates {
        let mut consts: BTreeMap<String, &str> = BTreeMap::new();
        for p in &c.providers {
            if let Some(other) = ids.insert(&p.id, &c.dir) {
                errors.push(format!(
                    "provider id {:?} is declared by both providers/{other}/provider.toml \
                     and providers/{}/provider.toml",
                    p.id, c.dir
                ));
                continue;
            }
            let variant = naming::variant_name(&p.id);
            if let Some((other_id, other_dir)) = variants.insert(variant.clone(), (&p.id, &c.dir)) {
                errors.push(format!(
                    "provider ids {other_id:?} (providers/{other_dir}) and {:?} (providers/{}) \
                     both become `Provider::{variant}`",
                    p.id, c.dir
                ));
            }
            let constant = naming::const_name(&p.id);
            if let Some(other_id) = consts.insert(constant.clone(), &p.id) {
                errors.push(format!(
                    "providers/{}/provider.toml: ids {other_id:?} and {:?} both become the constant `{constant}`",
                    c.dir, p.id
                ));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn krate(dir: &str, ids: &[&str]) -> ProviderCrate {
        let providers = ids
            .iter()
            .map(|id| {
                let text = format!(
                    "[[provider]]\nid = {id:?}\nname = \"N\"\nsummary = \"S.\"\n\
                     [provider.oauth2]\nauthorize_url = \"https://a\"\ntoken_url = \"https://t\"\n"
                );
                manifest::parse("p", &text).unwrap().remove(0)
            })
            .collect();
        ProviderCrate { dir: dir.into(), providers }
    }

    #[test]
    fn ids_must_be_unique_across_crates() {
        let errors = cross_check(&[krate("a", &["github"]), krate("b", &["github"])]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("providers/a/provider.toml and providers/b/provider.toml"));
    }

    #[test]
    fn variants_must_be_unique() {
        let errors = cross_check(&[krate("paypal", &["paypalSandbox"]), krate("other", &["paypal-sandbox"])]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("Provider::PaypalSandbox"));
    }

    #[test]
    fn providers_are_listed_by_id() {
        let ws = Workspace {
            version: "0.1.0".into(),
            crates: vec![krate("mock", &["mock-unverified", "mock"]), krate("github", &["github"])],
        };
        let ids: Vec<&str> = ws.providers().iter().map(|(_, p)| p.id.as_str()).collect();
        assert_eq!(ids, ["github", "mock", "mock-unverified"]);
    }
}
