//! The generic OpenID Connect provider's one quirk: its endpoints are full URLs from
//! configuration, validated here and installed as endpoint overrides.

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::url::{Host, Position, Url};
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
    let mut urls = Vec::with_capacity(ENDPOINT_KEYS.len());
    for (key, endpoints) in ENDPOINT_KEYS {
        urls.push((endpoint_url(descriptor, &config, key)?, *endpoints));
    }
    let with_endpoints = |mut config: ProviderConfig, urls: &[(Url, &[Endpoint])]| {
        for (url, endpoints) in urls {
            for endpoint in *endpoints {
                config = config.endpoint(*endpoint, url.clone());
            }
        }
        config
    };
    // Overrides win over a base-URL override in core, so a base URL (a test server, a proxy) is
    // applied here the way core applies it to template endpoints: new origin, same path.
    let probe = StandardProvider::new(descriptor, with_endpoints(config.clone(), &urls), http.clone())?;
    let mut moved = Vec::with_capacity(urls.len());
    for (url, endpoints) in &urls {
        let mut rebased = probe.resolve_url(&url[..Position::AfterPath])?;
        rebased.set_query(url.query());
        moved.push((rebased, *endpoints));
    }
    Ok(Box::new(StandardProvider::new(descriptor, with_endpoints(config, &moved), http)?))
}

/// The URL configured under `key`: absolute, https (or http to loopback), no credentials or
/// fragment.
fn endpoint_url(descriptor: &ProviderDescriptor, config: &ProviderConfig, key: &str) -> Result<Url, Error> {
    let config_error = |message: String| Error::Config { provider: descriptor.id, message };
    let description = descriptor.config_key(key).map_or("", |k| k.description);
    let raw = config.get_param(key).map(str::trim).filter(|v| !v.is_empty());
    let raw = raw.ok_or_else(|| config_error(format!("missing required key `{key}` ({description})")))?;
    let url = Url::parse(raw).map_err(|_| config_error(format!("key `{key}` is not an absolute URL")))?;
    let loopback = match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) {
        return Err(config_error(format!("key `{key}` must be an https URL (http only to a loopback host)")));
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(config_error(format!("key `{key}` may not carry credentials or a fragment")));
    }
    Ok(url)
}
