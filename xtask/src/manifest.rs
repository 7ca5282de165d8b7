//! The `provider.toml` schema and its validation into the model the renderers consume.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::naming;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    provider: Vec<RawProvider>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    id: String,
    name: String,
    summary: String,
    #[serde(default)]
    docs_url: String,
    #[serde(default)]
    console: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default = "standard")]
    implementation: String,
    oauth2: RawOAuth2,
    userinfo: Option<RawUserInfo>,
    openid: Option<RawOpenId>,
    #[serde(default)]
    config: Vec<RawConfigKey>,
    #[serde(default)]
    docs: RawGuide,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOAuth2 {
    authorize_url: String,
    token_url: String,
    refresh_url: Option<String>,
    revoke_url: Option<String>,
    #[serde(default)]
    revoke_bearer: bool,
    client_id_param: Option<String>,
    #[serde(default = "basic")]
    client_auth: String,
    #[serde(default = "post")]
    token_method: String,
    #[serde(default = "form")]
    token_body: String,
    #[serde(default)]
    token_headers: BTreeMap<String, String>,
    #[serde(default = "space")]
    scope_delimiter: String,
    #[serde(default = "scope")]
    scope_param: String,
    #[serde(default = "yes")]
    response_type: bool,
    #[serde(default)]
    authorize_params: BTreeMap<String, String>,
    #[serde(default)]
    token_params: BTreeMap<String, String>,
    token_pointer: Option<String>,
    #[serde(default)]
    config_params: BTreeMap<String, String>,
    #[serde(default)]
    login_params: Vec<String>,
}

/// A string, or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUserInfo {
    url: String,
    #[serde(default = "get")]
    method: String,
    #[serde(default = "bearer")]
    token: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    id: String,
    #[serde(default)]
    id_fallback: Vec<String>,
    previous_id: Option<String>,
    #[serde(default)]
    email: Vec<String>,
    email_trust: Option<String>,
    email_verified: Option<OneOrMany>,
    email_present: Option<String>,
    #[serde(default)]
    name: Vec<String>,
    #[serde(default)]
    avatar: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOpenId {
    issuer: String,
    #[serde(default)]
    issuer_aliases: Vec<String>,
    jwks_url: String,
    #[serde(default)]
    per_tenant: bool,
    #[serde(default = "sub_pointer")]
    userinfo_subject: String,
    #[serde(default = "yes")]
    nonce: bool,
}

fn sub_pointer() -> String {
    "/sub".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfigKey {
    key: String,
    description: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    secret: bool,
    default: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuide {
    #[serde(default)]
    setup: Vec<String>,
    #[serde(default)]
    notes: Vec<String>,
    #[serde(default)]
    appwrite: Vec<String>,
    /// Describes a client secret the provider needs although its token calls do not send it
    /// (Etsy's `x-api-key`); the docs then list the secret as required.
    #[serde(default)]
    client_secret: Option<String>,
}

fn form() -> String {
    "form".into()
}

fn standard() -> String {
    "standard".into()
}
fn basic() -> String {
    "basic".into()
}
fn post() -> String {
    "post".into()
}
fn get() -> String {
    "get".into()
}
fn space() -> String {
    " ".into()
}
fn scope() -> String {
    "scope".into()
}
fn bearer() -> String {
    "bearer".into()
}
fn yes() -> bool {
    true
}

/// One registered provider id, validated.
#[derive(Debug, Clone)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub summary: String,
    pub docs_url: String,
    pub console_url: String,
    pub scopes: Vec<String>,
    pub capabilities: Capabilities,
    /// `implementation = "custom"`: the crate supplies its own constructor.
    pub custom: bool,
    pub oauth2: OAuth2,
    pub userinfo: Option<UserInfo>,
    pub openid: Option<OpenId>,
    pub config: Vec<ConfigKey>,
    pub guide: Guide,
}

/// The capability flags, in the order the descriptor builder and the docs list them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub pkce: bool,
    pub oidc: bool,
    pub refresh: bool,
    pub revoke: bool,
    pub form_post: bool,
}

impl Capabilities {
    /// Manifest spelling of every capability.
    pub const NAMES: [&'static str; 5] = ["pkce", "oidc", "refresh", "revoke", "form_post"];

    /// `(manifest name, enabled)` for every capability, in `NAMES` order.
    pub fn flags(&self) -> [(&'static str, bool); 5] {
        let [pkce, oidc, refresh, revoke, form_post] = Self::NAMES;
        [
            (pkce, self.pkce),
            (oidc, self.oidc),
            (refresh, self.refresh),
            (revoke, self.revoke),
            (form_post, self.form_post),
        ]
    }

    fn enable(&mut self, name: &str) -> bool {
        let flag = match name {
            "pkce" => &mut self.pkce,
            "oidc" => &mut self.oidc,
            "refresh" => &mut self.refresh,
            "revoke" => &mut self.revoke,
            "form_post" => &mut self.form_post,
            _ => return false,
        };
        *flag = true;
        true
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Basic,
    Body,
    Query,
    None,
    PrivateKeyJwt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
}

impl HttpMethod {
    /// The method as it appears on the wire.
    pub fn as_http(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OAuth2 {
    pub authorize_url: String,
    pub token_url: String,
    pub refresh_url: Option<String>,
    pub revoke_url: Option<String>,
    /// The access token authenticates the revocation call and is the one revoked.
    pub revoke_bearer: bool,
    /// The client id parameter's name, when it is not `client_id`.
    pub client_id_param: Option<String>,
    pub client_auth: ClientAuth,
    pub token_method: HttpMethod,
    /// `true` when token-endpoint bodies are JSON rather than a form.
    pub token_body_json: bool,
    pub token_headers: BTreeMap<String, String>,
    pub scope_delimiter: String,
    pub scope_param: String,
    pub response_type: bool,
    pub authorize_params: BTreeMap<String, String>,
    pub token_params: BTreeMap<String, String>,
    pub token_pointer: Option<String>,
    pub config_params: BTreeMap<String, String>,
    /// Provider-specific authorize parameters a login may pass (Google's `hd`).
    pub login_params: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenPlacement {
    Bearer,
    Query(String),
    Scheme(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTrust {
    Verified,
    Unverified,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailRule {
    Fixed(EmailTrust),
    Flag(String),
    Presence(String),
    /// Verified when every flag is true.
    AllFlags(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct UserInfo {
    pub url: String,
    pub method: HttpMethod,
    pub token: TokenPlacement,
    pub headers: BTreeMap<String, String>,
    pub id: String,
    /// Pointers tried when `id` is absent.
    pub id_fallback: Vec<String>,
    /// Pointer to the id the provider knew the account by before `id`.
    pub previous_id: Option<String>,
    pub email: Vec<String>,
    pub email_rule: EmailRule,
    pub name: Vec<String>,
    pub avatar: Vec<String>,
}

/// `[provider.openid]`: how ID tokens are verified.
#[derive(Debug, Clone)]
pub struct OpenId {
    pub issuer: String,
    pub issuer_aliases: Vec<String>,
    pub jwks_url: String,
    /// `{tenantid}` in the issuer is filled from each token's `tid`.
    pub per_tenant: bool,
    /// User-info pointer compared with the token's `sub`; `None` when the crate checks it itself.
    pub userinfo_subject: Option<String>,
    /// Whether the provider echoes `nonce` into its ID tokens.
    pub nonce: bool,
}

#[derive(Debug, Clone)]
pub struct ConfigKey {
    pub key: String,
    pub description: String,
    pub required: bool,
    pub secret: bool,
    pub default: Option<String>,
}

/// Documentation-only text.
#[derive(Debug, Clone, Default)]
pub struct Guide {
    pub setup: Vec<String>,
    pub notes: Vec<String>,
    pub appwrite: Vec<String>,
    pub client_secret: Option<String>,
}

impl Provider {
    /// Every endpoint URL with its manifest field name, for placeholder checks and docs.
    pub fn endpoint_urls(&self) -> Vec<(&'static str, &str)> {
        let o = &self.oauth2;
        let mut urls =
            vec![("oauth2.authorize_url", o.authorize_url.as_str()), ("oauth2.token_url", &o.token_url)];
        if let Some(url) = &o.refresh_url {
            urls.push(("oauth2.refresh_url", url));
        }
        if let Some(url) = &o.revoke_url {
            urls.push(("oauth2.revoke_url", url));
        }
        if let Some(u) = &self.userinfo {
            urls.push(("userinfo.url", &u.url));
        }
        if let Some(o) = &self.openid {
            urls.push(("openid.jwks_url", &o.jwks_url));
        }
        urls
    }
}

/// Parses one `provider.toml`; every message names `path`.
pub fn parse(path: &str, text: &str) -> Result<Vec<Provider>, Vec<String>> {
    let raw: RawManifest = toml::from_str(text).map_err(|e| vec![toml_error(path, text, &e)])?;
    if raw.provider.is_empty() {
        return Err(vec![format!("{path}: declares no `[[provider]]` table")]);
    }
    let mut providers = Vec::new();
    let mut errors = Vec::new();
    for p in raw.provider {
        let id = p.id.clone();
        match validate(p) {
            Ok(p) => providers.push(p),
            Err(errs) => errors.extend(errs.into_iter().map(|e| format!("{path}: provider {id:?}: {e}"))),
        }
    }
    if errors.is_empty() { Ok(providers) } else { Err(errors) }
}

fn toml_error(path: &str, text: &str, error: &toml::de::Error) -> String {
    let mut msg = format!("{path}: {}", error.to_string().trim_end());
    // `[provider.docs]` is the documentation table, so a `docs = "<url>"` key collides with it.
    if text.lines().any(|l| l.trim_start().starts_with("docs =") || l.trim_start().starts_with("docs=")) {
        msg.push_str("\nhint: the provider's documentation URL is `docs_url = \"...\"`; `docs` is the `[provider.docs]` table");
    }
    msg
}

fn one_of<T: Copy>(what: &str, value: &str, options: &[(&str, T)]) -> Result<T, String> {
    options.iter().find(|(name, _)| *name == value).map(|&(_, v)| v).ok_or_else(|| {
        let names: Vec<String> = options.iter().map(|(n, _)| format!("{n:?}")).collect();
        format!("unknown {what} {value:?} (expected one of {})", names.join(", "))
    })
}

fn check_pointer(field: &str, pointer: &str) -> Result<(), String> {
    if pointer.starts_with('/') {
        Ok(())
    } else {
        Err(format!("{field}: {pointer:?} is not a JSON pointer (it must start with `/`)"))
    }
}

fn token_placement(value: &str) -> Result<TokenPlacement, String> {
    if value == "bearer" {
        return Ok(TokenPlacement::Bearer);
    }
    if let Some(param) = value.strip_prefix("query:")
        && !param.is_empty()
    {
        return Ok(TokenPlacement::Query(param.to_owned()));
    }
    if let Some(scheme) = value.strip_prefix("scheme:")
        && !scheme.is_empty()
    {
        return Ok(TokenPlacement::Scheme(scheme.to_owned()));
    }
    Err(format!(
        "userinfo.token: unknown token placement {value:?} \
         (expected \"bearer\", \"query:<param>\" or \"scheme:<Scheme>\")"
    ))
}

/// The `{name}` placeholders of an endpoint URL.
pub fn placeholders(url: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = url;
    while let Some(at) = rest.find(['{', '}']) {
        if rest[at..].starts_with('}') {
            return Err(format!("{url:?} has a `}}` without a matching `{{`"));
        }
        let after = &rest[at + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!("{url:?} has a `{{` without a matching `}}`"));
        };
        let name = &after[..close];
        if name.is_empty() || name.contains('{') {
            return Err(format!("{url:?} has a malformed placeholder `{{{name}}}`"));
        }
        names.push(name);
        rest = &after[close + 1..];
    }
    Ok(names)
}

fn validate(raw: RawProvider) -> Result<Provider, Vec<String>> {
    let mut errors = Vec::new();
    let mut ok = |r: Result<(), String>| {
        if let Err(e) = r {
            errors.push(e);
        }
    };

    ok(naming::validate_id(&raw.id));
    if raw.name.trim().is_empty() {
        ok(Err("`name` is empty".into()));
    }
    if raw.summary.trim().is_empty() {
        ok(Err("`summary` is empty".into()));
    }
    if raw.scopes.iter().any(|s| s.trim().is_empty()) {
        ok(Err("`scopes` contains an empty scope".into()));
    }

    let mut capabilities = Capabilities::default();
    for cap in &raw.capabilities {
        if !capabilities.enable(cap) {
            let names: Vec<String> = Capabilities::NAMES.iter().map(|n| format!("{n:?}")).collect();
            ok(Err(format!("unknown capability {cap:?} (expected one of {})", names.join(", "))));
        }
    }
    let custom = match one_of("implementation", &raw.implementation, &[("standard", false), ("custom", true)])
    {
        Ok(custom) => custom,
        Err(e) => {
            ok(Err(e));
            false
        }
    };

    let o = raw.oauth2;
    let client_auth = one_of(
        "client_auth",
        &o.client_auth,
        &[
            ("basic", ClientAuth::Basic),
            ("body", ClientAuth::Body),
            ("query", ClientAuth::Query),
            ("none", ClientAuth::None),
            ("private_key_jwt", ClientAuth::PrivateKeyJwt),
        ],
    );
    let methods = [("get", HttpMethod::Get), ("post", HttpMethod::Post)];
    let token_method = one_of("token_method", &o.token_method, &methods);
    let token_body_json = match o.token_body.as_str() {
        "json" => true,
        "form" => false,
        other => {
            ok(Err(format!("oauth2.token_body must be \"form\" or \"json\", not {other:?}")));
            false
        }
    };
    for (field, url) in [("authorize_url", &o.authorize_url), ("token_url", &o.token_url)] {
        if url.trim().is_empty() {
            ok(Err(format!("oauth2.{field} is empty")));
        }
    }
    if o.scope_delimiter.is_empty() {
        ok(Err("oauth2.scope_delimiter is empty".into()));
    }
    if o.scope_param.trim().is_empty() {
        ok(Err("oauth2.scope_param is empty".into()));
    }
    if let Some(p) = &o.token_pointer {
        ok(check_pointer("oauth2.token_pointer", p));
    }

    let userinfo = raw.userinfo.map(|u| {
        let method = one_of("userinfo.method", &u.method, &methods);
        let token = token_placement(&u.token);
        ok(check_pointer("userinfo.id", &u.id));
        if let Some(previous) = &u.previous_id {
            ok(check_pointer("userinfo.previous_id", previous));
        }
        for (field, list) in [
            ("userinfo.id_fallback", &u.id_fallback),
            ("userinfo.email", &u.email),
            ("userinfo.name", &u.name),
            ("userinfo.avatar", &u.avatar),
        ] {
            for p in list {
                ok(check_pointer(field, p));
            }
        }
        let rule = match (u.email_trust, u.email_verified, u.email_present) {
            (trust, None, None) => one_of(
                "email_trust",
                trust.as_deref().unwrap_or("unknown"),
                &[
                    ("verified", EmailTrust::Verified),
                    ("unverified", EmailTrust::Unverified),
                    ("unknown", EmailTrust::Unknown),
                ],
            )
            .map(EmailRule::Fixed),
            (None, Some(OneOrMany::One(flag)), None) => {
                check_pointer("userinfo.email_verified", &flag).map(|()| EmailRule::Flag(flag))
            }
            (None, Some(OneOrMany::Many(flags)), None) if !flags.is_empty() => flags
                .iter()
                .try_for_each(|flag| check_pointer("userinfo.email_verified", flag))
                .map(|()| EmailRule::AllFlags(flags)),
            (None, None, Some(present)) => {
                check_pointer("userinfo.email_present", &present).map(|()| EmailRule::Presence(present))
            }
            (trust, verified, present) => {
                let set: Vec<&str> = [
                    ("email_trust", trust.is_some()),
                    ("email_verified", verified.is_some()),
                    ("email_present", present.is_some()),
                ]
                .into_iter()
                .filter(|(_, set)| *set)
                .map(|(n, _)| n)
                .collect();
                Err(format!(
                    "userinfo: email_trust, email_verified and email_present are mutually exclusive, \
                     but {} are all set",
                    set.join(" and ")
                ))
            }
        };
        if u.url.trim().is_empty() {
            ok(Err("userinfo.url is empty".into()));
        }
        match (method, token, rule) {
            (Ok(method), Ok(token), Ok(email_rule)) => Some(UserInfo {
                url: u.url,
                method,
                token,
                headers: u.headers,
                id: u.id,
                id_fallback: u.id_fallback,
                previous_id: u.previous_id,
                email: u.email,
                email_rule,
                name: u.name,
                avatar: u.avatar,
            }),
            (method, token, rule) => {
                for e in [method.err(), token.err(), rule.err()].into_iter().flatten() {
                    ok(Err(e));
                }
                None
            }
        }
    });

    let mut keys = BTreeSet::new();
    for c in &raw.config {
        let shape_ok = c.key.starts_with(|ch: char| ch.is_ascii_alphabetic())
            && c.key.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !shape_ok {
            ok(Err(format!("config key {:?} must match `[A-Za-z][A-Za-z0-9_]*`", c.key)));
        }
        if c.key == "client_id" || c.key == "client_secret" {
            ok(Err(format!("config key {:?} is built in and cannot be declared", c.key)));
        }
        if !keys.insert(c.key.as_str()) {
            ok(Err(format!("config key {:?} is declared twice", c.key)));
        }
    }
    for key in o.config_params.keys() {
        if !keys.contains(key.as_str()) {
            ok(Err(format!("oauth2.config_params: {key:?} is not a declared `[[provider.config]]` key")));
        }
    }

    let (client_auth, token_method) = match (client_auth, token_method) {
        (Ok(auth), Ok(method)) => (auth, method),
        (auth, method) => {
            errors.extend(auth.err());
            errors.extend(method.err());
            return Err(errors);
        }
    };
    let provider = Provider {
        id: raw.id,
        name: raw.name,
        summary: raw.summary,
        docs_url: raw.docs_url,
        console_url: raw.console,
        scopes: raw.scopes,
        capabilities,
        custom,
        oauth2: OAuth2 {
            authorize_url: o.authorize_url,
            token_url: o.token_url,
            refresh_url: o.refresh_url,
            revoke_url: o.revoke_url,
            revoke_bearer: o.revoke_bearer,
            client_id_param: o.client_id_param,
            client_auth,
            token_method,
            token_body_json,
            token_headers: o.token_headers,
            scope_delimiter: o.scope_delimiter,
            scope_param: o.scope_param,
            response_type: o.response_type,
            authorize_params: o.authorize_params,
            token_params: o.token_params,
            token_pointer: o.token_pointer,
            config_params: o.config_params,
            login_params: o.login_params,
        },
        userinfo: userinfo.flatten(),
        openid: raw.openid.map(|o| OpenId {
            issuer: o.issuer,
            issuer_aliases: o.issuer_aliases,
            jwks_url: o.jwks_url,
            per_tenant: o.per_tenant,
            userinfo_subject: Some(o.userinfo_subject).filter(|s| !s.is_empty()),
            nonce: o.nonce,
        }),
        config: raw
            .config
            .into_iter()
            .map(|c| ConfigKey {
                key: c.key,
                description: c.description,
                required: c.required,
                secret: c.secret,
                default: c.default,
            })
            .collect(),
        guide: Guide {
            setup: raw.docs.setup,
            notes: raw.docs.notes,
            appwrite: raw.docs.appwrite,
            client_secret: raw.docs.client_secret,
        },
    };
    for (field, url) in provider.endpoint_urls() {
        match placeholders(url) {
            Ok(names) => {
                for name in names {
                    if !provider.config.iter().any(|c| c.key == name) {
                        errors.push(format!(
                            "{field}: placeholder `{{{name}}}` is not a declared `[[provider.config]]` key"
                        ));
                    }
                }
            }
            Err(e) => errors.push(format!("{field}: {e}")),
        }
    }
    if let Some(o) = &provider.openid {
        if !provider.capabilities.oidc {
            errors.push("[provider.openid] needs the `oidc` capability".into());
        }
        if o.per_tenant && !o.issuer.contains("{tenantid}") {
            errors.push("openid.per_tenant needs a `{tenantid}` placeholder in openid.issuer".into());
        }
        if let Some(pointer) = &o.userinfo_subject
            && !pointer.starts_with('/')
        {
            errors.push(format!("openid.userinfo_subject: {pointer:?} is not a JSON pointer"));
        }
        for issuer in std::iter::once(&o.issuer).chain(&o.issuer_aliases) {
            match placeholders(issuer) {
                Ok(names) => {
                    for name in names {
                        let tenant = o.per_tenant && name == "tenantid";
                        if !tenant && !provider.config.iter().any(|c| c.key == name) {
                            errors.push(format!(
                                "openid.issuer: placeholder `{{{name}}}` is not a declared `[[provider.config]]` key"
                            ));
                        }
                    }
                }
                Err(e) => errors.push(format!("openid.issuer: {e}")),
            }
        }
    }
    if errors.is_empty() { Ok(provider) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "providers/acme/provider.toml";

    fn manifest(provider_extra: &str, oauth2_extra: &str, userinfo: &str) -> String {
        format!(
            r#"
[[provider]]
id = "acme"
name = "Acme"
summary = "Acme accounts."
{provider_extra}

[provider.oauth2]
authorize_url = "https://acme.test/authorize"
token_url = "https://acme.test/token"
{oauth2_extra}

{userinfo}
"#
        )
    }

    fn errors_of(text: &str) -> String {
        parse(PATH, text).expect_err("manifest should be rejected").join("\n")
    }

    #[test]
    fn minimal_manifest_gets_the_documented_defaults() {
        let p = parse(PATH, &manifest("", "", "")).unwrap().remove(0);
        assert_eq!(p.oauth2.client_auth, ClientAuth::Basic);
        assert_eq!(p.oauth2.token_method, HttpMethod::Post);
        assert_eq!(p.oauth2.scope_delimiter, " ");
        assert_eq!(p.oauth2.scope_param, "scope");
        assert!(p.oauth2.response_type);
        assert!(!p.custom);
        assert_eq!(p.capabilities, Capabilities::default());
        assert!(p.userinfo.is_none());
    }

    #[test]
    fn full_manifest_parses() {
        let text = manifest(
            "capabilities = [\"pkce\", \"form_post\"]\nimplementation = \"custom\"\n\
             [[provider.config]]\nkey = \"tenant\"\ndescription = \"Tenant.\"\nrequired = true\n\
             [provider.docs]\nsetup = [\"Do it.\"]",
            "revoke_url = \"https://{tenant}.acme.test/revoke\"\nclient_auth = \"none\"\n\
             config_params = { tenant = \"realm\" }",
            "[provider.userinfo]\nurl = \"https://acme.test/me\"\nid = \"/sub\"\nmethod = \"post\"\n\
             token = \"query:access_token\"\nemail_verified = \"/email_verified\"",
        );
        let p = parse(PATH, &text).unwrap().remove(0);
        assert!(p.custom && p.capabilities.pkce && p.capabilities.form_post && !p.capabilities.oidc);
        assert_eq!(p.oauth2.client_auth, ClientAuth::None);
        let u = p.userinfo.unwrap();
        assert_eq!(u.method, HttpMethod::Post);
        assert_eq!(u.token, TokenPlacement::Query("access_token".into()));
        assert_eq!(u.email_rule, EmailRule::Flag("/email_verified".into()));
        assert_eq!(p.guide.setup, ["Do it."]);
    }

    #[test]
    fn unknown_capability_is_named_with_the_file() {
        let err = errors_of(&manifest("capabilities = [\"pkc\"]", "", ""));
        assert!(err.starts_with("providers/acme/provider.toml: "), "{err}");
        assert!(err.contains("unknown capability \"pkc\""), "{err}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = errors_of(&manifest("", "client_auht = \"body\"", ""));
        assert!(err.starts_with(PATH) && err.contains("client_auht"), "{err}");
    }

    #[test]
    fn docs_url_key_gets_a_hint() {
        let err = errors_of(&manifest("docs = \"https://acme.test\"\n[provider.docs]\nsetup = []", "", ""));
        assert!(err.contains("docs_url"), "{err}");
        let p = parse(
            PATH,
            &manifest("docs_url = \"https://acme.test\"\n[provider.docs]\nnotes = [\"N.\"]", "", ""),
        )
        .unwrap()
        .remove(0);
        assert_eq!(
            (p.docs_url.as_str(), p.guide.notes.as_slice()),
            ("https://acme.test", ["N.".to_owned()].as_slice())
        );
    }

    #[test]
    fn email_rules_are_mutually_exclusive() {
        let err = errors_of(&manifest(
            "",
            "",
            "[provider.userinfo]\nurl = \"https://acme.test/me\"\nid = \"/id\"\n\
             email_trust = \"verified\"\nemail_present = \"/confirmed_at\"",
        ));
        assert!(err.contains("mutually exclusive"), "{err}");
        assert!(err.contains("email_trust and email_present"), "{err}");
    }

    #[test]
    fn placeholders_must_name_config_keys() {
        let err = errors_of(&manifest("", "revoke_url = \"https://{domain}/revoke\"", ""));
        assert!(err.contains("placeholder `{domain}`"), "{err}");
    }

    #[test]
    fn placeholder_parsing() {
        assert_eq!(placeholders("https://{a}.x/{b_c}").unwrap(), ["a", "b_c"]);
        assert!(placeholders("https://x/{a").is_err());
        assert!(placeholders("https://x/a}").is_err());
        assert!(placeholders("https://x/{}").is_err());
    }

    #[test]
    fn duplicate_config_keys_and_bad_tokens_are_reported_together() {
        let err = errors_of(&manifest(
            "[[provider.config]]\nkey = \"tenant\"\ndescription = \"a\"\n\
             [[provider.config]]\nkey = \"tenant\"\ndescription = \"b\"",
            "",
            "[provider.userinfo]\nurl = \"https://acme.test/me\"\nid = \"id\"\ntoken = \"cookie\"",
        ));
        assert!(err.contains("config key \"tenant\" is declared twice"), "{err}");
        assert!(err.contains("unknown token placement \"cookie\""), "{err}");
        assert!(err.contains("userinfo.id: \"id\" is not a JSON pointer"), "{err}");
    }

    #[test]
    fn bad_ids_are_rejected() {
        let err = errors_of(&manifest("", "", "").replace("id = \"acme\"", "id = \"Acme\""));
        assert!(err.contains("invalid provider id \"Acme\""), "{err}");
    }
}
