//! Property checks shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and the corpus replay
//! test (`tests/fuzz_corpus.rs`). Each `check_*` takes arbitrary bytes and panics when a
//! property is violated; "does not panic" alone is never the whole check.
//!
//! Only std, `cortex`, `serde_json` and `serde_yaml` may be used here: the same file is compiled
//! into the main package's tests, which cannot see the fuzz workspace's dependencies.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Debug;

use cortex::definition::template::{Reference, render_shell, render_text, scan, unescape};
use cortex::definition::{
    self, AgentRunner, Config, ConfigFile, DefinitionError, Seg, Workflow, parse_agent,
    parse_config_file, parse_workflow,
};
use cortex::event::{
    AgentResult, AttemptEnd, Driver, Event, NewEvent, Operator, Outcome, Recorded, ResumeMode,
    RunKind, RunStarted, Stage,
};
use cortex::store::{EventStore, MemoryStore, RawRow, export_line, read_line, verify_rows};

/// A check: panics when a property of the input does not hold.
pub type Check = fn(&[u8]);

/// Every target: its name (the directory under `fuzz/corpus/`) and its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("workflow", check_workflow),
    ("scenario", check_scenario),
    ("config", check_config),
    ("agent", check_agent),
    ("log_rows", check_log_rows),
    ("export_jsonl", check_export_jsonl),
    ("template", check_template),
    ("name", check_name_rule),
    ("duration", check_duration),
    ("cron", check_cron),
    ("if_expr", check_if_expr),
];

/// Equal by `PartialEq`, or by `Debug` text (which is exact for floats and treats two NaNs as
/// the same value, unlike `==`). (A macro so that no `serde::Serialize` bound has to be named:
/// only std, cortex, serde_json and serde_yaml are available to this file.)
macro_rules! assert_same {
    ($original:expr, $back:expr, $what:expr, $text:expr) => {{
        let (original, back) = ($original, $back);
        same_or_panic(original, back, $what, $text)
    }};
}

fn same_or_panic<T: PartialEq + Debug>(original: &T, back: &T, what: &str, text: &str) {
    if original != back && format!("{original:?}") != format!("{back:?}") {
        panic!(
            "{what} round trip changed the value\n--- serialised ---\n{text}\n--- original ---\n{original:#?}\n--- parsed back ---\n{back:#?}"
        );
    }
}

/// A definition error must say what is wrong: at least one problem, none with an empty message.
fn assert_clear(e: &DefinitionError) {
    assert!(
        !e.problems.is_empty(),
        "a definition error with no problems: {e:?}"
    );
    for p in &e.problems {
        assert!(
            !p.message.trim().is_empty(),
            "a problem with an empty message: {e:?}"
        );
        if let Some(at) = p.at {
            assert!(at.line >= 1 && at.column >= 1, "a 0-based location: {e:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// workflow

/// Scenarios: YAML and JSON round trips give an equal scenario; an error is clear; a valid
/// scenario keeps the name rule and the documented ranges; validation and planning never
/// panic, and when there is no cycle the dependency order puts every phase after its
/// dependencies.
pub fn check_scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match cortex::definition::parse_scenario("fuzz.yaml", text) {
        Ok(sc) => {
            let yaml = serde_yaml::to_string(&sc).expect("a parsed scenario serialises to YAML");
            let back =
                cortex::definition::parse_scenario("roundtrip.yaml", &yaml).unwrap_or_else(|e| {
                    panic!("the YAML of a parsed scenario does not parse: {e}\n{yaml}")
                });
            assert_same!(&sc, &back, "YAML", &yaml);
            let json = serde_json::to_string(&sc).expect("a parsed scenario serialises to JSON");
            let back: cortex::definition::Scenario =
                serde_json::from_str(&json).unwrap_or_else(|e| {
                    panic!("the JSON of a parsed scenario does not parse: {e}\n{json}")
                });
            assert_same!(&sc, &back, "JSON", &json);
            match cortex::validate::validate_scenario(
                "fuzz.yaml",
                text,
                &sc,
                None,
                &Default::default(),
            ) {
                Err(e) => assert_clear(&e),
                // What validates keeps the name rule and the documented ranges.
                Ok(()) => {
                    use cortex::definition::{NameKind, check_name, limits};
                    assert!(
                        check_name(NameKind::Scenario, &sc.name).is_ok(),
                        "{:?}",
                        sc.name
                    );
                    assert!(
                        sc.max_parallel
                            .is_none_or(|n| (1..=limits::MAX_PARALLEL).contains(&n))
                    );
                    for p in &sc.phases {
                        assert!(check_name(NameKind::Phase, &p.name).is_ok(), "{:?}", p.name);
                        if let Some(t) = &p.timeout {
                            assert!(limits::STEP_TIMEOUT.check(t).is_ok(), "{t:?}");
                        }
                    }
                }
            }
            let deps = cortex::plan::dependencies(&sc);
            let order = cortex::plan::topological_order(&sc);
            assert_eq!(order.len(), sc.phases.len(), "every phase is ordered once");
            if cortex::plan::find_cycle(&deps).is_none() {
                for (pos, &i) in order.iter().enumerate() {
                    for d in &deps[i] {
                        assert!(
                            order[..pos].contains(d) || *d == i,
                            "phase {i} is ordered before its dependency {d}"
                        );
                    }
                }
            }
            // What preview says runs at once keeps the scheduler's rule: at most `limit`
            // phases, at most one of them `parallel: false`.
            for limit in [1, 4] {
                for set in cortex::plan::parallel_opportunities(&sc, limit)
                    .into_iter()
                    .flatten()
                {
                    assert!(
                        set.len() >= 2 && set.len() <= limit,
                        "{set:?} under {limit}"
                    );
                    let exclusive = set
                        .iter()
                        .filter(|n| sc.phases.iter().any(|p| &p.name == *n && !p.parallel))
                        .count();
                    assert!(exclusive <= 1, "{set:?} runs non-parallel phases together");
                }
            }
        }
        Err(e) => assert_clear(&e),
    }
}

/// `parse_workflow`: a parsed workflow survives YAML and JSON round trips; an error is clear;
/// a valid workflow keeps the name rule and the documented ranges; `locate` never panics.
pub fn check_workflow(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let paths: [&[Seg]; 4] = [
        &[],
        &[Seg::Key("name".into())],
        &[
            Seg::Key("steps".into()),
            Seg::Index(0),
            Seg::Key("run".into()),
        ],
        &[
            Seg::Key("inputs".into()),
            Seg::Key("version".into()),
            Seg::Index(1),
        ],
    ];
    for path in paths {
        if let Some(at) = definition::locate(text, path) {
            assert!(
                at.line >= 1 && at.column >= 1,
                "locate gave {at:?} for {path:?}"
            );
        }
    }
    match parse_workflow("fuzz.yaml", text) {
        Ok(wf) => {
            let yaml = serde_yaml::to_string(&wf).expect("a parsed workflow serialises to YAML");
            let back = parse_workflow("roundtrip.yaml", &yaml).unwrap_or_else(|e| {
                panic!("the YAML of a parsed workflow does not parse: {e}\n--- yaml ---\n{yaml}")
            });
            assert_same!(&wf, &back, "YAML", &yaml);

            let json = serde_json::to_string(&wf).expect("a parsed workflow serialises to JSON");
            let back: Workflow = serde_json::from_str(&json).unwrap_or_else(|e| {
                panic!("the JSON of a parsed workflow does not parse: {e}\n--- json ---\n{json}")
            });
            assert_same!(&wf, &back, "JSON", &json);

            // What validates keeps the name rule and the documented ranges.
            let known = cortex::validate::Known {
                config: &Config::default(),
                agents: &Default::default(),
                broken_agents: &Default::default(),
                uses: None,
            };
            match cortex::validate::validate_workflow("fuzz.yaml", text, &wf, &known) {
                Ok(()) => assert_within_rules(&wf),
                Err(e) => assert_clear(&e),
            }
        }
        // A definition that does not parse says where (SPEC §7): a second document, a NUL
        // byte or aliases that expand too far were said with no place.
        Err(e) => {
            assert_clear(&e);
            assert!(
                e.problems.iter().all(|p| p.at.is_some()),
                "a parse error without a place: {e:?}"
            );
        }
    }
}

/// A valid workflow's names pass the name rule and its durations and counts are in range.
fn assert_within_rules(wf: &Workflow) {
    use cortex::definition::NameKind;
    use cortex::definition::limits::{MAX_RETRY_ATTEMPTS, RETRY_BACKOFF, STEP_TIMEOUT};
    let rule = |kind, name: &str| {
        assert!(
            definition::check_name(kind, name).is_ok(),
            "a valid workflow has the {kind:?} name {name:?}"
        )
    };
    rule(NameKind::Workflow, &wf.name);
    for input in wf.inputs.keys() {
        rule(NameKind::Input, input);
    }
    for step in &wf.steps {
        rule(NameKind::Step, &step.name);
        if let Some(t) = &step.timeout {
            assert!(STEP_TIMEOUT.check(t).is_ok(), "{t:?}");
        }
        if let Some(r) = &step.retry {
            if let Some(b) = &r.backoff {
                assert!(RETRY_BACKOFF.check(b).is_ok(), "{b:?}");
            }
            assert!(r.max_retry_attempts.is_none_or(|n| n <= MAX_RETRY_ATTEMPTS));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// config

/// `parse_config_file`: a parsed configuration is inside every documented range and survives a
/// JSON round trip (the `agents` block too); an error is clear.
pub fn check_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_config_file("cortex.config.json", text) {
        Ok(file) => {
            use cortex::definition::limits;
            let config = &file.workflow;
            assert!(
                config.timeout_seconds <= limits::MAX_RUN_TIMEOUT_SECONDS,
                "{config:?}"
            );
            assert!(
                config.max_retry_attempts <= limits::MAX_RETRY_ATTEMPTS,
                "{config:?}"
            );
            assert!(
                (1..=limits::MAX_PARALLEL).contains(&config.max_parallel),
                "{config:?}"
            );
            let file = ConfigFile {
                schema: None,
                ..file
            };
            for json in [
                serde_json::to_string(&file).expect("a configuration serialises"),
                serde_json::to_string_pretty(&file).expect("a configuration serialises"),
            ] {
                let back: ConfigFile = serde_json::from_str(&json).unwrap_or_else(|e| {
                    panic!("the JSON of a parsed configuration does not parse: {e}\n{json}")
                });
                assert_same!(&file, &back, "config JSON", &json);
                let again = parse_config_file("roundtrip.json", &json).unwrap_or_else(|e| {
                    panic!("parse_config_file refuses its own output: {e}\n{json}")
                });
                assert_same!(&file, &again, "parse_config_file", &json);
            }
        }
        Err(e) => assert_clear(&e),
    }
}

// ---------------------------------------------------------------------------------------------
// agent

/// `parse_agent`: an accepted agent's name keeps the name rule; re-rendering the front matter
/// and the body gives back the same agent and body.
pub fn check_agent(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_agent("agent.md", text) {
        Ok((agent, body)) => {
            assert!(
                definition::check_name(definition::NameKind::Agent, &agent.name).is_ok(),
                "an accepted agent's name {:?} breaks the name rule",
                agent.name
            );
            let yaml = serde_yaml::to_string(&agent).expect("a parsed agent serialises to YAML");
            let rendered = format!("---\n{yaml}---\n{body}");
            let (back, back_body) = parse_agent("roundtrip.md", &rendered).unwrap_or_else(|e| {
                panic!("a re-rendered agent file does not parse: {e}\n--- file ---\n{rendered}")
            });
            assert_same!(&agent, &back, "agent front matter", &rendered);
            assert_eq!(
                body, back_body,
                "agent body changed\n--- file ---\n{rendered}"
            );
        }
        Err(e) => assert_clear(&e),
    }
}

// ---------------------------------------------------------------------------------------------
// A deterministic reader of fuzz input, for targets that build structures from bytes.

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        let v = u16::from_le_bytes([self.byte(), self.byte()]) as usize;
        v % n
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head.to_vec()
    }

    /// A length-prefixed byte string of up to `max` bytes.
    fn field(&mut self, max: usize) -> Vec<u8> {
        let n = self.byte() as usize % (max + 1);
        self.take(n)
    }

    fn text(&mut self, max: usize) -> String {
        String::from_utf8_lossy(&self.field(max)).into_owned()
    }

    fn i64(&mut self) -> i64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.byte();
        }
        i64::from_le_bytes(b)
    }

    fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    fn opt_text(&mut self, max: usize) -> Option<String> {
        self.bool().then(|| self.text(max))
    }

    fn operator(&mut self) -> Operator {
        Operator {
            actor: self.text(12),
            message: self.opt_text(24),
        }
    }

    fn end(&mut self) -> AttemptEnd {
        let b = self.byte();
        if b == u8::MAX {
            return AttemptEnd::AgentFailed {
                error: self.text(24),
            };
        }
        match b % 5 {
            0 => AttemptEnd::Exited {
                code: self.i64() as i32,
            },
            1 => AttemptEnd::Signaled {
                signal: self.byte() as i32,
            },
            2 => AttemptEnd::TimedOut {
                timeout_ms: self.i64() as u64,
            },
            3 => AttemptEnd::SpawnFailed {
                error: self.text(24),
            },
            _ => AttemptEnd::Reported {
                success: self.bool(),
            },
        }
    }

    fn json_value(&mut self, depth: u32) -> serde_json::Value {
        use serde_json::Value;
        match self.byte() % if depth == 0 { 5 } else { 7 } {
            0 => Value::Null,
            1 => Value::Bool(self.bool()),
            2 => Value::from(self.i64()),
            3 => serde_json::Number::from_f64(f64::from_bits(self.i64() as u64))
                .map_or(Value::Null, Value::Number),
            4 => Value::String(self.text(16)),
            5 => Value::Array(
                (0..self.byte() % 4)
                    .map(|_| self.json_value(depth - 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..self.byte() % 4)
                    .map(|_| (self.text(8), self.json_value(depth - 1)))
                    .collect(),
            ),
        }
    }

    /// Any event, with fields taken from the input.
    fn event(&mut self) -> Event {
        let step = |b: &mut Self| b.text(12);
        let b = self.byte();
        if b == u8::MAX {
            return Event::AgentResult(Box::new(AgentResult {
                step: step(self),
                attempt: self.byte() as u32,
                agent: self.text(8),
                runner: AgentRunner::Claude,
                is_error: self.bool(),
                subtype: self.text(12),
                result: self.text(32),
                errors: (0..self.byte() % 3).map(|_| self.text(16)).collect(),
                session_id: self.text(16),
                total_cost_usd: self
                    .bool()
                    .then(|| f64::from_bits(self.i64() as u64))
                    .filter(|c| c.is_finite()),
                num_turns: self.bool().then(|| self.i64() as u32),
                duration_ms: self.bool().then(|| self.i64() as u64),
                duration_api_ms: self.bool().then(|| self.i64() as u64),
            }));
        }
        match b % 22 {
            0 => {
                let definition = self.json_value(3);
                let (_, definition_hash) = definition::snapshot(&definition);
                Event::RunStarted(Box::new(RunStarted {
                    kind: RunKind::Workflow,
                    name: self.text(16),
                    definition,
                    definition_hash,
                    source: self.text(16),
                    inputs: (0..self.byte() % 3)
                        .map(|_| (self.text(8), self.json_value(1)))
                        .collect(),
                    secret_inputs: Vec::new(),
                    secret_defaults: Vec::new(),
                    config: Config::default(),
                    agents: (0..self.byte() % 3)
                        .map(|_| (self.text(8), self.opt_text(12)))
                        .collect::<BTreeMap<_, _>>(),
                    claude: None,
                    parent: None,
                    uses: Default::default(),
                    working_dir: self.text(16),
                    driver: Driver {
                        pid: self.i64() as u32,
                        host: self.text(8),
                    },
                    by: self.operator(),
                }))
            }
            1 => Event::ValidationPassed {
                stage: self.stage(),
                step: self.opt_text(12),
            },
            2 => Event::ValidationFailed {
                stage: self.stage(),
                step: self.opt_text(12),
                problems: (0..self.byte() % 3).map(|_| self.text(16)).collect(),
            },
            3 => Event::StepStarted {
                step: step(self),
                attempt: self.byte() as u32,
            },
            4 => Event::StepWaiting {
                step: step(self),
                attempt: self.byte() as u32,
            },
            5 => Event::OutputRecorded {
                step: step(self),
                key: self.text(8),
                value: self.text(32),
            },
            6 => Event::StepSucceeded {
                step: step(self),
                attempt: self.byte() as u32,
                end: self.end(),
                output_tail: self.text(32),
                by: self.bool().then(|| self.operator()),
            },
            7 => Event::StepFailed {
                step: step(self),
                attempt: self.byte() as u32,
                end: self.end(),
                error: self.text(16),
                output_tail: self.text(32),
                by: self.bool().then(|| self.operator()),
            },
            8 => Event::StepTimedOut {
                step: step(self),
                attempt: self.byte() as u32,
                timeout_ms: self.i64() as u64,
                output_tail: self.text(32),
            },
            9 => Event::StepInterrupted {
                step: step(self),
                attempt: self.byte() as u32,
                reason: self.text(16),
            },
            10 => Event::RetryScheduled {
                step: step(self),
                attempt: self.byte() as u32,
                delay_ms: self.i64() as u64,
            },
            11 => Event::StepSkipped {
                step: step(self),
                reason: self.text(16),
                by: self.bool().then(|| self.operator()),
            },
            12 => Event::CheckpointSaved { step: step(self) },
            13 => Event::RollbackStarted {
                reason: self.text(16),
                steps: (0..self.byte() % 3).map(|_| self.text(8)).collect(),
                resume_after: self.opt_text(8),
            },
            14 => Event::StepCompensated {
                step: step(self),
                ran: self.bool(),
                output_tail: self.text(32),
            },
            15 => Event::CompensationFailed {
                step: step(self),
                end: self.end(),
                error: self.text(16),
                output_tail: self.text(32),
            },
            16 => Event::RollbackFinished {
                failed: (0..self.byte() % 3).map(|_| self.text(8)).collect(),
                // Not drawn from the input: the corpus keeps meaning what it meant.
                cut_off: None,
                not_run: Vec::new(),
            },
            17 => Event::RunPaused {
                step: self.opt_text(8),
                reason: self.text(16),
            },
            18 => Event::StopRequested {
                by: self.operator(),
                signal: self.opt_text(8),
                abort: self.byte().is_multiple_of(2),
            },
            // (No `time_limit`: drawing it would shift every seed after it.)
            19 => Event::RunStopped { time_limit: None },
            20 => Event::RunResumed {
                mode: match self.byte() % 5 {
                    0 => ResumeMode::Continue,
                    1 => ResumeMode::Retry,
                    2 => ResumeMode::Skip,
                    3 => ResumeMode::RollbackTo(self.text(8)),
                    _ => ResumeMode::From(self.text(8)),
                },
                restart_from: self.opt_text(8),
                driver: Driver {
                    pid: self.i64() as u32,
                    host: self.text(8),
                },
                by: self.operator(),
                rerun: Vec::new(),
                timeout_seconds: self.byte().is_multiple_of(2).then(|| self.i64() as u64),
                enable_rollback: match self.byte() % 3 {
                    0 => None,
                    n => Some(n == 1),
                },
                claude: self
                    .byte()
                    .is_multiple_of(2)
                    .then(|| cortex::definition::ClaudeConfig {
                        program: self.text(8),
                        permission_mode: None,
                        model: self.byte().is_multiple_of(2).then(|| self.text(4)),
                        args: vec![self.text(4)],
                    }),
            },
            _ => Event::RunFinished {
                outcome: match self.byte() % 4 {
                    0 => Outcome::Completed,
                    1 => Outcome::Failed,
                    2 => Outcome::Aborted,
                    _ => Outcome::RolledBack,
                },
                by: self.bool().then(|| self.operator()),
                reason: self.opt_text(16),
            },
        }
    }

    fn stage(&mut self) -> Stage {
        match self.byte() % 3 {
            0 => Stage::Pre,
            1 => Stage::Step,
            _ => Stage::Post,
        }
    }
}

/// Build a store from the input: up to 3 runs of up to 6 events, every event from the input.
/// Returns the store and every event as `append` recorded it, per run.
fn build_store(b: &mut Bytes) -> (MemoryStore, BTreeMap<String, Vec<Recorded>>) {
    let mut store = MemoryStore::new();
    let mut recorded: BTreeMap<String, Vec<Recorded>> = BTreeMap::new();
    let runs = 1 + b.byte() % 3;
    for _ in 0..runs {
        // A run id (`event::is_run_id`): a chain of any other id is bad wherever it is read.
        let run_id = format!("{:026}", b.byte());
        let events: Vec<NewEvent> = (0..1 + b.byte() % 6)
            .map(|_| NewEvent {
                id: b.text(10),
                time: b.text(24),
                event: b.event(),
            })
            .collect();
        let so_far = recorded.entry(run_id.clone()).or_default();
        let appended = store
            .append(&run_id, so_far.len() as u64, &events)
            .expect("append at the current length succeeds");
        assert_eq!(appended.len(), events.len());
        so_far.extend(appended);
    }
    (store, recorded)
}

/// Flip (xor with a non-zero mask) one byte of one column of `row`, chosen by the input.
fn tamper(row: &mut RawRow, b: &mut Bytes) -> &'static str {
    let mask = b.byte() | 1;
    let column = b.byte() % 9;
    let at = b.below(256);
    let flip = |bytes: &mut Vec<u8>| {
        if bytes.is_empty() {
            bytes.push(mask);
        } else {
            let i = at % bytes.len();
            bytes[i] ^= mask;
        }
    };
    let flip_i64 = |v: &mut i64| {
        let mut bytes = v.to_le_bytes();
        bytes[at % 8] ^= mask;
        *v = i64::from_le_bytes(bytes);
    };
    match column {
        0 => (flip(&mut row.run_id), "run_id").1,
        1 => (flip_i64(&mut row.seq), "seq").1,
        2 => (flip(&mut row.id), "id").1,
        3 => (flip(&mut row.time), "time").1,
        4 => (flip(&mut row.type_name), "type").1,
        5 => (flip_i64(&mut row.version), "version").1,
        6 => (flip(&mut row.body), "body").1,
        7 => (flip(&mut row.prev_hash), "prev_hash").1,
        _ => (flip(&mut row.hash), "hash").1,
    }
}

// ---------------------------------------------------------------------------------------------
// log_rows

/// `verify_rows`: never panics on arbitrary rows and reports consistently; a chain written by
/// `MemoryStore` verifies and reads back as appended; flipping any byte of any column of any
/// row makes verification fail.
pub fn check_log_rows(data: &[u8]) {
    // Arbitrary rows.
    let mut b = Bytes(data);
    let mut rows = Vec::new();
    while !b.is_empty() && rows.len() < 24 {
        rows.push(RawRow {
            run_id: b.field(4),
            seq: match b.byte() % 4 {
                3 => b.i64(),
                n => n as i64,
            },
            id: b.field(8),
            time: b.field(8),
            type_name: b.field(8),
            version: b.byte() as i64 - 1,
            body: b.field(16),
            prev_hash: b.field(40),
            hash: b.field(40),
        });
    }
    let report = verify_rows(&rows);
    assert_eq!(report.ok, report.first_bad.is_none(), "{report:?}");
    assert!(report.events as usize <= rows.len(), "{report:?}");
    if report.ok {
        assert_eq!(report.events as usize, rows.len(), "{report:?}");
        assert_eq!(report.heads.len() as u64, report.runs, "{report:?}");
    }

    // A valid chain, from the same bytes.
    let mut b = Bytes(data);
    let (store, recorded) = build_store(&mut b);
    let rows = store.raw_rows(None).expect("memory store reads");
    let total: usize = recorded.values().map(Vec::len).sum();
    assert_eq!(rows.len(), total);
    let report = verify_rows(&rows);
    assert!(
        report.ok,
        "a chain written by the store does not verify: {report:?}"
    );
    assert_eq!(report.events as usize, total);
    assert_eq!(report.runs as usize, recorded.len());
    for (run_id, appended) in &recorded {
        let read = store.read_run(run_id).expect("a stored run reads back");
        assert_same!(appended, &read, "append/read_run", run_id);
        let head = report.heads.iter().find(|(id, _)| id == run_id);
        assert_eq!(
            head.map(|(_, h)| h.as_str()),
            appended.last().map(|r| r.hash.as_str()),
            "head of run {run_id:?}"
        );
    }

    // Tampering with any stored byte is detected.
    for _ in 0..4 {
        let mut bad = rows.clone();
        let i = b.below(bad.len());
        let column = tamper(&mut bad[i], &mut b);
        let report = verify_rows(&bad);
        assert!(
            !report.ok && report.first_bad.is_some(),
            "flipping a byte of `{column}` in row {i} went unnoticed: {report:?}\n{:?}",
            bad[i]
        );
        if b.is_empty() {
            break;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// export_jsonl

/// `log export` lines: any line that `read_line` takes is a row that `export_line` writes back
/// as a line that reads as the same row (the chain's bytes survive the file); and any line that parses as a `Recorded`
/// survives a JSON round trip, its event decoding from the body it serialises to.
pub fn check_export_jsonl(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for (i, line) in text.lines().enumerate() {
        if let Ok(row) = read_line(i + 1, line) {
            let again = export_line(&row).unwrap_or_else(|e| {
                panic!("a row read from a line does not export ({e}):\n{line}")
            });
            let back = read_line(i + 1, &again)
                .unwrap_or_else(|e| panic!("an exported line does not read ({e}):\n{again}"));
            assert_same!(&row, &back, "exported row", &again);
        }
        let Ok(recorded) = serde_json::from_str::<Recorded>(line) else {
            continue;
        };
        let json = serde_json::to_string(&recorded).expect("a recorded event serialises");
        let back: Recorded = serde_json::from_str(&json).unwrap_or_else(|e| {
            panic!(
                "a re-serialised event does not parse: {e}\n--- in ---\n{line}\n--- out ---\n{json}"
            )
        });
        assert_same!(&recorded, &back, "Recorded JSON", &json);

        let body = recorded.event.body_json();
        let event = Event::from_parts(recorded.event.type_name(), &body)
            .unwrap_or_else(|e| panic!("a stored body does not decode: {e}\n--- body ---\n{body}"));
        assert_same!(&recorded.event, &event, "stored body", &body);
    }
}

/// `log export` lines for events built from `data`, as `cortex log export` prints them (the
/// stored rows, `export_line`); checked here to read back as those rows and to verify.
pub fn export_lines(data: &[u8]) -> Vec<String> {
    let (store, _) = build_store(&mut Bytes(data));
    let rows = store.raw_rows(None).expect("a memory store lists its rows");
    let lines: Vec<String> = rows
        .iter()
        .map(|r| export_line(r).expect("a stored row exports"))
        .collect();
    let back: Vec<RawRow> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| read_line(i + 1, l).expect("an exported line reads"))
        .collect();
    assert_same!(&rows, &back, "exported rows", &lines.join("\n"));
    assert!(verify_rows(&back).ok, "an exported store verifies");
    lines
}

// ---------------------------------------------------------------------------------------------
// template

/// What every template resolves to: if this ever reached a shell command's text, it would run.
pub const MARKER: &str = "$(touch pwned)";

/// `scan`/`render_shell`/`render_text`: occurrences are in order and in bounds; a shell command
/// never contains a resolved value, and no `${{` survives rendering.
pub fn check_template(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let occurrences = scan(text);
    let mut last = 0;
    for o in &occurrences {
        assert!(
            last <= o.start && o.start < o.end && o.end <= text.len(),
            "{occurrences:?}"
        );
        assert!(text.is_char_boundary(o.start) && text.is_char_boundary(o.end));
        assert!(text[o.start..].starts_with("${{"), "{o:?} in {text:?}");
        assert!(
            !text[last..o.start].replace("$${{", "").contains("${{"),
            "a `${{{{` before {o:?} was neither a template nor escaped: {text:?}"
        );
        last = o.end;
    }

    let resolve = |_: &Reference| Some(MARKER.to_string());
    let (command, env) = render_shell(text, &resolve);
    assert_eq!(env.len(), occurrences.len());
    // Each template becomes a reference written for the quoting it stands in.
    let contexts = cortex::definition::template::shell_contexts(text);
    assert_eq!(contexts.len(), occurrences.len());
    let mut expected = String::new();
    let mut last = 0;
    for (i, ((o, (var, value)), context)) in occurrences.iter().zip(&env).zip(&contexts).enumerate()
    {
        assert_eq!(var, &format!("CORTEX_TPL_{i}"));
        let want = if o.reference.is_ok() { MARKER } else { "" };
        assert_eq!(value, want, "value of {o:?}");
        if let Err(refusal) = context {
            assert_eq!(refusal.start, o.start, "{refusal:?} for {o:?}");
        }
        expected.push_str(&unescape(&text[last..o.start]));
        expected.push_str(&match context {
            Ok(cortex::definition::template::ShellContext::Unquoted) => format!("\"${{{var}}}\""),
            Ok(cortex::definition::template::ShellContext::Single) => {
                format!("'\"${{{var}}}\"'")
            }
            _ => format!("${{{var}}}"),
        });
        last = o.end;
    }
    expected.push_str(&unescape(&text[last..]));
    assert_eq!(command, expected);
    if !text.contains(MARKER) {
        assert!(
            !command.contains(MARKER),
            "a resolved value reached the shell command: {command:?}"
        );
    }
    // A `${{` in the command is only ever an escaped one (`$${{`), never a template.
    let escapes = |t: &str| {
        let mut n = 0;
        let mut from = 0;
        while let Some(i) = t[from..].find("${{") {
            let at = from + i;
            if at > 0 && t.as_bytes()[at - 1] == b'$' {
                n += 1;
            }
            from = at + 3;
        }
        n
    };
    assert!(
        command.matches("${{").count() <= escapes(text),
        "a `${{{{` survived render_shell (scan missed it): {text:?} -> {command:?}"
    );

    assert_eq!(
        render_text(text, &|_| None),
        {
            let mut unchanged = String::new();
            let mut last = 0;
            for o in &occurrences {
                unchanged.push_str(&unescape(&text[last..o.start]));
                unchanged.push_str(&text[o.start..o.end]);
                last = o.end;
            }
            unchanged.push_str(&unescape(&text[last..]));
            unchanged
        },
        "render_text changed more than the escapes of a text with nothing to resolve"
    );
    let rendered = render_text(text, &resolve);
    let mut expected = String::new();
    let mut last = 0;
    for o in &occurrences {
        expected.push_str(&unescape(&text[last..o.start]));
        expected.push_str(if o.reference.is_ok() {
            MARKER
        } else {
            &text[o.start..o.end]
        });
        last = o.end;
    }
    expected.push_str(&unescape(&text[last..]));
    assert_eq!(rendered, expected);
}

// ---------------------------------------------------------------------------------------------
// name

/// The characters no name may contain, listed independently of the rule's own table: C0 and C1
/// controls, bidirectional overrides and isolates, zero-width characters, the byte-order mark.
fn invisible_or_control(c: char) -> bool {
    // Controls, line and paragraph separators, interlinear annotations, and every
    // Default_Ignorable_Code_Point (DerivedCoreProperties.txt), written out here independently
    // of the rule under test: Hangul fillers, the grapheme joiner and variation selectors too.
    c.is_control()
        || matches!(c as u32,
            0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
            | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
            | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF | 0x2800)
}

/// Does `text` hold a control or invisible character? An emoji's presentation selector
/// (U+FE0E, U+FE0F) right after a visible character is part of that sign (`⚠️`), not one.
fn holds_invisible(text: &str) -> bool {
    let mut before: Option<char> = None;
    text.chars().any(|c| {
        let base = before.replace(c);
        let presented = matches!(c, '\u{FE0E}' | '\u{FE0F}')
            && base.is_some_and(|b| {
                !b.is_whitespace()
                    && !matches!(b, '\u{FE0E}' | '\u{FE0F}')
                    && !invisible_or_control(b)
            });
        invisible_or_control(c) && !presented
    })
}

/// A message that shows a refused name must not carry what it refuses to a terminal.
fn assert_printable(message: &str, what: &str) {
    assert!(!message.trim().is_empty(), "{what}: an empty message");
    assert!(
        !holds_invisible(message),
        "{what}: the message carries a control or invisible character: {message:?}"
    );
    assert!(
        message.len() < 2_000,
        "{what}: a message of {} bytes",
        message.len()
    );
}

/// Is any problem's message about a name of this kind?
fn names_problem(e: &DefinitionError, noun: &str) -> bool {
    e.problems.iter().any(|p| p.message.contains(noun))
}

/// The one name rule (`check_name`): an accepted name is short, visible and trimmed; it can be
/// referred to where its kind is referred to (a step in `${{ steps.S.outputs.K }}`, an input in
/// `${{ inputs.I }}`, a phase in `after:`); it survives YAML; every definition kind refuses
/// exactly the names the rule refuses, and so does looking a name up. A refusal's message
/// never carries the characters it refuses. Forgiving matching is idempotent.
pub fn check_name_rule(data: &[u8]) {
    use cortex::definition::{
        Catalog, LookupError, MAX_NAME_CHARS, NameKind, check_name, normalize_name, same_name,
    };
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    let normal = normalize_name(name);
    assert_eq!(
        normalize_name(&normal),
        normal,
        "normalize_name is idempotent"
    );
    let trimmed = name.trim();
    assert!(same_name(trimmed, &trimmed.replace(' ', "_")));
    assert!(same_name(name, &name.to_ascii_uppercase()));

    let quoted = serde_yaml::to_string(name).expect("a string renders as YAML");
    let back: String = serde_yaml::from_str(&quoted)
        .unwrap_or_else(|e| panic!("a name rendered as YAML does not read back: {e}\n{quoted}"));
    assert_eq!(back, name, "a name survives YAML");
    let yaml = |v: serde_json::Value| serde_yaml::to_string(&v).expect("JSON renders as YAML");

    for kind in [
        NameKind::Workflow,
        NameKind::Scenario,
        NameKind::Step,
        NameKind::Phase,
        NameKind::Agent,
        NameKind::Input,
        NameKind::OutputKey,
    ] {
        let verdict = check_name(kind, name);
        match &verdict {
            Ok(()) => {
                let chars = name.chars().count();
                assert!((1..=MAX_NAME_CHARS).contains(&chars), "{kind:?} {name:?}");
                assert!(!holds_invisible(name), "{kind:?} {name:?}");
                assert_eq!(name.trim(), name, "{kind:?} {name:?}");
                // An output key may start with `-` (a `$CORTEX_OUTPUT` line can write one, and
                // suggestions join it to its flag: `--output=-x=VALUE`); no other name may.
                if kind != NameKind::OutputKey {
                    assert!(!name.starts_with('-'), "{kind:?} {name:?}");
                }
            }
            Err(bad) => {
                assert_printable(&bad.problem, "problem");
                assert_printable(&bad.fix, "fix");
            }
        }
        let noun = kind.noun();
        // What the definition of that kind says about the name.
        let refused = match kind {
            NameKind::Workflow | NameKind::Step | NameKind::Input | NameKind::OutputKey => {
                let wf = match kind {
                    NameKind::Workflow => {
                        serde_json::json!({"name": name, "steps": [{"name": "a", "run": "true"}]})
                    }
                    NameKind::Step => {
                        serde_json::json!({"name": "w", "steps": [{"name": name, "run": "true"}]})
                    }
                    NameKind::Input => {
                        serde_json::json!({"name": "w", "inputs": {name: {}}, "steps": [{"name": "a", "run": "true"}]})
                    }
                    _ => {
                        serde_json::json!({"name": "w", "steps": [{"name": "a", "run": "true", "validate": [{"output": name}]}]})
                    }
                };
                let text = yaml(wf);
                let parsed = parse_workflow("n.yaml", &text)
                    .unwrap_or_else(|e| panic!("{kind:?}: does not parse: {e}\n{text}"));
                let known = cortex::validate::Known {
                    config: &Config::default(),
                    agents: &Default::default(),
                    broken_agents: &Default::default(),
                    uses: None,
                };
                cortex::validate::validate_workflow("n.yaml", &text, &parsed, &known)
                    .err()
                    .is_some_and(|e| names_problem(&e, noun))
            }
            NameKind::Scenario | NameKind::Phase => {
                let sc = if kind == NameKind::Scenario {
                    serde_json::json!({"name": name, "description": "d", "phases": [{"name": "a"}]})
                } else {
                    serde_json::json!({"name": "s", "description": "d", "phases": [{"name": name}]})
                };
                let text = yaml(sc);
                let parsed = cortex::definition::parse_scenario("n.yaml", &text)
                    .unwrap_or_else(|e| panic!("{kind:?}: does not parse: {e}\n{text}"));
                cortex::validate::validate_scenario(
                    "n.yaml",
                    &text,
                    &parsed,
                    None,
                    &Default::default(),
                )
                .err()
                .is_some_and(|e| {
                    names_problem(&e, noun)
                            // An empty scenario name is a missing required field (seed 001).
                            || (kind == NameKind::Scenario
                                && name.trim().is_empty()
                                && names_problem(&e, "Missing required field: name"))
                })
            }
            NameKind::Agent => {
                let front = yaml(serde_json::json!({"name": name, "description": "d"}));
                let text = format!("---\n{front}---\n");
                match parse_agent("a.md", &text) {
                    Ok((agent, _)) => {
                        assert_eq!(agent.name, name);
                        false
                    }
                    Err(e) => {
                        assert!(names_problem(&e, noun), "{e}");
                        true
                    }
                }
            }
        };
        assert_eq!(
            refused,
            verdict.is_err(),
            "the {noun} {name:?}: the definition and the rule disagree ({verdict:?})"
        );
    }

    // A name that can be defined can be referred to.
    if check_name(NameKind::Step, name).is_ok() {
        let refs: Vec<_> = scan(&format!("${{{{ steps.{name}.outputs.k }}}}"))
            .into_iter()
            .map(|o| o.reference)
            .collect();
        assert_eq!(
            refs,
            vec![Ok(Reference::StepOutput {
                step: name.to_string(),
                key: "k".into()
            })],
            "step {name:?}"
        );
    }
    if check_name(NameKind::Input, name).is_ok() {
        let refs: Vec<_> = scan(&format!("${{{{ inputs.{name} }}}}"))
            .into_iter()
            .map(|o| o.reference)
            .collect();
        assert_eq!(refs, vec![Ok(Reference::Input(name.to_string()))]);
    }
    if check_name(NameKind::Phase, name).is_ok() {
        let phase: cortex::definition::Phase = serde_json::from_value(serde_json::json!({
            "name": "x", "condition": format!("after:{name}, {name}")
        }))
        .expect("a phase");
        assert_eq!(
            phase.parsed_condition(),
            Ok(cortex::definition::Condition::After(vec![
                name.to_string(),
                name.to_string()
            ])),
            "phase {name:?}"
        );
    }

    // Looking a name up applies the same rule.
    let catalog = Catalog::new(
        "/nonexistent-cortex-home".into(),
        "/nonexistent-project".into(),
    );
    match catalog.find_workflow(name) {
        Err(LookupError::BadName { reason, .. }) => {
            assert!(
                check_name(NameKind::Workflow, name.trim()).is_err(),
                "{name:?}"
            );
            assert_printable(&reason, "lookup");
        }
        _ => assert!(
            check_name(NameKind::Workflow, name.trim()).is_ok()
                || name.ends_with(".yaml")
                || name.ends_with(".yml"),
            "{name:?} was looked up although the rule refuses it"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// duration

/// `DurationSpec::to_duration` and the ranges of `limits`: never a panic; a duration read is
/// read again the same from its plain seconds or milliseconds; the ranges accept exactly the
/// durations inside them; a duration written as a YAML number means what the text means; an
/// error says something printable.
pub fn check_duration(data: &[u8]) {
    use cortex::definition::DurationSpec;
    use cortex::definition::limits::{RETRY_BACKOFF, STEP_TIMEOUT};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let spec = DurationSpec(text.to_string());
    let read = spec.to_duration();
    for range in [STEP_TIMEOUT, RETRY_BACKOFF] {
        let checked = range.check(&spec);
        match (&read, &checked) {
            (Ok(d), Ok(c)) => {
                assert_eq!(d, c);
                assert!(range.min <= *d && *d <= range.max, "{text:?}: {d:?}");
            }
            (Ok(d), Err(e)) => {
                assert!(
                    *d < range.min || *d > range.max,
                    "{text:?}: {d:?} refused: {e}"
                );
                assert!(e.contains(range.text), "{e}");
            }
            (Err(_), Ok(c)) => panic!("{text:?}: unreadable, yet {c:?} in range"),
            (Err(_), Err(e)) => assert_printable(e, "range"),
        }
    }
    match read {
        Ok(d) => {
            if d.subsec_nanos() == 0 {
                let again = DurationSpec(d.as_secs().to_string()).to_duration();
                assert_eq!(again, Ok(d), "{text:?} as plain seconds");
            }
            // humantime counts in nanoseconds: `Nms` reads back while that fits in a u64.
            if d.subsec_nanos() % 1_000_000 == 0 && d.as_nanos() <= u128::from(u64::MAX) {
                let again = DurationSpec(format!("{}ms", d.as_millis())).to_duration();
                assert_eq!(again, Ok(d), "{text:?} as milliseconds");
            }
        }
        Err(e) => assert_printable(&e, "duration"),
    }
    // The same text as a YAML scalar, as a definition would hold it.
    let plain_number = {
        let t = text.trim();
        !t.is_empty()
            && t.len() < 40
            && t.chars().all(|c| c.is_ascii_digit() || c == '.')
            && t.chars().filter(|c| *c == '.').count() <= 1
            && t.starts_with(|c: char| c.is_ascii_digit())
            && !(t.len() > 1 && t.starts_with('0') && !t.starts_with("0."))
    };
    if plain_number {
        let wf = format!(
            "name: w\nsteps:\n  - name: a\n    run: 'true'\n    timeout: {}\n",
            text.trim()
        );
        let parsed = parse_workflow("d.yaml", &wf).unwrap_or_else(|e| panic!("{e}\n{wf}"));
        let held = parsed.steps[0].timeout.as_ref().expect("a timeout");
        match (
            held.to_duration(),
            DurationSpec(text.to_string()).to_duration(),
        ) {
            (Ok(a), Ok(b)) => {
                // A YAML float is read as a double: equal to the text's reading within a
                // nanosecond per second (both go through f64 for fractions).
                let diff = a.abs_diff(b);
                assert!(
                    diff <= std::time::Duration::from_nanos(b.as_secs().saturating_add(1)),
                    "{text:?} means {b:?}, but in YAML {a:?} (held as {:?})",
                    held.0
                );
            }
            (a, b) => assert_eq!(a.is_ok(), b.is_ok(), "{text:?}: {a:?} vs {b:?}"),
        }
    }
}

/// A cron expression: read or refused with a printable message, never a panic; when read,
/// every time it gives is a whole minute after the one asked from, matched again when asked
/// from just before it, with no match in between (`due_in` agrees), and `next_times` is
/// increasing.
pub fn check_cron(data: &[u8]) {
    use cortex::plan::{Cadence, MINUTE_MS};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cadence = match Cadence::parse(text) {
        Ok(c) => c,
        Err(e) => {
            assert_printable(&e, "cron");
            return;
        }
    };
    assert_printable(&cadence.describe(), "cron description");
    // Times from 2000 to 2100, picked by the input's hash.
    let seed = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    let from = 946_684_800_000 + seed % (100 * 365 * 24 * 3_600_000);
    let Some(next) = cadence.next_after(from) else {
        return;
    };
    assert!(
        next > from && next % MINUTE_MS == 0,
        "{text:?}: {next} after {from}"
    );
    assert_eq!(cadence.next_after(next - 1), Some(next), "{text:?}");
    assert_eq!(cadence.due_in(from, next - 1, 10), None, "{text:?}");
    assert_eq!(cadence.due_in(from, next, 10), Some((next, 1)), "{text:?}");
    let times = cadence.next_times(from, 4);
    assert_eq!(times.first(), Some(&next));
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{text:?}: {times:?}");
}

/// An `if:` expression: parsed or refused with a printable message, never a panic; when
/// parsed, its canonical form (`Display`) parses back to the same expression and prints the
/// same again, and evaluating it (every reference unrecorded, or each one a string) gives a
/// verdict or a printable error, never a panic.
pub fn check_if_expr(data: &[u8]) {
    use cortex::definition::expr::{MAX_EXPRESSION_BYTES, Value, evaluate, parse};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let expr = match parse(text) {
        Ok(e) => e,
        Err(e) => {
            assert_printable(&e.to_string(), "if");
            return;
        }
    };
    let shown = expr.to_string();
    // Written back, a string in double quotes may grow (`"it's"` is `'it''s'`).
    if shown.len() <= MAX_EXPRESSION_BYTES {
        let back = parse(&shown)
            .unwrap_or_else(|e| panic!("{text:?} written as {shown:?} does not parse: {e}"));
        assert_same!(&expr, &back, "if", text);
        assert_eq!(back.to_string(), shown, "{text:?}: printed twice differs");
    }
    for resolve in [&(|_: &_| None) as &dyn Fn(&_) -> Option<Value>, &|_: &_| {
        Some(Value::Str(text.chars().take(8).collect()))
    }] {
        if let Err(e) = evaluate(&expr, resolve).result {
            assert_printable(&e.to_string(), "if evaluation");
        }
    }
}
