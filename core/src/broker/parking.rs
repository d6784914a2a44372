//! The note a worker writes into the headers of a message it parks in
//! `<prefix>.failed`, and what an operator's tool reads back from it: why,
//! when, from which queue, and, when the envelope opened, which job.
//!
//! Headers are outside the seal, so they describe a message and never
//! vouch for it: a message put back on its queue is judged by its seal and
//! its record again, as on its first delivery. They hold nothing secret
//! (the job record in `ou=jobs` holds the same id, kind and owner).

use super::ATTEMPT_HEADER;
use crate::domain::{Dn, JobId};
use crate::job::{Envelope, JobKind, Queue};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Why the message was parked, in words for operators.
pub const PARKED_REASON_HEADER: &str = "x-latchkey-parked-reason";
/// When it was parked (RFC 3339, the worker's clock).
pub const PARKED_AT_HEADER: &str = "x-latchkey-parked-at";
/// The short name of the job queue it was taken from (`credentials`,
/// `mailbox`): where a requeue puts it back.
pub const PARKED_FROM_HEADER: &str = "x-latchkey-parked-from";
/// The job id of an envelope that opened.
pub const JOB_HEADER: &str = "x-latchkey-job";
/// The job kind of an envelope that opened.
pub const KIND_HEADER: &str = "x-latchkey-kind";
/// The account DN of an envelope that opened.
pub const ACCOUNT_HEADER: &str = "x-latchkey-account";

/// Every header of the note.
const NOTE_HEADERS: [&str; 6] = [
    PARKED_REASON_HEADER,
    PARKED_AT_HEADER,
    PARKED_FROM_HEADER,
    JOB_HEADER,
    KIND_HEADER,
    ACCOUNT_HEADER,
];

/// Headers the broker adds on redelivery and dead-lettering; they describe
/// this copy's trip, not the job.
const BROKER_HEADERS: [&str; 4] = [
    "x-delivery-count",
    "x-death",
    "x-first-death-queue",
    "x-first-death-reason",
];

/// What a parking note says; every part is optional when read, since a
/// message parked by an older worker carries none of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parking {
    /// Why it was parked.
    pub reason: Option<String>,
    /// When it was parked.
    pub at: Option<OffsetDateTime>,
    /// The job queue it came from.
    pub queue: Option<Queue>,
    /// The job, if the envelope opened.
    pub job: Option<JobId>,
    /// Its kind, if the envelope opened.
    pub kind: Option<JobKind>,
    /// The account it changes, if the envelope opened.
    pub account: Option<Dn>,
}

impl Parking {
    /// The note of a message taken from `queue` and parked at `at`;
    /// `envelope` is what it opened to, if it did.
    pub fn new(
        reason: impl Into<String>,
        at: OffsetDateTime,
        queue: Queue,
        envelope: Option<&Envelope>,
    ) -> Self {
        Self {
            reason: Some(reason.into()),
            at: Some(at),
            queue: Some(queue),
            job: envelope.map(|envelope| envelope.job_id),
            kind: envelope.map(|envelope| envelope.kind),
            account: envelope.map(|envelope| envelope.account.clone()),
        }
    }

    /// `headers` with this note in them (a note already there is replaced).
    pub fn written_into(&self, headers: FieldTable) -> FieldTable {
        let at = self
            .at
            .and_then(|at| at.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok());
        let values = [
            (PARKED_REASON_HEADER, self.reason.clone()),
            (PARKED_AT_HEADER, at),
            (PARKED_FROM_HEADER, self.queue.map(|q| q.name().to_owned())),
            (JOB_HEADER, self.job.map(|job| job.to_string())),
            (KIND_HEADER, self.kind.map(|kind| kind.as_str().to_owned())),
            (
                ACCOUNT_HEADER,
                self.account.as_ref().map(|dn| dn.to_string()),
            ),
        ];
        let mut headers = without(&headers, &NOTE_HEADERS);
        for (key, value) in values {
            if let Some(value) = value {
                headers.insert(ShortString::from(key), AMQPValue::LongString(value.into()));
            }
        }
        headers
    }

    /// The note in `headers`; a part that is missing or does not parse is `None`.
    pub fn read(headers: &FieldTable) -> Self {
        Self {
            reason: text(headers, PARKED_REASON_HEADER),
            at: text(headers, PARKED_AT_HEADER)
                .and_then(|at| OffsetDateTime::parse(&at, &Rfc3339).ok()),
            queue: text(headers, PARKED_FROM_HEADER).and_then(|queue| Queue::parse(&queue)),
            job: text(headers, JOB_HEADER).and_then(|job| JobId::parse(&job).ok()),
            kind: text(headers, KIND_HEADER).and_then(|kind| JobKind::parse(&kind)),
            account: text(headers, ACCOUNT_HEADER).map(Dn::from_directory),
        }
    }
}

/// The headers a parked message goes back to its queue with: the parking
/// note and the broker's trip counters dropped, and the attempts counted
/// from zero again, so the job gets every retry anew (an operator puts it
/// back once the cause is fixed). Everything else, such as the request id,
/// stays.
pub fn requeue_headers(headers: &FieldTable) -> FieldTable {
    let mut headers = without(&without(headers, &NOTE_HEADERS), &BROKER_HEADERS);
    headers.insert(ShortString::from(ATTEMPT_HEADER), AMQPValue::LongInt(0));
    headers
}

/// `headers` less the keys in `keys`.
fn without(headers: &FieldTable, keys: &[&str]) -> FieldTable {
    let kept = headers
        .inner()
        .iter()
        .filter(|(key, _)| !keys.contains(&key.as_str()));
    FieldTable::from(
        kept.map(|(key, value)| (key.clone(), value.clone()))
            .collect::<std::collections::BTreeMap<_, _>>(),
    )
}

/// The text of a string header, if it is one.
pub fn text(headers: &FieldTable, key: &str) -> Option<String> {
    match headers.inner().get(key)? {
        AMQPValue::LongString(value) => {
            Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
        }
        AMQPValue::ShortString(value) => Some(value.as_str().to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::sample_envelope as envelope;
    use time::macros::datetime;

    #[test]
    fn a_note_reads_back_as_written() {
        let envelope = envelope();
        let at = datetime!(2026-03-01 12:30:05 UTC);
        let note = Parking::new(
            "refused: no record",
            at,
            Queue::Credentials,
            Some(&envelope),
        );
        let read = Parking::read(&note.written_into(FieldTable::default()));
        assert_eq!(read, note);
        assert_eq!(read.job, Some(envelope.job_id));
        assert_eq!(read.kind, Some(JobKind::DisableTotp));
    }

    #[test]
    fn a_message_that_did_not_open_names_no_job_and_an_old_one_nothing() {
        let at = datetime!(2026-03-01 12:30:05 UTC);
        let stale = Parking::new("old", at, Queue::Mailbox, Some(&envelope()));
        let headers = stale.written_into(FieldTable::default());
        let note = Parking::new("not sealed", at, Queue::Mailbox, None);
        let read = Parking::read(&note.written_into(headers));
        assert_eq!(read.reason.as_deref(), Some("not sealed"));
        assert_eq!((read.job, read.kind, read.account), (None, None, None));
        assert_eq!(Parking::read(&FieldTable::default()), Parking::default());
    }

    #[test]
    fn a_requeued_message_keeps_its_request_id_and_starts_its_attempts_again() {
        let mut headers = FieldTable::default();
        headers.insert(
            ShortString::from(super::super::REQUEST_ID_HEADER),
            AMQPValue::LongString("r1".into()),
        );
        headers.insert(ShortString::from(ATTEMPT_HEADER), AMQPValue::LongInt(4));
        headers.insert(
            ShortString::from("x-delivery-count"),
            AMQPValue::LongLongInt(3),
        );
        let at = datetime!(2026-03-01 12:30:05 UTC);
        let parked = Parking::new("gave up", at, Queue::Credentials, Some(&envelope()))
            .written_into(headers);
        let requeued = requeue_headers(&parked);
        assert_eq!(Parking::read(&requeued), Parking::default());
        assert_eq!(
            text(&requeued, super::super::REQUEST_ID_HEADER).as_deref(),
            Some("r1")
        );
        assert_eq!(
            requeued.inner().get(ATTEMPT_HEADER),
            Some(&AMQPValue::LongInt(0))
        );
        assert!(!requeued.inner().contains_key("x-delivery-count"));
    }
}
