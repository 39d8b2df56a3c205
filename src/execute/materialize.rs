//! Writing a run's derived files under `runs/<run-id>/` from its state: all of them at once, or
//! those the latest events changed, behind a driver on a thread of its own.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::decide::RunState;
use crate::event::Recorded;
use crate::project::{RunFile, changed_files, run_files};

/// Write every derived file of the run; stale checkpoint files (after `--from` or a rollback)
/// are removed.
pub fn materialize(home: &Path, state: &RunState) -> std::io::Result<()> {
    let dir = home.join("runs").join(&state.run_id);
    let files = run_files(state);
    std::fs::create_dir_all(dir.join("checkpoints"))?;
    let keep: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for entry in std::fs::read_dir(dir.join("checkpoints"))?.flatten() {
        let rel = format!("checkpoints/{}", entry.file_name().to_string_lossy());
        if !keep.contains(&rel.as_str()) {
            std::fs::remove_file(entry.path())?;
        }
    }
    write_all(&dir, &files)
}

/// Each file goes to a temporary name and is renamed, so a reader never sees half of one. No
/// fsync: these files are rebuilt from the log whenever they are lost.
fn write_all(dir: &Path, files: &[RunFile]) -> std::io::Result<()> {
    for file in files {
        let path = dir.join(&file.path);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, file.contents.as_bytes())?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}

/// Derived files written behind a driver, on a thread of their own, so that the driver never
/// waits for the file system between steps (creating a checkpoint file was a large part of a
/// short step). The contents are computed by the driver from the state it has; the thread only
/// writes them, in the order given. `finish` waits for every write and returns what failed.
/// The files are a cache of the log: a crash before they are written loses nothing.
#[derive(Default)]
pub struct WriteBehind {
    jobs: Option<mpsc::Sender<(PathBuf, Vec<RunFile>)>>,
    worker: Option<JoinHandle<Vec<String>>>,
    errors: Option<Vec<String>>,
}

impl WriteBehind {
    /// Queue the files `events` (just folded into `state`) changed.
    pub fn changes(&mut self, home: &Path, state: &RunState, events: &[Recorded]) {
        let dir = home.join("runs").join(&state.run_id);
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
            Some(files) => self.queue(dir, files),
        }
    }

    fn queue(&mut self, dir: PathBuf, files: Vec<RunFile>) {
        if self.jobs.is_none() {
            let (tx, rx) = mpsc::channel::<(PathBuf, Vec<RunFile>)>();
            self.jobs = Some(tx);
            self.worker = Some(std::thread::spawn(move || {
                let mut problems = Vec::new();
                for (dir, files) in rx {
                    let written = std::fs::create_dir_all(dir.join("checkpoints"))
                        .and_then(|()| write_all(&dir, &files));
                    if let Err(e) = written {
                        problems.push(e.to_string());
                    }
                }
                problems
            }));
        }
        let job = (dir, files);
        if let Some(Err(mpsc::SendError((dir, files)))) = self.jobs.as_ref().map(|t| t.send(job)) {
            // The writer is gone (it panicked): write here.
            if let Err(e) = std::fs::create_dir_all(dir.join("checkpoints"))
                .and_then(|()| write_all(&dir, &files))
            {
                self.failed(e);
            }
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
        self.jobs = None;
        if let Some(worker) = self.worker.take() {
            match worker.join() {
                Ok(problems) => into.extend(problems),
                Err(_) => into.push("the derived-file writer failed".into()),
            }
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

    fn file(path: &str, contents: &str) -> RunFile {
        RunFile {
            path: path.into(),
            contents: contents.into(),
        }
    }

    #[test]
    fn queued_files_are_all_written_in_order_by_finish() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("runs/R");
        let mut behind = WriteBehind::default();
        for i in 0..50 {
            behind.queue(
                run.clone(),
                vec![file("checkpoints/0001-a.json", &i.to_string())],
            );
        }
        behind.queue(run.clone(), vec![file("results.json", "{}")]);
        assert!(behind.finish().is_empty());
        let last = std::fs::read_to_string(run.join("checkpoints/0001-a.json")).unwrap();
        assert_eq!(last, "49", "the last write wins");
        assert!(run.join("results.json").is_file());
    }

    #[test]
    fn a_write_that_fails_is_reported_by_finish() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the run's folder should be.
        let run = dir.path().join("runs/R");
        std::fs::create_dir_all(run.parent().unwrap()).unwrap();
        std::fs::write(&run, "not a folder").unwrap();
        let mut behind = WriteBehind::default();
        behind.queue(run, vec![file("results.json", "{}")]);
        let problems = behind.finish();
        assert_eq!(problems.len(), 1, "{problems:?}");
    }
}
