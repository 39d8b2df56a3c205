//! The schema of the event log as an append-only list of migrations keyed by `user_version`.

/// The schema version this cortex writes (`PRAGMA user_version` once migrated). A log above it
/// was written by a newer cortex: it is opened for reading only.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Each entry moves the schema from version `i` to `i + 1`. Never edit an entry that has
/// shipped; append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the event table. STRICT keeps every column's stored type fixed, so the bytes that were
    // hashed are the bytes read back. (run_id, seq) is the key: a second writer racing for the
    // same seq fails instead of interleaving.
    "CREATE TABLE events (
        run_id    TEXT    NOT NULL,
        seq       INTEGER NOT NULL,
        id        TEXT    NOT NULL,
        time      TEXT    NOT NULL,
        type      TEXT    NOT NULL,
        version   INTEGER NOT NULL,
        body      TEXT    NOT NULL,
        prev_hash BLOB    NOT NULL,
        hash      BLOB    NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) STRICT;
    -- Listing runs reads only their first events.
    CREATE INDEX events_run_starts ON events(run_id) WHERE seq = 0;
    -- Append-only, also against careless hands: tampering must go through dropping these,
    -- and `log verify` catches what that changes.
    CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
                BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;",
    // 2: snapshots of run states, a cache of the fold (see `decide::restore`). Not part of the
    // chain and never a source of truth: a snapshot is used only when the event it was taken
    // at still has the hash it records, and deleting the table loses nothing.
    "CREATE TABLE snapshots (
        run_id TEXT    NOT NULL PRIMARY KEY,
        seq    INTEGER NOT NULL,
        hash   TEXT    NOT NULL,
        state  TEXT    NOT NULL
    ) STRICT;",
    // 3: snapshots sealed to the chain by a digest over (run id, seq, event hash, state) — see
    // `hash::snapshot_digest`. Unsealed snapshots are dropped: a cache, rebuilt on demand.
    "DROP TABLE snapshots;
    CREATE TABLE snapshots (
        run_id TEXT    NOT NULL PRIMARY KEY,
        seq    INTEGER NOT NULL,
        hash   TEXT    NOT NULL,
        state  TEXT    NOT NULL,
        digest TEXT    NOT NULL
    ) STRICT;",
    // 4: the run index, one row per run, kept in the same transaction as the events it
    // describes (`SqliteStore::insert`): kind, name (and its forgiving form), start time, head
    // and outcome. Finding a run by kind and name, the latest run, a page of history and the
    // unfinished runs cost the same with 100,000 runs as with 10. A cache of the log, never a
    // source of truth: `log verify` checks every row against the events, and `backfill_index`
    // builds it for logs written before it existed.
    "CREATE TABLE runs (
        run_id     TEXT    NOT NULL PRIMARY KEY,
        kind       TEXT    NOT NULL,
        name       TEXT    NOT NULL,
        name_key   TEXT    NOT NULL,
        started_at TEXT    NOT NULL,
        head_seq   INTEGER NOT NULL,
        head_hash  BLOB    NOT NULL,
        outcome    TEXT
    ) STRICT;
    CREATE INDEX runs_by_kind ON runs(kind, run_id);
    CREATE INDEX runs_by_name ON runs(kind, name_key, run_id);
    CREATE INDEX runs_unfinished ON runs(kind, run_id) WHERE outcome IS NULL;",
    // 5: leases (workers, SPEC §9): who holds a unit of a run — its driver (unit '') or a
    // step or phase — until `expires_at` (ms since the epoch, SQLite's clock), changing hands
    // at `epoch` + 1. Liveness data beside the log, never part of the chain nor a source of
    // truth about a run: deleting the table loses no history.
    "CREATE TABLE IF NOT EXISTS leases (
        run_id     TEXT    NOT NULL,
        unit       TEXT    NOT NULL,
        attempt    INTEGER NOT NULL,
        holder     TEXT    NOT NULL,
        host       TEXT    NOT NULL,
        epoch      INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (run_id, unit)
    ) STRICT;",
];

/// The first schema version with the run index: logs migrated from below it are backfilled.
pub const INDEX_VERSION: i64 = 4;
