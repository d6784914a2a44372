//! Logs, the audit log and metrics shared by the services.

mod audit_stream;

pub use audit_stream::{send_audit_to, send_audit_to_stderr};

use audit_stream::{AuditLayer, ProcessAuditStream};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::Value;
use std::sync::{Arc, Mutex, OnceLock};
use tracing::Subscriber;
use tracing::subscriber::{DefaultGuard, NoSubscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::Registry;
use tracing_subscriber::util::SubscriberInitExt;

/// Sends JSON log lines to stderr, filtered by `RUST_LOG` (default
/// `info`), and audit lines to standard output until [`send_audit_to`]
/// says otherwise. Safe to call more than once; only the first call takes
/// effect.
pub fn init_logging() {
    init_logging_or("info");
}

/// As [`init_logging`], with `default` as the filter when `RUST_LOG` is unset.
pub fn init_logging_or(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = logs(filter, std::io::stderr, ProcessAuditStream).try_init();
}

/// The services' log and audit log. The log: one JSON line per event
/// that `filter` lets through, but for audit events, carrying the fields
/// of its span (`span`, e.g. a request's ids) and of every span around it
/// (`spans`), written to `log`. The audit log: every audit event, whatever
/// the filter, written to `audit`.
fn logs<L, A>(filter: EnvFilter, log: L, audit: A) -> impl Subscriber + Send + Sync + 'static
where
    L: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
    A: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let not_audit = filter_fn(|metadata| metadata.target() != audit_stream::TARGET);
    // The audit layer sees the spans that carry request ids and client
    // addresses (info and above) and the audit events.
    let audit_and_spans = filter_fn(|metadata| {
        metadata.target() == audit_stream::TARGET
            || (metadata.is_span() && *metadata.level() <= tracing::Level::INFO)
    });
    Registry::default()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_writer(log)
                .with_filter(filter.and(not_audit)),
        )
        .with(AuditLayer::new(audit).with_filter(audit_and_spans))
}

/// For tests: the log and audit lines, as the services write them, of the
/// events on this thread from [`CapturedLogs::start`] until it is dropped. A
/// `#[tokio::test]` runs everything it spawns (a gateway's tasks, a
/// client's) on its one thread, so their lines land here and other tests'
/// do not.
pub struct CapturedLogs {
    lines: Lines,
    audit: Lines,
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
        let (lines, audit) = (Lines::default(), Lines::default());
        let (log_writer, audit_writer) = (lines.clone(), audit.clone());
        let subscriber = logs(
            EnvFilter::new(filter),
            move || log_writer.clone(),
            move || audit_writer.clone(),
        );
        Self {
            lines,
            audit,
            _installed: tracing::subscriber::set_default(subscriber),
            _others: others,
        }
    }

    /// The log lines so far, each parsed.
    pub fn lines(&self) -> Vec<Value> {
        self.lines.parsed()
    }

    /// The audit lines so far, each parsed.
    pub fn audit(&self) -> Vec<Value> {
        self.audit.parsed()
    }
}

/// Where captured lines go: shared by every writer the subscriber makes.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Lines {
    fn parsed(&self) -> Vec<Value> {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is JSON"))
            .collect()
    }
}

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
