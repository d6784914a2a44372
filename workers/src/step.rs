//! One processing step: the checks a job must pass before it is applied,
//! the handler that applies it, and the one function that writes each state
//! of a job's record ([`record`]).

use crate::handlers;
use crate::outcome::Outcome;
use crate::schedule::Scheduler;
use anyhow::Context as _;
use latchkey_core::clock::Clock;
use latchkey_core::config::{MailboxSettings, Settings};
use latchkey_core::directory::{Directory, DirectoryError, JobUpdate, PartChange};
use latchkey_core::domain::JobId;
use latchkey_core::job::{EncryptMailboxPart, Envelope, JobMessage, JobRecord, JobState, Queue};
use latchkey_core::password::PasswordHasher;
use latchkey_core::seal::Keyring;
use std::sync::Arc;

/// What a worker needs to process jobs; generic over the directory so tests
/// can put a gate in front of the real one.
pub struct Context<D> {
    /// The directory.
    pub directory: D,
    /// Hashes new secrets.
    pub hasher: PasswordHasher,
    /// Opens job envelopes and the secrets sealed inside them.
    pub keyring: Arc<Keyring>,
    /// Seals secrets stored in the directory (TOTP seeds).
    pub directory_keyring: Arc<Keyring>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Revoke every app password when the primary password changes.
    pub revoke_app_passwords_on_password_change: bool,
    /// Where mailboxes are, and the lease of a pass.
    pub mailbox: MailboxSettings,
    /// Holds jobs due later (app password expiries) on the broker.
    pub scheduler: Scheduler,
}

impl<D> Context<D> {
    /// The context `settings` describe, over `directory`.
    pub fn new(settings: &Settings, directory: D, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let keyring = Keyring::for_jobs(&settings.secrets)?;
        let directory_keyring = Keyring::for_directory(&settings.secrets)?;
        Ok(Self {
            directory,
            hasher: PasswordHasher::new(settings.argon2).context("argon2 settings")?,
            keyring: Arc::new(keyring),
            directory_keyring: Arc::new(directory_keyring),
            clock,
            revoke_app_passwords_on_password_change: settings
                .app_passwords
                .revoke_on_password_change,
            mailbox: settings.mailbox.clone(),
            scheduler: Scheduler::new(&settings.broker),
        })
    }
}

/// A point in a job's life that its record shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Milestone {
    /// Attempt number `attempt` (from 1) has started.
    Running {
        /// The attempt.
        attempt: u32,
    },
    /// Applied; credential jobs count as one unit done.
    Succeeded {
        /// The job's queue.
        queue: Queue,
    },
    /// A newer request for the same feature was applied first.
    Superseded,
    /// Attempt `attempt` failed for now; a retry is scheduled.
    RetryScheduled {
        /// The attempt that failed.
        attempt: u32,
    },
    /// Failed for good, for the reason given (shown to the user).
    Failed(String),
    /// Not due after all (the directory holds a later time than the job
    /// said); it waits on the delay queues again.
    Waiting,
    /// Every attempt failed for now; the job is parked.
    GaveUp {
        /// Attempts made.
        attempts: u32,
    },
}

/// Writes `milestone` into the record of the job in `envelope` (for a
/// part of a split pass: into its part, see [`record_part`]).
pub async fn record<D: Directory>(
    context: &Context<D>,
    envelope: &Envelope,
    milestone: Milestone,
) -> Result<(), DirectoryError> {
    match &envelope.body {
        JobMessage::EncryptMailboxPart(part) => record_part(context, part, milestone).await,
        _ => record_job(context, envelope.job_id, milestone).await,
    }
}

/// Writes `milestone` into the record of job `id`.
async fn record_job<D: Directory>(
    context: &Context<D>,
    id: JobId,
    milestone: Milestone,
) -> Result<(), DirectoryError> {
    let (state, error) = match &milestone {
        Milestone::Running { .. } => (JobState::Running, None),
        Milestone::Succeeded { .. } => (JobState::Succeeded, Some(None)),
        Milestone::Superseded => (
            JobState::Superseded,
            Some(Some(
                "a newer change of the same setting was applied first; this one changed nothing"
                    .to_owned(),
            )),
        ),
        Milestone::RetryScheduled { attempt } => (
            JobState::Queued,
            Some(Some(format!(
                "temporarily failed (attempt {attempt}); it will be retried automatically"
            ))),
        ),
        Milestone::Waiting => (JobState::Queued, None),
        Milestone::Failed(reason) => (JobState::Failed, Some(Some(reason.clone()))),
        Milestone::GaveUp { attempts } => (
            JobState::Failed,
            Some(Some(format!(
                "could not be applied after {attempts} attempts; please try again later or contact support"
            ))),
        ),
    };
    let update = JobUpdate {
        state: Some(state),
        attempts: match milestone {
            Milestone::Running { attempt } => Some(attempt),
            _ => None,
        },
        // A credential change is one unit of work; long jobs report their own progress.
        progress: match milestone {
            Milestone::Succeeded {
                queue: Queue::Credentials,
            } => Some((1, 1)),
            _ => None,
        },
        error,
        ..Default::default()
    };
    context
        .directory
        .update_job(id, update, context.clock.now())
        .await
}

/// Writes `milestone` into the part's place on its pass's record. A
/// retry keeps the part `running` (the pass still runs); a part that
/// failed for good says why in the pass's error. The write that ends the
/// last part ends the pass: that worker gives the account's lease back
/// and writes the audit line.
pub async fn record_part<D: Directory>(
    context: &Context<D>,
    job: &EncryptMailboxPart,
    milestone: Milestone,
) -> Result<(), DirectoryError> {
    let (state, error) = match milestone {
        Milestone::Running { .. } => (JobState::Running, None),
        Milestone::Succeeded { .. } => (JobState::Succeeded, None),
        Milestone::Superseded => (JobState::Superseded, None),
        Milestone::Failed(reason) => (JobState::Failed, Some(reason)),
        Milestone::GaveUp { attempts } => (
            JobState::Failed,
            Some(format!(
                "part of the mailbox could not be encrypted after {attempts} attempts; please try again later or contact support"
            )),
        ),
        Milestone::RetryScheduled { .. } | Milestone::Waiting => return Ok(()),
    };
    let change = PartChange {
        state: Some(state),
        error,
        ..Default::default()
    };
    let pass = &job.pass;
    let now = context.clock.now();
    let ended = context
        .directory
        .update_part(pass.job_id, job.part.index, change, now)
        .await?;
    let Some(ended) = ended else {
        return Ok(());
    };
    let holder = format!("job/{}", pass.job_id);
    if let Err(error) = context
        .directory
        .release_lease(&pass.account, &holder)
        .await
    {
        tracing::warn!(%error, "could not give the lease back; it expires by itself");
    }
    if ended == JobState::Succeeded {
        let record = context.directory.job(pass.job_id).await.ok().flatten();
        let (messages, skipped) = record.map(|r| (r.total, r.skipped)).unwrap_or_default();
        latchkey_core::audit!(MailboxEncrypted, Success, account = %pass.account, algorithm = pass.algorithm.as_str(), messages, ?skipped);
    }
    tracing::info!(state = %ended, "the last part ended the pass");
    Ok(())
}

/// The log span of attempt `attempt` of the job in `envelope`: its ids,
/// and the request and client it came from, for the log and the audit log.
pub fn span(envelope: &Envelope, attempt: u32) -> tracing::Span {
    tracing::info_span!(
        "job",
        job = %envelope.job_id,
        kind = envelope.kind.as_str(),
        request_id = envelope.request_id.as_deref(),
        client_address = envelope.client_address.map(tracing::field::display),
        attempt,
    )
}

/// Runs attempt number `attempt` (from 1) of the job in `envelope`, keeping
/// its record up to date, and says what became of it. A job whose record
/// is missing, or names another owner or kind, is refused untouched. A
/// scheduled job that came back before its time only waits again.
pub async fn process<D>(context: &Context<D>, envelope: &Envelope, attempt: u32) -> Outcome
where
    D: Directory,
{
    // Waiting changes nothing, so the directory is not asked until it is time.
    let now = context.clock.now();
    if let Some(due) = envelope.body.not_before().filter(|due| now < *due) {
        return Outcome::Later(due);
    }
    let stored = match context.directory.job(envelope.job_id).await {
        Ok(Some(stored)) => stored,
        Ok(None) if envelope.body.not_before().is_some() => {
            match record_again(context, envelope).await {
                Ok(stored) => stored,
                Err(error) => return Outcome::Retry(format!("recording the job again: {error}")),
            }
        }
        Ok(None) => return Outcome::Refused("no job record exists for it".into()),
        Err(error) => return Outcome::Retry(error.to_string()),
    };
    if stored.owner != envelope.account || stored.kind != envelope.kind {
        return Outcome::Refused(format!(
            "its record belongs to another account or kind ({} of {})",
            stored.kind.as_str(),
            stored.owner
        ));
    }
    if let Err(error) = record(context, envelope, Milestone::Running { attempt }).await {
        return Outcome::Retry(format!("recording the start: {error}"));
    }
    let outcome = apply(context, envelope).await;
    let finished = match outcome {
        Outcome::Done => Milestone::Succeeded {
            queue: envelope.kind.queue(),
        },
        Outcome::Superseded => Milestone::Superseded,
        Outcome::Later(_) => Milestone::Waiting,
        _ => return outcome,
    };
    if let Err(error) = record(context, envelope, finished).await {
        // The change is committed; a redelivery finds it applied and records it then.
        return Outcome::Retry(format!("recording the success: {error}"));
    }
    outcome
}

/// Makes the record of a scheduled job whose record expired while it
/// waited: `dds` keeps records a week at most, an expiry may be years
/// away. Its seal proves a worker made it, and its handler acts only on
/// what the directory says when it runs, so a replayed copy changes
/// nothing that was not due to change.
async fn record_again<D: Directory>(
    context: &Context<D>,
    envelope: &Envelope,
) -> Result<JobRecord, DirectoryError> {
    let now = context.clock.now();
    let record = JobRecord::queued(
        envelope.job_id,
        envelope.kind,
        envelope.account.clone(),
        1,
        now.replace_nanosecond(0).unwrap_or(now),
    );
    context.directory.create_job(&record).await?;
    tracing::info!(job = %record.id, "the scheduled job outlived its record; recorded it again");
    Ok(record)
}

async fn apply<D: Directory>(context: &Context<D>, envelope: &Envelope) -> Outcome {
    match &envelope.body {
        JobMessage::ChangePassword(job) => handlers::change_password(context, job).await,
        JobMessage::EnableTotp(job) => handlers::enable_totp(context, job).await,
        JobMessage::DisableTotp(job) => handlers::disable_totp(context, job).await,
        JobMessage::AddPasskey(job) => handlers::add_passkey(context, job).await,
        JobMessage::RemovePasskey(job) => handlers::remove_passkey(context, job).await,
        JobMessage::RegenerateRecoveryCodes(job) => {
            handlers::regenerate_recovery_codes(context, job).await
        }
        JobMessage::CreateAppPassword(job) => {
            match handlers::create_app_password(context, job).await {
                // Only a stored app password has an expiry to schedule.
                Outcome::Done => handlers::schedule_expiry(context, job).await,
                other => other,
            }
        }
        JobMessage::RevokeAppPasswords(job) => handlers::revoke_app_passwords(context, job).await,
        JobMessage::ExpireAppPassword(job) => handlers::expire_app_password(context, job).await,
        JobMessage::EncryptMailbox(job) => handlers::encrypt_mailbox(context, envelope, job).await,
        JobMessage::EncryptMailboxPart(job) => handlers::encrypt_mailbox_part(context, job).await,
        JobMessage::DisableEncryption(job) => handlers::disable_encryption(context, job).await,
    }
}
