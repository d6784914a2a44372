//! Sessions: a random secret in a signed cookie; the directory holds the
//! session under the secret's SHA-256, so any replica sees it, sign-out and
//! password changes end it everywhere, and a directory dump reveals no cookie.

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::SignedCookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_core::directory::{Account, Directory, SessionEntry};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "latchkey_session";

/// The public id of a session secret: its SHA-256 in hex.
fn public_id(secret: &str) -> String {
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
        };
        let cookie = Cookie::build((COOKIE_NAME, secret))
            .http_only(true)
            .secure(self.secure_cookies)
            .same_site(SameSite::Strict)
            .path("/")
            .max_age(time::Duration::seconds(self.session_ttl.as_secs() as i64))
            .build();
        NewSession { cookie, entry }
    }

    /// A cookie jar over the request's cookies, checked with our key.
    pub fn cookie_jar(&self, parts: &Parts) -> SignedCookieJar {
        SignedCookieJar::from_headers(&parts.headers, self.cookie_key.clone())
    }

    /// A cookie that removes the session cookie.
    pub fn removal_cookie(&self) -> Cookie<'static> {
        Cookie::build((COOKIE_NAME, "")).path("/").build()
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
        let jar = state.cookie_jar(parts);
        let secret = jar.get(COOKIE_NAME).ok_or(ApiError::NotSignedIn)?;
        let entry = state
            .directory
            .session(&public_id(secret.value()))
            .await?
            .ok_or(ApiError::NotSignedIn)?;
        let age = state.clock.now() - entry.created;
        if age > time::Duration::try_from(state.session_ttl).unwrap_or(time::Duration::MAX) {
            // The directory sweeps expired entries only now and then.
            return Err(ApiError::NotSignedIn);
        }
        let account = state
            .directory
            .account_at(&entry.owner)
            .await?
            .ok_or(ApiError::NotSignedIn)?;
        Ok(CurrentSession { entry, account })
    }
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
