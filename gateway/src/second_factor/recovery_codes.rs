//! Recovery codes at sign-in and step-up: each opens once.

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use latchkey_core::directory::{Account, Accounts, DirectoryError, FailureCounts, TotpChange};
use latchkey_core::second_factor::RecoveryCode;
use secrecy::{ExposeSecret, SecretString};

impl<D: Accounts + FailureCounts, P: Send + Sync + 'static> AppState<D, P> {
    pub(super) async fn use_recovery_code(
        &self,
        account: &Account,
        raw: &SecretString,
    ) -> ApiResult<usize>
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
}
