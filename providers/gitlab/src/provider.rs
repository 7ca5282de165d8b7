//! GitLab's quirk: self-managed instances. The `endpoint` key holds a whole URL, which a `{key}`
//! placeholder may not (its value cannot contain `/`), so it becomes the configuration's base URL,
//! and the instance's URL is the issuer of its ID tokens.

use loginkit_core::descriptor::ProviderDescriptor;
use loginkit_core::url::Url;
use loginkit_core::{Error, HttpClient, IssuerRule, OAuthProvider, ProviderConfig, StandardProvider};

/// The descriptor's constructor: the standard provider, on the configured instance.
pub fn build(
    descriptor: &'static ProviderDescriptor,
    config: ProviderConfig,
    http: HttpClient,
) -> Result<Box<dyn OAuthProvider>, Error> {
    let instance = match config.get_param("endpoint").map(str::trim).filter(|v| !v.is_empty()) {
        Some(endpoint) => Some(instance_url(descriptor.id, endpoint)?),
        None => None,
    };
    let config = match &instance {
        Some(base) => config.base_url(base.clone()),
        None => config,
    };
    // The standard provider then refuses anything but https (plain http only to loopback).
    let standard = StandardProvider::new(descriptor, config, http)?;
    let Some(base) = instance else { return Ok(Box::new(standard)) };
    // A self-managed instance issues ID tokens under its own URL (GitLab's `gitlab.url`).
    let issuer = IssuerRule::exact(base.as_str().trim_end_matches('/'));
    let check = standard.id_token_check().map(|check| check.with_issuer(issuer));
    Ok(Box::new(standard.with_id_token_check(check)))
}

fn instance_url(provider: &'static str, endpoint: &str) -> Result<Url, Error> {
    let invalid = |why: &str| Error::Config {
        provider,
        message: format!(
            "`endpoint` must be the instance's base URL, like `https://gitlab.example.com`: {why}"
        ),
    };
    let url = Url::parse(endpoint).map_err(|_| invalid("not an absolute URL"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("not an http(s) URL with a host"));
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(invalid("credentials, a query or a fragment are not allowed"));
    }
    Ok(url)
}
