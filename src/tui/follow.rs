//! The incremental log follower: tells the app about new runs and about events appended to
//! the runs it shows, as other processes write them, without ever replaying a run twice.
//!
//! Every tick it reads the shown run's events past the last one it saw (`read_run_from`, an
//! index range scan that usually returns nothing) and probes the driver locks of unfinished
//! runs. The list of runs (`runs()`, which decodes every run's first event) is read only when
//! the log changed — for SQLite the size and modification time of `cortex.db` and its WAL,
//! which every commit touches; for PostgreSQL the number of runs and the heads of the
//! unfinished ones, from the run index — or every few seconds at most otherwise. A run is loaded
//! once (`load_live`: from its snapshot when it has one, probed for its driver); after that only
//! its new events are read, and the app folds them with `evolve`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::definition::normalize_name;
use crate::event::{Event, RunKind};
use crate::execute::{DriverLock, load_live};
use crate::store::{EventStore, Location, RunQuery, StoreError};

use super::app::Msg;
use super::model::Followed;

/// How many of the newest workflow runs the workflow list follows.
pub const WORKFLOW_RUNS: usize = 100;

/// Re-read the list of runs at least this often, whatever the file stamps say.
const RESCAN: Duration = Duration::from_secs(5);

/// What changes with every commit: the size and modification time of a SQLite log's files,
/// or a PostgreSQL log's number of runs and the heads of its unfinished runs.
#[derive(Debug, PartialEq)]
enum Stamp {
    Files(Vec<Option<(u64, SystemTime)>>),
    Index(u64, Vec<(String, u64)>),
}

fn file_stamp(db: &Path) -> Vec<Option<(u64, SystemTime)>> {
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    [db, wal.as_path()]
        .iter()
        .map(|p| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)))
        })
        .collect()
}

/// Where the follower is in each run it follows.
pub struct Follower {
    home: PathBuf,
    location: Location,
    store: Option<Box<dyn EventStore>>,
    /// Events already handed to the app, per followed run.
    cursors: BTreeMap<String, u64>,
    /// Followed runs that have finished (no driver can come back to them).
    sealed: BTreeSet<String>,
    alive: BTreeMap<String, bool>,
    /// The units a live lease held at the last read, per run on screen.
    held: BTreeMap<String, BTreeSet<(String, u32)>>,
    stamp: Option<Stamp>,
    scanned: Option<Instant>,
}

impl Follower {
    /// A follower of the home's own log (`cortex.db`).
    pub fn new(home: &Path) -> Follower {
        Follower::at(home, Location::Sqlite(home.join("cortex.db")))
    }

    /// A follower of the log at `location`, whose driver locks are in `home`.
    pub fn at(home: &Path, location: Location) -> Follower {
        Follower {
            home: home.to_path_buf(),
            location,
            store: None,
            cursors: BTreeMap::new(),
            sealed: BTreeSet::new(),
            alive: BTreeMap::new(),
            held: BTreeMap::new(),
            stamp: None,
            scanned: None,
        }
    }

    /// What changed since the last poll, as messages for the app. `focus` is the run on
    /// screen: its new events are read on every poll.
    pub fn poll(&mut self, focus: Option<&str>) -> Result<Vec<Msg>, StoreError> {
        let mut msgs = Vec::new();
        if self.store.is_none() {
            // Read with a reading store, as `status` and `history` read: it works on a log
            // that cannot be written (a read-only home or mount, a standby, a newer cortex's
            // log). Where there is no log yet there are no runs; opening would create one.
            match self.location.open_read()? {
                Some(store) => {
                    self.store = Some(store);
                    if let Some(why) = self.read_only() {
                        msgs.push(Msg::ReadOnly(why));
                    }
                }
                None => return Ok(msgs),
            }
        }
        // The leases before the log, as `status` reads them: a unit a worker claimed that the
        // events read next still show running, with no live lease, is orphaned.
        if let Some(run) = focus
            && self.cursors.contains_key(run)
            && !self.sealed.contains(run)
        {
            self.leases(run, &mut msgs)?;
        }
        let now = self.stamp()?;
        let due = self.scanned.is_none_or(|t| t.elapsed() >= RESCAN);
        if self.stamp.as_ref() != Some(&now) || due {
            self.stamp = Some(now);
            self.scanned = Some(Instant::now());
            self.scan(focus, &mut msgs)?;
        } else if let Some(run) = focus
            && self.cursors.contains_key(run)
        {
            self.tail(run, &mut msgs)?;
        }
        self.probe(&mut msgs);
        Ok(msgs)
    }

    /// Why the log cannot be written, if it cannot: opened for writing once, as an action
    /// would open it, and let go.
    fn read_only(&self) -> Option<String> {
        let Err(e) = self.location.open_existing() else {
            return None;
        };
        let fix = match &e {
            StoreError::ReadOnly(_) => {
                "make cortex.db and its folder writable, then start cortex tui again"
            }
            StoreError::ReadOnlyDatabase { .. } => {
                "point --db, CORTEX_DB or `db` at the primary server, then start cortex tui again"
            }
            StoreError::NewerLog { .. } => "upgrade cortex to act on this log",
            _ => return None,
        };
        Some(format!(
            "{e}. Runs are shown as recorded, but nothing can be started, reported or stopped from here ({fix})."
        ))
    }

    fn store(&self) -> &dyn EventStore {
        self.store.as_deref().expect("opened before use")
    }

    fn stamp(&self) -> Result<Stamp, StoreError> {
        Ok(match &self.location {
            Location::Sqlite(db) => Stamp::Files(file_stamp(db)),
            Location::Postgres(_) => {
                let unfinished = RunQuery {
                    unfinished: true,
                    ..RunQuery::default()
                };
                Stamp::Index(
                    self.store().count_runs(&RunQuery::default())?,
                    self.store()
                        .list_runs(&unfinished)?
                        .into_iter()
                        .map(|e| (e.run_id, e.events))
                        .collect(),
                )
            }
        })
    }

    /// Read the list of runs; load the runs worth following that are new, and read the new
    /// events of the followed ones that moved.
    fn scan(&mut self, focus: Option<&str>, msgs: &mut Vec<Msg>) -> Result<(), StoreError> {
        let heads = self.store().runs()?;
        let mut latest_scenario: BTreeMap<String, usize> = BTreeMap::new();
        let mut workflows = Vec::new();
        for (i, head) in heads.iter().enumerate() {
            let Event::RunStarted(started) = &head.first.event else {
                continue; // the agent registry stream is not a run
            };
            match started.kind {
                RunKind::Scenario => {
                    latest_scenario.insert(normalize_name(&started.name), i);
                }
                RunKind::Workflow => workflows.push(i),
            }
        }
        let mut wanted: BTreeSet<usize> = latest_scenario.into_values().collect();
        wanted.extend(workflows.iter().rev().take(WORKFLOW_RUNS));
        for (i, head) in heads.iter().enumerate() {
            let followed = self.cursors.get(&head.run_id).copied();
            match followed {
                Some(seen) if head.events > seen => self.tail(&head.run_id, msgs)?,
                Some(_) => {}
                None if wanted.contains(&i) || focus == Some(head.run_id.as_str()) => {
                    self.load(&head.run_id, msgs)?;
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Start following a run: fold it up to its head once.
    fn load(&mut self, run_id: &str, msgs: &mut Vec<Msg>) -> Result<(), StoreError> {
        // Read, then probed, then read again until the log stands still when no driver holds
        // it: a driver that appended its last events and let go in between is not shown as
        // cut short (`load_live`).
        let (mut state, alive) = load_live(&self.home, self.store(), run_id)?;
        state.run_id = run_id.to_string();
        self.cursors.insert(run_id.to_string(), state.events);
        self.alive.insert(run_id.to_string(), alive);
        if state.outcome().is_some() {
            self.sealed.insert(run_id.to_string());
        }
        msgs.push(Msg::RunLoaded(Box::new(Followed::new(state, alive))));
        Ok(())
    }

    /// Read a followed run's events past the last one handed over.
    fn tail(&mut self, run_id: &str, msgs: &mut Vec<Msg>) -> Result<(), StoreError> {
        let seen = self.cursors.get(run_id).copied().unwrap_or(0);
        let events = self.store().read_run_from(run_id, seen)?;
        let Some(last) = events.last() else {
            return Ok(());
        };
        self.cursors.insert(run_id.to_string(), last.seq + 1);
        if events
            .iter()
            .any(|e| matches!(e.event, Event::RunFinished { .. }))
        {
            self.sealed.insert(run_id.to_string());
        }
        msgs.push(Msg::RunEvents {
            run_id: run_id.to_string(),
            events,
        });
        Ok(())
    }

    /// Which units of `run_id` a live lease holds, told to the app when that changed.
    fn leases(&mut self, run_id: &str, msgs: &mut Vec<Msg>) -> Result<(), StoreError> {
        let held: BTreeSet<(String, u32)> = self
            .store()
            .leases(Some(run_id))?
            .into_iter()
            .filter(|l| !l.lapsed())
            .map(|l| (l.unit, l.attempt))
            .collect();
        if self.held.get(run_id) != Some(&held) {
            self.held.insert(run_id.to_string(), held.clone());
            msgs.push(Msg::Leases {
                run_id: run_id.to_string(),
                held,
            });
        }
        Ok(())
    }

    /// Whether each unfinished run still has a live driver (a lock probe: no log read).
    fn probe(&mut self, msgs: &mut Vec<Msg>) {
        for (run_id, alive) in &mut self.alive {
            if self.sealed.contains(run_id) {
                if *alive {
                    *alive = false;
                    msgs.push(Msg::DriverAlive {
                        run_id: run_id.clone(),
                        alive: false,
                    });
                }
                continue;
            }
            let now = DriverLock::probe(&self.home, run_id).is_some();
            if now != *alive {
                *alive = now;
                msgs.push(Msg::DriverAlive {
                    run_id: run_id.clone(),
                    alive: now,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::Command;
    use crate::definition::{parse_scenario, snapshot};
    use crate::event::RunStarted;
    use crate::execute::{FixedClock, Journal, SequentialIds};

    fn start() -> Command {
        let scenario = parse_scenario(
            "s.yaml",
            "name: s\ndescription: d\nphases:\n  - {name: a, run: 'true'}\n  - {name: b, condition: 'after:a', run: 'true'}\n",
        )
        .unwrap();
        let (definition, definition_hash) = snapshot(&scenario);
        Command::Start(Box::new(RunStarted::for_test(
            RunKind::Scenario,
            "s",
            definition,
            definition_hash,
        )))
    }

    /// Another process appending to the log: its own connection.
    fn append(db: &Path, run_id: &str, commands: Vec<Command>) {
        let mut store =
            crate::store::SqliteStore::open(db, crate::definition::Durability::Normal).unwrap();
        let clock = FixedClock::new(1_800_000_000_000);
        let mut ids = SequentialIds::default();
        let mut journal = Journal::open(&mut store, &clock, &mut ids, run_id).unwrap();
        for c in commands {
            journal.submit(c).unwrap();
        }
    }

    /// A followed run is loaded once; after that each poll hands over exactly the events
    /// appended since the last one (by another connection), and nothing when nothing moved.
    #[test]
    fn the_follower_hands_over_only_new_events() {
        let home = tempfile::tempdir().unwrap();
        let db = home.path().join("cortex.db");
        let mut follower = Follower::new(home.path());
        assert!(
            follower.poll(None).unwrap().is_empty(),
            "no log yet, none made"
        );
        assert!(!db.exists());

        append(&db, "00000000000000000000000RN1", vec![start()]);
        let msgs = follower.poll(None).unwrap();
        let [Msg::RunLoaded(loaded)] = msgs.as_slice() else {
            panic!("{msgs:?}")
        };
        assert_eq!(
            (loaded.state.run_id.as_str(), loaded.state.events),
            ("00000000000000000000000RN1", 1)
        );
        assert!(!loaded.alive);
        // On screen, its leases are read once (none), then only when they change.
        let msgs = follower.poll(Some("00000000000000000000000RN1")).unwrap();
        assert!(
            matches!(msgs.as_slice(), [Msg::Leases { run_id, held }] if run_id == "00000000000000000000000RN1" && held.is_empty()),
            "{msgs:?}"
        );
        assert!(
            follower
                .poll(Some("00000000000000000000000RN1"))
                .unwrap()
                .is_empty()
        );

        append(
            &db,
            "00000000000000000000000RN1",
            vec![
                Command::RecordPreValidation { problems: vec![] },
                Command::StartAttempt { step: "a".into() },
            ],
        );
        let msgs = follower.poll(Some("00000000000000000000000RN1")).unwrap();
        let [Msg::RunEvents { run_id, events }] = msgs.as_slice() else {
            panic!("{msgs:?}")
        };
        assert_eq!(run_id, "00000000000000000000000RN1");
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2], "only the events after the first");
        assert!(
            follower
                .poll(Some("00000000000000000000000RN1"))
                .unwrap()
                .is_empty()
        );

        // A worker's lease on the run on screen is told, and so is its end; a run not on
        // screen has its leases read by nobody.
        let mut store =
            crate::store::SqliteStore::open(&db, crate::definition::Durability::Normal).unwrap();
        let lease = store
            .claim_lease(&crate::store::LeaseClaim {
                run_id: "00000000000000000000000RN1".into(),
                unit: "a".into(),
                attempt: 1,
                holder: "worker:w".into(),
                host: "h".into(),
                ttl_ms: 60_000,
            })
            .unwrap()
            .unwrap();
        let msgs = follower.poll(Some("00000000000000000000000RN1")).unwrap();
        assert!(
            matches!(msgs.as_slice(), [Msg::Leases { held, .. }] if held.contains(&("a".to_string(), 1))),
            "{msgs:?}"
        );
        assert!(follower.poll(None).unwrap().is_empty());
        store.release_lease(&lease).unwrap();
        let msgs = follower.poll(Some("00000000000000000000000RN1")).unwrap();
        assert!(
            matches!(msgs.as_slice(), [Msg::Leases { held, .. }] if held.is_empty()),
            "{msgs:?}"
        );

        // A newer run of the same scenario is loaded; the older one keeps being followed.
        append(&db, "00000000000000000000000RN2", vec![start()]);
        let msgs = follower.poll(Some("00000000000000000000000RN1")).unwrap();
        assert!(
            matches!(msgs.as_slice(), [Msg::RunLoaded(f)] if f.state.run_id == "00000000000000000000000RN2"),
            "{msgs:?}"
        );
    }

    /// A run's driver appearing and going away is reported once each time.
    #[test]
    fn driver_liveness_changes_are_reported() {
        let home = tempfile::tempdir().unwrap();
        let db = home.path().join("cortex.db");
        append(&db, "00000000000000000000000RN1", vec![start()]);
        let mut follower = Follower::new(home.path());
        assert_eq!(follower.poll(None).unwrap().len(), 1);
        let holder = crate::execute::Holder {
            pid: std::process::id(),
            host: "h".into(),
            actor: "t".into(),
            since: "now".into(),
            shared: false,
        };
        let lock = DriverLock::acquire(home.path(), "00000000000000000000000RN1", &holder).unwrap();
        let alive = |msgs: Vec<Msg>| {
            msgs.into_iter()
                .filter_map(|m| match m {
                    Msg::DriverAlive { alive, .. } => Some(alive),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        // The probe's shared lock conflicts with the exclusive one even within a process
        // (flock locks belong to open files, not processes).
        assert_eq!(alive(follower.poll(None).unwrap()), [true]);
        assert!(alive(follower.poll(None).unwrap()).is_empty());
        drop(lock);
        assert_eq!(alive(follower.poll(None).unwrap()), [false]);
    }

    /// A log this cortex may read but not write (here a newer cortex's; a read-only home or
    /// mount, or a standby, alike) was opened for writing, failed, and the TUI showed no runs
    /// ("no workflow runs yet"): it is read as `status` and `history` read it, its runs are
    /// loaded, and the app is told once, with why, that nothing can be recorded.
    #[test]
    fn a_log_that_cannot_be_written_is_read_and_said_read_only() {
        let home = tempfile::tempdir().unwrap();
        let db = home.path().join("cortex.db");
        append(&db, "00000000000000000000000RN1", vec![start()]);
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute_batch("PRAGMA user_version = 999")
            .unwrap();
        let mut follower = Follower::new(home.path());
        let msgs = follower.poll(None).unwrap();
        let [Msg::ReadOnly(why), Msg::RunLoaded(loaded)] = msgs.as_slice() else {
            panic!("{msgs:?}")
        };
        assert!(why.contains("newer cortex"), "{why}");
        assert!(why.contains("nothing can be started"), "{why}");
        assert_eq!(loaded.state.run_id, "00000000000000000000000RN1");
        let again = follower.poll(None).unwrap();
        assert!(
            !again.iter().any(|m| matches!(m, Msg::ReadOnly(_))),
            "said once: {again:?}"
        );
    }
}
