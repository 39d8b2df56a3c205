//! Writing a run's derived files under `runs/<run-id>/` from its state: all of them, or only
//! those the latest events changed.

use std::path::Path;

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

/// Write only the files `events` (just folded into `state`) changed: one checkpoint per step,
/// not all of them again.
pub fn materialize_changes(
    home: &Path,
    state: &RunState,
    events: &[Recorded],
) -> std::io::Result<()> {
    match changed_files(state, events) {
        None => materialize(home, state),
        Some(files) if files.is_empty() => Ok(()),
        Some(files) => {
            let dir = home.join("runs").join(&state.run_id);
            std::fs::create_dir_all(dir.join("checkpoints"))?;
            write_all(&dir, &files)
        }
    }
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
