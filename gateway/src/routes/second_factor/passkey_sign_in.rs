//! Passkeys at sign-in: as the second step after the password, or on
//! their own (a discoverable credential its owner allowed to sign in
//! without the password).

use crate::credentials::{Attempt, ClientAddress};
use crate::extract::ApiJson;
use crate::problem::{ApiError, ApiResult};
use crate::second_factor::PasskeyProof;
use crate::second_factor::passkeys::CeremonyStarted;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::Response;
use latchkey_core::directory::Directory;
use serde::Deserialize;
use std::sync::Arc;
use webauthn_rs::prelude::RequestChallengeResponse;

/// `POST /api/session/passkey/options` body.
#[derive(Deserialize)]
pub struct SecondStepOptions {
    challenge: String,
}

/// `POST /api/session/passkey/options`: after the password, a ceremony
/// for one of the account's passkeys; the answer goes to
/// `POST /api/session/totp` as `passkey`, with the challenge.
pub async fn second_step_options<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    ApiJson(body): ApiJson<SecondStepOptions>,
) -> ApiResult<Json<CeremonyStarted<RequestChallengeResponse>>>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    let account = state.challenged_account(&body.challenge).await?;
    Ok(Json(state.start_passkey_authentication(&account)?))
}

/// `POST /api/session/passkey/options/discoverable`: a ceremony in which the
/// browser offers the passkeys it holds for this site (conditional UI).
pub async fn discoverable_options<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
) -> ApiResult<Json<CeremonyStarted<RequestChallengeResponse>>>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    Ok(Json(state.start_discoverable_authentication()?))
}

/// `POST /api/session/passkey`: signs in with a passkey alone. Only a
/// passkey its owner allowed to do so opens the account; a refusal counts
/// against the client address's limit.
pub async fn sign_in<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    client: ClientAddress,
    parts: Parts,
    ApiJson(proof): ApiJson<PasskeyProof>,
) -> ApiResult<Response>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    let attempt = Attempt::passkey_sign_in(client);
    state.count_attempt(&attempt).await?;
    let account = match state.sign_in_with_passkey(&proof).await {
        Ok(account) => account,
        Err(error @ (ApiError::PasskeyRefused | ApiError::PasskeyAlreadyUsed)) => {
            metrics::counter!("latchkey_failed_secrets_total").increment(1);
            latchkey_core::audit!(SignInFailed, Failure, method = "passkey");
            return Err(error);
        }
        Err(error) => {
            state.attempt_undecided(&attempt);
            return Err(error);
        }
    };
    state.attempt_succeeded(&attempt);
    state.forget_failures(&account).await;
    state.start_session(&parts, client, account, None).await
}
