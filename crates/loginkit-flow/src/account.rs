//! Account matching: where a login lands and what it writes, decided from what the store read.
//!
//! A pure function of the login's facts and a [`Snapshot`]: the store calls it inside
//! [`Store::login`](crate::Store::login), and again with a fresh snapshot if a concurrent login
//! changed what it read. The rules:
//!
//! 1. A browser signed in (with a session that may be linked to): the identity joins that user,
//!    unless the provider account belongs to another user, or its email is another user's own
//!    verified address.
//! 2. Else an existing identity: its user.
//! 3. Else the email's verified owner, when the provider verified the email too; an unverified
//!    address matching an owner is refused (it never joins nor takes over an account).
//! 4. Else a new user (an unverified address is kept on it, but names no one).
//!
//! The new session takes a slot among its user's: a free one below the session limit, else the
//! one of the session it replaces (the browser's old one), else the one of the oldest (expired
//! sessions first). Two logins taking one slot conflict, and the later one decides again.

use crate::error::{Conflict, FlowError};
use crate::model::{Identity, NewUser, OneTimeToken, Sealed, Session, StoredTokens, Timestamp};
use crate::store::{LoginPlan, PlannedIdentity, PlannedSession, PlannedUser, SlotHolder, Snapshot};

/// What the login knows, independent of the database.
#[derive(Debug, Clone)]
pub(crate) struct LoginFacts {
    pub provider: String,
    /// The provider's user id.
    pub uid: String,
    /// The email the provider reported, if any.
    pub email: Option<String>,
    /// Whether the provider verified it.
    pub verified: bool,
    pub display_name: Option<String>,
    /// The verified ID token's subject.
    pub subject: Option<String>,
    /// The verified ID token's claims (JSON).
    pub claims: Option<String>,
    /// The avatar the profile named.
    pub avatar_url: Option<String>,
    /// The ID token, sealed for the identity.
    pub id_token: Option<Sealed>,
    /// The provider tokens sealed for the identity.
    pub identity_tokens: StoredTokens,
    /// The id a new user gets.
    pub new_user_id: String,
    /// The id a new identity gets.
    pub new_identity_id: String,
    /// The browser's session when it may be linked to.
    pub current: Option<Session>,
    /// The session limit (0: none).
    pub session_limit: u32,
    pub now: Timestamp,
}

/// What the login makes besides the identity: a session (everything set but its user and slot,
/// which the decision fills in) or a one-time token (everything but its user).
#[derive(Debug, Clone)]
pub(crate) enum Making {
    Session(Session),
    Token(OneTimeToken),
}

/// The plan of a login, or why it is refused.
pub(crate) fn decide(
    facts: &LoginFacts,
    making: &Making,
    snapshot: &Snapshot,
) -> Result<LoginPlan, FlowError> {
    let email = facts.email.as_deref().filter(|e| !e.is_empty());
    let identity = snapshot.identity.as_ref();
    let user_id = match &facts.current {
        Some(current) => {
            if identity.is_some_and(|i| i.user_id != current.user_id) {
                return Err(FlowError::Conflict(Conflict::IdentityTaken));
            }
            if email.is_some()
                && snapshot.email_owner.as_deref().is_some_and(|owner| owner != current.user_id)
            {
                return Err(FlowError::Conflict(Conflict::EmailTaken));
            }
            Some(existing(snapshot, &current.user_id)?)
        }
        None => match (identity, &snapshot.email_owner) {
            (Some(identity), _) => Some(existing(snapshot, &identity.user_id)?),
            (None, Some(owner)) if facts.verified => Some(existing(snapshot, owner)?),
            (None, Some(_)) => {
                return Err(FlowError::Conflict(Conflict::UnverifiedEmail));
            }
            (None, None) => None,
        },
    };
    let user = match user_id {
        Some(id) => {
            let unnamed = snapshot.user(&id).is_some_and(|u| u.name.is_empty());
            PlannedUser::Existing { name: facts.display_name.clone().filter(|_| unnamed), id }
        }
        None => PlannedUser::Create(NewUser {
            id: facts.new_user_id.clone(),
            email: email.map(str::to_owned),
            email_verified: email.is_some() && facts.verified,
            name: facts.display_name.clone().unwrap_or_default(),
            created_at: facts.now,
        }),
    };
    let owner = user.id().to_owned();
    let identity = Some(match identity {
        Some(existing) => PlannedIdentity::Renew {
            provider: existing.provider.clone(),
            provider_uid: existing.provider_uid.clone(),
            user_id: existing.user_id.clone(),
            tokens: facts.identity_tokens.clone(),
            email: email.map(str::to_owned),
            subject: facts.subject.clone(),
            claims: facts.claims.clone(),
            avatar_url: facts.avatar_url.clone(),
            id_token: facts.id_token.clone(),
            moved_to: (existing.provider_uid != facts.uid).then(|| facts.uid.clone()),
        },
        None => PlannedIdentity::Create(Identity {
            id: facts.new_identity_id.clone(),
            user_id: owner.clone(),
            provider: facts.provider.clone(),
            provider_uid: facts.uid.clone(),
            provider_email: email.unwrap_or_default().to_owned(),
            subject: facts.subject.clone(),
            tokens: facts.identity_tokens.clone(),
            claims_json: facts.claims.clone(),
            avatar_url: facts.avatar_url.clone(),
            id_token: facts.id_token.clone(),
            created_at: facts.now,
            updated_at: facts.now,
        }),
    });
    let mut plan = LoginPlan { user, identity, session: None, token: None, replace: None, now: facts.now };
    match making {
        Making::Token(token) => plan.token = Some(OneTimeToken { user_id: owner, ..token.clone() }),
        Making::Session(session) => {
            // Like Appwrite: the new session replaces the one the browser had.
            let replaced = facts.current.as_ref().map(|c| c.id.as_str());
            let mut placed = place(&snapshot.sessions, &owner, facts.session_limit, replaced, facts.now);
            placed.session = Session { user_id: owner, slot: placed.session.slot, ..session.clone() };
            let evicted = placed.evicts.as_deref();
            let dropped = |id: &str| {
                snapshot
                    .sessions
                    .iter()
                    .any(|s| s.id == id && placed.drop_from.is_some_and(|from| s.slot >= from))
            };
            plan.replace = replaced.filter(|id| Some(*id) != evicted && !dropped(id)).map(str::to_owned);
            plan.session = Some(placed);
        }
    }
    Ok(plan)
}

/// A session for an existing user with no login behind it (a token-flow secret redeemed): the
/// user must still exist; the session takes its slot as a login's would.
pub(crate) fn decide_session(
    user_id: &str,
    session: &Session,
    snapshot: &Snapshot,
    session_limit: u32,
    now: Timestamp,
) -> Result<LoginPlan, FlowError> {
    let user_id = existing(snapshot, user_id)?;
    let mut placed = place(&snapshot.sessions, &user_id, session_limit, None, now);
    placed.session = Session { user_id: user_id.clone(), slot: placed.session.slot, ..session.clone() };
    Ok(LoginPlan {
        user: PlannedUser::Existing { id: user_id, name: None },
        identity: None,
        session: Some(placed),
        token: None,
        replace: None,
        now,
    })
}

/// The user's id when the snapshot holds the user.
fn existing(snapshot: &Snapshot, id: &str) -> Result<String, FlowError> {
    match snapshot.user(id) {
        Some(user) => Ok(user.id.clone()),
        None => Err(FlowError::Conflict(Conflict::UserGone)),
    }
}

/// Where a new session of `user_id` goes among its `sessions` (of every user in the snapshot):
/// its slot (in a placeholder session), the session it evicts, and where a lowered limit cuts.
fn place(
    sessions: &[SlotHolder],
    user_id: &str,
    limit: u32,
    replaced: Option<&str>,
    now: Timestamp,
) -> PlannedSession {
    let mine: Vec<&SlotHolder> = sessions.iter().filter(|s| s.user_id == user_id).collect();
    let free = |below: Option<i64>| {
        (0..)
            .take_while(|slot| below.is_none_or(|b| *slot < b))
            .find(|slot| mine.iter().all(|s| s.slot != *slot))
    };
    let replacing = replaced.and_then(|id| mine.iter().find(|s| s.id == id));
    let (slot, evicts, drop_from) = if limit == 0 {
        match replacing {
            Some(old) => (old.slot, Some(old.id.clone()), None),
            None => (free(None).unwrap_or_default(), None, None),
        }
    } else {
        let limit = i64::from(limit);
        let drop_from = mine.iter().any(|s| s.slot >= limit).then_some(limit);
        match (replacing.filter(|old| old.slot < limit), free(Some(limit))) {
            (Some(old), _) => (old.slot, Some(old.id.clone()), drop_from),
            (None, Some(slot)) => (slot, None, drop_from),
            (None, None) => {
                // Full: the oldest goes, an expired one before any live one.
                // (No free slot below a positive limit means there are sessions below it.)
                let oldest = mine
                    .iter()
                    .filter(|s| s.slot < limit)
                    .min_by_key(|s| (s.expire > now, s.created_at, s.slot));
                match oldest {
                    Some(oldest) => (oldest.slot, Some(oldest.id.clone()), drop_from),
                    None => (0, None, drop_from),
                }
            }
        }
    };
    PlannedSession { session: placeholder(slot), evicts, drop_from }
}

fn placeholder(slot: i64) -> Session {
    let zero = Timestamp::from_millis(0);
    Session {
        id: String::new(),
        user_id: String::new(),
        secret_digest: String::new(),
        provider: String::new(),
        provider_uid: String::new(),
        tokens: StoredTokens {
            access_token: crate::model::Sealed(String::new()),
            refresh_token: None,
            access_token_expiry: None,
        },
        expire: zero,
        ip: String::new(),
        user_agent: String::new(),
        created_at: zero,
        updated_at: zero,
        link_binding: None,
        slot,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Sealed, User};

    const NOW: i64 = 1_700_000_000_000;

    fn at(offset: i64) -> Timestamp {
        Timestamp::from_millis(NOW + offset)
    }

    fn user(id: &str, email: Option<&str>, verified: bool, name: &str) -> User {
        User {
            id: id.into(),
            email: email.map(Into::into),
            email_verified: verified,
            name: name.into(),
            created_at: at(-1000),
            updated_at: at(-1000),
        }
    }

    fn tokens() -> StoredTokens {
        StoredTokens { access_token: Sealed("sealed".into()), refresh_token: None, access_token_expiry: None }
    }

    fn facts(email: Option<&str>, verified: bool) -> LoginFacts {
        LoginFacts {
            provider: "github".into(),
            uid: "42".into(),
            email: email.map(Into::into),
            verified,
            display_name: Some("Ada".into()),
            subject: None,
            claims: None,
            avatar_url: None,
            id_token: None,
            identity_tokens: tokens(),
            new_user_id: "new-user".into(),
            new_identity_id: "new-identity".into(),
            current: None,
            session_limit: 3,
            now: at(0),
        }
    }

    fn session(id: &str, user: &str, slot: i64) -> Session {
        Session { id: id.into(), user_id: user.into(), slot, ..placeholder(0) }
    }

    fn holder(id: &str, user: &str, slot: i64, created: i64, expire: i64) -> SlotHolder {
        SlotHolder { id: id.into(), user_id: user.into(), slot, created_at: at(created), expire: at(expire) }
    }

    fn identity_of(user: &str) -> Identity {
        Identity {
            id: "i1".into(),
            user_id: user.into(),
            provider: "github".into(),
            provider_uid: "42".into(),
            provider_email: String::new(),
            subject: None,
            tokens: tokens(),
            claims_json: None,
            avatar_url: None,
            id_token: None,
            created_at: at(-1),
            updated_at: at(-1),
        }
    }

    fn new_session() -> Making {
        Making::Session(session("s-new", "", 0))
    }

    fn kind(error: FlowError) -> &'static str {
        error.code()
    }

    #[test]
    fn a_first_login_makes_a_user_an_identity_and_a_session_in_slot_zero() {
        let plan = decide(&facts(Some("ada@x.test"), true), &new_session(), &Snapshot::default()).unwrap();
        let PlannedUser::Create(new) = &plan.user else { panic!("{:?}", plan.user) };
        assert_eq!(
            (new.id.as_str(), new.email.as_deref(), new.email_verified),
            ("new-user", Some("ada@x.test"), true)
        );
        assert!(matches!(&plan.identity, Some(PlannedIdentity::Create(i)) if i.user_id == "new-user"));
        let session = plan.session.unwrap();
        assert_eq!(
            (session.session.user_id.as_str(), session.session.slot, session.evicts),
            ("new-user", 0, None)
        );
        assert_eq!(plan.replace, None);
    }

    #[test]
    fn an_unverified_address_is_kept_but_verifies_nothing() {
        let plan = decide(&facts(Some("ada@x.test"), false), &new_session(), &Snapshot::default()).unwrap();
        let PlannedUser::Create(new) = &plan.user else { panic!() };
        assert!(!new.email_verified);
    }

    #[test]
    fn the_verified_owner_of_the_email_gets_the_identity_and_an_unverified_claim_is_refused() {
        let snapshot = Snapshot {
            email_owner: Some("owner".into()),
            users: vec![user("owner", Some("ada@x.test"), true, "")],
            ..Snapshot::default()
        };
        let plan = decide(&facts(Some("ada@x.test"), true), &new_session(), &snapshot).unwrap();
        assert!(
            matches!(&plan.user, PlannedUser::Existing { id, name: Some(n) } if id == "owner" && n == "Ada")
        );
        let refused = decide(&facts(Some("ada@x.test"), false), &new_session(), &snapshot).unwrap_err();
        assert_eq!(kind(refused), "unverified_email");
    }

    #[test]
    fn a_returning_identity_lands_on_its_user_and_renews_its_tokens() {
        let snapshot = Snapshot {
            identity: Some(identity_of("u1")),
            users: vec![user("u1", None, false, "Named")],
            ..Snapshot::default()
        };
        let plan = decide(&facts(None, false), &new_session(), &snapshot).unwrap();
        assert!(
            matches!(&plan.user, PlannedUser::Existing { id, name: None } if id == "u1"),
            "named: no rename"
        );
        assert!(matches!(&plan.identity, Some(PlannedIdentity::Renew { user_id, .. }) if user_id == "u1"));
        let gone = Snapshot { identity: Some(identity_of("u1")), ..Snapshot::default() };
        assert_eq!(kind(decide(&facts(None, false), &new_session(), &gone).unwrap_err()), "user_gone");
    }

    #[test]
    fn a_signed_in_browser_links_unless_the_account_or_the_email_is_someone_elses() {
        let mut linking = facts(Some("ada@x.test"), true);
        linking.current = Some(session("s-cur", "me", 1));
        let mine = Snapshot {
            users: vec![user("me", None, false, "Me")],
            sessions: vec![holder("s-cur", "me", 1, -50, 1000)],
            ..Snapshot::default()
        };
        let plan = decide(&linking, &new_session(), &mine).unwrap();
        assert!(matches!(&plan.user, PlannedUser::Existing { id, .. } if id == "me"));
        let session = plan.session.unwrap();
        assert_eq!(
            (session.session.slot, session.evicts.as_deref()),
            (1, Some("s-cur")),
            "takes the replaced one's slot"
        );
        assert_eq!(plan.replace, None, "replaced by the slot, not deleted apart");
        let theirs = Snapshot { identity: Some(identity_of("other")), ..mine.clone() };
        assert_eq!(kind(decide(&linking, &new_session(), &theirs).unwrap_err()), "identity_taken");
        let owned = Snapshot { email_owner: Some("other".into()), ..mine };
        assert_eq!(kind(decide(&linking, &new_session(), &owned).unwrap_err()), "email_taken");
    }

    #[test]
    fn sessions_take_a_free_slot_then_the_oldest_expired_first() {
        let snapshot = |sessions| Snapshot {
            identity: Some(identity_of("u1")),
            users: vec![user("u1", None, false, "U")],
            sessions,
            ..Snapshot::default()
        };
        let slot = |sessions| {
            let plan = decide(&facts(None, false), &new_session(), &snapshot(sessions)).unwrap();
            let s = plan.session.unwrap();
            (s.session.slot, s.evicts, s.drop_from)
        };
        assert_eq!(
            slot(vec![holder("a", "u1", 0, -30, 1000), holder("b", "u1", 2, -10, 1000)]),
            (1, None, None)
        );
        let full = vec![
            holder("a", "u1", 0, -20, 1000),
            holder("b", "u1", 1, -30, 1000),
            holder("c", "u1", 2, -10, 1000),
        ];
        assert_eq!(slot(full.clone()), (1, Some("b".into()), None), "the oldest");
        let mut expired = full;
        expired[2].expire = at(-1);
        assert_eq!(slot(expired), (2, Some("c".into()), None), "an expired one before any live one");
        let lowered = vec![holder("a", "u1", 0, -20, 1000), holder("z", "u1", 7, -5, 1000)];
        assert_eq!(slot(lowered), (1, None, Some(3)), "sessions past a lowered limit go");
        let others = vec![holder("x", "u2", 0, -1, 1000)];
        assert_eq!(slot(others), (0, None, None), "another user's sessions do not count");
    }

    #[test]
    fn without_a_limit_a_session_takes_the_lowest_free_slot() {
        let mut unlimited = facts(None, false);
        unlimited.session_limit = 0;
        let snapshot = Snapshot {
            identity: Some(identity_of("u1")),
            users: vec![user("u1", None, false, "U")],
            sessions: (0..12).map(|i| holder(&format!("s{i}"), "u1", i, -i, 1000)).collect(),
            ..Snapshot::default()
        };
        let plan = decide(&unlimited, &new_session(), &snapshot).unwrap();
        let s = plan.session.unwrap();
        assert_eq!((s.session.slot, s.evicts, s.drop_from), (12, None, None));
    }

    #[test]
    fn the_token_flow_makes_a_token_for_the_user_instead_of_a_session() {
        let token = OneTimeToken {
            id: "t".into(),
            user_id: String::new(),
            secret_digest: "d".into(),
            provider: "github".into(),
            expire: at(60_000),
            created_at: at(0),
            link_binding: Some("l".into()),
            redeemer: None,
        };
        let plan = decide(&facts(None, false), &Making::Token(token), &Snapshot::default()).unwrap();
        assert!(plan.session.is_none());
        assert_eq!(plan.token.unwrap().user_id, "new-user");
    }
}
