//! Providers defined at run time, from configuration rather than a crate: another id for a generic
//! provider (a second OpenID Connect provider, `corp-sso` next to `partner-sso`), or a plain
//! OAuth 2.0 provider described by its endpoints and where its user-info answer keeps each field.
//!
//! A descriptor lives as long as the process (providers are `&'static`): each one built here is
//! allocated once and never freed. Build them at start-up, once per configured provider.
//!
//! ```
//! use loginkit_core::runtime::{OAuth2Definition, ProviderId};
//!
//! let id = ProviderId::parse("legacy-sso").unwrap();
//! let legacy = OAuth2Definition::new(
//!     id,
//!     "Legacy SSO",
//!     "https://sso.example.com/oauth/authorize",
//!     "https://sso.example.com/oauth/token",
//!     "https://sso.example.com/api/me",
//! )
//! .user_id("/uid")
//! .email("/mail")
//! .email_verified("/mail_confirmed")
//! .scopes(["profile", "email"])
//! .descriptor()
//! .unwrap();
//! assert_eq!(legacy.id, "legacy-sso");
//! ```

use url::Url;

use crate::descriptor::{
    Capabilities, ClientAuth, EmailTrustRule, OAuth2Spec, ProviderDescriptor, UserInfoSpec,
};
use crate::error::Error;
use crate::profile::EmailTrust;

/// A provider id checked for use in URLs, configuration keys and Appwrite's API: 1 to 50
/// characters, a lowercase ASCII letter first, then letters, digits and `-` (`corp-sso`,
/// `partnerSso`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderId(String);

impl ProviderId {
    /// Checks `id`.
    pub fn parse(id: &str) -> Result<Self, Error> {
        let shape = id.len() <= 50
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !id.ends_with('-')
            && !id.contains("--");
        if !shape {
            return Err(invalid(
                id,
                "a provider id is 1 to 50 letters, digits and single dashes, starting with a lowercase letter",
            ));
        }
        Ok(Self(id.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn invalid(id: &str, message: impl Into<String>) -> Error {
    Error::Config { provider: leak(id.chars().take(50).collect()), message: message.into() }
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

fn leak_list(items: Vec<String>) -> &'static [&'static str] {
    Box::leak(items.into_iter().map(leak).collect::<Vec<_>>().into_boxed_slice())
}

impl ProviderDescriptor {
    /// This provider under another id and name: a generic provider (OpenID Connect) defined a
    /// second time, with its own configuration. The copy lives as long as the process.
    pub fn renamed(&'static self, id: &ProviderId, display_name: &str) -> &'static ProviderDescriptor {
        Box::leak(Box::new(ProviderDescriptor {
            id: leak(id.0.clone()),
            display_name: leak(display_name.to_owned()),
            ..*self
        }))
    }
}

/// A plain OAuth 2.0 provider described at run time: authorization code flow, a user-info call
/// answering JSON, and where the profile's fields sit in it (JSON pointers, RFC 6901).
#[derive(Debug, Clone)]
pub struct OAuth2Definition {
    id: ProviderId,
    display_name: String,
    authorize_url: String,
    token_url: String,
    userinfo_url: String,
    client_auth: ClientAuth,
    pkce: bool,
    refresh: bool,
    scopes: Vec<String>,
    user_id: String,
    email: Option<String>,
    email_verified: Option<String>,
    name: Option<String>,
    avatar: Option<String>,
}

impl OAuth2Definition {
    /// A provider with these endpoints; by default HTTP Basic client authentication, PKCE (S256),
    /// no refresh, no scopes, the user id at `/id` and no other profile field.
    pub fn new(
        id: ProviderId,
        display_name: &str,
        authorize_url: &str,
        token_url: &str,
        userinfo_url: &str,
    ) -> Self {
        Self {
            id,
            display_name: display_name.to_owned(),
            authorize_url: authorize_url.to_owned(),
            token_url: token_url.to_owned(),
            userinfo_url: userinfo_url.to_owned(),
            client_auth: ClientAuth::Basic,
            pkce: true,
            refresh: false,
            scopes: Vec::new(),
            user_id: "/id".to_owned(),
            email: None,
            email_verified: None,
            name: None,
            avatar: None,
        }
    }

    /// How the client authenticates at the token endpoint.
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = auth;
        self
    }

    /// Whether PKCE (S256) is sent (default `true`).
    pub fn pkce(mut self, on: bool) -> Self {
        self.pkce = on;
        self
    }

    /// Whether the provider issues refresh tokens at its token endpoint.
    pub fn refresh(mut self, on: bool) -> Self {
        self.refresh = on;
        self
    }

    /// The scopes every login asks for.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Where the user id is (default `/id`).
    pub fn user_id(mut self, pointer: &str) -> Self {
        self.user_id = pointer.to_owned();
        self
    }

    /// Where the email address is.
    pub fn email(mut self, pointer: &str) -> Self {
        self.email = Some(pointer.to_owned());
        self
    }

    /// Where the flag saying the email is verified is. Without one, an email is never trusted
    /// (it cannot link accounts).
    pub fn email_verified(mut self, pointer: &str) -> Self {
        self.email_verified = Some(pointer.to_owned());
        self
    }

    /// Where the display name is.
    pub fn name(mut self, pointer: &str) -> Self {
        self.name = Some(pointer.to_owned());
        self
    }

    /// Where the avatar URL is.
    pub fn avatar(mut self, pointer: &str) -> Self {
        self.avatar = Some(pointer.to_owned());
        self
    }

    /// Checks the definition and makes its descriptor (which lives as long as the process).
    pub fn descriptor(self) -> Result<&'static ProviderDescriptor, Error> {
        let id = self.id.as_str();
        for (name, url) in [
            ("authorize_url", &self.authorize_url),
            ("token_url", &self.token_url),
            ("userinfo_url", &self.userinfo_url),
        ] {
            let parsed = Url::parse(url).map_err(|_| invalid(id, format!("`{name}` is not a URL")))?;
            let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
                return Err(invalid(id, format!("`{name}` must be https (plain http only on loopback)")));
            }
        }
        let pointers = [
            ("user_id", Some(&self.user_id)),
            ("email", self.email.as_ref()),
            ("email_verified", self.email_verified.as_ref()),
            ("name", self.name.as_ref()),
            ("avatar", self.avatar.as_ref()),
        ];
        for (name, pointer) in pointers {
            if let Some(pointer) = pointer.filter(|p| !p.starts_with('/')) {
                return Err(invalid(
                    id,
                    format!("`{name}` must be a JSON pointer like `/id`, not `{pointer}`"),
                ));
            }
        }
        if self.display_name.trim().is_empty() {
            return Err(invalid(id, "the display name is empty"));
        }
        let mut userinfo = UserInfoSpec::get(leak(self.userinfo_url), leak(self.user_id));
        if let Some(email) = self.email {
            userinfo = userinfo.email(leak_list(vec![email]));
        }
        userinfo = userinfo.email_trust(match self.email_verified {
            Some(flag) => EmailTrustRule::Flag(leak(flag)),
            None => EmailTrustRule::Fixed(EmailTrust::Unknown),
        });
        if let Some(name) = self.name {
            userinfo = userinfo.name(leak_list(vec![name]));
        }
        if let Some(avatar) = self.avatar {
            userinfo = userinfo.avatar(leak_list(vec![avatar]));
        }
        let oauth2 = OAuth2Spec::new(leak(self.authorize_url), leak(self.token_url))
            .client_auth(self.client_auth)
            .userinfo(userinfo);
        let descriptor = ProviderDescriptor::new(leak(self.id.0), leak(self.display_name), oauth2)
            .default_scopes(leak_list(self.scopes))
            .capabilities(Capabilities::NONE.pkce(self.pkce).refresh(self.refresh));
        Ok(Box::leak(Box::new(descriptor)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        for good in ["corp-sso", "partnerSso", "a", "sso2"] {
            assert!(ProviderId::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "Corp", "-x", "x-", "a--b", "a_b", "a b", "a/b", &"a".repeat(51)] {
            assert!(ProviderId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_definition_is_checked_and_becomes_a_descriptor() {
        let id = || ProviderId::parse("legacy").unwrap();
        let base = || {
            OAuth2Definition::new(
                id(),
                "Legacy",
                "https://a.test/auth",
                "https://a.test/token",
                "https://a.test/me",
            )
        };
        let descriptor =
            base().user_id("/uid").email("/mail").email_verified("/ok").refresh(true).descriptor().unwrap();
        assert_eq!((descriptor.id, descriptor.display_name), ("legacy", "Legacy"));
        let userinfo = descriptor.oauth2.userinfo.unwrap();
        assert_eq!((userinfo.id, userinfo.email), ("/uid", &["/mail"][..]));
        assert!(descriptor.capabilities.pkce && descriptor.capabilities.refresh);
        for (broken, says) in [
            (
                OAuth2Definition::new(
                    id(),
                    "L",
                    "http://a.test/auth",
                    "https://a.test/t",
                    "https://a.test/me",
                ),
                "https",
            ),
            (OAuth2Definition::new(id(), "L", "nope", "https://a.test/t", "https://a.test/me"), "not a URL"),
            (base().email("mail"), "JSON pointer"),
            (
                OAuth2Definition::new(id(), " ", "https://a.test/a", "https://a.test/t", "https://a.test/me"),
                "empty",
            ),
        ] {
            let error = broken.descriptor().unwrap_err().to_string();
            assert!(error.contains(says), "{error}");
        }
        assert!(
            OAuth2Definition::new(
                id(),
                "L",
                "http://127.0.0.1:9/a",
                "http://localhost:9/t",
                "http://127.0.0.1:9/me"
            )
            .descriptor()
            .is_ok(),
            "loopback may be plain http"
        );
    }
}
