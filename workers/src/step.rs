//! One processing step: the job record's bookkeeping around a handler.

use crate::handlers;
use crate::outcome::Outcome;
use latchkey_core::clock::Clock;
use latchkey_core::config::MailboxSettings;
use latchkey_core::directory::{Directory, JobUpdate};
use latchkey_core::job::{JobMessage, JobState, Queue};
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
    /// Opens the secrets sealed inside job messages.
    pub keyring: Arc<Keyring>,
    /// Seals secrets stored in the directory (TOTP seeds).
    pub directory_keyring: Arc<Keyring>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Revoke every app password when the primary password changes.
    pub revoke_app_passwords_on_password_change: bool,
    /// Where mailboxes are, and the lease of a pass.
    pub mailbox: MailboxSettings,
}

/// Runs attempt number `attempt` (from 1) of `message`, keeping its job
/// record up to date, and says what became of it.
#[tracing::instrument(skip_all, fields(job = %message.job_id(), kind = message.kind().as_str(), attempt))]
pub async fn process<D>(context: &Context<D>, message: &JobMessage, attempt: u32) -> Outcome
where
    D: Directory,
{
    let running = JobUpdate {
        state: Some(JobState::Running),
        attempts: Some(attempt),
        ..Default::default()
    };
    if let Err(error) = context
        .directory
        .update_job(message.job_id(), running, context.clock.now())
        .await
    {
        // No record means no way to report; the directory being down means try later.
        if error.is_transient() {
            return Outcome::Retry(error.to_string());
        }
        tracing::warn!(%error, "job record unavailable; applying the job anyway");
    }
    let outcome = match message {
        JobMessage::ChangePassword(job) => handlers::change_password(context, job).await,
        JobMessage::EnableTotp(job) => handlers::enable_totp(context, job).await,
        JobMessage::DisableTotp(job) => handlers::disable_totp(context, job).await,
        JobMessage::RegenerateRecoveryCodes(job) => {
            handlers::regenerate_recovery_codes(context, job).await
        }
        JobMessage::CreateAppPassword(job) => handlers::create_app_password(context, job).await,
        JobMessage::RevokeAppPasswords(job) => handlers::revoke_app_passwords(context, job).await,
        JobMessage::EncryptMailbox(job) => handlers::encrypt_mailbox(context, job).await,
        JobMessage::DisableEncryption(job) => handlers::disable_encryption(context, job).await,
    };
    if outcome == Outcome::Done {
        let done = JobUpdate {
            state: Some(JobState::Succeeded),
            error: Some(None),
            // A credential change is one unit of work; long jobs report their own progress.
            progress: (message.queue() == Queue::Credentials).then_some((1, 1)),
            ..Default::default()
        };
        if let Err(error) = context
            .directory
            .update_job(message.job_id(), done, context.clock.now())
            .await
        {
            // The change is committed; a redelivery would find it applied and
            // record the success then.
            return Outcome::Retry(format!("recording the success: {error}"));
        }
    }
    outcome
}
