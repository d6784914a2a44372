//! A directory wrapper for tests: delegates to the real directory, can hold
//! password writes at a gate (a worker "mid-job"), and counts the failures
//! the worker saw, so tests wait on events instead of times.

use latchkey_core::SecretString;
use latchkey_core::app_password::AppPassword;
use latchkey_core::app_password::last_use::LastBinds;
use latchkey_core::directory::{
    Account, Accounts, AppPasswordStore, EncryptionSettings, FailureCounts, JobQuery, JobStore,
    JobUpdate, PartChange, PasskeyChange, PasswordWrite, Result, SessionEntry, SessionStore,
    StoredAppPassword, TotpChange,
};
use latchkey_core::domain::{Dn, JobId, Uid};
use latchkey_core::job::{JobRecord, JobState, PartProgress};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use time::OffsetDateTime;
use tokio::sync::Semaphore;

/// What the probe saw, shared with the test.
pub struct ProbeState {
    hold_writes: AtomicBool,
    writes_reached: AtomicUsize,
    release: Semaphore,
    failures: AtomicUsize,
    job_reads: AtomicUsize,
}

impl Default for ProbeState {
    fn default() -> Self {
        Self {
            hold_writes: AtomicBool::new(false),
            writes_reached: AtomicUsize::new(0),
            release: Semaphore::new(0),
            failures: AtomicUsize::new(0),
            job_reads: AtomicUsize::new(0),
        }
    }
}

impl ProbeState {
    /// Password writes that reached the gate (or passed it).
    pub fn writes_reached(&self) -> usize {
        self.writes_reached.load(Ordering::SeqCst)
    }

    /// Waits until a password write has reached the gate.
    pub async fn until_write_reached(&self) {
        crate::eventually("a password write to reach the probe", 20, || async {
            (self.writes_reached() > 0).then_some(())
        })
        .await;
    }

    /// Waits until a directory operation has failed.
    pub async fn until_failure(&self) {
        crate::eventually("a directory operation to fail", 20, || async {
            (self.failures() > 0).then_some(())
        })
        .await;
    }

    /// Lets every held write (and every later one) through.
    pub fn open_gate(&self) {
        self.hold_writes.store(false, Ordering::SeqCst);
        self.release.add_permits(1_000);
    }

    /// Job records read: a worker reads one for each delivery it checks.
    pub fn job_reads(&self) -> usize {
        self.job_reads.load(Ordering::SeqCst)
    }

    /// Directory operations that failed.
    pub fn failures(&self) -> usize {
        self.failures.load(Ordering::SeqCst)
    }
}

/// The wrapper.
#[derive(Clone)]
pub struct Probe<D> {
    inner: D,
    /// What it saw.
    pub state: Arc<ProbeState>,
}

impl<D> Probe<D> {
    /// A probe that passes everything through.
    pub fn new(inner: D) -> Self {
        Self {
            inner,
            state: Arc::default(),
        }
    }

    /// A probe that holds password writes until [`ProbeState::open_gate`].
    pub fn gated(inner: D) -> Self {
        let probe = Self::new(inner);
        probe.state.hold_writes.store(true, Ordering::SeqCst);
        probe
    }

    fn count<T>(&self, result: Result<T>) -> Result<T> {
        if result.is_err() {
            self.state.failures.fetch_add(1, Ordering::SeqCst);
        }
        result
    }
}

impl<D: Accounts + Clone> Accounts for Probe<D> {
    async fn find_account(&self, uid: &Uid) -> Result<Option<Account>> {
        self.count(self.inner.find_account(uid).await)
    }

    async fn account_at(&self, dn: &Dn) -> Result<Option<Account>> {
        self.count(self.inner.account_at(dn).await)
    }

    async fn bind_succeeds(&self, dn: &Dn, password: &SecretString) -> Result<bool> {
        self.count(self.inner.bind_succeeds(dn, password).await)
    }

    async fn write_encryption(
        &self,
        account: &Account,
        settings: Option<&EncryptionSettings>,
        job: JobId,
    ) -> Result<()> {
        self.count(self.inner.write_encryption(account, settings, job).await)
    }

    async fn take_lease(
        &self,
        account: &Account,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<()> {
        self.count(self.inner.take_lease(account, holder, now, until).await)
    }

    async fn release_lease(&self, account: &Dn, holder: &str) -> Result<()> {
        self.count(self.inner.release_lease(account, holder).await)
    }

    async fn write_passkeys(&self, account: &Account, change: PasskeyChange<'_>) -> Result<()> {
        self.count(self.inner.write_passkeys(account, change).await)
    }

    async fn account_with_user_handle(&self, handle: uuid::Uuid) -> Result<Option<Account>> {
        self.count(self.inner.account_with_user_handle(handle).await)
    }

    async fn write_totp(&self, account: &Account, change: TotpChange<'_>) -> Result<()> {
        self.count(self.inner.write_totp(account, change).await)
    }

    async fn write_password(&self, write: PasswordWrite<'_>) -> Result<()> {
        self.state.writes_reached.fetch_add(1, Ordering::SeqCst);
        if self.state.hold_writes.load(Ordering::SeqCst) {
            let _permit = self.state.release.acquire().await;
        }
        self.count(self.inner.write_password(write).await)
    }
}

impl<D: JobStore + Clone> JobStore for Probe<D> {
    async fn create_job(&self, record: &JobRecord) -> Result<()> {
        self.count(self.inner.create_job(record).await)
    }

    async fn job(&self, id: JobId) -> Result<Option<JobRecord>> {
        self.state.job_reads.fetch_add(1, Ordering::SeqCst);
        self.count(self.inner.job(id).await)
    }

    async fn update_job(&self, id: JobId, update: JobUpdate, at: OffsetDateTime) -> Result<()> {
        self.count(self.inner.update_job(id, update, at).await)
    }

    async fn split_job(&self, id: JobId, parts: &[PartProgress], at: OffsetDateTime) -> Result<()> {
        self.count(self.inner.split_job(id, parts, at).await)
    }

    async fn update_part(
        &self,
        id: JobId,
        index: u32,
        change: PartChange,
        at: OffsetDateTime,
    ) -> Result<Option<JobState>> {
        self.count(self.inner.update_part(id, index, change, at).await)
    }

    async fn delete_job(&self, id: JobId) -> Result<()> {
        self.count(self.inner.delete_job(id).await)
    }

    async fn jobs_of(&self, owner: &Dn) -> Result<Vec<JobRecord>> {
        self.count(self.inner.jobs_of(owner).await)
    }

    async fn find_jobs(&self, query: &JobQuery) -> Result<Vec<JobRecord>> {
        self.count(self.inner.find_jobs(query).await)
    }
}

impl<D: FailureCounts + Clone> FailureCounts for Probe<D> {
    async fn count_failure(&self, account: &Dn) -> Result<()> {
        self.count(self.inner.count_failure(account).await)
    }

    async fn clear_failures(&self, account: &Dn) -> Result<()> {
        self.count(self.inner.clear_failures(account).await)
    }
}

impl<D: SessionStore + Clone> SessionStore for Probe<D> {
    async fn create_session(&self, session: &SessionEntry, ttl_seconds: u32) -> Result<()> {
        self.count(self.inner.create_session(session, ttl_seconds).await)
    }

    async fn session(&self, id: &str) -> Result<Option<SessionEntry>> {
        self.count(self.inner.session(id).await)
    }

    async fn sessions_of(&self, owner: &Dn) -> Result<Vec<SessionEntry>> {
        self.count(self.inner.sessions_of(owner).await)
    }

    async fn touch_session(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        self.count(self.inner.touch_session(id, at).await)
    }

    async fn reverify_session(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        self.count(self.inner.reverify_session(id, at).await)
    }

    async fn delete_session(&self, id: &str) -> Result<()> {
        self.count(self.inner.delete_session(id).await)
    }

    async fn delete_sessions_of(&self, owner: &Dn, keep: Option<&str>) -> Result<usize> {
        self.count(self.inner.delete_sessions_of(owner, keep).await)
    }
}

impl<D: AppPasswordStore + Clone> AppPasswordStore for Probe<D> {
    async fn record_app_password(&self, account: &Account, entry: &AppPassword) -> Result<()> {
        self.count(self.inner.record_app_password(account, entry).await)
    }

    async fn record_revocation(&self, account: &Account, job: JobId) -> Result<()> {
        self.count(self.inner.record_revocation(account, job).await)
    }

    async fn install_app_password(&self, account: &Dn, entry: &AppPassword) -> Result<()> {
        self.count(self.inner.install_app_password(account, entry).await)
    }

    async fn remove_app_password(&self, account: &Dn, stored: &StoredAppPassword) -> Result<()> {
        self.count(self.inner.remove_app_password(account, stored).await)
    }

    async fn accounts_with_app_passwords(&self) -> Result<Vec<Account>> {
        self.count(self.inner.accounts_with_app_passwords().await)
    }

    async fn last_binds(&self, account: &Dn) -> Result<LastBinds> {
        self.count(self.inner.last_binds(account).await)
    }
}
