//! One pass over a mailbox, or over the part of it one part job covers:
//! rounds of listing and encrypting, progress to the job record every
//! second, the account's lease kept, and a stop as soon as a newer
//! encryption change supersedes the pass.

use crate::mailbox::encrypt::{BatchProgress, encrypt_batch};
use crate::mailbox::maildir::{Maildir, MessageFile};
use crate::outcome::Outcome;
use crate::step::Context;
use latchkey_core::directory::{Directory, DirectoryError, Feature, JobUpdate, Order, PartChange};
use latchkey_core::encryption::Encryptor;
use latchkey_core::job::{EncryptMailbox, MailboxPart};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often the job record hears of progress, and the pass checks that
/// it is still the account's last encryption change.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// Rounds of re-reading the folders for mail delivered during the pass.
const MAX_ROUNDS: usize = 5;

/// What a pass covers: the whole mailbox of `job`, or one part of it.
#[derive(Clone, Copy)]
pub(super) struct Scope<'a> {
    /// The pass (for a part: the pass it belongs to).
    pub job: &'a EncryptMailbox,
    /// The part, if the pass was split.
    pub part: Option<&'a MailboxPart>,
}

impl Scope<'_> {
    /// Who holds the account's lease: the pass, whichever of its parts
    /// renews it. A redelivery (its first worker died) takes it over at
    /// once; any other pass waits until it is released or expires.
    pub fn holder(&self) -> String {
        format!("job/{}", self.job.job_id)
    }
}

/// Takes (or renews) the account's lease for the pass. A renewal that
/// lost a race to another part of the same pass is no conflict.
pub(super) async fn take_lease<D: Directory>(
    context: &Context<D>,
    scope: Scope<'_>,
) -> Result<(), Outcome> {
    let holder = scope.holder();
    let taken_at = context.clock.now();
    let until = taken_at + Duration::from_secs(context.mailbox.lease_seconds);
    for _ in 0..3 {
        let account = match context.directory.account_at(&scope.job.account).await {
            Ok(Some(account)) => account,
            Ok(None) => return Err(Outcome::Failed("the account no longer exists".into())),
            Err(error) => return Err(Outcome::Retry(error.to_string())),
        };
        match context
            .directory
            .take_lease(&account, &holder, taken_at, until)
            .await
        {
            Ok(()) => return Ok(()),
            Err(DirectoryError::Conflict) => {
                let ours = |lease: &Option<(String, _)>| {
                    lease.as_ref().is_some_and(|(by, _)| *by == holder)
                };
                match context.directory.account_at(&scope.job.account).await {
                    Ok(Some(now)) if ours(&now.lease) => return Ok(()),
                    Ok(Some(now)) if now.lease.is_none() => continue,
                    _ => {}
                }
                return Err(Outcome::Retry(
                    "another encryption pass is running for this account".into(),
                ));
            }
            Err(error) => return Err(Outcome::Retry(error.to_string())),
        }
    }
    Err(Outcome::Retry("the lease kept changing hands".into()))
}

/// Encrypts what needs it in the scope, round after round, until a round
/// finds nothing new. Links met in the Maildir are counted once each and
/// never followed.
pub(super) async fn pass<D: Directory>(
    context: &Context<D>,
    scope: Scope<'_>,
    maildir: Maildir,
    encryptor: Arc<Encryptor>,
) -> Outcome {
    let cleaner = maildir.clone();
    let part = scope.part.cloned();
    if let Err(error) = blocking(move || cleaner.remove_leftovers_of(part.as_ref())).await {
        return Outcome::Retry(format!("cleaning tmp/: {error}"));
    }
    // A message is handled once per pass, whichever round meets it; names
    // are compared by their unique part, which a rename keeps.
    let mut seen = std::collections::HashSet::new();
    let mut links_seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let progress = Arc::new(BatchProgress::default());
    for _ in 0..MAX_ROUNDS {
        if let Some(outcome) = superseded_meanwhile(context, scope.job).await {
            return outcome;
        }
        let lister = maildir.clone();
        let part = scope.part.cloned();
        let listing = match blocking(move || lister.list_part(part.as_ref())).await {
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
        if let Err(outcome) = watch(context, scope, &progress, total, batch).await {
            return outcome;
        }
        if progress.encrypted.load(Ordering::Relaxed) == encrypted_before {
            break;
        }
    }
    report(context, scope, &progress, total).await;
    if scope.part.is_none() {
        let skipped = progress.skipped();
        latchkey_core::audit!(MailboxEncrypted, Success, account = %scope.job.account, algorithm = scope.job.algorithm.as_str(), messages = total, ?skipped);
    }
    Outcome::Done
}

/// Whether the settings changed since the pass began (a newer job stored
/// other keys, or turned encryption off): then this pass stops, as it must
/// not go on with keys the user replaced.
pub(super) async fn superseded_meanwhile<D: Directory>(
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

/// Every second while a batch runs: reports progress, stops the batch
/// after the messages in hand if the pass was superseded, and keeps the lease.
async fn watch<D: Directory>(
    context: &Context<D>,
    scope: Scope<'_>,
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
                report(context, scope, progress, total).await;
                let mut stop = superseded_meanwhile(context, scope.job).await;
                if stop.is_none() && lease_taken.elapsed() >= Duration::from_secs(context.mailbox.lease_seconds / 2) {
                    // Another pass may take over if this fails.
                    stop = take_lease(context, scope).await.err();
                    lease_taken = Instant::now();
                }
                if let Some(outcome) = stop {
                    progress.cancel.store(true, Ordering::Relaxed);
                    let _ = (&mut batch).await;
                    report(context, scope, progress, total).await;
                    return Err(outcome);
                }
            }
        }
    }
}

/// Writes the progress so far to the job record (for a part: to its
/// part, which the record sums): messages handled of those found, and
/// those left alone by reason.
async fn report<D: Directory>(
    context: &Context<D>,
    scope: Scope<'_>,
    progress: &BatchProgress,
    total: u64,
) {
    let done = progress.done.load(Ordering::Relaxed);
    let now = context.clock.now();
    let written = match scope.part {
        None => {
            let update = JobUpdate {
                progress: Some((done, total)),
                skipped: Some(progress.skipped()),
                ..Default::default()
            };
            context
                .directory
                .update_job(scope.job.job_id, update, now)
                .await
        }
        Some(part) => {
            let change = PartChange {
                progress: Some((done, total, progress.skipped())),
                ..Default::default()
            };
            let updated = context
                .directory
                .update_part(scope.job.job_id, part.index, change, now);
            updated.await.map(drop)
        }
    };
    if let Err(error) = written {
        tracing::warn!(%error, "could not record progress");
    }
}

pub(super) async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("mailbox work does not panic")
}
