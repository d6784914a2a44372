//! Checking a password or code someone presents, behind the failure
//! limits: each attempt is counted as a failure *before* anything is
//! awaited (a directory search, the hashing queue), so a burst of parallel
//! guesses gets no more than the limit through; a success takes its count
//! back. Accounts count under their directory entry, and a name the
//! directory does not know under its normalised spelling, so look-alike
//! spellings of one account share one counter.

use super::ClientAddress;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use latchkey_core::directory::{Account, Accounts, FailureCounts};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;
use unicode_normalization::UnicodeNormalization;

/// The keys one attempt counts under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    accounts: Vec<String>,
    address: Option<String>,
}

/// A name as the per-account limit counts it before the directory has said
/// whose it is: surrounding white space dropped, NFKC (fullwidth and other
/// compatibility forms folded), lower case.
fn normalised(name: &str) -> String {
    name.trim().nfkc().collect::<String>().to_lowercase()
}

impl Attempt {
    /// A sign-in with `name`, before the directory is asked who that is.
    pub fn sign_in(name: &str, client: ClientAddress) -> Self {
        Self {
            accounts: vec![format!("password:name:{}", normalised(name))],
            address: Some(client.limit_key()),
        }
    }

    /// The password of `account`.
    pub fn password_of(account: &Account, client: ClientAddress) -> Self {
        Self {
            accounts: vec![Self::entry_key("password", account)],
            address: Some(client.limit_key()),
        }
    }

    /// A second factor (code or recovery code) of `account`.
    pub fn second_factor_of(account: &Account, client: ClientAddress) -> Self {
        Self {
            accounts: vec![Self::entry_key("second-factor", account)],
            address: Some(client.limit_key()),
        }
    }

    /// A sign-in with a passkey alone: counted under the client address
    /// only (the account is known only once the passkey verified).
    pub fn passkey_sign_in(client: ClientAddress) -> Self {
        Self {
            accounts: Vec::new(),
            address: Some(client.limit_key()),
        }
    }

    /// The same sign-in counted under the entry the directory found too
    /// (its address already counted).
    pub fn of_entry(&self, account: &Account) -> Self {
        Self {
            accounts: vec![Self::entry_key("password", account)],
            address: None,
        }
    }

    fn entry_key(what: &str, account: &Account) -> String {
        format!("{what}:dn:{}", account.dn.as_str().to_lowercase())
    }
}

impl<D: Accounts + FailureCounts, P> AppState<D, P> {
    /// Counts `attempt` as a failure now, before any wait; 429 if one of
    /// its keys has used up its failures (then nothing is counted). An
    /// address past its limit may instead have to wait its turn, here.
    pub async fn count_attempt(&self, attempt: &Attempt) -> ApiResult<()> {
        let wait = self.reserve_attempt(attempt)?;
        if !wait.is_zero() {
            metrics::counter!("latchkey_delayed_attempts_total").increment(1);
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// Reserves `attempt` under each of its keys, all or none, without
    /// awaiting anything; says how long the address must wait.
    fn reserve_attempt(&self, attempt: &Attempt) -> ApiResult<Duration> {
        let limits = &self.credentials;
        let mut counted: Vec<&String> = Vec::new();
        let mut outcome = Ok(Duration::ZERO);
        for key in &attempt.accounts {
            match limits.account_failures.reserve(key) {
                Ok(_) => counted.push(key),
                Err(wait) => {
                    outcome = Err(wait);
                    break;
                }
            }
        }
        if let (Ok(_), Some(key)) = (&outcome, &attempt.address) {
            outcome = limits.address_failures.reserve(key);
        }
        outcome.map_err(|wait| {
            for key in counted {
                limits.account_failures.release(key);
            }
            metrics::counter!("latchkey_rate_limited_total").increment(1);
            ApiError::RateLimited(wait)
        })
    }

    /// Takes back what `attempt` counted: it succeeded. The account's
    /// earlier failures are forgiven; the address keeps its others.
    pub fn attempt_succeeded(&self, attempt: &Attempt) {
        for key in &attempt.accounts {
            self.credentials.account_failures.clear(key);
        }
        if let Some(key) = &attempt.address {
            self.credentials.address_failures.release(key);
        }
    }

    /// Takes back what `attempt` counted without forgiving anything: it was
    /// never decided (the directory could not be asked).
    pub fn attempt_undecided(&self, attempt: &Attempt) {
        for key in &attempt.accounts {
            self.credentials.account_failures.release(key);
        }
        if let Some(key) = &attempt.address {
            self.credentials.address_failures.release(key);
        }
    }

    /// Refuses with 403 naming `field` unless `password` is the account's
    /// primary password; failures count against the account and address.
    pub async fn confirm_password(
        self: &Arc<Self>,
        account: &Account,
        password: &SecretString,
        field: &'static str,
        client: ClientAddress,
    ) -> ApiResult<()>
    where
        D: Send + Sync + 'static,
        P: Send + Sync + 'static,
    {
        let attempt = Attempt::password_of(account, client);
        self.count_attempt(&attempt).await?;
        match self.password_matches(Some(account), password).await {
            Ok(true) => {
                self.attempt_succeeded(&attempt);
                Ok(())
            }
            Ok(false) => {
                metrics::counter!("latchkey_failed_secrets_total").increment(1);
                latchkey_core::audit!(PasswordConfirmationFailed, Failure, account = %account.dn);
                self.count_failure_in_a_row(account).await;
                Err(ApiError::WrongPassword { field })
            }
            Err(error) => {
                self.attempt_undecided(&attempt);
                Err(error)
            }
        }
    }

    /// Whether `password` is the account's primary password. An unknown
    /// account (`None`) and an account not yet managed by Latchkey (checked
    /// by a bind, for its password may be in any scheme slapd knows) take
    /// as long as an argon2 check, under the same limit: the answer's time
    /// tells nothing about the account.
    pub async fn password_matches(
        self: &Arc<Self>,
        account: Option<&Account>,
        password: &SecretString,
    ) -> ApiResult<bool>
    where
        D: Send + Sync + 'static,
        P: Send + Sync + 'static,
    {
        let credentials = &self.credentials;
        let slot = credentials.slot().await?;
        match account {
            Some(Account {
                primary_password: Some(hash),
                ..
            }) => Ok(credentials.verify(&slot, Some(hash), password).await),
            Some(legacy) => {
                let (bound, _) = tokio::join!(
                    self.directory.bind_succeeds(&legacy.dn, password),
                    credentials.verify(&slot, None, password)
                );
                Ok(bound?)
            }
            None => {
                credentials.verify(&slot, None, password).await;
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_spellings_of_a_name_count_as_one() {
        for spelling in [
            "alice",
            "ALICE",
            " Alice ",
            "\u{ff41}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}",
            "Ａｌｉｃｅ",
        ] {
            assert_eq!(normalised(spelling), "alice", "{spelling:?}");
        }
    }
}
