//! Step-up: the changes a thief with a stolen session would want (the
//! encryption settings and keys, the second factor, recovery codes, a new
//! app password, revoking them all) need the password, and a current
//! second factor when 2FA is on, unless this session proved them within
//! `gateway.reauthentication_minutes`. A proof given here counts as one, so
//! the user is not asked again for the next change.

use super::ClientAddress;
use crate::problem::{ApiError, ApiResult};
use crate::second_factor::SecondFactorInput;
use crate::sessions::CurrentSession;
use crate::state::AppState;
use latchkey_core::directory::Directory;
use secrecy::SecretString;
use serde::Deserialize;
use std::sync::Arc;

/// The proof a request may carry: `password`, and `code`,
/// `recovery_code` or `passkey` when a second factor is on.
#[derive(Deserialize, Default)]
pub struct StepUpProof {
    /// The account's primary password.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// A second factor.
    #[serde(flatten)]
    pub factor: SecondFactorInput,
}

impl<D: Directory, P: Send + Sync + 'static> AppState<D, P> {
    /// Lets the change go ahead if `session` proved its password (and
    /// second factor) recently or `proof` proves them now; otherwise 403
    /// saying what to give. Whatever proof is given must be right, recent
    /// or not; wrong proofs count against the limits.
    pub async fn step_up(
        self: &Arc<Self>,
        session: &CurrentSession,
        proof: &StepUpProof,
        client: ClientAddress,
    ) -> ApiResult<()> {
        let account = &session.account;
        let now = self.clock.now();
        let recent = now - session.entry.verified <= self.credentials.reauthentication;
        let needs_factor = account.second_factor_on();
        if !needs_factor && !proof.factor.is_empty() {
            // A code for an account without 2FA can never be right.
            return Err(ApiError::TwoFactorOff);
        }
        let complete = proof.password.is_some() && !(needs_factor && proof.factor.is_empty());
        if !recent && !complete {
            return Err(match needs_factor {
                true => ApiError::PasswordAndCodeRequired,
                false => ApiError::PasswordRequired,
            });
        }
        if let Some(password) = &proof.password {
            self.confirm_password(account, password, "password", client)
                .await?;
        }
        if needs_factor && !proof.factor.is_empty() {
            self.verify_second_factor(account, &proof.factor, client)
                .await?;
        }
        if complete {
            self.directory
                .reverify_session(&session.entry.id, now)
                .await?;
            latchkey_core::audit!(SteppedUp, Success, account = %account.dn);
        }
        Ok(())
    }

    /// Ends every session of the account but `session`'s, before a change
    /// to how the account is proved or protected is queued: a thief's
    /// session must not outlive it, and if the sessions cannot be ended,
    /// nothing is changed.
    pub async fn end_other_sessions(
        &self,
        session: &CurrentSession,
        change: &'static str,
    ) -> ApiResult<()> {
        let account = &session.account;
        let ended = self
            .directory
            .delete_sessions_of(&account.dn, Some(&session.entry.id))
            .await?;
        latchkey_core::audit!(OtherSessionsEnded, Success, account = %account.dn, change, ended);
        Ok(())
    }
}
