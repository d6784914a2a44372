use crate::outcome::Outcome;
use crate::step::Context;
use latchkey_core::directory::{Accounts, DirectoryError, PasswordWrite, SessionStore};
use latchkey_core::job::ChangePassword;

/// How often a write that lost a race with another writer is re-read and retried
/// before the job goes back to the queue.
const CONFLICT_RETRIES: usize = 5;

/// Sets the account's primary password, unless a newer change was applied
/// already (the last request wins), and ends the account's other sessions.
#[tracing::instrument(skip_all, fields(account = %job.account))]
pub async fn change_password<D>(context: &Context<D>, job: &ChangePassword) -> Outcome
where
    D: Accounts + SessionStore,
{
    let password = match context.keyring.open_string(
        &ChangePassword::seal_context(job.job_id),
        &job.sealed_password,
    ) {
        Ok(password) => password,
        Err(error) => {
            tracing::error!(%error, "cannot open the sealed password");
            return Outcome::Failed(
                "the request could not be read by the worker; please submit it again".into(),
            );
        }
    };
    let mut hash = None;
    for _ in 0..CONFLICT_RETRIES {
        let account = match context.directory.account_at(&job.account).await {
            Ok(Some(account)) => account,
            Ok(None) => return Outcome::Failed("the account no longer exists".into()),
            Err(error) => return Outcome::Retry(error.to_string()),
        };
        match account.password_job {
            // A redelivery of this job: finish what may not have happened.
            Some(applied) if applied == job.job_id => {
                return end_other_sessions(context, job).await;
            }
            Some(applied) if applied > job.job_id => {
                tracing::info!("superseded by a newer change; nothing to do");
                return Outcome::Done;
            }
            _ => {}
        }
        let hash = match &hash {
            Some(hash) => hash,
            None => {
                let hasher = context.hasher.clone();
                let password = password.clone();
                let computed = tokio::task::spawn_blocking(move || hasher.hash(&password))
                    .await
                    .expect("hashing does not panic");
                hash.insert(computed)
            }
        };
        let write = PasswordWrite {
            account: &account,
            hash,
            job_id: job.job_id,
            at: context.clock.now(),
        };
        match context.directory.write_password(write).await {
            Ok(()) => return end_other_sessions(context, job).await,
            Err(DirectoryError::Conflict) => continue,
            Err(DirectoryError::NoSuchEntry) => {
                return Outcome::Failed("the account no longer exists".into());
            }
            Err(error @ DirectoryError::Refused(_)) => {
                tracing::error!(%error, "the directory refused the password change");
                return Outcome::Failed("the directory refused the change".into());
            }
            Err(error) => return Outcome::Retry(error.to_string()),
        }
    }
    Outcome::Retry("the account kept changing while the password was written".into())
}

async fn end_other_sessions<D: SessionStore>(
    context: &Context<D>,
    job: &ChangePassword,
) -> Outcome {
    match context
        .directory
        .delete_sessions_of(&job.account, job.keep_session.as_deref())
        .await
    {
        Ok(ended) => {
            tracing::info!(target: "audit", event = "password_changed", account = %job.account, sessions_ended = ended);
            Outcome::Done
        }
        // The password is in; a retry finds it applied and ends the sessions then.
        Err(error) => Outcome::Retry(format!("ending other sessions: {error}")),
    }
}
