//! Rewriting one message crash-safely, in two steps so that many can be in
//! flight: [`MessageFile::stage`] writes the new copy into `tmp/`, then
//! [`Staged::commit`] makes that copy durable (`fdatasync`) and only then
//! renames it over the original (atomic: the message is whole, old or new,
//! at every instant) and once more to correct `S=`. A worker killed between
//! the two renames leaves one encrypted message with a stale size in its
//! name; the next pass finds it encrypted and corrects the name. Killed
//! before the first rename, it leaves a marked file in `tmp/`, which the
//! next pass removes ([`super::maildir::Maildir::remove_leftovers`]).
//!
//! Dovecot 2.3 keys its `dovecot-uidlist` by the name up to `:`, `S=`
//! included: after the second rename it expunges the old UID and lists the
//! message under a new one, with its flags (checked by hand with
//! `doveadm fetch`). The count stays; the UID changes, as IMAP asks of a
//! message whose content changed. Between the two renames the content is
//! new but `S=` old: a Dovecot read in that instant fails with "Cached
//! message size smaller than expected" until the second rename.

use super::maildir::{MessageFile, TMP_MARK};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter};
use std::path::PathBuf;

/// A rewritten copy of a message, complete in `tmp/`, not yet durable nor
/// in place. Dropped without [`Staged::commit`], it is removed.
#[derive(Debug)]
pub struct Staged {
    message: MessageFile,
    tmp: PathBuf,
    file: Option<File>,
}

impl MessageFile {
    /// Writes what `write` produces from the message to a new file in
    /// `tmp/` and answers what `write` answered, with the staged copy. If
    /// `write` fails, the copy is removed and the original is untouched.
    pub fn stage<T, E: From<io::Error>>(
        &self,
        write: impl FnOnce(&mut BufReader<File>, &mut BufWriter<File>) -> Result<T, E>,
    ) -> Result<(T, Staged), E> {
        let mut input = self.open()?;
        let tmp = self.folder.join("tmp").join(format!(
            "{}{TMP_MARK}{}",
            self.unique(),
            uuid::Uuid::new_v4().simple()
        ));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        let mut staged = Staged {
            message: self.clone(),
            tmp,
            file: None,
        };
        let mut output = BufWriter::with_capacity(64 * 1024, file);
        let answer = write(&mut input, &mut output)?;
        staged.file = Some(output.into_inner().map_err(|error| error.into_error())?);
        Ok((answer, staged))
    }
}

impl Staged {
    /// Makes the copy durable and puts it in the original's place; returns
    /// the new path. A message that a mail client moved or deleted
    /// meanwhile is left alone (`NotFound`): a later round meets it again.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let file = self.file.take().expect("a staged copy has its file");
        // The data and its length must be on disk before the rename; other metadata need not.
        file.sync_data()?;
        let size = file.metadata()?.len();
        drop(file);
        // Checked as late as possible: renaming onto a vanished name would bring it back.
        fs::symlink_metadata(&self.message.path)?;
        fs::rename(&self.tmp, &self.message.path)?;
        self.tmp = PathBuf::new();
        self.message.correct_size(size)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::maildir::{Maildir, deliver};
    use std::fs;
    use std::io::{self, Write};

    #[test]
    fn a_committed_message_keeps_its_folder_and_flags_and_leaves_nothing_in_tmp() {
        let root = tempfile::tempdir().unwrap();
        let inbox = root.path();
        let sent = root.path().join(".Sent");
        deliver(inbox, "1.a.host", Some("S"), b"one").unwrap();
        deliver(inbox, "2.b.host", None, b"two").unwrap();
        deliver(&sent, "3.c.host", Some("RS"), b"three").unwrap();
        let maildir = Maildir::new(inbox);
        let messages = maildir.messages().unwrap();
        assert_eq!(messages.len(), 3);
        let sent_message = messages.iter().find(|m| m.path.starts_with(&sent)).unwrap();
        let ((), staged) = sent_message
            .stage(|input, output| -> io::Result<()> {
                io::copy(input, output)?;
                output.write_all(b" and more")
            })
            .unwrap();
        assert_eq!(fs::read(&sent_message.path).unwrap(), b"three", "not yet");
        let new_path = staged.commit().unwrap();
        assert_eq!(new_path, sent.join("cur/3.c.host,S=14:2,RS"));
        assert_eq!(fs::read(&new_path).unwrap(), b"three and more");
        assert_eq!(maildir.messages().unwrap().len(), 3);
        assert_eq!(fs::read_dir(sent.join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn a_failed_or_dropped_rewrite_leaves_the_original() {
        let root = tempfile::tempdir().unwrap();
        let path = deliver(root.path(), "1.a.host", Some("S"), b"original").unwrap();
        let message = &Maildir::new(root.path()).messages().unwrap()[0];
        let result = message.stage(|_, output| -> io::Result<()> {
            output.write_all(b"half")?;
            Err(io::Error::other("crypto failed"))
        });
        assert!(result.is_err());
        let (_, dropped) = message
            .stage(|_, output| output.write_all(b"unwanted"))
            .unwrap();
        drop(dropped);
        assert_eq!(fs::read(&path).unwrap(), b"original");
        assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn a_message_moved_meanwhile_is_not_brought_back() {
        let root = tempfile::tempdir().unwrap();
        let path = deliver(root.path(), "1.a.host", None, b"original").unwrap();
        let message = &Maildir::new(root.path()).messages().unwrap()[0];
        let (_, staged) = message
            .stage(|_, output| output.write_all(b"encrypted"))
            .unwrap();
        let moved = root.path().join("cur/1.a.host,S=8:2,S");
        fs::rename(&path, &moved).unwrap();
        let error = staged.commit().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(!path.exists());
        assert_eq!(fs::read(&moved).unwrap(), b"original");
        assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
    }
}
