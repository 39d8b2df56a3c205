//! The whole outputs of attempts, kept in files beside the log (`logs/<run>/...`): checking
//! them against the size and blake3 their `attempt_log` events record, and reading them.

use std::io::Read;
use std::path::Path;

use crate::event::Event;
use crate::store::{BadEvent, EventStore, StoreError};

/// What is wrong with the file an `attempt_log` event names, if anything.
pub fn attempt_log_problem(home: &Path, file: &str, bytes: u64, blake3: &str) -> Option<String> {
    if file.split('/').any(|part| part == ".." || part.is_empty()) {
        return Some(format!("`{file}` is not a path cortex writes"));
    }
    let mut opened = match super::materialize::derived_file()
        .read(true)
        .open(home.join(file))
    {
        Ok(f) => f,
        Err(e) => return Some(format!("{file} cannot be read: {e}")),
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
            Err(e) => return Some(format!("{file} cannot be read: {e}")),
        }
    }
    let hash = hasher.finalize().to_hex().to_string();
    if size != bytes || hash != blake3 {
        return Some(format!(
            "{file} was changed: it holds {size} bytes (blake3 {}), the log recorded {bytes} ({})",
            &hash[..12],
            &blake3[..blake3.len().min(12)]
        ));
    }
    None
}

/// How many attempt logs (of one run, or of every run) were checked, and the first whose file
/// is missing or differs from what its event recorded.
pub fn check_attempt_logs(
    store: &dyn EventStore,
    home: &Path,
    run_id: Option<&str>,
) -> Result<(u64, Option<BadEvent>), StoreError> {
    let mut checked = 0;
    let runs: Vec<String> = match run_id {
        Some(id) => vec![id.to_string()],
        None => store.runs()?.into_iter().map(|r| r.run_id).collect(),
    };
    for run in runs {
        for rec in store.read_run(&run)? {
            if let Event::AttemptLog {
                file,
                bytes,
                blake3,
                ..
            } = &rec.event
            {
                checked += 1;
                if let Some(reason) = attempt_log_problem(home, file, *bytes, blake3) {
                    return Ok((
                        checked,
                        Some(BadEvent {
                            run_id: run,
                            seq: rec.seq.min(i64::MAX as u64) as i64,
                            reason: format!("the attempt log: {reason}"),
                        }),
                    ));
                }
            }
        }
    }
    Ok((checked, None))
}
