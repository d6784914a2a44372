//! Job status, for the job's owner only.

use crate::problem::{ApiError, ApiResult};
use crate::sessions::CurrentSession;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use latchkey_core::directory::Directory;
use latchkey_core::domain::JobId;
use latchkey_core::job::JobRecord;
use std::sync::Arc;

/// `GET /api/jobs/{id}`: 404 for a job that is not the caller's, as for one
/// that does not exist, so ids reveal nothing.
pub async fn show<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    session: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<JobRecord>>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    let id = JobId::parse(&id).map_err(|_| ApiError::NotFound)?;
    match state.directory.job(id).await? {
        Some(record) if record.owner == session.account.dn => Ok(Json(record)),
        _ => Err(ApiError::NotFound),
    }
}
