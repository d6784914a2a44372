//! Application passwords: create (shown once), list, revoke.

use crate::credentials::StepUpProof;
use crate::extract::{ApiJson, OptionalJson};
use crate::intake::{JobAccepted, Origin};
use crate::problem::{ApiError, ApiResult};
use crate::sessions::CurrentSession;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use latchkey_core::app_password::last_use::LastUse;
use latchkey_core::app_password::{self, AppPassword, AppPasswordName, Scope};
use latchkey_core::broker::Publisher;
use latchkey_core::directory::{Account, Directory};
use latchkey_core::domain::JobId;
use latchkey_core::job::{CreateAppPassword, JobMessage, RevokeAppPasswords, seal_context};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

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
    /// What slapd's record of binds says about its last use.
    last_use: LastUse,
}

impl AppPasswordView {
    fn of(entry: &AppPassword, last_use: LastUse, now: OffsetDateTime) -> Self {
        Self {
            last_use,
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
) -> ApiResult<Json<AppPasswordList>>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    let now = state.clock.now();
    let mut app_passwords: Vec<AppPasswordView> = with_last_use(&state, &session.account)
        .await?
        .into_iter()
        .map(|(entry, last_use)| AppPasswordView::of(entry, last_use, now))
        .collect();
    app_passwords.sort_by_key(|view| view.created);
    Ok(Json(AppPasswordList { app_passwords }))
}

/// Each app password of `account` with what slapd's record of binds
/// (`authTimestamp`) says about its last use.
pub async fn with_last_use<'a, D: Directory, P>(
    state: &AppState<D, P>,
    account: &'a Account,
) -> ApiResult<Vec<(&'a AppPassword, LastUse)>> {
    if account.app_passwords.is_empty() {
        return Ok(Vec::new());
    }
    let binds = state.directory.last_binds(&account.dn).await?;
    let all: Vec<&AppPassword> = account
        .app_passwords
        .iter()
        .map(|stored| &stored.entry)
        .collect();
    let primary_opens_mail = !account.mail_requires_app_password;
    Ok(all
        .iter()
        .map(|entry| (*entry, binds.last_use(entry, &all, primary_opens_mail)))
        .collect())
}

/// `POST /api/app-passwords` body.
#[derive(Deserialize)]
pub struct NewAppPassword {
    name: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::extract::whole_number")]
    expires_in_days: Option<u32>,
    /// An exact expiry (RFC 3339), instead of `expires_in_days`.
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(flatten)]
    proof: StepUpProof,
}

/// When a new app password stops working: `expires_in_days` from `now`, or
/// exactly at `expires_at` (kept to the instant, in UTC), or never; at most
/// [`MAX_DAYS`] days ahead, never in the past.
fn expiry(
    expires_in_days: Option<u32>,
    expires_at: Option<&str>,
    now: OffsetDateTime,
) -> ApiResult<Option<OffsetDateTime>> {
    let invalid = |field: &str, detail: String| ApiError::InvalidField {
        field: field.into(),
        detail,
    };
    let latest = now + time::Duration::days(i64::from(MAX_DAYS));
    match (expires_in_days, expires_at) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(invalid(
            "expires_at",
            "give either expires_at or expires_in_days, not both".into(),
        )),
        (Some(days @ 1..=MAX_DAYS), None) => Ok(Some(now + time::Duration::days(i64::from(days)))),
        (Some(_), None) => Err(invalid(
            "expires_in_days",
            format!("an app password lasts 1 to {MAX_DAYS} days, or leave it out for no expiry"),
        )),
        (None, Some(raw)) => {
            let at = OffsetDateTime::parse(raw, &Rfc3339)
                .map_err(|_| {
                    invalid(
                        "expires_at",
                        "give a date and time with its offset (RFC 3339), such as 2030-01-31T18:00:00Z".into(),
                    )
                })?
                .to_offset(UtcOffset::UTC);
            if at <= now {
                Err(invalid(
                    "expires_at",
                    "that time has passed; give one in the future".into(),
                ))
            } else if at > latest {
                Err(invalid(
                    "expires_at",
                    format!("an app password lasts at most {MAX_DAYS} days from now"),
                ))
            } else {
                Ok(Some(at))
            }
        }
    }
}

/// `POST /api/app-passwords`: makes the secret, shows it once, and queues
/// the job that stores its hash where the mail services check it.
pub async fn create<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    origin: Origin,
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
    let expires = expiry(body.expires_in_days, body.expires_at.as_deref(), now)?;
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
    state.step_up(&session, &body.proof, origin.client).await?;

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
    let accepted = state.enqueue(message, origin).await?;
    let view = AppPasswordView {
        id,
        name: name.to_string(),
        scopes: scope.names(),
        created: now,
        expires,
        expired: false,
        // Not used yet; whether its uses can be told apart as in the list.
        last_use: LastUse {
            at: None,
            shared: false,
            recorded: scope != Scope::All || session.account.mail_requires_app_password,
        },
    };
    Ok(accepted
        .with("app_password", serde_json::json!(view))
        .with("secret", serde_json::json!(secret.as_str())))
}

/// `DELETE /api/app-passwords/{id}`: 404 for an id that is not the caller's.
pub async fn revoke<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    origin: Origin,
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
    state.enqueue(message, origin).await
}

/// `DELETE /api/app-passwords`: revokes every one, after the step-up.
pub async fn revoke_all<D, P>(
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
    if account.app_passwords.is_empty() {
        return Err(ApiError::NothingToRevoke);
    }
    state.step_up(&session, &proof, origin.client).await?;
    let message = JobMessage::RevokeAppPasswords(RevokeAppPasswords {
        job_id: JobId::new(),
        account: account.dn.clone(),
        ids: None,
    });
    state.enqueue(message, origin).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2030-01-01 12:00:00 UTC);

    fn refused_field(result: ApiResult<Option<OffsetDateTime>>) -> String {
        match result {
            Err(ApiError::InvalidField { field, .. }) => field,
            other => panic!(
                "not refused: {:?}",
                other.map_err(|error| error.to_string())
            ),
        }
    }

    #[test]
    fn an_exact_expiry_is_kept_to_the_instant_in_utc() {
        let at = expiry(None, Some("2030-01-01T14:00:05.250+02:00"), NOW).unwrap();
        assert_eq!(at, Some(datetime!(2030-01-01 12:00:05.250 UTC)));
        assert_eq!(at.unwrap().offset(), UtcOffset::UTC);
        assert_eq!(
            expiry(Some(2), None, NOW).unwrap(),
            Some(datetime!(2030-01-03 12:00:00 UTC))
        );
        assert_eq!(expiry(None, None, NOW).unwrap(), None);
        let latest = expiry(None, Some("2039-12-30T12:00:00Z"), NOW).unwrap();
        assert!(latest.is_some(), "3650 days ahead is the limit");
    }

    #[test]
    fn past_distant_unreadable_or_doubled_expiries_are_refused_by_field() {
        for at in [
            "2030-01-01T12:00:00Z",
            "2029-12-31T23:59:59Z",
            "2039-12-30T12:00:01Z",
            "2030-02-01",
            "2030-02-01T12:00:00",
            "next week",
        ] {
            assert_eq!(
                refused_field(expiry(None, Some(at), NOW)),
                "expires_at",
                "{at}"
            );
        }
        assert_eq!(
            refused_field(expiry(Some(1), Some("2030-02-01T00:00:00Z"), NOW)),
            "expires_at"
        );
        assert_eq!(refused_field(expiry(Some(0), None, NOW)), "expires_in_days");
        assert_eq!(
            refused_field(expiry(Some(3651), None, NOW)),
            "expires_in_days"
        );
    }
}
