//! `cargo xtask new-provider <dir>`: a new provider crate that builds and passes its tests as written,
//! with contract tests, fixtures and a persona for the end-to-end suite.

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
}
