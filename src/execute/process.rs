//! Running one shell command (or one program, without a shell) in its own process group,
//! streaming its output, and ending the whole group on timeout or stop (TERM, then KILL after
//! a grace).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::{Redactor, StopFlag};
use crate::event::AttemptEnd;

/// The POSIX shell every command runs in.
const SHELL: &str = "/bin/sh";

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What a process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// Shell text, run with `sh -c`.
    Shell(String),
    /// A program (looked up on `PATH` unless it is a path) and its arguments, run directly:
    /// no shell ever reads them, so an argument is only ever that argument.
    Argv(Vec<String>),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: Program,
    /// Variables added to the inherited environment.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// Written to the command's standard input, which is then closed.
    pub stdin: Option<String>,
    pub timeout: Option<Duration>,
    /// Time between TERM and KILL when the group must end.
    pub grace: Duration,
    /// Secrets scrubbed from every line before it is passed on or kept in the tail (so that
    /// the tail's cut can never leave half a secret).
    pub redactor: Redactor,
    /// Leave the group's other processes running when the command exits (else they are
    /// ended: TERM, then KILL after `grace`).
    pub keep_background: bool,
    /// Keep the raw standard output (before redaction, up to `CAPTURE_BYTES`) in the result,
    /// for a program whose output is its result (Claude Code's JSON).
    pub capture_stdout: bool,
    /// Variables removed from the inherited environment (besides the server's token, which
    /// no command gets): `CLAUDECODE` for Claude Code (`claude::UNSET_ENV`).
    pub unset: &'static [&'static str],
    /// Keep the attempt's whole output in this file (`cortex logs`): the bytes it wrote,
    /// stdout and stderr interleaved line by line as they arrived, secrets replaced. Created
    /// afresh; a link in its place is refused.
    pub log: Option<LogTarget>,
}

/// Where an attempt's whole output goes: the file, and how the log names it.
#[derive(Debug, Clone)]
pub struct LogTarget {
    pub path: PathBuf,
    /// The name recorded in the log (relative to the home).
    pub name: String,
    /// The identity of the home it is written in (`attempt_logs::home_id`).
    pub home: Option<String>,
    /// That home's folder, absolute (`attempt_logs::home_dir`).
    pub home_dir: Option<String>,
    /// The run it is of: its output is shipped into a log that keeps it too
    /// (`output_mirror`, PostgreSQL), under `name`.
    pub run_id: String,
}

/// The whole output being written, with its running size and hash.
struct LogWriter {
    file: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
    hasher: blake3::Hasher,
    bytes: u64,
    name: String,
    home: Option<String>,
    home_dir: Option<String>,
    /// The first write that failed (a full disk): the lines it held are lost from the file,
    /// and the ones after are still written (the disk may have room again).
    failed: Option<String>,
    /// The file system had at least `LOG_RESERVE` free at the last look (at the opening and
    /// after each chunk): below it, lines are counted as lost instead of written, so that the
    /// log's events (on the same disk by default) always have room for the attempt's end.
    room: bool,
    /// The same bytes shipped into the log, where it keeps them (`output_mirror`).
    shipping: Option<super::output_mirror::Shipping>,
}

/// The space an attempt's file never takes: below this much free on its file system, its
/// lines are counted as lost (`lost_bytes`) instead of written, and written again once there
/// is room. A derived file filling the disk left no room to record the step's end (the run
/// ended `interrupted`, its driver gone) nor to resume (DESIGN.md §6).
pub const LOG_RESERVE: u64 = 1 << 20;

/// Whether the file system holding `file` has at least `LOG_RESERVE` free (or cannot say).
#[allow(clippy::unnecessary_cast)] // u64 on Linux, narrower elsewhere
fn has_room(file: &std::fs::File) -> bool {
    nix::sys::statvfs::fstatvfs(file).map_or(true, |fs| {
        (fs.blocks_available() as u64).saturating_mul(fs.fragment_size() as u64) >= LOG_RESERVE
    })
}

impl LogWriter {
    fn open(target: &LogTarget) -> Option<LogWriter> {
        let file = super::materialize::derived_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&target.path)
            .ok()?;
        let room = has_room(&file);
        Some(LogWriter {
            room,
            file: std::io::BufWriter::new(file),
            path: target.path.clone(),
            hasher: blake3::Hasher::new(),
            bytes: 0,
            name: target.name.clone(),
            home: target.home.clone(),
            home_dir: target.home_dir.clone(),
            failed: None,
            shipping: super::output_mirror::Shipping::start(&target.run_id, &target.name),
        })
    }

    /// Lines as the process wrote them (a block of whole lines, or a piece of one): their
    /// bytes and their own line ends.
    fn write(&mut self, raw: &[u8]) {
        // Short of room at the last look: look again (the disk may have room again), once a
        // block while it lasts.
        if !self.room {
            self.room = has_room(self.file.get_ref());
        }
        if !self.room {
            self.failed.get_or_insert_with(|| {
                format!(
                    "No space left on device for it: less than {} MiB was free, which cortex keeps for the log's events",
                    LOG_RESERVE >> 20
                )
            });
        } else if let Err(e) = self.file.write_all(raw) {
            self.failed.get_or_insert_with(|| e.to_string());
        }
        if let Some(shipping) = self.shipping.as_mut() {
            shipping.wrote(raw, self.failed.is_none());
        }
        self.hasher.update(raw);
        self.bytes += raw.len() as u64;
    }

    /// Hand what was written so far to the file, so that a reader (`cortex logs --follow`)
    /// sees the lines as they come: called once per chunk drained from the pipes, not per line.
    fn flush(&mut self) {
        if let Err(e) = self.file.flush() {
            self.failed.get_or_insert_with(|| e.to_string());
        }
        if let Some(shipping) = self.shipping.as_mut() {
            shipping.wrote(&[], self.failed.is_none());
            shipping.flush();
        }
        self.room = has_room(self.file.get_ref());
    }

    /// Whether the file written is still the one at its path: `logs/` removed (or the file
    /// replaced) while the attempt ran leaves bytes nobody can read, which the log must not
    /// vouch for (`log verify` would then fail for good on a file that was never kept).
    fn still_there(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let file = self.file.get_ref();
        file.metadata().is_ok_and(|open| open.nlink() > 0)
            && crate::file_id::still_named(file, &self.path)
    }

    /// What the log records of the file, unless it is gone (then the log says nothing rather
    /// than vouch for a lost file). A file some writes to failed (a full disk: before, it was
    /// not recorded at all, and `cortex logs` called the attempt interrupted) is recorded as
    /// it is on disk — its size and hash read back — with the bytes that did not reach it and
    /// why, so that it is shown as incomplete and `log verify` still checks it.
    fn finish(mut self) -> Option<crate::decide::LoggedOutput> {
        if let Err(e) = self.file.flush() {
            self.failed.get_or_insert_with(|| e.to_string());
        }
        if !self.still_there() {
            return None;
        }
        // The log holds the same bytes before the event vouching for them is appended (or,
        // where it could not, it holds none past what reached it: `log verify` then finds
        // them different, as it would a file).
        if let Some(shipping) = self.shipping.take() {
            shipping.finish(&self.path);
        }
        let (bytes, blake3, lost) = match self.failed.take() {
            None => (
                self.bytes,
                self.hasher.finalize().to_hex().to_string(),
                None,
            ),
            Some(why) => {
                // What the file holds: what was kept, whatever the buffer did on the error.
                let mut hasher = blake3::Hasher::new();
                let file = std::fs::File::open(&self.path).ok()?;
                let kept = std::io::copy(&mut std::io::BufReader::new(file), &mut hasher).ok()?;
                let lost = self.bytes.saturating_sub(kept).max(1);
                (
                    kept,
                    hasher.finalize().to_hex().to_string(),
                    Some((lost, why)),
                )
            }
        };
        Some(crate::decide::LoggedOutput {
            file: self.name,
            bytes,
            blake3,
            home: self.home,
            home_dir: self.home_dir,
            lost,
            path: Some(self.path),
        })
    }
}

/// Raw standard output kept for the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// More than `CAPTURE_BYTES` were printed: `bytes` holds the first of them.
    pub overflowed: bool,
}

/// The most standard output kept by `capture_stdout`.
pub const CAPTURE_BYTES: usize = 16 << 20;

/// How it went.
#[derive(Debug, Clone)]
pub struct ProcessResult {
    pub end: AttemptEnd,
    /// The last `TAIL_BYTES` of stdout and stderr, interleaved as they arrived, redacted.
    pub tail: String,
    /// The command was ended because a stop was requested.
    pub stopped: bool,
    pub elapsed: Duration,
    /// The raw standard output, when the spec asked for it.
    pub stdout: Option<Captured>,
    /// The whole output's file, when the spec asked for one and it could be written.
    pub log: Option<crate::decide::LoggedOutput>,
    /// The command could not start for a reason no retry changes: its directory is missing,
    /// a value is longer than Linux passes, or one holds a NUL character. The same attempt
    /// again meets the same refusal, so no retry is spent on it.
    pub permanent: bool,
}

/// Said (live and at the end of the tail) when the step's output was still held open by a
/// process outside its process group once the group had ended.
pub const HELD_OPEN_NOTE: &str = "cortex: a process outside the step's process group (started with `setsid`, or a daemon) still held its output open when the step ended: it was left running, and what it printed after is not kept";

/// The most read from a pipe at once (a pipe holds 64 KiB unless it is made larger).
const READ_BYTES: usize = 256 * 1024;

/// How often a running process is checked for a stop or its timeout, in milliseconds.
const TICK_MS: u16 = 20;

/// How long a process whose pipes have both ended is asked for its exit before the loop sleeps
/// on its exit notifier (`run_process_watched`).
const EXIT_SPIN: Duration = Duration::from_micros(50);

/// How much output is kept for the log.
pub const TAIL_BYTES: usize = 4096;

/// Add a line, or a piece of one (`ended`: it ends the line), to the tail; each line is
/// given a `\n` once it ends, or when a piece of the other stream follows a piece that did
/// not (`open`: the stream whose line the tail ends inside).
fn push_tail(tail: &mut String, open: &mut Option<Stream>, which: Stream, line: &str, ended: bool) {
    if open.is_some_and(|o| o != which) {
        tail.push('\n');
    }
    tail.push_str(line);
    if ended {
        tail.push('\n');
        *open = None;
    } else {
        *open = Some(which);
    }
    // Cut back to `TAIL_BYTES` now and then, not at every line: moving the 4 KiB kept at each
    // of a million short lines was a large part of a fast step's cost. `trim_tail` at the end.
    if tail.len() > TAIL_SLACK {
        trim_tail(tail);
    }
}

/// How long the tail may grow between cuts (`push_tail`).
const TAIL_SLACK: usize = 16 * TAIL_BYTES;

/// Keep the last `TAIL_BYTES` of the tail (from a character's start): the same text as
/// cutting after each line would keep, since each cut only ever moves forward.
fn trim_tail(tail: &mut String) {
    if tail.len() > TAIL_BYTES {
        let mut cut = tail.len() - TAIL_BYTES;
        while !tail.is_char_boundary(cut) {
            cut += 1;
        }
        tail.drain(..cut);
    }
}

/// The most lines of a command passed on live (`on_line`: the terminal, an observer) in a
/// second; the others are counted, and said in one line (`Live::note`). Every line still goes
/// to the tail and the attempt's file (`cortex logs`): a step printing a million lines a
/// second was slowed to the pace the terminal took them at, a line a write.
pub const LIVE_LINES_PER_SECOND: u32 = 1000;

/// The most bytes of a command passed on live in a second, whatever its lines: a line with no
/// end is passed on in pieces of `MAX_LINE`, each counted as a line, so a 200 MB line still
/// sent 110–130 MB to the terminal under the line bound alone.
pub const LIVE_BYTES_PER_SECOND: usize = 1024 * 1024;

/// The lines passed on live in the current second, and those held back.
struct Live {
    since: Instant,
    shown: u32,
    shown_bytes: usize,
    skipped: u64,
    skipped_bytes: u64,
}

impl Live {
    fn new() -> Self {
        Live {
            since: Instant::now(),
            shown: 0,
            shown_bytes: 0,
            skipped: 0,
            skipped_bytes: 0,
        }
    }

    fn line(&mut self, which: Stream, line: &str, on_line: &mut dyn FnMut(Stream, &str)) {
        if self.shown >= LIVE_LINES_PER_SECOND || self.shown_bytes >= LIVE_BYTES_PER_SECOND {
            if self.since.elapsed() < Duration::from_secs(1) {
                self.skipped += 1;
                self.skipped_bytes += line.len() as u64;
                return;
            }
            self.note(on_line);
        }
        if self.shown == 0 {
            self.since = Instant::now();
        }
        self.shown += 1;
        self.shown_bytes += line.len();
        on_line(which, line);
    }

    /// Say how many lines (or pieces of a long one) were held back since the last note, and
    /// start a new second.
    fn note(&mut self, on_line: &mut dyn FnMut(Stream, &str)) {
        if self.skipped > 0 {
            let n = self.skipped;
            on_line(
                Stream::Stderr,
                &format!(
                    "cortex: {n} line{} ({} bytes) not shown here (at most {LIVE_LINES_PER_SECOND} lines and {} KiB a second are); the attempt's log keeps every line (`cortex logs`)",
                    if n == 1 { "" } else { "s" },
                    self.skipped_bytes,
                    LIVE_BYTES_PER_SECOND / 1024
                ),
            );
        }
        self.skipped = 0;
        self.skipped_bytes = 0;
        self.shown = 0;
        self.shown_bytes = 0;
    }
}

/// Output not yet split into lines, per stream; a line longer than this is passed on in
/// pieces rather than held without bound.
const MAX_LINE: usize = 64 * 1024;

/// How long a partial line (output without its line end yet) is held before it is passed on
/// as it is: long enough that a line written in a few pieces at once stays whole, short
/// enough that a prompt or progress dots show while the command waits.
pub const PARTIAL_AFTER: Duration = Duration::from_millis(150);

/// One output pipe of the child and the part of a line read from it so far.
/// Whether `file` has output or its end of file to read now, without waiting.
fn readable_now(file: &File) -> bool {
    let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
        && fds[0].revents().is_some_and(|r| !r.is_empty())
}

struct Pipe {
    reader: Option<File>,
    which: Stream,
    pending: Vec<u8>,
    /// When the oldest byte of `pending` was read: a partial line held `PARTIAL_AFTER` is
    /// passed on as it is (`partial`).
    pending_since: Option<Instant>,
    /// Every byte read, unsplit and unredacted, when the caller wants them.
    capture: Option<Captured>,
}

impl Pipe {
    fn new(reader: Option<impl Into<OwnedFd>>, which: Stream, capture: bool) -> Self {
        Pipe {
            reader: reader.map(|r| File::from(r.into())),
            which,
            pending: Vec::new(),
            pending_since: None,
            capture: capture.then(Captured::default),
        }
    }

    /// Read what is there (the caller polled it readable) and pass on the complete lines, each
    /// with its line end, all those of one read in one block; at end of file, pass on the last partial line and close. A line
    /// longer than `MAX_LINE` is passed on in pieces cut outside any secret `redactor` finds
    /// in it, holding back what could begin one (so that no piece keeps part of a secret).
    fn drain(&mut self, buf: &mut [u8], redactor: &Redactor, emit: &mut dyn FnMut(Stream, &[u8])) {
        let Some(reader) = self.reader.as_mut() else {
            return;
        };
        match reader.read(buf) {
            Ok(0) | Err(_) => {
                self.flush(emit);
                self.reader = None;
            }
            Ok(n) => {
                if let Some(c) = self.capture.as_mut() {
                    let room = CAPTURE_BYTES - c.bytes.len();
                    c.bytes.extend_from_slice(&buf[..n.min(room)]);
                    c.overflowed |= n > room;
                }
                // The complete lines read are passed on as one block (the caller redacts,
                // writes and hashes a block at once: per line, that was most of the cost of a
                // step printing fast); the bytes after the last line end wait for theirs.
                let read = &buf[..n];
                match memchr::memrchr(b'\n', read) {
                    Some(at) if self.pending.is_empty() => {
                        emit(self.which, &read[..=at]);
                        self.pending.extend_from_slice(&read[at + 1..]);
                        self.pending_since = None;
                    }
                    Some(at) => {
                        let end = self.pending.len() + at + 1;
                        self.pending.extend_from_slice(read);
                        emit(self.which, &self.pending[..end]);
                        self.pending.drain(..end);
                        self.pending_since = None;
                    }
                    None => self.pending.extend_from_slice(read),
                }
                if self.pending.len() > MAX_LINE {
                    // Held back: what could begin a secret (bounded by the longest one).
                    let hold = redactor.longest().saturating_sub(1);
                    let want = self.pending.len().saturating_sub(hold);
                    self.pass_on(redactor.safe_cut(&self.pending, want), emit);
                }
                if self.pending.is_empty() {
                    self.pending_since = None;
                } else {
                    self.pending_since.get_or_insert_with(Instant::now);
                }
            }
        }
    }

    /// Pass on the first `cut` bytes of the partial line, moved back to the start of a
    /// character the cut would split (carried over to the next piece, so that no piece shows
    /// half a character as U+FFFD).
    fn pass_on(&mut self, cut: usize, emit: &mut dyn FnMut(Stream, &[u8])) {
        let cut = cut - crate::render::cut_character(&self.pending[..cut]);
        if cut > 0 {
            emit(self.which, &self.pending[..cut]);
            self.pending.drain(..cut);
        }
    }

    /// A partial line held `PARTIAL_AFTER` (a prompt, `Waiting for lock...`, progress dots)
    /// is passed on as it is, without its end, so that the attempt's file, `cortex logs` and
    /// the live view show it while the command waits, and a driver killed meanwhile does not
    /// lose it. Held back: what could begin a secret, and a cut character. True when some of
    /// it was passed on.
    fn partial(&mut self, redactor: &Redactor, emit: &mut dyn FnMut(Stream, &[u8])) -> bool {
        if self
            .pending_since
            .is_none_or(|since| since.elapsed() < PARTIAL_AFTER)
        {
            return false;
        }
        let before = self.pending.len();
        let want = before - redactor.open_prefix(&self.pending);
        self.pass_on(redactor.safe_cut(&self.pending, want), emit);
        // What is held waits for the bytes that complete it, or another `PARTIAL_AFTER`.
        self.pending_since = (!self.pending.is_empty()).then(Instant::now);
        self.pending.len() < before
    }

    fn flush(&mut self, emit: &mut dyn FnMut(Stream, &[u8])) {
        if !self.pending.is_empty() {
            emit(self.which, &self.pending);
            self.pending.clear();
        }
        self.pending_since = None;
    }
}

/// A line of output (or a piece of one) as text, for the tail and the caller: without its
/// line end (`\n`, and the `\r`s of a `\r\n`), bytes that are not UTF-8 shown as U+FFFD. A
/// piece without a line end keeps its `\r`s (progress redrawn, continued by the next piece).
fn line_text(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    let Some(raw) = raw.strip_suffix(b"\n") else {
        return String::from_utf8_lossy(raw);
    };
    let end = raw.iter().rposition(|&b| b != b'\r').map_or(0, |i| i + 1);
    String::from_utf8_lossy(&raw[..end])
}

/// How many files this process may hold open (RLIMIT_NOFILE's soft limit, `ulimit -n`), if it
/// has a limit: what a command's pipes count against, and what `cortex serve` keeps its
/// connections under (`serve::connections`).
pub fn open_file_limit() -> Option<u64> {
    super::rlimit::soft_limit(super::rlimit::Limit::OpenFiles)
}

/// Why a command could not start for want of file descriptors, with the limit and how to
/// raise it: cortex needs a few per command (its pipes), and the system's or this process's
/// limit (`ulimit -n`) was reached.
fn too_many_files(e: &std::io::Error) -> String {
    if e.raw_os_error() == Some(nix::libc::ENFILE) {
        return format!("{}, then retry", no_more_files(e));
    }
    format!(
        "{}, and each command needs a few for its pipes; {RAISE_OPEN_FILES}, then retry",
        no_more_files(e)
    )
}

/// Whether `e` is a refusal for want of file descriptors: this process's (EMFILE) or the
/// system's (ENFILE).
pub fn out_of_files(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::EMFILE | nix::libc::ENFILE)
    )
}

/// How to let cortex hold more open files.
pub const RAISE_OPEN_FILES: &str =
    "raise the limit in the shell that starts cortex (e.g. `ulimit -n 4096`)";

/// `e` (EMFILE or ENFILE) with what it means: the limit reached, this process's
/// (`ulimit -n`, named with its value) or the system's (with what to do about that).
pub fn no_more_files(e: &std::io::Error) -> String {
    if e.raw_os_error() == Some(nix::libc::ENFILE) {
        return format!(
            "{e}: the system's limit of open files is reached (`/proc/sys/fs/file-max`); close programs holding many, or raise it"
        );
    }
    let now = match open_file_limit() {
        Some(limit) => format!(" (`ulimit -n` is {limit} here)"),
        None => String::new(),
    };
    format!("{e}: cortex may hold no more open files{now}")
}

/// How many more files this process may open now, if it has a limit: the limit less those
/// open (`/proc/self/fd`, counted while the folder itself is open, so one less than may be;
/// none when not even the folder can be opened for want of one).
pub fn open_files_left() -> Option<u64> {
    let limit = open_file_limit()?;
    let open = match std::fs::read_dir("/proc/self/fd") {
        Ok(fds) => fds.count() as u64,
        Err(e) if out_of_files(&e) => return Some(0),
        Err(_) => return None,
    };
    Some(limit.saturating_sub(open))
}

/// Why a command could not start with E2BIG, named where it can be: the first variable of its
/// environment (or argument) longer than Linux passes in one (`MAX_ARG_STRLEN`) — a `foreach:`
/// item, an output given through a template — with how to pass such a value.
fn too_long(spec: &ProcessSpec) -> Option<String> {
    use super::claude::MAX_ARGUMENT_BYTES;
    let hint = "pass a value this large through a file (write it to one, and give its path as the output or item)";
    if let Some((name, value)) = spec
        .env
        .iter()
        .find(|(name, value)| name.len() + 1 + value.len() > MAX_ARGUMENT_BYTES)
    {
        let what = if name.starts_with("CORTEX_TPL_") {
            format!("the value of a `${{{{ ... }}}}` template (`{name}`)")
        } else {
            format!("`{name}`")
        };
        return Some(format!(
            "{what} is {} bytes, and Linux passes at most {MAX_ARGUMENT_BYTES} in one environment variable: {hint}",
            value.len()
        ));
    }
    let longest = match &spec.program {
        Program::Shell(text) => text.len(),
        Program::Argv(argv) => argv.iter().map(String::len).max().unwrap_or(0),
    };
    (longest > MAX_ARGUMENT_BYTES).then(|| {
        format!(
            "an argument of the command is {longest} bytes, and Linux passes at most {MAX_ARGUMENT_BYTES} in one: {hint}"
        )
    })
}

/// Why a command could not start with E2BIG where no one value is too long: its arguments
/// and environment together are more than Linux passes to a program (`ARG_MAX`), counted as
/// Linux counts them (`env_entry_bytes`), with what this process inherited.
fn too_much(spec: &ProcessSpec) -> String {
    use crate::definition::limits::{ARG_MAX_BYTES, env_entry_bytes};
    use std::os::unix::ffi::OsStrExt;
    let mut env: std::collections::BTreeMap<Vec<u8>, usize> = std::env::vars_os()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().len()))
        .collect();
    for name in spec.unset {
        env.remove(name.as_bytes());
    }
    for (k, v) in &spec.env {
        env.insert(k.as_bytes().to_vec(), v.len());
    }
    let env_bytes: usize = env.iter().map(|(k, v)| env_entry_bytes(k.len(), *v)).sum();
    let args: usize = match &spec.program {
        Program::Shell(text) => env_entry_bytes(0, text.len()) + 16,
        Program::Argv(argv) => argv.iter().map(|a| env_entry_bytes(0, a.len())).sum(),
    };
    format!(
        "its arguments and environment are about {} bytes together ({env_bytes} of environment): {} (ARG_MAX, {ARG_MAX_BYTES} bytes typically: a quarter of the stack limit); no one value is too long, all together are: pass large values through files (write them to one, and give its path as the output, item or input)",
        env_bytes + args,
        UNPASSABLE_TOTAL
    )
}

const UNPASSABLE_TOTAL: &str = AttemptEnd::UNPASSABLE_TOTAL;

/// Why a command could not start with "nul byte found in provided data", named: the first
/// variable of its environment (or argument) holding a NUL character, which no variable or
/// argument can carry — an output given through a template (a step wrote one to
/// `$CORTEX_OUTPUT`, Claude Code answered one, a report sent one) — with what to do instead.
fn holds_nul(spec: &ProcessSpec) -> Option<String> {
    let hint = "a value holding NUL characters cannot be given to a command; write such data to a file, and give its path as the output or input";
    if let Some((name, _)) = spec.env.iter().find(|(_, value)| value.contains('\0')) {
        let what = if name.starts_with("CORTEX_TPL_") {
            format!("the value of a `${{{{ ... }}}}` template (`{name}`)")
        } else {
            format!("`{name}`")
        };
        return Some(format!("{what} holds a NUL character: {hint}"));
    }
    let in_argument = match &spec.program {
        Program::Shell(text) => text.contains('\0'),
        Program::Argv(argv) => argv.iter().any(|a| a.contains('\0')),
    };
    in_argument.then(|| format!("an argument of the command holds a NUL character: {hint}"))
}

/// A descriptor that becomes readable when `child` exits, where the system has one.
#[cfg(target_os = "linux")]
fn exit_notifier(child: &Started) -> Option<OwnedFd> {
    rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(child.id() as i32)?,
        rustix::process::PidfdFlags::empty(),
    )
    .ok()
}

#[cfg(not(target_os = "linux"))]
fn exit_notifier(_child: &Started) -> Option<OwnedFd> {
    None
}

/// A started command: a shell started by `spawn::spawn_shell`, or a program by std.
enum Started {
    Std(std::process::Child),
    Shell(super::spawn::Spawned),
}

impl Started {
    fn id(&self) -> u32 {
        match self {
            Started::Std(c) => c.id(),
            Started::Shell(s) => s.id(),
        }
    }

    fn take_stdin(&mut self) -> Option<File> {
        match self {
            Started::Std(c) => c.stdin.take().map(|p| File::from(OwnedFd::from(p))),
            Started::Shell(s) => s.stdin.take(),
        }
    }

    fn take_stdout(&mut self) -> Option<OwnedFd> {
        match self {
            Started::Std(c) => c.stdout.take().map(OwnedFd::from),
            Started::Shell(s) => s.stdout.take(),
        }
    }

    fn take_stderr(&mut self) -> Option<OwnedFd> {
        match self {
            Started::Std(c) => c.stderr.take().map(OwnedFd::from),
            Started::Shell(s) => s.stderr.take(),
        }
    }

    fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        match self {
            Started::Std(c) => c.try_wait(),
            Started::Shell(s) => s.try_wait(),
        }
    }

    fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        match self {
            Started::Std(c) => c.wait(),
            Started::Shell(s) => s.wait(),
        }
    }
}

/// End a process group a dead driver left running: TERM, then KILL after `grace`.
/// Returns whether the group was still alive.
pub fn end_orphan_group(pgid: i32, grace: Duration) -> bool {
    !end_orphan_groups(&[pgid], grace).is_empty()
}

/// End the process groups a dead driver left running, all at once: TERM to every one still
/// alive, then wait for them together, then KILL what is left after `grace`. Returns those
/// that were still alive. Before, each group was ended in turn, so a group slow to exit on
/// TERM (a cleanup trap) held back the signal to the next, which ran on to its end
/// unsignalled while the run was taken over.
pub fn end_orphan_groups(pgids: &[i32], grace: Duration) -> Vec<i32> {
    let alive: Vec<Pid> = pgids
        .iter()
        .map(|&p| Pid::from_raw(p))
        .filter(|p| p.as_raw() > 1 && killpg(*p, None).is_ok())
        .collect();
    for &pgid in &alive {
        signal_group(pgid, Signal::SIGTERM);
    }
    let until = Instant::now() + grace;
    while Instant::now() < until && alive.iter().any(|&p| killpg(p, None).is_ok()) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for &pgid in &alive {
        signal_group(pgid, Signal::SIGKILL);
    }
    alive.into_iter().map(Pid::as_raw).collect()
}

/// Does process group `pgid` still have a member?
pub(super) fn group_alive_pgid(pgid: i32) -> bool {
    pgid > 1 && group_alive(Pid::from_raw(pgid))
}

/// Does the process group still have a member?
fn group_alive(pgid: Pid) -> bool {
    killpg(pgid, None).is_ok()
}

fn signal_group(pgid: Pid, sig: Signal) {
    // The group may already be gone; that is the outcome we want.
    let _ = killpg(pgid, sig);
}

/// Run `spec`, calling `on_line` for every line of output, until it exits, times out or
/// `stop` is raised.
pub fn run_process(
    spec: &ProcessSpec,
    stop: &StopFlag,
    on_line: &mut dyn FnMut(Stream, &str),
) -> ProcessResult {
    run_process_tracked(spec, stop, on_line, &mut |_| {})
}

/// `run_process`, telling `on_spawn` the process group id once the command has started (the
/// driver records it so that a later driver can end a group this one left behind).
pub fn run_process_tracked(
    spec: &ProcessSpec,
    stop: &StopFlag,
    on_line: &mut dyn FnMut(Stream, &str),
    on_spawn: &mut dyn FnMut(i32),
) -> ProcessResult {
    run_process_watched(spec, stop, on_line, on_spawn, &mut || false)
}

/// How long a step's process group gets between TERM and KILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// How often a running process's `watch` is asked whether to end it.
pub const WATCH_EVERY: Duration = Duration::from_millis(100);

/// The variable that gives `cortex serve` its token: the dashboard's credential, which no
/// process cortex starts needs. A step, a check, an agent or a notification command that
/// inherited it (from a server given it so, or from a driver the server started) could act
/// on the dashboard with it — complete or approve its own work. Taken out of the
/// environment of each (here, and of background drivers in `operator::spawn_detached`).
pub const SERVE_TOKEN_ENV: &str = "CORTEX_SERVE_TOKEN";

/// The variable that gives a driver started by `cortex serve` (or by the scheduler beside it)
/// the server's token only to scrub it (`secrets::scrub_serve_token`): a step can read the
/// server's command line or environment (`ps -eo args`, `/proc/PID/environ`) and print the
/// token, which the server then served in the step's output. Taken out of the environment of
/// every command a driver runs, as `SERVE_TOKEN_ENV` is.
pub const SCRUB_TOKEN_ENV: &str = "CORTEX_SCRUB_SERVE_TOKEN";

/// `run_process_tracked`, asking `watch` every `WATCH_EVERY` while the command runs whether
/// it must end as if a stop were raised (the driver looking at the log for an operator's
/// request). A command that ends sooner never asks.
pub fn run_process_watched(
    spec: &ProcessSpec,
    stop: &StopFlag,
    on_line: &mut dyn FnMut(Stream, &str),
    on_spawn: &mut dyn FnMut(i32),
    watch: &mut dyn FnMut() -> bool,
) -> ProcessResult {
    let started = Instant::now();
    let mut watched_at = started;
    // The thread that writes the command's input, started before the command: a thread the
    // system refuses then leaves nothing started. Before, it was started after the command,
    // and its refusal left the command running with no one to end it (a notification said
    // "not delivered … 0 tries" while its command ran on, orphaned).
    let feeder = match spec.stdin.clone() {
        Some(input) => {
            let writer =
                super::thread::ready_for("to give a command its input", move |mut pipe: File| {
                    // A command that does not read its input closes the pipe: not an error.
                    let _ = pipe.write_all(input.as_bytes());
                });
            match writer {
                Ok(give) => Some(give),
                Err(refused) => {
                    return ProcessResult {
                        end: AttemptEnd::SpawnFailed {
                            error: refused.to_string(),
                        },
                        tail: String::new(),
                        stopped: false,
                        elapsed: started.elapsed(),
                        stdout: spec.capture_stdout.then(Captured::default),
                        log: None,
                        permanent: false,
                    };
                }
            }
        }
        None => None,
    };
    // Under a guard: told before the spawn, found by the guard if this process dies before
    // `guard_group` below.
    let token = super::guard::spawn_token();
    let spawned = match &spec.program {
        // Every `run:` step: started by `posix_spawn` with the environment read once
        // (`spawn::spawn_shell`), by path (a bare `sh` makes the child try every `PATH`
        // entry in turn).
        Program::Shell(text) => {
            let mut env: Vec<(&str, &str)> = spec
                .env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            if let Some(token) = &token {
                env.push((super::guard::SPAWN_TOKEN_ENV, token));
            }
            let mut unset = vec![
                SERVE_TOKEN_ENV,
                super::secrets::SECRET_OUTPUTS_ENV,
                SCRUB_TOKEN_ENV,
            ];
            unset.extend_from_slice(spec.unset);
            super::spawn::spawn_shell(SHELL, text, &spec.cwd, &env, &unset, spec.stdin.is_some())
                .map(Started::Shell)
        }
        Program::Argv(argv) => {
            let mut cmd = Command::new(argv.first().map_or("", String::as_str));
            cmd.args(argv.iter().skip(1));
            cmd.current_dir(&spec.cwd)
                .env_remove(SERVE_TOKEN_ENV)
                .env_remove(super::secrets::SECRET_OUTPUTS_ENV)
                .env_remove(SCRUB_TOKEN_ENV);
            for name in spec.unset {
                cmd.env_remove(name);
            }
            cmd.envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .stdin(if spec.stdin.is_some() {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                // Its own process group: a terminal's Ctrl-C reaches cortex, not the step,
                // and a timeout can end the step's children too.
                .process_group(0);
            if let Some(token) = &token {
                cmd.env(super::guard::SPAWN_TOKEN_ENV, token);
            }
            cmd.spawn().map(Started::Std)
        }
    };
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            super::guard::spawn_failed(token.as_deref());
            let (error, permanent) = match &spec.program {
                _ if !spec.cwd.is_dir() => (
                    format!("working directory {} does not exist", spec.cwd.display()),
                    true,
                ),
                // Too long for Linux to pass, one value or all together: the same command
                // with the same values meets the same refusal, so no retry is spent on it.
                _ if e.raw_os_error() == Some(nix::libc::E2BIG) => {
                    (too_long(spec).unwrap_or_else(|| too_much(spec)), true)
                }
                _ if e.kind() == std::io::ErrorKind::InvalidInput
                    && let Some(why) = holds_nul(spec) =>
                {
                    (why, true)
                }
                // Out of file descriptors, this process's (EMFILE) or the system's (ENFILE):
                // said with the limit and how to raise it. Counted as a failed attempt, which a
                // retry may pass once descriptors are free again (DESIGN.md §6).
                _ if out_of_files(&e) => (too_many_files(&e), false),
                // No more processes for this user or the system (EAGAIN): said with the limit
                // and how to raise it; a retry may pass once others have ended.
                _ if e.raw_os_error() == Some(nix::libc::EAGAIN) => (
                    format!(
                        "{}; {}, then retry",
                        super::thread::no_more_processes(&e),
                        super::thread::RAISE_PROCESSES
                    ),
                    false,
                ),
                Program::Shell(_) => (e.to_string(), false),
                Program::Argv(argv) => (
                    format!("`{}`: {e}", argv.first().map_or("", String::as_str)),
                    false,
                ),
            };
            return ProcessResult {
                end: AttemptEnd::SpawnFailed { error },
                tail: String::new(),
                stopped: false,
                elapsed: started.elapsed(),
                stdout: spec.capture_stdout.then(Captured::default),
                log: None,
                permanent,
            };
        }
    };
    let pgid = Pid::from_raw(child.id() as i32);
    on_spawn(pgid.as_raw());
    // A worker's guard ends the group if the worker dies before this function is done.
    let run_id = spec
        .env
        .iter()
        .find(|(k, _)| k == "CORTEX_RUN_ID")
        .map(|(_, v)| v.as_str());
    super::guard::guard_group(pgid.as_raw(), run_id, token.as_deref());
    if let (Some(feeder), Some(pipe)) = (feeder, child.take_stdin()) {
        let _ = feeder.send(pipe);
    }
    let mut pipes = [
        Pipe::new(child.take_stdout(), Stream::Stdout, spec.capture_stdout),
        Pipe::new(child.take_stderr(), Stream::Stderr, false),
    ];
    // One read buffer per thread, kept between processes: zeroing a fresh 16 KiB for every
    // step was a twentieth of a short step's own instructions.
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let mut buf = BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
    buf.resize(READ_BYTES, 0);
    let mut tail = String::new();
    let mut tail_open: Option<Stream> = None;
    // The whole-output file is created at the first line: an attempt that prints nothing has
    // no file and records none (creating a file — ext4 allocating an inode — was the largest
    // part of a short step's own cost). A file that cannot be created is not tried again, so a
    // later line never starts a partial one.
    // Shared by `emit` (a line) and the loop (the end of a chunk drained: flushed then).
    let log: std::cell::RefCell<Option<LogWriter>> = std::cell::RefCell::new(None);
    let mut log_tried = false;
    let mut live = Live::new();
    let mut emit = |which: Stream, raw: &[u8]| {
        // A block of lines (or a piece of one), redacted before it is kept: the tail keeps
        // the end of the text, and a cut through a secret would keep half of it. The whole
        // output keeps the bytes as written (not UTF-8, `\r`, NUL, no final line end), with
        // only the secrets replaced. A block ends at a line end, so a secret is never cut by
        // its end that a line would not cut (a secret holding a line end is scrubbed line by
        // line too, `Redactor::add`).
        let raw = spec.redactor.redact_bytes(raw);
        {
            let mut log = log.borrow_mut();
            if !log_tried {
                log_tried = true;
                *log = spec.log.as_ref().and_then(LogWriter::open);
            }
            if let Some(log) = log.as_mut() {
                log.write(&raw);
            }
        }
        let mut start = 0;
        while start < raw.len() {
            let end = memchr::memchr(b'\n', &raw[start..]).map_or(raw.len(), |at| start + at + 1);
            let piece = &raw[start..end];
            start = end;
            let text = line_text(piece);
            // Text decoded as it was is the scrubbed bytes; only U+FFFD put in place of bytes
            // that are not UTF-8 could make a secret (one holding U+FFFD) appear.
            let line = match text {
                std::borrow::Cow::Borrowed(_) => text,
                std::borrow::Cow::Owned(decoded) => {
                    std::borrow::Cow::Owned(spec.redactor.redact(&decoded).into_owned())
                }
            };
            push_tail(
                &mut tail,
                &mut tail_open,
                which,
                &line,
                piece.ends_with(b"\n"),
            );
            live.line(which, &line, on_line);
        }
    };
    let mut term_sent: Option<Instant> = None;
    let mut timed_out = false;
    let mut stopped = false;
    let mut exited_at: Option<Instant> = None;
    // Processes the step left in its group when it exited: TERM sent to them at, and whether
    // the grace ran out and they were killed.
    let mut reaping: Option<Instant> = None;
    let mut reaped_by_kill = false;
    let mut status = None;
    // Readable when the process exits (Linux): the loop sleeps in `poll` until output, the
    // exit or the next tick, never spinning.
    let exit_fd = exit_notifier(&child);
    loop {
        let open: Vec<usize> = (0..2).filter(|&i| pipes[i].reader.is_some()).collect();
        let watch_exit = status.is_none() && exit_fd.is_some();
        // Whether poll said the process exited (its exit notifier readable), or could not say
        // (no notifier, poll failed, or it timed out: asked then anyway, as a safety net).
        let mut exit_maybe = true;
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = open
                .iter()
                .map(|&i| {
                    pipes[i]
                        .reader
                        .as_ref()
                        .expect("open pipes have a reader")
                        .as_fd()
                })
                .chain(exit_fd.as_ref().filter(|_| watch_exit).map(|fd| fd.as_fd()))
                .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
                .collect();
            // Without an exit notifier, a process whose pipes are closed is checked often.
            let tick = if open.is_empty() && !watch_exit && reaping.is_none() {
                1
            } else {
                TICK_MS
            };
            match poll(&mut fds, PollTimeout::from(tick)) {
                Ok(n) => {
                    let ready: Vec<bool> = fds
                        .iter()
                        .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                        .collect();
                    // A pipe's end of file comes before the exit (a process closes its files,
                    // then exits): the exit is not asked for until the notifier says so.
                    if watch_exit && n > 0 {
                        exit_maybe = ready.last().copied().unwrap_or(true);
                    }
                    ready
                }
                Err(_) => vec![false; fds.len()],
            }
        };
        for (k, &i) in open.iter().enumerate() {
            if ready[k] {
                pipes[i].drain(&mut buf, &spec.redactor, &mut emit);
            }
        }
        let mut passed = false;
        for pipe in &mut pipes {
            passed |= pipe.partial(&spec.redactor, &mut emit);
        }
        if (passed || ready.iter().any(|&r| r))
            && let Some(log) = log.borrow_mut().as_mut()
        {
            log.flush();
        }
        // Both pipes reached their end this turn: the process is exiting (its files are
        // closed as it exits, a few microseconds before it can be waited for). Asked again for
        // up to `EXIT_SPIN` before poll sleeps on the exit notifier: one sleep and wake-up
        // fewer between a step's end and the next step's start. A process that closed its
        // output and lives on costs that once.
        if status.is_none()
            && !exit_maybe
            && !open.is_empty()
            && pipes.iter().all(|p| p.reader.is_none())
        {
            let until = Instant::now() + EXIT_SPIN;
            while Instant::now() < until {
                if !matches!(child.try_wait(), Ok(None)) {
                    exit_maybe = true;
                    break;
                }
                std::thread::yield_now();
            }
        }
        if status.is_none() && exit_maybe {
            match child.try_wait() {
                Ok(Some(s)) => {
                    status = Some(s);
                    exited_at = Some(Instant::now());
                    // The step is over, and so is what it started in the background (`cmd &`),
                    // as a CI job's processes end with the job; unless the step keeps them.
                    if term_sent.is_none() && !spec.keep_background && group_alive(pgid) {
                        signal_group(pgid, Signal::SIGTERM);
                        reaping = Some(Instant::now());
                    }
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
        if let Some(mut at) = exited_at {
            if let Some(since) = reaping {
                if !group_alive(pgid) {
                    reaping = None;
                    at = Instant::now();
                    exited_at = Some(at);
                } else if since.elapsed() >= spec.grace && !reaped_by_kill {
                    signal_group(pgid, Signal::SIGKILL);
                    reaped_by_kill = true;
                    at = Instant::now();
                    exited_at = Some(at);
                }
            }
            // Children that outlive the step (kept, or out of its group) may keep its pipes
            // open: do not wait for them.
            let settled = reaping.is_none() || reaped_by_kill;
            if settled
                && (pipes.iter().all(|p| p.reader.is_none())
                    || at.elapsed() > Duration::from_millis(500))
            {
                break;
            }
            continue;
        }
        if term_sent.is_none() {
            let watch_due = watched_at.elapsed() >= WATCH_EVERY;
            if watch_due {
                watched_at = Instant::now();
            }
            if stop.is_set() || (watch_due && watch()) {
                stopped = true;
            } else if spec.timeout.is_some_and(|t| started.elapsed() >= t) {
                timed_out = true;
            }
            if stopped || timed_out {
                signal_group(pgid, Signal::SIGTERM);
                term_sent = Some(Instant::now());
            }
        } else if term_sent.is_some_and(|t| t.elapsed() >= spec.grace) {
            signal_group(pgid, Signal::SIGKILL);
        }
    }
    // The step's group is over and a pipe is still open: a process outside the group holds
    // it — started with `setsid` (a daemon), out of reach of the group's end. It is left
    // running, and what it prints from now on is not read: said, live and in the tail.
    // What is left in a pipe is read first: a slow turn (a long line's redaction on a
    // loaded machine) may have left output, or the end of file, unread when the wait ran
    // out. Only a pipe with neither is held open; a daemon that keeps writing is read for a
    // bounded number of turns.
    if exited_at.is_some() && !spec.keep_background {
        for _ in 0..256 {
            let mut read_any = false;
            for pipe in &mut pipes {
                if pipe.reader.as_ref().is_some_and(readable_now) {
                    pipe.drain(&mut buf, &spec.redactor, &mut emit);
                    read_any = true;
                }
            }
            if !read_any {
                break;
            }
        }
    }
    let held_open =
        exited_at.is_some() && !spec.keep_background && pipes.iter().any(|p| p.reader.is_some());
    for pipe in &mut pipes {
        pipe.flush(&mut emit);
    }
    live.note(on_line);
    trim_tail(&mut tail);
    if tail_open.is_some() {
        tail.push('\n');
    }
    if held_open {
        tail.push_str(HELD_OPEN_NOTE);
        tail.push('\n');
        trim_tail(&mut tail);
        on_line(Stream::Stderr, HELD_OPEN_NOTE);
    }
    let status = status.or_else(|| child.wait().ok());
    if term_sent.is_some() {
        // Whatever of the group survived TERM goes now.
        signal_group(pgid, Signal::SIGKILL);
    }
    let end = if timed_out {
        AttemptEnd::TimedOut {
            timeout_ms: spec.timeout.map_or(0, |t| t.as_millis() as u64),
        }
    } else {
        match status {
            Some(s) => match (s.code(), s.signal()) {
                (Some(code), _) => AttemptEnd::Exited { code },
                (None, Some(sig)) => AttemptEnd::Signaled { signal: sig },
                _ => AttemptEnd::Exited { code: -1 },
            },
            None => AttemptEnd::SpawnFailed {
                error: "the process could not be waited for".into(),
            },
        }
    };
    // The group is ended (or kept on purpose, `keep_background`): not the guard's any more.
    super::guard::release_group(pgid.as_raw());
    BUF.with(|b| *b.borrow_mut() = buf);
    let [out, _] = pipes;
    ProcessResult {
        end,
        tail,
        stopped,
        elapsed: started.elapsed(),
        stdout: out.capture,
        log: log.into_inner().and_then(LogWriter::finish),
        permanent: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cmd: &str) -> ProcessSpec {
        ProcessSpec {
            program: Program::Shell(cmd.into()),
            env: vec![("X".into(), "$(echo injected)".into())],
            cwd: std::env::temp_dir(),
            stdin: None,
            timeout: Some(Duration::from_secs(20)),
            grace: Duration::from_millis(200),
            redactor: Redactor::default(),
            keep_background: false,
            capture_stdout: false,
            unset: &[],
            log: None,
        }
    }

    #[test]
    fn output_exit_code_and_env_stay_data() {
        let mut lines = Vec::new();
        let r = run_process(
            &spec("echo \"$X\"; echo err >&2; exit 3"),
            &StopFlag::default(),
            &mut |_, l| lines.push(l.to_string()),
        );
        assert_eq!(r.end, AttemptEnd::Exited { code: 3 });
        assert!(lines.contains(&"$(echo injected)".to_string()), "{lines:?}");
        assert!(r.tail.contains("err"));
    }

    #[test]
    fn a_timeout_ends_the_whole_group() {
        let mut s = spec("sleep 30 & sleep 30; echo never");
        s.timeout = Some(Duration::from_millis(200));
        let r = run_process(&s, &StopFlag::default(), &mut |_, _| {});
        assert!(matches!(r.end, AttemptEnd::TimedOut { .. }));
        assert!(r.elapsed < Duration::from_secs(5));
    }

    fn alive(pid: i32) -> bool {
        nix::sys::signal::kill(Pid::from_raw(pid), None).is_ok()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    }

    fn background_pid(lines: &[String]) -> i32 {
        lines
            .iter()
            .find_map(|l| l.strip_prefix("bg ").and_then(|p| p.parse().ok()))
            .expect("the command printed its background pid")
    }

    #[test]
    fn a_background_child_ends_with_its_command() {
        let mut lines = Vec::new();
        let r = run_process(
            &spec("sleep 30 & echo bg $!"),
            &StopFlag::default(),
            &mut |_, l| lines.push(l.to_string()),
        );
        assert_eq!(r.end, AttemptEnd::Exited { code: 0 });
        let pid = background_pid(&lines);
        let until = Instant::now() + Duration::from_secs(10);
        while alive(pid) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(pid), "the background child outlived its command");
    }

    #[test]
    fn a_kept_background_child_is_left_running() {
        let mut s = spec("sleep 30 > /dev/null 2>&1 & echo bg $!");
        s.keep_background = true;
        let mut lines = Vec::new();
        run_process(&s, &StopFlag::default(), &mut |_, l| {
            lines.push(l.to_string())
        });
        let pid = background_pid(&lines);
        assert!(alive(pid), "a kept background child was ended");
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }

    #[test]
    fn a_program_runs_without_a_shell_and_its_raw_output_is_kept() {
        let mut s = spec("");
        s.program = Program::Argv(vec![
            "printf".into(),
            "%s|%s".into(),
            "$(touch x) '".into(),
            "secret".into(),
        ]);
        s.capture_stdout = true;
        s.redactor = Redactor::from_env([("API_TOKEN", "secret")], &[]);
        let mut lines = Vec::new();
        let r = run_process(&s, &StopFlag::default(), &mut |_, l| {
            lines.push(l.to_string())
        });
        assert_eq!(r.end, AttemptEnd::Exited { code: 0 });
        assert_eq!(lines, vec!["$(touch x) '|***".to_string()]);
        let captured = r.stdout.expect("captured");
        assert_eq!(captured.bytes, b"$(touch x) '|secret");
        assert!(!captured.overflowed);
        s.program = Program::Argv(vec!["/no/such/program".into()]);
        let r = run_process(&s, &StopFlag::default(), &mut |_, _| {});
        assert!(
            r.end.describe().contains("`/no/such/program`"),
            "{}",
            r.end.describe()
        );
    }

    /// A line longer than `MAX_LINE` with a secret longer than the line itself: what could
    /// begin the secret is held back (the cut never underflows), and the whole line comes out
    /// once, scrubbed, with nothing lost.
    #[test]
    fn an_over_long_line_with_a_secret_longer_than_a_piece_is_held_not_cut() {
        let secret = "s".repeat(MAX_LINE + 10);
        let mut s = spec("printf '%s' \"$BIG\"; printf 'x%.0s' $(seq 1 100)");
        s.env.push(("BIG".into(), secret.clone()));
        s.redactor = Redactor::from_env([("BIG_TOKEN", secret.as_str())], &[]);
        let mut text = String::new();
        let r = run_process(&s, &StopFlag::default(), &mut |_, l| text.push_str(l));
        assert_eq!(r.end, AttemptEnd::Exited { code: 0 });
        let want = format!("***{}", "x".repeat(100));
        assert!(
            text == want,
            "{} bytes, starting {:?}",
            text.len(),
            &text[..10]
        );
    }

    /// A partial line held `PARTIAL_AFTER` is passed on before its end comes, holding back
    /// what could begin a secret (so that no piece keeps part of one), and the pieces join
    /// into the line, scrubbed.
    #[test]
    fn a_partial_line_is_passed_on_holding_back_what_could_begin_a_secret() {
        let mut s = spec("printf 'wait tok'; sleep 0.5; printf 'en1234 done\\n'");
        s.redactor = Redactor::from_env([("API_TOKEN", "token1234")], &[]);
        let mut pieces = Vec::new();
        let r = run_process(&s, &StopFlag::default(), &mut |_, l| {
            pieces.push(l.to_string())
        });
        assert_eq!(r.end, AttemptEnd::Exited { code: 0 });
        assert_eq!(pieces.concat(), "wait *** done", "{pieces:?}");
        assert!(!pieces.iter().any(|p| p.contains("tok")), "{pieces:?}");
        assert_eq!(r.tail, "wait *** done\n");
    }

    /// Output read in large blocks is redacted a block at a time: a secret on every one of
    /// many lines, wherever the reads cut the output, is scrubbed in the attempt's file, the
    /// lines passed on and the tail; the file's size and hash are those of its bytes; and every
    /// line is either passed on live or counted in a note (`LIVE_LINES_PER_SECOND`).
    #[test]
    fn fast_output_is_kept_whole_and_scrubbed_in_blocks_and_lines_past_the_live_bound_are_counted()
    {
        let dir = tempfile::tempdir().unwrap();
        let mut s =
            spec("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); echo \"line $i token1234\"; done");
        s.redactor = Redactor::from_env([("API_TOKEN", "token1234")], &[]);
        s.log = Some(LogTarget {
            path: dir.path().join("out.log"),
            name: "out.log".into(),
            home: None,
            home_dir: None,
            run_id: "R".into(),
        });
        let (mut shown, mut noted) = (0u64, 0u64);
        let r = run_process(&s, &StopFlag::default(), &mut |_, l| {
            assert!(!l.contains("token1234"), "{l}");
            match l.strip_prefix("cortex: ") {
                Some(note) => noted += note.split(' ').next().unwrap().parse::<u64>().unwrap(),
                None => shown += 1,
            }
        });
        assert_eq!(r.end, AttemptEnd::Exited { code: 0 });
        assert_eq!(shown + noted, 20000);
        let bytes = std::fs::read(dir.path().join("out.log")).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains("token1234"));
        assert_eq!(text.lines().count(), 20000);
        assert!(
            text.lines()
                .enumerate()
                .all(|(i, l)| l == format!("line {} ***", i + 1))
        );
        let log = r.log.expect("the file is recorded");
        assert_eq!(log.bytes, bytes.len() as u64);
        assert_eq!(log.blake3, blake3::hash(&bytes).to_hex().as_str());
        assert!(r.tail.ends_with("line 20000 ***\n"), "{}", r.tail);
        // The tail is the last 4 KiB, cut wherever that falls (inside a line, too).
        assert!(r.tail.len() <= TAIL_BYTES);
        assert!(!r.tail.contains("token1234"));
    }

    /// A child that leaves the step's process group (`setsid`) and keeps its output open
    /// survives the step: said, live and in the tail, rather than passed over in silence.
    #[test]
    fn a_child_out_of_the_group_holding_the_output_open_is_said() {
        let mut lines = Vec::new();
        let r = run_process(
            &spec("setsid sh -c 'echo bg $$; exec sleep 30' & sleep 0.2; echo done"),
            &StopFlag::default(),
            &mut |_, l| lines.push(l.to_string()),
        );
        let pid = background_pid(&lines);
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        assert_eq!(r.end, AttemptEnd::Exited { code: 0 });
        assert!(lines.iter().any(|l| l == HELD_OPEN_NOTE), "{lines:?}");
        assert!(
            r.tail.ends_with(&format!("{HELD_OPEN_NOTE}\n")),
            "{}",
            r.tail
        );
        // A background child of the group is ended with it, its pipe closed: nothing said.
        let mut lines = Vec::new();
        run_process(
            &spec("sleep 30 & echo bg $!"),
            &StopFlag::default(),
            &mut |_, l| lines.push(l.to_string()),
        );
        assert!(!lines.iter().any(|l| l == HELD_OPEN_NOTE), "{lines:?}");
    }

    #[test]
    fn stdin_is_delivered() {
        let mut s = spec("cat");
        s.stdin = Some("the prompt\n".into());
        let mut lines = Vec::new();
        run_process(&s, &StopFlag::default(), &mut |_, l| {
            lines.push(l.to_string())
        });
        assert_eq!(lines, vec!["the prompt".to_string()]);
    }
}
