//! The whole outputs of attempts, kept in files beside the log (`logs/<run>/...`): checking
//! them against the size and blake3 their `attempt_log` events record, and telling by the
//! identity of the home that wrote them (`home.id`) whether one not found is lost or kept
//! elsewhere.

use std::io::Read;
use std::path::Path;

use crate::event::Event;
use crate::store::{BadEvent, EventStore, StoreError};

/// The longest piece of a line held in memory while an attempt's file is scrubbed: a longer
/// line is written in pieces cut outside any secret (as the attempt's own writer does).
const SCRUB_PIECE: usize = 1 << 20;

/// Scrub `redactor`'s secrets from the attempt file at `path` (a secret output the attempt
/// printed before its value was known): written afresh beside it and renamed over it when
/// anything changed. Returns the size and blake3 of the file as it now is, or None when it
/// held none of them (left as it was).
pub fn scrub_attempt_log(
    path: &Path,
    redactor: &super::secrets::Redactor,
) -> std::io::Result<Option<(u64, String)>> {
    use std::io::Write;
    let mut input = super::materialize::derived_file().read(true).open(path)?;
    let tmp = path.with_extension("log.scrub");
    let _ = std::fs::remove_file(&tmp);
    let mut out = std::io::BufWriter::new(
        super::materialize::derived_file()
            .write(true)
            .create_new(true)
            .open(&tmp)?,
    );
    let mut hasher = blake3::Hasher::new();
    let (mut bytes, mut changed) = (0u64, false);
    let mut put = |piece: &[u8], out: &mut std::io::BufWriter<std::fs::File>| {
        let scrubbed = redactor.redact_bytes(piece);
        changed |= matches!(scrubbed, std::borrow::Cow::Owned(_));
        hasher.update(&scrubbed);
        bytes += scrubbed.len() as u64;
        out.write_all(&scrubbed)
    };
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let written = (|| -> std::io::Result<()> {
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            let mut start = 0;
            while let Some(at) = memchr::memchr(b'\n', &pending[start..]) {
                put(&pending[start..=start + at], &mut out)?;
                start += at + 1;
            }
            pending.drain(..start);
            if pending.len() > SCRUB_PIECE {
                let hold = redactor.longest().saturating_sub(1);
                let cut = redactor.safe_cut(&pending, pending.len().saturating_sub(hold));
                if cut > 0 {
                    put(&pending[..cut], &mut out)?;
                    pending.drain(..cut);
                }
            }
        }
        if !pending.is_empty() {
            put(&pending, &mut out)?;
        }
        out.flush()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    drop(out);
    if !changed {
        let _ = std::fs::remove_file(&tmp);
        return Ok(None);
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(Some((bytes, hasher.finalize().to_hex().to_string())))
}

/// What checking the file an `attempt_log` event names found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFileCheck {
    /// The file holds what the event recorded.
    AsRecorded,
    /// The file is not on this machine: written on another host sharing the log, or not
    /// copied with it. Its hash is in the log, but nothing here can be checked against it.
    Absent,
    /// The file is here and differs from what was recorded, or cannot be read.
    Differs(String),
}

/// Check the file an `attempt_log` event names against the size and blake3 it recorded.
pub fn check_attempt_log(home: &Path, file: &str, bytes: u64, blake3: &str) -> LogFileCheck {
    match file_problem(home, file, bytes, blake3) {
        Ok(()) => LogFileCheck::AsRecorded,
        Err(None) => LogFileCheck::Absent,
        Err(Some(reason)) => LogFileCheck::Differs(reason),
    }
}

/// Where the whole output `file` of an attempt (as its event names it, relative to the home)
/// is under `home`: only for a name cortex gives one (`runner::attempt_log_name`),
/// `logs/<run id>/<name>`, its run id through `materialize::run_path_part` — so a name read
/// from a log never leads out of `logs/<run id>/`. `..`, an absolute path, another folder or
/// an id that is no run id is refused, said (escaped).
pub fn attempt_file_path(home: &Path, file: &str) -> Result<std::path::PathBuf, String> {
    let path = attempt_file_place(home, file)?;
    // One rule for the writer and every reader: never through a linked folder.
    super::materialize::check_logs_folders(&path).map_err(|e| e.to_string())?;
    Ok(path)
}

/// `attempt_file_path` without looking at the folders on the way: where the file would be, for
/// one that says what is wrong with those folders itself (`log copy`, of its target), and for
/// the attempt that writes the file, whose folders `PreparedAttempt::prepare_home` checks
/// before it runs (in full once per run, then by their identity), so they are not looked at
/// twice a step.
pub fn attempt_file_place(home: &Path, file: &str) -> Result<std::path::PathBuf, String> {
    let not_ours = || {
        format!(
            "`{}` is not a path cortex writes",
            crate::definition::shown_query(file)
        )
    };
    let mut parts = file.split('/');
    let (Some(logs), Some(run), Some(name), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(not_ours());
    };
    if logs != super::LOGS_FOLDER || matches!(name, "" | "." | "..") {
        return Err(not_ours());
    }
    let run = super::run_path_part(run).map_err(|e| format!("{}: {e}", not_ours()))?;
    Ok(home.join(super::LOGS_FOLDER).join(run).join(name))
}

/// What is at the path of the attempt file `file` under `home` that is not a file cortex
/// reads (a link, a FIFO, a folder, a linked `logs/` or run folder), said; None where
/// nothing is, or a file.
pub fn not_a_file_at(home: &Path, file: &str) -> Option<String> {
    match attempt_file_path(home, file) {
        Err(e) => Some(e),
        Ok(path) => super::materialize::what_is_at(&path),
    }
}

/// The attempt file `file` under `home` opened for reading, None where nothing is. Anything
/// but a regular file there (a link, a FIFO, a device, a folder, or a linked folder above it)
/// is refused, said as `cortex logs` says it (`what_is_at`: "… is a FIFO, not a file"), and
/// never opened: a FIFO holds no output the log recorded, and reading one read as a file
/// "changed: it holds 0 bytes" in `log verify` and `log copy` while `cortex logs` called it a
/// FIFO.
pub fn open_attempt_file(home: &Path, file: &str) -> Result<Option<std::fs::File>, String> {
    let path = attempt_file_path(home, file)?;
    if let Some(what) = super::materialize::what_is_at(&path) {
        return Err(what);
    }
    // Opened without following a link and without blocking, and held to a regular file
    // (`open_derived`): something put there since the look above is refused too.
    match super::materialize::open_derived(&path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(super::materialize::what_is_at(&path)
            .unwrap_or_else(|| format!("{file} cannot be read: {e}"))),
    }
}

/// `Err(None)`: the file is absent.
fn file_problem(home: &Path, file: &str, bytes: u64, blake3: &str) -> Result<(), Option<String>> {
    let Some(mut opened) = open_attempt_file(home, file).map_err(Some)? else {
        return Err(None);
    };
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        match opened.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                size += n as u64;
            }
            Err(e) => return Err(Some(format!("{file} cannot be read: {e}"))),
        }
    }
    let hash = hasher.finalize().to_hex().to_string();
    if size != bytes || hash != blake3 {
        return Err(Some(format!(
            "{file} was changed: it holds {size} bytes (blake3 {}), the log recorded {bytes} ({})",
            &hash[..12],
            &blake3[..blake3.len().min(12)]
        )));
    }
    Ok(())
}

/// How the output `file` the log keeps (PostgreSQL: `attempt_output`) differs from what its
/// `attempt_log` recorded.
pub fn kept_output_differs(file: &str, size: u64, hash: &str, bytes: u64, blake3: &str) -> String {
    format!(
        "the copy of {file} kept in the database was changed: it holds {size} bytes (blake3 {}), the log recorded {bytes} ({})",
        &hash[..hash.len().min(12)],
        &blake3[..blake3.len().min(12)]
    )
}

/// Check the output `file` of `run_id` as the log keeps it (PostgreSQL) against the size and
/// blake3 its `attempt_log` recorded, read in pieces; None when the log keeps none of it.
pub fn check_kept_output(
    store: &dyn EventStore,
    run_id: &str,
    file: &str,
    bytes: u64,
    blake3: &str,
) -> Result<Option<LogFileCheck>, StoreError> {
    if !store.keeps_attempt_output() {
        return Ok(None);
    }
    let mut hasher = blake3::Hasher::new();
    let mut size = 0u64;
    loop {
        let Some(piece) = store.read_attempt_output(run_id, file, size, 4 << 20)? else {
            return Ok(None);
        };
        if piece.is_empty() {
            break;
        }
        hasher.update(&piece);
        size += piece.len() as u64;
    }
    let hash = hasher.finalize().to_hex().to_string();
    Ok(Some(if size == bytes && hash == blake3 {
        LogFileCheck::AsRecorded
    } else {
        LogFileCheck::Differs(kept_output_differs(file, size, &hash, bytes, blake3))
    }))
}

/// The file in a home that holds its identity.
pub const HOME_ID_FILE: &str = "home.id";

/// The identity of `home` (its `home.id`: a ULID made the first time the home wrote an attempt
/// log), if it has one. A file that is not one (a link, not a ULID) is no identity.
pub fn home_id(home: &Path) -> Option<String> {
    let mut text = String::new();
    super::materialize::derived_file()
        .read(true)
        .open(home.join(HOME_ID_FILE))
        .ok()?
        .take(64)
        .read_to_string(&mut text)
        .ok()?;
    let id = text.trim();
    ulid::Ulid::from_string(id).ok().map(|_| id.to_string())
}

/// The identity of `home`, made now if it has none (atomically: a file written aside, then
/// linked into place, so that two processes making one at once agree on the first). Kept for
/// the process, as it never changes once made. `None` if the home cannot hold one.
pub fn home_id_to_write(home: &Path) -> Option<String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static KNOWN: OnceLock<Mutex<HashMap<std::path::PathBuf, String>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    if let Some(id) = known.lock().ok()?.get(home) {
        return Some(id.clone());
    }
    let id = home_id(home).or_else(|| {
        use super::IdGen;
        let made = super::UlidIds::default().next_id();
        let aside = home.join(format!("{HOME_ID_FILE}.{}.{made}", std::process::id()));
        let written = super::materialize::derived_file()
            .write(true)
            .create_new(true)
            .open(&aside)
            .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{made}\n").as_bytes()));
        let linked = written.and_then(|()| std::fs::hard_link(&aside, home.join(HOME_ID_FILE)));
        let _ = std::fs::remove_file(&aside);
        match linked {
            Ok(()) => Some(made),
            // Made by another process meanwhile (or not makeable): whatever is there now.
            Err(_) => home_id(home),
        }
    })?;
    known.lock().ok()?.insert(home.to_path_buf(), id.clone());
    Some(id)
}

/// The folder of `home` as `attempt_log.home_dir` records it: absolute, its links resolved
/// (so that the same home is named the same however it was reached). `None` if it cannot be
/// found (the home is not made yet) or is no UTF-8.
pub fn home_dir(home: &Path) -> Option<String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    // Once per home and process, as its id is (`home_id_to_write`): resolving the path took
    // a system call per folder of it for every attempt.
    static KNOWN: OnceLock<Mutex<HashMap<std::path::PathBuf, String>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    if let Some(dir) = known.lock().ok()?.get(home) {
        return Some(dir.clone());
    }
    let dir = std::fs::canonicalize(home)
        .ok()
        .and_then(|p| p.into_os_string().into_string().ok())?;
    known.lock().ok()?.insert(home.to_path_buf(), dir.clone());
    Some(dir)
}

/// Where an attempt's file was written, as its events say: the home (`attempt_log.home`),
/// its folder then (`attempt_log.home_dir`) and the host it ran on (its worker's claim, else
/// the run's driver then).
#[derive(Debug, Clone, Copy, Default)]
pub struct WrittenBy<'a> {
    pub home: Option<&'a str>,
    pub dir: Option<&'a str>,
    pub host: Option<&'a str>,
}

/// Whose an attempt's file is, as `log verify` judges one it does not find in this home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whose {
    /// This home's: its absence is a loss, for this reason ("this home wrote it …").
    Here(String),
    /// Another home's on this machine, shown to be there (the folder its event records holds
    /// the `home.id` it records): the file is checked in that home.
    OtherHome(std::path::PathBuf),
    /// Not on this machine (written on another host): not checkable here.
    Elsewhere,
    /// Written on this machine by a home that cannot be shown to exist: its absence is a
    /// loss, for this reason.
    Unproven(String),
}

/// This home, as `belongs_here` compares with `WrittenBy`.
#[derive(Debug, Clone)]
pub struct ThisHome {
    pub id: Option<String>,
    /// Its folder, as `home_dir` names it.
    pub dir: Option<String>,
    pub host: String,
    /// The log is a SQLite file (so its attempts ran here unless they say otherwise).
    pub sqlite: bool,
}

impl ThisHome {
    pub fn of(home: &Path, sqlite: bool) -> ThisHome {
        ThisHome {
            id: home_id(home),
            dir: home_dir(home),
            host: super::hostname(),
            sqlite,
        }
    }
}

/// Whether the file at an attempt's path in this home (`logs/<run>/…`) is that attempt's own,
/// as its `attempt_log` says. On a log that keeps attempts' output (PostgreSQL: shared by
/// homes and hosts), only where the event names this home as the one that wrote it (its
/// identity, or — `home.id` replaced since — its folder on this host): the output of an
/// attempt another home wrote is the copy the database holds (else the file in the home that
/// wrote it). On a SQLite log the files beside it are its attempts' (`log copy` puts the
/// outputs of the runs it copies there), and where the event names no home (events from
/// before homes had an identity, or an attempt whose file is not recorded yet) the file here
/// is taken as its. Every reader of an attempt's output (`log verify`, `cortex logs`, the
/// TUI's pane, `log copy`) asks this first: a file of the same name that another home's
/// attempt left in this home (a run copied while unfinished and continued in both stores, or
/// planted) is never read for one the shared log says another home wrote — before, `log
/// verify` failed on it in that home only, and `cortex logs` printed it there.
pub fn file_here_is_its(by: WrittenBy<'_>, this: &ThisHome) -> bool {
    let Some(writer) = by.home else {
        return true;
    };
    this.sqlite
        || this.id.as_deref() == Some(writer)
        || (by.dir.is_some() && by.dir == this.dir.as_deref() && on_this_host(by, this))
}

/// The attempt ran on this host, as far as its events say (none: a SQLite log's attempts
/// ran here).
fn on_this_host(by: WrittenBy<'_>, this: &ThisHome) -> bool {
    by.host.map_or(this.sqlite, |host| host == this.host)
}

/// Whether an attempt's file belongs in this home, so that its absence is a loss rather than a
/// file kept elsewhere (`whose`: this home's, or a home that cannot be shown to exist). Where its event names the home that wrote it, exactly when that is
/// this home (its `home.id`): a log copied to another home or machine (`log copy`, or the
/// database file itself) is read there as "not here", and this home's own files are missed
/// however many are deleted — a run's whole `logs/<run>/` folder, or `logs/` — as long as
/// `home.id` stays. For events from before homes had an identity: the run's log folder is
/// here, and the attempt ran on this host or, where no host was recorded, the log is a local
/// SQLite home's; deleting a run's whole folder then reads as "not here".
pub fn belongs_here(home: &Path, file: &str, by: WrittenBy<'_>, this: &ThisHome) -> bool {
    matches!(
        whose(home, file, by, this),
        Whose::Here(_) | Whose::Unproven(_)
    )
}

/// Whose the file `file` is, that is not in this home (`Whose`). Where its event names the
/// home that wrote it: this home's when it names this home's identity, or (an attempt run on
/// this host: another host may have a home at the same folder) this home's folder
/// (its `home.id` deleted or replaced since: the identity is a file, the folder recorded in
/// the hash chain is not); another home's on this machine only when the folder recorded holds
/// that identity (then the file is checked there); not on this machine when another host ran
/// the attempt; otherwise unproven — a home nobody can find, which is what deleting `home.id`
/// with the files made before. Events from before homes had an identity are judged by the
/// run's folder and the host (`belongs_here`).
pub fn whose(home: &Path, file: &str, by: WrittenBy<'_>, this: &ThisHome) -> Whose {
    let on_this_host = on_this_host(by, this);
    let Some(writer) = by.home else {
        let folder_here = attempt_file_path(home, file)
            .ok()
            .is_some_and(|path| path.parent().is_some_and(Path::is_dir));
        return match folder_here && on_this_host {
            true => Whose::Here(String::new()),
            false => Whose::Elsewhere,
        };
    };
    if this.id.as_deref() == Some(writer) {
        return Whose::Here(format!("this home wrote it (home.id {writer})"));
    }
    let now = match &this.id {
        Some(id) => format!("its {HOME_ID_FILE} now holds {id}"),
        None => format!("its {HOME_ID_FILE} is missing"),
    };
    // Another host's home may well have the same folder: the folder names a home of this
    // host only.
    if !on_this_host {
        return Whose::Elsewhere;
    }
    if let (Some(dir), Some(here)) = (by.dir, this.dir.as_deref())
        && dir == here
    {
        return Whose::Here(format!(
            "this home ({dir}) wrote it as home.id {writer}, and {now}: {HOME_ID_FILE} was deleted or replaced since, so nothing here can vouch for the file elsewhere (restore {HOME_ID_FILE} to {writer} if it was lost by mistake)"
        ));
    }
    match by.dir {
        Some(dir) if home_id(Path::new(dir)).as_deref() == Some(writer) => {
            Whose::OtherHome(Path::new(dir).to_path_buf())
        }
        Some(dir) => Whose::Unproven(format!(
            "the home that wrote it on this machine (home.id {writer}, at {dir}) is not there ({dir} {}), and this home is not it ({now})",
            match Path::new(dir).is_dir() {
                true => format!("holds no {HOME_ID_FILE} {writer}"),
                false => "is gone".to_string(),
            }
        )),
        None => Whose::Unproven(format!(
            "the home that wrote it on this machine (home.id {writer}; its folder was not recorded then) cannot be found, and this home is not it ({now})"
        )),
    }
}

/// The host each attempt of a run ran on, by `(step, attempt)`: the worker that claimed it, or
/// else the driver of the run when it started.
pub fn attempt_hosts(
    store: &dyn EventStore,
    run_id: &str,
) -> Result<std::collections::HashMap<(String, u32), String>, StoreError> {
    let mut hosts = std::collections::HashMap::new();
    let mut driver: Option<String> = None;
    for rec in store.read_run(run_id)? {
        match rec.event {
            Event::RunStarted(started) => driver = Some(started.driver.host.clone()),
            Event::RunResumed { driver: d, .. } => driver = Some(d.host),
            Event::AttemptClaimed {
                step,
                attempt,
                host,
                ..
            } => {
                hosts.insert((step, attempt), host);
            }
            Event::StepStarted { step, attempt } => {
                if let Some(host) = &driver {
                    hosts.entry((step, attempt)).or_insert_with(|| host.clone());
                }
            }
            _ => {}
        }
    }
    Ok(hosts)
}

/// What `check_attempt_logs` found.
#[derive(Debug, Default)]
pub struct AttemptLogsChecked {
    /// Files found as their events recorded.
    pub checked: u64,
    /// Files not in this home (another host's attempts, another home's, or a log copied
    /// without them).
    pub absent: u64,
    /// Of `checked`, those found in another home on this machine sharing the log, the one
    /// that wrote them (`Whose::OtherHome`).
    pub other_home: u64,
    /// The first file that differs from its event.
    pub first_bad: Option<BadEvent>,
}

/// How many attempt logs (of one run, or of every run) were found as recorded, how many are
/// not on this machine, and the first whose file differs from what its event recorded or is
/// missing where it belongs (`belongs_here`; `sqlite`: the log is a SQLite file, whose
/// attempts ran here unless they say otherwise).
pub fn check_attempt_logs(
    store: &dyn EventStore,
    home: &Path,
    run_id: Option<&str>,
    sqlite: bool,
) -> Result<AttemptLogsChecked, StoreError> {
    let mut found = AttemptLogsChecked::default();
    let this = ThisHome::of(home, sqlite);
    // Read only for a run with an absent file: where its attempts ran.
    let mut hosts: std::collections::HashMap<
        String,
        std::collections::HashMap<(String, u32), String>,
    > = std::collections::HashMap::new();
    // Every file an event vouches for, by run.
    let mut vouched: std::collections::HashSet<(String, String)> = std::collections::HashSet::new();
    for rec in store.events_of_type(run_id, "attempt_log")? {
        if let Event::AttemptLog {
            step,
            attempt,
            file,
            bytes,
            blake3,
            home: writer,
            home_dir: writer_dir,
            ..
        } = &rec.event
        {
            vouched.insert((rec.run_id.clone(), file.clone()));
            // The file at its path here only where it is this attempt's (`file_here_is_its`):
            // one another home's attempt of the same name left here is not read (it failed
            // `log verify` in that home only, while every other home passed).
            let theirs = writer.as_deref().filter(|w| this.id.as_deref() != Some(*w));
            let mut ran_on = None;
            if theirs.is_some() && writer_dir.is_some() && *writer_dir == this.dir {
                ran_on = host_of(&mut hosts, store, &rec.run_id, step, *attempt)?;
            }
            let by = WrittenBy {
                home: writer.as_deref(),
                dir: writer_dir.as_deref(),
                host: ran_on.as_deref(),
            };
            let mut check = match file_here_is_its(by, &this) {
                true => check_attempt_log(home, file, *bytes, blake3),
                false => LogFileCheck::Absent,
            };
            // The copy the log keeps (PostgreSQL), checked the same way: what any home reads
            // where the file is not, so it is checked in every home, the one with the file too.
            if !matches!(check, LogFileCheck::Differs(_)) {
                match check_kept_output(store, &rec.run_id, file, *bytes, blake3)? {
                    Some(LogFileCheck::Differs(reason)) => check = LogFileCheck::Differs(reason),
                    Some(_) if check == LogFileCheck::Absent => check = LogFileCheck::AsRecorded,
                    _ => {}
                }
            }
            let check = match check {
                LogFileCheck::Absent => {
                    let ran_on = host_of(&mut hosts, store, &rec.run_id, step, *attempt)?;
                    let ran_on = ran_on.as_ref();
                    let by = WrittenBy {
                        home: writer.as_deref(),
                        dir: writer_dir.as_deref(),
                        host: ran_on.map(String::as_str),
                    };
                    let missing = |whose: String| {
                        LogFileCheck::Differs(format!(
                            "{file} is missing: {whose}; the log recorded {bytes} bytes of its output"
                        ))
                    };
                    match whose(home, file, by, &this) {
                        Whose::Here(why) if why.is_empty() => missing(format!(
                            "attempt {attempt} of `{step}` ran on this host ({})",
                            ran_on.map_or(this.host.as_str(), String::as_str)
                        )),
                        Whose::Here(why) | Whose::Unproven(why) => missing(why),
                        // Checked in the home that wrote it, on this machine.
                        Whose::OtherHome(there) => {
                            match check_attempt_log(&there, file, *bytes, blake3) {
                                LogFileCheck::AsRecorded => {
                                    found.other_home += 1;
                                    LogFileCheck::AsRecorded
                                }
                                LogFileCheck::Absent => missing(format!(
                                    "neither here nor in the home that wrote it ({}, home.id {})",
                                    there.display(),
                                    writer.as_deref().unwrap_or_default()
                                )),
                                LogFileCheck::Differs(why) => LogFileCheck::Differs(format!(
                                    "in the home that wrote it ({}): {why}",
                                    there.display()
                                )),
                            }
                        }
                        Whose::Elsewhere => LogFileCheck::Absent,
                    }
                }
                other => other,
            };
            match check {
                LogFileCheck::AsRecorded => found.checked += 1,
                LogFileCheck::Absent => found.absent += 1,
                LogFileCheck::Differs(reason) => {
                    found.first_bad = Some(BadEvent {
                        run_id: rec.run_id.clone(),
                        seq: rec.seq.min(i64::MAX as u64) as i64,
                        reason: format!("the attempt log: {reason}"),
                    });
                    return Ok(found);
                }
            }
        }
    }
    found.first_bad = disowned_file(store, home, run_id, &vouched)?;
    Ok(found)
}

/// The host attempt `attempt` of `step` ran on (`attempt_hosts`), the run's hosts read once
/// into `hosts`.
fn host_of(
    hosts: &mut std::collections::HashMap<String, std::collections::HashMap<(String, u32), String>>,
    store: &dyn EventStore,
    run_id: &str,
    step: &str,
    attempt: u32,
) -> Result<Option<String>, StoreError> {
    if !hosts.contains_key(run_id) {
        hosts.insert(run_id.to_string(), attempt_hosts(store, run_id)?);
    }
    Ok(hosts[run_id].get(&(step.to_string(), attempt)).cloned())
}

/// The first file in this home's `logs/` at the path of an attempt that ended with no
/// `attempt_log` (one that printed nothing writes no file): by the log's word that attempt's
/// output is empty, so a file there was put by someone else — a forged output `cortex logs`
/// would otherwise show. Only runs whose folder holds a file no event vouches for are read
/// (an interrupted attempt's, or such a one), so the cost is that of listing `logs/`.
fn disowned_file(
    store: &dyn EventStore,
    home: &Path,
    run_id: Option<&str>,
    vouched: &std::collections::HashSet<(String, String)>,
) -> Result<Option<BadEvent>, StoreError> {
    use std::collections::BTreeMap;
    let logs = home.join("logs");
    let runs: Vec<String> = match run_id {
        Some(run) => vec![run.to_string()],
        None => match std::fs::read_dir(&logs) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().into_string().ok())
                .collect(),
            Err(_) => return Ok(None),
        },
    };
    let mut runs = runs;
    runs.sort();
    for run in runs {
        let Ok(entries) = std::fs::read_dir(logs.join(&run)) else {
            continue;
        };
        let unvouched: std::collections::HashSet<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .map(|name| format!("logs/{run}/{name}"))
            .filter(|file| !vouched.contains(&(run.clone(), file.clone())))
            .collect();
        if unvouched.is_empty() {
            continue;
        }
        // Each attempt that ended, at the seq of its end, and those whose file is recorded.
        let mut ended: BTreeMap<(String, u32), i64> = BTreeMap::new();
        let mut recorded = std::collections::HashSet::new();
        for rec in store.read_run(&run)? {
            let seq = rec.seq.min(i64::MAX as u64) as i64;
            match &rec.event {
                Event::AttemptLog { step, attempt, .. } => {
                    recorded.insert((step.clone(), *attempt));
                }
                Event::StepSucceeded { step, attempt, .. }
                | Event::StepFailed { step, attempt, .. }
                | Event::StepTimedOut { step, attempt, .. } => {
                    ended.insert((step.clone(), *attempt), seq);
                }
                _ => {}
            }
        }
        for ((step, attempt), seq) in ended {
            if recorded.contains(&(step.clone(), attempt)) {
                continue;
            }
            let file = super::attempt_log_name(&run, &step, attempt);
            if unvouched.contains(&file) {
                return Ok(Some(BadEvent {
                    run_id: run.clone(),
                    seq,
                    reason: format!(
                        "the attempt log: {file} should not exist: attempt {attempt} of `{}` ended with no output recorded (it printed nothing, so no file was written), so this file is none of its — it was put there since",
                        crate::definition::shown(&step)
                    ),
                }));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::{
        ThisHome, Whose, WrittenBy, belongs_here, home_dir, home_id, home_id_to_write, whose,
    };

    /// An attempt's file is read or written only at a name cortex gives one
    /// (`logs/<run id>/<name>`): a name a log holds never leads anywhere else.
    #[test]
    fn an_attempt_file_is_only_where_cortex_writes_one() {
        use super::{LogFileCheck, attempt_file_path, check_attempt_log};
        use std::path::Path;
        let home = Path::new("/home/h");
        let id = "0000000000000000000000000R";
        assert_eq!(
            attempt_file_path(home, &format!("logs/{id}/step-a-attempt-1.log")).unwrap(),
            home.join("logs").join(id).join("step-a-attempt-1.log")
        );
        for file in [
            "logs/../../etc/passwd".to_string(),
            "/etc/passwd".to_string(),
            format!("logs/{id}/../x.log"),
            format!("logs/{id}/a/b.log"),
            format!("logs/{id}/"),
            format!("runs/{id}/x.log"),
            "logs/../x.log".to_string(),
            "logs/R/x.log".to_string(),
            "logs/x.log".to_string(),
            String::new(),
        ] {
            let refused = attempt_file_path(home, &file);
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|e| e.contains("not a path cortex writes")),
                "{file:?}: {refused:?}"
            );
        }
        assert!(matches!(
            check_attempt_log(home, "logs/../../etc/passwd", 0, ""),
            LogFileCheck::Differs(_)
        ));
    }

    /// Without a recorded home (events from before homes had an identity), an attempt's file
    /// belongs here when its run's log folder is in this home and it ran on this host,
    /// whatever the log; where no host is known, only on a SQLite home; never when another
    /// host ran it, nor when the run's folder is not here (a log copied from another home on
    /// the same machine).
    #[test]
    fn an_attempt_file_belongs_on_the_host_and_in_the_home_that_ran_it() {
        let home = std::env::temp_dir().join(format!("cortex-belongs-{}", std::process::id()));
        std::fs::create_dir_all(home.join("logs/0000000000000000000000000R")).unwrap();
        let file = "logs/0000000000000000000000000R/step-1-attempt-1.log";
        let this = |sqlite| ThisHome {
            id: None,
            dir: None,
            host: "here".into(),
            sqlite,
        };
        let on = |host| WrittenBy {
            home: None,
            dir: None,
            host,
        };
        assert!(belongs_here(&home, file, on(Some("here")), &this(false)));
        assert!(belongs_here(&home, file, on(Some("here")), &this(true)));
        assert!(!belongs_here(&home, file, on(Some("there")), &this(true)));
        assert!(!belongs_here(&home, file, on(Some("there")), &this(false)));
        assert!(belongs_here(&home, file, on(None), &this(true)));
        assert!(!belongs_here(&home, file, on(None), &this(false)));
        let copied = "logs/00000000000000000000000THR/step-1-attempt-1.log";
        assert!(!belongs_here(&home, copied, on(Some("here")), &this(true)));
        assert!(!belongs_here(&home, copied, on(None), &this(true)));
        std::fs::remove_dir_all(&home).unwrap();
    }

    /// With the home that wrote it recorded, a file belongs here exactly when this home is
    /// that one: whether its run's folder is still there, and whatever host, do not matter.
    #[test]
    fn an_attempt_file_belongs_to_the_home_whose_identity_its_event_records() {
        let home = std::env::temp_dir().join(format!("cortex-home-id-{}", std::process::id()));
        std::fs::create_dir_all(&home).unwrap();
        assert_eq!(home_id(&home), None);
        let id = home_id_to_write(&home).expect("an identity is made");
        assert_eq!(home_id(&home).as_deref(), Some(id.as_str()));
        assert_eq!(home_id_to_write(&home).as_deref(), Some(id.as_str()));
        let this = ThisHome {
            id: home_id(&home),
            dir: home_dir(&home),
            host: "here".into(),
            sqlite: true,
        };
        let gone = "logs/000000000000000000000000GN/step-1-attempt-1.log";
        let by = |home| WrittenBy {
            home,
            dir: None,
            host: Some("there"),
        };
        assert!(belongs_here(&home, gone, by(Some(&id)), &this));
        assert!(!belongs_here(
            &home,
            gone,
            by(Some("01ARZ3NDEKTSV4RRFFQ69G5FAV")),
            &this
        ));
        let elsewhere = ThisHome { id: None, ..this };
        assert!(!belongs_here(&home, gone, by(Some(&id)), &elsewhere));
        std::fs::remove_dir_all(&home).unwrap();
    }

    /// A file written on this machine by a home that is not this one is another home's only
    /// where the folder its event records holds that home's identity; this home's own folder
    /// recorded makes it this home's whatever its `home.id` now says (deleted or replaced);
    /// a folder gone or holding another identity proves no home: a loss.
    #[test]
    fn a_missing_home_id_never_makes_this_homes_files_another_homes() {
        let root = std::env::temp_dir().join(format!("cortex-whose-{}", std::process::id()));
        let (here, other) = (root.join("here"), root.join("other"));
        std::fs::create_dir_all(&here).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        let theirs = home_id_to_write(&other).unwrap();
        let file = "logs/0000000000000000000000000R/step-1-attempt-1.log";
        let this = ThisHome::of(&here, true);
        assert_eq!(this.id, None);
        let mine = home_dir(&here).unwrap();
        let by = |home, dir| WrittenBy {
            home: Some(home),
            dir: Some(dir),
            host: Some(this.host.as_str()),
        };
        let ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
        assert!(matches!(
            whose(&here, file, by(ulid, &mine), &this),
            Whose::Here(_)
        ));
        let there = home_dir(&other).unwrap();
        assert_eq!(
            whose(&here, file, by(&theirs, &there), &this),
            Whose::OtherHome(std::path::PathBuf::from(&there))
        );
        assert!(matches!(
            whose(&here, file, by(ulid, &there), &this),
            Whose::Unproven(_)
        ));
        let gone = root.join("gone").display().to_string();
        assert!(matches!(
            whose(&here, file, by(ulid, &gone), &this),
            Whose::Unproven(_)
        ));
        let on_another_host = WrittenBy {
            host: Some("another-host"),
            ..by(ulid, &gone)
        };
        assert_eq!(whose(&here, file, on_another_host, &this), Whose::Elsewhere);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
