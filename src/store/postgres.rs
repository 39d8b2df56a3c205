//! The PostgreSQL event store: the same events, bytes and hashes as SQLite's, in a database
//! that any number of processes on any number of hosts share. An append locks its run's row of
//! `runs` (`SELECT … FOR UPDATE` under READ COMMITTED), reads the head, chains in the client,
//! inserts, moves the head and commits: appends to one run queue behind each other, appends to
//! different runs do not wait, and the chain stays gapless and linear.
//!
//! The synchronous `postgres` client (tokio-postgres inside) is the only connection; a
//! connection lost outside a transaction (PostgreSQL restarted) is made again and the
//! statement run again, and one lost while committing is settled by reading back what was
//! committed.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::types::{FromSql, ToSql, Type};
use postgres::{Client, Config, NoTls, Row, Statement};

use super::pg_schema::{MIGRATIONS, SCHEMA_VERSION, VERSION_TABLE};
use super::{
    AtHead, DecideAtHead, EventStore, Lease, LeaseClaim, RawRow, RowRef, RunEntry, RunHead,
    RunQuery, Snapshot, StoreError, VerifyReport, chain,
};
use crate::definition::{Durability, normalize_name};
use crate::event::{Event, NewEvent, Outcome, Recorded, RunKind};

/// How long a lost connection is tried again (PostgreSQL restarting, a failover) before the
/// operation fails with `Unreachable`.
const RECONNECT_PATIENCE: Duration = Duration::from_secs(30);

/// How long opening waits for a server that is starting up or shutting down.
const OPEN_PATIENCE: Duration = Duration::from_secs(5);

/// The connect timeout when the connection string sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// TCP keepalives where the connection string sets none (the client's own default waits two
/// hours): a connection whose path froze mid-life (a dropped route, a black-holing proxy, a
/// host gone without a reset) is found dead after about a minute of silence — 30 s idle, then
/// 3 probes 10 s apart — and the statement waiting on it fails (`Unreachable`) instead of
/// waiting forever.
const KEEPALIVES_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVES_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVES_RETRIES: u32 = 3;
/// Data sent and not acknowledged for this long ends the connection (Linux `TCP_USER_TIMEOUT`),
/// where the connection string sets none.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(60);

/// At most this many rows go in one statement of an import (`import_runs`): a run of any
/// length is imported in one transaction, in statements of a bounded size.
const IMPORT_STATEMENT_ROWS: usize = 5_000;

const COLUMNS: &str = r#"run_id, seq, id, "time", "type", version, body, prev_hash, hash"#;

/// The run index's columns, in `RunEntry` order.
const INDEX_COLUMNS: &str = "run_id, kind, name, started_at, head_seq, head_hash, outcome";

/// The statement that makes a session wait at most `wait` for a lock (`lock_timeout`; 0 is no
/// limit to PostgreSQL, so a wait of nothing is its least, 1 ms).
fn lock_timeout_sql(wait: Option<Duration>) -> String {
    match wait {
        Some(w) => format!(
            "SET lock_timeout = {};",
            w.as_millis().clamp(1, i32::MAX as u128)
        ),
        None => "SET lock_timeout = 0;".to_string(),
    }
}

/// Now in milliseconds since the epoch, by the database's clock (the leases' clock).
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// Evaluated in a lease's statement (claim, renewal, release): that transaction commits
/// without waiting for its WAL record to be flushed (`synchronous_commit = off` for it alone,
/// as `SET LOCAL` would). Safe because a lease only grants liveness: a lease statement lost in
/// a crash of the server is one nothing durable depended on — the server has one WAL, and any
/// event committed after it (an attempt's start, a driver's first append) flushes the WAL up
/// to its own record, this one included — and a lost claim fences its holder's appends (they
/// check the lease in their transaction), a lost renewal or release lapses. DESIGN.md §3c.
const LEASE_COMMIT: &str = "SELECT set_config('synchronous_commit', 'off', true)";

/// How a writing transaction begins: with a bound on how long it may sit idle between its
/// statements (`SET LOCAL`: this transaction only). A writer holds its run's row lock (`FOR
/// UPDATE`) until it commits, and every other writer of the run queues behind it; a writer
/// stopped mid-transaction (SIGSTOP, a debugger, a host frozen with the connection alive)
/// would hold them all for as long as it stays stopped (the keepalives answer: its kernel
/// lives). The server ends such a session after `IDLE_IN_WRITE`: its transaction rolls back
/// (nothing half-appended), the lock is free, and the stopped writer, once woken, finds its
/// connection gone and reconnects, its lease (if any) fenced as for any lapse. Cortex's own
/// writing transactions are a few statements with no wait between them; reads (`begin_view`)
/// lock nothing and keep the server's default.
const BEGIN_WRITE: &str = "BEGIN; SET LOCAL idle_in_transaction_session_timeout = '15s'";

/// The most bytes of an attempt's output one row of `attempt_output` holds.
const OUTPUT_PIECE: usize = 1 << 20;

/// What a store was opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Write,
    Read,
}

/// The connection and its prepared statements (they belong to it: a new connection prepares
/// them again).
struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
    /// The connection was found lost: the next use outside a transaction makes a new one.
    lost: bool,
}

impl Conn {
    fn new(client: Client) -> Conn {
        Conn {
            client,
            statements: HashMap::new(),
            lost: false,
        }
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.query(&s, params)
    }

    fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.query_opt(&s, params)
    }

    fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.execute(&s, params)
    }
}

/// A column's bytes exactly as the server sent them (binary format: text is its UTF-8, bytea
/// its bytes), so that verification reads what is stored, never a re-encoding of it.
struct Bytes<'a>(&'a [u8]);

impl<'a> FromSql<'a> for Bytes<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Bytes(raw))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Bytes(&[]))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::TEXT | Type::BYTEA | Type::VARCHAR | Type::NAME)
    }
}

/// The event log in a PostgreSQL database.
pub struct PostgresStore {
    conn: RefCell<Conn>,
    config: Config,
    /// The database as shown in messages (no password).
    shown: String,
    access: Access,
    durability: Cell<Durability>,
    /// The database's schema version (`schema_version`).
    version: i64,
    /// Whether snapshots and the run index are of the form this cortex knows (a newer
    /// schema, read only, may have changed them: then they are not read).
    known_schema: bool,
    /// Inside an append's transaction: a lost connection is then the append's to settle,
    /// never silently made again underneath it.
    in_tx: Cell<bool>,
    /// Inside an append's transaction: the run's leases, read by the statement that locked
    /// its row (`lock_and_catch_up`), for the journal's fence check at the head.
    fence_leases: RefCell<Option<(String, Vec<Lease>)>>,
    /// Inside a consistent view (`begin_view`): a lost connection ends it (its snapshot is
    /// gone), never silently made again underneath it.
    in_view: Cell<bool>,
    /// Whether this role may keep attempts' output (`attempt_output`: read, append, replace),
    /// asked once. A role not granted it (a team's setup from before the table) keeps none:
    /// its attempts' output stays in their files, as on SQLite, rather than failing.
    output_granted: Cell<Option<bool>>,
    /// How long a statement waits for a lock another transaction holds (a run's row locked by
    /// its writer, a driver's lease) before it gives up with `Busy`, as SQLite's busy timeout
    /// does: the store's own wait (`bound_lock_wait`, from `CORTEX_LOG_LOCK_WAIT`; unbounded
    /// until then) and the turn a patient wait asks for (`set_lock_wait`). PostgreSQL's
    /// `lock_timeout`, set on every connection this store makes.
    own_wait: Cell<Option<Duration>>,
    lock_wait: Cell<Option<Duration>>,
}

/// Whether the connection string `conn` holds a password (one that does not parse is taken
/// to: it is then never repeated).
pub fn holds_password(conn: &str) -> bool {
    let widest = match widest_userinfo(conn) {
        Some(Ok(userinfo)) => userinfo.secret.is_some(),
        Some(Err(Unsure)) => true,
        None => false,
    };
    widest || Config::from_str(conn).map_or(true, |c| c.get_password().is_some())
}

/// The passwords `conn` itself names (in the URL's user information, its query, or a
/// `password=` pair), decoded: the one the server is given, and, where a URL's user
/// information reads two ways (an unencoded `@` in the password: `widest_userinfo`), the one
/// its writer meant too.
pub fn passwords_of(conn: &str) -> Vec<String> {
    let mut found: Vec<String> = Config::from_str(conn)
        .ok()
        .and_then(|c| {
            c.get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        })
        .into_iter()
        .collect();
    if let Some(Ok(Userinfo {
        secret: Some(secret),
        ..
    })) = widest_userinfo(conn)
    {
        let secret = secret.strip_prefix(':').unwrap_or(secret);
        for text in [secret.to_string(), percent_decoded(secret)] {
            if !found.contains(&text) {
                found.push(text);
            }
        }
    }
    found
}

/// A URL's user information read the widest way anyone reads it: up to the URL's last `@`.
/// The client library ends it at the first `@` (the rest of a password holding an unencoded
/// `@` is then taken for the host), a URL parser at the authority's last; a password may
/// also hold an unencoded `/`, `?` or `#`, which would end the authority first. Whatever
/// comes before the last `@` is therefore never shown but the user's name (the text before
/// the first `:` or `@`, where it holds no `/`, `?` or `#`).
struct Userinfo<'a> {
    scheme: &'a str,
    user: Option<&'a str>,
    /// What follows the user up to the last `@` (`:password`, or the rest of a user part
    /// holding more than one `@`): never shown.
    secret: Option<&'a str>,
    /// The hosts, port, database and query after the last `@`.
    after: &'a str,
}

/// A URL whose last `@` comes after a `password=` in its query: that `@` may be the
/// password's as well as the user information's end, so neither side of it is shown.
struct Unsure;

/// `conn`'s user information (`Userinfo`), None for a URL without any `@` or a libpq
/// `key=value` string (read by the client library alone: its quoting is unambiguous).
fn widest_userinfo(conn: &str) -> Option<Result<Userinfo<'_>, Unsure>> {
    let (scheme, rest) = conn.split_once("://")?;
    // A query after a path whose every `@` is inside a `key=value` pair's value
    // (`?application_name=ci@runner`) is a query: an `@` there ends nothing, and the user
    // information ends at the last `@` before it — when that reading names plain hosts. Before,
    // the last `@` of the whole URL was taken, query included, and every shown URL and every
    // suggested `--db` named the host after it (`postgres://postgres@runner:5432/`).
    if let Some(query) = query_after_path(rest)
        && let Some(at) = rest[..query].rfind('@')
        && only_in_values(&rest[query..])
    {
        let userinfo = userinfo_at(scheme, rest, at);
        let user = userinfo.user.unwrap_or("u");
        let plain_hosts = Config::from_str(&format!("{scheme}://{user}@{}", userinfo.after))
            .is_ok_and(|c| {
                c.get_hosts()
                    .iter()
                    .all(|h| !matches!(h, postgres::config::Host::Tcp(name) if name.contains('@')))
            });
        if plain_hosts {
            return Some(Ok(userinfo));
        }
    }
    let last = rest.rfind('@')?;
    // The key as the client library reads it: percent-decoded, so `pass%77ord=` is one too.
    if let Some(query) = rest[..last].find('?')
        && percent_decoded(&rest[query..last])
            .to_ascii_lowercase()
            .contains("password=")
    {
        return Some(Err(Unsure));
    }
    Some(Ok(userinfo_at(scheme, rest, last)))
}

/// Where the query of `rest` (a URL after its `://`) begins: its first `?` after a `/`.
fn query_after_path(rest: &str) -> Option<usize> {
    let slash = rest.find('/')?;
    rest[slash..].find('?').map(|q| slash + q)
}

/// Whether every `@` of `query` (from its `?`) is inside the value of a `key=value` pair.
fn only_in_values(query: &str) -> bool {
    query[1..]
        .split('&')
        .all(|pair| pair.find('@').is_none_or(|at| pair[..at].contains('=')))
}

/// The user information of `rest` (a URL after its `://`) taken to end at its `@` at `at`.
fn userinfo_at<'a>(scheme: &'a str, rest: &'a str, at: usize) -> Userinfo<'a> {
    let last = at;
    let user_end = rest.find([':', '@']).unwrap_or(last).min(last);
    let user = Some(&rest[..user_end]).filter(|u| !u.is_empty() && !u.contains(['/', '?', '#']));
    let secret_start = if user.is_some() { user_end } else { 0 };
    let secret = Some(&rest[secret_start..last]).filter(|s| !s.is_empty());
    Userinfo {
        scheme,
        user,
        secret,
        after: &rest[last + 1..],
    }
}

/// `text` with its `%XX` escapes decoded (a bad one kept as written).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `conn` parsed, with the password from `PGPASSWORD` (as libpq reads it) where `conn` names
/// none: a team keeps the password out of the URL, and so out of every command line and of
/// the suggested commands cortex prints (which never show one).
pub fn config_of(conn: &str) -> Result<Config, postgres::Error> {
    let mut config = Config::from_str(conn)?;
    if config.get_password().is_none()
        && let Some(password) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty())
    {
        config.password(std::os::unix::ffi::OsStrExt::as_bytes(password.as_os_str()));
    }
    Ok(config)
}

/// `conn` with its password taken out and everything else as written (host, port, database,
/// `options`, …), for commands cortex suggests: they act on the same log, and run as they
/// are with the password in `PGPASSWORD`. None where that cannot be done surely (the result
/// is parsed back and must name the same log without a password): then only `shown` is.
pub fn without_password(conn: &str) -> Option<String> {
    let stripped = match conn.split_once("://") {
        Some((scheme, rest)) => {
            let (user, rest) = match widest_userinfo(conn) {
                Some(Err(Unsure)) => return None,
                Some(Ok(userinfo)) => (userinfo.user, userinfo.after),
                None => (None, rest),
            };
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (hosts, tail) = rest.split_at(end);
            let authority = match user {
                Some(user) => format!("{user}@{hosts}"),
                None => hosts.to_string(),
            };
            let tail = match tail.split_once('?') {
                Some((path, query)) => {
                    let kept: Vec<&str> = query
                        .split('&')
                        .filter(|kv| kv.split('=').next() != Some("password"))
                        .collect();
                    match kept.is_empty() {
                        true => path.to_string(),
                        false => format!("{path}?{}", kept.join("&")),
                    }
                }
                None => tail.to_string(),
            };
            format!("{scheme}://{authority}{tail}")
        }
        None => key_values(conn)?
            .into_iter()
            .filter(|(key, _)| *key != "password")
            .map(|(_, pair)| pair)
            .collect::<Vec<_>>()
            .join(" "),
    };
    let (before, after) = (
        Config::from_str(conn).ok()?,
        Config::from_str(&stripped).ok()?,
    );
    let same = after.get_password().is_none()
        && before.get_user() == after.get_user()
        && before.get_dbname() == after.get_dbname()
        && before.get_options() == after.get_options()
        && before.get_hosts() == after.get_hosts()
        && before.get_ports() == after.get_ports()
        && before.get_application_name() == after.get_application_name();
    same.then_some(stripped)
}

/// The pairs of a libpq `key=value` string, each as its key and its text as written (a value
/// may be single-quoted, with backslash escapes). None if it does not read as one.
fn key_values(conn: &str) -> Option<Vec<(&str, &str)>> {
    let mut pairs = Vec::new();
    let mut rest = conn.trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim_end();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return None;
        }
        let value = rest[eq + 1..].trim_start();
        let offset = rest.len() - value.len();
        let mut end = value.len();
        let mut chars = value.char_indices();
        if value.starts_with('\'') {
            chars.next();
            loop {
                match chars.next()? {
                    (_, '\\') => {
                        chars.next()?;
                    }
                    (i, '\'') => {
                        end = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
        } else {
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    c if c.is_whitespace() => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
        }
        pairs.push((key, &rest[..offset + end]));
        rest = rest[offset + end..].trim_start();
    }
    Some(pairs)
}

/// Whether connection strings `a` and `b` select the same log, whatever their form (a
/// `postgres://` URL or a libpq `key=value` string, keys in any order): the same server (its
/// hosts, the local ones — a Unix socket, `localhost`, a loopback address — taken as one; and
/// port, 5432 unless named), the same database (the user's name unless named) and the same
/// schema (the `search_path` its `options` set, `public` unless set). None where either does
/// not parse (nothing to compare).
pub fn same_database(a: &str, b: &str) -> Option<bool> {
    let (a, b) = (Config::from_str(a).ok()?, Config::from_str(b).ok()?);
    Some(target_of(&a) == target_of(&b))
}

/// What selects a log in a parsed connection string, each part as the server resolves it
/// (`same_database`).
fn target_of(config: &Config) -> (Vec<(String, u16)>, String, String) {
    use postgres::config::Host;
    let ports = config.get_ports();
    let mut hosts: Vec<(String, u16)> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(h) => {
                    let h = h.trim_start_matches('[').trim_end_matches(']');
                    match h.to_ascii_lowercase().as_str() {
                        "localhost" | "127.0.0.1" | "::1" => "local".to_string(),
                        other => other.to_string(),
                    }
                }
                Host::Unix(_) => "local".to_string(),
            };
            let port = ports
                .get(i)
                .or_else(|| (ports.len() == 1).then(|| &ports[0]))
                .copied()
                .unwrap_or(5432);
            (name, port)
        })
        .collect();
    if hosts.is_empty() {
        hosts.push(("local".into(), ports.first().copied().unwrap_or(5432)));
    }
    hosts.sort();
    hosts.dedup();
    let user = config
        .get_user()
        .map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    let db = config.get_dbname().map_or(user, str::to_string);
    let schema = config
        .get_options()
        .and_then(search_path_of)
        .unwrap_or_else(|| "public".into());
    (hosts, db, schema)
}

/// The `search_path` the server options `options` set (`-c search_path=…`,
/// `-csearch_path=…`, `--search_path=…`; the last wins, as the server reads them), as the
/// server reads its names: unquoted ones folded to lower case, spaces around commas dropped.
fn search_path_of(options: &str) -> Option<String> {
    let mut words = options.split_whitespace().peekable();
    let mut found = None;
    while let Some(word) = words.next() {
        let setting = match word {
            "-c" => words.next(),
            w if w.starts_with("-c") => Some(&w[2..]),
            w if w.starts_with("--") => Some(&w[2..]),
            _ => None,
        };
        if let Some((key, value)) = setting.and_then(|s| s.split_once('='))
            && key.replace('-', "_").eq_ignore_ascii_case("search_path")
        {
            found = Some(value.to_string());
        }
    }
    let names: Vec<String> = found?
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(
            |n| match n.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
                Some(quoted) => quoted.to_string(),
                None => n.to_lowercase(),
            },
        )
        .collect();
    Some(names.join(","))
}

/// `conn` as shown to people (`shown_config`), its user information read the widest way
/// (`widest_userinfo`): of what comes before a URL's last `@`, only the user's name. Before,
/// the client library's reading was shown, which ends it at the first `@`: the rest of a
/// password holding an unencoded `@` was printed as the host.
pub fn shown(conn: &str) -> String {
    let parsed = match widest_userinfo(conn) {
        Some(Err(Unsure)) => {
            return "a PostgreSQL database (its URL holds an `@` after a `password=`: write `@` in a password as %40)".into();
        }
        Some(Ok(Userinfo {
            scheme,
            user,
            after,
            ..
        })) => {
            let user = user.map(|u| format!("{u}@")).unwrap_or_default();
            Config::from_str(&format!("{scheme}://{user}{after}"))
        }
        None => Config::from_str(conn),
    };
    match parsed {
        Ok(config) => shown_config(&config),
        Err(_) => "a PostgreSQL database (its connection string does not parse)".into(),
    }
}

/// A parsed connection string as shown to people: `postgres://user@host:port/dbname`,
/// never the password.
fn shown_config(config: &Config) -> String {
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config
        .get_ports()
        .first()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or_default();
    // The options (the schema: `-csearch_path=…`) select the log as much as the database
    // does: two schemas of one database are two logs. They hold no password.
    let options = match config.get_options() {
        Some(o) if !o.trim().is_empty() => format!("?options={}", url_escaped(o)),
        _ => String::new(),
    };
    format!("postgres://{user}{host}{port}/{db}{options}")
}

/// `text` as a URL query value: what would end or change the value percent-encoded.
fn url_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' | '&' | '=' | '#' | '+' | '?' | '\'' | '"' => {
                out.push_str(&format!("%{:02X}", c as u32))
            }
            ' ' => out.push_str("%20"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// cortex's settings where the connection string sets none: the connect timeout, and TCP
/// keepalives and `TCP_USER_TIMEOUT` that find a connection whose path froze.
pub(super) fn with_defaults(config: &mut Config) {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    // The client's default keepalive idle is two hours: ours unless the string set one
    // (`keepalives=0` turns them off, and is respected).
    if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
        config.keepalives_idle(KEEPALIVES_IDLE);
    }
    if config.get_keepalives_interval().is_none() {
        config.keepalives_interval(KEEPALIVES_INTERVAL);
    }
    if config.get_keepalives_retries().is_none() {
        config.keepalives_retries(KEEPALIVES_RETRIES);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
}

/// How long one connection attempt may take as a whole: the connect timeout (the string's,
/// else `CONNECT_TIMEOUT`) for each host it names.
fn connect_limit(config: &Config) -> Duration {
    let per_host = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(CONNECT_TIMEOUT);
    let hosts = config
        .get_hosts()
        .len()
        .max(config.get_hostaddrs().len())
        .max(1);
    per_host * hosts.min(16) as u32
}

/// Connect, the whole of it — TCP, the startup message, authentication, the server's first
/// answer — within `connect_limit`: the client library bounds the TCP connect alone, so a
/// server that accepts and then says nothing (hung, or a proxy with nothing behind it) held
/// every command forever, `connect_timeout` notwithstanding. None when the limit passed; the
/// attempt, left on its own thread, ends with its socket (its connection, if it ever comes,
/// is dropped unused).
pub(super) fn connect_bounded(config: &Config) -> Option<Result<Client, postgres::Error>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    /// Attempts given up on and still waiting for their server: at most `MAX_ABANDONED`, so
    /// that a process trying again and again (a worker through an outage) does not pile up a
    /// thread and a socket per try. Past that, a try fails at once, as the last ones did.
    static ABANDONED: AtomicUsize = AtomicUsize::new(0);
    const MAX_ABANDONED: usize = 4;
    if ABANDONED.load(Ordering::SeqCst) >= MAX_ABANDONED {
        return None;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let attempt = config.clone();
    let pending = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let given_up = pending.clone();
    let spawned = std::thread::Builder::new()
        .name("cortex-pg-connect".into())
        .spawn(move || {
            let result = attempt.connect(NoTls);
            if given_up.swap(true, Ordering::SeqCst) {
                ABANDONED.fetch_sub(1, Ordering::SeqCst);
            }
            let _ = tx.send(result);
        });
    if spawned.is_err() {
        // No thread to spare: connect here, unbounded, as before.
        return Some(config.connect(NoTls));
    }
    match rx.recv_timeout(connect_limit(config)) {
        Ok(result) => Some(result),
        Err(_) => {
            // Given up on: counted until the attempt ends (counted first, then uncounted if
            // it just did, so that the count never goes below zero).
            ABANDONED.fetch_add(1, Ordering::SeqCst);
            if pending.swap(true, Ordering::SeqCst) {
                ABANDONED.fetch_sub(1, Ordering::SeqCst);
            }
            None
        }
    }
}

/// Whether `e` means the connection is gone (the server restarted or went away), as opposed
/// to a statement that failed on a live connection.
fn is_lost(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        return code == &SqlState::ADMIN_SHUTDOWN
            || code == &SqlState::CRASH_SHUTDOWN
            || code == &SqlState::CANNOT_CONNECT_NOW
            // The server ended a session that sat too long inside a writing transaction
            // (`BEGIN_WRITE`): the connection is gone as after a restart.
            || code == &SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT
            || code.code().starts_with("08");
    }
    // No SQL state: an I/O error on the socket, or the stream ended.
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        source = s.source();
    }
    e.as_db_error().is_none()
}

/// Whether a connection attempt that failed with `e` may succeed if tried again soon: the
/// server said it is starting or shutting down, or is full; and, with `unanswered`, nothing
/// answered at all (a server restarting is not listening for a moment).
fn worth_retrying(e: &postgres::Error, unanswered: bool) -> bool {
    match e.code() {
        Some(code) => {
            code == &SqlState::CANNOT_CONNECT_NOW
                || code == &SqlState::ADMIN_SHUTDOWN
                || code == &SqlState::CRASH_SHUTDOWN
                || code == &SqlState::TOO_MANY_CONNECTIONS
        }
        None => unanswered && e.as_db_error().is_none(),
    }
}

/// The message of a PostgreSQL error: the server's own words where it said something.
fn message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        // "error connecting to server" alone: the cause (refused, timed out, …) is its source.
        None => match std::error::Error::source(e) {
            Some(cause) if !e.to_string().contains(&cause.to_string()) => format!("{e}: {cause}"),
            _ => e.to_string(),
        },
    }
}

fn text(bytes: &[u8]) -> Result<&str, StoreError> {
    std::str::from_utf8(bytes).map_err(|_| StoreError::Corrupt {
        run_id: String::from_utf8_lossy(bytes).into_owned(),
        seq: 0,
        reason: "a text column is not UTF-8".into(),
    })
}

fn parse_outcome(text: &str) -> Option<Outcome> {
    [
        Outcome::Completed,
        Outcome::Failed,
        Outcome::Aborted,
        Outcome::RolledBack,
    ]
    .into_iter()
    .find(|o| o.as_str() == text)
}

/// The bytes of a hash recorded as hex (`Recorded::hash`).
fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// Call `f` with the bytes of a row of `COLUMNS`, borrowed from the row.
fn with_row_ref<T>(row: &Row, f: impl FnOnce(RowRef<'_>) -> T) -> Result<T, postgres::Error> {
    let b = |i: usize| row.try_get::<_, Bytes<'_>>(i).map(|b| b.0);
    let n = |i: usize| row.try_get::<_, Option<i64>>(i).map(|n| n.unwrap_or(-1));
    Ok(f(RowRef {
        run_id: b(0)?,
        seq: n(1)?,
        id: b(2)?,
        time: b(3)?,
        type_name: b(4)?,
        version: n(5)?,
        body: b(6)?,
        prev_hash: b(7)?,
        hash: b(8)?,
    }))
}

fn raw_row(row: &Row) -> Result<RawRow, postgres::Error> {
    with_row_ref(row, |r| RawRow {
        run_id: r.run_id.to_vec(),
        seq: r.seq,
        id: r.id.to_vec(),
        time: r.time.to_vec(),
        type_name: r.type_name.to_vec(),
        version: r.version,
        body: r.body.to_vec(),
        prev_hash: r.prev_hash.to_vec(),
        hash: r.hash.to_vec(),
    })
}

/// What an append does to its run's index row: its new head, its outcome if the batch seals
/// it, and its kind, name and start if the batch starts it.
struct IndexChange<'a> {
    head_seq: i64,
    head_hash: Vec<u8>,
    outcome: Option<&'static str>,
    kind: Option<&'static str>,
    name: Option<&'a str>,
    name_key: Option<String>,
    started_at: Option<&'a str>,
}

impl<'a> IndexChange<'a> {
    fn of(appended: &'a [Recorded]) -> Option<IndexChange<'a>> {
        let last = appended.last()?;
        let started = appended.first().and_then(|first| match &first.event {
            Event::RunStarted(started) if first.seq == 0 => Some((started, first.time.as_str())),
            _ => None,
        });
        Some(IndexChange {
            head_seq: last.seq.min(i64::MAX as u64) as i64,
            head_hash: hex_bytes(&last.hash),
            // The head's (`index::sealed_by`): an event past a seal clears it.
            outcome: super::index::sealed_by(last),
            kind: started.map(|(s, _)| s.kind.as_str()),
            name: started.map(|(s, _)| s.name.as_str()),
            name_key: started.map(|(s, _)| normalize_name(&s.name)),
            started_at: started.map(|(_, t)| t),
        })
    }
}

impl PostgresStore {
    /// Open the log in the database `conn` names for writing: its tables are created or
    /// migrated as needed. A database of a newer cortex is `NewerLog` (read it with
    /// `open_read`).
    pub fn open(conn: &str, durability: Durability) -> Result<Self, StoreError> {
        let mut store = Self::connect(conn, Access::Write)?;
        store.set_durability(durability)?;
        store.migrate()?;
        store.refuse_missing_lease_grants()?;
        Ok(store)
    }

    /// Refuse a role that may not do to `leases` what a writer does (claim: INSERT, renew:
    /// UPDATE, let go: DELETE, and read them), naming what is missing, as a missing grant on
    /// `events` is named. Before, a role without DELETE failed silently when a driver let
    /// its lease go (errors there are shrugged off: the lease lapses anyway), and a later
    /// report answered that a dead process drove the run (exit 4).
    fn refuse_missing_lease_grants(&self) -> Result<(), StoreError> {
        if self.version < 2 {
            return Ok(());
        }
        let row = self.with(|c| {
            c.client.query_opt(
                "SELECT array_remove(ARRAY[
                     CASE WHEN has_table_privilege(t, 'SELECT') THEN NULL ELSE 'SELECT' END,
                     CASE WHEN has_table_privilege(t, 'INSERT') THEN NULL ELSE 'INSERT' END,
                     CASE WHEN has_table_privilege(t, 'UPDATE') THEN NULL ELSE 'UPDATE' END,
                     CASE WHEN has_table_privilege(t, 'DELETE') THEN NULL ELSE 'DELETE' END
                 ], NULL)::text[]
                 FROM (SELECT to_regclass('leases') AS t) AS l WHERE t IS NOT NULL",
                &[],
            )
        });
        let missing: Vec<String> = row?.map(|row| row.get(0)).unwrap_or_default();
        if missing.is_empty() {
            return Ok(());
        }
        Err(StoreError::Refused(format!(
            "permission denied: the role cortex connects to {} as lacks {} on table leases, which every driver and worker uses (GRANT SELECT, INSERT, UPDATE, DELETE ON leases TO …)",
            self.shown,
            missing.join(", ")
        )))
    }

    /// Open the log for writing if the database holds one (cortex's tables); None if it
    /// holds none yet: it has no runs, and nothing is created.
    pub fn open_existing(conn: &str) -> Result<Option<Self>, StoreError> {
        let mut store = Self::connect(conn, Access::Write)?;
        if store.version == 0 && !store.has_table("events")? {
            return Ok(None);
        }
        store.migrate()?;
        store.refuse_missing_lease_grants()?;
        Ok(Some(store))
    }

    /// Open the log for reading only: never created, migrated or written (the session is
    /// read-only too). A database without cortex's tables is `NotALog { blank: true }`: no
    /// runs yet.
    pub fn open_read(conn: &str) -> Result<Self, StoreError> {
        let store = Self::connect(conn, Access::Read)?;
        // The run index without the events it indexes: the log's events were removed (its
        // table dropped), never a log not set up yet, which would verify as empty.
        if !store.has_table("events")? && store.has_table("runs")? {
            return Err(StoreError::EventsGone {
                target: store.shown.clone(),
            });
        }
        if !store.has_table("events")? {
            return Err(StoreError::NotALog {
                path: store.shown.clone(),
                blank: true,
            });
        }
        Ok(store)
    }

    fn connect(conn: &str, access: Access) -> Result<Self, StoreError> {
        // The modes that verify a certificate are not even read by the client library ("invalid
        // connection string"): said as what they are, before it is asked.
        if let Some(mode) = ["verify-ca", "verify-full"]
            .into_iter()
            .find(|m| conn.contains(&format!("sslmode={m}")))
        {
            return Err(StoreError::BadLocation(format!(
                "the connection string asks for TLS (sslmode={mode}), which cortex does not speak yet: reach the database over a private network or a tunnel and leave sslmode out (or sslmode=disable)"
            )));
        }
        let mut config = config_of(conn).map_err(|e| {
            StoreError::BadLocation(match holds_password(conn) {
                // It does not parse, so whether it holds a password cannot be told: it is
                // not repeated.
                true => format!(
                    "the value naming the log is not a PostgreSQL connection string ({e}); it is not repeated here, in case it holds a password"
                ),
                false => format!("`{conn}` is not a PostgreSQL connection string: {e}"),
            })
        })?;
        // An unencoded `@` in a URL's password: the client library ends the user information
        // at the first `@` and takes the rest of the password for the host, which no lookup
        // finds. Said as what it is, the password never shown (`shown` reads the user
        // information the widest way). Before, "cannot be reached: failed to lookup address
        // information" was said of a host that was fine.
        if matches!(widest_userinfo(conn), Some(Ok(u)) if u.secret.is_some_and(|s| s.contains('@')))
            && config
                .get_hosts()
                .iter()
                .any(|h| matches!(h, postgres::config::Host::Tcp(name) if name.contains('@')))
        {
            return Err(StoreError::BadLocation(format!(
                "the user information of {} holds an unencoded `@` (in its password, which is not shown, or its user name): it ends at its first `@` as the connection reads it, and what follows would be looked up as the host; write `@` in a password or user name as %40 (or give the password in PGPASSWORD)",
                shown(conn)
            )));
        }
        // No TLS yet (DESIGN.md): a connection string that demands it cannot be served, and
        // says so rather than failing a handshake.
        if config.get_ssl_mode() == postgres::config::SslMode::Require {
            return Err(StoreError::BadLocation(format!(
                "{} asks for TLS (sslmode=require), which cortex does not speak yet: reach the database over a private network or a tunnel and leave sslmode out (or sslmode=disable)",
                shown(conn)
            )));
        }
        // Nothing to connect to (`postgres://` alone): the value is incomplete, not a
        // server that cannot be reached.
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            return Err(StoreError::BadLocation(format!(
                "`{}` names no host: write the log's database as postgres://user@host:port/dbname (or host=H dbname=D)",
                without_password(conn).unwrap_or_else(|| shown(conn))
            )));
        }
        with_defaults(&mut config);
        if config.get_application_name().is_none() {
            config.application_name("cortex");
        }
        let shown = shown(conn);
        // A server that does not answer at all is said at once: the command was just typed.
        let client = Self::dial(&config, &shown, OPEN_PATIENCE, false)?;
        let mut store = PostgresStore {
            conn: RefCell::new(Conn::new(client)),
            config,
            shown,
            access,
            durability: Cell::new(Durability::Normal),
            version: 0,
            known_schema: true,
            in_tx: Cell::new(false),
            fence_leases: RefCell::new(None),
            in_view: Cell::new(false),
            output_granted: Cell::new(None),
            own_wait: Cell::new(None),
            lock_wait: Cell::new(None),
        };
        store.setup(&mut store.conn.borrow_mut())?;
        store.refuse_missing_schema()?;
        store.refuse_foreign()?;
        store.version = store.stored_version()?;
        store.known_schema = store.version <= SCHEMA_VERSION;
        if access == Access::Write {
            store.refuse_newer()?;
        }
        Ok(store)
    }

    /// Connect, trying again while the server is starting (or, with `unanswered`, not
    /// answering yet), for at most `patience`.
    fn dial(
        config: &Config,
        shown: &str,
        patience: Duration,
        unanswered: bool,
    ) -> Result<Client, StoreError> {
        let deadline = Instant::now() + patience;
        let mut pause = Duration::from_millis(50);
        loop {
            let attempt = match connect_bounded(config) {
                Some(attempt) => attempt,
                // Accepted, and then nothing: a hung server, or a proxy whose far side is gone.
                None if unanswered && Instant::now() + pause < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(500));
                    continue;
                }
                None => {
                    return Err(StoreError::Unreachable {
                        target: shown.to_string(),
                        reason: format!(
                            "it accepted the connection but did not answer within {} s (connect_timeout)",
                            connect_limit(config).as_secs()
                        ),
                    });
                }
            };
            match attempt {
                Ok(client) => return Ok(client),
                Err(e) if worth_retrying(&e, unanswered) && Instant::now() + pause < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                // The server answered and refused: a database of that name does not exist,
                // or the user or its password is not accepted. Not an outage: the value
                // naming the log is wrong (or the database is still to be made).
                Err(e)
                    if e.code().is_some_and(|c| {
                        [
                            SqlState::INVALID_CATALOG_NAME,
                            SqlState::INVALID_PASSWORD,
                            SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                        ]
                        .contains(c)
                    }) =>
                {
                    return Err(StoreError::Rejected {
                        target: shown.to_string(),
                        reason: message(&e),
                    });
                }
                Err(e) => {
                    return Err(StoreError::Unreachable {
                        target: shown.to_string(),
                        reason: message(&e),
                    });
                }
            }
        }
    }

    /// What every connection of this store is: UTF8 (the bytes of text are the bytes that
    /// were hashed), read-only for a reading store, synchronous commits for `full`.
    fn setup(&self, conn: &mut Conn) -> Result<(), StoreError> {
        let encoding: String = conn
            .client
            .query_one("SHOW server_encoding", &[])
            .map_err(|e| self.error(e))?
            .get(0);
        if encoding != "UTF8" {
            return Err(StoreError::BadLocation(format!(
                "the database at {} uses the encoding {encoding}; cortex keeps its log in a UTF8 database (CREATE DATABASE … ENCODING 'UTF8')",
                self.shown
            )));
        }
        let mut setup = String::from("SET TIME ZONE 'UTC';");
        if self.access == Access::Read {
            setup.push_str("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;");
        }
        if self.durability.get() == Durability::Full {
            setup.push_str("SET synchronous_commit = on;");
        }
        setup.push_str(&lock_timeout_sql(self.lock_wait.get()));
        conn.client.batch_execute(&setup).map_err(|e| self.error(e))
    }

    /// Wait at most `wait` for a lock from now on (None: for as long as it takes), on this
    /// connection and every one made again.
    fn apply_lock_wait(&self, wait: Option<Duration>) -> Result<(), StoreError> {
        if self.lock_wait.replace(wait) == wait {
            return Ok(());
        }
        self.with(|c| c.client.batch_execute(&lock_timeout_sql(wait)))
    }

    /// Make a new connection in place of a lost one, set up as the first was (its statements
    /// are prepared again as they are used).
    fn reconnect(&self, conn: &mut Conn) -> Result<(), StoreError> {
        let client = Self::dial(&self.config, &self.shown, RECONNECT_PATIENCE, true)?;
        *conn = Conn::new(client);
        self.setup(conn).inspect_err(|_| conn.lost = true)
    }

    /// Run `f` on the connection. Where the connection is found lost outside a transaction
    /// (PostgreSQL restarted meanwhile), a new one is made and `f` runs again; inside one,
    /// the loss is the caller's to settle (`StoreError::Unreachable`).
    fn with<T>(
        &self,
        mut f: impl FnMut(&mut Conn) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.borrow_mut();
        let mut fresh = false;
        let inside = self.in_tx.get() || self.in_view.get();
        if (conn.lost || conn.client.is_closed()) && !inside {
            self.reconnect(&mut conn)?;
            fresh = true;
        }
        match f(&mut conn) {
            Ok(v) => Ok(v),
            Err(e) if is_lost(&e) && !inside && !fresh => {
                self.reconnect(&mut conn)?;
                f(&mut conn).map_err(|e| {
                    conn.lost |= is_lost(&e);
                    self.error(e)
                })
            }
            Err(e) => {
                conn.lost |= is_lost(&e);
                Err(self.error(e))
            }
        }
    }

    fn error(&self, e: postgres::Error) -> StoreError {
        if is_lost(&e) {
            let reason = if e.code() == Some(&SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT) {
                // Not an outage: this process was stopped (SIGSTOP, a debugger) while it held
                // a run's row (`BEGIN_WRITE`).
                "the database ended this process's connection because it sat stopped inside a writing transaction for more than 15 s (paused or frozen); nothing of that transaction was stored".to_string()
            } else {
                message(&e)
            };
            return StoreError::Unreachable {
                target: self.shown.clone(),
                reason,
            };
        }
        match e.code() {
            Some(c) if c == &SqlState::INSUFFICIENT_PRIVILEGE => StoreError::Refused(format!(
                "{} (the role cortex connects to {} as)",
                message(&e),
                self.shown
            )),
            Some(c) if c == &SqlState::READ_ONLY_SQL_TRANSACTION => StoreError::ReadOnlyDatabase {
                target: self.shown.clone(),
                reason: message(&e),
            },
            Some(c) if c == &SqlState::DISK_FULL => StoreError::disk_full(message(&e)),
            // A lock another transaction holds past `lock_timeout` (`set_lock_wait`): the
            // log is busy, as SQLite says past its busy timeout.
            Some(c) if c == &SqlState::LOCK_NOT_AVAILABLE => StoreError::Busy,
            _ => StoreError::Postgres(message(&e)),
        }
    }

    fn has_table(&self, name: &str) -> Result<bool, StoreError> {
        let row = self.with(|c| c.query_opt("SELECT to_regclass($1)::text", &[&name]))?;
        Ok(row.is_some_and(|r| r.get::<_, Option<String>>(0).is_some()))
    }

    /// Refuse a search_path that names no schema of the database (a misspelled
    /// `options=-csearch_path=…`): nothing could be created there ("no schema has been
    /// selected to create in"), and reading would find no tables and say "no runs yet".
    fn refuse_missing_schema(&self) -> Result<(), StoreError> {
        let row = self.with(|c| {
            c.client.query_one(
                "SELECT current_schema() IS NOT NULL, current_setting('search_path')",
                &[],
            )
        })?;
        let (found, search_path): (bool, String) = (row.get(0), row.get(1));
        if found {
            return Ok(());
        }
        Err(StoreError::NoSchema {
            target: self.shown.clone(),
            search_path,
        })
    }

    /// Refuse a database whose tables named as cortex's are another application's: cortex's
    /// first migration makes its append-only trigger function in the same transaction as its
    /// tables, so tables of those names without it were made by someone else (reading them
    /// failed on a missing column, and setting up failed on "relation already exists").
    fn refuse_foreign(&self) -> Result<(), StoreError> {
        // Two statements, tables first: a catalog lookup is not bound to the statement's
        // snapshot, so one statement could miss the function and then see the tables of a
        // first migration that committed between the two lookups. Once the tables are seen,
        // their migration has committed, and with it the function.
        let tables: String = self
            .with(|c| {
                c.client.query_one(
                    "SELECT coalesce((SELECT string_agg(n, ', ' ORDER BY o)
                                        FROM unnest(ARRAY['events', 'runs', 'snapshots', 'leases', 'schema_version'])
                                             WITH ORDINALITY AS t(n, o)
                                       WHERE to_regclass(n) IS NOT NULL), '')",
                    &[],
                )
            })?
            .get(0);
        if tables.is_empty() {
            return Ok(());
        }
        let ours: bool = self
            .with(|c| {
                c.client.query_one(
                    "SELECT to_regprocedure('cortex_events_append_only()') IS NOT NULL",
                    &[],
                )
            })?
            .get(0);
        if ours {
            return Ok(());
        }
        Err(StoreError::Foreign {
            target: self.shown.clone(),
            tables,
            sqlite: false,
        })
    }

    /// The schema version recorded in the database (0 without `schema_version`).
    fn stored_version(&self) -> Result<i64, StoreError> {
        if !self.has_table("schema_version")? {
            return Ok(0);
        }
        let row = self.with(|c| {
            c.client
                .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        })?;
        Ok(row.get(0))
    }

    fn refuse_newer(&self) -> Result<(), StoreError> {
        if self.version > SCHEMA_VERSION {
            return Err(StoreError::NewerLog {
                path: self.shown.clone(),
                found: self.version,
                known: SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// Refuse to write through a store opened for reading (saying why).
    fn writable(&self) -> Result<(), StoreError> {
        match self.access {
            Access::Write => Ok(()),
            Access::Read => {
                self.refuse_newer()?;
                Err(StoreError::ReadOnly(format!(
                    "{} was opened for reading only",
                    self.shown
                )))
            }
        }
    }

    /// Bring the schema up to date, in one transaction under an advisory lock, so that
    /// concurrent first openers migrate once and a newer cortex's migration is never undone.
    fn migrate(&mut self) -> Result<(), StoreError> {
        if self.version >= SCHEMA_VERSION {
            return Ok(());
        }
        let shown = self.shown.clone();
        let version = self.with(|c| {
            let mut tx = c.client.transaction()?;
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext('cortex schema ' || current_schema()))",
                &[],
            )?;
            tx.batch_execute(VERSION_TABLE)?;
            let found: i64 = tx
                .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])?
                .get(0);
            if found >= SCHEMA_VERSION {
                tx.commit()?;
                return Ok(found);
            }
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
                tx.batch_execute(sql)?;
                tx.execute(
                    "INSERT INTO schema_version (version) VALUES ($1)",
                    &[&(i as i64 + 1)],
                )?;
            }
            tx.commit()?;
            Ok(SCHEMA_VERSION)
        });
        let from = self.version;
        let version = match version {
            Err(StoreError::Postgres(m)) => {
                return Err(StoreError::Postgres(format!(
                    "setting up the event log's tables in {shown} failed: {m}"
                )));
            }
            // The everyday role of a team may read and append, never create or alter tables:
            // an upgrade is the owner's to run.
            Err(StoreError::Refused(m)) => {
                return Err(StoreError::Refused(format!(
                    "{} needs its tables {} (schema version {from}, this cortex writes {SCHEMA_VERSION}), which only the role that owns them may do: {m}",
                    shown,
                    if from == 0 { "created" } else { "upgraded" }
                )));
            }
            other => other?,
        };
        self.version = version;
        self.known_schema = version <= SCHEMA_VERSION;
        self.refuse_newer()
    }

    /// Start an append's transaction and lock the run's row (inserting it for a run's first
    /// append); return the head read from the events, which are the truth (the row is the lock
    /// and a cache of it).
    fn begin_at(&self, run_id: &str) -> Result<(u64, Vec<u8>), StoreError> {
        self.lock(run_id)?;
        self.head(run_id)
    }

    /// `BEGIN` and lock the run's row, inserting it for a stream's first append (or waiting
    /// for the writer that is inserting it); rolled back with the append if nothing is
    /// appended.
    fn lock(&self, run_id: &str) -> Result<(), StoreError> {
        self.begin()?;
        self.lock_row(run_id)
    }

    fn begin(&self) -> Result<(), StoreError> {
        self.fence_leases.borrow_mut().take();
        self.with(|c| c.client.batch_execute(BEGIN_WRITE))?;
        self.in_tx.set(true);
        Ok(())
    }

    /// Inside the transaction: lock the run's row, inserting it for a stream's first append.
    fn lock_row(&self, run_id: &str) -> Result<(), StoreError> {
        const LOCK: &str = "SELECT head_seq FROM runs WHERE run_id = $1 FOR UPDATE";
        if self.with(|c| c.query_opt(LOCK, &[&run_id]))?.is_none() {
            self.with(|c| {
                c.execute(
                    "INSERT INTO runs (run_id, head_seq, head_hash) VALUES ($1, -1, $2)
                     ON CONFLICT (run_id) DO NOTHING",
                    &[&run_id, &&super::GENESIS[..]],
                )
            })?;
            self.with(|c| c.query_opt(LOCK, &[&run_id]))?;
        }
        Ok(())
    }

    /// The next seq of a run and the hash it chains onto, from its last event (a statement
    /// after the lock: in READ COMMITTED it sees all that the writer it queued behind
    /// committed).
    fn head(&self, run_id: &str) -> Result<(u64, Vec<u8>), StoreError> {
        let head = self.with(|c| {
            c.query_opt(
                "SELECT seq, hash FROM events WHERE run_id = $1 ORDER BY seq DESC LIMIT 1",
                &[&run_id],
            )
        })?;
        Ok(match head {
            Some(row) => (
                row.get::<_, i64>(0).max(-1).wrapping_add(1) as u64,
                row.get::<_, Vec<u8>>(1),
            ),
            None => (0, super::GENESIS.to_vec()),
        })
    }

    /// Inside the lock: the events after `known` and the head, in one read — the event before
    /// `known` (whose hash is the head's when nothing follows it) and every one after it.
    fn catch_up(
        &self,
        run_id: &str,
        known: u64,
    ) -> Result<(u64, Vec<u8>, Vec<Recorded>), StoreError> {
        let from = known.saturating_sub(1).min(i64::MAX as u64) as i64;
        let rows = self.with(|c| {
            c.query(
                &format!(
                    "SELECT {COLUMNS} FROM events WHERE run_id = $1 AND seq >= $2 ORDER BY seq"
                ),
                &[&run_id, &from],
            )
        })?;
        let before = known.checked_sub(1);
        let starts_right = match (before, rows.first()) {
            (None, _) => true,
            (Some(b), Some(first)) => first.get::<_, i64>(1) == b as i64,
            (Some(_), None) => false,
        };
        if !starts_right {
            // The run is shorter than the caller knows: said as a conflict by the caller.
            let (next, prev) = self.head(run_id)?;
            return Ok((next, prev, Vec::new()));
        }
        let mut caught_up = Vec::new();
        let mut head = (0, super::GENESIS.to_vec());
        for row in &rows {
            let seq: i64 = row.get(1);
            head = (seq.max(-1).wrapping_add(1) as u64, row.get::<_, Vec<u8>>(8));
            if before.is_none_or(|b| seq > b as i64) {
                caught_up
                    .push(with_row_ref(row, super::decode_row_ref).map_err(|e| self.error(e))??);
            }
        }
        Ok((head.0, head.1, caught_up))
    }

    /// `BEGIN`, then the run's row locked, the events after `known` with the head, and the
    /// run's leases in one statement (one round trip where the previous took three). Its
    /// snapshot is taken before the lock is granted, so it is used only if it is the head
    /// (the locked row, always its newest version, says the same last seq: nobody appended
    /// to the run between the snapshot and the lock); else, or for a stream's first append,
    /// the lock and the read are made as separate statements, the read after the lock. The
    /// leases are then those a fence check after the lock would have read: any holder that
    /// took a lease over after the snapshot has appended nothing yet, and appends after this.
    fn lock_and_catch_up(
        &self,
        run_id: &str,
        known: u64,
    ) -> Result<(u64, Vec<u8>, Vec<Recorded>), StoreError> {
        self.begin()?;
        if self.version < 2 {
            self.lock_row(run_id)?;
            return self.catch_up(run_id, known);
        }
        let from = known.saturating_sub(1).min(i64::MAX as u64) as i64;
        let rows = self.with(|c| {
            c.query(
                &format!(
                    "WITH head AS (SELECT head_seq FROM runs WHERE run_id = $1 FOR UPDATE),
                     held AS (
                         SELECT array_agg(unit ORDER BY unit) AS units,
                                array_agg(attempt ORDER BY unit) AS attempts,
                                array_agg(holder ORDER BY unit) AS holders,
                                array_agg(host ORDER BY unit) AS hosts,
                                array_agg(epoch ORDER BY unit) AS epochs,
                                array_agg(expires_at - {NOW_MS} ORDER BY unit) AS remaining
                         FROM leases WHERE run_id = $1
                     )
                     SELECT e.run_id, e.seq, e.id, e.\"time\", e.\"type\", e.version, e.body,
                            e.prev_hash, e.hash, head.head_seq, held.units, held.attempts,
                            held.holders, held.hosts, held.epochs, held.remaining
                     FROM head CROSS JOIN held
                     LEFT JOIN events AS e ON e.run_id = $1 AND e.seq >= $2
                     ORDER BY e.seq"
                ),
                &[&run_id, &from],
            )
        })?;
        let Some(first) = rows.first() else {
            // No row yet: a stream's first append.
            self.lock_row(run_id)?;
            return self.catch_up(run_id, known);
        };
        let head_seq: i64 = first.get(9);
        let events: Vec<&Row> = rows
            .iter()
            .filter(|r| r.get::<_, Option<i64>>(1).is_some())
            .collect();
        let last = events.last().map_or(-1, |r| r.get::<_, i64>(1));
        let starts_right = match (known.checked_sub(1), events.first()) {
            (None, _) => true,
            (Some(b), Some(r)) => r.get::<_, i64>(1) == b as i64,
            (Some(_), None) => false,
        };
        if last != head_seq || !starts_right {
            return self.catch_up(run_id, known);
        }
        let mut caught_up = Vec::new();
        let mut head = (0, super::GENESIS.to_vec());
        for row in &events {
            let seq: i64 = row.get(1);
            head = (seq.max(-1).wrapping_add(1) as u64, row.get::<_, Vec<u8>>(8));
            if known.checked_sub(1).is_none_or(|b| seq > b as i64) {
                caught_up
                    .push(with_row_ref(row, super::decode_row_ref).map_err(|e| self.error(e))??);
            }
        }
        let units: Option<Vec<String>> = first.get(10);
        let leases = units.map_or_else(Vec::new, |units| {
            let attempts: Vec<i64> = first.get(11);
            let holders: Vec<String> = first.get(12);
            let hosts: Vec<String> = first.get(13);
            let epochs: Vec<i64> = first.get(14);
            let remaining: Vec<i64> = first.get(15);
            units
                .into_iter()
                .enumerate()
                .map(|(i, unit)| Lease {
                    run_id: run_id.to_string(),
                    unit,
                    attempt: attempts[i].clamp(0, i64::from(u32::MAX)) as u32,
                    holder: holders[i].clone(),
                    host: hosts[i].clone(),
                    epoch: epochs[i].max(0) as u64,
                    remaining_ms: remaining[i],
                })
                .collect()
        });
        *self.fence_leases.borrow_mut() = Some((run_id.to_string(), leases));
        Ok((head.0, head.1, caught_up))
    }

    /// End a transaction that appends nothing (or failed): roll it back where the connection
    /// still stands.
    fn abandon(&self) {
        self.fence_leases.borrow_mut().take();
        self.in_tx.set(false);
        let mut conn = self.conn.borrow_mut();
        if !conn.lost && !conn.client.is_closed() {
            let _ = conn.client.batch_execute("ROLLBACK");
        }
    }

    /// Commit an append. If the connection is lost while committing, whether it committed is
    /// settled by reading back the first appended event once connected again.
    fn commit(&self, run_id: &str, first: &RawRow) -> Result<(), StoreError> {
        self.commit_notifying(run_id, first, &[])
    }

    /// `commit`, workers told of `others` too (runs the transaction appended to besides
    /// `run_id`).
    fn commit_notifying(
        &self,
        run_id: &str,
        first: &RawRow,
        others: &[&str],
    ) -> Result<(), StoreError> {
        // Workers listening on `cortex_runs` hear of the append when, and only if, it commits
        // (a notification is delivered at commit), in the same round trip as the commit.
        let mut notify = String::new();
        for run in std::iter::once(&run_id).chain(others) {
            notify.push_str(&format!(
                "SELECT pg_notify('cortex_runs', '{}'); ",
                run.replace('\'', "''")
            ));
        }
        notify.push_str("COMMIT");
        let committed = self.with(|c| c.client.batch_execute(&notify));
        self.fence_leases.borrow_mut().take();
        self.in_tx.set(false);
        match committed {
            Ok(()) => Ok(()),
            Err(StoreError::Unreachable { target, reason }) => {
                let id = self.with(|c| {
                    c.query_opt(
                        "SELECT id FROM events WHERE run_id = $1 AND seq = $2",
                        &[&run_id, &first.seq],
                    )
                })?;
                match id {
                    Some(row) if row.get::<_, &str>(0).as_bytes() == first.id.as_slice() => Ok(()),
                    _ => Err(StoreError::Unreachable {
                        target,
                        reason: format!("{reason}; the events being committed were not recorded"),
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Insert chained rows (inside the append's transaction) and move the run's index row.
    fn insert_rows(
        &self,
        run_id: &str,
        rows: &[RawRow],
        appended: &[Recorded],
    ) -> Result<(), StoreError> {
        let strs = |f: fn(&RawRow) -> &[u8]| -> Result<Vec<&str>, StoreError> {
            rows.iter().map(|r| text(f(r))).collect()
        };
        let run_ids = strs(|r| &r.run_id)?;
        let ids = strs(|r| &r.id)?;
        let times = strs(|r| &r.time)?;
        let types = strs(|r| &r.type_name)?;
        let bodies = strs(|r| &r.body)?;
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        let versions: Vec<i64> = rows.iter().map(|r| r.version).collect();
        let prevs: Vec<&[u8]> = rows.iter().map(|r| r.prev_hash.as_slice()).collect();
        let hashes: Vec<&[u8]> = rows.iter().map(|r| r.hash.as_slice()).collect();
        let Some(change) = IndexChange::of(appended) else {
            return Ok(());
        };
        // One statement: the rows, and the run's index row moved to them.
        self.with(|c| {
            c.execute(
                &format!(
                    "WITH inserted AS (
                        INSERT INTO events ({COLUMNS}) SELECT * FROM unnest(
                            $1::text[], $2::int8[], $3::text[], $4::text[], $5::text[],
                            $6::int8[], $7::text[], $8::bytea[], $9::bytea[])
                     )
                     UPDATE runs SET head_seq = $11, head_hash = $12,
                        outcome = $13, kind = coalesce($14, kind),
                        name = coalesce($15, name), name_key = coalesce($16, name_key),
                        started_at = coalesce($17, started_at)
                     WHERE run_id = $10"
                ),
                &[
                    &run_ids,
                    &seqs,
                    &ids,
                    &times,
                    &types,
                    &versions,
                    &bodies,
                    &prevs,
                    &hashes,
                    &run_id,
                    &change.head_seq,
                    &change.head_hash,
                    &change.outcome,
                    &change.kind,
                    &change.name,
                    &change.name_key,
                    &change.started_at,
                ],
            )
        })?;
        Ok(())
    }

    /// Decode the rows `sql` selects.
    fn read_recorded(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Recorded>, StoreError> {
        let rows = self.with(|c| c.query(sql, params))?;
        rows.iter()
            .map(|row| {
                with_row_ref(row, super::decode_row_ref)
                    .map_err(|e| self.error(e))
                    .and_then(|r| r)
            })
            .collect()
    }

    fn read_raw(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<RawRow>, StoreError> {
        let rows = self.with(|c| c.query(sql, params))?;
        rows.iter()
            .map(|r| raw_row(r).map_err(|e| self.error(e)))
            .collect()
    }

    /// Rows of the run index that `sql` selects (`INDEX_COLUMNS`).
    fn read_index(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<RunEntry>, StoreError> {
        let rows = self.with(|c| c.query(sql, params))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let run_id: String = row.get(0);
            let seq: i64 = row.get(4);
            // A value no cortex writes is a changed row: said, not guessed at.
            let corrupt = |what: &str| StoreError::Corrupt {
                run_id: run_id.clone(),
                seq: seq.max(0) as u64,
                reason: format!("its {what} is not one cortex writes"),
            };
            let kind = match row.get::<_, Option<&str>>(1) {
                Some("workflow") => RunKind::Workflow,
                Some("scenario") => RunKind::Scenario,
                _ => return Err(corrupt("kind")),
            };
            let outcome = match row.get::<_, Option<&str>>(6) {
                None => None,
                Some(text) => Some(parse_outcome(text).ok_or_else(|| corrupt("outcome"))?),
            };
            out.push(RunEntry {
                kind,
                name: row.get::<_, Option<String>>(2).unwrap_or_default(),
                started_at: row.get::<_, Option<String>>(3).unwrap_or_default(),
                events: seq.max(0) as u64 + 1,
                head_hash: super::hex(row.get::<_, &[u8]>(5)),
                outcome,
                run_id,
            });
        }
        Ok(out)
    }

    /// The conditions of `query` on the run index, and their values.
    fn index_filter(query: &RunQuery) -> (String, Vec<Box<dyn ToSql + Sync>>) {
        let (conditions, values) = super::index::index_conditions(query, |n| format!("${n}"));
        let args = values
            .into_iter()
            .map(|v| Box::new(v) as Box<dyn ToSql + Sync>)
            .collect();
        (
            format!(
                " WHERE kind IS NOT NULL AND {}{conditions}",
                super::index::postgres_is_run_id()
            ),
            args,
        )
    }

    /// Whether this store was opened for reading only.
    pub fn is_read_only(&self) -> bool {
        self.access == Access::Read
    }

    /// The database's schema version.
    pub fn schema_version(&self) -> i64 {
        self.version
    }
}

impl EventStore for PostgresStore {
    fn append(
        &mut self,
        run_id: &str,
        expected_seq: u64,
        events: &[NewEvent],
    ) -> Result<Vec<Recorded>, StoreError> {
        self.writable()?;
        // Nothing is decided here, so a connection lost before the commit is simply tried
        // again on a new one: nothing of the attempt was stored.
        // Tried again at most twice, and not once the patience for a reconnection is spent
        // (a server that stays down is said within it, not three times over).
        let until = Instant::now() + RECONNECT_PATIENCE;
        let mut tries = 0;
        loop {
            tries += 1;
            let attempt = (|| {
                let (next, prev) = self.begin_at(run_id)?;
                if next != expected_seq {
                    return Err(StoreError::Conflict {
                        run_id: run_id.to_string(),
                        expected: expected_seq,
                        actual: next,
                    });
                }
                let chained = chain(run_id, next, &prev, events);
                let (rows, recorded): (Vec<RawRow>, Vec<Recorded>) = chained.into_iter().unzip();
                if !rows.is_empty() {
                    self.insert_rows(run_id, &rows, &recorded)?;
                }
                Ok((rows, recorded))
            })();
            match attempt {
                Ok((rows, recorded)) => match rows.first() {
                    Some(first) => {
                        self.commit(run_id, first)?;
                        return Ok(recorded);
                    }
                    None => {
                        self.abandon();
                        return Ok(recorded);
                    }
                },
                Err(StoreError::Unreachable { .. }) if tries < 3 && Instant::now() < until => {
                    self.abandon()
                }
                Err(e) => {
                    self.abandon();
                    return Err(e);
                }
            }
        }
    }

    fn append_at_head(
        &mut self,
        run_id: &str,
        known_seq: u64,
        decide: &mut DecideAtHead<'_>,
    ) -> Result<AtHead, StoreError> {
        self.writable()?;
        // Until the decision, a lost connection is tried again on a new one (nothing was
        // decided); after it, the loss is settled at the commit or reported.
        // Tried again at most twice, and not once the patience for a reconnection is spent
        // (a server that stays down is said within it, not three times over).
        let until = Instant::now() + RECONNECT_PATIENCE;
        let mut tries = 0;
        let (next, prev, caught_up) = loop {
            tries += 1;
            let attempt = (|| {
                let (next, prev, caught_up) = self.lock_and_catch_up(run_id, known_seq)?;
                if known_seq > next {
                    return Err(StoreError::Conflict {
                        run_id: run_id.to_string(),
                        expected: known_seq,
                        actual: next,
                    });
                }
                Ok((next, prev, caught_up))
            })();
            match attempt {
                Ok(head) => break head,
                Err(StoreError::Unreachable { .. }) if tries < 3 && Instant::now() < until => {
                    self.abandon()
                }
                Err(e) => {
                    self.abandon();
                    return Err(e);
                }
            }
        };
        let events = decide(&caught_up, &*self);
        if events.is_empty() {
            self.abandon();
            return Ok(AtHead {
                caught_up,
                appended: Vec::new(),
            });
        }
        let (rows, appended): (Vec<RawRow>, Vec<Recorded>) =
            chain(run_id, next, &prev, &events).into_iter().unzip();
        if let Err(e) = self.insert_rows(run_id, &rows, &appended) {
            self.abandon();
            return Err(e);
        }
        self.commit(run_id, &rows[0])?;
        Ok(AtHead {
            caught_up,
            appended,
        })
    }

    fn import_runs(&mut self, runs: &[&[RawRow]]) -> Result<(), StoreError> {
        self.writable()?;
        let checked = super::check_imports(runs)?;
        let Some((first_run, first, ..)) = checked.first() else {
            return Ok(());
        };
        // One transaction for every run. Their rows are locked in the order of their ids, so
        // two imports of overlapping groups queue behind each other and never deadlock (an
        // append locks one run's row).
        let attempt = (|| {
            self.begin()?;
            let mut locking: Vec<&str> =
                checked.iter().map(|(run_id, ..)| run_id.as_str()).collect();
            locking.sort_unstable();
            locking.dedup();
            for run_id in locking {
                self.lock_row(run_id)?;
            }
            for (run_id, first, rows, recorded) in &checked {
                let (next, prev) = self.head(run_id)?;
                super::check_import_head(run_id, first, next, &prev)?;
                // A long run in statements of a bounded size, all in the one transaction.
                for (rows, recorded) in rows
                    .chunks(IMPORT_STATEMENT_ROWS)
                    .zip(recorded.chunks(IMPORT_STATEMENT_ROWS))
                {
                    self.insert_rows(run_id, rows, recorded)?;
                }
            }
            Ok(())
        })();
        match attempt {
            // Workers hear of every run imported; whether a commit the connection was lost in
            // landed is read back from one run's first row (all landed, or none).
            Ok(()) => {
                let others: Vec<&str> = checked[1..]
                    .iter()
                    .map(|(run_id, ..)| run_id.as_str())
                    .collect();
                self.commit_notifying(first_run, first, &others)
            }
            Err(e) => {
                self.abandon();
                Err(e)
            }
        }
    }

    fn set_lock_wait(&self, wait: Option<Duration>) -> Result<(), StoreError> {
        let own = self.own_wait.get();
        self.apply_lock_wait(match (wait, own) {
            (Some(w), Some(own)) => Some(w.min(own)),
            (w, own) => w.or(own),
        })
    }

    fn bound_lock_wait(&self, bound: Duration) -> Result<(), StoreError> {
        self.own_wait.set(Some(
            self.own_wait.get().map_or(bound, |own| own.min(bound)),
        ));
        self.set_lock_wait(None)
    }

    fn set_durability(&self, durability: Durability) -> Result<(), StoreError> {
        if self.access == Access::Read {
            return Ok(());
        }
        // A new session has the server's setting (what `Normal` means), and a connection made
        // again is set up as before: nothing to send when it does not change.
        if self.durability.replace(durability) == durability {
            return Ok(());
        }
        let sql = match durability {
            Durability::Normal => "RESET synchronous_commit",
            Durability::Full => "SET synchronous_commit = on",
        };
        self.with(|c| c.client.batch_execute(sql))
    }

    fn read_run(&self, run_id: &str) -> Result<Vec<Recorded>, StoreError> {
        self.read_recorded(
            &format!("SELECT {COLUMNS} FROM events WHERE run_id = $1 ORDER BY seq"),
            &[&run_id],
        )
    }

    fn events_of_type(
        &self,
        run_id: Option<&str>,
        type_name: &str,
    ) -> Result<Vec<Recorded>, StoreError> {
        self.read_recorded(
            &format!(
                "SELECT {COLUMNS} FROM events WHERE \"type\" = $1 AND ($2::text IS NULL OR run_id = $2)
                 ORDER BY run_id, seq"
            ),
            &[&type_name, &run_id],
        )
    }

    fn read_run_from(&self, run_id: &str, seq: u64) -> Result<Vec<Recorded>, StoreError> {
        let from = seq.min(i64::MAX as u64) as i64;
        self.read_recorded(
            &format!("SELECT {COLUMNS} FROM events WHERE run_id = $1 AND seq >= $2 ORDER BY seq"),
            &[&run_id, &from],
        )
    }

    fn read_run_page(
        &self,
        run_id: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<Recorded>, StoreError> {
        let from = seq.min(i64::MAX as u64) as i64;
        let limit = limit.min(i64::MAX as usize) as i64;
        self.read_recorded(
            &format!(
                "SELECT {COLUMNS} FROM events WHERE run_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3"
            ),
            &[&run_id, &from, &limit],
        )
    }

    fn fold_rows(
        &self,
        run_id: &str,
        seq: u64,
        f: &mut super::RowSink<'_>,
    ) -> Result<(), StoreError> {
        use postgres::fallible_iterator::FallibleIterator;
        // Only the columns a fold reads, streamed from the server and handed on as they
        // arrive. Where the connection is lost and made again (`with`), the stream goes on
        // after the last row handed on: none is handed twice.
        const SQL: &str = "SELECT seq, \"time\", \"type\", version, body, hash, id, prev_hash
             FROM events WHERE run_id = $1 AND seq >= $2 ORDER BY seq";
        let mut next = super::fold::first_seq(seq);
        let mut refused = None;
        self.with(|c| {
            let s = c.statement(SQL)?;
            let from = next;
            let params: [&(dyn ToSql + Sync); 2] = [&run_id, &from];
            let mut rows = c.client.query_raw(&s, params)?;
            while let Some(row) = rows.next()? {
                let b = |i: usize| row.try_get::<_, Bytes<'_>>(i).map(|b| b.0);
                let n = |i: usize| row.try_get::<_, Option<i64>>(i).map(|n| n.unwrap_or(-1));
                let seq = n(0)?;
                let handed = f(super::FoldRow {
                    seq,
                    id: b(6)?,
                    time: b(1)?,
                    type_name: b(2)?,
                    version: n(3)?,
                    body: b(4)?,
                    prev_hash: b(7)?,
                    hash: b(5)?,
                });
                if let Err(e) = handed {
                    refused = Some(e);
                    break;
                }
                next = seq.saturating_add(1);
            }
            Ok(())
        })?;
        refused.map_or(Ok(()), Err)
    }

    fn streams_with_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>, StoreError> {
        // The range of ids starting with `prefix`, on the key's index: no row decoded.
        let rows = self.with(|c| {
            c.query(
                "SELECT run_id, MAX(seq) FROM events
                 WHERE run_id >= $1 AND run_id < $2
                 GROUP BY run_id ORDER BY run_id",
                &[&prefix, &super::past_prefix(prefix)],
            )
        })?;
        Ok(rows
            .iter()
            .map(|r| {
                let seq: i64 = r.get(1);
                (r.get::<_, String>(0), seq.max(0) as u64 + 1)
            })
            .collect())
    }

    fn runs(&self) -> Result<Vec<RunHead>, StoreError> {
        // Each run's first event and its head, from the events themselves, in one statement.
        let rows = self.with(|c| {
            c.query(
                &format!(
                    "SELECT {cols}, h.seq, h.hash FROM events e
                     CROSS JOIN LATERAL (SELECT seq, hash FROM events
                        WHERE run_id = e.run_id ORDER BY seq DESC LIMIT 1) h
                     WHERE e.seq = 0 ORDER BY e.run_id",
                    cols = COLUMNS
                        .split(", ")
                        .map(|c| format!("e.{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                &[],
            )
        })?;
        let mut heads = Vec::with_capacity(rows.len());
        for row in &rows {
            let first = with_row_ref(row, super::decode_row_ref).map_err(|e| self.error(e))??;
            let seq: i64 = row.get(9);
            heads.push(RunHead {
                run_id: first.run_id.clone(),
                first,
                events: seq.max(0) as u64 + 1,
                head_hash: super::hex(row.get::<_, &[u8]>(10)),
            });
        }
        Ok(heads)
    }

    fn list_runs(&self, query: &RunQuery) -> Result<Vec<RunEntry>, StoreError> {
        if !self.known_schema {
            return super::index::scan(self, query);
        }
        let (filter, mut args) = Self::index_filter(query);
        let mut sql = format!("SELECT {INDEX_COLUMNS} FROM runs{filter} ORDER BY run_id DESC");
        if let Some(n) = query.limit {
            args.push(Box::new(n.min(i64::MAX as usize) as i64));
            sql.push_str(&format!(" LIMIT ${}", args.len()));
        }
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        self.read_index(&sql, &refs)
    }

    fn count_runs(&self, query: &RunQuery) -> Result<u64, StoreError> {
        if !self.known_schema {
            let mut all = query.clone();
            all.limit = None;
            return Ok(self.list_runs(&all)?.len() as u64);
        }
        let (filter, args) = Self::index_filter(query);
        let sql = format!("SELECT count(*) FROM runs{filter}");
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        let row = self.with(|c| {
            let s = c.statement(&sql)?;
            c.client.query_one(&s, &refs)
        })?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    fn begin_view(&self) -> Result<(), StoreError> {
        if self.in_tx.get() || self.in_view.get() {
            return Ok(());
        }
        // The snapshot is taken by the first statement after BEGIN and seen by every one
        // after it; a read-only transaction locks nothing and waits for no writer.
        self.with(|c| {
            c.client
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        })?;
        self.in_view.set(true);
        Ok(())
    }

    fn end_view(&self) {
        if self.in_view.replace(false) {
            let _ = self.conn.borrow_mut().client.batch_execute("ROLLBACK");
        }
    }

    fn rebuild_index(&mut self) -> Result<Option<super::IndexRepair>, StoreError> {
        self.writable()?;
        if !self.known_schema {
            return Ok(None);
        }
        self.begin()?;
        let rebuilt = (|| {
            // EXCLUSIVE: every append locks its run's row first (`lock_row`), so none lands
            // between reading the events and writing their rows; readers go on.
            self.with(|c| c.client.batch_execute("LOCK TABLE runs IN EXCLUSIVE MODE"))?;
            let (expected, repair) = super::index::rebuild_plan(&*self, self.index_rows())?;
            // A row of a run with no events is removed; the rows of streams that are not
            // runs (no kind) are the appends' locks, and stay.
            for row in &repair.removed {
                self.with(|c| c.execute("DELETE FROM runs WHERE run_id = $1", &[&row.run_id]))?;
            }
            for e in &expected {
                let head_seq = e.events.saturating_sub(1).min(i64::MAX as u64) as i64;
                let outcome = e.outcome.map(|o| o.as_str());
                self.with(|c| {
                    c.execute(
                        "INSERT INTO runs (run_id, kind, name, name_key, started_at, head_seq, head_hash, outcome)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                         ON CONFLICT (run_id) DO UPDATE SET kind = excluded.kind,
                            name = excluded.name, name_key = excluded.name_key,
                            started_at = excluded.started_at, head_seq = excluded.head_seq,
                            head_hash = excluded.head_hash, outcome = excluded.outcome",
                        &[
                            &e.run_id,
                            &e.kind.as_str(),
                            &e.name,
                            &normalize_name(&e.name),
                            &e.started_at,
                            &head_seq,
                            &hex_bytes(&e.head_hash),
                            &outcome,
                        ],
                    )
                })?;
            }
            Ok(repair)
        })();
        match rebuilt {
            Ok(repair) => {
                let committed = self.with(|c| c.client.batch_execute("COMMIT"));
                self.fence_leases.borrow_mut().take();
                self.in_tx.set(false);
                committed.map(|()| Some(repair))
            }
            Err(e) => {
                self.abandon();
                Err(e)
            }
        }
    }

    fn index_rows(&self) -> Result<Option<Vec<RunEntry>>, StoreError> {
        if !self.known_schema {
            return Ok(None);
        }
        // Every row that claims to be a run (a stream that is not a run has no kind): a row
        // changed to another kind is read as corrupt, one whose kind was cleared is missing.
        self.read_index(
            &format!("SELECT {INDEX_COLUMNS} FROM runs WHERE kind IS NOT NULL ORDER BY run_id"),
            &[],
        )
        .map(Some)
    }

    fn raw_rows(&self, run_id: Option<&str>) -> Result<Vec<RawRow>, StoreError> {
        match run_id {
            Some(id) => self.read_raw(
                &format!("SELECT {COLUMNS} FROM events WHERE run_id = $1 ORDER BY seq"),
                &[&id],
            ),
            None => self.read_raw(
                &format!("SELECT {COLUMNS} FROM events ORDER BY run_id, seq"),
                &[],
            ),
        }
    }

    fn verify(&self, run_id: Option<&str>) -> Result<VerifyReport, StoreError> {
        use postgres::fallible_iterator::FallibleIterator;
        // Rows are streamed from the server and checked as they arrive: nothing is kept but
        // the previous hash.
        let sql = match run_id {
            Some(_) => format!("SELECT {COLUMNS} FROM events WHERE run_id = $1 ORDER BY seq"),
            None => format!("SELECT {COLUMNS} FROM events ORDER BY run_id, seq"),
        };
        self.with(|c| {
            let s = c.statement(&sql)?;
            let params: Vec<&(dyn ToSql + Sync)> = match &run_id {
                Some(id) => vec![id as &(dyn ToSql + Sync)],
                None => Vec::new(),
            };
            let mut rows = c.client.query_raw(&s, params)?;
            let mut verifier = super::Verifier::auditing();
            while let Some(row) = rows.next()? {
                with_row_ref(&row, |r| verifier.check(r))?;
            }
            Ok(verifier.finish())
        })
    }

    fn load_snapshot(&self, run_id: &str) -> Result<Option<Snapshot>, StoreError> {
        Ok(self.snapshots(Some(run_id))?.pop())
    }

    fn snapshots(&self, run_id: Option<&str>) -> Result<Vec<Snapshot>, StoreError> {
        if !self.known_schema {
            return Ok(Vec::new());
        }
        let rows = self.with(|c| {
            c.query(
                "SELECT run_id, seq, hash, state, digest FROM snapshots
                 WHERE $1::text IS NULL OR run_id = $1 ORDER BY run_id",
                &[&run_id],
            )
        })?;
        Ok(rows
            .iter()
            .map(|r| Snapshot {
                run_id: r.get(0),
                seq: r.get::<_, i64>(1).max(0) as u64,
                hash: r.get(2),
                state: r.get(3),
                digest: r.get(4),
            })
            .collect())
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.writable()?;
        let seq = snapshot.seq.min(i64::MAX as u64) as i64;
        self.with(|c| {
            c.execute(
                "INSERT INTO snapshots (run_id, seq, hash, state, digest)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (run_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,
                    state = excluded.state, digest = excluded.digest",
                &[
                    &snapshot.run_id,
                    &seq,
                    &snapshot.hash,
                    &snapshot.state,
                    &snapshot.digest,
                ],
            )
        })
        .map(drop)
    }

    fn first_event(&self, run_id: &str) -> Result<Option<Recorded>, StoreError> {
        Ok(self
            .read_recorded(
                &format!("SELECT {COLUMNS} FROM events WHERE run_id = $1 AND seq = 0"),
                &[&run_id],
            )?
            .pop())
    }

    fn hash_at(&self, run_id: &str, seq: u64) -> Result<Option<String>, StoreError> {
        let seq = seq.min(i64::MAX as u64) as i64;
        let row = self.with(|c| {
            c.query_opt(
                "SELECT hash FROM events WHERE run_id = $1 AND seq = $2",
                &[&run_id, &seq],
            )
        })?;
        Ok(row.map(|r| super::hex(r.get::<_, &[u8]>(0))))
    }

    fn claim_lease(&mut self, claim: &LeaseClaim) -> Result<Option<Lease>, StoreError> {
        self.writable()?;
        let ttl = claim.ttl_ms.min(i64::MAX as u64 / 2) as i64;
        let attempt = i64::from(claim.attempt);
        // One statement (one round trip, prepared once) that never waits for another
        // claimer: the row, if there is one nobody else has locked, is extended when this
        // holder holds it and it is the driver's, taken over (epoch + 1) when lapsed, left
        // alone while held (`EventStore::claim_lease`); if there is none (or another claimer has it locked), an insert that does
        // nothing on a conflict. Always one row: the epoch and what remains, NULL if refused.
        // Committed without waiting for the WAL's flush (`LEASE_COMMIT`).
        let row = self.with(|c| {
            c.query_opt(
                &format!(
                    "WITH held AS (
                         SELECT expires_at <= {NOW_MS} AS lapsed, holder = $4 AS mine FROM leases
                         WHERE run_id = $1 AND unit = $2 FOR UPDATE SKIP LOCKED
                     ), taken AS (
                         UPDATE leases SET attempt = $3, holder = $4, host = $5,
                             epoch = leases.epoch + CASE WHEN held.mine AND NOT held.lapsed
                                                         THEN 0 ELSE 1 END,
                             expires_at = {NOW_MS} + $6
                         FROM held
                         WHERE run_id = $1 AND unit = $2
                           AND (held.lapsed OR (held.mine AND $2 = ''))
                         RETURNING leases.epoch, expires_at - {NOW_MS} AS remaining
                     ), granted AS (
                         INSERT INTO leases (run_id, unit, attempt, holder, host, epoch, expires_at)
                         SELECT $1, $2, $3, $4, $5, 1, {NOW_MS} + $6
                         WHERE NOT EXISTS (SELECT 1 FROM held)
                         ON CONFLICT (run_id, unit) DO NOTHING
                         RETURNING epoch, expires_at - {NOW_MS} AS remaining
                     )
                     SELECT coalesce(t.epoch, g.epoch), coalesce(t.remaining, g.remaining),
                            ({LEASE_COMMIT})
                     FROM (SELECT 1) AS one
                     LEFT JOIN taken AS t ON true LEFT JOIN granted AS g ON true"
                ),
                &[
                    &claim.run_id,
                    &claim.unit,
                    &attempt,
                    &claim.holder,
                    &claim.host,
                    &ttl,
                ],
            )
        })?;
        Ok(row.and_then(|r| {
            let epoch: Option<i64> = r.get(0);
            let remaining: Option<i64> = r.get(1);
            Some(Lease::granted(claim, epoch?.max(0) as u64, remaining?))
        }))
    }

    fn renew_lease(&mut self, lease: &Lease, ttl_ms: u64) -> Result<bool, StoreError> {
        self.writable()?;
        let ttl = ttl_ms.min(i64::MAX as u64 / 2) as i64;
        let epoch = lease.epoch.min(i64::MAX as u64) as i64;
        self.with(|c| {
            c.execute(
                &format!(
                    "UPDATE leases SET expires_at = {NOW_MS} + $5
                     WHERE run_id = $1 AND unit = $2 AND holder = $3 AND epoch = $4
                       AND attempt = $6 AND ({LEASE_COMMIT}) IS NOT NULL"
                ),
                &[
                    &lease.run_id,
                    &lease.unit,
                    &lease.holder,
                    &epoch,
                    &ttl,
                    &i64::from(lease.attempt),
                ],
            )
        })
        .map(|n| n == 1)
    }

    fn release_lease(&mut self, lease: &Lease) -> Result<(), StoreError> {
        self.writable()?;
        let epoch = lease.epoch.min(i64::MAX as u64) as i64;
        self.with(|c| {
            c.execute(
                &format!(
                    "DELETE FROM leases
                     WHERE run_id = $1 AND unit = $2 AND holder = $3 AND epoch = $4
                       AND attempt = $5 AND ({LEASE_COMMIT}) IS NOT NULL"
                ),
                &[
                    &lease.run_id,
                    &lease.unit,
                    &lease.holder,
                    &epoch,
                    &i64::from(lease.attempt),
                ],
            )
        })
        .map(drop)
    }

    fn wake(&mut self, run_id: &str) -> Result<(), StoreError> {
        // The notification an append sends at its commit (`commit`), alone: a statement of
        // its own, delivered at once.
        self.with(|c| c.execute("SELECT pg_notify('cortex_runs', $1)", &[&run_id]))
            .map(drop)
    }

    fn drivers_leased(&self) -> bool {
        // A log of the first schema has no leases (its drivers were known by their pid).
        self.version >= 2
    }

    fn keeps_attempt_output(&self) -> bool {
        // A log of an earlier schema has no table for them (`pg_schema`, migration 3).
        if self.version < 3 {
            return false;
        }
        if let Some(granted) = self.output_granted.get() {
            return granted;
        }
        // Each privilege asked apart: a list asks whether any of them is held.
        let writes = self.access == Access::Write;
        let granted = self
            .with(|c| {
                c.client.query_opt(
                    "SELECT has_table_privilege(t, 'SELECT') AND (NOT $1 OR (
                         has_table_privilege(t, 'INSERT') AND has_table_privilege(t, 'DELETE')))
                     FROM (SELECT to_regclass('attempt_output') AS t) AS o WHERE t IS NOT NULL",
                    &[&writes],
                )
            })
            .ok()
            .flatten()
            .is_some_and(|row| row.get::<_, bool>(0));
        self.output_granted.set(Some(granted));
        granted
    }

    fn write_attempt_output(
        &mut self,
        run_id: &str,
        file: &str,
        offset: u64,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.writable()?;
        if !self.keeps_attempt_output() {
            return Err(StoreError::Unsupported("attempt output".into()));
        }
        // One transaction: the output written afresh (offset 0) replaces what was kept of it,
        // and pieces of at most `OUTPUT_PIECE` bytes each. A piece sent again (its commit's
        // answer lost with the connection) is the same bytes at the same offset.
        self.with(|c| {
            let mut tx = c.client.transaction()?;
            if offset == 0 {
                tx.execute(
                    "DELETE FROM attempt_output WHERE run_id = $1 AND file = $2",
                    &[&run_id, &file],
                )?;
            }
            let mut at = offset;
            for piece in bytes.chunks(OUTPUT_PIECE) {
                let start = at.min(i64::MAX as u64) as i64;
                tx.execute(
                    r#"INSERT INTO attempt_output (run_id, file, "offset", chunk)
                       VALUES ($1, $2, $3, $4)
                       ON CONFLICT (run_id, file, "offset") DO UPDATE SET chunk = EXCLUDED.chunk"#,
                    &[&run_id, &file, &start, &piece],
                )?;
                at += piece.len() as u64;
            }
            tx.commit()
        })
    }

    fn read_attempt_output(
        &self,
        run_id: &str,
        file: &str,
        from: u64,
        max: usize,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        if !self.keeps_attempt_output() {
            return Ok(None);
        }
        let start = from.min(i64::MAX as u64) as i64;
        // The piece holding `from` (the last starting at or before it) and those after it.
        let rows = self.with(|c| {
            c.query(
                r#"SELECT "offset", chunk FROM attempt_output
                   WHERE run_id = $1 AND file = $2
                     AND "offset" >= coalesce((SELECT max("offset") FROM attempt_output
                                               WHERE run_id = $1 AND file = $2 AND "offset" <= $3), 0)
                   ORDER BY "offset" LIMIT 256"#,
                &[&run_id, &file, &start],
            )
        })?;
        if rows.is_empty() {
            let any = self.with(|c| {
                c.query_opt(
                    "SELECT 1 FROM attempt_output WHERE run_id = $1 AND file = $2 LIMIT 1",
                    &[&run_id, &file],
                )
            })?;
            return Ok(any.map(|_| Vec::new()));
        }
        let mut out = Vec::new();
        let mut next = from;
        for row in &rows {
            let at = row.get::<_, i64>(0).max(0) as u64;
            let chunk: &[u8] = row.get(1);
            let end = at + chunk.len() as u64;
            // Pieces follow each other; a gap ends what can be read (a piece never written).
            if at > next || end <= next {
                if at > next {
                    break;
                }
                continue;
            }
            out.extend_from_slice(&chunk[(next - at) as usize..]);
            next = end;
            if out.len() >= max {
                break;
            }
        }
        Ok(Some(out))
    }

    fn leases(&self, run_id: Option<&str>) -> Result<Vec<Lease>, StoreError> {
        if self.version < 2 {
            return Ok(Vec::new());
        }
        // Inside an append's transaction: what its lock read (`lock_and_catch_up`).
        if self.in_tx.get()
            && let Some((read_for, leases)) = &*self.fence_leases.borrow()
            && Some(read_for.as_str()) == run_id
        {
            return Ok(leases.clone());
        }
        let rows = self.with(|c| {
            c.query(
                &format!(
                    "SELECT run_id, unit, attempt, holder, host, epoch, expires_at - {NOW_MS}
                     FROM leases WHERE $1::text IS NULL OR run_id = $1 ORDER BY run_id, unit"
                ),
                &[&run_id],
            )
        })?;
        Ok(rows
            .iter()
            .map(|r| Lease {
                run_id: r.get(0),
                unit: r.get(1),
                attempt: r.get::<_, i64>(2).clamp(0, i64::from(u32::MAX)) as u32,
                holder: r.get(3),
                host: r.get(4),
                epoch: r.get::<_, i64>(5).max(0) as u64,
                remaining_ms: r.get(6),
            })
            .collect())
    }
}
