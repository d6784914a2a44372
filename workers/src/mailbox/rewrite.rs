//! Rewriting one message crash-safely, in two steps so that many can be in
//! flight: [`MessageFile::stage`] writes the new copy into `tmp/`, then
//! [`Staged::commit`] puts it in place of the original:
//!
//! 1. `fdatasync` the copy: its bytes are on disk before any name points
//!    at them;
//! 2. link it beside the original under its final name ([`copy_name`]:
//!    same unique part and flags, `S=` its real size), which never replaces
//!    a file (`link(2)` fails on a taken name), and sync that directory;
//! 3. remove the original (and the copy's name in `tmp/`). Should the
//!    original be gone by then (a mail client moved or deleted it), the
//!    copy is taken back out: the message is not brought back.
//!
//! Dovecot 2.3 keys its `dovecot-uidlist` by the name up to `:`, and the
//! copy's differs from the original's there (`S=`): to an IMAP client a new
//! message appears, with its flags, and the old one is expunged, as IMAP
//! asks of a message whose content changed. No name ever shows content
//! other than its own, so no read fails: a client that was reading the
//! original keeps reading it from the open file, and a FETCH that comes
//! after the removal answers `OK [EXPUNGEISSUED]` and the new UID next.
//! For the moment between steps 2 and 3 (a directory sync) a client may
//! list both.
//!
//! Killed before step 2, a pass leaves a marked file in `tmp/` and the
//! original in place; between 2 and 3 (or after a power cut that lost the
//! removal), the original and its complete encrypted copy side by side.
//! The next pass first removes both kinds of leftovers
//! ([`super::maildir::Maildir::remove_leftovers`]), so every message is
//! there once, original or encrypted once. A copy whose final name is the
//! original's (only a copy of exactly the size the name gives, which an
//! encrypted one never is) replaces it with one atomic rename instead.

use super::maildir::{MessageFile, TMP_MARK, copy_name, sync_directory};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter};
use std::os::unix::fs::{DirEntryExt, MetadataExt};
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
    /// Makes the copy durable and puts it in place of the original (see
    /// the module docs); returns its path. A message that a mail client
    /// moved or deleted meanwhile is left alone and gets no copy
    /// (`NotFound`): a later round or pass meets it again. A taken final
    /// name fails with `AlreadyExists` and leaves everything as it was.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let file = self.file.take().expect("a staged copy has its file");
        // The data and its length must be on disk before a name points at them; other metadata need not.
        file.sync_data()?;
        let size = file.metadata()?.len();
        drop(file);
        let original = &self.message.path;
        let name = original.file_name().unwrap_or_default().to_string_lossy();
        let target = original.with_file_name(copy_name(&name, size));
        // Checked as late as possible, so that a vanished message gets no copy at all.
        fs::symlink_metadata(original)?;
        if target == *original {
            // Only a copy of exactly the size the name gives (never an
            // encrypted one, which is longer): it cannot go beside the
            // original, so it replaces it in one atomic rename.
            fs::rename(&self.tmp, original)?;
            self.tmp = PathBuf::new();
            return Ok(target);
        }
        fs::hard_link(&self.tmp, &target)?;
        let directory = target.parent().unwrap_or(&self.message.folder);
        if let Err(error) = sync_directory(directory).and_then(|()| fs::remove_file(original)) {
            // Moved or deleted since the check (or not removable): take the
            // copy back, so the message is neither brought back nor there twice.
            self.take_back();
            return Err(error);
        }
        // The name in tmp/ goes on drop.
        Ok(target)
    }

    /// Removes the copy from the folder under whatever name it has now (a
    /// mail client may have moved it to `cur/` or flagged it already): the
    /// name in `tmp/` still holds its inode.
    fn take_back(&self) {
        let Ok(copy) = fs::symlink_metadata(&self.tmp) else {
            return;
        };
        for subdirectory in ["new", "cur"] {
            let Ok(entries) = fs::read_dir(self.message.folder.join(subdirectory)) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.ino() == copy.ino() {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
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
    use super::super::maildir::{Maildir, MessageFile, deliver};
    use super::Staged;
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
        assert!(!sent_message.path.exists(), "the original is gone");
        assert_eq!(maildir.messages().unwrap().len(), 3);
        assert_eq!(fs::read_dir(sent.join("tmp")).unwrap().count(), 0);
    }

    fn grow(message: &MessageFile) -> Staged {
        let ((), staged) = message
            .stage(|input, output| -> io::Result<()> {
                io::copy(input, output)?;
                output.write_all(b", encrypted")
            })
            .unwrap();
        staged
    }

    #[test]
    fn a_copy_gets_a_size_in_its_name_when_the_original_had_none() {
        let root = tempfile::tempdir().unwrap();
        for subdirectory in ["new", "cur", "tmp"] {
            fs::create_dir(root.path().join(subdirectory)).unwrap();
        }
        let original = root.path().join("new/1.a.host");
        fs::write(&original, b"plain").unwrap();
        let message = &Maildir::new(root.path()).messages().unwrap()[0];
        let new_path = grow(message).commit().unwrap();
        assert_eq!(new_path, root.path().join("new/1.a.host,S=16"));
        assert_eq!(fs::read(&new_path).unwrap(), b"plain, encrypted");
        assert!(!original.exists());
    }

    #[test]
    fn a_taken_final_name_is_never_replaced() {
        let root = tempfile::tempdir().unwrap();
        let path = deliver(root.path(), "1.a.host", Some("S"), b"plain").unwrap();
        let message = &Maildir::new(root.path()).messages().unwrap()[0];
        let taken = root.path().join("cur/1.a.host,S=16:2,S");
        fs::write(&taken, b"someone else's").unwrap();
        let error = grow(message).commit().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&taken).unwrap(), b"someone else's");
        assert_eq!(fs::read(&path).unwrap(), b"plain");
        assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn a_copy_of_the_size_the_name_gives_replaces_the_original_at_once() {
        let root = tempfile::tempdir().unwrap();
        let path = deliver(root.path(), "1.a.host", Some("S"), b"plain").unwrap();
        let message = &Maildir::new(root.path()).messages().unwrap()[0];
        let (_, staged) = message
            .stage(|_, output| output.write_all(b"PLAIN"))
            .unwrap();
        assert_eq!(staged.commit().unwrap(), path);
        assert_eq!(fs::read(&path).unwrap(), b"PLAIN");
        assert_eq!(Maildir::new(root.path()).messages().unwrap().len(), 1);
        assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
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
        let left: Vec<_> = Maildir::new(root.path()).messages().unwrap();
        assert_eq!(left.len(), 1, "no copy beside it: {left:?}");
        assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn a_copy_whose_original_cannot_be_removed_is_taken_back() {
        let root = tempfile::tempdir().unwrap();
        let path = deliver(root.path(), "1.a.host", Some("S"), b"plain").unwrap();
        let message = &Maildir::new(root.path()).messages().unwrap()[0];
        let staged = grow(message);
        // Something in the original's place that remove_file refuses.
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        assert!(staged.commit().is_err());
        assert!(path.is_dir());
        assert!(Maildir::new(root.path()).messages().unwrap().is_empty());
        assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn a_copy_is_taken_back_under_the_name_a_client_gave_it() {
        let root = tempfile::tempdir().unwrap();
        deliver(root.path(), "1.a.host", None, b"plain").unwrap();
        let message = &Maildir::new(root.path()).messages().unwrap()[0];
        let staged = grow(message);
        let renamed = root.path().join("cur/1.a.host,S=16:2,S");
        fs::hard_link(&staged.tmp, &renamed).unwrap();
        staged.take_back();
        assert!(!renamed.exists());
        assert_eq!(fs::read(&message.path).unwrap(), b"plain");
    }

    #[test]
    fn a_message_deleted_meanwhile_is_not_brought_back() {
        let root = tempfile::tempdir().unwrap();
        let path = deliver(root.path(), "1.a.host", Some("S"), b"original").unwrap();
        let message = &Maildir::new(root.path()).messages().unwrap()[0];
        let staged = grow(message);
        fs::remove_file(&path).unwrap();
        let error = staged.commit().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(Maildir::new(root.path()).messages().unwrap().is_empty());
        assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
    }
}
