//! The decider in given/when/then form: given past events, when a command arrives, then
//! these events (or this refusal) follow.

mod common;

use cortex::decide::{AttemptReport, Command, DecideError, RunPhase, RunState, decide, evolve};
use cortex::definition::{Config, Workflow, parse_workflow, snapshot};
use cortex::event::{
    AttemptEnd, Driver, Event, Operator, Outcome, Recorded, ResumeMode, RunKind, RunStarted, Stage,
};

fn workflow(yaml: &str) -> Workflow {
    parse_workflow("test.yaml", yaml).expect("test workflow parses")
}

const THREE: &str = "name: t\nsteps:\n  - {name: a, run: 'true', rollback: undo-a}\n  - {name: b, run: 'true'}\n  - {name: c, run: 'false', retry: {max_retry_attempts: 1, backoff: 2s}}\n";

fn op() -> Operator {
    Operator {
        actor: "tester".into(),
        message: None,
    }
}

fn started(wf: &Workflow, config: Config) -> Event {
    let (definition, definition_hash) = snapshot(wf);
    Event::RunStarted(Box::new(RunStarted {
        config,
        ..common::run_started(
            RunKind::Workflow,
            &wf.name,
            (definition, definition_hash),
            "test.yaml",
            op(),
        )
    }))
}

fn state_of(events: &[Event]) -> RunState {
    events
        .iter()
        .enumerate()
        .fold(RunState::default(), |s, (i, e)| {
            evolve(
                s,
                &Recorded {
                    run_id: "R".into(),
                    seq: i as u64,
                    id: format!("E{i}"),
                    time: format!("2026-01-01T00:00:{:02}.000Z", i % 60),
                    version: 1,
                    prev_hash: String::new(),
                    hash: String::new(),
                    event: e.clone(),
                },
            )
        })
}

struct Given(Vec<Event>);

fn given(events: Vec<Event>) -> Given {
    Given(events)
}

impl Given {
    fn when(self, command: Command) -> Result<Vec<Event>, DecideError> {
        decide(&state_of(&self.0), command)
    }
}

fn finish(step: &str, attempt: u32, code: i32) -> Command {
    Command::FinishAttempt(Box::new(AttemptReport {
        step: step.into(),
        attempt,
        end: AttemptEnd::Exited { code },
        outputs: vec![],
        output_tail: String::new(),
        validation_problems: vec![],
        by: None,
        agent: None,
        log: None,
        permanent: false,
    }))
}

/// An operator's resume (`tester`, from a driver of pid 2 on `h`) in `mode`.
fn resume_cmd(mode: ResumeMode) -> Command {
    Command::Resume {
        mode,
        by: op(),
        driver: Driver {
            pid: 2,
            host: "h".into(),
        },
        timeout_seconds: None,
        enable_rollback: None,
        claude: None,
        leave_claimed: false,
        lease_lapsed: false,
    }
}

fn pre_ok() -> Event {
    Event::ValidationPassed {
        stage: Stage::Pre,
        step: None,
    }
}

fn started_step(step: &str, attempt: u32) -> Event {
    Event::StepStarted {
        step: step.into(),
        attempt,
    }
}

fn succeeded(step: &str, attempt: u32) -> Event {
    Event::StepSucceeded {
        step: step.into(),
        attempt,
        end: AttemptEnd::Exited { code: 0 },
        output_tail: String::new(),
        by: None,
    }
}

fn checkpoint(step: &str) -> Event {
    Event::CheckpointSaved { step: step.into() }
}

fn failed(step: &str, attempt: u32) -> Event {
    Event::StepFailed {
        step: step.into(),
        attempt,
        end: AttemptEnd::Exited { code: 1 },
        error: "exited with code 1".into(),
        output_tail: String::new(),
        by: None,
    }
}

#[test]
fn a_successful_attempt_records_success_and_a_checkpoint() {
    let wf = workflow(THREE);
    let then = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
    ])
    .when(finish("a", 1, 0))
    .unwrap();
    assert_eq!(then, vec![succeeded("a", 1), checkpoint("a")]);
}

#[test]
fn a_failed_attempt_with_retries_left_schedules_a_retry_with_backoff() {
    let wf = workflow(THREE);
    let then = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        started_step("b", 1),
        succeeded("b", 1),
        started_step("c", 1),
    ])
    .when(finish("c", 1, 1))
    .unwrap();
    assert_eq!(
        then,
        vec![
            failed("c", 1),
            Event::RetryScheduled {
                step: "c".into(),
                attempt: 2,
                delay_ms: 2000
            }
        ]
    );
}

/// An attempt that could not start for a reason no retry changes (its working directory is
/// missing: `permanent`) was retried like any failure; it now goes straight to the step's
/// `on_failure` with its retries unspent.
#[test]
fn a_permanent_start_failure_was_retried_like_a_flaky_command() {
    let wf = workflow(THREE);
    let mut report = match finish("c", 1, 1) {
        Command::FinishAttempt(r) => r,
        _ => unreachable!(),
    };
    report.end = AttemptEnd::SpawnFailed {
        error: "working directory /x does not exist".into(),
    };
    report.permanent = true;
    let then = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        started_step("b", 1),
        succeeded("b", 1),
        started_step("c", 1),
    ])
    .when(Command::FinishAttempt(report))
    .unwrap();
    assert!(
        !then
            .iter()
            .any(|e| matches!(e, Event::RetryScheduled { .. })),
        "{then:?}"
    );
    assert!(
        matches!(&then[0], Event::StepFailed { step, .. } if step == "c"),
        "{then:?}"
    );
    assert!(
        matches!(&then[1], Event::RunPaused { step: Some(s), .. } if s == "c"),
        "{then:?}"
    );
}

/// An attempt its process's guard ended for a lease it could not renew (self-fencing) says
/// nothing of the step: the executor records it interrupted with its words (and it runs
/// again), its retries unspent, never failed. Before, its "killed by signal 15" was the
/// step's failure.
#[test]
fn a_fenced_attempt_is_interrupted_not_failed() {
    let wf = workflow(THREE);
    let then = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
    ])
    .when(Command::InterruptAttempt {
        step: "a".into(),
        attempt: 1,
        reason: "ended by its process's guard".into(),
    })
    .unwrap();
    assert_eq!(
        then,
        vec![Event::StepInterrupted {
            step: "a".into(),
            attempt: 1,
            reason: "ended by its process's guard".into(),
        }]
    );
}

#[test]
fn exhausted_retries_pause_the_run_by_default() {
    let wf = workflow(THREE);
    let then = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        started_step("b", 1),
        succeeded("b", 1),
        started_step("c", 1),
        failed("c", 1),
        Event::RetryScheduled {
            step: "c".into(),
            attempt: 2,
            delay_ms: 2000,
        },
        started_step("c", 2),
    ])
    .when(finish("c", 2, 1))
    .unwrap();
    assert_eq!(then[0], failed("c", 2));
    assert!(matches!(&then[1], Event::RunPaused { step: Some(s), .. } if s == "c"));
    assert_eq!(then.len(), 2);
}

#[test]
fn on_failure_rollback_compensates_completed_steps_newest_first() {
    let wf = workflow(
        &THREE
            .replace("backoff: 2s}", "backoff: 2s}, on_failure: rollback")
            .replace("max_retry_attempts: 1", "max_retry_attempts: 0"),
    );
    let then = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        started_step("b", 1),
        succeeded("b", 1),
        started_step("c", 1),
    ])
    .when(finish("c", 1, 1))
    .unwrap();
    assert!(
        matches!(&then[1], Event::RollbackStarted { steps, resume_after: None, .. } if steps == &["b".to_string(), "a".to_string()])
    );
}

#[test]
fn the_last_compensation_seals_the_run_rolled_back() {
    let wf = workflow(THREE);
    let then = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        Event::RollbackStarted {
            reason: "r".into(),
            steps: vec!["a".into()],
            resume_after: None,
        },
    ])
    .when(Command::RecordCompensation {
        step: "a".into(),
        end: Some(AttemptEnd::Exited { code: 0 }),
        output_tail: String::new(),
    })
    .unwrap();
    assert_eq!(
        then,
        vec![
            Event::StepCompensated {
                step: "a".into(),
                ran: true,
                output_tail: String::new()
            },
            Event::RollbackFinished {
                failed: vec![],
                cut_off: None,
                not_run: vec![]
            },
            Event::RunFinished {
                outcome: Outcome::RolledBack,
                by: None,
                reason: Some("r".into())
            },
        ]
    );
}

#[test]
fn completing_the_last_step_finishes_the_run() {
    let wf = workflow("name: t\nsteps:\n  - {name: only, run: 'true'}\n");
    let then = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("only", 1),
    ])
    .when(finish("only", 1, 0))
    .unwrap();
    assert_eq!(
        then.last(),
        Some(&Event::RunFinished {
            outcome: Outcome::Completed,
            by: None,
            reason: None
        })
    );
}

#[test]
fn an_external_step_waits_instead_of_starting() {
    let wf = workflow("name: t\nsteps:\n  - {name: plan, prompt: think}\n");
    let then = given(vec![started(&wf, Config::default()), pre_ok()])
        .when(Command::StartAttempt {
            step: "plan".into(),
        })
        .unwrap();
    assert_eq!(
        then,
        vec![Event::StepWaiting {
            step: "plan".into(),
            attempt: 1
        }]
    );
}

#[test]
fn only_the_current_step_can_start() {
    let wf = workflow(THREE);
    let err = given(vec![started(&wf, Config::default()), pre_ok()])
        .when(Command::StartAttempt { step: "b".into() })
        .unwrap_err();
    assert!(matches!(err, DecideError::NotCurrent { .. }), "{err}");
}

#[test]
fn a_sealed_run_accepts_nothing() {
    let wf = workflow(THREE);
    let err = given(vec![
        started(&wf, Config::default()),
        Event::RunFinished {
            outcome: Outcome::Aborted,
            by: Some(op()),
            reason: None,
        },
    ])
    .when(Command::Abort {
        by: op(),
        cut_off: None,
    })
    .unwrap_err();
    assert_eq!(err, DecideError::Finished(Outcome::Aborted));
}

#[test]
fn resuming_after_a_crash_interrupts_the_dangling_attempt() {
    let wf = workflow(THREE);
    let driver = Driver {
        pid: 2,
        host: "h".into(),
    };
    let then = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        checkpoint("a"),
        started_step("b", 1),
    ])
    .when(resume_cmd(ResumeMode::Continue))
    .unwrap();
    assert!(matches!(&then[0], Event::StepInterrupted { step, attempt: 1, .. } if step == "b"));
    assert_eq!(
        then[1],
        Event::RunResumed {
            mode: ResumeMode::Continue,
            restart_from: None,
            driver,
            by: op(),
            timeout_seconds: None,
            enable_rollback: None,
            claude: None,
            rerun: vec![],
        }
    );
}

#[test]
fn without_checkpoints_resume_restarts_from_the_first_step() {
    let wf = workflow(THREE);
    let config = Config {
        enable_checkpoints: false,
        ..Config::default()
    };
    let then = given(vec![
        started(&wf, config),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        Event::StopRequested {
            by: op(),
            signal: None,
            abort: false,
        },
        Event::RunStopped { time_limit: None },
    ])
    .when(resume_cmd(ResumeMode::Continue))
    .unwrap();
    assert!(matches!(&then[0], Event::RunResumed { restart_from: Some(s), .. } if s == "a"));
}

/// Seen by a review: a worker that read a run before an operator stopped it, and claimed it
/// after, applied its takeover resume to the stopped run, and the run ran again. A worker's
/// resume (`leave_claimed`) of a run stopped, being stopped or aborted is refused; an
/// operator's resume of the same run goes on.
#[test]
fn a_workers_takeover_resume_of_a_stopped_or_stopping_run_is_refused() {
    let wf = workflow(THREE);
    let base = vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
    ];
    let request = |abort| Event::StopRequested {
        by: op(),
        signal: None,
        abort,
    };
    let resume = |leave: bool| {
        let mut resume = resume_cmd(ResumeMode::Continue);
        if let Command::Resume { leave_claimed, .. } = &mut resume {
            *leave_claimed = leave;
        }
        resume
    };
    let stopped: Vec<Event> = base
        .iter()
        .cloned()
        .chain([request(false), Event::RunStopped { time_limit: None }])
        .collect();
    let stopping: Vec<Event> = base.iter().cloned().chain([request(false)]).collect();
    let aborting: Vec<Event> = base.iter().cloned().chain([request(true)]).collect();
    for (events, words) in [
        (stopped, "the run is stopped"),
        (stopping, "the run is being stopped"),
        (aborting, "the run is being aborted"),
    ] {
        let refused = given(events.clone()).when(resume(true)).unwrap_err();
        assert!(
            matches!(refused, DecideError::NotForWorkers(_)),
            "{refused:?}"
        );
        assert!(refused.to_string().starts_with(words), "{refused}");
        // An operator's resume goes on from a recorded stop; a request nobody acted on
        // is taken up first (`TakeUpRequest`), never resumed over.
        let operator = given(events).when(resume(false));
        if words == "the run is stopped" {
            assert!(operator.is_ok(), "{operator:?}");
        } else {
            assert!(
                matches!(operator, Err(DecideError::RequestPending { .. })),
                "{operator:?}"
            );
        }
    }
    // A run still going whose driver is gone is a worker's to take.
    assert!(given(base).when(resume(true)).is_ok());
}

/// A rollback that began is the run's only way on until it ends. Before, a driver killed
/// (or stopped) while a compensation ran left the run rolling back, and `resume --skip`
/// skipped the failed step and finished the run `completed`, half undone, with no record of
/// the compensation that had run. Every mode but a plain resume is refused, and a plain
/// resume goes on with the rollback.
#[test]
fn a_rollback_under_way_refuses_skip_retry_from_and_rollback_to() {
    let wf = workflow(THREE);
    let history = vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        started_step("b", 1),
        succeeded("b", 1),
        started_step("c", 1),
        failed("c", 1),
        Event::RollbackStarted {
            reason: "c failed".into(),
            steps: vec!["b".into(), "a".into()],
            resume_after: None,
        },
    ];
    for mode in [
        ResumeMode::Skip,
        ResumeMode::Retry,
        ResumeMode::From("c".into()),
        ResumeMode::RollbackTo("a".into()),
    ] {
        let refused = given(history.clone()).when(resume_cmd(mode.clone()));
        assert!(
            matches!(&refused, Err(DecideError::RollingBack { pending, .. }) if pending == "`b`, `a`"),
            "{mode:?}: {refused:?}"
        );
    }
    let then = given(history.clone())
        .when(resume_cmd(ResumeMode::Continue))
        .unwrap();
    assert!(
        matches!(then.last(), Some(Event::RunResumed { .. })),
        "{then:?}"
    );
    let state = state_of(&[history, then].concat());
    assert_eq!(state.phase, RunPhase::RollingBack);
    assert_eq!(
        state.rollback.map(|rb| rb.pending),
        Some(vec!["b".into(), "a".into()])
    );
}

#[test]
fn resume_skip_records_the_operator_and_moves_on() {
    let wf = workflow(THREE);
    let then = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        failed("a", 1),
        Event::RunPaused {
            step: Some("a".into()),
            reason: "x".into(),
        },
    ])
    .when(resume_cmd(ResumeMode::Skip))
    .unwrap();
    assert!(
        matches!(&then[1], Event::StepSkipped { step, by: Some(by), .. } if step == "a" && by.actor == "tester")
    );
}

#[test]
fn rollback_to_needs_rollback_enabled() {
    let wf = workflow(THREE);
    let config = Config {
        enable_rollback: false,
        ..Config::default()
    };
    let err = given(vec![
        started(&wf, config),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        started_step("b", 1),
        failed("b", 1),
        Event::RunPaused {
            step: Some("b".into()),
            reason: "x".into(),
        },
    ])
    .when(resume_cmd(ResumeMode::RollbackTo("a".into())))
    .unwrap_err();
    assert_eq!(err, DecideError::RollbackDisabled { at_start: true });
}

#[test]
fn a_missing_output_fails_the_validation_gate() {
    let wf = workflow(
        "name: t\nsteps:\n  - name: build\n    run: 'true'\n    retry: {max_retry_attempts: 0}\n    validate:\n      - output: binary\n",
    );
    let then = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("build", 1),
    ])
    .when(finish("build", 1, 0))
    .unwrap();
    assert_eq!(
        then[0],
        Event::ValidationFailed {
            stage: Stage::Step,
            step: Some("build".into()),
            problems: vec!["output `binary` was not produced".into()]
        }
    );
}

#[test]
fn retries_only_on_listed_exit_codes() {
    let wf = workflow(
        "name: t\nsteps:\n  - name: s\n    run: 'false'\n    retry: {max_retry_attempts: 3, on_exit_codes: [75]}\n",
    );
    let then = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("s", 1),
    ])
    .when(finish("s", 1, 1))
    .unwrap();
    assert!(matches!(then[1], Event::RunPaused { .. }), "{then:?}");
}

fn agent_said(is_error: bool, session: &str) -> Box<cortex::event::AgentResult> {
    Box::new(cortex::event::AgentResult {
        step: "ignored: the report's step is used".into(),
        attempt: 99,
        agent: "planner".into(),
        runner: cortex::definition::AgentRunner::Claude,
        is_error,
        subtype: if is_error {
            "error_max_turns"
        } else {
            "success"
        }
        .into(),
        result: if is_error { "" } else { "the plan" }.into(),
        errors: if is_error {
            vec!["Reached maximum number of turns (9)".into()]
        } else {
            vec![]
        },
        session_id: session.into(),
        total_cost_usd: Some(0.25),
        num_turns: Some(9),
        duration_ms: Some(1000),
        duration_api_ms: None,
    })
}

fn finish_by_agent(
    attempt: u32,
    end: AttemptEnd,
    said: Box<cortex::event::AgentResult>,
) -> Command {
    let outputs = if end.succeeded() {
        vec![("result".to_string(), said.result.clone())]
    } else {
        vec![]
    };
    Command::FinishAttempt(Box::new(AttemptReport {
        step: "c".into(),
        attempt,
        end,
        outputs,
        output_tail: String::new(),
        validation_problems: vec![],
        by: None,
        agent: Some(said),
        log: None,
        permanent: false,
    }))
}

/// A resumed attempt that shows its session cannot be resumed — Claude Code exits 1 with "No
/// conversation found with session ID" and no result, or answers an error of no turns — leaves
/// no session for the next attempt, which starts a new one (before, every retry resumed the
/// lost session and failed the same way). One cut short by a timeout keeps it, and so does one
/// that printed no result for another reason (a crash, a bad key): its retry resumes the last
/// session the log knows for the unit (SPEC §8; review m, finding 4).
#[test]
fn a_resumed_attempt_that_could_not_resume_its_session_leaves_none_for_the_next() {
    let wf = workflow(THREE);
    let mut history = vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        started_step("b", 1),
        succeeded("b", 1),
        started_step("c", 1),
    ];
    let session = |history: &[Event]| state_of(history).steps[2].resume_session.clone();
    let first = given(history.clone())
        .when(finish_by_agent(
            1,
            AttemptEnd::Exited { code: 1 },
            agent_said(true, "s-1"),
        ))
        .unwrap();
    history.extend(first);
    assert_eq!(session(&history).as_deref(), Some("s-1"));

    // Timed out while resuming: the session is there, the process was cut.
    history.push(started_step("c", 2));
    history.push(Event::StepTimedOut {
        step: "c".into(),
        attempt: 2,
        timeout_ms: 1000,
        output_tail: String::new(),
    });
    assert_eq!(
        session(&history).as_deref(),
        Some("s-1"),
        "kept after a timeout"
    );

    // Exited with no result while resuming, saying nothing of the session (a crash, a bad
    // key): the session is the last one known, and the next attempt resumes it.
    history.push(started_step("c", 3));
    let crashed = given(history.clone()).when(finish("c", 3, 1)).unwrap();
    let after_crash: Vec<Event> = history.iter().cloned().chain(crashed).collect();
    assert_eq!(
        session(&after_crash).as_deref(),
        Some("s-1"),
        "kept after an attempt that printed no result"
    );

    // Exited with no result while resuming, saying the session is gone: not resumed again.
    let Command::FinishAttempt(mut report) = finish("c", 3, 1) else {
        unreachable!()
    };
    report.output_tail = "No conversation found with session ID: s-1\n".into();
    let lost = given(history.clone())
        .when(Command::FinishAttempt(report))
        .unwrap();
    history.extend(lost);
    assert_eq!(
        session(&history),
        None,
        "a lost session is not resumed again"
    );

    // A new session; then a resumed attempt answering an error of no turns.
    history.push(started_step("c", 4));
    let fresh = given(history.clone())
        .when(finish_by_agent(
            4,
            AttemptEnd::Exited { code: 1 },
            agent_said(true, "s-4"),
        ))
        .unwrap();
    history.extend(fresh);
    assert_eq!(session(&history).as_deref(), Some("s-4"));
    history.push(started_step("c", 5));
    let mut nothing = agent_said(true, "s-5");
    nothing.num_turns = Some(0);
    nothing.errors = vec!["No conversation found with session ID: s-4".into()];
    let answered = given(history.clone())
        .when(finish_by_agent(5, AttemptEnd::Exited { code: 1 }, nothing))
        .unwrap();
    history.extend(answered);
    assert_eq!(
        session(&history),
        None,
        "an error of no turns resumed nothing"
    );
}

/// An attempt run by Claude Code: what it reported comes first, with the report's step and
/// attempt; its error follows the exit in `step_failed`; its session is the one the next
/// attempt resumes, until the step completes.
#[test]
fn an_agent_result_is_recorded_first_and_its_session_kept_for_the_retry() {
    let wf = workflow(THREE);
    let past = vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        started_step("b", 1),
        succeeded("b", 1),
        started_step("c", 1),
    ];
    let then = given(past.clone())
        .when(finish_by_agent(
            1,
            AttemptEnd::Exited { code: 1 },
            agent_said(true, "s-1"),
        ))
        .unwrap();
    let mut expected = agent_said(true, "s-1");
    expected.step = "c".into();
    expected.attempt = 1;
    assert_eq!(then[0], Event::AgentResult(expected));
    assert!(
        matches!(&then[1], Event::StepFailed { error, .. } if error == "exited with code 1: Reached maximum number of turns (9)"),
        "{:?}",
        then[1]
    );
    assert!(matches!(then[2], Event::RetryScheduled { attempt: 2, .. }));
    let mut history = past;
    history.extend(then);
    let state = state_of(&history);
    assert_eq!(state.steps[2].resume_session.as_deref(), Some("s-1"));

    // Exit 0 with an error result: the runner's words are the error.
    let then = given(history.clone())
        .when(finish_by_agent(
            1,
            AttemptEnd::AgentFailed {
                error: "Reached maximum number of turns (9)".into(),
            },
            agent_said(true, "s-1"),
        ))
        .err();
    assert!(then.is_some(), "attempt 1 is over: a second end is refused");

    history.push(started_step("c", 2));
    let then = given(history.clone())
        .when(finish_by_agent(
            2,
            AttemptEnd::Exited { code: 0 },
            agent_said(false, "s-2"),
        ))
        .unwrap();
    assert!(matches!(&then[0], Event::AgentResult(r) if r.session_id == "s-2" && r.attempt == 2));
    assert_eq!(
        then[1],
        Event::OutputRecorded {
            step: "c".into(),
            key: "result".into(),
            value: "the plan".into()
        }
    );
    history.extend(then);
    let state = state_of(&history);
    assert_eq!(
        state.steps[2].resume_session, None,
        "a completed step resumes nothing"
    );
    assert_eq!(
        state.steps[2]
            .agent_result
            .as_ref()
            .map(|r| r.session_id.as_str()),
        Some("s-2")
    );
}

#[test]
fn an_error_result_that_exited_0_fails_with_the_runner_s_words_alone() {
    let wf = workflow(THREE);
    let then = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        started_step("b", 1),
        succeeded("b", 1),
        started_step("c", 1),
    ])
    .when(finish_by_agent(
        1,
        AttemptEnd::AgentFailed {
            error: "Reached maximum number of turns (9)".into(),
        },
        agent_said(true, "s-1"),
    ))
    .unwrap();
    assert!(
        matches!(&then[1], Event::StepFailed { error, end: AttemptEnd::AgentFailed { .. }, .. } if error == "Reached maximum number of turns (9)"),
        "{:?}",
        then[1]
    );
}

fn check(step: &str, condition: &str, holds: bool) -> cortex::event::ConditionCheck {
    cortex::event::ConditionCheck {
        step: step.into(),
        condition: condition.into(),
        holds,
        values: [("inputs.env".to_string(), "'dev'".to_string())].into(),
        exit_code: None,
        error: None,
    }
}

const GUARDED: &str = "name: g\ninputs:\n  env: {type: string, default: dev}\nsteps:\n  - {name: a, run: 'true'}\n  - {name: b, run: 'true', if: \"inputs.env == 'prod'\"}\n";

#[test]
fn a_step_with_an_unchecked_if_cannot_start_whoever_asks() {
    let wf = workflow(GUARDED);
    let out = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
    ])
    .when(Command::StartAttempt { step: "b".into() });
    assert!(
        matches!(out, Err(DecideError::StepNotReady { ref why, .. }) if why.contains("`if:`")),
        "{out:?}"
    );
}

#[test]
fn a_false_condition_records_the_check_then_the_skip_with_the_values_seen() {
    let wf = workflow(GUARDED);
    let events = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        checkpoint("a"),
    ])
    .when(Command::RecordCondition(Box::new(check(
        "b",
        "inputs.env == 'prod'",
        false,
    ))))
    .unwrap();
    assert!(matches!(&events[0], Event::ConditionChecked(c) if !c.holds));
    match &events[1] {
        Event::StepSkipped { step, reason, .. } => {
            assert_eq!(step, "b");
            assert_eq!(
                reason,
                "if: inputs.env == 'prod' is false (inputs.env = 'dev')"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        events.last(),
        Some(Event::RunFinished {
            outcome: Outcome::Completed,
            ..
        })
    ));
}

#[test]
fn a_condition_that_cannot_be_decided_fails_the_step_by_its_on_failure() {
    let wf = workflow(GUARDED);
    let mut c = check("b", "inputs.env == 'prod'", false);
    c.error = Some("`inputs.env` is a number".into());
    let events = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
    ])
    .when(Command::RecordCondition(Box::new(c)))
    .unwrap();
    assert!(
        matches!(&events[1], Event::RunPaused { step: Some(s), reason } if s == "b" && reason.contains("cannot be decided"))
    );
}

const FANOUT: &str =
    "name: f\nsteps:\n  - {name: d, run: 'true', foreach: [eu, us]}\n  - {name: z, run: 'true'}\n";

#[test]
fn the_last_item_done_records_the_lists_of_outputs_and_completes_its_step() {
    let wf = workflow(FANOUT);
    let out = |step: &str, value: &str| Event::OutputRecorded {
        step: step.into(),
        key: "url".into(),
        value: value.into(),
    };
    let events = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        Event::ForeachExpanded {
            step: "d".into(),
            items: vec!["eu".into(), "us".into()],
        },
        started_step("d[0]", 1),
        out("d[0]", "https://eu"),
        succeeded("d[0]", 1),
        started_step("d[1]", 1),
    ])
    .when(finish("d[1]", 1, 0))
    .unwrap();
    assert!(events.contains(&Event::OutputRecorded {
        step: "d".into(),
        key: "url".into(),
        value: "[\"https://eu\",null]".into(),
    }));
    assert!(events.contains(&Event::ForeachFinished {
        step: "d".into(),
        completed: 2,
        skipped: 0,
    }));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::RunFinished { .. })),
        "`z` is still to run"
    );
}

#[test]
fn a_step_whose_items_run_is_never_started_itself_and_resume_from_names_steps_not_items() {
    let wf = workflow(FANOUT);
    let history = vec![
        started(&wf, Config::default()),
        pre_ok(),
        Event::ForeachExpanded {
            step: "d".into(),
            items: vec!["eu".into()],
        },
    ];
    let out = given(history.clone()).when(Command::StartAttempt { step: "d".into() });
    assert!(
        matches!(out, Err(DecideError::StepNotReady { .. })),
        "{out:?}"
    );
    let out = given(history).when(resume_cmd(ResumeMode::From("d[0]".into())));
    assert!(
        matches!(out, Err(DecideError::ItemOfForeach { .. })),
        "{out:?}"
    );
}

#[test]
fn a_list_that_is_not_a_list_fails_the_step() {
    let wf = workflow(
        "name: f\nsteps:\n  - {name: l, run: 'true'}\n  - {name: d, run: 'true', foreach: '${{ steps.l.outputs.x }}', on_failure: skip}\n",
    );
    let events = given(vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("l", 1),
        succeeded("l", 1),
    ])
    .when(Command::RecordItems {
        step: "d".into(),
        items: Err("not JSON".into()),
    })
    .unwrap();
    assert!(matches!(&events[0], Event::ForeachFailed { error, .. } if error == "not JSON"));
    assert!(
        matches!(&events[1], Event::StepSkipped { reason, .. } if reason.contains("foreach: not JSON"))
    );
}

const PARENT: &str = "name: p\nsteps:\n  - {name: u, uses: child}\n";

#[test]
fn a_uses_step_keeps_its_unfinished_child_and_fails_with_the_child_s_reason() {
    let wf = workflow(PARENT);
    let history = vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("u", 1),
        Event::ChildStarted {
            step: "u".into(),
            attempt: 1,
            run_id: "C1".into(),
            workflow: "child".into(),
        },
    ];
    // A second child while the first is not over is refused.
    let out = given(history.clone()).when(Command::StartChild {
        step: "u".into(),
        run_id: "C2".into(),
        workflow: "child".into(),
        replacing: None,
    });
    assert!(
        matches!(out, Err(DecideError::StepNotReady { .. })),
        "{out:?}"
    );
    // The child paused: the step fails with its reason, and is not retried on a timer.
    let events = given(history)
        .when(Command::FinishAttempt(Box::new(AttemptReport {
            step: "u".into(),
            attempt: 1,
            end: AttemptEnd::Child {
                run_id: "C1".into(),
                outcome: Outcome::Failed,
                finished: false,
                reason: Some("step `x` failed: exited with code 1".into()),
            },
            outputs: vec![],
            output_tail: String::new(),
            validation_problems: vec![],
            by: None,
            agent: None,
            log: None,
            permanent: false,
        })))
        .unwrap();
    match &events[0] {
        Event::StepFailed { error, .. } => assert_eq!(
            error,
            "child run C1 failed (it can be resumed): step `x` failed: exited with code 1"
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(&events[1], Event::RunPaused { .. }), "{events:?}");
}

/// Given a run whose driver died with an attempt in flight that a worker claimed, when a
/// driver takes it over: a worker (which reaps lapsed leases) leaves the claimed attempt to
/// its lease; any other driver ends it as the dead driver's. Before, a worker taking over a
/// run it helped with ended its own running phase and ran it again.
#[test]
fn a_takeover_leaves_a_claimed_attempt_to_its_lease_only_when_a_worker_takes_over() {
    let wf = workflow(THREE);
    let history = vec![
        started(&wf, Config::default()),
        pre_ok(),
        Event::AttemptClaimed {
            step: "a".into(),
            attempt: 1,
            worker: "helper".into(),
            host: "h".into(),
            epoch: 1,
        },
        started_step("a", 1),
    ];
    let by_worker = given(history.clone())
        .when(Command::InterruptOrphans {
            leave_claimed: true,
            lease_lapsed: false,
        })
        .unwrap();
    assert_eq!(by_worker, vec![], "the worker's lease decides");
    let by_other = given(history)
        .when(Command::InterruptOrphans {
            leave_claimed: false,
            lease_lapsed: false,
        })
        .unwrap();
    assert!(
        matches!(&by_other[..], [Event::StepInterrupted { step, attempt: 1, .. }] if step == "a"),
        "{by_other:?}"
    );
}

/// A stop of a run already stopped recorded a second `stop_requested` + `run_stopped` pair
/// (each `orchestrate stop`, MCP `stop`, page or TUI stop of it): a stopped run is stopped,
/// and a second stop, or a request for one, records nothing.
#[test]
fn a_stop_of_a_stopped_run_records_nothing() {
    let wf = workflow(THREE);
    let stopped = || {
        vec![
            started(&wf, Config::default()),
            pre_ok(),
            started_step("a", 1),
            succeeded("a", 1),
            Event::StopRequested {
                by: op(),
                signal: None,
                abort: false,
            },
            Event::RunStopped { time_limit: None },
        ]
    };
    let again = given(stopped())
        .when(Command::Stop {
            by: op(),
            signal: None,
        })
        .unwrap();
    assert_eq!(again, vec![]);
    let asked = given(stopped())
        .when(Command::RequestStop {
            by: op(),
            abort: false,
        })
        .unwrap();
    assert_eq!(asked, vec![]);
    // An abort of a stopped run is still asked for: it ends the run for good.
    let abort = given(stopped())
        .when(Command::RequestStop {
            by: op(),
            abort: true,
        })
        .unwrap();
    assert_eq!(abort.len(), 1);
}

/// Given a run whose stop or abort was asked for (by an operator elsewhere, caught up with as
/// the driver appends), when its driver would start the next step, then nothing starts: the
/// decision is refused (`Stopping`), and the driver records the stop or abort instead.
#[test]
fn no_attempt_starts_while_a_stop_or_abort_is_asked_for() {
    let wf = workflow(THREE);
    for abort in [false, true] {
        let then = given(vec![
            started(&wf, Config::default()),
            pre_ok(),
            started_step("a", 1),
            succeeded("a", 1),
            checkpoint("a"),
            Event::StopRequested {
                by: op(),
                signal: None,
                abort,
            },
        ])
        .when(Command::StartAttempt { step: "b".into() });
        assert!(matches!(then, Err(DecideError::Stopping)), "{then:?}");
    }
}

/// With checkpoints disabled nothing is a resume point: every resume that goes on from where
/// the run is — plainly, `--retry`, `--skip` — runs the completed steps again (before,
/// `--retry` and `--skip` reused them while a plain resume re-ran them).
#[test]
fn without_checkpoints_every_resume_mode_restarts_from_the_first_step() {
    let wf = workflow(THREE);
    let config = Config {
        enable_checkpoints: false,
        ..Config::default()
    };
    let past = vec![
        started(&wf, config),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        started_step("b", 1),
        succeeded("b", 1),
        started_step("c", 1),
        failed("c", 1),
        Event::RunPaused {
            step: Some("c".into()),
            reason: "c failed".into(),
        },
    ];
    for mode in [ResumeMode::Continue, ResumeMode::Retry, ResumeMode::Skip] {
        let then = given(past.clone()).when(resume_cmd(mode.clone())).unwrap();
        assert!(
            matches!(&then[0], Event::RunResumed { restart_from: Some(s), .. } if s == "a"),
            "{mode:?}: {then:?}"
        );
        // A skip of the last step does not finish a run whose earlier steps run again.
        assert!(
            !then.iter().any(|e| matches!(e, Event::RunFinished { .. })),
            "{mode:?}: {then:?}"
        );
    }
}

/// `--rollback-to STEP`: once the rollback ends, every step after STEP is pending — the
/// compensated ones and the failed one too, which showed "Retry scheduled (attempt 2)" with
/// no retry scheduled, its budget of the failure that caused it.
#[test]
fn a_finished_rollback_to_leaves_every_step_after_its_target_pending() {
    let wf = workflow(THREE);
    let mut events = vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        checkpoint("a"),
        started_step("b", 1),
        succeeded("b", 1),
        checkpoint("b"),
        started_step("c", 1),
        failed("c", 1),
        started_step("c", 2),
        failed("c", 2),
        Event::RunPaused {
            step: Some("c".into()),
            reason: "c failed".into(),
        },
    ];
    events.extend(
        given(events.clone())
            .when(resume_cmd(ResumeMode::RollbackTo("a".into())))
            .unwrap(),
    );
    // While the rollback runs, the failed step is not shown as retried.
    let rolling = state_of(&events);
    assert_eq!(rolling.steps[2].status.as_str(), "failed");
    let undone = given(events.clone())
        .when(Command::RecordCompensation {
            step: "b".into(),
            end: None,
            output_tail: String::new(),
        })
        .unwrap();
    events.extend(undone);
    let state = state_of(&events);
    assert!(state.rollback.is_none(), "{events:?}");
    assert_eq!(state.phase, RunPhase::Running);
    let statuses: Vec<&str> = state.steps.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(statuses, ["completed", "pending", "pending"]);
    assert_eq!(state.steps[2].budget_failures, 0);
}

/// Attempt 2 of `uses:` step `review`, after attempt 1 ended with `end` of its child `C1`
/// (`end` none: with a failed gate on the completed child's outputs).
fn uses_step_retried_after(end: Option<AttemptEnd>) -> Vec<Event> {
    let wf = workflow(
        "name: t\nsteps:\n  - name: review\n    uses: child\n    validate: [{output: verdict}]\n",
    );
    let mut events = vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("review", 1),
        Event::ChildStarted {
            step: "review".into(),
            attempt: 1,
            run_id: "C1".into(),
            workflow: "child".into(),
        },
    ];
    events.push(match end {
        None => Event::ValidationFailed {
            stage: Stage::Step,
            step: Some("review".into()),
            problems: vec!["output `verdict` was not produced".into()],
        },
        Some(end) => Event::StepFailed {
            step: "review".into(),
            attempt: 1,
            error: end.describe(),
            end,
            output_tail: String::new(),
            by: None,
        },
    });
    events.push(started_step("review", 2));
    events
}

fn start_child(run_id: &str) -> Command {
    Command::StartChild {
        step: "review".into(),
        run_id: run_id.into(),
        workflow: "child".into(),
        replacing: None,
    }
}

/// A `uses:` step whose gate refused its completed child's outputs: the child is over for
/// good, so the next attempt (a retry) starts a new child run, linked with attempt 2. Before,
/// the link stayed open, the new child was refused ("it is resumed instead"), and the retry
/// took the same completed end again.
#[test]
fn a_uses_step_s_retry_after_its_gate_failed_starts_a_new_child() {
    let events = uses_step_retried_after(None);
    assert_eq!(
        cortex::plan::child_plan(&state_of(&events), 0),
        cortex::plan::ChildPlan::Start
    );
    assert_eq!(
        given(events).when(start_child("C2")).unwrap(),
        vec![Event::ChildStarted {
            step: "review".into(),
            attempt: 2,
            run_id: "C2".into(),
            workflow: "child".into(),
        }]
    );
}

/// A child still unfinished (paused on a failure, resumable) is gone on with by the next
/// attempt, never replaced: its completed steps are not run again.
#[test]
fn a_uses_step_s_retry_goes_on_with_a_child_not_over_for_good() {
    let events = uses_step_retried_after(Some(AttemptEnd::Child {
        run_id: "C1".into(),
        outcome: Outcome::Failed,
        finished: false,
        reason: Some("step `x` failed".into()),
    }));
    assert_eq!(
        cortex::plan::child_plan(&state_of(&events), 0),
        cortex::plan::ChildPlan::Continue("C1".into())
    );
    assert!(given(events).when(start_child("C2")).is_err());
}

/// A run two steps into a rollback of `b` then `a` (newest first), nothing compensated yet.
fn rolling_back_two() -> (Workflow, Vec<Event>) {
    let wf = workflow(
        "name: t\nsteps:\n  - {name: a, run: 'true', rollback: undo-a}\n  - {name: b, run: 'true', rollback: undo-b}\n  - {name: c, run: 'false', on_failure: rollback}\n",
    );
    let events = vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        started_step("b", 1),
        succeeded("b", 1),
        Event::RollbackStarted {
            reason: "c failed".into(),
            steps: vec!["b".into(), "a".into()],
            resume_after: None,
        },
    ];
    (wf, events)
}

#[test]
fn an_abort_mid_rollback_records_the_compensation_it_cut_off_and_those_never_run() {
    let (_, events) = rolling_back_two();
    let then = given(events.clone())
        .when(Command::Abort {
            by: op(),
            cut_off: Some("b".into()),
        })
        .unwrap();
    assert_eq!(
        then[0],
        Event::RollbackFinished {
            failed: vec![],
            cut_off: Some("b".into()),
            not_run: vec!["a".into()],
        }
    );
    let Event::RunFinished {
        outcome: Outcome::Aborted,
        reason: Some(reason),
        ..
    } = &then[1]
    else {
        panic!("the abort ends the run: {then:?}");
    };
    assert!(
        reason.contains("left unfinished") && reason.contains("`b`") && reason.contains("`a`"),
        "{reason}"
    );
    // The fold keeps what was left: each step says what became of its compensation.
    let state = state_of(&[events, then].concat());
    let left = state.rollback_left.expect("the rollback left is kept");
    assert_eq!(left.cut_off.as_deref(), Some("b"));
    assert_eq!(left.not_run, vec!["a".to_string()]);
    assert_eq!(
        state.steps[1].compensation_left,
        Some(cortex::decide::CompensationLeft::CutOff)
    );
    assert_eq!(
        state.steps[0].compensation_left,
        Some(cortex::decide::CompensationLeft::NotRun)
    );
}

#[test]
fn an_abort_of_a_rollback_nobody_drives_records_every_compensation_left_as_not_run() {
    let (_, events) = rolling_back_two();
    let then = given(events)
        .when(Command::Abort {
            by: op(),
            cut_off: None,
        })
        .unwrap();
    assert_eq!(
        then[0],
        Event::RollbackFinished {
            failed: vec![],
            cut_off: None,
            not_run: vec!["b".into(), "a".into()],
        }
    );
}

#[test]
fn an_abort_outside_a_rollback_records_no_rollback_end() {
    let wf = workflow(THREE);
    let then = given(vec![started(&wf, Config::default()), pre_ok()])
        .when(Command::Abort {
            by: op(),
            cut_off: Some("a".into()),
        })
        .unwrap();
    assert!(
        !then
            .iter()
            .any(|e| matches!(e, Event::RollbackFinished { .. })),
        "{then:?}"
    );
}

/// A scenario run: `a`, then `b` and `c` in parallel after it, then `d` after both.
fn scenario_started(config: Config) -> Event {
    scenario_run(
        "name: s\ndescription: d\nphases:\n  - {name: a, description: d, run: 'true'}\n  - {name: b, description: d, condition: 'after:a', parallel: true, run: 'true'}\n  - {name: c, description: d, condition: 'after:a', parallel: true, run: 'true'}\n  - {name: d, description: d, condition: 'after:b,c', run: 'true'}\n",
        config,
    )
}

/// The `run_started` of a run of scenario `yaml` (named `s`) under `config`.
fn scenario_run(yaml: &str, config: Config) -> Event {
    let sc = cortex::definition::parse_scenario("s.yaml", yaml).expect("test scenario parses");
    let (definition, definition_hash) = snapshot(&sc);
    let Event::RunStarted(mut run) = started(&workflow(THREE), config) else {
        unreachable!()
    };
    run.kind = RunKind::Scenario;
    run.name = "s".into();
    run.definition = definition;
    run.definition_hash = definition_hash;
    Event::RunStarted(run)
}

#[test]
fn a_scenario_skip_refuses_when_no_phase_failed_or_waits_or_when_several_did() {
    // `b` and `c` were stopped mid-run: neither failed.
    let stopped = vec![
        scenario_started(Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        checkpoint("a"),
        started_step("b", 1),
        started_step("c", 1),
        Event::StepInterrupted {
            step: "b".into(),
            attempt: 1,
            reason: "stopped".into(),
        },
        Event::StepInterrupted {
            step: "c".into(),
            attempt: 1,
            reason: "stopped".into(),
        },
        Event::RunStopped { time_limit: None },
    ];
    let err = given(stopped)
        .when(resume_cmd(ResumeMode::Skip))
        .unwrap_err();
    assert!(matches!(err, DecideError::CannotSkip(_)), "{err}");
    // Both failed for good: which one to skip is not the first in the file's to guess.
    let fail = |step: &str| Event::StepFailed {
        step: step.into(),
        attempt: 1,
        end: AttemptEnd::Exited { code: 1 },
        error: "exited with code 1".into(),
        output_tail: String::new(),
        by: None,
    };
    let both = vec![
        scenario_started(Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        checkpoint("a"),
        started_step("b", 1),
        started_step("c", 1),
        fail("b"),
        fail("c"),
        Event::RunPaused {
            step: None,
            reason: "phases failed".into(),
        },
    ];
    let err = given(both.clone())
        .when(resume_cmd(ResumeMode::Skip))
        .unwrap_err();
    let DecideError::CannotSkip(why) = err else {
        panic!("{err}")
    };
    assert!(why.contains("`b`, `c`"), "{why}");
    // One failed: it is the one skipped.
    let one: Vec<Event> = both.iter().filter(|e| **e != fail("c")).cloned().collect();
    let then = given(one).when(resume_cmd(ResumeMode::Skip)).unwrap();
    assert!(
        then.iter()
            .any(|e| matches!(e, Event::StepSkipped { step, .. } if step == "b")),
        "{then:?}"
    );
}

/// A scenario's `--retry` runs its failed phases again with a fresh budget (the resume is
/// recorded with mode retry), and is refused when none failed (phases a stop ended did not).
#[test]
fn a_scenario_retry_refuses_when_no_phase_failed_and_retries_the_failed_ones() {
    let stopped = vec![
        scenario_started(Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        checkpoint("a"),
        started_step("b", 1),
        Event::StepInterrupted {
            step: "b".into(),
            attempt: 1,
            reason: "stopped".into(),
        },
        Event::RunStopped { time_limit: None },
    ];
    let err = given(stopped)
        .when(resume_cmd(ResumeMode::Retry))
        .unwrap_err();
    let DecideError::CannotRetry(why) = err else {
        panic!("{err}")
    };
    assert!(why.contains("`b` was stopped"), "{why}");
    let failed = vec![
        scenario_started(Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        checkpoint("a"),
        started_step("b", 1),
        started_step("c", 1),
        Event::StepFailed {
            step: "b".into(),
            attempt: 1,
            end: AttemptEnd::Exited { code: 1 },
            error: "exited with code 1".into(),
            output_tail: String::new(),
            by: None,
        },
        succeeded("c", 1),
        checkpoint("c"),
        Event::RunPaused {
            step: None,
            reason: "phases failed".into(),
        },
    ];
    let then = given(failed).when(resume_cmd(ResumeMode::Retry)).unwrap();
    assert!(
        then.iter().any(|e| matches!(
            e,
            Event::RunResumed { mode: ResumeMode::Retry, rerun, .. } if rerun.is_empty()
        )),
        "{then:?}"
    );
}

#[test]
fn a_scenario_with_checkpoints_off_runs_its_completed_phases_again_on_resume() {
    let config = Config {
        enable_checkpoints: false,
        ..Config::default()
    };
    let history = vec![
        scenario_started(config),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        started_step("b", 1),
        Event::RunStopped { time_limit: None },
    ];
    let then = given(history.clone())
        .when(resume_cmd(ResumeMode::Continue))
        .unwrap();
    let Some(Event::RunResumed { rerun, .. }) =
        then.iter().find(|e| matches!(e, Event::RunResumed { .. }))
    else {
        panic!("{then:?}")
    };
    assert_eq!(rerun, &vec!["a".to_string()]);
    let state = state_of(&[history, then].concat());
    assert_eq!(state.steps[0].status, cortex::decide::StepStatus::Pending);
}

/// A run whose driver was asked to stop or abort and died before it acted on the request:
/// the events up to the request, with step `b` in flight.
fn asked_then_driver_died(wf: &Workflow, abort: bool, message: Option<&str>) -> Vec<Event> {
    vec![
        started(wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
        succeeded("a", 1),
        checkpoint("a"),
        started_step("b", 1),
        Event::StopRequested {
            by: Operator {
                actor: "alice".into(),
                message: message.map(str::to_string),
            },
            signal: None,
            abort,
        },
    ]
}

fn resume_by(actor: &str) -> Command {
    let mut resume = resume_cmd(ResumeMode::Continue);
    if let Command::Resume { by, .. } = &mut resume {
        by.actor = actor.into();
    }
    resume
}

/// Given an abort asked of a driver that died before acting on it, when anyone resumes the
/// run (`resume`, a worker), then the resume is refused: the request is older and an abort
/// is final. Before, `run_resumed` cleared the request and the run completed.
#[test]
fn a_resume_is_refused_while_an_abort_its_driver_never_acted_on_is_pending() {
    let wf = workflow(THREE);
    let then = given(asked_then_driver_died(&wf, true, Some("stop this deploy")))
        .when(resume_by("bob"))
        .unwrap_err();
    assert!(
        matches!(&then, DecideError::RequestPending { abort: true, by } if by.actor == "alice"),
        "{then:?}"
    );
    let said = then.to_string();
    assert!(
        said.contains("abort by alice") && said.contains("stop this deploy"),
        "{said}"
    );
    // A pending stop is recorded first too (then an operator's resume goes on).
    let then = given(asked_then_driver_died(&wf, false, None))
        .when(resume_by("bob"))
        .unwrap_err();
    assert!(
        matches!(then, DecideError::RequestPending { abort: false, .. }),
        "{then:?}"
    );
}

/// Given an abort asked of a driver that died before acting on it, when the process taking
/// the run over takes the request up, then the run ends aborted by its requester, the
/// attempt the dead driver had in flight ended as an abort ends it.
#[test]
fn taking_up_a_pending_abort_ends_the_run_aborted_by_its_requester() {
    let wf = workflow(THREE);
    let then = given(asked_then_driver_died(&wf, true, Some("stop this deploy")))
        .when(Command::TakeUpRequest)
        .unwrap();
    assert!(
        matches!(&then[0], Event::StepInterrupted { step, attempt: 1, reason } if step == "b" && reason == "aborted"),
        "{then:?}"
    );
    match then.last() {
        Some(Event::RunFinished {
            outcome: Outcome::Aborted,
            by: Some(by),
            reason: Some(reason),
        }) => {
            assert_eq!(by.actor, "alice");
            assert_eq!(reason, "aborted by alice: stop this deploy");
        }
        other => panic!("{other:?}"),
    }
}

/// Given a stop asked of a driver that died before acting on it, when the process taking the
/// run over takes the request up, then the run is stopped (its attempt in flight ended), and
/// an operator's resume after it is decided on the stopped run: recorded as the stop, then
/// the resume.
#[test]
fn taking_up_a_pending_stop_stops_the_run_and_a_resume_then_goes_on() {
    let wf = workflow(THREE);
    let mut events = asked_then_driver_died(&wf, false, Some("hold everything"));
    let then = given(events.clone()).when(Command::TakeUpRequest).unwrap();
    assert!(
        matches!(&then[..], [Event::StepInterrupted { step, .. }, Event::RunStopped { time_limit: None }] if step == "b"),
        "{then:?}"
    );
    events.extend(then);
    let state = state_of(&events);
    assert_eq!(state.phase, RunPhase::Stopped);
    assert_eq!(
        state.stopped_by.as_ref().map(|(by, _)| by.actor.as_str()),
        Some("alice")
    );
    let resumed = given(events).when(resume_by("bob")).unwrap();
    assert!(
        matches!(resumed.first(), Some(Event::RunResumed { .. })),
        "{resumed:?}"
    );
    // Nothing pending: nothing to take up.
    let wf2 = workflow(THREE);
    let none = given(vec![started(&wf2, Config::default()), pre_ok()])
        .when(Command::TakeUpRequest)
        .unwrap();
    assert_eq!(none, vec![]);
}

/// Given an abort asked for and never acted on, when a stop or a second abort is recorded
/// (its driver dead), then the pending abort is what is recorded: a stop never undoes it,
/// and a second abort records the first requester's.
#[test]
fn a_pending_abort_is_recorded_by_a_later_stop_or_abort_with_its_own_requester() {
    let wf = workflow(THREE);
    for command in [
        Command::Stop {
            by: op(),
            signal: None,
        },
        Command::Abort {
            by: op(),
            cut_off: None,
        },
    ] {
        let then = given(asked_then_driver_died(&wf, true, None))
            .when(command)
            .unwrap();
        assert!(
            matches!(then.last(), Some(Event::RunFinished { outcome: Outcome::Aborted, by: Some(by), .. }) if by.actor == "alice"),
            "{then:?}"
        );
    }
}

/// How Claude Code runs is the configuration's in force at resume: a resume given another
/// `agents.claude` block records it in `run_resumed.claude` (event version 8), the fold runs
/// Claude Code so from then on (`RunState::claude_setup`: which agents, and as what, as at
/// `run`), and a resume given the block in force records nothing of it. A run without Claude
/// Code records nothing either.
#[test]
fn a_resume_records_the_claude_code_settings_in_force_where_they_changed() {
    use cortex::definition::{ClaudeAgent, ClaudeConfig, ClaudeSetup, PermissionMode};
    let wf = workflow(THREE);
    let Event::RunStarted(mut start) = started(&wf, Config::default()) else {
        unreachable!()
    };
    start.claude = Some(ClaudeSetup {
        program: "/bin/bad".into(),
        permission_mode: None,
        model: None,
        args: vec![],
        runs: ["impl".to_string()].into(),
        agents: [(
            "impl".to_string(),
            ClaudeAgent {
                description: "implementer".into(),
                prompt: "You implement.".into(),
                tools: vec![],
                model: Some("sonnet".into()),
            },
        )]
        .into(),
    });
    let past = vec![
        Event::RunStarted(start.clone()),
        pre_ok(),
        started_step("a", 1),
        Event::StepFailed {
            step: "a".into(),
            attempt: 1,
            end: AttemptEnd::Exited { code: 2 },
            error: "exited with code 2".into(),
            output_tail: String::new(),
            by: None,
        },
        Event::RunPaused {
            step: Some("a".into()),
            reason: "step `a` failed".into(),
        },
    ];
    let good = ClaudeConfig {
        program: "/bin/good".into(),
        permission_mode: Some(PermissionMode::Plan),
        model: None,
        args: vec![],
    };
    let with = |claude: Option<ClaudeConfig>| match resume_cmd(ResumeMode::Retry) {
        Command::Resume {
            mode,
            by,
            driver,
            timeout_seconds,
            enable_rollback,
            leave_claimed,
            lease_lapsed,
            ..
        } => Command::Resume {
            mode,
            by,
            driver,
            timeout_seconds,
            enable_rollback,
            claude,
            leave_claimed,
            lease_lapsed,
        },
        _ => unreachable!(),
    };
    let then = given(past.clone()).when(with(Some(good.clone()))).unwrap();
    let Event::RunResumed { claude, .. } = &then[0] else {
        panic!("{then:?}")
    };
    assert_eq!(claude.as_ref(), Some(&good));
    assert_eq!(then[0].version(), 8);
    let mut history = past.clone();
    history.push(then[0].clone());
    let state = state_of(&history);
    let setup = state.claude_setup().unwrap();
    assert_eq!(setup.program, "/bin/good");
    assert_eq!(setup.permission_mode, Some(PermissionMode::Plan));
    assert_eq!(
        setup.model_for("impl"),
        Some("sonnet"),
        "the agent as at `run`"
    );
    assert!(setup.runs.contains("impl"));

    // The block in force (at `run`, or as a resume set it) is not recorded again.
    let same = given(past.clone())
        .when(with(Some(start.claude.as_ref().unwrap().settings())))
        .unwrap();
    assert!(
        matches!(&same[0], Event::RunResumed { claude: None, .. }),
        "{same:?}"
    );
    assert!(same[0].version() < 8, "{same:?}");

    // A run without Claude Code records none.
    let mut plain = past;
    plain[0] = started(&wf, Config::default());
    let none = given(plain).when(with(Some(good))).unwrap();
    assert!(
        matches!(&none[0], Event::RunResumed { claude: None, .. }),
        "{none:?}"
    );
}

/// A run its time limit cut is recorded stopped (`run_stopped.time_limit`), not paused as
/// failed; and the log of an older cortex, which paused it with the limit's reason, folds to
/// the same state (a stop by the limit, resumable with a plain resume), its bytes unchanged.
#[test]
fn a_time_limit_cut_is_a_stop_and_an_older_logs_pause_for_it_folds_the_same() {
    let wf = workflow(THREE);
    let history = vec![
        started(&wf, Config::default()),
        pre_ok(),
        started_step("a", 1),
    ];
    let reason = cortex::decide::time_limit_reason(2, false);
    let then = given(history.clone())
        .when(Command::StopAtTimeLimit {
            reason: reason.clone(),
        })
        .unwrap();
    assert!(
        matches!(&then[..], [Event::StepInterrupted { step, .. }, Event::RunStopped { time_limit: Some(w) }] if step == "a" && *w == reason),
        "{then:?}"
    );
    let now = state_of(&[history.clone(), then.clone()].concat());
    let legacy = state_of(
        &[
            history,
            vec![
                then[0].clone(),
                Event::RunPaused {
                    step: None,
                    reason: reason.clone(),
                },
            ],
        ]
        .concat(),
    );
    for state in [&now, &legacy] {
        assert_eq!(state.phase, RunPhase::Stopped);
        assert!(state.timed_out());
        assert_eq!(state.stopped_by_limit.as_deref(), Some(reason.as_str()));
    }
    // Another pause (a fault of the home) stays a pause.
    let other = state_of(&[
        started(&wf, Config::default()),
        Event::RunPaused {
            step: None,
            reason: "cortex hit a problem with its own files in its home: x".into(),
        },
    ]);
    assert!(matches!(other.phase, RunPhase::Paused { .. }));
    assert!(!other.timed_out());
}

/// One session's way to its ends, as the log records it: each event with the status it ends
/// the session with for its notifications (`None`: no end — an operator's stop pages nobody).
fn session_ends_script(kind: usize) -> Vec<(Event, Option<&'static str>)> {
    let paused = || Event::RunPaused {
        step: Some("c".into()),
        reason: "boom".into(),
    };
    let limit = || Event::RunStopped {
        time_limit: Some(cortex::decide::time_limit_reason(2, false)),
    };
    let finished = |outcome| Event::RunFinished {
        outcome,
        by: None,
        reason: None,
    };
    let aborted = || (finished(Outcome::Aborted), Some("aborted"));
    match kind {
        0 => vec![(finished(Outcome::Completed), Some("completed"))],
        1 => vec![(paused(), Some("failed"))],
        2 => vec![(paused(), Some("failed")), aborted()],
        3 => vec![(limit(), Some("stopped"))],
        4 => vec![(limit(), Some("stopped")), aborted()],
        // An older cortex paused a run its limit cut: folded as the stop it was.
        5 => vec![
            (
                Event::RunPaused {
                    step: None,
                    reason: cortex::decide::time_limit_reason(2, false),
                },
                Some("stopped"),
            ),
            aborted(),
        ],
        6 => vec![
            (
                Event::StopRequested {
                    by: op(),
                    signal: None,
                    abort: false,
                },
                None,
            ),
            (Event::RunStopped { time_limit: None }, None),
            aborted(),
        ],
        7 => vec![(finished(Outcome::Failed), Some("failed"))],
        _ => vec![(finished(Outcome::RolledBack), Some("rolled_back"))],
    }
}

proptest::proptest! {
    /// Seen by a review (n N2): a run its time limit stopped, its `on_failure` still owed, then
    /// aborted, sent that page `aborted` with the aborted run's document, never `stopped`.
    /// Over every kind of end a session comes to (completed, a pause on a failure, a stop by
    /// the time limit, an abort after either or after an operator's stop, a seal failed or
    /// rolled back), folded from the events that record them after an earlier session:
    /// each notification owed is owed for the end that made it due — its status, and the
    /// sequence number of its own event, whose document it carries — and one recorded for
    /// its end (or, for `on_finish`, a later end of the session) is owed no more.
    #[test]
    fn each_owed_notification_carries_the_end_that_made_it_due(
        earlier in 0usize..9,
        kind in 0usize..9,
        on_failure in 0usize..3,
        on_finish in 0usize..3,
        recorded in proptest::collection::vec(proptest::bool::ANY, 12),
    ) {
        use cortex::plan::{Notified, Trigger, ends_of, notifications_due};
        let wf = workflow(THREE);
        let mut events = vec![started(&wf, Config::default()), pre_ok(), started_step("a", 1)];
        // An earlier session, come to an end a resume goes on from (or a seal, which it
        // would not: its own ends are what is checked then, from its start).
        let earlier_events = session_ends_script(earlier);
        let resumable = matches!(earlier, 1 | 3);
        let mut session = 0u64;
        if resumable {
            events.extend(earlier_events.into_iter().map(|(e, _)| e));
            session = events.len() as u64;
            events.push(Event::RunResumed {
                mode: ResumeMode::Continue,
                restart_from: None,
                driver: Driver { pid: 2, host: "h".into() },
                by: op(),
                timeout_seconds: None,
                enable_rollback: None,
                claude: None,
                rerun: vec![],
            });
            events.push(started_step("a", 2));
        }
        let mut ends: Vec<(&str, u64)> = Vec::new();
        for (event, end) in session_ends_script(kind) {
            if let Some(status) = end {
                ends.push((status, events.len() as u64));
            }
            events.push(event);
        }
        let state = state_of(&events);
        let found: Vec<(&str, u64)> = ends_of(&state).iter().map(|e| (e.status, e.seq)).collect();
        proptest::prop_assert_eq!(&found, &ends);
        // What each end owes: `on_failure` at the session's first end that is a failure,
        // `on_finish` at each end but a stop by the time limit (the run did not end).
        let failing = ends.iter().position(|(s, _)| *s != "completed");
        let mut owed: Vec<(usize, Trigger, usize)> = Vec::new();
        for (k, (status, _)) in ends.iter().enumerate() {
            if failing == Some(k) {
                owed.extend((0..on_failure).map(|i| (k, Trigger::OnFailure, i)));
            }
            if *status != "stopped" {
                owed.extend((0..on_finish).map(|i| (k, Trigger::OnFinish, i)));
            }
        }
        let mut notified = Vec::new();
        let mut done = Vec::new();
        for (n, &(k, trigger, index)) in owed.iter().enumerate() {
            if recorded[n % recorded.len()] {
                notified.push(Notified {
                    trigger,
                    status: Some(ends[k].0.to_string()),
                    session: Some(session),
                    index: Some(index),
                });
                done.push((k, trigger, index));
            }
            // Records of the earlier session, for the same end: nothing of this one.
            notified.push(Notified {
                trigger,
                status: Some(ends[k].0.to_string()),
                session: Some(session.wrapping_add(1000)),
                index: Some(index),
            });
        }
        let expected: Vec<(&str, u64, Trigger, usize)> = owed
            .iter()
            .filter(|&&(k, trigger, index)| {
                !done.iter().any(|&(d, t, i)| {
                    t == trigger && i == index && (d == k || (trigger == Trigger::OnFinish && d > k))
                })
            })
            .map(|&(k, trigger, index)| (ends[k].0, ends[k].1, trigger, index))
            .collect();
        let due: Vec<(&str, u64, Trigger, usize)> = notifications_due(
            &ends_of(&state),
            state.session_seq,
            on_failure,
            on_finish,
            &notified,
        )
        .into_iter()
        .flat_map(|d| d.due.into_iter().map(move |(t, i)| (d.end.status, d.end.seq, t, i)))
        .collect();
        proptest::prop_assert_eq!(state.session_seq, session);
        proptest::prop_assert_eq!(due, expected);
    }
}
/// A scenario whose phases have agents: `a` runs a command with no retry (agents `x`, `y`),
/// `w` is manual and waits for a report (agent `z`), `r` runs with one retry (agent `q`).
fn agents_scenario_started() -> Event {
    scenario_run(
        "name: s\ndescription: d\nphases:\n  - {name: a, description: d, agents: [x, y], run: 'true', retry: {max_retry_attempts: 0}}\n  - {name: w, description: d, agents: [z], condition: manual}\n  - {name: r, description: d, agents: [q], parallel: true, run: 'true', retry: {max_retry_attempts: 1}}\n",
        Config::default(),
    )
}

fn activated(agent: &str, phase: &str) -> Event {
    Event::AgentActivated {
        agent: agent.into(),
        phase: phase.into(),
        by: None,
    }
}

fn deactivated(agent: &str, phase: &str) -> Event {
    Event::AgentDeactivated {
        agent: agent.into(),
        phase: phase.into(),
        by: None,
    }
}

/// Whether `then` holds `part` in a row.
fn in_a_row(then: &[Event], part: &[Event]) -> bool {
    then.windows(part.len()).any(|w| w == part)
}

/// Every way a phase ends records the deactivation of its agents, right after the event that
/// ends it (completed, failed for good, skipped by `resume --skip` while it waits, interrupted
/// by a stop, a time limit, an abort or a pause), and a phase due for a retry keeps its agents
/// until the run ends (an abort, a rollback that ends the run): one rule in the decider, where
/// each way of ending a phase once did it itself, and `resume --skip` of a waiting phase did
/// not (review m, finding 1).
#[test]
fn every_way_a_phase_ends_deactivates_its_agents() {
    let a_running = vec![
        agents_scenario_started(),
        pre_ok(),
        started_step("a", 1),
        activated("x", "a"),
        activated("y", "a"),
    ];
    let a_off = [deactivated("x", "a"), deactivated("y", "a")];
    let after = |first: Event| {
        let mut v = vec![first];
        v.extend(a_off.iter().cloned());
        v
    };
    let interrupted = |reason: &str| Event::StepInterrupted {
        step: "a".into(),
        attempt: 1,
        reason: reason.into(),
    };
    // Completed, and failed for good (no retry left: the run pauses).
    let then = given(a_running.clone()).when(finish("a", 1, 0)).unwrap();
    assert!(in_a_row(&then, &after(succeeded("a", 1))), "{then:?}");
    let then = given(a_running.clone()).when(finish("a", 1, 1)).unwrap();
    assert!(in_a_row(&then, &after(failed("a", 1))), "{then:?}");
    // Stopped, stopped at the time limit, paused, interrupted, aborted.
    for (command, reason) in [
        (
            Command::Stop {
                by: op(),
                signal: None,
            },
            "stopped before it finished",
        ),
        (
            Command::StopAtTimeLimit {
                reason: "the time limit".into(),
            },
            "the time limit",
        ),
        (
            Command::Pause {
                reason: "paused".into(),
            },
            "paused",
        ),
        (
            Command::InterruptAttempt {
                step: "a".into(),
                attempt: 1,
                reason: "cut".into(),
            },
            "cut",
        ),
        (
            Command::Abort {
                by: op(),
                cut_off: None,
            },
            "aborted",
        ),
    ] {
        let then = given(a_running.clone()).when(command).unwrap();
        assert!(in_a_row(&then, &after(interrupted(reason))), "{then:?}");
    }
    // Skipped while it waits for a report (the one waiting phase), the run then completes.
    let mut w_waiting = a_running.clone();
    w_waiting.extend([succeeded("a", 1)]);
    w_waiting.extend(a_off.iter().cloned());
    w_waiting.extend([
        checkpoint("a"),
        Event::PhaseStartRequested {
            phase: "w".into(),
            by: op(),
        },
        Event::StepWaiting {
            step: "w".into(),
            attempt: 1,
        },
        activated("z", "w"),
        started_step("r", 1),
        activated("q", "r"),
        succeeded("r", 1),
        deactivated("q", "r"),
        checkpoint("r"),
    ]);
    let then = given(w_waiting.clone())
        .when(resume_cmd(ResumeMode::Skip))
        .unwrap();
    let skipped = Event::StepSkipped {
        step: "w".into(),
        reason: "skipped by an operator (resume --skip)".into(),
        by: Some(op()),
    };
    assert!(
        in_a_row(&then, &[skipped, deactivated("z", "w")]),
        "{then:?}"
    );
    assert!(
        matches!(
            then.last(),
            Some(Event::RunFinished {
                outcome: Outcome::Completed,
                ..
            })
        ),
        "{then:?}"
    );
    // A failure a retry follows keeps the agents for the retry; an abort then ends them
    // before the run's end.
    let r_running = vec![
        agents_scenario_started(),
        pre_ok(),
        started_step("r", 1),
        activated("q", "r"),
    ];
    let then = given(r_running.clone()).when(finish("r", 1, 1)).unwrap();
    assert!(
        !then
            .iter()
            .any(|e| matches!(e, Event::AgentDeactivated { .. })),
        "{then:?}"
    );
    let mut r_due = r_running;
    r_due.extend(then);
    let then = given(r_due)
        .when(Command::Abort {
            by: op(),
            cut_off: None,
        })
        .unwrap();
    assert!(
        matches!(then.as_slice(), [Event::AgentDeactivated { agent, .. }, Event::RunFinished { outcome: Outcome::Aborted, .. }] if agent == "q"),
        "{then:?}"
    );
    // A rollback that ends the run rolled back ends the agents of a phase still waiting.
    let mut rolling = w_waiting;
    rolling.push(Event::RollbackStarted {
        reason: "rollback".into(),
        steps: vec!["a".into()],
        resume_after: None,
    });
    let then = given(rolling)
        .when(Command::RecordCompensation {
            step: "a".into(),
            end: Some(AttemptEnd::Exited { code: 0 }),
            output_tail: String::new(),
        })
        .unwrap();
    assert!(
        matches!(then.as_slice(), [.., Event::AgentDeactivated { agent, .. }, Event::RunFinished { outcome: Outcome::RolledBack, .. }] if agent == "z"),
        "{then:?}"
    );
}
