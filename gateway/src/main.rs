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
    // The workers declare the queues; the gateway's broker user may only publish.
    if let Err(error) = gateway.publisher.check_topology().await {
        // Serve anyway: requests answer 503 until a worker has declared them.
        tracing::warn!(%error, "the jobs exchange is not there yet: workers declare it when they start");
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
