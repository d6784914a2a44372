//! Turning TOTP on and off.

use super::open_codes;
use crate::handlers::{hash_all, on_current_account, unreadable};
use crate::outcome::Outcome;
use crate::step::Context;
use latchkey_core::directory::{Accounts, Feature, Order, TotpChange};
use latchkey_core::job::{DisableTotp, EnableTotp, seal_context};
use latchkey_core::second_factor::totp;

/// Stores a confirmed enrolment: the secret sealed with the directory key,
/// the parameters, the confirming step, the recovery codes' hashes, and the
/// mail-client rule. A redelivery finds the same secret stored and stops.
#[tracing::instrument(skip_all, fields(account = %job.account))]
pub async fn enable_totp<D: Accounts>(context: &Context<D>, job: &EnableTotp) -> Outcome {
    let secret = match context
        .keyring
        .open(&seal_context(job.job_id, "totp_secret"), &job.sealed_secret)
    {
        Ok(secret) => secret,
        Err(error) => return unreadable(error),
    };
    let codes = match open_codes(&context.keyring, job.job_id, &job.sealed_recovery_codes) {
        Ok(codes) => codes,
        Err(outcome) => return outcome,
    };
    let hashes = hash_all(&context.hasher, codes).await;
    let directory_context = totp::secret_context(&job.account);
    let result = on_current_account(&context.directory, &job.account, |account| {
        let (secret, hashes, directory_context) = (&secret, &hashes, &directory_context);
        async move {
            match account.order_of(Feature::SecondFactor, job.job_id) {
                Order::Older => return Ok(Outcome::Superseded),
                Order::Applied => return Ok(Outcome::Done),
                Order::Newer => {}
            }
            if let Some(stored) = &account.totp_secret {
                let same = context
                    .directory_keyring
                    .open(directory_context, stored)
                    .is_ok_and(|stored| stored == *secret);
                return Ok(if same {
                    Outcome::Done
                } else {
                    Outcome::Failed(
                        "two-factor authentication was turned on by another request".into(),
                    )
                });
            }
            let sealed_secret = context.directory_keyring.seal(directory_context, secret);
            let change = TotpChange::Enable {
                job: job.job_id,
                sealed_secret: sealed_secret.as_str(),
                params: &job.params,
                last_step: job.accepted_step,
                recovery_hashes: hashes,
                mail_requires_app_password: job.mail_requires_app_password,
            };
            context.directory.write_totp(&account, change).await?;
            latchkey_core::audit!(TotpEnabled, Success, account = %job.account);
            Ok(Outcome::Done)
        }
    })
    .await;
    result.unwrap_or_else(|outcome| outcome)
}

/// Turns TOTP off and gives mail clients the primary password back; an
/// enrolment newer than this request stands.
#[tracing::instrument(skip_all, fields(account = %job.account))]
pub async fn disable_totp<D: Accounts>(context: &Context<D>, job: &DisableTotp) -> Outcome {
    let result = on_current_account(&context.directory, &job.account, |account| async move {
        match account.order_of(Feature::SecondFactor, job.job_id) {
            Order::Older => return Ok(Outcome::Superseded),
            Order::Applied => return Ok(Outcome::Done),
            Order::Newer => {}
        }
        // Written even when 2FA is off already, so an older enrolment retried later is superseded.
        let change = TotpChange::Disable { job: job.job_id };
        context.directory.write_totp(&account, change).await?;
        latchkey_core::audit!(TotpDisabled, Success, account = %job.account);
        Ok(Outcome::Done)
    })
    .await;
    result.unwrap_or_else(|outcome| outcome)
}
