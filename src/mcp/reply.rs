//! What a tool call answers: an operation's document (exactly `--json`), or its error as a tool
//! error (the document `--json` prints for an error: message, detail, hints, exit code).

use rmcp::model::{CallToolResult, ContentBlock, MetaObject};

use crate::ops::{CommandError, Output};

/// The `_meta` key of the exit code the CLI would have ended with (SPEC §5).
pub const EXIT_CODE: &str = "cortex/exit_code";

fn exit_meta(code: i32) -> MetaObject {
    let mut meta = MetaObject::new();
    meta.0.insert(EXIT_CODE.into(), code.into());
    meta
}

/// JSON text for the content block: the document as `--json` writes it, its active characters
/// (C1 and bidirectional controls) escaped, which leaves the document the same.
fn text(value: &serde_json::Value) -> String {
    let compact = serde_json::to_string(value).expect("documents serialise");
    crate::render::json_safe(&compact).into_owned()
}

/// An operation's output: its document as text and as structured content, each warning as a
/// text block after it, and the exit code in `_meta`. A document that is an array (rows) is
/// structured content as the one field `array_field` of an object (MCP's structured content
/// is an object: rmcp drops any other for a peer before 2026-07-28); its text stays the array
/// `--json` prints.
pub fn document(
    output: Output,
    array_field: Option<&str>,
    beside: &[(&str, serde_json::Value)],
) -> CallToolResult {
    let mut content = vec![ContentBlock::text(text(&output.json))];
    content.extend(
        output
            .warnings
            .iter()
            .map(|w| ContentBlock::text(format!("warning: {w}"))),
    );
    let mut result = CallToolResult::success(content);
    result.structured_content = Some(match (array_field, output.json) {
        (Some(field), rows @ serde_json::Value::Array(_)) => {
            let mut doc = serde_json::json!({ field: rows });
            for (name, value) in beside {
                doc[*name] = value.clone();
            }
            doc
        }
        (_, document) => document,
    });
    result.with_meta(Some(exit_meta(output.code)))
}

/// A failed operation: a tool error (`isError`) carrying its message, detail and hints; a
/// hint that names a CLI command names the tool that does the same too.
pub fn error(e: &CommandError) -> CallToolResult {
    let mut doc = e.document();
    if let Some(hints) = doc.get_mut("hints").and_then(|h| h.as_array_mut()) {
        for hint in hints.iter_mut() {
            if let Some(text) = hint.as_str() {
                *hint = serde_json::Value::String(with_tools(text));
            }
        }
    }
    let mut result = CallToolResult::error(vec![ContentBlock::text(text(&doc))]);
    result.structured_content = Some(doc);
    result.with_meta(Some(exit_meta(e.code)))
}

/// Each CLI command (after `cortex` and its global options) and the tool that does the same.
const TOOL_OF: &[(&[&str], &str)] = &[
    (&["workflow", "step", "complete"], "step_complete"),
    (&["workflow", "step", "fail"], "step_fail"),
    (&["orchestrate", "start"], "phase_start"),
    (&["orchestrate", "complete"], "phase_complete"),
    (&["orchestrate", "fail"], "phase_fail"),
    (&["orchestrate", "preview"], "preview"),
    (&["orchestrate", "stop"], "stop"),
    (&["log", "verify"], "log_verify"),
    (&["schedule", "list"], "schedule_list"),
    (&["workflow", "list"], "list"),
    (&["orchestrate", "list"], "list"),
    (&["workflow", "validate"], "validate"),
    (&["orchestrate", "validate"], "validate"),
    (&["workflow", "run"], "run"),
    (&["orchestrate", "run"], "run"),
    (&["workflow", "status"], "status"),
    (&["orchestrate", "status"], "status"),
    (&["workflow", "history"], "history"),
    (&["orchestrate", "history"], "history"),
    (&["workflow", "resume"], "resume"),
    (&["orchestrate", "resume"], "resume"),
    (&["workflow", "abort"], "abort"),
    (&["orchestrate", "abort"], "abort"),
];

/// The tool a quoted command line (`cortex workflow run NAME`) is, if one is.
fn tool_of(command: &str) -> Option<&'static str> {
    let mut words = command.split_whitespace();
    if words.next()? != "cortex" {
        return None;
    }
    let mut rest = Vec::new();
    while let Some(word) = words.next() {
        match word {
            "--home" | "--db" => {
                words.next();
            }
            "--json" | "--no-color" => {}
            w => rest.push(w),
        }
    }
    TOOL_OF
        .iter()
        .find(|(argv, _)| rest.starts_with(argv))
        .map(|(_, tool)| *tool)
}

/// A hint as a tool user reads it: each quoted CLI command that a tool does is followed by
/// that tool's name (the instructions say the arguments map one to one).
fn with_tools(hint: &str) -> String {
    let parts: Vec<&str> = hint.split('`').collect();
    let mut out = String::with_capacity(hint.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('`');
            // An even part follows a quoted one that is now closed.
            if i % 2 == 0
                && let Some(tool) = tool_of(parts[i - 1])
            {
                out.push_str(&format!(" (the `{tool}` tool)"));
            }
        }
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_naming_a_cli_command_names_its_tool_too() {
        assert_eq!(
            with_tools("start one with `cortex workflow run NAME`"),
            "start one with `cortex workflow run NAME` (the `run` tool)"
        );
        assert_eq!(
            with_tools("`cortex --home /tmp/h workflow history` lists them"),
            "`cortex --home /tmp/h workflow history` (the `history` tool) lists them"
        );
        assert_eq!(
            with_tools("`cortex orchestrate complete S build` reports it; `KEY=VALUE` stays"),
            "`cortex orchestrate complete S build` (the `phase_complete` tool) reports it; `KEY=VALUE` stays"
        );
        assert_eq!(with_tools("no command here"), "no command here");
        assert_eq!(with_tools("odd ` quote"), "odd ` quote");
    }
}
