//! `cortex log ...`: the audit trail — show, verify, export.

use super::args::LogCommand;
use super::context::{Ctx, no_runs};
use super::{CommandError, exit, out, out_json};
use crate::definition::Durability;
use crate::render::{render_event_line, render_verify};
use crate::store::{EventStore, SqliteStore, verify_rows};

pub fn dispatch(ctx: &Ctx, cmd: LogCommand) -> Result<i32, CommandError> {
    match cmd {
        LogCommand::Show { run } => {
            let store = ctx.existing_store()?.ok_or_else(no_runs)?;
            let run_id = ctx.resolve_run(&store, run.as_deref())?;
            let events = store.read_run(&run_id)?;
            if ctx.json {
                out_json(&events);
            } else {
                let mut text = format!("Run {run_id}: {} events\n", events.len());
                for e in &events {
                    text.push_str(&render_event_line(e));
                    text.push('\n');
                }
                out(&text);
            }
            Ok(exit::OK)
        }
        LogCommand::Export { run } => {
            let store = ctx.existing_store()?.ok_or_else(no_runs)?;
            let run_id = ctx.resolve_run(&store, run.as_deref())?;
            let mut text = String::new();
            for e in store.read_run(&run_id)? {
                text.push_str(&serde_json::to_string(&e).expect("events serialise"));
                text.push('\n');
            }
            out(&text);
            Ok(exit::OK)
        }
        LogCommand::Verify { run, all: _, file } => {
            let store = match &file {
                Some(f) if !f.is_file() => {
                    return Err(CommandError::bad_input(format!(
                        "{} is not a file",
                        f.display()
                    )));
                }
                Some(f) => SqliteStore::open(f, Durability::Normal)?,
                None => match ctx.existing_store()? {
                    Some(s) => s,
                    None => {
                        let report = verify_rows(&[]);
                        if ctx.json {
                            out_json(&report);
                        } else {
                            out(&render_verify(&report));
                        }
                        return Ok(exit::OK);
                    }
                },
            };
            let run_id = match &run {
                Some(r) => Some(ctx.resolve_run(&store, Some(r))?),
                None => None,
            };
            let rows = store.raw_rows(run_id.as_deref())?;
            let report = verify_rows(&rows);
            if ctx.json {
                out_json(&report);
            } else {
                out(&render_verify(&report));
            }
            Ok(if report.ok { exit::OK } else { exit::FAILED })
        }
    }
}
