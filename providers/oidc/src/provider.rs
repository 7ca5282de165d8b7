//! The generic OpenID Connect provider's one quirk: its endpoints are full URLs from
//! configuration, validated here and installed as endpoint overrides.

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::url::Url;
use loginkit_core::{Endpoint, Error, HttpClient, OAuthProvider, ProviderConfig, StandardProvider};

/// Configuration keys holding endpoint URLs, and the endpoints each one sets.
const ENDPOINT_KEYS: &[(&str, &[Endpoint])] = &[
    ("authorization_url", &[Endpoint::Authorize]),
    ("token_url", &[Endpoint::Token, Endpoint::Refresh]),
    ("userinfo_url", &[Endpoint::UserInfo]),
];

/// The descriptor's constructor: a [`StandardProvider`] whose endpoints come from configuration.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    let config_error = |message: String| Error::Config { provider: descriptor.id, message };
    if let Some(max_age) = config.get_param("max_age").filter(|v| !v.is_empty())
        && max_age.parse::<u32>().is_err()
    {
        return Err(config_error(format!("key `max_age` must be a number of seconds, not `{max_age}`")));
    }
    let mut config = config;
    for (key, endpoints) in ENDPOINT_KEYS {
        let url = endpoint_url(descriptor, &config, key)?;
        for endpoint in *endpoints {
            config = config.endpoint(*endpoint, url.clone());
        }
    }
    // Core checks the scheme (https, or http to loopback) and applies a base-URL override.
    Ok(Box::new(StandardProvider::new(descriptor, config, http)?))
}

fn endpoint_url(descriptor: &ProviderDescriptor, config: &ProviderConfig, key: &str) -> Result<Url, Error> {
    let config_error = |message: String| Error::Config { provider: descriptor.id, message };
    let description = descriptor.config_key(key).map_or("", |k| k.description);
    let raw = config.get_param(key).map(str::trim).filter(|v| !v.is_empty());
    let raw = raw.ok_or_else(|| config_error(format!("missing required key `{key}` ({description})")))?;
    let url = Url::parse(raw).map_err(|_| config_error(format!("key `{key}` is not an absolute URL")))?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(config_error(format!("key `{key}` may not carry credentials or a fragment")));
    }
    Ok(url)
}
