//! Job records in `ou=jobs`, read as the tool's own account.

use crate::cli::JobFilter;
use crate::error::{AdminError, Result};
use latchkey_core::directory::{Accounts, DirectoryError, FailureCounts, JobQuery, JobStore};
use latchkey_core::domain::{JobId, Uid};
use latchkey_core::job::JobRecord;

/// The job records of one directory.
pub struct JobRecords<D> {
    directory: D,
    url: String,
}

impl<D: Accounts + JobStore + FailureCounts> JobRecords<D> {
    /// The records in `directory`, which `url` names in messages.
    pub fn new(directory: D, url: impl Into<String>) -> Self {
        Self {
            directory,
            url: url.into(),
        }
    }

    /// The records `filter` matches, newest first; a username no account
    /// has is [`AdminError::NotFound`].
    pub async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>> {
        let owner = match &filter.account {
            Some(uid) => {
                let account = self.directory.find_account(uid).await;
                let account = account.map_err(|error| self.failed(error))?;
                let account = account.ok_or_else(|| {
                    AdminError::NotFound(format!("no account has the uid `{uid}`"))
                })?;
                Some(account.dn)
            }
            None => None,
        };
        let query = JobQuery {
            owner,
            state: filter.state,
            kind: filter.kind,
        };
        self.directory
            .find_jobs(&query)
            .await
            .map_err(|error| self.failed(error))
    }

    /// The record of job `id`; one that does not exist (or expired) is
    /// [`AdminError::NotFound`].
    pub async fn show(&self, id: JobId) -> Result<JobRecord> {
        let record = self.directory.job(id).await;
        record.map_err(|error| self.failed(error))?.ok_or_else(|| {
            AdminError::NotFound(format!(
                "no job {id} in ou=jobs (never made, or expired after jobs.ttl_seconds)"
            ))
        })
    }

    /// Lifts the cumulative lockout of the account `uid` (forgets its
    /// failures in a row, with an audit line); answers how many there were.
    pub async fn unlock(&self, uid: &Uid) -> Result<u32> {
        let account = self.directory.find_account(uid).await;
        let account = account
            .map_err(|error| self.failed(error))?
            .ok_or_else(|| AdminError::NotFound(format!("no account has the uid `{uid}`")))?;
        self.directory
            .clear_failures(&account.dn)
            .await
            .map_err(|error| self.failed(error))?;
        latchkey_core::audit!(LockoutLifted, Success, account = %account.dn, by = "latchkey-admin", failures = account.failures_in_a_row);
        Ok(account.failures_in_a_row)
    }

    fn failed(&self, error: DirectoryError) -> AdminError {
        AdminError::from_directory(&self.url, error)
    }
}
