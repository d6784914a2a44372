//! The portal's pages, rendered on the server from the directory's state.
//! Every change goes through the JSON API (see `assets/forms.js`), so the
//! API's checks, rate limits and re-authentication apply to the portal too.

use super::frame::{Detour, Layout, Page, render};
use super::views::{JobRow, KeyRow, count, last_use_words, when};
use crate::problem::ApiError;
use crate::routes::account::AccountView;
use crate::sessions::CurrentSession;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::directory::Directory;
use latchkey_core::job::{JobKind, JobState};
use std::sync::Arc;
/// `GET /`: the overview when signed in, else the sign-in page.
pub async fn home(session: Result<CurrentSession, ApiError>) -> Response {
    match session {
        Ok(_) => Redirect::to("/account").into_response(),
        Err(error) => Detour::from(error).into_response(),
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: Layout,
    expired: bool,
    /// Whether to offer a sign-in with a passkey alone.
    passkeys: bool,
}

/// `GET /sign-in`; `?expired` adds why the visitor is here again.
pub async fn sign_in<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    session: Result<CurrentSession, ApiError>,
    uri: Uri,
) -> Response {
    if session.is_ok() {
        return Redirect::to("/account").into_response();
    }
    let page = SignInPage {
        expired: uri.query() == Some("expired"),
        layout: Layout::signed_out("Sign in", "sign-in"),
        passkeys: state.webauthn.is_some(),
    };
    render(&page).into_response()
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    overview: AccountView,
    password_changed: Option<String>,
    password_set: bool,
    /// Each app password's name and last use, in words.
    app_password_uses: Vec<(String, String)>,
    key_expires: Option<String>,
    jobs: Vec<JobRow>,
}

/// `GET /account`: each protection's state, the one suggestion, and the recent jobs.
pub async fn account<D: Directory, P: Send + Sync + 'static>(
    State(state): State<Arc<AppState<D, P>>>,
    session: Result<CurrentSession, ApiError>,
) -> Page {
    let session = session?;
    let jobs = recent_jobs(&state, &session, None).await?;
    let overview = crate::routes::account::overview(&state, &session.account).await?;
    let account = &session.account;
    let page = AccountPage {
        layout: Layout::signed_in(&state, &session, "Your account", "account"),
        password_changed: account.password_changed.map(when),
        password_set: account.primary_password.is_some(),
        app_password_uses: overview
            .app_passwords
            .items
            .iter()
            .map(|item| (item.name.clone(), last_use_words(&item.last_use)))
            .collect(),
        key_expires: overview.encryption.key_expires.map(when),
        overview,
        jobs,
    };
    render(&page)
}

/// The account's jobs, newest first, of one kind or all, at most ten.
async fn recent_jobs<D: Directory, P>(
    state: &AppState<D, P>,
    session: &CurrentSession,
    kind: Option<JobKind>,
) -> Result<Vec<JobRow>, Detour> {
    let records = state
        .directory
        .jobs_of(&session.account.dn)
        .await
        .map_err(ApiError::from)?;
    Ok(records
        .iter()
        .filter(|record| kind.is_none_or(|kind| record.kind == kind))
        // A scheduled job waiting for its time (an app password's expiry)
        // is no change yet, and the page would follow it for as long as it waits.
        .filter(|record| !(record.kind.is_scheduled() && record.state == JobState::Queued))
        .take(10)
        .map(JobRow::of)
        .collect())
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    layout: Layout,
    min_length: usize,
    max_length: usize,
    min_score: u8,
    common_count: String,
}

/// `GET /password`: the form, with the rules stated before they are broken.
pub async fn password<D: Directory, P: Send + Sync + 'static>(
    State(state): State<Arc<AppState<D, P>>>,
    session: Result<CurrentSession, ApiError>,
) -> Page {
    let session = session?;
    let rules = state.policy.settings();
    let page = PasswordPage {
        layout: Layout::signed_in(&state, &session, "Change your password", "password"),
        min_length: rules.min_length,
        max_length: rules.max_length,
        min_score: rules.min_score,
        common_count: count(state.policy.common_list_len()),
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage {
    layout: Layout,
    enabled: bool,
    password_set: bool,
    recovery_codes_left: usize,
    mail_requires_app_password: bool,
}

/// `GET /two-factor`: turn 2FA on (QR code, confirm a code), or manage it.
pub async fn second_factor<D: Directory, P: Send + Sync + 'static>(
    State(state): State<Arc<AppState<D, P>>>,
    session: Result<CurrentSession, ApiError>,
) -> Page {
    let session = session?;
    let account = &session.account;
    let page = SecondFactorPage {
        layout: Layout::signed_in(&state, &session, "Two-factor authentication", "two-factor"),
        enabled: account.totp_enabled(),
        password_set: account.primary_password.is_some(),
        recovery_codes_left: account.recovery_codes.len(),
        mail_requires_app_password: account.mail_requires_app_password,
    };
    render(&page)
}

/// One passkey in the list.
struct PasskeyRow {
    id: String,
    name: String,
    created: String,
    last_used: Option<String>,
    passwordless: bool,
}

#[derive(Template)]
#[template(path = "passkeys.html")]
struct PasskeysPage {
    layout: Layout,
    rows: Vec<PasskeyRow>,
    max: usize,
    available: bool,
    password_set: bool,
    mail_requires_app_password: bool,
}

/// `GET /passkeys`: the list (added, last used, passwordless), and the
/// form to add one.
pub async fn passkeys<D: Directory, P: Send + Sync + 'static>(
    State(state): State<Arc<AppState<D, P>>>,
    session: Result<CurrentSession, ApiError>,
) -> Page {
    let session = session?;
    let account = &session.account;
    let mut stored: Vec<_> = account
        .passkeys
        .iter()
        .map(|stored| &stored.entry)
        .collect();
    stored.sort_by_key(|passkey| passkey.created);
    let rows = stored
        .into_iter()
        .map(|passkey| PasskeyRow {
            id: passkey.id.to_string(),
            name: passkey.name.to_string(),
            created: when(passkey.created),
            last_used: passkey.last_used.map(when),
            passwordless: passkey.passwordless,
        })
        .collect();
    let page = PasskeysPage {
        layout: Layout::signed_in(&state, &session, "Passkeys", "passkeys"),
        rows,
        max: crate::routes::second_factor::passkeys::MAX_PASSKEYS,
        available: state.webauthn.is_some(),
        password_set: account.primary_password.is_some(),
        mail_requires_app_password: account.mail_requires_app_password,
    };
    render(&page)
}

/// One app password in the list.
struct AppPasswordRow {
    id: String,
    name: String,
    scopes: String,
    created: String,
    expires: Option<String>,
    expired: bool,
    last_used: String,
}

#[derive(Template)]
#[template(path = "app_passwords.html")]
struct AppPasswordsPage {
    layout: Layout,
    rows: Vec<AppPasswordRow>,
    max: usize,
    password_set: bool,
}

/// `GET /app-passwords`: the list, and the form to create one.
pub async fn app_passwords<D: Directory, P: Send + Sync + 'static>(
    State(state): State<Arc<AppState<D, P>>>,
    session: Result<CurrentSession, ApiError>,
) -> Page {
    let session = session?;
    let now = state.clock.now();
    let mut uses = crate::routes::app_passwords::with_last_use(&state, &session.account).await?;
    uses.sort_by_key(|(entry, _)| entry.created);
    let rows = uses
        .into_iter()
        .map(|(entry, last_use)| AppPasswordRow {
            id: entry.id.to_string(),
            name: entry.name.as_str().to_owned(),
            scopes: entry.scope.names().join(", "),
            created: when(entry.created),
            expires: entry.expires.map(when),
            expired: entry.expired_at(now),
            last_used: upper_first(&last_use_words(&last_use)),
        })
        .collect();
    let page = AppPasswordsPage {
        layout: Layout::signed_in(&state, &session, "App passwords", "app-passwords"),
        rows,
        max: state.app_passwords.max_per_account,
        password_set: session.account.primary_password.is_some(),
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "encryption.html")]
struct EncryptionPage {
    layout: Layout,
    method: Option<String>,
    algorithm: Option<String>,
    keys: Vec<KeyRow>,
    since: Option<String>,
    protect_subject: bool,
    max_keys: usize,
    notice: &'static str,
    job: Option<JobRow>,
}

/// `GET /encryption`: the settings and stored keys (warning of one that
/// expires soon or has expired), the form, and the mailbox pass's progress.
pub async fn encryption<D: Directory, P: Send + Sync + 'static>(
    State(state): State<Arc<AppState<D, P>>>,
    session: Result<CurrentSession, ApiError>,
) -> Page {
    let session = session?;
    let job = recent_jobs(&state, &session, Some(JobKind::EncryptMailbox))
        .await?
        .into_iter()
        .next();
    let settings = session.account.encryption.as_ref();
    let now = state.clock.now();
    let keys = settings
        .map(|settings| crate::routes::encryption::stored_keys(settings, now))
        .unwrap_or_default()
        .iter()
        .map(|key| KeyRow::of(key, now))
        .collect();
    let page = EncryptionPage {
        layout: Layout::signed_in(&state, &session, "Encryption at rest", "encryption"),
        method: settings.map(|settings| settings.method.clone()),
        algorithm: settings.map(|settings| settings.algorithm.clone()),
        keys,
        since: settings.and_then(|settings| settings.since).map(when),
        protect_subject: settings.is_some_and(|settings| settings.protect_subject),
        max_keys: state.mailbox.max_keys,
        notice: crate::routes::encryption::NOTICE,
        job,
    };
    render(&page)
}

/// `text` with its first letter in upper case, to start a table cell.
fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
