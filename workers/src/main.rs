//! The worker binary: load config, build the pieces, consume until SIGTERM.

use anyhow::Context as _;
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::config::Settings;
use latchkey_core::directory::LdapDirectory;
use latchkey_workers::health::{self, Probes};
use latchkey_workers::{Context, Worker, handlers};
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

/// Removes expired app passwords every `interval`, for as long as the worker runs.
async fn sweep_expired_app_passwords(directory: LdapDirectory, interval: std::time::Duration) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        match handlers::sweep_expired(&directory, SystemClock.now()).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "expired app passwords removed"),
            Err(error) => {
                tracing::warn!(%error, "the app-password sweep failed; it runs again later")
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    latchkey_core::telemetry::init_logging();
    // Before anything is counted: what is counted before a recorder is
    // installed is lost.
    latchkey_core::telemetry::metrics();
    let file = std::env::var_os("LATCHKEY_CONFIG").map(std::path::PathBuf::from);
    let settings = Settings::load(file.as_deref(), None)?;
    let audit = settings.audit.path.as_deref();
    latchkey_core::telemetry::send_audit_to(audit)
        .with_context(|| format!("opening the audit log {:?} (audit.path)", audit))?;
    let directory = LdapDirectory::new(&settings.ldap, settings.jobs.ttl_seconds);
    let context = Context::new(&settings, directory.clone(), Arc::new(SystemClock))?;
    let sweep_interval =
        std::time::Duration::from_secs(settings.app_passwords.sweep_interval_seconds.max(1));
    tokio::spawn(sweep_expired_app_passwords(
        directory.clone(),
        sweep_interval,
    ));
    let worker = Worker::new(context, &settings.broker, &settings.worker)?
        .start()
        .await
        .context("starting the worker (is RabbitMQ reachable?)")?;
    let worker = Arc::new(tokio::sync::Mutex::new(Some(worker)));

    let listener = tokio::net::TcpListener::bind(&settings.worker.listen)
        .await
        .with_context(|| format!("listening on {}", settings.worker.listen))?;
    let probe_worker = Arc::clone(&worker);
    let probes = Arc::new(Probes {
        directory,
        broker_connected: Box::new(move || {
            probe_worker
                .try_lock()
                .map(|guard| guard.as_ref().is_some_and(|w| w.is_connected()))
                .unwrap_or(true)
        }),
    });
    tokio::spawn(async move { axum::serve(listener, health::router(probes)).await });
    tracing::info!(listen = %settings.worker.listen, "worker started");

    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("stopping: finishing the jobs in hand");
    if let Some(worker) = worker.lock().await.take() {
        worker.shutdown().await;
    }
    Ok(())
}
