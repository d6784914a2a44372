//! Encrypting one stored message in place.

use super::maildir::{MessageFile, sync_directories};
use latchkey_core::encryption::{
    Algorithm, EncryptError, Recipients, encrypt_message, is_already_encrypted,
};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

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

/// Counters a running batch updates, read by whoever reports progress.
#[derive(Debug, Default)]
pub struct BatchProgress {
    /// Messages handled (encrypted, skipped or gone).
    pub done: AtomicU64,
    /// Messages encrypted now.
    pub encrypted: AtomicU64,
    /// Set to stop the batch after the messages in hand (the lease was lost).
    pub cancel: AtomicBool,
}

/// Encrypts `messages` on `threads` threads, each taking the next message
/// until none is left, the batch is cancelled, or one fails (that error is
/// returned; messages already rewritten stay rewritten, which is safe).
pub fn encrypt_batch(
    messages: &[MessageFile],
    algorithm: Algorithm,
    recipients: &Recipients,
    protect_subject: bool,
    threads: usize,
    progress: &BatchProgress,
) -> Result<(), EncryptError> {
    let next = AtomicUsize::new(0);
    let failure = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, messages.len().max(1)) {
            scope.spawn(|| {
                while !progress.cancel.load(Ordering::Relaxed) {
                    let Some(message) = messages.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    match encrypt_in_place(message, algorithm, recipients, protect_subject) {
                        Ok(outcome) => {
                            if outcome == Rewritten::Encrypted {
                                progress.encrypted.fetch_add(1, Ordering::Relaxed);
                            }
                            progress.done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(error) => {
                            progress.cancel.store(true, Ordering::Relaxed);
                            *failure
                                .lock()
                                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error);
                        }
                    }
                }
            });
        }
    });
    match failure
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
    {
        Some(error) => Err(error),
        None => Ok(sync_directories(messages)?),
    }
}
