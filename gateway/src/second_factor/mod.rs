//! The second factor as presented at sign-in and step-up: a TOTP code
//! ([`totp`]), a single-use recovery code ([`recovery_codes`]) or a
//! passkey ([`passkeys`]), checked within the limits and used up so no
//! replica accepts it twice.

pub mod passkeys;
mod recovery_codes;
mod totp;

pub use passkeys::PasskeyProof;

use crate::credentials::{Attempt, ClientAddress};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use latchkey_core::directory::{Account, Accounts, FailureCounts};
use secrecy::SecretString;
use serde::Deserialize;
use std::sync::Arc;

/// A second factor as presented: a `code` from the authenticator app, a
/// `recovery_code`, or a `passkey`.
#[derive(Deserialize, Default)]
pub struct SecondFactorInput {
    /// A TOTP code.
    #[serde(default)]
    pub code: Option<String>,
    /// A recovery code.
    #[serde(default)]
    pub recovery_code: Option<SecretString>,
    /// A passkey's answer to a ceremony the gateway began.
    #[serde(default)]
    pub passkey: Option<PasskeyProof>,
}

impl SecondFactorInput {
    /// Whether no second factor was given.
    pub fn is_empty(&self) -> bool {
        self.code.is_none() && self.recovery_code.is_none() && self.passkey.is_none()
    }
}

impl<D: Accounts + FailureCounts, P: Send + Sync + 'static> AppState<D, P> {
    /// Checks a second factor for `account` and uses it up; answers how many
    /// recovery codes are left. Failures count against the account's limit.
    /// A passkey goes first when one is given: it is the strongest factor.
    pub async fn verify_second_factor(
        self: &Arc<Self>,
        account: &Account,
        input: &SecondFactorInput,
        client: ClientAddress,
    ) -> ApiResult<usize> {
        let attempt = Attempt::second_factor_of(account, client);
        self.count_attempt(&attempt).await?;
        let outcome = match (&input.passkey, &input.code, &input.recovery_code) {
            (Some(passkey), _, _) => self
                .use_passkey(account, passkey)
                .await
                .map(|()| account.recovery_codes.len()),
            (None, Some(code), _) => match self.totp_of(account) {
                Ok((secret, params)) => self.use_code(account, &secret, params, code).await,
                Err(error) => Err(error),
            },
            (None, None, Some(recovery)) => self.use_recovery_code(account, recovery).await,
            (None, None, None) => Err(ApiError::SecondFactorMissing),
        };
        match &outcome {
            Ok(_) => self.attempt_succeeded(&attempt),
            Err(
                ApiError::WrongCode { .. }
                | ApiError::CodeAlreadyUsed { .. }
                | ApiError::PasskeyRefused
                | ApiError::PasskeyAlreadyUsed,
            ) => {
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
