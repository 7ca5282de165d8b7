//! Prints the providers compiled into this build and, for one of them, the authorize URL a login
//! would start with: `cargo run -p loginkit --example authorize --features github -- github`.
//!
//! Also the binary behind the size measurements in `docs/providers.md`.

use loginkit::{AuthorizeRequest, HttpClient, Nonce, PkceCodeChallenge, ProviderConfig, Registry};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::global()?;
    println!("{} provider(s) compiled in: {}", registry.len(), registry.ids().join(", "));
    let Some(id) = std::env::args().nth(1) else { return Ok(()) };
    let descriptor = registry.get(&id)?;
    let mut config = ProviderConfig::new("example-client-id", "example-client-secret");
    for key in descriptor.config_keys.iter().filter(|k| k.required) {
        config = config.param(key.name, format!("example-{}", key.name.replace('_', "-")));
    }
    let provider = descriptor.instantiate(config, HttpClient::with_defaults()?)?;
    let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new_random();
    let callback = format!("https://example.com/v1/account/sessions/oauth2/callback/{id}/default").parse()?;
    let request = AuthorizeRequest::new(&callback, "example-state").pkce_challenge(&challenge).nonce(&nonce);
    println!("{}", provider.authorize_url(&request)?);
    Ok(())
}
