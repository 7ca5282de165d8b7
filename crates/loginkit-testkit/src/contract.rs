//! Provider contract tests: a local server standing in for a provider, answering with fixtures
//! shaped like the provider's documented responses, and recording exactly what loginkit sent.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use loginkit_core::url::Url;
use loginkit_core::{
    AccessToken, AuthorizationCode, HttpClient, OAuthProvider, ProviderConfig, ProviderDescriptor, TokenSet,
};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers};

/// A provider stand-in on `127.0.0.1` (over real HTTP).
#[derive(Debug)]
pub struct ContractServer {
    server: MockServer,
}

impl ContractServer {
    /// Starts an empty server; mount answers with [`ContractServer::respond`].
    pub async fn start() -> Self {
        Self { server: MockServer::start().await }
    }

    /// The server's origin, e.g. `http://127.0.0.1:41234/`.
    pub fn uri(&self) -> Url {
        // wiremock always answers with a well-formed `http://127.0.0.1:PORT`.
        Url::parse(&self.server.uri())
            .unwrap_or_else(|_| Url::parse("http://127.0.0.1/").expect("static URL"))
    }

    /// Answers `method path` (path matched exactly, query ignored) with `status`, `content_type`
    /// and `body`.
    pub async fn respond(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) {
        Mock::given(matchers::method(method))
            .and(matchers::path(path))
            .respond_with(ResponseTemplate::new(status).set_body_raw(body.into(), content_type))
            .mount(&self.server)
            .await;
    }

    /// [`ContractServer::respond`] with a JSON body.
    pub async fn respond_json(&self, method: &str, path: &str, status: u16, body: impl Into<Vec<u8>>) {
        self.respond(method, path, status, "application/json", body).await;
    }

    /// [`ContractServer::respond_json`] for one request only; later requests get the next answer
    /// mounted for the path (several logins in one test).
    pub async fn respond_json_once(&self, method: &str, path: &str, status: u16, body: impl Into<Vec<u8>>) {
        Mock::given(matchers::method(method))
            .and(matchers::path(path))
            .respond_with(ResponseTemplate::new(status).set_body_raw(body.into(), "application/json"))
            .up_to_n_times(1)
            .mount(&self.server)
            .await;
    }

    /// Builds `descriptor` with `config`, every endpoint moved onto this server.
    pub fn provider(
        &self,
        descriptor: &'static ProviderDescriptor,
        config: ProviderConfig,
    ) -> Box<dyn OAuthProvider> {
        let http = HttpClient::with_defaults().expect("the HTTP client builds");
        descriptor.instantiate(config.base_url(self.uri()), http).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Publishes `signer`'s key set where `provider` fetches its ID-token keys (nothing for a
    /// provider that verifies no ID tokens) and returns a token fixture with its `id_token`
    /// replaced by one `provider` accepts: signed by `signer`, from the expected issuer, to the
    /// configured client, with `claims` merged in (`tid` picks Microsoft's tenant).
    pub async fn sign_id_token(
        &self,
        provider: &dyn OAuthProvider,
        signer: &crate::TestSigner,
        fixture: &str,
        claims: serde_json::Value,
    ) -> String {
        let Some(check) = provider.standard().id_token_check() else { return fixture.to_owned() };
        let keys = signer.jwks().to_string();
        self.respond_json("GET", check.jwks_url().path(), 200, keys).await;
        let tid = claims.get("tid").and_then(|t| t.as_str());
        let issuer = crate::id_token::expected_issuer(provider, tid).expect("the provider's issuer");
        let client_id = provider.standard().config().client_id.as_str();
        let token = signer.sign(&crate::id_token::claims(&issuer, client_id, &claims));
        let mut value: serde_json::Value = serde_json::from_str(fixture).expect("a JSON token fixture");
        value["id_token"] = token.into();
        value.to_string()
    }

    /// Requests received at `path`, oldest first.
    pub async fn requests_to(&self, path: &str) -> Vec<SentRequest> {
        self.requests().await.into_iter().filter(|r| r.path == path).collect()
    }

    /// Every request received so far, oldest first.
    pub async fn requests(&self) -> Vec<SentRequest> {
        self.server.received_requests().await.unwrap_or_default().iter().map(SentRequest::from).collect()
    }

    /// The one request received; panics (failing the test) when there were none or several.
    pub async fn only_request(&self) -> SentRequest {
        let mut requests = self.requests().await;
        assert_eq!(requests.len(), 1, "expected exactly one request, got {requests:#?}");
        requests.remove(0)
    }
}

/// A request as the provider stand-in received it.
#[derive(Debug, Clone)]
pub struct SentRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// URL path.
    pub path: String,
    /// Query parameters (a repeated name keeps its last value).
    pub query: BTreeMap<String, String>,
    /// Headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// The body decoded as a form (empty when it is not one).
    pub form: BTreeMap<String, String>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl From<&wiremock::Request> for SentRequest {
    fn from(request: &wiremock::Request) -> Self {
        let headers: BTreeMap<String, String> = request
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let is_form =
            headers.get("content-type").is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        Self {
            method: request.method.as_str().to_owned(),
            path: request.url.path().to_owned(),
            query: request.url.query_pairs().into_owned().collect(),
            form: if is_form {
                form_urlencoded::parse(&request.body).into_owned().collect()
            } else {
                BTreeMap::new()
            },
            headers,
            body: request.body.clone(),
        }
    }
}

impl SentRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The body parsed as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The HTTP Basic credentials, decoded as RFC 6749 §2.3.1 prescribes (form-urlencoded parts).
    pub fn basic_auth(&self) -> Option<(String, String)> {
        let encoded = self.header("authorization")?.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        let unescape =
            |s: &str| form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
        Some((unescape(id)?, unescape(secret)?))
    }
}

/// `(name, value)` pairs as the map [`SentRequest`] uses, for exact comparisons.
pub fn pairs(items: &[(&str, &str)]) -> BTreeMap<String, String> {
    items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Reads `tests/fixtures/<name>` of the crate at `crate_dir` (pass `env!("CARGO_MANIFEST_DIR")`).
pub fn fixture(crate_dir: &str, name: &str) -> String {
    let path = Path::new(crate_dir).join("tests").join("fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// The callback URL contract tests use for `provider`.
pub fn redirect_uri(provider: &str) -> Url {
    Url::parse(&format!("https://app.example/v1/account/sessions/oauth2/callback/{provider}/p1"))
        .expect("a valid URL")
}

/// An authorization code as a provider would hand it out.
pub fn code(value: &str) -> AuthorizationCode {
    AuthorizationCode::new(value.to_owned())
}

/// A token set holding only this access token, for user-info tests.
pub fn access(value: &str) -> TokenSet {
    TokenSet::new(AccessToken::new(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_builds_a_sorted_map() {
        let map = pairs(&[("b", "2"), ("a", "1")]);
        assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b"]);
    }
}
