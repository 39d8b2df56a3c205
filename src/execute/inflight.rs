//! The notes of which process groups a driver has running, so that the next driver can end
//! those a killed one left behind before their steps run again, and only those. A hint for
//! cleanup, not state: the log says which attempts were in flight.
//!
//! One append-only file per run (`locks/RUN.pgids`, beside the run's lock), a line per start and per end, so that
//! running a step creates and deletes no file (creating inodes was the largest cost of a short
//! step on ext4).
//!
//! A process group id is only a number: after a reboot or once the group is gone, the system
//! gives it to anyone. A start line therefore also names the boot and the leader's start time
//! (`KEY PGID BOOT START`, from `/proc`), and a group is ended only while it is provably the
//! one noted: same boot, and its leader the same process (same start time) carrying the run's
//! `CORTEX_RUN_ID` in its environment, or, once the leader is gone, every member still
//! carrying it.
//! A line of the older form `KEY PGID` is held to the environment test alone.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::procinfo::{boot_id, group_members, started_with, stat};

/// The notes file of `run_id`, beside the run's lock (`locks/RUN.pgids`, in the folder
/// `lock::lock_folder` names): whoever can take the run over (a driver of another home on the
/// same SQLite log too) finds there what a killed driver left running, and deleting the
/// derived `runs/` folder does not lose them. Before, they were in the run's `work/` folder
/// of the driver's home: a resume from another home on a shared log ran a step again while
/// the dead driver's command still ran.
/// An id that is no run id names no notes (`materialize::run_path_part`).
pub fn inflight_notes(home: &Path, run_id: &str) -> std::io::Result<PathBuf> {
    let part = super::run_path_part(run_id)?;
    Ok(super::lock::lock_folder(home).join(format!("{part}.pgids")))
}

/// The note that the unit of key `key` (`runner::unit_key`) runs in process group `pgid`;
/// ended by `ended`.
pub struct InflightNote {
    file: Option<Arc<File>>,
    key: String,
}

/// The notes file a driver appends to, opened at its first note and kept open for the rest of
/// its session (opening it for every step was a third of a short step's file-system calls).
/// Only this driver writes it meanwhile: the file is removed when a driver takes a run over
/// (`end_orphans`, which `forget`s it here too), and a driver that took over from this one
/// holds the run's lock, so this one is gone.
#[derive(Debug, Clone, Default)]
pub struct NotesFile(Arc<Mutex<Option<OpenNotes>>>);

/// A notes file's path and the file opened there.
type OpenNotes = (PathBuf, Arc<File>);

impl NotesFile {
    /// The open notes file at `path`, opened now if it is not open yet.
    fn at(&self, path: &Path) -> Option<Arc<File>> {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, file)) = open.as_ref()
            && at == path
        {
            return Some(file.clone());
        }
        // Never through a link: a planted notes file, or a `locks/` folder that is a link,
        // must not receive our notes (the run's lock refuses such a folder too).
        if path
            .parent()
            .is_some_and(|dir| !std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()))
        {
            return None;
        }
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            // Owner-only, as the run's lock file beside it.
            super::materialize::derived_file()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
        }
        .and_then(super::materialize::regular)
        .ok()
        .map(Arc::new)?;
        *open = Some((path.to_path_buf(), file.clone()));
        Some(file)
    }

    /// Close the file: it is being removed.
    pub fn forget(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl InflightNote {
    /// Note the start (best effort: without the note, only the cleanup after a crash is lost).
    /// Called while the leader `pgid` has not been waited for, so its `/proc` entry is its own.
    pub fn started(open: &NotesFile, notes: &Path, key: &str, pgid: i32) -> InflightNote {
        let line = match (boot_id(), stat(pgid).map(|s| s.start)) {
            (Some(boot), Some(start)) => format!("{key} {pgid} {boot} {start}\n"),
            _ => format!("{key} {pgid}\n"),
        };
        // One write of one line (`O_APPEND`): appends from parallel phases never interleave.
        let file = open
            .at(notes)
            .filter(|f| (&**f).write_all(line.as_bytes()).is_ok());
        InflightNote {
            file,
            key: key.to_string(),
        }
    }

    /// Note that the group's leader has been waited for.
    pub fn ended(self) {
        if let Some(f) = self.file.as_deref() {
            let mut f: &File = f;
            let _ = f.write_all(format!("{} -\n", self.key).as_bytes());
        }
    }
}

/// A group the notes leave running, and what identified it when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Noted {
    pub pgid: i32,
    /// The boot and the leader's start time (clock ticks since boot); `None` on a line of the
    /// older form, or where the system has no `/proc`.
    pub identity: Option<(String, u64)>,
}

/// The groups the notes leave running: the last line of each step names a group.
pub fn unfinished(text: &str) -> Vec<Noted> {
    unfinished_keyed(text).into_iter().map(|(_, n)| n).collect()
}

/// `unfinished`, each group with the key it was noted under (a unit's key, or
/// `what-KEY` for another command of a unit: `runner::command_key`).
pub fn unfinished_keyed(text: &str) -> Vec<(String, Noted)> {
    let mut last: std::collections::BTreeMap<&str, Option<Noted>> = Default::default();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let noted = match parts[..] {
            [index, "-"] => Some((index, None)),
            [index, pgid] => Some((
                index,
                pgid.parse().ok().map(|pgid| Noted {
                    pgid,
                    identity: None,
                }),
            )),
            [index, pgid, boot, start] => Some((
                index,
                pgid.parse()
                    .ok()
                    .zip(start.parse().ok())
                    .map(|(pgid, start)| Noted {
                        pgid,
                        identity: Some((boot.to_string(), start)),
                    }),
            )),
            // A torn or foreign line says nothing.
            _ => None,
        };
        if let Some((index, noted)) = noted {
            last.insert(index, noted);
        }
    }
    last.into_iter()
        .filter_map(|(k, n)| n.map(|n| (k.to_string(), n)))
        .collect()
}

/// The most the notes of one session can hold and still be read: a line is about 60 bytes
/// and a session notes two per attempt, so 16 MiB is some 140,000 attempts — no session's
/// notes come near it. A larger file is not cortex's: like a link, it is removed unread.
const MAX_NOTES_BYTES: u64 = 16 << 20;

/// End the groups a dead driver of run `run_id` left running (TERM, then KILL after `grace`),
/// then start the notes afresh. Returns the groups that were still alive and provably the
/// run's; any other group the notes name is left alone. A link in the notes' place is not
/// read (it could name anyone's process groups), only removed; so is a file too large to be
/// notes (`MAX_NOTES_BYTES`).
///
/// `keep` says which keys are not orphans: the units a live worker claimed (their leases
/// decide), whose commands go on — a worker taking over a run it helps with once ended its
/// own phase. While any is kept, the notes stay as they are (their worker goes on adding to
/// them).
pub fn end_orphans(
    notes: &Path,
    run_id: &str,
    grace: Duration,
    keep: &dyn Fn(&str) -> bool,
) -> Vec<i32> {
    let Ok(text) = super::materialize::read_derived(notes, MAX_NOTES_BYTES) else {
        let _ = std::fs::remove_file(notes);
        return Vec::new();
    };
    let (kept, ended): (Vec<_>, Vec<_>) = unfinished_keyed(&text)
        .into_iter()
        .partition(|(key, _)| keep(key));
    // Every group at once (`end_orphan_groups`): one slow to exit on TERM does not hold
    // back the signal to the others.
    let ours: Vec<i32> = ended
        .into_iter()
        .filter(|(_, noted)| is_the_runs(noted, run_id))
        .map(|(_, noted)| noted.pgid)
        .collect();
    let ended = super::end_orphan_groups(&ours, grace);
    if kept.is_empty() {
        let _ = std::fs::remove_file(notes);
    }
    ended
}

/// Whether a process group a dead driver of run `run_id` left is still running (provably the
/// run's, as `end_orphans` judges it): its commands go on though nothing drives it. Read
/// only; nothing is ended.
pub fn orphans_alive(notes: &Path, run_id: &str) -> bool {
    let Ok(text) = super::materialize::read_derived(notes, MAX_NOTES_BYTES) else {
        return false;
    };
    unfinished(&text)
        .iter()
        .any(|noted| is_the_runs(noted, run_id) && super::process::group_alive_pgid(noted.pgid))
}

/// The keys starting with `prefix` whose last note is a start (their command was running when
/// its driver last noted anything), each with whether its group still runs, provably the
/// run's (as `end_orphans` judges it). Read only.
pub fn unfinished_under(notes: &Path, run_id: &str, prefix: &str) -> Vec<(String, bool)> {
    let Ok(text) = super::materialize::read_derived(notes, MAX_NOTES_BYTES) else {
        return Vec::new();
    };
    unfinished_keyed(&text)
        .into_iter()
        .filter(|(key, _)| key.starts_with(prefix))
        .map(|(key, noted)| {
            let alive = is_the_runs(&noted, run_id) && super::process::group_alive_pgid(noted.pgid);
            (key, alive)
        })
        .collect()
}

/// Is the group the notes name still the one run `run_id` started? Anything that cannot be
/// shown is a no: ending a stranger's group is worse than leaving one of ours running.
pub(super) fn is_the_runs(noted: &Noted, run_id: &str) -> bool {
    if noted.pgid <= 1 {
        return false;
    }
    if let Some((boot, _)) = &noted.identity
        && boot_id().as_deref() != Some(boot.as_str())
    {
        return false;
    }
    match (stat(noted.pgid), &noted.identity) {
        // The leader lives: it must lead the group still, be the process noted, and carry
        // the run's id. The boot and start time alone are what anyone can read from `/proc`:
        // a line forged with a stranger's (the notes are a file, not the log) had that
        // stranger ended by the next resume or abort.
        (Some(leader), Some((_, start))) => {
            leader.pgrp == noted.pgid && leader.start == *start && carries_run(noted.pgid, run_id)
        }
        (Some(leader), None) => leader.pgrp == noted.pgid && carries_run(noted.pgid, run_id),
        // The leader is gone but the number is still held by the group: every member left
        // must say it is the run's.
        (None, identity) => {
            let members = group_members(noted.pgid);
            !members.is_empty()
                && members.iter().all(|(pid, stat)| {
                    identity
                        .as_ref()
                        .is_none_or(|(_, start)| stat.start >= *start)
                        && carries_run(*pid, run_id)
                })
        }
    }
}

/// Was process `pid` started for run `run_id` (every step has `CORTEX_RUN_ID`)?
fn carries_run(pid: i32, run_id: &str) -> bool {
    started_with(pid, &format!("CORTEX_RUN_ID={run_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pgids(noted: Vec<Noted>) -> Vec<i32> {
        let mut left: Vec<i32> = noted.into_iter().map(|n| n.pgid).collect();
        left.sort();
        left
    }

    #[test]
    fn only_groups_without_an_end_line_are_left_running() {
        let text = "1 100\n1 -\n2 200\n3 300\n3 -\n3 301 b00t 77\n4 400 b00t\ntorn li";
        let left = unfinished(text);
        assert_eq!(pgids(left.clone()), vec![200, 301]);
        assert!(left.contains(&Noted {
            pgid: 301,
            identity: Some(("b00t".into(), 77))
        }));
        assert!(left.contains(&Noted {
            pgid: 200,
            identity: None
        }));
    }

    #[test]
    fn notes_planted_too_large_to_be_notes_are_removed_unread() {
        let dir = tempfile::tempdir().unwrap();
        let notes = dir.path().join("inflight.pgids");
        // Sparse: 100 GB that were read whole.
        std::fs::File::create(&notes)
            .unwrap()
            .set_len(100 << 30)
            .unwrap();
        assert!(end_orphans(&notes, "r", Duration::from_millis(10), &|_| false).is_empty());
        assert!(!notes.exists());
    }

    #[test]
    fn linked_notes_are_neither_written_nor_read() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        // pgid 1 would be refused anyway; what matters is that the file is never read.
        std::fs::write(&target, "1 999999\n").unwrap();
        let notes = dir.path().join("inflight.pgids");
        std::os::unix::fs::symlink(&target, &notes).unwrap();
        InflightNote::started(&NotesFile::default(), &notes, "4", 1234).ended();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "1 999999\n");
        assert!(end_orphans(&notes, "r", Duration::from_millis(10), &|_| false).is_empty());
        assert!(!notes.exists() && std::fs::symlink_metadata(&notes).is_err());
        assert!(
            target.exists(),
            "the link is removed, not what it points to"
        );
    }

    #[test]
    fn a_note_names_the_boot_and_the_leaders_start_and_its_end_leaves_nothing_running() {
        let dir = tempfile::tempdir().unwrap();
        let notes = dir.path().join("inflight.pgids");
        let me = std::process::id() as i32;
        InflightNote::started(&NotesFile::default(), &notes, "4", me).ended();
        let _open = InflightNote::started(&NotesFile::default(), &notes, "5", me);
        let text = std::fs::read_to_string(&notes).unwrap();
        let boot = boot_id().unwrap();
        let start = stat(me).unwrap().start;
        assert_eq!(
            text,
            format!("4 {me} {boot} {start}\n4 -\n5 {me} {boot} {start}\n")
        );
        assert_eq!(
            unfinished(&text),
            vec![Noted {
                pgid: me,
                identity: Some((boot, start))
            }]
        );
    }

    #[test]
    fn a_group_is_the_runs_only_while_its_leader_is_the_process_noted() {
        use std::os::unix::process::CommandExt;
        let mut ours = std::process::Command::new("sleep")
            .arg("30")
            .env("CORTEX_RUN_ID", "run-1")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = ours.id() as i32;
        // `spawn` returns once the exec is past its point of no return, a moment before the
        // kernel fills in where the new environment lies: wait for it to be readable.
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::read(format!("/proc/{pgid}/environ")).is_ok_and(|e| e.is_empty())
            && std::time::Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let boot = boot_id().unwrap();
        let start = stat(pgid).unwrap().start;
        let noted = |identity| Noted { pgid, identity };
        assert!(is_the_runs(&noted(Some((boot.clone(), start))), "run-1"));
        assert!(
            !is_the_runs(&noted(Some((boot.clone(), start + 1))), "run-1"),
            "another process now leads the group (a pid reused)"
        );
        assert!(
            !is_the_runs(&noted(Some(("another-boot".into(), start))), "run-1"),
            "noted before a reboot"
        );
        assert!(is_the_runs(&noted(None), "run-1"), "an older note, our run");
        assert!(
            !is_the_runs(&noted(None), "run-2"),
            "an older note naming another run's group"
        );
        ours.kill().unwrap();
        ours.wait().unwrap();
        assert!(!is_the_runs(&noted(Some((boot, start))), "run-1"));
    }
}
