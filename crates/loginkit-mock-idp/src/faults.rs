//! Failure injection: which endpoint misbehaves and how.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::Shared;

/// An endpoint of the mock provider, used to target faults and read counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET` and `POST authorize`.
    Authorize,
    /// `POST token`.
    Token,
    /// `GET user` and `GET user-unverified`.
    UserInfo,
    /// `POST revoke`.
    Revoke,
}

/// A misbehaviour to apply to a request instead of (or before) the normal answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// At [`Endpoint::Authorize`], redirect to the request's `redirect_uri`
    /// with `error`, `error_description` and `state`. Elsewhere, answer HTTP
    /// 400 with the same error as a JSON body.
    ErrorRedirect {
        /// The `error` code.
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// Answer with this status, `Content-Type` and body. A status outside
    /// 100..=999 is answered as 500.
    Status {
        /// HTTP status code.
        status: u16,
        /// Value of the `Content-Type` header.
        content_type: String,
        /// Response body.
        body: String,
    },
    /// HTTP 200 whose JSON body is an error object, as GitHub does.
    ErrorWith200 {
        /// The `error` code.
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// HTTP 200 declared as `application/json` whose body is not JSON.
    Garbage,
    /// HTTP 200 `application/json` whose body is exactly `bytes` long
    /// (a JSON string of padding when `bytes >= 2`).
    Oversized {
        /// Body length in bytes.
        bytes: usize,
    },
    /// Sleep, then answer normally.
    Delay(Duration),
    /// HTTP 302 to `location`.
    Redirect {
        /// Value of the `Location` header.
        location: String,
    },
    /// HTTP 200 JSON that looks like a token response but has no `access_token`.
    MissingAccessToken,
}

/// An early answer; boxed because a response is large and errors travel through `?`.
pub(crate) type Rejection = Box<Response>;

/// What a handler must do after consulting the fault queue.
pub(crate) enum FaultOutcome {
    Proceed,
    Respond(Response),
    /// Only produced for [`Endpoint::Authorize`]: the handler knows the redirect target.
    ErrorRedirect {
        error: String,
        description: Option<String>,
    },
}

/// Takes the fault for this request (one-shot before persistent) and acts on it.
pub(crate) async fn apply(shared: &Shared, endpoint: Endpoint) -> FaultOutcome {
    // The lock guard must be gone before any await, hence the separate statement.
    let fault = shared.take_fault(endpoint);
    let Some(fault) = fault else {
        return FaultOutcome::Proceed;
    };
    tracing::debug!(?endpoint, ?fault, "mock idp: applying injected fault");
    match fault {
        Fault::Delay(duration) => {
            tokio::time::sleep(duration).await;
            FaultOutcome::Proceed
        }
        Fault::ErrorRedirect { error, description } if endpoint == Endpoint::Authorize => {
            FaultOutcome::ErrorRedirect { error, description }
        }
        Fault::ErrorRedirect { error, description } => {
            FaultOutcome::Respond(json_error(StatusCode::BAD_REQUEST, &error, description.as_deref()))
        }
        Fault::Status { status, content_type, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, body).into_response();
            match HeaderValue::from_str(&content_type) {
                Ok(value) => {
                    response.headers_mut().insert(header::CONTENT_TYPE, value);
                }
                Err(_) => {
                    response.headers_mut().remove(header::CONTENT_TYPE);
                }
            }
            FaultOutcome::Respond(response)
        }
        Fault::ErrorWith200 { error, description } => {
            FaultOutcome::Respond(json_error(StatusCode::OK, &error, description.as_deref()))
        }
        Fault::Garbage => FaultOutcome::Respond(json_bytes(
            StatusCode::OK,
            b"<html>{\"access_token\": not json at all".to_vec(),
        )),
        Fault::Oversized { bytes } => FaultOutcome::Respond(json_bytes(StatusCode::OK, padding(bytes))),
        Fault::Redirect { location } => FaultOutcome::Respond(match HeaderValue::from_str(&location) {
            Ok(value) => (StatusCode::FOUND, [(header::LOCATION, value)]).into_response(),
            Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "fault location is not a valid header value")
                .into_response(),
        }),
        Fault::MissingAccessToken => {
            let body = serde_json::json!({
                "token_type": "Bearer",
                "expires_in": shared.config.access_token_ttl.as_secs(),
            });
            FaultOutcome::Respond(json_bytes(StatusCode::OK, body.to_string().into_bytes()))
        }
    }
}

/// A body of exactly `bytes` bytes that is still valid JSON, so clients must
/// reject it for its size and not because it fails to parse.
fn padding(bytes: usize) -> Vec<u8> {
    match bytes {
        0 => Vec::new(),
        1 => b"0".to_vec(),
        n => {
            let mut body = vec![b'a'; n];
            body[0] = b'"';
            body[n - 1] = b'"';
            body
        }
    }
}

/// An RFC 6749 §5.2 error body.
pub fn json_error(status: StatusCode, error: &str, description: Option<&str>) -> Response {
    let mut body = serde_json::Map::new();
    body.insert("error".into(), error.into());
    if let Some(description) = description {
        body.insert("error_description".into(), description.into());
    }
    json_bytes(status, serde_json::Value::Object(body).to_string().into_bytes())
}

/// A JSON response that caches nowhere; token-bearing answers require it
/// (RFC 6749 §5.1) and it costs nothing elsewhere.
pub(crate) fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
