//! HTTP plumbing shared by the routes: query and cookie parsing, Appwrite's JSON models and
//! error body, cookie building.

use axum::http::{HeaderMap, HeaderValue, header};
use loginkit_flow::{Flow, Identity, Session, Timestamp, User};

use crate::errors::ApiError;
use serde_json::{Value, json};

/// Version reported in error bodies.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `a=1&b=2` as pairs, percent-decoded.
pub fn pairs(query: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(query).into_owned().collect()
}

/// The first value of `name`.
pub fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Scopes as the Appwrite SDK sends them (`scopes[0]=a&scopes[1]=b`), as PHP-style lists
/// (`scopes[]=a`) or as repeated `scopes=a`, in order.
pub fn scopes(pairs: &[(String, String)]) -> Vec<String> {
    let mut indexed: Vec<(usize, usize, String)> = Vec::new();
    for (position, (key, value)) in pairs.iter().enumerate() {
        let index = if key == "scopes" || key == "scopes[]" {
            Some(usize::MAX)
        } else {
            key.strip_prefix("scopes[")
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|n| n.parse::<usize>().ok())
        };
        if let Some(index) = index {
            indexed.push((index, position, value.clone()));
        }
    }
    indexed.sort_by_key(|(index, position, _)| (*index, *position));
    indexed.into_iter().map(|(_, _, value)| value).collect()
}

/// The request's cookies.
pub fn cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(loginkit_flow::parse_cookie_header)
        .collect()
}

/// The project of a request: the `project` query parameter, else `X-Appwrite-Project`.
pub fn project_id<'a>(query: &'a [(String, String)], headers: &'a HeaderMap) -> Option<&'a str> {
    first(query, "project")
        .filter(|p| !p.is_empty())
        .or_else(|| headers.get("x-appwrite-project").and_then(|v| v.to_str().ok()))
}

/// Name of the session cookie of `project`.
pub fn session_cookie_name(project: &str) -> String {
    format!("a_session_{project}")
}

/// Candidate session values of a request, in Appwrite's order: cookie, legacy cookie,
/// `X-Appwrite-Session`, `X-Fallback-Cookies`. At most one per source (the first one sent) and
/// no value twice, so a request costs at most four lookups however many values it carries.
pub fn session_values(project: &str, headers: &HeaderMap) -> Vec<String> {
    let name = session_cookie_name(project);
    let legacy = format!("{name}_legacy");
    let usable = |v: &str| !v.is_empty() && v.len() <= 1024;
    let jar = cookies(headers);
    let first_cookie =
        |wanted: &str| jar.iter().find(|(k, v)| k == wanted && usable(v)).map(|(_, v)| v.clone());
    let header = headers
        .get("x-appwrite-session")
        .and_then(|v| v.to_str().ok())
        .filter(|v| usable(v))
        .map(str::to_owned);
    let fallback = headers.get("x-fallback-cookies").and_then(|v| v.to_str().ok()).and_then(|fallback| {
        match serde_json::from_str::<Value>(fallback) {
            Ok(Value::Object(mut map)) => match map.remove(&name) {
                Some(Value::String(value)) if usable(&value) => Some(value),
                _ => None,
            },
            _ => None,
        }
    });
    let mut values: Vec<String> = Vec::with_capacity(4);
    for value in [first_cookie(&name), first_cookie(&legacy), header, fallback].into_iter().flatten() {
        if !values.contains(&value) {
            values.push(value);
        }
    }
    values
}

/// The valid session a request carries, if any, with its user.
pub async fn current_session(
    flow: &Flow,
    project: &str,
    headers: &HeaderMap,
) -> Result<Option<(Session, User)>, ApiError> {
    for value in session_values(project, headers) {
        if let Some(found) = flow.authenticate(&value).await? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The `SameSite` attribute of a cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on cross-site requests; needs `Secure`.
    None,
    /// Sent on top-level navigations only.
    Lax,
    /// No attribute: the browser's default (Lax in current browsers), like Appwrite's legacy cookie.
    Unset,
}

/// A `Set-Cookie` value (always HttpOnly).
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: u64,
    secure: bool,
    same_site: SameSite,
) -> HeaderValue {
    let same_site = match same_site {
        SameSite::None => "; SameSite=None",
        SameSite::Lax => "; SameSite=Lax",
        SameSite::Unset => "",
    };
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly{same_site}{secure}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

fn time(t: Option<Timestamp>) -> String {
    t.map(Timestamp::to_appwrite).unwrap_or_default()
}

/// Appwrite's Session model.
pub fn session_json(flow: &Flow, session: &Session, current: bool) -> Value {
    let tokens = flow.session_tokens(session);
    json!({
        "$id": session.id,
        "$createdAt": session.created_at.to_appwrite(),
        "$updatedAt": session.updated_at.to_appwrite(),
        "userId": session.user_id,
        "expire": session.expire.to_appwrite(),
        "provider": session.provider,
        "providerUid": session.provider_uid,
        "providerAccessToken": tokens.access_token.unwrap_or_default(),
        "providerAccessTokenExpiry": time(tokens.access_token_expiry),
        "providerRefreshToken": tokens.refresh_token.unwrap_or_default(),
        "ip": session.ip,
        "osCode": "",
        "osName": "",
        "osVersion": "",
        "clientType": "",
        "clientCode": "",
        "clientName": "",
        "clientVersion": "",
        "clientEngine": "",
        "clientEngineVersion": "",
        "deviceName": "",
        "deviceBrand": "",
        "deviceModel": "",
        "countryCode": "--",
        "countryName": "Unknown",
        "current": current,
        "factors": ["email", "oauth2"],
        "secret": "",
        "mfaUpdatedAt": "",
    })
}

/// Appwrite's Identity model.
pub fn identity_json(flow: &Flow, identity: &Identity) -> Value {
    let tokens = flow.identity_tokens(identity);
    json!({
        "$id": identity.id,
        "$createdAt": identity.created_at.to_appwrite(),
        "$updatedAt": identity.updated_at.to_appwrite(),
        "userId": identity.user_id,
        "provider": identity.provider,
        "providerUid": identity.provider_uid,
        "providerEmail": identity.provider_email,
        "providerAccessToken": tokens.access_token.unwrap_or_default(),
        "providerAccessTokenExpiry": time(tokens.access_token_expiry),
        "providerRefreshToken": tokens.refresh_token.unwrap_or_default(),
        // Web SDK 28's Identity: the account's last ID token ("" for providers without one).
        "providerIdToken": flow.identity_id_token(identity).unwrap_or_default(),
    })
}

/// Appwrite's User model; `active` is its `status` (false for a blocked user).
pub fn user_json(user: &User, active: bool) -> Value {
    json!({
        "$id": user.id,
        "$createdAt": user.created_at.to_appwrite(),
        "$updatedAt": user.updated_at.to_appwrite(),
        "name": user.name,
        "registration": user.created_at.to_appwrite(),
        "status": active,
        "labels": [],
        "passwordUpdate": "",
        "email": user.email.clone().unwrap_or_default(),
        "phone": "",
        "emailVerification": user.email_verified,
        "phoneVerification": false,
        "mfa": false,
        "prefs": {},
        "targets": [],
        "accessedAt": user.updated_at.to_appwrite(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_in_every_shape() {
        let q = pairs(b"scopes%5B1%5D=b&scopes%5B0%5D=a&x=1");
        assert_eq!(scopes(&q), ["a", "b"]);
        let q = pairs(b"scopes[]=a&scopes[]=b&scopes=c");
        assert_eq!(scopes(&q), ["a", "b", "c"]);
        assert!(scopes(&pairs(b"scopes[x]=a")).is_empty());
    }

    #[test]
    fn session_from_every_source() {
        let mut headers = HeaderMap::new();
        headers
            .insert(header::COOKIE, HeaderValue::from_static("a=1; a_session_p=c1; a_session_p_legacy=c2"));
        headers.insert("x-appwrite-session", HeaderValue::from_static("h"));
        headers.insert("x-fallback-cookies", HeaderValue::from_static(r#"{"a_session_p":"f"}"#));
        assert_eq!(session_values("p", &headers), ["c1", "c2", "h", "f"]);
        assert!(session_values("q", &headers) == ["h"]);
    }

    #[test]
    fn thousands_of_session_cookies_are_at_most_one_lookup_per_source() {
        let many: String =
            (0..8000).map(|i| format!("a_session_p=v{i}; a_session_p_legacy=v{i}; ")).collect();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&many).unwrap());
        headers.insert("x-appwrite-session", HeaderValue::from_static("v0"));
        assert_eq!(session_values("p", &headers), ["v0"], "the first of each source, each value once");
        headers.insert("x-appwrite-session", HeaderValue::from_static("h"));
        assert_eq!(session_values("p", &headers), ["v0", "h"]);
    }

    #[test]
    fn project_query_wins_over_header() {
        let mut headers = HeaderMap::new();
        headers.insert("x-appwrite-project", HeaderValue::from_static("h"));
        assert_eq!(project_id(&pairs(b"project=q"), &headers), Some("q"));
        assert_eq!(project_id(&pairs(b""), &headers), Some("h"));
    }
}
