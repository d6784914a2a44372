//! The browser portal: server-rendered pages and their embedded assets.
//! The pages hold no inline script or style, so the Content-Security-Policy
//! can forbid both.

pub mod frame;
pub mod pages;
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

const ASSETS: [Asset; 5] = [
    Asset {
        path: "/assets/portal.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../assets/portal.css"),
    },
    Asset {
        path: "/assets/portal.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/portal.js"),
    },
    Asset {
        path: "/assets/api.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/api.js"),
    },
    Asset {
        path: "/assets/forms.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/forms.js"),
    },
    Asset {
        path: "/assets/logo.svg",
        content_type: "image/svg+xml",
        body: include_str!("../../assets/logo.svg"),
    },
];

/// The portal's routes: pages and assets.
pub fn routes<D, P>() -> Router<Arc<AppState<D, P>>>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    let mut router = Router::new()
        .route("/", get(pages::home))
        .route("/sign-in", get(pages::sign_in))
        .route("/account", get(pages::account::<D, P>))
        .route("/password", get(pages::password::<D, P>))
        .route("/two-factor", get(pages::two_factor::<D, P>))
        .route("/app-passwords", get(pages::app_passwords::<D, P>))
        .route("/encryption", get(pages::encryption::<D, P>));
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
