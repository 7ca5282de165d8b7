//! Logins a backend starts for a browser (server-side rendering): bound to the backend, not to a
//! browser cookie, and their token-flow secrets redeemable by that backend alone.

use loginkit::{HttpClient, Registry};
use loginkit_flow::{
    CallbackRequest, Client, Flow, FlowError, Keys, Project, SqliteStore, StartRequest, StateProblem,
    TokenRedemption,
};
use loginkit_testkit::MockIdp;
use url::Url;

async fn flow(idp: &MockIdp) -> Flow {
    let provider = Registry::global()
        .unwrap()
        .instantiate("mock", idp.provider_config(), HttpClient::with_defaults().unwrap())
        .unwrap();
    let project = Project::builder("app")
        .hostnames(["localhost"])
        .enable(provider)
        .success_url("http://localhost/ok")
        .build()
        .unwrap();
    let dir = loginkit_testkit::scratch_dir("backend");
    let store = SqliteStore::open(&format!("sqlite://{}/backend.db", dir.display())).await.unwrap();
    Flow::new(project, store, Keys::from_encoded(&Keys::generate_master()).unwrap())
}

/// Starts a token-flow login as `backend` and walks the provider; the callback's parameters.
async fn walk(flow: &Flow, backend: Option<&str>) -> (Vec<(String, String)>, bool) {
    let callback: Url = "http://127.0.0.1:9/callback".parse().unwrap();
    let started = flow
        .start(&StartRequest { token: true, backend, ..StartRequest::new("mock", &callback) })
        .await
        .unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = http.get(started.location.as_str()).send().await.unwrap();
    let back = Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    (back.query_pairs().into_owned().collect(), started.cookie.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backends_login_needs_no_cookie_and_its_secret_is_the_backends_alone() {
    let idp = MockIdp::start().await.unwrap();
    let flow = flow(&idp).await;
    let client = Client::default();

    // A browser's login without its cookie is refused, as ever.
    let (params, had_cookie) = walk(&flow, None).await;
    assert!(had_cookie);
    let refused = flow.callback(&CallbackRequest::new("mock", &params, &[])).await.unwrap_err();
    assert!(matches!(refused, FlowError::BadState(StateProblem::OtherBrowser)), "{refused:?}");

    // The backend's login: no cookie to set, and a browser without one finishes it.
    let (params, had_cookie) = walk(&flow, Some("ssr")).await;
    assert!(!had_cookie, "no binding cookie for a backend's login");
    let done = flow.callback(&CallbackRequest::new("mock", &params, &[])).await.unwrap();
    assert!(done.error.is_none(), "{:?}", done.error);
    assert!(
        done.cookies.iter().all(|c| !c.name.starts_with("loginkit_state_")),
        "no binding cookie to clear"
    );
    let query: Vec<(String, String)> = done.location.query_pairs().into_owned().collect();
    let value = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
    let (user_id, secret) = (value("userId"), value("secret"));
    let redeem = |backend| TokenRedemption { user_id: &user_id, secret: &secret, backend, client: &client };

    // Anyone else holding the secret (the browser, a caller without the key, another backend)
    // is refused, and the secret stays for its backend.
    let browser = flow.create_session_from_token(&user_id, &secret, &client).await.unwrap_err();
    assert!(matches!(browser, FlowError::InvalidToken), "{browser:?}");
    let other = flow.redeem_token(&redeem(Some("other"))).await.unwrap_err();
    assert!(matches!(other, FlowError::InvalidToken), "{other:?}");
    let session = flow.redeem_token(&redeem(Some("ssr"))).await.unwrap();
    assert_eq!(session.session.user_id, user_id);
    assert!(flow.authenticate(&session.cookie_value).await.unwrap().is_some());
    let again = flow.redeem_token(&redeem(Some("ssr"))).await.unwrap_err();
    assert!(matches!(again, FlowError::InvalidToken), "once only");
}
