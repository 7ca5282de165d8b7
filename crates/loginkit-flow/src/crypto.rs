//! Server keys: AEAD sealing for state and data at rest, random identifiers, secret digests.
//!
//! Everything here delegates to aws-lc-rs (the same backend as TLS and JOSE): AES-256-GCM with a
//! random 96-bit nonce per message, HKDF-SHA256 to derive one key per purpose from a master key,
//! SHA-256 for secrets that only need to be recognised, never recovered.
//!
//! The keys are a ring: the newest master key seals, every configured one opens. A sealed value
//! names the key that sealed it (`<key id>.<base64url of nonce, ciphertext and tag>`), so a
//! rotation fails no login in flight and blanks no stored token. Data sealed for a row binds that
//! row in its associated data: a value copied into another row does not open there.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::{constant_time, digest, hkdf, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Length in bytes of a master key.
pub const MASTER_KEY_LEN: usize = 32;

/// Length of a key id: 8 base64url characters (48 bits of HKDF output).
const KEY_ID_LEN: usize = 8;

/// The server's secret key material: the master key that seals and the older ones that still
/// open, each with a sealing key per purpose derived from it. Its `Debug` output shows key ids
/// only.
pub struct Keys {
    /// The newest key first; it seals.
    ring: Vec<KeySet>,
}

/// The keys derived from one master key.
struct KeySet {
    id: String,
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
    /// The associated data of values sealed before keys had ids (no row binding).
    fn legacy_aad(self) -> &'static [u8] {
        match self {
            Purpose::State => b"loginkit state v1",
            Purpose::Data => b"loginkit data v1",
        }
    }

    /// The associated data: the purpose, then the row the value belongs to.
    fn aad(self, context: &[u8]) -> Vec<u8> {
        let label: &[u8] = match self {
            Purpose::State => b"loginkit state v2",
            Purpose::Data => b"loginkit data v2",
        };
        [label, b"\0", context].concat()
    }
}

/// A master key that could not be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "the master key must be {MASTER_KEY_LEN} bytes, encoded as 64 hexadecimal digits or unpadded base64url"
)]
pub struct KeyError;

/// An HKDF output length.
struct OutputLen(usize);

impl hkdf::KeyType for OutputLen {
    fn len(&self) -> usize {
        self.0
    }
}

impl KeySet {
    fn new(master: &[u8]) -> Result<Self, KeyError> {
        if master.len() != MASTER_KEY_LEN {
            return Err(KeyError);
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"loginkit").extract(master);
        let expand = |info: &[u8], out: &mut [u8]| -> Result<(), KeyError> {
            let info = [info];
            prk.expand(&info, OutputLen(out.len())).and_then(|okm| okm.fill(out)).map_err(|_| KeyError)
        };
        let derive = |info: &[u8]| -> Result<RandomizedNonceKey, KeyError> {
            let mut key = [0u8; 32];
            expand(info, &mut key)?;
            RandomizedNonceKey::new(&AES_256_GCM, &key).map_err(|_| KeyError)
        };
        let mut id = [0u8; KEY_ID_LEN * 3 / 4];
        expand(b"key id", &mut id)?;
        Ok(Self { id: URL_SAFE_NO_PAD.encode(id), state: derive(b"state")?, data: derive(b"data")? })
    }

    fn key(&self, purpose: Purpose) -> &RandomizedNonceKey {
        match purpose {
            Purpose::State => &self.state,
            Purpose::Data => &self.data,
        }
    }

    fn open(&self, purpose: Purpose, aad: &[u8], payload: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = self.key(purpose).open_in_place(nonce, Aad::from(aad), &mut buffer).ok()?;
        Some(plaintext.to_vec())
    }
}

impl Keys {
    /// Keys derived from a 32-byte master key.
    pub fn from_master(master: &[u8]) -> Result<Self, KeyError> {
        Ok(Self { ring: vec![KeySet::new(master)?] })
    }

    /// Keys from the textual form written by [`Keys::generate_master`]: 64 hex digits or 43
    /// base64url characters.
    pub fn from_encoded(encoded: &str) -> Result<Self, KeyError> {
        Self::from_master(&decode_master(encoded.trim())?)
    }

    /// A key ring: `current` seals, and it and every one of `previous` open. After a rotation,
    /// the old key goes into `previous` until [`Flow::reseal`](crate::Flow::reseal) has moved
    /// every stored token to the new one and every login started before has ended.
    pub fn ring<S: AsRef<str>>(current: &str, previous: &[S]) -> Result<Self, KeyError> {
        let mut ring = vec![KeySet::new(&decode_master(current.trim())?)?];
        for key in previous {
            let set = KeySet::new(&decode_master(key.as_ref().trim())?)?;
            if ring.iter().all(|known| known.id != set.id) {
                ring.push(set);
            }
        }
        Ok(Self { ring })
    }

    /// A fresh random master key in its textual (base64url) form.
    pub fn generate_master() -> String {
        URL_SAFE_NO_PAD.encode(random_bytes::<MASTER_KEY_LEN>())
    }

    /// The id of the key that seals, as it prefixes sealed values.
    pub fn current_id(&self) -> &str {
        &self.ring[0].id
    }

    /// Encrypts and authenticates `plaintext` for `purpose` and the row `context` names, with
    /// the current key; the result is `<key id>.<base64url of nonce, ciphertext and tag>`.
    pub(crate) fn seal(&self, purpose: Purpose, context: &[u8], plaintext: &[u8]) -> String {
        let current = &self.ring[0];
        let mut buffer = plaintext.to_vec();
        let nonce = current
            .key(purpose)
            .seal_in_place_append_tag(Aad::from(purpose.aad(context).as_slice()), &mut buffer)
            // Only fails when the system random generator does, which aws-lc treats as fatal too.
            .expect("AES-256-GCM sealing with a random nonce");
        let mut out = Vec::with_capacity(NONCE_LEN + buffer.len());
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buffer);
        format!("{}.{}", current.id, URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a value sealed by [`Keys::seal`] for the same purpose and row with any key of the
    /// ring (or by an older version, which named no key and no row); `None` when it was altered,
    /// truncated, sealed with a key not in the ring, for another purpose or another row.
    pub(crate) fn open(&self, purpose: Purpose, context: &[u8], sealed: &str) -> Option<Vec<u8>> {
        match sealed.split_once('.') {
            Some((id, payload)) => {
                let set = self.ring.iter().find(|set| set.id == id)?;
                set.open(purpose, &purpose.aad(context), payload)
            }
            None => self.ring.iter().find_map(|set| set.open(purpose, purpose.legacy_aad(), sealed)),
        }
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.ring.iter().map(|set| set.id.as_str()).collect();
        f.debug_struct("Keys").field("ids", &ids).finish_non_exhaustive()
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

/// A new identifier: 20 lowercase hex digits in the shape of Appwrite's ids (8 of the Unix
/// time's seconds, 5 of its microseconds, 7 random). Ids made later sort later, so new rows go
/// to the end of their indexes instead of into random pages of them.
pub(crate) fn new_id() -> String {
    time_ordered(7)
}

/// The id of a login's state (sealed, never shown): time-ordered like [`new_id`] (used states
/// are kept by id) with 64 random bits, so no two logins share one.
pub(crate) fn new_state_id() -> String {
    time_ordered(16)
}

/// 13 hex digits of the current time (seconds, then microseconds) and `random_digits` (at most
/// 16) random ones.
fn time_ordered(random_digits: usize) -> String {
    use std::fmt::Write;
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut id = String::with_capacity(13 + random_digits);
    let _ = write!(id, "{:08x}{:05x}", since_epoch.as_secs(), since_epoch.subsec_micros());
    id.push_str(&hex(&random_bytes::<8>())[..random_digits.min(16)]);
    id
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
        let a = keys.seal(Purpose::Data, b"row", b"token");
        let b = keys.seal(Purpose::Data, b"row", b"token");
        assert_ne!(a, b, "a fresh nonce per message");
        assert!(a.starts_with(&format!("{}.", keys.current_id())), "{a}");
        assert_eq!(keys.open(Purpose::Data, b"row", &a).unwrap(), b"token");
    }

    #[test]
    fn purposes_keys_and_rows_do_not_mix() {
        let keys = keys();
        let sealed = keys.seal(Purpose::State, b"", b"x");
        assert!(keys.open(Purpose::Data, b"", &sealed).is_none());
        assert!(self::keys().open(Purpose::State, b"", &sealed).is_none());
        let data = keys.seal(Purpose::Data, b"identity\x00github\x00100", b"token");
        assert!(keys.open(Purpose::Data, b"identity\x00github\x00101", &data).is_none(), "another row");
    }

    #[test]
    fn a_ring_seals_with_its_newest_key_and_opens_with_all() {
        let (old, new) = (Keys::generate_master(), Keys::generate_master());
        let before = Keys::from_encoded(&old).unwrap();
        let sealed_before = before.seal(Purpose::Data, b"row", b"token");
        let ring = Keys::ring(&new, std::slice::from_ref(&old)).unwrap();
        assert_ne!(ring.current_id(), before.current_id());
        assert_eq!(
            ring.open(Purpose::Data, b"row", &sealed_before).unwrap(),
            b"token",
            "old key still opens"
        );
        assert!(!sealed_before.starts_with(&format!("{}.", ring.current_id())));
        let sealed_now = ring.seal(Purpose::Data, b"row", b"token");
        assert!(sealed_now.starts_with(&format!("{}.", ring.current_id())));
        assert!(before.open(Purpose::Data, b"row", &sealed_now).is_none(), "the old key alone cannot");
        let after = Keys::from_encoded(&new).unwrap();
        assert!(after.open(Purpose::Data, b"row", &sealed_before).is_none(), "once dropped, gone");
        assert_eq!(after.open(Purpose::Data, b"row", &sealed_now).unwrap(), b"token");
        assert_eq!(Keys::ring(&new, &[new.clone(), old]).unwrap().ring.len(), 2, "duplicates ignored");
        assert!(Keys::ring(&new, &["nope"]).is_err());
    }

    #[test]
    fn values_sealed_before_key_ids_still_open() {
        let master = Keys::generate_master();
        let keys = Keys::from_encoded(&master).unwrap();
        // The earlier format: base64url(nonce, ciphertext, tag), fixed associated data.
        let set = &keys.ring[0];
        let mut buffer = b"legacy".to_vec();
        let nonce =
            set.data.seal_in_place_append_tag(Aad::from(Purpose::Data.legacy_aad()), &mut buffer).unwrap();
        let legacy = URL_SAFE_NO_PAD.encode([nonce.as_ref().as_slice(), buffer.as_slice()].concat());
        assert_eq!(keys.open(Purpose::Data, b"any row", &legacy).unwrap(), b"legacy");
        let ring = Keys::ring(&Keys::generate_master(), &[master]).unwrap();
        assert_eq!(ring.open(Purpose::Data, b"", &legacy).unwrap(), b"legacy", "with an old key of the ring");
    }

    #[test]
    fn hex_and_base64_master_keys_are_accepted_and_bad_ones_refused() {
        assert!(Keys::from_encoded(&"ab".repeat(32)).is_ok());
        assert!(Keys::from_encoded(&"ab".repeat(31)).is_err());
        assert!(Keys::from_encoded("not a key").is_err());
        let shown = format!("{:?}", keys());
        assert!(shown.starts_with("Keys { ids: [\"") && shown.len() < 40, "{shown}");
    }

    #[test]
    fn ids_and_secrets_have_their_shapes() {
        assert_eq!(new_id().len(), 20);
        assert_eq!(new_state_id().len(), 29);
        let (first, second) = (new_id(), new_id());
        assert!(first[..13] <= second[..13], "ids are ordered by time: {first} {second}");
        assert_ne!(first, second);
        assert_eq!(random_secret().len(), 64);
        assert_ne!(random_secret(), random_secret());
        assert_eq!(digest_secret("abc").len(), 64);
        assert!(secrets_equal("abc", "abc") && !secrets_equal("abc", "abd"));
        assert_eq!(keys().current_id().len(), KEY_ID_LEN);
    }
}
