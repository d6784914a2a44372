use super::{hash_all, on_current_account, unreadable};
use crate::outcome::Outcome;
use crate::step::Context;
use latchkey_core::app_password::AppPassword;
use latchkey_core::directory::{AppPasswordStore, Directory, Feature, Order, StoredAppPassword};
use latchkey_core::domain::Dn;
use latchkey_core::job::{CreateAppPassword, RevokeAppPasswords, seal_context};
use time::OffsetDateTime;

/// What recording the metadata found.
enum Recorded {
    /// The metadata is in (now, or by an earlier delivery): install the hash.
    Install(AppPassword),
    /// App passwords were revoked after this request: it changes nothing.
    Superseded,
    /// The job cannot be applied; the text says why.
    Refused(&'static str),
}

/// Stores a new app password: metadata first (checked against the name and
/// the limit, the revision swapped), then the hash where binds find it,
/// then a look that the metadata is still there (a revocation may have
/// removed it meanwhile: then the hash goes too, so no password ever works
/// without its metadata). A redelivery finds the metadata and finishes the
/// install; a create older than the last revocation changes nothing.
#[tracing::instrument(skip_all, fields(account = %job.account, id = %job.id))]
pub async fn create_app_password<D: Directory>(
    context: &Context<D>,
    job: &CreateAppPassword,
) -> Outcome {
    let secret = match context.keyring.open_string(
        &seal_context(job.job_id, "app_password"),
        &job.sealed_secret,
    ) {
        Ok(secret) => secret,
        Err(error) => return unreadable(error),
    };
    let hash = hash_all(&context.hasher, vec![secret]).await.remove(0);
    let recorded = on_current_account(&context.directory, &job.account, |account| {
        let hash = &hash;
        async move {
            if account.order_of(Feature::AppPasswordRevocation, job.job_id) == Order::Older {
                return Ok(Recorded::Superseded);
            }
            if let Some(stored) = account
                .app_passwords
                .iter()
                .find(|stored| stored.entry.id == job.id)
            {
                return Ok(Recorded::Install(stored.entry.clone()));
            }
            if account
                .app_passwords
                .iter()
                .any(|stored| stored.entry.name.same_as(&job.name))
            {
                return Ok(Recorded::Refused(
                    "an app password with this name exists already",
                ));
            }
            if account.app_passwords.len() >= job.max_per_account {
                return Ok(Recorded::Refused(
                    "the account has as many app passwords as allowed",
                ));
            }
            let entry = AppPassword {
                id: job.id,
                name: job.name.clone(),
                scope: job.scope.clone(),
                created: job.created,
                expires: job.expires,
                hash: hash.clone(),
            };
            context
                .directory
                .record_app_password(&account, &entry)
                .await?;
            Ok(Recorded::Install(entry))
        }
    })
    .await;
    match recorded {
        Ok(Recorded::Install(entry)) => install(context, job, entry).await,
        Ok(Recorded::Superseded) => Outcome::Superseded,
        Ok(Recorded::Refused(reason)) => Outcome::Failed(reason.into()),
        Err(outcome) => outcome,
    }
}

/// Installs the hash of a recorded app password, then takes it out again
/// if a revocation removed the metadata meanwhile.
async fn install<D: Directory>(
    context: &Context<D>,
    job: &CreateAppPassword,
    entry: AppPassword,
) -> Outcome {
    let directory = &context.directory;
    if let Err(error) = directory.install_app_password(&job.account, &entry).await {
        return Outcome::Retry(error.to_string());
    }
    let still_recorded = match directory.account_at(&job.account).await {
        Ok(Some(account)) => account
            .app_passwords
            .iter()
            .any(|stored| stored.entry.id == job.id),
        Ok(None) => false,
        Err(error) => return Outcome::Retry(format!("checking the install: {error}")),
    };
    if still_recorded {
        latchkey_core::audit!(AppPasswordCreated, Success, account = %job.account, id = %job.id, scopes = ?entry.scope.names());
        return Outcome::Done;
    }
    let orphan = StoredAppPassword {
        raw: entry.to_stored(),
        entry,
    };
    match directory.remove_app_password(&job.account, &orphan).await {
        Ok(()) => Outcome::Superseded,
        Err(error) => Outcome::Retry(format!("taking out a revoked app password: {error}")),
    }
}

/// Revokes the job's app passwords (or every one made before it was
/// requested): the revocation recorded first (so an older create still
/// in flight is superseded), then hashes out, metadata last.
#[tracing::instrument(skip_all, fields(account = %job.account))]
pub async fn revoke_app_passwords<D: Directory>(
    context: &Context<D>,
    job: &RevokeAppPasswords,
) -> Outcome {
    let recorded = on_current_account(&context.directory, &job.account, |account| async move {
        context
            .directory
            .record_revocation(&account, job.job_id)
            .await?;
        Ok(account)
    })
    .await;
    let account = match recorded {
        Ok(account) => account,
        Err(outcome) => return outcome,
    };
    let chosen = account
        .app_passwords
        .iter()
        .filter(|stored| match &job.ids {
            Some(ids) => ids.contains(&stored.entry.id),
            None => job.job_id.follows(stored.entry.id),
        });
    match remove_all(&context.directory, &job.account, chosen).await {
        Ok(removed) => {
            latchkey_core::audit!(AppPasswordsRevoked, Success, account = %job.account, removed);
            Outcome::Done
        }
        Err(error) => Outcome::Retry(error.to_string()),
    }
}

/// Revokes every app password of `account`, as a password change does when
/// the operator asks for it.
pub async fn revoke_every_app_password<D: Directory>(
    context: &Context<D>,
    account: &Dn,
) -> Outcome {
    let job = RevokeAppPasswords {
        job_id: latchkey_core::domain::JobId::new(),
        account: account.clone(),
        ids: None,
    };
    revoke_app_passwords(context, &job).await
}

async fn remove_all<'a, D: AppPasswordStore>(
    directory: &D,
    account: &Dn,
    chosen: impl Iterator<Item = &'a StoredAppPassword>,
) -> latchkey_core::directory::Result<usize> {
    let mut removed = 0;
    for stored in chosen {
        directory.remove_app_password(account, stored).await?;
        removed += 1;
    }
    Ok(removed)
}

/// Removes every app password that expired by `now`, in every account.
/// Workers run it now and then; running it twice at once is harmless.
pub async fn sweep_expired<D: Directory>(
    directory: &D,
    now: OffsetDateTime,
) -> latchkey_core::directory::Result<usize> {
    let mut removed = 0;
    for account in directory.accounts_with_app_passwords().await? {
        let expired = account
            .app_passwords
            .iter()
            .filter(|stored| stored.entry.expired_at(now));
        let count = remove_all(directory, &account.dn, expired).await?;
        if count > 0 {
            latchkey_core::audit!(AppPasswordsExpired, Success, account = %account.dn, removed = count);
        }
        removed += count;
    }
    Ok(removed)
}
