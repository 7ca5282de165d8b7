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

/// A request a page handler wants the browser to make next.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Method.
    pub method: Method,
    /// URL.
    pub url: Url,
    /// An `application/x-www-form-urlencoded` body.
    pub form: Option<String>,
}

/// Answers a page that is not the mock provider's login form (another provider's login or
/// consent page): `None` ends the walk on that page.
pub type PageHandler = Arc<dyn Fn(&Url, &str) -> Option<Submission> + Send + Sync>;

/// The first `<form>` of a page: its action (resolved against the page URL) and the `name` and
/// `value` of its `<input>` elements (an input without a value has `""`).
pub fn parse_form(page: &Url, html: &str) -> Option<(Url, Vec<(String, String)>)> {
    let start = html.find("<form")?;
    let end = html[start..].find("</form>").map_or(html.len(), |e| start + e);
    let form = &html[start..end];
    let tag_end = form.find('>')?;
    let action = attribute(&form[..tag_end], "action").unwrap_or_default();
    let action = page.join(&action).ok()?;
    let mut fields = Vec::new();
    let mut rest = form;
    while let Some(at) = rest.find("<input") {
        let tag = &rest[at..];
        let close = tag.find('>').unwrap_or(tag.len());
        let tag_text = &tag[..close];
        if let Some(name) = attribute(tag_text, "name") {
            fields.push((name, attribute(tag_text, "value").unwrap_or_default()));
        }
        rest = &tag[close..];
    }
    Some((action, fields))
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
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
#[derive(Clone)]
pub struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    /// Origins (`scheme://host:port`) the browser fetches; a redirect elsewhere ends a walk.
    origins: Vec<String>,
    answer: FormAnswer,
    stop_before: Option<String>,
    pages: Option<PageHandler>,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("origins", &self.origins)
            .field("answer", &self.answer)
            .finish_non_exhaustive()
    }
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
            pages: None,
        }
    }

    /// Answers other pages (another provider's login and consent forms) with `handler`.
    #[must_use]
    pub fn on_page(
        mut self,
        handler: impl Fn(&Url, &str) -> Option<Submission> + Send + Sync + 'static,
    ) -> Self {
        self.pages = Some(Arc::new(handler));
        self
    }

    /// Adds an origin the browser may visit.
    #[must_use]
    pub fn visiting(mut self, url: &Url) -> Self {
        self.origins.push(origin(url));
        self
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
            if let Some(submission) = self.pages.as_ref().and_then(|handler| handler(&url, &body)) {
                next = (submission.method, submission.url, submission.form);
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
        if let (Some(name), Some(value)) = (attribute(line, "name"), attribute(line, "value")) {
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
