//! The notes of which process groups a driver has running, so that the next driver can end
//! those a killed one left behind before their steps run again. A hint for cleanup, not state:
//! the log says which attempts were in flight.
//!
//! One append-only file per run (`work/inflight.pgids`), a line per start and per end, so that
//! running a step creates and deletes no file (creating inodes was the largest cost of a short
//! step on ext4).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The notes file of `run_id`.
pub fn inflight_notes(home: &Path, run_id: &str) -> PathBuf {
    home.join("runs")
        .join(run_id)
        .join("work")
        .join("inflight.pgids")
}

/// The note that the unit of key `key` (`runner::unit_key`) runs in process group `pgid`;
/// ended by `ended`.
pub struct InflightNote {
    file: Option<File>,
    key: String,
}

impl InflightNote {
    /// Note the start (best effort: without the note, only the cleanup after a crash is lost).
    pub fn started(notes: &Path, key: &str, pgid: i32) -> InflightNote {
        // Never through a link: a planted `inflight.pgids` must not receive our notes.
        let file = super::materialize::derived_file()
            .create(true)
            .append(true)
            .open(notes)
            .ok()
            .and_then(|mut f| {
                // One write of one line: appends from parallel phases never interleave.
                f.write_all(format!("{key} {pgid}\n").as_bytes())
                    .ok()
                    .map(|()| f)
            });
        InflightNote {
            file,
            key: key.to_string(),
        }
    }

    /// Note that the group's leader has been waited for.
    pub fn ended(mut self) {
        if let Some(f) = self.file.as_mut() {
            let _ = f.write_all(format!("{} -\n", self.key).as_bytes());
        }
    }
}

/// The groups the notes leave running: the last line of each step names a group.
pub fn unfinished(text: &str) -> Vec<i32> {
    let mut last: std::collections::BTreeMap<&str, Option<i32>> = Default::default();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        if let (Some(index), Some(what), None) = (parts.next(), parts.next(), parts.next()) {
            last.insert(index, what.parse().ok());
        }
    }
    last.into_values().flatten().collect()
}

/// End the groups a dead driver of the run left running (TERM, then KILL after `grace`),
/// then start the notes afresh. Returns the groups that were still alive. A link in the
/// notes' place is not read (it could name anyone's process groups), only removed.
pub fn end_orphans(notes: &Path, grace: Duration) -> Vec<i32> {
    let Ok(text) = super::materialize::read_derived(notes) else {
        let _ = std::fs::remove_file(notes);
        return Vec::new();
    };
    let ended = unfinished(&text)
        .into_iter()
        .filter(|&pgid| super::end_orphan_group(pgid, grace))
        .collect();
    let _ = std::fs::remove_file(notes);
    ended
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_groups_without_an_end_line_are_left_running() {
        let text = "1 100\n1 -\n2 200\n3 300\n3 -\n3 301\ntorn li";
        let mut left = unfinished(text);
        left.sort();
        assert_eq!(left, vec![200, 301]);
    }

    #[test]
    fn linked_notes_are_neither_written_nor_read() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        // pgid 1 would be refused anyway; what matters is that the file is never read.
        std::fs::write(&target, "1 999999\n").unwrap();
        let notes = dir.path().join("inflight.pgids");
        std::os::unix::fs::symlink(&target, &notes).unwrap();
        InflightNote::started(&notes, "4", 1234).ended();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "1 999999\n");
        assert!(end_orphans(&notes, Duration::from_millis(10)).is_empty());
        assert!(!notes.exists() && std::fs::symlink_metadata(&notes).is_err());
        assert!(
            target.exists(),
            "the link is removed, not what it points to"
        );
    }

    #[test]
    fn a_note_and_its_end_leave_nothing_running() {
        let dir = tempfile::tempdir().unwrap();
        let notes = dir.path().join("inflight.pgids");
        InflightNote::started(&notes, "4", 1234).ended();
        let _open = InflightNote::started(&notes, "5", 5678);
        let text = std::fs::read_to_string(&notes).unwrap();
        assert_eq!(text, "4 1234\n4 -\n5 5678\n");
        assert_eq!(unfinished(&text), vec![5678]);
    }
}
