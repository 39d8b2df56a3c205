//! The SQLite event store: one file in WAL mode, one STRICT append-only table.

use std::path::Path;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

use super::migrations::MIGRATIONS;
use super::{EventStore, RawRow, RunHead, StoreError, chain, decode_row};
use crate::definition::Durability;
use crate::event::{NewEvent, Recorded};

/// Connection settings, each for a reason:
/// - `journal_mode=WAL`: readers (status, verify) never block the driver's appends.
/// - `busy_timeout`: concurrent writers queue for up to 10 s instead of failing with SQLITE_BUSY.
/// - `foreign_keys`: none are used; the chain is checked by `log verify`, not by SQL.
const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000;";

/// The event log in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
}

fn map_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreError::Busy,
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly(e.to_string()),
        Some(ErrorCode::DiskFull) => StoreError::Full(e.to_string()),
        _ => StoreError::Sqlite(e.to_string()),
    }
}

impl SqliteStore {
    /// Open (creating if needed) the log at `path` and bring its schema up to date.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.execute_batch(PRAGMAS).map_err(map_err)?;
        // synchronous=NORMAL is safe in WAL mode against process crashes; FULL adds an fsync
        // per commit for power loss.
        let sync = match durability {
            Durability::Normal => "PRAGMA synchronous = NORMAL;",
            Durability::Full => "PRAGMA synchronous = FULL;",
        };
        conn.execute_batch(sync).map_err(map_err)?;
        // Plans never depend on bound values: otherwise the partial index on first events
        // makes SQLite re-prepare every statement that binds a run id whenever the value
        // changes (it did, on every append and every catch-up read of a driver).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(map_err)?;
        let mut store = SqliteStore { conn };
        store.migrate()?;
        Ok(store)
    }

    /// Change durability on an open log (a run's own configuration may ask for `full`).
    pub fn set_durability(&self, durability: Durability) -> Result<(), StoreError> {
        let sync = match durability {
            Durability::Normal => "PRAGMA synchronous = NORMAL;",
            Durability::Full => "PRAGMA synchronous = FULL;",
        };
        self.conn.execute_batch(sync).map_err(map_err)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(map_err)?;
        if version as usize >= MIGRATIONS.len() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        // Re-read inside the write lock: another process may have migrated meanwhile.
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(map_err)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(map_err)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .map_err(map_err)?;
        }
        tx.commit().map_err(map_err)
    }

    /// Decode the rows `sql` selects as they are read, borrowing their bytes.
    fn read_recorded(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Recorded>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(map_err)?;
        let mut rows = stmt.query(args).map_err(map_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(map_err)? {
            out.push(with_row_ref(r, super::decode_row_ref)??);
        }
        Ok(out)
    }

    fn read_raw(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<RawRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(map_err)?;
        let map_row = |r: &rusqlite::Row| -> rusqlite::Result<RawRow> {
            // Read every column as the bytes stored, so verification never re-serialises.
            let bytes = |i: usize| column_bytes(r, i).map(|b| b.into_owned());
            Ok(RawRow {
                run_id: bytes(0)?,
                seq: r.get(1)?,
                id: bytes(2)?,
                time: bytes(3)?,
                type_name: bytes(4)?,
                version: r.get(5)?,
                body: bytes(6)?,
                prev_hash: bytes(7)?,
                hash: bytes(8)?,
            })
        };
        let rows = stmt.query_map(args, map_row).map_err(map_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
    }
}

/// A column's stored bytes: borrowed for text and blobs (what cortex writes); anything else
/// (a tampered row) in a text form, so that verification still reads it and fails.
fn column_bytes<'r>(
    r: &'r rusqlite::Row<'_>,
    i: usize,
) -> rusqlite::Result<std::borrow::Cow<'r, [u8]>> {
    use std::borrow::Cow;
    Ok(match r.get_ref(i)? {
        rusqlite::types::ValueRef::Text(t) => Cow::Borrowed(t),
        rusqlite::types::ValueRef::Blob(b) => Cow::Borrowed(b),
        rusqlite::types::ValueRef::Integer(n) => Cow::Owned(n.to_string().into_bytes()),
        rusqlite::types::ValueRef::Real(f) => Cow::Owned(f.to_string().into_bytes()),
        rusqlite::types::ValueRef::Null => Cow::Owned(Vec::new()),
    })
}

/// Call `f` with the bytes of a row of `COLUMNS`, borrowed where SQLite holds them.
fn with_row_ref<T>(
    r: &rusqlite::Row<'_>,
    f: impl FnOnce(super::RowRef<'_>) -> T,
) -> Result<T, StoreError> {
    let col = |i| column_bytes(r, i).map_err(map_err);
    let (run, id, time, kind, body, prev, hash) = (
        col(0)?,
        col(2)?,
        col(3)?,
        col(4)?,
        col(6)?,
        col(7)?,
        col(8)?,
    );
    Ok(f(super::RowRef {
        run_id: &run,
        seq: r.get(1).map_err(map_err)?,
        id: &id,
        time: &time,
        type_name: &kind,
        version: r.get(5).map_err(map_err)?,
        body: &body,
        prev_hash: &prev,
        hash: &hash,
    }))
}

const COLUMNS: &str = "run_id, seq, id, time, type, version, body, prev_hash, hash";

impl EventStore for SqliteStore {
    fn append(
        &mut self,
        run_id: &str,
        expected_seq: u64,
        events: &[NewEvent],
    ) -> Result<Vec<Recorded>, StoreError> {
        // IMMEDIATE takes the write lock up front, so reading the head and appending after it
        // is one atomic step across processes.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let head: Option<(i64, Vec<u8>)> = tx
            .prepare_cached(
                "SELECT seq, hash FROM events WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1",
            )
            .and_then(|mut head| {
                head.query_row(params![run_id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(map_err)?;
        let (actual, prev) = match head {
            Some((seq, hash)) => (seq as u64 + 1, hash),
            None => (0, super::GENESIS.to_vec()),
        };
        if actual != expected_seq {
            return Err(StoreError::Conflict {
                run_id: run_id.to_string(),
                expected: expected_seq,
                actual,
            });
        }
        let chained = chain(run_id, actual, &prev, events);
        {
            let mut insert = tx
                .prepare_cached(&format!(
                    "INSERT INTO events ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ))
                .map_err(map_err)?;
            for (row, _) in &chained {
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                insert
                    .execute(params![
                        text(&row.run_id),
                        row.seq,
                        text(&row.id),
                        text(&row.time),
                        text(&row.type_name),
                        row.version,
                        text(&row.body),
                        row.prev_hash,
                        row.hash,
                    ])
                    .map_err(map_err)?;
            }
        }
        tx.commit().map_err(map_err)?;
        Ok(chained.into_iter().map(|(_, recorded)| recorded).collect())
    }

    fn read_run(&self, run_id: &str) -> Result<Vec<Recorded>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE run_id = ?1 ORDER BY seq");
        self.read_recorded(&sql, params![run_id])
    }

    fn read_run_from(&self, run_id: &str, seq: u64) -> Result<Vec<Recorded>, StoreError> {
        // Bound, not spliced: one cached statement for every call.
        let sql =
            format!("SELECT {COLUMNS} FROM events WHERE run_id = ?1 AND seq >= ?2 ORDER BY seq");
        let from = seq.min(i64::MAX as u64) as i64;
        self.read_recorded(&sql, params![run_id, from])
    }

    fn load_snapshot(&self, run_id: &str) -> Result<Option<(u64, String, String)>, StoreError> {
        self.conn
            .query_row(
                "SELECT seq, hash, state FROM snapshots WHERE run_id = ?1",
                params![run_id],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(map_err)
    }

    fn save_snapshot(
        &mut self,
        run_id: &str,
        seq: u64,
        hash: &str,
        state: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO snapshots (run_id, seq, hash, state) VALUES (?1, ?2, ?3, ?4)",
                params![run_id, seq as i64, hash, state],
            )
            .map(|_| ())
            .map_err(map_err)
    }

    fn first_event(&self, run_id: &str) -> Result<Option<Recorded>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE run_id = ?1 AND seq = 0");
        self.read_raw(&sql, params![run_id])?
            .first()
            .map(decode_row)
            .transpose()
    }

    fn hash_at(&self, run_id: &str, seq: u64) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT hash FROM events WHERE run_id = ?1 AND seq = ?2",
                params![run_id, seq as i64],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()
            .map(|h| h.map(|h| super::hex(&h)))
            .map_err(map_err)
    }

    fn runs(&self) -> Result<Vec<RunHead>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE seq = 0 ORDER BY run_id");
        let firsts = self.read_raw(&sql, params![])?;
        let mut heads = Vec::with_capacity(firsts.len());
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, hash FROM events WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1",
            )
            .map_err(map_err)?;
        for row in &firsts {
            let first = decode_row(row)?;
            let (seq, hash): (i64, Vec<u8>) = stmt
                .query_row(params![first.run_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(map_err)?;
            heads.push(RunHead {
                run_id: first.run_id.clone(),
                first,
                events: seq as u64 + 1,
                head_hash: super::hex(&hash),
            });
        }
        Ok(heads)
    }

    fn verify(&self, run_id: Option<&str>) -> Result<super::VerifyReport, StoreError> {
        // Each row is checked where SQLite holds it: nothing is copied but the previous hash.
        let sql = match run_id {
            Some(_) => format!("SELECT {COLUMNS} FROM events WHERE run_id = ?1 ORDER BY seq"),
            None => format!("SELECT {COLUMNS} FROM events ORDER BY run_id, seq"),
        };
        let mut stmt = self.conn.prepare_cached(&sql).map_err(map_err)?;
        let mut rows = match run_id {
            Some(id) => stmt.query(params![id]),
            None => stmt.query([]),
        }
        .map_err(map_err)?;
        let mut verifier = super::Verifier::default();
        while let Some(r) = rows.next().map_err(map_err)? {
            if !with_row_ref(r, |row| verifier.check(row))? {
                break;
            }
        }
        Ok(verifier.finish())
    }

    fn raw_rows(&self, run_id: Option<&str>) -> Result<Vec<RawRow>, StoreError> {
        match run_id {
            Some(id) => self.read_raw(
                &format!("SELECT {COLUMNS} FROM events WHERE run_id = ?1 ORDER BY seq"),
                params![id],
            ),
            None => self.read_raw(
                &format!("SELECT {COLUMNS} FROM events ORDER BY run_id, seq"),
                params![],
            ),
        }
    }
}
