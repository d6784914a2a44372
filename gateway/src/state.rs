//! What every route shares.

use crate::credentials::Credentials;
use crate::sessions::Sessions;
use latchkey_core::clock::Clock;
use latchkey_core::config::{AppPasswordSettings, MailboxSettings, Settings, TotpSettings};
use latchkey_core::password::PasswordPolicy;
use latchkey_core::seal::Keyring;
use std::sync::Arc;

/// The gateway's shared state, generic over the directory `D` and the
/// publisher `P`.
pub struct AppState<D, P> {
    /// Accounts, jobs and sessions.
    pub directory: D,
    /// Where jobs go.
    pub publisher: P,
    /// Rules for new passwords.
    pub policy: PasswordPolicy,
    /// Checks the secrets people present, within the limits.
    pub credentials: Credentials,
    /// Seals secrets into job messages and tokens the gateway hands out.
    pub keyring: Keyring,
    /// Opens secrets sealed in the directory (TOTP seeds).
    pub directory_keyring: Keyring,
    /// Two-factor settings.
    pub totp: TotpSettings,
    /// App-password settings.
    pub app_passwords: AppPasswordSettings,
    /// Mailbox settings.
    pub mailbox: MailboxSettings,
    /// Mints and resolves sessions, with their cookies and CSRF tokens.
    pub sessions: Sessions,
    /// The WebAuthn relying party, when `gateway.public_url` allows one
    /// (a host name, not an IP address).
    pub webauthn: Option<webauthn_rs::Webauthn>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

impl<D, P> AppState<D, P> {
    /// Builds the state from the settings and the two adapters.
    pub fn new(
        settings: &Settings,
        directory: D,
        publisher: P,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let sessions = Sessions::new(settings)?;
        let keyring = Keyring::for_jobs(&settings.secrets)?;
        let directory_keyring = Keyring::for_directory(&settings.secrets)?;
        Ok(Self {
            directory,
            publisher,
            policy: PasswordPolicy::new(settings.password_policy.clone())
                .context("password_policy.common_passwords_file")?,
            credentials: Credentials::new(settings, Arc::clone(&clock))?,
            keyring,
            directory_keyring,
            totp: settings.totp.clone(),
            app_passwords: settings.app_passwords.clone(),
            mailbox: settings.mailbox.clone(),
            sessions,
            webauthn: crate::second_factor::passkeys::relying_party(&settings.gateway.public_url),
            clock,
        })
    }
}
