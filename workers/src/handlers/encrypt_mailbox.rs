use super::on_current_account;
use crate::mailbox::encrypt::{BatchProgress, encrypt_batch};
use crate::mailbox::maildir::{Maildir, MessageFile};
use crate::outcome::Outcome;
use crate::step::Context;
use latchkey_core::directory::{Directory, EncryptionSettings, Feature, JobUpdate, Order};
use latchkey_core::domain::{InvalidValue, MailboxName};
use latchkey_core::encryption::Encryptor;
use latchkey_core::job::{DisableEncryption, EncryptMailbox};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often the job record hears of progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// Rounds of re-reading the folders for mail delivered during the pass.
const MAX_ROUNDS: usize = 5;

/// Stores the settings, then encrypts every message of the mailbox that is
/// not encrypted yet, under a lease so only one pass runs per account. A
/// job older than the last change of the settings changes nothing; one for
/// an account whose uid cannot name a Maildir fails before anything changes.
#[tracing::instrument(skip_all, fields(account = %job.account))]
pub async fn encrypt_mailbox<D: Directory>(context: &Context<D>, job: &EncryptMailbox) -> Outcome {
    let accepted_at = job.accepted_at.unwrap_or_else(|| context.clock.now());
    let encryptor = Encryptor::for_keys(
        job.algorithm,
        &job.keys,
        job.protect_subject,
        accepted_at.into(),
    );
    let encryptor = match encryptor {
        Ok(encryptor) => Arc::new(encryptor),
        Err(error) => return Outcome::Failed(format!("the keys cannot be used: {error}")),
    };
    let wanted = EncryptionSettings {
        method: job.algorithm.method().as_str().into(),
        algorithm: job.algorithm.as_str().into(),
        keys: job.keys.to_base64(),
        since: Some(accepted_at),
        protect_subject: job.protect_subject,
    };
    let stored = on_current_account(&context.directory, &job.account, |account| {
        let wanted = &wanted;
        async move {
            let order = account.order_of(Feature::Encryption, job.job_id);
            if order == Order::Older {
                return Ok(Err(Outcome::Superseded));
            }
            // The uid the entry holds names the Maildir.
            let name = match MailboxName::parse(&account.uid) {
                Ok(name) => name,
                Err(error) => return Ok(Err(unsafe_mailbox_name(job, error))),
            };
            // Applied: stored by an earlier delivery, and the pass resumes.
            if order == Order::Newer {
                context
                    .directory
                    .write_encryption(&account, Some(wanted), job.job_id)
                    .await?;
            }
            Ok(Ok(Maildir::new(context.mailbox.maildir_of(&name))))
        }
    })
    .await;
    let maildir = match stored {
        Ok(Ok(maildir)) => maildir,
        Ok(Err(outcome)) | Err(outcome) => return outcome,
    };
    // The lease belongs to the job: a redelivery (its first worker died)
    // takes it over at once; any other job waits until it is released or expires.
    let holder = format!("job/{}", job.job_id);
    if let Err(outcome) = take_lease(context, job, &holder).await {
        return outcome;
    }
    let outcome = pass(context, job, maildir, encryptor, &holder).await;
    if let Err(error) = context.directory.release_lease(&job.account, &holder).await {
        tracing::warn!(%error, "could not give the lease back; it expires by itself");
    }
    outcome
}

/// The job's end when the account's uid cannot name a Maildir: failed for
/// good (the entry must change first), with the reason, and audited.
fn unsafe_mailbox_name(job: &EncryptMailbox, error: InvalidValue) -> Outcome {
    latchkey_core::audit!(MailboxNameRefused, Refused, account = %job.account, %error);
    Outcome::Failed(format!("{error}; nothing was changed"))
}

/// Takes (or renews) the account's lease for this pass.
async fn take_lease<D: Directory>(
    context: &Context<D>,
    job: &EncryptMailbox,
    holder: &str,
) -> Result<(), Outcome> {
    let now = context.clock.now();
    let until = now + Duration::from_secs(context.mailbox.lease_seconds);
    let account = match context.directory.account_at(&job.account).await {
        Ok(Some(account)) => account,
        Ok(None) => return Err(Outcome::Failed("the account no longer exists".into())),
        Err(error) => return Err(Outcome::Retry(error.to_string())),
    };
    match context
        .directory
        .take_lease(&account, holder, now, until)
        .await
    {
        Ok(()) => Ok(()),
        Err(latchkey_core::directory::DirectoryError::Conflict) => Err(Outcome::Retry(
            "another encryption pass is running for this account".into(),
        )),
        Err(error) => Err(Outcome::Retry(error.to_string())),
    }
}

/// Encrypts what needs it, round after round, until a round finds nothing
/// new. Links met in the Maildir are counted once each and never followed.
async fn pass<D: Directory>(
    context: &Context<D>,
    job: &EncryptMailbox,
    maildir: Maildir,
    encryptor: Arc<Encryptor>,
    holder: &str,
) -> Outcome {
    let cleaner = maildir.clone();
    if let Err(error) = blocking(move || cleaner.remove_leftovers()).await {
        return Outcome::Retry(format!("cleaning tmp/: {error}"));
    }
    // A message is handled once per pass, whichever round meets it; names
    // are compared by their unique part, which a rename keeps.
    let mut seen = std::collections::HashSet::new();
    let mut links_seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let progress = Arc::new(BatchProgress::default());
    for _ in 0..MAX_ROUNDS {
        if let Some(outcome) = superseded_meanwhile(context, job).await {
            return outcome;
        }
        let lister = maildir.clone();
        let listing = match blocking(move || lister.list()).await {
            Ok(listing) => listing,
            Err(error) => return Outcome::Retry(format!("reading the mailbox: {error}")),
        };
        for link in listing.links {
            if links_seen.insert(link.clone()) {
                tracing::warn!(path = %link.display(), "a link in the Maildir is left alone, never followed");
                progress.count_link();
                total += 1;
            }
        }
        let fresh: Vec<MessageFile> = listing
            .messages
            .into_iter()
            .filter(|message| seen.insert(message.unique()))
            .collect();
        total += fresh.len() as u64;
        let encrypted_before = progress.encrypted.load(Ordering::Relaxed);
        let batch = {
            let (encryptor, progress) = (Arc::clone(&encryptor), Arc::clone(&progress));
            let threads = context.mailbox.threads;
            tokio::task::spawn_blocking(move || {
                encrypt_batch(&fresh, &encryptor, threads, &progress)
            })
        };
        if let Err(outcome) = watch(context, job, holder, &progress, total, batch).await {
            return outcome;
        }
        if progress.encrypted.load(Ordering::Relaxed) == encrypted_before {
            break;
        }
    }
    report(context, job, &progress, total).await;
    let skipped = progress.skipped();
    latchkey_core::audit!(MailboxEncrypted, Success, account = %job.account, algorithm = job.algorithm.as_str(), messages = total, ?skipped);
    Outcome::Done
}

/// Whether the settings changed since the pass began (a newer job stored
/// other keys, or turned encryption off): then this pass stops, as it must
/// not go on with keys the user replaced.
async fn superseded_meanwhile<D: Directory>(
    context: &Context<D>,
    job: &EncryptMailbox,
) -> Option<Outcome> {
    match context.directory.account_at(&job.account).await {
        Ok(Some(account)) => (account.order_of(Feature::Encryption, job.job_id) == Order::Older)
            .then_some(Outcome::Superseded),
        Ok(None) => Some(Outcome::Failed("the account no longer exists".into())),
        Err(error) => Some(Outcome::Retry(error.to_string())),
    }
}

/// Reports progress every second and keeps the lease while a batch runs.
async fn watch<D: Directory>(
    context: &Context<D>,
    job: &EncryptMailbox,
    holder: &str,
    progress: &BatchProgress,
    total: u64,
    batch: tokio::task::JoinHandle<Result<(), latchkey_core::encryption::EncryptError>>,
) -> Result<(), Outcome> {
    let mut batch = std::pin::pin!(batch);
    let mut ticks = tokio::time::interval(PROGRESS_EVERY);
    let mut lease_taken = Instant::now();
    loop {
        tokio::select! {
            finished = &mut batch => {
                return match finished.expect("mailbox work does not panic") {
                    Ok(()) => Ok(()),
                    Err(error) => Err(Outcome::Retry(format!("rewriting a message: {error}"))),
                };
            }
            _ = ticks.tick() => {
                report(context, job, progress, total).await;
                if lease_taken.elapsed() >= Duration::from_secs(context.mailbox.lease_seconds / 2) {
                    if let Err(outcome) = take_lease(context, job, holder).await {
                        // Another pass may take over: stop after the messages in hand.
                        progress.cancel.store(true, Ordering::Relaxed);
                        let _ = (&mut batch).await;
                        return Err(outcome);
                    }
                    lease_taken = Instant::now();
                }
            }
        }
    }
}

/// Writes the progress so far to the job record: messages handled of
/// those found, and those left alone by reason.
async fn report<D: Directory>(
    context: &Context<D>,
    job: &EncryptMailbox,
    progress: &BatchProgress,
    total: u64,
) {
    let update = JobUpdate {
        progress: Some((progress.done.load(Ordering::Relaxed), total)),
        skipped: Some(progress.skipped()),
        ..Default::default()
    };
    if let Err(error) = context
        .directory
        .update_job(job.job_id, update, context.clock.now())
        .await
    {
        tracing::warn!(%error, "could not record progress");
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("mailbox work does not panic")
}

/// Turns encryption at rest off; what is encrypted stays so.
#[tracing::instrument(skip_all, fields(account = %job.account))]
pub async fn disable_encryption<D: Directory>(
    context: &Context<D>,
    job: &DisableEncryption,
) -> Outcome {
    let result = on_current_account(&context.directory, &job.account, |account| async move {
        match account.order_of(Feature::Encryption, job.job_id) {
            Order::Older => return Ok(Outcome::Superseded),
            Order::Applied => return Ok(Outcome::Done),
            Order::Newer => {}
        }
        context
            .directory
            .write_encryption(&account, None, job.job_id)
            .await?;
        latchkey_core::audit!(EncryptionDisabled, Success, account = %job.account);
        Ok(Outcome::Done)
    })
    .await;
    result.unwrap_or_else(|outcome| outcome)
}
