//! The HTTP routes, one file per feature.

pub mod account;
pub mod health;
pub mod jobs;
pub mod password;
pub mod session;

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
/// `Location`, and the job's record as `{"job": ...}`.
pub struct JobAccepted(pub JobRecord);

impl IntoResponse for JobAccepted {
    fn into_response(self) -> Response {
        let location = format!("/api/jobs/{}", self.0.id);
        let body = serde_json::json!({ "job": self.0 });
        (
            StatusCode::ACCEPTED,
            [(header::LOCATION, location)],
            Json(body),
        )
            .into_response()
    }
}
