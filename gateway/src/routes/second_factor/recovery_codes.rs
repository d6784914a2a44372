//! Regenerating recovery codes.

use crate::credentials::StepUpProof;
use crate::extract::OptionalJson;
use crate::intake::{JobAccepted, Origin};
use crate::problem::{ApiError, ApiResult};
use crate::sessions::CurrentSession;
use crate::state::AppState;
use axum::extract::State;
use latchkey_core::broker::Publisher;
use latchkey_core::directory::Directory;
use latchkey_core::domain::JobId;
use latchkey_core::job::{JobMessage, RegenerateRecoveryCodes, seal_context};
use latchkey_core::second_factor::RecoveryCode;
use std::sync::Arc;

/// `POST /api/totp/recovery-codes`: after the step-up, new recovery codes
/// replace the old ones, shown once, here.
pub async fn regenerate<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    origin: Origin,
    session: CurrentSession,
    OptionalJson(proof): OptionalJson<StepUpProof>,
) -> ApiResult<JobAccepted>
where
    D: Directory,
    P: Publisher,
{
    let account = &session.account;
    if !account.totp_enabled() {
        return Err(ApiError::TwoFactorOff);
    }
    state.step_up(&session, &proof, origin.client).await?;
    let codes = RecoveryCode::generate(state.totp.recovery_codes);
    let job_id = JobId::new();
    let message = JobMessage::RegenerateRecoveryCodes(RegenerateRecoveryCodes {
        job_id,
        account: account.dn.clone(),
        sealed_recovery_codes: seal_codes(&state.keyring, job_id, &codes),
    });
    let accepted = state.enqueue(message, origin).await?;
    Ok(accepted.with("recovery_codes", shown(&codes)))
}

/// Seals the codes into the job that stores their hashes.
pub(super) fn seal_codes(
    keyring: &latchkey_core::seal::Keyring,
    job_id: JobId,
    codes: &[RecoveryCode],
) -> latchkey_core::seal::Sealed {
    let normalised: Vec<&str> = codes.iter().map(RecoveryCode::normalised).collect();
    let json = zeroize::Zeroizing::new(serde_json::to_vec(&normalised).expect("codes serialise"));
    keyring.seal(&seal_context(job_id, "recovery_codes"), &json)
}

/// The codes as shown to the user, once.
pub(super) fn shown(codes: &[RecoveryCode]) -> serde_json::Value {
    codes.iter().map(RecoveryCode::display).collect()
}
