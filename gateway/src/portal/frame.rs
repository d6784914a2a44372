//! The frame every page shares: the layout, rendering, and what a visitor
//! gets instead of a page (the sign-in page, an error page).

use crate::problem::ApiError;
use crate::sessions::CurrentSession;
use crate::state::AppState;
use askama::Template;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

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
    /// Whether the account has TOTP on (the step-up dialog asks for a code).
    pub has_totp: bool,
    /// Whether the account has passkeys (the step-up dialog offers one).
    pub has_passkeys: bool,
}

impl Layout {
    /// The frame of a page for a visitor without a session.
    pub fn signed_out(title: &'static str, active: &'static str) -> Self {
        Self {
            title,
            active,
            user: None,
            csrf_token: String::new(),
            has_totp: false,
            has_passkeys: false,
        }
    }

    /// The frame of a signed-in page.
    pub fn signed_in<D, P>(
        state: &AppState<D, P>,
        session: &CurrentSession,
        title: &'static str,
        active: &'static str,
    ) -> Self {
        Self {
            title,
            active,
            user: Some(session.account.name.clone()),
            csrf_token: state.sessions.csrf.token(&session.entry.id),
            has_totp: session.account.totp_enabled(),
            has_passkeys: !session.account.passkeys.is_empty(),
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
pub type Page = Result<Html<String>, Detour>;

/// Renders `template`, or [`Detour::Render`] (logged) if it fails.
pub fn render(template: &impl Template) -> Page {
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

/// An HTML page saying what went wrong, with the error's status.
pub fn error_page(error: &ApiError) -> Response {
    let (title, message) = match error {
        ApiError::NotFound => ("Page not found", "There is no page at this address.".into()),
        other => ("Something went wrong", other.to_string()),
    };
    let page = ErrorPage {
        layout: Layout::signed_out(title, ""),
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
