//! Reading the `key=value` lines a step wrote to `$CORTEX_OUTPUT`.

use std::path::Path;

/// The text of a step's output file, which is then removed: it may hold secrets in plain
/// text, and what it says goes to the log (redacted). A link in its place is not followed (it
/// is removed like the file); a missing file is no outputs.
pub fn take_outputs(path: &Path) -> String {
    match super::materialize::read_derived(path) {
        // No file: nothing to remove (most steps write no outputs).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        read => {
            let _ = std::fs::remove_file(path);
            read.unwrap_or_default()
        }
    }
}

/// Parse outputs: `key=value` lines, or `key<<DELIM` ... `DELIM` for multi-line values (the
/// GitHub Actions convention). Returns the outputs and a problem for each malformed line.
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
            if closed {
                out.push((key.to_string(), value.join("\n")));
            } else {
                problems.push(format!("output `{key}` is never closed with `{delim}`"));
            }
            continue;
        }
        match line.split_once('=') {
            Some((key, value)) if valid_key(key) => out.push((key.to_string(), value.to_string())),
            _ => problems.push(format!(
                "line {} of $CORTEX_OUTPUT is not `key=value`: {}",
                n + 1,
                line.chars().take(80).collect::<String>()
            )),
        }
    }
    (out, problems)
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
}
