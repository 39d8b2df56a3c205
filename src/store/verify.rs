//! Verification of the hash chain from stored bytes, never from re-serialised events.

use serde::Serialize;

use super::hash::{GENESIS, event_hash, hex};
use crate::event::ChainId;

/// The stored bytes of one event row, exactly as the database returned them.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    pub run_id: Vec<u8>,
    pub seq: i64,
    pub id: Vec<u8>,
    pub time: Vec<u8>,
    pub type_name: Vec<u8>,
    pub version: i64,
    pub body: Vec<u8>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// An event that failed verification (the first of its run), and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BadEvent {
    pub run_id: String,
    pub seq: i64,
    pub reason: String,
}

/// The machine contract of `log verify --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    /// Runs verified (workflow and scenario runs: what `history` lists and `log reindex`
    /// counts).
    pub runs: u64,
    /// Other chains verified, that are no run: a run's notification deliveries
    /// (`notify:RUN`), a schedule's (`schedule:KIND:NAME`), the agent registry (`agents`).
    pub chains: u64,
    pub events: u64,
    /// The first failure found (the first of `failures`).
    pub first_bad: Option<BadEvent>,
    /// Every failure found, at most one per run (its first): one changed run never hides
    /// another, and the runs not named here verified. Always present (`[]`: none failed).
    pub failures: Vec<BadEvent>,
    /// Anchors checked (`log verify --anchors FILE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchors: Option<u64>,
    /// Files of attempts' whole outputs checked against their events (none: not checked, as
    /// for a copy of a log given without its `logs/` folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_logs: Option<u64>,
    /// Attempt logs whose files are not on this machine (attempts run on another host sharing
    /// the log, or a log copied without its `logs/` folder): recorded, but not checkable here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_logs_absent: Option<u64>,
    /// Of `attempt_logs`, the files checked in another home on this machine sharing the log:
    /// the one that wrote them, found at the folder their events record holding the identity
    /// they record (`execute::Whose::OtherHome`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_logs_other_home: Option<u64>,
    /// Events whose chain verifies but that this cortex cannot decode, because a newer cortex
    /// wrote them (one, the first, per run): the runs that hold them are read only as far as
    /// the event before, and checked against their snapshots, attempt logs and index no
    /// further. Upgrade cortex to read them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<super::Unreadable>,
    /// Runs whose `notify:` was due at their end and whose log holds no notification chain:
    /// its deliveries were removed, or its driver was killed before it recorded the first
    /// (status then lists them pending). The log cannot tell the two apart, so this is said
    /// beside the verdict and does not fail it (one per run, at its last event).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notifications_unrecorded: Vec<BadEvent>,
    /// What SQLite's integrity check found wrong with the log's file (`log verify` of the
    /// whole log), if anything: a file whose pages, indexes or tables are damaged fails
    /// verification even where every chain it could read holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_damaged: Option<String>,
    /// The head hash of every run checked, in run order.
    #[serde(skip)]
    pub heads: Vec<(String, String)>,
    /// Every other chain a verified event names (`Link`), gathered as the chains are read
    /// (`Verifier::auditing`): `log verify` holds each to the chains the log holds.
    #[serde(skip)]
    pub links: Vec<Link>,
    /// The runs whose `run_started` (verified) gives their definition a `notify:`: their
    /// deliveries, once due, are recorded in `notify:RUN`.
    #[serde(skip)]
    pub notifying: Vec<String>,
}

/// A chain named by a verified event of another: a parent's `child_started`,
/// `child_waiting` or `child` attempt end names its child run, a child's `run_started` its
/// parent, a notification chain `notify:RUN` its run, a schedule's `scheduled_run` the run
/// it started. The log must hold the chain named, or the link points at a run removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The chain whose event names it, and that event's seq.
    pub from: String,
    pub seq: i64,
    /// The chain named.
    pub to: String,
    /// What names it (`child_started`, "its parent", …), as said when it is missing.
    pub what: &'static str,
}

/// The stored bytes of one event row, borrowed from wherever they are (a database cursor, a
/// `RawRow`), so that verifying copies nothing.
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    pub run_id: &'a [u8],
    pub seq: i64,
    pub id: &'a [u8],
    pub time: &'a [u8],
    pub type_name: &'a [u8],
    pub version: i64,
    pub body: &'a [u8],
    pub prev_hash: &'a [u8],
    pub hash: &'a [u8],
}

impl RawRow {
    pub fn as_ref(&self) -> RowRef<'_> {
        RowRef {
            run_id: &self.run_id,
            seq: self.seq,
            id: &self.id,
            time: &self.time,
            type_name: &self.type_name,
            version: self.version,
            body: &self.body,
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        }
    }
}

/// Verification fed one row at a time, ordered by (run_id, seq): sequence numbers gapless from
/// 0, each previous hash equal to the hash before it, and each hash equal to the hash
/// recomputed from the row's bytes. A run stops being checked at its first bad event (the rows
/// after it are counted, not checked); the next run is checked afresh.
pub struct Verifier {
    report: VerifyReport,
    current: Option<Vec<u8>>,
    /// The current run failed: its remaining rows are passed over.
    current_bad: bool,
    expected_seq: i64,
    prev: Vec<u8>,
    /// Gather the links between chains (`Link`) as rows verify: `log verify`'s, not a
    /// reader's (`store::fold`), which reads one run.
    links: bool,
}

/// Why the chain `id` is bad for its id alone (`event::is_chain_id`), if it is: what `log verify`, a
/// reader, a driver and an import say of it, the id shown escaped.
pub fn bad_chain_id(id: &[u8]) -> Option<String> {
    if crate::event::is_chain_id(id) {
        return None;
    }
    let shown = crate::definition::shown_query(&crate::event::shown_id(id));
    Some(format!(
        "its id `{shown}` is no run id (a run id is a ULID, {} digits and capitals as cortex makes them) nor the id of another chain cortex writes: it was put in the log by hand, and cortex neither acts on it nor makes a path of it",
        crate::event::RUN_ID_LEN
    ))
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            report: VerifyReport {
                ok: true,
                runs: 0,
                chains: 0,
                events: 0,
                first_bad: None,
                failures: Vec::new(),
                anchors: None,
                attempt_logs: None,
                attempt_logs_absent: None,
                attempt_logs_other_home: None,
                unreadable: Vec::new(),
                file_damaged: None,
                heads: Vec::new(),
                links: Vec::new(),
                notifying: Vec::new(),
                notifications_unrecorded: Vec::new(),
            },
            current: None,
            current_bad: false,
            expected_seq: 0,
            prev: GENESIS.to_vec(),
            links: false,
        }
    }
}

impl Verifier {
    /// A verifier for `log verify`: it also gathers the links between chains (`Link`) from
    /// the rows that verify, looking into only the few event types that hold one.
    pub fn auditing() -> Verifier {
        Verifier {
            links: true,
            ..Verifier::default()
        }
    }

    /// A verifier of one run's chain from `seq` on, the event before it having hash `prev`
    /// (raw bytes): what a reader that starts from a snapshot checks — the events after the
    /// snapshot, each linked to the one before, the first to the snapshot's own event.
    pub fn from_point(run_id: &str, seq: u64, prev: &[u8]) -> Verifier {
        let mut verifier = Verifier {
            current: Some(run_id.as_bytes().to_vec()),
            expected_seq: seq.min(i64::MAX as u64) as i64,
            prev: prev.to_vec(),
            ..Verifier::default()
        };
        match crate::event::is_run_chain(run_id.as_bytes()) {
            true => verifier.report.runs = 1,
            false => verifier.report.chains = 1,
        }
        if let Some(reason) = bad_chain_id(run_id.as_bytes()) {
            verifier.current_bad = true;
            verifier.report.fail(BadEvent {
                run_id: run_id.to_string(),
                seq: verifier.expected_seq,
                reason,
            });
        }
        verifier
    }

    /// The first bad event found, if any.
    pub fn first_bad(&self) -> Option<&BadEvent> {
        self.report.first_bad.as_ref()
    }

    /// Check the next row; false once its run has a bad event (a reader of one run feeds no
    /// more; a reader of many goes on to the next run's rows, which are checked afresh).
    pub fn check(&mut self, row: RowRef<'_>) -> bool {
        if self.current.as_deref() != Some(row.run_id) {
            self.close_run();
            self.current = Some(row.run_id.to_vec());
            self.current_bad = false;
            if crate::event::is_run_chain(row.run_id) {
                self.report.runs += 1;
            } else {
                self.report.chains += 1;
            }
            self.expected_seq = 0;
            self.prev.clear();
            self.prev.extend_from_slice(&GENESIS);
            // A chain of an id no cortex writes is bad from its first row, however it links.
            if let Some(reason) = bad_chain_id(row.run_id) {
                self.current_bad = true;
                self.report.events += 1;
                self.report.fail(BadEvent {
                    run_id: crate::event::shown_id(row.run_id),
                    seq: row.seq,
                    reason,
                });
                return false;
            }
            if self.links
                && let Some(ChainId::Notify(run)) = ChainId::parse(row.run_id)
            {
                self.report.links.push(Link {
                    from: crate::event::shown_id(row.run_id),
                    seq: row.seq,
                    to: run.to_string(),
                    what: "the run whose notification deliveries it records",
                });
            }
        }
        self.report.events += 1;
        if self.current_bad {
            return false;
        }
        let expected_seq = self.expected_seq;
        let problem = if row.seq != expected_seq {
            Some(format!(
                "sequence gap: expected seq {expected_seq}, found {} (an event was removed, duplicated or reordered)",
                row.seq
            ))
        } else if row.prev_hash != self.prev.as_slice() {
            Some(
                "previous-hash link broken (an event before it was changed, removed or reordered)"
                    .into(),
            )
        } else {
            let recomputed = event_hash(
                row.run_id,
                row.seq,
                row.prev_hash,
                row.id,
                row.time,
                row.type_name,
                row.version,
                row.body,
            );
            (recomputed.as_slice() != row.hash)
                .then(|| "hash mismatch: the stored bytes of this event were changed".into())
        };
        if let Some(reason) = problem {
            self.current_bad = true;
            self.report.fail(BadEvent {
                run_id: crate::event::shown_id(row.run_id),
                seq: row.seq,
                reason,
            });
            return false;
        }
        if self.links {
            self.gather_links(row);
        }
        self.prev.clear();
        self.prev.extend_from_slice(row.hash);
        self.expected_seq += 1;
        true
    }

    /// The links to other chains a verified row holds (`Link`). Only the event types that
    /// can hold one are looked into, and of the common ones (`run_started`, a step's end)
    /// only a body that holds the key is decoded: the pass stays as fast as the hashing.
    fn gather_links(&mut self, row: RowRef<'_>) {
        use memchr::memmem::find;
        let kind = row.type_name;
        let holds = |key: &[u8]| find(row.body, key).is_some();
        let candidate = match kind {
            b"child_started" | b"child_waiting" | b"scheduled_run" => true,
            b"run_started" => {
                if holds(b"\"notify\"") {
                    self.notify_candidate(row);
                }
                holds(b"\"parent\"")
            }
            b"step_succeeded" | b"step_failed" | b"compensation_failed" => holds(b"\"child\""),
            _ => false,
        };
        if !candidate {
            return;
        }
        let (Ok(type_name), Ok(body)) = (std::str::from_utf8(kind), std::str::from_utf8(row.body))
        else {
            return;
        };
        let version = row.version.clamp(0, u32::MAX as i64) as u32;
        // An event that does not decode is said by the check of what decodes.
        let Ok(event) = crate::event::decode(version, type_name, body) else {
            return;
        };
        use crate::event::{AttemptEnd, Event};
        let (to, what) = match event {
            Event::ChildStarted { run_id, .. } => (run_id, "its child run (child_started)"),
            Event::ChildWaiting { run_id, .. } => (run_id, "its child run (child_waiting)"),
            Event::ScheduledRun {
                run_id: Some(run_id),
                ..
            } => (run_id, "the run it started (scheduled_run)"),
            Event::RunStarted(started) => match started.parent {
                Some(parent) => (parent.run_id, "its parent run (run_started.parent)"),
                None => return,
            },
            Event::StepSucceeded {
                end: AttemptEnd::Child { run_id, .. },
                ..
            }
            | Event::StepFailed {
                end: AttemptEnd::Child { run_id, .. },
                ..
            }
            | Event::CompensationFailed {
                end: AttemptEnd::Child { run_id, .. },
                ..
            } => (run_id, "its child run (the step's end)"),
            _ => return,
        };
        self.report.links.push(Link {
            from: crate::event::shown_id(row.run_id),
            seq: row.seq,
            to,
            what,
        });
    }

    /// Note the run if its `run_started` gives its definition a non-empty `notify:`.
    fn notify_candidate(&mut self, row: RowRef<'_>) {
        let Ok(body) = std::str::from_utf8(row.body) else {
            return;
        };
        #[derive(serde::Deserialize)]
        struct Started {
            definition: serde_json::Value,
        }
        let Ok(started) = serde_json::from_str::<Started>(body) else {
            return;
        };
        let notify = &started.definition["notify"];
        let any = ["on_failure", "on_finish"]
            .iter()
            .any(|k| notify[*k].as_array().is_some_and(|l| !l.is_empty()));
        if any {
            self.report
                .notifying
                .push(crate::event::shown_id(row.run_id));
        }
    }

    fn close_run(&mut self) {
        if let Some(run) = self.current.take()
            && !self.current_bad
        {
            self.report
                .heads
                .push((crate::event::shown_id(&run), hex(&self.prev)));
        }
    }

    /// The report: what was checked, the first bad event if any, and every run's head.
    pub fn finish(mut self) -> VerifyReport {
        self.close_run();
        self.report
    }
}

impl VerifyReport {
    /// Record a failure: the report fails, and `bad` is kept unless its run already failed
    /// (a run is named once, by its first failure).
    pub fn fail(&mut self, bad: BadEvent) {
        self.ok = false;
        if self.failures.iter().any(|f| f.run_id == bad.run_id) {
            return;
        }
        if self.first_bad.is_none() {
            self.first_bad = Some(bad.clone());
        }
        self.failures.push(bad);
    }

    /// Whether run `run_id` has failed.
    pub fn failed(&self, run_id: &str) -> bool {
        self.failures.iter().any(|f| f.run_id == run_id)
    }
}

/// Verify rows ordered by (run_id, seq) (see `Verifier`).
pub fn verify_rows(rows: &[RawRow]) -> VerifyReport {
    let mut verifier = Verifier::auditing();
    for row in rows {
        verifier.check(row.as_ref());
    }
    verifier.finish()
}
