//! Changing the primary password.

use crate::extract::ApiJson;
use crate::problem::{ApiError, ApiResult};
use crate::routes::{JobAccepted, request_id};
use crate::session::CurrentSession;
use crate::state::AppState;
use crate::verify::Attempt;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use latchkey_core::broker::Publisher;
use latchkey_core::directory::{Accounts, JobStore, SessionStore};
use latchkey_core::domain::JobId;
use latchkey_core::job::{ChangePassword, JobKind, JobMessage, JobRecord};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::net::SocketAddr;
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
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: CurrentSession,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<JobAccepted>
where
    D: Accounts + JobStore + SessionStore,
    P: Publisher,
{
    let account = &session.account;
    let account_key = account.uid.to_lowercase();
    let attempt = Attempt {
        account_key: &account_key,
        address: Some(peer.ip()),
    };
    state.check_limits(&attempt)?;
    if !state.password_matches(Some(account), &body.current).await? {
        state.record_failure(&attempt);
        tracing::info!(target: "audit", event = "password_change_refused", uid = %account.uid, reason = "wrong current password");
        return Err(ApiError::WrongCurrentPassword);
    }
    if body.current.expose_secret() == body.new.expose_secret() {
        return Err(ApiError::PasswordUnchanged);
    }
    let checking = Arc::clone(&state);
    let (new, uid, mail) = (body.new.clone(), account.uid.clone(), account.mail.clone());
    tokio::task::spawn_blocking(move || checking.policy.check(&new, &uid, mail.as_deref()))
        .await
        .expect("the policy check does not panic")?;

    let job_id = JobId::new();
    // The directory keeps whole seconds; answer with what GET will show.
    let now = state
        .clock
        .now()
        .replace_nanosecond(0)
        .unwrap_or(state.clock.now());
    let record = JobRecord::queued(job_id, JobKind::ChangePassword, account.dn.clone(), 1, now);
    let message = JobMessage::ChangePassword(ChangePassword {
        job_id,
        account: account.dn.clone(),
        sealed_password: state.keyring.seal(
            &ChangePassword::seal_context(job_id),
            body.new.expose_secret().as_bytes(),
        ),
        keep_session: Some(session.entry.id.clone()),
    });
    state.directory.create_job(&record).await?;
    if let Err(error) = state
        .publisher
        .publish_job(&message, &request_id(&headers))
        .await
    {
        // Not durable, so not accepted: leave no record of a job that will never run.
        if let Err(cleanup) = state.directory.delete_job(job_id).await {
            tracing::warn!(error = %cleanup, job = %job_id, "could not remove the unqueued job's record");
        }
        return Err(error.into());
    }
    metrics::counter!("latchkey_jobs_published_total", "kind" => "change_password").increment(1);
    tracing::info!(target: "audit", event = "password_change_requested", uid = %account.uid, job = %job_id);
    Ok(JobAccepted(record))
}
