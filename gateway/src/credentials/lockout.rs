//! The cumulative lockout NIST SP 800-63B asks for: after
//! `gateway.rate_limit.lockout_after` failed passwords and codes in a row,
//! an account's password alone no longer signs in. A sign-in completed with
//! the account's second factor lifts it, and so does an operator clearing
//! the count; the windows of [`super::FailureLimiter`] only slow guessing,
//! this caps it for good.

use crate::state::AppState;
use latchkey_core::directory::{Account, FailureCounts};

impl<D: FailureCounts, P> AppState<D, P> {
    /// Whether the account's password alone may no longer sign in.
    pub fn locked_out(&self, account: &Account) -> bool {
        let after = self.credentials.lockout_after;
        after > 0 && account.failures_in_a_row >= after
    }

    /// Counts a wrong password or code of `account`; says so in the audit
    /// log when the account becomes locked. An account without the
    /// `latchkeyAccount` class yet cannot hold the count: only the windows
    /// limit it, until its first password change.
    pub async fn count_failure_in_a_row(&self, account: &Account) {
        if !account.managed {
            return;
        }
        if let Err(error) = self.directory.count_failure(&account.dn).await {
            tracing::warn!(uid = %account.uid, %error, "a failure could not be counted for the lockout");
            return;
        }
        if self.credentials.lockout_after == account.failures_in_a_row + 1 {
            latchkey_core::audit!(AccountLocked, Success, account = %account.dn, failures = self.credentials.lockout_after);
        }
    }

    /// A sign-in was completed: the failures in a row are forgotten, and a
    /// lockout lifted (which only a second factor can reach).
    pub async fn forget_failures(&self, account: &Account) {
        if account.failures_in_a_row == 0 {
            return;
        }
        match self.directory.clear_failures(&account.dn).await {
            Ok(()) if self.locked_out(account) => {
                latchkey_core::audit!(LockoutLifted, Success, account = %account.dn, by = "second_factor");
            }
            Ok(()) => {}
            Err(error) => {
                tracing::warn!(uid = %account.uid, %error, "the failures in a row could not be cleared");
            }
        }
    }
}
