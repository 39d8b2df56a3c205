//! The SQLite event store: one file in WAL mode, one STRICT append-only table, opened either
//! for writing (created, migrated) or for reading (never created, migrated or written).

use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::index::sealed_by;
use super::migrations::{INDEX_VERSION, MIGRATIONS, SCHEMA_VERSION};
use super::{
    AtHead, DecideAtHead, EventStore, Lease, LeaseClaim, RawRow, RowRef, RunEntry, RunHead,
    RunQuery, Snapshot, StoreError, chain, decode_row, decode_row_ref,
};
use crate::definition::{Durability, normalize_name};
use crate::event::{Event, NewEvent, Outcome, Recorded, RunKind};
use crate::file_id::FileId;

/// How long a connection waits for another's lock before giving up with SQLITE_BUSY: writers
/// queue (an operator beside a busy driver waits for one transaction, never for the run). Set
/// first, before any statement that may need a lock: switching a fresh log to WAL does.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `journal_mode=WAL`: readers (status, verify) never block the driver's appends, nor it them.
/// No foreign keys are used: the chain is checked by `log verify`, not by SQL.
const WAL: &str = "PRAGMA journal_mode = WAL;";

/// Now in milliseconds since the epoch, by SQLite's clock (the leases' clock).
const NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

/// What a store was opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Write,
    Read,
}

/// The event log in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    /// The file, as shown in errors.
    path: String,
    access: Access,
    /// The log's schema version (`PRAGMA user_version`).
    version: i64,
    /// Whether the log's snapshots are of the form this cortex seals (none in a log of an
    /// older schema, maybe another form in a newer one: then they are not read).
    snapshots: bool,
    /// Whether the log has the run index (a log of an older schema, read only, has none:
    /// queries then scan the log).
    indexed: bool,
    /// The log is of a schema with the run index, but its table `runs` is gone (dropped by
    /// hand): reads scan the log, `log verify` says the index is missing, a write is refused
    /// with the hint `log reindex`, which makes the table again (`rebuild_index`).
    index_missing: bool,
    /// Damage to the run index a lookup went round (`EventStore::index_damage`).
    index_damage: std::sync::Mutex<Option<String>>,
    /// The file opened for writing and its (device, inode) then: before each write the path
    /// must still name that file (`check_file`). A log removed (`rm -f cortex.db*`) or
    /// replaced under a writer was written on, unlinked, and its driver reported a run that
    /// no longer existed.
    file: Option<(std::path::PathBuf, FileId)>,
    /// How long a statement waits for another's lock before `Busy` when nobody asks for
    /// another wait (`set_lock_wait(None)`): `BUSY_TIMEOUT`, or less where the one running
    /// cortex said it waits less in all (`bound_lock_wait`, `CORTEX_LOG_LOCK_WAIT`).
    own_wait: std::cell::Cell<Duration>,
}

fn map_err(e: rusqlite::Error) -> StoreError {
    if let Some(out) = out_of_files(None, &e) {
        return out;
    }
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreError::Busy,
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly(e.to_string()),
        Some(ErrorCode::DiskFull) => StoreError::disk_full(e),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StoreError::Damaged(e.to_string())
        }
        // A write past the file-size limit fails as an I/O error (EFBIG), where one onto a
        // full disk says "full": said as what it most likely is.
        Some(ErrorCode::SystemIoFailure) if let Some(limit) = file_size_limit() => {
            StoreError::Full(format!(
                "a file of the log reached the file-size limit: {e} (`ulimit -f` is {} KiB here: the log's files cannot grow past it)",
                limit / 1024
            ))
        }
        _ => StoreError::Sqlite(e.to_string()),
    }
}

/// How many files SQLite holds open for a log: the file, its `-wal` and its `-shm`.
const FILES_OF_A_LOG: u64 = 3;

/// The error of a file of the log SQLite could not open ("unable to open database file", or
/// an I/O error making its `-shm`) because this process may open no more files (`ulimit
/// -n`) or the system none (ENFILE), if that is why: SQLite does not pass the system's error
/// on, and has closed what it opened by the time it reports, so what is left to open now
/// tells. Before, such a healthy log was called possibly damaged, with the advice to put
/// back a backup (losing what was recorded since).
fn out_of_files(path: Option<&str>, e: &rusqlite::Error) -> Option<StoreError> {
    if !matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::CannotOpen | ErrorCode::SystemIoFailure)
    ) {
        return None;
    }
    let errno = if system_out_of_files() {
        nix::libc::ENFILE
    } else if crate::execute::open_files_left()? < FILES_OF_A_LOG {
        nix::libc::EMFILE
    } else {
        return None;
    };
    let why = crate::execute::no_more_files(&std::io::Error::from_raw_os_error(errno));
    Some(StoreError::OutOfFiles(match path {
        Some(path) => format!("the event log at {path} could not be opened ({e}): {why}"),
        None => format!("the event log could not be read ({e}): {why}"),
    }))
}

/// Whether the system has no file left to open (`/proc/sys/fs/file-nr`: as many allocated as
/// its maximum).
fn system_out_of_files() -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/sys/fs/file-nr") else {
        return false;
    };
    let n: Vec<u64> = text
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    matches!(n[..], [allocated, _, max] if max > 0 && allocated >= max)
}

/// Below this much free space in the log's folder, an I/O error of SQLite is taken for a full
/// disk: SQLite's `-shm` index alone takes 32 KiB, and a write adds pages to the `-wal`.
const NEARLY_FULL: u64 = 1 << 20;

/// Why the file system holding the log at `path` is full, if it is (almost no space, or no
/// inode left for a `-shm` or `-wal` file). SQLite reports a full disk as `SQLITE_FULL` only
/// when a write into the log's pages fails; where it cannot create or grow the `-shm` index
/// (at the first read of every opening), it says "disk I/O error" or "unable to open": this
/// tells those apart from a damaged file. Asked only once SQLite has failed.
pub(super) fn disk_full(path: &Path) -> Option<String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let fs = nix::sys::statvfs::statvfs(dir).ok()?;
    // A file system of no blocks at all (procfs, sysfs) is not full: it holds no data.
    if fs.blocks() == 0 {
        return None;
    }
    let free = (fs.blocks_available() as u64).saturating_mul(fs.fragment_size() as u64);
    if free < NEARLY_FULL {
        Some(format!("{} has {} KiB free", dir.display(), free / 1024))
    } else if fs.files() > 0 && fs.files_available() == 0 {
        Some(format!("{} has no inode free", dir.display()))
    } else {
        None
    }
}

/// The folder of `path` (or the nearest that exists) when it is on a file system that holds
/// no data — no blocks at all, as procfs and sysfs report —, where no SQLite file can be.
pub(super) fn holds_no_data(path: &Path) -> Option<String> {
    let folder = path
        .ancestors()
        .skip(1)
        .filter(|d| !d.as_os_str().is_empty())
        .find(|d| d.is_dir())?;
    let fs = nix::sys::statvfs::statvfs(folder).ok()?;
    (fs.blocks() == 0).then(|| folder.display().to_string())
}

/// The file-size limit this process runs under (RLIMIT_FSIZE, `ulimit -f`), if it has one:
/// a write past it fails (cortex survives SIGXFSZ, `execute::survive_file_size_limit`) as
/// one onto a full disk does, and SQLite says "disk I/O error" for either.
fn file_size_limit() -> Option<u64> {
    use crate::execute::rlimit::{Limit, soft_limit};
    soft_limit(Limit::FileSize)
}

/// `e` as `OutOfFiles` where this process may open no more files, as `Full` where the log's
/// disk is full, and SQLite's error could be their doing (an I/O error, a file it could not
/// open or create): otherwise as it is.
fn full_or(path: &Path, e: rusqlite::Error) -> Result<rusqlite::Error, StoreError> {
    if let Some(out) = out_of_files(Some(&path.display().to_string()), &e) {
        return Err(out);
    }
    match e.sqlite_error_code() {
        Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen | ErrorCode::DiskFull) => {
            match disk_full(path) {
                Some(why) => Err(StoreError::disk_full(format!("{e} ({why})"))),
                None => Ok(e),
            }
        }
        _ => Ok(e),
    }
}

/// Why `path` cannot be written, if it cannot: the file itself, or its folder, where SQLite
/// keeps the `-wal` and `-shm` files beside it. Asked only once opening for writing failed.
fn read_only_reason(path: &Path) -> Option<String> {
    use std::io::ErrorKind;
    let refused = |e: &std::io::Error| {
        matches!(
            e.kind(),
            ErrorKind::ReadOnlyFilesystem | ErrorKind::PermissionDenied
        )
    };
    if path.exists()
        && let Err(e) = std::fs::OpenOptions::new().append(true).open(path)
        && refused(&e)
    {
        return Some(format!("{} cannot be written ({e})", path.display()));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let probe = dir.join(format!(".cortex-write-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            None
        }
        Err(e) if refused(&e) => Some(format!(
            "its folder {} cannot be written ({e}), and SQLite keeps its -wal and -shm files there",
            dir.display()
        )),
        Err(_) => None,
    }
}

/// A `file:` URI for `path` with `query`: every byte that is not plain is percent-encoded, so
/// that no character of a path (`?`, `#`, `%`) is read as part of the URI's syntax.
fn file_uri(path: &Path, query: &str) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push('?');
    uri.push_str(query);
    uri
}

/// Whether the write-ahead file beside `path` holds frames (more than its 32-byte header).
fn wal_has_frames(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).is_ok_and(|m| m.len() > 32)
}

impl SqliteStore {
    /// Open (creating if needed) the log at `path` for writing and bring its schema up to
    /// date. A log that cannot be written is `ReadOnly`; a log of a newer cortex is `NewerLog`
    /// (it is never written to: open it with `open_read`).
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        // A full disk first: SQLite cannot create or grow the `-shm` index there, and says
        // "disk I/O error" or "unable to open" at the first read.
        let failed = |e: rusqlite::Error| match full_or(path, e) {
            Err(full) => full,
            Ok(e) => match e.sqlite_error_code() {
                Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly) => match read_only_reason(path) {
                    Some(reason) => StoreError::ReadOnly(reason),
                    None => StoreError::Open {
                        path: shown.clone(),
                        source: e,
                    },
                },
                _ => map_err(e),
            },
        };
        let conn = Connection::open(path).map_err(&failed)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
        // SQLite falls back to reading a file it may not write: say so now, not at the first
        // append.
        if conn.is_readonly(rusqlite::MAIN_DB).map_err(map_err)? {
            return Err(StoreError::ReadOnly(read_only_reason(path).unwrap_or_else(
                || format!("{shown} cannot be written (a read-only file, folder or mount)"),
            )));
        }
        let mut store = SqliteStore {
            conn,
            path: shown.clone(),
            access: Access::Write,
            version: 0,
            snapshots: true,
            indexed: true,
            index_missing: false,
            index_damage: Default::default(),
            own_wait: std::cell::Cell::new(BUSY_TIMEOUT),
            file: FileId::behind(path).map(|id| (path.to_path_buf(), id)),
        };
        // A newer cortex's log is refused before anything here changes it. (The first read:
        // where SQLite makes the `-shm` index.)
        store.version = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(&failed)?;
        // Another application's database, before anything here changes it (WAL, migrations).
        store.refuse_foreign()?;
        store.refuse_newer(store.version)?;
        store.enable_wal().map_err(&failed)?;
        store.set_durability(durability)?;
        // Plans never depend on bound values: otherwise the partial index on first events
        // makes SQLite re-prepare every statement that binds a run id whenever the value
        // changes (it did, on every append and every catch-up read of a driver).
        store
            .conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(map_err)?;
        store.migrate()?;
        if !store.has_table("runs")? {
            store.indexed = false;
            store.index_missing = true;
        }
        Ok(store)
    }

    /// Open the log at `path` for reading only: never created, migrated or written, so that a
    /// log on a read-only mount, an archive copy, or a log of a newer cortex (as far as it can
    /// be read) can be read. SQLite reads a WAL log through its `-shm` file; where that cannot
    /// be created (read-only media), the file is opened `immutable`, which reads it exactly as
    /// long as no `-wal` file beside it holds events (if one does, `WalUnreadable`).
    pub fn open_read(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let open_err = |source| StoreError::Open {
            path: shown.clone(),
            source,
        };
        let conn = match Self::connect_read(path, "mode=ro") {
            Ok(conn) => conn,
            // A full disk: SQLite cannot make the `-shm` index it reads a WAL log through
            // (it says "disk I/O error", or "unable to open" where no inode is left). The log
            // is read immutable, as on read-only media: no writer can be appending to it now
            // (a writer's index would be there already). Events only in the `-wal` need that
            // index: then the full disk is the error, never a damaged file.
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen | ErrorCode::DiskFull)
                ) && path.is_file()
                    && disk_full(path).is_some() =>
            {
                if wal_has_frames(path) {
                    let why = disk_full(path).unwrap_or_default();
                    return Err(StoreError::disk_full(format!(
                        "{shown}-wal holds events that can be read only through {shown}-shm, and there is no room to make it ({why}; SQLite said: {e})"
                    )));
                }
                Self::connect_read(path, "immutable=1").map_err(|e| match full_or(path, e) {
                    Ok(e) => open_err(e),
                    Err(full) => full,
                })?
            }
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::CannotOpen) && path.is_file() => {
                if wal_has_frames(path) {
                    return Err(StoreError::WalUnreadable { path: shown });
                }
                Self::connect_read(path, "immutable=1").map_err(open_err)?
            }
            // A writer was killed with the write-ahead file open: its index must be rebuilt
            // before anyone reads, which a read-only connection may not do. Where the files can
            // be written, a read-write connection rebuilds it (only the `-shm` index, never the
            // log), and this store still refuses every write.
            //
            // Where they cannot be written either, but by permission rather than by a
            // read-only mount (another user's home, an archive copy in a folder its reader
            // may not write), SQLite says read-only rather than cannot-open: it is read as on
            // read-only media.
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::ReadOnly) => {
                match Self::connect_recovering(path) {
                    Ok(conn) => conn,
                    Err(_) if path.is_file() => {
                        if wal_has_frames(path) {
                            return Err(StoreError::WalUnreadable { path: shown });
                        }
                        Self::connect_read(path, "immutable=1").map_err(|_| open_err(e))?
                    }
                    Err(_) => return Err(open_err(e)),
                }
            }
            Err(e) => {
                return Err(match full_or(path, e) {
                    Ok(e) => open_err(e),
                    Err(full) => full,
                });
            }
        };
        let mut store = SqliteStore {
            conn,
            path: shown,
            access: Access::Read,
            version: 0,
            snapshots: false,
            indexed: false,
            index_missing: false,
            index_damage: Default::default(),
            own_wait: std::cell::Cell::new(BUSY_TIMEOUT),
            file: None,
        };
        store.version = store.user_version()?;
        store.refuse_foreign()?;
        if !store.has_table("events")? {
            let blank = store
                .conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(map_err)?
                == 0;
            return Err(StoreError::NotALog {
                path: store.path,
                blank,
            });
        }
        // Snapshots took their sealed form at schema 3 and the index appeared at 4; a newer
        // schema may have changed either, so they are read only up to this cortex's version.
        let known = (3..=SCHEMA_VERSION).contains(&store.version);
        store.snapshots = known && store.has_table("snapshots")?;
        let has_runs = store.has_table("runs")?;
        store.indexed = (INDEX_VERSION..=SCHEMA_VERSION).contains(&store.version) && has_runs;
        store.index_missing = store.version >= INDEX_VERSION && !has_runs;
        Ok(store)
    }

    /// Switch the log to WAL. A fresh log is switched by whichever of its first openers gets
    /// there first; SQLite refuses the others at once with SQLITE_BUSY, without waiting through
    /// `busy_timeout` (its deadlock avoidance: each holds a shared lock and wants the exclusive
    /// one). Once the file is in WAL mode the switch needs no lock, so a refused opener tries
    /// again, briefly, within `BUSY_TIMEOUT`.
    fn enable_wal(&self) -> Result<(), rusqlite::Error> {
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match self.conn.execute_batch(WAL) {
                Err(e)
                    if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(2));
                }
                done => return done,
            }
        }
    }

    /// A read-only connection to `path` (`query`: `mode=ro` or `immutable=1`), with the first
    /// read done, since SQLite opens a file's WAL index only when it first reads.
    fn connect_read(path: &Path, query: &str) -> Result<Connection, rusqlite::Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(file_uri(path, query), flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })?;
        Ok(conn)
    }

    /// A read-write connection to an existing log (never created), for reading one whose
    /// write-ahead index needs rebuilding after a killed writer.
    fn connect_recovering(path: &Path) -> Result<Connection, rusqlite::Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(file_uri(path, "mode=rw"), flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })?;
        Ok(conn)
    }

    /// Change durability on an open log (a run's own configuration may ask for `full`).
    /// synchronous=NORMAL is safe in WAL mode against process crashes; FULL adds an fsync per
    /// commit for power loss.
    pub fn set_durability(&self, durability: Durability) -> Result<(), StoreError> {
        if self.access == Access::Read {
            return Ok(());
        }
        let sync = match durability {
            Durability::Normal => "PRAGMA synchronous = NORMAL;",
            Durability::Full => "PRAGMA synchronous = FULL;",
        };
        self.conn.execute_batch(sync).map_err(map_err)
    }

    /// Whether this store was opened for reading only.
    pub fn is_read_only(&self) -> bool {
        self.access == Access::Read
    }

    /// The log's schema version.
    pub fn schema_version(&self) -> i64 {
        self.version
    }

    fn user_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(map_err)
    }

    fn has_table(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                params![name],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(map_err)
    }

    /// Refuse a database whose tables named as cortex's are another application's (`create
    /// table events(x int)`): reading them failed on a missing column, raw SQL shown, and
    /// setting up switched the file to WAL and printed the failed migration. Cortex's first
    /// migration sets `user_version` in the transaction that creates `events`, with its
    /// columns: tables of those names at version 0, or an `events` without cortex's columns,
    /// are someone else's. Reads only (`sqlite_master`, `table_info`), so nothing is changed.
    fn refuse_foreign(&self) -> Result<(), StoreError> {
        const OURS: [&str; 4] = ["events", "snapshots", "runs", "leases"];
        // One read transaction, one snapshot of the file: read statement by statement, a
        // first opener beside this one could commit its migration between two lookups, and
        // this one would see `runs` but not `events` and call a cortex log foreign (the unit
        // test of twelve first openers saw it). Rolled back when dropped: it only reads.
        let _snapshot = self.conn.unchecked_transaction().map_err(map_err)?;
        let mut tables = Vec::new();
        for name in OURS {
            if self.has_table(name)? {
                tables.push(name);
            }
        }
        if tables.is_empty() {
            return Ok(());
        }
        let columns: Vec<String> = if tables.contains(&"events") {
            let mut stmt = self
                .conn
                .prepare("SELECT name FROM pragma_table_info('events')")
                .map_err(map_err)?;
            stmt.query_map([], |r| r.get::<_, String>(0))
                .map_err(map_err)?
                .collect::<Result<_, _>>()
                .map_err(map_err)?
        } else {
            Vec::new()
        };
        let events_ours = ["run_id", "seq", "id", "type", "body", "prev_hash", "hash"]
            .iter()
            .all(|c| columns.iter().any(|have| have == c));
        // Read after the tables, not the version read on opening: a first opener beside this
        // one may have migrated meanwhile, and once its tables are seen, its migration (and
        // the version it set with them) has committed.
        if self.user_version()? > 0 && events_ours {
            return Ok(());
        }
        Err(StoreError::Foreign {
            target: self.path.clone(),
            tables: tables.join(", "),
            sqlite: true,
        })
    }

    fn refuse_newer(&self, version: i64) -> Result<(), StoreError> {
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerLog {
                path: self.path.clone(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// Refuse to write through a store opened for reading (saying why).
    fn writable(&self) -> Result<(), StoreError> {
        match self.access {
            Access::Write => Ok(()),
            Access::Read => {
                self.refuse_newer(self.version)?;
                Err(StoreError::ReadOnly(format!(
                    "{} was opened for reading only",
                    self.path
                )))
            }
        }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        if self.version >= SCHEMA_VERSION {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        // Re-read inside the write lock: another process may have migrated meanwhile (a newer
        // cortex, even).
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(map_err)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerLog {
                path: self.path.clone(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(sql).map_err(map_err)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .map_err(map_err)?;
        }
        if version < INDEX_VERSION {
            backfill_index(&tx)?;
        }
        tx.commit().map_err(map_err)?;
        self.version = SCHEMA_VERSION;
        Ok(())
    }

    /// The next seq of a run and the hash it chains onto.
    fn head(&self, run_id: &str) -> Result<(u64, Vec<u8>), StoreError> {
        let head: Option<(i64, Vec<u8>)> = self
            .conn
            .prepare_cached(
                "SELECT seq, hash FROM events WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1",
            )
            .and_then(|mut head| {
                head.query_row(params![run_id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(map_err)?;
        Ok(match head {
            Some((seq, hash)) => (seq as u64 + 1, hash),
            None => (0, super::GENESIS.to_vec()),
        })
    }

    /// Chain `events` onto the head (`next`, `prev`) and insert them; inside a transaction.
    fn insert(
        &self,
        run_id: &str,
        next: u64,
        prev: &[u8],
        events: &[NewEvent],
    ) -> Result<Vec<Recorded>, StoreError> {
        let (rows, recorded): (Vec<RawRow>, Vec<Recorded>) =
            chain(run_id, next, prev, events).into_iter().unzip();
        self.insert_rows(run_id, &rows, &recorded)?;
        Ok(recorded)
    }

    /// Refuse to write into a log file that is no longer the one at its path (removed, or
    /// replaced by another file): what would be written there is lost with it, and the
    /// commands after would find no such run. `seq`: the first event that would have been.
    fn check_file(&self, run_id: &str, seq: u64) -> Result<(), StoreError> {
        let Some((path, opened)) = &self.file else {
            return Ok(());
        };
        if FileId::behind(path).as_ref() == Some(opened) {
            return Ok(());
        }
        Err(StoreError::Removed {
            path: self.path.clone(),
            run_id: run_id.to_string(),
            seq,
        })
    }

    /// Insert chained rows as they are and keep the run index up to date with them; inside a
    /// transaction.
    fn insert_rows(
        &self,
        run_id: &str,
        rows: &[RawRow],
        recorded: &[Recorded],
    ) -> Result<(), StoreError> {
        if let Some(first) = rows.first() {
            self.check_file(run_id, first.seq.max(0) as u64)?;
        }
        if self.index_missing {
            return Err(StoreError::IndexMissing {
                path: self.path.clone(),
            });
        }
        let mut insert = self.conn.prepare_cached(INSERT_EVENT).map_err(map_err)?;
        for row in rows {
            // The columns are text: bound as they are when they are UTF-8 (always, for rows
            // cortex chained), else as their lossy reading (an import of damaged rows).
            // `from_utf8` first: its check runs a word at a time, where `from_utf8_lossy`
            // walks every byte (4% of an append's instructions, for rows that are always UTF-8).
            fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
                match std::str::from_utf8(b) {
                    Ok(text) => std::borrow::Cow::Borrowed(text),
                    Err(_) => String::from_utf8_lossy(b),
                }
            }
            insert
                .execute(params![
                    text(&row.run_id),
                    row.seq,
                    text(&row.id),
                    text(&row.time),
                    text(&row.type_name),
                    row.version,
                    text(&row.body),
                    row.prev_hash,
                    row.hash,
                ])
                .map_err(map_err)?;
        }
        if self.indexed {
            index_appended(&self.conn, run_id, recorded)?;
        }
        Ok(())
    }

    /// Decode the rows `sql` selects as they are read, borrowing their bytes.
    /// `expected`: how many rows there should be (room is made for them up front, at most
    /// `RESERVE_MAX`: a replay does not copy what it read so far each time the vector grows).
    fn read_recorded(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
        expected: u64,
    ) -> Result<Vec<Recorded>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(map_err)?;
        let mut rows = stmt.query(args).map_err(map_err)?;
        let mut out = Vec::with_capacity(expected.min(RESERVE_MAX) as usize);
        while let Some(r) = rows.next().map_err(map_err)? {
            out.push(with_row_ref(r, super::decode_row_ref)??);
        }
        Ok(out)
    }

    /// Remember damage to the run index a lookup went round (the first said).
    fn note_damage(&self, what: String) {
        if let Ok(mut seen) = self.index_damage.lock() {
            seen.get_or_insert(what);
        }
    }

    /// Rows of the run index that `sql` selects (`INDEX_COLUMNS`). A row with a kind or
    /// outcome no cortex writes is a damaged index, not a damaged event: with `query` (a
    /// lookup) the run is taken from its events instead, kept if it still answers the query;
    /// without (`index_rows`, for `log verify` and `log reindex`) it is the error.
    fn read_index(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
        query: Option<&RunQuery>,
    ) -> Result<Vec<RunEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(map_err)?;
        let rows = stmt
            .query_map(args, |r| {
                // An id not UTF-8 (put in by hand) is read shown escaped, as `runs` lists it.
                let run_id = match r.get_ref(0)? {
                    rusqlite::types::ValueRef::Text(b) => crate::event::shown_id(b),
                    _ => r.get::<_, String>(0)?,
                };
                Ok((
                    run_id,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Vec<u8>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .map_err(map_err)?;
        let mut out = Vec::new();
        for row in rows {
            let (run_id, kind, name, started_at, seq, hash, outcome) = row.map_err(map_err)?;
            // A value no cortex writes is a changed row: said, not guessed at.
            let corrupt = |what: &str| StoreError::Corrupt {
                run_id: run_id.clone(),
                seq: seq.max(0) as u64,
                reason: format!("its {what} is not one cortex writes"),
            };
            let read = (|| {
                let kind = match kind.as_str() {
                    "workflow" => RunKind::Workflow,
                    "scenario" => RunKind::Scenario,
                    _ => return Err(corrupt("kind")),
                };
                let outcome = match outcome {
                    None => None,
                    Some(text) => Some(parse_outcome(&text).ok_or_else(|| corrupt("outcome"))?),
                };
                Ok((kind, outcome))
            })();
            let (kind, outcome) = match (read, query) {
                (Ok(read), _) => read,
                (Err(e), None) => return Err(e),
                (Err(e), Some(query)) => {
                    if let StoreError::Corrupt { reason, .. } = e {
                        self.note_damage(format!("the row of run {run_id}: {reason}"));
                    }
                    if let Some(entry) = super::index::entry_from_events(self, &run_id)?
                        && query.matches(&entry)
                    {
                        out.push(entry);
                    }
                    continue;
                }
            };
            out.push(RunEntry {
                run_id,
                kind,
                name,
                started_at,
                events: seq.max(0) as u64 + 1,
                head_hash: super::hex(&hash),
                outcome,
            });
        }
        Ok(out)
    }

    fn read_raw(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<RawRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(map_err)?;
        let map_row = |r: &rusqlite::Row| -> rusqlite::Result<RawRow> {
            // Read every column as the bytes stored, so verification never re-serialises.
            let bytes = |i: usize| column_bytes(r, i).map(|b| b.into_owned());
            Ok(RawRow {
                run_id: bytes(0)?,
                seq: r.get(1)?,
                id: bytes(2)?,
                time: bytes(3)?,
                type_name: bytes(4)?,
                version: r.get(5)?,
                body: bytes(6)?,
                prev_hash: bytes(7)?,
                hash: bytes(8)?,
            })
        };
        let rows = stmt.query_map(args, map_row).map_err(map_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
    }
}

/// A column's stored bytes: borrowed for text and blobs (what cortex writes); anything else
/// (a tampered row) in a text form, so that verification still reads it and fails.
fn column_bytes<'r>(
    r: &'r rusqlite::Row<'_>,
    i: usize,
) -> rusqlite::Result<std::borrow::Cow<'r, [u8]>> {
    use std::borrow::Cow;
    Ok(match r.get_ref(i)? {
        rusqlite::types::ValueRef::Text(t) => Cow::Borrowed(t),
        rusqlite::types::ValueRef::Blob(b) => Cow::Borrowed(b),
        rusqlite::types::ValueRef::Integer(n) => Cow::Owned(n.to_string().into_bytes()),
        rusqlite::types::ValueRef::Real(f) => Cow::Owned(f.to_string().into_bytes()),
        rusqlite::types::ValueRef::Null => Cow::Owned(Vec::new()),
    })
}

/// Call `f` with the bytes of a row of `COLUMNS`, borrowed where SQLite holds them.
fn with_row_ref<T>(
    r: &rusqlite::Row<'_>,
    f: impl FnOnce(super::RowRef<'_>) -> T,
) -> Result<T, StoreError> {
    let col = |i| column_bytes(r, i).map_err(map_err);
    let (run, id, time, kind, body, prev, hash) = (
        col(0)?,
        col(2)?,
        col(3)?,
        col(4)?,
        col(6)?,
        col(7)?,
        col(8)?,
    );
    Ok(f(super::RowRef {
        run_id: &run,
        seq: r.get(1).map_err(map_err)?,
        id: &id,
        time: &time,
        type_name: &kind,
        version: r.get(5).map_err(map_err)?,
        body: &body,
        prev_hash: &prev,
        hash: &hash,
    }))
}

/// The most rows `read_recorded` makes room for before reading (a tampered `seq` must not make
/// it reserve more than a real run needs).
const RESERVE_MAX: u64 = 1 << 22;

const COLUMNS: &str = "run_id, seq, id, time, type, version, body, prev_hash, hash";

/// The insert of one event row (the columns of `COLUMNS`, in order).
const INSERT_EVENT: &str = "INSERT INTO events (run_id, seq, id, time, type, version, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// The condition on a row of the run index that its run has events (one lookup by key).
const HAS_EVENTS: &str =
    "EXISTS (SELECT 1 FROM events WHERE events.run_id = runs.run_id AND events.seq = 0)";

/// The run index's columns, in `RunEntry` order.
const INDEX_COLUMNS: &str = "run_id, kind, name, started_at, head_seq, head_hash, outcome";

/// Keep the run index up to date with `appended` (just inserted, in this transaction): a new
/// run gets its row, and the row follows the head and records the outcome when it seals.
/// An IMMEDIATE transaction begun and ended with cached statements: the write lock is taken
/// at `BEGIN`, so what is read inside is all there is until the commit. (rusqlite's
/// `Transaction` parses `BEGIN IMMEDIATE` and `COMMIT` again for every append: a tenth of a
/// short step's instructions.) Rolled back when dropped without a commit.
struct Immediate<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> Immediate<'c> {
    fn begin(conn: &'c Connection) -> Result<Self, StoreError> {
        run_cached(conn, "BEGIN IMMEDIATE")?;
        Ok(Immediate { conn, open: true })
    }

    fn commit(mut self) -> Result<(), StoreError> {
        run_cached(self.conn, "COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Immediate<'_> {
    fn drop(&mut self) {
        // A failed commit (or an error before it) leaves the transaction open: end it. If
        // SQLite already rolled it back itself, there is nothing to end.
        if self.open && !self.conn.is_autocommit() {
            let _ = run_cached(self.conn, "ROLLBACK");
        }
    }
}

fn run_cached(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(|_| ())
        .map_err(map_err)
}

fn index_appended(
    conn: &Connection,
    run_id: &str,
    appended: &[Recorded],
) -> Result<(), StoreError> {
    let Some(last) = appended.last() else {
        return Ok(());
    };
    if let Some(first) = appended.first()
        && first.seq == 0
        && let Event::RunStarted(started) = &first.event
    {
        conn.prepare_cached(
            "INSERT INTO runs (run_id, kind, name, name_key, started_at, head_seq, head_hash, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, NULL)",
        )
        .and_then(|mut s| {
            s.execute(params![
                run_id,
                started.kind.as_str(),
                started.name,
                normalize_name(&started.name),
                first.time,
                hex_bytes(&first.hash),
            ])
        })
        .map_err(map_err)?;
    }
    // The outcome is the head's: a sealing `run_finished` sets it, and an event after one (a
    // completed child rolled back for its parent: `rollback_started` past its seal) clears
    // it until the second `run_finished`, as `entry_from_log` says it must be. Before, the
    // row kept `completed` through the child's rollback: `log verify` failed on it, `gc`
    // took the child for finished, and the readers of unfinished runs skipped it.
    let outcome = sealed_by(last);
    let moved = conn
        .prepare_cached("UPDATE runs SET head_seq = ?2, head_hash = ?3 WHERE run_id = ?1")
        .and_then(|mut s| {
            s.execute(params![
                run_id,
                last.seq.min(i64::MAX as u64) as i64,
                hex_bytes(&last.hash),
            ])
        })
        .map_err(map_err)?;
    // The outcome only where it changes: naming `outcome` in an UPDATE rewrites the partial
    // index of unfinished runs (it depends on it) even when the value is the same, one page
    // more in every commit (4 WAL frames an append instead of 3, measured).
    if moved > 0 {
        conn.prepare_cached("UPDATE runs SET outcome = ?2 WHERE run_id = ?1 AND outcome IS NOT ?2")
            .and_then(|mut s| s.execute(params![run_id, outcome]))
            .map_err(map_err)?;
    }
    if moved == 0 {
        // The run's row is gone (the index damaged or emptied by hand): the append writes it
        // again from the run's first event, so that the run is listed and found by name once
        // more (`log reindex` rebuilds every row).
        let first: Option<(String, String)> = conn
            .prepare_cached(
                "SELECT body, time FROM events WHERE run_id = ?1 AND seq = 0 AND type = 'run_started'",
            )
            .and_then(|mut s| s.query_row(params![run_id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(map_err)?;
        if let Some((body, time)) = first
            && let Ok(Event::RunStarted(started)) = Event::from_parts("run_started", &body)
        {
            conn.prepare_cached(
                "INSERT INTO runs (run_id, kind, name, name_key, started_at, head_seq, head_hash, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    run_id,
                    started.kind.as_str(),
                    started.name,
                    normalize_name(&started.name),
                    time,
                    last.seq.min(i64::MAX as u64) as i64,
                    hex_bytes(&last.hash),
                    outcome
                ])
            })
            .map_err(map_err)?;
        }
    }
    Ok(())
}

/// The bytes of a hash recorded as hex (`Recorded::hash`).
fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// Build the run index of a log written before it existed, from the events (inside the
/// migration's transaction).
fn backfill_index(conn: &Connection) -> Result<(), StoreError> {
    let firsts: Vec<(String, String, String)> = conn
        .prepare("SELECT run_id, body, time FROM events WHERE seq = 0 AND type = 'run_started'")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .map_err(map_err)?;
    for (run_id, body, time) in firsts {
        let Ok(Event::RunStarted(started)) = Event::from_parts("run_started", &body) else {
            // An unreadable first event is `log verify`'s to report; the run stays unlisted.
            continue;
        };
        let (seq, hash, kind, last_body): (i64, Vec<u8>, String, String) = conn
            .query_row(
                "SELECT seq, hash, type, body FROM events WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1",
                params![run_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(map_err)?;
        let outcome = match Event::from_parts(&kind, &last_body) {
            Ok(Event::RunFinished { outcome, .. }) => Some(outcome.as_str()),
            _ => None,
        };
        conn.execute(
            "INSERT INTO runs (run_id, kind, name, name_key, started_at, head_seq, head_hash, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                run_id,
                started.kind.as_str(),
                started.name,
                normalize_name(&started.name),
                time,
                seq,
                hash,
                outcome
            ],
        )
        .map_err(map_err)?;
    }
    Ok(())
}

fn parse_outcome(text: &str) -> Option<Outcome> {
    [
        Outcome::Completed,
        Outcome::Failed,
        Outcome::Aborted,
        Outcome::RolledBack,
    ]
    .into_iter()
    .find(|o| o.as_str() == text)
}

impl SqliteStore {
    /// `e`, a full disk said with where (`disk_full`: the log's folder and what it has free)
    /// when it does not say so yet: SQLite's own words ("database or disk is full") name no
    /// path, and an append failing so said less than the same failure at opening.
    fn placed(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Full(text) if !text.contains(" free") && !text.contains("ulimit -f") => {
                let why = match &self.file {
                    Some((path, _)) => {
                        disk_full(path).unwrap_or_else(|| format!("the log is {}", path.display()))
                    }
                    None => return StoreError::Full(text),
                };
                StoreError::Full(format!("{text} ({why})"))
            }
            e => e,
        }
    }
}

impl EventStore for SqliteStore {
    fn append(
        &mut self,
        run_id: &str,
        expected_seq: u64,
        events: &[NewEvent],
    ) -> Result<Vec<Recorded>, StoreError> {
        // A full disk is said with where (the log's folder and what it has free), as a
        // failure to open it is (`full_or`).
        let result = (|| -> Result<Vec<Recorded>, StoreError> {
            self.writable()?;
            // IMMEDIATE takes the write lock up front, so reading the head and appending after it
            // is one atomic step across processes.
            let tx = Immediate::begin(&self.conn)?;
            let (actual, prev) = self.head(run_id)?;
            if actual != expected_seq {
                return Err(StoreError::Conflict {
                    run_id: run_id.to_string(),
                    expected: expected_seq,
                    actual,
                });
            }
            let recorded = self.insert(run_id, actual, &prev, events)?;
            tx.commit()?;
            Ok(recorded)
        })();
        result.map_err(|e| self.placed(e))
    }

    fn append_at_head(
        &mut self,
        run_id: &str,
        known_seq: u64,
        decide: &mut DecideAtHead<'_>,
    ) -> Result<AtHead, StoreError> {
        // A full disk is said with where (the log's folder and what it has free), as a
        // failure to open it is (`full_or`).
        let result = (|| -> Result<AtHead, StoreError> {
            self.writable()?;
            // One IMMEDIATE transaction: the write lock is taken first, so the events read here
            // are all there is until the commit; other writers wait (busy_timeout), none fails.
            let tx = Immediate::begin(&self.conn)?;
            let (next, prev) = self.head(run_id)?;
            if known_seq > next {
                return Err(StoreError::Conflict {
                    run_id: run_id.to_string(),
                    expected: known_seq,
                    actual: next,
                });
            }
            let caught_up = if known_seq < next {
                self.read_run_from(run_id, known_seq)?
            } else {
                Vec::new()
            };
            let events = decide(&caught_up, &*self);
            let appended = if events.is_empty() {
                Vec::new()
            } else {
                self.insert(run_id, next, &prev, &events)?
            };
            tx.commit()?;
            Ok(AtHead {
                caught_up,
                appended,
            })
        })();
        result.map_err(|e| self.placed(e))
    }

    fn import_runs(&mut self, runs: &[&[RawRow]]) -> Result<(), StoreError> {
        // A full disk is said with where (the log's folder and what it has free), as a
        // failure to open it is (`full_or`).
        let result = (|| -> Result<(), StoreError> {
            self.writable()?;
            let checked = super::check_imports(runs)?;
            if checked.is_empty() {
                return Ok(());
            }
            // One transaction for every run: rolled back whole when any fails.
            let tx = Immediate::begin(&self.conn)?;
            for (run_id, first, rows, recorded) in &checked {
                let (next, prev) = self.head(run_id)?;
                super::check_import_head(run_id, first, next, &prev)?;
                self.insert_rows(run_id, rows, recorded)?;
            }
            tx.commit()
        })();
        result.map_err(|e| self.placed(e))
    }

    fn set_durability(&self, durability: Durability) -> Result<(), StoreError> {
        SqliteStore::set_durability(self, durability)
    }

    fn set_lock_wait(&self, wait: Option<Duration>) -> Result<(), StoreError> {
        let own = self.own_wait.get();
        self.conn
            .busy_timeout(wait.map_or(own, |w| w.min(own)))
            .map_err(map_err)
    }

    fn bound_lock_wait(&self, bound: Duration) -> Result<(), StoreError> {
        self.own_wait.set(BUSY_TIMEOUT.min(bound));
        self.set_lock_wait(None)
    }

    fn read_run(&self, run_id: &str) -> Result<Vec<Recorded>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE run_id = ?1 ORDER BY seq");
        let expected = self.head(run_id)?.0;
        self.read_recorded(&sql, params![run_id], expected)
    }

    fn events_of_type(
        &self,
        run_id: Option<&str>,
        type_name: &str,
    ) -> Result<Vec<Recorded>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM events WHERE type = ?1 AND (?2 IS NULL OR run_id = ?2)
             ORDER BY run_id, seq"
        );
        self.read_recorded(&sql, params![type_name, run_id], 0)
    }

    fn read_run_from(&self, run_id: &str, seq: u64) -> Result<Vec<Recorded>, StoreError> {
        // Bound, not spliced: one cached statement for every call.
        let sql =
            format!("SELECT {COLUMNS} FROM events WHERE run_id = ?1 AND seq >= ?2 ORDER BY seq");
        let from = seq.min(i64::MAX as u64) as i64;
        // Mostly a driver catching up (no rows, or a few): not worth asking for the head.
        self.read_recorded(&sql, params![run_id, from], 0)
    }

    fn read_run_page(
        &self,
        run_id: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<Recorded>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM events WHERE run_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3"
        );
        let from = seq.min(i64::MAX as u64) as i64;
        let limit = limit.min(i64::MAX as usize) as i64;
        self.read_recorded(&sql, params![run_id, from, limit], 0)
    }

    fn fold_rows(
        &self,
        run_id: &str,
        seq: u64,
        f: &mut super::RowSink<'_>,
    ) -> Result<(), StoreError> {
        // Only the columns a fold reads, each where SQLite holds it while the row is current.
        const SQL: &str = "SELECT seq, time, type, version, body, hash, id, prev_hash FROM events
             WHERE run_id = ?1 AND seq >= ?2 ORDER BY seq";
        let from = super::fold::first_seq(seq);
        let mut stmt = self.conn.prepare_cached(SQL).map_err(map_err)?;
        let mut rows = stmt.query(params![run_id, from]).map_err(map_err)?;
        while let Some(r) = rows.next().map_err(map_err)? {
            let col = |i| column_bytes(r, i).map_err(map_err);
            let (time, kind, body, hash) = (col(1)?, col(2)?, col(4)?, col(5)?);
            let (id, prev_hash) = (col(6)?, col(7)?);
            f(super::FoldRow {
                seq: r.get(0).map_err(map_err)?,
                id: &id,
                time: &time,
                type_name: &kind,
                version: r.get(3).map_err(map_err)?,
                body: &body,
                prev_hash: &prev_hash,
                hash: &hash,
            })?;
        }
        Ok(())
    }

    fn load_snapshot(&self, run_id: &str) -> Result<Option<Snapshot>, StoreError> {
        Ok(self.snapshots(Some(run_id))?.pop())
    }

    fn snapshots(&self, run_id: Option<&str>) -> Result<Vec<Snapshot>, StoreError> {
        if !self.snapshots {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT run_id, seq, hash, state, digest FROM snapshots
                 WHERE ?1 IS NULL OR run_id = ?1 ORDER BY run_id",
            )
            .map_err(map_err)?;
        let rows = stmt
            .query_map(params![run_id], |r| {
                Ok(Snapshot {
                    run_id: r.get(0)?,
                    seq: r.get::<_, i64>(1)?.max(0) as u64,
                    hash: r.get(2)?,
                    state: r.get(3)?,
                    digest: r.get(4)?,
                })
            })
            .map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StoreError> {
        // A full disk is said with where (the log's folder and what it has free), as a
        // failure to open it is (`full_or`).
        let result = (|| -> Result<(), StoreError> {
            self.writable()?;
            self.conn
                .execute(
                    "INSERT OR REPLACE INTO snapshots (run_id, seq, hash, state, digest)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        snapshot.run_id,
                        snapshot.seq.min(i64::MAX as u64) as i64,
                        snapshot.hash,
                        snapshot.state,
                        snapshot.digest
                    ],
                )
                .map(|_| ())
                .map_err(map_err)
        })();
        result.map_err(|e| self.placed(e))
    }

    fn claim_lease(&mut self, claim: &LeaseClaim) -> Result<Option<Lease>, StoreError> {
        self.writable()?;
        // One statement, so one write transaction: granted if absent, taken over if lapsed,
        // extended if this holder holds it and it is the driver's (`EventStore::claim_lease`).
        let sql = format!(
            "INSERT INTO leases (run_id, unit, attempt, holder, host, epoch, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, {NOW_MS} + ?6)
             ON CONFLICT (run_id, unit) DO UPDATE SET attempt = excluded.attempt,
                host = excluded.host, expires_at = excluded.expires_at,
                epoch = CASE WHEN leases.holder = excluded.holder
                    AND leases.expires_at > {NOW_MS} THEN leases.epoch ELSE leases.epoch + 1 END,
                holder = excluded.holder
             WHERE leases.expires_at <= {NOW_MS}
                OR (leases.holder = excluded.holder AND leases.unit = '')
             RETURNING epoch, expires_at - {NOW_MS}"
        );
        self.conn
            .query_row(
                &sql,
                params![
                    claim.run_id,
                    claim.unit,
                    claim.attempt,
                    claim.holder,
                    claim.host,
                    claim.ttl_ms.min(i64::MAX as u64 / 2) as i64
                ],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()
            .map(|granted| granted.map(|(epoch, left)| Lease::granted(claim, epoch as u64, left)))
            .map_err(map_err)
    }

    fn renew_lease(&mut self, lease: &Lease, ttl_ms: u64) -> Result<bool, StoreError> {
        self.writable()?;
        let sql = format!(
            "UPDATE leases SET expires_at = {NOW_MS} + ?5
             WHERE run_id = ?1 AND unit = ?2 AND holder = ?3 AND epoch = ?4 AND attempt = ?6"
        );
        self.conn
            .execute(
                &sql,
                params![
                    lease.run_id,
                    lease.unit,
                    lease.holder,
                    lease.epoch as i64,
                    ttl_ms.min(i64::MAX as u64 / 2) as i64,
                    lease.attempt
                ],
            )
            .map(|n| n == 1)
            .map_err(map_err)
    }

    fn release_lease(&mut self, lease: &Lease) -> Result<(), StoreError> {
        self.writable()?;
        self.conn
            .execute(
                "DELETE FROM leases
                 WHERE run_id = ?1 AND unit = ?2 AND holder = ?3 AND epoch = ?4 AND attempt = ?5",
                params![
                    lease.run_id,
                    lease.unit,
                    lease.holder,
                    lease.epoch as i64,
                    lease.attempt
                ],
            )
            .map(drop)
            .map_err(map_err)
    }

    fn leases(&self, run_id: Option<&str>) -> Result<Vec<Lease>, StoreError> {
        if self.version < 5 {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT run_id, unit, attempt, holder, host, epoch, expires_at - {NOW_MS} FROM leases
             WHERE ?1 IS NULL OR run_id = ?1 ORDER BY run_id, unit"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(map_err)?;
        let rows = stmt
            .query_map(params![run_id], |r| {
                Ok(Lease {
                    run_id: r.get(0)?,
                    unit: r.get(1)?,
                    attempt: r.get::<_, i64>(2)?.clamp(0, u32::MAX as i64) as u32,
                    holder: r.get(3)?,
                    host: r.get(4)?,
                    epoch: r.get::<_, i64>(5)?.max(0) as u64,
                    remaining_ms: r.get(6)?,
                })
            })
            .map_err(map_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
    }

    fn first_event(&self, run_id: &str) -> Result<Option<Recorded>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE run_id = ?1 AND seq = 0");
        self.read_raw(&sql, params![run_id])?
            .first()
            .map(decode_row)
            .transpose()
    }

    fn hash_at(&self, run_id: &str, seq: u64) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT hash FROM events WHERE run_id = ?1 AND seq = ?2",
                params![run_id, seq as i64],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()
            .map(|h| h.map(|h| super::hex(&h)))
            .map_err(map_err)
    }

    fn list_runs(&self, query: &RunQuery) -> Result<Vec<RunEntry>, StoreError> {
        if !self.indexed {
            return super::index::scan(self, query);
        }
        // Only the conditions given are in the statement, so that each shape of query has a
        // plan that uses its index (plans never depend on bound values here: QPSG).
        let (conditions, values) = super::index::index_conditions(query, |n| format!("?{n}"));
        // A row whose run has no events (its events removed, or a row made by hand) is no
        // run: never listed (`log verify` names it, `log reindex` removes it).
        let mut sql = format!(
            "SELECT {INDEX_COLUMNS} FROM runs WHERE {HAS_EVENTS} AND {}{conditions}",
            super::index::sqlite_is_run_id()
        );
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = values
            .into_iter()
            .map(|v| Box::new(v) as Box<dyn rusqlite::ToSql>)
            .collect();
        sql.push_str(" ORDER BY run_id DESC");
        if let Some(n) = query.limit {
            args.push(Box::new(n.min(i64::MAX as usize) as i64));
            sql.push_str(&format!(" LIMIT ?{}", args.len()));
        }
        let refs: Vec<&dyn rusqlite::ToSql> = args.iter().map(|a| a.as_ref()).collect();
        let mut hits = self.read_index(&sql, &refs, Some(query))?;
        // Rows of runs with no events among those the query passed over (ids from the last
        // listed, or all when fewer were, up to its cursor): said as damage (primary key
        // range, no larger than the page).
        let low = match query.limit {
            Some(n) if hits.len() >= n => hits.last().map_or(String::new(), |h| h.run_id.clone()),
            _ => String::new(),
        };
        let high = query.before.clone().unwrap_or_else(|| "~".into());
        let phantom: Option<String> = self
            .conn
            .prepare_cached(&format!(
                "SELECT run_id FROM runs WHERE run_id >= ?1 AND run_id < ?2 AND NOT {HAS_EVENTS} LIMIT 1"
            ))
            .and_then(|mut s| s.query_row(params![low, high], |r| r.get(0)).optional())
            .map_err(map_err)?;
        if let Some(run) = phantom {
            self.note_damage(format!("it has a row for run {run}, which has no events"));
        }
        if query.kind.is_some() {
            // A row whose kind is none cortex writes (edited) is not found by its kind: its
            // run is taken from its events (`read_index`) and kept if it answers the query.
            // Ranges on `runs_by_kind`, empty in an undamaged index.
            let odd = format!(
                "SELECT {INDEX_COLUMNS} FROM runs WHERE {HAS_EVENTS} AND {} AND (kind < 'scenario' OR (kind > 'scenario' AND kind < 'workflow') OR kind > 'workflow') ORDER BY run_id DESC",
                super::index::sqlite_is_run_id()
            );
            let extra = self.read_index(&odd, &[], Some(query))?;
            if !extra.is_empty() {
                hits.extend(extra);
                hits.sort_by(|a, b| b.run_id.cmp(&a.run_id));
                hits.dedup_by(|a, b| a.run_id == b.run_id);
                if let Some(n) = query.limit {
                    hits.truncate(n);
                }
            }
        }
        Ok(hits)
    }

    fn count_runs(&self, query: &RunQuery) -> Result<u64, StoreError> {
        if !self.indexed
            || query.name.is_some()
            || query.id_prefix.is_some()
            || query.unfinished
            || query.before.is_some()
        {
            let mut all = query.clone();
            all.limit = None;
            return Ok(self.list_runs(&all)?.len() as u64);
        }
        let n: i64 = match query.kind {
            Some(kind) => self.conn.query_row(
                &format!(
                    "SELECT count(*) FROM runs WHERE {HAS_EVENTS} AND {} AND kind = ?1",
                    super::index::sqlite_is_run_id()
                ),
                params![kind.as_str()],
                |r| r.get(0),
            ),
            None => self.conn.query_row(
                &format!(
                    "SELECT count(*) FROM runs WHERE {HAS_EVENTS} AND {}",
                    super::index::sqlite_is_run_id()
                ),
                [],
                |r| r.get(0),
            ),
        }
        .map_err(map_err)?;
        Ok(n.max(0) as u64)
    }

    fn begin_view(&self) -> Result<(), StoreError> {
        // Deferred: the first read takes the WAL snapshot that every later read of the
        // transaction sees; nothing is locked against writers.
        if self.conn.is_autocommit() {
            self.conn.execute_batch("BEGIN").map_err(map_err)?;
        }
        Ok(())
    }

    fn end_view(&self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn index_damage(&self) -> Option<String> {
        self.index_damage.lock().ok().and_then(|s| s.clone())
    }

    fn index_rows(&self) -> Result<Option<Vec<RunEntry>>, StoreError> {
        if self.index_missing {
            return Err(StoreError::Corrupt {
                run_id: String::new(),
                seq: 0,
                reason: "its table `runs` is missing".into(),
            });
        }
        if !self.indexed {
            return Ok(None);
        }
        let sql = format!("SELECT {INDEX_COLUMNS} FROM runs ORDER BY run_id");
        self.read_index(&sql, &[], None).map(Some)
    }

    fn rebuild_index(&mut self) -> Result<Option<super::IndexRepair>, StoreError> {
        self.writable()?;
        if !self.indexed && !self.index_missing {
            return Ok(None);
        }
        // IMMEDIATE: no append lands between reading the events and writing their rows.
        let tx = Immediate::begin(&self.conn)?;
        let repair_rows = self.index_rows();
        if self.index_missing && !self.has_table("runs")? {
            // The table was dropped: made again as the migration made it, then filled.
            self.conn
                .execute_batch(MIGRATIONS[INDEX_VERSION as usize - 1])
                .map_err(map_err)?;
        }
        let (expected, repair) = super::index::rebuild_plan(&*self, repair_rows)?;
        run_cached(&self.conn, "DELETE FROM runs")?;
        let mut insert = self
            .conn
            .prepare_cached(
                "INSERT INTO runs (run_id, kind, name, name_key, started_at, head_seq, head_hash, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(map_err)?;
        for e in &expected {
            insert
                .execute(params![
                    e.run_id,
                    e.kind.as_str(),
                    e.name,
                    normalize_name(&e.name),
                    e.started_at,
                    e.events.saturating_sub(1).min(i64::MAX as u64) as i64,
                    hex_bytes(&e.head_hash),
                    e.outcome.map(|o| o.as_str()),
                ])
                .map_err(map_err)?;
        }
        drop(insert);
        tx.commit()?;
        self.indexed = true;
        self.index_missing = false;
        Ok(Some(repair))
    }

    fn streams_with_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>, StoreError> {
        // The range of ids starting with `prefix`, on the key's index: no row decoded.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT run_id, MAX(seq) FROM events
                 WHERE run_id >= ?1 AND run_id < ?2
                 GROUP BY run_id ORDER BY run_id",
            )
            .map_err(map_err)?;
        let rows = stmt
            .query_map(params![prefix, super::past_prefix(prefix)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(map_err)?;
        rows.map(|r| {
            r.map(|(id, seq)| (id, seq.max(0) as u64 + 1))
                .map_err(map_err)
        })
        .collect()
    }

    fn runs(&self) -> Result<Vec<RunHead>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE seq = 0 ORDER BY run_id");
        let firsts = self.read_raw(&sql, params![])?;
        let mut heads = Vec::with_capacity(firsts.len());
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, hash FROM events WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1",
            )
            .map_err(map_err)?;
        for row in &firsts {
            // A chain whose stored id is not UTF-8 (put in by hand: SQLite keeps a text's
            // bytes as given) is listed under its id shown escaped (`event::shown_id`), which
            // is no chain id: whatever reads the list refuses it by that name, and reads on.
            // Before, it stopped every reader of the list (`log copy` copied nothing).
            let shown = crate::event::shown_id(&row.run_id);
            let first = decode_row_ref(RowRef {
                run_id: shown.as_bytes(),
                ..row.as_ref()
            })?;
            let (seq, hash): (i64, Vec<u8>) = match std::str::from_utf8(&row.run_id) {
                Ok(id) => stmt.query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?))),
                Err(_) => self.conn.query_row(
                    "SELECT seq, hash FROM events WHERE run_id = CAST(?1 AS TEXT) ORDER BY seq DESC LIMIT 1",
                    params![row.run_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                ),
            }
            .map_err(map_err)?;
            heads.push(RunHead {
                run_id: first.run_id.clone(),
                first,
                events: seq as u64 + 1,
                head_hash: super::hex(&hash),
            });
        }
        Ok(heads)
    }

    fn verify(&self, run_id: Option<&str>) -> Result<super::VerifyReport, StoreError> {
        // Each row is checked where SQLite holds it: nothing is copied but the previous hash.
        let sql = match run_id {
            Some(_) => format!("SELECT {COLUMNS} FROM events WHERE run_id = ?1 ORDER BY seq"),
            None => format!("SELECT {COLUMNS} FROM events ORDER BY run_id, seq"),
        };
        let mut stmt = self.conn.prepare_cached(&sql).map_err(map_err)?;
        let mut rows = match run_id {
            Some(id) => stmt.query(params![id]),
            None => stmt.query([]),
        }
        .map_err(map_err)?;
        let mut verifier = super::Verifier::auditing();
        while let Some(r) = rows.next().map_err(map_err)? {
            with_row_ref(r, |row| verifier.check(row))?;
        }
        Ok(verifier.finish())
    }

    fn check_file(&self) -> Result<Option<String>, StoreError> {
        // The first few problems are enough to say the file is damaged and where.
        let mut stmt = self
            .conn
            .prepare("PRAGMA quick_check(5)")
            .map_err(map_err)?;
        let found = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>());
        match found {
            Ok(lines) if lines.len() == 1 && lines[0] == "ok" => Ok(None),
            Ok(lines) => Ok(Some(
                lines
                    .iter()
                    .flat_map(|l| l.lines())
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("; "),
            )),
            // So damaged that the check itself cannot read it.
            Err(e) => match map_err(e) {
                StoreError::Damaged(why) => Ok(Some(why)),
                other => Err(other),
            },
        }
    }

    fn raw_rows(&self, run_id: Option<&str>) -> Result<Vec<RawRow>, StoreError> {
        match run_id {
            Some(id) => self.read_raw(
                &format!("SELECT {COLUMNS} FROM events WHERE run_id = ?1 ORDER BY seq"),
                params![id],
            ),
            None => self.read_raw(
                &format!("SELECT {COLUMNS} FROM events ORDER BY run_id, seq"),
                params![],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An append refused inside its transaction (a conflict) ends the transaction: the
    /// connection is back in autocommit and the next append lands.
    #[test]
    fn a_refused_append_leaves_no_transaction_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            SqliteStore::open(&dir.path().join("cortex.db"), Durability::Normal).unwrap();
        let new = |id: &str| NewEvent {
            id: id.into(),
            time: "2026-12-03T10:00:00.000Z".into(),
            event: Event::ValidationPassed {
                stage: crate::event::Stage::Pre,
                step: None,
            },
        };
        store.append("R", 0, &[new("1")]).unwrap();
        let refused = store.append("R", 0, &[new("2")]);
        assert!(
            matches!(refused, Err(StoreError::Conflict { .. })),
            "{refused:?}"
        );
        assert!(
            store.conn.is_autocommit(),
            "the transaction was rolled back"
        );
        store.append("R", 1, &[new("3")]).unwrap();
        let ids: Vec<String> = store
            .read_run("R")
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["1", "3"]);
    }

    /// Opening a log while another process holds its lock waits for the lock (`busy_timeout`
    /// is set before anything that locks, such as switching to WAL) instead of failing with
    /// "the event log is busy" — which concurrent first commands of a fresh home hit.
    #[test]
    fn opening_beside_a_busy_writer_waits_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cortex.db");
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch("BEGIN EXCLUSIVE; CREATE TABLE busy (x);")
            .unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            holder.execute_batch("COMMIT").unwrap();
        });
        let opened = SqliteStore::open(&path, Durability::Normal);
        release.join().unwrap();
        let store = opened.expect("the open waited for the lock");
        assert_eq!(store.schema_version(), SCHEMA_VERSION);
    }

    /// Many first openers of a fresh log at once (concurrent first commands of a new home):
    /// every one opens it; none is refused as busy while another switches it to WAL.
    #[test]
    fn concurrent_first_opens_of_a_fresh_log_all_succeed() {
        for _ in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("cortex.db");
            let openers: Vec<_> = (0..12)
                .map(|_| {
                    let path = path.clone();
                    std::thread::spawn(move || {
                        SqliteStore::open(&path, Durability::Normal).map(drop)
                    })
                })
                .collect();
            for opener in openers {
                opener
                    .join()
                    .unwrap()
                    .expect("every first opener opens the log");
            }
        }
    }

    /// A path with characters that mean something in a URI is still opened as that file.
    #[test]
    fn a_file_uri_escapes_every_byte_that_is_not_plain() {
        assert_eq!(
            file_uri(Path::new("/a b/c?d#e%f.db"), "mode=ro"),
            "file:/a%20b/c%3Fd%23e%25f.db?mode=ro"
        );
    }
}
