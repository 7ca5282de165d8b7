//! The provider-token lifecycle through [`Flow`] against the mock identity provider over
//! loopback: a valid access token on demand (refreshed near expiry, once at a time however
//! many ask), and revocation at the provider on sign-out and unlink, retried while the
//! provider is down.

use std::sync::Arc;
use std::time::Duration;

use loginkit::Provider;
use loginkit_flow::{CallbackRequest, Flow, Keys, Project, Session, SqliteStore, StartRequest, Store};
use loginkit_testkit::{Endpoint, Fault, MockIdp, MockIdpConfig};
use url::Url;

struct World {
    idp: MockIdp,
    flow: Flow,
}

/// A flow with `mock` at a mock provider whose access tokens last `ttl`.
async fn world(tag: &str, ttl: Duration) -> World {
    world_with(tag, ttl, |project| project).await
}

/// Like [`world`], with the project's builder adjusted by `adjust`.
async fn world_with(
    tag: &str,
    ttl: Duration,
    adjust: impl FnOnce(loginkit_flow::ProjectBuilder<'static>) -> loginkit_flow::ProjectBuilder<'static>,
) -> World {
    let idp = MockIdp::start_with(MockIdpConfig { access_token_ttl: ttl, ..MockIdpConfig::default() })
        .await
        .unwrap();
    let dir = loginkit_testkit::scratch_dir(tag);
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&format!("sqlite://{}/tokens.db", dir.display())).await.unwrap());
    let project = Project::builder("app")
        .hostnames(["localhost"])
        .provider(Provider::Mock, idp.provider_config())
        .success_url("http://localhost/ok");
    let project = adjust(project).build().unwrap();
    let flow = Flow::with_shared_store(project, store, Keys::from_encoded(&Keys::generate_master()).unwrap());
    World { idp, flow }
}

/// A session-flow login of the mock provider's default user.
async fn sign_in(flow: &Flow) -> Session {
    let callback: Url = "http://127.0.0.1:9/callback".parse().unwrap();
    let started = flow.start(&StartRequest::new("mock", &callback)).await.unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = http.get(started.location.as_str()).send().await.unwrap();
    let back = Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let params: Vec<(String, String)> = back.query_pairs().into_owned().collect();
    let cookies = vec![{
        let cookie = started.cookie.expect("a browser's login has a binding cookie");
        (cookie.name, cookie.value)
    }];
    let done = flow.callback(&CallbackRequest::new("mock", &params, &cookies)).await.unwrap();
    assert!(done.error.is_none(), "{:?}", done.error);
    done.session.unwrap().session
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_access_token_is_handed_out_as_it_is() {
    let w = world("tokens-fresh", Duration::from_secs(3600)).await;
    let session = sign_in(&w.flow).await;
    let exchanges = w.idp.handle().hits(Endpoint::Token);
    let token = w.flow.session_access_token(&session).await.unwrap();
    assert_eq!(token.access_token, w.flow.session_tokens(&session).access_token);
    assert_eq!(w.idp.handle().hits(Endpoint::Token), exchanges, "no refresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_near_expiry_is_refreshed_once_however_many_ask_at_once() {
    // Tokens last 30 s: always within the refresh margin.
    let w = world("tokens-single-flight", Duration::from_secs(30)).await;
    let session = sign_in(&w.flow).await;
    let before = w.flow.session_tokens(&session).access_token.unwrap();
    let exchanges = w.idp.handle().hits(Endpoint::Token);
    // The refresh takes a while, so all twelve ask while it runs (tokens that last 30 s are
    // always due: one asking after it ended would rightly refresh again).
    w.idp.handle().inject(Endpoint::Token, Fault::Delay(Duration::from_millis(800)));
    let asks: Vec<_> = (0..12)
        .map(|_| {
            let (flow, session) = (w.flow.clone(), session.clone());
            tokio::spawn(async move { flow.session_access_token(&session).await.unwrap() })
        })
        .collect();
    let mut tokens = Vec::new();
    for ask in asks {
        tokens.push(ask.await.unwrap().access_token.unwrap());
    }
    assert_eq!(w.idp.handle().hits(Endpoint::Token) - exchanges, 1, "one refresh reached the provider");
    assert!(tokens.iter().all(|t| *t == tokens[0] && *t != before), "everyone got the one new token");

    // The same through the identity, with no session involved.
    let identity = w.flow.identities(&session.user_id).await.unwrap().remove(0);
    w.idp.handle().inject(Endpoint::Token, Fault::Delay(Duration::from_millis(800)));
    let asks: Vec<_> = (0..6)
        .map(|_| {
            let (flow, user, id) = (w.flow.clone(), session.user_id.clone(), identity.id.clone());
            tokio::spawn(async move { flow.identity_access_token(&user, &id).await.unwrap() })
        })
        .collect();
    let mut again = Vec::new();
    for ask in asks {
        again.push(ask.await.unwrap().access_token.unwrap());
    }
    assert_eq!(w.idp.handle().hits(Endpoint::Token) - exchanges, 2, "one more refresh");
    assert!(again.iter().all(|t| *t == again[0] && *t != tokens[0]));
    let stored = w.flow.identities(&session.user_id).await.unwrap().remove(0);
    assert_eq!(w.flow.identity_tokens(&stored).access_token.as_deref(), Some(again[0].as_str()));
    assert!(matches!(
        w.flow.identity_access_token(&session.user_id, "nope").await,
        Err(loginkit_flow::FlowError::IdentityNotFound)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_is_an_error_not_a_stale_token() {
    let w = world("tokens-refused", Duration::from_secs(30)).await;
    let session = sign_in(&w.flow).await;
    w.idp
        .handle()
        .inject(Endpoint::Token, Fault::ErrorRedirect { error: "invalid_grant".into(), description: None });
    let refused = w.flow.session_access_token(&session).await;
    assert!(matches!(refused, Err(loginkit_flow::FlowError::RefreshRefused { .. })), "{refused:?}");
}

/// Waits (at most ten seconds) until the background's first attempts are recorded: every
/// queued revocation either gone or attempted at least once. Returns the queue.
async fn first_attempts_done(flow: &Flow) -> Vec<loginkit_flow::Revocation> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let whenever = loginkit_flow::Timestamp::from_millis(i64::MAX / 2);
    loop {
        let queued = flow.store().due_revocations(whenever, 100).await.unwrap();
        if queued.iter().all(|r| r.attempts > 0) {
            return queued;
        }
        assert!(std::time::Instant::now() < deadline, "the first attempts never finished: {queued:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_revokes_the_logins_tokens_at_the_provider() {
    let w = world("tokens-sign-out", Duration::from_secs(3600)).await;
    let session = sign_in(&w.flow).await;
    let tokens = w.flow.session_tokens(&session);
    w.flow.delete_session(&session.user_id, &session.id).await.unwrap();
    assert_eq!(first_attempts_done(&w.flow).await, [], "revoked: nothing left owed");
    assert_eq!(w.idp.handle().hits(Endpoint::Revoke), 2);
    let last = w.idp.handle().last_request(Endpoint::Revoke).unwrap();
    assert_eq!(
        last.form_value("token"),
        tokens.access_token.as_deref(),
        "the refresh token, then the access token"
    );
    assert_eq!(last.form_value("token_type_hint"), Some("access_token"));

    assert_eq!(w.flow.revoke_pending().await.unwrap(), loginkit_flow::Revoked::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_is_down_gets_its_revocations_later_and_unlinking_revokes_too() {
    let w =
        world_with("tokens-retry", Duration::from_secs(3600), |p| p.revocation_backoff(Duration::ZERO)).await;
    let session = sign_in(&w.flow).await;
    let busy = Fault::Status { status: 503, content_type: "text/plain".into(), body: "down".into() };
    w.idp.handle().inject_always(Endpoint::Revoke, busy);
    let identity = w.flow.identities(&session.user_id).await.unwrap().remove(0);
    w.flow.delete_identity(&session.user_id, &identity.id).await.unwrap();
    assert_eq!(first_attempts_done(&w.flow).await.len(), 2, "both tokens stay owed");
    assert_eq!(w.idp.handle().hits(Endpoint::Revoke), 2);

    let later = w.flow.revoke_pending().await.unwrap();
    assert_eq!((later.revoked, later.postponed, later.dropped), (0, 2, 0), "still down: kept");
    w.idp.handle().clear_faults();
    let up = w.flow.revoke_pending().await.unwrap();
    assert_eq!((up.revoked, up.postponed, up.dropped), (2, 0, 0));
    assert_eq!(w.flow.revoke_pending().await.unwrap(), loginkit_flow::Revoked::default(), "done once");
    assert_eq!(w.idp.handle().hits(Endpoint::Revoke), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_final_and_a_project_may_keep_provider_tokens_alive() {
    let w = world_with("tokens-refusal", Duration::from_secs(3600), |p| p.revocation_backoff(Duration::ZERO))
        .await;
    let session = sign_in(&w.flow).await;
    let refused = Fault::Status {
        status: 400,
        content_type: "application/json".into(),
        body: "{\"error\":\"invalid_request\"}".into(),
    };
    w.idp.handle().inject_always(Endpoint::Revoke, refused);
    w.flow.delete_sessions(&session.user_id).await.unwrap();
    assert_eq!(first_attempts_done(&w.flow).await, [], "refused: given up");
    assert_eq!(w.idp.handle().hits(Endpoint::Revoke), 2);

    assert_eq!(
        w.flow.revoke_pending().await.unwrap(),
        loginkit_flow::Revoked::default(),
        "refused: given up"
    );

    let kept =
        world_with("tokens-kept", Duration::from_secs(3600), |p| p.revoke_provider_tokens(false)).await;
    let session = sign_in(&kept.flow).await;
    kept.flow.delete_session(&session.user_id, &session.id).await.unwrap();
    assert_eq!(first_attempts_done(&kept.flow).await, [], "nothing queued");
    assert_eq!(kept.idp.handle().hits(Endpoint::Revoke), 0);
}
