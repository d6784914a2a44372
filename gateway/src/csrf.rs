//! CSRF defence for every state-changing request, in two layers:
//!
//! 1. The `Origin` (and `Sec-Fetch-Site`) must be the portal's own.
//! 2. A request that carries a session cookie must also carry the session's
//!    CSRF token in `X-CSRF-Token`. The token is an HMAC of the session id
//!    under a gateway key, so another site can neither read nor make it, and
//!    a custom header cannot be sent cross-site without a CORS preflight,
//!    which the gateway never grants.
//!
//! Signing in starts a new session whatever cookie the browser still holds
//! (an expired one, say), so it needs no token; it is covered by the first
//! layer, by `SameSite=Strict` cookies and by the `application/json`
//! requirement.

use crate::problem::ApiError;
use crate::session::CSRF_HEADER;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Refuses a state-changing request from another origin, or one with a
/// session but without that session's CSRF token.
pub async fn refuse_forged_requests<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe {
        return next.run(request).await;
    }
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
    let (parts, body) = request.into_parts();
    let signing_in = parts.method == Method::POST
        && matches!(parts.uri.path(), "/api/session" | "/api/session/totp");
    if let Some(session_id) = state.session_id_of(&parts).filter(|_| !signing_in) {
        let token = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok());
        if !token.is_some_and(|token| state.csrf_token_matches(&session_id, token)) {
            tracing::warn!(target: "audit", event = "csrf_token_refused", path = %parts.uri.path());
            return ApiError::CsrfToken.into_response();
        }
    }
    next.run(Request::from_parts(parts, body)).await
}
