//! `cargo xtask new-provider <dir>`: a new provider crate that builds and passes its test as written.

use std::fs;
use std::path::Path;

use crate::naming;

/// Creates `providers/<dir>/` under `root`; returns the created files relative to `root`.
///
/// Refuses to touch an existing directory, so a typo cannot overwrite a provider.
pub fn scaffold(root: &Path, dir: &str) -> Result<Vec<String>, String> {
    check_target(root, dir)?;
    let base = format!("providers/{dir}");
    let crate_dir = root.join(&base);

    let name = naming::title_from_dir(dir);
    let constant = naming::const_name(dir);
    let files = [
        ("Cargo.toml", cargo_toml(dir, &name)),
        ("provider.toml", provider_toml(dir, &name)),
        ("src/lib.rs", lib_rs(&name, &constant)),
        ("tests/contract.rs", contract_rs(dir, &constant)),
    ];

    fs::create_dir_all(crate_dir.join("src")).map_err(|e| format!("{base}/src: {e}"))?;
    fs::create_dir_all(crate_dir.join("tests")).map_err(|e| format!("{base}/tests: {e}"))?;
    let mut created = Vec::new();
    for (file, text) in files {
        let path = format!("{base}/{file}");
        fs::write(root.join(&path), text).map_err(|e| format!("{path}: {e}"))?;
        created.push(path);
    }
    Ok(created)
}

/// Whether `providers/<dir>` may be created: a valid name that is not taken yet.
pub fn check_target(root: &Path, dir: &str) -> Result<(), String> {
    naming::validate_dir(dir)?;
    if root.join("providers").join(dir).exists() {
        return Err(format!("providers/{dir} already exists"));
    }
    Ok(())
}

fn cargo_toml(dir: &str, name: &str) -> String {
    format!(
        r#"[package]
name = "{package}"
description = "loginkit provider crate for {name}"
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[dependencies]
loginkit-core.workspace = true

[dev-dependencies]
loginkit-testkit.workspace = true
serde_json.workspace = true
tokio.workspace = true
wiremock.workspace = true

[lints]
workspace = true
"#,
        package = naming::package_name(dir)
    )
}

fn provider_toml(id: &str, name: &str) -> String {
    format!(
        r#"# Single source of truth for this crate's provider metadata. `cargo xtask codegen` turns it into
# src/generated.rs, the facade's `Provider` enum and docs/providers/{id}.md.

[[provider]]
id = "{id}"
name = "{name}"
summary = "{name} accounts."
docs_url = "https://example.com/docs/oauth"
console = "https://example.com/developers/apps"
scopes = ["profile", "email"]
# Any of: pkce, oidc, refresh, revoke, form_post.
capabilities = ["refresh"]

[provider.oauth2]
authorize_url = "https://example.com/oauth/authorize"
token_url = "https://example.com/oauth/token"
# basic | body | query | none | private_key_jwt
client_auth = "basic"

[provider.userinfo]
url = "https://example.com/api/me"
id = "/id"
email = ["/email"]
# verified | unverified | unknown; or email_verified = "/pointer" / email_present = "/pointer" instead.
email_trust = "unknown"
name = ["/name"]
avatar = ["/avatar_url"]

[provider.docs]
setup = [
  "Create an application in the {name} developer console.",
  "Set its redirect URL to the callback URL below.",
  "Copy the client id and client secret into the configuration.",
]
notes = []
appwrite = []
"#
    )
}

fn lib_rs(name: &str, constant: &str) -> String {
    format!(
        "//! {name} provider for loginkit: a standard OAuth 2.0 provider described by `provider.toml`.\n\
         \n\
         mod generated;\n\
         \n\
         pub use generated::{constant};\n\
         \n\
         loginkit_core::register_provider!({constant});\n"
    )
}

fn contract_rs(dir: &str, constant: &str) -> String {
    let krate = naming::crate_ident(dir);
    format!(
        "//! Contract tests for the {dir} provider: its descriptor matches `provider.toml`.\n\
         \n\
         // Kept for the mock-server tests this crate grows; declared now so the manifest is complete.\n\
         use loginkit_testkit as _;\n\
         use serde_json as _;\n\
         use tokio as _;\n\
         use wiremock as _;\n\
         \n\
         use loginkit_core::descriptor::ProviderDescriptor;\n\
         use {krate}::{constant};\n\
         \n\
         #[test]\n\
         fn descriptor_matches_the_manifest() {{\n\
         \x20   let descriptor: &ProviderDescriptor = &{constant};\n\
         \x20   assert_eq!(descriptor.id, {dir:?});\n\
         \x20   assert!(descriptor.oauth2.authorize_url.starts_with(\"https://\"));\n\
         }}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest;

    /// A scratch directory removed on drop, so failed tests leave nothing behind either.
    struct TempRoot(std::path::PathBuf);

    impl TempRoot {
        fn new(tag: &str) -> Self {
            let path = std::env::temp_dir().join(format!("loginkit-xtask-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            TempRoot(path)
        }
    }

    impl Drop for TempRoot {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn scaffold_writes_a_valid_crate_and_refuses_to_overwrite() {
        let root = TempRoot::new("scaffold");
        let created = scaffold(&root.0, "acme-id").unwrap();
        assert_eq!(
            created,
            [
                "providers/acme-id/Cargo.toml",
                "providers/acme-id/provider.toml",
                "providers/acme-id/src/lib.rs",
                "providers/acme-id/tests/contract.rs",
            ]
        );
        let manifest_text = fs::read_to_string(root.0.join("providers/acme-id/provider.toml")).unwrap();
        let providers = manifest::parse("providers/acme-id/provider.toml", &manifest_text).unwrap();
        assert_eq!(providers[0].id, "acme-id");
        assert_eq!(providers[0].name, "Acme Id");

        let lib = fs::read_to_string(root.0.join("providers/acme-id/src/lib.rs")).unwrap();
        assert!(lib.contains("pub use generated::ACME_ID;\n\nloginkit_core::register_provider!(ACME_ID);"));
        let test = fs::read_to_string(root.0.join("providers/acme-id/tests/contract.rs")).unwrap();
        assert!(test.contains("use loginkit_provider_acme_id::ACME_ID;"));

        let cargo = fs::read_to_string(root.0.join("providers/acme-id/Cargo.toml")).unwrap();
        let table: toml::Table = toml::from_str(&cargo).unwrap();
        assert_eq!(table["package"]["name"].as_str(), Some("loginkit-provider-acme-id"));

        assert!(scaffold(&root.0, "acme-id").unwrap_err().contains("already exists"));
        assert!(scaffold(&root.0, "Acme").is_err());
        assert!(!root.0.join("providers/Acme").exists());
    }
}
