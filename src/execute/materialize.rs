//! Writing a run's derived files under `runs/<run-id>/`, atomically, from its state.

use std::io::Write;
use std::path::Path;

use crate::decide::RunState;
use crate::project::run_files;

/// Write every derived file of the run; stale checkpoint files (after `--from` or a rollback)
/// are removed. Files are written to a temporary name and renamed, so a reader never sees half.
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
    for file in files {
        let path = dir.join(&file.path);
        if std::fs::read_to_string(&path).is_ok_and(|old| old == file.contents) {
            continue;
        }
        let tmp = path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(file.contents.as_bytes())?;
        f.sync_data()?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}
