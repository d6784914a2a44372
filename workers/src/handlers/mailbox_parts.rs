//! A large mailbox pass split into part jobs that any worker takes, so
//! several workers encrypt one mailbox at once while there is still one
//! pass per account: every part holds the pass's lease (the same holder),
//! stops as soon as a newer encryption change supersedes the pass, covers
//! messages no other part covers ([`MailboxPart`]), and reports into the
//! pass's job record, whose progress is the sum of its parts'. The last
//! part to end ends the pass and gives the lease back (see
//! [`crate::step::record_part`]).

use super::mailbox_pass::{Scope, blocking, pass, take_lease};
use crate::mailbox::maildir::Maildir;
use crate::outcome::Outcome;
use crate::step::Context;
use latchkey_core::directory::{Directory, Feature, Order};
use latchkey_core::domain::MailboxName;
use latchkey_core::encryption::Encryptor;
use latchkey_core::job::{
    EncryptMailbox, EncryptMailboxPart, Envelope, JobMessage, JobState, MailboxPart, PartProgress,
    PartsSum, Queue,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The parts of `job`'s pass, if it is to be split: those its record
/// holds already (a redelivered job), or, for a mailbox of more than
/// `mailbox.split_above` messages, new ones, recorded before any is
/// published. `None`: one pass does it all.
pub(super) async fn splits<D: Directory>(
    context: &Context<D>,
    job: &EncryptMailbox,
    maildir: &Maildir,
) -> Result<Option<Vec<PartProgress>>, Outcome> {
    let record = match context.directory.job(job.job_id).await {
        Ok(Some(record)) => record,
        Ok(None) => return Err(Outcome::Failed("the job's record expired".into())),
        Err(error) => return Err(Outcome::Retry(error.to_string())),
    };
    if !record.parts.is_empty() {
        return Ok(Some(record.parts));
    }
    let split_above = context.mailbox.split_above;
    if split_above == 0 {
        return Ok(None);
    }
    // No part of this pass runs yet, so the whole Maildir is ours to clean.
    let lister = maildir.clone();
    let listing = blocking(move || lister.remove_leftovers().and_then(|_| lister.list())).await;
    let listing = match listing {
        Ok(listing) => listing,
        Err(error) => return Err(Outcome::Retry(format!("reading the mailbox: {error}"))),
    };
    if listing.messages.len() <= split_above {
        return Ok(None);
    }
    let mut folders: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for message in &listing.messages {
        let names = folders.entry(message.folder_name()).or_default();
        names.push(message.unique());
    }
    let parts: Vec<PartProgress> = MailboxPart::split(&folders, context.mailbox.part_messages)
        .into_iter()
        .map(|part| {
            let names = &folders[&part.folder];
            let covered = names.iter().filter(|name| part.covers(&part.folder, name));
            let total = covered.count() as u64;
            PartProgress::queued(part, total)
        })
        .collect();
    let now = context.clock.now();
    if let Err(error) = context.directory.split_job(job.job_id, &parts, now).await {
        return Err(Outcome::Retry(format!("recording the parts: {error}")));
    }
    tracing::info!(
        parts = parts.len(),
        messages = listing.messages.len(),
        "the pass is split into parts"
    );
    Ok(Some(parts))
}

/// Publishes each part not taken yet as a job of its own, sealed like
/// every job, with the request it came from; the job goes on in its parts.
/// A job whose parts have all ended already (it was delivered again after
/// its pass) ends as they did.
pub(super) async fn encrypt_in_parts<D: Directory>(
    context: &Context<D>,
    envelope: &Envelope,
    parts: Vec<PartProgress>,
) -> Outcome {
    let JobMessage::EncryptMailbox(job) = &envelope.body else {
        unreachable!("only a mailbox pass is split");
    };
    match PartsSum::of(&parts).ended {
        Some(JobState::Succeeded) => return Outcome::Done,
        Some(JobState::Failed) => {
            return Outcome::Failed("part of the mailbox could not be encrypted".into());
        }
        Some(_) => return Outcome::Superseded,
        None => {}
    }
    let waiting = parts.iter().filter(|part| part.state == JobState::Queued);
    for progress in waiting {
        let body = JobMessage::EncryptMailboxPart(EncryptMailboxPart {
            pass: job.clone(),
            part: progress.part.clone(),
        });
        let mut part = Envelope::new(body, envelope.requested_at, envelope.request_id.clone());
        part.client_address = envelope.client_address;
        let sealed = part.seal(&context.keyring);
        if let Err(error) = context.scheduler.enqueue(Queue::Mailbox, &sealed).await {
            return Outcome::Retry(format!("queueing part {}: {error}", progress.index()));
        }
    }
    Outcome::Split(parts.len())
}

/// Encrypts the messages one part covers, while its pass is the account's
/// last encryption change and holds the lease.
#[tracing::instrument(skip_all, fields(account = %job.pass.account, part = job.part.index))]
pub async fn encrypt_mailbox_part<D: Directory>(
    context: &Context<D>,
    job: &EncryptMailboxPart,
) -> Outcome {
    let pass_job = &job.pass;
    let account = match context.directory.account_at(&pass_job.account).await {
        Ok(Some(account)) => account,
        Ok(None) => return Outcome::Failed("the account no longer exists".into()),
        Err(error) => return Outcome::Retry(error.to_string()),
    };
    match account.order_of(Feature::Encryption, pass_job.job_id) {
        Order::Older => return Outcome::Superseded,
        Order::Applied => {}
        // Only a pass that stored its settings is split.
        Order::Newer => return Outcome::Failed("the pass's settings were never stored".into()),
    }
    let name = match MailboxName::parse(&account.uid) {
        Ok(name) => name,
        Err(error) => return Outcome::Failed(format!("{error}; nothing was changed")),
    };
    let accepted_at = pass_job.accepted_at.unwrap_or_else(|| context.clock.now());
    let encryptor = Encryptor::for_keys(
        pass_job.algorithm,
        &pass_job.keys,
        pass_job.protect_subject,
        accepted_at.into(),
    );
    let encryptor = match encryptor {
        Ok(encryptor) => Arc::new(encryptor),
        Err(error) => return Outcome::Failed(format!("the keys cannot be used: {error}")),
    };
    let scope = Scope {
        job: pass_job,
        part: Some(&job.part),
    };
    if let Err(outcome) = take_lease(context, scope).await {
        return outcome;
    }
    let maildir = Maildir::new(context.mailbox.maildir_of(&name));
    pass(context, scope, maildir, encryptor).await
}
