//! Runs as resources: `cortex://runs/{run_id}` is a run's status document (the one `status`
//! returns), and the newest runs are listed as such resources.

use rmcp::ErrorData;
use rmcp::model::{Resource, ResourceContents, ResourceTemplate};

use crate::ops::{self, CommandError, Ctx, Scope, exit};

/// The scheme and path of a run's resource; the rest of the URI is the run.
const PREFIX: &str = "cortex://runs/";
/// How many runs a page of `resources/list` lists, newest first; the next page is asked for
/// with the page's `nextCursor` (MCP pagination), so every run is listed.
pub const LISTED: usize = 100;
const JSON: &str = "application/json";

pub fn uri(run_id: &str) -> String {
    format!("{PREFIX}{run_id}")
}

pub fn template() -> ResourceTemplate {
    ResourceTemplate::new(format!("{PREFIX}{{run_id}}"), "run")
        .with_title("A run's status")
        .with_description(
            "The status document of a workflow or scenario run (the same as the status tool's): status, steps or phases with their prompts and outputs, and the suggested next commands. run_id is a run's id (or a unique prefix of one).",
        )
        .with_mime_type(JSON)
}

/// A page of `resources/list`: its runs' resources, and the cursor of the next page when
/// there are older runs.
pub struct Page {
    pub resources: Vec<Resource>,
    pub next_cursor: Option<String>,
}

/// The runs of every kind, newest first, a page of `LISTED` at a time: the first page
/// without `cursor`, each next one from the `nextCursor` of the one before (the id of its
/// last run, older runs following it). A cursor that is no run id is refused (the MCP
/// specification: invalid params). Before, only the newest 100 were listed, with no cursor.
pub fn list(ctx: &Ctx, cursor: Option<&str>) -> Result<Page, CommandError> {
    let before = match cursor {
        None => None,
        Some(c) if c.len() == 26 && c.chars().all(|c| c.is_ascii_alphanumeric()) => Some(c),
        Some(c) => {
            return Err(CommandError::bad_input(format!(
                "`{}` is not a cursor of resources/list",
                crate::definition::shown(c)
            ))
            .hint("give the `nextCursor` of the page before, or no cursor for the first page"));
        }
    };
    let Some(store) = ctx.reading_store()? else {
        return Ok(Page {
            resources: Vec::new(),
            next_cursor: None,
        });
    };
    let page = ops::history_page_before(&store, &ctx.home, None, before, LISTED)?;
    let next_cursor = page
        .more
        .then(|| page.runs.last().map(|r| r.run_id.clone()))
        .flatten();
    let resources = page
        .runs
        .into_iter()
        .map(|row| {
            let kind = row.kind.as_str();
            Resource::new(uri(&row.run_id), row.run_id.clone())
                .with_title(format!("{kind} {}: {}", row.name, row.shown_status))
                .with_description(format!(
                    "The status of {kind} run {} of `{}`, started {}",
                    row.run_id,
                    row.name,
                    row.started_at.as_deref().unwrap_or("-")
                ))
                .with_mime_type(JSON)
        })
        .collect();
    Ok(Page {
        resources,
        next_cursor,
    })
}

/// The run a resource URI names, or why it names none.
pub fn run_of(uri: &str) -> Result<&str, CommandError> {
    match uri.strip_prefix(PREFIX) {
        Some(run) if !run.is_empty() && !run.contains('/') => Ok(run),
        _ => Err(CommandError::bad_input(format!(
            "`{}` is not a run's resource",
            crate::definition::shown(uri)
        ))
        .hint(format!("a run's resource is {PREFIX}RUN_ID"))),
    }
}

/// The contents of a run's resource: its status document.
pub fn read(ctx: &Ctx, uri: &str) -> Result<ResourceContents, CommandError> {
    let run = run_of(uri)?;
    let output = ops::workflow::status(ctx, Scope::any(), Some(run), None)?;
    let text = serde_json::to_string(&output.json).expect("documents serialise");
    Ok(ResourceContents::text(crate::render::json_safe(&text), uri).with_mime_type(JSON))
}

/// A resource that cannot be read, as a protocol error (resources have no error results):
/// an unknown run is "not found", with the hints and the detail as data.
pub fn error(e: &CommandError) -> ErrorData {
    let data = Some(e.document());
    if e.code == exit::BAD_INPUT {
        ErrorData::resource_not_found(e.message.clone(), data)
    } else {
        ErrorData::internal_error(e.message.clone(), data)
    }
}
