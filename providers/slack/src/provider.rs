//! Slack's quirk: revocation is the `auth.revoke` Web API method rather than RFC 7009, and, like
//! every Slack method, answers errors with HTTP 200 and `{"ok": false}` (core reads those on token
//! and user-info calls).

use loginkit_core::reqwest::Method;
use loginkit_core::serde_json::Value;
use loginkit_core::{Endpoint, Error, OAuthProvider, Operation, StandardProvider, TokenRef, async_trait};

loginkit_core::quirks_provider! {
    /// Slack: standard OpenID Connect calls, Slack's own revocation.
    pub struct Slack;
}

#[async_trait]
impl OAuthProvider for Slack {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn revoke(&self, token: TokenRef<'_>) -> Result<(), Error> {
        let id = self.descriptor().id;
        let (TokenRef::Access(token), Some(url)) = (token, self.standard.endpoint_url(Endpoint::Revoke))
        else {
            return Err(Error::Unsupported { provider: id, capability: "refresh-token revocation" });
        };
        // `auth.revoke` needs only the token; the client secret has no business there.
        let request =
            self.standard.http().request(Method::POST, url.clone()).form(&[("token", token.secret())]);
        let response = self.standard.http().send(request, id, Operation::Revoke).await?;
        if !response.is_success() {
            return Err(self.standard.error_from(Operation::Revoke, &response));
        }
        // Only a JSON body can carry `ok: false`; an empty 2xx answer has nothing to refuse.
        if response.body.trim_ascii().is_empty() {
            return Ok(());
        }
        let value: Value = loginkit_core::serde_json::from_slice(&response.body).map_err(|_| {
            Error::Malformed { provider: id, operation: Operation::Revoke, detail: "not JSON".into() }
        })?;
        slack_ok(id, Operation::Revoke, &value)
    }
}

/// Slack's `{"ok": false, "error": "..."}` answer (sent with HTTP 200) as a typed OAuth error.
fn slack_ok(provider: &'static str, operation: Operation, value: &Value) -> Result<(), Error> {
    if value.get("ok") != Some(&Value::Bool(false)) {
        return Ok(());
    }
    let code = value.get("error").and_then(Value::as_str).unwrap_or("error").to_owned();
    Err(Error::OAuth { provider, operation, status: 200, code, description: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use loginkit_core::serde_json::json;

    #[test]
    fn only_ok_false_is_an_error() {
        assert!(slack_ok("slack", Operation::UserInfo, &json!({"ok": true, "sub": "U1"})).is_ok());
        assert!(slack_ok("slack", Operation::UserInfo, &json!({"sub": "U1"})).is_ok());
        let err =
            slack_ok("slack", Operation::Revoke, &json!({"ok": false, "error": "invalid_auth"})).unwrap_err();
        assert_eq!((err.provider_code(), err.provider_status()), (Some("invalid_auth"), Some(200)));
        let err = slack_ok("slack", Operation::Revoke, &json!({"ok": false})).unwrap_err();
        assert_eq!(err.provider_code(), Some("error"));
    }
}
