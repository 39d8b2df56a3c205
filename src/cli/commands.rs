//! From parsed arguments to an operation and back: each command is one call into `ops`, its
//! output printed. Commands that drive a run get a terminal observer and a stop flag set by
//! Ctrl-C, SIGTERM and SIGHUP.

use super::args::{
    AgentCommandArgs, Audit, LogCommand, OrchestrateCommand, ResumeRest, ScheduleCommand,
    StepCommand, TopCommand, WorkflowCommand,
};

use super::observer::TerminalObserver;
use super::{CommandError, print};
use crate::event::{Operator, ResumeMode, RunKind};
use crate::execute::StopFlag;
use crate::ops::scenario::{PhaseReport, RunRequest, SCENARIOS};
use crate::ops::workflow::{ResumeArgs, StepReport, WORKFLOWS};
use crate::ops::{self, Ctx, Live, Output, parse_pairs};

fn by(audit: &Audit) -> Operator {
    ops::operator(audit.actor.as_deref(), audit.message.as_deref())
}

/// `workflow resume` and `orchestrate resume`: go on with run `run` of `scope` in `mode`, or
/// (`--drive-on`) drive it on as a report's own drive would.
fn resume(
    ctx: &Ctx,
    json: bool,
    scope: ops::Scope,
    run: Option<&str>,
    mode: ResumeMode,
    rest: ResumeRest,
) -> Result<i32, CommandError> {
    if rest.drive_on {
        return driving(ctx, json, |live| {
            ops::workflow::drive_on_reported(ctx, scope, run, by(&rest.audit), live)
        });
    }
    let inputs = parse_pairs(&rest.inputs, "input")?;
    let args = ResumeArgs {
        mode,
        inputs: &inputs,
        dry_run: rest.dry_run,
        timeout: rest.timeout.as_deref(),
        notify_only: rest.notify_only,
        submit: rest.submit,
    };
    driving(ctx, json, |live| {
        ops::workflow::resume(ctx, scope, run, args, by(&rest.audit), live)
    })
}

/// Run an operation that drives a run, with live progress on the terminal.
fn driving(
    ctx: &Ctx,
    json: bool,
    op: impl FnOnce(&mut Live<'_>) -> Result<Output, CommandError>,
) -> Result<i32, CommandError> {
    driving_with(ctx, json, StopFlag::install(), op)
}

/// `driving`, with the stop flag `stop`.
fn driving_with(
    ctx: &Ctx,
    json: bool,
    stop: StopFlag,
    op: impl FnOnce(&mut Live<'_>) -> Result<Output, CommandError>,
) -> Result<i32, CommandError> {
    let mut observer = TerminalObserver::new(json, ctx.globals());
    let mut live = Live {
        observer: &mut observer,
        stop,
    };
    let output = op(&mut live)?;
    // What the drive warned of live is in the document too (`--json`, as an MCP tool's).
    let said = std::mem::take(&mut observer.said);
    drop(observer);
    Ok(print(json, output.said_live(said)))
}

/// `ctx` delivering notifications before an operation returns, whatever signals come.
fn waiting(ctx: &Ctx) -> Ctx {
    Ctx {
        deliveries: ops::Deliveries::Wait,
        ..ctx.clone()
    }
}

pub fn dispatch(
    ctx: &Ctx,
    json: bool,
    no_color: bool,
    command: TopCommand,
) -> Result<i32, CommandError> {
    let done = |output: Result<Output, CommandError>| output.map(|o| print(json, o));
    // An input given twice by the environment (variables differing only by case) is refused
    // before anything reads it (`execute::input_env_clash`).
    if let Some(clash) = crate::execute::input_env_clash() {
        return Err(CommandError::bad_input(clash)
            .hint("unset all of them but one (the variable of input `NAME` is CORTEX_INPUT_NAME, in any case)"));
    }
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
            // JSON Lines, one event per line (SPEC §5): not one JSON document, so `--json`
            // is refused as for the other commands whose output is a format of its own.
            LogCommand::Export { run } => {
                if json {
                    return Err(raw_output_only(
                        "log export",
                        "JSON Lines (one event a line)",
                    ));
                }
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
            LogCommand::Reindex => done(ops::log::reindex(ctx)),
        },
        // Processes that live on keep SIGINT as it is: their deliveries are not interrupted by
        // it (the TUI reads Ctrl-C as a key; the MCP server ends with its input).
        TopCommand::Tui { actor } => super::tui::run(&waiting(ctx), json, actor, no_color),
        // Its stdout is the protocol: it prints nothing itself, and logs through `err`.
        TopCommand::Mcp { actor } => crate::mcp::serve(&waiting(ctx), actor, |line| {
            super::err(&format!("cortex mcp: {line}\n"))
        }),
        TopCommand::Schema { name } => super::schema::print(&name),
        TopCommand::Gc {
            older_than,
            dry_run,
        } => {
            let older_than = ops::housekeeping::older_than(&older_than)?;
            done(ops::housekeeping::gc(ctx, older_than, dry_run))
        }
        TopCommand::Completions { shell } => {
            if json {
                return Err(raw_output_only("completions", "a shell script"));
            }
            super::out(&super::completions::script(shell));
            Ok(super::exit::OK)
        }
        TopCommand::Logs {
            run,
            step,
            follow,
            raw,
            attempt,
            tail_bytes,
        } => {
            let (run, step) = (run.as_deref(), step.as_deref());
            if tail_bytes.is_some() && !json {
                return Err(ops::CommandError::bad_input(
                    "--tail-bytes bounds the document of --json: without --json every byte is printed",
                )
                .hint("add --json, or leave --tail-bytes out"));
            }
            let window = ops::attempt_logs::Window {
                attempt,
                tail_bytes: tail_bytes.unwrap_or(ops::attempt_logs::DEFAULT_TAIL_BYTES),
            };
            if raw {
                if json {
                    return Err(raw_output_only("logs --raw", "the bytes an attempt wrote"));
                }
                let step = step.expect("clap requires STEP with --raw");
                let log = ops::attempt_logs::raw_attempt_log(ctx, run, step, attempt)?;
                let mut reader = log.reader;
                let mut out = super::RawOut::new();
                let mut piece = vec![0u8; 64 * 1024];
                loop {
                    match std::io::Read::read(&mut reader, &mut piece) {
                        Ok(0) => break,
                        Ok(n) => out.write(&piece[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            out.finish();
                            return Err(ops::CommandError::new(super::exit::FAILED, e.to_string())
                                .hint(format!(
                                    "{} says whether the attempt's files are as recorded now",
                                    ctx.cmd(&["log", "verify"])
                                )));
                        }
                    }
                }
                out.finish();
                if let Some(warning) = log.warning {
                    super::warn(&warning);
                }
                return Ok(super::exit::OK);
            }
            if follow {
                // With --json, one document once the run stops moving.
                let code = ops::attempt_logs::follow_attempt_logs(ctx, run, step, &mut |text| {
                    if !json {
                        super::out(text);
                    }
                })?;
                if !json {
                    return Ok(code);
                }
            }
            if json {
                return done(ops::attempt_logs::attempt_logs(ctx, run, step, window));
            }
            // Printed as it is read, each attempt's file in pieces.
            ops::attempt_logs::print_attempt_logs(ctx, run, step, attempt, &mut |text| {
                super::out(text)
            })
        }
        TopCommand::Worker {
            name,
            tags,
            concurrency,
            lease,
            poll,
            until_idle,
            inputs,
            no_schedule,
        } => {
            let tags = crate::definition::parse_tags(&tags).map_err(|e| {
                CommandError::bad_input(format!("--tags: {e}"))
                    .hint("write e.g. --tags gpu,os:linux")
            })?;
            let opts = ops::worker::WorkerOptions {
                name,
                tags,
                concurrency: usize::from(concurrency),
                lease: ops::worker::flag(&crate::definition::limits::WORKER_LEASE, &lease)?,
                poll: ops::worker::flag(&crate::definition::limits::WORKER_POLL, &poll)?,
                until_idle,
                inputs: parse_pairs(&inputs, "input")?,
            };
            // Schedules fire from workers too (each due time once, however many run).
            if !no_schedule && !until_idle {
                ops::schedule::in_background(ctx.clone(), |line| {
                    super::err(&format!("schedule: {line}\n"))
                })?;
            }
            // The first SIGTERM (or Ctrl-C) drains; a second ends what it runs, recorded, and
            // hands its runs back; a third ends it at once (its leases lapse and other
            // workers take its runs over).
            driving_with(ctx, json, StopFlag::install_counted(), |live| {
                ops::worker::work(ctx, opts, live)
            })
        }
        TopCommand::Man { command, all } => match all {
            Some(dir) => {
                let written = super::man::all(&dir)?;
                let doc = serde_json::json!({"dir": dir.display().to_string(), "pages": written});
                let text = format!(
                    "Wrote {} manual pages into {} (e.g. `man -l {}`).\n",
                    written.len(),
                    dir.display(),
                    dir.join("cortex.1").display()
                );
                Ok(print(json, Output::new(doc, text, super::exit::OK)))
            }
            None => {
                if json {
                    return Err(raw_output_only("man", "a manual page (roff)").hint(format!(
                        "{} writes every page and lists them in JSON",
                        ctx.cmd(&["--json", "man", "--all", "DIR"])
                    )));
                }
                super::out(&String::from_utf8_lossy(&super::man::one(&command)?));
                Ok(super::exit::OK)
            }
        },
        TopCommand::Serve {
            addr,
            token,
            actor,
            public_url,
            driver_wait,
            max_connections,
            header_timeout,
            body_timeout,
            no_schedule,
            no_notify,
        } => serve(
            ctx,
            json,
            crate::serve::Options {
                addr,
                token,
                actor,
                public_url,
                driver_wait: std::time::Duration::from_secs(driver_wait),
                fires_schedules: !no_schedule,
                limits: crate::serve::Limits::of(
                    max_connections.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
                    (
                        std::time::Duration::from_secs(header_timeout),
                        std::time::Duration::from_secs(body_timeout),
                    ),
                    crate::execute::open_file_limit(),
                )?,
            },
            (no_schedule, no_notify),
        ),
        TopCommand::Schedule(command) => schedule(ctx, json, command),
    }
}

/// `--json` asked of a command whose output is a file's text, not a document.
fn raw_output_only(command: &str, what: &str) -> CommandError {
    CommandError::bad_input(format!(
        "`cortex {command}` prints {what}, not a JSON document: --json does not apply"
    ))
    .hint(format!("run `cortex {command} ...` without --json"))
}

/// `cortex schedule list | run`.
fn schedule(ctx: &Ctx, json: bool, command: ScheduleCommand) -> Result<i32, CommandError> {
    use crate::ops::schedule;
    match command {
        ScheduleCommand::List { at } => {
            let now = match at {
                Some(t) => schedule::parse_at(ctx.surface, &t)?,
                None => std::time::SystemTime::now(),
            };
            schedule::list(ctx, now).map(|o| print(json, o))
        }
        ScheduleCommand::Run { once, at, catch_up } => {
            let at = at
                .as_deref()
                .map(|t| schedule::parse_at(ctx.surface, t))
                .transpose()?;
            if let Some(at) = at {
                schedule::refuse_future_at(at, std::time::SystemTime::now())?;
            }
            let stop = StopFlag::install();
            if !json {
                super::err(&format!(
                    "cortex schedule: {} (times in UTC){}\n",
                    if once {
                        "one pass".to_string()
                    } else {
                        format!("firing schedules into {}; Ctrl-C stops", ctx.home.display())
                    },
                    if catch_up {
                        ", catching up missed times"
                    } else {
                        ""
                    }
                ));
            }
            let happened = schedule::run(ctx, once, at, catch_up, &stop, &mut |h| {
                if json && once {
                    return;
                }
                if json {
                    super::out(&format!(
                        "{}\n",
                        serde_json::to_string(h).unwrap_or_default()
                    ));
                } else {
                    super::out(&crate::render::render_happened(h));
                }
            })?;
            if json && once {
                super::out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&serde_json::json!({ "happened": happened }))
                        .unwrap_or_default()
                ));
            } else if once && happened.is_empty() && !json {
                super::out("nothing was due\n");
            }
            // A due run that could not start is a failure of the pass: a cron job or CI
            // step running `--once` sees it in the exit status, not only in `schedule list`.
            if once && happened.iter().any(|h| h.what == "run_failed") {
                if !json {
                    super::err("error: a due run could not start (see above)\n");
                }
                return Ok(super::exit::FAILED);
            }
            // A schedule whose definition does not validate is bad input, as `schedule list`
            // says with exit 2: before, `--once` said "not scheduled" and exited 0, and a cron
            // job never learned its schedule had stopped firing.
            let invalid: Vec<_> = happened.iter().filter(|h| h.what == "invalid").collect();
            if once && !invalid.is_empty() {
                if !json {
                    // Each definition's own `validate` (before, it named `cortex validate`,
                    // which is no command), as this invocation would paste it.
                    let commands: Vec<String> = invalid
                        .iter()
                        .map(|h| {
                            let group = if h.kind == "scenario" {
                                "orchestrate"
                            } else {
                                "workflow"
                            };
                            ctx.cmd(&[group, "validate", &h.name])
                        })
                        .collect();
                    super::err(&format!(
                        "error: {} (see above; {} {} where)\n",
                        if invalid.len() == 1 {
                            "a schedule's definition does not validate".to_string()
                        } else {
                            format!("{} schedules' definitions do not validate", invalid.len())
                        },
                        commands.join(", "),
                        if commands.len() == 1 { "shows" } else { "show" }
                    ));
                }
                return Ok(super::exit::BAD_INPUT);
            }
            Ok(super::exit::OK)
        }
    }
}

/// `cortex serve`: bind, say where (the first line is the address, for people and scripts),
/// then serve until ended.
fn serve(
    ctx: &Ctx,
    json: bool,
    options: crate::serve::Options,
    (no_schedule, no_notify): (bool, bool),
) -> Result<i32, CommandError> {
    let bound = crate::serve::bind(ctx, options)?;
    if let Some(w) = &bound.warning {
        super::warn(w);
    }
    let url = format!("http://{}/", bound.addr);
    // Where a person opens it: `--public-url`, else this address (the host name for 0.0.0.0).
    let open = bound.open_url();
    if json {
        let mut doc = serde_json::json!({
            "url": url,
            "addr": bound.addr.to_string(),
            "open_url": open,
            "token_generated": bound.token_generated,
        });
        // A token made here is told, as the human line tells it: a script that started the
        // server has no other way to act through it. One given by `--token` is not echoed.
        if bound.token_generated {
            doc["token"] = serde_json::Value::String(bound.token.clone());
        }
        super::out_json(&doc);
    } else {
        super::out(&format!("Serving cortex on {url}\n"));
        if bound.token_generated {
            super::out(&format!(
                "Open {open}?token={} to sign in (the token is needed for every change{}).\n",
                bound.token,
                if bound.open_reads {
                    ""
                } else {
                    " and every read"
                }
            ));
        } else if open != url {
            // The token was given (`--token`, CORTEX_SERVE_TOKEN): it is not printed, so
            // the address carries none; its page asks for it.
            super::out(&format!(
                "Open {open} and sign in with the token given in --token or CORTEX_SERVE_TOKEN.\n"
            ));
        }
        if !bound.addr.ip().is_loopback() && bound.public.is_none() {
            super::out(
                "This server speaks plain HTTP: off this machine the token crosses the network unencrypted, unless an HTTPS proxy stands in front (then give --public-url https://NAME).\n",
            );
        }
    }
    if !no_schedule {
        // The scheduler beside the server: what it fires goes to stderr, one line each.
        ops::schedule::in_background(ctx.clone(), |line| {
            super::err(&format!("schedule: {line}\n"))
        })?;
    }
    // Beside it, the notifications a dead driver left due, delivered as a worker delivers
    // them: what it delivered goes to stderr, each line marked.
    let sweeper = (!no_notify)
        .then(|| {
            ops::notify_sweep::in_background(ctx.clone(), |text| {
                for line in text.lines() {
                    super::err(&format!("notify: {line}\n"));
                }
            })
        })
        .transpose()?;
    bound.run()?;
    if let Some(sweeper) = sweeper {
        sweeper.stop(crate::serve::DELIVERY_GRACE);
    }
    Ok(super::exit::OK)
}

fn workflow(ctx: &Ctx, json: bool, cmd: WorkflowCommand) -> Result<i32, CommandError> {
    let done = |output: Result<Output, CommandError>| output.map(|o| print(json, o));
    match cmd {
        WorkflowCommand::List => done(ops::workflow::list(ctx)),
        WorkflowCommand::Validate { name, all } => done(match name {
            Some(name) if !all => ops::workflow::validate(ctx, &name),
            _ => ops::workflow::validate_all(ctx),
        }),
        WorkflowCommand::Run {
            name,
            inputs,
            dry_run,
            submit,
            audit,
        } => {
            let inputs = parse_pairs(&inputs, "input")?;
            let how = ops::RunHow::of(dry_run, submit);
            driving(ctx, json, |live| {
                ops::workflow::run(ctx, &name, &inputs, how, by(&audit), live)
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
            rest,
        } => {
            let mode = ResumeMode::from_flags(retry, skip, rollback_to, from);
            resume(ctx, json, WORKFLOWS, run.as_deref(), mode, rest)
        }
        WorkflowCommand::Stop { run, audit } => done(ops::scenario::stop_run(
            ctx,
            WORKFLOWS,
            run.as_deref(),
            by(&audit),
        )),
        WorkflowCommand::Abort { run, audit } => done(ops::workflow::abort(
            ctx,
            WORKFLOWS,
            run.as_deref(),
            by(&audit),
        )),
        WorkflowCommand::History { limit, before } => done(ops::workflow::history(
            ctx,
            RunKind::Workflow,
            ops::history_limit_text(&limit, "`--limit`")?,
            before.as_deref(),
        )),
        WorkflowCommand::Step(step) => {
            let (step, run, outputs, no_drive, audit, success) = match step {
                StepCommand::Complete(r) => (
                    r.step,
                    r.run,
                    parse_pairs(&r.outputs, "output")?,
                    r.no_drive,
                    r.audit,
                    true,
                ),
                StepCommand::Fail(r) => (r.step, r.run, Vec::new(), r.no_drive, r.audit, false),
            };
            driving(ctx, json, |live| {
                ops::workflow::report_step(
                    ctx,
                    StepReport {
                        step: &step,
                        run: run.as_deref(),
                        success,
                        outputs,
                        no_drive,
                        drives_after: false,
                        holder_stays: false,
                        by: by(&audit),
                        inputs: &[],
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
        OrchestrateCommand::Preview { name, inputs } => {
            let inputs = parse_pairs(&inputs, "input")?;
            done(ops::scenario::preview(ctx, &name, &inputs))
        }
        OrchestrateCommand::Run {
            name,
            start,
            inputs,
            dry_run,
            submit,
            audit,
        } => {
            let inputs = parse_pairs(&inputs, "input")?;
            let req = RunRequest {
                name: &name,
                starts: &start,
                inputs: &inputs,
                how: ops::RunHow::of(dry_run, submit),
            };
            driving(ctx, json, |live| {
                ops::scenario::run(ctx, req, by(&audit), live)
            })
        }
        OrchestrateCommand::Status { target, at } => {
            done(ops::workflow::status(ctx, SCENARIOS, target.as_deref(), at))
        }
        OrchestrateCommand::Start {
            name,
            phase,
            no_drive,
            audit,
        } => driving(ctx, json, |live| {
            ops::scenario::start(ctx, &name, &phase, no_drive, by(&audit), live)
        }),
        OrchestrateCommand::Complete {
            name,
            phase,
            outputs,
            no_drive,
            audit,
        } => {
            let report = PhaseReport {
                phase: &phase,
                success: true,
                outputs: parse_pairs(&outputs, "output")?,
                no_drive,
                inputs: &[],
            };
            driving(ctx, json, |live| {
                ops::scenario::report(ctx, &name, report, by(&audit), live)
            })
        }
        OrchestrateCommand::Fail {
            name,
            phase,
            no_drive,
            audit,
        } => {
            let report = PhaseReport {
                phase: &phase,
                success: false,
                outputs: Vec::new(),
                no_drive,
                inputs: &[],
            };
            driving(ctx, json, |live| {
                ops::scenario::report(ctx, &name, report, by(&audit), live)
            })
        }
        OrchestrateCommand::Stop { name, audit } => done(ops::scenario::stop_run(
            ctx,
            SCENARIOS,
            name.as_deref(),
            by(&audit),
        )),
        OrchestrateCommand::History { limit, before } => done(ops::workflow::history(
            ctx,
            RunKind::Scenario,
            ops::history_limit_text(&limit, "`--limit`")?,
            before.as_deref(),
        )),
        OrchestrateCommand::Abort { name, audit } => done(ops::workflow::abort(
            ctx,
            SCENARIOS,
            name.as_deref(),
            by(&audit),
        )),
        OrchestrateCommand::Resume {
            name,
            retry,
            skip,
            rollback_to,
            from,
            rest,
        } => {
            let mode = ResumeMode::from_flags(retry, skip, rollback_to, from);
            resume(ctx, json, SCENARIOS, name.as_deref(), mode, rest)
        }
    }
}
