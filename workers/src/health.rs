//! `/healthz`, `/readyz` and `/metrics` for a worker process.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use latchkey_core::directory::LdapDirectory;
use std::sync::Arc;

/// What readiness checks.
pub struct Probes {
    /// The directory the worker writes to.
    pub directory: LdapDirectory,
    /// Whether the consume loop holds a broker connection.
    pub broker_connected: Box<dyn Fn() -> bool + Send + Sync>,
}

/// The health and metrics routes.
pub fn router(probes: Arc<Probes>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route(
            "/metrics",
            get(|| async { latchkey_core::telemetry::metrics().render() }),
        )
        .with_state(probes)
}

async fn ready(State(probes): State<Arc<Probes>>) -> (StatusCode, String) {
    if let Err(error) = probes.directory.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("directory: {error}"),
        );
    }
    if !(probes.broker_connected)() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "broker: not connected".into(),
        );
    }
    (StatusCode::OK, "ready".into())
}
