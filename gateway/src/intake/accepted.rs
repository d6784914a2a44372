//! The answer to a request that became a job.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::job::JobRecord;

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
