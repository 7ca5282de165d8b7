//! Parsing and validation helpers shared by the endpoints: parameters, PKCE, tokens, HTML escaping.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// Longest parameter name or value the provider takes (a `state` of loginkit is at most 4096
/// characters); anything longer is refused before it is looked at, let alone kept.
pub const MAX_PARAM_LEN: usize = 4096;

/// Largest request body the provider reads (form posts of the login form and token requests).
pub const MAX_BODY: usize = 32 * 1024;

/// Decoded `application/x-www-form-urlencoded` pairs, in order.
#[derive(Clone, Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

/// A parameter that RFC 6749 §3.1 forbids repeating was repeated.
#[derive(Debug)]
pub struct Repeated;

impl Params {
    /// The pairs of an `application/x-www-form-urlencoded` body or query, in order.
    pub fn parse(input: &[u8]) -> Self {
        Self(form_urlencoded::parse(input).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// The value of `name`; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Result<Option<&str>, Repeated> {
        let mut found = None;
        for (k, v) in &self.0 {
            if k == name && !v.is_empty() {
                if found.is_some() {
                    return Err(Repeated);
                }
                found = Some(v.as_str());
            }
        }
        Ok(found)
    }

    /// The first parameter whose name or value is longer than [`MAX_PARAM_LEN`].
    pub fn first_too_long(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k.len() > MAX_PARAM_LEN || v.len() > MAX_PARAM_LEN)
            .map(|(k, _)| k.as_str())
    }

    /// The first parameter name that occurs more than once with a value.
    pub fn first_repeated(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        self.0
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .find(|(k, _)| !seen.insert(k.as_str()))
            .map(|(k, _)| k.as_str())
    }
}

/// Whether the request declares a form body, ignoring media type parameters.
pub fn is_form(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

/// Decodes one `application/x-www-form-urlencoded` component strictly: a
/// malformed escape or invalid UTF-8 is an error, not a replacement character,
/// because credentials must round-trip exactly (RFC 6749 §2.3.1).
pub fn form_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = hex(*bytes.get(i + 1)?)?;
                let lo = hex(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// 32 random bytes, base64url without padding: 43 URL-safe characters.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Space-separated scope tokens (RFC 6749 §3.3), deduplicated in order.
/// `None` when a token contains a character outside NQCHAR.
pub fn parse_scope(scope: &str) -> Option<Vec<String>> {
    let mut scopes: Vec<String> = Vec::new();
    for token in scope.split(' ').filter(|t| !t.is_empty()) {
        let nqchar = |c: char| matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
        if !token.chars().all(nqchar) {
            return None;
        }
        if !scopes.iter().any(|s| s == token) {
            scopes.push(token.to_owned());
        }
    }
    Some(scopes)
}

/// How the client derived its `code_challenge` (RFC 7636 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeMethod {
    /// The challenge is the verifier.
    Plain,
    /// The challenge is the verifier's SHA-256, base64url without padding.
    S256,
}

/// A recorded `code_challenge`.
#[derive(Clone, Debug)]
pub struct Challenge {
    /// The `code_challenge` sent.
    pub value: String,
    /// Its `code_challenge_method`.
    pub method: ChallengeMethod,
}

/// RFC 7636 §4.1: 43..=128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
/// A challenge has the same shape (a plain one is the verifier, an S256 one is 43 base64url characters).
pub fn is_pkce_string(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl Challenge {
    /// Whether `verifier` (a `code_verifier`) answers this challenge.
    pub fn verify(&self, verifier: &str) -> bool {
        if !is_pkce_string(verifier) {
            return false;
        }
        match self.method {
            ChallengeMethod::Plain => verifier == self.value,
            ChallengeMethod::S256 => {
                URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == self.value
            }
        }
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decode_is_strict() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%FF"), None);
    }

    #[test]
    fn s256_matches_rfc7636_appendix_b() {
        let challenge = Challenge {
            value: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            method: ChallengeMethod::S256,
        };
        assert!(challenge.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!challenge.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"));
    }

    #[test]
    fn scope_rejects_quotes_and_dedups() {
        assert_eq!(parse_scope("a  b a"), Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(parse_scope("a\"b"), None);
    }

    #[test]
    fn repeated_parameters_are_detected() {
        let params = Params::parse(b"a=1&b=&b=&a=2");
        assert!(params.get("a").is_err());
        assert_eq!(params.get("b").ok().flatten(), None);
        assert_eq!(params.first_repeated(), Some("a"));
    }
}
