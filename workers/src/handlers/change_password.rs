use super::{hash_all, on_current_account, revoke_every_app_password, unreadable};
use crate::outcome::Outcome;
use crate::step::Context;
use latchkey_core::directory::{Directory, Feature, Order, PasswordWrite, SessionStore};
use latchkey_core::job::ChangePassword;

/// What the write found.
enum Applied {
    /// The password is in: by this attempt or an earlier delivery of the job.
    ThisChange,
    /// A newer change was applied first; this one must not overwrite it.
    Superseded,
}

/// Sets the account's primary password, unless a newer change was applied
/// already (the last request wins), and ends the account's other sessions.
#[tracing::instrument(skip_all, fields(account = %job.account))]
pub async fn change_password<D>(context: &Context<D>, job: &ChangePassword) -> Outcome
where
    D: Directory,
{
    let password = match context.keyring.open_string(
        &ChangePassword::seal_context(job.job_id),
        &job.sealed_password,
    ) {
        Ok(password) => password,
        Err(error) => return unreadable(error),
    };
    let hash = hash_all(&context.hasher, vec![password]).await.remove(0);
    let applied = on_current_account(&context.directory, &job.account, |account| {
        let hash = &hash;
        async move {
            match account.order_of(Feature::Password, job.job_id) {
                Order::Applied => return Ok(Applied::ThisChange),
                Order::Older => return Ok(Applied::Superseded),
                Order::Newer => {}
            }
            let write = PasswordWrite {
                account: &account,
                hash,
                job_id: job.job_id,
                at: context.clock.now(),
            };
            context.directory.write_password(write).await?;
            Ok(Applied::ThisChange)
        }
    })
    .await;
    match applied {
        Ok(Applied::ThisChange) => match end_other_sessions(context, job).await {
            Outcome::Done if context.revoke_app_passwords_on_password_change => {
                revoke_every_app_password(context, &job.account).await
            }
            other => other,
        },
        Ok(Applied::Superseded) => {
            tracing::info!("superseded by a newer change; nothing to do");
            Outcome::Superseded
        }
        Err(outcome) => outcome,
    }
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
            latchkey_core::audit!(PasswordChanged, Success, account = %job.account, sessions_ended = ended);
            Outcome::Done
        }
        // The password is in; a redelivery finds it applied and ends the sessions then.
        Err(error) => Outcome::Retry(format!("ending other sessions: {error}")),
    }
}
