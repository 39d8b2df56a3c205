//! Reading a definition, configuration, agent or schema file from disk, bounded: the size is
//! checked before anything is read, and never more than `MAX_DEFINITION_BYTES` + 1 bytes are
//! read (a file that grows meanwhile, or a device that never ends, cannot make it read more).

use std::io::Read;
use std::path::Path;

use super::{DefinitionError, Location, MAX_DEFINITION_BYTES, Problem};

/// Why a definition file could not be read as text.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("it does not exist")]
    NotFound,
    /// A symbolic link whose target is not there.
    #[error("it is a symbolic link to {target}, which does not exist")]
    BrokenLink { target: String },
    #[error("it is not a regular file; {what} are read from plain files")]
    NotAFile { what: &'static str },
    /// `at`: where the file passes the limit (none when that could not be read).
    #[error("the file is {size} bytes; {what} are limited to {limit} bytes ({} MiB)", limit >> 20)]
    TooLarge {
        size: u64,
        limit: u64,
        what: &'static str,
        at: Option<Location>,
    },
    /// `at`: the place of the byte at `offset`, the first that is not UTF-8.
    #[error("not UTF-8 text (the byte at line {}, column {} is not)", at.line, at.column)]
    NotText { offset: usize, at: Location },
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

impl ReadError {
    /// The error as the problem of the file `path`: what its content is that a definition's
    /// cannot be (too large, not UTF-8) located in it, as `validate` reports every problem of
    /// a definition (SPEC §7); why it cannot be read at all, as a problem of the whole file.
    pub fn definition_error(&self, path: &str) -> DefinitionError {
        let problem = match self {
            ReadError::TooLarge { at, .. } => Problem::new(self.to_string(), *at).with_hint(
                "no definition needs that much: it is cut off at this place; data a step needs belongs in a file the step reads",
            ),
            ReadError::NotText { at, .. } => Problem::new(
                "the file is not UTF-8 text: this byte is not part of a UTF-8 character",
                Some(*at),
            )
            .with_hint("save the file as UTF-8 (an editor's encoding setting); definitions are UTF-8 text"),
            _ => Problem::new(format!("cannot read: {self}"), None),
        };
        DefinitionError {
            path: path.to_string(),
            text: String::new(),
            problems: vec![problem],
        }
    }

    /// Whether the file is there and was read, and its content is what no definition can be
    /// (too large, not UTF-8): a problem of the definition, not of reaching it.
    pub fn is_content(&self) -> bool {
        matches!(self, ReadError::TooLarge { .. } | ReadError::NotText { .. })
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
    let meta = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A link to nothing is there, and said to be one.
            return Err(match std::fs::read_link(path) {
                Ok(target) => ReadError::BrokenLink {
                    target: target.display().to_string(),
                },
                Err(_) => ReadError::NotFound,
            });
        }
        meta => meta?,
    };
    if !meta.is_file() {
        return Err(ReadError::NotAFile { what });
    }
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile { what });
    }
    // Never more than the limit and one byte: the one past it says the file is too large,
    // where it is.
    let mut bytes = Vec::with_capacity(meta.len().min(limit + 1) as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if meta.len() > limit || bytes.len() as u64 > limit {
        // (It may have grown between the size check and the read: the larger size is said.)
        return Err(ReadError::TooLarge {
            size: meta.len().max(bytes.len() as u64),
            limit,
            what,
            at: (bytes.len() as u64 > limit).then(|| Location::of_byte(&bytes, limit as usize)),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        ReadError::NotText {
            offset,
            at: Location::of_byte(e.as_bytes(), offset),
        }
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
        // Said where it passes the limit: its first 1 MiB is one line of NUL bytes.
        assert!(matches!(
            read_definition(&over),
            Err(ReadError::TooLarge { size, at: Some(at), .. })
                if size == 1 << 30 && at == Location { line: 1, column: MAX_DEFINITION_BYTES + 1 }
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
    fn invalid_utf8_says_where_by_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.yaml");
        std::fs::write(&p, "name: x\nsteps: [{name: \"é\u{0}".as_bytes()).unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.pop();
        bytes.push(0xff);
        std::fs::write(&p, &bytes).unwrap();
        let err = read_definition(&p).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::NotText {
                    offset: 26,
                    at: Location {
                        line: 2,
                        column: 18
                    }
                }
            ),
            "{err:?}"
        );
        let doc = err.definition_error("bad.yaml");
        assert_eq!(
            doc.problems[0].at,
            Some(Location {
                line: 2,
                column: 18
            })
        );
    }

    #[test]
    fn a_link_to_nothing_is_said_to_be_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("z.yaml");
        std::os::unix::fs::symlink(dir.path().join("gone.yaml"), &p).unwrap();
        let err = read_definition(&p).unwrap_err();
        assert!(err.to_string().contains("symbolic link to"), "{err}");
        assert!(
            err.to_string().contains("gone.yaml, which does not exist"),
            "{err}"
        );
    }
}
