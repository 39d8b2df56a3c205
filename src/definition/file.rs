//! Reading a definition, configuration, agent or schema file from disk, bounded: the size is
//! checked before anything is read, and never more than `MAX_DEFINITION_BYTES` + 1 bytes are
//! read (a file that grows meanwhile, or a device that never ends, cannot make it read more).

use std::io::Read;
use std::path::Path;

use super::MAX_DEFINITION_BYTES;

/// Why a definition file could not be read as text.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("it does not exist")]
    NotFound,
    #[error("it is not a regular file; {what} are read from plain files")]
    NotAFile { what: &'static str },
    #[error("the file is {size} bytes; {what} are limited to {limit} bytes ({} MiB)", limit >> 20)]
    TooLarge {
        size: u64,
        limit: u64,
        what: &'static str,
    },
    #[error("not UTF-8 text (invalid byte at offset {offset})")]
    NotText { offset: usize },
    #[error("{0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            ReadError::NotFound
        } else {
            ReadError::Io(e)
        }
    }
}

/// The text of the file at `path`, if it is a regular file of at most `MAX_DEFINITION_BYTES`,
/// without a leading UTF-8 byte order mark (YAML allows one and Windows editors write one;
/// lines and columns are counted as an editor shows them, after it).
pub fn read_definition(path: &Path) -> Result<String, ReadError> {
    read_bounded(path, MAX_DEFINITION_BYTES as u64, "definitions").map(|mut text| {
        if text.starts_with(BOM) {
            text.drain(..BOM.len_utf8());
        }
        text
    })
}

/// The UTF-8 byte order mark, U+FEFF.
const BOM: char = '\u{feff}';

/// `text` without a leading byte order mark: every parser of a definition, an agent's front
/// matter or the configuration reads the text after it.
pub fn without_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

/// The text of the file at `path`, if it is a regular file of at most `limit` bytes (a whole
/// number of MiB); `what` names such files in the error (`anchor files`).
pub fn read_bounded(path: &Path, limit: u64, what: &'static str) -> Result<String, ReadError> {
    // Refuse what is not a plain file before opening it: opening a FIFO would block, and a
    // device such as /dev/zero reports no size.
    if !std::fs::metadata(path)?.is_file() {
        return Err(ReadError::NotAFile { what });
    }
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile { what });
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit,
            what,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        // It grew between the size check and the read: say at least how big it is.
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit,
            what,
        });
    }
    String::from_utf8(bytes).map_err(|e| ReadError::NotText {
        offset: e.utf8_error().valid_up_to(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_at_the_limit_is_read_and_one_byte_more_is_refused_by_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("at.yaml");
        std::fs::write(&at, "#".repeat(MAX_DEFINITION_BYTES)).unwrap();
        assert_eq!(read_definition(&at).unwrap().len(), MAX_DEFINITION_BYTES);
        let over = dir.path().join("over.yaml");
        let f = std::fs::File::create(&over).unwrap();
        // Sparse: the size says 1 GiB; nothing of it is read.
        f.set_len(1 << 30).unwrap();
        assert!(matches!(
            read_definition(&over),
            Err(ReadError::TooLarge { size, .. }) if size == 1 << 30
        ));
    }

    #[test]
    fn devices_directories_and_missing_files_are_refused() {
        assert!(matches!(
            read_definition(Path::new("/dev/zero")),
            Err(ReadError::NotAFile { .. })
        ));
        assert!(matches!(
            read_definition(Path::new("/")),
            Err(ReadError::NotAFile { .. })
        ));
        assert!(matches!(
            read_definition(Path::new("/nonexistent/x.yaml")),
            Err(ReadError::NotFound)
        ));
    }

    #[test]
    fn invalid_utf8_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.yaml");
        std::fs::write(&p, b"name: \xff").unwrap();
        assert!(matches!(
            read_definition(&p),
            Err(ReadError::NotText { offset: 6 })
        ));
    }
}
