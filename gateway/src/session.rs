//! Sessions: a random secret in a signed cookie; the directory holds the
//! session under the secret's SHA-256, so any replica sees it, sign-out and
//! password changes end it everywhere, and a directory dump reveals no cookie.

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::SignedCookieJar;
use axum_extra::extract::cookie::Cookie;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use latchkey_core::directory::{Account, Directory, SessionEntry};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The header a state-changing request with a session must carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How stale a session's last-use time may get before a request refreshes it:
/// idle expiry is to the minute, and most requests cost no directory write.
const SEEN_RESOLUTION: time::Duration = time::Duration::minutes(1);

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

impl<D, P> AppState<D, P> {
    /// Mints a session for `account`, verified now.
    pub fn mint_session(&self, account: &Account) -> NewSession {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let secret = URL_SAFE_NO_PAD.encode(secret);
        let now = self.clock.now();
        let entry = SessionEntry {
            id: public_id(&secret),
            owner: account.dn.clone(),
            created: now,
            verified: now,
            seen: now,
        };
        let cookie = self.cookies.session(secret, self.cookie_max_age());
        NewSession { cookie, entry }
    }

    /// The CSRF token of the session with public id `session_id`: an HMAC
    /// under a key of the gateway's, so it is bound to the session and
    /// cannot be made without that key.
    pub fn csrf_token(&self, session_id: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.csrf_mac(session_id).finalize().into_bytes())
    }

    /// Whether `token` is the CSRF token of the session `session_id`
    /// (compared in constant time).
    pub fn csrf_token_matches(&self, session_id: &str, token: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(token)
            .is_ok_and(|tag| self.csrf_mac(session_id).verify_slice(&tag).is_ok())
    }

    fn csrf_mac(&self, session_id: &str) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.csrf_key).expect("HMAC takes a key of any length");
        mac.update(session_id.as_bytes());
        mac
    }

    /// The cookie that hands the session's CSRF token to the portal's script
    /// (readable by script, sent only to this site).
    pub fn csrf_cookie(&self, session_id: &str) -> Cookie<'static> {
        self.cookies
            .csrf(self.csrf_token(session_id), self.cookie_max_age())
    }

    fn cookie_max_age(&self) -> time::Duration {
        time::Duration::seconds(self.session_ttl.as_secs() as i64)
    }

    /// A cookie jar over the request's cookies, checked with our key.
    pub fn cookie_jar(&self, parts: &Parts) -> SignedCookieJar {
        SignedCookieJar::from_headers(&parts.headers, self.cookie_key.clone())
    }

    /// The cookies that remove the session and CSRF cookies, whatever the
    /// request carried.
    pub fn removal_cookies(&self) -> [Cookie<'static>; 2] {
        self.cookies.removals()
    }

    /// The public id of the request's session cookie, if it carries a valid one.
    fn session_id_of(&self, parts: &Parts) -> Option<String> {
        let jar = self.cookie_jar(parts);
        jar.get(self.cookies.session_name())
            .map(|secret| public_id(secret.value()))
    }
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
        let id = state.session_id_of(parts).ok_or(ApiError::NotSignedIn)?;
        crate::csrf::check_token(state, parts, &id)?;
        let entry = state
            .directory
            .session(&id)
            .await?
            .ok_or(ApiError::NotSignedIn)?;
        let now = state.clock.now();
        if now - entry.created > to_time(state.session_ttl) {
            // The directory sweeps expired entries only now and then.
            return Err(ApiError::NotSignedIn);
        }
        if now - entry.seen > to_time(state.session_idle) {
            state.directory.delete_session(&entry.id).await?;
            tracing::info!(target: "audit", event = "session_idle_expired", owner = %entry.owner);
            return Err(ApiError::SessionExpired(state.session_idle.as_secs() / 60));
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

fn to_time(duration: std::time::Duration) -> time::Duration {
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
