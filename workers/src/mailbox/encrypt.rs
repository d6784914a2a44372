//! Encrypting one stored message in place.

use super::maildir::MessageFile;
use latchkey_core::encryption::{
    Algorithm, EncryptError, Recipients, encrypt_message, is_already_encrypted,
};
use std::io;

/// What became of one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Rewritten {
    /// Encrypted now.
    Encrypted,
    /// Encrypted already; left as it was (but for a stale `S=`).
    AlreadyEncrypted,
    /// Moved or deleted by a mail client meanwhile; a later round finds it.
    Gone,
}

/// Encrypts one message in place unless it is encrypted already.
pub fn encrypt_in_place(
    message: &MessageFile,
    algorithm: Algorithm,
    recipients: &Recipients,
    protect_subject: bool,
) -> Result<Rewritten, EncryptError> {
    let encrypted = match message.open() {
        Ok(mut reader) => is_already_encrypted(&mut reader)?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Rewritten::Gone),
        Err(error) => return Err(error.into()),
    };
    if encrypted {
        message.correct_stale_size()?;
        return Ok(Rewritten::AlreadyEncrypted);
    }
    let replaced = message.replace(|input, output| {
        encrypt_message(algorithm, recipients, protect_subject, input, output).map(drop)
    });
    match replaced {
        Ok(_) => Ok(Rewritten::Encrypted),
        Err(EncryptError::Io(error)) if error.kind() == io::ErrorKind::NotFound => {
            Ok(Rewritten::Gone)
        }
        Err(error) => Err(error),
    }
}
