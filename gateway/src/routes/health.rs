//! `/healthz`, `/readyz` and `/metrics`.

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use latchkey_core::broker::AmqpPublisher;
use latchkey_core::directory::LdapDirectory;
use std::sync::Arc;

/// `GET /healthz`: the process is alive.
pub async fn alive() -> &'static str {
    "ok"
}

/// `GET /readyz`: the directory and the broker both answer.
pub async fn ready(
    State(state): State<Arc<AppState<LdapDirectory, AmqpPublisher>>>,
) -> (StatusCode, String) {
    if let Err(error) = state.directory.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("directory: {error}"),
        );
    }
    if let Err(error) = state.publisher.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("broker: {error}"));
    }
    (StatusCode::OK, "ready".into())
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics() -> String {
    latchkey_core::telemetry::metrics().render()
}
