//! The signed-in account and the state of each feature.

use crate::problem::ApiResult;
use crate::sessions::CurrentSession;
use axum::Json;
use serde::Serialize;
use time::OffsetDateTime;

/// `GET /api/account` answer.
#[derive(Serialize)]
pub struct AccountView {
    uid: String,
    name: String,
    mail: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    password_changed: Option<OffsetDateTime>,
    two_factor: TwoFactorView,
    app_passwords: AppPasswordsView,
    encryption: EncryptionView,
}

#[derive(Serialize)]
struct TwoFactorView {
    enabled: bool,
    recovery_codes_left: usize,
    mail_requires_app_password: bool,
}

#[derive(Serialize)]
struct AppPasswordsView {
    count: usize,
}

#[derive(Serialize)]
struct EncryptionView {
    enabled: bool,
    method: Option<String>,
}

/// `GET /api/account`.
pub async fn show(session: CurrentSession) -> ApiResult<Json<AccountView>> {
    let account = session.account;
    let two_factor = TwoFactorView {
        enabled: account.totp_enabled(),
        recovery_codes_left: account.recovery_codes.len(),
        mail_requires_app_password: account.mail_requires_app_password,
    };
    Ok(Json(AccountView {
        uid: account.uid,
        name: account.name,
        mail: account.mail,
        password_changed: account.password_changed,
        two_factor,
        app_passwords: AppPasswordsView {
            count: account.app_passwords.len(),
        },
        encryption: EncryptionView {
            enabled: account.encryption.is_some(),
            method: account.encryption.map(|settings| settings.method),
        },
    }))
}
