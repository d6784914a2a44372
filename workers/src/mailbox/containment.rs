//! Staying inside a Maildir: folders and messages are opened without
//! following a link (each directory relative to the one above it with
//! `O_DIRECTORY | O_NOFOLLOW`, each message relative to its directory with
//! `O_NOFOLLOW`), and what was opened is checked to be the file the
//! listing saw (same device and inode). Names are then created, linked,
//! renamed and removed relative to those open directories (`openat`,
//! `linkat`, `renameat`, `unlinkat`), so a folder or message swapped for a
//! link after listing is never read or written, and neither is what the
//! link points at: the swap is reported as [`Displaced`].

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Which file a name held when it was listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileId {
    device: u64,
    inode: u64,
}

impl FileId {
    // `dev_t` and `ino_t` are not `u64` on every target.
    #[allow(clippy::unnecessary_cast)]
    fn of(stat: &Stat) -> Self {
        Self {
            device: stat.st_dev as u64,
            inode: stat.st_ino as u64,
        }
    }
}

/// Why a listed message or folder is left alone: its name does not hold
/// the regular file or directory that was listed. The names are stable:
/// job records count skipped messages by them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Displaced {
    /// A symbolic link, which is never followed.
    #[error("a symbolic link, which is never followed")]
    Symlink,
    /// Another file or directory than the one listed (or not a regular
    /// file at all): swapped in after the listing.
    #[error("not the file that was listed (replaced since)")]
    Replaced,
}

impl Displaced {
    /// Every reason, in the order reports list them.
    pub const ALL: [Displaced; 2] = [Self::Symlink, Self::Replaced];

    /// The stable name, as job records count them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Symlink => "symlink",
            Self::Replaced => "replaced",
        }
    }

    /// The reason `error` carries, if it says a name was displaced.
    pub fn of(error: &io::Error) -> Option<Self> {
        error.get_ref()?.downcast_ref::<Self>().copied()
    }
}

impl From<Displaced> for io::Error {
    fn from(displaced: Displaced) -> Self {
        io::Error::other(displaced)
    }
}

/// What `name` in `directory` is, without following it.
pub(super) fn stat_here(directory: impl AsFd, name: impl AsRef<OsStr>) -> io::Result<Stat> {
    Ok(rustix::fs::statat(
        directory,
        name.as_ref(),
        AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

/// The file type of `stat`.
pub(super) fn file_type(stat: &Stat) -> FileType {
    FileType::from_raw_mode(stat.st_mode)
}

/// The identity `stat` gives.
pub(super) fn file_id(stat: &Stat) -> FileId {
    FileId::of(stat)
}

/// Opens the directory at `path` as configured (links in it are followed:
/// it is the operator's path, not a name inside a Maildir).
pub(super) fn open_root(path: &Path) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(
        rustix::fs::CWD,
        path,
        flags,
        Mode::empty(),
    )?)
}

/// Opens the directory `name` in `parent`, never through a link; answers
/// it with its identity.
pub(super) fn open_directory(
    parent: impl AsFd,
    name: impl AsRef<OsStr>,
) -> io::Result<(OwnedFd, FileId)> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let name = name.as_ref();
    match rustix::fs::openat(parent.as_fd(), name, flags, Mode::empty()) {
        Ok(directory) => {
            let id = FileId::of(&rustix::fs::fstat(&directory)?);
            Ok((directory, id))
        }
        // With O_DIRECTORY, Linux answers a link with ENOTDIR, not ELOOP.
        Err(Errno::LOOP | Errno::NOTDIR) => Err(displaced(parent, name)),
        Err(errno) => Err(errno.into()),
    }
}

/// Opens the directory `name` in `parent`, never through a link, if it is
/// still the one listed as `id`.
pub(super) fn reopen_directory(
    parent: impl AsFd,
    name: impl AsRef<OsStr>,
    id: FileId,
) -> io::Result<OwnedFd> {
    let (directory, found) = open_directory(parent, name)?;
    if found != id {
        return Err(Displaced::Replaced.into());
    }
    Ok(directory)
}

/// Opens the message `name` in `directory` for reading, never through a
/// link, if it is still the regular file listed as `id`. `O_NONBLOCK`, so
/// that a FIFO swapped in cannot make the open wait; it changes nothing
/// for a regular file.
pub(super) fn open_message(
    directory: impl AsFd,
    name: impl AsRef<OsStr>,
    id: FileId,
) -> io::Result<File> {
    let flags =
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let name = name.as_ref();
    let file = match rustix::fs::openat(directory.as_fd(), name, flags, Mode::empty()) {
        Ok(file) => file,
        Err(Errno::LOOP) => return Err(Displaced::Symlink.into()),
        Err(errno) => return Err(errno.into()),
    };
    let stat = rustix::fs::fstat(&file)?;
    if file_type(&stat) != FileType::RegularFile || FileId::of(&stat) != id {
        return Err(Displaced::Replaced.into());
    }
    Ok(File::from(file))
}

/// Checks that `name` in `directory` still holds the file listed as `id`.
pub(super) fn still_there(
    directory: impl AsFd,
    name: impl AsRef<OsStr>,
    id: FileId,
) -> io::Result<()> {
    let stat = stat_here(directory, name)?;
    match file_type(&stat) {
        FileType::Symlink => Err(Displaced::Symlink.into()),
        _ if FileId::of(&stat) != id => Err(Displaced::Replaced.into()),
        _ => Ok(()),
    }
}

/// Creates the new file `name` in `directory` for writing; never opens
/// what is there already, a link included.
pub(super) fn create_new(directory: impl AsFd, name: impl AsRef<OsStr>) -> io::Result<File> {
    let flags = OFlags::WRONLY
        | OFlags::CREATE
        | OFlags::EXCL
        | OFlags::NOFOLLOW
        | OFlags::NOCTTY
        | OFlags::CLOEXEC;
    // As `File::create` does; the umask decides.
    let mode = Mode::from_raw_mode(0o666);
    let file = rustix::fs::openat(directory, name.as_ref(), flags, mode)?;
    Ok(File::from(file))
}

/// Links `from` in `from_directory` as `to` in `to_directory`; fails on a
/// taken name (`link(2)` never replaces) and links a link itself, never
/// what it points at.
pub(super) fn link(
    from_directory: impl AsFd,
    from: impl AsRef<OsStr>,
    to_directory: impl AsFd,
    to: impl AsRef<OsStr>,
) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    Ok(rustix::fs::linkat(
        from_directory,
        from,
        to_directory,
        to,
        AtFlags::empty(),
    )?)
}

/// Renames `from` in `from_directory` to `to` in `to_directory`.
pub(super) fn rename(
    from_directory: impl AsFd,
    from: impl AsRef<OsStr>,
    to_directory: impl AsFd,
    to: impl AsRef<OsStr>,
) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    Ok(rustix::fs::renameat(
        from_directory,
        from,
        to_directory,
        to,
    )?)
}

/// Removes the name `name` from `directory` (a link goes, not what it
/// points at).
pub(super) fn remove(directory: impl AsFd, name: impl AsRef<OsStr>) -> io::Result<()> {
    Ok(rustix::fs::unlinkat(
        directory,
        name.as_ref(),
        AtFlags::empty(),
    )?)
}

/// Makes the names created in and removed from `directory` durable.
pub(super) fn sync(directory: impl AsFd) -> io::Result<()> {
    Ok(rustix::fs::fsync(directory)?)
}

/// The names in `directory`, without `.` and `..`.
pub(super) fn names(directory: impl AsFd) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in Dir::read_from(directory)? {
        let entry = entry?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name != "." && name != ".." {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Why `name` in `parent` could not be opened as a directory: a link, or
/// something else swapped in.
fn displaced(parent: impl AsFd, name: &OsStr) -> io::Error {
    match stat_here(parent, name) {
        Ok(stat) if file_type(&stat) == FileType::Symlink => Displaced::Symlink.into(),
        Ok(_) => Displaced::Replaced.into(),
        Err(error) => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_link_is_never_opened_as_a_directory_or_a_message() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("file"), b"outside").unwrap();
        symlink(outside.path(), root.path().join(".Folder")).unwrap();
        symlink(outside.path().join("file"), root.path().join("message")).unwrap();
        let directory = open_root(root.path()).unwrap();
        let error = open_directory(&directory, ".Folder").unwrap_err();
        assert_eq!(Displaced::of(&error), Some(Displaced::Symlink));
        let id = file_id(&stat_here(&directory, "message").unwrap());
        let error = open_message(&directory, "message", id).unwrap_err();
        assert_eq!(Displaced::of(&error), Some(Displaced::Symlink));
        let error = still_there(&directory, "message", id).unwrap_err();
        assert_eq!(Displaced::of(&error), Some(Displaced::Symlink));
    }

    #[test]
    fn a_file_swapped_in_under_a_listed_name_is_not_opened() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("message"), b"listed").unwrap();
        let directory = open_root(root.path()).unwrap();
        let id = file_id(&stat_here(&directory, "message").unwrap());
        fs::write(root.path().join("other"), b"swapped in").unwrap();
        fs::rename(root.path().join("other"), root.path().join("message")).unwrap();
        let error = open_message(&directory, "message", id).unwrap_err();
        assert_eq!(Displaced::of(&error), Some(Displaced::Replaced));
        rustix::fs::mkfifoat(&directory, "fifo", Mode::from_raw_mode(0o600)).unwrap();
        let id = file_id(&stat_here(&directory, "fifo").unwrap());
        let error = open_message(&directory, "fifo", id).unwrap_err();
        assert_eq!(Displaced::of(&error), Some(Displaced::Replaced), "no wait");
    }
}
