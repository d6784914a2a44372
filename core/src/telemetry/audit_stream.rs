//! Writes the events of target `audit` (see [`crate::audit`]) as lines of
//! one fixed shape, apart from the service log. The request id and the
//! client address are taken from the spans around the event: the
//! gateway's request span, a worker's job span.

use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, RwLock};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The target of audit events.
pub(super) const TARGET: &str = "audit";

/// The span fields an audit line takes from the request or job around it.
#[derive(Debug, Default, Clone)]
struct Origin {
    request_id: Option<String>,
    client_address: Option<String>,
}

impl Visit for Origin {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "request_id" => self.request_id = Some(value.to_owned()),
            "client_address" => self.client_address = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(field.name(), "request_id" | "client_address") {
            self.record_str(field, &format!("{value:?}"));
        }
    }
}

/// An event's own fields, as JSON values.
#[derive(Default)]
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), format!("{value:?}").into());
    }
}

/// One line of the audit log.
#[derive(Serialize)]
struct Line {
    time: String,
    event: Value,
    result: Value,
    account: Value,
    client_address: Option<String>,
    request_id: Option<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    details: Map<String, Value>,
}

/// The layer that writes audit lines to `writer`.
pub(super) struct AuditLayer<W> {
    writer: W,
}

impl<W> AuditLayer<W> {
    pub(super) fn new(writer: W) -> Self {
        Self { writer }
    }
}

impl<S, W> Layer<S> for AuditLayer<W>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'writer> MakeWriter<'writer> + 'static,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let mut origin = Origin::default();
        attributes.record(&mut origin);
        if let Some(span) = context.span(id) {
            span.extensions_mut().insert(origin);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, context: Context<'_, S>) {
        if let Some(span) = context.span(id)
            && let Some(origin) = span.extensions_mut().get_mut::<Origin>()
        {
            values.record(origin);
        }
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut origin = Origin::default();
        for span in context.event_scope(event).into_iter().flatten() {
            if let Some(found) = span.extensions().get::<Origin>() {
                origin.request_id = origin.request_id.or_else(|| found.request_id.clone());
                origin.client_address = origin
                    .client_address
                    .or_else(|| found.client_address.clone());
            }
        }
        let mut details = fields.0;
        let line = Line {
            time: now_rfc3339(),
            event: details.remove("event").unwrap_or(Value::Null),
            result: details.remove("result").unwrap_or(Value::Null),
            account: details.remove("account").unwrap_or(Value::Null),
            client_address: origin.client_address,
            request_id: origin.request_id,
            details,
        };
        let mut bytes = serde_json::to_vec(&line).expect("an audit line serialises");
        bytes.push(b'\n');
        // One write per line: whole lines, even with several writers on one file.
        if let Err(error) = self.writer.make_writer().write_all(&bytes) {
            eprintln!("latchkey: an audit line could not be written: {error}");
        }
    }
}

fn now_rfc3339() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .expect("the time formats")
}

/// Where a process's audit lines go.
#[derive(Clone)]
enum Destination {
    Stdout,
    Stderr,
    File(Arc<File>),
}

/// This process's audit destination: standard output until changed.
static DESTINATION: RwLock<Destination> = RwLock::new(Destination::Stdout);

fn set_destination(destination: Destination) {
    *DESTINATION
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = destination;
}

/// Sends this process's audit lines to `path` (appended to, created with
/// mode 0640), or to standard output when `None`.
pub fn send_audit_to(path: Option<&Path>) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let destination = match path {
        Some(path) => Destination::File(Arc::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .open(path)?,
        )),
        None => Destination::Stdout,
    };
    set_destination(destination);
    Ok(())
}

/// Sends this process's audit lines to standard error, for a command
/// whose standard output is its answer.
pub fn send_audit_to_stderr() {
    set_destination(Destination::Stderr);
}

/// The process's audit destination, as a [`MakeWriter`].
pub(super) struct ProcessAuditStream;

/// A writer to the audit destination of the moment.
pub(super) struct AuditWriter(Destination);

impl Write for AuditWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match &self.0 {
            Destination::Stdout => io::stdout().write(bytes),
            Destination::Stderr => io::stderr().write(bytes),
            Destination::File(file) => (&**file).write(bytes),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        // Under one lock, so lines from several threads never interleave.
        match &self.0 {
            Destination::Stdout => io::stdout().lock().write_all(bytes),
            Destination::Stderr => io::stderr().lock().write_all(bytes),
            Destination::File(file) => (&**file).write_all(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &self.0 {
            Destination::Stdout => io::stdout().flush(),
            Destination::Stderr => io::stderr().flush(),
            Destination::File(file) => (&**file).flush(),
        }
    }
}

impl<'writer> MakeWriter<'writer> for ProcessAuditStream {
    type Writer = AuditWriter;

    fn make_writer(&'writer self) -> AuditWriter {
        let destination = DESTINATION
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        AuditWriter(destination)
    }
}

#[cfg(test)]
mod tests {
    use crate::telemetry::CapturedLogs;

    #[test]
    fn an_audit_event_is_one_line_of_the_fixed_shape_in_its_own_stream() {
        let logs = CapturedLogs::start("info");
        tracing::info_span!("request", request_id = "r-1", client_address = "192.0.2.7").in_scope(
            || {
                tracing::info_span!("inner").in_scope(|| {
                    crate::audit!(
                        PasswordChanged,
                        Success,
                        account = "uid=alice,dc=example",
                        sessions_ended = 2u64
                    );
                });
            },
        );
        tracing::info!("an ordinary line");
        let audit = logs.audit();
        assert_eq!(audit.len(), 1, "{audit:?}");
        let line = &audit[0];
        assert_eq!(line["event"], "password_changed");
        assert_eq!(line["result"], "success");
        assert_eq!(line["account"], "uid=alice,dc=example");
        assert_eq!(line["request_id"], "r-1", "from the span around it");
        assert_eq!(line["client_address"], "192.0.2.7");
        assert_eq!(line["details"], serde_json::json!({"sessions_ended": 2}));
        assert!(
            time::OffsetDateTime::parse(
                line["time"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339
            )
            .is_ok(),
            "{line}"
        );
        let log = logs.lines();
        assert!(
            log.iter().all(|line| line["target"] != "audit"),
            "audit events stay out of the service log: {log:?}"
        );
        assert_eq!(log.len(), 1, "{log:?}");
    }

    #[test]
    fn audit_lines_are_written_whatever_the_log_filter_says() {
        let logs = CapturedLogs::start("off");
        crate::audit!(SignInFailed, Failure);
        let audit = logs.audit();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0]["account"], serde_json::Value::Null);
        assert_eq!(audit[0]["request_id"], serde_json::Value::Null);
    }
}
