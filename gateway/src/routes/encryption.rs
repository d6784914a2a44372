//! Encryption at rest: choose a method and algorithm, upload public keys,
//! and a worker encrypts the mailbox.

use crate::credentials::StepUpProof;
use crate::extract::{ApiJson, OptionalJson};
use crate::intake::{JobAccepted, Origin};
use crate::problem::{ApiError, ApiResult};
use crate::sessions::CurrentSession;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use base64::Engine;
use latchkey_core::broker::Publisher;
use latchkey_core::directory::{Directory, EncryptionSettings};
use latchkey_core::domain::JobId;
use latchkey_core::encryption::{Algorithm, KeySummary, Method, StoredKeys, parse_keys, summarize};
use latchkey_core::job::{DisableEncryption, EncryptMailbox, JobMessage};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;

/// Largest body of `PUT /api/encryption`: room for 256 KiB of keys and JSON.
pub const MAX_ENCRYPTION_BODY_BYTES: usize = 512 * 1024;

/// What the server can and cannot do, said wherever encryption is changed.
pub const NOTICE: &str = "Only your public keys are stored: the server cannot decrypt anything. \
Changing the keys or turning encryption off never decrypts messages that are encrypted already.";

/// `GET /api/encryption` answer.
#[derive(Serialize)]
pub struct EncryptionView {
    enabled: bool,
    method: Option<String>,
    algorithm: Option<String>,
    keys: Vec<KeySummary>,
    #[serde(with = "time::serde::rfc3339::option")]
    since: Option<OffsetDateTime>,
    protect_subject: bool,
    notice: &'static str,
}

/// `GET /api/encryption`: the settings and each stored key.
pub async fn show<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    session: CurrentSession,
) -> Json<EncryptionView>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    let settings = session.account.encryption;
    let keys = settings
        .as_ref()
        .map(|settings| stored_keys(settings, state.clock.now()))
        .unwrap_or_default();
    Json(EncryptionView {
        enabled: settings.is_some(),
        method: settings.as_ref().map(|s| s.method.clone()),
        algorithm: settings.as_ref().map(|s| s.algorithm.clone()),
        keys,
        since: settings.as_ref().and_then(|s| s.since),
        protect_subject: settings.as_ref().is_some_and(|s| s.protect_subject),
        notice: NOTICE,
    })
}

/// What each stored key of `settings` is, read at `now`. A stored key that
/// cannot be read (the directory was edited by hand) is left out and
/// logged, so the others still show and a new key can still be uploaded.
pub fn stored_keys(settings: &EncryptionSettings, now: OffsetDateTime) -> Vec<KeySummary> {
    let Some(method) = Method::parse(&settings.method) else {
        tracing::error!(method = %settings.method, "the stored encryption method is unknown");
        return Vec::new();
    };
    let now = std::time::SystemTime::from(now);
    settings
        .keys
        .iter()
        .enumerate()
        .filter_map(|(index, key)| {
            let summary = base64::engine::general_purpose::STANDARD
                .decode(key)
                .map_err(|error| error.to_string())
                .and_then(|bytes| summarize(method, &[bytes], now).map_err(|e| e.to_string()));
            match summary {
                Ok(mut summary) => summary.pop(),
                Err(error) => {
                    tracing::error!(%error, position = index + 1, "a stored key cannot be read");
                    None
                }
            }
        })
        .collect()
}

/// `PUT /api/encryption` body.
#[derive(Deserialize)]
pub struct EncryptionRequest {
    method: String,
    algorithm: String,
    keys: Vec<String>,
    #[serde(default)]
    protect_subject: bool,
    #[serde(flatten)]
    proof: StepUpProof,
}

/// `PUT /api/encryption`: checks every key (it must encrypt now, and a
/// trial encryption must succeed), then queues the job that stores the
/// settings and encrypts the mailbox.
pub async fn set<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    origin: Origin,
    session: CurrentSession,
    ApiJson(body): ApiJson<EncryptionRequest>,
) -> ApiResult<JobAccepted>
where
    D: Directory,
    P: Publisher,
{
    let account = &session.account;
    let method = Method::parse(&body.method).ok_or_else(|| ApiError::InvalidField {
        field: "method".into(),
        detail: "choose `openpgp` or `smime`".into(),
    })?;
    let algorithm = Algorithm::parse(&body.algorithm).ok_or_else(|| ApiError::InvalidField {
        field: "algorithm".into(),
        detail: "choose aes-128 or aes-256 (OpenPGP), or aes-128-cbc, aes-256-cbc, aes-128-gcm, aes-256-gcm (S/MIME)".into(),
    })?;
    if algorithm.method() != method {
        return Err(ApiError::InvalidField {
            field: "algorithm".into(),
            detail: format!(
                "{} is not an algorithm of {}",
                algorithm.as_str(),
                method.as_str()
            ),
        });
    }
    let max_keys = state.mailbox.max_keys;
    let keys = body.keys;
    let accepted_at = state.clock.now();
    let now = std::time::SystemTime::from(accepted_at);
    let recipients =
        tokio::task::spawn_blocking(move || parse_keys(algorithm, &keys, max_keys, now))
            .await
            .expect("key checks do not panic")?;
    state.step_up(&session, &body.proof, origin.client).await?;
    let message = JobMessage::EncryptMailbox(EncryptMailbox {
        job_id: JobId::new(),
        account: account.dn.clone(),
        algorithm,
        keys: StoredKeys::of(&recipients),
        protect_subject: body.protect_subject,
        accepted_at: Some(accepted_at),
    });
    let accepted = state.enqueue(message, origin).await?;
    Ok(accepted.with("notice", serde_json::json!(NOTICE)))
}

/// `DELETE /api/encryption`: new mail stays in the clear from now on; the
/// account's other sessions end.
pub async fn disable<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    origin: Origin,
    session: CurrentSession,
    OptionalJson(proof): OptionalJson<StepUpProof>,
) -> ApiResult<JobAccepted>
where
    D: Directory,
    P: Publisher,
{
    let account = &session.account;
    if account.encryption.is_none() {
        return Err(ApiError::EncryptionOff);
    }
    state.step_up(&session, &proof, origin.client).await?;
    state.end_other_sessions(&session, "encryption_off").await?;
    let message = JobMessage::DisableEncryption(DisableEncryption {
        job_id: JobId::new(),
        account: account.dn.clone(),
    });
    let accepted = state.enqueue(message, origin).await?;
    Ok(accepted.with("notice", serde_json::json!(NOTICE)))
}
