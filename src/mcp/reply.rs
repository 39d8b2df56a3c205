//! What a tool call answers: an operation's document (exactly `--json`), or its error as a tool
//! error (the document `--json` prints for an error: message, detail, hints, exit code).

use rmcp::model::{CallToolResult, ContentBlock, MetaObject};

use crate::ops::{CommandError, Output};

#[cfg(test)]
use crate::ops::Hint;

/// The `_meta` key of the exit code the CLI would have ended with (SPEC §5).
pub const EXIT_CODE: &str = "cortex/exit_code";
/// The `_meta` key set (`true`) on the answer of a call with `detach: true` that returned
/// while the server drives the run on in the background.
pub const DETACHED: &str = "cortex/detached";

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

/// An operation's output: its document as text and as structured content — one content
/// block, the document `--json` prints, its warnings in its `warnings` array
/// (`Output::document`) — and the exit code in `_meta`. A document that is an array (rows) is
/// structured content as the one field `array_field` of an object (MCP's structured content
/// is an object: rmcp drops any other for a peer before 2026-07-28); its text stays the array
/// `--json` prints, and only such a document's warnings (it has no field for them) follow it
/// as text blocks.
///
/// A detached call's answer (`detached`: the server drives the run on in the background) is
/// marked so (`cortex/detached`), and while its status is `running` it has no exit code: the
/// drive has not ended, so there is none yet (before, 0 — "completed" — was given for a run
/// still running). Polling `status` gives the code once the run waits, stops or ends.
pub fn document(output: Output, array_field: Option<&str>, detached: bool) -> CallToolResult {
    let mut json = output.document();
    detach_where_cancelled(&mut json);
    let mut content = vec![ContentBlock::text(text(&json))];
    if !json.is_object() {
        content.extend(
            output
                .warnings
                .iter()
                .map(|w| ContentBlock::text(format!("warning: {w}"))),
        );
    }
    let mut result = CallToolResult::success(content);
    result.structured_content = Some(match (array_field, json) {
        (Some(field), rows @ serde_json::Value::Array(_)) => serde_json::json!({ field: rows }),
        (_, document) => document,
    });
    if !detached {
        return result.with_meta(Some(exit_meta(output.code)));
    }
    let running = result
        .structured_content
        .as_ref()
        .is_some_and(|doc| doc["status"] == "running");
    let mut meta = if running {
        MetaObject::new()
    } else {
        exit_meta(output.code)
    };
    meta.0.insert(DETACHED.into(), true.into());
    result.with_meta(Some(meta))
}

/// A run stopped because the client cancelled the call that drove it (its time limit,
/// often: `server::CANCELLED`): each resume its `next` suggests is to be called with
/// `detach: true`, said in structured form (`"tool": "resume", "detach": true`) and in its
/// why. A call that waits is cut off by the same limit, which stops the run again: before,
/// only the reason's prose said so, and an agent following `next[0]` (a plain `resume`)
/// went round that loop.
fn detach_where_cancelled(doc: &mut serde_json::Value) {
    let cancelled = doc["status"] == "stopped"
        && doc["reason"]
            .as_str()
            .is_some_and(|r| r.contains(super::server::CANCELLED_START));
    if !cancelled {
        return;
    }
    let Some(next) = doc.get_mut("next").and_then(|n| n.as_array_mut()) else {
        return;
    };
    for entry in next {
        let argv: Vec<String> = entry["argv"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|w| w.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if !matches!(
            crate::project::run_act(&argv),
            Some(crate::project::RunAct::Resume(_))
        ) {
            continue;
        }
        entry["tool"] = "resume".into();
        entry["detach"] = true.into();
        if let Some(why) = entry["why"].as_str() {
            entry["why"] = format!(
                "{why}; call the `resume` tool with detach: true (a call that waits is cut off by the same client time limit, which stops the run again), then poll `status`"
            )
            .into();
        }
    }
}

/// A failed operation: a tool error (`isError`) carrying its message, detail and hints; each
/// command a hint suggests that a tool does is followed by that tool's name, found from the
/// command's argv (`Hint::render_with`), so a quoted value holding a backtick stays pasteable;
/// each command its `next` suggests (the same call again, refused for a busy log:
/// `ops::Retry`) names that tool in `tool`.
pub fn error(e: &CommandError) -> CallToolResult {
    let mut doc = e.document_with(|hint| {
        hint.render_with(|argv| tool_of(argv).map(|tool| format!(" (the `{tool}` tool)")))
    });
    for entry in doc
        .get_mut("next")
        .and_then(|n| n.as_array_mut())
        .into_iter()
        .flatten()
    {
        let argv: Vec<String> = serde_json::from_value(entry["argv"].clone()).unwrap_or_default();
        let tool = crate::project::subcommand_args(&argv).and_then(tool_of);
        if let Some(tool) = tool {
            entry["tool"] = tool.into();
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
    (&["logs"], "logs"),
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
    (&["workflow", "stop"], "stop"),
    (&["workflow", "abort"], "abort"),
    (&["orchestrate", "abort"], "abort"),
];

/// The tool that does what a suggested command (its argv after `cortex` and its global
/// options) does, if one does.
fn tool_of(argv: &[String]) -> Option<&'static str> {
    TOOL_OF
        .iter()
        .find(|(words, _)| {
            words.len() <= argv.len() && words.iter().zip(argv).all(|(w, a)| *w == a.as_str())
        })
        .map(|(_, tool)| *tool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_names_the_tool_of_each_command_it_suggests_and_its_quoted_values_stay_whole() {
        let hint = Hint::from("start one with ")
            .command(&["workflow", "run", "bt", "--input", "note=fix `parse()` now"])
            .then(", or see ")
            .command(&["workflow", "history"])
            .then("; `KEY=VALUE` stays, and ")
            .command(&["gc"])
            .then(" names no tool");
        let e = CommandError::bad_input("x")
            .hint(hint)
            .with_globals(&["--home".into(), "/tmp/h".into()]);
        let doc = error(&e).structured_content.unwrap();
        assert_eq!(
            doc["hints"][0],
            "start one with `cortex --home /tmp/h workflow run bt --input 'note=fix `parse()` now'` (the `run` tool), or see `cortex --home /tmp/h workflow history` (the `history` tool); `KEY=VALUE` stays, and `cortex --home /tmp/h gc` names no tool"
        );
    }

    /// A command an error suggests in `next` (the call again, refused for a busy log) names
    /// the tool that does it, past the global options its argv carries; one no tool does
    /// names none.
    #[test]
    fn each_command_an_errors_next_suggests_names_its_tool() {
        let e = CommandError::from(crate::store::StoreError::Busy)
            .next(&["workflow", "step", "complete", "p"], "again")
            .next(&["gc", "--older-than", "1d"], "tidy")
            .with_globals(&["--home".into(), "/tmp/h".into()]);
        let doc = error(&e).structured_content.unwrap();
        assert_eq!(doc["next"][0]["tool"], "step_complete", "{doc:#}");
        assert_eq!(doc["next"][0]["argv"][1], "--home", "{doc:#}");
        assert!(doc["next"][1].get("tool").is_none(), "{doc:#}");
    }

    /// A command written into a hint's text (`Ctx::cmd` in a `format!`), not kept as argv,
    /// is named too: every hint, however it was made, names the tool of each command it
    /// suggests — its quoted words read as the shell reads them.
    #[test]
    fn a_command_written_into_a_hints_text_names_its_tool_too() {
        let globals = vec!["--home".to_string(), "/tmp/my home".to_string()];
        let status =
            crate::render::suggested_command(&globals, &["orchestrate", "status", "a `b` c"]);
        let start =
            crate::render::suggested_command(&globals, &["orchestrate", "start", "r", "it's $'x'"]);
        let gc = crate::render::suggested_command(&globals, &["gc"]);
        let e = CommandError::bad_input("x").hint(format!(
            "nothing was recorded; {status} shows every phase, {start} starts it, {gc} names none, `KEY=VALUE` stays"
        ));
        let doc = error(&e).structured_content.unwrap();
        assert_eq!(
            doc["hints"][0],
            format!(
                "nothing was recorded; {status} (the `status` tool) shows every phase, {start} (the `phase_start` tool) starts it, {gc} names none, `KEY=VALUE` stays"
            )
        );
        // Outside MCP the text is as written.
        assert_eq!(
            e.hints[0].to_string(),
            format!(
                "nothing was recorded; {status} shows every phase, {start} starts it, {gc} names none, `KEY=VALUE` stays"
            )
        );
    }
}
