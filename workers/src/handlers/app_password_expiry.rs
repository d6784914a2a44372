//! App passwords stop working at their expiry, not at the next sweep:
//! storing one with an expiry schedules a job for that instant
//! ([`schedule_expiry`]), and that job removes it ([`expire_app_password`])
//! if the directory still holds it and agrees it has expired. The sweep
//! stays as the safety net for a schedule the broker lost.

use crate::outcome::Outcome;
use crate::schedule::schedule;
use crate::step::Context;
use latchkey_core::directory::Directory;
use latchkey_core::domain::JobId;
use latchkey_core::job::{CreateAppPassword, ExpireAppPassword, JobMessage};

/// Schedules the removal of the app password `job` stored, at its expiry
/// (if it has one). A failure leaves the create to be retried: its
/// redelivery finds the app password stored and schedules again.
#[tracing::instrument(skip_all, fields(account = %job.account, id = %job.id))]
pub async fn schedule_expiry<D: Directory>(
    context: &Context<D>,
    job: &CreateAppPassword,
) -> Outcome {
    let Some(expires) = job.expires else {
        return Outcome::Done;
    };
    let message = JobMessage::ExpireAppPassword(ExpireAppPassword {
        job_id: JobId::new(),
        account: job.account.clone(),
        id: job.id,
        expires,
    });
    match schedule(context, message).await {
        Ok(expiry_job) => {
            tracing::info!(%expiry_job, %expires, "the app password's expiry is scheduled");
            Outcome::Done
        }
        Err(error) => Outcome::Retry(error.to_string()),
    }
}

/// Removes the app password at its expiry: hashes first, metadata last, as
/// a revoke does. Gone already (revoked, swept, the account deleted) is
/// done; the expiry the directory holds decides, not the message.
#[tracing::instrument(skip_all, fields(account = %job.account, id = %job.id))]
pub async fn expire_app_password<D: Directory>(
    context: &Context<D>,
    job: &ExpireAppPassword,
) -> Outcome {
    let account = match context.directory.account_at(&job.account).await {
        Ok(Some(account)) => account,
        Ok(None) => return Outcome::Done,
        Err(error) => return Outcome::Retry(error.to_string()),
    };
    let Some(stored) = account
        .app_passwords
        .iter()
        .find(|stored| stored.entry.id == job.id)
    else {
        return Outcome::Done;
    };
    let now = context.clock.now();
    match stored.entry.expires {
        Some(expires) if expires > now => return Outcome::Later(expires),
        Some(_) => {}
        None => return Outcome::Done,
    }
    match context
        .directory
        .remove_app_password(&job.account, stored)
        .await
    {
        Ok(()) => {
            let late_ms = (now - job.expires).whole_milliseconds();
            latchkey_core::audit!(AppPasswordExpired, Success, account = %job.account, id = %job.id, late_ms);
            Outcome::Done
        }
        Err(error) => Outcome::Retry(error.to_string()),
    }
}
