//! Reading the output pane's text: the last part of the selected attempt's whole-output file
//! beside the log, else the tail the log kept of it. Bounded: a long file is read from its
//! last `PANE_BYTES`, never whole.

use std::path::Path;

use super::app::{OutputSource, OutputView, OutputWanted};

/// The most of a file the pane reads: far more than a screen shows.
pub const PANE_BYTES: u64 = 64 * 1024;

/// The pane's text for `wanted`, read now from the home's files.
pub fn read(home: &Path, wanted: &OutputWanted) -> OutputView {
    let view = |text: String, source: OutputSource| OutputView {
        run_id: wanted.run_id.clone(),
        step: wanted.step.clone(),
        attempt: wanted.attempt,
        text,
        source,
        complete: wanted.ended,
    };
    match last_part(home, &wanted.file) {
        Some((raw, bytes, cut)) => {
            // While it runs, a line being written too (`Waiting for lock...`: the writer
            // passes a partial line on after a moment), but not a character cut by a write.
            let raw = if wanted.ended {
                &raw[..]
            } else {
                &raw[..raw.len() - crate::render::cut_character(&raw)]
            };
            let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
            view(text, OutputSource::File { bytes, cut })
        }
        // No file here: the attempt printed nothing yet (or at all), or it ran on another
        // host, or its file was removed (`cortex gc`): what the log kept is what there is.
        None if !wanted.tail.is_empty() => view(wanted.tail.clone(), OutputSource::KeptTail),
        None => view(String::new(), OutputSource::Nothing),
    }
}

/// The last `PANE_BYTES` of the file (from the first line that starts in them when the file
/// is longer), its size, and whether its start was left out.
fn last_part(home: &Path, file: &str) -> Option<(Vec<u8>, u64, bool)> {
    use crate::ops::attempt_file;
    let mut f = attempt_file::open(home, file)?;
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

    fn wanted(file: &str, tail: &str, ended: bool) -> OutputWanted {
        OutputWanted {
            run_id: "R".into(),
            step: "s".into(),
            attempt: 1,
            file: file.into(),
            tail: tail.into(),
            ended,
        }
    }

    #[test]
    fn a_long_file_is_read_from_its_last_lines_only() {
        let home = tempfile::tempdir().unwrap();
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("line {i}\r\n"));
        }
        std::fs::write(home.path().join("out.log"), &text).unwrap();
        let v = read(home.path(), &wanted("out.log", "", true));
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
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("out.log"), "done\nhalf a li").unwrap();
        let v = read(home.path(), &wanted("out.log", "", false));
        assert_eq!(v.text, "done\nhalf a li");
        std::fs::write(home.path().join("out.log"), b"done\nwaiting \xc3").unwrap();
        let v = read(home.path(), &wanted("out.log", "", false));
        assert_eq!(v.text, "done\nwaiting ");
        let v = read(home.path(), &wanted("elsewhere.log", "kept\n", true));
        assert_eq!(
            (v.text.as_str(), v.source),
            ("kept\n", OutputSource::KeptTail)
        );
        let v = read(home.path(), &wanted("elsewhere.log", "", false));
        assert_eq!(v.source, OutputSource::Nothing);
    }
}
