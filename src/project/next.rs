//! What can be done next with a run: ready commands as argv, each with why. A projection of
//! the status document, so the human "Next:" lines, `--json`'s `next` and every front end
//! suggest the same commands. Rendering quotes them (`render::command_line`).

use serde::Serialize;

use super::{DefinitionNow, RunStatus, StatusView};
use crate::decide::StepStatus;
use crate::event::RunKind;

/// One suggested command: the argv to run (its first word is `cortex`), and why; and the
/// values it needs that only the one running it has (`fill`), so a program need not read
/// `why` to know that an argument is a placeholder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub argv: Vec<String>,
    pub why: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fill: Vec<Fill>,
}

/// A placeholder of a suggestion: the argument `NAME=VALUE` after `flag` (`--output` or
/// `--input`), whose `VALUE` is to be replaced by the value of that output or input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fill {
    pub flag: String,
    pub name: String,
}

impl Fill {
    pub fn new(flag: &str, name: &str) -> Fill {
        Fill {
            flag: flag.into(),
            name: name.into(),
        }
    }
}

impl Suggestion {
    pub(crate) fn new(args: &[&str], why: impl Into<String>) -> Suggestion {
        let mut argv = Vec::with_capacity(args.len() + 1);
        argv.push("cortex".to_string());
        argv.extend(args.iter().map(|a| a.to_string()));
        Suggestion {
            argv,
            why: why.into(),
            fill: Vec::new(),
        }
    }

    /// `flag NAME=VALUE`, VALUE to be filled in.
    fn placeholder(&mut self, flag: &str, name: &str) {
        self.argv
            .extend(crate::render::pair_args(flag, name, "VALUE"));
        self.fill.push(Fill::new(flag, name));
    }

    /// This resume given the secret inputs `names` again (`--input NAME=VALUE` each, VALUE
    /// to be filled in), its why saying how (`secret_inputs_note`), as `resume` gives them.
    pub(crate) fn with_secret_inputs(&mut self, names: &[String]) {
        if names.is_empty() {
            return;
        }
        for name in names {
            self.placeholder("--input", name);
        }
        self.why = format!("{} ({})", self.why, secret_inputs_note(names));
    }

    /// Whether this is a plain `resume RUN` of run `run_id` (its secret inputs' placeholders
    /// aside, after any global options): the command a resume that found nothing to do was,
    /// which would find nothing again (`ops::nothing_to_resume` drops it).
    pub fn is_plain_resume(&self, run_id: &str) -> bool {
        let Some(at) = self
            .argv
            .windows(2)
            .position(|w| w[0] == "resume" && w[1] == run_id)
        else {
            return false;
        };
        let placeholders: Vec<String> = self
            .fill
            .iter()
            .flat_map(|f| crate::render::pair_args(&f.flag, &f.name, "VALUE"))
            .collect();
        self.argv[at + 2..] == placeholders[..]
    }

    /// A report: `args`, then `--output KEY=VALUE` for each output it must give (its gate
    /// refuses a report without one) and for each that something later reads (`expected`:
    /// left out, what reads it sees it empty), VALUE to be replaced, said in why.
    /// Before, `expected` was named in why only: an agent that ran the suggestion as it was
    /// reported without them, and the step that read one ran on an empty value.
    fn with_outputs(
        args: &[&str],
        (outputs, expected): (&[String], &[String]),
        why: &str,
    ) -> Suggestion {
        let mut s = Suggestion::new(args, why);
        for key in outputs.iter().chain(expected) {
            s.placeholder("--output", key);
        }
        let named = |keys: &[String]| -> String {
            keys.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if s.fill.is_empty() {
            return s;
        }
        let all: Vec<String> = outputs.iter().chain(expected).cloned().collect();
        s.why = format!("{why}, giving {} (replace each VALUE)", named(&all));
        if !expected.is_empty() {
            let later = if args.first() == Some(&"orchestrate") {
                "phases"
            } else {
                "steps"
            };
            s.why = format!(
                "{}; later {later} read {}, empty if left out",
                s.why,
                named(expected)
            );
        }
        s
    }
}

/// A run-level action a suggestion asks for: what a front end (the web page, the TUI's
/// palette) offers to carry out itself, only where the run's status suggests it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunAct {
    /// `resume RUN` in a mode (`--retry`, `--skip`, `--from STEP`, `--rollback-to STEP`).
    Resume(crate::event::ResumeMode),
    Stop,
    Abort,
}

/// What the suggestion `argv` asks for, if it is a run-level action (step reports and starts
/// are not): its global options (`--home DIR`, `--db URL`, `--json`, `--no-color`) and the
/// `--input NAME=VALUE` placeholders of secret inputs left out. A resume with any other flag
/// (`--timeout`) is none.
pub fn run_act(argv: &[String]) -> Option<RunAct> {
    use crate::event::ResumeMode;
    let args = subcommand_args(argv)?;
    let mut words: Vec<&str> = args.iter().map(String::as_str).collect();
    // The values of secret inputs a resume is to be given again (`--input NAME=VALUE`, its
    // `fill`): the front end asks for them (or its driver reads them from its environment).
    // Before, such a suggestion matched nothing, and the page hid the retry and skip that
    // `next` lists.
    while let [.., "--input", value] = words.as_slice()
        && value.ends_with("=VALUE")
    {
        words.truncate(words.len() - 2);
    }
    Some(match words.as_slice() {
        [_, "resume", _] => RunAct::Resume(ResumeMode::Continue),
        [_, "resume", _, "--retry"] => RunAct::Resume(ResumeMode::Retry),
        [_, "resume", _, "--skip"] => RunAct::Resume(ResumeMode::Skip),
        [_, "resume", _, "--from", s] => RunAct::Resume(ResumeMode::From(s.to_string())),
        [_, "resume", _, "--rollback-to", s] => {
            RunAct::Resume(ResumeMode::RollbackTo(s.to_string()))
        }
        [_, "stop", _] => RunAct::Stop,
        [_, "abort", _] => RunAct::Abort,
        _ => return None,
    })
}

/// The words of suggestion `argv` from its subcommand on: after `cortex` and the global
/// options a suggestion carries before its subcommand (`Ctx::globals`: `--home DIR`, `--db
/// URL`, in either order), and any other of `cli::args`'s global flags.
pub fn subcommand_args(argv: &[String]) -> Option<&[String]> {
    let mut args: &[String] = argv.get(1..)?;
    loop {
        args = match args.first().map(String::as_str) {
            Some("--home" | "--db") => args.get(2..)?,
            Some(a)
                if a.starts_with("--home=")
                    || a.starts_with("--db=")
                    || a == "--json"
                    || a == "--no-color" =>
            {
                &args[1..]
            }
            _ => return Some(args),
        };
    }
}

/// `CORTEX_INPUT_<NAME>`: the variable that gives a secret input's value to a driver.
fn input_var(name: &str) -> String {
    crate::execute::input_env_name(name)
}

/// What a suggestion carrying `--input NAME=VALUE` placeholders for the secret inputs
/// `names` says of them: fill each, or give it in the environment — each variable named as
/// it is (it read `CORTEX_INPUT_<NAME>`, to be worked out).
pub fn secret_inputs_note(names: &[String]) -> String {
    let vars: Vec<String> = names.iter().map(|n| input_var(n)).collect();
    format!(
        "VALUE: each secret input's value again; or set {} and leave --input out",
        vars.join(", ")
    )
}

/// `worker --tags=TAGS --until-idle`: the argv of a worker offering `tags` that ends once
/// nothing is left for it (its global options added by the shell, as every suggestion's) — a suggestion followed as written (by an agent waiting for the
/// command to end) returns, rather than serving for good. One word, `--tags=…`: after a
/// bare `--tags`, a tag read from an older log starting with `-` would be taken for flags.
fn worker_argv(tags: &[String]) -> Vec<String> {
    vec![
        "cortex".into(),
        "worker".into(),
        format!("--tags={}", tags.join(",")),
        "--until-idle".into(),
    ]
}

/// The line that starts a worker taking a run that waits for `tags`, to paste:
/// `cortex [GLOBALS] worker --tags=TAGS --until-idle`, `globals` the global options of the
/// invocation that read the run (`Ctx::globals`: `--db URL`, `--home H`, never a password), after
/// `CORTEX_INPUT_<NAME>=…` for each secret input the run must be given (`secret_inputs`, `…`
/// standing for its value): a worker without them in its environment leaves the run alone.
/// Every front end that names this command says it so. Before, it carried no global options:
/// read with `--db postgres://…`, pasted it started a worker on the home's SQLite file, which
/// did nothing and exited 0.
pub fn worker_command(globals: &[String], tags: &[String], secret_inputs: &[String]) -> String {
    let mut words: Vec<String> = secret_inputs
        .iter()
        .map(|n| format!("{}=…", input_var(n)))
        .collect();
    let mut argv = worker_argv(tags);
    argv.splice(1..1, globals.iter().cloned());
    words.push(crate::render::command_line(&argv));
    words.join(" ")
}

/// `worker --tags=TAGS`: a worker offering the tags what the run starts next asks for, which
/// takes the run (a driver started by a command offers none) — given the values of the run's
/// secret inputs, each a placeholder `--input NAME=VALUE` to fill (`fill`), as every
/// suggestion that needs a secret carries it: pasted as it stands it is refused (exit 2), never
/// a worker that leaves the run alone and exits 0. Before, the argv carried none (only `why`
/// named `CORTEX_INPUT_<NAME>`): run literally, it did nothing, and status suggested it again.
/// `why` says the environment works too, out of sight of `ps`.
fn worker(view: &StatusView) -> Suggestion {
    let which = if view.waits_for_tags.len() == 1 {
        "that tag"
    } else {
        "those tags"
    };
    let why = if view.secret_inputs.is_empty() {
        format!(
            "start a worker offering {which}: it takes the run from here, and ends once nothing is left for it (without `--until-idle` it keeps serving)"
        )
    } else {
        let names: Vec<String> = view
            .secret_inputs
            .iter()
            .map(|n| format!("`{n}`"))
            .collect();
        let one = names.len() == 1;
        format!(
            "start a worker offering {which}, given the value of the secret input{} {} (replace {}; or leave `--input` out and give {} in its environment, out of sight of `ps`: `{}`): it takes the run from here; a worker without {} leaves the run alone",
            if one { "" } else { "s" },
            names.join(", "),
            if one { "VALUE" } else { "each VALUE" },
            if one { "it" } else { "them" },
            worker_command(&view.globals, &view.waits_for_tags, &view.secret_inputs),
            if one { "it" } else { "them" },
        )
    };
    let mut s = Suggestion {
        argv: worker_argv(&view.waits_for_tags),
        why,
        fill: Vec::new(),
    };
    for name in &view.secret_inputs {
        s.placeholder("--input", name);
    }
    s
}

/// The commands that move a run in this status on (none for a finished run but a new start).
pub fn next_actions(view: &StatusView) -> Vec<Suggestion> {
    // An abort its driver died before acting on is final: it is recorded, never resumed past
    // (a resume would record it and stop there).
    if view.status == RunStatus::Interrupted
        && view.stop_requested.as_ref().is_some_and(|p| p.abort)
    {
        return vec![Suggestion::new(
            &[view.kind.group(), "abort", &view.run_id],
            "record the abort its driver died before acting on: the run ends aborted",
        )];
    }
    let mut out = match view.kind {
        RunKind::Workflow => workflow_actions(view),
        RunKind::Scenario => scenario_actions(view),
    };
    // A step failed because its working directory is gone: every resume that runs it runs
    // it there again and fails the same way until the directory is made again, so each says
    // so first. A `--skip` runs nothing there: it needs no directory, unless the run's own
    // directory is the one gone (the steps after it run there too).
    if let Some((dir, whose)) = missing_working_dir(view) {
        let mkdir = crate::render::command_line(&["mkdir", "-p", dir]);
        let (what, skip_too) = match whose {
            Some(step) => (format!("create `{step}`'s `working_dir:`"), false),
            None => ("make the run's working directory again".to_string(), true),
        };
        for s in out.iter_mut().filter(|s| {
            s.argv.iter().any(|a| a == "resume")
                && (skip_too || !s.argv.iter().any(|a| a == "--skip"))
        }) {
            s.why = format!(
                "first {what} ({mkdir}), or this fails the same way: {}",
                s.why
            );
        }
    }
    // A step whose `if:` command could not decide: a retry runs the same command (the run
    // keeps its definition), which fails the same way unless what it runs was fixed.
    if let Some(step) = &view.failed_condition_command {
        for s in out
            .iter_mut()
            .filter(|s| s.argv.iter().any(|a| a == "--retry"))
        {
            s.why = format!(
                "only once what `{step}`'s `if:` command runs is fixed (the run keeps its definition: the same command fails the same way, and a corrected `if:` applies to a new run): {}",
                s.why
            );
        }
    }
    with_kept_limit(view, &mut out);
    demote_repeated(view, &mut out);
    dedupe(&mut out);
    out
}

/// An interrupted run whose last session ran under a longer time limit than the
/// configuration's now (`StatusView::kept_time_limit`, a `resume --timeout` whose driver
/// died): its plain resume is offered first with that limit given (`--timeout D`), so that the
/// command holds it whatever the configuration says when it is run; the plain one, which keeps
/// it too (`RunState::resume_limit`), after it. Before, only the plain resume was offered, and
/// it ran under the configuration's limit then: the run was stopped again, on-call paged again.
fn with_kept_limit(view: &StatusView, out: &mut Vec<Suggestion>) {
    let Some(kept) = view
        .kept_time_limit
        .filter(|_| view.status == RunStatus::Interrupted)
    else {
        return;
    };
    let continues = |s: &Suggestion| {
        run_act(&s.argv) == Some(RunAct::Resume(crate::event::ResumeMode::Continue))
    };
    let Some(at) = out.iter().position(continues) else {
        return;
    };
    let limit = match kept.seconds {
        0 => "no time limit, as its last session had (nobody ended that session)".to_string(),
        n => format!(
            "the time limit of {n} s its last session ran under (nobody ended that session)"
        ),
    };
    let mut given = out[at].clone();
    let placeholders: usize = given
        .fill
        .iter()
        .map(|f| crate::render::pair_args(&f.flag, &f.name, "VALUE").len())
        .sum();
    let end = given.argv.len() - placeholders;
    given.argv.splice(
        end..end,
        ["--timeout".to_string(), format!("{}s", kept.seconds)],
    );
    given.why = format!(
        "{}, with {limit}; timeout_seconds in cortex.config.json is {} s",
        given.why, kept.configured
    );
    out[at].why = format!(
        "{}, with the same limit: a resume without --timeout keeps it",
        out[at].why
    );
    out.insert(at, given);
}

/// A recovery already followed that ended in the same failure is not offered first again:
/// where the latest resume ran units again that gave the values they gave before and the run
/// failed after them where and as it failed before (`StatusView::repeated_recovery`), each
/// suggestion that resumes the same way goes below the others (`--skip`, `abort`), its why
/// saying so. Run as given, it ends here again; what those units read is to change first.
/// Before, `--from` the step whose output the failed step could not use was offered first
/// for ever, and an agent that runs the first suggestion ran it again and again. A report's
/// values are new each time (`recovery_repeated` counts no reported unit), so `--from` a
/// prompt step stays first.
fn demote_repeated(view: &StatusView, out: &mut Vec<Suggestion>) {
    let Some(repeated) = &view.repeated_recovery else {
        return;
    };
    let same = |s: &Suggestion| {
        run_act(&s.argv).is_some_and(|act| act == RunAct::Resume(repeated.mode.clone()))
    };
    if !out.iter().any(same) {
        return;
    }
    let (mut again, rest): (Vec<Suggestion>, Vec<Suggestion>) =
        std::mem::take(out).into_iter().partition(same);
    let gave: Vec<String> = repeated
        .same
        .iter()
        .filter(|(_, keys)| !keys.is_empty())
        .map(|(unit, keys)| {
            let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
            format!("`{unit}` gave {}", keys.join(", "))
        })
        .collect();
    let values: usize = repeated.same.iter().map(|(_, keys)| keys.len()).sum();
    let units: Vec<String> = repeated
        .same
        .iter()
        .map(|(u, _)| format!("`{u}`"))
        .collect();
    let what = if gave.is_empty() {
        format!("{} ran again the same way", units.join(", "))
    } else {
        format!(
            "{} the same value{} again",
            gave.join(" and "),
            if values == 1 { "" } else { "s" }
        )
    };
    let reads = if units.len() == 1 {
        "change what it reads first"
    } else {
        "change what they read first"
    };
    for s in &mut again {
        s.why = format!(
            "{what}, and `{}` failed the same way after: {reads} (as it is, this resume ends here again); {}",
            repeated.failed, s.why
        );
    }
    *out = rest;
    out.extend(again);
}

/// Each command once, with the why it was first given: two reasons for the same argv are one
/// suggestion (a new run "once the definition gives the secret as a secret input" and "once
/// its `if:` is fixed" were listed twice).
pub(crate) fn dedupe(out: &mut Vec<Suggestion>) {
    let mut seen = std::collections::HashSet::new();
    out.retain(|s| seen.insert(s.argv.clone()));
}

/// The directory a failed step (phase) of a paused run could not run in, gone since the
/// run started ("working directory DIR does not exist", as the runner records it), and the
/// step when it is its own (`working_dir:`), none when it is the run's directory.
fn missing_working_dir(view: &StatusView) -> Option<(&str, Option<&str>)> {
    if view.status != RunStatus::Failed {
        return None;
    }
    view.steps.iter().find_map(|s| {
        let e = s.error.as_deref()?;
        let e = e.strip_prefix("could not start: ").unwrap_or(e);
        let rest = e.strip_prefix("working directory ")?;
        // `runner::missing_dir_error`'s words; the process runner's shorter ones.
        let (dir, cause) = rest
            .split_once(" does not exist on this host (")
            .or_else(|| {
                rest.split_once(" does not exist")
                    .filter(|(_, t)| t.is_empty())
            })?;
        let own = cause.starts_with("its `working_dir: ");
        Some((dir, own.then_some(s.name.as_str())))
    })
}

/// `workflow resume RUN ARGS` (`orchestrate resume` for a scenario), with `--input NAME=VALUE` for each secret input the run must
/// be given again (the log keeps only `***`).
/// A plain resume (a time limit aside) names only those a remaining unit may read
/// (`StatusView::resume_secret_inputs`), as it asks only for those; one that runs units again
/// (`--retry`, `--skip`, `--from`, `--rollback-to`) names them all.
fn resume(view: &StatusView, args: &[&str], why: impl Into<String>) -> Suggestion {
    let group = view.kind.group();
    let mut s = Suggestion::new(&[group, "resume", &view.run_id], why);
    s.argv.extend(args.iter().map(|a| a.to_string()));
    let plain = !args
        .iter()
        .any(|a| matches!(*a, "--retry" | "--skip" | "--from" | "--rollback-to"));
    // The time limit the run has now, where a resume gave it (`StatusView::given_limit`):
    // without `--timeout` the resume would take the configuration's. Before, a `--from P`
    // offered after a hand-typed `resume --timeout 30s` fell back to a limit of 2 s, which
    // cut the step that limit had been raised for. A run its limit stopped is offered a
    // longer one (`limit_raised`) or, plainly, the configuration's (said so).
    // A plain resume that keeps that limit by itself (`kept_time_limit`: a session nobody
    // ended) needs no `--timeout`; `with_kept_limit` offers the one that gives it first.
    let kept_anyway = plain
        && view
            .kept_time_limit
            .is_some_and(|k| Some(k.seconds) == view.given_limit);
    if let Some(limit) = view.given_limit
        && view.timed_out.is_none()
        && !args.contains(&"--timeout")
        && !kept_anyway
    {
        s.argv
            .extend(["--timeout".to_string(), format!("{limit}s")]);
        s.why = format!(
            "{}, keeping the time limit this run has now ({limit}s, given at a resume; 0: none), which a resume without --timeout would replace with cortex.config.json's",
            s.why
        );
    }
    s.with_secret_inputs(if plain {
        &view.resume_secret_inputs
    } else {
        &view.secret_inputs
    });
    s
}

/// A report's suggestion on a step (phase) whose `validate:` commands run on the report, in
/// a run with secret inputs: those commands need their values, which the log keeps only as
/// `***`, so the command as pasted is refused (a workflow's) unless its environment gives
/// them. `why` says how; `tool` is the MCP tool that takes them as `inputs`.
fn with_secret_checks(
    mut s: Suggestion,
    view: &StatusView,
    checks: &[String],
    tool: &str,
) -> Suggestion {
    if checks.is_empty() || view.secret_inputs.is_empty() {
        return s;
    }
    let names: Vec<String> = view
        .secret_inputs
        .iter()
        .map(|n| format!("`{n}`"))
        .collect();
    let vars: Vec<String> = view.secret_inputs.iter().map(|n| input_var(n)).collect();
    s.why = format!(
        "{}; its checks may read the secret input{} {}, which the log keeps only as `***`: set {} in the environment of this command (through MCP: `inputs` of {tool}, unless this session gave {} already)",
        s.why,
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        vars.join(", "),
        if names.len() == 1 { "it" } else { "them" },
    );
    s
}

/// Why to `resume --retry` a paused run whose `step` failed: what it really runs, where that
/// is more than the step (`StatusView::restarts`: steps that completed run again).
fn retry_why(view: &StatusView, step: &str) -> String {
    let r = &view.restarts;
    if r.retry.is_empty() {
        return match &view.failed_child_resumes {
            // The resume plan's "goes on with its child run": not run again from its start.
            Some(child) if view.child_cut_by_limit.is_some() => format!(
                "go on with `{step}`'s child run {child} with the time limit cortex.config.json sets now (the one that stopped it, unless changed there)"
            ),
            Some(child) => match &view.child_reruns_from {
                Some((from, _)) => format!(
                    "go on with `{step}`'s child run {child}, running its step `{from}` again first (a secret output its steps read is held only by the process that records it), with a fresh retry budget"
                ),
                None => {
                    format!("go on with `{step}`'s child run {child}, with a fresh retry budget")
                }
            },
            None => format!("run `{step}` again with a fresh retry budget"),
        };
    }
    // Up to the failed step: the rest follows as on any resume.
    let upto = r
        .retry
        .iter()
        .position(|n| n == step)
        .map_or(r.retry.len(), |i| i + 1);
    format!(
        "run {} again ({}): {}",
        from_where(view, &r.retry[0]),
        why_again(view),
        r.retry[..upto].join(", ")
    )
}

/// Why to `resume --from FROM` a run whose step (phase) `step` failed reading its
/// `foreach:` list from `from`'s output (`StatusView::unlistable_foreach`).
/// Why to `resume --from` the step (phase) `from` whose output the `if:` of `step` reads,
/// which could not be decided.
fn condition_from_why(step: &str, from: &str, noun: &str) -> String {
    let after = if noun == "phase" {
        "the phases after it"
    } else {
        "what follows it"
    };
    format!(
        "run `{from}` again, and {after}: `{step}`'s `if:` could not be decided with its output (a `--retry` would decide the same values the same way)"
    )
}

/// Why to `resume --from` the step `from` whose output made the `with:` values the child run
/// of `uses:` step `step` could not start with (`StatusView::unstartable_child`).
fn with_from_why(step: &str, from: &str) -> String {
    format!(
        "run `{from}` again, and what follows it: `{step}`'s `with:` reads its output, which its child run cannot start with (a `--retry` would give the same values and fail the same way)"
    )
}

/// Why to `resume --from` the step (phase) `from` whose report left out its output `key`,
/// which the failed `step` read empty (`StatusView::unreported_output`): first, as a
/// `--retry` reads the same empty value from the same log and fails the same way, forever.
fn unreported_why(step: &str, from: &str, key: &str, after: &str) -> String {
    format!(
        "run `{from}` again, and {after}: `{step}` read its output `{key}`, which its report left out (empty); report it with --output {key}=VALUE this time (a `--retry` would read the same empty value)"
    )
}

fn from_why(step: &str, from: &str) -> String {
    format!(
        "run `{from}` again, and what follows it: `{step}`'s `foreach:` list reads its output, which is no list it can take (a `--retry` would read the same value and fail the same way)"
    )
}

/// Why to `orchestrate resume --retry` a scenario run whose phases `failed`: they run again
/// with a fresh retry budget; completed phases no checkpoint keeps run again too
/// (`StatusView::restarts`), named.
fn scenario_retry_why(view: &StatusView, failed: &[&str]) -> String {
    let names: Vec<String> = failed.iter().map(|n| format!("`{n}`")).collect();
    let why = format!("run {} again with a fresh retry budget", names.join(", "));
    let again: Vec<String> = view
        .restarts
        .retry
        .iter()
        .filter(|n| {
            view.steps
                .iter()
                .any(|s| &s.name == *n && s.status == StepStatus::Completed)
        })
        .map(|n| format!("`{n}`"))
        .collect();
    match again.len() {
        0 => why,
        1 => format!(
            "{why}; the completed phase {} runs again too ({})",
            again[0],
            why_again(view)
        ),
        _ => format!(
            "{why}; the completed phases {} run again too ({})",
            again.join(", "),
            why_again(view)
        ),
    }
}

/// What a run whose step (phase) `unit` wrote a malformed `$CORTEX_OUTPUT` is offered after
/// `--skip` (`StatusView::malformed_output`): a new run once its `run:` is fixed, and
/// `--retry` (`retry_why` its why) only for a script file fixed since — the run keeps the
/// definition it started with, so a retry runs the same command and fails the same way.
/// Workflows and scenarios alike: before, a scenario's phase was offered `--retry` first.
fn malformed_output_last(
    view: &StatusView,
    group: &str,
    unit: &str,
    retry_why: &str,
) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = once_fixed(
        view,
        group,
        format!(
            "or start a new run once `{unit}`'s `run:` is fixed: this run keeps the definition it started with, so a `--retry` runs the command as it was"
        ),
    )
    .into_iter()
    .collect();
    out.push(resume(
        view,
        &["--retry"],
        format!("only if `{unit}` runs a script file you fixed: {retry_why}"),
    ));
    out
}

/// Why to `resume --skip`: as `retry_why`, naming the completed steps it runs again.
/// Why a `foreach:` read from a secret is not offered again (`StatusView::secret_foreach`).
const SECRET_FOREACH_AGAIN: &str = "its `foreach:` list is read from a secret, which is refused every time: running it again, or what writes its list, would fail the same way (give the items as plain values in a new run)";

fn skip_why(view: &StatusView, step: &str) -> String {
    let r = &view.restarts;
    let again: Vec<&str> = r
        .skip
        .iter()
        .filter(|n| {
            view.steps
                .iter()
                .any(|s| &s.name == *n && s.status == StepStatus::Completed)
        })
        .map(String::as_str)
        .collect();
    if again.is_empty() {
        return format!("record `{step}` as skipped and go on");
    }
    format!(
        "record `{step}` as skipped and go on, running {} again first ({}): {}",
        from_where(view, &r.skip[0]),
        why_again(view),
        again.join(", ")
    )
}

/// Whether a resume that runs again the steps (phases) `runs_again` says it does can change
/// the value the failed one failed on, where a retry reads the same value from the same log:
/// a secret output no other process holds (`StatusView::unheld_secret_output`; not across a
/// wait for a report), a `foreach:` list that is no list, an `if:` that cannot be decided,
/// `with:` values its child cannot start with, an output a report left out — only one that
/// runs again the step whose output made it (`made_by` there); a `foreach:` list read from a
/// secret, none. Any can
/// where the failure is no such value. A `--rollback-to` that kept that step (or crossed the
/// wait) was offered, and failed the same way.
fn reruns_the_cause(view: &StatusView, runs_again: impl Fn(&str) -> bool) -> bool {
    let made_by = if let Some((from, crossing)) = &view.unheld_secret_output {
        (!crossing).then_some(from)
    } else if view.secret_foreach {
        None
    } else if let Some((_, from)) = &view.unlistable_foreach {
        from.as_ref()
    } else if let Some((_, from)) = &view.undecidable_condition {
        from.as_ref()
    } else if let Some((_, _, from)) = &view.unstartable_child {
        from.as_ref()
    } else if let Some((from, _)) = &view.unreported_output {
        Some(from)
    } else {
        return true;
    };
    made_by.is_some_and(|step| runs_again(step))
}

/// Whether step `step` comes after step `before` in the run (a `--rollback-to before` runs it
/// again).
fn runs_after(view: &StatusView, step: &str, before: &str) -> bool {
    let at = |name: &str| view.steps.iter().position(|s| s.name == name);
    matches!((at(step), at(before)), (Some(s), Some(b)) if s > b)
}

/// Where a recovery starts again: from the start, or from step `first`.
fn from_where(view: &StatusView, first: &str) -> String {
    if view.restarts.from_start {
        "from the start".to_string()
    } else {
        format!("from `{first}`")
    }
}

/// Why completed steps run again: no checkpoint keeps them.
fn why_again(view: &StatusView) -> &'static str {
    if view.restarts.checkpoints_off {
        "checkpoints are off"
    } else if view.kind == RunKind::Scenario {
        "no checkpoint keeps them"
    } else {
        "no checkpoint keeps the steps before"
    }
}

/// What to do while another process drives the run: poll its status (the first suggestion,
/// as a detached MCP call's answer gives it), and `stop` after it, said to be no next step.
/// Before, `stop` alone was suggested, and an agent that followed `next[0]` stopped a run
/// going well.
pub const POLL_WHY: &str = "the run goes on by itself (another process drives it): poll its status until it waits, fails or ends; nothing to do meanwhile";

fn driven_now(group: &str, id: &str) -> Vec<Suggestion> {
    vec![
        Suggestion::new(&[group, "status", id], POLL_WHY),
        Suggestion::new(
            &[group, "stop", id],
            "not a next step: only to interrupt the run on purpose (it stops gracefully; resume continues it)",
        ),
    ]
}

/// What to do while a stop (or an abort: `abort`) asked of a live driver waits for it: see
/// whether it has acted (`group status`), and, for a stop, abort instead (`abort_why`).
fn stop_pending(group: &str, id: &str, abort: bool, abort_why: &str) -> Vec<Suggestion> {
    let mut out = vec![Suggestion::new(
        &[group, "status", id],
        if abort {
            "see whether its driver has acted on the abort"
        } else {
            "see whether its driver has acted on the stop"
        },
    )];
    if !abort {
        out.push(Suggestion::new(&[group, "abort", id], abort_why));
    }
    out
}

/// What to do with a failed step (phase) reading a secret output across a wait for a report
/// (`StatusView::unheld_secret_output`, crossing): no resume from here does its work (the
/// process that carries the run on past the report never held the output), a run of a
/// definition that gives the secret as a secret input does. So: that new run first, once the
/// definition is fixed (`once_fixed`); then `abort`, saying how the work gets done; `--skip`
/// only after them, worded as what it is (`without_its_work`). Before, `--skip` came first,
/// and an agent that ran `next[0]` finished the run `completed` with the step never run
/// (review m, finding 5).
fn secret_across_wait(view: &StatusView, group: &str, step: &str, from: &str) -> Vec<Suggestion> {
    let fixed = once_fixed(
        view,
        group,
        "start a new run once the definition gives the secret as a secret input (`--input`) or in the environment, not as an output: no resume can carry a secret output past a report".to_string(),
    );
    let abort = Suggestion::new(
        &[group, "abort", &view.run_id],
        format!(
            "end the run: `{step}` reads a secret output of `{from}`, which no process from here holds past the report it waits for, so no resume does its work; a new run does once the definition gives the secret as a secret input (`--input`) or in the environment, or one process drives the run from start to end (`cortex mcp`)"
        ),
    );
    // A definition that does not validate is no way on: what shows its problems comes after.
    match view.definition_now {
        DefinitionNow::Changed => fixed.into_iter().chain([abort]).collect(),
        _ => std::iter::once(abort).chain(fixed).collect(),
    }
}

/// Why to `--skip` a step (phase) that can never run in this run (`secret_across_wait`):
/// said as giving up its work, which a skip is there.
fn without_its_work(view: &StatusView, step: &str) -> String {
    format!(
        "only to give up `{step}`'s work: {} without running it (it cannot run in this run: the secret output it reads is held by no process from here)",
        skip_why(view, step)
    )
}

/// `run_again` with `why`, for a failure a new run of the same definition meets again (an
/// `if:`, a `run:`, a secret across a wait, `with:` values it gives): offered only once a
/// definition file of the run differs from the run's snapshot and the definition validates
/// (`StatusView::definition_now`). Before, it was offered (first, for a secret across a wait)
/// with the definition as it was: run as given, it made a new run that failed the same way,
/// and an agent following the first suggestion started one after another. A changed file
/// that does not validate (its own, or a `uses:` child's) is said to have problems, with the
/// `validate` that shows them: before, the new run was offered, and refused (exit 2: review
/// n, N5).
fn once_fixed(view: &StatusView, group: &str, why: String) -> Option<Suggestion> {
    match view.definition_now {
        DefinitionNow::AsStarted => None,
        DefinitionNow::ChangedInvalid => Some(Suggestion::new(
            &[group, "validate", &view.started_from],
            "the definition changed since this run started, but does not validate now (its own file, or a workflow its `uses:` steps run): this shows its problems; once it validates, a new run of it is offered",
        )),
        DefinitionNow::Changed => {
            let mut again = run_again(view, group);
            again.why = format!(
                "{why}{}",
                if again.fill.is_empty() {
                    ""
                } else {
                    " (VALUE: each secret input's value again)"
                }
            );
            Some(again)
        }
    }
}

/// `workflow run` (`orchestrate run`) of the run's definition with the run's inputs again: a
/// new run of what failed, once it is fixed. Without them, a definition with a required input
/// refused the suggestion (exit 2). A secret input the run must be given again is a
/// placeholder (the log keeps only `***`); one with a default is left to it.
pub fn run_again(view: &StatusView, group: &str) -> Suggestion {
    let mut s = Suggestion::new(
        &[group, "run", &view.started_from],
        "fix what the report names, then start a new run",
    );
    for (name, value) in &view.inputs {
        if view.secret_inputs.contains(name) {
            s.placeholder("--input", name);
            continue;
        }
        if value.as_str() == Some(crate::event::REDACTED) {
            continue;
        }
        s.argv.extend(crate::render::pair_args(
            "--input",
            name,
            &crate::event::input_text(value),
        ));
    }
    if !s.fill.is_empty() {
        s.why = format!("{} (VALUE: each secret input's value again)", s.why);
    }
    s
}

/// A time limit for the next driving session of a run `limit` seconds stopped (`view`), as
/// `--timeout` takes it, and why it is that: twice `limit`, plus three times the time the
/// unit the limit cut (`StatusView::cut_by_limit`: its name, ms it ran, from the log's times)
/// had had, since it starts over and needs more than that — a limit of 2 s that cut `sleep 4`
/// after 2 s suggested 4s, which cut it again — plus the backoff of a retry the stop held
/// (`StatusView::held_retry`), which the resume waits out (what is left of it) before the
/// attempt runs, and three times what that attempt ran before: a limit of 2 s that stopped a
/// 10 s backoff suggested 9s, and the resume was stopped again having run nothing. How long
/// the unit needs in all is not known before it ends: the why says so, and that 0 lifts the
/// limit. The time it ran is said as the log has it (to a tenth of a second: a step cut after
/// 1.01 s was said to have run 2 s), and added in whole seconds, rounded; a backoff, rounded up.
pub(super) fn longer_limit(view: &StatusView, limit: u64) -> (String, String) {
    let (cut, held) = (view.cut_by_limit.as_ref(), view.held_retry.as_ref());
    // Never more than the session it ran in (the cut lands a little after).
    let cap = limit.saturating_mul(1000);
    let cut_ms = cut.map_or(0, |(_, ms)| (*ms).min(cap));
    let held_ms = held.map_or(0, |h| h.ran_ms.min(cap));
    let ran = cut_ms.max(held_ms).saturating_add(500) / 1000;
    let backoff = held.map_or(0, |h| h.backoff_ms.div_ceil(1000));
    // The cut step starts over and ran all it had without ending: it needs more than that,
    // by how much is not known; three times what it ran, plus twice the old limit for what
    // comes after it, and 5 s of margin (a limit of 1 s that cut `sleep 3` was offered 3s,
    // which cut it again).
    let more = limit
        .saturating_mul(2)
        .saturating_add(ran.saturating_mul(3))
        .saturating_add(backoff)
        .saturating_add(5)
        .max(1);
    let mut reasons = Vec::new();
    let mut sum = Vec::new();
    if let Some((step, _)) = cut {
        // A `uses:` step's child run goes on from where it stopped, its cut step from its
        // start: it does not start over whole.
        let child = view
            .steps
            .iter()
            .find(|s| &s.name == step)
            .and_then(|s| s.uses.as_ref()?.run_id.as_deref());
        let how = match child {
            Some(child) => format!("its child run {child} goes on from where it stopped"),
            None => "starts over".to_string(),
        };
        reasons.push(format!(
            "`{}` ran {}.{}s before the limit cut it and {how} and needs more than that",
            crate::definition::shown(step),
            cut_ms / 1000,
            cut_ms % 1000 / 100,
        ));
        sum.push("three times that".to_string());
    }
    if let Some(h) = held {
        reasons.push(format!(
            "`{}`'s retry first waits out what is left of its backoff (at most {backoff}s), then runs again",
            crate::definition::shown(&h.step)
        ));
        sum.push("that backoff".to_string());
        if cut.is_none() && ran > 0 {
            sum.push("three times what its last attempt ran".to_string());
        }
    }
    let why = if reasons.is_empty() {
        format!(
            "go on with a time limit of {more}s from now, twice the old limit plus 5s (0: none); timeout_seconds in cortex.config.json sets it for every run"
        )
    } else {
        format!(
            "go on with a time limit of {more}s counted from now (0: none): {}, so this is {} plus twice the old limit plus 5s (raise it if it needs more); timeout_seconds in cortex.config.json sets it for every run",
            reasons.join("; "),
            sum.join(" plus "),
        )
    };
    (format!("{more}s"), why)
}

/// The first suggestion for a run its time limit (`limit` seconds) stopped: a resume with a
/// longer limit (`longer_limit`), as the same limit would stop it again; `--from` the step
/// that records a secret output a cut step reads, where no process holds it
/// (`StatusView::limit_cut_unheld`): the `--from` carries the longer limit too, or it would
/// drive the step under the limit that cut it.
fn limit_raised(view: &StatusView, limit: u64) -> Suggestion {
    let (more, why) = longer_limit(view, limit);
    match &view.limit_cut_unheld {
        Some((from, reader)) => resume(
            view,
            &["--from", from, "--timeout", &more],
            format!(
                "run `{from}` again, then go on with a time limit of {more} counted from now (0: none): the secret output `{reader}` reads is held only by the process that records it, so a resume that does not run `{from}` again cannot give it; the limit is longer because the one that cut `{reader}` would cut it again"
            ),
        ),
        None => resume(view, &["--timeout", &more], why),
    }
}

/// Why a plain resume of a run its time limit stopped: it goes on (`from`: the resume point,
/// the completed phases) under the limit in force at the resume (SPEC §7, recorded in
/// `run_resumed`), not the one that stopped it. One wording for both kinds.
fn resume_under_config_why(from: &str) -> String {
    format!("go on from {from} with the time limit cortex.config.json sets now")
}

/// Whether no step (phase) of the run is done (completed or skipped): a resume starts it from
/// the beginning, and "go on from the resume point" (or "from the completed phases") would
/// speak of something that is not there.
fn nothing_done(view: &StatusView) -> bool {
    !view
        .steps
        .iter()
        .any(|s| matches!(s.status, StepStatus::Completed | StepStatus::Skipped))
}

/// How a plain resume goes on, as the facts are: from `from` (the resume point, the
/// completed phases), or from the beginning where nothing is done yet; under the time limit
/// in force now where the run's limit stopped it.
fn go_on_why(view: &StatusView, from: &str) -> String {
    let noun = match view.kind {
        RunKind::Workflow => "step",
        RunKind::Scenario => "phase",
    };
    // A `uses:` step stopped with its child run: resume goes on with that child from where
    // it is (its checkpoint), not from the beginning.
    let child = view.steps.iter().find_map(|s| {
        let uses = s.uses.as_ref()?;
        let run = uses.run_id.as_ref()?;
        (!matches!(s.status, StepStatus::Completed | StepStatus::Skipped))
            .then_some((s.name.as_str(), run.as_str()))
    });
    if let (true, Some((step, run))) = (nothing_done(view), child) {
        return match view.timed_out {
            None => format!("go on with `{step}`'s child run {run}, from where it stopped"),
            Some(_) => format!(
                "go on with `{step}`'s child run {run}, from where it stopped, with the time limit cortex.config.json sets now"
            ),
        };
    }
    match (nothing_done(view), view.timed_out.is_some()) {
        (true, false) => format!("start again from the beginning (no {noun} has completed)"),
        (true, true) => format!(
            "start again from the beginning (no {noun} has completed) with the time limit cortex.config.json sets now"
        ),
        (false, true) => resume_under_config_why(from),
        (false, false) => format!("go on from {from}"),
    }
}

fn workflow_actions(view: &StatusView) -> Vec<Suggestion> {
    let id = view.run_id.as_str();
    let mut out = Vec::new();
    if let Some(parent) = view.parent.as_ref().filter(|_| view.rolled_back_for_parent) {
        return for_parent(view, parent);
    }
    if !view.resumable {
        // Ended by a failure (rolled back or not): a new run, once it is fixed.
        if matches!(view.status, RunStatus::Failed | RunStatus::RolledBack) {
            out.push(run_again(view, "workflow"));
        }
        return out;
    }
    let abort = || Suggestion::new(&["workflow", "abort", id], "end the run");
    // The `uses:` step the limit cut took no more time of its own: its child run was driven
    // on to its end since, and the resume gives the step that end, then goes on.
    if let (Some(_), Some((step, child, ended))) = (view.timed_out, &view.cut_child_ended) {
        let then = if ended == "completed" {
            "and the run goes on after it"
        } else {
            "and its on_failure applies"
        };
        out.push(resume(
            view,
            &[],
            format!(
                "go on: `{}` takes the end of its child run {child} ({ended}), driven on its own since the stop, {then}, with the time limit cortex.config.json sets now",
                crate::definition::shown(step)
            ),
        ));
    }
    if let Some(limit) = view.timed_out {
        out.push(limit_raised(view, limit));
    }
    match view.status {
        // A step the limit cut reads a secret output no process holds: a resume that does
        // not run its producer again fails on it (`limit_raised` offers the one that does).
        RunStatus::Stopped if view.limit_cut_unheld.is_some() => out.push(abort()),
        RunStatus::Failed if view.failed_step.is_some() || !view.post_problems.is_empty() => {
            let step = view.failed_step.as_deref().unwrap_or("post-validation");
            let crossing = matches!(view.unheld_secret_output, Some((_, true)));
            match &view.unheld_secret_output {
                // A `foreach:` list read from a secret is refused every time, whoever holds
                // the output: running the step that writes it again (`--from`) would fail the
                // same way.
                _ if view.secret_foreach => {}
                // `--retry` in another process fails as the step did: the secret output it
                // reads is held only by the process that recorded it. Running that step again
                // gives the resume it; across a wait for a report nothing from here can.
                Some((from, false)) => out.push(resume(
                    view,
                    &["--from", from],
                    format!("run `{from}` again: the secret output `{step}` reads is held only by the process that records it"),
                )),
                Some((from, true)) => out.extend(secret_across_wait(view, "workflow", step, from)),
                // A child that could not start with these `with:` values never will: running
                // the step whose output made them again can change them.
                None if view.unstartable_child.is_some() => {
                    if let Some((_, _, Some(from))) = &view.unstartable_child {
                        out.push(resume(view, &["--from", from], with_from_why(step, from)));
                    }
                }
                // A `foreach:` list that is no list reads the same from the same log: running
                // the step that gives it again can change it, a retry cannot.
                // Its child failed so: a retry goes on with that child; a new one (`--from`)
                // runs the child's steps again.
                None if view.child_unlistable_foreach.is_some() => {
                    if let Some(theirs) = &view.child_unlistable_foreach {
                        out.push(resume(
                            view,
                            &["--from", step],
                            format!(
                                "run `{step}` again as a new child run, from its first step: its child run's `{theirs}` `foreach:` list is no list it can take, and a `--retry` would go on with that child and fail the same way"
                            ),
                        ));
                    }
                }
                None if view.unlistable_foreach.is_some() => {
                    if let Some((_, Some(from))) = &view.unlistable_foreach {
                        out.push(resume(view, &["--from", from], from_why(step, from)));
                    }
                }
                // An `if:` that could not be decided reads the same values from the same log:
                // running the step whose output it reads again can change them, a retry
                // cannot.
                None if view.undecidable_condition.is_some() => {
                    if let Some((_, Some(from))) = &view.undecidable_condition {
                        out.push(resume(
                            view,
                            &["--from", from],
                            condition_from_why(step, from, "step"),
                        ));
                    }
                }
                // A value Linux does not pass is refused again, however often it is tried.
                None if view.unpassable => {}
                // Its child reads a secret output across a wait for a report: the retry that
                // goes on with it cannot give it (its `--skip` and `abort` remain).
                None if matches!(view.child_reruns_from, Some((_, true))) => {}
                // Its `run:` is in the definition the run keeps: a retry runs it as it was.
                // Said after `--skip` and a new run, for a script it runs fixed in its file.
                None if view.malformed_output => {}
                None => {
                    if let Some((from, key)) = &view.unreported_output {
                        out.push(resume(
                            view,
                            &["--from", from],
                            unreported_why(step, from, key, "what follows it"),
                        ));
                    }
                    out.push(resume(view, &["--retry"], retry_why(view, step)));
                }
            }
            // A scenario's `--skip` needs exactly one failed or waiting phase to skip.
            let stuck = view
                .steps
                .iter()
                .filter(|s| matches!(s.status, StepStatus::Failed | StepStatus::Waiting))
                .count();
            if view.failed_step.is_some() && (view.kind != RunKind::Scenario || stuck == 1) {
                let why = if crossing {
                    without_its_work(view, step)
                } else {
                    skip_why(view, step)
                };
                let mut skip = resume(view, &["--skip"], why);
                if view.secret_foreach {
                    skip.why = format!("{}: {SECRET_FOREACH_AGAIN}", skip.why);
                }
                if view.unlistable_foreach.is_some() {
                    skip.why = format!(
                        "{}: its `foreach:` list is no list it can take, and a `--retry` would read the same value and fail the same way",
                        skip.why
                    );
                }
                if let Some((_, error, _)) = &view.unstartable_child {
                    skip.why = format!(
                        "{}: its child run cannot start with the values its `with:` gives ({error}), and a `--retry` would fail the same way",
                        skip.why
                    );
                }
                out.push(skip);
            }
            // Back to the previous checkpoint: undo the last completed step. Rolling back to
            // the last completed step itself would undo nothing (a `--retry` by another name).
            // Steps only: an item of a `foreach:` step is no checkpoint (`--rollback-to` names
            // its step, whose items run again with it).
            let done: Vec<&str> = view
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::Completed && s.item.is_none())
                .map(|s| s.name.as_str())
                .collect();
            if let [.., before, last] = done[..]
                && view.rollback_enabled
                && reruns_the_cause(view, |step| runs_after(view, step, before))
            {
                // No checkpoint after `before` (checkpoints off, or `checkpoint_frequency:
                // manual` and none saved there): not called one. `--rollback-to` keeps the steps up to it all the
                // same (it names its resume point, as `--from` does), while `--retry` and
                // `--skip` go back to the latest checkpoint.
                let why = if view.restarts.checkpointed.iter().any(|c| c == before) {
                    format!(
                        "back to the checkpoint after `{before}`: `{last}` is undone (its rollback, if it has one) and runs again"
                    )
                } else {
                    format!(
                        "keep `{before}` and the steps before it, though no checkpoint was saved after it{}: `{last}` is undone (its rollback, if it has one) and runs again",
                        if view.restarts.checkpoints_off {
                            " (checkpoints are off)"
                        } else {
                            ""
                        }
                    )
                };
                out.push(resume(view, &["--rollback-to", before], why));
            }
            if view.malformed_output && view.failed_step.is_some() {
                out.extend(malformed_output_last(
                    view,
                    "workflow",
                    step,
                    &retry_why(view, step),
                ));
            }
            if view.undecidable_condition.is_some() {
                out.extend(once_fixed(
                    view,
                    "workflow",
                    format!(
                        "or start a new run once `{step}`'s `if:` is fixed: this run keeps the definition it started with"
                    ),
                ));
            }
            // For a secret across a wait, `secret_across_wait` offered it already, before
            // `--skip`: `dedupe` keeps that one.
            out.push(abort());
            if view.unstartable_child.is_some() {
                out.extend(once_fixed(
                    view,
                    "workflow",
                    format!(
                        "or start a new run of the fixed definition, so that `{step}`'s `with:` passes its child's inputs (or give it other inputs: --input NAME=VALUE)"
                    ),
                ));
            }
        }
        RunStatus::Failed | RunStatus::Stopped | RunStatus::Interrupted => {
            let r = &view.restarts;
            out.push(resume(
                view,
                &[],
                if view.rolling_back {
                    "go on with the rollback: the compensations left, newest step first".to_string()
                } else if !r.resume.is_empty() {
                    // No checkpoint keeps the completed steps: they run again.
                    format!(
                        "run {} again ({}): {}",
                        from_where(view, &r.resume[0]),
                        why_again(view),
                        r.resume.join(", ")
                    )
                } else {
                    go_on_why(view, "the resume point")
                },
            ));
            out.push(abort());
        }
        // A stop is asked for already and its driver has not acted on it: a second stop
        // changes nothing; its status says when it has, and an abort ends the run instead.
        RunStatus::Running if let Some(pending) = &view.stop_requested => {
            out.extend(stop_pending(
                "workflow",
                id,
                pending.abort,
                "end the run for good instead",
            ));
        }
        // Stopped from any terminal (its driver ends the running step and records the stop).
        RunStatus::Running => out.extend(driven_now("workflow", id)),
        RunStatus::Waiting if view.waiting_for.is_none() && view.only_workers => {
            out.push(worker(view));
            out.push(abort());
        }
        RunStatus::Waiting if view.waiting_for.is_none() => {
            out.push(resume(
                view,
                &[],
                if view.rolling_back {
                    "nobody drives the run now: roll it back (its compensations, newest step first)"
                } else if view.submitted {
                    "drive it here instead of a worker (`cortex worker` takes it otherwise)"
                } else {
                    "nobody drives the run now: go on with it"
                },
            ));
            out.push(abort());
        }
        RunStatus::Waiting
            if view
                .steps
                .iter()
                .any(|s| Some(&s.name) == view.waiting_for.as_ref() && s.uses.is_some()) =>
        {
            // The step waits with its child run: what moves it is in the child.
            let step = view
                .steps
                .iter()
                .find(|s| Some(&s.name) == view.waiting_for.as_ref());
            let uses = step.and_then(|s| s.uses.as_ref());
            if let Some(w) = uses.and_then(|u| u.waits_on.as_ref()) {
                out.push(Suggestion::with_outputs(
                    &["workflow", "step", "complete", &w.step, "--run", &w.run_id],
                    (&w.required_outputs, &w.expected_outputs),
                    &format!(
                        "report `{}` of child run {} done; this run goes on with it",
                        w.step, w.run_id
                    ),
                ));
                out.push(Suggestion::new(
                    &["workflow", "step", "fail", &w.step, "--run", &w.run_id],
                    "report it failed",
                ));
                // The report on the child drives both on; a resume before it finds nothing.
                out.push(abort());
                return out;
            } else if let Some((child, ended)) =
                uses.and_then(|u| Some((u.run_id.as_ref()?, u.child_ended.as_ref()?)))
            {
                // No report can move a finished child: resuming gives the step its end.
                // With the `--input` placeholders of its secret inputs, as every resume of
                // it: without them the command as pasted is refused.
                out.push(resume(
                    view,
                    &[],
                    format!(
                        "child run {child} ended ({ended}): the step takes that end and its on_failure applies"
                    ),
                ));
                out.push(abort());
                return out;
            } else if let Some(child) = uses.and_then(|u| u.run_id.as_ref()) {
                out.push(Suggestion::new(
                    &["workflow", "status", child],
                    "see where the child run stands and what moves it (that drives this run on too)",
                ));
            }
            out.push(resume(view, &[], "go on once the child run can"));
            out.push(abort());
        }
        RunStatus::Waiting => {
            if let Some(step) = &view.waiting_for {
                let waiting = view.steps.iter().find(|s| &s.name == step);
                let needed = waiting.map_or(&[][..], |s| &s.required_outputs[..]);
                let expected = waiting.map_or(&[][..], |s| &s.expected_outputs[..]);
                let checks = waiting.map_or(&[][..], |s| &s.checks[..]);
                let complete = Suggestion::with_outputs(
                    &["workflow", "step", "complete", step, "--run", id],
                    (needed, expected),
                    if needed.is_empty() && expected.is_empty() {
                        "report the step done (add --output KEY=VALUE as needed)"
                    } else {
                        "report the step done"
                    },
                );
                out.push(with_secret_checks(complete, view, checks, "step_complete"));
                out.push(Suggestion::new(
                    &["workflow", "step", "fail", step, "--run", id],
                    "report the step failed",
                ));
                // How to check progress, as seed 001 shows it after a run starts: the steps
                // done and the prompt that waits, meanwhile or after a report.
                out.push(Suggestion::new(
                    &["workflow", "status", id],
                    "check progress: the steps done and the prompt that waits",
                ));
                // No `resume`: the report drives the run on, and until it is made a resume
                // finds nothing to do.
            }
        }
        _ => {}
    }
    out
}

/// What moves on a child run its parent's rollback undid or is undoing: its parent's. Over
/// (rolled back, or failed by a compensation: "clean up by hand"), nothing of its own — the
/// parent's status says what is left (a new run of this workflow alone was suggested, though
/// only its parent runs it); cut short mid-way, the parent's resume first, which goes on with
/// this run's rollback and then its own (this run's resume alone leaves the parent cut short).
fn for_parent(view: &StatusView, parent: &crate::event::ParentRun) -> Vec<Suggestion> {
    let step = crate::definition::shown(&parent.step);
    if !view.resumable {
        let why = match view.status {
            RunStatus::RolledBack => format!(
                "rolled back for its parent run, past that run's step `{step}`: the parent drives it, and its status says where it is and what is left to do"
            ),
            _ => format!(
                "its parent run's rollback past its step `{step}` did not end well here: the parent's status says what is left to do, and these steps' state is to be checked by hand"
            ),
        };
        return vec![Suggestion::new(
            &["workflow", "status", &parent.run_id],
            why,
        )];
    }
    let mut out = match view.status {
        RunStatus::Interrupted | RunStatus::Waiting | RunStatus::Stopped => vec![Suggestion::new(
            &["workflow", "resume", &parent.run_id],
            format!(
                "go on with the parent run's rollback: it goes on with this run's (past its step `{step}`), then with its own"
            ),
        )],
        _ => Vec::new(),
    };
    out.extend(workflow_actions(&StatusView {
        rolled_back_for_parent: false,
        ..view.clone()
    }));
    out
}

/// Back to before the latest completed phase that has a `rollback:` command, as a
/// workflow's failure offers its last step's: `--rollback-to` the phase that completed just
/// before it, which undoes it and the phases completed after it (newest first), then runs
/// them again. None where rollback is disabled (a resume would refuse it), or where that phase
/// completed first (there is nothing to roll back to).
fn scenario_rollback(view: &StatusView) -> Option<Suggestion> {
    if !view.rollback_enabled {
        return None;
    }
    let done = &view.completed_in_order;
    let undo = done.iter().rposition(|(_, rollback)| *rollback)?;
    let target = &done[undo.checked_sub(1)?].0;
    let undone: Vec<&str> = done[undo..].iter().map(|(n, _)| n.as_str()).collect();
    if !reruns_the_cause(view, |phase| undone.contains(&phase)) {
        return None;
    }
    let why = if let [one] = undone[..] {
        format!(
            "back to when `{target}` completed: `{one}` is undone (its rollback) and runs again"
        )
    } else {
        format!(
            "back to when `{target}` completed: the phases completed since are undone, newest first (by their rollbacks), and run again: {}",
            undone.join(", ")
        )
    };
    Some(resume(view, &["--rollback-to", target], why))
}

fn scenario_actions(view: &StatusView) -> Vec<Suggestion> {
    let id = view.run_id.as_str();
    let crossing = matches!(view.unheld_secret_output, Some((_, true)));
    let mut out = Vec::new();
    if !view.resumable {
        // Ended by a failure (rolled back or not): a new run, once it is fixed.
        if matches!(view.status, RunStatus::Failed | RunStatus::RolledBack) {
            out.push(run_again(view, "orchestrate"));
        }
        return out;
    }
    // No checkpoint keeps the completed phases (checkpoints off): a resume runs them again,
    // as the workflow's hint says of its steps.
    let r = &view.restarts;
    let again = (!r.resume.is_empty()).then(|| {
        format!(
            "run {} again ({}): {}",
            from_where(view, &r.resume[0]),
            why_again(view),
            r.resume.join(", ")
        )
    });
    // A stopped or failed run goes on with `resume` first: a start recorded on it waits.
    let held = matches!(view.status, RunStatus::Stopped | RunStatus::Failed);
    let failed: Vec<&str> = view
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed && s.item.is_none())
        .map(|s| s.name.as_str())
        .collect();
    for phase in view.awaiting_start.iter().filter(|_| !held) {
        out.push(Suggestion::new(
            &["orchestrate", "start", id, phase],
            "start this manual phase",
        ));
    }
    for s in view
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Waiting && !s.runs_as_items())
    {
        let complete = Suggestion::with_outputs(
            &["orchestrate", "complete", id, &s.name],
            (&s.required_outputs, &s.expected_outputs),
            "report the phase done (its checklist confirmed)",
        );
        out.push(with_secret_checks(
            complete,
            view,
            &s.checks,
            "phase_complete",
        ));
        out.push(Suggestion::new(
            &["orchestrate", "fail", id, &s.name],
            "report the phase failed",
        ));
    }
    match view.status {
        // A stop (or abort) is asked for already and its driver has not acted on it: a
        // second stop changes nothing; its status says when it has, and an abort ends the run
        // for good instead (its driver is signalled).
        RunStatus::Running if let Some(pending) = &view.stop_requested => {
            out.extend(stop_pending(
                "orchestrate",
                id,
                pending.abort,
                "end the run for good instead (its driver is sent SIGTERM)",
            ));
        }
        RunStatus::Running => out.extend(driven_now("orchestrate", id)),
        RunStatus::Stopped if view.timed_out.is_some() => {
            out.push(limit_raised(view, view.timed_out.unwrap_or_default()));
            // A plain resume fails on the secret output no process holds.
            if view.limit_cut_unheld.is_none() { out.push(resume(
                view,
                &[],
                again
                    .clone()
                    .unwrap_or_else(|| go_on_why(view, "the completed phases")),
            ));
            }
        }
        // Waiting on a report or a manual start only: those move it on, a resume would not.
        RunStatus::Waiting if view.waits_on_people => {}
        // Only a worker offering the tags its ready phases ask for moves it on.
        RunStatus::Waiting if view.only_workers => out.push(worker(view)),
        // Its failed phases run again with a fresh budget (as a plain resume does too, which
        // says "go on" of it): `--retry` says so, and is refused once none failed.
        // A `foreach:` list that is no list reads the same from the same log: running the
        // phase that gives it again can change it, a retry cannot.
        RunStatus::Failed
            if !view.rolling_back
                && failed.len() == 1
                && view
                    .unlistable_foreach
                    .as_ref()
                    .is_some_and(|(p, _)| p == failed[0]) =>
        {
            if let Some((phase, Some(from))) = &view.unlistable_foreach {
                out.push(resume(view, &["--from", from], from_why(phase, from)));
            }
        }
        // An `if:` that could not be decided reads the same values from the same log: running
        // the phase whose output it reads can change them, a retry cannot.
        RunStatus::Failed
            if !view.rolling_back
                && failed.len() == 1
                && view
                    .undecidable_condition
                    .as_ref()
                    .is_some_and(|(p, _)| p == failed[0]) =>
        {
            if let Some((phase, Some(from))) = &view.undecidable_condition {
                out.push(resume(
                    view,
                    &["--from", from],
                    condition_from_why(phase, from, "phase"),
                ));
            }
        }
        // `--retry` in another process fails as the phase did: the secret output it reads is
        // held only by the process that recorded it (as a workflow's step, above). Running
        // the phase that records it again (`--from`, with the phases after it) gives the
        // resume it; across a phase waiting for a report nothing from here can: `--skip`
        // (below), or a new run once the definition gives the secret as a secret input.
        // A `foreach:` list read from a secret is refused every time: neither `--retry` nor
        // `--from` would help (`--skip` below says so).
        RunStatus::Failed if !view.rolling_back && failed.len() == 1 && view.secret_foreach => {}
        RunStatus::Failed
            if !view.rolling_back
                && failed.len() == 1
                && view.unheld_secret_output.is_some() =>
        {
            match &view.unheld_secret_output {
                Some((from, false)) => out.push(resume(
                    view,
                    &["--from", from],
                    format!(
                        "run `{from}` again, and the phases after it: the secret output `{}` reads is held only by the process that records it",
                        failed[0]
                    ),
                )),
                Some((from, true)) => {
                    out.extend(secret_across_wait(view, "orchestrate", failed[0], from))
                }
                None => {}
            }
        }
        // Its `run:` is in the definition the run keeps: a retry runs it as it was, and
        // fails the same way. Said after `--skip` and a new run (below), for a script it
        // runs fixed in its file, as a workflow's step is.
        RunStatus::Failed if !view.rolling_back && failed.len() == 1 && view.malformed_output => {}
        RunStatus::Failed if !view.rolling_back && !failed.is_empty() => {
            if let (Some((from, key)), [phase]) = (&view.unreported_output, &failed[..]) {
                out.push(resume(
                    view,
                    &["--from", from],
                    unreported_why(phase, from, key, "the phases after it"),
                ));
            }
            let mut why = scenario_retry_why(view, &failed);
            if !view.awaiting_start.is_empty() {
                why.push_str(" (then start the manual phases)");
            }
            out.push(resume(view, &["--retry"], why));
        }
        RunStatus::Failed | RunStatus::Stopped | RunStatus::Interrupted | RunStatus::Waiting => out
            .push(resume(
                view,
                &[],
                match &again {
                    Some(again) if held && !view.awaiting_start.is_empty() => {
                        format!("{again} (then start the manual phases)")
                    }
                    Some(again) if !view.submitted => again.clone(),
                    _ if held && !view.awaiting_start.is_empty() && nothing_done(view) => {
                        "start again from the beginning, then start the manual phases (no phase has completed)".to_string()
                    }
                    _ if held && !view.awaiting_start.is_empty() => {
                        "go on from the completed phases (then start the manual phases)".to_string()
                    }
                    _ if view.submitted => {
                        "drive it here instead of a worker (`cortex worker` takes it otherwise)"
                            .to_string()
                    }
                    _ => go_on_why(view, "the completed phases"),
                },
            )),
        _ => {}
    }
    // Other phases go on with a resume; the tagged ones wait for such a worker meanwhile.
    if view.status == RunStatus::Waiting && !view.only_workers && !view.waits_for_tags.is_empty() {
        out.push(worker(view));
    }
    // `--skip` skips exactly one phase that failed or waits for a report (the decider
    // refuses it among several): offered only then. A `foreach:` step whose items run counts
    // by its items (its own status shows theirs).
    let stuck = view
        .steps
        .iter()
        .filter(|s| matches!(s.status, StepStatus::Failed | StepStatus::Waiting))
        .filter(|s| {
            !view
                .steps
                .iter()
                .any(|i| i.item.as_ref().is_some_and(|it| it.of == s.name))
        })
        .count();
    if view.status == RunStatus::Failed
        && stuck == 1
        && let Some(phase) = &view.failed_step
    {
        let why = if crossing {
            without_its_work(view, phase)
        } else {
            skip_why(view, phase)
        };
        let mut skip = resume(view, &["--skip"], why);
        if view.secret_foreach {
            skip.why = format!("{}: {SECRET_FOREACH_AGAIN}", skip.why);
        }
        out.push(skip);
    }
    if view.status == RunStatus::Failed && !view.rolling_back {
        out.extend(scenario_rollback(view));
        if let (true, [phase]) = (view.malformed_output, &failed[..]) {
            out.extend(malformed_output_last(
                view,
                "orchestrate",
                phase,
                &scenario_retry_why(view, &failed),
            ));
        }
    }
    // A run submitted for workers that none has taken yet can be given up, as a workflow's.
    // (For a secret across a wait, `secret_across_wait` offered it already, before `--skip`:
    // `dedupe` keeps that one.)
    if matches!(
        view.status,
        RunStatus::Failed | RunStatus::Stopped | RunStatus::Interrupted
    ) || (view.status == RunStatus::Waiting && view.submitted)
    {
        out.push(Suggestion::new(
            &["orchestrate", "abort", id],
            "end the run",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::worker_command;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn the_worker_command_gives_its_tags_in_one_word_and_names_the_secret_inputs() {
        assert_eq!(
            worker_command(&[], &words(&["gpu", "os:linux"]), &[]),
            "cortex worker --tags=gpu,os:linux --until-idle"
        );
        // A tag of an older log starting with `-` stays the value of `--tags`.
        assert_eq!(
            worker_command(&[], &words(&["-rf"]), &[]),
            "cortex worker --tags=-rf --until-idle"
        );
        assert_eq!(
            worker_command(&[], &words(&["gpu"]), &words(&["db_password", "api_key"])),
            "CORTEX_INPUT_DB_PASSWORD=… CORTEX_INPUT_API_KEY=… cortex worker --tags=gpu --until-idle"
        );
    }

    #[test]
    fn the_worker_command_carries_the_global_options_of_the_log_it_was_read_from() {
        let globals = words(&["--home", "/h o", "--db", "postgres://u@h/db"]);
        assert_eq!(
            worker_command(&globals, &words(&["gpu"]), &[]),
            "cortex --home '/h o' --db postgres://u@h/db worker --tags=gpu --until-idle"
        );
    }
}
