//! The page of where the account is signed in.

use super::frame::{Layout, Page, render};
use super::views::when;
use crate::problem::ApiError;
use crate::routes::sessions::sessions_seen_by;
use crate::sessions::CurrentSession;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use latchkey_core::directory::Directory;
use std::sync::Arc;

/// One session in the list, ready to show.
struct SessionRow {
    id: String,
    current: bool,
    browser: String,
    address: String,
    started: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    layout: Layout,
    rows: Vec<SessionRow>,
}

/// `GET /sessions`: each session, this one first, each other with its sign-out.
pub async fn page<D: Directory, P: Send + Sync + 'static>(
    State(state): State<Arc<AppState<D, P>>>,
    session: Result<CurrentSession, ApiError>,
) -> Page {
    let session = session?;
    let rows = sessions_seen_by(&state, &session)
        .await?
        .into_iter()
        .map(|view| SessionRow {
            browser: view.browser.unwrap_or_else(|| "Unknown browser".into()),
            address: view
                .client_address
                .map_or_else(|| "Not recorded".into(), |address| address.to_string()),
            started: when(view.started),
            last_used: when(view.last_used),
            current: view.current,
            id: view.id,
        })
        .collect();
    let page = SessionsPage {
        layout: Layout::signed_in(&state, &session, "Where you are signed in", "sessions"),
        rows,
    };
    render(&page)
}
