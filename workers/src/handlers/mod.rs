//! One handler per job kind, and what they share: reading the account and
//! writing it again when another writer got in first.

mod app_password_expiry;
mod app_passwords;
mod change_password;
mod encrypt_mailbox;
mod mailbox_parts;
mod mailbox_pass;
mod second_factor;

pub use app_password_expiry::{expire_app_password, schedule_expiry};
pub use app_passwords::{
    create_app_password, revoke_app_passwords, revoke_every_app_password, sweep_expired,
};
pub use change_password::change_password;
pub use encrypt_mailbox::{disable_encryption, encrypt_mailbox};
pub use mailbox_parts::encrypt_mailbox_part;
pub use second_factor::{
    add_passkey, disable_totp, enable_totp, regenerate_recovery_codes, remove_passkey,
};

use crate::outcome::Outcome;
use latchkey_core::directory::{Account, Accounts, DirectoryError};
use latchkey_core::domain::Dn;
use latchkey_core::password::PasswordHasher;
use secrecy::SecretString;
use std::future::Future;

/// How often a write that lost a race with another writer is re-read and
/// retried before the job goes back to the queue.
const CONFLICT_RETRIES: usize = 5;

const ACCOUNT_GONE: &str = "the account no longer exists";

/// Reads the account at `dn` and runs `apply` on it; a write that lost a
/// race ([`DirectoryError::Conflict`]) is tried again on a fresh read. Any
/// other failure becomes the job's outcome.
pub(crate) async fn on_current_account<D, F, Fut, T>(
    directory: &D,
    dn: &Dn,
    mut apply: F,
) -> Result<T, Outcome>
where
    D: Accounts,
    F: FnMut(Account) -> Fut,
    Fut: Future<Output = Result<T, DirectoryError>>,
{
    for _ in 0..CONFLICT_RETRIES {
        let account = match directory.account_at(dn).await {
            Ok(Some(account)) => account,
            Ok(None) => return Err(Outcome::Failed(ACCOUNT_GONE.into())),
            Err(error) => return Err(Outcome::Retry(error.to_string())),
        };
        match apply(account).await {
            Ok(value) => return Ok(value),
            Err(DirectoryError::Conflict) => continue,
            Err(DirectoryError::NoSuchEntry) => return Err(Outcome::Failed(ACCOUNT_GONE.into())),
            Err(error @ DirectoryError::Refused(_)) => {
                tracing::error!(%error, "the directory refused the change");
                return Err(Outcome::Failed("the directory refused the change".into()));
            }
            Err(error) => return Err(Outcome::Retry(error.to_string())),
        }
    }
    Err(Outcome::Retry(
        "the account kept changing while it was written".into(),
    ))
}

/// Hashes each secret with argon2id on a blocking thread.
pub(crate) async fn hash_all(hasher: &PasswordHasher, secrets: Vec<SecretString>) -> Vec<String> {
    let hasher = hasher.clone();
    tokio::task::spawn_blocking(move || secrets.iter().map(|secret| hasher.hash(secret)).collect())
        .await
        .expect("hashing does not panic")
}

/// The answer when a sealed part of a job cannot be opened (a key was
/// rotated away, or the message was altered): nothing to retry.
pub(crate) fn unreadable(error: impl std::fmt::Display) -> Outcome {
    tracing::error!(%error, "cannot open a sealed part of the job");
    Outcome::Failed("the request could not be read by the worker; please submit it again".into())
}
