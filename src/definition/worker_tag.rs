//! Worker tags: the words a step's or phase's `runs_on:` asks for and `cortex worker --tags`
//! offers.

/// A tag: 1 to 64 ASCII letters, digits, `-`, `_`, `.` or `:` (`gpu`, `os:linux`), not
/// starting with `-` (`cortex worker --tags -rf` would read flags).
pub type WorkerTag = String;

pub const MAX_TAG_CHARS: usize = 64;

/// What is wrong with `tag` as a worker tag, if anything.
pub fn tag_problem(tag: &str) -> Option<String> {
    if tag.is_empty() {
        return Some("a worker tag cannot be empty".into());
    }
    if tag.chars().count() > MAX_TAG_CHARS {
        return Some(format!(
            "a worker tag has at most {MAX_TAG_CHARS} characters"
        ));
    }
    if let Some(c) = tag
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        return Some(format!(
            "worker tag `{}` has {:?}: tags are ASCII letters, digits, `-`, `_`, `.` and `:`",
            super::shown(tag),
            c
        ));
    }
    if tag.starts_with('-') {
        // Pasted after `--tags` (or `--name`), it would be read as flags.
        return Some(format!(
            "worker tag `{}` starts with `-`: tags begin with a letter, a digit, `_`, `.` or `:`",
            super::shown(tag)
        ));
    }
    None
}

/// A comma-separated list of tags (`--tags gpu,os:linux`), each checked; blanks between
/// commas are ignored.
pub fn parse_tags(text: &str) -> Result<Vec<WorkerTag>, String> {
    let mut tags: Vec<WorkerTag> = Vec::new();
    for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if let Some(problem) = tag_problem(tag) {
            return Err(problem);
        }
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_string());
        }
    }
    Ok(tags)
}

/// Whether a worker offering `offered` may run what asks for `wanted` (all of them).
pub fn tags_cover(offered: &[WorkerTag], wanted: &[WorkerTag]) -> bool {
    wanted.iter().all(|w| offered.iter().any(|o| o == w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_starting_with_a_dash_is_refused() {
        for tag in ["-rf", "--help", "-"] {
            let problem = tag_problem(tag).expect(tag);
            assert!(problem.contains("starts with `-`"), "{tag}: {problem}");
        }
        assert_eq!(tag_problem("gpu-2"), None);
        assert!(parse_tags("gpu,-x").is_err());
    }
}
