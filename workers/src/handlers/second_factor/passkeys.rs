//! Registering and removing passkeys. A registration older than the
//! account's last removal is superseded, so a redelivered registration
//! never brings back a passkey its owner removed since.

use crate::handlers::on_current_account;
use crate::outcome::Outcome;
use crate::step::Context;
use latchkey_core::directory::{Accounts, Feature, Order, PasskeyChange};
use latchkey_core::job::{AddPasskey, RemovePasskey};

/// Stores a passkey the gateway verified; a redelivery finds it stored and stops.
#[tracing::instrument(skip_all, fields(account = %job.account))]
pub async fn add_passkey<D: Accounts>(context: &Context<D>, job: &AddPasskey) -> Outcome {
    let value = job.passkey.to_stored();
    let result = on_current_account(&context.directory, &job.account, |account| {
        let value = &value;
        async move {
            if account.order_of(Feature::PasskeyRemoval, job.job_id) != Order::Newer {
                return Ok(Outcome::Superseded);
            }
            if account.passkey(job.passkey.id).is_some() {
                return Ok(Outcome::Done);
            }
            let credential = job.passkey.credential_id();
            if account
                .passkeys
                .iter()
                .any(|stored| stored.entry.credential_id() == credential)
            {
                return Ok(Outcome::Failed(
                    "this passkey is registered already".into(),
                ));
            }
            let change = PasskeyChange::Add {
                value,
                mail_requires_app_password: job.mail_requires_app_password,
            };
            context.directory.write_passkeys(&account, change).await?;
            latchkey_core::audit!(PasskeyAdded, Success, account = %job.account, passkey = %job.passkey.id);
            Ok(Outcome::Done)
        }
    })
    .await;
    result.unwrap_or_else(|outcome| outcome)
}

/// Removes a passkey; the last second factor gone gives mail clients the
/// primary password back. Removing one that is gone already is done.
#[tracing::instrument(skip_all, fields(account = %job.account))]
pub async fn remove_passkey<D: Accounts>(context: &Context<D>, job: &RemovePasskey) -> Outcome {
    let result = on_current_account(&context.directory, &job.account, |account| async move {
        match account.order_of(Feature::PasskeyRemoval, job.job_id) {
            Order::Older | Order::Applied => return Ok(Outcome::Done),
            Order::Newer => {}
        }
        let Some(stored) = account.passkey(job.passkey_id) else {
            return Ok(Outcome::Done);
        };
        let change = PasskeyChange::Remove {
            job: job.job_id,
            raw: &stored.raw,
        };
        context.directory.write_passkeys(&account, change).await?;
        latchkey_core::audit!(PasskeyRemoved, Success, account = %job.account, passkey = %job.passkey_id);
        Ok(Outcome::Done)
    })
    .await;
    result.unwrap_or_else(|outcome| outcome)
}
