//! A store that fails on purpose: wraps another store and turns one chosen append into a
//! storage fault (busy, disk full, read-only, I/O), for tests of what a fault does to a run.

use super::{AtHead, DecideAtHead, EventStore, RawRow, RunHead, Snapshot, StoreError};
use crate::event::{NewEvent, Recorded};

/// The kinds of storage fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Busy,
    DiskFull,
    ReadOnly,
    Io,
}

impl Fault {
    pub const ALL: [Fault; 4] = [Fault::Busy, Fault::DiskFull, Fault::ReadOnly, Fault::Io];

    fn error(self) -> StoreError {
        match self {
            Fault::Busy => StoreError::Busy,
            Fault::DiskFull => StoreError::disk_full("database or disk is full (injected)"),
            Fault::ReadOnly => {
                StoreError::ReadOnly("attempt to write a readonly database (injected)".into())
            }
            Fault::Io => StoreError::Sqlite("disk I/O error (injected)".into()),
        }
    }
}

/// `inner`, except that append number `fail_at` (0-based, counted from creation, `append` and
/// `append_at_head` alike) fails with `fault` and writes nothing. As in SQLite, a busy log
/// fails before the decision at the head is made (the write lock is not had); the other
/// faults fail the write after it: the decision is made, then nothing of it is stored.
pub struct FaultyStore<S> {
    pub inner: S,
    pub fail_at: Option<u64>,
    pub fault: Fault,
    appends: u64,
}

impl<S> FaultyStore<S> {
    pub fn new(inner: S, fail_at: Option<u64>, fault: Fault) -> Self {
        FaultyStore {
            inner,
            fail_at,
            fault,
            appends: 0,
        }
    }
}

impl<S: EventStore> EventStore for FaultyStore<S> {
    fn append(
        &mut self,
        run_id: &str,
        expected_seq: u64,
        events: &[NewEvent],
    ) -> Result<Vec<Recorded>, StoreError> {
        let n = self.appends;
        self.appends += 1;
        if self.fail_at == Some(n) {
            return Err(self.fault.error());
        }
        self.inner.append(run_id, expected_seq, events)
    }

    fn append_at_head(
        &mut self,
        run_id: &str,
        known_seq: u64,
        decide: &mut DecideAtHead<'_>,
    ) -> Result<AtHead, StoreError> {
        let n = self.appends;
        self.appends += 1;
        if self.fail_at != Some(n) {
            return self.inner.append_at_head(run_id, known_seq, decide);
        }
        if self.fault == Fault::Busy {
            return Err(self.fault.error());
        }
        let caught_up = self.inner.read_run_from(run_id, known_seq)?;
        // The decision is made against what is there; its write fails.
        let _ = decide(&caught_up, &self.inner);
        Err(self.fault.error())
    }

    fn import_runs(&mut self, runs: &[&[RawRow]]) -> Result<(), StoreError> {
        self.inner.import_runs(runs)
    }

    fn set_durability(&self, durability: crate::definition::Durability) -> Result<(), StoreError> {
        self.inner.set_durability(durability)
    }

    fn set_lock_wait(&self, wait: Option<std::time::Duration>) -> Result<(), StoreError> {
        self.inner.set_lock_wait(wait)
    }

    fn bound_lock_wait(&self, bound: std::time::Duration) -> Result<(), StoreError> {
        self.inner.bound_lock_wait(bound)
    }

    fn read_run(&self, run_id: &str) -> Result<Vec<Recorded>, StoreError> {
        self.inner.read_run(run_id)
    }

    fn fold_rows(
        &self,
        run_id: &str,
        seq: u64,
        f: &mut super::RowSink<'_>,
    ) -> Result<(), StoreError> {
        self.inner.fold_rows(run_id, seq, f)
    }

    fn load_snapshot(&self, run_id: &str) -> Result<Option<Snapshot>, StoreError> {
        self.inner.load_snapshot(run_id)
    }

    fn snapshots(&self, run_id: Option<&str>) -> Result<Vec<Snapshot>, StoreError> {
        self.inner.snapshots(run_id)
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.inner.save_snapshot(snapshot)
    }

    fn list_runs(&self, query: &super::RunQuery) -> Result<Vec<super::RunEntry>, StoreError> {
        self.inner.list_runs(query)
    }

    fn index_rows(&self) -> Result<Option<Vec<super::RunEntry>>, StoreError> {
        self.inner.index_rows()
    }
    fn rebuild_index(&mut self) -> Result<Option<super::IndexRepair>, StoreError> {
        self.inner.rebuild_index()
    }
    fn begin_view(&self) -> Result<(), StoreError> {
        self.inner.begin_view()
    }
    fn end_view(&self) {
        self.inner.end_view()
    }

    fn runs(&self) -> Result<Vec<RunHead>, StoreError> {
        self.inner.runs()
    }

    fn raw_rows(&self, run_id: Option<&str>) -> Result<Vec<RawRow>, StoreError> {
        self.inner.raw_rows(run_id)
    }
    fn claim_lease(
        &mut self,
        claim: &super::LeaseClaim,
    ) -> Result<Option<super::Lease>, StoreError> {
        self.inner.claim_lease(claim)
    }
    fn renew_lease(&mut self, lease: &super::Lease, ttl_ms: u64) -> Result<bool, StoreError> {
        self.inner.renew_lease(lease, ttl_ms)
    }
    fn release_lease(&mut self, lease: &super::Lease) -> Result<(), StoreError> {
        self.inner.release_lease(lease)
    }
    fn leases(&self, run_id: Option<&str>) -> Result<Vec<super::Lease>, StoreError> {
        self.inner.leases(run_id)
    }
    fn wake(&mut self, run_id: &str) -> Result<(), StoreError> {
        self.inner.wake(run_id)
    }
    fn drivers_leased(&self) -> bool {
        self.inner.drivers_leased()
    }
}
