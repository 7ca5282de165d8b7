//! The conformance kit: proves a provider works end to end, from its persona alone.
//!
//! Given a provider (its [`ProviderDescriptor`], as registered) and a [`Persona`] describing how
//! the real provider behaves, [`check`] starts an [`ImpersonatingIdp`] playing the persona and runs
//! a whole login against it with the provider's own code, reporting each step as a named
//! [`Check`]:
//!
//! | check | what must hold |
//! |---|---|
//! | `capabilities` | what the descriptor claims (refresh, revoke, ID tokens) is what the persona exercises |
//! | `authorize` | the authorize URL carries what the provider demands and nothing the persona does not name, and comes back with a code and the state |
//! | `code_exchange` | the code is exchanged with the provider's client authentication, PKCE and parameters |
//! | `id_token` | the provider's ID token is verified and its claims kept (providers that send one) |
//! | `profile` | the profile read is the persona's `expect` (id, email, how far the email is trusted, name) |
//! | `refresh` | a refresh answers new tokens, which still read the same profile, and leaves a refresh token the provider still honours (rotated or kept) |
//! | `revoke` | revocation kills the access token at the provider |
//! | `replayed_code` | a code used twice is refused with a typed error mapped from the provider's error body |
//!
//! A check after a failed one it depends on is skipped, naming the failure. A third party's
//! provider crate passes the kit in its own tests:
//!
//! ```no_run
//! # async fn demo() {
//! // tests/conformance.rs of a provider crate with tests/persona.toml
//! loginkit_testkit::conformance::check_crate(env!("CARGO_MANIFEST_DIR")).await.assert_passed();
//! # }
//! ```

use std::fmt;
use std::path::Path;
use std::time::Duration;

use loginkit_core::url::Url;
use loginkit_core::{
    AuthorizationCode, AuthorizeRequest, Error, ExchangeRequest, HttpClient, Nonce, OAuthProvider,
    PkceCodeChallenge, PkceCodeVerifier, ProviderDescriptor, Registry, TokenRef, TokenSet,
};

use crate::MockClient;
use crate::persona::{ImpersonatingIdp, Persona};

/// The client the impersonating provider registers and the provider is configured with.
pub const CLIENT_ID: &str = "loginkit-conformance-client";
/// Its secret.
pub const CLIENT_SECRET: &str = "loginkit-conformance-secret-0123456789";

/// Longest a whole run for one persona may take.
pub const TIME_LIMIT: Duration = Duration::from_secs(30);

/// The checks, in the order they run.
pub const CHECKS: [&str; 8] = [
    "capabilities",
    "authorize",
    "code_exchange",
    "id_token",
    "profile",
    "refresh",
    "revoke",
    "replayed_code",
];

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It held.
    Passed,
    /// It did not, and why (with the impersonating provider's reason for refusing a request,
    /// when it refused one).
    Failed(String),
    /// It does not apply to this provider, or could not run after an earlier failure.
    Skipped(String),
}

/// One named check of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// One of [`CHECKS`].
    pub name: &'static str,
    /// How it ended.
    pub outcome: Outcome,
}

/// What [`check`] found for one persona.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The provider id.
    pub provider: String,
    /// Every check, in [`CHECKS`] order (a run stopped early, by a start failure or the time
    /// limit, has fewer, and a failed `capabilities` check naming why).
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        !self.checks.iter().any(|c| matches!(c.outcome, Outcome::Failed(_)))
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| matches!(c.outcome, Outcome::Failed(_)))
    }

    /// The outcome of the check `name`, if it ran.
    pub fn outcome(&self, name: &str) -> Option<&Outcome> {
        self.checks.iter().find(|c| c.name == name).map(|c| &c.outcome)
    }

    /// The names of the checks that passed.
    pub fn passed_checks(&self) -> Vec<&'static str> {
        self.checks.iter().filter(|c| c.outcome == Outcome::Passed).map(|c| c.name).collect()
    }

    fn failed(provider: &str, name: &'static str, reason: String) -> Self {
        Self { provider: provider.to_owned(), checks: vec![Check { name, outcome: Outcome::Failed(reason) }] }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.provider, if self.passed() { "conforms" } else { "FAILS" })?;
        for check in &self.checks {
            match &check.outcome {
                Outcome::Passed => writeln!(f, "  ok    {}", check.name)?,
                Outcome::Failed(why) => writeln!(f, "  FAIL  {}: {why}", check.name)?,
                Outcome::Skipped(why) => writeln!(f, "  --    {}: {why}", check.name)?,
            }
        }
        Ok(())
    }
}

/// The reports of several personas (a crate may register several providers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reports(pub Vec<Report>);

impl Reports {
    /// Whether every report passed.
    pub fn passed(&self) -> bool {
        self.0.iter().all(Report::passed)
    }

    /// Panics, printing every report, unless all passed (and there was at least one).
    #[track_caller]
    pub fn assert_passed(&self) {
        let text: String = self.0.iter().map(ToString::to_string).collect();
        assert!(!self.0.is_empty(), "no persona was checked");
        assert!(self.passed(), "the provider does not conform:\n{text}");
    }
}

/// Runs the kit for every persona of the crate at `crate_dir` (its `tests/persona.toml`, fixtures
/// in `tests/fixtures/`), each against the provider registered under the persona's id in the
/// global [`Registry`] (a crate's own test binary links its registrations). A persona file that
/// does not load, or an id nothing registered, is a failed report.
pub async fn check_crate(crate_dir: impl AsRef<Path>) -> Reports {
    let crate_dir = crate_dir.as_ref();
    let personas = match Persona::load_all(crate_dir) {
        Ok(personas) => personas,
        Err(error) => {
            let name = crate_dir.display().to_string();
            return Reports(vec![Report::failed(&name, "capabilities", format!("persona: {error}"))]);
        }
    };
    let mut reports = Vec::with_capacity(personas.len());
    for persona in &personas {
        reports.push(check_registered(persona).await);
    }
    Reports(reports)
}

/// Runs the kit for `persona` against the provider registered under its id.
pub async fn check_registered(persona: &Persona) -> Report {
    let descriptor = Registry::global().map_err(|e| e.to_string()).and_then(|registry| {
        registry.get(&persona.id).map_err(|e| format!("not registered (is its crate linked?): {e}"))
    });
    match descriptor {
        Ok(descriptor) => check(descriptor, persona).await,
        Err(error) => Report::failed(&persona.id, "capabilities", error),
    }
}

/// Runs the kit: `descriptor`'s provider against an impersonating provider playing `persona`,
/// within [`TIME_LIMIT`].
pub async fn check(descriptor: &'static ProviderDescriptor, persona: &Persona) -> Report {
    match tokio::time::timeout(TIME_LIMIT, run(descriptor, persona)).await {
        Ok(report) => report,
        Err(_) => {
            Report::failed(&persona.id, "capabilities", format!("did not finish within {TIME_LIMIT:?}"))
        }
    }
}

async fn run(descriptor: &'static ProviderDescriptor, persona: &Persona) -> Report {
    let stage = match Stage::new(descriptor, persona).await {
        Ok(stage) => stage,
        Err(error) => return Report::failed(&persona.id, "capabilities", error),
    };
    let mut checks = Checks::default();
    checks.record("capabilities", stage.capabilities(persona));
    let authorized = stage.explained(stage.authorize()).await;
    let authorized = checks.after(&["capabilities"], "authorize", authorized);
    let tokens = match authorized {
        Some((code, verifier, nonce)) => {
            let exchanged = stage.explained(async {
                stage
                    .exchange(&code, verifier.as_ref(), nonce.as_ref())
                    .await
                    .map_err(|e| format!("exchange_code: {e}"))
            });
            checks.then("code_exchange", exchanged.await)
        }
        None => checks.skip_after("code_exchange", "authorize"),
    };
    match &tokens {
        Some(tokens) => {
            let verdict = stage.id_token(persona, tokens);
            checks.record_or_skip("id_token", verdict);
            let profile = stage.explained(stage.profile(persona, tokens)).await;
            checks.then("profile", profile);
        }
        None => {
            checks.skip_after::<()>("id_token", "code_exchange");
            checks.skip_after::<()>("profile", "code_exchange");
        }
    }
    let mut current = tokens;
    if descriptor.capabilities.refresh {
        match (&current, checks.failed("profile")) {
            (Some(tokens), false) => {
                let refreshed = stage.explained(stage.refresh(persona, tokens)).await;
                if let Some(refreshed) = checks.then("refresh", refreshed) {
                    current = Some(refreshed);
                }
            }
            _ => {
                checks.skip_after::<()>("refresh", "profile");
            }
        }
    } else {
        checks.skip("refresh", "the provider issues no refresh tokens");
    }
    if descriptor.capabilities.revoke {
        match &current {
            Some(tokens) => {
                let revoked = stage.explained(stage.revoke(persona, tokens)).await;
                checks.then("revoke", revoked);
            }
            None => {
                checks.skip_after::<()>("revoke", "code_exchange");
            }
        }
    } else {
        checks.skip("revoke", "the provider cannot revoke tokens");
    }
    if checks.failed("authorize") || checks.failed("code_exchange") {
        checks.skip_after::<()>("replayed_code", "code_exchange");
    } else {
        let replayed = stage.explained(stage.replay()).await;
        checks.then("replayed_code", replayed);
    }
    Report { provider: persona.id.clone(), checks: checks.0 }
}

/// The checks so far.
#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn record(&mut self, name: &'static str, result: Result<(), String>) {
        let outcome = match result {
            Ok(()) => Outcome::Passed,
            Err(why) => Outcome::Failed(why),
        };
        self.0.push(Check { name, outcome });
    }

    fn record_or_skip(&mut self, name: &'static str, result: Result<Option<String>, String>) {
        let outcome = match result {
            Ok(None) => Outcome::Passed,
            Ok(Some(skipped)) => Outcome::Skipped(skipped),
            Err(why) => Outcome::Failed(why),
        };
        self.0.push(Check { name, outcome });
    }

    fn then<T>(&mut self, name: &'static str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => {
                self.0.push(Check { name, outcome: Outcome::Passed });
                Some(value)
            }
            Err(why) => {
                self.0.push(Check { name, outcome: Outcome::Failed(why) });
                None
            }
        }
    }

    /// `result` as check `name` unless one of `needs` failed (then skipped).
    fn after<T>(&mut self, needs: &[&str], name: &'static str, result: Result<T, String>) -> Option<T> {
        match needs.iter().find(|need| self.failed(need)) {
            Some(need) => self.skip_after(name, need),
            None => self.then(name, result),
        }
    }

    fn skip_after<T>(&mut self, name: &'static str, failed: &str) -> Option<T> {
        self.skip(name, &format!("the `{failed}` check did not pass"));
        None
    }

    fn skip(&mut self, name: &'static str, why: &str) {
        self.0.push(Check { name, outcome: Outcome::Skipped(why.to_owned()) });
    }

    fn failed(&self, name: &str) -> bool {
        self.0.iter().any(|c| c.name == name && !matches!(c.outcome, Outcome::Passed))
    }
}

/// The impersonating provider playing the persona, and the provider pointed at it.
struct Stage {
    idp: ImpersonatingIdp,
    provider: Box<dyn OAuthProvider>,
    descriptor: &'static ProviderDescriptor,
    callback: Url,
}

type Authorized = (AuthorizationCode, Option<PkceCodeVerifier>, Option<Nonce>);

impl Stage {
    async fn new(descriptor: &'static ProviderDescriptor, persona: &Persona) -> Result<Stage, String> {
        if descriptor.id != persona.id {
            return Err(format!("the persona plays `{}`, the provider is `{}`", persona.id, descriptor.id));
        }
        let idp = ImpersonatingIdp::start(persona, MockClient::new(CLIENT_ID, CLIENT_SECRET))
            .await
            .map_err(|e| format!("the impersonating provider did not start: {e}"))?;
        let http = HttpClient::with_defaults().map_err(|e| format!("HTTP client: {e}"))?;
        let provider =
            descriptor.instantiate(idp.provider_config(), http).map_err(|e| format!("configuration: {e}"))?;
        let callback = Url::parse(&format!("http://127.0.0.1:9/callback/{}", descriptor.id))
            .map_err(|e| format!("callback URL: {e}"))?;
        Ok(Stage { idp, provider, descriptor, callback })
    }

    /// A capability the descriptor claims is exercised: a persona may not skip it, nor exercise
    /// one the descriptor lacks.
    fn capabilities(&self, persona: &Persona) -> Result<(), String> {
        let caps = self.descriptor.capabilities;
        for (claimed, exercised, name) in [
            (caps.refresh, persona.refresh.is_some(), "refresh"),
            (caps.revoke, persona.revoke.is_some(), "revoke"),
        ] {
            match (claimed, exercised) {
                (true, false) => {
                    return Err(format!(
                        "the provider has `{name}` but the persona has no [persona.{name}] to exercise it"
                    ));
                }
                (false, true) => {
                    return Err(format!("the persona has [persona.{name}] but the provider lacks `{name}`"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Follows the authorize URL like a browser that stops at the callback; returns the code and
    /// the PKCE verifier and nonce sent with it.
    async fn authorize(&self) -> Result<Authorized, String> {
        let caps = self.descriptor.capabilities;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = Nonce::new_random();
        let state = format!("conformance-{}", Nonce::new_random().secret());
        let mut request = AuthorizeRequest::new(&self.callback, &state);
        if caps.pkce {
            request = request.pkce_challenge(&challenge);
        }
        if caps.oidc {
            request = request.nonce(&nonce);
        }
        let url = self.provider.authorize(&request).await.map_err(|e| format!("authorize URL: {e}"))?;
        self.exact_authorize_parameters(&url)?;
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let response = browser.get(url).send().await.map_err(|e| format!("authorize request: {e}"))?;
        if !response.status().is_redirection() {
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
            return Err("the callback does not carry the state sent".to_owned());
        }
        let code = param("code").ok_or("the callback carries no code")?;
        Ok((AuthorizationCode::new(code), caps.pkce.then_some(verifier), caps.oidc.then_some(nonce)))
    }

    /// The authorize URL carries only what the persona names (`require`, `values`) and the
    /// parameters of the protocol itself: the provider sends nothing the persona does not know.
    fn exact_authorize_parameters(&self, url: &Url) -> Result<(), String> {
        let persona = self.idp.persona();
        let protocol = [
            persona.client_id_param.as_str(),
            "redirect_uri",
            "response_type",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
            "nonce",
        ];
        let spec = &persona.authorize;
        for (name, _) in url.query_pairs() {
            let known = protocol.contains(&name.as_ref())
                || spec.require.iter().any(|r| *r == name)
                || spec.values.contains_key(name.as_ref());
            if !known {
                return Err(format!(
                    "the authorize URL carries `{name}`, which the persona does not name (add it to \
                     [persona.authorize] `values` or `require`)"
                ));
            }
        }
        Ok(())
    }

    async fn exchange(
        &self,
        code: &AuthorizationCode,
        verifier: Option<&PkceCodeVerifier>,
        nonce: Option<&Nonce>,
    ) -> Result<TokenSet, Error> {
        let mut exchange = ExchangeRequest::new(code, &self.callback);
        if let Some(verifier) = verifier {
            exchange = exchange.pkce_verifier(verifier);
        }
        if let Some(nonce) = nonce {
            exchange = exchange.nonce(nonce);
        }
        self.provider.exchange_code(&exchange).await
    }

    /// `Ok(None)` when the ID token was verified and kept, `Ok(Some(why))` when there is none to
    /// check.
    fn id_token(&self, persona: &Persona, tokens: &TokenSet) -> Result<Option<String>, String> {
        let verifies = self.provider.standard().id_token_check().is_some();
        match (persona.id_token.is_some(), verifies, &tokens.id_token_claims) {
            (false, false, _) => Ok(Some("the provider sends no ID token".to_owned())),
            (true, false, _) => Err("the persona signs ID tokens but the provider verifies none".to_owned()),
            (false, true, _) => {
                Err("the provider verifies ID tokens but the persona signs none (add [persona.id_token])"
                    .to_owned())
            }
            (true, true, Some(claims)) if !claims.sub.is_empty() => Ok(None),
            (true, true, _) => Err("the provider verifies ID tokens but kept no claims".to_owned()),
        }
    }

    /// The profile read with `tokens`, compared with the persona's `expect`.
    async fn profile(&self, persona: &Persona, tokens: &TokenSet) -> Result<(), String> {
        let profile = self.provider.user_profile(tokens).await.map_err(|e| format!("user_profile: {e}"))?;
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
        if expect.avatar.is_some() && profile.avatar_url != expect.avatar {
            wrong.push(format!("avatar {:?} (expected {:?})", profile.avatar_url, expect.avatar));
        }
        if expect.previous_id.is_some() && profile.previous_id != expect.previous_id {
            wrong.push(format!("previous_id {:?} (expected {:?})", profile.previous_id, expect.previous_id));
        }
        if wrong.is_empty() { Ok(()) } else { Err(format!("the profile has {}", wrong.join(", "))) }
    }

    async fn refresh(&self, persona: &Persona, tokens: &TokenSet) -> Result<TokenSet, String> {
        let refresh_token = tokens.refresh_token.clone().ok_or(
            "the provider refreshes, but the token answer carries no refresh token (add one to the \
             token fixture, or drop [persona.refresh])",
        )?;
        let refreshed = self.provider.refresh(&refresh_token).await.map_err(|e| format!("refresh: {e}"))?;
        if refreshed.access_token.secret() == tokens.access_token.secret() {
            return Err("refresh returned the same access token".to_owned());
        }
        // The refresh token in hand afterwards is one the provider still honours: the rotated one
        // when the provider rotates, the old one kept when it does not.
        match &refreshed.refresh_token {
            Some(held) if self.idp.is_live(held.secret()) => {}
            Some(_) => {
                return Err("after the refresh, the refresh token in hand is no longer valid".to_owned());
            }
            None => return Err("after the refresh, no refresh token is left in hand".to_owned()),
        }
        self.profile(persona, &refreshed).await.map_err(|e| format!("after the refresh: {e}"))?;
        Ok(refreshed)
    }

    async fn revoke(&self, persona: &Persona, tokens: &TokenSet) -> Result<(), String> {
        let revoked = &tokens.access_token;
        self.provider.revoke(TokenRef::Access(revoked)).await.map_err(|e| format!("revoke: {e}"))?;
        if self.idp.is_live(revoked.secret()) {
            return Err("revoke succeeded but the provider still honours the access token".to_owned());
        }
        // A profile read from the token itself (no user-info call) cannot notice.
        if !persona.userinfo.is_empty() && self.provider.user_profile(tokens).await.is_ok() {
            return Err("user_profile still succeeds with the revoked access token".to_owned());
        }
        Ok(())
    }

    /// A code exchanged twice: the second exchange must fail with a typed rejection, the
    /// provider's OAuth error or (for providers whose error bodies carry no code, like Figma's)
    /// its HTTP status.
    async fn replay(&self) -> Result<(), String> {
        let (code, verifier, nonce) = self.authorize().await?;
        self.exchange(&code, verifier.as_ref(), nonce.as_ref())
            .await
            .map_err(|e| format!("first exchange_code: {e}"))?;
        match self.exchange(&code, verifier.as_ref(), nonce.as_ref()).await {
            Ok(_) => Err("the replayed code was accepted".to_owned()),
            Err(Error::OAuth { .. } | Error::HttpStatus { .. }) => Ok(()),
            Err(error) => Err(format!("the replay failed without a typed rejection: {error:?}")),
        }
    }

    /// `step`'s result, a failure explained by the impersonating provider's last reason for
    /// refusing a request during it (`client_secret sent in the body, but this provider takes
    /// HTTP Basic`).
    async fn explained<T>(&self, step: impl Future<Output = Result<T, String>>) -> Result<T, String> {
        let before = self.idp.rejections().len();
        step.await.map_err(|error| match self.idp.rejections().get(before..).and_then(<[String]>::last) {
            Some(reason) => format!("{error} [the provider refused: {reason}]"),
            None => error,
        })
    }
}
