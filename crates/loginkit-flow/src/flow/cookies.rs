//! The cookies the flow asks an adapter to set, and the session cookie's value.

use super::*;

/// Prefix of the cookie that ties a project's token-flow secrets to the browser that finished
/// the login; the project id follows.
pub const LINK_COOKIE_PREFIX: &str = "loginkit_link_";

/// A cookie the flow needs set (or deleted, with an empty value and no lifetime). Its name
/// already carries the `__Host-` prefix when [`Project::secure_cookies`] is on.
#[derive(Clone)]
pub struct Cookie {
    /// Name.
    pub name: String,
    /// Value (random); empty to delete.
    pub value: String,
    /// Lifetime; zero deletes the cookie.
    pub max_age: Duration,
    /// Whether it is `Secure` (the site is https).
    pub secure: bool,
}

impl Cookie {
    /// A `Set-Cookie` value for it: `Path=/`, HttpOnly, SameSite=Lax (sent on the top-level
    /// navigation back from the provider), `Secure` when the site is served over https.
    pub fn header(&self) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            self.name,
            self.value,
            self.max_age.as_secs()
        )
    }

    /// The same cookie, deleted.
    pub(super) fn removal(name: String, secure: bool) -> Self {
        Self { name, value: String::new(), max_age: Duration::ZERO, secure }
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cookie")
            .field("name", &self.name)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

/// The name-value pairs of a `Cookie` request header.
pub fn parse_cookie_header(header: &str) -> Vec<(String, String)> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().trim_matches('"').to_owned()))
        .collect()
}

#[derive(Serialize, Deserialize)]
pub(super) struct CookiePayload {
    pub(super) id: String,
    pub(super) secret: String,
}

/// A session just written, with the cookie value of its secret.
pub(super) fn new_session(session: Session, secret: String) -> NewSession {
    let payload = serde_json::to_vec(&CookiePayload { id: session.user_id.clone(), secret })
        .expect("cookie payload serialises");
    NewSession { session, cookie_value: STANDARD.encode(payload) }
}
