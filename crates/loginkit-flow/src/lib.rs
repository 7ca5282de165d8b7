//! The OAuth 2.0 login flow of loginkit, usable from any web framework.
//!
//! [`Flow::start`] checks the provider, the success/failure URLs against the project's
//! [`AllowList`] and the scopes, then answers with the provider's authorize URL carrying a sealed
//! `state` and a cookie binding it to the browser. [`Flow::callback`] opens and consumes the
//! state, exchanges the code, reads the profile, and in one [`Store`] transaction finds or creates
//! the user and identity and creates a session (or a one-time secret for the token flow).
//! [`Flow::refresh_session`] refreshes the provider tokens of a session and its identity.
//!
//! A [`Project`] is made with [`Project::builder`]; its [`Policy`] decides who may sign up, sign
//! in and link before anything is written. Errors are the flow's own [`FlowError`]; adapters
//! (the `loginkit-axum` crate, the reference server) turn them into their framework's and
//! API's answers.
//!
//! Storage is behind the [`Store`] trait. [`SqliteStore`] is the bundled implementation and
//! takes a [`UserTable`] to keep users in an application's own table. With the `postgres`
//! feature, `PgStore` keeps the same tables in PostgreSQL, so several server instances can share
//! one database: a login started on one instance completes on any other, and a `state` is
//! accepted once across all of them.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod account;
mod backend;
mod crypto;
mod error;
mod flow;
mod model;
mod policy;
mod redirect;
mod sealed;
mod state;
mod store;

pub use backend::{BackendKey, BackendKeyError, MAX_BACKEND_KEY_LEN, MIN_BACKEND_KEY_LEN};
pub use crypto::{KeyError, Keys, MASTER_KEY_LEN};
pub use error::{Conflict, FlowError, Refusal, StateProblem, StoreError, Target};
pub use flow::{
    CallbackRequest, Client, Completed, Cookie, Flow, IdTokenSignIn, LINK_COOKIE_PREFIX, LOGIN_PARAMS,
    MAX_LOGIN_PARAM_LEN, MAX_LOGIN_PARAMS, MAX_SCOPE_LEN, MAX_SCOPES, MAX_STATE_LIFETIME, NewSession,
    PRUNE_BATCH, Project, ProjectBuilder, ProjectError, REFRESH_MARGIN, RESEAL_BATCH, REVOKE_ATTEMPTS,
    REVOKE_BATCH, Resealed, Revoked, StartRequest, Started, TokenRedemption, form_post_location,
    parse_cookie_header,
};
pub use model::{
    Identity, NewUser, OneTimeToken, Revocation, Sealed, Session, StoredTokens, Timestamp, User,
};
pub use policy::{AdmitAll, Attempt, Event, Policy, Questions, Rules};
pub use redirect::{AllowList, MAX_URL_LEN, RedirectError};
pub use sealed::RevealedTokens;
pub use state::{BINDING_COOKIE_PREFIX, STATE_LIFETIME};
pub use store::{
    Backend, Decide, Dialect, Expect, LoginKey, LoginPlan, MakeSteps, ObservedStore, PlannedIdentity,
    PlannedSession, PlannedUser, Pruned, Redemption, Renewal, SealedRow, SealedTable, SessionRenewal,
    SlotHolder, Snapshot, Sql, SqlStore, SqliteBackend, SqliteStore, Step, Store, StoreCall, UserTable,
    Value,
};
#[cfg(feature = "postgres")]
pub use store::{DEFAULT_MAX_CONNECTIONS, IDLE_IN_TRANSACTION_TIMEOUT, PgBackend, PgStore};

pub use rusqlite;

pub use sqlx;

/// Entry points for the fuzz targets in `fuzz/`: what a callback reads from the network, without
/// a store. Not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::crypto::{Keys, Purpose};
    use crate::redirect::AllowList;
    use crate::state::LoginState;
    use crate::{Timestamp, parse_cookie_header};

    /// A callback's query and `Cookie` header as the flow reads them: the pairs, the sealed
    /// state opened and, when it opens, its expiry, binding cookie and URLs re-checked.
    pub fn callback(keys: &Keys, query: &[u8], cookie_header: &str) {
        let params: Vec<(String, String)> = url::form_urlencoded::parse(query).into_owned().collect();
        let cookies = parse_cookie_header(cookie_header);
        for (name, value) in &params {
            if name == "state" {
                check(keys, LoginState::open(keys, value), &cookies);
            }
        }
    }

    /// The state opener on arbitrary text, and on arbitrary bytes sealed with the right key (so
    /// the JSON inside is fuzzed too).
    pub fn state(keys: &Keys, data: &[u8]) {
        check(keys, LoginState::open(keys, &String::from_utf8_lossy(data)), &[]);
        let sealed = keys.seal(Purpose::State, b"", data);
        check(keys, LoginState::open(keys, &sealed), &[]);
    }

    fn check(_keys: &Keys, state: Option<LoginState>, cookies: &[(String, String)]) {
        let Some(state) = state else { return };
        let _ = state.expired(Timestamp::now());
        let name = state.cookie_name();
        let _ = cookies.iter().any(|(n, v)| *n == name && crate::crypto::secrets_equal(v, &state.binding));
        let allow = AllowList::new(["localhost", "*.example.com"], ["myapp"]);
        let _ = allow.check(&state.success);
        let _ = allow.check(&state.failure);
    }
}

/// Entry points for the micro benchmarks: the sealed state on its own. Not a stable API.
#[doc(hidden)]
pub mod benching {
    use crate::crypto::{Keys, new_state_id, random_secret};
    use crate::state::LoginState;
    use crate::{STATE_LIFETIME, Timestamp};

    /// Seals the state of a typical login (session flow, PKCE and nonce, loopback URLs), as
    /// [`Flow::start`](crate::Flow::start) does.
    pub fn seal_state(keys: &Keys) -> String {
        LoginState {
            id: new_state_id(),
            project: "bench".into(),
            provider: "oidc".into(),
            success: "https://app.example.com/signed-in".into(),
            failure: "https://app.example.com/sign-in-failed".into(),
            token: false,
            redirect_uri: "https://auth.example.com/v1/account/sessions/oauth2/callback/oidc/bench".into(),
            binding: random_secret(),
            pkce_verifier: Some(random_secret()),
            nonce: Some(random_secret()),
            expires: Timestamp::now().millis() + STATE_LIFETIME.as_millis() as i64,
            backend: None,
        }
        .seal(keys)
    }

    /// Opens a sealed state as the callback does; whether it opened and is unexpired.
    pub fn open_state(keys: &Keys, sealed: &str) -> bool {
        LoginState::open(keys, sealed).is_some_and(|state| !state.expired(Timestamp::now()))
    }
}
