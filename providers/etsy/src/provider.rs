//! Etsy's quirks: the user id comes from the access token, and Open API calls need
//! `x-api-key: <keystring>:<shared secret>` although the token endpoint takes no secret.

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::reqwest::Method;
use loginkit_core::reqwest::header::{ACCEPT, HeaderValue};
use loginkit_core::serde_json::Value;
use loginkit_core::url::Url;
use loginkit_core::{
    Endpoint, Error, HttpClient, OAuthProvider, Operation, ProviderConfig, StandardProvider, TokenSet,
    UserProfile, async_trait,
};

/// Etsy: standard token calls, custom profile.
#[derive(Debug)]
pub struct Etsy {
    standard: StandardProvider,
}

/// The descriptor's constructor; refuses a configuration without the shared secret.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    if config.client_secret.as_ref().is_none_or(|s| s.secret().trim().is_empty()) {
        return Err(Error::Config {
            provider: descriptor.id,
            message: "a client secret (the app's shared secret) is required for Etsy's `x-api-key` header"
                .into(),
        });
    }
    Ok(Box::new(Etsy { standard: StandardProvider::new(descriptor, config, http)? }))
}

#[async_trait]
impl OAuthProvider for Etsy {
    fn standard(&self) -> &StandardProvider {
        &self.standard
    }

    async fn user_profile(&self, tokens: &TokenSet) -> Result<UserProfile, Error> {
        let provider = self.standard.descriptor().id;
        let (Some(spec), Some(me)) =
            (&self.standard.descriptor().oauth2.userinfo, self.standard.endpoint_url(Endpoint::UserInfo))
        else {
            return Err(Error::Unsupported { provider, capability: "user info" });
        };
        let token = tokens.access_token.secret();
        let user_id = match token_user_id(token) {
            Some(id) => id.to_owned(),
            None => match self.get(me.clone(), token).await?.get("user_id") {
                Some(Value::Number(n)) => n.to_string(),
                _ => {
                    return Err(Error::MissingField {
                        provider,
                        operation: Operation::UserInfo,
                        field: "user_id",
                    });
                }
            },
        };
        let mut url = me.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop().push(&user_id);
        }
        let user = self.get(url, token).await?;
        let text = |key: &str| user.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        let full_name = match (text("first_name"), text("last_name")) {
            (Some(first), Some(last)) => Some(format!("{first} {last}")),
            _ => None,
        };
        let profile = self.standard.map_profile(spec, user)?;
        let name = full_name.or_else(|| profile.name.clone());
        Ok(profile.with_name(name))
    }
}

impl Etsy {
    /// An Open API `GET` with the bearer token and the app's API key.
    async fn get(&self, url: Url, token: &str) -> Result<Value, Error> {
        let provider = self.standard.descriptor().id;
        let config = self.standard.config();
        let secret = config.client_secret.as_ref().map(|s| s.secret().as_str()).unwrap_or_default();
        let mut api_key =
            HeaderValue::from_str(&format!("{}:{secret}", config.client_id.as_str())).map_err(|_| {
                Error::Config {
                    provider,
                    message: "the client id or secret is not a valid header value".into(),
                }
            })?;
        api_key.set_sensitive(true);
        let http = self.standard.http();
        let request = http
            .request(Method::GET, url)
            .bearer_auth(token)
            .header("x-api-key", api_key)
            .header(ACCEPT, "application/json");
        let response = http.send(request, provider, Operation::UserInfo).await?;
        if !response.is_success() {
            return Err(self.standard.error_from(Operation::UserInfo, &response));
        }
        loginkit_core::serde_json::from_slice(&response.body).map_err(|_| Error::Malformed {
            provider,
            operation: Operation::UserInfo,
            detail: "user info is not valid JSON".into(),
        })
    }
}

/// The numeric user id Etsy puts before the first `.` of its access tokens.
fn token_user_id(token: &str) -> Option<&str> {
    let (prefix, _) = token.split_once('.')?;
    (!prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit())).then_some(prefix)
}
