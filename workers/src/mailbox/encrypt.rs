//! Encrypting stored messages in place, as a pipeline: encryption threads
//! read each message once and stage its encrypted copy in `tmp/` (a
//! message found encrypted already on the way is dropped there), and
//! commit threads make each copy durable and put it in place of its original.
//! `fdatasync` waits on the disk, not the CPU: with many in flight the
//! filesystem commits its journal for many files at once, where one at a
//! time each waited for a commit of its own (about 3 ms here).
//!
//! A message whose name no longer holds the file that was listed (a link
//! or another file swapped in) is neither read nor written: it is counted
//! as skipped by its [`Displaced`] reason.

use super::containment::Displaced;
use super::maildir::{MessageFile, sync_directories};
use super::rewrite::Staged;
use latchkey_core::encryption::{AlreadyEncrypted, EncryptError, Encrypted, Encryptor};
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;

/// Threads that make staged copies durable and put them in place; they
/// mostly wait on the disk.
const COMMIT_THREADS: usize = 8;
/// Staged copies waiting for a commit thread, at most (open files, space in `tmp/`).
const STAGED_IN_FLIGHT: usize = 32;

/// What became of one message.
#[derive(Debug, PartialEq, Eq)]
enum Rewritten {
    /// Encrypted now.
    Encrypted,
    /// Encrypted already; left as it was (but for a stale `S=`).
    AlreadyEncrypted(AlreadyEncrypted),
    /// Moved or deleted by a mail client meanwhile; a later round finds it.
    Gone,
    /// Its name holds a link or another file now; left alone.
    Displaced(Displaced),
}

/// What the encryption step hands on.
enum Staging {
    /// An encrypted copy, to be committed.
    Ready(Staged),
    /// Nothing to commit.
    Finished(Rewritten),
}

/// Settles the errors that say the message is not there to rewrite: moved
/// or deleted by a mail client (gone), or displaced (counted and logged).
fn settle<T>(
    message: &MessageFile,
    result: Result<T, EncryptError>,
    left: impl FnOnce(Rewritten) -> T,
) -> Result<T, EncryptError> {
    match result {
        Err(EncryptError::Io(error)) => match Displaced::of(&error) {
            Some(reason) => {
                tracing::warn!(
                    path = %message.path.display(),
                    reason = reason.as_str(),
                    "a message is left alone: {reason}"
                );
                Ok(left(Rewritten::Displaced(reason)))
            }
            None if error.kind() == io::ErrorKind::NotFound => Ok(left(Rewritten::Gone)),
            None => Err(EncryptError::Io(error)),
        },
        other => other,
    }
}

/// Encrypts one message into `tmp/`, reading it once.
fn stage_one(message: &MessageFile, encryptor: &Encryptor) -> Result<Staging, EncryptError> {
    let staged = message.stage(|input, output| encryptor.encrypt(input, output));
    let staging = staged.and_then(|(outcome, staged)| match outcome {
        Encrypted::Now => Ok(Staging::Ready(staged)),
        Encrypted::Already(reason) => {
            drop(staged);
            message.correct_stale_size()?;
            Ok(Staging::Finished(Rewritten::AlreadyEncrypted(reason)))
        }
    });
    settle(message, staging, Staging::Finished)
}

fn commit_one(staged: Staged) -> Result<Rewritten, EncryptError> {
    let message = staged.message().clone();
    let committed = staged
        .commit()
        .map(|_| Rewritten::Encrypted)
        .map_err(EncryptError::from);
    settle(&message, committed, |outcome| outcome)
}

/// Counters a running batch updates, read by whoever reports progress.
#[derive(Debug, Default)]
pub struct BatchProgress {
    /// Messages handled (encrypted, skipped or gone).
    pub done: AtomicU64,
    /// Messages encrypted now.
    pub encrypted: AtomicU64,
    /// Messages left alone because they were encrypted already, by reason
    /// (in the order of [`AlreadyEncrypted::ALL`]).
    pub skipped: [AtomicU64; AlreadyEncrypted::ALL.len()],
    /// Messages, and links in place of messages or folders, left alone
    /// because their name held a link or another file than listed, by
    /// reason (in the order of [`Displaced::ALL`]).
    pub displaced: [AtomicU64; Displaced::ALL.len()],
    /// Set to stop the batch after the messages in hand (the lease was lost).
    pub cancel: AtomicBool,
}

impl BatchProgress {
    fn count(&self, outcome: Rewritten) {
        let skipped = match &outcome {
            Rewritten::Encrypted => {
                metrics::counter!("latchkey_messages_encrypted_total").increment(1);
                None
            }
            Rewritten::AlreadyEncrypted(reason) => Some(reason.as_str()),
            Rewritten::Displaced(reason) => Some(reason.as_str()),
            Rewritten::Gone => None,
        };
        if let Some(reason) = skipped {
            metrics::counter!("latchkey_messages_skipped_total", "reason" => reason).increment(1);
        }
        match outcome {
            Rewritten::Encrypted => self.encrypted.fetch_add(1, Ordering::Relaxed),
            Rewritten::AlreadyEncrypted(reason) => {
                let at = AlreadyEncrypted::ALL
                    .iter()
                    .position(|known| *known == reason);
                self.skipped[at.expect("every reason is listed")].fetch_add(1, Ordering::Relaxed)
            }
            Rewritten::Displaced(reason) => self.count_displaced(reason),
            Rewritten::Gone => 0,
        };
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    fn count_displaced(&self, reason: Displaced) -> u64 {
        let at = Displaced::ALL.iter().position(|known| *known == reason);
        self.displaced[at.expect("every reason is listed")].fetch_add(1, Ordering::Relaxed)
    }

    /// Counts a link the listing met in place of a message or folder as
    /// handled: skipped, never followed.
    pub fn count_link(&self) {
        self.count(Rewritten::Displaced(Displaced::Symlink));
    }

    /// The messages skipped so far, by reason, as job records count them.
    pub fn skipped(&self) -> std::collections::BTreeMap<String, u64> {
        let encrypted = AlreadyEncrypted::ALL.iter().map(|reason| reason.as_str());
        let displaced = Displaced::ALL.iter().map(|reason| reason.as_str());
        let counts = encrypted
            .zip(&self.skipped)
            .chain(displaced.zip(&self.displaced));
        counts
            .map(|(reason, count)| (reason.to_owned(), count.load(Ordering::Relaxed)))
            .filter(|(_, count)| *count > 0)
            .collect()
    }
}

/// Encrypts `messages` with `threads` encryption threads, each taking the
/// next message until none is left, the batch is cancelled, or one fails
/// (that error is returned; messages already rewritten stay rewritten,
/// which is safe, and copies staged by then are still put in place).
pub fn encrypt_batch(
    messages: &[MessageFile],
    encryptor: &Encryptor,
    threads: usize,
    progress: &BatchProgress,
) -> Result<(), EncryptError> {
    let next = &AtomicUsize::new(0);
    let failure = Mutex::new(None);
    let fail = &|error: EncryptError| {
        progress.cancel.store(true, Ordering::Relaxed);
        failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get_or_insert(error);
    };
    let (sender, receiver) = sync_channel::<Staged>(STAGED_IN_FLIGHT);
    let receiver = &Mutex::new(receiver);
    std::thread::scope(|scope| {
        for _ in 0..COMMIT_THREADS.min(messages.len()) {
            scope.spawn(move || {
                loop {
                    let staged = receiver
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .recv();
                    let Ok(staged) = staged else { break };
                    match commit_one(staged) {
                        Ok(outcome) => progress.count(outcome),
                        Err(error) => fail(error),
                    }
                }
            });
        }
        for _ in 0..threads.clamp(1, messages.len().max(1)) {
            let sender = sender.clone();
            scope.spawn(move || {
                while !progress.cancel.load(Ordering::Relaxed) {
                    let Some(message) = messages.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    match stage_one(message, encryptor) {
                        Ok(Staging::Ready(staged)) => {
                            if sender.send(staged).is_err() {
                                break;
                            }
                        }
                        Ok(Staging::Finished(outcome)) => progress.count(outcome),
                        Err(error) => fail(error),
                    }
                }
            });
        }
        drop(sender);
    });
    match failure
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
    {
        Some(error) => Err(error),
        None => Ok(sync_directories(messages)?),
    }
}

#[cfg(test)]
mod tests {
    use super::super::maildir::{Maildir, deliver};
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn displaced_messages_and_links_are_counted_as_skipped_by_their_stable_names() {
        let root = tempfile::tempdir().unwrap();
        deliver(root.path(), "1.a.host", Some("S"), b"plain").unwrap();
        let message = &Maildir::new(root.path()).messages().unwrap()[0];
        let progress = BatchProgress::default();
        let settled = |error: io::Error| settle(message, Err(EncryptError::Io(error)), |o| o);
        for reason in [Displaced::Symlink, Displaced::Replaced] {
            progress.count(settled(reason.into()).unwrap());
        }
        progress.count_link();
        progress.count(settled(io::ErrorKind::NotFound.into()).unwrap());
        assert!(
            settled(io::Error::other("disk full")).is_err(),
            "any other error still fails the batch"
        );
        let expected = BTreeMap::from([("replaced".to_owned(), 1), ("symlink".to_owned(), 2)]);
        assert_eq!(progress.skipped(), expected);
        assert_eq!(
            progress.done.load(Ordering::Relaxed),
            4,
            "gone counts as done"
        );
        assert_eq!(progress.encrypted.load(Ordering::Relaxed), 0);
    }
}
