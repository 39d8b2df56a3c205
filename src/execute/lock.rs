//! One driver per run: an exclusive OS file lock that dies with its process.
//!
//! `flock`-style locks are released by the kernel when the holder exits for any reason, so a
//! killed driver never leaves a run locked, and a probe tells at once whether a run in the
//! `running` phase still has a live driver (else it is `interrupted`).
//!
//! The lock files live in `CORTEX_HOME/locks/`, not in `runs/`: `runs/` is derived and may be
//! deleted at any time, and a lock whose file is deleted no longer excludes anyone (the next
//! process makes a new file and locks that). A lock is taken on a file that the path still
//! names once it is locked (same device and inode), so a file removed between another
//! process's open and its lock is noticed and the lock is taken again.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::file_id::still_named;
use crate::render::one_line;

/// Who holds a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub actor: String,
    pub since: String,
    /// The process serves more than this run (`cortex mcp`, `cortex serve`, the TUI,
    /// `cortex worker`; see
    /// `serve_many`): a signal to it would end everything it serves, so an abort asks its
    /// driver through the log only, never by SIGTERM. Absent (false) in the note of a process
    /// that drives this run alone, which an abort may signal.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared: bool,
}

/// Whether this process serves more than one run or client (see `Holder::shared`).
static SERVES_MANY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Mark this process as one that serves many runs and clients and ends on SIGTERM as a whole
/// (`cortex mcp`, `cortex serve`, the TUI): from now on the runs it holds say so, and an abort
/// from elsewhere (or from within) never signals it. Before, `workflow abort` sent SIGTERM to
/// whatever process held the run, and `cortex mcp` took it as its own end.
pub fn serve_many() {
    SERVES_MANY.store(true, std::sync::atomic::Ordering::Relaxed);
}

impl Holder {
    /// This process, holding a run as `actor` from now on: the actor scrubbed of every
    /// secret this process knows (`execute::scrub_known`), as the note is written into a
    /// file others read and named in their "held by" errors.
    pub fn this_process(actor: &str) -> Holder {
        Holder {
            pid: std::process::id(),
            host: super::hostname(),
            actor: super::scrub_known(actor),
            since: super::rfc3339(std::time::SystemTime::now()),
            shared: SERVES_MANY.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// A holder whose note cannot be read (see `Display`).
    fn unnamed() -> Holder {
        Holder {
            pid: 0,
            host: "?".into(),
            actor: "?".into(),
            since: "?".into(),
            shared: false,
        }
    }

    /// The pid and host of the `cortex worker` that holds the run, if one does: its lock
    /// note's actor is `worker:NAME`; a holder known by its lease alone (pid 0) is named
    /// `worker:NAME pid N` (0 when that does not say).
    pub fn worker(&self) -> Option<(u32, String)> {
        let name = self.actor.strip_prefix("worker:")?;
        let pid = match self.pid {
            0 => name
                .rsplit_once(" pid ")
                .and_then(|(_, pid)| pid.trim().parse().ok())
                .unwrap_or(0),
            pid => pid,
        };
        Some((pid, self.host.clone()))
    }

    /// Who has yet to act on a stop or abort asked of run `state`: its holder as
    /// `ACTOR (pid N)` (the actor alone when known by its lease, pid 0); with no holder
    /// found, the driver its log names, else "its driver".
    pub fn pending_actor(holder: Option<&Holder>, state: &crate::decide::RunState) -> String {
        match holder {
            Some(h) if h.pid != 0 => format!("{} (pid {})", h.actor, h.pid),
            Some(h) => h.actor.clone(),
            None => state
                .driven_by
                .clone()
                .unwrap_or_else(|| "its driver".into()),
        }
    }

    /// Whether a SIGTERM to the holder ends its drive of this run and nothing else: a
    /// process of this host that drives the run alone.
    pub fn signalled_by_abort(&self) -> bool {
        !self.shared && self.pid != 0 && self.host == super::hostname()
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Pid 0: a holder known only by its lease (a worker or driver of another host or
        // home): its holder names it, and `since` says how its lease stands.
        if self.pid == 0 {
            if self.host == "?" {
                return f.write_str(
                    "another process, whose lock file does not say which (a holder writes it as it takes the run: try again in a moment; if it stays so, the file in the home's locks/ was not written by cortex)",
                );
            }
            return write!(
                f,
                "{} on {} ({})",
                one_line(&self.actor),
                one_line(&self.host),
                self.since
            );
        }
        // What a lock file or a lease holds: one line each, whatever it holds.
        write!(
            f,
            "process {} on {} ({}, since {})",
            self.pid,
            one_line(&self.host),
            one_line(&self.actor),
            one_line(&self.since)
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("run {run_id} is held by {}", .holder.as_ref().map_or("another process".to_string(), |h| h.to_string()))]
    Held {
        run_id: String,
        holder: Option<Holder>,
    },
    #[error("cannot lock {path}: {error}")]
    Io { path: String, error: std::io::Error },
    /// A derived folder of the run is a symbolic link (or not a folder): nothing is driven
    /// there until it is removed.
    #[error("{0}")]
    UnsafeFolder(std::io::Error),
}

/// The lock on one run, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DriverLock {
    _file: File,
    path: PathBuf,
    /// The lock file did not exist: this is the run's first driver here, or `locks/` was
    /// deleted (perhaps under a live driver, whose lock then excludes nobody).
    made_anew: bool,
}

/// Where the lock of `run_id` lives: not in `runs/`, which may be deleted. In the `locks/`
/// folder beside the SQLite log the home uses (`locks_beside`), which is the home's own
/// `locks/` for the home's own `cortex.db`; else in the home's.
/// An id that is no run id names no lock (`materialize::run_path_part`): the error says so.
fn lock_path(home: &Path, run_id: &str) -> Result<PathBuf, LockError> {
    let folder = lock_folder(home);
    match super::run_path_part(run_id) {
        Ok(part) => Ok(folder.join(format!("{part}.lock"))),
        Err(error) => Err(LockError::Io {
            path: folder.display().to_string(),
            error,
        }),
    }
}

/// The folder where the runs of `home`'s log are locked: beside its SQLite log
/// (`locks_beside`), which is the home's own `locks/` for the home's own `cortex.db` and for
/// a PostgreSQL log. Every home on one SQLite log finds a run's lock, and the notes of what
/// its last driver left running (`inflight::inflight_notes`), in the same place.
pub fn lock_folder(home: &Path) -> PathBuf {
    LOCK_DIRS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(home)
        .cloned()
        .unwrap_or_else(|| home.join("locks"))
}

/// The lock folder of each home whose log is a SQLite file elsewhere (`locks_beside`).
static LOCK_DIRS: std::sync::Mutex<std::collections::BTreeMap<PathBuf, PathBuf>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The runs of `home` are in the SQLite log `db`: their locks are taken in the `locks/`
/// folder beside it, so that every home on that log (another home's `--db`, a shared `db` in
/// the config) judges a run's driver by the same lock. Before, each home probed its own
/// `locks/`: a second home saw the first's live run as `interrupted` and suggested a
/// `resume` that was then refused as held.
pub fn locks_beside(home: &Path, db: &Path) {
    let folder = db.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = folder.map_or_else(|| PathBuf::from("locks"), |f| f.join("locks"));
    let mut dirs = LOCK_DIRS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if dir == home.join("locks") {
        dirs.remove(home);
    } else {
        dirs.insert(home.to_path_buf(), dir);
    }
}

/// The lock file at `path`, made if need be; and whether this call made it.
fn open(path: &Path) -> Result<(File, bool), LockError> {
    let io = |error| LockError::Io {
        path: path.display().to_string(),
        error,
    };
    check_lock_place(path)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    // Readable by its owner only: its note names who drives the run (an actor is free text).
    let options = || {
        use std::os::unix::fs::OpenOptionsExt;
        let mut o = super::materialize::derived_file();
        o.read(true).write(true).mode(0o600);
        o
    };
    match options().create_new(true).open(path) {
        Ok(file) => Ok((file, true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => options()
            .create(true)
            .truncate(false)
            .open(path)
            .and_then(super::materialize::regular)
            .map(|file| (file, false))
            .map_err(io),
        Err(e) => Err(io(e)),
    }
}

/// Refuse the lock file at `path` where it, or the folder it is in, is not what cortex makes
/// there: a link would have the run's lock taken (and its holder written) wherever it points,
/// as one in `runs/` would its derived files, and something else than a file or folder
/// (a FIFO, a device) cannot be locked. What is not there yet is made by the lock.
fn check_lock_place(path: &Path) -> Result<(), LockError> {
    let kind = |p: &Path| std::fs::symlink_metadata(p).ok().map(|m| m.file_type());
    if let Some(dir) = path.parent() {
        if kind(dir).is_some_and(|k| k.is_symlink()) {
            return Err(LockError::UnsafeFolder(std::io::Error::other(format!(
                "{} is a symbolic link: cortex keeps the runs' lock files there and takes no lock through a link; remove it (it is made again)",
                dir.display()
            ))));
        }
        if std::fs::metadata(dir).is_ok_and(|m| !m.is_dir()) {
            return Err(LockError::UnsafeFolder(std::io::Error::other(format!(
                "{} is not a folder: cortex keeps the runs' lock files there; remove or move it away (it is made again)",
                dir.display()
            ))));
        }
    }
    match kind(path) {
        Some(k) if k.is_symlink() => Err(LockError::UnsafeFolder(std::io::Error::other(format!(
            "{} is a symbolic link: cortex takes no run's lock through a link (the lock and its holder's note would be wherever it points); remove the link (what it points to is not touched; the lock file is made again)",
            path.display()
        )))),
        Some(k) if !k.is_file() => Err(LockError::UnsafeFolder(std::io::Error::other(format!(
            "{} is not a regular file (something else was put in place of the run's lock file): cortex takes no lock on it; move it away (the lock file is made again)",
            path.display()
        )))),
        _ => Ok(()),
    }
}

/// How many times a lock file replaced under us is opened again before giving up.
const REOPENS: usize = 16;

/// How many times (a millisecond apart) a lock held by a process whose note cannot be read
/// yet is tried again, its note read again, before the holder is said to be unknown.
const NOTE_RETRIES: usize = 250;

/// How many times a lock refused only because of probes (shared locks) is tried again.
const PROBE_RETRIES: usize = 1000;

/// Whether the lock file at `path` is locked only shared (by probes), not by a driver: a
/// shared lock can be had on it now (let go at once).
fn only_shared(path: &Path) -> bool {
    super::materialize::derived_file()
        .read(true)
        .open(path)
        .is_ok_and(|f| f.try_lock_shared().is_ok())
}

/// The most of a lock file read for its holder: a holder is a line of JSON of some 200
/// bytes, and a file planted larger (a sparse 100 GB one) was read whole by every probe.
const HOLDER_BYTES: u64 = 64 * 1024;

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.rewind().ok()?;
    Read::by_ref(file)
        .take(HOLDER_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    serde_json::from_str(&text).ok()
}

impl DriverLock {
    /// Take the run, or say who has it.
    /// Taking it also checks that the run's derived folders that exist are real folders (the
    /// holder writes there): a home with a linked `runs/`, `runs/<id>/`, `work/` or
    /// `checkpoints/` is refused before anything is recorded.
    pub fn acquire(home: &Path, run_id: &str, holder: &Holder) -> Result<DriverLock, LockError> {
        super::materialize::check_run_folders(home, run_id).map_err(LockError::UnsafeFolder)?;
        let path = lock_path(home, run_id)?;
        let mut reopens = 0;
        let mut probed = 0;
        let mut unnamed = 0;
        let (mut file, made_anew) = loop {
            let (mut file, made_anew) = open(&path)?;
            match file.try_lock() {
                Ok(()) => {}
                // A reader's `probe` holds a shared lock for an instant: no driver holds the
                // run if a shared lock can be had now. Try again rather than refuse as held.
                Err(TryLockError::WouldBlock) if probed < PROBE_RETRIES && only_shared(&path) => {
                    probed += 1;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    continue;
                }
                // Held: by whom, as its note says. The holder writes the note just after it
                // takes the lock (into an empty file, for a run's first lock here), so a note
                // still empty or half written is read again, the lock tried again with it
                // (the holder may have let go meanwhile), for a moment; only then is the
                // holder said to be unknown. Before, a second `step complete` racing the first
                // read the note in that instant and said "held by another process".
                Err(TryLockError::WouldBlock) => match read_holder(&mut file) {
                    Some(holder) => {
                        return Err(LockError::Held {
                            run_id: run_id.to_string(),
                            holder: Some(holder),
                        });
                    }
                    None if unnamed < NOTE_RETRIES => {
                        unnamed += 1;
                        std::thread::sleep(std::time::Duration::from_millis(1));
                        continue;
                    }
                    None => {
                        return Err(LockError::Held {
                            run_id: run_id.to_string(),
                            holder: Some(Holder::unnamed()),
                        });
                    }
                },
                Err(TryLockError::Error(error)) => {
                    return Err(LockError::Io {
                        path: path.display().to_string(),
                        error,
                    });
                }
            }
            // Removed (or replaced) between our open and our lock: a lock on a file nobody
            // else can open excludes nobody. Take it again on what the path names now.
            if still_named(&file, &path) {
                break (file, made_anew);
            }
            reopens += 1;
            if reopens == REOPENS {
                return Err(LockError::Io {
                    path: path.display().to_string(),
                    error: std::io::Error::other("the lock file keeps being replaced"),
                });
            }
        };
        let text = serde_json::to_string(holder).expect("holder serialises");
        let io = |error| LockError::Io {
            path: path.display().to_string(),
            error,
        };
        // A lock file made before lock files were made owner-only is made so now (best
        // effort: another user's file is left as it is).
        if file.metadata().is_ok_and(|m| {
            use std::os::unix::fs::PermissionsExt;
            m.permissions().mode() & 0o077 != 0
        }) {
            use std::os::unix::fs::PermissionsExt;
            let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        Ok(DriverLock {
            _file: file,
            path,
            made_anew,
        })
    }

    /// Take the run as `acquire` does; but a lock held by a process that `stale` says is
    /// fenced off (its driver lease lapsed: frozen by SIGSTOP or Ctrl-Z, or cut off from the
    /// log) is broken: its file is removed (if it still names that holder) and the lock taken
    /// on a new one. The frozen process keeps its lock on a file nobody can open any more, and
    /// the epoch of the run's driver lease fences whatever it would append once it wakes. The
    /// lock taken so counts as not made anew (its file was replaced knowingly, not deleted:
    /// `live_recorded_driver` would name the frozen driver, alive, and refuse).
    pub fn take_over(
        home: &Path,
        run_id: &str,
        holder: &Holder,
        mut stale: impl FnMut(&Holder) -> bool,
    ) -> Result<DriverLock, LockError> {
        let mut broke = false;
        for _ in 0..REOPENS {
            match DriverLock::acquire(home, run_id, holder) {
                Ok(mut lock) => {
                    lock.made_anew &= !broke;
                    return Ok(lock);
                }
                Err(LockError::Held {
                    holder: Some(old), ..
                }) if old.pid != 0 && old.pid != holder.pid && stale(&old) => {
                    let path = lock_path(home, run_id)?;
                    let named = super::materialize::derived_file()
                        .read(true)
                        .open(&path)
                        .ok()
                        .and_then(|mut f| read_holder(&mut f));
                    if named.as_ref() == Some(&old) {
                        let _ = std::fs::remove_file(&path);
                        broke = true;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        DriverLock::acquire(home, run_id, holder)
    }

    /// Whether taking the lock made its file (see `live_recorded_driver`).
    pub fn made_anew(&self) -> bool {
        self.made_anew
    }

    /// Let go of a lock taken on a file this call made, removing the file (if it is still
    /// the one locked): the next process makes a new one again, and so makes the same checks.
    pub fn give_back(self) {
        if self.made_anew && still_named(&self._file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Whether the run has a lock file in `home` (held or not): a lock taken now would not
    /// be made anew (`made_anew`), so the log's driver is not asked (`live_recorded_driver`).
    pub fn has_file(home: &Path, run_id: &str) -> bool {
        lock_path(home, run_id).is_ok_and(|p| p.exists())
    }

    /// Who drives the run now, if anyone (a live process holding the lock).
    pub fn probe(home: &Path, run_id: &str) -> Option<Holder> {
        let path = lock_path(home, run_id).ok()?;
        let mut file = super::materialize::derived_file()
            .read(true)
            .open(&path)
            .ok()?;
        match file.try_lock_shared() {
            Ok(()) => None,
            Err(_) => Some(read_holder(&mut file).unwrap_or_else(Holder::unnamed)),
        }
    }
}

/// The lock files of the finished run `run_id` that `gc` removes (`locks/RUN.lock`,
/// `locks/RUN.pgids`, those there), judged once for `gc` and `gc --dry-run` alike: none while
/// its notes name a group of the run still running (the next driver ends it by them) or a
/// process holds the run (a driver, a `resume` starting). Refused (`Err`, saying why) where
/// the lock file or its folder is a link or not what cortex makes there: they are removed
/// only under the run's lock, which is taken through no link (`check_lock_place`), so `gc`
/// keeps both. Before, the dry run judged by a probe of its own, and listed as "would remove"
/// the two files of a run whose lock file was a link, which `gc` then kept.
fn removable_lock_files(home: &Path, run_id: &str) -> Result<Vec<PathBuf>, LockError> {
    let lock = lock_path(home, run_id)?;
    let notes = super::inflight_notes(home, run_id).map_err(|error| LockError::Io {
        path: lock_folder(home).display().to_string(),
        error,
    })?;
    let present: Vec<PathBuf> = [&lock, &notes]
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .cloned()
        .collect();
    if present.is_empty() {
        return Ok(present);
    }
    check_lock_place(&lock).map_err(|e| match e {
        LockError::UnsafeFolder(why) => LockError::UnsafeFolder(std::io::Error::other(format!(
            "gc keeps the lock files of run {run_id} ({}): it removes them only holding the run's lock, and {why}",
            present
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        e => e,
    })?;
    if super::inflight::orphans_alive(&notes, run_id) || DriverLock::probe(home, run_id).is_some() {
        return Ok(Vec::new());
    }
    Ok(present)
}

/// Remove the lock file of the finished run `run_id` and the notes of its process groups
/// (`locks/RUN.lock`, `locks/RUN.pgids`), which nothing reads once the run is over: before,
/// they stayed for good, two files a run. Which are removed is `removable_lock_files`'s
/// judgement, the same with `dry_run`, which only leaves them there. The run is taken first,
/// without waiting: a run held meanwhile keeps its files. Returns the files removed (with
/// `dry_run`, those that would be), as paths; nothing when the run is held.
pub fn remove_lock_files(
    home: &Path,
    run_id: &str,
    dry_run: bool,
) -> Result<Vec<PathBuf>, LockError> {
    let files = removable_lock_files(home, run_id)?;
    if dry_run || files.is_empty() {
        return Ok(files);
    }
    let held = match DriverLock::acquire(home, run_id, &Holder::this_process("gc")) {
        Ok(held) => held,
        Err(LockError::Held { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut removed = Vec::new();
    // The notes first, under the lock: a driver taking the run next makes them afresh.
    for notes in files.iter().filter(|f| **f != held.path) {
        match std::fs::remove_file(notes) {
            Ok(()) => removed.push(notes.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(LockError::Io {
                    path: notes.display().to_string(),
                    error,
                });
            }
        }
    }
    // Removed while held, as `give_back` does: a process that opened the file meanwhile
    // finds it no longer named once it locks it, and takes the lock again on a new one. A
    // file the lock made (there was none) is removed unsaid, as the dry run did not list it.
    if still_named(&held._file, &held.path) {
        std::fs::remove_file(&held.path).map_err(|error| LockError::Io {
            path: held.path.display().to_string(),
            error,
        })?;
        if !held.made_anew {
            removed.insert(0, held.path.clone());
        }
    }
    drop(held);
    Ok(removed)
}

/// The driver the log names for the run (`run_started`/`run_resumed`), if it is alive on this
/// host: a process of that pid here that started no later than its session was recorded
/// (a pid the system gave again since started after it). The lock is what excludes a second
/// driver; this is for when its file was deleted (a lock on a deleted file excludes nobody):
/// a driver whose lock file it made itself asks the log before taking over.
///
/// A run whose driver let it go, as its log says (`plan::driver_let_go`: its session ended —
/// paused, stopped, finished —, it was submitted for workers and not taken, it waits on
/// reports or manual starts, or for a worker's tags), has no driver: the pid its log names
/// is not asked about (a long-running process — a worker, `cortex serve` — lives on after it
/// let the run wait; in a copied log it may be anyone's, e.g. pid 1 of a driver that ran in a
/// pid namespace, alive here as another process started earlier). Nor is it where the run's
/// driver lease says who drives it: in a log whose drivers all hold one (`store`, PostgreSQL:
/// `EventStore::drivers_leased`), or for a session a worker began (a worker drives a run
/// only while it holds its driver lease, on any log). Before, a run a worker let wait stayed
/// "held" by that worker's process on its host: `resume` refused it (exit 4), `resume
/// --dry-run` said it held, and `log copy` skipped it as driven, while no lease held it.
pub fn live_recorded_driver(
    store: &dyn crate::store::EventStore,
    state: &crate::decide::RunState,
) -> Option<Holder> {
    if crate::plan::driver_let_go(state) || store.drivers_leased() {
        return None;
    }
    if state
        .driven_by
        .as_deref()
        .is_some_and(|by| by.starts_with("worker:"))
    {
        return None;
    }
    let driver = state.driver.as_ref()?;
    if driver.host != super::hostname() || driver.pid == std::process::id() {
        return None;
    }
    let since = state.session_started_at.as_deref()?;
    let recorded = humantime::parse_rfc3339_weak(since.trim_end_matches('Z')).ok()?;
    let started = super::procinfo::started_at(i32::try_from(driver.pid).ok()?)?;
    // Clock ticks are coarse: a second of slack, far less than any pid takes to come round.
    (started <= recorded + std::time::Duration::from_secs(1)).then(|| Holder {
        pid: driver.pid,
        host: driver.host.clone(),
        actor: "the driver the log names, alive on this host (its lock is in another home, or its lock file was deleted)".to_string(),
        since: since.to_string(),
        // Whether it serves others too is in its (deleted) note only: not signalled.
        shared: true,
    })
}

#[cfg(test)]
mod tests {

    /// A holder known only by its lease (another host or home) is named by its lease's holder
    /// and how its lease stands, never as "process 0".
    #[test]
    fn a_holder_known_by_its_lease_is_not_shown_as_process_0() {
        let by_lease = Holder {
            pid: 0,
            host: "build-7".into(),
            actor: "worker:ci pid 4242".into(),
            since: "its lease has 1500 ms left".into(),
            shared: false,
        };
        assert_eq!(
            by_lease.to_string(),
            "worker:ci pid 4242 on build-7 (its lease has 1500 ms left)"
        );
        let unread = Holder {
            pid: 0,
            host: "?".into(),
            actor: "?".into(),
            since: "?".into(),
            shared: false,
        };
        assert!(
            unread
                .to_string()
                .starts_with("another process, whose lock file does not say which"),
            "{unread}"
        );
    }
    use super::*;

    /// An id that is no run id names no lock and no notes: nothing is taken, made or removed
    /// outside `locks/` (before, `gc` removed any `X.lock` and `X.pgids` an id named).
    #[test]
    fn no_lock_is_taken_or_removed_for_an_id_that_is_no_run_id() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        for file in ["victim.lock", "victim.pgids"] {
            std::fs::write(root.path().join(file), "keep").unwrap();
        }
        let id = "../../victim";
        let taken = DriverLock::acquire(&home, id, &me());
        assert!(taken.is_err(), "{taken:?}");
        assert!(DriverLock::probe(&home, id).is_none());
        assert!(!DriverLock::has_file(&home, id));
        let removed = remove_lock_files(&home, id, false);
        assert!(
            removed
                .as_ref()
                .is_err_and(|e| e.to_string().contains("is no run id")),
            "{removed:?}"
        );
        for file in ["victim.lock", "victim.pgids"] {
            assert!(root.path().join(file).exists(), "{file} was removed");
        }
        assert!(super::super::inflight_notes(&home, id).is_err());
    }

    fn me() -> Holder {
        Holder {
            pid: std::process::id(),
            host: "h".into(),
            actor: "t".into(),
            since: "now".into(),
            shared: false,
        }
    }

    #[test]
    fn the_lock_is_outside_the_derived_runs_folder() {
        let home = tempfile::tempdir().unwrap();
        let lock = DriverLock::acquire(home.path(), "000000000000000000000000R1", &me()).unwrap();
        // Everything derived may go: the run stays held.
        let _ = std::fs::remove_dir_all(home.path().join("runs"));
        assert!(DriverLock::probe(home.path(), "000000000000000000000000R1").is_some());
        assert!(matches!(
            DriverLock::acquire(home.path(), "000000000000000000000000R1", &me()),
            Err(LockError::Held { .. })
        ));
        drop(lock);
        assert!(DriverLock::probe(home.path(), "000000000000000000000000R1").is_none());
    }

    /// A reader probing the run (a shared lock for an instant) while a driver takes it does
    /// not make the driver's take fail as held: the take goes on once the probe let go. A
    /// driver's own lock still refuses a second one.
    #[test]
    fn a_probe_at_the_instant_a_driver_takes_the_run_does_not_refuse_the_driver() {
        let home = tempfile::tempdir().unwrap();
        let path = lock_path(home.path(), "000000000000000000000000R3").unwrap();
        let (probe, _) = open(&path).unwrap();
        probe.try_lock_shared().unwrap();
        let both = std::sync::Arc::new(std::sync::Barrier::new(2));
        let taking = {
            let home = home.path().to_path_buf();
            let both = both.clone();
            std::thread::spawn(move || {
                both.wait();
                DriverLock::acquire(&home, "000000000000000000000000R3", &me()).map(|_| ())
            })
        };
        // The take and the probe's end race: either way the take succeeds.
        both.wait();
        drop(probe);
        assert!(taking.join().unwrap().is_ok(), "refused because of a probe");
        let lock = DriverLock::acquire(home.path(), "000000000000000000000000R3", &me()).unwrap();
        assert!(matches!(
            DriverLock::acquire(home.path(), "000000000000000000000000R3", &me()),
            Err(LockError::Held { .. })
        ));
        drop(lock);
    }

    /// A second process racing the first for a run read the first's note in the instant
    /// between its lock and its note, found it empty and said "held by another process"
    /// without naming it. The note is read again for a moment: the holder is named.
    #[test]
    fn a_holder_that_has_not_written_its_note_yet_is_named_once_it_has() {
        let home = tempfile::tempdir().unwrap();
        let path = lock_path(home.path(), "000000000000000000000000R7").unwrap();
        let (mut held, _) = open(&path).unwrap();
        held.lock().unwrap();
        let writing = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            held.write_all(serde_json::to_string(&me()).unwrap().as_bytes())
                .unwrap();
            held
        });
        let err =
            DriverLock::acquire(home.path(), "000000000000000000000000R7", &me()).unwrap_err();
        let _held = writing.join().unwrap();
        match err {
            LockError::Held {
                holder: Some(holder),
                ..
            } => assert_eq!(holder, me()),
            other => panic!("{other}"),
        }
    }

    /// A holder that never writes a note (not cortex) is said to be unknown, with why and
    /// what to do, after a moment.
    #[test]
    fn a_holder_without_a_note_is_said_to_be_unknown_and_why() {
        let home = tempfile::tempdir().unwrap();
        let path = lock_path(home.path(), "000000000000000000000000R8").unwrap();
        let (held, _) = open(&path).unwrap();
        held.lock().unwrap();
        let err =
            DriverLock::acquire(home.path(), "000000000000000000000000R8", &me()).unwrap_err();
        let said = err.to_string();
        assert!(said.contains("does not say which"), "{said}");
        assert!(said.contains("try again in a moment"), "{said}");
        drop(held);
    }

    #[test]
    fn a_lock_file_no_longer_named_by_its_path_is_noticed() {
        let home = tempfile::tempdir().unwrap();
        let path = lock_path(home.path(), "000000000000000000000000R2").unwrap();
        let (file, made) = open(&path).unwrap();
        assert!(made && still_named(&file, &path));
        assert!(!open(&path).unwrap().1, "the second open finds it");
        std::fs::remove_file(&path).unwrap();
        assert!(!still_named(&file, &path));
        let _replacement = open(&path).unwrap().0;
        assert!(
            !still_named(&file, &path),
            "a new file at the same path is another lock"
        );
    }

    #[test]
    fn a_home_with_a_linked_locks_folder_is_refused_and_no_lock_is_made_through_it() {
        let home = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), home.path().join("locks")).unwrap();
        let err =
            DriverLock::acquire(home.path(), "000000000000000000000000R4", &me()).unwrap_err();
        assert!(matches!(err, LockError::UnsafeFolder(_)), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_lock_file_planted_huge_is_read_no_further_than_a_holder_can_be() {
        let home = tempfile::tempdir().unwrap();
        let path = lock_path(home.path(), "000000000000000000000000R6").unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = File::create(&path).unwrap();
        file.set_len(100 << 30).unwrap();
        // Locked by someone, so that a probe reads who.
        file.lock().unwrap();
        let holder = DriverLock::probe(home.path(), "000000000000000000000000R6").expect("held");
        assert_eq!(holder.pid, 0, "no holder can be read from it");
    }

    #[test]
    fn a_fifo_in_place_of_a_lock_file_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let path = lock_path(home.path(), "000000000000000000000000R5").unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err =
            DriverLock::acquire(home.path(), "000000000000000000000000R5", &me()).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    /// A link in place of a run's lock file is refused by name, as a bad input (a driver's
    /// exit 2), not met as "cannot lock …: Too many levels of symbolic links"; what it points
    /// to is not touched, and nothing is removed by `gc` without the lock.
    #[test]
    fn a_linked_lock_file_is_refused_by_name_and_its_target_untouched() {
        let home = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let target = elsewhere.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let id = "000000000000000000000000R7";
        let path = lock_path(home.path(), id).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = DriverLock::acquire(home.path(), id, &me()).unwrap_err();
        assert!(matches!(err, LockError::UnsafeFolder(_)), "{err}");
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        for dry_run in [true, false] {
            let err = remove_lock_files(home.path(), id, dry_run).unwrap_err();
            assert!(err.to_string().contains("gc keeps the lock files"), "{err}");
        }
        assert!(path.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }

    #[test]
    fn a_home_with_a_linked_runs_folder_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), home.path().join("runs")).unwrap();
        let err =
            DriverLock::acquire(home.path(), "000000000000000000000000R3", &me()).unwrap_err();
        assert!(matches!(err, LockError::UnsafeFolder(_)), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }

    /// A lock held by a driver whose lease lapsed (`stale`) is broken and taken on a new
    /// file, counted as not made anew; one held by a driver not stale stays held, and a
    /// lock file naming another holder than the stale one is left alone.
    #[test]
    fn a_stale_drivers_lock_is_taken_over_and_a_live_ones_is_not() {
        let home = tempfile::tempdir().unwrap();
        let frozen = Holder { pid: 1, ..me() };
        let old = DriverLock::acquire(home.path(), "000000000000000000000000R4", &frozen).unwrap();
        let held =
            DriverLock::take_over(home.path(), "000000000000000000000000R4", &me(), |_| false);
        assert!(matches!(held, Err(LockError::Held { .. })));
        let taken = DriverLock::take_over(home.path(), "000000000000000000000000R4", &me(), |h| {
            h == &frozen
        })
        .unwrap();
        assert!(!taken.made_anew());
        assert_eq!(
            DriverLock::probe(home.path(), "000000000000000000000000R4").unwrap(),
            me()
        );
        // The frozen one, woken, holds a lock on a file nobody opens any more.
        drop(old);
        assert_eq!(
            DriverLock::probe(home.path(), "000000000000000000000000R4").unwrap(),
            me()
        );
        drop(taken);
        assert!(DriverLock::probe(home.path(), "000000000000000000000000R4").is_none());
    }
}
