//! Definition problems with the place they were found, for `file:line:column` reports.

/// A 1-based position in a definition file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The place of byte `offset` of `bytes` (a file's text, UTF-8 or not up to there): its
    /// line, counted by line feeds, and its column in characters, as an editor shows them.
    /// A problem found at a byte offset (a NUL byte, a byte that is not UTF-8, where a file
    /// passes its size limit) is placed so.
    pub fn of_byte(bytes: &[u8], offset: usize) -> Location {
        let before = &bytes[..offset.min(bytes.len())];
        let start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        Location {
            line: before.iter().filter(|b| **b == b'\n').count() + 1,
            column: String::from_utf8_lossy(&before[start..]).chars().count() + 1,
        }
    }
}

/// One thing wrong with a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub at: Option<Location>,
    pub hint: Option<String>,
    /// How many characters from `at` the problem covers (a template's `${{ ... }}`); none:
    /// what starts there, up to a `:` or the line's end.
    pub width: Option<usize>,
}

impl Problem {
    pub fn new(message: impl Into<String>, at: Option<Location>) -> Self {
        Problem {
            message: message.into(),
            at,
            hint: None,
            width: None,
        }
    }

    pub fn with_width(mut self, width: Option<usize>) -> Self {
        self.width = width.filter(|w| *w > 0);
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Every problem found in one definition file, with its text for rendering snippets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    /// The file as the user knows it (a path, or `builtin:NAME`).
    pub path: String,
    pub text: String,
    pub problems: Vec<Problem>,
}

impl DefinitionError {
    /// The first problem on one line (`line:column: message`), for a listing's row.
    pub fn first_problem(&self) -> String {
        let Some(p) = self.problems.first() else {
            return "invalid".to_string();
        };
        let message = p.message.lines().next().unwrap_or_default();
        match p.at {
            Some(at) => format!("{}:{}: {message}", at.line, at.column),
            None => message.to_string(),
        }
    }
}

impl DefinitionError {
    /// Its first problem with its place (`path:line:column: message`), and how many more
    /// there are: what another file's problem says of this file.
    pub fn summary(&self) -> String {
        let first = match self.problems.first() {
            None => format!("{}: invalid", self.path),
            Some(p) => {
                let message = p.message.lines().next().unwrap_or_default();
                match p.at {
                    Some(at) => format!("{}:{}:{}: {message}", self.path, at.line, at.column),
                    None => format!("{}: {message}", self.path),
                }
            }
        };
        match self.problems.len() {
            0 | 1 => first,
            n => format!(
                "{first} (and {} more problem{})",
                n - 1,
                if n == 2 { "" } else { "s" }
            ),
        }
    }
}

impl std::fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match p.at {
                Some(at) => write!(f, "{}:{}:{}: {}", self.path, at.line, at.column, p.message)?,
                None => write!(f, "{}: {}", self.path, p.message)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for DefinitionError {}

impl DefinitionError {
    /// The verdict on a definition whose unknown keys were set aside before it was validated
    /// (`parse_workflow_setting_aside`): those keys' problems and the validation's, in the
    /// order of the file (problems without a place last).
    pub fn with_set_aside(
        path: &str,
        text: &str,
        set_aside: Vec<Problem>,
        verdict: Result<(), DefinitionError>,
    ) -> Result<(), DefinitionError> {
        if set_aside.is_empty() {
            return verdict;
        }
        let mut problems = set_aside;
        problems.extend(verdict.err().map(|e| e.problems).unwrap_or_default());
        problems.sort_by_key(|p| (p.at.is_none(), p.at));
        Err(DefinitionError {
            path: path.to_string(),
            text: text.to_string(),
            problems,
        })
    }
}
