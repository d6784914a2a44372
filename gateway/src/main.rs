//! The gateway binary: load config, build the pieces, serve until SIGTERM.

use anyhow::Context as _;
use latchkey_core::config::Settings;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    latchkey_core::telemetry::init_logging();
    let file = std::env::var_os("LATCHKEY_CONFIG").map(std::path::PathBuf::from);
    let settings = Settings::load(file.as_deref(), None)?;
    let audit = settings.audit.path.as_deref();
    latchkey_core::telemetry::send_audit_to(audit)
        .with_context(|| format!("opening the audit log {:?} (audit.path)", audit))?;
    let gateway = latchkey_gateway::gateway(&settings)?;
    // The workers declare the queues; the gateway's broker user may only publish.
    if let Err(error) = gateway.publisher.check_topology().await {
        // Serve anyway: requests answer 503 until a worker has declared them.
        tracing::warn!(%error, "the jobs exchange is not there yet: workers declare it when they start");
    }
    let listener = tokio::net::TcpListener::bind(&settings.gateway.listen)
        .await
        .with_context(|| format!("listening on {}", settings.gateway.listen))?;
    let ops_listener = tokio::net::TcpListener::bind(settings.gateway.ops_listen)
        .await
        .with_context(|| {
            format!(
                "listening on {} (gateway.ops_listen)",
                settings.gateway.ops_listen
            )
        })?;
    tracing::info!(listen = %settings.gateway.listen, ops_listen = %settings.gateway.ops_listen, url = %settings.gateway.public_url, "gateway started");
    let ops = latchkey_gateway::serve(
        ops_listener,
        latchkey_gateway::ops::router(Arc::clone(&gateway)),
        std::future::pending(),
    );
    let public = latchkey_gateway::serve(listener, latchkey_gateway::router(gateway), async {
        let mut terminate = signal(SignalKind::terminate()).expect("a SIGTERM handler installs");
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    });
    // The operators' listener answers until the public one has drained.
    tokio::select! {
        served = public => served?,
        served = ops => served?,
    }
    Ok(())
}
