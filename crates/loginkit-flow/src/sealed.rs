//! Provider tokens at rest: sealed for the row that keeps them, opened only for that row.
//!
//! An identity's tokens are bound to its provider account, a session's to the session's id, in
//! the associated data of the seal: a sealed value copied into another row (by someone who can
//! write the database but has no key) does not open there.

use std::fmt;

use loginkit_core::TokenSet;

use crate::crypto::{Keys, Purpose};
use crate::model::{Identity, Sealed, Session, StoredTokens, Timestamp};

/// The row sealed provider tokens belong to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Row<'a> {
    /// An identity: the provider account it is.
    Identity { provider: &'a str, uid: &'a str },
    /// A session, by id.
    Session(&'a str),
    /// A revocation waiting for its provider, by id.
    Revocation(&'a str),
}

impl Row<'_> {
    fn context(self) -> Vec<u8> {
        match self {
            Row::Identity { provider, uid } => {
                [b"identity\0".as_slice(), provider.as_bytes(), b"\0", uid.as_bytes()].concat()
            }
            Row::Session(id) => [b"session\0".as_slice(), id.as_bytes()].concat(),
            Row::Revocation(id) => [b"revocation\0".as_slice(), id.as_bytes()].concat(),
        }
    }

    /// One secret sealed for this row.
    pub(crate) fn seal(self, keys: &Keys, secret: &str) -> Sealed {
        Sealed(keys.seal(Purpose::Data, &self.context(), secret.as_bytes()))
    }

    /// One value sealed for this row, opened; `None` when it does not open.
    pub(crate) fn open(self, keys: &Keys, sealed: &Sealed) -> Option<String> {
        keys.open(Purpose::Data, &self.context(), &sealed.0).and_then(|bytes| String::from_utf8(bytes).ok())
    }

    pub(crate) fn of_identity(identity: &Identity) -> Row<'_> {
        Row::Identity { provider: &identity.provider, uid: &identity.provider_uid }
    }

    pub(crate) fn of_session(session: &Session) -> Row<'_> {
        Row::Session(&session.id)
    }

    /// The identity a session was made with (its provider account).
    pub(crate) fn identity_of(session: &Session) -> Row<'_> {
        Row::Identity { provider: &session.provider, uid: &session.provider_uid }
    }
}

/// Provider tokens in clear, between the provider (or a row) and a row.
#[derive(Clone)]
pub(crate) struct PlainTokens {
    pub access: String,
    pub refresh: Option<String>,
    pub expiry: Option<Timestamp>,
}

impl From<&TokenSet> for PlainTokens {
    fn from(tokens: &TokenSet) -> Self {
        Self {
            access: tokens.access_token.secret().clone(),
            refresh: tokens.refresh_token.as_ref().map(|t| t.secret().clone()),
            expiry: tokens.expires_at.map(Timestamp::from),
        }
    }
}

impl PlainTokens {
    /// These tokens sealed for `row`.
    pub(crate) fn seal(&self, keys: &Keys, row: Row<'_>) -> StoredTokens {
        let context = row.context();
        let seal = |secret: &str| Sealed(keys.seal(Purpose::Data, &context, secret.as_bytes()));
        StoredTokens {
            access_token: seal(&self.access),
            refresh_token: self.refresh.as_deref().map(seal),
            access_token_expiry: self.expiry,
        }
    }

    /// `stored` opened for `row`; `None` when any of its values does not open (sealed with a key
    /// no longer configured, or for another row).
    pub(crate) fn open(keys: &Keys, stored: &StoredTokens, row: Row<'_>) -> Option<Self> {
        let revealed = RevealedTokens::open(keys, stored, row);
        if stored.refresh_token.is_some() && revealed.refresh_token.is_none() {
            return None;
        }
        Some(Self {
            access: revealed.access_token?,
            refresh: revealed.refresh_token,
            expiry: stored.access_token_expiry,
        })
    }
}

/// A row's provider tokens, opened. `Debug` shows whether each is there, never its value.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct RevealedTokens {
    /// The access token; `None` when it does not open (sealed with a key no longer configured).
    pub access_token: Option<String>,
    /// The refresh token, when there is one and it opens.
    pub refresh_token: Option<String>,
    /// When the access token expires, when the provider said.
    pub access_token_expiry: Option<Timestamp>,
}

impl RevealedTokens {
    pub(crate) fn open(keys: &Keys, stored: &StoredTokens, row: Row<'_>) -> Self {
        let context = row.context();
        let open = |sealed: &Sealed| {
            keys.open(Purpose::Data, &context, &sealed.0).and_then(|bytes| String::from_utf8(bytes).ok())
        };
        Self {
            access_token: open(&stored.access_token),
            refresh_token: stored.refresh_token.as_ref().and_then(open),
            access_token_expiry: stored.access_token_expiry,
        }
    }
}

impl fmt::Debug for RevealedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevealedTokens")
            .field("access_token", &self.access_token.as_ref().map(|_| "[redacted]"))
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[redacted]"))
            .field("access_token_expiry", &self.access_token_expiry)
            .finish()
    }
}
