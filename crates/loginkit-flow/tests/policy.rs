//! A project's [`Policy`]: every question is asked before anything is written, a refusal ends
//! the login at the failure URL with nothing written, only the questions a policy declares are
//! asked, and events follow what was written. Logins run through [`Flow`] against the mock
//! identity provider over loopback, on SQLite.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use loginkit_flow::sqlx::{self, AssertSqlSafe};
use loginkit_flow::{
    Attempt, CallbackRequest, Completed, Event, Flow, FlowError, Keys, NewSession, Policy, Project,
    Questions, Refusal, Rules, Session, SqliteStore, StartRequest, Store, User,
};
use loginkit_testkit::{MockIdp, MockIdpConfig, MockUser};
use url::Url;

/// A store and the mock provider, shared by the flows of one test (each with its own policy).
struct World {
    idp: MockIdp,
    store: Arc<dyn Store>,
    pool: sqlx::SqlitePool,
    master: String,
}

impl World {
    async fn new(tag: &str) -> World {
        let config = MockIdpConfig {
            users: vec![
                user("ada", "ada@corp.test", true),
                user("eve", "eve@other.test", true),
                user("mallory", "mallory@corp.test", false),
            ],
            ..MockIdpConfig::default()
        };
        let idp = MockIdp::start_with(config).await.unwrap();
        let dir = loginkit_testkit::scratch_dir(tag);
        let store = SqliteStore::open(&format!("sqlite://{}/policy.db", dir.display())).await.unwrap();
        let pool = store.pool().clone();
        World { idp, store: Arc::new(store), pool, master: Keys::generate_master().to_string() }
    }

    /// A flow over the shared store with `mock` and `mock-unverified` enabled, under `policy`.
    fn flow(&self, policy: impl Policy) -> Flow {
        let mut project = Project::builder("app").hostnames(["localhost"]).policy(policy);
        for id in [loginkit::Provider::Mock, loginkit::Provider::MockUnverified] {
            project = project.provider(id, self.idp.provider_config());
        }
        let project =
            project.success_url("http://localhost/ok").failure_url("http://localhost/fail").build().unwrap();
        Flow::with_shared_store(project, self.store.clone(), Keys::from_encoded(&self.master).unwrap())
    }

    /// Rows of users, identities, sessions and one-time tokens.
    async fn counts(&self) -> [i64; 4] {
        let mut out = [0; 4];
        for (i, table) in ["users", "identities", "sessions", "tokens"].into_iter().enumerate() {
            let sql = AssertSqlSafe(format!("SELECT COUNT(*) FROM loginkit_{table}"));
            out[i] = sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap();
        }
        out
    }
}

fn user(id: &str, email: &str, verified: bool) -> MockUser {
    MockUser { id: id.into(), name: id.into(), email: email.into(), verified }
}

/// A login of the mock provider's user `who` through `provider`, by a browser signed in with
/// `current` (if any); `token` for the token flow.
async fn login(flow: &Flow, provider: &str, who: &str, current: Option<&Session>, token: bool) -> Completed {
    let callback: Url = "http://127.0.0.1:9/callback".parse().unwrap();
    let started =
        flow.start(&StartRequest { token, ..StartRequest::new(provider, &callback) }).await.unwrap();
    let mut authorize = started.location.clone();
    authorize.query_pairs_mut().append_pair("user", who);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = http.get(authorize.as_str()).send().await.unwrap();
    let back = Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let params: Vec<(String, String)> = back.query_pairs().into_owned().collect();
    let cookies = vec![{
        let cookie = started.cookie.expect("a browser's login has a binding cookie");
        (cookie.name, cookie.value)
    }];
    let request =
        CallbackRequest { current_session: current, ..CallbackRequest::new(provider, &params, &cookies) };
    flow.callback(&request).await.unwrap()
}

/// A session-flow login that must succeed: its session.
async fn signed_in(flow: &Flow, provider: &str, who: &str, current: Option<&Session>) -> Session {
    let done = login(flow, provider, who, current, false).await;
    assert!(done.error.is_none(), "{:?}", done.error);
    done.session.unwrap().session
}

/// The refusal a login ended with, checking it ended at the failure URL.
fn refusal(done: &Completed) -> Refusal {
    assert_eq!(done.location.path(), "/fail");
    assert!(done.session.is_none());
    match &done.error {
        Some(FlowError::Refused(refusal)) => refusal.clone(),
        other => panic!("not a refusal: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_sign_up_refuses_new_users_and_writes_nothing_but_lets_members_in() {
    let world = World::new("policy-signup").await;
    let closed = world.flow(Rules { signup: false, ..Rules::default() });
    for token in [false, true] {
        let done = login(&closed, "mock", "ada", None, token).await;
        assert_eq!(refusal(&done), Refusal::SignUpClosed);
        assert!(!done.location.query_pairs().any(|(k, _)| k == "secret"), "no secret handed out");
        assert_eq!(world.counts().await, [0, 0, 0, 0], "token flow: {token}");
    }
    // Ada signs up while sign-up is open; once closed, she still signs in, and so does a new
    // provider of hers linked from her session.
    let ada = signed_in(&world.flow(Rules::default()), "mock", "ada", None).await;
    let again = signed_in(&closed, "mock", "ada", None).await;
    assert_eq!(again.user_id, ada.user_id);
    let linked = signed_in(&closed, "mock-unverified", "ada", Some(&again)).await;
    assert_eq!(linked.user_id, ada.user_id);
    assert_eq!(world.counts().await[..2], [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_email_domains_admit_only_provider_verified_addresses_in_them() {
    let world = World::new("policy-domains").await;
    let flow = world.flow(Rules { allowed_email_domains: vec!["corp.test".into()], ..Rules::default() });
    assert_eq!(refusal(&login(&flow, "mock", "eve", None, false).await), Refusal::EmailDomainNotAllowed);
    assert_eq!(
        refusal(&login(&flow, "mock", "mallory", None, false).await),
        Refusal::EmailDomainNotAllowed,
        "an unverified address in the domain proves nothing"
    );
    // Ada's address is verified by `mock`, not by `mock-unverified`.
    assert_eq!(
        refusal(&login(&flow, "mock-unverified", "ada", None, false).await),
        Refusal::EmailDomainNotAllowed
    );
    assert_eq!(world.counts().await, [0, 0, 0, 0]);
    signed_in(&flow, "mock", "ada", None).await;
    assert_eq!(world.counts().await, [1, 1, 1, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_user_cannot_sign_in_and_nothing_is_written() {
    let world = World::new("policy-blocked").await;
    let done = login(&world.flow(Rules::default()), "mock", "ada", None, false).await;
    let NewSession { session: ada, cookie_value } = done.session.unwrap();
    let before = world.counts().await;
    let blocking = world.flow(Rules { blocked: HashSet::from([ada.user_id.clone()]), ..Rules::default() });
    // Her session, already out, is refused on its next request.
    assert!(matches!(blocking.authenticate(&cookie_value).await, Err(FlowError::Refused(Refusal::Blocked))));
    assert!(world.flow(Rules::default()).authenticate(&cookie_value).await.unwrap().is_some());
    for token in [false, true] {
        assert_eq!(refusal(&login(&blocking, "mock", "ada", None, token).await), Refusal::Blocked);
    }
    // Nor through another provider whose verified email leads to her.
    assert_eq!(world.counts().await, before);
    let eve = signed_in(&blocking, "mock", "eve", None).await;
    assert_ne!(eve.user_id, ada.user_id, "others sign in");
}

/// Records every question and event, and refuses the questions named in `refuse`.
#[derive(Default)]
struct Recorder {
    questions: Option<Questions>,
    refuse: Mutex<HashSet<&'static str>>,
    asked: Mutex<Vec<String>>,
    events: Mutex<Vec<String>>,
}

#[derive(Clone, Default)]
struct Recording(Arc<Recorder>);

impl Recording {
    fn asking(questions: Questions) -> Self {
        Recording(Arc::new(Recorder { questions: Some(questions), ..Recorder::default() }))
    }
    fn refuse(&self, question: &'static str) {
        self.0.refuse.lock().unwrap().insert(question);
    }
    fn admit_all(&self) {
        self.0.refuse.lock().unwrap().clear();
    }
    fn asked(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.asked.lock().unwrap())
    }
    fn events(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.events.lock().unwrap())
    }
    fn answer(&self, question: &'static str, about: String) -> Result<(), Refusal> {
        self.0.asked.lock().unwrap().push(format!("{question} {about}"));
        match self.0.refuse.lock().unwrap().contains(question) {
            true => Err(Refusal::Other(format!("no {question}"))),
            false => Ok(()),
        }
    }
}

#[async_trait]
impl Policy for Recording {
    fn questions(&self) -> Questions {
        self.0.questions.unwrap_or(Questions::ALL)
    }
    async fn admit_new_user(&self, attempt: &Attempt<'_>) -> Result<(), Refusal> {
        self.answer("new_user", format!("{}:{}", attempt.provider, attempt.provider_uid))
    }
    async fn admit_user(&self, user: &User, attempt: &Attempt<'_>) -> Result<(), Refusal> {
        self.answer("user", format!("{} via {}", user.name, attempt.provider))
    }
    async fn admit_link(&self, user: &User, attempt: &Attempt<'_>) -> Result<(), Refusal> {
        self.answer("link", format!("{} via {}", user.name, attempt.provider))
    }
    async fn on_event(&self, event: &Event<'_>) {
        let line = match event {
            Event::SignedIn { provider, provider_uid, new_user, .. } => {
                format!("signed in {provider}:{provider_uid} new={new_user}")
            }
            Event::Linked { provider, provider_uid, .. } => format!("linked {provider}:{provider_uid}"),
            Event::Unlinked { identity, .. } => {
                format!("unlinked {}:{}", identity.provider, identity.provider_uid)
            }
            Event::SignedOut { session, .. } => {
                format!("signed out {}", if session.is_some() { "one" } else { "all" })
            }
            _ => "other".into(),
        };
        self.0.events.lock().unwrap().push(line);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_question_is_asked_before_writing_and_a_refusal_writes_nothing() {
    let world = World::new("policy-questions").await;
    let policy = Recording::default();
    let flow = world.flow(policy.clone());

    policy.refuse("new_user");
    assert!(matches!(refusal(&login(&flow, "mock", "ada", None, false).await), Refusal::Other(_)));
    assert_eq!(policy.asked(), ["new_user mock:ada"]);
    assert_eq!(world.counts().await, [0, 0, 0, 0]);
    assert_eq!(policy.events(), Vec::<String>::new(), "nothing happened");

    policy.admit_all();
    let ada = signed_in(&flow, "mock", "ada", None).await;
    assert_eq!(policy.asked(), ["new_user mock:ada"]);

    policy.refuse("user");
    assert!(matches!(refusal(&login(&flow, "mock", "ada", None, false).await), Refusal::Other(_)));
    assert_eq!(policy.asked(), ["user ada via mock"]);
    assert_eq!(world.counts().await, [1, 1, 1, 0]);

    // Linking a provider from her session: her admission, then the link's.
    policy.admit_all();
    policy.refuse("link");
    let refused = login(&flow, "mock-unverified", "ada", Some(&ada), false).await;
    assert_eq!(refusal(&refused), Refusal::Other("no link".into()));
    assert_eq!(policy.asked(), ["user ada via mock-unverified", "link ada via mock-unverified"]);
    assert_eq!(world.counts().await, [1, 1, 1, 0], "no identity, and her session stays");

    policy.admit_all();
    let linked = signed_in(&flow, "mock-unverified", "ada", Some(&ada)).await;
    assert_eq!(linked.user_id, ada.user_id);
    assert_eq!(policy.asked(), ["user ada via mock-unverified", "link ada via mock-unverified"]);
    assert_eq!(world.counts().await[..3], [1, 2, 1], "linked; the new session replaced her old one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_follow_what_was_written() {
    let world = World::new("policy-events").await;
    let policy = Recording::asking(Questions::NONE);
    let flow = world.flow(policy.clone());

    let first = signed_in(&flow, "mock", "ada", None).await;
    let second = signed_in(&flow, "mock", "ada", None).await;
    let linked = signed_in(&flow, "mock-unverified", "ada", Some(&second)).await;
    assert_eq!(
        policy.events(),
        [
            "signed in mock:ada new=true",
            "signed in mock:ada new=false",
            "signed in mock-unverified:ada new=false",
            "linked mock-unverified:ada",
        ]
    );
    let user = linked.user_id.clone();
    let identity =
        flow.identities(&user).await.unwrap().into_iter().find(|i| i.provider == "mock-unverified");
    flow.delete_identity(&user, &identity.unwrap().id).await.unwrap();
    flow.delete_session(&user, &first.id).await.unwrap();
    flow.delete_sessions(&user).await.unwrap();
    assert_eq!(policy.events(), ["unlinked mock-unverified:ada", "signed out one", "signed out all"]);

    // What did not happen is not told.
    assert!(flow.delete_identity(&user, "nope").await.is_err());
    assert!(flow.delete_session(&user, &first.id).await.is_err());
    assert_eq!(policy.events(), Vec::<String>::new());
    assert_eq!(policy.asked(), Vec::<String>::new(), "a policy asking nothing is asked nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_asks_only_the_questions_a_policy_declares_and_pays_a_read_for_each() {
    let world = World::new("policy-cost").await;
    let quiet = world.flow(Recording::asking(Questions::NONE));
    let trips = |store: &Arc<dyn Store>| store.round_trips();
    let before = trips(&world.store);
    signed_in(&quiet, "mock", "ada", None).await;
    let unasked = trips(&world.store) - before;

    let policy = Recording::asking(Questions { new_user: false, user: true, link: false });
    let asking = world.flow(policy.clone());
    let before = trips(&world.store);
    signed_in(&asking, "mock", "ada", None).await;
    assert_eq!(trips(&world.store) - before, unasked + 1, "one more read for the question");
    assert_eq!(policy.asked(), ["user ada via mock"]);
    signed_in(&asking, "mock", "eve", None).await;
    assert_eq!(policy.asked(), Vec::<String>::new(), "a new user is not asked about");
}
