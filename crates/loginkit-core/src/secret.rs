//! Secret values: redacted `Debug`, no `PartialEq`, read only through `.secret()`.
//!
//! The OAuth 2.0 nouns come from the `oauth2` crate, whose secret types already follow these rules;
//! the OpenID Connect ones it lacks are defined here the same way.

pub use oauth2::{
    AccessToken, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier,
    RefreshToken,
};

macro_rules! secret_type {
    ($(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: String) -> Self {
                Self(value)
            }

            /// The secret value.
            ///
            /// # Security Warning
            ///
            /// Never log or display it, and compare it only in constant time.
            pub fn secret(&self) -> &str {
                &self.0
            }

            /// The secret value, consuming the wrapper.
            pub fn into_secret(self) -> String {
                self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// OpenID Connect `nonce`, bound to one login and checked in the ID token.
    Nonce
);

secret_type!(
    /// A raw ID token (a JWT), as received; validation happens in the OpenID Connect layer.
    IdToken
);

secret_type!(
    /// A secret-valued provider configuration entry (a private key, a signing secret).
    SecretValue
);

impl Nonce {
    /// A fresh random nonce (128 bits of entropy, base64url).
    pub fn new_random() -> Self {
        Nonce(CsrfToken::new_random().into_secret())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let nonce = Nonce::new("n-0S6_WzA2Mj".into());
        let token = AccessToken::new("gho_16C7e42F292c6912E7710c838347Ae178B4a".into());
        assert_eq!(format!("{nonce:?}"), "Nonce([redacted])");
        assert!(!format!("{token:?}").contains("gho_"));
    }

    #[test]
    fn random_nonces_differ() {
        assert_ne!(Nonce::new_random().secret(), Nonce::new_random().secret());
    }
}
