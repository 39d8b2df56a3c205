//! Reading an attempt's file (`logs/<run>/step-KEY-attempt-M.log`) in bounded pieces, for
//! `cortex logs` and the TUI's output pane: where its whole lines end while it is written, its
//! bytes in order with their size and blake3, and the last of them — so that showing a log
//! never holds all of it; and, where the file is not in this home but the log keeps the
//! output (PostgreSQL), a copy of it read from the log into a file (`KeptCopy`), read the same
//! way.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The size of each piece read.
pub const PIECE: usize = 64 * 1024;

/// Open the file `file` names under `home` (only a name cortex gives an attempt's file:
/// `execute::attempt_file_path`), refusing a link or anything but a regular file.
pub fn open(home: &Path, file: &str) -> Option<File> {
    let path = crate::execute::attempt_file_path(home, file).ok()?;
    crate::execute::open_derived(&path).ok()
}

/// The size of `f` now.
pub fn size(f: &File) -> std::io::Result<u64> {
    Ok(f.metadata()?.len())
}

/// Where the whole lines of the bytes `from..to` of `f` end: just past the last `\n` among
/// them, or `from` if there is none (read backwards, piece by piece).
pub fn whole_lines_end(f: &mut File, from: u64, to: u64) -> std::io::Result<u64> {
    let mut buf = vec![0u8; PIECE];
    let mut end = to;
    while end > from {
        let start = end.saturating_sub(PIECE as u64).max(from);
        let piece = &mut buf[..(end - start) as usize];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(piece)?;
        if let Some(i) = memchr::memrchr(b'\n', piece) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(from)
}

/// What `stream` read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    pub bytes: u64,
    pub blake3: String,
}

/// The bytes of `f` from `from` to `to` (to its end if `None`), given to `sink` in order in
/// pieces of at most `PIECE` bytes; how many there were and their blake3.
pub fn stream(
    f: &mut File,
    from: u64,
    to: Option<u64>,
    sink: &mut dyn FnMut(&[u8]),
) -> std::io::Result<Streamed> {
    f.seek(SeekFrom::Start(from))?;
    let mut reader: Box<dyn Read + '_> = match to {
        Some(to) => Box::new(Read::by_ref(f).take(to.saturating_sub(from))),
        None => Box::new(Read::by_ref(f)),
    };
    let mut buf = vec![0u8; PIECE];
    let mut hasher = blake3::Hasher::new();
    let mut bytes = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        bytes += n as u64;
        sink(&buf[..n]);
    }
    Ok(Streamed {
        bytes,
        blake3: hasher.finalize().to_hex().to_string(),
    })
}

/// The last bytes of `f` before `to`, at most `max` of them: where they start, and the bytes.
/// A cut inside a character moves the start past it, so the text does not begin with a
/// U+FFFD that is not in the file.
pub fn tail(f: &mut File, to: u64, max: u64) -> std::io::Result<(u64, Vec<u8>)> {
    let mut start = to.saturating_sub(max);
    f.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity((to - start) as usize);
    Read::by_ref(f).take(to - start).read_to_end(&mut bytes)?;
    if start > 0 {
        // At most 3 continuation bytes belong to a character begun before the cut.
        let skip = bytes
            .iter()
            .take(3)
            .take_while(|b| **b & 0xC0 == 0x80)
            .count();
        bytes.drain(..skip);
        start += skip as u64;
    }
    Ok((start, bytes))
}

/// An attempt's output read from the log (`EventStore::read_attempt_output`) into an
/// anonymous file, so that it is shown, followed and checked as a file in the home is: what
/// `cortex logs` and the TUI's output pane read where the attempt's file is not in this home
/// (run on another host) and the log keeps its output (PostgreSQL).
pub struct KeptCopy {
    file: File,
    /// How many bytes it holds.
    pub len: u64,
}

impl KeptCopy {
    pub fn new() -> std::io::Result<KeptCopy> {
        let fd = nix::sys::memfd::memfd_create(
            c"cortex-attempt-output",
            nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
        )
        .map_err(std::io::Error::from)?;
        Ok(KeptCopy {
            file: File::from(fd),
            len: 0,
        })
    }

    /// Read what the log holds past what this copy has (all of it, in pieces): whether the
    /// log keeps any of this output.
    pub fn catch_up(
        &mut self,
        store: &dyn crate::store::EventStore,
        run_id: &str,
        name: &str,
    ) -> Result<bool, crate::store::StoreError> {
        use std::io::Write;
        let mut any = false;
        loop {
            let Some(bytes) = store.read_attempt_output(run_id, name, self.len, 4 << 20)? else {
                return Ok(any);
            };
            any = true;
            if bytes.is_empty() {
                return Ok(true);
            }
            let written = self
                .file
                .seek(SeekFrom::Start(self.len))
                .and_then(|_| self.file.write_all(&bytes));
            if written.is_err() {
                return Ok(true);
            }
            self.len += bytes.len() as u64;
        }
    }

    /// The copy opened again (not a clone sharing its offset): each reader reads from its own
    /// place, as readers of a file in the home do.
    pub fn reopen(&self) -> Option<File> {
        use std::os::fd::AsRawFd;
        File::open(format!("/proc/self/fd/{}", self.file.as_raw_fd())).ok()
    }
}
