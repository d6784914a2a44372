//! The operators' endpoints, served on their own listener
//! (`gateway.ops_listen`) and never on the public one: `/healthz`,
//! `/readyz` and `/metrics`. Readiness names the dependency that is down
//! and nothing more; why it is down goes to the log.

use crate::Gateway;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use latchkey_core::readiness::{Dependency, Readiness};
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
async fn ready(State(state): State<Arc<Gateway>>) -> (StatusCode, Json<Readiness>) {
    let (directory, broker) = tokio::join!(state.directory.ping(), state.publisher.ping());
    let readiness = Readiness::default()
        .check(Dependency::Ldap, directory)
        .check(Dependency::Broker, broker);
    (readiness.status(), Json(readiness))
}
