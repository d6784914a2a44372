//! The gateway binary: load config, build the pieces, serve until SIGTERM.

use anyhow::Context as _;
use latchkey_core::config::Settings;
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    latchkey_core::telemetry::init_logging();
    let file = std::env::var_os("LATCHKEY_CONFIG").map(std::path::PathBuf::from);
    let settings = Settings::load(file.as_deref(), None)?;
    let gateway = latchkey_gateway::gateway(&settings)?;
    if let Err(error) = gateway.publisher.declare_topology().await {
        // Serve anyway: /readyz reports it, and requests answer 503 until the broker is back.
        tracing::warn!(%error, "could not declare the queues yet");
    }
    let listener = tokio::net::TcpListener::bind(&settings.gateway.listen)
        .await
        .with_context(|| format!("listening on {}", settings.gateway.listen))?;
    tracing::info!(listen = %settings.gateway.listen, url = %settings.gateway.public_url, "gateway started");
    let router = latchkey_gateway::router(gateway);
    latchkey_gateway::serve(listener, router, async {
        let mut terminate = signal(SignalKind::terminate()).expect("a SIGTERM handler installs");
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    })
    .await?;
    Ok(())
}
