//! The HTTP routes, one file per feature.

pub mod account;
pub mod app_passwords;
pub mod encryption;
pub mod jobs;
pub mod password;
pub mod session;
pub mod two_factor;

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::broker::RequestId;
use latchkey_core::job::JobRecord;

/// The request id set by the request-id layer, carried into jobs.
pub fn request_id(headers: &HeaderMap) -> RequestId {
    RequestId(
        headers
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
    )
}

/// The answer to a request that became a job: 202, the job's URL in
/// `Location`, and `{"job": ...}` with any fields the route adds (secrets
/// shown once, such as recovery codes).
pub struct JobAccepted {
    record: JobRecord,
    extra: serde_json::Map<String, serde_json::Value>,
}

impl JobAccepted {
    /// The answer for `record`.
    pub fn new(record: JobRecord) -> Self {
        Self {
            record,
            extra: serde_json::Map::new(),
        }
    }

    /// Adds a field beside `job`.
    pub fn with(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }
}

impl IntoResponse for JobAccepted {
    fn into_response(self) -> Response {
        let location = format!("/api/jobs/{}", self.record.id);
        let mut body = self.extra;
        body.insert("job".into(), serde_json::json!(self.record));
        (
            StatusCode::ACCEPTED,
            [(header::LOCATION, location)],
            Json(body),
        )
            .into_response()
    }
}
