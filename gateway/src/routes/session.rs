//! Sign in and sign out.

use crate::extract::ApiJson;
use crate::problem::{ApiError, ApiResult};
use crate::session::CurrentSession;
use crate::state::AppState;
use crate::verify::Attempt;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum_extra::extract::SignedCookieJar;
use latchkey_core::directory::{Accounts, JobStore, SessionStore};
use latchkey_core::domain::Uid;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;

/// `POST /api/session` body.
#[derive(Deserialize)]
pub struct SignIn {
    username: String,
    password: SecretString,
}

/// The answer to a successful sign-in.
#[derive(Serialize)]
pub struct SignedIn {
    uid: String,
    name: String,
}

/// `POST /api/session`: verifies the password and starts a session.
#[tracing::instrument(skip_all, fields(uid = %body.username))]
pub async fn sign_in<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    parts: Parts,
    ApiJson(body): ApiJson<SignIn>,
) -> ApiResult<impl IntoResponse>
where
    D: Accounts + JobStore + SessionStore,
    P: Send + Sync + 'static,
{
    let uid = Uid::parse(&body.username).map_err(|error| ApiError::InvalidField {
        field: "username".into(),
        detail: error.to_string(),
    })?;
    let account_key = uid.as_str().to_lowercase();
    let attempt = Attempt {
        account_key: &account_key,
        address: Some(peer.ip()),
    };
    state.check_limits(&attempt)?;
    let account = state.directory.find_account(&uid).await?;
    if !state
        .password_matches(account.as_ref(), &body.password)
        .await?
    {
        state.record_failure(&attempt);
        tracing::info!(target: "audit", event = "sign_in_failed", uid = %uid, address = %peer.ip());
        return Err(ApiError::InvalidCredentials);
    }
    let account = account.expect("a match implies an account");
    state.account_failures.clear(&account_key);
    let session = state.mint_session(&account);
    let ttl = u32::try_from(state.session_ttl.as_secs()).unwrap_or(u32::MAX);
    state.directory.create_session(&session.entry, ttl).await?;
    tracing::info!(target: "audit", event = "signed_in", uid = %uid, address = %peer.ip());
    let jar = state.cookie_jar(&parts).add(session.cookie);
    let body = SignedIn {
        uid: account.uid,
        name: account.name,
    };
    Ok((jar, axum::Json(body)))
}

/// `DELETE /api/session`: ends this session everywhere.
pub async fn sign_out<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    parts: Parts,
    session: CurrentSession,
) -> ApiResult<(SignedCookieJar, StatusCode)>
where
    D: Accounts + JobStore + SessionStore,
    P: Send + Sync + 'static,
{
    state.directory.delete_session(&session.entry.id).await?;
    tracing::info!(target: "audit", event = "signed_out", uid = %session.account.uid);
    let jar = state.cookie_jar(&parts).remove(state.removal_cookie());
    Ok((jar, StatusCode::NO_CONTENT))
}
