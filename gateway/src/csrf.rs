//! CSRF defence for every state-changing request, in two layers:
//!
//! 1. [`refuse_cross_origin`]: the `Origin` (and `Sec-Fetch-Site`) must be
//!    the portal's own.
//! 2. [`check_token`], run where a request's session is resolved
//!    ([`crate::session::CurrentSession`]): a state-changing request made
//!    with a session must carry that session's CSRF token in `X-CSRF-Token`.
//!    The token is an HMAC of the session id under a gateway key, so another
//!    site can neither read nor make it, and a custom header cannot be sent
//!    cross-site without a CORS preflight, which the gateway never grants.
//!
//! Signing in uses no session (whatever cookie the browser still holds), so
//! it needs no token; it is covered by the first layer, by `SameSite=Strict`
//! cookies and by the `application/json` requirement.

use crate::problem::{ApiError, ApiResult};
use crate::session::CSRF_HEADER;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses a state-changing request whose `Origin` is not ours, or which the
/// browser marks as cross-site.
pub async fn refuse_cross_origin<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    request: Request,
    next: Next,
) -> Response {
    if changes_state(request.method()) {
        let headers = request.headers();
        let foreign_origin = headers
            .get("origin")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|origin| origin != state.public_origin);
        let cross_site = headers
            .get("sec-fetch-site")
            .is_some_and(|value| value == "cross-site");
        if foreign_origin || cross_site {
            tracing::warn!(target: "audit", event = "cross_origin_refused", path = %request.uri().path());
            return ApiError::CrossOrigin.into_response();
        }
    }
    next.run(request).await
}

/// Refuses a state-changing request made with the session `session_id`
/// unless it carries that session's CSRF token.
pub fn check_token<D, P>(state: &AppState<D, P>, parts: &Parts, session_id: &str) -> ApiResult<()> {
    if !changes_state(&parts.method) {
        return Ok(());
    }
    let token = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok());
    if token.is_some_and(|token| state.csrf_token_matches(session_id, token)) {
        return Ok(());
    }
    tracing::warn!(target: "audit", event = "csrf_token_refused", path = %parts.uri.path());
    Err(ApiError::CsrfToken)
}
