//! A scripted browser for end-to-end tests: keeps cookies, follows redirects one hop at a time,
//! and answers the mock provider's login form.

use std::sync::Arc;

use reqwest::cookie::Jar;
use reqwest::redirect::Policy;
use reqwest::{Method, StatusCode};
use url::Url;

/// What the browser does on the mock provider's login form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormAnswer {
    /// Sign in as this user id and approve.
    Approve(String),
    /// Press Deny.
    Deny,
}

/// One request the browser made and the status it got.
#[derive(Debug, Clone)]
pub struct Hop {
    /// Method.
    pub method: Method,
    /// URL requested.
    pub url: Url,
    /// Status answered.
    pub status: StatusCode,
}

/// Where a walk ended.
#[derive(Debug, Clone)]
pub struct Walk {
    /// The first URL that was not fetched (outside the origins the browser may visit), or the
    /// last URL fetched when a page answered without redirecting.
    pub end: Url,
    /// Status of the last response.
    pub status: StatusCode,
    /// Body of the last response when it was not a redirect.
    pub body: String,
    /// Every request made.
    pub hops: Vec<Hop>,
}

impl Walk {
    /// A query parameter of the end URL.
    pub fn param(&self, name: &str) -> Option<String> {
        self.end.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

/// A cookie-keeping HTTP client that does not follow redirects by itself.
#[derive(Debug, Clone)]
pub struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    /// Origins (`scheme://host:port`) the browser fetches; a redirect elsewhere ends a walk.
    origins: Vec<String>,
    answer: FormAnswer,
    stop_before: Option<String>,
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

impl Browser {
    /// A browser with an empty cookie jar that visits `origins` and approves the mock form as
    /// user `"1"`.
    pub fn new<I: IntoIterator<Item = Url>>(origins: I) -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .expect("a plain HTTP client");
        Self {
            client,
            jar,
            origins: origins.into_iter().map(|u| origin(&u)).collect(),
            answer: FormAnswer::Approve("1".into()),
            stop_before: None,
        }
    }

    /// Makes walks end, without fetching it, at the first URL whose path starts with `prefix`
    /// (e.g. a callback, to replay or tamper with it).
    #[must_use]
    pub fn stopping_before(mut self, prefix: impl Into<String>) -> Self {
        self.stop_before = Some(prefix.into());
        self
    }

    /// Sets what the browser answers on the mock login form.
    #[must_use]
    pub fn answering(mut self, answer: FormAnswer) -> Self {
        self.answer = answer;
        self
    }

    /// The underlying client (shares the cookie jar).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The cookie jar.
    pub fn jar(&self) -> &Arc<Jar> {
        &self.jar
    }

    /// Visits `url` and follows redirects (and the mock login form) until a response is not a
    /// redirect or a redirect leaves the allowed origins.
    pub async fn walk(&self, url: Url) -> Result<Walk, reqwest::Error> {
        let mut hops = Vec::new();
        let mut next = (Method::GET, url, None::<String>);
        for _ in 0..20 {
            let (method, url, body) = next;
            let stop =
                self.stop_before.as_ref().is_some_and(|prefix| url.path().starts_with(prefix.as_str()));
            if stop || !self.origins.contains(&origin(&url)) {
                let status = hops.last().map_or(StatusCode::OK, |h: &Hop| h.status);
                return Ok(Walk { end: url, status, body: String::new(), hops });
            }
            let mut request = self.client.request(method.clone(), url.clone());
            if let Some(body) = body {
                request = request.header("content-type", "application/x-www-form-urlencoded").body(body);
            }
            let response = request.send().await?;
            let status = response.status();
            hops.push(Hop { method, url: url.clone(), status });
            if status.is_redirection() {
                let location =
                    response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
                let target = url.join(location).unwrap_or_else(|_| url.clone());
                next = (Method::GET, target, None);
                continue;
            }
            let body = response.text().await?;
            if let Some(form) = login_form(&body, &self.answer) {
                next = (Method::POST, url.join("authorize").unwrap_or(url.clone()), Some(form));
                continue;
            }
            return Ok(Walk { end: url, status, body, hops });
        }
        panic!("more than 20 redirects");
    }
}

/// The encoded submission of the mock provider's login form, when `html` is that form.
fn login_form(html: &str, answer: &FormAnswer) -> Option<String> {
    if !html.contains("<form method=\"post\" action=\"authorize\">") {
        return None;
    }
    let mut form = form_urlencoded::Serializer::new(String::new());
    for line in html.lines().filter(|l| l.starts_with("<input type=\"hidden\"")) {
        let attr = |name: &str| {
            let start = line.find(&format!("{name}=\""))? + name.len() + 2;
            let end = start + line[start..].find('"')?;
            Some(unescape(&line[start..end]))
        };
        if let (Some(name), Some(value)) = (attr("name"), attr("value")) {
            form.append_pair(&name, &value);
        }
    }
    match answer {
        FormAnswer::Approve(user) => form.append_pair("user", user).append_pair("action", "approve"),
        FormAnswer::Deny => form.append_pair("action", "deny"),
    };
    Some(form.finish())
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
