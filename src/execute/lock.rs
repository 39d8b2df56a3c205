//! One driver per run: an exclusive OS file lock that dies with its process.
//!
//! `flock`-style locks are released by the kernel when the holder exits for any reason, so a
//! killed driver never leaves a run locked, and a probe tells at once whether a run in the
//! `running` phase still has a live driver (else it is `interrupted`).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who holds a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub actor: String,
    pub since: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "process {} on {} ({}, since {})",
            self.pid, self.host, self.actor, self.since
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("run {run_id} is held by {}", .holder.as_ref().map_or("another process".to_string(), |h| h.to_string()))]
    Held {
        run_id: String,
        holder: Option<Holder>,
    },
    #[error("cannot lock {path}: {error}")]
    Io { path: String, error: std::io::Error },
}

/// The lock on one run, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DriverLock {
    _file: File,
}

fn lock_path(home: &Path, run_id: &str) -> PathBuf {
    home.join("runs").join(run_id).join("driver.lock")
}

fn open(path: &Path) -> Result<File, LockError> {
    let io = |error| LockError::Io {
        path: path.display().to_string(),
        error,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

impl DriverLock {
    /// Take the run, or say who has it.
    pub fn acquire(home: &Path, run_id: &str, holder: &Holder) -> Result<DriverLock, LockError> {
        let path = lock_path(home, run_id);
        let mut file = open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    run_id: run_id.to_string(),
                    holder: read_holder(&mut file),
                });
            }
            Err(TryLockError::Error(error)) => {
                return Err(LockError::Io {
                    path: path.display().to_string(),
                    error,
                });
            }
        }
        let text = serde_json::to_string(holder).expect("holder serialises");
        let io = |error| LockError::Io {
            path: path.display().to_string(),
            error,
        };
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        Ok(DriverLock { _file: file })
    }

    /// Who drives the run now, if anyone (a live process holding the lock).
    pub fn probe(home: &Path, run_id: &str) -> Option<Holder> {
        let path = lock_path(home, run_id);
        if !path.exists() {
            return None;
        }
        let mut file = File::open(&path).ok()?;
        match file.try_lock_shared() {
            Ok(()) => None,
            Err(_) => Some(read_holder(&mut file).unwrap_or(Holder {
                pid: 0,
                host: "?".into(),
                actor: "?".into(),
                since: "?".into(),
            })),
        }
    }
}
