//! Agent definitions: Markdown with YAML front matter, the format Claude Code uses for
//! sub-agents (`name`, `description`, optional `tools`, `model`, `color`), plus `command`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::workflow::{precheck, yaml_location, yaml_message};
use super::{DefinitionError, Location, NameKind, Problem, check_name, locate};

/// The front matter of an agent file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// At most 100 characters, visible ones and plain spaces (no control or format
    /// characters), no surrounding spaces, not starting with `-`; no `/`, `\` or `..`.
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    pub description: String,
    /// A command that does the agent's work: it receives the prompt on standard input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Claude Code's tool list; kept for compatibility, not used by cortex.
    #[serde(
        default,
        deserialize_with = "super::finite::json_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub tools: Option<serde_json::Value>,
    /// Claude Code's model choice; kept for compatibility, not used by cortex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Claude Code's display colour; kept for compatibility, not used by cortex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// Parse an agent file: `---`, YAML front matter, `---`, then the Markdown body.
pub fn parse_agent(path: &str, text: &str) -> Result<(Agent, String), DefinitionError> {
    // The whole file, Markdown included, for its size and nesting; tags in the front matter.
    precheck(path, text, false)?;
    let fail = |message: &str, at: Option<Location>| {
        DefinitionError {
        path: path.to_string(),
        text: text.to_string(),
        problems: vec![
            Problem::new(message, at)
                .with_hint("an agent file starts with `---`, YAML front matter (name, description, command), and `---`"),
        ],
    }
    };
    let (front, body) = match split(text) {
        Split::Found { front, body } => (front, body),
        Split::NoFrontMatter => {
            return Err(fail(
                "missing YAML front matter",
                Some(Location { line: 1, column: 1 }),
            ));
        }
        Split::Unclosed => return Err(fail("front matter is never closed with `---`", None)),
    };
    // Positions in the front matter are one line down in the file.
    if let Some(problem) = super::tags::first_tag(front, 1) {
        return Err(DefinitionError {
            path: path.to_string(),
            text: text.to_string(),
            problems: vec![problem],
        });
    }
    let agent = serde_yaml::from_str::<Agent>(front).map_err(|e| {
        // Positions are relative to the front matter, which starts on line 2.
        let at = yaml_location(&e).map(|l| Location {
            line: l.line + 1,
            column: l.column,
        });
        fail(&yaml_message(&e), at)
    })?;
    if let Err(bad) = check_name(NameKind::Agent, &agent.name) {
        return Err(DefinitionError {
            path: path.to_string(),
            text: text.to_string(),
            problems: vec![Problem::new(bad.problem, name_location(text)).with_hint(bad.fix)],
        });
    }
    Ok((agent, body.to_string()))
}

enum Split<'a> {
    Found { front: &'a str, body: &'a str },
    NoFrontMatter,
    Unclosed,
}

/// An agent file's front matter (which starts on its second line) and body.
fn split(text: &str) -> Split<'_> {
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return Split::NoFrontMatter;
    };
    match rest.find("\n---") {
        Some(i) => {
            let after = &rest[i + 4..];
            let body = after
                .strip_prefix('\n')
                .or_else(|| after.strip_prefix("\r\n"))
                .unwrap_or(after);
            Split::Found {
                front: &rest[..=i],
                body,
            }
        }
        None => Split::Unclosed,
    }
}

/// Where the `name:` of an agent file's front matter is, in the file.
pub(crate) fn name_location(text: &str) -> Option<Location> {
    let Split::Found { front, .. } = split(text) else {
        return None;
    };
    locate(front, &["name".into()]).map(|l| Location {
        line: l.line + 1,
        column: l.column,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_code_agent_files_parse() {
        let text = "---\nname: planner\ndescription: Plans work\ntools: Read, Grep\nmodel: sonnet\ncommand: cat\n---\nYou plan.\n";
        let (agent, body) = parse_agent("planner.md", text).unwrap();
        assert_eq!(agent.name, "planner");
        assert_eq!(agent.command.as_deref(), Some("cat"));
        assert_eq!(body, "You plan.\n");
    }

    #[test]
    fn a_bad_agent_name_or_a_tag_is_located_in_the_file() {
        let err =
            parse_agent("a.md", "---\ndescription: b\nname: \"a\\u202eb\"\n---\n").unwrap_err();
        assert_eq!(err.problems[0].at, Some(Location { line: 3, column: 7 }));
        assert!(err.problems[0].message.contains("U+202E"), "{err}");
        let err = parse_agent(
            "a.md",
            "---\nname: a\ndescription: !!binary eA==\n---\n![img](x)\n",
        )
        .unwrap_err();
        assert_eq!(
            err.problems[0].at,
            Some(Location {
                line: 3,
                column: 14
            })
        );
        assert!(
            parse_agent(
                "a.md",
                "---\nname: a\ndescription: b\n---\n!not a tag in Markdown\n"
            )
            .is_ok()
        );
    }

    #[test]
    fn unknown_keys_are_located() {
        let err =
            parse_agent("a.md", "---\nname: a\ndescription: b\ncomand: x\n---\n").unwrap_err();
        assert_eq!(err.problems[0].at.map(|l| l.line), Some(4));
    }
}
