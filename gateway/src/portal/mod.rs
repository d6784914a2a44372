//! The browser portal: server-rendered pages and their embedded assets.
//! The pages hold no inline script or style, so the Content-Security-Policy
//! can forbid both.

pub mod frame;
pub mod pages;
pub mod sessions;
pub mod views;

use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use latchkey_core::directory::Directory;
use std::sync::Arc;

/// The Content-Security-Policy of every answer: only this origin's script,
/// style and connections; images also from `data:` (the QR code); no
/// framing, no plugins, forms only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'";

/// An asset compiled into the binary.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// The asset `assets/<name>`, served at `/assets/<name>`.
macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            path: concat!("/assets/", $name),
            content_type: $content_type,
            body: include_str!(concat!("../../assets/", $name)),
        }
    };
}

const ASSETS: [Asset; 7] = [
    asset!("portal.css", "text/css; charset=utf-8"),
    asset!("portal.js", JAVASCRIPT),
    asset!("api.js", JAVASCRIPT),
    asset!("forms.js", JAVASCRIPT),
    asset!("passkeys.js", JAVASCRIPT),
    asset!("passkey_pages.js", JAVASCRIPT),
    asset!("logo.svg", "image/svg+xml"),
];

/// The portal's routes: pages and assets.
pub fn routes<D, P>() -> Router<Arc<AppState<D, P>>>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    let mut router = Router::new()
        .route("/", get(pages::home))
        .route("/sign-in", get(pages::sign_in::<D, P>))
        .route("/account", get(pages::account::<D, P>))
        .route("/password", get(pages::password::<D, P>))
        .route("/two-factor", get(pages::second_factor::<D, P>))
        .route("/passkeys", get(pages::passkeys::<D, P>))
        .route("/app-passwords", get(pages::app_passwords::<D, P>))
        .route("/encryption", get(pages::encryption::<D, P>))
        .route("/sessions", get(sessions::page::<D, P>));
    for asset in ASSETS {
        router = router.route(
            asset.path,
            get(move || async move {
                (
                    [
                        (
                            header::CONTENT_TYPE,
                            HeaderValue::from_static(asset.content_type),
                        ),
                        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                    ],
                    asset.body,
                )
                    .into_response()
            }),
        );
    }
    router
}
