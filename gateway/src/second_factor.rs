//! The second factor: TOTP codes (each time step accepted once, compared and
//! swapped in the directory, so no replica accepts it twice) and single-use
//! recovery codes; and the sealed tokens that carry enrolments and sign-in
//! challenges between requests, so no gateway keeps state.

use crate::credentials::{Attempt, ClientAddress};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use latchkey_core::directory::{Account, Accounts, DirectoryError, FailureCounts, TotpChange};
use latchkey_core::seal::Keyring;
use latchkey_core::totp::{self, RecoveryCode, TotpCode, TotpParams};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use zeroize::Zeroizing;

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

/// Seals `value` as a token that opens only for `context`.
pub fn seal_token<T: Serialize>(keyring: &Keyring, context: &str, value: &T) -> String {
    let json = Zeroizing::new(serde_json::to_vec(value).expect("tokens serialise"));
    keyring.seal(context, &json).into_string()
}

/// Opens a token sealed for `context`, or `None` if it is not one.
pub fn open_token<T: DeserializeOwned>(keyring: &Keyring, context: &str, token: &str) -> Option<T> {
    let json = keyring.open(context, token).ok()?;
    serde_json::from_slice(&json).ok()
}

impl<D: Accounts + FailureCounts, P: Send + Sync + 'static> AppState<D, P> {
    /// The account's TOTP secret and parameters, opened.
    fn totp_of(&self, account: &Account) -> ApiResult<(Zeroizing<Vec<u8>>, TotpParams)> {
        let sealed = account
            .totp_secret
            .as_deref()
            .ok_or(ApiError::TwoFactorOff)?;
        let params = account
            .totp_params
            .as_deref()
            .and_then(|raw| TotpParams::from_stored(raw).ok())
            .ok_or_else(|| {
                ApiError::Internal(format!("unreadable TOTP parameters on {}", account.dn))
            })?;
        let secret = self
            .directory_keyring
            .open(&totp::secret_context(&account.dn), sealed)
            .map_err(|error| {
                ApiError::Internal(format!("TOTP secret of {}: {error}", account.dn))
            })?;
        Ok((secret, params))
    }

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

    async fn use_code(
        &self,
        account: &Account,
        secret: &[u8],
        params: TotpParams,
        raw: &str,
    ) -> ApiResult<usize> {
        const FIELD: &str = "code";
        let code = TotpCode::parse(raw, params).map_err(|error| ApiError::MalformedCode {
            field: FIELD,
            detail: error.to_string(),
        })?;
        let now = u64::try_from(self.clock.now().unix_timestamp()).unwrap_or(0);
        let step = params
            .matching_step(secret, &code, now)
            .ok_or(ApiError::WrongCode { field: FIELD })?;
        if account.totp_last_step.is_some_and(|last| step <= last) {
            return Err(ApiError::CodeAlreadyUsed { field: FIELD });
        }
        match self
            .directory
            .write_totp(account, TotpChange::AcceptStep { step })
            .await
        {
            Ok(()) => Ok(account.recovery_codes.len()),
            // Another request accepted a step (or changed the account) first.
            Err(DirectoryError::Conflict) => Err(ApiError::CodeAlreadyUsed { field: FIELD }),
            Err(error) => Err(error.into()),
        }
    }

    async fn use_recovery_code(&self, account: &Account, raw: &SecretString) -> ApiResult<usize>
    where
        Self: Sized,
    {
        const FIELD: &str = "recovery_code";
        let code =
            RecoveryCode::parse(raw.expose_secret()).map_err(|error| ApiError::MalformedCode {
                field: FIELD,
                detail: error.to_string(),
            })?;
        let candidate = SecretString::from(code.normalised().to_owned());
        let hash = self
            .matching_hash(&account.recovery_codes, &candidate)
            .await?
            .ok_or(ApiError::WrongCode { field: FIELD })?;
        match self
            .directory
            .write_totp(account, TotpChange::ConsumeRecoveryCode { hash: &hash })
            .await
        {
            Ok(()) => Ok(account.recovery_codes.len() - 1),
            Err(DirectoryError::Conflict) => Err(ApiError::CodeAlreadyUsed { field: FIELD }),
            Err(error) => Err(error.into()),
        }
    }

    /// The stored hash among `hashes` that `candidate` matches, verified on
    /// a blocking thread within the verification limit.
    async fn matching_hash(
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
