//! Maildir (and Maildir++ folders): listing messages, the names that carry
//! their flags and `S=` size, and what a pass cleans up and syncs. Rewriting
//! one message is in [`super::rewrite`]. The folders are synced once after
//! a batch ([`sync_directories`]): a rename lost to a power cut only brings
//! the intact original back, for the next pass.

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

    /// Removes what killed passes left in `tmp/` (never another program's files).
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
        Ok(removed)
    }
}

/// `name` with its `S=` field set to `size` (and any `W=` dropped, since the
/// line count changed too); names without `S=` get none.
pub fn with_size(name: &str, size: u64) -> String {
    let (base, info) = match name.find(':') {
        Some(at) => name.split_at(at),
        None => (name, ""),
    };
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

impl MessageFile {
    /// The unique part of its name, which renames keep.
    pub fn unique(&self) -> String {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        name.split([',', ':']).next().unwrap_or_default().to_owned()
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

/// Makes the renames in the folders of `messages` durable.
pub fn sync_directories(messages: &[MessageFile]) -> io::Result<()> {
    let directories: std::collections::BTreeSet<&Path> = messages
        .iter()
        .filter_map(|message| message.path.parent())
        .collect();
    for directory in directories {
        File::open(directory)?.sync_all()?;
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
}
