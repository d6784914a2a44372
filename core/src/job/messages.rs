//! The messages between gateway and workers: one versioned, tagged enum.

use super::{JobKind, Queue};
use crate::app_password::{AppPasswordName, Scope};
use crate::domain::{Dn, JobId};
use crate::encryption::{Algorithm, StoredKeys};
use crate::seal::Sealed;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

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
    /// Register a passkey the gateway verified.
    #[serde(rename = "add_passkey/v1")]
    AddPasskey(AddPasskey),
    /// Remove a passkey.
    #[serde(rename = "remove_passkey/v1")]
    RemovePasskey(RemovePasskey),
    /// Replace the recovery codes.
    #[serde(rename = "regenerate_recovery_codes/v1")]
    RegenerateRecoveryCodes(RegenerateRecoveryCodes),
    /// Add an app password.
    #[serde(rename = "create_app_password/v1")]
    CreateAppPassword(CreateAppPassword),
    /// Revoke app passwords.
    #[serde(rename = "revoke_app_passwords/v1")]
    RevokeAppPasswords(RevokeAppPasswords),
    /// Remove an app password at its expiry (scheduled by a worker).
    #[serde(rename = "expire_app_password/v1")]
    ExpireAppPassword(ExpireAppPassword),
    /// Turn encryption at rest on (or change its keys) and encrypt the mailbox.
    #[serde(rename = "encrypt_mailbox/v1")]
    EncryptMailbox(EncryptMailbox),
    /// One part of a large mailbox pass (published by the worker that
    /// split the pass): its job id, record and kind are the pass's.
    #[serde(rename = "encrypt_mailbox_part/v1")]
    EncryptMailboxPart(EncryptMailboxPart),
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
            JobMessage::AddPasskey(job) => job.job_id,
            JobMessage::RemovePasskey(job) => job.job_id,
            JobMessage::RegenerateRecoveryCodes(job) => job.job_id,
            JobMessage::CreateAppPassword(job) => job.job_id,
            JobMessage::RevokeAppPasswords(job) => job.job_id,
            JobMessage::ExpireAppPassword(job) => job.job_id,
            JobMessage::EncryptMailbox(job) => job.job_id,
            JobMessage::EncryptMailboxPart(job) => job.pass.job_id,
            JobMessage::DisableEncryption(job) => job.job_id,
        }
    }

    /// The account the job changes.
    pub fn account(&self) -> &Dn {
        match self {
            JobMessage::ChangePassword(job) => &job.account,
            JobMessage::EnableTotp(job) => &job.account,
            JobMessage::DisableTotp(job) => &job.account,
            JobMessage::AddPasskey(job) => &job.account,
            JobMessage::RemovePasskey(job) => &job.account,
            JobMessage::RegenerateRecoveryCodes(job) => &job.account,
            JobMessage::CreateAppPassword(job) => &job.account,
            JobMessage::RevokeAppPasswords(job) => &job.account,
            JobMessage::ExpireAppPassword(job) => &job.account,
            JobMessage::EncryptMailbox(job) => &job.account,
            JobMessage::EncryptMailboxPart(job) => &job.pass.account,
            JobMessage::DisableEncryption(job) => &job.account,
        }
    }

    /// The kind recorded in the job record.
    pub fn kind(&self) -> JobKind {
        match self {
            JobMessage::ChangePassword(_) => JobKind::ChangePassword,
            JobMessage::EnableTotp(_) => JobKind::EnableTotp,
            JobMessage::DisableTotp(_) => JobKind::DisableTotp,
            JobMessage::AddPasskey(_) => JobKind::AddPasskey,
            JobMessage::RemovePasskey(_) => JobKind::RemovePasskey,
            JobMessage::RegenerateRecoveryCodes(_) => JobKind::RegenerateRecoveryCodes,
            JobMessage::CreateAppPassword(_) => JobKind::CreateAppPassword,
            JobMessage::RevokeAppPasswords(_) => JobKind::RevokeAppPasswords,
            JobMessage::ExpireAppPassword(_) => JobKind::ExpireAppPassword,
            JobMessage::EncryptMailbox(_) | JobMessage::EncryptMailboxPart(_) => {
                JobKind::EncryptMailbox
            }
            JobMessage::DisableEncryption(_) => JobKind::DisableEncryption,
        }
    }

    /// The queue this message travels on.
    pub fn queue(&self) -> Queue {
        self.kind().queue()
    }

    /// When a scheduled job is due: before then it only waits on the
    /// broker's delay queues. `None` for jobs to run at once.
    pub fn not_before(&self) -> Option<OffsetDateTime> {
        match self {
            JobMessage::ExpireAppPassword(job) => Some(job.expires),
            _ => None,
        }
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
    pub sealed_password: Sealed,
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
    pub sealed_secret: Sealed,
    /// The parameters in their stored form (`SHA1/6/30`).
    pub params: String,
    /// The step of the code that confirmed the enrolment (never accepted again).
    pub accepted_step: u64,
    /// The recovery codes as a JSON list, sealed for `(job_id, "recovery_codes")`.
    pub sealed_recovery_codes: Sealed,
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

/// A passkey to register: the gateway verified the registration ceremony
/// and made the stored value; nothing in it is secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddPasskey {
    /// The job's id.
    pub job_id: JobId,
    /// The account registering it.
    pub account: Dn,
    /// The passkey as it is to be stored.
    pub passkey: crate::second_factor::StoredPasskey,
    /// Whether mail clients must use app passwords once a second factor is on.
    pub mail_requires_app_password: bool,
}

/// Remove one passkey.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemovePasskey {
    /// The job's id.
    pub job_id: JobId,
    /// The account.
    pub account: Dn,
    /// Latchkey's id of the passkey.
    pub passkey_id: uuid::Uuid,
}

/// Replace the recovery codes with new ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegenerateRecoveryCodes {
    /// The job's id.
    pub job_id: JobId,
    /// The account.
    pub account: Dn,
    /// The new codes as a JSON list, sealed for `(job_id, "recovery_codes")`.
    pub sealed_recovery_codes: Sealed,
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
    pub sealed_secret: Sealed,
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

/// Remove app password `id` once it has expired. A worker schedules it when
/// it stores an app password with an expiry; it may fire long after its job
/// record's TTL, so it re-checks everything in the directory when it fires.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpireAppPassword {
    /// The job's id.
    pub job_id: JobId,
    /// The account.
    pub account: Dn,
    /// The app password's id.
    pub id: uuid::Uuid,
    /// Its expiry as stored when it was made; the job is due then.
    #[serde(with = "time::serde::rfc3339")]
    pub expires: OffsetDateTime,
}

/// Store the account's encryption settings, then encrypt every message of
/// its mailbox that is not encrypted yet. Carries public keys only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncryptMailbox {
    /// The job's id.
    pub job_id: JobId,
    /// The account; its Maildir is named by the uid its entry holds.
    pub account: Dn,
    /// The content cipher, which says the method too.
    pub algorithm: Algorithm,
    /// The validated public keys.
    pub keys: StoredKeys,
    /// Whether the subject travels inside the encryption.
    pub protect_subject: bool,
    /// When the gateway accepted the keys; they are judged as they were
    /// then, so a key that expires later still receives mail. Absent in
    /// jobs queued before this field existed (then: when the job runs).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub accepted_at: Option<OffsetDateTime>,
}

/// One part of the pass `pass`: the messages `part` covers, encrypted with
/// the pass's keys while the pass is the account's last encryption change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncryptMailboxPart {
    /// The pass it belongs to, as it was queued.
    pub pass: EncryptMailbox,
    /// The messages it covers.
    pub part: super::MailboxPart,
}

/// Stop encrypting new mail (nothing already encrypted can be decrypted).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DisableEncryption {
    /// The job's id.
    pub job_id: JobId,
    /// The account.
    pub account: Dn,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_a_versioned_tag() {
        let message = JobMessage::ChangePassword(ChangePassword {
            job_id: JobId::new(),
            account: Dn::from_directory("uid=a,ou=people,dc=example,dc=org"),
            sealed_password: crate::seal::Keyring::random("k1").seal("ctx", b"x"),
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
}
