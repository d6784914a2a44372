//! Sign in and sign out.

use crate::credentials::{Attempt, ClientAddress};
use crate::extract::ApiJson;
use crate::problem::{ApiError, ApiResult};
use crate::second_factor::SecondFactorInput;
use crate::sessions::CurrentSession;
use crate::state::AppState;
use crate::tokens::{open_token, seal_token};
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use latchkey_core::directory::{Account, Directory, SessionStore};
use latchkey_core::domain::{Dn, Uid};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `POST /api/session` body.
#[derive(Deserialize)]
pub struct SignIn {
    username: String,
    password: SecretString,
}

/// The answer to a completed sign-in.
#[derive(Serialize)]
pub struct SignedIn {
    second_factor_required: bool,
    uid: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes_left: Option<usize>,
    /// To send in `X-CSRF-Token` with every state-changing request.
    csrf_token: String,
}

/// The answer to a correct password on an account with 2FA: no session yet.
#[derive(Serialize)]
pub struct SecondFactorRequired {
    second_factor_required: bool,
    challenge: String,
    expires_in_seconds: u64,
    /// What the account can give: `passkey`, `code`, `recovery_code`.
    factors: Vec<&'static str>,
}

/// The second factors `account` has, in the order the portal offers them.
fn factors_of(account: &Account) -> Vec<&'static str> {
    let mut factors = Vec::new();
    if !account.passkeys.is_empty() {
        factors.push("passkey");
    }
    if account.totp_enabled() {
        factors.push("code");
    }
    if !account.recovery_codes.is_empty() {
        factors.push("recovery_code");
    }
    factors
}

/// What a sign-in challenge carries. It dies when the account's revision
/// moves, which every accepted second factor does: single use, on any replica.
#[derive(Serialize, Deserialize)]
struct Challenge {
    account: Dn,
    revision: Option<u64>,
    expires: i64,
}

const CHALLENGE_CONTEXT: &str = "sign-in-challenge";

impl<D: SessionStore, P> AppState<D, P> {
    /// Starts a session for `account`, signing in from `client`, and
    /// answers with its cookie.
    pub(crate) async fn start_session(
        &self,
        parts: &Parts,
        client: ClientAddress,
        account: Account,
        recovery_codes_left: Option<usize>,
    ) -> ApiResult<Response> {
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok());
        let session = self
            .sessions
            .mint(&account, self.clock.now(), client.0, user_agent);
        let ttl = u32::try_from(self.sessions.ttl.as_secs()).unwrap_or(u32::MAX);
        self.directory.create_session(&session.entry, ttl).await?;
        latchkey_core::audit!(SignedIn, Success, account = %account.dn);
        let csrf_token = self.sessions.csrf.token(&session.entry.id);
        let jar = self.sessions.cookie_jar(parts).add(session.cookie);
        // The CSRF token is read by script as it is: not signed.
        let csrf_cookie = CookieJar::new().add(self.sessions.csrf_cookie(&session.entry.id));
        let body = SignedIn {
            second_factor_required: false,
            uid: account.uid,
            name: account.name,
            recovery_codes_left,
            csrf_token,
        };
        Ok((jar, csrf_cookie, axum::Json(body)).into_response())
    }
}

/// `POST /api/session`: verifies the password and starts a session.
#[tracing::instrument(skip_all, fields(uid = %body.username))]
pub async fn sign_in<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    client: ClientAddress,
    parts: Parts,
    ApiJson(body): ApiJson<SignIn>,
) -> ApiResult<Response>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    let uid = Uid::parse(&body.username).map_err(|error| ApiError::InvalidField {
        field: "username".into(),
        detail: error.to_string(),
    })?;
    // Counted before anything is awaited; under the entry too once it is known.
    let by_name = Attempt::sign_in(&body.username, client);
    state.count_attempt(&by_name).await?;
    let account = match state.directory.find_account(&uid).await {
        Ok(account) => account,
        Err(error) => {
            state.attempt_undecided(&by_name);
            return Err(error.into());
        }
    };
    let by_entry = account.as_ref().map(|account| by_name.of_entry(account));
    if let Some(by_entry) = &by_entry {
        state.count_attempt(by_entry).await?;
    }
    // A locked account's password alone opens nothing; with a second
    // factor the sign-in goes on, and completing it lifts the lock.
    if let Some(locked) = account
        .as_ref()
        .filter(|account| state.locked_out(account) && !account.second_factor_on())
    {
        latchkey_core::audit!(SignInRefusedLocked, Refused, account = %locked.dn);
        return Err(ApiError::AccountLocked);
    }
    let matched = state
        .password_matches(account.as_ref(), &body.password)
        .await;
    let attempts = std::iter::once(&by_name).chain(by_entry.as_ref());
    match matched {
        Ok(true) => attempts.for_each(|attempt| state.attempt_succeeded(attempt)),
        Ok(false) => {
            metrics::counter!("latchkey_failed_secrets_total").increment(1);
            match &account {
                Some(account) => {
                    latchkey_core::audit!(SignInFailed, Failure, account = %account.dn)
                }
                None => latchkey_core::audit!(SignInFailed, Failure, unknown_username = %uid),
            }
            if let Some(account) = &account {
                state.count_failure_in_a_row(account).await;
            }
            return Err(ApiError::InvalidCredentials);
        }
        Err(error) => {
            attempts.for_each(|attempt| state.attempt_undecided(attempt));
            return Err(error);
        }
    }
    let account = account.expect("a match implies an account");
    if account.second_factor_on() {
        let lifetime = time::Duration::minutes(state.totp.challenge_minutes as i64);
        let challenge = Challenge {
            account: account.dn.clone(),
            revision: account.revision,
            expires: (state.clock.now() + lifetime).unix_timestamp(),
        };
        let body = SecondFactorRequired {
            second_factor_required: true,
            challenge: seal_token(&state.keyring, CHALLENGE_CONTEXT, &challenge),
            expires_in_seconds: lifetime.whole_seconds().unsigned_abs(),
            factors: factors_of(&account),
        };
        return Ok(axum::Json(body).into_response());
    }
    state.forget_failures(&account).await;
    state.start_session(&parts, client, account, None).await
}

/// `POST /api/session/totp` body.
#[derive(Deserialize)]
pub struct SecondStep {
    challenge: String,
    #[serde(flatten)]
    factor: SecondFactorInput,
}

/// `POST /api/session/totp`: the second step of a sign-in with 2FA.
pub async fn second_step<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    client: ClientAddress,
    parts: Parts,
    ApiJson(body): ApiJson<SecondStep>,
) -> ApiResult<Response>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    let account = state.challenged_account(&body.challenge).await?;
    let left = state
        .verify_second_factor(&account, &body.factor, client)
        .await?;
    state.forget_failures(&account).await;
    state
        .start_session(&parts, client, account, Some(left))
        .await
}

impl<D: Directory, P> AppState<D, P> {
    /// The account a sign-in challenge (the password step) was made for,
    /// while it is valid: not expired, and the account unchanged since.
    pub(crate) async fn challenged_account(&self, challenge: &str) -> ApiResult<Account> {
        let challenge: Challenge = open_token(&self.keyring, CHALLENGE_CONTEXT, challenge)
            .ok_or(ApiError::InvalidChallenge)?;
        if self.clock.now().unix_timestamp() > challenge.expires {
            return Err(ApiError::InvalidChallenge);
        }
        self.directory
            .account_at(&challenge.account)
            .await?
            .filter(|account| account.revision == challenge.revision)
            .ok_or(ApiError::InvalidChallenge)
    }
}

/// `DELETE /api/session`: ends this session everywhere.
pub async fn sign_out<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    session: CurrentSession,
) -> ApiResult<(CookieJar, StatusCode)>
where
    D: Directory,
    P: Send + Sync + 'static,
{
    state.directory.delete_session(&session.entry.id).await?;
    latchkey_core::audit!(SignedOut, Success, account = %session.account.dn);
    // Set outright: a signed jar would remove only the cookies it verified,
    // and the CSRF cookie is not signed.
    let jar = state
        .sessions
        .cookies
        .removals()
        .into_iter()
        .fold(CookieJar::new(), CookieJar::add);
    Ok((jar, StatusCode::NO_CONTENT))
}
