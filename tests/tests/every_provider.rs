//! A full login for every provider with a persona, against the testkit's impersonating mock
//! identity provider over loopback: authorize, callback, code exchange, profile, refresh,
//! revocation, and a replayed code. Failures are collected per provider and reported together.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use loginkit::reqwest::{self, StatusCode, redirect::Policy};
use loginkit::url::Url;
use loginkit::{
    AuthorizationCode, AuthorizeRequest, ExchangeRequest, HttpClient, Nonce, OAuthProvider,
    PkceCodeChallenge, PkceCodeVerifier, Provider, ProviderDescriptor, Registry, TokenRef, TokenSet,
};
use loginkit_testkit::MockClient;
use loginkit_testkit::persona::{ImpersonatingIdp, Persona};

/// Provider ids that need no persona, each with the reason.
const WITHOUT_PERSONA: &[(&str, &str)] = &[(
    "apple",
    "form_post callback and a client secret signed from a p8 key: tests/apple_form_post.rs and the crate's contract tests",
)];

const CLIENT_ID: &str = "loginkit-e2e-client";
const CLIENT_SECRET: &str = "loginkit-e2e-secret-0123456789";

/// Longest a single provider's run may take.
const PER_PROVIDER: Duration = Duration::from_secs(30);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn callback(id: &str) -> Url {
    Url::parse(&format!("http://127.0.0.1:9/v1/account/sessions/oauth2/callback/{id}/e2e"))
        .expect("a valid callback URL")
}

/// Loads every persona; broken persona files are returned as failures, not panics.
fn discover() -> (Vec<Persona>, Vec<String>, Vec<String>) {
    let discovery =
        Persona::discover(&workspace_root()).unwrap_or_else(|e| panic!("cannot discover personas: {e}"));
    let errors = discovery.errors.iter().map(ToString::to_string).collect();
    (discovery.personas, discovery.without_persona, errors)
}

/// A started mock playing `persona` and the provider pointed at it.
struct Stage {
    idp: ImpersonatingIdp,
    provider: Box<dyn OAuthProvider>,
    descriptor: &'static ProviderDescriptor,
    callback: Url,
}

impl Stage {
    async fn new(persona: &Persona) -> Result<Stage, String> {
        let registry = Registry::global().map_err(|e| format!("registry: {e}"))?;
        let descriptor = registry.get(&persona.id).map_err(|e| format!("not registered: {e}"))?;
        let idp = ImpersonatingIdp::start(persona, MockClient::new(CLIENT_ID, CLIENT_SECRET))
            .await
            .map_err(|e| format!("the impersonating IdP did not start: {e}"))?;
        let http = HttpClient::with_defaults().map_err(|e| format!("HTTP client: {e}"))?;
        let provider =
            descriptor.instantiate(idp.provider_config(), http).map_err(|e| format!("configuration: {e}"))?;
        Ok(Stage { idp, provider, descriptor, callback: callback(&persona.id) })
    }

    /// Follows the authorize URL like a browser that stops at the callback; returns the code and
    /// the PKCE verifier and nonce sent with it.
    async fn authorize(
        &self,
    ) -> Result<(AuthorizationCode, Option<PkceCodeVerifier>, Option<Nonce>), String> {
        let caps = self.descriptor.capabilities;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = Nonce::new_random();
        let state = format!("e2e-state-{}", self.descriptor.id);
        let mut request = AuthorizeRequest::new(&self.callback, &state);
        if caps.pkce {
            request = request.pkce_challenge(&challenge);
        }
        if caps.oidc {
            request = request.nonce(&nonce);
        }
        let url = self.provider.authorize_url(&request).map_err(|e| format!("authorize_url: {e}"))?;
        let browser =
            reqwest::Client::builder().redirect(Policy::none()).build().map_err(|e| e.to_string())?;
        let response = browser.get(url).send().await.map_err(|e| format!("authorize request: {e}"))?;
        if response.status() != StatusCode::FOUND {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(format!("authorize answered {status} instead of a redirect: {body}"));
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Url::parse(v).ok())
            .ok_or("authorize redirected without a usable Location")?;
        if !location.as_str().starts_with(self.callback.as_str()) {
            return Err(format!("authorize redirected to {location}, not to the callback"));
        }
        let param = |name: &str| location.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        if param("state").as_deref() != Some(state.as_str()) {
            return Err(format!("the callback's state is {:?}, expected {state:?}", param("state")));
        }
        let code = param("code").ok_or("the callback carries no code")?;
        Ok((AuthorizationCode::new(code), caps.pkce.then_some(verifier), caps.oidc.then_some(nonce)))
    }

    async fn exchange(
        &self,
        code: &AuthorizationCode,
        verifier: Option<&PkceCodeVerifier>,
        nonce: Option<&Nonce>,
    ) -> Result<TokenSet, loginkit::Error> {
        let mut exchange = ExchangeRequest::new(code, &self.callback);
        if let Some(verifier) = verifier {
            exchange = exchange.pkce_verifier(verifier);
        }
        if let Some(nonce) = nonce {
            exchange = exchange.nonce(nonce);
        }
        self.provider.exchange_code(&exchange).await
    }

    /// Fetches the profile and compares it with the persona's `expect`.
    async fn check_profile(&self, persona: &Persona, tokens: &TokenSet, step: &str) -> Result<(), String> {
        let profile =
            self.provider.user_profile(tokens).await.map_err(|e| format!("{step}: user_profile: {e}"))?;
        let expect = &persona.expect;
        let mut wrong = Vec::new();
        if profile.id != expect.id {
            wrong.push(format!("id {:?} (expected {:?})", profile.id, expect.id));
        }
        if profile.email != expect.email {
            wrong.push(format!("email {:?} (expected {:?})", profile.email, expect.email));
        }
        if profile.email_trust != expect.email_trust.email_trust() {
            wrong.push(format!("email_trust {:?} (expected {:?})", profile.email_trust, expect.email_trust));
        }
        if profile.name != expect.name {
            wrong.push(format!("name {:?} (expected {:?})", profile.name, expect.name));
        }
        if wrong.is_empty() { Ok(()) } else { Err(format!("{step}: profile has {}", wrong.join(", "))) }
    }

    /// The mock's latest rejection, to explain a failure.
    fn explain(&self, error: String) -> String {
        match self.idp.rejections().last() {
            Some(reason) => format!("{error} [mock IdP: {reason}]"),
            None => error,
        }
    }
}

/// The whole login; returns the steps performed.
async fn login(persona: Persona) -> Result<Vec<&'static str>, String> {
    let stage = Stage::new(&persona).await?;
    let result = async {
        let caps = stage.descriptor.capabilities;
        // A capability the descriptor claims is exercised: a persona may not skip it.
        for (claimed, section, name) in
            [(caps.refresh, persona.refresh.is_some(), "refresh"), (caps.revoke, persona.revoke.is_some(), "revoke")]
        {
            match (claimed, section) {
                (true, false) => {
                    return Err(format!(
                        "the descriptor claims `{name}` but the persona has no [persona.{name}] to exercise it"
                    ));
                }
                (false, true) => {
                    return Err(format!("the persona has [persona.{name}] but the descriptor lacks `{name}`"));
                }
                _ => {}
            }
        }
        let mut steps = vec!["login"];
        let (code, verifier, nonce) = stage.authorize().await?;
        let tokens = stage
            .exchange(&code, verifier.as_ref(), nonce.as_ref())
            .await
            .map_err(|e| format!("exchange_code: {e}"))?;
        let verifies = stage.provider.standard().id_token_check().is_some();
        match (persona.id_token.is_some(), verifies, tokens.id_token_claims.is_some()) {
            (_, true, false) => return Err("the provider verifies ID tokens but kept no claims".to_owned()),
            (false, true, _) => {
                return Err(
                    "the provider verifies ID tokens but the persona signs none (add [persona.id_token])"
                        .to_owned(),
                );
            }
            (true, false, _) => {
                return Err("the persona signs ID tokens but the provider verifies none".to_owned());
            }
            _ => {}
        }
        if verifies {
            steps.push("id_token");
        }
        stage.check_profile(&persona, &tokens, "after login").await?;
        let mut current = tokens;
        if caps.refresh {
            let refresh_token = current.refresh_token.clone().ok_or(
                "the persona has [persona.refresh] and the descriptor `refresh`, but the token answer \
                 carries no refresh token (add one to the token fixture, or drop [persona.refresh])",
            )?;
            let refreshed =
                stage.provider.refresh(&refresh_token).await.map_err(|e| format!("refresh: {e}"))?;
            if refreshed.access_token.secret() == current.access_token.secret() {
                return Err("refresh returned the same access token".to_owned());
            }
            stage.check_profile(&persona, &refreshed, "after refresh").await?;
            current = refreshed;
            steps.push("refresh");
        }
        if caps.revoke {
            let revoked = &current.access_token;
            stage.provider.revoke(TokenRef::Access(revoked)).await.map_err(|e| format!("revoke: {e}"))?;
            if stage.idp.is_live(revoked.secret()) {
                return Err("revoke succeeded but the mock still honours the access token".to_owned());
            }
            // A profile read from the token itself (no user-info call) cannot notice.
            if !persona.userinfo.is_empty() && stage.provider.user_profile(&current).await.is_ok() {
                return Err("user_profile still succeeds with the revoked access token".to_owned());
            }
            steps.push("revoke");
        }
        Ok(steps)
    }
    .await;
    result.map_err(|e| stage.explain(e))
}

/// A code exchanged twice: the second exchange must fail with a typed rejection, the provider's
/// OAuth error or (for providers whose error bodies carry no code, like Figma's) its HTTP status.
async fn replay(persona: Persona) -> Result<(), String> {
    let stage = Stage::new(&persona).await?;
    let result = async {
        let (code, verifier, nonce) = stage.authorize().await?;
        stage
            .exchange(&code, verifier.as_ref(), nonce.as_ref())
            .await
            .map_err(|e| format!("first exchange_code: {e}"))?;
        match stage.exchange(&code, verifier.as_ref(), nonce.as_ref()).await {
            Ok(_) => Err("the replayed code was accepted".to_owned()),
            Err(loginkit::Error::OAuth { .. } | loginkit::Error::HttpStatus { .. }) => Ok(()),
            Err(error) => Err(format!("the replay failed without a typed rejection: {error:?}")),
        }
    }
    .await;
    result.map_err(|e| stage.explain(e))
}

/// Runs `run` for every persona, each in its own task (a panic is one provider's failure) with a
/// time limit; returns `(id, result)` in persona order.
async fn for_each<F, Fut, T>(personas: &[Persona], run: F) -> Vec<(String, Result<T, String>)>
where
    F: Fn(Persona) -> Fut,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
    T: Send + 'static,
{
    let mut results = Vec::with_capacity(personas.len());
    for persona in personas {
        let task = tokio::spawn(tokio::time::timeout(PER_PROVIDER, run(persona.clone())));
        let result = match task.await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(format!("did not finish within {PER_PROVIDER:?}")),
            Err(join) => Err(format!("panicked: {join}")),
        };
        results.push((persona.id.clone(), result));
    }
    results
}

fn report(failures: &[String]) {
    assert!(failures.is_empty(), "{} failure(s):\n  {}", failures.len(), failures.join("\n  "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_persona_logs_in() {
    let (personas, without_persona, file_errors) = discover();
    let results = for_each(&personas, login).await;
    println!("every_provider: {} persona(s)", personas.len());
    let (mut logged_in, mut failures) = (0, Vec::new());
    for (id, result) in &results {
        match result {
            Ok(steps) => {
                logged_in += 1;
                println!("  ok    {id:<24} {}", steps.join(", "));
            }
            Err(error) => {
                println!("  FAIL  {id:<24} {error}");
                failures.push(format!("{id}: {error}"));
            }
        }
    }
    for error in file_errors {
        println!("  FAIL  {error}");
        failures.push(error);
    }
    for dir in &without_persona {
        println!("  --    providers/{dir} has no tests/persona.toml");
    }
    println!("every_provider: {logged_in} of {} provider(s) logged in", personas.len());
    report(&failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_code_fails_for_every_persona() {
    let (personas, _, _) = discover();
    let failures: Vec<String> = for_each(&personas, replay)
        .await
        .into_iter()
        .filter_map(|(id, result)| result.err().map(|e| format!("{id}: {e}")))
        .collect();
    println!(
        "replay: {} of {} persona(s) reject a replayed code",
        personas.len() - failures.len(),
        personas.len()
    );
    report(&failures);
}

#[test]
fn every_provider_has_a_persona() {
    let (personas, without_persona, _) = discover();
    let with_persona: BTreeSet<&str> = personas.iter().map(|p| p.id.as_str()).collect();
    let known: BTreeSet<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
    let mut failures = Vec::new();
    for id in &known {
        let allowed = WITHOUT_PERSONA.iter().find(|(allowed, _)| allowed == id);
        match (with_persona.contains(id), allowed) {
            (true, Some((_, reason))) => {
                println!(
                    "note: `{id}` has a persona but is allow-listed ({reason}); drop it from WITHOUT_PERSONA"
                );
            }
            (true, None) => {}
            (false, Some((_, reason))) => println!("allowed without persona: `{id}`: {reason}"),
            (false, None) => failures.push(format!("`{id}` has no persona (and is not in WITHOUT_PERSONA)")),
        }
    }
    for id in with_persona.difference(&known) {
        failures.push(format!("persona `{id}` names no provider of loginkit::Provider::ALL"));
    }
    for dir in &without_persona {
        println!("providers/{dir} has no tests/persona.toml");
    }
    report(&failures);
}
