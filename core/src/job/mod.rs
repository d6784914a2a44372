//! The job protocol between gateway and workers, defined once: the
//! messages ([`messages`]), the authenticated envelope they travel in
//! ([`envelope`]), and the job record that tracks each one.

mod envelope;
mod messages;
mod parts;

#[cfg(test)]
pub(crate) use envelope::sample as sample_envelope;
pub use envelope::{Envelope, EnvelopeError};
pub use messages::*;
pub use parts::{MailboxPart, PartProgress, PartsSum};

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
    /// See [`AddPasskey`].
    AddPasskey,
    /// See [`RemovePasskey`].
    RemovePasskey,
    /// See [`RegenerateRecoveryCodes`].
    RegenerateRecoveryCodes,
    /// See [`CreateAppPassword`].
    CreateAppPassword,
    /// See [`RevokeAppPasswords`].
    RevokeAppPasswords,
    /// See [`ExpireAppPassword`].
    ExpireAppPassword,
    /// See [`EncryptMailbox`].
    EncryptMailbox,
    /// See [`DisableEncryption`].
    DisableEncryption,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 11] = [
        JobKind::ChangePassword,
        JobKind::EnableTotp,
        JobKind::DisableTotp,
        JobKind::AddPasskey,
        JobKind::RemovePasskey,
        JobKind::RegenerateRecoveryCodes,
        JobKind::CreateAppPassword,
        JobKind::RevokeAppPasswords,
        JobKind::ExpireAppPassword,
        JobKind::EncryptMailbox,
        JobKind::DisableEncryption,
    ];

    /// The kind as stored in the directory.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::ChangePassword => "change_password",
            JobKind::EnableTotp => "enable_totp",
            JobKind::DisableTotp => "disable_totp",
            JobKind::AddPasskey => "add_passkey",
            JobKind::RemovePasskey => "remove_passkey",
            JobKind::RegenerateRecoveryCodes => "regenerate_recovery_codes",
            JobKind::CreateAppPassword => "create_app_password",
            JobKind::RevokeAppPasswords => "revoke_app_passwords",
            JobKind::ExpireAppPassword => "expire_app_password",
            JobKind::EncryptMailbox => "encrypt_mailbox",
            JobKind::DisableEncryption => "disable_encryption",
        }
    }

    /// Parses a kind stored in the directory.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }

    /// Whether jobs of this kind are scheduled by a worker for a later time
    /// (see [`JobMessage::not_before`]) instead of asked for by a person.
    pub fn is_scheduled(self) -> bool {
        matches!(self, JobKind::ExpireAppPassword)
    }

    /// The queue jobs of this kind travel on.
    pub fn queue(self) -> Queue {
        match self {
            JobKind::ChangePassword
            | JobKind::EnableTotp
            | JobKind::DisableTotp
            | JobKind::AddPasskey
            | JobKind::RemovePasskey
            | JobKind::RegenerateRecoveryCodes
            | JobKind::CreateAppPassword
            | JobKind::RevokeAppPasswords
            | JobKind::ExpireAppPassword => Queue::Credentials,
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
    /// Not applied: a newer request for the same setting was applied first.
    Superseded,
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
            JobState::Superseded => "superseded",
            JobState::Failed => "failed",
        }
    }

    /// Parses a state stored in the directory.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            JobState::Queued,
            JobState::Running,
            JobState::Succeeded,
            JobState::Superseded,
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
    /// For a mailbox pass split across workers, each part's progress; the
    /// fields above are their sum. Empty for a job done in one piece.
    #[serde(skip)]
    pub parts: Vec<PartProgress>,
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
            parts: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
