//! The whole output of attempts shipped into a log that keeps it itself (PostgreSQL,
//! `EventStore::keeps_attempt_output`), so that every host sharing the log reads it — not only
//! the home whose process ran the attempt, which still writes its file (`process::LogWriter`).
//!
//! One thread per process does it, on a connection of its own (the driver's is busy, and a
//! store is used by one thread): the attempt's writer hands it the bytes it wrote to its file,
//! once per chunk drained from the pipes, and never waits for the database while the attempt
//! runs; the thread writes whatever has come meanwhile in one transaction per attempt (so a
//! step printing fast costs a few statements a second, not one per line). At the attempt's
//! end its writer waits for its bytes to be in (`finish`), before the `attempt_log` event
//! that vouches for them is appended; where they could not all be shipped (the database was
//! unreachable a moment), the file is written afresh from offset 0.

use std::collections::HashSet;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::definition::Durability;
use crate::store::{EventStore, Location};

/// How long an attempt's end waits for its output to be shipped.
const FINISH_WAIT: Duration = Duration::from_secs(30);

/// The most bytes read from a file at once when it is shipped whole.
const WHOLE_PIECE: usize = 4 << 20;

enum Msg {
    /// Bytes of `file` at `offset`.
    Chunk {
        run_id: String,
        file: String,
        offset: u64,
        bytes: Vec<u8>,
    },
    /// Answer whether every chunk of `file` sent so far is in.
    Sync {
        run_id: String,
        file: String,
        reply: Sender<bool>,
    },
    /// Write `file` afresh from the file at `path`.
    Whole {
        run_id: String,
        file: String,
        path: std::path::PathBuf,
        reply: Sender<bool>,
    },
}

struct Mirror {
    /// The log it ships to (`Location::spec`).
    spec: String,
    tx: Sender<Msg>,
}

static MIRROR: OnceLock<Mutex<Option<Mirror>>> = OnceLock::new();

/// Ship the whole output of the attempts this process runs into `location`, if it is a log
/// that keeps them (PostgreSQL); a SQLite log keeps only the files. Called where a command
/// opens its log for writing; the thread starts at the first output shipped.
pub fn install(location: &Location) {
    if !location.is_postgres() {
        return;
    }
    let spec = location.spec();
    let slot = MIRROR.get_or_init(Default::default);
    let Ok(mut slot) = slot.lock() else {
        return;
    };
    if slot.as_ref().is_some_and(|m| m.spec == spec) {
        return;
    }
    let (tx, rx) = channel();
    let location = location.clone();
    let started = std::thread::Builder::new()
        .name("cortex-output-mirror".into())
        .spawn(move || serve(location, rx));
    if started.is_ok() {
        *slot = Some(Mirror { spec, tx });
    }
}

fn sender() -> Option<Sender<Msg>> {
    MIRROR.get()?.lock().ok()?.as_ref().map(|m| m.tx.clone())
}

/// Whether this process ships attempts' output (`install` was given a log that keeps it).
pub fn installed() -> bool {
    sender().is_some()
}

/// One attempt's output being shipped, as its writer writes its file.
pub struct Shipping {
    tx: Sender<Msg>,
    run_id: String,
    file: String,
    /// Bytes handed over so far.
    sent: u64,
    /// Written to the file, not handed over yet.
    pending: Vec<u8>,
    /// Some bytes never reached the file (a full disk): the file, not what was sent, is the
    /// output; written whole at the end.
    diverged: bool,
}

impl Shipping {
    /// Start shipping the output of the attempt whose `attempt_log` will name `file`, if this
    /// process ships output.
    pub fn start(run_id: &str, file: &str) -> Option<Shipping> {
        Some(Shipping {
            tx: sender()?,
            run_id: run_id.to_string(),
            file: file.to_string(),
            sent: 0,
            pending: Vec::new(),
            diverged: false,
        })
    }

    /// Bytes written to the file (`kept`: they reached it).
    pub fn wrote(&mut self, bytes: &[u8], kept: bool) {
        if !kept {
            self.diverged = true;
        }
        if !self.diverged {
            self.pending.extend_from_slice(bytes);
        }
    }

    /// Hand what was written since the last call to the thread (once per chunk drained).
    pub fn flush(&mut self) {
        if self.pending.is_empty() || self.diverged {
            return;
        }
        let bytes = std::mem::take(&mut self.pending);
        let offset = self.sent;
        self.sent += bytes.len() as u64;
        let _ = self.tx.send(Msg::Chunk {
            run_id: self.run_id.clone(),
            file: self.file.clone(),
            offset,
            bytes,
        });
    }

    /// The attempt ended and its file at `path` is what its event will record: wait until
    /// the log holds the same bytes (written whole when what was sent is not them). False
    /// when it could not be done in time.
    pub fn finish(mut self, path: &Path) -> bool {
        self.flush();
        if !self.diverged {
            let (reply, answer) = channel();
            let asked = self.tx.send(Msg::Sync {
                run_id: self.run_id.clone(),
                file: self.file.clone(),
                reply,
            });
            if asked.is_ok() && answer.recv_timeout(FINISH_WAIT) == Ok(true) {
                return true;
            }
        }
        ship_whole_with(&self.tx, &self.run_id, &self.file, path)
    }
}

/// Write the output `file` of `run_id` afresh from the file at `path` (rewritten: a secret
/// scrubbed from it; removed: nothing of it is kept), if this process ships output; true when
/// it is in (or nothing ships).
pub fn ship_whole(run_id: &str, file: &str, path: &Path) -> bool {
    match sender() {
        Some(tx) => ship_whole_with(&tx, run_id, file, path),
        None => true,
    }
}

fn ship_whole_with(tx: &Sender<Msg>, run_id: &str, file: &str, path: &Path) -> bool {
    let (reply, answer) = channel();
    let asked = tx.send(Msg::Whole {
        run_id: run_id.to_string(),
        file: file.to_string(),
        path: path.to_path_buf(),
        reply,
    });
    asked.is_ok() && answer.recv_timeout(FINISH_WAIT) == Ok(true)
}

/// Write the file at `path` into `store` as the output `file` of `run_id`, from offset 0, in
/// pieces read one at a time (`log copy` too).
pub fn write_whole(
    store: &mut dyn EventStore,
    run_id: &str,
    file: &str,
    path: &Path,
) -> Result<(), String> {
    use std::io::Read;
    let mut f = super::materialize::derived_file()
        .read(true)
        .open(path)
        .map_err(|e| format!("{} cannot be read: {e}", path.display()))?;
    let mut offset = 0u64;
    let mut buf = vec![0u8; WHOLE_PIECE];
    loop {
        let mut n = 0;
        while n < buf.len() {
            match f.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("{} cannot be read: {e}", path.display())),
            }
        }
        // Offset 0 is written even for an empty file: it replaces what was kept before.
        if n > 0 || offset == 0 {
            store
                .write_attempt_output(run_id, file, offset, &buf[..n])
                .map_err(|e| e.to_string())?;
        }
        offset += n as u64;
        if n < buf.len() {
            return Ok(());
        }
    }
}

/// The thread: opens its own connection at the first message, writes what has come.
fn serve(location: Location, rx: Receiver<Msg>) {
    let mut store: Option<Box<dyn EventStore>> = None;
    // Outputs a chunk of which could not be written: the rest of them is not sent (it would
    // leave a gap), and their end writes them whole.
    let mut broken: HashSet<(String, String)> = HashSet::new();
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        // Chunks of one output that follow each other are written as one.
        let mut chunks: Vec<(String, String, u64, Vec<u8>)> = Vec::new();
        let mut after: Vec<Msg> = Vec::new();
        for msg in batch {
            match msg {
                Msg::Chunk {
                    run_id,
                    file,
                    offset,
                    bytes,
                } => {
                    if let Some(last) = chunks.last_mut()
                        && last.0 == run_id
                        && last.1 == file
                        && last.2 + last.3.len() as u64 == offset
                    {
                        last.3.extend_from_slice(&bytes);
                    } else {
                        chunks.push((run_id, file, offset, bytes));
                    }
                }
                other => {
                    // Answered after the chunks that came before it.
                    write_chunks(&location, &mut store, &mut broken, &mut chunks);
                    after.push(other);
                    answer(&location, &mut store, &mut broken, &mut after);
                }
            }
        }
        write_chunks(&location, &mut store, &mut broken, &mut chunks);
    }
}

fn open(location: &Location, store: &mut Option<Box<dyn EventStore>>) -> bool {
    if store.is_none() {
        *store = location.open(Durability::Normal).ok();
    }
    store.is_some()
}

fn write_chunks(
    location: &Location,
    store: &mut Option<Box<dyn EventStore>>,
    broken: &mut HashSet<(String, String)>,
    chunks: &mut Vec<(String, String, u64, Vec<u8>)>,
) {
    for (run_id, file, offset, bytes) in chunks.drain(..) {
        let key = (run_id, file);
        if offset == 0 {
            broken.remove(&key);
        }
        if broken.contains(&key) {
            continue;
        }
        let written = open(location, store)
            && store.as_mut().is_some_and(|s| {
                s.write_attempt_output(&key.0, &key.1, offset, &bytes)
                    .is_ok()
            });
        if !written {
            // Open afresh next time (the server restarted, the connection was cut).
            *store = None;
            broken.insert(key);
        }
    }
}

fn answer(
    location: &Location,
    store: &mut Option<Box<dyn EventStore>>,
    broken: &mut HashSet<(String, String)>,
    msgs: &mut Vec<Msg>,
) {
    for msg in msgs.drain(..) {
        match msg {
            Msg::Sync {
                run_id,
                file,
                reply,
            } => {
                let key = (run_id, file);
                let _ = reply.send(!broken.contains(&key));
                broken.remove(&key);
            }
            Msg::Whole {
                run_id,
                file,
                path,
                reply,
            } => {
                let mut done = false;
                // No file (it could not be scrubbed, and was removed): nothing of it is kept.
                let gone = !path.exists();
                // Twice: the first may meet a connection lost since the last write.
                for _ in 0..2 {
                    if open(location, store)
                        && let Some(s) = store.as_mut()
                        && if gone {
                            s.write_attempt_output(&run_id, &file, 0, &[]).is_ok()
                        } else {
                            write_whole(&mut **s, &run_id, &file, &path).is_ok()
                        }
                    {
                        done = true;
                        break;
                    }
                    *store = None;
                }
                broken.remove(&(run_id, file));
                let _ = reply.send(done);
            }
            Msg::Chunk { .. } => {}
        }
    }
}

/// Where `copy_attempt_output` puts each piece: its offset and bytes.
type PutPiece<'a> = dyn FnMut(u64, &[u8]) -> Result<(), String> + 'a;

/// What `copy_attempt_output` did with one attempt's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputCopy {
    /// Copied into the other log (or beside it).
    Copied,
    /// It was there already, as recorded.
    Already,
    /// Not copied, and why (not in this home nor kept by this log, or not as recorded).
    Left(String),
    /// Not copied: another file is at its path beside the other log (left as it is), and
    /// how it differs.
    Occupied(String),
    /// Not copied: a folder of its path beside the other log (`logs/`, `logs/<run>/`) is a
    /// link or no folder (nothing is written through it): what it is, and its fix — the
    /// folder's, said once for every output it stops.
    Unfit(super::materialize::UnfitFolder),
}

/// The size and blake3 of the output `file` of `run_id` that no `attempt_log` records (an
/// attempt cut off before it ended: stopped, or its worker killed), as this home's file holds
/// it, else as `source` keeps it (PostgreSQL: shipped while it ran, `attempt_output`). None
/// when neither holds any of it (it printed nothing, or ran elsewhere and the log keeps none).
/// `log copy` carries such an output as what it found, there being no record to hold it to.
pub fn unrecorded_output(
    home: &Path,
    source: &dyn EventStore,
    run_id: &str,
    file: &str,
) -> Result<Option<(u64, String)>, String> {
    use std::io::Read;
    let mut hasher = blake3::Hasher::new();
    let mut size = 0u64;
    // Its file as every reader takes it (a FIFO or a link there is said, never read).
    match super::attempt_logs::open_attempt_file(home, file)? {
        Some(mut f) => {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = f
                    .read(&mut buf)
                    .map_err(|e| format!("{file} cannot be read: {e}"))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                size += n as u64;
            }
        }
        None => loop {
            let Some(piece) = source
                .read_attempt_output(run_id, file, size, WHOLE_PIECE)
                .map_err(|e| e.to_string())?
            else {
                return Ok(None);
            };
            if piece.is_empty() {
                break;
            }
            hasher.update(&piece);
            size += piece.len() as u64;
        },
    }
    Ok(Some((size, hasher.finalize().to_hex().to_string())))
}

/// Copy the whole output `file` of `run_id` (as its `attempt_log` recorded it: `bytes`,
/// `blake3`) from this home's file (`home`: None where the file at its path here is not its
/// own, `attempt_logs::file_here_is_its`) or what `source` keeps of it, whichever holds it as
/// recorded, into `dest`: into its table when it keeps outputs (PostgreSQL), else into the
/// file at `file` under `dest_home`, the folder beside a SQLite log (as a home lays them out).
/// A file already there is left as it is.
#[allow(clippy::too_many_arguments)]
pub fn copy_attempt_output(
    home: Option<&Path>,
    source: &dyn EventStore,
    dest: &mut dyn EventStore,
    dest_home: Option<&Path>,
    run_id: &str,
    file: &str,
    bytes: u64,
    blake3: &str,
) -> Result<OutputCopy, String> {
    use super::attempt_logs::{LogFileCheck, check_attempt_log, check_kept_output};
    // The folders of its path there first: a link or a file in place of `logs/` (or of the
    // run's folder) is the folder's fault, not another file at this output's path (said so,
    // its fix was to move aside a file that is not there).
    if let Some(dir) = dest_home.filter(|_| !dest.keeps_attempt_output()) {
        let path = super::attempt_logs::attempt_file_place(dir, file)?;
        if let Err(e) = super::materialize::check_logs_folders(&path) {
            return match super::materialize::unfit_folder(&e) {
                Some(unfit) => Ok(OutputCopy::Unfit(unfit.clone())),
                None => Err(e.to_string()),
            };
        }
    }
    let there = match dest_home {
        Some(dir) if !dest.keeps_attempt_output() => check_attempt_log(dir, file, bytes, blake3),
        _ => check_kept_output(dest, run_id, file, bytes, blake3)
            .map_err(|e| e.to_string())?
            .unwrap_or(LogFileCheck::Absent),
    };
    match there {
        LogFileCheck::AsRecorded => return Ok(OutputCopy::Already),
        LogFileCheck::Differs(reason) if dest_home.is_some() && !dest.keeps_attempt_output() => {
            return Ok(OutputCopy::Occupied(reason));
        }
        _ => {}
    }
    let here = match home {
        Some(home) => check_attempt_log(home, file, bytes, blake3),
        None => LogFileCheck::Absent,
    };
    let from_file = match here {
        LogFileCheck::AsRecorded => true,
        LogFileCheck::Differs(reason) => return Ok(OutputCopy::Left(reason)),
        LogFileCheck::Absent => {
            match check_kept_output(source, run_id, file, bytes, blake3)
                .map_err(|e| e.to_string())?
            {
                Some(LogFileCheck::AsRecorded) => false,
                Some(LogFileCheck::Differs(reason)) => return Ok(OutputCopy::Left(reason)),
                _ => {
                    return Ok(OutputCopy::Left(match home {
                        Some(home) => format!(
                            "{file} is not in this home ({}) and the log keeps no copy of it",
                            home.display()
                        ),
                        None => format!(
                            "{file} was written by another home than this one, and the log keeps no copy of it"
                        ),
                    }));
                }
            }
        }
    };
    // The pieces, in order, from wherever they are.
    let pieces = |put: &mut PutPiece<'_>| -> Result<(), String> {
        if from_file {
            use std::io::Read;
            let home = home.ok_or_else(|| format!("{file} is not this home's"))?;
            let mut f = super::attempt_logs::open_attempt_file(home, file)?
                .ok_or_else(|| format!("{file} is no longer in this home ({})", home.display()))?;
            let mut buf = vec![0u8; WHOLE_PIECE];
            let mut offset = 0u64;
            loop {
                let n = f
                    .read(&mut buf)
                    .map_err(|e| format!("{file} cannot be read: {e}"))?;
                if n == 0 && offset > 0 {
                    return Ok(());
                }
                put(offset, &buf[..n])?;
                offset += n as u64;
                if n == 0 {
                    return Ok(());
                }
            }
        } else {
            let mut offset = 0u64;
            loop {
                let piece = source
                    .read_attempt_output(run_id, file, offset, WHOLE_PIECE)
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default();
                if piece.is_empty() && offset > 0 {
                    return Ok(());
                }
                put(offset, &piece)?;
                offset += piece.len() as u64;
                if piece.is_empty() {
                    return Ok(());
                }
            }
        }
    };
    match dest_home {
        Some(dir) if !dest.keeps_attempt_output() => {
            use std::io::Write;
            use std::os::unix::fs::DirBuilderExt;
            let path = super::attempt_logs::attempt_file_path(dir, file)?;
            let parent = path.parent().unwrap_or(dir);
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            let tmp = path.with_extension("log.copy");
            let _ = std::fs::remove_file(&tmp);
            let mut out = std::io::BufWriter::new(
                super::materialize::derived_file()
                    .write(true)
                    .create_new(true)
                    .open(&tmp)
                    .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?,
            );
            let written = pieces(&mut |_, piece| {
                out.write_all(piece)
                    .map_err(|e| format!("cannot write {}: {e}", tmp.display()))
            })
            .and_then(|()| {
                out.flush()
                    .map_err(|e| format!("cannot write {}: {e}", tmp.display()))
            })
            .and_then(|()| {
                std::fs::rename(&tmp, &path)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))
            });
            if written.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            written?;
        }
        _ => pieces(&mut |offset, piece| {
            dest.write_attempt_output(run_id, file, offset, piece)
                .map_err(|e| e.to_string())
        })?,
    }
    Ok(OutputCopy::Copied)
}
