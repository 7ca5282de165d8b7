//! Core of loginkit: the [`OAuthProvider`] trait, provider descriptors and registry, the shared
//! HTTP client, token and profile types, and typed errors.
//!
//! Most users depend on the `loginkit` facade, which re-exports this crate and selects providers
//! with Cargo features. Provider authors depend on this crate alone.
//!
//! # Security
//!
//! - Every provider call goes through [`HttpClient`]: redirects are never followed, connect and
//!   total timeouts apply, answers are capped (1 MiB by default).
//! - Secrets ([`ClientSecret`], [`AccessToken`], [`RefreshToken`], [`PkceCodeVerifier`], [`Nonce`],
//!   [`IdToken`]) print as `[redacted]` and have no `PartialEq`.
//! - Errors keep the provider's error code and description, never a token or a response body.
//! - Email trust is never guessed: see [`EmailTrust`].
//! - ID tokens are verified completely (signature, issuer, audience, times, nonce) by
//!   [`openid::IdTokenVerifier`]; `none` and HMAC algorithms are always refused.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod descriptor;
mod error;
mod http;
pub mod openid;
mod profile;
mod provider;
mod registry;
pub mod runtime;
mod secret;
pub mod standard;
mod token;

pub use descriptor::ProviderDescriptor;
pub use error::{Error, Operation, TransportKind};
pub use http::{HttpClient, HttpConfig, HttpResponse, ProviderCall};
pub use openid::{
    DiscoveryCache, IdTokenClaims, IdTokenError, IdTokenVerifier, IssuerRule, JwksCache, ProviderMetadata,
};
pub use profile::{EmailTrust, UserProfile, choose_email};
pub use provider::{AuthorizeRequest, Endpoint, ExchangeRequest, OAuthProvider, ProviderConfig, TokenRef};
pub use registry::{Registration, Registry};
pub use secret::{
    AccessToken, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IdToken, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RefreshToken, SecretValue,
};
pub use standard::{ClientSecretSource, StandardProvider};
pub use token::{RawResponse, TokenSet, parse_token_response, token_endpoint_jwt_claims};

/// Entry points for the fuzz targets in `fuzz/`. Not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::openid::id_token::fuzzing::id_token;
    pub use crate::token::fuzzing::token_response;
}

/// Re-exported so provider crates need no direct dependency on these.
pub use {async_trait::async_trait, jsonwebtoken, reqwest, serde_json, url};

#[doc(hidden)]
pub mod __private {
    pub use inventory;
}
