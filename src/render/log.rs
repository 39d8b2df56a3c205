//! The audit trail as text: one line per event, and verification verdicts.

use crate::event::{Event, Operator, Recorded, ResumeMode, Stage};
use crate::store::VerifyReport;

/// Who did it, and why: ` by ACTOR: MESSAGE`.
fn signed(by: Option<&Operator>) -> String {
    match by {
        None => String::new(),
        Some(by) => match &by.message {
            Some(m) => format!(" by {}: {m}", by.actor),
            None => format!(" by {}", by.actor),
        },
    }
}

/// Which validation: `pre-validation`, `validation of step X`, `post-validation`.
fn validation(stage: Stage, step: Option<&str>, unit: &str) -> String {
    match (stage, step) {
        (Stage::Pre, _) => "pre-validation".into(),
        (Stage::Post, _) => "post-validation".into(),
        (Stage::Step, Some(step)) => format!("validation of {unit} {step}"),
        (Stage::Step, None) => format!("validation of a {unit}"),
    }
}

/// `seq  time  type  summary`. In a scenario run the step events describe phases, and the
/// summary says so (`phase backend attempt 1`); the type column is the stored type.
pub fn render_event_line(rec: &Recorded, scenario: bool) -> String {
    let unit = if scenario { "phase" } else { "step" };
    let summary = match &rec.event {
        Event::RunStarted(s) => format!(
            "{} {} in {} (definition {}){}{}",
            if scenario { "scenario" } else { "workflow" },
            s.name,
            s.working_dir,
            &s.definition_hash[..12.min(s.definition_hash.len())],
            s.parent
                .as_ref()
                .map(|p| format!(
                    ", child of run {} (step {} attempt {})",
                    p.run_id, p.step, p.attempt
                ))
                .unwrap_or_default(),
            signed(Some(&s.by))
        ),
        Event::ConditionStarted { step } => format!("{unit} {step}: its `if:` command started"),
        Event::ConditionChecked(c) => format!("{unit} {}: {}", c.step, c.reason()),
        Event::ForeachExpanded { step, items } => {
            let shown: Vec<String> = items
                .iter()
                .take(5)
                .map(super::item_label)
                .map(|t| super::clip(&t, 30).into_owned())
                .collect();
            let more = if items.len() > 5 { ", …" } else { "" };
            format!(
                "{unit} {step}: {} ({}{more})",
                super::count(items.len(), "item"),
                shown.join(", ")
            )
        }
        Event::ForeachFailed { step, error } => format!("{unit} {step}: foreach: {error}"),
        Event::ForeachFinished {
            step,
            completed,
            skipped,
        } => format!(
            "{unit} {step}: {} completed, {skipped} skipped",
            super::count(*completed as usize, "item")
        ),
        Event::ChildStarted {
            step,
            attempt,
            run_id,
            workflow,
        } => format!("{unit} {step} attempt {attempt}: child run {run_id} of workflow {workflow}"),
        Event::ChildWaiting {
            step,
            attempt,
            run_id,
        } => format!("{unit} {step} attempt {attempt} waits with its child run {run_id}"),
        Event::StepStarted { step, attempt } => format!("{unit} {step} attempt {attempt}"),
        Event::StepWaiting { step, attempt } => {
            format!("{unit} {step} attempt {attempt} waits for a report")
        }
        Event::StepSucceeded {
            step, attempt, by, ..
        } => format!("{unit} {step} attempt {attempt}{}", signed(by.as_ref())),
        Event::StepFailed {
            step,
            attempt,
            error,
            by,
            ..
        } => format!(
            "{unit} {step} attempt {attempt}: {error}{}",
            signed(by.as_ref())
        ),
        Event::StepTimedOut { step, attempt, .. } => format!("{unit} {step} attempt {attempt}"),
        Event::AgentResult(r) => {
            let view = crate::project::AgentResultView::of(r);
            format!("{unit} {}: {}", r.step, super::status::agent_line(&view))
        }
        Event::StepInterrupted {
            step,
            attempt,
            reason,
        } => format!("{unit} {step} attempt {attempt}: {reason}"),
        Event::RetryScheduled {
            step,
            attempt,
            delay_ms,
        } => format!("{unit} {step} attempt {attempt} in {delay_ms} ms"),
        Event::StepSkipped { step, reason, by } => {
            format!("{unit} {step}: {reason}{}", signed(by.as_ref()))
        }
        Event::OutputRecorded { step, key, .. } => format!("{unit} {step} output {key}"),
        Event::RunFinished {
            outcome,
            reason,
            by,
        } => match reason {
            // An abort's reason names who aborted it and why (`aborted by ACTOR: MESSAGE`):
            // said once, not again as a signature (`aborted (aborted by a: x) by a: x`).
            Some(r)
                if by.as_ref().is_some_and(|b| {
                    r.starts_with(&format!("{} by {}", outcome.as_str(), b.actor))
                }) =>
            {
                r.clone()
            }
            Some(r) => format!("{} ({r}){}", outcome.as_str(), signed(by.as_ref())),
            None => format!("{}{}", outcome.as_str(), signed(by.as_ref())),
        },
        Event::RunResumed {
            mode,
            by,
            timeout_seconds,
            enable_rollback,
            claude,
            rerun,
            ..
        } => format!(
            "{}{}{}{}{}{}",
            match mode {
                ResumeMode::Continue => "continue".to_string(),
                ResumeMode::Retry => "retry".to_string(),
                ResumeMode::Skip => "skip".to_string(),
                ResumeMode::RollbackTo(to) => format!("roll back to {unit} {to}"),
                ResumeMode::From(from) => format!("from {unit} {from}"),
            },
            timeout_seconds
                .map(|t| format!(" (timeout {t} s)"))
                .unwrap_or_default(),
            enable_rollback
                .map(|on| format!(
                    " (enable_rollback: {on} in cortex.config.json at resume, not as at the start)"
                ))
                .unwrap_or_default(),
            claude
                .as_ref()
                .map(|c| format!(
                    " (Claude Code as cortex.config.json says at resume: program {})",
                    super::shell_quote(&super::one_line(&c.program))
                ))
                .unwrap_or_default(),
            if rerun.is_empty() {
                String::new()
            } else {
                format!(" (no checkpoint keeps {}: run again)", rerun.join(", "))
            },
            signed(Some(by))
        ),
        Event::StopRequested { by, signal, abort } => format!(
            "{}{}{}",
            if *abort { "abort" } else { "stop" },
            signal
                .as_ref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default(),
            signed(Some(by))
        ),
        Event::PhaseStartRequested { phase, by } => format!("phase {phase}{}", signed(Some(by))),
        Event::ValidationPassed { stage, step } => validation(*stage, step.as_deref(), unit),
        Event::ValidationFailed {
            stage,
            step,
            problems,
        } => format!(
            "{}: {}{}",
            validation(*stage, step.as_deref(), unit),
            super::count(problems.len(), "problem"),
            problems
                .first()
                .map(|p| format!(": {p}{}", if problems.len() > 1 { "; …" } else { "" }))
                .unwrap_or_default()
        ),
        Event::NotificationDelivered {
            trigger,
            notification,
            attempts,
            ok,
            detail,
            ..
        } => format!(
            "{trigger} {notification}: {} after {}{}",
            if *ok { "delivered" } else { "not delivered" },
            super::count(*attempts as usize, "attempt"),
            if detail.is_empty() {
                String::new()
            } else {
                format!(" ({detail})")
            }
        ),
        Event::ScheduleFired {
            due,
            cron,
            outcome,
            reason,
            missed,
            ..
        } => format!(
            "due {due} (`{cron}`): {}{}{}",
            outcome.as_str(),
            reason
                .as_ref()
                .map(|r| format!(", {r}"))
                .unwrap_or_default(),
            if *missed > 0 {
                format!(", {} missed", super::count(*missed as usize, "time"))
            } else {
                String::new()
            }
        ),
        Event::ScheduleReleased { due, .. } => format!("due {due}: released"),
        Event::ScheduleSeen { cron, at, .. } => {
            format!("`{cron}` seen at {at}: only later times fire")
        }
        Event::ScheduledRun { due, run_id, error } => match (run_id, error) {
            (Some(id), _) => format!("due {due}: run {id}"),
            (None, Some(e)) => format!("due {due}: no run ({e})"),
            (None, None) => format!("due {due}: no run"),
        },
        Event::RunSubmitted { by } => format!("for a worker{}", signed(Some(by))),
        Event::AttemptClaimed {
            step,
            attempt,
            worker,
            host,
            epoch,
        } => format!(
            "{unit} {step} attempt {attempt} by worker {worker} on {host} (lease epoch {epoch})"
        ),
        Event::AttemptRejected {
            step,
            attempt,
            worker,
            host,
            reason,
        } => format!("{unit} {step} attempt {attempt} from worker {worker} on {host}: {reason}"),
        Event::AttemptLog {
            step,
            attempt,
            bytes,
            blake3,
            lost_bytes,
            lost_reason,
            ..
        } => format!(
            "{unit} {step} attempt {attempt}: {} of output kept (blake3 {}){}",
            super::format_bytes(*bytes),
            blake3.get(..12).unwrap_or(blake3),
            lost_bytes
                .map(|n| format!(
                    "; incomplete: {} could not be written ({})",
                    super::format_bytes(n),
                    lost_reason.as_deref().unwrap_or("a write failed")
                ))
                .unwrap_or_default()
        ),
        Event::CheckpointSaved { step } => format!("after {unit} {step}"),
        Event::RollbackStarted { reason, steps, .. } => format!(
            "{}, newest first: {} ({reason})",
            super::count(steps.len(), unit),
            steps.join(", ")
        ),
        Event::StepCompensated { step, ran, .. } => format!(
            "{unit} {step}{}",
            if *ran { "" } else { " (nothing to undo)" }
        ),
        Event::CompensationFailed { step, error, .. } => format!("{unit} {step}: {error}"),
        Event::RollbackFinished {
            failed,
            cut_off,
            not_run,
        } if cut_off.is_some() || !not_run.is_empty() => {
            let mut parts = vec!["left unfinished by an abort".to_string()];
            if let Some(step) = cut_off {
                parts.push(format!("{unit} {step} cut off mid-compensation"));
            }
            if !not_run.is_empty() {
                parts.push(format!("never compensated: {}", not_run.join(", ")));
            }
            if !failed.is_empty() {
                parts.push(format!("compensation failed: {}", failed.join(", ")));
            }
            parts.join("; ")
        }
        Event::RollbackFinished { failed, .. } if failed.is_empty() => {
            "every step compensated".into()
        }
        Event::RollbackFinished { failed, .. } => format!(
            "{} not compensated: {}",
            super::count(failed.len(), unit),
            failed.join(", ")
        ),
        Event::RunPaused { step, reason } => match step {
            Some(step) => format!("at {unit} {step}: {reason}"),
            None => reason.clone(),
        },
        Event::RunStopped { time_limit: None } => "the run stopped; resume goes on".into(),
        Event::RunStopped {
            time_limit: Some(words),
        } => format!("stopped: {words}; resume goes on"),
        Event::AgentActivated { agent, phase, by } => {
            format!("agent {agent} for phase {phase}{}", signed(by.as_ref()))
        }
        Event::AgentDeactivated { agent, phase, by } => {
            format!("agent {agent} for phase {phase}{}", signed(by.as_ref()))
        }
        Event::CriterionMet {
            phase,
            criterion,
            checked,
            by,
        } => format!(
            "phase {phase}: {criterion} ({}){}",
            if *checked { "checked" } else { "confirmed" },
            signed(by.as_ref())
        ),
    };
    // One event, one line: a newline in a name, an actor or an error would start a line
    // that reads as another event. The type's column is as wide as the longest type name
    // (`notification_delivered`), so the summaries line up.
    format!(
        "{:>5}  {}  {:<22}  {}",
        rec.seq,
        super::one_line(&rec.time),
        rec.event.type_name(),
        super::one_line(&summary)
    )
}

/// A stored event that does not decode, on its line of `log show`: its seq, time, stored type
/// and version, why, and its hash.
pub fn render_unreadable_line(u: &crate::store::Unreadable) -> String {
    let what = match u.needs_version {
        Some(_) => "written by a newer cortex: upgrade cortex to read it".to_string(),
        None => format!("cannot be read (damaged): {}", u.unreadable),
    };
    format!(
        "{:>5}  {}  {:<22}  ✗ {} (stored as version {}); hash {}",
        u.seq,
        super::one_line(&u.time),
        super::one_line(&u.type_name),
        super::one_line(&what),
        u.version,
        u.hash
    )
}

/// What a verified log holds that this cortex cannot read: events a newer cortex wrote.
fn newer_note(report: &VerifyReport) -> String {
    let mut out = String::new();
    for u in &report.unreadable {
        let needs = u.needs_version.unwrap_or(u.version);
        out.push_str(&format!(
            "   ⚠ run {} holds events this cortex cannot read, from seq {} (`{}`, event schema version {needs}; this cortex reads up to {}): written by a newer cortex, upgrade cortex to read them; their chain verifies, nothing is damaged\n",
            super::terminal::terminal_safe(&u.run_id),
            u.seq,
            super::terminal::terminal_safe(&super::one_line(&u.type_name)),
            crate::event::EVENT_VERSION
        ));
    }
    out
}

/// The runs whose due notifications the log does not record (`notifications_unrecorded`):
/// said, not failed.
fn unrecorded_note(report: &VerifyReport) -> String {
    report
        .notifications_unrecorded
        .iter()
        .map(|u| {
            format!(
                "   ⚠ run {} (seq {}): {}\n",
                super::terminal::terminal_safe(&u.run_id),
                u.seq,
                super::terminal::terminal_safe(&u.reason)
            )
        })
        .collect()
}

/// The verdict of `log verify`.
pub fn render_verify(report: &VerifyReport) -> String {
    let chains = render_chains(report) + &unrecorded_note(report);
    match &report.file_damaged {
        None => chains,
        // The file's damage first; then what the chains that could be read say, never a ✅.
        Some(damage) => format!(
            "❌ log verification FAILED: the log's file is damaged (SQLite's integrity check: {})\n   restore it from a backup, or rebuild it: `sqlite3 cortex.db .recover | sqlite3 recovered.db`, then `cortex log verify --file recovered.db`\n{}",
            super::terminal::terminal_safe(damage),
            match chains.strip_prefix("✅ log verified: ") {
                Some(rest) => format!("   the chains it could read verify: {rest}"),
                None => chains
                    .lines()
                    .map(|l| format!("   {l}\n"))
                    .collect::<String>(),
            }
        ),
    }
}

/// "14 runs", or "14 runs and 2 other chains" (notification deliveries, schedules, the agent
/// registry: verified too, but no run).
fn runs_and_chains(report: &VerifyReport) -> String {
    count_runs_and_chains(report.runs as usize, report.chains as usize)
}

/// "14 runs", or "14 runs and 2 other chains".
fn count_runs_and_chains(runs: usize, chains: usize) -> String {
    let runs = super::count(runs, "run");
    match chains {
        0 => runs,
        1 => format!("{runs} and 1 other chain"),
        n => format!("{runs} and {n} other chains"),
    }
}

/// `render_verify` of the hash chains and what is held to them.
fn render_chains(report: &VerifyReport) -> String {
    match &report.first_bad {
        None => format!(
            "✅ log verified: {}, {}, every hash chain intact{}{}{}\n{}",
            runs_and_chains(report),
            super::count(report.events as usize, "event"),
            report
                .anchors
                .map(|n| format!(", {} present", super::count(n as usize, "anchored head")))
                .unwrap_or_default(),
            report
                .attempt_logs
                .filter(|n| *n > 0)
                .map(|n| format!(", {} as recorded", super::count(n as usize, "attempt log")))
                .unwrap_or_default(),
            absent_note(report),
            newer_note(report)
        ),
        Some(bad) if report.failures.len() <= 1 => format!(
            "❌ log verification FAILED{}: {}\n   checked {}, {}{}\n",
            failure_place(bad),
            super::one_line(&bad.reason),
            runs_and_chains(report),
            super::count(report.events as usize, "event"),
            intact_note(report)
        ),
        Some(_) => {
            // Runs and the other chains counted apart, as the last line counts them.
            let runs = report
                .failures
                .iter()
                .filter(|f| crate::event::is_run_chain(f.run_id.as_bytes()))
                .count();
            let failed = match (runs, report.failures.len() - runs) {
                (0, 1) => "1 other chain".to_string(),
                (0, n) => format!("{n} other chains"),
                (runs, chains) => count_runs_and_chains(runs, chains),
            };
            let mut text = format!("❌ log verification FAILED: {failed} did not verify\n");
            for bad in &report.failures {
                text.push_str(&format!(
                    "   -{}: {}\n",
                    failure_place(bad),
                    super::one_line(&bad.reason)
                ));
            }
            text.push_str(&format!(
                "   checked {}, {}{}\n",
                runs_and_chains(report),
                super::count(report.events as usize, "event"),
                intact_note(report)
            ));
            text
        }
    }
}

/// The warning under `log show` of a run that does not verify: where, why, and the
/// command that checks the whole log.
pub fn render_unverified_show(bad: &crate::store::BadEvent, verify: &str) -> String {
    format!(
        "⚠️  this run's log does not verify at seq {}: {}\n   the events above are as stored, not as recorded; {verify} checks it\n",
        bad.seq,
        super::one_line(&bad.reason)
    )
}

/// A chain's id as a message shows it, on one line: as it is when it is the id of a chain
/// cortex writes (`event::is_chain_id`), else shell-quoted (`'agents '`), so that what an
/// id put in the log by hand holds — a space at its end, a quote — is seen, and the id can
/// be given back as it is (`log show 'agents '`). Before, `agents ` was shown `agents`.
pub fn shown_chain_id(id: &str) -> String {
    if crate::event::is_chain_id(id.as_bytes()) {
        return id.to_string();
    }
    super::one_line(&super::shell_quote(id)).into_owned()
}

/// Where a failure is: its run and seq (a line of an exported file that holds no event has
/// no place in a run, and says so itself).
fn failure_place(bad: &crate::store::BadEvent) -> String {
    if bad.seq < 0 {
        String::new()
    } else {
        format!(" at run {} seq {}", shown_chain_id(&bad.run_id), bad.seq)
    }
}

/// How many of the runs (and other chains) checked verified, when any did (the others are
/// named above). Runs and other chains are counted apart, as the summary counts them: before,
/// a verified schedule chain was counted as "the other run" beside a run that failed.
fn intact_note(report: &VerifyReport) -> String {
    let intact = |runs: bool| {
        report
            .heads
            .iter()
            .filter(|(id, _)| crate::event::is_run_chain(id.as_bytes()) == runs)
            .filter(|(id, _)| !report.failed(id))
            .count()
    };
    let (runs, chains) = (intact(true), intact(false));
    let runs_part = match runs {
        0 => String::new(),
        1 => "the other run".to_string(),
        n => format!("the other {}", super::count(n, "run")),
    };
    let chains_part = match chains {
        0 => String::new(),
        1 => "1 other chain".to_string(),
        n => format!("{n} other chains"),
    };
    match (runs_part.is_empty(), chains_part.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!("; {runs_part} verified"),
        (true, false) => format!("; {chains_part} verified"),
        (false, false) => format!("; {runs_part} and {chains_part} verified"),
    }
}

/// Where `log verify` checked attempt logs other than in this home (in another home on this
/// machine, the one that wrote them), and those it could not check here: not on this machine
/// at all.
fn absent_note(report: &crate::store::VerifyReport) -> String {
    let elsewhere = report.attempt_logs_absent.unwrap_or(0);
    let other_home = report.attempt_logs_other_home.unwrap_or(0);
    let mut note = String::new();
    if other_home > 0 {
        note.push_str(&format!(
            "\n   {} of them checked in another home on this machine sharing the log, the one that wrote them",
            super::count(other_home as usize, "attempt log file")
        ));
    }
    if elsewhere > 0 {
        note.push_str(&format!(
            "\n   {} not on this machine (written on another host, or the log was copied without them): their hashes are in the log, unchecked here",
            super::count(elsewhere as usize, "attempt log file")
        ));
    }
    note
}
