//! Maildir (and Maildir++ folders): listing messages, the names that carry
//! their flags and `S=` size, and what a pass cleans up and syncs. Rewriting
//! one message is in [`super::rewrite`]. The folders are synced once after
//! a batch ([`sync_directories`]): an original's removal lost to a power
//! cut only brings back the pair of original and encrypted copy that the
//! next pass settles ([`Maildir::remove_leftovers`]).

use latchkey_core::encryption::is_already_encrypted;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};

/// Marks our own files in `tmp/`, so a pass can remove what a killed one left.
pub(super) const TMP_MARK: &str = ".latchkey-";

/// A Maildir on disk.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
}

/// One message file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFile {
    /// Where it is now.
    pub path: PathBuf,
    /// The folder (the directory holding `new/`, `cur/`, `tmp/`).
    pub(super) folder: PathBuf,
}

impl Maildir {
    /// The Maildir at `root` (which may not exist: then it holds nothing).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folders: the root (INBOX) and every Maildir++ `.Folder`.
    fn folders(&self) -> io::Result<Vec<PathBuf>> {
        let mut folders = Vec::new();
        if !self.root.join("cur").is_dir() && !self.root.join("new").is_dir() {
            return Ok(folders);
        }
        folders.push(self.root.clone());
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name();
            let is_folder = name.to_string_lossy().starts_with('.')
                && entry.file_type()?.is_dir()
                && entry.path().join("cur").is_dir();
            if is_folder {
                folders.push(entry.path());
            }
        }
        Ok(folders)
    }

    /// Every message in `new/` and `cur/` of every folder.
    pub fn messages(&self) -> io::Result<Vec<MessageFile>> {
        let mut messages = Vec::new();
        for folder in self.folders()? {
            for subdirectory in ["new", "cur"] {
                let directory = folder.join(subdirectory);
                let entries = match fs::read_dir(&directory) {
                    Ok(entries) => entries,
                    Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                    Err(error) => return Err(error),
                };
                for entry in entries {
                    let entry = entry?;
                    let hidden = entry.file_name().to_string_lossy().starts_with('.');
                    if !hidden && entry.file_type()?.is_file() {
                        messages.push(MessageFile {
                            path: entry.path(),
                            folder: folder.clone(),
                        });
                    }
                }
            }
        }
        messages.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(messages)
    }

    /// Removes what killed passes left: their staged copies in `tmp/`
    /// (marked, never another program's files) and the originals of
    /// messages whose encrypted copy was in place already (see
    /// [`remove_replaced_originals`]). Answers how many files went.
    pub fn remove_leftovers(&self) -> io::Result<usize> {
        let mut removed = 0;
        for folder in self.folders()? {
            let Ok(entries) = fs::read_dir(folder.join("tmp")) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().contains(TMP_MARK) {
                    fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed + remove_replaced_originals(&self.messages()?)?)
    }
}

/// Settles the pairs a pass killed between putting an encrypted copy in
/// place and removing its original leaves: two files of one message (the
/// same unique part in one folder, `new/` or `cur/`). The original goes
/// only when the other file is a complete encrypted copy (encrypted, its
/// length the `S=` of its name) and the original is not encrypted; any
/// other pair, or more than two files, is not ours to judge and stays.
/// A file a mail client moves meanwhile leaves its pair for the next pass.
fn remove_replaced_originals(messages: &[MessageFile]) -> io::Result<usize> {
    let mut messages_by_unique: BTreeMap<(&Path, String), Vec<&MessageFile>> = BTreeMap::new();
    for message in messages {
        messages_by_unique
            .entry((&message.folder, message.unique()))
            .or_default()
            .push(message);
    }
    let mut removed = 0;
    for files in messages_by_unique.values() {
        let [first, second] = files[..] else {
            continue;
        };
        let inspected = inspect(first).and_then(|one| Ok((one, inspect(second)?)));
        let original = match inspected {
            Ok(((false, _), (true, true))) => first,
            Ok(((true, true), (false, _))) => second,
            Ok(_) => continue,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        match fs::remove_file(&original.path) {
            Ok(()) => removed += 1,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(removed)
}

/// Whether the file is encrypted, and whether it was written whole (our
/// copies always carry their real size in `S=`).
fn inspect(message: &MessageFile) -> io::Result<(bool, bool)> {
    let size = fs::symlink_metadata(&message.path)?.len();
    let whole = message.size_in_name() == Some(size);
    Ok((is_encrypted(&message.path)?, whole))
}

/// Whether the file holds a message encrypted as a whole.
fn is_encrypted(path: &Path) -> io::Result<bool> {
    let mut input = BufReader::with_capacity(64 * 1024, File::open(path)?);
    Ok(is_already_encrypted(&mut input)?.is_some())
}

/// `name` with its `S=` field set to `size` (and any `W=` dropped, since the
/// line count changed too); names without `S=` get none.
pub fn with_size(name: &str, size: u64) -> String {
    let (base, info) = split_info(name);
    let mut fields = base.split(',');
    let unique = fields.next().unwrap_or(base);
    let mut rebuilt = unique.to_owned();
    for field in fields {
        if field.starts_with("S=") {
            rebuilt.push_str(&format!(",S={size}"));
        } else if !field.starts_with("W=") {
            rebuilt.push(',');
            rebuilt.push_str(field);
        }
    }
    rebuilt + info
}

/// The name of a new copy of `name`'s message that is `size` bytes long:
/// the same unique part and flags, `S=` set (added if `name` had none) and
/// any `W=` dropped. Unless `name` already says exactly that size, the two
/// differ before the `:`, where Dovecot keys its `dovecot-uidlist`: the
/// copy is a new message to it, never the old one with new content.
pub fn copy_name(name: &str, size: u64) -> String {
    let named = with_size(name, size);
    let (base, info) = split_info(&named);
    if base.split(',').skip(1).any(|field| field.starts_with("S=")) {
        return named;
    }
    format!("{base},S={size}{info}")
}

/// A file name split before its `:` (the info part with the flags).
fn split_info(name: &str) -> (&str, &str) {
    name.split_at(name.find(':').unwrap_or(name.len()))
}

impl MessageFile {
    /// The unique part of its name, which renames keep.
    pub fn unique(&self) -> String {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        name.split([',', ':']).next().unwrap_or_default().to_owned()
    }

    /// The size its name claims (`S=`), if any.
    pub fn size_in_name(&self) -> Option<u64> {
        let name = self.path.file_name()?.to_str()?;
        split_info(name)
            .0
            .split(',')
            .skip(1)
            .find_map(|field| field.strip_prefix("S=")?.parse().ok())
    }

    /// Opens the message for reading.
    pub fn open(&self) -> io::Result<BufReader<File>> {
        Ok(BufReader::with_capacity(64 * 1024, File::open(&self.path)?))
    }

    /// Renames the file so its `S=` matches `size`, if it carries one.
    pub(super) fn correct_size(&self, size: u64) -> io::Result<PathBuf> {
        let name = self
            .path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let corrected = with_size(&name, size);
        if corrected == name {
            return Ok(self.path.clone());
        }
        let target = self.path.with_file_name(corrected);
        fs::rename(&self.path, &target)?;
        Ok(target)
    }

    /// Corrects a stale `S=` (left by a pass killed between its renames).
    pub fn correct_stale_size(&self) -> io::Result<PathBuf> {
        let size = fs::metadata(&self.path)?.len();
        self.correct_size(size)
    }
}

/// Makes the names created and removed in the folders of `messages` durable.
pub fn sync_directories(messages: &[MessageFile]) -> io::Result<()> {
    let directories: std::collections::BTreeSet<&Path> = messages
        .iter()
        .filter_map(|message| message.path.parent())
        .collect();
    directories.into_iter().try_for_each(sync_directory)
}

/// Makes the names created in and removed from `directory` durable.
pub(super) fn sync_directory(directory: &Path) -> io::Result<()> {
    File::open(directory)?.sync_all()
}

/// Writes a small Maildir message for tests and demo data.
pub fn deliver(
    folder: &Path,
    unique: &str,
    flags: Option<&str>,
    content: &[u8],
) -> io::Result<PathBuf> {
    for subdirectory in ["new", "cur", "tmp"] {
        fs::create_dir_all(folder.join(subdirectory))?;
    }
    let size = content.len();
    let path = match flags {
        Some(flags) => folder
            .join("cur")
            .join(format!("{unique},S={size}:2,{flags}")),
        None => folder.join("new").join(format!("{unique},S={size}")),
    };
    let mut file = File::create(&path)?;
    file.write_all(content)?;
    file.sync_all()?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_field_is_corrected_and_the_flags_kept() {
        assert_eq!(
            with_size("1.M1P2.host,S=100,W=104:2,RS", 900),
            "1.M1P2.host,S=900:2,RS"
        );
        assert_eq!(with_size("1.M1P2.host,S=100", 900), "1.M1P2.host,S=900");
        assert_eq!(with_size("1.M1P2.host:2,S", 900), "1.M1P2.host:2,S");
        assert_eq!(with_size("1.host,X=1,S=5:2,", 7), "1.host,X=1,S=7:2,");
    }

    #[test]
    fn a_copy_is_named_with_its_size_whatever_the_original_carried() {
        assert_eq!(
            copy_name("1.host,S=100,W=104:2,RS", 900),
            "1.host,S=900:2,RS"
        );
        assert_eq!(copy_name("1.host:2,S", 900), "1.host,S=900:2,S");
        assert_eq!(copy_name("1.host", 900), "1.host,S=900");
        assert_eq!(copy_name("1.host,S=900", 900), "1.host,S=900");
    }

    const ENCRYPTED: &[u8] = b"Subject: hi\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\n\n--b\n";

    /// A folder holding what a pass killed between its link and its
    /// removal leaves: `unique`'s original, plaintext, and another file.
    fn pair(root: &Path, unique: &str, other: &[u8], other_size: usize) -> (PathBuf, PathBuf) {
        let original = deliver(root, unique, Some("S"), b"Subject: hi\n\nplain\n").unwrap();
        let other_path = root.join(format!("cur/{unique},S={other_size}:2,S"));
        fs::write(&other_path, other).unwrap();
        (original, other_path)
    }

    #[test]
    fn the_next_pass_settles_a_leftover_pair_to_the_encrypted_copy() {
        let root = tempfile::tempdir().unwrap();
        let (original, copy) = pair(root.path(), "1.a.host", ENCRYPTED, ENCRYPTED.len());
        // The copy a mail client already moved to cur/ pairs with an original in new/ too.
        let in_new = deliver(root.path(), "2.b.host", None, b"Subject: two\n\nplain\n").unwrap();
        let moved_copy = root
            .path()
            .join(format!("cur/2.b.host,S={}:2,", ENCRYPTED.len()));
        fs::write(&moved_copy, ENCRYPTED).unwrap();
        fs::write(root.path().join("tmp/3.c.host.latchkey-0123"), b"half").unwrap();
        let maildir = Maildir::new(root.path());
        assert_eq!(maildir.remove_leftovers().unwrap(), 3);
        assert!(!original.exists() && !in_new.exists());
        let left: Vec<PathBuf> = maildir
            .messages()
            .unwrap()
            .into_iter()
            .map(|m| m.path)
            .collect();
        assert_eq!(left, vec![copy, moved_copy]);
        assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(maildir.remove_leftovers().unwrap(), 0, "settled once");
    }

    #[test]
    fn a_pair_without_a_complete_encrypted_copy_is_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let plain = b"Subject: hi\n\nanother plain one\n";
        let (one, two) = pair(root.path(), "1.a.host", plain, plain.len());
        let cut = &ENCRYPTED[..ENCRYPTED.len() - 4];
        let (three, four) = pair(root.path(), "2.b.host", cut, ENCRYPTED.len());
        let maildir = Maildir::new(root.path());
        assert_eq!(maildir.remove_leftovers().unwrap(), 0);
        for path in [one, two, three, four] {
            assert!(path.exists(), "{} stays", path.display());
        }
    }
}
