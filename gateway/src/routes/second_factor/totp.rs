//! Turning TOTP on and off.

use super::recovery_codes::{seal_codes, shown};
use crate::credentials::{Attempt, StepUpProof};
use crate::extract::{ApiJson, OptionalJson};
use crate::intake::{JobAccepted, Origin};
use crate::problem::{ApiError, ApiResult};
use crate::second_factor::SecondFactorInput;
use crate::sessions::CurrentSession;
use crate::state::AppState;
use crate::tokens::{open_token, seal_token};
use axum::Json;
use axum::extract::State;
use latchkey_core::broker::Publisher;
use latchkey_core::directory::Directory;
use latchkey_core::domain::{Dn, JobId};
use latchkey_core::job::{DisableTotp, EnableTotp, JobMessage, seal_context};
use latchkey_core::second_factor::RecoveryCode;
use latchkey_core::second_factor::totp::{self, TotpCode, TotpParams};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;

/// What an enrolment token carries: everything needed to finish it on any replica.
#[derive(Serialize, Deserialize)]
struct Enrolment {
    secret: String,
    params: String,
    expires: i64,
}

fn enrolment_context(account: &Dn) -> String {
    format!("totp-enrolment/{account}")
}

/// `POST /api/totp/enrolment` answer.
#[derive(Serialize)]
pub struct EnrolmentStarted {
    otpauth_uri: String,
    secret: String,
    qr_code_png_base64: String,
    algorithm: totp::TotpAlgorithm,
    digits: u8,
    period_seconds: u64,
    token: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// `POST /api/totp/enrolment`: a new secret, shown as URI, base32 and QR
/// code, and a sealed token to confirm it with.
pub async fn start_enrolment<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    session: CurrentSession,
) -> ApiResult<Json<EnrolmentStarted>>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    let account = &session.account;
    if account.totp_enabled() {
        return Err(ApiError::TwoFactorAlreadyOn);
    }
    if account.primary_password.is_none() {
        return Err(ApiError::PasswordChangeRequired);
    }
    let params = TotpParams::from_settings(&state.totp);
    let secret = totp::new_secret();
    let label = account.mail.as_deref().unwrap_or(&account.uid);
    let (otpauth_uri, qr_code_png_base64) =
        totp::provisioning(params, &secret, &state.totp.issuer, label)
            .map_err(|error| ApiError::Internal(format!("provisioning URI: {error}")))?;
    let expires_at =
        state.clock.now() + time::Duration::minutes(state.totp.enrolment_minutes as i64);
    let enrolment = Enrolment {
        secret: totp::base32(&secret),
        params: params.to_stored(),
        expires: expires_at.unix_timestamp(),
    };
    Ok(Json(EnrolmentStarted {
        otpauth_uri,
        secret: enrolment.secret.clone(),
        qr_code_png_base64,
        algorithm: params.algorithm,
        digits: params.digits,
        period_seconds: params.period,
        token: seal_token(&state.keyring, &enrolment_context(&account.dn), &enrolment),
        expires_at,
    }))
}

/// `POST /api/totp` body.
#[derive(Deserialize)]
pub struct ConfirmEnrolment {
    token: String,
    code: String,
    /// The step-up proof (2FA is off, so the password is all of it).
    #[serde(default)]
    password: Option<SecretString>,
}

/// `POST /api/totp`: checks a code against the enrolment's secret and
/// queues the job that stores it, ending the account's other sessions; the
/// recovery codes are shown once, here.
pub async fn confirm_enrolment<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    origin: Origin,
    session: CurrentSession,
    ApiJson(body): ApiJson<ConfirmEnrolment>,
) -> ApiResult<JobAccepted>
where
    D: Directory,
    P: Publisher,
{
    let account = &session.account;
    if account.totp_enabled() {
        return Err(ApiError::TwoFactorAlreadyOn);
    }
    let enrolment: Enrolment =
        open_token(&state.keyring, &enrolment_context(&account.dn), &body.token)
            .ok_or(ApiError::InvalidEnrolmentToken)?;
    if state.clock.now().unix_timestamp() > enrolment.expires {
        return Err(ApiError::EnrolmentExpired);
    }
    let params =
        TotpParams::from_stored(&enrolment.params).map_err(|_| ApiError::InvalidEnrolmentToken)?;
    let secret = totp_rs_secret(&enrolment.secret)?;
    let code = TotpCode::parse(&body.code, params).map_err(|error| ApiError::MalformedCode {
        field: "code",
        detail: error.to_string(),
    })?;
    let attempt = Attempt::second_factor_of(account, origin.client);
    state.count_attempt(&attempt).await?;
    let now = u64::try_from(state.clock.now().unix_timestamp()).unwrap_or(0);
    let Some(step) = params.matching_step(&secret, &code, now) else {
        return Err(ApiError::WrongCode { field: "code" });
    };
    state.attempt_succeeded(&attempt);
    let proof = StepUpProof {
        password: body.password,
        factor: SecondFactorInput::default(),
    };
    state.step_up(&session, &proof, origin.client).await?;
    state.end_other_sessions(&session, "totp_enabled").await?;
    let codes = RecoveryCode::generate(state.totp.recovery_codes);
    let job_id = JobId::new();
    let message = JobMessage::EnableTotp(EnableTotp {
        job_id,
        account: account.dn.clone(),
        sealed_secret: state
            .keyring
            .seal(&seal_context(job_id, "totp_secret"), &secret),
        params: params.to_stored(),
        accepted_step: step,
        sealed_recovery_codes: seal_codes(&state.keyring, job_id, &codes),
        mail_requires_app_password: state.totp.mail_requires_app_password,
    });
    let accepted = state.enqueue(message, origin).await?;
    Ok(accepted.with("recovery_codes", shown(&codes)))
}

/// `DELETE /api/totp`: turns 2FA off after the step-up, and ends the
/// account's other sessions.
pub async fn disable<D, P>(
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
    state.end_other_sessions(&session, "totp_disabled").await?;
    let message = JobMessage::DisableTotp(DisableTotp {
        job_id: JobId::new(),
        account: account.dn.clone(),
    });
    state.enqueue(message, origin).await
}

fn totp_rs_secret(base32: &str) -> ApiResult<zeroize::Zeroizing<Vec<u8>>> {
    totp::decode_base32(base32).ok_or(ApiError::InvalidEnrolmentToken)
}
