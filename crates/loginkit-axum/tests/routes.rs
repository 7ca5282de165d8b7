//! The axum adapter over real loopback HTTP against the mock identity provider: every route,
//! every cookie it sets or clears and their attributes, the extractor, and its errors.

use axum::routing::get;
use axum::{Json, Router};
use loginkit::Provider;
use loginkit_axum::{LoginKit, SignedIn};
use loginkit_flow::{Flow, Keys, Project, SqliteStore};
use loginkit_testkit::MockIdp;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use url::Url;

struct App {
    base: Url,
    _idp: MockIdp,
    http: reqwest::Client,
}

async fn me(SignedIn { user, session }: SignedIn) -> Json<Value> {
    Json(json!({ "user": user.id, "email": user.email, "provider": session.provider }))
}

async fn guest(signed_in: Option<SignedIn>) -> String {
    signed_in.map_or("guest".to_owned(), |s| s.user.id)
}

/// The app on a free port; `secure` for an https site's cookies.
async fn app(tag: &str, secure: bool) -> App {
    let idp = MockIdp::start().await.unwrap();
    let dir = loginkit_testkit::scratch_dir(tag);
    let store = SqliteStore::open(&format!("sqlite://{}/app.db", dir.display())).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base: Url = format!("http://{}", listener.local_addr().unwrap()).parse().unwrap();
    let project = Project::builder("app")
        .hostnames(["127.0.0.1"])
        .provider(Provider::Mock, idp.provider_config())
        .success_url(base.join("/me").unwrap().as_str())
        .failure_url(base.join("/failed").unwrap().as_str())
        .secure_cookies(secure)
        .build()
        .unwrap();
    let flow = Flow::new(project, store, Keys::from_encoded(&Keys::generate_master()).unwrap());
    let routes = Router::new().route("/me", get(me)).route("/guest", get(guest));
    let app = LoginKit::new(flow, base.as_str()).unwrap().install(routes);
    let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    App { base, _idp: idp, http }
}

/// The `Set-Cookie` values of a response.
fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers.get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

/// `name=value` of the cookie `name` among `Set-Cookie` values.
fn cookie<'a>(set: &'a [String], name: &str) -> Option<&'a str> {
    set.iter().find(|c| c.starts_with(&format!("{name}="))).map(|c| c.split(';').next().unwrap())
}

fn location(headers: &HeaderMap) -> Url {
    Url::parse(headers[LOCATION].to_str().unwrap()).unwrap()
}

impl App {
    fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap()
    }

    /// Starts a login at `path`, lets the provider approve it, and calls back with the binding
    /// cookie (and `extra` cookies): the callback's response.
    async fn login(&self, path: &str, extra: &str) -> reqwest::Response {
        let started = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(started.status(), StatusCode::SEE_OTHER);
        let binding = set_cookies(started.headers()).remove(0);
        let binding = binding.split(';').next().unwrap().to_owned();
        let approved = self.http.get(location(started.headers())).send().await.unwrap();
        let back = location(approved.headers());
        assert!(back.as_str().starts_with(self.url("/auth/mock/callback").as_str()), "{back}");
        self.http.get(back).header(COOKIE, format!("{binding}; {extra}")).send().await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_sets_the_session_cookie_clears_the_binding_one_and_the_extractor_sees_the_user() {
    let app = app("axum-login", false).await;
    let started = app.http.get(app.url("/auth/mock")).send().await.unwrap();
    let binding = set_cookies(started.headers());
    assert_eq!(binding.len(), 1);
    assert!(
        binding[0].contains("HttpOnly")
            && binding[0].contains("SameSite=Lax")
            && binding[0].contains("Path=/")
    );
    assert!(!binding[0].contains("Secure"), "a plain-http site's cookies are not Secure");

    let done = app.login("/auth/mock", "").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(done.headers()).path(), "/me");
    let set = set_cookies(done.headers());
    let cleared =
        set.iter().find(|c| c.starts_with("loginkit_state_")).expect("the binding cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let session = set.iter().find(|c| c.starts_with("loginkit_session=")).expect("a session cookie");
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Max-Age=31536000")
    );
    let session = cookie(&set, "loginkit_session").unwrap();

    let me = app.http.get(app.url("/me")).header(COOKIE, session).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(
        (me["email"].as_str(), me["provider"].as_str()),
        (Some("useroauth@localhost.test"), Some("mock"))
    );
    let guest = app.http.get(app.url("/guest")).send().await.unwrap().text().await.unwrap();
    assert_eq!(guest, "guest");
    let known = app.http.get(app.url("/guest")).header(COOKIE, session).send().await.unwrap();
    assert_eq!(known.text().await.unwrap(), me["user"].as_str().unwrap());

    let anonymous = app.http.get(app.url("/me")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    let forged = app.http.get(app.url("/me")).header(COOKIE, format!("{session}x")).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secure_site_gets_host_prefixed_secure_cookies_and_ignores_the_plain_names() {
    let app = app("axum-secure", true).await;
    let done = app.login("/auth/mock", "").await;
    let set = set_cookies(done.headers());
    assert!(set.iter().all(|c| c.starts_with("__Host-") && c.contains("; Secure")), "{set:?}");
    let session = cookie(&set, "__Host-loginkit_session").expect("the prefixed session cookie").to_owned();
    let ok = app.http.get(app.url("/me")).header(COOKIE, &session).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    // A sibling subdomain can plant `loginkit_session`, never `__Host-loginkit_session`.
    let planted = session.replacen("__Host-", "", 1);
    let refused = app.http.get(app.url("/me")).header(COOKIE, planted).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_reach_the_failure_url_with_a_code_and_bad_requests_get_json() {
    let app = app("axum-failures", false).await;
    let json = |response: reqwest::Response| async move {
        let status = response.status();
        (status, response.json::<Value>().await.unwrap()["error"].as_str().unwrap().to_owned())
    };
    let unknown = app.http.get(app.url("/auth/nope")).send().await.unwrap();
    assert_eq!(json(unknown).await, (StatusCode::NOT_FOUND, "provider_unknown".to_owned()));
    let foreign = app.http.get(app.url("/auth/mock?success=https://evil.test/")).send().await.unwrap();
    assert_eq!(json(foreign).await, (StatusCode::BAD_REQUEST, "invalid_argument".to_owned()));
    for query in ["?next=/", "?token=maybe", "?success=/a&success=/b"] {
        let odd = app.http.get(app.url(&format!("/auth/mock{query}"))).send().await.unwrap();
        assert_eq!(json(odd).await, (StatusCode::BAD_REQUEST, "invalid_argument".to_owned()), "{query}");
    }
    // A callback this browser did not start: refused, nothing to redirect to.
    let forged = app.http.get(app.url("/auth/mock/callback?code=c&state=forged")).send().await.unwrap();
    assert_eq!(json(forged).await, (StatusCode::BAD_REQUEST, "bad_state".to_owned()));
    // The provider's refusal, once the state is trusted: the failure URL with the code.
    let started = app.http.get(app.url("/auth/mock")).send().await.unwrap();
    let binding = set_cookies(started.headers()).remove(0);
    let state = location(started.headers()).query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let mut denied = app.url("/auth/mock/callback");
    denied.query_pairs_mut().append_pair("error", "access_denied").append_pair("state", &state);
    let cookie = binding.split(';').next().unwrap().to_owned();
    let failed = app.http.get(denied).header(COOKIE, cookie).send().await.unwrap();
    assert_eq!(failed.status(), StatusCode::SEE_OTHER);
    let to = location(failed.headers());
    assert_eq!((to.path(), to.query()), ("/failed", Some("error=provider_denied")));
    assert!(set_cookies(failed.headers()).iter().any(|c| c.contains("Max-Age=0")), "binding cleared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_ends_the_session_and_clears_its_cookie() {
    let app = app("axum-sign-out", false).await;
    let done = app.login("/auth/mock", "").await;
    let session = cookie(&set_cookies(done.headers()), "loginkit_session").unwrap().to_owned();
    let out = app.http.post(app.url("/auth/sign-out")).header(COOKIE, &session).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookies(out.headers());
    assert!(cleared[0].starts_with("loginkit_session=;") && cleared[0].contains("Max-Age=0"), "{cleared:?}");
    let after = app.http.get(app.url("/me")).header(COOKIE, &session).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "the session is gone, not only the cookie");
    // `next` is followed only on the allow-list.
    let next = app.http.post(app.url("/auth/sign-out?next=http://127.0.0.1/bye")).send().await.unwrap();
    assert_eq!((next.status(), location(next.headers()).path()), (StatusCode::SEE_OTHER, "/bye"));
    let away = app.http.post(app.url("/auth/sign-out?next=https://evil.test/")).send().await.unwrap();
    assert_eq!(away.status(), StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_post_callback_is_sent_on_to_the_get_route() {
    let app = app("axum-form-post", false).await;
    let posted = app
        .http
        .post(app.url("/auth/mock/callback"))
        .form(&[("code", "c"), ("state", "s+"), ("user", "{\"name\":{}}")])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    let to = posted.headers()[LOCATION].to_str().unwrap();
    assert_eq!(to, "/auth/mock/callback?code=c&state=s%2B&user=%7B%22name%22%3A%7B%7D%7D");
    let huge = app.http.post(app.url("/auth/mock/callback")).body(vec![b'a'; 100_000]).send().await.unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_flow_secret_is_redeemed_once_for_a_session_cookie() {
    let app = app("axum-token", false).await;
    let done = app.login("/auth/mock?token=true", "").await;
    assert!(cookie(&set_cookies(done.headers()), "loginkit_session").is_none(), "no session yet");
    let success = location(done.headers());
    let param = |name: &str| success.query_pairs().find(|(k, _)| k == name).unwrap().1.into_owned();
    let form = [("userId", param("userId")), ("secret", param("secret"))];
    let redeemed = app.http.post(app.url("/auth/token")).form(&form).send().await.unwrap();
    assert_eq!(redeemed.status(), StatusCode::NO_CONTENT);
    let session = cookie(&set_cookies(redeemed.headers()), "loginkit_session").unwrap().to_owned();
    let me = app.http.get(app.url("/me")).header(COOKIE, session).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let again =
        app.http.post(app.url("/auth/token")).json(&json!({"userId": form[0].1, "secret": form[1].1})).send();
    let again = again.await.unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    let garbage = app.http.post(app.url("/auth/token")).body("nonsense").send().await.unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
}
