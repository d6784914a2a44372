//! What every route shares.

use crate::cookies::CookiePolicy;
use crate::credentials::Credentials;
use axum_extra::extract::cookie::Key;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_core::clock::Clock;
use latchkey_core::config::{AppPasswordSettings, MailboxSettings, Settings, TotpSettings};
use latchkey_core::password::PasswordPolicy;
use latchkey_core::seal::Keyring;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

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
    /// Signs session cookies.
    pub cookie_key: Key,
    /// Makes CSRF tokens (derived from the cookie key).
    pub csrf_key: [u8; 32],
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The origin (`scheme://host[:port]`) the portal is served from.
    pub public_origin: String,
    /// How cookies are named and scoped (`__Host-` and `Secure` over https).
    pub cookies: CookiePolicy,
    /// Lifetime of a session.
    pub session_ttl: Duration,
    /// How long a session may go unused.
    pub session_idle: Duration,
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
        let gateway = &settings.gateway;
        let cookie_key = STANDARD
            .decode(settings.secrets.session_key.expose_secret().trim())
            .ok()
            .and_then(|bytes| Key::try_from(bytes.as_slice()).ok())
            .context("secrets.session_key must be base64 of at least 64 random bytes (openssl rand -base64 64)")?;
        let keyring = Keyring::from_lines(
            &settings.secrets.sealing_key,
            &settings.secrets.previous_sealing_keys,
        )
        .context("secrets.sealing_key")?;
        let directory_keyring = Keyring::from_lines(&settings.secrets.directory_key, [])
            .context("secrets.directory_key")?;
        let public_url = gateway.public_url.trim_end_matches('/');
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
            csrf_key: derive_key(cookie_key.signing(), b"latchkey csrf tokens"),
            cookie_key,
            clock,
            public_origin: origin_of(public_url),
            cookies: CookiePolicy::for_public_url(public_url),
            session_ttl: Duration::from_secs(gateway.session_ttl_minutes * 60),
            session_idle: Duration::from_secs(gateway.session_idle_minutes.max(1) * 60),
        })
    }
}

/// A key for one purpose, derived from `master` by HMAC-SHA256.
fn derive_key(master: &[u8], purpose: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(master).expect("HMAC takes a key of any length");
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or(rest);
            format!("{scheme}://{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_origin_drops_the_path() {
        assert_eq!(
            super::origin_of("https://id.example.org/portal"),
            "https://id.example.org"
        );
        assert_eq!(
            super::origin_of("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }
}
