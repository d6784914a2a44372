//! Replacing the recovery codes.

use super::open_codes;
use crate::handlers::{hash_all, on_current_account};
use crate::outcome::Outcome;
use crate::step::Context;
use latchkey_core::directory::{Accounts, Feature, Order, TotpChange};
use latchkey_core::job::RegenerateRecoveryCodes;

/// Replaces the recovery codes with the job's new ones.
#[tracing::instrument(skip_all, fields(account = %job.account))]
pub async fn regenerate_recovery_codes<D: Accounts>(
    context: &Context<D>,
    job: &RegenerateRecoveryCodes,
) -> Outcome {
    let codes = match open_codes(&context.keyring, job.job_id, &job.sealed_recovery_codes) {
        Ok(codes) => codes,
        Err(outcome) => return outcome,
    };
    let hashes = hash_all(&context.hasher, codes).await;
    let result = on_current_account(&context.directory, &job.account, |account| {
        let hashes = &hashes;
        async move {
            match account.order_of(Feature::RecoveryCodes, job.job_id) {
                Order::Older => return Ok(Outcome::Superseded),
                Order::Applied => return Ok(Outcome::Done),
                Order::Newer => {}
            }
            if !account.totp_enabled() {
                return Ok(Outcome::Failed("two-factor authentication is off".into()));
            }
            let change = TotpChange::ReplaceRecoveryCodes {
                job: job.job_id,
                recovery_hashes: hashes,
            };
            context.directory.write_totp(&account, change).await?;
            latchkey_core::audit!(RecoveryCodesReplaced, Success, account = %job.account);
            Ok(Outcome::Done)
        }
    })
    .await;
    result.unwrap_or_else(|outcome| outcome)
}
