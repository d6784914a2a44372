//! Application passwords: create (shown once), list, revoke.

use crate::credentials::ClientAddress;
use crate::extract::ApiJson;
use crate::problem::{ApiError, ApiResult};
use crate::routes::{JobAccepted, request_id};
use crate::session::CurrentSession;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use latchkey_core::app_password::{self, AppPassword, AppPasswordName, Scope};
use latchkey_core::broker::Publisher;
use latchkey_core::directory::Directory;
use latchkey_core::domain::JobId;
use latchkey_core::job::{CreateAppPassword, JobMessage, RevokeAppPasswords, seal_context};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;

/// The longest lifetime an app password may be given.
const MAX_DAYS: u32 = 3650;

/// An app password as the API shows it: never its hash.
#[derive(Serialize)]
pub struct AppPasswordView {
    id: uuid::Uuid,
    name: String,
    scopes: Vec<&'static str>,
    #[serde(with = "time::serde::rfc3339")]
    created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    expires: Option<OffsetDateTime>,
    expired: bool,
}

impl AppPasswordView {
    fn of(entry: &AppPassword, now: OffsetDateTime) -> Self {
        Self {
            id: entry.id,
            name: entry.name.to_string(),
            scopes: entry.scope.names(),
            created: entry.created,
            expires: entry.expires,
            expired: entry.expired_at(now),
        }
    }
}

/// `GET /api/app-passwords` answer.
#[derive(Serialize)]
pub struct AppPasswordList {
    app_passwords: Vec<AppPasswordView>,
}

/// `GET /api/app-passwords`: expired ones are marked until the sweep removes them.
pub async fn list<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    session: CurrentSession,
) -> Json<AppPasswordList> {
    let now = state.clock.now();
    let mut app_passwords: Vec<AppPasswordView> = session
        .account
        .app_passwords
        .iter()
        .map(|stored| AppPasswordView::of(&stored.entry, now))
        .collect();
    app_passwords.sort_by_key(|view| view.created);
    Json(AppPasswordList { app_passwords })
}

/// `POST /api/app-passwords` body.
#[derive(Deserialize)]
pub struct NewAppPassword {
    name: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    expires_in_days: Option<u32>,
    #[serde(default)]
    password: Option<SecretString>,
}

/// `POST /api/app-passwords`: makes the secret, shows it once, and queues
/// the job that stores its hash where the mail services check it.
pub async fn create<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    client: ClientAddress,
    headers: HeaderMap,
    session: CurrentSession,
    ApiJson(body): ApiJson<NewAppPassword>,
) -> ApiResult<JobAccepted>
where
    D: Directory,
    P: Publisher,
{
    let account = &session.account;
    let name = AppPasswordName::parse(&body.name).map_err(|error| ApiError::InvalidField {
        field: "name".into(),
        detail: error.to_string(),
    })?;
    let scope = match &body.scopes {
        Some(names) => Scope::parse(names),
        None => Scope::parse(&state.app_passwords.default_scopes),
    }
    .map_err(|error| ApiError::InvalidField {
        field: "scopes".into(),
        detail: error.to_string(),
    })?;
    let now = state.clock.now();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let expires = match body.expires_in_days {
        None => None,
        Some(days @ 1..=MAX_DAYS) => Some(now + time::Duration::days(i64::from(days))),
        Some(_) => {
            return Err(ApiError::InvalidField {
                field: "expires_in_days".into(),
                detail: format!(
                    "an app password lasts 1 to {MAX_DAYS} days, or leave it out for no expiry"
                ),
            });
        }
    };
    if account.primary_password.is_none() {
        return Err(ApiError::PasswordChangeRequired);
    }
    if account
        .app_passwords
        .iter()
        .any(|stored| stored.entry.name.same_as(&name))
    {
        return Err(ApiError::NameTaken);
    }
    let max = state.app_passwords.max_per_account;
    if account.app_passwords.len() >= max {
        return Err(ApiError::TooManyAppPasswords(max));
    }
    let recent = now - session.entry.verified
        <= time::Duration::minutes(state.app_passwords.reauthentication_minutes as i64);
    match &body.password {
        Some(password) => {
            state
                .confirm_password(account, password, "password", client)
                .await?;
        }
        None if recent => {}
        None => return Err(ApiError::PasswordRequired),
    }

    let secret = app_password::generate_secret();
    let job_id = JobId::new();
    // Time-ordered, so a later "revoke all" knows it was made before.
    let id = uuid::Uuid::now_v7();
    let message = JobMessage::CreateAppPassword(CreateAppPassword {
        job_id,
        account: account.dn.clone(),
        id,
        name: name.clone(),
        scope: scope.clone(),
        created: now,
        expires,
        sealed_secret: state
            .keyring
            .seal(&seal_context(job_id, "app_password"), secret.as_bytes()),
        max_per_account: max,
    });
    let accepted = state.enqueue(message, &request_id(&headers)).await?;
    let view = AppPasswordView {
        id,
        name: name.to_string(),
        scopes: scope.names(),
        created: now,
        expires,
        expired: false,
    };
    Ok(accepted
        .with("app_password", serde_json::json!(view))
        .with("secret", serde_json::json!(secret.as_str())))
}

/// `DELETE /api/app-passwords/{id}`: 404 for an id that is not the caller's.
pub async fn revoke<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    headers: HeaderMap,
    session: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<JobAccepted>
where
    D: Directory,
    P: Publisher,
{
    let account = &session.account;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    if !account
        .app_passwords
        .iter()
        .any(|stored| stored.entry.id == id)
    {
        return Err(ApiError::NotFound);
    }
    let message = JobMessage::RevokeAppPasswords(RevokeAppPasswords {
        job_id: JobId::new(),
        account: account.dn.clone(),
        ids: Some(vec![id]),
    });
    state.enqueue(message, &request_id(&headers)).await
}

/// `DELETE /api/app-passwords`: revokes every one.
pub async fn revoke_all<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    headers: HeaderMap,
    session: CurrentSession,
) -> ApiResult<JobAccepted>
where
    D: Directory,
    P: Publisher,
{
    let account = &session.account;
    if account.app_passwords.is_empty() {
        return Err(ApiError::NothingToRevoke);
    }
    let message = JobMessage::RevokeAppPasswords(RevokeAppPasswords {
        job_id: JobId::new(),
        account: account.dn.clone(),
        ids: None,
    });
    state.enqueue(message, &request_id(&headers)).await
}
