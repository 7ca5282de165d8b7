//! A project: its allow-list, providers, session rules and policy, and the builder that makes it.

use loginkit_core::{HttpClient, ProviderConfig, Registry};

use super::*;

/// Longest a login may take from start to callback.
pub const MAX_STATE_LIFETIME: Duration = Duration::from_secs(3600);

/// A project: its allow-list, its enabled providers, its session rules and its policy. Made by
/// [`Project::builder`]; read through its accessors.
#[derive(Clone)]
pub struct Project {
    pub(crate) id: String,
    pub(crate) allow: AllowList,
    pub(crate) providers: BTreeMap<String, Arc<dyn OAuthProvider>>,
    /// Provider ids this build knows (enabled or not); others are "unsupported".
    pub(crate) known_providers: Vec<String>,
    pub(crate) session_limit: u32,
    pub(crate) session_duration: Duration,
    pub(crate) token_lifetime: Duration,
    pub(crate) state_lifetime: Duration,
    pub(crate) default_success: Option<Url>,
    pub(crate) default_failure: Option<Url>,
    pub(crate) secure_cookies: bool,
    pub(crate) policy: Arc<dyn Policy>,
    pub(crate) revoke_provider_tokens: bool,
    pub(crate) revocation_backoff: Duration,
    /// Providers enabled for native ID-token sign-in, with the extra audiences they accept.
    pub(crate) native: BTreeMap<String, Vec<String>>,
}

impl Project {
    /// A builder for project `id`, with Appwrite's defaults: 10 sessions per user, one-year
    /// sessions, 60-second token-flow secrets, 10-minute logins, no provider enabled, no host
    /// allowed, [`AdmitAll`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), loginkit_flow::ProjectError> {
    /// use loginkit_core::ProviderConfig;
    /// let project = loginkit_flow::Project::builder("app")
    ///     .hostnames(["example.com"])
    ///     .provider("github", ProviderConfig::new("Iv1.0123", "secret"))
    ///     .success_url("https://example.com/welcome")
    ///     .failure_url("https://example.com/sign-in")
    ///     .secure_cookies(true)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn builder(id: impl Into<String>) -> ProjectBuilder<'static> {
        ProjectBuilder {
            project: Project {
                id: id.into(),
                allow: AllowList::new(Vec::<String>::new(), Vec::<String>::new()),
                providers: BTreeMap::new(),
                known_providers: Vec::new(),
                session_limit: 10,
                session_duration: Duration::from_secs(365 * 24 * 3600),
                token_lifetime: Duration::from_secs(60),
                state_lifetime: STATE_LIFETIME,
                default_success: None,
                default_failure: None,
                secure_cookies: false,
                policy: Arc::new(AdmitAll),
                revoke_provider_tokens: true,
                revocation_backoff: Duration::from_secs(30),
                native: BTreeMap::new(),
            },
            hostnames: None,
            schemes: Vec::new(),
            registry: None,
            http: None,
            success: None,
            failure: None,
            error: None,
        }
    }

    /// The project's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where success and failure URLs (and, for adapters that check them, origins) may point.
    pub fn allow(&self) -> &AllowList {
        &self.allow
    }

    /// An enabled provider.
    pub fn provider(&self, id: &str) -> Option<&Arc<dyn OAuthProvider>> {
        self.providers.get(id)
    }

    /// The enabled providers' ids, sorted.
    pub fn provider_ids(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// Most sessions per user (the oldest go first); 0 means no limit.
    pub fn session_limit(&self) -> u32 {
        self.session_limit
    }

    /// How long a session lasts.
    pub fn session_duration(&self) -> Duration {
        self.session_duration
    }

    /// How long a token-flow secret may be redeemed.
    pub fn token_lifetime(&self) -> Duration {
        self.token_lifetime
    }

    /// How long a login may take from start to callback.
    pub fn state_lifetime(&self) -> Duration {
        self.state_lifetime
    }

    /// The success URL of a login that names none.
    pub fn default_success(&self) -> Option<&Url> {
        self.default_success.as_ref()
    }

    /// The failure URL of a login that names none.
    pub fn default_failure(&self) -> Option<&Url> {
        self.default_failure.as_ref()
    }

    /// Whether the site is served over https: the flow's cookies are then `Secure` and named with
    /// the `__Host-` prefix, which a sibling subdomain cannot plant.
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies
    }

    /// The project's policy.
    pub fn policy(&self) -> &Arc<dyn Policy> {
        &self.policy
    }

    /// The extra audiences of `provider`'s native ID-token sign-in, when it is enabled.
    pub fn native_audiences(&self, provider: &str) -> Option<&[String]> {
        self.native.get(provider).map(Vec::as_slice)
    }

    /// Whether signing out and unlinking revoke provider tokens at the provider.
    pub fn revokes_provider_tokens(&self) -> bool {
        self.revoke_provider_tokens
    }

    /// The name of one of the flow's cookies: `__Host-<name>` when cookies are `Secure`.
    pub fn cookie_name(&self, name: &str) -> String {
        if self.secure_cookies { format!("__Host-{name}") } else { name.to_owned() }
    }

    /// The cookie tying token-flow secrets of this project to the browser that finished them.
    pub(super) fn link_cookie_name(&self) -> String {
        self.cookie_name(&format!("{LINK_COOKIE_PREFIX}{}", self.id))
    }
}

impl fmt::Debug for Project {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Project")
            .field("id", &self.id)
            .field("allow", &self.allow)
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .field("session_limit", &self.session_limit)
            .field("session_duration", &self.session_duration)
            .field("secure_cookies", &self.secure_cookies)
            .finish_non_exhaustive()
    }
}

/// Why a [`ProjectBuilder`] could not make its project.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    /// A provider could not be set up (unknown id, missing parameter, bad URL, ...).
    #[error("provider `{id}`: {source}")]
    Provider {
        /// The provider id.
        id: String,
        /// Why.
        #[source]
        source: loginkit_core::Error,
    },
    /// A default success or failure URL does not parse or is not on the allow-list.
    #[error("the default {target} URL: {reason}")]
    Url {
        /// Which one.
        target: Target,
        /// Why.
        reason: String,
    },
    /// A setting is out of range.
    #[error("{0}")]
    Invalid(String),
}

/// Builds a [`Project`]; the first mistake is reported by [`ProjectBuilder::build`].
#[must_use]
pub struct ProjectBuilder<'r> {
    project: Project,
    hostnames: Option<Vec<String>>,
    schemes: Vec<String>,
    registry: Option<&'r Registry>,
    http: Option<HttpClient>,
    success: Option<String>,
    failure: Option<String>,
    error: Option<ProjectError>,
}

impl<'r> ProjectBuilder<'r> {
    /// Hostname patterns success and failure URLs may use (`example.com`, `*.example.com`,
    /// `localhost`; `http://host` limits a host to http).
    pub fn hostnames<I: IntoIterator<Item = S>, S: Into<String>>(mut self, hostnames: I) -> Self {
        self.hostnames = Some(hostnames.into_iter().map(Into::into).collect());
        self
    }

    /// Custom URL schemes success URLs may use (app deep links).
    pub fn schemes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, schemes: I) -> Self {
        self.schemes = schemes.into_iter().map(Into::into).collect();
        self
    }

    /// The allow-list itself, instead of [`hostnames`](Self::hostnames) and
    /// [`schemes`](Self::schemes).
    pub fn allow(mut self, allow: AllowList) -> Self {
        self.project.allow = allow;
        self.hostnames = None;
        self.schemes.clear();
        self
    }

    /// The registry providers are made from, and the HTTP client they call through. Default:
    /// [`Registry::global`] (every provider this binary links) and
    /// [`HttpClient::with_defaults`]. The registry's ids are the ones the project knows:
    /// another id is "unsupported", a known one not enabled "disabled".
    pub fn registry<'s>(self, registry: &'s Registry, http: HttpClient) -> ProjectBuilder<'s> {
        ProjectBuilder {
            project: self.project,
            hostnames: self.hostnames,
            schemes: self.schemes,
            registry: Some(registry),
            http: Some(http),
            success: self.success,
            failure: self.failure,
            error: self.error,
        }
    }

    fn registry_or_global(&self) -> Result<&'r Registry, loginkit_core::Error> {
        match self.registry {
            Some(registry) => Ok(registry),
            None => Registry::global(),
        }
    }

    fn http(&mut self) -> Result<HttpClient, ProjectError> {
        if self.http.is_none() {
            let http = HttpClient::with_defaults()
                .map_err(|e| ProjectError::Invalid(format!("cannot make the HTTP client: {e}")))?;
            self.http = Some(http);
        }
        Ok(self.http.clone().expect("set above"))
    }

    /// Enables provider `id` of the registry with `config` (client id and secret, parameters).
    /// `id` is a string or the facade's `loginkit::Provider` (naming it links the provider's
    /// crate into the binary, which a string alone does not).
    pub fn provider(mut self, id: impl fmt::Display, config: ProviderConfig) -> Self {
        if self.error.is_some() {
            return self;
        }
        let id = id.to_string();
        let id = id.as_str();
        let failed = |source| ProjectError::Provider { id: id.to_owned(), source };
        let made = self.http().and_then(|http| {
            let registry = self.registry_or_global().map_err(failed)?;
            registry.instantiate(id, config, http).map_err(failed)
        });
        match made {
            Ok(provider) => self.enable(provider),
            Err(error) => {
                self.error = Some(error);
                self
            }
        }
    }

    /// Enables a provider made elsewhere, under its descriptor's id.
    pub fn enable(mut self, provider: Box<dyn OAuthProvider>) -> Self {
        let id = provider.descriptor().id.to_owned();
        self.project.providers.insert(id, Arc::from(provider));
        self
    }

    /// A provider the project knows but has turned off (one defined at run time, which the
    /// registry does not list): its logins are [`FlowError::ProviderDisabled`], not unknown.
    pub fn disabled(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        if !self.project.known_providers.contains(&id) {
            self.project.known_providers.push(id);
        }
        self
    }

    /// Most sessions per user (the oldest go first); 0 means no limit. Default 10.
    pub fn session_limit(mut self, limit: u32) -> Self {
        self.project.session_limit = limit;
        self
    }

    /// How long a session lasts. Default one year.
    pub fn session_duration(mut self, duration: Duration) -> Self {
        self.project.session_duration = duration;
        self
    }

    /// How long a token-flow secret may be redeemed. Default 60 seconds.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.project.token_lifetime = lifetime;
        self
    }

    /// How long a login may take from start to callback: 1 second to an hour. Default 10
    /// minutes.
    pub fn state_lifetime(mut self, lifetime: Duration) -> Self {
        self.project.state_lifetime = lifetime;
        self
    }

    /// The success URL of a login that names none; it must be on the allow-list.
    pub fn success_url(mut self, url: impl Into<String>) -> Self {
        self.success = Some(url.into());
        self
    }

    /// The failure URL of a login that names none; it must be on the allow-list. Default: the
    /// success URL (a failed login arrives there with the error).
    pub fn failure_url(mut self, url: impl Into<String>) -> Self {
        self.failure = Some(url.into());
        self
    }

    /// Whether the site is served over https (`Secure`, `__Host-` cookies). Default off.
    pub fn secure_cookies(mut self, secure: bool) -> Self {
        self.project.secure_cookies = secure;
        self
    }

    /// The project's [`Policy`]. Default [`AdmitAll`].
    pub fn policy(mut self, policy: impl Policy) -> Self {
        self.project.policy = Arc::new(policy);
        self
    }

    /// Enables native ID-token sign-in ([`Flow::sign_in_with_id_token`]) with `provider`, whose
    /// tokens may also be addressed to `audiences` (the app's native client ids: an iOS bundle
    /// id, an Android client id) besides the project's client id.
    pub fn native_sign_in<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        provider: &str,
        audiences: I,
    ) -> Self {
        self.project.native.insert(provider.to_owned(), audiences.into_iter().map(Into::into).collect());
        self
    }

    /// Whether signing out and unlinking revoke the provider tokens of that login or account at
    /// the provider (for providers that can). Default on.
    pub fn revoke_provider_tokens(mut self, revoke: bool) -> Self {
        self.project.revoke_provider_tokens = revoke;
        self
    }

    /// The first wait before a revocation the provider did not confirm is tried again; it
    /// doubles with each attempt (at most six hours). Default 30 seconds.
    pub fn revocation_backoff(mut self, backoff: Duration) -> Self {
        self.project.revocation_backoff = backoff;
        self
    }

    /// The project, or the first mistake made building it.
    pub fn build(self) -> Result<Project, ProjectError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut project = self.project;
        if let Some(hostnames) = self.hostnames {
            project.allow = AllowList::new(hostnames, self.schemes);
        } else if !self.schemes.is_empty() {
            project.allow = AllowList::new(project.allow.hostnames().to_vec(), self.schemes);
        }
        if project.state_lifetime < Duration::from_secs(1) || project.state_lifetime > MAX_STATE_LIFETIME {
            return Err(ProjectError::Invalid("the state lifetime is 1 second to an hour".into()));
        }
        if project.session_duration.is_zero() {
            return Err(ProjectError::Invalid("sessions must last longer than nothing".into()));
        }
        for (target, url, slot) in [
            (Target::Success, self.success, &mut project.default_success),
            (Target::Failure, self.failure, &mut project.default_failure),
        ] {
            if let Some(url) = url {
                let checked = project.allow.check(&url).map_err(|error| ProjectError::Url {
                    target,
                    reason: format!("`{url}` is not allowed ({error})"),
                })?;
                *slot = Some(checked);
            }
        }
        if project.default_failure.is_none() {
            project.default_failure = project.default_success.clone();
        }
        let registry = match self.registry {
            Some(registry) => Some(registry),
            None => Registry::global().ok(),
        };
        let disabled = std::mem::take(&mut project.known_providers);
        project.known_providers =
            registry.map(|r| r.ids().into_iter().map(str::to_owned).collect()).unwrap_or_default();
        project.known_providers.extend(disabled.into_iter().filter(|id| !project.providers.contains_key(id)));
        for id in project.providers.keys() {
            if !project.known_providers.contains(id) {
                project.known_providers.push(id.clone());
            }
        }
        Ok(project)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_reports_the_first_mistake() {
        let unknown = Project::builder("app").provider("nope", ProviderConfig::new("id", "secret")).build();
        assert!(matches!(unknown, Err(ProjectError::Provider { ref id, .. }) if id == "nope"), "{unknown:?}");
        let foreign =
            Project::builder("app").hostnames(["example.com"]).success_url("https://evil.test/").build();
        assert!(matches!(foreign, Err(ProjectError::Url { target: Target::Success, .. })), "{foreign:?}");
        let slow = Project::builder("app").state_lifetime(Duration::from_secs(7200)).build();
        assert!(matches!(slow, Err(ProjectError::Invalid(_))));
        let fine = Project::builder("app")
            .hostnames(["example.com"])
            .success_url("https://example.com/ok")
            .session_limit(3)
            .build()
            .unwrap();
        assert_eq!(fine.default_success().map(Url::as_str), Some("https://example.com/ok"));
        assert_eq!(fine.session_limit(), 3);
        assert_eq!(fine.default_failure(), fine.default_success(), "failures go where successes do");
    }
}
