//! Reading the `key=value` lines a step wrote to `$CORTEX_OUTPUT`.

use std::path::Path;

/// The most a step's `$CORTEX_OUTPUT` may hold: what any unit's outputs may hold
/// (`decide::MAX_OUTPUT_BYTES`).
pub const MAX_OUTPUT_FILE_BYTES: u64 = crate::decide::MAX_OUTPUT_BYTES;

/// The text of a step's output file, which is then removed: it may hold secrets in plain
/// text, and what it says goes to the log (redacted). A missing file is no outputs. A file
/// that cannot be taken as outputs — larger than `MAX_OUTPUT_FILE_BYTES` (refused by its
/// size, and never read past it), not UTF-8, a link or anything but a regular file in its
/// place (never followed) — is `Err` with the problem to report (the attempt fails its
/// validation), and is removed like the file.
pub fn take_outputs(path: &Path) -> Result<String, String> {
    let read = read_outputs(path);
    match &read {
        // No file: nothing to remove (most steps write no outputs).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        _ => {
            let _ = std::fs::remove_file(path);
        }
    }
    match read {
        Ok(taken) => taken,
        Err(e) => Err(format!("$CORTEX_OUTPUT could not be read: {e}")),
    }
}

fn read_outputs(path: &Path) -> std::io::Result<Result<String, String>> {
    use std::io::Read;
    let too_large = |bytes: u64| crate::decide::too_large("$CORTEX_OUTPUT holds", bytes);
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Ok(Err(
            "$CORTEX_OUTPUT is a symbolic link, which cortex does not follow: write the outputs into the file itself".into(),
        ));
    }
    let file = super::materialize::open_derived(path)?;
    let size = file.metadata()?.len();
    if size > MAX_OUTPUT_FILE_BYTES {
        return Ok(Err(too_large(size)));
    }
    let mut bytes = Vec::new();
    file.take(MAX_OUTPUT_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_OUTPUT_FILE_BYTES {
        return Ok(Err(too_large(bytes.len() as u64)));
    }
    Ok(String::from_utf8(bytes).map_err(|e| {
        format!(
            "$CORTEX_OUTPUT is not UTF-8 text (byte {} is not): outputs are text; encode binary data (base64) or write it to a file",
            e.utf8_error().valid_up_to()
        )
    }))
}

/// Parse outputs: `key=value` lines, or `key<<DELIM` ... `DELIM` for multi-line values (the
/// GitHub Actions convention). Returns the outputs and a problem for each malformed line.
/// A key is held to the output key rule (`definition::check_name`, as a report's `--output`
/// and every template that reads one): one it breaks (longer than `MAX_NAME_CHARS`) is a
/// problem of its line, never recorded. Before, such a key was recorded, and nothing could
/// read it back (a template naming it was refused by `validate`).
pub fn parse_outputs(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some((key, delim)) = line.split_once("<<")
            && valid_key(key)
            && !delim.is_empty()
            && !line.contains('=')
        {
            let mut value = Vec::new();
            let mut closed = false;
            for (_, l) in lines.by_ref() {
                if l == delim {
                    closed = true;
                    break;
                }
                value.push(l);
            }
            if let Some(problem) = unreadable_key(n + 1, key) {
                problems.push(problem);
            } else if closed {
                out.push((key.to_string(), value.join("\n")));
            } else {
                problems.push(format!("output `{key}` is never closed with `{delim}`"));
            }
            continue;
        }
        match line.split_once('=') {
            Some((key, _)) if let Some(problem) = unreadable_key(n + 1, key) => {
                problems.push(problem);
            }
            Some((key, value)) if valid_key(key) => out.push((key.to_string(), value.to_string())),
            _ => problems.push(not_a_pair(n + 1, line)),
        }
    }
    (out, problems)
}

/// Why line `number` of an outputs file is refused, without its text: the line is the value
/// a step meant to give, and a slip of form (`api_token: VALUE`) is no reason to put the
/// value in the log, where nothing takes it out (a well-formed `api_token=VALUE` is stored
/// `***`). Before, the line was quoted. Where it starts with a key and `:` or a space, the
/// key (a name, as keys are shown anyway) and the form meant are said.
fn not_a_pair(number: usize, line: &str) -> String {
    let key = line
        .split_once([':', ' ', '\t'])
        .map(|(key, _)| key)
        .filter(|key| valid_key(key) && key.len() <= 64);
    match key {
        Some(key) => format!(
            "line {number} of $CORTEX_OUTPUT is not `key=value`: it reads `{key}` and then not `=` (write `{key}=VALUE`; the rest of the line is not shown, as it may hold a secret)"
        ),
        None => format!(
            "line {number} of $CORTEX_OUTPUT is not `key=value` ({} characters, none of them a `=` after a key; not shown, as it may hold a secret)",
            line.chars().count()
        ),
    }
}

/// Why the key `key` written on line `number` cannot be taken, though it is written as a key
/// (`valid_key`): it breaks the output key rule (its length), so nothing could read it back.
/// The problem names the line, the key (cut, as names are shown) and the limit.
fn unreadable_key(number: usize, key: &str) -> Option<String> {
    if !valid_key(key) {
        return None;
    }
    let bad = crate::definition::check_name(crate::definition::NameKind::OutputKey, key).err()?;
    Some(format!(
        "line {number} of $CORTEX_OUTPUT: {}: shorten it (a template, an `if:` or a report reads output keys of at most {} characters; the value is not shown, as it may hold a secret)",
        bad.problem,
        crate::definition::MAX_NAME_CHARS
    ))
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_file_past_the_limit_is_refused_by_its_size_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        // Sparse: 100 GB that would have been read whole.
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(100 << 30).unwrap();
        let problem = take_outputs(&path).unwrap_err();
        assert!(problem.contains("more than the 1024 KiB"), "{problem}");
        assert!(!path.exists());
        std::fs::write(&path, b"a=1\n").unwrap();
        assert_eq!(take_outputs(&path).unwrap(), "a=1\n");
        assert_eq!(
            take_outputs(&path).unwrap(),
            "",
            "removed, and a missing file is none"
        );
    }

    #[test]
    fn an_output_file_that_is_not_text_or_is_a_link_is_a_problem_not_silence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, b"a=\xff\xfe\n").unwrap();
        let problem = take_outputs(&path).unwrap_err();
        assert!(problem.contains("not UTF-8"), "{problem}");
        let target = dir.path().join("target");
        std::fs::write(&target, "a=1\n").unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(take_outputs(&path).is_err());
        assert!(path.symlink_metadata().is_err(), "the link is removed");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "a=1\n");
    }

    #[test]
    fn plain_and_multiline_outputs() {
        let (out, problems) = parse_outputs("a=1\nb=x=y\nmsg<<EOF\nl1\nl2\nEOF\nbad line\n");
        assert_eq!(
            out,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x=y".into()),
                ("msg".into(), "l1\nl2".into())
            ]
        );
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn an_output_key_past_the_name_limit_is_refused_with_its_line_and_the_limit() {
        let long = "k".repeat(101);
        let (out, problems) = parse_outputs(&format!(
            "a=1\n{long}=v\n{long}<<EOF\nx\nEOF\n{}=ok\n",
            "k".repeat(100)
        ));
        assert_eq!(
            out,
            vec![("a".into(), "1".into()), ("k".repeat(100), "ok".into())]
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("line 2 of $CORTEX_OUTPUT: "),
            "{problems:?}"
        );
        assert!(problems[0].contains("101 characters long"), "{problems:?}");
        assert!(problems[0].contains("at most 100"), "{problems:?}");
        assert!(problems[1].starts_with("line 3 of"), "{problems:?}");
    }
}
