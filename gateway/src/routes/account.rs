//! The signed-in account: the state of each protection at a glance, and
//! the one suggestion ([`crate::advice`]) where something is weak.

use crate::advice::{self, Protections, Suggestion};
use crate::problem::ApiResult;
use crate::routes::app_passwords::with_last_use;
use crate::sessions::CurrentSession;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use latchkey_core::app_password::last_use::LastUse;
use latchkey_core::directory::{Account, Directory};
use serde::Serialize;
use std::sync::Arc;
use time::OffsetDateTime;

/// `GET /api/account` answer.
#[derive(Serialize)]
pub struct AccountView {
    pub(crate) uid: String,
    pub(crate) name: String,
    pub(crate) mail: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub(crate) password_changed: Option<OffsetDateTime>,
    /// Whole days since `password_changed`.
    pub(crate) password_age_days: Option<i64>,
    pub(crate) two_factor: TwoFactorView,
    pub(crate) app_passwords: AppPasswordsView,
    pub(crate) encryption: EncryptionView,
    /// The most important thing to do, if anything is weak.
    pub(crate) suggestion: Option<SuggestionView>,
}

/// Two-factor authentication at a glance.
#[derive(Serialize)]
pub struct TwoFactorView {
    /// Whether TOTP codes are on.
    pub(crate) enabled: bool,
    /// How many passkeys the account has registered.
    pub(crate) passkeys: usize,
    pub(crate) recovery_codes_left: usize,
    pub(crate) mail_requires_app_password: bool,
}

/// App passwords at a glance.
#[derive(Serialize)]
pub struct AppPasswordsView {
    pub(crate) count: usize,
    /// Each one's name and last use, oldest first.
    pub(crate) items: Vec<AppPasswordUse>,
}

/// One app password's last use.
#[derive(Serialize)]
pub struct AppPasswordUse {
    pub(crate) id: uuid::Uuid,
    pub(crate) name: String,
    pub(crate) last_use: LastUse,
}

/// Encryption at rest at a glance.
#[derive(Serialize)]
pub struct EncryptionView {
    pub(crate) enabled: bool,
    pub(crate) method: Option<String>,
    /// When the first of the stored keys stops encrypting (`None`: none expires).
    #[serde(with = "time::serde::rfc3339::option")]
    pub(crate) key_expires: Option<OffsetDateTime>,
}

/// The suggestion, in words, with the page where it is done.
#[derive(Serialize)]
pub struct SuggestionView {
    #[serde(flatten)]
    pub(crate) suggestion: Suggestion,
    pub(crate) message: String,
    pub(crate) page: &'static str,
}

/// The overview of `account`, as of the gateway's clock.
pub async fn overview<D: Directory, P>(
    state: &AppState<D, P>,
    account: &Account,
) -> ApiResult<AccountView> {
    let now = state.clock.now();
    let mut uses = with_last_use(state, account).await?;
    uses.sort_by_key(|(entry, _)| entry.created);
    let key_expiries: Vec<Option<OffsetDateTime>> = account
        .encryption
        .as_ref()
        .map(|settings| crate::routes::encryption::stored_keys(settings, now))
        .unwrap_or_default()
        .into_iter()
        .map(|key| key.expires)
        .collect();
    let protections = Protections {
        second_factor: account.second_factor_on(),
        idle_app_passwords: uses
            .iter()
            .filter(|(entry, last_use)| {
                last_use.idle_for(entry.created, advice::IDLE_APP_PASSWORD, now)
            })
            .map(|(entry, _)| entry.name.as_str())
            .collect(),
        key_expiries: key_expiries.clone(),
    };
    let suggestion = advice::suggestion(&protections, now).map(|suggestion| SuggestionView {
        message: suggestion.message(),
        page: suggestion.page(),
        suggestion,
    });
    Ok(AccountView {
        uid: account.uid.clone(),
        name: account.name.clone(),
        mail: account.mail.clone(),
        password_changed: account.password_changed,
        password_age_days: account
            .password_changed
            .map(|changed| (now - changed).whole_days().max(0)),
        two_factor: TwoFactorView {
            enabled: account.totp_enabled(),
            passkeys: account.passkeys.len(),
            recovery_codes_left: account.recovery_codes.len(),
            mail_requires_app_password: account.mail_requires_app_password,
        },
        app_passwords: AppPasswordsView {
            count: uses.len(),
            items: uses
                .iter()
                .map(|(entry, last_use)| AppPasswordUse {
                    id: entry.id,
                    name: entry.name.to_string(),
                    last_use: *last_use,
                })
                .collect(),
        },
        encryption: EncryptionView {
            enabled: account.encryption.is_some(),
            method: account
                .encryption
                .as_ref()
                .map(|settings| settings.method.clone()),
            key_expires: key_expiries.into_iter().flatten().min(),
        },
        suggestion,
    })
}

/// `GET /api/account`.
pub async fn show<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    session: CurrentSession,
) -> ApiResult<Json<AccountView>>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    Ok(Json(overview(&state, &session.account).await?))
}
