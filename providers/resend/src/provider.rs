//! Resend's quirk: no user-info endpoint and no ID token; the account id is the `sub` claim of
//! the RFC 9068 JWT access token.
//!
//! The claims are read without checking the signature: the token comes straight from Resend's
//! token endpoint over TLS and authorizes nothing on our side, the same trust OpenID Connect gives
//! an ID token received that way (Core §3.1.3.7).

use loginkit_core::serde_json::Value;
use loginkit_core::{
    EmailTrust, Error, OAuthProvider, Operation, StandardProvider, TokenSet, UserProfile, async_trait,
    token_endpoint_jwt_claims,
};

loginkit_core::quirks_provider! {
    /// Resend: standard token calls, profile from the access token's claims.
    pub struct Resend;
}

#[async_trait]
impl OAuthProvider for Resend {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let provider = self.standard.descriptor().id;
        let claims =
            token_endpoint_jwt_claims(tokens.access_token.secret()).ok_or_else(|| Error::Malformed {
                provider,
                operation: Operation::UserInfo,
                detail: "the access token is not a JWT with a JSON payload".to_owned(),
            })?;
        let id = match claims.get("sub") {
            Some(Value::String(sub)) if !sub.trim().is_empty() => sub.clone(),
            Some(Value::Number(sub)) => sub.to_string(),
            _ => return Err(Error::MissingField { provider, operation: Operation::UserInfo, field: "sub" }),
        };
        Ok(UserProfile::new(id).with_email(None, EmailTrust::Unknown).with_raw(Value::Object(claims)))
    }
}
