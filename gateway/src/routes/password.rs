//! Changing the primary password.

use crate::extract::ApiJson;
use crate::intake::{JobAccepted, Origin};
use crate::problem::{ApiError, ApiResult};
use crate::sessions::CurrentSession;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use latchkey_core::broker::Publisher;
use latchkey_core::directory::Directory;
use latchkey_core::domain::JobId;
use latchkey_core::job::{ChangePassword, JobMessage};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `POST /api/password` body.
#[derive(Deserialize)]
pub struct PasswordChange {
    current: SecretString,
    new: SecretString,
}

/// `POST /api/password`: re-verifies the current password, checks the new
/// one against the policy, records and queues the job, answers 202.
#[tracing::instrument(skip_all, fields(uid = %session.account.uid))]
pub async fn change<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    origin: Origin,
    session: CurrentSession,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<JobAccepted>
where
    D: Directory,
    P: Publisher,
{
    let account = &session.account;
    state
        .confirm_password(account, &body.current, "current", origin.client)
        .await?;
    if body.current.expose_secret() == body.new.expose_secret() {
        return Err(ApiError::PasswordUnchanged);
    }
    let checking = Arc::clone(&state);
    let (new, uid, mail) = (body.new.clone(), account.uid.clone(), account.mail.clone());
    tokio::task::spawn_blocking(move || checking.policy.check(&new, &uid, mail.as_deref()))
        .await
        .expect("the policy check does not panic")?;

    let job_id = JobId::new();
    let message = JobMessage::ChangePassword(ChangePassword {
        job_id,
        account: account.dn.clone(),
        sealed_password: state.keyring.seal(
            &ChangePassword::seal_context(job_id),
            body.new.expose_secret().as_bytes(),
        ),
        keep_session: Some(session.entry.id.clone()),
    });
    state.enqueue(message, origin).await
}

/// `POST /api/password/strength` body.
#[derive(Deserialize)]
pub struct StrengthCheck {
    password: SecretString,
}

/// `POST /api/password/strength` answer: what the policy would say now.
#[derive(Serialize)]
pub struct Strength {
    /// zxcvbn's score, 0 to 4.
    score: u8,
    /// The least score accepted.
    min_score: u8,
    /// Whether `POST /api/password` would accept it as the new password.
    acceptable: bool,
    /// The first rule broken, for machines.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'static str>,
    /// The first rule broken, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// `POST /api/password/strength`: the portal's live strength meter. It
/// checks no secret (nothing is compared with a stored password), changes
/// nothing and logs nothing of the candidate.
pub async fn strength<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    session: CurrentSession,
    ApiJson(body): ApiJson<StrengthCheck>,
) -> Json<Strength>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    let account = session.account;
    let checking = Arc::clone(&state);
    let assessment = tokio::task::spawn_blocking(move || {
        checking
            .policy
            .assess(&body.password, &account.uid, account.mail.as_deref())
    })
    .await
    .expect("the policy check does not panic");
    let violation = assessment.violation;
    Json(Strength {
        score: assessment.score,
        min_score: state.policy.settings().min_score,
        acceptable: violation.is_none(),
        rule: violation.as_ref().map(|violation| violation.rule()),
        detail: violation.map(|violation| violation.to_string()),
    })
}
