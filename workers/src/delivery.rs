//! Encryption at delivery: one message in, the same message out, encrypted
//! for its recipient if the account asks for it (a Dovecot Sieve `filter`
//! or an LDA pipe runs `latchkey-encrypt <user>`).
//!
//! What it never does is pass mail through in the clear silently: an
//! account it cannot find is an error (the mail server defers the message),
//! and stored keys that cannot encrypt (which expiry or revocation after
//! upload does not cause: keys are judged as they were when accepted) let
//! the message through marked with an [`UNENCRYPTED_HEADER`] saying why.

use latchkey_core::directory::Accounts;
use latchkey_core::domain::Uid;
use latchkey_core::encryption::{Encrypted, Encryptor};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::time::SystemTime;
use thiserror::Error;

/// The header field that tells the reader a message could not be encrypted.
pub const UNENCRYPTED_HEADER: &str = "X-Latchkey-Encryption";

/// What delivery-time encryption did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// It was encrypted.
    Encrypted,
    /// It passes through as it came; the text says why.
    Unchanged(&'static str),
    /// The account asks for encryption but its stored keys cannot encrypt:
    /// it passes through with [`UNENCRYPTED_HEADER`] added; the text says why.
    NotEncrypted(String),
}

/// Why a message was not delivered; the mail server should try again later.
#[derive(Debug, Error)]
pub enum DeliveryError {
    /// No account has this name: the Sieve or LDA configuration passes a
    /// name the directory does not know.
    #[error(
        "no account `{uid}` in the directory (the user given was `{given}`); the message is deferred rather than stored unencrypted: check which user the Sieve filter or LDA pipe passes"
    )]
    NoAccount {
        /// What the mail server passed.
        given: String,
        /// The account name looked up.
        uid: String,
    },
    /// The user given cannot be an account name at all.
    #[error("`{0}` is not an account name; the message is deferred")]
    BadUser(String),
    /// The directory could not be asked, or the spool failed.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// The account name a mail server's user names, mapped as the shipped
/// Dovecot configuration does (`auth_username_format = %Ln`): the domain
/// dropped, lower case.
pub fn account_name(user: &str) -> Result<Uid, DeliveryError> {
    let local = user.rsplit_once('@').map_or(user, |(local, _)| local);
    Uid::parse(&local.to_lowercase()).map_err(|_| DeliveryError::BadUser(user.to_owned()))
}

/// Writes `message` to `output`, encrypted for `user` if the account has
/// encryption at rest on and the message is not encrypted already as a whole.
pub async fn encrypt_for_delivery<D: Accounts>(
    directory: &D,
    user: &str,
    message: &mut (impl Read + Seek),
    output: &mut (dyn Write + Send + Sync),
) -> Result<Delivered, DeliveryError> {
    let uid = account_name(user)?;
    let account = directory
        .find_account(&uid)
        .await
        .map_err(anyhow::Error::from)?;
    let Some(account) = account else {
        return Err(DeliveryError::NoAccount {
            given: user.to_owned(),
            uid: uid.to_string(),
        });
    };
    let Some(settings) = account.encryption else {
        std::io::copy(message, output).map_err(anyhow::Error::from)?;
        return Ok(Delivered::Unchanged(
            "encryption at rest is off for this account",
        ));
    };
    let valid_at = settings
        .since
        .map_or_else(SystemTime::now, SystemTime::from);
    let encryptor = Encryptor::from_stored(
        &settings.method,
        &settings.algorithm,
        &settings.keys,
        settings.protect_subject,
        valid_at,
    );
    let outcome = match encryptor {
        Ok(encryptor) => spool_encrypted(&encryptor, message, output)?,
        Err(error) => {
            let reason = format!("the stored key cannot be used ({error}); upload a new key");
            writeln!(output, "{UNENCRYPTED_HEADER}: not encrypted: {reason}")
                .map_err(anyhow::Error::from)?;
            Some(Delivered::NotEncrypted(reason))
        }
    };
    if let Some(Delivered::Encrypted) = outcome {
        return Ok(Delivered::Encrypted);
    }
    message
        .seek(SeekFrom::Start(0))
        .map_err(anyhow::Error::from)?;
    std::io::copy(message, output).map_err(anyhow::Error::from)?;
    Ok(outcome.unwrap_or(Delivered::Unchanged("the message is encrypted already")))
}

/// Encrypts into a spool and writes it to `output`; `None` when the
/// message turned out to be encrypted already (known only at its end).
fn spool_encrypted(
    encryptor: &Encryptor,
    message: &mut impl Read,
    output: &mut (dyn Write + Send + Sync),
) -> anyhow::Result<Option<Delivered>> {
    let mut spool = std::io::BufWriter::new(tempfile::tempfile()?);
    match encryptor.encrypt(&mut BufReader::new(message), &mut spool)? {
        Encrypted::Now => {
            let mut encrypted = spool.into_inner().map_err(|error| error.into_error())?;
            encrypted.seek(SeekFrom::Start(0))?;
            std::io::copy(&mut encrypted, output)?;
            Ok(Some(Delivered::Encrypted))
        }
        Encrypted::Already(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_server_users_map_to_account_names_as_dovecot_maps_them() {
        let name = |user| account_name(user).map(|uid| uid.to_string()).ok();
        assert_eq!(name("alice").as_deref(), Some("alice"));
        assert_eq!(name("Alice@Example.org").as_deref(), Some("alice"));
        assert_eq!(name("ALICE").as_deref(), Some("alice"));
        assert_eq!(name(""), None);
    }
}
