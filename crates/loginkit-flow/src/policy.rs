//! The embedder's say in a login: who may sign up, who may sign in, which identities may be
//! linked, and what to hear about afterwards.
//!
//! A [`Policy`] is asked while a login is decided, before anything is written: a refusal ends
//! the login at the failure URL with [`FlowError::Refused`](crate::FlowError::Refused) and
//! writes nothing (no user, identity, session or token). Events come after the writes. The
//! default methods admit everything and hear nothing; [`Rules`] covers the common cases.

use std::collections::HashSet;

use async_trait::async_trait;

use crate::error::Refusal;
use crate::model::{Identity, User};
use crate::store::{LoginPlan, PlannedIdentity, PlannedUser, Snapshot};

/// What a login knows about the person signing in when a policy is asked.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Attempt<'a> {
    /// Provider id.
    pub provider: &'a str,
    /// The provider's id of the account.
    pub provider_uid: &'a str,
    /// The email the provider reported, if any.
    pub email: Option<&'a str>,
    /// Whether the provider verified that email.
    pub email_verified: bool,
    /// The name the provider reported, if any.
    pub name: Option<&'a str>,
}

/// The questions a policy wants asked; a login asks only these. Each question a login asks
/// costs it one more read of the store (the login is decided again with the answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Questions {
    /// [`Policy::admit_new_user`].
    pub new_user: bool,
    /// [`Policy::admit_user`].
    pub user: bool,
    /// [`Policy::admit_link`].
    pub link: bool,
}

impl Questions {
    /// Every question.
    pub const ALL: Questions = Questions { new_user: true, user: true, link: true };
    /// None (a policy that only listens to events).
    pub const NONE: Questions = Questions { new_user: false, user: false, link: false };
}

/// Something that happened, told to [`Policy::on_event`] after it was written.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A login completed: a session was created, or a token-flow secret issued.
    SignedIn {
        /// The user.
        user: &'a str,
        /// Provider id.
        provider: &'a str,
        /// The provider's id of the account.
        provider_uid: &'a str,
        /// Whether the login created the user.
        new_user: bool,
    },
    /// A login linked a new identity to an existing user (a signed-in browser adding a
    /// provider, or a provider-verified email matching the user's verified address).
    Linked {
        /// The user.
        user: &'a str,
        /// Provider id.
        provider: &'a str,
        /// The provider's id of the account.
        provider_uid: &'a str,
    },
    /// An identity was removed from its user.
    Unlinked {
        /// The user.
        user: &'a str,
        /// The identity, as it was.
        identity: &'a Identity,
    },
    /// A session ended by request; `session` is `None` when all of the user's did.
    SignedOut {
        /// The user.
        user: &'a str,
        /// The session, or `None` for all.
        session: Option<&'a str>,
    },
}

/// The embedder's rules for logins, asked before anything is written, and its ears after.
///
/// Answers may be async (look the user up in the application's own tables); a login waits for
/// them, so keep them short. `on_event` runs after the writes on the request's task: spawn
/// anything slow.
#[async_trait]
pub trait Policy: Send + Sync + 'static {
    /// The questions to ask; the default is all of them. A policy that answers only some
    /// should say so: a login skips the others and their store reads.
    fn questions(&self) -> Questions {
        Questions::ALL
    }

    /// Asked before a login creates a user.
    async fn admit_new_user(&self, attempt: &Attempt<'_>) -> Result<(), Refusal> {
        let _ = attempt;
        Ok(())
    }

    /// Asked before an existing user signs in (a login landing on them, linked or not).
    async fn admit_user(&self, user: &User, attempt: &Attempt<'_>) -> Result<(), Refusal> {
        let _ = (user, attempt);
        Ok(())
    }

    /// Asked before a new identity is linked to an existing user.
    async fn admit_link(&self, user: &User, attempt: &Attempt<'_>) -> Result<(), Refusal> {
        let _ = (user, attempt);
        Ok(())
    }

    /// Asked on every authenticated request ([`Flow::authenticate`](crate::Flow::authenticate))
    /// about the session's user, so a block takes effect on sessions already out. It is on
    /// every request's path, hence not async: answer from memory.
    fn admit_session(&self, user: &User) -> Result<(), Refusal> {
        let _ = user;
        Ok(())
    }

    /// Told after a login, a link, an unlink or a sign-out was written.
    async fn on_event(&self, event: &Event<'_>) {
        let _ = event;
    }
}

/// The policy that admits everything and hears nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct AdmitAll;

impl Policy for AdmitAll {
    fn questions(&self) -> Questions {
        Questions::NONE
    }
}

/// The common rules: sign-up open or closed, the email domains new users may have, and blocked
/// users.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Whether logins may create users.
    pub signup: bool,
    /// When not empty, a new user needs a provider-verified email in one of these domains
    /// (compared case-insensitively, exactly: `example.com` does not admit `sub.example.com`).
    pub allowed_email_domains: Vec<String>,
    /// Users who may not sign in (by id); their sessions are refused too.
    pub blocked: HashSet<String>,
}

impl Default for Rules {
    fn default() -> Self {
        Self { signup: true, allowed_email_domains: Vec::new(), blocked: HashSet::new() }
    }
}

impl Rules {
    /// Whether `email`, verified by the provider, is in an allowed domain (any email when no
    /// domain is listed).
    pub fn email_allowed(&self, email: Option<&str>, verified: bool) -> bool {
        if self.allowed_email_domains.is_empty() {
            return true;
        }
        let Some(domain) = email.filter(|_| verified).and_then(|e| e.rsplit_once('@')).map(|(_, d)| d) else {
            return false;
        };
        self.allowed_email_domains.iter().any(|allowed| allowed.eq_ignore_ascii_case(domain))
    }

    /// Whether the rules restrict anything.
    pub fn restricts(&self) -> bool {
        !self.signup || !self.allowed_email_domains.is_empty() || !self.blocked.is_empty()
    }
}

#[async_trait]
impl Policy for Rules {
    fn questions(&self) -> Questions {
        Questions {
            new_user: !self.signup || !self.allowed_email_domains.is_empty(),
            user: !self.blocked.is_empty(),
            link: false,
        }
    }

    async fn admit_new_user(&self, attempt: &Attempt<'_>) -> Result<(), Refusal> {
        if !self.signup {
            return Err(Refusal::SignUpClosed);
        }
        if !self.email_allowed(attempt.email, attempt.email_verified) {
            return Err(Refusal::EmailDomainNotAllowed);
        }
        Ok(())
    }

    async fn admit_user(&self, user: &User, _attempt: &Attempt<'_>) -> Result<(), Refusal> {
        self.admit_session(user)
    }

    fn admit_session(&self, user: &User) -> Result<(), Refusal> {
        if self.blocked.contains(&user.id) { Err(Refusal::Blocked) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_domains_need_a_verified_address_in_an_exact_domain() {
        let rules = Rules { allowed_email_domains: vec!["Example.com".into()], ..Rules::default() };
        assert!(rules.email_allowed(Some("ada@example.COM"), true));
        assert!(!rules.email_allowed(Some("ada@example.com"), false), "unverified");
        assert!(!rules.email_allowed(Some("ada@sub.example.com"), true));
        assert!(!rules.email_allowed(Some("ada@example.com.evil.test"), true));
        assert!(!rules.email_allowed(Some("example.com"), true));
        assert!(!rules.email_allowed(None, true));
        assert!(Rules::default().email_allowed(None, false), "no domain listed: anything");
    }

    #[test]
    fn rules_ask_only_what_they_restrict() {
        assert_eq!(Rules::default().questions(), Questions::NONE);
        assert!(!Rules::default().restricts());
        let closed = Rules { signup: false, ..Rules::default() };
        assert_eq!(closed.questions(), Questions { new_user: true, user: false, link: false });
        let blocked = Rules { blocked: HashSet::from(["u1".to_owned()]), ..Rules::default() };
        assert_eq!(blocked.questions(), Questions { new_user: false, user: true, link: false });
    }
}

/// A question a login must have answered before its plan may be written.
#[derive(Debug, Clone)]
pub(crate) enum Question {
    NewUser,
    User(User),
    Link(User),
}

/// The answers a login has so far, by question.
#[derive(Debug, Clone, Default)]
pub(crate) struct Verdicts {
    new_user: Option<Result<(), Refusal>>,
    users: Vec<(String, Result<(), Refusal>)>,
    links: Vec<(String, Result<(), Refusal>)>,
}

impl Verdicts {
    /// Asks `policy` the question and keeps its answer.
    pub(crate) async fn ask(&mut self, policy: &dyn Policy, question: Question, attempt: &Attempt<'_>) {
        match question {
            Question::NewUser => self.new_user = Some(policy.admit_new_user(attempt).await),
            Question::User(user) => {
                let answer = policy.admit_user(&user, attempt).await;
                self.users.push((user.id, answer));
            }
            Question::Link(user) => {
                let answer = policy.admit_link(&user, attempt).await;
                self.links.push((user.id, answer));
            }
        }
    }

    /// Whether a plan may be written: `Ok` when every question it raises (of those `asks`
    /// names) was answered yes, the refusal when one was answered no, and the first question
    /// not answered yet otherwise.
    pub(crate) fn review(
        &self,
        asks: Questions,
        plan: &LoginPlan,
        snapshot: &Snapshot,
    ) -> Result<(), Result<Refusal, Question>> {
        let answered = |list: &[(String, Result<(), Refusal>)], id: &str| {
            list.iter().find(|(user, _)| user == id).map(|(_, answer)| answer.clone())
        };
        let check = |answer: Option<Result<(), Refusal>>, question: &dyn Fn() -> Question| match answer {
            Some(Ok(())) => Ok(()),
            Some(Err(refusal)) => Err(Ok(refusal)),
            None => Err(Err(question())),
        };
        match &plan.user {
            PlannedUser::Create(_) if asks.new_user => check(self.new_user.clone(), &|| Question::NewUser),
            PlannedUser::Create(_) => Ok(()),
            PlannedUser::Existing { id, .. } => {
                // The decision named a user of the snapshot; a user missing from it was refused.
                let Some(user) = snapshot.user(id) else { return Ok(()) };
                if asks.user {
                    check(answered(&self.users, id), &|| Question::User(user.clone()))?;
                }
                let linking = matches!(plan.identity, Some(PlannedIdentity::Create(_)));
                if linking && asks.link {
                    check(answered(&self.links, id), &|| Question::Link(user.clone()))?;
                }
                Ok(())
            }
        }
    }
}
