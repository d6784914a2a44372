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
//!
//! Every step works in the message's directories as they were opened and
//! checked to read it ([`super::containment`]): the copy is created with
//! `O_CREAT | O_EXCL | O_NOFOLLOW` in the folder's `tmp/`, and linked,
//! renamed and removed relative to those open directories, so a folder
//! swapped for a link meanwhile is never written through. The original's
//! name is checked to hold the file read just before step 2 and again
//! before its removal: a message displaced since gets no copy.

use super::containment;
use super::maildir::{Directories, MessageFile, TMP_MARK, copy_name};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufReader, BufWriter};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// A rewritten copy of a message, complete in `tmp/`, not yet durable nor
/// in place. Dropped without [`Staged::commit`], it is removed. It holds
/// the message's directories as they were opened and checked for reading
/// it: every name it links, renames or removes is in those, so a folder
/// swapped for a link meanwhile is never written through.
#[derive(Debug)]
pub struct Staged {
    message: MessageFile,
    directories: Directories,
    tmp_directory: OwnedFd,
    tmp_name: OsString,
    /// Whether the copy still has its name in `tmp/` (to go on drop).
    in_tmp: bool,
    file: Option<File>,
}

impl MessageFile {
    /// Writes what `write` produces from the message to a new file in
    /// `tmp/` and answers what `write` answered, with the staged copy. If
    /// `write` fails, the copy is removed and the original is untouched.
    /// The message is read only if it is the regular file listed, in the
    /// folder listed: one displaced since fails with a [`containment::Displaced`]
    /// error, and nothing is read or written.
    pub fn stage<T, E: From<io::Error>>(
        &self,
        write: impl FnOnce(&mut BufReader<File>, &mut BufWriter<File>) -> Result<T, E>,
    ) -> Result<(T, Staged), E> {
        let (directories, input) = self.open_checked()?;
        let mut input = BufReader::with_capacity(64 * 1024, input);
        let (tmp_directory, _) = containment::open_directory(&*directories.folder, "tmp")?;
        let tmp_name = OsString::from(format!(
            "{}{TMP_MARK}{}",
            self.unique(),
            uuid::Uuid::new_v4().simple()
        ));
        let file = containment::create_new(&tmp_directory, &tmp_name)?;
        let mut staged = Staged {
            message: self.clone(),
            directories,
            tmp_directory,
            tmp_name,
            in_tmp: true,
            file: None,
        };
        let mut output = BufWriter::with_capacity(64 * 1024, file);
        let answer = write(&mut input, &mut output)?;
        staged.file = Some(output.into_inner().map_err(|error| error.into_error())?);
        Ok((answer, staged))
    }
}

impl Staged {
    /// The message this is a copy of.
    pub fn message(&self) -> &MessageFile {
        &self.message
    }

    /// Makes the copy durable and puts it in place of the original (see
    /// the module docs); returns its path. A message that a mail client
    /// moved or deleted meanwhile is left alone and gets no copy
    /// (`NotFound`): a later round or pass meets it again. One whose name
    /// now holds a link or another file gets none either
    /// ([`containment::Displaced`]). A taken final name fails with
    /// `AlreadyExists` and leaves everything as it was.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let file = self.file.take().expect("a staged copy has its file");
        // The data and its length must be on disk before a name points at them; other metadata need not.
        file.sync_data()?;
        let size = file.metadata()?.len();
        drop(file);
        let original = &self.message.name;
        let final_name = OsString::from(copy_name(&original.to_string_lossy(), size));
        let target = self.message.path.with_file_name(&final_name);
        let directory = &self.directories.messages;
        // Checked as late as possible, so that a vanished or displaced message gets no copy at all.
        containment::still_there(directory, original, self.message.id)?;
        if final_name == *original {
            // Only a copy of exactly the size the name gives (never an
            // encrypted one, which is longer): it cannot go beside the
            // original, so it replaces it in one atomic rename.
            containment::rename(&self.tmp_directory, &self.tmp_name, directory, original)?;
            self.in_tmp = false;
            return Ok(target);
        }
        containment::link(&self.tmp_directory, &self.tmp_name, directory, &final_name)?;
        let removed = containment::sync(directory)
            .and_then(|()| containment::still_there(directory, original, self.message.id))
            .and_then(|()| containment::remove(directory, original));
        if let Err(error) = removed {
            // Moved, deleted or displaced since the check (or not
            // removable): take the copy back, so the message is neither
            // brought back nor there twice.
            self.take_back();
            return Err(error);
        }
        // The name in tmp/ goes on drop.
        Ok(target)
    }

    /// Where the copy is in `tmp/`.
    #[cfg(test)]
    fn tmp(&self) -> PathBuf {
        self.message.folder.join("tmp").join(&self.tmp_name)
    }

    /// Removes the copy from the folder under whatever name it has now (a
    /// mail client may have moved it to `cur/` or flagged it already): the
    /// name in `tmp/` still holds its inode.
    fn take_back(&self) {
        let Ok(copy) = containment::stat_here(&self.tmp_directory, &self.tmp_name) else {
            return;
        };
        let copy = containment::file_id(&copy);
        for subdirectory in ["new", "cur"] {
            let Ok((directory, _)) =
                containment::open_directory(&*self.directories.folder, subdirectory)
            else {
                continue;
            };
            let Ok(names) = containment::names(&directory) else {
                continue;
            };
            for name in names {
                if containment::still_there(&directory, &name, copy).is_ok() {
                    let _ = containment::remove(&directory, &name);
                }
            }
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.in_tmp {
            let _ = containment::remove(&self.tmp_directory, &self.tmp_name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::containment::Displaced;
    use super::super::maildir::{Maildir, MessageFile, deliver};
    use super::Staged;
    use std::fs;
    use std::io::{self, Write};
    use std::os::unix::fs::symlink;
    use std::path::Path;

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
        let (root, path, message) = one_message();
        let message = &message;
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
        let (root, path, message) = one_message();
        let message = &message;
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
        let (root, path, message) = one_message();
        let message = &message;
        let staged = grow(message);
        // Something in the original's place that is not the file read and cannot be removed as one.
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
        fs::hard_link(staged.tmp(), &renamed).unwrap();
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

    /// Every file under `root` (links as links) with its content or target.
    fn tree(root: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(directory) = pending.pop() {
            for entry in fs::read_dir(&directory).unwrap() {
                let path = entry.unwrap().path();
                let kind = fs::symlink_metadata(&path).unwrap().file_type();
                if kind.is_dir() {
                    pending.push(path);
                } else if kind.is_symlink() {
                    let target = fs::read_link(&path).unwrap();
                    files.push((path, target.into_os_string().into_encoded_bytes()));
                } else {
                    let content = fs::read(&path).unwrap();
                    files.push((path, content));
                }
            }
        }
        files.sort();
        files
    }

    /// A Maildir holding one message, `plain`: the folder, its path, and
    /// the message as listed.
    fn one_message() -> (tempfile::TempDir, std::path::PathBuf, MessageFile) {
        let root = tempfile::tempdir().unwrap();
        let path = deliver(root.path(), "1.a.host", Some("S"), b"plain").unwrap();
        let message = Maildir::new(root.path()).messages().unwrap().remove(0);
        (root, path, message)
    }

    /// A file outside the Maildir, for a link to point at.
    fn someone_elses_file() -> (tempfile::TempDir, std::path::PathBuf) {
        let elsewhere = tempfile::tempdir().unwrap();
        let target = elsewhere.path().join("secret");
        fs::write(&target, b"someone else's").unwrap();
        (elsewhere, target)
    }

    fn displaced<T: std::fmt::Debug>(result: io::Result<T>) -> Option<Displaced> {
        Displaced::of(&result.unwrap_err())
    }

    #[test]
    fn a_message_swapped_for_a_link_before_staging_is_neither_read_nor_written() {
        let (root, path, message) = one_message();
        let message = &message;
        let (_elsewhere, target) = someone_elses_file();
        fs::rename(&path, root.path().join("moved-away")).unwrap();
        symlink(&target, &path).unwrap();
        let mut read = false;
        let staged = message.stage(|_, output| {
            read = true;
            output.write_all(b"encrypted")
        });
        assert_eq!(displaced(staged), Some(Displaced::Symlink));
        assert!(!read, "the link was never opened");
        assert_eq!(fs::read(&target).unwrap(), b"someone else's");
        assert!(fs::symlink_metadata(&path).unwrap().is_symlink());
        assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(displaced(message.open()), Some(Displaced::Symlink));
    }

    #[test]
    fn a_message_swapped_for_a_link_before_its_commit_gets_no_copy_and_the_link_stays() {
        let (root, path, message) = one_message();
        let message = &message;
        let (_elsewhere, target) = someone_elses_file();
        let staged = grow(message);
        fs::rename(&path, root.path().join("moved-away")).unwrap();
        symlink(&target, &path).unwrap();
        assert_eq!(displaced(staged.commit()), Some(Displaced::Symlink));
        assert_eq!(fs::read(&target).unwrap(), b"someone else's");
        assert!(fs::symlink_metadata(&path).unwrap().is_symlink());
        assert!(Maildir::new(root.path()).messages().unwrap().is_empty());
        assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn a_message_replaced_by_another_file_after_listing_is_left_alone() {
        let (root, path, message) = one_message();
        let message = &message;
        let other = root.path().join("other");
        fs::write(&other, b"swapped in").unwrap();
        fs::rename(&other, &path).unwrap();
        let staged = message.stage(|_, output| output.write_all(b"encrypted"));
        assert_eq!(displaced(staged), Some(Displaced::Replaced));
        // Swapped in after staging: the commit leaves it too.
        let staged = grow(&Maildir::new(root.path()).messages().unwrap()[0]);
        fs::write(&other, b"swapped in again").unwrap();
        fs::rename(&other, &path).unwrap();
        assert_eq!(displaced(staged.commit()), Some(Displaced::Replaced));
        assert_eq!(fs::read(&path).unwrap(), b"swapped in again");
        assert_eq!(Maildir::new(root.path()).messages().unwrap().len(), 1);
        assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
    }

    /// A Maildir holding `.Folder` with one message, and another Maildir
    /// with a folder of the same names, which an attacker wants written.
    fn folder_and_lookalike() -> (tempfile::TempDir, tempfile::TempDir, MessageFile) {
        let root = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        deliver(root.path(), "0.inbox.host", None, b"inbox").unwrap();
        deliver(
            &root.path().join(".Folder"),
            "1.a.host",
            Some("S"),
            b"plain",
        )
        .unwrap();
        deliver(elsewhere.path(), "1.a.host", Some("S"), b"other").unwrap();
        let messages = Maildir::new(root.path()).messages().unwrap();
        let message = messages.into_iter().find(|m| m.unique() == "1.a.host");
        (root, elsewhere, message.unwrap())
    }

    fn swap_folder_for_link(root: &Path, target: &Path) {
        fs::rename(root.join(".Folder"), root.join("folder-moved-away")).unwrap();
        symlink(target, root.join(".Folder")).unwrap();
    }

    /// The link is still a link, and what it points at is as it was.
    fn assert_link_left_alone(
        root: &Path,
        target: &Path,
        before: &[(std::path::PathBuf, Vec<u8>)],
    ) {
        assert_eq!(tree(target), before, "the other Maildir is unchanged");
        assert!(
            fs::symlink_metadata(root.join(".Folder"))
                .unwrap()
                .is_symlink()
        );
    }

    #[test]
    fn a_folder_swapped_for_a_link_before_staging_is_neither_read_nor_written() {
        let (root, elsewhere, message) = folder_and_lookalike();
        let before = tree(elsewhere.path());
        swap_folder_for_link(root.path(), elsewhere.path());
        let staged = message.stage(|_, output| output.write_all(b"encrypted"));
        assert_eq!(displaced(staged), Some(Displaced::Symlink));
        assert_link_left_alone(root.path(), elsewhere.path(), &before);
        let moved = root.path().join("folder-moved-away/cur/1.a.host,S=5:2,S");
        assert_eq!(fs::read(moved).unwrap(), b"plain");
    }

    #[test]
    fn a_folder_swapped_for_a_link_after_staging_is_not_written_through() {
        let (root, elsewhere, message) = folder_and_lookalike();
        let before = tree(elsewhere.path());
        let staged = grow(&message);
        swap_folder_for_link(root.path(), elsewhere.path());
        // The commit works in the directories it read from, wherever they are now.
        staged.commit().unwrap();
        assert_link_left_alone(root.path(), elsewhere.path(), &before);
        let moved = root.path().join("folder-moved-away");
        let copy = moved.join("cur/1.a.host,S=16:2,S");
        assert_eq!(fs::read(copy).unwrap(), b"plain, encrypted");
        assert!(!moved.join("cur/1.a.host,S=5:2,S").exists());
        assert_eq!(fs::read_dir(moved.join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn a_folders_cur_swapped_for_a_link_is_not_followed() {
        let (root, elsewhere, message) = folder_and_lookalike();
        let before = tree(elsewhere.path());
        let folder = root.path().join(".Folder");
        fs::rename(folder.join("cur"), folder.join("cur-moved-away")).unwrap();
        symlink(elsewhere.path().join("cur"), folder.join("cur")).unwrap();
        let staged = message.stage(|_, output| output.write_all(b"encrypted"));
        assert_eq!(displaced(staged), Some(Displaced::Symlink));
        assert_eq!(tree(elsewhere.path()), before);
    }
}
