//! Jobs that run later: a worker schedules them on the broker's delay
//! ladder (see [`Topology::delay_queue`]), and each time one comes back
//! before its time it takes the next rung.

use crate::step::Context;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use latchkey_core::broker::{ATTEMPT_HEADER, AmqpPublisher, PublishError, Publisher, Topology};
use latchkey_core::config::BrokerSettings;
use latchkey_core::directory::{DirectoryError, JobStore};
use latchkey_core::domain::JobId;
use latchkey_core::job::{Envelope, JobMessage, JobRecord, Queue};
use thiserror::Error;
use time::OffsetDateTime;

/// Holds jobs on the delay ladder until they are due.
#[derive(Debug, Clone)]
pub struct Scheduler {
    publisher: AmqpPublisher,
    topology: Topology,
}

/// Why a job could not be scheduled; nothing was left behind.
#[derive(Debug, Error)]
pub enum ScheduleError {
    /// Its record could not be written.
    #[error("recording the scheduled job: {0}")]
    Record(#[from] DirectoryError),
    /// The broker did not take it.
    #[error("queueing the scheduled job: {0}")]
    Publish(#[from] PublishError),
}

impl Scheduler {
    /// A scheduler for the broker the settings name; connects lazily.
    pub fn new(broker: &BrokerSettings) -> Self {
        Self {
            publisher: AmqpPublisher::new(broker),
            topology: Topology::new(broker),
        }
    }

    /// Puts the sealed `envelope` on `queue` to run now (persistent,
    /// `mandatory`, confirmed), through the default exchange as retries go.
    pub async fn enqueue(&self, queue: Queue, envelope: &[u8]) -> Result<(), PublishError> {
        let mut headers = FieldTable::default();
        headers.insert(ShortString::from(ATTEMPT_HEADER), AMQPValue::LongInt(0));
        let name = self.topology.queue_name(queue);
        self.publisher
            .publish_to_queue(name.as_str(), envelope, headers)
            .await
    }

    /// Puts the sealed `envelope` of a `queue` job on the rung of the
    /// ladder that brings it back as close to `due` as the ladder allows
    /// without being early (as `now` sees it); `headers` travel with it.
    pub async fn hold_until(
        &self,
        queue: Queue,
        envelope: &[u8],
        headers: FieldTable,
        due: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), PublishError> {
        let wait = std::time::Duration::try_from(due - now).unwrap_or_default();
        let (rung, _) = self.topology.delay_queue(queue, wait);
        self.publisher
            .publish_to_queue(&rung, envelope, headers)
            .await
    }
}

/// Makes `message` a job that runs at its [`JobMessage::not_before`] time:
/// records it as a gateway records the jobs it accepts, seals it, and puts
/// it on the delay ladder. A job the broker did not take leaves no record.
pub async fn schedule<D: JobStore>(
    context: &Context<D>,
    message: JobMessage,
) -> Result<JobId, ScheduleError> {
    let now = context.clock.now();
    // The directory keeps whole seconds.
    let recorded_at = now.replace_nanosecond(0).unwrap_or(now);
    let record = JobRecord::queued(
        message.job_id(),
        message.kind(),
        message.account().clone(),
        1,
        recorded_at,
    );
    context.directory.create_job(&record).await?;
    let queue = message.queue();
    let due = message.not_before().unwrap_or(now);
    let envelope = Envelope::new(message, recorded_at, None).seal(&context.keyring);
    let mut headers = FieldTable::default();
    headers.insert(ShortString::from(ATTEMPT_HEADER), AMQPValue::LongInt(0));
    let held = context
        .scheduler
        .hold_until(queue, &envelope, headers, due, now)
        .await;
    if let Err(error) = held {
        if let Err(cleanup) = context.directory.delete_job(record.id).await {
            tracing::warn!(error = %cleanup, job = %record.id, "could not remove the unscheduled job's record");
        }
        return Err(error.into());
    }
    Ok(record.id)
}
