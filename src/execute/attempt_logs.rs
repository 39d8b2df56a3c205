//! The whole outputs of attempts, kept in files beside the log (`logs/<run>/...`): checking
//! them against the size and blake3 their `attempt_log` events record, and reading them.

use std::io::Read;
use std::path::Path;

use crate::event::Event;
use crate::store::{BadEvent, EventStore, StoreError};

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

/// `Err(None)`: the file is absent.
fn file_problem(home: &Path, file: &str, bytes: u64, blake3: &str) -> Result<(), Option<String>> {
    if file.split('/').any(|part| part == ".." || part.is_empty()) {
        return Err(Some(format!("`{file}` is not a path cortex writes")));
    }
    let mut opened = match super::materialize::derived_file()
        .read(true)
        .open(home.join(file))
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(None),
        Err(e) => return Err(Some(format!("{file} cannot be read: {e}"))),
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

/// Whether an attempt's file belongs in this home, so that its absence is a loss rather than a
/// file kept elsewhere: the run's log folder is here (a home writes a run's attempt logs into
/// `logs/<run>/`; a log copied in from another home, even on this machine, has none), and the
/// attempt ran on this host (its worker's claim, else the driver of the run then) or, where no
/// host was recorded, the log is a local SQLite home's. An attempt another host ran (a worker
/// sharing a PostgreSQL log) keeps its file there. Deleting a run's whole log folder therefore
/// reads as "not here": the events still hold each attempt's size, hash and tail.
pub fn belongs_here(
    home: &Path,
    file: &str,
    ran_on: Option<&str>,
    this_host: &str,
    sqlite: bool,
) -> bool {
    let folder_here = home.join(file).parent().is_some_and(Path::is_dir);
    folder_here && ran_on.map_or(sqlite, |host| host == this_host)
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
    /// Files not on this machine (another host's attempts, or a log copied without them).
    pub absent: u64,
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
    let this_host = super::hostname();
    // Read only for a run with an absent file: where its attempts ran.
    let mut hosts: std::collections::HashMap<
        String,
        std::collections::HashMap<(String, u32), String>,
    > = std::collections::HashMap::new();
    for rec in store.events_of_type(run_id, "attempt_log")? {
        if let Event::AttemptLog {
            step,
            attempt,
            file,
            bytes,
            blake3,
        } = &rec.event
        {
            let check = match check_attempt_log(home, file, *bytes, blake3) {
                LogFileCheck::Absent => {
                    if !hosts.contains_key(&rec.run_id) {
                        hosts.insert(rec.run_id.clone(), attempt_hosts(store, &rec.run_id)?);
                    }
                    let ran_on = hosts[&rec.run_id].get(&(step.clone(), *attempt));
                    if belongs_here(home, file, ran_on.map(String::as_str), &this_host, sqlite) {
                        LogFileCheck::Differs(format!(
                            "{file} is missing: attempt {attempt} of `{step}` ran on this host ({}) and the log recorded {bytes} bytes of its output",
                            ran_on.map_or(this_host.as_str(), String::as_str)
                        ))
                    } else {
                        LogFileCheck::Absent
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
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::belongs_here;

    /// An attempt's file belongs here when its run's log folder is in this home and it ran on
    /// this host, whatever the log; where no host is known, only on a SQLite home; never when
    /// another host ran it, nor when the run's folder is not here (a log copied from another
    /// home on the same machine).
    #[test]
    fn an_attempt_file_belongs_on_the_host_and_in_the_home_that_ran_it() {
        let home = std::env::temp_dir().join(format!("cortex-belongs-{}", std::process::id()));
        std::fs::create_dir_all(home.join("logs/R")).unwrap();
        let file = "logs/R/step-1-attempt-1.log";
        assert!(belongs_here(&home, file, Some("here"), "here", false));
        assert!(belongs_here(&home, file, Some("here"), "here", true));
        assert!(!belongs_here(&home, file, Some("there"), "here", true));
        assert!(!belongs_here(&home, file, Some("there"), "here", false));
        assert!(belongs_here(&home, file, None, "here", true));
        assert!(!belongs_here(&home, file, None, "here", false));
        let copied = "logs/OTHER/step-1-attempt-1.log";
        assert!(!belongs_here(&home, copied, Some("here"), "here", true));
        assert!(!belongs_here(&home, copied, None, "here", true));
        std::fs::remove_dir_all(&home).unwrap();
    }
}
