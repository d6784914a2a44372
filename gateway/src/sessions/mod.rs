//! Sessions: a random secret in a signed cookie; the directory holds the
//! session under the secret's SHA-256, so any replica sees it, sign-out and
//! password changes end it everywhere, and a directory dump reveals no cookie.
//!
//! This module mints sessions and resolves a request's ([`CurrentSession`]),
//! ending it past its lifetime or idle time; [`csrf`] binds a token to each
//! session and checks it; [`cookies`] names and scopes the two cookies.

pub mod browser;
pub mod cookies;
pub mod csrf;

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::SignedCookieJar;
use axum_extra::extract::cookie::{Cookie, Key};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cookies::CookiePolicy;
use csrf::Csrf;
use latchkey_core::config::Settings;
use latchkey_core::directory::{Account, Directory, SessionEntry};
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// How stale a session's last-use time may get before a request refreshes it:
/// idle expiry is to the minute, and most requests cost no directory write.
const SEEN_RESOLUTION: time::Duration = time::Duration::minutes(1);

/// The gateway's part that mints, resolves and ends sessions, with their
/// cookies and CSRF tokens.
pub struct Sessions {
    /// Signs session cookies (`secrets.session_key`).
    cookie_key: Key,
    /// The sessions' CSRF tokens and the origin checks.
    pub csrf: Csrf,
    /// How cookies are named and scoped (`__Host-` and `Secure` over https).
    pub cookies: CookiePolicy,
    /// The longest a session lasts after sign-in, however busy
    /// (`gateway.session_ttl_minutes`).
    pub ttl: Duration,
    /// How long a session may go unused before it ends; at least a minute,
    /// the resolution of its last-use time.
    pub idle: Duration,
}

impl Sessions {
    /// The part `settings` describe.
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let gateway = &settings.gateway;
        let session_key = settings.secrets.session_key.as_ref().with_context(|| {
            format!(
                "secrets.session_key is missing: the gateway signs session cookies with it; {}",
                latchkey_core::config::SESSION_KEY_HOW
            )
        })?;
        let cookie_key = STANDARD
            .decode(session_key.expose_secret().trim())
            .ok()
            .and_then(|bytes| Key::try_from(bytes.as_slice()).ok())
            .context("secrets.session_key must be base64 of at least 64 random bytes (openssl rand -base64 64)")?;
        let public_url = gateway.public_url.trim_end_matches('/');
        Ok(Self {
            csrf: Csrf::new(&cookie_key, public_url),
            cookie_key,
            cookies: CookiePolicy::for_public_url(public_url),
            ttl: Duration::from_secs(gateway.session_ttl_minutes * 60),
            idle: Duration::from_secs(gateway.session_idle_minutes.max(1) * 60),
        })
    }

    /// Mints a session for `account`, verified `now`, signing in from
    /// `client` with the browser `user_agent` names (only its summary is kept).
    pub fn mint(
        &self,
        account: &Account,
        now: OffsetDateTime,
        client: IpAddr,
        user_agent: Option<&str>,
    ) -> NewSession {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let secret = URL_SAFE_NO_PAD.encode(secret);
        let entry = SessionEntry {
            id: public_id(&secret),
            owner: account.dn.clone(),
            created: now,
            verified: now,
            seen: now,
            client: Some(client),
            browser: user_agent.and_then(browser::summary),
        };
        let cookie = self.cookies.session(secret, self.cookie_max_age());
        NewSession { cookie, entry }
    }

    /// The cookie that hands the session's CSRF token to the portal's script
    /// (readable by script, sent only to this site).
    pub fn csrf_cookie(&self, session_id: &str) -> Cookie<'static> {
        self.cookies
            .csrf(self.csrf.token(session_id), self.cookie_max_age())
    }

    fn cookie_max_age(&self) -> time::Duration {
        time::Duration::seconds(self.ttl.as_secs() as i64)
    }

    /// A cookie jar over the request's cookies, checked with our key.
    pub fn cookie_jar(&self, parts: &Parts) -> SignedCookieJar {
        SignedCookieJar::from_headers(&parts.headers, self.cookie_key.clone())
    }

    /// The public id of the request's session cookie, if it carries a valid one.
    fn session_id_of(&self, parts: &Parts) -> Option<String> {
        let jar = self.cookie_jar(parts);
        jar.get(self.cookies.session_name())
            .map(|secret| public_id(secret.value()))
    }
}

/// The public id of a session secret: its SHA-256 in hex.
pub fn public_id(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A freshly minted session: the cookie to set and the entry to store.
pub struct NewSession {
    /// Goes to the browser.
    pub cookie: Cookie<'static>,
    /// Goes to the directory.
    pub entry: SessionEntry,
}

/// The signed-in session of a request, with its account freshly read.
pub struct CurrentSession {
    /// The stored session.
    pub entry: SessionEntry,
    /// The account, as the directory holds it now.
    pub account: Account,
}

impl<D, P> FromRequestParts<Arc<AppState<D, P>>> for CurrentSession
where
    D: Directory,
    P: Send + Sync + 'static,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState<D, P>>) -> ApiResult<Self> {
        let sessions = &state.sessions;
        let id = sessions.session_id_of(parts).ok_or(ApiError::NotSignedIn)?;
        sessions.csrf.check(parts, &id)?;
        let entry = state
            .directory
            .session(&id)
            .await?
            .ok_or(ApiError::NotSignedIn)?;
        let now = state.clock.now();
        if now - entry.created > to_time(sessions.ttl) {
            // The directory sweeps expired entries only now and then.
            return Err(ApiError::NotSignedIn);
        }
        if now - entry.seen > to_time(sessions.idle) {
            state.directory.delete_session(&entry.id).await?;
            latchkey_core::audit!(SessionIdleExpired, Success, account = %entry.owner);
            return Err(ApiError::SessionExpired(sessions.idle.as_secs() / 60));
        }
        if now - entry.seen >= SEEN_RESOLUTION {
            state.directory.touch_session(&entry.id, now).await?;
        }
        let account = state
            .directory
            .account_at(&entry.owner)
            .await?
            .ok_or(ApiError::NotSignedIn)?;
        Ok(CurrentSession { entry, account })
    }
}

/// `duration` as a signed span, saturating.
pub(crate) fn to_time(duration: Duration) -> time::Duration {
    time::Duration::try_from(duration).unwrap_or(time::Duration::MAX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_public_id_is_the_hex_sha256_of_the_secret() {
        assert_eq!(
            super::public_id("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
