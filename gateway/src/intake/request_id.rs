//! Request ids. The gateway makes one for every request and only that one
//! travels on: into the request's log span, the job envelope, the broker
//! headers and the `X-Request-Id` of the answer. An id a client sends in
//! `X-Request-Id` is not trusted with any of that (it could collide with
//! another request's, or carry text meant for a log reader); if it is
//! short and plain it is kept as `client_request_id` in the log span only,
//! to find the request from the client's side.

use crate::problem::ApiError;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

/// The header that carries the server's id in answers (and, from clients,
/// their own).
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client id kept, in bytes.
const CLIENT_ID_MAX: usize = 64;

/// The id the gateway made for a request (a random UUID). As an extractor
/// it reads what [`assign`] put in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(Uuid);

impl RequestId {
    /// The UUID itself, for the broker headers.
    pub fn uuid(self) -> Uuid {
        self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Self>().copied().ok_or_else(|| {
            ApiError::Internal("no request id: the router lacks request_id::assign".into())
        })
    }
}

/// The id a client sent in `X-Request-Id`, if it is 1 to 64 visible ASCII
/// characters; anything else is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ClientRequestId(String);

impl ClientRequestId {
    fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(&HEADER)?.as_bytes();
        let plain = !value.is_empty()
            && value.len() <= CLIENT_ID_MAX
            && value.iter().all(u8::is_ascii_graphic);
        plain.then(|| Self(String::from_utf8_lossy(value).into_owned()))
    }
}

/// Middleware: gives the request a new [`RequestId`] (in its extensions,
/// and in its `X-Request-Id` in place of the client's, so nothing further
/// in reads the client's by mistake), keeps the client's id for the log
/// span, and answers with the server's id in `X-Request-Id`.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = RequestId(Uuid::new_v4());
    let value = HeaderValue::from_str(&id.to_string()).expect("a UUID is a header value");
    if let Some(client) = ClientRequestId::from_headers(request.headers()) {
        request.extensions_mut().insert(client);
    }
    request.headers_mut().insert(HEADER, value.clone());
    request.extensions_mut().insert(id);
    let mut response = next.run(request).await;
    response.headers_mut().insert(HEADER, value);
    response
}

/// The log span of a request, for `TraceLayer::make_span_with`; inside
/// [`assign`] and `client_address::resolve`, so the ids and the client's
/// address are there.
pub fn span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let extensions = request.extensions();
    let client = extensions.get::<ClientRequestId>().map(|id| id.0.as_str());
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        request_id = extensions.get::<RequestId>().map(tracing::field::display),
        client_request_id = client,
        client_address = extensions
            .get::<crate::credentials::ClientAddress>()
            .map(|address| tracing::field::display(address.0)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn client_id(value: &[u8]) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_bytes(value).unwrap());
        ClientRequestId::from_headers(&headers).map(|id| id.0)
    }

    #[test]
    fn a_short_plain_client_id_is_kept_and_anything_else_dropped() {
        assert_eq!(client_id(b"web-7f3a.42").as_deref(), Some("web-7f3a.42"));
        assert_eq!(client_id(&[b'a'; 64]).map(|id| id.len()), Some(64));
        assert_eq!(client_id(&[b'a'; 65]), None, "too long");
        assert_eq!(client_id(b""), None, "empty");
        assert_eq!(client_id(b"two words"), None, "a space");
        assert_eq!(client_id(b"caf\xc3\xa9"), None, "not ASCII");
        assert_eq!(client_id(b"a\tb"), None, "a control character");
    }

    #[tokio::test]
    async fn the_server_makes_the_id_whatever_the_client_sends() {
        let app = Router::new()
            .route(
                "/",
                get(|id: RequestId, headers: HeaderMap| async move {
                    assert_eq!(headers[&HEADER], id.to_string(), "the request carries ours");
                    id.to_string()
                }),
            )
            .layer(axum::middleware::from_fn(assign));
        let request = axum::http::Request::get("/")
            .header(HEADER, "chosen-by-the-client")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let answered = response.headers()[&HEADER].to_str().unwrap().to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(
            answered.as_bytes(),
            body,
            "the handler saw the id the client is told"
        );
        assert!(Uuid::parse_str(&answered).is_ok(), "{answered}");
    }
}
