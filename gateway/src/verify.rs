//! Checking a password someone presents: against `latchkeyPrimaryPassword`
//! with argon2, or by a bind for accounts not yet managed by Latchkey, behind
//! a concurrency limit and the failure limits.

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use latchkey_core::directory::{Account, Accounts};
use secrecy::SecretString;
use std::net::IpAddr;
use std::sync::Arc;

/// Who is presenting a secret, for the failure limits.
pub struct Attempt<'a> {
    /// The account key (lowercased username).
    pub account_key: &'a str,
    /// The client's address.
    pub address: Option<IpAddr>,
}

impl Attempt<'_> {
    fn address_key(&self) -> Option<String> {
        self.address.map(|address| address.to_string())
    }
}

impl<D: Accounts, P> AppState<D, P> {
    /// Refuses with 429 if the account or the address used up its failures.
    pub fn check_limits(&self, attempt: &Attempt<'_>) -> ApiResult<()> {
        let account_wait = self.account_failures.retry_after(attempt.account_key);
        let address_wait = attempt
            .address_key()
            .and_then(|key| self.address_failures.retry_after(&key));
        match account_wait.max(address_wait) {
            Some(wait) => Err(ApiError::RateLimited(wait)),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt against the account and the address.
    pub fn record_failure(&self, attempt: &Attempt<'_>) {
        self.account_failures.record_failure(attempt.account_key);
        if let Some(key) = attempt.address_key() {
            self.address_failures.record_failure(&key);
        }
        metrics::counter!("latchkey_failed_secrets_total").increment(1);
    }

    /// Refuses with 403 naming `field` unless `password` is the account's
    /// primary password; failures count against the account and address.
    pub async fn confirm_password(
        self: &Arc<Self>,
        account: &Account,
        password: &SecretString,
        field: &'static str,
        address: Option<IpAddr>,
    ) -> ApiResult<()>
    where
        D: Send + Sync + 'static,
        P: Send + Sync + 'static,
    {
        let account_key = account.uid.to_lowercase();
        let attempt = Attempt {
            account_key: &account_key,
            address,
        };
        self.check_limits(&attempt)?;
        if self.password_matches(Some(account), password).await? {
            return Ok(());
        }
        self.record_failure(&attempt);
        tracing::info!(target: "audit", event = "password_confirmation_failed", uid = %account.uid);
        Err(ApiError::WrongPassword { field })
    }

    /// Whether `password` is the account's primary password. `None` (an
    /// unknown account) costs the same time and is never a match.
    pub async fn password_matches(
        self: &Arc<Self>,
        account: Option<&Account>,
        password: &SecretString,
    ) -> ApiResult<bool>
    where
        D: Send + Sync + 'static,
        P: Send + Sync + 'static,
    {
        let stored = match account {
            Some(account) => match &account.primary_password {
                Some(hash) => hash.clone(),
                // Not managed yet: its userPassword may be in any scheme slapd knows.
                None => return Ok(self.directory.bind_succeeds(&account.dn, password).await?),
            },
            // Unknown users take as long as known ones.
            None => self.dummy_hash.clone(),
        };
        let _slot = self
            .verify_slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let state = Arc::clone(self);
        let password = password.clone();
        let matched = tokio::task::spawn_blocking(move || state.hasher.verify(&stored, &password))
            .await
            .expect("verification does not panic");
        Ok(matched && account.is_some())
    }
}
