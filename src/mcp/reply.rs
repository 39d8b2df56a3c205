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
/// text block after it, and the exit code in `_meta`.
pub fn document(output: Output) -> CallToolResult {
    let mut content = vec![ContentBlock::text(text(&output.json))];
    content.extend(
        output
            .warnings
            .iter()
            .map(|w| ContentBlock::text(format!("warning: {w}"))),
    );
    let mut result = CallToolResult::success(content);
    result.structured_content = Some(output.json);
    result.with_meta(Some(exit_meta(output.code)))
}

/// A failed operation: a tool error (`isError`) carrying its message, detail and hints.
pub fn error(e: &CommandError) -> CallToolResult {
    let doc = e.document();
    let mut result = CallToolResult::error(vec![ContentBlock::text(text(&doc))]);
    result.structured_content = Some(doc);
    result.with_meta(Some(exit_meta(e.code)))
}
