//! From parsed arguments to an operation and back: each command is one call into `ops`, its
//! output printed. Commands that drive a run get a terminal observer and a stop flag set by
//! Ctrl-C, SIGTERM and SIGHUP.

use super::args::{
    AgentCommandArgs, Audit, LogCommand, OrchestrateCommand, StepCommand, TopCommand,
    WorkflowCommand,
};
use super::observer::TerminalObserver;
use super::{CommandError, print};
use crate::event::{Operator, ResumeMode, RunKind};
use crate::execute::StopFlag;
use crate::ops::scenario::{PhaseReport, SCENARIOS};
use crate::ops::workflow::{ResumeArgs, StepReport, WORKFLOWS};
use crate::ops::{self, Ctx, Live, Output, parse_pairs};

fn by(audit: &Audit) -> Operator {
    ops::operator(audit.actor.as_deref(), audit.message.as_deref())
}

/// Run an operation that drives a run, with live progress on the terminal.
fn driving(
    json: bool,
    op: impl FnOnce(&mut Live<'_>) -> Result<Output, CommandError>,
) -> Result<i32, CommandError> {
    let mut observer = TerminalObserver::new(json);
    let mut live = Live {
        observer: &mut observer,
        stop: StopFlag::install(),
    };
    let output = op(&mut live)?;
    drop(observer);
    Ok(print(json, output))
}

pub fn dispatch(
    ctx: &Ctx,
    json: bool,
    no_color: bool,
    command: TopCommand,
) -> Result<i32, CommandError> {
    let done = |output: Result<Output, CommandError>| output.map(|o| print(json, o));
    match command {
        TopCommand::Workflow(cmd) => workflow(ctx, json, cmd),
        TopCommand::Orchestrate(cmd) => orchestrate(ctx, json, cmd),
        TopCommand::Agent(cmd) => done(match cmd {
            AgentCommandArgs::List => ops::agents::list(ctx),
            AgentCommandArgs::Status { name } => ops::agents::status(ctx, &name),
            AgentCommandArgs::Activate { name, audit } => {
                ops::agents::set_active(ctx, &name, true, by(&audit))
            }
            AgentCommandArgs::Deactivate { name, audit } => {
                ops::agents::set_active(ctx, &name, false, by(&audit))
            }
        }),
        TopCommand::Log(cmd) => match cmd {
            LogCommand::Show { run } => done(ops::log::show(ctx, run.as_deref())),
            // JSON Lines whatever the flag: one event per line.
            LogCommand::Export { run } => {
                let output = ops::log::export(ctx, run.as_deref())?;
                super::out_json_text(&output.human);
                Ok(output.code)
            }
            LogCommand::Verify {
                run,
                all: _,
                file,
                anchors,
            } => done(ops::log::verify(
                ctx,
                run.as_deref(),
                file.as_deref(),
                anchors.as_deref(),
            )),
            LogCommand::Anchor { file } => done(ops::log::anchor(ctx, file.as_deref())),
            LogCommand::Copy { to } => done(ops::log::copy(ctx, &to)),
        },
        TopCommand::Tui { actor } => super::tui::run(ctx, json, actor, no_color),
        TopCommand::Schema { name } => super::schema::print(&name),
    }
}

fn workflow(ctx: &Ctx, json: bool, cmd: WorkflowCommand) -> Result<i32, CommandError> {
    let done = |output: Result<Output, CommandError>| output.map(|o| print(json, o));
    match cmd {
        WorkflowCommand::List => done(ops::workflow::list(ctx)),
        WorkflowCommand::Validate { name } => done(ops::workflow::validate(ctx, &name)),
        WorkflowCommand::Run {
            name,
            inputs,
            dry_run,
            audit,
        } => {
            let inputs = parse_pairs(&inputs, "input")?;
            driving(json, |live| {
                ops::workflow::run(ctx, &name, &inputs, dry_run, by(&audit), live)
            })
        }
        WorkflowCommand::Status { run, at } => {
            done(ops::workflow::status(ctx, WORKFLOWS, run.as_deref(), at))
        }
        WorkflowCommand::Resume {
            run,
            retry,
            skip,
            rollback_to,
            from,
            inputs,
            dry_run,
            timeout,
            audit,
        } => {
            let inputs = parse_pairs(&inputs, "input")?;
            let mode = match (retry, skip, rollback_to, from) {
                (true, ..) => ResumeMode::Retry,
                (_, true, ..) => ResumeMode::Skip,
                (_, _, Some(step), _) => ResumeMode::RollbackTo(step),
                (_, _, _, Some(step)) => ResumeMode::From(step),
                _ => ResumeMode::Continue,
            };
            let args = ResumeArgs {
                mode,
                inputs: &inputs,
                dry_run,
                timeout: timeout.as_deref(),
            };
            driving(json, |live| {
                ops::workflow::resume(ctx, WORKFLOWS, run.as_deref(), args, by(&audit), live)
            })
        }
        WorkflowCommand::Abort { run, audit } => done(ops::workflow::abort(
            ctx,
            WORKFLOWS,
            run.as_deref(),
            by(&audit),
        )),
        WorkflowCommand::History { limit } => {
            done(ops::workflow::history(ctx, RunKind::Workflow, limit))
        }
        WorkflowCommand::Step(step) => {
            let (report, success) = match step {
                StepCommand::Complete(r) => (r, true),
                StepCommand::Fail(r) => (r, false),
            };
            let outputs = parse_pairs(&report.outputs, "output")?;
            driving(json, |live| {
                ops::workflow::report_step(
                    ctx,
                    StepReport {
                        step: &report.step,
                        run: report.run.as_deref(),
                        success,
                        outputs,
                        no_drive: report.no_drive,
                        by: by(&report.audit),
                    },
                    live,
                )
            })
        }
    }
}

fn orchestrate(ctx: &Ctx, json: bool, cmd: OrchestrateCommand) -> Result<i32, CommandError> {
    let done = |output: Result<Output, CommandError>| output.map(|o| print(json, o));
    match cmd {
        OrchestrateCommand::List => done(ops::scenario::list(ctx)),
        OrchestrateCommand::Validate { name, all } => {
            done(ops::scenario::validate(ctx, name.as_deref(), all))
        }
        OrchestrateCommand::Preview { name } => done(ops::scenario::preview(ctx, &name)),
        OrchestrateCommand::Run { name, start, audit } => driving(json, |live| {
            ops::scenario::run(ctx, &name, &start, by(&audit), live)
        }),
        OrchestrateCommand::Status { target } => done(ops::workflow::status(
            ctx,
            SCENARIOS,
            target.as_deref(),
            None,
        )),
        OrchestrateCommand::Start {
            name,
            phase,
            no_drive,
            audit,
        } => driving(json, |live| {
            ops::scenario::start(ctx, &name, &phase, no_drive, by(&audit), live)
        }),
        OrchestrateCommand::Complete {
            name,
            phase,
            no_drive,
            audit,
        } => phase_report(ctx, json, &name, &phase, true, no_drive, &audit),
        OrchestrateCommand::Fail {
            name,
            phase,
            no_drive,
            audit,
        } => phase_report(ctx, json, &name, &phase, false, no_drive, &audit),
        OrchestrateCommand::Stop { name, audit } => {
            done(ops::scenario::stop(ctx, &name, by(&audit)))
        }
        OrchestrateCommand::History { limit } => {
            done(ops::workflow::history(ctx, RunKind::Scenario, limit))
        }
        OrchestrateCommand::Abort { name, audit } => done(ops::workflow::abort(
            ctx,
            SCENARIOS.unfinished(),
            Some(&name),
            by(&audit),
        )),
        OrchestrateCommand::Resume {
            name,
            dry_run,
            timeout,
            audit,
        } => {
            let args = ResumeArgs {
                mode: ResumeMode::Continue,
                inputs: &[],
                dry_run,
                timeout: timeout.as_deref(),
            };
            driving(json, |live| {
                ops::workflow::resume(ctx, SCENARIOS, Some(&name), args, by(&audit), live)
            })
        }
    }
}

fn phase_report(
    ctx: &Ctx,
    json: bool,
    name: &str,
    phase: &str,
    success: bool,
    no_drive: bool,
    audit: &Audit,
) -> Result<i32, CommandError> {
    let report = PhaseReport {
        phase,
        success,
        no_drive,
    };
    driving(json, |live| {
        ops::scenario::report(ctx, name, report, by(audit), live)
    })
}
