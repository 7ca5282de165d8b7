//! Token sets and the tolerant token-response parser.
//!
//! Real providers bend RFC 6749 §5.1: `expires_in` as a string, errors with HTTP 200 (GitHub,
//! Slack), form-encoded bodies (Bitly, GitHub without `Accept`), `scope` as an array, tokens in a
//! nested object (Slack's `authed_user`). The parser accepts all of these and rejects the rest
//! with a typed error that never quotes the body.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::error::{Error, Operation};
use crate::secret::{AccessToken, IdToken, RefreshToken};

/// Tokens returned by a code exchange or a refresh.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TokenSet {
    /// The access token.
    pub access_token: AccessToken,
    /// `token_type`, usually `Bearer`.
    pub token_type: Option<String>,
    /// The refresh token, when one was issued.
    pub refresh_token: Option<RefreshToken>,
    /// Lifetime of the access token as announced.
    pub expires_in: Option<Duration>,
    /// When the access token expires (received time + `expires_in`).
    pub expires_at: Option<SystemTime>,
    /// The OpenID Connect ID token as received.
    pub id_token: Option<IdToken>,
    /// The ID token's claims, set only by providers that verified it (signature, issuer,
    /// audience, times, nonce).
    pub id_token_claims: Option<crate::openid::IdTokenClaims>,
    /// Scopes the provider says it granted.
    pub scopes: Option<Vec<String>>,
    /// The user's name when the provider hands it over with the code rather than in the profile
    /// (Apple sends it once, in the callback's `user` field); the provider's `user_profile`
    /// reads it. Untrusted display text: the user's browser carried it.
    pub name: Option<String>,
    /// The whole answer, for provider-specific fields.
    pub raw: RawResponse,
}

impl TokenSet {
    /// A token set holding only an access token.
    pub fn new(access_token: AccessToken) -> Self {
        Self {
            access_token,
            token_type: None,
            refresh_token: None,
            expires_in: None,
            expires_at: None,
            id_token: None,
            id_token_claims: None,
            scopes: None,
            name: None,
            raw: RawResponse::default(),
        }
    }

    /// Sets the refresh token.
    pub fn with_refresh_token(mut self, token: Option<RefreshToken>) -> Self {
        self.refresh_token = token;
        self
    }

    /// Sets the lifetime, computing `expires_at` from `received_at`.
    pub fn with_expires_in(mut self, expires_in: Option<Duration>, received_at: SystemTime) -> Self {
        self.expires_in = expires_in;
        self.expires_at = expires_in.and_then(|d| received_at.checked_add(d));
        self
    }
}

/// A provider's JSON answer; its `Debug` lists keys only, because values include tokens.
#[derive(Clone, Default)]
pub struct RawResponse(Map<String, Value>);

impl RawResponse {
    /// Wraps a JSON object.
    pub fn new(map: Map<String, Value>) -> Self {
        Self(map)
    }

    /// A field of the answer.
    ///
    /// # Security Warning
    ///
    /// Values may be tokens: never log them.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The whole answer.
    ///
    /// # Security Warning
    ///
    /// Values may be tokens: never log them.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawResponse").field(&self.0.keys().collect::<Vec<_>>()).finish()
    }
}

/// Parses a token endpoint answer into a [`TokenSet`].
///
/// `pointer` names a nested object holding the tokens (RFC 6901), for providers that nest them.
pub fn parse_token_response(
    provider: &'static str,
    operation: Operation,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    pointer: Option<&str>,
) -> Result<TokenSet, Error> {
    let received_at = SystemTime::now();
    let object = decode_object(provider, operation, status, content_type, body)?;
    if let Some((code, description)) = provider_error(&object) {
        return Err(Error::OAuth { provider, operation, status, code, description });
    }
    if !(200..300).contains(&status) {
        return Err(Error::HttpStatus { provider, operation, status });
    }
    let tokens = match pointer {
        Some(p) => match Value::Object(object.clone()).pointer(p) {
            Some(Value::Object(inner)) => inner.clone(),
            _ => return Err(Error::malformed(provider, operation, format!("no token object at `{p}`"))),
        },
        None => object.clone(),
    };
    let access_token = match non_empty_str(tokens.get("access_token")) {
        Some(t) => AccessToken::new(t.to_owned()),
        None => return Err(Error::MissingField { provider, operation, field: "access_token" }),
    };
    let expires_in = tokens.get("expires_in").or_else(|| tokens.get("expires")).and_then(seconds);
    let mut set = TokenSet::new(access_token).with_expires_in(expires_in, received_at);
    set.token_type = non_empty_str(tokens.get("token_type")).map(str::to_owned);
    set.refresh_token = non_empty_str(tokens.get("refresh_token")).map(|t| RefreshToken::new(t.to_owned()));
    set.id_token = non_empty_str(tokens.get("id_token").or_else(|| object.get("id_token")))
        .map(|t| IdToken::new(t.to_owned()));
    set.scopes = tokens.get("scope").and_then(scope_list);
    set.raw = RawResponse::new(object);
    Ok(set)
}

/// The claims of a JWT that loginkit received directly from a provider's token endpoint, read
/// without checking the signature.
///
/// # Security
///
/// Only for tokens loginkit itself received from the token endpoint over TLS, where server
/// authentication stands in for the signature (OpenID Connect Core §3.1.3.7). Never for a token
/// that travelled through a browser or was presented by a client: those need full validation.
pub fn token_endpoint_jwt_claims(token: &str) -> Option<Map<String, Value>> {
    use base64::Engine as _;
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

/// Decodes a provider answer (JSON, or form-encoded) into a JSON object.
pub(crate) fn decode_object(
    provider: &'static str,
    operation: Operation,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Map<String, Value>, Error> {
    let is_error_status = !(200..300).contains(&status);
    let fail = |detail: &str| {
        if is_error_status {
            Error::HttpStatus { provider, operation, status }
        } else {
            Error::malformed(provider, operation, detail)
        }
    };
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Err(fail("empty body"));
    }
    let mime = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let looks_json = trimmed.starts_with(b"{") || trimmed.starts_with(b"[");
    if mime.ends_with("json") || (looks_json && !mime.ends_with("x-www-form-urlencoded")) {
        return match serde_json::from_slice::<Value>(trimmed) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(fail("not a JSON object")),
            Err(_) => Err(fail("not valid JSON")),
        };
    }
    if mime.is_empty() || mime == "application/x-www-form-urlencoded" || mime == "text/plain" {
        if !trimmed.contains(&b'=') {
            return Err(fail("neither JSON nor a form-encoded body"));
        }
        let map = form_urlencoded::parse(trimmed)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect::<Map<_, _>>();
        return Ok(map);
    }
    Err(fail("unexpected content type"))
}

/// The provider's error code and description, in any of the shapes providers use:
/// RFC 6749 `{error, error_description}` (also with HTTP 200), `{error: {code|type|.tag, message}}`,
/// `{errors: [{code, message}]}`, Slack's `{ok: false, error}`, Notion's `{object: "error", code}`,
/// Autodesk's `{errorCode, developerMessage}`, Bitly's `{status_code, status_txt}` envelope and
/// Figma's `{error: true, message}`.
pub(crate) fn provider_error(object: &Map<String, Value>) -> Option<(String, Option<String>)> {
    let text = |key: &str| non_empty_str(object.get(key)).map(str::to_owned);
    let description =
        || text("error_description").or_else(|| text("message")).or_else(|| text("description"));
    match object.get("error") {
        Some(Value::String(code)) if !code.is_empty() => return Some((code.clone(), description())),
        Some(Value::Object(inner)) => {
            let code = ["code", "type", ".tag", "status"].iter().find_map(|k| inner.get(*k));
            let code = code.map(value_text).unwrap_or_else(|| "error".to_owned());
            // An envelope reporting success (TikTok's v2 API: `"error": {"code": "ok"}` on every
            // answer) is no error.
            if code.eq_ignore_ascii_case("ok") {
                return None;
            }
            let message = non_empty_str(inner.get("message")).map(str::to_owned);
            return Some((code, message.or_else(|| text("error_summary"))));
        }
        Some(Value::Bool(true)) => return Some(("error".to_owned(), description())),
        _ => {}
    }
    if let Some(Value::Array(errors)) = object.get("errors")
        && let Some(Value::Object(first)) = errors.first()
    {
        let code = first.get("code").map(value_text).unwrap_or_else(|| "error".to_owned());
        return Some((code, non_empty_str(first.get("message")).map(str::to_owned)));
    }
    if let Some(code) = text("errorCode") {
        return Some((code, text("developerMessage").or_else(description)));
    }
    if object.get("object").and_then(Value::as_str) == Some("error")
        && let Some(code) = text("code")
    {
        return Some((code, description()));
    }
    let envelope_failed = object.get("status_code").and_then(Value::as_u64).is_some_and(|code| code >= 400);
    if envelope_failed && let Some(code) = text("status_txt") {
        return Some((code, description()));
    }
    if object.get("ok") == Some(&Value::Bool(false)) {
        return Some(("error".to_owned(), description()));
    }
    None
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn non_empty_str(value: Option<&Value>) -> Option<&str> {
    match value {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.as_str()),
        _ => None,
    }
}

/// `expires_in` as a JSON number or a numeric string; nonsense is ignored rather than fatal.
fn seconds(value: &Value) -> Option<Duration> {
    const TEN_YEARS: u64 = 10 * 365 * 24 * 3600;
    let secs = match value {
        Value::Number(n) => {
            n.as_u64().or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
        }
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }?;
    Some(Duration::from_secs(secs.min(TEN_YEARS)))
}

fn scope_list(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(s.split([' ', ',']).filter(|p| !p.is_empty()).map(str::to_owned).collect()),
        Value::Array(items) => Some(items.iter().filter_map(|v| v.as_str()).map(str::to_owned).collect()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, ct: &str, body: &str) -> Result<TokenSet, Error> {
        parse_token_response("test", Operation::ExchangeCode, status, Some(ct), body.as_bytes(), None)
    }

    #[test]
    fn standard_json() {
        let set = parse(
            200,
            "application/json",
            r#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","scope":"a b"}"#,
        )
        .unwrap();
        assert_eq!(set.access_token.secret(), "at");
        assert_eq!(set.refresh_token.unwrap().secret(), "rt");
        assert_eq!(set.expires_in, Some(Duration::from_secs(3600)));
        assert!(set.expires_at.is_some());
        assert_eq!(set.scopes.unwrap(), ["a", "b"]);
    }

    #[test]
    fn expires_in_as_string_and_scope_as_array() {
        let set =
            parse(200, "application/json", r#"{"access_token":"at","expires_in":"60","scope":["x","y"]}"#)
                .unwrap();
        assert_eq!(set.expires_in, Some(Duration::from_secs(60)));
        assert_eq!(set.scopes.unwrap(), ["x", "y"]);
    }

    #[test]
    fn form_encoded_body() {
        let set = parse(
            200,
            "application/x-www-form-urlencoded",
            "access_token=a%2Bb&scope=user%2Crepo&token_type=bearer",
        )
        .unwrap();
        assert_eq!(set.access_token.secret(), "a+b");
        assert_eq!(set.scopes.unwrap(), ["user", "repo"]);
    }

    #[test]
    fn error_with_http_200_keeps_code_and_description() {
        let err = parse(200, "application/json", r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}"#)
            .unwrap_err();
        match err {
            Error::OAuth { code, description, status, .. } => {
                assert_eq!(code, "bad_verification_code");
                assert_eq!(status, 200);
                assert_eq!(description.as_deref(), Some("The code passed is incorrect or expired."));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn error_shapes() {
        let nested =
            parse(400, "application/json", r#"{"error":{"code":"invalid_grant","message":"expired"}}"#);
        assert_eq!(nested.unwrap_err().provider_code(), Some("invalid_grant"));
        let list = parse(400, "application/json", r#"{"errors":[{"code":"E1","message":"nope"}]}"#);
        assert_eq!(list.unwrap_err().provider_code(), Some("E1"));
        let slack = parse(200, "application/json", r#"{"ok":false,"error":"invalid_code"}"#);
        assert_eq!(slack.unwrap_err().provider_code(), Some("invalid_code"));
        let dropbox = r#"{"error_summary":"expired_access_token/","error":{".tag":"expired_access_token"}}"#;
        assert_eq!(
            parse(401, "application/json", dropbox).unwrap_err().provider_code(),
            Some("expired_access_token")
        );
        let notion = r#"{"object":"error","status":400,"code":"invalid_grant","message":"Invalid code."}"#;
        assert_eq!(
            parse(400, "application/json", notion).unwrap_err().provider_code(),
            Some("invalid_grant")
        );
        let tiktok_ok =
            r#"{"data":{"user":{"open_id":"o"}},"error":{"code":"ok","message":"","log_id":"1"}}"#;
        let ok: Map<String, Value> = serde_json::from_str(tiktok_ok).unwrap();
        assert_eq!(provider_error(&ok), None, "a success envelope");
        let tiktok =
            r#"{"data":{},"error":{"code":"access_token_invalid","message":"expired","log_id":"1"}}"#;
        assert_eq!(
            parse(401, "application/json", tiktok).unwrap_err().provider_code(),
            Some("access_token_invalid")
        );
        let autodesk = r#"{"developerMessage":"The authorization code is invalid","errorCode":"AUTH-004"}"#;
        assert_eq!(parse(400, "application/json", autodesk).unwrap_err().provider_code(), Some("AUTH-004"));
        let bitly = r#"{"status_code":500,"status_txt":"INVALID_CODE","data":null}"#;
        assert_eq!(parse(200, "application/json", bitly).unwrap_err().provider_code(), Some("INVALID_CODE"));
        let figma = r#"{"error":true,"status":400,"message":"Invalid code"}"#;
        let err = parse(400, "application/json", figma).unwrap_err();
        assert!(
            matches!(&err, Error::OAuth { code, description: Some(d), .. } if code == "error" && d == "Invalid code")
        );
        let bitly_ok = r#"{"status_code":200,"status_txt":"OK","access_token":"at"}"#;
        assert!(parse(200, "application/json", bitly_ok).is_ok());
    }

    #[test]
    fn http_error_without_body_shape() {
        assert!(matches!(
            parse(502, "text/html", "<html>bad gateway</html>"),
            Err(Error::HttpStatus { status: 502, .. })
        ));
        assert!(matches!(parse(500, "application/json", "{}"), Err(Error::HttpStatus { status: 500, .. })));
    }

    #[test]
    fn missing_access_token_and_garbage() {
        assert!(matches!(
            parse(200, "application/json", r#"{"token_type":"bearer"}"#),
            Err(Error::MissingField { field: "access_token", .. })
        ));
        assert!(matches!(parse(200, "application/json", "{not json"), Err(Error::Malformed { .. })));
        assert!(matches!(parse(200, "text/html", "<html>"), Err(Error::Malformed { .. })));
        assert!(matches!(parse(200, "application/json", "[1,2]"), Err(Error::Malformed { .. })));
    }

    #[test]
    fn nested_token_object() {
        let body = r#"{"ok":true,"authed_user":{"id":"U1","access_token":"xoxp-1","scope":"identify"}}"#;
        let set = parse_token_response(
            "slack",
            Operation::ExchangeCode,
            200,
            Some("application/json"),
            body.as_bytes(),
            Some("/authed_user"),
        )
        .unwrap();
        assert_eq!(set.access_token.secret(), "xoxp-1");
        let err = parse_token_response(
            "slack",
            Operation::ExchangeCode,
            200,
            Some("application/json"),
            br#"{"ok":true}"#,
            Some("/authed_user"),
        );
        assert!(matches!(err, Err(Error::Malformed { .. })));
    }

    #[test]
    fn error_messages_never_quote_tokens() {
        let err = parse(200, "application/json", r#"{"refresh_token":"secret-rt-value"}"#).unwrap_err();
        assert!(!err.to_string().contains("secret-rt-value"));
        let set = parse(
            200,
            "application/json",
            r#"{"access_token":"secret-at-value","refresh_token":"secret-rt"}"#,
        )
        .unwrap();
        let debug = format!("{set:?}");
        assert!(!debug.contains("secret-at-value") && !debug.contains("secret-rt"), "{debug}");
    }

    #[test]
    fn token_endpoint_jwt_claims_reads_only_well_formed_jwts() {
        // {"alg":"RS256"} . {"sub":"acct_1","scope":"emails:send"} . signature
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhY2N0XzEiLCJzY29wZSI6ImVtYWlsczpzZW5kIn0.c2ln";
        assert_eq!(token_endpoint_jwt_claims(jwt).unwrap()["sub"], "acct_1");
        assert!(token_endpoint_jwt_claims("opaque-token").is_none());
        assert!(token_endpoint_jwt_claims("a.b.c.d").is_none());
        assert!(token_endpoint_jwt_claims("eyJhIjoxfQ.WzEsMl0.x").is_none(), "payload must be an object");
        assert!(token_endpoint_jwt_claims("x.%%%.y").is_none());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(status in 100u16..600, ct in proptest::option::of("[a-z/;=+ -]{0,40}"), body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_token_response("p", Operation::ExchangeCode, status, ct.as_deref(), &body, None);
        }

        #[test]
        fn never_panics_on_json_like(status in 100u16..600, body in "\\{[\"a-z_:0-9,\\[\\]{} ]{0,200}\\}", pointer in proptest::option::of("/[a-z_]{0,10}")) {
            let _ = parse_token_response("p", Operation::Refresh, status, Some("application/json"), body.as_bytes(), pointer.as_deref());
        }
    }
}

/// Entry point for the token-response fuzz target in `fuzz/`. Not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// Parses `body` as a token answer with the given status and content type, through a nested
    /// pointer too; must never panic.
    pub fn token_response(status: u16, content_type: Option<&str>, body: &[u8]) {
        for pointer in [None, Some("/authed_user")] {
            let _ =
                parse_token_response("fuzz", Operation::ExchangeCode, status, content_type, body, pointer);
        }
    }
}
