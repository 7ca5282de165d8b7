//! The success/failure URL allow-list: hostnames for web schemes, whole schemes for app deep links.
//!
//! The URL is parsed once, by the WHATWG-conformant `url` crate, so the host checked here is the
//! host a browser would go to. Inputs a browser might read differently (backslashes, control
//! characters, whitespace, userinfo) are refused before parsing rather than normalised.

use url::{Host, Url};

/// Longest success/failure URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Schemes whose URLs are checked by hostname (Appwrite's list: web and browser extensions).
const HOSTNAME_SCHEMES: [&str; 7] = [
    "http",
    "https",
    "chrome-extension",
    "moz-extension",
    "safari-web-extension",
    "ms-browser-extension",
    "tauri",
];

/// Schemes that run or embed content instead of navigating to an app: never allowed.
const FORBIDDEN_SCHEMES: [&str; 5] = ["javascript", "data", "file", "vbscript", "blob"];

/// Hostnames and schemes a project accepts as success and failure URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    hostnames: Vec<String>,
    /// `hostnames` parsed: an optional web scheme the entry is limited to, and the host pattern.
    hosts: Vec<(Option<String>, String)>,
    schemes: Vec<String>,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectError {
    /// Longer than [`MAX_URL_LEN`].
    #[error("the URL is longer than {MAX_URL_LEN} characters")]
    TooLong,
    /// Contains whitespace, a control character or a backslash.
    #[error("the URL contains whitespace, a control character or a backslash")]
    BadCharacter,
    /// Not an absolute URL.
    #[error("the URL is not a valid absolute URL")]
    Unparsable,
    /// Carries a user name or password.
    #[error("the URL carries credentials")]
    Credentials,
    /// A scheme that is never a redirect target, or one not on the allow-list.
    #[error("the URL scheme `{0}` is not allowed")]
    Scheme(String),
    /// A web URL whose host is not on the allow-list.
    #[error("the host `{0}` is not on the project's allow-list")]
    Host(String),
}

impl AllowList {
    /// An allow-list of hostname patterns (`example.com`, `*.example.com`, `localhost`, `*`) and
    /// custom schemes (`myapp`, `appwrite-callback-<project>`). Patterns are compared in lower
    /// case; `*.suffix` matches subdomains only, not `suffix` itself. A pattern may name the one
    /// web scheme it allows (`https://example.com`, `http://intranet.test`); without one, URLs of
    /// any web scheme match it, and [`AllowList::trusts_origin`] decides for origins.
    pub fn new<H, S>(hostnames: H, schemes: S) -> Self
    where
        H: IntoIterator,
        H::Item: Into<String>,
        S: IntoIterator,
        S::Item: Into<String>,
    {
        let lower = |s: String| s.trim().to_ascii_lowercase();
        let hostnames: Vec<String> =
            hostnames.into_iter().map(Into::into).map(lower).filter(|h| !h.is_empty()).collect();
        let hosts = hostnames
            .iter()
            .map(|entry| match entry.split_once("://") {
                Some((scheme, host)) => (Some(scheme.to_owned()), host.trim_end_matches('/').to_owned()),
                None => (None, entry.clone()),
            })
            .collect();
        Self {
            hostnames,
            hosts,
            schemes: schemes.into_iter().map(Into::into).map(lower).filter(|s| !s.is_empty()).collect(),
        }
    }

    /// The hostname patterns.
    pub fn hostnames(&self) -> &[String] {
        &self.hostnames
    }

    /// Checks `input`, returning the parsed URL when it may be redirected to.
    pub fn check(&self, input: &str) -> Result<Url, RedirectError> {
        if input.len() > MAX_URL_LEN {
            return Err(RedirectError::TooLong);
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\') {
            return Err(RedirectError::BadCharacter);
        }
        let url = Url::parse(input).map_err(|_| RedirectError::Unparsable)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectError::Credentials);
        }
        let scheme = url.scheme();
        if FORBIDDEN_SCHEMES.contains(&scheme) {
            return Err(RedirectError::Scheme(scheme.to_owned()));
        }
        if HOSTNAME_SCHEMES.contains(&scheme) {
            return match url.host() {
                Some(host) if self.host_allowed(scheme, &host, true) => Ok(url),
                Some(host) => Err(RedirectError::Host(host.to_string())),
                None => Err(RedirectError::Unparsable),
            };
        }
        if self.schemes.iter().any(|s| s == scheme) {
            Ok(url)
        } else {
            Err(RedirectError::Scheme(scheme.to_owned()))
        }
    }

    /// Whether a request from `origin` (scheme, host and port) may be answered with credentials:
    /// its pages may read what this project's cookies unlock.
    ///
    /// Stricter than [`AllowList::check`]: the `*` pattern never trusts an origin, and a pattern
    /// without a scheme trusts `https` origins, and `http` ones only when `https_only` is off
    /// (the server itself is not served over https) or the host is loopback. A plain-http page
    /// of an allowed host can be rewritten by anyone on its network, so an https server does not
    /// hand it credentials unless the pattern names `http://` itself.
    pub fn trusts_origin(&self, origin: &str, https_only: bool) -> bool {
        let url = match Url::parse(origin) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.path() == "/" => url,
            _ => return false,
        };
        let Some(host) = url.host() else { return false };
        if url.scheme() == "http" && https_only && !is_loopback(&host_name(&host)) {
            // Only a pattern that names `http://` itself trusts a plain-http origin here.
            return self.hosts.iter().any(|(scheme, pattern)| {
                scheme.as_deref() == Some("http")
                    && pattern != "*"
                    && pattern_matches(pattern, &host_name(&host))
            });
        }
        self.host_allowed(url.scheme(), &host, false)
    }

    /// Whether some pattern allows `host` under `scheme`; `wildcard` lets the `*` pattern count.
    fn host_allowed(&self, scheme: &str, host: &Host<&str>, wildcard: bool) -> bool {
        let name = host_name(host);
        self.hosts.iter().any(|(only, pattern)| {
            only.as_deref().is_none_or(|only| only == scheme)
                && (wildcard || pattern != "*")
                && pattern_matches(pattern, &name)
        })
    }
}

fn host_name(host: &Host<&str>) -> String {
    match host {
        Host::Domain(domain) => domain.to_ascii_lowercase(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => format!("[{ip}]"),
    }
}

fn is_loopback(name: &str) -> bool {
    matches!(name, "localhost" | "127.0.0.1" | "[::1]")
}

/// One hostname pattern against a lower-case host name.
fn pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        _ if pattern == "*" => true,
        Some(suffix) => {
            name.len() > suffix.len() + 1
                && name.ends_with(suffix)
                && name.as_bytes()[name.len() - suffix.len() - 1] == b'.'
        }
        None => pattern == name || (matches!(name, "127.0.0.1" | "[::1]") && pattern == "localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list() -> AllowList {
        AllowList::new(["localhost", "example.com", "*.apps.example.org"], ["myapp"])
    }

    #[test]
    fn appwrite_loopback_cases() {
        let list = AllowList::new(["localhost"], Vec::<String>::new());
        for ok in [
            "http://localhost/",
            "http://localhost:3000/x",
            "http://127.0.0.1/",
            "http://127.0.0.1:5173/",
            "http://[::1]/",
            "http://[::1]:3000/",
        ] {
            assert!(list.check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://127.0.0.1.example.com/",
            "http://localhost.example.com/",
            "http://128.0.0.1/",
            "http://[2001:db8::1]/",
            "http://127.0.0.2/",
        ] {
            assert!(matches!(list.check(bad), Err(RedirectError::Host(_))), "{bad}");
        }
        // `[0:0:0:0:0:0:0:1]` is `[::1]` once parsed: it is the loopback address, as a browser sees it.
        assert!(list.check("http://[0:0:0:0:0:0:0:1]/").is_ok());
    }

    #[test]
    fn suffix_patterns_match_subdomains_only() {
        let list = list();
        assert!(list.check("https://a.apps.example.org/cb").is_ok());
        assert!(list.check("https://x.y.apps.example.org/").is_ok());
        assert!(list.check("https://apps.example.org/").is_err());
        assert!(list.check("https://evilapps.example.org/").is_err());
        assert!(list.check("https://EXAMPLE.com/").is_ok(), "hosts compare in lower case");
    }

    #[test]
    fn tricks_are_refused() {
        let list = list();
        for bad in [
            "https://example.com@evil.test/",
            "https://user:pw@example.com/",
            "https://example.com\\@evil.test/",
            "//evil.test/",
            "/relative",
            "javascript:alert(1)",
            "data:text/html,<script>",
            "file:///etc/passwd",
            "https://example.com./",
            "https://evil.test#https://example.com/",
            "https://example.com.evil.test/",
            "https://exa\tmple.com/",
            " https://example.com/",
            "https://xn--exmple-cua.com/",
            "https://exämple.com/",
            "otherapp://x",
            // Percent-encoding, mixed case and ports used to smuggle another host.
            "https://example.com%2f@evil.test/",
            "https://example.com%40evil.test/",
            "https://evil.test%2f.example.com/",
            "https://example.com%00.evil.test/",
            "https://evil.test:443@example.com/",
            "HTTPS://EVIL.TEST/",
            "JavaScript:alert(1)",
            "jav&#x09;ascript:alert(1)",
            "///evil.test/",
            "https:/\\evil.test/",
        ] {
            assert!(list.check(bad).is_err(), "{bad}");
        }
        assert!(list.check(&format!("https://example.com/{}", "a".repeat(MAX_URL_LEN))).is_err());
        assert!(list.check("myapp://callback").is_ok());
        assert!(list.check("https://example.com:8443/ok?x=1").is_ok(), "ports are ignored");
    }

    #[test]
    fn origins() {
        let list = list();
        for https_only in [false, true] {
            assert!(list.trusts_origin("http://127.0.0.1:9020", https_only), "loopback over http");
            assert!(list.trusts_origin("https://a.apps.example.org", https_only));
            assert!(!list.trusts_origin("https://evil.test", https_only));
            assert!(!list.trusts_origin("null", https_only));
            assert!(!list.trusts_origin("https://example.com/path", https_only));
        }
        assert!(list.trusts_origin("http://example.com", false));
        assert!(!list.trusts_origin("http://example.com", true), "plain http is not an https server's");
    }

    #[test]
    fn the_wildcard_allows_redirects_but_never_trusts_an_origin() {
        let list = AllowList::new(["*"], Vec::<String>::new());
        assert!(list.check("https://anything.test/ok").is_ok());
        assert!(!list.trusts_origin("https://anything.test", false));
        assert!(!list.trusts_origin("http://localhost:3000", false));
    }

    #[test]
    fn a_pattern_may_name_its_scheme() {
        let list = AllowList::new(
            ["https://secure.test", "http://intranet.test", "both.test"],
            Vec::<String>::new(),
        );
        assert!(list.check("https://secure.test/ok").is_ok());
        assert!(matches!(list.check("http://secure.test/ok"), Err(RedirectError::Host(_))));
        assert!(list.check("http://intranet.test/ok").is_ok());
        assert!(list.check("https://intranet.test/ok").is_err());
        assert!(list.check("http://both.test/").is_ok() && list.check("https://both.test/").is_ok());
        assert!(list.trusts_origin("http://intranet.test", true), "named http is trusted even by https");
        assert!(!list.trusts_origin("https://intranet.test", true));
        assert!(!list.trusts_origin("http://secure.test", false));
        assert!(list.trusts_origin("https://secure.test", true));
    }

    proptest! {
        #[test]
        fn accepted_web_urls_have_an_allowed_host(input in "[a-zA-Z:/@.\\\\%#?0-9\\[\\]-]{0,40}") {
            let list = list();
            if let Ok(url) = list.check(&input)
                && matches!(url.scheme(), "http" | "https")
            {
                let host = url.host_str().unwrap().to_ascii_lowercase();
                prop_assert!(
                    host == "localhost" || host == "example.com" || host == "127.0.0.1" || host == "[::1]"
                        || host.ends_with(".apps.example.org"),
                    "accepted {input:?} with host {host}"
                );
            }
        }

        #[test]
        fn any_prefix_before_an_allowed_host_is_refused(prefix in "[a-z0-9.@:%-]{1,20}") {
            let input = format!("https://evil.test{prefix}example.com/");
            prop_assert!(list().check(&input).is_err(), "accepted {}", input);
        }
    }
}
