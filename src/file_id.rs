//! Whether a file is still the one it was: its identity on this machine (device and inode),
//! taken once and compared later. Shared by the shell (`execute`) and the log (`store`), which
//! may not depend on each other's internals.

use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A file's device and inode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The identity of the file `metadata` was read from.
    pub fn of(metadata: &Metadata) -> FileId {
        FileId {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }

    /// The identity of the file at `path` itself (a link there is not followed), if there is one.
    pub fn at(path: &Path) -> Option<FileId> {
        std::fs::symlink_metadata(path).ok().map(|m| FileId::of(&m))
    }

    /// The identity of the file `path` leads to (links followed), if there is one.
    pub fn behind(path: &Path) -> Option<FileId> {
        std::fs::metadata(path).ok().map(|m| FileId::of(&m))
    }
}

/// Does `path` (a link there not followed) still name the open `file`: the same device and
/// inode? False when either cannot be read.
pub fn still_named(file: &File, path: &Path) -> bool {
    match (file.metadata(), FileId::at(path)) {
        (Ok(held), Some(named)) => FileId::of(&held) == named,
        _ => false,
    }
}
