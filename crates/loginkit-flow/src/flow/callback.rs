//! A login: its start, and its callback up to the written plan.

use super::*;

/// What a login ends with.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ending<'a> {
    /// A session.
    Session,
    /// A token-flow secret, redeemable by `redeemer` only when one is named.
    Token { redeemer: Option<&'a str> },
}

impl Flow {
    /// Starts a login: checks the provider, URLs and scopes, and returns the provider's authorize
    /// URL carrying a sealed `state`, plus the cookie binding it to this browser.
    pub async fn start(&self, request: &StartRequest<'_>) -> Result<Started, FlowError> {
        let provider = self.provider(request.provider)?;
        let project = &self.inner.project;
        let success = self.target(request.success, project.default_success.as_ref(), "success")?;
        let failure = self.target(request.failure, project.default_failure.as_ref(), "failure")?;
        if request.scopes.len() > MAX_SCOPES {
            return Err(FlowError::argument(
                "scopes",
                format!("Value must be an array of no more than {MAX_SCOPES} items."),
            ));
        }
        if request.scopes.iter().any(|s| s.len() > MAX_SCOPE_LEN) {
            return Err(FlowError::argument(
                "scopes",
                format!("each scope must be at most {MAX_SCOPE_LEN} characters long."),
            ));
        }
        let allowed = provider.descriptor().oauth2.login_params;
        if request.params.len() > MAX_LOGIN_PARAMS {
            return Err(FlowError::argument(
                "params",
                format!("at most {MAX_LOGIN_PARAMS} authorize parameters."),
            ));
        }
        for (i, (name, value)) in request.params.iter().enumerate() {
            if !LOGIN_PARAMS.contains(&name.as_str()) && !allowed.contains(&name.as_str()) {
                let name = plain_text(name, 32);
                return Err(FlowError::argument(
                    "params",
                    format!("`{name}` is not a parameter this provider takes."),
                ));
            }
            if request.params[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(FlowError::argument("params", format!("`{name}` is given twice.")));
            }
            if value.len() > MAX_LOGIN_PARAM_LEN || value.chars().any(char::is_control) {
                return Err(FlowError::argument("params", format!("`{name}` is too long or not text.")));
            }
            let prompts = ["none", "login", "consent", "select_account"];
            if name == "prompt" && !value.split(' ').all(|p| prompts.contains(&p)) {
                return Err(FlowError::argument(
                    "params",
                    "`prompt` is none, login, consent or select_account.",
                ));
            }
        }
        let capabilities = provider.descriptor().capabilities;
        let pkce = capabilities.pkce.then(PkceCodeChallenge::new_random_sha256);
        let nonce = capabilities.oidc.then(Nonce::new_random);
        let state = LoginState {
            id: crypto::new_state_id(),
            project: project.id.clone(),
            provider: request.provider.to_owned(),
            success: success.to_string(),
            failure: failure.to_string(),
            token: request.token,
            redirect_uri: request.redirect_uri.to_string(),
            binding: crypto::random_secret(),
            pkce_verifier: pkce.as_ref().map(|(_, verifier)| verifier.secret().to_owned()),
            nonce: nonce.as_ref().map(|n| n.secret().to_owned()),
            expires: Timestamp::now().plus(project.state_lifetime).millis(),
            backend: request.backend.map(str::to_owned),
        };
        let sealed = state.seal(&self.inner.keys);
        if sealed.len() > crate::state::MAX_SEALED_LEN {
            return Err(FlowError::argument(
                "success",
                "the success and failure URLs are too long together.",
            ));
        }
        let mut authorize = AuthorizeRequest::new(request.redirect_uri, &sealed)
            .scopes(request.scopes)
            .extra_params(request.params);
        if let Some((challenge, _)) = &pkce {
            authorize = authorize.pkce_challenge(challenge);
        }
        if let Some(nonce) = &nonce {
            authorize = authorize.nonce(nonce);
        }
        let location = provider.authorize(&authorize).await.map_err(FlowError::StartFailed)?;
        let cookie = state.backend.is_none().then(|| Cookie {
            name: project.cookie_name(&state.cookie_name()),
            value: state.binding,
            max_age: project.state_lifetime,
            secure: project.secure_cookies,
        });
        Ok(Started { location, cookie })
    }

    fn target(
        &self,
        given: Option<&str>,
        default: Option<&Url>,
        name: &'static str,
    ) -> Result<Url, FlowError> {
        let allow = &self.inner.project.allow;
        match (given.filter(|s| !s.is_empty()), default) {
            (Some(url), _) => allow.check(url).map_err(|error| {
                FlowError::argument(
                    name,
                    format!("URL host must be one of: {}. ({error})", allow.hostnames().join(", ")),
                )
            }),
            (None, Some(default)) => allow.check(default.as_str()).map_err(|error| {
                FlowError::argument(
                    name,
                    format!("the project's default URL is not on its allow-list ({error})."),
                )
            }),
            (None, None) => Err(FlowError::argument(name, "the URL is required.")),
        }
    }

    /// Finishes a login at the callback.
    ///
    /// An `Err` means the request cannot be trusted to name a failure URL (bad, expired, replayed
    /// or foreign state, no binding cookie) or the store failed; nothing was written. Otherwise
    /// the answer redirects to the success URL, or to the failure URL with Appwrite's `error`
    /// parameter, in which case nothing was written either.
    pub async fn callback(&self, request: &CallbackRequest<'_>) -> Result<Completed, FlowError> {
        let param = |name: &str| request.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let sealed = param("state")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| FlowError::BadState(StateProblem::Missing))?;
        let state = LoginState::open(&self.inner.keys, sealed)
            .ok_or_else(|| FlowError::BadState(StateProblem::NotOurs))?;
        let project = &self.inner.project;
        if state.project != project.id || state.provider != request.provider {
            return Err(FlowError::BadState(StateProblem::Elsewhere));
        }
        if state.expired(Timestamp::now()) {
            return Err(FlowError::BadState(StateProblem::Expired));
        }
        // A browser's login is bound to it by a cookie; a backend's login to the backend, which
        // alone may redeem its secret. Only the `__Host-` name counts on an https site: a
        // sibling subdomain can plant the plain one.
        let clear = match &state.backend {
            Some(_) => None,
            None => {
                let cookie_name = project.cookie_name(&state.cookie_name());
                let bound = request.cookies.iter().any(|(name, value)| {
                    *name == cookie_name && crypto::secrets_equal(value, &state.binding)
                });
                if !bound {
                    return Err(FlowError::BadState(StateProblem::OtherBrowser));
                }
                Some(Cookie::removal(cookie_name, project.secure_cookies))
            }
        };
        let success = project
            .allow
            .check(&state.success)
            .map_err(|_| FlowError::RedirectNotAllowed(Target::Success))?;
        let failure = project
            .allow
            .check(&state.failure)
            .map_err(|_| FlowError::RedirectNotAllowed(Target::Failure))?;
        if !self.inner.store.consume_state(&state.id, Timestamp::from_millis(state.expires)).await? {
            return Err(FlowError::BadState(StateProblem::Replayed));
        }
        let fail = |error: FlowError| -> Result<Completed, FlowError> {
            tracing::info!(provider = request.provider, error = error.code(), "login failed");
            Ok(Completed {
                location: failure.clone(),
                cookies: clear.iter().cloned().collect(),
                session: None,
                error: Some(error),
            })
        };
        let provider = match self.provider(request.provider) {
            Ok(provider) => provider,
            Err(error) => return fail(error),
        };
        let name = provider.descriptor().display_name;
        if let Some(error) = param("error") {
            // The provider's words reach the app's failure page: as plain text, capped.
            let description =
                param("error_description").map(|d| plain_text(d, 256)).filter(|d| !d.is_empty());
            return fail(FlowError::ProviderDenied {
                provider: name,
                error: plain_text(error, 64),
                description,
            });
        }
        let Some(code) = param("code").filter(|c| !c.is_empty()) else {
            return fail(FlowError::MissingCode);
        };
        let redirect_uri = match Url::parse(&state.redirect_uri) {
            Ok(url) => url,
            Err(_) => return Err(FlowError::BadState(StateProblem::BadRedirectUri)),
        };
        let code = AuthorizationCode::new(code.to_owned());
        let verifier = state.pkce_verifier.clone().map(PkceCodeVerifier::new);
        let nonce = state.nonce.clone().map(Nonce::new);
        let mut exchange = ExchangeRequest::new(&code, &redirect_uri).callback_params(request.params);
        if let Some(verifier) = &verifier {
            exchange = exchange.pkce_verifier(verifier);
        }
        if let Some(nonce) = &nonce {
            exchange = exchange.nonce(nonce);
        }
        let tokens = match provider.exchange_code(&exchange).await {
            Ok(tokens) => tokens,
            Err(error) => {
                let reason = error.provider_code().map(str::to_owned).unwrap_or_else(|| error.to_string());
                let reason = plain_text(&reason, 256);
                return fail(FlowError::ExchangeFailed { provider: name, reason, source: error });
            }
        };
        let profile = match provider.user_profile(&tokens).await {
            Ok(profile) => profile,
            Err(error) => {
                let reason = plain_text(&error.to_string(), 256);
                return fail(FlowError::ProfileFailed { provider: name, reason, source: error });
            }
        };
        if profile.id.is_empty() {
            return fail(FlowError::MissingUserId);
        }
        let display_name = profile.name.clone().filter(|n| !n.is_empty());
        let login = Login { provider: request.provider, profile: &profile, display_name, tokens: &tokens };
        let current = request.current_session.filter(|session| self.may_link_to(session, request.cookies));
        let ending = match state.token {
            true => Ending::Token { redeemer: state.backend.as_deref() },
            false => Ending::Session,
        };
        match self.complete(&login, ending, current, request.client).await {
            Ok((user_id, outcome)) => {
                let mut location = success;
                let mut cookies: Vec<Cookie> = clear.into_iter().collect();
                let session = match outcome {
                    Outcome::Session(session) => Some(*session),
                    Outcome::Token { secret, link } => {
                        location
                            .query_pairs_mut()
                            .append_pair("userId", &user_id)
                            .append_pair("secret", &secret);
                        cookies.push(Cookie {
                            name: project.link_cookie_name(),
                            value: link,
                            max_age: project.session_duration,
                            secure: project.secure_cookies,
                        });
                        None
                    }
                };
                tracing::info!(provider = request.provider, user = %user_id, token_flow = state.token, "login completed");
                Ok(Completed { location, cookies, session, error: None })
            }
            Err(error) if error.is_server_error() => Err(error),
            Err(error) => fail(error),
        }
    }

    /// Whether a login may link its identity to the user of `session`, the session the browser
    /// is signed in with.
    ///
    /// A session made from a token-flow secret was made by whoever held the secret, and a secret
    /// travels in a URL: an attacker can finish the token flow for their own account and hand
    /// the success URL to a victim, whose browser then redeems it and is signed in as the
    /// attacker. Linking the victim's next provider to that session would hand the attacker the
    /// victim's identity and provider tokens. Such a session is a link target only in the
    /// browser that finished its token-flow login, which holds the link cookie whose digest the
    /// session carries; elsewhere the login goes on as if no one were signed in.
    fn may_link_to(&self, session: &Session, cookies: &[(String, String)]) -> bool {
        let Some(expected) = &session.link_binding else { return true };
        let name = self.inner.project.link_cookie_name();
        let proven = cookies
            .iter()
            .any(|(n, value)| *n == name && crypto::secrets_equal(&crypto::digest_secret(value), expected));
        if !proven {
            tracing::info!(
                session = %session.id,
                "a session redeemed from a token-flow secret outside the browser that finished its login is not a link target"
            );
        }
        proven
    }

    /// Account matching and every write of a login, as one unit of the store: it reads what the
    /// login may land on, [`account::decide`] makes the plan, and the store writes it (deciding
    /// again if a concurrent login changed what it read).
    pub(super) async fn complete(
        &self,
        login: &Login<'_>,
        ending: Ending<'_>,
        current: Option<&Session>,
        client: &Client,
    ) -> Result<(String, Outcome), FlowError> {
        let now = Timestamp::now();
        let project = &self.inner.project;
        let profile = login.profile;
        let keys = &self.inner.keys;
        let plain = PlainTokens::from(login.tokens);
        let email = profile.email.as_deref().filter(|e| !e.is_empty());
        let facts = LoginFacts {
            provider: login.provider.to_owned(),
            uid: profile.id.clone(),
            email: email.map(str::to_owned),
            verified: profile.email_trust.is_verified(),
            display_name: login.display_name.clone(),
            subject: login.tokens.id_token_claims.as_ref().map(|claims| claims.sub.clone()),
            claims: claims_json(login.tokens),
            id_token: login.tokens.id_token.as_ref().map(|token| {
                Row::Identity { provider: login.provider, uid: &profile.id }.seal(keys, token.secret())
            }),
            avatar_url: profile
                .avatar_url
                .as_deref()
                .filter(|url| url.len() <= MAX_AVATAR_URL)
                .map(str::to_owned),
            identity_tokens: plain.seal(keys, Row::Identity { provider: login.provider, uid: &profile.id }),
            new_user_id: crypto::new_id(),
            new_identity_id: crypto::new_id(),
            current: current.cloned(),
            session_limit: project.session_limit,
            now,
        };
        let (making, outcome) = if let Ending::Token { redeemer } = ending {
            let secret = crypto::random_secret();
            let link = crypto::random_secret();
            let token = OneTimeToken {
                id: crypto::new_id(),
                user_id: String::new(),
                secret_digest: crypto::digest_secret(&secret),
                provider: login.provider.to_owned(),
                expire: now.plus(project.token_lifetime),
                created_at: now,
                link_binding: Some(crypto::digest_secret(&link)),
                redeemer: redeemer.map(str::to_owned),
            };
            (Making::Token(token), Pending::Token { secret, link })
        } else {
            let (session, cookie_secret) =
                self.session_for(login.provider, &profile.id, &plain, None, client, now);
            (Making::Session(session), Pending::Session(cookie_secret))
        };
        let key = LoginKey {
            provider: login.provider,
            provider_uid: &profile.id,
            previous_uid: profile.previous_id.as_deref(),
            email,
            current_user: current.map(|c| c.user_id.as_str()),
        };
        let policy = project.policy.as_ref();
        let asks = policy.questions();
        let attempt = Attempt {
            provider: login.provider,
            provider_uid: &profile.id,
            email,
            email_verified: facts.verified,
            name: facts.display_name.as_deref(),
        };
        // The policy's questions are async and the decision is not: a decision raising a
        // question not answered yet writes nothing and hands the question out; the login asks
        // it and decides again with the answer (once per question, at most three).
        let mut verdicts = Verdicts::default();
        let plan = loop {
            let asked = Arc::new(std::sync::Mutex::new(None::<Question>));
            let decide = {
                let (facts, making, verdicts, asked) =
                    (facts.clone(), making.clone(), verdicts.clone(), asked.clone());
                move |snapshot: &Snapshot| {
                    let plan = account::decide(&facts, &making, snapshot)?;
                    match verdicts.review(asks, &plan, snapshot) {
                        Ok(()) => Ok(plan),
                        Err(Ok(refusal)) => Err(FlowError::Refused(refusal)),
                        Err(Err(question)) => {
                            *asked.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(question);
                            Err(FlowError::Refused(Refusal::Other("not decided yet".into())))
                        }
                    }
                }
            };
            let result = self.inner.store.login(&key, Box::new(decide)).await?;
            let question = asked.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
            match (result, question) {
                (Err(_), Some(question)) => verdicts.ask(policy, question, &attempt).await,
                (result, _) => break result?,
            }
        };
        let user_id = plan.user.id().to_owned();
        let new_user = matches!(plan.user, PlannedUser::Create(_));
        let linked = !new_user && matches!(plan.identity, Some(PlannedIdentity::Create(_)));
        let signed_in =
            Event::SignedIn { user: &user_id, provider: login.provider, provider_uid: &profile.id, new_user };
        policy.on_event(&signed_in).await;
        if linked {
            policy
                .on_event(&Event::Linked {
                    user: &user_id,
                    provider: login.provider,
                    provider_uid: &profile.id,
                })
                .await;
        }
        let outcome = match (outcome, plan.session) {
            (Pending::Session(secret), Some(placed)) => {
                Outcome::Session(Box::new(new_session(placed.session, secret)))
            }
            (Pending::Token { secret, link }, _) => Outcome::Token { secret, link },
            (Pending::Session(_), None) => {
                return Err(FlowError::Store(StoreError::Conflict("the login's plan made no session")));
            }
        };
        Ok((user_id, outcome))
    }

    /// A new session (everything but its user and slot, which the plan decides) and the secret
    /// its cookie will carry.
    pub(super) fn session_for(
        &self,
        provider: &str,
        provider_uid: &str,
        tokens: &PlainTokens,
        link_binding: Option<String>,
        client: &Client,
        now: Timestamp,
    ) -> (Session, String) {
        let secret = crypto::random_secret();
        let id = crypto::new_id();
        let tokens = tokens.seal(&self.inner.keys, Row::Session(&id));
        let session = Session {
            id,
            user_id: String::new(),
            secret_digest: crypto::digest_secret(&secret),
            provider: provider.to_owned(),
            provider_uid: provider_uid.to_owned(),
            tokens,
            expire: now.plus(self.inner.project.session_duration),
            ip: truncate(&client.ip, 64).to_owned(),
            user_agent: truncate(&client.user_agent, 512).to_owned(),
            created_at: now,
            updated_at: now,
            link_binding,
            slot: 0,
        };
        (session, secret)
    }
}

pub(super) enum Outcome {
    Session(Box<NewSession>),
    /// The token flow's one-time secret, and the link cookie's value for the browser.
    Token {
        secret: String,
        link: String,
    },
}

/// The secrets a login hands out once its plan is written.
enum Pending {
    /// The new session's cookie secret.
    Session(String),
    /// The token flow's secret and link cookie value.
    Token { secret: String, link: String },
}

pub(super) struct Login<'a> {
    pub(super) provider: &'a str,
    pub(super) profile: &'a UserProfile,
    pub(super) display_name: Option<String>,
    pub(super) tokens: &'a TokenSet,
}

/// Text from a provider (an `error_description`, an error message quoting one) made safe for an
/// app's failure page: markup removed, control characters and the characters that open markup or
/// quote dropped, whitespace collapsed, at most `max` characters.
pub(super) fn plain_text(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            '>' | '"' | '\\' | '`' => {}
            c if c.is_whitespace() || c.is_control() => {
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c => out.push(c),
        }
    }
    truncate(out.trim_end(), max).to_owned()
}

pub(super) fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((index, _)) => &s[..index],
        None => s,
    }
}

/// Longest avatar URL kept on an identity.
const MAX_AVATAR_URL: usize = 2048;
/// Largest ID-token claims (as JSON) kept on an identity; larger ones are not kept.
const MAX_CLAIMS: usize = 16 * 1024;

/// The verified ID token's claims as JSON, when the provider verified one and they are not
/// unreasonably large.
pub(super) fn claims_json(tokens: &TokenSet) -> Option<String> {
    let claims = tokens.id_token_claims.as_ref()?;
    let json = serde_json::to_string(claims.raw()).ok()?;
    (json.len() <= MAX_CLAIMS).then_some(json)
}

/// Where to send a `response_mode=form_post` callback (Apple's): its fields come as a
/// cross-site POST, which carries no SameSite=Lax cookie, so the browser is sent (303) to the
/// GET callback at `path` with the query's and the form's fields as its query, a top-level
/// navigation that carries the binding cookie.
pub fn form_post_location(path: &str, query: &[u8], body: &[u8]) -> String {
    let fields = url::form_urlencoded::parse(query).chain(url::form_urlencoded::parse(body));
    let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_post_fields_become_the_query_of_the_get_callback() {
        let location = form_post_location("/cb/apple", b"a=1", b"code=c&state=s%2B&user=%7B%7D");
        assert_eq!(location, "/cb/apple?a=1&code=c&state=s%2B&user=%7B%7D");
        assert_eq!(form_post_location("/cb", b"", b""), "/cb");
    }

    #[test]
    fn provider_text_becomes_plain_text() {
        assert_eq!(
            plain_text("<script>alert(1)</script>Access <b>denied</b>\n\tby   policy \"x\" > y", 100),
            "alert(1)Access denied by policy x y"
        );
        assert_eq!(plain_text("<img src=x onerror=alert(1)>", 100), "");
        assert_eq!(plain_text(&"é".repeat(300), 256).chars().count(), 256);
        assert_eq!(plain_text("unclosed <tag and more", 100), "unclosed");
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("hi", 5), "hi");
    }
}
