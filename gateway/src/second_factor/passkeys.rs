//! Passkey ceremonies (WebAuthn, with `webauthn-rs`). The state between
//! the two steps of each ceremony is sealed into a token the browser hands
//! back, like the TOTP enrolment, so any replica finishes what another
//! began. A token opens only for its account and purpose, and dies at its
//! expiry; an authentication is accepted once, because using a passkey
//! records its last use (a compare-and-swap of its value), and a ceremony
//! started before a passkey's last use is refused for it.

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tokens::{open_token, seal_token};
use latchkey_core::directory::{
    Account, Accounts, DirectoryError, PasskeyChange, StoredPasskeyValue,
};
use latchkey_core::domain::Dn;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, PasskeyAuthentication, PublicKeyCredential,
    RequestChallengeResponse, Webauthn, WebauthnBuilder,
};

/// How long the browser has between the two steps of a ceremony.
pub const CEREMONY_MINUTES: i64 = 5;

/// The relying party for the portal at `public_url`, or `None` (with a
/// warning) where WebAuthn cannot work: its host must be a name (browsers
/// refuse IP addresses as relying party ids), served over https, or
/// `http://localhost` for local use.
pub fn relying_party(public_url: &str) -> Option<Webauthn> {
    let url = url::Url::parse(public_url).ok()?;
    let host = match url.host() {
        Some(url::Host::Domain(name)) => name.to_owned(),
        _ => {
            tracing::warn!(%public_url, "passkeys are off: gateway.public_url must name a host (https://id.example.org), not an IP address");
            return None;
        }
    };
    let origin = url::Url::parse(&url.origin().ascii_serialization()).ok()?;
    match WebauthnBuilder::new(&host, &origin)
        .and_then(|builder| builder.rp_name("Latchkey").build())
    {
        Ok(webauthn) => Some(webauthn),
        Err(error) => {
            tracing::warn!(%public_url, %error, "passkeys are off: gateway.public_url is not a WebAuthn origin");
            None
        }
    }
}

/// A passkey presented at sign-in or step-up: the token of the ceremony
/// the gateway began and the browser's answer.
#[derive(Deserialize)]
pub struct PasskeyProof {
    /// The token from the ceremony's start.
    pub token: String,
    /// `navigator.credentials.get()`'s answer, as JSON.
    pub credential: Box<PublicKeyCredential>,
}

/// The start of an authentication: the options for
/// `navigator.credentials.get()` and the token to finish with.
#[derive(Serialize)]
pub struct CeremonyStarted<O: Serialize> {
    /// The `publicKey` options (binary fields in base64url).
    pub options: O,
    /// The sealed ceremony state, handed back at the finish.
    pub token: String,
    /// When the token stops opening.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// An authentication for a known account (second step, step-up).
#[derive(Serialize, Deserialize)]
struct Authentication {
    state: PasskeyAuthentication,
    #[serde(with = "time::serde::rfc3339")]
    started: OffsetDateTime,
    expires: i64,
}

/// An authentication where the passkey names the account (no password).
#[derive(Serialize, Deserialize)]
struct Discoverable {
    state: DiscoverableAuthentication,
    #[serde(with = "time::serde::rfc3339")]
    started: OffsetDateTime,
    expires: i64,
}

fn authentication_context(account: &Dn) -> String {
    format!("passkey-authentication/{account}")
}

const DISCOVERABLE_CONTEXT: &str = "passkey-discoverable-authentication";

impl<D: Accounts, P> AppState<D, P> {
    /// The relying party, or 409 when the deployment cannot offer passkeys.
    pub fn relying_party(&self) -> ApiResult<&Webauthn> {
        self.webauthn.as_ref().ok_or(ApiError::PasskeysUnavailable)
    }

    /// Starts an authentication with one of `account`'s passkeys.
    pub fn start_passkey_authentication(
        &self,
        account: &Account,
    ) -> ApiResult<CeremonyStarted<RequestChallengeResponse>> {
        let webauthn = self.relying_party()?;
        if account.passkeys.is_empty() {
            return Err(ApiError::NoPasskeys);
        }
        let credentials: Vec<_> = account
            .passkeys
            .iter()
            .map(|stored| stored.entry.credential.clone())
            .collect();
        let (options, state) = webauthn
            .start_passkey_authentication(&credentials)
            .map_err(|error| ApiError::Internal(format!("passkey authentication: {error}")))?;
        let (started, expires_at) = self.ceremony_times();
        let token = Authentication {
            state,
            started,
            expires: expires_at.unix_timestamp(),
        };
        Ok(CeremonyStarted {
            options,
            token: seal_token(&self.keyring, &authentication_context(&account.dn), &token),
            expires_at,
        })
    }

    /// Starts a sign-in where the passkey names its account.
    pub fn start_discoverable_authentication(
        &self,
    ) -> ApiResult<CeremonyStarted<RequestChallengeResponse>> {
        let (options, state) = self
            .relying_party()?
            .start_discoverable_authentication()
            .map_err(|error| ApiError::Internal(format!("passkey authentication: {error}")))?;
        let (started, expires_at) = self.ceremony_times();
        let token = Discoverable {
            state,
            started,
            expires: expires_at.unix_timestamp(),
        };
        Ok(CeremonyStarted {
            options,
            token: seal_token(&self.keyring, DISCOVERABLE_CONTEXT, &token),
            expires_at,
        })
    }

    /// When a ceremony starting now starts and ends.
    pub fn ceremony_times(&self) -> (OffsetDateTime, OffsetDateTime) {
        let now = self.clock.now();
        (now, now + time::Duration::minutes(CEREMONY_MINUTES))
    }

    /// Checks `proof` against `account`'s passkeys and records the use
    /// (counter, backup flags, last use), so it is accepted once.
    pub(super) async fn use_passkey(
        &self,
        account: &Account,
        proof: &PasskeyProof,
    ) -> ApiResult<()> {
        let webauthn = self.relying_party()?;
        let ceremony: Authentication = open_token(
            &self.keyring,
            &authentication_context(&account.dn),
            &proof.token,
        )
        .ok_or(ApiError::InvalidPasskeyToken)?;
        if self.clock.now().unix_timestamp() > ceremony.expires {
            return Err(ApiError::PasskeyCeremonyExpired);
        }
        let result = webauthn
            .finish_passkey_authentication(&proof.credential, &ceremony.state)
            .map_err(|error| {
                tracing::info!(%error, "a passkey did not verify");
                ApiError::PasskeyRefused
            })?;
        self.record_passkey_use(account, &result, ceremony.started, false)
            .await
    }

    /// Checks a passkey that names its account, for a sign-in without a
    /// password; answers the account once the use is recorded.
    pub async fn sign_in_with_passkey(&self, proof: &PasskeyProof) -> ApiResult<Account> {
        let webauthn = self.relying_party()?;
        let ceremony: Discoverable = open_token(&self.keyring, DISCOVERABLE_CONTEXT, &proof.token)
            .ok_or(ApiError::InvalidPasskeyToken)?;
        if self.clock.now().unix_timestamp() > ceremony.expires {
            return Err(ApiError::PasskeyCeremonyExpired);
        }
        let (handle, credential_id) = webauthn
            .identify_discoverable_authentication(&proof.credential)
            .map_err(|_| ApiError::PasskeyRefused)?;
        let account = self
            .directory
            .account_with_user_handle(handle)
            .await?
            .ok_or(ApiError::PasskeyRefused)?;
        let stored = passkey_with_credential(&account, credential_id)
            .filter(|stored| stored.entry.passwordless)
            .ok_or(ApiError::PasskeyRefused)?;
        let result = webauthn
            .finish_discoverable_authentication(
                &proof.credential,
                ceremony.state,
                &[(&stored.entry.credential).into()],
            )
            .map_err(|error| {
                tracing::info!(%error, "a passkey did not verify");
                ApiError::PasskeyRefused
            })?;
        self.record_passkey_use(&account, &result, ceremony.started, true)
            .await?;
        Ok(account)
    }

    async fn record_passkey_use(
        &self,
        account: &Account,
        result: &AuthenticationResult,
        started: OffsetDateTime,
        passwordless: bool,
    ) -> ApiResult<()> {
        let stored = passkey_with_credential(account, result.cred_id().as_ref())
            .filter(|stored| !passwordless || stored.entry.passwordless)
            .ok_or(ApiError::PasskeyRefused)?;
        if stored.entry.last_used.is_some_and(|used| used > started) {
            return Err(ApiError::PasskeyAlreadyUsed);
        }
        let mut updated = stored.entry.clone();
        updated.credential.update_credential(result);
        updated.last_used = Some(self.clock.now());
        let change = PasskeyChange::Update {
            old: &stored.raw,
            new: &updated.to_stored(),
        };
        match self.directory.write_passkeys(account, change).await {
            Ok(()) => Ok(()),
            // Another request used it (or changed the account) first.
            Err(DirectoryError::Conflict) => Err(ApiError::PasskeyAlreadyUsed),
            Err(error) => Err(error.into()),
        }
    }
}

/// The account's passkey with this WebAuthn credential id.
pub fn passkey_with_credential<'a>(
    account: &'a Account,
    credential_id: &[u8],
) -> Option<&'a StoredPasskeyValue> {
    account
        .passkeys
        .iter()
        .find(|stored| stored.entry.credential_id() == credential_id)
}
