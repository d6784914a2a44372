//! `/healthz`, `/readyz` and `/metrics` for a worker process, on
//! `worker.listen`. Readiness answers as the gateway's does: it names the
//! dependency that is down and nothing more; why it is down goes to the log.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use latchkey_core::directory::LdapDirectory;
use latchkey_core::readiness::{Dependency, Readiness};
use std::sync::Arc;

/// What readiness checks.
pub struct Probes {
    /// The directory the worker writes to.
    pub directory: LdapDirectory,
    /// Whether the consume loop holds a broker connection.
    pub broker_connected: Box<dyn Fn() -> bool + Send + Sync>,
}

/// The health and metrics routes; `/metrics` renders the recorder the
/// worker installs when it starts.
pub fn router(probes: Arc<Probes>) -> Router {
    let metrics = latchkey_core::telemetry::metrics();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(move || async move { metrics.render() }))
        .with_state(probes)
}

/// `GET /readyz`: whether the directory answers and the consume loop is
/// connected to the broker.
async fn ready(State(probes): State<Arc<Probes>>) -> (StatusCode, Json<Readiness>) {
    let broker = if (probes.broker_connected)() {
        Ok(())
    } else {
        Err("the consume loop has no broker connection")
    };
    let readiness = Readiness::default()
        .check(Dependency::Ldap, probes.directory.ping().await)
        .check(Dependency::Broker, broker);
    (readiness.status(), Json(readiness))
}
