//! TOTP codes at sign-in and step-up: each time step is accepted once,
//! compared and swapped in the directory.

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use latchkey_core::directory::{Account, Accounts, DirectoryError, FailureCounts, TotpChange};
use latchkey_core::second_factor::totp::{self, TotpCode, TotpParams};
use zeroize::Zeroizing;

impl<D: Accounts + FailureCounts, P: Send + Sync + 'static> AppState<D, P> {
    /// The account's TOTP secret and parameters, opened.
    pub(super) fn totp_of(&self, account: &Account) -> ApiResult<(Zeroizing<Vec<u8>>, TotpParams)> {
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

    pub(super) async fn use_code(
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
}
