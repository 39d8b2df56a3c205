//! The schema of the event log on PostgreSQL, as an append-only list of migrations whose
//! version is kept in a `schema_version` table.
//!
//! The columns hold the same bytes as SQLite's: text is UTF-8 (the database must be UTF8) and
//! compared byte by byte (`COLLATE "C"`, so that runs sort as on SQLite whatever the
//! database's locale), hashes are `bytea`, integers `bigint`.

/// The schema version this cortex writes. A database above it was written by a newer cortex:
/// it is read, never written.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Where the version lives: one row per migration applied. Created, if missing, under the
/// migration lock, before the first migration.
pub const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    bigint      NOT NULL PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// Each entry moves the schema from version `i` to `i + 1`. Never edit an entry that has
/// shipped in a way that changes what it makes; append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: what SQLite's schema 4 holds. `events`: the chain, keyed by (run_id, seq), append-only
    // by trigger (and, for a team, by privileges: the role cortex runs as is granted SELECT and
    // INSERT only — see DESIGN.md). `runs`: one row per stream — the run index (kind, name,
    // start, head, outcome; kind is NULL for a stream that is not a run, the agent registry)
    // and the row an append locks (`SELECT … FOR UPDATE`), so that appends to one run
    // serialise and appends to different runs do not. `snapshots`: sealed caches of the fold.
    r#"CREATE TABLE events (
        run_id    text COLLATE "C" NOT NULL,
        seq       bigint NOT NULL,
        id        text COLLATE "C" NOT NULL,
        "time"    text COLLATE "C" NOT NULL,
        "type"    text COLLATE "C" NOT NULL,
        version   bigint NOT NULL,
        body      text COLLATE "C" NOT NULL,
        prev_hash bytea  NOT NULL,
        hash      bytea  NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    -- Listing runs reads only their first events.
    CREATE INDEX events_run_starts ON events (run_id) WHERE seq = 0;
    -- Append-only, also against careless hands: tampering must go through disabling these
    -- (which only the table's owner can), and `log verify` catches what that changes.
    -- OR REPLACE: dropping cortex's tables leaves the function behind, and setting them up
    -- again must not fail on it (the same body, so a fresh database is unchanged).
    CREATE OR REPLACE FUNCTION cortex_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the event log is append-only' USING ERRCODE = 'insufficient_privilege';
    END
    $$;
    CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
        FOR EACH ROW EXECUTE FUNCTION cortex_events_append_only();
    CREATE TRIGGER events_append_only_truncate BEFORE TRUNCATE ON events
        FOR EACH STATEMENT EXECUTE FUNCTION cortex_events_append_only();
    CREATE TABLE runs (
        run_id     text COLLATE "C" NOT NULL PRIMARY KEY,
        kind       text COLLATE "C",
        name       text COLLATE "C",
        name_key   text COLLATE "C",
        started_at text COLLATE "C",
        head_seq   bigint NOT NULL,
        head_hash  bytea  NOT NULL,
        outcome    text COLLATE "C"
    );
    CREATE INDEX runs_by_kind ON runs (kind, run_id) WHERE kind IS NOT NULL;
    CREATE INDEX runs_by_name ON runs (kind, name_key, run_id) WHERE kind IS NOT NULL;
    CREATE INDEX runs_unfinished ON runs (kind, run_id) WHERE kind IS NOT NULL AND outcome IS NULL;
    CREATE TABLE snapshots (
        run_id text COLLATE "C" NOT NULL PRIMARY KEY,
        seq    bigint NOT NULL,
        hash   text COLLATE "C" NOT NULL,
        state  text COLLATE "C" NOT NULL,
        digest text COLLATE "C" NOT NULL
    );"#,
    // 2: leases (workers, SPEC §9): who holds a unit of a run — its driver (unit '') or a step
    // or phase — until `expires_at` (ms since the epoch by the database's clock), changing
    // hands at `epoch` + 1. Liveness data beside the log, never part of the chain: a team's
    // everyday role is granted SELECT, INSERT, UPDATE and DELETE on it.
    r#"CREATE TABLE IF NOT EXISTS leases (
        run_id     text COLLATE "C" NOT NULL,
        unit       text COLLATE "C" NOT NULL,
        attempt    bigint NOT NULL,
        holder     text COLLATE "C" NOT NULL,
        host       text COLLATE "C" NOT NULL,
        epoch      bigint NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (run_id, unit)
    );"#,
    // 3: the whole output of attempts (SPEC §9, §11), kept in the database so that every host
    // sharing it reads them (`cortex logs`, `log verify`, `log copy`), not only the home whose
    // process ran the attempt: its bytes in pieces, each at its offset in the attempt's output,
    // keyed by the run and the name its `attempt_log` event records (`logs/RUN/step-KEY-attempt-M.log`:
    // the unit and the attempt). Appended as the attempt writes; written afresh from offset 0
    // when an attempt's output is written again (its pieces then replaced in one transaction).
    // Not part of the chain: the event holds its size and blake3, which `log verify` checks the
    // pieces against. A team's everyday role is granted SELECT, INSERT and DELETE on it.
    r#"CREATE TABLE IF NOT EXISTS attempt_output (
        run_id   text COLLATE "C" NOT NULL,
        file     text COLLATE "C" NOT NULL,
        "offset" bigint NOT NULL,
        chunk    bytea  NOT NULL,
        PRIMARY KEY (run_id, file, "offset")
    );"#,
];
