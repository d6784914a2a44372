//! Managing passkeys: registering (a two-step ceremony, its state sealed
//! into a token), listing, renaming, allowing sign-in without a password,
//! removing; and the ceremony a signed-in user's step-up needs.

use crate::credentials::StepUpProof;
use crate::extract::{ApiJson, OptionalJson};
use crate::intake::{JobAccepted, Origin};
use crate::problem::{ApiError, ApiResult};
use crate::second_factor::passkeys::{CeremonyStarted, passkey_with_credential};
use crate::sessions::CurrentSession;
use crate::state::AppState;
use crate::tokens::{open_token, seal_token};
use axum::Json;
use axum::extract::{Path, State};
use latchkey_core::broker::Publisher;
use latchkey_core::directory::{Account, Directory, DirectoryError, PasskeyChange};
use latchkey_core::domain::{Dn, JobId};
use latchkey_core::job::{AddPasskey, JobMessage, RemovePasskey};
use latchkey_core::second_factor::{PasskeyName, StoredPasskey};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;
use webauthn_rs::prelude::{
    PasskeyRegistration, RegisterPublicKeyCredential, RequestChallengeResponse,
};

/// Most passkeys one account may hold.
pub const MAX_PASSKEYS: usize = 20;

/// A passkey as the API shows it: never the key itself.
#[derive(Serialize)]
pub struct PasskeyView {
    id: uuid::Uuid,
    name: String,
    #[serde(with = "time::serde::rfc3339")]
    created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    last_used: Option<OffsetDateTime>,
    passwordless: bool,
}

impl From<&StoredPasskey> for PasskeyView {
    fn from(passkey: &StoredPasskey) -> Self {
        Self {
            id: passkey.id,
            name: passkey.name.to_string(),
            created: passkey.created,
            last_used: passkey.last_used,
            passwordless: passkey.passwordless,
        }
    }
}

/// `GET /api/passkeys` answer.
#[derive(Serialize)]
pub struct PasskeyList {
    /// Whether this deployment can register passkeys at all.
    available: bool,
    passkeys: Vec<PasskeyView>,
}

/// `GET /api/passkeys`: the account's passkeys, oldest first.
pub async fn list<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    session: CurrentSession,
) -> Json<PasskeyList> {
    let mut passkeys: Vec<PasskeyView> = session
        .account
        .passkeys
        .iter()
        .map(|stored| PasskeyView::from(&stored.entry))
        .collect();
    passkeys.sort_by_key(|view| view.created);
    Json(PasskeyList {
        available: state.webauthn.is_some(),
        passkeys,
    })
}

/// What a registration token carries.
#[derive(Serialize, Deserialize)]
struct Registration {
    state: PasskeyRegistration,
    expires: i64,
}

fn registration_context(account: &Dn) -> String {
    format!("passkey-registration/{account}")
}

/// `POST /api/passkeys/registration`: the options for
/// `navigator.credentials.create()` and a token to finish with. The
/// authenticator is asked for a discoverable credential where it can make
/// one, so the passkey can later sign in without the password.
pub async fn start_registration<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    session: CurrentSession,
) -> ApiResult<Json<CeremonyStarted<serde_json::Value>>>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    let webauthn = state.relying_party()?;
    let account = &session.account;
    if account.primary_password.is_none() {
        return Err(ApiError::PasswordChangeRequired);
    }
    if account.passkeys.len() >= MAX_PASSKEYS {
        return Err(ApiError::TooManyPasskeys(MAX_PASSKEYS));
    }
    let handle = account
        .user_handle
        .ok_or_else(|| ApiError::Internal(format!("no entryUUID on {}", account.dn)))?;
    let registered = account
        .passkeys
        .iter()
        .map(|stored| stored.entry.credential.cred_id().clone())
        .collect();
    let label = account.mail.as_deref().unwrap_or(&account.uid);
    let (options, registration) = webauthn
        .start_passkey_registration(handle, label, &account.name, Some(registered))
        .map_err(|error| ApiError::Internal(format!("passkey registration: {error}")))?;
    let mut options = serde_json::json!(options);
    // webauthn-rs discourages a resident key; one is what lets the passkey
    // name its account later, so ask for one where the authenticator can.
    if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection") {
        selection["residentKey"] = "preferred".into();
    }
    let (_, expires_at) = state.ceremony_times();
    let token = Registration {
        state: registration,
        expires: expires_at.unix_timestamp(),
    };
    Ok(Json(CeremonyStarted {
        options,
        token: seal_token(&state.keyring, &registration_context(&account.dn), &token),
        expires_at,
    }))
}

/// `POST /api/passkeys` body.
#[derive(Deserialize)]
pub struct FinishRegistration {
    token: String,
    name: String,
    credential: Box<RegisterPublicKeyCredential>,
    /// Whether it may sign in without the password.
    #[serde(default)]
    passwordless: bool,
    #[serde(flatten)]
    proof: StepUpProof,
}

/// `POST /api/passkeys`: verifies the authenticator's answer and, after the
/// step-up, queues the job that stores the passkey, ending the account's
/// other sessions.
pub async fn finish_registration<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    origin: Origin,
    session: CurrentSession,
    ApiJson(body): ApiJson<FinishRegistration>,
) -> ApiResult<JobAccepted>
where
    D: Directory,
    P: Publisher,
{
    let webauthn = state.relying_party()?;
    let account = &session.account;
    let name = parse_name(&body.name)?;
    let registration: Registration = open_token(
        &state.keyring,
        &registration_context(&account.dn),
        &body.token,
    )
    .ok_or(ApiError::InvalidPasskeyToken)?;
    if state.clock.now().unix_timestamp() > registration.expires {
        return Err(ApiError::PasskeyCeremonyExpired);
    }
    let credential = webauthn
        .finish_passkey_registration(&body.credential, &registration.state)
        .map_err(|error| ApiError::PasskeyNotVerified(error.to_string()))?;
    if passkey_with_credential(account, credential.cred_id().as_ref()).is_some() {
        return Err(ApiError::PasskeyAlreadyRegistered);
    }
    if account.passkeys.len() >= MAX_PASSKEYS {
        return Err(ApiError::TooManyPasskeys(MAX_PASSKEYS));
    }
    state.step_up(&session, &body.proof, origin.client).await?;
    state.end_other_sessions(&session, "passkey_added").await?;
    let passkey = StoredPasskey {
        id: uuid::Uuid::new_v4(),
        name,
        created: state.clock.now(),
        last_used: None,
        passwordless: body.passwordless,
        credential,
    };
    let view = PasskeyView::from(&passkey);
    let message = JobMessage::AddPasskey(AddPasskey {
        job_id: JobId::new(),
        account: account.dn.clone(),
        passkey,
        mail_requires_app_password: state.totp.mail_requires_app_password,
    });
    let accepted = state.enqueue(message, origin).await?;
    Ok(accepted.with("passkey", serde_json::json!(view)))
}

/// `PATCH /api/passkeys/{id}` body.
#[derive(Deserialize)]
pub struct ChangePasskey {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    passwordless: Option<bool>,
    #[serde(flatten)]
    proof: StepUpProof,
}

/// `PATCH /api/passkeys/{id}`: renames a passkey or turns its sign-in
/// without a password on or off (turning it on needs the step-up: the
/// passkey alone then opens the account). Written at once, compared and
/// swapped like a use of the passkey.
pub async fn change<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    origin: Origin,
    session: CurrentSession,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChangePasskey>,
) -> ApiResult<Json<PasskeyView>>
where
    D: Directory,
    P: Publisher,
{
    let account = &session.account;
    let stored = passkey_of(account, &id)?;
    let mut updated = stored.entry.clone();
    if let Some(name) = &body.name {
        updated.name = parse_name(name)?;
    }
    if let Some(passwordless) = body.passwordless {
        if passwordless && !stored.entry.passwordless {
            state.step_up(&session, &body.proof, origin.client).await?;
        }
        updated.passwordless = passwordless;
    }
    let change = PasskeyChange::Update {
        old: &stored.raw,
        new: &updated.to_stored(),
    };
    match state.directory.write_passkeys(account, change).await {
        Ok(()) => {}
        Err(DirectoryError::Conflict) => return Err(ApiError::PasskeyChangedMeanwhile),
        Err(error) => return Err(error.into()),
    }
    latchkey_core::audit!(PasskeyChanged, Success, account = %account.dn, passkey = %updated.id, passwordless = updated.passwordless);
    Ok(Json(PasskeyView::from(&updated)))
}

/// `DELETE /api/passkeys/{id}`: after the step-up, queues the job that
/// removes it, ending the account's other sessions.
pub async fn remove<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    origin: Origin,
    session: CurrentSession,
    Path(id): Path<String>,
    OptionalJson(proof): OptionalJson<StepUpProof>,
) -> ApiResult<JobAccepted>
where
    D: Directory,
    P: Publisher,
{
    let account = &session.account;
    let passkey_id = passkey_of(account, &id)?.entry.id;
    state.step_up(&session, &proof, origin.client).await?;
    state
        .end_other_sessions(&session, "passkey_removed")
        .await?;
    let message = JobMessage::RemovePasskey(RemovePasskey {
        job_id: JobId::new(),
        account: account.dn.clone(),
        passkey_id,
    });
    state.enqueue(message, origin).await
}

/// `POST /api/passkeys/authentication`: a ceremony to prove a passkey in a
/// step-up (the answer goes in the changed request's `passkey` field).
pub async fn start_authentication<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    session: CurrentSession,
) -> ApiResult<Json<CeremonyStarted<RequestChallengeResponse>>>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    Ok(Json(state.start_passkey_authentication(&session.account)?))
}

/// A passkey name as typed, or 422 saying what is wrong with it.
fn parse_name(raw: &str) -> ApiResult<PasskeyName> {
    PasskeyName::parse(raw).map_err(|error| ApiError::InvalidField {
        field: "name".into(),
        detail: error.to_string(),
    })
}

/// The account's passkey named by the path's `id`; 404 for anything else.
fn passkey_of<'a>(
    account: &'a Account,
    id: &str,
) -> ApiResult<&'a latchkey_core::directory::StoredPasskeyValue> {
    let id = uuid::Uuid::parse_str(id).map_err(|_| ApiError::NotFound)?;
    account.passkey(id).ok_or(ApiError::NotFound)
}
