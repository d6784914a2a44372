//! The job protocol between gateway and workers, defined once.

use crate::app_password::{AppPasswordName, Scope};
use crate::domain::{Dn, JobId};
use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

/// The queues jobs travel on; each is consumed by workers that opt in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Queue {
    /// Password, 2FA and app-password changes: short, CPU-bound jobs.
    Credentials,
    /// Mailbox encryption passes: long, I/O-bound jobs.
    Mailbox,
}

impl Queue {
    /// Every queue.
    pub const ALL: [Queue; 2] = [Queue::Credentials, Queue::Mailbox];

    /// The queue's short name (routing key and config value).
    pub fn name(self) -> &'static str {
        match self {
            Queue::Credentials => "credentials",
            Queue::Mailbox => "mailbox",
        }
    }

    /// Parses a queue's short name from the configuration.
    pub fn parse(name: &str) -> Option<Queue> {
        Self::ALL.into_iter().find(|queue| queue.name() == name)
    }
}

/// A message on a job queue. Versioned by its tag: a worker refuses a tag it
/// does not know instead of guessing, and an old tag keeps working while
/// gateways roll forward.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum JobMessage {
    /// Set the account's primary password.
    #[serde(rename = "change_password/v1")]
    ChangePassword(ChangePassword),
    /// Store a confirmed TOTP enrolment and its recovery codes.
    #[serde(rename = "enable_totp/v1")]
    EnableTotp(EnableTotp),
    /// Turn TOTP off.
    #[serde(rename = "disable_totp/v1")]
    DisableTotp(DisableTotp),
    /// Replace the recovery codes.
    #[serde(rename = "regenerate_recovery_codes/v1")]
    RegenerateRecoveryCodes(RegenerateRecoveryCodes),
    /// Add an app password.
    #[serde(rename = "create_app_password/v1")]
    CreateAppPassword(CreateAppPassword),
    /// Revoke app passwords.
    #[serde(rename = "revoke_app_passwords/v1")]
    RevokeAppPasswords(RevokeAppPasswords),
    /// Turn encryption at rest on (or change its keys) and encrypt the mailbox.
    #[serde(rename = "encrypt_mailbox/v1")]
    EncryptMailbox(EncryptMailbox),
    /// Turn encryption at rest off.
    #[serde(rename = "disable_encryption/v1")]
    DisableEncryption(DisableEncryption),
}

impl JobMessage {
    /// The job's id.
    pub fn job_id(&self) -> JobId {
        match self {
            JobMessage::ChangePassword(job) => job.job_id,
            JobMessage::EnableTotp(job) => job.job_id,
            JobMessage::DisableTotp(job) => job.job_id,
            JobMessage::RegenerateRecoveryCodes(job) => job.job_id,
            JobMessage::CreateAppPassword(job) => job.job_id,
            JobMessage::RevokeAppPasswords(job) => job.job_id,
            JobMessage::EncryptMailbox(job) => job.job_id,
            JobMessage::DisableEncryption(job) => job.job_id,
        }
    }

    /// The kind recorded in the job record.
    pub fn kind(&self) -> JobKind {
        match self {
            JobMessage::ChangePassword(_) => JobKind::ChangePassword,
            JobMessage::EnableTotp(_) => JobKind::EnableTotp,
            JobMessage::DisableTotp(_) => JobKind::DisableTotp,
            JobMessage::RegenerateRecoveryCodes(_) => JobKind::RegenerateRecoveryCodes,
            JobMessage::CreateAppPassword(_) => JobKind::CreateAppPassword,
            JobMessage::RevokeAppPasswords(_) => JobKind::RevokeAppPasswords,
            JobMessage::EncryptMailbox(_) => JobKind::EncryptMailbox,
            JobMessage::DisableEncryption(_) => JobKind::DisableEncryption,
        }
    }

    /// The queue this message travels on.
    pub fn queue(&self) -> Queue {
        self.kind().queue()
    }
}

/// A request to set an account's primary password.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangePassword {
    /// The job's id; also orders changes to one account (UUIDv7).
    pub job_id: JobId,
    /// The account whose password changes.
    pub account: Dn,
    /// The new password, sealed with the shared key for the context
    /// [`ChangePassword::seal_context`].
    pub sealed_password: String,
    /// The session that asked, which survives the change (by its public id).
    pub keep_session: Option<String>,
}

impl ChangePassword {
    /// The sealing context of the new password: it opens only for this job.
    pub fn seal_context(job_id: JobId) -> String {
        seal_context(job_id, "new_password")
    }
}

/// The sealing context of a secret `field` inside job `job_id`: a sealed
/// value opens only for the job and field it was made for.
pub fn seal_context(job_id: JobId, field: &str) -> String {
    format!("job/{job_id}/{field}")
}

/// A confirmed TOTP enrolment to store. The gateway has checked a code
/// against the secret already.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnableTotp {
    /// The job's id.
    pub job_id: JobId,
    /// The account turning 2FA on.
    pub account: Dn,
    /// The TOTP secret, sealed for [`seal_context`]`(job_id, "totp_secret")`.
    pub sealed_secret: String,
    /// The parameters in their stored form (`SHA1/6/30`).
    pub params: String,
    /// The step of the code that confirmed the enrolment (never accepted again).
    pub accepted_step: u64,
    /// The recovery codes as a JSON list, sealed for `(job_id, "recovery_codes")`.
    pub sealed_recovery_codes: String,
    /// Whether mail clients must use app passwords from now on.
    pub mail_requires_app_password: bool,
}

/// Turn TOTP off and give mail clients the primary password back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DisableTotp {
    /// The job's id.
    pub job_id: JobId,
    /// The account turning 2FA off.
    pub account: Dn,
}

/// Replace the recovery codes with new ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegenerateRecoveryCodes {
    /// The job's id.
    pub job_id: JobId,
    /// The account.
    pub account: Dn,
    /// The new codes as a JSON list, sealed for `(job_id, "recovery_codes")`.
    pub sealed_recovery_codes: String,
}

/// A new app password to store; the gateway made the secret and showed it once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateAppPassword {
    /// The job's id.
    pub job_id: JobId,
    /// The account.
    pub account: Dn,
    /// The app password's id.
    pub id: uuid::Uuid,
    /// Its name.
    pub name: AppPasswordName,
    /// What it may do.
    pub scope: Scope,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// When it stops working, if ever.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires: Option<OffsetDateTime>,
    /// The secret, sealed for [`seal_context`]`(job_id, "app_password")`.
    pub sealed_secret: String,
    /// The account's limit when the request was accepted.
    pub max_per_account: usize,
}

/// App passwords to revoke.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeAppPasswords {
    /// The job's id.
    pub job_id: JobId,
    /// The account.
    pub account: Dn,
    /// Which ones; `None` revokes every one.
    pub ids: Option<Vec<uuid::Uuid>>,
}

/// Store the account's encryption settings, then encrypt every message of
/// its mailbox that is not encrypted yet. Carries public keys only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncryptMailbox {
    /// The job's id.
    pub job_id: JobId,
    /// The account.
    pub account: Dn,
    /// Its username, which names its Maildir.
    pub uid: String,
    /// `openpgp` or `smime`.
    pub method: String,
    /// The algorithm's stored form.
    pub algorithm: String,
    /// The validated public keys, base64 of their binary form.
    pub keys: Vec<String>,
    /// Whether the subject travels inside the encryption.
    pub protect_subject: bool,
    /// When the gateway accepted the keys; they are judged as they were
    /// then, so a key that expires later still receives mail. Absent in
    /// jobs queued before this field existed (then: when the job runs).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub accepted_at: Option<OffsetDateTime>,
}

/// Stop encrypting new mail (nothing already encrypted can be decrypted).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DisableEncryption {
    /// The job's id.
    pub job_id: JobId,
    /// The account.
    pub account: Dn,
}

/// What a job does, as recorded in its job record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// See [`ChangePassword`].
    ChangePassword,
    /// See [`EnableTotp`].
    EnableTotp,
    /// See [`DisableTotp`].
    DisableTotp,
    /// See [`RegenerateRecoveryCodes`].
    RegenerateRecoveryCodes,
    /// See [`CreateAppPassword`].
    CreateAppPassword,
    /// See [`RevokeAppPasswords`].
    RevokeAppPasswords,
    /// See [`EncryptMailbox`].
    EncryptMailbox,
    /// See [`DisableEncryption`].
    DisableEncryption,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 8] = [
        JobKind::ChangePassword,
        JobKind::EnableTotp,
        JobKind::DisableTotp,
        JobKind::RegenerateRecoveryCodes,
        JobKind::CreateAppPassword,
        JobKind::RevokeAppPasswords,
        JobKind::EncryptMailbox,
        JobKind::DisableEncryption,
    ];

    /// The kind as stored in the directory.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::ChangePassword => "change_password",
            JobKind::EnableTotp => "enable_totp",
            JobKind::DisableTotp => "disable_totp",
            JobKind::RegenerateRecoveryCodes => "regenerate_recovery_codes",
            JobKind::CreateAppPassword => "create_app_password",
            JobKind::RevokeAppPasswords => "revoke_app_passwords",
            JobKind::EncryptMailbox => "encrypt_mailbox",
            JobKind::DisableEncryption => "disable_encryption",
        }
    }

    /// Parses a kind stored in the directory.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }

    /// The queue jobs of this kind travel on.
    pub fn queue(self) -> Queue {
        match self {
            JobKind::ChangePassword
            | JobKind::EnableTotp
            | JobKind::DisableTotp
            | JobKind::RegenerateRecoveryCodes
            | JobKind::CreateAppPassword
            | JobKind::RevokeAppPasswords => Queue::Credentials,
            JobKind::EncryptMailbox | JobKind::DisableEncryption => Queue::Mailbox,
        }
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted and waiting for a worker.
    Queued,
    /// A worker is applying it.
    Running,
    /// Applied.
    Succeeded,
    /// Given up; the record's error says why.
    Failed,
}

impl JobState {
    /// The state as stored in the directory.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
        }
    }

    /// Parses a state stored in the directory.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            JobState::Queued,
            JobState::Running,
            JobState::Succeeded,
            JobState::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == raw)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job as its record in the directory shows it. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRecord {
    /// The job's id.
    pub id: JobId,
    /// What it does.
    pub kind: JobKind,
    /// The account that asked for it.
    #[serde(skip)]
    pub owner: Dn,
    /// Where it stands.
    pub state: JobState,
    /// Units done so far (messages, for mailbox jobs).
    pub done: u64,
    /// Units in all, once known.
    pub total: u64,
    /// Units left as they were, by reason (for mailbox jobs: messages
    /// encrypted already, by `pgp-mime`, `smime`, `inline-pgp`).
    pub skipped: std::collections::BTreeMap<String, u64>,
    /// Attempts made so far.
    pub attempts: u32,
    /// Why it failed or is being retried, in words for the user.
    pub error: Option<String>,
    /// When it was accepted.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
}

impl JobRecord {
    /// The record of a job accepted at `now`, waiting for a worker.
    pub fn queued(id: JobId, kind: JobKind, owner: Dn, total: u64, now: OffsetDateTime) -> Self {
        Self {
            id,
            kind,
            owner,
            state: JobState::Queued,
            done: 0,
            total,
            skipped: Default::default(),
            attempts: 0,
            error: None,
            created: now,
            updated: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_a_versioned_tag() {
        let message = JobMessage::ChangePassword(ChangePassword {
            job_id: JobId::new(),
            account: Dn::from_directory("uid=a,ou=people,dc=example,dc=org"),
            sealed_password: "k1.xyz".into(),
            keep_session: None,
        });
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(json["type"], "change_password/v1");
        let back: JobMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back.job_id(), message.job_id());
    }

    #[test]
    fn unknown_versions_are_refused() {
        let result = serde_json::from_str::<JobMessage>(r#"{"type":"change_password/v9"}"#);
        assert!(result.is_err());
    }

    #[test]
    fn states_and_kinds_round_trip_through_their_stored_form() {
        for state in [
            JobState::Queued,
            JobState::Running,
            JobState::Succeeded,
            JobState::Failed,
        ] {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        assert_eq!(
            JobKind::parse("change_password"),
            Some(JobKind::ChangePassword)
        );
        assert_eq!(Queue::parse("mailbox"), Some(Queue::Mailbox));
    }
}
