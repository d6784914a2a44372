//! Job intake: how a request becomes a durable job. The gateway names the
//! request ([`RequestId`]), records the job first, then publishes it with
//! confirms; a job the broker did not take leaves no record behind.

mod accepted;
mod origin;
pub mod request_id;

pub use accepted::JobAccepted;
pub use origin::Origin;
pub use request_id::RequestId;

use crate::problem::ApiResult;
use crate::state::AppState;
use latchkey_core::broker::Publisher;
use latchkey_core::directory::JobStore;
use latchkey_core::job::{Envelope, JobMessage, JobRecord, Queue};

impl<D: JobStore, P: Publisher> AppState<D, P> {
    /// Records `message` for the account it changes, then publishes it in a
    /// sealed envelope; 202 once the broker confirmed.
    pub async fn enqueue(&self, message: JobMessage, origin: Origin) -> ApiResult<JobAccepted> {
        let owner = message.account().clone();
        // The directory keeps whole seconds; answer with what GET will show.
        let now = self.clock.now();
        let now = now.replace_nanosecond(0).unwrap_or(now);
        // A credential change is one unit; a mailbox pass counts its messages once it starts.
        let total = u64::from(message.queue() == Queue::Credentials);
        let record = JobRecord::queued(message.job_id(), message.kind(), owner, total, now);
        self.directory.create_job(&record).await?;
        let queue = message.queue();
        let envelope = Envelope::new(message, now, Some(origin.request_id.to_string()))
            .from_client(origin.client.0)
            .seal(&self.keyring);
        if let Err(error) = self
            .publisher
            .publish_job(queue, &envelope, origin.request_id.uuid())
            .await
        {
            // Not durable, so not accepted: leave no record of a job that will never run.
            if let Err(cleanup) = self.directory.delete_job(record.id).await {
                tracing::warn!(error = %cleanup, job = %record.id, "could not remove the unqueued job's record");
            }
            return Err(error.into());
        }
        metrics::counter!("latchkey_jobs_published_total", "kind" => record.kind.as_str())
            .increment(1);
        latchkey_core::audit!(JobQueued, Success, account = %record.owner, kind = record.kind.as_str(), job = %record.id);
        Ok(JobAccepted::new(record))
    }
}
