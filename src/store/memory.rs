//! An in-memory event store with the same chaining as SQLite, for property tests.

use std::collections::BTreeMap;

use super::{
    AtHead, DRIVER_UNIT, DecideAtHead, EventStore, Lease, LeaseClaim, RawRow, RowSink, RunHead,
    Snapshot, StoreError, chain, decode_row,
};
use crate::event::{NewEvent, Recorded};

/// Rows kept in a map keyed by run id, each run's rows in sequence order, and snapshots.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    runs: BTreeMap<String, Vec<RawRow>>,
    snapshots: BTreeMap<String, Snapshot>,
    /// Leases by (run, unit): the lease and when it lapses (ms since the epoch, this
    /// process's clock standing for the database's).
    leases: BTreeMap<(String, String), (Lease, i64)>,
}

/// Milliseconds since the epoch: the memory store's "database clock".
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Mutable access to the stored rows, so tests can tamper with them.
    pub fn rows_mut(&mut self, run_id: &str) -> Option<&mut Vec<RawRow>> {
        self.runs.get_mut(run_id)
    }

    /// Mutable access to a stored snapshot, so tests can forge it.
    pub fn snapshot_mut(&mut self, run_id: &str) -> Option<&mut Snapshot> {
        self.snapshots.get_mut(run_id)
    }
}

impl EventStore for MemoryStore {
    fn append(
        &mut self,
        run_id: &str,
        expected_seq: u64,
        events: &[NewEvent],
    ) -> Result<Vec<Recorded>, StoreError> {
        let rows = self.runs.entry(run_id.to_string()).or_default();
        let actual = rows.len() as u64;
        if actual != expected_seq {
            return Err(StoreError::Conflict {
                run_id: run_id.to_string(),
                expected: expected_seq,
                actual,
            });
        }
        let prev = rows
            .last()
            .map(|r| r.hash.clone())
            .unwrap_or_else(|| super::GENESIS.to_vec());
        let chained = chain(run_id, actual, &prev, events);
        let mut out = Vec::with_capacity(chained.len());
        for (row, recorded) in chained {
            rows.push(row);
            out.push(recorded);
        }
        Ok(out)
    }

    fn append_at_head(
        &mut self,
        run_id: &str,
        known_seq: u64,
        decide: &mut DecideAtHead<'_>,
    ) -> Result<AtHead, StoreError> {
        // `&mut self` is the lock: nothing else appends while this runs.
        let next = self.runs.get(run_id).map_or(0, |rows| rows.len() as u64);
        if known_seq > next {
            return Err(StoreError::Conflict {
                run_id: run_id.to_string(),
                expected: known_seq,
                actual: next,
            });
        }
        let caught_up = self.read_run_from(run_id, known_seq)?;
        let events = decide(&caught_up, &*self);
        let appended = if events.is_empty() {
            Vec::new()
        } else {
            self.append(run_id, next, &events)?
        };
        Ok(AtHead {
            caught_up,
            appended,
        })
    }

    fn import_runs(&mut self, runs: &[&[RawRow]]) -> Result<(), StoreError> {
        let checked = super::check_imports(runs)?;
        // All or nothing: what the runs held before, put back when one is refused.
        let before: Vec<(String, Option<usize>)> = checked
            .iter()
            .map(|(run_id, ..)| (run_id.clone(), self.runs.get(run_id).map(Vec::len)))
            .collect();
        let result = checked.iter().try_for_each(|(run_id, first, rows, _)| {
            let stored = self.runs.entry(run_id.clone()).or_default();
            let prev = stored
                .last()
                .map(|r| r.hash.clone())
                .unwrap_or_else(|| super::GENESIS.to_vec());
            super::check_import_head(run_id, first, stored.len() as u64, &prev)?;
            stored.extend(rows.iter().cloned());
            Ok(())
        });
        if result.is_err() {
            for (run_id, len) in before.into_iter().rev() {
                match len {
                    Some(len) => self.runs.entry(run_id).or_default().truncate(len),
                    None => {
                        self.runs.remove(&run_id);
                    }
                }
            }
        }
        result
    }

    fn load_snapshot(&self, run_id: &str) -> Result<Option<Snapshot>, StoreError> {
        Ok(self.snapshots.get(run_id).cloned())
    }

    fn snapshots(&self, run_id: Option<&str>) -> Result<Vec<Snapshot>, StoreError> {
        Ok(self
            .snapshots
            .values()
            .filter(|s| run_id.is_none_or(|r| s.run_id == r))
            .cloned()
            .collect())
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.snapshots
            .insert(snapshot.run_id.clone(), snapshot.clone());
        Ok(())
    }

    fn read_run(&self, run_id: &str) -> Result<Vec<Recorded>, StoreError> {
        self.runs
            .get(run_id)
            .map(|rows| rows.iter().map(decode_row).collect())
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    fn fold_rows(&self, run_id: &str, seq: u64, f: &mut RowSink<'_>) -> Result<(), StoreError> {
        super::fold::fold_stored(self.runs.get(run_id).into_iter().flatten(), seq, f)
    }

    fn runs(&self) -> Result<Vec<RunHead>, StoreError> {
        self.runs
            .iter()
            .filter(|(_, rows)| !rows.is_empty())
            .map(|(id, rows)| {
                Ok(RunHead {
                    run_id: id.clone(),
                    first: decode_row(&rows[0])?,
                    events: rows.len() as u64,
                    head_hash: super::hex(&rows[rows.len() - 1].hash),
                })
            })
            .collect()
    }

    fn raw_rows(&self, run_id: Option<&str>) -> Result<Vec<RawRow>, StoreError> {
        Ok(match run_id {
            Some(id) => self.runs.get(id).cloned().unwrap_or_default(),
            None => self.runs.values().flatten().cloned().collect(),
        })
    }

    fn claim_lease(&mut self, claim: &LeaseClaim) -> Result<Option<Lease>, StoreError> {
        let now = now_ms();
        let key = (claim.run_id.clone(), claim.unit.clone());
        let epoch = match self.leases.get(&key) {
            Some((held, expires))
                if *expires > now && held.holder == claim.holder && claim.unit == DRIVER_UNIT =>
            {
                held.epoch
            }
            Some((_, expires)) if *expires > now => return Ok(None),
            Some((held, _)) => held.epoch + 1,
            None => 1,
        };
        let ttl = claim.ttl_ms.min(i64::MAX as u64 / 2) as i64;
        let lease = Lease::granted(claim, epoch, ttl);
        self.leases.insert(key, (lease.clone(), now + ttl));
        Ok(Some(lease))
    }

    fn renew_lease(&mut self, lease: &Lease, ttl_ms: u64) -> Result<bool, StoreError> {
        let key = (lease.run_id.clone(), lease.unit.clone());
        match self.leases.get_mut(&key) {
            Some((held, expires)) if held.same_holding(lease) => {
                *expires = now_ms() + ttl_ms.min(i64::MAX as u64 / 2) as i64;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn release_lease(&mut self, lease: &Lease) -> Result<(), StoreError> {
        let key = (lease.run_id.clone(), lease.unit.clone());
        if self
            .leases
            .get(&key)
            .is_some_and(|(held, _)| held.same_holding(lease))
        {
            self.leases.remove(&key);
        }
        Ok(())
    }

    fn leases(&self, run_id: Option<&str>) -> Result<Vec<Lease>, StoreError> {
        let now = now_ms();
        Ok(self
            .leases
            .values()
            .filter(|(l, _)| run_id.is_none_or(|r| l.run_id == r))
            .map(|(l, expires)| Lease {
                remaining_ms: expires - now,
                ..l.clone()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, NewEvent, RunKind, RunStarted};
    use crate::store::{RunQuery, Verifier};

    /// Found by fuzzing (log_rows): without serde_json's `float_roundtrip`, a float in a stored
    /// body (here a number input) could read back one ULP off, so `read_run` returned a
    /// different event than was appended.
    #[test]
    fn floats_in_bodies_read_back_exactly() {
        let mut inputs = std::collections::BTreeMap::new();
        inputs.insert("x".to_string(), serde_json::json!(1.0045222191974728e-89));
        let mut started = RunStarted::for_test(
            RunKind::Workflow,
            "f",
            serde_json::json!({"name": "f", "steps": []}),
            String::new(),
        );
        started.inputs = inputs;
        let event = Event::RunStarted(Box::new(started));
        let mut store = MemoryStore::new();
        let new = NewEvent {
            id: "1".into(),
            time: "t".into(),
            event: event.clone(),
        };
        store.append("R", 0, &[new]).unwrap();
        assert_eq!(store.read_run("R").unwrap()[0].event, event);
    }

    /// A chain of an id no cortex writes (`event::is_chain_id`), however well it links, fails
    /// verification at its first row, is folded by no reader, listed by no query and imported
    /// nowhere; the ids of the log's other chains pass.
    #[test]
    fn a_chain_of_an_id_no_cortex_writes_is_bad_wherever_it_is_read() {
        let started = RunStarted::for_test(
            RunKind::Workflow,
            "f",
            serde_json::json!({"name": "f", "steps": []}),
            String::new(),
        );
        let new = NewEvent {
            id: "1".into(),
            time: "2026-01-01T00:00:00.000Z".into(),
            event: Event::RunStarted(Box::new(started)),
        };
        let mut store = MemoryStore::new();
        let (bad, good) = ("../../tmp/victim", "0000000000000000000000000R");
        for id in [bad, good] {
            store.append(id, 0, std::slice::from_ref(&new)).unwrap();
        }
        let report = store.verify(None).unwrap();
        assert!(!report.ok);
        assert_eq!(report.failures.len(), 1, "{report:?}");
        assert_eq!(report.failures[0].run_id, bad);
        assert_eq!(report.failures[0].seq, 0);
        assert!(report.failures[0].reason.contains("is no run id"));
        let read = crate::execute::load_state(&store, bad);
        assert!(
            matches!(&read, Err(StoreError::Corrupt { reason, .. }) if reason.contains("is no run id")),
            "{read:?}"
        );
        assert!(crate::execute::replay_verified(&store, bad).is_err());
        assert!(crate::execute::load_state(&store, good).is_ok());
        let listed: Vec<String> = store
            .list_runs(&RunQuery::default())
            .unwrap()
            .into_iter()
            .map(|e| e.run_id)
            .collect();
        assert_eq!(listed, [good]);
        assert_eq!(store.count_runs(&RunQuery::default()).unwrap(), 1);
        let checked = Verifier::from_point(bad, 1, &[0; 32]);
        assert!(checked.first_bad().is_some());
        let mut other = MemoryStore::new();
        let refused = other.import_rows(&store.raw_rows(Some(bad)).unwrap());
        assert!(refused.is_err_and(|e| e.to_string().contains("is no run id")));
        assert!(other.raw_rows(None).unwrap().is_empty());
        for id in [
            "notify:0000000000000000000000000R",
            "schedule:workflow:nightly build",
            "schedule:scenario:x",
            "agents",
            good,
        ] {
            assert!(crate::event::is_chain_id(id.as_bytes()), "{id}");
        }
        for id in [
            "notify:../x",
            "schedule:job:x",
            "schedule:workflow:",
            "schedule:workflow:a\nb",
            "agents2",
            "",
        ] {
            assert!(!crate::event::is_chain_id(id.as_bytes()), "{id}");
        }
    }
}
