//! The two generated regions of `crates/loginkit/Cargo.toml`: provider features and optional dependencies.

use crate::naming;
use crate::regions::{self, Region};
use crate::workspace::Workspace;

/// Where the facade manifest lives, relative to the workspace root.
pub const PATH: &str = "crates/loginkit/Cargo.toml";

/// Past this width `all-providers` gets one feature per line.
const MAX_LINE: usize = 100;

/// Rewrites the marked regions of the facade manifest; everything else is kept as written.
pub fn splice(text: &str, ws: &Workspace) -> Result<String, String> {
    let text = regions::normalize(text);
    let lines: Vec<&str> = text.lines().collect();
    let hint = format!(
        "{PATH}: put one `{}` ... `{}` region inside [features] and one inside [dependencies]",
        regions::TOML.begin,
        regions::TOML.end
    );
    let found = regions::find(&lines, regions::TOML).map_err(|e| format!("{PATH}: {e}\n{hint}"))?;

    let mut features: Option<Region> = None;
    let mut dependencies: Option<Region> = None;
    for region in found {
        let table = enclosing_table(&lines, region.begin);
        let slot = match table.as_deref() {
            Some("features") => &mut features,
            Some("dependencies") => &mut dependencies,
            other => {
                return Err(format!(
                    "{PATH}: line {}: a generated region inside {} is not expected\n{hint}",
                    region.begin + 1,
                    other.map_or("no table".to_owned(), |t| format!("[{t}]"))
                ));
            }
        };
        if slot.replace(region).is_some() {
            return Err(format!(
                "{PATH}: line {}: a second generated region in the same table\n{hint}",
                region.begin + 1
            ));
        }
    }
    let (Some(features), Some(dependencies)) = (features, dependencies) else {
        return Err(format!("{PATH}: generated region missing\n{hint}"));
    };

    let mut ordered = [(features, features_body(ws)), (dependencies, dependencies_body(ws))];
    ordered.sort_by_key(|(r, _)| r.begin);
    let [(r1, b1), (r2, b2)] = ordered;
    Ok(regions::replace(&lines, &[r1, r2], &[b1, b2]))
}

/// The `[table]` header governing a line, ignoring array-of-tables and comments.
fn enclosing_table(lines: &[&str], at: usize) -> Option<String> {
    lines[..at].iter().rev().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default().trim();
        let inner = line.strip_prefix('[')?.strip_suffix(']')?;
        Some(inner.trim_matches(['[', ']']).trim().to_owned())
    })
}

fn features_body(ws: &Workspace) -> String {
    let dirs: Vec<String> = ws.crates.iter().map(|c| format!("{:?}", c.dir)).collect();
    let one_line = format!("all-providers = [{}]", dirs.join(", "));
    let mut s = if one_line.len() <= MAX_LINE {
        one_line + "\n"
    } else {
        let items: String = dirs.iter().map(|d| format!("    {d},\n")).collect();
        format!("all-providers = [\n{items}]\n")
    };
    for c in &ws.crates {
        s.push_str(&format!("{} = [\"dep:{}\"]\n", c.dir, naming::package_name(&c.dir)));
    }
    s
}

fn dependencies_body(ws: &Workspace) -> String {
    ws.crates
        .iter()
        .map(|c| {
            format!(
                "{} = {{ path = \"../../providers/{}\", version = \"{}\", optional = true }}\n",
                naming::package_name(&c.dir),
                c.dir,
                ws.version
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::ProviderCrate;

    const MANIFEST: &str = "\
[package]
name = \"loginkit\"

[features]
default = []
# BEGIN GENERATED: cargo xtask codegen
stale = []
# END GENERATED
extra = [] # hand-written

[dependencies]
loginkit-core.workspace = true
# BEGIN GENERATED: cargo xtask codegen
# END GENERATED

[lints]
workspace = true
";

    fn ws(dirs: &[&str]) -> Workspace {
        Workspace {
            version: "0.1.0".into(),
            crates: dirs.iter().map(|d| ProviderCrate { dir: (*d).into(), providers: Vec::new() }).collect(),
        }
    }

    #[test]
    fn regions_are_replaced_and_the_rest_kept() {
        let out = splice(MANIFEST, &ws(&["github", "mock"])).unwrap();
        assert_eq!(
            out,
            "[package]\nname = \"loginkit\"\n\n[features]\ndefault = []\n\
             # BEGIN GENERATED: cargo xtask codegen\n\
             all-providers = [\"github\", \"mock\"]\n\
             github = [\"dep:loginkit-provider-github\"]\n\
             mock = [\"dep:loginkit-provider-mock\"]\n\
             # END GENERATED\nextra = [] # hand-written\n\n\
             [dependencies]\nloginkit-core.workspace = true\n\
             # BEGIN GENERATED: cargo xtask codegen\n\
             loginkit-provider-github = { path = \"../../providers/github\", version = \"0.1.0\", optional = true }\n\
             loginkit-provider-mock = { path = \"../../providers/mock\", version = \"0.1.0\", optional = true }\n\
             # END GENERATED\n\n[lints]\nworkspace = true\n"
        );
        assert_eq!(splice(&out, &ws(&["github", "mock"])).unwrap(), out);
        toml::from_str::<toml::Table>(&out).unwrap();
    }

    #[test]
    fn long_feature_lists_wrap() {
        let dirs: Vec<String> = (0..20).map(|i| format!("provider{i:02}")).collect();
        let dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
        let out = splice(MANIFEST, &ws(&dirs)).unwrap();
        assert!(out.contains("all-providers = [\n    \"provider00\",\n"));
        toml::from_str::<toml::Table>(&out).unwrap();
    }

    #[test]
    fn missing_markers_are_an_error() {
        let without = MANIFEST.replace("# BEGIN GENERATED: cargo xtask codegen\n# END GENERATED\n", "");
        let err = splice(&without, &ws(&["github"])).unwrap_err();
        assert!(err.contains("crates/loginkit/Cargo.toml") && err.contains("[dependencies]"), "{err}");
    }

    #[test]
    fn regions_outside_features_and_dependencies_are_an_error() {
        let moved = MANIFEST.replace("[dependencies]", "[dev-dependencies]");
        assert!(splice(&moved, &ws(&["github"])).unwrap_err().contains("[dev-dependencies]"));
    }
}
