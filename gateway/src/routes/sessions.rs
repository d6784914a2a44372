//! Where the account is signed in: its portal sessions, and ending them.
//!
//! Ending sessions needs no step-up. It only takes access away: the owner
//! who spots a session they do not know must be able to cut it off at once,
//! even from a session too old to change anything else without the
//! password. The worst a thief with a stolen session can do with it is sign
//! the owner out, which a sign-in undoes; they gain nothing they did not
//! have. CSRF and the origin check apply as to every change.

use crate::problem::{ApiError, ApiResult};
use crate::sessions::{CurrentSession, to_time};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::directory::{Directory, SessionEntry};
use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;

/// `GET /api/sessions` answer.
#[derive(Serialize)]
pub struct SessionList {
    /// This session first, then the most recently used first.
    sessions: Vec<SessionView>,
}

/// One portal session of the account.
#[derive(Serialize)]
pub struct SessionView {
    /// For `DELETE /api/sessions/{id}`.
    pub id: String,
    /// Whether it is the session asking.
    pub current: bool,
    /// When it signed in.
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// When it was last used, to the minute.
    #[serde(with = "time::serde::rfc3339")]
    pub last_used: OffsetDateTime,
    /// The client address it signed in from, if recorded.
    pub client_address: Option<IpAddr>,
    /// E.g. `Firefox on Linux`, if the browser said something recognisable.
    pub browser: Option<String>,
}

/// The account's sessions as `session` sees them, in the order shown.
pub async fn sessions_seen_by<D: Directory, P>(
    state: &AppState<D, P>,
    session: &CurrentSession,
) -> ApiResult<Vec<SessionView>> {
    let mut stored = state.directory.sessions_of(&session.account.dn).await?;
    // The directory sweeps expired entries only now and then, and an idle
    // one is deleted only when it comes back.
    let now = state.clock.now();
    let (ttl, idle) = (to_time(state.sessions.ttl), to_time(state.sessions.idle));
    stored.retain(|entry| now - entry.created <= ttl && now - entry.seen <= idle);
    let view = |entry: SessionEntry| SessionView {
        current: entry.id == session.entry.id,
        last_used: if entry.id == session.entry.id {
            now.max(entry.seen)
        } else {
            entry.seen
        },
        id: entry.id,
        started: entry.created,
        client_address: entry.client,
        browser: entry.browser,
    };
    let mut views: Vec<SessionView> = stored.into_iter().map(view).collect();
    views.sort_by_key(|view| (!view.current, std::cmp::Reverse(view.last_used)));
    Ok(views)
}

/// `GET /api/sessions`.
pub async fn list<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    session: CurrentSession,
) -> ApiResult<Json<SessionList>>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    let sessions = sessions_seen_by(&state, &session).await?;
    Ok(Json(SessionList { sessions }))
}

/// `DELETE /api/sessions/{id}`: ends one of the account's sessions; 404 for
/// an id that is not one of them. Ending this session signs it out.
pub async fn end<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    session: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Response>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    if id == session.entry.id {
        return crate::routes::session::sign_out(State(state), session)
            .await
            .map(IntoResponse::into_response);
    }
    let account = &session.account;
    let is_public_id = id.len() == 64 && id.bytes().all(|byte| byte.is_ascii_hexdigit());
    if !is_public_id {
        return Err(ApiError::NotFound);
    }
    let ended = state
        .directory
        .session(&id)
        .await?
        .filter(|entry| entry.owner == account.dn)
        .ok_or(ApiError::NotFound)?;
    state.directory.delete_session(&ended.id).await?;
    latchkey_core::audit!(
        SessionEndedByOwner,
        Success,
        account = %account.dn,
        client_address_of_ended = ?ended.client,
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /api/sessions`: ends every session of the account but this one.
pub async fn end_others<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    session: CurrentSession,
) -> ApiResult<Json<EndedSessions>>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    let account = &session.account;
    let ended = state
        .directory
        .delete_sessions_of(&account.dn, Some(&session.entry.id))
        .await?;
    latchkey_core::audit!(OtherSessionsEnded, Success, account = %account.dn, change = "signed_out_elsewhere", ended);
    Ok(Json(EndedSessions { ended }))
}

/// `DELETE /api/sessions` answer.
#[derive(Serialize)]
pub struct EndedSessions {
    /// How many sessions were ended.
    ended: usize,
}
