//! The portal's pages, rendered on the server from the directory's state.
//! Every change goes through the JSON API (see `assets/portal.js`), so the
//! API's checks, rate limits and re-authentication apply to the portal too.

use super::views::{JobRow, when};
use crate::problem::ApiError;
use crate::session::CurrentSession;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use latchkey_core::directory::Directory;
use latchkey_core::job::JobKind;
use std::sync::Arc;

/// What every page's frame needs.
pub struct Layout {
    /// The page's title.
    pub title: &'static str,
    /// The navigation entry to mark as current.
    pub active: &'static str,
    /// The signed-in user's name, if any.
    pub user: Option<String>,
    /// The session's CSRF token, for the script; empty when signed out.
    pub csrf_token: String,
}

impl Layout {
    fn signed_in<D, P>(
        state: &AppState<D, P>,
        session: &CurrentSession,
        title: &'static str,
        active: &'static str,
    ) -> Self {
        Self {
            title,
            active,
            user: Some(session.account.name.clone()),
            csrf_token: state.csrf_token(&session.entry.id),
        }
    }
}

/// Why a page is not shown.
pub enum Detour {
    /// The visitor must sign in first.
    SignIn,
    /// The session ended for lack of use; the sign-in page says so.
    Expired,
    /// Something failed; the page says what.
    Failed(Box<ApiError>),
    /// A template failed to render (a bug; logged).
    Render,
}

impl From<ApiError> for Detour {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::NotSignedIn => Detour::SignIn,
            ApiError::SessionExpired(_) => Detour::Expired,
            other => Detour::Failed(Box::new(other)),
        }
    }
}

impl IntoResponse for Detour {
    fn into_response(self) -> Response {
        match self {
            Detour::SignIn => Redirect::to("/sign-in").into_response(),
            Detour::Expired => Redirect::to("/sign-in?expired").into_response(),
            Detour::Failed(error) => error_page(&error),
            Detour::Render => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

/// A page answer: the page, or a redirect or error page instead.
type Page = Result<Html<String>, Detour>;

fn render(template: &impl Template) -> Page {
    template.render().map(Html).map_err(|error| {
        tracing::error!(%error, "a page failed to render");
        Detour::Render
    })
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    message: String,
}

fn error_page(error: &ApiError) -> Response {
    let (title, message) = match error {
        ApiError::NotFound => ("Page not found", "There is no page at this address.".into()),
        other => ("Something went wrong", other.to_string()),
    };
    let page = ErrorPage {
        layout: Layout {
            title,
            active: "",
            user: None,
            csrf_token: String::new(),
        },
        message,
    };
    match render(&page) {
        Ok(html) => (error.status(), html).into_response(),
        Err(detour) => detour.into_response(),
    }
}

/// Any other path: an HTML page for browsers, a problem for API clients.
pub async fn not_found(headers: HeaderMap) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        error_page(&ApiError::NotFound)
    } else {
        ApiError::NotFound.into_response()
    }
}

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
}

/// `GET /sign-in`; `?expired` adds why the visitor is here again.
pub async fn sign_in(session: Result<CurrentSession, ApiError>, uri: Uri) -> Response {
    if session.is_ok() {
        return Redirect::to("/account").into_response();
    }
    let page = SignInPage {
        expired: uri.query() == Some("expired"),
        layout: Layout {
            title: "Sign in",
            active: "sign-in",
            user: None,
            csrf_token: String::new(),
        },
    };
    render(&page).into_response()
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    uid: String,
    mail: Option<String>,
    password_changed: Option<String>,
    password_set: bool,
    two_factor: bool,
    recovery_codes_left: usize,
    app_passwords: usize,
    encryption: Option<String>,
    jobs: Vec<JobRow>,
}

/// `GET /account`: each feature's state and the recent jobs.
pub async fn account<D: Directory, P: Send + Sync + 'static>(
    State(state): State<Arc<AppState<D, P>>>,
    session: Result<CurrentSession, ApiError>,
) -> Page {
    let session = session?;
    let jobs = recent_jobs(&state, &session, None).await?;
    let account = &session.account;
    let page = AccountPage {
        layout: Layout::signed_in(&state, &session, "Your account", "account"),
        uid: account.uid.clone(),
        mail: account.mail.clone(),
        password_changed: account.password_changed.map(when),
        password_set: account.primary_password.is_some(),
        two_factor: account.totp_enabled(),
        recovery_codes_left: account.recovery_codes.len(),
        app_passwords: account.app_passwords.len(),
        encryption: account
            .encryption
            .as_ref()
            .map(|settings| settings.method.clone()),
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
    common_count: usize,
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
        common_count: state.policy.common_list_len(),
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "two_factor.html")]
struct TwoFactorPage {
    layout: Layout,
    enabled: bool,
    password_set: bool,
    recovery_codes_left: usize,
    mail_requires_app_password: bool,
}

/// `GET /two-factor`: turn 2FA on (QR code, confirm a code), or manage it.
pub async fn two_factor<D: Directory, P: Send + Sync + 'static>(
    State(state): State<Arc<AppState<D, P>>>,
    session: Result<CurrentSession, ApiError>,
) -> Page {
    let session = session?;
    let account = &session.account;
    let page = TwoFactorPage {
        layout: Layout::signed_in(&state, &session, "Two-factor authentication", "two-factor"),
        enabled: account.totp_enabled(),
        password_set: account.primary_password.is_some(),
        recovery_codes_left: account.recovery_codes.len(),
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
}

#[derive(Template)]
#[template(path = "app_passwords.html")]
struct AppPasswordsPage {
    layout: Layout,
    rows: Vec<AppPasswordRow>,
    max: usize,
    password_set: bool,
    needs_password: bool,
    reauthentication_minutes: u64,
}

/// `GET /app-passwords`: the list, and the form to create one.
pub async fn app_passwords<D: Directory, P: Send + Sync + 'static>(
    State(state): State<Arc<AppState<D, P>>>,
    session: Result<CurrentSession, ApiError>,
) -> Page {
    let session = session?;
    let now = state.clock.now();
    let mut stored: Vec<_> = session.account.app_passwords.iter().collect();
    stored.sort_by_key(|stored| stored.entry.created);
    let rows = stored
        .into_iter()
        .map(|stored| AppPasswordRow {
            id: stored.entry.id.to_string(),
            name: stored.entry.name.as_str().to_owned(),
            scopes: stored.entry.scope.names().join(", "),
            created: when(stored.entry.created),
            expires: stored.entry.expires.map(when),
            expired: stored.entry.expired_at(now),
        })
        .collect();
    let reauthentication_minutes = state.app_passwords.reauthentication_minutes;
    let page = AppPasswordsPage {
        layout: Layout::signed_in(&state, &session, "App passwords", "app-passwords"),
        rows,
        max: state.app_passwords.max_per_account,
        password_set: session.account.primary_password.is_some(),
        needs_password: now - session.entry.verified
            > time::Duration::minutes(reauthentication_minutes as i64),
        reauthentication_minutes,
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "encryption.html")]
struct EncryptionPage {
    layout: Layout,
    method: Option<String>,
    algorithm: Option<String>,
    keys: usize,
    since: Option<String>,
    protect_subject: bool,
    max_keys: usize,
    notice: &'static str,
    job: Option<JobRow>,
}

/// `GET /encryption`: the settings, the form, and the mailbox pass's progress.
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
    let page = EncryptionPage {
        layout: Layout::signed_in(&state, &session, "Encryption at rest", "encryption"),
        method: settings.map(|settings| settings.method.clone()),
        algorithm: settings.map(|settings| settings.algorithm.clone()),
        keys: settings.map_or(0, |settings| settings.keys.len()),
        since: settings.and_then(|settings| settings.since).map(when),
        protect_subject: settings.is_some_and(|settings| settings.protect_subject),
        max_keys: state.mailbox.max_keys,
        notice: crate::routes::encryption::NOTICE,
        job,
    };
    render(&page)
}
