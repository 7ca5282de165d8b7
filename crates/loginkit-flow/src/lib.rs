//! The OAuth 2.0 login flow of loginkit, usable from any web framework.
//!
//! [`Flow::start`] checks the provider, the success/failure URLs against the project's
//! [`AllowList`] and the scopes, then answers with the provider's authorize URL carrying a sealed
//! `state` and a cookie binding it to the browser. [`Flow::callback`] opens and consumes the
//! state, exchanges the code, reads the profile, and in one [`Store`] transaction finds or creates
//! the user and identity and creates a session (or a one-time secret for the token flow).
//! [`Flow::refresh_session`] refreshes the provider tokens of a session and its identity.
//!
//! Storage is behind the [`Store`] trait; [`SqliteStore`] is the bundled implementation and
//! takes a [`UserTable`] to keep users in an application's own table.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod crypto;
mod error;
mod flow;
mod model;
mod redirect;
mod sqlite;
mod state;
mod store;

pub use crypto::{KeyError, Keys, MASTER_KEY_LEN};
pub use error::{ErrorType, FlowError, StoreError};
pub use flow::{
    BindingCookie, CallbackRequest, Client, Completed, Flow, MAX_SCOPE_LEN, MAX_SCOPES, NewSession, Project,
    StartRequest, Started, parse_cookie_header,
};
pub use model::{Identity, NewUser, OneTimeToken, Sealed, Session, StoredTokens, Timestamp, User};
pub use redirect::{AllowList, MAX_URL_LEN, RedirectError};
pub use sqlite::{BuiltinUsers, SqliteStore, UserTable};
pub use state::{BINDING_COOKIE_PREFIX, STATE_LIFETIME};
pub use store::{Store, Tx};

pub use sqlx;
