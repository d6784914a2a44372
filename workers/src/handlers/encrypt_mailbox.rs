use super::mailbox_parts::{encrypt_in_parts, splits};
use super::mailbox_pass::{Scope, pass, take_lease};
use super::on_current_account;
use crate::mailbox::maildir::Maildir;
use crate::outcome::Outcome;
use crate::step::Context;
use latchkey_core::directory::{Directory, EncryptionSettings, Feature, Order};
use latchkey_core::domain::{InvalidValue, MailboxName};
use latchkey_core::encryption::Encryptor;
use latchkey_core::job::{DisableEncryption, EncryptMailbox, Envelope};
use std::sync::Arc;

/// Stores the settings, then encrypts every message of the mailbox that is
/// not encrypted yet, under a lease so only one pass runs per account. A
/// mailbox of more than `mailbox.split_above` messages is handed on as
/// part jobs that any worker takes (the last part ends the job and gives
/// the lease back). A job older than the last change of the settings
/// changes nothing; one for an account whose uid cannot name a Maildir
/// fails before anything changes.
#[tracing::instrument(skip_all, fields(account = %job.account))]
pub async fn encrypt_mailbox<D: Directory>(
    context: &Context<D>,
    envelope: &Envelope,
    job: &EncryptMailbox,
) -> Outcome {
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
    let scope = Scope { job, part: None };
    if let Err(outcome) = take_lease(context, scope).await {
        return outcome;
    }
    let outcome = match splits(context, job, &maildir).await {
        Ok(Some(parts)) => match encrypt_in_parts(context, envelope, parts).await {
            // The parts hold the lease now; the last of them gives it back.
            split @ Outcome::Split(_) => return split,
            ended => ended,
        },
        Ok(None) => pass(context, scope, maildir, encryptor).await,
        Err(outcome) => outcome,
    };
    let holder = scope.holder();
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
