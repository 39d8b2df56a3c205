//! Agent definitions: Markdown with YAML front matter, the format Claude Code uses for
//! sub-agents (`name`, `description`, optional `tools`, `model`, `color`), plus `command`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::workflow::{precheck, yaml_location, yaml_message};
use super::{DefinitionError, Location, Problem};

/// The front matter of an agent file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Agent {
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
    precheck(path, text)?;
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
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or_else(|| {
            fail(
                "missing YAML front matter",
                Some(Location { line: 1, column: 1 }),
            )
        })?;
    let (front, body) = match rest.find("\n---") {
        Some(i) => {
            let after = &rest[i + 4..];
            let body = after
                .strip_prefix('\n')
                .or_else(|| after.strip_prefix("\r\n"))
                .unwrap_or(after);
            (&rest[..=i], body)
        }
        None => return Err(fail("front matter is never closed with `---`", None)),
    };
    let agent = serde_yaml::from_str::<Agent>(front).map_err(|e| {
        // Positions are relative to the front matter, which starts on line 2.
        let at = yaml_location(&e).map(|l| Location {
            line: l.line + 1,
            column: l.column,
        });
        fail(&yaml_message(&e), at)
    })?;
    Ok((agent, body.to_string()))
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
    fn unknown_keys_are_located() {
        let err =
            parse_agent("a.md", "---\nname: a\ndescription: b\ncomand: x\n---\n").unwrap_err();
        assert_eq!(err.problems[0].at.map(|l| l.line), Some(4));
    }
}
