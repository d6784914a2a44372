//! The second factor as presented at sign-in and step-up: a TOTP code
//! ([`totp`]) or a single-use recovery code ([`recovery_codes`]), checked
//! within the limits and used up so no replica accepts it twice.

mod recovery_codes;
mod totp;

use crate::credentials::{Attempt, ClientAddress};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use latchkey_core::directory::{Account, Accounts, FailureCounts};
use secrecy::SecretString;
use serde::Deserialize;
use std::sync::Arc;

/// A second factor as presented: a `code` from the authenticator app or a
/// `recovery_code`.
#[derive(Deserialize, Default)]
pub struct SecondFactorInput {
    /// A TOTP code.
    #[serde(default)]
    pub code: Option<String>,
    /// A recovery code.
    #[serde(default)]
    pub recovery_code: Option<SecretString>,
}

impl SecondFactorInput {
    /// Whether neither a code nor a recovery code was given.
    pub fn is_empty(&self) -> bool {
        self.code.is_none() && self.recovery_code.is_none()
    }
}

impl<D: Accounts + FailureCounts, P: Send + Sync + 'static> AppState<D, P> {
    /// Checks a second factor for `account` and uses it up; answers how many
    /// recovery codes are left. Failures count against the account's limit.
    pub async fn verify_second_factor(
        self: &Arc<Self>,
        account: &Account,
        input: &SecondFactorInput,
        client: ClientAddress,
    ) -> ApiResult<usize> {
        let attempt = Attempt::second_factor_of(account, client);
        self.count_attempt(&attempt).await?;
        let (secret, params) = self.totp_of(account)?;
        let outcome = match (&input.code, &input.recovery_code) {
            (Some(code), _) => self.use_code(account, &secret, params, code).await,
            (None, Some(recovery)) => self.use_recovery_code(account, recovery).await,
            (None, None) => return Err(ApiError::SecondFactorMissing),
        };
        match &outcome {
            Ok(_) => self.attempt_succeeded(&attempt),
            Err(ApiError::WrongCode { .. } | ApiError::CodeAlreadyUsed { .. }) => {
                metrics::counter!("latchkey_failed_secrets_total").increment(1);
                latchkey_core::audit!(SecondFactorFailed, Failure, account = %account.dn);
                self.count_failure_in_a_row(account).await;
            }
            Err(_) => self.attempt_undecided(&attempt),
        }
        outcome
    }

    /// The stored hash among `hashes` that `candidate` matches, verified on
    /// a blocking thread within the verification limit.
    pub(super) async fn matching_hash(
        &self,
        hashes: &[String],
        candidate: &SecretString,
    ) -> ApiResult<Option<String>> {
        let slot = self.credentials.slot().await?;
        Ok(self
            .credentials
            .matching_hash(&slot, hashes, candidate)
            .await)
    }
}
