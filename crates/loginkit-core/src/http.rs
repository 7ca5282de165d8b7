//! The one HTTP client every provider call goes through.
//!
//! One pooled `reqwest::Client` with redirects disabled (a provider answering with a redirect is an
//! error, never an SSRF hop), connect and total timeouts, a response-size cap, a User-Agent, and a
//! tracing span per call that records the host and path but never the query (it may hold tokens).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tracing::Instrument;
use url::Url;

use crate::error::{Error, Operation, TransportKind};

/// Limits and identity of the outbound HTTP client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole call, body included.
    pub timeout: Duration,
    /// Largest response body accepted.
    pub max_response_bytes: usize,
    /// `User-Agent` sent with every call (GitHub rejects calls without one).
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            max_response_bytes: 1024 * 1024,
            user_agent: concat!("loginkit/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl HttpConfig {
    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the total timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the response-size cap.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }
}

/// Pooled HTTP client for provider calls; cheap to clone (clones share the pool and the
/// observer).
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    max_response_bytes: usize,
    observer: Option<Observer>,
}

/// What [`HttpClient::observed`] reports calls to.
type Observer = Arc<dyn Fn(&ProviderCall) + Send + Sync>;

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("max_response_bytes", &self.max_response_bytes)
            .field("observed", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

/// One finished provider call, as [`HttpClient::observed`] reports it: no URL, no body, nothing
/// secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderCall {
    /// The provider's id.
    pub provider: &'static str,
    /// What the call was for.
    pub operation: Operation,
    /// From sending the request to the whole answer read (or the failure).
    pub elapsed: Duration,
    /// The answer's HTTP status; `None` when there was no usable answer (connection refused,
    /// timeout, a body over the size cap).
    pub status: Option<u16>,
}

/// A provider's answer, fully read and within the size cap.
#[derive(Clone)]
#[non_exhaustive]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// `Cache-Control` header, if any (discovery and JWKS caches honour its `max-age`).
    pub cache_control: Option<String>,
    /// The body.
    pub body: Bytes,
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may carry tokens: only its length is shown.
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("cache_control", &self.cache_control)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl HttpResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl HttpClient {
    /// Builds a client with these limits.
    pub fn new(config: &HttpConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            .pool_idle_timeout(Duration::from_secs(90))
            .build()?;
        Ok(Self { client, max_response_bytes: config.max_response_bytes, observer: None })
    }

    /// The same client (sharing its pool), reporting every finished call to `observer`: how a
    /// server measures provider latency. The observer runs on the calling task: keep it quick.
    pub fn observed(mut self, observer: impl Fn(&ProviderCall) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Builds a client with the default limits (5 s connect, 15 s total, 1 MiB).
    pub fn with_defaults() -> Result<Self, reqwest::Error> {
        Self::new(&HttpConfig::default())
    }

    /// Starts a request; send it with [`HttpClient::send`].
    pub fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends a request and reads the whole answer within the size cap.
    ///
    /// Redirects are refused with [`Error::Redirect`]; other statuses are returned for the caller
    /// to interpret.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        provider: &'static str,
        operation: Operation,
    ) -> Result<HttpResponse, Error> {
        let transport = |kind| Error::Transport { provider, operation, kind };
        let request = request.build().map_err(|_| Error::InvalidRequest {
            provider,
            message: format!("could not build the {operation} request"),
        })?;
        let span = tracing::debug_span!(
            "provider_http",
            provider,
            operation = operation.as_str(),
            method = %request.method(),
            host = request.url().host_str().unwrap_or(""),
            path = request.url().path(),
            status = tracing::field::Empty,
            bytes = tracing::field::Empty,
            elapsed_ms = tracing::field::Empty,
        );
        let limit = self.max_response_bytes;
        let started = Instant::now();
        let result = async move {
            let mut response = self.client.execute(request).await.map_err(|e| transport(classify(&e)))?;
            let status = response.status().as_u16();
            tracing::Span::current().record("status", status);
            if response.status().is_redirection() {
                return Err(Error::Redirect { provider, operation, status });
            }
            if response.content_length().is_some_and(|len| len > limit as u64) {
                return Err(Error::ResponseTooLarge { provider, operation, limit });
            }
            let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let content_type = header(reqwest::header::CONTENT_TYPE);
            let cache_control = header(reqwest::header::CACHE_CONTROL);
            let mut body = BytesMut::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| transport(classify(&e)))? {
                if body.len() + chunk.len() > limit {
                    return Err(Error::ResponseTooLarge { provider, operation, limit });
                }
                body.extend_from_slice(&chunk);
            }
            let span = tracing::Span::current();
            span.record("bytes", body.len());
            span.record("elapsed_ms", started.elapsed().as_millis() as u64);
            tracing::debug!("provider answered");
            Ok(HttpResponse { status, content_type, cache_control, body: body.freeze() })
        }
        .instrument(span)
        .await;
        if let Some(observer) = &self.observer {
            let status = match &result {
                Ok(response) => Some(response.status),
                Err(Error::Redirect { status, .. }) => Some(*status),
                Err(_) => None,
            };
            observer(&ProviderCall { provider, operation, elapsed: started.elapsed(), status });
        }
        result
    }
}

fn classify(error: &reqwest::Error) -> TransportKind {
    if error.is_timeout() {
        TransportKind::Timeout
    } else if error.is_connect() {
        TransportKind::Connect
    } else {
        TransportKind::Io
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    async fn get(client: &HttpClient, url: &str) -> Result<HttpResponse, Error> {
        client
            .send(client.request(reqwest::Method::GET, url.parse().unwrap()), "t", Operation::UserInfo)
            .await
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(302).insert_header("location", "http://169.254.169.254/"))
            .mount(&server)
            .await;
        let client = HttpClient::with_defaults().unwrap();
        let err = get(&client, &server.uri()).await.unwrap_err();
        assert!(matches!(err, Error::Redirect { status: 302, .. }), "{err:?}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn bodies_over_the_cap_are_refused() {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 4096]))
            .mount(&server)
            .await;
        let client = HttpClient::new(&HttpConfig::default().max_response_bytes(1024)).unwrap();
        let err = get(&client, &server.uri()).await.unwrap_err();
        assert!(matches!(err, Error::ResponseTooLarge { limit: 1024, .. }), "{err:?}");
        let roomy = HttpClient::new(&HttpConfig::default().max_response_bytes(8192)).unwrap();
        assert_eq!(get(&roomy, &server.uri()).await.unwrap().body.len(), 4096);
    }

    #[tokio::test]
    async fn slow_providers_time_out() {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .mount(&server)
            .await;
        let client = HttpClient::new(&HttpConfig::default().timeout(Duration::from_millis(200))).unwrap();
        let err = get(&client, &server.uri()).await.unwrap_err();
        assert!(matches!(err, Error::Transport { kind: TransportKind::Timeout, .. }), "{err:?}");
    }

    #[tokio::test]
    async fn refused_connections_are_typed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let client = HttpClient::with_defaults().unwrap();
        let err = get(&client, &format!("http://{addr}/")).await.unwrap_err();
        assert!(matches!(err, Error::Transport { kind: TransportKind::Connect, .. }), "{err:?}");
    }

    #[tokio::test]
    async fn exposes_cache_control() {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).insert_header("cache-control", "public, max-age=300"))
            .mount(&server)
            .await;
        let client = HttpClient::with_defaults().unwrap();
        let response = get(&client, &server.uri()).await.unwrap();
        assert_eq!(response.cache_control.as_deref(), Some("public, max-age=300"));
    }

    #[tokio::test]
    async fn sends_a_user_agent() {
        let server = MockServer::start().await;
        Mock::given(any()).respond_with(ResponseTemplate::new(204)).mount(&server).await;
        let client = HttpClient::with_defaults().unwrap();
        get(&client, &server.uri()).await.unwrap();
        let requests = server.received_requests().await.unwrap();
        let ua = requests[0].headers.get("user-agent").unwrap().to_str().unwrap();
        assert!(ua.starts_with("loginkit/"), "{ua}");
    }

    #[tokio::test]
    async fn an_observer_sees_every_finished_call_with_its_status() {
        let server = MockServer::start().await;
        Mock::given(any()).respond_with(ResponseTemplate::new(503)).mount(&server).await;
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let client = HttpClient::with_defaults().unwrap().observed({
            let seen = seen.clone();
            move |call: &ProviderCall| seen.lock().unwrap().push(*call)
        });
        get(&client, &server.uri()).await.unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        get(&client, &format!("http://{closed}/")).await.unwrap_err();
        let seen = seen.lock().unwrap();
        let statuses: Vec<_> = seen.iter().map(|call| (call.provider, call.operation, call.status)).collect();
        assert_eq!(statuses, [("t", Operation::UserInfo, Some(503)), ("t", Operation::UserInfo, None)]);
        assert!(format!("{client:?}").contains("observed: true"));
    }
}
