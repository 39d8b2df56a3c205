//! The event log: an append-only, hash-chained sequence of events per run, behind a trait.
//!
//! Only this module speaks SQL. `SqliteStore` is the real store; `MemoryStore` serves the
//! property tests. Both chain events the same way (`hash`) and are verified the same way
//! (`verify`), from the exact stored bytes. A writer that must decide from the newest state —
//! an operator beside a busy driver — decides inside the append (`append_at_head`), so it
//! never races anyone.

mod anchor;
mod faulty;
mod fold;
mod hash;
mod index;
mod jsonl;
mod lease;
mod listen;
mod location;
mod memory;
mod migrations;
mod pg_schema;
mod postgres;
mod sqlite;
mod verify;

pub use anchor::{Anchor, check_anchors, parse_anchors};
pub use faulty::{Fault, FaultyStore};
pub use fold::{
    FoldRow, RowSink, stream_run, stream_run_checked, stream_run_checked_upto, stream_run_verified,
};
pub use hash::{CHAIN_CONTEXT, GENESIS, SNAPSHOT_CONTEXT, event_hash, hex, snapshot_digest};
pub use index::{
    IndexRepair, RunEntry, RunQuery, check_index, check_index_run, entries_from_log,
    entry_from_log, index_rows_without_events, run_entry,
};
pub use jsonl::{LogFile, export_line, read_line, verify_export};
pub use lease::{DRIVER_UNIT, Lease, LeaseClaim, NOTIFY_UNIT};
pub use listen::Listener;
pub use location::Location;
pub use memory::MemoryStore;
pub use migrations::SCHEMA_VERSION;
pub use pg_schema::SCHEMA_VERSION as PG_SCHEMA_VERSION;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// How full the file system holding `file` is, when it is (almost no space or no inode
/// free): `DIR has N KiB free`, as the log's own errors say it.
pub fn disk_full_at(file: &std::path::Path) -> Option<String> {
    sqlite::disk_full(file)
}
pub use verify::{BadEvent, RawRow, RowRef, Verifier, VerifyReport, bad_chain_id, verify_rows};

use crate::definition::Durability;
use crate::event::{NewEvent, Recorded};

/// Errors from the event log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended to this run first: the caller's view is stale.
    #[error(
        "run {} moved on: expected to append at seq {expected}, but the log is at {actual}",
        crate::render::one_line(.run_id)
    )]
    Conflict {
        run_id: String,
        expected: u64,
        actual: u64,
    },
    #[error("the event log at {path} could not be opened: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the event log is busy (another process holds a write lock); try again")]
    Busy,
    #[error("the event log is read-only: {0}")]
    ReadOnly(String),
    /// A PostgreSQL server that refuses writes to the session: a standby (a read replica), or
    /// `default_transaction_read_only` set for the role or the database.
    #[error(
        "the database at {target} accepts no writes ({reason}): it is a standby (a read replica), or read-only for this role or database"
    )]
    ReadOnlyDatabase { target: String, reason: String },
    /// The log's schema is newer than this cortex knows: it is read, never written.
    #[error(
        "the event log at {path} was written by a newer cortex (schema version {found}; this cortex knows versions up to {known}): it will not write to it"
    )]
    NewerLog {
        path: String,
        found: i64,
        known: i64,
    },
    /// A file that is not an event log (no `events` table), opened for reading. `blank`: it
    /// has no tables at all — a log whose first opener was stopped before it set it up, or an
    /// empty file.
    #[error("{path} is not a cortex event log (it has no events table)")]
    NotALog { path: String, blank: bool },
    /// A PostgreSQL database holding cortex's run index but not the events table it indexes:
    /// the log's events were removed.
    #[error(
        "the database at {target} holds cortex's run index but no events table: the log's events were removed"
    )]
    EventsGone { target: String },
    /// A PostgreSQL database (or schema), or a SQLite file, holding tables named as cortex's
    /// that cortex did not make: another application's. Neither read nor written.
    #[error(
        "the database at {target} holds tables named as cortex's ({tables}) that are not a cortex event log (cortex made none of them): it will neither read nor write them"
    )]
    Foreign {
        target: String,
        tables: String,
        /// A SQLite file (else a PostgreSQL database): the hint differs.
        sqlite: bool,
    },
    /// Events still in the write-ahead file of a log on read-only media, which SQLite can
    /// read only by creating the `-shm` file beside it.
    #[error(
        "{path}-wal holds events not yet in {path}, and they cannot be read here: reading them needs {path}-shm, which cannot be created in a read-only folder"
    )]
    WalUnreadable { path: String },
    /// The SQLite file a writer opened is no longer at its path (removed, or replaced by
    /// another file): nothing more is written into it.
    #[error(
        "the log file {path} was removed or replaced while run {run_id} was being driven: nothing from its seq {seq} on is kept (the events before went with the file that was removed)"
    )]
    Removed {
        path: String,
        run_id: String,
        seq: u64,
    },
    /// No room to write: the disk is full (`StoreError::disk_full`), or a file of the log
    /// reached the process's file-size limit. The text says which.
    #[error("{0}")]
    Full(String),
    #[error("event log error: {0}")]
    Sqlite(String),
    /// The log could not be opened or read for want of file descriptors (`ulimit -n`, or the
    /// system's limit): not damage. The text says which limit, with its value.
    #[error("{0}")]
    OutOfFiles(String),
    /// SQLite found the log's file damaged (`SQLITE_CORRUPT`, `SQLITE_NOTADB`): pages of it
    /// do not read as what they should be.
    /// A log of a schema with the run index whose table `runs` is gone (dropped by hand):
    /// every write keeps the index up to date, so none is made until `log reindex` makes
    /// the table again.
    #[error(
        "the run index of {path} (its table `runs`) is missing: nothing is written to the log without it"
    )]
    IndexMissing { path: String },
    #[error("the event log's file is damaged: {0}")]
    Damaged(String),
    #[error("event log error (PostgreSQL): {0}")]
    Postgres(String),
    /// The database cannot be reached (down, restarting past the patience, refused), or the
    /// connection was lost in the middle of a write whose outcome it then says.
    #[error("the event log at {target} cannot be reached: {reason}")]
    Unreachable { target: String, reason: String },
    /// The server answered and turned the connection away: no database of that name, or the
    /// user or password not accepted.
    #[error("the server of {target} refused the connection: {reason}")]
    Rejected { target: String, reason: String },
    /// The database refused a write for lack of privileges (the role cortex connects as).
    #[error("the event log refused the write: {0}")]
    Refused(String),
    /// The value that says where the log is cannot be used (`--db`, `CORTEX_DB`, `db`).
    #[error("{0}")]
    BadLocation(String),
    /// A SQLite log to be made in a folder that does not exist: cortex makes no folders for
    /// it (a typo in `--db` made a tree of them), but the home and those in it.
    #[error("there is no folder {folder} to make the log {path} in")]
    NoFolder { path: String, folder: String },
    /// The database's search_path (the URL's `options`, or the role's) names no schema that
    /// exists there: nothing can be read or created in it.
    #[error(
        "the event log at {target}: its search_path names the schema {search_path}, which does not exist in that database"
    )]
    NoSchema { target: String, search_path: String },
    /// What this kind of store cannot do (leases in a store kept in memory for tests).
    #[error("this event log does not keep {0}")]
    Unsupported(String),
    /// A run whose hash chain does not verify (`Verifier`), found by a driver replaying it:
    /// nothing is decided on it.
    #[error(
        "run {} does not verify: event #{seq}: {reason}; cortex will not act on a run whose log was changed",
        crate::render::one_line(.run_id)
    )]
    Unverified {
        run_id: String,
        seq: u64,
        reason: String,
    },
    /// An event stored with an event schema version newer than this cortex reads (written by
    /// a newer cortex): not damage — its chain still verifies — but nothing here can decode it.
    #[error(
        "stored event {}#{seq} is of event schema version {version}, newer than this cortex reads (up to {known}): it was written by a newer cortex",
        crate::render::one_line(.run_id)
    )]
    NewerEvent {
        run_id: String,
        seq: u64,
        version: i64,
        known: u32,
    },
    #[error("stored event {}#{seq} cannot be read: {reason}", crate::render::one_line(.run_id))]
    Corrupt {
        run_id: String,
        seq: u64,
        reason: String,
    },
}

impl StoreError {
    /// `Full`, the disk being full, as `why` (the store's own words) says.
    pub fn disk_full(why: impl std::fmt::Display) -> StoreError {
        StoreError::Full(format!("the disk is full: {why}"))
    }
}

/// One run as listed: its id, its first event and how far it has got.
#[derive(Debug, Clone)]
pub struct RunHead {
    pub run_id: String,
    pub first: Recorded,
    pub events: u64,
    pub head_hash: String,
}

/// The first id after every id starting with `prefix` (`schedule:` → `schedule;`): the end of
/// the range of ids with that prefix, for a scan of the key's index. A prefix ending in a
/// character that cannot be incremented has its range end at the last id.
pub(crate) fn past_prefix(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    char::MAX.to_string()
}

/// What a decision at the head saw and made (`EventStore::append_at_head`).
#[derive(Debug, Clone, Default)]
pub struct AtHead {
    /// The events others appended after the caller's known seq, oldest first: already in the
    /// log, folded by the decision before it decided.
    pub caught_up: Vec<Recorded>,
    /// What the decision appended right after them, as recorded.
    pub appended: Vec<Recorded>,
}

/// A decision made at a run's head, under the log's write lock: given the events appended
/// after the caller's known seq (and the store as it stands inside the lock, to read more of
/// the run if it must), fold them and return the events to append — none to append nothing.
/// It runs a pure decision and nothing slow: every other writer waits for it.
pub type DecideAtHead<'d> = dyn FnMut(&[Recorded], &dyn EventStore) -> Vec<NewEvent> + 'd;

/// A snapshot of a run's state as stored: a cache of the fold at event `seq` (whose hash was
/// `hash`), sealed by `digest` (`snapshot_digest`, hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub run_id: String,
    pub seq: u64,
    pub hash: String,
    pub state: String,
    pub digest: String,
}

impl Snapshot {
    /// A snapshot of `state` taken after event `seq` of `run_id` (hash `hash`), sealed.
    pub fn seal(run_id: &str, seq: u64, hash: &str, state: String) -> Snapshot {
        let digest = hex(&snapshot_digest(run_id, seq, hash, &state));
        Snapshot {
            run_id: run_id.to_string(),
            seq,
            hash: hash.to_string(),
            state,
            digest,
        }
    }

    /// Whether the digest still matches what it seals (nobody changed the snapshot without
    /// recomputing it).
    pub fn is_sealed(&self) -> bool {
        hex(&snapshot_digest(
            &self.run_id,
            self.seq,
            &self.hash,
            &self.state,
        )) == self.digest
    }
}

/// An append-only event log.
pub trait EventStore: Send {
    /// Append `events` to `run_id`, which must currently hold exactly `expected_seq` events.
    /// All or nothing: either every event is stored and chained, or none is.
    fn append(
        &mut self,
        run_id: &str,
        expected_seq: u64,
        events: &[NewEvent],
    ) -> Result<Vec<Recorded>, StoreError>;

    /// Decide and append at the head of `run_id`, atomically: under the log's write lock, read
    /// the events appended after `known_seq` (what the caller has seen), hand them to `decide`,
    /// chain and insert the events it returns after them, commit. Nothing can land between what
    /// `decide` saw and what it appends, so there is no conflict and nothing to retry: a fact
    /// is decided against the state it actually follows, in one transaction, whatever other
    /// writers do. All or nothing, like `append`. A `known_seq` past the head is a `Conflict`.
    fn append_at_head(
        &mut self,
        run_id: &str,
        known_seq: u64,
        decide: &mut DecideAtHead<'_>,
    ) -> Result<AtHead, StoreError>;

    /// Store rows copied from another log as they are (`log copy`), for several runs in one
    /// transaction: each slice consecutive events of one run, chained and hashed, continuing
    /// that run's head here (its first events for a run this log does not hold). All or
    /// nothing: rows that do not verify, or do not continue this log's chain of their run,
    /// refuse the whole import, and so does a fault of the log midway — a group of runs whose
    /// events name each other (a parent and its `uses:` children) lands whole or not at all,
    /// and a long run never lands as a prefix its copy was cut short in. Nothing is re-hashed.
    fn import_runs(&mut self, runs: &[&[RawRow]]) -> Result<(), StoreError>;

    /// `import_runs` of one run's rows.
    fn import_rows(&mut self, rows: &[RawRow]) -> Result<(), StoreError> {
        self.import_runs(&[rows])
    }

    /// How hard appends try to survive a crash, from now on (a run's own configuration may
    /// ask for `full`). Stores without a choice ignore it.
    fn set_durability(&self, _durability: Durability) -> Result<(), StoreError> {
        Ok(())
    }

    /// How long a statement waits for a lock another connection holds before it fails with
    /// `Busy` (SQLite's `busy_timeout`), from now on; `None` puts back the store's own wait.
    /// A driver waiting out a log another process holds locked tries in short turns
    /// (`execute::Patience`), so that a stop is heard between them. Stores without such locks
    /// ignore it.
    fn set_lock_wait(&self, _wait: Option<std::time::Duration>) -> Result<(), StoreError> {
        Ok(())
    }

    /// The store's own wait for a lock (what `set_lock_wait(None)` puts back) is at most
    /// `bound` from now on: the whole wait the one running cortex gives a locked log
    /// (`CORTEX_LOG_LOCK_WAIT`), which a first try must not outlast on its own (SQLite waited
    /// its 10 s before a wait of 3 s began to count). Stores without such locks ignore it.
    fn bound_lock_wait(&self, _bound: std::time::Duration) -> Result<(), StoreError> {
        Ok(())
    }

    /// Every event of one run, in order.
    fn read_run(&self, run_id: &str) -> Result<Vec<Recorded>, StoreError>;

    /// The events of one run from `seq` on, in order.
    fn read_run_from(&self, run_id: &str, seq: u64) -> Result<Vec<Recorded>, StoreError> {
        let mut all = self.read_run(run_id)?;
        all.retain(|r| r.seq >= seq);
        Ok(all)
    }

    /// At most `limit` events of one run from `seq` on, in order: a page of them, for a reader
    /// that sends them on as they are taken (an event stream) and must not hold a whole run.
    /// Stores that can ask for the page alone; this default reads the rest and cuts it.
    fn read_run_page(
        &self,
        run_id: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<Recorded>, StoreError> {
        let mut page = self.read_run_from(run_id, seq)?;
        page.truncate(limit);
        Ok(page)
    }

    /// Hand the events of one run from `seq` on (from 0: every row of the run, as `read_run`
    /// reads them), in order, to `f`, each as the columns a fold
    /// reads (`FoldRow`), borrowed where the store holds them, as the store steps through them:
    /// nothing is collected. Checks no more than `read_run_from` does (the chain is
    /// `verify`'s; a driver's replay verifies as it goes, `stream_run_verified`). The first
    /// error `f` returns stops the stream and is returned. Stores that can should stream their
    /// rows; this default reads them all first, as stored (`raw_rows`), so that the bytes a
    /// verifying replay hashes are the stored ones, never re-serialised.
    fn fold_rows(&self, run_id: &str, seq: u64, f: &mut RowSink<'_>) -> Result<(), StoreError> {
        fold::fold_stored(&self.raw_rows(Some(run_id))?, seq, f)
    }

    /// Every run, oldest first.
    fn runs(&self) -> Result<Vec<RunHead>, StoreError>;

    /// The streams whose id starts with `prefix` (`event::SCHEDULE_PREFIX`), each with how many events it
    /// holds, by id. Stores with an index of the events' ids answer from it without decoding
    /// any event (`runs` decodes every run's first event: a cost growing with history that a
    /// scheduler pass, every minute, must not pay).
    fn streams_with_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>, StoreError> {
        Ok(self
            .runs()?
            .into_iter()
            .filter(|h| h.run_id.starts_with(prefix))
            .map(|h| (h.run_id, h.events))
            .collect())
    }

    /// The runs `query` selects, newest first, from the run index where the store keeps one
    /// (its cost then does not grow with the number of runs), else by scanning the log.
    fn list_runs(&self, query: &RunQuery) -> Result<Vec<RunEntry>, StoreError> {
        index::scan(self, query)
    }

    /// How many runs `query` selects (its limit aside).
    fn count_runs(&self, query: &RunQuery) -> Result<u64, StoreError> {
        let mut all = query.clone();
        all.limit = None;
        Ok(self.list_runs(&all)?.len() as u64)
    }

    /// Begin reading one consistent view of the log: every read until `end_view` sees the log
    /// as it was at the first of them, whatever other processes append meanwhile (PostgreSQL:
    /// a REPEATABLE READ, read-only transaction; SQLite: one deferred read transaction, a WAL
    /// snapshot). What compares one read with another (`log verify`: the chains, the run
    /// index, the snapshots) reads inside one, or it would see appends between its reads as
    /// disagreements. A store read from memory needs nothing.
    fn begin_view(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// End the view `begin_view` began (nothing was written in it: it is rolled back).
    fn end_view(&self) {}

    /// Every row of the run index as stored, for `log verify`; None if the store keeps none.
    fn index_rows(&self) -> Result<Option<Vec<RunEntry>>, StoreError> {
        Ok(None)
    }

    /// Damage to the run index that a lookup of this store met and went round (a row no
    /// cortex writes, taken from its run's events; a row whose run has no events, skipped),
    /// for a warning: what it was.
    fn index_damage(&self) -> Option<String> {
        None
    }

    /// Rebuild the run index from the events, in one transaction that excludes every writer
    /// (`log reindex`): each run's row made what its events say (`entry_from_log`), rows of
    /// runs with no events removed. What it changed; None if the store keeps no index.
    fn rebuild_index(&mut self) -> Result<Option<IndexRepair>, StoreError> {
        Ok(None)
    }

    /// The stored bytes of every event (of one run, or all), for verification.
    fn raw_rows(&self, run_id: Option<&str>) -> Result<Vec<RawRow>, StoreError>;

    /// Verify the chain of one run, or of all, from the stored bytes. Stores that can should
    /// stream their rows through a `Verifier` without copying them.
    fn verify(&self, run_id: Option<&str>) -> Result<VerifyReport, StoreError> {
        Ok(verify_rows(&self.raw_rows(run_id)?))
    }

    /// The latest snapshot of a run's state, if the store keeps them, as stored (sealed or
    /// not: the reader checks).
    fn load_snapshot(&self, _run_id: &str) -> Result<Option<Snapshot>, StoreError> {
        Ok(None)
    }

    /// Every stored snapshot (of one run, or all), for `log verify`.
    fn snapshots(&self, _run_id: Option<&str>) -> Result<Vec<Snapshot>, StoreError> {
        Ok(Vec::new())
    }

    /// Keep a snapshot (replacing the run's previous one).
    fn save_snapshot(&mut self, _snapshot: &Snapshot) -> Result<(), StoreError> {
        Ok(())
    }

    /// What a check of the file holding the log found wrong with it (SQLite's `quick_check`:
    /// pages, indexes and tables that do not read as they should), none if it is sound or
    /// the store has no such check (PostgreSQL checks its own pages).
    fn check_file(&self) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    /// The first event of a run (its `run_started`), if any.
    fn first_event(&self, run_id: &str) -> Result<Option<Recorded>, StoreError> {
        Ok(self.read_run(run_id)?.into_iter().next())
    }

    /// The hash (hex) of event `seq` of a run, if it exists.
    fn hash_at(&self, run_id: &str, seq: u64) -> Result<Option<String>, StoreError> {
        Ok(self
            .read_run_from(run_id, seq)?
            .first()
            .filter(|r| r.seq == seq)
            .map(|r| r.hash.clone()))
    }
    /// The events of type `type_name` (of one run, or of every run), in log order: only they
    /// are decoded (`log verify` finds the attempt logs among a million events this way).
    fn events_of_type(
        &self,
        run_id: Option<&str>,
        type_name: &str,
    ) -> Result<Vec<Recorded>, StoreError> {
        let runs: Vec<String> = match run_id {
            Some(id) => vec![id.to_string()],
            None => self.runs()?.into_iter().map(|r| r.run_id).collect(),
        };
        let mut found = Vec::new();
        for run in runs {
            found.extend(
                self.read_run(&run)?
                    .into_iter()
                    .filter(|r| r.event.type_name() == type_name),
            );
        }
        Ok(found)
    }

    /// Claim a unit of a run (`LeaseClaim`): granted (epoch 1) if nobody holds it, taken
    /// over (epoch + 1) if its lease lapsed by the database's clock; none while it is held.
    /// A run's driver lease (`DRIVER_UNIT`) held by this very holder is extended (same epoch);
    /// a step's or phase's is refused to its holder too: another thread of the same process
    /// (a worker's drive beside its helper) claiming the unit it runs would otherwise share
    /// its lease, and let it go when its own start is refused.
    /// Never waits for another claimer. Stores without leases say so.
    fn claim_lease(&mut self, _claim: &LeaseClaim) -> Result<Option<Lease>, StoreError> {
        Err(StoreError::Unsupported("leases".into()))
    }

    /// Extend `lease` to `ttl_ms` from now, if it is still this holding (same holder and
    /// epoch): false if it was taken over or released.
    fn renew_lease(&mut self, _lease: &Lease, _ttl_ms: u64) -> Result<bool, StoreError> {
        Err(StoreError::Unsupported("leases".into()))
    }

    /// Give `lease` up, if it is still this holding.
    fn release_lease(&mut self, _lease: &Lease) -> Result<(), StoreError> {
        Err(StoreError::Unsupported("leases".into()))
    }

    /// The leases of `run_id` (all runs: none), each with its time left by the database's
    /// clock now.
    fn leases(&self, _run_id: Option<&str>) -> Result<Vec<Lease>, StoreError> {
        Ok(Vec::new())
    }

    /// Tell the workers listening to this log (`Listener`) to look at `run_id` now, as an
    /// append does at its commit: a driver that let the run go without appending (it waits
    /// for a worker offering other tags, or was handed back) wakes the next driver at once,
    /// not at its next poll. A store nobody listens to (SQLite: workers poll) does nothing.
    fn wake(&mut self, _run_id: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Whether every driver of a run in this log holds the run's driver lease while it drives
    /// (PostgreSQL: a command claims it before its first event, a worker before it takes the
    /// run): the lease alone says whether a run is driven, never the pid its log names (a
    /// process of that pid alive on this host may have let the run go long ago: a worker
    /// that let it wait, a `cortex serve`).
    fn drivers_leased(&self) -> bool {
        false
    }

    /// Whether this log keeps the whole output of attempts itself (PostgreSQL: every host
    /// sharing it reads them), beside the files in the home that ran them. SQLite keeps only
    /// the files beside it.
    fn keeps_attempt_output(&self) -> bool {
        false
    }

    /// Store `bytes` of the whole output of the attempt whose `attempt_log` names `file`, at
    /// `offset` in it. At offset 0 the output is written afresh: what was kept of it before
    /// (an attempt run again under the same name) is replaced, in the same transaction.
    fn write_attempt_output(
        &mut self,
        _run_id: &str,
        _file: &str,
        _offset: u64,
        _bytes: &[u8],
    ) -> Result<(), StoreError> {
        Err(StoreError::Unsupported("attempt output".into()))
    }

    /// The kept output of the attempt whose `attempt_log` names `file`, from `from` on: about
    /// `max` bytes of it at most (whole pieces, so maybe more; an empty answer is its end), and
    /// only as far as its pieces follow each other. None when this log keeps none of it.
    fn read_attempt_output(
        &self,
        _run_id: &str,
        _file: &str,
        _from: u64,
        _max: usize,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
}

/// A boxed store is a store: every method is the boxed store's own (none falls back to the
/// trait's defaults), so a log chosen at run time (`Location::open`) is used as any store.
impl<S: EventStore + ?Sized> EventStore for Box<S> {
    fn append(
        &mut self,
        run_id: &str,
        expected_seq: u64,
        events: &[NewEvent],
    ) -> Result<Vec<Recorded>, StoreError> {
        (**self).append(run_id, expected_seq, events)
    }
    fn append_at_head(
        &mut self,
        run_id: &str,
        known_seq: u64,
        decide: &mut DecideAtHead<'_>,
    ) -> Result<AtHead, StoreError> {
        (**self).append_at_head(run_id, known_seq, decide)
    }
    fn import_runs(&mut self, runs: &[&[RawRow]]) -> Result<(), StoreError> {
        (**self).import_runs(runs)
    }
    fn set_durability(&self, durability: Durability) -> Result<(), StoreError> {
        (**self).set_durability(durability)
    }
    fn set_lock_wait(&self, wait: Option<std::time::Duration>) -> Result<(), StoreError> {
        (**self).set_lock_wait(wait)
    }
    fn bound_lock_wait(&self, bound: std::time::Duration) -> Result<(), StoreError> {
        (**self).bound_lock_wait(bound)
    }
    fn read_run(&self, run_id: &str) -> Result<Vec<Recorded>, StoreError> {
        (**self).read_run(run_id)
    }
    fn read_run_from(&self, run_id: &str, seq: u64) -> Result<Vec<Recorded>, StoreError> {
        (**self).read_run_from(run_id, seq)
    }
    fn read_run_page(
        &self,
        run_id: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<Recorded>, StoreError> {
        (**self).read_run_page(run_id, seq, limit)
    }
    fn fold_rows(&self, run_id: &str, seq: u64, f: &mut RowSink<'_>) -> Result<(), StoreError> {
        (**self).fold_rows(run_id, seq, f)
    }
    fn runs(&self) -> Result<Vec<RunHead>, StoreError> {
        (**self).runs()
    }
    fn streams_with_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>, StoreError> {
        (**self).streams_with_prefix(prefix)
    }
    fn list_runs(&self, query: &RunQuery) -> Result<Vec<RunEntry>, StoreError> {
        (**self).list_runs(query)
    }
    fn count_runs(&self, query: &RunQuery) -> Result<u64, StoreError> {
        (**self).count_runs(query)
    }
    fn index_rows(&self) -> Result<Option<Vec<RunEntry>>, StoreError> {
        (**self).index_rows()
    }
    fn index_damage(&self) -> Option<String> {
        (**self).index_damage()
    }
    fn rebuild_index(&mut self) -> Result<Option<IndexRepair>, StoreError> {
        (**self).rebuild_index()
    }
    fn begin_view(&self) -> Result<(), StoreError> {
        (**self).begin_view()
    }
    fn end_view(&self) {
        (**self).end_view()
    }
    fn check_file(&self) -> Result<Option<String>, StoreError> {
        (**self).check_file()
    }
    fn raw_rows(&self, run_id: Option<&str>) -> Result<Vec<RawRow>, StoreError> {
        (**self).raw_rows(run_id)
    }
    fn verify(&self, run_id: Option<&str>) -> Result<VerifyReport, StoreError> {
        (**self).verify(run_id)
    }
    fn load_snapshot(&self, run_id: &str) -> Result<Option<Snapshot>, StoreError> {
        (**self).load_snapshot(run_id)
    }
    fn snapshots(&self, run_id: Option<&str>) -> Result<Vec<Snapshot>, StoreError> {
        (**self).snapshots(run_id)
    }
    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StoreError> {
        (**self).save_snapshot(snapshot)
    }
    fn first_event(&self, run_id: &str) -> Result<Option<Recorded>, StoreError> {
        (**self).first_event(run_id)
    }
    fn hash_at(&self, run_id: &str, seq: u64) -> Result<Option<String>, StoreError> {
        (**self).hash_at(run_id, seq)
    }
    fn events_of_type(
        &self,
        run_id: Option<&str>,
        type_name: &str,
    ) -> Result<Vec<Recorded>, StoreError> {
        (**self).events_of_type(run_id, type_name)
    }
    fn claim_lease(&mut self, claim: &LeaseClaim) -> Result<Option<Lease>, StoreError> {
        (**self).claim_lease(claim)
    }
    fn renew_lease(&mut self, lease: &Lease, ttl_ms: u64) -> Result<bool, StoreError> {
        (**self).renew_lease(lease, ttl_ms)
    }
    fn release_lease(&mut self, lease: &Lease) -> Result<(), StoreError> {
        (**self).release_lease(lease)
    }
    fn leases(&self, run_id: Option<&str>) -> Result<Vec<Lease>, StoreError> {
        (**self).leases(run_id)
    }
    fn wake(&mut self, run_id: &str) -> Result<(), StoreError> {
        (**self).wake(run_id)
    }
    fn drivers_leased(&self) -> bool {
        (**self).drivers_leased()
    }
    fn keeps_attempt_output(&self) -> bool {
        (**self).keeps_attempt_output()
    }
    fn write_attempt_output(
        &mut self,
        run_id: &str,
        file: &str,
        offset: u64,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        (**self).write_attempt_output(run_id, file, offset, bytes)
    }
    fn read_attempt_output(
        &self,
        run_id: &str,
        file: &str,
        from: u64,
        max: usize,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).read_attempt_output(run_id, file, from, max)
    }
}

/// A consistent view of a store (`EventStore::begin_view`), ended when dropped: what reads
/// through it compares reads made at one moment.
pub struct View<'a, S: EventStore + ?Sized>(&'a S);

impl<'a, S: EventStore + ?Sized> View<'a, S> {
    pub fn of(store: &'a S) -> Result<Self, StoreError> {
        store.begin_view()?;
        Ok(View(store))
    }
}

impl<S: EventStore + ?Sized> Drop for View<'_, S> {
    fn drop(&mut self) {
        self.0.end_view();
    }
}

/// Chain `events` onto a run whose head is (`next_seq`, `prev_hash`): the rows to store, and
/// the same events as recorded.
fn chain(
    run_id: &str,
    next_seq: u64,
    prev_hash: &[u8],
    events: &[NewEvent],
) -> Vec<(RawRow, Recorded)> {
    let mut prev = prev_hash.to_vec();
    let mut out = Vec::with_capacity(events.len());
    for (i, new) in events.iter().enumerate() {
        let seq = next_seq + i as u64;
        let type_name = new.event.type_name();
        let body = new.event.body_json();
        let version = new.event.version();
        let hash = event_hash(
            run_id.as_bytes(),
            seq as i64,
            &prev,
            new.id.as_bytes(),
            new.time.as_bytes(),
            type_name.as_bytes(),
            version as i64,
            body.as_bytes(),
        );
        let row = RawRow {
            run_id: run_id.as_bytes().to_vec(),
            seq: seq as i64,
            id: new.id.as_bytes().to_vec(),
            time: new.time.as_bytes().to_vec(),
            type_name: type_name.as_bytes().to_vec(),
            version: version as i64,
            body: body.into_bytes(),
            prev_hash: prev.clone(),
            hash: hash.to_vec(),
        };
        let recorded = Recorded {
            run_id: run_id.to_string(),
            seq,
            id: new.id.clone(),
            time: new.time.clone(),
            version,
            prev_hash: hex(&prev),
            hash: hex(&hash),
            event: new.event.clone(),
        };
        prev = hash.to_vec();
        out.push((row, recorded));
    }
    out
}

/// Check rows to import (`EventStore::import_rows`): all of `run_id`, consecutive, each
/// linked to the one before and hashed as stored; and decode them, for the run index.
fn check_import(run_id: &str, rows: &[RawRow]) -> Result<Vec<Recorded>, StoreError> {
    let bad = |row: &RawRow, reason: &str| StoreError::Corrupt {
        run_id: run_id.to_string(),
        seq: row.seq.max(0) as u64,
        reason: format!("it cannot be copied: {reason}"),
    };
    // A chain of an id no cortex writes is copied nowhere (`event::is_chain_id`).
    if let (Some(first), Some(reason)) = (rows.first(), bad_chain_id(run_id.as_bytes())) {
        return Err(bad(first, &reason));
    }
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        if row.run_id != run_id.as_bytes() {
            return Err(bad(row, "a batch holds rows of more than one run"));
        }
        if i > 0 && (row.seq != rows[i - 1].seq + 1 || row.prev_hash != rows[i - 1].hash) {
            return Err(bad(row, "the rows are not one unbroken chain"));
        }
        let r = row.as_ref();
        let hash = event_hash(
            r.run_id,
            r.seq,
            r.prev_hash,
            r.id,
            r.time,
            r.type_name,
            r.version,
            r.body,
        );
        if hash.as_slice() != row.hash {
            return Err(bad(row, "its hash does not match its bytes"));
        }
        out.push(decode_row(row)?);
    }
    Ok(out)
}

/// Check each run's rows to import (`check_import`), before anything is stored: the run id
/// of each non-empty slice, its first row, the slice, and its rows decoded.
type CheckedImport<'r> = (String, &'r RawRow, &'r [RawRow], Vec<Recorded>);
fn check_imports<'r>(runs: &[&'r [RawRow]]) -> Result<Vec<CheckedImport<'r>>, StoreError> {
    runs.iter()
        .filter_map(|rows| rows.first().map(|first| (first, *rows)))
        .map(|(first, rows)| {
            let run_id = crate::event::shown_id(&first.run_id);
            let recorded = check_import(&run_id, rows)?;
            Ok((run_id, first, rows, recorded))
        })
        .collect()
}

/// Check that rows to import, starting with `first`, continue the run's head here (`next`,
/// `prev`).
fn check_import_head(
    run_id: &str,
    first: &RawRow,
    next: u64,
    prev: &[u8],
) -> Result<(), StoreError> {
    if first.seq != next as i64 {
        return Err(StoreError::Conflict {
            run_id: run_id.to_string(),
            expected: first.seq.max(0) as u64,
            actual: next,
        });
    }
    if first.prev_hash != prev {
        return Err(StoreError::Corrupt {
            run_id: run_id.to_string(),
            seq: next,
            reason: "it cannot be copied: the run here has another history up to this event".into(),
        });
    }
    Ok(())
}

/// What `read_run_readable` gives: the events that decode, and the first that does not (its
/// seq, and why).
pub type Readable = (Vec<Recorded>, Option<(u64, String)>);

/// The events of run `run_id` up to the first stored row that does not decode, and that row's
/// seq and why (`None` when every row decodes): what can be shown of a run whose log was
/// changed so that an event no longer reads (`read_run` gives only the error). Nothing may be
/// decided on it: a driver's replay refuses such a log.
pub fn read_run_readable(store: &dyn EventStore, run_id: &str) -> Result<Readable, StoreError> {
    let mut events = Vec::new();
    for row in store.raw_rows(Some(run_id))? {
        match decode_row(&row) {
            Ok(e) => events.push(e),
            Err(StoreError::Corrupt { seq, reason, .. }) => {
                return Ok((events, Some((seq, reason))));
            }
            Err(StoreError::NewerEvent {
                seq,
                version,
                known,
                ..
            }) => {
                let why = format!(
                    "its event schema version {version} is newer than this cortex reads (up to {known}): upgrade cortex to read it"
                );
                return Ok((events, Some((seq, why))));
            }
            Err(e) => return Err(e),
        }
    }
    Ok((events, None))
}

/// Decode stored rows into recorded events (upcasting old versions): the events of rows in
/// hand, as a fold reads them (`decide::replay`). The first that does not decode is the error.
pub fn decode_rows(rows: &[RawRow]) -> Result<Vec<Recorded>, StoreError> {
    rows.iter().map(decode_row).collect()
}

/// Decode a stored row into a recorded event (upcasting old versions).
fn decode_row(row: &RawRow) -> Result<Recorded, StoreError> {
    decode_row_ref(row.as_ref())
}

/// Decode borrowed stored bytes into a recorded event: the body is parsed where it lies.
pub(crate) fn decode_row_ref<'a>(row: RowRef<'a>) -> Result<Recorded, StoreError> {
    let seq = row.seq.max(0) as u64;
    let text = |bytes: &'a [u8], what: &str| -> Result<&'a str, StoreError> {
        std::str::from_utf8(bytes).map_err(|_| StoreError::Corrupt {
            run_id: crate::event::shown_id(row.run_id),
            seq,
            reason: format!("{what} is not UTF-8"),
        })
    };
    let run_id = text(row.run_id, "run id")?;
    let type_name = text(row.type_name, "type")?;
    let body = text(row.body, "body")?;
    let version = u32::try_from(row.version).unwrap_or(u32::MAX);
    if let Some(newer) = newer_event(run_id, seq, row.version) {
        return Err(newer);
    }
    let event =
        crate::event::decode(version, type_name, body).map_err(|reason| StoreError::Corrupt {
            run_id: run_id.to_string(),
            seq,
            reason,
        })?;
    Ok(Recorded {
        run_id: run_id.to_string(),
        seq,
        id: text(row.id, "id")?.to_string(),
        time: text(row.time, "time")?.to_string(),
        version,
        prev_hash: hex(row.prev_hash),
        hash: hex(row.hash),
        event,
    })
}

/// `StoreError::NewerEvent` for an event stored as `version`, if that is newer than this
/// cortex reads.
pub(crate) fn newer_event(run_id: &str, seq: u64, version: i64) -> Option<StoreError> {
    (version > i64::from(crate::event::EVENT_VERSION)).then(|| StoreError::NewerEvent {
        run_id: run_id.to_string(),
        seq,
        version,
        known: crate::event::EVENT_VERSION,
    })
}

/// A stored event this cortex cannot decode, as far as it can be told from its row: what
/// `log show`, `log export --json` and `log verify` say of it in place of the event.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Unreadable {
    pub run_id: String,
    pub seq: u64,
    /// The stored type and version, as written (lossily, if not UTF-8).
    #[serde(rename = "type")]
    pub type_name: String,
    pub version: i64,
    pub time: String,
    pub hash: String,
    /// Why it does not decode.
    pub unreadable: String,
    /// The event schema version needed to read it, when it is newer than this cortex reads
    /// (else it is damaged: the log was changed, or written wrongly).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_version: Option<i64>,
}

/// One stored event as read: decoded, or why not.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum ReadEvent {
    Event(Box<Recorded>),
    Unreadable(Unreadable),
}

/// Read a stored row: the event, or what can be told of it when it does not decode.
pub fn read_row(row: RowRef<'_>) -> ReadEvent {
    match decode_row_ref(row) {
        Ok(e) => ReadEvent::Event(Box::new(e)),
        Err(e) => {
            let (reason, needs) = match e {
                StoreError::Corrupt { reason, .. } => (reason, None),
                StoreError::NewerEvent { version, known, .. } => (
                    format!(
                        "event schema version {version} is newer than this cortex reads (up to {known})"
                    ),
                    Some(version),
                ),
                other => (other.to_string(), None),
            };
            let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            ReadEvent::Unreadable(Unreadable {
                run_id: crate::event::shown_id(row.run_id),
                seq: row.seq.max(0) as u64,
                type_name: lossy(row.type_name),
                version: row.version,
                time: lossy(row.time),
                hash: hex(row.hash),
                unreadable: reason,
                needs_version: needs,
            })
        }
    }
}

/// Every stored event of run `run_id`, each decoded or said to be unreadable: what the audit
/// commands show of a run that holds an event this cortex cannot read (damaged, or written by
/// a newer cortex), in place of an error for the whole run.
pub fn read_run_all(store: &dyn EventStore, run_id: &str) -> Result<Vec<ReadEvent>, StoreError> {
    Ok(store
        .raw_rows(Some(run_id))?
        .iter()
        .map(|row| read_row(row.as_ref()))
        .collect())
}

/// The first event of run `run_id` that does not decode, if any (streamed: nothing is kept).
pub fn first_unreadable(
    store: &dyn EventStore,
    run_id: &str,
) -> Result<Option<Unreadable>, StoreError> {
    let mut found = None;
    store.fold_rows(run_id, 0, &mut |row| {
        if found.is_some() {
            return Ok(());
        }
        if let ReadEvent::Unreadable(u) = read_row(row.of_run(run_id.as_bytes())) {
            found = Some(u);
        }
        Ok(())
    })?;
    Ok(found)
}
