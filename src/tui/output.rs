//! Reading the output pane's text: the last part of the selected attempt's whole-output file
//! beside the log, else — where the log keeps attempts' output itself (PostgreSQL: run on
//! another host, its file not here) — the last part of what it keeps, else the tail the log
//! kept of it. Bounded: a long file is read from its last `PANE_BYTES`, never whole; what the
//! log keeps is copied into a file once and caught up with as it grows (`KeptCopy`, as
//! `cortex logs` reads it).

use std::path::Path;

use crate::ops::attempt_file::{self, KeptCopy};
use crate::store::{EventStore, Location};

use super::app::{OutputSource, OutputView, OutputWanted};

/// The most of a file the pane reads: far more than a screen shows.
pub const PANE_BYTES: u64 = 64 * 1024;

/// Reads the pane's text: the log, opened for reading the first time an attempt's file is not
/// in the home, and the copy of the output it keeps of the attempt shown.
pub struct Reader {
    location: Option<Location>,
    store: Option<Box<dyn EventStore>>,
    /// The run and file the copy holds the output of.
    copy: Option<(String, String, KeptCopy)>,
    /// Of the run and file last asked about, whether the file at its path in this home is
    /// its own (`execute::file_here_is_its`), once its `attempt_log` was read.
    owner: Option<(String, String, bool)>,
}

impl Reader {
    /// A reader of the home's files only.
    pub fn files() -> Reader {
        Reader {
            location: None,
            store: None,
            copy: None,
            owner: None,
        }
    }

    /// A reader of the home's files, and of what the log at `location` keeps.
    pub fn at(location: Location) -> Reader {
        Reader {
            location: Some(location),
            ..Reader::files()
        }
    }

    /// The pane's text for `wanted`, read now.
    pub fn read(&mut self, home: &Path, wanted: &OutputWanted) -> OutputView {
        let view = |text: String, source: OutputSource| OutputView {
            run_id: wanted.run_id.clone(),
            step: wanted.step.clone(),
            attempt: wanted.attempt,
            text,
            source,
            complete: wanted.ended,
        };
        let own = match self.file_here_is_its(home, wanted) {
            true => attempt_file::open(home, &wanted.file),
            false => None,
        };
        let found = match own {
            Some(f) => {
                last_part(f).map(|(raw, bytes, cut)| (raw, OutputSource::File { bytes, cut }))
            }
            None => self
                .kept(wanted)
                .and_then(last_part)
                .map(|(raw, bytes, cut)| (raw, OutputSource::Log { bytes, cut })),
        };
        match found {
            Some((raw, source)) => {
                // While it runs, a line being written too (`Waiting for lock...`: the writer
                // passes a partial line on after a moment), but not a character cut by a
                // write.
                let raw = if wanted.ended {
                    &raw[..]
                } else {
                    &raw[..raw.len() - crate::render::cut_character(&raw)]
                };
                let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
                view(text, source)
            }
            // Neither here nor in the log: the attempt printed nothing yet (or at all), or it
            // ran on another host of a log that keeps no output (SQLite), or its file was
            // removed: what the log kept of its end is what there is.
            None if !wanted.tail.is_empty() => view(wanted.tail.clone(), OutputSource::KeptTail),
            None => view(String::new(), OutputSource::Nothing),
        }
    }

    /// Whether the file at `wanted`'s path in `home` is its own, as its `attempt_log` says
    /// (`execute::file_here_is_its`: one another home's attempt left here is never shown as
    /// its output). Read once the attempt has ended (its `attempt_log` is recorded then), and
    /// kept for it; before, or where the log cannot be read, the file here is taken as its.
    fn file_here_is_its(&mut self, home: &Path, wanted: &OutputWanted) -> bool {
        if let Some((run, file, its)) = &self.owner
            && *run == wanted.run_id
            && *file == wanted.file
        {
            return *its;
        }
        if !wanted.ended {
            return true;
        }
        if self.store.is_none() {
            self.store = self
                .location
                .as_ref()
                .and_then(|l| l.open_read().ok().flatten());
        }
        let Some(store) = self.store.as_deref() else {
            return true;
        };
        let sqlite = matches!(self.location, Some(Location::Sqlite(_)));
        let Ok(logs) = store.events_of_type(Some(&wanted.run_id), "attempt_log") else {
            return true;
        };
        let recorded = logs.into_iter().find_map(|rec| match rec.event {
            crate::event::Event::AttemptLog {
                file,
                home,
                home_dir,
                ..
            } if file == wanted.file => Some((home, home_dir)),
            _ => None,
        });
        let its = match recorded {
            None => true,
            Some((writer, dir)) => {
                let this = crate::execute::ThisHome::of(home, sqlite);
                let host = crate::execute::attempt_hosts(store, &wanted.run_id)
                    .ok()
                    .and_then(|hosts| hosts.get(&(wanted.step.clone(), wanted.attempt)).cloned());
                let by = crate::execute::WrittenBy {
                    home: writer.as_deref(),
                    dir: dir.as_deref(),
                    host: host.as_deref(),
                };
                crate::execute::file_here_is_its(by, &this)
            }
        };
        self.owner = Some((wanted.run_id.clone(), wanted.file.clone(), its));
        its
    }

    /// The output of `wanted` as the log keeps it, caught up with now, opened for reading;
    /// None where the log keeps none of it (or none at all, or cannot be read now: the next
    /// tick tries again).
    fn kept(&mut self, wanted: &OutputWanted) -> Option<std::fs::File> {
        if self.store.is_none() {
            self.store = self.location.as_ref()?.open_read().ok()??.into();
        }
        let store = self.store.as_deref()?;
        if !store.keeps_attempt_output() {
            return None;
        }
        let same = self
            .copy
            .as_ref()
            .is_some_and(|(run, file, _)| *run == wanted.run_id && *file == wanted.file);
        if !same {
            self.copy = Some((
                wanted.run_id.clone(),
                wanted.file.clone(),
                KeptCopy::new().ok()?,
            ));
        }
        let (_, _, copy) = self.copy.as_mut()?;
        match copy.catch_up(store, &wanted.run_id, &wanted.file) {
            Ok(true) => copy.reopen(),
            Ok(false) => None,
            // The connection dropped: opened again at the next read.
            Err(_) => {
                self.store = None;
                None
            }
        }
    }
}

/// The last `PANE_BYTES` of the file (from the first line that starts in them when the file
/// is longer), its size, and whether its start was left out.
fn last_part(mut f: std::fs::File) -> Option<(Vec<u8>, u64, bool)> {
    let bytes = attempt_file::size(&f).ok()?;
    let (from, mut raw) = attempt_file::tail(&mut f, bytes, PANE_BYTES).ok()?;
    if from > 0
        && let Some(nl) = memchr::memchr(b'\n', &raw)
    {
        raw.drain(..=nl);
    }
    Some((raw, bytes, from > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An attempt's file, where cortex keeps one (`execute::attempt_file_path`).
    const OUT: &str = "logs/0000000000000000000000000R/step-s-attempt-1.log";

    /// A home with the run's folder of attempt logs.
    fn home() -> tempfile::TempDir {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(OUT).parent().unwrap()).unwrap();
        home
    }

    fn wanted(file: &str, tail: &str, ended: bool) -> OutputWanted {
        OutputWanted {
            run_id: "0000000000000000000000000R".into(),
            step: "s".into(),
            attempt: 1,
            file: file.into(),
            tail: tail.into(),
            ended,
        }
    }

    #[test]
    fn a_long_file_is_read_from_its_last_lines_only() {
        let home = home();
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("line {i}\r\n"));
        }
        std::fs::write(home.path().join(OUT), &text).unwrap();
        let v = Reader::files().read(home.path(), &wanted(OUT, "", true));
        assert_eq!(
            v.source,
            OutputSource::File {
                bytes: text.len() as u64,
                cut: true
            }
        );
        assert!(
            v.text.ends_with("line 19999\n"),
            "{}",
            &v.text[v.text.len() - 40..]
        );
        assert!(v.text.starts_with("line "), "starts at a whole line");
        assert!(v.text.len() as u64 <= PANE_BYTES && !v.text.contains('\r'));
    }

    #[test]
    fn a_running_attempt_shows_its_partial_line_but_no_cut_character_and_a_missing_file_the_kept_tail()
     {
        let home = home();
        std::fs::write(home.path().join(OUT), "done\nhalf a li").unwrap();
        let v = Reader::files().read(home.path(), &wanted(OUT, "", false));
        assert_eq!(v.text, "done\nhalf a li");
        std::fs::write(home.path().join(OUT), b"done\nwaiting \xc3").unwrap();
        let v = Reader::files().read(home.path(), &wanted(OUT, "", false));
        assert_eq!(v.text, "done\nwaiting ");
        let v = Reader::files().read(
            home.path(),
            &wanted(
                "logs/0000000000000000000000000R/elsewhere.log",
                "kept\n",
                true,
            ),
        );
        assert_eq!(
            (v.text.as_str(), v.source),
            ("kept\n", OutputSource::KeptTail)
        );
        let v = Reader::files().read(
            home.path(),
            &wanted("logs/0000000000000000000000000R/elsewhere.log", "", false),
        );
        assert_eq!(v.source, OutputSource::Nothing);
    }
}
