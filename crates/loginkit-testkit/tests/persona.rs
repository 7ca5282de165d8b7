//! The persona loader and the impersonating mock identity provider, driven over loopback HTTP by a
//! plain client: loading errors, every client-authentication style, single-use codes, PKCE, token
//! substitution, token placement, refresh, revocation, and garbage input.

// Integration tests link every dependency of the library; only some are used here.
#![allow(unused_crate_dependencies)]

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use loginkit_testkit::MockClient;
use loginkit_testkit::persona::{ImpersonatingIdp, Persona, PersonaError};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use url::Url;

const ID: &str = "client-1";
const SECRET: &str = "s3cret:&=";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

const TOKEN: &str = r#"{"access_token": "fixture-access", "refresh_token": "fixture-refresh", "token_type": "bearer", "expires_in": 3600}"#;
const REFRESH: &str = r#"{"access_token": "fixture-access-2", "token_type": "bearer"}"#;
const ERROR: &str = r#"{"error": "invalid_grant", "error_description": "nope"}"#;
const USER: &str = r#"{"id": 42, "email": "a@example.com"}"#;

/// A scratch provider crate (`<tmp>/tests/persona.toml` and fixtures), removed on drop.
struct Crate(PathBuf);

impl Crate {
    fn new(persona: &str, fixtures: &[(&str, &str)]) -> Crate {
        let dir = loginkit_testkit::scratch_dir("persona");
        std::fs::create_dir_all(dir.join("tests/fixtures")).unwrap();
        std::fs::write(dir.join("tests/persona.toml"), persona).unwrap();
        for (name, body) in fixtures {
            std::fs::write(dir.join("tests/fixtures").join(name), body).unwrap();
        }
        Crate(dir)
    }

    /// The standard fixtures.
    fn standard(persona: &str) -> Crate {
        Crate::new(
            persona,
            &[("token.json", TOKEN), ("refresh.json", REFRESH), ("error.json", ERROR), ("user.json", USER)],
        )
    }

    fn load(&self) -> Result<Vec<Persona>, PersonaError> {
        Persona::load_all(&self.0)
    }
}

impl Drop for Crate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A persona with `token` lines added to `[persona.token]` and `rest` appended.
fn persona(client_auth: &str, token: &str, rest: &str) -> String {
    format!(
        r#"
[[persona]]
id = "acme"

[persona.authorize]
path = "/oauth/authorize"
require = ["client_id", "redirect_uri", "state"]
values = {{ response_type = "code" }}

[persona.token]
path = "/oauth/token"
client_auth = "{client_auth}"
response = "token.json"
error = "error.json"
{token}

[persona.refresh]
response = "refresh.json"

[[persona.userinfo]]
path = "/api/me"
response = "user.json"

[persona.expect]
id = "42"
{rest}
"#
    )
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn basic(id: &str, secret: &str) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", STANDARD.encode(format!("{}:{}", encode(id), encode(secret))))
}

/// An unsigned JWT whose `iss` and `sub` are `id`; the mock holds no key and checks claims only.
fn assertion(id: &str) -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2ln",
        part(serde_json::json!({"alg": "RS256"})),
        part(serde_json::json!({"iss": id, "sub": id}))
    )
}

async fn start(text: &str) -> (Crate, ImpersonatingIdp) {
    let krate = Crate::standard(text);
    let personas = krate.load().unwrap_or_else(|e| panic!("{e}"));
    let idp = ImpersonatingIdp::start(&personas[0], MockClient::new(ID, SECRET)).await.unwrap();
    (krate, idp)
}

async fn authorize(idp: &ImpersonatingIdp, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut params =
        vec![("client_id", ID), ("redirect_uri", REDIRECT), ("response_type", "code"), ("state", "st")];
    params.extend_from_slice(extra);
    http().get(idp.url("/oauth/authorize")).query(&params).send().await.unwrap()
}

async fn fresh_code_with(idp: &ImpersonatingIdp, extra: &[(&str, &str)]) -> String {
    let response = authorize(idp, extra).await;
    assert_eq!(response.status(), StatusCode::FOUND, "{:?}", response.text().await);
    let location = Url::parse(response.headers()[LOCATION].to_str().unwrap()).unwrap();
    assert_eq!(location.query_pairs().find(|(k, _)| k == "state").unwrap().1, "st");
    location.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned()
}

async fn fresh_code(idp: &ImpersonatingIdp) -> String {
    fresh_code_with(idp, &[]).await
}

/// Client authentication as a client would send it in one of the five styles.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Style {
    Basic,
    Body,
    Query,
    None,
    Jwt,
}

const STYLES: [(Style, &str); 5] = [
    (Style::Basic, "basic"),
    (Style::Body, "body"),
    (Style::Query, "query"),
    (Style::None, "none"),
    (Style::Jwt, "private_key_jwt"),
];

async fn token_request(idp: &ImpersonatingIdp, style: Style, form: &[(&str, &str)]) -> reqwest::Response {
    let mut url = idp.url("/oauth/token");
    let mut form: Vec<(String, String)> = form.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    let mut request = http().post(url.clone());
    match style {
        Style::Basic => request = request.header(AUTHORIZATION, basic(ID, SECRET)),
        Style::Body => {
            form.extend([("client_id".into(), ID.into()), ("client_secret".into(), SECRET.into())])
        }
        Style::Query => {
            url.query_pairs_mut().append_pair("client_id", ID).append_pair("client_secret", SECRET);
            request = http().post(url);
        }
        Style::None => form.push(("client_id".into(), ID.into())),
        Style::Jwt => form.extend([
            ("client_id".into(), ID.into()),
            ("client_assertion_type".into(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()),
            ("client_assertion".into(), assertion(ID)),
        ]),
    }
    request.form(&form).send().await.unwrap()
}

async fn exchange(
    idp: &ImpersonatingIdp,
    style: Style,
    code: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT)];
    form.extend_from_slice(extra);
    token_request(idp, style, &form).await
}

async fn json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn me(idp: &ImpersonatingIdp, token: &str) -> StatusCode {
    http().get(idp.url("/api/me")).bearer_auth(token).send().await.unwrap().status()
}

// ----- loading -----

#[test]
fn an_unknown_field_is_named_with_its_file() {
    let krate = Crate::standard(&persona("basic", "client_auht = \"basic\"", ""));
    let message = krate.load().unwrap_err().to_string();
    assert!(message.contains("tests/persona.toml"), "{message}");
    assert!(message.contains("unknown field `client_auht`"), "{message}");
}

#[test]
fn a_missing_fixture_is_named_with_its_file() {
    let text = persona("basic", "", "").replace("\"user.json\"", "\"nowhere.json\"");
    let error = Crate::standard(&text).load().unwrap_err();
    assert!(matches!(error, PersonaError::Fixture { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("tests/persona.toml") && message.contains("fixtures/nowhere.json"), "{message}");
    assert!(message.contains("persona `acme`"), "{message}");
}

#[test]
fn unusable_personas_are_refused_when_loading() {
    let cases = [
        (persona("basic", "", "").replace("\"/oauth/token\"", "\"oauth/token\""), "must start with `/`"),
        (persona("basic", "", "").replace("\"/api/me\"", "\"/a/{x}/{x}\""), "appears twice"),
        (persona("basic", "", "").replace("\"/api/me\"", "\"/a/:id\""), "must be literal"),
        (persona("basic", "", "").replace("\"/api/me\"", "\"/oauth/authorize\""), "two endpoints answer GET"),
        (persona("basic", "", "").replace("\"/api/me\"", "\"/oauth/token\""), ""),
        (persona("bearer", "", ""), "unknown variant `bearer`"),
        (persona("basic", "token_pointer = \"/nested\"", ""), "no access token"),
        (persona("basic", "method = \"FETCH\"", ""), "unknown method `FETCH`"),
        (
            persona("basic", "", "").replace("[persona.expect]", "[persona.expect]\nemail_trust = \"maybe\""),
            "unknown variant",
        ),
        (
            persona(
                "basic",
                "",
                "[persona.revoke]\npath = \"/r\"\ntoken = \"bearer\"\nclient_auth = \"basic\"",
            ),
            "no room",
        ),
        ("[[persona]]\nid = \"x\"\n".to_owned(), "missing field"),
        (String::new(), "no [[persona]] table"),
    ];
    for (text, expected) in cases {
        let result = Crate::standard(&text).load();
        if expected.is_empty() {
            // The token endpoint is POST and the user-info call GET: one path may serve both.
            assert!(result.is_ok(), "{result:?}");
            continue;
        }
        let message = result.unwrap_err().to_string();
        assert!(message.contains(expected), "expected `{expected}` in: {message}");
    }
    let wrong_fixture = Crate::new(
        &persona("basic", "", ""),
        &[
            ("token.json", "{\"token_type\": \"bearer\"}"),
            ("refresh.json", REFRESH),
            ("error.json", ERROR),
            ("user.json", USER),
        ],
    );
    let message = wrong_fixture.load().unwrap_err().to_string();
    assert!(message.contains("fixtures/token.json") && message.contains("no access token"), "{message}");
}

#[test]
fn discovery_sorts_personas_and_lists_crates_without_one() {
    let root = loginkit_testkit::scratch_dir("persona-discover");
    let make = |dir: &str, persona: Option<String>| {
        let krate = root.join("providers").join(dir);
        std::fs::create_dir_all(krate.join("tests/fixtures")).unwrap();
        std::fs::write(krate.join("Cargo.toml"), "[package]\n").unwrap();
        for (name, body) in
            [("token.json", TOKEN), ("refresh.json", REFRESH), ("error.json", ERROR), ("user.json", USER)]
        {
            std::fs::write(krate.join("tests/fixtures").join(name), body).unwrap();
        }
        if let Some(text) = persona {
            std::fs::write(krate.join("tests/persona.toml"), text).unwrap();
        }
    };
    make("b", Some(persona("basic", "", "").replace("id = \"acme\"", "id = \"alpha\"")));
    make("a", Some(persona("basic", "", "").replace("id = \"acme\"", "id = \"zeta\"")));
    make("c", None);
    make("d", Some("[[persona]]\nid = 1\n".to_owned()));
    make("e", Some(persona("basic", "", "").replace("id = \"acme\"", "id = \"alpha\"")));
    std::fs::create_dir_all(root.join("providers/not-a-crate")).unwrap();

    let discovery = Persona::discover(&root).unwrap();
    let ids: Vec<&str> = discovery.personas.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["alpha", "zeta"]);
    assert_eq!(discovery.without_persona, ["c"]);
    let errors: Vec<String> = discovery.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("providers/d/tests/persona.toml"), "{errors:?}");
    assert!(errors[1].contains("`alpha` is defined twice"), "{errors:?}");
    assert!(Persona::discover(&root.join("nowhere")).is_err());
    let _ = std::fs::remove_dir_all(&root);
}

// ----- authorize -----

#[tokio::test]
async fn authorize_checks_its_parameters_and_keeps_the_redirect_query() {
    let (_krate, idp) = start(&persona("basic", "", "")).await;
    let bad: [&[(&str, &str)]; 4] = [
        &[("client_id", "other"), ("redirect_uri", REDIRECT), ("response_type", "code"), ("state", "s")],
        &[("client_id", ID), ("redirect_uri", REDIRECT), ("response_type", "token"), ("state", "s")],
        &[("client_id", ID), ("redirect_uri", REDIRECT), ("response_type", "code")],
        &[
            ("client_id", ID),
            ("redirect_uri", "https://evil.example/cb"),
            ("response_type", "code"),
            ("state", "s"),
        ],
    ];
    for params in bad {
        let response = http().get(idp.url("/oauth/authorize")).query(params).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{params:?}");
    }
    assert_eq!(idp.rejections().len(), 4);
    assert!(idp.rejections()[1].contains("response_type"), "{:?}", idp.rejections());

    let params = [
        ("client_id", ID),
        ("redirect_uri", "http://127.0.0.1:9/cb?project=p1"),
        ("response_type", "code"),
        ("state", "s"),
    ];
    let response = http().get(idp.url("/oauth/authorize")).query(&params).send().await.unwrap();
    let location = Url::parse(response.headers()[LOCATION].to_str().unwrap()).unwrap();
    let keys: Vec<String> = location.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(keys, ["project", "code", "state"]);
    assert_eq!(idp.hits("/oauth/authorize"), 5);
}

// ----- token endpoint -----

#[tokio::test]
async fn each_client_auth_style_is_enforced() {
    for (demanded, name) in STYLES {
        let (_krate, idp) = start(&persona(name, "", "")).await;
        for (sent, _) in STYLES {
            let code = fresh_code(&idp).await;
            let (status, body) = json(exchange(&idp, sent, &code, &[]).await).await;
            if sent == demanded {
                assert_eq!(
                    status,
                    StatusCode::OK,
                    "{name} demanded, {sent:?} sent: {body} {:?}",
                    idp.rejections()
                );
                assert!(body["access_token"].as_str().is_some_and(|t| t.len() == 43), "{body}");
            } else {
                assert_eq!(
                    (status, &body["error"]),
                    (StatusCode::BAD_REQUEST, &Value::from("invalid_grant")),
                    "{name} demanded, {sent:?} sent"
                );
            }
        }
        assert_eq!(idp.rejections().len(), 4, "{name}: {:?}", idp.rejections());
    }
}

#[tokio::test]
async fn wrong_credentials_are_rejected_in_every_style() {
    let (_krate, idp) = start(&persona("basic", "", "")).await;
    let code = fresh_code(&idp).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    let wrong = http().post(idp.url("/oauth/token")).header(AUTHORIZATION, basic(ID, "wrong")).form(&form);
    assert_eq!(wrong.send().await.unwrap().status(), StatusCode::BAD_REQUEST);
    let both = http()
        .post(idp.url("/oauth/token"))
        .header(AUTHORIZATION, basic(ID, SECRET))
        .form(&[form.as_slice(), &[("client_secret", SECRET)]].concat());
    assert_eq!(both.send().await.unwrap().status(), StatusCode::BAD_REQUEST);
    assert!(idp.rejections()[1].contains("client_secret sent in the body"), "{:?}", idp.rejections());

    let (_krate, idp) = start(&persona("private_key_jwt", "", "")).await;
    let code = fresh_code(&idp).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", &assertion("someone-else")),
    ];
    let response = http().post(idp.url("/oauth/token")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(idp.rejections()[0].contains("`iss` is not the client id"), "{:?}", idp.rejections());
}

#[tokio::test]
async fn codes_are_single_use_and_a_replay_revokes_their_tokens() {
    let (_krate, idp) = start(&persona("basic", "", "")).await;
    let code = fresh_code(&idp).await;
    let (status, body) = json(exchange(&idp, Style::Basic, &code, &[]).await).await;
    assert_eq!(status, StatusCode::OK);
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me(&idp, &access).await, StatusCode::OK);

    let (status, body) = json(exchange(&idp, Style::Basic, &code, &[]).await).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, serde_json::from_str(ERROR).unwrap()));
    assert!(idp.rejections().last().unwrap().contains("already used"));
    assert_eq!(me(&idp, &access).await, StatusCode::UNAUTHORIZED, "the replay revoked the code's tokens");

    let (status, _) = json(exchange(&idp, Style::Basic, "never-issued", &[]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let other_redirect = [("redirect_uri", "http://127.0.0.1:9/other")];
    let code = fresh_code_with(&idp, &[]).await;
    let mut form = vec![("grant_type", "authorization_code"), ("code", code.as_str())];
    form.extend_from_slice(&other_redirect);
    assert_eq!(token_request(&idp, Style::Basic, &form).await.status(), StatusCode::BAD_REQUEST);
    assert!(idp.rejections().last().unwrap().contains("redirect_uri"));
}

#[tokio::test]
async fn pkce_is_verified() {
    let (_krate, idp) = start(&persona("none", "", "")).await;
    let challenge = s256(VERIFIER);
    let pkce = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let code = fresh_code_with(&idp, &pkce).await;
    let wrong = "x".repeat(43);
    for (extra, why) in [(vec![("code_verifier", wrong.as_str())], "does not match"), (vec![], "is missing")]
    {
        let (status, _) = json(exchange(&idp, Style::None, &code, &extra).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(idp.rejections().last().unwrap().contains(why), "{:?}", idp.rejections());
    }
    let (status, _) = json(exchange(&idp, Style::None, &code, &[("code_verifier", VERIFIER)]).await).await;
    assert_eq!(status, StatusCode::OK, "{:?}", idp.rejections());

    let plain = fresh_code_with(&idp, &[("code_challenge", VERIFIER)]).await;
    let (status, _) = json(exchange(&idp, Style::None, &plain, &[("code_verifier", VERIFIER)]).await).await;
    assert_eq!(status, StatusCode::OK, "plain challenges work too");
    let without = fresh_code(&idp).await;
    let (status, _) = json(exchange(&idp, Style::None, &without, &[("code_verifier", VERIFIER)]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a verifier without a challenge is refused");
    assert_eq!(authorize(&idp, &[("code_challenge", "short")]).await.status(), StatusCode::BAD_REQUEST);

    let (_krate, lax) = start(&persona("none", "pkce = false", "")).await;
    let code = fresh_code_with(&lax, &pkce).await;
    let (status, _) =
        json(exchange(&lax, Style::None, &code, &[("code_verifier", wrong.as_str())]).await).await;
    assert_eq!(status, StatusCode::OK, "a provider without PKCE ignores it");
}

#[tokio::test]
async fn tokens_are_substituted_at_a_nested_pointer() {
    let text = persona("basic", "token_pointer = \"/authed_user\"\nerror_status = 200", "");
    let nested = r#"{"ok": true, "authed_user": {"access_token": "xoxp-1", "refresh_token": "xoxe-1"}, "team": {"id": "T1"}}"#;
    let krate = Crate::new(
        &text,
        &[("token.json", nested), ("refresh.json", nested), ("error.json", ERROR), ("user.json", USER)],
    );
    let personas = krate.load().unwrap();
    let idp = ImpersonatingIdp::start(&personas[0], MockClient::new(ID, SECRET)).await.unwrap();
    let code = fresh_code(&idp).await;
    let (status, body) = json(exchange(&idp, Style::Basic, &code, &[]).await).await;
    assert_eq!(status, StatusCode::OK);
    let access = body["authed_user"]["access_token"].as_str().unwrap();
    assert!(access != "xoxp-1" && access.len() == 43);
    assert_ne!(body["authed_user"]["refresh_token"], "xoxe-1");
    assert_eq!(
        (&body["ok"], &body["team"]["id"]),
        (&Value::from(true), &Value::from("T1")),
        "the rest is kept"
    );
    assert_eq!(me(&idp, access).await, StatusCode::OK);
    assert_eq!(me(&idp, "xoxp-1").await, StatusCode::UNAUTHORIZED, "the fixture's own token is not live");

    let (status, body) = json(exchange(&idp, Style::Basic, &code, &[]).await).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::OK, &Value::from("invalid_grant")),
        "errors with HTTP 200"
    );
}

#[tokio::test]
async fn tokens_are_substituted_in_a_form_body() {
    let text = persona("body", "content_type = \"application/x-www-form-urlencoded\"", "");
    let form = "access_token=gho_fixture&scope=repo%2Cuser&token_type=bearer\n";
    let krate = Crate::new(
        &text,
        &[
            ("token.json", form),
            ("refresh.json", form),
            ("error.json", "error=bad_verification_code"),
            ("user.json", USER),
        ],
    );
    let personas = krate.load().unwrap();
    let idp = ImpersonatingIdp::start(&personas[0], MockClient::new(ID, SECRET)).await.unwrap();
    let code = fresh_code(&idp).await;
    let response = exchange(&idp, Style::Body, &code, &[]).await;
    assert_eq!(response.headers()[CONTENT_TYPE], "application/x-www-form-urlencoded");
    let text = response.text().await.unwrap();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes()).into_owned().collect();
    assert_eq!(
        pairs.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["access_token", "scope", "token_type"]
    );
    assert!(pairs[0].1 != "gho_fixture" && pairs[0].1.len() == 43);
    assert_eq!(pairs[1].1, "repo,user");
    assert_eq!(me(&idp, &pairs[0].1).await, StatusCode::OK);

    let response = exchange(&idp, Style::Body, &code, &[]).await;
    assert_eq!(response.headers()[CONTENT_TYPE], "application/x-www-form-urlencoded");
    assert_eq!(response.text().await.unwrap(), "error=bad_verification_code");
}

#[tokio::test]
async fn an_explicit_access_token_pointer_reaches_odd_shapes() {
    let text = persona("body", "access_token_pointer = \"/access_token/token\"", "");
    let yammer = r#"{"user": {"id": 7}, "access_token": {"token": "fixture", "user_id": 7}}"#;
    let krate = Crate::new(
        &text,
        &[("token.json", yammer), ("refresh.json", yammer), ("error.json", ERROR), ("user.json", USER)],
    );
    let idp = ImpersonatingIdp::start(&krate.load().unwrap()[0], MockClient::new(ID, SECRET)).await.unwrap();
    let code = fresh_code(&idp).await;
    let (_, body) = json(exchange(&idp, Style::Body, &code, &[]).await).await;
    let access = body["access_token"]["token"].as_str().unwrap();
    assert_eq!(me(&idp, access).await, StatusCode::OK);
}

#[tokio::test]
async fn json_bodies_and_get_token_calls() {
    let (_krate, idp) = start(&persona("basic", "body = \"json\"", "")).await;
    let code = fresh_code(&idp).await;
    let fields =
        serde_json::json!({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT});
    let as_form = exchange(&idp, Style::Basic, &code, &[]).await;
    assert_eq!(as_form.status(), StatusCode::BAD_REQUEST);
    assert!(idp.rejections()[0].contains("application/json"));
    let response = http()
        .post(idp.url("/oauth/token"))
        .header(AUTHORIZATION, basic(ID, SECRET))
        .json(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let (_krate, idp) = start(&persona("query", "method = \"GET\"", "")).await;
    let code = fresh_code(&idp).await;
    let query = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", ID),
        ("client_secret", SECRET),
    ];
    let response = http().get(idp.url("/oauth/token")).query(&query).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{:?}", idp.rejections());
    assert_eq!(
        http().post(idp.url("/oauth/token")).send().await.unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

// ----- refresh -----

#[tokio::test]
async fn refresh_rotates_only_when_the_fixture_holds_a_refresh_token() {
    let (_krate, idp) = start(&persona("basic", "", "")).await;
    let code = fresh_code(&idp).await;
    let (_, body) = json(exchange(&idp, Style::Basic, &code, &[]).await).await;
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())];
    for _ in 0..2 {
        let (status, body) = json(token_request(&idp, Style::Basic, &form).await).await;
        assert_eq!(status, StatusCode::OK, "REFRESH has no refresh_token, so the old one stays valid");
        assert_eq!(me(&idp, body["access_token"].as_str().unwrap()).await, StatusCode::OK);
    }
    let stolen = [("grant_type", "refresh_token"), ("refresh_token", "fixture-refresh")];
    assert_eq!(token_request(&idp, Style::Basic, &stolen).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        token_request(&idp, Style::Body, &form).await.status(),
        StatusCode::BAD_REQUEST,
        "auth is checked"
    );

    let text =
        persona("basic", "", "").replace("[persona.refresh]", "[persona.refresh]\npath = \"/oauth/refresh\"");
    let krate = Crate::new(
        &text,
        &[("token.json", TOKEN), ("refresh.json", TOKEN), ("error.json", ERROR), ("user.json", USER)],
    );
    let idp = ImpersonatingIdp::start(&krate.load().unwrap()[0], MockClient::new(ID, SECRET)).await.unwrap();
    let code = fresh_code(&idp).await;
    let (_, body) = json(exchange(&idp, Style::Basic, &code, &[]).await).await;
    let first = body["refresh_token"].as_str().unwrap().to_owned();
    let form = [("grant_type", "refresh_token"), ("refresh_token", first.as_str())];
    assert_eq!(
        token_request(&idp, Style::Basic, &form).await.status(),
        StatusCode::BAD_REQUEST,
        "not on /oauth/token"
    );
    let send = |form: Vec<(String, String)>| {
        http().post(idp.url("/oauth/refresh")).header(AUTHORIZATION, basic(ID, SECRET)).form(&form).send()
    };
    let pairs = |token: &str| {
        vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), token.to_owned()),
        ]
    };
    let (status, body) = json(send(pairs(&first)).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{:?}", idp.rejections());
    assert_ne!(body["refresh_token"].as_str().unwrap(), first);
    assert_eq!(send(pairs(&first)).await.unwrap().status(), StatusCode::BAD_REQUEST, "rotated out");
    assert_eq!(idp.hits("/oauth/refresh"), 2);
}

// ----- user info -----

#[tokio::test]
async fn userinfo_token_placement_is_enforced() {
    let placements = ["bearer", "query:access_token", "scheme:OAuth", "form:access_token"];
    for placement in placements {
        let text = persona("basic", "", "").replace(
            "path = \"/api/me\"",
            &format!("path = \"/api/me\"\ntoken = \"{placement}\"\nheaders = {{ X-Api-Version = \"2\" }}"),
        );
        let (_krate, idp) = start(&text).await;
        let code = fresh_code(&idp).await;
        let (_, body) = json(exchange(&idp, Style::Basic, &code, &[]).await).await;
        let token = body["access_token"].as_str().unwrap();
        let sends = [
            ("bearer", http().get(idp.url("/api/me")).bearer_auth(token)),
            ("query:access_token", http().get(idp.url("/api/me")).query(&[("access_token", token)])),
            ("scheme:OAuth", http().get(idp.url("/api/me")).header(AUTHORIZATION, format!("OAuth {token}"))),
            ("form:access_token", http().get(idp.url("/api/me")).form(&[("access_token", token)])),
        ];
        for (sent, request) in sends {
            let response = request.header("X-Api-Version", "2").send().await.unwrap();
            if sent == placement {
                assert_eq!(response.status(), StatusCode::OK, "{placement}");
                assert_eq!(
                    response.json::<Value>().await.unwrap(),
                    serde_json::from_str::<Value>(USER).unwrap()
                );
            } else {
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{placement} demanded, {sent} sent");
            }
        }
        let without_header = match placement {
            "bearer" => http().get(idp.url("/api/me")).bearer_auth(token),
            "scheme:OAuth" => http().get(idp.url("/api/me")).header(AUTHORIZATION, format!("OAuth {token}")),
            "form:access_token" => http().get(idp.url("/api/me")).form(&[("access_token", token)]),
            _ => http().get(idp.url("/api/me")).query(&[("access_token", token)]),
        };
        assert_eq!(
            without_header.send().await.unwrap().status(),
            StatusCode::BAD_REQUEST,
            "X-Api-Version is required"
        );
        assert_eq!(idp.hits("/api/me"), 5);
    }
}

// ----- revoke -----

#[tokio::test]
async fn revocation_checks_the_client_and_ends_the_token() {
    let revoke = "[persona.revoke]\npath = \"/apps/{client_id}/revoke\"\nmethod = \"DELETE\"\nstatus = 204\nparam = \"access_token\"";
    let (_krate, idp) = start(&persona("body", "", revoke)).await;
    let code = fresh_code(&idp).await;
    let (_, body) = json(exchange(&idp, Style::Body, &code, &[]).await).await;
    let access = body["access_token"].as_str().unwrap();
    let send = |path: String, secret: &str| {
        let body = serde_json::json!({"access_token": access, "client_id": ID, "client_secret": secret});
        http().delete(idp.url(&path)).json(&body).send()
    };
    assert_eq!(send(format!("/apps/{ID}x/revoke"), SECRET).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(send(format!("/apps/{ID}/revoke"), "wrong").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(me(&idp, access).await, StatusCode::OK);
    assert_eq!(send(format!("/apps/{ID}/revoke"), SECRET).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(me(&idp, access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(idp.hits("/apps/{client_id}/revoke"), 3);

    let bearer =
        "[persona.revoke]\npath = \"/2/auth/token/revoke\"\ntoken = \"bearer\"\nclient_auth = \"none\"";
    let (_krate, idp) = start(&persona("basic", "", bearer)).await;
    let code = fresh_code(&idp).await;
    let (_, body) = json(exchange(&idp, Style::Basic, &code, &[]).await).await;
    let access = body["access_token"].as_str().unwrap();
    let revoke = |token: &str| http().post(idp.url("/2/auth/token/revoke")).bearer_auth(token).send();
    assert_eq!(revoke(access).await.unwrap().status(), StatusCode::OK);
    assert_eq!(me(&idp, access).await, StatusCode::UNAUTHORIZED);

    // Revoking a refresh token ends the whole grant, form-encoded RFC 7009 style.
    let rfc7009 = "[persona.revoke]\npath = \"/oauth/revoke\"";
    let (_krate, idp) = start(&persona("basic", "", rfc7009)).await;
    let code = fresh_code(&idp).await;
    let (_, body) = json(exchange(&idp, Style::Basic, &code, &[]).await).await;
    let form = [("token", body["refresh_token"].as_str().unwrap()), ("token_type_hint", "refresh_token")];
    let response = http().post(idp.url("/oauth/revoke")).form(&form).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "Basic client authentication, like the token endpoint"
    );
    let response = http()
        .post(idp.url("/oauth/revoke"))
        .header(AUTHORIZATION, basic(ID, SECRET))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(me(&idp, body["access_token"].as_str().unwrap()).await, StatusCode::UNAUTHORIZED);
}

// ----- robustness -----

#[tokio::test]
async fn garbage_never_breaks_the_server() {
    let revoke = "[persona.revoke]\npath = \"/oauth/revoke\"";
    let (_krate, idp) = start(&persona("basic", "", revoke)).await;
    let bodies: [&[u8]; 6] =
        [b"", b"\xff\xfe\x00", b"%%%=&&==%zz", b"{\"a\": [1, {\"b\": null}]}", b"[]", &[b'a'; 70_000]];
    let content_types =
        ["application/x-www-form-urlencoded", "application/json", "text/plain; charset=ü", ""];
    let paths =
        ["/oauth/authorize", "/oauth/token", "/api/me", "/oauth/revoke", "/nowhere", "/oauth/token/%ff%00"];
    let client = http();
    for path in paths {
        for body in bodies {
            for content_type in content_types {
                for method in [reqwest::Method::GET, reqwest::Method::POST, reqwest::Method::DELETE] {
                    let mut url = idp.url(path);
                    url.set_query(Some("code=%ff&client_id=&client_id=x&state=%00"));
                    let mut request = client.request(method, url).body(body.to_vec());
                    if let Ok(value) = reqwest::header::HeaderValue::from_bytes(content_type.as_bytes()) {
                        request = request.header(CONTENT_TYPE, value);
                    }
                    request = request.header(AUTHORIZATION, "Basic !!!").header("authorization", "Bearer x");
                    let response = request.send().await.unwrap();
                    assert!(response.status().as_u16() < 500, "{path}: {}", response.status());
                }
            }
        }
    }
    // Still serving normally.
    let code = fresh_code(&idp).await;
    assert_eq!(exchange(&idp, Style::Basic, &code, &[]).await.status(), StatusCode::OK);
    assert!(idp.requests().len() > 400);
    assert!(idp.hits("(unrouted)") > 0);
}
