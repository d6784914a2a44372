//! The operators' endpoints, served on their own listener
//! (`gateway.ops_listen`) and never on the public one: `/healthz`,
//! `/readyz` and `/metrics`. Readiness names the dependency that is down
//! and nothing more; why it is down goes to the log.

use crate::Gateway;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::sync::Arc;

/// The operators' routes.
pub fn router(state: Arc<Gateway>) -> Router {
    // Installed now, so counters from before the first scrape are kept.
    let metrics = latchkey_core::telemetry::metrics();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(move || async move { metrics.render() }))
        .with_state(state)
}

/// `GET /readyz`: whether the directory and the broker both answer.
async fn ready(State(state): State<Arc<Gateway>>) -> Response {
    let (directory, broker) = tokio::join!(state.directory.ping(), state.publisher.ping());
    readiness([
        ("ldap", directory.map_err(|error| error.to_string())),
        ("broker", broker.map_err(|error| error.to_string())),
    ])
}

/// The answer of `/readyz`.
#[derive(Serialize)]
struct Readiness {
    ready: bool,
    /// The dependencies that failed their check, by name only.
    down: Vec<&'static str>,
}

/// 200 `{"ready":true,"down":[]}`, or 503 naming the dependencies that
/// failed their check; each failure is logged.
fn readiness<const N: usize>(checks: [(&'static str, Result<(), String>); N]) -> Response {
    let mut down = Vec::new();
    for (dependency, checked) in checks {
        if let Err(error) = checked {
            tracing::warn!(dependency, %error, "not ready");
            down.push(dependency);
        }
    }
    let status = if down.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let ready = down.is_empty();
    (status, Json(Readiness { ready, down })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(response: Response) -> (StatusCode, String) {
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn readiness_names_what_is_down_and_keeps_the_error_to_the_log() {
        let refused = "connection refused: ldap://10.1.2.3:389 as cn=latchkey-gateway";
        let (status, body) = answer(readiness([
            ("ldap", Err(refused.into())),
            ("broker", Ok(())),
        ]))
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, r#"{"ready":false,"down":["ldap"]}"#);
    }

    #[tokio::test]
    async fn readiness_is_200_when_everything_answers() {
        let (status, body) = answer(readiness([("ldap", Ok(())), ("broker", Ok(()))])).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, r#"{"ready":true,"down":[]}"#);
    }
}
