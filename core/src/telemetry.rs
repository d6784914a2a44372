//! Logs and metrics shared by both services.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::Value;
use std::sync::{Arc, Mutex, OnceLock};
use tracing::Subscriber;
use tracing::subscriber::{DefaultGuard, NoSubscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

/// Sends JSON log lines to stderr, filtered by `RUST_LOG` (default `info`).
/// Safe to call more than once; only the first call takes effect.
pub fn init_logging() {
    init_logging_or("info");
}

/// As [`init_logging`], with `default` as the filter when `RUST_LOG` is unset.
pub fn init_logging_or(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = json_logs(filter, std::io::stderr).try_init();
}

/// The services' log: one JSON line per event that `filter` lets through,
/// carrying the fields of its span (`span`, e.g. a request's ids) and of
/// every span around it (`spans`), written to `writer`.
fn json_logs<W>(filter: EnvFilter, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

/// For tests: the log lines, as the services write them, of the events on
/// this thread from [`CapturedLogs::start`] until it is dropped. A
/// `#[tokio::test]` runs everything it spawns (a gateway's tasks, a
/// client's) on its one thread, so their lines land here and other tests'
/// do not.
pub struct CapturedLogs {
    lines: Lines,
    _installed: DefaultGuard,
    /// Stands for the other threads, which have no subscriber. While only
    /// one dispatcher is registered, tracing asks just the current thread's
    /// about a callsite seen for the first time; one first reached on
    /// another test's thread would then stay off here too.
    _others: tracing::Dispatch,
}

impl CapturedLogs {
    /// Starts capturing what `filter` (`RUST_LOG` syntax) lets through.
    pub fn start(filter: &str) -> Self {
        let others = tracing::Dispatch::new(NoSubscriber::default());
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = json_logs(EnvFilter::new(filter), move || writer.clone());
        Self {
            lines,
            _installed: tracing::subscriber::set_default(subscriber),
            _others: others,
        }
    }

    /// The lines so far, each parsed.
    pub fn lines(&self) -> Vec<Value> {
        let bytes = self
            .lines
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|line| serde_json::from_str(line).expect("each log line is JSON"))
            .collect()
    }
}

/// Where captured lines go: shared by every writer the subscriber makes.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Buckets of `latchkey_job_latency_seconds`, publish to commit: from a
/// quick credential job to a long mailbox pass.
const JOB_LATENCY_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];

/// The process's Prometheus recorder, installed on first use. Histograms
/// are exported as buckets, so dashboards can take quantiles across
/// replicas.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("latchkey_job_latency_seconds".into()),
                JOB_LATENCY_BUCKETS,
            )
            .expect("the buckets are not empty")
            .install_recorder()
            .expect("the only metrics recorder of the process installs")
    })
}
