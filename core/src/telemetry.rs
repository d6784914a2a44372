//! Logs and metrics shared by both services.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;

/// Sends JSON log lines to stderr, filtered by `RUST_LOG` (default `info`).
/// Safe to call more than once; only the first call takes effect.
pub fn init_logging() {
    init_logging_or("info");
}

/// As [`init_logging`], with `default` as the filter when `RUST_LOG` is unset.
pub fn init_logging_or(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The process's Prometheus recorder, installed on first use.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .install_recorder()
            .expect("the only metrics recorder of the process installs")
    })
}
