//! `cargo xtask new-provider <dir>`: a new provider crate that builds and passes its tests as written,
//! with contract tests, fixtures and a persona for the end-to-end suite; `--out <path>`: the same
//! provider as a crate of its own outside the repository, the way a third party keeps one.

use std::fs;
use std::path::{Component, Path, PathBuf};

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
    let fill = |template: &str| {
        template
            .replace("__ID__", dir)
            .replace("__NAME__", &name)
            .replace("__CONST__", &constant)
            .replace("__CRATE__", &naming::crate_ident(dir))
    };
    let files = [
        ("Cargo.toml", cargo_toml(dir, &name)),
        ("provider.toml", provider_toml(dir, &name)),
        ("src/lib.rs", lib_rs(&name, &constant)),
        ("tests/contract.rs", fill(CONTRACT_RS)),
        ("tests/persona.toml", fill(PERSONA_TOML)),
        ("tests/fixtures/token.json", TOKEN_JSON.to_owned()),
        ("tests/fixtures/user.json", USER_JSON.to_owned()),
        ("tests/fixtures/error.json", ERROR_JSON.to_owned()),
    ];

    for sub in ["src", "tests/fixtures"] {
        fs::create_dir_all(crate_dir.join(sub)).map_err(|e| format!("{base}/{sub}: {e}"))?;
    }
    let mut created = Vec::new();
    for (file, text) in files {
        let path = format!("{base}/{file}");
        fs::write(root.join(&path), text).map_err(|e| format!("{path}: {e}"))?;
        created.push(path);
    }
    Ok(created)
}

/// Creates a provider crate with id `id` at `out`, outside the workspace: its own package and
/// workspace, loginkit's crates by path from `root` (with their version, which is what a third
/// party writes once they are published), the descriptor as Rust in `src/lib.rs` (there is no
/// code generation outside the repository), the persona and fixtures, a conformance test, and the
/// repository's `Cargo.lock` so the first build uses the versions loginkit is tested with.
/// Returns the created files, relative to `out`.
pub fn scaffold_outside(root: &Path, id: &str, out: &Path) -> Result<Vec<String>, String> {
    naming::validate_dir(id)?;
    if out.exists() && fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(format!("{} already exists and is not empty", out.display()));
    }
    let name = naming::title_from_dir(id);
    let constant = naming::const_name(id);
    let manifest = provider_toml(id, &name);
    let providers = crate::manifest::parse("provider.toml", &manifest).map_err(|e| e.join("\n"))?;
    let krate = crate::workspace::ProviderCrate { dir: id.to_owned(), providers };
    let generated = crate::render::descriptor::render(&krate);
    let body = generated.split_once("\n\n").map_or(generated.as_str(), |(_, rest)| rest);
    let lib = format!(
        "//! {name} provider for loginkit, in a crate of its own.\n\
         //!\n\
         //! The descriptor below is data the standard provider reads: endpoints, client\n\
         //! authentication, where the profile's fields are. Edit it to match {name}'s documentation,\n\
         //! and keep `tests/persona.toml` and its fixtures in step. The last line registers it: a\n\
         //! program linking this crate finds `{id}` in its `Registry`.\n\n\
         {body}\n\
         loginkit_core::register_provider!({constant});\n"
    );
    let lib = crate::codegen::rustfmt(root, &lib)?;
    let crates = relative_to(&absolute(out)?, &root.join("crates"));
    let version = crate::workspace::load(root).map(|ws| ws.version).unwrap_or_else(|_| "0.1.0".to_owned());
    let package = naming::package_name(id);
    let cargo = format!(
        r#"[package]
name = "{package}"
version = "0.1.0"
edition = "2024"
description = "{name} accounts for loginkit"
publish = false

# loginkit's crates: by path to a checkout, as this crate was made; once they are published,
# `loginkit-core = "{version}"` and `loginkit-testkit = "{version}"` instead.
[dependencies]
loginkit-core = {{ path = "{crates}/loginkit-core", version = "{version}" }}

[dev-dependencies]
loginkit-testkit = {{ path = "{crates}/loginkit-testkit", version = "{version}" }}
tokio = {{ version = "1", features = ["macros", "rt-multi-thread"] }}

# A workspace of its own.
[workspace]
"#,
        crates = crates.display()
    );
    let conformance = CONFORMANCE_RS
        .replace("__CRATE__", &naming::crate_ident(id))
        .replace("__CONST__", &constant)
        .replace("__ID__", id);
    let persona = PERSONA_TOML
        .replace("__ID__", id)
        .replace("__NAME__", &name)
        .replace(
            "Keep it in step with\n# provider.toml and the fixtures; `cargo test -p loginkit-e2e --test every_provider` logs in with it.",
            "Keep it in step with\n# the descriptor in src/lib.rs and the fixtures; tests/conformance.rs logs in with it.",
        );
    let mut files = vec![
        ("Cargo.toml".to_owned(), cargo),
        ("src/lib.rs".to_owned(), lib),
        ("tests/conformance.rs".to_owned(), conformance),
        ("tests/persona.toml".to_owned(), persona),
        ("tests/fixtures/token.json".to_owned(), TOKEN_JSON.to_owned()),
        ("tests/fixtures/user.json".to_owned(), USER_JSON.to_owned()),
        ("tests/fixtures/error.json".to_owned(), ERROR_JSON.to_owned()),
    ];
    if let Ok(lock) = fs::read_to_string(root.join("Cargo.lock")) {
        files.push(("Cargo.lock".to_owned(), lock));
    }
    for sub in ["src", "tests/fixtures"] {
        fs::create_dir_all(out.join(sub)).map_err(|e| format!("{}: {e}", out.join(sub).display()))?;
    }
    let mut created = Vec::new();
    for (file, text) in files {
        fs::write(out.join(&file), text).map_err(|e| format!("{}: {e}", out.join(&file).display()))?;
        created.push(file);
    }
    Ok(created)
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// `to` as a path relative to `from` (both absolute, made of normal components).
fn relative_to(from: &Path, to: &Path) -> PathBuf {
    fn parts(p: &Path) -> Vec<Component<'_>> {
        p.components().filter(|c| !matches!(c, Component::CurDir)).collect()
    }
    let (from, to) = (parts(from), parts(to));
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to[common..] {
        out.push(part);
    }
    out
}

/// The conformance test of a crate made with `--out`.
const CONFORMANCE_RS: &str = r#"//! This crate as its users get it: linked, the provider is in the registry; and it passes
//! loginkit's conformance kit against tests/persona.toml (a whole login, each step a named check).

use loginkit_core::Registry;
use __CRATE__::__CONST__;

#[test]
fn linking_the_crate_registers_the_provider() {
    let registry = Registry::global().expect("the registry builds");
    let found = registry.get("__ID__").expect("the provider is registered");
    assert_eq!(found.display_name, __CONST__.display_name);
}

#[tokio::test]
async fn the_provider_passes_the_conformance_kit() {
    let reports = loginkit_testkit::conformance::check_crate(env!("CARGO_MANIFEST_DIR")).await;
    for report in &reports.0 {
        println!("{report}");
    }
    reports.assert_passed();
}
"#;

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
tokio = {{ workspace = true, features = ["macros", "rt-multi-thread"] }}

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

/// Contract tests against `loginkit_testkit::contract::ContractServer`, matching the templates of
/// `provider.toml` and `tests/fixtures/`.
const CONTRACT_RS: &str = r#"//! __NAME__ contract tests: the exact requests loginkit sends and what it reads from answers shaped
//! like __NAME__'s documented ones (`tests/fixtures/`).

use std::collections::BTreeMap;

use loginkit_core::{
    AuthorizeRequest, EmailTrust, ExchangeRequest, HttpClient, ProviderConfig, RefreshToken,
};
use __CRATE__::__CONST__;
use loginkit_testkit::contract::{ContractServer, access, code, fixture, pairs, redirect_uri};

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const CLIENT_ID: &str = "client-id-example";
const CLIENT_SECRET: &str = "client-secret-example";

fn config() -> ProviderConfig {
    ProviderConfig::new(CLIENT_ID, CLIENT_SECRET)
}

#[test]
fn authorize_url() {
    let http = HttpClient::with_defaults().unwrap();
    let provider = __CONST__.instantiate(config(), http).unwrap();
    let redirect = redirect_uri("__ID__");
    let url = provider.authorize_url(&AuthorizeRequest::new(&redirect, "s")).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some("https://example.com/oauth/authorize"));
    let sent: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let expected = pairs(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "profile email"),
        ("state", "s"),
    ]);
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn code_exchange() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 200, fixture(DIR, "token.json")).await;
    let (code, redirect) = (code("code-example"), redirect_uri("__ID__"));
    let provider = server.provider(&__CONST__, config());
    let tokens = provider.exchange_code(&ExchangeRequest::new(&code, &redirect)).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "access-token-example");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "refresh-token-example");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 3600);

    let sent = server.only_request().await;
    assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    let expected = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", "code-example"),
        ("redirect_uri", redirect.as_str()),
    ]);
    assert_eq!(sent.form, expected);
}

#[tokio::test]
async fn refresh() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 200, fixture(DIR, "token.json")).await;
    let refresh = RefreshToken::new("refresh-token-old".into());
    let provider = server.provider(&__CONST__, config());
    let tokens = provider.refresh(&refresh).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "access-token-example");
    let form = server.only_request().await.form;
    assert_eq!(form, pairs(&[("grant_type", "refresh_token"), ("refresh_token", "refresh-token-old")]));
}

#[tokio::test]
async fn token_error_keeps_the_providers_code() {
    let server = ContractServer::start().await;
    server.respond_json("POST", "/oauth/token", 400, fixture(DIR, "error.json")).await;
    let (code, redirect) = (code("stale"), redirect_uri("__ID__"));
    let provider = server.provider(&__CONST__, config());
    let err = provider.exchange_code(&ExchangeRequest::new(&code, &redirect)).await.unwrap_err();
    assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_grant"), Some(400)));
}

#[tokio::test]
async fn userinfo_profile() {
    let server = ContractServer::start().await;
    server.respond_json("GET", "/api/me", 200, fixture(DIR, "user.json")).await;
    let provider = server.provider(&__CONST__, config());
    let profile = provider.user_profile(&access("access-token-example")).await.unwrap();
    assert_eq!(profile.id, "1001");
    assert_eq!(profile.email.as_deref(), Some("user@example.com"));
    assert_eq!(profile.email_trust, EmailTrust::Unknown);
    assert_eq!(profile.name.as_deref(), Some("Example User"));
    assert_eq!(profile.avatar_url.as_deref(), Some("https://example.com/avatars/1001.png"));
    assert_eq!(server.only_request().await.header("authorization"), Some("Bearer access-token-example"));
}
"#;

/// The persona the end-to-end suite logs in against, matching the `provider.toml` template.
const PERSONA_TOML: &str = r#"# How the testkit's impersonating mock identity provider plays __NAME__ (docs/writing-a-provider.md,
# "Persona"): the provider's paths, client authentication and answers. Keep it in step with
# provider.toml and the fixtures; `cargo test -p loginkit-e2e --test every_provider` logs in with it.

[[persona]]
id = "__ID__"
config = {}

[persona.authorize]
path = "/oauth/authorize"
require = ["client_id", "redirect_uri", "response_type", "scope", "state"]
values = { response_type = "code" }

[persona.token]
path = "/oauth/token"
method = "POST"
client_auth = "basic"
response = "token.json"
content_type = "application/json"
error_status = 400
error = "error.json"

[persona.refresh]
response = "token.json"

[[persona.userinfo]]
path = "/api/me"
token = "bearer"
response = "user.json"

[persona.expect]
id = "1001"
email = "user@example.com"
email_trust = "unknown"
name = "Example User"
"#;

/// A token answer as RFC 6749 §5.1 shapes it; replace with the provider's documented one.
const TOKEN_JSON: &str = r#"{
  "access_token": "access-token-example",
  "token_type": "Bearer",
  "expires_in": 3600,
  "refresh_token": "refresh-token-example",
  "scope": "profile email"
}
"#;

/// A user-info answer; replace with the provider's documented one.
const USER_JSON: &str = r#"{
  "id": "1001",
  "email": "user@example.com",
  "name": "Example User",
  "avatar_url": "https://example.com/avatars/1001.png"
}
"#;

/// A token-endpoint error as RFC 6749 §5.2 shapes it; replace with the provider's documented one.
const ERROR_JSON: &str = r#"{
  "error": "invalid_grant",
  "error_description": "The authorization code is invalid or expired."
}
"#;

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
                "providers/acme-id/tests/persona.toml",
                "providers/acme-id/tests/fixtures/token.json",
                "providers/acme-id/tests/fixtures/user.json",
                "providers/acme-id/tests/fixtures/error.json",
            ]
        );
        let manifest_text = fs::read_to_string(root.0.join("providers/acme-id/provider.toml")).unwrap();
        let providers = manifest::parse("providers/acme-id/provider.toml", &manifest_text).unwrap();
        assert_eq!(providers[0].id, "acme-id");
        assert_eq!(providers[0].name, "Acme Id");

        let lib = fs::read_to_string(root.0.join("providers/acme-id/src/lib.rs")).unwrap();
        assert!(lib.contains("pub use generated::ACME_ID;\n\nloginkit_core::register_provider!(ACME_ID);"));
        let test = fs::read_to_string(root.0.join("providers/acme-id/tests/contract.rs")).unwrap();
        assert!(test.starts_with("//! Acme Id contract tests"), "{test}");
        assert!(test.contains("use loginkit_provider_acme_id::ACME_ID;"));
        assert!(test.contains("use loginkit_testkit::contract::{"));
        assert!(
            test.contains("redirect_uri(\"acme-id\")") && !test.contains("__"),
            "placeholders are filled"
        );

        let cargo = fs::read_to_string(root.0.join("providers/acme-id/Cargo.toml")).unwrap();
        let table: toml::Table = toml::from_str(&cargo).unwrap();
        assert_eq!(table["package"]["name"].as_str(), Some("loginkit-provider-acme-id"));
        let dev: Vec<&String> = table["dev-dependencies"].as_table().unwrap().keys().collect();
        assert_eq!(dev, ["loginkit-testkit", "tokio"]);

        let persona = fs::read_to_string(root.0.join("providers/acme-id/tests/persona.toml")).unwrap();
        let persona: toml::Table = toml::from_str(&persona).unwrap();
        let first = &persona["persona"].as_array().unwrap()[0];
        assert_eq!(first["id"].as_str(), Some("acme-id"));
        assert_eq!(first["token"]["client_auth"].as_str(), Some("basic"), "as provider.toml's client_auth");
        for fixture in ["token.json", "user.json", "error.json"] {
            let text =
                fs::read_to_string(root.0.join("providers/acme-id/tests/fixtures").join(fixture)).unwrap();
            assert!(text.starts_with('{') && text.ends_with("}\n"), "{fixture}");
        }

        assert!(scaffold(&root.0, "acme-id").unwrap_err().contains("already exists"));
        assert!(scaffold(&root.0, "Acme").is_err());
        assert!(!root.0.join("providers/Acme").exists());
    }

    #[test]
    fn a_crate_outside_the_repository_has_its_own_workspace_and_a_conformance_test() {
        let scratch = TempRoot::new("outside");
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let out = scratch.0.join("acme-id");
        let created = scaffold_outside(repo, "acme-id", &out).unwrap();
        assert_eq!(created[..4], ["Cargo.toml", "src/lib.rs", "tests/conformance.rs", "tests/persona.toml"]);
        let cargo: toml::Table =
            toml::from_str(&fs::read_to_string(out.join("Cargo.toml")).unwrap()).unwrap();
        assert!(cargo.contains_key("workspace"), "a workspace of its own");
        let core = &cargo["dependencies"]["loginkit-core"];
        let core_path = out.join(core["path"].as_str().unwrap());
        assert!(core_path.join("Cargo.toml").is_file(), "{} is loginkit-core", core_path.display());
        let lib = fs::read_to_string(out.join("src/lib.rs")).unwrap();
        assert!(lib.contains("pub const ACME_ID: ProviderDescriptor = ProviderDescriptor::new("), "{lib}");
        assert!(lib.trim_end().ends_with("loginkit_core::register_provider!(ACME_ID);"), "{lib}");
        let test = fs::read_to_string(out.join("tests/conformance.rs")).unwrap();
        assert!(test.contains("use loginkit_provider_acme_id::ACME_ID;") && !test.contains("__"));
        let persona = fs::read_to_string(out.join("tests/persona.toml")).unwrap();
        assert!(persona.contains("id = \"acme-id\"") && !persona.contains("__"));
        assert!(out.join("Cargo.lock").is_file(), "the repository's lock file");
        assert!(scaffold_outside(repo, "acme-id", &out).unwrap_err().contains("not empty"));
    }
}
