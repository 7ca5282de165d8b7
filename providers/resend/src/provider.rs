//! Resend's quirk: no user-info endpoint and no ID token; the account id is the `sub` claim of
//! the RFC 9068 JWT access token.
//!
//! The claims are read without checking the signature: the token comes straight from Resend's
//! token endpoint over TLS and authorizes nothing on our side, the same trust OpenID Connect gives
//! an ID token received that way (Core §3.1.3.7).

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::serde_json::{self, Value};
use loginkit_core::{
    EmailTrust, Error, HttpClient, OAuthProvider, Operation, ProviderConfig, StandardProvider, TokenSet,
    UserProfile, async_trait,
};

/// Resend: standard token calls, profile from the access token's claims.
#[derive(Debug)]
pub struct Resend {
    standard: StandardProvider,
}

/// The descriptor's constructor.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    Ok(Box::new(Resend { standard: StandardProvider::new(descriptor, config, http)? }))
}

#[async_trait]
impl OAuthProvider for Resend {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let provider = self.standard.descriptor().id;
        let claims = jwt_claims(tokens.access_token.secret()).ok_or_else(|| Error::Malformed {
            provider,
            operation: Operation::UserInfo,
            detail: "the access token is not a JWT with a JSON payload".to_owned(),
        })?;
        let id = match claims.get("sub") {
            Some(Value::String(sub)) if !sub.trim().is_empty() => sub.clone(),
            Some(Value::Number(sub)) => sub.to_string(),
            _ => return Err(Error::MissingField { provider, operation: Operation::UserInfo, field: "sub" }),
        };
        Ok(UserProfile::new(id).with_email(None, EmailTrust::Unknown).with_raw(claims))
    }
}

/// The JSON payload of a compact JWS (`header.payload.signature`), when it is an object.
fn jwt_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else {
        return None;
    };
    let claims: Value = serde_json::from_slice(&base64url_decode(payload)?).ok()?;
    claims.is_object().then_some(claims)
}

/// Unpadded base64url (RFC 4648 §5), as JWTs use; `None` on any other character.
fn base64url_decode(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in input.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_unpadded_base64url() {
        assert_eq!(base64url_decode("").unwrap(), b"");
        assert_eq!(base64url_decode("Zg").unwrap(), b"f");
        assert_eq!(base64url_decode("Zm8").unwrap(), b"fo");
        assert_eq!(base64url_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(base64url_decode("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(base64url_decode("Zm9v="), None, "padding is not part of a JWT");
        assert_eq!(base64url_decode("Zm+v"), None, "standard alphabet is refused");
    }

    #[test]
    fn reads_claims_only_from_a_three_part_token() {
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2ln";
        assert_eq!(jwt_claims(token).unwrap()["sub"], "user_1");
        assert_eq!(jwt_claims("opaque-token"), None);
        assert_eq!(jwt_claims("a.b"), None);
        assert_eq!(jwt_claims("a.eyJzdWIiOiJ1c2VyXzEifQ.c.d"), None);
        assert_eq!(jwt_claims("a.WzFd.c"), None, "a JSON array is not a claim set");
    }
}
