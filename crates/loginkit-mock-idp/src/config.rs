//! Configuration of the mock provider: registered clients, users and protocol knobs.

use std::time::Duration;

/// Configuration of a mock identity provider.
#[derive(Clone, Debug)]
pub struct MockIdpConfig {
    /// Registered clients.
    pub clients: Vec<MockClient>,
    /// Users that can sign in; the first one is used when a request names none.
    pub users: Vec<MockUser>,
    /// When `true` (the default), `GET authorize` redirects straight back with a
    /// code; when `false` it shows a login form with Approve and Deny buttons.
    pub auto_approve: bool,
    /// When `true`, authorization requests without `code_challenge` are rejected
    /// with `invalid_request`. Defaults to `false`.
    pub require_pkce: bool,
    /// Lifetime of authorization codes. Defaults to 60 seconds.
    pub code_ttl: Duration,
    /// Lifetime of access tokens, reported as `expires_in`. Defaults to 3600 seconds.
    pub access_token_ttl: Duration,
    /// Whether token responses carry a refresh token. Defaults to `true`.
    pub issue_refresh_tokens: bool,
    /// Lifetime of refresh tokens. Defaults to 30 days.
    pub refresh_token_ttl: Duration,
    /// Most authorization codes, and most access and refresh tokens, kept at once (each kind).
    /// Expired ones are forgotten first; then a new code is refused with
    /// `temporarily_unavailable` and the oldest tokens give way. Whatever clients send, the
    /// provider's memory stays bounded. Defaults to [`MockIdpConfig::DEFAULT_MAX_GRANTS`].
    pub max_grants: usize,
}

impl Default for MockIdpConfig {
    /// One client (`client_id` `"1"`, `client_secret` `"123456"`, any loopback
    /// redirect URI) and the two users of [`MockUser::defaults`].
    fn default() -> Self {
        Self {
            clients: vec![MockClient::new("1", "123456")],
            users: MockUser::defaults(),
            auto_approve: true,
            require_pkce: false,
            code_ttl: Duration::from_secs(60),
            access_token_ttl: Duration::from_secs(3600),
            issue_refresh_tokens: true,
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            max_grants: Self::DEFAULT_MAX_GRANTS,
        }
    }
}

impl MockIdpConfig {
    /// The default of [`MockIdpConfig::max_grants`].
    pub const DEFAULT_MAX_GRANTS: usize = 4096;

    pub(crate) fn client(&self, client_id: &str) -> Option<&MockClient> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    pub(crate) fn user(&self, user_id: &str) -> Option<&MockUser> {
        self.users.iter().find(|u| u.id == user_id)
    }
}

/// A client registered with the mock provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockClient {
    /// The `client_id`.
    pub client_id: String,
    /// The `client_secret`.
    pub client_secret: String,
    /// Allowed redirect URIs, compared exactly. When empty, any `http` or
    /// `https` URL whose host is loopback (`localhost`, `127.0.0.0/8`, `::1`)
    /// is allowed.
    pub redirect_uris: Vec<String>,
}

impl MockClient {
    /// A client that accepts any loopback redirect URI.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self { client_id: client_id.into(), client_secret: client_secret.into(), redirect_uris: Vec::new() }
    }

    /// Restricts the client to exactly these redirect URIs.
    #[must_use]
    pub fn with_redirect_uris<I, S>(mut self, uris: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.redirect_uris = uris.into_iter().map(Into::into).collect();
        self
    }
}

/// A user account of the mock provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockUser {
    /// Stable identifier, reported as `id` and `sub`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Whether the email address is verified.
    pub verified: bool,
}

impl MockUser {
    /// The two users of Appwrite's mock provider: `"1"` (verified) and `"2"` (unverified).
    pub fn defaults() -> Vec<MockUser> {
        vec![
            MockUser {
                id: "1".into(),
                name: "User Name".into(),
                email: "useroauth@localhost.test".into(),
                verified: true,
            },
            MockUser {
                id: "2".into(),
                name: "User Name Unverified".into(),
                email: "useroauthunverified@localhost.test".into(),
                verified: false,
            },
        ]
    }
}
