//! CSRF defence for the JSON API: state-changing requests must come from the
//! portal's own origin. Together with `SameSite=Strict` cookies and the
//! `application/json` requirement (which a cross-site form cannot send
//! without a CORS preflight that we never grant) this refuses forged requests.

use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Refuses a state-changing request whose `Origin` is not ours, or which the
/// browser marks as cross-site.
pub async fn refuse_cross_origin<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe {
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
