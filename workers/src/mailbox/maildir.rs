//! Maildir (and Maildir++ folders): listing messages, the names that carry
//! their flags and `S=` size, and what a pass cleans up and syncs. Rewriting
//! one message is in [`super::rewrite`]. The folders are synced once after
//! a batch ([`sync_directories`]): an original's removal lost to a power
//! cut only brings back the pair of original and encrypted copy that the
//! next pass settles ([`Maildir::remove_leftovers`]).
//!
//! Links are skipped, never followed: a listing reports them
//! ([`Listing::links`]), and records every folder and message as the
//! directory or regular file it was, so that nothing swapped in after it
//! is ever opened ([`super::containment`]).

use super::containment::{self, Displaced, FileId};
use latchkey_core::encryption::is_already_encrypted;
use latchkey_core::job::MailboxPart;
use rustix::fs::FileType;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufReader, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Marks our own files in `tmp/`, so a pass can remove what a killed one left.
pub(super) const TMP_MARK: &str = ".latchkey-";

/// A Maildir on disk.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
}

/// One message file, as listed: a regular file, never a link.
#[derive(Debug, Clone)]
pub struct MessageFile {
    /// Where it is now.
    pub path: PathBuf,
    /// The folder (the directory holding `new/`, `cur/`, `tmp/`).
    pub(super) folder: PathBuf,
    /// The directory it was listed in.
    pub(super) place: Arc<Place>,
    /// Its name in that directory.
    pub(super) name: OsString,
    /// The file its name held when listed; only that file is ever read.
    pub(super) id: FileId,
}

/// What a listing found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Every message in `new/` and `cur/` of every folder, by path.
    pub messages: Vec<MessageFile>,
    /// Symbolic links where a folder (`.Name`), its `new/` or `cur/`, or a
    /// message would be: left alone and never followed.
    pub links: Vec<PathBuf>,
}

/// A folder's `new/` or `cur/` as listed.
#[derive(Debug)]
pub(super) struct Place {
    folder: Arc<Folder>,
    subdirectory: (&'static str, FileId),
}

/// A message's directories, opened again and checked to be those listed.
#[derive(Debug)]
pub(super) struct Directories {
    /// The folder (holding `new/`, `cur/`, `tmp/`).
    pub(super) folder: Arc<OwnedFd>,
    /// Its `new/` or `cur/`, where the message was listed.
    pub(super) messages: OwnedFd,
}

impl Place {
    /// Opens the folder and the directory again, never through a link,
    /// and only if they are the ones listed ([`Displaced`] otherwise).
    pub(super) fn open(&self) -> io::Result<Directories> {
        let folder = self.folder.open()?;
        let (name, id) = self.subdirectory;
        let messages = containment::reopen_directory(&*folder, name, id)?;
        Ok(Directories { folder, messages })
    }
}

/// A folder as listed: INBOX (the root) or a `.Folder` in the root, by
/// name and identity. It is opened again whenever it is used, so a
/// Maildir of many folders never holds many open.
#[derive(Debug)]
struct Folder {
    path: PathBuf,
    /// The Maildir's root, opened once per listing.
    root: Arc<OwnedFd>,
    /// The name in the root and the directory it held; `None` for INBOX.
    name: Option<(OsString, FileId)>,
}

impl Folder {
    /// Its name in the Maildir: `""` for INBOX, `.Name` for the others.
    fn display_name(&self) -> String {
        self.name
            .as_ref()
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The folder's directory, if its name still holds the one listed.
    fn open(&self) -> io::Result<Arc<OwnedFd>> {
        match &self.name {
            None => Ok(Arc::clone(&self.root)),
            Some((name, id)) => Ok(Arc::new(containment::reopen_directory(
                &*self.root,
                name,
                *id,
            )?)),
        }
    }
}

impl Maildir {
    /// The Maildir at `root` (which may not exist: then it holds nothing).
    /// The path is opened as configured, links in it followed; inside it,
    /// no link is ever followed.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folders: the root (INBOX) and every Maildir++ `.Folder`; links
    /// named like a folder go to `links`.
    fn folders(&self, links: &mut Vec<PathBuf>) -> io::Result<Vec<Arc<Folder>>> {
        let root = match containment::open_root(&self.root) {
            Ok(root) => Arc::new(root),
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        if !holds(&root, "cur") && !holds(&root, "new") {
            return Ok(Vec::new());
        }
        let mut folders = vec![Arc::new(Folder {
            path: self.root.clone(),
            root: Arc::clone(&root),
            name: None,
        })];
        for name in containment::names(&*root)? {
            if !name.as_bytes().starts_with(b".") {
                continue;
            }
            match containment::open_directory(&*root, &name) {
                Ok((directory, id)) if holds(&directory, "cur") => folders.push(Arc::new(Folder {
                    path: self.root.join(&name),
                    root: Arc::clone(&root),
                    name: Some((name, id)),
                })),
                Ok(_) => {}
                // Dovecot keeps links of its own here (Pigeonhole's `.dovecot.sieve`).
                Err(error) if Displaced::of(&error) == Some(Displaced::Symlink) => {
                    if !name.as_bytes().starts_with(b".dovecot") {
                        links.push(self.root.join(&name));
                    }
                }
                // Not a directory (a file), or gone meanwhile.
                Err(error) if not_there(&error) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(folders)
    }

    /// Every message in `new/` and `cur/` of every folder.
    pub fn messages(&self) -> io::Result<Vec<MessageFile>> {
        Ok(self.list()?.messages)
    }

    /// What [`Maildir::list`] finds that `part` covers (all of it for
    /// `None`): its messages, and the links of its folder if it counts them.
    pub fn list_part(&self, part: Option<&MailboxPart>) -> io::Result<Listing> {
        let mut listing = self.list()?;
        if let Some(part) = part {
            listing
                .messages
                .retain(|message| part.covers(&message.folder_name(), &message.unique()));
            listing
                .links
                .retain(|link| part.counts_links_of(&self.folder_of_link(link)));
        }
        Ok(listing)
    }

    /// The folder a link was met in (`""` for INBOX): a link in place of
    /// a folder counts as INBOX's.
    fn folder_of_link(&self, link: &Path) -> String {
        let relative = link.strip_prefix(&self.root).unwrap_or(link);
        let mut components = relative.components();
        match (components.next(), components.next()) {
            (Some(first), Some(_)) if first.as_os_str().as_bytes().starts_with(b".") => {
                first.as_os_str().to_string_lossy().into_owned()
            }
            _ => String::new(),
        }
    }

    /// Every message in `new/` and `cur/` of every folder, and the links
    /// met on the way (a link to a message or a folder is skipped, not
    /// followed). A folder or message is recorded as the directory or
    /// regular file it is now: one swapped for something else after this
    /// is left alone (see [`super::containment`]).
    pub fn list(&self) -> io::Result<Listing> {
        let mut listing = Listing::default();
        for folder in self.folders(&mut listing.links)? {
            let directory = match folder.open() {
                Ok(directory) => directory,
                Err(error) if Displaced::of(&error) == Some(Displaced::Symlink) => {
                    listing.links.push(folder.path.clone());
                    continue;
                }
                Err(error) if not_there(&error) => continue,
                Err(error) => return Err(error),
            };
            for subdirectory in ["new", "cur"] {
                let path = folder.path.join(subdirectory);
                let (messages, id) = match containment::open_directory(&*directory, subdirectory) {
                    Ok(opened) => opened,
                    Err(error) if Displaced::of(&error) == Some(Displaced::Symlink) => {
                        listing.links.push(path);
                        continue;
                    }
                    Err(error) if not_there(&error) => continue,
                    Err(error) => return Err(error),
                };
                let place = Arc::new(Place {
                    folder: Arc::clone(&folder),
                    subdirectory: (subdirectory, id),
                });
                for name in containment::names(&messages)? {
                    if name.as_bytes().starts_with(b".") {
                        continue;
                    }
                    let stat = match containment::stat_here(&messages, &name) {
                        Ok(stat) => stat,
                        Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                        Err(error) => return Err(error),
                    };
                    match containment::file_type(&stat) {
                        FileType::RegularFile => listing.messages.push(MessageFile {
                            path: path.join(&name),
                            folder: folder.path.clone(),
                            place: Arc::clone(&place),
                            name,
                            id: containment::file_id(&stat),
                        }),
                        FileType::Symlink => listing.links.push(path.join(&name)),
                        _ => {}
                    }
                }
            }
        }
        listing.messages.sort_by(|a, b| a.path.cmp(&b.path));
        listing.links.sort();
        Ok(listing)
    }

    /// Removes what killed passes left: their staged copies in `tmp/`
    /// (marked, never another program's files) and the originals of
    /// messages whose encrypted copy was in place already (see
    /// [`remove_replaced_originals`]). Answers how many files went.
    pub fn remove_leftovers(&self) -> io::Result<usize> {
        self.remove_leftovers_of(None)
    }

    /// [`Maildir::remove_leftovers`] for the messages `part` covers only
    /// (all for `None`), so parts running at once never remove each
    /// other's staged copies.
    pub fn remove_leftovers_of(&self, part: Option<&MailboxPart>) -> io::Result<usize> {
        let mut removed = 0;
        for folder in self.folders(&mut Vec::new())? {
            let folder_name = folder.display_name();
            let Ok(directory) = folder.open() else {
                continue;
            };
            let Ok((tmp, _)) = containment::open_directory(&*directory, "tmp") else {
                continue;
            };
            let Ok(names) = containment::names(&tmp) else {
                continue;
            };
            for name in names {
                let name_text = name.to_string_lossy();
                let Some((unique, _)) = name_text.split_once(TMP_MARK) else {
                    continue;
                };
                if part.is_none_or(|part| part.covers(&folder_name, unique)) {
                    containment::remove(&tmp, &name)?;
                    removed += 1;
                }
            }
        }
        Ok(removed + remove_replaced_originals(&self.list_part(part)?.messages)?)
    }
}

/// Whether `directory` holds `name` as a directory, or a link in its place.
fn holds(directory: &OwnedFd, name: &str) -> bool {
    containment::stat_here(directory, name).is_ok_and(|stat| {
        matches!(
            containment::file_type(&stat),
            FileType::Directory | FileType::Symlink
        )
    })
}

/// Whether `error` says the message is no longer there to be handled:
/// moved or deleted by a mail client, or displaced.
fn not_there(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::NotFound || Displaced::of(error).is_some()
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
            Err(error) if not_there(&error) => continue,
            Err(error) => return Err(error),
        };
        match original.remove() {
            Ok(()) => removed += 1,
            Err(error) if not_there(&error) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(removed)
}

/// Whether the file is encrypted, and whether it was written whole (our
/// copies always carry their real size in `S=`).
fn inspect(message: &MessageFile) -> io::Result<(bool, bool)> {
    let (_, file) = message.open_checked()?;
    let whole = message.size_in_name() == Some(file.metadata()?.len());
    let mut input = BufReader::with_capacity(64 * 1024, file);
    Ok((is_already_encrypted(&mut input)?.is_some(), whole))
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
    /// Its folder's name in the Maildir: `""` for INBOX, `.Name` for the others.
    pub fn folder_name(&self) -> String {
        self.place.folder.display_name()
    }

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

    /// Opens the message for reading: the regular file that was listed,
    /// never a link or a file swapped in since ([`Displaced`]).
    pub fn open(&self) -> io::Result<BufReader<File>> {
        let (_, file) = self.open_checked()?;
        Ok(BufReader::with_capacity(64 * 1024, file))
    }

    /// Opens its directories and the message itself, each checked to be
    /// the one listed.
    pub(super) fn open_checked(&self) -> io::Result<(Directories, File)> {
        let directories = self.place.open()?;
        let file = containment::open_message(&directories.messages, &self.name, self.id)?;
        Ok((directories, file))
    }

    /// Corrects a stale `S=` (left by a pass killed between its renames)
    /// by renaming the file in its directory; answers where it is now.
    pub fn correct_stale_size(&self) -> io::Result<PathBuf> {
        let (directories, file) = self.open_checked()?;
        let name = self.name.to_string_lossy();
        let corrected = with_size(&name, file.metadata()?.len());
        if corrected == name {
            return Ok(self.path.clone());
        }
        containment::rename(
            &directories.messages,
            &self.name,
            &directories.messages,
            &corrected,
        )?;
        Ok(self.path.with_file_name(corrected))
    }

    /// Removes the message, if its name still holds the file listed.
    fn remove(&self) -> io::Result<()> {
        let directories = self.place.open()?;
        containment::still_there(&directories.messages, &self.name, self.id)?;
        containment::remove(&directories.messages, &self.name)
    }
}

/// Makes the names created and removed in the folders of `messages`
/// durable (each directory as listed; one displaced or gone since is not
/// ours to sync).
pub fn sync_directories(messages: &[MessageFile]) -> io::Result<()> {
    let mut synced = BTreeSet::new();
    for message in messages {
        if !synced.insert(message.path.parent()) {
            continue;
        }
        match message.place.open() {
            Ok(directories) => containment::sync(&directories.messages)?,
            Err(error) if not_there(&error) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
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
    fn links_in_place_of_a_message_or_folder_are_skipped_and_reported_never_followed() {
        let root = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let kept = deliver(root.path(), "1.a.host", Some("S"), b"mine").unwrap();
        let outside = deliver(elsewhere.path(), "2.b.host", Some("S"), b"not mine").unwrap();
        let linked_message = root.path().join("cur/2.b.host,S=8:2,S");
        std::os::unix::fs::symlink(&outside, &linked_message).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), root.path().join(".Other")).unwrap();
        let sub = root.path().join(".Sub");
        fs::create_dir_all(sub.join("cur")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path().join("new"), sub.join("new")).unwrap();
        // Pigeonhole's active script link is Dovecot's, not a folder.
        std::os::unix::fs::symlink("sieve/x.sieve", root.path().join(".dovecot.sieve")).unwrap();
        let listing = Maildir::new(root.path()).list().unwrap();
        let listed: Vec<&PathBuf> = listing.messages.iter().map(|m| &m.path).collect();
        assert_eq!(listed, vec![&kept]);
        assert_eq!(
            listing.links,
            vec![
                root.path().join(".Other"),
                sub.join("new"),
                linked_message.clone()
            ]
        );
        assert!(fs::symlink_metadata(&linked_message).unwrap().is_symlink());
    }

    #[test]
    fn leftovers_behind_links_are_not_removed() {
        let root = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        deliver(root.path(), "1.a.host", Some("S"), b"mine").unwrap();
        // What looks like a killed pass's leftovers, in another Maildir.
        let (original, copy) = pair(elsewhere.path(), "2.b.host", ENCRYPTED, ENCRYPTED.len());
        let marked = elsewhere.path().join("tmp/3.c.host.latchkey-0123");
        fs::write(&marked, b"half").unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), root.path().join(".Other")).unwrap();
        std::os::unix::fs::symlink(&original, root.path().join("cur/2.b.host,S=19:2,S")).unwrap();
        std::os::unix::fs::symlink(&copy, root.path().join("cur/2.b.host,S=99:2,S")).unwrap();
        assert_eq!(Maildir::new(root.path()).remove_leftovers().unwrap(), 0);
        for path in [original, copy, marked] {
            assert!(path.exists(), "{} stays", path.display());
        }
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
