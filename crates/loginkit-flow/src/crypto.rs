//! Server keys: AEAD sealing for state and data at rest, random identifiers, secret digests.
//!
//! Everything here delegates to aws-lc-rs (the same backend as TLS and JOSE): AES-256-GCM with a
//! random 96-bit nonce per message, HKDF-SHA256 to derive one key per purpose from the master key,
//! SHA-256 for secrets that only need to be recognised, never recovered.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::{constant_time, digest, hkdf, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Length in bytes of a master key.
pub const MASTER_KEY_LEN: usize = 32;

/// The server's secret key material: one master key, from which a sealing key per purpose is
/// derived. Its `Debug` output is redacted.
pub struct Keys {
    state: RandomizedNonceKey,
    data: RandomizedNonceKey,
}

/// What a sealed value is for; a value sealed for one purpose never opens as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The `state` parameter of a login.
    State,
    /// Provider tokens stored by a [`Store`](crate::Store).
    Data,
}

impl Purpose {
    fn aad(self) -> &'static [u8] {
        match self {
            Purpose::State => b"loginkit state v1",
            Purpose::Data => b"loginkit data v1",
        }
    }
}

/// A master key that could not be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "the master key must be {MASTER_KEY_LEN} bytes, encoded as 64 hexadecimal digits or unpadded base64url"
)]
pub struct KeyError;

impl Keys {
    /// Keys derived from a 32-byte master key.
    pub fn from_master(master: &[u8]) -> Result<Self, KeyError> {
        if master.len() != MASTER_KEY_LEN {
            return Err(KeyError);
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"loginkit").extract(master);
        let derive = |info: &[u8]| -> Result<RandomizedNonceKey, KeyError> {
            let mut key = [0u8; 32];
            let info = [info];
            prk.expand(&info, hkdf::HKDF_SHA256).and_then(|okm| okm.fill(&mut key)).map_err(|_| KeyError)?;
            RandomizedNonceKey::new(&AES_256_GCM, &key).map_err(|_| KeyError)
        };
        Ok(Self { state: derive(b"state")?, data: derive(b"data")? })
    }

    /// Keys from the textual form written by [`Keys::generate_master`]: 64 hex digits or 43
    /// base64url characters.
    pub fn from_encoded(encoded: &str) -> Result<Self, KeyError> {
        Self::from_master(&decode_master(encoded.trim())?)
    }

    /// A fresh random master key in its textual (base64url) form.
    pub fn generate_master() -> String {
        URL_SAFE_NO_PAD.encode(random_bytes::<MASTER_KEY_LEN>())
    }

    fn key(&self, purpose: Purpose) -> &RandomizedNonceKey {
        match purpose {
            Purpose::State => &self.state,
            Purpose::Data => &self.data,
        }
    }

    /// Encrypts and authenticates `plaintext`; the result is base64url text (nonce, ciphertext, tag).
    pub(crate) fn seal(&self, purpose: Purpose, plaintext: &[u8]) -> String {
        let mut buffer = plaintext.to_vec();
        let nonce = self
            .key(purpose)
            .seal_in_place_append_tag(Aad::from(purpose.aad()), &mut buffer)
            // Only fails when the system random generator does, which aws-lc treats as fatal too.
            .expect("AES-256-GCM sealing with a random nonce");
        let mut out = Vec::with_capacity(NONCE_LEN + buffer.len());
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buffer);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Opens a value sealed by [`Keys::seal`] for the same purpose; `None` when it was altered,
    /// truncated, sealed with another key or for another purpose.
    pub(crate) fn open(&self, purpose: Purpose, sealed: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = self.key(purpose).open_in_place(nonce, Aad::from(purpose.aad()), &mut buffer).ok()?;
        Some(plaintext.to_vec())
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

fn decode_master(encoded: &str) -> Result<Vec<u8>, KeyError> {
    if encoded.len() == 2 * MASTER_KEY_LEN && encoded.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (0..MASTER_KEY_LEN)
            .map(|i| u8::from_str_radix(&encoded[2 * i..2 * i + 2], 16).map_err(|_| KeyError))
            .collect();
    }
    URL_SAFE_NO_PAD.decode(encoded).map_err(|_| KeyError)
}

/// `N` bytes from the system's secure random generator.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::fill(&mut bytes).expect("the system random generator");
    bytes
}

/// A random secret of 32 bytes as 64 lowercase hex digits.
pub(crate) fn random_secret() -> String {
    hex(&random_bytes::<32>())
}

/// A random identifier of 20 lowercase hex digits, the shape of Appwrite's ids.
pub(crate) fn random_id() -> String {
    hex(&random_bytes::<10>())
}

/// SHA-256 of a secret as hex: what stores keep of session and token secrets.
pub(crate) fn digest_secret(secret: &str) -> String {
    hex(digest::digest(&digest::SHA256, secret.as_bytes()).as_ref())
}

/// Equality of two secrets in time independent of where they differ.
pub(crate) fn secrets_equal(a: &str, b: &str) -> bool {
    constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::from_encoded(&Keys::generate_master()).unwrap()
    }

    #[test]
    fn seal_round_trips_and_nonces_differ() {
        let keys = keys();
        let a = keys.seal(Purpose::Data, b"token");
        let b = keys.seal(Purpose::Data, b"token");
        assert_ne!(a, b, "a fresh nonce per message");
        assert_eq!(keys.open(Purpose::Data, &a).unwrap(), b"token");
    }

    #[test]
    fn purposes_and_keys_do_not_mix() {
        let keys = keys();
        let sealed = keys.seal(Purpose::State, b"x");
        assert!(keys.open(Purpose::Data, &sealed).is_none());
        assert!(self::keys().open(Purpose::State, &sealed).is_none());
    }

    #[test]
    fn hex_and_base64_master_keys_are_accepted_and_bad_ones_refused() {
        assert!(Keys::from_encoded(&"ab".repeat(32)).is_ok());
        assert!(Keys::from_encoded(&"ab".repeat(31)).is_err());
        assert!(Keys::from_encoded("not a key").is_err());
        assert_eq!(format!("{:?}", keys()), "Keys([redacted])");
    }

    #[test]
    fn ids_and_secrets_have_their_shapes() {
        assert_eq!(random_id().len(), 20);
        assert_eq!(random_secret().len(), 64);
        assert_ne!(random_secret(), random_secret());
        assert_eq!(digest_secret("abc").len(), 64);
        assert!(secrets_equal("abc", "abc") && !secrets_equal("abc", "abd"));
    }
}
