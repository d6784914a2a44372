//! CSRF defence for every state-changing request, in two layers:
//!
//! 1. [`refuse_cross_origin`]: the `Origin` (and `Sec-Fetch-Site`) must be
//!    the portal's own.
//! 2. [`Csrf::check`], run where a request's session is resolved
//!    ([`super::CurrentSession`]): a state-changing request made with a
//!    session must carry that session's CSRF token in `X-CSRF-Token`.
//!    The token is an HMAC of the session id under a gateway key, so another
//!    site can neither read nor make it, and a custom header cannot be sent
//!    cross-site without a CORS preflight, which the gateway never grants.
//!
//! Signing in uses no session (whatever cookie the browser still holds), so
//! it needs no token; it is covered by the first layer, by `SameSite=Strict`
//! cookies and by the `application/json` requirement.

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::Key;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;

/// The header a state-changing request with a session must carry the CSRF token in.
pub const HEADER: &str = "x-csrf-token";

/// Makes and checks the sessions' CSRF tokens, and knows the one origin
/// state-changing requests may come from.
pub struct Csrf {
    /// The HMAC key of the tokens, derived from the cookie key.
    key: [u8; 32],
    /// `scheme://host[:port]` of the portal.
    origin: String,
}

impl Csrf {
    /// Tokens under a key derived from `cookie_key`, and requests accepted
    /// from the origin of `public_url` only.
    pub fn new(cookie_key: &Key, public_url: &str) -> Self {
        Self {
            key: derive_key(cookie_key.signing(), b"latchkey csrf tokens"),
            origin: origin_of(public_url),
        }
    }

    /// The CSRF token of the session with public id `session_id`: an HMAC
    /// under a key of the gateway's, so it is bound to the session and
    /// cannot be made without that key.
    pub fn token(&self, session_id: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(session_id).finalize().into_bytes())
    }

    /// Whether `token` is the CSRF token of the session `session_id`
    /// (compared in constant time).
    fn token_matches(&self, session_id: &str, token: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(token)
            .is_ok_and(|tag| self.mac(session_id).verify_slice(&tag).is_ok())
    }

    fn mac(&self, session_id: &str) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(session_id.as_bytes());
        mac
    }

    /// Refuses a state-changing request made with the session `session_id`
    /// unless it carries that session's CSRF token.
    pub fn check(&self, parts: &Parts, session_id: &str) -> ApiResult<()> {
        if !changes_state(&parts.method) {
            return Ok(());
        }
        let token = parts
            .headers
            .get(HEADER)
            .and_then(|value| value.to_str().ok());
        if token.is_some_and(|token| self.token_matches(session_id, token)) {
            return Ok(());
        }
        latchkey_core::audit!(CsrfTokenRefused, Refused, path = %parts.uri.path());
        Err(ApiError::CsrfToken)
    }
}

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
            .is_some_and(|origin| origin != state.sessions.csrf.origin);
        let cross_site = headers
            .get("sec-fetch-site")
            .is_some_and(|value| value == "cross-site");
        if foreign_origin || cross_site {
            latchkey_core::audit!(CrossOriginRefused, Refused, path = %request.uri().path());
            return ApiError::CrossOrigin.into_response();
        }
    }
    next.run(request).await
}

/// A key for one purpose, derived from `master` by HMAC-SHA256.
fn derive_key(master: &[u8], purpose: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(master).expect("HMAC takes a key of any length");
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or(rest);
            format!("{scheme}://{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_origin_drops_the_path() {
        assert_eq!(
            super::origin_of("https://id.example.org/portal"),
            "https://id.example.org"
        );
        assert_eq!(
            super::origin_of("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }
}
