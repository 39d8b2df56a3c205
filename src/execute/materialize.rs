//! Writing a run's derived files under `runs/<run-id>/` from its state: all of them at once, or
//! those the latest events changed, behind a driver on a thread of its own; and the rule for
//! every derived file and folder cortex writes: never through a symbolic link.
//!
//! A link in `runs/` would let whoever planted it make cortex write (or, for the notes of
//! process groups in flight, read and act on) a file elsewhere; so derived folders are checked
//! to be real folders as they are made, and derived files are opened with `O_NOFOLLOW`.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crate::decide::RunState;
use crate::event::Recorded;
use crate::project::{FileWrite, RunFile, changed_files, run_files};

/// `O_NOFOLLOW`: opening a path whose last component is a symbolic link fails.
fn no_follow() -> i32 {
    nix::fcntl::OFlag::O_NOFOLLOW.bits()
}

/// Options to open a derived file without following a link, and without waiting: a FIFO
/// planted in a file's place would block `open` until someone opens its other end
/// (`O_NONBLOCK` changes nothing for a regular file).
pub(crate) fn derived_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.custom_flags(no_follow() | nix::fcntl::OFlag::O_NONBLOCK.bits());
    options
}

/// A file opened as a derived one, if it is a regular file (not a FIFO, a device or a socket
/// planted in its place, which would block reads or answer forever).
pub(crate) fn regular(file: std::fs::File) -> std::io::Result<std::fs::File> {
    if file.metadata()?.file_type().is_file() {
        Ok(file)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (something else was put in place of a file cortex writes)",
        ))
    }
}

/// Open a file cortex wrote (derived, or an attempt's log) for reading, refusing a link or
/// anything but a regular file.
pub fn open_derived(path: &Path) -> std::io::Result<std::fs::File> {
    regular(derived_file().read(true).open(path)?)
}

/// Read a derived file, refusing a link or anything but a regular file, and one larger than
/// `limit` bytes (by its size, never reading past it): a file cortex wrote stays far below
/// what it reads it with, and one planted larger (a sparse 100 GB one) was read whole.
pub(crate) fn read_derived(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read;
    let file = open_derived(path)?;
    let too_large = |size: u64| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{size} bytes, more than the {limit} cortex writes there at most"),
        )
    };
    let size = file.metadata()?.len();
    if size > limit {
        return Err(too_large(size));
    }
    let mut text = String::new();
    file.take(limit + 1).read_to_string(&mut text)?;
    if text.len() as u64 > limit {
        return Err(too_large(text.len() as u64));
    }
    Ok(text)
}

/// The folder of the runs' derived files, in the home.
pub const RUNS_FOLDER: &str = "runs";
/// The folder of the attempts' whole outputs, in the home (beside a SQLite log).
pub const LOGS_FOLDER: &str = "logs";

/// The one door from a run id to a path: `run_id` itself when it is a run id
/// (`event::check_run_id`: a ULID, so one path component — never empty, `.` or `..`, never
/// holding `/`), else an error that names it (escaped). Every path cortex makes of a run id —
/// `runs/<id>/` and what is in it, `logs/<id>/`, `locks/<id>.lock` and `.pgids` — is made
/// through it: an id read from a log (which anyone who may insert rows, or hand over a file
/// to copy in, writes) that no check before stopped still never names a path outside its
/// folder.
pub fn run_path_part(run_id: &str) -> std::io::Result<&str> {
    crate::event::check_run_id(run_id).map_err(|bad| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{bad}: cortex makes no path of it"),
        )
    })
}

/// `<home>/<folder>/<run id>` (`folder`: `RUNS_FOLDER`, `LOGS_FOLDER`), through
/// `run_path_part`. Nothing is made.
pub fn run_path(home: &Path, folder: &str, run_id: &str) -> std::io::Result<PathBuf> {
    Ok(home.join(folder).join(run_path_part(run_id)?))
}

/// A run's derived folder, `runs/<run-id>/` or a folder in it (`work`, `checkpoints`), made as
/// needed. Each of them must be a real folder: a symbolic link (or a file) in its place is
/// refused with an error that names it, and nothing is written through it.
pub fn run_folder(home: &Path, run_id: &str, sub: Option<&str>) -> std::io::Result<PathBuf> {
    let mut path = home.to_path_buf();
    for part in [RUNS_FOLDER, run_path_part(run_id)?].into_iter().chain(sub) {
        path.push(part);
        real_folder(&path)?;
    }
    Ok(path)
}

/// A run's folder of attempt logs, `logs/<run-id>/`, made as needed: like the derived folders,
/// each part must be a real folder, never a link.
pub fn logs_folder(home: &Path, run_id: &str) -> std::io::Result<PathBuf> {
    let mut path = home.to_path_buf();
    for part in [LOGS_FOLDER, run_path_part(run_id)?] {
        path.push(part);
        real_folder(&path)?;
    }
    Ok(path)
}

/// Where `cortex serve` keeps the output of the drivers it starts (under the home).
pub const SERVE_DRIVER_LOGS: &str = "serve";
/// Where the TUI keeps the output of the drivers it starts.
pub const TUI_DRIVER_LOGS: &str = "tui";
/// Where the scheduler keeps the output of the runs it starts.
pub const SCHEDULE_DRIVER_LOGS: &str = "schedule";
/// Every folder of background drivers' output: files of their own, which `gc` ages out.
pub const DRIVER_LOG_FOLDERS: [&str; 3] =
    [SERVE_DRIVER_LOGS, TUI_DRIVER_LOGS, SCHEDULE_DRIVER_LOGS];

/// Open the output log of a background driver (`<home>/serve/…`, `<home>/tui/…`,
/// `<home>/schedule/…`) to append to, made as needed. Its folder must be a real folder and the
/// file a regular one, never a link: a link there (the schedule's names are predictable)
/// would have the driver's output appended to whatever it points at, and a FIFO would block
/// the scheduler or the server in `open` for good.
pub fn open_driver_log(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        if let Some(home) = dir.parent() {
            std::fs::create_dir_all(home)?;
        }
        real_folder(dir)?;
    }
    // Said plainly first (the open below refuses the same, as ELOOP or ENXIO); the open
    // stays the guard against a swap in between.
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_file() => {
            return Err(std::io::Error::other(format!(
                "{} is {}: cortex appends a background driver's output there and writes through \
                 nothing else; remove it",
                path.display(),
                if meta.file_type().is_symlink() {
                    "a symbolic link"
                } else {
                    "not a regular file"
                }
            )));
        }
        _ => {}
    }
    let file = regular(derived_file().create(true).append(true).open(path)?)?;
    // A shared lock on the open file, inherited by the driver it becomes the output of (its
    // stdout and stderr share this open file): held while that driver lives, so `gc` can tell
    // a live driver's output (`driver_log_in_use`) from one left behind, whatever its age.
    let _ = file.lock_shared();
    Ok(file)
}

/// Whether a live background driver still writes to the output file at `path`: it holds the
/// shared lock `open_driver_log` took. Unreadable: said to be in use (left alone).
pub fn driver_log_in_use(path: &Path) -> bool {
    match std::fs::File::open(path) {
        Ok(file) => matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => true,
    }
}

/// How much of the end of a background driver's log is read for the error it printed (its
/// last lines): a driver that ran a step prints the step's output there, which may be any size.
pub const DRIVER_LOG_TAIL: u64 = 64 * 1024;

/// The last `DRIVER_LOG_TAIL` bytes of a background driver's log, as text (a character cut at
/// the start, or bytes that are not UTF-8, replaced), opened as a derived file: never a link,
/// a FIFO or a device, never read whole.
pub fn read_driver_log(path: &Path) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = open_derived(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(DRIVER_LOG_TAIL)))?;
    let mut bytes = Vec::new();
    file.take(DRIVER_LOG_TAIL).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Remove a run's derived files (`runs/<run-id>/`: never the log). Refuses a linked folder, as
/// everything that writes there does; a run without derived files is fine. True if something
/// was removed. With `dry_run`, the same judgement without the removal (true if something
/// would be): before, `gc --dry-run` listed a linked folder the real `gc` then refused.
pub fn remove_run_files(home: &Path, run_id: &str, dry_run: bool) -> std::io::Result<bool> {
    check_run_folders(home, run_id)?;
    let dir = run_path(home, RUNS_FOLDER, run_id)?;
    if dry_run {
        return Ok(std::fs::symlink_metadata(&dir).is_ok());
    }
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Check every derived folder of a run that exists (none is made): what a driver does before
/// it records anything, so that a home with a linked folder is refused up front.
pub fn check_run_folders(home: &Path, run_id: &str) -> std::io::Result<()> {
    let run = run_path(home, RUNS_FOLDER, run_id)?;
    for path in [
        home.join(RUNS_FOLDER),
        run.clone(),
        run.join("work"),
        run.join("checkpoints"),
    ] {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(linked(&path)),
            Ok(meta) if !meta.is_dir() => return Err(not_a_folder(&path)),
            _ => {}
        }
    }
    Ok(())
}

/// Whether `path` is `logs/` or a run's folder in it: attempts' whole output, which the log
/// does not hold and nothing rebuilds (unlike `runs/`).
fn holds_attempt_logs(path: &Path) -> bool {
    let named = |p: Option<&Path>| p.and_then(Path::file_name) == Some(LOGS_FOLDER.as_ref());
    named(Some(path)) || named(path.parent())
}

/// A folder cortex writes in (a run's derived files, attempts' whole output) that is a
/// symbolic link or no folder at all: what every check of those folders refuses, as an
/// `io::Error` that carries it (`unfit_folder` finds it again), so that whoever says it can
/// say its fix apart from its reason — the fix its kind calls for, never another (a link is
/// put back as the folder, a file at a folder's path moved aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfitFolder {
    pub path: std::path::PathBuf,
    /// A symbolic link; else something that is no folder (a file, a FIFO).
    pub linked: bool,
}

impl UnfitFolder {
    /// Whether it is `logs/` or a run's folder in it (`holds_attempt_logs`).
    fn attempt_logs(&self) -> bool {
        holds_attempt_logs(&self.path)
    }

    /// What is wrong, naming the folder.
    pub fn reason(&self) -> String {
        let path = self.path.display();
        match (self.linked, self.attempt_logs()) {
            (true, true) => format!(
                "{path} is a symbolic link: cortex neither writes nor reads attempts' output through a link"
            ),
            (true, false) => format!(
                "{path} is a symbolic link: cortex never writes a run's derived files through a link"
            ),
            (false, _) => format!("{path} is not a folder"),
        }
    }

    /// What to do about it.
    pub fn fix(&self) -> String {
        match (self.linked, self.attempt_logs()) {
            (true, true) => "put the folder it points to in its place (`mv`; its files are the attempts' whole output, which the log does not hold and nothing rebuilds: keep them)".into(),
            (true, false) => "remove it (the files are rebuilt from the log)".into(),
            (false, true) => "move it aside (cortex keeps attempts' whole output in a folder there, which nothing rebuilds)".into(),
            (false, false) => "remove it (a run's derived files are rebuilt from the log)".into(),
        }
    }
}

impl std::fmt::Display for UnfitFolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let between = if self.linked { "; " } else { ": " };
        write!(f, "{}{between}{}", self.reason(), self.fix())
    }
}

impl std::error::Error for UnfitFolder {}

/// The unfit folder `e` says, if it says one (`linked`, `not_a_folder`).
pub fn unfit_folder(e: &std::io::Error) -> Option<&UnfitFolder> {
    e.get_ref()?.downcast_ref::<UnfitFolder>()
}

fn linked(path: &Path) -> std::io::Error {
    std::io::Error::other(UnfitFolder {
        path: path.to_path_buf(),
        linked: true,
    })
}

fn not_a_folder(path: &Path) -> std::io::Error {
    std::io::Error::other(UnfitFolder {
        path: path.to_path_buf(),
        linked: false,
    })
}

/// `logs/` and `logs/<run>/` of the attempt file `path` (`attempt_file_path`) are real folders
/// where they exist: the rule the writer holds them to (`logs_folder`), held by every reader
/// too (`cortex logs`, `log verify`, `log copy`), which followed a linked folder.
pub fn check_logs_folders(path: &Path) -> std::io::Result<()> {
    for folder in [path.parent(), path.parent().and_then(Path::parent)]
        .into_iter()
        .flatten()
    {
        match std::fs::symlink_metadata(folder) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(linked(folder)),
            Ok(meta) if !meta.is_dir() => return Err(not_a_folder(folder)),
            _ => {}
        }
    }
    Ok(())
}

/// What is at the path of an attempt's file that cannot be opened as one: a link, a FIFO, a
/// folder, …, or a linked folder above it; None where nothing is.
pub fn what_is_at(path: &Path) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    if let Err(e) = check_logs_folders(path) {
        return Some(e.to_string());
    }
    let kind = std::fs::symlink_metadata(path).ok()?.file_type();
    let what = if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        return None;
    };
    Some(format!(
        "{} is {what}, not a file: cortex reads no output through it",
        path.display()
    ))
}

/// `path` is a real folder, made if absent.
fn real_folder(path: &Path) -> std::io::Result<()> {
    loop {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(linked(path)),
            Ok(meta) if meta.is_dir() => return Ok(()),
            Ok(_) => return Err(not_a_folder(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::create_dir(path) {
                    // Made by another process meanwhile: look again.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    // Named: the error is shown far from here (an attempt that cannot start,
                    // derived files not written), and which folder refused is the point.
                    Err(e) => {
                        return Err(std::io::Error::new(
                            e.kind(),
                            format!("cannot create the folder {}: {e}", path.display()),
                        ));
                    }
                    Ok(()) => return Ok(()),
                }
            }
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("cannot look at {}: {e}", path.display()),
                ));
            }
        }
    }
}

/// Write every derived file of the run; stale checkpoint files (after `--from` or a rollback)
/// are removed.
pub fn materialize(home: &Path, state: &RunState) -> std::io::Result<()> {
    let checkpoints = run_folder(home, &state.run_id, Some("checkpoints"))?;
    let files = run_files(state);
    let keep: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for entry in std::fs::read_dir(&checkpoints)?.flatten() {
        let rel = format!("checkpoints/{}", entry.file_name().to_string_lossy());
        if !keep.contains(&rel.as_str()) {
            std::fs::remove_file(entry.path())?;
        }
    }
    write_all(&run_path(home, RUNS_FOLDER, &state.run_id)?, &files)
}

/// Write the files that `events` (just appended and folded into `state`) changed, and wait for
/// them: what an operator's single action needs, at the cost of what it changed, not of the
/// whole run. Returns what failed.
pub fn write_changes(home: &Path, state: &RunState, events: &[Recorded]) -> Vec<String> {
    let mut writer = WriteBehind::default();
    writer.changes(home, state, events);
    writer.finish()
}

/// Each whole file goes to a temporary name and is renamed, so a reader never sees half of one
/// (a rename replaces a link at the final name rather than following it); a line is added to
/// its file in place. No fsync: these files are rebuilt from the log whenever they are lost.
fn write_all(dir: &Path, files: &[RunFile]) -> std::io::Result<()> {
    for file in files {
        let path = dir.join(&file.path);
        match file.write {
            FileWrite::Whole => {
                let mut tmp = path.clone().into_os_string();
                tmp.push(".tmp");
                derived_file()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&tmp)?
                    .write_all(file.contents.as_bytes())?;
                std::fs::rename(&tmp, &path)?;
            }
            FileWrite::Line { line } => add_line(&path, line, &file.contents)?,
        }
    }
    Ok(())
}

/// Add lines up to number `number` (from 1; `text` is one line or several in order, each
/// ending with `\n`) at the end of the JSON Lines file at `path`, leaving out those there
/// already: a driver catching up with an operator's events writes the lines that the
/// operator's process wrote. Under an exclusive lock on the file, so that two processes never
/// interleave. The lines' own count decides: the file's last line holds its number
/// (`"checkpoint"`); a line numbered at or below it is not added again.
fn add_line(path: &Path, number: usize, text: &str) -> std::io::Result<()> {
    let mut file = derived_file()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    file.lock()?;
    let Some(last) = last_line_number(&mut file)? else {
        return file.write_all(text.as_bytes());
    };
    if last >= number {
        return Ok(());
    }
    // Some of the lines may be there: only those after the file's last one are added.
    let mut rest = text;
    while let Some(line) = rest.split_inclusive('\n').next() {
        match line_number(line.trim_end_matches('\n').as_bytes()) {
            Some(n) if n <= last => rest = &rest[line.len()..],
            _ => break,
        }
    }
    file.write_all(rest.as_bytes())
}

/// The `"checkpoint"` number of the last line of a JSON Lines file, if any. Reads the file's
/// end only (growing the window until a whole line is in it). A last line cut short (its
/// writer died mid-write: no `\n` at its end) is removed first.
fn last_line_number(file: &mut std::fs::File) -> std::io::Result<Option<usize>> {
    use std::os::unix::fs::FileExt;
    let mut len = file.metadata()?.len();
    let mut window: u64 = 1024;
    loop {
        let start = len.saturating_sub(window);
        let mut tail = vec![0; (len - start) as usize];
        file.read_exact_at(&mut tail, start)?;
        if !tail.is_empty() && !tail.ends_with(b"\n") {
            // Cut back to the end of the last whole line.
            match tail.iter().rposition(|&b| b == b'\n') {
                Some(at) => len = start + at as u64 + 1,
                None if start == 0 => len = 0,
                None => {
                    window = window.saturating_mul(4);
                    continue;
                }
            }
            file.set_len(len)?;
            window = 1024;
            continue;
        }
        // The last line: after the newline before the final one.
        let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
        match body.iter().rposition(|&b| b == b'\n') {
            Some(at) => return Ok(line_number(&body[at + 1..])),
            None if start == 0 => return Ok(line_number(body)),
            None => window = window.saturating_mul(4),
        }
    }
}

/// The `"checkpoint"` number of one line. The lines cortex writes begin with it (the keys of
/// a JSON object are written in order), so that is read without parsing the rest; anything
/// else is parsed.
fn line_number(line: &[u8]) -> Option<usize> {
    if let Some(rest) = line.strip_prefix(b"{\"checkpoint\":") {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && rest.get(digits) == Some(&b',') {
            return std::str::from_utf8(&rest[..digits]).ok()?.parse().ok();
        }
    }
    let value: serde_json::Value = serde_json::from_slice(line).ok()?;
    value.get("checkpoint")?.as_u64().map(|n| n as usize)
}

/// Whether the run's checkpoints file holds exactly lines 1..=`count`, in order: lines are only
/// ever added with a number above the last one, so as many lines as checkpoints with the last
/// one numbered `count` means none is missing. A missing or unreadable file is not exact
/// (unless the run has no checkpoint and there is no file).
pub fn checkpoints_exact(home: &Path, run_id: &str, count: usize) -> bool {
    let Ok(dir) = run_path(home, RUNS_FOLDER, run_id) else {
        return false;
    };
    let path = dir.join(crate::project::CHECKPOINTS_FILE);
    let Ok(mut file) = derived_file().read(true).open(&path) else {
        return count == 0;
    };
    // Read in pieces, keeping only the line being read: the file of a long run holds a line
    // per checkpoint, and only their number and the last one matter.
    let mut buf = vec![0u8; 64 * 1024];
    let (mut lines, mut last, mut current) = (0usize, Vec::new(), Vec::new());
    loop {
        let n = match std::io::Read::read(&mut file, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        for piece in buf[..n].split_inclusive(|&b| b == b'\n') {
            match piece.strip_suffix(b"\n") {
                Some(end) => {
                    current.extend_from_slice(end);
                    lines += 1;
                    last = std::mem::take(&mut current);
                }
                None => current.extend_from_slice(piece),
            }
        }
    }
    // A last line without its line end was cut short.
    current.is_empty() && lines == count && (count == 0 || line_number(&last) == Some(count))
}

/// Make the run's folders (refusing links), then write `files` into them.
fn write_run(home: &Path, run_id: &str, files: &[RunFile]) -> std::io::Result<()> {
    run_folder(home, run_id, Some("checkpoints"))?;
    write_all(&run_path(home, RUNS_FOLDER, run_id)?, files)
}

/// Write a batch of jobs queued one by one as few writes as they amount to: the folders of a
/// run checked once, a whole file written once (its last contents: each replaced the one
/// before), and the lines for one file added under one lock, in the order they were queued.
fn write_batch(jobs: Vec<Job>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut jobs = jobs.into_iter().peekable();
    while let Some((home, run_id, mut files)) = jobs.next() {
        // The jobs that follow for the same run, in order.
        while let Some((_, _, more)) = jobs.next_if(|(h, r, _)| *h == home && *r == run_id) {
            files.extend(more);
        }
        if let Err(e) = write_run(&home, &run_id, &coalesce(files)) {
            problems.push(e.to_string());
        }
    }
    problems
}

/// The files of a batch with each whole file once (where it came last, with its last
/// contents) and the lines of each file joined into one write (where its first line came).
fn coalesce(files: Vec<RunFile>) -> Vec<RunFile> {
    let mut out: Vec<RunFile> = Vec::with_capacity(files.len());
    for file in files {
        match file.write {
            FileWrite::Whole => {
                out.retain(|f| !(f.path == file.path && f.write == FileWrite::Whole));
                out.push(file);
            }
            FileWrite::Line { line } => {
                match out
                    .iter_mut()
                    .find(|f| f.path == file.path && matches!(f.write, FileWrite::Line { .. }))
                {
                    // Lines are queued in their order: this one follows those joined so far.
                    Some(joined) => {
                        joined.contents.push_str(&file.contents);
                        joined.write = FileWrite::Line { line };
                    }
                    None => out.push(file),
                }
            }
        }
    }
    out
}

/// Derived files written behind a driver, on a thread of their own, so that the driver never
/// waits for the file system between steps (creating a checkpoint file was a large part of a
/// short step). The contents are computed by the driver from the state it has; the thread only
/// writes them, in the order given. `finish` waits for every write and returns what failed.
/// The files are a cache of the log: a crash before they are written loses nothing.
///
/// Batched: the thread is woken by the first job, writes it, then lets jobs gather for
/// `GATHER` before it writes the next batch (the driver's queueing wakes nobody meanwhile).
/// A run of short steps therefore costs the writer one wake-up and one write per file per
/// `GATHER`, not per step, and a derived file is at most `GATHER` behind the log while the
/// driver runs; `finish` (a pause, a stop, the end) writes what is left at once.
#[derive(Default)]
pub struct WriteBehind {
    shared: Option<std::sync::Arc<Gathered>>,
    worker: Option<JoinHandle<Vec<String>>>,
    errors: Option<Vec<String>>,
}

/// Files to write for a run: the home, the run id and the files.
type Job = (PathBuf, String, Vec<RunFile>);

/// How long the writer lets jobs gather after writing a batch.
const GATHER: std::time::Duration = std::time::Duration::from_millis(50);

/// The jobs queued for the writer, and whether it waits for one (then queueing wakes it).
#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    idle: bool,
    closed: bool,
}

#[derive(Default)]
struct Gathered {
    queue: std::sync::Mutex<Queue>,
    wake: std::sync::Condvar,
}

impl Gathered {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A writer that panicked holding the lock left a queue that is still whole.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The writer's loop: wait for a job, write everything queued, let more gather.
    fn write_until_closed(&self) -> Vec<String> {
        let mut problems = Vec::new();
        loop {
            let batch = {
                let mut queue = self.lock();
                while queue.jobs.is_empty() && !queue.closed {
                    queue.idle = true;
                    queue = self.wake.wait(queue).unwrap_or_else(|e| e.into_inner());
                }
                queue.idle = false;
                if queue.jobs.is_empty() {
                    return problems;
                }
                std::mem::take(&mut queue.jobs)
            };
            problems.extend(write_batch(batch));
            let queue = self.lock();
            if !queue.closed {
                // Woken early only by `finish`: queueing does not notify a writer that is not idle.
                drop(
                    self.wake
                        .wait_timeout_while(queue, GATHER, |q| !q.closed)
                        .unwrap_or_else(|e| e.into_inner()),
                );
            }
        }
    }
}

impl WriteBehind {
    /// Queue the files `events` (just folded into `state`) changed.
    pub fn changes(&mut self, home: &Path, state: &RunState, events: &[Recorded]) {
        match changed_files(state, events) {
            // Stale checkpoints must go too: rare (a rollback or `--from`), done in place.
            None => {
                // After everything queued, not beside it.
                let mut earlier = Vec::new();
                self.finish_into(&mut earlier);
                self.pending_errors().extend(earlier);
                if let Err(e) = materialize(home, state) {
                    self.failed(e);
                }
            }
            Some(files) if files.is_empty() => {}
            Some(files) => self.queue(home.to_path_buf(), state.run_id.clone(), files),
        }
    }

    fn queue(&mut self, home: PathBuf, run_id: String, files: Vec<RunFile>) {
        if self.worker.as_ref().is_some_and(|w| w.is_finished()) {
            // The writer is gone (it panicked): write here.
            let mut problems = Vec::new();
            self.finish_into(&mut problems);
            self.pending_errors().extend(problems);
            if let Err(e) = write_run(&home, &run_id, &coalesce(files)) {
                self.failed(e);
            }
            return;
        }
        let shared = match &self.shared {
            Some(shared) => shared.clone(),
            None => {
                let shared = std::sync::Arc::new(Gathered::default());
                let writer = shared.clone();
                match super::thread::spawn("to write a run's files", move || {
                    writer.write_until_closed()
                }) {
                    Ok(worker) => self.worker = Some(worker),
                    // No thread for the writer (`ulimit -u`): written here, as when it is gone.
                    Err(_) => {
                        if let Err(e) = write_run(&home, &run_id, &coalesce(files)) {
                            self.failed(e);
                        }
                        return;
                    }
                }
                self.shared = Some(shared.clone());
                shared
            }
        };
        let mut queue = shared.lock();
        queue.jobs.push((home, run_id, files));
        if queue.idle {
            queue.idle = false;
            shared.wake.notify_one();
        }
    }

    fn failed(&mut self, e: std::io::Error) {
        self.pending_errors().push(e.to_string());
    }

    fn pending_errors(&mut self) -> &mut Vec<String> {
        // Errors found on the caller's side wait with the writer's for `finish`.
        self.errors.get_or_insert_with(Vec::new)
    }

    fn finish_into(&mut self, into: &mut Vec<String>) {
        if let Some(shared) = self.shared.take() {
            shared.lock().closed = true;
            shared.wake.notify_one();
            let left = match self.worker.take().map(JoinHandle::join) {
                Some(Ok(problems)) => {
                    into.extend(problems);
                    Vec::new()
                }
                Some(Err(_)) => {
                    into.push("the derived-file writer failed".into());
                    // What it had not taken yet is written here.
                    std::mem::take(&mut shared.lock().jobs)
                }
                None => Vec::new(),
            };
            into.extend(write_batch(left));
        }
    }

    /// Wait for every queued write; what failed, if anything.
    pub fn finish(&mut self) -> Vec<String> {
        let mut problems = self.errors.take().unwrap_or_default();
        self.finish_into(&mut problems);
        problems
    }
}

impl Drop for WriteBehind {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids a log may hold that name another path: `..` up, an absolute path, nothing, a
    /// separator.
    const PATHS: [&str; 5] = [
        "../victim",
        "/tmp/victim",
        "",
        "..",
        "0000000000000000000000000R/..",
    ];

    /// No path is made of an id that is no run id (`run_path_part`): a derived folder, the
    /// attempts' folder, the removal of a run's files — whatever the id names is left as it is.
    #[test]
    fn no_path_is_made_of_an_id_that_is_no_run_id() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        std::fs::create_dir_all(home.join(RUNS_FOLDER)).unwrap();
        let victim = root.path().join("victim");
        std::fs::create_dir_all(victim.join("sub")).unwrap();
        for id in PATHS {
            assert!(run_path_part(id).is_err(), "{id:?}");
            assert!(run_path(&home, RUNS_FOLDER, id).is_err(), "{id:?}");
            assert!(run_folder(&home, id, Some("work")).is_err(), "{id:?}");
            assert!(logs_folder(&home, id).is_err(), "{id:?}");
            assert!(remove_run_files(&home, id, false).is_err(), "{id:?}");
            assert!(check_run_folders(&home, id).is_err(), "{id:?}");
            assert!(!checkpoints_exact(&home, id, 0), "{id:?}");
        }
        let error = remove_run_files(&home, "../../victim", false).unwrap_err();
        assert!(error.to_string().contains("is no run id"), "{error}");
        assert!(
            victim.join("sub").is_dir(),
            "the folder an id names is left"
        );
        assert!(!home.join(LOGS_FOLDER).exists());
        let id = "0000000000000000000000000R";
        assert_eq!(run_path_part(id).unwrap(), id);
        assert_eq!(
            run_folder(&home, id, None).unwrap(),
            home.join(RUNS_FOLDER).join(id)
        );
    }

    #[test]
    fn a_driver_log_planted_as_a_link_a_fifo_or_in_a_linked_folder_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let target = home.path().join("target.txt");
        std::fs::write(&target, "keep").unwrap();
        let dir = home.path().join("schedule");
        std::fs::create_dir(&dir).unwrap();
        let link = dir.join("a.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_driver_log(&link).is_err());
        assert!(read_driver_log(&link).is_err());
        let fifo = dir.join("b.log");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(open_driver_log(&fifo).is_err());
        assert!(read_driver_log(&fifo).is_err());
        let elsewhere = home.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, home.path().join("serve")).unwrap();
        let error = open_driver_log(&home.path().join("serve").join("c.log")).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        // Made with its folder when absent, and appended to.
        let log = home.path().join("tui").join("d.log");
        open_driver_log(&log).unwrap().write_all(b"one\n").unwrap();
        open_driver_log(&log).unwrap().write_all(b"two\n").unwrap();
        assert_eq!(read_driver_log(&log).unwrap(), "one\ntwo\n");
    }

    #[test]
    fn a_huge_driver_log_is_read_by_its_tail_only() {
        let home = tempfile::tempdir().unwrap();
        let log = home.path().join("schedule").join("big.log");
        let mut file = open_driver_log(&log).unwrap();
        // Sparse: a 1 GiB hole, then the error line.
        file.set_len(1 << 30).unwrap();
        file.write_all(b"error: the last line\n").unwrap();
        let tail = read_driver_log(&log).unwrap();
        assert_eq!(tail.len() as u64, DRIVER_LOG_TAIL);
        assert!(
            tail.ends_with("error: the last line\n"),
            "{}",
            &tail[tail.len() - 40..]
        );
    }

    fn file(path: &str, contents: &str) -> RunFile {
        RunFile {
            path: path.into(),
            contents: contents.into(),
            write: FileWrite::Whole,
        }
    }

    #[test]
    fn queued_files_are_all_written_in_order_by_finish() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_path_buf();
        let run = dir.path().join("runs/0000000000000000000000000R");
        let mut behind = WriteBehind::default();
        for i in 0..50 {
            behind.queue(
                home.clone(),
                "0000000000000000000000000R".into(),
                vec![file("checkpoints/0001-a.json", &i.to_string())],
            );
        }
        behind.queue(
            home,
            "0000000000000000000000000R".into(),
            vec![file("results.json", "{}")],
        );
        assert!(behind.finish().is_empty());
        let last = std::fs::read_to_string(run.join("checkpoints/0001-a.json")).unwrap();
        assert_eq!(last, "49", "the last write wins");
        assert!(run.join("results.json").is_file());
    }

    fn line(n: usize) -> RunFile {
        RunFile {
            path: "checkpoints/c.jsonl".into(),
            contents: format!(
                "{{\"checkpoint\":{n},\"pad\":\"{}\"}}\n",
                "x".repeat(n * 700)
            ),
            write: FileWrite::Line { line: n },
        }
    }

    #[test]
    fn a_line_already_written_by_another_process_is_not_added_twice() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("runs/0000000000000000000000000R");
        for n in [1, 2, 2, 3, 1, 3, 4] {
            write_run(dir.path(), "0000000000000000000000000R", &[line(n)]).unwrap();
        }
        let text = std::fs::read_to_string(run.join("checkpoints/c.jsonl")).unwrap();
        let numbers: Vec<usize> = text
            .lines()
            .map(|l| line_number(l.as_bytes()).unwrap())
            .collect();
        assert_eq!(
            numbers,
            [1, 2, 3, 4],
            "lines longer than the first window too"
        );
    }

    #[test]
    fn a_batch_adds_only_the_lines_the_file_lacks_and_each_whole_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_path_buf();
        // Another process wrote lines 1 and 2 first.
        write_run(&home, "0000000000000000000000000R", &[line(1), line(2)]).unwrap();
        let jobs = (1..=4)
            .map(|n| {
                let files = vec![line(n), file("results.json", &n.to_string())];
                (
                    home.clone(),
                    "0000000000000000000000000R".to_string(),
                    files,
                )
            })
            .collect();
        assert!(write_batch(jobs).is_empty());
        let run = home.join("runs/0000000000000000000000000R");
        let text = std::fs::read_to_string(run.join("checkpoints/c.jsonl")).unwrap();
        let numbers: Vec<usize> = text
            .lines()
            .map(|l| line_number(l.as_bytes()).unwrap())
            .collect();
        assert_eq!(numbers, [1, 2, 3, 4]);
        assert_eq!(
            std::fs::read_to_string(run.join("results.json")).unwrap(),
            "4"
        );
    }

    #[test]
    fn queued_files_are_written_while_the_driver_goes_on_not_only_at_finish() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_path_buf();
        let mut behind = WriteBehind::default();
        let path = home.join("runs/0000000000000000000000000R/checkpoints/c.jsonl");
        for n in 1..=3 {
            behind.queue(
                home.clone(),
                "0000000000000000000000000R".into(),
                vec![line(n)],
            );
            // Each batch lands without `finish`: the writer is not waiting for the end.
            let lines = || {
                std::fs::read_to_string(&path)
                    .map(|t| t.lines().count())
                    .unwrap_or(0)
            };
            let mut waited = 0;
            while lines() < n {
                assert!(waited < 6000, "line {n} was never written");
                std::thread::sleep(std::time::Duration::from_millis(5));
                waited += 5;
            }
        }
        assert!(behind.finish().is_empty());
    }

    #[test]
    fn the_checkpoints_file_is_exact_only_with_every_line_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        let path = run_folder(home, "0000000000000000000000000R", Some("checkpoints"))
            .unwrap()
            .join("checkpoints.jsonl");
        let cp = |n: usize| format!("{{\"checkpoint\":{n},\"step\":\"s\"}}\n");
        assert!(
            checkpoints_exact(home, "0000000000000000000000000R", 0),
            "no file, no checkpoint"
        );
        assert!(
            !checkpoints_exact(home, "0000000000000000000000000R", 1),
            "no file"
        );
        std::fs::write(&path, format!("{}{}{}", cp(1), cp(2), cp(3))).unwrap();
        assert!(checkpoints_exact(home, "0000000000000000000000000R", 3));
        assert!(
            !checkpoints_exact(home, "0000000000000000000000000R", 4),
            "a line not written yet"
        );
        std::fs::write(&path, format!("{}{}", cp(1), cp(3))).unwrap();
        assert!(
            !checkpoints_exact(home, "0000000000000000000000000R", 3),
            "a line left out by a race"
        );
        std::fs::write(&path, format!("{}{}", cp(1), &cp(2)[..5])).unwrap();
        assert!(
            !checkpoints_exact(home, "0000000000000000000000000R", 2),
            "a torn line"
        );
        // Read in pieces: lines across the pieces' edges, and a line longer than a piece.
        let long = format!(
            "{{\"checkpoint\":5001,\"step\":\"{}\"}}\n",
            "s".repeat(200_000)
        );
        let many: String = (1..=5000).map(cp).collect::<String>() + &long;
        std::fs::write(&path, &many).unwrap();
        assert!(checkpoints_exact(home, "0000000000000000000000000R", 5001));
        assert!(!checkpoints_exact(home, "0000000000000000000000000R", 5000));
        std::fs::write(&path, &many[..many.len() - 1]).unwrap();
        assert!(
            !checkpoints_exact(home, "0000000000000000000000000R", 5001),
            "its last line torn"
        );
        assert_eq!(line_number(br#"{"outputs":{},"checkpoint":7}"#), Some(7));
        assert_eq!(line_number(br#"{"checkpoint":12,"x":1}"#), Some(12));
        assert_eq!(line_number(b"{\"checkpoint\":1"), None);
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_replaced_not_continued() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("runs/0000000000000000000000000R");
        write_run(dir.path(), "0000000000000000000000000R", &[line(1)]).unwrap();
        let path = run.join("checkpoints/c.jsonl");
        let whole = std::fs::read_to_string(&path).unwrap();
        let torn = line(2).contents;
        std::fs::write(&path, format!("{whole}{}", &torn[..torn.len() / 2])).unwrap();
        write_run(dir.path(), "0000000000000000000000000R", &[line(2)]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{whole}{torn}")
        );
        // A file holding nothing but a torn line.
        std::fs::write(&path, &torn[..10]).unwrap();
        write_run(dir.path(), "0000000000000000000000000R", &[line(1)]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), line(1).contents);
    }

    #[test]
    fn a_write_that_fails_is_reported_by_finish() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the run's folder should be.
        let run = dir.path().join("runs/0000000000000000000000000R");
        std::fs::create_dir_all(run.parent().unwrap()).unwrap();
        std::fs::write(&run, "not a folder").unwrap();
        let mut behind = WriteBehind::default();
        behind.queue(
            dir.path().into(),
            "0000000000000000000000000R".into(),
            vec![file("results.json", "{}")],
        );
        let problems = behind.finish();
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn a_linked_run_folder_is_refused_and_nothing_is_written_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::create_dir_all(dir.path().join("runs")).unwrap();
        std::os::unix::fs::symlink(
            &elsewhere,
            dir.path().join("runs/0000000000000000000000000R"),
        )
        .unwrap();
        let mut behind = WriteBehind::default();
        behind.queue(
            dir.path().into(),
            "0000000000000000000000000R".into(),
            vec![file("results.json", "{}")],
        );
        let problems = behind.finish();
        assert!(problems[0].contains("symbolic link"), "{problems:?}");
        assert!(check_run_folders(dir.path(), "0000000000000000000000000R").is_err());
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    }

    #[test]
    fn a_linked_derived_file_is_replaced_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.txt");
        std::fs::write(&target, "keep").unwrap();
        let run = run_folder(dir.path(), "0000000000000000000000000R", None).unwrap();
        std::os::unix::fs::symlink(&target, run.join("results.json.tmp")).unwrap();
        assert!(
            write_run(
                dir.path(),
                "0000000000000000000000000R",
                &[file("results.json", "{}")]
            )
            .is_err()
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert!(read_derived(&run.join("results.json.tmp"), 1 << 20).is_err());
    }
}
