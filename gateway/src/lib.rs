//! Latchkey gateway: authenticates sessions, validates requests, records and
//! queues jobs. Slow or retryable work never happens on the request path.

pub mod advice;
pub mod credentials;
pub mod extract;
pub mod intake;
pub mod ops;
pub mod portal;
pub mod problem;
pub mod routes;
pub mod second_factor;
pub mod sessions;
pub mod state;
pub mod tokens;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{delete, get, post};
use latchkey_core::broker::AmqpPublisher;
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::config::Settings;
use latchkey_core::directory::LdapDirectory;
use routes::second_factor::{passkey_sign_in, passkeys};
use std::net::SocketAddr;
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use state::AppState;

/// The gateway's state with the real adapters.
pub type Gateway = AppState<LdapDirectory, AmqpPublisher>;

/// The OpenAPI description of the JSON API; `{TOTP_DIGITS}` stands for the
/// configured code length, so the document says exactly which codes pass.
const OPENAPI: &str = include_str!("openapi.json");

/// The OpenAPI document this gateway serves, for codes of `digits` digits.
pub fn openapi_document(digits: u8) -> String {
    OPENAPI.replace("{TOTP_DIGITS}", &digits.to_string())
}

/// Builds the gateway's state from the settings, connecting nothing yet.
pub fn gateway(settings: &Settings) -> anyhow::Result<Arc<Gateway>> {
    gateway_with_clock(settings, Arc::new(SystemClock))
}

/// [`gateway`] with another clock (tests move time instead of sleeping).
pub fn gateway_with_clock(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Gateway>> {
    let directory = LdapDirectory::new(&settings.ldap, settings.jobs.ttl_seconds);
    let publisher = AmqpPublisher::new(&settings.broker);
    Ok(Arc::new(AppState::new(
        settings, directory, publisher, clock,
    )?))
}

/// Every public route (portal and API), with body limits, request ids,
/// origin checks and security headers; [`ops::router`] has the operators'.
pub fn router(state: Arc<Gateway>) -> Router {
    type D = LdapDirectory;
    type P = AmqpPublisher;
    let openapi: Arc<str> = openapi_document(state.totp.digits).into();
    let api = Router::new()
        .route(
            "/api/session",
            post(routes::session::sign_in::<D, P>).delete(routes::session::sign_out::<D, P>),
        )
        .route(
            "/api/session/totp",
            post(routes::session::second_step::<D, P>),
        )
        .route(
            "/api/sessions",
            get(routes::sessions::list::<D, P>).delete(routes::sessions::end_others::<D, P>),
        )
        .route("/api/sessions/{id}", delete(routes::sessions::end::<D, P>))
        .route(
            "/api/session/passkey",
            post(passkey_sign_in::sign_in::<D, P>),
        )
        .route(
            "/api/session/passkey/options",
            post(passkey_sign_in::second_step_options::<D, P>),
        )
        .route(
            "/api/session/passkey/options/discoverable",
            post(passkey_sign_in::discoverable_options::<D, P>),
        )
        .route(
            "/api/passkeys",
            get(passkeys::list::<D, P>).post(passkeys::finish_registration::<D, P>),
        )
        .route(
            "/api/passkeys/registration",
            post(passkeys::start_registration::<D, P>),
        )
        .route(
            "/api/passkeys/authentication",
            post(passkeys::start_authentication::<D, P>),
        )
        .route(
            "/api/passkeys/{id}",
            delete(passkeys::remove::<D, P>).patch(passkeys::change::<D, P>),
        )
        .route("/api/account", get(routes::account::show::<D, P>))
        .route(
            "/api/totp/enrolment",
            post(routes::second_factor::totp::start_enrolment::<D, P>),
        )
        .route(
            "/api/totp",
            post(routes::second_factor::totp::confirm_enrolment::<D, P>)
                .delete(routes::second_factor::totp::disable::<D, P>),
        )
        .route(
            "/api/totp/recovery-codes",
            post(routes::second_factor::recovery_codes::regenerate::<D, P>),
        )
        .route("/api/password", post(routes::password::change::<D, P>))
        .route(
            "/api/password/strength",
            post(routes::password::strength::<D, P>),
        )
        .route(
            "/api/app-passwords",
            get(routes::app_passwords::list::<D, P>)
                .post(routes::app_passwords::create::<D, P>)
                .delete(routes::app_passwords::revoke_all::<D, P>),
        )
        .route(
            "/api/encryption",
            get(routes::encryption::show::<D, P>)
                .put(routes::encryption::set::<D, P>)
                .delete(routes::encryption::disable::<D, P>)
                .route_layer(DefaultBodyLimit::max(
                    routes::encryption::MAX_ENCRYPTION_BODY_BYTES,
                )),
        )
        .route(
            "/api/app-passwords/{id}",
            delete(routes::app_passwords::revoke::<D, P>),
        )
        .route("/api/jobs/{id}", get(routes::jobs::show::<D, P>))
        .route(
            "/api/openapi.json",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    openapi.to_string(),
                )
            }),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            sessions::csrf::refuse_cross_origin,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let portal = portal::routes::<D, P>().layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ));
    Router::new()
        .merge(api)
        .merge(portal)
        .fallback(portal::frame::not_found)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(portal::CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(TraceLayer::new_for_http().make_span_with(intake::request_id::span))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            credentials::client_address::resolve::<D, P>,
        ))
        .layer(axum::middleware::from_fn(intake::request_id::assign))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
