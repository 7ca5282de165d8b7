//! How many times a login talks to its database, counted by the store itself (every statement
//! sent, or on SQLite every job of its writer thread): a callback in at most three, an
//! authenticated request in one, on both databases. Logins run through [`Flow`] against the
//! testkit's mock provider over loopback.

use std::sync::Arc;

use loginkit::{HttpClient, Registry};
use loginkit_flow::{CallbackRequest, Client, Flow, Keys, Project, SqliteStore, StartRequest, Store};
use loginkit_testkit::MockIdp;
use url::Url;

/// A flow with the `mock` provider at `idp`, over `store`.
fn flow(idp: &MockIdp, store: Arc<dyn Store>) -> Flow {
    let provider = Registry::global()
        .unwrap()
        .instantiate("mock", idp.provider_config(), HttpClient::with_defaults().unwrap())
        .unwrap();
    let project = Project::builder("app")
        .hostnames(["localhost"])
        .enable(provider)
        .success_url("http://localhost/ok")
        .failure_url("http://localhost/fail")
        .build()
        .unwrap();
    Flow::with_shared_store(project, store, Keys::from_encoded(&Keys::generate_master()).unwrap())
}

/// What the callback receives after the provider approved a login started with `token`.
async fn approved(flow: &Flow, token: bool) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let callback: Url = "http://127.0.0.1:9/callback".parse().unwrap();
    let started = flow.start(&StartRequest { token, ..StartRequest::new("mock", &callback) }).await.unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = http.get(started.location.as_str()).send().await.unwrap();
    let back = Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let params = back.query_pairs().into_owned().collect();
    (
        params,
        vec![{
            let cookie = started.cookie.expect("a browser's login has a binding cookie");
            (cookie.name, cookie.value)
        }],
    )
}

/// Round trips of `work` on `store`.
async fn trips<T>(store: &Arc<dyn Store>, work: impl std::future::Future<Output = T>) -> (u64, T) {
    let before = store.round_trips();
    let out = work.await;
    (store.round_trips() - before, out)
}

async fn count(store: Arc<dyn Store>, expected_callback: u64, expected_redemption: u64) {
    let idp = MockIdp::start().await.unwrap();
    let flow = flow(&idp, store.clone());
    let client = Client::default();

    // A first login (a new user) and a returning one: the same round trips.
    for login in ["first", "returning"] {
        let (params, cookies) = approved(&flow, false).await;
        let request = CallbackRequest { client: &client, ..CallbackRequest::new("mock", &params, &cookies) };
        let (n, done) = trips(&store, flow.callback(&request)).await;
        let done = done.unwrap();
        assert_eq!(done.error.as_ref().map(|e| e.to_string()), None, "{login}");
        assert_eq!(n, expected_callback, "{login} login: round trips of the callback");
        let cookie = done.session.unwrap().cookie_value;
        let (n, signed_in) = trips(&store, flow.authenticate(&cookie)).await;
        let (session, user) = signed_in.unwrap().unwrap();
        assert_eq!(session.user_id, user.id);
        assert_eq!(n, 1, "an authenticated request: session and user in one read");
    }

    // The token flow: the callback, then the secret's redemption.
    let (params, cookies) = approved(&flow, true).await;
    let (n, done) = trips(&store, flow.callback(&CallbackRequest::new("mock", &params, &cookies))).await;
    assert_eq!(n, expected_callback, "token-flow callback");
    let done = done.unwrap();
    let query: Vec<(String, String)> = done.location.query_pairs().into_owned().collect();
    let value = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
    let (n, redeemed) =
        trips(&store, flow.create_session_from_token(&value("userId"), &value("secret"), &client)).await;
    redeemed.unwrap();
    assert_eq!(n, expected_redemption, "redeeming the secret");
}

/// SQLite: consuming the state is one job of the writer, the login's lookup and writes another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_callback_is_two_round_trips_and_a_request_one() {
    let dir = loginkit_testkit::scratch_dir("round-trips");
    let store = SqliteStore::open(&format!("sqlite://{}/trips.db", dir.display())).await.unwrap();
    count(Arc::new(store), 2, 2).await;
}

/// PostgreSQL: consuming the state, the login's lookup, its writes as one statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_callback_is_three_round_trips_and_a_request_one() {
    let database = loginkit_testkit::postgres::TestDatabase::create("trips").await;
    let store = loginkit_flow::PgStore::open(database.url()).await.unwrap();
    count(Arc::new(store), 3, 3).await;
}
