//! What the tool prints: aligned tables and key-value lists for people,
//! JSON for scripts (one document per command, the same fields).

use crate::failed::ParkedMessage;
use latchkey_core::domain::{Dn, JobId};
use latchkey_core::job::{JobKind, JobRecord};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A job record with its owner, which the API's form leaves out.
#[derive(Debug, Serialize)]
pub struct JobView<'a> {
    #[serde(flatten)]
    record: &'a JobRecord,
    account: &'a Dn,
}

impl<'a> From<&'a JobRecord> for JobView<'a> {
    fn from(record: &'a JobRecord) -> Self {
        Self {
            record,
            account: &record.owner,
        }
    }
}

/// A parked message as the tool shows it; never its body, which may hold
/// sealed secrets.
#[derive(Debug, Serialize)]
pub struct ParkedView<'a> {
    message: &'a str,
    job: Option<JobId>,
    kind: Option<JobKind>,
    account: Option<&'a Dn>,
    queue: Option<&'static str>,
    #[serde(with = "time::serde::rfc3339::option")]
    parked_at: Option<OffsetDateTime>,
    reason: Option<&'a str>,
    request_id: Option<&'a str>,
    bytes: usize,
}

impl<'a> From<&'a ParkedMessage> for ParkedView<'a> {
    fn from(message: &'a ParkedMessage) -> Self {
        let parking = &message.parking;
        Self {
            message: message.id.as_str(),
            job: parking.job,
            kind: parking.kind,
            account: parking.account.as_ref(),
            queue: message.home().map(|queue| queue.name()),
            parked_at: parking.at,
            reason: parking.reason.as_deref(),
            request_id: message.request_id.as_deref(),
            bytes: message.body.len(),
        }
    }
}

/// What became of one parked message a command settled (or could not).
#[derive(Debug, Serialize)]
pub struct Settled {
    /// `requeued`, `discarded` or `left`.
    pub action: &'static str,
    /// The message.
    pub message: String,
    /// Its job, if it names one.
    pub job: Option<JobId>,
    /// Where it went (requeued), or why it stayed (left).
    pub detail: String,
}

/// `value` as pretty JSON and a newline.
pub fn json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("views serialise");
    text.push('\n');
    text
}

/// Job records as a table, one line each.
pub fn jobs_table(records: &[JobRecord]) -> String {
    if records.is_empty() {
        return "no job records match\n".into();
    }
    let rows = records.iter().map(|record| {
        vec![
            record.id.to_string(),
            record.kind.as_str().to_owned(),
            record.state.as_str().to_owned(),
            record.attempts.to_string(),
            moment(record.updated),
            record.owner.to_string(),
        ]
    });
    let header = ["ID", "KIND", "STATE", "ATTEMPTS", "UPDATED", "ACCOUNT"];
    table(&header, rows.collect())
}

/// One job record, a field a line.
pub fn job_details(record: &JobRecord) -> String {
    let skipped: Vec<String> = record
        .skipped
        .iter()
        .map(|(reason, count)| format!("{reason}={count}"))
        .collect();
    let fields = [
        ("id", record.id.to_string()),
        ("kind", record.kind.as_str().to_owned()),
        ("state", record.state.as_str().to_owned()),
        ("account", record.owner.to_string()),
        ("progress", format!("{} of {}", record.done, record.total)),
        ("skipped", or_dash(skipped.join(", "))),
        ("attempts", record.attempts.to_string()),
        ("error", or_dash(record.error.clone().unwrap_or_default())),
        ("created", moment(record.created)),
        ("updated", moment(record.updated)),
    ];
    key_values(&fields)
}

/// Parked messages as a table, in the order the queue gave them.
pub fn parked_table(queue: &str, messages: &[ParkedMessage]) -> String {
    if messages.is_empty() {
        return format!("no messages are parked in {queue}\n");
    }
    let rows = messages.iter().map(|message| {
        let parking = &message.parking;
        vec![
            message.id.to_string(),
            optional(parking.job),
            optional(parking.kind.map(|kind| kind.as_str())),
            optional(message.home().map(|queue| queue.name())),
            optional(parking.at.map(moment)),
            optional(parking.account.as_ref()),
            optional(parking.reason.as_deref()),
        ]
    });
    let header = [
        "MESSAGE", "JOB", "KIND", "FROM", "PARKED", "ACCOUNT", "REASON",
    ];
    table(&header, rows.collect())
}

/// What a requeue or discard did, a message a line.
pub fn settled_lines(settled: &[Settled]) -> String {
    let lines = settled.iter().map(|settled| {
        let job = settled
            .job
            .map(|job| format!(" (job {job})"))
            .unwrap_or_default();
        format!(
            "{} {}{job}: {}\n",
            settled.action, settled.message, settled.detail
        )
    });
    lines.collect()
}

/// `rows` under `header`, columns two spaces apart; the last is not padded.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|title| title.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = header.iter().map(|title| (*title).to_owned()).collect();
    let mut text = String::new();
    for row in std::iter::once(header).chain(rows) {
        let last = row.len().saturating_sub(1);
        for (column, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if column == last {
                text.push_str(cell);
            } else {
                let padding = width - cell.chars().count();
                text.push_str(cell);
                text.push_str(&" ".repeat(padding + 2));
            }
        }
        text.push('\n');
    }
    text
}

fn key_values(fields: &[(&str, String)]) -> String {
    // Every key takes a colon.
    let width = fields
        .iter()
        .map(|(key, _)| key.len() + 1)
        .max()
        .unwrap_or(0);
    let lines = fields
        .iter()
        .map(|(key, value)| format!("{:<width$}  {value}\n", format!("{key}:")));
    lines.collect()
}

/// A time to the second, in UTC.
fn moment(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

fn optional(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::job::JobState;
    use time::macros::datetime;

    fn record() -> JobRecord {
        let mut record = JobRecord::queued(
            JobId::parse("0190b7b4-8d3e-7000-8000-000000000001").unwrap(),
            JobKind::EncryptMailbox,
            Dn::from_directory("uid=alice,ou=people,dc=example,dc=org"),
            12,
            datetime!(2026-03-01 12:30:05.25 UTC),
        );
        record.state = JobState::Succeeded;
        record.done = 12;
        record.skipped.insert("pgp-mime".into(), 2);
        record
    }

    #[test]
    fn a_table_aligns_its_columns() {
        let text = jobs_table(&[record()]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let column = |line: &str| line.find("encrypt_mailbox").or(line.find("KIND"));
        assert_eq!(column(lines[0]), column(lines[1]));
        assert!(lines[1].ends_with("uid=alice,ou=people,dc=example,dc=org"));
        assert!(lines[1].contains("2026-03-01T12:30:05Z"));
    }

    #[test]
    fn details_show_progress_skips_and_a_dash_for_no_error() {
        let text = job_details(&record());
        assert!(text.contains("progress:  12 of 12\n"), "{text}");
        assert!(text.contains("skipped:   pgp-mime=2\n"), "{text}");
        assert!(text.contains("error:     -\n"), "{text}");
    }

    #[test]
    fn json_carries_the_owner_the_api_leaves_out() {
        let record = record();
        let value: serde_json::Value =
            serde_json::from_str(&json(&JobView::from(&record))).unwrap();
        assert_eq!(value["account"], "uid=alice,ou=people,dc=example,dc=org");
        assert_eq!(value["state"], "succeeded");
        assert_eq!(value["kind"], "encrypt_mailbox");
    }
}
