//! The directory: accounts, job records and sessions, behind small traits so
//! that handlers are generic over them, with the LDAP implementation beside.

mod accounts;
mod app_passwords;
mod entry;
mod failures;
mod features;
mod job_parts;
mod jobs;
mod passkeys;
mod pool;
mod sessions;
mod ttl;

use crate::app_password::AppPassword;
use crate::app_password::last_use::LastBinds;
use crate::domain::{Dn, JobId, Uid};
use crate::job::{JobRecord, JobState, PartProgress};
use secrecy::SecretString;
use std::future::Future;
use thiserror::Error;
use time::OffsetDateTime;

pub use features::{Feature, Order};
pub use pool::LdapDirectory;

/// Why a directory operation did not happen.
#[derive(Debug, Error)]
pub enum DirectoryError {
    /// The directory could not be reached or did not answer in time; try later.
    #[error("the directory is unavailable: {0}")]
    Unavailable(String),
    /// Another writer changed the entry first; re-read and try again.
    #[error("the entry changed while it was being written")]
    Conflict,
    /// The entry does not exist (any more).
    #[error("no such entry")]
    NoSuchEntry,
    /// The directory refused the operation.
    #[error("the directory refused the operation: {0}")]
    Refused(String),
}

impl DirectoryError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            DirectoryError::Unavailable(_) | DirectoryError::Conflict
        )
    }
}

/// Result of a directory operation.
pub type Result<T, E = DirectoryError> = std::result::Result<T, E>;

/// An account as the directory holds it: what Latchkey needs, nothing more.
#[derive(Debug, Clone)]
pub struct Account {
    /// Where the entry lives.
    pub dn: Dn,
    /// The username.
    pub uid: String,
    /// Full name (`cn`).
    pub name: String,
    /// Mail address, if any.
    pub mail: Option<String>,
    /// Whether the entry has the `latchkeyAccount` class yet.
    pub managed: bool,
    /// `latchkeyPrimaryPassword`: the hash sign-in verifies, once managed.
    pub primary_password: Option<String>,
    /// Every `userPassword` value (hashes).
    pub user_passwords: Vec<String>,
    /// `latchkeyRevision`, compared and swapped by every credential change.
    pub revision: Option<u64>,
    /// The job that last changed each feature ([`Account::order_of`]).
    pub feature_jobs: std::collections::BTreeMap<Feature, JobId>,
    /// The last password job as recorded before every feature was
    /// (`latchkeyPasswordJob`), read until the next password change.
    pub legacy_password_job: Option<JobId>,
    /// When the primary password last changed.
    pub password_changed: Option<OffsetDateTime>,
    /// Whether mail clients must use app passwords (2FA on).
    pub mail_requires_app_password: bool,
    /// The sealed TOTP secret (sealed with the directory key), if 2FA is on.
    pub totp_secret: Option<String>,
    /// The stored TOTP parameters (`SHA1/6/30`).
    pub totp_params: Option<String>,
    /// The last TOTP step accepted; a code is never accepted twice.
    pub totp_last_step: Option<u64>,
    /// Hashes of the unused recovery codes.
    pub recovery_codes: Vec<String>,
    /// The app passwords, as stored.
    pub app_passwords: Vec<StoredAppPassword>,
    /// The passkeys, as stored.
    pub passkeys: Vec<StoredPasskeyValue>,
    /// The entry's `entryUUID`: the WebAuthn user handle, which a
    /// passkey signing in without a password names its account by.
    pub user_handle: Option<uuid::Uuid>,
    /// Encryption at rest, if turned on.
    pub encryption: Option<EncryptionSettings>,
    /// The mailbox-pass lease: who holds it, until when.
    pub lease: Option<(String, OffsetDateTime)>,
    /// Failed passwords and codes in a row (`latchkeyFailedSignIns`).
    pub failures_in_a_row: u32,
}

/// A new primary password, already hashed, to commit in one modify.
#[derive(Debug, Clone)]
pub struct PasswordWrite<'a> {
    /// The account as read just before, whose revision is compared.
    pub account: &'a Account,
    /// The `{ARGON2}` hash of the new password.
    pub hash: &'a str,
    /// The job applying it.
    pub job_id: JobId,
    /// When it is applied.
    pub at: OffsetDateTime,
}

/// An account's encryption-at-rest settings as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionSettings {
    /// `openpgp` or `smime`.
    pub method: String,
    /// The algorithm's stored form.
    pub algorithm: String,
    /// The public keys, base64 of their binary form.
    pub keys: Vec<String>,
    /// When it was turned on.
    pub since: Option<OffsetDateTime>,
    /// Whether the subject travels inside the encryption.
    pub protect_subject: bool,
}

/// One `latchkeyAppPassword` value: the exact stored text (to delete it by
/// value) and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAppPassword {
    /// The value as the directory holds it.
    pub raw: String,
    /// The parsed metadata.
    pub entry: AppPassword,
}

impl TotpChange<'_> {
    /// The features a change sets, and the job that sets them (none for
    /// what sign-in does: accepting a step, using a recovery code).
    pub fn features(&self) -> Vec<(Feature, JobId)> {
        match self {
            TotpChange::Enable { job, .. } | TotpChange::Disable { job } => vec![
                (Feature::SecondFactor, *job),
                (Feature::RecoveryCodes, *job),
            ],
            TotpChange::ReplaceRecoveryCodes { job, .. } => vec![(Feature::RecoveryCodes, *job)],
            TotpChange::AcceptStep { .. } | TotpChange::ConsumeRecoveryCode { .. } => Vec::new(),
        }
    }
}

impl Account {
    /// Whether TOTP is on.
    pub fn totp_enabled(&self) -> bool {
        self.totp_secret.is_some()
    }

    /// Whether sign-in asks for a second factor: TOTP, a passkey, or both.
    pub fn second_factor_on(&self) -> bool {
        self.totp_enabled() || !self.passkeys.is_empty()
    }

    /// The passkey with Latchkey's id `id`.
    pub fn passkey(&self, id: uuid::Uuid) -> Option<&StoredPasskeyValue> {
        self.passkeys.iter().find(|stored| stored.entry.id == id)
    }
}

/// One `latchkeyPasskey` value: the exact stored text (to swap or delete
/// it by value) and what it says.
#[derive(Debug, Clone)]
pub struct StoredPasskeyValue {
    /// The value as the directory holds it.
    pub raw: String,
    /// The parsed passkey.
    pub entry: crate::second_factor::StoredPasskey,
}

/// A change to an account's passkeys; each swaps the account's revision in
/// the same modify.
#[derive(Debug, Clone)]
pub enum PasskeyChange<'a> {
    /// Register a passkey (a job's work). The first second factor of the
    /// account also takes the primary password out of `userPassword` when
    /// mail clients must use app passwords.
    Add {
        /// The new value.
        value: &'a str,
        /// `totp.mail_requires_app_password`, as the gateway knew it.
        mail_requires_app_password: bool,
    },
    /// Remove a passkey (a job's work), recorded as the account's last
    /// [`Feature::PasskeyRemoval`]; removing the last second factor gives
    /// mail clients the primary password back.
    Remove {
        /// The job doing it.
        job: JobId,
        /// The stored value.
        raw: &'a str,
    },
    /// Replace a value by an updated one: a new counter and last use after
    /// a sign-in, a new name, the passwordless flag. Fails with
    /// [`DirectoryError::Conflict`] if the value changed meanwhile.
    Update {
        /// The value as read.
        old: &'a str,
        /// The value to write.
        new: &'a str,
    },
}

/// A change to an account's two-factor settings.
#[derive(Debug, Clone)]
pub enum TotpChange<'a> {
    /// Turn TOTP on.
    Enable {
        /// The job doing it (it also sets the recovery codes).
        job: JobId,
        /// The secret, sealed with the directory key.
        sealed_secret: &'a str,
        /// The stored form of the parameters.
        params: &'a str,
        /// The step of the confirming code.
        last_step: u64,
        /// Hashes of the recovery codes.
        recovery_hashes: &'a [String],
        /// Take the primary password out of `userPassword`.
        mail_requires_app_password: bool,
    },
    /// Turn TOTP off; the primary password goes back into `userPassword`.
    Disable {
        /// The job doing it (it also removes the recovery codes).
        job: JobId,
    },
    /// Replace the recovery codes.
    ReplaceRecoveryCodes {
        /// The job doing it.
        job: JobId,
        /// Hashes of the new codes.
        recovery_hashes: &'a [String],
    },
    /// Accept a code's step (compare-and-swap against the last one).
    AcceptStep {
        /// The step of the code.
        step: u64,
    },
    /// Use up one recovery code.
    ConsumeRecoveryCode {
        /// The hash of the code, as stored.
        hash: &'a str,
    },
}

/// Reads and writes accounts.
pub trait Accounts: Send + Sync + 'static {
    /// The one account with this username, if exactly one exists.
    fn find_account(&self, uid: &Uid) -> impl Future<Output = Result<Option<Account>>> + Send;

    /// The account at `dn`, if it exists.
    fn account_at(&self, dn: &Dn) -> impl Future<Output = Result<Option<Account>>> + Send;

    /// Whether a simple bind as `dn` with `password` succeeds (for accounts
    /// whose password is in a scheme only slapd verifies).
    fn bind_succeeds(
        &self,
        dn: &Dn,
        password: &SecretString,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Commits a new primary password, the account's revision swapped in the
    /// same modify; [`DirectoryError::Conflict`] if another change came first.
    fn write_password(&self, write: PasswordWrite<'_>) -> impl Future<Output = Result<()>> + Send;

    /// Stores (or, with `None`, removes) the account's encryption settings
    /// for `job`, recorded as the last change of [`Feature::Encryption`],
    /// the revision swapped in the same modify.
    fn write_encryption(
        &self,
        account: &Account,
        settings: Option<&EncryptionSettings>,
        job: JobId,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Takes the mailbox lease for `holder` until `until`, if it is free,
    /// expired by `now` (the same clock as `until`), or `holder`'s already;
    /// [`DirectoryError::Conflict`] otherwise.
    fn take_lease(
        &self,
        account: &Account,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Gives the lease back (if `holder` still has it).
    fn release_lease(&self, account: &Dn, holder: &str) -> impl Future<Output = Result<()>> + Send;

    /// Applies a change to the passkeys of `account` ([`PasskeyChange`]).
    fn write_passkeys(
        &self,
        account: &Account,
        change: PasskeyChange<'_>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The account whose `entryUUID` is `handle`, if there is one.
    fn account_with_user_handle(
        &self,
        handle: uuid::Uuid,
    ) -> impl Future<Output = Result<Option<Account>>> + Send;

    /// Applies a two-factor change to `account`, the revision swapped in the
    /// same modify; [`DirectoryError::Conflict`] if another change came first
    /// (for a step or a recovery code: it was used already).
    fn write_totp(
        &self,
        account: &Account,
        change: TotpChange<'_>,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// A change to a job record.
#[derive(Debug, Clone, Default)]
pub struct JobUpdate {
    /// New state.
    pub state: Option<JobState>,
    /// New attempt count.
    pub attempts: Option<u32>,
    /// Progress (done, total).
    pub progress: Option<(u64, u64)>,
    /// Units left as they were so far, by reason (replaces what was recorded).
    pub skipped: Option<std::collections::BTreeMap<String, u64>>,
    /// Error text for the user; `Some(None)` clears it.
    pub error: Option<Option<String>>,
}

/// A change to one part of a split job.
#[derive(Debug, Clone, Default)]
pub struct PartChange {
    /// New state.
    pub state: Option<JobState>,
    /// Progress (done, total, skipped by reason), replacing the part's.
    pub progress: Option<(u64, u64, std::collections::BTreeMap<String, u64>)>,
    /// Why the part failed, for the job's error text.
    pub error: Option<String>,
}

/// Reads and writes job records.
pub trait JobStore: Send + Sync + 'static {
    /// Creates the record of a job accepted now.
    fn create_job(&self, record: &JobRecord) -> impl Future<Output = Result<()>> + Send;

    /// The record of a job, if it exists (and has not expired).
    fn job(&self, id: JobId) -> impl Future<Output = Result<Option<JobRecord>>> + Send;

    /// Applies `update` to a job record.
    fn update_job(
        &self,
        id: JobId,
        update: JobUpdate,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records that the job goes on as `parts`, any worker taking each
    /// (replacing parts recorded before: a pass split again from scratch).
    fn split_job(
        &self,
        id: JobId,
        parts: &[PartProgress],
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Applies `change` to part `index` of job `id` unless that part has
    /// ended, and writes the job's done, total and skipped as the sum of
    /// its parts, all compared and swapped against the parts read, so
    /// parallel writers never lose each other's counts. When this change
    /// ends the last part, the job's state becomes the parts' end state
    /// in the same modify and it is answered (to exactly one writer).
    fn update_part(
        &self,
        id: JobId,
        index: u32,
        change: PartChange,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<JobState>>> + Send;

    /// Removes a job record (a job that could not be queued).
    fn delete_job(&self, id: JobId) -> impl Future<Output = Result<()>> + Send;

    /// The records of `owner`'s jobs that have not expired, newest first.
    fn jobs_of(&self, owner: &Dn) -> impl Future<Output = Result<Vec<JobRecord>>> + Send;

    /// The records `query` matches that have not expired, newest first.
    fn find_jobs(&self, query: &JobQuery) -> impl Future<Output = Result<Vec<JobRecord>>> + Send;
}

/// Which job records to find; each part left `None` matches any record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobQuery {
    /// Only the jobs of this account.
    pub owner: Option<Dn>,
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only jobs of this kind.
    pub kind: Option<crate::job::JobKind>,
}

/// A signed-in session, as stored in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    /// Public id: a hash of the cookie's secret, never the secret itself.
    pub id: String,
    /// The account signed in.
    pub owner: Dn,
    /// When the session began.
    pub created: OffsetDateTime,
    /// When the password was last verified in this session.
    pub verified: OffsetDateTime,
    /// When the session was last used, to the minute (idle expiry).
    pub seen: OffsetDateTime,
    /// The client address it signed in from (none for sessions stored
    /// before addresses were).
    pub client: Option<std::net::IpAddr>,
    /// What it signed in with, e.g. `Firefox on Linux`: at most
    /// [`MAX_BROWSER_CHARS`] characters, never the raw User-Agent.
    pub browser: Option<String>,
}

/// The longest browser summary a session keeps.
pub const MAX_BROWSER_CHARS: usize = 64;

/// Reads and writes sessions; any gateway replica sees the same ones.
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session that expires after `ttl_seconds`.
    fn create_session(
        &self,
        session: &SessionEntry,
        ttl_seconds: u32,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The session with this public id, if it exists and has not expired.
    fn session(&self, id: &str) -> impl Future<Output = Result<Option<SessionEntry>>> + Send;

    /// Every live session of `owner`, in no particular order.
    fn sessions_of(&self, owner: &Dn) -> impl Future<Output = Result<Vec<SessionEntry>>> + Send;

    /// Records that the session was used at `at`.
    fn touch_session(
        &self,
        id: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records that the session's owner proved their password (and second
    /// factor) again at `at`.
    fn reverify_session(
        &self,
        id: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Ends one session; ending a session that is gone is not an error.
    fn delete_session(&self, id: &str) -> impl Future<Output = Result<()>> + Send;

    /// Ends every session of `owner` except `keep`.
    fn delete_sessions_of(
        &self,
        owner: &Dn,
        keep: Option<&str>,
    ) -> impl Future<Output = Result<usize>> + Send;
}

/// Where app passwords live: metadata on the account, hashes where binds
/// find them (the account's `userPassword` for scope `all`, the
/// `cn=<service>` child entries otherwise). Metadata goes in first and out
/// last, so a hash never exists without the metadata that can remove it.
pub trait AppPasswordStore: Send + Sync + 'static {
    /// Records an app password's metadata on `account`, the revision swapped
    /// in the same modify ([`DirectoryError::Conflict`] if raced).
    fn record_app_password(
        &self,
        account: &Account,
        entry: &AppPassword,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Puts the hash where binds find it; already there is fine.
    fn install_app_password(
        &self,
        account: &Dn,
        entry: &AppPassword,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Takes the hash out of every place binds find it, then the metadata;
    /// already gone is fine.
    fn remove_app_password(
        &self,
        account: &Dn,
        stored: &StoredAppPassword,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records `job` as the account's last revocation of app passwords
    /// ([`Feature::AppPasswordRevocation`]), the revision swapped in the same
    /// modify, before its app passwords are removed: from then on, an older
    /// create is superseded.
    fn record_revocation(
        &self,
        account: &Account,
        job: JobId,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Every account that has app passwords (for the expiry sweep).
    fn accounts_with_app_passwords(&self) -> impl Future<Output = Result<Vec<Account>>> + Send;

    /// The binds slapd recorded (`authTimestamp`) on `account` and its
    /// `cn=<service>` entries.
    fn last_binds(&self, account: &Dn) -> impl Future<Output = Result<LastBinds>> + Send;
}

/// Everything the services need of the directory.
/// The count of failed passwords and codes in a row on an account, behind
/// the cumulative lockout. Counted in the directory, so every gateway
/// replica and every restart sees it.
pub trait FailureCounts: Send + Sync + 'static {
    /// Adds one failure to the account's count, atomically (an LDAP
    /// increment), however many replicas count at once.
    fn count_failure(&self, account: &Dn) -> impl Future<Output = Result<()>> + Send;

    /// Forgets the account's failures: a full sign-in succeeded, or an
    /// operator lifted the lockout.
    fn clear_failures(&self, account: &Dn) -> impl Future<Output = Result<()>> + Send;
}

/// Everything the gateway and workers need of the directory.
pub trait Directory: Accounts + JobStore + SessionStore + AppPasswordStore + FailureCounts {}

impl<T: Accounts + JobStore + SessionStore + AppPasswordStore + FailureCounts> Directory for T {}
