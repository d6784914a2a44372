//! The count of failed passwords and codes in a row, `latchkeyFailedSignIns`.

use super::pool::check;
use super::{DirectoryError, FailureCounts, LdapDirectory, Result};
use crate::domain::Dn;
use ldap3::Mod;
use std::collections::HashSet;

/// The attribute that holds the count.
pub(super) const FAILURES: &str = "latchkeyFailedSignIns";

impl FailureCounts for LdapDirectory {
    async fn count_failure(&self, account: &Dn) -> Result<()> {
        let mut ldap = self.conn().await?;
        // An increment needs the value to exist; the first failure adds it.
        // Two replicas may race to add it: the loser increments instead.
        for _ in 0..3 {
            let incremented = ldap
                .modify(account.as_str(), vec![Mod::Increment(FAILURES, "1")])
                .await;
            match check(incremented.and_then(|result| result.success())) {
                Err(DirectoryError::Conflict) => {}
                other => return other.map(drop),
            }
            let added = ldap
                .modify(
                    account.as_str(),
                    vec![Mod::Add(FAILURES, HashSet::from(["1"]))],
                )
                .await;
            match check(added.and_then(|result| result.success())) {
                Err(DirectoryError::Conflict) => {}
                other => return other.map(drop),
            }
        }
        Err(DirectoryError::Conflict)
    }

    async fn clear_failures(&self, account: &Dn) -> Result<()> {
        let mut ldap = self.conn().await?;
        let removed = ldap
            .modify(
                account.as_str(),
                vec![Mod::Delete(FAILURES, HashSet::new())],
            )
            .await;
        match check(removed.and_then(|result| result.success())) {
            // Nothing was counted.
            Err(DirectoryError::Conflict) => Ok(()),
            other => other.map(drop),
        }
    }
}
