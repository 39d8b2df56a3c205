//! The check values of a run's secret inputs: how `resume` and a step's report know that a
//! secret input is given again with the value the run started with, without the log holding
//! anything a secret could be guessed from.
//!
//! The log holds `***` for a secret input (`Redactor::start_run`). A hash of the value there,
//! even salted, would let whoever reads the log (a shared database, `log copy`) try guesses
//! offline at the hash's speed. So the check value is a keyed hash (BLAKE3, keyed) whose key is
//! random and kept in the home (`secret-check.key`, mode 0600), written to the run's folder in
//! the home (`runs/<run-id>/secret-inputs.check`, mode 0600), never to the log: guessing needs
//! the key, which only who can read the home (the user cortex runs as) has. DESIGN.md §7
//! ("A secret input given again") says what it proves and what it cannot.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The home's key for check values: 32 random bytes.
pub const KEY_FILE: &str = "secret-check.key";
/// A run's check values, in its folder: one line per secret input, `NAME HEX`.
pub const CHECK_FILE: &str = "secret-inputs.check";

/// What a value given again is, checked against the run's check values.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// Every input that has a check value was given the value the run started with.
    Same,
    /// These inputs were given a value that differs from the one the run started with.
    Differs(Vec<String>),
    /// Nothing to check against: the run was started from another home (or before check
    /// values were kept), or its folder or the home's key was removed.
    Unchecked,
}

/// The check value of `value` for input `name` of run `run_id` under `key`: the run and the
/// input are part of what is hashed, so the same value in two runs, or in two inputs, gives
/// two unrelated check values.
fn check_value(key: &[u8; 32], run_id: &str, name: &str, value: &str) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new_keyed(key);
    for part in [run_id, name, value] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize()
}

/// Write `bytes` to `path` only if nothing is there yet, mode 0600, whole or not at all (a
/// file of its own, linked into place: a reader never sees half of it, and a file another
/// process put there first is kept). `Ok(false)` when one was there.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("check");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut file = super::materialize::derived_file()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// The home's key, read (a link or anything but a regular file of 32 bytes is refused).
fn read_key(home: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = super::materialize::open_derived(&home.join(KEY_FILE))?;
    let mut key = [0u8; 32];
    file.read_exact(&mut key)?;
    let mut more = [0u8; 1];
    if file.read(&mut more)? != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{KEY_FILE} is not 32 bytes"),
        ));
    }
    Ok(key)
}

/// The home's key, made (random, from the kernel) if the home has none yet.
fn key(home: &Path) -> std::io::Result<[u8; 32]> {
    match read_key(home) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
            std::fs::create_dir_all(home)?;
            write_new(&home.join(KEY_FILE), &key)?;
            // Another process may have made it first: its key is the home's.
            read_key(home)
        }
        other => other,
    }
}

fn check_path(home: &Path, run_id: &str) -> std::io::Result<PathBuf> {
    Ok(super::run_path(home, super::RUNS_FOLDER, run_id)?.join(CHECK_FILE))
}

/// Keep the check values of run `run_id`'s secret inputs `values` (name, value) in its folder
/// in `home`, when the run starts and its driver first has them. Written once: a later call
/// leaves the file as it is (the values the run started with are the ones checked).
pub fn record_secret_inputs<'a>(
    home: &Path,
    run_id: &str,
    values: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> std::io::Result<()> {
    let values: Vec<(&str, &str)> = values.into_iter().collect();
    if values.is_empty() {
        return Ok(());
    }
    let key = key(home)?;
    let mut text = String::new();
    for (name, value) in values {
        let hash = check_value(&key, run_id, name, value);
        text.push_str(&format!("{name} {}\n", hash.to_hex()));
    }
    super::materialize::run_folder(home, run_id, None)?;
    write_new(&check_path(home, run_id)?, text.as_bytes()).map(|_| ())
}

/// Check the values of run `run_id`'s secret inputs given again (`values`: name, value)
/// against the check values kept when it started. An input with no check value (given no
/// value at start) is not checked.
pub fn check_secret_inputs<'a>(
    home: &Path,
    run_id: &str,
    values: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Check {
    let Some((key, kept)) = kept(home, run_id) else {
        return Check::Unchecked;
    };
    let differs: Vec<String> = values
        .into_iter()
        .filter(|(name, value)| {
            kept.get(*name)
                // `blake3::Hash`'s equality takes the same time wherever they differ.
                .is_some_and(|k| *k != check_value(&key, run_id, name, value))
        })
        .map(|(name, _)| name.to_string())
        .collect();
    if differs.is_empty() {
        Check::Same
    } else {
        Check::Differs(differs)
    }
}

/// Those of `candidates` that are the value one of run `run_id`'s secret inputs `names`
/// started with, recognised by the check values kept in `home` (a keyed hash of each whole
/// value: never the value, and nothing shorter or longer than it matches). None when this home
/// keeps none for the run: it was started from another home (or before cortex kept them, or
/// its folder or the home's key was removed), and nothing here can tell its values.
pub fn recognise_secret_inputs<'a>(
    home: &Path,
    run_id: &str,
    names: &[&str],
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<Vec<&'a str>> {
    let (key, kept) = kept(home, run_id)?;
    let kept: Vec<(&str, &blake3::Hash)> = names
        .iter()
        .filter_map(|name| kept.get(*name).map(|hash| (*name, hash)))
        .collect();
    if kept.is_empty() {
        return None;
    }
    let mut found: Vec<&str> = Vec::new();
    for candidate in candidates {
        if found.contains(&candidate) {
            continue;
        }
        if kept
            .iter()
            .any(|(name, hash)| **hash == check_value(&key, run_id, name, candidate))
        {
            found.push(candidate);
        }
    }
    Some(found)
}

/// The home's key and the check values kept for run `run_id`, by input; None if either
/// cannot be read.
fn kept(home: &Path, run_id: &str) -> Option<([u8; 32], BTreeMap<String, blake3::Hash>)> {
    let text = check_path(home, run_id)
        .and_then(|path| super::materialize::read_derived(&path, 64 * 1024))
        .ok()?;
    let key = read_key(home).ok()?;
    let kept = text
        .lines()
        .filter_map(|line| {
            let (name, hex) = line.rsplit_once(' ')?;
            Some((name.to_string(), blake3::Hash::from_hex(hex).ok()?))
        })
        .collect();
    Some((key, kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_input_given_again_is_checked_against_the_value_the_run_started_with() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        record_secret_inputs(h, "000000000000000000000000R1", [("tok", "Right123")]).unwrap();
        assert_eq!(
            check_secret_inputs(h, "000000000000000000000000R1", [("tok", "Right123")]),
            Check::Same
        );
        assert_eq!(
            check_secret_inputs(h, "000000000000000000000000R1", [("tok", "WRONG")]),
            Check::Differs(vec!["tok".into()])
        );
        // Written once: a later record does not replace what the run started with.
        record_secret_inputs(h, "000000000000000000000000R1", [("tok", "WRONG")]).unwrap();
        assert_eq!(
            check_secret_inputs(h, "000000000000000000000000R1", [("tok", "Right123")]),
            Check::Same
        );
        // An input with no check value, and a run with none, are not checked.
        assert_eq!(
            check_secret_inputs(h, "000000000000000000000000R1", [("other", "x")]),
            Check::Same
        );
        assert_eq!(
            check_secret_inputs(h, "000000000000000000000000R2", [("tok", "x")]),
            Check::Unchecked
        );
        // The key and the check file are the user's alone, and the file holds no value.
        use std::os::unix::fs::PermissionsExt;
        for path in [
            h.join(KEY_FILE),
            check_path(h, "000000000000000000000000R1").unwrap(),
        ] {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
        let text =
            std::fs::read_to_string(check_path(h, "000000000000000000000000R1").unwrap()).unwrap();
        assert!(!text.contains("Right123"));
        // A value typed into a report is recognised whole, and only for the inputs named.
        assert_eq!(
            recognise_secret_inputs(
                h,
                "000000000000000000000000R1",
                &["tok"],
                ["Right12", "Right123", "xRight123", "Right123"]
            ),
            Some(vec!["Right123"])
        );
        assert_eq!(
            recognise_secret_inputs(h, "000000000000000000000000R1", &["other"], ["Right123"]),
            None
        );
        assert_eq!(
            recognise_secret_inputs(h, "000000000000000000000000R2", &["tok"], ["Right123"]),
            None
        );
        // The same value in another run has another check value.
        record_secret_inputs(h, "000000000000000000000000R3", [("tok", "Right123")]).unwrap();
        let other =
            std::fs::read_to_string(check_path(h, "000000000000000000000000R3").unwrap()).unwrap();
        assert_ne!(text, other);
    }
}
